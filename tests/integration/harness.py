#!/usr/bin/python3
"""Shared helpers for the integration tests: run the real collector binary.

A test builds a Workspace (a temporary directory that is always removed),
starts one or more Collector processes in it, each on its own free port on
127.0.0.1 and its own data directory, and lets harness.main() run the body
under a watchdog. Whatever happens, every collector the test started is
stopped (SIGTERM, then SIGKILL after 10 s) and the directory is removed.

The binary is $top_builddir/collector/tributary-collector; tests/Makefile.inc
exports top_builddir and top_srcdir to every test. Run alone, a test falls
back to the source tree root for both.

Used as a program, it wraps a shell or node test:

    harness.py exec [--set key=value]... [--config FILE] -- COMMAND...
        starts a collector, runs COMMAND with TR_BROKER, TR_PORT,
        TR_DATA_DIR, TR_WORK_DIR, TR_COLLECTOR and TR_COLLECTOR_LOG in its
        environment, then stops the collector and checks it exited cleanly.
    harness.py free-port
        prints a free TCP port on 127.0.0.1.
"""

import ctypes
import errno
import faulthandler
import glob
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

START_TIMEOUT = 30.0  # sanitizer builds start slowly on a loaded machine
STOP_TIMEOUT = 10.0

SANITIZER_MARKS = (
    b"ERROR: AddressSanitizer",
    b"ERROR: LeakSanitizer",
    b"runtime error:",
    b"ThreadSanitizer",
)


class TestFailure(Exception):
    """A check did not hold; the message says which."""


class Timeout(Exception):
    """The test's watchdog fired."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    """Raises TestFailure(msg) unless cond holds; prints 'ok - msg' if it does."""
    if not cond:
        raise TestFailure(msg)
    print("ok - " + msg, flush=True)


def note(msg):
    print("# " + msg, flush=True)


def srcdir():
    d = os.environ.get("top_srcdir")
    if d:
        return os.path.abspath(d)
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def builddir():
    d = os.environ.get("top_builddir")
    if d:
        return os.path.abspath(d)
    return srcdir()


def collector_binary():
    path = os.path.join(builddir(), "collector", "tributary-collector")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fail("collector binary not found at %s (build it, or set top_builddir)" % path)
    return path


def in_distcheck():
    """True when running under 'make distcheck' (build dir srcdir/_build/sub)."""
    b = os.path.realpath(builddir())
    s = os.path.realpath(srcdir())
    return b == os.path.join(s, "_build", "sub")



def node_modules():
    """The node_modules holding kafkajs, or None (as test_kafkajs.sh looks)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.environ.get("TR_NODE_MODULES"), os.path.join(here, "node_modules"),
              os.path.join(builddir(), "tests", "integration", "node_modules")):
        if d and os.path.isfile(os.path.join(d, "kafkajs", "package.json")):
            return os.path.abspath(d)
    return None


