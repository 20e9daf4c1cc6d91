#!/usr/bin/python3
"""The fleet in a cluster: an agent's status records reach every collector.

Three collectors with auto.create.topics.enable=false, each with its own
http.listener. The agent's first Metadata request for __tributary_agents
creates it all the same (it is internal), through the controller: one
partition, compacted, LogAppendTime, replicated to all three brokers
(offsets.topic.replication.factor 3). Every collector hosts a replica, so
each one's /api/agents lists the agent with its file fully acknowledged.
Skipped when ZooKeeper is missing.
"""

import json
import os
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
import test_agent_common as ac  # noqa: E402
from harness import check  # noqa: E402

TOPIC = "__tributary_agents"


def agents(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/agents" % port, timeout=10) as r:
        return {a["host"]: a for a in json.loads(r.read())["agents"]}


def body(ws):
    cluster.skip_without_zookeeper()
    http = {i: harness.free_port() for i in (1, 2, 3)}
    cl = cluster.Cluster(ws, settings={"auto.create.topics.enable": "false"},
                         per_broker={i: {"http.listener": "127.0.0.1:%d" % p} for i, p in http.items()})
    cl.start()
    logs = os.path.join(ws.path, "logs")
    os.mkdir(logs)
    path = os.path.join(logs, "app.log")
    with open(path, "w") as f:
        for i in range(1000):
            f.write("line %d\n" % i)
    size = os.path.getsize(path)
    cl.create_topic("app", partitions=1, replication=3)
    cl.wait_leader("app", 0)
    agent = ac.Agent(ws, cl.bootstrap, "[input app]\npaths = %s\ntopic = app\n" % path,
                     agent_extra="host = node-a\nstatus_interval_ms = 500")
    agent.start()
    ac.wait_count(cl.bootstrap, "app", 1, 1000, 60, agent)

    def seen_everywhere():
        for i in (1, 2, 3):
            by = agents(http[i])
            a = by.get("node-a")
            if a is None or not a["files"] or a["files"][0]["bytes_acked"] != size:
                return False
        return True
    cl.wait_for(seen_everywhere, timeout=60, what="node-a fully acknowledged in every collector's /api/agents")
    check(True, "every collector lists node-a with its %d bytes acknowledged" % size)

    md = cl.metadata(TOPIC)
    from confluent_kafka.admin import ConfigResource
    res = ConfigResource("topic", TOPIC)
    admin = cl.admin()
    cfg = admin.describe_configs([res])[res].result(timeout=30)
    check(cfg["cleanup.policy"].value == "compact" and cfg["message.timestamp.type"].value == "LogAppendTime",
          "%s created compacted with LogAppendTime although auto-creation is off" % TOPIC)
    check(list(md) == [0] and sorted(md[0][1]) == [1, 2, 3],
          "%s has one partition replicated to all three brokers (%r)" % (TOPIC, md))
    agent.stop()
    agent.check_sanitizers()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
