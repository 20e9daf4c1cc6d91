/*
 * buf -- growable writer and bounds-checked reader for wire formats.
 */
#include "buf.h"

#include <string.h>

#include "alloc.h"

void
tr_buf_init(struct tr_buf *buf, size_t max)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
    buf->err = TR_OK;
}

void
tr_buf_cleanup(struct tr_buf *buf)
{
    tr_free(buf->data);
    tr_buf_init(buf, buf->max);
}

struct tr_buf *
tr_buf_new(size_t max)
{
    struct tr_buf *buf = tr_malloc(sizeof(*buf));

    if (buf != NULL) {
        tr_buf_init(buf, max);
    }
    return buf;
}

void
tr_buf_free(struct tr_buf *buf)
{
    if (buf == NULL) {
        return;
    }
    tr_free(buf->data);
    tr_free(buf);
}

void
tr_buf_reset(struct tr_buf *buf)
{
    buf->len = 0;
    buf->err = TR_OK;
}

tr_err_t
tr_buf_reserve(struct tr_buf *buf, size_t n)
{
    size_t need, cap;
    uint8_t *data;

    if (buf->err != TR_OK) {
        return buf->err;
    }
    if (n > buf->max || buf->len > buf->max - n) {
        buf->err = TR_ERR_TOO_LARGE;
        return buf->err;
    }
    need = buf->len + n;
    if (need <= buf->cap) {
        return TR_OK;
    }
    cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > buf->max) {
        cap = buf->max;
    }
    data = tr_realloc(buf->data, cap);
    if (data == NULL) {
        buf->err = TR_ERR_NOMEM;
        return buf->err;
    }
    buf->data = data;
    buf->cap = cap;
    return TR_OK;
}

tr_err_t
tr_buf_err(const struct tr_buf *buf)
{
    return buf->err;
}

size_t
tr_buf_len(const struct tr_buf *buf)
{
    return buf->len;
}

uint8_t *
tr_buf_data(const struct tr_buf *buf)
{
    return buf->data;
}

uint8_t *
tr_buf_steal(struct tr_buf *buf, size_t *len)
{
    uint8_t *data = buf->data;

    *len = buf->len;
    tr_buf_init(buf, buf->max);
    return data;
}

void
tr_buf_truncate(struct tr_buf *buf, size_t len)
{
    if (len < buf->len) {
        buf->len = len;
    }
}

size_t
tr_buf_put_bytes(struct tr_buf *buf, const void *data, size_t len)
{
    size_t off = buf->len;

    if (tr_buf_reserve(buf, len) != TR_OK) {
        return off;
    }
    if (len > 0) {
        memcpy(buf->data + buf->len, data, len);
    }
    buf->len += len;
    return off;
}

uint8_t *
tr_buf_put_space(struct tr_buf *buf, size_t len)
{
    uint8_t *p;

    if (tr_buf_reserve(buf, len) != TR_OK) {
        return NULL;
    }
    p = buf->data + buf->len;
    buf->len += len;
    return p;
}

void
tr_store_i16(uint8_t *p, int16_t v)
{
    uint16_t u = (uint16_t)v;

    p[0] = (uint8_t)(u >> 8);
    p[1] = (uint8_t)u;
}

void
tr_store_u32(uint8_t *p, uint32_t u)
{
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
}

void
tr_store_i32(uint8_t *p, int32_t v)
{
    tr_store_u32(p, (uint32_t)v);
}

void
tr_store_i64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;

    tr_store_u32(p, (uint32_t)(u >> 32));
    tr_store_u32(p + 4, (uint32_t)u);
}

int16_t
tr_load_i16(const uint8_t *p)
{
    return (int16_t)(uint16_t)((p[0] << 8) | p[1]);
}

uint32_t
tr_load_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

int32_t
tr_load_i32(const uint8_t *p)
{
    return (int32_t)tr_load_u32(p);
}

