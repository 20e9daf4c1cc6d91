/*
 * agent -- the tailing runtime (see agent.h).
 *
 * Life of a file:
 *
 *   discovered (glob, inotify) --> tracked: identity, read_off, queue
 *        |  ready list: has unread bytes; read in turns from read_off
 *        |  open list: LRU of files holding a descriptor (max_open_files)
 *        v
 *   gone (renamed away, deleted): kept open until read to its end and
 *   rotate_wait_ms passed without growth and its queue drained; then
 *   closed (the disk space is freed) and forgotten.
 *
 * read_off is always at a line boundary: bytes past it that do not yet
 * form a line are simply read again next time. The position saved in the
 * registry is the queue's committed offset, which only covers
 * acknowledged records (inflight.h).
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "build-config.h"
#include "clock.h"
#include "crc32c.h"
#include "fsutil.h"
#include "inflight.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "registry.h"
#include "ship.h"
#include "status.h"
#include "tail.h"
#include "watch.h"

#ifndef TAILQ_FOREACH_SAFE /* glibc lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                             \
    for ((var) = TAILQ_FIRST(head);                                            \
         (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

#define HASH_BUCKETS   16384
#define TICK_MS        250
#define TURN_BYTES     (8u << 20) /* bytes read per loop turn, all files */
#define MAX_HEADERS    64
#define OFFSET_STR_MAX 24
/*
 * Per-file metric series (label path) are capped: files past this many
 * are summed under path="__other__", so a host tailing thousands of files
 * cannot flood the scrape.
 */
#define FILE_SERIES_MAX 200
#define LAST_ERROR_MAX  256
/*
 * Registry saves are spaced by at least this many times the duration of
 * the previous save, so its fsyncs take at most about a fifth of the loop
 * whatever the disk; registry_flush_interval_ms is the configured floor.
 */
#define SAVE_COST_FACTOR 4
#define SAVE_RETRY_MS    1000 /* spacing while the registry cannot be written */
/*
 * A new file that looks like logrotate's copy of a tracked file whose
 * truncation is not seen yet waits at most this long for it.
 */
#define COPY_WAIT_MS 5000
/* The least time a truncated file's identity waits for its copy. */
#define COPY_KEEP_MIN_MS 60000

struct input_rt {
    const struct tr_agent_input *conf; /* borrowed from agent->conf */
    struct tr_parse *parse;
    struct tr_split_opts split;
};

/* How many truncations of one file wait for their copies at once. */
#define TRUNC_KEEP 4

/*
 * What a file held before one of its truncations: its identity, what had
 * been read and acknowledged of it, and the CRC of the last bytes split
 * (ending at last_end). ms is when it was truncated (0: none, or claimed
 * by its copy).
 */
struct trunc {
    struct tr_tail_id id;
    uint64_t read, committed, last_end;
    uint32_t last_len, last_crc;
    int64_t ms;
};

struct file {
    char *path; /* last name it was seen under */
    struct input_rt *in;
    struct tr_tail_id id;
    int fd;
    uint64_t read_off;  /* next byte to split, at a line boundary */
    uint64_t size_seen; /* last size seen */
    int64_t changed_ms; /* when size_seen last changed (monotonic) */
    int64_t eof_ms;     /* when it was last read to its end */
    struct tr_split_state split;
    struct tr_inflight_queue *q;
    unsigned scan_gen;
    int flush_flags; /* TR_SPLIT_FLUSH_* for the next read */
    int gone;        /* no longer reachable under 'path' */
    int deleted;     /* link count 0 */
    int in_ready, in_open;
    /*
     * copytruncate: a new file may be the copy of a file that is then
     * truncated. 'copy_check' marks a new file not yet compared with the
     * truncations (copy_since_ms: when it was first seen with data).
     * 'trunc' keeps what this file held before its last truncations,
     * newest first: logrotate may copy and truncate again before the
     * first copy was looked at.
     */
    int copy_check;
    int64_t copy_since_ms;
    struct trunc trunc[TRUNC_KEEP];
    /*
     * CRC-32C of the last bytes split (up to fingerprint_bytes, ending at
     * last_end): a copy must match at the end of what was read as well as
     * at the start.
     */
    uint64_t last_end;
    uint32_t last_len, last_crc;
    /* copytruncate: the file this one is a copy of (0: none), for ship.h */
    uint64_t copy_of_dev, copy_of_ino;
    /* The last prefix asked about by the journal's skip check (ship.h). */
    uint32_t pfx_len, pfx_crc;
    int pfx_ok;          /* -1: not asked yet */
    int64_t last_ack_ms; /* wall clock of the last acknowledgement (0: none) */
    uint64_t acked_seen; /* q->committed when last counted in bytes_acked */
    TAILQ_ENTRY(file) all, ready, open;
    struct file *path_next, *id_next;
};

TAILQ_HEAD(file_list, file);

struct counters {
    uint64_t lines_read, bytes_read, lines_dropped, lines_truncated;
    uint64_t rotations, truncations, inode_reuse, files_deleted;
    uint64_t open_errors, read_errors, registry_writes, registry_errors;
    uint64_t registry_write_us, copies;
    uint64_t bytes_acked;     /* committed positions' advances, all files */
    uint64_t acked_unsaved;   /* acknowledged since the last registry write */
    uint64_t save_window_max; /* largest acked_unsaved a write covered */
};

struct tr_agent {
    struct event_base *base;
    struct tr_agent_conf *conf;
    struct input_rt *inputs;
    size_t ninputs;
    struct tr_watch *watch;
    struct tr_ship *ship;
    struct tr_metrics *metrics;
    struct tr_status *status; /* status records (NULL: off) */
    int64_t started_ms;       /* wall clock */
    /* The last error worth an operator's eye, for the status record. */
    char last_error[LAST_ERROR_MAX];
    int64_t last_error_ms;
    struct tr_registry *startup_reg; /* positions from the last run */
    /*
     * Unclaimed entries of startup_reg are kept (and saved) until then: a
     * scan racing logrotate's renames can miss a file once, and it must
     * not be read again from its start when the next scan finds it.
     */
    int64_t startup_keep_until;
    struct event *ev_work, *ev_tick, *ev_save, *ev_stop;
    /*
     * Registry saves follow acknowledgements: 'dirty' says positions moved
     * since the last save, 'save_pending' that ev_save is scheduled.
     */
    int dirty, save_pending;
    int64_t save_done_us; /* when the last save finished (monotonic) */
    int64_t save_cost_us; /* how long it took */
    struct file_list all, ready, open;
    size_t nfiles, nopen;
    struct file *by_path[HASH_BUCKETS];
    struct file *by_id[HASH_BUCKETS];
    char *buf;
    size_t bufcap;
    struct tr_record_header hdrs[MAX_HEADERS];
    struct tr_registry_entry *entries; /* reused for every save */
    size_t entries_cap;
    size_t nentries_saved, live_hint; /* for journal_live */
    unsigned scan_gen;
    int first_scan;
    int stopping;
    int64_t stop_deadline_ms;
    int64_t blocked_since_ms, last_block_warn_ms;
    int registry_ok;
    struct counters c;
    /* the file being split, for the emit callback, and when it was read */
    struct file *cur;
    int64_t read_ms;
    char offset_str[OFFSET_STR_MAX];
    /* The file journaled batches are being rebuilt from (file_rebuild). */
    int rb_fd;
    struct tr_tail_id rb_id;
};

/*
 * Remembers an error for the status record (status.h): the last one is
 * reported with its time until a newer one replaces it. The caller logs it.
 */
static void note_error(struct tr_agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note_error(struct tr_agent *a, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
    va_end(ap);
    a->last_error_ms = tr_clock_wall_ms();
}

/* ---- lookup tables ---------------------------------------------------- */

static size_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h % HASH_BUCKETS);
}

static size_t
hash_id(uint64_t dev, uint64_t ino)
{
    return (size_t)(((dev * 0x9e3779b97f4a7c15ULL) ^ ino) % HASH_BUCKETS);
}

static struct file *
find_path(struct tr_agent *a, const char *path)
{
    for (struct file *f = a->by_path[hash_str(path)]; f; f = f->path_next) {
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }
    return NULL;
}

static struct file *
find_id(struct tr_agent *a, uint64_t dev, uint64_t ino)
{
    for (struct file *f = a->by_id[hash_id(dev, ino)]; f; f = f->id_next) {
        if (f->id.dev == dev && f->id.ino == ino) {
            return f;
        }
    }
    return NULL;
}

static void
unmap_path(struct tr_agent *a, struct file *f)
{
    struct file **pp = &a->by_path[hash_str(f->path)];
    for (; *pp; pp = &(*pp)->path_next) {
        if (*pp == f) {
            *pp = f->path_next;
            f->path_next = NULL;
            return;
        }
    }
}

static void
map_path(struct tr_agent *a, struct file *f)
{
    size_t b = hash_str(f->path);
    f->path_next = a->by_path[b];
    a->by_path[b] = f;
}

static void
unmap_id(struct tr_agent *a, struct file *f)
{
    struct file **pp = &a->by_id[hash_id(f->id.dev, f->id.ino)];
    for (; *pp; pp = &(*pp)->id_next) {
        if (*pp == f) {
            *pp = f->id_next;
            f->id_next = NULL;
            return;
        }
    }
}

static void
map_id(struct tr_agent *a, struct file *f)
{
    size_t b = hash_id(f->id.dev, f->id.ino);
    f->id_next = a->by_id[b];
    a->by_id[b] = f;
}

/* ---- registry saves ---------------------------------------------------- */

/*
 * Asks for a registry save because positions moved. The save runs from
 * ev_save once the callbacks of this loop iteration are done, so every
 * acknowledgement of one produce response (or of several responses read
 * in the same iteration) shares one save. If the last save was too recent
 * (see SAVE_COST_FACTOR) it waits for the spacing instead. A kill then
 * resends at most what was in flight plus what was acknowledged during
 * one spacing.
 */
