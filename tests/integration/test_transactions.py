#!/usr/bin/python3
"""Transactions (KIP-98) with confluent-kafka's transactional API.

1. Committed, aborted and committed transactions across 3 partitions:
   read_committed consumers see the committed ones only, read_uncommitted
   all of them; kafka-python's read_committed consumer skips the aborted
   data too.
2. A second producer with the same transactional.id fences the first: its
   commit fails with a fatal error.
3. A producer SIGKILLed inside a transaction: the partition's last stable
   offset stays below its data until transaction.timeout.ms passes, then
   the coordinator aborts it and read_committed consumers move past it.
4. The collector is SIGKILLed with a transaction open; after the restart
   the coordinator state, the last stable offsets and the aborted
   transactions come back from the log.
5. kafkajs 2.2.4: its transactional producer, and its read_committed and
   read_uncommitted consumers.
6. Consume-transform-produce with send_offsets_to_transaction, the
   processor SIGKILLed half way and started again: every input record is
   in the committed output exactly once.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

from confluent_kafka import (  # noqa: E402
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTS = 3
SETS = {
    "log.cleaner.backoff.ms": "300",
    "transaction.state.log.num.partitions": "5",
    "offsets.topic.num.partitions": "5",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "500",
    "group.initial.rebalance.delay.ms": "0",
}

# A transactional producer that opens a transaction, writes, flushes, says
# so on stdout and then waits to be killed.
HANGING = r"""
import sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[2],
              "transaction.timeout.ms": int(sys.argv[4])})
p.init_transactions(30)
p.begin_transaction()
for i in range(20):
    p.produce(sys.argv[3], value=b"hanging-%d" % i, partition=i % 3)
p.flush(30)
print("open", flush=True)
time.sleep(600)
"""

# Consume-transform-produce: reads 'in', writes "out-<value>" to 'out' in
# transactions with the consumer's offsets, until it has caught up and
# nothing came for a few seconds.
PROCESSOR = r"""
import sys, time
from confluent_kafka import Consumer, Producer, TopicPartition
broker, src, dst, nparts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": broker, "group.id": "eos",
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "isolation.level": "read_committed", "session.timeout.ms": 6000})
p = Producer({"bootstrap.servers": broker, "transactional.id": "eos-processor",
              "transaction.timeout.ms": 10000})
p.init_transactions(30)
c.subscribe([src])
batches = 0


def caught_up():
    parts = c.assignment()
    if len(parts) < nparts:
        return False
    for tp in c.position(parts):
        hw = c.get_watermark_offsets(TopicPartition(src, tp.partition), 10)[1]
        if tp.offset < hw:
            return False
    return True


while True:
    msgs = c.consume(50, 1.0)
    msgs = [m for m in msgs if m.error() is None]
    if not msgs:
        if caught_up():
            break
        continue
    p.begin_transaction()
    for m in msgs:
        p.produce(dst, value=b"out-" + m.value(), partition=m.partition())
    p.send_offsets_to_transaction(c.position(c.assignment()),
                                  c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    batches += 1
    print("batch %d" % batches, flush=True)
    time.sleep(0.05)
print("done", flush=True)
c.close()
"""


def admin_create(broker, topics):
    admin = AdminClient({"bootstrap.servers": broker})
    futs = admin.create_topics([NewTopic(t, PARTS, 1) for t in topics], request_timeout=15)
    for t in topics:
        futs[t].result(timeout=20)


def txn_producer(broker, tid, **conf):
    p = Producer(dict({"bootstrap.servers": broker, "transactional.id": tid}, **conf))
    p.init_transactions(30)
    return p


def in_txn(p, topic, values, commit=True):
    p.begin_transaction()
    for i, v in enumerate(values):
        p.produce(topic, value=v, partition=i % PARTS)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)


def read_all(broker, topic, isolation, timeout=30.0, expect_eof=True):
    """Every record of the topic's partitions up to their end for 'isolation'."""
    c = Consumer({"bootstrap.servers": broker, "group.id": "reader-" + isolation,
                  "isolation.level": isolation, "enable.partition.eof": True,
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTS)])
        got, eof = [], set()
        deadline = time.monotonic() + timeout
        while len(eof) < PARTS and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                fail("%s consumer: %s" % (isolation, m.error()))
            eof.discard(m.partition())
            got.append(m.value())
        if expect_eof and len(eof) < PARTS:
            fail("%s consumer of %s did not reach the end of every partition" % (isolation, topic))
        return got
    finally:
        c.close()


