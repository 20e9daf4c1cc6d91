/*
 * index -- memory-mapped offset and time indexes; see index.h for the
 * layouts and why they carry no checksum.
 */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"

struct tr_index {
    enum tr_index_kind kind;
    int fd;
    char *path;
    int64_t base_offset;
    size_t esize;   /* bytes per entry */
    uint8_t *map;   /* NULL when map_len is 0 */
    size_t map_len; /* bytes mapped = file length */
    size_t entries; /* entries in use */
    size_t cap;     /* entries that fit in the mapping */
    int torn;       /* the file length was not a whole number of entries */
};

/* The key the index is searched by: offset, or timestamp. */
static int64_t
entry_key(const struct tr_index *idx, size_t n)
{
    const uint8_t *p = idx->map + n * idx->esize;

    if (idx->kind == TR_INDEX_OFFSET) {
        return idx->base_offset + tr_load_i32(p);
    }
    return tr_load_i64(p);
}

static int64_t
entry_offset(const struct tr_index *idx, size_t n)
{
    const uint8_t *p = idx->map + n * idx->esize;

    if (idx->kind == TR_INDEX_OFFSET) {
        return idx->base_offset + tr_load_i32(p);
    }
    return idx->base_offset + tr_load_i32(p + 8);
}

void
tr_index_entry_at(const struct tr_index *idx, size_t n,
                  struct tr_index_entry *e)
{
    const uint8_t *p = idx->map + n * idx->esize;

    if (idx->kind == TR_INDEX_OFFSET) {
        e->offset = idx->base_offset + tr_load_i32(p);
        e->value = tr_load_i32(p + 4);
    } else {
        e->value = tr_load_i64(p);
        e->offset = idx->base_offset + tr_load_i32(p + 8);
    }
}

