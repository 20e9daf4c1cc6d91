/*
 * producer -- the client core's Kafka producer (see producer.h), on top of
 * the connection and metadata layer in client.h.
 *
 * Records flow through three per-partition stages:
 *
 *   send() --> open batch --(linger, size, flush)--> ready --(pump)--> in
 * flight (builder)                            (FIFO)  <-retry-- (acked: report)
 *
 * Records sent before their topic's metadata is known wait in a per-topic
 * list, in order, and join the partitions once it arrives.
 *
 * A batch is encoded once, on its first send: with idempotence it gets the
 * partition's next sequence number then, and a retry resends the very same
 * bytes, so the broker can recognise a replay. Only a new producer id
 * (after UNKNOWN_PRODUCER_ID, a real sequence gap, or a batch given up on)
 * rewrites the bytes: ProducerId, ProducerEpoch and BaseSequence are
 * restamped and the CRC recomputed, after every request in flight has been
 * answered, so that all partitions restart at sequence 0 together.
 *
 * All the work happens in pump(), run from the event loop (never from inside
 * tr_producer_send), so a delivery callback may call tr_producer_send.
 */
#include "producer.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crc32c.h"
#include "log.h"

#define PRODUCER_MAX_REQUEST                                                   \
    (8 * 1024 * 1024)                   /* bytes of batches per request */
#define PRODUCER_IDEMPOTENT_INFLIGHT 5  /* the broker remembers 5 batches */
#define PRODUCER_RECORD_OVERHEAD     64 /* per record, for buffer accounting */
#define PRODUCER_HOUSEKEEPING_MS     1000
#define PRODUCER_PRODUCE_MIN_V       3
#define PRODUCER_PRODUCE_MAX_V       7
#define PRODUCER_DEFAULT_ID          "tributary"
#define PRODUCER_BATCH_HEADER        61 /* RecordBatch v2 header bytes */

struct ppart;

struct pbatch {
    TAILQ_ENTRY(pbatch) link;
    struct ppart *part;
    struct tr_batch_builder *bld; /* until encoded */
    uint8_t *wire;                /* encoded batch, resent as is */
    size_t wire_len;
    int32_t count;
    void **opaques;
    int32_t cap;
    size_t bytes;     /* accounted against buffer_max_bytes */
    int64_t created;  /* monotonic ms of the first record */
    int64_t order;    /* first-send order; -1 before */
    int32_t base_seq; /* -1 unless idempotent and sent */
    int attempts;
    /* filled while a Produce response is decoded */
    int answered;
    int16_t kerr;
    int64_t offset;
};

TAILQ_HEAD(pbatch_list, pbatch);

struct ptopic;

struct ppart {
    struct ptopic *topic;
    int32_t id;
    struct pbatch *open;
    struct pbatch_list ready;    /* in send order */
    struct pbatch_list inflight; /* in send order */
    size_t ninflight;
    int32_t next_seq;  /* next batch's BaseSequence */
    int32_t acked_seq; /* the sequence the broker expects next */
    int64_t backoff_until;
    int retrying; /* one batch at a time until a success */
};

struct pwait {
    TAILQ_ENTRY(pwait) link;
    int32_t partition;
    int64_t timestamp;
    int64_t created;
    void *opaque;
    size_t bytes;
    uint8_t *key; /* NULL: null key */
    int32_t key_len;
    uint8_t *value;
    int32_t value_len;
    struct tr_record_header *headers;
    int32_t nheaders;
};

TAILQ_HEAD(pwait_list, pwait);

/* A partition's resumed sequence and batches, applied once it exists. */
struct presume {
    TAILQ_ENTRY(presume) link;
    int32_t partition;
    int32_t next_seq;
    struct pbatch_list batches;
};

TAILQ_HEAD(presume_list, presume);

struct ptopic {
    TAILQ_ENTRY(ptopic) link;
    char *name;
    int32_t nparts;
    struct ppart **parts;
    struct pwait_list waiting;
    struct presume_list resumes;
    int32_t sticky; /* -1: choose again */
};

struct preq {
    TAILQ_ENTRY(preq) link;
    struct tr_producer *p;
    size_t n;
    struct pbatch **batches;
};

enum pid_state {
    PID_NONE,
    PID_REQUESTING,
    PID_OK,
};

struct tr_producer {
    struct event_base *base;
    struct tr_producer_config cfg;
    char *bootstrap;
    char *client_id;
    tr_producer_delivery_cb *cb;
    void *cb_arg;
    struct tr_client *client;
    TAILQ_HEAD(, ptopic) topics;
    TAILQ_HEAD(, preq) reqs; /* Produce requests awaiting answers */
    size_t nreqs;
    struct event *pump_ev;
    struct event *timer;
    size_t pending;
    size_t buffered;
    int64_t next_order;
    int flush;
    int closing;
    /* idempotence */
    enum pid_state pid_state;
    int need_reset;
    int64_t pid;
    int16_t epoch;
    int pid_failures;
    int64_t pid_retry_at;
};

static void pump(struct tr_producer *p);

void
tr_producer_config_defaults(struct tr_producer_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->bootstrap = "127.0.0.1:9092";
    cfg->client_id = PRODUCER_DEFAULT_ID;
    cfg->acks = -1;
    cfg->producer_id = -1;
    cfg->producer_epoch = -1;
    cfg->linger_ms = 5;
    /* Below the collector's (and Kafka's) message.max.bytes of 1000012. */
    cfg->batch_bytes = 512 * 1024;
    cfg->codec = TR_CODEC_NONE;
    cfg->max_in_flight = 5;
    cfg->idempotent = 1;
    cfg->retry_backoff_ms = 100;
    cfg->retry_backoff_max_ms = 10000;
    cfg->request_timeout_ms = 30000;
    cfg->delivery_timeout_ms = -1;
    cfg->metadata_refresh_ms = 300000;
    cfg->buffer_max_bytes = 32 * 1024 * 1024;
}

static void
schedule_pump(struct tr_producer *p)
{
    if (!p->closing) {
        event_active(p->pump_ev, EV_TIMEOUT, 0);
    }
}

