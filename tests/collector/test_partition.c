/*
 * test_partition -- the commit log of one partition on real files: appends
 * and reads byte for byte, rolling by size and by age, the read rules,
 * time lookup, crash recovery, idempotent producers, all-or-nothing record
 * sets, failed writes, flushing, and deletion by reference count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "partition.h"

#define MAX_BATCHES 64

struct fixture {
    char root[64];
    char dir[128];
    struct tr_log_config cfg;
    struct tr_buf log; /* every batch appended, as stored */
    /* Start of each appended batch in 'log', and one past the last. */
    size_t pos[MAX_BATCHES + 1];
    int64_t base[MAX_BATCHES]; /* assigned BaseOffset of each batch */
    int n;                     /* batches appended */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->root, sizeof(f->root), "/tmp/tr-test-partition-XXXXXX");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/events-3", f->root);
    tr_log_config_defaults(&f->cfg);
    f->cfg.segment_index_bytes = 4096;
    f->cfg.index_interval_bytes = 100;
    tr_buf_init(&f->log, 1 << 24);
    *state = f;
    return 0;
}

static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char path[512];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(path);
        } else {
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    remove_tree(f->root);
    tr_buf_cleanup(&f->log);
    free(f);
    return 0;
}

static struct tr_partition *
open_part(struct fixture *f, int recover, int64_t recovery_point)
{
    struct tr_partition *part = NULL;

    assert_int_equal(tr_partition_open(f->dir, "events", 3, &f->cfg, recover,
                                       recovery_point, &part),
                     TR_OK);
    assert_string_equal(tr_partition_topic(part), "events");
    assert_int_equal(tr_partition_index(part), 3);
    return part;
}

/* Appends to 'out' one batch of 'n' records with timestamps ts, ts+1, ... */
static void
build(struct tr_buf *out, int n, int64_t ts, int64_t pid, int16_t epoch,
      int32_t seq)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    char value[48];
    int i;

    assert_non_null(b);
    if (pid >= 0) {
        tr_batch_builder_set_producer(b, pid, epoch, seq);
    }
    for (i = 0; i < n; i++) {
        memset(value, 'a' + (int)((ts + i) % 26), sizeof(value));
        assert_int_equal(tr_batch_builder_add(b, ts + i, "key", 3, value,
                                              (int32_t)sizeof(value), NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, out), TR_OK);
    tr_batch_builder_free(b);
}

/* Remembers the batches of an accepted record set as the log holds them. */
static void
record(struct fixture *f, const uint8_t *data, size_t len)
{
    struct tr_slice s;
    const uint8_t *batch;
    size_t blen;

    tr_slice_init(&s, data, len);
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        assert_true(f->n < MAX_BATCHES);
        f->pos[f->n] = tr_buf_len(&f->log);
        f->base[f->n] = tr_load_i64(batch);
        tr_buf_put_bytes(&f->log, batch, blen);
        f->n++;
        f->pos[f->n] = tr_buf_len(&f->log);
    }
}

/* Appends one batch; on success records it. Returns the append's result. */
static tr_err_t
append(struct fixture *f, struct tr_partition *part, int n, int64_t ts,
       int64_t pid, int16_t epoch, int32_t seq, struct tr_append_result *res)
{
    struct tr_append_result tmp;
    struct tr_buf buf;
    tr_err_t err;

    tr_buf_init(&buf, 1 << 20);
    build(&buf, n, ts, pid, epoch, seq);
    err = tr_partition_append(part, tr_buf_data(&buf), tr_buf_len(&buf),
                              res != NULL ? res : &tmp);
    if (err == TR_OK && !(res != NULL && res->duplicate)) {
        record(f, tr_buf_data(&buf), tr_buf_len(&buf));
    }
    tr_buf_cleanup(&buf);
    return err;
}

/* Appends 'count' plain batches of 2 records, timestamps 1000, 1100, ... */
static void
fill(struct fixture *f, struct tr_partition *part, int count)
{
    struct tr_append_result res;
    int i;

    for (i = 0; i < count; i++) {
        assert_int_equal(
            append(f, part, 2, 1000 + f->n * 100, -1, -1, -1, &res), TR_OK);
        assert_int_equal(res.base_offset, f->base[f->n - 1]);
        assert_int_equal(res.last_offset, f->base[f->n - 1] + 1);
        assert_int_equal(res.duplicate, 0);
    }
}

/* Reads one range and appends its bytes to 'out'; returns its length. */
static size_t
read_once(struct tr_partition *part, int64_t offset, size_t max_bytes,
          int64_t max_offset, struct tr_buf *out, int64_t *next)
{
    struct tr_read_result rr;
    struct tr_batch_header h;
    uint8_t *p;
    size_t at = 0;

    assert_int_equal(
        tr_partition_read(part, offset, max_bytes, max_offset, &rr), TR_OK);
    if (rr.len == 0) {
        assert_int_equal(rr.fd, -1);
        return 0;
    }
    assert_true(rr.fd >= 0);
    p = malloc(rr.len);
    assert_non_null(p);
    assert_int_equal(pread(rr.fd, p, rr.len, rr.pos), (ssize_t)rr.len);
    close(rr.fd);
    /* Whole, valid batches only; 'next' follows the last one. */
    while (at < rr.len) {
        assert_int_equal(tr_batch_header_parse(p + at, rr.len - at, &h), TR_OK);
        assert_int_equal(
            tr_batch_validate(p + at, (size_t)h.BatchLength + 12, NULL), TR_OK);
        at += (size_t)h.BatchLength + 12;
        *next = h.BaseOffset + h.LastOffsetDelta + 1;
    }
    assert_int_equal(at, rr.len);
    tr_buf_put_bytes(out, p, rr.len);
    free(p);
    return rr.len;
}

