/*
 * fetcher -- a replica fetcher thread; see fetcher.h.
 */
#include "fetcher.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "partition.h"
#include "proto.h"
#include "rpc.h"
#include "throttle.h"
#include "topics.h"
#include "waits.h"

struct fpart {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
    int32_t leader_epoch;
    int truncated; /* divergence resolved for this epoch */
    int throttled; /* catching up: counts against the follower throttle */
    int64_t retry_at_ms;
};

struct tr_fetcher {
    struct tr_fetcher_config cfg;
    struct tr_topics *topics;
    struct tr_waits *waits;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* partitions added, or stop */
    pthread_cond_t idle; /* 'busy' went back to 0 */
    int stop;
    int busy; /* the thread is applying a response */
    struct fpart *parts;
    int nparts;
    size_t cap;
    struct tr_rpc_conn conn;
};

static int
find(struct tr_fetcher *f, const char *topic, int32_t partition)
{
    int i;

    for (i = 0; i < f->nparts; i++) {
        if (f->parts[i].partition == partition &&
            strcmp(f->parts[i].topic, topic) == 0) {
            return i;
        }
    }
    return -1;
}

void
tr_fetcher_add(struct tr_fetcher *f, const char *topic, int32_t partition,
               int32_t leader_epoch)
{
    int i;

    pthread_mutex_lock(&f->lock);
    i = find(f, topic, partition);
    if (i < 0) {
        if (tr_array_reserve(&f->parts, &f->cap, (size_t)f->nparts + 1,
                             sizeof(*f->parts)) != TR_OK) {
            pthread_mutex_unlock(&f->lock);
            tr_log_error("fetcher: out of memory adding %s-%d", topic,
                         partition);
            return;
        }
        i = f->nparts++;
        memset(&f->parts[i], 0, sizeof(f->parts[i]));
        snprintf(f->parts[i].topic, sizeof(f->parts[i].topic), "%s", topic);
        f->parts[i].partition = partition;
    }
    f->parts[i].leader_epoch = leader_epoch;
    f->parts[i].truncated = 0;
    f->parts[i].retry_at_ms = 0;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void
tr_fetcher_remove(struct tr_fetcher *f, const char *topic, int32_t partition)
{
    int i;

    pthread_mutex_lock(&f->lock);
    i = find(f, topic, partition);
    if (i >= 0) {
        f->parts[i] = f->parts[--f->nparts];
    }
    /* A response being applied may still append to it: wait it out. */
    while (f->busy) {
        pthread_cond_wait(&f->idle, &f->lock);
    }
    pthread_mutex_unlock(&f->lock);
}

void
tr_fetcher_set_throttled(struct tr_fetcher *f, const char *topic,
                         int32_t partition, int throttled)
{
    int i;

    pthread_mutex_lock(&f->lock);
    i = find(f, topic, partition);
    if (i >= 0) {
        f->parts[i].throttled = throttled;
    }
    pthread_mutex_unlock(&f->lock);
}

int
tr_fetcher_count(struct tr_fetcher *f)
{
    int n;

    pthread_mutex_lock(&f->lock);
    n = f->nparts;
    pthread_mutex_unlock(&f->lock);
    return n;
}

void
tr_fetcher_set_address(struct tr_fetcher *f, const char *host, int port)
{
    pthread_mutex_lock(&f->lock);
    snprintf(f->cfg.host, sizeof(f->cfg.host), "%s", host);
    f->cfg.port = port;
    pthread_mutex_unlock(&f->lock);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/*
 * Asks the leader where this log's newest epoch ends there and truncates
 * to it (or to our own end of that epoch, if smaller). Returns TR_OK when
 * the partition may be fetched.
 */
static tr_err_t
truncate_one(struct tr_fetcher *f, struct fpart *fp, const char *host, int port)
{
    struct tr_partition *part;
    struct tr_buf body, resp;
    struct tr_slice in;
    struct tr_str name;
    int32_t last_epoch, nt, np, pidx, epoch, our_epoch, throttle;
    int16_t kerr = -1;
    int64_t end = -1, our_end;
    tr_err_t err;

    part = tr_topics_partition(f->topics, fp->topic, fp->partition);
    if (part == NULL) {
        return TR_ERR_NOT_FOUND;
    }
    last_epoch = tr_partition_last_epoch(part);
    if (last_epoch < 0) {
        tr_partition_unref(part);
        return TR_OK; /* an empty log cannot diverge */
    }
    tr_buf_init(&body, 1 << 20);
    tr_buf_init(&resp, 1 << 20);
    tr_buf_put_i32(&body, f->cfg.replica_id);
    tr_buf_put_i32(&body, 1);
    tr_proto_put_cstring_v(&body, 0, fp->topic);
    tr_buf_put_i32(&body, 1);
    tr_buf_put_i32(&body, fp->partition);
    tr_buf_put_i32(&body, fp->leader_epoch);
    tr_buf_put_i32(&body, last_epoch);
    err = tr_rpc_call(&f->conn, host, port, TR_API_OFFSET_FOR_LEADER_EPOCH,
                      TR_RPC_OFFSET_FOR_EPOCH_VERSION, &body, &resp,
                      f->cfg.timeout_ms);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&in, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&in, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&in, 0, &nt, 1, 1)) != TR_OK ||
        nt != 1 || (err = tr_proto_get_string(&in, &name)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&in, 0, &np, 1, 1)) != TR_OK ||
        np != 1 || (err = tr_slice_get_i16(&in, &kerr)) != TR_OK ||
        (err = tr_slice_get_i32(&in, &pidx)) != TR_OK ||
        (err = tr_slice_get_i32(&in, &epoch)) != TR_OK ||
        (err = tr_slice_get_i64(&in, &end)) != TR_OK) {
        err = err == TR_OK ? TR_ERR_CORRUPT : err;
        goto out;
    }
    if (kerr != TR_KERR_NONE) {
        tr_log_debug("fetcher: OffsetForLeaderEpoch %s-%d: error %d", fp->topic,
                     fp->partition, kerr);
        err = TR_ERR_AGAIN;
        goto out;
    }
    if (end >= 0) {
        /* KIP-279: our own end of the epoch the leader answered for. */
        tr_partition_end_offset_for_epoch(part, epoch, &our_epoch, &our_end);
        if (our_epoch == epoch && our_end < end) {
            end = our_end;
        }
        err = tr_partition_truncate(part, end);
    }
