#!/usr/bin/python3
"""The tributary command line against a real collector, --json parsed.

topics (create, list, describe, alter, delete), produce (keys, headers,
gzip, a file, timestamps), consume (beginning, offset, timestamp, count,
until-end, a template, a group), groups (list, describe with lag,
reset-offsets in every mode with --dry-run, delete), cluster, --help of
every subcommand, and the documented exit codes for an unreachable
bootstrap server, an unknown topic, an unknown group and bad usage.
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

check = harness.check


def tributary():
    return os.path.join(harness.builddir(), "tools", "tributary")


def run(*args, stdin=None):
    r = subprocess.run([tributary()] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def run_json(*args, stdin=None):
    rc, out, err = run(*(list(args) + ["--json"]), stdin=stdin)
    if rc != 0:
        harness.fail("%s exited %d: %s" % (" ".join(args), rc, err))
    return json.loads(out)


def body(ws):
    col = ws.collector(sets={"group.initial.rebalance.delay.ms": "0"})
    col.start()
    b = col.broker

    for cmd in ("topics", "produce", "consume", "groups", "cluster",
                "export"):
        rc, out, _ = run(cmd, "--help")
        check(rc == 0 and "bootstrap-server" in out, "%s --help" % cmd)
    rc, _, err = run("nosuch")
    check(rc == 2, "an unknown command exits 2")
    rc, _, err = run("topics", "list", "-b", "127.0.0.1:1", "--timeout",
                     "1000")
    check(rc == 3 and "cannot reach the bootstrap server" in err,
          "an unreachable bootstrap server exits 3 and says so")
    rc, _, err = run("topics", "create", "-b", b)
    check(rc == 2, "create without a topic exits 2")

    # topics
    res = run_json("topics", "create", "-b", b, "events", "--partitions",
                   "3", "--config", "retention.ms=3600000")
    check(res == {"topic": "events", "status": "created"}, "topics create")
    rc, _, err = run("topics", "create", "-b", b, "events")
    check(rc == 1 and "TOPIC_ALREADY_EXISTS" in err,
          "creating it again fails and says why")
    rc, _, _ = run("topics", "create", "-b", b, "events", "--if-not-exists")
    check(rc == 0, "--if-not-exists")
    run_json("topics", "create", "-b", b, "other")
    names = {t["name"]: t for t in run_json("topics", "list", "-b", b)}
    check(set(names) >= {"events", "other"} and
          names["events"]["partitions"] == 3, "topics list")

    # produce: keys, headers, gzip; then a file with timestamps
    lines = "".join("k%d:v%d\n" % (i, i) for i in range(300))
    res = run_json("produce", "-b", b, "-t", "events", "-K", ":", "-H",
                   "src=test", "-z", "gzip", stdin=lines.encode())
    check(res["records"] == 300 and res["failed"] == 0, "produce from stdin")
    tsfile = ws.file("ts.txt")
    with open(tsfile, "w") as f:
        for i in range(100):
            f.write("%d|t%d\n" % (1700000000000 + i * 1000, i))
    res = run_json("produce", "-b", b, "-t", "other", "-f", tsfile, "-p", "0",
                   "--timestamp-separator", "|")
    check(res["records"] == 100, "produce from a file with timestamps")
    rc, _, err = run("produce", "-b", b, "-t", "missing", stdin=b"x\n")
    check(rc == 4 and "does not exist" in err,
          "producing to an unknown topic exits 4")

    desc = run_json("topics", "describe", "-b", b, "events", "--configs")
    parts = desc[0]["partitions"]
    check(len(parts) == 3 and all(p["leader"] == 0 and p["isr"] == [0]
                                  for p in parts),
          "describe shows leaders and in-sync replicas")
    check(sum(p["log_end_offset"] - p["log_start_offset"] for p in parts)
          == 300, "describe shows log start and end offsets")
    check(desc[0]["configs"]["retention.ms"] == "3600000",
          "describe --configs shows the topic's configs")
    rc, _, err = run("topics", "describe", "-b", b, "nope")
    check(rc == 4 and "UNKNOWN_TOPIC_OR_PARTITION" in err,
          "describing an unknown topic exits 4")

    # consume
    rc, out, _ = run("consume", "-b", b, "-t", "events", "--from-beginning",
                     "--until-end", "-F", "%p %o %k %v %h\\n")
    rows = [l.split(" ") for l in out.splitlines()]
    check(rc == 0 and len(rows) == 300 and
          {r[3] for r in rows} == {"v%d" % i for i in range(300)} and
          all(r[4] == "src=test" for r in rows),
          "consume --from-beginning --until-end with a template")
    rc, out, _ = run("consume", "-b", b, "-t", "other", "-p", "0", "-o", "10",
                     "-c", "5", "--json")
    recs = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and [r["offset"] for r in recs] == [10, 11, 12, 13, 14] and
          recs[0]["value"] == "t10" and recs[0]["timestamp"] == 1700000010000,
          "consume from an offset with --count and --json")
    rc, out, _ = run("consume", "-b", b, "-t", "other", "--from-time",
                     "1700000090000", "--until-end", "--json")
    recs = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and [r["offset"] for r in recs] == list(range(90, 100)),
          "consume from a timestamp")
    rc, out, _ = run("consume", "-b", b, "-t", "other", "--from-time",
                     "2023-11-14T22:13:50Z", "--until-end", "--json")
    recs = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and recs and recs[0]["offset"] == 30,
          "consume from an ISO datetime")
    rc, out, _ = run("consume", "-b", b, "-t", "other", "-p", "0", "-o",
                     "5000", "--until-end")
    check(rc == 0 and out == "",
          "an offset past the end is out of range and resets to the end")
    rc, out, _ = run("consume", "-b", b, "-t", "events", "-g", "readers",
                     "--from-beginning", "--until-end")
    check(rc == 0 and len(out.splitlines()) == 300, "consume in a group")

    # groups
    groups = run_json("groups", "list", "-b", b)
    check([g["group"] for g in groups] == ["readers"] and
          groups[0]["state"] == "Empty", "groups list")
    g = run_json("groups", "describe", "-b", b, "readers")
    check(len(g["partitions"]) >= 1 and
          all(p["lag"] == 0 for p in g["partitions"]) and
          sum(p["committed_offset"] for p in g["partitions"]) == 300,
          "groups describe shows commits and zero lag")
    plan = run_json("groups", "reset-offsets", "-b", b, "readers", "-t",
                    "events", "--to-earliest", "--dry-run")
    check(plan["dry_run"] and all(p["new_offset"] == 0
                                  for p in plan["partitions"]),
          "reset --to-earliest --dry-run prints the plan")
    g = run_json("groups", "describe", "-b", b, "readers")
    check(sum(p["lag"] for p in g["partitions"]) == 0,
          "--dry-run commits nothing")
    run_json("groups", "reset-offsets", "-b", b, "readers", "-t", "events",
             "--shift-by", "-5")
    g = run_json("groups", "describe", "-b", b, "readers")
    nonempty = [p for p in g["partitions"] if p["log_end_offset"] > 0]
    check(all(p["lag"] == min(5, p["log_end_offset"]) for p in nonempty),
          "reset --shift-by -5")
    run_json("groups", "reset-offsets", "-b", b, "readers", "-t", "events",
             "-p", "0", "--to-offset", "1")
    g = run_json("groups", "describe", "-b", b, "readers")
    p0 = [p for p in g["partitions"] if p["partition"] == 0][0]
    check(p0["committed_offset"] == min(1, p0["log_end_offset"]),
          "reset --to-offset on one partition")
    run_json("groups", "reset-offsets", "-b", b, "readers", "-t", "events",
             "--to-latest")
    g = run_json("groups", "describe", "-b", b, "readers")
    check(all(p["lag"] == 0 for p in g["partitions"]), "reset --to-latest")
    run_json("groups", "reset-offsets", "-b", b, "readers", "-t", "other",
             "--to-datetime", "1700000050000")
    g = run_json("groups", "describe", "-b", b, "readers")
    po = [p for p in g["partitions"] if p["topic"] == "other"]
    check(po and po[0]["committed_offset"] == 50, "reset --to-datetime")
    rc, _, err = run("groups", "describe", "-b", b, "nosuch")
    check(rc == 4, "describing an unknown group exits 4")
    res = run_json("groups", "delete", "-b", b, "readers")
    check(res[0]["error_code"] == 0, "groups delete")
    check(run_json("groups", "list", "-b", b) == [], "the group is gone")

    # cluster
    c = run_json("cluster", "-b", b)
    check(c["controller"] == 0 and len(c["brokers"]) == 1 and
          c["brokers"][0]["port"] == col.port and
          c["offline_partitions"] == [] and
          c["under_replicated_partitions"] == [], "cluster")

    # alter and delete
    run_json("topics", "alter", "-b", b, "events", "--partitions", "5",
             "--config", "retention.ms=7200000")
    desc = run_json("topics", "describe", "-b", b, "events", "--configs")
    check(len(desc[0]["partitions"]) == 5 and
          desc[0]["configs"]["retention.ms"] == "7200000",
          "topics alter: partitions and configs")
    rc, _, err = run("topics", "alter", "-b", b, "events",
                     "--replication-factor", "3")
    check(rc == 1 and "replica" in err,
          "changing the replication factor is refused with a reason")
    res = run_json("topics", "delete", "-b", b, "events", "other")
    check([r["status"] for r in res] == ["deleted", "deleted"],
          "topics delete")
    time.sleep(0.2)
    check(run_json("topics", "list", "-b", b) == [], "no topics left")


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=300))
