#!/usr/bin/env python3
"""kafkajs over TLS and SASL: a collector with an SSL listener asking for
client certificates (mutual TLS) and a SASL_SSL listener with SCRAM and
PLAIN users; test_security_kafkajs.js produces and consumes in groups over
each, and checks that a wrong password, an unknown user and an untrusted
server certificate are refused. The collector must still be serving
afterwards, and must have seen the client certificate's principal."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_tls  # noqa: E402
from harness import check, note  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def run(ws):
    modules = harness.require_kafkajs("test_security_kafkajs")
    certs = ws.file("certs")
    test_tls.make_certs(certs)
    data = ws.file("data")
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + data,
                        "--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]",
                        "--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "--add-scram: %d %s" % (r.returncode, r.stderr))
    pport, sport, tport = harness.free_port(), harness.free_port(), harness.free_port()
    c = ws.collector("kjs-sec", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d" % (pport, sport, tport),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SSL://localhost:%d,SASL_SSL://localhost:%d"
                                % (pport, sport, tport),
        "ssl.keystore.location": os.path.join(certs, "server.keystore.pem"),
        "ssl.truststore.location": os.path.join(certs, "ca.crt"),
        "ssl.client.auth": "requested",
        "tributary.log.level": "debug",
        "num.partitions": 2,
    }).start()
    env = dict(os.environ, NODE_PATH=modules, KAFKAJS_NO_PARTITIONER_WARNING="1")
    p = subprocess.run(["node", os.path.join(HERE, "test_security_kafkajs.js"), "localhost:%d" % sport,
                        "localhost:%d" % tport, certs], env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(p.stdout)
    check(p.returncode == 0 and "PASS: test_security_kafkajs" in p.stdout,
          "kafkajs over SSL and SASL_SSL: exit %d\n%s" % (p.returncode, p.stderr[-2000:]))
    check(c.alive(), "collector alive after the refusals")
    log = c.log()
    check(("as User:%s" % test_tls.CLIENT_SUBJECT).encode() in log,
          "the mutual TLS principal User:%s is in the log" % test_tls.CLIENT_SUBJECT)
    note("kafkajs: mutual TLS, SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN over SASL_SSL; refusals clear")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
