#!/usr/bin/python3
"""Consumer groups: kcat -G, group admin, and committed offsets across a crash.

1. `kcat -G` (librdkafka's balanced consumer) reads a 3-partition topic to
   its end and commits; OffsetFetch then returns the high watermark of
   every partition for its group.
2. A subscribe()d confluent-kafka consumer reads half of the records and
   commits them; an assign()-mode consumer (generation -1, no member id)
   commits chosen offsets for another group. The collector is killed with
   SIGKILL and restarted: OffsetFetch returns the same offsets, and a new
   consumer of the first group resumes where it stopped, reading nothing
   twice.
3. ListGroups/DescribeGroups (AdminClient.list_groups) show the groups.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402
from test_groups_common import create_topic, produce  # noqa: E402

from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

TOPIC = "groups-persist"
PARTITIONS = 3
COUNT = 300


def committed(broker, group, partitions=PARTITIONS):
    c = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in range(partitions)], timeout=15)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def consume(broker, group, limit, timeout=40):
    """A subscribe()d consumer reads up to 'limit' records, committing each; returns values."""
    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": group,
            "session.timeout.ms": 6000,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    vals, eof = [], set()
    c.subscribe([TOPIC])
    deadline = time.monotonic() + timeout
    try:
        while len(vals) < limit and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                    if len(eof) == PARTITIONS and limit > COUNT:
                        break
                    continue
                fail("consumer error: %s" % msg.error())
            eof.discard(msg.partition())
            vals.append(int(msg.value()))
            c.commit(message=msg, asynchronous=False)
    finally:
        c.close()
    return vals


def body(ws):
    col = ws.collector(sets={"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "5"})
    col.start()
    broker = col.broker
    create_topic(broker, TOPIC, PARTITIONS)
    produce(broker, TOPIC, 0, COUNT, PARTITIONS)
    high = {p: COUNT // PARTITIONS for p in range(PARTITIONS)}

    # 1. kcat -G
    out = subprocess.run(
        ["kcat", "-b", broker, "-G", "kcat-group", "-X", "auto.offset.reset=earliest",
         "-X", "session.timeout.ms=6000", "-e", "-q", "-f", "%p %o %s\\n", TOPIC],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    lines = out.stdout.decode().split()
    vals = sorted(int(v) for v in lines[2::3])
    check(out.returncode == 0 and vals == list(range(COUNT)),
          "kcat -G read all %d records once (exit %d)" % (COUNT, out.returncode))
    check(committed(broker, "kcat-group") == high,
          "kcat -G committed the high watermark of every partition: %s" % high)

    # 2. commits, then SIGKILL
    first = consume(broker, "resume", COUNT // 2)
    check(len(first) == COUNT // 2, "a group consumer read and committed %d records" % len(first))
    before = committed(broker, "resume")
    check(sum(max(o, 0) for o in before.values()) == COUNT // 2,
          "OffsetFetch: %s (-1001: nothing committed)" % before)
    simple = Consumer({"bootstrap.servers": broker, "group.id": "simple", "enable.auto.commit": False})
    chosen = [TopicPartition(TOPIC, p, 7 + p) for p in range(PARTITIONS)]
    simple.assign(chosen)
    simple.commit(offsets=chosen, asynchronous=False)
    simple.close()
    check(committed(broker, "simple") == {p: 7 + p for p in range(PARTITIONS)},
          "an assign()-mode consumer committed offsets (generation -1)")

    col.kill()
    col.restart()
    check(committed(broker, "resume") == before, "after SIGKILL and restart, OffsetFetch returns %s" % before)
    check(committed(broker, "simple") == {p: 7 + p for p in range(PARTITIONS)},
          "after SIGKILL and restart, the assign()-mode commits are there too")
    rest = consume(broker, "resume", COUNT + 1)
    check(sorted(first + rest) == list(range(COUNT)),
          "the group resumed after the restart: %d more records, none read twice" % len(rest))

    # 3. admin
    admin = AdminClient({"bootstrap.servers": broker})
    groups = {g.id: g for g in admin.list_groups(timeout=10)}
    check({"kcat-group", "resume", "simple"} <= set(groups), "ListGroups: %s" % sorted(groups))
    check(groups["resume"].state == "Empty" and groups["resume"].protocol_type == "consumer",
          "DescribeGroups: 'resume' is Empty with protocol type consumer (%s, %r)"
          % (groups["resume"].state, groups["resume"].protocol_type))


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=150))