out:
    tr_buf_cleanup(&body);
    tr_buf_cleanup(&resp);
    tr_partition_unref(part);
    return err;
}

/*
 * An empty copy started at the leader's log start, which can fall inside a
 * batch: the leader's first batch then begins before our log end. Start
 * the copy again at that batch's base offset (Kafka does the same). 1 when
 * it did.
 */
static int
restart_at_batch(struct tr_partition *part, const struct tr_str *records)
{
    struct tr_partition_offsets offs;
    struct tr_batch_header h;
    struct tr_slice s;
    const uint8_t *batch;
    size_t blen;

    tr_partition_offsets(part, &offs);
    tr_slice_init(&s, (const uint8_t *)records->ptr, (size_t)records->len);
    if (offs.log_start != offs.log_end ||
        tr_batch_next(&s, &batch, &blen) != TR_OK ||
        tr_batch_header_parse(batch, blen, &h) != TR_OK ||
        h.BaseOffset >= offs.log_end ||
        h.BaseOffset + h.LastOffsetDelta < offs.log_end) {
        return 0;
    }
    return tr_partition_reset(part, h.BaseOffset) == TR_OK;
}

/* Appends one partition's answer. Returns 1 if it must re-truncate. */
static int
apply_partition(struct tr_fetcher *f, const char *topic, int32_t partition,
                int16_t kerr, int64_t hw, int64_t leader_start,
                const struct tr_str *records)
{
    struct tr_partition *part;
    struct tr_partition_offsets offs;
    int64_t leo = -1;
    tr_err_t err = TR_OK;
    int again = 0;

    if (kerr == TR_KERR_OFFSET_OUT_OF_RANGE && leader_start > 0 &&
        (part = tr_topics_partition(f->topics, topic, partition)) != NULL) {
        /*
         * Behind the leader's log start (retention removed what this copy
         * lacks, or it is new): start over where the leader's log begins,
         * as Kafka's followers do. Ahead of the leader's end instead: the
         * tail diverged, and truncation finds where.
         */
        tr_partition_offsets(part, &offs);
        if (offs.log_end < leader_start) {
            err = tr_partition_reset(part, leader_start);
            tr_partition_unref(part);
            return err != TR_OK;
        }
        tr_partition_unref(part);
    }
    if (kerr == TR_KERR_FENCED_LEADER_EPOCH ||
        kerr == TR_KERR_UNKNOWN_LEADER_EPOCH ||
        kerr == TR_KERR_NOT_LEADER_OR_FOLLOWER ||
        kerr == TR_KERR_OFFSET_OUT_OF_RANGE) {
        return 1;
    }
    if (kerr != TR_KERR_NONE) {
        return 0;
    }
    part = tr_topics_partition(f->topics, topic, partition);
    if (part == NULL) {
        return 0;
    }
    if (records->len > 0) {
        err = tr_partition_append_replica(part, (uint8_t *)records->ptr,
                                          (size_t)records->len, &leo);
        if (err == TR_ERR_OUT_OF_RANGE && restart_at_batch(part, records)) {
            err = tr_partition_append_replica(part, (uint8_t *)records->ptr,
                                              (size_t)records->len, &leo);
        }
        if (err == TR_ERR_OUT_OF_RANGE) {
            again = 1;
        } else if (err != TR_OK) {
            tr_log_warn("fetcher: %s-%d: cannot append the leader's batches: "
                        "%s",
                        topic, partition, tr_err_str(err));
        }
    }
    if (tr_partition_set_high_watermark(part, hw)) {
        tr_waits_notify(f->waits, topic, partition);
    }
    tr_partition_unref(part);
    return again;
}

