#!/usr/bin/python3
"""Dynamic broker configuration (KIP-226) on a single collector.

One collector with a PLAINTEXT and an SSL listener; its settings are
changed at run time with real clients (confluent-kafka's alter_configs,
kafka-python's, and the tributary CLI with kafka-configs' flags), and each
change is seen to take effect without a restart:

  1. DescribeConfigs of broker 0: sources and read-only flags;
  2. message.max.bytes at the cluster default refuses a larger produce
     (MSG_SIZE_TOO_LARGE) on a topic that follows the default, not on one
     with its own max.message.bytes; a per-broker value wins over it, and
     the synonyms list the levels in order;
  3. read-only keys, bad values and per-broker keys at the default are
     refused with Kafka's errors;
  4. log.segment.bytes and log.retention.ms lowered: old segments go;
  5. max.connections.per.ip and its overrides: extra connections refused;
     max.connections lowered: a new connection waits until one closes;
  6. ssl.keystore.location: a new TLS connection gets the new certificate;
  7. everything survives a restart (<log.dirs>/.brokers/*.json); a
     malformed file stops the start naming it, a bad entry is skipped with
     a warning naming the key.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, make_ca, note, server_keystore, tls_connect  # noqa: E402

SRC_DYNAMIC_BROKER = 2
SRC_DYNAMIC_DEFAULT = 3
SRC_STATIC = 4
SRC_DEFAULT = 5


def tool(*args):
    """Runs the tributary CLI; returns (exit code, stdout + stderr)."""
    exe = os.path.join(harness.builddir(), "tools", "tributary")
    r = subprocess.run([exe] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def configs(broker, *args):
    rc, out = tool("configs", "-b", broker, "--entity-type", "brokers", *args)
    check(rc == 0, "tributary configs %s: exit %d: %s" % (" ".join(args), rc, out))
    return out


def describe(broker, name="0"):
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": broker})
    fs = admin.describe_configs([ConfigResource("broker", name)], request_timeout=15)
    return list(fs.values())[0].result(20)


def kp_admin(broker):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=30000)


def kp_alter(broker, name, cfg):
    """kafka-python's AlterConfigs on a broker resource: (error code, message)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    kp = kp_admin(broker)
    try:
        r = kp.alter_configs([ConfigResource(ConfigResourceType.BROKER, name, configs=cfg)])
    finally:
        kp.close()
    res = r.resources[0]
    return res[0], res[1]


def produce_one(broker, topic, size):
    """Produces one record of 'size' bytes; returns the error name or None."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker, "acks": "all", "message.timeout.ms": 20000,
                  "message.max.bytes": 10000000, "retries": 0})
    errs = []
    p.produce(topic, value=b"x" * size, partition=0,
              on_delivery=lambda err, msg: errs.append(err))
    p.flush(30)
    check(len(errs) == 1, "no delivery report for a %d-byte record" % size)
    return None if errs[0] is None else errs[0].name()


def create_topic(broker, name, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    fs = admin.create_topics([NewTopic(name, 1, 1, config=config or {})], request_timeout=15)
    fs[name].result(20)


def api_versions_from(src, port):
    """Connects from address 'src' and asks ApiVersions; True if answered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(harness.request(18, 0, 7, b""))
        head = s.recv(4)
        return s if len(head) == 4 and struct.unpack(">i", head)[0] > 0 else None
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return None


def step_describe(c):
    e = describe(c.broker)
    check(e["message.max.bytes"].value == "1000012" and e["message.max.bytes"].source == SRC_DEFAULT
          and not e["message.max.bytes"].is_read_only,
          "message.max.bytes at first: %s" % e["message.max.bytes"])
    check(e["log.dirs"].is_read_only and e["log.dirs"].source == SRC_STATIC,
          "log.dirs: read-only, from the file/--set: %s" % e["log.dirs"])
    check(e["num.network.threads"].is_read_only, "num.network.threads is read-only")
    check(e["log.retention.check.interval.ms"].source == SRC_STATIC,
          "a --set key is STATIC_BROKER_CONFIG")
    check(e["ssl.key.password"].is_sensitive and e["ssl.key.password"].value is None,
          "ssl.key.password is sensitive")
    note("DescribeConfigs of broker 0: sources, read-only and sensitive flags")