static void
want_save(struct tr_agent *a)
{
    a->dirty = 1;
    if (a->save_pending || a->ev_save == NULL) {
        return;
    }
    int64_t gap = a->conf->registry_flush_interval_ms * 1000;
    if (gap < a->save_cost_us * SAVE_COST_FACTOR) {
        gap = a->save_cost_us * SAVE_COST_FACTOR;
    }
    if (!a->registry_ok && gap < SAVE_RETRY_MS * 1000) {
        gap = SAVE_RETRY_MS * 1000;
    }
    int64_t wait = a->save_done_us + gap - tr_clock_mono_us();
    a->save_pending = 1;
    if (wait <= 0) {
        event_active(a->ev_save, EV_TIMEOUT, 0);
        return;
    }
    struct timeval tv = { (time_t)(wait / 1000000),
                          (suseconds_t)(wait % 1000000) };
    event_add(a->ev_save, &tv);
}

/* ---- file lifecycle ---------------------------------------------------- */

static void
schedule(struct tr_agent *a)
{
    if (!a->stopping) {
        event_active(a->ev_work, 0, 0);
    }
}

static void
make_ready(struct tr_agent *a, struct file *f)
{
    if (!f->in_ready) {
        TAILQ_INSERT_TAIL(&a->ready, f, ready);
        f->in_ready = 1;
        schedule(a);
    }
}

static void
close_fd(struct tr_agent *a, struct file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->in_open) {
        TAILQ_REMOVE(&a->open, f, open);
        f->in_open = 0;
        a->nopen--;
    }
}

/*
 * Lets go of f's queue while its records are still out: they finish into a
 * queue nobody owns, which the delivery callback frees once empty. The
 * journal may still need to know which file they came from.
 */
static void
let_go(struct file *f)
{
    struct tr_inflight_queue *q = f->q;

    q->gone_dev = f->id.dev;
    q->gone_ino = f->id.ino;
    q->gone_fp_len = f->id.fp_len;
    q->gone_fp_crc = f->id.fp_crc;
    q->gone_path = tr_strdup(f->path); /* NULL: rebuilt without it */
    q->owner = NULL;
    f->q = NULL;
}

static void
queue_free(struct tr_inflight_queue *q)
{
    if (q != NULL) {
        tr_free(q->gone_path);
        tr_free(q);
    }
}

/* Gives f a new queue starting at 'offset' (let_go the old one if busy). */
static tr_err_t
new_queue(struct file *f, uint64_t offset)
{
    if (f->q != NULL && f->q->count > 0) {
        let_go(f);
    }
    if (f->q == NULL) {
        f->q = tr_malloc(sizeof(*f->q));
        if (f->q == NULL) {
            return TR_ERR_NOMEM;
        }
    }
    tr_inflight_queue_init(f->q, offset, f);
    f->acked_seen = offset;
    return TR_OK;
}

static void
forget(struct tr_agent *a, struct file *f)
{
    close_fd(a, f);
    if (f->in_ready) {
        TAILQ_REMOVE(&a->ready, f, ready);
    }
    if (!f->gone) {
        unmap_path(a, f);
    }
    unmap_id(a, f);
    TAILQ_REMOVE(&a->all, f, all);
    a->nfiles--;
    if (f->q != NULL && f->q->count > 0) {
        let_go(f);
    } else {
        queue_free(f->q);
    }
    tr_free(f->path);
    tr_free(f);
}

/* The file can no longer be reached under its name. */
static void
mark_gone(struct tr_agent *a, struct file *f)
{
    if (f->gone) {
        return;
    }
    unmap_path(a, f);
    f->gone = 1;
    if (f->fd < 0 && f->q->count == 0) {
        forget(a, f);
        return;
    }
    make_ready(a, f);
}

/* Makes room for one more descriptor by closing the least recently read. */
static void
evict(struct tr_agent *a)
{
    struct file *f, *tmp;
    TAILQ_FOREACH_SAFE(f, &a->open, open, tmp) {
        if ((size_t)a->nopen < (size_t)a->conf->max_open_files) {
            return;
        }
        /* A file without a name cannot be reopened: it stays open. */
        if (!f->gone && !f->deleted && f->q->failed == 0) {
            close_fd(a, f);
        }
    }
}

static void
reset_to(struct tr_agent *a, struct file *f, uint64_t off)
{
    f->read_off = off;
    f->split.skip = 0;
    f->flush_flags = 0;
    if (new_queue(f, off) != TR_OK) {
        tr_log_error("out of memory resetting %s", f->path);
    }
    want_save(a);
}

/*
 * The file 'fd' (f's descriptor) shrank below what was read, or was
 * rewritten: remember what it held, for its copy (copy_decide), and read
 * it again from its start.
 */
static void
truncated(struct tr_agent *a, struct file *f, int fd)
{
    a->c.truncations++;
    memmove(&f->trunc[1], &f->trunc[0], (TRUNC_KEEP - 1) * sizeof(f->trunc[0]));
    f->trunc[0] = (struct trunc){
        f->id,       f->read_off, f->q->committed,   f->last_end,
        f->last_len, f->last_crc, tr_clock_mono_ms()
    };
    f->last_len = 0;
    f->copy_of_dev = f->copy_of_ino = 0; /* new content: nobody's copy */
    reset_to(a, f, 0);
    tr_tail_fingerprint(fd, (uint32_t)a->conf->fingerprint_bytes, &f->id);
}

static int
same_print(const struct tr_tail_id *x, const struct tr_tail_id *y)
{
    return x->fp_len == y->fp_len && x->fp_crc == y->fp_crc;
}

/*
 * How long a truncated file's old identity waits for its copy: two
 * rescans and the copy's wait, and at least COPY_KEEP_MIN_MS. While it
 * waits the registry keeps the old identity (what was read of it), which
 * is all that tells a copy found later which of its lines were sent: once
 * it is gone, and the journal has been compacted past them, those lines
 * would be sent again. A loaded host can take seconds to notice the copy.
 */
static int64_t
copy_keep_ms(const struct tr_agent *a)
{
    int64_t keep = a->conf->rescan_interval_ms * 2 + COPY_WAIT_MS;

    return keep > COPY_KEEP_MIN_MS ? keep : COPY_KEEP_MIN_MS;
}

/* 1 when lines are journaled (ship.h): what was sent is never resent. */
static int
exactly_once(const struct tr_agent *a)
{
    return a->conf->exactly_once && a->conf->idempotent && a->conf->acks == -1;
}

/*
 * 1 if 'f' has, where t's last split bytes were before its truncation, the
 * same bytes.
 */
static int
same_end(struct tr_agent *a, struct file *f, const struct trunc *tr)
{
    if (tr->last_len == 0) {
        return 1; /* nothing read since the start: the fingerprint covers it */
    }
    if (tr->last_len > a->bufcap || f->fd < 0) {
        return 0;
    }
    off_t at = (off_t)(tr->last_end - tr->last_len);
    ssize_t got = pread(f->fd, a->buf, tr->last_len, at);
    return got == (ssize_t)tr->last_len &&
           tr_crc32c(0, a->buf, (size_t)got) == tr->last_crc;
}

/* 1 if paths 'p' and 'q' name entries of the same directory. */
static int
same_dir(const char *p, const char *q)
{
    const char *ps = strrchr(p, '/'), *qs = strrchr(q, '/');
    size_t pl = ps ? (size_t)(ps - p) : 0, ql = qs ? (size_t)(qs - q) : 0;

    return pl == ql && memcmp(p, q, pl) == 0;
}

/*
 * 1 if the first 'n' bytes of 'f' equal those of 't' (n is below the
 * fingerprint size, so both fit in the read buffer).
 */
static int
same_prefix(struct tr_agent *a, const struct file *f, const struct file *t,
            size_t n)
{
    if (n == 0 || 2 * n > a->bufcap || f->fd < 0 || t->fd < 0) {
        return n == 0;
    }
    return pread(f->fd, a->buf, n, 0) == (ssize_t)n &&
           pread(t->fd, a->buf + n, n, 0) == (ssize_t)n &&
           memcmp(a->buf, a->buf + n, n) == 0;
}

/* 1 if file 't' starts with the fp_len bytes whose CRC-32C is fp_crc. */
static int
file_starts_with(const struct file *t, uint32_t fp_len, uint32_t fp_crc)
{
    struct tr_tail_id id;
    struct stat st;
    int fd = t->fd, ok;

    if (fd < 0) {
        fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            return 0;
        }
        if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != t->id.dev ||
            (uint64_t)st.st_ino != t->id.ino) {
            close(fd);
            return 0;
        }
    }
    ok = tr_tail_fingerprint(fd, fp_len, &id) == TR_OK && id.fp_len == fp_len &&
         id.fp_crc == fp_crc;
    if (fd != t->fd) {
        close(fd);
    }
    return ok;
}

/*
 * After a restart, 'f' may be logrotate's copy of a file whose lines the
 * last run journaled, made while the agent was down (or before its
 * registry caught up): no truncation was seen and the registry knows
 * nothing of that content, only the journal does. If f starts with the
 * bytes a journaled file had, and that file (tracked, same input and
 * directory) no longer does, f is that file's copy: it is read from its
 * start and its journaled lines are skipped (file_origin), so that what
 * was sent is not sent again and what was not is.
 */
static int
journal_copy(struct tr_agent *a, struct file *f)
{
    struct tr_journal_rec o;
    struct file *t;

    if (!exactly_once(a) || a->ship == NULL ||
        !tr_ship_journal_origin(a->ship, f->q, &o)) {
        return 0;
    }
    t = find_id(a, o.dev, o.ino);
    if (t == NULL || t == f || t->in != f->in || !same_dir(t->path, f->path) ||
        file_starts_with(t, o.fp_len, o.fp_crc)) {
        return 0; /* not a truncated file of this input: a file of its own */
    }
    a->c.copies++;
    tr_log_info("%s is the copy of %s made while the agent was away; reading "
                "it from offset %" PRIu64 " without the lines already sent",
                f->path, t->path, f->read_off);
    f->copy_check = 0;
    f->copy_of_dev = o.dev;
    f->copy_of_ino = o.ino;
    return 1;
}

