/*
 * bench -- `tributary bench`: produce, consume and end-to-end load.
 *
 * Modes:
 *  - produce: one producer sends -n records (or for -d seconds) of -s
 *    bytes, as fast as its buffer allows or at --rate records/s; latency
 *    is from tr_producer_send to the delivery callback (the ack).
 *  - consume: one consumer reads -n records (or for -d seconds) from the
 *    beginning of every partition; no latency.
 *  - e2e: a producer at --rate (default 50,000/s) and a consumer from the
 *    end, in this process; latency is from send to the consumer's
 *    callback, both read from the same monotonic clock.
 *
 * Every value starts with a 24-byte stamp (when it is long enough):
 *
 *   0         8          16         24
 *   +---------+----------+----------+------------ ... -+
 *   | run id  | send µs  | sequence | filler 'x'       |
 *   +---------+----------+----------+------------ ... -+
 *
 * so e2e ignores records of other runs. The producer's per-record opaque
 * is the send time itself, so measuring costs no allocation.
 *
 * Everything runs on one libevent thread. The run is bounded by
 * --timeout (default: the duration plus 120 s, or 600 s for -n runs).
 */
#include "bench.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "client.h"
#include "clock.h"
#include "consumer.h"
#include "hdr.h"
#include "log.h"
#include "producer.h"
#include "proto.h"

#define STAMP_BYTES       24
#define HDR_HIGHEST_US    (3600LL * 1000000LL)
#define PUMP_CHUNK        4096
#define KERR_TOPIC_EXISTS 36

enum bench_mode {
    MODE_PRODUCE,
    MODE_CONSUME,
    MODE_E2E,
};

struct bench_opts {
    enum bench_mode mode;
    const char *brokers;
    const char *topic;
    int64_t records;   /* 0: use the duration */
    double duration_s; /* 0: use the record count */
    int32_t size;
    int32_t partitions; /* 0: leave the topic as it is */
    int acks;
    enum tr_codec codec;
    size_t batch_bytes;
    int linger_ms;
    int64_t rate; /* records/s, 0: as fast as possible */
    int json;
    int idempotent;
    int max_in_flight;
    size_t buffer_bytes;
    int32_t fetch_max_bytes;
    int fetch_wait_ms;
    double timeout_s;
    int verbose;
    struct tr_cli_common sec; /* only -X and --command-config */
};

struct bench {
    struct bench_opts o;
    struct event_base *base;
    struct tr_producer *prod;
    struct tr_consumer *cons;
    struct tr_hdr *lat;
    uint8_t *value;
    uint64_t run_id;
    struct event *pump_ev;
    struct event *tick_ev;
    int64_t t_start_us;    /* first send, or consumer start */
    int64_t t_last_us;     /* last ack or last batch */
    int64_t t_deadline_us; /* stop sending (duration runs) */
    int64_t t_abort_us;    /* --timeout */
    int64_t sent;
    int64_t acked;
    int64_t failed;
    int64_t received;
    int64_t foreign; /* e2e: records of other runs */
    uint64_t bytes;
    int sending_done;
    int blocked;
    int done;
    int timed_out;
    tr_err_t first_err;
    int16_t first_kerr;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary bench produce|consume|e2e -b HOST:PORT -t TOPIC "
            "[options]\n"
            "\n"
            "  -b, --brokers LIST     bootstrap host:port[,host:port...] "
            "(default 127.0.0.1:9092)\n"
            "  -t, --topic NAME       topic (default bench)\n"
            "  -n, --records N        records to send or read\n"
            "  -d, --duration SEC     run for SEC seconds instead of -n\n"
            "  -s, --size BYTES       value size (default 100)\n"
            "  -p, --partitions N     create the topic with N partitions "
            "(kept if it exists)\n"
            "      --acks N           0, 1 or -1/all (default 1)\n"
            "  -z, --compression C    none, gzip, snappy, lz4, zstd\n"
            "      --batch-bytes N    batch.size (default 524288)\n"
            "      --linger-ms N      linger.ms (default 5; e2e 0)\n"
            "  -r, --rate N           records/s target (e2e default 50000)\n"
            "      --idempotent       idempotent producer (needs --acks "
            "all)\n"
            "      --max-in-flight N  requests per connection (default 5)\n"
            "      --buffer-bytes N   producer buffer (default 64 MiB)\n"
            "      --fetch-max-bytes N per-partition fetch size (default 1 "
            "MiB, as librdkafka's)\n"
            "      --fetch-wait-ms N  fetch.max.wait.ms (default 500)\n"
            "      --timeout SEC      hard bound on the run\n"
            "      --json             print one JSON object as the last "
            "line\n"
            "  -v, --verbose          progress every second on stderr\n"
            "  -X KEY=VALUE, --command-config FILE   TLS and SASL, as for "
            "every command\n"
            "  -h, --help             this help\n"
            "\n"
            "produce: latency is send to ack. consume: reads from the "
            "beginning.\n"
            "e2e: produces at --rate and consumes from the end in one "
            "process;\n"
            "latency is send to receipt. MB/s counts value bytes (10^6).\n");
}