static size_t
record_bytes(int32_t key_len, int32_t value_len,
             const struct tr_record_header *headers, int32_t nheaders)
{
    size_t n = PRODUCER_RECORD_OVERHEAD;
    int32_t i;

    n += key_len > 0 ? (size_t)key_len : 0;
    n += value_len > 0 ? (size_t)value_len : 0;
    for (i = 0; i < nheaders; i++) {
        n += 16;
        n += headers[i].key_len > 0 ? (size_t)headers[i].key_len : 0;
        n += headers[i].value_len > 0 ? (size_t)headers[i].value_len : 0;
    }
    return n;
}

/* Batches. */

static void
batch_free(struct pbatch *b)
{
    if (b == NULL) {
        return;
    }
    tr_batch_builder_free(b->bld);
    tr_free(b->wire);
    tr_free(b->opaques);
    tr_free(b);
}

static struct pbatch *
batch_new(struct tr_producer *p, struct ppart *part)
{
    struct pbatch *b = tr_calloc(1, sizeof(*b));

    if (b == NULL) {
        return NULL;
    }
    b->bld = tr_batch_builder_new(p->cfg.codec, p->cfg.batch_bytes);
    if (b->bld == NULL) {
        tr_free(b);
        return NULL;
    }
    b->part = part;
    b->created = tr_clock_mono_ms();
    b->order = -1;
    b->base_seq = -1;
    return b;
}

/*
 * Reports every record of 'b' (detached from all lists) and frees it. The
 * counters drop first, so a callback already sees the room it made.
 */
static void
batch_deliver(struct tr_producer *p, struct pbatch *b, tr_err_t err,
              int16_t kerr, int64_t offset)
{
    struct ppart *part = b->part;
    int32_t i;

    p->pending -= (size_t)b->count;
    p->buffered -= b->bytes;
    for (i = 0; i < b->count; i++) {
        p->cb(b->opaques[i], err, kerr, part->topic->name, part->id,
              offset >= 0 ? offset + i : -1, p->cb_arg);
    }
    batch_free(b);
}

/* Moves the open batch to the ready list (an empty one is dropped). */
static void
part_close_open(struct ppart *part)
{
    struct pbatch *b = part->open;

    if (b == NULL) {
        return;
    }
    part->open = NULL;
    if (b->count == 0) {
        batch_free(b);
        return;
    }
    TAILQ_INSERT_TAIL(&part->ready, b, link);
    if (part->topic->sticky == part->id) {
        part->topic->sticky = -1;
    }
}

/*
 * Appends one record to the partition's open batch, opening one and closing
 * a full one as needed. TR_ERR_TOO_LARGE if the record cannot fit even in
 * an empty batch. Sets *opened when a new batch was started.
 */
static tr_err_t
part_append(struct tr_producer *p, struct ppart *part, int64_t timestamp,
            const void *key, int32_t key_len, const void *value,
            int32_t value_len, const struct tr_record_header *headers,
            int32_t nheaders, void *opaque, size_t bytes, int *closed)
{
    struct pbatch *b;
    void **grown;
    tr_err_t err;
    int tries;

    *closed = 0;
    for (tries = 0; tries < 2; tries++) {
        if (part->open == NULL) {
            part->open = batch_new(p, part);
            if (part->open == NULL) {
                return TR_ERR_NOMEM;
            }
        }
        b = part->open;
        if (b->count == b->cap) {
            int32_t cap = b->cap ? b->cap * 2 : 16;

            grown = tr_realloc(b->opaques, (size_t)cap * sizeof(*grown));
            if (grown == NULL) {
                return TR_ERR_NOMEM;
            }
            b->opaques = grown;
            b->cap = cap;
        }
        err = tr_batch_builder_add(b->bld, timestamp, key, key_len, value,
                                   value_len, headers, nheaders);
        if (err == TR_ERR_TOO_LARGE && b->count > 0) {
            part_close_open(part);
            *closed = 1;
            continue;
        }
        if (err != TR_OK) {
            if (b->count == 0) {
                part->open = NULL;
                batch_free(b);
            }
            return err;
        }
        b->opaques[b->count++] = opaque;
        b->bytes += bytes;
        if (tr_batch_builder_size(b->bld) >= p->cfg.batch_bytes) {
            part_close_open(part);
            *closed = 1;
        }
        return TR_OK;
    }
    return TR_ERR_TOO_LARGE;
}

/* Topics. */

