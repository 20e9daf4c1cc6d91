#!/usr/bin/python3
"""Readiness under systemd's Type=notify, with the test in systemd's place:
a unix datagram socket bound in the workspace is the collector's and the
agent's $NOTIFY_SOCKET.

- A single collector sends READY=1 (with STATUS=) only once it serves: a
  connection and an ApiVersions request made right after READY succeed.
  SIGHUP sends RELOADING=1 (with MONOTONIC_USEC) then READY=1; SIGTERM
  sends STOPPING=1 and the collector exits cleanly.
- The agent sends READY=1 once its inputs are open: its /health answers
  right after; likewise RELOADING=1, READY=1 on SIGHUP and STOPPING=1.
- In a cluster (when ZooKeeper can run) the collector listens before
  ZooKeeper is up but sends no READY; READY=1 comes after ZooKeeper starts,
  and the broker's /brokers/ids node exists when it does.
"""

import os
import signal
import socket
import time
import urllib.request

import harness
import test_agent_common as ac


class NotifySocket:
    """The service manager's end: a bound AF_UNIX datagram socket."""

    def __init__(self, ws):
        self.path = ws.file("notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen = []

    def expect(self, key, timeout=60.0, proc=None, what="the daemon"):
        """Waits for a datagram with line 'key' (e.g. READY=1); returns its lines as a dict."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(0.2)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                if proc is not None and proc.poll() is not None:
                    harness.fail("%s exited (%s) before sending %s" % (what, proc.returncode, key))
                continue
            text = data.decode()
            self.seen.append(text)
            lines = text.split("\n")
            if key in lines:
                return dict(line.split("=", 1) for line in lines if "=" in line)
        harness.fail("%s sent no %s within %.0f s (got %r)" % (what, key, timeout, self.seen))

    def quiet(self, seconds):
        """Fails if any datagram arrives within 'seconds'."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return
        harness.fail("unexpected notification %r" % data.decode())

    def close(self):
        self.sock.close()


def exit_status(proc, what, timeout=30):
    """Waits for 'proc' (already signalled) to exit; returns its status."""
    try:
        return proc.wait(timeout)
    except Exception:
        proc.kill()
        proc.wait()
        harness.fail("%s did not exit within %d s of SIGTERM" % (what, timeout))


def spawn_notified(ns, start):
    """Runs start() with $NOTIFY_SOCKET set for the child it starts."""
    os.environ["NOTIFY_SOCKET"] = ns.path
    try:
        start()
    finally:
        del os.environ["NOTIFY_SOCKET"]


def collector_single(ws, ns):
    col = ws.collector()
    col.port = harness.free_port()
    spawn_notified(ns, lambda: col.spawn(col.argv()))
    fields = ns.expect("READY=1", proc=col.proc, what="the collector")
    # Right after READY, without retrying: the listener serves.
    harness.check(harness.api_versions_v0(col.port)[0] == 0, "ApiVersions answered right after READY=1")
    harness.check(fields.get("STATUS"), "READY=1 comes with a STATUS")
    harness.note("collector: READY=1, STATUS=%s; ApiVersions answered" % fields["STATUS"])

    before = time.monotonic_ns() // 1000
    col.proc.send_signal(signal.SIGHUP)
    fields = ns.expect("RELOADING=1", proc=col.proc, what="the collector")
    usec = int(fields.get("MONOTONIC_USEC", "0"))
    harness.check(usec >= before, "RELOADING=1 has MONOTONIC_USEC=%d, after the SIGHUP (%d)" % (usec, before))
    ns.expect("READY=1", proc=col.proc, what="the collector")
    harness.check(harness.api_versions_v0(col.port)[0] == 0, "ApiVersions answered after the reload")

    col.proc.send_signal(signal.SIGTERM)
    ns.expect("STOPPING=1", what="the collector")
    harness.check(exit_status(col.proc, "the collector") == 0, "the collector exits 0 after STOPPING=1")
    col.check_sanitizers()
    harness.note("collector: RELOADING=1, READY=1 on SIGHUP; STOPPING=1 on SIGTERM")
    return col


def agent(ws, ns):
    col = ws.collector(name="agent-collector")
    col.port = harness.free_port()
    col.start()
    log = ws.file("app.log")
    with open(log, "w") as f:
        f.write("one line\n")
    mport = harness.free_port()
    inputs = "[input app]\npaths = %s\ntopic = app\nread_from = beginning\n" % log
    ag = ac.Agent(ws, col.broker, inputs, agent_extra="metrics_listen = 127.0.0.1:%d\n" % mport)
    try:
        spawn_notified(ns, ag.start)
        fields = ns.expect("READY=1", proc=ag.proc, what="the agent")
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % mport, timeout=10) as r:
            harness.check(r.status == 200, "/health answers 200 right after READY=1")
        harness.note("agent: READY=1, STATUS=%s; /health answered" % fields.get("STATUS"))
        ac.wait_count(col.broker, "app", 1, 1, 60, agent=ag)

        ag.proc.send_signal(signal.SIGHUP)
        ns.expect("RELOADING=1", proc=ag.proc, what="the agent")
        ns.expect("READY=1", proc=ag.proc, what="the agent")
        ag.proc.send_signal(signal.SIGTERM)
        ns.expect("STOPPING=1", what="the agent")
        harness.check(exit_status(ag.proc, "the agent") == 0, "the agent exits 0 after STOPPING=1")
        ag.check_sanitizers()
        harness.note("agent: RELOADING=1, READY=1 on SIGHUP; STOPPING=1 on SIGTERM")
    finally:
        ag.kill()


def collector_cluster(ws, ns):
    import cluster

    if cluster.zookeeper_missing():
        harness.note("cluster part skipped: %s" % cluster.zookeeper_missing())
        return
    zk = cluster.ZooKeeper(ws)
    col = ws.collector(name="broker-1", sets={
        "broker.id": "1",
        "zookeeper.connect": zk.connect_string + cluster.CHROOT,
        "zookeeper.connection.timeout.ms": "120000",
        "zookeeper.session.timeout.ms": "6000",
        "offsets.topic.replication.factor": "1",
    })
    col.port = harness.free_port()
    spawn_notified(ns, lambda: col.spawn(col.argv()))
    deadline = time.monotonic() + harness.START_TIMEOUT
    while not harness.port_accepts(col.port):
        if not col.alive():
            harness.fail("broker-1 exited:\n%s" % harness.tail(col.log()))
        if time.monotonic() > deadline:
            harness.fail("broker-1 does not listen")
        time.sleep(0.05)
    # Listening, but not in the cluster: not ready.
    ns.quiet(2.0)
    harness.note("cluster: broker-1 listens without ZooKeeper and sends no READY")
    zk.start()
    ns.expect("READY=1", proc=col.proc, what="broker-1")
    harness.check(zk.exists(cluster.CHROOT + "/brokers/ids/1"),
                  "/brokers/ids/1 exists when READY=1 arrives")
    harness.note("cluster: READY=1 once /brokers/ids/1 is registered")
    col.stop()


def body(ws):
    ns = NotifySocket(ws)
    try:
        collector_single(ws, ns)
        agent(ws, ns)
        collector_cluster(ws, ns)
    finally:
        ns.close()


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=240))