static int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_double(const char *s, double min, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < min) {
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_ACKS = 256,
    OPT_BATCH_BYTES,
    OPT_LINGER_MS,
    OPT_JSON,
    OPT_IDEMPOTENT,
    OPT_MAX_IN_FLIGHT,
    OPT_BUFFER_BYTES,
    OPT_FETCH_MAX_BYTES,
    OPT_FETCH_WAIT_MS,
    OPT_TIMEOUT,
};

static const struct option long_opts[] = {
    { "brokers", required_argument, NULL, 'b' },
    { "topic", required_argument, NULL, 't' },
    { "records", required_argument, NULL, 'n' },
    { "duration", required_argument, NULL, 'd' },
    { "size", required_argument, NULL, 's' },
    { "partitions", required_argument, NULL, 'p' },
    { "acks", required_argument, NULL, OPT_ACKS },
    { "compression", required_argument, NULL, 'z' },
    { "batch-bytes", required_argument, NULL, OPT_BATCH_BYTES },
    { "linger-ms", required_argument, NULL, OPT_LINGER_MS },
    { "rate", required_argument, NULL, 'r' },
    { "idempotent", no_argument, NULL, OPT_IDEMPOTENT },
    { "max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT },
    { "buffer-bytes", required_argument, NULL, OPT_BUFFER_BYTES },
    { "fetch-max-bytes", required_argument, NULL, OPT_FETCH_MAX_BYTES },
    { "fetch-wait-ms", required_argument, NULL, OPT_FETCH_WAIT_MS },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "json", no_argument, NULL, OPT_JSON },
    { "verbose", no_argument, NULL, 'v' },
    { "command-config", required_argument, NULL, 0x1003 },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Returns 0, 1 after --help, or 2 with a message on stderr. */
static int
parse_args(int argc, char **argv, struct bench_opts *o)
{
    int linger_set = 0;
    int64_t v;
    double d;
    int c;

    memset(o, 0, sizeof(*o));
    o->brokers = "127.0.0.1:9092";
    o->topic = "bench";
    o->size = 100;
    o->acks = 1;
    o->codec = TR_CODEC_NONE;
    o->batch_bytes = 512 * 1024;
    o->linger_ms = 5;
    o->max_in_flight = 5;
    o->buffer_bytes = 64u << 20;
    /*
     * librdkafka's max.partition.fetch.bytes: smaller answers overlap
     * better with decoding than 8 MiB ones did (docs/benchmarks.md).
     */
    o->fetch_max_bytes = 1 << 20;
    o->fetch_wait_ms = 500;
    tr_cli_common_init(&o->sec, "bench");

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 1;
    } else if (strcmp(argv[1], "produce") == 0) {
        o->mode = MODE_PRODUCE;
    } else if (strcmp(argv[1], "consume") == 0) {
        o->mode = MODE_CONSUME;
    } else if (strcmp(argv[1], "e2e") == 0) {
        o->mode = MODE_E2E;
    } else {
        fprintf(stderr, "bench: unknown mode '%s' (produce, consume, e2e)\n",
                argv[1]);
        return 2;
    }

    /* getopt sees the mode as its program name. */
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1,
                            "b:t:n:d:s:p:z:r:vhX:", long_opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->brokers = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'n':
            if (parse_i64(optarg, 1, INT64_MAX / 2, &o->records) != 0) {
                goto bad;
            }
            break;
        case 'd':
            if (parse_double(optarg, 0.001, &o->duration_s) != 0) {
                goto bad;
            }
            break;
        case 's':
            if (parse_i64(optarg, 0, 100 << 20, &v) != 0) {
                goto bad;
            }
            o->size = (int32_t)v;
            break;
        case 'p':
            if (parse_i64(optarg, 1, 100000, &v) != 0) {
                goto bad;
            }
            o->partitions = (int32_t)v;
            break;
        case OPT_ACKS:
            if (strcmp(optarg, "all") == 0) {
                o->acks = -1;
            } else if (parse_i64(optarg, -1, 1, &v) == 0) {
                o->acks = (int)v;
            } else {
                goto bad;
            }
            break;
        case 'z':
            if (strcmp(optarg, "none") == 0) {
                o->codec = TR_CODEC_NONE;
            } else if (strcmp(optarg, "gzip") == 0) {
                o->codec = TR_CODEC_GZIP;
            } else if (strcmp(optarg, "snappy") == 0) {
                o->codec = TR_CODEC_SNAPPY;
            } else if (strcmp(optarg, "lz4") == 0) {
                o->codec = TR_CODEC_LZ4;
            } else if (strcmp(optarg, "zstd") == 0) {
                o->codec = TR_CODEC_ZSTD;
            } else {
                goto bad;
            }
            break;
        case OPT_BATCH_BYTES:
            if (parse_i64(optarg, 1024, 1 << 30, &v) != 0) {
                goto bad;
            }
            o->batch_bytes = (size_t)v;
            break;
        case OPT_LINGER_MS:
            if (parse_i64(optarg, 0, 60000, &v) != 0) {
                goto bad;
            }
            o->linger_ms = (int)v;
            linger_set = 1;
            break;
        case 'r':
            if (parse_i64(optarg, 0, 100000000, &o->rate) != 0) {
                goto bad;
            }
            break;
        case OPT_IDEMPOTENT:
            o->idempotent = 1;
            break;
        case OPT_MAX_IN_FLIGHT:
            if (parse_i64(optarg, 1, 1000, &v) != 0) {
                goto bad;
            }
            o->max_in_flight = (int)v;
            break;
        case OPT_BUFFER_BYTES:
            if (parse_i64(optarg, 1 << 16, (int64_t)1 << 34, &v) != 0) {
                goto bad;
            }
            o->buffer_bytes = (size_t)v;
            break;
        case OPT_FETCH_MAX_BYTES:
            if (parse_i64(optarg, 1024, 1 << 30, &v) != 0) {
                goto bad;
            }
            o->fetch_max_bytes = (int32_t)v;
            break;
        case OPT_FETCH_WAIT_MS:
            if (parse_i64(optarg, 0, 60000, &v) != 0) {
                goto bad;
            }
            o->fetch_wait_ms = (int)v;
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, 0.1, &d) != 0) {
                goto bad;
            }
            o->timeout_s = d;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'X':
        case 0x1003:
            if (tr_cli_common_opt(c, optarg, &o->sec) < 0) {
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "bench: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (o->mode == MODE_E2E) {
        if (o->rate == 0) {
            o->rate = 50000;
        }
        if (!linger_set) {
            o->linger_ms = 0;
        }
    }
    if (o->records == 0 && o->duration_s == 0) {
        o->records = o->mode == MODE_E2E ? o->rate * 10 : 1000000;
    }
    if (o->idempotent && o->acks != -1) {
        fprintf(stderr, "bench: --idempotent needs --acks all\n");
        return 2;
    }
    if (o->mode == MODE_E2E && o->size < STAMP_BYTES) {
        fprintf(stderr, "bench: e2e needs --size >= %d\n", STAMP_BYTES);
        return 2;
    }
    if (o->timeout_s == 0) {
        o->timeout_s = o->duration_s > 0 ? o->duration_s + 120 : 600;
    }
    return 0;
