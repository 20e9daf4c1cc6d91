#!/usr/bin/python3
"""Agent with exactly_once = false (at least once): SIGKILL ten times while
shipping a million numbered lines; none may be missing, and the duplicates
each kill causes are bounded by what the agent's metrics showed in flight
and acknowledged since its last registry write, read just before the
kill. The default, exactly once, is test_agent_exactly_once.py."""

import bisect
import os
import time
import urllib.request

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_KILL_LINES", "1000000"))
KILLS = 10
INFLIGHT = 20000
SAVE_MS = 25  # registry_flush_interval_ms: least spacing of registry saves


def agent_gauges(port):
    """The agent's metrics as {name: value} ({} if it cannot be asked)."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except Exception:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("tributary_agent_"):
            name, value = line.split()[0], line.split()[-1]
            out[name] = float(value)
    return out


def registry_offset(agent):
    """Where the registry on disk says the log file was acknowledged to."""
    try:
        with open(os.path.join(agent.state_dir, "registry")) as f:
            offs = [int(l.split()[4]) for l in f if not l.startswith("#")]
    except FileNotFoundError:
        return 0
    return max(offs or [0])


def last_line(broker, half):
    """The highest line index in the topic (-1 if empty): the last record
    of each partition, whose lines are in file order within one run."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": "tributary-it-unused", "enable.auto.commit": False})
    try:
        best = -1
        for p in range(3):
            lo, hi = c.get_watermark_offsets(TopicPartition("kill", p), timeout=10, cached=False)
            if hi <= lo:
                continue
            c.assign([TopicPartition("kill", p, hi - 1)])
            deadline = time.monotonic() + 30
            while True:
                msg = c.poll(0.5)
                if msg is not None and not msg.error():
                    break
                if time.monotonic() > deadline:
                    harness.fail("could not read the last record of partition %d" % p)
            kind, number = msg.value().decode().split()[:2]
            best = max(best, int(number) + (half if kind == "m" else 0))
        return best
    finally:
        c.close()


def landed_total(broker):
    """Records in the topic once what a killed agent had sent has landed
    (the totals stop moving)."""
    prev = -1
    while True:
        n = ac.topic_counts(broker, "kill", 3)
        if n == prev:
            return n
        prev = n
        time.sleep(0.2)


