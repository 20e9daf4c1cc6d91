#!/usr/bin/python3
"""Shared helpers for the agent's integration tests (not a test itself).

Agent runs the real tributary-agent binary ($top_builddir/agent) with a
config written into the test's workspace; read_topic() reads every
partition of a topic back with confluent-kafka (assign + OFFSET_BEGINNING),
headers included; Writer appends numbered lines from a thread.
"""

import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def agent_binary():
    path = os.path.join(harness.builddir(), "agent", "tributary-agent")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        harness.fail("agent binary not found at %s" % path)
    return path


class Agent:
    def __init__(self, ws, broker, inputs, agent_extra="", output_extra="", name="agent"):
        self.ws = ws
        self.state_dir = ws.file(name + "-state")
        self.conf = ws.file(name + ".conf")
        self.log_path = ws.file(name + ".stderr")
        self.proc = None
        text = "[agent]\nstate_dir = %s\nlog_level = %s\n%s\n" % (self.state_dir, os.environ.get("TR_AGENT_LOG_LEVEL", "info"), agent_extra)
        text += "[output]\nbrokers = %s\nlinger_ms = 5\n%s\n" % (broker, output_extra)
        text += inputs
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [agent_binary(), "--config", self.conf],
            stdout=log, stderr=log, preexec_fn=harness._die_with_parent)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            harness.fail("agent did not exit within %d s of SIGTERM" % timeout)

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def check_sanitizers(self):
        data = self.log()
        for mark in harness.SANITIZER_MARKS:
            if mark in data:
                harness.fail("agent sanitizer report:\n%s" % harness.tail(data))


def topic_counts(broker, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": "tributary-it-unused"})
    try:
        total = 0
        for p in range(partitions):
            try:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)
            except Exception:
                return 0
            total += hi - lo
        return total
    finally:
        c.close()


def wait_count(broker, topic, partitions, want, timeout, agent=None):
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n = topic_counts(broker, topic, partitions)
        if n >= want:
            return n
        if agent is not None and not agent.alive():
            harness.fail("agent exited (%s):\n%s" % (agent.proc.returncode, harness.tail(agent.log())))
        time.sleep(0.5)
    harness.fail("topic %s has %d records after %d s, want %d" % (topic, n, timeout, want))


def read_topic(broker, topic, partitions, timeout=120):
    """[(partition, offset, key, value, headers dict)] for every record."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({
        "bootstrap.servers": broker, "group.id": "tributary-it-unused",
        "enable.auto.commit": False, "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
    })
    out = []
    try:
        his = {}
        for p in range(partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
            if hi > lo:
                his[p] = hi
        if not his:
            return out
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in his])
        done = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(his):
            if time.monotonic() > deadline:
                harness.fail("reading %s timed out" % topic)
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                harness.fail("consumer error: %s" % msg.error())
            hdrs = dict((k, v) for k, v in (msg.headers() or []))
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(), hdrs))
            if msg.offset() >= his[msg.partition()] - 1:
                done.add(msg.partition())
        return out
    finally:
        c.close()


class Writer(threading.Thread):
    """Appends 'prefix N' lines, N from 0, at about 'rate' lines/s."""

    def __init__(self, path, count, rate=2000, prefix="n"):
        super().__init__(daemon=True)
        self.path, self.count, self.rate, self.prefix = path, count, rate, prefix
        self.written = 0
        self.stop_flag = False

    def run(self):
        f = open(self.path, "a")
        batch = max(1, self.rate // 100)
        i = 0
        while i < self.count and not self.stop_flag:
            for _ in range(min(batch, self.count - i)):
                f.write("%s %d\n" % (self.prefix, i))
                i += 1
            f.flush()
            self.written = i
            # Reopen when the file was renamed or deleted (as an app on
            # SIGHUP would): logrotate's "create" mode.
            try:
                if os.stat(self.path).st_ino != os.fstat(f.fileno()).st_ino:
                    f.close()
                    f = open(self.path, "a")
            except FileNotFoundError:
                f.close()
                f = open(self.path, "a")
            time.sleep(0.01)
        f.close()


def numbers(records, prefix="n"):
    """Counts each line number seen: {n: times}."""
    seen = {}
    for r in records:
        v = r[3].decode()
        if v.startswith(prefix + " "):
            n = int(v.split()[1])
            seen[n] = seen.get(n, 0) + 1
    return seen


def check_all(seen, count, what):
    missing = [n for n in range(count) if n not in seen]
    dups = sum(v - 1 for v in seen.values())
    if missing:
        harness.fail("%s: %d of %d lines missing, first %s" % (what, len(missing), count, missing[:10]))
    harness.check(True, "%s: all %d lines arrived (%d duplicates)" % (what, count, dups))
    return dups