def step_message_max_bytes(c):
    create_topic(c.broker, "follow")
    create_topic(c.broker, "pinned", {"max.message.bytes": "100000"})
    check(produce_one(c.broker, "follow", 10000) is None, "a 10000-byte record before any change")
    configs(c.broker, "--entity-default", "--alter", "--add-config", "message.max.bytes=3000")
    err = produce_one(c.broker, "follow", 10000)
    check(err == "MSG_SIZE_TOO_LARGE",
          "after message.max.bytes=3000 at the default, a 10000-byte record got %s" % err)
    check(produce_one(c.broker, "follow", 500) is None, "a small record still goes in")
    check(produce_one(c.broker, "pinned", 10000) is None,
          "a topic with its own max.message.bytes does not follow the default")
    e = describe(c.broker)
    check(e["message.max.bytes"].value == "3000" and
          e["message.max.bytes"].source == SRC_DYNAMIC_DEFAULT,
          "message.max.bytes from the default: %s" % e["message.max.bytes"])
    note("message.max.bytes=3000 at the cluster default refuses a 10000-byte record at once")

    # A per-broker value (confluent-kafka's AlterConfigs) wins over it.
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": c.broker})
    fs = admin.alter_configs([ConfigResource("broker", "0",
                                             set_config={"message.max.bytes": "20000"})])
    list(fs.values())[0].result(20)
    check(produce_one(c.broker, "follow", 10000) is None,
          "a per-broker message.max.bytes=20000 wins over the default's 3000")
    kp = kp_admin(c.broker)
    from kafka.admin import ConfigResource as KR, ConfigResourceType

    r = kp.describe_configs([KR(ConfigResourceType.BROKER, "0")], include_synonyms=True)
    kp.close()
    entries = {ent[0]: ent for ent in r[0].resources[0][4]}
    mmb = entries["message.max.bytes"]
    check(mmb[1] == "20000" and mmb[3] == SRC_DYNAMIC_BROKER,
          "kafka-python describe_configs: %s" % (mmb,))
    check([tuple(s) for s in mmb[5]] == [("message.max.bytes", "20000", SRC_DYNAMIC_BROKER),
                                         ("message.max.bytes", "3000", SRC_DYNAMIC_DEFAULT),
                                         ("message.max.bytes", "1000012", SRC_DEFAULT)],
          "synonyms in precedence order: %s" % (mmb[5],))
    out = configs(c.broker, "--entity-default", "--describe")
    check("message.max.bytes=3000" in out and "DYNAMIC_DEFAULT_BROKER_CONFIG" in out,
          "the CLI describes the default: %s" % out)
    note("a per-broker value wins over the default; synonyms broker > default > built-in")


def step_refusals(c):
    code, msg = kp_alter(c.broker, "0", {"log.dirs": "/elsewhere", "message.max.bytes": "20000"})
    check(code == 42 and msg == "Cannot update these configs dynamically: Set(log.dirs)",
          "a read-only key: %d %s" % (code, msg))
    code, msg = kp_alter(c.broker, "0", {"message.max.bytes": "lots"})
    check(code == 40 and "message.max.bytes" in msg, "a bad value: %d %s" % (code, msg))
    code, msg = kp_alter(c.broker, "", {"ssl.keystore.location": "/x.pem"})
    check(code == 42 and "broker id must be specified" in msg,
          "a per-broker key at the default: %d %s" % (code, msg))
    rc, out = tool("configs", "-b", c.broker, "--entity-type", "brokers", "--entity-name", "0",
                   "--alter", "--add-config", "num.network.threads=4")
    check(rc != 0 and "Set(num.network.threads)" in out, "the CLI shows the refusal: %s" % out)
    check(describe(c.broker)["message.max.bytes"].value == "20000", "a refusal changes nothing")
    note("read-only keys (INVALID_REQUEST), bad values (INVALID_CONFIG) refused")


