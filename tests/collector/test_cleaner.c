/*
 * test_cleaner -- log compaction: the key map, the batch rewrite (offsets,
 * timestamps and order kept, last value per key, tombstones kept then
 * dropped after delete.retention.ms on a fake clock, gzip batches
 * recompressed, idempotent producers' last batches kept empty), whole
 * partitions cleaned through tr_partition_clean, keyless records refused by
 * compacted logs, and the crash safety of the segment swap (the files of
 * each step left behind, then the partition reopened).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "cleaner.h"
#include "codec.h"
#include "partition.h"

#define T0 1700000000000LL /* fake clock origin */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

struct fixture {
    char root[64];
    char dir[128];
    struct tr_log_config cfg;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->root, sizeof(f->root), "/tmp/tr-test-cleaner-XXXXXX");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/kv-0", f->root);
    tr_log_config_defaults(&f->cfg);
    f->cfg.segment_index_bytes = 4096;
    f->cfg.index_interval_bytes = 100;
    f->cfg.cleanup_policy = TR_LOG_CLEANUP_COMPACT;
    f->cfg.min_cleanable_ratio = 0.0;
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
    free(f);
    return 0;
}

/* One record to build: value NULL is a tombstone. */
struct rec {
    const char *key;
    const char *value;
};

/* Appends one batch of 'n' records (timestamps ts, ts+1, ...) to 'out'. */
static void
build(struct tr_buf *out, enum tr_codec codec, const struct rec *recs, int n,
      int64_t ts, int64_t pid, int32_t seq)
{
    struct tr_batch_builder *b = tr_batch_builder_new(codec, 1 << 20);
    int i;

    assert_non_null(b);
    if (pid >= 0) {
        tr_batch_builder_set_producer(b, pid, 0, seq);
    }
    for (i = 0; i < n; i++) {
        assert_int_equal(
            tr_batch_builder_add(
                b, ts + i, recs[i].key,
                recs[i].key ? (int32_t)strlen(recs[i].key) : -1, recs[i].value,
                recs[i].value ? (int32_t)strlen(recs[i].value) : -1, NULL, 0),
            TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, out), TR_OK);
    tr_batch_builder_free(b);
}

/* What a read-back found: offset, key and value of each record. */
struct seen {
    int64_t offset[4096];
    char key[4096][16];
    char value[4096][24]; /* "" with is_null set for a tombstone */
    int is_null[4096];
    int n;
    int empty_batches;
    int64_t last_pid_offset; /* BaseOffset of the last batch with a pid */
};

/* Iterates every record of a record set (whole, valid batches). */
static void
collect(const uint8_t *data, size_t len, struct seen *s)
{
    struct tr_slice sl;
    const uint8_t *batch;
    size_t blen;
    struct tr_batch_header h;
    struct tr_batch_iter it;
    struct tr_record r;

    tr_slice_init(&sl, data, len);
    while (tr_batch_next(&sl, &batch, &blen) == TR_OK) {
        assert_int_equal(tr_batch_validate(batch, blen, &h), TR_OK);
        if (h.RecordsCount == 0) {
            s->empty_batches++;
        }
        if (h.ProducerId >= 0) {
            s->last_pid_offset = h.BaseOffset;
        }
        assert_int_equal(tr_batch_iter_init(&it, batch, blen, 1 << 24), TR_OK);
        while (tr_batch_iter_next(&it, &r) == TR_OK) {
            assert_true(s->n < 4096);
            s->offset[s->n] = r.offset;
            snprintf(s->key[s->n], sizeof(s->key[0]), "%.*s",
                     r.key_len < 0 ? 0 : r.key_len, (const char *)r.key);
            snprintf(s->value[s->n], sizeof(s->value[0]), "%.*s",
                     r.value_len < 0 ? 0 : r.value_len, (const char *)r.value);
            s->is_null[s->n] = r.value_len < 0;
            s->n++;
        }
        tr_batch_iter_cleanup(&it);
    }
}

/* Reads a whole partition through tr_partition_read from 'from'. */
static void
read_all(struct tr_partition *part, int64_t from, struct seen *s)
{
    struct tr_read_result rr;
    struct tr_partition_offsets offs;
    uint8_t *buf;
    int64_t next = from;
    ssize_t n;

    memset(s, 0, sizeof(*s));
    s->last_pid_offset = -1;
    tr_partition_offsets(part, &offs);
    while (next < offs.high_watermark) {
        assert_int_equal(
            tr_partition_read(part, next, 1 << 20, offs.high_watermark, &rr),
            TR_OK);
        if (rr.len == 0) {
            break;
        }
        buf = malloc(rr.len);
        assert_non_null(buf);
        n = pread(rr.fd, buf, rr.len, rr.pos);
        assert_int_equal(n, (ssize_t)rr.len);
        close(rr.fd);
        {
            struct tr_slice sl;
            const uint8_t *batch;
            size_t blen;
            struct tr_batch_header h;
            int before = s->n;

            collect(buf, rr.len, s);
            tr_slice_init(&sl, buf, rr.len);
            while (tr_batch_next(&sl, &batch, &blen) == TR_OK) {
                tr_batch_header_parse(batch, blen, &h);
                next = h.BaseOffset + h.LastOffsetDelta + 1;
            }
            (void)before;
        }
        free(buf);
    }
}

