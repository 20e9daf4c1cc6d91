#!/usr/bin/python3
"""Connection limits of the collector.

- An idle connection is closed after connections.max.idle.ms, while a
  connection that keeps sending requests stays open.
- A slow client, one that pipelines Fetch requests but never reads the
  responses, is closed after tributary.socket.write.timeout.ms, the
  collector logs it once with the peer address, and keeps serving others.
- Requests pipelined on one connection are answered in order even when a
  long-polling Fetch sits between them.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, note  # noqa: E402


def fetch_v4_body(topic, partition, offset, max_wait_ms=0, min_bytes=0, part_max=4 << 20):
    t = topic.encode()
    return (struct.pack(">iiiib", -1, max_wait_ms, min_bytes, 64 << 20, 0)
            + struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
            + struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, part_max))


def body(ws):
    col = ws.collector(sets={
        "connections.max.idle.ms": "3000",
        "tributary.socket.write.timeout.ms": "1000",
    })
    col.start()

    # Idle connection: closed after about 3 s.
    with harness.Conn(col.port) as idle:
        idle.send(harness.request(18, 0, 1, b""))
        idle.response(1)
        t0 = time.monotonic()
        closed = idle.closed_by_peer(timeout=10)
        waited = time.monotonic() - t0
        check(closed, "an idle connection is closed")
        check(2.5 <= waited <= 9.0, "idle close after %.1f s (limit 3 s)" % waited)

    # Busy connection: one request every 0.5 s for 5 s keeps it open.
    with harness.Conn(col.port) as busy:
        for i in range(10):
            busy.send(harness.request(18, 0, 100 + i, b""))
            busy.response(100 + i)
            time.sleep(0.5)
        busy.send(harness.request(18, 0, 200, b""))
        err, _keys = harness.parse_api_versions_v0(busy.response(200))
        check(err == 0, "a connection in use outlives the idle limit")

    # Pipelined requests around a long-polling Fetch come back in order.
    harness.produce_records(col.broker, "order", [(b"k", b"v")])
    with harness.Conn(col.port) as conn:
        frames = [harness.request(18, 0, 1, b""),
                  harness.request(1, 4, 2, fetch_v4_body("order", 0, 1, max_wait_ms=800, min_bytes=1)),
                  harness.request(18, 0, 3, b"")]
        t0 = time.monotonic()
        conn.send(b"".join(frames))
        for corr in (1, 2, 3):
            conn.response(corr)  # checks the correlation id
        waited = time.monotonic() - t0
        check(waited >= 0.6, "the parked Fetch held the next response back (%.2f s)" % waited)
        note("ok - 3 pipelined responses in order around a long poll (%.2f s)" % waited)

    # A slow client: 20 MB stored, 40 Fetches of 4 MiB each sent, nothing read.
    value = b"x" * 1000
    harness.produce_records(col.broker, "big", [(None, value)] * 20000)
    slow = socket.create_connection(("127.0.0.1", col.port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for i in range(40):
        slow.sendall(harness.request(1, 4, 1000 + i, fetch_v4_body("big", 0, 0)))
    deadline = time.monotonic() + 20
    logged = False
    while time.monotonic() < deadline:
        if b"client not reading its responses" in col.log():
            logged = True
            break
        time.sleep(0.2)
    check(logged, "the slow client was closed and logged")
    check(col.log().count(b"client not reading its responses") == 1, "logged once")
    check(col.alive(), "the collector is still running")
    slow.close()

    # Everyone else is still served.
    err, keys = harness.api_versions_v0(col.port)
    check(err == 0 and 18 in keys, "ApiVersions after the slow client")
    _lo, _hi, got = harness.read_partition(col.broker, "order")
    check([(k, v) for _o, k, v in got] == [(b"k", b"v")],
          "consume after the slow client (%d records)" % len(got))


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=180))
