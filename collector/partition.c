/*
 * partition -- the commit log of one topic partition: a sorted array of
 * segments, the newest active, with offsets assignment, rolling, flushing,
 * recovery at open and idempotent-producer checks. See partition.h.
 *
 * Locks: part->lock guards all state and is held only for short, page-cache
 * work. fsync never runs under it: part->flush_lock serialises the syncs,
 * which work on dups of the descriptors, and is always taken before
 * part->lock (never the other way round). A segment sealed by a roll is
 * queued in roll_fds and synced by the next flush, which the rolling thread
 * runs itself right after dropping part->lock; the recovery point only
 * moves once every segment below it has been synced.
 */
#include "partition.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "producers.h"
#include "segment.h"

struct tr_partition {
    pthread_mutex_t lock;
    pthread_mutex_t flush_lock; /* taken before 'lock', see above */
    atomic_int refs;
    atomic_int deleted;
    char *dir;
    char *topic;
    int32_t index;
    struct tr_log_config cfg;

    struct tr_segment **segs; /* sorted by base offset; the last is active */
    size_t nsegs;
    size_t segs_cap;

    int64_t log_start;
    int64_t high_watermark;
    int64_t log_end;
    int32_t leader_epoch;
    int64_t recovery_point;
    int64_t unflushed;     /* records appended since the last flush */
    int64_t last_flush_ms; /* wall clock, as tr_partition_tick's 'now_ms' */
    int *roll_fds;         /* dups of sealed segments not yet synced */
    size_t nroll_fds;
    size_t roll_fds_cap;
    int failed; /* an fsync failed: the log may have lost data, refuse writes */

    struct tr_producers *producers;
    /* Scratch for tr_partition_append, kept to avoid allocating per call. */
    struct tr_producer_batch *pending;
    size_t pending_cap;
};

void
tr_log_config_defaults(struct tr_log_config *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 604800000;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10485760;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->max_message_bytes = 1000012;
    cfg->retention_ms = 604800000;
    cfg->retention_bytes = -1;
}

static struct tr_segment *
active(const struct tr_partition *part)
{
    return part->segs[part->nsegs - 1];
}

static tr_err_t
push_segment(struct tr_partition *part, struct tr_segment *seg)
{
    struct tr_segment **segs;
    size_t cap;

    if (part->nsegs == part->segs_cap) {
        cap = part->segs_cap ? part->segs_cap * 2 : 8;
        segs = tr_realloc(part->segs, cap * sizeof(*segs));
        if (segs == NULL) {
            return TR_ERR_NOMEM;
        }
        part->segs = segs;
        part->segs_cap = cap;
    }
    part->segs[part->nsegs++] = seg;
    return TR_OK;
}

/* 1 if 'name' is "<20 digits>.log"; the base offset goes to *base. */
static int
parse_log_name(const char *name, int64_t *base)
{
    char *end;
    long long v;
    size_t i;

    if (strlen(name) != TR_SEGMENT_NAME_DIGITS + 4 ||
        strcmp(name + TR_SEGMENT_NAME_DIGITS, ".log") != 0) {
        return 0;
    }
    for (i = 0; i < TR_SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return 0;
        }
    }
    errno = 0;
    v = strtoll(name, &end, 10);
    if (errno != 0 || end != name + TR_SEGMENT_NAME_DIGITS || v < 0) {
        return 0;
    }
    *base = v;
    return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Returns an owned, sorted array of the segment base offsets in 'dir'. */
static tr_err_t
list_segments(const char *dir, int64_t **out, size_t *count)
{
    tr_err_t err = TR_ERR_IO;
    DIR *d;
    struct dirent *de;
    int64_t *bases = NULL;
    int64_t *tmp;
    size_t n = 0, cap = 0;
    int64_t base;

    d = opendir(dir);
    if (d == NULL) {
        tr_log_error("partition %s: opendir: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        if (!parse_log_name(de->d_name, &base)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            tmp = tr_realloc(bases, cap * sizeof(*bases));
            if (tmp == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            bases = tmp;
        }
        bases[n++] = base;
    }
    if (n > 0) {
        qsort(bases, n, sizeof(*bases), cmp_i64);
    }
    *out = bases;
    *count = n;
    bases = NULL;
    err = TR_OK;
out:
    if (d != NULL) {
        closedir(d);
    }
    tr_free(bases);
    return err;
}

/* Unlinks the segment files of base 'base' in 'dir' (they may not exist). */
static void
unlink_segment_files(const char *dir, int64_t base)
{
    static const char *const suffixes[] = { ".log", ".index", ".timeindex" };
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", dir, base,
                 suffixes[i]);
        (void)unlink(path);
    }
}

