/*
 * api_txn -- the transaction APIs (KIP-98): InitProducerId (with and
 * without a transactional id), AddPartitionsToTxn v0-3, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit, and the admin APIs DescribeTransactions and
 * ListTransactions and DescribeProducers (KIP-664). Each decodes, calls the
 * transaction coordinator (txn/coordinator) or the group coordinator, and
 * encodes.
 *
 * PRODUCER_FENCED (90) only exists from InitProducerId v4 and
 * AddPartitions/AddOffsets/EndTxn v2; older versions get
 * INVALID_PRODUCER_EPOCH (47) instead, as Kafka sends (KIP-588).
 */
#include "api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "build-config.h"
#include "coordinator.h"
#include "groups.h"
#include "log.h"
#include "partition.h"
#include "pidgen.h"
#include "topics.h"
#include "waits.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/* Error 90 from 'since' on, 47 below it. */
static int16_t
fenced_for(int16_t kerr, int16_t version, int16_t since)
{
    if (kerr == TR_KERR_PRODUCER_FENCED && version < since) {
        return TR_KERR_INVALID_PRODUCER_EPOCH;
    }
    return kerr;
}

/* The transaction coordinator (NULL only in unit tests without one). */
static struct tr_txn_coordinator *
coordinator(struct tr_request *req)
{
    return req->broker->txn;
}

/*
 * In a cluster the coordinator's calls wait for replication (its own
 * writes to __transaction_state, markers acknowledged by other brokers'
 * ISRs). A network thread must never wait for that: the followers' Fetch
 * requests that move the high watermark may be queued on the very same
 * thread. So the call runs on a thread of its own (a job) while the request
 * stays parked, woken by the job's key in the waits registry; the request
 * body is copied for the job, and the handler, run again on the same
 * frame, decodes it again and answers from the job's results.
 */
#define JOB_TOPIC   "\001txn-job"
#define JOB_PARK_MS 120000

enum job_kind {
    JOB_INIT,
    JOB_ADD_PARTITIONS,
    JOB_ADD_OFFSETS,
    JOB_END,
    JOB_MARKERS
};

struct txn_job {
    pthread_mutex_t lock;
    int refs; /* the request and the running thread */
    int done;
    enum job_kind kind;
    struct tr_broker *broker;
    int32_t key;
    uint8_t *body; /* copy of the request body: the strings below point in */
    size_t body_len;
    int flex, allowed;
    struct tr_str id, group;
    int32_t timeout_ms;
    int64_t pid, now_ms;
    int16_t epoch;
    int commit;
    struct tr_txn_partition *parts;
    size_t nparts;
    /* Results. */
    int16_t kerr;
    int64_t out_pid;
    int16_t out_epoch;
    struct tr_buf out; /* JOB_MARKERS: the response body */
};

static tr_err_t markers_respond(struct tr_broker *broker, struct tr_slice *in,
                                struct tr_buf *out, int flex, int allowed);

static void
job_unref(void *arg)
{
    struct txn_job *job = arg;
    int last;

    pthread_mutex_lock(&job->lock);
    last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (!last) {
        return;
    }
    pthread_mutex_destroy(&job->lock);
    tr_buf_cleanup(&job->out);
    tr_free(job->parts);
    tr_free(job->body);
    tr_free(job);
}

static void
job_work(struct txn_job *job)
{
    struct tr_txn_coordinator *tc = job->broker->txn;
    struct tr_slice in;

    switch (job->kind) {
    case JOB_INIT:
        job->kerr = tr_txn_init_producer_id(tc, &job->id, job->timeout_ms,
                                            job->pid, job->epoch, job->now_ms,
                                            &job->out_pid, &job->out_epoch);
        break;
    case JOB_ADD_PARTITIONS:
        tr_txn_add_partitions(tc, &job->id, job->pid, job->epoch, job->parts,
                              job->nparts, job->now_ms);
        break;
    case JOB_ADD_OFFSETS:
        job->kerr = tr_txn_add_offsets(tc, &job->id, job->pid, job->epoch,
                                       &job->group, job->now_ms);
        break;
    case JOB_END:
        job->kerr = tr_txn_end(tc, &job->id, job->pid, job->epoch, job->commit,
                               job->now_ms);
        break;
    case JOB_MARKERS:
        tr_slice_init(&in, job->body, job->body_len);
        if (markers_respond(job->broker, &in, &job->out, job->flex,
                            job->allowed) != TR_OK) {
            job->kerr = TR_KERR_CORRUPT_MESSAGE; /* the handler closes */
        }
        break;
    }
}

static void *
job_main(void *arg)
{
    struct txn_job *job = arg;
    struct tr_txn_coordinator *tc = job->broker->txn;

    job_work(job);
    pthread_mutex_lock(&job->lock);
    job->done = 1;
    pthread_mutex_unlock(&job->lock);
    if (job->broker->waits != NULL) {
        tr_waits_notify(job->broker->waits, JOB_TOPIC, job->key);
    }
    job_unref(job);
    tr_txn_job_end(tc); /* last: shutdown may free what the job used */
    return NULL;
}

/* Moves a string borrowed from the request body into the job's copy. */
static void
job_rebase(const struct txn_job *job, const uint8_t *start, struct tr_str *s)
{
    if (s->len >= 0 && s->ptr != NULL) {
        s->ptr = (const char *)job->body + ((const uint8_t *)s->ptr - start);
    }
}

/*
 * Whether this request runs its coordinator call as a job: in a cluster,
 * on a server (unit tests of handlers have no waiter and call directly).
 */
