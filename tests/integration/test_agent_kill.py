#!/usr/bin/python3
"""Agent with exactly_once = false (at least once): SIGKILL ten times while
shipping a million numbered lines; none may be missing, and the duplicates
each kill causes are bounded by what was in flight plus what was
acknowledged during one registry save window. The default, exactly once,
is test_agent_exactly_once.py."""

import os
import time
import urllib.request

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_KILL_LINES", "1000000"))
KILLS = 10
INFLIGHT = 20000
SAVE_MS = 25  # registry_flush_interval_ms: least spacing of registry saves


def window_max(port):
    """The agent's largest count of records acknowledged between two
    registry writes so far (0 if it cannot be asked yet)."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except Exception:
        return 0
    for line in text.splitlines():
        if line.startswith("tributary_agent_registry_window_records_max "):
            return int(float(line.split()[1]))
    return 0


def duplicate_runs(counts, gap=1000):
    """Sums the extra copies of line indices into runs of nearby indices:
    a restart resends one contiguous stretch of the file, so each run is
    what one kill cost. Returns [(first index, extra copies)]."""
    runs = []
    last = None
    for i in sorted(k for k, v in counts.items() if v > 1):
        if last is None or i - last > gap:
            runs.append([i, 0])
        runs[-1][1] += counts[i] - 1
        last = i
    return [tuple(r) for r in runs]


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
    mport = harness.free_port()
    inputs = "[input app]\npaths = %s/*.log\ntopic = kill\npattern = (?<k>k\\d+)$\nkey = ${k}\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="registry_flush_interval_ms = %d\nmax_inflight_records = %d\nmetrics_listen = 127.0.0.1:%d" % (
                         SAVE_MS, INFLIGHT, mport),
                     output_extra="buffer_max_bytes = 4m\nexactly_once = false")
    agent.start()
    w = ac.Writer(path, LINES - half, rate=200000, prefix="m")
    w.start()
    kills = 0
    last = 0
    window = 0
    deadline = time.monotonic() + 600
    while kills < KILLS:
        n = ac.topic_counts(col.broker, "kill", 3)
        window = max(window, window_max(mport))
        if n >= last + LINES // (KILLS + 2) or (n > last and time.monotonic() > deadline - 300):
            window = max(window, window_max(mport))
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
        window = max(window, window_max(mport))
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
    harness.check(True, "all %d lines arrived after %d SIGKILLs; %d duplicates (%.3f%%), %.0f per kill" % (
        LINES, kills, dups, 100.0 * dups / LINES, dups / float(kills)))
    # A kill resends what was in flight (at most INFLIGHT records) plus what
    # was acknowledged since the last registry write, which is at most one
    # save window: the agent writes the registry as soon as acknowledgements
    # move a position, spaced by SAVE_MS (or 4x the last write's duration),
    # and reports the largest window it saw.
    counts = {}
    for i, c in seen.items():
        counts[i] = c
    for i, c in seen_m.items():
        counts[half + i] = c
    runs = duplicate_runs(counts)
    per_kill = [d for _, d in runs]
    bound = INFLIGHT + window
    harness.check(True, "duplicates per stretch %s; largest save window %d records" % (per_kill, window))
    harness.check(len(runs) <= kills, "duplicates come in at most one stretch per kill (%d stretches)" % len(runs))
    # Kills close together resend overlapping or adjacent stretches, which
    # then count as one: with R stretches from K kills, a stretch holds the
    # cost of at most K - R + 1 kills.
    merged = kills - len(runs) + 1
    harness.check(max(per_kill or [0]) <= merged * bound,
                  "each kill resent at most in-flight + one save window (largest stretch %d <= "
                  "%d kill(s) x (%d + %d))" % (max(per_kill or [0]), merged, INFLIGHT, window))
    harness.check(dups <= kills * bound, "duplicates total %d <= %d kills x %d" % (dups, kills, bound))
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=1500))
