#!/usr/bin/python3
"""tributary export: exactly once across SIGKILL.

1,000,000 records over 6 partitions, their timestamps spread over two
hours, are produced with `tributary produce`. The exporter (a group member,
jsonl, gzip) is started and SIGKILLed ten times at random moments while it
lands them, then run once more with --until-end. The files must then hold
every offset of every partition exactly once and in order (file after file,
sorted by FIRST), each file's name must match its content and its hour
directory the records' timestamps, and no temporary ('_') file may be left
where a reader looks. The group's committed offsets must show no lag, and
again after they are reset to the start and a run finds nothing to land.
"""

import glob
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = 1000000
PARTITIONS = 6
KILLS = 10
TOPIC = "landing"
GROUP = "exporter"


def tributary():
    return os.path.join(harness.builddir(), "tools", "tributary")


def run(args, **kw):
    return subprocess.run([tributary()] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=kw.pop("timeout", 300),
                          **kw)


def count_landed(root):
    return len(glob.glob(os.path.join(root, TOPIC, "*", "*", "*.gz")))


def body(ws):
    col = ws.collector(sets={"group.min.session.timeout.ms": "500",
                             "group.initial.rebalance.delay.ms": "0"})
    col.start()
    b = col.broker
    r = run(["topics", "create", "-b", b, TOPIC, "--partitions",
             str(PARTITIONS)])
    harness.check(r.returncode == 0, "topic created: %s" % r.stderr)

    # Two hours of timestamps ending an hour ago, increasing with i.
    start = (int(time.time()) // 3600 - 3) * 3600 * 1000 + 1234
    step = 7200 * 1000 // N
    data = ws.file("input.txt")
    with open(data, "w") as f:
        for i in range(N):
            f.write("%d\t%d:v%d\n" % (start + i * step, i, i))
    t0 = time.time()
    r = run(["produce", "-b", b, "-t", TOPIC, "-f", data, "-K", ":",
             "--timestamp-separator", "\t", "--json"])
    harness.check(r.returncode == 0 and json.loads(r.stdout)["records"] == N,
                  "produced %d records in %.1f s (%s)" % (
                      N, time.time() - t0, r.stderr.decode()[-300:]))

    root = ws.file("root")
    argv = [tributary(), "export", "-b", b, "-t", TOPIC, "-g", GROUP,
            "--root", root, "--format", "jsonl", "--roll-records", "10000",
            "--session-timeout", "1000"]
    rnd = random.Random(6)
    for k in range(KILLS):
        log = open(ws.file("export-%d.log" % k), "wb")
        before = count_landed(root)
        p = subprocess.Popen(argv, stdout=log, stderr=log)
        # Kill while landing: once this run has landed a file, at a random
        # moment a little later (a rebalance after the last kill comes first).
        deadline = time.time() + 60
        while count_landed(root) == before and time.time() < deadline:
            if p.poll() is not None:
                harness.fail("the exporter exited: %s" % open(
                    ws.file("export-%d.log" % k)).read())
            time.sleep(0.02)
        time.sleep(rnd.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        log.close()
        landed = count_landed(root)
        harness.note("kill %d: %d files landed" % (k + 1, landed))
    r = subprocess.run(argv + ["--until-end", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    harness.check(r.returncode == 0,
                  "final run caught up (%s)" % r.stderr.decode()[-500:])

    temps = [p for p in glob.glob(os.path.join(root, "**"), recursive=True)
             if os.path.basename(p).startswith("_")]
    harness.check(temps == [], "no temporary files are visible")

    files = {}
    for path in glob.glob(os.path.join(root, TOPIC, "dt=*", "hr=*", "*")):
        name = os.path.basename(path)
        stem = name[:-len(".jsonl.gz")]
        topic, part, first, last = stem.split("+")
        if topic != TOPIC or not name.endswith(".jsonl.gz"):
            harness.fail("unexpected file %s" % path)
        files.setdefault(int(part), []).append((int(first), int(last), path))

    total = 0
    values = set()
    for part in range(PARTITIONS):
        expect = 0
        for first, last, path in sorted(files.get(part, [])):
            if first != expect:
                harness.fail("partition %d: file %s starts at %d, expected %d"
                             % (part, os.path.basename(path), first, expect))
            hr_dir = os.path.basename(os.path.dirname(path))
            dt_dir = os.path.basename(os.path.dirname(os.path.dirname(path)))
            with gzip.open(path, "rt") as f:
                for line in f:
                    rec = json.loads(line)
                    if rec["partition"] != part or rec["offset"] != expect:
                        harness.fail("partition %d: offset %d where %d was "
                                     "expected in %s" % (part, rec["offset"],
                                                         expect, path))
                    hour = time.gmtime(rec["timestamp"] // 1000)
                    if (hr_dir != "hr=%02d" % hour.tm_hour or
                            dt_dir != time.strftime("dt=%Y-%m-%d", hour)):
                        harness.fail("record at %d in %s/%s" % (
                            rec["timestamp"], dt_dir, hr_dir))
                    values.add(rec["value"])
                    expect += 1
            if expect != last + 1:
                harness.fail("partition %d: %s ends at %d" % (
                    part, os.path.basename(path), expect - 1))
        total += expect
    harness.check(total == N, "the files hold %d records (expected %d)" % (
        total, N))
    harness.check(len(values) == N,
                  "every record landed exactly once, in offset order")
    hours = {os.path.basename(os.path.dirname(p[2]))
             for fl in files.values() for p in fl}
    harness.check(len(hours) >= 2, "records spread over hours %s" %
                  sorted(hours))

    r = run(["groups", "describe", "-b", b, GROUP, "--json"])
    harness.check(r.returncode == 0, "groups describe works")
    lag = sum(p["lag"] or 0 for p in json.loads(r.stdout)["partitions"])
    harness.check(lag == 0, "the group's commits show no lag (%d)" % lag)

    # The group's commits can fall behind the files (a member stopped before
    # its last commit was answered). Put them back to the start: a run with
    # nothing left to land still commits what the files show, and lands
    # nothing twice.
    r = run(["groups", "reset-offsets", "-b", b, GROUP, "-t", TOPIC, "--to-earliest"])
    harness.check(r.returncode == 0, "the group's commits reset to the start (%s)" % r.stderr)
    r = run(["groups", "describe", "-b", b, GROUP, "--json"])
    lag = sum(p["lag"] or 0 for p in json.loads(r.stdout)["partitions"])
    harness.check(lag == N, "the group's commits show a lag of %d (%d)" % (N, lag))
    names = sorted(glob.glob(os.path.join(root, TOPIC, "dt=*", "hr=*", "*")))
    r = subprocess.run(argv + ["--until-end", "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    harness.check(r.returncode == 0, "a run with nothing to land ends (%s)" % r.stderr.decode()[-500:])
    after = sorted(glob.glob(os.path.join(root, TOPIC, "dt=*", "hr=*", "*")))
    harness.check(after == names, "it landed nothing (%d files before and after)" % len(after))
    r = run(["groups", "describe", "-b", b, GROUP, "--json"])
    lag = sum(p["lag"] or 0 for p in json.loads(r.stdout)["partitions"])
    harness.check(lag == 0, "its commits follow the files: no lag (%d)" % lag)


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=600))
