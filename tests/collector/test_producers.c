/*
 * test_producers -- idempotent-producer sequence rules: in order, the five
 * retained duplicates, gaps, fencing, epoch bumps, wraparound, checks
 * within one record set, table growth and running out of memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alloc.h"
#include "producers.h"

static struct tr_producer_batch
batch(int64_t pid, int16_t epoch, int32_t first, int32_t count, int64_t offset)
{
    struct tr_producer_batch b;

    b.producer_id = pid;
    b.epoch = epoch;
    b.first_seq = first;
    b.last_seq = tr_producers_last_seq(first, count - 1);
    b.first_offset = offset;
    b.last_offset = offset + count - 1;
    return b;
}

/* Checks 'b' alone and, if accepted, records it. */
static tr_err_t
append(struct tr_producers *ps, struct tr_producer_batch b,
       struct tr_producer_batch *orig)
{
    tr_err_t err = tr_producers_check(ps, &b, NULL, 0, orig);

    if (err == TR_OK) {
        assert_int_equal(tr_producers_update(ps, &b), TR_OK);
    }
    return err;
}

static void
test_producers_in_order_and_gaps(void **state)
{
    struct tr_producers *ps = tr_producers_new();
    struct tr_producer_batch orig;

    (void)state;
    assert_non_null(ps);
    /* Unknown producer: any first sequence is accepted. */
    assert_int_equal(append(ps, batch(7, 0, 0, 5, 0), &orig), TR_OK);
    assert_int_equal(append(ps, batch(7, 0, 5, 5, 5), &orig), TR_OK);
    assert_int_equal(append(ps, batch(7, 0, 10, 1, 10), &orig), TR_OK);
    /* A gap, and a sequence that goes back without being a duplicate. */
    assert_int_equal(append(ps, batch(7, 0, 12, 1, 11), &orig),
                     TR_ERR_SEQUENCE);
    assert_int_equal(append(ps, batch(7, 0, 4, 2, 11), &orig), TR_ERR_SEQUENCE);
    assert_int_equal(append(ps, batch(7, 0, 11, 1, 11), &orig), TR_OK);
    /* Unknown producers start anywhere. */
    assert_int_equal(append(ps, batch(8, 3, 1000, 1, 12), &orig), TR_OK);
    assert_int_equal(tr_producers_count(ps), 2);
    tr_producers_free(ps);
}

static void
test_producers_duplicates_of_last_five(void **state)
{
    struct tr_producers *ps = tr_producers_new();
    struct tr_producer_batch orig;
    int i;

    (void)state;
    for (i = 0; i < 7; i++) {
        assert_int_equal(append(ps, batch(1, 2, i * 2, 2, 100 + i * 10), &orig),
                         TR_OK);
    }
    /* Batches 2..6 are retained: each replay names its original offsets. */
    for (i = 2; i < 7; i++) {
        assert_int_equal(append(ps, batch(1, 2, i * 2, 2, 999), &orig),
                         TR_ERR_DUPLICATE);
        assert_int_equal(orig.first_offset, 100 + i * 10);
        assert_int_equal(orig.last_offset, 100 + i * 10 + 1);
    }
    /* Older ones are forgotten: out of order, not duplicates. */
    assert_int_equal(append(ps, batch(1, 2, 2, 2, 999), &orig),
                     TR_ERR_SEQUENCE);
    /* Same first sequence, different last: not a duplicate either. */
    assert_int_equal(append(ps, batch(1, 2, 12, 1, 999), &orig),
                     TR_ERR_SEQUENCE);
    tr_producers_free(ps);
}

static void
test_producers_epochs(void **state)
{
    struct tr_producers *ps = tr_producers_new();
    struct tr_producer_batch orig;

    (void)state;
    assert_int_equal(append(ps, batch(5, 3, 0, 3, 0), &orig), TR_OK);
    assert_int_equal(append(ps, batch(5, 2, 3, 1, 3), &orig), TR_ERR_FENCED);
    assert_int_equal(append(ps, batch(5, 2, 0, 3, 3), &orig), TR_ERR_FENCED);
    /* A newer epoch resets the producer, starting from sequence 0. */
    assert_int_equal(append(ps, batch(5, 4, 3, 1, 3), &orig), TR_ERR_SEQUENCE);
    assert_int_equal(append(ps, batch(5, 4, 0, 1, 3), &orig), TR_OK);
    /* The old epoch's batches are no longer duplicates. */
    assert_int_equal(append(ps, batch(5, 4, 0, 3, 9), &orig), TR_ERR_SEQUENCE);
    assert_int_equal(append(ps, batch(5, 3, 0, 3, 9), &orig), TR_ERR_FENCED);
    assert_int_equal(append(ps, batch(5, 4, 1, 1, 4), &orig), TR_OK);
    tr_producers_free(ps);
}

