/*
 * journal -- the write-ahead journal of sent batches (see journal.h).
 *
 * Besides the file, an index of its entries (offset, length, producer id
 * and, per file of the entry, the largest line end) lets compaction decide
 * which entries are still needed without reading the file again: only the
 * live entries' bytes are copied.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "crc32c.h"
#include "fsutil.h"

#define JOURNAL_NAME "journal"
#define JOURNAL_TMP  "journal.tmp"
#define JOURNAL_HDR  8  /* length + CRC */
#define JOURNAL_REC  32 /* one record's line */

/* The largest line end per file of one entry. */
struct jfile {
    uint64_t dev, ino, max_end;
    uint32_t fp_len, fp_crc;
};

struct jentry {
    uint64_t off;
    uint32_t len; /* with the header */
    int64_t pid;
    uint32_t nfiles;
    struct jfile *files;
};

struct tr_journal {
    char *dir;
    char *path;
    int fd;
    uint64_t size;
    int unsynced;
    int64_t pid;
    int16_t epoch;
    struct jentry *ents;
    size_t nents, cap;
    /* what tr_journal_open loaded */
    uint8_t *image;
    struct tr_journal_batch *loaded;
    size_t nloaded;
    struct tr_buf out; /* scratch for one record */
};

static void
entry_cleanup(struct jentry *e)
{
    tr_free(e->files);
    e->files = NULL;
}

static void
drop_entries(struct tr_journal *j)
{
    for (size_t i = 0; i < j->nents; i++) {
        entry_cleanup(&j->ents[i]);
    }
    j->nents = 0;
}

/* Indexes one 'B' entry at 'off' whose records are 'recs' (nrec). */
static tr_err_t
index_add(struct tr_journal *j, uint64_t off, uint32_t len, int64_t pid,
          const struct tr_journal_rec *recs, uint32_t nrec)
{
    struct jentry *e;

    if (j->nents == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct jentry *grown = tr_realloc(j->ents, cap * sizeof(*grown));

        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        j->ents = grown;
        j->cap = cap;
    }
    e = &j->ents[j->nents];
    memset(e, 0, sizeof(*e));
    e->off = off;
    e->len = len;
    e->pid = pid;
    for (uint32_t i = 0; i < nrec; i++) {
        const struct tr_journal_rec *r = &recs[i];
        uint32_t k;

        for (k = 0; k < e->nfiles; k++) {
            struct jfile *f = &e->files[k];
            if (f->dev == r->dev && f->ino == r->ino &&
                f->fp_len == r->fp_len && f->fp_crc == r->fp_crc) {
                if (r->end > f->max_end) {
                    f->max_end = r->end;
                }
                break;
            }
        }
        if (k == e->nfiles) {
            struct jfile *grown =
                tr_realloc(e->files, (e->nfiles + 1) * sizeof(*grown));
            if (grown == NULL) {
                entry_cleanup(e);
                return TR_ERR_NOMEM;
            }
            e->files = grown;
            e->files[e->nfiles++] =
                (struct jfile){ r->dev, r->ino, r->end, r->fp_len, r->fp_crc };
        }
    }
    j->nents++;
    return TR_OK;
}

/* Writes a then b at the file's position (one writev when it can). */
static tr_err_t
write_two(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
    struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
    ssize_t w;

    do {
        w = writev(fd, iov, 2);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        return errno == ENOSPC ? TR_ERR_NOSPACE : TR_ERR_IO;
    }
    if ((size_t)w < alen) {
        tr_err_t err =
            tr_write_all(fd, (const uint8_t *)a + w, alen - (size_t)w);
        return err != TR_OK ? err : tr_write_all(fd, b, blen);
    }
    w -= (ssize_t)alen;
    return tr_write_all(fd, (const uint8_t *)b + w, blen - (size_t)w);
}

/* Frames the payload in j->out (after JOURNAL_HDR reserved bytes). */
static void
frame(struct tr_buf *b)
{
    uint8_t *p = tr_buf_data(b);
    uint32_t plen = (uint32_t)(tr_buf_len(b) - JOURNAL_HDR);

    tr_store_u32(p, plen);
    tr_store_u32(p + 4, tr_crc32c(0, p + JOURNAL_HDR, plen));
}

static void
put_pid(struct tr_buf *b, int64_t pid, int16_t epoch)
{
    tr_buf_reset(b);
    tr_buf_put_i64(b, 0); /* header, framed below */
    tr_buf_put_i8(b, 'P');
    tr_buf_put_i64(b, pid);
    tr_buf_put_i16(b, epoch);
    frame(b);
}