static struct tr_partition *
open_part(struct fixture *f)
{
    struct tr_partition *part = NULL;

    assert_int_equal(tr_partition_open(f->dir, "kv", 0, &f->cfg, 0, 0, &part),
                     TR_OK);
    return part;
}

static void
append(struct tr_partition *part, struct tr_buf *set)
{
    struct tr_append_result res;

    assert_int_equal(
        tr_partition_append(part, tr_buf_data(set), tr_buf_len(set), &res),
        TR_OK);
    tr_buf_reset(set);
}

static int
count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t l, m = strlen(suffix);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        l = strlen(de->d_name);
        if (l > m && strcmp(de->d_name + l - m, suffix) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Key map                                                                 */

static void
test_cleaner_map_put_get(void **state)
{
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 20, 100);
    char key[32];
    int i;

    (void)state;
    assert_non_null(map);
    assert_int_equal(tr_cleaner_map_get(map, "nope", 4), -1);
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(tr_cleaner_map_put(map, key, strlen(key), i), TR_OK);
    }
    /* A later offset wins; an earlier one never lowers it. */
    assert_int_equal(tr_cleaner_map_put(map, "key-7", 5, 500), TR_OK);
    assert_int_equal(tr_cleaner_map_put(map, "key-7", 5, 3), TR_OK);
    assert_int_equal(tr_cleaner_map_count(map), 100);
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(tr_cleaner_map_get(map, key, strlen(key)),
                         i == 7 ? 500 : i);
    }
    /* Empty keys are keys too (only null keys are not). */
    assert_int_equal(tr_cleaner_map_put(map, "", 0, 42), TR_OK);
    assert_int_equal(tr_cleaner_map_get(map, "", 0), 42);
    tr_cleaner_map_free(map);
}

static void
test_cleaner_map_fills_at_ninety_percent(void **state)
{
    /* 100 slots of 24 bytes: 90 keys fit. */
    struct tr_cleaner_map *map =
        tr_cleaner_map_new(100 * TR_CLEANER_MAP_ENTRY_SIZE, 1000);
    char key[32];
    int i;

    (void)state;
    assert_non_null(map);
    assert_int_equal(tr_cleaner_map_limit(map), 90);
    for (i = 0; i < 90; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(tr_cleaner_map_put(map, key, strlen(key), i), TR_OK);
    }
    assert_int_equal(tr_cleaner_map_put(map, "one-more", 8, 1),
                     TR_ERR_TOO_LARGE);
    /* Known keys still update when full. */
    assert_int_equal(tr_cleaner_map_put(map, "k3", 2, 1000), TR_OK);
    assert_int_equal(tr_cleaner_map_get(map, "k3", 2), 1000);
    assert_int_equal(tr_cleaner_map_get(map, "one-more", 8), -1);
    tr_cleaner_map_free(map);
    assert_null(tr_cleaner_map_new(24, 10)); /* room for nothing */
}

/* ---------------------------------------------------------------------- */
/* Batch rewrite                                                           */

static void
filter_one(enum tr_codec codec)
{
    static const struct rec recs[] = {
        { "a", "a1" }, { "b", "b1" }, { "a", "a2" },
        { "c", "c1" }, { "b", "b2" }, { NULL, "nokey" },
    };
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    struct tr_cleaner_filter f = { map, 0, NULL, NULL, 1 << 20, NULL, NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_batch_header h, orig;
    struct tr_buf in, out;
    struct seen *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    build(&in, codec, recs, 6, T0, -1, -1);
    tr_batch_set_base_offset(tr_buf_data(&in), 100);
    assert_int_equal(
        tr_batch_validate(tr_buf_data(&in), tr_buf_len(&in), &orig), TR_OK);
    /* "a" and "b" have later records (offsets 102, 104 and beyond). */
    assert_int_equal(tr_cleaner_map_put(map, "a", 1, 102), TR_OK);
    assert_int_equal(tr_cleaner_map_put(map, "b", 1, 900), TR_OK);
    assert_int_equal(tr_cleaner_map_put(map, "c", 1, 103), TR_OK);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(counts.records_kept, 2);
    assert_int_equal(counts.records_removed, 4);

    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(h.BaseOffset, 100);
    assert_int_equal(h.LastOffsetDelta, 5); /* offsets range unchanged */
    assert_int_equal(h.BaseTimestamp, orig.BaseTimestamp);
    assert_int_equal(h.MaxTimestamp, orig.MaxTimestamp);
    assert_int_equal(h.RecordsCount, 2);
    assert_int_equal(h.Attributes & TR_BATCH_ATTR_CODEC_MASK, codec);

    s->last_pid_offset = -1;
    collect(tr_buf_data(&out), tr_buf_len(&out), s);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->offset[0], 102);
    assert_string_equal(s->key[0], "a");
    assert_string_equal(s->value[0], "a2");
    assert_int_equal(s->offset[1], 103);
    assert_string_equal(s->value[1], "c1");

    tr_buf_cleanup(&in);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
    free(s);
}

