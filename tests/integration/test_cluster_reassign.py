#!/usr/bin/python3
"""Expansion: a fourth collector joins and takes over partitions while
producers and consumers keep running.

Three collectors on a real ZooKeeper hold a topic of 3 partitions with
replication factor 3 (min.insync.replicas=2). An idempotent acks=all
producer (confluent-kafka) writes without pause and a consumer group reads
along. Then:

  1. broker 4 starts; `tributary cluster reassign --execute --throttle`
     moves one replica of every partition onto it, replacing in partition 0
     its leader (so leadership must move too); the throttle is set on every
     broker in ZooKeeper; `--verify` exits non-zero while the move runs and
     0 once every partition has exactly its planned replicas, all in sync,
     and then removes the throttle. The replaced replicas' copies are
     deleted, the new ones are byte-identical to the leaders'. Partition 1
     first loses its head to DeleteRecords, so its new replica must start at
     the leader's log start.
  2. `tributary cluster rebalance --execute` spreads replicas and preferred
     leaders over the four brokers: each holds 2 or 3 of the 9 replicas.
  3. A move onto a paused broker cannot finish: ListPartitionReassignments
     shows it; `--cancel` puts the partition back.
  4. A plan written to /admin/reassign_partitions (the path Kafka's older
     tools write) is carried out too.
  5. The preferred leader of a partition is killed and restarted: another
     broker leads; `tributary cluster elect-leaders` gives the leadership
     back to it.

The producer must see no failed delivery, every acknowledged record is read
back exactly once and in order, and the consumer group saw every record.
"""

import json
import os
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "moving"
PARTS = 3


def tributary(cl, *args, timeout=60):
    argv = [os.path.join(harness.builddir(), "tools", "tributary")] + list(args)
    if "-b" not in args:
        argv += ["-b", cl.bootstrap]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def delete_records(port, topic, partition, offset, correlation_id=7):
    """DeleteRecords v1 (raw: the client libraries here have no call for it)."""
    body = (struct.pack(">i", 1) + harness.kstring(topic) +
            struct.pack(">iiqi", 1, partition, offset, 10000))
    with harness.Conn(port) as c:
        c.send(harness.request(21, 1, correlation_id, body))
        resp = c.response(correlation_id)
    (nlen,) = struct.unpack_from(">h", resp, 8)
    (_, _, low, err) = struct.unpack_from(">iiqh", resp, 10 + nlen)
    return low, err


def plan_file(ws, name, parts):
    path = os.path.join(ws.path, name)
    with open(path, "w") as f:
        json.dump({"version": 1, "partitions": [
            {"topic": t, "partition": p, "replicas": r} for t, p, r in parts]}, f)
    return path


def replicas(cl, topic, partition):
    return cl.metadata(topic)[partition][1]


