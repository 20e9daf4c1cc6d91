#!/usr/bin/python3
"""Authorization: Kafka's ACLs on a collector with an authorizer.

SCRAM users admin (in super.users), alice and bob log in on a
SASL_PLAINTEXT listener; the PLAINTEXT listener's User:ANONYMOUS starts
with ALL on the cluster from 127.0.0.1 only, from an .acls file written
before the first start (so 'tributary acls' and 'tributary topics' work
there, and the file format is checked). Without ACLs alice is refused:
confluent-kafka's produce fails with TOPIC_AUTHORIZATION_FAILED, its
consumer too, a group join with GROUP_AUTHORIZATION_FAILED, the topic
listing (confluent-kafka, kcat) hides the topics, kafka-python's producer
raises TopicAuthorizationFailedError, and CreateAcls as alice gets
CLUSTER_AUTHORIZATION_FAILED. ACLs made with kafka-python's admin client
(as admin, over SASL) and with 'tributary acls add --producer/--consumer'
then let alice produce (idempotently) and consume in her group, with
confluent-kafka, kafka-python and kcat. A prefixed ACL lets bob read
app-*; a DENY beats an ALLOW; kafka-python's describe_acls and delete_acls
round-trip; DescribeAcls v2 (flexible) and CreateAcls v0/v2 are checked on
the wire, including INVALID_REQUEST for a bad binding and SECURITY_DISABLED
on a collector without an authorizer, and Metadata v8's
authorized_operations (KIP-430); a denied acks=0 Produce closes the
connection, as Kafka does. Denials are logged with principal,
host, operation and resource, at most a burst per window, then a count of
the lines left out. The ACLs survive a SIGKILL and a restart.
"""

import os
import re
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

CLASS = "kafka.security.authorizer.AclAuthorizer"
PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}

# Kafka's codes.
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED, ANY_PATTERN = 3, 4, 1
OP_ANY, OP_ALL, OP_READ, OP_WRITE, OP_DESCRIBE = 1, 2, 3, 4, 8
PERM_ANY, DENY, ALLOW = 1, 2, 3


def tributary(*args):
    r = subprocess.run([os.path.join(harness.builddir(), "tools", "tributary")] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def sasl(user):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": user, "sasl.password": PASSWORDS[user]}


def kp_sasl(user):
    return dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                sasl_plain_username=user, sasl_plain_password=PASSWORDS[user])


def kcat_x(user):
    x = []
    for k, v in sasl(user).items():
        x += ["-X", "%s=%s" % (k, v)]
    return x


# ---- clients ----

def produce_error(broker, topic, user, **extra):
    """Produces one record as 'user'; returns the delivery error code or None."""
    from confluent_kafka import Producer

    conf = dict(sasl(user), **{"bootstrap.servers": broker, "message.timeout.ms": 15000,
                               "log_level": 0})
    conf.update(extra)
    p = Producer(conf)
    result = []
    p.produce(topic, value=b"from " + user.encode(), partition=0,
              on_delivery=lambda err, msg: result.append(err))
    p.flush(30)
    check(len(result) == 1, "%s: produce to %s got no delivery report" % (user, topic))
    return None if result[0] is None else result[0].code()


def consume_error(broker, topic, user, group):
    """
    Reads partition 0 of 'topic' as 'user', subscribed in 'group' (librdkafka
    reports a denied topic only for subscriptions). Returns (error code or
    None, values read).
    """
    from confluent_kafka import Consumer, KafkaError

    conf = dict(sasl(user), **{"bootstrap.servers": broker, "group.id": group,
                               "enable.auto.commit": False, "auto.offset.reset": "earliest",
                               "enable.partition.eof": True, "log_level": 0})
    c = Consumer(conf)
    c.subscribe([topic])
    values, deadline = [], time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return None, values
                return m.error().code(), values
            values.append(m.value())
        fail("%s: reading %s gave neither records to the end nor an error" % (user, topic))
    finally:
        c.close()


def listed_topics(broker, user):
    from confluent_kafka.admin import AdminClient

    md = AdminClient(dict(sasl(user), **{"bootstrap.servers": broker})).list_topics(timeout=15)
    return {name for name in md.topics if not name.startswith("__")}


def named_topic_error(broker, user, topic):
    from confluent_kafka.admin import AdminClient

    md = AdminClient(dict(sasl(user), **{"bootstrap.servers": broker})).list_topics(topic, timeout=15)
    err = md.topics[topic].error
    return None if err is None else err.code()