static struct ptopic *
topic_find(struct tr_producer *p, const char *name)
{
    struct ptopic *t;

    TAILQ_FOREACH(t, &p->topics, link) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

static struct ptopic *
topic_get(struct tr_producer *p, const char *name)
{
    struct ptopic *t = topic_find(p, name);

    if (t != NULL) {
        return t;
    }
    t = tr_calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->name = tr_strdup(name);
    if (t->name == NULL || tr_client_topic_add(p->client, name) != TR_OK) {
        tr_free(t->name);
        tr_free(t);
        return NULL;
    }
    t->sticky = -1;
    TAILQ_INIT(&t->waiting);
    TAILQ_INIT(&t->resumes);
    TAILQ_INSERT_TAIL(&p->topics, t, link);
    return t;
}

static int32_t
topic_pick(struct tr_producer *p, struct ptopic *t, int32_t partition,
           const void *key, int32_t key_len)
{
    if (partition >= 0) {
        return partition;
    }
    if (key != NULL && key_len >= 0) {
        return tr_murmur2_partition(key, (size_t)key_len, t->nparts);
    }
    if (t->sticky < 0 || t->sticky >= t->nparts) {
        t->sticky =
            (int32_t)(tr_client_random(p->client) % (uint32_t)t->nparts);
    }
    return t->sticky;
}

static void
wait_free(struct pwait *w)
{
    tr_free(w);
}

/*
 * Copies a record into one allocation so it can wait for metadata:
 * struct, header array, then key, value and header bytes.
 */
static struct pwait *
wait_new(int32_t partition, int64_t timestamp, const void *key, int32_t key_len,
         const void *value, int32_t value_len,
         const struct tr_record_header *headers, int32_t nheaders, void *opaque,
         size_t bytes)
{
    size_t size = sizeof(struct pwait);
    struct pwait *w;
    uint8_t *cur;
    int32_t i;

    size += (size_t)nheaders * sizeof(struct tr_record_header);
    size += key_len > 0 ? (size_t)key_len : 0;
    size += value_len > 0 ? (size_t)value_len : 0;
    for (i = 0; i < nheaders; i++) {
        size += headers[i].key_len > 0 ? (size_t)headers[i].key_len : 0;
        size += headers[i].value_len > 0 ? (size_t)headers[i].value_len : 0;
    }
    w = tr_calloc(1, size);
    if (w == NULL) {
        return NULL;
    }
    w->partition = partition;
    w->timestamp = timestamp;
    w->created = tr_clock_mono_ms();
    w->opaque = opaque;
    w->bytes = bytes;
    w->nheaders = nheaders;
    w->headers = (struct tr_record_header *)(w + 1);
    cur = (uint8_t *)(w->headers + nheaders);
    w->key_len = key_len;
    if (key_len >= 0) {
        w->key = cur;
        memcpy(cur, key, (size_t)key_len);
        cur += key_len;
    }
    w->value_len = value_len;
    if (value_len >= 0) {
        w->value = cur;
        memcpy(cur, value, (size_t)value_len);
        cur += value_len;
    }
    for (i = 0; i < nheaders; i++) {
        struct tr_record_header *h = &w->headers[i];

        h->key_len = headers[i].key_len;
        h->value_len = headers[i].value_len;
        h->key = NULL;
        h->value = NULL;
        if (h->key_len >= 0) {
            memcpy(cur, headers[i].key, (size_t)h->key_len);
            h->key = cur;
            cur += h->key_len;
        }
        if (h->value_len >= 0) {
            memcpy(cur, headers[i].value, (size_t)h->value_len);
            h->value = cur;
            cur += h->value_len;
        }
    }
    return w;
}

/*
 * Gives the partitions that exist now their resumed sequence and batches
 * (before any new record, which is still waiting).
 */
static void
topic_apply_resumes(struct ptopic *t)
{
    struct presume *r, *next;
    struct pbatch *b;

    for (r = TAILQ_FIRST(&t->resumes); r != NULL; r = next) {
        next = TAILQ_NEXT(r, link);
        if (r->partition >= t->nparts) {
            continue;
        }
        struct ppart *part = t->parts[r->partition];

        part->acked_seq = r->next_seq;
        part->next_seq = r->next_seq;
        while ((b = TAILQ_FIRST(&r->batches)) != NULL) {
            TAILQ_REMOVE(&r->batches, b, link);
            b->part = part;
            part->next_seq =
                (int32_t)(((int64_t)b->base_seq + b->count) & INT32_MAX);
            TAILQ_INSERT_TAIL(&part->ready, b, link);
        }
        TAILQ_REMOVE(&t->resumes, r, link);
        tr_free(r);
    }
}

/*
 * Brings a topic up to date with the metadata: creates its partitions and
 * moves waiting records into them, in order. Returns 1 if any batch closed
 * or opened (the pump has work), else 0.
 */
static int
topic_sync(struct tr_producer *p, struct ptopic *t)
{
    struct ppart **grown;
    struct pwait *w;
    int32_t n, i, part;
    int16_t kerr;
    int work = 0, closed;
    tr_err_t err;

    if (tr_client_topic_partitions(p->client, t->name, &n, &kerr) != TR_OK) {
        return 0;
    }
    if (n > t->nparts) {
        grown = tr_realloc(t->parts, (size_t)n * sizeof(*grown));
        if (grown == NULL) {
            return 0;
        }
        t->parts = grown;
        for (i = t->nparts; i < n; i++) {
            struct ppart *pp = tr_calloc(1, sizeof(*pp));

            if (pp == NULL) {
                return 0;
            }
            pp->topic = t;
            pp->id = i;
            TAILQ_INIT(&pp->ready);
            TAILQ_INIT(&pp->inflight);
            t->parts[i] = pp;
            t->nparts = i + 1;
        }
    }
    topic_apply_resumes(t);
    while ((w = TAILQ_FIRST(&t->waiting)) != NULL) {
        part = topic_pick(p, t, w->partition, w->key, w->key_len);
        if (part >= t->nparts) {
            TAILQ_REMOVE(&t->waiting, w, link);
            p->pending--;
            p->buffered -= w->bytes;
            p->cb(w->opaque, TR_ERR_NOT_FOUND,
                  TR_KERR_UNKNOWN_TOPIC_OR_PARTITION, t->name, w->partition, -1,
                  p->cb_arg);
            wait_free(w);
            continue;
        }
        err = part_append(p, t->parts[part], w->timestamp, w->key, w->key_len,
                          w->value, w->value_len, w->headers, w->nheaders,
                          w->opaque, w->bytes, &closed);
        if (err == TR_ERR_NOMEM) {
            break; /* try again on the next pump */
        }
        TAILQ_REMOVE(&t->waiting, w, link);
        if (err != TR_OK) {
            p->pending--;
            p->buffered -= w->bytes;
            p->cb(w->opaque, err, TR_KERR_MESSAGE_TOO_LARGE, t->name, part, -1,
                  p->cb_arg);
        }
        wait_free(w);
        work = 1;
    }
    return work;
}

/* Idempotence. */

/* Tells the caller a batch's sequence (see batch_cb in producer.h). */
static void
batch_announce(struct tr_producer *p, struct pbatch *b)
{
    if (p->cfg.batch_cb != NULL && p->cfg.idempotent && b->base_seq >= 0) {
        p->cfg.batch_cb(p->cfg.batch_cb_arg, b->part->topic->name, b->part->id,
                        p->pid, p->epoch, b->base_seq, b->count, b->wire,
                        b->wire_len, b->opaques);
    }
}

/*
 * Rewrites the producer fields of an encoded batch and its CRC-32C, which
 * covers them (bytes 21 to the end).
 */
static void
batch_restamp(uint8_t *wire, size_t len, int64_t pid, int16_t epoch,
              int32_t seq)
{
    tr_store_i64(wire + 43, pid);   /* ProducerId */
    tr_store_i16(wire + 51, epoch); /* ProducerEpoch */
    tr_store_i32(wire + 53, seq);   /* BaseSequence */
    tr_store_u32(wire + TR_BATCH_OFF_CRC,
                 tr_crc32c(0, wire + TR_BATCH_OFF_ATTRIBUTES,
                           len - TR_BATCH_OFF_ATTRIBUTES));
}

/*
 * Restarts every partition at sequence 0 under the new producer id. Only
 * called with nothing in flight, so every unacknowledged batch is in a
 * ready list, in send order.
 */
static void
renumber_all(struct tr_producer *p)
{
    struct ptopic *t;
    struct pbatch *b;
    int32_t i;

    TAILQ_FOREACH(t, &p->topics, link) {
        for (i = 0; i < t->nparts; i++) {
            struct ppart *part = t->parts[i];

            part->next_seq = 0;
            part->acked_seq = 0;
            TAILQ_FOREACH(b, &part->ready, link) {
                if (b->wire == NULL) {
                    break; /* never sent: numbered on its first send */
                }
                b->base_seq = part->next_seq;
                batch_restamp(b->wire, b->wire_len, p->pid, p->epoch,
                              b->base_seq);
                part->next_seq += b->count;
                batch_announce(p, b);
            }
        }
    }
}

static void
pid_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct tr_producer *p = arg;
    int16_t kerr = TR_KERR_NONE, epoch = -1;
    int64_t pid = -1;

    p->pid_state = PID_NONE;
    if (err == TR_OK) {
        err = tr_client_InitProducerIdResponse_decode(body, version, &kerr,
                                                      &pid, &epoch);
    }
    if (err != TR_OK || kerr != TR_KERR_NONE || pid < 0) {
        if (err == TR_ERR_CLOSED) {
            /* A connection we closed on purpose: just ask again. */
            schedule_pump(p);
            return;
        }
        tr_log_warn("producer: InitProducerId failed: %s (error %d); "
                    "retrying",
                    tr_err_str(err), (int)kerr);
        p->pid_retry_at =
            tr_clock_mono_ms() +
            tr_client_backoff_ms(p->cfg.retry_backoff_ms,
                                 p->cfg.retry_backoff_max_ms, p->pid_failures++,
                                 tr_client_random(p->client));
        schedule_pump(p);
        return;
    }
    if (p->need_reset) {
        tr_log_warn("producer: new producer id %lld (was %lld); "
                    "sequences restart at 0",
                    (long long)pid, (long long)p->pid);
    }
    p->pid = pid;
    p->epoch = epoch;
    p->pid_state = PID_OK;
    p->pid_failures = 0;
    if (p->need_reset) {
        p->need_reset = 0;
        renumber_all(p);
    }
    schedule_pump(p);
}

