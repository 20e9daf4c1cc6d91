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
 *
 * Retention, DeleteRecords and the log cleaner are at the end of the file.
 * part->clean_lock lets one cleaning at a time work on a partition without
 * holding part->lock; it never waits (trylock), so it has no place in the
 * lock order. A cleaned segment is swapped in under part->lock only if the
 * segment it replaces is still there (retention may have deleted it).
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
#include "cleaner.h"
#include "clock.h"
#include "log.h"
#include "producers.h"
#include "segment.h"
#include "txns.h"

/* One line of the leader-epoch cache: 'epoch' began at offset 'start'. */
struct epoch_entry {
    int32_t epoch;
    int64_t start;
};

/* A segment renamed to .deleted, unlinked when 'due_ms' has passed. */
struct pending_delete {
    int64_t base;
    int64_t due_ms;
};

struct tr_partition {
    pthread_mutex_t lock;
    pthread_mutex_t flush_lock; /* taken before 'lock', see above */
    pthread_mutex_t clean_lock; /* only ever trylock'ed, see above */
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
    /*
     * The last value handed to tr_partition_set_high_watermark, before it
     * was capped at the log end: on a follower, the leader's high
     * watermark, which tells how far behind this copy is (-1: never set).
     */
    int64_t hw_offered;
    /*
     * Replication (see partition.h): 'replicated' stops the high watermark
     * from following the log end; the leader-epoch cache maps each epoch to
     * the first offset written in it, ascending.
     */
    int replicated;
    struct epoch_entry *epochs;
    size_t nepochs;
    size_t epochs_cap;
    int64_t recovery_point;
    int64_t unflushed;     /* records appended since the last flush */
    int64_t last_flush_ms; /* wall clock, as tr_partition_tick's 'now_ms' */
    int *roll_fds;         /* dups of sealed segments not yet synced */
    size_t nroll_fds;
    size_t roll_fds_cap;
    int failed; /* an fsync failed: the log may have lost data, refuse writes */

    int64_t first_dirty; /* the log is compacted below this offset */
    struct pending_delete *deletes;
    size_t ndeletes;
    size_t deletes_cap;

    struct tr_producers *producers;
    struct tr_txns *txns; /* open transactions, aborted index (txns.h) */
    int replay_fd;        /* the segment replay_header walks, -1: none */
    /* Scratch for tr_partition_append, kept to avoid allocating per call. */
    struct tr_producer_batch *pending;
    size_t pending_cap;
    struct tr_partition_stats stats;
};

#define STAT_ADD(part, field, n)                                               \
    atomic_fetch_add_explicit(&(part)->stats.field, (uint64_t)(n),             \
                              memory_order_relaxed)

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
    cfg->cleanup_policy = TR_LOG_CLEANUP_DELETE;
    cfg->delete_retention_ms = 86400000;
    cfg->min_cleanable_ratio = 0.5;
    cfg->min_compaction_lag_ms = 0;
    cfg->min_insync_replicas = 1;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->log_append_time = 0;
    cfg->timestamp_before_max_ms = INT64_MAX;
    cfg->timestamp_after_max_ms = INT64_MAX;
    cfg->timestamp_difference_max_ms = INT64_MAX;
    cfg->segment_delete_delay_ms = 60000;
    cfg->retention_check_interval_ms = 300000;
    cfg->cleaner_enable = 1;
    cfg->cleaner_threads = 1;
    cfg->cleaner_dedupe_buffer_size = 134217728;
    cfg->cleaner_backoff_ms = 15000;
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

/* Returns 1 if 'name' ends with 'suffix'. */
static int
has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);

    return n > m && strcmp(name + n - m, suffix) == 0;
}

/*
 * Finishes what a crash interrupted, before the segments are listed:
 *
 *   *.deleted        a deleted segment's files: unlinked
 *   B.log.cleaned    a cleaning that had not finished writing: unlinked
 *   B.log.swap       a cleaned segment complete on disk: the old B.index and
 *                    B.timeindex are unlinked (they describe the old log)
 *                    and B.log.swap is renamed over B.log; the indexes are
 *                    rebuilt when the segment is opened
 *
 * The swap is always complete before the rename to .swap, so completing it
 * loses nothing that cleaning meant to keep.
 */
