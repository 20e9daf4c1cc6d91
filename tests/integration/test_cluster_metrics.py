#!/usr/bin/python3
"""The collector's metrics in a cluster: two collectors on a real ZooKeeper,
each with its own http.listener.

- /readyz answers 200 on both once they have registered.
- A topic with replication factor 2: the leader reports no under-replicated
  and no offline partitions. A follower SIGSTOPped leaves the ISR: the
  leader's tributary_under_replicated_partitions becomes 1 and
  tributary_isr_shrinks_total counts it; after SIGCONT it rejoins:
  tributary_isr_expands_total counts that and under-replicated is 0 again.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, note  # noqa: E402
from test_metrics import get, parse, value  # noqa: E402

TOPIC = "replicated"


def scrape(port):
    status, text = get(port, "/metrics")
    if status != 200:
        harness.fail("/metrics on port %d: %d" % (port, status))
    return parse(text)


def body(ws):
    cluster.skip_without_zookeeper()
    http = {1: harness.free_port(), 2: harness.free_port()}
    cl = cluster.Cluster(ws, n=2, settings={
        "default.replication.factor": "2",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "2",
        "replica.lag.time.max.ms": "2000",
        "zookeeper.session.timeout.ms": "10000",
    }, per_broker={i: {"http.listener": "127.0.0.1:%d" % p} for i, p in http.items()}).start()
    for i, port in http.items():
        cl.wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=30,
                    what="/readyz of broker %d answering 200" % i)

    cl.create_topic(TOPIC, partitions=1, replication=2)
    cl.wait_isr(TOPIC, 0, size=2)
    leader = cl.wait_leader(TOPIC, 0)
    follower = 3 - leader
    s = scrape(http[leader])
    check(value(s, "tributary_under_replicated_partitions") == 0, "no under-replicated partition")
    check(value(s, "tributary_offline_partitions") == 0, "no offline partition")
    shrinks = value(s, "tributary_isr_shrinks_total")

    cl.pause(follower)
    try:
        harness.produce_records(cl.bootstrap, TOPIC, [(None, b"only the leader has it")], acks="1")
        cl.wait_isr(TOPIC, 0, size=1, timeout=20)
        s = cl.wait_for(lambda: (lambda s: s if value(s, "tributary_under_replicated_partitions") >= 1 else None)(scrape(http[leader])),
                        timeout=20, what="the leader reporting an under-replicated partition")
        check(value(s, "tributary_isr_shrinks_total") > shrinks, "the ISR shrink was counted")
        note("under-replicated: %d" % value(s, "tributary_under_replicated_partitions"))
    finally:
        cl.resume(follower)
    cl.wait_isr(TOPIC, 0, size=2, timeout=30)
    s = cl.wait_for(lambda: (lambda s: s if value(s, "tributary_under_replicated_partitions") == 0 else None)(scrape(http[leader])),
                    timeout=20, what="the leader reporting no under-replicated partition")
    check(value(s, "tributary_isr_expands_total") >= 1, "the ISR expand was counted")
    s = scrape(http[follower])
    check(value(s, "tributary_log_end_offset", topic=TOPIC, partition="0") == 1,
          "the follower's copy reaches offset 1")


if __name__ == "__main__":
    raise SystemExit(harness.main(body))