static void
pid_request(struct tr_producer *p)
{
    struct tr_conn *conn;
    struct tr_buf body;
    int16_t version;

    if (p->pid_state == PID_REQUESTING ||
        tr_clock_mono_ms() < p->pid_retry_at) {
        return;
    }
    conn = tr_client_any_conn(p->client);
    if (conn == NULL) {
        return;
    }
    version = tr_conn_api_version(conn, TR_API_INIT_PRODUCER_ID, 0, 1);
    if (version < 0) {
        tr_log_error("producer: broker supports no InitProducerId v0-v1");
        p->pid_retry_at = tr_clock_mono_ms() + p->cfg.retry_backoff_max_ms;
        return;
    }
    tr_buf_init(&body, 64);
    if (tr_client_InitProducerIdRequest_encode(&body, version) == TR_OK &&
        tr_conn_request(conn, TR_API_INIT_PRODUCER_ID, version, &body, pid_cb,
                        p) == TR_OK) {
        p->pid_state = PID_REQUESTING;
    }
    tr_buf_cleanup(&body);
}

/* Responses. */

static int
kerr_retriable(int16_t kerr)
{
    switch (kerr) {
    case TR_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case TR_KERR_LEADER_NOT_AVAILABLE:
    case TR_KERR_NOT_LEADER_OR_FOLLOWER:
    case TR_KERR_REQUEST_TIMED_OUT:
    case TR_KERR_NOT_ENOUGH_REPLICAS:
    case TR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case TR_KERR_KAFKA_STORAGE_ERROR:
    case TR_KERR_COORDINATOR_LOAD_IN_PROGRESS:
    case TR_KERR_UNKNOWN_SERVER_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Puts a failed batch back into the ready list at its send position. */
static void
batch_requeue(struct tr_producer *p, struct pbatch *b)
{
    struct ppart *part = b->part;
    struct pbatch *it;

    TAILQ_FOREACH(it, &part->ready, link) {
        if (it->order < 0 || it->order > b->order) {
            break;
        }
    }
    if (it != NULL) {
        TAILQ_INSERT_BEFORE(it, b, link);
    } else {
        TAILQ_INSERT_TAIL(&part->ready, b, link);
    }
    part->backoff_until =
        tr_clock_mono_ms() + tr_client_backoff_ms(p->cfg.retry_backoff_ms,
                                                  p->cfg.retry_backoff_max_ms,
                                                  b->attempts,
                                                  tr_client_random(p->client));
    b->attempts++;
    part->retrying = 1;
}

static void
produce_result_cb(const struct tr_str *topic, int32_t partition, int16_t kerr,
                  int64_t base_offset, void *arg)
{
    struct preq *req = arg;
    size_t i;

    for (i = 0; i < req->n; i++) {
        struct pbatch *b = req->batches[i];

        if (!b->answered && b->part->id == partition &&
            tr_str_eq(topic, b->part->topic->name)) {
            b->answered = 1;
            b->kerr = kerr;
            b->offset = base_offset;
            return;
        }
    }
}

/* Decides the fate of one batch of an answered (or failed) request. */
static void
batch_result(struct tr_producer *p, struct pbatch *b, tr_err_t err)
{
    struct ppart *part = b->part;
    int idem = p->cfg.idempotent;
    int16_t kerr = b->kerr;

    TAILQ_REMOVE(&part->inflight, b, link);
    part->ninflight--;
    if (err == TR_OK && !b->answered) {
        err = TR_ERR_CORRUPT; /* the broker skipped it: send it again */
    }
    if (err == TR_OK && (kerr == TR_KERR_NONE ||
                         (idem && kerr == TR_KERR_DUPLICATE_SEQUENCE_NUMBER))) {
        if (idem) {
            part->acked_seq = b->base_seq + b->count;
        }
        if (part->ninflight == 0) {
            part->retrying = 0;
        }
        batch_deliver(p, b, TR_OK, TR_KERR_NONE,
                      kerr == TR_KERR_NONE ? b->offset : -1);
        return;
    }
    if (err != TR_OK || kerr_retriable(kerr)) {
        if (err != TR_OK || kerr == TR_KERR_NOT_LEADER_OR_FOLLOWER ||
            kerr == TR_KERR_LEADER_NOT_AVAILABLE ||
            kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            tr_client_metadata_refresh(p->client);
        }
        batch_requeue(p, b);
        return;
    }
    if (idem && kerr == TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER &&
        b->base_seq != part->acked_seq) {
        /* An earlier batch failed first: this one is resent after it. */
        batch_requeue(p, b);
        return;
    }
    if (idem && (kerr == TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
                 kerr == TR_KERR_UNKNOWN_PRODUCER_ID ||
                 kerr == TR_KERR_INVALID_PRODUCER_EPOCH)) {
        tr_log_warn("producer: %s [%d]: error %d at sequence %d; getting a "
                    "new producer id",
                    part->topic->name, (int)part->id, (int)kerr,
                    (int)b->base_seq);
        p->need_reset = 1;
        batch_requeue(p, b);
        return;
    }
    tr_log_warn("producer: %s [%d]: %d records failed with error %d",
                part->topic->name, (int)part->id, (int)b->count, (int)kerr);
    if (idem && b->base_seq >= 0) {
        p->need_reset = 1; /* the sequence now has a gap */
    }
    batch_deliver(p, b, TR_ERR_INVALID, kerr, -1);
}

static void
preq_free(struct preq *req)
{
    if (req != NULL) {
        tr_free(req->batches);
        tr_free(req);
    }
}

static void
produce_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct preq *req = arg;
    struct tr_producer *p = req->p;
    size_t i;

    TAILQ_REMOVE(&p->reqs, req, link);
    p->nreqs--;
    if (err == TR_OK) {
        err = tr_client_ProduceResponse_decode(body, version, produce_result_cb,
                                               req);
        if (err != TR_OK) {
            tr_log_warn("producer: bad Produce response: %s", tr_err_str(err));
            for (i = 0; i < req->n; i++) {
                req->batches[i]->answered = 0;
            }
        }
    }
    for (i = 0; i < req->n; i++) {
        batch_result(p, req->batches[i], err);
    }
    preq_free(req);
    schedule_pump(p);
}

/* Sending. */

/* Encodes a batch on its first send; with idempotence it gets its sequence. */
static tr_err_t
batch_encode(struct tr_producer *p, struct pbatch *b)
{
    struct ppart *part = b->part;
    struct tr_buf out;
    tr_err_t err;

    if (b->wire != NULL) {
        return TR_OK;
    }
    if (p->cfg.idempotent) {
        b->base_seq = part->next_seq;
        tr_batch_builder_set_producer(b->bld, p->pid, p->epoch, b->base_seq);
    }
    tr_buf_init(&out, SIZE_MAX);
    err = tr_batch_builder_finish(b->bld, &out);
    if (err == TR_OK) {
        b->wire = tr_buf_steal(&out, &b->wire_len);
        err = b->wire != NULL ? TR_OK : TR_ERR_NOMEM;
    }
    tr_buf_cleanup(&out);
    if (err != TR_OK) {
        b->base_seq = -1;
        return err;
    }
    if (p->cfg.idempotent) {
        /* Sequences wrap at INT32_MAX, as in the Java client. */
        part->next_seq =
            (int32_t)(((int64_t)part->next_seq + b->count) & INT32_MAX);
    }
    b->order = p->next_order++;
    tr_batch_builder_free(b->bld);
    b->bld = NULL;
    batch_announce(p, b);
    return TR_OK;
}

/* One request being assembled for one connection. */
struct sendset {
    int32_t node;
    struct tr_conn *conn; /* NULL: not ready this round */
    size_t n, cap;
    struct pbatch **batches;
    size_t bytes;
};

static tr_err_t
send_set(struct tr_producer *p, struct sendset *set, struct pbatch_list *done)
{
    struct tr_produce_part *parts = NULL;
    struct preq *req = NULL;
    struct tr_buf body;
    tr_err_t err = TR_ERR_NOMEM;
    int16_t version;
    size_t i, j, need = 64; /* the request's own fields */

    tr_buf_init(&body, SIZE_MAX);
    version =
        tr_conn_api_version(set->conn, TR_API_PRODUCE, PRODUCER_PRODUCE_MIN_V,
                            PRODUCER_PRODUCE_MAX_V);
    if (version < 0) {
        tr_log_error("producer: node %d supports no Produce v3-v7",
                     (int)set->node);
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    parts = tr_calloc(set->n, sizeof(*parts));
    req = tr_calloc(1, sizeof(*req));
    if (parts == NULL || req == NULL) {
        goto out;
    }
    /* Group by topic: the request wants each topic once. */
    for (i = 1; i < set->n; i++) {
        struct pbatch *b = set->batches[i];

        for (j = i; j > 0 && strcmp(set->batches[j - 1]->part->topic->name,
                                    b->part->topic->name) > 0;
             j--) {
            set->batches[j] = set->batches[j - 1];
        }
        set->batches[j] = b;
    }
    for (i = 0; i < set->n; i++) {
        struct pbatch *b = set->batches[i];

        if ((err = batch_encode(p, b)) != TR_OK) {
            goto out;
        }
        parts[i].topic = b->part->topic->name;
        parts[i].partition = b->part->id;
        parts[i].records = b->wire;
        parts[i].len = b->wire_len;
        need += b->wire_len + strlen(parts[i].topic) + 32;
    }
    /*
     * Sized once for the batches and their framing (topic names, counts),
     * rather than grown by doubling and copying as the batches go in.
     */
    if ((err = tr_buf_reserve(&body, need)) != TR_OK) {
        goto out;
    }
    err = tr_client_ProduceRequest_encode(&body, version, (int16_t)p->cfg.acks,
                                          p->cfg.request_timeout_ms, parts,
                                          set->n);
    if (err != TR_OK) {
        goto out;
    }
    req->p = p;
    req->n = set->n;
    req->batches = set->batches;
    /* The connection takes the body's memory: no copy into its buffer. */
    err = tr_conn_request_give(set->conn, TR_API_PRODUCE, version, &body,
                               p->cfg.acks == 0 ? NULL : produce_cb, req);
    if (err != TR_OK) {
        req->batches = NULL;
        goto out;
    }
    for (i = 0; i < set->n; i++) {
        struct pbatch *b = set->batches[i];
        struct ppart *part = b->part;

        b->answered = 0;
        TAILQ_REMOVE(&part->ready, b, link);
        if (p->cfg.acks == 0) {
            TAILQ_INSERT_TAIL(done, b, link);
        } else {
            TAILQ_INSERT_TAIL(&part->inflight, b, link);
            part->ninflight++;
        }
    }
    if (p->cfg.acks != 0) {
        TAILQ_INSERT_TAIL(&p->reqs, req, link);
        p->nreqs++;
        set->batches = NULL; /* the request owns the array now */
        set->cap = 0;
        req = NULL;
    } else {
        req->batches = NULL;
    }
    err = TR_OK;
out:
    set->n = 0;
    set->bytes = 0;
    preq_free(req);
    tr_free(parts);
    tr_buf_cleanup(&body);
    return err;
}

static struct sendset *
set_for(struct tr_producer *p, struct sendset **sets, size_t *nsets,
        int32_t node)
{
    struct sendset *grown;
    size_t i;

    for (i = 0; i < *nsets; i++) {
        if ((*sets)[i].node == node) {
            return &(*sets)[i];
        }
    }
    grown = tr_realloc(*sets, (*nsets + 1) * sizeof(*grown));
    if (grown == NULL) {
        return NULL;
    }
    *sets = grown;
    memset(&grown[*nsets], 0, sizeof(grown[0]));
    grown[*nsets].node = node;
    grown[*nsets].conn = tr_client_node_conn(p->client, node);
    return &grown[(*nsets)++];
}

static int
set_add(struct sendset *set, struct pbatch *b)
{
    struct pbatch **grown;

    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;

        grown = tr_realloc(set->batches, cap * sizeof(*grown));
        if (grown == NULL) {
            return 0;
        }
        set->batches = grown;
        set->cap = cap;
    }
    set->batches[set->n++] = b;
    set->bytes += b->wire != NULL ? b->wire_len : tr_batch_builder_size(b->bld);
    return 1;
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Fails what has waited longer than delivery_timeout_ms (not in flight). */
static void
expire(struct tr_producer *p, int64_t now)
{
    int64_t limit = p->cfg.delivery_timeout_ms;
    struct ptopic *t;
    struct pbatch *b;
    struct pwait *w;
    int32_t i;

    if (limit < 0) {
        return;
    }
    TAILQ_FOREACH(t, &p->topics, link) {
        while ((w = TAILQ_FIRST(&t->waiting)) != NULL &&
               now - w->created >= limit) {
            TAILQ_REMOVE(&t->waiting, w, link);
            p->pending--;
            p->buffered -= w->bytes;
            p->cb(w->opaque, TR_ERR_TIMEOUT, TR_KERR_REQUEST_TIMED_OUT, t->name,
                  w->partition, -1, p->cb_arg);
            wait_free(w);
        }
        for (i = 0; i < t->nparts; i++) {
            struct ppart *part = t->parts[i];

            while ((b = TAILQ_FIRST(&part->ready)) != NULL &&
                   now - b->created >= limit) {
                TAILQ_REMOVE(&part->ready, b, link);
                if (p->cfg.idempotent && b->base_seq >= 0) {
                    p->need_reset = 1;
                }
                batch_deliver(p, b, TR_ERR_TIMEOUT, TR_KERR_REQUEST_TIMED_OUT,
                              -1);
            }
            if (TAILQ_EMPTY(&part->ready) && part->open != NULL &&
                now - part->open->created >= limit) {
                b = part->open;
                part->open = NULL;
                batch_deliver(p, b, TR_ERR_TIMEOUT, TR_KERR_REQUEST_TIMED_OUT,
                              -1);
            }
        }
    }
}

/*
 * One pass of the producer: expire, sync topics with the metadata, close
 * lingering batches, then send what each leader's connection can take, as
 * many rounds as the in-flight limits allow; finally arm the timer for the
 * next deadline.
 */
static void
pump(struct tr_producer *p)
{
    int64_t now = tr_clock_mono_ms(), next = INT64_MAX;
    struct pbatch_list done;
    struct sendset *sets = NULL;
    size_t nsets = 0, s;
    struct ptopic *t;
    struct pbatch *b;
    int32_t i, leader;
    int need_md = 0, can_send, sent;
    size_t limit;
    struct timeval tv;

    TAILQ_INIT(&done);
    expire(p, now);
    TAILQ_FOREACH(t, &p->topics, link) {
        topic_sync(p, t);
        if (!TAILQ_EMPTY(&t->waiting)) {
            need_md = 1;
        }
        for (i = 0; i < t->nparts; i++) {
            struct ppart *part = t->parts[i];

            if (part->open == NULL) {
                continue;
            }
            if (p->flush || now >= part->open->created + p->cfg.linger_ms) {
                part_close_open(part);
            } else {
                next = min64(next, part->open->created + p->cfg.linger_ms);
            }
        }
    }
    p->flush = 0;

    can_send = 1;
    if (p->cfg.idempotent) {
        if (p->need_reset && p->nreqs == 0 && p->pid_state != PID_REQUESTING) {
            p->pid_state = PID_NONE;
        }
        if (p->pid_state == PID_NONE && (!p->need_reset || p->nreqs == 0) &&
            p->pending > 0) {
            pid_request(p);
            if (p->pid_state != PID_REQUESTING) {
                next = min64(next, p->pid_retry_at);
            }
        }
        can_send = p->pid_state == PID_OK && !p->need_reset;
    }

    limit = (size_t)(p->cfg.max_in_flight > 0 ? p->cfg.max_in_flight : 1);
    if (p->cfg.idempotent && limit > PRODUCER_IDEMPOTENT_INFLIGHT) {
        limit = PRODUCER_IDEMPOTENT_INFLIGHT;
    }
    do {
        sent = 0;
        TAILQ_FOREACH(t, &p->topics, link) {
            for (i = 0; can_send && i < t->nparts; i++) {
                struct ppart *part = t->parts[i];
                struct sendset *set;

                b = TAILQ_FIRST(&part->ready);
                if (b == NULL) {
                    continue;
                }
                if (now < part->backoff_until) {
                    next = min64(next, part->backoff_until);
                    continue;
                }
                if (part->ninflight >= (part->retrying ? 1 : limit)) {
                    continue;
                }
                leader = tr_client_partition_leader(p->client, t->name, i);
                if (leader < 0) {
                    need_md = 1;
                    continue;
                }
                set = set_for(p, &sets, &nsets, leader);
                if (set == NULL || set->conn == NULL ||
                    tr_conn_inflight(set->conn) >=
                        (size_t)p->cfg.max_in_flight) {
                    continue;
                }
                if (set->n > 0 &&
                    set->bytes + b->bytes > PRODUCER_MAX_REQUEST) {
                    continue;
                }
                /* One batch per partition per request. */
                if (set->n > 0 && set->batches[set->n - 1]->part == part) {
                    continue;
                }
                set_add(set, b);
            }
        }
        for (s = 0; s < nsets; s++) {
            if (sets[s].n > 0) {
                if (send_set(p, &sets[s], &done) == TR_OK) {
                    sent = 1;
                }
            }
        }
    } while (sent);

    for (s = 0; s < nsets; s++) {
        tr_free(sets[s].batches);
    }
    tr_free(sets);
    if (need_md) {
        tr_client_metadata_refresh(p->client);
    }
    /* acks=0: written is as good as it gets. */
    while ((b = TAILQ_FIRST(&done)) != NULL) {
        TAILQ_REMOVE(&done, b, link);
        batch_deliver(p, b, TR_OK, TR_KERR_NONE, -1);
    }
    if (p->pending > 0) {
        next = min64(next, now + PRODUCER_HOUSEKEEPING_MS);
    }
    if (next != INT64_MAX) {
        next = next > now ? next - now : 0;
        tv.tv_sec = next / 1000;
        tv.tv_usec = (next % 1000) * 1000;
        event_add(p->timer, &tv);
    }
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static void
client_event_cb(void *arg)
{
    schedule_pump(arg);
}

/* Public API. */

tr_err_t
tr_producer_new(struct event_base *base, const struct tr_producer_config *cfg,
                tr_producer_delivery_cb *cb, void *cb_arg,
                struct tr_producer **out)
{
    struct tr_client_config ccfg;
    struct tr_producer *p = tr_calloc(1, sizeof(*p));
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (p == NULL) {
        goto out;
    }
    TAILQ_INIT(&p->topics);
    TAILQ_INIT(&p->reqs);
    p->base = base;
    p->cfg = *cfg;
    p->cb = cb;
    p->cb_arg = cb_arg;
    p->pid = -1;
    p->epoch = -1;
    if (cfg->idempotent && cfg->producer_id >= 0) {
        p->pid = cfg->producer_id;
        p->epoch = cfg->producer_epoch;
        p->pid_state = PID_OK;
    }
    if (p->cfg.idempotent && p->cfg.acks != -1) {
        tr_log_warn("producer: idempotence needs acks=-1; disabled");
        p->cfg.idempotent = 0;
    }
    err = TR_ERR_CONFIG;
    if (p->cfg.batch_bytes == 0 || p->cfg.buffer_max_bytes == 0 ||
        p->cfg.linger_ms < 0 || p->cfg.acks < -1 || p->cfg.acks > 1 ||
        !tr_codec_available(p->cfg.codec)) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    p->bootstrap = tr_strdup(cfg->bootstrap ? cfg->bootstrap : "");
    p->client_id =
        tr_strdup(cfg->client_id ? cfg->client_id : PRODUCER_DEFAULT_ID);
    p->pump_ev = event_new(base, -1, 0, pump_cb, p);
    p->timer = evtimer_new(base, pump_cb, p);
    if (p->bootstrap == NULL || p->client_id == NULL || p->pump_ev == NULL ||
        p->timer == NULL) {
        goto out;
    }
    p->cfg.bootstrap = p->bootstrap;
    p->cfg.client_id = p->client_id;
    tr_client_config_defaults(&ccfg);
    ccfg.bootstrap = p->bootstrap;
    ccfg.client_id = p->client_id;
    ccfg.request_timeout_ms = p->cfg.request_timeout_ms;
    ccfg.reconnect_backoff_ms = p->cfg.retry_backoff_ms;
    ccfg.reconnect_backoff_max_ms = p->cfg.retry_backoff_max_ms;
    ccfg.metadata_refresh_ms = p->cfg.metadata_refresh_ms;
    ccfg.security = p->cfg.security;
    err = tr_client_new(base, &ccfg, client_event_cb, p, &p->client);
    if (err != TR_OK) {
        goto out;
    }
    *out = p;
    p = NULL;
out:
    tr_producer_free(p);
    return err;
}

tr_err_t
tr_producer_send(struct tr_producer *p, const char *topic, int32_t partition,
                 const void *key, int32_t key_len, const void *value,
                 int32_t value_len, const struct tr_record_header *headers,
                 int32_t nheaders, int64_t timestamp, void *opaque)
{
    struct ptopic *t;
    struct pwait *w;
    size_t bytes;
    int32_t part;
    int closed, opened;
    tr_err_t err;

    if (p->closing) {
        return TR_ERR_CLOSED;
    }
    if (topic == NULL || topic[0] == '\0' || partition < -1 || nheaders < 0 ||
        (nheaders > 0 && headers == NULL)) {
        return TR_ERR_INVALID;
    }
    if (key == NULL) {
        key_len = -1;
    }
    if (value == NULL) {
        value_len = -1;
    }
    bytes = record_bytes(key_len, value_len, headers, nheaders);
    if (bytes > p->cfg.buffer_max_bytes) {
        return TR_ERR_TOO_LARGE;
    }
    if (p->buffered + bytes > p->cfg.buffer_max_bytes) {
        return TR_ERR_AGAIN;
    }
    if (timestamp < 0) {
        timestamp = tr_clock_wall_ms();
    }
    t = topic_get(p, topic);
    if (t == NULL) {
        return TR_ERR_NOMEM;
    }
    if (!TAILQ_EMPTY(&t->waiting) || t->nparts == 0) {
        topic_sync(p, t);
    }
    if (!TAILQ_EMPTY(&t->waiting) || t->nparts == 0) {
        /* No metadata yet: keep it, in order, until there is. */
        if (key_len > (int32_t)p->cfg.batch_bytes ||
            value_len > (int32_t)p->cfg.batch_bytes) {
            return TR_ERR_TOO_LARGE;
        }
        w = wait_new(partition, timestamp, key, key_len, value, value_len,
                     headers, nheaders, opaque, bytes);
        if (w == NULL) {
            return TR_ERR_NOMEM;
        }
        TAILQ_INSERT_TAIL(&t->waiting, w, link);
        p->pending++;
        p->buffered += bytes;
        schedule_pump(p);
        return TR_OK;
    }
    part = topic_pick(p, t, partition, key, key_len);
    if (part >= t->nparts) {
        return TR_ERR_INVALID;
    }
    opened = t->parts[part]->open == NULL;
    err = part_append(p, t->parts[part], timestamp, key, key_len, value,
                      value_len, headers, nheaders, opaque, bytes, &closed);
    if (err != TR_OK) {
        return err;
    }
    p->pending++;
    p->buffered += bytes;
    if (closed || opened) {
        schedule_pump(p); /* send it, or arm the linger timer */
    }
    return TR_OK;
}

tr_err_t
tr_producer_resume(struct tr_producer *p, const char *topic, int32_t partition,
                   int32_t next_seq, const uint8_t *const *wire,
                   const size_t *wire_len, const int32_t *count, size_t n)
{
    struct presume *r;
    struct ptopic *t;
    size_t i;

    if (!p->cfg.idempotent || partition < 0 || next_seq < 0) {
        return TR_ERR_INVALID;
    }
    t = topic_get(p, topic);
    r = tr_calloc(1, sizeof(*r));
    if (t == NULL || r == NULL) {
        tr_free(r);
        return TR_ERR_NOMEM;
    }
    r->partition = partition;
    r->next_seq = next_seq;
    TAILQ_INIT(&r->batches);
    TAILQ_INSERT_TAIL(&t->resumes, r, link);
    for (i = 0; i < n; i++) {
        struct pbatch *b = tr_calloc(1, sizeof(*b));

        if (wire_len[i] < PRODUCER_BATCH_HEADER || count[i] <= 0) {
            tr_free(b);
            return TR_ERR_INVALID;
        }
        if (b == NULL || (b->wire = tr_malloc(wire_len[i])) == NULL ||
            (b->opaques = tr_calloc((size_t)count[i], sizeof(void *))) ==
                NULL) {
            batch_free(b);
            return TR_ERR_NOMEM;
        }
        memcpy(b->wire, wire[i], wire_len[i]);
        b->wire_len = wire_len[i];
        b->count = b->cap = count[i];
        b->base_seq = tr_load_i32(b->wire + 53);
        b->bytes = wire_len[i];
        b->created = tr_clock_mono_ms();
        b->order = p->next_order++;
        TAILQ_INSERT_TAIL(&r->batches, b, link);
        p->pending += (size_t)b->count;
        p->buffered += b->bytes;
    }
    if (t->nparts > 0) {
        topic_apply_resumes(t);
    }
    schedule_pump(p);
    return TR_OK;
}

int64_t
tr_producer_id(const struct tr_producer *p, int16_t *epoch)
{
    if (epoch != NULL) {
        *epoch = p->epoch;
    }
    return p->pid;
}

void
tr_producer_flush(struct tr_producer *p)
{
    p->flush = 1;
    schedule_pump(p);
}

size_t
tr_producer_pending(const struct tr_producer *p)
{
    return p->pending;
}

size_t
tr_producer_buffered_bytes(const struct tr_producer *p)
{
    return p->buffered;
}

int
tr_producer_connected(const struct tr_producer *p)
{
    return tr_client_connected(p->client);
}

static void
deliver_list(struct tr_producer *p, struct pbatch_list *list)
{
    struct pbatch *b;

    while ((b = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, b, link);
        batch_deliver(p, b, TR_ERR_CLOSED, TR_KERR_NONE, -1);
    }
}

void
tr_producer_free(struct tr_producer *p)
{
    struct ptopic *t;
    struct pwait *w;
    struct preq *req;
    int32_t i;

    if (p == NULL) {
        return;
    }
    p->closing = 1;
    /* Requests in flight are dropped without callbacks; we own them. */
    tr_client_free(p->client);
    while ((req = TAILQ_FIRST(&p->reqs)) != NULL) {
        TAILQ_REMOVE(&p->reqs, req, link);
        preq_free(req);
    }
    while ((t = TAILQ_FIRST(&p->topics)) != NULL) {
        TAILQ_REMOVE(&p->topics, t, link);
        for (i = 0; i < t->nparts; i++) {
            struct ppart *part = t->parts[i];

            deliver_list(p, &part->inflight);
            deliver_list(p, &part->ready);
            if (part->open != NULL) {
                struct pbatch *b = part->open;

                part->open = NULL;
                batch_deliver(p, b, TR_ERR_CLOSED, TR_KERR_NONE, -1);
            }
            tr_free(part);
        }
        struct presume *r;
        while ((r = TAILQ_FIRST(&t->resumes)) != NULL) {
            TAILQ_REMOVE(&t->resumes, r, link);
            deliver_list(p, &r->batches);
            tr_free(r);
        }
        while ((w = TAILQ_FIRST(&t->waiting)) != NULL) {
            TAILQ_REMOVE(&t->waiting, w, link);
            p->pending--;
            p->buffered -= w->bytes;
            p->cb(w->opaque, TR_ERR_CLOSED, TR_KERR_NONE, t->name, w->partition,
                  -1, p->cb_arg);
            wait_free(w);
        }
        tr_free(t->parts);
        tr_free(t->name);
        tr_free(t);
    }
    if (p->pump_ev != NULL) {
        event_free(p->pump_ev);
    }
    if (p->timer != NULL) {
        event_free(p->timer);
    }
    tr_free(p->bootstrap);
    tr_free(p->client_id);
    tr_free(p);
}
