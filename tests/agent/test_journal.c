/*
 * Tests for agent/journal.c: append and reload, the last producer id's
 * batches only, a torn tail cut at load, compaction of what the registry
 * has passed, the records' runs (several files, a file read again from
 * its start) and entries of the older 'B' layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/journal.h"
#include "common/buf.h"
#include "common/crc32c.h"

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_journal.XXXXXX");
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

static struct tr_journal *
open_journal(void)
{
    struct tr_journal *j = NULL;
    char err[256];

    assert_int_equal(tr_journal_open(dir, &j, err, sizeof(err)), TR_OK);
    return j;
}

/* Appends a batch of 'n' lines of file (1, ino) ending at end0 + 10 i. */
static void
append(struct tr_journal *j, int64_t pid, int32_t part, int32_t seq,
       uint64_t ino, uint64_t end0, uint32_t n)
{
    struct tr_journal_rec recs[16];
    struct tr_journal_line lines[16];
    struct tr_journal_batch b;

    assert_true(n <= 16);
    for (uint32_t i = 0; i < n; i++) {
        recs[i] = (struct tr_journal_rec){ 1, ino, 1024, 77, end0 + 10 * i };
        lines[i] = (struct tr_journal_line){ end0 + 10 * i - 10, 9, 0,
                                             1700000000000 + i, "/l/a.log" };
    }
    memset(&b, 0, sizeof(b));
    b.pid = pid;
    b.epoch = 3;
    b.topic = "logs";
    b.partition = part;
    b.base_seq = seq;
    b.count = (int32_t)n;
    b.nrec = n;
    b.recs = recs;
    b.lines = lines;
    b.crc = (uint32_t)seq * 1000003u;
    assert_int_equal(tr_journal_append(j, &b), TR_OK);
}

static off_t
file_size(void)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/journal", dir);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void
test_empty(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();
    int16_t epoch;

    assert_int_equal(tr_journal_pid(j, &epoch), -1);
    assert_int_equal(tr_journal_loaded(j), 0);
    assert_int_equal(tr_journal_size(j), 0);
    tr_journal_free(j);
}

static void
test_append_reload(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();
    int16_t epoch;

    append(j, 42, 0, 0, 7, 10, 3);
    append(j, 42, 1, 0, 7, 40, 2);
    append(j, 42, 0, 3, 8, 10, 4);
    assert_int_equal(tr_journal_sync(j), TR_OK);
    tr_journal_free(j);

    j = open_journal();
    assert_int_equal(tr_journal_pid(j, &epoch), 42);
    assert_int_equal(epoch, 3);
    assert_int_equal(tr_journal_loaded(j), 3);
    const struct tr_journal_batch *b = tr_journal_loaded_at(j, 2);
    assert_string_equal(b->topic, "logs");
    assert_int_equal(b->partition, 0);
    assert_int_equal(b->base_seq, 3);
    assert_int_equal(b->count, 4);
    assert_int_equal(b->recs[3].ino, 8);
    assert_int_equal(b->recs[3].end, 40);
    assert_int_equal(b->recs[3].fp_crc, 77);
    assert_null(b->wire);
    assert_int_equal(b->crc, 3 * 1000003u);
    assert_int_equal(b->lines[3].start, 30);
    assert_int_equal(b->lines[3].len, 9);
    assert_int_equal(b->lines[3].timestamp, 1700000000003);
    assert_string_equal(b->lines[3].path, "/l/a.log");
    assert_null(tr_journal_loaded_at(j, 3));
    /* Appending after a reload continues the same file. */
    tr_journal_drop_loaded(j);
    append(j, 42, 2, 0, 9, 10, 1);
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 4);
    tr_journal_free(j);
}