static tr_err_t
replay_header(const struct tr_batch_header *h, off_t pos, void *arg)
{
    struct tr_producers *ps = arg;
    struct tr_producer_batch b;

    (void)pos;
    if (h->ProducerId < 0 || h->BaseSequence < 0 ||
        (h->Attributes & TR_BATCH_ATTR_CONTROL)) {
        return TR_OK;
    }
    b.producer_id = h->ProducerId;
    b.epoch = h->ProducerEpoch;
    b.first_seq = h->BaseSequence;
    b.last_seq = tr_producers_last_seq(h->BaseSequence, h->LastOffsetDelta);
    b.first_offset = h->BaseOffset;
    b.last_offset = h->BaseOffset + h->LastOffsetDelta;
    return tr_producers_update(ps, &b);
}

/*
 * Opens the segments listed in 'bases'. With 'recover', those from the one
 * holding 'recovery_point' on (and always the last) are validated batch by
 * batch. The first segment that recovery truncates, or whose offsets go
 * backwards, ends the log: every later segment is deleted.
 */
static tr_err_t
open_segments(struct tr_partition *part, const int64_t *bases, size_t n,
              int recover, int64_t recovery_point)
{
    tr_err_t err = TR_OK;
    struct tr_segment *seg = NULL;
    size_t first_recover = n;
    size_t i, j;
    int64_t base;
    char path[4096];
    struct stat st;
    int flags;
    int cut = 0;

    if (recover) {
        first_recover = n - 1;
        for (i = 0; i < n; i++) {
            if (bases[i] <= recovery_point) {
                first_recover = i;
            }
        }
    }
    for (i = 0; i < n && !cut; i++) {
        flags = i == n - 1 ? TR_SEGMENT_ACTIVE : 0;
        if (i >= first_recover) {
            flags |= TR_SEGMENT_RECOVER;
        }
        err = tr_segment_open(part->dir, bases[i], flags,
                              part->cfg.segment_index_bytes,
                              part->cfg.index_interval_bytes, &seg);
        if (err != TR_OK) {
            goto out;
        }
        if (part->nsegs > 0 && tr_segment_base_offset(seg) <
                                   tr_segment_next_offset(active(part))) {
            tr_log_warn("partition %s: segment %020" PRId64 " overlaps the "
                        "one before (which ends at offset %" PRId64 ")",
                        part->dir, bases[i],
                        tr_segment_next_offset(active(part)));
            tr_segment_close(seg);
            seg = NULL;
            cut = 1;
            break; /* this one is dropped below with the rest */
        }
        if (tr_segment_truncated_bytes(seg) > 0) {
            cut = 1;
        }
        err = push_segment(part, seg);
        if (err != TR_OK) {
            goto out;
        }
        seg = NULL;
    }
    if (cut) {
        for (j = i; j < n; j++) {
            snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", part->dir,
                     bases[j]);
            tr_log_warn("partition %s: deleting segment %020" PRId64
                        " (%lld bytes, offsets from %" PRId64 " on) after "
                        "the corruption before it",
                        part->dir, bases[j],
                        stat(path, &st) == 0 ? (long long)st.st_size : -1LL,
                        bases[j]);
            unlink_segment_files(part->dir, bases[j]);
        }
    }
    /* A cut may leave an inactive segment last: reopen it as active. */
    if (part->nsegs > 0 && part->nsegs < n) {
        seg = part->segs[part->nsegs - 1];
        base = tr_segment_base_offset(seg);
        tr_segment_close(seg);
        part->nsegs--;
        seg = NULL;
        err = tr_segment_open(part->dir, base, TR_SEGMENT_ACTIVE,
                              part->cfg.segment_index_bytes,
                              part->cfg.index_interval_bytes, &seg);
        if (err != TR_OK) {
            goto out;
        }
        err = push_segment(part, seg);
        if (err != TR_OK) {
            goto out;
        }
        seg = NULL;
    }
