#!/usr/bin/python3
"""The ZooKeeper the cluster tests run (cluster.ZooKeeper), on its own.

Starts Debian's ZooKeeper on a free port with a data directory in the
workspace, checks that it answers 'ruok' and allows the short sessions the
cluster tests use, creates and reads znodes, freezes it with SIGSTOP (it
must stop answering) and thaws it with SIGCONT, kills it with SIGKILL and
starts it again on the same data directory: the znodes must still be there.
Finally the workspace must stop the server when it closes, even though the
test leaves it running. Skipped when java, the ZooKeeper jar or kazoo are
missing.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import cluster  # noqa: E402
from harness import check, note  # noqa: E402

ROOT = "/tributary-smoke"
left_running = {}


def body(ws):
    cluster.skip_without_zookeeper()
    zk = cluster.ZooKeeper(ws)
    t0 = time.monotonic()
    zk.start()
    note("ZooKeeper answered after %.1f s" % (time.monotonic() - t0))
    check(zk.ruok(), "ZooKeeper answers ruok with imok on %s" % zk.connect_string)
    conf = dict(
        line.split("=", 1) for line in cluster.four_letter_word(zk.port, "conf").splitlines() if "=" in line
    )
    check(
        conf.get("minSessionTimeout") == "400" and conf.get("maxSessionTimeout") == "60000",
        "sessions from 400 ms to 60 s are allowed (conf: min %s, max %s)"
        % (conf.get("minSessionTimeout"), conf.get("maxSessionTimeout")),
    )
    check("Mode: standalone" in cluster.four_letter_word(zk.port, "srvr"), "it runs standalone")

    check(zk.get(ROOT + "/a") is None, "get of a missing znode is None")
    check(zk.children(ROOT) is None, "children of a missing znode is None")
    zk.create(ROOT + "/a", b"alpha")  # creates ROOT too
    zk.create(ROOT + "/b", b"")
    zk.create(ROOT + "/b/c", b"gamma")
    check(zk.get(ROOT + "/a") == b"alpha", "a created znode reads back")
    check(zk.children(ROOT) == ["a", "b"], "children lists both znodes")
    zk.set(ROOT + "/a", b"alpha-2")
    check(zk.get(ROOT + "/a") == b"alpha-2", "set replaces the data")
    check(zk.exists(ROOT + "/b/c"), "exists finds a nested znode")
    zk.create(ROOT + "/gone/x", b"")
    zk.delete(ROOT + "/gone", recursive=True)
    check(not zk.exists(ROOT + "/gone"), "a recursive delete removes the subtree")
    tree = zk.tree(ROOT)
    check(
        tree == {ROOT: b"", ROOT + "/a": b"alpha-2", ROOT + "/b": b"", ROOT + "/b/c": b"gamma"},
        "tree lists the whole subtree (%s)" % sorted(tree),
    )

    zk.pause()
    check(not zk.ruok(timeout=1.0), "after SIGSTOP it does not answer ruok")
    try:
        zk.get(ROOT + "/a", timeout=2.0)
        answered = True
    except Exception as e:
        answered = False
        note("get while stopped: %s" % type(e).__name__)
    check(not answered, "after SIGSTOP a get does not complete")
    zk.resume()
    check(zk.ruok(), "after SIGCONT it answers ruok again")
    check(zk.get(ROOT + "/a") == b"alpha-2", "after SIGCONT the data reads back")

    pid = zk.proc.pid
    zk.kill()
    check(not harness.port_accepts(zk.port), "after SIGKILL nothing listens on %d" % zk.port)
    zk.restart()
    check(zk.proc.pid != pid, "it restarted as a new process on the same port")
    check(zk.get(ROOT + "/a") == b"alpha-2", "znode data survived the SIGKILL")
    check(zk.children(ROOT) == ["a", "b"], "the children survived the SIGKILL")
    check(zk.get(ROOT + "/b/c") == b"gamma", "a nested znode survived the SIGKILL")

    rc = zk.stop()
    check(rc is not None and not harness.port_accepts(zk.port), "SIGTERM stops it (status %s)" % rc)
    zk.restart()
    check(zk.get(ROOT + "/b/c") == b"gamma", "the data survived a stop and start")

    zk.pause()
    left_running["pid"] = zk.proc.pid  # paused: closing the workspace must still stop it


def still_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; the harness waited for it anyway.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    status = harness.main(body, timeout=240)
    pid = left_running.get("pid")
    if status == 0 and pid is not None:
        if still_running(pid):
            print("FAIL: test_cluster_smoke: ZooKeeper (pid %d) still runs after the workspace closed" % pid)
            os.kill(pid, 9)
            status = 1
        else:
            print("ok - closing the workspace stopped the paused ZooKeeper", flush=True)
    sys.exit(status)