static int
use_job(struct tr_request *req)
{
    return req->broker->cluster != NULL && req->waiter != NULL &&
           req->broker->waits != NULL;
}

/*
 * A new job over the request body from 'start' (the body as the handler
 * got it); NULL when out of memory.
 */
static struct txn_job *
job_new(struct tr_request *req, enum job_kind kind,
        const struct tr_slice *start)
{
    struct txn_job *job = tr_calloc(1, sizeof(*job));
    size_t len = tr_slice_remaining(start);

    if (job == NULL) {
        return NULL;
    }
    job->body = tr_malloc(len + 1);
    if (job->body == NULL) {
        tr_free(job);
        return NULL;
    }
    memcpy(job->body, tr_slice_cur(start), len);
    job->body_len = len;
    pthread_mutex_init(&job->lock, NULL);
    job->refs = 1;
    job->kind = kind;
    job->broker = req->broker;
    /* Only tells parked jobs apart in the registry (a clash of two would
     * merely wake one early, and it parks again). */
    job->key = (int32_t)(((uintptr_t)job >> 4) & INT32_MAX);
    job->now_ms = req->now_ms;
    job->kerr = TR_KERR_NONE;
    tr_buf_init(&job->out, 1u << 20);
    return job;
}

/*
 * Starts 'job' for the request and parks it. Returns 0 when the job could
 * not start (the caller answers COORDINATOR_NOT_AVAILABLE).
 */
static int
job_start(struct tr_request *req, struct txn_job *job)
{
    pthread_t tid;
    pthread_attr_t attr;
    int ok;

    if (tr_waiter_watch(req->waiter, JOB_TOPIC, job->key) != TR_OK) {
        job_unref(job);
        return 0;
    }
    req->state = job;
    req->state_free = job_unref;
    job->refs = 2;
    tr_txn_job_begin(req->broker->txn);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = pthread_create(&tid, &attr, job_main, job) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        tr_txn_job_end(req->broker->txn);
        job->refs = 1;
        job->done = 1;
        job->kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        return 1; /* answered from the failed job at once */
    }
    req->park_ms = JOB_PARK_MS;
    return 1;
}

/*
 * On a rerun: the request's job when it is done; NULL after parking the
 * request again (or, past the deadline, with *timed_out set).
 */
static struct txn_job *
job_result(struct tr_request *req, int *timed_out)
{
    struct txn_job *job = req->state;
    int done;

    *timed_out = 0;
    pthread_mutex_lock(&job->lock);
    done = job->done;
    pthread_mutex_unlock(&job->lock);
    if (done) {
        return job;
    }
    if (req->final ||
        tr_waiter_watch(req->waiter, JOB_TOPIC, job->key) != TR_OK) {
        *timed_out = 1;
        return NULL;
    }
    req->park_ms = JOB_PARK_MS;
    return NULL;
}

/* An idempotent producer's id: unique across restarts and brokers. */
static int16_t
idempotent_pid(struct tr_request *req, int64_t *pid)
{
    if (tr_pidgen_next(req->broker->pids, pid) != TR_OK) {
        tr_log_error("cannot allocate a producer id: %s",
                     "the producer-id-block file could not be written");
        return TR_KERR_KAFKA_STORAGE_ERROR;
    }
    if (req->broker->cluster != NULL) {
        /* Unique across the cluster: the broker id in the high bits. */
        *pid |= (int64_t)req->broker->node_id << 40;
    }
    return TR_KERR_NONE;
}

tr_err_t
tr_api_init_producer_id(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    int flex = v >= 2;
    struct tr_str txn_id;
    int32_t txn_timeout;
    int64_t pid = -1, pid_in = -1;
    int16_t epoch = -1, epoch_in = -1;
    int16_t kerr;
    struct tr_slice start = *in;
    struct txn_job *job;
    int timed_out;
    tr_err_t err;

    if ((err = tr_proto_get_string_v(in, flex, &txn_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &txn_timeout)) != TR_OK) {
        return err;
    }
    if (v >= 3 && ((err = tr_slice_get_i64(in, &pid_in)) != TR_OK ||
                   (err = tr_slice_get_i16(in, &epoch_in)) != TR_OK)) {
        return err;
    }
    if (txn_id.len < 0 && req->broker->acl != NULL &&
        !tr_api_authorize_quiet(req, TR_ACL_OP_IDEMPOTENT_WRITE, TR_ACL_CLUSTER,
                                TR_ACL_CLUSTER_NAME) &&
        !tr_api_authorize_any(req, TR_ACL_OP_WRITE, TR_ACL_TOPIC)) {
        /* Idempotence: IDEMPOTENT_WRITE on the cluster, or WRITE on a topic. */
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (txn_id.len < 0) {
        /*
         * An idempotent producer. A KIP-360 bump (v3+ with its current
         * pid) gets a new producer id, which serves the same purpose.
         */
        kerr = idempotent_pid(req, &pid);
        epoch = 0;
    } else if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE,
                                     TR_ACL_TRANSACTIONAL_ID, &txn_id)) {
        kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (coordinator(req) == NULL) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->state != NULL) {
        job = job_result(req, &timed_out);
        if (job == NULL && !timed_out) {
            return TR_OK; /* parked again */
        }
        kerr = job != NULL ? fenced_for(job->kerr, v, 4)
                           : TR_KERR_COORDINATOR_NOT_AVAILABLE;
        pid = job != NULL ? job->out_pid : -1;
        epoch = job != NULL ? job->out_epoch : -1;
    } else if (use_job(req)) {
        job = job_new(req, JOB_INIT, &start);
        if (job != NULL) {
            job->id = txn_id;
            job_rebase(job, tr_slice_cur(&start), &job->id);
            job->timeout_ms = txn_timeout;
            job->pid = pid_in;
            job->epoch = epoch_in;
            if (job_start(req, job) && req->park_ms > 0) {
                return TR_OK;
            }
        }
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        kerr = tr_txn_init_producer_id(coordinator(req), &txn_id, txn_timeout,
                                       pid_in, epoch_in, req->now_ms, &pid,
                                       &epoch);
        kerr = fenced_for(kerr, v, 4);
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(req->out, kerr);
    tr_buf_put_i64(req->out, kerr == TR_KERR_NONE ? pid : -1);
    tr_buf_put_i16(req->out, kerr == TR_KERR_NONE ? epoch : -1);
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}

