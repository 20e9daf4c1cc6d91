/*
 * test_txn_coordinator -- the transaction coordinator over real partitions
 * in a temporary log directory: the __transaction_state record codec, the
 * state machine (InitProducerId, AddPartitions, EndTxn, retries, the errors
 * Kafka gives), markers and the last stable offset of the data partitions,
 * fencing a zombie with an open transaction, the timeout abort, reloading
 * the state from the topic, and transactional-id expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "coordinator.h"
#include "err.h"
#include "groups.h"
#include "partition.h"
#include "pidgen.h"
#include "topics.h"

#define T0 1700000000000LL

struct fixture {
    char dir[64];
    struct tr_log_config defaults;
    struct tr_txn_config cfg;
    struct tr_topics *topics;
    struct tr_pidgen *pids;
    struct tr_txn_coordinator *tc;
};

static struct tr_str
S(const char *c) {
    struct tr_str s;

    s.ptr = c;
    s.len = c != NULL ? (int32_t)strlen(c) : -1;
    return s;
}

static void
open_coordinator(struct fixture *fx, int64_t now)
{
    char errbuf[512];

    assert_int_equal(tr_txn_open(fx->topics, NULL, NULL, fx->pids, 0, &fx->cfg,
                                 now, &fx->tc, errbuf, sizeof(errbuf)),
                     TR_OK);
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char errbuf[512];

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_txn_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    tr_log_config_defaults(&fx->defaults);
    tr_txn_config_defaults(&fx->cfg);
    fx->cfg.state_partitions = 3;
    fx->cfg.offsets_partitions = 3;
    if (tr_topics_open(fx->dir, &fx->defaults, &fx->topics, errbuf,
                       sizeof(errbuf)) != TR_OK ||
        tr_pidgen_open(fx->dir, &fx->pids, errbuf, sizeof(errbuf)) != TR_OK ||
        tr_topics_create(fx->topics, "data", 2, NULL, 0, errbuf,
                         sizeof(errbuf)) != TR_OK) {
        return -1;
    }
    open_coordinator(fx, T0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    tr_txn_close(fx->tc);
    tr_pidgen_close(fx->pids);
    tr_topics_close(fx->topics);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(fx);
    return 0;
}

/* Appends a transactional batch of 'n' records of (pid, epoch). */
static void
produce(struct fixture *fx, int32_t partition, int64_t pid, int16_t epoch,
        int32_t seq, int n)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 16);
    struct tr_partition *part =
        tr_topics_partition(fx->topics, "data", partition);
    struct tr_append_result res;
    struct tr_buf out;
    int i;

    tr_buf_init(&out, 1 << 16);
    tr_batch_builder_set_producer(b, pid, epoch, seq);
    tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL);
    for (i = 0; i < n; i++) {
        assert_int_equal(tr_batch_builder_add(b, T0, "k", 1, "v", 1, NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&out), tr_buf_len(&out), &res),
        TR_OK);
    tr_partition_unref(part);
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

static void
offsets(struct fixture *fx, int32_t partition, struct tr_partition_offsets *o)
{
    struct tr_partition *part =
        tr_topics_partition(fx->topics, "data", partition);

    tr_partition_offsets(part, o);
    tr_partition_unref(part);
}

static int16_t
add(struct fixture *fx, const char *id, int64_t pid, int16_t epoch,
    const char *topic, int32_t partition, int64_t now)
{
    struct tr_txn_partition tp;
    struct tr_str sid = S(id);

    tp.topic = S(topic);
    tp.partition = partition;
    tp.error = -2;
    tr_txn_add_partitions(fx->tc, &sid, pid, epoch, &tp, 1, now);
    return tp.error;
}

static enum tr_txn_state
state_of(struct fixture *fx, const char *id, int16_t *epoch)
{
    struct tr_txn_description d;
    struct tr_str sid = S(id);
    enum tr_txn_state s;

    if (tr_txn_describe(fx->tc, &sid, &d) != TR_OK) {
        return TR_TXN_DEAD;
    }
    s = d.state;
    if (epoch != NULL) {
        *epoch = d.producer_epoch;
    }
    tr_txn_description_cleanup(&d);
    return s;
}