def ends(broker, topic, isolation):
    c = Consumer({"bootstrap.servers": broker, "group.id": "ends", "isolation.level": isolation})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTS)]
    finally:
        c.close()


def vals(prefix, n):
    return [b"%s-%d" % (prefix.encode(), i) for i in range(n)]


def check_basic(broker, topic):
    committed = sorted(vals("c1", 60) + vals("c2", 30))
    got = sorted(read_all(broker, topic, "read_committed"))
    check(got == committed, "read_committed sees the %d committed records and none of the aborted (%d)"
          % (len(committed), len(got)))
    allv = sorted(vals("c1", 60) + vals("a1", 45) + vals("c2", 30))
    got = sorted(read_all(broker, topic, "read_uncommitted"))
    check(got == allv, "read_uncommitted sees all %d records, aborted ones too (%d)" % (len(allv), len(got)))


def kafka_python_check(broker, topic):
    try:
        from kafka import KafkaConsumer, TopicPartition as KTP
    except ImportError:
        note("kafka-python not installed: skipped")
        return
    try:
        c = KafkaConsumer(bootstrap_servers=broker, isolation_level="read_committed",
                          enable_auto_commit=False, consumer_timeout_ms=3000)
    except Exception as e:  # kafka-python before 2.1 has no isolation_level
        note("this kafka-python has no read_committed consumer (%s): skipped" % e)
        return
    tps = [KTP(topic, p) for p in range(PARTS)]
    c.assign(tps)
    c.seek_to_beginning()
    got = sorted(m.value for m in c)
    c.close()
    want = sorted(vals("c1", 60) + vals("c2", 30))
    check(got == want, "kafka-python read_committed skips the aborted records (%d of %d)" % (len(got), len(want)))


def describe_producers(port, topic):
    """DescribeProducers v0 over a raw socket: {partition: [(pid, epoch, txn_start)]}."""
    body = (harness.uvarint(2) + harness.compact_string(topic) + harness.uvarint(PARTS + 1)
            + b"".join(struct.pack(">i", p) for p in range(PARTS)) + b"\x00" + b"\x00")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(harness.request(61, 0, 7, body, flexible=True))
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                fail("DescribeProducers: connection closed")
            data += chunk
    pos = 4 + 4 + 1  # size, correlation id, header tags
    pos += 4  # throttle
    ntopics, pos = harness.read_uvarint(data, pos)
    out = {}
    for _ in range(ntopics - 1):
        n, pos = harness.read_uvarint(data, pos)
        pos += n - 1
        nparts, pos = harness.read_uvarint(data, pos)
        for _ in range(nparts - 1):
            part, err = struct.unpack(">ih", data[pos:pos + 6])
            pos += 6
            n, pos = harness.read_uvarint(data, pos)  # error message
            pos += max(n - 1, 0)
            nprod, pos = harness.read_uvarint(data, pos)
            prods = []
            for _ in range(nprod - 1):
                pid, epoch, seq, ts, cepoch, start = struct.unpack(">qiiqiq", data[pos:pos + 36])
                pos += 36 + 1
                prods.append((pid, epoch, start))
            pos += 1
            check(err == 0, "DescribeProducers %s-%d: error %d" % (topic, part, err))
            out[part] = prods
        pos += 1
    return out


