#!/usr/bin/python3
"""The collector's web console and its JSON API (http.listener).

1. A collector without SASL (http.auth=auto: no credentials). With
   confluent-kafka a topic of 3 partitions gets 50, 30 and 20 records, and
   a consumer group whose id carries markup ('<script>...') and whose
   client id carries an <img onerror> commits 10, 30 and 5: lags 40, 0, 15.
   - /api/topics, /api/groups and /api/cluster (urllib) match that state:
     partitions, leaders, ISR, log start and end offsets, high watermarks,
     sizes, committed offsets and lag per partition, the group's total (also
     against /metrics' tributary_consumer_group_lag), the lag history.
   - Headless Chromium loads / at desktop and phone width (390x844): the
     rendered DOM shows the topic, the group with its lag and "no agents
     reporting", and the page is no wider than the window (wide tables
     scroll inside it); the group id and client id appear as text (escaped in the
     DOM dump), and the injected handler never ran. Screenshots are kept in
     the build tree (tests/integration/console-desktop.png,
     console-phone.png) and checked to be PNGs of the requested size.
   - The fleet: when this build serves /api/agents, a real agent shipping
     a file appears in it and on the page (a row per host, its status);
     without it (404) the page says "no agents reporting".
   - Read-only: POST, PUT and DELETE get 405 with "Allow: GET, HEAD"; HEAD
     works; an unknown /api/ path is a JSON 404; an asset answers 304 to
     its ETag; JSON and pages carry nosniff and a Content-Security-Policy.
2. A collector with a SASL_PLAINTEXT listener and an authorizer
   (http.auth=auto turns Basic on): no credentials get 401 with
   "WWW-Authenticate: Basic", a wrong password, an unknown user and
   malformed headers get 401 (the collector keeps serving), the super user
   sees every topic, alice (DESCRIBE on one topic only) sees only it and is
   refused the log (403), /healthz, /readyz and /metrics stay open, and the
   failed logins show in /api/errors. This listener is HTTPS
   (http.listener=https://..., the ssl.keystore.location certificate,
   verified against the test's CA); plain HTTP to it gets no page.

3. Three collectors on a real ZooKeeper (when ZooKeeper can run here),
   each with its own http.listener: every one's /api/cluster lists the
   three brokers and the controller Metadata names; a topic of 3
   partitions with replication factor 3 shows the leaders and ISR that
   Metadata reports, on every broker; with one follower paused (SIGSTOP)
   its partitions show as under-replicated, and the page at phone width
   lists the live brokers and flags the under-replication.

Skips (77) only when chromium is not installed.
"""

import base64
import json
import os
import re
import shutil
import ssl
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

TOPIC = "console-logs"
COUNTS = [50, 30, 20]  # records per partition
COMMITS = [10, 30, 5]  # the group's committed offsets
GROUP = 'console-<script>alert(1)</script>"&'
CLIENT_ID = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
CLASS = "kafka.security.authorizer.AclAuthorizer"
PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret"}
TLS = {}  # port -> ssl.SSLContext of an HTTPS listener


def http(port, path, method="GET", auth=None, header=None, headers=None):
    """(status, headers, body bytes) of one request to the collector."""
    scheme = "https://localhost" if port in TLS else "http://127.0.0.1"
    req = urllib.request.Request("%s:%d%s" % (scheme, port, path), method=method)
    if auth is not None:
        token = base64.b64encode(("%s:%s" % auth).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    if header is not None:
        req.add_header("Authorization", header)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=20, context=TLS.get(port)) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def api(port, path, auth=None):
    status, headers, body = http(port, path, auth=auth)
    check(status == 200, "GET %s: %d %s" % (path, status, body[:200]))
    check(headers.get("Content-Type", "").startswith("application/json"),
          "GET %s: Content-Type %s" % (path, headers.get("Content-Type")))
    return json.loads(body)


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    print("SKIP: test_console: chromium missing (apt-get install chromium, "
          "or scripts/setup.sh --tests)")
    raise SystemExit(77)


