#!/usr/bin/python3
"""Real clients produce through a leader's SIGKILL; nothing acknowledged is lost.

Three collectors and a real ZooKeeper; one topic with replication factor 3
and min.insync.replicas=2. Three real clients write numbered records to its
one partition at the same time, each with its own prefix:

  kafka-python  KafkaProducer(acks='all', retries, one request in flight):
                no idempotence, so a retried batch whose first answer was
                lost may be written twice;
  kafkajs       an idempotent producer (acks=-1, one request in flight),
                run by node (test_cluster_clients.js);
  kcat          -P -X acks=all, lines fed to its stdin (librdkafka's
                defaults otherwise: not idempotent).

While they write, the partition's leader is SIGKILLed; another ISR member
takes over, the writers carry on through it, and the killed broker is
restarted and rejoins the ISR; then the same again to the new leader. Then the partition is read back through the
new leader with kafka-python and with kcat -C (the two must agree), and
counted per client: an acknowledged record missing is a failure for every
client; duplicates are reported, and are a failure only for the idempotent
kafkajs; the order of first appearances must follow the order sent for the
clients that promise it (kafkajs, and kafka-python with one request in
flight). Last, DescribeLogDirs on each broker (kafka-python, and
`tributary topics describe --json`) must report for every replica the size
of its segment files on disk, all three equal once the followers caught up.
"""

import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOPIC = "clients"


class KafkaPythonWriter(threading.Thread):
    """kafka-python: acks='all', retries, one request in flight."""

    def __init__(self, boot):
        super().__init__(daemon=True)
        self.boot = boot
        self.acked = []
        self.failed = {}
        self.sent = 0
        self.stopping = threading.Event()

    def run(self):
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=self.boot.split(","), acks="all", retries=1000,
                          retry_backoff_ms=200, request_timeout_ms=30000,
                          max_in_flight_requests_per_connection=1, linger_ms=5,
                          reconnect_backoff_max_ms=1000, max_block_ms=60000)
        lock = threading.Lock()

        def ok(seq):
            def cb(_md):
                with lock:
                    self.acked.append(seq)
            return cb

        def bad(seq):
            def cb(e):
                with lock:
                    self.failed[type(e).__name__] = self.failed.get(type(e).__name__, 0) + 1
            return cb

        while not self.stopping.is_set():
            seq = self.sent
            f = p.send(TOPIC, value=b"kp-%d" % seq, partition=0)
            f.add_callback(ok(seq))
            f.add_errback(bad(seq))
            self.sent += 1
            time.sleep(0.004)
        p.flush(120)
        p.close(30)


class KcatWriter:
    """kcat -P -X acks=all, one line at a time on its stdin."""

    def __init__(self, ws, boot):
        self.stderr_path = ws.file("kcat-producer.stderr")
        self.proc = subprocess.Popen(
            ["kcat", "-b", boot, "-P", "-t", TOPIC, "-p", "0", "-X", "acks=all",
             "-X", "message.timeout.ms=120000"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=open(self.stderr_path, "wb"), preexec_fn=harness._die_with_parent)
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.feed, daemon=True)
        self.thread.start()

    def feed(self):
        while not self.stopping.is_set():
            self.proc.stdin.write(b"kcat-%d\n" % self.sent)
            self.proc.stdin.flush()
            self.sent += 1
            time.sleep(0.004)

    def stop(self):
        """Closes stdin; kcat delivers what it has and exits. Returns (rc, failures)."""
        self.stopping.set()
        self.thread.join(10)
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(150)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("kcat -P did not exit within 150 s of its stdin closing")
        with open(self.stderr_path, "rb") as f:
            err = f.read().decode(errors="replace")
        failures = err.count("Delivery failed")
        if failures:
            note("kcat stderr: %s" % harness.tail(err.encode(), 10))
        return rc, failures


