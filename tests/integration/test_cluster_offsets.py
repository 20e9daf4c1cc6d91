#!/usr/bin/python3
"""A consumer group's coordinator fails over with __consumer_offsets.

Three collectors on a real ZooKeeper; __consumer_offsets has replication
factor 3 and is created by the first FindCoordinator. A confluent-kafka
consumer of group G reads a 4-partition topic and commits every few
records, then:

  1. FindCoordinator names the leader of G's partition of
     __consumer_offsets (Java's hash of G modulo the partition count), and
     the other brokers answer G's OffsetFetch with NOT_COORDINATOR;
  2. that leader is SIGKILLed: the coordinator moves to the new leader of
     the partition, which replays it, and OffsetFetch there returns every
     offset committed before the kill (none lost);
  3. the consumer goes on (it finds the new coordinator itself) and re-reads
     no more than it had consumed without committing at the kill;
  4. a second member joins after the failover and gets a share of the
     partitions; together they read the topic to its end;
  5. the killed broker restarts, follows the partition again and catches up
     (its copy ends byte-identical to the leader's); then the coordinator is
     SIGKILLed once more and the next one, a follower until then, has every
     commit made since the first failover.

Printed: the failover time, records re-read and lost in each phase.
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "offsets-events"
PARTITIONS = 4
COUNT = 3000
GROUP = "offsets-failover"
OFFSETS = "__consumer_offsets"
OFFSETS_PARTITIONS = 6
COMMIT_EVERY = 40

NOT_COORDINATOR = 16


def java_partition(group, partitions):
    """Kafka's partitionFor: abs(String.hashCode) % partitions (ASCII ids)."""
    h = 0
    for ch in group:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    h = 0 if h == -(1 << 31) else abs(h)
    return h % partitions


