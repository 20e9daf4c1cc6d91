/*
 * Tests for agent/registry.c: atomic write, reload, lookups, corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/registry.h"

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_registry.XXXXXX");
    return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static void
test_missing_is_empty(void **state)
{
    struct tr_registry *reg = NULL;
    char err[256];
    (void)state;
    assert_int_equal(tr_registry_load(dir, &reg, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_registry_count(reg), 0);
    assert_null(tr_registry_find(reg, 1, 2));
    tr_registry_free(reg);
}

static void
test_save_and_reload(void **state)
{
    struct tr_registry_entry e[300];
    struct tr_registry *reg = NULL;
    char err[256], sub[300], path[320];
    struct stat st;
    (void)state;

    snprintf(sub, sizeof(sub), "%s/state", dir); /* created by save */
    for (size_t i = 0; i < 300; i++) {
        e[i].dev = 2049;
        e[i].ino = 1000 + i;
        e[i].fp_len = (uint32_t)(i % 1025);
        e[i].fp_crc = 0xdeadbeefu - (uint32_t)i;
        e[i].offset = (uint64_t)i * 1234567891ULL;
        e[i].path = i == 7 ? "/var/log/with space.log" : "/var/log/a.log";
    }
    assert_int_equal(tr_registry_save(sub, e, 300, err, sizeof(err)), TR_OK);
    snprintf(path, sizeof(path), "%s/registry.tmp", sub);
    assert_int_not_equal(stat(path, &st), 0); /* renamed away */
    assert_int_equal(tr_registry_load(sub, &reg, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_registry_count(reg), 300);
    for (size_t i = 0; i < 300; i++) {
        const struct tr_registry_entry *r =
            tr_registry_find(reg, 2049, 1000 + i);
        assert_non_null(r);
        assert_int_equal(r->fp_len, e[i].fp_len);
        assert_int_equal(r->fp_crc, e[i].fp_crc);
        assert_int_equal(r->offset, e[i].offset);
        assert_string_equal(r->path, e[i].path);
    }
    assert_null(tr_registry_find(reg, 2050, 1000));
    tr_registry_free(reg);

    /* A second save replaces the first entirely. */
    assert_int_equal(tr_registry_save(sub, e, 1, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_registry_load(sub, &reg, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_registry_count(reg), 1);
    tr_registry_free(reg);
}

static void
test_stale_tmp_is_ignored(void **state)
{
    struct tr_registry_entry e = { 1, 2, 3, 4, 5, "/x" };
    struct tr_registry *reg = NULL;
    char err[256], path[320];
    (void)state;

    assert_int_equal(tr_registry_save(dir, &e, 1, err, sizeof(err)), TR_OK);
    /* A crash while writing the next one leaves a torn tmp file. */
    snprintf(path, sizeof(path), "%s/registry.tmp", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("1 2 3 4 99", f); /* torn: no path, no newline */
    fclose(f);
    assert_int_equal(tr_registry_load(dir, &reg, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_registry_find(reg, 1, 2)->offset, 5);
    tr_registry_free(reg);
}

static void
test_corrupt_names_line(void **state)
{
    struct tr_registry *reg = NULL;
    char err[256], path[320];
    (void)state;

    snprintf(path, sizeof(path), "%s/registry", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# tributary-agent registry v1\n1 2 3 4 5 /a\nbogus line\n", f);
    fclose(f);
    assert_int_equal(tr_registry_load(dir, &reg, err, sizeof(err)),
                     TR_ERR_CORRUPT);
    assert_non_null(strstr(err, "registry:3:"));
}

static void
test_unwritable_dir_fails(void **state)
{
    struct tr_registry_entry e = { 1, 2, 3, 4, 5, "/x" };
    char err[256];
    (void)state;
    assert_int_not_equal(
        tr_registry_save("/proc/no/such/dir", &e, 1, err, sizeof(err)), TR_OK);
    assert_non_null(strstr(err, "/proc/no/such/dir"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_tmp_is_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_names_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir_fails, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