static void
test_txn_record_codec(void **state)
{
    struct tr_txn_topic_partition parts[3] = { { "a", 0 },
                                               { "a", 2 },
                                               { "bb", 1 } };
    struct tr_txn_topic_partition *got = NULL;
    struct tr_txn_record rec, back;
    struct tr_str id = S("my-txn"), id_back;
    struct tr_buf out;
    size_t i;

    (void)state;
    tr_buf_init(&out, 4096);
    tr_txn_put_key(&out, &id);
    assert_int_equal(
        tr_txn_decode_key(tr_buf_data(&out), tr_buf_len(&out), &id_back),
        TR_OK);
    assert_int_equal(id_back.len, 6);
    assert_memory_equal(id_back.ptr, "my-txn", 6);

    memset(&rec, 0, sizeof(rec));
    rec.producer_id = 1234;
    rec.producer_epoch = 5;
    rec.timeout_ms = 60000;
    rec.state = TR_TXN_ONGOING;
    rec.update_ms = T0 + 1;
    rec.start_ms = T0;
    rec.npartitions = 3;
    rec.partitions = parts;
    tr_buf_reset(&out);
    tr_txn_put_value(&out, &rec);
    /* version 2 + 8 + 2 + 4 + 1 + count 4 + ("a": 2+1, 4 + 2*4) + ("bb":
     * 2+2, 4 + 4) + 8 + 8 */
    assert_int_equal(tr_buf_len(&out), 2 + 8 + 2 + 4 + 1 + 4 + 15 + 12 + 16);
    assert_int_equal(
        tr_txn_decode_value(tr_buf_data(&out), tr_buf_len(&out), &back, &got),
        TR_OK);
    assert_int_equal(back.producer_id, 1234);
    assert_int_equal(back.producer_epoch, 5);
    assert_int_equal(back.timeout_ms, 60000);
    assert_int_equal(back.state, TR_TXN_ONGOING);
    assert_int_equal(back.update_ms, T0 + 1);
    assert_int_equal(back.start_ms, T0);
    assert_int_equal(back.npartitions, 3);
    for (i = 0; i < 3; i++) {
        assert_string_equal(got[i].topic, parts[i].topic);
        assert_int_equal(got[i].partition, parts[i].partition);
        tr_free(got[i].topic);
    }
    tr_free(got);

    /* Empty: a null partition array. */
    rec.state = TR_TXN_EMPTY;
    rec.start_ms = -1;
    tr_buf_reset(&out);
    tr_txn_put_value(&out, &rec);
    assert_int_equal(tr_buf_len(&out), 2 + 8 + 2 + 4 + 1 + 4 + 16);
    assert_int_equal(
        tr_txn_decode_value(tr_buf_data(&out), tr_buf_len(&out), &back, &got),
        TR_OK);
    assert_int_equal(back.npartitions, 0);
    assert_null(got);
    /* A truncated value and an unknown version are refused. */
    assert_int_equal(tr_txn_decode_value(tr_buf_data(&out),
                                         tr_buf_len(&out) - 1, &back, &got),
                     TR_ERR_CORRUPT);
    tr_buf_data(&out)[1] = 1;
    assert_int_equal(
        tr_txn_decode_value(tr_buf_data(&out), tr_buf_len(&out), &back, &got),
        TR_ERR_UNSUPPORTED);
    tr_buf_cleanup(&out);
}

static void
test_txn_init_errors_and_bump(void **state)
{
    struct fixture *fx = *state;
    struct tr_str id = S("t1"), empty = S("");
    int64_t pid, pid2;
    int16_t epoch;

    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &empty, 1000, -1, -1, T0, &pid, &epoch),
        TR_KERR_INVALID_REQUEST);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 0, -1, -1, T0, &pid, &epoch),
        TR_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 900001, -1, -1, T0, &pid, &epoch),
        TR_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(pid, -1);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, 5, -1, T0, &pid, &epoch),
        TR_KERR_INVALID_REQUEST);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_true(pid >= 0);
    assert_int_equal(epoch, 0);
    assert_int_equal(state_of(fx, "t1", NULL), TR_TXN_EMPTY);
    /* A new instance bumps the epoch; the producer id stays. */
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, -1, -1, T0, &pid2, &epoch),
        TR_KERR_NONE);
    assert_int_equal(pid2, pid);
    assert_int_equal(epoch, 1);
    /* KIP-360: the caller's current pair bumps, the previous one is a
     * retry, an older one is fenced. */
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, pid, 1, T0, &pid2, &epoch),
        TR_KERR_NONE);
    assert_int_equal(epoch, 2);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, pid, 1, T0, &pid2, &epoch),
        TR_KERR_NONE);
    assert_int_equal(epoch, 2);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 1000, pid, 0, T0, &pid2, &epoch),
        TR_KERR_PRODUCER_FENCED);
}

