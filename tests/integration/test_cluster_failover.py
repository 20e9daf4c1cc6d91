#!/usr/bin/python3
"""A three-collector cluster on a real ZooKeeper: replication and failover.

An idempotent acks=all producer (confluent-kafka) writes numbered records
without pause to a topic with replication factor 3 and
min.insync.replicas=2, while the test:

  1. SIGKILLs the partition's leader: the controller elects another ISR
     member within the session timeout; the killed broker restarts,
     truncates if it must, and rejoins the ISR;
  2. SIGSTOPs the leader past the session timeout: it is replaced, and when
     SIGCONT wakes it, it must not acknowledge writes it can no longer
     commit; it rejoins as a follower.

Then everything is read back and counted: every acknowledged record must be
there exactly once, in the order produced, at contiguous offsets, and the
three replicas' logs must be byte-identical.
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC = "replicated"


class Writer(threading.Thread):
    """Produces 0, 1, 2, ... until stopped; records what was acknowledged."""

    def __init__(self, boot):
        super().__init__(daemon=True)
        self.boot = boot
        self.acked = []
        self.failed = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self):
        p = Producer({"bootstrap.servers": self.boot,
                      "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 120000,
                      "request.timeout.ms": 10000,
                      "socket.timeout.ms": 10000})

        def cb(err, msg):
            (self.failed if err else self.acked).append(int(msg.value()))

        while not self.stopping.is_set():
            try:
                p.produce(TOPIC, value=b"%d" % self.sent, partition=0,
                          on_delivery=cb)
                self.sent += 1
            except BufferError:
                pass
            p.poll(0.002)
        self.unflushed = p.flush(120)


def read_all(boot, expect):
    c = Consumer({"bootstrap.servers": boot, "group.id": "check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got = []
    deadline = time.time() + 120
    while len(got) < expect and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append((m.offset(), int(m.value())))
    c.close()
    return got


def log_sizes(cl):
    sizes = set()
    for i in (1, 2, 3):
        d = cl.broker(i).partition_dir(TOPIC, 0)
        sizes.add(sum(os.path.getsize(os.path.join(d, f))
                      for f in os.listdir(d) if f.endswith(".log")))
    return sizes


def wait_acks(cl, w, when, more=1000):
    before = len(w.acked)
    cl.wait_for(lambda: len(w.acked) > before + more, timeout=60,
                what="%d more records acknowledged %s" % (more, when))


def fail_leader(cl, w, how, act):
    """Applies 'act' to the leader; returns its id once writes flow again."""
    leader = cl.wait_leader(TOPIC, 0)
    t0 = time.time()
    act(leader)
    new = cl.wait_leader(TOPIC, 0, not_in=(leader,), timeout=30)
    elected = time.time() - t0
    wait_acks(cl, w, "after the %s" % how)
    note("%s of leader %d: broker %d elected after %.1f s, writes acknowledged "
         "again %.1f s after the fault" %
         (how, leader, new, elected, time.time() - t0))
    return leader


def body(ws):
    cl = cluster.Cluster(ws).start()
    cl.create_topic(TOPIC, partitions=1, replication=3)
    cl.wait_isr(TOPIC, 0, size=3)
    w = Writer(cl.bootstrap)
    w.start()
    cl.wait_for(lambda: len(w.acked) > 2000, timeout=60,
                what="2000 records acknowledged")

    leader = fail_leader(cl, w, "SIGKILL", cl.kill)
    cl.restart(leader)
    cl.wait_isr(TOPIC, 0, size=3, timeout=60)

    paused = fail_leader(cl, w, "SIGSTOP", cl.pause)
    cl.resume(paused)
    cl.wait_isr(TOPIC, 0, size=3, timeout=60)
    wait_acks(cl, w, "after the resume")

    w.stopping.set()
    w.join(150)
    check(not w.is_alive(), "the producer finished")
    check(w.unflushed == 0 and not w.failed,
          "every record delivered (%d undelivered, %d failed)" %
          (w.unflushed, len(w.failed)))

    got = read_all(cl.bootstrap, len(w.acked))
    values = [v for _, v in got]
    offsets = [o for o, _ in got]
    lost = set(w.acked) - set(values)
    dups = len(values) - len(set(values))
    disorder = sum(1 for a, b in zip(values, values[1:]) if b < a)
    gaps = sum(1 for a, b in zip(offsets, offsets[1:]) if b != a + 1)
    note("sent %d, acknowledged %d, read %d: lost %d, duplicated %d, "
         "out of order %d, offset gaps %d" %
         (w.sent, len(w.acked), len(values), len(lost), dups, disorder, gaps))
    check(gaps == 0 and offsets[:1] == [0], "offsets are contiguous from 0")
    check(not lost, "no acknowledged record lost (lost e.g. %s)" %
          sorted(lost)[:5])
    check(dups == 0, "no duplicates")
    check(disorder == 0, "records in the order produced")
    cl.wait_for(lambda: len(log_sizes(cl)) == 1, timeout=30,
                what="byte-identical logs on the three brokers")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
