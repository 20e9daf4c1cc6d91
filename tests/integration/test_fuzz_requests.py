#!/usr/bin/python3
"""Mutated requests from real clients never crash the collector.

A recording proxy sits between real clients and the collector: kcat
(produce with gzip and headers, consume, metadata, a consumer group),
confluent-kafka (idempotent producer, admin describe_configs, offsets),
kafka-python (its fixed old versions, DescribeLogDirs v1) and the tributary
CLI (topics describe: DescribeLogDirs v4, flexible). Every request frame
the clients send is kept. Then each frame is replayed many times with
random damage: bytes flipped, int32 fields set to extremes, the body cut short or padded. The
collector must answer or close the connection, keep serving other
clients, and (in the sanitizer build CI uses) report no memory error.

CreateTopics, DeleteTopics, CreatePartitions and DeleteRecords are recorded
but not replayed damaged: a damaged count there is a valid request for
thousands of partitions or the deletion of the test's own topics, which is
work, not hostile input.
"""

import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, note  # noqa: E402

MUTATIONS = int(os.environ.get("TR_FUZZ_MUTATIONS", "20000"))
SKIP_KEYS = {19, 20, 21, 37}


class RecordingProxy(threading.Thread):
    """Forwards 127.0.0.1:port to the collector and records request frames."""

    def __init__(self, target_port):
        super().__init__(daemon=True)
        self.target = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.frames = []
        self.lock = threading.Lock()
        self.stopping = False

    def run(self):
        while not self.stopping:
            r, _, _ = select.select([self.listener], [], [], 0.2)
            if not r:
                continue
            client, _ = self.listener.accept()
            threading.Thread(target=self.pipe, args=(client,), daemon=True).start()

    def pipe(self, client):
        server = socket.create_connection(("127.0.0.1", self.target))
        pending = b""
        socks = [client, server]
        try:
            while not self.stopping:
                r, _, _ = select.select(socks, [], [], 0.2)
                for s in r:
                    data = s.recv(1 << 16)
                    if not data:
                        return
                    if s is client:
                        pending += data
                        while len(pending) >= 4:
                            (size,) = struct.unpack_from(">i", pending)
                            if len(pending) < 4 + size:
                                break
                            with self.lock:
                                self.frames.append(pending[4:4 + size])
                            pending = pending[4 + size:]
                        server.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def stop(self):
        self.stopping = True
        self.listener.close()


