/*
 * test_plimits -- per-principal limits on created names: charges up to
 * the limit, refusals beyond it, names already known cost nothing, and a
 * released name frees its creator's slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plimits.h"

static void
test_limits(void **state)
{
    struct tr_limits *l = tr_limits_new(2, INT32_MAX);

    (void)state;
    assert_non_null(l);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:a", "t1"),
                     TR_LIMIT_TAKEN);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:a", "t1"),
                     TR_LIMIT_KNOWN);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:a", "t2"),
                     TR_LIMIT_TAKEN);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:a", "t3"),
                     TR_LIMIT_REFUSED);
    /* Another principal has its own count; a name is charged once. */
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:b", "t2"),
                     TR_LIMIT_KNOWN);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:b", "t3"),
                     TR_LIMIT_TAKEN);
    assert_int_equal(tr_limits_count(l, TR_LIMIT_TOPICS, "User:a"), 2);
    tr_limits_release(l, TR_LIMIT_TOPICS, "t1");
    tr_limits_release(l, TR_LIMIT_TOPICS, "nope");
    assert_int_equal(tr_limits_count(l, TR_LIMIT_TOPICS, "User:a"), 1);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_TOPICS, "User:a", "t4"),
                     TR_LIMIT_TAKEN);
    /* Groups are unlimited here: nothing tracked. */
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_GROUPS, "User:a", "g"),
                     TR_LIMIT_KNOWN);
    assert_int_equal(tr_limits_count(l, TR_LIMIT_GROUPS, "User:a"), 0);
    tr_limits_free(l);

    l = tr_limits_new(INT32_MAX, 0);
    assert_int_equal(tr_limits_acquire(l, TR_LIMIT_GROUPS, "User:a", "g"),
                     TR_LIMIT_REFUSED);
    tr_limits_free(l);
    /* No tracker allows everything. */
    assert_int_equal(tr_limits_acquire(NULL, TR_LIMIT_GROUPS, "User:a", "g"),
                     TR_LIMIT_KNOWN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
