/*
 * buf -- the one byte-buffer type for wire encoding, and the one bounds-checked
 * reader for decoding.
 *
 * struct tr_buf is a growable writer with a hard maximum set at creation.
 * Writers never fail loudly: the first failure (out of memory, or growth past
 * the maximum) is recorded in the buffer and every later write is ignored, so
 * an encoder writes a whole message and checks tr_buf_err() once at the end.
 * Each writer returns the offset it wrote at, so that length and CRC fields
 * can be written as placeholders and patched with tr_buf_set_*().
 *
 * struct tr_slice is a read-only view. Every getter checks the bytes left
 * and returns TR_ERR_TRUNCATED instead of reading past the end; nothing read
 * from a slice is trusted until it has been checked.
 *
 * All multi-byte integers are big-endian, as in Kafka. Varints come in two
 * kinds: unsigned (protobuf base-128, used for compact lengths and tags) and
 * zig-zag signed (used inside records).
 *
 * The structs are declared here so they can live on the stack; their fields
 * are private to buf.c.
 */
#ifndef TR_BUF_H
#define TR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_buf {
    uint8_t *data; /* private */
    size_t len;    /* private */
    size_t cap;    /* private */
    size_t max;    /* private: growth limit */
    tr_err_t err;  /* private: first failure, sticky */
};

struct tr_slice {
    const uint8_t *data; /* private */
    size_t len;          /* private */
    size_t pos;          /* private */
};

/* Initialises an empty buffer that may grow to 'max' bytes. */
void tr_buf_init(struct tr_buf *buf, size_t max);
/* Frees the buffer's memory; the buffer may be initialised again. */
void tr_buf_cleanup(struct tr_buf *buf);
/* Returns an owned buffer (free with tr_buf_free) or NULL. */
struct tr_buf *tr_buf_new(size_t max);
void tr_buf_free(struct tr_buf *buf);

/* Empties the buffer (keeping its memory) and clears the sticky error. */
void tr_buf_reset(struct tr_buf *buf);
/* Makes room for 'n' more bytes. */
tr_err_t tr_buf_reserve(struct tr_buf *buf, size_t n);
/* The first error any writer met, or TR_OK. */
tr_err_t tr_buf_err(const struct tr_buf *buf);
size_t tr_buf_len(const struct tr_buf *buf);
/* Valid until the next write, reset or cleanup. */
uint8_t *tr_buf_data(const struct tr_buf *buf);
/*
 * Hands the buffer's memory to the caller (free with tr_free) and leaves the
 * buffer empty. Returns NULL if the buffer has no memory.
 */
uint8_t *tr_buf_steal(struct tr_buf *buf, size_t *len);
/* Shrinks the buffer to 'len' bytes (len must be <= tr_buf_len). */
void tr_buf_truncate(struct tr_buf *buf, size_t len);

size_t tr_buf_put_bytes(struct tr_buf *buf, const void *data, size_t len);
/*
 * Appends 'len' bytes for the caller to fill (a read straight into the
 * buffer): returns where they start, valid until the next write, or NULL
 * (with the sticky error set) when they do not fit.
 */
uint8_t *tr_buf_put_space(struct tr_buf *buf, size_t len);
size_t tr_buf_put_i8(struct tr_buf *buf, int8_t v);
size_t tr_buf_put_i16(struct tr_buf *buf, int16_t v);
size_t tr_buf_put_i32(struct tr_buf *buf, int32_t v);
size_t tr_buf_put_u32(struct tr_buf *buf, uint32_t v);
size_t tr_buf_put_i64(struct tr_buf *buf, int64_t v);
size_t tr_buf_put_uvarint(struct tr_buf *buf, uint64_t v);
size_t tr_buf_put_varint(struct tr_buf *buf, int32_t v);  /* zig-zag */
size_t tr_buf_put_varlong(struct tr_buf *buf, int64_t v); /* zig-zag */

/* Overwrite bytes already written (placeholders for sizes and CRCs). */
void tr_buf_set_i16(struct tr_buf *buf, size_t off, int16_t v);
void tr_buf_set_i32(struct tr_buf *buf, size_t off, int32_t v);
void tr_buf_set_u32(struct tr_buf *buf, size_t off, uint32_t v);
void tr_buf_set_i64(struct tr_buf *buf, size_t off, int64_t v);

/* Number of bytes tr_buf_put_uvarint / put_varint would write. */
size_t tr_uvarint_size(uint64_t v);
size_t tr_varint_size(int32_t v);
size_t tr_varlong_size(int64_t v);

/* Raw big-endian loads and stores on memory the caller has checked. */
int16_t tr_load_i16(const uint8_t *p);
int32_t tr_load_i32(const uint8_t *p);
uint32_t tr_load_u32(const uint8_t *p);
int64_t tr_load_i64(const uint8_t *p);
void tr_store_i16(uint8_t *p, int16_t v);
void tr_store_i32(uint8_t *p, int32_t v);
void tr_store_u32(uint8_t *p, uint32_t v);
void tr_store_i64(uint8_t *p, int64_t v);

/* The slice borrows 'data', which must outlive it. */
void tr_slice_init(struct tr_slice *s, const void *data, size_t len);
size_t tr_slice_remaining(const struct tr_slice *s);
size_t tr_slice_pos(const struct tr_slice *s);
/* Pointer to the next unread byte; valid while the underlying data is. */
const uint8_t *tr_slice_cur(const struct tr_slice *s);

tr_err_t tr_slice_get_i8(struct tr_slice *s, int8_t *v);
tr_err_t tr_slice_get_i16(struct tr_slice *s, int16_t *v);
tr_err_t tr_slice_get_i32(struct tr_slice *s, int32_t *v);
tr_err_t tr_slice_get_u32(struct tr_slice *s, uint32_t *v);
tr_err_t tr_slice_get_i64(struct tr_slice *s, int64_t *v);
/* Fails with TR_ERR_CORRUPT on a varint longer than its type allows. */
tr_err_t tr_slice_get_uvarint(struct tr_slice *s, uint64_t *v);
tr_err_t tr_slice_get_varint(struct tr_slice *s, int32_t *v);
tr_err_t tr_slice_get_varlong(struct tr_slice *s, int64_t *v);
/* Points *p at the next 'n' bytes (no copy) and consumes them. */
tr_err_t tr_slice_get_raw(struct tr_slice *s, size_t n, const uint8_t **p);
tr_err_t tr_slice_skip(struct tr_slice *s, size_t n);
/* Carves the next 'n' bytes off as their own slice. */
tr_err_t tr_slice_sub(struct tr_slice *s, size_t n, struct tr_slice *out);

#endif /* TR_BUF_H */