class KafkajsWriter:
    def __init__(self, ws, boot, modules):
        self.out = ws.file("kafkajs.acks")
        self.stop_path = ws.file("kafkajs.stop")
        open(self.out, "w").close()
        env = dict(os.environ, NODE_PATH=modules, KAFKAJS_NO_PARTITIONER_WARNING="1")
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "test_cluster_clients.js"), boot, TOPIC, self.out, self.stop_path],
            env=env, stdin=subprocess.DEVNULL, stdout=open(ws.file("kafkajs.stderr"), "wb"),
            stderr=subprocess.STDOUT, preexec_fn=harness._die_with_parent)

    def lines(self):
        with open(self.out) as f:
            return [l.split(" ", 3) for l in f.read().splitlines()]

    def acked(self):
        out = []
        for l in self.lines():
            if l[0] == "ack":
                out.extend(range(int(l[1]), int(l[2]) + 1))
        return out

    def stop(self):
        open(self.stop_path, "w").close()
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the kafkajs producer did not stop within 120 s")
        lines = self.lines()
        check(lines and lines[-1] == ["done"], "the kafkajs producer finished (%s)" % lines[-1:])
        return [l for l in lines if l[0] == "fail"]


def read_kafka_python(boot):
    """Every record of the partition through kafka-python: [(offset, value)]."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=boot.split(","), enable_auto_commit=False,
                      consumer_timeout_ms=5000, request_timeout_ms=30000)
    tp = TopicPartition(TOPIC, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    end = c.end_offsets([tp])[tp]
    got = []
    deadline = time.monotonic() + 60
    while (not got or got[-1][0] < end - 1) and time.monotonic() < deadline:
        for batch in c.poll(timeout_ms=1000).values():
            got.extend((m.offset, m.value) for m in batch)
    c.close()
    return got


def read_kcat(boot):
    p = subprocess.run(["kcat", "-b", boot, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e", "-q",
                        "-X", "check.crcs=true", "-f", "%o %s\\n"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    check(p.returncode == 0, "kcat -C read the partition back (%s)" % p.stderr.decode(errors="replace")[-300:])
    out = []
    for line in p.stdout.decode().splitlines():
        o, v = line.split(" ", 1)
        out.append((int(o), v.encode()))
    return out


def tally(name, prefix, values, acked, idempotent, ordered, sent):
    """Counts one client's records; fails on loss (and as its promises say)."""
    seqs = [int(v[len(prefix):]) for v in values if v.startswith(prefix)]
    seen = set(seqs)
    lost = sorted(set(acked) - seen)
    dups = len(seqs) - len(seen)
    firsts, s = [], set()
    for q in seqs:
        if q not in s:
            s.add(q)
            firsts.append(q)
    reordered = sum(1 for a, b in zip(firsts, firsts[1:]) if b < a)
    note("%s: %d sent, %d acknowledged, %d in the log (%d distinct): %d lost, %d duplicated, "
         "%d out of order" % (name, sent, len(acked), len(seqs), len(seen), len(lost), dups, reordered))
    check(not lost, "%s: every acknowledged record is in the log (lost: %s)" % (name, lost[:10]))
    check(len(acked) > 0, "%s: records were acknowledged" % name)
    if idempotent:
        check(dups == 0, "%s (idempotent): no record twice" % name)
    if ordered:
        check(reordered == 0, "%s: records in the order sent" % name)
    return dups


