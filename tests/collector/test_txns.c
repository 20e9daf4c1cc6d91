/*
 * test_txns -- the transactions of one partition: open transactions and
 * the first unstable offset, the aborted index (entries, their last stable
 * offset, the range a fetch reports and Kafka's stop rule), the cleaner's
 * question, pruning, and running out of memory. Also the marker batch
 * codec (common/batch) the partition writes and replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "txns.h"

static void
test_txns_open_and_first_unstable(void **state)
{
    struct tr_txns *t = tr_txns_new();
    int had;

    (void)state;
    assert_non_null(t);
    assert_int_equal(tr_txns_first_unstable(t), -1);
    assert_int_equal(tr_txns_begin(t, 7, 10), TR_OK);
    /* A later batch of the same transaction does not move its start. */
    assert_int_equal(tr_txns_begin(t, 7, 15), TR_OK);
    assert_int_equal(tr_txns_open_first(t, 7), 10);
    assert_int_equal(tr_txns_begin(t, 8, 12), TR_OK);
    assert_int_equal(tr_txns_first_unstable(t), 10);
    assert_int_equal(tr_txns_end(t, 7, 1, 20, &had), TR_OK);
    assert_int_equal(had, 1);
    assert_int_equal(tr_txns_open_first(t, 7), -1);
    assert_int_equal(tr_txns_first_unstable(t), 12);
    /* A commit leaves no aborted entry. */
    assert_int_equal(tr_txns_aborted_count(t), 0);
    /* A marker for a partition that was added but never written. */
    assert_int_equal(tr_txns_end(t, 9, 0, 21, &had), TR_OK);
    assert_int_equal(had, 0);
    assert_int_equal(tr_txns_aborted_count(t), 0);
    assert_int_equal(tr_txns_end(t, 8, 1, 22, NULL), TR_OK);
    assert_int_equal(tr_txns_first_unstable(t), -1);
    tr_txns_free(t);
}

