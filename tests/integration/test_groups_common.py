#!/usr/bin/python3
"""Shared parts of the consumer-group integration tests.

As a library: produce numbered records, start consumer processes, read
their event logs, and check a group's consumption (every record once, no
partition owned by two members at once, a killed member's partitions
taken over within the session timeout).

As a program it is one consumer process:

    test_groups_common.py CLIENT BROKER GROUP TOPIC OUTFILE

CLIENT is "confluent" (librdkafka) or "kafka-python". The consumer
subscribes, commits synchronously after every record it has written, and
writes one JSON line per event to OUTFILE:

    {"t": wall time, "ev": "assign" | "revoke", "parts": [p, ...]}
    {"t": wall time, "ev": "msg", "p": partition, "o": offset, "v": value}

It runs until SIGTERM (then closes, leaving the group) or SIGKILL.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

SESSION_MS = 6000
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# The consumer process.

class _Out:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def write(self, **ev):
        ev["t"] = time.time()
        self.f.write(json.dumps(ev) + "\n")
        self.f.flush()


def _run_confluent(broker, group, topic, out, stop):
    from confluent_kafka import Consumer, KafkaError

    c = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": group,
            "session.timeout.ms": SESSION_MS,
            "heartbeat.interval.ms": 1000,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )

    def on_assign(consumer, parts):
        out.write(ev="assign", parts=sorted(p.partition for p in parts))

    def on_revoke(consumer, parts):
        out.write(ev="revoke", parts=sorted(p.partition for p in parts))

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop[0]:
        msg = c.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                out.write(ev="error", err=str(msg.error()))
            continue
        out.write(ev="msg", p=msg.partition(), o=msg.offset(), v=msg.value().decode())
        try:
            c.commit(message=msg, asynchronous=False)
        except Exception as e:  # a rebalance in between: the next owner reads it again
            out.write(ev="commit-failed", err=str(e))
    c.close()


def _run_kafka_python(broker, group, topic, out, stop):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata

    c = KafkaConsumer(
        bootstrap_servers=broker,
        group_id=group,
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            out.write(ev="revoke", parts=sorted(tp.partition for tp in revoked))

        def on_partitions_assigned(self, assigned):
            out.write(ev="assign", parts=sorted(tp.partition for tp in assigned))

    c.subscribe([topic], listener=Listener())
    while not stop[0]:
        batches = c.poll(timeout_ms=200)
        for tp, msgs in batches.items():
            for msg in msgs:
                out.write(ev="msg", p=tp.partition, o=msg.offset, v=msg.value.decode())
                try:
                    c.commit({tp: OffsetAndMetadata(msg.offset + 1, None)})
                except Exception as e:
                    out.write(ev="commit-failed", err=str(e))
    c.close()


def consumer_main(argv):
    client, broker, group, topic, path = argv
    out = _Out(path)
    stop = [False]

    def on_term(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    if client == "confluent":
        _run_confluent(broker, group, topic, out, stop)
    else:
        _run_kafka_python(broker, group, topic, out, stop)
    out.write(ev="closed")


# ---------------------------------------------------------------------------
# The test side.

def start_consumer(ws, client, broker, group, topic, name):
    path = ws.file(name + ".events")
    open(path, "w").close()
    if client == "kafkajs":
        argv = ["node", os.path.join(HERE, "test_groups_kafkajs.js"), broker, group, topic, path]
    else:
        argv = ["/usr/bin/python3", os.path.abspath(__file__), client, broker, group, topic, path]
    proc = subprocess.Popen(
        argv,
        stdout=open(ws.file(name + ".stdout"), "w"),
        stderr=subprocess.STDOUT,
        preexec_fn=harness._die_with_parent,
    )
    return {"name": name, "proc": proc, "path": path}


def events(consumer):
    out = []
    with open(consumer["path"]) as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


def stop_consumers(consumers, timeout=20.0):
    for c in consumers:
        if c["proc"].poll() is None:
            c["proc"].send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for c in consumers:
        try:
            c["proc"].wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c["proc"].kill()
            c["proc"].wait()


def produce(broker, topic, start, count, partitions):
    """Produces values "start".."start+count-1", round-robin over partitions."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(start, start + count):
        while True:
            try:
                p.produce(topic, value=str(i).encode(), partition=i % partitions, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
    if p.flush(30) or errors:
        fail("produce failed: %s" % "; ".join(errors[:3]))


def create_topic(broker, topic, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=20)


def consumed(consumers):
    """Values seen, as a list (with repeats), over all consumers."""
    vals = []
    for c in consumers:
        vals.extend(int(e["v"]) for e in events(c) if e["ev"] == "msg")
    return vals


def wait_all_consumed(consumers, want, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if want <= set(consumed(consumers)):
            return
        time.sleep(0.3)
    missing = sorted(want - set(consumed(consumers)))
    fail("%s: %d records never consumed (first: %s)" % (what, len(missing), missing[:10]))


def ownership(consumers, end_time):
    """[(name, partition, start, end)] from assign/revoke events."""
    spans = []
    for c in consumers:
        held = {}
        evs = events(c)
        last = c.get("killed_at", end_time)
        for e in evs:
            if e["ev"] == "assign":
                for p in e["parts"]:
                    held.setdefault(p, e["t"])
            elif e["ev"] in ("revoke", "closed"):
                parts = e.get("parts", list(held))
                for p in parts:
                    if p in held:
                        spans.append((c["name"], p, held.pop(p), e["t"]))
        for p, t in held.items():
            spans.append((c["name"], p, t, last))
    return spans


def check_no_overlap(consumers, end_time):
    spans = ownership(consumers, end_time)
    for i, (n1, p1, s1, e1) in enumerate(spans):
        for n2, p2, s2, e2 in spans[i + 1 :]:
            if p1 == p2 and n1 != n2 and s1 < e2 and s2 < e1:
                fail("partition %d owned by %s [%.3f, %.3f) and %s [%.3f, %.3f) at once"
                     % (p1, n1, s1, e1, n2, s2, e2))
    check(len(spans) > 0, "no partition was owned by two members at once (%d ownership spans)" % len(spans))


def group_scenario(ws, client, extra_sets=None, nconsumers=3, check_assign_events=True):
    """
    The common scenario: NCONSUMERS members of one group and one member of a
    second group on a 6-partition topic; every record consumed exactly once
    in the first group and once in the second; then one member is killed
    with SIGKILL while records keep coming, and its partitions must move to
    the others within the session timeout with nothing skipped.
    """
    sets = {"group.initial.rebalance.delay.ms": "1000", "offsets.topic.num.partitions": "10"}
    sets.update(extra_sets or {})
    col = ws.collector(sets=sets)
    col.start()
    broker = col.broker
    topic, partitions, first = "groups-" + client, 6, 3000
    create_topic(broker, topic, partitions)
    produce(broker, topic, 0, first, partitions)

    members = [start_consumer(ws, client, broker, "g1", topic, "%s-%d" % (client, i)) for i in range(nconsumers)]
    other = start_consumer(ws, client, broker, "g2", topic, client + "-other")
    try:
        wait_all_consumed(members, set(range(first)), 45, "group g1")
        vals = consumed(members)
        check(len(vals) == first and set(vals) == set(range(first)),
              "group g1: all %d records consumed exactly once across %d members" % (first, nconsumers))
        wait_all_consumed([other], set(range(first)), 30, "group g2")
        check(sorted(consumed([other])) == list(range(first)),
              "group g2: its one member received all %d records too" % first)
        owners = [c for c in members if any(e["ev"] == "msg" for e in events(c))]
        check(len(owners) >= 2, "records were spread over %d members" % len(owners))
        if check_assign_events:
            check_no_overlap(members, time.time())

        # Kill a member that owns partitions, keep producing, watch the takeover.
        victim = owners[0]
        victim_parts = set(e["p"] for e in events(victim) if e["ev"] == "msg")
        total, step = first, 300
        for _ in range(3):
            produce(broker, topic, total, step, partitions)
            total += step
            time.sleep(0.3)
        victim["proc"].kill()
        victim["proc"].wait()
        victim["killed_at"] = killed_at = time.time()
        note("killed %s (partitions %s)" % (victim["name"], sorted(victim_parts)))
        for _ in range(4):
            produce(broker, topic, total, step, partitions)
            total += step
            time.sleep(0.5)
        survivors = [c for c in members if c is not victim]
        wait_all_consumed(members, set(range(total)), 45, "group g1 after the kill")
        taken = {}
        for c in survivors:
            for e in events(c):
                if e["ev"] == "msg" and e["p"] in victim_parts and e["t"] > killed_at:
                    taken.setdefault(e["p"], e["t"])
        check(set(taken) == victim_parts,
              "the killed member's partitions %s were taken over by the others" % sorted(victim_parts))
        latest = max(taken.values()) - killed_at
        check(latest < SESSION_MS / 1000.0 + 6,
              "takeover within the session timeout (%.1f s after the kill, session %d ms)" % (latest, SESSION_MS))
        vals = consumed(members)
        dups = len(vals) - len(set(vals))
        check(set(vals) == set(range(total)),
              "nothing skipped: all %d records consumed (%d read twice after the kill)" % (total, dups))
        check(dups <= len(victim_parts) * 2,
              "re-reads bounded by the uncommitted tail of the killed member (%d)" % dups)
        if check_assign_events:
            check_no_overlap(members, time.time())
    finally:
        stop_consumers(members + [other])
    return col


if __name__ == "__main__":
    consumer_main(sys.argv[1:])
