/*
 * test_buf -- the byte buffer and the bounds-checked reader: integer and
 * varint encodings (known bytes and round trips), truncated and over-long
 * input, the growth maximum with its sticky error, placeholder patching,
 * and running out of memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"

/* Checks that 'buf' holds exactly the 'len' bytes at 'want'. */
static void
assert_buf_bytes(const struct tr_buf *buf, const void *want, size_t len)
{
    assert_int_equal(tr_buf_err(buf), TR_OK);
    assert_int_equal(tr_buf_len(buf), len);
    assert_memory_equal(tr_buf_data(buf), want, len);
}

static void
test_buf_fixed_ints_big_endian(void **state)
{
    static const uint8_t want[] = {
        0x80,                                           /* i8 -128 */
        0x12, 0x34,                                     /* i16 */
        0xff, 0xfe,                                     /* i16 -2 */
        0x01, 0x02, 0x03, 0x04,                         /* i32 */
        0x80, 0x00, 0x00, 0x00,                         /* i32 INT32_MIN */
        0xde, 0xad, 0xbe, 0xef,                         /* u32 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* i64 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i64 -1 */
    };
    struct tr_buf buf;
    struct tr_slice s;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;

    (void)state;
    tr_buf_init(&buf, 1024);
    assert_int_equal(tr_buf_put_i8(&buf, -128), 0);
    assert_int_equal(tr_buf_put_i16(&buf, 0x1234), 1);
    assert_int_equal(tr_buf_put_i16(&buf, -2), 3);
    assert_int_equal(tr_buf_put_i32(&buf, 0x01020304), 5);
    assert_int_equal(tr_buf_put_i32(&buf, INT32_MIN), 9);
    assert_int_equal(tr_buf_put_u32(&buf, 0xdeadbeefU), 13);
    assert_int_equal(tr_buf_put_i64(&buf, 0x0102030405060708LL), 17);
    assert_int_equal(tr_buf_put_i64(&buf, -1), 25);
    assert_buf_bytes(&buf, want, sizeof(want));

    tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
    assert_int_equal(tr_slice_get_i8(&s, &i8), TR_OK);
    assert_int_equal(i8, -128);
    assert_int_equal(tr_slice_get_i16(&s, &i16), TR_OK);
    assert_int_equal(i16, 0x1234);
    assert_int_equal(tr_slice_get_i16(&s, &i16), TR_OK);
    assert_int_equal(i16, -2);
    assert_int_equal(tr_slice_get_i32(&s, &i32), TR_OK);
    assert_int_equal(i32, 0x01020304);
    assert_int_equal(tr_slice_get_i32(&s, &i32), TR_OK);
    assert_int_equal(i32, INT32_MIN);
    assert_int_equal(tr_slice_get_u32(&s, &u32), TR_OK);
    assert_int_equal(u32, 0xdeadbeefU);
    assert_int_equal(tr_slice_get_i64(&s, &i64), TR_OK);
    assert_int_equal(i64, 0x0102030405060708LL);
    assert_int_equal(tr_slice_get_i64(&s, &i64), TR_OK);
    assert_int_equal(i64, -1);
    assert_int_equal(tr_slice_remaining(&s), 0);
    assert_int_equal(tr_slice_get_i8(&s, &i8), TR_ERR_TRUNCATED);

    assert_int_equal(tr_load_i16(want + 1), 0x1234);
    assert_int_equal(tr_load_i32(want + 9), INT32_MIN);
    assert_int_equal(tr_load_u32(want + 13), 0xdeadbeefU);
    assert_int_equal(tr_load_i64(want + 25), -1);
    tr_buf_cleanup(&buf);
}

