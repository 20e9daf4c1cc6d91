#!/usr/bin/python3
"""Dynamic broker configuration in a cluster: ZooKeeper and every broker.

Three collectors on a real ZooKeeper:

  1. a cluster default set through broker 1 (the tributary CLI,
     --entity-default) is in /config/brokers/<default> in Kafka's JSON, is
     announced under /config/changes ("brokers/<default>"), and every
     broker reports it (DYNAMIC_DEFAULT_BROKER_CONFIG) and applies it: a
     produce over the new message.max.bytes is refused by every leader;
  2. a per-broker value for broker 2 (confluent-kafka's AlterConfigs, which
     sends it to broker 2) overrides the default there only;
  3. another broker id named through the wrong broker is refused, as Kafka
     does ("Unexpected broker id");
  4. a broker restarted reads the values from ZooKeeper again;
  5. a change written straight into ZooKeeper with a change notification,
     as Kafka's own tools may do, reaches every broker.
"""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

TOPIC = "sized"


def described(cl, b, key):
    """(value, source) of broker config 'key' as broker b reports its own."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": cl.broker(b).broker})
    fs = admin.describe_configs([ConfigResource("broker", str(b))], request_timeout=10)
    e = list(fs.values())[0].result(15)[key]
    return e.value, e.source


def on_all(cl, key, want, brokers=None, timeout=30):
    brokers = brokers or cl.live()
    cl.wait_for(lambda: all(described(cl, b, key) == want for b in brokers), timeout=timeout,
                what="%s=%s on brokers %s" % (key, want, brokers))


def produce_errors(cl, size):
    """{partition: error name or None} for one record of 'size' per partition."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cl.bootstrap, "acks": "all", "retries": 0,
                  "message.max.bytes": 10000000, "message.timeout.ms": 20000})
    got = {}
    for part in range(3):
        p.produce(TOPIC, value=b"y" * size, partition=part,
                  on_delivery=lambda err, msg, part=part: got.__setitem__(
                      part, None if err is None else err.name()))
    p.flush(30)
    return got


def leaders(cl):
    return {part: m[0] for part, m in cl.metadata(TOPIC).items()}


def alter_raw(broker, name, key, value):
    """AlterConfigs v0 on BROKER 'name' sent to 'broker' itself (no routing):
    (error code, message)."""
    import socket
    import struct

    body = (struct.pack(">i", 1) + struct.pack(">b", 4) + harness.kstring(name) +
            struct.pack(">i", 1) + harness.kstring(key) + harness.kstring(value) + b"\x00")
    host, port = broker.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(harness.request(33, 0, 1, body))
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        data = s.recv(size, socket.MSG_WAITALL)
    # CorrelationId, ThrottleTimeMs, [ErrorCode, ErrorMessage, ...]
    code, mlen = struct.unpack(">hh", data[12:16])
    return code, data[16:16 + mlen].decode() if mlen >= 0 else None


def tool(*args):
    exe = os.path.join(harness.builddir(), "tools", "tributary")
    r = subprocess.run([exe] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def body(ws):
    cl = cluster.Cluster(ws).start()
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    admin = AdminClient({"bootstrap.servers": cl.broker(1).broker})
    fs = admin.create_topics([NewTopic(TOPIC, 3, 3)], request_timeout=30)
    fs[TOPIC].result(30)
    for p in range(3):
        cl.wait_isr(TOPIC, p, size=3)
    check(all(e is None for e in produce_errors(cl, 10000).values()),
          "10000-byte records go in before any change")

    # 1. The cluster default, through broker 1.
    rc, out = tool("configs", "-b", cl.broker(1).broker, "--entity-type", "brokers",
                   "--entity-default", "--alter", "--add-config",
                   "message.max.bytes=3000,log.retention.ms=7200000")
    check(rc == 0, "tributary configs --entity-default: %s" % out)
    stored = json.loads(cl.znode("/config/brokers/<default>"))
    check(stored == {"version": 1, "config": {"message.max.bytes": "3000",
                                              "log.retention.ms": "7200000"}},
          "/config/brokers/<default> in Kafka's JSON: %s" % stored)
    notes = [json.loads(cl.znode("/config/changes/" + n))
             for n in cl.znode_children("/config/changes") or []]
    check({"version": 2, "entity_path": "brokers/<default>"} in notes,
          "a change notification for brokers/<default>: %s" % notes)
    on_all(cl, "message.max.bytes", ("3000", 3))
    on_all(cl, "log.retention.ms", ("7200000", 3))
    errs = produce_errors(cl, 10000)
    check(all(e == "MSG_SIZE_TOO_LARGE" for e in errs.values()),
          "every leader (%s) refuses a 10000-byte record: %s" % (leaders(cl), errs))
    note("a default changed through broker 1 applies on brokers 1, 2 and 3")

    # 2. A per-broker value for broker 2, sent to broker 2.
    fs = admin.alter_configs([ConfigResource("broker", "2",
                                             set_config={"message.max.bytes": "50000"})])
    list(fs.values())[0].result(30)
    stored = json.loads(cl.znode("/config/brokers/2"))
    check(stored["config"] == {"message.max.bytes": "50000"}, "/config/brokers/2: %s" % stored)
    on_all(cl, "message.max.bytes", ("50000", 2), brokers=[2])
    on_all(cl, "message.max.bytes", ("3000", 3), brokers=[1, 3])
    lead = leaders(cl)
    errs = produce_errors(cl, 10000)
    for part, leader in lead.items():
        want = None if leader == 2 else "MSG_SIZE_TOO_LARGE"
        check(errs.get(part) == want, "partition %d led by broker %d: %s, expected %s"
              % (part, leader, errs.get(part), want))
    note("broker 2's own message.max.bytes=50000 overrides the default there only (leaders %s)"
         % lead)

    # 3. Per-broker configs go to that broker.
    code, msg = alter_raw(cl.broker(1).broker, "3", "message.max.bytes", "1")
    check(code == 42 and msg == "Unexpected broker id, expected 1, but received 3",
          "broker 3's configs altered through broker 1: %d %s" % (code, msg))
    on_all(cl, "message.max.bytes", ("3000", 3), brokers=[3])
    note("per-broker configs sent to another broker: INVALID_REQUEST, as in Kafka")

    # 4. A restarted broker reads them back from ZooKeeper.
    cl.restart(3)
    cl.wait_brokers()
    on_all(cl, "message.max.bytes", ("3000", 3), brokers=[3])
    note("broker 3 restarted: the default is read back from ZooKeeper")

    # 5. Written straight into ZooKeeper with a notification, as Kafka's tools do.
    cl.zk.set(cluster.CHROOT + "/config/brokers/<default>",
              json.dumps({"version": 1, "config": {"message.max.bytes": "4000"}}).encode())
    with cl.zk.session() as zk:
        zk.create(cluster.CHROOT + "/config/changes/config_change_",
                  b'{"version":2,"entity_path":"brokers/<default>"}', sequence=True)
    on_all(cl, "message.max.bytes", ("4000", 3), brokers=[1, 3])
    on_all(cl, "log.retention.ms", (None, 5), brokers=[1, 3])
    note("a change written into ZooKeeper reaches every broker")
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