int64_t
tr_load_i64(const uint8_t *p)
{
    return (int64_t)(((uint64_t)tr_load_u32(p) << 32) | tr_load_u32(p + 4));
}

size_t
tr_buf_put_i8(struct tr_buf *buf, int8_t v)
{
    return tr_buf_put_bytes(buf, &v, 1);
}

size_t
tr_buf_put_i16(struct tr_buf *buf, int16_t v)
{
    uint8_t b[2];

    tr_store_i16(b, v);
    return tr_buf_put_bytes(buf, b, sizeof(b));
}

size_t
tr_buf_put_i32(struct tr_buf *buf, int32_t v)
{
    uint8_t b[4];

    tr_store_i32(b, v);
    return tr_buf_put_bytes(buf, b, sizeof(b));
}

size_t
tr_buf_put_u32(struct tr_buf *buf, uint32_t v)
{
    uint8_t b[4];

    tr_store_u32(b, v);
    return tr_buf_put_bytes(buf, b, sizeof(b));
}

size_t
tr_buf_put_i64(struct tr_buf *buf, int64_t v)
{
    uint8_t b[8];

    tr_store_i64(b, v);
    return tr_buf_put_bytes(buf, b, sizeof(b));
}

size_t
tr_buf_put_uvarint(struct tr_buf *buf, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;

    /*
     * Records are mostly varints: with room for the longest one already
     * there (cap never exceeds max), write in place without growing.
     */
    if (buf->err == TR_OK && buf->cap - buf->len >= sizeof(b)) {
        size_t off = buf->len;
        uint8_t *p = buf->data + off;
        while (v >= 0x80) {
            *p++ = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        *p++ = (uint8_t)v;
        buf->len = (size_t)(p - buf->data);
        return off;
    }

    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return tr_buf_put_bytes(buf, b, n);
}

/*
 * Zig-zag: 0, -1, 1, -2 ... become 0, 1, 2, 3 ... The sign mask is built
 * from the unsigned value, since right-shifting a negative signed value is
 * implementation-defined.
 */
static uint32_t
zigzag32(int32_t v)
{
    uint32_t u = (uint32_t)v;

    return (u << 1) ^ (0u - (u >> 31));
}

static uint64_t
zigzag64(int64_t v)
{
    uint64_t u = (uint64_t)v;

    return (u << 1) ^ (0u - (u >> 63));
}

size_t
tr_buf_put_varint(struct tr_buf *buf, int32_t v)
{
    return tr_buf_put_uvarint(buf, zigzag32(v));
}

size_t
tr_buf_put_varlong(struct tr_buf *buf, int64_t v)
{
    return tr_buf_put_uvarint(buf, zigzag64(v));
}

size_t
tr_uvarint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t
tr_varint_size(int32_t v)
{
    return tr_uvarint_size(zigzag32(v));
}

size_t
tr_varlong_size(int64_t v)
{
    return tr_uvarint_size(zigzag64(v));
}

/* Patches are no-ops when the placeholder was never written (sticky error). */
void
tr_buf_set_i16(struct tr_buf *buf, size_t off, int16_t v)
{
    if (buf->err == TR_OK && off + 2 <= buf->len) {
        tr_store_i16(buf->data + off, v);
    }
}

void
tr_buf_set_i32(struct tr_buf *buf, size_t off, int32_t v)
{
    if (buf->err == TR_OK && off + 4 <= buf->len) {
        tr_store_i32(buf->data + off, v);
    }
}

void
tr_buf_set_u32(struct tr_buf *buf, size_t off, uint32_t v)
{
    if (buf->err == TR_OK && off + 4 <= buf->len) {
        tr_store_u32(buf->data + off, v);
    }
}

void
tr_buf_set_i64(struct tr_buf *buf, size_t off, int64_t v)
{
    if (buf->err == TR_OK && off + 8 <= buf->len) {
        tr_store_i64(buf->data + off, v);
    }
}

void
tr_slice_init(struct tr_slice *s, const void *data, size_t len)
{
    s->data = data;
    s->len = len;
    s->pos = 0;
}

size_t
tr_slice_remaining(const struct tr_slice *s)
{
    return s->len - s->pos;
}

size_t
tr_slice_pos(const struct tr_slice *s)
{
    return s->pos;
}

const uint8_t *
tr_slice_cur(const struct tr_slice *s)
{
    return s->data + s->pos;
}

tr_err_t
tr_slice_get_raw(struct tr_slice *s, size_t n, const uint8_t **p)
{
    if (n > s->len - s->pos) {
        return TR_ERR_TRUNCATED;
    }
    *p = s->data + s->pos;
    s->pos += n;
    return TR_OK;
}

tr_err_t
tr_slice_skip(struct tr_slice *s, size_t n)
{
    const uint8_t *p;

    return tr_slice_get_raw(s, n, &p);
}

tr_err_t
tr_slice_sub(struct tr_slice *s, size_t n, struct tr_slice *out)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, n, &p);

    if (err == TR_OK) {
        tr_slice_init(out, p, n);
    }
    return err;
}