static void
test_buf_int_edge_round_trips(void **state)
{
    static const int64_t i64s[] = { INT64_MIN, INT64_MIN + 1, -1, 0,
                                    1,         INT64_MAX };
    static const int32_t i32s[] = { INT32_MIN, -1, 0, 1, INT32_MAX };
    static const int16_t i16s[] = { INT16_MIN, -1, 0, 1, INT16_MAX };
    struct tr_buf buf;
    struct tr_slice s;
    size_t i;

    (void)state;
    tr_buf_init(&buf, 1024);
    for (i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++) {
        int64_t v;

        tr_buf_reset(&buf);
        tr_buf_put_i64(&buf, i64s[i]);
        tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
        assert_int_equal(tr_slice_get_i64(&s, &v), TR_OK);
        assert_true(v == i64s[i]);
    }
    for (i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++) {
        int32_t v;

        tr_buf_reset(&buf);
        tr_buf_put_i32(&buf, i32s[i]);
        tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
        assert_int_equal(tr_slice_get_i32(&s, &v), TR_OK);
        assert_int_equal(v, i32s[i]);
    }
    for (i = 0; i < sizeof(i16s) / sizeof(i16s[0]); i++) {
        int16_t v;

        tr_buf_reset(&buf);
        tr_buf_put_i16(&buf, i16s[i]);
        tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
        assert_int_equal(tr_slice_get_i16(&s, &v), TR_OK);
        assert_int_equal(v, i16s[i]);
    }
    tr_buf_cleanup(&buf);
}

/* One known encoding: a value and the bytes it must become. */
struct known {
    int64_t v;
    uint8_t bytes[10];
    size_t len;
};

static void
test_buf_uvarint_known_encodings(void **state)
{
    static const struct {
        uint64_t v;
        uint8_t bytes[10];
        size_t len;
    } cases[] = {
        { 0, { 0x00 }, 1 },
        { 1, { 0x01 }, 1 },
        { 127, { 0x7f }, 1 },
        { 128, { 0x80, 0x01 }, 2 },
        { 300, { 0xac, 0x02 }, 2 },
        { 16383, { 0xff, 0x7f }, 2 },
        { 16384, { 0x80, 0x80, 0x01 }, 3 },
        { UINT32_MAX, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
        { UINT64_MAX,
          { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },
          10 },
    };
    struct tr_buf buf;
    struct tr_slice s;
    size_t i;

    (void)state;
    tr_buf_init(&buf, 1024);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v;

        tr_buf_reset(&buf);
        assert_int_equal(tr_buf_put_uvarint(&buf, cases[i].v), 0);
        assert_buf_bytes(&buf, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_uvarint_size(cases[i].v), cases[i].len);
        tr_slice_init(&s, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_slice_get_uvarint(&s, &v), TR_OK);
        assert_true(v == cases[i].v);
        assert_int_equal(tr_slice_remaining(&s), 0);
    }
    tr_buf_cleanup(&buf);
}