static void
test_cleaner_filter_keeps_last_per_key(void **state)
{
    (void)state;
    filter_one(TR_CODEC_NONE);
}

static void
test_cleaner_filter_gzip_recompressed(void **state)
{
    (void)state;
    filter_one(TR_CODEC_GZIP);
}

static void
test_cleaner_filter_unchanged_batch_is_copied(void **state)
{
    static const struct rec recs[] = { { "x", "1" }, { "y", "2" } };
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    struct tr_cleaner_filter f = { map, 0, NULL, NULL, 1 << 20, NULL, NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_buf in, out;

    (void)state;
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    build(&in, TR_CODEC_GZIP, recs, 2, T0, -1, -1);
    tr_batch_set_base_offset(tr_buf_data(&in), 7);
    assert_int_equal(tr_cleaner_map_put(map, "x", 1, 7), TR_OK);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), tr_buf_len(&in));
    assert_memory_equal(tr_buf_data(&out), tr_buf_data(&in), tr_buf_len(&in));
    assert_int_equal(counts.records_removed, 0);
    tr_buf_cleanup(&in);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
}

static void
test_cleaner_filter_tombstones_by_horizon(void **state)
{
    static const struct rec recs[] = { { "gone", NULL }, { "kept", "v" } };
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    struct tr_cleaner_filter f = { map, 0, NULL, NULL, 1 << 20, NULL, NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_buf in, out;
    struct seen *s = calloc(1, sizeof(*s));

    (void)state;
    assert_non_null(s);
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    build(&in, TR_CODEC_NONE, recs, 2, T0, -1, -1);
    /* Horizon before the batch: the tombstone stays. */
    f.tombstone_horizon_ms = T0 - 1000;
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    collect(tr_buf_data(&out), tr_buf_len(&out), s);
    assert_int_equal(s->n, 2);
    assert_true(s->is_null[0]);
    /* Horizon past the batch's MaxTimestamp: dropped. */
    tr_buf_reset(&out);
    memset(s, 0, sizeof(*s));
    f.tombstone_horizon_ms = T0 + 2;
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    collect(tr_buf_data(&out), tr_buf_len(&out), s);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->key[0], "kept");
    assert_int_equal(s->offset[0], 1);
    tr_buf_cleanup(&in);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
    free(s);
}

static int
always_last(int64_t producer_id, int64_t base_offset, void *arg)
{
    (void)base_offset;
    return producer_id == *(int64_t *)arg;
}

static void
test_cleaner_filter_keeps_empty_producer_batch(void **state)
{
    static const struct rec recs[] = { { "p", "1" }, { "p", "2" } };
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    int64_t pid = 4242;
    struct tr_cleaner_filter f = { map,     0,    always_last, &pid,
                                   1 << 20, NULL, NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_batch_header h;
    struct tr_buf in, out;

    (void)state;
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    build(&in, TR_CODEC_GZIP, recs, 2, T0, pid, 17);
    tr_batch_set_base_offset(tr_buf_data(&in), 50);
    assert_int_equal(tr_cleaner_map_put(map, "p", 1, 99), TR_OK);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), TR_BATCH_HEADER_SIZE);
    assert_int_equal(h.RecordsCount, 0);
    assert_int_equal(h.BaseOffset, 50);
    assert_int_equal(h.LastOffsetDelta, 1);
    assert_int_equal(h.ProducerId, pid);
    assert_int_equal(h.BaseSequence, 17);
    assert_int_equal(h.Attributes & TR_BATCH_ATTR_CODEC_MASK, TR_CODEC_NONE);

    /* Not the producer's last batch: the batch goes entirely. */
    pid = 1;
    tr_buf_reset(&out);
    memset(&counts, 0, sizeof(counts));
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), 0);
    assert_int_equal(counts.batches_removed, 1);
    tr_buf_cleanup(&in);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
}

static int
aborted_producer(int64_t producer_id, int64_t base_offset, void *arg)
{
    (void)base_offset;
    return producer_id == *(int64_t *)arg;
}