def close_client(client, what, timeout=60):
    """
    Closes a confluent-kafka client, waiting at most 'timeout' seconds.
    librdkafka 2.0.2 can hang for ever in rd_kafka_destroy() joining a
    broker thread whose connection died just before (seen after a broker
    restart); a test has checked what it checks by then, so such a client
    is noted and abandoned instead of hanging the test.
    """
    t = threading.Thread(target=client.close, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        note("%s: close() did not return within %d s (librdkafka's destroy "
             "hang); the client is abandoned" % (what, timeout))


def require_kafkajs(name):
    """node_modules for a kafkajs test; skips it under distcheck without one."""
    modules = node_modules()
    if modules is None or shutil.which("node") is None:
        if in_distcheck():
            print("SKIP: %s: node or kafkajs missing" % name)
            raise SystemExit(77)
        fail("node or kafkajs missing (run scripts/setup.sh, or npm ci in tests/integration)")
    return modules

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent():
    """
    Runs in the child before exec: SIGKILL it if the test process dies,
    and give it a process group of its own. A SIGSTOPped child must stay
    stopped: when the test runs in an orphaned process group (its job's
    shell gone), any other child's exit would make the kernel send every
    stopped member of that group SIGHUP and SIGCONT.
    """
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def tail(data, n=60):
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


class ChildProcess:
    """
    Crash-style control of a server child held in self.proc, shared by the
    collectors here and the ZooKeeper server in cluster.py (which set
    self.name, self.proc and self.paused).
    """

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def spawn(self, argv):
        """Starts argv with its output appended to self.log_path, marked by start number."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(("=== start %d: %s\n" % (self.starts, " ".join(argv))).encode())
            log.flush()
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.ws.path,
                preexec_fn=_die_with_parent,
            )
        self.paused = False

    def kill(self):
        """SIGKILL, as a crash would; the data directory stays."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.paused = False

    def pause(self):
        """SIGSTOP: the process hangs (its sockets stay open) until resume()."""
        if not self.alive():
            fail("%s: not running, cannot pause it" % self.name)
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        """SIGCONT after pause()."""
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False


class Collector(ChildProcess):
    """One collector process with its own port and data directory."""

    def __init__(self, ws, name, sets=None, config=None, data_dir=None, port=None):
        self.ws = ws
        self.name = name
        self.sets = dict(sets or {})
        self.config = config
        self.data_dir = data_dir or os.path.join(ws.path, name + "-data")
        self.port = port
        self.log_path = os.path.join(ws.path, name + ".stderr")
        self.proc = None
        self.starts = 0
        self.paused = False

    @property
    def broker(self):
        return "127.0.0.1:%d" % self.port

    def argv(self):
        argv = [collector_binary()]
        if self.config:
            argv += ["--config", self.config]
        sets = {
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "log.dirs": self.data_dir,
        }
        sets.update(self.sets)
        for k, v in sets.items():
            argv += ["--set", "%s=%s" % (k, v)]
        return argv

    def log(self):
        """Everything the collector wrote to stderr, over all its runs."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def start(self, timeout=START_TIMEOUT):
        """Starts the process and waits until its port accepts connections."""
        if self.alive():
            fail("%s: already running" % self.name)
        if self.port is None:
            self.port = free_port()
        os.makedirs(os.path.dirname(self.data_dir), exist_ok=True)
        self.spawn(self.argv())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(
                    "%s exited with status %d while starting; its stderr:\n%s"
                    % (self.name, self.proc.returncode, tail(self.log()))
                )
            if port_accepts(self.port):
                note("%s listening on %s (pid %d)" % (self.name, self.broker, self.proc.pid))
                return self
            time.sleep(0.05)
        self.kill()
        fail(
            "%s did not accept connections on %s within %.0f s; its stderr:\n%s"
            % (self.name, self.broker, timeout, tail(self.log()))
        )

    def stop(self, sig=signal.SIGTERM, check_clean=True):
        """
        Sends 'sig', waits up to 10 s, then SIGKILLs. Returns the exit
        status. With check_clean, anything but status 0 within the time, or
        a sanitizer report in stderr, is a test failure.
        """
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(sig)
            if self.paused:
                proc.send_signal(signal.SIGCONT)  # a stopped process acts on 'sig' only once continued
            self.paused = False
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.proc = None
                if check_clean:
                    fail(
                        "%s did not exit within %.0f s of %s; its stderr:\n%s"
                        % (self.name, STOP_TIMEOUT, signal.Signals(sig).name, tail(self.log()))
                    )
                return proc.returncode
        self.proc = None
        rc = proc.returncode
        if check_clean:
            if rc != 0:
                fail(
                    "%s exited with status %d after %s; its stderr:\n%s"
                    % (self.name, rc, signal.Signals(sig).name, tail(self.log()))
                )
            self.check_sanitizers()
        return rc

    def restart(self, timeout=START_TIMEOUT):
        """Starts again on the same port and data directory."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(timeout=max(1.0, deadline - time.monotonic()))
            except TestFailure:
                # The old socket may linger for a moment; retry a few times.
                if time.monotonic() >= deadline or b"in use" not in self.log().lower():
                    raise
                time.sleep(0.5)

    def check_sanitizers(self):
        log = self.log()
        for mark in SANITIZER_MARKS:
            if mark in log:
                fail("%s: sanitizer report in stderr:\n%s" % (self.name, tail(log, 80)))

    def partition_dir(self, topic, partition):
        return os.path.join(self.data_dir, "%s-%d" % (topic, partition))


class Workspace:
    """A temporary directory and the collectors started in it."""

    def __init__(self, name):
        self.name = name
        self.path = tempfile.mkdtemp(prefix="tributary-it-%s-" % name)
        self.collectors = []
        self.cleanups = []

    def collector(self, name="collector", **kw):
        c = Collector(self, name, **kw)
        self.collectors.append(c)
        return c

    def file(self, name):
        return os.path.join(self.path, name)

    def on_close(self, fn):
        """
        Has close() call fn(show_logs) after it stopped the collectors, last
        registered first; for other servers a test runs (cluster.ZooKeeper).
        """
        self.cleanups.append(fn)

    def close(self, show_logs=False):
        for c in self.collectors:
            try:
                c.stop(check_clean=False)
            except Exception:
                c.kill()
            if show_logs:
                print("--- %s stderr (tail) ---\n%s" % (c.name, tail(c.log())), flush=True)
        for fn in reversed(self.cleanups):
            try:
                fn(show_logs)
            except Exception:
                traceback.print_exc(file=sys.stdout)
        if show_logs:
            # Other programs a test ran (agents, exporters) log to *.stderr.
            for p in sorted(glob.glob(os.path.join(self.path, "*.stderr"))):
                with open(p, "rb") as f:
                    print("--- %s (tail) ---\n%s" % (os.path.basename(p), tail(f.read(), 150)), flush=True)
        if show_logs and os.environ.get("TR_KEEP_FAILED"):
            print("# workspace kept: %s" % self.path, flush=True)
            return
        shutil.rmtree(self.path, ignore_errors=True)


def _alarm(signum, frame):
    raise Timeout("watchdog fired")


def main(body, name=None, timeout=300):
    """
    Runs body(ws) with a fresh Workspace under a watchdog of 'timeout'
    seconds. Returns the process exit status: 0 pass, 1 fail, 77 skip (when
    body raises SystemExit(77)).
    """
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    ws = Workspace(name)
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _alarm)
    signal.alarm(timeout)
    # SIGALRM reaches Python code only between bytecodes: a test blocked in
    # a client library's C code (librdkafka joining its threads) would never
    # see it. A minute later faulthandler's own thread prints every Python
    # stack and exits (status 1); the collectors die with their parent.
    faulthandler.dump_traceback_later(timeout + 60, exit=True, file=sys.stdout)
    status = 1
    try:
        body(ws)
        for c in ws.collectors:
            if c.alive():
                c.stop()
        status = 0
    except TestFailure as e:
        print("FAIL: %s: %s" % (name, e), flush=True)
    except Timeout:
        print("FAIL: %s: did not finish within %d s" % (name, timeout), flush=True)
        traceback.print_exc(file=sys.stdout)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except Exception:
        print("FAIL: %s: unexpected exception" % name, flush=True)
        traceback.print_exc(file=sys.stdout)
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        ws.close(show_logs=(status not in (0, 77)))
    if status == 0:
        print("PASS: %s" % name, flush=True)
    return status


