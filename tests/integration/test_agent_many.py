#!/usr/bin/python3
"""Agent: 10,000 files at once with max_open_files = 200; every line
arrives, descriptors stay bounded, and appends to closed files are found
(reopened with an identity check)."""

import os
import random
import time

import harness
import test_agent_common as ac

FILES = int(os.environ.get("TR_AGENT_MANY_FILES", "10000"))
MAX_OPEN = 200


def body(ws):
    col = ws.collector(sets={"num.partitions": "2"})
    col.port = harness.free_port()
    col.start()
    logs = ws.file("logs")
    os.mkdir(logs)
    for i in range(FILES):
        with open(os.path.join(logs, "f%05d.log" % i), "w") as f:
            f.write("n %d\nn %d\n" % (2 * i, 2 * i + 1))
    inputs = "[input many]\npaths = %s/*.log\ntopic = many\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="max_open_files = %d" % MAX_OPEN)
    agent.start()
    peak = 0
    deadline = time.monotonic() + 300
    while ac.topic_counts(col.broker, "many", 2) < 2 * FILES:
        if time.monotonic() > deadline:
            harness.fail("timed out")
        if not agent.alive():
            harness.fail("agent exited:\n%s" % harness.tail(agent.log()))
        peak = max(peak, agent.fds())
        time.sleep(0.2)
    harness.check(peak <= MAX_OPEN + 40, "descriptors bounded (peak %d, max_open_files %d)" % (peak, MAX_OPEN))
    # Appends to files long closed again.
    picks = random.Random(7).sample(range(FILES), 100)
    for k, i in enumerate(picks):
        with open(os.path.join(logs, "f%05d.log" % i), "a") as f:
            f.write("n %d\n" % (2 * FILES + k))
    total = 2 * FILES + len(picks)
    ac.wait_count(col.broker, "many", 2, total, 120, agent)
    recs = ac.read_topic(col.broker, "many", 2, timeout=300)
    ac.check_all(ac.numbers(recs), total, "%d files" % FILES)
    harness.check(agent.fds() <= MAX_OPEN + 40, "descriptors still bounded (%d)" % agent.fds())
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=900))