/* Aborted transactional data goes whatever its keys; markers stay. */
static void
test_cleaner_filter_drops_aborted(void **state)
{
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    int64_t aborted = 7;
    struct tr_cleaner_filter f = {
        map, 0, NULL, &aborted, 1 << 20, NULL, NULL
    };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 16);
    struct tr_buf in, marker, out;

    (void)state;
    f.is_aborted = aborted_producer;
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&marker, 1 << 10);
    tr_buf_init(&out, 1 << 20);
    tr_batch_builder_set_producer(b, 7, 0, 0);
    tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL);
    assert_int_equal(tr_batch_builder_add(b, T0, "a", 1, "1", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_add(b, T0, "b", 1, "2", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_finish(b, &in), TR_OK);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), 0);
    assert_int_equal(counts.records_removed, 2);
    /* The ABORT marker itself stays. */
    assert_int_equal(tr_batch_build_marker(&marker, 7, 0, 0, 0, T0), TR_OK);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&marker),
                                             tr_buf_len(&marker), &out,
                                             &counts),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), tr_buf_len(&marker));
    /* Another producer's (committed) transactional data stays. */
    aborted = 8;
    tr_buf_reset(&out);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), tr_buf_len(&in));
    tr_batch_builder_free(b);
    tr_buf_cleanup(&in);
    tr_buf_cleanup(&marker);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
}

/* Filters 'b' with 'f'; returns the bytes it keeps. */
static size_t
filter_len(const struct tr_cleaner_filter *f, struct tr_buf *b,
           struct tr_cleaner_counts *counts)
{
    struct tr_buf out;
    size_t n;

    tr_buf_init(&out, 1 << 20);
    assert_int_equal(
        tr_cleaner_filter_batch(f, tr_buf_data(b), tr_buf_len(b), &out, counts),
        TR_OK);
    n = tr_buf_len(&out);
    tr_buf_cleanup(&out);
    return n;
}

/*
 * Markers of transactions that keep no data go once older than the delete
 * horizon, ABORT markers listed for the aborted index; a marker whose
 * transaction keeps data, a recent one and a producer's last batch stay.
 */
static void
test_cleaner_filter_drops_markers(void **state)
{
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    int64_t aborted = 7;
    struct tr_cleaner_filter f = { map,     T0 + 1000, NULL, &aborted,
                                   1 << 20, NULL,      NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 16);
    struct tr_buf data7, data8, abort7, commit8, late;
    const struct tr_cleaner_marker *gone;

    (void)state;
    f.is_aborted = aborted_producer;
    f.txns = tr_cleaner_txns_new();
    assert_non_null(f.txns);
    tr_buf_init(&data7, 1 << 16);
    tr_buf_init(&data8, 1 << 16);
    tr_buf_init(&abort7, 1 << 10);
    tr_buf_init(&commit8, 1 << 10);
    tr_buf_init(&late, 1 << 10);
    tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL);
    tr_batch_builder_set_producer(b, 7, 0, 0);
    assert_int_equal(tr_batch_builder_add(b, T0, "k", 1, "1", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_finish(b, &data7), TR_OK);
    tr_batch_builder_reset(b);
    tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL);
    tr_batch_builder_set_producer(b, 8, 0, 0);
    assert_int_equal(tr_batch_builder_add(b, T0, "k8", 2, "2", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_finish(b, &data8), TR_OK);
    assert_int_equal(tr_batch_build_marker(&abort7, 7, 0, 0, 0, T0), TR_OK);
    assert_int_equal(tr_batch_build_marker(&commit8, 8, 0, 1, 0, T0), TR_OK);
    assert_int_equal(tr_batch_build_marker(&late, 7, 0, 0, 0, T0 + 5000),
                     TR_OK);

    /* Aborted data goes, then its marker (old enough) with it. */
    assert_int_equal(filter_len(&f, &data7, &counts), 0);
    assert_int_equal(filter_len(&f, &data8, &counts), tr_buf_len(&data8));
    assert_int_equal(filter_len(&f, &abort7, &counts), 0);
    assert_int_equal(tr_cleaner_txns_dropped(f.txns, &gone), 1);
    assert_int_equal(gone[0].producer_id, 7);
    /* Producer 8's committed data stays: so does its marker. */
    assert_int_equal(filter_len(&f, &commit8, &counts), tr_buf_len(&commit8));
    tr_cleaner_txns_clear_dropped(f.txns);
    assert_int_equal(tr_cleaner_txns_dropped(f.txns, &gone), 0);

    /* A marker younger than the horizon stays, data or not. */
    assert_int_equal(filter_len(&f, &data7, &counts), 0);
    assert_int_equal(filter_len(&f, &late, &counts), tr_buf_len(&late));
    /* A COMMIT whose data all went (superseded keys) goes, unlisted. */
    assert_int_equal(tr_cleaner_map_put(map, "k8", 2, 1000), TR_OK);
    assert_int_equal(filter_len(&f, &data8, &counts), 0);
    assert_int_equal(filter_len(&f, &commit8, &counts), 0);
    assert_int_equal(tr_cleaner_txns_dropped(f.txns, &gone), 0);
    /* Without the pass's state every marker stays. */
    tr_cleaner_txns_free(f.txns);
    f.txns = NULL;
    assert_int_equal(filter_len(&f, &abort7, &counts), tr_buf_len(&abort7));

    tr_batch_builder_free(b);
    tr_buf_cleanup(&data7);
    tr_buf_cleanup(&data8);
    tr_buf_cleanup(&abort7);
    tr_buf_cleanup(&commit8);
    tr_buf_cleanup(&late);
    tr_cleaner_map_free(map);
}

