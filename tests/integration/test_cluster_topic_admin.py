#!/usr/bin/python3
"""CreateTopics and DeleteTopics answer when the broker asked knows the change.

Three collectors on a real ZooKeeper, each with a single network thread
(num.network.threads=1): the controller's LeaderAndIsr and UpdateMetadata
to a broker arrive on the same thread as the admin request waiting for
them, so a broker that held its thread while waiting would answer late,
with metadata that does not show the change yet. Raw CreateTopics v2 and
DeleteTopics v1 requests go to every broker in turn (the controller
included); each must answer without error, and a Metadata request to the
same broker right after the answer must show the topic with a leader for
every partition (create) or not at all (delete). Then the same with one
broker SIGSTOPped: a broker that is alive still answers.
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402

PARTITIONS = 3


def create_v2(port, topic, rf, timeout_ms):
    body = struct.pack(">i", 1) + harness.kstring(topic)
    body += struct.pack(">ihii", PARTITIONS, rf, 0, 0)
    body += struct.pack(">ib", timeout_ms, 0)
    with harness.Conn(port, timeout=timeout_ms / 1000.0 + 20) as c:
        c.send(harness.request(19, 2, 7, body))
        data = c.response(7)
    pos = 4  # throttle_time_ms
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    check(n == 1, "one CreateTopics result")
    (ln,) = struct.unpack_from(">h", data, pos)
    pos += 2 + ln
    (err,) = struct.unpack_from(">h", data, pos)
    return err


def delete_v1(port, topic, timeout_ms):
    body = struct.pack(">i", 1) + harness.kstring(topic) + struct.pack(">i", timeout_ms)
    with harness.Conn(port, timeout=timeout_ms / 1000.0 + 20) as c:
        c.send(harness.request(20, 1, 8, body))
        data = c.response(8)
    pos = 4
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    check(n == 1, "one DeleteTopics result")
    (ln,) = struct.unpack_from(">h", data, pos)
    pos += 2 + ln
    (err,) = struct.unpack_from(">h", data, pos)
    return err


def leaders(port, topic):
    """Metadata v1 for 'topic' from this broker: [leader per partition], or
    None when the broker does not list it (v1 does not auto-create)."""
    body = struct.pack(">i", 1) + harness.kstring(topic)
    with harness.Conn(port) as c:
        c.send(harness.request(3, 1, 9, body))
        topics = harness.parse_metadata_v1(c.response(9))
    check(len(topics) == 1, "one topic in Metadata")
    terr, _name, got = topics[0]
    if terr != 0:
        return None
    return [got.get(p, -1) for p in range(PARTITIONS)]


def round_trip(cl, b, topic, rf):
    port = cl.broker(b).port
    t0 = time.monotonic()
    err = create_v2(port, topic, rf, 20000)
    took = time.monotonic() - t0
    check(err == 0, "CreateTopics %s through broker %d: error %d" % (topic, b, err))
    got = leaders(port, topic)
    check(got is not None and all(x >= 0 for x in got),
          "broker %d knows the leaders of %s when it answers (%s, %.2f s)" % (b, topic, got, took))
    t0 = time.monotonic()
    err = delete_v1(port, topic, 20000)
    took = time.monotonic() - t0
    check(err == 0, "DeleteTopics %s through broker %d: error %d" % (topic, b, err))
    check(leaders(port, topic) is None,
          "broker %d no longer lists %s when it answers (%.2f s)" % (b, topic, took))


def body(ws):
    cl = cluster.Cluster(ws, settings={"num.network.threads": "1"}).start()
    ctl = cl.wait_controller()
    note("controller: broker %d" % ctl)
    for b in [ctl] + [x for x in cl.brokers if x != ctl]:
        round_trip(cl, b, "admin-%d" % b, 3)
    # One broker stopped: the others still answer, leaders elected among
    # the live ones (replication factor 2 fits on them).
    stopped = [x for x in cl.brokers if x != ctl][0]
    cl.pause(stopped)
    try:
        for b in [x for x in cl.brokers if x != stopped]:
            port = cl.broker(b).port
            topic = "paused-%d" % b
            err = create_v2(port, topic, 2, 20000)
            check(err == 0, "CreateTopics %s through broker %d while broker %d is stopped: error %d"
                  % (topic, b, stopped, err))
            got = leaders(port, topic)
            check(got is not None and all(x >= 0 for x in got),
                  "broker %d knows the leaders of %s (%s)" % (b, topic, got))
    finally:
        cl.resume(stopped)


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