bad:
    fprintf(stderr, "bench: bad value '%s' for option\n", optarg);
    return 2;
}

/* Topic creation: one CreateTopics v2 through a short-lived client. */

struct create_ctx {
    struct event_base *base;
    int answered;
    tr_err_t err;
    int16_t kerr;
};

static void
create_response_cb(tr_err_t err, int16_t api_version, struct tr_slice *body,
                   void *arg)
{
    struct create_ctx *cc = arg;
    int32_t throttle, n;
    struct tr_str name;

    (void)api_version;
    cc->answered = 1;
    cc->err = err;
    if (err != TR_OK) {
        goto out;
    }
    cc->err = TR_ERR_CORRUPT;
    if (tr_slice_get_i32(body, &throttle) != TR_OK ||
        tr_proto_get_array_len_v(body, 0, &n, 1, 1) != TR_OK || n != 1 ||
        tr_proto_get_string(body, &name) != TR_OK ||
        tr_slice_get_i16(body, &cc->kerr) != TR_OK) {
        goto out;
    }
    cc->err = TR_OK;
out:
    event_base_loopbreak(cc->base);
}

static void
client_event_cb(void *arg)
{
    (void)arg;
}

static tr_err_t
create_topic(struct bench *b)
{
    tr_err_t err = TR_ERR_CONFIG;
    struct tr_client_config cfg;
    struct tr_client *cl = NULL;
    struct create_ctx cc = { b->base, 0, TR_OK, 0 };
    struct tr_buf body;
    struct timeval step = { 0, 10000 };
    int64_t until = tr_clock_mono_ms() + 30000;
    struct tr_conn *conn = NULL;

    tr_buf_init(&body, 1 << 16);
    tr_client_config_defaults(&cfg);
    cfg.bootstrap = b->o.brokers;
    cfg.security = b->o.sec.security;
    cfg.client_id = "tributary-bench";
    if ((err = tr_client_new(b->base, &cfg, client_event_cb, NULL, &cl)) !=
        TR_OK) {
        goto out;
    }
    err = TR_ERR_TIMEOUT;
    while ((conn = tr_client_any_conn(cl)) == NULL) {
        if (tr_clock_mono_ms() > until) {
            goto out;
        }
        event_base_loopexit(b->base, &step);
        event_base_dispatch(b->base);
    }
    tr_buf_put_i32(&body, 1);                     /* Topics */
    tr_proto_put_cstring_v(&body, 0, b->o.topic); /* Name */
    tr_buf_put_i32(&body, b->o.partitions);       /* NumPartitions */
    tr_buf_put_i16(&body, 1);                     /* ReplicationFactor */
    tr_buf_put_i32(&body, 0);                     /* Assignments */
    tr_buf_put_i32(&body, 0);                     /* Configs */
    tr_buf_put_i32(&body, 30000);                 /* TimeoutMs */
    tr_proto_put_bool(&body, 0);                  /* ValidateOnly */
    if ((err = tr_buf_err(&body)) != TR_OK) {
        goto out;
    }
    if ((err = tr_conn_request(conn, TR_API_CREATE_TOPICS, 2, &body,
                               create_response_cb, &cc)) != TR_OK) {
        goto out;
    }
    while (!cc.answered && tr_clock_mono_ms() <= until) {
        event_base_loopexit(b->base, &step);
        event_base_dispatch(b->base);
    }
    err = TR_ERR_TIMEOUT;
    if (!cc.answered) {
        goto out;
    }
    err = cc.err;
    if (err == TR_OK && cc.kerr != 0 && cc.kerr != KERR_TOPIC_EXISTS) {
        fprintf(stderr, "bench: CreateTopics %s: Kafka error %d\n", b->o.topic,
                cc.kerr);
        err = TR_ERR_INVALID;
    }
out:
    if (err != TR_OK && err != TR_ERR_INVALID) {
        fprintf(stderr, "bench: creating topic %s: %s\n", b->o.topic,
                tr_err_str(err));
    }
    tr_client_free(cl);
    tr_buf_cleanup(&body);
    return err;
}