def raw_call(port, api_key, version, body):
    """One flexible request over a raw socket; returns the response body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(harness.request(api_key, version, 9, body, flexible=True))
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                fail("api %d: connection closed" % api_key)
            data += chunk
    return data[4 + 4 + 1:]  # size, correlation id, header tags


def offset_fetch_stable(port, group, topic, partition):
    """OffsetFetch v7 with require_stable: (offset, partition error)."""
    body = (harness.compact_string(group) + harness.uvarint(2) + harness.compact_string(topic)
            + harness.uvarint(2) + struct.pack(">i", partition) + b"\x00" + b"\x01" + b"\x00")
    data = raw_call(port, 9, 7, body)
    pos = 4
    _, pos = harness.read_uvarint(data, pos)  # topics
    n, pos = harness.read_uvarint(data, pos)
    pos += n - 1
    _, pos = harness.read_uvarint(data, pos)  # partitions
    part, offset, _epoch = struct.unpack(">iqi", data[pos:pos + 16])
    pos += 16
    n, pos = harness.read_uvarint(data, pos)
    pos += max(n - 1, 0)
    (err,) = struct.unpack(">h", data[pos:pos + 2])
    return offset, err


def pending_offsets(broker, port, topic):
    c = Consumer({"bootstrap.servers": broker, "group.id": "pending-group"})
    p = txn_producer(broker, "pending-id")
    p.begin_transaction()
    p.produce(topic, value=b"with-offsets", partition=0)
    p.send_offsets_to_transaction([TopicPartition(topic, 1, 42)], c.consumer_group_metadata(), 30)
    off, err = offset_fetch_stable(port, "pending-group", topic, 1)
    check(err == 88 and off == -1,
          "OffsetFetch v7 require_stable while the transaction is open: UNSTABLE_OFFSET_COMMIT (%d, offset %d)" % (err, off))
    p.commit_transaction(30)
    off, err = offset_fetch_stable(port, "pending-group", topic, 1)
    check(err == 0 and off == 42, "after the commit: offset %d (error %d)" % (off, err))
    got = c.committed([TopicPartition(topic, 1)], timeout=10)[0].offset
    check(got == 42, "librdkafka committed() reads the transaction's offset: %d" % got)
    c.close()


def cli(broker, *args):
    tool = os.path.join(harness.builddir(), "tools", "tributary")
    r = subprocess.run([tool, "transactions"] + list(args) + ["-b", broker],
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def cli_checks(broker, hanging_pid_open):
    rc, out, _ = cli(broker, "list", "--json")
    listed = {t["transactional_id"]: t for t in json.loads(out)}
    check(rc == 0 and listed.get("basic-id", {}).get("state") == "CompleteCommit",
          "tributary transactions list: basic-id is CompleteCommit (%d ids)" % len(listed))
    rc, out, _ = cli(broker, "list", "--state", "Ongoing", "--json")
    ongoing = [t["transactional_id"] for t in json.loads(out)]
    check(rc == 0 and ongoing == (["hanging-id"] if hanging_pid_open else []),
          "list --state Ongoing: %s" % ongoing)
    rc, out, _ = cli(broker, "describe", "--json", "hanging-id")
    d = json.loads(out)[0]
    check(rc == 0 and sorted(p["partition"] for p in d["partitions"]) == list(range(PARTS))
          and d["state"] == "Ongoing" and d["start_ms"] > 0,
          "describe hanging-id: Ongoing on %d partitions of txn-hang, epoch %d" % (len(d["partitions"]), d["producer_epoch"]))
    rc, _, err = cli(broker, "describe", "no-such-id")
    check(rc == 4 and "TRANSACTIONAL_ID_NOT_FOUND" in err, "describe of an unknown id: exit 4, %s" % err.strip())


def kafkajs_check(broker, topic):
    modules = harness.require_kafkajs("test_transactions")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_transactions_kafkajs.js")
    env = dict(os.environ, NODE_PATH=modules, TR_BROKER=broker, TR_TOPIC=topic)
    r = subprocess.run(["node", script], env=env, capture_output=True, timeout=180)
    out = r.stdout.decode()
    for line in out.splitlines():
        if line.startswith("ok - "):
            note("kafkajs: " + line[5:])
    check(r.returncode == 0 and "PASS" in out,
          "kafkajs 2.2.4 transactions and read_committed consumer%s"
          % ("" if r.returncode == 0 else ": " + out[-2000:] + r.stderr.decode()[-2000:]))


def fencing(broker, topic):
    p1 = txn_producer(broker, "fenced-id")
    p1.begin_transaction()
    p1.produce(topic, value=b"zombie", partition=0)
    p1.flush(30)
    p2 = txn_producer(broker, "fenced-id")
    try:
        p1.produce(topic, value=b"zombie-2", partition=1)
        p1.commit_transaction(30)
        fail("the fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        check(err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
                                            KafkaError.PRODUCER_FENCED),
              "the first producer is fenced by the second: %s" % err)
    in_txn(p2, topic, [b"after-fence"])
    p2.flush(10)
    got = read_all(broker, topic, "read_committed")
    check(b"zombie" not in got and b"zombie-2" not in got and b"after-fence" in got,
          "the zombie's records are aborted, the new instance's committed")


def hanging(ws, broker, topic):
    script = ws.file("hanging.py")
    with open(script, "w") as f:
        f.write(HANGING)
    proc = subprocess.Popen([sys.executable, script, broker, "hanging-id", topic, "4000"],
                            stdout=subprocess.PIPE)
    line = proc.stdout.readline()
    check(line.strip() == b"open", "a producer opened a transaction and wrote 20 records")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    hw = ends(broker, topic, "read_uncommitted")
    lso = ends(broker, topic, "read_committed")
    note("after the kill: high watermarks %s, last stable offsets %s" % (hw, lso))
    check(all(l < h for l, h in zip(lso, hw)), "the open transaction holds every last stable offset below the high watermark")
    return hw


def wait_stable(broker, topic, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ends(broker, topic, "read_committed") == ends(broker, topic, "read_uncommitted"):
            return
        time.sleep(0.5)
    fail("the last stable offsets of %s did not reach the high watermarks" % topic)


def eos(ws, broker, src, dst, n=1500):
    p = Producer({"bootstrap.servers": broker, "enable.idempotence": True, "linger.ms": 5})
    for i in range(n):
        p.produce(src, value=b"%d" % i, partition=i % PARTS)
    p.flush(30)
    script = ws.file("processor.py")
    with open(script, "w") as f:
        f.write(PROCESSOR)
    proc = subprocess.Popen([sys.executable, script, broker, src, dst, str(PARTS)], stdout=subprocess.PIPE,
                            stderr=open(ws.file("processor.stderr"), "ab"))
    # Kill it after a few committed transactions, in the middle of its work.
    for _ in range(8):
        line = proc.stdout.readline()
        if not line:
            fail("the processor exited early")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    note("processor SIGKILLed after 8 transactions")
    proc = subprocess.Popen([sys.executable, script, broker, src, dst, str(PARTS)], stdout=subprocess.PIPE,
                            stderr=open(ws.file("processor.stderr"), "ab"))
    out, _ = proc.communicate(timeout=180)
    check(out.strip().endswith(b"done"), "the restarted processor caught up and stopped")
    got = read_all(broker, dst, "read_committed")
    want = sorted(b"out-%d" % i for i in range(n))
    dupes = len(got) - len(set(got))
    check(sorted(got) == want, "each of the %d inputs is in the committed output exactly once "
          "(%d records, %d duplicates)" % (n, len(got), dupes))
    allv = read_all(broker, dst, "read_uncommitted")
    note("read_uncommitted output: %d records (aborted work of the killed processor included)" % len(allv))


def control_batches(data_dir, topic):
    """The (producer id, base offset) of every control batch in the
    topic's segment files, read from the batch headers."""
    found = []
    for p in range(PARTS):
        d = os.path.join(data_dir, "%s-%d" % (topic, p))
        for name in sorted(os.listdir(d)):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            pos = 0
            while pos + 61 <= len(data):
                base, length = struct.unpack_from(">qi", data, pos)
                (attrs,) = struct.unpack_from(">h", data, pos + 21)
                (pid,) = struct.unpack_from(">q", data, pos + 43)
                if attrs & 0x20:
                    found.append((pid, base))
                pos += 12 + length
    return found


