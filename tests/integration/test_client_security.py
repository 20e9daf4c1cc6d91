#!/usr/bin/python3
"""TLS and SASL in Tributary's own clients: the agent, tributary and the exporter.

One collector listens on PLAINTEXT, SSL (ssl.client.auth=requested, on all
interfaces), SASL_SSL and SASL_PLAINTEXT; a second one on SSL with
ssl.client.auth=required. Certificates are made with openssl, users with
tributary-collector --add-scram before the first start.

- The agent ships a log file over SASL_SSL with SCRAM-SHA-512; kcat reads
  every line back over SASL_SSL.
- tributary topics/produce/consume/groups/users over SASL_SSL with PLAIN
  (-X), SCRAM-SHA-256 (--command-config with sasl.password.file), over
  SASL_PLAINTEXT with SCRAM-SHA-512, and over SSL with mutual TLS (the
  collector logs the certificate's principal; without a certificate the
  mTLS-only collector refuses it).
- The exporter (tributary export) lands a topic read over SASL_SSL.
- Refusals, each a clear message and exit status 5 for the CLI: a wrong
  password ("SASL authentication failed: ..."), an untrusted server
  certificate and a host name the certificate does not cover ("certificate
  verify failed"), the latter accepted with
  ssl.endpoint.identification.algorithm=none. The agent with a wrong
  password logs the refusal, retries slowly and keeps its data: killed,
  given the right password and restarted, it ships every line.
- A password file others can read draws a warning; bad settings stop the
  agent's --check-config and the CLI with exit status 2.
"""

import glob
import gzip
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_agent_common as ac  # noqa: E402
import test_tls  # noqa: E402
from harness import check, note  # noqa: E402

CLIENT_PRINCIPAL = "User:" + test_tls.CLIENT_SUBJECT


def tributary(args, stdin=None, timeout=60):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary")] + args,
                       input=stdin, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def x(**props):
    """-X KEY=VALUE arguments; '_' in a keyword stands for '.'."""
    out = []
    for k, v in props.items():
        out += ["-X", "%s=%s" % (k.replace("_", "."), v)]
    return out


def roundtrip(broker, topic, sec, what, n=500):
    """topics create, produce, consume, topics describe through 'sec'."""
    rc, out, err = tributary(["topics", "create", topic, "-b", broker, "-p", "2"] + sec)
    check(rc == 0, "%s: topics create: %d %s" % (what, rc, err))
    lines = "".join("%s %s line %05d\n" % (what, topic, i) for i in range(n))
    rc, out, err = tributary(["produce", "-b", broker, "-t", topic] + sec, stdin=lines)
    check(rc == 0, "%s: produce: %d %s" % (what, rc, err))
    rc, out, err = tributary(["consume", "-b", broker, "-t", topic, "--from-beginning", "-e"] + sec)
    check(rc == 0, "%s: consume: %d %s" % (what, rc, err))
    check(sorted(out.splitlines()) == sorted(lines.splitlines()),
          "%s: consume read %d lines, %d produced" % (what, len(out.splitlines()), n))
    rc, out, err = tributary(["topics", "describe", topic, "-b", broker, "--json"] + sec)
    check(rc == 0 and topic in out, "%s: topics describe: %d %s" % (what, rc, err))
    note("%s: topics create/describe, produce and consume %d records" % (what, n))


def refused(broker, sec, what, expect, rc_want=5):
    rc, out, err = tributary(["topics", "list", "-b", broker, "--timeout", "20000"] + sec)
    check(rc == rc_want and expect in err,
          "%s: expected exit %d and %r, got %d: %s" % (what, rc_want, expect, rc, err))
    note("%s refused (exit %d): %s" % (what, rc, err.strip()))
    return err


