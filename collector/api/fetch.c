/*
 * api_fetch -- Fetch (with long polling) and ListOffsets.
 *
 * A Fetch is handled in two passes. The first decodes every partition and
 * asks the partition for a file range (tr_partition_read); the second
 * encodes the response, adding each range as a file segment so the records
 * go from the page cache to the socket with sendfile. When the ranges add up
 * to fewer than MinBytes, the request parks instead: it watches its
 * partitions, checks once more (an append may have raced the watch), and
 * then waits until an append wakes it or MaxWaitMs passes.
 */
#include "api.h"

#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "build-config.h"
#include "log.h"
#include "partition.h"
#include "stats.h"
#include "topics.h"
#include "waits.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#include "throttle.h"
#endif

struct fetch_part {
    char *topic; /* points into the fetch's topic names */
    int32_t index;
    int32_t current_epoch; /* v9+: the fetcher's leader epoch, else -1 */
    int64_t fetch_offset;
    int32_t max_bytes;
    int16_t kerr;
    int denied; /* not authorized: TOPIC_AUTHORIZATION_FAILED */
    struct tr_partition_offsets offs;
    struct tr_read_result read;
    struct tr_aborted_txn *aborted; /* read_committed: owned */
    size_t naborted;
};

struct fetch {
    int32_t replica_id; /* a follower broker's id, or -1 for consumers */
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;
    int8_t isolation;
    int32_t ntopics;
    int32_t *topic_nparts; /* partitions per topic, in request order */
    char (*topics)[TR_TOPIC_NAME_MAX + 1];
    int32_t nparts;
    struct fetch_part *parts;
};

static void
fetch_release(struct fetch *f)
{
    int32_t i;

    for (i = 0; i < f->nparts; i++) {
        if (f->parts[i].read.fd >= 0) {
            close(f->parts[i].read.fd);
            f->parts[i].read.fd = -1;
        }
        tr_free(f->parts[i].aborted);
        f->parts[i].aborted = NULL;
        f->parts[i].naborted = 0;
    }
}

static void
fetch_cleanup(struct fetch *f)
{
    if (f->parts != NULL) {
        fetch_release(f);
    }
    tr_free(f->parts);
    tr_free(f->topic_nparts);
    tr_free(f->topics);
}

static tr_err_t
fetch_decode(struct tr_request *req, struct fetch *f)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    struct tr_slice topics_at;
    int32_t session_id, session_epoch, t, p, n = 0;
    int follower_ok;
    tr_err_t err;

    if ((err = tr_slice_get_i32(in, &f->replica_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &f->max_wait_ms)) != TR_OK ||
        (err = tr_slice_get_i32(in, &f->min_bytes)) != TR_OK ||
        (err = tr_slice_get_i32(in, &f->max_bytes)) != TR_OK ||
        (err = tr_slice_get_i8(in, &f->isolation)) != TR_OK) {
        return err;
    }
    if (v >= 7 && ((err = tr_slice_get_i32(in, &session_id)) != TR_OK ||
                   (err = tr_slice_get_i32(in, &session_epoch)) != TR_OK)) {
        return err;
    }
    err = tr_proto_get_array_len_v(in, 0, &f->ntopics, 6, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    if (f->ntopics < 0) {
        f->ntopics = 0;
    }
    /* First walk: count partitions so the arrays are sized once. */
    topics_at = *in;
    for (t = 0; t < f->ntopics; t++) {
        struct tr_str name;
        int32_t np;
        /* Partition, [CurrentLeaderEpoch], FetchOffset, [LogStartOffset],
         * PartitionMaxBytes: the least bytes one entry can take. */
        size_t each = 16 + (v >= 9 ? 4 : 0) + (v >= 5 ? 8 : 0);

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &np, each,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        if (np < 0) {
            np = 0;
        }
        if (n > TR_API_MAX_PARTITIONS - np) {
            return TR_ERR_TOO_LARGE;
        }
        n += np;
        for (p = 0; p < np; p++) {
            int64_t i64;
            int32_t i32;

            if ((err = tr_slice_get_i32(in, &i32)) != TR_OK ||
                (v >= 9 && (err = tr_slice_get_i32(in, &i32)) != TR_OK) ||
                (err = tr_slice_get_i64(in, &i64)) != TR_OK ||
                (v >= 5 && (err = tr_slice_get_i64(in, &i64)) != TR_OK) ||
                (err = tr_slice_get_i32(in, &i32)) != TR_OK) {
                return err;
            }
        }
    }
    f->nparts = n;
    f->parts = tr_calloc((size_t)n, sizeof(*f->parts));
    f->topic_nparts = tr_calloc((size_t)f->ntopics, sizeof(int32_t));
    f->topics = tr_calloc((size_t)f->ntopics, sizeof(*f->topics));
    if (f->parts == NULL || f->topic_nparts == NULL || f->topics == NULL) {
        return TR_ERR_NOMEM;
    }
    for (p = 0; p < n; p++) {
        f->parts[p].read.fd = -1;
    }
    /*
     * Followers need CLUSTER_ACTION on the cluster, consumers READ on each
     * topic; a denied follower gets TOPIC_AUTHORIZATION_FAILED too, as
     * Kafka answers.
     */
    follower_ok = f->replica_id < 0 ||
                  tr_api_authorize(req, TR_ACL_OP_CLUSTER_ACTION,
                                   TR_ACL_CLUSTER, TR_ACL_CLUSTER_NAME);
    /* Second walk: fill them in (the bounds were checked above). */
    n = 0;
    for (t = 0; t < f->ntopics; t++) {
        struct tr_str name;
        int32_t np;
        int topic_ok, allowed;

        tr_proto_get_string(&topics_at, &name);
        tr_proto_get_array_len_v(&topics_at, 0, &np, 0, TR_API_MAX_PARTITIONS);
        np = np < 0 ? 0 : np;
        topic_ok =
            tr_str_copy(&name, f->topics[t], sizeof(f->topics[t])) == TR_OK;
        allowed = f->replica_id >= 0
                      ? follower_ok
                      : np == 0 || tr_api_authorize_str(req, TR_ACL_OP_READ,
                                                        TR_ACL_TOPIC, &name);
        f->topic_nparts[t] = np;
        for (p = 0; p < np; p++, n++) {
            struct fetch_part *fp = &f->parts[n];
            int32_t epoch;
            int64_t log_start;

            fp->topic = f->topics[t];
            tr_slice_get_i32(&topics_at, &fp->index);
            fp->current_epoch = -1;
            if (v >= 9) {
                tr_slice_get_i32(&topics_at, &epoch);
                fp->current_epoch = epoch;
            }
            tr_slice_get_i64(&topics_at, &fp->fetch_offset);
            if (v >= 5) {
                tr_slice_get_i64(&topics_at, &log_start);
            }
            tr_slice_get_i32(&topics_at, &fp->max_bytes);
            fp->kerr =
                topic_ok ? TR_KERR_NONE : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            fp->denied = !allowed;
        }
    }
    /* ForgottenTopicsData and RackId are irrelevant without sessions. */
    return TR_OK;
}