static void
test_cleaner_filter_rejects_corrupt(void **state)
{
    static const struct rec recs[] = { { "x", "1" } };
    struct tr_cleaner_map *map = tr_cleaner_map_new(1 << 16, 16);
    struct tr_cleaner_filter f = { map, 0, NULL, NULL, 1 << 20, NULL, NULL };
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_buf in, out;

    (void)state;
    tr_buf_init(&in, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    build(&in, TR_CODEC_NONE, recs, 1, T0, -1, -1);
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in) - 1, &out,
                                             &counts),
                     TR_ERR_CORRUPT);
    /* A record length running past the batch. */
    tr_buf_data(&in)[TR_BATCH_HEADER_SIZE] = 0x7e;
    assert_int_equal(tr_cleaner_filter_batch(&f, tr_buf_data(&in),
                                             tr_buf_len(&in), &out, &counts),
                     TR_ERR_CORRUPT);
    tr_buf_cleanup(&in);
    tr_buf_cleanup(&out);
    tr_cleaner_map_free(map);
}

/* ---------------------------------------------------------------------- */
/* Partitions                                                              */

/*
 * Writes 'rounds' rounds of updates to keys k0..k9 (one batch of 10 per
 * round, value "r<round>-k<i>"), rolling every batch (segment_bytes small).
 */
static void
write_rounds(struct tr_partition *part, int rounds, int64_t ts,
             enum tr_codec codec)
{
    struct rec recs[10];
    char keys[10][8], values[10][24];
    struct tr_buf set;
    int r, i;

    tr_buf_init(&set, 1 << 20);
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < 10; i++) {
            snprintf(keys[i], sizeof(keys[i]), "k%d", i);
            snprintf(values[i], sizeof(values[i]), "r%d-k%d", r, i);
            recs[i].key = keys[i];
            recs[i].value = values[i];
        }
        build(&set, codec, recs, 10, ts + r * 10, -1, -1);
        append(part, &set);
    }
    tr_buf_cleanup(&set);
}

static void
test_cleaner_partition_compacts(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_clean_stats st;
    struct seen *s = calloc(1, sizeof(*s));
    int i;

    assert_non_null(s);
    f->cfg.segment_bytes = 300; /* about one batch a segment */
    part = open_part(f);
    write_rounds(part, 5, T0, TR_CODEC_GZIP);
    assert_int_equal(tr_partition_first_dirty(part), 0);
    assert_true(tr_partition_dirty_ratio(part, T0) > 0.99);
    assert_int_equal(tr_partition_clean(part, T0 + 100, 1 << 20, 0, &st),
                     TR_OK);
    assert_true(st.segments_rewritten >= 3);
    assert_int_equal(st.records_removed, 30); /* the active round is not */
    assert_int_equal(tr_partition_first_dirty(part), 40);
    /* Nothing dirty left before the active segment. */
    assert_int_equal(tr_partition_clean(part, T0 + 100, 1 << 20, 0, &st),
                     TR_ERR_AGAIN);

    read_all(part, 0, s);
    /* Rounds 0-2 are superseded by round 3 (closed) and 4 (active). */
    assert_int_equal(s->n, 20);
    for (i = 0; i < 10; i++) {
        char want[24];

        assert_int_equal(s->offset[i], 30 + i);
        snprintf(want, sizeof(want), "r3-k%d", i);
        assert_string_equal(s->value[i], want);
        assert_int_equal(s->offset[10 + i], 40 + i);
    }
    /* Offsets below the first kept record still read (the next one). */
    read_all(part, 5, s);
    assert_int_equal(s->offset[0], 30);
    tr_partition_unref(part);

    /* Reopened: the same records, indexes rebuilt. */
    part = open_part(f);
    read_all(part, 0, s);
    assert_int_equal(s->n, 20);
    assert_int_equal(s->offset[0], 30);
    tr_partition_unref(part);
    free(s);
}

static void
put(struct tr_partition *part, const struct rec *recs, int n, int64_t ts)
{
    struct tr_buf set;

    tr_buf_init(&set, 1 << 20);
    build(&set, TR_CODEC_NONE, recs, n, ts, -1, -1);
    append(part, &set);
    tr_buf_cleanup(&set);
}

