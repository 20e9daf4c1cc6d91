#!/usr/bin/env python3
"""docs/security.md's walk-through, step by step: a CA and a certificate
made with the openssl commands it shows, a collector with only a SASL_SSL
listener, SCRAM users created with --add-scram before the first start, a
topic and ACLs made with 'tributary acls' as the administrator, the agent
shipping a log over SASL_SSL as agent-web1, the exporter landing it as
exporter; then what must be refused: the agent's user reading, the
exporter's user writing, a user without ACLs, a wrong password, a plaintext
client. The host is localhost instead of logs.example.com; ports are free
ones."""
import glob
import gzip
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_agent_common as ac  # noqa: E402
from harness import check, fail, note  # noqa: E402

LINES = 5000


def sh(script, cwd):
    r = subprocess.run(["bash", "-euc", script], cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail("shell step: %s" % r.stderr)


def tributary(args, stdin=None, timeout=120):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary")] + args,
                       input=stdin, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def kcat(broker, tls, user, password, args, stdin=None):
    argv = ["kcat", "-b", broker, "-X", "security.protocol=SASL_SSL",
            "-X", "ssl.ca.location=%s" % os.path.join(tls, "ca.crt"),
            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=%s" % user,
            "-X", "sasl.password=%s" % password] + args
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=60)


def secret(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)


