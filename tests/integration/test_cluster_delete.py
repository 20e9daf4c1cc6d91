#!/usr/bin/python3
"""Topic deletion in a cluster.

Three collectors on a real ZooKeeper. A topic with replication factor 3 and
3 partitions holds records; DeleteTopics (confluent-kafka's AdminClient,
sent to any broker) goes through the controller as in Kafka
(/admin/delete_topics/T): every replica is told to stop and delete its copy,
the topic's znodes go, and every broker's metadata stops listing it. Then:

  - the same name is created again and starts empty at offset 0, with data
    written before the deletion nowhere to be read;
  - a topic deleted while one of its replicas is down is gone from the
    metadata at once, and stays gone when that broker comes back;
  - deleting a topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402


def delete(cl, topic):
    """DeleteTopics through AdminClient; returns the error or None."""
    admin = cl.admin()
    fs = admin.delete_topics([topic], operation_timeout=30, request_timeout=30)
    try:
        fs[topic].result(40)
        return None
    except Exception as e:
        return e.args[0] if e.args else e


def everywhere_gone(cl, topic):
    from confluent_kafka.admin import AdminClient

    for b in cl.live():
        md = AdminClient({"bootstrap.servers": cl.broker(b).broker}).list_topics(timeout=10)
        if topic in md.topics:
            return False
    return True


def local_copies(cl, topic):
    return [b for b in cl.brokers
            if os.path.isdir(os.path.join(cl.broker(b).data_dir, "%s-0" % topic))]


def body(ws):
    from confluent_kafka import KafkaError

    cl = cluster.Cluster(ws).start()
    cl.create_topic("doomed", partitions=3, replication=3)
    for p in range(3):
        cl.wait_isr("doomed", p, size=3)
    for p in range(3):
        harness.produce_records(cl.bootstrap, "doomed",
                                [(None, b"old-%d" % i) for i in range(100)], partition=p)
    check(len(local_copies(cl, "doomed")) == 3, "every broker holds a copy before")

    err = delete(cl, "doomed")
    check(err is None, "DeleteTopics succeeded: %s" % err)
    cl.wait_for(lambda: everywhere_gone(cl, "doomed"), timeout=20,
                what="no broker lists the deleted topic")
    cl.wait_for(lambda: not local_copies(cl, "doomed"), timeout=20,
                what="every replica deleted its copy")
    check(cl.znode("/brokers/topics/doomed") is None, "the assignment znode is gone")
    check(cl.znode("/config/topics/doomed") is None, "the config znode is gone")
    check(not cl.znode_children("/admin/delete_topics"), "no deletion left pending")

    # The same name again: empty, from offset 0.
    cl.create_topic("doomed", partitions=1, replication=3)
    cl.wait_isr("doomed", 0, size=3)
    harness.produce_records(cl.bootstrap, "doomed", [(None, b"new-0"), (None, b"new-1")])
    got = cluster.read_partition(cl.bootstrap, "doomed", 0)
    check(got == [(0, b"new-0"), (1, b"new-1")],
          "the recreated topic holds only its own records: %s" % got[:4])

    # Deleted while a replica is down.
    cl.create_topic("half", partitions=1, replication=3)
    cl.wait_isr("half", 0, size=3)
    harness.produce_records(cl.bootstrap, "half", [(None, b"x")] * 10)
    down = [b for b in cl.live() if b != cl.controller_id()][0]
    cl.kill(down)
    cl.wait_brokers()
    check(delete(cl, "half") is None, "DeleteTopics with broker %d down" % down)
    cl.wait_for(lambda: everywhere_gone(cl, "half"), timeout=20,
                what="no live broker lists 'half'")
    cl.restart(down)
    cl.wait_brokers()
    cl.wait_isr("doomed", 0, size=3, timeout=30)
    check(everywhere_gone(cl, "half"), "the returning broker does not bring 'half' back")
    note("broker %d came back with a stray copy (%s), which nothing lists or serves" %
         (down, "present" if down in local_copies(cl, "half") else "absent"))

    err = delete(cl, "never-was")
    check(isinstance(err, KafkaError) and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART,
          "deleting an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (got %s)" % err)
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
