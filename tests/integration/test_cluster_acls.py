#!/usr/bin/python3
"""ACLs in a cluster live in ZooKeeper, as in Kafka 2.x.

Three collectors on a real ZooKeeper with an authorizer; each has a
PLAINTEXT listener (the inter-broker one, whose User:ANONYMOUS is in
super.users, as brokers must be) and a SASL_PLAINTEXT one where alice logs
in. An ACL made through broker 3 ('tributary acls add') is written to
/kafka-acl/Topic/logs in Kafka's JSON with a "TOPIC:logs" notification
under /kafka-acl-changes, and brokers 1 and 2 enforce it (alice's
Metadata for the topic, answered by each broker) as soon as they have read
it; a prefixed ACL made through broker 2 goes to
/kafka-acl-extended/prefixed/Topic/<prefix> with Kafka's JSON notification
under /kafka-acl-extended-changes, and every broker applies it to a topic
under the prefix. Broker 3 is SIGKILLed, an ACL is added and one
removed meanwhile, and once restarted it knows both changes. A removal
through broker 1 denies alice again on every broker.
"""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

CLASS = "kafka.security.authorizer.AclAuthorizer"


def tributary(*args):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary")] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def alice(port):
    return {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "alice", "sasl.password": "alice-secret"}


def topic_error(port, topic):
    """The error alice gets in a Metadata answer for 'topic' from this broker."""
    from confluent_kafka.admin import AdminClient

    md = AdminClient(alice(port)).list_topics(topic, timeout=15)
    err = md.topics[topic].error
    return None if err is None else err.code()