def step_retention(c):
    configs(c.broker, "--entity-default", "--alter", "--add-config", "log.segment.bytes=2048")
    create_topic(c.broker, "aging")
    for i in range(12):
        harness.produce_records(c.broker, "aging", [(None, b"%04d" % i + b"r" * 1500)])
    part = c.partition_dir("aging", 0)
    before = len(harness.segment_files(part))
    check(before >= 6, "log.segment.bytes=2048 rolls segments: %d segment files" % before)
    configs(c.broker, "--entity-name", "0", "--alter", "--add-config", "log.retention.ms=1000")
    from confluent_kafka import Consumer, TopicPartition

    cons = Consumer({"bootstrap.servers": c.broker, "group.id": "wm"})
    deadline = time.time() + 40
    low = 0
    while time.time() < deadline:
        low, high = cons.get_watermark_offsets(TopicPartition("aging", 0), timeout=10)
        if low >= 10 and len(harness.segment_files(part)) <= 2:
            break
        time.sleep(0.5)
    cons.close()
    check(low >= 10, "log.retention.ms=1000: the log start moved to %d (of 12)" % low)
    note("log.segment.bytes and log.retention.ms lowered: %d segments down to %d, log start %d"
         % (before, len(harness.segment_files(part)), low))
    configs(c.broker, "--entity-name", "0", "--alter", "--delete-config", "log.retention.ms")


def step_connections(c):
    configs(c.broker, "--entity-name", "0", "--alter", "--add-config",
            "max.connections.per.ip=2,max.connections.per.ip.overrides=[127.0.0.1:1000,127.0.0.3:1]")
    held = [api_versions_from("127.0.0.2", c.port) for _ in range(2)]
    check(all(held), "two connections from 127.0.0.2 are served")
    third = api_versions_from("127.0.0.2", c.port)
    check(third is None, "max.connections.per.ip=2: a third connection from 127.0.0.2 is refused")
    one = api_versions_from("127.0.0.3", c.port)
    two = api_versions_from("127.0.0.3", c.port)
    check(one is not None and two is None, "the override 127.0.0.3:1 allows one connection")
    for s in held + [one]:
        s.close()
    configs(c.broker, "--entity-name", "0", "--alter", "--delete-config",
            "max.connections.per.ip,max.connections.per.ip.overrides")
    deadline = time.time() + 10
    socks = []
    while time.time() < deadline and len(socks) < 3:
        s = api_versions_from("127.0.0.2", c.port)
        if s is None:
            time.sleep(0.2)
            continue
        socks.append(s)
    check(len(socks) == 3, "the limit deleted: three connections from 127.0.0.2 again")
    for s in socks:
        s.close()
    note("max.connections.per.ip and its overrides applied to new connections at once")


def served(sock, timeout):
    """True when 'sock' (an ApiVersions request sent) gets an answer in time."""
    sock.settimeout(timeout)
    try:
        return len(sock.recv(4)) == 4
    except (socket.timeout, ConnectionResetError):
        return False


def step_max_connections(ws):
    """max.connections on a collector of its own, where the test holds every
    connection: lowered to 3, a fourth connection waits until one closes."""
    m = ws.collector("m", sets={"http.listener": ""}).start()
    configs(m.broker, "--entity-name", "0", "--alter", "--add-config", "max.connections=3")
    held = [api_versions_from("127.0.0.1", m.port) for _ in range(3)]
    check(all(held), "three connections are served under max.connections=3")
    extra = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    extra.sendall(harness.request(18, 0, 9, b""))
    check(not served(extra, 3), "a fourth connection waits at max.connections=3")
    held[0].close()
    check(served(extra, 20), "the fourth is served once one of the three closes")
    for s in held[1:] + [extra]:
        s.close()
    configs(m.broker, "--entity-name", "0", "--alter", "--delete-config", "max.connections")
    m.stop()
    note("max.connections lowered to 3: a fourth connection waits until one closes")


