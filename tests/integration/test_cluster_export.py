#!/usr/bin/python3
"""tributary produce and tributary export through leader failovers.

Three collectors on a real ZooKeeper, a topic of 3 partitions with
replication factor 3. `tributary produce` writes 200,000 numbered records
while the leader of partition 0 is SIGKILLed; the exporter (a consumer-group
member landing jsonl files) runs meanwhile and through a second SIGKILL, of
the broker coordinating its group; the killed brokers are restarted, and a
last exporter run with --until-end catches up. Every offset of every
partition must be in the files exactly once and in order, every record the
producer reported written must be there, and the group's commits must show
no lag.
"""

import glob
import gzip
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

N = 200000
PARTS = 3
TOPIC = "landing"
GROUP = "exporter"


def tool():
    return os.path.join(harness.builddir(), "tools", "tributary")


def java_hash(s):
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator(cl):
    """The leader of the group's __consumer_offsets partition (Kafka's rule)."""
    n = len(cl.metadata("__consumer_offsets"))
    return cl.wait_leader("__consumer_offsets", abs(java_hash(GROUP)) % n) if n else None


def body(ws):
    cl = cluster.Cluster(ws, settings={"group.min.session.timeout.ms": "500",
                                       "group.initial.rebalance.delay.ms": "0"}).start()
    cl.create_topic(TOPIC, partitions=PARTS, replication=3)
    for p in range(PARTS):
        cl.wait_isr(TOPIC, p, size=3)
    data = ws.file("input.txt")
    with open(data, "w") as f:
        for i in range(N):
            f.write("%d:v%d\n" % (i, i))
    root = ws.file("root")
    export = [tool(), "export", "-b", cl.bootstrap, "-t", TOPIC, "-g", GROUP,
              "--root", root, "--format", "jsonl", "--roll-records", "5000",
              "--session-timeout", "3000"]
    exp_log = open(ws.file("export.log"), "wb")
    exporter = subprocess.Popen(export, stdout=exp_log, stderr=exp_log)

    # The producer through a SIGKILL of partition 0's leader.
    prod = subprocess.Popen([tool(), "produce", "-b", cl.bootstrap, "-t", TOPIC, "-f", data,
                             "-K", ":", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(1.0)
    leader = cl.wait_leader(TOPIC, 0)
    cl.kill(leader)
    out, err = prod.communicate(timeout=300)
    check(prod.returncode == 0, "tributary produce finished through the failover: %s" %
          err.decode()[-400:])
    written = json.loads(out)["records"]
    check(written == N, "tributary produce wrote all %d records (reported %d)" % (N, written))
    cl.restart(leader)
    cl.wait_brokers()

    # The exporter through a SIGKILL of its group's coordinator.
    deadline = time.time() + 60
    while not glob.glob(os.path.join(root, TOPIC, "*", "*", "*")) and time.time() < deadline:
        time.sleep(0.2)
    coord = cl.wait_for(lambda: coordinator(cl), timeout=30, what="the group's coordinator")
    cl.kill(coord)
    time.sleep(3)
    cl.restart(coord)
    cl.wait_brokers()
    for p in range(PARTS):
        cl.wait_isr(TOPIC, p, size=3, timeout=60)
    exporter.terminate()
    exporter.wait(60)
    exp_log.close()
    r = subprocess.run(export + ["--until-end", "--json"], capture_output=True, timeout=300)
    check(r.returncode == 0, "the last exporter run caught up: %s" % r.stderr.decode()[-400:])

    total, values = 0, set()
    for p in range(PARTS):
        files = []
        for path in glob.glob(os.path.join(root, TOPIC, "*", "*", "%s+%d+*" % (TOPIC, p))):
            stem = os.path.basename(path).split(".")[0]
            _, _, first, last = stem.split("+")
            files.append((int(first), int(last), path))
        expect = 0
        for first, last, path in sorted(files):
            if first != expect:
                harness.fail("partition %d: %s starts at %d, expected %d" %
                             (p, os.path.basename(path), first, expect))
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                for line in f:
                    rec = json.loads(line)
                    if rec["offset"] != expect:
                        harness.fail("partition %d: offset %d where %d was expected" %
                                     (p, rec["offset"], expect))
                    values.add(rec["value"])
                    expect += 1
        total += expect
    note("exported %d records, %d distinct, across the kills of broker %d (leader) and "
         "broker %d (coordinator)" % (total, len(values), leader, coord))
    check(len(values) == N and total == N,
          "every record exported exactly once, in offset order (%d of %d)" % (total, N))
    r = subprocess.run([tool(), "groups", "describe", "-b", cl.bootstrap, GROUP, "--json"],
                       capture_output=True, text=True, timeout=60)
    lag = sum(x["lag"] or 0 for x in json.loads(r.stdout)["partitions"])
    check(r.returncode == 0 and lag == 0, "the group's commits show no lag (%d)" % lag)
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=600))