/*
 * Decides where a new file 'f' (size 'size', fingerprint current) starts.
 * logrotate's copytruncate copies app.log to app.log.1 and then truncates
 * app.log, so app.log.1 holds the lines already read from app.log. It is
 * recognised by its first bytes: the same fingerprint as a file truncated
 * lately, and at least as many bytes as were read from that file. It then
 * continues from the position already acknowledged instead of 0 (what was
 * in flight is sent again: duplicates, never loss). Files too short for a
 * full fingerprint match only a truncated file of the same short content.
 *
 * Returns 1 when decided (f->read_off set), 0 to wait: the copy is seen
 * before the truncation, or is still being written. A file that matches
 * nothing, or waited COPY_WAIT_MS, is read from its start.
 */
static int
copy_decide(struct tr_agent *a, struct file *f, uint64_t size, int64_t now)
{
    int64_t keep = copy_keep_ms(a);
    int wait = 0, k;
    struct file *t;

    if (f->copy_since_ms == 0) {
        f->copy_since_ms = now;
    }
    TAILQ_FOREACH(t, &a->all, all) {
        /*
         * logrotate copies next to the original. A file of another input or
         * directory that merely starts (and ends) with the same bytes is
         * not a copy: taking it for one would skip its lines.
         */
        if (t == f || t->in != f->in || !same_dir(t->path, f->path)) {
            continue;
        }
        int recent = 0;
        for (k = 0; k < TRUNC_KEEP; k++) {
            struct trunc *tr = &t->trunc[k];
            if (tr->ms != 0 && now - tr->ms > keep) {
                tr->ms = 0;
            }
            recent |= tr->ms != 0 && now - tr->ms < COPY_WAIT_MS;
        }
        /*
         * Seen while logrotate is still copying: shorter than a full
         * fingerprint, so its fingerprint cannot match yet. Wait while it
         * could still become t's copy: it starts with t's bytes, or t was
         * just truncated (its old bytes are gone, only their CRC is left).
         */
        if (f->id.fp_len < (uint64_t)a->conf->fingerprint_bytes &&
            (recent || (t->read_off > f->id.fp_len &&
                        same_prefix(a, f, t, (size_t)f->id.fp_len)))) {
            wait = 1;
            continue;
        }
        if (t->fd >= 0 && t->read_off > 0 && same_print(&t->id, &f->id)) {
            /* A copy of t: has t been truncated meanwhile? */
            struct stat st;
            if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->read_off) {
                tr_log_info("%s was truncated (%" PRIu64 " < %" PRIu64
                            "); reading it from the start",
                            t->path, (uint64_t)st.st_size, t->read_off);
                truncated(a, t, t->fd);
                make_ready(a, t);
            } else {
                wait = 1;
                continue;
            }
        }
        for (k = 0; k < TRUNC_KEEP; k++) {
            struct trunc *tr = &t->trunc[k];
            if (tr->ms == 0 || !same_print(&tr->id, &f->id)) {
                continue;
            }
            /*
             * Exactly once: what was read from t was sent (and journaled),
             * so the copy continues after it; multiline may hold an event
             * back.
             */
            uint64_t start = exactly_once(a) && f->in->split.ml == NULL
                                 ? tr->read
                                 : tr->committed;
            if (size < tr->read) {
                /*
                 * logrotate truncates only after the copy is complete, so
                 * the copy is whole, and shorter than what was read from
                 * t: lines written between its copy and its truncate are
                 * in neither file. Whatever was acknowledged beyond the
                 * copy's end is in the topic already.
                 */
                start = start < size ? start : size;
                if (exactly_once(a) && f->in->split.ml == NULL) {
                    start = size;
                }
            } else if (!same_end(a, f, tr)) {
                continue; /* same start, other content: a different file */
            }
            a->c.copies++;
            tr_log_info("%s is the copy of %s made before its truncation; "
                        "continuing it at offset %" PRIu64,
                        f->path, t->path, start);
            tr->ms = 0;
            f->copy_check = 0;
            f->copy_of_dev = tr->id.dev;
            f->copy_of_ino = tr->id.ino;
            reset_to(a, f, start);
            return 1;
        }
    }
    if (wait && now - f->copy_since_ms < COPY_WAIT_MS) {
        return 0;
    }
    if (journal_copy(a, f)) {
        return 1;
    }
    f->copy_check = 0;
    return 1;
}

/*
 * Opens the file under its name and checks it is still the file tracked.
 * Returns TR_OK with f->fd set, or an error after marking it gone.
 */
static tr_err_t
open_file(struct tr_agent *a, struct file *f)
{
    struct stat st;

    if (f->fd >= 0) {
        return TR_OK;
    }
    if (f->gone) {
        return TR_ERR_NOT_FOUND;
    }
    evict(a);
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT) {
            a->c.open_errors++;
            note_error(a, "open %s: %s", f->path, strerror(errno));
            tr_log_warn("open %s: %s", f->path, strerror(errno));
        }
        mark_gone(a, f);
        return TR_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != f->id.dev ||
        (uint64_t)st.st_ino != f->id.ino) {
        /* Another file took the name: it is discovered on its own. */
        close(fd);
        mark_gone(a, f);
        return TR_ERR_NOT_FOUND;
    }
    int same = tr_tail_same(fd, &st, &f->id);
    if (same == 0 || (uint64_t)st.st_size < f->read_off) {
        /* Rewritten while closed: copytruncate or a reused inode. */
        tr_log_info("%s was rewritten while closed; reading it from the start",
                    f->path);
        truncated(a, f, fd);
    }
    f->fd = fd;
    TAILQ_INSERT_TAIL(&a->open, f, open);
    f->in_open = 1;
    a->nopen++;
    return TR_OK;
}

/* ---- records ----------------------------------------------------------- */

static int
add_header(struct tr_agent *a, int n, const char *k, const char *v, size_t vlen)
{
    if (n >= MAX_HEADERS) {
        return n;
    }
    a->hdrs[n].key = (const uint8_t *)k;
    a->hdrs[n].key_len = (int32_t)strlen(k);
    a->hdrs[n].value = (const uint8_t *)v;
    a->hdrs[n].value_len = (int32_t)vlen;
    return n + 1;
}

/* Writes v in decimal at p (room for 20 digits); returns the length. */
static size_t
format_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        p[i] = tmp[n - 1 - i];
    }
    return n;
}

/*
 * The headers of a record read from 'path' at 'off' into a->hdrs (valid
 * until the next call): host, path, offset, truncated, the input's fields.
 * Returns how many.
 */
static int
record_headers(struct tr_agent *a, const struct input_rt *in, const char *path,
               uint64_t off, int truncated)
{
    int n = 0;

    n = add_header(a, n, "host", a->conf->host, strlen(a->conf->host));
    n = add_header(a, n, "path", path, strlen(path));
    size_t olen = format_u64(a->offset_str, off);
    n = add_header(a, n, "offset", a->offset_str, olen);
    if (truncated) {
        n = add_header(a, n, "truncated", "true", 4);
    }
    for (size_t i = 0; i < in->conf->nfields; i++) {
        n = add_header(a, n, in->conf->fields[i].name,
                       in->conf->fields[i].value,
                       strlen(in->conf->fields[i].value));
    }
    return n;
}

static tr_err_t
emit(void *arg, uint64_t off, const char *data, size_t len, uint64_t end,
     int truncated)
{
    struct tr_agent *a = arg;
    struct file *f = a->cur;
    struct input_rt *in = f->in;
    struct tr_parse_result res;
    const char *base = strrchr(f->path, '/');
    struct tr_parse_ctx ctx = { a->conf->host, f->path,
                                base ? base + 1 : f->path };
    tr_err_t err;

    if (!tr_parse_line(in->parse, data, len, &ctx, &res)) {
        a->c.lines_dropped++;
        if (f->q->count == 0 && !f->q->failed) {
            f->q->committed = end;
            want_save(a);
        }
        return TR_OK;
    }
    int n = record_headers(a, in, f->path, off, truncated);
    /* Without a parsed time, the time the lines were read. */
    struct tr_inflight_line line = { off, end, (uint32_t)len,
                                     (uint8_t)(truncated != 0),
                                     res.timestamp_ms >= 0 ? res.timestamp_ms
                                                           : a->read_ms };
    err = tr_ship_send(a->ship, f->q, &line, in->conf->topic, res.key,
                       res.key_len, data, a->hdrs, n);
    if (err == TR_ERR_AGAIN) {
        return err;
    }
    if (err != TR_OK) {
        /* Can never be sent (too large): count it and move past it. */
        tr_log_error("%s: record at offset %" PRIu64 " refused: %s", f->path,
                     off, tr_err_str(err));
        if (f->q->count == 0 && !f->q->failed) {
            f->q->committed = end;
            want_save(a);
        }
        return TR_OK;
    }
    a->c.lines_read++;
    a->c.bytes_read += len;
    if (truncated) {
        a->c.lines_truncated++;
    }
    return TR_OK;
}

/* ---- reading ----------------------------------------------------------- */

