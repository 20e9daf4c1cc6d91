/*
 * test_index -- offset and time indexes: append, floor lookup, full,
 * truncation, trimming, and the consistency check that triggers rebuilds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "index.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/tr-test-index-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/00000000000000000100.index", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    char path[512];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static off_t
file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void
test_index_offset_append_lookup(void **state)
{
    struct fixture *f = *state;
    struct tr_index *idx;
    struct tr_index_entry e;

    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 80, &idx),
                     TR_OK);
    assert_int_equal(tr_index_capacity(idx), 10);
    assert_int_equal(file_size(f->path), 80); /* preallocated */
    assert_int_equal(tr_index_last(idx, &e), TR_ERR_NOT_FOUND);

    /* Empty: the floor is the segment start. */
    tr_index_lookup(idx, 150, &e);
    assert_int_equal(e.offset, 100);
    assert_int_equal(e.value, 0);

    assert_int_equal(tr_index_append_offset(idx, 100, 0), TR_OK);
    assert_int_equal(tr_index_append_offset(idx, 105, 50), TR_OK);
    assert_int_equal(tr_index_append_offset(idx, 110, 200), TR_OK);
    assert_int_equal(tr_index_entries(idx), 3);

    tr_index_lookup(idx, 99, &e);
    assert_int_equal(e.offset, 100);
    assert_int_equal(e.value, 0);
    tr_index_lookup(idx, 104, &e);
    assert_int_equal(e.offset, 100);
    tr_index_lookup(idx, 105, &e);
    assert_int_equal(e.offset, 105);
    assert_int_equal(e.value, 50);
    tr_index_lookup(idx, 109, &e);
    assert_int_equal(e.offset, 105);
    tr_index_lookup(idx, 1000000, &e);
    assert_int_equal(e.offset, 110);
    assert_int_equal(e.value, 200);

    /* Offsets and positions must both increase and fit in int32. */
    assert_int_equal(tr_index_append_offset(idx, 110, 300), TR_ERR_INVALID);
    assert_int_equal(tr_index_append_offset(idx, 111, 200), TR_ERR_INVALID);
    assert_int_equal(tr_index_append_offset(idx, 99, 400), TR_ERR_INVALID);
    assert_int_equal(
        tr_index_append_offset(idx, 100 + (int64_t)INT32_MAX + 1, 400),
        TR_ERR_INVALID);
    assert_int_equal(tr_index_entries(idx), 3);
    assert_int_equal(tr_index_check(idx, 201), TR_OK);
    /* An entry pointing at or past the log's end is corrupt. */
    assert_int_equal(tr_index_check(idx, 200), TR_ERR_CORRUPT);
    tr_index_close(idx);
}

static void
test_index_full_truncate_trim_reopen(void **state)
{
    struct fixture *f = *state;
    struct tr_index *idx;
    struct tr_index_entry e;
    int i;

    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 40, &idx),
                     TR_OK);
    for (i = 0; i < 5; i++) {
        assert_int_equal(tr_index_full(idx), 0);
        assert_int_equal(tr_index_append_offset(idx, 100 + i * 10, i * 100),
                         TR_OK);
    }
    assert_int_equal(tr_index_full(idx), 1);
    assert_int_equal(tr_index_append_offset(idx, 200, 1000), TR_ERR_TOO_LARGE);

    /* Truncation drops entries at or after the offset. */
    tr_index_truncate_to(idx, 125);
    assert_int_equal(tr_index_entries(idx), 3);
    assert_int_equal(tr_index_last(idx, &e), TR_OK);
    assert_int_equal(e.offset, 120);
    assert_int_equal(e.value, 200);
    tr_index_truncate_to(idx, 120);
    assert_int_equal(tr_index_entries(idx), 2);

    /* Trimming leaves the file at exactly the used entries. */
    assert_int_equal(tr_index_resize(idx, 0), TR_OK);
    assert_int_equal(file_size(f->path), 16);
    assert_int_equal(tr_index_full(idx), 1);
    assert_int_equal(tr_index_sync(idx), TR_OK);
    tr_index_close(idx);

    /* Reopened sealed: the same two entries, valid. */
    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 0, &idx),
                     TR_OK);
    assert_int_equal(tr_index_entries(idx), 2);
    assert_int_equal(tr_index_check(idx, 1000), TR_OK);
    tr_index_lookup(idx, 115, &e);
    assert_int_equal(e.offset, 110);
    assert_int_equal(e.value, 100);
    /* Reopened for appends: room again, entries kept. */
    assert_int_equal(tr_index_resize(idx, 80), TR_OK);
    assert_int_equal(tr_index_entries(idx), 2);
    assert_int_equal(tr_index_append_offset(idx, 130, 500), TR_OK);
    tr_index_reset(idx);
    assert_int_equal(tr_index_entries(idx), 0);
    tr_index_close(idx);
}

