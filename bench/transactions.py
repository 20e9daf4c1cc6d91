#!/usr/bin/python3
"""Transactions benchmark: one collector on loopback, confluent-kafka.

    bench/transactions.py BUILD_DIR [--records N] [--txn-records N] [--rounds N]

1. Produce: an idempotent producer (acks=all) and a transactional one
   (transactions of --txn-records records each, committed), the same N
   records of 100 bytes to a 3-partition topic, alternating for --rounds
   rounds, each to a fresh topic. Prints records/s of each and the ratio.
2. Consume: the transactional topic of the last round read from the start
   with isolation.level=read_uncommitted, then read_committed (assign(),
   fetch to the end). Prints records/s of each and the ratio.

Everything runs in a temporary directory and is stopped on exit.
"""

import argparse
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTS = 3
VALUE = b"x" * 100


def create(boot, topic):
    admin = AdminClient({"bootstrap.servers": boot})  # alive until answered
    futs = admin.create_topics([NewTopic(topic, PARTS, 1)], request_timeout=30)
    futs[topic].result(timeout=30)


def produce_idempotent(boot, topic, n):
    p = Producer({"bootstrap.servers": boot, "enable.idempotence": True,
                  "linger.ms": 5, "queue.buffering.max.messages": 1000000})
    p.list_topics(topic, timeout=10)  # metadata first, as for the other
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, VALUE, partition=i % PARTS)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(300)
    return n / (time.monotonic() - t0)


def produce_transactional(boot, topic, n, per_txn, tid):
    p = Producer({"bootstrap.servers": boot, "transactional.id": tid,
                  "linger.ms": 5, "queue.buffering.max.messages": 1000000})
    p.init_transactions(30)
    # librdkafka adds a partition to a transaction only once it knows the
    # topic's metadata; fetch it before the clock starts.
    p.list_topics(topic, timeout=10)
    t0 = time.monotonic()
    i = 0
    while i < n:
        p.begin_transaction()
        for _ in range(min(per_txn, n - i)):
            while True:
                try:
                    p.produce(topic, VALUE, partition=i % PARTS)
                    break
                except BufferError:
                    p.poll(0.01)
            i += 1
        p.commit_transaction(60)
    return n / (time.monotonic() - t0)


def consume(boot, topic, n, isolation):
    c = Consumer({"bootstrap.servers": boot, "group.id": "bench-" + isolation,
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTS)])
    got, eof = 0, set()
    t0 = time.monotonic()
    while len(eof) < PARTS:
        for m in c.consume(10000, 1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            got += 1
    rate = got / (time.monotonic() - t0)
    c.close()
    if got != n:
        harness.fail("%s consumer read %d records, not %d" % (isolation, got, n))
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--txn-records", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(args.build_dir)
    ws = harness.Workspace("bench-transactions")
    try:
        col = ws.collector(sets={"transaction.state.log.num.partitions": "5",
                                 "offsets.topic.num.partitions": "5"}).start()
        boot = col.broker
        idem, txn = [], []
        for r in range(args.rounds):
            create(boot, "idem-%d" % r)
            create(boot, "txn-%d" % r)
            idem.append(produce_idempotent(boot, "idem-%d" % r, args.records))
            txn.append(produce_transactional(boot, "txn-%d" % r, args.records,
                                             args.txn_records, "bench-%d" % r))
            print("round %d: idempotent %.0f records/s, transactional %.0f records/s"
                  % (r + 1, idem[-1], txn[-1]), flush=True)
        mi, mt = statistics.median(idem), statistics.median(txn)
        print("produce, %d x 100 B, 3 partitions: idempotent %.0f records/s, "
              "transactional (%d per transaction) %.0f records/s, ratio %.2f"
              % (args.records, mi, args.txn_records, mt, mt / mi))
        topic = "txn-%d" % (args.rounds - 1)
        ru = consume(boot, topic, args.records, "read_uncommitted")
        rc = consume(boot, topic, args.records, "read_committed")
        print("consume the transactional topic: read_uncommitted %.0f records/s, "
              "read_committed %.0f records/s, ratio %.2f" % (ru, rc, rc / ru))
        col.stop()
    finally:
        ws.close()


if __name__ == "__main__":
    main()