/* Returns 1 if the file has more to read right away, 0 otherwise. */
static int
read_file(struct tr_agent *a, struct file *f, size_t *budget)
{
    struct stat st;
    int64_t now = tr_clock_mono_ms();

    if (f->fd < 0 && open_file(a, f) != TR_OK) {
        return 0;
    }
    if (f->in_open) { /* most recently used goes last */
        TAILQ_REMOVE(&a->open, f, open);
        TAILQ_INSERT_TAIL(&a->open, f, open);
    }
    if (fstat(f->fd, &st) != 0) {
        a->c.read_errors++;
        return 0;
    }
    if (st.st_nlink == 0 && !f->deleted) {
        f->deleted = 1;
        mark_gone(a, f);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < f->read_off) {
        /* copytruncate: the file shrank below what was read. */
        tr_log_info("%s was truncated (%" PRIu64 " < %" PRIu64
                    "); reading it from the start",
                    f->path, size, f->read_off);
        truncated(a, f, f->fd);
    } else if (size != f->size_seen && f->read_off > 0 && f->id.fp_len > 0 &&
               !file_starts_with(f, (uint32_t)f->id.fp_len, f->id.fp_crc)) {
        /*
         * copytruncate, and written again past what was read before the
         * agent looked: the size says nothing, the first bytes do.
         */
        tr_log_info("%s was truncated and written again (its first bytes "
                    "changed); reading it from the start",
                    f->path);
        truncated(a, f, f->fd);
    }
    if (size != f->size_seen) {
        f->size_seen = size;
        f->changed_ms = now;
    }
    if (f->id.fp_len < (uint64_t)a->conf->fingerprint_bytes &&
        size > f->id.fp_len) {
        tr_tail_fingerprint(f->fd, (uint32_t)a->conf->fingerprint_bytes,
                            &f->id);
    }
    if (f->read_off >= size) {
        f->eof_ms = now;
        return 0;
    }
    if (f->copy_check) {
        if (!copy_decide(a, f, size, now)) {
            return 0; /* the tick looks again */
        }
        if (f->read_off >= size) {
            f->eof_ms = now;
            return 0;
        }
    }
    size_t want = size - f->read_off < a->bufcap ? (size_t)(size - f->read_off)
                                                 : a->bufcap;
    ssize_t got = pread(f->fd, a->buf, want, (off_t)f->read_off);
    if (got < 0) {
        if (errno != EINTR && errno != EAGAIN) {
            a->c.read_errors++;
            note_error(a, "read %s: %s", f->path, strerror(errno));
            tr_log_warn("read %s: %s", f->path, strerror(errno));
        }
        return 0;
    }
    int flags = f->flush_flags;
    f->flush_flags = 0;
    size_t consumed = 0;
    a->cur = f;
    a->read_ms = tr_clock_wall_ms();
    tr_err_t err = tr_tail_split(&f->split, &f->in->split, a->buf, (size_t)got,
                                 f->read_off, flags, emit, a, &consumed);
    a->cur = NULL;
    if (err != TR_OK) {
        tr_log_error("%s: %s", f->path, tr_err_str(err));
    }
    if (consumed > 0) {
        size_t n = consumed < (size_t)a->conf->fingerprint_bytes
                       ? consumed
                       : (size_t)a->conf->fingerprint_bytes;
        f->last_len = (uint32_t)n;
        f->last_crc = tr_crc32c(0, a->buf + consumed - n, n);
        f->last_end = f->read_off + consumed;
    }
    f->read_off += consumed;
    *budget = *budget > (size_t)got ? *budget - (size_t)got : 0;
    if (tr_ship_blocked(a->ship)) {
        return 1; /* resume here once unblocked */
    }
    if (f->read_off < size && consumed > 0 && (size_t)got == a->bufcap) {
        return 1; /* more than one buffer was waiting */
    }
    f->eof_ms = now;
    return 0;
}

static void
on_work(evutil_socket_t fd, short what, void *arg)
{
    struct tr_agent *a = arg;
    size_t budget = TURN_BYTES;

    (void)fd;
    (void)what;
    while (budget > 0 && !a->stopping && !tr_ship_blocked(a->ship)) {
        struct file *f = TAILQ_FIRST(&a->ready);
        if (f == NULL) {
            break;
        }
        TAILQ_REMOVE(&a->ready, f, ready);
        f->in_ready = 0;
        if (read_file(a, f, &budget)) {
            make_ready(a, f);
        }
    }
    if (!TAILQ_EMPTY(&a->ready) && !tr_ship_blocked(a->ship)) {
        schedule(a);
    }
}

/* ---- discovery --------------------------------------------------------- */

static struct input_rt *
input_for(struct tr_agent *a, const char *path)
{
    for (size_t i = 0; i < a->ninputs; i++) {
        const struct tr_agent_input *in = a->inputs[i].conf;
        for (size_t j = 0; j < in->npaths; j++) {
            if (tr_watch_glob_match(in->paths[j], path) &&
                !tr_watch_excluded(in->excludes, in->nexcludes, path)) {
                return &a->inputs[i];
            }
        }
    }
    return NULL;
}

static void
discover(struct tr_agent *a, const char *path, struct input_rt *in)
{
    struct stat st;
    struct file *f;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    f = find_id(a, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (f != NULL && f->fd >= 0) {
        struct stat fst;
        /* The fd pins the inode, so the same dev/ino is the same file. */
        if (fstat(f->fd, &fst) == 0 && fst.st_ino == st.st_ino) {
            goto known;
        }
    }
    if (f != NULL && f->fd < 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        int same = fd >= 0 ? tr_tail_same(fd, &st, &f->id) : -1;
        if (fd >= 0) {
            close(fd);
        }
        if (same == 0) {
            /* The inode was reused by a new file. */
            a->c.inode_reuse++;
            tr_log_info("%s: inode %" PRIu64 " reused; a new file", path,
                        f->id.ino);
            forget(a, f);
            f = NULL;
        } else if (same < 0) {
            return;
        } else {
            goto known;
        }
    }
    if (f == NULL) {
        goto fresh;
    }
known:
    f->scan_gen = a->scan_gen;
    if (f->gone || strcmp(f->path, path) != 0) {
        struct file *other = find_path(a, path);
        if (other != NULL && other != f) {
            mark_gone(a, other);
        }
        if (!f->gone) {
            unmap_path(a, f);
        }
        char *np = tr_strdup(path);
        if (np == NULL) {
            return;
        }
        if (strcmp(f->path, path) != 0) {
            a->c.rotations++;
            tr_log_info("%s renamed to %s", f->path, path);
        }
        tr_free(f->path);
        f->path = np;
        f->gone = 0;
        map_path(a, f);
    }
    if (in != NULL) {
        f->in = in;
    }
    if ((uint64_t)st.st_size != f->read_off) {
        make_ready(a, f);
    }
    return;
fresh:
    if (in == NULL) {
        return;
    }
    f = tr_calloc(1, sizeof(*f));
    if (f == NULL || (f->path = tr_strdup(path)) == NULL) {
        tr_free(f);
        return;
    }
    f->fd = -1;
    f->pfx_ok = -1;
    f->in = in;
    f->id.dev = (uint64_t)st.st_dev;
    f->id.ino = (uint64_t)st.st_ino;
    f->scan_gen = a->scan_gen;
    f->changed_ms = tr_clock_mono_ms();
    uint64_t start = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        tr_tail_fingerprint(fd, (uint32_t)a->conf->fingerprint_bytes, &f->id);
        const struct tr_registry_entry *e =
            a->startup_reg
                ? tr_registry_find(a->startup_reg, f->id.dev, f->id.ino)
                : NULL;
        struct tr_tail_id old;
        if (e != NULL) {
            old.dev = e->dev;
            old.ino = e->ino;
            old.fp_len = e->fp_len;
            old.fp_crc = e->fp_crc;
            if (tr_tail_same(fd, &st, &old) == 1 &&
                e->offset <= (uint64_t)st.st_size) {
                start = e->offset;
            } else {
                a->c.inode_reuse++;
                tr_log_info("%s: not the file the registry knew under inode "
                            "%" PRIu64 "; reading it from the start",
                            path, f->id.ino);
                /*
                 * Truncated while the agent was down (copytruncate)? Then
                 * its copy, found later, continues from the registry's
                 * position, as after a truncation seen live.
                 */
                f->trunc[0] =
                    (struct trunc){ old, e->offset, e->offset,         0,
                                    0,   0,         tr_clock_mono_ms() };
            }
        } else if (a->first_scan && in->conf->read_from == TR_READ_FROM_END) {
            start = (uint64_t)st.st_size;
        } else if (!a->first_scan ||
                   (a->ship != NULL && tr_ship_skipping(a->ship))) {
            /*
             * Maybe a copytruncate copy: copy_decide. Also on the first
             * scan after a run killed before its first registry write:
             * its journal may know the content of a copy.
             */
            f->copy_check = 1;
        }
        close(fd);
    }
    f->read_off = start;
    if (new_queue(f, start) != TR_OK) {
        tr_free(f->path);
        tr_free(f);
        return;
    }
    struct file *other = find_path(a, path);
    if (other != NULL) {
        mark_gone(a, other);
    }
    TAILQ_INSERT_TAIL(&a->all, f, all);
    a->nfiles++;
    map_path(a, f);
    map_id(a, f);
    tr_log_debug("tracking %s from offset %" PRIu64, path, start);
    make_ready(a, f);
}

static void
add_glob_dirs(struct tr_agent *a, const char *pattern)
{
    char *copy = tr_strdup(pattern);
    glob_t g;

    if (copy == NULL) {
        return;
    }
    const char *dir = dirname(copy);
    if (strpbrk(dir, "*?[") == NULL) {
        tr_watch_add_dir(a->watch, dir);
    } else {
        /* New directories matching the wildcard: watch the fixed part. */
        char *fixed = tr_strdup(dir);
        if (fixed != NULL) {
            char *slash = fixed + strcspn(fixed, "*?[");
            while (slash > fixed && *slash != '/') {
                slash--;
            }
            if (slash == fixed) {
                tr_watch_add_creations(a->watch, *fixed == '/' ? "/" : ".");
            } else {
                *slash = '\0';
                tr_watch_add_creations(a->watch, fixed);
            }
            tr_free(fixed);
        }
        if (glob(dir, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                tr_watch_add_dir(a->watch, g.gl_pathv[i]);
            }
            globfree(&g);
        }
    }
    tr_free(copy);
}