static int
tombstones(const struct seen *s)
{
    int i, n = 0;

    for (i = 0; i < s->n; i++) {
        n += s->is_null[i];
    }
    return n;
}

static void
test_cleaner_partition_tombstones_expire(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_clean_stats st;
    struct seen *s = calloc(1, sizeof(*s));
    static const struct rec a[] = { { "k1", "v" },
                                    { "k2", "v" },
                                    { "k3", "v" } };
    static const struct rec b[] = { { "k1", NULL }, { "k2", NULL } };
    static const struct rec c[] = { { "k3", "v2" } };
    static const struct rec d[] = { { "k4", "v" } };
    static const struct rec e[] = { { "k5", "v" } };

    assert_non_null(s);
    f->cfg.segment_bytes = 100; /* one batch a segment */
    f->cfg.delete_retention_ms = 1000;
    part = open_part(f);
    put(part, a, 3, T0);       /* offsets 0-2 */
    put(part, b, 2, T0 + 50);  /* 3-4 */
    put(part, c, 1, T0 + 100); /* 5 */
    put(part, d, 1, T0 + 200); /* 6, active */

    /* Within delete.retention.ms the tombstones stay. */
    assert_int_equal(tr_partition_clean(part, T0 + 500, 1 << 20, 1, &st),
                     TR_OK);
    read_all(part, 0, s);
    assert_int_equal(s->n, 4);
    assert_int_equal(tombstones(s), 2);
    assert_int_equal(s->offset[0], 3);
    assert_int_equal(s->offset[2], 5);
    assert_string_equal(s->value[2], "v2");

    /* Nothing dirty: even a forced clean has nothing to do. */
    assert_int_equal(tr_partition_clean(part, T0 + 10000, 1 << 20, 1, &st),
                     TR_ERR_AGAIN);
    /* Past delete.retention.ms (fake clock) the next clean drops them. */
    put(part, e, 1, T0 + 300); /* 7; 6 is now closed and dirty */
    assert_int_equal(tr_partition_clean(part, T0 + 10000, 1 << 20, 1, &st),
                     TR_OK);
    read_all(part, 0, s);
    assert_int_equal(tombstones(s), 0);
    assert_int_equal(s->n, 3);
    assert_string_equal(s->key[0], "k3");
    assert_string_equal(s->key[1], "k4");
    assert_string_equal(s->key[2], "k5");
    tr_partition_unref(part);
    free(s);
}

static void
test_cleaner_partition_min_ratio_and_lag(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_clean_stats st;

    f->cfg.segment_bytes = 300;
    f->cfg.min_cleanable_ratio = 0.5;
    f->cfg.min_compaction_lag_ms = 1000;
    part = open_part(f);
    write_rounds(part, 4, T0, TR_CODEC_NONE);
    /* Every closed segment is younger than the lag: nothing cleanable. */
    assert_true(tr_partition_dirty_ratio(part, T0 + 500) == 0.0);
    assert_int_equal(tr_partition_clean(part, T0 + 500, 1 << 20, 0, &st),
                     TR_ERR_AGAIN);
    assert_true(tr_partition_dirty_ratio(part, T0 + 5000) > 0.99);
    assert_int_equal(tr_partition_clean(part, T0 + 5000, 1 << 20, 0, &st),
                     TR_OK);
    /* Cleaned: the ratio of the clean section alone is 0. */
    assert_true(tr_partition_dirty_ratio(part, T0 + 5000) == 0.0);
    tr_partition_unref(part);

    /* Not compacted: never cleaned. */
    f->cfg.cleanup_policy = TR_LOG_CLEANUP_DELETE;
    part = open_part(f);
    assert_int_equal(tr_partition_clean(part, T0 + 5000, 1 << 20, 1, &st),
                     TR_ERR_AGAIN);
    tr_partition_unref(part);
}

static void
test_cleaner_partition_keeps_producer_state(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_clean_stats st;
    struct tr_append_result res;
    struct tr_buf set;
    struct seen *s = calloc(1, sizeof(*s));
    static const struct rec a[] = { { "x", "1" } };
    static const struct rec b[] = { { "y", "1" } };

    assert_non_null(s);
    f->cfg.segment_bytes = 100;
    part = open_part(f);
    tr_buf_init(&set, 1 << 20);
    /* Producer 9 writes x (seq 0), then an unrelated y supersedes x. */
    build(&set, TR_CODEC_NONE, a, 1, T0, 9, 0);
    append(part, &set);
    build(&set, TR_CODEC_NONE, a, 1, T0 + 1, -1, -1);
    append(part, &set);
    build(&set, TR_CODEC_NONE, b, 1, T0 + 2, -1, -1);
    append(part, &set);
    assert_int_equal(tr_partition_clean(part, T0 + 10, 1 << 20, 1, &st), TR_OK);
    read_all(part, 0, s);
    assert_int_equal(s->empty_batches, 1); /* producer 9's, emptied */
    assert_int_equal(s->last_pid_offset, 0);
    tr_partition_unref(part);

    /* The sequence state survives a reopen: seq 1 is next, 0 a replay. */
    part = open_part(f);
    build(&set, TR_CODEC_NONE, a, 1, T0 + 3, 9, 0);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_OK);
    assert_true(res.duplicate);
    tr_buf_reset(&set);
    build(&set, TR_CODEC_NONE, a, 1, T0 + 3, 9, 1);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_OK);
    assert_false(res.duplicate);
    tr_buf_cleanup(&set);
    tr_partition_unref(part);
    free(s);
}

