#!/usr/bin/python3
"""ISR shrink and expand, min.insync.replicas, and controlled shutdown.

Three collectors on a real ZooKeeper, a topic with replication factor 3 and
min.insync.replicas=2 (broker setting). The session timeout (10 s) is longer
than replica.lag.time.max.ms (2 s), so what moves the ISR here is the
leader's own check, not the controller noticing a lost broker:

  1. a follower SIGSTOPped for 6 s leaves the ISR (the leader writes the
     state znode) while acks=all writes go on with two in-sync replicas, and
     rejoins after SIGCONT once it has caught up;
  2. with both followers stopped the ISR is the leader alone: acks=all is
     refused with NOT_ENOUGH_REPLICAS and nothing of it becomes visible,
     while a topic with its own min.insync.replicas=1 on the same leader
     still takes acks=all writes;
  3. a rolling restart, each broker stopped with SIGTERM (controlled
     shutdown hands its leaderships over first) and started again, under a
     live idempotent acks=all producer: no delivery fails, the worst
     send-to-acknowledgement latency is printed, and every acknowledged
     record is read back once, in order;
  4. a consumer group bootstrapped from two brokers is one group;
  5. the whole cluster stops, each broker SIGTERMed the moment the one
     before it has exited, the controller first: a broker becomes the
     controller just as its own controlled shutdown begins, with its
     listener closed. No shutdown waits out its timeout, and the last
     broker keeps leading what nobody else can take over until it exits.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer  # noqa: E402

TOPIC = "isr"


def produce_once(boot, value, acks="all", topic=TOPIC):
    """One record, no retries: returns the error or None."""
    p = Producer({"bootstrap.servers": boot, "acks": acks, "retries": 0,
                  "message.timeout.ms": 10000})
    result = []
    p.produce(topic, value=value, partition=0,
              on_delivery=lambda e, m: result.append(e))
    p.flush(15)
    return result[0] if result else "no answer"


def body(ws):
    cl = cluster.Cluster(ws, settings={
        "zookeeper.session.timeout.ms": "10000",
        "replica.lag.time.max.ms": "2000",
    }).start()
    cl.create_topic(TOPIC, partitions=1, replication=3)
    cl.wait_isr(TOPIC, 0, size=3)
    leader = cl.wait_leader(TOPIC, 0)
    followers = [i for i in (1, 2, 3) if i != leader]
    note("leader %d, followers %s" % (leader, followers))
    # A topic of its own min.insync.replicas (1, under the broker's 2),
    # led by the same broker.
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": cl.bootstrap})
    admin.create_topics([NewTopic("isr-one", 1, replica_assignment=[[leader] + followers],
                                  config={"min.insync.replicas": "1"})])["isr-one"].result(30)
    cl.wait_isr("isr-one", 0, size=3)
    check(produce_once(cl.bootstrap, b"first") is None, "acks=all with a full ISR")

    # 1. One follower stops: the leader shrinks the ISR, writes go on. The
    #    leader must have something the follower lacks (Kafka's rule: a
    #    follower at the leader's log end is never out of sync).
    cl.pause(followers[0])
    t0 = time.time()
    check(produce_once(cl.bootstrap, b"one", acks="1") is None, "acks=1 write")
    isr = cl.wait_isr(TOPIC, 0, size=2, timeout=15)
    note("ISR %s %.1f s after SIGSTOP of follower %d" % (isr, time.time() - t0, followers[0]))
    check(followers[0] not in isr, "the stopped follower left the ISR")
    check(produce_once(cl.bootstrap, b"two in sync") is None,
          "acks=all with two in-sync replicas (min.insync.replicas=2)")
    state = cl.znode("/brokers/topics/%s/partitions/0/state" % TOPIC)
    check(state is not None and b'"isr":[' in state, "the state znode holds the ISR: %r" % state)

    # 2. Both followers stopped: NOT_ENOUGH_REPLICAS, nothing visible.
    cl.pause(followers[1])
    check(produce_once(cl.bootstrap, b"two", acks="1") is None, "acks=1 write")
    cl.wait_isr(TOPIC, 0, size=1, timeout=15)
    err = produce_once("127.0.0.1:%d" % cl.broker(leader).port, b"must not appear")
    check(err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS,
          "acks=all refused with NOT_ENOUGH_REPLICAS (got %s)" % err)
    cl.wait_isr("isr-one", 0, size=1, timeout=15)
    check(produce_once("127.0.0.1:%d" % cl.broker(leader).port, b"alone", topic="isr-one") is None,
          "acks=all to a topic with min.insync.replicas=1 and one in-sync replica")
    for f in followers:
        cl.resume(f)
    t0 = time.time()
    cl.wait_isr(TOPIC, 0, size=3, timeout=30)
    note("both followers back in the ISR %.1f s after SIGCONT" % (time.time() - t0))

    # 3. Rolling restart with controlled shutdown under a live producer.
    w = cluster.Writer(cl.bootstrap, TOPIC)
    w.start()
    cl.wait_for(lambda: len(w.acked) > 1000, timeout=60, what="writes flowing")
    worst = []
    for i in (1, 2, 3):
        w.worst = 0.0
        t0 = time.time()
        cl.stop(i)
        stopped = time.time() - t0
        cl.restart(i)
        cl.wait_isr(TOPIC, 0, size=3, timeout=60)
        note("broker %d: controlled shutdown took %.1f s; back in the ISR" % (i, stopped))
        before = len(w.acked)
        cl.wait_for(lambda: len(w.acked) > before + 500, timeout=60,
                    what="writes after restarting broker %d" % i)
        worst.append(w.worst)
        note("worst send-to-ack latency around broker %d's restart: %.3f s" % (i, w.worst))
    w.stop()
    got = [v for _, v in cluster.read_partition(cl.bootstrap, TOPIC, 0)]
    values = [w.seq(v) for v in got if b"-" in v]
    others = [v for v in got if b"-" not in v]
    check(others == [b"first", b"one", b"two in sync", b"two"],
          "the refused record never became visible (%s)" % others)
    lost = {w.seq(v) for v in w.acked} - set(values)
    dups = len(values) - len(set(values))
    disorder = sum(1 for a, b in zip(values, values[1:]) if b < a)
    note("rolling restart: sent %d, acknowledged %d, delivery errors %d, worst "
         "latency %.3f s; read %d: lost %d, duplicated %d, out of order %d" %
         (w.sent, len(w.acked), w.failed, max(worst), len(values),
          len(lost), dups, disorder))
    check(w.unflushed == 0 and not w.errors,
          "no delivery failed during the rolling restart (%s)" % w.errors)
    check(not lost, "no acknowledged record lost")
    check(dups == 0, "no duplicates")
    check(disorder == 0, "records in the order produced")

    # 4. A consumer group whose members bootstrap from different brokers is
    #    one group: they find the same coordinator and split the partitions.
    cl.create_topic("grp", partitions=2, replication=3)
    cl.wait_isr("grp", 0, size=3)
    cl.wait_isr("grp", 1, size=3)
    members = [Consumer({"bootstrap.servers": "127.0.0.1:%d" % cl.broker(i).port,
                         "group.id": "split", "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000}) for i in (1, 3)]
    for m in members:
        m.subscribe(["grp"])

    def split():
        for m in members:
            m.poll(0.2)
        parts = [sorted(tp.partition for tp in m.assignment()) for m in members]
        return parts if sorted(sum(parts, [])) == [0, 1] and all(parts) else None

    parts = cl.wait_for(split, timeout=60, what="the two members to split the partitions")
    note("members bootstrapped from brokers 1 and 3 hold partitions %s" % parts)
    for m in members:
        m.close()

    # 5. Stop the cluster, the controller first and the leader of TOPIC last.
    ctrl = cl.controller_id()
    leader = cl.wait_leader(TOPIC, 0)
    order = [ctrl] + sorted(i for i in cl.brokers if i not in (ctrl, leader))
    if leader != ctrl:
        order.append(leader)
    for i in order:
        before = len(cl.broker(i).log())
        t0 = time.time()
        cl.stop(i)
        took = time.time() - t0
        text = cl.broker(i).log()[before:].decode(errors="replace")
        check("not moved in time" not in text,
              "broker %d stopped in %.1f s without waiting out its controlled shutdown" % (i, took))
    state = cl.znode("/brokers/topics/%s/partitions/0/state" % TOPIC)
    last = order[-1]
    check(b'"leader":%d' % last in state.replace(b" ", b""),
          "%s-0 still names broker %d, the last to stop, as leader (%s)" % (TOPIC, last, state.decode()))


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