tr_err_t
tr_index_resize(struct tr_index *idx, size_t max_bytes)
{
    tr_err_t err = TR_ERR_IO;
    size_t used = idx->entries * idx->esize;
    size_t want = (max_bytes / idx->esize) * idx->esize;
    void *map;

    if (want < used) {
        want = used;
    }
    if (idx->map != NULL) {
        munmap(idx->map, idx->map_len);
        idx->map = NULL;
        idx->map_len = 0;
        idx->cap = 0;
    }
    if (ftruncate(idx->fd, (off_t)want) != 0) {
        tr_log_error("index %s: ftruncate to %zu: %s", idx->path, want,
                     strerror(errno));
        err = errno == ENOSPC ? TR_ERR_NOSPACE : TR_ERR_IO;
        goto out;
    }
    if (want > 0) {
        map = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, idx->fd, 0);
        if (map == MAP_FAILED) {
            tr_log_error("index %s: mmap %zu bytes: %s", idx->path, want,
                         strerror(errno));
            goto out;
        }
        /*
         * Entries are appended a few bytes at a time into a sparse,
         * preallocated file: readahead would zero-fill megabytes of page
         * cache on the first touch of every index (it dominated the CPU
         * with many partitions).
         */
        madvise(map, want, MADV_RANDOM);
        idx->map = map;
    }
    idx->map_len = want;
    idx->cap = want / idx->esize;
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_index_open(const char *path, enum tr_index_kind kind, int64_t base_offset,
              size_t max_bytes, struct tr_index **out)
{
    tr_err_t err = TR_ERR_NOMEM;
    struct tr_index *idx;
    struct stat st;

    idx = tr_calloc(1, sizeof(*idx));
    if (idx == NULL) {
        goto out;
    }
    idx->fd = -1;
    idx->kind = kind;
    idx->base_offset = base_offset;
    idx->esize = kind == TR_INDEX_OFFSET ? TR_INDEX_OFFSET_ENTRY_SIZE
                                         : TR_INDEX_TIME_ENTRY_SIZE;
    idx->path = tr_strdup(path);
    if (idx->path == NULL) {
        goto out;
    }
    idx->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (idx->fd < 0 || fstat(idx->fd, &st) != 0) {
        tr_log_error("index %s: open: %s", path, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    idx->entries = (size_t)st.st_size / idx->esize;
    idx->torn = (size_t)st.st_size % idx->esize != 0;
    /*
     * A torn length is only possible if something outside us wrote the
     * file; the used entries are kept for tr_index_check to judge.
     */
    err = tr_index_resize(idx, max_bytes);
    if (err != TR_OK) {
        goto out;
    }
    *out = idx;
    idx = NULL;
    err = TR_OK;
out:
    tr_index_close(idx);
    return err;
}

void
tr_index_close(struct tr_index *idx)
{
    if (idx == NULL) {
        return;
    }
    if (idx->map != NULL) {
        munmap(idx->map, idx->map_len);
    }
    if (idx->fd >= 0) {
        close(idx->fd);
    }
    tr_free(idx->path);
    tr_free(idx);
}

tr_err_t
tr_index_check(const struct tr_index *idx, int64_t log_size)
{
    tr_err_t err = TR_ERR_CORRUPT;
    struct tr_index_entry prev = { 0, 0 };
    struct tr_index_entry e;
    size_t i;

    if (idx->torn) {
        goto out;
    }
    for (i = 0; i < idx->entries; i++) {
        tr_index_entry_at(idx, i, &e);
        if (e.offset < idx->base_offset) {
            goto out;
        }
        if (idx->kind == TR_INDEX_OFFSET) {
            if (e.value < 0 || e.value >= log_size) {
                goto out;
            }
            if (i > 0 && (e.offset <= prev.offset || e.value <= prev.value)) {
                goto out;
            }
        } else {
            if (i > 0 && (e.value <= prev.value || e.offset < prev.offset)) {
                goto out;
            }
        }
        prev = e;
    }
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_index_append_offset(struct tr_index *idx, int64_t offset, int64_t pos)
{
    tr_err_t err = TR_ERR_INVALID;
    int64_t rel = offset - idx->base_offset;
    struct tr_index_entry last;
    uint8_t *p;

    if (rel < 0 || rel > INT32_MAX || pos < 0 || pos > INT32_MAX) {
        goto out;
    }
    if (idx->entries > 0) {
        tr_index_entry_at(idx, idx->entries - 1, &last);
        if (offset <= last.offset || pos <= last.value) {
            goto out;
        }
    }
    if (idx->entries >= idx->cap) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    p = idx->map + idx->entries * idx->esize;
    tr_store_i32(p, (int32_t)rel);
    tr_store_i32(p + 4, (int32_t)pos);
    idx->entries++;
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_index_append_time(struct tr_index *idx, int64_t timestamp, int64_t offset)
{
    tr_err_t err = TR_ERR_INVALID;
    int64_t rel = offset - idx->base_offset;
    struct tr_index_entry last;
    uint8_t *p;

    if (rel < 0 || rel > INT32_MAX) {
        goto out;
    }
    if (idx->entries > 0) {
        tr_index_entry_at(idx, idx->entries - 1, &last);
        if (timestamp <= last.value) {
            err = TR_OK; /* timestamps stay monotonic: nothing to add */
            goto out;
        }
        if (offset < last.offset) {
            goto out;
        }
    }
    if (idx->entries >= idx->cap) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    p = idx->map + idx->entries * idx->esize;
    tr_store_i64(p, timestamp);
    tr_store_i32(p + 8, (int32_t)rel);
    idx->entries++;
    err = TR_OK;
out:
    return err;
}

void
tr_index_lookup(const struct tr_index *idx, int64_t target,
                struct tr_index_entry *e)
{
    size_t lo = 0;
    size_t hi = idx->entries;
    size_t mid;

    /* Invariant: entries [0, lo) have key <= target, [hi, n) above it. */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (entry_key(idx, mid) <= target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        e->offset = idx->base_offset;
        e->value = idx->kind == TR_INDEX_OFFSET ? 0 : -1;
        return;
    }
    tr_index_entry_at(idx, lo - 1, e);
}

tr_err_t
tr_index_last(const struct tr_index *idx, struct tr_index_entry *e)
{
    if (idx->entries == 0) {
        return TR_ERR_NOT_FOUND;
    }
    tr_index_entry_at(idx, idx->entries - 1, e);
    return TR_OK;
}

size_t
tr_index_entries(const struct tr_index *idx)
{
    return idx->entries;
}

size_t
tr_index_capacity(const struct tr_index *idx)
{
    return idx->cap;
}

int
tr_index_full(const struct tr_index *idx)
{
    return idx->entries >= idx->cap;
}

void
tr_index_truncate_to(struct tr_index *idx, int64_t offset)
{
    size_t lo = 0;
    size_t hi = idx->entries;
    size_t mid;

    /* Offsets never decrease, so bisect for the first one >= 'offset'. */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (entry_offset(idx, mid) < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    /*
     * Zero what is dropped, so a preallocated file never holds stale entries
     * that could pass for valid ones after a crash.
     */
    if (lo < idx->entries) {
        memset(idx->map + lo * idx->esize, 0, (idx->entries - lo) * idx->esize);
    }
    idx->entries = lo;
}

void
tr_index_reset(struct tr_index *idx)
{
    if (idx->entries > 0) {
        memset(idx->map, 0, idx->entries * idx->esize);
    }
    idx->entries = 0;
    idx->torn = 0;
}

tr_err_t
tr_index_sync(struct tr_index *idx)
{
    tr_err_t err = TR_OK;

    if (idx->map != NULL && idx->entries > 0 &&
        msync(idx->map, idx->entries * idx->esize, MS_SYNC) != 0) {
        tr_log_error("index %s: msync: %s", idx->path, strerror(errno));
        err = TR_ERR_IO;
    }
    return err;
}