def step_tls(c, certs, sport):
    s, serial = tls_connect(sport, certs)
    s.close()
    check(serial == 1001, "the static keystore's certificate first: %d" % serial)
    server_keystore(certs, 1002, name="renewed")
    rc, out = tool("configs", "-b", c.broker, "--entity-type", "brokers", "--entity-name", "0",
                   "--alter", "--add-config", "ssl.keystore.location=/nonexistent.pem")
    check(rc != 0 and "INVALID_CONFIG" in out, "a keystore that does not load is refused: %s" % out)
    configs(c.broker, "--entity-name", "0", "--alter", "--add-config",
            "ssl.keystore.location=" + os.path.join(certs, "renewed.keystore.pem"))
    s, serial = tls_connect(sport, certs)
    s.close()
    check(serial == 1002, "after ssl.keystore.location changed, a new connection got %d" % serial)
    note("ssl.keystore.location changed: new TLS connections get certificate 1002")


def step_restart(c, certs, sport):
    c.stop()
    stored = json.load(open(os.path.join(c.data_dir, ".brokers", "0.json")))
    check(stored["version"] == 1 and stored["config"]["message.max.bytes"] == "20000",
          "<log.dirs>/.brokers/0.json holds Kafka's JSON: %s" % stored)
    c.start()
    e = describe(c.broker)
    check(e["message.max.bytes"].value == "20000" and
          e["message.max.bytes"].source == SRC_DYNAMIC_BROKER,
          "after a restart: %s" % e["message.max.bytes"])
    check(e["log.segment.bytes"].value == "2048" and
          e["log.segment.bytes"].source == SRC_DYNAMIC_DEFAULT,
          "the default's log.segment.bytes after a restart: %s" % e["log.segment.bytes"])
    s, serial = tls_connect(sport, certs)
    s.close()
    check(serial == 1002, "the dynamic keystore after a restart: %d" % serial)
    c.sets["message.max.bytes"] = "50000"  # static: the dynamic values still win
    c.stop()
    c.start()
    check(produce_one(c.broker, "follow", 30000) == "MSG_SIZE_TOO_LARGE",
          "the dynamic 20000 wins over a static 50000")
    note("dynamic configs survive a restart and win over the file")

    # A malformed file stops the start; a bad entry is skipped.
    c.stop()
    path = os.path.join(c.data_dir, ".brokers", "<default>.json")
    good = open(path).read()
    with open(path, "w") as f:
        f.write('{"version":1,"config":{"message.max.bytes":')
    r = subprocess.run(c.argv(), capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "<default>.json" in r.stderr,
          "a malformed file: exit %d, stderr %s" % (r.returncode, r.stderr[-500:]))
    d = json.loads(good)
    d["config"]["log.segment.bytes"] = "tiny"
    d["config"]["log.dirs"] = "/elsewhere"
    with open(path, "w") as f:
        json.dump(d, f)
    c.start()
    e = describe(c.broker)
    check(e["log.segment.bytes"].source == SRC_DEFAULT, "the bad entry was skipped")
    log = c.log().decode(errors="replace")
    check("log.segment.bytes=tiny in the cluster default ignored" in log and
          "log.dirs=/elsewhere in the cluster default ignored" in log,
          "the skipped entries are logged naming the keys")
    note("a malformed file stops the start naming it; bad entries are skipped with a warning")


def body(ws):
    certs = ws.file("certs")
    os.makedirs(certs)
    make_ca(certs, "ca")
    server_keystore(certs, 1001)
    port, sport = harness.free_port(), harness.free_port()
    c = ws.collector("c", port=port, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (port, sport),
        "ssl.keystore.location": os.path.join(certs, "server.keystore.pem"),
        "log.retention.check.interval.ms": "300",
        "log.segment.delete.delay.ms": "0",
        "http.listener": "",
    }).start()
    step_describe(c)
    step_message_max_bytes(c)
    step_refusals(c)
    step_retention(c)
    step_connections(c)
    step_max_connections(ws)
    step_tls(c, certs, sport)
    step_restart(c, certs, sport)
    c.stop()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
