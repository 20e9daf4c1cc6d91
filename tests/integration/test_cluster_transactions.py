#!/usr/bin/python3
"""Kafka transactions in a three-collector cluster on a real ZooKeeper.

The transaction coordinator of an id is the leader of its partition of
__transaction_state (6 partitions here, replication factor 3, min ISR 2);
markers go to the partitions' leaders as WriteTxnMarkers. With
confluent-kafka's transactional producer:

  1. transactions over a 6-partition topic whose leaders are spread over the
     three brokers, committed and aborted: read_committed sees exactly the
     committed records, read_uncommitted all of them;
  2. a producer commits (and aborts every fourth) transaction in a loop
     while the coordinator's broker is SIGKILLed: the producer finds the new
     coordinator and goes on; every committed record is read once by
     read_committed, none of an aborted transaction;
  3. a transaction is left open on a partition led by a broker that is not
     the coordinator; that leader is SIGKILLed: the new leader keeps the
     last stable offset at the transaction's first record, and the commit
     then moves it to the high watermark;
  4. consume-transform-produce with send_offsets_to_transaction across a
     SIGKILL of a broker: every input is in the committed output once.

Printed: the coordinator failover time, records lost and duplicated (0).
"""

import os
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "txn-events"
PARTS = 6
TXN_PARTITIONS = 6
SETTINGS = {
    "transaction.state.log.num.partitions": str(TXN_PARTITIONS),
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
    "offsets.topic.num.partitions": "6",
}


def java_partition(key, partitions):
    """Kafka's partitionFor: abs(String.hashCode) % partitions (ASCII ids)."""
    h = 0
    for ch in key:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    h = 0 if h == -(1 << 31) else abs(h)
    return h % partitions