/* Reads everything from 'offset' on and checks it against the recorded log. */
static void
assert_log_reads_back(struct fixture *f, struct tr_partition *part,
                      int nbatches)
{
    struct tr_buf got;
    int64_t next = 0;

    tr_buf_init(&got, 1 << 24);
    while (read_once(part, next, 1 << 20, INT64_MAX, &got, &next) > 0) {
    }
    assert_int_equal(tr_buf_len(&got), f->pos[nbatches]);
    assert_memory_equal(tr_buf_data(&got), tr_buf_data(&f->log),
                        f->pos[nbatches]);
    tr_buf_cleanup(&got);
}

static int
count_files(struct fixture *f, const char *suffix)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    size_t n = strlen(suffix);
    size_t len;
    int count = 0;

    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);
        if (len > n && strcmp(de->d_name + len - n, suffix) == 0) {
            count++;
        }
    }
    closedir(d);
    return count;
}

static char *
seg_path(struct fixture *f, int64_t base, const char *suffix, char *buf,
         size_t len)
{
    snprintf(buf, len, "%s/%020lld%s", f->dir, (long long)base, suffix);
    return buf;
}

static off_t
file_size(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        return -1;
    }
    return st.st_size;
}

static void
assert_offsets(struct tr_partition *part, int64_t log_start, int64_t log_end)
{
    struct tr_partition_offsets offs;

    tr_partition_offsets(part, &offs);
    assert_int_equal(offs.log_start, log_start);
    assert_int_equal(offs.log_end, log_end);
    assert_int_equal(offs.high_watermark, log_end);
    assert_int_equal(offs.last_stable, log_end);
    assert_int_equal(offs.leader_epoch, 0);
}

static void
test_partition_append_and_read_back(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part = open_part(f, 0, 0);
    struct tr_append_result res;
    struct tr_partition_offsets offs;
    struct tr_batch_header h;
    struct tr_buf set;

    assert_offsets(part, 0, 0);
    fill(f, part, 5);
    assert_offsets(part, 0, 10);
    assert_int_equal(f->base[4], 8);

    /* A record set of three batches: one write, consecutive offsets. */
    tr_buf_init(&set, 1 << 20);
    build(&set, 1, 5000, -1, -1, -1);
    build(&set, 3, 5001, -1, -1, -1);
    build(&set, 2, 5004, -1, -1, -1);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_OK);
    assert_int_equal(res.base_offset, 10);
    assert_int_equal(res.last_offset, 15);
    assert_int_equal(res.log_append_time, -1);
    assert_int_equal(res.log_start_offset, 0);
    record(f, tr_buf_data(&set), tr_buf_len(&set));
    tr_buf_cleanup(&set);
    assert_int_equal(f->base[6], 11);
    assert_int_equal(f->base[7], 14);

    /* Stored with the leader epoch stamped. */
    assert_int_equal(tr_batch_header_parse(tr_buf_data(&f->log) + f->pos[7],
                                           f->pos[8] - f->pos[7], &h),
                     TR_OK);
    assert_int_equal(h.PartitionLeaderEpoch, 0);
    assert_int_equal(h.BaseOffset, 14);

    assert_offsets(part, 0, 16);
    tr_partition_offsets(part, &offs);
    assert_int_equal(offs.size_bytes, f->pos[f->n]);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);

    /* Reopened after a clean close: same log, appends continue. */
    part = open_part(f, 0, 0);
    assert_offsets(part, 0, 16);
    assert_int_equal(tr_partition_recovery_point(part), 16);
    fill(f, part, 1);
    assert_int_equal(f->base[f->n - 1], 16);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

static void
test_partition_roll_by_size(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_buf got;
    char path[256];
    int64_t next = 0;
    size_t len;
    int i, nlogs;

    f->cfg.segment_bytes = 1000;
    part = open_part(f, 0, 0);
    fill(f, part, 20);
    nlogs = count_files(f, ".log");
    assert_true(nlogs >= 4);
    assert_int_equal(count_files(f, ".index"), nlogs);
    assert_int_equal(count_files(f, ".timeindex"), nlogs);

    /* A read stops at the end of a segment; the next continues. */
    tr_buf_init(&got, 1 << 20);
    len = read_once(part, 0, 1 << 20, INT64_MAX, &got, &next);
    assert_int_equal(len,
                     file_size(seg_path(f, 0, ".log", path, sizeof(path))));
    assert_true(len <= 1000);
    assert_true(next > 0);
    assert_true(file_size(seg_path(f, next, ".log", path, sizeof(path))) > 0);
    len = read_once(part, next, 1 << 20, INT64_MAX, &got, &next);
    assert_true(len > 0);
    assert_memory_equal(tr_buf_data(&got), tr_buf_data(&f->log),
                        tr_buf_len(&got));
    tr_buf_cleanup(&got);

    /* Each sealed segment's index was trimmed to whole entries. */
    for (i = 0; i < f->n; i++) {
        if (file_size(seg_path(f, f->base[i], ".index", path, sizeof(path))) >
            0) {
            assert_int_equal(file_size(path) % 8, 0);
        }
    }
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);

    /* And all of it survives a reopen, with recovery too. */
    part = open_part(f, 1, 0);
    assert_offsets(part, 0, 40);
    assert_int_equal(count_files(f, ".log"), nlogs);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

