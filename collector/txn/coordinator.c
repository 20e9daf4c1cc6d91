/*
 * coordinator -- the transaction coordinator over __transaction_state. See
 * coordinator.h for the states, the record schemas and the order of the
 * writes. Transactional ids are few (one per transactional producer
 * instance), so they sit in a list; partitions of a transaction are a
 * sorted array.
 */
#include "coordinator.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "config.h"
#include "groups.h"
#include "log.h"
#include "partition.h"
#include "pidgen.h"
#include "topics.h"
#include "waits.h"

/* Kafka counts an epoch as exhausted from here: 32767 stays for a fence. */
#define EPOCH_EXHAUSTED 32766
#define LOAD_CHUNK      (1u << 20)
#define RECORD_MAX      (1u << 20)
/* Caps on what a decoded value may hold (no allocation is sized by more). */
#define MAX_TOPICS     100000
#define MAX_PARTITIONS 100000

struct txn {
    TAILQ_ENTRY(txn) link;
    char *id;
    int32_t state_partition; /* of __transaction_state */
    int64_t pid;
    int16_t epoch;
    /* The pair handed out before the last bump: a retried InitProducerId
     * with it gets the current one back. In memory only, as in Kafka. */
    int64_t last_pid;
    int16_t last_epoch;
    int32_t timeout_ms;
    enum tr_txn_state state;
    struct tr_txn_topic_partition *parts; /* sorted by topic, partition */
    size_t nparts;
    int64_t start_ms; /* -1 unless a transaction is open */
    int64_t update_ms;
};

TAILQ_HEAD(txn_list, txn);

struct tr_txn_coordinator {
    pthread_mutex_t lock;
    struct tr_topics *topics;
    struct tr_waits *waits;
    struct tr_groups *groups;
    struct tr_pidgen *pids;
    int64_t pid_high_bits;
    struct tr_txn_config cfg;
    int32_t partitions; /* of __transaction_state, as found or created */
    struct txn_list txns;
    int64_t next_abort_check;
    int64_t next_remove_check;
    struct tr_batch_builder *builder;
    struct tr_buf key, value, batch;
    /* In a cluster: per partition of __transaction_state, the leader epoch
     * its ids were loaded at (the coordinator epoch), -1: not served. */
    const struct tr_txn_cluster *cl;
    int32_t *loaded;
    int16_t write_kerr; /* why the last write_record failed */
    /* Jobs running for the coordinator (tr_txn_job_begin); own lock, as
     * the coordinator's is held across replication waits. */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_idle;
    int jobs;
};

void
tr_txn_config_defaults(struct tr_txn_config *cfg)
{
    cfg->state_partitions = 50;
    cfg->max_timeout_ms = 900000;
    cfg->id_expiration_ms = 604800000;
    cfg->abort_interval_ms = 10000;
    cfg->remove_interval_ms = 3600000;
    cfg->offsets_partitions = 50;
    cfg->cluster = NULL;
}

const char *
tr_txn_state_name(enum tr_txn_state state)
{
    static const char *const names[] = {
        "Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
        "CompleteCommit", "CompleteAbort", "Dead",
    };

    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state]
                                                              : "Unknown";
}

/* ---- record codec ------------------------------------------------------ */

void
tr_txn_put_key(struct tr_buf *out, const struct tr_str *id)
{
    tr_buf_put_i16(out, 0); /* version */
    tr_proto_put_string_v(out, 0, id->ptr, id->len < 0 ? 0 : id->len);
}

void
tr_txn_put_value(struct tr_buf *out, const struct tr_txn_record *rec)
{
    size_t i, j, ntopics = 0, of_count;

    tr_buf_put_i16(out, 0);                   /* version */
    tr_buf_put_i64(out, rec->producer_id);    /* producer_id */
    tr_buf_put_i16(out, rec->producer_epoch); /* producer_epoch */
    tr_buf_put_i32(out, rec->timeout_ms);     /* transaction_timeout_ms */
    tr_buf_put_i8(out, rec->state);           /* transaction_status */
    if (rec->state == TR_TXN_EMPTY) {
        tr_buf_put_i32(out, -1); /* transaction_partitions: null */
    } else {
        of_count = tr_buf_put_i32(out, 0); /* transaction_partitions */
        for (i = 0; i < rec->npartitions; i = j) {
            const char *topic = rec->partitions[i].topic;

            for (j = i; j < rec->npartitions &&
                        strcmp(rec->partitions[j].topic, topic) == 0;
                 j++) {
            }
            tr_proto_put_cstring_v(out, 0, topic); /* topic */
            tr_buf_put_i32(out, (int32_t)(j - i)); /* partition_ids */
            for (; i < j; i++) {
                tr_buf_put_i32(out, rec->partitions[i].partition);
            }
            ntopics++;
        }
        tr_buf_set_i32(out, of_count, (int32_t)ntopics);
    }
    tr_buf_put_i64(out, rec->update_ms); /* last_update_timestamp_ms */
    tr_buf_put_i64(out, rec->start_ms);  /* start_timestamp_ms */
}