def find_txn_coordinator(port, tid, corr=7):
    """FindCoordinator v1, key type 1, on a fresh connection: (error, node)."""
    body = harness.kstring(tid) + b"\x01"
    with harness.Conn(port) as c:
        c.send(harness.request(10, 1, corr, body))
        r = c.response(corr)
    pos = 4
    (err,) = struct.unpack_from(">h", r, pos)
    pos += 2
    (mlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + max(mlen, 0)
    (node,) = struct.unpack_from(">i", r, pos)
    return err, node


def write_txn_markers(port, topic, partition, pid, epoch, coordinator_epoch, commit=True, corr=11):
    """WriteTxnMarkers v0 with one marker for one partition: its error."""
    body = struct.pack(">i", 1) + struct.pack(">qhb", pid, epoch, 1 if commit else 0)
    body += struct.pack(">i", 1) + harness.kstring(topic) + struct.pack(">ii", 1, partition)
    body += struct.pack(">i", coordinator_epoch)
    with harness.Conn(port) as c:
        c.send(harness.request(27, 0, corr, body))
        r = c.response(corr)
    # markers[1]: producer_id, topics[1]: name, partitions[1]: index, error
    pos = 4 + 8 + 4
    (nlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + nlen + 4 + 4
    (err,) = struct.unpack_from(">h", r, pos)
    return err


def coordinator_of(cl, tid, not_in=(), timeout=60):
    def ok():
        for i in cl.live():
            if i in not_in:
                continue
            try:
                err, node = find_txn_coordinator(cl.broker(i).port, tid)
            except OSError:
                continue
            if err == 0 and node not in not_in:
                return node
        return None

    return cl.wait_for(ok, timeout, "a transaction coordinator for %s" % tid)


def producer(cl, tid, **conf):
    from confluent_kafka import Producer

    c = {"bootstrap.servers": cl.bootstrap, "transactional.id": tid,
         "transaction.timeout.ms": 60000, "message.timeout.ms": 60000,
         "socket.timeout.ms": 10000, "log_level": 2}
    c.update(conf)
    p = Producer(c)
    p.init_transactions(60)
    return p


def read_all(cl, topic, isolation, parts=PARTS, timeout=90):
    """Every record below each partition's end for 'isolation'."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": cl.bootstrap, "group.id": "reader",
                  "isolation.level": isolation, "enable.partition.eof": True,
                  "enable.auto.commit": False, "log_level": 2})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
        got, eof = [], set()
        deadline = time.monotonic() + timeout
        while len(eof) < parts and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                if m.error().retriable() or not m.error().fatal():
                    continue
                fail("%s consumer: %s" % (isolation, m.error()))
            eof.discard(m.partition())
            got.append(m.value())
        if len(eof) < parts:
            fail("%s consumer of %s did not reach the end of every partition" % (isolation, topic))
        return got
    finally:
        c.close()


def lso(cl, topic, partition, isolation="read_committed"):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": cl.bootstrap, "group.id": "ends",
                  "isolation.level": isolation, "log_level": 2})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


def count_result(got, committed, aborted, what):
    """Lost and duplicated committed records, and aborted ones seen."""
    seen = {}
    for v in got:
        seen[v] = seen.get(v, 0) + 1
    lost = sum(1 for v in committed if v not in seen)
    dup = sum(n - 1 for v, n in seen.items() if n > 1)
    leaked = sum(1 for v in aborted if v in seen)
    note("%s: %d committed records, %d lost, %d duplicated, %d aborted seen"
         % (what, len(committed), lost, dup, leaked))
    check(lost == 0 and dup == 0 and leaked == 0,
          "%s: nothing lost, duplicated or leaked from an aborted transaction" % what)


def run_txn(p, values, commit, parts=PARTS, topic=TOPIC):
    """One transaction; returns True if it committed, False if aborted."""
    from confluent_kafka import KafkaException

    p.begin_transaction()
    for i, v in enumerate(values):
        while True:
            try:
                p.produce(topic, value=v, partition=i % parts)
                break
            except BufferError:
                p.poll(0.1)
    if not commit:
        p.flush(60)  # written first: abort_transaction drops unsent records
        p.abort_transaction(120)
        return False
    for _ in range(20):
        try:
            p.commit_transaction(120)
            return True
        except KafkaException as e:
            err = e.args[0]
            if err.retriable():
                continue
            if err.txn_requires_abort():
                p.abort_transaction(120)
                return False
            raise
    fail("commit_transaction kept failing")


# -- 1. committed and aborted across brokers -----------------------------------


def basic(cl):
    p = producer(cl, "tx-basic")
    committed, aborted = [], []
    for t in range(9):
        vals = [b"basic-%d-%d" % (t, k) for k in range(PARTS * 2)]
        if run_txn(p, vals, commit=t % 3 != 1):
            committed += vals
        else:
            aborted += vals
    p.flush(30)
    got = read_all(cl, TOPIC, "read_committed")
    count_result([v for v in got if v.startswith(b"basic-")], committed, aborted,
                 "committed and aborted transactions (read_committed)")
    allv = set(read_all(cl, TOPIC, "read_uncommitted"))
    missing = [v for v in committed + aborted if v not in allv]
    check(not missing, "read_uncommitted sees aborted records too (%d of %d missing: %s)"
          % (len(missing), len(committed + aborted), missing[:5]))
    leaders = {cl.wait_leader(TOPIC, q) for q in range(PARTS)}
    note("the topic's partitions are led by brokers %s" % sorted(leaders))

    # WriteTxnMarkers on the wire: the leader writes a marker, refuses an
    # older coordinator epoch of the same producer, and a follower refuses.
    leader = cl.wait_leader(TOPIC, 0)
    other = next(i for i in cl.live() if i != leader)
    pid = 987654321
    port = cl.broker(leader).port
    check(write_txn_markers(port, TOPIC, 0, pid, 0, 7) == 0,
          "WriteTxnMarkers at the leader of %s-0: NONE" % TOPIC)
    err = write_txn_markers(port, TOPIC, 0, pid, 0, 6)
    check(err == 52, "an older coordinator epoch: TRANSACTION_COORDINATOR_FENCED (got %d)" % err)
    err = write_txn_markers(cl.broker(other).port, TOPIC, 0, pid, 0, 8)
    check(err == 6, "at a follower: NOT_LEADER_OR_FOLLOWER (got %d)" % err)
    return p


# -- 2. the coordinator dies mid-stream -------------------------------------------


class Looper(threading.Thread):
    def __init__(self, cl, tid):
        super().__init__(daemon=True)
        self.cl = cl
        self.tid = tid
        self.committed, self.aborted = [], []
        self.done = 0
        self.error = None
        self.stopping = threading.Event()

    def run(self):
        try:
            p = producer(self.cl, self.tid)
            t = 0
            while not self.stopping.is_set():
                vals = [b"loop-%d-%d" % (t, k) for k in range(PARTS)]
                if run_txn(p, vals, commit=t % 4 != 3):
                    self.committed += vals
                else:
                    self.aborted += vals
                t += 1
                self.done = t
            p.flush(60)
        except Exception as e:  # reported by the test
            self.error = repr(e)


def coordinator_failover(cl):
    tid = "tx-loop"
    coord = coordinator_of(cl, tid)
    tp = java_partition(tid, TXN_PARTITIONS)
    note("%s lives in __transaction_state-%d, coordinated by broker %d" % (tid, tp, coord))
    loop = Looper(cl, tid)
    loop.start()
    cl.wait_for(lambda: loop.done >= 5 or loop.error, 60, "five transactions")
    if loop.error:
        fail("the transactional producer failed: %s" % loop.error)
    before = loop.done
    t0 = time.monotonic()
    cl.kill(coord)
    new = coordinator_of(cl, tid, not_in=(coord,))
    cl.wait_for(lambda: loop.done >= before + 5 or loop.error, 120,
                "five more transactions after the kill")
    note("coordinator %d SIGKILLed after %d transactions: broker %d took over, "
         "the producer went on (%.1f s to five more)" % (coord, before, new, time.monotonic() - t0))
    loop.stopping.set()
    loop.join(180)
    if loop.error:
        fail("the transactional producer failed: %s" % loop.error)
    got = read_all(cl, TOPIC, "read_committed")
    count_result([v for v in got if v.startswith(b"loop-")], loop.committed, loop.aborted,
                 "transactions across a coordinator SIGKILL (%d)" % loop.done)
    cl.restart(coord)
    cl.wait_brokers()
    return coord


# -- 3. a partition leader dies with a transaction open -------------------------------


def leader_failover(cl):
    tid = "tx-open"
    coord = coordinator_of(cl, tid)
    part = None
    for q in range(PARTS):
        cl.wait_isr(TOPIC, q, size=3, timeout=90)
        if cl.wait_leader(TOPIC, q) != coord:
            part = q
            break
    check(part is not None, "a partition not led by the coordinator %d" % coord)
    leader = cl.wait_leader(TOPIC, part)
    hw = lso(cl, TOPIC, part, "read_uncommitted")
    p = producer(cl, tid)
    p.begin_transaction()
    vals = [b"open-%d" % k for k in range(20)]
    for v in vals:
        p.produce(TOPIC, value=v, partition=part)
    p.flush(30)
    cl.wait_for(lambda: lso(cl, TOPIC, part, "read_uncommitted") >= hw + len(vals), 30,
                "the open transaction's records below the high watermark")
    check(lso(cl, TOPIC, part) == hw, "the LSO of %s-%d waits at %d, the open transaction's start"
          % (TOPIC, part, hw))
    cl.kill(leader)
    new = cl.wait_leader(TOPIC, part, not_in=(leader,))
    stuck = lso(cl, TOPIC, part)
    check(stuck == hw, "new leader %d of %s-%d keeps the LSO at %d (got %d)"
          % (new, TOPIC, part, hw, stuck))
    p.commit_transaction(120)
    cl.wait_for(lambda: lso(cl, TOPIC, part) >= hw + len(vals) + 1, 30,
                "the LSO past the commit marker")
    got = read_all(cl, TOPIC, "read_committed")
    count_result([v for v in got if v.startswith(b"open-")], vals, [],
                 "a transaction open across its partition leader's SIGKILL")
    cl.restart(leader)
    cl.wait_brokers()


# -- 4. exactly once across a broker SIGKILL ----------------------------------------------

SRC, DST, N = "eos-in", "eos-out", 600


def eos(cl, victim):
    from confluent_kafka import Consumer, KafkaException, Producer

    cl.create_topic(SRC, partitions=3, replication=3)
    cl.create_topic(DST, partitions=3, replication=3)
    p = Producer({"bootstrap.servers": cl.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5, "log_level": 2})
    for i in range(N):
        p.produce(SRC, value=b"%d" % i, partition=i % 3)
    p.flush(60)
    c = Consumer({"bootstrap.servers": cl.bootstrap, "group.id": "eos-group",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "log_level": 2})
    c.subscribe([SRC])
    tp = producer(cl, "tx-eos")
    done, killed, batches = 0, False, 0
    deadline = time.monotonic() + 240
    while done < N and time.monotonic() < deadline:
        msgs = c.consume(50, 1.0)
        msgs = [m for m in msgs if not m.error()]
        if not msgs:
            continue
        tp.begin_transaction()
        for m in msgs:
            tp.produce(DST, value=b"out-" + m.value(), partition=m.partition())
        try:
            tp.send_offsets_to_transaction(c.position(c.assignment()),
                                           c.consumer_group_metadata(), 60)
            tp.commit_transaction(120)
            done += len(msgs)
        except KafkaException as e:
            if not e.args[0].txn_requires_abort() and not e.args[0].retriable():
                raise
            tp.abort_transaction(120)
            # Start again from the last committed offsets.
            committed = c.committed(c.assignment(), 30)
            for t in committed:
                c.seek(t)
        batches += 1
        if batches == 4 and not killed:
            cl.kill(victim)
            killed = True
            note("broker %d SIGKILLed in the middle of the pipeline" % victim)
    c.close()
    check(killed, "the broker was killed mid-stream")
    got = read_all(cl, DST, "read_committed", parts=3)
    want = [b"out-%d" % i for i in range(N)]
    count_result(got, want, [], "consume-transform-produce across a SIGKILL")


def body(ws):
    cl = cluster.Cluster(ws, settings=SETTINGS).start()
    cl.create_topic(TOPIC, partitions=PARTS, replication=3)
    for q in range(PARTS):
        cl.wait_leader(TOPIC, q)
    basic(cl)
    coord = coordinator_failover(cl)
    leader_failover(cl)
    eos(cl, coord)


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=600))
