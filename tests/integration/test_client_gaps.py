#!/usr/bin/python3
"""Behaviours real Kafka clients rely on, each checked as Kafka behaves.

One collector; each section covers one behaviour, with a real client where
the Debian clients (librdkafka 2.0.2 through confluent-kafka, kafka-python
2.0.2) use it, and with raw frames on the wire where they do not:

- fetch_max_bytes: Fetch honours the request's total max_bytes (KIP-74);
  only the first batch of the first non-empty partition may exceed it. A
  librdkafka consumer with fetch.max.bytes 1 MB (and receive.message.max.bytes
  just above it) reads 12 partitions of 600 KB batches, which it cannot when
  a response is larger than it accepts; raw Fetch v4 checks the sizes.
- topic_configs: every topic config name Kafka has is accepted (a
  CreateTopics with Kafka's whole set, by confluent-kafka's AdminClient),
  described back, and a name Kafka does not know is INVALID_CONFIG, also with
  validate_only.
"""

import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

SETS = {"num.partitions": "1", "message.max.bytes": "2000000"}


# ---------------------------------------------------------------------------
# Wire helpers

def raw(port, api_key, version, body, corr=7, flexible=False):
    """One request on a fresh connection; returns the response body."""
    with harness.Conn(port) as c:
        c.send(harness.request(api_key, version, corr, body, flexible=flexible))
        return c.response(corr, flexible_header=flexible and api_key != 18)


def produce_raw(port, topic, partition, batch, version=7):
    """Produce v3-v7 of one batch; returns the response body."""
    return raw(port, 0, version, harness.produce_v7_body(topic, partition, batch))


def fetch_v4(port, topic, parts, max_bytes, part_max_bytes):
    """
    Fetch v4 of partitions 'parts' from offset 0; returns
    [(partition, error, record_set_bytes)] in response order.
    """
    body = struct.pack(">iiiib", -1, 100, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + harness.kstring(topic) + struct.pack(">i", len(parts))
    for p in parts:
        body += struct.pack(">iqi", p, 0, part_max_bytes)
    resp = raw(port, 1, 4, body)
    pos = 4  # throttle_time_ms
    out = []
    (nt,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    for _ in range(nt):
        (tl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + tl
        (np,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(np):
            p, err, _hw, _lso = struct.unpack_from(">ihqq", resp, pos)
            pos += 22
            (na,) = struct.unpack_from(">i", resp, pos)
            pos += 4 + max(na, 0) * 16
            (size,) = struct.unpack_from(">i", resp, pos)
            pos += 4 + max(size, 0)
            out.append((p, err, max(size, 0)))
    return out


def create_topic(admin, name, partitions=1, config=None):
    from confluent_kafka.admin import NewTopic

    futs = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})], request_timeout=15)
    futs[name].result(timeout=20)


# ---------------------------------------------------------------------------
# Fetch max_bytes (KIP-74)

def fetch_max_bytes(col, admin):
    topic = "gaps-fetch"
    nparts = 12
    value_len = 600 * 1000
    create_topic(admin, topic, nparts)
    batch_len = None
    for p in range(nparts):
        for i in range(2):
            batch = harness.record_batch([(b"k%d" % i, bytes([65 + p]) * value_len, [])])
            batch_len = len(batch)
            res = harness.parse_produce_v7_response(produce_raw(col.port, topic, p, batch))
            check(res[0][2] == 0, "produce to %s-%d: error %d" % (topic, p, res[0][2]))

    # Raw Fetch v4: the total stays within max_bytes, but for the first
    # batch, which comes whole even when larger than every limit.
    for max_bytes, part_max in ((1000000, 1048576), (100000, 1048576), (1500000, 10485760), (50000000, 1000000)):
        got = fetch_v4(col.port, topic, list(range(nparts)), max_bytes, part_max)
        sizes = [s for _, _, s in got]
        total = sum(sizes)
        nonempty = [s for s in sizes if s > 0]
        check(all(e == 0 for _, e, _ in got), "fetch errors: %r" % got)
        check(nonempty, "fetch with max_bytes %d returned nothing" % max_bytes)
        check(
            total <= max(max_bytes, batch_len),
            "fetch max_bytes %d, partition max %d: %d bytes in all (%r)" % (max_bytes, part_max, total, sizes),
        )
        check(all(s <= max(part_max, batch_len) for s in sizes), "a partition over its max: %r" % sizes)
        # As much as fits is returned: more than one batch when two fit.
        if max_bytes >= 2 * batch_len and part_max >= 2 * batch_len:
            check(total >= 2 * batch_len, "fetch max_bytes %d returned only %d bytes" % (max_bytes, total))
        note("fetch max_bytes %d, partition max %d: %d bytes (%d partitions)" % (max_bytes, part_max, total, len(nonempty)))

    # librdkafka refuses a response larger than receive.message.max.bytes:
    # with fetch.max.bytes 1 MB it must read every record.
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": col.broker,
            "group.id": "gaps-fetch-reader",
            "enable.auto.commit": False,
            "fetch.max.bytes": 1000000,
            "receive.message.max.bytes": 1000512,
            "max.partition.fetch.bytes": 1048576,
            "fetch.wait.max.ms": 100,
            "enable.partition.eof": True,
        }
    )
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
        seen, eofs = 0, set()
        deadline = harness.time.monotonic() + 60
        while len(eofs) < nparts or seen < 2 * nparts:
            if harness.time.monotonic() > deadline:
                fail("librdkafka with fetch.max.bytes 1 MB read %d of %d records" % (seen, 2 * nparts))
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eofs.add(msg.partition())
                    continue
                fail("librdkafka with fetch.max.bytes 1 MB: %s" % msg.error())
            check(len(msg.value()) == value_len, "record of %d bytes" % len(msg.value()))
            seen += 1
        note("librdkafka read %d records of %d bytes with fetch.max.bytes 1 MB" % (seen, value_len))
    finally:
        c.close()