static void
test_partition_roll_by_time(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    int64_t now = tr_clock_wall_ms();
    char path[256];

    f->cfg.segment_ms = 60000;
    part = open_part(f, 0, 0);
    /* An empty segment never rolls. */
    tr_partition_tick(part, now + 10 * 60000);
    assert_int_equal(count_files(f, ".log"), 1);

    fill(f, part, 3);
    tr_partition_tick(part, now);
    assert_int_equal(count_files(f, ".log"), 1);
    tr_partition_tick(part, now + 10 * 60000);
    assert_int_equal(count_files(f, ".log"), 2);
    assert_offsets(part, 0, 6);
    /* Rolling fsyncs the old segment: the recovery point follows. */
    assert_int_equal(tr_partition_recovery_point(part), 6);
    assert_true(file_size(seg_path(f, 6, ".log", path, sizeof(path))) == 0);
    tr_partition_tick(part, now + 20 * 60000);
    assert_int_equal(count_files(f, ".log"), 2);

    fill(f, part, 2);
    assert_true(file_size(path) > 0);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

static void
test_partition_read_rules(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part = open_part(f, 0, 0);
    struct tr_read_result rr;
    struct tr_buf got;
    int64_t next = 0;

    fill(f, part, 6);
    tr_buf_init(&got, 1 << 20);

    /* KIP-74: max_bytes of 1 still returns the first whole batch. */
    assert_int_equal(read_once(part, 0, 1, INT64_MAX, &got, &next), f->pos[1]);
    assert_int_equal(next, 2);
    /* Inside a batch: the whole batch holding the offset comes back. */
    tr_buf_reset(&got);
    assert_int_equal(
        read_once(part, 5, f->pos[4] - f->pos[2], INT64_MAX, &got, &next),
        f->pos[4] - f->pos[2]);
    assert_memory_equal(tr_buf_data(&got), tr_buf_data(&f->log) + f->pos[2],
                        f->pos[4] - f->pos[2]);
    assert_int_equal(next, 8);
    /* max_offset: no batch whose BaseOffset is at or past it. */
    tr_buf_reset(&got);
    assert_int_equal(read_once(part, 0, 1 << 20, 5, &got, &next), f->pos[3]);
    assert_int_equal(read_once(part, 6, 1 << 20, 6, &got, &next), 0);

    /* At the log end: nothing yet, not an error. */
    assert_int_equal(tr_partition_read(part, 12, 1 << 20, INT64_MAX, &rr),
                     TR_OK);
    assert_int_equal(rr.fd, -1);
    assert_int_equal(rr.len, 0);
    assert_int_equal(tr_partition_read(part, 13, 1 << 20, INT64_MAX, &rr),
                     TR_ERR_OUT_OF_RANGE);
    assert_int_equal(rr.fd, -1);
    assert_int_equal(tr_partition_read(part, -1, 1 << 20, INT64_MAX, &rr),
                     TR_ERR_OUT_OF_RANGE);
    tr_buf_cleanup(&got);
    tr_partition_unref(part);
}

static void
test_partition_offset_for_time(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    int64_t offset, ts;
    int i;

    f->cfg.segment_bytes = 700;
    part = open_part(f, 0, 0);
    fill(f, part, 12); /* batch i: timestamps 1000+100i, +1 */
    assert_true(count_files(f, ".log") > 2);

    assert_int_equal(tr_partition_offset_for_time(part, 0, &offset, &ts),
                     TR_OK);
    /* Kafka's answer: the first record (not batch) at or after the time. */
    assert_int_equal(offset, 0);
    assert_int_equal(ts, 1000);
    for (i = 0; i < 12; i++) {
        assert_int_equal(tr_partition_offset_for_time(part, 1000 + i * 100 - 50,
                                                      &offset, &ts),
                         TR_OK);
        assert_int_equal(offset, f->base[i]);
        assert_int_equal(ts, 1000 + i * 100);
        assert_int_equal(tr_partition_offset_for_time(part, 1000 + i * 100 + 1,
                                                      &offset, &ts),
                         TR_OK);
        assert_int_equal(offset, f->base[i] + 1);
        assert_int_equal(ts, 1000 + i * 100 + 1);
    }
    assert_int_equal(
        tr_partition_offset_for_time(part, 1000 + 11 * 100 + 2, &offset, &ts),
        TR_OK);
    assert_int_equal(offset, -1);
    assert_int_equal(ts, -1);
    tr_partition_unref(part);

    /* The same answers after a restart, from the sealed time indexes. */
    part = open_part(f, 0, 0);
    assert_int_equal(tr_partition_offset_for_time(part, 1650, &offset, &ts),
                     TR_OK);
    assert_int_equal(offset, f->base[7]);
    assert_int_equal(ts, 1700);
    tr_partition_unref(part);
}

/* Writes N batches and closes cleanly; returns the single segment's path. */
static void
prepare_crash(struct fixture *f, int count, char *path, size_t len)
{
    struct tr_partition *part = open_part(f, 0, 0);

    fill(f, part, count);
    tr_partition_unref(part);
    seg_path(f, 0, ".log", path, len);
    assert_int_equal(file_size(path), f->pos[count]);
}

/* After recovery: LEO, the surviving bytes, and appends continuing. */
static void
assert_recovered(struct fixture *f, struct tr_partition *part, int survivors)
{
    int64_t leo = survivors > 0 ? f->base[survivors - 1] + 2 : 0;

    assert_offsets(part, 0, leo);
    assert_log_reads_back(f, part, survivors);
    /* Forget the lost batches, then append after the survivors. */
    f->n = survivors;
    tr_buf_truncate(&f->log, f->pos[survivors]);
    fill(f, part, 2);
    assert_int_equal(f->base[survivors], leo);
    assert_log_reads_back(f, part, f->n);
}

static void
test_partition_recover_torn_last_batch(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    char path[256];

    prepare_crash(f, 8, path, sizeof(path));
    assert_int_equal(truncate(path, (off_t)(f->pos[8] + f->pos[7]) / 2), 0);
    part = open_part(f, 1, 0);
    assert_int_equal(file_size(path), f->pos[7]);
    assert_recovered(f, part, 7);
    tr_partition_unref(part);
}

static void
test_partition_recover_flipped_byte(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    char path[256];
    uint8_t byte;
    int fd;

    prepare_crash(f, 8, path, sizeof(path));
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &byte, 1, (off_t)f->pos[4] + 80), 1);
    byte ^= 0x01;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)f->pos[4] + 80), 1);
    close(fd);
    part = open_part(f, 1, 0);
    assert_int_equal(file_size(path), f->pos[4]);
    assert_recovered(f, part, 4);
    tr_partition_unref(part);
}

