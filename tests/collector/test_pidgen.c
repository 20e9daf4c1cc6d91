/*
 * test_pidgen -- producer ids are unique across restarts and crashes: ids
 * handed out before a "crash" (no clean close) are never handed out again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pidgen.h"

static void
test_pidgen_unique_across_reopen(void **state)
{
    char dir[] = "/tmp/test_pidgen_XXXXXX", cmd[64], errbuf[256];
    struct tr_pidgen *gen;
    int64_t id, last = -1, first_after;
    int i;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(tr_pidgen_open(dir, &gen, errbuf, sizeof(errbuf)), TR_OK);
    for (i = 0; i < 2500; i++) {
        assert_int_equal(tr_pidgen_next(gen, &id), TR_OK);
        assert_true(id > last);
        last = id;
    }
    /* Dropped without any shutdown step, as after SIGKILL. */
    tr_pidgen_close(gen);
    assert_int_equal(tr_pidgen_open(dir, &gen, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(tr_pidgen_next(gen, &first_after), TR_OK);
    assert_true(first_after > last);
    tr_pidgen_close(gen);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pidgen_unique_across_reopen),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
