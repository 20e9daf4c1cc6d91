#!/usr/bin/python3
"""Client quotas, connection limits and per-principal limits on one collector.

One collector with a PLAINTEXT listener (for 'tributary quotas'), a
SASL_PLAINTEXT one (alice, made with --add-scram) and an SSL one:

  1. 'tributary quotas set' (AlterClientQuotas) gives client id 'slow' a
     producer_byte_rate; a confluent-kafka producer with that client id is
     held near the rate over 10 s after a 2 s warm-up (below 1.5x; windows
     of quota.window.num=3 x 1 s) and its statistics show
     throttle_time_ms > 0, while client id 'fast' runs several times
     faster and is never throttled;
  2. a consumer_byte_rate on client id 'slowc' holds a consumer reading
     over TLS (muted TLS connection, long-poll fetches) likewise; a tiny
     request_percentage puts throttle_time_ms into raw Metadata answers
     and the next request on that connection waits that long;
  3. 'tributary quotas list' (DescribeClientQuotas) shows exactly what was
     set, with defaults and filters; bad values and keys are refused;
  4. a producer_byte_rate on user alice throttles alice on the SASL
     listener whatever her client id;
  5. the quotas survive a SIGKILL and restart;
  6. max.connections.per.ip closes the (N+1)th connection from 127.0.0.1
     at once while the others keep being served, an override in
     max.connections.per.ip.overrides raises it, and max.connections
     makes a new connection wait until another closes;
  7. max.topics.per.principal and max.groups.per.principal refuse the
     next topic (POLICY_VIOLATION) and group (GROUP_MAX_SIZE_REACHED).
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, note  # noqa: E402

QUOTA = 400000  # bytes/s
# The collector measures over quota.window.num=3 samples of 1 s: a new
# client may at first send (3 - 1) s of its quota at once (Kafka's
# sampled rate), so rates are measured after that warm-up.
WINDOW_NUM = 3
WARMUP = 2.0
VALUE = b"q" * 1000


def quotas(*args):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary"), "quotas"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def quotas_json(broker, *args):
    rc, out, err = quotas("list", "-b", broker, "--json", *args)
    check(rc in (0, 3), "tributary quotas list: %d %s" % (rc, err))
    return json.loads(out) if out.strip() else []


class ThrottleStats:
    """librdkafka statistics: the largest broker throttle seen, in ms."""

    def __init__(self):
        self.max = 0

    def __call__(self, text):
        d = json.loads(text)
        for b in d.get("brokers", {}).values():
            self.max = max(self.max, b.get("throttle", {}).get("max", 0))


def produce_for(broker, client_id, seconds, topic="quota-t", warmup=0.0, **extra):
    """
    Produces 1000-byte records for 'warmup' + 'seconds'; returns the bytes
    acknowledged per second after the warm-up and the largest throttle seen.
    """
    from confluent_kafka import Producer

    stats = ThrottleStats()
    acked = [0]

    def on_delivery(err, msg):
        if err is None:
            acked[0] += len(msg.value())

    conf = {"bootstrap.servers": broker, "client.id": client_id, "linger.ms": 5,
            "statistics.interval.ms": 200, "stats_cb": stats,
            "queue.buffering.max.kbytes": 256, "acks": 1}
    conf.update(extra)
    p = Producer(conf)
    start = time.monotonic()
    t0, base = None, 0
    while time.monotonic() - start < warmup + seconds:
        if t0 is None and time.monotonic() - start >= warmup:
            t0, base = time.monotonic(), acked[0]
        try:
            p.produce(topic, VALUE, on_delivery=on_delivery)
        except BufferError:
            p.poll(0.01)
        p.poll(0)
    elapsed = time.monotonic() - t0
    done = acked[0] - base  # what was acknowledged within the measured time
    p.flush(60)
    p.poll(0.5)  # a last statistics report
    return done / elapsed, stats.max


def consume_for(broker, client_id, seconds, topic, warmup=0.0, **extra):
    """
    Reads the topic from the start for 'warmup' + 'seconds'; returns the
    bytes read per second after the warm-up and the largest throttle seen.
    """
    from confluent_kafka import Consumer, TopicPartition

    stats = ThrottleStats()
    conf = {"bootstrap.servers": broker, "client.id": client_id, "group.id": "g-" + client_id,
            "enable.auto.commit": False, "statistics.interval.ms": 200, "stats_cb": stats,
            "fetch.wait.max.ms": 100}
    conf.update(extra)
    c = Consumer(conf)
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    start = time.monotonic()
    t0 = None
    while time.monotonic() - start < warmup + seconds:
        if t0 is None and time.monotonic() - start >= warmup:
            t0, got = time.monotonic(), 0
        for m in c.consume(100, 0.2):
            if m.error() is None:
                got += len(m.value())
    elapsed = time.monotonic() - t0
    c.close()
    return got / elapsed, stats.max


def connection_answers(s, corr=7):
    """True if ApiVersions v0 is answered on socket 's'."""
    try:
        s.sendall(harness.request(18, 0, corr, b""))
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                return False
            head += chunk
        (size,) = struct.unpack(">i", head)
        body = b""
        while len(body) < size:
            chunk = s.recv(size - len(body))
            if not chunk:
                return False
            body += chunk
        return struct.unpack_from(">i", body, 0)[0] == corr
    except OSError:
        return False


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def closed_soon(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def check_quotas(ws, c, broker, sasl_broker, ssl_broker, certs):
    # 1. Producer quota by client id.
    rc, out, err = quotas("set", "-b", broker, "--client-id", "slow", "producer_byte_rate=%d" % QUOTA)
    check(rc == 0, "quotas set --client-id slow: %d %s %s" % (rc, out, err))
    rate, throttle = produce_for(broker, "slow", 10, warmup=WARMUP)
    note("client id slow: %.0f B/s against a quota of %d B/s; throttle up to %d ms"
         % (rate, QUOTA, throttle))
    check(rate < 1.5 * QUOTA, "the throttled producer ran at %.0f B/s, over 1.5x its quota" % rate)
    check(rate > 0.3 * QUOTA, "the throttled producer made hardly any progress (%.0f B/s)" % rate)
    check(throttle > 0, "the throttled producer saw throttle_time_ms > 0")
    fast, fthrottle = produce_for(broker, "fast", 4)
    note("client id fast: %.0f B/s, throttle %d ms" % (fast, fthrottle))
    check(fast > 3 * QUOTA and fthrottle == 0,
          "an unthrottled client id runs far faster (%.0f B/s, throttle %d)" % (fast, fthrottle))

    # 2. Consumer quota, over TLS.
    rc, out, err = quotas("set", "-b", broker, "--client-id", "slowc", "consumer_byte_rate=%d" % QUOTA)
    check(rc == 0, "quotas set --client-id slowc: %d %s" % (rc, err))
    tls = {"security.protocol": "SSL", "ssl.ca.location": os.path.join(certs, "ca.crt")}
    rate, throttle = consume_for(ssl_broker, "slowc", 10, "quota-t", warmup=WARMUP, **tls)
    note("client id slowc over TLS: %.0f B/s against %d B/s; throttle up to %d ms" % (rate, QUOTA, throttle))
    check(rate < 1.5 * QUOTA, "the throttled consumer read %.0f B/s, over 1.5x its quota" % rate)
    check(rate > 0.3 * QUOTA, "the throttled consumer made hardly any progress (%.0f B/s)" % rate)
    check(throttle > 0, "the throttled consumer saw throttle_time_ms > 0")
    fast, fthrottle = consume_for(ssl_broker, "fastc", 3, "quota-t", **tls)
    check(fast > 3 * QUOTA and fthrottle == 0,
          "an unthrottled consumer reads far faster (%.0f B/s, throttle %d)" % (fast, fthrottle))

    # 2b. request_percentage, seen on raw Metadata requests: the answer
    # carries throttle_time_ms at once, the next one waits (KIP-219 muting).
    rc, _, err = quotas("set", "-b", broker, "--client-id", "reqq", "request_percentage=0.0001")
    check(rc == 0, "quotas set --client-id reqq: %s" % err)
    metadata_v4 = struct.pack(">i", -1) + b"\x01"
    with harness.Conn(c.port) as conn:
        throttles, waits = [], []
        for corr in range(1, 5):
            t0 = time.monotonic()
            conn.send(harness.request(3, 4, corr, metadata_v4, client_id="reqq"))
            body = conn.response(corr)
            waits.append(time.monotonic() - t0)
            throttles.append(struct.unpack_from(">i", body, 0)[0])
    note("Metadata v4 over request_percentage: throttle_time_ms %s, answered after %s s"
         % (throttles, ["%.2f" % w for w in waits]))
    check(max(throttles) > 0, "Metadata answers carry throttle_time_ms > 0")
    first = next(i for i, t in enumerate(throttles) if t > 0)
    check(first + 1 < len(waits) and waits[first + 1] >= 0.8 * throttles[first] / 1000.0,
          "the request after a throttled answer waits for the throttle time")
    rc, _, err = quotas("delete", "-b", broker, "--client-id", "reqq")
    check(rc == 0, "quotas delete --client-id reqq: %s" % err)

    # 3. DescribeClientQuotas, defaults, filters, refusals.
    rc, _, err = quotas("set", "-b", broker, "--default-user", "request_percentage=250.5")
    check(rc == 0, "quotas set --default-user: %d %s" % (rc, err))
    rc, _, err = quotas("set", "-b", broker, "--user", "bob", "--client-id", "<default>",
                        "consumer_byte_rate=1000000")
    check(rc == 0, "quotas set --user bob --client-id <default>: %d %s" % (rc, err))
    listed = quotas_json(broker)
    expect = [
        {"client-id": "slow", "quotas": {"producer_byte_rate": QUOTA}},
        {"client-id": "slowc", "quotas": {"consumer_byte_rate": QUOTA}},
        {"user": "<default>", "quotas": {"request_percentage": 250.5}},
        {"user": "bob", "client-id": "<default>", "quotas": {"consumer_byte_rate": 1000000}},
    ]
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    check(sorted(listed, key=key) == sorted(expect, key=key),
          "DescribeClientQuotas lists what was set: %s" % listed)
    only = quotas_json(broker, "--user", "bob")
    check(only == [expect[3]], "a user filter matches only bob's entity: %s" % only)
    rc, _, err = quotas("set", "-b", broker, "--user", "x", "producer_byte_rate=1.5")
    check(rc != 0 and "Long" in err, "a fractional byte rate is refused: %s" % err.strip())
    rc, _, err = quotas("set", "-b", broker, "--user", "x", "bogus_rate=1")
    check(rc != 0 and "unknown key" in err, "an unknown key is refused: %s" % err.strip())
    rc, _, err = quotas("delete", "-b", broker, "--user", "bob", "--client-id", "<default>")
    check(rc == 0 and len(quotas_json(broker)) == 3, "quotas delete removes the entity: %s" % err)

    # 4. A user's quota on the SASL listener, whatever the client id.
    rc, _, err = quotas("set", "-b", broker, "--user", "alice", "producer_byte_rate=%d" % QUOTA)
    check(rc == 0, "quotas set --user alice: %d %s" % (rc, err))
    sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": "alice", "sasl.password": "alice-secret"}
    rate, throttle = produce_for(sasl_broker, "any-id-%d" % os.getpid(), 8, warmup=WARMUP, **sasl)
    note("user alice on SASL_PLAINTEXT: %.0f B/s against %d; throttle up to %d ms" % (rate, QUOTA, throttle))
    check(rate < 1.5 * QUOTA and throttle > 0, "alice is held to her quota (%.0f B/s, throttle %d)"
          % (rate, throttle))

    # 5. A SIGKILL and restart keep them.
    before = sorted(quotas_json(broker), key=key)
    c.stop(sig=signal.SIGKILL, check_clean=False)
    c.restart()
    after = sorted(quotas_json(broker), key=key)
    check(after == before and len(after) == 4, "the quotas survive a SIGKILL: %s" % after)
    rate, throttle = produce_for(broker, "slow", 3)
    check(throttle > 0, "client id slow is throttled again after the restart (%.0f B/s)" % rate)


def check_connection_limits(ws):
    c = ws.collector("conns", sets={"max.connections.per.ip": "3"}).start()
    time.sleep(0.5)  # the start-up probe's connection is closed by now
    socks = [connect(c.port) for _ in range(3)]
    check(all(connection_answers(s) for s in socks), "three connections from 127.0.0.1 are served")
    extra = connect(c.port)
    check(closed_soon(extra), "the 4th connection from 127.0.0.1 is closed at once")
    check(all(connection_answers(s, 8) for s in socks), "the first three are still served")
    socks.pop().close()
    time.sleep(0.3)
    again = connect(c.port)
    check(connection_answers(again), "a slot freed by a close is usable")
    for s in socks + [again, extra]:
        s.close()
    check(b"max.connections.per.ip (3) reached for 127.0.0.1" in c.log(), "the refusal is logged")
    c.stop()

    c.sets["max.connections.per.ip.overrides"] = "localhost:5,127.0.0.1:5"
    c.restart()
    time.sleep(0.5)
    socks = [connect(c.port) for _ in range(5)]
    check(all(connection_answers(s) for s in socks), "the override lets 127.0.0.1 have 5")
    extra = connect(c.port)
    check(closed_soon(extra), "the 6th is closed")
    for s in socks + [extra]:
        s.close()
    c.stop()

    # Bad settings are refused at start-up with the key named.
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + ws.file("x"),
                        "--set", "max.connections.per.ip.overrides=127.0.0.1:many"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "max.connections.per.ip.overrides" in r.stderr,
          "a bad override is a configuration error: %s" % r.stderr.strip()[-200:])

    # max.connections: the next connection waits for a free slot.
    c.sets = {"max.connections": "2"}
    c.restart()
    time.sleep(0.5)
    socks = [connect(c.port) for _ in range(2)]
    check(all(connection_answers(s) for s in socks), "two connections are served")
    waiting = connect(c.port)  # completes in the kernel's listen queue
    result = {}

    def ask():
        result["ok"] = connection_answers(waiting, 9)

    t = threading.Thread(target=ask)
    t.start()
    t.join(1.5)
    check(t.is_alive(), "a third connection waits while max.connections are open")
    socks[0].close()
    t.join(10)
    check(result.get("ok") is True, "it is served once a connection closes")
    for s in socks[1:] + [waiting]:
        s.close()
    c.stop()


def offset_commit_v2(group, topic="pl-t"):
    body = harness.kstring(group) + struct.pack(">i", -1) + harness.kstring("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + harness.kstring(topic) + struct.pack(">i", 1)
    body += struct.pack(">iq", 0, 0) + harness.kstring("")
    return body


def join_group_v0(group):
    body = harness.kstring(group) + struct.pack(">i", 10000) + harness.kstring("") + harness.kstring("consumer")
    body += struct.pack(">i", 1) + harness.kstring("range") + struct.pack(">i", 0)
    return body


def check_principal_limits(ws):
    from confluent_kafka.admin import AdminClient, NewTopic

    c = ws.collector("plimits", sets={"max.topics.per.principal": "2", "max.groups.per.principal": "2",
                                      "group.initial.rebalance.delay.ms": "0"}).start()
    admin = AdminClient({"bootstrap.servers": c.broker})
    fs = admin.create_topics([NewTopic("pl-t", 1, 1), NewTopic("pl-u", 1, 1)])
    for f in fs.values():
        f.result(30)
    try:
        admin.create_topics([NewTopic("pl-v", 1, 1)])["pl-v"].result(30)
        check(False, "a third topic was created")
    except Exception as e:  # KafkaException with a KafkaError
        err = e.args[0]
        check(err.code() == 44 and "max.topics.per.principal" in err.str(),
              "the third topic is refused with POLICY_VIOLATION: %s" % err)
    admin.delete_topics(["pl-u"])["pl-u"].result(30)
    admin.create_topics([NewTopic("pl-w", 1, 1)])["pl-w"].result(30)
    note("a deleted topic frees its creator's slot")

    with harness.Conn(c.port) as conn:
        for i, g in enumerate(["pl-g1", "pl-g2"]):
            conn.send(harness.request(8, 2, 10 + i, offset_commit_v2(g)))
            body = conn.response(10 + i)
            check(body[-2:] == b"\x00\x00", "a commit creates group %s" % g)
        conn.send(harness.request(8, 2, 20, offset_commit_v2("pl-g3")))
        body = conn.response(20)
        check(struct.unpack(">h", body[-2:])[0] == 81,
              "a third group is refused with GROUP_MAX_SIZE_REACHED")
        conn.send(harness.request(11, 0, 21, join_group_v0("pl-g4")))
        body = conn.response(21)
        check(struct.unpack_from(">h", body, 0)[0] == 81, "so is a JoinGroup creating a fourth")
        conn.send(harness.request(8, 2, 22, offset_commit_v2("pl-g1")))
        check(conn.response(22)[-2:] == b"\x00\x00", "an existing group still takes commits")
    del admin
    c.stop()


def run(ws):
    pport, sport, tport = harness.free_port(), harness.free_port(), harness.free_port()
    data = ws.file("quota-data")
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + data,
                        "--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--add-scram alice: %s" % r.stderr)
    certs = ws.file("certs")
    import test_tls
    test_tls.make_certs(certs)
    c = ws.collector("quotas", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d"
                     % (pport, sport, tport),
        "ssl.keystore.location": os.path.join(certs, "server.keystore.pem"),
        "quota.window.num": str(WINDOW_NUM),
    }).start()
    check_quotas(ws, c, c.broker, "127.0.0.1:%d" % sport, "127.0.0.1:%d" % tport, certs)
    c.stop()
    check_connection_limits(ws)
    check_principal_limits(ws)


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=240))
