#!/usr/bin/python3
"""Agent, exactly once: every line arrives once, whatever happens.

1. SIGKILL the agent KILLS times at random moments while numbered lines
   are written and rotated by Debian's logrotate, in create (rename) mode
   for a keyed input and copytruncate mode for a keyless one: every line
   arrives exactly once (copytruncate: every line still on disk, and no
   line twice; logrotate itself loses what is written between its copy
   and its truncate).
2. SIGKILL the collector while the agent ships, then the agent while the
   collector is down; restart both: exactly once.
3. The journal far behind the collector's deduplication window: the
   registry is written only every 30 s, so when the agent is killed
   hundreds of batches have landed without the registry knowing; after
   the restart DescribeProducers says where each partition stands and none
   is sent again.
4. Copies made while the agent is down: lines shipped (registry not yet
   written), the agent killed, then two copytruncate rotations before it
   comes back; the copy of the shipped content, whose lines only the
   journal knows, is not sent again, and the rest is sent once. Then the
   same while it runs: copytruncate twice in a row, each copy shorter
   than the last, so the second truncation may come before the first copy
   was looked at.
5. Batches rebuilt from the files: the collector hangs (SIGSTOP), the
   agent reads on and sends batches it journals first, which wait in the
   hung collector's socket; both are SIGKILLed, so those never land;
   while both are down one file is renamed away (logrotate's create mode)
   and another copytruncated, and both get new lines. The journal holds
   where each line was, not the lines: after the restart the agent finds
   them again (the renamed file by its inode, the truncated one in its
   copy), rebuilds the batches byte for byte and resends them with their
   sequences; every line arrives once.
6. Lines gone from disk: the same, but the file is deleted while both are
   down. The batches cannot be rebuilt; the agent says so, takes a new
   producer id (at least once) and ships the other file's lines.

TR_AGENT_EO_LINES (lines of scenario 1, half per input) and TR_AGENT_EO_KILLS
size it; `make torture` runs 1,000,000 lines and 20 kills."""

import glob
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_EO_LINES", "200000"))
KILLS = int(os.environ.get("TR_AGENT_EO_KILLS", "20"))
SEED = int(os.environ.get("TR_AGENT_EO_SEED", str(int(time.time()))))


def start_collector(ws, name, partitions):
    col = ws.collector(name=name, sets={"num.partitions": str(partitions)})
    col.port = harness.free_port()
    col.start()
    return col


def finish(agent, col):
    """A scenario's end: the agent exits 0 and clean, then the collector stops."""
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()
    col.stop()


def new_dir(ws, name):
    d = ws.file(name)
    os.mkdir(d)
    return d


def on_disk(d, prefix):
    seen = set()
    for p in glob.glob(os.path.join(d, "app.log*")):
        with open(p) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == prefix:
                    seen.add(int(parts[1]))
    return seen


