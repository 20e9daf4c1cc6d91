#!/usr/bin/python3
"""SASL: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN on SASL_PLAINTEXT and SASL_SSL.

Users are made before the first start with tributary-collector --add-scram
(the credential file is then 0600 and holds no password) and at run time
with 'tributary users set' over the PLAINTEXT listener. confluent-kafka
(each mechanism), kafka-python (SCRAM-SHA-256 and PLAIN, SaslHandshake v0
and bare frames) and kcat produce and consume through the SASL_PLAINTEXT
listener, and confluent-kafka through SASL_SSL. Refused without a crash: a
wrong password (the client sees Kafka's SASL_AUTHENTICATION_FAILED text),
an unknown user, a disabled mechanism (UNSUPPORTED_SASL_MECHANISM and the
list), Metadata before authenticating (the connection is closed
unanswered), a first frame above sasl.server.max.receive.size (closed).
ApiVersions is answered before authenticating; SaslHandshake on the
PLAINTEXT listener gets ILLEGAL_SASL_STATE. 'tributary users' lists,
refuses bad iterations and deletes, and a deleted user can no longer log in.
Credentials survive a restart. With connections.max.reauth.ms a session
past its lifetime is closed at its next request, and librdkafka 2.0.2
(which cannot re-authenticate) connects again without losing a record.
"""

import os
import socket
import stat
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402


def tributary():
    return os.path.join(harness.builddir(), "tools", "tributary")


def sasl(mech, user, password, protocol="SASL_PLAINTEXT", **extra):
    conf = {"security.protocol": protocol, "sasl.mechanisms": mech,
            "sasl.username": user, "sasl.password": password}
    conf.update(extra)
    return conf


def confluent_roundtrip(broker, topic, n, conf):
    records = [(b"k%d" % i, b"sasl-%s-%06d" % (topic.encode(), i)) for i in range(n)]
    harness.produce_records(broker, topic, records, **conf)
    _, _, got = harness.read_partition(broker, topic, timeout=60, **conf)
    check([(k, v) for _, k, v in got] == records,
          "confluent-kafka %s: records read back differ" % conf.get("sasl.mechanisms"))


def refused(broker, conf, what, expect):
    """A librdkafka client with 'conf' must be refused, saying 'expect'."""
    from confluent_kafka import Producer

    errors = []
    cfg = dict(conf, **{"bootstrap.servers": broker, "error_cb": lambda e: errors.append(str(e)),
                        "log_level": 0})
    p = Producer(cfg)
    # The refusal comes within a second; a loaded machine may take longer.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(expect in e for e in errors):
        p.poll(0.2)
    text = " ".join(errors)
    check(expect in text, "%s: expected %r among the client's errors: %s" % (what, expect, text[:400]))
    note("%s refused: %s" % (what, expect))


def kafka_python_roundtrip(broker, topic, mech, user, password, n=200):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    args = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
                sasl_plain_username=user, sasl_plain_password=password)
    p = KafkaProducer(bootstrap_servers=broker, acks="all", **args)
    for i in range(n):
        p.send(topic, key=b"kp%d" % i, value=b"kafka-python %s %d" % (mech.encode(), i), partition=0)
    p.flush(30)
    p.close()
    c = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False, consumer_timeout_ms=30000, **args)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = [(m.key, m.value) for _, m in zip(range(n), c)]
    c.close()
    check(got == [(b"kp%d" % i, b"kafka-python %s %d" % (mech.encode(), i)) for i in range(n)],
          "kafka-python %s: %d records read, expected %d, or they differ" % (mech, len(got), n))


def kafka_python_refused(broker, mech, user, password):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    try:
        KafkaProducer(bootstrap_servers=broker, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
                      sasl_plain_username=user, sasl_plain_password=password,
                      api_version_auto_timeout_ms=3000).close()
    except KafkaError as e:
        note("kafka-python with a wrong password refused (%s)" % type(e).__name__)
        return
    fail("kafka-python with a wrong password was served")


def kcat_roundtrip(broker, topic, x, n=300):
    lines = "".join("kcat-sasl-%d\n" % i for i in range(n))
    r = subprocess.run(["kcat", "-b", broker, "-t", topic, "-p", "0", "-P", "-X", "acks=all"] + x,
                       input=lines, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat produce over SASL failed: %s" % r.stderr)
    r = subprocess.run(["kcat", "-b", broker, "-t", topic, "-p", "0", "-C", "-o", "beginning", "-e", "-q"] + x,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat consume over SASL failed: %s" % r.stderr)
    check(r.stdout == lines, "kcat: records read over SASL differ (%d bytes)" % len(r.stdout))


# ---- raw frames ----

def frame(api_key, version, corr, body=b""):
    payload = struct.pack(">hhih", api_key, version, corr, 4) + b"sasl" + body
    return struct.pack(">i", len(payload)) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_frame(s):
    return recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])