static void
test_cleaner_refuses_keyless_records(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_append_result res;
    struct tr_buf set;
    static const struct rec nokey[] = { { "k", "v" }, { NULL, "v" } };

    part = open_part(f);
    tr_buf_init(&set, 1 << 20);
    build(&set, TR_CODEC_GZIP, nokey, 2, T0, -1, -1);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_ERR_NO_KEY);
    /* The same batch goes to a log that is not compacted. */
    f->cfg.cleanup_policy = TR_LOG_CLEANUP_DELETE;
    tr_partition_set_config(part, &f->cfg);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_OK);
    tr_buf_cleanup(&set);
    tr_partition_unref(part);
}

/* ---------------------------------------------------------------------- */
/* Crash safety of the swap                                                */

/*
 * Builds a log of two closed segments and an active one, and returns in
 * 'cleaned' what cleaning the first segment produces.
 */
static void
crash_setup(struct fixture *f, struct tr_buf *cleaned)
{
    struct tr_partition *part;
    struct tr_cleaner_map *map;
    struct tr_cleaner_filter flt;
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    char path[256];
    int in, out;
    int64_t size;
    struct stat st;

    f->cfg.segment_bytes = 300;
    part = open_part(f);
    write_rounds(part, 3, T0, TR_CODEC_NONE);
    tr_partition_unref(part);

    /* Segment 0 cleaned against round 1's keys: empty but for nothing. */
    map = tr_cleaner_map_new(1 << 16, 16);
    assert_non_null(map);
    assert_int_equal(tr_cleaner_map_put(map, "k0", 2, 10), TR_OK);
    assert_int_equal(tr_cleaner_map_put(map, "k1", 2, 11), TR_OK);
    memset(&flt, 0, sizeof(flt));
    flt.map = map;
    flt.max_bytes = 1 << 20;
    snprintf(path, sizeof(path), "%s/%020d.log", f->dir, 0);
    in = open(path, O_RDONLY);
    assert_true(in >= 0);
    assert_int_equal(fstat(in, &st), 0);
    snprintf(path, sizeof(path), "%s/%020d.log.cleaned", f->dir, 0);
    out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(out >= 0);
    assert_int_equal(
        tr_cleaner_rewrite_file(&flt, in, st.st_size, out, &size, &counts),
        TR_OK);
    assert_int_equal(counts.records_removed, 2);
    assert_true(size < st.st_size);
    tr_buf_init(cleaned, 1 << 20);
    assert_int_equal(tr_buf_reserve(cleaned, (size_t)size), TR_OK);
    {
        uint8_t *tmp = malloc((size_t)size);

        assert_int_equal(pread(out, tmp, (size_t)size, 0), (ssize_t)size);
        tr_buf_put_bytes(cleaned, tmp, (size_t)size);
        free(tmp);
    }
    close(in);
    close(out);
    tr_cleaner_map_free(map);
}

static void
check_log(struct fixture *f, int cleaned_first)
{
    struct tr_partition *part = open_part(f);
    struct seen *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    read_all(part, 0, s);
    assert_int_equal(s->n, cleaned_first ? 28 : 30);
    assert_string_equal(s->key[0], cleaned_first ? "k2" : "k0");
    assert_int_equal(s->offset[0], cleaned_first ? 2 : 0);
    assert_int_equal(s->offset[s->n - 1], 29);
    assert_int_equal(count_suffix(f->dir, ".cleaned"), 0);
    assert_int_equal(count_suffix(f->dir, ".swap"), 0);
    assert_int_equal(count_suffix(f->dir, ".log"), 3);
    tr_partition_unref(part);
    free(s);
}

static void
test_cleaner_crash_leaves_cleaned(void **state)
{
    struct fixture *f = *state;
    struct tr_buf cleaned;

    /* Crash while writing .cleaned: discarded, the old segment stays. */
    crash_setup(f, &cleaned);
    check_log(f, 0);
    tr_buf_cleanup(&cleaned);
}

