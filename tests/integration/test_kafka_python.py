#!/usr/bin/python3
"""kafka-python 2.0.2: admin create/list, producer (acks=1, gzip), assign() consumer.

kafka-python probes the broker with ApiVersions v0 and then sends fixed
versions (Metadata v1, Produce v7, Fetch v4, ListOffsets v1), and checks
every batch CRC by default. 10,000 records go out over two partitions with
keys and headers and must come back identical, partition by partition.
"""

import logging
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail  # noqa: E402

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402
from kafka.errors import TopicAlreadyExistsError  # noqa: E402

COUNT = 10_000
TOPIC = "kafka-python-it"
PARTITIONS = 2


def run(ws):
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
    col = ws.collector().start()

    admin = KafkaAdminClient(bootstrap_servers=col.broker, client_id="tributary-it", request_timeout_ms=15000)
    try:
        resp = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                                   timeout_ms=10000)
        errs = [(t, e) for t, e, *_ in resp.topic_errors]
        check(errs == [(TOPIC, 0)], "CreateTopics %s: %s" % (TOPIC, errs))
        try:
            admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                                timeout_ms=10000)
            fail("creating %s twice succeeded" % TOPIC)
        except TopicAlreadyExistsError as e:
            check(True, "CreateTopics again fails with TOPIC_ALREADY_EXISTS (%s)" % e.__class__.__name__)
        topics = admin.list_topics()
        check(TOPIC in topics, "list_topics includes %s (%s)" % (TOPIC, topics))
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=col.broker, acks=1, compression_type="gzip",
                             linger_ms=5, request_timeout_ms=15000)
    sent = []
    try:
        futures = []
        for i in range(COUNT):
            key = b"k%05d" % i
            value = b"kafka-python value %d " % i + b"x" * (i % 100)
            headers = [("seq", b"%d" % i), ("client", b"kafka-python")]
            part = i % PARTITIONS
            futures.append((part, key, value, headers,
                            producer.send(TOPIC, key=key, value=value, headers=headers, partition=part)))
        producer.flush(timeout=120)
        for part, key, value, headers, fut in futures:
            md = fut.get(timeout=30)
            if md.partition != part:
                fail("record %r went to partition %d, asked for %d" % (key, md.partition, part))
            sent.append((md.partition, md.offset, key, value, headers))
    finally:
        producer.close(timeout=10)
    check(len(sent) == COUNT, "%d records acknowledged" % COUNT)
    want = {p: sorted([s[1:] for s in sent if s[0] == p]) for p in range(PARTITIONS)}
    for p in range(PARTITIONS):
        offs = [w[0] for w in want[p]]
        check(offs == list(range(COUNT // PARTITIONS)), "partition %d: offsets 0..%d without gaps" % (p, len(offs) - 1))

    consumer = KafkaConsumer(bootstrap_servers=col.broker, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", request_timeout_ms=30000, fetch_max_wait_ms=100)
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        got = {p: [] for p in range(PARTITIONS)}
        deadline = time.monotonic() + 120
        while sum(len(v) for v in got.values()) < COUNT:
            if time.monotonic() > deadline:
                fail("consumer timed out with %s records" % {p: len(v) for p, v in got.items()})
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                for m in msgs:
                    got[tp.partition].append((m.offset, m.key, m.value, list(m.headers)))
        for p in range(PARTITIONS):
            if got[p] != want[p]:
                for n, (w, g) in enumerate(zip(want[p], got[p])):
                    if w != g:
                        fail("partition %d record %d: sent %r, got %r" % (p, n, w, g))
                fail("partition %d: %d records, expected %d" % (p, len(got[p]), len(want[p])))
            check(True, "partition %d: %d records read back in order, CRCs checked" % (p, len(got[p])))
        ends = consumer.end_offsets(tps)
        check(all(ends[tp] == COUNT // PARTITIONS for tp in tps), "end_offsets: %s" % {tp.partition: o for tp, o in ends.items()})
        begins = consumer.beginning_offsets(tps)
        check(all(begins[tp] == 0 for tp in tps), "beginning_offsets are 0")
    finally:
        consumer.close(autocommit=False)


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=300))
