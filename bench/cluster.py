#!/usr/bin/python3
"""Cluster benchmark: a real ZooKeeper and three collectors on loopback.

    bench/cluster.py BUILD_DIR [--rounds N] [--records N]

1. Throughput, side by side in one run: `tributary bench produce` to a
   topic with replication factor 1 and acks=1, then to one with replication
   factor 3 and idempotent acks=all (brokers with min.insync.replicas=2), alternating for
   --rounds rounds. Each round writes to new topics and the page cache is
   synced before it, so that rounds do not pay for each other's writeback.
   Prints each round, the medians and their ratio.
2. Failover: an idempotent acks=all producer writes one record at a time;
   the partition's leader is SIGKILLed; prints the time from the kill to the
   first acknowledged produce after it (zookeeper.session.timeout.ms=6000).
3. Expansion (--move-mb, default 1024): a partition of that size (one
   replica) is moved onto a fourth broker with `tributary cluster reassign`,
   unthrottled, then back with --throttle (--throttle-mb MB/s); prints how
   long each move took, and the p99 latency of a rate-limited producer
   writing to another topic of the same brokers meanwhile.

--inter-broker runs instead RF=3 acks=all rounds alternating between that
cluster (inter-broker listener PLAINTEXT) and a second one on the same
ZooKeeper whose inter-broker listener is SASL_SSL (SCRAM-SHA-512, certificates
from a CA made with openssl); the client writes over PLAINTEXT to both, so
the difference is what encrypting and authenticating replication costs.
Then, per cluster and round, a follower of a new RF=3 partition is stopped,
--catch-up-records records are written with acks=1, and the follower is
restarted and timed until it is back in the ISR: the rate at which a
follower copies over each protocol.

All three collectors share this machine's cores and disk, so replication
factor 3 writes three times the bytes on the same hardware: the ratio is a
floor for what separate machines give. Everything is started in a temporary
directory and stopped on exit.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import cluster  # noqa: E402
import harness  # noqa: E402


def bench(tool, boot, topic, records, acks):
    argv = [tool, "bench", "produce", "-b", boot, "-t", topic, "-n",
            str(records), "-s", "100", "--acks", acks, "--timeout", "300"]
    if acks == "all":
        argv.append("--idempotent")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=330)
    m = re.search(r"([0-9]+) records/s, ([0-9.]+) MB/s", out.stdout)
    lat = re.search(r"p50 ([0-9]+) p99 ([0-9]+)", out.stdout)
    if out.returncode != 0 or not m:
        harness.fail("bench failed: %s %s" % (out.stdout, out.stderr))
    return int(m.group(1)), float(m.group(2)), int(lat.group(1)), int(lat.group(2))


def throughput(cl, tool, rounds, records):
    boot = cl.bootstrap
    rows = {"rf1": [], "rf3": []}
    for r in range(rounds):
        for name, rf, acks in (("rf1", 1, "1"), ("rf3", 3, "all")):
            topic = "%s-%d" % (name, r)
            cl.create_topic(topic, partitions=3, replication=rf)
            cl.wait_isr(topic, 0, size=rf, timeout=60)
            subprocess.run(["sync"], check=False)
            rec_s, mb_s, p50, p99 = bench(tool, boot, topic, records, acks)
            rows[name].append(rec_s)
            print("round %d  %-22s %9d records/s  %7.1f MB/s  p50 %6.1f ms  p99 %6.1f ms" %
                  (r + 1, "RF=%d acks=%s" % (rf, acks), rec_s, mb_s, p50 / 1000, p99 / 1000),
                  flush=True)
    m1 = statistics.median(rows["rf1"])
    m3 = statistics.median(rows["rf3"])
    print("median   RF=1 acks=1 %d records/s, RF=3 acks=all %d records/s: ratio %.2f" %
          (m1, m3, m3 / m1), flush=True)


def secure_cluster(ws, zk, certs, chroot):
    """
    Three brokers whose inter-broker listener INTERNAL is SASL_SSL (SCRAM-
    SHA-512 user 'broker', created with --add-scram), with a PLAINTEXT
    listener for the benchmark's client; shares ZooKeeper 'zk' under 'chroot'.
    """
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="broker" password="broker-secret";')
    cl = cluster.Cluster(ws, zk=zk, settings={
        "zookeeper.connect": zk.connect_string + chroot,
        "zookeeper.session.timeout.ms": "6000",
        "replica.lag.time.max.ms": "10000",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL",
        "inter.broker.listener.name": "INTERNAL",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.internal.scram-sha-512.sasl.jaas.config": jaas,
        "ssl.keystore.location": os.path.join(certs, "broker.keystore.pem"),
        "ssl.truststore.location": os.path.join(certs, "ca.crt"),
    })
    for i in (1, 2, 3):
        c = cl._new_broker(i)
        c.name = "secure-broker-%d" % i
        c.data_dir += "-secure"
        c.log_path = c.log_path.replace("broker-", "secure-broker-")
        c.sets["listeners"] = "PLAINTEXT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d" % (
            c.port, harness.free_port())
        subprocess.run([harness.collector_binary(), "--set", "log.dirs=" + c.data_dir, "--add-scram",
                        "SCRAM-SHA-512=[name=broker,password=broker-secret]"], check=True,
                       capture_output=True, timeout=60)
        c.start()
    cl.wait_brokers(timeout=60)
    return cl


def interbroker(ws, plain, tool, rounds, records, catch_up_records):
    """RF=3 acks=all rounds alternating between 'plain' and a SASL_SSL cluster."""
    certs = ws.file("certs")
    os.makedirs(certs)
    harness.make_ca(certs, "ca")
    harness.sign(certs, "ca", "broker", "/CN=localhost", harness.SERVER_EXT, 1)
    with open(os.path.join(certs, "broker.keystore.pem"), "wb") as f:
        for part in ("broker.key", "broker.crt", "ca.crt"):
            with open(os.path.join(certs, part), "rb") as g:
                f.write(g.read())
    secure = secure_cluster(ws, plain.zk, certs, "/secure")
    rows = {"PLAINTEXT": [], "SASL_SSL": []}
    for r in range(rounds):
        for name, cl in (("PLAINTEXT", plain), ("SASL_SSL", secure)):
            topic = "ib-%d" % r
            cl.create_topic(topic, partitions=3, replication=3)
            cl.wait_isr(topic, 0, size=3, timeout=60)
            subprocess.run(["sync"], check=False)
            rec_s, mb_s, p50, p99 = bench(tool, cl.bootstrap, topic, records, "all")
            rows[name].append(rec_s)
            print("round %d  inter-broker %-9s RF=3 acks=all %9d records/s  %7.1f MB/s  "
                  "p50 %6.1f ms  p99 %6.1f ms" % (r + 1, name, rec_s, mb_s, p50 / 1000, p99 / 1000),
                  flush=True)
    mp = statistics.median(rows["PLAINTEXT"])
    ms = statistics.median(rows["SASL_SSL"])
    print("median   inter-broker PLAINTEXT %d records/s, SASL_SSL %d records/s: ratio %.2f" %
          (mp, ms, ms / mp), flush=True)
    # Catch-up: how fast a restarted follower copies what it missed.
    rows = {"PLAINTEXT": [], "SASL_SSL": []}
    for r in range(rounds):
        for name, cl in (("PLAINTEXT", plain), ("SASL_SSL", secure)):
            mb, secs = catch_up(cl, tool, "catch-up-%d" % r, catch_up_records)
            rows[name].append(mb / secs)
            print("round %d  inter-broker %-9s follower catch-up %7.1f MB in %5.1f s: %6.1f MB/s" %
                  (r + 1, name, mb, secs, mb / secs), flush=True)
    mp = statistics.median(rows["PLAINTEXT"])
    ms = statistics.median(rows["SASL_SSL"])
    print("median   catch-up PLAINTEXT %.1f MB/s, SASL_SSL %.1f MB/s: ratio %.2f" % (mp, ms, ms / mp),
          flush=True)


def catch_up(cl, tool, topic, records):
    """
    Stops a follower of a new RF=3 partition, writes 'records' 100 B records
    with acks=1, restarts it and times it back into the ISR. Returns (MB of
    the leader's log, seconds from the restart).
    """
    cl.create_topic(topic, partitions=1, replication=3)
    cl.wait_isr(topic, 0, size=3, timeout=60)
    leader = cl.wait_leader(topic, 0)
    follower = max(i for i in cl.live() if i != leader)
    cl.stop(follower)
    cl.wait_isr(topic, 0, size=2, timeout=60)
    bench(tool, cl.bootstrap, topic, records, "1")
    subprocess.run(["sync"], check=False)
    mb = sum(os.path.getsize(os.path.join(cl.broker(leader).partition_dir(topic, 0), f))
             for f in os.listdir(cl.broker(leader).partition_dir(topic, 0)) if f.endswith(".log")) / 1e6
    t0 = time.monotonic()
    cl.restart(follower)
    cl.wait_isr(topic, 0, size=3, timeout=600)
    return mb, time.monotonic() - t0


def failover(cl):
    from confluent_kafka import Producer

    cl.create_topic("failover", partitions=1, replication=3)
    cl.wait_isr("failover", 0, size=3, timeout=60)
    leader = cl.wait_leader("failover", 0)
    p = Producer({"bootstrap.servers": cl.bootstrap, "acks": "all",
                  "enable.idempotence": True, "linger.ms": 0,
                  "request.timeout.ms": 5000, "socket.timeout.ms": 5000,
                  "message.timeout.ms": 60000})
    acked = []

    def cb(err, msg):
        if err is None:
            acked.append(time.monotonic())

    for _ in range(50):
        p.produce("failover", b"warm", partition=0, on_delivery=cb)
    p.flush(30)
    t_kill = time.monotonic()
    cl.kill(leader)
    deadline = t_kill + 60
    while time.monotonic() < deadline:
        p.produce("failover", b"x", partition=0, on_delivery=cb)
        p.poll(0.01)
        if acked and acked[-1] > t_kill:
            break
    p.flush(30)
    first = min(t for t in acked if t > t_kill)
    print("failover SIGKILL of leader %d -> first acknowledged produce: %.2f s "
          "(zookeeper.session.timeout.ms=6000)" % (leader, first - t_kill), flush=True)


class SideProducer(threading.Thread):
    """acks=all writes, 2,000 a second, timing each acknowledgement."""

    def __init__(self, boot, topic):
        super().__init__(daemon=True)
        self.boot, self.topic = boot, topic
        self.lat = []
        self.stopping = threading.Event()

    def run(self):
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.boot, "acks": "all", "linger.ms": 0,
                      "log_level": 2})

        def cb(err, msg, t0):
            if err is None:
                self.lat.append(time.monotonic() - t0)

        nxt = time.monotonic()
        while not self.stopping.is_set():
            t0 = time.monotonic()
            if t0 >= nxt:
                p.produce(self.topic, b"x" * 100,
                          on_delivery=lambda e, m, t0=t0: cb(e, m, t0))
                nxt += 0.0005
            p.poll(max(0.0, min(0.0005, nxt - time.monotonic())))
        p.flush(60)

    def stop(self):
        """Stops; returns the p99 acknowledgement latency in ms."""
        self.stopping.set()
        self.join(90)
        lat = sorted(self.lat)
        return lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")


def move(cl, tool, ws, mb, throttle_mb):
    size = 1000
    n = mb * 1024 * 1024 // size
    cl.create_topic("big", partitions=1, replication=1)
    src = cl.wait_leader("big", 0)
    out = subprocess.run([tool, "bench", "produce", "-b", cl.bootstrap, "-t", "big",
                          "-n", str(n), "-s", str(size), "--acks", "1",
                          "--timeout", "600"], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        harness.fail("filling the partition failed: %s %s" % (out.stdout, out.stderr))
    on_disk = len(cluster.partition_log(cl.broker(src), "big", 0))
    new = cl.add_broker()
    cl.create_topic("side", partitions=1, replication=2)
    for label, frm, to, throttle in (("unthrottled", src, new, 0),
                                     ("throttled", new, src, throttle_mb)):
        plan = os.path.join(ws.path, "move-%s.json" % label)
        with open(plan, "w") as f:
            f.write('{"version":1,"partitions":[{"topic":"big","partition":0,'
                    '"replicas":[%d]}]}' % to)
        side = SideProducer(cl.bootstrap, "side")
        side.start()
        time.sleep(2)
        argv = [tool, "cluster", "reassign", "-b", cl.bootstrap, "--plan", plan, "--execute"]
        if throttle:
            argv += ["--throttle", str(throttle * 1024 * 1024)]
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            harness.fail("reassign failed: %s %s" % (r.stdout, r.stderr))
        while True:
            r = subprocess.run([tool, "cluster", "reassign", "-b", cl.bootstrap, "--plan",
                                plan, "--verify"], capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                break
            if time.monotonic() - t0 > 1800:
                harness.fail("the %s move did not finish" % label)
            time.sleep(0.25)
        secs = time.monotonic() - t0
        p99 = side.stop()
        print("move %-11s %.0f MB from broker %d to %d: %.1f s (%.0f MB/s)%s; side "
              "producer p99 %s" %
              (label, on_disk / 1e6, frm, to, secs, on_disk / 1e6 / secs,
               " at --throttle %d MB/s" % throttle if throttle else "",
               "%.1f ms" % p99),
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--move-mb", type=int, default=1024)
    ap.add_argument("--throttle-mb", type=int, default=100)
    ap.add_argument("--only-move", action="store_true")
    ap.add_argument("--catch-up-records", type=int, default=0,
                    help="with --inter-broker: records a stopped follower must copy "
                         "(default: --records)")
    ap.add_argument("--inter-broker", action="store_true",
                    help="only RF=3 acks=all throughput with a PLAINTEXT and a SASL_SSL "
                         "inter-broker listener, alternating")
    args = ap.parse_args()
    build = os.path.abspath(args.builddir)
    os.environ["top_builddir"] = build
    os.environ.setdefault("top_srcdir", os.path.abspath(os.path.join(HERE, "..")))
    tool = os.path.join(build, "tools", "tributary")

    def body(ws):
        cl = cluster.Cluster(ws, settings={
            "zookeeper.session.timeout.ms": "6000",
            "replica.lag.time.max.ms": "10000",
            "num.partitions": "3",
        }).start()
        if args.inter_broker:
            interbroker(ws, cl, tool, args.rounds, args.records,
                        args.catch_up_records or args.records)
            return
        if not args.only_move:
            throughput(cl, tool, args.rounds, args.records)
            failover(cl)
        if args.move_mb > 0:
            move(cl, tool, ws, args.move_mb, args.throttle_mb)

    return harness.main(body, name="bench-cluster", timeout=3600)


if __name__ == "__main__":
    sys.exit(main())
