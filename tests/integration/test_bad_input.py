#!/usr/bin/python3
"""Hostile and malformed requests over raw sockets.

Each case sends bytes no well-behaved client would, checks the collector's
answer (a closed connection, or a specific error), and then checks that the
collector is still alive, that a fresh connection still gets an ApiVersions
answer, and that kcat can still produce and consume.
"""

import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Conn, check, fail  # noqa: E402

TOPIC = "bad-input-it"


class State:
    produced = 0  # records kcat has produced to TOPIC
    appended = 0  # records appended by hand-built Produce requests


def still_serving(col, st, what):
    check(col.alive(), "%s: the collector is still running" % what)
    err, keys = harness.api_versions_v0(col.port, correlation_id=4242)
    check(err == 0 and 18 in keys and 0 in keys, "%s: a fresh connection gets ApiVersions v0" % what)
    line = b"after-%d:%s" % (st.produced, what.encode())
    p = subprocess.run(["kcat", "-b", col.broker, "-P", "-t", TOPIC, "-p", "0", "-K:"],
                       input=line + b"\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        fail("%s: kcat -P failed: %s" % (what, p.stdout.decode(errors="replace")))
    st.produced += 1
    total = st.produced + st.appended
    p = subprocess.run(["kcat", "-b", col.broker, "-C", "-t", TOPIC, "-p", "0", "-o", "-1", "-e", "-q",
                        "-f", r"%o %k:%s\n"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    want = b"%d %s\n" % (total - 1, line)
    check(p.returncode == 0 and p.stdout == want,
          "%s: kcat reads back the record just produced at offset %d (%r)" % (what, total - 1, p.stdout))


def expect_closed(conn, what):
    check(conn.closed_by_peer(10), "%s: the collector closed the connection" % what)


def send_expect_closed(col, data, what, shut_wr=False):
    """Sends 'data' on a fresh connection; the collector must close it."""
    with Conn(col.port) as c:
        try:
            c.send(data)
            if shut_wr:
                c.sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            check(True, "%s: the collector closed the connection while we sent" % what)
            return
        expect_closed(c, what)


def send_expect_closed_or_error(col, data, corr, what):
    """Like send_expect_closed, but a Produce answer with only errors is fine too."""
    with Conn(col.port) as c:
        try:
            c.send(data)
            body = c.response(corr)
        except (ConnectionError, socket.timeout, OSError) as e:
            check(True, "%s: connection closed (%s)" % (what, type(e).__name__))
            return
        try:
            res = harness.parse_produce_v7_response(body)
        except (struct.error, UnicodeDecodeError, ValueError):
            fail("%s: unparsable answer %r" % (what, body[:64]))
        check(all(r[2] != 0 for r in res), "%s: answered with errors only %r" % (what, res))


def list_offset_latest(col):
    with Conn(col.port) as c:
        c.send(harness.request(2, 1, 77, harness.list_offsets_v1_body(TOPIC, 0, -1)))
        res = harness.parse_list_offsets_v1_response(c.response(77))
    if len(res) != 1 or res[0][2] != 0:
        fail("ListOffsets v1: unexpected answer %r" % res)
    return res[0][4]


def run(ws):
    col = ws.collector(sets={"num.partitions": "1", "auto.create.topics.enable": "true"}).start()
    st = State()
    still_serving(col, st, "baseline")

    # Plain garbage: an HTTP request reads as a 1.2 GB frame size.
    send_expect_closed(col, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "an HTTP request")
    still_serving(col, st, "http-garbage")

    send_expect_closed(col, bytes((i * 131 + 7) % 256 for i in range(4096)), "4 KiB of random bytes")
    still_serving(col, st, "random-bytes")

    send_expect_closed(col, struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 64, "a frame of size 0x7fffffff")
    still_serving(col, st, "oversized-frame")

    send_expect_closed(col, struct.pack(">i", -16) + b"\x00" * 16, "a frame of negative size")
    still_serving(col, st, "negative-size")

    send_expect_closed(col, struct.pack(">i", 0), "a frame of size 0")
    still_serving(col, st, "zero-size")

    send_expect_closed(col, harness.request(1000, 0, 5, b"\x00" * 8), "an unknown API key (1000)")
    still_serving(col, st, "unknown-api-key")

    send_expect_closed(col, harness.request(3, 99, 6, b"\x00" * 8), "an unsupported Metadata version (99)")
    still_serving(col, st, "unsupported-version")

    # ApiVersions v99: a v0-format body with UNSUPPORTED_VERSION and key 18.
    with Conn(col.port) as c:
        body = harness.compact_string("tributary-it") + harness.compact_string("0.0") + b"\x00"
        c.send(harness.request(18, 99, 7, body, flexible=True))
        resp = c.response(7)
        err, keys = harness.parse_api_versions_v0(resp)
        check(err == 35, "ApiVersions v99: error %d (expected 35 UNSUPPORTED_VERSION)" % err)
        check(18 in keys and keys[18][0] == 0, "ApiVersions v99: ApiKeys has key 18 %s" % (keys.get(18),))
        check(len(resp) == 6 + 6 * len(keys), "ApiVersions v99: the body is exactly the v0 format")
    still_serving(col, st, "api-versions-v99")

    # Produce v7, by hand: a good batch first (checks the encoder), then a bad CRC.
    before = list_offset_latest(col)
    check(before == st.produced, "ListOffsets v1 latest = %d" % before)
    with Conn(col.port) as c:
        batch = harness.record_batch([(b"hand", b"built", [("h", b"1")])])
        c.send(harness.request(0, 7, 8, harness.produce_v7_body(TOPIC, 0, batch)))
        res = harness.parse_produce_v7_response(c.response(8))
        check(res == [(TOPIC, 0, 0, before)], "Produce v7 with a good batch: %r" % res)
    st.appended += 1
    with Conn(col.port) as c:
        batch = harness.record_batch([(b"bad", b"crc", [])] * 3, corrupt_crc=True)
        c.send(harness.request(0, 7, 9, harness.produce_v7_body(TOPIC, 0, batch)))
        res = harness.parse_produce_v7_response(c.response(9))
        check(len(res) == 1 and res[0][2] == 2, "Produce v7 with a bad CRC: error CORRUPT_MESSAGE (2): %r" % res)
        # The connection stays usable after a per-partition error.
        c.send(harness.request(18, 0, 10, b""))
        err, _ = harness.parse_api_versions_v0(c.response(10))
        check(err == 0, "the same connection still answers after the error")
    after = list_offset_latest(col)
    check(after == before + 1, "nothing was appended for the bad batch (latest offset %d)" % after)
    still_serving(col, st, "bad-crc")

    # A batch whose length field runs past the end of the record set.
    after = list_offset_latest(col)
    with Conn(col.port) as c:
        batch = bytearray(harness.record_batch([(b"k", b"v", [])]))
        struct.pack_into(">i", batch, 8, len(batch) + 100)
        c.send(harness.request(0, 7, 11, harness.produce_v7_body(TOPIC, 0, bytes(batch))))
        try:
            res = harness.parse_produce_v7_response(c.response(11))
            check(len(res) == 1 and res[0][2] != 0, "Produce v7 with a batch length past the end: error %r" % res)
        except (ConnectionError, socket.timeout, OSError) as e:
            check(True, "Produce v7 with a batch length past the end: connection closed (%s)" % e)
    check(list_offset_latest(col) == after, "nothing was appended for the overlong batch")
    still_serving(col, st, "overlong-batch")

    # Produce v7 whose topics array count is negative (other than -1 null).
    body = harness.kstring(None) + struct.pack(">hi", 1, 10000) + struct.pack(">i", -7)
    send_expect_closed_or_error(col, harness.request(0, 7, 12, body), 12, "Produce v7 with topic count -7")
    still_serving(col, st, "negative-array-count")

    # Produce v7 with a huge partition count and nothing behind it.
    body = harness.kstring(None) + struct.pack(">hi", 1, 10000)
    body += struct.pack(">i", 1) + harness.kstring(TOPIC) + struct.pack(">i", 0x7FFFFFF0)
    send_expect_closed_or_error(col, harness.request(0, 7, 13, body), 13,
                                "Produce v7 with partition count 0x7ffffff0 and nothing behind it")
    still_serving(col, st, "huge-array-count")

    # DescribeLogDirs: a flexible body cut inside a topic, and a classic one
    # with a huge partition count and nothing behind it.
    body = harness.describe_log_dirs_body(4, [(TOPIC, [0, 1, 2])])
    send_expect_closed(col, harness.request(35, 4, 16, body[:-6], flexible=True),
                       "a DescribeLogDirs v4 body cut inside a topic")
    still_serving(col, st, "describe-log-dirs-cut")
    body = struct.pack(">i", 1) + harness.kstring(TOPIC) + struct.pack(">i", 0x7FFFFFF0)
    send_expect_closed(col, harness.request(35, 1, 17, body),
                       "DescribeLogDirs v1 with partition count 0x7ffffff0 and nothing behind it")
    still_serving(col, st, "describe-log-dirs-huge-count")

    # A complete frame whose body stops in the middle of a field.
    after = list_offset_latest(col)
    full = harness.produce_v7_body(TOPIC, 0, harness.record_batch([(b"k", b"v", [])]))
    send_expect_closed(col, harness.request(0, 7, 14, full[:20]), "a Produce v7 body cut after 20 bytes")
    check(list_offset_latest(col) == after, "nothing was appended for the cut body")
    still_serving(col, st, "truncated-body")

    # A frame that promises more bytes than the client ever sends.
    msg = harness.request(18, 0, 15, b"")
    send_expect_closed(col, struct.pack(">i", 1000) + msg[4:], "a frame cut short by the client closing its side",
                       shut_wr=True)
    still_serving(col, st, "short-frame")

    # Many connections opened and dropped at once.
    conns = []
    try:
        for _ in range(200):
            conns.append(Conn(col.port))
        for i, c in enumerate(conns):
            c.send(harness.request(18, 0, i, b"")[: 1 + i % 12])
    finally:
        for c in conns:
            c.close()
    time.sleep(0.2)
    still_serving(col, st, "200-dropped-connections")

    # Pipelined requests on one connection come back in order.
    with Conn(col.port) as c:
        c.send(b"".join(harness.request(18, 0, 100 + i, b"") for i in range(50)))
        for i in range(50):
            err, _ = harness.parse_api_versions_v0(c.response(100 + i))
            if err != 0:
                fail("pipelined ApiVersions %d: error %d" % (i, err))
        check(True, "50 pipelined ApiVersions requests answered in order")

    # Client-chosen ids with control and high bytes reach the log escaped
    # (\xNN), so no client can end a log line early, forge one, or send
    # escape sequences to whoever tails the log.
    bad = b"grp\x7f\xff\n2026-01-01T00:00:00.000Z ERROR forged\x1b[31m"
    client = b"cli\x7f\xff\n\x1b"
    rest = (struct.pack(">i", 10000) + harness.kstring(b"") + harness.kstring("consumer") +
            struct.pack(">i", 1) + harness.kstring("range") + struct.pack(">i", 0))
    with Conn(col.port, timeout=30) as c:
        c.send(harness.request(11, 0, 7, harness.kstring(bad) + rest, client_id=client))
        (err,) = struct.unpack_from(">h", c.response(7))
        check(err == 0, "JoinGroup with control bytes in its group and client ids: error %d" % err)
        # A member id the group never gave out: refused, and logged escaped if at all.
        damaged = rest.replace(harness.kstring(b""), harness.kstring(b"m\x7f\xff\n\x1b"), 1)
        c.send(harness.request(11, 0, 8, harness.kstring(bad) + damaged, client_id=client))
        try:
            c.response(8)
        except ConnectionError:
            pass  # refused as corrupt: closing is an answer too
    time.sleep(0.5)
    log = col.log()
    check(b"grp\\x7f\\xff\\x0a2026-01-01T00:00:00.000Z ERROR forged\\x1b[31m" in log,
          "the group id is logged escaped")
    check(b"cli\\x7f\\xff\\x0a\\x1b-" in log, "the member id made from the client id is logged escaped")
    raw = sorted(b for b in set(log) if (b < 0x20 and b != 0x0a) or b >= 0x7f)
    check(not raw, "no raw control or high bytes in the log (found %r)" % raw)
    check(b"\n2026-01-01T00:00:00.000Z ERROR forged" not in log, "no forged log line")
    still_serving(col, st, "escaped-ids")

    total = st.produced + st.appended
    p = subprocess.run(["kcat", "-b", col.broker, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e", "-q",
                        "-f", r"%k\n"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    keys = p.stdout.split()
    check(len(keys) == total and keys.count(b"hand") == 1 and b"bad" not in keys,
          "the topic holds exactly the %d good records" % total)


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=300))
