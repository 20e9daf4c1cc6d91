/*
 * test_laghist -- the console's lag history: samples come back oldest
 * first, the ring keeps the newest 'nsamples', a full table gives the slot
 * of the group sampled longest ago to a new group, a group not sampled for
 * a whole history's span is forgotten, and the OOM loop loses a sample
 * but never crashes or leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "alloc.h"
#include "laghist.h"

static void
test_ring(void **state)
{
    struct tr_laghist *h = tr_laghist_new(4, 8);
    struct tr_laghist_sample s[8];
    int i;

    (void)state;
    assert_non_null(h);
    assert_int_equal(tr_laghist_get(h, "g", s, 8), 0);
    for (i = 0; i < 6; i++) {
        assert_int_equal(tr_laghist_add(h, "g", 1000 * i, 10 * i, 1000), 0);
    }
    assert_int_equal(tr_laghist_get(h, "g", s, 8), 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(s[i].time_ms, 1000 * (i + 2));
        assert_int_equal(s[i].lag, 10 * (i + 2));
    }
    /* asking for fewer: the newest ones, still oldest first */
    assert_int_equal(tr_laghist_get(h, "g", s, 2), 2);
    assert_int_equal(s[0].time_ms, 4000);
    assert_int_equal(s[1].time_ms, 5000);
    assert_int_equal(tr_laghist_groups(h), 1);
    tr_laghist_free(h);
    assert_null(tr_laghist_new(0, 1));
    assert_null(tr_laghist_new(1, 0));
    tr_laghist_free(NULL);
}

static void
test_bounded_groups(void **state)
{
    struct tr_laghist *h = tr_laghist_new(2, 3);
    struct tr_laghist_sample s[2];
    char name[16];
    int i;

    (void)state;
    /* a, b, c sampled at 1, 2, 3; then d evicts a (the oldest) */
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "%c", 'a' + i);
        assert_int_equal(tr_laghist_add(h, name, i + 1, i, 1000), 0);
    }
    assert_int_equal(tr_laghist_groups(h), 3);
    assert_int_equal(tr_laghist_get(h, "a", s, 2), 0);
    assert_int_equal(tr_laghist_get(h, "d", s, 2), 1);
    /* 10 s later (2 samples x 1 s span) every old group is stale */
    assert_int_equal(tr_laghist_add(h, "e", 10000, 5, 1000), 0);
    assert_int_equal(tr_laghist_groups(h), 1);
    assert_int_equal(tr_laghist_get(h, "e", s, 2), 1);
    assert_int_equal(s[0].lag, 5);
    tr_laghist_free(h);
}

static void
test_oom(void **state)
{
    struct tr_laghist *h;
    struct tr_laghist_sample s[2];
    int n, ok = 0;

    (void)state;
    for (n = 0; n < 10 && !ok; n++) {
        tr_alloc_fail_after(n);
        h = tr_laghist_new(2, 2);
        if (h != NULL) {
            ok = tr_laghist_add(h, "g", 1, 1, 1000) == 0;
            tr_alloc_fail_after(-1);
            assert_int_equal(tr_laghist_get(h, "g", s, 2), ok ? 1 : 0);
            tr_laghist_free(h);
        }
        tr_alloc_fail_after(-1);
    }
    assert_true(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_bounded_groups),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