# ---------------------------------------------------------------------------
# Topic configs: Kafka's whole set

KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy": "delete",
    "compression.gzip.level": "-1",
    "compression.lz4.level": "9",
    "compression.type": "producer",
    "compression.zstd.level": "3",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "1000",
    "flush.messages": "9223372036854775807",
    "flush.ms": "9223372036854775807",
    "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096",
    "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": "9223372036854775807",
    "max.message.bytes": "1048588",
    "message.downconversion.enable": "true",
    "message.format.version": "3.0-IV1",
    "message.timestamp.after.max.ms": "9223372036854775807",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.difference.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
}


def topic_configs(col, admin):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, NewTopic

    topic = "gaps-configs"
    create_topic(admin, topic, 1, KAFKA_TOPIC_CONFIGS)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    got = admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)
    for name, value in KAFKA_TOPIC_CONFIGS.items():
        check(name in got, "DescribeConfigs lacks %s" % name)
        check(got[name].value == value or (value == "" and got[name].value in ("", None)),
              "%s: described %r, set %r" % (name, got[name].value, value))
    note("CreateTopics with Kafka's %d topic configs accepted and described back" % len(KAFKA_TOPIC_CONFIGS))

    for validate_only in (True, False):
        name = "gaps-unknown-%d" % validate_only
        futs = admin.create_topics(
            [NewTopic(name, 1, 1, config={"no.such.config": "1"})],
            validate_only=validate_only,
            request_timeout=15,
        )
        try:
            futs[name].result(timeout=20)
            fail("an unknown topic config was accepted (validate_only=%s)" % validate_only)
        except KafkaException as e:
            err = e.args[0]
            check(err.code() == 40, "unknown config (validate_only=%s): %s" % (validate_only, err))  # INVALID_CONFIG
            check("no.such.config" in err.str(), "message does not name the config: %s" % err.str())
    # A bad value is refused under validate_only too; a good set passes.
    futs = admin.create_topics(
        [NewTopic("gaps-bad-value", 1, 1, config={"max.compaction.lag.ms": "0"})], validate_only=True, request_timeout=15
    )
    try:
        futs["gaps-bad-value"].result(timeout=20)
        fail("max.compaction.lag.ms=0 was accepted")
    except KafkaException as e:
        check(e.args[0].code() == 40, "bad value: %s" % e.args[0])
    futs = admin.create_topics(
        [NewTopic("gaps-valid", 1, 1, config=KAFKA_TOPIC_CONFIGS)], validate_only=True, request_timeout=15
    )
    futs["gaps-valid"].result(timeout=20)
    check(admin.list_topics(timeout=10).topics.get("gaps-valid") is None, "validate_only created the topic")


SECTIONS = [fetch_max_bytes, topic_configs]


def body(ws):
    from confluent_kafka.admin import AdminClient

    col = ws.collector(sets=SETS)
    col.start()
    admin = AdminClient({"bootstrap.servers": col.broker})
    only = os.environ.get("TR_GAPS_ONLY")
    for section in SECTIONS:
        if only and section.__name__ not in only.split(","):
            continue
        note("--- %s" % section.__name__)
        section(col, admin)
    col.check_sanitizers()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