tr_err_t
tr_txn_decode_key(const uint8_t *p, size_t len, struct tr_str *id)
{
    struct tr_slice s;
    int16_t version;
    tr_err_t err;

    tr_slice_init(&s, p, len);
    err = tr_slice_get_i16(&s, &version);
    if (err != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (version != 0) {
        return TR_ERR_UNSUPPORTED; /* skipped on load, as Kafka does */
    }
    err = tr_proto_get_string(&s, id);
    return err != TR_OK || id->len < 0 ? TR_ERR_CORRUPT : TR_OK;
}

static void
parts_free(struct tr_txn_topic_partition *parts, size_t n)
{
    size_t i;

    for (i = 0; parts != NULL && i < n; i++) {
        tr_free(parts[i].topic);
    }
    tr_free(parts);
}

tr_err_t
tr_txn_decode_value(const uint8_t *p, size_t len, struct tr_txn_record *rec,
                    struct tr_txn_topic_partition **parts)
{
    struct tr_txn_topic_partition *tp = NULL;
    struct tr_slice s;
    int16_t version;
    int32_t ntopics, t, np, i;
    size_t n = 0, cap = 0;
    tr_err_t err = TR_ERR_CORRUPT;

    *parts = NULL;
    memset(rec, 0, sizeof(*rec));
    tr_slice_init(&s, p, len);
    if (tr_slice_get_i16(&s, &version) != TR_OK) {
        goto out;
    }
    if (version != 0) {
        /* v1 (Kafka 4.0) is flexible; this collector writes v0 only. */
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    if (tr_slice_get_i64(&s, &rec->producer_id) != TR_OK ||
        tr_slice_get_i16(&s, &rec->producer_epoch) != TR_OK ||
        tr_slice_get_i32(&s, &rec->timeout_ms) != TR_OK ||
        tr_slice_get_i8(&s, &rec->state) != TR_OK ||
        tr_proto_get_array_len_v(&s, 0, &ntopics, 6, MAX_TOPICS) != TR_OK) {
        goto out;
    }
    for (t = 0; t < ntopics; t++) {
        struct tr_str topic;

        if (tr_proto_get_string(&s, &topic) != TR_OK || topic.len <= 0 ||
            tr_proto_get_array_len_v(&s, 0, &np, 4, MAX_PARTITIONS) != TR_OK ||
            np < 0) {
            goto out;
        }
        for (i = 0; i < np; i++) {
            int32_t partition;

            if (tr_slice_get_i32(&s, &partition) != TR_OK) {
                goto out;
            }
            if (tr_array_reserve(&tp, &cap, n + 1, sizeof(*tp)) != TR_OK) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            tp[n].topic = tr_strndup(topic.ptr, (size_t)topic.len);
            tp[n].partition = partition;
            if (tp[n].topic == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            n++;
        }
    }
    if (tr_slice_get_i64(&s, &rec->update_ms) != TR_OK ||
        tr_slice_get_i64(&s, &rec->start_ms) != TR_OK) {
        goto out;
    }
    if (rec->state < TR_TXN_EMPTY || rec->state > TR_TXN_COMPLETE_ABORT) {
        goto out;
    }
    rec->npartitions = n;
    rec->partitions = tp;
    *parts = tp;
    tp = NULL;
    err = TR_OK;
out:
    if (tp != NULL) {
        parts_free(tp, n);
    }
    return err;
}

/* ---- the in-memory table ----------------------------------------------- */

static int
tp_cmp(const void *a, const void *b)
{
    const struct tr_txn_topic_partition *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    if (c != 0) {
        return c;
    }
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static struct txn *
txn_find(struct tr_txn_coordinator *tc, const struct tr_str *id)
{
    struct txn *t;

    TAILQ_FOREACH(t, &tc->txns, link) {
        if (id->len >= 0 && strlen(t->id) == (size_t)id->len &&
            memcmp(t->id, id->ptr, (size_t)id->len) == 0) {
            return t;
        }
    }
    return NULL;
}

static void
txn_remove(struct tr_txn_coordinator *tc, struct txn *t)
{
    TAILQ_REMOVE(&tc->txns, t, link);
    parts_free(t->parts, t->nparts);
    tr_free(t->id);
    tr_free(t);
}

static struct txn *
txn_add(struct tr_txn_coordinator *tc, const struct tr_str *id)
{
    struct txn *t = tr_calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->id = tr_strndup(id->ptr, (size_t)id->len);
    if (t->id == NULL) {
        tr_free(t);
        return NULL;
    }
    t->state_partition = tr_txn_partition_for(tc, id);
    t->pid = -1;
    t->epoch = -1;
    t->last_pid = -1;
    t->last_epoch = -1;
    t->state = TR_TXN_EMPTY;
    t->start_ms = -1;
    TAILQ_INSERT_TAIL(&tc->txns, t, link);
    return t;
}

int32_t
tr_txn_partition_for(const struct tr_txn_coordinator *tc,
                     const struct tr_str *id)
{
    /* The same Java hashCode rule as the group coordinator's. */
    return tr_groups_partition_for(id, tc->partitions);
}

/* Returns an owned copy of 'n' partitions, or NULL (n 0 gives NULL too). */
static struct tr_txn_topic_partition *
parts_copy(const struct tr_txn_topic_partition *src, size_t n, int *nomem)
{
    struct tr_txn_topic_partition *dst;
    size_t i;

    *nomem = 0;
    if (n == 0) {
        return NULL;
    }
    dst = tr_calloc(n, sizeof(*dst));
    if (dst == NULL) {
        *nomem = 1;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        dst[i].partition = src[i].partition;
        dst[i].topic = tr_strdup(src[i].topic);
        if (dst[i].topic == NULL) {
            parts_free(dst, i);
            *nomem = 1;
            return NULL;
        }
    }
    return dst;
}

/* ---- cluster ----------------------------------------------------------- */

void
tr_txn_job_begin(struct tr_txn_coordinator *tc)
{
    pthread_mutex_lock(&tc->jobs_lock);
    tc->jobs++;
    pthread_mutex_unlock(&tc->jobs_lock);
}

void
tr_txn_job_end(struct tr_txn_coordinator *tc)
{
    pthread_mutex_lock(&tc->jobs_lock);
    if (--tc->jobs == 0) {
        pthread_cond_broadcast(&tc->jobs_idle);
    }
    pthread_mutex_unlock(&tc->jobs_lock);
}

void
tr_txn_drain(struct tr_txn_coordinator *tc)
{
    if (tc == NULL) {
        return;
    }
    pthread_mutex_lock(&tc->jobs_lock);
    while (tc->jobs > 0) {
        pthread_cond_wait(&tc->jobs_idle, &tc->jobs_lock);
    }
    pthread_mutex_unlock(&tc->jobs_lock);
}

int
tr_txn_marker_retriable(int16_t error)
{
    switch (error) {
    case TR_KERR_NONE:
    case TR_KERR_INVALID_PRODUCER_EPOCH:
    case TR_KERR_PRODUCER_FENCED:
    case TR_KERR_TRANSACTION_COORDINATOR_FENCED:
    case TR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
        return 0;
    default:
        return 1;
    }
}

int16_t
tr_txn_wait_acked(int16_t (*acked)(void *arg, const char *topic,
                                   int32_t partition, int32_t epoch,
                                   int64_t last_offset),
                  void *arg, const char *topic, int32_t partition,
                  int32_t epoch, int64_t last_offset)
{
    struct timespec pause = { 0, 2 * 1000 * 1000 };
    int waited;

    /* The followers fetch at once (the append woke their long-polls), so
     * this is a replication round trip; callers hold no partition lock. */
    for (waited = 0; waited < TR_TXN_ACK_TIMEOUT_MS; waited += 2) {
        int16_t kerr = acked(arg, topic, partition, epoch, last_offset);

        if (kerr != -1) {
            return kerr;
        }
        nanosleep(&pause, NULL);
    }
    return TR_KERR_REQUEST_TIMED_OUT;
}

static tr_err_t load_partition(struct tr_txn_coordinator *tc, int32_t p,
                               int64_t *records);
static int16_t complete(struct tr_txn_coordinator *tc, struct txn *t,
                        int64_t now_ms);
static int is_prepare(enum tr_txn_state s);

/* Forgets the ids of partition 'p' (its leadership is gone or renewed). */
static void
unload(struct tr_txn_coordinator *tc, int32_t p)
{
    struct txn *t, *tmp;

    for (t = TAILQ_FIRST(&tc->txns); t != NULL; t = tmp) {
        tmp = TAILQ_NEXT(t, link);
        if (t->state_partition == p) {
            txn_remove(tc, t);
        }
    }
    if (tc->loaded[p] >= 0) {
        tr_log_info("transaction coordinator: %s-%d no longer served",
                    TR_TXN_TOPIC, p);
    }
    tc->loaded[p] = -1;
}

/* In a cluster: learns the partition count of __transaction_state. */
static int16_t
know_partitions(struct tr_txn_coordinator *tc)
{
    int32_t n, i;

    if (tc->loaded != NULL) {
        return TR_KERR_NONE;
    }
    n = tc->cl->partitions(tc->cl->arg, TR_TXN_TOPIC);
    if (n <= 0) {
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    tc->loaded = tr_calloc((size_t)n, sizeof(*tc->loaded));
    if (tc->loaded == NULL) {
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    for (i = 0; i < n; i++) {
        tc->loaded[i] = -1;
    }
    tc->partitions = n;
    return TR_KERR_NONE;
}

/*
 * Whether this broker coordinates the ids of partition 'p' now: NONE
 * (loaded at the current leader epoch, replaying the log first when the
 * epoch is new), NOT_COORDINATOR, or COORDINATOR_NOT_AVAILABLE / _LOAD_IN
 * _PROGRESS. Always NONE on a single collector. Called with the lock held.
 */
static int16_t
serve_partition(struct tr_txn_coordinator *tc, int32_t p, int64_t now_ms)
{
    struct txn *t;
    int64_t records = 0;
    int32_t epoch = -1;
    tr_err_t err;

    if (tc->cl == NULL) {
        return TR_KERR_NONE;
    }
    if (know_partitions(tc) != TR_KERR_NONE) {
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (p < 0 || p >= tc->partitions) {
        return TR_KERR_NOT_COORDINATOR;
    }
    if (tc->cl->leader_epoch(tc->cl->arg, TR_TXN_TOPIC, p, 0, &epoch) !=
        TR_KERR_NONE) {
        if (tc->loaded[p] >= 0) {
            unload(tc, p);
        }
        return TR_KERR_NOT_COORDINATOR;
    }
    if (tc->loaded[p] == epoch) {
        return TR_KERR_NONE;
    }
    unload(tc, p);
    err = load_partition(tc, p, &records);
    if (err != TR_OK) {
        tr_log_error("transaction coordinator: cannot load %s-%d: %s",
                     TR_TXN_TOPIC, p, tr_err_str(err));
        unload(tc, p);
        return TR_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    }
    tc->loaded[p] = epoch;
    tr_log_info("transaction coordinator: serving %s-%d at coordinator epoch "
                "%d (%" PRId64 " records replayed)",
                TR_TXN_TOPIC, p, epoch, records);
    /* Transactions caught between Prepare* and Complete* end now. */
    TAILQ_FOREACH(t, &tc->txns, link) {
        if (t->state_partition == p && is_prepare(t->state)) {
            (void)complete(tc, t, now_ms);
        }
    }
    return TR_KERR_NONE;
}

static int16_t
serve_id(struct tr_txn_coordinator *tc, const struct tr_str *id, int64_t now_ms)
{
    if (tc->cl == NULL) {
        return TR_KERR_NONE;
    }
    if (know_partitions(tc) != TR_KERR_NONE) {
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return serve_partition(tc, tr_txn_partition_for(tc, id), now_ms);
}

/* ---- persistence -------------------------------------------------------- */

/*
 * Appends the record of 'id' ('rec' NULL: a tombstone) to its partition of
 * __transaction_state. Called with the lock held.
 */
static tr_err_t
write_record(struct tr_txn_coordinator *tc, const char *id,
             const struct tr_txn_record *rec, int64_t now_ms)
{
    struct tr_str sid;
    struct tr_partition *part = NULL;
    struct tr_append_result res;
    int32_t p;
    tr_err_t err;

    sid.ptr = id;
    sid.len = (int32_t)strlen(id);
    p = tr_txn_partition_for(tc, &sid);
    tr_buf_reset(&tc->key);
    tr_buf_reset(&tc->value);
    tr_buf_reset(&tc->batch);
    tr_batch_builder_reset(tc->builder);
    tr_txn_put_key(&tc->key, &sid);
    if (rec != NULL) {
        tr_txn_put_value(&tc->value, rec);
    }
    if ((err = tr_buf_err(&tc->key)) != TR_OK ||
        (err = tr_buf_err(&tc->value)) != TR_OK) {
        goto out;
    }
    err = tr_batch_builder_add(
        tc->builder, now_ms, tr_buf_data(&tc->key),
        (int32_t)tr_buf_len(&tc->key),
        rec != NULL ? tr_buf_data(&tc->value) : NULL,
        rec != NULL ? (int32_t)tr_buf_len(&tc->value) : -1, NULL, 0);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_batch_builder_finish(tc->builder, &tc->batch);
    if (err != TR_OK) {
        goto out;
    }
    tc->write_kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    if (tc->cl != NULL) {
        int32_t epoch = -1;
        int16_t kerr =
            tc->cl->leader_epoch(tc->cl->arg, TR_TXN_TOPIC, p, 1, &epoch);

        if (kerr != TR_KERR_NONE || epoch != tc->loaded[p]) {
            /* Kafka: NOT_ENOUGH_REPLICAS -> 15, a lost leadership -> 16. */
            if (kerr != TR_KERR_NOT_ENOUGH_REPLICAS) {
                tc->write_kerr = TR_KERR_NOT_COORDINATOR;
            }
            err = TR_ERR_STALE;
            goto out;
        }
    }
    part = tr_topics_partition(tc->topics, TR_TXN_TOPIC, p);
    if (part == NULL) {
        err = TR_ERR_NOT_FOUND;
        goto out;
    }
    err = tr_partition_append(part, tr_buf_data(&tc->batch),
                              tr_buf_len(&tc->batch), &res);
    if (err == TR_OK && tc->cl != NULL) {
        int16_t kerr;

        tc->cl->appended(tc->cl->arg, part);
        if (tc->waits != NULL) {
            tr_waits_notify(tc->waits, TR_TXN_TOPIC, p);
        }
        kerr = tr_txn_wait_acked(tc->cl->acked, tc->cl->arg, TR_TXN_TOPIC, p,
                                 tc->loaded[p], res.last_offset);
        if (kerr != TR_KERR_NONE) {
            if (kerr == TR_KERR_NOT_LEADER_OR_FOLLOWER) {
                tc->write_kerr = TR_KERR_NOT_COORDINATOR;
            }
            err = TR_ERR_TIMEOUT;
        }
    }
out:
    if (err != TR_OK) {
        tr_log_error("transactional id '%s': cannot write %s-%d: %s",
                     TR_LOG_ESC(id), TR_TXN_TOPIC, p, tr_err_str(err));
    }
    tr_partition_unref(part);
    return err;
}

/* The next state of an entry, written before it is applied. */
struct next {
    int64_t pid;
    int16_t epoch;
    int32_t timeout_ms;
    enum tr_txn_state state;
    const struct tr_txn_topic_partition *parts; /* borrowed */
    size_t nparts;
    int64_t start_ms;
};

static void
next_from(struct next *n, const struct txn *t)
{
    n->pid = t->pid;
    n->epoch = t->epoch;
    n->timeout_ms = t->timeout_ms;
    n->state = t->state;
    n->parts = t->parts;
    n->nparts = t->nparts;
    n->start_ms = t->start_ms;
}

/*
 * Persists 'n' for 't', then applies it. Returns a Kafka error:
 * COORDINATOR_NOT_AVAILABLE when the record could not be written (nothing
 * changes then). Called with the lock held.
 */
static int16_t
transit(struct tr_txn_coordinator *tc, struct txn *t, const struct next *n,
        int64_t now_ms)
{
    struct tr_txn_record rec;
    struct tr_txn_topic_partition *parts = NULL;
    int nomem;

    if (n->parts != t->parts) {
        parts = parts_copy(n->parts, n->nparts, &nomem);
        if (nomem) {
            return TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    rec.producer_id = n->pid;
    rec.producer_epoch = n->epoch;
    rec.timeout_ms = n->timeout_ms;
    rec.state = (int8_t)n->state;
    rec.update_ms = now_ms;
    rec.start_ms = n->start_ms;
    rec.npartitions = n->nparts;
    rec.partitions = n->parts;
    if (write_record(tc, t->id, &rec, now_ms) != TR_OK) {
        parts_free(parts, n->nparts);
        return tc->write_kerr;
    }
    if (n->parts != t->parts) {
        parts_free(t->parts, t->nparts);
        t->parts = parts;
        t->nparts = n->nparts;
    }
    t->pid = n->pid;
    t->epoch = n->epoch;
    t->timeout_ms = n->timeout_ms;
    t->state = n->state;
    t->start_ms = n->start_ms;
    t->update_ms = now_ms;
    return TR_KERR_NONE;
}

/* ---- ending a transaction ---------------------------------------------- */

/*
 * Writes the markers of 't' (in Prepare*) to every partition of its
 * transaction, then Complete*. A partition that is gone (deleted topic) or
 * that has seen a newer epoch is skipped, as Kafka drops them; any other
 * failure leaves 't' in Prepare* for tr_txn_tick to retry. Returns a
 * Kafka error. Called with the lock held.
 */
static int16_t
complete(struct tr_txn_coordinator *tc, struct txn *t, int64_t now_ms)
{
    int commit = t->state == TR_TXN_PREPARE_COMMIT;
    int32_t coordinator_epoch =
        tc->cl != NULL ? tc->loaded[t->state_partition] : 0;
    struct tr_txn_marker_target *remote = NULL;
    size_t nremote = 0;
    struct next n;
    size_t i;

    if (tc->cl != NULL) {
        remote = tr_calloc(t->nparts + 1, sizeof(*remote));
        if (remote == NULL) {
            return TR_KERR_CONCURRENT_TRANSACTIONS;
        }
    }
    for (i = 0; i < t->nparts; i++) {
        const struct tr_txn_topic_partition *tp = &t->parts[i];
        struct tr_partition *part;
        int64_t offset = -1;
        int32_t pepoch = -1;
        tr_err_t err;

        if (tc->cl != NULL) {
            int16_t kerr = tc->cl->leader_epoch(tc->cl->arg, tp->topic,
                                                tp->partition, 1, &pepoch);

            if (kerr == TR_KERR_NOT_ENOUGH_REPLICAS) {
                tr_free(remote);
                return TR_KERR_CONCURRENT_TRANSACTIONS;
            }
            if (kerr != TR_KERR_NONE) {
                /* Another broker leads it: WriteTxnMarkers below. */
                remote[nremote].topic = tp->topic;
                remote[nremote].partition = tp->partition;
                remote[nremote].error = TR_KERR_UNKNOWN_SERVER_ERROR;
                nremote++;
                continue;
            }
        }
        part = tr_topics_partition(tc->topics, tp->topic, tp->partition);
        if (part == NULL) {
            continue;
        }
        err = tr_partition_append_marker(part, t->pid, t->epoch, commit,
                                         coordinator_epoch, &offset);
        if (err == TR_OK && tc->cl != NULL) {
            tc->cl->appended(tc->cl->arg, part);
            if (tc->waits != NULL) {
                tr_waits_notify(tc->waits, tp->topic, tp->partition);
            }
            if (tr_txn_wait_acked(tc->cl->acked, tc->cl->arg, tp->topic,
                                  tp->partition, pepoch,
                                  offset) != TR_KERR_NONE) {
                err = TR_ERR_TIMEOUT;
            }
        }
        tr_partition_unref(part);
        if (err == TR_ERR_FENCED || err == TR_ERR_STALE) {
            tr_log_warn("transactional id '%s': %s-%d has a newer epoch than "
                        "%d; no marker written there",
                        TR_LOG_ESC(t->id), tp->topic, tp->partition, t->epoch);
            continue;
        }
        if (err != TR_OK) {
            tr_log_error("transactional id '%s': marker to %s-%d: %s; will "
                         "retry",
                         TR_LOG_ESC(t->id), tp->topic, tp->partition,
                         tr_err_str(err));
            tr_free(remote);
            return TR_KERR_CONCURRENT_TRANSACTIONS;
        }
        if (tc->groups != NULL && strcmp(tp->topic, TR_GROUPS_TOPIC) == 0 &&
            tr_groups_txn_complete(tc->groups, tp->partition, t->pid, commit) !=
                TR_OK) {
            tr_log_error("transactional id '%s': offsets of producer %" PRId64
                         " in %s-%d not applied: out of memory",
                         TR_LOG_ESC(t->id), t->pid, tp->topic, tp->partition);
        }
        if (tc->waits != NULL) {
            tr_waits_notify(tc->waits, tp->topic, tp->partition);
        }
    }
    if (nremote > 0) {
        tc->cl->send_markers(tc->cl->arg, t->pid, t->epoch, commit,
                             coordinator_epoch, remote, nremote);
        for (i = 0; i < nremote; i++) {
            if (!tr_txn_marker_retriable(remote[i].error)) {
                continue; /* written, or dropped as Kafka drops it */
            }
            tr_log_warn("transactional id '%s': marker to %s-%d: error %d; "
                        "will retry",
                        TR_LOG_ESC(t->id), remote[i].topic, remote[i].partition,
                        (int)remote[i].error);
            tr_free(remote);
            return TR_KERR_CONCURRENT_TRANSACTIONS;
        }
    }
    tr_free(remote);
    next_from(&n, t);
    n.state = commit ? TR_TXN_COMPLETE_COMMIT : TR_TXN_COMPLETE_ABORT;
    n.parts = NULL;
    n.nparts = 0;
    if (transit(tc, t, &n, now_ms) != TR_KERR_NONE) {
        return TR_KERR_CONCURRENT_TRANSACTIONS;
    }
    tr_log_debug("transactional id '%s': %s (producer %" PRId64 ", epoch %d)",
                 TR_LOG_ESC(t->id), tr_txn_state_name(t->state), t->pid,
                 t->epoch);
    return TR_KERR_NONE;
}

/*
 * Ongoing -> Prepare* -> markers -> Complete*. With 'fence' the epoch is
 * bumped first (a timeout, or a new instance of the producer), so the old
 * instance's writes are refused from then on. Called with the lock held.
 */
static int16_t
end_locked(struct tr_txn_coordinator *tc, struct txn *t, int commit, int fence,
           int64_t now_ms)
{
    struct next n;
    int16_t kerr;

    next_from(&n, t);
    n.state = commit ? TR_TXN_PREPARE_COMMIT : TR_TXN_PREPARE_ABORT;
    if (fence) {
        n.epoch = (int16_t)(t->epoch + 1);
    }
    kerr = transit(tc, t, &n, now_ms);
    if (kerr != TR_KERR_NONE) {
        return kerr;
    }
    return complete(tc, t, now_ms);
}

/* ---- the APIs ------------------------------------------------------------ */

static int16_t
new_pid(struct tr_txn_coordinator *tc, int64_t *pid)
{
    if (tr_pidgen_next(tc->pids, pid) != TR_OK) {
        tr_log_error("cannot allocate a producer id: %s",
                     "the producer-id-block file could not be written");
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    *pid |= tc->pid_high_bits;
    return TR_KERR_NONE;
}

static int
is_prepare(enum tr_txn_state s)
{
    return s == TR_TXN_PREPARE_COMMIT || s == TR_TXN_PREPARE_ABORT;
}

static int16_t
init_locked(struct tr_txn_coordinator *tc, const struct tr_str *id,
            int32_t timeout_ms, int64_t pid_in, int16_t epoch_in,
            int64_t now_ms, int64_t *pid, int16_t *epoch)
{
    struct txn *t = txn_find(tc, id);
    struct next n;
    int16_t kerr;

    if (t == NULL) {
        t = txn_add(tc, id);
        if (t == NULL) {
            return TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
        kerr = new_pid(tc, &t->pid);
        if (kerr != TR_KERR_NONE) {
            txn_remove(tc, t);
            return kerr;
        }
        t->timeout_ms = timeout_ms;
    }
    if (pid_in >= 0 && t->epoch >= 0 && pid_in != t->pid &&
        pid_in != t->last_pid) {
        return TR_KERR_PRODUCER_FENCED;
    }
    if (is_prepare(t->state)) {
        /* The markers of the last transaction are not all written yet. */
        if (complete(tc, t, now_ms) != TR_KERR_NONE) {
            return TR_KERR_CONCURRENT_TRANSACTIONS;
        }
    }
    if (t->state == TR_TXN_ONGOING) {
        /* A zombie's transaction: fence it and abort (Kafka answers 51 and
         * the retry bumps again; this answer is that retry's). */
        kerr = end_locked(tc, t, 0, 1, now_ms);
        if (kerr != TR_KERR_NONE) {
            return TR_KERR_CONCURRENT_TRANSACTIONS;
        }
    }
    if (pid_in >= 0 && pid_in == t->last_pid && epoch_in == t->last_epoch &&
        t->state == TR_TXN_EMPTY) {
        /* A retry of the bump that produced the current epoch. */
        *pid = t->pid;
        *epoch = t->epoch;
        return TR_KERR_NONE;
    }
    if (pid_in >= 0 && t->epoch >= 0 &&
        (pid_in != t->pid || epoch_in != t->epoch)) {
        return TR_KERR_PRODUCER_FENCED;
    }
    next_from(&n, t);
    if (t->epoch >= EPOCH_EXHAUSTED) {
        kerr = new_pid(tc, &n.pid);
        if (kerr != TR_KERR_NONE) {
            return kerr;
        }
        n.epoch = 0;
    } else {
        n.epoch = (int16_t)(t->epoch + 1);
    }
    n.timeout_ms = timeout_ms;
    n.state = TR_TXN_EMPTY;
    n.parts = NULL;
    n.nparts = 0;
    n.start_ms = -1;
    {
        int64_t old_pid = t->pid;
        int16_t old_epoch = t->epoch;

        kerr = transit(tc, t, &n, now_ms);
        if (kerr != TR_KERR_NONE) {
            return kerr;
        }
        t->last_pid = old_pid;
        t->last_epoch = old_epoch;
    }
    *pid = t->pid;
    *epoch = t->epoch;
    tr_log_debug("transactional id '%s': producer %" PRId64 ", epoch %d",
                 TR_LOG_ESC(t->id), t->pid, t->epoch);
    return TR_KERR_NONE;
}

int16_t
tr_txn_init_producer_id(struct tr_txn_coordinator *tc, const struct tr_str *id,
                        int32_t timeout_ms, int64_t pid_in, int16_t epoch_in,
                        int64_t now_ms, int64_t *pid, int16_t *epoch)
{
    int16_t kerr;

    *pid = -1;
    *epoch = -1;
    if (id->len <= 0) {
        return TR_KERR_INVALID_REQUEST;
    }
    if (timeout_ms <= 0 || timeout_ms > tc->cfg.max_timeout_ms) {
        return TR_KERR_INVALID_TRANSACTION_TIMEOUT;
    }
    if ((pid_in < 0) != (epoch_in < 0)) {
        return TR_KERR_INVALID_REQUEST;
    }
    pthread_mutex_lock(&tc->lock);
    kerr = serve_id(tc, id, now_ms);
    if (kerr == TR_KERR_NONE) {
        kerr = init_locked(tc, id, timeout_ms, pid_in, epoch_in, now_ms, pid,
                           epoch);
    }
    pthread_mutex_unlock(&tc->lock);
    if (kerr != TR_KERR_NONE) {
        *pid = -1;
        *epoch = -1;
    }
    return kerr;
}

/*
 * The checks AddPartitions, AddOffsets and EndTxn share: the id, the
 * producer id and the epoch. Called with the lock held.
 */
static int16_t
check_producer(struct txn *t, int64_t pid, int16_t epoch)
{
    if (t == NULL || t->pid != pid) {
        return TR_KERR_INVALID_PRODUCER_ID_MAPPING;
    }
    if (t->epoch != epoch) {
        return TR_KERR_PRODUCER_FENCED;
    }
    if (is_prepare(t->state)) {
        return TR_KERR_CONCURRENT_TRANSACTIONS;
    }
    return TR_KERR_NONE;
}

static int
has_part(const struct txn *t, const char *topic, int32_t partition)
{
    struct tr_txn_topic_partition key;

    key.topic = (char *)topic;
    key.partition = partition;
    return t->nparts > 0 && bsearch(&key, t->parts, t->nparts,
                                    sizeof(*t->parts), tp_cmp) != NULL;
}

/*
 * Adds the 'n' partitions to the transaction of 't' (Ongoing with their
 * union). Called with the lock held after check_producer.
 */
static int16_t
add_locked(struct tr_txn_coordinator *tc, struct txn *t,
           const struct tr_txn_topic_partition *add, size_t n, int64_t now_ms)
{
    struct tr_txn_topic_partition *all = NULL;
    struct next nx;
    size_t i, k, total = 0;
    int16_t kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;

    for (i = 0, k = 0; i < n; i++) {
        if (!has_part(t, add[i].topic, add[i].partition)) {
            k++;
        }
    }
    if (k == 0 && t->state == TR_TXN_ONGOING) {
        return TR_KERR_NONE; /* already covered: nothing written */
    }
    all = tr_calloc(t->nparts + n + 1, sizeof(*all));
    if (all == NULL) {
        goto out;
    }
    /* Borrowed names: 'all' only lives for the write. */
    for (i = 0; i < t->nparts; i++) {
        all[total++] = t->parts[i];
    }
    for (i = 0; i < n; i++) {
        if (!has_part(t, add[i].topic, add[i].partition)) {
            all[total++] = add[i];
        }
    }
    qsort(all, total, sizeof(*all), tp_cmp);
    for (i = 1, k = total > 0 ? 1 : 0; i < total; i++) {
        if (tp_cmp(&all[i], &all[k - 1]) != 0) {
            all[k++] = all[i];
        }
    }
    total = k;
    next_from(&nx, t);
    nx.state = TR_TXN_ONGOING;
    nx.parts = all;
    nx.nparts = total;
    if (t->state != TR_TXN_ONGOING) {
        nx.start_ms = now_ms;
    }
    kerr = transit(tc, t, &nx, now_ms);
out:
    tr_free(all);
    return kerr;
}

void
tr_txn_add_partitions(struct tr_txn_coordinator *tc, const struct tr_str *id,
                      int64_t pid, int16_t epoch,
                      struct tr_txn_partition *parts, size_t n, int64_t now_ms)
{
    struct tr_txn_topic_partition *add = NULL;
    char *names = NULL;
    size_t i, bad = 0, total;
    int16_t kerr;
    struct txn *t;

    pthread_mutex_lock(&tc->lock);
    kerr = serve_id(tc, id, now_ms);
    t = txn_find(tc, id);
    if (kerr == TR_KERR_NONE) {
        kerr = check_producer(t, pid, epoch);
    }
    if (kerr == TR_KERR_NONE) {
        /* Unknown partitions fail the whole request (the rest: 55). */
        for (i = 0; i < n; i++) {
            char topic[TR_TOPIC_NAME_MAX + 1];
            int32_t count = -1;

            if (tr_str_copy(&parts[i].topic, topic, sizeof(topic)) == TR_OK) {
                /* In a cluster the topic may have no replica here. */
                count = tc->cl != NULL
                            ? tc->cl->partitions(tc->cl->arg, topic)
                            : tr_topics_partition_count(tc->topics, topic);
            }
            parts[i].error =
                parts[i].partition >= 0 && parts[i].partition < count
                    ? TR_KERR_NONE
                    : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            bad += parts[i].error != TR_KERR_NONE;
        }
        if (bad > 0) {
            for (i = 0; i < n; i++) {
                if (parts[i].error == TR_KERR_NONE) {
                    parts[i].error = TR_KERR_OPERATION_NOT_ATTEMPTED;
                }
            }
            goto out;
        }
        /* The names, NUL-terminated, in one block as long as the request's
         * (every one was checked to be a topic's, so at most 249 bytes). */
        for (i = 0, total = 0; i < n; i++) {
            total += (size_t)parts[i].topic.len + 1;
        }
        add = tr_calloc(n + 1, sizeof(*add));
        names = tr_malloc(total + 1);
        if (add == NULL || names == NULL) {
            kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            for (i = 0, total = 0; i < n; i++) {
                add[i].topic = names + total;
                memcpy(add[i].topic, parts[i].topic.ptr,
                       (size_t)parts[i].topic.len);
                add[i].topic[parts[i].topic.len] = '\0';
                total += (size_t)parts[i].topic.len + 1;
                add[i].partition = parts[i].partition;
            }
            kerr = add_locked(tc, t, add, n, now_ms);
        }
    }
    for (i = 0; i < n; i++) {
        parts[i].error = kerr;
    }
out:
    pthread_mutex_unlock(&tc->lock);
    tr_free(add);
    tr_free(names);
}

int16_t
tr_txn_add_offsets(struct tr_txn_coordinator *tc, const struct tr_str *id,
                   int64_t pid, int16_t epoch, const struct tr_str *group,
                   int64_t now_ms)
{
    struct tr_txn_topic_partition tp;
    struct txn *t;
    int16_t kerr;

    if (group->len <= 0) {
        return TR_KERR_INVALID_GROUP_ID;
    }
    tp.topic = (char *)TR_GROUPS_TOPIC;
    tp.partition = tr_groups_partition_for(group, tc->cfg.offsets_partitions);
    if (tc->cl != NULL && tc->groups != NULL) {
        /* The cluster's partition count, as the group coordinator uses. */
        tp.partition = tr_groups_coordinator_partition(tc->groups, group);
        if (tp.partition < 0) {
            return TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    pthread_mutex_lock(&tc->lock);
    kerr = serve_id(tc, id, now_ms);
    t = txn_find(tc, id);
    if (kerr == TR_KERR_NONE) {
        kerr = check_producer(t, pid, epoch);
    }
    if (kerr == TR_KERR_NONE) {
        kerr = add_locked(tc, t, &tp, 1, now_ms);
    }
    pthread_mutex_unlock(&tc->lock);
    return kerr;
}

int16_t
tr_txn_end(struct tr_txn_coordinator *tc, const struct tr_str *id, int64_t pid,
           int16_t epoch, int commit, int64_t now_ms)
{
    struct txn *t;
    int16_t kerr;

    pthread_mutex_lock(&tc->lock);
    kerr = serve_id(tc, id, now_ms);
    t = txn_find(tc, id);
    if (kerr != TR_KERR_NONE) {
        /* not served here */
    } else if (t == NULL || t->pid != pid) {
        kerr = TR_KERR_INVALID_PRODUCER_ID_MAPPING;
    } else if (t->epoch != epoch) {
        kerr = TR_KERR_PRODUCER_FENCED;
    } else {
        switch (t->state) {
        case TR_TXN_ONGOING:
            kerr = end_locked(tc, t, commit, 0, now_ms);
            if (kerr == TR_KERR_CONCURRENT_TRANSACTIONS && tc->cl != NULL &&
                is_prepare(t->state)) {
                /* Kafka answers once Prepare* is written; the markers
                 * still missing go out on the next ticks. */
                kerr = TR_KERR_NONE;
            }
            break;
        case TR_TXN_PREPARE_COMMIT:
        case TR_TXN_PREPARE_ABORT:
            kerr = (t->state == TR_TXN_PREPARE_COMMIT) == !!commit
                       ? TR_KERR_CONCURRENT_TRANSACTIONS
                       : TR_KERR_INVALID_TXN_STATE;
            break;
        case TR_TXN_COMPLETE_COMMIT:
        case TR_TXN_COMPLETE_ABORT:
            /* The same outcome again is a retry. */
            kerr = (t->state == TR_TXN_COMPLETE_COMMIT) == !!commit
                       ? TR_KERR_NONE
                       : TR_KERR_INVALID_TXN_STATE;
            break;
        default:
            kerr = TR_KERR_INVALID_TXN_STATE;
            break;
        }
    }
    pthread_mutex_unlock(&tc->lock);
    return kerr;
}

int16_t
tr_txn_check_produce(struct tr_txn_coordinator *tc, const struct tr_str *id,
                     int64_t pid, int16_t epoch, const char *topic,
                     int32_t partition)
{
    struct txn *t;
    int16_t kerr = TR_KERR_NONE;

    pthread_mutex_lock(&tc->lock);
    if (tc->cl != NULL) {
        int32_t p, e = -1;

        /* Another broker coordinates the id (or this one has not loaded
         * it): the batch cannot be verified here and is let through, as
         * Kafka does without transaction.partition.verification. */
        if (know_partitions(tc) != TR_KERR_NONE) {
            goto out;
        }
        p = tr_txn_partition_for(tc, id);
        if (tc->loaded[p] < 0 ||
            tc->cl->leader_epoch(tc->cl->arg, TR_TXN_TOPIC, p, 0, &e) !=
                TR_KERR_NONE ||
            e != tc->loaded[p]) {
            goto out;
        }
    }
    t = txn_find(tc, id);
    if (t == NULL || t->pid != pid) {
        kerr = TR_KERR_INVALID_PRODUCER_ID_MAPPING;
    } else if (epoch < t->epoch) {
        kerr = TR_KERR_PRODUCER_FENCED;
    } else if (epoch != t->epoch || t->state != TR_TXN_ONGOING ||
               !has_part(t, topic, partition)) {
        kerr = TR_KERR_INVALID_TXN_STATE;
    }
out:
    pthread_mutex_unlock(&tc->lock);
    return kerr;
}

/* ---- periodic work ------------------------------------------------------ */

void
tr_txn_tick(struct tr_txn_coordinator *tc, int64_t now_ms)
{
    struct txn *t, *tmp;
    int32_t p;

    pthread_mutex_lock(&tc->lock);
    if (tc->cl != NULL && know_partitions(tc) == TR_KERR_NONE) {
        /* Load what this broker now leads, drop what it lost. */
        for (p = 0; p < tc->partitions; p++) {
            (void)serve_partition(tc, p, now_ms);
        }
        /* Markers that could not be delivered are sent again soon: a
         * partition's new leader is elected within seconds. */
        TAILQ_FOREACH(t, &tc->txns, link) {
            if (is_prepare(t->state)) {
                (void)complete(tc, t, now_ms);
            }
        }
    }
    if (now_ms >= tc->next_abort_check) {
        tc->next_abort_check = now_ms + tc->cfg.abort_interval_ms;
        TAILQ_FOREACH(t, &tc->txns, link) {
            if (is_prepare(t->state)) {
                (void)complete(tc, t, now_ms);
            } else if (t->state == TR_TXN_ONGOING &&
                       t->start_ms + t->timeout_ms < now_ms) {
                tr_log_info("transactional id '%s': transaction of producer "
                            "%" PRId64 " timed out after %d ms; aborting",
                            TR_LOG_ESC(t->id), t->pid, t->timeout_ms);
                (void)end_locked(tc, t, 0, 1, now_ms);
            }
        }
    }
    if (now_ms >= tc->next_remove_check) {
        tc->next_remove_check = now_ms + tc->cfg.remove_interval_ms;
        for (t = TAILQ_FIRST(&tc->txns); t != NULL; t = tmp) {
            tmp = TAILQ_NEXT(t, link);
            if ((t->state == TR_TXN_EMPTY ||
                 t->state == TR_TXN_COMPLETE_COMMIT ||
                 t->state == TR_TXN_COMPLETE_ABORT) &&
                now_ms - t->update_ms >= tc->cfg.id_expiration_ms &&
                write_record(tc, t->id, NULL, now_ms) == TR_OK) {
                tr_log_info("transactional id '%s' expired", TR_LOG_ESC(t->id));
                txn_remove(tc, t);
            }
        }
    }
    pthread_mutex_unlock(&tc->lock);
}

/* ---- description --------------------------------------------------------- */

void
tr_txn_description_cleanup(struct tr_txn_description *d)
{
    tr_free(d->transactional_id);
    parts_free(d->partitions, d->npartitions);
    memset(d, 0, sizeof(*d));
}

static tr_err_t
describe_one(const struct txn *t, int with_parts, struct tr_txn_description *d)
{
    int nomem = 0;

    memset(d, 0, sizeof(*d));
    d->transactional_id = tr_strdup(t->id);
    d->state = t->state;
    d->producer_id = t->pid;
    d->producer_epoch = t->epoch;
    d->timeout_ms = t->timeout_ms;
    d->start_ms = t->start_ms;
    if (with_parts) {
        d->partitions = parts_copy(t->parts, t->nparts, &nomem);
        d->npartitions = nomem ? 0 : t->nparts;
    }
    if (d->transactional_id == NULL || nomem) {
        tr_txn_description_cleanup(d);
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

tr_err_t
tr_txn_describe(struct tr_txn_coordinator *tc, const struct tr_str *id,
                struct tr_txn_description *out)
{
    struct txn *t;
    tr_err_t err = TR_ERR_NOT_FOUND;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&tc->lock);
    t = txn_find(tc, id);
    if (t != NULL) {
        err = describe_one(t, 1, out);
    }
    pthread_mutex_unlock(&tc->lock);
    return err;
}

tr_err_t
tr_txn_list(struct tr_txn_coordinator *tc, struct tr_txn_description **out,
            size_t *count)
{
    struct tr_txn_description *list = NULL;
    struct txn *t;
    size_t n = 0, i = 0;
    tr_err_t err = TR_ERR_NOMEM;

    pthread_mutex_lock(&tc->lock);
    TAILQ_FOREACH(t, &tc->txns, link) {
        n++;
    }
    list = tr_calloc(n + 1, sizeof(*list));
    if (list == NULL) {
        goto out;
    }
    TAILQ_FOREACH(t, &tc->txns, link) {
        if (describe_one(t, 0, &list[i]) != TR_OK) {
            goto out;
        }
        i++;
    }
    *out = list;
    *count = n;
    list = NULL;
    err = TR_OK;
out:
    pthread_mutex_unlock(&tc->lock);
    for (n = 0; list != NULL && n < i; n++) {
        tr_txn_description_cleanup(&list[n]);
    }
    tr_free(list);
    return err;
}

/* ---- loading ------------------------------------------------------------- */

struct load_ctx {
    struct tr_txn_coordinator *tc;
    int64_t records;
};

/* The last record of an id wins; a tombstone forgets it. */
static tr_err_t
load_record(struct tr_txn_coordinator *tc, const struct tr_record *rec)
{
    struct tr_txn_topic_partition *parts = NULL;
    struct tr_txn_record val;
    struct tr_str id;
    struct txn *t;
    tr_err_t err;

    if (rec->key_len <= 0 ||
        tr_txn_decode_key(rec->key, (size_t)rec->key_len, &id) != TR_OK ||
        id.len <= 0) {
        return TR_OK; /* a key this collector does not know: skipped */
    }
    t = txn_find(tc, &id);
    if (rec->value_len < 0) {
        if (t != NULL) {
            txn_remove(tc, t);
        }
        return TR_OK;
    }
    err = tr_txn_decode_value(rec->value, (size_t)rec->value_len, &val, &parts);
    if (err == TR_ERR_NOMEM) {
        return err;
    }
    if (err != TR_OK) {
        tr_log_warn("%s: a value at offset %" PRId64 " cannot be read (%s); "
                    "skipped",
                    TR_TXN_TOPIC, rec->offset, tr_err_str(err));
        return TR_OK;
    }
    if (t == NULL) {
        t = txn_add(tc, &id);
        if (t == NULL) {
            parts_free(parts, val.npartitions);
            return TR_ERR_NOMEM;
        }
    }
    if (val.npartitions > 1) {
        qsort(parts, val.npartitions, sizeof(*parts), tp_cmp);
    }
    parts_free(t->parts, t->nparts);
    t->parts = parts;
    t->nparts = val.npartitions;
    t->pid = val.producer_id;
    t->epoch = val.producer_epoch;
    t->timeout_ms = val.timeout_ms;
    t->state = (enum tr_txn_state)val.state;
    t->start_ms = val.start_ms;
    t->update_ms = val.update_ms;
    return TR_OK;
}

static tr_err_t
load_batch(const uint8_t *batch, size_t len, const struct tr_batch_header *h,
           void *arg)
{
    struct load_ctx *ctx = arg;
    struct tr_batch_iter it;
    struct tr_record rec;
    tr_err_t err;

    if (h->Attributes & TR_BATCH_ATTR_CONTROL) {
        return TR_OK;
    }
    err = tr_batch_iter_init(&it, batch, len, RECORD_MAX * 64);
    if (err != TR_OK) {
        return err == TR_ERR_NOMEM ? err : TR_ERR_CORRUPT;
    }
    while ((err = tr_batch_iter_next(&it, &rec)) == TR_OK) {
        err = load_record(ctx->tc, &rec);
        if (err != TR_OK) {
            break;
        }
        ctx->records++;
    }
    tr_batch_iter_cleanup(&it);
    return err == TR_ERR_NOT_FOUND ? TR_OK : err;
}

/* Replays partition 'p' of __transaction_state; adds to *records. */
static tr_err_t
load_partition(struct tr_txn_coordinator *tc, int32_t p, int64_t *records)
{
    struct tr_partition *part =
        tr_topics_partition(tc->topics, TR_TXN_TOPIC, p);
    struct load_ctx ctx;
    tr_err_t err;

    if (part == NULL) {
        return TR_OK;
    }
    ctx.tc = tc;
    ctx.records = 0;
    err = tr_partition_foreach_batch(part, 0, LOAD_CHUNK, load_batch, &ctx);
    tr_partition_unref(part);
    *records += ctx.records;
    return err;
}

/* Creates __transaction_state if missing; sets tc->partitions. */
static tr_err_t
ensure_topic(struct tr_txn_coordinator *tc, char *errbuf, size_t errlen)
{
    static const struct tr_config_entry configs[] = {
        { "cleanup.policy", "compact" },
        { "compression.type", "uncompressed" },
        { "segment.bytes", "104857600" },
    };
    int32_t count = tr_topics_partition_count(tc->topics, TR_TXN_TOPIC);
    tr_err_t err;

    if (count < 0) {
        err = tr_topics_create(
            tc->topics, TR_TXN_TOPIC, tc->cfg.state_partitions, configs,
            sizeof(configs) / sizeof(configs[0]), errbuf, errlen);
        if (err != TR_OK && err != TR_ERR_EXISTS) {
            if (err != TR_ERR_CONFIG) {
                snprintf(errbuf, errlen, "cannot create %s: %s", TR_TXN_TOPIC,
                         tr_err_str(err));
            }
            return err;
        }
        tr_log_info("created %s with %d partitions", TR_TXN_TOPIC,
                    tc->cfg.state_partitions);
        count = tr_topics_partition_count(tc->topics, TR_TXN_TOPIC);
    } else if (count != tc->cfg.state_partitions) {
        /* Ids were placed by the existing count: it must never change. */
        tr_log_warn("%s has %d partitions, not "
                    "transaction.state.log.num.partitions (%d); keeping %d",
                    TR_TXN_TOPIC, count, tc->cfg.state_partitions, count);
    }
    if (count <= 0) {
        snprintf(errbuf, errlen, "%s has no partitions", TR_TXN_TOPIC);
        return TR_ERR_INTERNAL;
    }
    tc->partitions = count;
    return TR_OK;
}

void
tr_txn_close(struct tr_txn_coordinator *tc)
{
    struct txn *t;

    if (tc == NULL) {
        return;
    }
    while ((t = TAILQ_FIRST(&tc->txns)) != NULL) {
        txn_remove(tc, t);
    }
    tr_batch_builder_free(tc->builder);
    tr_free(tc->loaded);
    pthread_mutex_destroy(&tc->jobs_lock);
    pthread_cond_destroy(&tc->jobs_idle);
    tr_buf_cleanup(&tc->key);
    tr_buf_cleanup(&tc->value);
    tr_buf_cleanup(&tc->batch);
    pthread_mutex_destroy(&tc->lock);
    tr_free(tc);
}

tr_err_t
tr_txn_open(struct tr_topics *topics, struct tr_waits *waits,
            struct tr_groups *groups, struct tr_pidgen *pids,
            int64_t pid_high_bits, const struct tr_txn_config *cfg,
            int64_t now_ms, struct tr_txn_coordinator **out, char *errbuf,
            size_t errlen)
{
    struct tr_txn_coordinator *tc;
    int64_t records = 0;
    struct txn *t;
    tr_err_t err = TR_ERR_NOMEM;
    int32_t p;

    tc = tr_calloc(1, sizeof(*tc));
    if (tc == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    pthread_mutex_init(&tc->lock, NULL);
    pthread_mutex_init(&tc->jobs_lock, NULL);
    pthread_cond_init(&tc->jobs_idle, NULL);
    TAILQ_INIT(&tc->txns);
    tc->topics = topics;
    tc->waits = waits;
    tc->groups = groups;
    tc->pids = pids;
    tc->pid_high_bits = pid_high_bits;
    tc->cfg = *cfg;
    tc->next_abort_check = now_ms + cfg->abort_interval_ms;
    tc->next_remove_check = now_ms + cfg->remove_interval_ms;
    tr_buf_init(&tc->key, RECORD_MAX);
    tr_buf_init(&tc->value, RECORD_MAX);
    tr_buf_init(&tc->batch, RECORD_MAX * 2);
    tc->builder = tr_batch_builder_new(TR_CODEC_NONE, RECORD_MAX * 2);
    if (tc->builder == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    if (cfg->cluster == NULL) {
        err = ensure_topic(tc, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (cfg->cluster != NULL) {
        /* Nothing is served until this broker leads a partition. */
        tc->cl = cfg->cluster;
        tc->partitions = -1;
        *out = tc;
        return TR_OK;
    }
    for (p = 0; p < tc->partitions; p++) {
        err = load_partition(tc, p, &records);
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "cannot load %s-%d: %s", TR_TXN_TOPIC, p,
                     tr_err_str(err));
            goto out;
        }
    }
    /* Transactions caught between Prepare* and Complete* end now. */
    TAILQ_FOREACH(t, &tc->txns, link) {
        if (is_prepare(t->state)) {
            (void)complete(tc, t, now_ms);
        }
    }
    tr_log_info("transaction coordinator: %" PRId64 " records of %s replayed",
                records, TR_TXN_TOPIC);
    *out = tc;
    tc = NULL;
    err = TR_OK;
out:
    tr_txn_close(tc);
    return err;
}