def kp_admin(broker, user):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=15000, **kp_sasl(user))


def kp_acl(principal, op, perm, rtype, name, pattern="LITERAL"):
    from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             ResourcePattern, ResourceType)

    return ACL(principal=principal, host="*", operation=getattr(ACLOperation, op),
               permission_type=getattr(ACLPermissionType, perm),
               resource_pattern=ResourcePattern(getattr(ResourceType, rtype), name,
                                                getattr(ACLResourcePatternType, pattern)))


def kp_filter(principal=None, rtype="ANY", name=None, pattern="ANY", op="ANY", perm="ANY"):
    from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             ResourcePatternFilter, ResourceType)

    return ACLFilter(principal=principal, host=None, operation=getattr(ACLOperation, op),
                     permission_type=getattr(ACLPermissionType, perm),
                     resource_pattern=ResourcePatternFilter(getattr(ResourceType, rtype), name,
                                                            getattr(ACLResourcePatternType, pattern)))


# ---- raw frames ----

def string16(s):
    return struct.pack(">h", -1) if s is None else harness.kstring(s)


def compact(s):
    return b"\x00" if s is None else harness.compact_string(s)


def binding(version, rtype, name, pattern, principal, host, op, perm):
    flex = version >= 2
    put = compact if flex else string16
    b = struct.pack(">b", rtype) + put(name)
    if version >= 1:
        b += struct.pack(">b", pattern)
    b += put(principal) + put(host) + struct.pack(">bb", op, perm)
    return b


def create_acls_raw(port, version, bindings):
    """CreateAcls on PLAINTEXT; returns [(error, message)]."""
    flex = version >= 2
    body = (harness.uvarint(len(bindings) + 1) if flex else struct.pack(">i", len(bindings)))
    for b in bindings:
        body += binding(version, *b) + (b"\x00" if flex else b"")
    body += b"\x00" if flex else b""
    with harness.Conn(port) as c:
        c.send(harness.request(30, version, 5, body, flexible=flex))
        data = c.response(5, flexible_header=flex)
    pos = 4
    if flex:
        n, pos = harness.read_uvarint(data, pos)
        n -= 1
    else:
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
    out = []
    for _ in range(n):
        (err,) = struct.unpack_from(">h", data, pos)
        pos += 2
        if flex:
            ln, pos = harness.read_uvarint(data, pos)
            msg = None if ln == 0 else data[pos:pos + ln - 1].decode()
            pos += max(ln - 1, 0)
            pos = harness.skip_tags(data, pos)
        else:
            (ln,) = struct.unpack_from(">h", data, pos)
            pos += 2
            msg = None if ln < 0 else data[pos:pos + ln].decode()
            pos += max(ln, 0)
        out.append((err, msg))
    return out


def describe_acls_v2(port, rtype=1, name=None, pattern=ANY_PATTERN):
    """DescribeAcls v2 (flexible) on PLAINTEXT; returns (error, [(type, name, pattern, [acls])])."""
    body = binding(2, rtype, name, pattern, None, None, OP_ANY, PERM_ANY) + b"\x00"
    with harness.Conn(port) as c:
        c.send(harness.request(29, 2, 9, body, flexible=True))
        data = c.response(9, flexible_header=True)

    def cstr(pos):
        ln, pos = harness.read_uvarint(data, pos)
        return (None if ln == 0 else data[pos:pos + ln - 1].decode()), pos + max(ln - 1, 0)

    pos = 4
    (err,) = struct.unpack_from(">h", data, pos)
    _, pos = cstr(pos + 2)
    n, pos = harness.read_uvarint(data, pos)
    res = []
    for _ in range(n - 1):
        (t,) = struct.unpack_from(">b", data, pos)
        rname, pos = cstr(pos + 1)
        (pt,) = struct.unpack_from(">b", data, pos)
        na, pos = harness.read_uvarint(data, pos + 1)
        acls = []
        for _ in range(na - 1):
            principal, pos = cstr(pos)
            host, pos = cstr(pos)
            op, perm = struct.unpack_from(">bb", data, pos)
            pos = harness.skip_tags(data, pos + 2)
            acls.append((principal, host, op, perm))
        pos = harness.skip_tags(data, pos)
        res.append((t, rname, pt, acls))
    return err, res


