/* Unit tests for tools/hdr.c: buckets, precision, percentiles, merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alloc.h"
#include "hdr.h"

static struct tr_hdr *
make(int64_t highest, int digits)
{
    struct tr_hdr *h = NULL;

    assert_int_equal(tr_hdr_new(highest, digits, &h), TR_OK);
    assert_non_null(h);
    return h;
}

static void
test_hdr_new_rejects_bad_arguments(void **state)
{
    struct tr_hdr *h = (struct tr_hdr *)1;

    (void)state;
    assert_int_equal(tr_hdr_new(1, 3, &h), TR_ERR_INVALID);
    assert_null(h);
    assert_int_equal(tr_hdr_new(1000, 0, &h), TR_ERR_INVALID);
    assert_int_equal(tr_hdr_new(1000, 6, &h), TR_ERR_INVALID);
    tr_hdr_free(NULL);
}

static void
test_hdr_empty_reports_zero(void **state)
{
    struct tr_hdr *h = make(3600000000LL, 3);

    (void)state;
    assert_int_equal(tr_hdr_count(h), 0);
    assert_int_equal(tr_hdr_min(h), 0);
    assert_int_equal(tr_hdr_max(h), 0);
    assert_int_equal(tr_hdr_percentile(h, 50), 0);
    assert_true(tr_hdr_mean(h) == 0.0);
    tr_hdr_free(h);
}

static void
test_hdr_small_values_are_exact(void **state)
{
    struct tr_hdr *h = make(3600000000LL, 3);
    int64_t v;

    (void)state;
    /* Below 2^11 = 2048 sub-buckets have width 1 at 3 digits. */
    for (v = 1; v <= 2000; v++) {
        tr_hdr_record(h, v);
        assert_int_equal(tr_hdr_equivalent_range(h, v), 1);
    }
    assert_int_equal(tr_hdr_count(h), 2000);
    assert_int_equal(tr_hdr_min(h), 1);
    assert_int_equal(tr_hdr_max(h), 2000);
    assert_int_equal(tr_hdr_percentile(h, 50), 1000);
    assert_int_equal(tr_hdr_percentile(h, 99), 1980);
    assert_int_equal(tr_hdr_percentile(h, 99.9), 1998);
    assert_int_equal(tr_hdr_percentile(h, 100), 2000);
    assert_int_equal(tr_hdr_percentile(h, 0), 1);
    assert_true(tr_hdr_mean(h) > 1000.49 && tr_hdr_mean(h) < 1000.51);
    tr_hdr_free(h);
}

static void
test_hdr_precision_holds_over_the_range(void **state)
{
    struct tr_hdr *h = make(3600000000LL, 3);
    int64_t v;

    (void)state;
    /* Each value's equivalence range is within 1/1000 of it. */
    for (v = 1; v < 3600000000LL; v = v * 3 + 7) {
        int64_t r = tr_hdr_equivalent_range(h, v);

        assert_true(r >= 1);
        assert_true(r * 1000 <= v || r == 1);
    }
    assert_int_equal(tr_hdr_equivalent_range(h, 2047), 1);
    assert_int_equal(tr_hdr_equivalent_range(h, 2048), 2);
    assert_int_equal(tr_hdr_equivalent_range(h, 4096), 4);
    assert_int_equal(tr_hdr_equivalent_range(h, 1 << 20), 1 << 10);
    tr_hdr_free(h);
}

static void
test_hdr_percentiles_of_a_uniform_million(void **state)
{
    struct tr_hdr *h = make(3600000000LL, 3);
    int64_t v, p50, p99, p999;

    (void)state;
    for (v = 1; v <= 1000000; v++) {
        tr_hdr_record(h, v);
    }
    p50 = tr_hdr_percentile(h, 50);
    p99 = tr_hdr_percentile(h, 99);
    p999 = tr_hdr_percentile(h, 99.9);
    /* Never below the true value, at most 0.1% above it. */
    assert_true(p50 >= 500000 && p50 <= 500500);
    assert_true(p99 >= 990000 && p99 <= 990990);
    assert_true(p999 >= 999000 && p999 <= 999999);
    assert_int_equal(tr_hdr_percentile(h, 100), 1000000);
    assert_int_equal(tr_hdr_max(h), 1000000);
    tr_hdr_free(h);
}

