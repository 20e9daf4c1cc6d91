#!/usr/bin/python3
"""The client core's producer (tr_producer) against the real collector.

producer_driver sends N keyed records, each with an "idx" header, gzip,
acks=-1 and idempotence. librdkafka (confluent_kafka) then reads every
partition from the beginning with assign() and checks that:

  - every record arrived exactly once, with its header;
  - records of one partition are in the order they were sent;
  - each key is on the partition librdkafka's murmur2 partitioner picks
    (the same keys are produced with 'partitioner': 'murmur2' to a second
    topic and compared key by key).

Then the collector is killed with SIGKILL while the driver is sending and
restarted on the same port and data directory; the driver's retries (same
producer id, same sequences) must leave no record lost or duplicated.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

PARTITIONS = 4
N = 3000


def driver_path():
    return os.path.join(harness.builddir(), "tests", "integration", "producer_driver")


def read_topic(broker, topic, partitions, expect):
    """Returns {partition: [(offset, key, value, headers)]} for 'expect' records."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": "tributary-it-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "check.crcs": True,
            "fetch.wait.max.ms": 100,
        }
    )
    out = {p: [] for p in range(partitions)}
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + 120
        eofs = set()
        total = 0
        while total < expect or len(eofs) < partitions:
            if time.monotonic() > deadline:
                fail("reading %s timed out with %d of %d records" % (topic, total, expect))
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eofs.add(msg.partition())
                    continue
                fail("consumer error on %s: %s" % (topic, msg.error()))
            eofs.discard(msg.partition())
            out[msg.partition()].append((msg.offset(), msg.key(), msg.value(), msg.headers()))
            total += 1
        return out
    finally:
        c.close()


def check_exactly_once(topic, parts, n):
    """Every index once, headers and values matching, ascending per partition."""
    seen = {}
    for p, recs in parts.items():
        last = -1
        for off, key, value, headers in recs:
            i = int(key.decode().split("-")[1])
            if value != ("value-%d" % i).encode():
                fail("%s-%d@%d: value %r for key %r" % (topic, p, off, value, key))
            if headers != [("idx", str(i).encode())]:
                fail("%s-%d@%d: headers %r" % (topic, p, off, headers))
            if i in seen:
                fail("%s: record %d twice (partitions %d and %d)" % (topic, i, seen[i], p))
            if i <= last:
                fail("%s-%d: record %d after %d: out of order" % (topic, p, i, last))
            last = i
            seen[i] = p
    missing = [i for i in range(n) if i not in seen]
    if missing:
        fail("%s: %d records missing, first %s" % (topic, len(missing), missing[:10]))
    check(len(seen) == n, "%s: all %d records exactly once, in order per partition" % (topic, n))
    return seen


def librdkafka_partitions(broker, topic, n):
    """Produces the same keys with librdkafka's murmur2 partitioner."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker, "partitioner": "murmur2", "linger.ms": 5})
    got = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            got[msg.key().decode()] = msg.partition()

    for i in range(n):
        while True:
            try:
                p.produce(topic, key="key-%d" % i, value=b"x", on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(60)
    if left or errors:
        fail("librdkafka produce: %d left, errors %s" % (left, errors[:3]))
    return got


def run_driver(broker, topic, n, *extra, timeout=180):
    argv = [driver_path(), broker, topic, str(n)] + list(extra)
    note(" ".join(argv))
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=180):
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        fail("driver exited %d: %s\n%s" % (proc.returncode, out.strip(), err[-3000:]))
    return out, err


def body(ws):
    if not os.path.exists(driver_path()):
        fail("missing %s (make check builds it)" % driver_path())
    col = ws.collector(sets={"num.partitions": str(PARTITIONS)}).start()

    # 1. Keyed records, gzip, acks=-1, idempotence.
    out, err = finish(run_driver(col.broker, "keyed", N, "--codec", "gzip"))
    check("delivered=%d failed=0 duplicates=0" % N in out, "driver reports %d deliveries, each once" % N)
    parts = read_topic(col.broker, "keyed", PARTITIONS, N)
    placed = check_exactly_once("keyed", parts, N)
    check(all(len(parts[p]) > 0 for p in range(PARTITIONS)), "keys spread over all %d partitions" % PARTITIONS)

    # 2. Same keys through librdkafka's murmur2 partitioner.
    ref = librdkafka_partitions(col.broker, "keyed-librdkafka", N)
    wrong = [i for i in range(N) if ref.get("key-%d" % i) != placed[i]]
    check(not wrong, "every key on the partition librdkafka's murmur2 picks (%d keys)" % N)

    # 3. SIGKILL the collector mid-stream and restart it.
    n = 4000
    proc = run_driver(col.broker, "crash", n, "--per-tick", "10", "--tick-ms", "10", "--timeout-s", "150")
    time.sleep(2.0)
    if proc.poll() is not None:
        fail("the driver finished before the crash; make it slower")
    col.kill()
    note("collector killed with SIGKILL")
    time.sleep(1.5)
    col.restart()
    out, err = finish(proc)
    for line in err.strip().splitlines()[-8:]:
        note("driver: " + line)
    check("delivered=%d failed=0 duplicates=0" % n in out, "driver delivered all %d across the crash" % n)
    check("connection lost" in err or "unreachable" in err, "the outage was logged")
    warnings = err.count("connection lost") + err.count("unreachable")
    check(warnings <= 4, "outage warned once per broker, not per attempt (%d lines)" % warnings)
    parts = read_topic(col.broker, "crash", PARTITIONS, n)
    check_exactly_once("crash", parts, n)

    col.stop()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=600))
