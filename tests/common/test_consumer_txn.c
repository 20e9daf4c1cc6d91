/*
 * test_consumer_txn -- the consumer's read_committed filter
 * (tr_consumer_txnf_*) on hand-made record sets: transactional data
 * batches of several producers, their COMMIT and ABORT markers, and the
 * aborted-transaction lists a Fetch answer carries. Also the CRC option
 * of the batch iterator and the consumer's property parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "buf.h"
#include "consumer.h"

/* A record set being built: batches appended with their offsets. */
struct rs {
    struct tr_buf b;
    int64_t next;
};

static void
rs_init(struct rs *r)
{
    tr_buf_init(&r->b, SIZE_MAX);
    r->next = 0;
}

/* Appends a batch of 'n' records of producer 'pid' (-1: not a transaction). */
static void
rs_data(struct rs *r, int64_t pid, int n)
{
    struct tr_batch_builder *bb = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    size_t at = tr_buf_len(&r->b);
    char v[32];
    int i;

    assert_non_null(bb);
    if (pid >= 0) {
        tr_batch_builder_set_producer(bb, pid, 0, 0);
        tr_batch_builder_set_flags(bb, TR_BATCH_ATTR_TRANSACTIONAL);
    }
    for (i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "p%lld-o%lld", (long long)pid,
                 (long long)(r->next + i));
        assert_int_equal(tr_batch_builder_add(bb, 1000, NULL, -1, v,
                                              (int32_t)strlen(v), NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(bb, &r->b), TR_OK);
    tr_batch_set_base_offset(tr_buf_data(&r->b) + at, r->next);
    r->next += n;
    tr_batch_builder_free(bb);
}

static void
rs_marker(struct rs *r, int64_t pid, int commit)
{
    size_t at = tr_buf_len(&r->b);

    assert_int_equal(tr_batch_build_marker(&r->b, pid, 0, commit, 0, 1000),
                     TR_OK);
    tr_batch_set_base_offset(tr_buf_data(&r->b) + at, r->next);
    r->next++;
}

/*
 * Runs the filter over the record set and writes the offsets of the
 * records it keeps into 'out'; returns how many.
 */
static size_t
kept_offsets(struct rs *r, const struct tr_consumer_aborted *a, size_t na,
             int64_t *out, size_t max)
{
    struct tr_consumer_txnf *f = NULL;
    struct tr_slice s;
    const uint8_t *batch;
    size_t len, n = 0;
    struct tr_batch_header h;
    struct tr_batch_iter it;
    struct tr_record rec;

    assert_int_equal(tr_consumer_txnf_new(a, na, &f), TR_OK);
    tr_slice_init(&s, tr_buf_data(&r->b), tr_buf_len(&r->b));
    while (tr_batch_next(&s, &batch, &len) == TR_OK) {
        assert_int_equal(tr_batch_header_parse(batch, len, &h), TR_OK);
        if (!tr_consumer_txnf_keep(f, batch, len, &h)) {
            continue;
        }
        assert_int_equal(tr_batch_iter_init(&it, batch, len, 1 << 20), TR_OK);
        while (tr_batch_iter_next(&it, &rec) == TR_OK) {
            assert_true(n < max);
            out[n++] = rec.offset;
        }
        tr_batch_iter_cleanup(&it);
    }
    tr_consumer_txnf_free(f);
    return n;
}

static void
assert_offsets(const int64_t *got, size_t n, const int64_t *want, size_t m)
{
    size_t i;

    assert_int_equal(n, m);
    for (i = 0; i < n; i++) {
        assert_int_equal(got[i], want[i]);
    }
}

/* Committed and aborted transactions interleaved with plain records. */
static void
test_txn_interleaved(void **state)
{
    struct rs r;
    int64_t got[64];
    size_t n;
    /* Producer 7 aborts (first offset 2), producer 9 commits. */
    const struct tr_consumer_aborted aborted[] = { { 7, 2 } };
    /*
     * 0-1 plain, 2-3 pid 7, 4-5 pid 9, 6 pid 7, 7 ABORT(7), 8 plain,
     * 9 COMMIT(9), 10 plain
     */
    const int64_t want[] = { 0, 1, 4, 5, 8, 10 };
    const int64_t want_all[] = { 0, 1, 2, 3, 4, 5, 6, 8, 10 };

    (void)state;
    rs_init(&r);
    rs_data(&r, -1, 2);
    rs_data(&r, 7, 2);
    rs_data(&r, 9, 2);
    rs_data(&r, 7, 1);
    rs_marker(&r, 7, 0);
    rs_data(&r, -1, 1);
    rs_marker(&r, 9, 1);
    rs_data(&r, -1, 1);
    n = kept_offsets(&r, aborted, 1, got, 64);
    assert_offsets(got, n, want, sizeof(want) / sizeof(want[0]));
    /* No aborted list (read_uncommitted): only the markers go. */
    n = kept_offsets(&r, NULL, 0, got, 64);
    assert_offsets(got, n, want_all, sizeof(want_all) / sizeof(want_all[0]));
    tr_buf_cleanup(&r.b);
}

/*
 * The same producer id aborts, then commits a later transaction: only the
 * first is dropped, because its ABORT marker ends it. Two aborted entries
 * given out of order are sorted.
 */
static void
test_txn_same_producer_twice(void **state)
{
    struct rs r;
    int64_t got[64];
    size_t n;
    const struct tr_consumer_aborted aborted[] = { { 5, 9 }, { 5, 0 } };
    /*
     * 0-2 pid 5, 3 ABORT(5), 4-5 pid 5, 6 COMMIT(5), 7-8 plain,
     * 9 pid 5, 10 ABORT(5), 11 plain
     */
    const int64_t want[] = { 4, 5, 7, 8, 11 };

    (void)state;
    rs_init(&r);
    rs_data(&r, 5, 3);
    rs_marker(&r, 5, 0);
    rs_data(&r, 5, 2);
    rs_marker(&r, 5, 1);
    rs_data(&r, -1, 2);
    rs_data(&r, 5, 1);
    rs_marker(&r, 5, 0);
    rs_data(&r, -1, 1);
    n = kept_offsets(&r, aborted, 2, got, 64);
    assert_offsets(got, n, want, sizeof(want) / sizeof(want[0]));
    tr_buf_cleanup(&r.b);
}

/*
 * An aborted transaction that started before the fetched range (its first
 * offset is below the first batch): its batches here are dropped too. An
 * entry for a producer with no batches here changes nothing.
 */
static void
test_txn_started_before_range(void **state)
{
    struct rs r;
    int64_t got[64];
    size_t n;
    const struct tr_consumer_aborted aborted[] = { { 3, 1 }, { 99, 12 } };
    const int64_t want[] = { 12, 13, 15 };

    (void)state;
    rs_init(&r);
    r.next = 10;
    rs_data(&r, 3, 2);   /* 10-11 */
    rs_data(&r, 4, 2);   /* 12-13, committed below */
    rs_marker(&r, 3, 0); /* 14 */
    rs_data(&r, -1, 1);  /* 15 */
    rs_marker(&r, 4, 1); /* 16 */
    n = kept_offsets(&r, aborted, 2, got, 64);
    assert_offsets(got, n, want, sizeof(want) / sizeof(want[0]));
    tr_buf_cleanup(&r.b);
}

/* check.crcs: a flipped byte passes without the check, fails with it. */
static void
test_iter_crc_flag(void **state)
{
    struct rs r;
    struct tr_batch_iter it;
    uint8_t *p;

    (void)state;
    rs_init(&r);
    rs_data(&r, -1, 3);
    p = tr_buf_data(&r.b);
    p[tr_buf_len(&r.b) - 1] ^= 0x01; /* inside the last value */
    assert_int_equal(
        tr_batch_iter_init_flags(&it, p, tr_buf_len(&r.b), 1 << 20, 0), TR_OK);
    tr_batch_iter_cleanup(&it);
    assert_int_equal(tr_batch_iter_init_flags(&it, p, tr_buf_len(&r.b), 1 << 20,
                                              TR_BATCH_ITER_CHECK_CRC),
                     TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);
    tr_buf_cleanup(&r.b);
}

static void
test_config_set(void **state)
{
    struct tr_consumer_config cfg;
    char err[128];

    (void)state;
    tr_consumer_config_defaults(&cfg);
    assert_int_equal(cfg.isolation_level, 1);
    assert_int_equal(cfg.check_crcs, 0);
    assert_int_equal(cfg.fetch_max_bytes, 52428800);
    assert_int_equal(cfg.partition_max_bytes, 1048576);
    assert_int_equal(tr_consumer_config_set(&cfg, "isolation.level",
                                            "read_uncommitted", err,
                                            sizeof(err)),
                     TR_OK);
    assert_int_equal(cfg.isolation_level, 0);
    assert_int_equal(tr_consumer_config_set(&cfg, "isolation.level", "dirty",
                                            err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(err, "read_committed"));
    assert_int_equal(
        tr_consumer_config_set(&cfg, "check.crcs", "true", err, sizeof(err)),
        TR_OK);
    assert_int_equal(cfg.check_crcs, 1);
    assert_int_equal(tr_consumer_config_set(&cfg, "fetch.max.bytes", "1000",
                                            err, sizeof(err)),
                     TR_OK);
    assert_int_equal(cfg.fetch_max_bytes, 1000);
    assert_int_equal(
        tr_consumer_config_set(&cfg, "fetch.max.bytes", "-1", err, sizeof(err)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_consumer_config_set(&cfg, "fetch.max.bytes", "9x", err, sizeof(err)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_consumer_config_set(&cfg, "sasl.username", "u", err, sizeof(err)),
        TR_ERR_NOT_FOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_interleaved),
        cmocka_unit_test(test_txn_same_producer_twice),
        cmocka_unit_test(test_txn_started_before_range),
        cmocka_unit_test(test_iter_crc_flag),
        cmocka_unit_test(test_config_set),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