def wait_settled(broker, topic, partitions, want, agent, timeout=300):
    """Waits until the topic holds at least 'want' records and has not grown
    for 3 s; returns the count."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = ac.topic_counts(broker, topic, partitions)
        if n != last:
            last, since = n, time.monotonic()
        elif n >= want and time.monotonic() - since >= 3:
            return n
        if agent is not None and not agent.alive():
            harness.fail("agent exited:\n%s" % harness.tail(agent.log()))
        time.sleep(0.3)
    harness.fail("topic %s: %d records after %d s, want %d" % (topic, last, timeout, want))


def exact(counts, want, what, may=()):
    """Every number of 'want' exactly once; those of 'may' at most once."""
    missing = [n for n in want if counts.get(n, 0) == 0]
    dups = sorted(n for n, c in counts.items() if c > 1)
    extra = [n for n in counts if n not in want and n not in may]
    if missing:
        harness.fail("%s: %d of %d lines missing, first %s" % (what, len(missing), len(want), sorted(missing)[:10]))
    if dups:
        harness.fail("%s: %d lines duplicated, first %s" % (what, len(dups), dups[:10]))
    if extra:
        harness.fail("%s: %d unexpected lines, first %s" % (what, len(extra), sorted(extra)[:10]))
    harness.check(True, "%s: all %d lines exactly once" % (what, len(want)))


def log_ints(agent, pattern):
    return [int(m) for m in re.findall(pattern, agent.log().decode(errors="replace"))]


def kills_and_rotations(ws):
    have_logrotate = os.path.exists("/usr/sbin/logrotate")
    col = start_collector(ws, "c1", 3)
    dirs = {"create": ws.file("create"), "copytruncate": ws.file("copytruncate")}
    for d in dirs.values():
        os.mkdir(d)
    inputs = ("[input create]\npaths = %s/app.log*\ntopic = eo-create\npattern = (?<k>\\d)$\nkey = ${k}\n"
              "[input copy]\npaths = %s/app.log*\ntopic = eo-copy\n") % (dirs["create"], dirs["copytruncate"])
    agent = ac.Agent(ws, col.broker, inputs, name="a1",
                     agent_extra="rotate_wait_ms = 2000\nrescan_interval_ms = 1000")
    agent.start()
    half = LINES // 2
    # About 20 s of writing on an idle machine.
    rate = max(2000, half // 20)
    writers = {m: ac.Writer(os.path.join(d, "app.log"), half, rate=rate, prefix="n") for m, d in dirs.items()}
    for w in writers.values():
        w.start()
    rnd = random.Random(SEED)
    stop = threading.Event()
    rotations = [0]

    def rotate():
        while not stop.is_set() and have_logrotate:
            stop.wait(rnd.uniform(0.8, 2.0))
            for mode, d in dirs.items():
                conf = os.path.join(ws.path, mode + ".logrotate")
                with open(conf, "w") as f:
                    f.write("%s/app.log {\n  rotate 1000\n  missingok\n  %s\n}\n" % (d, mode))
                res = subprocess.run(["/usr/sbin/logrotate", "-f", "-s", conf + ".state", conf],
                                     capture_output=True)
                if res.returncode != 0:
                    harness.note("logrotate %s: %s" % (mode, res.stderr))
            rotations[0] += 1

    rot = threading.Thread(target=rotate, daemon=True)
    rot.start()
    kills = 0
    # Spread the kills over the writing, at random moments.
    span = half / float(rate)
    while kills < KILLS:
        time.sleep(rnd.uniform(0.2, 2 * span / KILLS))
        agent.kill()
        kills += 1
        agent.start()
    for w in writers.values():
        w.join()
    stop.set()
    rot.join()
    harness.check(True, "%d SIGKILLs, %d logrotate rounds (seed %d)" % (kills, rotations[0], SEED))
    create_want = set(range(half))
    copy_disk = on_disk(dirs["copytruncate"], "n")
    wait_settled(col.broker, "eo-create", 3, half, agent)
    wait_settled(col.broker, "eo-copy", 3, len(copy_disk), agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-create", 3)), create_want, "create (keyed)")
    # Lines logrotate lost between its copy and its truncate may have been
    # read before the truncation: at most once.
    exact(ac.numbers(ac.read_topic(col.broker, "eo-copy", 3)), copy_disk, "copytruncate (keyless)",
          may=set(range(half)) - copy_disk)
    finish(agent, col)


def collector_restart(ws):
    col = start_collector(ws, "c2", 3)
    logs = new_dir(ws, "logs2")
    path = os.path.join(logs, "app.log")
    inputs = "[input app]\npaths = %s/*.log\ntopic = eo-restart\npattern = (?<k>\\d)$\nkey = ${k}\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, name="a2",
                     output_extra="retry_backoff_max_ms = 500")
    agent.start()
    n = 60000
    w = ac.Writer(path, n, rate=10000, prefix="r")
    w.start()
    ac.wait_count(col.broker, "eo-restart", 3, 5000, 60, agent)
    col.stop(sig=signal.SIGKILL, check_clean=False)
    time.sleep(1.0)
    col.restart()
    ac.wait_count(col.broker, "eo-restart", 3, 20000, 60, agent)
    col.stop(sig=signal.SIGKILL, check_clean=False)
    agent.kill()
    time.sleep(0.5)
    agent.start()  # waits for the collector to say where it stands
    time.sleep(1.0)
    col.restart()
    w.join()
    wait_settled(col.broker, "eo-restart", 3, n, agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-restart", 3), "r"), set(range(n)),
          "collector SIGKILLed twice, agent once")
    finish(agent, col)


def far_behind(ws):
    col = start_collector(ws, "c3", 2)
    logs = new_dir(ws, "logs3")
    n = 30000
    with open(os.path.join(logs, "app.log"), "w") as f:
        f.writelines("f %d\n" % i for i in range(n))
    inputs = "[input app]\npaths = %s/*.log\ntopic = eo-behind\n" % logs
    # Small batches, and a registry written at most every 30 s: everything
    # lands while the registry still says 0.
    agent = ac.Agent(ws, col.broker, inputs, name="a3",
                     agent_extra="registry_flush_interval_ms = 30000",
                     output_extra="batch_bytes = 4k\nlinger_ms = 0")
    agent.start()
    ac.wait_count(col.broker, "eo-behind", 2, n, 25, agent)
    agent.kill()
    with open(os.path.join(agent.state_dir, "registry")) as f:
        offs = [int(l.split()[4]) for l in f if not l.startswith("#")]
    harness.check(offs in ([], [0]), "the registry had not moved when the agent was killed (%s)" % offs)
    agent.start()
    wait_settled(col.broker, "eo-behind", 2, n, agent)
    landed = log_ints(agent, r"resumed: (\d+) journaled batches had landed")
    harness.check(landed and landed[-1] > 5,
                  "after the restart %s journaled batches had landed, beyond the collector's window of 5" % landed[-1:])
    exact(ac.numbers(ac.read_topic(col.broker, "eo-behind", 2), "f"), set(range(n)), "journal behind the collector")
    finish(agent, col)


def copytruncate(path, keep):
    """logrotate's copytruncate with 'keep' numbered copies."""
    for i in range(keep - 1, 0, -1):
        if os.path.exists("%s.%d" % (path, i)):
            os.rename("%s.%d" % (path, i), "%s.%d" % (path, i + 1))
    shutil.copyfile(path, path + ".1")
    with open(path, "r+") as f:
        f.truncate(0)