static tr_err_t
recover_leftovers(const char *dir)
{
    tr_err_t err = TR_ERR_IO;
    DIR *d;
    struct dirent *de;
    char path[4096], target[4096];
    int64_t base;
    size_t n;

    d = opendir(dir);
    if (d == NULL) {
        tr_log_error("partition %s: opendir: %s", dir, strerror(errno));
        return err;
    }
    while ((de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (has_suffix(de->d_name, ".deleted") ||
            has_suffix(de->d_name, ".cleaned")) {
            if (unlink(path) != 0 && errno != ENOENT) {
                tr_log_warn("partition %s: unlink %s: %s", dir, path,
                            strerror(errno));
            }
            continue;
        }
        if (!has_suffix(de->d_name, ".log.swap")) {
            continue;
        }
        n = strlen(de->d_name) - strlen(".swap");
        snprintf(target, sizeof(target), "%s/%.*s", dir, (int)n, de->d_name);
        if (n >= sizeof(target) ||
            !parse_log_name(target + strlen(dir) + 1, &base)) {
            continue;
        }
        tr_log_warn("partition %s: completing the swap of a cleaned segment "
                    "%020" PRId64 " interrupted by a crash",
                    dir, base);
        snprintf(target, sizeof(target), "%s/%020" PRId64 ".index", dir, base);
        (void)unlink(target);
        snprintf(target, sizeof(target), "%s/%020" PRId64 ".timeindex", dir,
                 base);
        (void)unlink(target);
        snprintf(target, sizeof(target), "%s/%020" PRId64 ".log", dir, base);
        if (rename(path, target) != 0) {
            tr_log_error("partition %s: rename %s: %s", dir, path,
                         strerror(errno));
            goto out;
        }
    }
    err = TR_OK;
out:
    closedir(d);
    return err;
}

/* Unlinks the .deleted files of pending deletions due by 'now_ms'. */
static void
unlink_pending(struct tr_partition *part, int64_t now_ms)
{
    static const char *const suffixes[] = { ".log", ".index", ".timeindex" };
    char path[4096];
    size_t i, j, k = 0;

    for (i = 0; i < part->ndeletes; i++) {
        if (part->deletes[i].due_ms > now_ms) {
            part->deletes[k++] = part->deletes[i];
            continue;
        }
        for (j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
            snprintf(path, sizeof(path), "%s/%020" PRId64 "%s.deleted",
                     part->dir, part->deletes[i].base, suffixes[j]);
            (void)unlink(path);
        }
    }
    part->ndeletes = k;
}

static tr_err_t epoch_note(struct tr_partition *part, int32_t epoch,
                           int64_t start);

/*
 * Applies a written transactional batch to the transaction state: data
 * opens its producer's transaction, a marker ('batch', 'blen': its bytes)
 * closes it and raises the producer's epoch. A marker whose bytes are
 * missing or of an unknown control type changes nothing. Caller holds the
 * lock.
 */
static tr_err_t
txn_note(struct tr_partition *part, const struct tr_batch_header *h,
         const uint8_t *batch, size_t blen)
{
    int commit;
    int32_t coordinator_epoch;
    tr_err_t err;

    if (!(h->Attributes & TR_BATCH_ATTR_TRANSACTIONAL) || h->ProducerId < 0) {
        return TR_OK;
    }
    if (!(h->Attributes & TR_BATCH_ATTR_CONTROL)) {
        return tr_txns_begin(part->txns, h->ProducerId, h->BaseOffset);
    }
    if (batch == NULL || tr_batch_marker_parse(batch, blen, &commit,
                                               &coordinator_epoch) != TR_OK) {
        return TR_OK;
    }
    err = tr_producers_mark_epoch(part->producers, h->ProducerId,
                                  h->ProducerEpoch, coordinator_epoch);
    if (err != TR_OK) {
        return err;
    }
    return tr_txns_end(part->txns, h->ProducerId, commit, h->BaseOffset, NULL);
}

/* Reads the marker batch at 'pos' of part->replay_fd for txn_note. */
static tr_err_t
replay_marker(struct tr_partition *part, const struct tr_batch_header *h,
              off_t pos)
{
    uint8_t buf[512];
    size_t blen = (size_t)h->BatchLength + TR_BATCH_LOG_OVERHEAD;

    if (part->replay_fd < 0 || h->BatchLength < 0 || blen > sizeof(buf) ||
        pread(part->replay_fd, buf, blen, pos) != (ssize_t)blen) {
        return TR_OK; /* not a marker this collector writes: ignored */
    }
    return txn_note(part, h, buf, blen);
}

/*
 * Rebuilds producer state, transactions and the leader-epoch cache from
 * batch headers (and the markers' records).
 */
static tr_err_t
replay_header(const struct tr_batch_header *h, off_t pos, void *arg)
{
    struct tr_partition *part = arg;
    struct tr_producers *ps = part->producers;
    struct tr_producer_batch b;
    tr_err_t err;

    err = epoch_note(part, h->PartitionLeaderEpoch, h->BaseOffset);
    if (err != TR_OK) {
        return err;
    }
    err = (h->Attributes & TR_BATCH_ATTR_CONTROL) ? replay_marker(part, h, pos)
                                                  : txn_note(part, h, NULL, 0);
    if (err != TR_OK) {
        return err;
    }
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
    tr_free(part->deletes);
    tr_free(part->epochs);
    tr_free(part->segs);
    tr_producers_free(part->producers);
    tr_txns_free(part->txns);
    tr_free(part->pending);
    tr_free(part->dir);
    tr_free(part->topic);
    pthread_mutex_destroy(&part->lock);
    pthread_mutex_destroy(&part->flush_lock);
    pthread_mutex_destroy(&part->clean_lock);
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
    pthread_mutex_init(&part->clean_lock, NULL);
    atomic_init(&part->refs, 1);
    atomic_init(&part->deleted, 0);
    part->index = index;
    part->cfg = *cfg;
    part->dir = tr_strdup(dir);
    part->topic = tr_strdup(topic);
    part->producers = tr_producers_new();
    part->txns = tr_txns_new();
    part->replay_fd = -1;
    if (part->dir == NULL || part->topic == NULL || part->producers == NULL ||
        part->txns == NULL) {
        goto out;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        tr_log_error("partition %s: mkdir: %s", dir, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    err = recover_leftovers(dir);
    if (err != TR_OK) {
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
    part->first_dirty = part->log_start;
    part->log_end = tr_segment_next_offset(active(part));
    part->high_watermark = part->log_end;
    part->hw_offered = -1;
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
        part->replay_fd = tr_segment_fd(part->segs[i]);
        err = tr_segment_foreach_header(part->segs[i], replay_header, part);
        part->replay_fd = -1;
        if (err != TR_OK) {
            goto out;
        }
    }
    if (part->nepochs > 0) {
        part->leader_epoch = part->epochs[part->nepochs - 1].epoch;
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
    unlink_pending(part, INT64_MAX);
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

struct tr_partition_stats *
tr_partition_stats(struct tr_partition *part)
{
    return &part->stats;
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
    STAT_ADD(part, rolls, 1);
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

/*
 * Writes a validated record set of 'count' records to the active segment,
 * rolling first if it does not belong there, and counts it for the flush
 * policy (*flush is set when a flush is due). Appends of producers and of
 * followers both end here. Caller holds part->lock.
 */
static tr_err_t
write_records(struct tr_partition *part, const uint8_t *records, size_t len,
              int64_t count, int *flush)
{
    int64_t now_ms = tr_clock_wall_ms();
    tr_err_t err;

    if (must_roll(part, len, count, now_ms)) {
        err = roll(part, flush);
        if (err != TR_OK) {
            return err;
        }
    }
    err = tr_segment_append(active(part), records, len,
                            part->cfg.index_interval_bytes, now_ms);
    if (err != TR_OK) {
        return err;
    }
    part->unflushed += count;
    if (part->unflushed >= part->cfg.flush_messages) {
        *flush = 1;
    }
    return TR_OK;
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

/* Bound on a decompressed batch checked or cleaned by the collector. */
#define DECOMPRESSED_MAX_BYTES (256 * 1024 * 1024)

void
tr_append_errors_free(struct tr_append_errors *errs)
{
    if (errs != NULL) {
        tr_free(errs->e);
        errs->e = NULL;
        errs->n = errs->cap = 0;
    }
}

/* Notes one refused record; returns 'why' (or TR_ERR_NOMEM). */
static tr_err_t
record_refused(struct tr_append_errors *errs, tr_err_t why, int32_t index,
               const struct tr_record *rec)
{
    struct tr_record_error *e;

    if (errs == NULL) {
        return why;
    }
    if (tr_array_reserve(&errs->e, &errs->cap, errs->n + 1, sizeof(*errs->e)) !=
        TR_OK) {
        return TR_ERR_NOMEM;
    }
    e = &errs->e[errs->n++];
    e->err = why;
    e->batch_index = index;
    e->offset = rec->offset;
    e->timestamp = rec->timestamp;
    return why;
}

/*
 * Checks each record of a batch as Kafka's LogValidator does, listing
 * every refused one ('first_index' is the batch's first record's index in
 * the record set): compacted logs need a key on every record (Kafka
 * answers CORRUPT_MESSAGE before Produce v8, INVALID_RECORD from v8,
 * KIP-467), and a CreateTime must lie within [ts_min, ts_max]. Only logs
 * with either rule pay for this walk, which decompresses. Returns the
 * first refusal, TR_OK if none.
 */
static tr_err_t
check_records(const uint8_t *batch, size_t len, int need_key, int check_ts,
              int32_t first_index, struct tr_append_errors *errs,
              int64_t ts_min, int64_t ts_max)
{
    struct tr_batch_iter it;
    struct tr_record rec;
    tr_err_t err, first = TR_OK, why;
    int32_t i;

    err = tr_batch_iter_init(&it, batch, len, DECOMPRESSED_MAX_BYTES);
    if (err != TR_OK) {
        return err == TR_ERR_UNSUPPORTED || err == TR_ERR_NOMEM
                   ? err
                   : TR_ERR_CORRUPT;
    }
    for (i = first_index; (err = tr_batch_iter_next(&it, &rec)) == TR_OK; i++) {
        why = need_key && rec.key_len < 0 ? TR_ERR_NO_KEY
              : check_ts && (rec.timestamp < ts_min || rec.timestamp > ts_max)
                  ? TR_ERR_TIMESTAMP
                  : TR_OK;
        if (why == TR_OK) {
            continue;
        }
        tr_log_debug("record %d refused: %s", i, tr_err_str(why));
        why = record_refused(errs, why, i, &rec);
        /* Kafka answers INVALID_TIMESTAMP if any timestamp is refused. */
        first = first == TR_OK || why != TR_ERR_NO_KEY ? why : first;
        if (errs == NULL || why == TR_ERR_NOMEM) {
            break;
        }
    }
    tr_batch_iter_cleanup(&it);
    if (err != TR_ERR_NOT_FOUND && err != TR_OK) {
        return err == TR_ERR_NOMEM ? err : TR_ERR_CORRUPT;
    }
    return first;
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
    return tr_partition_append_at(part, records, len, tr_clock_wall_ms(), res,
                                  NULL);
}

/* Kafka 3.6's bounds: before/after.max.ms, else difference.max.ms. */
static void
timestamp_bounds(const struct tr_log_config *cfg, int64_t now_ms, int64_t *lo,
                 int64_t *hi)
{
    int64_t before = cfg->timestamp_before_max_ms != INT64_MAX
                         ? cfg->timestamp_before_max_ms
                         : cfg->timestamp_difference_max_ms;
    int64_t after = cfg->timestamp_after_max_ms != INT64_MAX
                        ? cfg->timestamp_after_max_ms
                        : cfg->timestamp_difference_max_ms;

    /* Wall time is positive: now_ms - before cannot overflow. */
    *lo = before == INT64_MAX ? INT64_MIN : now_ms - before;
    *hi = after > INT64_MAX - now_ms ? INT64_MAX : now_ms + after;
}

tr_err_t
tr_partition_append_at(struct tr_partition *part, uint8_t *records, size_t len,
                       int64_t now_ms, struct tr_append_result *res,
                       struct tr_append_errors *errs)
{
    tr_err_t err = TR_ERR_INVALID;
    int64_t ts_min, ts_max;
    int32_t record_index = 0;
    tr_err_t refused = TR_OK;
    int check_ts;
    struct tr_slice s;
    struct tr_batch_header h;
    struct tr_producer_batch b, orig, first_dup = { 0 }, last_dup = { 0 };
    const uint8_t *batch;
    size_t blen;
    size_t nbatches = 0, npending = 0, ndup = 0, i;
    int64_t count = 0, offset;
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
    timestamp_bounds(&part->cfg, now_ms, &ts_min, &ts_max);
    check_ts = !part->cfg.log_append_time &&
               (ts_min != INT64_MIN || ts_max != INT64_MAX);
    if (errs != NULL) {
        errs->ts_min = ts_min;
        errs->ts_max = ts_max;
    }
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
        if (((part->cfg.cleanup_policy & TR_LOG_CLEANUP_COMPACT) || check_ts) &&
            !(h.Attributes & TR_BATCH_ATTR_CONTROL)) {
            err = check_records(
                batch, blen, part->cfg.cleanup_policy & TR_LOG_CLEANUP_COMPACT,
                check_ts, record_index, errs, ts_min, ts_max);
            if (err == TR_ERR_NO_KEY || err == TR_ERR_TIMESTAMP) {
                /* Go on: every refused record of every batch is listed. */
                refused =
                    refused == TR_OK || err == TR_ERR_TIMESTAMP ? err : refused;
                record_index += h.RecordsCount;
                continue;
            }
            if (err != TR_OK) {
                goto out;
            }
        }
        record_index += h.RecordsCount;
        if (h.Attributes & TR_BATCH_ATTR_CONTROL) {
            /* Markers come from the coordinator only (LogValidator). */
            err = TR_ERR_INVALID;
            goto out;
        }
        if (h.ProducerId >= 0 &&
            !(h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
            tr_txns_open_first(part->txns, h.ProducerId) >= 0) {
            /* Kafka: a non-transactional write inside a transaction. */
            err = TR_ERR_TXN_STATE;
            goto out;
        }
        if ((h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
            h.ProducerEpoch <
                tr_producers_epoch(part->producers, h.ProducerId)) {
            /* Coordinator writes (no sequence) are checked by epoch only. */
            err = TR_ERR_FENCED;
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
    if (refused != TR_OK) {
        err = refused;
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

    /* 2. Assign offsets and the leader epoch, in place. */
    offset = part->log_end;
    tr_slice_init(&s, records, len);
    i = 0;
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        (void)tr_batch_header_parse(batch, blen, &h);
        tr_batch_set_base_offset((uint8_t *)batch, offset);
        tr_batch_set_leader_epoch((uint8_t *)batch, part->leader_epoch);
        if (part->cfg.log_append_time &&
            !(h.Attributes & TR_BATCH_ATTR_CONTROL)) {
            /* LogAppendTime: the batch carries the append time. */
            tr_batch_set_log_append_time((uint8_t *)batch, blen, now_ms);
            res->log_append_time = now_ms;
        }
        if (is_idempotent(&h)) {
            part->pending[i].first_offset = offset;
            part->pending[i].last_offset = offset + h.LastOffsetDelta;
            i++;
        }
        offset += (int64_t)h.LastOffsetDelta + 1;
    }

    /* 3. One write; on failure nothing of it stays and LEO is unchanged. */
    err = write_records(part, records, len, count, &flush);
    if (err != TR_OK) {
        goto out;
    }
    (void)epoch_note(part, part->leader_epoch, part->log_end);
    res->base_offset = part->log_end;
    res->last_offset = offset - 1;
    part->log_end = offset;
    STAT_ADD(part, bytes_in, len);
    STAT_ADD(part, records_in, offset - res->base_offset);
    if (!part->replicated) {
        part->high_watermark = offset;
    }
    for (i = 0; i < npending; i++) {
        (void)tr_producers_update(part->producers, &part->pending[i]);
    }
    tr_slice_init(&s, records, len);
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        (void)tr_batch_header_parse(batch, blen, &h);
        if (txn_note(part, &h, NULL, 0) != TR_OK) {
            tr_log_error("partition %s: transaction of producer %" PRId64
                         " at %" PRId64 " not tracked: out of memory",
                         part->dir, h.ProducerId, h.BaseOffset);
        }
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

/*
 * The last stable offset: the high watermark, or the first offset of the
 * earliest transaction still open or whose marker is not yet below the
 * high watermark, if that is lower (never below the log start). Caller
 * holds the lock.
 */
static int64_t
last_stable(const struct tr_partition *part)
{
    int64_t first = tr_txns_stable_until(part->txns, part->high_watermark);

    if (first < 0 || first >= part->high_watermark) {
        return part->high_watermark;
    }
    return first < part->log_start ? part->log_start : first;
}

void
tr_partition_offsets(struct tr_partition *part,
                     struct tr_partition_offsets *offs)
{
    size_t i;

    pthread_mutex_lock(&part->lock);
    offs->log_start = part->log_start;
    offs->high_watermark = part->high_watermark;
    offs->last_stable = last_stable(part);
    offs->log_end = part->log_end;
    offs->leader_epoch = part->leader_epoch;
    offs->hw_offered = part->hw_offered;
    offs->size_bytes = 0;
    for (i = 0; i < part->nsegs; i++) {
        offs->size_bytes += tr_segment_size(part->segs[i]);
    }
    pthread_mutex_unlock(&part->lock);
}

/*
 * The time index and batch headers find the first batch whose MaxTimestamp
 * reaches 'timestamp'; Kafka answers with the first *record* that does, so
 * read that one batch and walk its records. *offset and *ts are left as
 * they are if the batch cannot be read.
 */
static void
refine_to_record(struct tr_partition *part, int64_t timestamp, int64_t *offset,
                 int64_t *ts)
{
    struct tr_read_result r = { -1, 0, 0 };
    struct tr_batch_iter it;
    struct tr_record rec;
    uint8_t head[TR_BATCH_LOG_OVERHEAD], *batch = NULL;
    size_t len;
    int64_t end;

    pthread_mutex_lock(&part->lock);
    end = part->log_end;
    pthread_mutex_unlock(&part->lock);
    if (tr_partition_read(part, *offset, 1, end, &r) != TR_OK || r.fd < 0 ||
        r.len < TR_BATCH_HEADER_SIZE) {
        goto out;
    }
    if (pread(r.fd, head, sizeof(head), r.pos) != (ssize_t)sizeof(head)) {
        goto out;
    }
    len =
        (size_t)tr_load_i32(head + TR_BATCH_OFF_LENGTH) + TR_BATCH_LOG_OVERHEAD;
    if (len > r.len || len < TR_BATCH_HEADER_SIZE) {
        goto out;
    }
    batch = tr_malloc(len);
    if (batch == NULL || pread(r.fd, batch, len, r.pos) != (ssize_t)len) {
        goto out;
    }
    if (tr_batch_iter_init(&it, batch, len, DECOMPRESSED_MAX_BYTES) != TR_OK) {
        goto out;
    }
    while (tr_batch_iter_next(&it, &rec) == TR_OK) {
        if (rec.timestamp >= timestamp) {
            *offset = rec.offset;
            *ts = rec.timestamp;
            break;
        }
    }
    tr_batch_iter_cleanup(&it);
out:
    tr_free(batch);
    if (r.fd >= 0) {
        close(r.fd);
    }
}

int64_t
tr_partition_max_timestamp(struct tr_partition *part)
{
    int64_t max = -1, ts;
    size_t i;

    pthread_mutex_lock(&part->lock);
    for (i = 0; i < part->nsegs; i++) {
        ts = tr_segment_max_timestamp(part->segs[i]);
        max = ts > max ? ts : max;
    }
    pthread_mutex_unlock(&part->lock);
    return max;
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
    if (err == TR_OK && *offset >= 0) {
        refine_to_record(part, timestamp, offset, ts);
    }
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
    STAT_ADD(part, fsyncs, nfds + 1);
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
    unlink_pending(part, now_ms);
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

void
tr_partition_config(struct tr_partition *part, struct tr_log_config *cfg)
{
    pthread_mutex_lock(&part->lock);
    *cfg = part->cfg;
    pthread_mutex_unlock(&part->lock);
}

int32_t
tr_partition_min_insync(struct tr_partition *part)
{
    int32_t n;

    pthread_mutex_lock(&part->lock);
    n = part->cfg.min_insync_replicas;
    pthread_mutex_unlock(&part->lock);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Retention and DeleteRecords                                             */

void
tr_partition_restore_log_start(struct tr_partition *part, int64_t offset)
{
    pthread_mutex_lock(&part->lock);
    if (offset > part->high_watermark) {
        /* The log lost its tail (a crash before a flush): keep what is. */
        offset = part->high_watermark;
    }
    if (offset > part->log_start) {
        part->log_start = offset;
    }
    if (part->first_dirty < part->log_start) {
        part->first_dirty = part->log_start;
    }
    pthread_mutex_unlock(&part->lock);
}

/*
 * Deletes the oldest segment (never the active one): renames its files to
 * .deleted and queues them for unlinking. The log start offset moves to the
 * next segment's base if it was below. Caller holds part->lock.
 */
static void
delete_oldest(struct tr_partition *part, int64_t now_ms, const char *why)
{
    static const char *const suffixes[] = { ".log", ".index", ".timeindex" };
    struct tr_segment *seg = part->segs[0];
    struct pending_delete *grown;
    char from[4096], to[4200];
    int64_t base = tr_segment_base_offset(seg);
    size_t i, cap;

    tr_log_info("partition %s: deleting segment %020" PRId64 " (%" PRId64
                " bytes, offsets %" PRId64 "..%" PRId64 "): %s",
                part->dir, base, tr_segment_size(seg), base,
                tr_segment_next_offset(seg) - 1, why);
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(from, sizeof(from), "%s/%020" PRId64 "%s", part->dir, base,
                 suffixes[i]);
        snprintf(to, sizeof(to), "%s.deleted", from);
        if (rename(from, to) != 0 && errno != ENOENT) {
            tr_log_warn("partition %s: rename %s: %s", part->dir, from,
                        strerror(errno));
            (void)unlink(from);
        }
    }
    tr_segment_close(seg);
    memmove(&part->segs[0], &part->segs[1],
            (part->nsegs - 1) * sizeof(part->segs[0]));
    part->nsegs--;
    if (part->log_start < tr_segment_base_offset(part->segs[0])) {
        part->log_start = tr_segment_base_offset(part->segs[0]);
    }
    /* Aborted transactions whose marker is gone no longer matter. */
    tr_txns_prune(part->txns, part->log_start);
    if (part->first_dirty < part->log_start) {
        part->first_dirty = part->log_start;
    }
    if (part->ndeletes == part->deletes_cap) {
        cap = part->deletes_cap ? part->deletes_cap * 2 : 8;
        grown = tr_realloc(part->deletes, cap * sizeof(*grown));
        if (grown == NULL) {
            /* Cannot wait: unlink now (readers keep their dups). */
            for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                snprintf(to, sizeof(to), "%s/%020" PRId64 "%s.deleted",
                         part->dir, base, suffixes[i]);
                (void)unlink(to);
            }
            return;
        }
        part->deletes = grown;
        part->deletes_cap = cap;
    }
    part->deletes[part->ndeletes].base = base;
    part->deletes[part->ndeletes].due_ms =
        part->cfg.segment_delete_delay_ms <= 0
            ? INT64_MIN
            : now_ms + part->cfg.segment_delete_delay_ms;
    part->ndeletes++;
    if (part->cfg.segment_delete_delay_ms <= 0) {
        unlink_pending(part, now_ms);
    }
}

int
tr_partition_retain(struct tr_partition *part, int64_t now_ms)
{
    struct tr_segment *seg;
    int64_t total = 0, max_ts;
    size_t i;
    int deleted = 0;
    char why[128];

    pthread_mutex_lock(&part->lock);
    if (!(part->cfg.cleanup_policy & TR_LOG_CLEANUP_DELETE)) {
        goto out;
    }
    for (i = 0; i < part->nsegs; i++) {
        total += tr_segment_size(part->segs[i]);
    }
    while (part->nsegs > 1) {
        seg = part->segs[0];
        max_ts = tr_segment_max_timestamp(seg);
        if (part->cfg.retention_ms >= 0 && max_ts >= 0 &&
            now_ms - max_ts > part->cfg.retention_ms) {
            snprintf(why, sizeof(why),
                     "its newest record is older than retention.ms %" PRId64,
                     part->cfg.retention_ms);
        } else if (part->cfg.retention_bytes >= 0 &&
                   total - tr_segment_size(seg) >= part->cfg.retention_bytes &&
                   total > part->cfg.retention_bytes) {
            snprintf(why, sizeof(why),
                     "the partition holds %" PRId64
                     " bytes, over retention.bytes %" PRId64,
                     total, part->cfg.retention_bytes);
        } else if (tr_segment_size(seg) == 0) {
            /* Emptied by compaction: it has no timestamp to expire by. */
            snprintf(why, sizeof(why), "it is empty");
        } else if (tr_segment_next_offset(seg) <= part->log_start &&
                   tr_segment_base_offset(part->segs[1]) <= part->log_start) {
            snprintf(why, sizeof(why),
                     "wholly below the log start offset %" PRId64,
                     part->log_start);
        } else {
            break;
        }
        STAT_ADD(part, retention_segments, 1);
        STAT_ADD(part, retention_bytes, tr_segment_size(seg));
        total -= tr_segment_size(seg);
        delete_oldest(part, now_ms, why);
        deleted++;
    }
out:
    pthread_mutex_unlock(&part->lock);
    return deleted;
}

tr_err_t
tr_partition_delete_records(struct tr_partition *part, int64_t offset,
                            int64_t *low_watermark)
{
    tr_err_t err = TR_ERR_OUT_OF_RANGE;
    int64_t now_ms = tr_clock_wall_ms();

    pthread_mutex_lock(&part->lock);
    if (offset == -1) {
        offset = part->high_watermark;
    }
    if (offset < 0 || offset > part->high_watermark) {
        goto out;
    }
    if (offset > part->log_start) {
        part->log_start = offset;
        tr_log_info("partition %s: log start offset moved to %" PRId64
                    " by DeleteRecords",
                    part->dir, offset);
    }
    if (part->first_dirty < part->log_start) {
        part->first_dirty = part->log_start;
    }
    /* Segments whose every offset is below the new start go now. */
    while (part->nsegs > 1 &&
           tr_segment_base_offset(part->segs[1]) <= part->log_start) {
        delete_oldest(part, now_ms, "below the log start offset");
    }
    err = TR_OK;
out:
    *low_watermark = part->log_start;
    pthread_mutex_unlock(&part->lock);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Compaction                                                              */

int64_t
tr_partition_first_dirty(struct tr_partition *part)
{
    int64_t v;

    pthread_mutex_lock(&part->lock);
    v = part->first_dirty;
    pthread_mutex_unlock(&part->lock);
    return v;
}

void
tr_partition_restore_first_dirty(struct tr_partition *part, int64_t offset)
{
    pthread_mutex_lock(&part->lock);
    if (offset > part->log_end) {
        offset = part->log_end;
    }
    if (offset > part->first_dirty) {
        part->first_dirty = offset;
    }
    pthread_mutex_unlock(&part->lock);
}

/* A closed segment as the cleaner sees it, copied under the lock. */
struct seg_view {
    int64_t base;
    int64_t next_base; /* base of the following segment */
    int64_t size;
    int64_t max_ts;
    int fd; /* a dup, owned */
};

struct clean_plan {
    struct tr_log_config cfg;
    struct seg_view *segs; /* closed segments, oldest first */
    size_t n;
    int64_t first_dirty;
    size_t first_dirty_seg; /* index of the segment holding first_dirty */
    size_t end_seg;         /* cleanable segments end before this index */
    int64_t clean_bytes, dirty_bytes;
    int64_t last_stable; /* open transactions are never cleaned */
};

static void
plan_free(struct clean_plan *plan)
{
    size_t i;

    for (i = 0; i < plan->n; i++) {
        if (plan->segs[i].fd >= 0) {
            close(plan->segs[i].fd);
        }
    }
    tr_free(plan->segs);
    plan->segs = NULL;
    plan->n = 0;
}

/*
 * Snapshots the closed segments and works out the sections. With 'dup_fds'
 * 0 no descriptors are taken (for the ratio only).
 */
static tr_err_t
plan_clean(struct tr_partition *part, int64_t now_ms, int dup_fds,
           struct clean_plan *plan)
{
    tr_err_t err = TR_ERR_AGAIN;
    struct tr_segment *seg;
    size_t i;

    memset(plan, 0, sizeof(*plan));
    pthread_mutex_lock(&part->lock);
    plan->cfg = part->cfg;
    if (!(part->cfg.cleanup_policy & TR_LOG_CLEANUP_COMPACT) ||
        part->nsegs < 2) {
        goto out;
    }
    plan->segs = tr_calloc(part->nsegs - 1, sizeof(*plan->segs));
    if (plan->segs == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i + 1 < part->nsegs; i++) {
        seg = part->segs[i];
        plan->segs[i].base = tr_segment_base_offset(seg);
        plan->segs[i].next_base = tr_segment_base_offset(part->segs[i + 1]);
        plan->segs[i].size = tr_segment_size(seg);
        plan->segs[i].max_ts = tr_segment_max_timestamp(seg);
        plan->segs[i].fd = -1;
        plan->n++;
        if (dup_fds) {
            plan->segs[i].fd = fcntl(tr_segment_fd(seg), F_DUPFD_CLOEXEC, 0);
            if (plan->segs[i].fd < 0) {
                err = TR_ERR_IO;
                goto out;
            }
        }
    }
    plan->first_dirty = part->first_dirty < part->log_start ? part->log_start
                                                            : part->first_dirty;
    plan->last_stable = last_stable(part);
    err = TR_OK;
out:
    pthread_mutex_unlock(&part->lock);
    if (err != TR_OK) {
        plan_free(plan);
        return err;
    }
    /* Segments with records newer than the lag are not cleanable yet. */
    plan->end_seg = plan->n;
    for (i = 0; i < plan->n; i++) {
        if ((plan->cfg.min_compaction_lag_ms > 0 &&
             plan->segs[i].max_ts > now_ms - plan->cfg.min_compaction_lag_ms) ||
            plan->segs[i].next_base > plan->last_stable) {
            plan->end_seg = i;
            break;
        }
    }
    plan->first_dirty_seg = plan->end_seg;
    for (i = 0; i < plan->end_seg; i++) {
        if (plan->segs[i].next_base <= plan->first_dirty) {
            plan->clean_bytes += plan->segs[i].size;
        } else {
            if (plan->first_dirty_seg == plan->end_seg) {
                plan->first_dirty_seg = i;
            }
            plan->dirty_bytes += plan->segs[i].size;
        }
    }
    return TR_OK;
}

static double
plan_ratio(const struct clean_plan *plan)
{
    if (plan->dirty_bytes == 0) {
        return 0.0;
    }
    return (double)plan->dirty_bytes /
           (double)(plan->clean_bytes + plan->dirty_bytes);
}

/*
 * The plan's dirty ratio, or 1 when max.compaction.lag.ms makes the log
 * due for cleaning whatever its ratio: a dirty segment whose records are
 * all older than the lag.
 */
static double
plan_due(const struct clean_plan *plan, int64_t now_ms)
{
    double r = plan_ratio(plan);

    if (r > 0.0 && plan->cfg.max_compaction_lag_ms < INT64_MAX &&
        plan->first_dirty_seg < plan->end_seg &&
        plan->segs[plan->first_dirty_seg].max_ts <
            now_ms - plan->cfg.max_compaction_lag_ms) {
        r = 1.0;
    }
    return r;
}

double
tr_partition_dirty_ratio(struct tr_partition *part, int64_t now_ms)
{
    struct clean_plan plan;
    double r;

    if (plan_clean(part, now_ms, 0, &plan) != TR_OK) {
        return 0.0;
    }
    r = plan_due(&plan, now_ms);
    plan_free(&plan);
    return r;
}

static int is_aborted_batch(int64_t producer_id, int64_t base_offset,
                            void *arg);

/*
 * Walks the batches of one segment file into the key map; aborted
 * transactional data never supersedes anything.
 */
static tr_err_t
map_segment(struct tr_partition *part, struct tr_cleaner_map *map,
            const struct seg_view *sv)
{
    struct tr_batch_header h;

    uint8_t head[TR_BATCH_LOG_OVERHEAD];
    uint8_t *buf = NULL, *grown;
    size_t cap = 0, total;
    int64_t pos = 0, last;
    int32_t blen;
    ssize_t r;
    tr_err_t err = TR_OK;

    while (pos < sv->size) {
        r = pread(sv->fd, head, sizeof(head), (off_t)pos);
        if (r != (ssize_t)sizeof(head)) {
            err = TR_ERR_IO;
            goto out;
        }
        blen = tr_load_i32(head + TR_BATCH_OFF_LENGTH);
        if (blen < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD ||
            (int64_t)blen + TR_BATCH_LOG_OVERHEAD > sv->size - pos) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        total = (size_t)blen + TR_BATCH_LOG_OVERHEAD;
        if (total > cap) {
            grown = tr_realloc(buf, total);
            if (grown == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            buf = grown;
            cap = total;
        }
        r = pread(sv->fd, buf, total, (off_t)pos);
        if (r != (ssize_t)total) {
            err = TR_ERR_IO;
            goto out;
        }
        pos += (int64_t)total;
        if (tr_batch_header_parse(buf, total, &h) == TR_OK &&
            (h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
            is_aborted_batch(h.ProducerId, h.BaseOffset, part)) {
            continue;
        }
        err = tr_cleaner_map_batch(map, buf, total, INT64_MAX,
                                   DECOMPRESSED_MAX_BYTES, &last);
        if (err != TR_OK) {
            goto out;
        }
    }
out:
    tr_free(buf);
    return err;
}

static int
is_last_batch(int64_t producer_id, int64_t base_offset, void *arg)
{
    struct tr_partition *part = arg;
    int64_t last;

    pthread_mutex_lock(&part->lock);
    last = tr_producers_last_batch_offset(part->producers, producer_id);
    pthread_mutex_unlock(&part->lock);
    return last == base_offset;
}

static int
is_aborted_batch(int64_t producer_id, int64_t base_offset, void *arg)
{
    struct tr_partition *part = arg;
    int aborted;

    pthread_mutex_lock(&part->lock);
    aborted = tr_txns_is_aborted(part->txns, producer_id, base_offset);
    pthread_mutex_unlock(&part->lock);
    return aborted;
}

static tr_err_t
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    tr_err_t err = TR_OK;

    if (fd < 0 || fsync(fd) != 0) {
        err = TR_ERR_IO;
    }
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

/* Index of the segment with base 'base', or part->nsegs. Holds the lock. */
static size_t
segment_at(const struct tr_partition *part, int64_t base)
{
    size_t i = find_segment(part, base);

    if (i < part->nsegs && tr_segment_base_offset(part->segs[i]) == base) {
        return i;
    }
    return part->nsegs;
}

/*
 * Rewrites one closed segment through 'f' and swaps the result in:
 *
 *   1. write B.log.cleaned, fdatasync
 *   2. rename to B.log.swap, fsync the directory   (from here the cleaned
 *                                                   segment is the truth)
 *   3. under the lock: unlink B.index, B.timeindex; rename B.log.swap over
 *      B.log; open it (indexes rebuilt) in place of the old segment
 *
 * A crash before 2 leaves a .cleaned file (unlinked at open), after it a
 * .swap (completed at open). *changed is 0 when nothing would change.
 */
static tr_err_t
rewrite_segment(struct tr_partition *part, const struct seg_view *sv,
                const struct tr_cleaner_filter *f, struct tr_clean_stats *st,
                int *changed)
{
    char cleaned[4096], swap[4096], path[4096];
    struct tr_cleaner_counts counts = { 0, 0, 0 };
    struct tr_segment *seg = NULL, *old;
    int64_t out_size = 0;
    size_t i;
    int fd = -1;
    tr_err_t err;

    *changed = 0;
    snprintf(cleaned, sizeof(cleaned), "%s/%020" PRId64 ".log.cleaned",
             part->dir, sv->base);
    snprintf(swap, sizeof(swap), "%s/%020" PRId64 ".log.swap", part->dir,
             sv->base);
    fd = open(cleaned, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = TR_ERR_IO;
        goto out;
    }
    err = tr_cleaner_rewrite_file(f, sv->fd, sv->size, fd, &out_size, &counts);
    if (err != TR_OK) {
        goto out;
    }
    if (counts.records_removed == 0 && counts.batches_removed == 0 &&
        out_size == sv->size) {
        err = TR_OK;
        goto out; /* nothing to gain */
    }
    if (fdatasync(fd) != 0) {
        err = TR_ERR_IO;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(cleaned, swap) != 0 || fsync_dir(part->dir) != TR_OK) {
        err = TR_ERR_IO;
        goto out;
    }

    pthread_mutex_lock(&part->lock);
    i = segment_at(part, sv->base);
    if (i + 1 >= part->nsegs) {
        /* Deleted by retention meanwhile (or active: cannot happen). */
        pthread_mutex_unlock(&part->lock);
        (void)unlink(swap);
        err = TR_OK;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".index", part->dir,
             sv->base);
    (void)unlink(path);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".timeindex", part->dir,
             sv->base);
    (void)unlink(path);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", part->dir, sv->base);
    if (rename(swap, path) != 0) {
        pthread_mutex_unlock(&part->lock);
        tr_log_error("partition %s: rename %s: %s", part->dir, swap,
                     strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    err = tr_segment_open(part->dir, sv->base, 0, part->cfg.segment_index_bytes,
                          part->cfg.index_interval_bytes, &seg);
    if (err != TR_OK) {
        /* The old segment stays in use until a restart opens the new one. */
        pthread_mutex_unlock(&part->lock);
        tr_log_error("partition %s: cannot open cleaned segment %020" PRId64
                     ": %s",
                     part->dir, sv->base, tr_err_str(err));
        goto out;
    }
    old = part->segs[i];
    part->segs[i] = seg;
    seg = NULL;
    if (f->txns != NULL) {
        /* The markers the new segment lacks leave the aborted index. */
        const struct tr_cleaner_marker *gone;
        size_t ngone = tr_cleaner_txns_dropped(f->txns, &gone);
        for (size_t k = 0; k < ngone; k++) {
            tr_txns_forget_aborted(part->txns, gone[k].producer_id,
                                   gone[k].offset);
        }
    }
    pthread_mutex_unlock(&part->lock);
    tr_segment_close(old);
    *changed = 1;
    st->segments_rewritten++;
    st->records_removed += counts.records_removed;
    st->bytes_after += out_size - sv->size;
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
        (void)unlink(cleaned);
    }
    return err;
}

tr_err_t
tr_partition_clean(struct tr_partition *part, int64_t now_ms, int64_t map_bytes,
                   int force, struct tr_clean_stats *stats)
{
    struct clean_plan plan = { 0 };
    struct tr_cleaner_map *map = NULL;
    struct tr_cleaner_txns *txns = NULL;
    struct tr_cleaner_filter f;
    size_t i, mapped_end;
    int64_t expected, new_first_dirty;
    int changed;
    tr_err_t err = TR_ERR_AGAIN;

    memset(stats, 0, sizeof(*stats));
    if (pthread_mutex_trylock(&part->clean_lock) != 0) {
        return TR_ERR_AGAIN;
    }
    err = plan_clean(part, now_ms, 1, &plan);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_AGAIN;
    if (plan.dirty_bytes == 0 ||
        (!force && plan_due(&plan, now_ms) < plan.cfg.min_cleanable_ratio)) {
        goto out;
    }
    expected = plan.segs[plan.end_seg - 1].next_base - plan.first_dirty;
    map = tr_cleaner_map_new((size_t)map_bytes,
                             expected > 0 ? (size_t)expected : 1);
    if (map == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    /* 1. The key map over the dirty section, whole segments at a time. */
    mapped_end = plan.first_dirty_seg;
    for (i = plan.first_dirty_seg; i < plan.end_seg; i++) {
        err = map_segment(part, map, &plan.segs[i]);
        if (err == TR_ERR_TOO_LARGE) {
            break; /* full: clean what is mapped */
        }
        if (err != TR_OK) {
            goto out;
        }
        mapped_end = i + 1;
    }
    if (mapped_end == plan.first_dirty_seg) {
        tr_log_warn("partition %s: log.cleaner.dedupe.buffer.size is too "
                    "small for one segment's keys; not cleaning",
                    part->dir);
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    new_first_dirty = plan.segs[mapped_end - 1].next_base;

    /* 2. Recopy every segment up to the end of the mapped section. */
    f.map = map;
    f.tombstone_horizon_ms = now_ms - plan.cfg.delete_retention_ms;
    f.is_last = is_last_batch;
    f.is_aborted = is_aborted_batch;
    f.arg = part;
    f.max_bytes = DECOMPRESSED_MAX_BYTES;
    f.txns = txns = tr_cleaner_txns_new();
    if (txns == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < mapped_end; i++) {
        stats->bytes_before += plan.segs[i].size;
        stats->bytes_after += plan.segs[i].size;
        err = rewrite_segment(part, &plan.segs[i], &f, stats, &changed);
        /* Dropped markers count only for a segment swapped in. */
        tr_cleaner_txns_clear_dropped(txns);
        if (err != TR_OK) {
            goto out;
        }
    }
    pthread_mutex_lock(&part->lock);
    if (new_first_dirty > part->first_dirty) {
        part->first_dirty = new_first_dirty;
    }
    stats->first_dirty = part->first_dirty;
    pthread_mutex_unlock(&part->lock);
    err = TR_OK;
    STAT_ADD(part, cleanings, 1);
    STAT_ADD(part, cleaned_bytes,
             stats->bytes_before > stats->bytes_after
                 ? stats->bytes_before - stats->bytes_after
                 : 0);
    STAT_ADD(part, cleaned_records, stats->records_removed);
out:
    tr_cleaner_txns_free(txns);
    tr_cleaner_map_free(map);
    plan_free(&plan);
    pthread_mutex_unlock(&part->clean_lock);
    return err;
}

/*
 * Replication support: the leader-epoch cache, appends of the leader's
 * batches on a follower, truncation, and a high watermark set from outside.
 */

/* Writes "<dir>/leader-epoch-checkpoint" (Kafka's format) atomically. */
static void
write_epoch_checkpoint(struct tr_partition *part)
{
    char path[4096], tmp[4100];
    FILE *f;
    size_t i;
    int ok;

    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", part->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        tr_log_warn("partition %s: %s: %s", part->dir, tmp, strerror(errno));
        return;
    }
    fprintf(f, "0\n%zu\n", part->nepochs);
    for (i = 0; i < part->nepochs; i++) {
        fprintf(f, "%" PRId32 " %" PRId64 "\n", part->epochs[i].epoch,
                part->epochs[i].start);
    }
    ok = fflush(f) == 0 && fdatasync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        tr_log_warn("partition %s: cannot write %s: %s", part->dir, path,
                    strerror(errno));
        (void)unlink(tmp);
    }
}

/*
 * Records that 'epoch' starts at 'start' when it is newer than the last
 * epoch known. Batches from before replication carry epoch 0 or -1; both
 * start the cache at 0. Caller holds part->lock (or owns the partition).
 */
static tr_err_t
epoch_note(struct tr_partition *part, int32_t epoch, int64_t start)
{
    if (epoch < 0) {
        epoch = 0;
    }
    if (part->nepochs > 0 && part->epochs[part->nepochs - 1].epoch >= epoch) {
        return TR_OK;
    }
    if (tr_array_reserve(&part->epochs, &part->epochs_cap, part->nepochs + 1,
                         sizeof(*part->epochs)) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    part->epochs[part->nepochs].epoch = epoch;
    part->epochs[part->nepochs].start = start;
    part->nepochs++;
    if (part->replicated) {
        write_epoch_checkpoint(part);
    }
    return TR_OK;
}

void
tr_partition_set_replicated(struct tr_partition *part, int64_t high_watermark)
{
    pthread_mutex_lock(&part->lock);
    if (!part->replicated) {
        part->replicated = 1;
        if (high_watermark >= 0 && high_watermark < part->high_watermark) {
            part->high_watermark = high_watermark;
        }
        if (part->high_watermark < part->log_start) {
            part->high_watermark = part->log_start;
        }
        write_epoch_checkpoint(part);
    }
    pthread_mutex_unlock(&part->lock);
}

int
tr_partition_set_high_watermark(struct tr_partition *part, int64_t hw)
{
    int moved = 0;

    pthread_mutex_lock(&part->lock);
    part->hw_offered = hw;
    if (hw > part->log_end) {
        hw = part->log_end;
    }
    if (hw > part->high_watermark) {
        part->high_watermark = hw;
        moved = 1;
    }
    pthread_mutex_unlock(&part->lock);
    return moved;
}

tr_err_t
tr_partition_become_leader(struct tr_partition *part, int32_t epoch)
{
    tr_err_t err;

    pthread_mutex_lock(&part->lock);
    if (epoch > part->leader_epoch) {
        part->leader_epoch = epoch;
    }
    /* As Kafka: the new epoch starts at the log end even before a write. */
    err = epoch_note(part, epoch, part->log_end);
    pthread_mutex_unlock(&part->lock);
    return err;
}

tr_err_t
tr_partition_append_replica(struct tr_partition *part, uint8_t *records,
                            size_t len, int64_t *log_end)
{
    tr_err_t err;
    struct tr_slice s;
    struct tr_batch_header h;
    const uint8_t *batch;
    const uint8_t *first = NULL;
    size_t blen, skip = 0;
    int64_t next, count = 0;
    int flush = 0;

    pthread_mutex_lock(&part->lock);
    if (part->failed) {
        err = TR_ERR_IO;
        goto out;
    }
    /* Validate everything first; skip batches the log already holds. */
    next = part->log_end;
    tr_slice_init(&s, records, len);
    while ((err = tr_batch_next(&s, &batch, &blen)) == TR_OK) {
        err = tr_batch_validate(batch, blen, &h);
        if (err != TR_OK) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (first == NULL) {
            if (h.BaseOffset + h.LastOffsetDelta < next) {
                skip += blen;
                continue;
            }
            if (h.BaseOffset != next) {
                tr_log_warn("partition %s: leader's batch at %" PRId64
                            " does not follow the log end %" PRId64,
                            part->dir, h.BaseOffset, next);
                err = TR_ERR_OUT_OF_RANGE;
                goto out;
            }
            first = batch;
        } else if (h.BaseOffset != next) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        next = h.BaseOffset + h.LastOffsetDelta + 1;
        count += (int64_t)h.LastOffsetDelta + 1;
    }
    if (err != TR_ERR_NOT_FOUND) {
        err = TR_ERR_CORRUPT; /* leaders send whole batches only */
        goto out;
    }
    if (first == NULL) {
        err = TR_OK;
        goto out;
    }
    records += skip;
    len -= skip;
    err = write_records(part, records, len, count, &flush);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, records, len);
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        (void)tr_batch_header_parse(batch, blen, &h);
        (void)replay_header(&h, 0, part);
        if (h.Attributes & TR_BATCH_ATTR_CONTROL) {
            (void)txn_note(part, &h, batch, blen);
        }
        if (h.PartitionLeaderEpoch > part->leader_epoch) {
            part->leader_epoch = h.PartitionLeaderEpoch;
        }
    }
    part->log_end = next;
    err = TR_OK;
out:
    *log_end = part->log_end;
    pthread_mutex_unlock(&part->lock);
    if (flush) {
        (void)tr_partition_flush(part);
    }
    return err;
}

/* Header walk state: the position of the first batch at or past 'offset'. */
struct cut_point {
    int64_t offset;
    off_t pos;
    int found;
};

static tr_err_t
find_cut(const struct tr_batch_header *h, off_t pos, void *arg)
{
    struct cut_point *cp = arg;

    if (!cp->found && h->BaseOffset + h->LastOffsetDelta >= cp->offset) {
        cp->pos = pos;
        cp->found = 1;
    }
    return TR_OK;
}

/*
 * Opens the segment at 'base' (with 'flags' besides ACTIVE) as the new
 * active one, after truncate or reset closed the others; a failure leaves
 * the partition failed. Caller holds the lock.
 */
static tr_err_t
open_active_at(struct tr_partition *part, int64_t base, int flags,
               struct tr_segment **out)
{
    struct tr_segment *seg = NULL;

    if (tr_segment_open(part->dir, base, TR_SEGMENT_ACTIVE | flags,
                        part->cfg.segment_index_bytes,
                        part->cfg.index_interval_bytes, &seg) != TR_OK ||
        push_segment(part, seg) != TR_OK) {
        tr_segment_close(seg);
        part->failed = 1;
        return TR_ERR_IO;
    }
    *out = seg;
    return TR_OK;
}

/*
 * Drops the producer state and the epoch cache before they are rebuilt
 * from what the log holds (nothing, after a reset). Caller holds the lock.
 */
static tr_err_t
forget_replay_state(struct tr_partition *part)
{
    tr_producers_free(part->producers);
    part->producers = tr_producers_new();
    tr_txns_clear(part->txns);
    part->nepochs = 0;
    if (part->producers == NULL) {
        part->failed = 1;
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

tr_err_t
tr_partition_truncate(struct tr_partition *part, int64_t offset)
{
    tr_err_t err = TR_OK;
    struct tr_segment *seg = NULL;
    struct cut_point cp;
    char path[4096];
    int64_t base, old_end;
    size_t i, keep;

    pthread_mutex_lock(&part->flush_lock);
    pthread_mutex_lock(&part->lock);
    old_end = part->log_end;
    if (offset >= part->log_end) {
        goto out;
    }
    if (offset < part->log_start) {
        offset = part->log_start;
    }
    /* Whole segments past the cut go; the one holding it is cut short. */
    keep = find_segment(part, offset);
    for (i = part->nsegs; i-- > keep + 1;) {
        base = tr_segment_base_offset(part->segs[i]);
        tr_segment_close(part->segs[i]);
        unlink_segment_files(part->dir, base);
        part->nsegs--;
    }
    seg = part->segs[keep];
    cp.offset = offset;
    cp.pos = tr_segment_size(seg);
    cp.found = 0;
    err = tr_segment_foreach_header(seg, find_cut, &cp);
    if (err != TR_OK) {
        goto out;
    }
    base = tr_segment_base_offset(seg);
    tr_segment_close(seg);
    part->nsegs--;
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", part->dir, base);
    if (truncate(path, cp.pos) != 0) {
        tr_log_error("partition %s: truncate %s: %s", part->dir, path,
                     strerror(errno));
        err = TR_ERR_IO;
    }
    /* Reopening with recovery rebuilds the indexes for what is left. */
    seg = NULL;
    if (open_active_at(part, base, TR_SEGMENT_RECOVER, &seg) != TR_OK) {
        err = TR_ERR_IO;
        goto out;
    }
    part->log_end = tr_segment_next_offset(seg);
    if (part->high_watermark > part->log_end) {
        part->high_watermark = part->log_end;
    }
    if (part->recovery_point > part->log_end) {
        part->recovery_point = part->log_end;
    }
    if (part->first_dirty > part->log_end) {
        part->first_dirty = part->log_end;
    }
    /* Producer state and epochs are rebuilt from what remains. */
    if ((err = forget_replay_state(part)) != TR_OK) {
        goto out;
    }
    for (i = 0; i < part->nsegs; i++) {
        part->replay_fd = tr_segment_fd(part->segs[i]);
        (void)tr_segment_foreach_header(part->segs[i], replay_header, part);
        part->replay_fd = -1;
    }
    write_epoch_checkpoint(part);
    tr_log_info("partition %s: truncated from %" PRId64 " to %" PRId64,
                part->dir, old_end, part->log_end);
out:
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_unlock(&part->flush_lock);
    return err;
}

tr_err_t
tr_partition_reset(struct tr_partition *part, int64_t offset)
{
    struct tr_segment *seg = NULL;
    int64_t base, old_end;
    tr_err_t err = TR_OK;
    size_t i;

    pthread_mutex_lock(&part->flush_lock);
    pthread_mutex_lock(&part->lock);
    old_end = part->log_end;
    for (i = part->nsegs; i-- > 0;) {
        base = tr_segment_base_offset(part->segs[i]);
        tr_segment_close(part->segs[i]);
        unlink_segment_files(part->dir, base);
    }
    part->nsegs = 0;
    unlink_segment_files(part->dir, offset);
    if ((err = open_active_at(part, offset, 0, &seg)) != TR_OK) {
        goto out;
    }
    part->log_start = part->log_end = offset;
    part->high_watermark = part->recovery_point = offset;
    part->first_dirty = offset;
    if ((err = forget_replay_state(part)) != TR_OK) {
        goto out;
    }
    write_epoch_checkpoint(part);
    tr_log_info("partition %s: emptied (log end was %" PRId64
                "); starts again at %" PRId64,
                part->dir, old_end, offset);
out:
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_unlock(&part->flush_lock);
    return err;
}

void
tr_partition_end_offset_for_epoch(struct tr_partition *part, int32_t epoch,
                                  int32_t *found_epoch, int64_t *end_offset)
{
    size_t i;

    pthread_mutex_lock(&part->lock);
    *found_epoch = -1;
    *end_offset = -1;
    for (i = part->nepochs; i-- > 0;) {
        if (part->epochs[i].epoch <= epoch) {
            *found_epoch = part->epochs[i].epoch;
            *end_offset = i + 1 < part->nepochs ? part->epochs[i + 1].start
                                                : part->log_end;
            break;
        }
    }
    if (*found_epoch < 0 && part->nepochs > 0) {
        /* Older than anything kept: everything before our first epoch. */
        *found_epoch = epoch;
        *end_offset = part->epochs[0].start;
    }
    pthread_mutex_unlock(&part->lock);
}

int32_t
tr_partition_last_epoch(struct tr_partition *part)
{
    int32_t epoch;

    pthread_mutex_lock(&part->lock);
    epoch = part->nepochs > 0 ? part->epochs[part->nepochs - 1].epoch : -1;
    pthread_mutex_unlock(&part->lock);
    return epoch;
}

tr_err_t
tr_partition_append_marker(struct tr_partition *part, int64_t producer_id,
                           int16_t epoch, int commit, int32_t coordinator_epoch,
                           int64_t *offset)
{
    struct tr_batch_header h;
    struct tr_buf buf;
    uint8_t *batch;
    int flush = 0;
    tr_err_t err;

    tr_buf_init(&buf, 256);
    err = tr_batch_build_marker(&buf, producer_id, epoch, commit,
                                coordinator_epoch, tr_clock_wall_ms());
    if (err != TR_OK) {
        goto done;
    }
    batch = tr_buf_data(&buf);
    pthread_mutex_lock(&part->lock);
    if (part->failed) {
        err = TR_ERR_IO;
        goto out;
    }
    if (tr_producers_epoch(part->producers, producer_id) > epoch) {
        err = TR_ERR_FENCED;
        goto out;
    }
    if (tr_producers_coordinator_epoch(part->producers, producer_id) >
        coordinator_epoch) {
        err = TR_ERR_STALE; /* a coordinator that lost its partition */
        goto out;
    }
    err = tr_producers_reserve(part->producers, producer_id);
    if (err != TR_OK) {
        goto out;
    }
    tr_batch_set_base_offset(batch, part->log_end);
    tr_batch_set_leader_epoch(batch, part->leader_epoch);
    err = write_records(part, batch, tr_buf_len(&buf), 1, &flush);
    if (err != TR_OK) {
        goto out;
    }
    (void)epoch_note(part, part->leader_epoch, part->log_end);
    *offset = part->log_end;
    part->log_end++;
    if (!part->replicated) {
        part->high_watermark = part->log_end;
    }
    (void)tr_batch_header_parse(batch, tr_buf_len(&buf), &h);
    if (txn_note(part, &h, batch, tr_buf_len(&buf)) != TR_OK) {
        tr_log_error("partition %s: marker of producer %" PRId64 " at %" PRId64
                     " not tracked: out of memory",
                     part->dir, producer_id, *offset);
    }
out:
    pthread_mutex_unlock(&part->lock);
    if (flush) {
        (void)tr_partition_flush(part);
    }
done:
    tr_buf_cleanup(&buf);
    return err;
}

tr_err_t
tr_partition_aborted_txns(struct tr_partition *part, int64_t from, int64_t to,
                          struct tr_aborted_txn **out, size_t *count)
{
    tr_err_t err;

    pthread_mutex_lock(&part->lock);
    err = tr_txns_aborted(part->txns, from, to, out, count);
    pthread_mutex_unlock(&part->lock);
    return err;
}

size_t
tr_partition_open_txns(struct tr_partition *part, struct tr_open_txn *out,
                       size_t max)
{
    size_t n;

    pthread_mutex_lock(&part->lock);
    n = tr_txns_open_list(part->txns, out, max);
    pthread_mutex_unlock(&part->lock);
    return n;
}

tr_err_t
tr_partition_foreach_batch(struct tr_partition *part, int64_t from,
                           size_t chunk, tr_partition_batch_cb *cb, void *arg)
{
    struct tr_partition_offsets offs;
    uint8_t *buf = NULL;
    int64_t next = from;
    tr_err_t err = TR_OK;

    tr_partition_offsets(part, &offs);
    if (next < offs.log_start) {
        next = offs.log_start;
    }
    while (next < offs.log_end) {
        struct tr_read_result rr = { -1, 0, 0 };
        struct tr_slice s;
        struct tr_batch_header h;
        const uint8_t *b;
        size_t blen, got = 0;
        int64_t before = next;

        err = tr_partition_read(part, next, chunk, offs.log_end, &rr);
        if (err != TR_OK || rr.fd < 0 || rr.len == 0) {
            if (rr.fd >= 0) {
                close(rr.fd);
            }
            break;
        }
        tr_free(buf);
        buf = tr_malloc(rr.len);
        if (buf == NULL) {
            close(rr.fd);
            err = TR_ERR_NOMEM;
            break;
        }
        while (got < rr.len) {
            ssize_t n =
                pread(rr.fd, buf + got, rr.len - got, rr.pos + (off_t)got);

            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                break;
            }
            got += (size_t)n;
        }
        close(rr.fd);
        if (got < rr.len) {
            err = TR_ERR_IO;
            break;
        }
        tr_slice_init(&s, buf, rr.len);
        while (tr_batch_next(&s, &b, &blen) == TR_OK &&
               tr_batch_header_parse(b, blen, &h) == TR_OK) {
            if (h.BaseOffset + h.LastOffsetDelta >= next) {
                err = cb(b, blen, &h, arg);
                if (err != TR_OK) {
                    goto out;
                }
            }
            next = h.BaseOffset + h.LastOffsetDelta + 1;
        }
        if (next <= before) {
            break;
        }
    }
out:
    tr_free(buf);
    return err;
}

tr_err_t
tr_partition_producers(struct tr_partition *part,
                       struct tr_partition_producer **out, size_t *count)
{
    struct tr_producer_state *ps = NULL;
    struct tr_partition_producer *res = NULL;
    size_t n, i;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&part->lock);
    n = tr_producers_count(part->producers);
    ps = tr_calloc(n + 1, sizeof(*ps));
    res = tr_calloc(n + 1, sizeof(*res));
    if (ps == NULL || res == NULL) {
        goto out;
    }
    n = tr_producers_list(part->producers, ps, n);
    for (i = 0; i < n; i++) {
        res[i].producer_id = ps[i].producer_id;
        res[i].epoch = ps[i].epoch;
        res[i].last_seq = ps[i].last_seq;
        res[i].coordinator_epoch = ps[i].coordinator_epoch;
        res[i].current_txn_start =
            tr_txns_open_first(part->txns, ps[i].producer_id);
    }
    *out = res;
    *count = n;
    res = NULL;
    err = TR_OK;
out:
    pthread_mutex_unlock(&part->lock);
    tr_free(ps);
    tr_free(res);
    return err;
}