def drive_clients(broker, topic):
    """Real clients talk through the proxy at 'broker'."""
    lines = "".join("k%d:value %d\n" % (i, i) for i in range(200))
    subprocess.run(["kcat", "-b", broker, "-P", "-t", topic, "-K:", "-z", "gzip",
                    "-H", "h=v"], input=lines.encode(), timeout=60, check=True)
    subprocess.run(["kcat", "-b", broker, "-C", "-t", topic, "-e", "-q"],
                   capture_output=True, timeout=60, check=True)
    subprocess.run(["kcat", "-b", broker, "-L"], capture_output=True, timeout=60, check=True)
    subprocess.run(["kcat", "-b", broker, "-G", "fuzz-group", "-e", "-q",
                    "-X", "auto.offset.reset=earliest", topic],
                   capture_output=True, timeout=60)

    from confluent_kafka import Producer, TopicPartition, Consumer
    from confluent_kafka.admin import AdminClient, ConfigResource

    p = Producer({"bootstrap.servers": broker, "enable.idempotence": True,
                  "compression.type": "gzip"})
    for i in range(100):
        p.produce(topic, key=b"c%d" % i, value=b"v" * 50)
    p.flush(30)
    admin = AdminClient({"bootstrap.servers": broker})
    for f in admin.describe_configs([ConfigResource("topic", topic)]).values():
        f.result(timeout=30)
    c = Consumer({"bootstrap.servers": broker, "group.id": "fuzz-offsets"})
    c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.offsets_for_times([TopicPartition(topic, 0, 0)], timeout=10)
    c.committed([TopicPartition(topic, 0)], timeout=10)
    c.close()

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP
    kp = KafkaProducer(bootstrap_servers=broker, acks=1)
    for i in range(50):
        kp.send(topic, key=b"p%d" % i, value=b"x" * 20)
    kp.flush(30)
    kp.close()
    kc = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False,
                       consumer_timeout_ms=2000)
    kc.assign([KTP(topic, 0)])
    kc.seek_to_beginning()
    for _ in kc:
        pass
    kc.close()

    # Transactions: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
    # TxnOffsetCommit, EndTxn (commit and abort), a read_committed fetch
    # and OffsetFetch v7, then ListTransactions and DescribeTransactions.
    tp = Producer({"bootstrap.servers": broker, "transactional.id": "fuzz-txn"})
    tp.init_transactions(30)
    tc = Consumer({"bootstrap.servers": broker, "group.id": "fuzz-txn-group",
                   "isolation.level": "read_committed"})
    tp.begin_transaction()
    tp.produce(topic, key=b"t", value=b"in a transaction")
    tp.send_offsets_to_transaction([TopicPartition(topic, 0, 1)], tc.consumer_group_metadata(), 30)
    tp.commit_transaction(30)
    tp.begin_transaction()
    tp.produce(topic, key=b"t", value=b"aborted")
    tp.flush(30)
    tp.abort_transaction(30)
    tc.assign([TopicPartition(topic, 0, 0)])
    tc.consume(10, 2.0)
    tc.committed([TopicPartition(topic, 0)], timeout=10)
    tc.close()
    for args in (["list"], ["describe", "fuzz-txn"]):
        subprocess.run([os.path.join(harness.builddir(), "tools", "tributary"), "transactions"]
                       + args + ["-b", broker], capture_output=True, timeout=60, check=True)

    # DescribeLogDirs: kafka-python's v1 and the tributary CLI's v4.
    from kafka import KafkaAdminClient
    ka = KafkaAdminClient(bootstrap_servers=broker)
    harness.kafka_python_describe_log_dirs(ka, 0)
    ka.close()
    subprocess.run([os.path.join(harness.builddir(), "tools", "tributary"), "topics", "describe",
                    "-b", broker, topic], capture_output=True, timeout=60, check=True)


def no_long_poll(frame):
    """A Fetch's MaxWaitMs set to 0, so replays answer at once."""
    key, version = struct.unpack_from(">hh", frame)
    if key != 1:
        return frame
    (id_len,) = struct.unpack_from(">h", frame, 8)
    at = 10 + max(id_len, 0) + (1 if version >= 12 else 0) + 4  # ReplicaId
    data = bytearray(frame)
    struct.pack_into(">i", data, at, 0)
    return bytes(data)


