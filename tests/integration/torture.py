#!/usr/bin/python3
"""A fault-injection checker for the collector cluster, in Jepsen's style.

    torture.py [--seconds N] [--seed S] [--seeds K]

Three collectors and a real ZooKeeper. Two idempotent acks=all producers
write unique values ("<writer>-<seq>") to a topic with three partitions,
replication factor 3 and min.insync.replicas=2, while a nemesis, one fault
at a time, chosen by a seeded random generator:

  kill      SIGKILLs a broker (the leader of some partition, the controller,
            or any) and restarts it after a while;
  pause     SIGSTOPs a broker for longer or shorter than the session
            timeout, then SIGCONTs it (a paused leader must not acknowledge
            what it can no longer commit);
  zookeeper restarts ZooKeeper (the brokers keep serving meanwhile).

Then the faults stop, the cluster heals (every ISR full), the writers stop,
every partition is read back, and the checker counts:

  lost        acknowledged values that are not in the log;
  duplicated  values that are in the log more than once;
  reordered   values of one writer in a partition out of the order written;
  divergent   replicas whose logs differ once healed (two values at one
              offset on different brokers).

All four must be zero. 'make check' runs one short seed
(test_cluster_torture.py); 'make torture' runs several long ones.
"""

import argparse
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

TOPIC = "torture"
PARTITIONS = 3


class Writer(threading.Thread):
    def __init__(self, wid, boot):
        super().__init__(daemon=True)
        self.wid = wid
        self.boot = boot
        self.acked = {}  # value -> partition
        self.failed = 0
        self.errors = {}  # error text -> count
        self.sent = 0
        self.stopping = threading.Event()

    def run(self):
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.boot, "enable.idempotence": True,
                      "acks": "all", "linger.ms": 2, "message.timeout.ms": 300000,
                      "request.timeout.ms": 8000, "socket.timeout.ms": 8000,
                      "log_level": 2})

        def cb(err, msg):
            if err:
                self.failed += 1
                self.errors[str(err)] = self.errors.get(str(err), 0) + 1
            else:
                self.acked[msg.value()] = msg.partition()

        while not self.stopping.is_set():
            value = b"%d-%d" % (self.wid, self.sent)
            try:
                p.produce(TOPIC, value=value, partition=self.sent % PARTITIONS,
                          on_delivery=cb)
                self.sent += 1
            except BufferError:
                pass
            p.poll(0.002)
        self.unflushed = p.flush(300)


def read_partition(boot, partition, timeout=120):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": boot, "group.id": "torture-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    low, high = c.get_watermark_offsets(TopicPartition(TOPIC, partition), timeout=30)
    c.assign([TopicPartition(TOPIC, partition, 0)])
    got = []
    deadline = time.time() + timeout
    while (not got or got[-1][0] < high - 1) and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append((m.offset(), m.value()))
    c.close()
    return got, high


def log_bytes(collector, partition):
    d = collector.partition_dir(TOPIC, partition)
    data = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                data += fh.read()
    return data


def leaders(cl):
    md = cl.metadata(TOPIC)
    return {p: v[0] for p, v in md.items()}


def healed(cl):
    md = cl.metadata(TOPIC)
    return len(md) == PARTITIONS and all(v[0] >= 0 and len(v[2]) == 3 for v in md.values())


def nemesis(cl, rng, seconds, log):
    deadline = time.time() + seconds
    while time.time() < deadline:
        op = rng.choice(["kill", "kill", "pause", "pause", "zookeeper"])
        ids = sorted(cl.brokers)
        if op in ("kill", "pause"):
            who = rng.choice(["leader", "controller", "any"])
            target = None
            try:
                if who == "leader":
                    target = rng.choice(list(leaders(cl).values()))
                elif who == "controller":
                    target = cl.controller_id()
            except Exception:
                target = None
            if target not in ids:
                target = rng.choice(ids)
            hold = rng.uniform(0.5, 8.0)
            log.append("%s broker %d (%s) for %.1f s" % (op, target, who, hold))
            note(log[-1])
            if op == "kill":
                cl.kill(target)
                time.sleep(hold)
                cl.restart(target)
            else:
                cl.pause(target)
                time.sleep(hold)
                cl.resume(target)
        else:
            hold = rng.uniform(0.5, 5.0)
            log.append("restart zookeeper, down for %.1f s" % hold)
            note(log[-1])
            cl.zk.stop()
            time.sleep(hold)
            cl.zk.restart()
        cl.wait_for(lambda: healed(cl), timeout=90, what="the cluster healed after: " + log[-1])
        time.sleep(rng.uniform(0.5, 2.0))


def run(ws, seconds, seed):
    rng = random.Random(seed)
    note("seed %d, %d s of faults" % (seed, seconds))
    cl = cluster.Cluster(ws, settings={
        "zookeeper.session.timeout.ms": "4000",
        "replica.lag.time.max.ms": "3000",
        "min.insync.replicas": "2",
    }).start()
    cl.create_topic(TOPIC, partitions=PARTITIONS, replication=3)
    cl.wait_for(lambda: healed(cl), timeout=60, what="every ISR full")
    writers = [Writer(i, cl.bootstrap) for i in range(2)]
    for w in writers:
        w.start()
    cl.wait_for(lambda: all(len(w.acked) > 200 for w in writers), timeout=60,
                what="writes flowing")
    faults = []
    nemesis(cl, rng, seconds, faults)
    for w in writers:
        w.stopping.set()
    for w in writers:
        w.join(330)
        check(not w.is_alive(), "writer %d finished" % w.wid)

    lost = duplicated = reordered = divergent = 0
    read = 0
    for p in range(PARTITIONS):
        got, high = read_partition(cl.bootstrap, p)
        values = [v for _, v in got]
        read += len(values)
        seen = set(values)
        duplicated += len(values) - len(seen)
        for w in writers:
            mine = [v for v, part in w.acked.items() if part == p]
            lost += sum(1 for v in mine if v not in seen)
            seqs = [int(v.split(b"-")[1]) for v in values
                    if v.startswith(b"%d-" % w.wid)]
            reordered += sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
        cl.wait_for(lambda: len({log_bytes(cl.broker(i), p) for i in cl.brokers}) == 1,
                    timeout=30, what="replicas of partition %d agree" % p)
        if len({log_bytes(cl.broker(i), p) for i in cl.brokers}) != 1:
            divergent += 1
    acked = sum(len(w.acked) for w in writers)
    sent = sum(w.sent for w in writers)
    for w in writers:
        if w.errors:
            note("writer %d: %d deliveries failed (indeterminate, not counted "
                 "as lost): %s" % (w.wid, w.failed, w.errors))
    note("seed %d: %d faults; sent %d, acknowledged %d, read %d: lost %d, "
         "duplicated %d, reordered %d, divergent %d" %
         (seed, len(faults), sent, acked, read, lost, duplicated, reordered, divergent))
    check(lost == 0, "no acknowledged value lost")
    check(duplicated == 0, "no value duplicated")
    check(reordered == 0, "no writer's values reordered")
    check(divergent == 0, "replicas agree")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("TORTURE_SECONDS", "300")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("TORTURE_SEED", "1")))
    ap.add_argument("--seeds", type=int, default=int(os.environ.get("TORTURE_SEEDS", "1")))
    args = ap.parse_args(argv)
    cluster.skip_without_zookeeper()
    status = 0
    for seed in range(args.seed, args.seed + args.seeds):
        rc = harness.main(lambda ws, s=seed: run(ws, args.seconds, s),
                          name="torture-seed-%d" % seed, timeout=args.seconds + 900)
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