static void
test_new_pid_supersedes(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();

    append(j, 1, 0, 0, 7, 10, 2);
    append(j, 1, 0, 2, 7, 30, 2);
    append(j, 2, 0, 0, 7, 10, 2); /* renumbered under a new producer id */
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_pid(j, NULL), 2);
    assert_int_equal(tr_journal_loaded(j), 1);
    tr_journal_free(j);
    /* A bare producer id record alone also supersedes. */
    j = open_journal();
    assert_int_equal(tr_journal_set_pid(j, 5, 0), TR_OK);
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_pid(j, NULL), 5);
    assert_int_equal(tr_journal_loaded(j), 0);
    tr_journal_free(j);
}

static void
test_torn_tail(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();
    char path[512];

    append(j, 9, 0, 0, 7, 10, 2);
    off_t good = file_size();
    append(j, 9, 0, 2, 7, 30, 2);
    off_t full = file_size();
    tr_journal_free(j);
    /* Cut the second entry in its middle, as a crash during write would. */
    snprintf(path, sizeof(path), "%s/journal", dir);
    assert_int_equal(truncate(path, good + (full - good) / 2), 0);
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 1);
    assert_int_equal(file_size(), good); /* the torn part is gone */
    append(j, 9, 0, 2, 7, 30, 2);
    tr_journal_free(j);
    /* A flipped byte: the CRC ends the journal there. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, good + 20), 1);
    close(fd);
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 1);
    tr_journal_free(j);
}

/* Live while the "registry" position of ino 7 is before the line. */
static int
live_cb(void *arg, uint64_t dev, uint64_t ino, uint32_t fp_len, uint32_t fp_crc,
        uint64_t end)
{
    uint64_t pos = *(uint64_t *)arg;
    (void)dev;
    (void)fp_len;
    (void)fp_crc;
    return ino != 7 || pos < end;
}

static void
test_compact(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();
    uint64_t pos = 45;

    append(j, 4, 0, 0, 7, 10, 3); /* lines 10, 20, 30: passed */
    append(j, 4, 0, 3, 7, 40, 3); /* 40, 50, 60: 50 and 60 not yet */
    append(j, 4, 1, 0, 8, 10, 1); /* another file: kept */
    off_t before = file_size();
    assert_int_equal(tr_journal_compact(j, live_cb, &pos), TR_OK);
    assert_true(file_size() < before);
    assert_int_equal(tr_journal_size(j), (uint64_t)file_size());
    /* Appends go on after the kept entries. */
    append(j, 4, 0, 6, 7, 70, 1);
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_pid(j, NULL), 4);
    assert_int_equal(tr_journal_loaded(j), 3);
    assert_int_equal(tr_journal_loaded_at(j, 0)->base_seq, 3);
    assert_int_equal(tr_journal_loaded_at(j, 1)->partition, 1);
    assert_int_equal(tr_journal_loaded_at(j, 2)->base_seq, 6);
    tr_journal_drop_loaded(j);
    /* Everything passed: only the producer id remains. */
    pos = 1000;
    assert_int_equal(tr_journal_compact(j, live_cb, &pos), TR_OK);
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_pid(j, NULL), 4);
    tr_journal_free(j);
}

/* Checks the n loaded records of 'got' against what was written. */
static void
check_records(const struct tr_journal_batch *got,
              const struct tr_journal_rec *recs,
              const struct tr_journal_line *lines, uint32_t n)
{
    assert_int_equal(got->nrec, n);
    assert_null(got->wire);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(got->recs[i].dev, recs[i].dev);
        assert_int_equal(got->recs[i].ino, recs[i].ino);
        assert_int_equal(got->recs[i].fp_len, recs[i].fp_len);
        assert_int_equal(got->recs[i].fp_crc, recs[i].fp_crc);
        assert_int_equal(got->recs[i].end, recs[i].end);
        assert_int_equal(got->lines[i].start, lines[i].start);
        assert_int_equal(got->lines[i].len, lines[i].len);
        assert_int_equal(got->lines[i].truncated, lines[i].truncated);
        assert_int_equal(got->lines[i].timestamp, lines[i].timestamp);
        assert_string_equal(got->lines[i].path, lines[i].path);
    }
}