/* The base offset of the partition's last segment. */
static int64_t
last_segment(struct fixture *f)
{
    char path[256];
    int i;

    for (i = f->n - 1; i > 0; i--) {
        if (file_size(seg_path(f, f->base[i], ".log", path, sizeof(path))) >=
            0) {
            return f->base[i];
        }
    }
    return 0;
}

static void
test_partition_recover_garbage_after_end(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    char path[256];
    uint8_t junk[300];
    int fd;

    prepare_crash(f, 6, path, sizeof(path));
    memset(junk, 0x5a, sizeof(junk));
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    part = open_part(f, 1, 0);
    assert_int_equal(file_size(path), f->pos[6]);
    assert_recovered(f, part, 6);
    tr_partition_unref(part);

    /*
     * Zeros after the end, as a crash with preallocated blocks leaves, in
     * whichever segment is last now.
     */
    memset(junk, 0, sizeof(junk));
    fd = open(seg_path(f, last_segment(f), ".log", path, sizeof(path)),
              O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    part = open_part(f, 1, 0);
    assert_recovered(f, part, f->n);
    tr_partition_unref(part);
}

/* The base offset of the partition's second segment. */
static int64_t
second_segment(struct fixture *f)
{
    char path[256];
    int i;

    for (i = 1; i < f->n; i++) {
        if (file_size(seg_path(f, f->base[i], ".log", path, sizeof(path))) >=
            0) {
            return f->base[i];
        }
    }
    fail();
    return -1;
}

static void
test_partition_rebuilds_damaged_indexes(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    char path[256];
    int64_t offset, ts;
    int fd;

    f->cfg.segment_bytes = 1000;
    part = open_part(f, 0, 0);
    fill(f, part, 16);
    tr_partition_unref(part);
    assert_true(count_files(f, ".log") > 2);

    /* Lose one index; scribble over a time index; even with recover=0. */
    assert_int_equal(unlink(seg_path(f, 0, ".index", path, sizeof(path))), 0);
    fd = open(seg_path(f, 0, ".timeindex", path, sizeof(path)), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\0\0\0\0", 12),
                     12);
    close(fd);
    /* A torn index: not a whole number of entries. */
    assert_int_equal(
        truncate(seg_path(f, second_segment(f), ".index", path, sizeof(path)),
                 3),
        0);

    part = open_part(f, 0, 0);
    assert_offsets(part, 0, 32);
    assert_log_reads_back(f, part, f->n);
    assert_int_equal(tr_partition_offset_for_time(part, 1150, &offset, &ts),
                     TR_OK);
    assert_int_equal(offset, 4);
    assert_int_equal(ts, 1200);
    assert_true(file_size(seg_path(f, 0, ".index", path, sizeof(path))) > 0);
    tr_partition_unref(part);
}

static void
test_partition_recover_drops_later_segments(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    char path[256];
    uint8_t byte;
    int fd, nlogs;

    f->cfg.segment_bytes = 1000;
    part = open_part(f, 0, 0);
    fill(f, part, 20);
    tr_partition_unref(part);
    nlogs = count_files(f, ".log");
    assert_true(nlogs >= 4);

    /* Damage the second batch of the first segment. */
    fd = open(seg_path(f, 0, ".log", path, sizeof(path)), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &byte, 1, (off_t)f->pos[1] + 100), 1);
    byte ^= 0x80;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)f->pos[1] + 100), 1);
    close(fd);

    /* Recovery from offset 0 cuts there and cannot trust what follows. */
    part = open_part(f, 1, 0);
    assert_int_equal(count_files(f, ".log"), 1);
    assert_int_equal(count_files(f, ".index"), 1);
    assert_recovered(f, part, 1);
    tr_partition_unref(part);

    /* Recovering from a recovery point at the end checks the last segment. */
    part = open_part(f, 1, f->base[f->n - 1] + 2);
    assert_offsets(part, 0, f->base[f->n - 1] + 2);
    tr_partition_unref(part);
}

