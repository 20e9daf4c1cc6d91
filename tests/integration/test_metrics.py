#!/usr/bin/python3
"""The collector's HTTP listener (http.listener): /metrics, /healthz and
/readyz.

- A collector with http.listener on a free port; confluent-kafka produces
  N records to two topics, and a consumer in a group reads and commits M
  of them. /metrics then passes Debian's `promtool check metrics`, counts
  the Produce and Fetch requests, the records and bytes in per topic, the
  bytes out, the partitions' log end offsets, and the group's lag (N - M,
  what the consumer left). /healthz and /readyz answer 200.
- A real Prometheus scrapes it and answers a query for the records-in
  counter with the number produced; the alert rules of docs/operations.md
  pass `promtool check rules`.
- Rolls, fsyncs, retention and compaction are counted: a topic with small
  segments, flush.messages=1 and retention.bytes, and a compacted topic
  with one key written many times.
- Errors are counted per API and error code: a Produce to a partition that
  does not exist counts UNKNOWN_TOPIC_OR_PARTITION (3).
- The default port taken (another process on it): the collector warns and
  runs without the listener. An http.listener set explicitly that cannot
  be bound, or that does not parse, is a start-up error naming the setting.
- In a cluster, before the broker has registered in ZooKeeper (here: none
  is reachable), /readyz answers 503 while /healthz answers 200.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import harness

N = 300  # records produced to the first topic
M = 120  # of which the group consumes and commits
TOPIC = "metrics-a"
GROUP = "metrics-group"
DEFAULT_PORT = 9644


def get(port, path, timeout=10):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse(text):
    """{(name, frozenset(labels)): value} of a text-format exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = frozenset()
        if "{" in head:
            name, rest = head.split("{", 1)
            pairs = []
            for part in rest.rstrip("}").split('",'):
                k, v = part.split('="', 1)
                pairs.append((k, v.rstrip('"')))
            labels = frozenset(pairs)
        else:
            name = head
        out[(name, labels)] = float(value)
    return out


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        harness.fail("no sample %s%s in /metrics" % (name, labels))
    return samples[key]


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        if harness.in_distcheck():
            print("SKIP: test_metrics: %s missing (apt-get install prometheus)" % name)
            raise SystemExit(77)
        harness.fail("%s missing (apt-get install prometheus, or scripts/setup.sh --tests)" % name)
    return path


def consume_and_commit(broker):
    """A group member reads M records of TOPIC and commits offset M."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": GROUP,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    })
    try:
        c.subscribe([TOPIC])
        got = 0
        deadline = time.monotonic() + 60
        while got < M:
            if time.monotonic() > deadline:
                harness.fail("the group consumed only %d of %d records" % (got, M))
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            got += 1
        c.commit(offsets=[TopicPartition(TOPIC, 0, M)], asynchronous=False)
    finally:
        c.close()


def log_work(c, http_port):
    """
    Small segments make the log roll; flush.messages=1 fsyncs every append;
    retention.bytes deletes the oldest segments; a compacted topic with one
    key written many times is cleaned: each shows in its counter.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": c.broker})
    futures = admin.create_topics([
        NewTopic("metrics-retained", 1, 1, config={
            "segment.bytes": "1024", "retention.bytes": "2048", "flush.messages": "1"}),
        NewTopic("metrics-compacted", 1, 1, config={
            "cleanup.policy": "compact", "segment.bytes": "1024",
            "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0"}),
    ])
    for f in futures.values():
        f.result(30)
    # One batch a call: a segment holds few of them.
    for i in range(30):
        harness.produce_records(c.broker, "metrics-retained", [(None, b"r" * 200)])
        harness.produce_records(c.broker, "metrics-compacted", [(b"same-key", b"v%d" % i + b"c" * 200)])
    wanted = ("tributary_log_segment_rolls_total", "tributary_log_fsyncs_total",
              "tributary_retention_deleted_segments_total", "tributary_retention_deleted_bytes_total",
              "tributary_compactions_total", "tributary_compaction_removed_records_total")
    deadline = time.monotonic() + 60
    while True:
        s = parse(get(http_port, "/metrics")[1])
        missing = [w for w in wanted if value(s, w) <= 0]
        if not missing:
            harness.note("log work: " + ", ".join("%s %d" % (w, value(s, w)) for w in wanted))
            return
        if time.monotonic() > deadline:
            harness.fail("still zero after 60 s: %s" % ", ".join(missing))
        time.sleep(0.5)


