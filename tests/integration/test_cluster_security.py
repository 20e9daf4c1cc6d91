#!/usr/bin/python3
"""A cluster whose brokers talk to each other over SASL_SSL only.

Three collectors on a real ZooKeeper, each with two SASL_SSL listeners and
no PLAINTEXT one: INTERNAL (127.0.0.1, inter.broker.listener.name) and
EXTERNAL (advertised as localhost, for clients). The brokers log in to each
other as SCRAM-SHA-512 user 'broker' (Kafka's listener.name.internal.
scram-sha-512.sasl.jaas.config), created with --add-scram before the first
start and shared through ZooKeeper; certificates come from a CA made with
openssl, and each broker checks the other's (host name included).

  0. Conflicting or missing settings (both inter.broker.listener.name and
     security.inter.broker.protocol, no JAAS entry, a malformed one, a
     mechanism not enabled) stop the start with status 2, naming the key.
  1. /brokers/ids/N lists both listeners with their protocols (and no
     legacy PLAINTEXT host); kcat -L on INTERNAL gets every broker's
     INTERNAL address, on EXTERNAL every broker's EXTERNAL address.
  2. A topic with RF 3 and min.insync.replicas=2 is written by an acks=all
     confluent-kafka producer over SASL_SSL; its leader is SIGKILLed mid-
     stream, a new one is elected, the killed broker restarts and rejoins
     the ISR; every acknowledged record is then read back over SASL_SSL.
  3. The replication and controller connections go to the INTERNAL ports
     (ss), which speak only TLS: a plaintext ApiVersions gets no answer.
  4. A broker given a wrong inter-broker password is refused by the others,
     says so in its log (a few lines, not one per retry) and stays out of
     the ISR; with the right password again it rejoins.
  5. A broker whose certificate comes from another CA, or names another
     host (ssl.endpoint.identification.algorithm=https), is refused (the
     controller, which cannot reach it, says why) and stays out of the
     ISR; with its own certificate again it rejoins.
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import CLIENT_EXT, SERVER_EXT, check, make_ca, note, sign  # noqa: E402


JAAS_KEY = "listener.name.internal.scram-sha-512.sasl.jaas.config"


def jaas(password):
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="broker" password="%s";' % password)


class SecureCluster(cluster.Cluster):
    """A Cluster whose helpers speak SASL_SSL to the EXTERNAL listeners."""

    def __init__(self, ws, client_conf, **kw):
        super().__init__(ws, **kw)
        self.client_conf = client_conf
        self.internal = {}  # broker id -> INTERNAL port

    def _new_broker(self, i):
        c = super()._new_broker(i)
        self.internal[i] = harness.free_port()
        c.sets["listeners"] = "INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (self.internal[i], c.port)
        c.sets["advertised.listeners"] = "INTERNAL://127.0.0.1:%d,EXTERNAL://localhost:%d" % (
            self.internal[i], c.port)
        return c

    def admin(self, **conf):
        return super().admin(**dict(self.client_conf, **conf))


def kcat_brokers(port, conf, host):
    """{id: (host, port)} of kcat -L through 'host':'port' with client settings 'conf'."""
    argv = ["kcat", "-L", "-b", "%s:%d" % (host, port), "-m", "10", "-J"]
    for k, v in conf.items():
        argv += ["-X", "%s=%s" % (k, v)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat -L on port %d: %s" % (port, r.stderr))
    doc = json.loads(r.stdout)
    return {b["id"]: tuple(b["name"].rsplit(":", 1)) for b in doc["brokers"]}


def plain_api_versions_answered(port):
    """True if a plaintext ApiVersions v0 on 'port' gets a Kafka answer."""
    req = struct.pack(">hhih", 18, 0, 1, 2) + b"it"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        s.sendall(struct.pack(">i", len(req)) + req)
        data = b""
        try:
            while len(data) < 8:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    # A Kafka answer is size + correlation id 1; a TLS server answers a
    # ClientHello-less stream with an alert (0x15) or closes.
    return len(data) >= 8 and struct.unpack(">i", data[4:8])[0] == 1


def established_to(pid, ports):
    """The remote ports of 'pid''s established TCP connections that are in 'ports'."""
    r = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True, timeout=10)
    found = set()
    for line in r.stdout.splitlines():
        if "pid=%d," % pid not in line:
            continue
        fields = line.split()
        peer = int(fields[3].rsplit(":", 1)[1])
        if peer in ports:
            found.add(peer)
    return found