static void
rescan(struct tr_agent *a)
{
    struct file *f, *tmp;
    glob_t g;

    a->scan_gen++;
    for (size_t i = 0; i < a->ninputs; i++) {
        const struct tr_agent_input *in = a->inputs[i].conf;
        for (size_t j = 0; j < in->npaths; j++) {
            add_glob_dirs(a, in->paths[j]);
            if (glob(in->paths[j], GLOB_NOSORT, NULL, &g) != 0) {
                continue;
            }
            for (size_t k = 0; k < g.gl_pathc; k++) {
                const char *p = g.gl_pathv[k];
                if (!tr_watch_excluded(in->excludes, in->nexcludes, p)) {
                    struct input_rt *owner = input_for(a, p);
                    discover(a, p, owner);
                }
            }
            globfree(&g);
        }
    }
    /* Files no glob matched any more: renamed away, deleted or excluded. */
    TAILQ_FOREACH_SAFE(f, &a->all, all, tmp) {
        if (f->scan_gen == a->scan_gen || f->gone) {
            continue;
        }
        struct stat st;
        if (stat(f->path, &st) == 0 && (uint64_t)st.st_ino == f->id.ino &&
            (uint64_t)st.st_dev == f->id.dev) {
            continue; /* still there, just no longer matched (reload) */
        }
        mark_gone(a, f);
    }
    /* Growth of open files, for file systems without inotify. */
    TAILQ_FOREACH(f, &a->open, open) {
        make_ready(a, f);
    }
}

static void
on_watch(void *arg, enum tr_watch_what what, const char *dir, const char *name)
{
    struct tr_agent *a = arg;
    char path[4096];
    struct file *f;

    if (what == TR_WATCH_RESCAN) {
        rescan(a);
        return;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
        sizeof(path)) {
        return;
    }
    f = find_path(a, path);
    switch (what) {
    case TR_WATCH_CHANGED:
        if (f != NULL) {
            make_ready(a, f);
        } else {
            discover(a, path, input_for(a, path));
        }
        break;
    case TR_WATCH_CREATED: {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rescan(a);
            break;
        }
        discover(a, path, input_for(a, path));
        break;
    }
    case TR_WATCH_GONE:
        if (f != NULL) {
            mark_gone(a, f);
        }
        break;
    default:
        break;
    }
}

/* ---- timers -------------------------------------------------------------- */

static void on_save(evutil_socket_t fd, short what, void *arg);

static int
drained(struct tr_agent *a)
{
    return tr_ship_pending(a->ship) == 0;
}

static void
finish_stop(struct tr_agent *a)
{
    tr_agent_save(a);
    event_base_loopexit(a->base, NULL);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tr_agent *a = arg;
    struct file *f, *tmp;
    int64_t now = tr_clock_mono_ms();

    (void)fd;
    (void)what;
    if (a->startup_reg != NULL && a->nfiles > 0 &&
        now >= a->startup_keep_until) {
        tr_registry_free(a->startup_reg);
        a->startup_reg = NULL;
        want_save(a);
    }
    if (a->stopping) {
        if (drained(a) || now >= a->stop_deadline_ms) {
            if (!drained(a)) {
                tr_log_warn("%zu records still unacknowledged at exit; "
                            "they will be sent again",
                            tr_ship_pending(a->ship));
            }
            finish_stop(a);
        }
        return;
    }
    if (a->dirty && !a->save_pending) {
        want_save(a); /* a failed save, or positions moved without acks */
    }
    int blocked = tr_ship_blocked(a->ship);
    if (blocked && a->blocked_since_ms == 0) {
        a->blocked_since_ms = now;
    } else if (!blocked && a->blocked_since_ms != 0) {
        if (now - a->blocked_since_ms >= 10000) {
            tr_log_info("collector reachable again; catching up");
        }
        a->blocked_since_ms = 0;
    }
    if (blocked && now - a->blocked_since_ms >= 10000 &&
        now - a->last_block_warn_ms >= 60000) {
        a->last_block_warn_ms = now;
        note_error(a,
                   "reading paused: %zu records in flight to %s not "
                   "acknowledged%s",
                   tr_ship_pending(a->ship), a->conf->brokers,
                   tr_ship_connected(a->ship) ? ""
                                              : " (collector unreachable)");
        tr_log_warn("reading paused for %lld s: %zu records (%zu bytes) in "
                    "flight to %s are not acknowledged%s; the files are the "
                    "buffer, retrying with backoff",
                    (long long)((now - a->blocked_since_ms) / 1000),
                    tr_ship_pending(a->ship), tr_ship_buffered_bytes(a->ship),
                    a->conf->brokers,
                    tr_ship_connected(a->ship) ? ""
                                               : " (collector unreachable)");
    }
    if (!blocked && !TAILQ_EMPTY(&a->ready)) {
        schedule(a);
    }
    TAILQ_FOREACH_SAFE(f, &a->all, all, tmp) {
        int idle = f->in_ready == 0 && f->read_off < f->size_seen;
        int64_t quiet = now - f->changed_ms;
        if (idle && f->in->split.ml != NULL &&
            quiet >= f->in->conf->multiline_timeout_ms) {
            f->flush_flags |= TR_SPLIT_FLUSH_EVENT;
            make_ready(a, f);
        }
        if (idle && quiet >= a->conf->partial_line_timeout_ms) {
            f->flush_flags |= TR_SPLIT_FLUSH_PARTIAL | TR_SPLIT_FLUSH_EVENT;
            make_ready(a, f);
        }
        if (f->copy_check && f->copy_since_ms != 0 && !f->in_ready) {
            make_ready(a, f); /* a possible copy waiting for its source */
        }
        if (f->q->failed && f->q->count == 0) {
            /* Something failed for good: read again from the position. */
            f->q->failed = 0;
            f->read_off = f->q->committed;
            f->split.skip = 0;
            make_ready(a, f);
        }
        if (f->gone && !f->in_ready && f->read_off >= f->size_seen &&
            now - f->eof_ms >= a->conf->rotate_wait_ms &&
            now - f->changed_ms >= a->conf->rotate_wait_ms) {
            if (f->fd >= 0) {
                /* Last look: anything written since the end was read? */
                struct stat st;
                if (fstat(f->fd, &st) == 0 &&
                    (uint64_t)st.st_size > f->read_off) {
                    make_ready(a, f);
                    continue;
                }
            }
            if (f->q->count == 0) {
                if (f->deleted) {
                    a->c.files_deleted++;
                }
                tr_log_debug("closing %s (%s)", f->path,
                             f->deleted ? "deleted" : "renamed away");
                forget(a, f);
            }
        }
    }
}

static void
on_save(evutil_socket_t fd, short what, void *arg)
{
    struct tr_agent *a = arg;
    (void)fd;
    (void)what;
    a->save_pending = 0;
    tr_agent_save(a);
}

/* ---- exactly once: the journal's view of files (ship.h) ---------------- */

static int
file_ident(void *arg, const struct tr_inflight_queue *q,
           struct tr_journal_rec *id, const char **path)
{
    const struct file *f = q->owner;
    (void)arg;
    if (f == NULL) {
        /* Let go of (truncated) with records out: as it was then. */
        id->dev = q->gone_dev;
        id->ino = q->gone_ino;
        id->fp_len = q->gone_fp_len;
        id->fp_crc = q->gone_fp_crc;
        if (path != NULL && q->gone_path != NULL) {
            *path = q->gone_path;
        }
        return q->gone_dev != 0 || q->gone_ino != 0;
    }
    if (path != NULL) {
        *path = f->path;
    }
    id->dev = f->id.dev;
    id->ino = f->id.ino;
    id->fp_len = f->id.fp_len;
    id->fp_crc = f->id.fp_crc;
    return 1;
}

static int
file_origin(void *arg, const struct tr_inflight_queue *q, uint64_t *dev,
            uint64_t *ino)
{
    const struct file *f = q->owner;
    (void)arg;
    if (f == NULL || (f->copy_of_dev == 0 && f->copy_of_ino == 0)) {
        return 0;
    }
    *dev = f->copy_of_dev;
    *ino = f->copy_of_ino;
    return 1;
}

static int
file_prefix(void *arg, const struct tr_inflight_queue *q, uint32_t fp_len,
            uint32_t fp_crc)
{
    struct file *f = q->owner;
    struct tr_tail_id now;
    (void)arg;
    if (f == NULL) {
        return 0;
    }
    if (fp_len == f->id.fp_len) {
        return fp_crc == f->id.fp_crc;
    }
    if (f->pfx_ok < 0 || f->pfx_len != fp_len || f->pfx_crc != fp_crc) {
        f->pfx_len = fp_len;
        f->pfx_crc = fp_crc;
        f->pfx_ok = f->fd >= 0 && fp_len < f->id.fp_len &&
                    tr_tail_fingerprint(f->fd, fp_len, &now) == TR_OK &&
                    now.fp_len == fp_len && now.fp_crc == fp_crc;
    }
    return f->pfx_ok;
}

/*
 * Opens 'path' if it is the file 'id' (tr_tail_same: same device and
 * inode, or any file when copy is set, with the same first id->fp_len
 * bytes) and has at least 'need' bytes. Returns the descriptor or -1.
 */
static int
open_as(const char *path, const struct tr_tail_id *id, int copy, uint64_t need)
{
    struct tr_tail_id want = *id;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < need) {
        goto out;
    }
    if (copy) {
        want.dev = (uint64_t)st.st_dev;
        want.ino = (uint64_t)st.st_ino;
    }
    if (tr_tail_same(fd, &st, &want) == 1) {
        return fd;
    }
out:
    close(fd);
    return -1;
}

/*
 * Finds the file a journaled record came from: under its name, else under
 * another name in the same directory (renamed by logrotate), else a copy
 * in that directory starting with the same bytes (logrotate's copytruncate
 * copy, whose offsets are the original's). Returns a descriptor or -1.
 */