static void
test_txn_commit_and_abort(void **state)
{
    struct fixture *fx = *state;
    struct tr_str id = S("t2");
    struct tr_partition_offsets o;
    struct tr_aborted_txn *a;
    struct tr_partition *part;
    int64_t pid;
    int16_t epoch;
    size_t n;

    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_int_equal(add(fx, "t2", pid, epoch, "nope", 0, T0),
                     TR_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(add(fx, "t2", pid, epoch, "data", 2, T0),
                     TR_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(add(fx, "t2", pid + 1, epoch, "data", 0, T0),
                     TR_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(add(fx, "t2", pid, (int16_t)(epoch + 1), "data", 0, T0),
                     TR_KERR_PRODUCER_FENCED);
    assert_int_equal(tr_txn_check_produce(fx->tc, &id, pid, epoch, "data", 0),
                     TR_KERR_INVALID_TXN_STATE);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0),
                     TR_KERR_INVALID_TXN_STATE);
    assert_int_equal(add(fx, "t2", pid, epoch, "data", 0, T0), TR_KERR_NONE);
    assert_int_equal(state_of(fx, "t2", NULL), TR_TXN_ONGOING);
    assert_int_equal(tr_txn_check_produce(fx->tc, &id, pid, epoch, "data", 0),
                     TR_KERR_NONE);
    assert_int_equal(tr_txn_check_produce(fx->tc, &id, pid, epoch, "data", 1),
                     TR_KERR_INVALID_TXN_STATE);
    produce(fx, 0, pid, epoch, 0, 3);
    offsets(fx, 0, &o);
    assert_int_equal(o.high_watermark, 3);
    assert_int_equal(o.last_stable, 0);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0), TR_KERR_NONE);
    assert_int_equal(state_of(fx, "t2", NULL), TR_TXN_COMPLETE_COMMIT);
    offsets(fx, 0, &o);
    assert_int_equal(o.high_watermark, 4); /* the marker */
    assert_int_equal(o.last_stable, 4);
    /* A retried commit is answered NONE; an abort now is refused. */
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0), TR_KERR_NONE);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 0, T0),
                     TR_KERR_INVALID_TXN_STATE);

    /* The next transaction aborts: an aborted-index entry appears. */
    assert_int_equal(add(fx, "t2", pid, epoch, "data", 0, T0), TR_KERR_NONE);
    produce(fx, 0, pid, epoch, 3, 2);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 0, T0), TR_KERR_NONE);
    assert_int_equal(state_of(fx, "t2", NULL), TR_TXN_COMPLETE_ABORT);
    part = tr_topics_partition(fx->topics, "data", 0);
    assert_int_equal(tr_partition_aborted_txns(part, 0, 100, &a, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].producer_id, pid);
    assert_int_equal(a[0].first_offset, 4);
    assert_int_equal(a[0].last_offset, 6);
    tr_free(a);
    tr_partition_unref(part);
}