def keystore_of(certs, name, ca):
    """A PEM keystore: the key, the certificate and its CA's."""
    path = os.path.join(certs, name + ".keystore.pem")
    with open(path, "wb") as f:
        for part in (name + ".key", name + ".crt", ca + ".crt"):
            with open(os.path.join(certs, part), "rb") as g:
                f.write(g.read())
    return path


def bad_start(ws, base, extra, expect):
    """The collector with settings 'base' + 'extra' exits 2 naming 'expect'."""
    sets = dict(base, **{"log.dirs": ws.file("bad-data"), "broker.id": "9",
                         "zookeeper.connect": "127.0.0.1:%d/nowhere" % harness.free_port(),
                         "listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (
                             harness.free_port(), harness.free_port())})
    sets.update(extra)
    argv = [harness.collector_binary()]
    for k, v in sets.items():
        argv += ["--set", "%s=%s" % (k, v)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and expect in r.stderr,
          "bad start %s: status %d, wanted 2 and '%s' in:\n%s" % (extra, r.returncode, expect, r.stderr[-2000:]))


def body(ws):
    certs = ws.file("certs")
    os.makedirs(certs)
    make_ca(certs, "ca")
    # Brokers are TLS clients of each other too, and ssl.client.auth=required
    # makes them show their certificate: it must allow client use.
    broker_ext = SERVER_EXT.replace("extendedKeyUsage=serverAuth", "extendedKeyUsage=serverAuth,clientAuth")
    sign(certs, "ca", "broker", "/CN=localhost", broker_ext, 1001)
    sign(certs, "ca", "client", "/CN=alice-app", CLIENT_EXT, 2001)
    make_ca(certs, "rogue")
    sign(certs, "rogue", "rogue-broker", "/CN=localhost", broker_ext, 3001)
    sign(certs, "ca", "elsewhere", "/CN=elsewhere",
         broker_ext.replace("DNS:localhost,IP:127.0.0.1", "DNS:elsewhere.example"), 4001)
    keystore = keystore_of(certs, "broker", "ca")
    bad_keystores = [("from another CA", keystore_of(certs, "rogue-broker", "rogue"), b"certificate is refused"),
                     ("for another host", keystore_of(certs, "elsewhere", "ca"),
                      b"must name the advertised host")]
    client_conf = {"security.protocol": "SASL_SSL", "ssl.ca.location": os.path.join(certs, "ca.crt"),
                   "ssl.certificate.location": os.path.join(certs, "client.crt"),
                   "ssl.key.location": os.path.join(certs, "client.key"),
                   "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice",
                   "sasl.password": "alice-secret"}
    cl = SecureCluster(ws, client_conf, n=3, settings={
        "listener.security.protocol.map": "INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL",
        "inter.broker.listener.name": "INTERNAL",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        JAAS_KEY: jaas("broker-secret"),
        "ssl.keystore.location": keystore,
        "ssl.truststore.location": os.path.join(certs, "ca.crt"),
        "ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "num.partitions": "1",
    })
    # Settings a broker refuses to start with, naming them.
    bad_start(ws, cl.settings, {"security.inter.broker.protocol": "SASL_SSL"}, "both set")
    no_jaas = dict(cl.settings)
    del no_jaas[JAAS_KEY]
    bad_start(ws, no_jaas, {}, JAAS_KEY + ": not set")
    bad_start(ws, cl.settings, {JAAS_KEY: "ScramLoginModule required username=broker"}, "must end with ';'")
    bad_start(ws, cl.settings, {"sasl.enabled.mechanisms": "SCRAM-SHA-256"}, "not in sasl.enabled.mechanisms")
    note("conflicting or missing inter-broker settings stop the start, naming the key")

    cl.zk.start()
    for i in (1, 2, 3):
        c = cl._new_broker(i)
        r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + c.data_dir,
                            "--add-scram", "SCRAM-SHA-512=[name=broker,password=broker-secret]",
                            "--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "--add-scram: %s" % r.stderr)
    for i in (1, 2, 3):
        cl.broker(i).start()
    cl.wait_brokers(timeout=60)
    note("3 brokers with SASL_SSL listeners only are up")

    # 1. Registration and Metadata per listener.
    for i in (1, 2, 3):
        reg = json.loads(cl.znode("/brokers/ids/%d" % i))
        want = ["INTERNAL://127.0.0.1:%d" % cl.internal[i], "EXTERNAL://localhost:%d" % cl.broker(i).port]
        check(reg["endpoints"] == want and reg["version"] == 5
              and reg["listener_security_protocol_map"] == {"INTERNAL": "SASL_SSL", "EXTERNAL": "SASL_SSL"}
              and reg["host"] is None and reg["port"] == -1,
              "/brokers/ids/%d: %r" % (i, reg))
    note("each /brokers/ids/N lists both listeners, no PLAINTEXT host: %s" % reg["endpoints"])
    internal = kcat_brokers(cl.internal[1], client_conf, "127.0.0.1")
    external = kcat_brokers(cl.broker(2).port, client_conf, "localhost")
    check(internal == {i: ("127.0.0.1", str(cl.internal[i])) for i in (1, 2, 3)},
          "kcat -L on INTERNAL: %s" % internal)
    check(external == {i: ("localhost", str(cl.broker(i).port)) for i in (1, 2, 3)},
          "kcat -L on EXTERNAL: %s" % external)
    note("kcat -L on INTERNAL lists INTERNAL addresses, on EXTERNAL the EXTERNAL ones")

    # 2. acks=all writes through a leader failure.
    cl.create_topic("secure", partitions=1, replication=3, config={"min.insync.replicas": "2"})
    leader = cl.wait_leader("secure", 0)
    cl.wait_isr("secure", 0, 3)
    w = cluster.Writer(cl.bootstrap, "secure", **client_conf)
    w.start()
    cl.wait_for(lambda: len(w.acked) >= 2000, 60, "2000 records acknowledged")
    cl.kill(leader)
    new_leader = cl.wait_leader("secure", 0, not_in=(leader,), timeout=60)
    note("leader %d killed mid-stream; broker %d leads now" % (leader, new_leader))
    n0 = len(w.acked)
    cl.wait_for(lambda: len(w.acked) >= n0 + 1000, 60, "writes acknowledged by the new leader")
    cl.restart(leader)
    cl.wait_brokers(timeout=60)
    cl.wait_isr("secure", 0, 3, timeout=90)
    note("broker %d restarted and caught up: ISR back to 3" % leader)
    n1 = len(w.acked)
    cl.wait_for(lambda: len(w.acked) >= n1 + 500, 60, "more writes after the restart")
    w.stop()
    check(w.failed == 0 and not w.unflushed, "writer: %d failed %s, %s unflushed" % (w.failed, w.errors, w.unflushed))
    _, high, got = harness.read_partition(cl.bootstrap, "secure", 0, timeout=120, **client_conf)
    values = [v for _, _, v in got]
    have = set(values)
    lost = [v for v in w.acked if v not in have]
    check(not lost, "%d acknowledged records lost (of %d), e.g. %s" % (len(lost), len(w.acked), lost[:5]))
    check(len(values) == len(set(values)), "duplicates in the log")
    note("%d records acknowledged, 0 lost; all read back over SASL_SSL" % len(w.acked))

    # 3. Inter-broker traffic: to the INTERNAL ports only, which speak TLS only.
    # Fresh records, so that the followers' fetch connections are busy now.
    harness.produce_records(cl.bootstrap, "secure", [(None, b"replicate-me")] * 50, **client_conf)
    internal_ports = set(cl.internal.values())
    external_ports = {cl.broker(i).port for i in (1, 2, 3)}
    seen = set()
    for i in (1, 2, 3):
        pid = cl.broker(i).proc.pid
        seen |= established_to(pid, internal_ports)
        check(not established_to(pid, external_ports), "broker %d has connections to an EXTERNAL port" % i)
    check(seen, "no broker connection to any INTERNAL port (ss)")
    for i in (1, 2, 3):
        check(not plain_api_versions_answered(cl.internal[i]),
              "broker %d's INTERNAL port answered a plaintext request" % i)
    note("inter-broker connections go to INTERNAL ports %s, where plaintext gets no answer" % sorted(seen))

    # 4. A wrong inter-broker password.
    # Neither the partition's leader nor the controller: a controller that
    # cannot reach the others would leave the brokers' views disagreeing.
    busy = (cl.wait_leader("secure", 0), cl.wait_controller())
    victim = max(i for i in (1, 2, 3) if i not in busy)
    cl.stop(victim)
    good = cl.broker(victim).sets[JAAS_KEY]
    cl.broker(victim).sets[JAAS_KEY] = jaas("wrong-secret")
    mark = len(cl.broker(victim).log())
    cl.restart(victim)
    harness.produce_records(cl.bootstrap, "secure", [(None, b"after-%d" % k) for k in range(200)], **client_conf)

    def refused():
        log = cl.broker(victim).log()[mark:]
        return b"SASL SCRAM-SHA-512 login as 'broker' refused" in log and log

    log = cl.wait_for(refused, 60, "broker %d logs the refused login" % victim)
    time.sleep(5)
    log = cl.broker(victim).log()[mark:]
    lines = [ln for ln in log.decode("utf-8", "replace").splitlines() if "refused" in ln]
    check(len(lines) <= 12, "%d refusal lines in 5 s: not backing off?\n%s" % (len(lines), "\n".join(lines[:20])))
    check(b"Authentication failed" in log, "the refusal does not give the server's reason:\n%s" % lines[0])
    isr = cl.metadata("secure")[0][2]
    check(victim not in isr, "broker %d is in the ISR %s with a wrong password" % (victim, isr))
    note("wrong password: refused, logged (%d lines), out of the ISR: %s" % (len(lines), re.sub(r"^.*? WARN ", "", lines[0])))
    cl.kill(victim)
    cl.broker(victim).sets[JAAS_KEY] = good
    cl.restart(victim)
    cl.wait_isr("secure", 0, 3, timeout=90)
    note("with the right password broker %d rejoined the ISR" % victim)

    # 5. Certificates the others refuse: another CA, another host name.
    for what, bad, expect in bad_keystores:
        cl.stop(victim)
        cl.broker(victim).sets["ssl.keystore.location"] = bad
        marks = {i: len(cl.broker(i).log()) for i in (1, 2, 3)}
        cl.restart(victim)
        # New records: a follower that cannot fetch them falls behind.
        harness.produce_records(cl.bootstrap, "secure", [(None, b"%s-%d" % (what.encode(), k)) for k in range(100)],
                                **client_conf)

        def rejected():
            theirs = b"".join(cl.broker(i).log()[marks[i]:] for i in (1, 2, 3) if i != victim)
            return expect in theirs and theirs

        theirs = cl.wait_for(rejected, 60, "the controller refusing a certificate %s" % what)
        # Out of the ISR (at the latest after replica.lag.time.max.ms), and
        # it stays out.
        cl.wait_for(lambda: victim not in cl.metadata("secure")[0][2], 30,
                    "broker %d out of the ISR with a certificate %s" % (victim, what))
        time.sleep(4)
        isr = cl.metadata("secure")[0][2]
        check(victim not in isr, "broker %d is in the ISR %s with a certificate %s" % (victim, isr, what))
        line = [ln for ln in theirs.decode("utf-8", "replace").splitlines() if expect.decode() in ln][0]
        note("a certificate %s: refused, out of the ISR: %s" % (what, re.sub(r"^.*? WARN ", "", line)))
        cl.kill(victim)
        cl.broker(victim).sets["ssl.keystore.location"] = keystore
        cl.restart(victim)
        cl.wait_isr("secure", 0, 3, timeout=90)
        note("with its own certificate again broker %d rejoined the ISR" % victim)
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
