/*
 * tail -- file identity and the line/event splitter (see tail.h).
 */
#include "tail.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "parse.h"

enum {
    SKIP_NONE = 0,
    SKIP_LINE = 1,  /* the rest of a line that was cut */
    SKIP_EVENT = 2, /* the continuation lines of an event that was cut */
};

tr_err_t
tr_tail_fingerprint(int fd, uint32_t max, struct tr_tail_id *id)
{
    char buf[65536];
    size_t want = max < sizeof(buf) ? max : sizeof(buf);
    size_t got = 0;

    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return TR_ERR_IO;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    id->fp_len = (uint32_t)got;
    id->fp_crc = tr_crc32c(0, buf, got);
    return TR_OK;
}

int
tr_tail_same(int fd, const struct stat *st, const struct tr_tail_id *id)
{
    struct tr_tail_id now;

    if ((uint64_t)st->st_dev != id->dev || (uint64_t)st->st_ino != id->ino) {
        return 0;
    }
    if ((uint64_t)st->st_size < id->fp_len) {
        return 0;
    }
    if (tr_tail_fingerprint(fd, id->fp_len, &now) != TR_OK) {
        return -1;
    }
    return now.fp_len == id->fp_len && now.fp_crc == id->fp_crc;
}

static tr_err_t
split_lines(struct tr_split_state *st, const struct tr_split_opts *o,
            const char *buf, size_t len, uint64_t base, int flags,
            tr_split_emit_cb *emit, void *arg, size_t *pos)
{
    tr_err_t err;
    size_t p = *pos;
    size_t lim = len - p < o->max_line + 1 ? len - p : o->max_line + 1;
    const char *nl = memchr(buf + p, '\n', lim);

    if (nl != NULL) {
        size_t n = (size_t)(nl - (buf + p));
        if ((err = emit(arg, base + p, buf + p, n, base + p + n + 1, 0))) {
            return err;
        }
        *pos = p + n + 1;
        return TR_OK;
    }
    if (len - p > o->max_line) {
        err = emit(arg, base + p, buf + p, o->max_line, base + p + o->max_line,
                   1);
        if (err != TR_OK) {
            return err;
        }
        *pos = p + o->max_line;
        st->skip = SKIP_LINE;
        return TR_OK;
    }
    if ((flags & TR_SPLIT_FLUSH_PARTIAL) && len > p) {
        if ((err = emit(arg, base + p, buf + p, len - p, base + len, 0))) {
            return err;
        }
        *pos = len;
        return TR_OK;
    }
    return TR_ERR_AGAIN; /* wait for more bytes */
}

static tr_err_t
split_event(struct tr_split_state *st, const struct tr_split_opts *o,
            const char *buf, size_t len, uint64_t base, int flags,
            tr_split_emit_cb *emit, void *arg, size_t *pos)
{
    size_t p = *pos, cur = p, ev_end = p;
    int first = 1, complete = 0;
    tr_err_t err;

    while (cur < len) {
        const char *nl = memchr(buf + cur, '\n', len - cur);
        if (nl == NULL) {
            /*
             * A last partial line too long to ever finish: the event
             * before it is complete, and the line is cut on its own.
             */
            if (ev_end > p && len - cur > o->max_line) {
                complete = 1;
            }
            break;
        }
        size_t n = (size_t)(nl - (buf + cur));
        if (!first && tr_parse_event_start(o->ml, buf + cur, n)) {
            complete = 1;
            break;
        }
        if (cur + n - p > o->max_event) {
            /* Cut the event in this line; drop its other lines. */
            err = emit(arg, base + p, buf + p, o->max_event, base + cur + n + 1,
                       1);
            if (err != TR_OK) {
                return err;
            }
            *pos = cur + n + 1;
            st->skip = SKIP_EVENT;
            return TR_OK;
        }
        first = 0;
        cur += n + 1;
        ev_end = cur;
    }
    if (ev_end > p && (complete || (flags & TR_SPLIT_FLUSH_EVENT))) {
        err = emit(arg, base + p, buf + p, ev_end - p - 1, base + ev_end, 0);
        if (err != TR_OK) {
            return err;
        }
        *pos = ev_end;
        return TR_OK;
    }
    if (ev_end == p) {
        /* Not even one complete line: the single-line rules apply. */
        return split_lines(st, o, buf, len, base, flags, emit, arg, pos);
    }
    return TR_ERR_AGAIN;
}

tr_err_t
tr_tail_split(struct tr_split_state *st, const struct tr_split_opts *opts,
              const char *buf, size_t len, uint64_t base, int flags,
              tr_split_emit_cb *emit, void *arg, size_t *consumed)
{
    size_t pos = 0;
    tr_err_t err = TR_OK;

    while (pos < len) {
        if (st->skip == SKIP_LINE) {
            const char *nl = memchr(buf + pos, '\n', len - pos);
            if (nl == NULL) {
                pos = len;
                break;
            }
            pos = (size_t)(nl - buf) + 1;
            st->skip = SKIP_NONE;
            continue;
        }
        if (st->skip == SKIP_EVENT) {
            const char *nl = memchr(buf + pos, '\n', len - pos);
            if (nl == NULL) {
                if (flags & TR_SPLIT_FLUSH_PARTIAL) {
                    pos = len;
                }
                break;
            }
            size_t n = (size_t)(nl - (buf + pos));
            if (tr_parse_event_start(opts->ml, buf + pos, n)) {
                st->skip = SKIP_NONE;
            } else {
                pos += n + 1;
            }
            continue;
        }
        if (opts->ml != NULL) {
            err = split_event(st, opts, buf, len, base, flags, emit, arg, &pos);
        } else {
            err = split_lines(st, opts, buf, len, base, flags, emit, arg, &pos);
        }
        if (err == TR_ERR_AGAIN) {
            /* Incomplete input is not an error: stop here. */
            err = TR_OK;
            break;
        }
        if (err != TR_OK) {
            break;
        }
    }
    *consumed = pos;
    return err;
}