def check_promtool(text):
    r = subprocess.run([require_tool("promtool"), "check", "metrics"], input=text,
                       capture_output=True, text=True)
    harness.check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                  "promtool check metrics: status %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    harness.note("promtool check metrics: clean")


def check_alert_rules(ws):
    """The rule file in docs/operations.md passes `promtool check rules`."""
    with open(os.path.join(harness.srcdir(), "docs", "operations.md")) as f:
        doc = f.read()
    section = doc[doc.index("## 8. Alerts"):]
    start = section.index("    groups:")
    lines = []
    for line in section[start:].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    path = ws.file("rules.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([require_tool("promtool"), "check", "rules", path], capture_output=True, text=True)
    harness.check(r.returncode == 0, "promtool check rules (docs/operations.md): %s%s" % (r.stdout, r.stderr))


def check_prometheus(ws, http_port):
    """A real Prometheus scrapes the collector; its query answers N."""
    prom = require_tool("prometheus")
    port = harness.free_port()
    cfg = ws.file("prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: tributary\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % http_port)
    log = open(ws.file("prometheus.stderr"), "wb")
    proc = subprocess.Popen([prom, "--config.file=" + cfg,
                             "--storage.tsdb.path=" + ws.file("prometheus-data"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ws.path)
    ws.on_close(lambda show: (proc.kill(), proc.wait()))
    query = 'tributary_topic_records_in_total{topic="%s"}' % TOPIC
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    deadline = time.monotonic() + 90
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            harness.fail("prometheus exited with status %d" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                last = json.loads(r.read().decode())
            result = last["data"]["result"]
            if result and float(result[0]["value"][1]) == N:
                harness.note("prometheus: %s = %s" % (query, result[0]["value"][1]))
                return
        except (urllib.error.URLError, ConnectionError, OSError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    harness.fail("prometheus never answered %s = %d (last answer %r)" % (query, N, last))


def hold_default_port():
    """A socket listening on 127.0.0.1:9644, or None if another process has it."""
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", DEFAULT_PORT))
            s.listen(1)
            return s
        except OSError:
            s.close()
            if harness.port_accepts(DEFAULT_PORT):
                return None  # somebody else's: taken all the same
            time.sleep(0.2)
    return None


def start_fails(ws, name, sets):
    """Starts a collector that must exit with status 2; returns its log."""
    c = ws.collector(name, sets=sets)
    c.port = harness.free_port()
    c.spawn(c.argv())
    try:
        status = c.proc.wait(30)
    except subprocess.TimeoutExpired:
        c.kill()
        harness.fail("%s kept running with %s" % (name, sets))
    log = c.log().decode(errors="replace")
    harness.check(status == 2, "%s: exit status %d, expected 2; log:\n%s" % (name, status, log))
    harness.check("http.listener" in log, "%s: the error does not name http.listener:\n%s" % (name, log))
    return log


def body(ws):
    require_tool("promtool")
    require_tool("prometheus")
    http_port = harness.free_port()
    c = ws.collector(sets={"http.listener": "127.0.0.1:%d" % http_port,
                           "num.partitions": "1",
                           "log.retention.check.interval.ms": "300",
                           "log.cleaner.backoff.ms": "300"}).start()

    status, text = get(http_port, "/healthz")
    harness.check(status == 200 and text.strip() == "ok", "/healthz: %d %r" % (status, text))
    status, text = get(http_port, "/readyz")
    harness.check(status == 200, "/readyz of a serving collector: %d %r" % (status, text))
    status, _ = get(http_port, "/nothing")
    harness.check(status == 404, "/nothing: %d" % status)

    harness.produce_records(c.broker, TOPIC, [(b"k%d" % i, b"value-%d" % i) for i in range(N)])
    harness.produce_records(c.broker, "metrics-b", [(None, b"x" * 100)] * 7)
    consume_and_commit(c.broker)
    # A Produce to a partition that does not exist: error code 3.
    with harness.Conn(c.port) as conn:
        batch = harness.record_batch([(None, b"nowhere", [])])
        conn.send(harness.request(0, 7, 9, harness.produce_v7_body(TOPIC, 5, batch)))
        answer = harness.parse_produce_v7_response(conn.response(9))
    harness.check(answer[0][2] == 3, "Produce to %s-5: %r" % (TOPIC, answer))

    log_work(c, http_port)

    status, text = get(http_port, "/metrics")
    harness.check(status == 200, "/metrics: %d" % status)
    check_promtool(text)
    s = parse(text)
    harness.check(value(s, "tributary_topic_records_in_total", topic=TOPIC) == N,
                  "records in of %s: %s, produced %d" % (TOPIC, value(s, "tributary_topic_records_in_total", topic=TOPIC), N))
    harness.check(value(s, "tributary_topic_records_in_total", topic="metrics-b") == 7, "records in of metrics-b")
    size = value(s, "tributary_log_size_bytes", topic=TOPIC, partition="0")
    harness.check(value(s, "tributary_topic_bytes_in_total", topic=TOPIC) == size,
                  "bytes in of %s (%s) differ from its log size (%s)" % (TOPIC, value(s, "tributary_topic_bytes_in_total", topic=TOPIC), size))
    harness.check(value(s, "tributary_topic_bytes_out_total", topic=TOPIC) > 0, "no bytes out of %s" % TOPIC)
    harness.check(value(s, "tributary_log_end_offset", topic=TOPIC, partition="0") == N, "log end offset")
    harness.check(value(s, "tributary_high_watermark", topic=TOPIC, partition="0") == N, "high watermark")
    lag = value(s, "tributary_consumer_group_lag", group=GROUP, topic=TOPIC, partition="0")
    harness.check(lag == N - M, "lag of %s: %s, expected %d" % (GROUP, lag, N - M))
    harness.check(value(s, "tributary_requests_total", api="Produce") >= 2, "Produce requests")
    harness.check(value(s, "tributary_requests_total", api="Fetch") >= 1, "Fetch requests")
    harness.check(value(s, "tributary_requests_total", api="OffsetCommit") >= 1, "OffsetCommit requests")
    harness.check(value(s, "tributary_request_duration_seconds_count", api="Produce")
                  == value(s, "tributary_requests_total", api="Produce"), "Produce latency count")
    harness.check(value(s, "tributary_request_errors_total", api="Produce", error_code="3") >= 1,
                  "the Produce to a missing partition was not counted as error 3")
    harness.check(value(s, "tributary_connections_opened_total") >= 3, "connections opened")
    harness.check(value(s, "process_resident_memory_bytes") > 0, "process_resident_memory_bytes")
    harness.check(0 < value(s, "process_open_fds") < value(s, "process_max_fds"), "process_open_fds")
    harness.check(value(s, "tributary_ready") == 1, "tributary_ready")

    check_prometheus(ws, http_port)
    check_alert_rules(ws)

    # The default port taken: a warning, and the collector runs.
    held = hold_default_port()
    try:
        d = ws.collector("default-taken").start()
        log = d.log().decode(errors="replace")
        harness.check("http.listener" in log and "running without metrics" in log,
                      "no warning about the default port:\n%s" % log)
        harness.produce_records(d.broker, TOPIC, [(None, b"still serving")])
        d.stop()
    finally:
        if held is not None:
            held.close()
    # Set explicitly, a port taken stops start-up.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        start_fails(ws, "explicit-taken", {"http.listener": "127.0.0.1:%d" % taken.getsockname()[1]})
    start_fails(ws, "explicit-bad", {"http.listener": "no-port-here"})

    # Not ready before registering in a cluster (no ZooKeeper to reach).
    zk_port = harness.free_port()
    r_http = harness.free_port()
    r = ws.collector("unregistered", sets={
        "http.listener": "127.0.0.1:%d" % r_http,
        "zookeeper.connect": "127.0.0.1:%d" % zk_port,
        "broker.id": "1",
    }).start()
    status, text = get(r_http, "/readyz")
    harness.check(status == 503 and "registered" in text, "/readyz before registration: %d %r" % (status, text))
    status, _ = get(r_http, "/healthz")
    harness.check(status == 200, "/healthz before registration: %d" % status)
    r.stop(check_clean=False)


if __name__ == "__main__":
    raise SystemExit(harness.main(body))