static void
test_buf_varint_known_encodings(void **state)
{
    static const struct known cases[] = {
        { 0, { 0x00 }, 1 },
        { -1, { 0x01 }, 1 },
        { 1, { 0x02 }, 1 },
        { -2, { 0x03 }, 1 },
        { 63, { 0x7e }, 1 },
        { -64, { 0x7f }, 1 },
        { 64, { 0x80, 0x01 }, 2 },
        { 300, { 0xd8, 0x04 }, 2 },
        { INT32_MAX, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
        { INT32_MIN, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
    };
    struct tr_buf buf;
    struct tr_slice s;
    size_t i;

    (void)state;
    tr_buf_init(&buf, 1024);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t v32;
        int64_t v64;

        /* A varint and a varlong of the same value encode the same. */
        tr_buf_reset(&buf);
        tr_buf_put_varint(&buf, (int32_t)cases[i].v);
        assert_buf_bytes(&buf, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_varint_size((int32_t)cases[i].v), cases[i].len);
        tr_buf_reset(&buf);
        tr_buf_put_varlong(&buf, cases[i].v);
        assert_buf_bytes(&buf, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_varlong_size(cases[i].v), cases[i].len);

        tr_slice_init(&s, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_slice_get_varint(&s, &v32), TR_OK);
        assert_int_equal(v32, cases[i].v);
        tr_slice_init(&s, cases[i].bytes, cases[i].len);
        assert_int_equal(tr_slice_get_varlong(&s, &v64), TR_OK);
        assert_true(v64 == cases[i].v);
    }
    tr_buf_cleanup(&buf);
}

static void
test_buf_varlong_edges(void **state)
{
    static const uint8_t min_bytes[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x01 };
    static const uint8_t max_bytes[] = { 0xfe, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x01 };
    static const int64_t values[] = { INT64_MIN,
                                      INT64_MIN + 1,
                                      (int64_t)INT32_MIN - 1,
                                      INT32_MIN,
                                      -300,
                                      -1,
                                      0,
                                      1,
                                      300,
                                      (int64_t)INT32_MAX + 1,
                                      INT64_MAX };
    struct tr_buf buf;
    struct tr_slice s;
    size_t i;

    (void)state;
    tr_buf_init(&buf, 1024);
    tr_buf_put_varlong(&buf, INT64_MIN);
    assert_buf_bytes(&buf, min_bytes, sizeof(min_bytes));
    tr_buf_reset(&buf);
    tr_buf_put_varlong(&buf, INT64_MAX);
    assert_buf_bytes(&buf, max_bytes, sizeof(max_bytes));

    /* Many values in one buffer read back in order. */
    tr_buf_reset(&buf);
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        tr_buf_put_varlong(&buf, values[i]);
    }
    tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t v;

        assert_int_equal(tr_slice_get_varlong(&s, &v), TR_OK);
        assert_true(v == values[i]);
    }
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_cleanup(&buf);
}

static void
test_buf_varint_round_trip_sweep(void **state)
{
    struct tr_buf buf;
    struct tr_slice s;
    int64_t v;

    (void)state;
    tr_buf_init(&buf, 1 << 20);
    /* Every power of two and its neighbours, both signs. */
    for (v = 1; v > 0 && v <= INT32_MAX; v *= 2) {
        tr_buf_put_varint(&buf, (int32_t)v);
        tr_buf_put_varint(&buf, (int32_t)(v - 1));
        tr_buf_put_varint(&buf, (int32_t)-v);
        tr_buf_put_varint(&buf, (int32_t)(-v + 1));
    }
    tr_slice_init(&s, tr_buf_data(&buf), tr_buf_len(&buf));
    for (v = 1; v > 0 && v <= INT32_MAX; v *= 2) {
        int32_t got;

        assert_int_equal(tr_slice_get_varint(&s, &got), TR_OK);
        assert_int_equal(got, (int32_t)v);
        assert_int_equal(tr_slice_get_varint(&s, &got), TR_OK);
        assert_int_equal(got, (int32_t)(v - 1));
        assert_int_equal(tr_slice_get_varint(&s, &got), TR_OK);
        assert_int_equal(got, (int32_t)-v);
        assert_int_equal(tr_slice_get_varint(&s, &got), TR_OK);
        assert_int_equal(got, (int32_t)(-v + 1));
    }
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_cleanup(&buf);
}