out:
    tr_segment_close(seg);
    return err;
}

static void
partition_free(struct tr_partition *part)
{
    size_t i;

    if (part == NULL) {
        return;
    }
    for (i = 0; i < part->nsegs; i++) {
        tr_segment_close(part->segs[i]);
    }
    for (i = 0; i < part->nroll_fds; i++) {
        close(part->roll_fds[i]);
    }
    tr_free(part->roll_fds);
    tr_free(part->segs);
    tr_producers_free(part->producers);
    tr_free(part->pending);
    tr_free(part->dir);
    tr_free(part->topic);
    pthread_mutex_destroy(&part->lock);
    pthread_mutex_destroy(&part->flush_lock);
    tr_free(part);
}

tr_err_t
tr_partition_open(const char *dir, const char *topic, int32_t index,
                  const struct tr_log_config *cfg, int recover,
                  int64_t recovery_point, struct tr_partition **out)
{
    tr_err_t err = TR_ERR_NOMEM;
    struct tr_partition *part;
    struct tr_segment *seg = NULL;
    int64_t *bases = NULL;
    size_t nbases = 0;
    size_t i;

    part = tr_calloc(1, sizeof(*part));
    if (part == NULL) {
        goto out;
    }
    pthread_mutex_init(&part->lock, NULL);
    pthread_mutex_init(&part->flush_lock, NULL);
    atomic_init(&part->refs, 1);
    atomic_init(&part->deleted, 0);
    part->index = index;
    part->cfg = *cfg;
    part->dir = tr_strdup(dir);
    part->topic = tr_strdup(topic);
    part->producers = tr_producers_new();
    if (part->dir == NULL || part->topic == NULL || part->producers == NULL) {
        goto out;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        tr_log_error("partition %s: mkdir: %s", dir, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    err = list_segments(dir, &bases, &nbases);
    if (err != TR_OK) {
        goto out;
    }
    if (nbases > 0) {
        err = open_segments(part, bases, nbases, recover, recovery_point);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (part->nsegs == 0) {
        err =
            tr_segment_open(dir, 0, TR_SEGMENT_ACTIVE, cfg->segment_index_bytes,
                            cfg->index_interval_bytes, &seg);
        if (err != TR_OK) {
            goto out;
        }
        err = push_segment(part, seg);
        if (err != TR_OK) {
            goto out;
        }
        seg = NULL;
    }
    part->log_start = tr_segment_base_offset(part->segs[0]);
    part->log_end = tr_segment_next_offset(active(part));
    part->high_watermark = part->log_end;
    part->leader_epoch = 0;
    /* After a clean shutdown everything on disk was fsynced at close. */
    part->recovery_point = recover && recovery_point < part->log_end
                               ? recovery_point
                               : part->log_end;
    if (part->recovery_point < part->log_start) {
        part->recovery_point = part->log_start;
    }
    part->last_flush_ms = tr_clock_wall_ms();
    for (i = 0; i < part->nsegs; i++) {
        err = tr_segment_foreach_header(part->segs[i], replay_header,
                                        part->producers);
        if (err != TR_OK) {
            goto out;
        }
    }
    tr_log_debug("partition %s: opened, offsets %" PRId64 "..%" PRId64
                 " in %zu segments, %zu producers",
                 dir, part->log_start, part->log_end, part->nsegs,
                 tr_producers_count(part->producers));
    *out = part;
    part = NULL;
    err = TR_OK;
out:
    tr_segment_close(seg);
    tr_free(bases);
    partition_free(part);
    return err;
}

/* Removes every file of the partition directory, then the directory. */
static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (unlink(path) != 0) {
                tr_log_warn("partition %s: unlink %s: %s", dir, path,
                            strerror(errno));
            }
        }
        closedir(d);
    }
    if (rmdir(dir) != 0) {
        tr_log_warn("partition %s: rmdir: %s", dir, strerror(errno));
    }
}