def compacted(ws, col, topic):
    """The cleaner on a compacted topic with transactions: aborted data and
    the markers of transactions left without data go; read_committed
    still sees exactly the committed records, also those a producer
    commits after its abort marker went, and after a restart."""
    b = col.broker
    admin = AdminClient({"bootstrap.servers": b})
    conf = {"cleanup.policy": "compact", "segment.bytes": "2048", "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100", "min.compaction.lag.ms": "0"}
    admin.create_topics([NewTopic(topic, PARTS, 1, config=conf)])[topic].result(timeout=20)

    def keyed(p, prefix, keys, commit=True, kp="k"):
        p.begin_transaction()
        for i in range(keys):
            p.produce(topic, key=b"%s%d" % (kp.encode(), i), value=b"%s-%d" % (prefix.encode(), i),
                      partition=i % PARTS)
        p.flush(30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)

    p = txn_producer(b, "compact-id")
    keyed(p, "old", 30)                 # superseded below: no data left
    keyed(p, "aborted", 30, commit=False)
    keyed(p, "new", 30)
    other = txn_producer(b, "compact-other")
    before = control_batches(col.data_dir, topic)
    mine = {pid for pid, _ in before}
    check(len(mine) == 1, "one producer's markers so far: %s" % mine)
    mine = mine.pop()
    n_before = len(before)

    def markers_left():
        return len([1 for pid, _ in control_batches(col.data_dir, topic) if pid == mine])

    # Another producer's transactions (keys of their own) roll segments
    # and make the log dirty, so the cleaner runs again and again, until
    # the markers are older than delete.retention.ms.
    r = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and markers_left() > PARTS:
        keyed(other, "filler", 30, kp="f")
        r += 1
        time.sleep(0.2)
    n_after = markers_left()
    check(n_after == PARTS,
          "the cleaner removed the markers of the transactions left without data (%d -> %d; %d filler "
          "transactions)" % (n_before, n_after, r))

    want = {b"new-%d" % i for i in range(30)} | {b"filler-%d" % i for i in range(30)}
    check(set(read_all(b, topic, "read_committed")) == want, "read_committed sees the latest committed values")
    check(set(read_all(b, topic, "read_uncommitted")) == want, "aborted and superseded data are gone")
    # The producer whose ABORT marker went commits again: all of it is
    # seen (a consumer told of an aborted transaction without its marker
    # would drop this producer's later records).
    keyed(p, "later", 30)
    later = {b"later-%d" % i for i in range(30)}
    allowed = later | want

    def committed_ok(what):
        got = set(read_all(b, topic, "read_committed"))
        check(later <= got and got <= allowed,
              "%s: %d of 30 later records, %d unexpected" % (what, len(later & got), len(got - allowed)))

    committed_ok("a transaction committed after the producer's ABORT marker went is read whole")
    p.flush(10)
    other.flush(10)
    del p, other
    col.stop(sig=signal.SIGKILL, check_clean=False)
    col.restart()
    committed_ok("the same after a SIGKILL and a restart")


