/*
 * Tests for agent/watch.c: glob and exclude matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/watch.h"

static void
test_glob_star_stops_at_slash(void **state)
{
    (void)state;
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log*", "/var/log/app/app.log"),
        1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log*", "/var/log/app/app.log.1"),
        1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/*.log", "/var/log/app/sub/x.log"), 0);
    assert_int_equal(
        tr_watch_glob_match("/var/log/*/x.log", "/var/log/a/x.log"), 1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log", "/var/log/app/app.log.1"),
        0);
    assert_int_equal(tr_watch_glob_match("/l/app-[0-9].log", "/l/app-7.log"),
                     1);
    assert_int_equal(tr_watch_glob_match("/l/app-?.log", "/l/app-77.log"), 0);
}

static void
test_exclude_base_name_and_path(void **state)
{
    char *ex[] = { "*.gz", "/var/log/app/secret*" };
    (void)state;
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/app.log.2.gz"), 1);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/app.log.1"), 0);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/secret.log"), 1);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/other/secret.log"), 0);
    /* A base-name glob never matches the directory part. */
    char *dirs[] = { "app*" };
    assert_int_equal(tr_watch_excluded(dirs, 1, "/var/log/app/x.log"), 0);
    assert_int_equal(tr_watch_excluded(NULL, 0, "/x"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_star_stops_at_slash),
        cmocka_unit_test(test_exclude_base_name_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
