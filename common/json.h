/*
 * json -- a strict, bounds-checked reader for the small JSON documents that
 * Kafka 2.x keeps in ZooKeeper znodes (broker registrations, partition
 * state, topic assignments, configs), and a string escaper for writing them.
 *
 * Nothing is allocated and nothing is copied until asked for. tr_json_parse()
 * checks a whole document against RFC 8259 (exactly one value, whitespace
 * around it, strings in valid UTF-8, no lone surrogates, containers nested
 * at most TR_JSON_MAX_DEPTH deep) and returns a view of its root; the other
 * readers return views of values inside it. A view borrows the document's
 * bytes, which need not be NUL-terminated and must outlive every view of
 * them. Every reader checks bounds again on the view it is given, so a
 * corrupt or hand-made view fails with TR_ERR_CORRUPT instead of overrunning.
 *
 * Errors: TR_ERR_CORRUPT for bytes that are not JSON (or nest too deeply),
 * TR_ERR_INVALID for a value of the wrong type (or a non-integer number where
 * an integer is wanted), TR_ERR_NOT_FOUND for a missing key or the end of an
 * iteration, TR_ERR_OUT_OF_RANGE for an integer that does not fit, and
 * TR_ERR_TOO_LARGE for output that does not fit the caller's buffer.
 *
 * The structs are declared here so they can live on the stack.
 */
#ifndef TR_JSON_H
#define TR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Containers nested deeper than this are corrupt (bounds the recursion). */
#define TR_JSON_MAX_DEPTH 32

enum tr_json_type {
    TR_JSON_NULL,
    TR_JSON_FALSE,
    TR_JSON_TRUE,
    TR_JSON_NUMBER,
    TR_JSON_STRING,
    TR_JSON_ARRAY,
    TR_JSON_OBJECT,
};

/*
 * A view of one value: 'ptr' and 'len' cover its text exactly (a string's
 * includes the quotes, a container's its brackets), so it can be logged as
 * is. Valid while the document's bytes are.
 */
struct tr_json_value {
    enum tr_json_type type;
    const char *ptr;
    size_t len;
};

struct tr_json_iter {
    const char *data; /* private */
    size_t len;       /* private */
    size_t pos;       /* private */
    size_t count;     /* private: members returned so far */
    int object;       /* private: 1 for an object, 0 for an array */
    tr_err_t err;     /* private: sticky end or failure */
};

/*
 * Checks that the 'len' bytes at 'data' hold exactly one JSON value (with
 * optional whitespace around it) and points 'root' at it. 'data' is
 * borrowed. Fails with TR_ERR_CORRUPT.
 */
tr_err_t tr_json_parse(const char *data, size_t len,
                       struct tr_json_value *root);

/*
 * Points 'out' at the value of member 'key' (compared after unescaping) of
 * object 'obj'. TR_ERR_NOT_FOUND if there is none; TR_ERR_CORRUPT if 'key'
 * appears twice, since readers could disagree on which one counts.
 */
tr_err_t tr_json_get(const struct tr_json_value *obj, const char *key,
                     struct tr_json_value *out);

/*
 * Reads an integer: a number without fraction or exponent, or a string
 * holding one (Kafka writes "version":"1" and "timestamp":"1700000000000").
 * Either way the digits follow JSON's grammar: an optional '-', and no
 * leading zeros, '+' or whitespace. TR_ERR_INVALID for anything else,
 * TR_ERR_OUT_OF_RANGE if it does not fit an int64_t.
 */
tr_err_t tr_json_as_int(const struct tr_json_value *v, int64_t *out);

/*
 * Copies string 'v', unescaped into UTF-8 and NUL-terminated, into the
 * 'buflen' bytes at 'buf'. TR_ERR_TOO_LARGE if it does not fit, and
 * TR_ERR_INVALID if it holds U+0000, which a C string cannot. On failure
 * 'buf' holds the empty string (when buflen > 0).
 */
tr_err_t tr_json_string(const struct tr_json_value *v, char *buf,
                        size_t buflen);

/*
 * Starts an iteration over the elements of array 'v' or the members of
 * object 'v'; 'v' is borrowed for the life of 'it'. TR_ERR_INVALID if 'v' is
 * neither.
 */
tr_err_t tr_json_iter_init(struct tr_json_iter *it,
                           const struct tr_json_value *v);

/*
 * Points 'val' at the next element or member value and, for an object,
 * 'key' at its name (a string: read it with tr_json_string or tr_json_as_int).
 * For an array 'key' is set to a TR_JSON_NULL view with no text. 'key' may
 * be NULL. Returns TR_ERR_NOT_FOUND after the last one; the end and any
 * failure are sticky.
 */
tr_err_t tr_json_next(struct tr_json_iter *it, struct tr_json_value *key,
                      struct tr_json_value *val);

/*
 * Reads an array of integers (a replica or ISR list) into 'out', which has
 * room for 'cap', and sets '*n' to the count (0 on failure). Each element is
 * read as by tr_json_as_int; TR_ERR_OUT_OF_RANGE if one does not fit an
 * int32_t, TR_ERR_TOO_LARGE if there are more than 'cap'.
 */
tr_err_t tr_json_int_array(const struct tr_json_value *arr, int32_t *out,
                           size_t cap, size_t *n);

/*
 * Appends NUL-terminated 's' to 'buf' as a quoted JSON string, escaping '"',
 * '\' and control characters. Returns TR_ERR_INVALID (writing nothing) if 's'
 * is not valid UTF-8, else tr_buf_err(buf).
 */
tr_err_t tr_json_put_string(struct tr_buf *buf, const char *s);

#endif /* TR_JSON_H */