void
tr_partition_ref(struct tr_partition *part)
{
    if (part != NULL) {
        atomic_fetch_add(&part->refs, 1);
    }
}

void
tr_partition_unref(struct tr_partition *part)
{
    if (part == NULL || atomic_fetch_sub(&part->refs, 1) != 1) {
        return;
    }
    /* The last reference: no other thread can reach the partition now. */
    if (atomic_load(&part->deleted)) {
        /* Open descriptors and mappings stay usable after the unlinks. */
        remove_dir(part->dir);
        partition_free(part);
        return;
    }
    /* fsync on close always, whatever the flush policy. */
    if (tr_partition_flush(part) != TR_OK ||
        tr_segment_seal(active(part)) != TR_OK ||
        tr_segment_flush(active(part)) != TR_OK) {
        tr_log_error("partition %s: could not flush at close", part->dir);
    }
    partition_free(part);
}

void
tr_partition_mark_deleted(struct tr_partition *part)
{
    atomic_store(&part->deleted, 1);
}

const char *
tr_partition_topic(const struct tr_partition *part)
{
    return part->topic;
}

int32_t
tr_partition_index(const struct tr_partition *part)
{
    return part->index;
}

const char *
tr_partition_dir(const struct tr_partition *part)
{
    return part->dir;
}

/*
 * Makes a new active segment at the log end after sealing the current one,
 * whose descriptor is queued for the next flush; *sync is set so that the
 * caller runs that flush once it drops the lock. Does nothing when the
 * active segment is empty. Caller holds part->lock.
 */