static tr_err_t
fetch_once(struct tr_fetcher *f, struct fpart *ps, int n, const char *host,
           int port)
{
    struct tr_buf body, resp;
    struct tr_slice in;
    int32_t throttle, session, nt, np, t, p, idx, pref, naborted;
    int16_t err16, kerr;
    int64_t hw, lso, lstart;
    struct tr_str name, records;
    char topic[TR_TOPIC_MAX + 1];
    tr_err_t err;
    int i, j, throttled;

    tr_buf_init(&body, 64 << 20);
    tr_buf_init(&resp, (size_t)INT32_MAX);
    tr_buf_put_i32(&body, f->cfg.replica_id);
    tr_buf_put_i32(&body, f->cfg.fetch_wait_ms);
    tr_buf_put_i32(&body, 1);          /* MinBytes */
    tr_buf_put_i32(&body, 0x7fffffff); /* MaxBytes */
    tr_buf_put_i8(&body, 0);           /* IsolationLevel */
    tr_buf_put_i32(&body, 0);          /* SessionId */
    tr_buf_put_i32(&body, -1);         /* SessionEpoch: no session */
    tr_buf_put_i32(&body, n);          /* one topic entry per partition */
    for (i = 0; i < n; i++) {
        struct tr_partition *part;
        struct tr_partition_offsets offs;

        part = tr_topics_partition(f->topics, ps[i].topic, ps[i].partition);
        if (part == NULL) {
            offs.log_end = 0;
            offs.log_start = 0;
        } else {
            tr_partition_offsets(part, &offs);
            tr_partition_unref(part);
        }
        tr_proto_put_cstring_v(&body, 0, ps[i].topic);
        tr_buf_put_i32(&body, 1);
        tr_buf_put_i32(&body, ps[i].partition);
        tr_buf_put_i32(&body, ps[i].leader_epoch);
        tr_buf_put_i64(&body, offs.log_end);
        tr_buf_put_i64(&body, offs.log_start);
        tr_buf_put_i32(&body, f->cfg.fetch_max_bytes);
    }
    tr_buf_put_i32(&body, 0);             /* ForgottenTopicsData */
    tr_proto_put_cstring_v(&body, 0, ""); /* RackId */
    err = tr_rpc_call(&f->conn, host, port, TR_API_FETCH, TR_RPC_FETCH_VERSION,
                      &body, &resp, f->cfg.timeout_ms + f->cfg.fetch_wait_ms);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&in, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&in, &throttle)) != TR_OK ||
        (err = tr_slice_get_i16(&in, &err16)) != TR_OK ||
        (err = tr_slice_get_i32(&in, &session)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&in, 0, &nt, 6, 1000000)) != TR_OK) {
        goto out;
    }
    pthread_mutex_lock(&f->lock);
    f->busy = 1;
    pthread_mutex_unlock(&f->lock);
    for (t = 0; t < nt && err == TR_OK; t++) {
        if ((err = tr_proto_get_string(&in, &name)) != TR_OK ||
            (err = tr_str_copy(&name, topic, sizeof(topic))) != TR_OK ||
            (err = tr_proto_get_array_len_v(&in, 0, &np, 30, 1000000)) !=
                TR_OK) {
            break;
        }
        for (p = 0; p < np; p++) {
            if ((err = tr_slice_get_i32(&in, &idx)) != TR_OK ||
                (err = tr_slice_get_i16(&in, &kerr)) != TR_OK ||
                (err = tr_slice_get_i64(&in, &hw)) != TR_OK ||
                (err = tr_slice_get_i64(&in, &lso)) != TR_OK ||
                (err = tr_slice_get_i64(&in, &lstart)) != TR_OK ||
                (err = tr_proto_get_array_len_v(&in, 0, &naborted, 16,
                                                1000000)) != TR_OK) {
                break;
            }
            for (j = 0; j < naborted && err == TR_OK; j++) {
                err = tr_slice_skip(&in, 16);
            }
            if (err != TR_OK || (err = tr_slice_get_i32(&in, &pref)) != TR_OK ||
                (err = tr_proto_get_bytes(&in, &records)) != TR_OK) {
                break;
            }
            /* Only partitions still followed at the same epoch. */
            pthread_mutex_lock(&f->lock);
            j = find(f, topic, idx);
            throttled = j >= 0 && f->parts[j].throttled;
            pthread_mutex_unlock(&f->lock);
            if (j < 0) {
                continue;
            }
            if (throttled && f->cfg.throttle != NULL) {
                tr_throttle_record(f->cfg.throttle, records.len,
                                   tr_clock_mono_ms());
            }
            if (apply_partition(f, topic, idx, kerr, hw, lstart, &records)) {
                pthread_mutex_lock(&f->lock);
                j = find(f, topic, idx);
                if (j >= 0) {
                    f->parts[j].truncated = 0;
                    f->parts[j].retry_at_ms = tr_clock_mono_ms() + 200;
                }
                pthread_mutex_unlock(&f->lock);
            }
        }
    }
    pthread_mutex_lock(&f->lock);
    f->busy = 0;
    pthread_cond_broadcast(&f->idle);
    pthread_mutex_unlock(&f->lock);