static int
rebuild_find(const struct tr_tail_id *id, const char *path, uint64_t need)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], cand[PATH_MAX];
    int fd = open_as(path, id, 0, need), copy, from_copy = 0;
    DIR *d;

    if (fd >= 0) {
        return fd;
    }
    if (slash != NULL) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
    } else {
        snprintf(dir, sizeof(dir), "./");
    }
    if ((d = opendir(dir)) == NULL) {
        return -1;
    }
    /* Two passes: the same inode first, then copies (never empty-prefixed). */
    for (copy = 0; copy < (id->fp_len > 0 ? 2 : 1) && fd < 0; copy++) {
        struct dirent *e;

        rewinddir(d);
        while (fd < 0 && (e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.' &&
                (copy || (uint64_t)e->d_ino == id->ino) &&
                snprintf(cand, sizeof(cand), "%s%s", dir, e->d_name) <
                    (int)sizeof(cand)) {
                fd = open_as(cand, id, copy, need);
                from_copy = copy;
            }
        }
    }
    closedir(d);
    if (fd >= 0) {
        tr_log_info("exactly once: the lines journaled from %s are read again "
                    "from %s%s",
                    path, cand, from_copy ? " (its copy)" : "");
    }
    return fd;
}

/*
 * After a restart: rebuilds record i of the journaled batch b into 'bld'
 * exactly as emit sent it (ship.h).
 */
static tr_err_t
file_rebuild(void *arg, const struct tr_journal_batch *b, uint32_t i,
             struct tr_batch_builder *bld)
{
    struct tr_agent *a = arg;
    const struct tr_journal_line *l = &b->lines[i];
    const struct tr_journal_rec *r = &b->recs[i];
    struct tr_tail_id id = { r->dev, r->ino, r->fp_len, r->fp_crc };
    struct input_rt *in = input_for(a, l->path);
    struct tr_parse_result res;

    /* A whole line or event ends in a newline: read it too, to check. */
    size_t want = l->len + (r->end > l->start + l->len && !l->truncated);

    if (in == NULL || want > a->bufcap) {
        return TR_ERR_NOT_FOUND; /* no input reads that name any more */
    }
    if (a->rb_fd < 0 || memcmp(&a->rb_id, &id, sizeof(id)) != 0) {
        if (a->rb_fd >= 0) {
            close(a->rb_fd);
        }
        a->rb_id = id;
        a->rb_fd = rebuild_find(&id, l->path, r->end);
    }
    if (a->rb_fd < 0 || tr_read_at(a->rb_fd, a->buf, want, l->start) != TR_OK) {
        return TR_ERR_NOT_FOUND;
    }
    if (want > l->len && a->buf[l->len] != '\n') {
        /*
         * Not the bytes that were sent: a copy that only starts like the
         * file (a fixed banner), or the file written over. Rebuilding
         * other lines under these sequences would lose the real ones.
         */
        return TR_ERR_CORRUPT;
    }
    const char *base = strrchr(l->path, '/');
    struct tr_parse_ctx ctx = { a->conf->host, l->path,
                                base ? base + 1 : l->path };
    if (!tr_parse_line(in->parse, a->buf, l->len, &ctx, &res)) {
        res.key = NULL; /* a filter changed: the line was sent all the same */
    }
    int n = record_headers(a, in, l->path, l->start, l->truncated);
    return tr_batch_builder_add(bld, l->timestamp, res.key,
                                res.key ? (int32_t)res.key_len : -1, a->buf,
                                (int32_t)l->len, a->hdrs, n);
}

static const struct tr_ship_files ship_files = { file_ident, file_prefix,
                                                 file_origin, file_rebuild };

/*
 * Compaction's question: may a line of this file ending at 'end' still be
 * read again? Yes while the registry just written is before it. A file
 * the registry no longer has is finished (or deleted: it cannot be read
 * again anyway).
 */
static int
journal_live(void *arg, uint64_t dev, uint64_t ino, uint32_t fp_len,
             uint32_t fp_crc, uint64_t end)
{
    struct tr_agent *a = arg;
    for (size_t i = 0; i < a->nentries_saved; i++) {
        size_t k = (a->live_hint + i) % a->nentries_saved;
        const struct tr_registry_entry *e = &a->entries[k];
        if (e->dev == dev && e->ino == ino) {
            a->live_hint = k;
            /*
             * Another fingerprint: other content (truncated, rewritten) or
             * the same file when it was shorter; the registry says nothing
             * about these lines, so they stay.
             */
            return e->fp_len != fp_len || e->fp_crc != fp_crc ||
                   e->offset < end;
        }
    }
    return 0;
}