/* Producing. */

static void
stamp(struct bench *b, int64_t now_us)
{
    if (b->o.size >= STAMP_BYTES) {
        tr_store_i64(b->value, (int64_t)b->run_id);
        tr_store_i64(b->value + 8, now_us);
        tr_store_i64(b->value + 16, b->sent);
    }
}

static void
schedule_pump(struct bench *b, int64_t delay_us)
{
    struct timeval tv = { (time_t)(delay_us / 1000000),
                          (suseconds_t)(delay_us % 1000000) };

    if (!evtimer_pending(b->pump_ev, NULL)) {
        evtimer_add(b->pump_ev, &tv);
    }
}

static void
finish_if_done(struct bench *b)
{
    if (b->o.mode == MODE_PRODUCE && b->sending_done &&
        b->acked + b->failed >= b->sent) {
        b->done = 1;
        event_base_loopbreak(b->base);
    }
    if (b->o.mode == MODE_E2E && b->sending_done &&
        b->received >= b->sent - b->failed) {
        b->done = 1;
        event_base_loopbreak(b->base);
    }
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    int64_t now = tr_clock_mono_us();
    int64_t budget = PUMP_CHUNK;
    int64_t i;

    (void)fd;
    (void)what;
    if (b->sending_done) {
        return;
    }
    if (b->t_start_us == 0) {
        b->t_start_us = now;
        if (b->o.duration_s > 0) {
            b->t_deadline_us = now + (int64_t)(b->o.duration_s * 1e6);
        }
    }
    if (b->o.rate > 0) {
        /* Records due by now, from the start; a late loop catches up. */
        int64_t due =
            (int64_t)((double)(now - b->t_start_us) * (double)b->o.rate / 1e6) +
            1;

        budget = due - b->sent;
        if (budget > PUMP_CHUNK) {
            budget = PUMP_CHUNK;
        }
    }
    for (i = 0; i < budget; i++) {
        tr_err_t err;

        if ((b->o.records > 0 && b->sent >= b->o.records) ||
            (b->t_deadline_us > 0 && now >= b->t_deadline_us)) {
            b->sending_done = 1;
            tr_producer_flush(b->prod);
            finish_if_done(b);
            return;
        }
        stamp(b, now);
        err = tr_producer_send(b->prod, b->o.topic, -1, NULL, -1, b->value,
                               b->o.size, NULL, 0, -1, (void *)(intptr_t)now);
        if (err == TR_ERR_AGAIN) {
            b->blocked = 1;
            return; /* a delivery resumes the pump */
        }
        if (err != TR_OK) {
            fprintf(stderr, "bench: send: %s\n", tr_err_str(err));
            b->first_err = err;
            b->sending_done = 1;
            finish_if_done(b);
            return;
        }
        b->sent++;
        if ((i & 255) == 255) {
            now = tr_clock_mono_us();
        }
    }
    if (b->o.rate > 0) {
        /* Wake when the next record is due (at most every 1 ms). */
        int64_t next = b->t_start_us +
                       (int64_t)((double)(b->sent) * 1e6 / (double)b->o.rate);
        int64_t delay = next - tr_clock_mono_us();

        schedule_pump(b, delay < 0 ? 0 : (delay > 1000 ? 1000 : delay));
    } else {
        schedule_pump(b, 0);
    }
}

