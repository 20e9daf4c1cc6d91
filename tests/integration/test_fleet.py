#!/usr/bin/python3
"""The fleet: agents report themselves to __tributary_agents and the
collector serves them at /api/agents.

- A collector (agents.silent.after.ms = 3000) and two real agents, each
  shipping its own real log file with status_interval_ms = 500.
- /api/agents lists both hosts with their input and file, the bytes read
  and acknowledged equal to the file size, nothing behind, not silent.
- The agent's /metrics has the per-file lag and last acknowledgement time.
- __tributary_agents is compacted (DescribeConfigs through the
  AdminClient) and its records, keyed by host, are JSON a consumer reads.
- No status record ever appears in a log topic.
- One agent is SIGSTOPped: it turns silent (and tributary_agents counts it
  so), the other stays active; after SIGCONT it is active again.
- A malformed status record and a tombstone produced by hand: the bad one
  is skipped (the collector keeps serving and counts it), the tombstone
  removes the host.
- A restarted collector replays the topic and serves the same fleet.
"""

import json
import os
import signal
import sys
import time
import urllib.request

import harness
import test_agent_common as ac

SILENT_MS = 3000
TOPIC = "__tributary_agents"


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def agents(port):
    status, ctype, body = get(port, "/api/agents")
    if status != 200 or not ctype.startswith("application/json"):
        harness.fail("/api/agents answers %s %s" % (status, ctype))
    doc = json.loads(body)
    return doc, {a["host"]: a for a in doc["agents"]}


def wait_for(what, fn, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.3)
    harness.fail("%s: not after %d s (last: %r)" % (what, timeout, last))


def write_lines(path, prefix, n):
    with open(path, "a") as f:
        for i in range(n):
            f.write("%s line %d\n" % (prefix, i))
    return os.path.getsize(path)


