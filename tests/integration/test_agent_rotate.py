#!/usr/bin/python3
"""Agent: rotation by Debian's logrotate in each mode (create, copytruncate,
compress, delaycompress) while a writer appends numbered lines. No line the
files ever held may be missing from the topic, and duplicates stay small:
none for the renaming modes, and for copytruncate only what was in flight
when the file was truncated (the copy is recognised and continued from the
acknowledged position instead of being read again).

The writers of all modes write the same numbered lines, so the files of
different inputs start and end with the same bytes: a file of one input
must never be taken for logrotate's copy of another's (that once skipped a
whole generation of the create-mode log)."""

import glob
import gzip
import os
import subprocess
import time

import harness
import test_agent_common as ac

LINES = int(os.environ.get("TR_AGENT_ROTATE_LINES", "20000"))
MODES = {
    "create": "create\n",
    "copytruncate": "copytruncate\n",
    "compress": "create\ncompress\n",
    "delaycompress": "create\ncompress\ndelaycompress\n",
}
ROTATIONS = 4
# Records in flight when logrotate truncates: at 4,000 lines/s and a few
# milliseconds per acknowledgement this is tens of lines; reading the copy
# again from its start would be thousands.
COPY_DUPS_PER_ROTATION = 1000


def numbers_on_disk(d):
    seen = set()
    for p in glob.glob(os.path.join(d, "app.log*")):
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rt") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "n":
                    seen.add(int(parts[1]))
    return seen


def body(ws):
    if not os.path.exists("/usr/sbin/logrotate"):
        print("# logrotate not installed")
        raise SystemExit(77)
    col = ws.collector(sets={"num.partitions": "1"})
    col.port = harness.free_port()
    col.start()
    inputs = ""
    for mode in MODES:
        d = ws.file(mode)
        os.mkdir(d)
        inputs += "[input %s]\npaths = %s/app.log*\nexclude = *.gz\ntopic = rot-%s\n" % (mode, d, mode)
    agent = ac.Agent(ws, col.broker, inputs, agent_extra="rotate_wait_ms = 2000\nrescan_interval_ms = 1000")
    agent.start()
    writers = {}
    for mode in MODES:
        w = ac.Writer(os.path.join(ws.file(mode), "app.log"), LINES, rate=4000)
        w.start()
        writers[mode] = w
    for r in range(ROTATIONS):
        time.sleep(LINES / 4000.0 / 5)
        for mode, opts in MODES.items():
            d = ws.file(mode)
            conf = os.path.join(ws.path, mode + ".logrotate")
            with open(conf, "w") as f:
                f.write("%s/app.log {\n  rotate 20\n  missingok\n  %s}\n" % (d, opts))
            res = subprocess.run(["/usr/sbin/logrotate", "-f", "-s", conf + ".state", conf],
                                 capture_output=True)
            if res.returncode != 0:
                harness.fail("logrotate %s: %s" % (mode, res.stderr))
    for w in writers.values():
        w.join()
    for mode in MODES:
        # copytruncate can lose lines itself (written between logrotate's
        # copy and its truncate); in the other modes every line must arrive,
        # including those written into a rotated file that was then
        # compressed and deleted (only the agent's open descriptor has them).
        if mode == "copytruncate":
            on_disk = numbers_on_disk(ws.file(mode))
        else:
            on_disk = set(range(LINES))
        lost_by_logrotate = LINES - len(on_disk)
        deadline = time.monotonic() + 120
        while True:
            recs = ac.read_topic(col.broker, "rot-" + mode, 1)
            seen = ac.numbers(recs)
            missing = sorted(n for n in on_disk if n not in seen)
            if not missing:
                break
            if time.monotonic() > deadline:
                harness.fail("%s: %d lines missing, first %s" % (mode, len(missing), missing[:10]))
            time.sleep(1)
        dups = sum(v - 1 for v in seen.values())
        harness.check(True, "%s: every line on disk arrived (%d lines, %d duplicates%s)" % (
            mode, len(on_disk), dups,
            ", %d lost by logrotate's copy/truncate race" % lost_by_logrotate if lost_by_logrotate else ""))
        bound = ROTATIONS * COPY_DUPS_PER_ROTATION if mode == "copytruncate" else 0
        if dups > bound:
            twice = sorted(n for n, v in seen.items() if v > 1)
            print("# %s: duplicated numbers %d..%d (%d of them)" % (mode, twice[0], twice[-1], len(twice)))
        harness.check(dups <= bound, "%s: %d duplicates <= %d" % (mode, dups, bound))
    harness.check(agent.stop() == 0, "agent exits 0")
    agent.check_sanitizers()


if __name__ == "__main__":
    raise SystemExit(harness.main(body))