int16_t
tr_api_txn_check_produce(struct tr_request *req, const struct tr_str *txn_id,
                         const char *topic, int32_t partition,
                         const struct tr_str *records)
{
    struct tr_batch_header h;
    int16_t kerr;

    if (records->len < TR_BATCH_HEADER_SIZE ||
        tr_batch_header_parse((const uint8_t *)records->ptr,
                              (size_t)records->len, &h) != TR_OK ||
        !(h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL)) {
        return TR_KERR_NONE; /* the partition validates the rest */
    }
    if (txn_id->len < 0) {
        /* Kafka: transactional records need a transactional id. */
        return TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    }
    if (coordinator(req) == NULL) {
        return TR_KERR_NOT_ENOUGH_REPLICAS; /* retriable stand-in (KIP-890) */
    }
    kerr = tr_txn_check_produce(coordinator(req), txn_id, h.ProducerId,
                                h.ProducerEpoch, topic, partition);
    /* Produce has no PRODUCER_FENCED: librdkafka takes 47 as fenced. */
    return kerr == TR_KERR_PRODUCER_FENCED ? TR_KERR_INVALID_PRODUCER_EPOCH
                                           : kerr;
}

void
tr_api_put_aborted_txns(struct tr_buf *out, int8_t isolation,
                        const struct tr_aborted_txn *aborted, size_t n)
{
    size_t i;

    if (isolation != 1) {
        tr_buf_put_i32(out, -1); /* null, as Kafka sends it */
        return;
    }
    tr_buf_put_i32(out, (int32_t)n);
    for (i = 0; i < n; i++) {
        tr_buf_put_i64(out, aborted[i].producer_id);  /* ProducerId */
        tr_buf_put_i64(out, aborted[i].first_offset); /* FirstOffset */
    }
}

/* The fields AddPartitions, AddOffsets and EndTxn begin with. */
struct txn_head {
    struct tr_str id;
    int64_t pid;
    int16_t epoch;
};

static tr_err_t
get_head(struct tr_slice *in, int flex, struct txn_head *h)
{
    tr_err_t err;

    if ((err = tr_proto_get_string_v(in, flex, &h->id)) != TR_OK ||
        (err = tr_slice_get_i64(in, &h->pid)) != TR_OK ||
        (err = tr_slice_get_i16(in, &h->epoch)) != TR_OK) {
        return err;
    }
    return h->id.len < 0 ? TR_ERR_CORRUPT : TR_OK;
}

/*
 * Kafka's checks for AddPartitionsToTxn: WRITE on the transactional id
 * (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition), then WRITE
 * on each topic; if any topic is refused, its partitions get
 * TOPIC_AUTHORIZATION_FAILED and the others OPERATION_NOT_ATTEMPTED.
 * Returns 1 when everything is allowed.
 */
static int
authorize_partitions(struct tr_request *req, const struct tr_str *id,
                     struct tr_txn_partition *parts, size_t n)
{
    size_t k;
    int denied = 0;

    if (req->broker->acl == NULL) {
        return 1;
    }
    if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE, TR_ACL_TRANSACTIONAL_ID,
                              id)) {
        for (k = 0; k < n; k++) {
            parts[k].error = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        }
        return 0;
    }
    for (k = 0; k < n; k++) {
        if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE, TR_ACL_TOPIC,
                                  &parts[k].topic)) {
            parts[k].error = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            denied = 1;
        }
    }
    if (denied) {
        for (k = 0; k < n; k++) {
            if (parts[k].error == TR_KERR_NONE) {
                parts[k].error = TR_KERR_OPERATION_NOT_ATTEMPTED;
            }
        }
    }
    return !denied;
}