static void
delivery_cb(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct bench *b = arg;
    int64_t now = tr_clock_mono_us();

    (void)topic;
    (void)partition;
    (void)offset;
    if (err == TR_OK) {
        b->acked++;
        b->bytes += (uint64_t)b->o.size;
        if (b->o.mode == MODE_PRODUCE) {
            tr_hdr_record(b->lat, now - (int64_t)(intptr_t)opaque);
        }
    } else {
        if (b->failed == 0) {
            b->first_err = err;
            b->first_kerr = kerr;
        }
        b->failed++;
    }
    b->t_last_us = now;
    if (b->blocked) {
        b->blocked = 0;
        schedule_pump(b, 0);
    }
    finish_if_done(b);
}

/* Consuming. */

static void
batch_cb(const struct tr_consumer_batch *cb, void *arg)
{
    struct bench *b = arg;
    int64_t now = tr_clock_mono_us();
    size_t i;

    if (b->o.mode == MODE_CONSUME) {
        for (i = 0; i < cb->count; i++) {
            const struct tr_record *r = &cb->records[i];

            b->bytes += r->value_len > 0 ? (uint64_t)r->value_len : 0;
        }
        b->received += (int64_t)cb->count;
        b->t_last_us = now;
        if ((b->o.records > 0 && b->received >= b->o.records) ||
            (b->t_deadline_us > 0 && now >= b->t_deadline_us)) {
            b->done = 1;
            event_base_loopbreak(b->base);
        }
        return;
    }
    for (i = 0; i < cb->count; i++) {
        const struct tr_record *r = &cb->records[i];

        if (r->value_len < STAMP_BYTES ||
            (uint64_t)tr_load_i64(r->value) != b->run_id) {
            b->foreign++;
            continue;
        }
        tr_hdr_record(b->lat, now - tr_load_i64(r->value + 8));
        b->bytes += (uint64_t)r->value_len;
        b->received++;
    }
    b->t_last_us = now;
    finish_if_done(b);
}