tr_err_t
tr_slice_get_i8(struct tr_slice *s, int8_t *v)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, 1, &p);

    if (err == TR_OK) {
        *v = (int8_t)p[0];
    }
    return err;
}

tr_err_t
tr_slice_get_i16(struct tr_slice *s, int16_t *v)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, 2, &p);

    if (err == TR_OK) {
        *v = tr_load_i16(p);
    }
    return err;
}

tr_err_t
tr_slice_get_i32(struct tr_slice *s, int32_t *v)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, 4, &p);

    if (err == TR_OK) {
        *v = tr_load_i32(p);
    }
    return err;
}

tr_err_t
tr_slice_get_u32(struct tr_slice *s, uint32_t *v)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, 4, &p);

    if (err == TR_OK) {
        *v = tr_load_u32(p);
    }
    return err;
}

tr_err_t
tr_slice_get_i64(struct tr_slice *s, int64_t *v)
{
    const uint8_t *p;
    tr_err_t err = tr_slice_get_raw(s, 8, &p);

    if (err == TR_OK) {
        *v = tr_load_i64(p);
    }
    return err;
}

/* Reads a base-128 varint of at most 'max_bytes' bytes. */
static tr_err_t
get_uvarint_max(struct tr_slice *s, uint64_t *v, size_t max_bytes)
{
    uint64_t result = 0;
    unsigned shift = 0;
    size_t i;

    for (i = 0; i < max_bytes; i++) {
        uint8_t b;

        if (s->pos >= s->len) {
            return TR_ERR_TRUNCATED;
        }
        b = s->data[s->pos++];
        result |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = result;
            return TR_OK;
        }
        shift += 7;
    }
    return TR_ERR_CORRUPT;
}

tr_err_t
tr_slice_get_uvarint(struct tr_slice *s, uint64_t *v)
{
    return get_uvarint_max(s, v, 10);
}

tr_err_t
tr_slice_get_varint(struct tr_slice *s, int32_t *v)
{
    uint64_t u;
    tr_err_t err = get_uvarint_max(s, &u, 5);

    if (err != TR_OK) {
        return err;
    }
    if (u > UINT32_MAX) {
        return TR_ERR_CORRUPT;
    }
    *v = (int32_t)((uint32_t)(u >> 1) ^ (uint32_t) - (int64_t)(u & 1));
    return TR_OK;
}

tr_err_t
tr_slice_get_varlong(struct tr_slice *s, int64_t *v)
{
    uint64_t u;
    tr_err_t err = get_uvarint_max(s, &u, 10);

    if (err != TR_OK) {
        return err;
    }
    *v = (int64_t)((u >> 1) ^ (uint64_t) - (int64_t)(u & 1));
    return TR_OK;
}
