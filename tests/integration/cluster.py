#!/usr/bin/python3
"""Cluster helpers for the integration tests: a real ZooKeeper and N collectors.

Builds on harness.py: a test still runs under harness.main() with one
Workspace, and everything here lives in that workspace and is stopped when it
closes, whatever happens.

ZooKeeper is Debian's (packages zookeeper and libzookeeper-java), run as one
standalone server in the foreground:

    java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \\
        org.apache.zookeeper.server.quorum.QuorumPeerMain WORKSPACE/zookeeper.cfg

rather than through /usr/share/zookeeper/bin/zkServer.sh: Debian's zkEnv.sh
fixes the class path to one without an SLF4J binding, so a server started by
the script logs nothing at all. slf4j-simple logs to stderr, which goes to
WORKSPACE/zookeeper.log; its tail is shown when a test fails. The
configuration uses tickTime=200, so sessions may be as short as 400 ms
(maxSessionTimeout is raised to 60 s). TR_ZOOKEEPER_CLASSPATH and TR_JAVA
override the class path and the java binary.

The get/children/create/set/delete helpers open a short kazoo session
(python3-kazoo) per call; client() gives a session to keep.

A Cluster starts the ZooKeeper and brokers 1..n (harness.Collector, named
broker-1, broker-2, ...) with

    broker.id=I  zookeeper.connect=127.0.0.1:ZKPORT/tributary
    zookeeper.session.timeout.ms=4000  zookeeper.connection.timeout.ms=10000
    replica.lag.time.max.ms=3000  default.replication.factor=3
    min.insync.replicas=2  offsets.topic.replication.factor=3

plus the listener and log directory every Collector gets, then the test's own
settings on top, then those it gives for one broker alone (per_broker). Its
metadata helpers ask the brokers with a librdkafka AdminClient
(confluent_kafka).

    def body(ws):
        c = cluster.Cluster(ws).start()
        c.create_topic("t", partitions=1, replication=3)
        leader = c.wait_leader("t", 0)
        c.kill(leader)
        c.wait_leader("t", 0, not_in=(leader,))
"""

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TestFailure, fail, note, tail  # noqa: E402

ZK_START_TIMEOUT = 60.0  # a JVM starts slowly on a loaded machine
ZK_STOP_TIMEOUT = 10.0
ZK_CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
ZK_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

CHROOT = "/tributary"

# kazoo reports every dropped connection through logging; the helpers report
# failures through exceptions instead.
logging.getLogger("kazoo").setLevel(logging.CRITICAL)


def java_binary():
    return os.environ.get("TR_JAVA") or shutil.which("java") or "/usr/bin/java"


def zookeeper_classpath():
    return os.environ.get("TR_ZOOKEEPER_CLASSPATH") or ZK_CLASSPATH


def zookeeper_missing():
    """Why ZooKeeper cannot run here (a sentence), or None if it can."""
    java = java_binary()
    if not (os.path.isfile(java) and os.access(java, os.X_OK)):
        return "no java (install default-jre-headless or zookeeper)"
    jar = zookeeper_classpath().split(":")[0]
    if not os.path.isfile(jar):
        return "%s not found (install zookeeper)" % jar
    if importlib.util.find_spec("kazoo") is None:
        return "%s cannot import kazoo (install python3-kazoo)" % sys.executable
    return None


def skip_without_zookeeper():
    """
    Skips the test (exit status 77) when zookeeper_missing() says why, or
    fails it under CI (CI=true, as .ci/run is run), where scripts/setup.sh
    --tests has installed ZooKeeper and a skip would hide a missing step.
    """
    why = zookeeper_missing()
    if why and os.environ.get("CI") == "true":
        print("FAIL: ZooKeeper cannot run under CI: %s" % why, flush=True)
        raise SystemExit(1)
    if why:
        note("skipped: " + why)
        raise SystemExit(77)