def body(ws):
    from confluent_kafka import KafkaError

    cl = cluster.Cluster(ws, n=3, settings={
        "authorizer.class.name": CLASS,
        # The brokers' own requests come as User:ANONYMOUS (PLAINTEXT).
        "super.users": "User:admin;User:ANONYMOUS",
    })
    sasl_port = cl.start_sasl("SCRAM-SHA-256=[name=alice,password=alice-secret]")
    rc, out, err = tributary("topics", "create", "-b", cl.broker(1).broker, "logs", "-p", "3", "-r", "3")
    check(rc == 0, "topics create logs: %d %s" % (rc, err))
    cl.wait_for(lambda: len(cl.metadata("logs")) == 3 and all(p[0] >= 0 for p in cl.metadata("logs").values()),
                what="leaders for logs")
    for i in (1, 2, 3):
        check(topic_error(sasl_port[i], "logs") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
              "alice sees logs on broker %d without an ACL" % i)
    rc, out, err = tributary("topics", "create", "-b", cl.broker(1).broker, "load", "-p", "1", "-r", "3")
    check(rc == 0, "topics create load: %d %s" % (rc, err))
    for i in (1, 2, 3):
        check(topic_error(sasl_port[i], "load") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
              "alice sees load on broker %d without an ACL" % i)
    note("alice is refused logs on every broker; the brokers replicate as super users")

    # 1. An ACL through broker 3: Kafka's znode and notification.
    rc, out, err = tributary("acls", "add", "-b", cl.broker(3).broker, "--allow-principal", "User:alice",
                             "--producer", "--topic", "logs")
    check(rc == 0, "acls add through broker 3: %d %s" % (rc, err))
    doc = json.loads(cl.zk.get(cluster.CHROOT + "/kafka-acl/Topic/logs"))
    want = [{"principal": "User:alice", "permissionType": "Allow", "operation": op, "host": "*"}
            for op in ("Write", "Create", "Describe")]
    check(doc["version"] == 1 and sorted(doc["acls"], key=json.dumps) == sorted(want, key=json.dumps),
          "/kafka-acl/Topic/logs: %s" % doc)
    changes = cl.zk.children(cluster.CHROOT + "/kafka-acl-changes")
    check(any(n.startswith("acl_changes_") and len(n) == len("acl_changes_") + 10 for n in changes),
          "/kafka-acl-changes: %s" % changes)
    notes = [cl.zk.get(cluster.CHROOT + "/kafka-acl-changes/" + n) for n in changes]
    check(b"TOPIC:logs" in notes, "notifications: %s" % notes)
    note("/kafka-acl/Topic/logs holds Kafka's JSON; /kafka-acl-changes has TOPIC:logs")
    for i in (1, 2, 3):
        cl.wait_for(lambda: topic_error(sasl_port[i], "logs") is None, timeout=30,
                    what="broker %d to allow alice" % i)
    note("every broker enforces the ACL made through broker 3")

    # 2. A prefixed ACL through broker 2.
    rc, out, err = tributary("acls", "add", "-b", cl.broker(2).broker, "--allow-principal", "User:alice",
                             "--operation", "Read", "--topic", "lo", "--resource-pattern-type", "prefixed")
    check(rc == 0, "prefixed acls add through broker 2: %d %s" % (rc, err))
    doc = json.loads(cl.zk.get(cluster.CHROOT + "/kafka-acl-extended/prefixed/Topic/lo"))
    check(doc == {"version": 1, "acls": [{"principal": "User:alice", "permissionType": "Allow",
                                          "operation": "Read", "host": "*"}]},
          "/kafka-acl-extended/prefixed/Topic/lo: %s" % doc)
    ext = [json.loads(cl.zk.get(cluster.CHROOT + "/kafka-acl-extended-changes/" + n))
           for n in cl.zk.children(cluster.CHROOT + "/kafka-acl-extended-changes")]
    check({"version": 1, "resourceType": "TOPIC", "name": "lo", "patternType": "PREFIXED"} in ext,
          "/kafka-acl-extended-changes: %s" % ext)
    for i in (1, 2, 3):
        cl.wait_for(lambda: topic_error(sasl_port[i], "load") is None, timeout=30,
                    what="broker %d to let alice describe load (READ on the prefix lo)" % i)
    note("prefixed ACL in /kafka-acl-extended with Kafka's notification, enforced by every broker")

    # 3. Broker 3 down while the ACLs change; it catches up on restart.
    cl.kill(3)
    rc, out, err = tributary("acls", "add", "-b", cl.broker(1).broker, "--allow-principal", "User:alice",
                             "--operation", "DescribeConfigs", "--topic", "logs")
    check(rc == 0, "acls add while broker 3 is down: %s" % err)
    rc, out, err = tributary("acls", "remove", "-b", cl.broker(1).broker, "--topic", "lo",
                             "--resource-pattern-type", "prefixed")
    check(rc == 0 and "Removed ACL" in out, "acls remove while broker 3 is down: %s %s" % (out, err))
    check(not cl.zk.exists(cluster.CHROOT + "/kafka-acl-extended/prefixed/Topic/lo"),
          "the emptied prefixed znode is still there")
    cl.restart(3)
    cl.wait_brokers()

    def listed_by_3():
        rc, out, err = tributary("acls", "list", "-b", cl.broker(3).broker, "--json")
        return rc == 0 and json.loads(out)

    cl.wait_for(lambda: listed_by_3() and any(a["operation"] == "DESCRIBE_CONFIGS" for a in listed_by_3())
                and not any(a["name"] == "lo" for a in listed_by_3()), timeout=30,
                what="broker 3 to load the ACLs changed while it was down")
    check(topic_error(sasl_port[3], "load") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
          "broker 3 still lets alice describe load")
    note("broker 3, SIGKILLed and restarted, loads the ACLs changed meanwhile")

    # 4. A removal through broker 1 denies alice on every broker.
    rc, out, err = tributary("acls", "remove", "-b", cl.broker(1).broker, "--topic", "logs")
    check(rc == 0, "acls remove --topic logs: %s" % err)
    check(not cl.zk.exists(cluster.CHROOT + "/kafka-acl/Topic/logs"), "/kafka-acl/Topic/logs remains")
    for i in (1, 2, 3):
        cl.wait_for(lambda: topic_error(sasl_port[i], "logs") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
                    timeout=30, what="broker %d to deny alice again" % i)
    note("a removal through broker 1 holds on every broker")
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
