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
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402


TOPIC = "replicated"


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
    w = cluster.Writer(cl.bootstrap, TOPIC)
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

    w.stop()
    check(w.unflushed == 0 and not w.errors,
          "every record delivered (%d undelivered, failed: %s)" %
          (w.unflushed, w.errors))

    got = cluster.read_partition(cl.bootstrap, TOPIC, 0)
    values = [w.seq(v) for _, v in got]
    offsets = [o for o, _ in got]
    lost = {w.seq(v) for v in w.acked} - set(values)
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
    cl.wait_for(lambda: len({cluster.partition_log(cl.broker(i), TOPIC, 0)
                             for i in (1, 2, 3)}) == 1,
                timeout=30, what="byte-identical logs on the three brokers")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