static void
consumer_error_cb(const char *topic, int32_t partition, tr_err_t err,
                  int16_t kerr, void *arg)
{
    struct bench *b = arg;

    fprintf(stderr, "bench: consuming %s[%d]: %s (Kafka error %d)\n", topic,
            partition, tr_err_str(err), kerr);
    if (b->first_err == TR_OK) {
        b->first_err = err == TR_OK ? TR_ERR_IO : err;
        b->first_kerr = kerr;
    }
}

/* Progress and the hard bound. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    int64_t now = tr_clock_mono_us();

    (void)fd;
    (void)what;
    if (now >= b->t_abort_us) {
        b->timed_out = 1;
        event_base_loopbreak(b->base);
        return;
    }
    if (b->o.mode == MODE_CONSUME && b->t_deadline_us > 0 &&
        now >= b->t_deadline_us) {
        b->done = 1;
        event_base_loopbreak(b->base);
        return;
    }
    if (b->o.verbose) {
        fprintf(stderr,
                "bench: sent %" PRId64 " acked %" PRId64 " failed %" PRId64
                " received %" PRId64 " pending %zu\n",
                b->sent, b->acked, b->failed, b->received,
                b->prod != NULL ? tr_producer_pending(b->prod) : (size_t)0);
    }
}

static tr_err_t
start_producer(struct bench *b)
{
    struct tr_producer_config cfg;

    tr_producer_config_defaults(&cfg);
    cfg.bootstrap = b->o.brokers;
    cfg.security = b->o.sec.security;
    cfg.client_id = "tributary-bench";
    cfg.acks = b->o.acks;
    cfg.linger_ms = b->o.linger_ms;
    cfg.batch_bytes = b->o.batch_bytes;
    cfg.codec = b->o.codec;
    cfg.max_in_flight = b->o.max_in_flight;
    cfg.idempotent = b->o.idempotent;
    cfg.buffer_max_bytes = b->o.buffer_bytes;
    return tr_producer_new(b->base, &cfg, delivery_cb, b, &b->prod);
}

static tr_err_t
start_consumer(struct bench *b, int64_t from)
{
    struct tr_consumer_config cfg;
    tr_err_t err;

    tr_consumer_config_defaults(&cfg);
    cfg.bootstrap = b->o.brokers;
    cfg.security = b->o.sec.security;
    cfg.client_id = "tributary-bench";
    cfg.partition_max_bytes = b->o.fetch_max_bytes;
    cfg.fetch_max_wait_ms = b->o.fetch_wait_ms;
    if ((err = tr_consumer_new(b->base, &cfg, batch_cb, b, &b->cons)) !=
        TR_OK) {
        return err;
    }
    tr_consumer_set_error_cb(b->cons, consumer_error_cb);
    return tr_consumer_assign_topic(b->cons, b->o.topic, from, -1);
}

/* Waits (bounded) until the consumer has a position for every partition. */
static tr_err_t
wait_consumer_ready(struct bench *b)
{
    int64_t until = tr_clock_mono_ms() + 30000;
    struct tr_consumer_tp tp;

    while (!tr_consumer_ready(b->cons) ||
           tr_consumer_assignment(b->cons, &tp, 1) == 0) {
        if (tr_clock_mono_ms() > until || b->timed_out) {
            return TR_ERR_TIMEOUT;
        }
        tr_consumer_poll(b->cons, 10);
    }
    return TR_OK;
}