def log_dirs_check(cl):
    """DescribeLogDirs at every broker: each replica's size is its files' size, all equal."""
    def sizes_agree():
        disk = {i: harness.log_sizes(cl.broker(i).data_dir).get((TOPIC, 0)) for i in cl.brokers}
        return disk if len(set(disk.values())) == 1 else None

    disk = cl.wait_for(sizes_agree, timeout=30, what="the three replicas hold the same bytes")
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=cl.bootstrap.split(","), request_timeout_ms=10000)
    try:
        for i in sorted(cl.brokers):
            _v, dirs = harness.kafka_python_describe_log_dirs(admin, i)
            got = dirs[0][2].get((TOPIC, 0))
            check(dirs[0][0] == 0 and dirs[0][1] == os.path.realpath(cl.broker(i).data_dir) and
                  got == (disk[i], 0, False),
                  "kafka-python DescribeLogDirs at broker %d: %s-0 has %s bytes, lag 0 (%s)"
                  % (i, TOPIC, disk[i], got))
    finally:
        admin.close()
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary"), "topics", "describe",
                        "-b", cl.bootstrap, TOPIC, "--json"], capture_output=True, timeout=60)
    check(r.returncode == 0, "tributary topics describe (%s)" % r.stderr.decode(errors="replace"))
    p = json.loads(r.stdout)[0]["partitions"][0]
    want = [{"broker": i, "size_bytes": disk[i], "offset_lag": 0} for i in sorted(cl.brokers)]
    check(p["size_bytes"] == disk[p["leader"]] and
          sorted(p["replica_sizes"], key=lambda x: x["broker"]) == want,
          "topics describe: the leader's size and every replica's (%s)" % p["replica_sizes"])


def body(ws):
    modules = harness.require_kafkajs("test_cluster_clients")
    cl = cluster.Cluster(ws).start()
    cl.create_topic(TOPIC, partitions=1, replication=3)
    cl.wait_isr(TOPIC, 0, size=3)
    boot = cl.bootstrap

    kp = KafkaPythonWriter(boot)
    kp.start()
    kjs = KafkajsWriter(ws, boot, modules)
    kc = KcatWriter(ws, boot)

    def progress(more, what):
        base = (len(kp.acked), len(kjs.acked()))
        cl.wait_for(lambda: len(kp.acked) >= base[0] + more and len(kjs.acked()) >= base[1] + more,
                    timeout=60, what="kafka-python and kafkajs get %d more acknowledgements %s" % (more, what))

    progress(200, "before the fault")
    # Twice: the second kill hits the broker that took over from the first.
    for _ in range(2):
        leader = cl.wait_leader(TOPIC, 0)
        t0 = time.monotonic()
        cl.kill(leader)
        new = cl.wait_leader(TOPIC, 0, not_in=(leader,), timeout=30)
        elected = time.monotonic() - t0
        progress(200, "through the new leader")
        note("SIGKILL of leader %d: broker %d elected after %.1f s; kafka-python and kafkajs "
             "acknowledged again %.1f s after the kill" % (leader, new, elected, time.monotonic() - t0))
        cl.restart(leader)
        cl.wait_isr(TOPIC, 0, size=3, timeout=60)
        progress(100, "with the old leader back in the ISR")

    kp.stopping.set()
    kp.join(150)
    check(not kp.is_alive(), "the kafka-python producer finished")
    kjs_failed = kjs.stop()
    kc_rc, kc_failures = kc.stop()
    check(not kp.failed, "kafka-python: no send failed (%s)" % kp.failed)
    check(not kjs_failed, "kafkajs: no send() failed (%s)" % kjs_failed[:3])
    check(kc_rc == 0 and kc_failures == 0,
          "kcat: exited 0 with no delivery failure (status %d, %d failures)" % (kc_rc, kc_failures))

    reader = cl.wait_leader(TOPIC, 0)
    got = read_kafka_python(cl.bootstrap)
    by_kcat = read_kcat(cl.bootstrap)
    check(got == by_kcat, "kafka-python and kcat read the same %d records (kcat: %d) through leader %d"
          % (len(got), len(by_kcat), reader))
    check([o for o, _ in got] == list(range(len(got))), "offsets are contiguous from 0")
    values = [v.decode() for _, v in got]
    dups = {}
    dups["kafka-python"] = tally("kafka-python", "kp-", values, kp.acked, False, True, kp.sent)
    dups["kafkajs"] = tally("kafkajs", "kjs-", values, kjs.acked(), True, True, len(kjs.acked()))
    # kcat's delivery reports carry no payload: with none failed, every line sent was acknowledged.
    dups["kcat"] = tally("kcat", "kcat-", values, list(range(kc.sent)), False, False, kc.sent)
    note("duplicates from clients without idempotence: %s" % dups)

    log_dirs_check(cl)
    cl.stop_all()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