static void
test_partition_idempotent_producer(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part = open_part(f, 0, 0);
    struct tr_append_result res;
    char path[256];
    off_t size;

    assert_int_equal(append(f, part, 2, 1000, 4000, 0, 0, &res), TR_OK);
    assert_int_equal(append(f, part, 3, 1000, 4000, 0, 2, &res), TR_OK);
    assert_int_equal(append(f, part, 1, 1000, 4000, 0, 5, &res), TR_OK);
    assert_int_equal(res.base_offset, 5);
    assert_int_equal(append(f, part, 2, 1000, 77, 1, 40, &res), TR_OK);
    assert_offsets(part, 0, 8);
    size = file_size(seg_path(f, 0, ".log", path, sizeof(path)));

    /* A retry of the second batch: its original offsets, nothing written. */
    assert_int_equal(append(f, part, 3, 1000, 4000, 0, 2, &res), TR_OK);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.base_offset, 2);
    assert_int_equal(res.last_offset, 4);
    assert_offsets(part, 0, 8);
    assert_int_equal(file_size(path), size);

    /* A gap, and a stale epoch. */
    assert_int_equal(append(f, part, 1, 1000, 4000, 0, 7, &res),
                     TR_ERR_SEQUENCE);
    assert_int_equal(append(f, part, 1, 1000, 77, 0, 42, &res), TR_ERR_FENCED);
    assert_offsets(part, 0, 8);
    assert_int_equal(file_size(path), size);
    tr_partition_unref(part);

    /* The state is rebuilt from the log, with or without recovery. */
    part = open_part(f, 0, 0);
    assert_int_equal(append(f, part, 1, 1000, 4000, 0, 5, &res), TR_OK);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.base_offset, 5);
    assert_int_equal(append(f, part, 1, 1000, 77, 0, 42, &res), TR_ERR_FENCED);
    assert_int_equal(append(f, part, 1, 1000, 4000, 0, 6, &res), TR_OK);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(res.base_offset, 8);
    tr_partition_unref(part);

    part = open_part(f, 1, 0);
    assert_int_equal(append(f, part, 1, 1000, 4000, 0, 6, &res), TR_OK);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.base_offset, 8);
    assert_int_equal(append(f, part, 2, 1000, 77, 1, 40, &res), TR_OK);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.base_offset, 6);
    /* A new epoch starts again from sequence 0. */
    assert_int_equal(append(f, part, 1, 1000, 77, 2, 5, &res), TR_ERR_SEQUENCE);
    assert_int_equal(append(f, part, 1, 1000, 77, 2, 0, &res), TR_OK);
    assert_int_equal(res.base_offset, 9);
    assert_offsets(part, 0, 10);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

/* Appends 'set' expecting 'want' and checks that nothing changed. */
static void
assert_rejected(struct fixture *f, struct tr_partition *part,
                struct tr_buf *set, tr_err_t want)
{
    struct tr_append_result res;
    struct tr_partition_offsets before, after;

    tr_partition_offsets(part, &before);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(set), tr_buf_len(set), &res),
        want);
    tr_partition_offsets(part, &after);
    assert_int_equal(after.log_end, before.log_end);
    assert_int_equal(after.size_bytes, before.size_bytes);
    assert_int_equal(after.size_bytes, f->pos[f->n]);
}