/*
 * Records in runs: two names of one file, a file read again from its
 * start (an end going back), another device; cut lines, a cut event's
 * rest, a last line without newline, timestamps going back and forth (as
 * far as they go: their differences wrap, found by fuzz_agent).
 */
static void
test_runs(void **state)
{
    (void)state;
    struct tr_journal *j = open_journal();
    struct tr_journal_rec recs[8] = {
        { 1, 5, 1024, 9, 100 },    { 1, 5, 1024, 9, 230 },
        { 1, 5, 1024, 9, 100000 }, { 1, 5, 1024, 9, 100500 },
        { 1, 6, 12, 4, 12 },       { 1, 6, 12, 4, 20 },
        { 1, 6, 12, 4, 8 },        { 2, 6, 12, 4, 9 },
    };
    struct tr_journal_line lines[8] = {
        { 90, 9, 0, 5000, "/l/a" },       { 200, 29, 0, 4000, "/l/a" },
        { 1000, 99000, 1, 6000, "/l/a" }, { 100000, 500, 0, 6000, "/l/a.1" },
        { 0, 11, 0, -7, "/l/b" },         { 12, 8, 0, INT64_MAX, "/l/b" },
        { 0, 8, 0, INT64_MIN, "/l/b" },   { 0, 9, 0, 1, "/m/b" },
    };
    struct tr_journal_batch b;

    memset(&b, 0, sizeof(b));
    b.pid = 7;
    b.topic = "t";
    b.count = 8;
    b.nrec = 8;
    b.recs = recs;
    b.lines = lines;
    b.crc = 0xdeadbeef;
    assert_int_equal(tr_journal_append(j, &b), TR_OK);
    tr_journal_free(j);
    /* A few bytes a record, never the lines. */
    assert_true(file_size() < 8 + 40 + 8 * 40);
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 1);
    const struct tr_journal_batch *got = tr_journal_loaded_at(j, 0);
    assert_int_equal(got->crc, 0xdeadbeef);
    check_records(got, recs, lines, 8);
    tr_journal_free(j);
}

/*
 * Random batches (files, names, gaps, cut lines, timestamps) written
 * record by record and loaded back: every field as written.
 */
static void
test_random_round_trip(void **state)
{
    (void)state;
    static const char *const paths[] = { "/l/a", "/l/a.1", "/l/b", "" };
    struct tr_journal_rec recs[64];
    struct tr_journal_line lines[64];
    uint32_t counts[40];
    struct tr_journal *j = open_journal();
    unsigned seed = 12345;

    for (int b = 0; b < 40; b++) {
        struct tr_journal_batch hdr;
        uint32_t n = 1 + (uint32_t)(rand_r(&seed) % 64);
        uint64_t pos = (uint64_t)(rand_r(&seed) % 100000);
        int64_t ts = 1700000000000 + rand_r(&seed) % 1000;

        memset(&hdr, 0, sizeof(hdr));
        hdr.pid = 77;
        hdr.topic = "t";
        hdr.partition = b % 3;
        hdr.base_seq = b * 100;
        hdr.count = (int32_t)n;
        hdr.crc = (uint32_t)b;
        assert_int_equal(tr_journal_begin(j, &hdr), TR_OK);
        for (uint32_t i = 0; i < n; i++) {
            int r = rand_r(&seed);
            uint64_t ino = 5 + (uint64_t)(r % 3 == 0);
            uint32_t len = (uint32_t)(rand_r(&seed) % 300);
            uint64_t gap = r % 5 == 0 ? (uint64_t)(rand_r(&seed) % 50) : 0;
            uint64_t tail = r % 7 == 0 ? (uint64_t)(rand_r(&seed) % 9) : 1;

            if (r % 11 == 0) {
                pos = (uint64_t)(rand_r(&seed) % 1000); /* read again */
            }
            if (r % 4 == 0) {
                ts += rand_r(&seed) % 2000 - 1000;
            }
            lines[i] = (struct tr_journal_line){ pos + gap, len, r % 13 == 0,
                                                 ts, paths[r % 4] };
            recs[i] = (struct tr_journal_rec){ 1, ino, 512, 9,
                                               pos + gap + len + tail };
            pos = recs[i].end;
            tr_journal_add(j, &recs[i], &lines[i]);
        }
        assert_int_equal(tr_journal_end(j), TR_OK);
        counts[b] = n;
        /* Keep the last batch's records to compare after the reload. */
    }
    tr_journal_free(j);
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 40);
    check_records(tr_journal_loaded_at(j, 39), recs, lines, counts[39]);
    for (int b = 0; b < 40; b++) {
        assert_int_equal(tr_journal_loaded_at(j, (size_t)b)->nrec, counts[b]);
    }
    tr_journal_free(j);
}

