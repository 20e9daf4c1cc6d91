#!/usr/bin/python3
"""Unclean leader election, and the divergent tail it leaves, truncated.

A topic with replication factor 2 on a three-collector cluster with
unclean.leader.election.enable=true and min.insync.replicas=1:

  1. both replicas hold records a-0..a-99;
  2. the follower B is SIGSTOPped; the leader A drops it from the ISR and
     takes tail-0..tail-49 alone (acks=1);
  3. A is SIGKILLed and B woken: no ISR member is alive, so the controller
     elects B uncleanly (leader epoch + 1); B takes b-0..b-29 at the offsets
     where A had its tail (B may hold the first few tail records: its
     fetch was in flight when it stopped);
  4. A restarts as B's follower, asks OffsetForLeaderEpoch where its last
     epoch ends at B, truncates its divergent tail there, and copies B's
     records: afterwards both logs are byte-identical, and a consumer reads
     a-*, the tail records B had, then b-* (the rest of A's tail is lost:
     that is what unclean election trades for availability).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

TOPIC = "unclean"


def produce(boot, values, acks):
    p = Producer({"bootstrap.servers": boot, "acks": acks,
                  "message.timeout.ms": 30000, "linger.ms": 1})
    failed = []
    for v in values:
        p.produce(TOPIC, value=v, partition=0,
                  on_delivery=lambda e, m: failed.append(e) if e else None)
    left = p.flush(40)
    check(left == 0 and not failed, "%d records (acks=%s) written: %s" %
          (len(values), acks, failed[:2]))


def body(ws):
    cl = cluster.Cluster(ws, settings={
        "zookeeper.session.timeout.ms": "10000",
        "replica.lag.time.max.ms": "2000",
        "min.insync.replicas": "1",
        "unclean.leader.election.enable": "true",
    }).start()
    cl.create_topic(TOPIC, partitions=1, replication=2)
    cl.wait_isr(TOPIC, 0, size=2)
    a = cl.wait_leader(TOPIC, 0)
    # Metadata may come from a broker whose UpdateMetadata is a moment behind.
    replicas = cl.wait_for(lambda: cl.metadata(TOPIC).get(0, (None, None))[1], 30,
                           "the replicas of %s-0 in Metadata" % TOPIC)
    b = [r for r in replicas if r != a][0]
    note("leader A = broker %d, follower B = broker %d" % (a, b))
    produce(cl.bootstrap, [b"a-%d" % i for i in range(100)], "all")

    cl.pause(b)
    at_a = "127.0.0.1:%d" % cl.broker(a).port
    produce(at_a, [b"tail-0"], "1")
    cl.wait_isr(TOPIC, 0, size=1, timeout=20)
    produce(at_a, [b"tail-%d" % i for i in range(1, 50)], "1")

    cl.kill(a)
    cl.resume(b)
    t0 = time.time()
    cl.wait_leader(TOPIC, 0, not_in=(a,), timeout=40)
    note("B elected uncleanly %.1f s after A's SIGKILL" % (time.time() - t0))
    produce(cl.bootstrap, [b"b-%d" % i for i in range(30)], "1")

    cl.restart(a)
    cl.wait_isr(TOPIC, 0, size=2, timeout=60)
    cl.wait_for(lambda: cluster.partition_log(cl.broker(a), TOPIC, 0) ==
                cluster.partition_log(cl.broker(b), TOPIC, 0),
                timeout=30, what="byte-identical logs on A and B")
    # B may have fetched the first tail records before it was stopped (its
    # fetch was in flight); the truncation point is wherever B's epoch began.
    m = re.search(rb"truncated from 150 to ([0-9]+)", cl.broker(a).log())
    check(m is not None and 100 <= int(m.group(1)) < 150,
          "A truncated its divergent tail (%s)" % (m.group(0) if m else None))
    kept = int(m.group(1)) - 100

    got = [v for _, v in cluster.read_partition(cl.bootstrap, TOPIC, 0)]
    want = ([b"a-%d" % i for i in range(100)] +
            [b"tail-%d" % i for i in range(kept)] +
            [b"b-%d" % i for i in range(30)])
    note("A truncated to offset %d; read %d records: %d of A's 50 tail records "
         "survive (B had them), %d are gone" % (100 + kept, len(got), kept, 50 - kept))
    check(got == want, "the log is a-*, the tail B had, then b-*")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
