/*
 * segment -- a .log file of record batches plus its offset and time
 * indexes: appending, locating offsets and timestamps, walking headers,
 * and recovering a torn or corrupt tail. See segment.h.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "index.h"
#include "log.h"

struct tr_segment {
    int64_t base_offset;
    char *log_path;
    char *oidx_path;
    char *tidx_path;
    int fd;
    int64_t size;              /* bytes of complete batches */
    int64_t next_offset;       /* last offset + 1, or base_offset when empty */
    int64_t max_ts;            /* largest MaxTimestamp, -1 when none */
    int64_t max_ts_offset;     /* BaseOffset of the first batch with max_ts */
    int64_t bytes_since_index; /* bytes appended since the last offset entry */
    int64_t created_ms;        /* see tr_segment_created_ms */
    int64_t truncated;         /* bytes cut by recovery at open */
    int32_t index_interval;    /* for rebuilds */
    int32_t index_max;         /* index size while rebuilding */
    struct tr_index *oidx;
    struct tr_index *tidx;
};

/* Returns an owned "<dir>/<20-digit base><suffix>", or NULL. */
static char *
segment_path(const char *dir, int64_t base_offset, const char *suffix)
{
    size_t len = strlen(dir) + 1 + TR_SEGMENT_NAME_DIGITS + strlen(suffix) + 1;
    char *path = tr_malloc(len);

    if (path != NULL) {
        snprintf(path, len, "%s/%020" PRId64 "%s", dir, base_offset, suffix);
    }
    return path;
}

static tr_err_t
errno_err(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
        return TR_ERR_NOSPACE;
    }
    return TR_ERR_IO;
}

tr_err_t
tr_segment_read_header(int fd, off_t pos, off_t end, struct tr_batch_header *h)
{
    uint8_t hdr[TR_BATCH_HEADER_SIZE];
    ssize_t n;

    if (end - pos < TR_BATCH_HEADER_SIZE) {
        return TR_ERR_TRUNCATED;
    }
    n = pread(fd, hdr, sizeof(hdr), pos);
    if (n < 0) {
        return TR_ERR_IO;
    }
    if (tr_batch_header_parse(hdr, (size_t)n, h) != TR_OK) {
        return TR_ERR_TRUNCATED;
    }
    if (h->BatchLength < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD) {
        return TR_ERR_CORRUPT;
    }
    if ((int64_t)h->BatchLength > end - pos - TR_BATCH_LOG_OVERHEAD) {
        return TR_ERR_TRUNCATED;
    }
    return TR_OK;
}

static int64_t
batch_size(const struct tr_batch_header *h)
{
    return (int64_t)h->BatchLength + TR_BATCH_LOG_OVERHEAD;
}

static int64_t
last_offset(const struct tr_batch_header *h)
{
    return h->BaseOffset + h->LastOffsetDelta;
}

/*
 * Checks what the log itself promises about a batch that follows offset
 * 'next' in this segment: magic 2, offsets increasing, the last offset
 * within int32 of the base so the indexes can hold it.
 */
static int
header_fits(const struct tr_segment *seg, const struct tr_batch_header *h,
            int64_t next)
{
    return h->Magic == TR_BATCH_MAGIC && h->LastOffsetDelta >= 0 &&
           h->BaseOffset >= next &&
           last_offset(h) - seg->base_offset <= INT32_MAX;
}

/*
 * Accounts for the batch 'h' stored at 'pos' and adds index entries: one for
 * the segment's first batch, then one whenever more than 'interval' bytes
 * went in since the last entry. Index entries that do not fit are skipped:
 * the index is sparse, a missing entry only lengthens a scan, and the
 * partition rolls before the indexes fill.
 */
static void
index_batch(struct tr_segment *seg, const struct tr_batch_header *h,
            int64_t pos, int32_t interval)
{
    if (h->MaxTimestamp > seg->max_ts) {
        seg->max_ts = h->MaxTimestamp;
        seg->max_ts_offset = h->BaseOffset;
    }
    if (tr_index_entries(seg->oidx) == 0 || seg->bytes_since_index > interval) {
        if (tr_index_append_offset(seg->oidx, h->BaseOffset, pos) == TR_OK) {
            seg->bytes_since_index = 0;
        }
        if (seg->max_ts >= 0) {
            (void)tr_index_append_time(seg->tidx, seg->max_ts,
                                       seg->max_ts_offset);
        }
    }
    seg->bytes_since_index += batch_size(h);
    seg->next_offset = last_offset(h) + 1;
}