tr_err_t
tr_api_add_partitions_to_txn(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 3;
    struct txn_head h;
    struct tr_txn_partition *parts = NULL;
    int32_t *topic_counts = NULL;
    struct tr_str *names = NULL;
    size_t n = 0, cap = 0, k;
    int32_t ntopics, t, np, i;
    struct tr_slice start = *in;
    struct txn_job *job;
    int timed_out;
    tr_err_t err;

    if ((err = get_head(in, flex, &h)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, flex, &ntopics, 4,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (ntopics < 0) {
        return TR_ERR_CORRUPT;
    }
    topic_counts = tr_calloc((size_t)ntopics + 1, sizeof(*topic_counts));
    names = tr_calloc((size_t)ntopics + 1, sizeof(*names));
    if (topic_counts == NULL || names == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            goto out;
        }
        if (np < 0 || name.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        names[t] = name;
        topic_counts[t] = np;
        for (i = 0; i < np; i++) {
            err = tr_array_reserve(&parts, &cap, n + 1, sizeof(*parts));
            if (err != TR_OK) {
                goto out;
            }
            parts[n].topic = name;
            parts[n].error = TR_KERR_NONE;
            if ((err = tr_slice_get_i32(in, &parts[n].partition)) != TR_OK) {
                goto out;
            }
            n++;
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            goto out;
        }
    }
    if (!authorize_partitions(req, &h.id, parts, n)) {
        /* refused: the codes are set, nothing is added */
    } else if (coordinator(req) == NULL) {
        for (k = 0; k < n; k++) {
            parts[k].error = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    } else if (req->state != NULL) {
        job = job_result(req, &timed_out);
        if (job == NULL && !timed_out) {
            err = TR_OK; /* parked again */
            goto out;
        }
        for (k = 0; k < n; k++) {
            parts[k].error = job != NULL && k < job->nparts
                                 ? job->parts[k].error
                                 : TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    } else if (use_job(req) &&
               (job = job_new(req, JOB_ADD_PARTITIONS, &start)) != NULL) {
        job->parts = tr_calloc(n + 1, sizeof(*job->parts));
        if (job->parts != NULL) {
            memcpy(job->parts, parts, n * sizeof(*parts));
            job->nparts = n;
            for (k = 0; k < n; k++) {
                job_rebase(job, tr_slice_cur(&start), &job->parts[k].topic);
            }
            job->id = h.id;
            job_rebase(job, tr_slice_cur(&start), &job->id);
            job->pid = h.pid;
            job->epoch = h.epoch;
            if (job_start(req, job) && req->park_ms > 0) {
                err = TR_OK;
                goto out;
            }
        } else {
            job_unref(job);
        }
        for (k = 0; k < n; k++) {
            parts[k].error = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    } else {
        tr_txn_add_partitions(coordinator(req), &h.id, h.pid, h.epoch, parts, n,
                              req->now_ms);
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(out, flex, ntopics); /* Results */
    for (t = 0, k = 0; t < ntopics; t++) {
        tr_proto_put_string_v(out, flex, names[t].ptr, names[t].len); /* Name */
        tr_proto_put_array_len_v(out, flex, topic_counts[t]);
        for (i = 0; i < topic_counts[t]; i++, k++) {
            tr_buf_put_i32(out, parts[k].partition); /* PartitionIndex */
            tr_buf_put_i16(out, fenced_for(parts[k].error, v, 2));
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
    err = TR_OK;
out:
    tr_free(parts);
    tr_free(topic_counts);
    tr_free(names);
    return err;
}

tr_err_t
tr_api_add_offsets_to_txn(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    int flex = v >= 3;
    struct txn_head h;
    struct tr_str group;
    int16_t kerr;
    struct tr_slice start = *in;
    struct txn_job *job;
    int timed_out;
    tr_err_t err;

    if ((err = get_head(in, flex, &h)) != TR_OK ||
        (err = tr_proto_get_string_v(in, flex, &group)) != TR_OK) {
        return err;
    }
    if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE, TR_ACL_TRANSACTIONAL_ID,
                              &h.id)) {
        kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (!tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP,
                                     &group)) {
        kerr = TR_KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (coordinator(req) == NULL) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->state != NULL) {
        job = job_result(req, &timed_out);
        if (job == NULL && !timed_out) {
            return TR_OK; /* parked again */
        }
        kerr = job != NULL ? job->kerr : TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (use_job(req)) {
        job = job_new(req, JOB_ADD_OFFSETS, &start);
        if (job != NULL) {
            job->id = h.id;
            job->group = group;
            job_rebase(job, tr_slice_cur(&start), &job->id);
            job_rebase(job, tr_slice_cur(&start), &job->group);
            job->pid = h.pid;
            job->epoch = h.epoch;
            if (job_start(req, job) && req->park_ms > 0) {
                return TR_OK;
            }
        }
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        kerr = tr_txn_add_offsets(coordinator(req), &h.id, h.pid, h.epoch,
                                  &group, req->now_ms);
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(req->out, fenced_for(kerr, v, 2));
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}

tr_err_t
tr_api_end_txn(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    int flex = v >= 3;
    struct txn_head h;
    int committed;
    int16_t kerr;
    struct tr_slice start = *in;
    struct txn_job *job;
    int timed_out;
    tr_err_t err;

    if ((err = get_head(in, flex, &h)) != TR_OK ||
        (err = tr_proto_get_bool(in, &committed)) != TR_OK) {
        return err;
    }
    if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE, TR_ACL_TRANSACTIONAL_ID,
                              &h.id)) {
        kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (coordinator(req) == NULL) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->state != NULL) {
        job = job_result(req, &timed_out);
        if (job == NULL && !timed_out) {
            return TR_OK; /* parked again */
        }
        kerr = job != NULL ? job->kerr : TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (use_job(req)) {
        job = job_new(req, JOB_END, &start);
        if (job != NULL) {
            job->id = h.id;
            job_rebase(job, tr_slice_cur(&start), &job->id);
            job->pid = h.pid;
            job->epoch = h.epoch;
            job->commit = committed;
            if (job_start(req, job) && req->park_ms > 0) {
                return TR_OK;
            }
        }
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        kerr = tr_txn_end(coordinator(req), &h.id, h.pid, h.epoch, committed,
                          req->now_ms);
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(req->out, fenced_for(kerr, v, 2));
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}

#ifdef HAVE_ZOOKEEPER
static int16_t
cluster_acked(void *arg, const char *topic, int32_t partition, int32_t epoch,
              int64_t last_offset)
{
    return tr_cluster_check_acked(arg, topic, partition, epoch, last_offset);
}
#endif

/*
 * One partition of WriteTxnMarkers: appends the control batch as its
 * leader and, in a cluster, waits for the ISR (acks=all), as Kafka does.
 */
static int16_t
write_marker(struct tr_broker *broker, const struct tr_str *name,
             int32_t partition, int64_t pid, int16_t epoch, int commit,
             int32_t coordinator_epoch)
{
    char topic[TR_TOPIC_NAME_MAX + 1];
    struct tr_partition *part;
    int32_t leader_epoch = -1;
    int64_t offset = -1;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    if (tr_str_copy(name, topic, sizeof(topic)) != TR_OK) {
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
#ifdef HAVE_ZOOKEEPER
    if (broker->cluster != NULL) {
        kerr = tr_cluster_check_produce(broker->cluster, topic, partition, 1,
                                        &leader_epoch);
        if (kerr != TR_KERR_NONE) {
            return kerr;
        }
    }
#endif
    part = tr_topics_partition(broker->topics, topic, partition);
    if (part == NULL) {
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    err = tr_partition_append_marker(part, pid, epoch, commit,
                                     coordinator_epoch, &offset);
    if (err == TR_ERR_FENCED) {
        kerr = TR_KERR_INVALID_PRODUCER_EPOCH;
    } else if (err == TR_ERR_STALE) {
        kerr = TR_KERR_TRANSACTION_COORDINATOR_FENCED;
    } else if (err != TR_OK) {
        kerr = tr_kerr_from(err);
    }
    if (kerr == TR_KERR_NONE && broker->groups != NULL &&
        strcmp(topic, TR_GROUPS_TOPIC) == 0 &&
        tr_groups_txn_complete(broker->groups, partition, pid, commit) !=
            TR_OK) {
        tr_log_error("offsets of producer %" PRId64 " in %s-%d not applied: "
                     "out of memory",
                     pid, topic, partition);
    }
#ifdef HAVE_ZOOKEEPER
    if (kerr == TR_KERR_NONE && broker->cluster != NULL) {
        tr_cluster_after_append(broker->cluster, part);
    }
#endif
    tr_partition_unref(part);
    if (broker->waits != NULL) {
        tr_waits_notify(broker->waits, topic, partition);
    }
#ifdef HAVE_ZOOKEEPER
    if (kerr == TR_KERR_NONE && broker->cluster != NULL) {
        kerr = tr_txn_wait_acked(cluster_acked, broker->cluster, topic,
                                 partition, leader_epoch, offset);
    }
#endif
    return kerr;
}

/* Skips a marker's topics array (read again to answer). */
static tr_err_t
skip_marker_topics(struct tr_slice *in, int flex)
{
    struct tr_str name;
    int32_t nt, np, t, k, partition;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, flex, &nt, 5, 100000)) != TR_OK) {
        return err;
    }
    for (t = 0; t < nt; t++) {
        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 4, 100000)) !=
                TR_OK) {
            return err;
        }
        for (k = 0; k < np; k++) {
            if ((err = tr_slice_get_i32(in, &partition)) != TR_OK) {
                return err;
            }
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

/* Decodes WriteTxnMarkers, writes each marker, encodes the answer. */
static tr_err_t
markers_respond(struct tr_broker *broker, struct tr_slice *in,
                struct tr_buf *out, int flex, int allowed)
{
    struct tr_slice topics_at;
    int32_t nm, m, nt, np, t, k, partition, coordinator_epoch;
    struct tr_str name;
    int64_t pid;
    int16_t epoch, kerr;
    int commit;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, flex, &nm, 19, 10000)) != TR_OK) {
        return err;
    }
    tr_proto_put_array_len_v(out, flex, nm);
    for (m = 0; m < nm; m++) {
        if ((err = tr_slice_get_i64(in, &pid)) != TR_OK ||
            (err = tr_slice_get_i16(in, &epoch)) != TR_OK ||
            (err = tr_proto_get_bool(in, &commit)) != TR_OK) {
            return err;
        }
        topics_at = *in;
        if ((err = skip_marker_topics(in, flex)) != TR_OK ||
            (err = tr_slice_get_i32(in, &coordinator_epoch)) != TR_OK ||
            (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
            return err;
        }
        tr_buf_put_i64(out, pid);
        (void)tr_proto_get_array_len_v(&topics_at, flex, &nt, 5, 100000);
        tr_proto_put_array_len_v(out, flex, nt);
        for (t = 0; t < nt; t++) {
            (void)tr_proto_get_string_v(&topics_at, flex, &name);
            (void)tr_proto_get_array_len_v(&topics_at, flex, &np, 4, 100000);
            tr_proto_put_string_v(out, flex, name.ptr, name.len);
            tr_proto_put_array_len_v(out, flex, np);
            for (k = 0; k < np; k++) {
                (void)tr_slice_get_i32(&topics_at, &partition);
                kerr = allowed ? write_marker(broker, &name, partition, pid,
                                              epoch, commit, coordinator_epoch)
                               : TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
                tr_buf_put_i32(out, partition);
                tr_buf_put_i16(out, kerr);
                tr_proto_put_tags_v(out, flex);
            }
            if (flex) {
                (void)tr_proto_skip_tags(&topics_at);
            }
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
    return TR_OK;
}

tr_err_t
tr_api_write_txn_markers(struct tr_request *req)
{
    int flex = req->hdr.api_version >= 1;
    int allowed = tr_api_authorize(req, TR_ACL_OP_CLUSTER_ACTION,
                                   TR_ACL_CLUSTER, TR_ACL_CLUSTER_NAME);
    struct txn_job *job;
    int timed_out;

    if (req->state == NULL && use_job(req)) {
        job = job_new(req, JOB_MARKERS, &req->body);
        if (job == NULL) {
            return TR_ERR_NOMEM;
        }
        job->flex = flex;
        job->allowed = allowed;
        if (job_start(req, job) && req->park_ms > 0) {
            return TR_OK;
        }
        return TR_ERR_NOMEM;
    }
    if (req->state == NULL) {
        return markers_respond(req->broker, &req->body, req->out, flex,
                               allowed);
    }
    job = job_result(req, &timed_out);
    if (job == NULL) {
        return timed_out ? TR_ERR_TIMEOUT : TR_OK;
    }
    if (job->kerr != TR_KERR_NONE) {
        return TR_ERR_CORRUPT;
    }
    tr_buf_put_bytes(req->out, tr_buf_data(&job->out), tr_buf_len(&job->out));
    return TR_OK;
}

static void
set_errors(struct tr_offset_commit *offs, size_t n, int16_t kerr)
{
    size_t k;

    for (k = 0; k < n; k++) {
        offs[k].error = kerr;
    }
}

/*
 * Commits the offsets of the topics the client may READ (Kafka commits
 * those and answers TOPIC_AUTHORIZATION_FAILED for the rest): the allowed
 * entries are gathered at the front of a copy, committed, and their
 * results copied back.
 */
static tr_err_t
commit_authorized_topics(struct tr_request *req, const struct tr_str *group,
                         const struct tr_str *member,
                         const struct tr_str *instance, int32_t generation,
                         int64_t pid, int16_t epoch,
                         struct tr_offset_commit *offs, size_t n)
{
    struct tr_offset_commit *allowed = NULL;
    size_t *from = NULL, k, m = 0;
    tr_err_t err = TR_OK;

    if (req->broker->acl == NULL) {
        return tr_groups_txn_commit(req->broker->groups, group, member,
                                    instance, generation, pid, epoch, offs,
                                    (int32_t)n, req->now_ms);
    }
    allowed = tr_calloc(n + 1, sizeof(*allowed));
    from = tr_calloc(n + 1, sizeof(*from));
    if (allowed == NULL || from == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (k = 0; k < n; k++) {
        if (tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_TOPIC,
                                 &offs[k].topic)) {
            allowed[m] = offs[k];
            from[m++] = k;
        } else {
            offs[k].error = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
        }
    }
    if (m > 0) {
        err = tr_groups_txn_commit(req->broker->groups, group, member, instance,
                                   generation, pid, epoch, allowed, (int32_t)m,
                                   req->now_ms);
        for (k = 0; err == TR_OK && k < m; k++) {
            offs[from[k]].error = allowed[k].error;
        }
    }
out:
    tr_free(allowed);
    tr_free(from);
    return err;
}

tr_err_t
tr_api_txn_offset_commit(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 3;
    struct tr_str txn_id, group, member = { "", 0 }, instance = { NULL, -1 };
    int64_t pid;
    int16_t epoch;
    int32_t generation = -1, ntopics, t, np, i;
    struct tr_offset_commit *offs = NULL;
    int32_t *topic_counts = NULL;
    struct tr_str *names = NULL;
    size_t n = 0, cap = 0, k;
    tr_err_t err;

    if ((err = tr_proto_get_string_v(in, flex, &txn_id)) != TR_OK ||
        (err = tr_proto_get_string_v(in, flex, &group)) != TR_OK ||
        (err = tr_slice_get_i64(in, &pid)) != TR_OK ||
        (err = tr_slice_get_i16(in, &epoch)) != TR_OK) {
        return err;
    }
    if (v >= 3 &&
        ((err = tr_slice_get_i32(in, &generation)) != TR_OK ||
         (err = tr_proto_get_string_v(in, flex, &member)) != TR_OK ||
         (err = tr_proto_get_string_v(in, flex, &instance)) != TR_OK)) {
        return err;
    }
    if ((err = tr_proto_get_array_len_v(in, flex, &ntopics, 4,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (ntopics < 0) {
        return TR_ERR_CORRUPT;
    }
    topic_counts = tr_calloc((size_t)ntopics + 1, sizeof(*topic_counts));
    names = tr_calloc((size_t)ntopics + 1, sizeof(*names));
    if (topic_counts == NULL || names == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 14,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            goto out;
        }
        if (np < 0 || name.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        names[t] = name;
        topic_counts[t] = np;
        for (i = 0; i < np; i++) {
            struct tr_offset_commit *oc;

            err = tr_array_reserve(&offs, &cap, n + 1, sizeof(*offs));
            if (err != TR_OK) {
                goto out;
            }
            oc = &offs[n];
            memset(oc, 0, sizeof(*oc));
            oc->topic = name;
            oc->leader_epoch = -1;
            if ((err = tr_slice_get_i32(in, &oc->partition)) != TR_OK ||
                (err = tr_slice_get_i64(in, &oc->offset)) != TR_OK ||
                (v >= 2 &&
                 (err = tr_slice_get_i32(in, &oc->leader_epoch)) != TR_OK) ||
                (err = tr_proto_get_string_v(in, flex, &oc->metadata)) !=
                    TR_OK ||
                (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
                goto out;
            }
            n++;
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            goto out;
        }
    }
    if (txn_id.len <= 0) {
        set_errors(offs, n, TR_KERR_INVALID_REQUEST);
    } else if (!tr_api_authorize_str(req, TR_ACL_OP_WRITE,
                                     TR_ACL_TRANSACTIONAL_ID, &txn_id)) {
        set_errors(offs, n, TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    } else if (!tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP,
                                     &group)) {
        set_errors(offs, n, TR_KERR_GROUP_AUTHORIZATION_FAILED);
    } else {
        err = commit_authorized_topics(req, &group, &member, &instance,
                                       generation, pid, epoch, offs, n);
        if (err != TR_OK) {
            goto out;
        }
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(out, flex, ntopics); /* Topics */
    for (t = 0, k = 0; t < ntopics; t++) {
        tr_proto_put_string_v(out, flex, names[t].ptr, names[t].len); /* Name */
        tr_proto_put_array_len_v(out, flex, topic_counts[t]);
        for (i = 0; i < topic_counts[t]; i++, k++) {
            int16_t kerr = offs[k].error;

            if (kerr == TR_KERR_COORDINATOR_LOAD_IN_PROGRESS && v < 2) {
                kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE; /* KAFKA-7296 */
            }
            tr_buf_put_i32(out, offs[k].partition); /* PartitionIndex */
            tr_buf_put_i16(out, kerr);              /* ErrorCode */
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
    err = TR_OK;
out:
    tr_free(offs);
    tr_free(topic_counts);
    tr_free(names);
    return err;
}

/* Encodes one TransactionState of DescribeTransactions. */
static void
put_description(struct tr_buf *out, int16_t kerr, const struct tr_str *id,
                const struct tr_txn_description *d)
{
    size_t i, j;
    int32_t ntopics = 0;

    tr_buf_put_i16(out, kerr);                       /* ErrorCode */
    tr_proto_put_string_v(out, 1, id->ptr, id->len); /* TransactionalId */
    tr_proto_put_cstring_v(out, 1, tr_txn_state_name(d->state));
    tr_buf_put_i32(out, d->timeout_ms);     /* TimeoutMs */
    tr_buf_put_i64(out, d->start_ms);       /* StartTimeMs */
    tr_buf_put_i64(out, d->producer_id);    /* ProducerId */
    tr_buf_put_i16(out, d->producer_epoch); /* ProducerEpoch */
    /* Topics: the partitions come sorted by topic; count the topics. */
    for (i = 0; i < d->npartitions; i++) {
        ntopics += i == 0 || strcmp(d->partitions[i].topic,
                                    d->partitions[i - 1].topic) != 0;
    }
    tr_proto_put_array_len_v(out, 1, ntopics);
    for (i = 0; i < d->npartitions; i = j) {
        const char *topic = d->partitions[i].topic;

        for (j = i;
             j < d->npartitions && strcmp(d->partitions[j].topic, topic) == 0;
             j++) {
        }
        tr_proto_put_cstring_v(out, 1, topic);
        tr_proto_put_array_len_v(out, 1, (int32_t)(j - i));
        for (; i < j; i++) {
            tr_buf_put_i32(out, d->partitions[i].partition);
        }
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
}

tr_err_t
tr_api_describe_transactions(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int32_t n, i;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, 1, &n, 1, TR_API_MAX_TOPICS)) !=
        TR_OK) {
        return err;
    }
    if (n < 0) {
        return TR_ERR_CORRUPT;
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(out, 1, n);
    for (i = 0; i < n; i++) {
        struct tr_txn_description d;
        struct tr_str id;
        int16_t kerr = TR_KERR_NONE;

        if ((err = tr_proto_get_string_v(in, 1, &id)) != TR_OK) {
            return err;
        }
        memset(&d, 0, sizeof(d));
        d.producer_id = -1;
        d.producer_epoch = -1;
        d.start_ms = -1;
        d.state = TR_TXN_DEAD;
        if (!tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE,
                                  TR_ACL_TRANSACTIONAL_ID, &id)) {
            kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        } else if (coordinator(req) == NULL) {
            kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            err = tr_txn_describe(coordinator(req), &id, &d);
            if (err == TR_ERR_NOT_FOUND) {
                kerr = TR_KERR_TRANSACTIONAL_ID_NOT_FOUND;
                d.producer_id = -1;
                d.producer_epoch = -1;
                d.start_ms = -1;
                d.state = TR_TXN_DEAD;
            } else if (err != TR_OK) {
                return err;
            }
        }
        put_description(out, kerr, &id, &d);
        tr_txn_description_cleanup(&d);
    }
    tr_proto_put_tags_v(out, 1);
    return TR_OK;
}

/* Whether 'state' passes ListTransactions' state filters. */
static int
state_wanted(const struct tr_str *filters, int32_t n, enum tr_txn_state state)
{
    const char *name = tr_txn_state_name(state);
    int32_t i;

    if (n <= 0) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (filters[i].len == (int32_t)strlen(name) &&
            memcmp(filters[i].ptr, name, (size_t)filters[i].len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
known_state(const struct tr_str *name)
{
    int s;

    for (s = TR_TXN_EMPTY; s <= TR_TXN_DEAD; s++) {
        if (state_wanted(name, 1, (enum tr_txn_state)s)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a transaction passes all of ListTransactions' filters. */
static int
list_wanted(const struct tr_txn_description *d, const struct tr_str *states,
            int32_t nstates, const int64_t *pids, int32_t npids,
            int64_t duration, int64_t now_ms)
{
    int32_t k;
    int pid_ok = npids <= 0;

    for (k = 0; k < npids; k++) {
        pid_ok |= pids[k] == d->producer_id;
    }
    return pid_ok && state_wanted(states, nstates, d->state) &&
           (duration < 0 ||
            (d->start_ms >= 0 && now_ms - d->start_ms >= duration));
}

tr_err_t
tr_api_list_transactions(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_str *states = NULL;
    int64_t *pids = NULL;
    int64_t duration = -1;
    struct tr_txn_description *list = NULL;
    size_t count = 0, i, nout = 0;
    int32_t nstates, npids, k, unknown = 0;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, 1, &nstates, 1,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    states = tr_calloc(nstates > 0 ? (size_t)nstates + 1 : 1, sizeof(*states));
    if (states == NULL) {
        return TR_ERR_NOMEM;
    }
    for (k = 0; k < nstates; k++) {
        if ((err = tr_proto_get_string_v(in, 1, &states[k])) != TR_OK) {
            goto out;
        }
    }
    if ((err = tr_proto_get_array_len_v(in, 1, &npids, 8, TR_API_MAX_TOPICS)) !=
        TR_OK) {
        goto out;
    }
    pids = tr_calloc(npids > 0 ? (size_t)npids + 1 : 1, sizeof(*pids));
    if (pids == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (k = 0; k < npids; k++) {
        if ((err = tr_slice_get_i64(in, &pids[k])) != TR_OK) {
            goto out;
        }
    }
    if (req->hdr.api_version >= 1 &&
        (err = tr_slice_get_i64(in, &duration)) != TR_OK) {
        goto out;
    }
    if (coordinator(req) == NULL) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if ((err = tr_txn_list(coordinator(req), &list, &count)) != TR_OK) {
        goto out;
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(out, kerr);
    /* UnknownStateFilters: names that are no state of ours. */
    for (k = 0; k < nstates; k++) {
        unknown += !known_state(&states[k]);
    }
    tr_proto_put_array_len_v(out, 1, unknown);
    for (k = 0; k < nstates; k++) {
        if (!known_state(&states[k])) {
            tr_proto_put_string_v(out, 1, states[k].ptr, states[k].len);
        }
    }
    for (i = 0; i < count; i++) {
        list[nout] = list[i];
        if (list_wanted(&list[i], states, nstates, pids, npids, duration,
                        req->now_ms) &&
            tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE,
                                   TR_ACL_TRANSACTIONAL_ID,
                                   list[i].transactional_id)) {
            nout++;
        } else {
            tr_txn_description_cleanup(&list[i]);
        }
    }
    count = nout;
    tr_proto_put_array_len_v(out, 1, (int32_t)nout); /* TransactionStates */
    for (i = 0; i < nout; i++) {
        tr_proto_put_cstring_v(out, 1, list[i].transactional_id);
        tr_buf_put_i64(out, list[i].producer_id);
        tr_proto_put_cstring_v(out, 1, tr_txn_state_name(list[i].state));
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
    err = TR_OK;
out:
    for (i = 0; list != NULL && i < count; i++) {
        tr_txn_description_cleanup(&list[i]);
    }
    tr_free(list);
    tr_free(states);
    tr_free(pids);
    return err;
}

/* One partition of DescribeProducers. */
static tr_err_t
describe_partition(struct tr_request *req, const char *topic, int32_t index)
{
    struct tr_buf *out = req->out;
    struct tr_partition_producer *prods = NULL;
    struct tr_partition *part = NULL;
    int16_t kerr = TR_KERR_NONE;
    size_t n = 0, i;
    tr_err_t err = TR_OK;

    if (!tr_api_authorize(req, TR_ACL_OP_READ, TR_ACL_TOPIC, topic)) {
        kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED; /* before any lookup */
    }
#ifdef HAVE_ZOOKEEPER
    if (kerr == TR_KERR_NONE && req->broker->cluster != NULL) {
        /* Only the leader answers, as in Kafka. */
        int32_t epoch;

        kerr = tr_cluster_check_produce(req->broker->cluster, topic, index, 0,
                                        &epoch);
    }
#endif
    if (kerr == TR_KERR_NONE) {
        part = tr_topics_partition(req->broker->topics, topic, index);
        if (part == NULL) {
            kerr = req->broker->cluster != NULL
                       ? TR_KERR_NOT_LEADER_OR_FOLLOWER
                       : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    if (part != NULL) {
        err = tr_partition_producers(part, &prods, &n);
        tr_partition_unref(part);
        if (err != TR_OK) {
            return err;
        }
    }
    tr_buf_put_i32(out, index);                   /* PartitionIndex */
    tr_buf_put_i16(out, kerr);                    /* ErrorCode */
    tr_proto_put_cstring_v(out, 1, NULL);         /* ErrorMessage */
    tr_proto_put_array_len_v(out, 1, (int32_t)n); /* ActiveProducers */
    for (i = 0; i < n; i++) {
        tr_buf_put_i64(out, prods[i].producer_id);
        tr_buf_put_i32(out, prods[i].epoch);
        tr_buf_put_i32(out, prods[i].last_seq);
        tr_buf_put_i64(out, -1); /* LastTimestamp: not kept */
        tr_buf_put_i32(out, prods[i].coordinator_epoch); /* CoordinatorEpoch */
        tr_buf_put_i64(out, prods[i].current_txn_start);
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
    tr_free(prods);
    return TR_OK;
}

tr_err_t
tr_api_describe_producers(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int32_t ntopics, t, np, p, index;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, 1, &ntopics, 2,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (ntopics < 0) {
        return TR_ERR_CORRUPT;
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(out, 1, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];

        if ((err = tr_proto_get_string_v(in, 1, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 1, &np, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        if (np < 0 || name.len < 0) {
            return TR_ERR_CORRUPT;
        }
        if (tr_str_copy(&name, topic, sizeof(topic)) != TR_OK) {
            topic[0] = '\0'; /* no such topic: every partition gets 3 */
        }
        tr_proto_put_string_v(out, 1, name.ptr, name.len); /* Name */
        tr_proto_put_array_len_v(out, 1, np);
        for (p = 0; p < np; p++) {
            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (err = describe_partition(req, topic, index)) != TR_OK) {
                return err;
            }
        }
        if ((err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
    return TR_OK;
}
