#!/usr/bin/python3
"""Our consumer client under transactions: `tributary consume` at both
isolation levels and `tributary export`, against records written by
confluent-kafka's transactional producer on one collector.

The topic (2 partitions) gets, in this order: plain records; a committed
transaction; two producers' transactions interleaved, one committed and one
aborted; an aborted transaction; plain records; a transaction left open
(its producer is alive and never ends it); plain records after it.

- read_committed (the default): exactly the plain records before the open
  transaction and the committed transactions' records, each once; nothing
  of the aborted or open transactions, nothing after the open one (it holds
  the last stable offset); no control record; --until-end returns although
  the open transaction never ends.
- read_uncommitted: every record written, each once, no control record.
- the exporter lands exactly the read_committed set, each record once.
"""

import glob
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, note  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

TOPIC = "txn-read"
PARTS = 2
SETS = {
    "transaction.state.log.num.partitions": "3",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "500",
}


def tributary():
    return os.path.join(harness.builddir(), "tools", "tributary")


def run(args, timeout=120):
    return subprocess.run([tributary()] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def vals(prefix, n):
    return ["%s-%d" % (prefix, i) for i in range(n)]


def produce(p, values):
    for i, v in enumerate(values):
        p.produce(TOPIC, value=v.encode(), partition=i % PARTS)


def txn_producer(broker, tid):
    p = Producer({"bootstrap.servers": broker, "transactional.id": tid})
    p.init_transactions(30)
    return p


def write_all(broker):
    """Writes the records; returns (committed view, all, open producer)."""
    plain = Producer({"bootstrap.servers": broker, "linger.ms": 0})
    a = txn_producer(broker, "txn-a")
    b = txn_producer(broker, "txn-b")
    c = txn_producer(broker, "txn-c")

    produce(plain, vals("plain", 10))
    plain.flush(30)

    a.begin_transaction()
    produce(a, vals("a1", 40))
    a.commit_transaction(30)

    # Interleaved: b's aborted records sit between a's committed ones.
    b.begin_transaction()
    produce(b, vals("b1", 30))
    b.flush(30)
    a.begin_transaction()
    produce(a, vals("a2", 20))
    a.flush(30)
    produce(b, vals("b1x", 6))
    b.flush(30)
    a.commit_transaction(30)
    b.abort_transaction(30)

    a.begin_transaction()
    produce(a, vals("a3", 25))
    a.flush(30)  # abort_transaction purges what was not sent yet
    a.abort_transaction(30)

    produce(plain, vals("plain2", 6))
    plain.flush(30)

    c.begin_transaction()
    produce(c, vals("open", 14))
    c.flush(30)

    produce(plain, vals("late", 8))
    plain.flush(30)

    committed = vals("plain", 10) + vals("a1", 40) + vals("a2", 20) + vals("plain2", 6)
    everything = (committed + vals("b1", 30) + vals("b1x", 6) + vals("a3", 25) +
                  vals("open", 14) + vals("late", 8))
    return sorted(committed), sorted(everything), c


def once(recs, who):
    """The sorted values of (partition, offset, value); each offset once."""
    seen = [(p, o) for p, o, _ in recs]
    dups = sorted(k for k in set(seen) if seen.count(k) > 1)
    check(not dups, "%s: no offset twice %s" % (who, dups[:5]))
    return sorted(v for _, _, v in recs)


def consume(broker, isolation):
    args = ["consume", "-b", broker, "-t", TOPIC, "--from-beginning",
            "--until-end", "-F", "%p:%o:%v\\n"]
    if isolation is not None:
        args += ["-X", "isolation.level=" + isolation]
    r = run(args)
    check(r.returncode == 0, "consume (%s) ends with --until-end (%s)"
          % (isolation or "default", r.stderr.decode()[-300:]))
    recs = []
    for line in r.stdout.decode().splitlines():
        part, off, value = line.split(":", 2)
        recs.append((int(part), int(off), value))
    return once(recs, "consume (%s)" % (isolation or "default"))


def export(ws, broker):
    root = ws.file("root")
    r = run(["export", "-b", broker, "-t", TOPIC, "-g", "landing", "--root",
             root, "--format", "jsonl", "--compression", "none",
             "--until-end", "--session-timeout", "1000"], timeout=180)
    check(r.returncode == 0, "export --until-end returns with a transaction "
          "open (%s)" % r.stderr.decode()[-300:])
    recs = []
    for path in glob.glob(os.path.join(root, TOPIC, "dt=*", "hr=*", "*.jsonl")):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                recs.append((rec["partition"], rec["offset"], rec["value"]))
    return once(recs, "export")


def body(ws):
    col = ws.collector(sets=SETS)
    col.start()
    b = col.broker
    r = run(["topics", "create", "-b", b, TOPIC, "--partitions", str(PARTS)])
    check(r.returncode == 0, "topic created: %s" % r.stderr.decode())

    committed, everything, open_producer = write_all(b)
    note("%d records written, %d committed" % (len(everything), len(committed)))

    got = consume(b, None)
    check(got == committed, "default (read_committed): the %d committed "
          "records exactly, no aborted, open or later ones, no markers (%d)"
          % (len(committed), len(got)))
    got = consume(b, "read_committed")
    check(got == committed, "read_committed: the same %d records (%d)"
          % (len(committed), len(got)))
    got = consume(b, "read_uncommitted")
    if got != everything:
        note("missing %s; extra %s" % (sorted(set(everything) - set(got))[:40],
                                       sorted(set(got) - set(everything))[:10]))
    check(got == everything, "read_uncommitted: all %d records once, no "
          "markers (%d)" % (len(everything), len(got)))

    got = export(ws, b)
    check(got == committed, "the exporter lands the %d committed records "
          "exactly once (%d)" % (len(committed), len(got)))

    # Once the open transaction commits, it and the records after it are
    # readable too.
    open_producer.commit_transaction(30)
    got = consume(b, "read_committed")
    want = sorted(committed + vals("open", 14) + vals("late", 8))
    check(got == want, "after the commit: %d records (%d)" % (len(want), len(got)))


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
