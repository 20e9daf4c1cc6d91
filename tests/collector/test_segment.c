/*
 * test_segment -- one segment: append and read back byte for byte, the
 * read-range rules (KIP-74 first batch, max_bytes, max_offset), time
 * lookup, sealing and reopening, index rebuilds and tail recovery.
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

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "segment.h"

#define NBATCHES 10
#define RECORDS  3

struct fixture {
    char dir[64];
    struct tr_buf log;         /* what the .log should hold */
    size_t pos[NBATCHES + 1];  /* batch positions, then the end */
    int64_t offsets[NBATCHES]; /* base offsets */
    int walked;                /* headers seen by count_header */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/tr-test-segment-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    tr_buf_init(&f->log, 1 << 24);
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
    tr_buf_cleanup(&f->log);
    free(f);
    return 0;
}

/* Appends one batch of 'n' records at 'ts'..'ts'+n-1 to 'out'. */
static void
make_batch(struct tr_buf *out, int n, int64_t ts, int64_t base_offset)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    char value[40];
    size_t start = tr_buf_len(out);
    int i;

    assert_non_null(b);
    for (i = 0; i < n; i++) {
        memset(value, 'a' + (int)(base_offset + i) % 26, sizeof(value));
        assert_int_equal(tr_batch_builder_add(b, ts + i, "k", 1, value,
                                              (int32_t)sizeof(value), NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, out), TR_OK);
    tr_batch_set_base_offset(tr_buf_data(out) + start, base_offset);
    tr_batch_set_leader_epoch(tr_buf_data(out) + start, 0);
    tr_batch_builder_free(b);
}

static struct tr_segment *
open_seg(struct fixture *f, int flags)
{
    struct tr_segment *seg = NULL;

    assert_int_equal(tr_segment_open(f->dir, 0, flags, 4096, 100, &seg), TR_OK);
    return seg;
}

/* Appends NBATCHES batches of RECORDS records, one append each. */
static void
fill(struct fixture *f, struct tr_segment *seg)
{
    struct tr_buf one;
    int i;

    tr_buf_init(&one, 1 << 20);
    for (i = 0; i < NBATCHES; i++) {
        tr_buf_reset(&one);
        f->offsets[i] = (int64_t)i * RECORDS;
        f->pos[i] = tr_buf_len(&f->log);
        make_batch(&one, RECORDS, 1000 + i * 100, f->offsets[i]);
        assert_int_equal(
            tr_segment_append(seg, tr_buf_data(&one), tr_buf_len(&one), 100, 5),
            TR_OK);
        tr_buf_put_bytes(&f->log, tr_buf_data(&one), tr_buf_len(&one));
    }
    f->pos[NBATCHES] = tr_buf_len(&f->log);
    tr_buf_cleanup(&one);
}

/* Checks that the file range holds exactly the expected log bytes. */
static void
assert_range(struct fixture *f, struct tr_segment *seg, off_t pos, size_t len,
             size_t want_pos, size_t want_len)
{
    uint8_t *got = malloc(len + 1);

    assert_int_equal(pos, want_pos);
    assert_int_equal(len, want_len);
    assert_non_null(got);
    assert_int_equal(pread(tr_segment_fd(seg), got, len, pos), (ssize_t)len);
    assert_memory_equal(got, tr_buf_data(&f->log) + pos, len);
    free(got);
}

static void
test_segment_append_and_read_back(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    off_t pos;
    size_t len;

    assert_int_equal(tr_segment_size(seg), 0);
    assert_int_equal(tr_segment_next_offset(seg), 0);
    assert_int_equal(tr_segment_created_ms(seg), -1);
    fill(f, seg);
    assert_int_equal(tr_segment_size(seg), f->pos[NBATCHES]);
    assert_int_equal(tr_segment_next_offset(seg), NBATCHES * RECORDS);
    assert_int_equal(tr_segment_max_timestamp(seg),
                     1000 + (NBATCHES - 1) * 100 + RECORDS - 1);
    assert_int_equal(tr_segment_created_ms(seg), 5);

    /* Everything from offset 0; then from inside the 5th batch. */
    assert_int_equal(
        tr_segment_read_range(seg, 0, 1 << 20, INT64_MAX, &pos, &len), TR_OK);
    assert_range(f, seg, pos, len, 0, f->pos[NBATCHES]);
    assert_int_equal(tr_segment_read_range(seg, 4 * RECORDS + 1, 1 << 20,
                                           INT64_MAX, &pos, &len),
                     TR_OK);
    assert_range(f, seg, pos, len, f->pos[4], f->pos[NBATCHES] - f->pos[4]);

    /* KIP-74: the first batch is returned even when over max_bytes. */
    assert_int_equal(tr_segment_read_range(seg, 3, 1, INT64_MAX, &pos, &len),
                     TR_OK);
    assert_range(f, seg, pos, len, f->pos[1], f->pos[2] - f->pos[1]);
    /* Whole batches only: two and a half batches of room give two. */
    assert_int_equal(
        tr_segment_read_range(seg, 0, f->pos[2] + (f->pos[3] - f->pos[2]) / 2,
                              INT64_MAX, &pos, &len),
        TR_OK);
    assert_range(f, seg, pos, len, 0, f->pos[2]);
    /* max_offset: only batches whose BaseOffset is below it. */
    assert_int_equal(tr_segment_read_range(seg, 0, 1 << 20, 7, &pos, &len),
                     TR_OK);
    assert_range(f, seg, pos, len, 0, f->pos[3]);
    assert_int_equal(tr_segment_read_range(seg, 6, 1 << 20, 6, &pos, &len),
                     TR_OK);
    assert_int_equal(len, 0);
    /* Past the end of the segment: nothing. */
    assert_int_equal(tr_segment_read_range(seg, NBATCHES * RECORDS, 1 << 20,
                                           INT64_MAX, &pos, &len),
                     TR_OK);
    assert_int_equal(len, 0);
    tr_segment_close(seg);
}