/* Forgets every batch from the segment's state (not the file). */
static void
reset_state(struct tr_segment *seg)
{
    tr_index_reset(seg->oidx);
    tr_index_reset(seg->tidx);
    seg->next_offset = seg->base_offset;
    seg->max_ts = -1;
    seg->max_ts_offset = seg->base_offset;
    seg->bytes_since_index = 0;
}

/*
 * Starts an index rebuild: forgets every batch and gives the indexes their
 * full size, since a sealed index is mapped with no room to spare.
 */
static tr_err_t
begin_rebuild(struct tr_segment *seg)
{
    tr_err_t err;

    reset_state(seg);
    err = tr_index_resize(seg->oidx, (size_t)seg->index_max);
    if (err == TR_OK) {
        err = tr_index_resize(seg->tidx, (size_t)seg->index_max);
    }
    return err;
}

/*
 * Walks the batches from 'pos' (where offset 'next' is due) to the end of
 * the file, indexing each. With 'validate' every batch is read whole and
 * its CRC checked. Stops at the first batch that is torn, corrupt or out of
 * order and returns its position in *bad (-1 when the walk reached the end).
 */
static tr_err_t
walk(struct tr_segment *seg, int64_t pos, int64_t end, int validate,
     int64_t *bad)
{
    tr_err_t err = TR_ERR_NOMEM;
    struct tr_batch_header h;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int64_t size;
    uint8_t *tmp;
    ssize_t n;

    *bad = -1;
    while (pos < end) {
        err = tr_segment_read_header(seg->fd, pos, end, &h);
        if (err == TR_ERR_IO) {
            tr_log_error("segment %s: read at %" PRId64 ": %s", seg->log_path,
                         pos, strerror(errno));
            goto out;
        }
        if (err != TR_OK || !header_fits(seg, &h, seg->next_offset)) {
            *bad = pos;
            break;
        }
        size = batch_size(&h);
        if (validate) {
            if ((size_t)size > cap) {
                tmp = tr_realloc(buf, (size_t)size);
                if (tmp == NULL) {
                    err = TR_ERR_NOMEM;
                    goto out;
                }
                buf = tmp;
                cap = (size_t)size;
            }
            n = pread(seg->fd, buf, (size_t)size, pos);
            if (n != size) {
                tr_log_error("segment %s: read %" PRId64 " bytes at %" PRId64
                             ": %s",
                             seg->log_path, size, pos,
                             n < 0 ? strerror(errno) : "short read");
                err = TR_ERR_IO;
                goto out;
            }
            if (tr_batch_validate(buf, (size_t)size, NULL) != TR_OK) {
                *bad = pos;
                break;
            }
        }
        index_batch(seg, &h, pos, seg->index_interval);
        pos += size;
    }
    err = TR_OK;
out:
    tr_free(buf);
    return err;
}

/*
 * Re-reads the whole segment, validating each batch, and truncates the log
 * at the first bad one. The indexes are rebuilt on the way.
 */
static tr_err_t
recover(struct tr_segment *seg)
{
    tr_err_t err;
    int64_t bad;
    int64_t old_size = seg->size;

    err = begin_rebuild(seg);
    if (err != TR_OK) {
        goto out;
    }
    err = walk(seg, 0, seg->size, 1, &bad);
    if (err != TR_OK) {
        goto out;
    }
    if (bad >= 0) {
        if (ftruncate(seg->fd, bad) != 0) {
            tr_log_error("segment %s: truncate to %" PRId64 ": %s",
                         seg->log_path, bad, strerror(errno));
            err = TR_ERR_IO;
            goto out;
        }
        seg->size = bad;
        seg->truncated = old_size - bad;
        tr_log_warn("segment %s: truncated %" PRId64 " bytes at position "
                    "%" PRId64 " (offsets from %" PRId64 " on are gone)",
                    seg->log_path, seg->truncated, bad, seg->next_offset);
    }
    err = TR_OK;
out:
    return err;
}

/*
 * Loads the state of a segment trusted to be whole: the indexes if they
 * pass their checks (else rebuilt by a header walk), then the headers after
 * the last offset entry. A broken header there means a torn tail after all:
 * fall back to full recovery.
 */
