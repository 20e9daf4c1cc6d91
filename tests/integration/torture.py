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
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

TOPIC = "torture"
PARTITIONS = 3


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


def settle_watermarks(cl, timeout=30):
    """Waits until every partition's high watermark holds still for 2 s."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": cl.bootstrap, "group.id": "torture-marks"})
    last, still, deadline = None, 0, time.time() + timeout
    try:
        while still < 2 and time.time() < deadline:
            marks = [c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
                     for p in range(PARTITIONS)]
            still = still + 1 if marks == last else 0
            last = marks
            time.sleep(1)
    finally:
        c.close()


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
    writers = [cluster.Writer(cl.bootstrap, TOPIC, PARTITIONS, wid=i,
                              **{"request.timeout.ms": 8000,
                                 "socket.timeout.ms": 8000})
               for i in range(2)]
    for w in writers:
        w.start()
    cl.wait_for(lambda: all(len(w.acked) > 200 for w in writers), timeout=60,
                what="writes flowing")
    faults = []
    nemesis(cl, rng, seconds, faults)
    for w in writers:
        w.stopping.set()
    for w in writers:
        w.stop()

    # A new leader's high watermark catches up once its followers fetch:
    # read once it has stopped moving, so that what is read is the log.
    settle_watermarks(cl)
    lost = duplicated = reordered = divergent = 0
    read = 0
    missing = []
    for p in range(PARTITIONS):
        values = [v for _, v in cluster.read_partition(cl.bootstrap, TOPIC, p)]
        read += len(values)
        seen = set(values)
        duplicated += len(values) - len(seen)
        for w in writers:
            mine = [v for v, part in w.acked.items() if part == p]
            gone = [v for v in mine if v not in seen]
            lost += len(gone)
            missing += [(p, v) for v in gone]
            seqs = [w.seq(v) for v in values if v.startswith(b"%d-" % w.wid)]
            reordered += sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
        replicas = lambda: {cluster.partition_log(cl.broker(i), TOPIC, p)  # noqa: E731
                            for i in cl.brokers}
        cl.wait_for(lambda: len(replicas()) == 1, timeout=30,
                    what="replicas of partition %d agree" % p)
        divergent += len(replicas()) != 1
    acked = sum(len(w.acked) for w in writers)
    sent = sum(w.sent for w in writers)
    for w in writers:
        if w.errors:
            note("writer %d: %d deliveries failed (indeterminate, not counted "
                 "as lost): %s" % (w.wid, w.failed, w.errors))
    if missing:
        note("lost (partition, value): %s; partition ends: %s" %
             (missing[:20], {p: len(cluster.read_partition(cl.bootstrap, TOPIC, p))
                             for p in range(PARTITIONS)}))
    note("seed %d: %d faults; sent %d, acknowledged %d, read %d: lost %d, "
         "duplicated %d, reordered %d, divergent %d" %
         (seed, len(faults), sent, acked, read, lost, duplicated, reordered, divergent))
    check(lost == 0, "no acknowledged value lost")
    check(not any(w.fatal for w in writers),
          "no writer failed fatally: %s" % [w.fatal for w in writers if w.fatal])
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