# ---------------------------------------------------------------------------
# Certificates made with the openssl command (TLS tests).

def openssl(*args, cwd):
    """Runs openssl in 'cwd'; a failure fails the test. Returns its stdout."""
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        fail("openssl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def make_ca(d, name):
    """A self-signed CA: d/name.key and d/name.crt."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "30", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-subj", "/CN=%s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def sign(d, ca, name, subj, ext, serial):
    """d/name.key and d/name.crt, signed by CA 'ca', with the extensions in 'ext'."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", subj, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-set_serial", str(serial), "-days", "30", "-sha256", "-extfile", name + ".ext",
            "-out", name + ".crt", cwd=d)


# Server certificates that cover both ways the tests reach a collector.
SERVER_EXT = ("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
# Client certificates (mutual TLS).
CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


def server_keystore(d, serial, ca="ca", name="server"):
    """(Re)makes d/name.crt with 'serial', signed by 'ca', and the PEM keystore
    d/name.keystore.pem (key, certificate, CA), replaced atomically."""
    sign(d, ca, name, "/CN=localhost", SERVER_EXT, serial)
    data = b""
    for part in (name + ".key", name + ".crt", ca + ".crt"):
        with open(os.path.join(d, part), "rb") as f:
            data += f.read()
    tmp = os.path.join(d, name + ".keystore.pem.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(d, name + ".keystore.pem"))


def tls_connect(port, certs, ca="ca"):
    """A TLS connection to 127.0.0.1:port trusting d/ca.crt; returns
    (socket, serial of the certificate the server presented)."""
    import ssl

    ctx = ssl.create_default_context(cafile=os.path.join(certs, ca + ".crt"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    der = s.getpeercert(binary_form=True)
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                       capture_output=True)
    return s, int(r.stdout.decode().strip().split("=")[1], 16)


# ---------------------------------------------------------------------------
# librdkafka helpers (imported lazily: not every test has confluent_kafka).

def add_scram_users(data_dir, specs):
    """
    Creates SCRAM users before a collector's first start with
    tributary-collector --add-scram, Kafka's kafka-storage syntax:
    'SCRAM-SHA-256=[name=alice,password=alice-secret]'.
    """
    argv = [collector_binary(), "--set", "log.dirs=" + data_dir]
    for spec in specs:
        argv += ["--add-scram", spec]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("--add-scram exited %d: %s" % (r.returncode, r.stderr))


def produce_records(broker, topic, records, partition=0, timeout=60, **conf):
    """
    Produces [(key, value)] with acks=all to one partition, one flush per
    call. Returns the offsets from the delivery reports; any failed delivery
    is a test failure.
    """
    from confluent_kafka import Producer

    cfg = {"bootstrap.servers": broker, "acks": "all", "message.timeout.ms": int(timeout * 1000)}
    cfg.update(conf)
    p = Producer(cfg)
    offsets = [None] * len(records)
    errors = []

    def cb(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                offsets[i] = msg.offset()
        return on_delivery

    for i, (key, value) in enumerate(records):
        while True:
            try:
                p.produce(topic, key=key, value=value, partition=partition, on_delivery=cb(i))
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(timeout)
    if left or errors or None in offsets:
        fail("produce to %s: %d not flushed, errors: %s" % (topic, left, "; ".join(errors[:5])))
    return offsets


def read_partition(broker, topic, partition=0, timeout=120, **conf):
    """
    Reads one partition from its log start to its high watermark with an
    assign()ed librdkafka consumer (no group protocol, CRCs checked); 'conf'
    adds client settings (security.protocol, ...).
    Returns (low, high, [(offset, key, value)]).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    cfg = {
        "bootstrap.servers": broker,
        "group.id": "tributary-it-unused",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "check.crcs": True,
        "fetch.wait.max.ms": 100,
    }
    cfg.update(conf)
    c = Consumer(cfg)
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
        out = []
        if hi <= lo:
            return lo, hi, out
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while not out or out[-1][0] < hi - 1:
            if time.monotonic() > deadline:
                fail("reading %s-%d timed out with %d records, high watermark %d" % (topic, partition, len(out), hi))
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                fail("consumer error on %s-%d: %s" % (topic, partition, msg.error()))
            out.append((msg.offset(), msg.key(), msg.value()))
        return lo, hi, out
    finally:
        c.close()


# ---------------------------------------------------------------------------
# On-disk log segments (RecordBatch v2 headers), for checks that look at the
# files the collector wrote.

BATCH_HEADER = struct.Struct(">qiiBIhiqqqhii")  # 61 bytes


def segment_files(part_dir):
    return sorted(glob.glob(os.path.join(part_dir, "*.log")))


def read_batches(path):
    """Yields dicts for each complete batch header in a .log file."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + BATCH_HEADER.size <= len(data):
        (base, length, epoch, magic, crc, attrs, last_delta, base_ts, max_ts,
         pid, pepoch, bseq, count) = BATCH_HEADER.unpack_from(data, pos)
        if length < BATCH_HEADER.size - 12 or pos + 12 + length > len(data):
            break
        yield {
            "pos": pos,
            "size": 12 + length,
            "base_offset": base,
            "last_offset": base + last_delta,
            "magic": magic,
            "crc": crc,
            "attributes": attrs,
            "compression": attrs & 7,
            "records": count,
            "max_timestamp": max_ts,
            "valid_crc": crc32c(data[pos + 21 : pos + 12 + length]) == crc,
        }
        pos += 12 + length


def partition_batches(part_dir):
    out = []
    for path in segment_files(part_dir):
        for b in read_batches(path):
            b["file"] = path
            out.append(b)
    return out


# ---------------------------------------------------------------------------
# Wire encoding by hand, for tests that must send what no client would.

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63))


def read_uvarint(buf, pos):
    shift = 0
    val = 0
    while True:
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        if not b & 0x80:
            return val, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def kstring(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def compact_string(s):
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def request(api_key, api_version, correlation_id, body, client_id="tributary-it", flexible=False):
    """A framed request: header v1 (v2 when flexible), then 'body'."""
    hdr = struct.pack(">hhi", api_key, api_version, correlation_id) + kstring(client_id)
    if flexible:
        hdr += b"\x00"  # no tagged fields
    msg = hdr + body
    return struct.pack(">i", len(msg)) + msg


def record_batch(records, base_timestamp=None, corrupt_crc=False, compression=0):
    """
    RecordBatch v2 with uncompressed records [(key, value, [(hk, hv)...])].
    With corrupt_crc the stored CRC is off by one bit.
    """
    ts = int(time.time() * 1000) if base_timestamp is None else base_timestamp
    body = bytearray()
    for i, (key, value, headers) in enumerate(records):
        r = bytearray(b"\x00")  # attributes
        r += varint(0)  # timestamp delta
        r += varint(i)  # offset delta
        if key is None:
            r += varint(-1)
        else:
            r += varint(len(key)) + key
        if value is None:
            r += varint(-1)
        else:
            r += varint(len(value)) + value
        r += varint(len(headers))
        for hk, hv in headers:
            hk = hk.encode() if isinstance(hk, str) else hk
            r += varint(len(hk)) + hk
            r += varint(-1) if hv is None else varint(len(hv)) + hv
        body += varint(len(r)) + r
    after_crc = struct.pack(
        ">hiqqqhii", compression, len(records) - 1, ts, ts, -1, -1, -1, len(records)
    ) + bytes(body)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 1
    batch_len = 4 + 1 + 4 + len(after_crc)  # epoch, magic, crc, rest
    return struct.pack(">qiiBI", 0, batch_len, -1, 2, crc) + after_crc


def produce_v7_body(topic, partition, records_bytes, acks=1, timeout_ms=10000):
    body = kstring(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition)
    body += struct.pack(">i", len(records_bytes)) + records_bytes
    return body


def parse_produce_v7_response(body):
    """Returns [(topic, partition, error, base_offset)] from a v7 response body."""
    out = []
    pos = 0
    (ntopics,) = struct.unpack_from(">i", body, pos)
    pos += 4
    for _ in range(ntopics):
        (tlen,) = struct.unpack_from(">h", body, pos)
        pos += 2
        topic = body[pos : pos + tlen].decode()
        pos += tlen
        (nparts,) = struct.unpack_from(">i", body, pos)
        pos += 4
        for _ in range(nparts):
            part, err, base, _lat, _lso = struct.unpack_from(">ihqqq", body, pos)
            pos += 30
            out.append((topic, part, err, base))
    return out


def list_offsets_v1_body(topic, partition, timestamp=-1):
    body = struct.pack(">i", -1)
    body += struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", partition, timestamp)
    return body


def parse_list_offsets_v1_response(body):
    """Returns [(topic, partition, error, timestamp, offset)]."""
    out = []
    pos = 0
    (ntopics,) = struct.unpack_from(">i", body, pos)
    pos += 4
    for _ in range(ntopics):
        (tlen,) = struct.unpack_from(">h", body, pos)
        pos += 2
        topic = body[pos : pos + tlen].decode()
        pos += tlen
        (nparts,) = struct.unpack_from(">i", body, pos)
        pos += 4
        for _ in range(nparts):
            part, err, ts, off = struct.unpack_from(">ihqq", body, pos)
            pos += 22
            out.append((topic, part, err, ts, off))
    return out


def parse_api_versions_v0(body):
    """Returns (error, {key: (min, max)}) from a v0-format body."""
    err, n = struct.unpack_from(">hi", body, 0)
    if n < 0 or 6 + 6 * n > len(body):
        raise ValueError("ApiVersions: bad array count %d for %d bytes" % (n, len(body)))
    keys = {}
    for i in range(n):
        k, lo, hi = struct.unpack_from(">hhh", body, 6 + 6 * i)
        keys[k] = (lo, hi)
    return err, keys


def parse_api_versions_v3(body):
    """Returns (error, {key: (min, max)}) from a v3 (flexible) body."""
    (err,) = struct.unpack_from(">h", body, 0)
    n1, pos = read_uvarint(body, 2)
    keys = {}
    for _ in range(max(0, n1 - 1)):
        k, lo, hi = struct.unpack_from(">hhh", body, pos)
        pos += 6
        pos = skip_tags(body, pos)
        keys[k] = (lo, hi)
    pos += 4  # throttle_time_ms
    pos = skip_tags(body, pos)
    if pos != len(body):
        raise ValueError("ApiVersions v3: %d trailing bytes" % (len(body) - pos))
    return err, keys


def skip_tags(buf, pos):
    n, pos = read_uvarint(buf, pos)
    for _ in range(n):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
    return pos


def parse_metadata_v1(data):
    """A Metadata v1 response body: [(error, topic, {partition: leader})]."""
    pos = 0
    (nb,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(nb):
        pos += 4  # node id
        (hl,) = struct.unpack_from(">h", data, pos)
        pos += 2 + hl + 4  # host, port
        (rl,) = struct.unpack_from(">h", data, pos)
        pos += 2 + max(rl, 0)  # rack
    pos += 4  # controller id
    (nt,) = struct.unpack_from(">i", data, pos)
    pos += 4
    topics = []
    for _ in range(nt):
        (terr, tl) = struct.unpack_from(">hh", data, pos)
        pos += 4
        name = data[pos:pos + max(tl, 0)].decode(errors="replace")
        pos += max(tl, 0) + 1  # is_internal
        (np,) = struct.unpack_from(">i", data, pos)
        pos += 4
        leaders = {}
        for _p in range(np):
            _perr, pid, leader = struct.unpack_from(">hii", data, pos)
            pos += 10
            for _arr in range(2):  # replicas, isr
                (k,) = struct.unpack_from(">i", data, pos)
                pos += 4 + 4 * k
            leaders[pid] = leader
        topics.append((terr, name, leaders))
    return topics


class Conn:
    """A raw client connection with bounded reads."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def response(self, correlation_id, flexible_header=False):
        """Reads one response, checks its correlation id, returns the body."""
        (size,) = struct.unpack(">i", self._recv_exact(4))
        if size < 4 or size > 64 << 20:
            raise ValueError("response size %d" % size)
        data = self._recv_exact(size)
        (corr,) = struct.unpack_from(">i", data, 0)
        if corr != correlation_id:
            raise ValueError("correlation id %d, expected %d" % (corr, correlation_id))
        pos = 4
        if flexible_header:
            pos = skip_tags(data, pos)
        return data[pos:]

    def closed_by_peer(self, timeout=10.0):
        """
        True if the peer closes the connection (EOF or reset) within
        'timeout' s; any bytes it sends first are read and discarded.
        """
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except OSError as e:
            return e.errno in (errno.ECONNRESET, errno.EPIPE)
        return False


def api_versions_v0(port, correlation_id=1):
    """Sends ApiVersions v0 on a fresh connection; returns (error, keys)."""
    with Conn(port) as c:
        c.send(request(18, 0, correlation_id, b""))
        return parse_api_versions_v0(c.response(correlation_id))


# ---------------------------------------------------------------------------
# DescribeLogDirs (API 35): kafka-python's codec and a raw one.

def kafka_python_describe_log_dirs(admin, node_id):
    """
    DescribeLogDirs to broker 'node_id' through a kafka-python
    KafkaAdminClient, null topics (every partition). kafka-python 2.0.2
    (Debian 12) has no describe_log_dirs, so the request and response
    schemas are declared here with kafka-python's own types (as users of that
    version do) and the version is the highest both sides offer (v1; its
    types cannot express the flexible v2+). Returns (version,
    [(error, log_dir, {(topic, partition): (size, lag, is_future)})]).
    """
    from kafka.protocol.api import Request, Response
    from kafka.protocol.types import Array, Boolean, Int16, Int32, Int64, Schema, String

    resp_schema = Schema(
        ("throttle_time_ms", Int32),
        ("log_dirs", Array(
            ("error_code", Int16),
            ("log_dir", String("utf-8")),
            ("topics", Array(
                ("name", String("utf-8")),
                ("partitions", Array(
                    ("partition_index", Int32),
                    ("partition_size", Int64),
                    ("offset_lag", Int64),
                    ("is_future_key", Boolean))))))))
    req_schema = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))

    class DescribeLogDirsResponse_v0(Response):
        API_KEY = 35
        API_VERSION = 0
        SCHEMA = resp_schema

    class DescribeLogDirsResponse_v1(Response):
        API_KEY = 35
        API_VERSION = 1
        SCHEMA = resp_schema

    class DescribeLogDirsRequest_v0(Request):
        API_KEY = 35
        API_VERSION = 0
        RESPONSE_TYPE = DescribeLogDirsResponse_v0
        SCHEMA = req_schema

    class DescribeLogDirsRequest_v1(Request):
        API_KEY = 35
        API_VERSION = 1
        RESPONSE_TYPE = DescribeLogDirsResponse_v1
        SCHEMA = req_schema

    versions = [DescribeLogDirsRequest_v0, DescribeLogDirsRequest_v1]
    version = admin._matching_api_version(versions)
    future = admin._send_request_to_node(node_id, versions[version](topics=None))
    admin._wait_for_futures([future])
    dirs = []
    for err, log_dir, topics in future.value.log_dirs:
        parts = {}
        for name, partitions in topics:
            for index, size, lag, future_key in partitions:
                parts[(name, index)] = (size, lag, future_key)
        dirs.append((err, log_dir, parts))
    return version, dirs


def describe_log_dirs_body(version, topics):
    """A request body; topics None (all) or [(topic, [partition, ...])]."""
    flex = version >= 2

    def arr(n):
        return uvarint(n + 1) if flex else struct.pack(">i", n)

    body = (uvarint(0) if flex else struct.pack(">i", -1)) if topics is None else arr(len(topics))
    for name, parts in topics or []:
        body += compact_string(name) if flex else kstring(name)
        body += arr(len(parts)) + b"".join(struct.pack(">i", p) for p in parts)
        body += b"\x00" if flex else b""
    return body + (b"\x00" if flex else b"")


def parse_describe_log_dirs(body, version):
    """
    Parses a response body strictly (no bytes left over). Returns
    (top_error, [(error, log_dir, total, usable,
    [(topic, partition, size, lag, is_future)])]).
    """
    flex = version >= 2
    pos = 4  # throttle_time_ms

    def count():
        nonlocal pos
        if flex:
            n, pos = read_uvarint(body, pos)
            return n - 1
        (n,) = struct.unpack_from(">i", body, pos)
        pos += 4
        return n

    def string():
        nonlocal pos
        if flex:
            n, pos = read_uvarint(body, pos)
            n -= 1
        else:
            (n,) = struct.unpack_from(">h", body, pos)
            pos += 2
        s = body[pos:pos + n].decode()
        pos += n
        return s

    def tags():
        nonlocal pos
        if flex:
            pos = skip_tags(body, pos)

    top = 0
    if version >= 3:
        (top,) = struct.unpack_from(">h", body, pos)
        pos += 2
    dirs = []
    for _ in range(count()):
        (err,) = struct.unpack_from(">h", body, pos)
        pos += 2
        log_dir = string()
        parts = []
        for _ in range(count()):
            name = string()
            for _ in range(count()):
                index, size, lag, fut = struct.unpack_from(">iqq?", body, pos)
                pos += 21
                tags()
                parts.append((name, index, size, lag, fut))
            tags()
        total = usable = -1
        if version >= 4:
            total, usable = struct.unpack_from(">qq", body, pos)
            pos += 16
        tags()
        dirs.append((err, log_dir, total, usable, parts))
    tags()
    if pos != len(body):
        raise ValueError("DescribeLogDirs v%d: %d trailing bytes" % (version, len(body) - pos))
    return top, dirs


def log_sizes(data_dir):
    """{(topic, partition): bytes of the *.log files} of a collector's data dir."""
    sizes = {}
    for d in glob.glob(os.path.join(data_dir, "*-*")):
        topic, _, index = os.path.basename(d).rpartition("-")
        if not os.path.isdir(d) or not index.isdigit():
            continue
        sizes[(topic, int(index))] = sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "*.log")))
    return sizes


