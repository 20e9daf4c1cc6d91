#!/usr/bin/python3
"""Behaviours real Kafka clients rely on, each checked as Kafka behaves.

One collector; each section covers one behaviour, with a real client where
the Debian clients (librdkafka 2.0.2 through confluent-kafka 1.7.0,
kafka-python 2.0.2) use it, and with raw frames on the wire where they do
not (newer versions: Produce v8, OffsetCommit/OffsetFetch v8, OffsetDelete,
ListOffsets v6-8, ListGroups v3-5, DescribeConfigs of a group):

- fetch_max_bytes: Fetch honours the request's total max_bytes (KIP-74);
  only the first batch of the first non-empty partition may exceed it. A
  librdkafka consumer with fetch.max.bytes 1 MB (and receive.message.max.bytes
  just above it) reads 12 partitions of 600 KB batches; raw Fetch v4 checks
  the sizes.
- topic_configs: every topic config name Kafka has is accepted (CreateTopics
  with Kafka's whole set, confluent-kafka's AdminClient) and described back;
  an unknown name is INVALID_CONFIG, also with validate_only.
- commit_unknown: OffsetCommit (every version) of an unknown topic or
  partition is UNKNOWN_TOPIC_OR_PARTITION (librdkafka, kafka-python, raw).
- metadata_round_trip: offset metadata comes back byte for byte for every
  OffsetCommit x OffsetFetch version, after a restart, and for kafka-python.
- record_errors: Produce v8 lists keyless records on a compacted topic.
- log_append_time: LogAppendTime topics (raw v8, librdkafka delivery
  reports and consumers, kafka-python); timestamp bounds (INVALID_TIMESTAMP).
- session_deadline: static librdkafka members' sessions end at the deadline.
- offset_delete: OffsetDelete, and OffsetFetch v8 with several groups.
- list_offsets_max: ListOffsets v7's MAX_TIMESTAMP, v8's EARLIEST_LOCAL.
- list_groups: ListGroups v0-v5 with filters (and kafka-python's admin),
  DescribeConfigs of a GROUP resource.

TR_GAPS_ONLY=section,section runs only those sections.
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


def read_array(resp, pos, flex):
    """An array length (compact from the first flexible version); (n, pos)."""
    if flex:
        n, pos = harness.read_uvarint(resp, pos)
        return n - 1, pos
    return struct.unpack_from(">i", resp, pos)[0], pos + 4


def read_string(resp, pos, flex):
    """A (nullable) string as bytes, compact when flexible; (bytes, pos)."""
    if flex:
        n, pos = harness.read_uvarint(resp, pos)
        n -= 1
    else:
        (n,) = struct.unpack_from(">h", resp, pos)
        pos += 2
    if n < 0:
        return None, pos
    return resp[pos : pos + n], pos + n


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


# ---------------------------------------------------------------------------
# OffsetCommit / OffsetFetch on the wire, every version served

def offset_commit_raw(port, version, group, offsets, generation=-1, member=""):
    """
    OffsetCommit v2-v8 (v8 flexible) of {(topic, partition): (offset,
    metadata bytes or None)}; returns {(topic, partition): error}.
    """
    flex = version >= 8

    def string(x):
        if not flex:
            return harness.kstring(x)
        if x is None:
            return b"\x00"
        return harness.compact_string(x)

    def arr(n):
        return harness.uvarint(n + 1) if flex else struct.pack(">i", n)

    tags = b"\x00" if flex else b""
    by_topic = {}
    for (t, p), v in offsets.items():
        by_topic.setdefault(t, []).append((p, v))
    body = string(group) + struct.pack(">i", generation) + string(member)
    if version >= 7:
        body += string(None)  # group_instance_id
    if version <= 4:
        body += struct.pack(">q", -1)  # retention_time_ms
    body += arr(len(by_topic))
    for t, parts in by_topic.items():
        body += string(t) + arr(len(parts))
        for p, (off, meta) in parts:
            body += struct.pack(">iq", p, off)
            if version >= 6:
                body += struct.pack(">i", -1)  # committed_leader_epoch
            body += string(meta) + tags
        body += tags
    body += tags
    resp = raw(port, 8, version, body, flexible=flex)
    pos = 4 if version >= 3 else 0

    out = {}
    nt, pos = read_array(resp, pos, flex)
    for _ in range(nt):
        t, pos = read_string(resp, pos, flex)
        t = t.decode()
        np, pos = read_array(resp, pos, flex)
        for _ in range(np):
            p, err = struct.unpack_from(">ih", resp, pos)
            pos += 6
            if flex:
                pos = harness.skip_tags(resp, pos)
            out[(t, p)] = err
        if flex:
            pos = harness.skip_tags(resp, pos)
    if flex:
        pos = harness.skip_tags(resp, pos)
    check(pos == len(resp), "OffsetCommit v%d: %d trailing bytes" % (version, len(resp) - pos))
    return out


def offset_fetch_raw(port, version, group, topic, partitions):
    """
    OffsetFetch v1-v8 of one topic; returns {partition: (offset, metadata
    bytes, error)} (error: the partition's, or the top-level one from v2,
    or the group's from v8).
    """
    if version >= 8:
        return offset_fetch_v8(port, [(group, topic, partitions)])[group]
    flex = version >= 6
    if flex:
        body = harness.compact_string(group) + harness.uvarint(2) + harness.compact_string(topic)
        body += harness.uvarint(len(partitions) + 1) + b"".join(struct.pack(">i", p) for p in partitions)
        body += b"\x00"  # topic tags
        if version >= 7:
            body += b"\x00"  # require_stable
        body += b"\x00"
    else:
        body = harness.kstring(group) + struct.pack(">i", 1) + harness.kstring(topic)
        body += struct.pack(">i", len(partitions)) + b"".join(struct.pack(">i", p) for p in partitions)
    resp = raw(port, 9, version, body, flexible=flex)
    pos = 4 if version >= 3 else 0
    out = {}
    nt, pos = read_array(resp, pos, flex)
    for _ in range(nt):
        _t, pos = read_string(resp, pos, flex)
        np, pos = read_array(resp, pos, flex)
        for _ in range(np):
            p, off = struct.unpack_from(">iq", resp, pos)
            pos += 12
            if version >= 5:
                pos += 4
            meta, pos = read_string(resp, pos, flex)
            (err,) = struct.unpack_from(">h", resp, pos)
            pos += 2
            if flex:
                pos = harness.skip_tags(resp, pos)
            out[p] = (off, meta, err)
        if flex:
            pos = harness.skip_tags(resp, pos)
    if version >= 2:
        (top,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        for p, (off, meta, err) in out.items():
            out[p] = (off, meta, err or top)
    if flex:
        pos = harness.skip_tags(resp, pos)
    check(pos == len(resp), "OffsetFetch v%d: %d trailing bytes" % (version, len(resp) - pos))
    return out


def offset_fetch_v8(port, asks):
    """
    OffsetFetch v8 of several groups [(group, topic or None, partitions)];
    returns {group: {partition: (offset, metadata bytes, error)}} (a null
    topic asks for every committed offset: keys are then (topic, partition)).
    """
    body = harness.uvarint(len(asks) + 1)
    for group, topic, partitions in asks:
        body += harness.compact_string(group)
        if topic is None:
            body += b"\x00"
        else:
            body += harness.uvarint(2) + harness.compact_string(topic)
            body += harness.uvarint(len(partitions) + 1) + b"".join(struct.pack(">i", p) for p in partitions)
            body += b"\x00"
        body += b"\x00"
    body += b"\x00" + b"\x00"  # require_stable, tags
    resp = raw(port, 9, 8, body, flexible=True)
    pos = 4
    out = {}

    def string(pos):
        return read_string(resp, pos, True)

    ng, pos = harness.read_uvarint(resp, pos)
    for gi in range(ng - 1):
        g, pos = string(pos)
        got = {}
        nt, pos = harness.read_uvarint(resp, pos)
        for _ in range(nt - 1):
            t, pos = string(pos)
            np, pos = harness.read_uvarint(resp, pos)
            for _ in range(np - 1):
                p, off, _epoch = struct.unpack_from(">iqi", resp, pos)
                meta, pos = string(pos + 16)
                (err,) = struct.unpack_from(">h", resp, pos)
                pos = harness.skip_tags(resp, pos + 2)
                got[p if asks[gi][1] is not None else (t.decode(), p)] = (off, meta, err)
            pos = harness.skip_tags(resp, pos)
        (gerr,) = struct.unpack_from(">h", resp, pos)
        pos = harness.skip_tags(resp, pos + 2)
        out[g.decode()] = {k: (o, m, e or gerr) for k, (o, m, e) in got.items()} if got else {"error": gerr}
    pos = harness.skip_tags(resp, pos)
    check(pos == len(resp), "OffsetFetch v8: %d trailing bytes" % (len(resp) - pos))
    return out


def api_range(port, key):
    _err, keys = harness.api_versions_v0(port)
    return keys[key]


# ---------------------------------------------------------------------------
# OffsetCommit for a topic or partition that does not exist

def commit_unknown(col, admin):
    topic = "gaps-commit"
    create_topic(admin, topic, 2)
    lo, hi = api_range(col.port, 8)
    for v in range(lo, hi + 1):
        got = offset_commit_raw(
            col.port, v, "gaps-commit-raw-%d" % v,
            {(topic, 0): (5, b"m"), (topic, 2): (5, b"m"), ("gaps-no-such-topic", 0): (5, b"m")},
        )
        check(got[(topic, 0)] == 0, "OffsetCommit v%d of an existing partition: %r" % (v, got))
        check(got[(topic, 2)] == 3, "OffsetCommit v%d of partition 2 of 2: %r" % (v, got))
        check(got[("gaps-no-such-topic", 0)] == 3, "OffsetCommit v%d of an unknown topic: %r" % (v, got))
        fetched = offset_fetch_raw(col.port, 1, "gaps-commit-raw-%d" % v, topic, [0, 2])
        check(fetched[0][0] == 5 and fetched[2][0] == -1, "after v%d commits: %r" % (v, fetched))
    note("OffsetCommit v%d-v%d: UNKNOWN_TOPIC_OR_PARTITION for what does not exist" % (lo, hi))

    # librdkafka reports the partition's error to on_commit (both clients
    # retry a synchronous commit on this retriable error, as with Kafka).
    from confluent_kafka import Consumer, TopicPartition

    results = []
    c = Consumer(
        {
            "bootstrap.servers": col.broker,
            "group.id": "gaps-commit-rdkafka",
            "enable.auto.commit": False,
            "on_commit": lambda err, parts: results.append((err, parts)),
        }
    )
    try:
        c.commit(offsets=[TopicPartition("gaps-no-such-topic", 0, 7), TopicPartition(topic, 1, 9)], asynchronous=True)
        deadline = harness.time.monotonic() + 30
        while not results and harness.time.monotonic() < deadline:
            c.poll(0.2)
        check(results, "librdkafka: no commit result")
        errs = {tp.topic: tp.error.code() if tp.error else 0 for tp in results[0][1]}
        check(errs.get("gaps-no-such-topic") == 3, "librdkafka commit: %r" % (results,))
        # (librdkafka marks every partition with the first error; the
        # existing one was committed all the same.)
        fetched = offset_fetch_raw(col.port, 1, "gaps-commit-rdkafka", topic, [1])
        check(fetched[1][0] == 9, "librdkafka's commit of %s-1: %r" % (topic, fetched))
    finally:
        c.close()

    # kafka-python: the commit callback gets the error.
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.errors import UnknownTopicOrPartitionError
    from kafka.structs import OffsetAndMetadata

    kc = KafkaConsumer(bootstrap_servers=col.broker, group_id="gaps-commit-kp", enable_auto_commit=False)
    try:
        kc.commit({KTP(topic, 0): OffsetAndMetadata(7, "")})  # connects
        out = []
        deadline = harness.time.monotonic() + 30
        while harness.time.monotonic() < deadline and not (out and isinstance(out[-1], UnknownTopicOrPartitionError)):
            kc.commit_async({KTP("gaps-no-such-topic", 0): OffsetAndMetadata(7, "")}, callback=lambda o, r: out.append(r))
            n = len(out)
            while len(out) == n and harness.time.monotonic() < deadline:
                kc.poll(200)
        out = out[-1:]
        check(out and isinstance(out[0], UnknownTopicOrPartitionError), "kafka-python commit: %r" % out)
    finally:
        kc.close()
    note("librdkafka and kafka-python see UNKNOWN_TOPIC_OR_PARTITION")


# ---------------------------------------------------------------------------
# Offset metadata round trip, byte for byte

METADATA = [
    b"",
    b"plain",
    "caf\u00e9 \u2603 \U0001F600".encode(),
    b"nul\x00inside\x00",
    b"x" * 3000,
]


def metadata_round_trip(col, admin):
    topic = "gaps-meta"
    create_topic(admin, topic, len(METADATA))
    clo, chi = api_range(col.port, 8)
    flo, fhi = api_range(col.port, 9)
    for cv in range(clo, chi + 1):
        group = "gaps-meta-%d" % cv
        got = offset_commit_raw(col.port, cv, group, {(topic, p): (10 + p, m) for p, m in enumerate(METADATA)})
        check(all(e == 0 for e in got.values()), "OffsetCommit v%d: %r" % (cv, got))
        for fv in range(flo, fhi + 1):
            fetched = offset_fetch_raw(col.port, fv, group, topic, list(range(len(METADATA))))
            for p, m in enumerate(METADATA):
                off, meta, err = fetched[p]
                check(err == 0 and off == 10 + p, "v%d/v%d partition %d: %r" % (cv, fv, p, fetched[p]))
                check(meta == m, "metadata committed with v%d, fetched with v%d: %r, not %r" % (cv, fv, meta[:40], m[:40]))
    # The same after a restart (read back from __consumer_offsets).
    col.stop()
    col.restart()
    for cv in (clo, chi):
        fetched = offset_fetch_raw(col.port, fhi, "gaps-meta-%d" % cv, topic, list(range(len(METADATA))))
        check([fetched[p][1] for p in range(len(METADATA))] == METADATA, "after a restart: %r" % fetched)
    # A null metadata comes back empty, as Kafka stores it.
    offset_commit_raw(col.port, chi, "gaps-meta-null", {(topic, 0): (1, None)})
    check(offset_fetch_raw(col.port, fhi, "gaps-meta-null", topic, [0])[0][1] == b"", "null metadata")
    note("metadata round trip: OffsetCommit v%d-v%d x OffsetFetch v%d-v%d" % (clo, chi, flo, fhi))

    # Real clients: kafka-python commits and reads back through the
    # group coordinator; librdkafka's committed() checks the offsets.
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.admin import KafkaAdminClient
    from kafka.structs import OffsetAndMetadata

    texts = ["", "plain", "caf\u00e9 \u2603 \U0001F600", "nul\x00inside"]
    kc = KafkaConsumer(bootstrap_servers=col.broker, group_id="gaps-meta-kp", enable_auto_commit=False)
    try:
        kc.commit({KTP(topic, p): OffsetAndMetadata(20 + p, m) for p, m in enumerate(texts)})
    finally:
        kc.close()
    ka = KafkaAdminClient(bootstrap_servers=col.broker)
    try:
        offs = ka.list_consumer_group_offsets("gaps-meta-kp")
    finally:
        ka.close()
    for p, m in enumerate(texts):
        om = offs[KTP(topic, p)]
        check(om.offset == 20 + p and om.metadata == m, "kafka-python partition %d: %r, not %r" % (p, om, m))
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": col.broker, "group.id": "gaps-meta-kp"})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(len(texts))], timeout=10)
        check([tp.offset for tp in got] == [20 + p for p in range(len(texts))], "librdkafka committed: %r" % got)
    finally:
        c.close()
    note("kafka-python metadata round trip; librdkafka reads the offsets")


# ---------------------------------------------------------------------------
# Produce v8 record_errors (KIP-467); LogAppendTime; timestamp bounds

def parse_produce_v8(resp):
    """Returns {partition: (error, base, log_append_time, [(index, msg)], msg)}."""
    pos = 0
    out = {}

    def nstring(pos):
        (n,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        if n < 0:
            return None, pos
        return resp[pos : pos + n].decode(), pos + n

    (nt,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    for _ in range(nt):
        _t, pos = nstring(pos)
        (np,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(np):
            p, err, base, lat, _lso = struct.unpack_from(">ihqqq", resp, pos)
            pos += 30
            (nr,) = struct.unpack_from(">i", resp, pos)
            pos += 4
            recs = []
            for _ in range(nr):
                (bi,) = struct.unpack_from(">i", resp, pos)
                msg, pos = nstring(pos + 4)
                recs.append((bi, msg))
            msg, pos = nstring(pos)
            out[p] = (err, base, lat, recs, msg)
    pos += 4  # throttle_time_ms
    check(pos == len(resp), "Produce v8: %d trailing bytes" % (len(resp) - pos))
    return out


def record_errors(col, admin):
    topic = "gaps-compacted"
    create_topic(admin, topic, 1, {"cleanup.policy": "compact"})
    recs = [(b"k0", b"v", []), (None, b"v", []), (b"k2", b"v", []), (None, b"v", []), (b"k4", b"v", [])]
    got = parse_produce_v8(produce_raw(col.port, topic, 0, harness.record_batch(recs), version=8))[0]
    err, base, _lat, errs, msg = got
    check(err == 87, "keyless records, Produce v8: error %d, not INVALID_RECORD" % err)  # INVALID_RECORD
    check([i for i, _ in errs] == [1, 3], "record_errors %r, not batch indexes 1 and 3" % errs)
    check(all("without key" in (m or "") for _, m in errs), "record error messages: %r" % errs)
    check(msg and "2 record errors" in msg, "error_message: %r" % msg)
    check(base == -1, "base offset %d for a refused batch" % base)
    # Nothing was written; a valid batch goes in at offset 0. v7 (what the
    # Debian clients send) still answers CORRUPT_MESSAGE, as Kafka does.
    res = harness.parse_produce_v7_response(produce_raw(col.port, topic, 0, harness.record_batch(recs)))
    check(res[0][2] == 2, "keyless records, Produce v7: error %d" % res[0][2])
    got = parse_produce_v8(produce_raw(col.port, topic, 0, harness.record_batch([(b"a", b"1", [])]), version=8))[0]
    check(got[0] == 0 and got[1] == 0 and got[3] == [] and got[4] is None, "a valid batch: %r" % (got,))
    note("Produce v8: record_errors %r, error_message %r" % (errs, msg[:60]))


def log_append_time(col, admin):
    from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, Producer

    topic = "gaps-append-time"
    create_topic(admin, topic, 1, {"message.timestamp.type": "LogAppendTime"})
    old = int(harness.time.time() * 1000) - 10 * 86400 * 1000
    before = int(harness.time.time() * 1000)
    # Raw v8: the response carries the append time.
    got = parse_produce_v8(
        produce_raw(col.port, topic, 0, harness.record_batch([(b"a", b"1", []), (b"b", b"2", [])], base_timestamp=old), version=8)
    )[0]
    after = int(harness.time.time() * 1000)
    check(got[0] == 0 and before <= got[2] <= after, "log_append_time %r not within [%d, %d]" % (got, before, after))
    # librdkafka produces with a CreateTime ten days old.
    p = Producer({"bootstrap.servers": col.broker, "acks": "all"})
    dr = []
    p.produce(topic, key=b"c", value=b"3", partition=0, timestamp=old, on_delivery=lambda e, m: dr.append((e, m.timestamp())))
    p.flush(30)
    check(dr and dr[0][0] is None, "librdkafka produce: %r" % dr)
    check(dr[0][1][0] == TIMESTAMP_LOG_APPEND_TIME and dr[0][1][1] >= before,
          "librdkafka's delivery report timestamp %r" % (dr[0][1],))
    # Consumers see the append time, typed LogAppendTime.
    _lo, _hi, msgs = harness.read_partition(col.broker, topic)
    check(len(msgs) == 3, "read %d records" % len(msgs))
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": col.broker, "group.id": "gaps-lat", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        seen = []
        deadline = harness.time.monotonic() + 30
        while len(seen) < 3 and harness.time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                seen.append(m.timestamp())
    finally:
        c.close()
    check(len(seen) == 3, "librdkafka consumer read %d records" % len(seen))
    for ts in seen:
        check(ts[0] == TIMESTAMP_LOG_APPEND_TIME and before <= ts[1] <= int(harness.time.time() * 1000),
              "librdkafka consumer timestamp %r (producer's was %d)" % (ts, old))
    from kafka import KafkaConsumer, TopicPartition as KTP

    kc = KafkaConsumer(bootstrap_servers=col.broker, enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        kc.assign([KTP(topic, 0)])
        kc.seek(KTP(topic, 0), 0)
        krecs = [m for _, ms in kc.poll(timeout_ms=5000).items() for m in ms]
    finally:
        kc.close()
    check(krecs and all(m.timestamp_type == 1 and m.timestamp >= before for m in krecs),
          "kafka-python timestamps %r" % [(m.timestamp_type, m.timestamp) for m in krecs])
    # A CreateTime topic keeps the producer's time.
    check(TIMESTAMP_CREATE_TIME != TIMESTAMP_LOG_APPEND_TIME, "constants")
    note("LogAppendTime: append time in the Produce response, librdkafka and kafka-python consumers")

    # message.timestamp.difference.max.ms, and Kafka 3.6's before/after.
    for name, config, bad, good in (
        ("gaps-ts-diff", {"message.timestamp.difference.max.ms": "3600000"}, -7200 * 1000, -1800 * 1000),
        ("gaps-ts-before", {"message.timestamp.before.max.ms": "3600000"}, -7200 * 1000, 7200 * 1000),
        ("gaps-ts-after", {"message.timestamp.after.max.ms": "3600000"}, 7200 * 1000, -7200 * 1000),
    ):
        create_topic(admin, name, 1, config)
        now = int(harness.time.time() * 1000)
        got = parse_produce_v8(produce_raw(col.port, name, 0, harness.record_batch([(b"a", b"1", [])], base_timestamp=now + bad), version=8))[0]
        check(got[0] == 32, "%s: error %r, not INVALID_TIMESTAMP" % (name, got))
        check([i for i, _ in got[3]] == [0] and "out of range" in got[3][0][1], "%s: record errors %r" % (name, got[3]))
        got = parse_produce_v8(produce_raw(col.port, name, 0, harness.record_batch([(b"a", b"1", [])], base_timestamp=now + good), version=8))[0]
        check(got[0] == 0, "%s: a timestamp within bounds refused: %r" % (name, got))
        dr = []
        p.produce(name, key=b"x", value=b"y", partition=0, timestamp=now + bad, on_delivery=lambda e, m: dr.append(e))
        p.flush(30)
        check(dr and dr[0] is not None and dr[0].code() == 32, "%s: librdkafka got %r" % (name, dr))
    note("message.timestamp.difference/before/after.max.ms: INVALID_TIMESTAMP (raw v8 and librdkafka)")


# ---------------------------------------------------------------------------
# Static members' sessions end at their deadline

def session_deadline(col, admin):
    from confluent_kafka import Consumer
    from kafka.admin import KafkaAdminClient

    topic = "gaps-static"
    group = "gaps-static-group"
    session_ms = 6000
    create_topic(admin, topic, 2)
    consumers = []
    for i in range(2):
        c = Consumer(
            {
                "bootstrap.servers": col.broker,
                "group.id": group,
                "group.instance.id": "gaps-static-%d" % i,
                "session.timeout.ms": session_ms,
                "heartbeat.interval.ms": 500,
            }
        )
        c.subscribe([topic])
        consumers.append(c)
    deadline = harness.time.monotonic() + 60
    while not all(c.assignment() for c in consumers):
        check(harness.time.monotonic() < deadline, "static members got no assignment")
        for c in consumers:
            c.poll(0.1)
    # Static members leave no LeaveGroup behind: their sessions must end.
    # (They commit first, so that the empty group stays to be deleted.)
    from confluent_kafka import TopicPartition

    for c in consumers:
        c.commit(offsets=[TopicPartition(tp.topic, tp.partition, 0) for tp in c.assignment()], asynchronous=False)
    for c in consumers:
        c.close()
    closed = harness.time.monotonic()
    ka = KafkaAdminClient(bootstrap_servers=col.broker)
    try:
        # Clients wait session timeout + 1 s; the deadline itself is enough.
        harness.time.sleep(session_ms / 1000.0 + 0.25 - (harness.time.monotonic() - closed))
        res = ka.delete_consumer_groups([group])
        check(res == [(group, None)] or all(getattr(e, "errno", 0) == 0 for _, e in res),
              "DeleteGroups session timeout + 0.25 s after the close: %r" % (res,))
    finally:
        ka.close()
    note("static members gone by session timeout + 0.25 s: DeleteGroups %r" % (res,))


# ---------------------------------------------------------------------------
# OffsetDelete; OffsetFetch v8 with several groups

def offset_delete_raw(port, group, parts):
    """OffsetDelete v0 of [(topic, partition)]; returns (error, {(t, p): error})."""
    by_topic = {}
    for t, p in parts:
        by_topic.setdefault(t, []).append(p)
    body = harness.kstring(group) + struct.pack(">i", len(by_topic))
    for t, ps in by_topic.items():
        body += harness.kstring(t) + struct.pack(">i", len(ps)) + b"".join(struct.pack(">i", p) for p in ps)
    resp = raw(port, 47, 0, body)
    err, _throttle, nt = struct.unpack_from(">hii", resp, 0)
    pos = 10
    out = {}
    for _ in range(nt):
        (tl,) = struct.unpack_from(">h", resp, pos)
        t = resp[pos + 2 : pos + 2 + tl].decode()
        pos += 2 + tl
        (np,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(np):
            p, e = struct.unpack_from(">ih", resp, pos)
            pos += 6
            out[(t, p)] = e
    check(pos == len(resp), "OffsetDelete: %d trailing bytes" % (len(resp) - pos))
    return err, out


def offset_delete(col, admin):
    from confluent_kafka import Consumer, TopicPartition

    topic, other = "gaps-odel", "gaps-odel-other"
    create_topic(admin, topic, 3)
    create_topic(admin, other, 1)
    for g in ("gaps-odel-a", "gaps-odel-b"):
        got = offset_commit_raw(col.port, 8, g, {(topic, p): (100 + p, b"m%d" % p) for p in range(3)})
        check(all(e == 0 for e in got.values()), "commit v8: %r" % got)
    # OffsetFetch v8: several groups in one request, one of them for all.
    got = offset_fetch_v8(col.port, [("gaps-odel-a", topic, [0, 1, 2]), ("gaps-odel-b", None, []), ("gaps-odel-none", topic, [0])])
    check(got["gaps-odel-a"] == {p: (100 + p, b"m%d" % p, 0) for p in range(3)}, "group a: %r" % got["gaps-odel-a"])
    check(got["gaps-odel-b"] == {(topic, p): (100 + p, b"m%d" % p, 0) for p in range(3)}, "group b (all): %r" % got["gaps-odel-b"])
    check(got["gaps-odel-none"] == {0: (-1, b"", 0)}, "a group with no offsets: %r" % got["gaps-odel-none"])
    note("OffsetFetch v8 with 3 groups: %r" % sorted(got))

    # An empty group: offsets go, unknown partitions say so.
    err, parts = offset_delete_raw(col.port, "gaps-odel-a", [(topic, 0), (topic, 1), (topic, 9), ("gaps-no-such-topic", 0)])
    check(err == 0, "OffsetDelete of an empty group: error %d" % err)
    check(parts == {(topic, 0): 0, (topic, 1): 0, (topic, 9): 3, ("gaps-no-such-topic", 0): 3}, "OffsetDelete: %r" % parts)
    left = offset_fetch_raw(col.port, 8, "gaps-odel-a", topic, [0, 1, 2])
    check(left[0][0] == -1 and left[1][0] == -1 and left[2][0] == 102, "after OffsetDelete: %r" % left)
    err, _ = offset_delete_raw(col.port, "gaps-odel-nobody", [(topic, 0)])
    check(err == 69, "OffsetDelete of an unknown group: error %d, not GROUP_ID_NOT_FOUND" % err)

    # A consumer group with a member: the topic it subscribes to is kept.
    group = "gaps-odel-live"
    offset_commit_raw(col.port, 8, group, {(other, 0): (5, b"")})
    c = Consumer({"bootstrap.servers": col.broker, "group.id": group, "enable.auto.commit": False,
                  "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        deadline = harness.time.monotonic() + 60
        while not c.assignment():
            check(harness.time.monotonic() < deadline, "the consumer got no assignment")
            c.poll(0.1)
        c.commit(offsets=[TopicPartition(topic, p, 7) for p in range(3)], asynchronous=False)
        err, parts = offset_delete_raw(col.port, group, [(topic, 0), (other, 0)])
        check(err == 0 and parts == {(topic, 0): 86, (other, 0): 0}, "OffsetDelete of a live group: %d %r" % (err, parts))
    finally:
        c.close()
    left = offset_fetch_raw(col.port, 8, group, other, [0])
    check(left[0][0] == -1, "offset of the unsubscribed topic: %r" % left)
    # Deleted offsets stay deleted after a restart (tombstones).
    col.stop()
    col.restart()
    left = offset_fetch_raw(col.port, 8, "gaps-odel-a", topic, [0, 1, 2])
    check(left[0][0] == -1 and left[2][0] == 102, "after a restart: %r" % left)
    note("OffsetDelete: deletes, GROUP_SUBSCRIBED_TO_TOPIC, GROUP_ID_NOT_FOUND, kept across a restart")


# ---------------------------------------------------------------------------
# ListOffsets v6-v8: MAX_TIMESTAMP (-3), EARLIEST_LOCAL (-4)

def batch_with_times(base_ts, deltas):
    """A RecordBatch v2 of len(deltas) keyed records at base_ts + delta."""
    body = bytearray()
    for i, d in enumerate(deltas):
        r = bytearray(b"\x00") + harness.varint(d) + harness.varint(i)
        r += harness.varint(2) + b"k%d" % (i % 10) + harness.varint(1) + b"v" + harness.varint(0)
        body += harness.varint(len(r)) + r
    after_crc = struct.pack(">hiqqqhii", 0, len(deltas) - 1, base_ts, base_ts + max(deltas), -1, -1, -1, len(deltas)) + bytes(body)
    return struct.pack(">qiiBI", 0, 4 + 1 + 4 + len(after_crc), -1, 2, harness.crc32c(after_crc)) + after_crc


def list_offsets_raw(port, version, topic, partition, timestamp):
    """ListOffsets v1-v8 of one partition; returns (error, timestamp, offset)."""
    flex = version >= 6
    body = struct.pack(">i", -1)
    if version >= 2:
        body += struct.pack(">b", 0)
    part = struct.pack(">i", partition) + (struct.pack(">i", -1) if version >= 4 else b"") + struct.pack(">q", timestamp)
    if flex:
        body += harness.uvarint(2) + harness.compact_string(topic) + harness.uvarint(2) + part + b"\x00" + b"\x00" + b"\x00"
    else:
        body += struct.pack(">i", 1) + harness.kstring(topic) + struct.pack(">i", 1) + part
    resp = raw(port, 2, version, body, flexible=flex)
    pos = 4 if version >= 2 else 0
    if flex:
        _n, pos = harness.read_uvarint(resp, pos)
        n, pos = harness.read_uvarint(resp, pos)
        pos += n - 1
        _n, pos = harness.read_uvarint(resp, pos)
    else:
        (tl,) = struct.unpack_from(">h", resp, pos + 4)
        pos += 4 + 2 + tl + 4
    _p, err, ts, off = struct.unpack_from(">ihqq", resp, pos)
    pos += 22 + (4 if version >= 4 else 0)
    if flex:
        pos = harness.skip_tags(resp, pos)
        pos = harness.skip_tags(resp, pos)
        pos = harness.skip_tags(resp, pos)
    check(pos == len(resp), "ListOffsets v%d: %d trailing bytes" % (version, len(resp) - pos))
    return err, ts, off


def list_offsets_max(col, admin):
    topic = "gaps-maxts"
    create_topic(admin, topic, 1)
    t0 = int(harness.time.time() * 1000) - 60000
    # Offsets 0-2 (max at offset 1: t0+9000), 3 (t0+5000), 4-5 (t0+20, t0+30).
    for b in (batch_with_times(t0, [0, 9000, 100]), batch_with_times(t0 + 5000, [0]), batch_with_times(t0 + 20, [0, 10])):
        res = harness.parse_produce_v7_response(produce_raw(col.port, topic, 0, b))
        check(res[0][2] == 0, "produce: %r" % res)
    lo, hi = api_range(col.port, 2)
    check(hi >= 7, "ListOffsets v%d-v%d advertised" % (lo, hi))
    for v in range(max(lo, 7), hi + 1):
        got = list_offsets_raw(col.port, v, topic, 0, -3)
        check(got == (0, t0 + 9000, 1), "ListOffsets v%d MAX_TIMESTAMP: %r, not offset 1 at %d" % (v, got, t0 + 9000))
    for v in range(lo, hi + 1):
        check(list_offsets_raw(col.port, v, topic, 0, -1)[2] == 6, "ListOffsets v%d latest" % v)
        check(list_offsets_raw(col.port, v, topic, 0, -2)[2] == 0, "ListOffsets v%d earliest" % v)
        got = list_offsets_raw(col.port, v, topic, 0, t0 + 100)
        check(got[1:] == (t0 + 9000, 1), "ListOffsets v%d by time (the first record at or after): %r" % (v, got))
    if hi >= 8:
        check(list_offsets_raw(col.port, 8, topic, 0, -4)[:1] + list_offsets_raw(col.port, 8, topic, 0, -4)[2:] == (0, 0),
              "ListOffsets v8 EARLIEST_LOCAL")
    empty = "gaps-maxts-empty"
    create_topic(admin, empty, 1)
    check(list_offsets_raw(col.port, 7, empty, 0, -3) == (0, -1, -1), "MAX_TIMESTAMP of an empty partition")
    # librdkafka's offsets_for_times (ListOffsets v1-5) still finds records.
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": col.broker, "group.id": "gaps-maxts"})
    try:
        got = c.offsets_for_times([TopicPartition(topic, 0, t0 + 5000)], timeout=10)
        check(got[0].offset == 1, "librdkafka offsets_for_times: %r" % got)
    finally:
        c.close()
    note("ListOffsets v%d-v%d: MAX_TIMESTAMP is offset 1 (the record at t0+9000 inside a batch)" % (lo, hi))


# ---------------------------------------------------------------------------
# ListGroups v0-v5 (state and type filters); DescribeConfigs of a group

def list_groups_raw(port, version, states=(), types=()):
    """ListGroups v0-v5; returns (error, [(group, protocol_type, state, type)])."""
    flex = version >= 3

    def strings(xs):
        return harness.uvarint(len(xs) + 1) + b"".join(harness.compact_string(x) for x in xs)

    body = b""
    if version >= 4:
        body += strings(states)
    if version >= 5:
        body += strings(types)
    if flex:
        body += b"\x00"
    resp = raw(port, 16, version, body, flexible=flex)
    pos = 4 if version >= 1 else 0
    (err,) = struct.unpack_from(">h", resp, pos)
    pos += 2

    def string(pos):
        x, pos = read_string(resp, pos, flex)
        return x.decode(), pos

    n, pos = read_array(resp, pos, flex)
    out = []
    for _ in range(n):
        g, pos = string(pos)
        pt, pos = string(pos)
        st = ty = None
        if version >= 4:
            st, pos = string(pos)
        if version >= 5:
            ty, pos = string(pos)
        if flex:
            pos = harness.skip_tags(resp, pos)
        out.append((g, pt, st, ty))
    if flex:
        pos = harness.skip_tags(resp, pos)
    check(pos == len(resp), "ListGroups v%d: %d trailing bytes" % (version, len(resp) - pos))
    return err, out


def describe_group_configs_raw(port, group):
    """DescribeConfigs v3 of a GROUP resource (32); returns (error, {name: value})."""
    body = struct.pack(">i", 1) + struct.pack(">b", 32) + harness.kstring(group) + struct.pack(">i", -1)
    body += struct.pack(">bb", 0, 0)
    resp = raw(port, 32, 3, body)
    pos = 4 + 4
    err, = struct.unpack_from(">h", resp, pos)
    pos += 2
    (ml,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + max(ml, 0) + 1
    (nl,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + nl
    (n,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    out = {}
    for _ in range(n):
        (kl,) = struct.unpack_from(">h", resp, pos)
        k = resp[pos + 2 : pos + 2 + kl].decode()
        pos += 2 + kl
        (vl,) = struct.unpack_from(">h", resp, pos)
        val = resp[pos + 2 : pos + 2 + vl].decode() if vl >= 0 else None
        pos += 2 + max(vl, 0)
        pos += 1 + 1 + 1 + 4 + 1  # read_only, source, sensitive, synonyms, type
        (dl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + max(dl, 0)
        out[k] = val
    return err, out


def list_groups(col, admin):
    from confluent_kafka import Consumer

    topic = "gaps-lg"
    create_topic(admin, topic, 1)
    offset_commit_raw(col.port, 8, "gaps-lg-empty", {(topic, 0): (1, b"")})
    c = Consumer({"bootstrap.servers": col.broker, "group.id": "gaps-lg-live", "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        deadline = harness.time.monotonic() + 60
        while not c.assignment():
            check(harness.time.monotonic() < deadline, "no assignment")
            c.poll(0.1)
        lo, hi = api_range(col.port, 16)
        check(hi >= 5, "ListGroups v%d-v%d advertised" % (lo, hi))
        for v in range(lo, hi + 1):
            err, groups = list_groups_raw(col.port, v)
            names = {g[0]: g for g in groups}
            check(err == 0 and "gaps-lg-empty" in names and "gaps-lg-live" in names, "ListGroups v%d: %r" % (v, groups))
            if v >= 4:
                check(names["gaps-lg-live"][2] == "Stable" and names["gaps-lg-empty"][2] == "Empty", "v%d states: %r" % (v, groups))
            if v >= 5:
                check(all(g[3] == "classic" for g in groups), "v%d types: %r" % (v, groups))
        err, groups = list_groups_raw(col.port, 4, states=["stable"])
        check([g[0] for g in groups if g[0].startswith("gaps-lg")] == ["gaps-lg-live"], "states filter: %r" % groups)
        err, groups = list_groups_raw(col.port, 5, states=["Empty"], types=["Classic"])
        check("gaps-lg-empty" in [g[0] for g in groups] and "gaps-lg-live" not in [g[0] for g in groups], "both filters: %r" % groups)
        err, groups = list_groups_raw(col.port, 5, types=["consumer"])
        check(groups == [], "types filter 'consumer': %r" % groups)
        # kafka-python's admin client (ListGroups v2).
        from kafka.admin import KafkaAdminClient

        ka = KafkaAdminClient(bootstrap_servers=col.broker)
        try:
            listed = [g for g, _ in ka.list_consumer_groups()]
        finally:
            ka.close()
        check("gaps-lg-live" in listed and "gaps-lg-empty" in listed, "kafka-python list_consumer_groups: %r" % listed)
    finally:
        c.close()
    err, configs = describe_group_configs_raw(col.port, "gaps-lg-live")
    check(err == 0 and configs.get("consumer.session.timeout.ms") == "45000"
          and configs.get("consumer.heartbeat.interval.ms") == "5000", "DescribeConfigs GROUP: %d %r" % (err, configs))
    note("ListGroups v%d-v%d with state and type filters; DescribeConfigs GROUP: %s" % (lo, hi, sorted(configs)))


SECTIONS = [fetch_max_bytes, topic_configs, commit_unknown, metadata_round_trip, record_errors, log_append_time,
            session_deadline, offset_delete, list_offsets_max, list_groups]


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
