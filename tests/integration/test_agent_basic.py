#!/usr/bin/python3
"""Agent: lines from several files arrive with the right keys, headers and
partitions; filters; a file deleted while being read is finished and closed;
--check-config; SIGHUP reload keeps positions; /metrics and /health."""

import os
import subprocess
import time
import urllib.request

import harness
import test_agent_common as ac


def body(ws):
    col = ws.collector(sets={"num.partitions": "4"})
    col.port = harness.free_port()
    col.start()
    logs = ws.file("logs")
    os.mkdir(logs)
    files = ["a.log", "b.log", "c.log"]
    for name in files:
        with open(os.path.join(logs, name), "w") as f:
            for i in range(300):
                f.write("%s %d user=u%d req=r%d\n" % (name, i, i % 10, i))
            f.write("%s DEBUG noise\n" % name)
    with open(os.path.join(logs, "skip.gz"), "w") as f:
        f.write("never\n")
    mport = harness.free_port()
    inputs = """[input app]
paths = %s/*.log, %s/*.gz
exclude = *.gz
topic = app
pattern = user=(?<user>u[0-9]+) req=(?<req>\\w+)
key = ${user}
exclude_lines = DEBUG
field.env = test
""" % (logs, logs)
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="metrics_listen = 127.0.0.1:%d\nhost = h1\nrotate_wait_ms = 500" % mport)

    bad = ws.file("bad.conf")
    with open(bad, "w") as f:
        f.write("[agent]\nstate_dir = /tmp/x\nnope = 1\n")
    r = subprocess.run([ac.agent_binary(), "--check-config", "--config", bad], capture_output=True)
    harness.check(r.returncode != 0 and b"bad.conf:3: unknown key 'nope'" in r.stderr,
                  "--check-config names FILE:LINE: %r" % r.stderr.strip())
    r = subprocess.run([ac.agent_binary(), "--check-config", "--config", agent.conf], capture_output=True)
    harness.check(r.returncode == 0, "--check-config accepts the test config")

    agent.start()
    ac.wait_count(col.broker, "app", 4, 900, 120, agent)
    recs = ac.read_topic(col.broker, "app", 4)
    harness.check(len(recs) == 900, "900 records, DEBUG lines and *.gz dropped (got %d)" % len(recs))
    parts = {}
    for p, off, key, value, h in recs:
        name, i = value.decode().split()[0], int(value.decode().split()[1])
        want_key = b"u%d" % (i % 10)
        if key != want_key:
            harness.fail("key %r for %r" % (key, value))
        if h.get("host") != b"h1" or h.get("path") != os.path.join(logs, name).encode() or h.get("env") != b"test":
            harness.fail("headers %r for %r" % (h, value))
        line = "%s %d user=u%d req=r%d\n" % (name, i, i % 10, i)
        if int(h["offset"]) != i * 0 + sum(len("%s %d user=u%d req=r%d\n" % (name, j, j % 10, j)) for j in range(i)):
            harness.fail("offset header %r for %r" % (h["offset"], line))
        parts.setdefault(key, set()).add(p)
    harness.check(all(len(v) == 1 for v in parts.values()), "each key stays in one partition")
    harness.check(len(set(p for v in parts.values() for p in v)) > 1, "keys spread over partitions")

    body_ = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
    harness.check("tributary_agent_records_acked_total 900" in body_, "metrics count acknowledged records")
    harness.check("tributary_agent_file_lag_bytes{path=" in body_, "metrics have per-file lag")
    health = urllib.request.urlopen("http://127.0.0.1:%d/health" % mport, timeout=10)
    harness.check(health.status == 200, "health is ok")

    # A file deleted while being read is read to its end, then closed.
    big = os.path.join(logs, "big.log")
    with open(big, "w") as f:
        for i in range(20000):
            f.write("big %d user=u1 req=x\n" % i)
    time.sleep(0.2)
    os.unlink(big)
    ac.wait_count(col.broker, "app", 4, 900 + 20000, 120, agent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        held = [l for l in os.listdir("/proc/%d/fd" % agent.proc.pid)
                if "big.log" in os.readlink("/proc/%d/fd/%s" % (agent.proc.pid, l))]
        if not held:
            break
        time.sleep(0.2)
    harness.check(not held, "deleted file read to its end and closed")
    recs = ac.read_topic(col.broker, "app", 4)
    seen = ac.numbers(recs, "big")
    ac.check_all(seen, 20000, "deleted file")

    # SIGHUP: a new input appears, positions of the old ones are kept.
    with open(agent.conf, "a") as f:
        f.write("[input more]\npaths = %s/*.txt\ntopic = more\n" % logs)
    with open(os.path.join(logs, "x.txt"), "w") as f:
        f.write("hello\nworld\n")
    agent.proc.send_signal(1)
    ac.wait_count(col.broker, "more", 4, 2, 60, agent)
    time.sleep(1)
    harness.check(ac.topic_counts(col.broker, "app", 4) == 20900, "reload sent nothing twice")
    harness.check(agent.stop() == 0, "agent exits 0 on SIGTERM")
    agent.check_sanitizers()
    reg = open(os.path.join(agent.state_dir, "registry")).read()
    harness.check("a.log" in reg and "big.log" not in reg, "registry keeps live files only")


if __name__ == "__main__":
    raise SystemExit(harness.main(body))
