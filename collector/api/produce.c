/*
 * api_produce -- Produce (InitProducerId is in txn.c).
 *
 * Produce batches are appended exactly as the producer sent them: the
 * request frame is ours, so the partition rewrites BaseOffset in place and
 * writes the bytes; nothing is decompressed or copied record by record.
 * Versions 0-2 are advertised (librdkafka checks Produce v0 before it
 * compresses) but their MessageSet format is refused per partition.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "build-config.h"
#include "log.h"
#include "partition.h"
#include "stats.h"
#include "topics.h"
#include "waits.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/*
 * In a cluster, acks=all answers only when the high watermark has passed
 * what was appended: the request parks and runs again when the HW moves.
 * The append results are kept in this state, so reruns never append again.
 */
struct produce_result {
    struct tr_append_result res;
    int16_t kerr;
    int32_t epoch;
    int32_t index;
    char topic[TR_TOPIC_NAME_MAX + 1];
};

struct produce_state {
    struct produce_result *r;
    size_t n, cap;
};

static void
produce_state_free(void *arg)
{
    struct produce_state *ps = arg;

    if (ps != NULL) {
        tr_free(ps->r);
        tr_free(ps);
    }
}

static struct produce_result *
produce_state_add(struct produce_state *ps)
{
    if (tr_array_reserve(&ps->r, &ps->cap, ps->n + 1, sizeof(*ps->r)) !=
        TR_OK) {
        return NULL;
    }
    return &ps->r[ps->n++];
}

static int16_t
append_partition(struct tr_request *req, const char *topic, int32_t index,
                 const struct tr_str *records, struct tr_append_result *res,
                 struct tr_append_errors *errs)
{
    struct tr_partition *part;
    tr_err_t err;

