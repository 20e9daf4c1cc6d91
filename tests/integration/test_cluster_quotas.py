#!/usr/bin/python3
"""Client quotas in a cluster live in ZooKeeper, as in Kafka 2.x.

Three collectors on a real ZooKeeper; user alice has a SCRAM credential
(--add-scram on broker 1, published to /config/users/alice):

  1. quotas set through different brokers write Kafka's znodes:
     /config/users/alice (the credential kept beside producer_byte_rate),
     /config/users/alice/clients/app and /config/clients/<default>, each
     {"version":1,"config":{KEY:"VALUE"}}, with /config/changes
     notifications naming the entity paths;
  2. every broker describes the same quotas;
  3. a producer_byte_rate set through a broker that does not lead the
     partition throttles a producer at the leader;
  4. a deletion through another broker reaches all of them and keeps
     alice's credential.
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
import test_quotas  # noqa: E402
from harness import check, note  # noqa: E402


def zk_json(cl, path):
    data = cl.zk.get(cluster.CHROOT + path)
    return json.loads(data) if data else None


def all_brokers_list(cl, expect, timeout=15.0):
    """Waits until every broker describes exactly 'expect'."""
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    want = sorted(expect, key=key)
    deadline = time.monotonic() + timeout
    while True:
        got = {i: sorted(test_quotas.quotas_json(cl.broker(i).broker), key=key) for i in cl.live()}
        if all(g == want for g in got.values()):
            return
        if time.monotonic() > deadline:
            check(False, "brokers describe %s, expected %s" % (got, want))
        time.sleep(0.5)


def body(ws):
    cl = cluster.Cluster(ws, n=3, settings={"quota.window.num": "3"})
    cl.zk.start()
    for i in (1, 2, 3):
        c = cl._new_broker(i)
        if i == 1:
            r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + c.data_dir,
                                "--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]"],
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, "--add-scram: %s" % r.stderr)
        c.start()
    cl.wait_brokers()
    b = {i: cl.broker(i).broker for i in (1, 2, 3)}

    # 1. Kafka's znodes.
    for args, via in ((["--user", "alice", "producer_byte_rate=1048576"], 1),
                      (["--user", "alice", "--client-id", "app", "consumer_byte_rate=2048"], 2),
                      (["--default-client-id", "request_percentage=200"], 3)):
        rc, out, err = test_quotas.quotas("set", "-b", b[via], *args)
        check(rc == 0, "quotas set %s through broker %d: %s" % (" ".join(args), via, err))
    alice = zk_json(cl, "/config/users/alice")
    check(alice["version"] == 1 and alice["config"]["producer_byte_rate"] == "1048576"
          and alice["config"]["SCRAM-SHA-256"].startswith("salt="),
          "/config/users/alice keeps the credential beside the quota: %s" % alice)
    app = zk_json(cl, "/config/users/alice/clients/app")
    check(app == {"version": 1, "config": {"consumer_byte_rate": "2048"}},
          "/config/users/alice/clients/app: %s" % app)
    dflt = zk_json(cl, "/config/clients/<default>")
    check(dflt == {"version": 1, "config": {"request_percentage": "200.0"}},
          "/config/clients/<default>: %s" % dflt)
    rc, _, err = test_quotas.quotas("set", "-b", b[1], "--user", "carol", "--client-id", "x",
                                    "producer_byte_rate=1000")
    check(rc == 0, "quotas set --user carol --client-id x: %s" % err)
    carol = zk_json(cl, "/config/users/carol")
    check(carol == {"version": 1, "config": {}},
          "a user made for a client quota gets an empty config (room for credentials): %s" % carol)
    rc, _, err = test_quotas.quotas("delete", "-b", b[1], "--user", "carol", "--client-id", "x")
    check(rc == 0, "quotas delete --user carol --client-id x: %s" % err)
    paths = set()
    for n in cl.zk.children(cluster.CHROOT + "/config/changes"):
        data = cl.zk.get(cluster.CHROOT + "/config/changes/" + n)
        if data:
            paths.add(json.loads(data).get("entity_path"))
    check({"users/alice", "users/alice/clients/app", "clients/<default>"} <= paths,
          "/config/changes names the entity paths: %s" % sorted(p for p in paths if p))

    # 2. Every broker has them.
    expect = [
        {"user": "alice", "quotas": {"producer_byte_rate": 1048576}},
        {"user": "alice", "client-id": "app", "quotas": {"consumer_byte_rate": 2048}},
        {"client-id": "<default>", "quotas": {"request_percentage": 200}},
    ]
    all_brokers_list(cl, expect)
    note("quotas set through three brokers are described by all three")

    # 3. Enforced at a leader that did not take the change.
    cl.create_topic("cq", partitions=1, replication=3)
    leader = cl.wait_leader("cq", 0)
    other = [i for i in (1, 2, 3) if i != leader][0]
    rc, _, err = test_quotas.quotas("set", "-b", b[other], "--client-id", "slow",
                                    "producer_byte_rate=200000")
    check(rc == 0, "quotas set --client-id slow through broker %d: %s" % (other, err))
    expect.append({"client-id": "slow", "quotas": {"producer_byte_rate": 200000}})
    all_brokers_list(cl, expect)
    rate, throttle = test_quotas.produce_for(cl.bootstrap, "slow", 4, topic="cq", warmup=2.0)
    note("client id slow at leader %d (set through %d): %.0f B/s, throttle up to %d ms"
         % (leader, other, rate, throttle))
    check(throttle > 0 and rate < 1.5 * 200000, "the leader throttles client id slow")

    # 4. A deletion reaches every broker; the credential stays.
    rc, _, err = test_quotas.quotas("delete", "-b", b[2], "--user", "alice")
    check(rc == 0, "quotas delete --user alice: %s" % err)
    all_brokers_list(cl, expect[1:])
    alice = zk_json(cl, "/config/users/alice")
    check("producer_byte_rate" not in alice["config"] and "SCRAM-SHA-256" in alice["config"],
          "the deletion kept the credential: %s" % alice)
    note("a deletion through broker 2 holds everywhere")
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
