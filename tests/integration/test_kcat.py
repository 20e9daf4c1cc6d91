#!/usr/bin/python3
"""kcat (librdkafka 2.0.2): 100,000 keyed records with headers, gzip, round trip.

The producer auto-creates the topic; the consumer reads it back with a format
that prints key, headers and value, and the output must equal, byte for byte,
what the input file implies. The segments on disk must hold gzip batches
(librdkafka only compresses when the broker advertises Produce v0).
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, note  # noqa: E402

COUNT = 100_000
TOPIC = "kcat-it"
HEADERS = [("src", "kcat"), ("run", "integration")]


def value_for(i):
    # Printable ASCII, tabs, colons after the key delimiter, and UTF-8.
    pad = "".join(chr(0x20 + (i * 7 + j) % 95) for j in range(i % 40))
    return "v%06d:\t%s|é€" % (i, pad)


def run(ws):
    c = ws.collector(sets={"num.partitions": "1"}).start()
    src = ws.file("input.txt")
    expected = bytearray()
    with open(src, "wb") as f:
        for i in range(COUNT):
            key = "key-%06d" % i
            val = value_for(i).encode()
            f.write(key.encode() + b":" + val + b"\n")
            expected += key.encode() + b"\t"
            expected += ",".join("%s=%s" % hv for hv in HEADERS).encode()
            expected += b"\t" + val + b"\n"

    hdr_args = []
    for k, v in HEADERS:
        hdr_args += ["-H", "%s=%s" % (k, v)]
    with open(src, "rb") as f:
        p = subprocess.run(
            ["kcat", "-b", c.broker, "-P", "-t", TOPIC, "-K:", "-z", "gzip", "-X", "linger.ms=20"]
            + hdr_args,
            stdin=f,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=180,
        )
    check(p.returncode == 0, "kcat -P exited 0 (%s)" % p.stdout.decode(errors="replace")[-500:].strip())

    p = subprocess.run(
        ["kcat", "-b", c.broker, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e", "-q",
         "-X", "check.crcs=true", "-f", r"%k\t%h\t%s\n"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=180,
    )
    check(p.returncode == 0, "kcat -C -e exited 0 (%s)" % p.stderr.decode(errors="replace")[-500:].strip())
    got = p.stdout
    lines = got.count(b"\n")
    check(lines == COUNT, "consumed %d records, expected %d" % (lines, COUNT))
    if got != bytes(expected):
        want_lines = bytes(expected).split(b"\n")
        got_lines = got.split(b"\n")
        for n, (w, g) in enumerate(zip(want_lines, got_lines)):
            if w != g:
                harness.fail("record %d differs:\n  sent %r\n  got  %r" % (n, w, g))
        harness.fail("output differs in length: %d vs %d bytes" % (len(got), len(expected)))
    check(True, "keys, headers and values match byte for byte (%d bytes)" % len(got))

    p = subprocess.run(
        ["kcat", "-b", c.broker, "-L", "-t", TOPIC],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    out = p.stdout.decode(errors="replace")
    check(p.returncode == 0 and ('topic "%s" with 1 partitions' % TOPIC) in out,
          "kcat -L -t lists the topic with 1 partition")
    p = subprocess.run(
        ["kcat", "-b", c.broker, "-L"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    out = p.stdout.decode(errors="replace")
    check(p.returncode == 0 and ('topic "%s"' % TOPIC) in out and "1 brokers:" in out,
          "kcat -L (all topics) lists one broker and the topic")

    batches = harness.partition_batches(c.partition_dir(TOPIC, 0))
    note("%d batches on disk" % len(batches))
    # librdkafka sends a batch uncompressed when gzip would not make it smaller.
    gz = sum(1 for b in batches if b["compression"] == 1)
    check(gz > 0 and all(b["compression"] in (0, 1) for b in batches),
          "%d of %d batches on disk are gzip-compressed, the rest uncompressed" % (gz, len(batches)))
    check(sum(b["records"] for b in batches) == COUNT, "batches on disk hold %d records" % COUNT)
    check(all(b["valid_crc"] for b in batches), "every batch on disk has a valid CRC-32C")
    offs = [(b["base_offset"], b["last_offset"]) for b in batches]
    check(offs[0][0] == 0 and all(offs[i][1] + 1 == offs[i + 1][0] for i in range(len(offs) - 1)),
          "batch offsets on disk are contiguous from 0")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=400))
