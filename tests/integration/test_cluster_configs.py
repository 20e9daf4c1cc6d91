#!/usr/bin/python3
"""Topic configs in a cluster live in ZooKeeper and reach every replica.

Three collectors on a real ZooKeeper:

  1. a topic created through broker A with configs (cleanup.policy,
     retention.ms) has them on every replica, each broker asked on its own
     with DescribeConfigs;
  2. AlterConfigs through broker B (incremental, kafka-python's
     non-incremental one too) reaches every broker, and /config/topics/T
     holds the new set (Kafka's layout, with a /config/changes
     notification);
  3. a change made while broker C is down reaches C when it comes back;
  4. a replica created later (a partition moved onto a new broker) starts
     with the topic's configs.
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

TOPIC = "configured"


def described(cl, b, key):
    """The value of topic config 'key' as broker b reports it."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": cl.broker(b).broker})
    fs = admin.describe_configs([ConfigResource("topic", TOPIC)], request_timeout=10)
    entries = list(fs.values())[0].result(15)
    return entries[key].value if key in entries else None


def on_all(cl, key, want, timeout=20):
    cl.wait_for(lambda: all(described(cl, b, key) == want for b in cl.live()),
                timeout=timeout, what="%s=%s on every live broker" % (key, want))


def body(ws):
    from confluent_kafka.admin import AdminClient, ConfigResource

    cl = cluster.Cluster(ws).start()
    a, b, c = 1, 2, 3
    admin_a = AdminClient({"bootstrap.servers": cl.broker(a).broker})
    from confluent_kafka.admin import NewTopic
    fs = admin_a.create_topics([NewTopic(TOPIC, 2, 3, config={
        "cleanup.policy": "compact", "retention.ms": "4242000"})], request_timeout=30)
    fs[TOPIC].result(30)
    for p in range(2):
        cl.wait_isr(TOPIC, p, size=3)
    on_all(cl, "cleanup.policy", "compact")
    on_all(cl, "retention.ms", "4242000")
    note("configs given at creation through broker %d are on every replica" % a)

    # 2. AlterConfigs through broker B.
    admin_b = AdminClient({"bootstrap.servers": cl.broker(b).broker})
    fs = admin_b.alter_configs([ConfigResource("topic", TOPIC, set_config={
        "cleanup.policy": "delete", "segment.ms": "777000"})])
    list(fs.values())[0].result(30)
    on_all(cl, "segment.ms", "777000")
    on_all(cl, "cleanup.policy", "delete")
    on_all(cl, "retention.ms", "604800000")  # AlterConfigs replaces the set
    stored = json.loads(cl.znode("/config/topics/%s" % TOPIC))
    check(stored["config"] == {"cleanup.policy": "delete", "segment.ms": "777000"},
          "/config/topics holds the new set: %s" % stored)
    changes = cl.znode_children("/config/changes") or []
    check(any(n.startswith("config_change_") for n in changes),
          "a /config/changes notification was written: %s" % changes)

    # 3. Changed while C is down.
    cl.kill(c)
    cl.wait_brokers()
    from kafka.admin import ConfigResource as KPResource, ConfigResourceType, KafkaAdminClient
    kp = KafkaAdminClient(bootstrap_servers=cl.broker(a).broker, request_timeout_ms=30000)
    kp.alter_configs([KPResource(ConfigResourceType.TOPIC, TOPIC,
                                 configs={"retention.ms": "1234000"})])
    kp.close()
    on_all(cl, "retention.ms", "1234000")
    on_all(cl, "segment.ms", "604800000")  # replaced: back to the default
    cl.wait_brokers()
    cl.restart(c)
    cl.wait_for(lambda: described(cl, c, "retention.ms") == "1234000" and
                described(cl, c, "segment.ms") == "604800000", timeout=30,
                what="broker %d, down during the change, has it after its restart" % c)
    note("a change made while broker %d was down reached it when it came back" % c)

    # 4. A replica created later starts with the configs.
    new = cl.add_broker()
    plan = os.path.join(ws.path, "plan.json")
    reps = cl.metadata(TOPIC)[0][1]
    with open(plan, "w") as f:
        json.dump({"version": 1, "partitions": [
            {"topic": TOPIC, "partition": 0, "replicas": [new] + reps[1:]}]}, f)
    tool = os.path.join(harness.builddir(), "tools", "tributary")
    r = subprocess.run([tool, "cluster", "reassign", "-b", cl.bootstrap, "--plan", plan,
                        "--execute"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "reassign onto broker %d: %s%s" % (new, r.stdout, r.stderr))
    deadline = time.time() + 60
    while time.time() < deadline and new not in (cl.metadata(TOPIC)[0][2] or []):
        time.sleep(0.5)
    check(described(cl, new, "retention.ms") == "1234000",
          "the new replica on broker %d started with the topic's configs" % new)
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
