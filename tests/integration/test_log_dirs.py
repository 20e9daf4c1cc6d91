#!/usr/bin/python3
"""DescribeLogDirs (API 35) on a single collector.

kafka-python (its own codec, v1) and raw requests of every version (0-4,
flexible from 2) must list every partition in the log directory with the
byte size of its segment files on disk, offset lag 0 (a single collector
leads everything) and the directory's absolute path; v4 adds the
filesystem's total and usable bytes (checked against statvfs). Explicit
topics narrow the answer; unknown topics and partitions are left out, as
Kafka does. `tributary topics describe` shows the same sizes in its SIZE
column and in --json. Malformed requests close the connection and leave
the collector serving.
"""

import json
import os
import struct
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Conn, check, note  # noqa: E402


def tributary(*args):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary")] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def describe(port, version, topics):
    flex = version >= 2
    with Conn(port) as c:
        c.send(harness.request(35, version, 35, harness.describe_log_dirs_body(version, topics),
                               flexible=flex))
        return harness.parse_describe_log_dirs(c.response(35, flexible_header=flex), version)


def body(ws):
    col = ws.collector(sets={"auto.create.topics.enable": "false"})
    col.start()
    b = col.broker
    rc, _, err = tributary("topics", "create", "-b", b, "ld-many", "--partitions", "3",
                           "--config", "segment.bytes=4096")
    check(rc == 0, "create ld-many: %s" % err)
    rc, _, err = tributary("topics", "create", "-b", b, "ld-one")
    check(rc == 0, "create ld-one: %s" % err)

    # Small batches into 4 KiB segments: several segments per partition.
    for p, n in ((0, 400), (1, 37), (2, 0)):
        for start in range(0, n, 20):
            lines = "".join("record-%d-%d\n" % (p, i) for i in range(start, min(n, start + 20)))
            subprocess.run(["kcat", "-b", b, "-P", "-t", "ld-many", "-p", str(p)],
                           input=lines.encode(), check=True, timeout=60)
    harness.produce_records(b, "ld-one", [(b"k", b"v" * 1000)] * 5)
    on_disk = harness.log_sizes(col.data_dir)
    segments = len(harness.segment_files(col.partition_dir("ld-many", 0)))
    note("on disk: %s; ld-many-0 has %d segments" % (
        {"%s-%d" % k: v for k, v in sorted(on_disk.items()) if not k[0].startswith("__")}, segments))
    check(segments >= 3, "ld-many-0 rolled into several segments (%d)" % segments)
    check(on_disk[("ld-many", 2)] == 0 and on_disk[("ld-one", 0)] > 5000, "the sizes differ")
    real_dir = os.path.realpath(col.data_dir)

    # kafka-python, through its own codec.
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=10000)
    try:
        version, dirs = harness.kafka_python_describe_log_dirs(admin, 0)
    finally:
        admin.close()
    check(version == 1 and len(dirs) == 1, "kafka-python: one log dir (v%d)" % version)
    err, log_dir, parts = dirs[0]
    check(err == 0 and log_dir == real_dir,
          "kafka-python: no error, the absolute log dir (%r)" % log_dir)
    got = {k: v[0] for k, v in parts.items()}
    check(got == on_disk, "kafka-python: every partition with its size on disk (%s vs %s)"
          % (sorted(set(got.items()) ^ set(on_disk.items()))[:6], len(on_disk)))
    check(all(v[1] == 0 and v[2] is False for v in parts.values()),
          "kafka-python: offset lag 0 and no future replicas")

    # Every version, raw: null topics, then explicit ones.
    st = os.statvfs(col.data_dir)
    for v in range(5):
        top, dirs = describe(col.port, v, None)
        check(top == 0 and len(dirs) == 1, "v%d: one result, no error" % v)
        err, log_dir, total, usable, plist = dirs[0]
        check(err == 0 and log_dir == real_dir, "v%d: log dir %r" % (v, log_dir))
        check({(t, p): s for t, p, s, _lag, _f in plist} == on_disk,
              "v%d: null topics lists every partition with its size" % v)
        if v >= 4:
            check(total == st.f_blocks * st.f_frsize,
                  "v4: TotalBytes is the filesystem's size (%d)" % total)
            check(0 < usable <= total and abs(usable - st.f_bavail * st.f_frsize) < (64 << 20),
                  "v4: UsableBytes is what is free for us (%d)" % usable)
        else:
            check(total == -1 and usable == -1, "v%d: no TotalBytes before v4" % v)
        top, dirs = describe(col.port, v, [("ld-many", [2, 0, 7, 0]), ("nope", [0]),
                                           ("ld-one", [0]), ("ld-many", [1])])
        plist = dirs[0][4]
        check([(t, p, s) for t, p, s, _l, _f in plist] ==
              [(t, p, on_disk[(t, p)]) for t, p in (("ld-many", 0), ("ld-many", 1), ("ld-many", 2),
                                                     ("ld-one", 0))],
              "v%d: explicit topics: only what is held, once each, unknown left out (%s)" % (v, plist))
        top, dirs = describe(col.port, v, [])
        check(dirs[0][4] == [], "v%d: an empty topic list lists nothing" % v)

    # Hostile requests: closed connection, collector still serving.
    cases = [
        ("truncated v0", harness.request(35, 0, 1, struct.pack(">i", 2) + harness.kstring("ld-one"))),
        ("huge topic count v1", harness.request(35, 1, 1, struct.pack(">i", 0x7FFFFFFF))),
        ("huge partition count v0",
         harness.request(35, 0, 1, struct.pack(">i", 1) + harness.kstring("x") + struct.pack(">i", 1 << 30))),
        ("null topic name v0", harness.request(35, 0, 1, struct.pack(">i", 1) + struct.pack(">hi", -1, 0))),
        ("no tags v4", harness.request(35, 4, 1, b"\x01", flexible=True)),
        ("bad compact length v2", harness.request(35, 2, 1, b"\x02\xff\xff\xff\xff\x0f", flexible=True)),
        ("v5", harness.request(35, 5, 1, b"\x00\x00", flexible=True)),
    ]
    for what, data in cases:
        with Conn(col.port) as c:
            c.send(data)
            check(c.closed_by_peer(10), "%s: the collector closes the connection" % what)
        check(col.alive(), "%s: the collector is still running" % what)
    top, dirs = describe(col.port, 4, None)
    check(len(dirs[0][4]) == len(on_disk), "DescribeLogDirs still answers after the hostile requests")

    # The command line: SIZE column and --json.
    rc, out, err = tributary("topics", "describe", "-b", b, "ld-many", "ld-one")
    check(rc == 0, "topics describe: %s" % err)
    rows = [l.split() for l in out.splitlines()]
    check(rows[0][-1] == "SIZE", "topics describe has a SIZE column")
    shown = {(r[0], int(r[1])): int(r[-1]) for r in rows[1:]}
    want = {k: v for k, v in on_disk.items() if k[0] in ("ld-many", "ld-one")}
    check(shown == want, "topics describe shows each partition's size on disk (%s)" % shown)
    rc, out, err = tributary("topics", "describe", "-b", b, "ld-many", "--json")
    desc = json.loads(out)
    check(all(p["size_bytes"] == on_disk[("ld-many", p["partition"])] and
              p["replica_sizes"] == [{"broker": 0, "size_bytes": p["size_bytes"], "offset_lag": 0}]
              for p in desc[0]["partitions"]),
          "topics describe --json: size_bytes and per-replica sizes")
    col.stop()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=180))
