#!/usr/bin/python3
"""Where a new topic's replicas go, and generated broker ids.

Four collectors on a real ZooKeeper, brokers 1 and 2 in rack "r1", 3 and 4
in "r2" (so the old round-robin by id, 1-2, 2-3, 3-4, 4-1, would put half
the partitions on one rack):

  1. A topic of 8 partitions with replication factor 2 has every partition
     on both racks, no broker twice, and each broker leads 2 partitions
     (the preferred leaders in /brokers/topics and in Metadata).
  2. CreateTopics with explicit Assignments, from confluent-kafka
     (replica_assignment) and kafka-python (replica_assignments, also
     validate_only), is written to /brokers/topics as given and the first
     replica leads. Bad ones are refused: a gap in the partitions, a
     broker twice, lists of different lengths, a broker that is not live
     (INVALID_REPLICA_ASSIGNMENT, 39), and a partition count or
     replication factor given as well (INVALID_REQUEST, 42).
  3. A fifth collector started with broker.id=-1 (and no rack) takes
     reserved.broker.max.id + 1 = 1001 from /brokers/seqid, registers as
     1001, writes it to meta.properties, and is 1001 again after a restart.
     With it alive, a new topic is refused: not all brokers have a rack.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

RACKS = {1: "r1", 2: "r1", 3: "r2", 4: "r2"}


def assignment(cl, topic):
    """{partition: [replicas]} from /brokers/topics/<topic>, or None."""
    data = cl.znode("/brokers/topics/" + topic)
    if data is None:
        return None
    parts = json.loads(data)["partitions"]
    return {int(p): reps for p, reps in parts.items()}


def leaders(cl, topic, n):
    """Waits until the n partitions of 'topic' have leaders; {partition: leader}."""
    def ok():
        md = cl.metadata(topic)
        if len(md) != n or any(md[p][0] < 0 for p in md):
            return None
        return {p: md[p][0] for p in md}

    return cl.wait_for(ok, 30, "every partition of %s has a leader" % topic)


def confluent_create(cl, topic, replica_assignment):
    """CreateTopics through confluent-kafka; returns the KafkaError or None."""
    from confluent_kafka.admin import NewTopic

    admin = cl.admin()
    # librdkafka sends -1 for the count and the factor with an assignment.
    fs = admin.create_topics([NewTopic(topic, len(replica_assignment),
                                       replica_assignment=replica_assignment)],
                             operation_timeout=30, request_timeout=30)
    try:
        fs[topic].result(30)
        return None
    except Exception as e:  # KafkaException wrapping a KafkaError
        return e.args[0]


def kafka_python_create(cl, topic, num_partitions, rf, assignments, validate_only=False):
    """CreateTopics through kafka-python; returns the KafkaError raised or None."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=cl.bootstrap, request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions, rf, replica_assignments=assignments)],
                            validate_only=validate_only)
        return None
    except KafkaError as e:
        return e
    finally:
        admin.close()


def check_rack_spread(cl):
    cl.create_topic("racked", partitions=8, replication=2)
    a = assignment(cl, "racked")
    check(a is not None and sorted(a) == list(range(8)), "/brokers/topics/racked has 8 partitions")
    for p, reps in sorted(a.items()):
        check(len(reps) == 2 and len(set(reps)) == 2, "partition %d: two distinct replicas %s" % (p, reps))
        check({RACKS[b] for b in reps} == {"r1", "r2"}, "partition %d %s is on both racks" % (p, reps))
    preferred = [a[p][0] for p in range(8)]
    check(all(preferred.count(b) == 2 for b in RACKS), "each broker is the preferred leader of 2 partitions: %s"
          % preferred)
    lead = leaders(cl, "racked", 8)
    counts = {b: list(lead.values()).count(b) for b in RACKS}
    note("racked: assignment %s, leaders per broker %s" % (a, counts))
    check(all(c == 2 for c in counts.values()), "each broker leads 2 partitions")