def mutate(rng, frame):
    data = bytearray(frame)
    kind = rng.randrange(5)
    body_start = 8  # keep api key and version so the damage reaches handlers
    if len(data) <= body_start:
        return bytes(data)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(body_start, len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and len(data) >= body_start + 4:
        i = rng.randrange(body_start, len(data) - 3)
        struct.pack_into(">i", data, i, rng.choice([-2, -1, 0x7FFFFFFF, 0x10000, 65535, -0x80000000]))
    elif kind == 2:
        data = data[:rng.randrange(body_start, len(data))]
    elif kind == 3 and len(data) >= body_start + 2:
        i = rng.randrange(body_start, len(data) - 1)
        struct.pack_into(">h", data, i, rng.choice([-2, -1, 0x7FFF, 0]))
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


def replay(port, frames, rng, count, slow=None):
    sock = None
    closed = answered = 0
    for n in range(count):
        t0 = time.monotonic()
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        frame = mutate(rng, rng.choice(frames))
        try:
            sock.sendall(struct.pack(">i", len(frame)) + frame)
            sock.settimeout(0.5)
            head = sock.recv(4)
            if len(head) < 4:
                raise ConnectionError
            (size,) = struct.unpack(">i", head)
            left = size
            while left > 0:
                chunk = sock.recv(min(left, 1 << 16))
                if not chunk:
                    raise ConnectionError
                left -= len(chunk)
            answered += 1
        except (OSError, ConnectionError, socket.timeout):
            # Closed (refused request), or no answer (acks=0, parked fetch).
            closed += 1
            sock.close()
            sock = None
        if slow is not None:
            key = struct.unpack_from(">hh", frame)
            slow[key] = slow.get(key, 0.0) + time.monotonic() - t0
    if sock is not None:
        sock.close()
    return answered, closed


def start_recording(ws):
    """A collector behind a RecordingProxy; returns (collector, proxy)."""
    # The collector advertises the proxy, so every connection a client
    # makes after bootstrap goes through it too.
    proxy = RecordingProxy(None)
    col = ws.collector(sets={
        "num.partitions": "2",
        "group.initial.rebalance.delay.ms": "0",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % proxy.port,
    })
    col.start()
    proxy.target = col.port
    proxy.start()
    return col, proxy


def body(ws):
    col, proxy = start_recording(ws)
    try:
        drive_clients("127.0.0.1:%d" % proxy.port, "fuzzed")
        with proxy.lock:
            recorded = list(proxy.frames)
        frames = [no_long_poll(f) for f in recorded if struct.unpack_from(">h", f)[0] not in SKIP_KEYS]
        body_with_proxy(ws, col, proxy, recorded, frames)
    finally:
        proxy.stop()
    col.stop()
    col.check_sanitizers()


def body_with_proxy(ws, col, proxy, recorded, frames):
    keys = sorted({struct.unpack_from(">hh", f) for f in frames})
    note("recorded %d request frames (%d kept) covering %d (api, version) pairs: %s"
         % (len(recorded), len(frames), len(keys), keys))
    check(len(keys) >= 12, "the clients used at least 12 (api, version) pairs")

    # Damaged Metadata requests would otherwise auto-create a topic for each
    # random name (real work: directories, fsyncs); the damage is the point.
    col.stop()
    col.sets["auto.create.topics.enable"] = "false"
    col.restart()

    rng = random.Random(int(os.environ.get("TR_FUZZ_SEED", "20261123")))
    t0 = time.monotonic()
    answered = closed = 0
    slow = {}
    rounds = 6
    for r in range(rounds):
        a, c = replay(col.port, frames, rng, MUTATIONS // rounds, slow)
        answered += a
        closed += c
        check(col.alive(), "the collector is alive after round %d" % (r + 1))
        err, _keys = harness.api_versions_v0(col.port)
        check(err == 0, "ApiVersions is answered after round %d" % (r + 1))
    note("%d damaged requests in %.1f s: %d answered, %d closed or unanswered"
         % (MUTATIONS, time.monotonic() - t0, answered, closed))
    note("seconds spent per (api, version): %s" % ", ".join(
        "%s %.1f" % (k, v) for k, v in sorted(slow.items(), key=lambda kv: -kv[1])[:6]))

    # Still a working broker for real clients (through the proxy it advertises).
    broker = "127.0.0.1:%d" % proxy.port
    subprocess.run(["kcat", "-b", broker, "-L"], capture_output=True, timeout=60, check=True)
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker})
    for f in admin.create_topics([NewTopic("after-fuzz", 1, 1)]).values():
        f.result(timeout=30)
    offsets = harness.produce_records(broker, "after-fuzz", [(b"k", b"v")])
    check(offsets == [0], "produce after the fuzzing: %s" % offsets)
    _lo, _hi, got = harness.read_partition(broker, "after-fuzz")
    check([(k, v) for _o, k, v in got] == [(b"k", b"v")], "consume after the fuzzing")


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