static void
test_txn_fence_zombie_and_reload(void **state)
{
    struct fixture *fx = *state;
    struct tr_str id = S("t3");
    struct tr_partition_offsets o;
    int64_t pid, pid2;
    int16_t epoch, epoch2, e;

    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_int_equal(add(fx, "t3", pid, epoch, "data", 1, T0), TR_KERR_NONE);
    produce(fx, 1, pid, epoch, 0, 5);
    /* A new instance: the zombie's transaction is aborted with epoch + 1,
     * the new instance gets epoch + 2. */
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid2, &epoch2),
        TR_KERR_NONE);
    assert_int_equal(pid2, pid);
    assert_int_equal(epoch2, epoch + 2);
    offsets(fx, 1, &o);
    assert_int_equal(o.last_stable, o.high_watermark);
    assert_int_equal(tr_txn_check_produce(fx->tc, &id, pid, epoch, "data", 1),
                     TR_KERR_PRODUCER_FENCED);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0),
                     TR_KERR_PRODUCER_FENCED);
    /* The zombie's late write is refused by the partition too. */
    {
        struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 4096);
        struct tr_partition *part = tr_topics_partition(fx->topics, "data", 1);
        struct tr_append_result res;
        struct tr_buf out;

        tr_buf_init(&out, 4096);
        tr_batch_builder_set_producer(b, pid, epoch, 5);
        tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL);
        assert_int_equal(tr_batch_builder_add(b, T0, "k", 1, "v", 1, NULL, 0),
                         TR_OK);
        assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
        assert_int_equal(tr_partition_append(part, tr_buf_data(&out),
                                             tr_buf_len(&out), &res),
                         TR_ERR_FENCED);
        tr_partition_unref(part);
        tr_buf_cleanup(&out);
        tr_batch_builder_free(b);
    }
    /* An open transaction, then a restart of the coordinator. */
    assert_int_equal(add(fx, "t3", pid2, epoch2, "data", 0, T0), TR_KERR_NONE);
    tr_txn_close(fx->tc);
    open_coordinator(fx, T0 + 10);
    assert_int_equal(state_of(fx, "t3", &e), TR_TXN_ONGOING);
    assert_int_equal(e, epoch2);
    assert_int_equal(tr_txn_check_produce(fx->tc, &id, pid2, epoch2, "data", 0),
                     TR_KERR_NONE);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid2, epoch2, 1, T0 + 20),
                     TR_KERR_NONE);
}

static void
test_txn_timeout_and_expiry(void **state)
{
    struct fixture *fx = *state;
    struct tr_str id = S("t4");
    struct tr_partition_offsets o;
    int64_t pid;
    int16_t epoch, e;

    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 5000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_int_equal(add(fx, "t4", pid, epoch, "data", 0, T0), TR_KERR_NONE);
    produce(fx, 0, pid, epoch, 0, 2);
    offsets(fx, 0, &o);
    assert_true(o.last_stable < o.high_watermark);
    /* Not yet: the timeout counts from the transaction's start. */
    tr_txn_tick(fx->tc, T0 + fx->cfg.abort_interval_ms);
    assert_int_equal(state_of(fx, "t4", NULL), TR_TXN_COMPLETE_ABORT);
    assert_int_equal(state_of(fx, "t4", &e), TR_TXN_COMPLETE_ABORT);
    assert_int_equal(e, epoch + 1); /* fenced */
    offsets(fx, 0, &o);
    assert_int_equal(o.last_stable, o.high_watermark);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0),
                     TR_KERR_PRODUCER_FENCED);

    /* Idle past transactional.id.expiration.ms: removed with a tombstone. */
    tr_txn_tick(fx->tc, T0 + fx->cfg.id_expiration_ms + 1);
    tr_txn_tick(fx->tc,
                T0 + fx->cfg.id_expiration_ms + fx->cfg.remove_interval_ms + 1);
    assert_int_equal(state_of(fx, "t4", NULL), TR_TXN_DEAD);
    tr_txn_close(fx->tc);
    open_coordinator(fx, T0 + fx->cfg.id_expiration_ms * 2);
    assert_int_equal(state_of(fx, "t4", NULL), TR_TXN_DEAD);
}

/* Appends one batch of 'n' records "<prefix>-i" = 'value' to cmp-0. */
static void
produce_keys(struct fixture *fx, int64_t pid, int16_t epoch, int32_t seq,
             int transactional, const char *prefix, const char *value, int n)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 16);
    struct tr_partition *part = tr_topics_partition(fx->topics, "cmp", 0);
    struct tr_append_result res;
    struct tr_buf out;
    char key[16];
    int i;

    tr_buf_init(&out, 1 << 16);
    tr_batch_builder_set_producer(b, pid, epoch, seq);
    tr_batch_builder_set_flags(b,
                               transactional ? TR_BATCH_ATTR_TRANSACTIONAL : 0);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s-%d", prefix, i);
        assert_int_equal(tr_batch_builder_add(b, T0, key, (int32_t)strlen(key),
                                              value, (int32_t)strlen(value),
                                              NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&out), tr_buf_len(&out), &res),
        TR_OK);
    tr_partition_unref(part);
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

