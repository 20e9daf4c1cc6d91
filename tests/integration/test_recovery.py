#!/usr/bin/python3
"""Log recovery: clean restart, then a damaged tail after a crash, two ways.

1. Produce, stop cleanly, restart: everything is there.
2. Produce more, SIGKILL (so the restart must recover), copy the data
   directory. In the original, append garbage bytes to the newest segment;
   in the copy, cut the newest segment in the middle of its last batch.
   Each restarted collector must serve every complete batch before the
   damage, give new records the offsets right after the last good one, and
   say in its log that it truncated the tail.
Small segments (log.segment.bytes) make the log span several files.
"""

import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "recovery-it"
SETS = {"num.partitions": "1", "log.segment.bytes": "16384", "log.index.interval.bytes": "512"}
TRUNCATION_WORDS = re.compile(rb"truncat", re.IGNORECASE)


def records(start, n):
    return [(b"r%d" % i, b"recovery record %06d " % i + b"." * (i % 50)) for i in range(start, start + n)]


def produce_in_batches(broker, start, batches, per_batch):
    offsets = []
    for b in range(batches):
        offsets += harness.produce_records(broker, TOPIC, records(start + b * per_batch, per_batch))
    return offsets


def expect_contents(col, want, what):
    lo, hi, got = harness.read_partition(col.broker, TOPIC)
    check((lo, hi) == (0, len(want)), "%s: watermarks (%d, %d), expected (0, %d)" % (what, lo, hi, len(want)))
    got_kv = [(k, v) for _, k, v in got]
    if [o for o, _, _ in got] != list(range(len(want))) or got_kv != want:
        for n, (w, g) in enumerate(zip(want, got_kv)):
            if w != g:
                fail("%s: record %d: expected %r, got %r" % (what, n, w, g))
        fail("%s: read %d records, expected %d" % (what, len(got), len(want)))
    check(True, "%s: all %d records read back" % (what, len(want)))


def log_of_last_start(col):
    log = col.log()
    i = log.rfind(b"=== start ")
    return log[i:] if i >= 0 else log


def newest_segment(col):
    segs = harness.segment_files(col.partition_dir(TOPIC, 0))
    if not segs:
        fail("no segment files in %s" % col.partition_dir(TOPIC, 0))
    return segs[-1]


def run(ws):
    a = ws.collector("a", sets=SETS).start()

    # 1. clean restart
    want = records(0, 600)
    offs = produce_in_batches(a.broker, 0, 12, 50)
    check(offs == list(range(600)), "600 records produced at offsets 0..599")
    a.stop()
    nsegs = len(harness.segment_files(a.partition_dir(TOPIC, 0)))
    check(nsegs > 1, "the log spans %d segments" % nsegs)
    a.start()
    expect_contents(a, want, "after a clean restart")

    # 2. crash, then damage the tail two ways
    offs = produce_in_batches(a.broker, 600, 8, 50)
    check(offs == list(range(600, 1000)), "400 more records at offsets 600..999")
    want = records(0, 1000)
    a.kill()
    note("collector a killed with SIGKILL")
    copy_dir = ws.file("b-data")
    shutil.copytree(a.data_dir, copy_dir)

    # 2a. garbage after the last batch
    seg = newest_segment(a)
    size = os.path.getsize(seg)
    with open(seg, "ab") as f:
        f.write(bytes((i * 37 + 11) % 256 for i in range(200)))
    note("appended 200 garbage bytes to %s (was %d bytes)" % (os.path.basename(seg), size))
    a.restart()
    check(TRUNCATION_WORDS.search(log_of_last_start(a)), "collector a logged that it truncated the tail")
    expect_contents(a, want, "after garbage was appended")
    offs = harness.produce_records(a.broker, TOPIC, records(1000, 5))
    check(offs == list(range(1000, 1005)), "new records continue at offset 1000: %s" % offs)
    expect_contents(a, records(0, 1005), "after appending again")
    a.stop()

    # 2b. the last batch cut in half
    b = ws.collector("b", sets=SETS, data_dir=copy_dir)
    batches = []
    for seg in reversed(harness.segment_files(b.partition_dir(TOPIC, 0))):
        batches = list(harness.read_batches(seg))
        if batches:
            break
    if not batches:
        fail("no complete batch in %s" % b.partition_dir(TOPIC, 0))
    last = batches[-1]
    cut = last["pos"] + last["size"] // 2
    with open(seg, "r+b") as f:
        f.truncate(cut)
    good = last["base_offset"]
    note("cut %s at byte %d, inside the batch of offsets %d..%d" % (os.path.basename(seg), cut, good, last["last_offset"]))
    b.start()
    check(TRUNCATION_WORDS.search(log_of_last_start(b)), "collector b logged that it truncated the tail")
    expect_contents(b, want[:good], "after the last batch was cut")
    offs = harness.produce_records(b.broker, TOPIC, records(5000, 3))
    check(offs == [good, good + 1, good + 2], "new records continue at offset %d: %s" % (good, offs))
    expect_contents(b, want[:good] + records(5000, 3), "after appending to the repaired log")
    b.stop()


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=300))