static tr_err_t
roll(struct tr_partition *part, int *sync)
{
    tr_err_t err = TR_OK;
    struct tr_segment *old = active(part);
    struct tr_segment *seg = NULL;
    int *fds;
    int fd = -1;
    size_t cap;

    if (tr_segment_size(old) == 0) {
        goto out;
    }
    if (part->nroll_fds == part->roll_fds_cap) {
        cap = part->roll_fds_cap ? part->roll_fds_cap * 2 : 4;
        fds = tr_realloc(part->roll_fds, cap * sizeof(*fds));
        if (fds == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        part->roll_fds = fds;
        part->roll_fds_cap = cap;
    }
    fd = fcntl(tr_segment_fd(old), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        tr_log_error("partition %s: dup: %s", part->dir, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    /* Leftovers at this base would be past the log end: never valid. */
    unlink_segment_files(part->dir, part->log_end);
    err = tr_segment_open(part->dir, part->log_end, TR_SEGMENT_ACTIVE,
                          part->cfg.segment_index_bytes,
                          part->cfg.index_interval_bytes, &seg);
    if (err != TR_OK) {
        goto out;
    }
    err = push_segment(part, seg);
    if (err != TR_OK) {
        goto out;
    }
    seg = NULL;
    /* From here on nothing can fail: the old segment is no longer active. */
    (void)tr_segment_seal(old);
    part->roll_fds[part->nroll_fds++] = fd;
    fd = -1;
    *sync = 1;
    tr_log_debug("partition %s: rolled to segment %020" PRId64, part->dir,
                 part->log_end);
out:
    if (seg != NULL) {
        tr_segment_delete(seg);
    }
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

/* Whether the record set of 'len' bytes and 'records' offsets must roll. */
static int
must_roll(const struct tr_partition *part, size_t len, int64_t records,
          int64_t now_ms)
{
    const struct tr_segment *seg = active(part);
    int64_t size = tr_segment_size(seg);

    if (size == 0) {
        return 0;
    }
    return size + (int64_t)len > part->cfg.segment_bytes ||
           size + (int64_t)len > INT32_MAX || tr_segment_index_full(seg) ||
           part->log_end + records - 1 - tr_segment_base_offset(seg) >
               INT32_MAX ||
           now_ms - tr_segment_created_ms(seg) > part->cfg.segment_ms;
}

static tr_err_t
pending_reserve(struct tr_partition *part, size_t n)
{
    struct tr_producer_batch *tmp;
    size_t cap;

    if (n <= part->pending_cap) {
        return TR_OK;
    }
    cap = part->pending_cap ? part->pending_cap * 2 : 4;
    while (cap < n) {
        cap *= 2;
    }
    tmp = tr_realloc(part->pending, cap * sizeof(*tmp));
    if (tmp == NULL) {
        return TR_ERR_NOMEM;
    }
    part->pending = tmp;
    part->pending_cap = cap;
    return TR_OK;
}

/* Whether the sequence rules apply to a batch. */
static int
is_idempotent(const struct tr_batch_header *h)
{
    return h->ProducerId >= 0 && h->BaseSequence >= 0 &&
           !(h->Attributes & TR_BATCH_ATTR_CONTROL);
}

tr_err_t
tr_partition_append(struct tr_partition *part, uint8_t *records, size_t len,
                    struct tr_append_result *res)
{
    tr_err_t err = TR_ERR_INVALID;
    struct tr_slice s;
    struct tr_batch_header h;
    struct tr_producer_batch b, orig, first_dup, last_dup;
    const uint8_t *batch;
    size_t blen;
    size_t nbatches = 0, npending = 0, ndup = 0, i;
    int64_t count = 0, offset, now_ms;
    int flush = 0;

    memset(res, 0, sizeof(*res));
    res->base_offset = -1;
    res->last_offset = -1;
    res->log_append_time = -1;
    if (len == 0) {
        return TR_ERR_INVALID;
    }
    pthread_mutex_lock(&part->lock);
    res->log_start_offset = part->log_start;
    if (part->failed) {
        err = TR_ERR_IO;
        goto out;
    }

    /* 1. Validate every batch and check sequences before writing any. */
    tr_slice_init(&s, records, len);
    while ((err = tr_batch_next(&s, &batch, &blen)) == TR_OK) {
        if (blen > (size_t)part->cfg.max_message_bytes) {
            err = TR_ERR_TOO_LARGE;
            goto out;
        }
        err = tr_batch_validate(batch, blen, &h);
        if (err != TR_OK) {
            err = err == TR_ERR_UNSUPPORTED ? err : TR_ERR_CORRUPT;
            goto out;
        }
        nbatches++;
        count += (int64_t)h.LastOffsetDelta + 1;
        if (!is_idempotent(&h)) {
            continue;
        }
        b.producer_id = h.ProducerId;
        b.epoch = h.ProducerEpoch;
        b.first_seq = h.BaseSequence;
        b.last_seq = tr_producers_last_seq(h.BaseSequence, h.LastOffsetDelta);
        b.first_offset = b.last_offset = -1;
        err = tr_producers_check(part->producers, &b, part->pending, npending,
                                 &orig);
        if (err == TR_ERR_DUPLICATE) {
            if (ndup == 0) {
                first_dup = orig;
            }
            last_dup = orig;
            ndup++;
            continue;
        }
        if (err != TR_OK) {
            goto out;
        }
        err = pending_reserve(part, npending + 1);
        if (err != TR_OK) {
            goto out;
        }
        part->pending[npending++] = b;
    }
    if (err != TR_ERR_NOT_FOUND) {
        err = TR_ERR_CORRUPT; /* a torn or undersized trailing batch */
        goto out;
    }
    /*
     * A retry of batches already written is answered with their original
     * offsets. A record set that mixes retried and new batches cannot come
     * from a correct client (Kafka allows one batch per partition).
     */
    if (ndup > 0) {
        if (ndup != nbatches) {
            err = TR_ERR_SEQUENCE;
            goto out;
        }
        res->base_offset = first_dup.first_offset;
        res->last_offset = last_dup.last_offset;
        res->duplicate = 1;
        err = TR_OK;
        goto out;
    }
    for (i = 0; i < npending; i++) {
        err =
            tr_producers_reserve(part->producers, part->pending[i].producer_id);
        if (err != TR_OK) {
            goto out;
        }
    }

    /* 2. Roll if the record set does not belong in the active segment. */
    now_ms = tr_clock_wall_ms();
    if (must_roll(part, len, count, now_ms)) {
        err = roll(part, &flush);
        if (err != TR_OK) {
            goto out;
        }
    }

    /* 3. Assign offsets and the leader epoch, in place. */
    offset = part->log_end;
    tr_slice_init(&s, records, len);
    i = 0;
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        (void)tr_batch_header_parse(batch, blen, &h);
        tr_batch_set_base_offset((uint8_t *)batch, offset);
        tr_batch_set_leader_epoch((uint8_t *)batch, part->leader_epoch);
        if (is_idempotent(&h)) {
            part->pending[i].first_offset = offset;
            part->pending[i].last_offset = offset + h.LastOffsetDelta;
            i++;
        }
        offset += (int64_t)h.LastOffsetDelta + 1;
    }

    /* 4. One write; on failure nothing of it stays and LEO is unchanged. */
    err = tr_segment_append(active(part), records, len,
                            part->cfg.index_interval_bytes, now_ms);
    if (err != TR_OK) {
        goto out;
    }
    res->base_offset = part->log_end;
    res->last_offset = offset - 1;
    part->log_end = offset;
    part->high_watermark = offset;
    for (i = 0; i < npending; i++) {
        (void)tr_producers_update(part->producers, &part->pending[i]);
    }
    part->unflushed += count;
    if (part->unflushed >= part->cfg.flush_messages) {
        flush = 1;
    }
    err = TR_OK;
out:
    pthread_mutex_unlock(&part->lock);
    if (flush) {
        /*
         * The data is appended either way (and a roll done); a failed fsync
         * is logged and fails the partition for later appends.
         */
        (void)tr_partition_flush(part);
    }
    return err;
}

/* The index of the segment holding 'offset': the greatest base <= it. */
static size_t
find_segment(const struct tr_partition *part, int64_t offset)
{
    size_t lo = 0, hi = part->nsegs, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (tr_segment_base_offset(part->segs[mid]) <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo > 0 ? lo - 1 : 0;
}

tr_err_t
tr_partition_read(struct tr_partition *part, int64_t offset, size_t max_bytes,
                  int64_t max_offset, struct tr_read_result *res)
{
    tr_err_t err = TR_ERR_OUT_OF_RANGE;
    size_t i;
    off_t pos = 0;
    size_t len = 0;
    int fd;

    res->fd = -1;
    res->pos = 0;
    res->len = 0;
    pthread_mutex_lock(&part->lock);
    if (offset < part->log_start || offset > part->log_end) {
        goto out;
    }
    if (max_offset > part->log_end) {
        max_offset = part->log_end;
    }
    err = TR_OK;
    if (offset >= max_offset) {
        goto out; /* nothing readable yet: not an error */
    }
    /*
     * Later segments are tried when 'offset' falls past the last batch of
     * one (offsets removed by compaction, or a gap at a segment's end).
     */
    for (i = find_segment(part, offset); i < part->nsegs; i++) {
        err = tr_segment_read_range(part->segs[i], offset, max_bytes,
                                    max_offset, &pos, &len);
        if (err != TR_OK || len > 0) {
            break;
        }
    }
    if (err != TR_OK || len == 0) {
        goto out;
    }
    fd = fcntl(tr_segment_fd(part->segs[i]), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        tr_log_error("partition %s: dup: %s", part->dir, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    res->fd = fd;
    res->pos = pos;
    res->len = len;
out:
    pthread_mutex_unlock(&part->lock);
    return err;
}

void
tr_partition_offsets(struct tr_partition *part,
                     struct tr_partition_offsets *offs)
{
    size_t i;

    pthread_mutex_lock(&part->lock);
    offs->log_start = part->log_start;
    offs->high_watermark = part->high_watermark;
    offs->last_stable = part->high_watermark;
    offs->log_end = part->log_end;
    offs->leader_epoch = part->leader_epoch;
    offs->size_bytes = 0;
    for (i = 0; i < part->nsegs; i++) {
        offs->size_bytes += tr_segment_size(part->segs[i]);
    }
    pthread_mutex_unlock(&part->lock);
}

tr_err_t
tr_partition_offset_for_time(struct tr_partition *part, int64_t timestamp,
                             int64_t *offset, int64_t *ts)
{
    tr_err_t err = TR_OK;
    size_t i;

    *offset = -1;
    *ts = -1;
    pthread_mutex_lock(&part->lock);
    for (i = 0; i < part->nsegs; i++) {
        if (tr_segment_max_timestamp(part->segs[i]) < timestamp) {
            continue;
        }
        err = tr_segment_find_time(part->segs[i], timestamp, offset, ts);
        if (err != TR_ERR_NOT_FOUND) {
            break;
        }
        err = TR_OK;
    }
    pthread_mutex_unlock(&part->lock);
    return err;
}

tr_err_t
tr_partition_flush(struct tr_partition *part)
{
    tr_err_t err = TR_OK;
    int64_t target, count;
    int *fds;
    size_t nfds, i;
    int fd;

    pthread_mutex_lock(&part->flush_lock);
    pthread_mutex_lock(&part->lock);
    target = part->log_end;
    count = part->unflushed;
    fds = part->roll_fds;
    nfds = part->nroll_fds;
    part->roll_fds = NULL;
    part->nroll_fds = part->roll_fds_cap = 0;
    fd = fcntl(tr_segment_fd(active(part)), F_DUPFD_CLOEXEC, 0);
    pthread_mutex_unlock(&part->lock);

    /*
     * Sealed segments first, then the active one; everything below 'target'
     * is in one of them (older segments were synced by earlier flushes).
     * Indexes are not synced: recovery rebuilds them from the log.
     */
    for (i = 0; i < nfds; i++) {
        if (fdatasync(fds[i]) != 0) {
            tr_log_error("partition %s: fdatasync of a rolled segment: %s",
                         part->dir, strerror(errno));
            err = TR_ERR_IO;
        }
        close(fds[i]);
    }
    tr_free(fds);
    if (fd < 0 || fdatasync(fd) != 0) {
        tr_log_error("partition %s: fdatasync: %s", part->dir, strerror(errno));
        err = TR_ERR_IO;
    }
    if (fd >= 0) {
        close(fd);
    }

    pthread_mutex_lock(&part->lock);
    if (err == TR_OK) {
        if (target > part->recovery_point) {
            part->recovery_point = target;
        }
        part->unflushed -= count;
        if (part->unflushed < 0) {
            part->unflushed = 0;
        }
        part->last_flush_ms = tr_clock_wall_ms();
    } else if (!part->failed) {
        /*
         * After a failed fsync the kernel may have dropped the dirty pages
         * and a retry can "succeed" without them, so the log can no longer
         * be trusted to hold what it acknowledged: stop taking writes, as
         * Kafka takes the log directory offline.
         */
        part->failed = 1;
        tr_log_error("partition %s: fsync failed, refusing further appends",
                     part->dir);
    }
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_unlock(&part->flush_lock);
    return err;
}

int64_t
tr_partition_recovery_point(struct tr_partition *part)
{
    int64_t rp;

    pthread_mutex_lock(&part->lock);
    rp = part->recovery_point;
    pthread_mutex_unlock(&part->lock);
    return rp;
}

void
tr_partition_tick(struct tr_partition *part, int64_t now_ms)
{
    struct tr_segment *seg;
    int flush = 0;

    pthread_mutex_lock(&part->lock);
    seg = active(part);
    if (tr_segment_size(seg) > 0 &&
        now_ms - tr_segment_created_ms(seg) > part->cfg.segment_ms) {
        if (roll(part, &flush) != TR_OK) {
            tr_log_error("partition %s: roll by age failed", part->dir);
        }
    }
    if (part->unflushed > 0 &&
        now_ms - part->last_flush_ms >= part->cfg.flush_ms) {
        flush = 1;
    }
    pthread_mutex_unlock(&part->lock);
    if (flush) {
        (void)tr_partition_flush(part);
    }
}

void
tr_partition_set_config(struct tr_partition *part,
                        const struct tr_log_config *cfg)
{
    pthread_mutex_lock(&part->lock);
    part->cfg = *cfg;
    pthread_mutex_unlock(&part->lock);
}
