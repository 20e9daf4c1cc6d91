/*
 * jsonw -- a small JSON writer onto a libevent evbuffer, for the console's
 * JSON API (collector/http/jsonapi.c).
 *
 * The writer keeps the commas: open a container, then write keys and
 * values in order, then close it. Strings may hold any bytes (group and
 * client ids are chosen by clients): '"', '\' and control characters are
 * escaped, so are '<', '>', '&' and U+2028/U+2029 (the text may end up in
 * HTML or a script), and bytes that are not UTF-8 become U+FFFD, so the
 * output is always valid JSON. Nesting deeper than TR_JSONW_MAX_DEPTH is a
 * programmer error (assert).
 *
 * Lives on the stack: the fields are private.
 */
#ifndef TR_JSONW_H
#define TR_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define TR_JSONW_MAX_DEPTH 32

struct tr_jsonw {
    struct evbuffer *out; /* private, borrowed */
    int depth;            /* private */
    int after_key;        /* private: the next value follows a key */
    uint8_t started[TR_JSONW_MAX_DEPTH]; /* private: container has items */
};

/* Starts writing into 'out' (borrowed). */
void tr_jsonw_init(struct tr_jsonw *w, struct evbuffer *out);

void tr_jsonw_object(struct tr_jsonw *w);
void tr_jsonw_array(struct tr_jsonw *w);
/* Closes the innermost object or array. */
void tr_jsonw_end(struct tr_jsonw *w, char close);
#define tr_jsonw_end_object(w) tr_jsonw_end((w), '}')
#define tr_jsonw_end_array(w)  tr_jsonw_end((w), ']')

/* A member name (NUL-terminated 'key'), inside an object. */
void tr_jsonw_key(struct tr_jsonw *w, const char *key);

void tr_jsonw_string(struct tr_jsonw *w, const char *s);
/* 'len' bytes of 's' (may hold NULs, written as \u0000). */
void tr_jsonw_stringn(struct tr_jsonw *w, const char *s, size_t len);
void tr_jsonw_int(struct tr_jsonw *w, int64_t v);
void tr_jsonw_bool(struct tr_jsonw *w, int v);
void tr_jsonw_null(struct tr_jsonw *w);

/* Shorthands for a member: key then value. */
void tr_jsonw_kv_string(struct tr_jsonw *w, const char *key, const char *s);
void tr_jsonw_kv_int(struct tr_jsonw *w, const char *key, int64_t v);
void tr_jsonw_kv_bool(struct tr_jsonw *w, const char *key, int v);

/*
 * Writes the escaped body of a JSON string (no quotes) for 'len' bytes of
 * 's' into 'out': the escaping above, for callers building text.
 */
void tr_jsonw_escape(struct evbuffer *out, const char *s, size_t len);

#endif /* TR_JSONW_H */