def run(ws):
    tls = ws.file("tls")
    os.makedirs(tls)
    # 1. The CA and the certificate, as the guide makes them.
    sh("""
openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -nodes \\
    -keyout ca.key -out ca.crt -subj "/CN=Tributary CA" \\
    -addext "basicConstraints=critical,CA:TRUE" \\
    -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -newkey rsa:2048 -nodes -keyout collector.key \\
    -out collector.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' \\
    > collector.ext
openssl x509 -req -in collector.csr -CA ca.crt -CAkey ca.key \\
    -CAcreateserial -days 825 -sha256 -extfile collector.ext \\
    -out collector.crt
cat collector.key collector.crt ca.crt > collector.keystore.pem
chmod 600 ca.key collector.key collector.keystore.pem
""", tls)
    note("step 1: CA and certificate made with the guide's openssl commands")

    # 2. The settings.
    port = harness.free_port()
    props = ws.file("collector.properties")
    data = ws.file("data")
    with open(props, "w") as f:
        f.write("listeners=SASL_SSL://127.0.0.1:%d\n" % port +
                "advertised.listeners=SASL_SSL://localhost:%d\n" % port +
                "ssl.keystore.location=%s\n" % os.path.join(tls, "collector.keystore.pem") +
                "sasl.enabled.mechanisms=SCRAM-SHA-512\n"
                "authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n"
                "super.users=User:admin\n"
                "log.dirs=%s\n" % data)

    # 3. The first users, before the first start.
    r = subprocess.run([harness.collector_binary(), "--config", props,
                        "--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]",
                        "--add-scram", "SCRAM-SHA-512=[name=agent-web1,password=agent-secret]",
                        "--add-scram", "SCRAM-SHA-512=[name=exporter,password=exporter-secret]",
                        "--add-scram", "SCRAM-SHA-512=[name=mallory,password=mallory-secret]"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "step 3: --add-scram: %d %s" % (r.returncode, r.stderr))
    c = ws.collector("guide", port=port, config=props, data_dir=data, sets={
        "listeners": "SASL_SSL://127.0.0.1:%d" % port}).start()
    broker = "localhost:%d" % port

    # 4. The administrator's settings.
    secret(ws.file("admin.pw"), "admin-secret")
    admin = ws.file("admin.properties")
    with open(admin, "w") as f:
        f.write("security.protocol=SASL_SSL\nssl.ca.location=%s\nsasl.mechanism=SCRAM-SHA-512\n"
                "sasl.username=admin\nsasl.password.file=%s\n"
                % (os.path.join(tls, "ca.crt"), ws.file("admin.pw")))
    B = ["-b", broker, "--command-config", admin]

    # 5. The topic and the ACLs.
    rc, out, err = tributary(["topics", "create", "logs"] + B + ["-p", "6"])
    check(rc == 0, "step 5: topics create: %d %s" % (rc, err))
    rc, out, err = tributary(["acls", "add"] + B + ["--allow-principal", "User:agent-web1", "--producer",
                                                    "--idempotent", "--topic", "logs"])
    check(rc == 0, "step 5: acls add (agent): %d %s" % (rc, err))
    rc, out, err = tributary(["acls", "add"] + B + ["--allow-principal", "User:agent-web1", "--operation",
                                                    "Write", "--topic", "__tributary_agents"])
    check(rc == 0, "step 5: acls add (agent's status records): %d %s" % (rc, err))
    rc, out, err = tributary(["acls", "add"] + B + ["--allow-principal", "User:exporter", "--consumer",
                                                    "--topic", "logs", "--group", "exporter"])
    check(rc == 0, "step 5: acls add (exporter): %d %s" % (rc, err))
    rc, out, err = tributary(["acls", "list"] + B)
    check(rc == 0 and "User:agent-web1" in out and "User:exporter" in out and "IDEMPOTENT_WRITE" in out,
          "step 5: acls list: %d %s %s" % (rc, out, err))
    note("step 5: topic and ACLs made by admin over SASL_SSL")

    # 6. The agent ships over SASL_SSL as agent-web1.
    logs = ws.file("nginx")
    os.makedirs(logs)
    with open(os.path.join(logs, "access.log"), "w") as f:
        for i in range(LINES):
            f.write("web1 %06d GET /index.html 200\n" % i)
    secret(ws.file("agent.pw"), "agent-secret")
    agent = ac.Agent(ws, broker, "[input web]\npaths = %s/access.log\ntopic = logs\n" % logs,
                     output_extra="security.protocol = SASL_SSL\nssl.ca.location = %s\n"
                                  "sasl.mechanism = SCRAM-SHA-512\nsasl.username = agent-web1\n"
                                  "sasl.password.file = %s\n"
                                  % (os.path.join(tls, "ca.crt"), ws.file("agent.pw")))
    agent.start()

    # 7. The exporter lands the topic as exporter.
    secret(ws.file("export.pw"), "exporter-secret")
    export = ws.file("export.properties")
    with open(export, "w") as f:
        f.write("security.protocol=SASL_SSL\nssl.ca.location=%s\nsasl.mechanism=SCRAM-SHA-512\n"
                "sasl.username=exporter\nsasl.password.file=%s\n"
                % (os.path.join(tls, "ca.crt"), ws.file("export.pw")))
    root = ws.file("export")
    got = []
    deadline = time.monotonic() + 90
    while len(got) < LINES and time.monotonic() < deadline:
        rc, out, err = tributary(["export", "-b", broker, "--command-config", export, "-t", "logs",
                                  "-g", "exporter", "--root", root, "--until-end"])
        check(rc == 0, "step 7: export: %d %s" % (rc, err))
        got = []
        for path in glob.glob(os.path.join(root, "logs", "*", "*", "*.gz")):
            with gzip.open(path, "rt") as f:
                got += f.read().splitlines()
        time.sleep(0.5)
    want = ["web1 %06d GET /index.html 200" % i for i in range(LINES)]
    check(sorted(got) == want, "steps 6-7: the exporter landed %d of %d lines (%d distinct)"
          % (len(got), LINES, len(set(got))))
    check(agent.stop() == 0, "the agent stopped cleanly")
    check(b"__tributary_agents" not in b"".join(
        line for line in c.log().splitlines(True) if b"is Denied" in line),
        "steps 6-7: the agent's status records were not refused")
    note("steps 6-7: the agent shipped %d lines as agent-web1, the exporter landed each once" % LINES)

    # 8. What is refused.
    r = kcat(broker, tls, "agent-web1", "agent-secret", ["-C", "-t", "logs", "-o", "beginning", "-e", "-q"])
    check(r.returncode != 0 and b"authorization failed" in r.stderr.lower(),
          "step 8: agent-web1 may not read: %d %s" % (r.returncode, r.stderr[-300:]))
    r = kcat(broker, tls, "exporter", "exporter-secret", ["-P", "-t", "logs"], stdin=b"forged\n")
    check(r.returncode != 0 or b"authorization failed" in r.stderr.lower(),
          "step 8: exporter may not write: %d %s" % (r.returncode, r.stderr[-300:]))
    r = kcat(broker, tls, "mallory", "mallory-secret", ["-L", "-t", "logs"])
    check(b"Topic authorization failed" in r.stdout + r.stderr or b"authorization failed" in
          (r.stdout + r.stderr).lower(), "step 8: mallory (no ACLs) sees no topic: %s" % r.stdout[-300:])
    r = kcat(broker, tls, "agent-web1", "wrong", ["-L"])
    check(r.returncode != 0 and b"Authentication failed" in r.stderr,
          "step 8: a wrong password: %d %s" % (r.returncode, r.stderr[-300:]))
    r = subprocess.run(["kcat", "-b", broker, "-L", "-m", "5"], capture_output=True, timeout=60)
    check(r.returncode != 0, "step 8: a plaintext client gets nothing: %d" % r.returncode)
    log = c.log()
    check(b"User:agent-web1" in log and b"Read" in log, "step 8: the refusal of agent-web1 is logged")
    check(c.alive(), "the collector is still serving")
    rc, out, err = tributary(["consume", "-b", broker, "--command-config", admin, "-t", "logs",
                              "--from-beginning", "-e"])
    check(rc == 0 and "forged" not in out and len(out.splitlines()) == LINES,
          "step 8: the topic holds exactly the agent's %d lines: %d" % (LINES, len(out.splitlines())))
    note("step 8: reading as the agent, writing as the exporter, no ACLs, a wrong password and "
         "plaintext are all refused; the topic holds only the agent's lines")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
