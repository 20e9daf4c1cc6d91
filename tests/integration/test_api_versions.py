#!/usr/bin/python3
"""ApiVersions v0-v3: the advertised ranges are the ones docs/compatibility.md lists.

The expected ranges are read from the API matrix in docs/compatibility.md.

The ranges matter beyond negotiation: librdkafka turns features on by probing
them (gzip needs Produce v0 in the range, zstd Produce 7, idempotence
InitProducerId 0), and kafka-python infers a broker version from them. So a
range that drifts from the documented one is a failure here, and the
document and the collector's API table change together.
"""

import os
import re
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Conn, check, fail  # noqa: E402

DOC = os.path.join(harness.srcdir(), "docs", "compatibility.md")


def expand_keys(cell):
    """'0' -> [0]; '17, 36' -> [17, 36]; '24-26, 28' -> [24, 25, 26, 28]."""
    keys = []
    for part in cell.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", part)
        if not m:
            return None
        lo = int(m.group(1))
        keys += range(lo, int(m.group(2) or lo) + 1)
    return keys


def documented():
    """
    Reads the API matrix of docs/compatibility.md: returns (required,
    planned, forbidden), the first two {key: (name, min, max)}, the last
    {key: name}.
    """
    required, planned, forbidden = {}, {}, {}
    section = None
    with open(DOC, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].strip()
            if section != "API matrix":
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not line.startswith("|"):
                continue
            keys = expand_keys(cells[0])
            if keys is None:
                continue
            name, adv = cells[1], cells[2]
            m = re.fullmatch(r"(planned \()?(\d+)-(\d+)\)?", adv)
            if m and len(keys) == 1:
                table = planned if m.group(1) else required
                table[keys[0]] = (name, int(m.group(2)), int(m.group(3)))
            elif adv == "no":
                for k in keys:
                    forbidden[k] = name
            else:
                fail("%s: cannot read the Advertised cell %r of key %s" % (DOC, adv, cells[0]))
    if not required:
        fail("%s: no API matrix found" % DOC)
    return required, planned, forbidden


def fetch(port, version):
    with Conn(port) as c:
        if version >= 3:
            body = harness.compact_string("tributary-it") + harness.compact_string("1.0") + b"\x00"
            c.send(harness.request(18, version, 30 + version, body, flexible=True))
            # ApiVersions responses always use response header v0.
            return harness.parse_api_versions_v3(c.response(30 + version))
        c.send(harness.request(18, version, 30 + version, b""))
        body = c.response(30 + version)
        err, keys = harness.parse_api_versions_v0(body[:-4] if version >= 1 else body)
        if version >= 1:
            (throttle,) = struct.unpack(">i", body[-4:])
            if throttle != 0:
                fail("ApiVersions v%d: throttle_time_ms %d" % (version, throttle))
        return err, keys


def run(ws):
    REQUIRED, PLANNED, FORBIDDEN = documented()
    harness.note("docs/compatibility.md: %d advertised, %d planned, %d never" % (len(REQUIRED), len(PLANNED), len(FORBIDDEN)))
    col = ws.collector().start()
    seen = {}
    for v in range(4):
        err, keys = fetch(col.port, v)
        check(err == 0, "ApiVersions v%d: error 0 (%d), %d keys" % (v, err, len(keys)))
        seen[v] = keys
    check(all(seen[v] == seen[0] for v in range(4)), "v0, v1, v2 and v3 advertise the same ranges")
    keys = seen[0]
    for k, (name, lo, hi) in sorted(REQUIRED.items()):
        check(keys.get(k) == (lo, hi), "%s (%d) advertised as %d-%d: %s" % (name, k, lo, hi, keys.get(k)))
    for k, (name, lo, hi) in sorted(PLANNED.items()):
        got = keys.get(k)
        check(got is None or got == (lo, hi), "%s (%d): %s" % (name, k, "planned, not advertised yet" if got is None else "%d-%d" % got))
    for k, name in sorted(FORBIDDEN.items()):
        check(k not in keys, "%s (%d) is not advertised" % (name, k))
    extra = sorted(set(keys) - set(REQUIRED) - set(PLANNED))
    check(not extra, "no API beyond the documented ones is advertised (%s)" % extra)
    for k, (lo, hi) in keys.items():
        if not 0 <= lo <= hi:
            fail("key %d has a bad range %d-%d" % (k, lo, hi))


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=120))
