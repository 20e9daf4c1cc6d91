#!/usr/bin/python3
"""A three-collector cluster on a real ZooKeeper: replication and failover.

A topic with replication factor 3 and min.insync.replicas=2 takes records
from an idempotent acks=all producer (confluent-kafka). Every replica
reaches the same log end (the follower fetchers copy the leader's batches),
the ISR holds all three, then the leader is SIGKILLed: the controller elects
another ISR member within the session timeout, the producer goes on through
the failover, and at the end every acknowledged record is read back exactly
once, in order. The killed broker comes back, truncates if it must, and
rejoins the ISR.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "replicated"


def metadata(boot):
    md = AdminClient({"bootstrap.servers": boot}).list_topics(TOPIC, timeout=10)
    t = md.topics.get(TOPIC)
    if t is None or t.error is not None or 0 not in t.partitions:
        return None
    p = t.partitions[0]
    return p.leader, list(p.replicas), list(p.isrs)


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
        except Exception as e:  # a broker may be down mid-call
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    harness.fail("timed out waiting for %s (last: %r)" % (what, last))


def produce(boot, start, count, acked):
    p = Producer({"bootstrap.servers": boot, "enable.idempotence": True,
                  "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 60000})

    def cb(err, msg):
        if err is None:
            acked.append(int(msg.value()))

    for i in range(start, start + count):
        while True:
            try:
                p.produce(TOPIC, value=b"%d" % i, partition=0, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(90)
    check(left == 0, "%d records not delivered" % left)


def read_all(boot, expect):
    c = Consumer({"bootstrap.servers": boot, "group.id": "check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got = []
    deadline = time.time() + 60
    while len(got) < expect and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append((m.offset(), int(m.value())))
    c.close()
    return got


def body(ws):
    cl = cluster.Cluster(ws).start()
    boot = cl.bootstrap
    admin = AdminClient({"bootstrap.servers": boot})
    fs = admin.create_topics([NewTopic(TOPIC, 1, 3)])
    fs[TOPIC].result(30)
    md = wait_for("three in-sync replicas",
                  lambda: (lambda m: m if m and m[0] >= 0 and len(m[2]) == 3
                           else None)(metadata(boot)))
    leader = md[0]
    note("leader %d, replicas %s, isr %s" % md)

    acked = []
    produce(boot, 0, 3000, acked)
    check(len(acked) == 3000, "acknowledged %d of 3000" % len(acked))

    # Every replica holds the same records.
    def ends():
        sizes = set()
        for i in (1, 2, 3):
            d = cl.broker(i).partition_dir(TOPIC, 0)
            sizes.add(sum(os.path.getsize(os.path.join(d, f))
                          for f in os.listdir(d) if f.endswith(".log")))
        return len(sizes) == 1 and sizes
    wait_for("equal logs on the three brokers", ends, timeout=30)

    t0 = time.time()
    cl.kill(leader)
    md2 = wait_for("a new leader", lambda: (
        lambda m: m if m and m[0] >= 0 and m[0] != leader else None)(
            metadata(",".join("127.0.0.1:%d" % cl.broker(i).port
                              for i in (1, 2, 3) if i != leader))), timeout=30)
    note("broker %d killed; broker %d leads after %.1f s" %
         (leader, md2[0], time.time() - t0))

    boot2 = ",".join("127.0.0.1:%d" % cl.broker(i).port
                     for i in (1, 2, 3) if i != leader)
    produce(boot2, 3000, 3000, acked)
    check(len(acked) == 6000, "acknowledged %d of 6000" % len(acked))

    cl.restart(leader)
    wait_for("the restarted broker back in the ISR",
             lambda: (lambda m: m if m and len(m[2]) == 3 else None)(
                 metadata(boot)), timeout=60)

    got = read_all(boot, 6000)
    values = [v for _, v in got]
    offsets = [o for o, _ in got]
    check(offsets == list(range(len(offsets))), "offsets are not contiguous")
    lost = set(acked) - set(values)
    dups = len(values) - len(set(values))
    check(not lost, "%d acknowledged records lost, e.g. %s" %
          (len(lost), sorted(lost)[:5]))
    check(dups == 0, "%d duplicates" % dups)
    check(values == sorted(values), "records out of order")
    note("6000 acknowledged, 6000 read once each, in order")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