static void
test_segment_find_time(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    int64_t offset, ts;

    fill(f, seg);
    /* Batch i holds timestamps 1000+100i .. 1000+100i+2. */
    assert_int_equal(tr_segment_find_time(seg, 0, &offset, &ts), TR_OK);
    assert_int_equal(offset, 0);
    assert_int_equal(ts, 1002);
    assert_int_equal(tr_segment_find_time(seg, 1002, &offset, &ts), TR_OK);
    assert_int_equal(offset, 0);
    assert_int_equal(tr_segment_find_time(seg, 1003, &offset, &ts), TR_OK);
    assert_int_equal(offset, 3);
    assert_int_equal(ts, 1102);
    assert_int_equal(tr_segment_find_time(seg, 1550, &offset, &ts), TR_OK);
    assert_int_equal(offset, 6 * RECORDS);
    assert_int_equal(ts, 1602);
    assert_int_equal(tr_segment_find_time(seg, 1902, &offset, &ts), TR_OK);
    assert_int_equal(offset, 9 * RECORDS);
    assert_int_equal(tr_segment_find_time(seg, 1903, &offset, &ts),
                     TR_ERR_NOT_FOUND);
    tr_segment_close(seg);
}

static off_t
file_size(struct fixture *f, const char *suffix)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/00000000000000000000%s", f->dir, suffix);
    if (stat(path, &st) != 0) {
        return -1;
    }
    return st.st_size;
}

static void
test_segment_seal_and_reopen(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    int64_t offset, ts;
    off_t pos;
    size_t len;

    fill(f, seg);
    assert_int_equal(file_size(f, ".index"), 4096);
    assert_int_equal(tr_segment_seal(seg), TR_OK);
    /* Trimmed to whole used entries. */
    assert_true(file_size(f, ".index") > 8);
    assert_int_equal(file_size(f, ".index") % 8, 0);
    assert_true(file_size(f, ".index") < 4096);
    assert_int_equal(file_size(f, ".timeindex") % 12, 0);
    tr_segment_close(seg);

    seg = open_seg(f, 0);
    assert_int_equal(tr_segment_size(seg), f->pos[NBATCHES]);
    assert_int_equal(tr_segment_next_offset(seg), NBATCHES * RECORDS);
    assert_int_equal(tr_segment_max_timestamp(seg), 1902);
    assert_int_equal(tr_segment_created_ms(seg), 1002);
    assert_int_equal(tr_segment_truncated_bytes(seg), 0);
    assert_int_equal(
        tr_segment_read_range(seg, 14, 1 << 20, INT64_MAX, &pos, &len), TR_OK);
    assert_range(f, seg, pos, len, f->pos[4], f->pos[NBATCHES] - f->pos[4]);
    assert_int_equal(tr_segment_find_time(seg, 1650, &offset, &ts), TR_OK);
    assert_int_equal(offset, 7 * RECORDS);
    tr_segment_close(seg);
}