# ---------------------------------------------------------------------------
# Command line, for shell and node tests.

def _exec_main(argv):
    import argparse

    p = argparse.ArgumentParser(prog="harness.py exec")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--config")
    p.add_argument("--name", default="collector")
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--stop-signal", default="TERM", choices=["TERM", "INT"])
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        p.error("no command")
    sets = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        sets[k] = v
    result = {"rc": 1}

    def body(ws):
        c = ws.collector(args.name, sets=sets, config=args.config)
        c.start()
        env = dict(os.environ)
        env.update(
            TR_BROKER=c.broker,
            TR_PORT=str(c.port),
            TR_DATA_DIR=c.data_dir,
            TR_WORK_DIR=ws.path,
            TR_COLLECTOR=collector_binary(),
            TR_COLLECTOR_LOG=c.log_path,
        )
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        try:
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result["rc"] = rc
        if rc == 77:
            raise SystemExit(77)
        if rc != 0:
            fail("%s exited with status %d" % (" ".join(cmd), rc))
        if not c.alive():
            fail("collector died during the test")
        sig = signal.SIGINT if args.stop_signal == "INT" else signal.SIGTERM
        c.stop(sig)
        print("ok - collector stopped cleanly on SIG%s" % args.stop_signal, flush=True)

    return main(body, name=os.path.basename(cmd[-1]), timeout=args.timeout)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "free-port":
        print(free_port())
        sys.exit(0)
    if len(sys.argv) >= 2 and sys.argv[1] == "exec":
        sys.exit(_exec_main(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