def four_letter_word(port, word, timeout=2.0):
    """Sends a four-letter command ('ruok', 'srvr', 'mntr'...) and returns the reply as text."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(word.encode())
        out = bytearray()
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


class ZooKeeper(harness.ChildProcess):
    """One standalone ZooKeeper server with its own port and data directory."""

    def __init__(self, ws, name="zookeeper", port=None, tick_time=200):
        self.ws = ws
        self.name = name
        self.port = port or harness.free_port()
        self.tick_time = tick_time
        self.data_dir = ws.file(name + "-data")
        self.config_path = ws.file(name + ".cfg")
        self.log_path = ws.file(name + ".log")
        self.proc = None
        self.paused = False
        self.starts = 0
        ws.on_close(self._close)

    @property
    def connect_string(self):
        return "127.0.0.1:%d" % self.port

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(
                "tickTime=%d\n"
                "initLimit=10\n"
                "syncLimit=5\n"
                "dataDir=%s\n"
                "clientPort=%d\n"
                "clientPortAddress=127.0.0.1\n"
                "maxSessionTimeout=60000\n"
                "maxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=*\n"
                % (self.tick_time, self.data_dir, self.port)
            )

    def argv(self):
        return [
            java_binary(),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS",
            "-cp",
            zookeeper_classpath(),
            ZK_MAIN,
            self.config_path,
        ]

    def log(self):
        """Everything the server wrote, over all its runs."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def ruok(self, timeout=2.0):
        """True if the server answers 'ruok' with 'imok'."""
        try:
            return four_letter_word(self.port, "ruok", timeout) == "imok"
        except OSError:
            return False

    def serving(self, timeout=2.0):
        """
        True once the server serves requests: 'ruok' gets 'imok' as soon as
        the port is open, while the database may still be loading; 'srvr'
        gives its mode only when it is ready.
        """
        try:
            return self.ruok(timeout) and "Mode: " in four_letter_word(self.port, "srvr", timeout)
        except OSError:
            return False

    def start(self, timeout=ZK_START_TIMEOUT):
        """Starts the server and waits until it answers 'ruok' with 'imok' and serves requests."""
        if self.alive():
            fail("%s: already running" % self.name)
        why = zookeeper_missing()
        if why:
            fail("%s: cannot start: %s" % (self.name, why))
        os.makedirs(self.data_dir, exist_ok=True)
        self.write_config()
        self.spawn(self.argv())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(
                    "%s exited with status %d while starting; its log:\n%s"
                    % (self.name, self.proc.returncode, tail(self.log()))
                )
            if self.serving(timeout=1.0):
                note("%s serving on %s (pid %d)" % (self.name, self.connect_string, self.proc.pid))
                return self
            time.sleep(0.1)
        self.kill()
        fail(
            "%s did not serve on %s within %.0f s; its log:\n%s"
            % (self.name, self.connect_string, timeout, tail(self.log()))
        )

    def stop(self, timeout=ZK_STOP_TIMEOUT):
        """SIGTERM, SIGKILL after 'timeout' s. Returns the exit status (the JVM's is 143 on SIGTERM)."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            if self.paused:
                proc.send_signal(signal.SIGCONT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                note("%s did not exit within %.0f s of SIGTERM; killing it" % (self.name, timeout))
                proc.kill()
                proc.wait()
        self.proc = None
        self.paused = False
        return proc.returncode

    def restart(self, timeout=ZK_START_TIMEOUT):
        """Stops the server if it runs, then starts it again on the same port and data directory."""
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            mark = len(self.log())
            try:
                return self.start(timeout=max(1.0, deadline - time.monotonic()))
            except TestFailure:
                # The port may still be held for a moment; retry until the deadline.
                if time.monotonic() >= deadline or b"in use" not in self.log()[mark:].lower():
                    raise
                time.sleep(0.5)

    def _close(self, show_logs):
        self.stop()
        if show_logs:
            print("--- %s log (tail) ---\n%s" % (self.name, tail(self.log(), 80)), flush=True)

    # -- queries through kazoo, one short session each -----------------------

    def client(self, timeout=10.0, chroot=""):
        """A started kazoo.client.KazooClient; the caller stops and closes it."""
        from kazoo.client import KazooClient

        zk = KazooClient(hosts=self.connect_string + chroot, timeout=max(4.0, timeout))
        try:
            zk.start(timeout=timeout)
        except Exception:
            zk.close()
            raise
        return zk

    @contextlib.contextmanager
    def session(self, timeout=10.0):
        zk = self.client(timeout)
        try:
            yield zk
        finally:
            try:
                zk.stop()
            finally:
                zk.close()

    def get(self, path, timeout=10.0):
        """The data of znode 'path' (bytes), or None if there is no such node."""
        from kazoo.exceptions import NoNodeError

        with self.session(timeout) as zk:
            try:
                return zk.get(path)[0]
            except NoNodeError:
                return None

    def children(self, path, timeout=10.0):
        """The sorted child names of 'path', or None if there is no such node."""
        from kazoo.exceptions import NoNodeError

        with self.session(timeout) as zk:
            try:
                return sorted(zk.get_children(path))
            except NoNodeError:
                return None

    def exists(self, path, timeout=10.0):
        with self.session(timeout) as zk:
            return zk.exists(path) is not None

    def owner(self, path, timeout=10.0):
        """The session id owning ephemeral znode 'path', or None if none."""
        with self.session(timeout) as zk:
            st = zk.exists(path)
            return st.ephemeralOwner if st is not None else None

    def create(self, path, value=b"", makepath=True, timeout=10.0):
        """Creates a persistent znode (and its parents with makepath)."""
        with self.session(timeout) as zk:
            return zk.create(path, value, makepath=makepath)

    def set(self, path, value, timeout=10.0):
        with self.session(timeout) as zk:
            zk.set(path, value)

    def delete(self, path, recursive=False, timeout=10.0):
        with self.session(timeout) as zk:
            zk.delete(path, recursive=recursive)

    def tree(self, path="/", timeout=10.0):
        """{path: data} for 'path' and every node below it, for failure messages."""
        out = {}
        with self.session(timeout) as zk:

            def walk(p):
                try:
                    data, _ = zk.get(p)
                    kids = zk.get_children(p)
                except Exception:
                    return
                out[p] = data
                for k in sorted(kids):
                    walk(p.rstrip("/") + "/" + k)

            walk(path)
        return out


class Cluster:
    """A ZooKeeper and brokers 1..n in one Workspace."""

    def __init__(self, ws, n=3, settings=None, zk=None, per_broker=None):
        self.ws = ws
        self.n = n
        self.settings = dict(settings or {})
        # {i: {key: value}} for broker i alone (broker.rack, broker.id=-1),
        # on top of 'settings'.
        self.per_broker = {i: dict(s) for i, s in (per_broker or {}).items()}
        self.zk = zk or ZooKeeper(ws)
        self.brokers = {}  # broker id -> harness.Collector

    def broker_settings(self, i):
        sets = {
            "broker.id": str(i),
            "zookeeper.connect": self.zk.connect_string + CHROOT,
            "zookeeper.session.timeout.ms": "4000",
            "zookeeper.connection.timeout.ms": "10000",
            "replica.lag.time.max.ms": "3000",
            "default.replication.factor": "3",
            "min.insync.replicas": "2",
            "offsets.topic.replication.factor": "3",
        }
        sets.update(self.settings)
        sets.update(self.per_broker.get(i, {}))
        return sets

    def start(self, wait=True, timeout=60.0):
        """
        Starts ZooKeeper (unless it runs) and brokers 1..n; with 'wait',
        waits until Metadata lists every one of them. Returns self.
        """
        if not self.zk.alive():
            self.zk.start()
        for i in range(1, self.n + 1):
            if i not in self.brokers:
                self._new_broker(i).start()
        if wait:
            self.wait_brokers(timeout=timeout)
        return self

    def _new_broker(self, i):
        c = self.ws.collector("broker-%d" % i, sets=self.broker_settings(i))
        c.port = harness.free_port()
        self.brokers[i] = c
        return c

    def start_sasl(self, scram, timeout=60.0):
        """
        Starts ZooKeeper and brokers 1..n, each with its PLAINTEXT listener
        (the inter-broker one) and a SASL_PLAINTEXT one; 'scram' is a
        --add-scram value (e.g. 'SCRAM-SHA-256=[name=alice,password=x]')
        stored in broker 1's log directory before its first start, which
        publishes it to ZooKeeper. Returns {broker id: SASL port}.
        """
        self.zk.start()
        sasl_port = {}
        for i in range(1, self.n + 1):
            c = self._new_broker(i)
            sasl_port[i] = harness.free_port()
            c.sets["listeners"] = "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (
                c.port, sasl_port[i])
            if i == 1:
                r = subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + c.data_dir,
                                    "--add-scram", scram], capture_output=True, text=True, timeout=30)
                if r.returncode != 0:
                    fail("--add-scram: %s" % r.stderr)
            c.start()
        self.wait_brokers(timeout=timeout)
        return sasl_port

    def add_broker(self, wait=True, timeout=60.0):
        """Starts broker max(id)+1 (n+1 at first); returns its id."""
        i = max(self.brokers, default=0) + 1
        self._new_broker(i).start()
        self.n = max(self.n, i)
        if wait:
            self.wait_brokers(timeout=timeout)
        return i

    def broker(self, i):
        """The harness.Collector of broker i."""
        if i not in self.brokers:
            fail("no broker %r in this cluster (brokers %s)" % (i, sorted(self.brokers)))
        return self.brokers[i]

    def live(self):
        """Ids of the brokers that run and are not paused."""
        return sorted(i for i, c in self.brokers.items() if c.alive() and not c.paused)

    @property
    def bootstrap(self):
        """host:port of every live (running, not paused) broker, comma-separated."""
        return ",".join(self.brokers[i].broker for i in self.live())

    def kill(self, i):
        note("SIGKILL broker %d" % i)
        self.broker(i).kill()

    def stop(self, i, check_clean=True):
        """SIGTERM broker i (see harness.Collector.stop)."""
        note("SIGTERM broker %d" % i)
        return self.broker(i).stop(check_clean=check_clean)

    def pause(self, i):
        note("SIGSTOP broker %d" % i)
        self.broker(i).pause()

    def resume(self, i):
        note("SIGCONT broker %d" % i)
        self.broker(i).resume()

    def restart(self, i, timeout=harness.START_TIMEOUT):
        """Starts broker i again (stopping it first if it runs) on its port and data directory."""
        c = self.broker(i)
        if c.alive():
            c.stop()
        note("restarting broker %d" % i)
        return c.restart(timeout=timeout)

    def stop_all(self, check_clean=True):
        """SIGTERMs every broker (highest id first), then stops ZooKeeper."""
        for i in sorted(self.brokers, reverse=True):
            self.brokers[i].stop(check_clean=check_clean)
        self.zk.stop()

    def check_running(self):
        """Fails if a broker or ZooKeeper exited although the test did not stop it."""
        for i, c in sorted(self.brokers.items()):
            if c.proc is not None and c.proc.poll() is not None:
                rc = c.proc.returncode
                c.proc = None
                fail("broker %d exited with status %d on its own; its stderr:\n%s" % (i, rc, tail(c.log())))
        if self.zk.proc is not None and self.zk.proc.poll() is not None:
            rc = self.zk.proc.returncode
            self.zk.proc = None
            fail("ZooKeeper exited with status %d on its own; its log:\n%s" % (rc, tail(self.zk.log())))

    def wait_for(self, predicate, timeout=30.0, what="the condition", interval=0.2):
        """
        Calls predicate() until it returns something true and returns that.
        Exceptions from it count as 'not yet'; the last one is in the failure
        message. Fails at once if a broker or ZooKeeper died on its own.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.check_running()
            try:
                value = predicate()
                if value:
                    return value
                last = "last result: %r" % (value,)
            except TestFailure:
                raise
            except Exception as e:
                last = "last error: %s: %s" % (type(e).__name__, e)
            if time.monotonic() >= deadline:
                fail("%s: not reached within %.0f s (%s)" % (what, timeout, last))
            time.sleep(interval)

    # -- metadata through librdkafka -----------------------------------------

    def admin(self, **conf):
        from confluent_kafka.admin import AdminClient

        if not self.live():
            raise RuntimeError("no live broker")
        cfg = {"bootstrap.servers": self.bootstrap, "log_level": 0}
        cfg.update(conf)
        return AdminClient(cfg)

    def cluster_metadata(self, topic=None, timeout=10.0):
        """
        A confluent_kafka ClusterMetadata from one of the live brokers, for
        all topics or just 'topic' (which the broker may then auto-create).
        """
        return self.admin().list_topics(topic=topic, timeout=timeout)

    def metadata(self, topic, timeout=10.0):
        """
        {partition: (leader, [replicas], [isr])}; {} if the brokers do not
        know the topic. It asks for all topics: a Metadata request naming
        the topic would have the broker auto-create it.
        """
        md = self.cluster_metadata(None, timeout)
        t = md.topics.get(topic)
        if t is None:
            return {}
        return {p.id: (p.leader, list(p.replicas), list(p.isrs)) for p in t.partitions.values()}

    def controller_id(self, timeout=10.0):
        """The controller's broker id as Metadata gives it (-1 when there is none)."""
        return self.cluster_metadata(timeout=timeout).controller_id

    def broker_ids(self, timeout=10.0):
        """The broker ids Metadata lists, sorted."""
        return sorted(self.cluster_metadata(timeout=timeout).brokers)

    def wait_brokers(self, ids=None, timeout=30.0):
        """Waits until Metadata lists exactly 'ids' (default: the live brokers)."""
        want = sorted(ids if ids is not None else self.live())
        return self.wait_for(
            lambda: self.broker_ids() == want and (want or True),
            timeout,
            "Metadata lists brokers %s" % want,
        )

    def wait_settled(self, i, timeout=60.0):
        """
        After broker i was paused: waits until its registration is held by
        one session for longer than the session timeout (4 s), so that an
        expiry from the pause has happened and the broker has registered
        again, then until Metadata lists every live broker. Until then the
        controller may still see it gone, and refuse plans naming it.
        """
        path = CHROOT + "/brokers/ids/%d" % i
        state = {"owner": None, "since": time.time()}

        def settled():
            owner = self.zk.owner(path)
            if owner is None or owner != state["owner"]:
                state["owner"], state["since"] = owner, time.time()
                return False
            return time.time() - state["since"] > 5.0

        self.wait_for(settled, timeout, "broker %d's registration to settle" % i)
        return self.wait_brokers()

    def wait_controller(self, not_in=(), timeout=30.0):
        """Waits for a controller whose id is not in 'not_in'; returns its id."""

        def ok():
            c = self.controller_id()
            return c if c >= 0 and c not in not_in else None

        return self.wait_for(ok, timeout, "a controller not in %s" % (list(not_in),))

    def wait_leader(self, topic, partition=0, not_in=(), timeout=30.0):
        """Waits until %topic-%partition has a leader whose id is not in 'not_in'; returns it."""

        def ok():
            p = self.metadata(topic).get(partition)
            if p is None or p[0] < 0 or p[0] in not_in:
                return None
            return p[0]

        return self.wait_for(ok, timeout, "%s-%d has a leader not in %s" % (topic, partition, list(not_in)))

    def wait_isr(self, topic, partition=0, size=3, timeout=30.0):
        """Waits until the ISR of topic-partition has exactly 'size' members; returns it."""

        def ok():
            p = self.metadata(topic).get(partition)
            if p is None or len(p[2]) != size:
                return None
            return sorted(p[2])

        return self.wait_for(ok, timeout, "ISR of %s-%d has %d members" % (topic, partition, size))

    def create_topic(self, topic, partitions=1, replication=3, config=None, timeout=30.0):
        """CreateTopics through AdminClient; fails on any error but 'already exists'."""
        from confluent_kafka import KafkaError
        from confluent_kafka.admin import NewTopic

        admin = self.admin()  # kept until the result is in: dropping it cancels the request
        fs = admin.create_topics(
            [NewTopic(topic, partitions, replication, config=dict(config or {}))],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        try:
            fs[topic].result(timeout)
        except Exception as e:
            err = e.args[0] if e.args else None
            if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                fail("create topic %s (%d partitions, replication %d): %s"
                     % (topic, partitions, replication, e))

    # -- ZooKeeper under the chroot ------------------------------------------

    def znode(self, path):
        """The data of CHROOT + path, or None."""
        return self.zk.get(CHROOT + path)

    def znode_children(self, path):
        """The children of CHROOT + path, or None."""
        return self.zk.children(CHROOT + path)


# -- load and read-back, shared by the cluster tests --------------------------


class Writer(threading.Thread):
    """
    An idempotent acks=all producer (confluent-kafka) in a thread, writing
    b"<wid>-<seq>" for seq = 0, 1, 2, ... to partition seq % partitions
    until stopping is set. Keeps what was acknowledged (value -> partition),
    failed deliveries by error, and the worst send-to-acknowledgement
    latency (reset it to time a phase).
    """

    def __init__(self, boot, topic, partitions=1, wid=0, **conf):
        super().__init__(daemon=True)
        self.boot = boot
        self.topic = topic
        self.partitions = partitions
        self.wid = wid
        self.conf = conf
        self.acked = {}
        self.errors = {}
        self.failed = 0
        self.worst = 0.0
        self.sent = 0
        self.unflushed = None
        self.fatal = None
        self.stopping = threading.Event()

    def run(self):
        from confluent_kafka import Producer

        conf = {"bootstrap.servers": self.boot, "enable.idempotence": True,
                "acks": "all", "linger.ms": 2, "message.timeout.ms": 300000,
                "request.timeout.ms": 10000, "socket.timeout.ms": 10000,
                "log_level": 2}
        conf.update(self.conf)
        p = Producer(conf)

        def cb(err, msg, t0):
            if err:
                self.failed += 1
                self.errors[str(err)] = self.errors.get(str(err), 0) + 1
                return
            self.acked[msg.value()] = msg.partition()
            self.worst = max(self.worst, time.monotonic() - t0)

        from confluent_kafka import KafkaException

        try:
            while not self.stopping.is_set():
                t0 = time.monotonic()
                try:
                    p.produce(self.topic, value=b"%d-%d" % (self.wid, self.sent),
                              partition=self.sent % self.partitions,
                              on_delivery=lambda e, m, t0=t0: cb(e, m, t0))
                    self.sent += 1
                except BufferError:
                    pass
                p.poll(0.002)
            self.unflushed = p.flush(300)
        except KafkaException as e:
            # A fatal producer error (librdkafka gives up on the producer):
            # kept for the test to report, as the broker's answer caused it.
            self.fatal = str(e)
            self.errors["fatal: " + str(e)] = 1
            self.failed += 1

    def stop(self):
        """Stops writing, waits for the last acknowledgements; fails on a hang."""
        self.stopping.set()
        self.join(330)
        if self.is_alive():
            fail("writer %d did not finish" % self.wid)

    @staticmethod
    def seq(value):
        return int(value.split(b"-")[1])


def read_partition(boot, topic, partition, timeout=120):
    """[(offset, value)] of every record below the high watermark."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": boot, "group.id": "read-back",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    _, high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
    c.assign([TopicPartition(topic, partition, 0)])
    got = []
    deadline = time.time() + timeout
    while (not got or got[-1][0] < high - 1) and high > 0 and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append((m.offset(), m.value()))
    c.close()
    return got


def partition_log(collector, topic, partition):
    """The bytes of every .log segment of a replica, in order."""
    d = collector.partition_dir(topic, partition)
    data = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                data += fh.read()
    return data