/* The wall clock as the event loop last read it: one read a loop turn. */
static int64_t
loop_wall_ms(struct tr_agent *a)
{
    struct timeval tv;

    if (event_base_gettimeofday_cached(a->base, &tv) != 0) {
        return tr_clock_wall_ms();
    }
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
on_done(void *arg, struct tr_inflight_queue *q, int ok)
{
    struct tr_agent *a = arg;
    if (q == NULL) {
        /* Sends are accepted again (resent batches acknowledged). */
        if (!a->stopping && !TAILQ_EMPTY(&a->ready)) {
            schedule(a);
        }
        return;
    }
    if (ok) {
        a->c.acked_unsaved++;
    }
    if (q->owner == NULL) {
        if (q->count == 0) {
            queue_free(q);
        }
        return;
    }
    if (ok) {
        struct file *f = q->owner;

        want_save(a); /* q->committed may have advanced */
        f->last_ack_ms = loop_wall_ms(a);
        if (q->committed > f->acked_seen) {
            a->c.bytes_acked += q->committed - f->acked_seen;
        }
        f->acked_seen = q->committed;
    }
    if (!a->stopping && !TAILQ_EMPTY(&a->ready) && !tr_ship_blocked(a->ship)) {
        schedule(a);
    }
}

/* ---- metrics ------------------------------------------------------------- */

/* Bytes of 'f' not yet acknowledged: its size minus its saved position. */
static uint64_t
file_behind(const struct file *f)
{
    return f->size_seen > f->q->committed ? f->size_seen - f->q->committed : 0;
}

/*
 * The per-file series: bytes behind and the last acknowledgement time,
 * labelled by path for the first FILE_SERIES_MAX files; the rest are
 * summed (bytes) or maximised (time) under path="__other__". The total
 * bytes behind has no label.
 */
static void
render_files(struct tr_agent *a, struct evbuffer *out)
{
    static const char *const lag = "tributary_agent_file_lag_bytes";
    static const char *const ack =
        "tributary_agent_file_last_ack_timestamp_seconds";
    uint64_t total = 0, other = 0;
    int64_t other_ack = 0;
    size_t n = 0;
    struct file *f;

    tr_metrics_family(out, "tributary_agent_lag_bytes", "gauge",
                      "Bytes of all tracked files not yet acknowledged.");
    TAILQ_FOREACH(f, &a->all, all) {
        total += file_behind(f);
    }
    tr_metrics_sample(out, "tributary_agent_lag_bytes", NULL, NULL,
                      (double)total);
    tr_metrics_family(out, lag, "gauge",
                      "Bytes of each tracked file not yet acknowledged (size "
                      "minus acknowledged position).");
    TAILQ_FOREACH(f, &a->all, all) {
        if (n++ < FILE_SERIES_MAX) {
            tr_metrics_sample(out, lag, "path", f->path,
                              (double)file_behind(f));
        } else {
            other += file_behind(f);
        }
    }
    if (n > FILE_SERIES_MAX) {
        tr_metrics_sample(out, lag, "path", "__other__", (double)other);
    }
    tr_metrics_family(out, ack, "gauge",
                      "When the collector last acknowledged lines of each "
                      "tracked file (Unix seconds; 0: not yet).");
    n = 0;
    TAILQ_FOREACH(f, &a->all, all) {
        if (n++ < FILE_SERIES_MAX) {
            tr_metrics_sample(out, ack, "path", f->path,
                              (double)f->last_ack_ms / 1e3);
        } else if (f->last_ack_ms > other_ack) {
            other_ack = f->last_ack_ms;
        }
    }
    if (n > FILE_SERIES_MAX) {
        tr_metrics_sample(out, ack, "path", "__other__",
                          (double)other_ack / 1e3);
    }
}

static void
render(void *arg, struct evbuffer *out)
{
    struct tr_agent *a = arg;
    struct tr_ship_stats ss;
    uint64_t st_sent, st_failed;
    struct file *f;

    tr_ship_stats(a->ship, &ss);
    tr_status_counts(a->status, &st_sent, &st_failed);
    /* clang-format off */
    const struct { const char *name, *type, *help; double v; } m[] = {
        { "tributary_agent_lines_read_total", "counter", "Lines (or events) read and sent.", (double)a->c.lines_read },
        { "tributary_agent_bytes_read_total", "counter", "Bytes of those lines.", (double)a->c.bytes_read },
        { "tributary_agent_acked_bytes_total", "counter", "Bytes of the files whose lines the collector acknowledged (advances of the saved positions).", (double)a->c.bytes_acked },
        { "tributary_agent_lines_dropped_total", "counter", "Lines dropped by include_lines/exclude_lines.", (double)a->c.lines_dropped },
        { "tributary_agent_lines_truncated_total", "counter", "Lines or events cut at max_line_bytes/multiline_max_bytes.", (double)a->c.lines_truncated },
        { "tributary_agent_records_sent_total", "counter", "Records handed to the producer.", (double)ss.sent },
        { "tributary_agent_records_acked_total", "counter", "Records the collector acknowledged.", (double)ss.acked },
        { "tributary_agent_records_failed_total", "counter", "Records that failed and are read again.", (double)ss.failed },
        { "tributary_agent_records_dropped_total", "counter", "Records refused as too large (read again).", (double)ss.dropped_too_large },
        { "tributary_agent_journal_resent_batches_total", "counter", "Journaled batches resent with their original sequences after a restart.", (double)ss.resent_batches },
        { "tributary_agent_journal_landed_batches_total", "counter", "Journaled batches the collector already had at a restart (not resent).", (double)ss.landed_batches },
        { "tributary_agent_journal_rebuilt_batches_total", "counter", "Resent batches rebuilt from the files after a restart.", (double)ss.rebuilt_batches },
        { "tributary_agent_journal_rebuilt_differ_total", "counter", "Rebuilt batches whose bytes differ from the ones sent (the input's settings changed); their lines are still sent once.", (double)ss.rebuilt_differ },
        { "tributary_agent_journal_skipped_records_total", "counter", "Lines read again after a restart and not sent again (journaled).", (double)ss.skipped_records },
        { "tributary_agent_exactly_once_fallbacks_total", "counter", "Times the producer id was lost (collector forgot it): those records were delivered at least once.", (double)ss.fallbacks },
        { "tributary_agent_journal_errors_total", "counter", "Journal writes that failed (those records at least once).", (double)ss.journal_errors },
        { "tributary_agent_journal_compactions_total", "counter", "Journal rewrites dropping entries the registry has passed.", (double)ss.journal_compactions },
        { "tributary_agent_journal_bytes", "gauge", "Size of the journal file.", (double)tr_ship_journal_bytes(a->ship) },
        { "tributary_agent_rotations_total", "counter", "Files seen under a new name.", (double)a->c.rotations },
        { "tributary_agent_truncations_total", "counter", "Files that shrank (copytruncate) and were read again.", (double)a->c.truncations },
        { "tributary_agent_copies_total", "counter", "copytruncate copies recognised and continued at the acknowledged position.", (double)a->c.copies },
        { "tributary_agent_inode_reuse_total", "counter", "Reused inodes recognised by fingerprint.", (double)a->c.inode_reuse },
        { "tributary_agent_deleted_files_closed_total", "counter", "Deleted files read to their end and closed.", (double)a->c.files_deleted },
        { "tributary_agent_errors_total", "counter", "Open, read and registry write errors.", (double)(a->c.open_errors + a->c.read_errors + a->c.registry_errors) },
        { "tributary_agent_registry_writes_total", "counter", "Registry writes.", (double)a->c.registry_writes },
        { "tributary_agent_registry_write_seconds_total", "counter", "Time spent writing the registry (both fsyncs included).", (double)a->c.registry_write_us / 1e6 },
        { "tributary_agent_registry_unsaved_records", "gauge", "Records acknowledged since the last registry write (resent after a crash).", (double)a->c.acked_unsaved },
        { "tributary_agent_registry_window_records_max", "gauge", "Most records acknowledged between two registry writes.", (double)a->c.save_window_max },
        { "tributary_agent_files_tracked", "gauge", "Files tracked.", (double)a->nfiles },
        { "tributary_agent_files_open", "gauge", "Descriptors held.", (double)a->nopen },
        { "tributary_agent_inflight_records", "gauge", "Records sent and not yet acknowledged.", (double)tr_ship_pending(a->ship) },
        { "tributary_agent_inflight_bytes", "gauge", "Bytes the producer holds.", (double)tr_ship_buffered_bytes(a->ship) },
        { "tributary_agent_paused", "gauge", "1 while reading is paused by backpressure.", (double)tr_ship_blocked(a->ship) },
        { "tributary_agent_connected", "gauge", "1 while a collector connection is up.", (double)tr_ship_connected(a->ship) },
        { "tributary_agent_inotify_overflows_total", "counter", "inotify queue overflows (each forces a rescan).", (double)tr_watch_overflows(a->watch) },
        { "tributary_agent_status_records_total", "counter", "Status records delivered to status_topic.", (double)st_sent },
        { "tributary_agent_status_errors_total", "counter", "Status records that could not be delivered.", (double)st_failed },
        { "tributary_agent_start_time_seconds", "gauge", "Start time of the agent (Unix seconds).", (double)a->started_ms / 1e3 },
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        tr_metrics_family(out, m[i].name, m[i].type, m[i].help);
        tr_metrics_sample(out, m[i].name, NULL, NULL, m[i].v);
    }
    render_files(a, out);
    tr_metrics_family(out, "tributary_agent_build_info", "gauge",
                      "Always 1; the agent's version in the label.");
    tr_metrics_sample(out, "tributary_agent_build_info", "version",
                      PACKAGE_VERSION, 1);
    int deleted = 0;
    TAILQ_FOREACH(f, &a->open, open) {
        deleted += f->deleted;
    }
    tr_metrics_family(out, "tributary_agent_deleted_files_open", "gauge",
                      "Deleted files still held open (disk not yet freed).");
    tr_metrics_sample(out, "tributary_agent_deleted_files_open", NULL, NULL,
                      deleted);
}

static int
health(void *arg, struct evbuffer *out)
{
    struct tr_agent *a = arg;
    int64_t now = tr_clock_mono_ms();
    if (!a->registry_ok) {
        evbuffer_add_printf(out, "unhealthy: registry cannot be written\n");
        return 0;
    }
    if (a->blocked_since_ms != 0 && now - a->blocked_since_ms > 60000) {
        evbuffer_add_printf(out,
                            "unhealthy: paused for %lld s, collector "
                            "not acknowledging\n",
                            (long long)((now - a->blocked_since_ms) / 1000));
        return 0;
    }
    evbuffer_add_printf(out, "ok\n");
    return 1;
}

static const struct tr_metrics_check health_checks[] = {
    { "/health", health, NULL },
};

/* ---- status records ------------------------------------------------------ */

/* tr_status_fill_cb: the agent and its files, for one status record. */
static void
status_fill(void *arg, struct tr_status_agent *ag, struct tr_status_doc *doc)
{
    struct tr_agent *a = arg;
    struct file *f;

    ag->host = a->conf->host;
    ag->version = PACKAGE_VERSION;
    ag->started_ms = a->started_ms;
    ag->last_error = a->last_error_ms != 0 ? a->last_error : NULL;
    ag->last_error_ms = a->last_error_ms;
    ag->conf = a->conf;
    TAILQ_FOREACH(f, &a->all, all) {
        struct tr_status_file sf = { f->path,      f->in->conf->name,
                                     f->read_off,  f->q->committed,
                                     f->size_seen, f->last_ack_ms };
        tr_status_doc_file(doc, &sf);
    }
}

/* ---- setup -----------------------------------------------------------------
 */

static void
free_inputs(struct input_rt *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tr_parse_free(v[i].parse);
    }
    tr_free(v);
}

static tr_err_t
build_inputs(const struct tr_agent_conf *conf, struct input_rt **out,
             char *errbuf, size_t errlen)
{
    struct input_rt *v = tr_calloc(conf->ninputs, sizeof(*v));
    char reason[512];
    tr_err_t err = TR_ERR_NOMEM;

    if (v == NULL) {
        goto out;
    }
    for (size_t i = 0; i < conf->ninputs; i++) {
        const struct tr_agent_input *in = conf->inputs[i];
        v[i].conf = in;
        err = tr_parse_new(in, &v[i].parse, reason, sizeof(reason));
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "[input %s] %s", in->name, reason);
            goto out;
        }
        if (in->nfields + 4 > MAX_HEADERS) {
            snprintf(errbuf, errlen, "[input %s] too many fields (max %d)",
                     in->name, MAX_HEADERS - 4);
            err = TR_ERR_CONFIG;
            goto out;
        }
        v[i].split.max_line = (size_t)conf->max_line_bytes;
        v[i].split.max_event = (size_t)in->multiline_max_bytes;
        v[i].split.ml = tr_parse_multiline(v[i].parse) ? v[i].parse : NULL;
    }
    *out = v;
    v = NULL;
    err = TR_OK;
out:
    if (v != NULL) {
        free_inputs(v, conf->ninputs);
    }
    return err;
}

static size_t
buffer_size(const struct tr_agent_conf *conf)
{
    int64_t ml = 0;
    for (size_t i = 0; i < conf->ninputs; i++) {
        if (conf->inputs[i]->multiline_start != NULL &&
            conf->inputs[i]->multiline_max_bytes > ml) {
            ml = conf->inputs[i]->multiline_max_bytes;
        }
    }
    /* A window must hold the longest event plus one cut line. */
    int64_t need = ml + conf->max_line_bytes + 65536;
    if (need < conf->read_chunk_bytes) {
        need = conf->read_chunk_bytes;
    }
    return (size_t)need;
}

