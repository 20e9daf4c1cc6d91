#!/usr/bin/python3
"""Log compaction end to end, with librdkafka producing and consuming.

A topic with cleanup.policy=compact, segment.bytes 1 MiB,
min.cleanable.dirty.ratio 0.01 and a small delete.retention.ms gets
100,000 updates over 1,000 keys (gzip batches), then tombstones for every
tenth key. The cleaner (backoff 500 ms) compacts the closed segments; the
test polls, bounded, until a read from the beginning returns far fewer
records than were written. Then, read from the beginning, the partition
must hold exactly the last value of every live key (checked against what
the producer sent), no value for a deleted key, offsets increasing, and the
same after a restart. A record without a key is refused.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "compaction-it"
KEYS = 1000
UPDATES = 100000
SETS = {"num.partitions": "1", "log.cleaner.backoff.ms": "500"}
CONFIG = {
    "cleanup.policy": "compact",
    "segment.bytes": "1048576",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "100",
}


def produce(broker, records):
    """Produces [(key, value or None)] in order (one partition, idempotent)."""
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": broker,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "gzip",
            "linger.ms": 20,
            "message.timeout.ms": 120000,
        }
    )
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for key, value in records:
        while True:
            try:
                p.produce(TOPIC, key=key, value=value, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(120)
    if left or errors:
        fail("produce: %d not flushed, errors: %s" % (left, "; ".join(errors[:5])))


def fold(records):
    """The state a consumer rebuilds: key -> last value, tombstones delete."""
    state = {}
    last = -1
    for off, key, value in records:
        if off <= last:
            fail("offsets go backwards: %d after %d" % (off, last))
        last = off
        if key is None:
            fail("a record without a key at offset %d" % off)
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


def read_all(broker):
    lo, hi, got = harness.read_partition(broker, TOPIC)
    return lo, hi, got


def body(ws):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    col = ws.collector(sets=SETS)
    col.start()
    admin = AdminClient({"bootstrap.servers": col.broker})
    admin.create_topics([NewTopic(TOPIC, 1, 1, config=CONFIG)])[TOPIC].result(timeout=30)

    expected = {}
    records = []
    for i in range(UPDATES):
        key = b"key-%04d" % (i % KEYS)
        value = b"%s=%06d;" % (key, i) + b"v" * (i % 60)
        records.append((key, value))
        expected[key] = value
    for k in range(0, KEYS, 10):
        key = b"key-%04d" % k
        records.append((key, None))
        del expected[key]
    produce(col.broker, records)
    note("%d records produced, %d live keys expected" % (len(records), len(expected)))

    # A keyless record is refused by a compacted topic.
    # (CORRUPT_MESSAGE, as Kafka answers Produce before v8; librdkafka
    # would retry it, hence no retries here.)
    p = Producer({"bootstrap.servers": col.broker, "message.timeout.ms": 5000, "retries": 0})
    errs = []
    p.produce(TOPIC, value=b"no key", partition=0, on_delivery=lambda err, msg: errs.append(err))
    p.flush(30)
    check(len(errs) == 1 and errs[0] is not None and errs[0].code() == 2, "a record without a key is refused (%s)" % (errs[0] if errs else "no report"))

    deadline = time.monotonic() + 180
    while True:
        lo, hi, got = read_all(col.broker)
        if len(got) < UPDATES // 5:
            break
        if time.monotonic() > deadline:
            fail("the cleaner did not compact within 180 s: %d records still readable" % len(got))
        time.sleep(1)
    check(hi == len(records), "high watermark %d is the number of records produced" % hi)
    check(len(got) < UPDATES // 5, "compacted: %d of %d records remain readable" % (len(got), len(records)))
    state = fold(got)
    check(state == expected, "every live key has exactly its last value (%d keys), deleted keys none" % len(state))
    log = col.log()
    check(b"cleaner:" in log, "the collector logged its cleaning")

    col.stop()
    col.start()
    lo2, hi2, got2 = read_all(col.broker)
    check(hi2 == hi and fold(got2) == expected, "after a restart the same %d keys and values" % len(expected))
    parts = os.listdir(col.partition_dir(TOPIC, 0))
    check(not [n for n in parts if n.endswith((".cleaned", ".swap"))], "no .cleaned or .swap file left")


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=420))
