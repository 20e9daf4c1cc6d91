#!/usr/bin/python3
"""Agent: directories of the path globs that do not exist yet are found as
soon as they are created (inotify on the nearest existing ancestor), not by
the rescan, which this test puts an hour away. Covers a missing directory
two levels deep and a wildcard directory created later."""

import os
import time

import harness
import test_agent_common as ac


def body(ws):
    col = ws.collector(sets={"num.partitions": "1"})
    col.port = harness.free_port()
    col.start()
    root = ws.file("root")
    os.mkdir(root)
    deep = os.path.join(root, "later", "deeper")
    inputs = "[input deep]\npaths = %s/*.log\ntopic = deep\n" % deep
    inputs += "[input wild]\npaths = %s/apps/*/app.log\ntopic = wild\n" % root
    os.mkdir(os.path.join(root, "apps"))
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="rescan_interval_ms = 3600000")
    agent.start()
    time.sleep(1)  # the agent has scanned and found nothing
    harness.check(agent.alive(), "agent started with missing directories")

    # Two levels appear one after the other, then a file in the deeper one.
    os.mkdir(os.path.join(root, "later"))
    os.mkdir(deep)
    with open(os.path.join(deep, "x.log"), "w") as f:
        f.writelines("n %d\n" % i for i in range(100))
    ac.wait_count(col.broker, "deep", 1, 100, 60, agent)
    recs = ac.read_topic(col.broker, "deep", 1)
    ac.check_all(ac.numbers(recs), 100, "file in a directory created after start")

    # Lines appended later arrive too: the new directory is fully watched.
    with open(os.path.join(deep, "x.log"), "a") as f:
        f.writelines("n %d\n" % i for i in range(100, 150))
    ac.wait_count(col.broker, "deep", 1, 150, 60, agent)

    # A directory matching the wildcard part of a glob.
    a = os.path.join(root, "apps", "a")
    os.mkdir(a)
    with open(os.path.join(a, "app.log"), "w") as f:
        f.writelines("n %d\n" % i for i in range(50))
    ac.wait_count(col.broker, "wild", 1, 50, 60, agent)
    recs = ac.read_topic(col.broker, "wild", 1)
    ac.check_all(ac.numbers(recs), 50, "file in a new directory matching a wildcard")

    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body))
