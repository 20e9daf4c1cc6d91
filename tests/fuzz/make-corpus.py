#!/usr/bin/python3
"""Records the fuzz_request seed corpus from real clients.

Starts a collector behind test_fuzz_requests.py's recording proxy, drives
the same clients (kcat, confluent-kafka, kafka-python, the tributary CLI),
and writes one seed per distinct request to tests/fuzz/corpus/fuzz_request/
in the target's input form: [api_key int16][api_version int16][body], the
rest of the request header (correlation id, client id, tagged fields)
removed. At most PER_PAIR seeds per (api, version) keep the corpus small.

Run from a build directory:
    top_builddir=. top_srcdir=.. ../tests/fuzz/make-corpus.py
"""

import hashlib
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import test_fuzz_requests as tfr  # noqa: E402

PER_PAIR = 4


def first_flexible():
    """API key -> first flexible version, from common/proto.c's table."""
    text = open(os.path.join(harness.srcdir(), "common", "proto.c")).read()
    return {int(k): int(v) for k, v in
            re.findall(r"\{\s*(\d+),\s*(-?\d+),\s*\"\w+\"\s*\}", text)}


def strip_header(frame, flex):
    key, version = struct.unpack_from(">hh", frame)
    (id_len,) = struct.unpack_from(">h", frame, 8)
    at = 10 + max(id_len, 0)
    if flex.get(key, -1) >= 0 and version >= flex[key]:
        at += 1  # the header's empty tagged-field section
    return frame[:4] + frame[at:]


def body(ws):
    out = os.path.join(harness.srcdir(), "tests", "fuzz", "corpus", "fuzz_request")
    os.makedirs(out, exist_ok=True)
    col, proxy = tfr.start_recording(ws)
    try:
        tfr.drive_clients("127.0.0.1:%d" % proxy.port, "fuzzed")
        with proxy.lock:
            recorded = list(proxy.frames)
    finally:
        proxy.stop()
    col.stop()
    flex = first_flexible()
    count = {}
    for frame in recorded:
        seed = strip_header(tfr.no_long_poll(frame), flex)
        pair = struct.unpack_from(">hh", seed)
        if count.get(pair, 0) >= PER_PAIR:
            continue
        name = "%d-%d-%s" % (pair[0], pair[1], hashlib.sha1(seed).hexdigest()[:12])
        path = os.path.join(out, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(seed)
            count[pair] = count.get(pair, 0) + 1
    harness.note("wrote %d seeds covering %d (api, version) pairs to %s"
                 % (sum(count.values()), len(count), out))


if __name__ == "__main__":
    sys.exit(harness.main(body, name="make-corpus", timeout=300))