struct cmp_seen {
    int committed, aborted, markers;
};

static tr_err_t
count_batch(const uint8_t *batch, size_t len, const struct tr_batch_header *h,
            void *arg)
{
    struct cmp_seen *seen = arg;
    struct tr_batch_iter it;
    struct tr_record rec;

    if (h->Attributes & TR_BATCH_ATTR_CONTROL) {
        seen->markers++;
        return TR_OK;
    }
    assert_int_equal(tr_batch_iter_init(&it, batch, len, 1 << 20), TR_OK);
    while (tr_batch_iter_next(&it, &rec) == TR_OK) {
        if (rec.value_len == 9 && memcmp(rec.value, "committed", 9) == 0) {
            seen->committed++;
        } else if (rec.value_len == 7 && memcmp(rec.value, "aborted", 7) == 0) {
            seen->aborted++;
        }
    }
    tr_batch_iter_cleanup(&it);
    return TR_OK;
}

/*
 * Compaction: an aborted transaction's records go even though they are
 * the latest of their keys (the committed ones they would supersede stay),
 * and both markers stay.
 */
static void
test_txn_compaction(void **state)
{
    static const struct tr_config_entry configs[] = {
        { "cleanup.policy", "compact" },
        { "segment.bytes", "300" },
    };
    struct fixture *fx = *state;
    struct tr_str id = S("cmp-id");
    struct tr_clean_stats stats;
    struct tr_partition *part;
    struct cmp_seen seen = { 0, 0, 0 };
    char errbuf[256];
    int64_t pid;
    int16_t epoch;
    int i;

    assert_int_equal(tr_topics_create(fx->topics, "cmp", 1, configs, 2, errbuf,
                                      sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_int_equal(add(fx, "cmp-id", pid, epoch, "cmp", 0, T0), TR_KERR_NONE);
    produce_keys(fx, pid, epoch, 0, 1, "key", "committed", 3);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0), TR_KERR_NONE);
    assert_int_equal(add(fx, "cmp-id", pid, epoch, "cmp", 0, T0), TR_KERR_NONE);
    produce_keys(fx, pid, epoch, 3, 1, "key", "aborted", 3);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 0, T0), TR_KERR_NONE);
    /* Later segments, so that those above are closed and cleanable. */
    for (i = 0; i < 6; i++) {
        char prefix[16];

        snprintf(prefix, sizeof(prefix), "filler%d", i);
        produce_keys(fx, -1, -1, -1, 0, prefix, "filler", 1);
    }
    part = tr_topics_partition(fx->topics, "cmp", 0);
    assert_int_equal(tr_partition_clean(part, T0 + 1, 1 << 20, 1, &stats),
                     TR_OK);
    assert_true(stats.records_removed >= 3);
    assert_int_equal(
        tr_partition_foreach_batch(part, 0, 1 << 16, count_batch, &seen),
        TR_OK);
    tr_partition_unref(part);
    assert_int_equal(seen.committed, 3);
    assert_int_equal(seen.aborted, 0);
    assert_int_equal(seen.markers, 2);
}

/*
 * Allocation N fails during init, add and commit, for N = 0, 1, ...: no
 * crash, no leak, and the id always recovers: the next instance starts and
 * commits, and a reload agrees.
 */
/* ---- in a cluster: a stand-in for the cluster's answers --------------------
 */

struct fake_cluster {
    int32_t state_epoch[3]; /* of __transaction_state-N here, -1: not led */
    int16_t send_error;     /* what the remote leaders answer */
    int sends;
    int32_t last_coordinator_epoch;
    char last_topic[32];
    int32_t last_partition;
};

static int32_t
fake_partitions(void *arg, const char *topic)
{
    (void)arg;
    if (strcmp(topic, TR_TXN_TOPIC) == 0) {
        return 3;
    }
    return strcmp(topic, "data") == 0 ? 2 : -1;
}

static int16_t
fake_leader_epoch(void *arg, const char *topic, int32_t partition, int acks_all,
                  int32_t *epoch)
{
    struct fake_cluster *fc = arg;

    (void)acks_all;
    if (strcmp(topic, TR_TXN_TOPIC) == 0 && partition >= 0 && partition < 3 &&
        fc->state_epoch[partition] >= 0) {
        *epoch = fc->state_epoch[partition];
        return TR_KERR_NONE;
    }
    if (strcmp(topic, "data") == 0 && partition == 0) {
        *epoch = 0; /* data-0 is led here, data-1 elsewhere */
        return TR_KERR_NONE;
    }
    return TR_KERR_NOT_LEADER_OR_FOLLOWER;
}