static void
test_cleaner_crash_leaves_swap(void **state)
{
    struct fixture *f = *state;
    struct tr_buf cleaned;
    char from[256], to[256];

    /* Crash after the rename to .swap: the swap is completed. */
    crash_setup(f, &cleaned);
    snprintf(from, sizeof(from), "%s/%020d.log.cleaned", f->dir, 0);
    snprintf(to, sizeof(to), "%s/%020d.log.swap", f->dir, 0);
    assert_int_equal(rename(from, to), 0);
    check_log(f, 1);
    tr_buf_cleanup(&cleaned);
}

static void
test_cleaner_crash_after_index_unlink(void **state)
{
    struct fixture *f = *state;
    struct tr_buf cleaned;
    char from[256], to[256];

    /* Crash after the old indexes went, before .swap replaced the log. */
    crash_setup(f, &cleaned);
    snprintf(from, sizeof(from), "%s/%020d.log.cleaned", f->dir, 0);
    snprintf(to, sizeof(to), "%s/%020d.log.swap", f->dir, 0);
    assert_int_equal(rename(from, to), 0);
    snprintf(to, sizeof(to), "%s/%020d.index", f->dir, 0);
    assert_int_equal(unlink(to), 0);
    snprintf(to, sizeof(to), "%s/%020d.timeindex", f->dir, 0);
    assert_int_equal(unlink(to), 0);
    check_log(f, 1);
    tr_buf_cleanup(&cleaned);
}

static void
test_cleaner_crash_after_swap_rename(void **state)
{
    struct fixture *f = *state;
    struct tr_buf cleaned;
    char from[256], to[256];

    /* Crash right after .swap became .log: the indexes are rebuilt. */
    crash_setup(f, &cleaned);
    snprintf(to, sizeof(to), "%s/%020d.index", f->dir, 0);
    assert_int_equal(unlink(to), 0);
    snprintf(to, sizeof(to), "%s/%020d.timeindex", f->dir, 0);
    assert_int_equal(unlink(to), 0);
    snprintf(from, sizeof(from), "%s/%020d.log.cleaned", f->dir, 0);
    snprintf(to, sizeof(to), "%s/%020d.log", f->dir, 0);
    assert_int_equal(rename(from, to), 0);
    check_log(f, 1);
    tr_buf_cleanup(&cleaned);
}

/* Every allocation of a cleaning failing in turn: no crash, no leak, and
 * the log reads the same whatever step failed. */
static void
test_cleaner_partition_oom_loop(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_clean_stats st;
    struct seen *s = calloc(1, sizeof(*s));
    tr_err_t err = TR_ERR_NOMEM;
    long n;
    int i;

    assert_non_null(s);
    f->cfg.segment_bytes = 300;
    part = open_part(f);
    write_rounds(part, 5, T0, TR_CODEC_GZIP);
    for (n = 0; n < 100000 && err != TR_OK; n++) {
        tr_alloc_fail_after(n);
        err = tr_partition_clean(part, T0 + 100, 1 << 20, 1, &st);
        tr_alloc_fail_after(-1);
        if (err != TR_OK && err != TR_ERR_NOMEM && err != TR_ERR_AGAIN) {
            fail_msg("step %ld: %s", n, tr_err_str(err));
        }
        if (err == TR_ERR_AGAIN) {
            break; /* an earlier step cleaned everything */
        }
    }
    read_all(part, 0, s);
    assert_int_equal(s->n, 20);
    for (i = 0; i < 10; i++) {
        assert_int_equal(s->offset[i], 30 + i);
    }
    assert_int_equal(count_suffix(f->dir, ".cleaned"), 0);
    assert_int_equal(count_suffix(f->dir, ".swap"), 0);
    tr_partition_unref(part);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cleaner_map_put_get),
        cmocka_unit_test(test_cleaner_map_fills_at_ninety_percent),
        cmocka_unit_test(test_cleaner_filter_keeps_last_per_key),
        cmocka_unit_test(test_cleaner_filter_gzip_recompressed),
        cmocka_unit_test(test_cleaner_filter_unchanged_batch_is_copied),
        cmocka_unit_test(test_cleaner_filter_tombstones_by_horizon),
        cmocka_unit_test(test_cleaner_filter_keeps_empty_producer_batch),
        cmocka_unit_test(test_cleaner_filter_drops_aborted),
        cmocka_unit_test(test_cleaner_filter_drops_markers),
        cmocka_unit_test(test_cleaner_filter_rejects_corrupt),
        cmocka_unit_test_setup_teardown(test_cleaner_partition_compacts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_cleaner_partition_tombstones_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cleaner_partition_min_ratio_and_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cleaner_partition_keeps_producer_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_refuses_keyless_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_partition_oom_loop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_crash_leaves_cleaned,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_crash_leaves_swap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_crash_after_index_unlink,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_crash_after_swap_rename,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
