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

/* A loaded batch and the memory its pointers use. */
struct loaded {
    struct tr_journal_batch b;
    char *topic;
    struct tr_journal_rec *recs;
    struct tr_journal_line *lines;
    char **paths; /* one per run ('D') */
    uint32_t npaths;
};

struct jentry {
    uint64_t off;
    uint32_t len; /* with the header */
    int64_t pid;
    uint32_t nfiles; /* the first, then files[0 .. nfiles - 1) */
    struct jfile first;
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
    struct loaded *loaded;
    size_t nloaded;
    struct tr_buf out; /* scratch for one record */
    /* The entry being written (tr_journal_begin .. tr_journal_end). */
    struct {
        uint32_t count, n;        /* records announced, added */
        size_t ts_off;            /* where the first record's timestamp goes */
        int64_t ts;               /* the last timestamp written */
        struct tr_journal_rec id; /* the current run's file */
        const char *path;
        uint64_t prev;  /* the last record's end */
        size_t run_off; /* the current run's count placeholder */
        uint32_t run_n;
        struct jfile *file; /* its index entry */
        int nomem;
    } cur;
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
 * A 'C' entry's records (written by earlier versions): runs of consecutive
 * records of one file, each [u32 count][dev u64][ino u64][fp_len u32]
 * [fp_crc u32][end u64 of its first record] and then count - 1 uvarint
 * steps from one record's end to the next.
 */
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

/*
 * Starts the index entry at j->ents[j->nents] (counted in nents once its
 * record is written).
 */
static tr_err_t
entry_start(struct tr_journal *j, uint64_t off, int64_t pid)
{
    if (j->nents == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct jentry *grown = tr_realloc(j->ents, cap * sizeof(*grown));

        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        j->ents = grown;
        j->cap = cap;
    }
    memset(&j->ents[j->nents], 0, sizeof(j->ents[0]));
    j->ents[j->nents].off = off;
    j->ents[j->nents].pid = pid;
    return TR_OK;
}

/* The entry's file r (added if new); NULL when out of memory. */
static struct jfile *
entry_file(struct jentry *e, const struct tr_journal_rec *r)
{
    struct jfile nf = { r->dev, r->ino, 0, r->fp_len, r->fp_crc };
    struct jfile *grown;

    for (uint32_t k = 0; k < e->nfiles; k++) {
        struct jfile *f = k == 0 ? &e->first : &e->files[k - 1];
        if (f->dev == r->dev && f->ino == r->ino && f->fp_len == r->fp_len &&
            f->fp_crc == r->fp_crc) {
            return f;
        }
    }
    if (e->nfiles == 0) { /* one file per batch, nearly always: no malloc */
        e->first = nf;
        e->nfiles = 1;
        return &e->first;
    }
    grown = tr_realloc(e->files, e->nfiles * sizeof(*grown));
    if (grown == NULL) {
        return NULL;
    }
    e->files = grown;
    e->files[e->nfiles - 1] = nf;
    return &e->files[e->nfiles++ - 1];
}

/* Indexes a loaded entry at 'off' whose records are 'recs' (nrec). */
static tr_err_t
index_add(struct tr_journal *j, uint64_t off, uint32_t len, int64_t pid,
          const struct tr_journal_rec *recs, uint32_t nrec)
{
    struct jentry *e;
    tr_err_t err = entry_start(j, off, pid);

    if (err != TR_OK) {
        return err;
    }
    e = &j->ents[j->nents];
    e->len = len;
    for (uint32_t i = 0; i < nrec; i++) {
        struct jfile *f = entry_file(e, &recs[i]);
        if (f == NULL) {
            entry_cleanup(e);
            return TR_ERR_NOMEM;
        }
        if (recs[i].end > f->max_end) {
            f->max_end = recs[i].end;
        }
    }
    j->nents++;
    return TR_OK;
}

tr_err_t
tr_journal_begin(struct tr_journal *j, const struct tr_journal_batch *b)
{
    struct tr_buf *o = &j->out;
    size_t tlen = strlen(b->topic);
    tr_err_t err;

    if (b->pid != j->pid || b->epoch != j->epoch) {
        if ((err = tr_journal_set_pid(j, b->pid, b->epoch)) != TR_OK) {
            return err;
        }
    }
    if ((err = entry_start(j, j->size, b->pid)) != TR_OK) {
        return err;
    }
    memset(&j->cur, 0, sizeof(j->cur));
    j->cur.count = (uint32_t)b->count;
    tr_buf_reset(o);
    tr_buf_put_i64(o, 0);
    tr_buf_put_i8(o, 'D');
    tr_buf_put_i64(o, b->pid);
    tr_buf_put_i16(o, b->epoch);
    tr_buf_put_i32(o, b->partition);
    tr_buf_put_i32(o, b->base_seq);
    tr_buf_put_i32(o, b->count);
    tr_buf_put_i16(o, (int16_t)tlen);
    tr_buf_put_bytes(o, b->topic, tlen);
    tr_buf_put_u32(o, b->crc);
    j->cur.ts_off = tr_buf_put_i64(o, 0); /* the first record's, below */
    tr_buf_put_u32(o, b->count);
    return TR_OK;
}

/* Ends the current run: its record count goes in its placeholder. */
static void
run_close(struct tr_journal *j)
{
    if (j->cur.run_n > 0) {
        tr_buf_set_u32(&j->out, j->cur.run_off, j->cur.run_n);
    }
}

/* Starts a run of file r under 'path' at 'start' (see journal.h). */
static void
run_open(struct tr_journal *j, const struct tr_journal_rec *r, const char *path,
         uint64_t start)
{
    struct tr_buf *o = &j->out;
    size_t plen = strlen(path);

    run_close(j);
    if (plen > UINT16_MAX) {
        plen = UINT16_MAX; /* cut: such a record cannot be rebuilt */
    }
    j->cur.id = *r;
    j->cur.path = path;
    j->cur.prev = start;
    j->cur.run_n = 0;
    j->cur.run_off = tr_buf_put_u32(o, 0);
    tr_buf_put_i64(o, (int64_t)r->dev);
    tr_buf_put_i64(o, (int64_t)r->ino);
    tr_buf_put_u32(o, r->fp_len);
    tr_buf_put_u32(o, r->fp_crc);
    tr_buf_put_i16(o, (int16_t)(uint16_t)plen);
    tr_buf_put_bytes(o, path, plen);
    tr_buf_put_i64(o, (int64_t)start);
    if ((j->cur.file = entry_file(&j->ents[j->nents], r)) == NULL) {
        j->cur.nomem = 1;
    }
}

/* One record of the current run. */
static inline void
run_add(struct tr_journal *j, uint64_t start, uint32_t len, uint64_t end,
        int truncated, int64_t ts)
{
    struct tr_buf *o = &j->out;
    uint64_t tail = end - start - len;

    if (start == j->cur.prev && tail == 1 && !truncated && ts == j->cur.ts) {
        /* A whole line right after the last, read at the same time. */
        tr_buf_put_uvarint(o, (uint64_t)len << 1);
    } else {
        tr_buf_put_uvarint(o, (uint64_t)len << 1 | 1);
        tr_buf_put_uvarint(o, start - j->cur.prev);
        tr_buf_put_uvarint(o, tail << 1 | (truncated != 0));
        /* Modulo 2^64: the reader adds it back the same way. */
        tr_buf_put_varlong(o, (int64_t)((uint64_t)ts - (uint64_t)j->cur.ts));
        j->cur.ts = ts;
    }
    if (j->cur.file != NULL && end > j->cur.file->max_end) {
        j->cur.file->max_end = end;
    }
    j->cur.prev = end;
    j->cur.run_n++;
    j->cur.n++;
}

/* The first record of an entry sets the timestamp the others follow. */
static void
first_record(struct tr_journal *j, int64_t ts)
{
    j->cur.ts = ts;
    tr_buf_set_i64(&j->out, j->cur.ts_off, ts);
}

void
tr_journal_add(struct tr_journal *j, const struct tr_journal_rec *r,
               const struct tr_journal_line *l)
{
    if (j->cur.n == 0) {
        first_record(j, l->timestamp);
    }
    if (j->cur.n == 0 || r->dev != j->cur.id.dev || r->ino != j->cur.id.ino ||
        r->fp_len != j->cur.id.fp_len || r->fp_crc != j->cur.id.fp_crc ||
        l->start < j->cur.prev ||
        (l->path != j->cur.path && strcmp(l->path, j->cur.path) != 0)) {
        run_open(j, r, l->path, l->start);
    }
    run_add(j, l->start, l->len, r->end, l->truncated, l->timestamp);
}

tr_err_t
tr_journal_end(struct tr_journal *j)
{
    struct tr_buf *o = &j->out;
    struct jentry *e = &j->ents[j->nents];
    uint64_t off = j->size;
    tr_err_t err;

    run_close(j);
    if (j->cur.nomem || tr_buf_err(o) != TR_OK) {
        entry_cleanup(e);
        return TR_ERR_NOMEM;
    }
    if (j->cur.n != j->cur.count) {
        entry_cleanup(e);
        return TR_ERR_INVALID;
    }
    frame(o);
    e->len = (uint32_t)tr_buf_len(o);
    if ((err = tr_write_all(j->fd, tr_buf_data(o), e->len)) != TR_OK) {
        /* Cut what may have been written, so the file stays parseable. */
        entry_cleanup(e);
        if (ftruncate(j->fd, (off_t)off) != 0 ||
            lseek(j->fd, (off_t)off, SEEK_SET) < 0) {
            return TR_ERR_IO;
        }
        return err;
    }
    j->nents++;
    j->size += e->len;
    j->unsynced = 1;
    return TR_OK;
}

tr_err_t
tr_journal_append(struct tr_journal *j, const struct tr_journal_batch *b)
{
    tr_err_t err = tr_journal_begin(j, b);

    if (err != TR_OK) {
        return err;
    }
    for (uint32_t i = 0; i < b->nrec; i++) {
        tr_journal_add(j, &b->recs[i], &b->lines[i]);
    }
    return tr_journal_end(j);
}

/* Reads what put_lines wrote into l's recs, lines and paths. */
static tr_err_t
get_lines(struct tr_slice *s, struct loaded *l, int64_t ts, uint32_t nrec)
{
    uint32_t i = 0;

    while (i < nrec) {
        struct tr_journal_rec r;
        uint32_t n;
        int16_t plen;
        int64_t dev, ino, start;
        const uint8_t *name;
        char **grown;

        if (tr_slice_get_u32(s, &n) != TR_OK || n == 0 || n > nrec - i ||
            tr_slice_get_i64(s, &dev) != TR_OK ||
            tr_slice_get_i64(s, &ino) != TR_OK ||
            tr_slice_get_u32(s, &r.fp_len) != TR_OK ||
            tr_slice_get_u32(s, &r.fp_crc) != TR_OK ||
            tr_slice_get_i16(s, &plen) != TR_OK ||
            tr_slice_get_raw(s, (uint16_t)plen, &name) != TR_OK ||
            tr_slice_get_i64(s, &start) != TR_OK || start < 0) {
            return TR_ERR_CORRUPT;
        }
        grown = tr_realloc(l->paths, (l->npaths + 1) * sizeof(*grown));
        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        l->paths = grown;
        grown[l->npaths] = tr_strndup((const char *)name, (uint16_t)plen);
        if (grown[l->npaths] == NULL) {
            return TR_ERR_NOMEM;
        }
        const char *path = grown[l->npaths++];
        uint64_t prev = (uint64_t)start;
        r.dev = (uint64_t)dev;
        r.ino = (uint64_t)ino;
        for (uint32_t k = 0; k < n; k++, i++) {
            uint64_t h, gap = 0, tail = 2, len;
            int64_t dts = 0;
            struct tr_journal_line *ln = &l->lines[i];

            if (tr_slice_get_uvarint(s, &h) != TR_OK ||
                ((h & 1) && (tr_slice_get_uvarint(s, &gap) != TR_OK ||
                             tr_slice_get_uvarint(s, &tail) != TR_OK ||
                             tr_slice_get_varlong(s, &dts) != TR_OK))) {
                return TR_ERR_CORRUPT;
            }
            len = h >> 1;
            if (len > UINT32_MAX || gap > UINT64_MAX - prev ||
                len > UINT64_MAX - prev - gap ||
                (tail >> 1) > UINT64_MAX - prev - gap - len) {
                return TR_ERR_CORRUPT;
            }
            ts = (int64_t)((uint64_t)ts + (uint64_t)dts);
            ln->start = prev + gap;
            ln->len = (uint32_t)len;
            ln->truncated = (int)(tail & 1);
            ln->timestamp = ts;
            ln->path = path;
            r.end = ln->start + len + (tail >> 1);
            l->recs[i] = r;
            prev = r.end;
        }
    }
    return TR_OK;
}

static void
loaded_free(struct loaded *l)
{
    for (uint32_t i = 0; i < l->npaths; i++) {
        tr_free(l->paths[i]);
    }
    tr_free(l->paths);
    tr_free(l->topic);
    tr_free(l->recs);
    tr_free(l->lines);
    memset(l, 0, sizeof(*l));
}

/*
 * Decodes a 'B' (records of 32 bytes), 'C' (runs of line ends, get_runs)
 * or 'D' (put_lines) payload into *l; a 'B' or 'C' batch's wire points
 * into the image.
 */
static tr_err_t
parse_batch(struct tr_slice *s, int8_t type, struct loaded *l)
{
    struct tr_journal_batch *b = &l->b;
    int16_t tlen;
    uint32_t nrec, wlen;
    int64_t ts0 = 0;
    const uint8_t *name, *w;
    tr_err_t err = TR_ERR_CORRUPT;

    memset(l, 0, sizeof(*l));
    if (tr_slice_get_i64(s, &b->pid) != TR_OK ||
        tr_slice_get_i16(s, &b->epoch) != TR_OK ||
        tr_slice_get_i32(s, &b->partition) != TR_OK ||
        tr_slice_get_i32(s, &b->base_seq) != TR_OK ||
        tr_slice_get_i32(s, &b->count) != TR_OK ||
        tr_slice_get_i16(s, &tlen) != TR_OK || tlen <= 0 ||
        tr_slice_get_raw(s, (size_t)tlen, &name) != TR_OK ||
        (type == 'D' && (tr_slice_get_u32(s, &b->crc) != TR_OK ||
                         tr_slice_get_i64(s, &ts0) != TR_OK)) ||
        tr_slice_get_u32(s, &nrec) != TR_OK) {
        goto out;
    }
    if ((size_t)nrec * (type == 'B' ? JOURNAL_REC : 1) >
            tr_slice_remaining(s) ||
        nrec != (uint32_t)b->count) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    l->recs = tr_calloc(nrec ? nrec : 1, sizeof(*l->recs));
    l->topic = tr_strndup((const char *)name, (size_t)tlen);
    if (l->recs == NULL || l->topic == NULL) {
        goto out;
    }
    if (type == 'D') {
        l->lines = tr_calloc(nrec ? nrec : 1, sizeof(*l->lines));
        if (l->lines == NULL) {
            goto out;
        }
    }
    err = TR_ERR_CORRUPT;
    if (type == 'B') {
        for (uint32_t i = 0; i < nrec; i++) {
            struct tr_journal_rec *r = &l->recs[i];
            int64_t dev, ino, end;
            tr_slice_get_i64(s, &dev);
            tr_slice_get_i64(s, &ino);
            tr_slice_get_u32(s, &r->fp_len);
            tr_slice_get_u32(s, &r->fp_crc);
            tr_slice_get_i64(s, &end);
            r->dev = (uint64_t)dev;
            r->ino = (uint64_t)ino;
            r->end = (uint64_t)end;
        }
    } else if (type == 'C' && get_runs(s, l->recs, nrec) != TR_OK) {
        goto out;
    }
    if (type == 'D') {
        if ((err = get_lines(s, l, ts0, nrec)) != TR_OK) {
            goto out;
        }
    } else if (tr_slice_get_u32(s, &wlen) != TR_OK ||
               tr_slice_get_raw(s, wlen, &w) != TR_OK) {
        goto out;
    } else {
        b->wire = w;
        b->wire_len = wlen;
    }
    b->topic = l->topic;
    b->nrec = nrec;
    b->recs = l->recs;
    b->lines = l->lines;
    err = TR_OK;
out:
    if (err != TR_OK) {
        loaded_free(l);
    }
    return err;
}

/* Forgets the batches loaded so far (an older producer id's). */
static void
drop_loaded_batches(struct tr_journal *j)
{
    for (size_t i = 0; i < j->nloaded; i++) {
        loaded_free(&j->loaded[i]);
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
        } else if (type == 'B' || type == 'C' || type == 'D') {
            struct loaded l;
            if ((err = parse_batch(&s, type, &l)) == TR_ERR_CORRUPT) {
                /* A valid CRC over a bad entry: not ours; stop here. */
                err = TR_OK;
                break;
            }
            if (err != TR_OK) {
                return err;
            }
            if (l.b.pid != j->pid) {
                drop_loaded_batches(j);
                j->pid = l.b.pid;
                j->epoch = l.b.epoch;
            }
            if ((err = index_add(j, off, plen + JOURNAL_HDR, l.b.pid, l.recs,
                                 l.b.nrec)) != TR_OK) {
                loaded_free(&l);
                return err;
            }
            if (j->nloaded == cap) {
                cap = cap ? cap * 2 : 64;
                struct loaded *grown =
                    tr_realloc(j->loaded, cap * sizeof(*grown));
                if (grown == NULL) {
                    loaded_free(&l);
                    return TR_ERR_NOMEM;
                }
                j->loaded = grown;
            }
            j->loaded[j->nloaded++] = l;
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
    return i < j->nloaded ? &j->loaded[i].b : NULL;
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
        const struct jfile *f = k == 0 ? &e->first : &e->files[k - 1];
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