static void
fake_appended(void *arg, struct tr_partition *part)
{
    (void)arg;
    (void)part;
}

static int16_t
fake_acked(void *arg, const char *topic, int32_t partition, int32_t epoch,
           int64_t last_offset)
{
    (void)arg;
    (void)topic;
    (void)partition;
    (void)epoch;
    (void)last_offset;
    return TR_KERR_NONE;
}

static void
fake_send_markers(void *arg, int64_t producer_id, int16_t epoch, int commit,
                  int32_t coordinator_epoch,
                  struct tr_txn_marker_target *targets, size_t n)
{
    struct fake_cluster *fc = arg;
    size_t i;

    (void)producer_id;
    (void)epoch;
    (void)commit;
    fc->sends++;
    fc->last_coordinator_epoch = coordinator_epoch;
    for (i = 0; i < n; i++) {
        snprintf(fc->last_topic, sizeof(fc->last_topic), "%s",
                 targets[i].topic);
        fc->last_partition = targets[i].partition;
        targets[i].error = fc->send_error;
    }
}

static void
test_txn_cluster_leadership(void **state)
{
    struct fixture *fx = *state;
    struct fake_cluster fc;
    struct tr_txn_cluster cl;
    struct tr_str id = S("clustered");
    struct tr_partition *part;
    struct tr_partition_producer *prods;
    size_t nprods;
    int64_t pid, pid2, offset;
    int16_t epoch, epoch2;
    int32_t p;
    char errbuf[512];

    memset(&fc, 0, sizeof(fc));
    fc.state_epoch[0] = fc.state_epoch[1] = fc.state_epoch[2] = -1;
    fc.send_error = TR_KERR_NOT_LEADER_OR_FOLLOWER;
    memset(&cl, 0, sizeof(cl));
    cl.arg = &fc;
    cl.partitions = fake_partitions;
    cl.leader_epoch = fake_leader_epoch;
    cl.appended = fake_appended;
    cl.acked = fake_acked;
    cl.send_markers = fake_send_markers;
    tr_txn_close(fx->tc);
    fx->cfg.cluster = &cl;
    assert_int_equal(tr_txn_open(fx->topics, NULL, NULL, fx->pids, 0, &fx->cfg,
                                 T0, &fx->tc, errbuf, sizeof(errbuf)),
                     TR_OK);
    p = tr_groups_partition_for(&id, 3);

    /* Not the leader of the id's partition: NOT_COORDINATOR. */
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NOT_COORDINATOR);
    /* Leading it at epoch 4: served, and 4 is the coordinator epoch. */
    fc.state_epoch[p] = 4;
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid, &epoch),
        TR_KERR_NONE);
    assert_int_equal(add(fx, "clustered", pid, epoch, "data", 0, T0),
                     TR_KERR_NONE);
    assert_int_equal(add(fx, "clustered", pid, epoch, "data", 1, T0),
                     TR_KERR_NONE);
    produce(fx, 0, pid, epoch, 0, 2);
    /* The remote leader of data-1 cannot be reached: EndTxn still answers
     * (PrepareCommit is written), and the tick sends the marker again. */
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0), TR_KERR_NONE);
    assert_int_equal(state_of(fx, "clustered", NULL), TR_TXN_PREPARE_COMMIT);
    assert_int_equal(fc.sends, 1);
    assert_int_equal(fc.last_coordinator_epoch, 4);
    assert_string_equal(fc.last_topic, "data");
    assert_int_equal(fc.last_partition, 1);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0),
                     TR_KERR_CONCURRENT_TRANSACTIONS);
    fc.send_error = TR_KERR_NONE;
    tr_txn_tick(fx->tc, T0 + 1);
    assert_int_equal(state_of(fx, "clustered", NULL), TR_TXN_COMPLETE_COMMIT);

    /* Leadership gone: the id is dropped and requests get NOT_COORDINATOR. */
    fc.state_epoch[p] = -1;
    tr_txn_tick(fx->tc, T0 + 2);
    assert_int_equal(state_of(fx, "clustered", NULL), TR_TXN_DEAD);
    assert_int_equal(tr_txn_end(fx->tc, &id, pid, epoch, 1, T0),
                     TR_KERR_NOT_COORDINATOR);
    /* Back at epoch 6: the state is replayed from the log. */
    fc.state_epoch[p] = 6;
    assert_int_equal(
        tr_txn_init_producer_id(fx->tc, &id, 60000, -1, -1, T0, &pid2, &epoch2),
        TR_KERR_NONE);
    assert_int_equal(pid2, pid);
    assert_int_equal(epoch2, epoch + 1);

    /* data-0 saw coordinator epoch 4: an older coordinator is fenced. */
    part = tr_topics_partition(fx->topics, "data", 0);
    assert_int_equal(
        tr_partition_append_marker(part, pid, epoch2, 0, 3, &offset),
        TR_ERR_STALE);
    assert_int_equal(
        tr_partition_append_marker(part, pid, epoch2, 0, 6, &offset), TR_OK);
    /* DescribeProducers reports it. */
    assert_int_equal(tr_partition_producers(part, &prods, &nprods), TR_OK);
    assert_int_equal(nprods, 1);
    assert_int_equal(prods[0].coordinator_epoch, 6);
    tr_free(prods);
    tr_partition_unref(part);
}