static void
test_index_check_rejects_damage(void **state)
{
    struct fixture *f = *state;
    struct tr_index *idx;
    uint8_t raw[16];
    int fd;

    /* Left preallocated by a crash: trailing zero entries are out of order. */
    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 80, &idx),
                     TR_OK);
    assert_int_equal(tr_index_append_offset(idx, 100, 0), TR_OK);
    assert_int_equal(tr_index_append_offset(idx, 101, 70), TR_OK);
    tr_index_close(idx);
    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 0, &idx),
                     TR_OK);
    assert_int_equal(tr_index_entries(idx), 10);
    assert_int_equal(tr_index_check(idx, 1000), TR_ERR_CORRUPT);
    tr_index_close(idx);

    /* A length that is not a whole number of entries. */
    fd = open(f->path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    tr_store_i32(raw, 0);
    tr_store_i32(raw + 4, 0);
    assert_int_equal(write(fd, raw, 13), 13);
    close(fd);
    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 0, &idx),
                     TR_OK);
    assert_int_equal(tr_index_check(idx, 1000), TR_ERR_CORRUPT);
    tr_index_reset(idx);
    assert_int_equal(tr_index_check(idx, 1000), TR_OK);
    tr_index_close(idx);

    /* Positions going backwards. */
    fd = open(f->path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    tr_store_i32(raw, 0);
    tr_store_i32(raw + 4, 100);
    tr_store_i32(raw + 8, 5);
    tr_store_i32(raw + 12, 50);
    assert_int_equal(write(fd, raw, 16), 16);
    close(fd);
    assert_int_equal(tr_index_open(f->path, TR_INDEX_OFFSET, 100, 0, &idx),
                     TR_OK);
    assert_int_equal(tr_index_entries(idx), 2);
    assert_int_equal(tr_index_check(idx, 1000), TR_ERR_CORRUPT);
    tr_index_close(idx);
}

static void
test_index_time(void **state)
{
    struct fixture *f = *state;
    struct tr_index *idx;
    struct tr_index_entry e;

    assert_int_equal(tr_index_open(f->path, TR_INDEX_TIME, 100, 120, &idx),
                     TR_OK);
    assert_int_equal(tr_index_capacity(idx), 10);
    tr_index_lookup(idx, 5000, &e);
    assert_int_equal(e.offset, 100);
    assert_int_equal(e.value, -1);

    assert_int_equal(tr_index_append_time(idx, 1000, 100), TR_OK);
    /* Not above the last timestamp: nothing added. */
    assert_int_equal(tr_index_append_time(idx, 1000, 101), TR_OK);
    assert_int_equal(tr_index_append_time(idx, 900, 102), TR_OK);
    assert_int_equal(tr_index_entries(idx), 1);
    assert_int_equal(tr_index_append_time(idx, 2000, 103), TR_OK);
    assert_int_equal(tr_index_append_time(idx, 3000, 110), TR_OK);
    /* Offsets may not go back. */
    assert_int_equal(tr_index_append_time(idx, 4000, 104), TR_ERR_INVALID);
    assert_int_equal(tr_index_entries(idx), 3);

    tr_index_lookup(idx, 999, &e);
    assert_int_equal(e.offset, 100);
    assert_int_equal(e.value, -1);
    tr_index_lookup(idx, 1000, &e);
    assert_int_equal(e.offset, 100);
    assert_int_equal(e.value, 1000);
    tr_index_lookup(idx, 2500, &e);
    assert_int_equal(e.offset, 103);
    assert_int_equal(e.value, 2000);
    tr_index_lookup(idx, 9999, &e);
    assert_int_equal(e.offset, 110);
    assert_int_equal(e.value, 3000);
    assert_int_equal(tr_index_check(idx, 0), TR_OK);

    tr_index_truncate_to(idx, 104);
    assert_int_equal(tr_index_entries(idx), 2);
    assert_int_equal(tr_index_resize(idx, 0), TR_OK);
    assert_int_equal(file_size(f->path), 24);
    tr_index_close(idx);

    /* Reopened: the crash-style check works for time indexes too. */
    assert_int_equal(tr_index_open(f->path, TR_INDEX_TIME, 100, 120, &idx),
                     TR_OK);
    assert_int_equal(tr_index_entries(idx), 2);
    assert_int_equal(tr_index_check(idx, 0), TR_OK);
    tr_index_close(idx);
    assert_int_equal(tr_index_open(f->path, TR_INDEX_TIME, 100, 0, &idx),
                     TR_OK);
    assert_int_equal(tr_index_entries(idx), 10);
    assert_int_equal(tr_index_check(idx, 0), TR_ERR_CORRUPT);
    tr_index_close(idx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_index_offset_append_lookup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_full_truncate_trim_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_check_rejects_damage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_time, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