static long
peak_rss_kib(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return -1;
    }
    return ru.ru_maxrss;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *
codec_name(enum tr_codec c)
{
    static const char *const names[] = { "none", "gzip", "snappy", "lz4",
                                         "zstd" };

    return (unsigned)c < 5 ? names[c] : "?";
}

static const char *
mode_name(enum bench_mode m)
{
    return m == MODE_PRODUCE   ? "produce"
           : m == MODE_CONSUME ? "consume"
                               : "e2e";
}

static void
report(struct bench *b, double cpu_s)
{
    int64_t n = b->o.mode == MODE_PRODUCE ? b->acked : b->received;
    double secs = (double)(b->t_last_us - b->t_start_us) / 1e6;
    double rps, mbps;
    int have_lat = b->o.mode != MODE_CONSUME && tr_hdr_count(b->lat) > 0;

    if (secs <= 0) {
        secs = 1e-6;
    }
    rps = (double)n / secs;
    if (b->o.mode == MODE_CONSUME && n > 0) {
        /* Report what was read, not the -s flag. */
        b->o.size = (int32_t)(b->bytes / (uint64_t)n);
    }
    mbps = (double)b->bytes / 1e6 / secs;
    printf("%s: %" PRId64 " records of %d bytes in %.3f s: %.0f records/s, "
           "%.2f MB/s (acks %d, %s, linger %d ms, batch %zu, rate %" PRId64
           ")\n",
           mode_name(b->o.mode), n, b->o.size, secs, rps, mbps, b->o.acks,
           codec_name(b->o.codec), b->o.linger_ms, b->o.batch_bytes, b->o.rate);
    if (have_lat) {
        printf("latency (%s) us: p50 %" PRId64 " p99 %" PRId64 " p99.9 %" PRId64
               " max %" PRId64 " mean %.0f\n",
               b->o.mode == MODE_PRODUCE ? "send to ack" : "send to receive",
               tr_hdr_percentile(b->lat, 50), tr_hdr_percentile(b->lat, 99),
               tr_hdr_percentile(b->lat, 99.9), tr_hdr_max(b->lat),
               tr_hdr_mean(b->lat));
    }
    if (b->failed > 0 || b->first_err != TR_OK) {
        printf("errors: %" PRId64 " records failed; first: %s (Kafka error "
               "%d)\n",
               b->failed, tr_err_str(b->first_err), b->first_kerr);
    }
    if (b->timed_out) {
        printf("timed out after %.0f s\n", b->o.timeout_s);
    }
    if (!b->o.json) {
        return;
    }
    printf("{\"mode\":\"%s\",\"topic\":\"%s\",\"records\":%" PRId64
           ",\"sent\":%" PRId64 ",\"failed\":%" PRId64
           ",\"record_bytes\":%d,\"seconds\":%.6f,\"records_per_sec\":%.1f,"
           "\"mb_per_sec\":%.3f,\"acks\":%d,\"compression\":\"%s\","
           "\"batch_bytes\":%zu,\"linger_ms\":%d,\"partitions\":%d,"
           "\"rate\":%" PRId64 ",\"cpu_seconds\":%.3f,\"peak_rss_kib\":%ld,"
           "\"timed_out\":%s",
           mode_name(b->o.mode), b->o.topic, n, b->sent, b->failed, b->o.size,
           secs, rps, mbps, b->o.acks, codec_name(b->o.codec), b->o.batch_bytes,
           b->o.linger_ms, b->o.partitions, b->o.rate, cpu_s, peak_rss_kib(),
           b->timed_out ? "true" : "false");
    if (have_lat) {
        printf(",\"latency_us\":{\"p50\":%" PRId64 ",\"p99\":%" PRId64
               ",\"p999\":%" PRId64 ",\"max\":%" PRId64 ",\"mean\":%.1f}",
               tr_hdr_percentile(b->lat, 50), tr_hdr_percentile(b->lat, 99),
               tr_hdr_percentile(b->lat, 99.9), tr_hdr_max(b->lat),
               tr_hdr_mean(b->lat));
    }
    printf("}\n");
}

static uint64_t
make_run_id(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 16);
}