def closed_unanswered(s):
    """True if the peer closes without sending anything."""
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, socket.timeout):
        return True


def handshake(port, mech, version=1):
    """SaslHandshake: returns (error_code, [mechanisms])."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(frame(17, version, 7, harness.kstring(mech)))
        body = recv_frame(s)
    corr, err, n = struct.unpack(">ihi", body[:10])
    pos, mechs = 10, []
    for _ in range(n):
        ln = struct.unpack(">h", body[pos:pos + 2])[0]
        mechs.append(body[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
    return err, mechs


def raw_checks(port, plain_port):
    # ApiVersions is answered before authentication.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(frame(18, 0, 1))
        body = recv_frame(s)
        check(struct.unpack(">ih", body[:6]) == (1, 0), "ApiVersions before SASL not answered")
        # Metadata before authenticating: closed, nothing sent.
        s.sendall(frame(3, 1, 2, struct.pack(">i", -1)))
        check(closed_unanswered(s), "Metadata before SASL authentication was answered")
    note("ApiVersions answered, Metadata closes the connection before authentication")
    # A first frame above sasl.server.max.receive.size.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">i", 600000) + b"\0" * 65536)
        check(closed_unanswered(s), "a 600000-byte first frame on a SASL listener was not refused")
    note("a 600000-byte first frame closes the connection")
    err, mechs = handshake(port, "GSSAPI")
    check(err == 33 and mechs == ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"],
          "SaslHandshake GSSAPI: %d %s" % (err, mechs))
    err, mechs = handshake(port, "PLAIN", 0)
    check(err == 0, "SaslHandshake v0 PLAIN: %d" % err)
    err, mechs = handshake(plain_port, "PLAIN")
    check(err == 34 and mechs == [], "SaslHandshake on PLAINTEXT: %d %s" % (err, mechs))
    note("SaslHandshake: 33 for GSSAPI with the list, 34 on PLAINTEXT")
    # A bad bare token after a v0 handshake: closed without a word.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(frame(17, 0, 3, harness.kstring("SCRAM-SHA-256")))
        recv_frame(s)
        s.sendall(struct.pack(">i", 9) + b"garbage!!")
        check(closed_unanswered(s), "a malformed SCRAM token was answered")


def users(*args, stdin=None):
    r = subprocess.run([tributary(), "users"] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def run(ws):
    pport, sport, tport = harness.free_port(), harness.free_port(), harness.free_port()
    data = ws.file("sasl-data")

    # 1. The first users, before the collector ever ran.
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + data,
                        "--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]",
                        "--add-scram", "SCRAM-SHA-512=[name=alice,iterations=8192,password=alice-secret]"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--add-scram exited %d: %s" % (r.returncode, r.stderr))
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + data,
                        "--add-scram", "SCRAM-SHA-256=[name=x,password=y,iterations=100]"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "iterations" in r.stderr, "--add-scram with 100 iterations: %d %s"
          % (r.returncode, r.stderr))
    cred = os.path.join(data, ".scram-credentials")
    mode = stat.S_IMODE(os.stat(cred).st_mode)
    check(mode == 0o600, "credential file mode %o, expected 600" % mode)
    with open(cred, "rb") as f:
        text = f.read()
    check(b"alice-secret" not in text, "the credential file holds the password")
    check(b"alice SCRAM-SHA-512=[salt=" in text and b"iterations=8192]" in text,
          "credential file not in Kafka's form:\n%s" % text.decode(errors="replace"))
    note("--add-scram: two credentials, file 0600 without the password")

    # 2. PLAINTEXT (for the tool), SASL_PLAINTEXT and SASL_SSL.
    certs = ws.file("certs")
    import test_tls
    test_tls.make_certs(certs)
    c = ws.collector("sasl", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
                     % (pport, sport, tport),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SASL_SSL://localhost:%d"
                                % (pport, sport, tport),
        "ssl.keystore.location": os.path.join(certs, "server.keystore.pem"),
        "num.partitions": 1,
    }).start()
    sb = "127.0.0.1:%d" % sport

    pw = ws.file("bob.pw")
    with open(pw, "w") as f:
        f.write("bob-secret\n")
    os.chmod(pw, 0o600)
    rc, out, err = users("set", "-b", c.broker, "bob", "--password-file", pw)
    check(rc == 0, "tributary users set bob: %d %s" % (rc, err))
    rc, out, err = users("set", "-b", c.broker, "carol", "-m", "SCRAM-SHA-512", stdin="carol-secret\n")
    check(rc == 0, "tributary users set carol: %d %s" % (rc, err))
    rc, out, err = users("list", "-b", c.broker, "--json")
    check(rc == 0 and '"user":"alice","mechanism":"SCRAM-SHA-512","iterations":8192' in out
          and '"user":"bob"' in out and '"user":"carol"' in out, "users list: %d %s %s" % (rc, out, err))
    rc, out, err = users("list", "-b", c.broker, "nobody")
    check(rc == 4 and "RESOURCE_NOT_FOUND" in err, "users list nobody: %d %s" % (rc, err))
    note("tributary users set and list")

    # 3. Clients with each mechanism.
    confluent_roundtrip(sb, "sasl-scram256", 1000, sasl("SCRAM-SHA-256", "alice", "alice-secret"))
    confluent_roundtrip(sb, "sasl-scram512", 1000, sasl("SCRAM-SHA-512", "alice", "alice-secret"))
    confluent_roundtrip(sb, "sasl-plain", 1000, sasl("PLAIN", "bob", "bob-secret"))
    confluent_roundtrip(sb, "sasl-carol", 100, sasl("SCRAM-SHA-512", "carol", "carol-secret"))
    note("confluent-kafka: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN")
    kafka_python_roundtrip(sb, "sasl-kp-scram", "SCRAM-SHA-256", "bob", "bob-secret")
    kafka_python_roundtrip(sb, "sasl-kp-plain", "PLAIN", "alice", "alice-secret")
    note("kafka-python: SCRAM-SHA-256 and PLAIN")
    kcat_roundtrip(sb, "sasl-kcat", ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
                                     "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"])
    note("kcat: SCRAM-SHA-512")
    confluent_roundtrip("localhost:%d" % tport, "sasl-ssl", 500,
                        sasl("SCRAM-SHA-256", "bob", "bob-secret", protocol="SASL_SSL",
                             **{"ssl.ca.location": os.path.join(certs, "ca.crt")}))
    note("confluent-kafka over SASL_SSL with SCRAM-SHA-256")

    # 4. Refusals.
    refused(sb, sasl("SCRAM-SHA-256", "alice", "wrong"), "a wrong SCRAM password",
            "Authentication failed during authentication due to invalid credentials with SASL mechanism "
            "SCRAM-SHA-256")
    refused(sb, sasl("PLAIN", "alice", "wrong"), "a wrong PLAIN password", "Invalid username or password")
    refused(sb, sasl("SCRAM-SHA-512", "mallory", "x"), "an unknown user", "Authentication failed")
    refused(sb, sasl("SCRAM-SHA-512", "bob", "bob-secret"), "bob without a SCRAM-SHA-512 credential",
            "Authentication failed")
    kafka_python_refused(sb, "SCRAM-SHA-256", "alice", "wrong")
    raw_checks(sport, pport)
    check(c.alive(), "collector died after the refusals")

    # 5. Deletion and bad input to the tool.
    rc, out, err = users("set", "-b", c.broker, "dave", "--iterations", "100", stdin="x\n")
    check(rc == 2, "users set --iterations 100: %d" % rc)
    rc, out, err = users("delete", "-b", c.broker, "bob")
    check(rc == 0, "users delete bob: %d %s" % (rc, err))
    rc, out, err = users("delete", "-b", c.broker, "bob")
    check(rc == 4 and "RESOURCE_NOT_FOUND" in err, "users delete bob again: %d %s" % (rc, err))
    refused(sb, sasl("PLAIN", "bob", "bob-secret"), "a deleted user", "Invalid username or password")
    with open(cred, "rb") as f:
        text = f.read()
    check(b"bob" not in text and b"carol" in text and b"carol-secret" not in text,
          "credential file after the changes:\n%s" % text.decode(errors="replace"))
    note("users delete; the file follows")

    # 6. The credentials survive a restart.
    c.stop()
    c.restart()
    confluent_roundtrip(sb, "sasl-after-restart", 100, sasl("SCRAM-SHA-512", "carol", "carol-secret"))
    note("credentials survive a restart")

    # 7. connections.max.reauth.ms: a session past its lifetime is closed
    # at its next request; librdkafka 2.0.2 (no re-authentication) then
    # connects and authenticates again, and nothing is lost.
    c.stop()
    r2 = ws.collector("reauth", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (pport, sport),
        "connections.max.reauth.ms": 1500,
    }).start()
    from confluent_kafka import Producer
    p = Producer(dict(sasl("SCRAM-SHA-256", "alice", "alice-secret"), **{"bootstrap.servers": sb, "log_level": 0}))
    for i in range(3):
        p.produce("sasl-reauth", value=b"before-%d" % i, partition=0)
        check(p.flush(20) == 0, "produce before the session's end")
        time.sleep(2)
    p.produce("sasl-reauth", value=b"after", partition=0)
    check(p.flush(20) == 0, "produce after the session's end")
    _, _, got = harness.read_partition(sb, "sasl-reauth", **sasl("SCRAM-SHA-256", "alice", "alice-secret"))
    check([v for _, _, v in got] == [b"before-0", b"before-1", b"before-2", b"after"],
          "records across expired sessions: %s" % [v for _, _, v in got])
    check(b"without SASL authentication; closing" in r2.log(), "no expired session was closed")
    note("connections.max.reauth.ms: expired sessions closed, the client comes back")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