/* Writes one framed entry (payload 'p', 'len' bytes) to the journal. */
static void
write_entry(const uint8_t *p, size_t len)
{
    char path[512];
    uint8_t hdr[8];
    int fd;

    snprintf(path, sizeof(path), "%s/journal", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    tr_store_u32(hdr, (uint32_t)len);
    tr_store_u32(hdr + 4, tr_crc32c(0, p, len));
    assert_int_equal(write(fd, hdr, 8), 8);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

/* A batch entry of 'type' with 'n' records; runs as 'C' writes them. */
static void
put_entry(struct tr_buf *b, char type, uint32_t n, uint32_t run)
{
    tr_buf_reset(b);
    tr_buf_put_i8(b, type);
    tr_buf_put_i64(b, 11);
    tr_buf_put_i16(b, 0);
    tr_buf_put_i32(b, 0);
    tr_buf_put_i32(b, 0);
    tr_buf_put_i32(b, (int32_t)n);
    tr_buf_put_i16(b, 1);
    tr_buf_put_bytes(b, "t", 1);
    tr_buf_put_u32(b, n);
    if (type == 'B') {
        for (uint32_t i = 0; i < n; i++) {
            tr_buf_put_i64(b, 3);
            tr_buf_put_i64(b, 4);
            tr_buf_put_u32(b, 1024);
            tr_buf_put_u32(b, 5);
            tr_buf_put_i64(b, 10 * (i + 1));
        }
    } else {
        tr_buf_put_u32(b, run);
        tr_buf_put_i64(b, 3);
        tr_buf_put_i64(b, 4);
        tr_buf_put_u32(b, 1024);
        tr_buf_put_u32(b, 5);
        tr_buf_put_i64(b, 10);
        for (uint32_t i = 1; i < run; i++) {
            tr_buf_put_uvarint(b, 10);
        }
    }
    tr_buf_put_u32(b, 2);
    tr_buf_put_bytes(b, "ok", 2);
    assert_int_equal(tr_buf_err(b), TR_OK);
}

static void
test_old_and_bad_entries(void **state)
{
    (void)state;
    struct tr_buf b;
    struct tr_journal *j;

    tr_buf_init(&b, 1 << 16);
    /* A journal of the older layout loads. */
    put_entry(&b, 'B', 3, 0);
    write_entry(tr_buf_data(&b), tr_buf_len(&b));
    put_entry(&b, 'C', 3, 3);
    write_entry(tr_buf_data(&b), tr_buf_len(&b));
    /* A run longer than the batch, under a good CRC: the journal ends. */
    put_entry(&b, 'C', 3, 4);
    write_entry(tr_buf_data(&b), tr_buf_len(&b));
    put_entry(&b, 'C', 2, 2);
    write_entry(tr_buf_data(&b), tr_buf_len(&b));
    j = open_journal();
    assert_int_equal(tr_journal_loaded(j), 2);
    for (size_t k = 0; k < 2; k++) {
        const struct tr_journal_batch *got = tr_journal_loaded_at(j, k);
        assert_int_equal(got->nrec, 3);
        assert_int_equal(got->recs[2].end, 30);
        assert_int_equal(got->recs[2].ino, 4);
        assert_int_equal(got->wire_len, 2);
    }
    tr_journal_free(j);
    tr_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_pid_supersedes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_old_and_bad_entries, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
