#!/usr/bin/python3
"""SCRAM users in a cluster live in ZooKeeper, as in Kafka 2.x.

Two collectors on a real ZooKeeper, each with a PLAINTEXT listener (the
inter-broker one) and a SASL_PLAINTEXT one:

  1. a user added with --add-scram to broker 1's log directory before its
     first start is published to /config/users/<user> (Kafka's JSON, no
     password) and logs in on broker 2 too;
  2. 'tributary users set' through broker 2 writes the znode (with a
     /config/changes notification) and the user logs in on broker 1 at
     once; users list through either broker shows both users;
  3. a deletion through broker 1 stops logins on broker 2.
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


def users(*args, stdin=None):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary"), "users"] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def login(port, mech, user, password):
    """True if kcat authenticates on 'port' and gets Metadata."""
    r = subprocess.run(["kcat", "-L", "-b", "127.0.0.1:%d" % port, "-m", "5",
                        "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mech,
                        "-X", "sasl.username=" + user, "-X", "sasl.password=" + password],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and "brokers:" in r.stdout


def body(ws):
    cl = cluster.Cluster(ws, n=2)
    sasl_port = cl.start_sasl("SCRAM-SHA-256=[name=alice,password=alice-secret]")

    znode = cl.zk.get(cluster.CHROOT + "/config/users/alice")
    check(znode is not None, "/config/users/alice was not published")
    doc = json.loads(znode)
    check(doc["version"] == 1 and doc["config"]["SCRAM-SHA-256"].startswith("salt=")
          and "iterations=4096" in doc["config"]["SCRAM-SHA-256"] and b"alice-secret" not in znode,
          "/config/users/alice: %r" % znode)
    note("--add-scram's user published to ZooKeeper: %s" % znode.decode()[:80])
    for i in (1, 2):
        check(login(sasl_port[i], "SCRAM-SHA-256", "alice", "alice-secret"), "alice on broker %d" % i)
        check(login(sasl_port[i], "PLAIN", "alice", "alice-secret"), "alice (PLAIN) on broker %d" % i)
    check(not login(sasl_port[2], "SCRAM-SHA-256", "alice", "wrong"), "a wrong password on broker 2")

    rc, out, err = users("set", "-b", cl.broker(2).broker, "bob", "-m", "SCRAM-SHA-512", stdin="bob-secret\n")
    check(rc == 0, "users set bob through broker 2: %s" % err)
    changes = [cl.zk.get(cluster.CHROOT + "/config/changes/" + n)
               for n in cl.zk.children(cluster.CHROOT + "/config/changes")]
    check(any(c and json.loads(c).get("entity_path") == "users/bob" for c in changes),
          "no /config/changes notification for users/bob")
    check(login(sasl_port[1], "SCRAM-SHA-512", "bob", "bob-secret"), "bob on broker 1")
    for i in (1, 2):
        rc, out, err = users("list", "-b", cl.broker(i).broker, "--json")
        got = sorted((u["user"], u["mechanism"]) for u in json.loads(out))
        check(rc == 0 and got == [("alice", "SCRAM-SHA-256"), ("bob", "SCRAM-SHA-512")],
              "users list through broker %d: %s %s" % (i, out, err))
    note("a user set through broker 2 logs in on broker 1; both brokers list both")

    rc, out, err = users("delete", "-b", cl.broker(1).broker, "bob", "-m", "SCRAM-SHA-512")
    check(rc == 0, "users delete bob: %s" % err)
    check(not login(sasl_port[2], "SCRAM-SHA-512", "bob", "bob-secret"), "deleted bob still logs in on broker 2")
    check(json.loads(cl.zk.get(cluster.CHROOT + "/config/users/bob"))["config"] == {},
          "/config/users/bob keeps a credential")
    note("a deletion through broker 1 holds on broker 2")
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
