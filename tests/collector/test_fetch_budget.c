/*
 * test_fetch_budget -- Fetch's byte accounting (KIP-74): each partition's
 * limit is its own max bytes and what is left of the request's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

static void
test_fetch_budget_first_partition(void **state)
{
    (void)state;
    /* The request's limit applies to the first partition too. */
    assert_int_equal(tr_api_fetch_budget(1000, 5000, 0), 1000);
    assert_int_equal(tr_api_fetch_budget(5000, 1000, 0), 1000);
    /* No request limit: the partition's. */
    assert_int_equal(tr_api_fetch_budget(0, 1000, 0), 1000);
    assert_int_equal(tr_api_fetch_budget(-1, 1000, 0), 1000);
    /* A partition asking for nothing gets nothing (but a first batch). */
    assert_int_equal(tr_api_fetch_budget(1000, 0, 0), 0);
}

static void
test_fetch_budget_after_others(void **state)
{
    (void)state;
    assert_int_equal(tr_api_fetch_budget(1000, 5000, 400), 600);
    assert_int_equal(tr_api_fetch_budget(1000, 300, 400), 300);
    assert_int_equal(tr_api_fetch_budget(1000, 5000, 1000), 0);
    /* Past the limit (the first batch was larger): nothing more. */
    assert_int_equal(tr_api_fetch_budget(1000, 5000, 1900000), 0);
    assert_int_equal(tr_api_fetch_budget(0, 5000, 1900000), 5000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_budget_first_partition),
        cmocka_unit_test(test_fetch_budget_after_others),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