def duplicate_runs(counts, gap=1000):
    """Sums the extra copies of line indices into runs of nearby indices:
    a restart resends one contiguous stretch of the file, so each run is
    what one kill cost. Returns [(first index, last index, extra copies)]."""
    runs = []
    last = None
    for i in sorted(k for k, v in counts.items() if v > 1):
        if last is None or i - last > gap:
            runs.append([i, i, 0])
        runs[-1][1] = i
        runs[-1][2] += counts[i] - 1
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
    lines = ["n %d k%d\n" % (i, i % 13) for i in range(half)]
    with open(path, "w") as f:
        f.writelines(lines)
    lines += ["m %d\n" % i for i in range(LINES - half)]
    starts = [0]  # byte offset of each line, and the file's final size
    for line in lines:
        starts.append(starts[-1] + len(line))
    size = starts[-1]
    mport = harness.free_port()
    inputs = "[input app]\npaths = %s/*.log\ntopic = kill\npattern = (?<k>k\\d+)$\nkey = ${k}\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="registry_flush_interval_ms = %d\nmax_inflight_records = %d\nmetrics_listen = 127.0.0.1:%d" % (
                         SAVE_MS, INFLIGHT, mport),
                     output_extra="buffer_max_bytes = 4m\nexactly_once = false")
    agent.start()
    w = ac.Writer(path, LINES - half, rate=200000, prefix="m")
    w.start()
    # A kill comes once the running agent has saved a position past every
    # line its predecessor had landed, so that each kill's resent stretch
    # is its own; and at least STEP bytes past the last kill's position,
    # which spreads the kills over the file. Once the agent has caught up
    # with the whole file, the remaining kills hit an idle agent.
    step = size // (3 * KILLS)
    kills = []  # per kill: (line its registry offset points to, its bound)
    due = step
    busy = 0
    deadline = time.monotonic() + 600
    while len(kills) < KILLS:
        saved = registry_offset(agent)
        if saved >= due or saved == size:
            # What a kill makes the next run resend is what was in flight
            # plus what was acknowledged since the last registry write. Both
            # are read just before the kill; acknowledgements arriving in
            # between only move records from in flight to unsaved, and in
            # flight never exceeds INFLIGHT, so the kill costs at most
            # unsaved + in flight (as read) + INFLIGHT.
            g = agent_gauges(mport)
            agent.kill()
            if not g:
                harness.fail("agent's metrics could not be read before kill %d" % (len(kills) + 1))
            bound = int(g["tributary_agent_registry_unsaved_records"] + g["tributary_agent_inflight_records"]) + INFLIGHT
            landed_total(col.broker)
            resume = bisect.bisect_left(starts, registry_offset(agent))
            kills.append((resume, bound))
            busy += saved < size
            due = max(starts[resume] + step, starts[min(last_line(col.broker, half) + 1, LINES)])
            agent.start()
        if time.monotonic() > deadline:
            harness.fail("only %d kills before the deadline (registry at %d of %d bytes)" % (len(kills), saved, size))
        time.sleep(0.05)
    harness.check(len(kills) == KILLS, "agent SIGKILLed %d times, %d of them while it was behind the file" % (
        len(kills), busy))
    harness.check(busy >= KILLS // 2, "at least %d kills came while the agent was shipping" % (KILLS // 2))
    w.join()
    # Everything is acknowledged once the registry's position is the size.
    harness.check(os.path.getsize(path) == size, "the log file has all %d lines (%d bytes)" % (LINES, size))
    deadline = time.monotonic() + 600
    while registry_offset(agent) != size:
        if not agent.alive():
            harness.fail("agent exited:\n%s" % harness.tail(agent.log()))
        if time.monotonic() > deadline:
            harness.fail("registry at %d of %d bytes after 600 s" % (registry_offset(agent), size))
        time.sleep(0.5)
    recs = ac.read_topic(col.broker, "kill", 3, timeout=600)
    seen = ac.numbers(recs, "n")
    seen_m = ac.numbers(recs, "m")
    missing = [i for i in range(half) if i not in seen] + [i for i in range(LINES - half) if i not in seen_m]
    if missing:
        harness.fail("%d lines missing after %d SIGKILLs, first %s" % (len(missing), len(kills), missing[:10]))
    dups = len(recs) - LINES
    harness.check(True, "all %d lines arrived after %d SIGKILLs; %d duplicates (%.3f%%), %.0f per kill" % (
        LINES, len(kills), dups, 100.0 * dups / LINES, dups / float(len(kills))))
    # Each kill's resent stretch starts at the line its registry offset
    # points to. Two kills' stretches can only touch (then counting as
    # one, bounded by the sum of theirs), never overlap.
    counts = {}
    for i, c in seen.items():
        counts[i] = c
    for i, c in seen_m.items():
        counts[half + i] = c
    runs = duplicate_runs(counts)
    harness.check(True, "duplicates per stretch %s; bounds per kill %s" % (
        [d for _, _, d in runs], [b for _, b in kills]))
    for first, end, extra in runs:
        mine = [b for line, b in kills if first - 1000 <= line <= end]
        if not mine:
            harness.fail("%d duplicates at lines %d-%d, where no kill's registry offset points" % (extra, first, end))
        harness.check(extra <= sum(mine), "stretch at lines %d-%d: %d duplicates <= %d, the bound of its %d kill(s)" % (
            first, end, extra, sum(mine), len(mine)))
    harness.check(max(counts.values()) <= 2, "no line arrived more than twice")
    harness.check(dups <= sum(b for _, b in kills), "duplicates total %d <= %d, the kills' bounds" % (
        dups, sum(b for _, b in kills)))
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=1500))