static void
test_txn_marker_retriable(void **state)
{
    (void)state;
    assert_false(tr_txn_marker_retriable(TR_KERR_NONE));
    assert_false(tr_txn_marker_retriable(TR_KERR_INVALID_PRODUCER_EPOCH));
    assert_false(
        tr_txn_marker_retriable(TR_KERR_TRANSACTION_COORDINATOR_FENCED));
    assert_false(
        tr_txn_marker_retriable(TR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT));
    assert_true(tr_txn_marker_retriable(TR_KERR_NOT_LEADER_OR_FOLLOWER));
    assert_true(tr_txn_marker_retriable(TR_KERR_UNKNOWN_TOPIC_OR_PARTITION));
    assert_true(tr_txn_marker_retriable(TR_KERR_NOT_ENOUGH_REPLICAS));
    assert_true(tr_txn_marker_retriable(TR_KERR_REQUEST_TIMED_OUT));
}

static void
test_txn_oom_loop(void **state)
{
    struct fixture *fx = *state;
    char id[32];
    int64_t pid;
    int16_t epoch, kerr;
    int i;

    for (i = 0; i < 80; i++) {
        struct tr_str sid;

        snprintf(id, sizeof(id), "oom-%d", i);
        sid = S(id);
        tr_alloc_fail_after(i);
        kerr = tr_txn_init_producer_id(fx->tc, &sid, 1000, -1, -1, T0, &pid,
                                       &epoch);
        if (kerr == TR_KERR_NONE &&
            add(fx, id, pid, epoch, "data", 0, T0) == TR_KERR_NONE) {
            (void)tr_txn_end(fx->tc, &sid, pid, epoch, 1, T0);
        }
        tr_alloc_fail_after(-1);
        assert_int_equal(tr_txn_init_producer_id(fx->tc, &sid, 1000, -1, -1, T0,
                                                 &pid, &epoch),
                         TR_KERR_NONE);
        assert_int_equal(add(fx, id, pid, epoch, "data", 1, T0), TR_KERR_NONE);
        assert_int_equal(tr_txn_end(fx->tc, &sid, pid, epoch, 1, T0),
                         TR_KERR_NONE);
        assert_int_equal(state_of(fx, id, NULL), TR_TXN_COMPLETE_COMMIT);
    }
    tr_txn_close(fx->tc);
    open_coordinator(fx, T0 + 1);
    for (i = 0; i < 80; i++) {
        snprintf(id, sizeof(id), "oom-%d", i);
        assert_int_equal(state_of(fx, id, NULL), TR_TXN_COMPLETE_COMMIT);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_record_codec),
        cmocka_unit_test_setup_teardown(test_txn_init_errors_and_bump, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txn_commit_and_abort, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txn_fence_zombie_and_reload, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txn_timeout_and_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txn_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_oom_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_cluster_leadership, setup,
                                        teardown),
        cmocka_unit_test(test_txn_marker_retriable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
