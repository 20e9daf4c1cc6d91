/*
 * jsonw -- JSON writer onto an evbuffer (see jsonw.h).
 */
#include "jsonw.h"

#include <assert.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <string.h>

void
tr_jsonw_init(struct tr_jsonw *w, struct evbuffer *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

/* Writes the comma a value or a key needs before it. */
static void
before_item(struct tr_jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->started[w->depth - 1]) {
            evbuffer_add(w->out, ",", 1);
        }
        w->started[w->depth - 1] = 1;
    }
}

static void
open_container(struct tr_jsonw *w, char open)
{
    before_item(w);
    assert(w->depth < TR_JSONW_MAX_DEPTH);
    evbuffer_add(w->out, &open, 1);
    w->started[w->depth++] = 0;
}

void
tr_jsonw_object(struct tr_jsonw *w)
{
    open_container(w, '{');
}

void
tr_jsonw_array(struct tr_jsonw *w)
{
    open_container(w, '[');
}

void
tr_jsonw_end(struct tr_jsonw *w, char close)
{
    assert(w->depth > 0);
    w->depth--;
    evbuffer_add(w->out, &close, 1);
}

/*
 * The length of the valid UTF-8 sequence at 'p' ('left' bytes there), or
 * 0 when it is not one: overlong forms, surrogates and code points above
 * U+10FFFF are invalid (RFC 3629). '*cp' gets the code point.
 */
static size_t
utf8_seq(const unsigned char *p, size_t left, uint32_t *cp)
{
    size_t n, i;
    uint32_t c, min;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        n = 2, c = p[0] & 0x1f, min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3, c = p[0] & 0x0f, min = 0x800;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4, c = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (left < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return n;
}

void
tr_jsonw_escape(struct evbuffer *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0, n;
    uint32_t cp;

    while (i < len) {
        n = utf8_seq(p + i, len - i, &cp);
        if (n != 0 && cp >= 0x20 && cp != '"' && cp != '\\' && cp != '<' &&
            cp != '>' && cp != '&' && cp != 0x2028 && cp != 0x2029) {
            i += n;
            run += n;
            continue;
        }
        /* the run of bytes that needed nothing, then this one escaped */
        evbuffer_add(out, p + i - run, run);
        run = 0;
        if (n == 0) {
            evbuffer_add(out, "\\ufffd", 6);
            i++;
        } else if (cp == '"' || cp == '\\') {
            evbuffer_add_printf(out, "\\%c", (char)cp);
            i += n;
        } else if (cp == '\n') {
            evbuffer_add(out, "\\n", 2);
            i += n;
        } else {
            evbuffer_add_printf(out, "\\u%04" PRIx32, cp);
            i += n;
        }
    }
    evbuffer_add(out, p + i - run, run);
}

void
tr_jsonw_key(struct tr_jsonw *w, const char *key)
{
    before_item(w);
    evbuffer_add(w->out, "\"", 1);
    tr_jsonw_escape(w->out, key, strlen(key));
    evbuffer_add(w->out, "\":", 2);
    w->after_key = 1;
}

void
tr_jsonw_stringn(struct tr_jsonw *w, const char *s, size_t len)
{
    before_item(w);
    evbuffer_add(w->out, "\"", 1);
    tr_jsonw_escape(w->out, s, len);
    evbuffer_add(w->out, "\"", 1);
}

void
tr_jsonw_string(struct tr_jsonw *w, const char *s)
{
    if (s == NULL) {
        tr_jsonw_null(w);
        return;
    }
    tr_jsonw_stringn(w, s, strlen(s));
}

void
tr_jsonw_int(struct tr_jsonw *w, int64_t v)
{
    before_item(w);
    evbuffer_add_printf(w->out, "%" PRId64, v);
}

void
tr_jsonw_bool(struct tr_jsonw *w, int v)
{
    before_item(w);
    if (v) {
        evbuffer_add(w->out, "true", 4);
    } else {
        evbuffer_add(w->out, "false", 5);
    }
}

void
tr_jsonw_null(struct tr_jsonw *w)
{
    before_item(w);
    evbuffer_add(w->out, "null", 4);
}

void
tr_jsonw_kv_string(struct tr_jsonw *w, const char *key, const char *s)
{
    tr_jsonw_key(w, key);
    tr_jsonw_string(w, s);
}

void
tr_jsonw_kv_int(struct tr_jsonw *w, const char *key, int64_t v)
{
    tr_jsonw_key(w, key);
    tr_jsonw_int(w, v);
}

void
tr_jsonw_kv_bool(struct tr_jsonw *w, const char *key, int v)
{
    tr_jsonw_key(w, key);
    tr_jsonw_bool(w, v);
}