static void
test_txns_abort_entry_last_stable(void **state)
{
    struct tr_txns *t = tr_txns_new();
    struct tr_aborted_txn *a;
    size_t n;

    (void)state;
    /* Producer 1 aborts while producer 2 still has [5, ...) open. */
    assert_int_equal(tr_txns_begin(t, 1, 3), TR_OK);
    assert_int_equal(tr_txns_begin(t, 2, 5), TR_OK);
    assert_int_equal(tr_txns_end(t, 1, 0, 8, NULL), TR_OK);
    /* Alone, producer 3 aborts [10, 12): its LSO is the marker + 1. */
    assert_int_equal(tr_txns_end(t, 2, 1, 9, NULL), TR_OK);
    assert_int_equal(tr_txns_begin(t, 3, 10), TR_OK);
    assert_int_equal(tr_txns_end(t, 3, 0, 12, NULL), TR_OK);
    assert_int_equal(tr_txns_aborted_count(t), 2);

    assert_int_equal(tr_txns_aborted(t, 0, 100, &a, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a[0].producer_id, 1);
    assert_int_equal(a[0].first_offset, 3);
    assert_int_equal(a[0].last_offset, 8);
    assert_int_equal(a[0].last_stable_offset, 5);
    assert_int_equal(a[1].producer_id, 3);
    assert_int_equal(a[1].first_offset, 10);
    assert_int_equal(a[1].last_offset, 12);
    assert_int_equal(a[1].last_stable_offset, 13);
    tr_free(a);

    /* A fetch from 9: the first transaction's marker is behind it. */
    assert_int_equal(tr_txns_aborted(t, 9, 100, &a, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].producer_id, 3);
    tr_free(a);
    /* A fetch of [0, 4): only data starting before 4 counts, and the scan
     * stops at the first entry whose LSO reaches 4. */
    assert_int_equal(tr_txns_aborted(t, 0, 4, &a, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].producer_id, 1);
    tr_free(a);
    /* Nothing past the last marker. */
    assert_int_equal(tr_txns_aborted(t, 13, 100, &a, &n), TR_OK);
    assert_int_equal(n, 0);
    assert_null(a);

    assert_true(tr_txns_is_aborted(t, 1, 3));
    assert_true(tr_txns_is_aborted(t, 1, 7));
    assert_false(tr_txns_is_aborted(t, 2, 5));
    assert_true(tr_txns_is_aborted(t, 3, 11));
    assert_false(tr_txns_is_aborted(t, 3, 13));

    tr_txns_prune(t, 9);
    assert_int_equal(tr_txns_aborted_count(t), 1);
    assert_false(tr_txns_is_aborted(t, 1, 3));
    tr_txns_clear(t);
    assert_int_equal(tr_txns_aborted_count(t), 0);
    tr_txns_free(t);
}

/* The cleaner took a marker out: its entry goes, the others stay. */
static void
test_txns_forget_aborted(void **state)
{
    struct tr_txns *t = tr_txns_new();
    int had;

    (void)state;
    for (int64_t pid = 1; pid <= 3; pid++) {
        assert_int_equal(tr_txns_begin(t, pid, pid * 10), TR_OK);
        assert_int_equal(tr_txns_end(t, pid, 0, pid * 10 + 5, &had), TR_OK);
    }
    assert_int_equal(tr_txns_aborted_count(t), 3);
    tr_txns_forget_aborted(t, 2, 99); /* no such marker */
    tr_txns_forget_aborted(t, 1, 25); /* another producer's marker */
    assert_int_equal(tr_txns_aborted_count(t), 3);
    tr_txns_forget_aborted(t, 2, 25);
    assert_int_equal(tr_txns_aborted_count(t), 2);
    assert_false(tr_txns_is_aborted(t, 2, 20));
    assert_true(tr_txns_is_aborted(t, 1, 10));
    assert_true(tr_txns_is_aborted(t, 3, 30));
    tr_txns_forget_aborted(t, 3, 35);
    tr_txns_forget_aborted(t, 1, 15);
    assert_int_equal(tr_txns_aborted_count(t), 0);
    tr_txns_free(t);
}

/*
 * A transaction stays unstable until its marker is below the high
 * watermark (replicated), commit or abort alike.
 */
static void
test_txns_stable_until(void **state)
{
    struct tr_txns *t = tr_txns_new();

    (void)state;
    assert_int_equal(tr_txns_stable_until(t, 100), -1);
    assert_int_equal(tr_txns_begin(t, 1, 10), TR_OK);
    assert_int_equal(tr_txns_begin(t, 2, 12), TR_OK);
    assert_int_equal(tr_txns_end(t, 1, 1, 20, NULL), TR_OK);
    assert_int_equal(tr_txns_end(t, 2, 0, 21, NULL), TR_OK);
    /* Both closed, no marker replicated: unstable from 10. */
    assert_int_equal(tr_txns_first_unstable(t), -1);
    assert_int_equal(tr_txns_stable_until(t, 15), 10);
    assert_int_equal(tr_txns_stable_until(t, 20), 10);
    /* The COMMIT at 20 is below the high watermark 21: from 12. */
    assert_int_equal(tr_txns_stable_until(t, 21), 12);
    assert_int_equal(tr_txns_stable_until(t, 22), -1);
    /* Forgotten once stable, and an open one still counts. */
    assert_int_equal(tr_txns_begin(t, 3, 30), TR_OK);
    assert_int_equal(tr_txns_stable_until(t, 15), 30);
    tr_txns_clear(t);
    assert_int_equal(tr_txns_stable_until(t, 0), -1);
    tr_txns_free(t);
}

static void
test_txns_open_list(void **state)
{
    struct tr_txns *t = tr_txns_new();
    struct tr_open_txn open[4];

    (void)state;
    assert_int_equal(tr_txns_begin(t, 4, 40), TR_OK);
    assert_int_equal(tr_txns_begin(t, 5, 50), TR_OK);
    assert_int_equal(tr_txns_open_list(t, open, 1), 2);
    assert_int_equal(tr_txns_open_list(t, open, 4), 2);
    assert_true((open[0].producer_id == 4 && open[1].first_offset == 50) ||
                (open[0].producer_id == 5 && open[1].first_offset == 40));
    tr_txns_free(t);
}

static void
test_txns_oom(void **state)
{
    struct tr_txns *t;
    struct tr_aborted_txn *a;
    size_t n;
    int i;

    (void)state;
    for (i = 0; i < 20; i++) {
        tr_alloc_fail_after(i);
        t = tr_txns_new();
        if (t == NULL) {
            tr_alloc_fail_after(-1);
            continue;
        }
        if (tr_txns_begin(t, 1, 0) != TR_OK) {
            assert_int_equal(tr_txns_first_unstable(t), -1);
        } else if (tr_txns_end(t, 1, 0, 3, NULL) != TR_OK) {
            /* The transaction stays open when its entry cannot be kept. */
            assert_int_equal(tr_txns_first_unstable(t), 0);
        } else if (tr_txns_aborted(t, 0, 10, &a, &n) == TR_OK) {
            assert_int_equal(n, 1);
            tr_free(a);
        }
        tr_alloc_fail_after(-1);
        tr_txns_free(t);
    }
}

static void
test_batch_marker_roundtrip(void **state)
{
    struct tr_buf out;
    struct tr_batch_header h;
    int commit = -1;
    int32_t coordinator_epoch = -1;

    (void)state;
    tr_buf_init(&out, 1024);
    assert_int_equal(tr_batch_build_marker(&out, 4242, 7, 1, 3, 1700000000000),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), TR_BATCH_MARKER_SIZE);
    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(h.Attributes,
                     TR_BATCH_ATTR_TRANSACTIONAL | TR_BATCH_ATTR_CONTROL);
    assert_int_equal(h.ProducerId, 4242);
    assert_int_equal(h.ProducerEpoch, 7);
    assert_int_equal(h.BaseSequence, -1);
    assert_int_equal(h.RecordsCount, 1);
    assert_int_equal(h.LastOffsetDelta, 0);
    assert_int_equal(tr_batch_marker_parse(tr_buf_data(&out), tr_buf_len(&out),
                                           &commit, &coordinator_epoch),
                     TR_OK);
    assert_int_equal(commit, 1);
    assert_int_equal(coordinator_epoch, 3);

    tr_buf_reset(&out);
    assert_int_equal(tr_batch_build_marker(&out, 1, 0, 0, 0, 0), TR_OK);
    assert_int_equal(tr_batch_marker_parse(tr_buf_data(&out), tr_buf_len(&out),
                                           &commit, &coordinator_epoch),
                     TR_OK);
    assert_int_equal(commit, 0);
    /* Key type 2 (a KRaft control record) is not a transaction marker. */
    tr_buf_data(&out)[TR_BATCH_HEADER_SIZE + 8] = 2;
    assert_int_not_equal(tr_batch_marker_parse(tr_buf_data(&out),
                                               tr_buf_len(&out), &commit,
                                               &coordinator_epoch),
                         TR_OK);
    tr_buf_cleanup(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txns_open_and_first_unstable),
        cmocka_unit_test(test_txns_abort_entry_last_stable),
        cmocka_unit_test(test_txns_open_list),
        cmocka_unit_test(test_txns_stable_until),
        cmocka_unit_test(test_txns_forget_aborted),
        cmocka_unit_test(test_txns_oom),
        cmocka_unit_test(test_batch_marker_roundtrip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
