#!/usr/bin/python3
"""TLS listeners: SSL next to PLAINTEXT, mutual TLS, renewal with SIGHUP.

A CA, a server certificate (SAN DNS:localhost, IP:127.0.0.1) and client
certificates are made with the openssl command. One collector listens on
PLAINTEXT and SSL: confluent-kafka, kafka-python and kcat produce and
consume over SSL; Metadata over each listener advertises that listener's
port; a client that does not trust the CA, a plaintext client on the SSL
port and garbage bytes get nothing and the collector goes on. A second
collector requires client certificates: without one a client is refused,
with one it works and its principal is the certificate's subject. SIGHUP
with a renewed certificate: new connections see the new serial, an old
connection keeps working. Bad settings stop the start naming the setting.
"""

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
from harness import (CLIENT_EXT, check, fail, make_ca, note, openssl, server_keystore,  # noqa: E402
                     sign, tls_connect)

CLIENT_SUBJECT = "CN=agent1,OU=Logs,O=Tributary,C=US"


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    make_ca(d, "ca")
    make_ca(d, "rogue")
    server_keystore(d, 1001)
    sign(d, "ca", "client", "/C=US/O=Tributary/OU=Logs/CN=agent1", CLIENT_EXT, 2001)
    # An encrypted PKCS#8 copy of the server key, for the password checks.
    openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "server.key", "-out", "server.enc.key",
            "-passout", "pass:changeit", cwd=d)
    with open(os.path.join(d, "server.enc.pem"), "wb") as f:
        for part in ("server.enc.key", "server.crt"):
            with open(os.path.join(d, part), "rb") as g:
                f.write(g.read())


def rdk_ssl(certs, **extra):
    conf = {"security.protocol": "SSL", "ssl.ca.location": os.path.join(certs, "ca.crt")}
    conf.update(extra)
    return conf


def confluent_roundtrip(broker, topic, n, conf):
    records = [(b"k%d" % i, b"tls-value-%06d" % i + b"x" * (i % 300)) for i in range(n)]
    harness.produce_records(broker, topic, records, **conf)
    _, _, got = harness.read_partition(broker, topic, timeout=60, **conf)
    check([(k, v) for _, k, v in got] == records,
          "confluent-kafka: records read over SSL differ from those written")


def metadata_ports(broker, conf):
    from confluent_kafka.admin import AdminClient

    md = AdminClient(dict(conf, **{"bootstrap.servers": broker})).list_topics(timeout=15)
    return sorted((b.host, b.port) for b in md.brokers.values())


def refused(broker, conf, what):
    """A librdkafka client with 'conf' must fail to get Metadata."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka import KafkaException

    try:
        AdminClient(dict(conf, **{"bootstrap.servers": broker})).list_topics(timeout=4)
    except KafkaException as e:
        note("%s refused as expected: %s" % (what, str(e)[:120]))
        return
    fail("%s was served" % what)


def kafka_python_roundtrip(broker, topic, certs, n=500):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    ssl_args = dict(security_protocol="SSL", ssl_cafile=os.path.join(certs, "ca.crt"))
    p = KafkaProducer(bootstrap_servers=broker, acks="all", **ssl_args)
    for i in range(n):
        p.send(topic, key=b"kp%d" % i, value=b"kafka-python over TLS %d" % i, partition=0)
    p.flush(30)
    p.close()
    c = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False, consumer_timeout_ms=10000,
                      **ssl_args)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = [(m.key, m.value) for _, m in zip(range(n), c)]
    c.close()
    check(got == [(b"kp%d" % i, b"kafka-python over TLS %d" % i) for i in range(n)],
          "kafka-python: %d records read over SSL, expected %d, or they differ" % (len(got), n))


def kcat_roundtrip(broker, topic, certs, n=300):
    x = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + os.path.join(certs, "ca.crt")]
    lines = "".join("kcat-tls-%d\n" % i for i in range(n))
    r = subprocess.run(["kcat", "-b", broker, "-t", topic, "-p", "0", "-P", "-X", "acks=all"] + x,
                       input=lines, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat produce over SSL failed: %s" % r.stderr)
    r = subprocess.run(["kcat", "-b", broker, "-t", topic, "-p", "0", "-C", "-o", "beginning", "-e",
                        "-q"] + x, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat consume over SSL failed: %s" % r.stderr)
    check(r.stdout == lines, "kcat: records read over SSL differ (%d bytes)" % len(r.stdout))


def api_versions_frame(corr):
    body = struct.pack(">hhih", 18, 0, corr, 4) + b"tls!"
    return struct.pack(">i", len(body)) + body


def recv_frame(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("closed")
            buf += chunk
        return buf
    size = struct.unpack(">i", exact(4))[0]
    return exact(size)


def hostile(port):
    """A plaintext Kafka client and garbage on the SSL port get no answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(api_versions_frame(1))
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        # At most a TLS alert (content type 21), never a Kafka response.
        check(data == b"" or data[0] == 21, "plaintext client on SSL port got %r" % data[:40])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(os.urandom(20000))
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            pass