static void
test_segment_rebuilds_missing_or_bad_indexes(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    char path[256];
    off_t pos;
    size_t len;
    int64_t offset, ts;
    int fd;

    fill(f, seg);
    tr_segment_close(seg); /* no seal: indexes left preallocated */

    snprintf(path, sizeof(path), "%s/00000000000000000000.index", f->dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/00000000000000000000.timeindex", f->dir);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 12), 8);
    close(fd);

    seg = open_seg(f, TR_SEGMENT_ACTIVE);
    assert_int_equal(tr_segment_next_offset(seg), NBATCHES * RECORDS);
    assert_int_equal(tr_segment_max_timestamp(seg), 1902);
    assert_int_equal(
        tr_segment_read_range(seg, 20, 1 << 20, INT64_MAX, &pos, &len), TR_OK);
    assert_range(f, seg, pos, len, f->pos[6], f->pos[NBATCHES] - f->pos[6]);
    assert_int_equal(tr_segment_find_time(seg, 1250, &offset, &ts), TR_OK);
    assert_int_equal(offset, 3 * RECORDS);
    assert_int_equal(ts, 1302);
    tr_segment_close(seg);
    /* The rebuilt index is sparse but has entries. */
    assert_int_equal(file_size(f, ".index"), 4096);
}

static void
test_segment_recovers_torn_tail(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    char path[256];
    off_t pos;
    size_t len;

    fill(f, seg);
    assert_int_equal(tr_segment_seal(seg), TR_OK);
    tr_segment_close(seg);

    /* Tear the last batch: even without RECOVER, the tail walk notices. */
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", f->dir);
    assert_int_equal(truncate(path, (off_t)f->pos[NBATCHES] - 5), 0);
    seg = open_seg(f, TR_SEGMENT_ACTIVE);
    assert_int_equal(tr_segment_size(seg), f->pos[NBATCHES - 1]);
    assert_int_equal(tr_segment_next_offset(seg), (NBATCHES - 1) * RECORDS);
    assert_int_equal(tr_segment_truncated_bytes(seg),
                     f->pos[NBATCHES] - 5 - f->pos[NBATCHES - 1]);
    assert_int_equal(file_size(f, ".log"), f->pos[NBATCHES - 1]);
    assert_int_equal(
        tr_segment_read_range(seg, 0, 1 << 20, INT64_MAX, &pos, &len), TR_OK);
    assert_range(f, seg, pos, len, 0, f->pos[NBATCHES - 1]);
    tr_segment_close(seg);
}

static void
test_segment_recover_checks_crc(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);
    char path[256];
    uint8_t byte;
    int fd;

    fill(f, seg);
    tr_segment_close(seg);

    /* A flipped byte inside the 7th batch's records. */
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", f->dir);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &byte, 1, (off_t)f->pos[6] + 70), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)f->pos[6] + 70), 1);
    close(fd);

    /* A header walk cannot see it... */
    seg = open_seg(f, TR_SEGMENT_ACTIVE);
    assert_int_equal(tr_segment_size(seg), f->pos[NBATCHES]);
    tr_segment_close(seg);
    /* ...recovery does, and cuts the log there. */
    seg = open_seg(f, TR_SEGMENT_ACTIVE | TR_SEGMENT_RECOVER);
    assert_int_equal(tr_segment_size(seg), f->pos[6]);
    assert_int_equal(tr_segment_next_offset(seg), 6 * RECORDS);
    assert_int_equal(tr_segment_truncated_bytes(seg),
                     f->pos[NBATCHES] - f->pos[6]);
    tr_segment_close(seg);
}

static tr_err_t
count_header(const struct tr_batch_header *h, off_t pos, void *arg)
{
    struct fixture *f = arg;

    assert_true(f->walked < NBATCHES);
    assert_int_equal(pos, f->pos[f->walked]);
    assert_int_equal(h->BaseOffset, f->offsets[f->walked]);
    f->walked++;
    return TR_OK;
}

static void
test_segment_foreach_header_and_delete(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg = open_seg(f, TR_SEGMENT_ACTIVE);

    fill(f, seg);
    assert_int_equal(tr_segment_foreach_header(seg, count_header, f), TR_OK);
    assert_int_equal(f->walked, NBATCHES);
    tr_segment_delete(seg);
    assert_int_equal(file_size(f, ".log"), -1);
    assert_int_equal(file_size(f, ".index"), -1);
    assert_int_equal(file_size(f, ".timeindex"), -1);
}

static void
test_segment_open_oom(void **state)
{
    struct fixture *f = *state;
    struct tr_segment *seg;
    tr_err_t err;
    long n;

    seg = open_seg(f, TR_SEGMENT_ACTIVE);
    fill(f, seg);
    tr_segment_close(seg);
    for (n = 0;; n++) {
        seg = NULL;
        tr_alloc_fail_after(n);
        err = tr_segment_open(f->dir, 0, TR_SEGMENT_ACTIVE | TR_SEGMENT_RECOVER,
                              4096, 100, &seg);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_null(seg);
    }
    assert_int_equal(tr_segment_next_offset(seg), NBATCHES * RECORDS);
    tr_segment_close(seg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segment_append_and_read_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_find_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment_seal_and_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_segment_rebuilds_missing_or_bad_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_recovers_torn_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment_recover_checks_crc, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment_foreach_header_and_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_open_oom, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