def check_explicit(cl):
    from confluent_kafka import KafkaError

    want = {0: [1, 2], 1: [2, 3], 2: [3, 4], 3: [4, 1]}
    err = confluent_create(cl, "manual-ck", [want[p] for p in range(4)])
    check(err is None, "confluent-kafka: replica_assignment accepted (%s)" % err)
    check(assignment(cl, "manual-ck") == want, "manual-ck written as given: %s" % assignment(cl, "manual-ck"))
    lead = leaders(cl, "manual-ck", 4)
    check(all(lead[p] == want[p][0] for p in want), "manual-ck: the first replica leads: %s" % lead)
    md = cl.metadata("manual-ck")
    check(all(md[p][1] == want[p] for p in want), "manual-ck: Metadata shows the replicas in order")

    want = {0: [3, 1, 4], 1: [4, 2, 1], 2: [1, 3, 2]}
    err = kafka_python_create(cl, "manual-kp", -1, -1, want, validate_only=True)
    check(err is None, "kafka-python: validate_only with a good assignment (%s)" % err)
    check(assignment(cl, "manual-kp") is None, "validate_only created nothing")
    err = kafka_python_create(cl, "manual-kp", -1, -1, want)
    check(err is None, "kafka-python: replica_assignments accepted (%s)" % err)
    check(assignment(cl, "manual-kp") == want, "manual-kp written as given: %s" % assignment(cl, "manual-kp"))
    lead = leaders(cl, "manual-kp", 3)
    check(all(lead[p] == want[p][0] for p in want), "manual-kp: the first replica leads: %s" % lead)

    bad = [
        ("gap", {0: [1, 2], 2: [2, 3]}, 39, "consecutive 0-based"),
        ("twice", {0: [1, 2], 1: [3, 3]}, 39, "lists broker 3 twice"),
        ("ragged", {0: [1, 2], 1: [3]}, 39, "same number of replicas"),
        ("stranger", {0: [1, 2], 1: [3, 99]}, 39, "Unknown broker 99"),
    ]
    for name, assigned, code, words in bad:
        err = kafka_python_create(cl, "bad-" + name, -1, -1, assigned)
        check(err is not None and err.errno == code and words in str(err),
              "kafka-python %s %s: error %d mentioning %r (got %s)"
              % (name, assigned, code, words, getattr(err, "errno", err)))
        check(assignment(cl, "bad-" + name) is None, "bad-%s not created" % name)
    err = kafka_python_create(cl, "bad-both", 2, -1, {0: [1, 2], 1: [2, 3]})
    check(err is not None and err.errno == 42, "assignments with num_partitions: INVALID_REQUEST (got %s)"
          % getattr(err, "errno", err))
    err = confluent_create(cl, "bad-ck", [[1, 2], [2, 99]])
    check(err is not None and err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT,
          "confluent-kafka: a dead broker in replica_assignment is INVALID_REPLICA_ASSIGNMENT (got %r)" % err)
    check(assignment(cl, "bad-ck") is None, "bad-ck not created")


def meta_broker_id(c):
    with open(os.path.join(c.data_dir, "meta.properties")) as f:
        for line in f:
            if line.startswith("broker.id="):
                return int(line.split("=", 1)[1])
    return None


def check_generated_id(cl):
    from confluent_kafka import KafkaError

    cl.per_broker[5] = {"broker.id": "-1"}
    i = cl.add_broker(wait=False)
    ids = [1, 2, 3, 4, 1001]
    cl.wait_brokers(ids=ids)
    c = cl.broker(i)
    check(meta_broker_id(c) == 1001, "meta.properties of broker.id=-1 says 1001")
    check(b"generated broker id 1001" in c.log(), "the collector logged its generated id")
    check(cl.znode("/brokers/ids/1001") is not None, "/brokers/ids/1001 registered")

    # With 1001 (no rack) alive, the racks are incomplete: Kafka refuses.
    from confluent_kafka.admin import NewTopic
    admin = cl.admin()
    fs = admin.create_topics([NewTopic("mixed", 2, 2)], operation_timeout=30, request_timeout=30)
    try:
        fs["mixed"].result(30)
        fail("a topic was created although broker 1001 has no rack")
    except Exception as e:
        err = e.args[0]
        check(err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT and "Not all brokers have rack" in err.str(),
              "mixed racks: INVALID_REPLICA_ASSIGNMENT, not all brokers have rack information (%s)" % err)

    cl.restart(i)
    cl.wait_brokers(ids=ids)
    check(meta_broker_id(c) == 1001, "still 1001 in meta.properties after a restart")
    check(c.log().count(b"generated broker id") == 1, "no second id was generated")
    check(b"registered as broker 1001" in c.log().split(b"listening on port")[-1],
          "the restarted collector registered as 1001 again")


def body(ws):
    cl = cluster.Cluster(ws, n=4, per_broker={i: {"broker.rack": r} for i, r in RACKS.items()}).start()
    check_rack_spread(cl)
    check_explicit(cl)
    check_generated_id(cl)
    cl.stop_all()


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=300))