def kcat_read(broker, topic, count, conf):
    args = ["kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"]
    for k, v in conf.items():
        args += ["-X", "%s=%s" % (k, v)]
    deadline = time.monotonic() + 60
    while True:
        r = subprocess.run(args, capture_output=True, timeout=60)
        got = r.stdout.decode(errors="replace").splitlines()
        if len(set(got)) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def write_log(path, prefix, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write("%s %06d GET /index.html 200\n" % (prefix, i))


def agent_conf_output(broker, certs, password_line):
    return ("security.protocol = SASL_SSL\nssl.ca.location = %s\nsasl.mechanism = SCRAM-SHA-512\n"
            "sasl.username = alice\n%s\nretry_backoff_max_ms = 1000\n"
            % (os.path.join(certs, "ca.crt"), password_line))


def ship_and_check(agent, broker, topic, prefix, n, kc, what):
    """Starts 'agent' and reads 'topic' back with kcat until every line is there."""
    agent.start()
    got = kcat_read(broker, topic, n, kc)
    want = ["%s %06d GET /index.html 200" % (prefix, i) for i in range(n)]
    check(set(got) == set(want), "%s: kcat read %d distinct lines of %d" % (what, len(set(got)), n))
    check(agent.stop() == 0, "%s: agent exit status" % what)
    agent.check_sanitizers()


def agent_part(ws, broker, certs):
    logs = ws.file("logs")
    os.makedirs(logs)
    n = 20000
    write_log(os.path.join(logs, "app.log"), "app", n)
    inputs = "[input app]\npaths = %s/app.log\ntopic = agent-sasl\n" % logs
    kc = {"security.protocol": "SASL_SSL", "ssl.ca.location": os.path.join(certs, "ca.crt"),
          "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice", "sasl.password": "alice-secret"}

    # --check-config refuses an incomplete [output].
    bad = ac.Agent(ws, broker, inputs, output_extra="security.protocol = SASL_SSL\n", name="agent-bad")
    r = subprocess.run([ac.agent_binary(), "--check-config", "--config", bad.conf],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "sasl.mechanism: not set" in r.stderr,
          "agent --check-config without sasl.mechanism: %d %s" % (r.returncode, r.stderr))

    # 1. Shipping over SASL_SSL with SCRAM-SHA-512.
    agent = ac.Agent(ws, broker, inputs, name="agent-ok",
                     output_extra=agent_conf_output(broker, certs, "sasl.password = alice-secret"))
    ship_and_check(agent, broker, "agent-sasl", "app", n, kc, "agent over SASL_SSL")
    note("agent shipped %d lines over SASL_SSL with SCRAM-SHA-512; kcat read them all back" % n)

    # 2. A wrong password: logged, retried slowly, nothing lost.
    logs2 = ws.file("logs2")
    os.makedirs(logs2)
    m = 5000
    write_log(os.path.join(logs2, "web.log"), "web", m)
    pw = ws.file("agent.pw")
    with open(pw, "w") as f:
        f.write("wrong-secret\n")
    os.chmod(pw, 0o644)
    inputs2 = "[input web]\npaths = %s/web.log\ntopic = agent-retry\n" % logs2
    agent = ac.Agent(ws, broker, inputs2, name="agent-pw",
                     output_extra=agent_conf_output(broker, certs, "sasl.password.file = %s" % pw))
    agent.start()
    deadline = time.monotonic() + 30
    while b"SASL authentication failed" not in agent.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    log = agent.log()
    check(b"SASL authentication failed: Authentication failed during authentication due to "
          b"invalid credentials with SASL mechanism SCRAM-SHA-512" in log,
          "agent with a wrong password: no clear error logged:\n%s" % harness.tail(log))
    check(b"readable by group or others" in log, "agent: no warning about a readable password file")
    check(log.count(b"SASL authentication failed") <= 2,
          "agent logs the same refusal %d times in 3 s" % log.count(b"SASL authentication failed"))
    check(agent.alive(), "agent died on a refused login")
    agent.kill()
    with open(pw, "w") as f:
        f.write("alice-secret\n")
    os.chmod(pw, 0o600)
    ship_and_check(agent, broker, "agent-retry", "web", m, kc, "agent after fixing the password")
    note("agent with a wrong password logged the refusal, kept its data; restarted, shipped all %d" % m)


def exporter_part(ws, broker, sec):
    topic = "export-sasl"
    rc, out, err = tributary(["topics", "create", topic, "-b", broker, "-p", "1"] + sec)
    check(rc == 0, "export: topics create: %s" % err)
    lines = "".join("exported %04d\n" % i for i in range(300))
    rc, out, err = tributary(["produce", "-b", broker, "-t", topic] + sec, stdin=lines)
    check(rc == 0, "export: produce: %s" % err)
    root = ws.file("landing")
    rc, out, err = tributary(["export", "-b", broker, "-t", topic, "-g", "exp", "--root", root,
                              "--until-end"] + sec, timeout=120)
    check(rc == 0, "export over SASL_SSL: %d %s" % (rc, err))
    got = []
    for path in glob.glob(os.path.join(root, topic, "*", "*", "*.gz")):
        with gzip.open(path, "rt") as f:
            got += f.read().splitlines()
    check(sorted(got) == sorted(lines.splitlines()), "export landed %d of 300 lines" % len(got))
    note("tributary export over SASL_SSL landed all 300 records")


def run(ws):
    certs = ws.file("certs")
    test_tls.make_certs(certs)
    ca = os.path.join(certs, "ca.crt")
    data = ws.file("sec-data")
    harness.add_scram_users(data, [
        "SCRAM-SHA-256=[name=alice,password=alice-secret]",
        "SCRAM-SHA-512=[name=alice,password=alice-secret]",
        "SCRAM-SHA-256=[name=bob,password=bob-secret]",
    ])
    pport, sport, tport, uport = (harness.free_port() for _ in range(4))
    keystore = os.path.join(certs, "server.keystore.pem")
    c = ws.collector("sec", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://0.0.0.0:%d,SASL_SSL://127.0.0.1:%d,"
                     "SASL_PLAINTEXT://127.0.0.1:%d" % (pport, sport, tport, uport),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SSL://localhost:%d,SASL_SSL://localhost:%d,"
                                "SASL_PLAINTEXT://127.0.0.1:%d" % (pport, sport, tport, uport),
        "ssl.keystore.location": keystore,
        "ssl.truststore.location": ca,
        "ssl.client.auth": "requested",
        "tributary.log.level": "debug",
        "num.partitions": 1,
    }).start()
    ssl_b, sasl_ssl_b, sasl_plain_b = ("localhost:%d" % sport, "localhost:%d" % tport,
                                       "127.0.0.1:%d" % uport)

    # 1. SASL_SSL with PLAIN, everything on the command line.
    plain = x(security_protocol="SASL_SSL", ssl_ca_location=ca, sasl_mechanism="PLAIN",
              sasl_username="bob", sasl_password="bob-secret")
    roundtrip(sasl_ssl_b, "cli-plain", plain, "SASL_SSL PLAIN")
    rc, out, err = tributary(["users", "list", "-b", sasl_ssl_b, "--json"] + plain)
    check(rc == 0 and '"user":"alice"' in out, "users list over SASL_SSL: %d %s" % (rc, err))
    rc, out, err = tributary(["groups", "list", "-b", sasl_ssl_b] + plain)
    check(rc == 0, "groups list over SASL_SSL: %d %s" % (rc, err))

    # 2. SASL_SSL with SCRAM-SHA-256 from a properties file and a password file.
    pw = ws.file("bob.pw")
    with open(pw, "w") as f:
        f.write("bob-secret\n")
    os.chmod(pw, 0o600)
    props = ws.file("client.properties")
    with open(props, "w") as f:
        f.write("security.protocol=SASL_SSL\nssl.ca.location=%s\nsasl.mechanism=SCRAM-SHA-256\n"
                "sasl.username=bob\nsasl.password.file=%s\n" % (ca, pw))
    scram = ["--command-config", props]
    roundtrip(sasl_ssl_b, "cli-scram256", scram, "SASL_SSL SCRAM-SHA-256 --command-config")
    rc, out, err = tributary(["topics", "list", "-b", sasl_ssl_b] + scram)
    check(rc == 0 and "warning" not in err, "a 0600 password file draws no warning: %s" % err)
    os.chmod(pw, 0o644)
    rc, out, err = tributary(["topics", "list", "-b", sasl_ssl_b] + scram)
    check(rc == 0 and "warning: sasl.password.file %s is readable by group or others" % pw in err,
          "a world-readable password file: no warning: %d %s" % (rc, err))
    note("a world-readable password file draws: %s" % err.strip())
    os.chmod(pw, 0o600)

    # 3. SASL_PLAINTEXT with SCRAM-SHA-512.
    roundtrip(sasl_plain_b, "cli-scram512",
              x(security_protocol="SASL_PLAINTEXT", sasl_mechanisms="SCRAM-SHA-512",
                sasl_username="alice", sasl_password="alice-secret"), "SASL_PLAINTEXT SCRAM-SHA-512", n=200)

    # 4. SSL with mutual TLS: the collector sees the certificate's subject.
    mtls = x(security_protocol="SSL", ssl_ca_location=ca,
             ssl_certificate_location=os.path.join(certs, "client.crt"),
             ssl_key_location=os.path.join(certs, "client.key"))
    os.chmod(os.path.join(certs, "client.key"), 0o600)
    roundtrip(ssl_b, "cli-mtls", mtls, "SSL mutual TLS", n=200)
    check(CLIENT_PRINCIPAL.encode() in c.log(),
          "the collector did not see the client certificate (%s)" % CLIENT_PRINCIPAL)
    m = ws.collector("mtls", sets={
        "listeners": "SSL://127.0.0.1:%d" % harness.free_port(),
        "ssl.keystore.location": keystore, "ssl.truststore.location": ca,
        "ssl.client.auth": "required"})
    m.port = int(m.sets["listeners"].rsplit(":", 1)[1])
    m.start()
    mb = "localhost:%d" % m.port
    rc, out, err = tributary(["cluster", "status", "-b", mb] + mtls)
    check(rc == 0, "mTLS-only collector with a certificate: %d %s" % (rc, err))
    refused(mb, x(security_protocol="SSL", ssl_ca_location=ca), "mTLS-only collector without a certificate",
            "TLS handshake failed")
    note("mutual TLS: principal %s; without a certificate refused" % CLIENT_PRINCIPAL)
    # An encrypted PKCS#8 key with ssl.key.password; a wrong one stops at once.
    test_tls.openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "client.key", "-out", "client.enc.key",
                     "-passout", "pass:changeit", cwd=certs)
    enc = x(security_protocol="SSL", ssl_ca_location=ca,
            ssl_certificate_location=os.path.join(certs, "client.crt"),
            ssl_key_location=os.path.join(certs, "client.enc.key"))
    rc, out, err = tributary(["cluster", "status", "-b", mb] + enc + x(ssl_key_password="changeit"))
    check(rc == 0, "mTLS with an encrypted key and ssl.key.password: %d %s" % (rc, err))
    refused(mb, enc + x(ssl_key_password="wrong"), "a wrong ssl.key.password",
            "ssl.key.password: cannot decrypt the private key", rc_want=2)

    # 5. Refusals.
    refused(sasl_ssl_b, x(security_protocol="SASL_SSL", ssl_ca_location=ca, sasl_mechanism="SCRAM-SHA-256",
                          sasl_username="alice", sasl_password="nope"), "wrong password",
            "SASL authentication failed: Authentication failed during authentication due to invalid "
            "credentials with SASL mechanism SCRAM-SHA-256")
    refused(sasl_ssl_b, x(security_protocol="SASL_SSL", ssl_ca_location=ca, sasl_mechanism="PLAIN",
                          sasl_username="bob", sasl_password="nope"), "wrong PLAIN password",
            "SASL authentication failed: Authentication failed: Invalid username or password")
    refused(ssl_b, x(security_protocol="SSL", ssl_ca_location=os.path.join(certs, "rogue.crt")),
            "untrusted server certificate", "certificate verify failed")
    mismatch = "127.0.0.2:%d" % sport
    err = refused(mismatch, x(security_protocol="SSL", ssl_ca_location=ca), "host name mismatch",
                  "certificate verify failed")
    check("mismatch" in err, "host name mismatch not named: %s" % err)
    rc, out, err = tributary(["topics", "list", "-b", mismatch] +
                             x(security_protocol="SSL", ssl_ca_location=ca,
                               ssl_endpoint_identification_algorithm="none"))
    check(rc == 0 and "cli-mtls" in out,
          "ssl.endpoint.identification.algorithm=none: %d %s" % (rc, err))
    rc, out, err = tributary(["topics", "list", "-b", ssl_b] +
                             x(security_protocol="SSL", ssl_ca_location=os.path.join(certs, "rogue.crt"),
                               enable_ssl_certificate_verification="false"))
    check(rc == 0 and "any server certificate is accepted" in err,
          "enable.ssl.certificate.verification=false: %d %s" % (rc, err))
    refused(sasl_ssl_b, x(security_protocol="SASL_SSL", ssl_ca_location=ca), "SASL without a mechanism",
            "sasl.mechanism: not set", rc_want=2)
    refused(sasl_ssl_b, x(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI"), "GSSAPI",
            "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", rc_want=2)
    refused(sasl_ssl_b, x(security_protocol="SSL", ssl_ca_location=ca,
                          ssl_certificate_location=os.path.join(certs, "client.crt")),
            "certificate without key", "mutual TLS needs both", rc_want=2)

    # 6. The exporter, and the agent.
    exporter_part(ws, sasl_ssl_b, plain)
    agent_part(ws, sasl_ssl_b, certs)
    check(c.alive() and m.alive(), "a collector died")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=300))