static void
test_hdr_outlier_sets_the_tail(void **state)
{
    struct tr_hdr *h = make(3600000000LL, 3);
    int i;

    (void)state;
    for (i = 0; i < 999; i++) {
        tr_hdr_record(h, 100);
    }
    tr_hdr_record(h, 123456789);
    assert_int_equal(tr_hdr_percentile(h, 50), 100);
    assert_int_equal(tr_hdr_percentile(h, 99.9), 100);
    /* The max is exact even where buckets are wide. */
    assert_int_equal(tr_hdr_percentile(h, 99.95), 123456789);
    assert_int_equal(tr_hdr_max(h), 123456789);
    tr_hdr_free(h);
}

static void
test_hdr_clamps_above_highest_and_below_one(void **state)
{
    struct tr_hdr *h = make(10000, 2);

    (void)state;
    tr_hdr_record(h, 50000);
    tr_hdr_record(h, 0);
    tr_hdr_record(h, -5);
    assert_int_equal(tr_hdr_count(h), 3);
    assert_int_equal(tr_hdr_clamped(h), 1);
    assert_int_equal(tr_hdr_max(h), 50000);
    assert_int_equal(tr_hdr_min(h), -5);
    /* Two values counted as 1; the lowest reported is the exact min. */
    assert_int_equal(tr_hdr_percentile(h, 50), 1);
    tr_hdr_free(h);
}

static void
test_hdr_record_n_and_reset(void **state)
{
    struct tr_hdr *h = make(1000000, 3);

    (void)state;
    tr_hdr_record_n(h, 10, 90);
    tr_hdr_record_n(h, 20, 10);
    tr_hdr_record_n(h, 30, 0);
    assert_int_equal(tr_hdr_count(h), 100);
    assert_int_equal(tr_hdr_percentile(h, 90), 10);
    assert_int_equal(tr_hdr_percentile(h, 91), 20);
    tr_hdr_reset(h);
    assert_int_equal(tr_hdr_count(h), 0);
    assert_int_equal(tr_hdr_percentile(h, 50), 0);
    tr_hdr_record(h, 7);
    assert_int_equal(tr_hdr_min(h), 7);
    assert_int_equal(tr_hdr_max(h), 7);
    tr_hdr_free(h);
}

static void
test_hdr_merge_adds_counts(void **state)
{
    struct tr_hdr *a = make(1000000, 3);
    struct tr_hdr *b = make(1000000, 3);
    struct tr_hdr *c = make(1000000, 2);
    int64_t v;

    (void)state;
    for (v = 1; v <= 500; v++) {
        tr_hdr_record(a, v);
    }
    for (v = 501; v <= 1000; v++) {
        tr_hdr_record(b, v);
    }
    assert_int_equal(tr_hdr_merge(a, b), TR_OK);
    assert_int_equal(tr_hdr_count(a), 1000);
    assert_int_equal(tr_hdr_min(a), 1);
    assert_int_equal(tr_hdr_max(a), 1000);
    assert_int_equal(tr_hdr_percentile(a, 50), 500);
    assert_int_equal(tr_hdr_merge(a, c), TR_ERR_INVALID);
    assert_int_equal(tr_hdr_count(a), 1000);
    tr_hdr_free(a);
    tr_hdr_free(b);
    tr_hdr_free(c);
}

static void
test_hdr_oom_loop(void **state)
{
    long n;

    (void)state;
    for (n = 0; n < 10; n++) {
        struct tr_hdr *h = NULL;
        tr_err_t err;

        tr_alloc_fail_after(n);
        err = tr_hdr_new(3600000000LL, 3, &h);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            assert_non_null(h);
            tr_hdr_free(h);
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_null(h);
    }
    assert_true(n >= 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_new_rejects_bad_arguments),
        cmocka_unit_test(test_hdr_empty_reports_zero),
        cmocka_unit_test(test_hdr_small_values_are_exact),
        cmocka_unit_test(test_hdr_precision_holds_over_the_range),
        cmocka_unit_test(test_hdr_percentiles_of_a_uniform_million),
        cmocka_unit_test(test_hdr_outlier_sets_the_tail),
        cmocka_unit_test(test_hdr_clamps_above_highest_and_below_one),
        cmocka_unit_test(test_hdr_record_n_and_reset),
        cmocka_unit_test(test_hdr_merge_adds_counts),
        cmocka_unit_test(test_hdr_oom_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