    part = tr_topics_partition(req->broker->topics, topic, index);
    if (part == NULL) {
        return req->broker->cluster != NULL
                   ? TR_KERR_NOT_LEADER_OR_FOLLOWER
                   : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (records->len <= 0) {
        tr_partition_unref(part);
        return TR_KERR_CORRUPT_MESSAGE;
    }
    /* The frame is mutable memory owned by the server (see api.h). */
    err = tr_partition_append_at(part, (uint8_t *)records->ptr,
                                 (size_t)records->len, req->now_ms, res, errs);
#ifdef HAVE_ZOOKEEPER
    if (err == TR_OK && !res->duplicate && req->broker->cluster != NULL) {
        tr_cluster_after_append(req->broker->cluster, part);
    }
#endif
    tr_partition_unref(part);
    if (err == TR_OK) {
        if (!res->duplicate) {
            tr_waits_notify(req->broker->waits, topic, index);
        }
        return TR_KERR_NONE;
    }
    if (err != TR_ERR_SEQUENCE && err != TR_ERR_FENCED &&
        err != TR_ERR_UNKNOWN_PRODUCER && err != TR_ERR_NO_KEY &&
        err != TR_ERR_TIMESTAMP) {
        tr_log_warn("%s: produce to %s-%d refused: %s", req->peer,
                    TR_LOG_ESC(topic), index, tr_err_str(err));
    }
    switch (err) {
    case TR_ERR_NO_KEY:
        tr_log_info("%s: produce to %s-%d: %zu records without a key "
                    "refused by a compacted topic",
                    req->peer, TR_LOG_ESC(topic), index, errs->n);
        return req->hdr.api_version >= 8 ? TR_KERR_INVALID_RECORD
                                         : TR_KERR_CORRUPT_MESSAGE;
    case TR_ERR_TIMESTAMP:
        tr_log_info("%s: produce to %s-%d: %zu records with timestamps out "
                    "of [%lld, %lld] refused",
                    req->peer, TR_LOG_ESC(topic), index, errs->n,
                    (long long)errs->ts_min, (long long)errs->ts_max);
        return TR_KERR_INVALID_TIMESTAMP;
    case TR_ERR_UNSUPPORTED:
        return TR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    case TR_ERR_INVALID: /* a control batch from a client */
        return TR_KERR_INVALID_RECORD;
    case TR_ERR_TOO_LARGE:
        return TR_KERR_MESSAGE_TOO_LARGE;
    default:
        return tr_kerr_from(err);
    }
}

/* Kafka's message for one refused record (LogValidator). */
static void
record_error_message(const char *topic, int32_t index,
                     const struct tr_append_errors *errs,
                     const struct tr_record_error *e, char *buf, size_t len)
{
    if (e->err == TR_ERR_TIMESTAMP) {
        snprintf(buf, len,
                 "Timestamp %lld of message with offset %lld is out of "
                 "range. The timestamp should be within [%lld, %lld]",
                 (long long)e->timestamp, (long long)e->offset,
                 (long long)errs->ts_min, (long long)errs->ts_max);
    } else {
        snprintf(buf, len,
                 "Compacted topic cannot accept message without key in topic "
                 "partition %s-%d.",
                 topic, index);
    }
}

/*
 * Produce v8's RecordErrors and ErrorMessage (KIP-467): each refused
 * record's index with Kafka's message, so that clients fail those records
 * only; the partition's message says how many there were.
 */
static void
put_record_errors(struct tr_buf *out, const char *topic, int32_t index,
                  int16_t kerr, const struct tr_append_errors *errs)
{
    char msg[512], summary[1024];
    size_t i, n;
    int r;

    tr_buf_put_i32(out, (int32_t)errs->n);
    for (i = 0; i < errs->n; i++) {
        record_error_message(topic, index, errs, &errs->e[i], msg, sizeof(msg));
        tr_buf_put_i32(out, errs->e[i].batch_index);
        tr_proto_put_cstring_v(out, 0, msg);
    }
    if (errs->n == 0) {
        tr_proto_put_cstring_v(out, 0, NULL);
        return;
    }
    if (kerr == TR_KERR_INVALID_TIMESTAMP) {
        tr_proto_put_cstring_v(
            out, 0,
            "One or more records have been rejected due to invalid timestamp");
        return;
    }
    r = snprintf(summary, sizeof(summary),
                 "One or more records have been rejected due to %zu record "
                 "errors in total, and only showing the first three errors "
                 "at most: [",
                 errs->n);
    n = (size_t)r;
    for (i = 0; i < errs->n && i < 3 && n < sizeof(summary); i++) {
        record_error_message(topic, index, errs, &errs->e[i], msg, sizeof(msg));
        r = snprintf(summary + n, sizeof(summary) - n,
                     "%sRecordError(batchIndex=%d, message='%s')",
                     i > 0 ? ", " : "", errs->e[i].batch_index, msg);
        n += r > 0 ? (size_t)r : 0;
    }
    if (n < sizeof(summary)) {
        snprintf(summary + n, sizeof(summary) - n, "]");
    }
    tr_proto_put_cstring_v(out, 0, summary);
}

tr_err_t
tr_api_produce(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_str txn_id = { NULL, -1 };
    int16_t acks;
    int32_t timeout_ms, ntopics, t;
    struct produce_state *ps = req->state;
    /* A rerun finds the state its first run left: the appends are done. */
    int rerun = ps != NULL;
    size_t next = 0, out_start;
    int waiting = 0, txn_allowed = 1, denied = 0;
    tr_err_t err;

    if (v >= 3) {
        err = tr_proto_get_string(in, &txn_id);
        if (err != TR_OK) {
            return err;
        }
    }
    if ((err = tr_slice_get_i16(in, &acks)) != TR_OK ||
        (err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (ntopics < 0) {
        return TR_ERR_CORRUPT;
    }
    if (!rerun && txn_id.len >= 0) {
        txn_allowed = tr_api_authorize_str(req, TR_ACL_OP_WRITE,
                                           TR_ACL_TRANSACTIONAL_ID, &txn_id);
        denied |= !txn_allowed;
    }
    if (ps == NULL && acks == -1 && req->broker->cluster != NULL) {
        ps = tr_calloc(1, sizeof(*ps));
        if (ps == NULL) {
            return TR_ERR_NOMEM;
        }
        req->state = ps;
        req->state_free = produce_state_free;
    }
    out_start = tr_buf_len(out);
    tr_buf_put_i32(out, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int topic_ok, allowed = 1;
        int32_t nparts, p;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &nparts, 8,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        if (nparts < 0) {
            return TR_ERR_CORRUPT;
        }
        topic_ok = tr_str_copy(&name, topic, sizeof(topic)) == TR_OK;
        if (!rerun && v >= 3 && txn_id.len < 0) {
            /* WRITE on the topic, before anything is looked up. */
            allowed =
                tr_api_authorize_str(req, TR_ACL_OP_WRITE, TR_ACL_TOPIC, &name);
            denied |= !allowed;
        }
        tr_proto_put_string_v(out, 0, name.ptr, name.len < 0 ? 0 : name.len);
        tr_buf_put_i32(out, nparts);
        for (p = 0; p < nparts; p++) {
            struct tr_append_result res = { -1, -1, -1, -1, 0 };
            struct tr_append_errors errs;
            struct tr_str records;
            int32_t index;
            int16_t kerr;

            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (err = tr_proto_get_bytes(in, &records)) != TR_OK) {
                return err;
            }
            memset(&errs, 0, sizeof(errs));
            int32_t epoch = -1;
            if (rerun) {
                /* Rerun of a parked acks=all request: same frame, same
                 * partitions, in the same order. */
                struct produce_result *pr;
                if (next >= ps->n) {
                    return TR_ERR_INTERNAL;
                }
                pr = &ps->r[next++];
                res = pr->res;
                kerr = pr->kerr;
#ifdef HAVE_ZOOKEEPER
                if (kerr == TR_KERR_NONE && !res.duplicate) {
                    (void)tr_waiter_watch(req->waiter, topic, index);
                    kerr = tr_cluster_check_acked(req->broker->cluster, topic,
                                                  index, pr->epoch,
                                                  res.last_offset);
                    if (kerr < 0) {
                        waiting = 1;
                        kerr = req->final ? TR_KERR_REQUEST_TIMED_OUT
                                          : TR_KERR_NONE;
                    }
                }
#endif
            } else if (v < 3) {
                kerr = TR_KERR_UNSUPPORTED_VERSION;
            } else if (acks != 0 && acks != 1 && acks != -1) {
                kerr = TR_KERR_INVALID_REQUIRED_ACKS;
            } else if (txn_id.len >= 0 && !txn_allowed) {
                kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            } else if (!allowed) {
                kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if ((kerr = tr_api_txn_check_produce(
                            req, &txn_id, topic_ok ? topic : "", index,
                            &records)) != TR_KERR_NONE) {
                /* refused by the transaction coordinator (api/txn.c) */
            } else if (!topic_ok) {
                kerr = TR_KERR_INVALID_TOPIC_EXCEPTION;
            } else {
                kerr = TR_KERR_NONE;
#ifdef HAVE_ZOOKEEPER
                if (req->broker->cluster != NULL) {
                    kerr = tr_cluster_check_produce(req->broker->cluster, topic,
                                                    index, acks == -1, &epoch);
                }
#endif
                if (kerr == TR_KERR_NONE) {
                    kerr = append_partition(req, topic, index, &records, &res,
                                            &errs);
                }
            }
            if (!rerun && ps != NULL) {
                struct produce_result *pr = produce_state_add(ps);
                if (pr == NULL) {
                    tr_append_errors_free(&errs);
                    return TR_ERR_NOMEM;
                }
                pr->res = res;
                pr->kerr = kerr;
                pr->epoch = epoch;
                pr->index = index;
                snprintf(pr->topic, sizeof(pr->topic), "%s",
                         topic_ok ? topic : "");
                if (kerr == TR_KERR_NONE && !res.duplicate) {
                    waiting = 1; /* checked below, once all are appended */
                }
            }
            /* metrics: a rerun counts only what changed since the first */
            tr_stats_error(req->broker->stats, TR_API_PRODUCE,
                           rerun && kerr == ps->r[next - 1].kerr ? 0 : kerr);
            tr_buf_put_i32(out, index);
            tr_buf_put_i16(out, kerr);
            tr_buf_put_i64(out, res.base_offset);
            if (v >= 2) {
                tr_buf_put_i64(out, res.log_append_time);
            }
            if (v >= 5) {
                tr_buf_put_i64(out, res.log_start_offset);
            }
            if (v >= 8) {
                put_record_errors(out, topic_ok ? topic : "", index, kerr,
                                  &errs);
            }
            tr_append_errors_free(&errs);
        }
    }
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
#ifdef HAVE_ZOOKEEPER
    if (waiting && !rerun) {
        /*
         * First run: watch, then look, so a HW move between the append and
         * the watch is not missed. All there already: answer now.
         */
        size_t i;
        waiting = 0;
        for (i = 0; i < ps->n; i++) {
            struct produce_result *pr = &ps->r[i];
            if (pr->kerr != TR_KERR_NONE || pr->res.duplicate) {
                continue;
            }
            (void)tr_waiter_watch(req->waiter, pr->topic, pr->index);
            if (tr_cluster_check_acked(req->broker->cluster, pr->topic,
                                       pr->index, pr->epoch,
                                       pr->res.last_offset) != TR_KERR_NONE) {
                waiting = 1;
            }
        }
    }
#endif
    if (waiting && !req->final) {
        req->park_ms = timeout_ms > 0 ? timeout_ms : 1;
        tr_buf_truncate(out, out_start);
        return TR_OK;
    }
    /* acks=0: the client expects no response at all. */
    req->no_response = acks == 0;
    /* Kafka closes an acks=0 producer's connection on a denial. */
    req->close = acks == 0 && denied;
    return TR_OK;
}