def copied_while_down(ws):
    col = start_collector(ws, "c4", 2)
    logs = new_dir(ws, "logs4")
    app = os.path.join(logs, "app.log")
    with open(app, "w") as f:
        f.writelines("d %d\n" % i for i in range(2000))
    inputs = "[input app]\npaths = %s/app.log*\ntopic = eo-down\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, name="a4",
                     agent_extra="registry_flush_interval_ms = 30000")
    agent.start()
    ac.wait_count(col.broker, "eo-down", 2, 2000, 25, agent)
    agent.kill()
    for first in (2000, 3000):
        copytruncate(app, 5)
        with open(app, "a") as f:
            f.writelines("d %d\n" % i for i in range(first, first + 1000))
    agent.start()
    wait_settled(col.broker, "eo-down", 2, 4000, agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-down", 2), "d"), set(range(4000)),
          "copied twice while the agent was down")
    harness.check(b"made while the agent was away" in agent.log(),
                  "the copy was recognised from the journal")
    for rnd in range(3):
        base = 4000 + rnd * 3000
        with open(app, "a") as f:
            f.writelines("d %d\n" % i for i in range(base, base + 2000))
        wait_settled(col.broker, "eo-down", 2, base + 2000, agent)
        copytruncate(app, 20)
        with open(app, "a") as f:
            f.writelines("d %d\n" % i for i in range(base + 2000, base + 2600))
        copytruncate(app, 20)
        with open(app, "a") as f:
            f.writelines("d %d\n" % i for i in range(base + 2600, base + 3000))
    wait_settled(col.broker, "eo-down", 2, 13000, agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-down", 2), "d"), set(range(13000)),
          "copytruncate twice in a row, three times, while the agent runs")
    finish(agent, col)


def write_lines(path, prefix, lo, hi):
    with open(path, "a") as f:
        f.writelines("%s %d\n" % (prefix, i) for i in range(lo, hi))


def strand_in_flight(agent, col, writes, grow):
    """
    A hung collector (SIGSTOP): the lines of 'writes' ((path, prefix, lo,
    hi) each) go out in requests the agent journals first and that stay in
    the collector's socket buffers. Waits for the journal to grow by 'grow'
    bytes, then SIGKILLs the agent and the hung collector, which never reads
    them. Returns how many bytes the journal grew.
    """
    col.pause()
    for w in writes:
        write_lines(*w)
    journal = os.path.join(agent.state_dir, "journal")
    size0 = os.path.getsize(journal)
    deadline = time.time() + 20
    while time.time() < deadline and os.path.getsize(journal) < size0 + grow:
        time.sleep(0.2)
    time.sleep(1.0)
    grown = os.path.getsize(journal) - size0
    agent.kill()
    col.stop(sig=signal.SIGKILL, check_clean=False)
    return grown