def run(ws):
    col = ws.collector(sets=SETS).start()
    b = col.broker
    admin_create(b, ["txn", "txn-fence", "txn-hang", "eos-in", "eos-out", "txn-kafkajs"])

    p = txn_producer(b, "basic-id")
    in_txn(p, "txn", vals("c1", 60))
    in_txn(p, "txn", vals("a1", 45), commit=False)
    in_txn(p, "txn", vals("c2", 30))
    check_basic(b, "txn")
    kafka_python_check(b, "txn")

    fencing(b, "txn-fence")
    pending_offsets(b, col.port, "txn-fence")
    kafkajs_check(b, "txn-kafkajs")

    hw = hanging(ws, b, "txn-hang")
    cli_checks(b, True)
    prods = describe_producers(col.port, "txn-hang")
    check(all(len(prods[p]) == 1 and prods[p][0][2] == 0 for p in range(PARTS)),
          "DescribeProducers: one producer per partition with its open transaction at offset 0: %s" % prods)
    wait_stable(b, "txn-hang")
    lso = ends(b, "txn-hang", "read_committed")
    check(all(l > h for l, h in zip(lso, hw)), "after transaction.timeout.ms the coordinator aborted it "
          "(markers written, last stable offsets %s)" % lso)
    check(read_all(b, "txn-hang", "read_committed") == [], "read_committed sees nothing of the hanging transaction")

    # 4. A transaction open when the collector is SIGKILLed.
    p.begin_transaction()
    for i in range(9):
        p.produce("txn", value=b"open-%d" % i, partition=i % PARTS)
    p.flush(30)
    hw_before = ends(b, "txn", "read_uncommitted")
    lso_before = ends(b, "txn", "read_committed")
    col.stop(sig=signal.SIGKILL, check_clean=False)
    col.restart()
    note("collector SIGKILLed with a transaction open, restarted")
    check(ends(b, "txn", "read_uncommitted") == hw_before, "high watermarks survive: %s" % hw_before)
    check(ends(b, "txn", "read_committed") == lso_before,
          "last stable offsets come back below the open transaction: %s" % lso_before)
    check_basic_after = sorted(read_all(b, "txn", "read_committed", expect_eof=True))
    check(check_basic_after == sorted(vals("c1", 60) + vals("c2", 30)),
          "after the restart read_committed still sees only the committed records (aborted index rebuilt)")
    try:
        p.commit_transaction(30)
        note("the old producer's commit went through after the restart")
        committed_open = True
    except KafkaException as e:
        note("the old producer's commit failed after the restart: %s" % e)
        committed_open = False
    wait_stable(b, "txn")
    got = sorted(read_all(b, "txn", "read_committed"))
    want = sorted(vals("c1", 60) + vals("c2", 30) + (vals("open", 9) if committed_open else []))
    check(got == want, "the transaction open at the kill is %s and read_committed agrees (%d records)"
          % ("committed" if committed_open else "aborted", len(got)))
    p2 = txn_producer(b, "basic-id")
    in_txn(p2, "txn", vals("c3", 12))
    got = sorted(read_all(b, "txn", "read_committed"))
    check(got == sorted(want + vals("c3", 12)), "the coordinator state came back: the id's next instance commits")

    eos(ws, b, "eos-in", "eos-out")
    compacted(ws, col, "txn-compact")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