static tr_err_t
run(struct bench *b)
{
    tr_err_t err = TR_ERR_NOMEM;
    struct timeval second = { 1, 0 };
    int64_t now;

    b->run_id = make_run_id();
    b->base = event_base_new();
    b->value = tr_malloc(b->o.size > 0 ? (size_t)b->o.size : 1);
    if (b->base == NULL || b->value == NULL) {
        goto out;
    }
    memset(b->value, 'x', (size_t)b->o.size);
    if ((err = tr_hdr_new(HDR_HIGHEST_US, 3, &b->lat)) != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    b->pump_ev = evtimer_new(b->base, pump_cb, b);
    b->tick_ev = event_new(b->base, -1, EV_PERSIST, tick_cb, b);
    if (b->pump_ev == NULL || b->tick_ev == NULL ||
        event_add(b->tick_ev, &second) != 0) {
        goto out;
    }
    b->t_abort_us = tr_clock_mono_us() + (int64_t)(b->o.timeout_s * 1e6);

    /* e2e consumes from the end, so the topic must exist before. */
    if (b->o.mode == MODE_E2E && b->o.partitions == 0) {
        b->o.partitions = 1;
    }
    if (b->o.partitions > 0 && (err = create_topic(b)) != TR_OK) {
        goto out;
    }

    if (b->o.mode == MODE_CONSUME || b->o.mode == MODE_E2E) {
        err = start_consumer(b, b->o.mode == MODE_CONSUME ? TR_OFFSET_BEGINNING
                                                          : TR_OFFSET_END);
        if (err != TR_OK || (err = wait_consumer_ready(b)) != TR_OK) {
            fprintf(stderr, "bench: consumer: %s\n", tr_err_str(err));
            goto out;
        }
    }
    if (b->o.mode == MODE_PRODUCE || b->o.mode == MODE_E2E) {
        if ((err = start_producer(b)) != TR_OK) {
            fprintf(stderr, "bench: producer: %s\n", tr_err_str(err));
            goto out;
        }
        schedule_pump(b, 0);
    }

    if (b->o.mode == MODE_PRODUCE) {
        while (!b->done && !b->timed_out) {
            event_base_dispatch(b->base);
        }
    } else {
        now = tr_clock_mono_us();
        if (b->o.mode == MODE_CONSUME) {
            b->t_start_us = now;
            if (b->o.duration_s > 0) {
                b->t_deadline_us = now + (int64_t)(b->o.duration_s * 1e6);
            }
        }
        while (!b->done && !b->timed_out) {
            tr_consumer_poll(b->cons, 100);
        }
    }
    err = TR_OK;
out:
    return err;
}

static void
cleanup(struct bench *b)
{
    if (b->cons != NULL) {
        tr_consumer_close(b->cons, 1000);
    }
    tr_consumer_free(b->cons);
    tr_producer_free(b->prod);
    if (b->pump_ev != NULL) {
        event_free(b->pump_ev);
    }
    if (b->tick_ev != NULL) {
        event_free(b->tick_ev);
    }
    tr_hdr_free(b->lat);
    tr_free(b->value);
    if (b->base != NULL) {
        event_base_free(b->base);
    }
}

int
tr_cmd_bench(int argc, char **argv)
{
    struct bench b;
    tr_err_t err;
    double cpu0;
    int rc;

    memset(&b, 0, sizeof(b));
    rc = parse_args(argc, argv, &b.o);
    if (rc == 0 && tr_cli_security(&b.o.sec) != 0) {
        rc = 2;
    }
    if (rc != 0) {
        tr_cli_common_cleanup(&b.o.sec);
        return rc == 1 ? 0 : 2;
    }
    tr_log_init(b.o.verbose ? TR_LOG_INFO : TR_LOG_WARN, 2);
    cpu0 = cpu_seconds();
    err = run(&b);
    rc = 0;
    if (err != TR_OK) {
        fprintf(stderr, "bench: %s\n", tr_err_str(err));
        rc = 1;
    } else {
        report(&b, cpu_seconds() - cpu0);
        if (b.failed > 0 || b.timed_out || b.first_err != TR_OK) {
            rc = 1;
        }
    }
    cleanup(&b);
    tr_cli_common_cleanup(&b.o.sec);
    return rc;
}