tr_err_t
tr_journal_set_pid(struct tr_journal *j, int64_t pid, int16_t epoch)
{
    tr_err_t err;

    put_pid(&j->out, pid, epoch);
    if (tr_buf_err(&j->out) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    if ((err = tr_write_all(j->fd, tr_buf_data(&j->out),
                            tr_buf_len(&j->out))) != TR_OK) {
        return err;
    }
    j->size += tr_buf_len(&j->out);
    j->unsynced = 1;
    j->pid = pid;
    j->epoch = epoch;
    return TR_OK;
}

/*
 * A 'C' entry's records: runs of consecutive records of one file (one
 * run per batch, nearly always), each [u32 count][dev u64][ino u64]
 * [fp_len u32][fp_crc u32][end u64 of its first record] and then count - 1
 * uvarint steps from one record's end to the next (a line's length): about
 * one or two bytes a line instead of 32.
 */
static void
put_runs(struct tr_buf *o, const struct tr_journal_rec *recs, uint32_t nrec)
{
    uint32_t i = 0;

    while (i < nrec) {
        const struct tr_journal_rec *r = &recs[i];
        uint32_t n = 1;

        while (i + n < nrec && recs[i + n].dev == r->dev &&
               recs[i + n].ino == r->ino && recs[i + n].fp_len == r->fp_len &&
               recs[i + n].fp_crc == r->fp_crc &&
               recs[i + n].end > recs[i + n - 1].end) {
            n++;
        }
        tr_buf_put_u32(o, n);
        tr_buf_put_i64(o, (int64_t)r->dev);
        tr_buf_put_i64(o, (int64_t)r->ino);
        tr_buf_put_u32(o, r->fp_len);
        tr_buf_put_u32(o, r->fp_crc);
        tr_buf_put_i64(o, (int64_t)r->end);
        for (uint32_t k = 1; k < n; k++) {
            tr_buf_put_uvarint(o, recs[i + k].end - recs[i + k - 1].end);
        }
        i += n;
    }
}

/* Reads what put_runs wrote into recs[0..nrec). */
static tr_err_t
get_runs(struct tr_slice *s, struct tr_journal_rec *recs, uint32_t nrec)
{
    uint32_t i = 0;

    while (i < nrec) {
        struct tr_journal_rec r;
        uint32_t n;
        int64_t dev, ino, end;

        if (tr_slice_get_u32(s, &n) != TR_OK || n == 0 || n > nrec - i ||
            tr_slice_get_i64(s, &dev) != TR_OK ||
            tr_slice_get_i64(s, &ino) != TR_OK ||
            tr_slice_get_u32(s, &r.fp_len) != TR_OK ||
            tr_slice_get_u32(s, &r.fp_crc) != TR_OK ||
            tr_slice_get_i64(s, &end) != TR_OK || end < 0) {
            return TR_ERR_CORRUPT;
        }
        r.dev = (uint64_t)dev;
        r.ino = (uint64_t)ino;
        r.end = (uint64_t)end;
        recs[i++] = r;
        for (uint32_t k = 1; k < n; k++) {
            uint64_t step;
            if (tr_slice_get_uvarint(s, &step) != TR_OK || step == 0 ||
                step > UINT64_MAX - r.end) {
                return TR_ERR_CORRUPT;
            }
            r.end += step;
            recs[i++] = r;
        }
    }
    return TR_OK;
}

tr_err_t
tr_journal_append(struct tr_journal *j, const struct tr_journal_batch *b)
{
    struct tr_buf *o = &j->out;
    size_t tlen = strlen(b->topic);
    uint64_t off = j->size;
    tr_err_t err;

    if (b->pid != j->pid || b->epoch != j->epoch) {
        if ((err = tr_journal_set_pid(j, b->pid, b->epoch)) != TR_OK) {
            return err;
        }
        off = j->size;
    }
    tr_buf_reset(o);
    tr_buf_put_i64(o, 0);
    tr_buf_put_i8(o, 'C');
    tr_buf_put_i64(o, b->pid);
    tr_buf_put_i16(o, b->epoch);
    tr_buf_put_i32(o, b->partition);
    tr_buf_put_i32(o, b->base_seq);
    tr_buf_put_i32(o, b->count);
    tr_buf_put_i16(o, (int16_t)tlen);
    tr_buf_put_bytes(o, b->topic, tlen);
    tr_buf_put_u32(o, b->nrec);
    put_runs(o, b->recs, b->nrec);
    tr_buf_put_u32(o, (uint32_t)b->wire_len);
    if (tr_buf_err(o) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    /* The batch is written from where it is, not copied: one writev. */
    uint8_t *h = tr_buf_data(o);
    size_t hlen = tr_buf_len(o);
    uint32_t plen = (uint32_t)(hlen - JOURNAL_HDR + b->wire_len);
    tr_store_u32(h, plen);
    tr_store_u32(h + 4,
                 tr_crc32c(tr_crc32c(0, h + JOURNAL_HDR, hlen - JOURNAL_HDR),
                           b->wire, b->wire_len));
    if ((err = index_add(j, off, plen + JOURNAL_HDR, b->pid, b->recs,
                         b->nrec)) != TR_OK) {
        return err;
    }
    if ((err = write_two(j->fd, h, hlen, b->wire, b->wire_len)) != TR_OK) {
        /* Cut what may have been written, so the file stays parseable. */
        j->nents--;
        entry_cleanup(&j->ents[j->nents]);
        if (ftruncate(j->fd, (off_t)off) != 0 ||
            lseek(j->fd, (off_t)off, SEEK_SET) < 0) {
            return TR_ERR_IO;
        }
        return err;
    }
    j->size += plen + JOURNAL_HDR;
    j->unsynced = 1;
    return TR_OK;
}

/*
 * Decodes a 'B' (records of 32 bytes, as journals written before 'C'
 * have them) or 'C' (runs, put_runs) payload into *b (recs allocated;
 * wire points into it).
 */
static tr_err_t
parse_batch(struct tr_slice *s, int compact, struct tr_journal_batch *b,
            char **topic)
{
    int16_t tlen;
    uint32_t nrec, wlen;
    struct tr_journal_rec *recs = NULL;
    const uint8_t *name;

    memset(b, 0, sizeof(*b));
    *topic = NULL;
    if (tr_slice_get_i64(s, &b->pid) != TR_OK ||
        tr_slice_get_i16(s, &b->epoch) != TR_OK ||
        tr_slice_get_i32(s, &b->partition) != TR_OK ||
        tr_slice_get_i32(s, &b->base_seq) != TR_OK ||
        tr_slice_get_i32(s, &b->count) != TR_OK ||
        tr_slice_get_i16(s, &tlen) != TR_OK || tlen <= 0 ||
        tr_slice_get_raw(s, (size_t)tlen, &name) != TR_OK ||
        tr_slice_get_u32(s, &nrec) != TR_OK ||
        (size_t)nrec * (compact ? 1 : JOURNAL_REC) > tr_slice_remaining(s) ||
        nrec != (uint32_t)b->count) {
        return TR_ERR_CORRUPT;
    }
    recs = tr_calloc(nrec ? nrec : 1, sizeof(*recs));
    *topic = tr_strndup((const char *)name, (size_t)tlen);
    if (recs == NULL || *topic == NULL) {
        tr_free(recs);
        tr_free(*topic);
        *topic = NULL;
        return TR_ERR_NOMEM;
    }
    for (uint32_t i = 0; !compact && i < nrec; i++) {
        int64_t dev, ino, end;
        tr_slice_get_i64(s, &dev);
        tr_slice_get_i64(s, &ino);
        tr_slice_get_u32(s, &recs[i].fp_len);
        tr_slice_get_u32(s, &recs[i].fp_crc);
        tr_slice_get_i64(s, &end);
        recs[i].dev = (uint64_t)dev;
        recs[i].ino = (uint64_t)ino;
        recs[i].end = (uint64_t)end;
    }
    const uint8_t *w;
    if ((compact && get_runs(s, recs, nrec) != TR_OK) ||
        tr_slice_get_u32(s, &wlen) != TR_OK ||
        tr_slice_get_raw(s, wlen, &w) != TR_OK) {
        tr_free(recs);
        tr_free(*topic);
        *topic = NULL;
        return TR_ERR_CORRUPT;
    }
    b->topic = *topic;
    b->nrec = nrec;
    b->recs = recs;
    b->wire = w;
    b->wire_len = wlen;
    return TR_OK;
}

static void
loaded_batch_free(struct tr_journal_batch *b)
{
    tr_free((void *)b->topic);
    tr_free((void *)b->recs);
}

/* Forgets the batches loaded so far (an older producer id's). */
static void
drop_loaded_batches(struct tr_journal *j)
{
    for (size_t i = 0; i < j->nloaded; i++) {
        loaded_batch_free(&j->loaded[i]);
    }
    j->nloaded = 0;
}

void
tr_journal_drop_loaded(struct tr_journal *j)
{
    drop_loaded_batches(j);
    tr_free(j->loaded);
    j->loaded = NULL;
    tr_free(j->image);
    j->image = NULL;
}

/*
 * Parses the image of 'len' bytes: indexes the entries, keeps the batches
 * of the last producer id, and returns in *good the length of the valid
 * prefix (a torn or corrupt tail is cut there).
 */
static tr_err_t
load_image(struct tr_journal *j, size_t len, uint64_t *good)
{
    size_t off = 0, cap = 0;
    tr_err_t err = TR_OK;

    while (len - off >= JOURNAL_HDR) {
        uint32_t plen = tr_load_u32(j->image + off);
        uint32_t crc = tr_load_u32(j->image + off + 4);
        const uint8_t *p = j->image + off + JOURNAL_HDR;
        struct tr_slice s;
        int8_t type;

        if (plen > len - off - JOURNAL_HDR || plen == 0 ||
            tr_crc32c(0, p, plen) != crc) {
            break;
        }
        tr_slice_init(&s, p, plen);
        tr_slice_get_i8(&s, &type);
        if (type == 'P') {
            int64_t pid;
            int16_t epoch;
            if (tr_slice_get_i64(&s, &pid) != TR_OK ||
                tr_slice_get_i16(&s, &epoch) != TR_OK) {
                break;
            }
            if (pid != j->pid) {
                drop_loaded_batches(j);
            }
            j->pid = pid;
            j->epoch = epoch;
        } else if (type == 'B' || type == 'C') {
            struct tr_journal_batch b;
            char *topic;
            if ((err = parse_batch(&s, type == 'C', &b, &topic)) ==
                TR_ERR_CORRUPT) {
                /* A valid CRC over a bad entry: not ours; stop here. */
                err = TR_OK;
                break;
            }
            if (err != TR_OK) {
                return err;
            }
            if (b.pid != j->pid) {
                drop_loaded_batches(j);
                j->pid = b.pid;
                j->epoch = b.epoch;
            }
            if ((err = index_add(j, off, plen + JOURNAL_HDR, b.pid, b.recs,
                                 b.nrec)) != TR_OK) {
                loaded_batch_free(&b);
                return err;
            }
            if (j->nloaded == cap) {
                cap = cap ? cap * 2 : 64;
                struct tr_journal_batch *grown =
                    tr_realloc(j->loaded, cap * sizeof(*grown));
                if (grown == NULL) {
                    loaded_batch_free(&b);
                    return TR_ERR_NOMEM;
                }
                j->loaded = grown;
            }
            j->loaded[j->nloaded++] = b;
        } else {
            break;
        }
        off += JOURNAL_HDR + plen;
    }
    *good = off;
    return TR_OK;
}

static void
errf(char *errbuf, size_t errlen, const char *what, const char *path)
{
    snprintf(errbuf, errlen, "%s %s: %s", what, path, strerror(errno));
}

tr_err_t
tr_journal_open(const char *dir, struct tr_journal **out, char *errbuf,
                size_t errlen)
{
    struct tr_journal *j = tr_calloc(1, sizeof(*j));
    tr_err_t err = TR_ERR_NOMEM;
    struct stat st;
    uint64_t good = 0;

    *out = NULL;
    if (j == NULL) {
        goto out;
    }
    j->fd = -1;
    j->pid = -1;
    j->epoch = -1;
    tr_buf_init(&j->out, SIZE_MAX);
    j->dir = tr_strdup(dir);
    size_t plen = strlen(dir) + sizeof(JOURNAL_NAME) + 1;
    j->path = tr_malloc(plen);
    if (j->dir == NULL || j->path == NULL) {
        goto out;
    }
    snprintf(j->path, plen, "%s/%s", dir, JOURNAL_NAME);
    err = TR_ERR_IO;
    j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0 || fstat(j->fd, &st) != 0) {
        errf(errbuf, errlen, "cannot open", j->path);
        goto out;
    }
    if (st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        err = TR_ERR_NOMEM;
        if ((j->image = tr_malloc(len)) == NULL) {
            goto out;
        }
        err = TR_ERR_IO;
        for (size_t got = 0; got < len;) {
            ssize_t r = pread(j->fd, j->image + got, len - got, (off_t)got);
            if (r <= 0) {
                errf(errbuf, errlen, "cannot read", j->path);
                goto out;
            }
            got += (size_t)r;
        }
        if ((err = load_image(j, len, &good)) != TR_OK) {
            snprintf(errbuf, errlen, "%s: %s", j->path, tr_err_str(err));
            goto out;
        }
        if (good < len && ftruncate(j->fd, (off_t)good) != 0) {
            errf(errbuf, errlen, "cannot truncate", j->path);
            err = TR_ERR_IO;
            goto out;
        }
    }
    if (lseek(j->fd, (off_t)good, SEEK_SET) < 0) {
        errf(errbuf, errlen, "cannot seek", j->path);
        err = TR_ERR_IO;
        goto out;
    }
    j->size = good;
    *out = j;
    j = NULL;
    err = TR_OK;
out:
    tr_journal_free(j);
    return err;
}

void
tr_journal_free(struct tr_journal *j)
{
    if (j == NULL) {
        return;
    }
    if (j->fd >= 0) {
        close(j->fd);
    }
    tr_journal_drop_loaded(j);
    drop_entries(j);
    tr_free(j->ents);
    tr_buf_cleanup(&j->out);
    tr_free(j->path);
    tr_free(j->dir);
    tr_free(j);
}

int64_t
tr_journal_pid(const struct tr_journal *j, int16_t *epoch)
{
    if (epoch != NULL) {
        *epoch = j->epoch;
    }
    return j->pid;
}

size_t
tr_journal_loaded(const struct tr_journal *j)
{
    return j->nloaded;
}

const struct tr_journal_batch *
tr_journal_loaded_at(const struct tr_journal *j, size_t i)
{
    return i < j->nloaded ? &j->loaded[i] : NULL;
}

tr_err_t
tr_journal_sync(struct tr_journal *j)
{
    if (!j->unsynced) {
        return TR_OK;
    }
    if (fdatasync(j->fd) != 0) {
        return TR_ERR_IO;
    }
    j->unsynced = 0;
    return TR_OK;
}

uint64_t
tr_journal_size(const struct tr_journal *j)
{
    return j->size;
}

static int
entry_live(const struct jentry *e, tr_journal_live_cb *live, void *arg)
{
    for (uint32_t k = 0; k < e->nfiles; k++) {
        const struct jfile *f = &e->files[k];
        if (live(arg, f->dev, f->ino, f->fp_len, f->fp_crc, f->max_end)) {
            return 1;
        }
    }
    return 0;
}

tr_err_t
tr_journal_compact(struct tr_journal *j, tr_journal_live_cb *live, void *arg)
{
    char *tmp = NULL;
    uint8_t *copy = NULL;
    uint64_t *newoff = NULL;
    size_t copy_cap = 0, kept = 0;
    uint64_t size;
    int fd = -1;
    tr_err_t err = TR_ERR_NOMEM;

    size_t tlen = strlen(j->dir) + sizeof(JOURNAL_TMP) + 1;
    tmp = tr_malloc(tlen);
    if (tmp == NULL) {
        goto out;
    }
    snprintf(tmp, tlen, "%s/%s", j->dir, JOURNAL_TMP);
    err = TR_ERR_IO;
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        goto out;
    }
    put_pid(&j->out, j->pid, j->epoch);
    if ((err = tr_write_all(fd, tr_buf_data(&j->out), tr_buf_len(&j->out))) !=
        TR_OK) {
        goto out;
    }
    size = tr_buf_len(&j->out);
    err = TR_ERR_NOMEM;
    if ((newoff = tr_calloc(j->nents + 1, sizeof(*newoff))) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < j->nents; i++) {
        struct jentry *e = &j->ents[i];

        newoff[i] = UINT64_MAX; /* dropped */
        if (e->pid != j->pid || !entry_live(e, live, arg)) {
            continue;
        }
        if (e->len > copy_cap) {
            uint8_t *grown = tr_realloc(copy, e->len);
            if (grown == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            copy = grown;
            copy_cap = e->len;
        }
        if (pread(j->fd, copy, e->len, (off_t)e->off) != (ssize_t)e->len ||
            tr_write_all(fd, copy, e->len) != TR_OK) {
            err = TR_ERR_IO;
            goto out;
        }
        newoff[i] = size;
        size += e->len;
    }
    err = TR_ERR_IO;
    if (fdatasync(fd) != 0 || rename(tmp, j->path) != 0) {
        goto out;
    }
    (void)tr_fsync_dir(j->dir);
    close(j->fd);
    j->fd = fd;
    fd = -1;
    j->size = size;
    j->unsynced = 0;
    for (size_t i = 0; i < j->nents; i++) {
        if (newoff[i] == UINT64_MAX) {
            entry_cleanup(&j->ents[i]);
        } else {
            j->ents[i].off = newoff[i];
            j->ents[kept++] = j->ents[i];
        }
    }
    j->nents = kept;
    err = TR_OK;
out:
    if (err != TR_OK && fd >= 0) {
        /* The old journal stays; entries already dropped were dead. */
        unlink(tmp);
    }
    if (fd >= 0) {
        close(fd);
    }
    tr_free(newoff);
    tr_free(copy);
    tr_free(tmp);
    return err;
}