static void
test_partition_bad_record_sets_write_nothing(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_append_result res;
    struct tr_buf set;
    size_t second;

    f->cfg.max_message_bytes = 400;
    part = open_part(f, 0, 0);
    fill(f, part, 2);
    tr_buf_init(&set, 1 << 20);

    /* Second batch of three fails its CRC. */
    build(&set, 2, 1, -1, -1, -1);
    second = tr_buf_len(&set);
    build(&set, 2, 1, -1, -1, -1);
    build(&set, 2, 1, -1, -1, -1);
    tr_buf_data(&set)[second + 70] ^= 1;
    assert_rejected(f, part, &set, TR_ERR_CORRUPT);

    /* A torn trailing batch. */
    tr_buf_reset(&set);
    build(&set, 2, 1, -1, -1, -1);
    build(&set, 2, 1, -1, -1, -1);
    tr_buf_truncate(&set, tr_buf_len(&set) - 1);
    assert_rejected(f, part, &set, TR_ERR_CORRUPT);

    /* Magic 1. */
    tr_buf_reset(&set);
    build(&set, 2, 1, -1, -1, -1);
    second = tr_buf_len(&set);
    build(&set, 2, 1, -1, -1, -1);
    tr_buf_data(&set)[second + 16] = 1;
    assert_rejected(f, part, &set, TR_ERR_UNSUPPORTED);

    /* One batch over max_message_bytes. */
    tr_buf_reset(&set);
    build(&set, 2, 1, -1, -1, -1);
    build(&set, 8, 1, -1, -1, -1);
    assert_rejected(f, part, &set, TR_ERR_TOO_LARGE);

    /* An idempotent batch out of sequence after a good one. */
    tr_buf_reset(&set);
    build(&set, 1, 1, 11, 0, 0);
    build(&set, 1, 1, 11, 0, 5);
    assert_rejected(f, part, &set, TR_ERR_SEQUENCE);
    /* No trace in the producer state: sequence 0 is new, not a replay. */
    assert_int_equal(append(f, part, 1, 1, 11, 0, 0, &res), TR_OK);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(append(f, part, 1, 1, 11, 0, 1, &res), TR_OK);
    assert_int_equal(res.duplicate, 0);
    assert_offsets(part, 0, 6);

    tr_buf_reset(&set);
    assert_rejected(f, part, &set, TR_ERR_INVALID);
    tr_buf_cleanup(&set);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

static void
test_partition_failed_write_leaves_log_unchanged(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_append_result res;
    struct rlimit old, lim;
    struct tr_buf set;
    char path[256];
    void (*old_handler)(int);
    tr_err_t err;
    off_t size;

    part = open_part(f, 0, 0);
    fill(f, part, 3);
    size = file_size(seg_path(f, 0, ".log", path, sizeof(path)));
    tr_buf_init(&set, 1 << 20);
    build(&set, 4, 1, -1, -1, -1);

    /* Files may not grow past 50 bytes more: the write is cut short. */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    old_handler = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 50;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    err = tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(err, TR_ERR_NOSPACE);
    assert_int_equal(file_size(path), size);
    assert_offsets(part, 0, 6);
    assert_log_reads_back(f, part, f->n);
    /* Once there is room again, the same offsets are used. */
    fill(f, part, 1);
    assert_int_equal(f->base[3], 6);
    assert_log_reads_back(f, part, f->n);
    tr_buf_cleanup(&set);
    tr_partition_unref(part);
}

static void
test_partition_flush_policy(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    int64_t now = tr_clock_wall_ms();

    f->cfg.flush_messages = 5;
    part = open_part(f, 0, 0);
    assert_int_equal(tr_partition_recovery_point(part), 0);
    fill(f, part, 2);
    assert_int_equal(tr_partition_recovery_point(part), 0);
    fill(f, part, 1); /* 6 records >= 5: flushed */
    assert_int_equal(tr_partition_recovery_point(part), 6);
    fill(f, part, 1);
    assert_int_equal(tr_partition_recovery_point(part), 6);
    assert_int_equal(tr_partition_flush(part), TR_OK);
    assert_int_equal(tr_partition_recovery_point(part), 8);

    /* By time, through tick. */
    f->cfg.flush_messages = INT64_MAX;
    f->cfg.flush_ms = 1000;
    tr_partition_set_config(part, &f->cfg);
    fill(f, part, 1);
    tr_partition_tick(part, now - 10000);
    assert_int_equal(tr_partition_recovery_point(part), 8);
    tr_partition_tick(part, now + 10000);
    assert_int_equal(tr_partition_recovery_point(part), 10);
    tr_partition_unref(part);
}

static void
test_partition_unref_deletes(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part = open_part(f, 0, 0);
    struct stat st;

    fill(f, part, 2);
    tr_partition_ref(part);
    tr_partition_mark_deleted(part);
    tr_partition_unref(part);
    assert_int_equal(stat(f->dir, &st), 0);
    /* Still usable by the remaining holder. */
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
    assert_int_equal(stat(f->dir, &st), -1);
    tr_partition_unref(NULL);
}

#define WRITERS        2
#define WRITER_BATCHES 150

struct concurrent {
    struct tr_partition *part;
    atomic_int *writers_left; /* the reader gives up once it hits 0 */
    int id;
    int errors; /* counted, not asserted: cmocka asserts belong to main */
};

/* Reads the whole log of 'part' into 'out' (every batch, as stored). */
static void
read_all(struct tr_partition *part, struct tr_buf *out)
{
    int64_t next = 0;

    while (read_once(part, next, 1 << 20, INT64_MAX, out, &next) > 0) {
    }
}

/*
 * Replication: a leader stamps its epochs and keeps the epoch cache; its
 * high watermark moves only when told; a follower copies the leader's
 * batches as they are, and after diverging truncates to where the leader's
 * epoch ends and catches up to a byte-identical log.
 */
static void
test_partition_replication(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *leader = open_part(f, 0, 0), *follower = NULL;
    struct tr_partition_offsets offs;
    struct tr_buf lbytes, fbytes, own;
    char fdir[512], path[600], text[256];
    int32_t epoch;
    int64_t end, leo;
    FILE *fp;
    size_t n;

    /* Leader: epochs 1 and 3; the HW stays put until it is moved. */
    tr_partition_set_replicated(leader, 0);
    assert_int_equal(tr_partition_become_leader(leader, 1), TR_OK);
    fill(f, leader, 3); /* offsets 0-5 */
    assert_int_equal(tr_partition_become_leader(leader, 3), TR_OK);
    fill(f, leader, 2); /* offsets 6-9 */
    tr_partition_offsets(leader, &offs);
    assert_int_equal(offs.log_end, 10);
    assert_int_equal(offs.high_watermark, 0);
    assert_int_equal(offs.leader_epoch, 3);
    assert_int_equal(tr_partition_set_high_watermark(leader, 4), 1);
    assert_int_equal(tr_partition_set_high_watermark(leader, 3), 0);
    assert_int_equal(tr_partition_set_high_watermark(leader, 99), 1);
    tr_partition_offsets(leader, &offs);
    assert_int_equal(offs.high_watermark, 10); /* capped at the log end */
    /* ...but the value offered is kept: a follower's lag (DescribeLogDirs). */
    assert_int_equal(offs.hw_offered, 99);

    /* OffsetForLeaderEpoch answers from the cache. */
    tr_partition_end_offset_for_epoch(leader, 1, &epoch, &end);
    assert_int_equal(epoch, 1);
    assert_int_equal(end, 6);
    tr_partition_end_offset_for_epoch(leader, 2, &epoch, &end);
    assert_int_equal(epoch, 1);
    assert_int_equal(end, 6);
    tr_partition_end_offset_for_epoch(leader, 3, &epoch, &end);
    assert_int_equal(epoch, 3);
    assert_int_equal(end, 10);
    assert_int_equal(tr_partition_last_epoch(leader), 3);
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_string_equal(text, "0\n2\n1 0\n3 6\n");

    /* Follower: copies the first three batches, then diverges on its own. */
    tr_buf_init(&lbytes, 1 << 20);
    tr_buf_init(&fbytes, 1 << 20);
    tr_buf_init(&own, 1 << 20);
    read_all(leader, &lbytes);
    snprintf(fdir, sizeof(fdir), "%s/events-4", f->root);
    assert_int_equal(
        tr_partition_open(fdir, "events", 4, &f->cfg, 0, 0, &follower), TR_OK);
    tr_partition_set_replicated(follower, -1);
    assert_int_equal(tr_partition_append_replica(follower, tr_buf_data(&lbytes),
                                                 f->pos[3], &leo),
                     TR_OK);
    assert_int_equal(leo, 6);
    /* Batches it already holds are skipped; a gap is refused. */
    assert_int_equal(tr_partition_append_replica(follower, tr_buf_data(&lbytes),
                                                 f->pos[3], &leo),
                     TR_OK);
    assert_int_equal(leo, 6);
    assert_int_equal(
        tr_partition_append_replica(follower, tr_buf_data(&lbytes) + f->pos[4],
                                    f->pos[5] - f->pos[4], &leo),
        TR_ERR_OUT_OF_RANGE);
    assert_int_equal(tr_partition_become_leader(follower, 2), TR_OK);
    build(&own, 3, 9000, -1, -1, -1);
    {
        struct tr_append_result res;
        assert_int_equal(tr_partition_append(follower, tr_buf_data(&own),
                                             tr_buf_len(&own), &res),
                         TR_OK);
        assert_int_equal(res.base_offset, 6);
    }
    /* Where does epoch 2 end at the leader? At 6: truncate there. */
    tr_partition_end_offset_for_epoch(leader, 2, &epoch, &end);
    assert_int_equal(tr_partition_truncate(follower, end), TR_OK);
    tr_partition_offsets(follower, &offs);
    assert_int_equal(offs.log_end, 6);
    assert_int_equal(tr_partition_last_epoch(follower), 1);
    assert_int_equal(
        tr_partition_append_replica(follower, tr_buf_data(&lbytes) + f->pos[3],
                                    f->pos[5] - f->pos[3], &leo),
        TR_OK);
    assert_int_equal(leo, 10);
    read_all(follower, &fbytes);
    assert_int_equal(tr_buf_len(&fbytes), tr_buf_len(&lbytes));
    assert_memory_equal(tr_buf_data(&fbytes), tr_buf_data(&lbytes),
                        tr_buf_len(&lbytes));
    tr_partition_unref(follower);

    /* Reopened: the epoch cache comes back from the batches. */
    follower = NULL;
    assert_int_equal(
        tr_partition_open(fdir, "events", 4, &f->cfg, 0, 0, &follower), TR_OK);
    assert_int_equal(tr_partition_last_epoch(follower), 3);
    tr_partition_end_offset_for_epoch(follower, 1, &epoch, &end);
    assert_int_equal(end, 6);
    tr_partition_unref(follower);
    tr_partition_unref(leader);
    tr_buf_cleanup(&lbytes);
    tr_buf_cleanup(&fbytes);
    tr_buf_cleanup(&own);
}

static void *
writer_main(void *arg)
{
    struct concurrent *c = arg;
    struct tr_append_result res;
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    struct tr_buf buf;
    char value[64];
    int i;

    tr_buf_init(&buf, 1 << 20);
    for (i = 0; b != NULL && i < WRITER_BATCHES; i++) {
        tr_batch_builder_reset(b);
        tr_buf_reset(&buf);
        snprintf(value, sizeof(value), "writer %d batch %d", c->id, i);
        if (tr_batch_builder_add(b, 1000 + i, NULL, -1, value,
                                 (int32_t)strlen(value), NULL, 0) != TR_OK ||
            tr_batch_builder_add(b, 1000 + i, NULL, -1, value,
                                 (int32_t)strlen(value), NULL, 0) != TR_OK ||
            tr_batch_builder_finish(b, &buf) != TR_OK ||
            tr_partition_append(c->part, tr_buf_data(&buf), tr_buf_len(&buf),
                                &res) != TR_OK ||
            res.last_offset != res.base_offset + 1) {
            c->errors++;
        }
    }
    if (b == NULL) {
        c->errors++;
    }
    atomic_fetch_sub(c->writers_left, 1);
    tr_batch_builder_free(b);
    tr_buf_cleanup(&buf);
    return NULL;
}

static void *
reader_main(void *arg)
{
    struct concurrent *c = arg;
    struct tr_read_result rr;
    struct tr_batch_header h;
    int64_t next = 0;
    uint8_t *p = malloc(1 << 20);
    size_t at;

    while (p != NULL && next < WRITERS * WRITER_BATCHES * 2) {
        if (tr_partition_read(c->part, next, 1 << 20, INT64_MAX, &rr) !=
                TR_OK ||
            rr.len > (1 << 20)) {
            c->errors++;
            break;
        }
        if (rr.len == 0) {
            /* Caught up; after the writers are gone that means data lost. */
            if (atomic_load(c->writers_left) == 0 &&
                tr_partition_read(c->part, next, 1, INT64_MAX, &rr) == TR_OK &&
                rr.len == 0) {
                c->errors++;
                break;
            }
            if (rr.fd >= 0) {
                close(rr.fd);
            }
            continue;
        }
        if (pread(rr.fd, p, rr.len, rr.pos) != (ssize_t)rr.len) {
            c->errors++;
        }
        close(rr.fd);
        /* Whole valid batches, offsets with no gap: no torn appends seen. */
        for (at = 0; at < rr.len; at += (size_t)h.BatchLength + 12) {
            if (tr_batch_header_parse(p + at, rr.len - at, &h) != TR_OK ||
                h.BaseOffset != next ||
                tr_batch_validate(p + at,
                                  rr.len - at < (size_t)h.BatchLength + 12
                                      ? rr.len - at
                                      : (size_t)h.BatchLength + 12,
                                  NULL) != TR_OK) {
                c->errors++;
                goto out;
            }
            next += h.LastOffsetDelta + 1;
        }
    }
out:
    free(p);
    return NULL;
}

static void
test_partition_concurrent_append_and_read(void **state)
{
    struct fixture *f = *state;
    struct concurrent c[WRITERS + 1];
    pthread_t th[WRITERS + 1];
    atomic_int writers_left = WRITERS;
    int i;

    f->cfg.segment_bytes = 3000;
    f->cfg.flush_messages = 7;
    memset(c, 0, sizeof(c));
    c[0].part = open_part(f, 0, 0);
    for (i = 0; i <= WRITERS; i++) {
        c[i].part = c[0].part;
        c[i].writers_left = &writers_left;
        c[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL,
                                        i == 0 ? reader_main : writer_main,
                                        &c[i]),
                         0);
    }
    for (i = 0; i <= WRITERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c[i].errors, 0);
    }
    assert_offsets(c[0].part, 0, WRITERS * WRITER_BATCHES * 2);
    assert_true(count_files(f, ".log") > 5);
    assert_int_equal(tr_partition_flush(c[0].part), TR_OK);
    assert_int_equal(tr_partition_recovery_point(c[0].part),
                     WRITERS * WRITER_BATCHES * 2);
    tr_partition_unref(c[0].part);

    c[0].part = open_part(f, 1, 0);
    assert_offsets(c[0].part, 0, WRITERS * WRITER_BATCHES * 2);
    reader_main(&c[0]);
    assert_int_equal(c[0].errors, 0);
    tr_partition_unref(c[0].part);
}

static void
test_partition_open_oom(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    tr_err_t err;
    long n;

    f->cfg.segment_bytes = 1000;
    part = open_part(f, 0, 0);
    fill(f, part, 10);
    assert_int_equal(append(f, part, 1, 1, 5, 0, 0, NULL), TR_OK);
    tr_partition_unref(part);
    for (n = 0;; n++) {
        part = NULL;
        tr_alloc_fail_after(n);
        err = tr_partition_open(f->dir, "events", 3, &f->cfg, 1, 0, &part);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_null(part);
    }
    assert_offsets(part, 0, 21);
    assert_log_reads_back(f, part, f->n);
    tr_partition_unref(part);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partition_append_and_read_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_roll_by_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_roll_by_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_read_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_offset_for_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_recover_torn_last_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_recover_flipped_byte,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partition_recover_garbage_after_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_rebuilds_damaged_indexes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partition_recover_drops_later_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_idempotent_producer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partition_bad_record_sets_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partition_failed_write_leaves_log_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_replication, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_flush_policy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_unref_deletes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_partition_concurrent_append_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_open_oom, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