static tr_err_t
add_timer(struct tr_agent *a, struct event **ev, int64_t ms,
          event_callback_fn fn)
{
    struct timeval tv = { (time_t)(ms / 1000),
                          (suseconds_t)(ms % 1000) * 1000 };
    *ev = event_new(a->base, -1, EV_PERSIST, fn, a);
    if (*ev == NULL || event_add(*ev, &tv) != 0) {
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

tr_err_t
tr_agent_new(struct event_base *base, struct tr_agent_conf *conf,
             struct tr_agent **out, char *errbuf, size_t errlen)
{
    struct tr_agent *a = tr_calloc(1, sizeof(*a));
    tr_err_t err = TR_ERR_NOMEM;

    if (a == NULL) {
        tr_agent_conf_free(conf);
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    a->base = base;
    a->conf = conf;
    a->registry_ok = 1;
    a->started_ms = tr_clock_wall_ms();
    TAILQ_INIT(&a->all);
    TAILQ_INIT(&a->ready);
    TAILQ_INIT(&a->open);
    snprintf(errbuf, errlen, "out of memory");
    if ((err = build_inputs(conf, &a->inputs, errbuf, errlen)) != TR_OK) {
        goto out;
    }
    a->ninputs = conf->ninputs;
    a->bufcap = buffer_size(conf);
    if ((a->buf = tr_malloc(a->bufcap)) == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    if (mkdir(conf->state_dir, 0750) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "state_dir %s: %s", conf->state_dir,
                 strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    if ((err = tr_registry_load(conf->state_dir, &a->startup_reg, errbuf,
                                errlen)) != TR_OK) {
        goto out;
    }
    /* Prove the registry can be written before reading anything. */
    if ((err = tr_agent_save(a)) != TR_OK) {
        snprintf(errbuf, errlen, "cannot write the registry in %s",
                 conf->state_dir);
        goto out;
    }
    /*
     * Before any timer: with exactly_once this may run the loop while it
     * asks the collector where the last run's producer id stands.
     */
    a->rb_fd = -1;
    err = tr_ship_new(base, conf, &ship_files, on_done, a, &a->ship, errbuf,
                      errlen);
    if (a->rb_fd >= 0) {
        close(a->rb_fd); /* the rebuilt batches are the producer's now */
        a->rb_fd = -1;
    }
    if (err != TR_OK) {
        goto out;
    }
    a->ev_work = event_new(base, -1, 0, on_work, a);
    if (a->ev_work == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    /* A producer of its own: never in the journal, never in the way. */
    if ((err = tr_status_new(base, conf, status_fill, a, &a->status)) !=
        TR_OK) {
        snprintf(errbuf, errlen, "status records: %s", tr_err_str(err));
        goto out;
    }
    if ((err = add_timer(a, &a->ev_tick, TICK_MS, on_tick)) != TR_OK) {
        goto out;
    }
    a->ev_save = event_new(base, -1, 0, on_save, a);
    if (a->ev_save == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    if ((err = tr_watch_new(base, conf->watch_mode, conf->rescan_interval_ms,
                            on_watch, a, &a->watch)) != TR_OK) {
        snprintf(errbuf, errlen, "watch: %s", tr_err_str(err));
        goto out;
    }
    if (conf->metrics_listen != NULL &&
        (err = tr_metrics_new(base, conf->metrics_listen, "metrics_listen",
                              render, health_checks, 1, a, &a->metrics, errbuf,
                              errlen)) != TR_OK) {
        goto out;
    }
    a->first_scan = tr_registry_count(a->startup_reg) == 0;
    rescan(a);
    a->first_scan = 0;
    /* Entries no file claimed are dropped after the next rescan. */
    a->startup_keep_until =
        tr_clock_mono_ms() + conf->rescan_interval_ms + COPY_WAIT_MS;
    tr_log_info("tracking %zu files (%s discovery), shipping to %s", a->nfiles,
                tr_watch_inotify(a->watch) ? "inotify" : "polling",
                conf->brokers);
    *out = a;
    a = NULL;
    err = TR_OK;
out:
    tr_agent_free(a);
    return err;
}

/*
 * The newest truncation of f still waiting for its copy (the registry
 * keeps one; the journal knows the lines of the others), or NULL.
 */
static const struct trunc *
pending_trunc(const struct tr_agent *a, const struct file *f, int64_t now)
{
    for (int k = 0; k < TRUNC_KEEP; k++) {
        if (f->trunc[k].ms != 0 && now - f->trunc[k].ms <= copy_keep_ms(a)) {
            return &f->trunc[k];
        }
    }
    return NULL;
}

tr_err_t
tr_agent_save(struct tr_agent *a)
{
    struct file *f;
    size_t n = 0;
    char errbuf[512];
    tr_err_t err;

    if (a->nfiles > a->entries_cap) {
        size_t cap = a->nfiles + a->nfiles / 2 + 16;
        struct tr_registry_entry *ne =
            tr_realloc(a->entries, cap * sizeof(*ne));
        if (ne == NULL) {
            return TR_ERR_NOMEM;
        }
        a->entries = ne;
        a->entries_cap = cap;
    }
    a->dirty = 0; /* this save captures every position as of now */
    uint64_t covered = a->c.acked_unsaved;
    int eo = exactly_once(a);
    int64_t now = tr_clock_mono_ms();
    TAILQ_FOREACH(f, &a->all, all) {
        if (f->deleted || (eo && f->copy_check)) {
            /* A possible copy not decided yet has no position of its own. */
            continue;
        }
        struct tr_registry_entry *e = &a->entries[n++];
        e->dev = f->id.dev;
        e->ino = f->id.ino;
        e->fp_len = f->id.fp_len;
        e->fp_crc = f->id.fp_crc;
        e->offset = f->q->committed;
        e->path = f->path;
        const struct trunc *tr = eo ? pending_trunc(a, f, now) : NULL;
        if (tr != NULL) {
            /*
             * Truncated, its copy not found yet: keep what it was, so that
             * after a restart the copy is still recognised (the lines of
             * its new content are in the journal meanwhile).
             */
            e->fp_len = tr->id.fp_len;
            e->fp_crc = tr->id.fp_crc;
            e->offset = tr->read;
        }
    }
    /* What the last run knew and no file claimed yet (startup_keep_until). */
    size_t nstart = a->startup_reg ? tr_registry_count(a->startup_reg) : 0;
    if (n + nstart > a->entries_cap) {
        struct tr_registry_entry *ne =
            tr_realloc(a->entries, (n + nstart) * sizeof(*ne));
        if (ne == NULL) {
            return TR_ERR_NOMEM;
        }
        a->entries = ne;
        a->entries_cap = n + nstart;
    }
    for (size_t i = 0; i < nstart; i++) {
        const struct tr_registry_entry *e =
            tr_registry_entry_at(a->startup_reg, i);
        if (find_id(a, e->dev, e->ino) == NULL) {
            a->entries[n++] = *e;
        }
    }
    int64_t start_us = tr_clock_mono_us();
    if (a->ship != NULL && tr_ship_journal_sync(a->ship) != TR_OK) {
        tr_log_warn("journal: fdatasync failed");
    }
    err = tr_registry_save(a->conf->state_dir, a->entries, n, errbuf,
                           sizeof(errbuf));
    a->save_done_us = tr_clock_mono_us();
    a->save_cost_us = a->save_done_us - start_us;
    a->c.registry_write_us += (uint64_t)a->save_cost_us;
    if (err != TR_OK) {
        a->dirty = 1;
        a->c.registry_errors++;
        note_error(a, "registry: %s", errbuf);
        if (a->registry_ok) {
            tr_log_error("registry: %s", errbuf);
        }
        a->registry_ok = 0;
        return err;
    }
    if (!a->registry_ok) {
        tr_log_info("registry written again");
    }
    a->registry_ok = 1;
    a->c.registry_writes++;
    if (a->ship != NULL && a->nfiles > 0) {
        a->nentries_saved = n;
        tr_ship_journal_compact(a->ship, journal_live, a);
    }
    a->c.acked_unsaved -= covered;
    if (covered > a->c.save_window_max) {
        a->c.save_window_max = covered;
    }
    return TR_OK;
}

tr_err_t
tr_agent_reload(struct tr_agent *a, struct tr_agent_conf *conf, char *errbuf,
                size_t errlen)
{
    struct input_rt *nin = NULL;
    struct file *f, *tmp;
    tr_err_t err;

    if ((err = build_inputs(conf, &nin, errbuf, errlen)) != TR_OK) {
        tr_agent_conf_free(conf);
        return err;
    }
    if (strcmp(conf->state_dir, a->conf->state_dir) != 0 ||
        strcmp(conf->brokers, a->conf->brokers) != 0) {
        tr_log_warn("reload: state_dir and [output] changes need a restart");
    }
    if (buffer_size(conf) > a->bufcap) {
        char *nb = tr_realloc(a->buf, buffer_size(conf));
        if (nb == NULL) {
            free_inputs(nin, conf->ninputs);
            tr_agent_conf_free(conf);
            snprintf(errbuf, errlen, "out of memory");
            return TR_ERR_NOMEM;
        }
        a->buf = nb;
        a->bufcap = buffer_size(conf);
    }
    /* Re-point files at the new inputs; the host string moves too. */
    struct input_rt *old = a->inputs;
    size_t nold = a->ninputs;
    struct tr_agent_conf *oldconf = a->conf;
    char *host = oldconf->host;
    oldconf->host = conf->host;
    conf->host = host; /* keep the old host: headers borrow it in flight */
    /* The producer borrows the security settings: keep the old ones too. */
    struct tr_clientsec *sec = oldconf->security;
    oldconf->security = conf->security;
    conf->security = sec;
    a->inputs = nin;
    a->ninputs = conf->ninputs;
    a->conf = conf;
    TAILQ_FOREACH_SAFE(f, &a->all, all, tmp) {
        struct input_rt *in = NULL;
        for (size_t i = 0; i < a->ninputs; i++) {
            if (strcmp(a->inputs[i].conf->name, f->in->conf->name) == 0) {
                in = &a->inputs[i];
            }
        }
        if (in == NULL) {
            in = input_for(a, f->path);
        }
        if (in == NULL) {
            /* No input wants it any more: stop once in-flight is done. */
            in = &a->inputs[0];
            mark_gone(a, f);
            if (f->in_ready) {
                TAILQ_REMOVE(&a->ready, f, ready);
                f->in_ready = 0;
            }
            f->read_off = f->size_seen;
        }
        f->in = in;
    }
    free_inputs(old, nold);
    tr_agent_conf_free(oldconf);
    rescan(a);
    tr_log_info("configuration reloaded: %zu inputs, %zu files", a->ninputs,
                a->nfiles);
    return TR_OK;
}

void
tr_agent_shutdown(struct tr_agent *a, long timeout_ms)
{
    if (a->stopping) {
        return;
    }
    a->stopping = 1;
    a->stop_deadline_ms = tr_clock_mono_ms() + timeout_ms;
    tr_ship_flush(a->ship);
    tr_log_info("stopping: %zu records in flight", tr_ship_pending(a->ship));
    if (drained(a)) {
        finish_stop(a);
    }
}

void
tr_agent_free(struct tr_agent *a)
{
    struct file *f;

    if (a == NULL) {
        return;
    }
    tr_metrics_free(a->metrics);
    tr_status_free(a->status);
    /* The producer reports what is left; queues and files are still alive. */
    tr_ship_free(a->ship);
    tr_watch_free(a->watch);
    while ((f = TAILQ_FIRST(&a->all)) != NULL) {
        forget(a, f);
    }
    if (a->ev_work != NULL) {
        event_free(a->ev_work);
    }
    if (a->ev_tick != NULL) {
        event_free(a->ev_tick);
    }
    if (a->ev_save != NULL) {
        event_free(a->ev_save);
    }
    free_inputs(a->inputs, a->ninputs);
    tr_registry_free(a->startup_reg);
    tr_free(a->entries);
    tr_free(a->buf);
    tr_agent_conf_free(a->conf);
    tr_free(a);
}
