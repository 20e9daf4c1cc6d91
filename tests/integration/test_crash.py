#!/usr/bin/python3
"""Crash safety: SIGKILL the collector mid-stream, restart it, keep producing.

A background thread produces 50,000 records (acks=all) while the main thread
waits for about 20,000 acknowledgements and then kills the collector with
SIGKILL, restarts it on the same port and data directory, and lets the
producer carry on (librdkafka retries what was in flight). Afterwards every
acknowledged record must be in the log, offsets must run from 0 without gaps,
and no offset may appear twice. Records that were in flight at the crash may
be stored twice (at-least-once without idempotence); that is only reported.
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

COUNT = 50_000
KILL_AFTER = 20_000
GATE = 30_000  # the producer waits at this record until the kill happened
TOPIC = "crash-it"


class ProducerThread(threading.Thread):
    def __init__(self, broker, killed):
        super().__init__(daemon=True)
        self.broker = broker
        self.killed = killed
        self.lock = threading.Lock()
        self.acked = set()
        self.failed = []
        self.error = None
        self.left = None

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def on_delivery(self, err, msg):
        with self.lock:
            if err is None:
                self.acked.add(msg.value())
            else:
                self.failed.append((msg.value(), str(err)))

    def run(self):
        try:
            p = Producer(
                {
                    "bootstrap.servers": self.broker,
                    "acks": "all",
                    "linger.ms": 2,
                    "batch.num.messages": 500,
                    "message.timeout.ms": 120000,
                    "retry.backoff.ms": 200,
                    "reconnect.backoff.max.ms": 500,
                }
            )
            for i in range(COUNT):
                if i == GATE:
                    # Delivery reports arrive only through poll(): keep
                    # polling while the main thread waits to kill.
                    deadline = time.monotonic() + 120
                    while not self.killed.is_set():
                        if time.monotonic() > deadline:
                            raise RuntimeError("the collector was never killed")
                        p.poll(0.05)
                value = b"crash-%06d" % i
                while True:
                    try:
                        p.produce(TOPIC, value=value, key=b"%d" % (i % 7), partition=0, on_delivery=self.on_delivery)
                        break
                    except BufferError:
                        p.poll(0.05)
                p.poll(0)
            self.left = p.flush(180)
        except Exception as e:  # reported by the main thread
            self.error = e


def read_all(broker):
    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": "tributary-it-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "check.crcs": True,
        }
    )
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10, cached=False)
        c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + 120
        while len(out) < hi:
            if time.monotonic() > deadline:
                fail("consumer timed out with %d of %d records" % (len(out), hi))
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                fail("consumer error: %s" % msg.error())
            out.append((msg.offset(), msg.value()))
        return lo, hi, out
    finally:
        c.close()


def run(ws):
    col = ws.collector(sets={"num.partitions": "1"}).start()
    killed = threading.Event()
    prod = ProducerThread(col.broker, killed)
    prod.start()

    deadline = time.monotonic() + 120
    while prod.acked_count() < KILL_AFTER:
        if time.monotonic() > deadline or not prod.is_alive():
            fail("only %d records acknowledged before the kill (producer error: %s)" % (prod.acked_count(), prod.error))
        time.sleep(0.002)
    col.kill()
    at_kill = prod.acked_count()
    note("SIGKILL after %d acknowledged records" % at_kill)
    killed.set()
    time.sleep(0.5)
    col.restart()
    note("restart log tail:\n" + harness.tail(col.log(), 5))

    prod.join(240)
    check(not prod.is_alive(), "the producer finished")
    check(prod.error is None, "the producer raised no error (%s)" % prod.error)
    check(prod.left == 0, "the producer flushed everything (%s left)" % prod.left)
    note("%d acknowledged, %d failed delivery" % (len(prod.acked), len(prod.failed)))
    check(len(prod.acked) >= at_kill, "at least the %d records acknowledged before the crash were acknowledged" % at_kill)

    lo, hi, records = read_all(col.broker)
    check(lo == 0, "log start offset is 0")
    offsets = [o for o, _ in records]
    check(len(offsets) == len(set(offsets)), "no offset appears twice")
    check(offsets == list(range(hi)), "offsets are contiguous from 0 to %d" % (hi - 1))
    values = [v for _, v in records]
    stored = set(values)
    missing = sorted(prod.acked - stored)
    check(not missing, "every acknowledged record is stored (%d missing%s)"
          % (len(missing), ": " + ", ".join(m.decode() for m in missing[:5]) if missing else ""))
    note("%d records stored, %d distinct, %d stored twice after retries"
         % (len(values), len(stored), len(values) - len(stored)))


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