static tr_err_t
load(struct tr_segment *seg)
{
    tr_err_t err;
    struct tr_index_entry e;
    int64_t pos = 0;
    int64_t bad;

    if (tr_index_check(seg->oidx, seg->size) != TR_OK ||
        tr_index_check(seg->tidx, seg->size) != TR_OK) {
        tr_log_warn("segment %s: index missing or inconsistent, rebuilding",
                    seg->log_path);
        err = begin_rebuild(seg);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (tr_index_last(seg->oidx, &e) == TR_OK) {
        pos = e.value;
        seg->next_offset = e.offset;
    }
    if (tr_index_last(seg->tidx, &e) == TR_OK) {
        seg->max_ts = e.value;
        seg->max_ts_offset = e.offset;
    }
    /* The batch at 'pos' is already indexed: walk from it without re-adding. */
    seg->bytes_since_index = 0;
    err = walk(seg, pos, seg->size, 0, &bad);
    if (err != TR_OK) {
        goto out;
    }
    /*
     * A time index that names offsets the log no longer holds (the log was
     * cut behind its back) is stale: rebuild both from the headers.
     */
    if (bad < 0 && tr_index_last(seg->tidx, &e) == TR_OK &&
        e.offset >= seg->next_offset) {
        tr_log_warn("segment %s: time index points past the log, rebuilding",
                    seg->log_path);
        err = begin_rebuild(seg);
        if (err != TR_OK) {
            goto out;
        }
        err = walk(seg, 0, seg->size, 0, &bad);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (bad >= 0) {
        tr_log_warn("segment %s: broken batch header at position %" PRId64
                    ", recovering the segment",
                    seg->log_path, bad);
        err = recover(seg);
    }
out:
    return err;
}

/*
 * Leaves an inactive segment's indexes as sealing would: the last time
 * entry present, and the files no longer than their entries (a rebuild or a
 * crash may have left them preallocated).
 */
static tr_err_t
settle_inactive(struct tr_segment *seg)
{
    tr_err_t err;

    err = tr_index_resize(seg->tidx, (tr_index_entries(seg->tidx) + 1) *
                                         TR_INDEX_TIME_ENTRY_SIZE);
    if (err != TR_OK) {
        goto out;
    }
    if (seg->max_ts >= 0) {
        (void)tr_index_append_time(seg->tidx, seg->max_ts, seg->max_ts_offset);
    }
    err = tr_index_resize(seg->tidx, 0);
    if (err == TR_OK) {
        err = tr_index_resize(seg->oidx, 0);
    }
out:
    return err;
}

tr_err_t
tr_segment_open(const char *dir, int64_t base_offset, int flags,
                int32_t index_max_bytes, int32_t index_interval_bytes,
                struct tr_segment **out)
{
    tr_err_t err = TR_ERR_NOMEM;
    struct tr_segment *seg;
    struct tr_batch_header h;
    struct stat st;
    size_t imax = (flags & TR_SEGMENT_ACTIVE) ? (size_t)index_max_bytes : 0;

    seg = tr_calloc(1, sizeof(*seg));
    if (seg == NULL) {
        goto out;
    }
    seg->fd = -1;
    seg->base_offset = base_offset;
    seg->index_interval = index_interval_bytes;
    seg->index_max = index_max_bytes;
    seg->created_ms = -1;
    seg->next_offset = base_offset;
    seg->max_ts = -1;
    seg->max_ts_offset = base_offset;
    seg->log_path = segment_path(dir, base_offset, ".log");
    seg->oidx_path = segment_path(dir, base_offset, ".index");
    seg->tidx_path = segment_path(dir, base_offset, ".timeindex");
    if (seg->log_path == NULL || seg->oidx_path == NULL ||
        seg->tidx_path == NULL) {
        goto out;
    }
    seg->fd = open(seg->log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (seg->fd < 0 || fstat(seg->fd, &st) != 0) {
        tr_log_error("segment %s: open: %s", seg->log_path, strerror(errno));
        err = errno_err(errno);
        goto out;
    }
    seg->size = st.st_size;
    err = tr_index_open(seg->oidx_path, TR_INDEX_OFFSET, base_offset, imax,
                        &seg->oidx);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_index_open(seg->tidx_path, TR_INDEX_TIME, base_offset, imax,
                        &seg->tidx);
    if (err != TR_OK) {
        goto out;
    }
    err = (flags & TR_SEGMENT_RECOVER) ? recover(seg) : load(seg);
    if (err != TR_OK) {
        goto out;
    }
    if (!(flags & TR_SEGMENT_ACTIVE)) {
        err = settle_inactive(seg);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (seg->size > 0) {
        err = tr_segment_read_header(seg->fd, 0, seg->size, &h);
        if (err != TR_OK) {
            goto out;
        }
        /*
         * Age for rolling: the first batch's timestamp as Kafka does, or the
         * file's change time for batches without one.
         */
        seg->created_ms =
            h.MaxTimestamp >= 0 ? h.MaxTimestamp : (int64_t)st.st_mtime * 1000;
    }
    *out = seg;
    seg = NULL;
    err = TR_OK;
out:
    tr_segment_close(seg);
    return err;
}

void
tr_segment_close(struct tr_segment *seg)
{
    if (seg == NULL) {
        return;
    }
    tr_index_close(seg->oidx);
    tr_index_close(seg->tidx);
    if (seg->fd >= 0) {
        close(seg->fd);
    }
    tr_free(seg->log_path);
    tr_free(seg->oidx_path);
    tr_free(seg->tidx_path);
    tr_free(seg);
}

void
tr_segment_delete(struct tr_segment *seg)
{
    if (seg == NULL) {
        return;
    }
    /* Readers holding a dup of the descriptor keep the data until done. */
    if (seg->log_path != NULL && unlink(seg->log_path) != 0 &&
        errno != ENOENT) {
        tr_log_warn("segment %s: unlink: %s", seg->log_path, strerror(errno));
    }
    if (seg->oidx_path != NULL) {
        (void)unlink(seg->oidx_path);
    }
    if (seg->tidx_path != NULL) {
        (void)unlink(seg->tidx_path);
    }
    tr_segment_close(seg);
}

int64_t
tr_segment_truncated_bytes(const struct tr_segment *seg)
{
    return seg->truncated;
}

int64_t
tr_segment_base_offset(const struct tr_segment *seg)
{
    return seg->base_offset;
}

int64_t
tr_segment_next_offset(const struct tr_segment *seg)
{
    return seg->next_offset;
}

int64_t
tr_segment_size(const struct tr_segment *seg)
{
    return seg->size;
}

int64_t
tr_segment_max_timestamp(const struct tr_segment *seg)
{
    return seg->max_ts;
}

int64_t
tr_segment_created_ms(const struct tr_segment *seg)
{
    return seg->created_ms;
}

int
tr_segment_fd(const struct tr_segment *seg)
{
    return seg->fd;
}

int
tr_segment_index_full(const struct tr_segment *seg)
{
    /* The time index keeps one slot for the entry written at sealing. */
    return tr_index_full(seg->oidx) ||
           tr_index_entries(seg->tidx) + 1 >= tr_index_capacity(seg->tidx);
}

tr_err_t
tr_segment_append(struct tr_segment *seg, const uint8_t *data, size_t len,
                  int32_t index_interval_bytes, int64_t now_ms)
{
    tr_err_t err = TR_ERR_IO;
    struct tr_batch_header h;
    size_t done = 0;
    size_t off;
    ssize_t n;

    while (done < len) {
        n = pwrite(seg->fd, data + done, len - done,
                   (off_t)(seg->size + (int64_t)done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = n < 0 ? errno_err(errno) : TR_ERR_IO;
            tr_log_error("segment %s: write %zu bytes at %" PRId64 ": %s",
                         seg->log_path, len, seg->size,
                         n < 0 ? strerror(errno) : "no progress");
            /* Cut the partial write so no reader or recovery ever sees it. */
            if (ftruncate(seg->fd, seg->size) != 0) {
                tr_log_error("segment %s: truncate back to %" PRId64 ": %s",
                             seg->log_path, seg->size, strerror(errno));
            }
            goto out;
        }
        done += (size_t)n;
    }
    /* The caller validated these batches: the headers can be trusted. */
    for (off = 0; off + TR_BATCH_HEADER_SIZE <= len;
         off += (size_t)batch_size(&h)) {
        (void)tr_batch_header_parse(data + off, len - off, &h);
        index_batch(seg, &h, seg->size + (int64_t)off, index_interval_bytes);
    }
    if (seg->size == 0) {
        seg->created_ms = now_ms;
    }
    seg->size += (int64_t)len;
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_segment_flush(struct tr_segment *seg)
{
    tr_err_t err = TR_OK;

    if (fdatasync(seg->fd) != 0) {
        tr_log_error("segment %s: fdatasync: %s", seg->log_path,
                     strerror(errno));
        err = errno_err(errno);
    }
    if (tr_index_sync(seg->oidx) != TR_OK ||
        tr_index_sync(seg->tidx) != TR_OK) {
        err = TR_ERR_IO;
    }
    return err;
}

tr_err_t
tr_segment_seal(struct tr_segment *seg)
{
    tr_err_t err;

    /*
     * The last entry records the segment's largest timestamp, which time
     * lookups and retention read back after a restart.
     */
    if (seg->max_ts >= 0) {
        (void)tr_index_append_time(seg->tidx, seg->max_ts, seg->max_ts_offset);
    }
    err = tr_index_resize(seg->oidx, 0);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_index_resize(seg->tidx, 0);
out:
    return err;
}

/*
 * Finds the first batch whose last offset is >= 'offset', starting from the
 * offset index's floor entry. *pos = -1 when the segment has none.
 */
static tr_err_t
find_batch(struct tr_segment *seg, int64_t offset, int64_t *pos,
           struct tr_batch_header *h)
{
    tr_err_t err = TR_OK;
    struct tr_index_entry e;
    int64_t p;

    tr_index_lookup(seg->oidx, offset, &e);
    p = e.value;
    while (p < seg->size) {
        err = tr_segment_read_header(seg->fd, p, seg->size, h);
        if (err != TR_OK) {
            err = err == TR_ERR_IO ? TR_ERR_IO : TR_ERR_CORRUPT;
            goto out;
        }
        if (last_offset(h) >= offset) {
            *pos = p;
            goto out;
        }
        p += batch_size(h);
    }
    *pos = -1;
out:
    return err;
}

tr_err_t
tr_segment_read_range(struct tr_segment *seg, int64_t offset, size_t max_bytes,
                      int64_t max_offset, off_t *pos, size_t *len)
{
    tr_err_t err;
    struct tr_batch_header h;
    int64_t start, end, p;

    *pos = 0;
    *len = 0;
    err = find_batch(seg, offset, &start, &h);
    if (err != TR_OK || start < 0 || h.BaseOffset >= max_offset) {
        goto out;
    }
    end = start + batch_size(&h);
    /*
     * Common case: everything left in the segment is readable and fits, so
     * no more headers need reading.
     */
    if (max_offset >= seg->next_offset &&
        (uint64_t)(seg->size - start) <= max_bytes) {
        end = seg->size;
    } else {
        for (p = end; p < seg->size; p = end) {
            err = tr_segment_read_header(seg->fd, p, seg->size, &h);
            if (err != TR_OK) {
                err = err == TR_ERR_IO ? TR_ERR_IO : TR_ERR_CORRUPT;
                goto out;
            }
            if (h.BaseOffset >= max_offset ||
                (uint64_t)(p + batch_size(&h) - start) > max_bytes) {
                break;
            }
            end = p + batch_size(&h);
        }
    }
    *pos = (off_t)start;
    *len = (size_t)(end - start);
out:
    return err;
}

tr_err_t
tr_segment_find_time(struct tr_segment *seg, int64_t timestamp, int64_t *offset,
                     int64_t *ts)
{
    tr_err_t err = TR_ERR_NOT_FOUND;
    struct tr_index_entry te, oe;
    struct tr_batch_header h;
    int64_t p;

    if (seg->max_ts < timestamp) {
        goto out;
    }
    tr_index_lookup(seg->tidx, timestamp, &te);
    tr_index_lookup(seg->oidx, te.offset, &oe);
    p = oe.value;
    while (p < seg->size) {
        err = tr_segment_read_header(seg->fd, p, seg->size, &h);
        if (err != TR_OK) {
            err = err == TR_ERR_IO ? TR_ERR_IO : TR_ERR_CORRUPT;
            goto out;
        }
        if (h.MaxTimestamp >= timestamp) {
            *offset = h.BaseOffset;
            *ts = h.MaxTimestamp;
            err = TR_OK;
            goto out;
        }
        p += batch_size(&h);
    }
    err = TR_ERR_NOT_FOUND;
out:
    return err;
}

tr_err_t
tr_segment_foreach_header(struct tr_segment *seg, tr_segment_header_cb *cb,
                          void *arg)
{
    tr_err_t err = TR_OK;
    struct tr_batch_header h;
    int64_t p;

    p = 0;
    while (p < seg->size) {
        err = tr_segment_read_header(seg->fd, p, seg->size, &h);
        if (err != TR_OK) {
            err = err == TR_ERR_IO ? TR_ERR_IO : TR_ERR_CORRUPT;
            goto out;
        }
        err = cb(&h, (off_t)p, arg);
        if (err != TR_OK) {
            goto out;
        }
        p += batch_size(&h);
    }
out:
    return err;
}