out:
    tr_buf_cleanup(&body);
    tr_buf_cleanup(&resp);
    return err;
}

static void *
run(void *arg)
{
    struct tr_fetcher *f = arg;
    struct fpart *ps = NULL;
    int n, i, ready;
    size_t cap = 0;
    char host[256];
    int port;
    int64_t now;
    tr_err_t err;

    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (!f->stop && f->nparts == 0) {
            pthread_cond_wait(&f->cond, &f->lock);
        }
        if (f->stop) {
            pthread_mutex_unlock(&f->lock);
            break;
        }
        if (tr_array_reserve(&ps, &cap, (size_t)f->nparts, sizeof(*ps)) !=
            TR_OK) {
            pthread_mutex_unlock(&f->lock);
            sleep_ms(100);
            continue;
        }
        n = f->nparts;
        memcpy(ps, f->parts, (size_t)n * sizeof(*ps));
        snprintf(host, sizeof(host), "%s", f->cfg.host);
        port = f->cfg.port;
        pthread_mutex_unlock(&f->lock);

        /* Truncation first, for partitions new to this epoch. */
        now = tr_clock_mono_ms();
        ready = 0;
        for (i = 0; i < n; i++) {
            if (ps[i].retry_at_ms > now) {
                continue;
            }
            if (!ps[i].truncated) {
                err = truncate_one(f, &ps[i], host, port);
                pthread_mutex_lock(&f->lock);
                int j = find(f, ps[i].topic, ps[i].partition);
                if (j >= 0 && f->parts[j].leader_epoch == ps[i].leader_epoch) {
                    if (err == TR_OK) {
                        f->parts[j].truncated = 1;
                    } else {
                        f->parts[j].retry_at_ms = tr_clock_mono_ms() + 200;
                    }
                }
                pthread_mutex_unlock(&f->lock);
                if (err != TR_OK) {
                    continue;
                }
            }
            /*
             * A replica catching up is left out of this fetch while the
             * follower throttle is spent; the others are never held back.
             */
            if (ps[i].throttled && f->cfg.throttle != NULL &&
                !tr_throttle_allow(f->cfg.throttle, now)) {
                continue;
            }
            ps[ready++] = ps[i];
        }
        if (ready == 0 || (f->cfg.paused != NULL &&
                           __atomic_load_n(f->cfg.paused, __ATOMIC_ACQUIRE))) {
            sleep_ms(50);
            continue;
        }
        err = fetch_once(f, ps, ready, host, port);
        if (err != TR_OK) {
            tr_log_debug("fetcher: fetch from broker %d at %s:%d: %s",
                         f->cfg.leader_id, host, port, tr_err_str(err));
            sleep_ms(200);
        }
    }
    tr_free(ps);
    tr_rpc_conn_close(&f->conn);
    return NULL;
}

tr_err_t
tr_fetcher_start(const struct tr_fetcher_config *cfg, struct tr_topics *topics,
                 struct tr_waits *waits, struct tr_fetcher **out)
{
    struct tr_fetcher *f;
    char client_id[64];

    f = tr_calloc(1, sizeof(*f));
    if (f == NULL) {
        return TR_ERR_NOMEM;
    }
    f->cfg = *cfg;
    f->topics = topics;
    f->waits = waits;
    snprintf(client_id, sizeof(client_id), "tributary-replica-%d",
             cfg->replica_id);
    tr_rpc_conn_init(&f->conn, client_id, cfg->peer);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    pthread_cond_init(&f->idle, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        pthread_cond_destroy(&f->idle);
        tr_free(f);
        return TR_ERR_IO;
    }
    *out = f;
    return TR_OK;
}

void
tr_fetcher_free(struct tr_fetcher *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    pthread_cond_destroy(&f->idle);
    tr_free(f->parts);
    tr_free(f);
}
