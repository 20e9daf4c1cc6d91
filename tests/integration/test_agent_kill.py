#!/usr/bin/python3
"""Agent: SIGKILL ten times while shipping a million numbered lines; none
may be missing, and duplicates (bounded by what was in flight) are
counted and reported."""

import os
import time

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_KILL_LINES", "1000000"))
KILLS = 10
INFLIGHT = 20000


def body(ws):
    col = ws.collector(sets={"num.partitions": "3"})
    col.port = harness.free_port()
    col.start()
    logs = ws.file("logs")
    os.mkdir(logs)
    path = os.path.join(logs, "app.log")
    half = LINES // 2
    with open(path, "w") as f:
        f.writelines("n %d k%d\n" % (i, i % 13) for i in range(half))
    inputs = "[input app]\npaths = %s/*.log\ntopic = kill\npattern = (?<k>k\\d+)$\nkey = ${k}\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="registry_flush_interval_ms = 200\nmax_inflight_records = %d" % INFLIGHT,
                     output_extra="buffer_max_bytes = 4m")
    agent.start()
    w = ac.Writer(path, LINES - half, rate=200000, prefix="m")
    w.start()
    kills = 0
    last = 0
    deadline = time.monotonic() + 600
    while kills < KILLS:
        n = ac.topic_counts(col.broker, "kill", 3)
        if n >= last + LINES // (KILLS + 2) or (n > last and time.monotonic() > deadline - 300):
            agent.kill()
            kills += 1
            last = n
            agent.start()
        if time.monotonic() > deadline:
            harness.fail("only %d kills before the deadline (%d records)" % (kills, n))
        time.sleep(0.05)
    harness.check(kills == KILLS, "agent SIGKILLed %d times while shipping" % kills)
    w.join()
    # Everything is acknowledged once the registry's position is the size.
    size = os.path.getsize(path)
    reg = os.path.join(agent.state_dir, "registry")
    deadline = time.monotonic() + 600
    while True:
        with open(reg) as f:
            offs = [int(l.split()[4]) for l in f if not l.startswith("#")]
        if offs and max(offs) == size:
            break
        if not agent.alive():
            harness.fail("agent exited:\n%s" % harness.tail(agent.log()))
        if time.monotonic() > deadline:
            harness.fail("registry at %s of %d bytes after 600 s" % (offs, size))
        time.sleep(0.5)
    recs = ac.read_topic(col.broker, "kill", 3, timeout=600)
    seen = ac.numbers(recs, "n")
    seen_m = ac.numbers(recs, "m")
    missing = [i for i in range(half) if i not in seen] + [i for i in range(LINES - half) if i not in seen_m]
    if missing:
        harness.fail("%d lines missing after %d SIGKILLs, first %s" % (len(missing), kills, missing[:10]))
    dups = len(recs) - LINES
    harness.check(True, "all %d lines arrived after %d SIGKILLs; %d duplicates (%.3f%%)" % (
        LINES, kills, dups, 100.0 * dups / LINES))
    # Each kill may resend what was in flight plus what was acknowledged
    # since the last registry write (200 ms; at this file's rate of up to
    # ~500k short lines/s that is up to ~100k lines).
    bound = KILLS * (INFLIGHT + 100000)
    harness.check(dups <= bound, "duplicates bounded by in-flight records (%d <= %d)" % (dups, bound))
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=1500))