def bad_start(ws, certs, name, sets, expect):
    """A collector with 'sets' must exit 2 naming 'expect'."""
    argv = [harness.collector_binary(), "--set", "log.dirs=" + ws.file(name),
            "--set", "listeners=SSL://127.0.0.1:%d" % harness.free_port()]
    for k, v in sets.items():
        argv += ["--set", "%s=%s" % (k, v)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    check(r.returncode == 2, "%s: exit %d, expected 2; stderr: %s" % (name, r.returncode, r.stderr))
    check(expect in r.stderr, "%s: stderr does not name %s: %s" % (name, expect, r.stderr))
    note("%s: refused naming %s" % (name, expect))


def run(ws):
    certs = ws.file("certs")
    make_certs(certs)
    keystore = os.path.join(certs, "server.keystore.pem")

    # 1. PLAINTEXT and SSL listeners side by side.
    pport, sport = harness.free_port(), harness.free_port()
    c = ws.collector("tls", port=pport, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (pport, sport),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SSL://localhost:%d" % (pport, sport),
        "ssl.keystore.location": keystore,
        "num.partitions": 1,
        "tributary.log.level": "debug",
    }).start()
    ssl_broker = "localhost:%d" % sport
    conf = rdk_ssl(certs)
    confluent_roundtrip(ssl_broker, "tls-confluent", 3000, conf)
    note("confluent-kafka: 3000 records produced and consumed over SSL")
    check(metadata_ports(ssl_broker, conf) == [("localhost", sport)],
          "Metadata over SSL does not advertise the SSL listener: %s" % metadata_ports(ssl_broker, conf))
    check(metadata_ports(c.broker, {}) == [("127.0.0.1", pport)],
          "Metadata over PLAINTEXT does not advertise the PLAINTEXT listener")
    note("Metadata advertises the listener the client came on")
    kafka_python_roundtrip(ssl_broker, "tls-kafka-python", certs)
    note("kafka-python: produced and consumed over SSL")
    kcat_roundtrip(ssl_broker, "tls-kcat", certs)
    note("kcat: produced and consumed over SSL")
    # The same records over PLAINTEXT (sendfile) and SSL (copied) agree.
    _, _, plain = harness.read_partition(c.broker, "tls-confluent")
    check(len(plain) == 3000, "PLAINTEXT read of tls-confluent: %d records" % len(plain))

    refused(ssl_broker, rdk_ssl(certs, **{"ssl.ca.location": os.path.join(certs, "rogue.crt")}),
            "a client not trusting the CA")
    hostile(sport)
    check(c.alive(), "collector died after hostile input on the SSL port")
    check(b"TLS error on listener SSL" in c.log(), "no TLS error logged for the hostile clients")
    check(metadata_ports(ssl_broker, conf) == [("localhost", sport)], "SSL listener broken after hostile input")
    note("untrusted, plaintext and garbage clients on the SSL port got nothing")

    # 2. SIGHUP with a renewed certificate.
    old, serial = tls_connect(sport, certs)
    check(serial == 1001, "first serial %d" % serial)
    old.sendall(api_versions_frame(7))
    check(struct.unpack(">i", recv_frame(old)[:4])[0] == 7, "ApiVersions over raw TLS")
    server_keystore(certs, 1002)
    c.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while b"TLS keystore and truststore reloaded" not in c.log():
        if time.monotonic() > deadline:
            fail("no reload logged after SIGHUP:\n%s" % harness.tail(c.log()))
        time.sleep(0.1)
    new, serial2 = tls_connect(sport, certs)
    check(serial2 == 1002, "a new connection after SIGHUP got serial %d, expected 1002" % serial2)
    old.sendall(api_versions_frame(8))
    check(struct.unpack(">i", recv_frame(old)[:4])[0] == 8, "the old connection stopped working after SIGHUP")
    old.close()
    new.close()
    confluent_roundtrip(ssl_broker, "tls-after-reload", 200, conf)
    note("SIGHUP: new connections see serial 1002, the old one keeps working")
    # A broken keystore on SIGHUP keeps the current certificate.
    with open(keystore, "w") as f:
        f.write("not a certificate\n")
    c.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while b"TLS reload failed" not in c.log():
        if time.monotonic() > deadline:
            fail("no failed reload logged")
        time.sleep(0.1)
    s, serial3 = tls_connect(sport, certs)
    s.close()
    check(serial3 == 1002, "a failed reload changed the certificate")
    server_keystore(certs, 1003)
    c.stop()

    # 3. Mutual TLS, required.
    mport = harness.free_port()
    m = ws.collector("mtls", port=mport, sets={
        "listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (harness.free_port(), mport),
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
        "advertised.listeners": "EXTERNAL://localhost:%d" % mport,
        "ssl.keystore.location": keystore,
        "ssl.truststore.location": os.path.join(certs, "ca.crt"),
        "ssl.client.auth": "required",
        "tributary.log.level": "debug",
    }).start()
    mbroker = "localhost:%d" % mport
    refused(mbroker, conf, "a client without a certificate (ssl.client.auth=required)")
    with_cert = rdk_ssl(certs, **{"ssl.certificate.location": os.path.join(certs, "client.crt"),
                                  "ssl.key.location": os.path.join(certs, "client.key")})
    confluent_roundtrip(mbroker, "mtls", 100, with_cert)
    check(("as User:%s" % CLIENT_SUBJECT).encode() in m.log(),
          "principal User:%s not found in the log" % CLIENT_SUBJECT)
    note("mutual TLS: refused without a certificate, served with one as User:%s" % CLIENT_SUBJECT)
    m.stop()

    # 3b. ssl.principal.mapping.rules, and a subject with an attribute
    # Java prints as OID=#<DER hex> (emailAddress).
    sign(certs, "ca", "ops", "/C=US/O=Tributary/OU=Ops/CN=ops1/emailAddress=ops@example.com",
         CLIENT_EXT, 2002)
    sign(certs, "ca", "stranger", "/O=Elsewhere/CN=stranger", CLIENT_EXT, 2003)
    email = b"ops@example.com"
    ops_subject = "1.2.840.113549.1.9.1=#16%02x%s,CN=ops1,OU=Ops,O=Tributary,C=US" % (len(email), email.hex())
    rules = ("RULE:^CN=(.*?),OU=Logs,.*$/$1/U,"
             "RULE:^1\\.2\\.840\\.113549\\.1\\.9\\.1=#[0-9a-f]+,CN=(.*?),OU=(.*?),.*$/$1@$2/L")
    mapped = ws.collector("mapped", port=mport, sets=dict(m.sets, **{
        "ssl.principal.mapping.rules": rules})).start()
    confluent_roundtrip(mbroker, "mapped", 50, with_cert)
    ops = rdk_ssl(certs, **{"ssl.certificate.location": os.path.join(certs, "ops.crt"),
                            "ssl.key.location": os.path.join(certs, "ops.key")})
    confluent_roundtrip(mbroker, "mapped-ops", 50, ops)
    stranger = rdk_ssl(certs, **{"ssl.certificate.location": os.path.join(certs, "stranger.crt"),
                                 "ssl.key.location": os.path.join(certs, "stranger.key")})
    refused(mbroker, stranger, "a subject no rule maps")
    log = mapped.log()
    check(b"as User:AGENT1" in log, "RULE .../U did not give User:AGENT1")
    check(b"as User:ops1@ops" in log, "the emailAddress rule did not give User:ops1@ops (Java's form %s)"
          % ops_subject)
    check(b"no ssl.principal.mapping.rules rule matches" in log, "the unmapped subject was not logged")
    check(mapped.alive(), "collector died on an unmapped subject")
    mapped.stop()
    bad_start(ws, certs, "bad-rule", {"ssl.keystore.location": keystore,
                                      "ssl.principal.mapping.rules": "RULE:^CN=(.*$/$1/"},
              "ssl.principal.mapping.rules")
    note("ssl.principal.mapping.rules: U and L rules, Java's OID=#hex form, unmapped subjects refused")

    # 4. Bad settings are start-up errors naming the setting.
    bad_start(ws, certs, "no-keystore", {}, "ssl.keystore.location")
    bad_start(ws, certs, "missing-keystore", {"ssl.keystore.location": ws.file("nope.pem")},
              "ssl.keystore.location")
    bad_start(ws, certs, "wrong-password", {"ssl.keystore.location": os.path.join(certs, "server.enc.pem"),
                                            "ssl.key.password": "wrong"}, "ssl.key.password")
    bad_start(ws, certs, "tls11", {"ssl.keystore.location": keystore, "ssl.enabled.protocols": "TLSv1.1"},
              "ssl.enabled.protocols")
    bad_start(ws, certs, "no-truststore", {"ssl.keystore.location": keystore, "ssl.client.auth": "required"},
              "ssl.truststore.location")
    bad_start(ws, certs, "unmapped", {"listeners": "EXTERNAL://127.0.0.1:%d" % harness.free_port()},
              "listener.security.protocol.map")
    # The encrypted key with the right password is fine.
    e = ws.collector("enc", sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (harness.free_port(), harness.free_port()),
        "ssl.keystore.location": os.path.join(certs, "server.enc.pem"),
        "ssl.key.password": "changeit",
    })
    e.port = int(e.sets["listeners"].split(",")[0].rsplit(":", 1)[1])
    e.start()
    e.stop()


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
