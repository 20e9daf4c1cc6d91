/*
 * test_landing -- the exporter's file names, hour directories, and the
 * crash-recovery scan that decides where each partition resumes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "landing.h"

static void
test_name_roundtrip(void **state)
{
    char buf[256];
    int32_t part;
    int64_t first, last;

    (void)state;
    assert_int_equal(
        tr_landing_name(buf, sizeof(buf), "web.logs", 5, 100, 199, "jsonl.gz"),
        0);
    assert_string_equal(buf, "web.logs+5+100+199.jsonl.gz");
    assert_int_equal(tr_landing_parse(buf, "web.logs", &part, &first, &last),
                     0);
    assert_int_equal(part, 5);
    assert_int_equal(first, 100);
    assert_int_equal(last, 199);
    assert_int_equal(tr_landing_tmp_name(buf, sizeof(buf), "t", 2, 7), 0);
    assert_string_equal(buf, "_t+2+7.tmp");
    assert_int_equal(tr_landing_name(buf, 8, "web.logs", 5, 1, 2, "txt"), -1);
}

static void
test_parse_rejects_others(void **state)
{
    int32_t part;
    int64_t first, last;
    static const char *const bad[] = {
        "_t+1+0.tmp",                     /* temporary */
        "t+1+0+5",                        /* no extension */
        "t+1+9+5.txt",                    /* LAST < FIRST */
        "t+x+0+5.txt",                    /* partition not a number */
        "tt+1+0+5.txt",                   /* another topic */
        "t+1+0+5+6.txt",                  /* extra field */
        "t+1+0+.txt",                     /* empty LAST */
        "t+1+0+99999999999999999999.txt", /* overflow */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tr_landing_parse(bad[i], "t", &part, &first, &last),
                         -1);
    }
    assert_int_equal(tr_landing_parse("t+0+0+0.txt", "t", &part, &first, &last),
                     0);
}

static void
test_dir_by_hour_utc(void **state)
{
    char buf[256];

    (void)state;
    /* 2023-11-14T22:13:20Z */
    assert_int_equal(
        tr_landing_dir(buf, sizeof(buf), "/r", "t", 1700000000000LL), 0);
    assert_string_equal(buf, "/r/t/dt=2023-11-14/hr=22");
    /* One millisecond before midnight, then midnight. */
    assert_int_equal(
        tr_landing_dir(buf, sizeof(buf), "/r", "t", 1700006399999LL), 0);
    assert_string_equal(buf, "/r/t/dt=2023-11-14/hr=23");
    assert_int_equal(
        tr_landing_dir(buf, sizeof(buf), "/r", "t", 1700006400000LL), 0);
    assert_string_equal(buf, "/r/t/dt=2023-11-15/hr=00");
    /* Unset timestamps land in the first hour rather than failing. */
    assert_int_equal(tr_landing_dir(buf, sizeof(buf), "/r", "t", -1), 0);
    assert_string_equal(buf, "/r/t/dt=1970-01-01/hr=00");
    assert_int_equal(tr_landing_hour(7200000), 2);
    assert_int_equal(tr_landing_hour(7199999), 1);
}

static void
touch(const char *dir, const char *name)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int
exists(const char *dir, const char *name)
{
    char path[1024];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void
test_scan_resume_and_cleanup(void **state)
{
    char root[] = "/tmp/test_landing-XXXXXX";
    char h1[512], h2[512], cmd[600];
    int64_t last[4];
    size_t ntmp;

    (void)state;
    assert_non_null(mkdtemp(root));
    /* Nothing there yet: every partition starts fresh. */
    assert_int_equal(tr_landing_scan(root, "t", 4, last, 1, &ntmp), TR_OK);
    assert_int_equal(last[0], -1);
    assert_int_equal(ntmp, 0);

    snprintf(h1, sizeof(h1), "%s/t/dt=2024-01-01/hr=10", root);
    snprintf(h2, sizeof(h2), "%s/t/dt=2024-01-01/hr=11", root);
    assert_int_equal(tr_landing_mkdirs(h1), TR_OK);
    assert_int_equal(tr_landing_mkdirs(h2), TR_OK);
    touch(h1, "t+0+0+99.txt.gz");
    touch(h2, "t+0+100+149.txt.gz");
    touch(h1, "t+2+0+9.txt.gz");
    touch(h2, "_t+0+150.tmp"); /* a crash while writing */
    touch(h1, "_t+2+10.tmp");
    touch(h1, "u+1+0+500.txt.gz"); /* another topic's name: ignored */
    touch(h1, "t+9+0+5.txt.gz");   /* beyond the partition count */

    /* A look without cleanup (at assignment) leaves the temporaries. */
    assert_int_equal(tr_landing_scan(root, "t", 4, last, 0, &ntmp), TR_OK);
    assert_int_equal(ntmp, 2);
    assert_true(exists(h2, "_t+0+150.tmp"));

    assert_int_equal(tr_landing_scan(root, "t", 4, last, 1, &ntmp), TR_OK);
    assert_int_equal(ntmp, 2);
    assert_int_equal(last[0], 149); /* resume at 150 */
    assert_int_equal(last[1], -1);
    assert_int_equal(last[2], 9);
    assert_int_equal(last[3], -1);
    assert_false(exists(h2, "_t+0+150.tmp"));
    assert_false(exists(h1, "_t+2+10.tmp"));
    assert_true(exists(h1, "t+0+0+99.txt.gz"));

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_roundtrip),
        cmocka_unit_test(test_parse_rejects_others),
        cmocka_unit_test(test_dir_by_hour_utc),
        cmocka_unit_test(test_scan_resume_and_cleanup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
