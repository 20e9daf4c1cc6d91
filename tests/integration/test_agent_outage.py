#!/usr/bin/python3
"""Agent: the collector stops for a while and comes back; no line is
missing, reading pauses with a warning, and the agent's memory stays flat
while the writer keeps writing."""

import os
import time

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_OUTAGE_LINES", "300000"))
OUTAGE_S = int(os.environ.get("TR_AGENT_OUTAGE_SECONDS", "20"))


def body(ws):
    col = ws.collector(sets={"num.partitions": "2"})
    col.port = harness.free_port()
    col.start()
    logs = ws.file("logs")
    os.mkdir(logs)
    path = os.path.join(logs, "app.log")
    inputs = "[input app]\npaths = %s/*.log\ntopic = out\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="max_inflight_records = 20000",
                     output_extra="buffer_max_bytes = 2m\nretry_backoff_max_ms = 1000")
    agent.start()
    w = ac.Writer(path, LINES, rate=LINES // (OUTAGE_S + 10))
    w.start()
    ac.wait_count(col.broker, "out", 2, 1000, 60, agent)
    col.stop()
    harness.note("collector stopped")
    time.sleep(2)
    rss = []
    for _ in range(OUTAGE_S):
        time.sleep(1)
        rss.append(agent.rss_kib())
    harness.note("agent RSS during the outage (KiB): %s" % rss)
    grow = max(rss[len(rss) // 2:]) - min(rss[:len(rss) // 2])
    harness.check(grow < 16 * 1024, "agent memory flat while the collector is away (grew %d KiB)" % grow)
    harness.check(b"reading paused" in agent.log(), "agent logs a clear warning")
    col.start()
    harness.note("collector restarted")
    w.join()
    ac.wait_count(col.broker, "out", 2, LINES, 300, agent)
    recs = ac.read_topic(col.broker, "out", 2, timeout=300)
    ac.check_all(ac.numbers(recs), LINES, "after an outage of %d s" % OUTAGE_S)
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=900))