def wait_verified(cl, plan, what, timeout=90):
    """Polls --verify; returns (seconds, whether it ever said 'still going')."""
    t0 = time.time()
    saw_going = False
    while time.time() - t0 < timeout:
        r = tributary(cl, "cluster", "reassign", "--plan", plan, "--verify")
        if r.returncode == 0:
            return time.time() - t0, saw_going
        if r.returncode != 1 or "still going" not in r.stdout:
            fail("--verify of %s: exit %d\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
        saw_going = True
        time.sleep(0.5)
    fail("%s not done after %d s:\n%s%s" % (what, timeout, r.stdout, views(cl)))


def views(cl):
    """{broker: {(topic, partition): (leader, replicas, isr)}} as each sees it."""
    from confluent_kafka.admin import AdminClient

    out = {}
    for b in cl.live():
        md = AdminClient({"bootstrap.servers": cl.broker(b).broker}).list_topics(timeout=10)
        out[b] = {(t.topic, p.id): (p.leader, list(p.replicas), list(p.isrs))
                  for t in md.topics.values() if not t.topic.startswith("__")
                  for p in t.partitions.values()}
    return out


class GroupReader(threading.Thread):
    """A consumer-group member reading the topic along, counting values."""

    def __init__(self, boot):
        super().__init__(daemon=True)
        self.boot = boot
        self.seen = {}
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        from confluent_kafka import Consumer

        c = Consumer({"bootstrap.servers": self.boot, "group.id": "along",
                      "auto.offset.reset": "earliest", "log_level": 2,
                      "enable.auto.commit": True})
        c.subscribe([TOPIC])
        while not self.stopping.is_set():
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                self.errors.append(str(m.error()))
                continue
            self.seen[m.value()] = self.seen.get(m.value(), 0) + 1
        c.close()


def body(ws):
    cl = cluster.Cluster(ws, settings={"auto.leader.rebalance.enable": "false"}).start()
    cl.create_topic(TOPIC, partitions=PARTS, replication=3)
    for p in range(PARTS):
        cl.wait_isr(TOPIC, p, size=3)
    w = cluster.Writer(cl.bootstrap, TOPIC, partitions=PARTS)
    w.start()
    reader = GroupReader(cl.bootstrap)
    reader.start()
    cl.wait_for(lambda: len(w.acked) > 3000, timeout=60, what="3000 records acknowledged")

    # Partition 1 loses its first records (DeleteRecords moves the leader's
    # log start into the middle of a batch): a new replica must start where
    # the leader's log begins instead of asking for offset 0 forever.
    cut = 1001
    deleted = {v for o, v in cluster.read_partition(cl.bootstrap, TOPIC, 1) if o < cut}
    low, err = delete_records(cl.broker(cl.wait_leader(TOPIC, 1)).port, TOPIC, 1, cut)
    check(err == 0 and low == cut, "DeleteRecords moved partition 1's log start to %d "
          "(low %d, error %d)" % (cut, low, err))

    # 1. Broker 4 joins and takes one replica of every partition.
    new = cl.add_broker()
    check(new == 4, "broker 4 joined")
    before = {p: replicas(cl, TOPIC, p) for p in range(PARTS)}
    leader0 = cl.wait_leader(TOPIC, 0)
    moves, dropped = [], {}
    for p in range(PARTS):
        old = before[p]
        out = leader0 if p == 0 else old[-1]
        target = [4 if b == out else b for b in old]
        if p == 0:
            target = [4] + [b for b in old if b != out]
        moves.append((TOPIC, p, target))
        dropped[p] = out
    plan = plan_file(ws, "expand.json", moves)
    t0 = time.time()
    r = tributary(cl, "cluster", "reassign", "--plan", plan, "--execute",
                  "--throttle", "50000000")
    check(r.returncode == 0, "reassign --execute: exit %d %s%s" % (r.returncode, r.stdout, r.stderr))
    check('"replicas":[' in r.stdout, "--execute printed the current assignment for a rollback")
    throttles = {b: cl.znode("/config/brokers/%d" % b) for b in (1, 2, 3, 4)}
    check(all(z is not None and b"follower.replication.throttled.rate" in z
              and b"50000000" in z for z in throttles.values()),
          "--throttle set both rates on every broker in /config/brokers: %s" % throttles)
    secs, saw_going = wait_verified(cl, plan, "the expansion")
    zs = [cl.znode("/config/brokers/%d" % b) for b in (1, 2, 3, 4)]
    check(all(b"throttled" not in z for z in zs),
          "--verify removed the throttle once the move was done: %s" % zs)
    note("moved one replica of %d partitions onto broker 4 in %.1f s (%d records "
         "acknowledged so far, %d read by the group)" %
         (PARTS, time.time() - t0, len(w.acked), len(reader.seen)))
    check(saw_going, "--verify exited non-zero while the move was going")
    for p in range(PARTS):
        # Every broker's metadata follows the controller's UpdateMetadata.
        cl.wait_for(lambda p=p: replicas(cl, TOPIC, p) == moves[p][2], timeout=10,
                    what="partition %d has its planned replicas %s" % (p, moves[p][2]))
    new_leader0 = cl.wait_leader(TOPIC, 0)
    check(new_leader0 != leader0, "partition 0's leader %d, which left, handed over "
          "(now %d)" % (leader0, new_leader0))
    assignment = json.loads(cl.znode("/brokers/topics/%s" % TOPIC))
    check(assignment["adding_replicas"] == {} and assignment["removing_replicas"] == {},
          "the assignment znode shows no move left: %s" % assignment)
    # The replaced copies are deleted (or emptied) by StopReplica.
    for p in range(PARTS):
        d = cl.broker(dropped[p]).partition_dir(TOPIC, p)
        cl.wait_for(lambda d=d: not os.path.exists(d) or
                    all(os.path.getsize(os.path.join(d, f)) == 0
                        for f in os.listdir(d) if f.endswith(".log")),
                    timeout=20, what="broker %d's copy of %s-%d deleted" % (dropped[p], TOPIC, p))
    note("the replaced replicas' copies are gone")

    # A read-only broker setting is refused (test_cluster_dynconf.py has
    # the dynamic ones).
    from confluent_kafka.admin import ConfigResource
    admin = cl.admin()
    fs = admin.alter_configs([ConfigResource("broker", "1", set_config={
        "num.network.threads": "4"})])
    try:
        list(fs.values())[0].result(30)
        fail("a read-only broker setting was changed at run time")
    except Exception as e:
        check("Cannot update these configs dynamically: Set(num.network.threads)" in str(e),
              "a read-only broker setting is refused with Kafka's reason: %s" % e)

    # 2. Rebalance over the four brokers.
    r = tributary(cl, "cluster", "rebalance", "--plan-out", os.path.join(ws.path, "rb.json"),
                  "--execute")
    check(r.returncode == 0, "rebalance --execute: exit %d %s%s" % (r.returncode, r.stdout, r.stderr))
    note("rebalance: " + r.stderr.strip().splitlines()[0])
    wait_verified(cl, os.path.join(ws.path, "rb.json"), "the rebalance")
    load = {b: 0 for b in (1, 2, 3, 4)}
    topics_md = cl.cluster_metadata()
    for t in topics_md.topics.values():
        if t.topic.startswith("__"):
            continue
        for p in t.partitions.values():
            for b in p.replicas:
                load[b] += 1
    note("replicas per broker after the rebalance: %s" % load)
    check(max(load.values()) - min(load.values()) <= 1, "replicas spread evenly: %s" % load)
    r = tributary(cl, "cluster", "rebalance")
    check(r.returncode == 0 and "0 partitions change" in r.stderr,
          "a second rebalance proposes nothing: %s" % r.stderr)

    # 3. A move that cannot finish, then cancelled.
    # (A partition whose missing broker is not the controller, which must
    # keep answering.)
    ctrl = cl.controller_id()
    sp = [p for p in range(PARTS)
          if [b for b in (1, 2, 3, 4) if b not in replicas(cl, TOPIC, p)][0] != ctrl][0]
    cur = replicas(cl, TOPIC, sp)
    outsider = [b for b in (1, 2, 3, 4) if b not in cur][0]
    cl.pause(outsider)
    stuck = plan_file(ws, "stuck.json", [(TOPIC, sp, [outsider] + cur[1:])])
    r = tributary(cl, "cluster", "reassign", "--plan", stuck, "--execute")
    check(r.returncode == 0, "a move onto paused broker %d accepted: %s%s" %
          (outsider, r.stdout, r.stderr))
    time.sleep(2)
    r = tributary(cl, "cluster", "reassign", "--plan", stuck, "--verify")
    check(r.returncode == 1 and "in progress" in r.stdout,
          "--verify reports the move in progress: %s" % r.stdout)
    r = tributary(cl, "cluster", "reassign", "--plan", stuck, "--cancel")
    check(r.returncode == 0, "--cancel: exit %d %s%s" % (r.returncode, r.stdout, r.stderr))
    # Kafka's layout keeps the original replicas but not their order.
    cl.wait_for(lambda: sorted(replicas(cl, TOPIC, sp)) == sorted(cur), timeout=20,
                what="partition %d back on %s" % (sp, cur))
    r = tributary(cl, "cluster", "reassign", "--plan", stuck, "--verify")
    check(r.returncode == 1 and "not started" in r.stdout,
          "--verify of the cancelled plan says it is not there: %s" % r.stdout)
    note("a stuck move onto paused broker %d was cancelled; partition %d back on %s" %
         (outsider, sp, cur))
    cl.resume(outsider)
    # Its session may have expired while paused (--cancel waits for it to
    # remove the throttle there): the controller must see it back first, or
    # it refuses a plan naming it, as Kafka does ("not a live broker").
    cl.wait_settled(outsider)

    # 4. The legacy path: /admin/reassign_partitions.
    cur = replicas(cl, TOPIC, 2)
    swap = [b for b in (1, 2, 3, 4) if b not in cur][0]
    target = cur[:2] + [swap]
    cl.zk.create(cluster.CHROOT + "/admin/reassign_partitions",
                 json.dumps({"version": 1, "partitions": [
                     {"topic": TOPIC, "partition": 2, "replicas": target}]}).encode())
    cl.wait_for(lambda: replicas(cl, TOPIC, 2) == target, timeout=60,
                what="the /admin/reassign_partitions plan carried out")
    cl.wait_isr(TOPIC, 2, size=3, timeout=30)
    note("a plan written to /admin/reassign_partitions moved partition 2 to %s" % target)

    # 5. Preferred leader back with elect-leaders.
    # First over the whole cluster (the cancelled move left partition 0 led
    # by a replica that is no longer first in its list).
    r = tributary(cl, "cluster", "elect-leaders")
    check(r.returncode == 0, "elect-leaders of every partition: exit %d %s%s" %
          (r.returncode, r.stdout, r.stderr))
    pref = replicas(cl, TOPIC, 0)[0]
    cl.wait_for(lambda: cl.wait_leader(TOPIC, 0) == pref, timeout=30,
                what="partition 0 led by its preferred replica %d" % pref)
    cl.kill(pref)
    cl.wait_leader(TOPIC, 0, not_in=(pref,), timeout=30)
    cl.restart(pref)
    for p in range(PARTS):
        cl.wait_isr(TOPIC, p, size=3, timeout=60)
    # (Every broker's view follows the controller's UpdateMetadata.)
    cl.wait_for(lambda: all(views(cl)[b][(TOPIC, 0)][0] != pref for b in cl.live()),
                timeout=10, what="after a restart the preferred replica %d follows "
                "(views: %s)" % (pref, views(cl)))
    r = tributary(cl, "cluster", "elect-leaders", "--topic", TOPIC)
    check(r.returncode == 0, "elect-leaders: exit %d %s%s" % (r.returncode, r.stdout, r.stderr))
    cl.wait_for(lambda: cl.wait_leader(TOPIC, 0) == pref, timeout=20,
                what="broker %d leading partition 0 again" % pref)
    note("elect-leaders gave partition 0 back to broker %d" % pref)

    w.stop()
    note("producer: %d sent, %d acknowledged, %d failed %s, worst latency %.2f s" %
         (w.sent, len(w.acked), w.failed, w.errors or "", w.worst))
    check(w.failed == 0 and w.unflushed == 0, "no delivery failed: %s" % w.errors)

    # Everything acknowledged is there once, in order, on every replica.
    lost = dup = disorder = 0
    total = 0
    for p in range(PARTS):
        got = cluster.read_partition(cl.bootstrap, TOPIC, p)
        vals = [v for _, v in got]
        total += len(vals)
        seqs = [cluster.Writer.seq(v) for v in vals]
        dup += len(vals) - len(set(vals))
        disorder += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
        want = {v for v, part in w.acked.items() if part == p and v not in deleted}
        lost += len(want - set(vals))
        leader = cl.wait_leader(TOPIC, p)
        ref = cluster.partition_log(cl.broker(leader), TOPIC, p)
        for b in replicas(cl, TOPIC, p):
            # A copy made after DeleteRecords starts at the leader's log start.
            cl.wait_for(lambda b=b: (lambda log: log and ref.endswith(log) and
                                     (p == 1 or log == ref))(
                                         cluster.partition_log(cl.broker(b), TOPIC, p)),
                        timeout=30, what="broker %d's copy of %s-%d identical" % (b, TOPIC, p))
    note("read back %d records: %d lost, %d duplicated, %d out of order" %
         (total, lost, dup, disorder))
    check(lost == 0 and dup == 0 and disorder == 0, "nothing lost, duplicated or reordered")
    wanted = [v for v in w.acked if v not in deleted]
    try:
        cl.wait_for(lambda: all(v in reader.seen for v in wanted), timeout=60,
                    what="the consumer group saw every acknowledged record")
    except harness.TestFailure:
        missing = sorted((w.acked[v], cluster.Writer.seq(v)) for v in wanted
                         if v not in reader.seen)
        note("the group missed %d records, e.g. %s; its errors: %s" %
             (len(missing), missing[:10], reader.errors[-5:]))
        raise
    reader.stopping.set()
    reader.join(30)
    note("the consumer group read %d distinct records along (%d errors)" %
         (len(reader.seen), len(reader.errors)))
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=600))