def rebuilt_from_files(ws):
    col = start_collector(ws, "c5", 2)
    logs = new_dir(ws, "logs5")
    ren = os.path.join(logs, "ren.log")
    cp = os.path.join(logs, "cp.log")
    inputs = ("[input ren]\npaths = %s/ren.log*\ntopic = eo-rebuild\npattern = (?<k>\\d)$\nkey = ${k}\n"
              "[input cp]\npaths = %s/cp.log*\ntopic = eo-rebuild\n") % (logs, logs)
    # The registry stays behind: the restart depends on the journal alone.
    agent = ac.Agent(ws, col.broker, inputs, name="a5",
                     agent_extra="registry_flush_interval_ms = 30000",
                     output_extra="retry_backoff_max_ms = 300\nlinger_ms = 20")

    write_lines(ren, "b", 0, 1000)
    write_lines(cp, "b", 10000, 11000)
    agent.start()
    ac.wait_count(col.broker, "eo-rebuild", 2, 2000, 30, agent)
    grown = strand_in_flight(agent, col, [(ren, "b", 1000, 3000), (cp, "b", 11000, 13000)], 2000)
    harness.check(grown > 0 and grown < 4000 * 20,
                  "4000 undelivered lines took %d bytes of journal (no line in it)" % grown)
    os.rename(ren, ren + ".1")
    write_lines(ren, "b", 3000, 3500)
    copytruncate(cp, 5)
    write_lines(cp, "b", 13000, 13500)
    col.restart()
    agent.start()
    want = set(range(3500)) | set(range(10000, 13500))
    wait_settled(col.broker, "eo-rebuild", 2, len(want), agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-rebuild", 2), "b"), want,
          "batches rebuilt from a renamed file and a copytruncate copy")
    for line in agent.log().splitlines():
        if b"exactly once:" in line:
            harness.note(line.decode(errors="replace"))
    m = re.findall(rb"(\d+) resent \((\d+) rebuilt from the files, (\d+) of them not byte for byte\)",
                   agent.log())
    harness.check(m and int(m[-1][1]) > 0 and int(m[-1][1]) == int(m[-1][0]) and m[-1][2] == b"0",
                  "batches rebuilt from the files, byte for byte: %s" % m[-1:])
    harness.check(b"(its copy)" in agent.log() and re.search(rb"from \S+ren\.log are read again from \S+ren\.log\.1", agent.log()),
                  "the lines were found in the renamed file and in the copy")
    finish(agent, col)


def gone_from_disk(ws):
    col = start_collector(ws, "c6", 1)
    logs = new_dir(ws, "logs6")
    app = os.path.join(logs, "app.log")
    inputs = "[input app]\npaths = %s/*.log\ntopic = eo-gone\n" % logs
    agent = ac.Agent(ws, col.broker, inputs, name="a6",
                     agent_extra="registry_flush_interval_ms = 30000",
                     output_extra="retry_backoff_max_ms = 300\nlinger_ms = 20")
    write_lines(app, "g", 0, 1000)
    agent.start()
    ac.wait_count(col.broker, "eo-gone", 1, 1000, 30, agent)
    strand_in_flight(agent, col, [(app, "g", 1000, 3000)], 1000)
    os.unlink(app)
    write_lines(os.path.join(logs, "other.log"), "g", 5000, 5500)
    col.restart()
    agent.start()
    want = set(range(1000)) | set(range(5000, 5500))
    wait_settled(col.broker, "eo-gone", 1, len(want), agent)
    exact(ac.numbers(ac.read_topic(col.broker, "eo-gone", 1), "g"), want,
          "the deleted file's undelivered lines are lost with it, the rest once")
    harness.check(b"cannot be rebuilt" in agent.log() and
                  b"are gone from disk); taking a new one" in agent.log(),
                  "the agent says why it falls back to at least once")
    finish(agent, col)


def body(ws):
    rebuilt_from_files(ws)
    gone_from_disk(ws)
    copied_while_down(ws)
    far_behind(ws)
    collector_restart(ws)
    kills_and_rotations(ws)


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=max(900, LINES // 500)))