static void
test_producers_sequence_wraps(void **state)
{
    struct tr_producers *ps = tr_producers_new();
    struct tr_producer_batch orig;
    struct tr_producer_batch b;

    (void)state;
    assert_int_equal(tr_producers_last_seq(INT32_MAX, 0), INT32_MAX);
    assert_int_equal(tr_producers_last_seq(INT32_MAX, 1), 0);
    assert_int_equal(tr_producers_last_seq(INT32_MAX - 1, 4), 2);
    b = batch(9, 0, INT32_MAX - 1, 4, 0); /* MAX-1, MAX, 0, 1 */
    assert_int_equal(b.last_seq, 1);
    assert_int_equal(append(ps, b, &orig), TR_OK);
    assert_int_equal(append(ps, batch(9, 0, 2, 1, 4), &orig), TR_OK);
    assert_int_equal(append(ps, batch(9, 0, INT32_MAX - 1, 4, 7), &orig),
                     TR_ERR_DUPLICATE);
    assert_int_equal(orig.first_offset, 0);
    assert_int_equal(append(ps, batch(9, 0, INT32_MAX, 1, 7), &orig),
                     TR_ERR_SEQUENCE);
    /* Exactly at the edge: INT32_MAX is followed by 0. */
    assert_int_equal(append(ps, batch(10, 0, INT32_MAX, 1, 8), &orig), TR_OK);
    assert_int_equal(append(ps, batch(10, 0, 0, 1, 9), &orig), TR_OK);
    tr_producers_free(ps);
}

static void
test_producers_record_set_prev(void **state)
{
    struct tr_producers *ps = tr_producers_new();
    struct tr_producer_batch orig;
    struct tr_producer_batch prev[2];
    struct tr_producer_batch b;

    (void)state;
    assert_int_equal(append(ps, batch(1, 0, 0, 2, 0), &orig), TR_OK);
    /* The second batch of a set follows the first, not the stored state. */
    prev[0] = batch(1, 0, 2, 2, -1);
    prev[1] = batch(2, 0, 0, 1, -1);
    b = batch(1, 0, 4, 1, -1);
    assert_int_equal(tr_producers_check(ps, &b, prev, 2, &orig), TR_OK);
    b = batch(1, 0, 2, 2, -1);
    assert_int_equal(tr_producers_check(ps, &b, prev, 2, &orig),
                     TR_ERR_SEQUENCE);
    b = batch(2, 0, 2, 1, -1);
    assert_int_equal(tr_producers_check(ps, &b, prev, 2, &orig),
                     TR_ERR_SEQUENCE);
    b = batch(2, 1, 0, 1, -1);
    assert_int_equal(tr_producers_check(ps, &b, prev, 2, &orig), TR_OK);
    /* Nothing was recorded by the checks. */
    assert_int_equal(tr_producers_count(ps), 1);
    b = batch(1, 0, 2, 2, -1);
    assert_int_equal(tr_producers_check(ps, &b, NULL, 0, &orig), TR_OK);
    tr_producers_free(ps);
}

static void
test_producers_many_and_oom(void **state)
{
    struct tr_producers *ps;
    struct tr_producer_batch orig;
    struct tr_producer_batch b;
    tr_err_t err;
    long n;
    int64_t id;

    (void)state;
    ps = tr_producers_new();
    for (id = 0; id < 1000; id++) {
        assert_int_equal(append(ps, batch(id * 1000, 0, 0, 1, id), &orig),
                         TR_OK);
    }
    assert_int_equal(tr_producers_count(ps), 1000);
    for (id = 0; id < 1000; id++) {
        assert_int_equal(append(ps, batch(id * 1000, 0, 0, 1, 5), &orig),
                         TR_ERR_DUPLICATE);
        assert_int_equal(orig.first_offset, id);
    }
    tr_producers_free(ps);

    /* Creation and growth fail cleanly at every allocation. */
    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        ps = tr_producers_new();
        err = ps == NULL ? TR_ERR_NOMEM : TR_OK;
        for (id = 0; err == TR_OK && id < 40; id++) {
            b = batch(id, 0, 0, 1, id);
            err = tr_producers_reserve(ps, id);
            if (err == TR_OK) {
                err = tr_producers_update(ps, &b);
            }
        }
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            tr_producers_free(ps);
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        tr_producers_free(ps);
    }
    assert_true(n > 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producers_in_order_and_gaps),
        cmocka_unit_test(test_producers_duplicates_of_last_five),
        cmocka_unit_test(test_producers_epochs),
        cmocka_unit_test(test_producers_sequence_wraps),
        cmocka_unit_test(test_producers_record_set_prev),
        cmocka_unit_test(test_producers_many_and_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