size_t
tr_api_fetch_budget(int32_t request_max, int32_t partition_max, size_t total)
{
    size_t budget = partition_max > 0 ? (size_t)partition_max : 0;
    size_t left;

    if (request_max > 0) {
        left = total < (size_t)request_max ? (size_t)request_max - total : 0;
        budget = budget < left ? budget : left;
    }
    return budget;
}

/* Reads every partition; returns the bytes found. */
static size_t
fetch_read(struct tr_request *req, struct fetch *f)
{
    size_t total = 0;
    int32_t i;

    fetch_release(f);
    for (i = 0; i < f->nparts; i++) {
        struct fetch_part *fp = &f->parts[i];
        struct tr_partition *part;
        struct tr_throttle *throttle = NULL;
        size_t budget;
        int64_t end;
        tr_err_t err;

        if (fp->denied) {
            fp->kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            memset(&fp->offs, 0, sizeof(fp->offs));
            fp->offs.high_watermark = fp->offs.last_stable = -1;
            fp->offs.log_start = -1;
            continue;
        }
        part = tr_topics_partition(req->broker->topics, fp->topic, fp->index);
        if (part == NULL) {
            /* In a cluster the partition may live on other brokers. */
            fp->kerr = req->broker->cluster != NULL
                           ? TR_KERR_NOT_LEADER_OR_FOLLOWER
                           : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
#ifdef HAVE_ZOOKEEPER
        if (req->broker->cluster != NULL) {
            int catching_up = 0;

            /* Leaders serve; a follower's fetch also reports its position. */
            fp->kerr = tr_cluster_check_fetch(req->broker->cluster, part,
                                              f->replica_id, fp->current_epoch,
                                              fp->fetch_offset, &catching_up);
            if (fp->kerr != TR_KERR_NONE) {
                memset(&fp->offs, 0, sizeof(fp->offs));
                fp->offs.high_watermark = fp->offs.last_stable = -1;
                fp->offs.log_start = -1;
                tr_partition_unref(part);
                continue;
            }
            /* A replica catching up waits while the leader throttle is
             * spent (leader.replication.throttled.rate). */
            if (catching_up) {
                throttle = tr_cluster_leader_throttle(req->broker->cluster);
            }
        }
#endif
        fp->kerr = TR_KERR_NONE;
        tr_partition_offsets(part, &fp->offs);
        /*
         * The response limit: MaxBytes overall, PartitionMaxBytes each. The
         * first batch found is returned even if larger (KIP-74), so a
         * consumer can always make progress.
         */
        budget = tr_api_fetch_budget(f->max_bytes, fp->max_bytes, total);
        end =
            f->isolation == 1 ? fp->offs.last_stable : fp->offs.high_watermark;
        if (f->replica_id >= 0 && req->broker->cluster != NULL) {
            end = fp->offs.log_end; /* followers copy past the HW */
        }
        if (throttle != NULL && !tr_throttle_allow(throttle, req->now_ms)) {
            /* Nothing for it this time; the fetch waits as if idle. */
        } else if (budget > 0 || total == 0) {
            err = tr_partition_read(part, fp->fetch_offset, budget, end,
                                    &fp->read);
            if (throttle != NULL && err == TR_OK) {
                tr_throttle_record(throttle, (int64_t)fp->read.len,
                                   req->now_ms);
            }
            if (err == TR_ERR_OUT_OF_RANGE) {
                fp->kerr = TR_KERR_OFFSET_OUT_OF_RANGE;
            } else if (err != TR_OK) {
                tr_log_error("fetch %s-%d at %lld: %s", fp->topic, fp->index,
                             (long long)fp->fetch_offset, tr_err_str(err));
                fp->kerr = tr_kerr_from(err);
            } else if (total > 0 && fp->read.len > budget) {
                /* Only the first batch of the first non-empty partition
                 * may exceed its limit: this one waits for a later fetch. */
                close(fp->read.fd);
                fp->read.fd = -1;
                fp->read.len = 0;
            } else {
                total += fp->read.len;
                if (f->isolation == 1 && fp->read.len > 0 &&
                    tr_partition_aborted_txns(part, fp->fetch_offset, end,
                                              &fp->aborted,
                                              &fp->naborted) != TR_OK) {
                    fp->kerr = TR_KERR_UNKNOWN_SERVER_ERROR; /* no memory */
                }
            }
        }
        tr_partition_unref(part);
    }
    return total;
}

static tr_err_t
fetch_encode(struct tr_request *req, struct fetch *f)
{
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int32_t t, p, n = 0;
    tr_err_t err;

    tr_request_put_throttle(req);
    if (v >= 7) {
        tr_buf_put_i16(out, TR_KERR_NONE);
        tr_buf_put_i32(out, 0); /* SessionId: we keep no fetch sessions */
    }
    tr_buf_put_i32(out, f->ntopics);
    for (t = 0; t < f->ntopics; t++) {
        tr_proto_put_cstring_v(out, 0, f->topics[t]);
        tr_buf_put_i32(out, f->topic_nparts[t]);
        for (p = 0; p < f->topic_nparts[t]; p++, n++) {
            struct fetch_part *fp = &f->parts[n];
            int known = fp->kerr != TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;

            tr_stats_error(req->broker->stats, TR_API_FETCH, fp->kerr);
            tr_buf_put_i32(out, fp->index);
            tr_buf_put_i16(out, fp->kerr);
            tr_buf_put_i64(out, known ? fp->offs.high_watermark : -1);
            tr_buf_put_i64(out, known ? fp->offs.last_stable : -1);
            if (v >= 5) {
                tr_buf_put_i64(out, known ? fp->offs.log_start : -1);
            }
            tr_api_put_aborted_txns(out, f->isolation, fp->aborted,
                                    fp->naborted); /* AbortedTransactions */
            if (v >= 11) {
                tr_buf_put_i32(out, -1); /* PreferredReadReplica */
            }
            tr_buf_put_i32(out, (int32_t)fp->read.len);
            if (fp->read.fd >= 0 && fp->read.len > 0) {
                tr_stats_bytes_out(req->broker, fp->topic, fp->index,
                                   fp->read.len);
                err = tr_request_add_file(req, fp->read.fd, fp->read.pos,
                                          fp->read.len);
                fp->read.fd = -1; /* taken */
                if (err != TR_OK) {
                    return err;
                }
            }
        }
    }
    return TR_OK;
}

tr_err_t
tr_api_fetch(struct tr_request *req)
{
    struct fetch f;
    size_t total;
    int32_t i;
    tr_err_t err;

    memset(&f, 0, sizeof(f));
    err = fetch_decode(req, &f);
    if (err != TR_OK) {
        goto out;
    }
    /* A follower's replication is not held to client quotas. */
    req->quota_exempt = f.replica_id >= 0;
    if (!req->quota_exempt) {
        int32_t cap = tr_request_fetch_cap(req);

        /* One answer holds no more than the quota allows (Kafka's cap);
         * the first batch still goes whole (KIP-74). */
        if (cap > 0 && (f.max_bytes <= 0 || cap < f.max_bytes)) {
            f.max_bytes = cap;
        }
        for (i = 0; cap > 0 && i < f.nparts; i++) {
            if (f.parts[i].max_bytes > cap) {
                f.parts[i].max_bytes = cap;
            }
        }
    }
    total = fetch_read(req, &f);
    if (!req->final && f.max_wait_ms > 0 && f.min_bytes > 0 &&
        total < (size_t)f.min_bytes) {
        /* Watch, then look again: an append may have come in between. */
        for (i = 0; i < f.nparts; i++) {
            if (f.parts[i].kerr == TR_KERR_NONE) {
                err = tr_waiter_watch(req->waiter, f.parts[i].topic,
                                      f.parts[i].index);
                if (err != TR_OK) {
                    goto out;
                }
            }
        }
        total = fetch_read(req, &f);
        if (total < (size_t)f.min_bytes) {
            req->park_ms = f.max_wait_ms;
            err = TR_OK;
            goto out;
        }
    }
    if (!req->quota_exempt && tr_request_fetch_quota(req, total) > 0) {
        /*
         * Over its consumer_byte_rate: as Kafka does, an empty answer
         * (the bytes are not counted) with the wait in throttle_time_ms.
         */
        fetch_release(&f);
        f.ntopics = 0;
    }
    err = fetch_encode(req, &f);
out:
    fetch_cleanup(&f);
    return err;
}

/*
 * One partition's answer to a ListOffsets timestamp: -1 latest (the high
 * watermark, or the LSO for read_committed), -2 earliest and (v8) -4
 * earliest local (the log start: all of the log is local), (v7) -3 the
 * record with the largest timestamp (KIP-734), else the first record at or
 * after the timestamp.
 */
static int16_t
list_offset(struct tr_partition *part, int8_t isolation, int64_t timestamp,
            int64_t *offset, int64_t *ts)
{
    struct tr_partition_offsets offs;
    int64_t max;

    tr_partition_offsets(part, &offs);
    if (timestamp == -1) {
        *offset = isolation == 1 ? offs.last_stable : offs.high_watermark;
    } else if (timestamp == -2 || timestamp == -4) {
        *offset = offs.log_start;
    } else if (timestamp == -3) {
        max = tr_partition_max_timestamp(part);
        if (max >= 0 &&
            tr_partition_offset_for_time(part, max, offset, ts) != TR_OK) {
            return TR_KERR_UNKNOWN_SERVER_ERROR;
        }
    } else if (tr_partition_offset_for_time(part, timestamp, offset, ts) !=
               TR_OK) {
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return TR_KERR_NONE;
}

tr_err_t
tr_api_list_offsets(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 6;
    int32_t replica_id, ntopics, t;
    int8_t isolation = 0;
    tr_err_t err;

    if ((err = tr_slice_get_i32(in, &replica_id)) != TR_OK ||
        (v >= 2 && (err = tr_slice_get_i8(in, &isolation)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(in, flex, &ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (v >= 2) {
        tr_request_put_throttle(req);
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    tr_proto_put_array_len_v(out, flex, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int32_t nparts, p;
        int topic_ok, allowed;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &nparts, 12,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        nparts = nparts < 0 ? 0 : nparts;
        topic_ok = tr_str_copy(&name, topic, sizeof(topic)) == TR_OK;
        allowed = nparts == 0 || tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE,
                                                      TR_ACL_TOPIC, &name);
        tr_proto_put_string_v(out, flex, name.ptr, name.len < 0 ? 0 : name.len);
        tr_proto_put_array_len_v(out, flex, nparts);
        for (p = 0; p < nparts; p++) {
            struct tr_partition *part = NULL;
            int32_t index, epoch;
            int64_t timestamp, offset = -1, ts = -1;
            int16_t kerr = TR_KERR_NONE;

            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (v >= 4 && (err = tr_slice_get_i32(in, &epoch)) != TR_OK) ||
                (err = tr_slice_get_i64(in, &timestamp)) != TR_OK ||
                (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
                return err;
            }
            if (topic_ok && allowed) {
                part = tr_topics_partition(req->broker->topics, topic, index);
            }
            if (!allowed) {
                kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (part == NULL) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else {
                kerr = list_offset(part, isolation, timestamp, &offset, &ts);
                tr_partition_unref(part);
            }
            tr_buf_put_i32(out, index);
            tr_buf_put_i16(out, kerr);
            tr_buf_put_i64(out, ts);
            tr_buf_put_i64(out, offset);
            if (v >= 4) {
                tr_buf_put_i32(out, kerr == TR_KERR_NONE ? 0 : -1);
            }
            tr_proto_put_tags_v(out, flex);
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
        tr_proto_put_tags_v(out, flex);
    }
    if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
        return err;
    }
    tr_proto_put_tags_v(out, flex);
    return TR_OK;
}