def find_coordinator(port, group, corr=7):
    """FindCoordinator v1 on a fresh connection: (error, node id)."""
    body = harness.kstring(group) + b"\x00"
    with harness.Conn(port) as c:
        c.send(harness.request(10, 1, corr, body))
        r = c.response(corr)
    pos = 4  # ThrottleTimeMs
    (err,) = struct.unpack_from(">h", r, pos)
    pos += 2
    (mlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + max(mlen, 0)
    (node,) = struct.unpack_from(">i", r, pos)
    return err, node


def offset_fetch(port, group, corr=9):
    """OffsetFetch v3 of TOPIC's partitions: (error, {partition: offset})."""
    body = harness.kstring(group) + struct.pack(">i", 1) + harness.kstring(TOPIC)
    body += struct.pack(">i", PARTITIONS) + b"".join(struct.pack(">i", p) for p in range(PARTITIONS))
    with harness.Conn(port) as c:
        c.send(harness.request(9, 3, corr, body))
        r = c.response(corr)
    pos = 4
    (nt,) = struct.unpack_from(">i", r, pos)
    pos += 4
    offsets = {}
    for _ in range(nt):
        (n,) = struct.unpack_from(">h", r, pos)
        pos += 2 + n
        (np_,) = struct.unpack_from(">i", r, pos)
        pos += 4
        for _ in range(np_):
            part, off = struct.unpack_from(">iq", r, pos)
            pos += 12
            (n,) = struct.unpack_from(">h", r, pos)
            pos += 2 + max(n, 0)
            pos += 2  # partition ErrorCode
            offsets[part] = off
    (err,) = struct.unpack_from(">h", r, pos)
    return err, offsets


class Member:
    """A subscribe()d consumer of GROUP that commits synchronously every COMMIT_EVERY records."""

    def __init__(self, cl, name, boot):
        from confluent_kafka import Consumer

        self.name = name
        self.seen = []  # values in the order consumed
        self.position = {}  # partition -> next offset (what a commit stores)
        self.committed = {}  # partition -> last offset acknowledged by a commit
        self.since_commit = 0
        self.commit_errors = 0
        self.c = Consumer({
            "bootstrap.servers": boot,
            "group.id": GROUP,
            "client.id": name,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
            "topic.metadata.refresh.interval.ms": 1000,
            "log_level": 2,
        })
        self.c.subscribe([TOPIC], on_revoke=self._revoked)

    def _revoked(self, consumer, parts):
        """Commits before a rebalance takes partitions away, and forgets them."""
        self.commit()
        for tp in parts:
            self.position.pop(tp.partition, None)
            self.committed.pop(tp.partition, None)

    def commit(self):
        """Commits the positions; returns True if the coordinator acknowledged them all."""
        from confluent_kafka import KafkaException, TopicPartition

        if not self.position or self.since_commit == 0:
            return True
        tps = [TopicPartition(TOPIC, p, o) for p, o in sorted(self.position.items())]
        try:
            res = self.c.commit(offsets=tps, asynchronous=False)
        except KafkaException as e:
            self.commit_errors += 1
            note("%s: commit failed: %s" % (self.name, e))
            return False
        if any(tp.error for tp in res):
            self.commit_errors += 1
            return False
        for tp in res:
            self.committed[tp.partition] = tp.offset
        self.since_commit = 0
        return True

    def poll(self, timeout=0.2, commit=True):
        m = self.c.poll(timeout)
        if m is None or m.error():
            return None
        self.seen.append(m.value())
        self.position[m.partition()] = m.offset() + 1
        self.since_commit += 1
        if commit and self.since_commit >= COMMIT_EVERY:
            self.commit()
        return m

    def assignment(self):
        return sorted(tp.partition for tp in self.c.assignment())

    def close(self):
        self.c.close()


def consume_until(cl, members, total, what, timeout=120, commit=True):
    """Polls the members in turn until together they have read 'total' records."""
    deadline = time.monotonic() + timeout
    while sum(len(m.seen) for m in members) < total:
        if time.monotonic() > deadline:
            fail("%s: read %d of %d records within %d s" %
                 (what, sum(len(m.seen) for m in members), total, timeout))
        cl.check_running()
        for m in members:
            m.poll(0.1, commit=commit)


def wait_coordinator(cl, not_in=(), timeout=60):
    """Asks every live broker until all name the same coordinator not in 'not_in'; returns it."""

    def ok():
        nodes = set()
        for i in cl.live():
            err, node = find_coordinator(cl.broker(i).port, GROUP)
            if err != 0:
                return None
            nodes.add(node)
        if len(nodes) != 1:
            return None
        node = nodes.pop()
        return node if node not in not_in else None

    return cl.wait_for(ok, timeout, "FindCoordinator(%s) names one broker not in %s" % (GROUP, list(not_in)))


def check_offsets(cl, coord, want, when):
    """OffsetFetch at the coordinator returns 'want'; every other live broker says NOT_COORDINATOR."""
    err, got = cl.wait_for(lambda: (lambda r: r if r[0] == 0 else None)(offset_fetch(cl.broker(coord).port, GROUP)),
                           30, "OffsetFetch at broker %d %s" % (coord, when))
    got = {p: o for p, o in got.items() if o >= 0}
    lost = {p: (o, got.get(p)) for p, o in want.items() if got.get(p, -1) < o}
    note("%s: OffsetFetch at coordinator %d: %s (last acknowledged commits %s)" % (when, coord, got, want))
    check(not lost, "%s: no acknowledged commit lost (lost: %s)" % (when, lost))
    for i in cl.live():
        if i != coord:
            err, _ = offset_fetch(cl.broker(i).port, GROUP)
            check(err == NOT_COORDINATOR, "%s: broker %d, not the coordinator, answers OffsetFetch with "
                  "NOT_COORDINATOR (got %d)" % (when, i, err))
    return got


def reread(before, after):
    """How many records of 'after' were already read in 'before'."""
    seen = set(before)
    return sum(1 for v in after if v in seen)


def body(ws):
    from confluent_kafka import Producer

    cl = cluster.Cluster(ws, settings={
        "offsets.topic.num.partitions": str(OFFSETS_PARTITIONS),
        "group.initial.rebalance.delay.ms": "500",
    }).start()
    cl.create_topic(TOPIC, partitions=PARTITIONS, replication=3)
    for p in range(PARTITIONS):
        cl.wait_isr(TOPIC, p, size=3)
    prod = Producer({"bootstrap.servers": cl.bootstrap, "acks": "all", "enable.idempotence": True,
                     "linger.ms": 5, "log_level": 2})
    for i in range(COUNT):
        prod.produce(TOPIC, value=b"%d" % i, partition=i % PARTITIONS)
        prod.poll(0)
    check(prod.flush(60) == 0, "every record produced")
    note("produced %d records to %d partitions" % (COUNT, PARTITIONS))

    # 1. The first FindCoordinator creates __consumer_offsets (RF 3); the
    #    coordinator is the leader of the group's partition.
    check(cl.metadata(OFFSETS) == {}, "%s does not exist before the first FindCoordinator" % OFFSETS)
    cl.wait_for(lambda: find_coordinator(cl.broker(1).port, GROUP)[0] == 0, 60,
                "FindCoordinator succeeds once %s has leaders" % OFFSETS)
    md = cl.metadata(OFFSETS)
    check(len(md) == OFFSETS_PARTITIONS and all(len(r) == 3 for _, r, _ in md.values()),
          "%s has %d partitions of 3 replicas (%s)" % (OFFSETS, OFFSETS_PARTITIONS, md))
    gp = java_partition(GROUP, OFFSETS_PARTITIONS)
    cl.wait_isr(OFFSETS, gp, size=3)
    coord = wait_coordinator(cl)
    leader = cl.wait_leader(OFFSETS, gp)
    check(coord == leader, "the coordinator (%d) is the leader of %s-%d (%d)" % (coord, OFFSETS, gp, leader))
    note("group %s lives in %s-%d, led by broker %d" % (GROUP, OFFSETS, gp, leader))

    a = Member(cl, "member-a", cl.bootstrap)
    consume_until(cl, [a], COUNT // 3, "member A before the kill")
    check(a.commit(), "member A's last commit before the kill is acknowledged")
    # A few records read and not committed: at most these may be read again.
    consume_until(cl, [a], COUNT // 3 + 25, "member A's uncommitted tail", commit=False)
    uncommitted = sum(a.position[p] - a.committed.get(p, 0) for p in a.position)
    committed_before = dict(a.committed)
    seen_before = list(a.seen)
    check_offsets(cl, coord, committed_before, "before the kill")

    # 2. SIGKILL the coordinator; the group moves with the partition.
    t0 = time.monotonic()
    cl.kill(coord)
    new = wait_coordinator(cl, not_in=(coord,))
    failover = time.monotonic() - t0
    check(new == cl.wait_leader(OFFSETS, gp, not_in=(coord,)),
          "the new coordinator %d leads %s-%d" % (new, OFFSETS, gp))
    got = check_offsets(cl, new, committed_before, "after the kill")
    note("coordinator %d SIGKILLed: broker %d coordinates %s after %.1f s" % (coord, new, GROUP, failover))
    check(got == committed_before, "the new coordinator has exactly the offsets committed before the kill")

    # 3. The member carries on at the new coordinator.
    consume_until(cl, [a], 2 * COUNT // 3, "member A after the failover", timeout=180)
    check(a.commit(), "member A commits at the new coordinator")
    after = a.seen[len(seen_before):]
    again = reread(seen_before, after)
    note("member A after the failover: read %d more, %d of them again (uncommitted at the kill: %d), "
         "%d commit errors" % (len(after), again, uncommitted, a.commit_errors))
    check(again <= uncommitted, "member A re-read at most what it had not committed (%d <= %d)"
          % (again, uncommitted))

    # 4. A second member joins after the failover and gets a share.
    b = Member(cl, "member-b", cl.bootstrap)
    seen_a = len(a.seen)

    def shared():
        for m in (a, b):
            m.poll(0.1)
        pa, pb = a.assignment(), b.assignment()
        return (pa, pb) if pa and pb and sorted(pa + pb) == list(range(PARTITIONS)) else None

    pa, pb = cl.wait_for(shared, 90, "the two members to share the partitions", interval=0)
    note("after the failover member A holds %s, member B %s" % (pa, pb))
    deadline = time.monotonic() + 120
    while len(set(a.seen) | set(b.seen)) < COUNT and time.monotonic() < deadline:
        cl.check_running()
        a.poll(0.1)
        b.poll(0.1)
    for m in (a, b):
        check(m.commit(), "%s commits its last position" % m.name)
    everything = set(a.seen) | set(b.seen)
    lost = COUNT - len(everything & {b"%d" % i for i in range(COUNT)})
    dup_join = len(a.seen) + len(b.seen) - len(set(a.seen) | set(b.seen)) - again
    note("with two members: A read %d more, B read %d; records never read %d, read twice around B's "
         "join %d" % (len(a.seen) - seen_a, len(b.seen), lost, dup_join))
    check(lost == 0, "every record was read")
    final = {p: COUNT // PARTITIONS for p in range(PARTITIONS)}
    check_offsets(cl, new, final, "both members done")

    # 5. The old coordinator comes back as a follower and catches up; then the
    #    current coordinator dies too and a former follower takes over.
    cl.restart(coord)
    cl.wait_brokers()
    cl.wait_isr(OFFSETS, gp, size=3, timeout=60)
    cur = cl.wait_leader(OFFSETS, gp)
    check(cur != coord, "broker %d came back as a follower of %s-%d" % (coord, OFFSETS, gp))
    cl.wait_for(lambda: cluster.partition_log(cl.broker(coord), OFFSETS, gp)
                == cluster.partition_log(cl.broker(cur), OFFSETS, gp),
                60, "broker %d's copy of %s-%d to match the leader's" % (coord, OFFSETS, gp))
    note("broker %d restarted, back in the ISR of %s-%d with a byte-identical copy"
         % (coord, OFFSETS, gp))
    harness.close_client(a, "member A")
    harness.close_client(b, "member B")
    t0 = time.monotonic()
    cl.kill(cur)
    third = wait_coordinator(cl, not_in=(cur,))
    note("coordinator %d SIGKILLed: broker %d coordinates %s after %.1f s"
         % (cur, third, GROUP, time.monotonic() - t0))
    got = check_offsets(cl, third, final, "after the second kill")
    check(got == final, "the third coordinator has every commit made since the first failover")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=600))
