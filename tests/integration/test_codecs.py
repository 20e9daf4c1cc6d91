#!/usr/bin/python3
"""Compression codecs with real clients: gzip, snappy, lz4 and zstd.

For every codec our build has (batch_dump --codecs), three producers write
to their own single-partition topic:

  - librdkafka (confluent-kafka) with compression.type=CODEC, idempotent;
  - kafka-python with compression_type=CODEC (needs python3-snappy,
    python3-lz4 or python3-zstandard; skipped with a reason without it);
  - our own tr_producer (producer_driver --codec CODEC).

Every batch the collector stored must carry a valid CRC (the producer's:
the CRC covers the attributes and the compressed bytes, so the batch is
stored exactly as produced) and the producer's codec in its attributes.
librdkafka sends a batch uncompressed when compressing would not shrink it,
and sends lz4 only when the broker lists FindCoordinator: both are allowed
for, and said so. Then each topic is read back by a confluent-kafka
consumer (check.crcs on), by kafka-python, and by batch_dump, which
decompresses the stored batches with our own codec code; all three must
return exactly the records that were produced, in order, with keys, values
and headers.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, fail, note  # noqa: E402

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
COUNT = 2000
BIG_AT = 700  # this record's value spans several codec blocks
FIND_COORDINATOR = 10

# kafka-python needs a Python module for each codec but gzip.
KAFKA_PYTHON_MODULE = {"gzip": None, "snappy": "snappy", "lz4": "lz4.frame", "zstd": "zstandard"}


def program(name):
    path = os.path.join(harness.builddir(), "tests", "integration", name)
    if not os.access(path, os.X_OK):
        fail("%s not built at %s" % (name, path))
    return path


def built_codecs():
    out = subprocess.run([program("batch_dump"), "--codecs"], stdout=subprocess.PIPE, check=True).stdout
    return [c for c in out.decode().split() if c != "none"]


def make_records(codec):
    """[(key, value, headers)]: compressible values with some variety."""
    records = []
    for i in range(COUNT):
        key = None if i % 17 == 0 else b"key-%05d" % (i % 211)
        filler = bytes((i * 7 + j // 5) % 26 + 97 for j in range(i % 300))
        value = b"%s payload %d " % (codec.encode(), i) + filler
        if i == BIG_AT:
            value = b"".join(b"line %06d of a long value\n" % j for j in range(8000))  # ~210 KB
        headers = [("seq", b"%d" % i), ("codec", codec.encode())]
        records.append((key, value, headers))
    return records


def produce_librdkafka(broker, topic, codec, records):
    from confluent_kafka import Producer

    p = Producer({
        "bootstrap.servers": broker,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": codec,
        "linger.ms": 20,
        "batch.num.messages": 150,  # many batches, not one
        "message.timeout.ms": 60000,
    })
    offsets = [None] * len(records)
    errors = []

    def report(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                offsets[i] = msg.offset()
        return on_delivery

    for i, (key, value, headers) in enumerate(records):
        while True:
            try:
                p.produce(topic, key=key, value=value, headers=headers, partition=0, on_delivery=report(i))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(120)
    if left or errors or None in offsets:
        fail("librdkafka %s: %d not flushed, errors: %s" % (codec, left, "; ".join(errors[:5])))
    if offsets != list(range(len(records))):
        fail("librdkafka %s: offsets are not 0..%d in order" % (codec, len(records) - 1))
    return records


def produce_kafka_python(broker, topic, codec, records):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=broker, acks=1, compression_type=codec, linger_ms=20,
                      max_in_flight_requests_per_connection=1, request_timeout_ms=30000)
    try:
        futures = [p.send(topic, key=k, value=v, headers=h, partition=0) for k, v, h in records]
        p.flush(timeout=120)
        offsets = [f.get(timeout=30).offset for f in futures]
    finally:
        p.close(timeout=10)
    if offsets != list(range(len(records))):
        fail("kafka-python %s: offsets are not 0..%d in order" % (codec, len(records) - 1))
    return records


def produce_tr_producer(broker, topic, codec):
    r = subprocess.run([program("producer_driver"), broker, topic, str(COUNT), "--codec", codec],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        fail("producer_driver --codec %s failed (%d):\n%s" % (codec, r.returncode, out[-3000:]))
    # producer_driver's records (see its header); one partition keeps them in order.
    return [(b"key-%d" % i, b"value-%d" % i, [("idx", b"%d" % i)]) for i in range(COUNT)]


def read_confluent(broker, topic, n):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": "tributary-it-unused",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "check.crcs": True,
        "fetch.wait.max.ms": 100,
    })
    out = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 120
        while len(out) < n:
            if time.monotonic() > deadline:
                fail("confluent consumer on %s timed out with %d of %d records" % (topic, len(out), n))
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                fail("confluent consumer error on %s: %s" % (topic, msg.error()))
            out.append((msg.offset(), msg.key(), msg.value(), list(msg.headers() or [])))
    finally:
        c.close()
    return out


def read_kafka_python(broker, topic, n):
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=broker, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_max_wait_ms=100, request_timeout_ms=30000)
    out = []
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning()
        deadline = time.monotonic() + 120
        while len(out) < n:
            if time.monotonic() > deadline:
                fail("kafka-python consumer on %s timed out with %d of %d records" % (topic, len(out), n))
            for _tp, msgs in c.poll(timeout_ms=500).items():
                for m in msgs:
                    out.append((m.offset, m.key, m.value, list(m.headers)))
    finally:
        c.close(autocommit=False)
    return out


def unhex(s):
    if s == "-":
        return None
    if s == "=":
        return b""
    return bytes.fromhex(s)


def read_batch_dump(part_dir):
    """(batches, records) as our own batch and codec code decode them."""
    files = harness.segment_files(part_dir)
    r = subprocess.run([program("batch_dump")] + files, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        fail("batch_dump %s: %s" % (part_dir, r.stderr.decode("utf-8", "replace")))
    batches, records = [], []
    for line in r.stdout.decode().splitlines():
        f = line.split(" ")
        if f[0] == "batch":
            kv = dict(x.split("=", 1) for x in f[2:])
            batches.append((int(f[1]), kv["codec"], int(kv["records"])))
        elif f[0] == "record":
            headers = []
            if f[4] != "-":
                for pair in f[4].split(","):
                    hk, hv = pair.split("=", 1) if not pair.startswith("==") else ("=", pair[2:])
                    headers.append((unhex(hk).decode(), unhex(hv)))
            records.append((int(f[1]), unhex(f[2]), unhex(f[3]), headers))
    return batches, records


def compare(who, topic, got, records):
    want = [(i, k, v, h) for i, (k, v, h) in enumerate(records)]
    if got != want:
        for n, (w, g) in enumerate(zip(want, got)):
            if w != g:
                fail("%s on %s: record %d differs: sent %r, got %r" % (who, topic, n, w[:3], g[:3]))
        fail("%s on %s: %d records, expected %d" % (who, topic, len(got), len(want)))
    check(True, "%s reads %s: %d records byte-for-byte (keys, values, headers)" % (who, topic, len(got)))


def check_stored(col, topic, codec, producer, lz4_off):
    """Checks the codec bits and CRCs of the stored batches; returns them."""
    batches = harness.partition_batches(col.partition_dir(topic, 0))
    if not batches:
        fail("%s: no batches on disk" % topic)
    if not all(b["valid_crc"] for b in batches):
        fail("%s: a stored batch has a CRC that does not match its bytes" % topic)
    want = CODEC_IDS[codec]
    kinds = sorted(set(b["compression"] for b in batches))
    compressed = [b for b in batches if b["compression"] == want]
    if producer == "librdkafka" and codec == "lz4" and lz4_off:
        check(kinds == [0], "%s: librdkafka sent lz4 batches uncompressed, as it does while the broker does "
              "not list FindCoordinator (%d batches)" % (topic, len(batches)))
        return batches
    if producer == "librdkafka":
        # Sent uncompressed when compression would not make a batch smaller.
        plain = [b for b in batches if b["compression"] == 0]
        check(kinds in ([want], [0, want]) and len(compressed) >= len(plain),
              "%s: %d of %d stored batches are %s, as produced (the rest uncompressed: librdkafka "
              "does that when compressing does not help); CRCs valid"
              % (topic, len(compressed), len(batches), codec))
    else:
        check(kinds == [want], "%s: all %d stored batches are %s, as produced; CRCs valid"
              % (topic, len(batches), codec))
    return batches


XERIAL_MAGIC = b"\x82SNAPPY\x00"


def snappy_framings(batches):
    """The set of framings ("xerial", "raw") of the stored snappy batches."""
    kinds = set()
    for b in batches:
        if b["compression"] != CODEC_IDS["snappy"]:
            continue
        with open(b["file"], "rb") as f:
            f.seek(b["pos"] + harness.BATCH_HEADER.size)
            kinds.add("xerial" if f.read(8) == XERIAL_MAGIC else "raw")
    return kinds


def run(ws):
    codecs = built_codecs()
    note("codecs built in: %s" % ", ".join(codecs))
    col = ws.collector().start()
    _err, keys = harness.api_versions_v0(col.port)
    lz4_off = FIND_COORDINATOR not in keys
    if lz4_off:
        note("the collector does not list FindCoordinator: librdkafka 2.0.2 will send its lz4 batches "
             "uncompressed; kafka-python and tr_producer cover lz4 batches")

    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": col.broker})
    producers = ["librdkafka", "kafka-python", "tr_producer"]
    topics = ["codec-%s-%s" % (c, p.replace("_", "-")) for c in codecs for p in producers]
    futs = admin.create_topics([NewTopic(t, 1, 1) for t in topics], request_timeout=30)
    for t, f in futs.items():
        f.result(timeout=30)
    check(True, "created %d topics" % len(topics))

    framings = set()
    for codec in codecs:
        mod = KAFKA_PYTHON_MODULE[codec]
        kp_reason = None
        if mod is not None:
            try:
                __import__(mod)
            except ImportError as e:
                kp_reason = "kafka-python needs the Python module %s for %s (%s)" % (mod, codec, e)
        for producer in producers:
            topic = "codec-%s-%s" % (codec, producer.replace("_", "-"))
            if producer == "librdkafka":
                records = produce_librdkafka(col.broker, topic, codec, make_records(codec))
            elif producer == "kafka-python":
                if kp_reason:
                    print("# SKIP kafka-python producer for %s: %s" % (codec, kp_reason), flush=True)
                    continue
                records = produce_kafka_python(col.broker, topic, codec, make_records(codec))
            else:
                records = produce_tr_producer(col.broker, topic, codec)
            check(True, "%s produced %d records to %s with %s" % (producer, len(records), topic, codec))

            on_disk = check_stored(col, topic, codec, producer, lz4_off)
            if codec == "snappy":
                kinds = snappy_framings(on_disk)
                note("%s wrote snappy as %s" % (producer, " and ".join(sorted(kinds))))
                framings |= kinds
                if producer == "tr_producer":
                    check(kinds == {"xerial"}, "tr_producer writes snappy-java's xerial framing")

            compare("confluent-kafka", topic, read_confluent(col.broker, topic, len(records)), records)
            if kp_reason:
                print("# SKIP kafka-python consumer for %s: %s" % (codec, kp_reason), flush=True)
            else:
                compare("kafka-python", topic, read_kafka_python(col.broker, topic, len(records)), records)

            batches, decoded = read_batch_dump(col.partition_dir(topic, 0))
            want_batches = [(b["base_offset"], [k for k, v in CODEC_IDS.items() if v == b["compression"]][0],
                             b["records"]) for b in on_disk]
            if batches != want_batches:
                fail("batch_dump on %s: batches %r, the segment headers say %r" % (topic, batches[:5], want_batches[:5]))
            n_codec = sum(1 for b in batches if b[1] == codec)
            compare("batch_dump (%d %s batches decoded by our codec)" % (n_codec, codec), topic, decoded, records)
    if "snappy" in codecs:
        check(framings == {"raw", "xerial"}, "our snappy decoder read both raw and xerial-framed batches")


if __name__ == "__main__":
    sys.exit(harness.main(run, timeout=900))