def metadata_v1_denials(port, topic, count):
    """Sends 'count' Metadata v1 requests for 'topic'; returns the topic error codes."""
    codes = []
    with harness.Conn(port) as c:
        for i in range(count):
            c.send(harness.request(3, 1, 100 + i, struct.pack(">i", 1) + harness.kstring(topic)))
            data = c.response(100 + i)
            codes.append(harness.parse_metadata_v1(data)[0][0])
    return codes


def seed_acls_file(data):
    """The PLAINTEXT listener's User:ANONYMOUS may administer, from 127.0.0.1 only."""
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, ".acls"), "w") as f:
        f.write("# written by the test\n")
        f.write('{"resourceType":"Cluster","patternType":"LITERAL","name":"kafka-cluster",'
                '"acl":{"principal":"User:ANONYMOUS","permissionType":"Allow","operation":"All",'
                '"host":"127.0.0.1"}}\n')


def run(ws):
    from kafka import KafkaProducer
    from kafka.errors import ClusterAuthorizationFailedError, KafkaTimeoutError, TopicAuthorizationFailedError

    pport, sport = harness.free_port(), harness.free_port()
    data = ws.file("acl-data")
    seed_acls_file(data)
    args = [harness.collector_binary(), "--set", "log.dirs=" + data]
    for user, pw in PASSWORDS.items():
        args += ["--add-scram", "SCRAM-SHA-256=[name=%s,password=%s]" % (user, pw)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--add-scram: %s" % r.stderr)

    # A bad authorizer class and a damaged .acls file stop the start-up.
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + ws.file("x"),
                        "--set", "authorizer.class.name=com.example.Nope"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "authorizer.class.name" in r.stderr and "com.example.Nope" in r.stderr,
          "unknown authorizer class: %d %s" % (r.returncode, r.stderr))
    bad = ws.file("bad-data")
    os.makedirs(bad)
    with open(os.path.join(bad, ".acls"), "w") as f:
        f.write("{not json\n")
    r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + bad,
                        "--set", "listeners=PLAINTEXT://127.0.0.1:%d" % harness.free_port(),
                        "--set", "authorizer.class.name=" + CLASS],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and ".acls:1:" in r.stderr, "damaged .acls: %d %s" % (r.returncode, r.stderr))
    note("an unknown authorizer class and a damaged .acls file refuse to start")

    c = ws.collector("acl", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (pport, sport),
        "authorizer.class.name": CLASS,
        "super.users": "User:admin",
        "num.partitions": 1,
        "auto.create.topics.enable": "false",
    }).start()
    sb = "127.0.0.1:%d" % sport

    for t in ("logs", "app-orders", "secret"):
        rc, out, err = tributary("topics", "create", "-b", c.broker, t)
        check(rc == 0, "topics create %s over PLAINTEXT: %d %s" % (t, rc, err))
    harness.produce_records(sb, "logs", [(None, b"log-%d" % i) for i in range(5)], **sasl("admin"))
    harness.produce_records(sb, "app-orders", [(None, b"order-%d" % i) for i in range(3)], **sasl("admin"))
    harness.produce_records(sb, "secret", [(None, b"s")], **sasl("admin"))
    note("admin (super user) produced to logs, app-orders, secret")

    # 1. Nothing allowed for alice yet.
    from confluent_kafka import KafkaError
    code = produce_error(sb, "logs", "alice")
    check(code == KafkaError.TOPIC_AUTHORIZATION_FAILED, "alice produce without ACL: %s" % code)
    code, _ = consume_error(sb, "logs", "alice", "g-alice")
    check(code == KafkaError.GROUP_AUTHORIZATION_FAILED, "alice group join without ACL: %s" % code)
    check(listed_topics(sb, "alice") == set(), "alice sees topics: %s" % listed_topics(sb, "alice"))
    check(listed_topics(sb, "admin") == {"logs", "app-orders", "secret"}, "admin's topic list")
    check(named_topic_error(sb, "alice", "logs") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
          "alice metadata for logs")
    # A topic that does not exist looks the same: no existence leak.
    check(named_topic_error(sb, "alice", "nonexistent") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
          "alice metadata for a missing topic")
    r = subprocess.run(["kcat", "-b", sb, "-L"] + kcat_x("alice"), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and " 0 topics:" in r.stdout, "kcat -L as alice lists no topic")
    r = subprocess.run(["kcat", "-b", sb, "-t", "logs", "-p", "0", "-C", "-o", "beginning", "-e"] + kcat_x("alice"),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "Topic authorization failed" in r.stderr,
          "kcat consume as alice: %d %s" % (r.returncode, r.stderr))
    try:
        # kafka-python 2.0.2 asks again after TOPIC_AUTHORIZATION_FAILED
        # until max_block_ms instead of raising it.
        p = KafkaProducer(bootstrap_servers=sb, max_block_ms=3000, **kp_sasl("alice"))
        p.send("logs", b"x").get(timeout=20)
        fail("kafka-python produce as alice without an ACL succeeded")
    except (TopicAuthorizationFailedError, KafkaTimeoutError):
        pass
    admin_alice = kp_admin(sb, "alice")
    try:
        admin_alice.describe_acls(kp_filter())
        fail("kafka-python describe_acls as alice succeeded")
    except ClusterAuthorizationFailedError:
        pass
    res = admin_alice.create_acls([kp_acl("User:alice", "ALL", "ALLOW", "TOPIC", "logs")])
    failed = res["failed"][0][1] if res["failed"] else None
    check(not res["succeeded"] and (failed is ClusterAuthorizationFailedError
                                    or isinstance(failed, ClusterAuthorizationFailedError)),
          "alice's own CreateAcls: %s" % res)
    admin_alice.close()
    note("alice refused everywhere: produce, consume, group, listing, kcat, kafka-python, CreateAcls")

    # 2. ACLs from kafka-python (admin over SASL) and the tool (PLAINTEXT).
    admin = kp_admin(sb, "admin")
    res = admin.create_acls([kp_acl("User:alice", "WRITE", "ALLOW", "TOPIC", "logs"),
                             kp_acl("User:alice", "DESCRIBE", "ALLOW", "TOPIC", "logs")])
    check(len(res["succeeded"]) == 2 and not res["failed"], "kafka-python create_acls: %s" % res)
    rc, out, err = tributary("acls", "add", "-b", c.broker, "--allow-principal", "User:alice",
                             "--consumer", "--topic", "logs", "--group", "g-alice")
    check(rc == 0 and out.count("Added ACL") == 3, "acls add --consumer: %d %s %s" % (rc, out, err))
    code = produce_error(sb, "logs", "alice", **{"enable.idempotence": True})
    check(code is None, "alice idempotent produce with WRITE: %s" % code)
    code, values = consume_error(sb, "logs", "alice", "g-alice")
    check(code is None and values[:5] == [b"log-%d" % i for i in range(5)] and b"from alice" in values,
          "alice consume in g-alice: %s %s" % (code, values))
    code, _ = consume_error(sb, "logs", "alice", "g-other")
    check(code == KafkaError.GROUP_AUTHORIZATION_FAILED, "alice in another group: %s" % code)
    check(listed_topics(sb, "alice") == {"logs"}, "alice's listing: %s" % listed_topics(sb, "alice"))
    p = KafkaProducer(bootstrap_servers=sb, **kp_sasl("alice"))
    p.send("logs", b"kafka-python alice", partition=0).get(timeout=30)
    p.close()
    r = subprocess.run(["kcat", "-b", sb, "-t", "logs", "-p", "0", "-P"] + kcat_x("alice"),
                       input="kcat alice\n", capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "kcat produce as alice: %s" % r.stderr)
    r = subprocess.run(["kcat", "-b", sb, "-t", "logs", "-p", "0", "-C", "-o", "beginning", "-e", "-q"]
                       + kcat_x("alice"), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "kcat alice" in r.stdout and "kafka-python alice" in r.stdout,
          "kcat consume as alice: %s" % r.stderr)
    check(produce_error(sb, "secret", "alice") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
          "alice may write secret")
    note("alice allowed by ACLs: confluent-kafka (idempotent), kafka-python, kcat; not elsewhere")

    # 3. Prefixed ACLs, and DENY beats ALLOW.
    res = admin.create_acls([kp_acl("User:bob", "READ", "ALLOW", "TOPIC", "app-", "PREFIXED"),
                             kp_acl("User:bob", "ALL", "ALLOW", "TOPIC", "secret"),
                             kp_acl("User:bob", "READ", "DENY", "TOPIC", "secret")])
    check(len(res["succeeded"]) == 3, "create prefixed and deny: %s" % res)
    rc, out, err = tributary("acls", "add", "-b", c.broker, "--allow-principal", "User:bob",
                             "--operation", "Read", "--group", "g-bob")
    check(rc == 0, "acls add --group g-bob: %d %s" % (rc, err))
    code, values = consume_error(sb, "app-orders", "bob", "g-bob")
    check(code is None and values == [b"order-%d" % i for i in range(3)], "bob reads app-orders: %s" % code)
    code, _ = consume_error(sb, "secret", "bob", "g-bob")
    check(code == KafkaError.TOPIC_AUTHORIZATION_FAILED, "bob read secret despite DENY: %s" % code)
    check(produce_error(sb, "secret", "bob") is None, "bob's WRITE on secret (ALL, only READ denied)")
    check(listed_topics(sb, "bob") == {"app-orders", "secret"}, "bob's listing: %s" % listed_topics(sb, "bob"))
    note("prefixed ACL lets bob read app-*; DENY READ beats ALLOW ALL on secret")

    # 4. Describe and delete round-trip (kafka-python: v1).
    acls, err = admin.describe_acls(kp_filter())
    got = {(a.principal, a.resource_pattern.resource_name, a.resource_pattern.pattern_type.name,
            a.operation.name, a.permission_type.name) for a in acls}
    want = {("User:alice", "logs", "LITERAL", "WRITE", "ALLOW"), ("User:alice", "logs", "LITERAL", "READ", "ALLOW"),
            ("User:alice", "g-alice", "LITERAL", "READ", "ALLOW"), ("User:bob", "app-", "PREFIXED", "READ", "ALLOW"),
            ("User:bob", "secret", "LITERAL", "READ", "DENY"), ("User:ANONYMOUS", "kafka-cluster", "LITERAL", "ALL",
                                                                 "ALLOW")}
    check(want <= got and len(got) == 9, "describe_acls: %s" % sorted(got))
    acls, err = admin.describe_acls(kp_filter(rtype="TOPIC", name="app-orders", pattern="MATCH"))
    check([(a.resource_pattern.resource_name, a.operation.name) for a in acls] == [("app-", "READ")],
          "describe MATCH app-orders: %s" % acls)
    out = admin.delete_acls([kp_filter(principal="User:bob", rtype="TOPIC", name="secret", pattern="LITERAL",
                                       perm="DENY")])
    deleted = out[0][1]
    check(len(deleted) == 1 and deleted[0][0].permission_type.name == "DENY", "delete_acls: %s" % out)
    code, values = consume_error(sb, "secret", "bob", "g-bob")
    check(code is None and values == [b"s", b"from bob"], "bob reads secret once the DENY is gone: %s %s" % (code, values))
    admin.close()
    rc, out, err = tributary("acls", "list", "-b", c.broker, "--topic", "secret", "--json")
    check(rc == 0 and '"principal":"User:bob"' in out and "DENY" not in out, "acls list --json: %s" % out)
    note("kafka-python describe_acls (ANY, MATCH) and delete_acls round-trip")

    # 5. The wire: v2 flexible, v0, bad bindings.
    err, res = describe_acls_v2(pport, TOPIC, "logs", LITERAL)
    check(err == 0 and len(res) == 1 and res[0][1] == "logs" and len(res[0][3]) == 3,
          "DescribeAcls v2: %s %s" % (err, res))
    results = create_acls_raw(pport, 0, [(CLUSTER, "other-cluster", LITERAL, "User:x", "*", OP_ALL, ALLOW),
                                         (TOPIC, "", LITERAL, "User:x", "*", OP_READ, ALLOW),
                                         (TOPIC, "t0", LITERAL, "User:x", "*", OP_READ, ALLOW)])
    check([e for e, _ in results] == [42, 42, 0] and "kafka-cluster" in results[0][1],
          "CreateAcls v0 checks: %s" % results)
    results = create_acls_raw(pport, 2, [(TOPIC, "t2", PREFIXED, "User:x", "*", OP_ANY, ALLOW),
                                         (TOPIC, "t2", PREFIXED, "User:x", "*", OP_WRITE, ALLOW)])
    check([e for e, _ in results] == [42, 0], "CreateAcls v2: %s" % results)
    err, res = describe_acls_v2(pport, TOPIC, None, PREFIXED)
    check({r[1] for r in res} == {"app-", "t2"}, "prefixed list after v2 create: %s" % res)
    # Metadata v8 with authorized_operations (KIP-430): ANONYMOUS has ALL on
    # the cluster (every cluster operation's bit) and nothing on logs.
    body = struct.pack(">i", 1) + harness.kstring("logs") + b"\x00\x01\x01"
    with harness.Conn(pport) as conn:
        conn.send(harness.request(3, 8, 11, body))
        data = conn.response(11)
    topic_ops, cluster_ops = struct.unpack(">ii", data[-8:])
    want_ops = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
    check(cluster_ops == want_ops and topic_ops == -2 ** 31,
          "Metadata v8 authorized operations: cluster %#x (want %#x), topic %#x" % (cluster_ops, want_ops, topic_ops))
    check(struct.pack(">h", 29) + harness.kstring("logs") + b"\x00" + struct.pack(">ii", 0, -2 ** 31) in data,
          "Metadata v8: logs not answered with 29, not internal, no partitions")
    # Produce as ANONYMOUS (no WRITE on logs): 29 with acks=1; acks=0 closes.
    batch = harness.record_batch([(None, b"anonymous", [])])
    with harness.Conn(pport) as conn:
        conn.send(harness.request(0, 7, 12, harness.produce_v7_body("logs", 0, batch, acks=1)))
        res = harness.parse_produce_v7_response(conn.response(12))
        check(res[0][2] == 29, "Produce acks=1 without WRITE: %s" % res)
        conn.send(harness.request(0, 7, 13, harness.produce_v7_body("logs", 0, batch, acks=0)))
        check(conn.closed_by_peer(), "Produce acks=0 without WRITE did not close the connection")
    note("DescribeAcls v2, CreateAcls v0 (INVALID_REQUEST for the cluster name and an empty name) and v2")

    # 6. Denials: logged with who, where, what; rate limited.
    codes = metadata_v1_denials(pport, "logs", 60)
    check(codes == [29] * 60, "ANONYMOUS Metadata for logs: %s" % set(codes))
    log = c.log().decode(errors="replace")
    lines = [ln for ln in log.splitlines()
             if "Principal = User:ANONYMOUS is Denied Operation = Describe from host = 127.0.0.1 on resource = "
                "Topic:LITERAL:logs" in ln]
    check(1 <= len(lines) <= 20, "denial lines for 60 denials: %d" % len(lines))
    check(re.search(r"Principal = User:alice is Denied Operation = Describe from host = 127\.0\.0\.1 on resource = "
                    r"Topic:LITERAL:logs", log), "no denial line for alice's first produce")
    time.sleep(5.5)
    metadata_v1_denials(pport, "logs", 1)
    deadline = time.monotonic() + 10
    while b"more denials not logged" not in c.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    check(b"more denials not logged" in c.log(), "no count of the denials left out of the log")
    note("60 denials in a burst: %d log lines, then a count of the rest" % len(lines))

    # 7. A crash and a restart keep the ACLs.
    c.kill()
    c.restart()
    rc, out, err = tributary("acls", "list", "-b", c.broker)
    check(rc == 0 and "name=app-, patternType=PREFIXED" in out and "User:alice" in out,
          "acls after restart: %d %s %s" % (rc, out, err))
    code, values = consume_error(sb, "logs", "alice", "g-alice")
    check(code is None, "alice after restart: %s" % code)
    code, _ = consume_error(sb, "logs", "bob", "g-bob")
    check(code == KafkaError.TOPIC_AUTHORIZATION_FAILED, "bob on logs after restart: %s" % code)
    rc, out, err = tributary("acls", "remove", "-b", c.broker, "--topic", "logs")
    check(rc == 0 and out.count("Removed ACL") == 3, "acls remove --topic logs: %d %s %s" % (rc, out, err))
    check(produce_error(sb, "logs", "alice") == KafkaError.TOPIC_AUTHORIZATION_FAILED,
          "alice writes logs after the removal")
    note("ACLs survive SIGKILL and restart; removal takes effect at once")
    c.stop()

    # 8. No authorizer: the ACL APIs answer SECURITY_DISABLED.
    plain = ws.collector("noauth").start()
    err, _ = describe_acls_v2(plain.port)
    check(err == 54, "DescribeAcls without an authorizer: %d" % err)
    results = create_acls_raw(plain.port, 1, [(TOPIC, "t", LITERAL, "User:x", "*", OP_READ, ALLOW)])
    check(results[0][0] == 54, "CreateAcls without an authorizer: %s" % results)
    rc, out, err = tributary("acls", "list", "-b", plain.broker)
    check(rc == 1 and "SECURITY_DISABLED" in err and "authorizer.class.name" in err,
          "acls list without an authorizer: %d %s" % (rc, err))
    note("SECURITY_DISABLED without an authorizer")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=240))
