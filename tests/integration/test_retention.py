#!/usr/bin/python3
"""Retention, DeleteRecords and topic config changes, with real clients.

1. A topic with small segments gets records, then retention.bytes through
   confluent_kafka's AdminClient.alter_configs (AlterConfigs, a full
   replacement, so segment.bytes is given again). Retention (checked every
   second here) deletes the oldest segments: the low watermark rises, and a
   consumer assigned at OFFSET_BEGINNING, or below the log start with
   auto.offset.reset=earliest, starts at the new log start.
2. DeleteRecords (raw v1 request: neither client library of this era has
   it) moves the log start into a segment; an offset past the high
   watermark gets OFFSET_OUT_OF_RANGE.
3. kafka-python's KafkaAdminClient.alter_configs sets retention.ms; a raw
   IncrementalAlterConfigs v0 APPENDs compact to cleanup.policy; a
   read-only broker setting is refused.
4. After a restart the log start has not gone back, and DescribeConfigs
   shows the new values with source DYNAMIC_TOPIC_CONFIG.
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, kstring, note  # noqa: E402

TOPIC = "retention-it"
SETS = {
    "num.partitions": "1",
    "log.retention.check.interval.ms": "1000",
    "log.segment.delete.delay.ms": "0",
    "log.cleaner.backoff.ms": "1000",
}


def watermarks(broker):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": "unused"})
    try:
        return c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10, cached=False)
    finally:
        c.close()


def first_offset(broker, start, reset="earliest"):
    """The offset of the first record a consumer assigned at 'start' gets."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": "unused",
            "enable.auto.commit": False,
            "auto.offset.reset": reset,
        }
    )
    try:
        c.assign([TopicPartition(TOPIC, 0, start)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                fail("consumer error: %s" % msg.error())
            return msg.offset()
        fail("no record within 30 s from offset %d" % start)
    finally:
        c.close()


def delete_records(port, offset, correlation_id=7):
    body = struct.pack(">i", 1) + kstring(TOPIC) + struct.pack(">iiqi", 1, 0, offset, 1) + struct.pack(">i", 10000)
    with harness.Conn(port) as c:
        c.send(harness.request(21, 1, correlation_id, body))
        resp = c.response(correlation_id)
    pos = 4  # ThrottleTimeMs
    (ntopics,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    (nlen,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + nlen
    (nparts, index, low, err) = struct.unpack_from(">iiqh", resp, pos)
    if ntopics != 1 or nparts != 1 or index != 0:
        fail("DeleteRecords response shape: %d topics, %d partitions" % (ntopics, nparts))
    return low, err


def incremental_alter(port, rtype, name, entries, correlation_id=9):
    """IncrementalAlterConfigs v0; entries [(key, op, value)]. Returns (err, msg)."""
    body = struct.pack(">i", 1) + struct.pack(">b", rtype) + kstring(name) + struct.pack(">i", len(entries))
    for key, op, value in entries:
        body += kstring(key) + struct.pack(">b", op) + kstring(value)
    body += b"\x00"  # ValidateOnly
    with harness.Conn(port) as c:
        c.send(harness.request(44, 0, correlation_id, body))
        resp = c.response(correlation_id)
    (n, err, mlen) = struct.unpack_from(">ihh", resp, 4)
    msg = resp[12 : 12 + mlen].decode() if mlen >= 0 else None
    if n != 1:
        fail("IncrementalAlterConfigs: %d results" % n)
    return err, msg


def describe(broker):
    from confluent_kafka.admin import AdminClient, ConfigResource

    a = AdminClient({"bootstrap.servers": broker})
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    return a.describe_configs([res])[res].result(timeout=30)


def body(ws):
    from confluent_kafka import OFFSET_BEGINNING
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    col = ws.collector(sets=SETS)
    col.start()
    admin = AdminClient({"bootstrap.servers": col.broker})
    fs = admin.create_topics([NewTopic(TOPIC, 1, 1, config={"segment.bytes": "16384"})])
    fs[TOPIC].result(timeout=30)
    value = b"x" * 200
    for b in range(10):
        harness.produce_records(col.broker, TOPIC, [(b"k%d" % i, value) for i in range(b * 100, b * 100 + 100)])
    lo, hi = watermarks(col.broker)
    check((lo, hi) == (0, 1000), "1000 records in, watermarks (%d, %d)" % (lo, hi))
    nsegs = len(harness.segment_files(col.partition_dir(TOPIC, 0)))
    check(nsegs >= 10, "the log spans %d segments" % nsegs)

    # 1. retention.bytes through AlterConfigs (confluent_kafka).
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, set_config={"segment.bytes": "16384", "retention.bytes": "65536"})
    admin.alter_configs([res])[res].result(timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lo, hi = watermarks(col.broker)
        if lo > 0:
            break
        time.sleep(0.5)
    check(lo > 0 and hi == 1000, "retention moved the log start to %d" % lo)
    time.sleep(1.5)  # another retention round may still run: settle
    lo, hi = watermarks(col.broker)
    sizes = [os.path.getsize(p) for p in harness.segment_files(col.partition_dir(TOPIC, 0))]
    # Whole segments go, oldest first, while the rest still holds the limit.
    check(sum(sizes) - sizes[0] < 65536 <= sum(sizes), "the partition holds %d bytes in %d segments, for retention.bytes 65536" % (sum(sizes), len(sizes)))
    check(not [p for p in os.listdir(col.partition_dir(TOPIC, 0)) if p.endswith(".deleted")], "deleted segments unlinked (delay 0)")
    check(first_offset(col.broker, OFFSET_BEGINNING) == lo, "OFFSET_BEGINNING starts at the log start %d" % lo)
    check(first_offset(col.broker, 3) == lo, "offset 3 is out of range and auto.offset.reset=earliest goes to %d" % lo)

    # 2. DeleteRecords.
    target = lo + 50
    low, err = delete_records(col.port, target)
    check((low, err) == (target, 0), "DeleteRecords to %d: low watermark %d, error %d" % (target, low, err))
    check(first_offset(col.broker, OFFSET_BEGINNING) == target, "a consumer now starts at %d" % target)
    low, err = delete_records(col.port, 5000)
    check(err == 1, "DeleteRecords past the high watermark: OFFSET_OUT_OF_RANGE (%d)" % err)

    # 3. kafka-python AlterConfigs, raw IncrementalAlterConfigs.
    from kafka.admin import ConfigResource as KConfigResource, ConfigResourceType, KafkaAdminClient

    kadmin = KafkaAdminClient(bootstrap_servers=col.broker, request_timeout_ms=30000)
    try:
        kadmin.alter_configs(
            [KConfigResource(ConfigResourceType.TOPIC, TOPIC, configs={"segment.bytes": "16384", "retention.bytes": "65536", "retention.ms": "86400000"})]
        )
    finally:
        kadmin.close()
    err, msg = incremental_alter(col.port, 2, TOPIC, [("cleanup.policy", 2, "compact")])
    check(err == 0, "IncrementalAlterConfigs APPEND cleanup.policy: error %d %s" % (err, msg))
    err, msg = incremental_alter(col.port, 2, TOPIC, [("retention.ms", 2, "5")])
    check(err == 42, "APPEND to a non-list config: INVALID_REQUEST (%d: %s)" % (err, msg))
    err, msg = incremental_alter(col.port, 2, TOPIC, [("no.such.key", 0, "5")])
    check(err == 40, "an unknown key: INVALID_CONFIG (%d: %s)" % (err, msg))
    err, msg = incremental_alter(col.port, 4, "0", [("num.network.threads", 0, "5")])
    check(err == 42 and msg == "Cannot update these configs dynamically: Set(num.network.threads)",
          "a read-only broker setting is refused: %d %s" % (err, msg))

    # 4. Restart: log start and configs hold.
    col.stop()
    col.start()
    lo2, hi2 = watermarks(col.broker)
    check((lo2, hi2) == (target, 1000), "after a restart watermarks are (%d, %d)" % (lo2, hi2))
    cfg = describe(col.broker)
    want = {"retention.ms": "86400000", "retention.bytes": "65536", "cleanup.policy": "delete,compact", "segment.bytes": "16384"}
    for key, value in want.items():
        e = cfg[key]
        check(e.value == value and e.source == 1, "%s = %s (source %d: DYNAMIC_TOPIC_CONFIG)" % (key, e.value, e.source))
    e = cfg["max.message.bytes"]
    check(e.source == 5, "max.message.bytes has source DEFAULT_CONFIG (%d)" % e.source)
    note("done")


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