def chromium(ws, url, *args):
    """Runs headless Chromium on 'url'; returns its stdout."""
    argv = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
            "--user-data-dir=" + ws.file("chromium-profile"),
            "--virtual-time-budget=8000"] + list(args) + [url]
    r = subprocess.run(argv, capture_output=True, timeout=120, cwd=ws.path)
    if r.returncode != 0:
        fail("chromium %s: status %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout.decode()


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


def artefact_dir():
    d = os.path.join(harness.builddir(), "tests", "integration")
    os.makedirs(d, exist_ok=True)
    return d


def fill(c):
    """The topic, its records, and the group with its commits."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": c.broker})
    for f in admin.create_topics([NewTopic(TOPIC, len(COUNTS), 1)]).values():
        f.result(30)
    for p, n in enumerate(COUNTS):
        harness.produce_records(c.broker, TOPIC, [(None, b"line %d of %d" % (i, p)) for i in range(n)],
                                partition=p)
    consumer = Consumer({
        "bootstrap.servers": c.broker, "group.id": GROUP, "client.id": CLIENT_ID,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "session.timeout.ms": 30000, "fetch.wait.max.ms": 100,
    })
    consumer.subscribe([TOPIC])
    deadline = time.monotonic() + 60
    while not consumer.assignment():
        if time.monotonic() > deadline:
            fail("the consumer got no assignment in 60 s")
        consumer.poll(0.2)
    consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in enumerate(COMMITS)],
                    asynchronous=False)
    note("produced %s to %s; group committed %s" % (COUNTS, TOPIC, COMMITS))
    return consumer


def check_api(c, port):
    topics = {t["name"]: t for t in api(port, "/api/topics")["topics"]}
    check(TOPIC in topics, "/api/topics lacks %s: %s" % (TOPIC, sorted(topics)))
    t = topics[TOPIC]
    check(not t["internal"] and topics["__consumer_offsets"]["internal"], "internal flags: %s" % t)
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    check([p["partition"] for p in parts] == [0, 1, 2], "partitions: %s" % parts)
    for p, n in zip(parts, COUNTS):
        check(p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0] and p["hosted"]
              and not p["under_replicated"], "partition placement: %s" % p)
        check(p["log_start_offset"] == 0 and p["log_end_offset"] == n and p["high_watermark"] == n,
              "partition %d offsets: %s (produced %d)" % (p["partition"], p, n))
        check(p["size_bytes"] > n * 10, "partition %d size %d" % (p["partition"], p["size_bytes"]))

    want_lags = [n - o for n, o in zip(COUNTS, COMMITS)]
    deadline = time.monotonic() + 30
    while True:
        groups = {g["group_id"]: g for g in api(port, "/api/groups")["groups"]}
        g = groups.get(GROUP)
        if g is not None and len(g["partitions"]) == 3 and g["members"]:
            break
        if time.monotonic() > deadline:
            fail("/api/groups: no group %r with 3 partitions and a member: %s" % (GROUP, groups))
        time.sleep(0.5)
    gp = sorted(g["partitions"], key=lambda p: p["partition"])
    check([p["committed_offset"] for p in gp] == COMMITS, "committed: %s" % gp)
    check([p["high_watermark"] for p in gp] == COUNTS, "high watermarks: %s" % gp)
    check([p["lag"] for p in gp] == want_lags, "lags: %s, want %s" % (gp, want_lags))
    check(g["lag"] == sum(want_lags), "total lag %d, want %d" % (g["lag"], sum(want_lags)))
    check(g["state"] == "Stable" and g["protocol_type"] == "consumer", "group state: %s" % g)
    check(any(m["client_id"] == CLIENT_ID for m in g["members"]), "members: %s" % g["members"])
    hist = g["lag_history"]
    check(len(hist) >= 1 and hist[-1][1] == sum(want_lags) and all(len(s) == 2 for s in hist),
          "lag_history: %s" % hist)

    # The same numbers as /metrics (one gatherer for both).
    _, _, metrics = http(port, "/metrics")
    for p, lag in enumerate(want_lags):
        line = 'tributary_consumer_group_lag{group="%s",topic="%s",partition="%d"} %d' % (
            GROUP.replace("\\", "\\\\").replace('"', '\\"'), TOPIC, p, lag)
        check(line in metrics.decode(), "/metrics lacks %s" % line)

    cl = api(port, "/api/cluster")
    check(cl["mode"] == "single" and cl["broker_id"] == 0 and cl["controller_id"] == 0
          and cl["ready"] is True, "/api/cluster: %s" % cl)
    check(len(cl["brokers"]) == 1 and cl["brokers"][0]["port"] == c.port
          and cl["brokers"][0]["controller"], "/api/cluster brokers: %s" % cl["brokers"])
    check(cl["topics"] == len(topics) and cl["groups"] >= 1
          and cl["partitions"] == sum(len(x["partitions"]) for x in topics.values())
          and cl["under_replicated_partitions"] == 0 and cl["offline_partitions"] == 0,
          "/api/cluster counts: %s" % cl)
    # What an operator types: curl gets the same document.
    r = subprocess.run(["curl", "-sS", "-f", "http://127.0.0.1:%d/api/groups" % port],
                       capture_output=True, timeout=30)
    check(r.returncode == 0, "curl /api/groups: exit %d %s" % (r.returncode, r.stderr[-300:]))
    by_curl = {x["group_id"]: x for x in json.loads(r.stdout)["groups"]}
    check(by_curl.get(GROUP, {}).get("lag") == sum(want_lags),
          "curl /api/groups: lag of %s is %s" % (GROUP, by_curl.get(GROUP, {}).get("lag")))
    errors = api(port, "/api/errors")
    check(isinstance(errors["errors"], list) and errors["total"] >= len(errors["errors"]),
          "/api/errors: %s" % errors)
    note("JSON API: topics, offsets, sizes, group lag %s (total %d), cluster counts" %
         (want_lags, sum(want_lags)))


def check_read_only(port):
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/", "/api/topics", "/metrics"):
            status, headers, _ = http(port, path, method=method)
            check(status == 405 and headers.get("Allow") == "GET, HEAD",
                  "%s %s: %d Allow=%s" % (method, path, status, headers.get("Allow")))
    status, headers, body = http(port, "/", method="HEAD")
    check(status == 200 and body == b"", "HEAD /: %d %r" % (status, body[:50]))
    status, headers, body = http(port, "/api/nope")
    check(status == 404 and "error" in json.loads(body), "/api/nope: %d %s" % (status, body))
    status, _, _ = http(port, "/nope.html")
    check(status == 404, "/nope.html: %d" % status)
    status, headers, body = http(port, "/")
    check(status == 200 and headers.get("Content-Type", "").startswith("text/html")
          and b"/console.js" in body, "GET /: %d %s" % (status, headers))
    check(headers.get("X-Content-Type-Options") == "nosniff"
          and "default-src 'self'" in headers.get("Content-Security-Policy", ""),
          "security headers: %s" % headers)
    etag = headers.get("ETag")
    status, _, body = http(port, "/", headers={"If-None-Match": etag})
    check(etag and status == 304 and body == b"", "If-None-Match %s: %d" % (etag, status))
    status, headers, _ = http(port, "/console.js")
    check(status == 200 and "javascript" in headers.get("Content-Type", ""), "console.js: %d" % status)
    note("read-only: 405 with Allow for POST/PUT/DELETE, HEAD, 404s, ETag 304, security headers")


def check_browser(ws, port):
    url = "http://127.0.0.1:%d/" % port
    out = artefact_dir()
    for name, size in (("desktop", "1280,900"), ("phone", "390,844")):
        dom = chromium(ws, url, "--window-size=" + size, "--dump-dom")
        with open(ws.file("dom-%s.html" % name), "w") as f:
            f.write(dom)
        if 'data-loaded="1"' not in dom:
            fail("%s: the page's script did not finish: %s" % (name, dom[-1500:]))
        # The page fits the window: only the tables scroll sideways. (For
        # the DOM dump headless Chromium makes the window at least 500 px
        # wide; still below the 600 px where the phone layout starts.)
        m = re.search(r'data-page-width="(\d+)" data-window-width="(\d+)"', dom)
        want = int(size.split(",")[0])
        check(m and int(m.group(1)) <= int(m.group(2)) and (int(m.group(2)) == want if want > 600 else
                                                            int(m.group(2)) < 600),
              "%s: page %s px wide in a %s px window" % (name, m and m.group(1), m and m.group(2)))
        # The topic row, the group's lag, no agents, no error.
        check(re.search(r'<tr class="topic-row" data-topic="%s"><td>%s</td>' % (TOPIC, TOPIC), dom),
              "%s: the topic row is missing" % name)
        total = sum(n - o for n, o in zip(COUNTS, COMMITS))
        check('class="total-lag warn">lag %d<' % total in dom, "%s: group lag %d not shown" % (name, total))
        check("no agents reporting" in dom and 'id="agents-empty" class="muted" hidden' not in dom,
              "%s: the agents panel does not say 'no agents reporting'" % name)
        # Markup from clients is text: escaped in the dump, never run.
        check("console-&lt;script&gt;alert(1)&lt;/script&gt;\"&amp;" in dom, "%s: group id not shown as text" % name)
        check("<script>alert(1)" not in dom, "%s: the group id became markup" % name)
        check("&lt;img src=x onerror=" in dom and "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0],
              "%s: the client id was not escaped (or its handler ran)" % name)
        shot = os.path.join(out, "console-%s.png" % name)
        if os.path.exists(shot):
            os.unlink(shot)
        chromium(ws, url, "--window-size=" + size, "--screenshot=" + shot)
        w, h = png_size(shot)
        want = tuple(int(x) for x in size.split(","))
        check((w, h) == want, "%s screenshot is %dx%d, want %dx%d" % (name, w, h, want[0], want[1]))
        check(os.path.getsize(shot) > 5000, "%s screenshot is nearly empty" % name)
    note("Chromium: topic, group lag and 'no agents reporting' rendered at 1280 and 390 px; "
         "markup in ids escaped; screenshots in %s" % out)


def check_fleet(ws, c, port):
    """A real agent, when the collector knows its fleet (GET /api/agents)."""
    import test_agent_common as ac

    status, _, _ = http(port, "/api/agents")
    if status == 404:
        note("this build has no /api/agents: the page says 'no agents reporting' (checked above)")
        return
    check(status == 200, "/api/agents: %d" % status)
    logs = ws.file("agent-logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "app.log"), "w") as f:
        for i in range(100):
            f.write("line %d\n" % i)
    agent = ac.Agent(ws, c.broker, "[input app]\npaths = %s/*.log\ntopic = console-agent\n" % logs,
                     agent_extra="host = console-h1")
    agent.start()
    ws.on_close(lambda show: agent.stop())
    deadline = time.monotonic() + 60
    while True:
        doc = api(port, "/api/agents")
        if doc.get("agents"):
            break
        if time.monotonic() > deadline:
            fail("a running agent did not appear in /api/agents within 60 s: %s" % doc)
        time.sleep(1)
    dom = chromium(ws, "http://127.0.0.1:%d/" % port, "--window-size=390,844", "--dump-dom")
    for a in doc["agents"]:
        check('data-host="%s"' % a["host"] in dom, "the page lacks agent %s" % a["host"])
    check('id="agents-empty" class="muted" hidden' in dom, "the page still says 'no agents reporting'")
    agent.stop()
    note("fleet: %d agent(s) in /api/agents and on the page" % len(doc["agents"]))


def check_auth(ws):
    data = ws.file("auth-data")
    os.makedirs(data)
    with open(os.path.join(data, ".acls"), "w") as f:
        # alice may see one topic, nothing else.
        f.write('{"resourceType":"Topic","patternType":"LITERAL","name":"alice-topic",'
                '"acl":{"principal":"User:alice","permissionType":"Allow","operation":"Describe",'
                '"host":"*"}}\n')
    harness.add_scram_users(data, ["SCRAM-SHA-256=[name=%s,password=%s]" % kv for kv in PASSWORDS.items()])
    certs = ws.file("certs")
    os.makedirs(certs)
    harness.make_ca(certs, "ca")
    harness.server_keystore(certs, 1001)
    keystore = os.path.join(certs, "server.keystore.pem")
    pport, sport, hport = harness.free_port(), harness.free_port(), harness.free_port()
    c = ws.collector("secure", port=pport, data_dir=data, sets={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (pport, sport),
        "sasl.enabled.mechanisms": "SCRAM-SHA-256",
        "authorizer.class.name": CLASS,
        "super.users": "User:admin",
        "http.listener": "https://127.0.0.1:%d" % hport,
        "ssl.keystore.location": keystore,
    }).start()
    TLS[hport] = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
    # Plain HTTP to the HTTPS listener gets no answer.
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hport, timeout=10) as r:
            fail("plain HTTP to the HTTPS listener answered %d" % r.status)
    except urllib.error.HTTPError as e:
        fail("plain HTTP to the HTTPS listener answered %d" % e.code)
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        note("plain HTTP to the HTTPS listener: %s" % e)
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % sport, "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "admin",
                         "sasl.password": PASSWORDS["admin"]})
    for f in admin.create_topics([NewTopic("alice-topic", 1, 1), NewTopic("hidden-topic", 2, 1)]).values():
        f.result(30)

    for path in ("/", "/api/topics", "/api/cluster", "/console.js"):
        status, headers, _ = http(hport, path)
        check(status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic "),
              "%s without credentials: %d %s" % (path, status, headers.get("WWW-Authenticate")))
    status, _, _ = http(hport, "/api/topics", auth=("alice", "wrong"))
    check(status == 401, "wrong password: %d" % status)
    status, _, _ = http(hport, "/api/topics", auth=("mallory", "x"))
    check(status == 401, "unknown user: %d" % status)
    for bad in ("Basic", "Basic !!!", "Basic " + "A" * 20000, "Bearer x", "Basic YWxpY2U=",
                "Basic " + base64.b64encode(b"alice\x00:alice-secret").decode()):
        status, _, _ = http(hport, "/api/topics", header=bad)
        check(status in (400, 401, 431), "malformed %r: %d" % (bad[:30], status))
    for path in ("/healthz", "/readyz", "/metrics"):
        status, _, _ = http(hport, path)
        check(status == 200, "%s must stay open: %d" % (path, status))

    names = {t["name"] for t in api(hport, "/api/topics", auth=("admin", PASSWORDS["admin"]))["topics"]}
    check({"alice-topic", "hidden-topic"} <= names, "admin's topics: %s" % names)
    status, _, _ = http(hport, "/", auth=("alice", PASSWORDS["alice"]))
    check(status == 200, "alice GET /: %d" % status)
    names = {t["name"] for t in api(hport, "/api/topics", auth=("alice", PASSWORDS["alice"]))["topics"]}
    check(names == {"alice-topic"}, "alice sees %s, want only alice-topic" % names)
    cl = api(hport, "/api/cluster", auth=("alice", PASSWORDS["alice"]))
    check(cl["topics"] == 1 and cl["partitions"] == 1, "alice's cluster counts: %s" % cl)
    status, _, _ = http(hport, "/api/errors", auth=("alice", PASSWORDS["alice"]))
    check(status == 403, "alice may not read the log: %d" % status)
    errors = api(hport, "/api/errors", auth=("admin", PASSWORDS["admin"]))
    msgs = [e["message"] for e in errors["errors"]]
    check(any("authentication of mallory failed" in m for m in msgs)
          and all(e["level"] in ("WARN", "ERROR") for e in errors["errors"]),
          "/api/errors lacks the failed login: %s" % msgs)
    note("HTTPS (certificate checked against the CA); auth: 401 + WWW-Authenticate without or with bad credentials, malformed headers refused, "
         "admin sees all, alice only alice-topic, 403 on the log, probes open, failed logins in /api/errors")
    c.stop()


def check_cluster(ws):
    import cluster

    why = cluster.zookeeper_missing()
    if why:
        if os.environ.get("CI") == "true":
            fail("ZooKeeper cannot run under CI: %s" % why)
        note("cluster part skipped: " + why)
        return
    topic = "console-replicated"
    http_ports = {i: harness.free_port() for i in (1, 2, 3)}
    cl = cluster.Cluster(ws, n=3, per_broker={
        i: {"http.listener": "127.0.0.1:%d" % p} for i, p in http_ports.items()}).start()
    for i, port in http_ports.items():
        cl.wait_for(lambda: http(port, "/readyz")[0] == 200, timeout=30, what="/readyz of broker %d" % i)
    controller = cl.wait_controller()
    for i, port in http_ports.items():
        doc = cl.wait_for(lambda: (lambda d: d if len(d["brokers"]) == 3 else None)(api(port, "/api/cluster")),
                          timeout=30, what="broker %d's /api/cluster listing 3 brokers" % i)
        check(doc["mode"] == "cluster" and doc["broker_id"] == i and doc["controller_id"] == controller,
              "broker %d: /api/cluster %s (controller %d)" % (i, doc, controller))
        check(sorted(b["id"] for b in doc["brokers"]) == [1, 2, 3]
              and [b["id"] for b in doc["brokers"] if b["controller"]] == [controller]
              and [b["id"] for b in doc["brokers"] if b["self"]] == [i],
              "broker %d: brokers %s" % (i, doc["brokers"]))
    cl.create_topic(topic, partitions=3, replication=3)
    for p in range(3):
        cl.wait_isr(topic, p, size=3)
    harness.produce_records(cl.bootstrap, topic, [(None, b"x%d" % i) for i in range(10)], partition=0)
    md = cl.metadata(topic)

    def topic_view(port):
        t = [x for x in api(port, "/api/topics")["topics"] if x["name"] == topic]
        return {p["partition"]: p for p in t[0]["partitions"]} if t else None

    for i, port in http_ports.items():
        view = cl.wait_for(lambda: (lambda v: v if v and len(v) == 3 and all(
            len(p["isr"]) == 3 for p in v.values()) else None)(topic_view(port)),
            timeout=30, what="broker %d's /api/topics with %s and full ISRs" % (i, topic))
        for p, (leader, replicas, isr) in md.items():
            check(view[p]["leader"] == leader and sorted(view[p]["replicas"]) == sorted(replicas)
                  and sorted(view[p]["isr"]) == sorted(isr) and view[p]["hosted"]
                  and not view[p]["under_replicated"],
                  "broker %d: %s-%d %s, Metadata says leader %d replicas %s isr %s" %
                  (i, topic, p, view[p], leader, replicas, isr))
    leader0 = md[0][0]
    check(topic_view(http_ports[leader0])[0]["log_end_offset"] == 10, "the leader's log end offset is 10")

    # One console shows the whole cluster: a topic with one replica per
    # partition (each known to one collector only) and a group whose
    # coordinator is one collector, seen from every console.
    single = "console-single"
    cl.create_topic(single, partitions=3, replication=1, config={"min.insync.replicas": "1"})
    for p in range(3):
        harness.produce_records(cl.bootstrap, single, [(None, b"s%d" % i) for i in range(5 + p)], partition=p)
    from confluent_kafka import Consumer, TopicPartition
    grp = "console-cluster-group"
    cons = Consumer({"bootstrap.servers": cl.bootstrap, "group.id": grp, "enable.auto.commit": False})
    cons.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    cons.close()
    for i, port in http_ports.items():
        def merged(port=port):
            t = {x["name"]: x for x in api(port, "/api/topics")["topics"]}.get(single)
            if t is None or len(t["partitions"]) != 3:
                return None
            return t if all(p.get("log_end_offset") == 5 + p["partition"] for p in t["partitions"]) else None
        cl.wait_for(merged, timeout=30, what="broker %d's /api/topics with every partition's end offset" % i)

        def group_seen(port=port):
            doc = api(port, "/api/groups")
            g = {x["group_id"]: x for x in doc["groups"]}.get(grp)
            return (doc, g) if g is not None and g["lag"] == 6 else None
        doc, g = cl.wait_for(group_seen, timeout=30, what="broker %d's /api/groups with %s (lag 6)" % (i, grp))
        check(doc["brokers_missing"] == [], "broker %d: every collector answered: %s" % (i, doc["brokers_missing"]))
        check(len([x for x in doc["groups"] if x["group_id"] == grp]) == 1, "broker %d lists the group once" % i)
    note("every console shows the partitions the others lead and the group another coordinates (lag 6)")

    # A follower stops: its partitions are under-replicated in every view.
    victim = next(b for b in (1, 2, 3) if b != controller)
    others = [b for b in (1, 2, 3) if b != victim]
    cl.pause(victim)
    try:
        for p in range(3):
            cl.wait_isr(topic, p, size=2, timeout=30)
        port = http_ports[others[0]]
        view = cl.wait_for(lambda: (lambda v: v if all(p["under_replicated"] for p in v.values()) else None)(
            topic_view(port)), timeout=30, what="the partitions shown under-replicated")
        check(all(victim not in p["isr"] for p in view.values()), "ISR without %d: %s" % (victim, view))
        doc = api(port, "/api/cluster")
        check(doc["under_replicated_partitions"] >= 3, "/api/cluster under-replicated: %s" % doc)
        # The gathering does not hang on a stopped collector.
        t0 = time.monotonic()
        doc = api(port, "/api/groups")
        check(time.monotonic() - t0 < 15 and set(doc["brokers_missing"]) <= {victim},
              "/api/groups with broker %d stopped: %.1f s, missing %s" %
              (victim, time.monotonic() - t0, doc["brokers_missing"]))
        # Its ZooKeeper session expires too: it leaves the live brokers.
        cl.wait_for(lambda: sorted(b["id"] for b in api(port, "/api/cluster")["brokers"]) == others,
                    timeout=30, what="broker %d gone from the live brokers" % victim)
        dom = chromium(ws, "http://127.0.0.1:%d/" % port, "--window-size=390,844", "--dump-dom")
        rows = re.findall(r'<tr><td class="num">(\d+)</td>', dom.split('id="brokers"', 1)[1].split("</table>", 1)[0])
        check(sorted(int(r) for r in rows) == others, "the page lists brokers %s, live: %s" % (rows, others))
        check(">Under-replicated</div><div class=\"value bad\">" in dom, "the page flags under-replication")
    finally:
        cl.resume(victim)
    note("cluster: 3 brokers and controller %d on every console; leaders and ISR as Metadata; "
         "broker %d paused: under-replicated shown" % (controller, victim))
    for p in range(3):
        cl.wait_isr(topic, p, size=3, timeout=60)
    cl.stop_all()


def check_cluster_https(ws):
    """Two collectors with HTTPS consoles and HTTP Basic: each console
    gathers the other's part over TLS (certificate checked against the
    truststore), passing the user's credentials on."""
    import cluster

    if cluster.zookeeper_missing():
        return  # check_cluster said why
    certs = ws.file("cluster-certs")
    os.makedirs(certs)
    harness.make_ca(certs, "ca")
    harness.server_keystore(certs, 1101)
    keystore = os.path.join(certs, "server.keystore.pem")
    hports = {i: harness.free_port() for i in (1, 2)}
    cl = cluster.Cluster(ws, n=2, zk=None, per_broker={i: {
        "http.listener": "https://127.0.0.1:%d" % p, "http.auth": "basic",
        "ssl.keystore.location": keystore, "ssl.truststore.location": os.path.join(certs, "ca.crt"),
    } for i, p in hports.items()})
    cl.start_sasl("SCRAM-SHA-256=[name=admin,password=admin-secret]")
    for port in hports.values():
        TLS[port] = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
    admin = ("admin", "admin-secret")
    for i, port in hports.items():
        # Each collector knows both before a topic is made through any.
        cl.wait_for(lambda port=port: len(api(port, "/api/cluster", auth=admin)["brokers"]) == 2,
                    timeout=30, what="broker %d's /api/cluster listing 2 brokers" % i)
    topic = "console-https"
    cl.create_topic(topic, partitions=2, replication=1, config={"min.insync.replicas": "1"})
    for p in range(2):
        harness.produce_records(cl.bootstrap, topic, [(None, b"h%d" % i) for i in range(3 + p)], partition=p)
    for i, port in hports.items():
        status, _, _ = http(port, "/api/topics")
        check(status == 401, "broker %d: /api/topics without credentials: %d" % (i, status))

        def whole(port=port):
            doc = api(port, "/api/topics", auth=admin)
            t = {x["name"]: x for x in doc["topics"]}.get(topic)
            if t is None or doc["brokers_missing"]:
                return None
            ends = sorted((p["partition"], p["log_end_offset"]) for p in t["partitions"])
            return ends if ends == [(0, 3), (1, 4)] else None
        cl.wait_for(whole, timeout=30, what="broker %d's HTTPS console with both partitions' offsets" % i)
    note("HTTPS consoles with HTTP Basic: each gathers the other's partitions over TLS")
    cl.stop_all()


def run(ws):
    chromium_binary()
    hport = harness.free_port()
    c = ws.collector("console", sets={"http.listener": "127.0.0.1:%d" % hport, "num.partitions": 1}).start()
    consumer = fill(c)
    try:
        check_api(c, hport)
        check_read_only(hport)
        check_browser(ws, hport)
        check_fleet(ws, c, hport)
    finally:
        consumer.close()
    c.stop()
    check_auth(ws)
    check_cluster(ws)
    check_cluster_https(ws)


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=300))