def body(ws):
    http = harness.free_port()
    col = ws.collector(sets={"http.listener": "127.0.0.1:%d" % http,
                             "agents.silent.after.ms": str(SILENT_MS)})
    col.port = harness.free_port()
    col.start()
    logs = ws.file("logs")
    os.mkdir(logs)
    sizes = {}
    agents_ = {}
    mports = {}
    for host in ("web-1", "db-1"):
        path = os.path.join(logs, host + ".log")
        sizes[host] = (path, write_lines(path, host, 500))
        mports[host] = harness.free_port()
        inputs = "[input %s-in]\npaths = %s\ntopic = logs-%s\n" % (host, path, host)
        agents_[host] = ac.Agent(
            ws, col.broker, inputs, name=host,
            agent_extra="host = %s\nstatus_interval_ms = 500\nmetrics_listen = 127.0.0.1:%d"
            % (host, mports[host]))
        agents_[host].start()
    for host in agents_:
        ac.wait_count(col.broker, "logs-" + host, 1, 500, 60, agents_[host])

    def both_caught_up():
        doc, by = agents(http)
        ok = all(h in by and by[h]["files"] and by[h]["files"][0]["bytes_acked"] == sizes[h][1]
                 for h in agents_)
        return ok, doc
    doc = wait_for("both agents listed with every byte acknowledged", both_caught_up)
    harness.check(doc["silent_after_ms"] == SILENT_MS, "silent_after_ms is the setting")
    harness.check(abs(doc["now_ms"] - time.time() * 1000) < 60000, "now_ms is the wall clock")
    by = {a["host"]: a for a in doc["agents"]}
    harness.check([a["host"] for a in doc["agents"]] == ["db-1", "web-1"], "agents sorted by host")
    for host, (path, size) in sizes.items():
        a = by[host]
        f = a["files"][0]
        harness.check(a["inputs"] == [{"name": host + "-in", "topic": "logs-" + host}],
                      "%s: its input and topic (%r)" % (host, a["inputs"]))
        harness.check(f["path"] == path and f["input"] == host + "-in", "%s: its file" % host)
        harness.check(f["bytes_read"] == size and f["bytes_acked"] == size and f["bytes_behind"] == 0,
                      "%s: read %d, acked %d, behind %d of %d bytes"
                      % (host, f["bytes_read"], f["bytes_acked"], f["bytes_behind"], size))
        harness.check(isinstance(f["last_ack_ms"], int) and f["last_ack_ms"] > 0,
                      "%s: last acknowledgement time" % host)
        harness.check(a["bytes_behind"] == 0 and a["silent"] is False, "%s: active, nothing behind" % host)
        harness.check(a["version"] and a["started_ms"] > 0 and a["last_seen_ms"] >= a["started_ms"] - 1000,
                      "%s: version %r, started and last seen" % (host, a["version"]))
        harness.check(a["last_error"] is None and a["last_error_ms"] is None, "%s: no error" % host)
        _, _, m = get(mports[host], "/metrics")
        harness.check('tributary_agent_file_lag_bytes{path="%s"} 0' % path in m,
                      "%s: agent metrics have the per-file lag" % host)
        harness.check('tributary_agent_file_last_ack_timestamp_seconds{path="%s"}' % path in m,
                      "%s: agent metrics have the last acknowledgement time" % host)
        harness.check("tributary_agent_acked_bytes_total %d" % size in m,
                      "%s: acked bytes counter" % host)

    # The topic is compacted, its records are JSON keyed by host.
    from confluent_kafka.admin import AdminClient, ConfigResource
    admin = AdminClient({"bootstrap.servers": col.broker})
    res = ConfigResource("topic", TOPIC)
    cfg = admin.describe_configs([res])[res].result(timeout=30)
    harness.check(cfg["cleanup.policy"].value == "compact",
                  "%s is compacted (%s)" % (TOPIC, cfg["cleanup.policy"].value))
    recs = ac.read_topic(col.broker, TOPIC, 1)
    keys = set(r[2] for r in recs)
    harness.check(keys == {b"web-1", b"db-1"}, "status records keyed by host (%r)" % keys)
    last = json.loads(recs[-1][3])
    harness.check(last["host"] == recs[-1][2].decode() and "files" in last and "timestamp_ms" in last,
                  "a consumer reads the status JSON")
    for host in agents_:
        for r in ac.read_topic(col.broker, "logs-" + host, 1):
            if not r[3].decode().startswith(host + " line "):
                harness.fail("a foreign record in logs-%s: %r" % (host, r[3][:80]))
    harness.note("%d status records read; log topics hold only log lines" % len(recs))

    # Bytes behind follow new lines (the agent keeps up: just check it moves on).
    size2 = write_lines(sizes["web-1"][0], "web-1", 200)
    wait_for("web-1 acknowledges the new lines",
             lambda: (lambda by: (by["web-1"]["files"][0]["bytes_acked"] == size2, by["web-1"]["files"][0]))(agents(http)[1]))

    # One agent stops reporting: silent after the setting, active again after.
    os.kill(agents_["db-1"].proc.pid, signal.SIGSTOP)
    try:
        wait_for("db-1 turns silent", lambda: (lambda by: (by["db-1"]["silent"] and not by["web-1"]["silent"], by))(agents(http)[1]),
                 timeout=SILENT_MS / 1000 + 30)
        _, _, m = get(http, "/metrics")
        harness.check('tributary_agents{state="silent"} 1' in m and 'tributary_agents{state="active"} 1' in m,
                      "tributary_agents counts one active, one silent")
    finally:
        os.kill(agents_["db-1"].proc.pid, signal.SIGCONT)
    wait_for("db-1 active again", lambda: (lambda by: (not by["db-1"]["silent"], by["db-1"]))(agents(http)[1]))

    # A malformed record is skipped; a tombstone forgets a host.
    harness.produce_records(col.broker, TOPIC, [(b"web-1", b"{not json"), (b"ghost", b"[1,2]"),
                                                 (b"ghost2", b'{"version": 3}')])
    _, by = agents(http)
    harness.check("ghost" not in by and "ghost2" not in by and "web-1" in by,
                  "malformed status records skipped, web-1 kept")
    _, _, m = get(http, "/metrics")
    harness.check("tributary_fleet_skipped_records_total 3" in m, "three malformed records counted")
    agents_["web-1"].stop()
    harness.produce_records(col.broker, TOPIC, [(b"web-1", None)])
    _, by = agents(http)
    harness.check("web-1" not in by and "db-1" in by, "a tombstone forgets web-1")
    agents_["db-1"].stop()

    # A restarted collector replays the topic: db-1 from its last record,
    # web-1 still forgotten.
    col.stop()
    col.restart()
    _, by = agents(http)
    harness.check(sorted(by) == ["db-1"] and by["db-1"]["files"][0]["bytes_acked"] == sizes["db-1"][1],
                  "after a restart the fleet is replayed from the log (%r)" % sorted(by))
    for a in agents_.values():
        a.check_sanitizers()
    col.check_sanitizers()


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=240))
