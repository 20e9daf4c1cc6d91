#!/usr/bin/python3
"""confluent-kafka-python 1.7.0 (librdkafka 2.0.2): admin, idempotent producer, assign() consumer.

Admin: create_topics (3 partitions), list_topics, describe_configs,
delete_topics of a scratch topic, create_partitions on another. Producer:
acks=all, enable.idempotence, gzip, 20,000 keyed records with headers; every
delivery report must succeed. Consumer: assign() from the beginning (no group
protocol), check.crcs on; per partition the records must come back in the
order and with the content the delivery reports gave. Then watermarks and
offsets_for_times.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

COUNT = 20_000
TOPIC = "confluent-it"
PARTITIONS = 3


def wait_for(pred, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


def topic_partitions(admin, topic):
    md = admin.list_topics(timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def admin_checks(admin):
    futs = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)], operation_timeout=10, request_timeout=15)
    futs[TOPIC].result(timeout=20)
    check(True, "create_topics %s with %d partitions" % (TOPIC, PARTITIONS))
    check(topic_partitions(admin, TOPIC) == PARTITIONS, "list_topics shows %s with %d partitions" % (TOPIC, PARTITIONS))

    try:
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)], request_timeout=15)[TOPIC].result(timeout=20)
        fail("creating %s twice succeeded" % TOPIC)
    except Exception as e:
        err = e.args[0] if e.args else None
        code = err.code() if isinstance(err, KafkaError) else None
        check(code == KafkaError.TOPIC_ALREADY_EXISTS, "creating it again fails with TOPIC_ALREADY_EXISTS (%s)" % e)

    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    configs = admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)
    names = sorted(configs)
    note("describe_configs: %s" % ", ".join(names[:12]))
    check(len(configs) > 0, "describe_configs returns %d config entries" % len(configs))

    scratch = TOPIC + "-scratch"
    admin.create_topics([NewTopic(scratch, 1, 1)], request_timeout=15)[scratch].result(timeout=20)
    wait_for(lambda: topic_partitions(admin, scratch) == 1, "the scratch topic to appear")
    admin.delete_topics([scratch], operation_timeout=10, request_timeout=15)[scratch].result(timeout=20)
    wait_for(lambda: topic_partitions(admin, scratch) is None, "the scratch topic to disappear")
    check(True, "delete_topics removed %s" % scratch)

    grow = TOPIC + "-grow"
    admin.create_topics([NewTopic(grow, 1, 1)], request_timeout=15)[grow].result(timeout=20)
    admin.create_partitions([NewPartitions(grow, 3)], request_timeout=15)[grow].result(timeout=20)
    wait_for(lambda: topic_partitions(admin, grow) == 3, "%s to have 3 partitions" % grow)
    check(True, "create_partitions grew %s from 1 to 3 partitions" % grow)


def produce(broker):
    p = Producer(
        {
            "bootstrap.servers": broker,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "gzip",
            "linger.ms": 10,
            "message.timeout.ms": 60000,
        }
    )
    delivered = []  # (partition, offset, key, value, headers, timestamp)
    errors = []

    def reporter(headers):
        # Delivery reports do not carry the headers back: remember them here.
        def on_delivery(err, msg):
            if err is not None:
                errors.append("%s: %s" % (msg.key(), err))
            else:
                delivered.append((msg.partition(), msg.offset(), msg.key(), msg.value(), headers,
                                  msg.timestamp()[1]))
        return on_delivery

    for i in range(COUNT):
        key = b"key-%d" % (i % 101)
        value = b"value-%06d-" % i + bytes((i + j) % 256 for j in range(i % 64))
        headers = [("seq", b"%d" % i), ("src", b"confluent")]
        while True:
            try:
                p.produce(TOPIC, value=value, key=key, headers=headers, on_delivery=reporter(headers))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(120)
    check(left == 0, "producer flushed everything (%d left)" % left)
    check(not errors, "all %d delivery reports succeeded%s" % (COUNT, "" if not errors else ": " + "; ".join(errors[:5])))
    check(len(delivered) == COUNT, "%d delivery reports" % len(delivered))
    return delivered


def consume(broker, expected):
    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": "tributary-it-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "check.crcs": True,
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        got = {p: [] for p in range(PARTITIONS)}
        want = {p: len(v) for p, v in expected.items()}
        eof = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                    if all(len(got[p]) >= want[p] for p in got) and len(eof) == PARTITIONS:
                        break
                    continue
                fail("consumer error: %s" % msg.error())
            got[msg.partition()].append((msg.offset(), msg.key(), msg.value(), msg.headers() or []))
        else:
            fail("consumer timed out: %s of %s" % ({p: len(v) for p, v in got.items()}, want))
        return got, c
    except Exception:
        c.close()
        raise


def run(ws):
    col = ws.collector(sets={"auto.create.topics.enable": "false"}).start()
    admin = AdminClient({"bootstrap.servers": col.broker})
    admin_checks(admin)

    delivered = produce(col.broker)
    expected = {p: [] for p in range(PARTITIONS)}
    for part, off, key, value, headers, _ts in sorted(delivered, key=lambda d: (d[0], d[1])):
        expected[part].append((off, key, value, headers))
    for p in range(PARTITIONS):
        offs = [e[0] for e in expected[p]]
        check(offs == list(range(len(offs))), "partition %d: delivered offsets are 0..%d without gaps" % (p, len(offs) - 1))
    check(sum(1 for p in expected if expected[p]) == PARTITIONS, "records landed in all %d partitions" % PARTITIONS)

    got, consumer = consume(col.broker, expected)
    try:
        for p in range(PARTITIONS):
            if got[p] != expected[p]:
                for n, (w, g) in enumerate(zip(expected[p], got[p])):
                    if w != g:
                        fail("partition %d record %d: sent %r, got %r" % (p, n, w, g))
                fail("partition %d: %d records, expected %d" % (p, len(got[p]), len(expected[p])))
            check(True, "partition %d: %d records read back in order with keys, values and headers"
                  % (p, len(got[p])))

        for p in range(PARTITIONS):
            lo, hi = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10, cached=False)
            check((lo, hi) == (0, len(expected[p])), "partition %d watermarks (%d, %d)" % (p, lo, hi))

        # offsets_for_times: the earliest offset whose timestamp >= ts.
        stamps = {p: {} for p in range(PARTITIONS)}
        for part, off, _k, _v, _h, ts in delivered:
            stamps[part][off] = ts
        for p in range(PARTITIONS):
            n = len(expected[p])
            mid = n // 2
            ts_mid = stamps[p][mid]
            # One query per timestamp: librdkafka merges entries for the same partition.
            res = [consumer.offsets_for_times([TopicPartition(TOPIC, p, ts)], timeout=10)[0].offset
                   for ts in (0, ts_mid, max(stamps[p].values()) + 3_600_000)]
            first_at = min(o for o, t in stamps[p].items() if t >= ts_mid)
            check(res[0] == 0, "partition %d: offsets_for_times(0) = %d" % (p, res[0]))
            # Kafka answers with the first record at or after the time, not
            # the start of the batch that holds it.
            check(res[1] == first_at,
                  "partition %d: offsets_for_times(ts of offset %d) = %d (first record at that time: %d)"
                  % (p, mid, res[1], first_at))
            check(res[2] == -1, "partition %d: offsets_for_times(future) = %d (end)" % (p, res[2]))
    finally:
        consumer.close()

    batches = harness.partition_batches(col.partition_dir(TOPIC, 0))
    # librdkafka sends a batch uncompressed when gzip would not make it smaller.
    gz = sum(1 for b in batches if b["compression"] == 1)
    check(gz > 0 and all(b["compression"] in (0, 1) for b in batches),
          "partition 0: %d of %d batches on disk are gzip, the rest uncompressed" % (gz, len(batches)))
    check(all(b["valid_crc"] for b in batches), "partition 0 batches on disk have valid CRCs")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