static void
test_buf_truncated_input(void **state)
{
    static const uint8_t long_varint[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    static const uint8_t eight[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct tr_slice s;
    const uint8_t *p;
    int16_t i16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    size_t n;

    (void)state;
    /* Every proper prefix of a 5-byte varint is truncated. */
    for (n = 0; n < sizeof(long_varint); n++) {
        tr_slice_init(&s, long_varint, n);
        assert_int_equal(tr_slice_get_varint(&s, &i32), TR_ERR_TRUNCATED);
        tr_slice_init(&s, long_varint, n);
        assert_int_equal(tr_slice_get_varlong(&s, &i64), TR_ERR_TRUNCATED);
        tr_slice_init(&s, long_varint, n);
        assert_int_equal(tr_slice_get_uvarint(&s, &u64), TR_ERR_TRUNCATED);
    }
    /* Fixed-size reads fail without consuming anything. */
    tr_slice_init(&s, eight, 1);
    assert_int_equal(tr_slice_get_i16(&s, &i16), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_pos(&s), 0);
    tr_slice_init(&s, eight, 3);
    assert_int_equal(tr_slice_get_i32(&s, &i32), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_get_u32(&s, &u32), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_pos(&s), 0);
    tr_slice_init(&s, eight, 7);
    assert_int_equal(tr_slice_get_i64(&s, &i64), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_get_raw(&s, 8, &p), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_skip(&s, 8), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_get_raw(&s, SIZE_MAX, &p), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_pos(&s), 0);
    assert_int_equal(tr_slice_get_raw(&s, 7, &p), TR_OK);
    assert_ptr_equal(p, eight);
    assert_int_equal(tr_slice_remaining(&s), 0);
    assert_int_equal(tr_slice_get_raw(&s, 0, &p), TR_OK);
    assert_int_equal(tr_slice_get_raw(&s, 1, &p), TR_ERR_TRUNCATED);
}

static void
test_buf_overlong_varint(void **state)
{
    static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x00 };
    /* Five bytes, but more than 32 bits of value. */
    static const uint8_t wide[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
    struct tr_slice s;
    int32_t i32;
    int64_t i64;
    uint64_t u64;

    (void)state;
    tr_slice_init(&s, six, sizeof(six));
    assert_int_equal(tr_slice_get_varint(&s, &i32), TR_ERR_CORRUPT);
    tr_slice_init(&s, wide, sizeof(wide));
    assert_int_equal(tr_slice_get_varint(&s, &i32), TR_ERR_CORRUPT);
    /* Six bytes is fine for a varlong. */
    tr_slice_init(&s, six, sizeof(six));
    assert_int_equal(tr_slice_get_varlong(&s, &i64), TR_OK);
    assert_int_equal(i64, 0);
    tr_slice_init(&s, eleven, sizeof(eleven));
    assert_int_equal(tr_slice_get_varlong(&s, &i64), TR_ERR_CORRUPT);
    tr_slice_init(&s, eleven, sizeof(eleven));
    assert_int_equal(tr_slice_get_uvarint(&s, &u64), TR_ERR_CORRUPT);
}

static void
test_buf_max_is_enforced_and_sticky(void **state)
{
    struct tr_buf buf;

    (void)state;
    tr_buf_init(&buf, 10);
    tr_buf_put_i64(&buf, 1);
    assert_int_equal(tr_buf_err(&buf), TR_OK);
    assert_int_equal(tr_buf_len(&buf), 8);
    tr_buf_put_i32(&buf, 2); /* 12 > 10 */
    assert_int_equal(tr_buf_err(&buf), TR_ERR_TOO_LARGE);
    assert_int_equal(tr_buf_len(&buf), 8);
    /* Sticky: a write that would fit is ignored too. */
    tr_buf_put_i8(&buf, 3);
    assert_int_equal(tr_buf_len(&buf), 8);
    assert_int_equal(tr_buf_err(&buf), TR_ERR_TOO_LARGE);
    assert_int_equal(tr_buf_reserve(&buf, 1), TR_ERR_TOO_LARGE);
    /* Patching is a no-op once the buffer has failed. */
    tr_buf_set_i32(&buf, 0, 0x7f7f7f7f);
    assert_int_equal(tr_load_i64(tr_buf_data(&buf)), 1);
    /* Reset clears the error; exactly the maximum fits. */
    tr_buf_reset(&buf);
    assert_int_equal(tr_buf_err(&buf), TR_OK);
    assert_int_equal(tr_buf_len(&buf), 0);
    tr_buf_put_bytes(&buf, "0123456789", 10);
    assert_int_equal(tr_buf_err(&buf), TR_OK);
    assert_int_equal(tr_buf_len(&buf), 10);
    tr_buf_put_bytes(&buf, "", 0);
    assert_int_equal(tr_buf_err(&buf), TR_OK);
    tr_buf_put_uvarint(&buf, 0);
    assert_int_equal(tr_buf_err(&buf), TR_ERR_TOO_LARGE);
    tr_buf_cleanup(&buf);

    /* A huge reservation is refused, not wrapped around. */
    tr_buf_init(&buf, 100);
    assert_int_equal(tr_buf_reserve(&buf, SIZE_MAX), TR_ERR_TOO_LARGE);
    tr_buf_cleanup(&buf);
}

static void
test_buf_set_patches_placeholders(void **state)
{
    static const uint8_t want[] = {
        0xaa, 0x00, 0x07,                               /* i8, i16 */
        0x00, 0x00, 0x01, 0x00,                         /* i32 */
        0xca, 0xfe, 0xba, 0xbe,                         /* u32 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* i64 */
        0xbb,
    };
    struct tr_buf buf;
    size_t of16, of32, ofu32, of64;

    (void)state;
    tr_buf_init(&buf, 1024);
    tr_buf_put_i8(&buf, (int8_t)0xaa);
    of16 = tr_buf_put_i16(&buf, 0);
    of32 = tr_buf_put_i32(&buf, 0);
    ofu32 = tr_buf_put_u32(&buf, 0);
    of64 = tr_buf_put_i64(&buf, 0);
    tr_buf_put_i8(&buf, (int8_t)0xbb);
    tr_buf_set_i16(&buf, of16, 7);
    tr_buf_set_i32(&buf, of32, 256);
    tr_buf_set_u32(&buf, ofu32, 0xcafebabeU);
    tr_buf_set_i64(&buf, of64, 42);
    assert_buf_bytes(&buf, want, sizeof(want));
    /* A patch past the end is ignored rather than written. */
    tr_buf_set_i32(&buf, sizeof(want) - 2, -1);
    tr_buf_set_i64(&buf, sizeof(want), -1);
    assert_buf_bytes(&buf, want, sizeof(want));
    tr_buf_cleanup(&buf);
}

static void
test_buf_steal_truncate_slice_sub(void **state)
{
    struct tr_buf *buf = tr_buf_new(1 << 20);
    struct tr_slice s, sub;
    const uint8_t *p;
    uint8_t *stolen;
    size_t len, i;
    int8_t i8;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < 1000; i++) {
        tr_buf_put_i8(buf, (int8_t)i); /* grows past the first block */
    }
    assert_int_equal(tr_buf_len(buf), 1000);
    tr_buf_truncate(buf, 10);
    assert_int_equal(tr_buf_len(buf), 10);
    tr_buf_truncate(buf, 20); /* never grows */
    assert_int_equal(tr_buf_len(buf), 10);

    tr_slice_init(&s, tr_buf_data(buf), tr_buf_len(buf));
    assert_int_equal(tr_slice_skip(&s, 2), TR_OK);
    assert_int_equal(tr_slice_sub(&s, 3, &sub), TR_OK);
    assert_int_equal(tr_slice_pos(&s), 5);
    assert_int_equal(tr_slice_remaining(&sub), 3);
    assert_int_equal(tr_slice_get_i8(&sub, &i8), TR_OK);
    assert_int_equal(i8, 2);
    assert_int_equal(tr_slice_get_raw(&sub, 2, &p), TR_OK);
    assert_int_equal(p[1], 4);
    assert_int_equal(tr_slice_get_i8(&sub, &i8), TR_ERR_TRUNCATED);
    assert_int_equal(tr_slice_sub(&s, 6, &sub), TR_ERR_TRUNCATED);
    assert_int_equal(*tr_slice_cur(&s), 5);

    stolen = tr_buf_steal(buf, &len);
    assert_non_null(stolen);
    assert_int_equal(len, 10);
    assert_int_equal(stolen[9], 9);
    assert_int_equal(tr_buf_len(buf), 0);
    tr_free(stolen);
    /* The buffer is empty but usable; stealing nothing gives NULL. */
    assert_null(tr_buf_steal(buf, &len));
    assert_int_equal(len, 0);
    tr_buf_put_i8(buf, 1);
    assert_int_equal(tr_buf_len(buf), 1);
    tr_buf_free(buf);
    tr_buf_free(NULL);
}

/* put_space hands out room to fill in place, within the buffer's limit. */
static void
test_buf_put_space(void **state)
{
    struct tr_buf b;
    uint8_t *p;

    (void)state;
    tr_buf_init(&b, 16);
    tr_buf_put_i32(&b, 7);
    p = tr_buf_put_space(&b, 8);
    assert_non_null(p);
    memset(p, 0xab, 8);
    assert_int_equal(tr_buf_len(&b), 12);
    assert_int_equal(tr_load_i32(tr_buf_data(&b)), 7);
    assert_int_equal(tr_buf_data(&b)[11], 0xab);
    assert_null(tr_buf_put_space(&b, 5)); /* 17 > max */
    assert_int_equal(tr_buf_err(&b), TR_ERR_TOO_LARGE);
    assert_int_equal(tr_buf_len(&b), 12);
    tr_buf_cleanup(&b);
}

static void
test_buf_oom(void **state)
{
    struct tr_buf *buf;
    long n;

    (void)state;
    tr_alloc_fail_after(0);
    buf = tr_buf_new(1 << 20);
    tr_alloc_fail_after(-1);
    assert_null(buf);

    /* Fail the Nth allocation of a growing buffer, for every N. */
    for (n = 0;; n++) {
        size_t i;
        tr_err_t err;

        tr_alloc_fail_after(n);
        buf = tr_buf_new(1 << 20);
        if (buf == NULL) {
            tr_alloc_fail_after(-1);
            continue;
        }
        for (i = 0; i < 5000; i++) {
            tr_buf_put_i32(buf, (int32_t)i);
        }
        tr_alloc_fail_after(-1);
        err = tr_buf_err(buf);
        if (err == TR_OK) {
            struct tr_slice s;
            int32_t v;

            assert_int_equal(tr_buf_len(buf), 20000);
            tr_slice_init(&s, tr_buf_data(buf), tr_buf_len(buf));
            for (i = 0; i < 5000; i++) {
                assert_int_equal(tr_slice_get_i32(&s, &v), TR_OK);
                assert_int_equal(v, (int32_t)i);
            }
            tr_buf_free(buf);
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        /* What was written before the failure is intact. */
        assert_true(tr_buf_len(buf) % 4 == 0);
        if (tr_buf_len(buf) >= 4) {
            assert_int_equal(
                tr_load_i32(tr_buf_data(buf) + tr_buf_len(buf) - 4),
                (int32_t)(tr_buf_len(buf) / 4 - 1));
        }
        tr_buf_free(buf);
        assert_true(n < 100);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_fixed_ints_big_endian),
        cmocka_unit_test(test_buf_int_edge_round_trips),
        cmocka_unit_test(test_buf_uvarint_known_encodings),
        cmocka_unit_test(test_buf_varint_known_encodings),
        cmocka_unit_test(test_buf_varlong_edges),
        cmocka_unit_test(test_buf_varint_round_trip_sweep),
        cmocka_unit_test(test_buf_truncated_input),
        cmocka_unit_test(test_buf_overlong_varint),
        cmocka_unit_test(test_buf_max_is_enforced_and_sticky),
        cmocka_unit_test(test_buf_set_patches_placeholders),
        cmocka_unit_test(test_buf_steal_truncate_slice_sub),
        cmocka_unit_test(test_buf_put_space),
        cmocka_unit_test(test_buf_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
