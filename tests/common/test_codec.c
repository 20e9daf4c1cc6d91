/*
 * test_codec -- gzip round trips, the decompression bound, corrupt input,
 * codec names, and the codecs that are not built in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "codec.h"

/* A small deterministic generator so failures reproduce. */
static uint32_t
next_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

/* Fills 'p' with text-like bytes that compress but not trivially. */
static void
fill_text(uint8_t *p, size_t len, uint64_t seed)
{
    static const char words[] = "lorem ipsum dolor sit amet consectetur ";
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t)words[next_rand(&seed) % 7 == 0
                                  ? next_rand(&seed) % (sizeof(words) - 1)
                                  : i % (sizeof(words) - 1)];
    }
}

static void
round_trip(size_t len)
{
    uint8_t *in = malloc(len ? len : 1);
    struct tr_buf z, plain;

    assert_non_null(in);
    fill_text(in, len, len);
    tr_buf_init(&z, 64 * 1024 * 1024);
    tr_buf_init(&plain, 64 * 1024 * 1024);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, in, len, &z), TR_OK);
    /* A gzip member: magic 1f 8b, method 8 (deflate). */
    assert_true(tr_buf_len(&z) >= 18);
    assert_int_equal(tr_buf_data(&z)[0], 0x1f);
    assert_int_equal(tr_buf_data(&z)[1], 0x8b);
    assert_int_equal(tr_buf_data(&z)[2], 8);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &plain),
                     TR_OK);
    assert_int_equal(tr_buf_len(&plain), len);
    if (len > 0) {
        assert_memory_equal(tr_buf_data(&plain), in, len);
    }
    tr_buf_cleanup(&z);
    tr_buf_cleanup(&plain);
    free(in);
}

static void
test_codec_gzip_round_trip(void **state)
{
    (void)state;
    round_trip(0);
    round_trip(1);
    round_trip(100);
    round_trip(16384);   /* exactly one output chunk */
    round_trip(100000);  /* several chunks */
    round_trip(3000000); /* output far larger than a chunk */
}

static void
test_codec_gzip_appends(void **state)
{
    struct tr_buf z, out;
    static const char msg[] = "hello, gzip";

    (void)state;
    tr_buf_init(&z, 1 << 20);
    tr_buf_init(&out, 1 << 20);
    tr_buf_put_bytes(&z, "XY", 2);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, msg, sizeof(msg), &z),
                     TR_OK);
    assert_memory_equal(tr_buf_data(&z), "XY", 2);
    tr_buf_put_bytes(&out, "AB", 2);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z) + 2,
                                         tr_buf_len(&z) - 2, &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), 2 + sizeof(msg));
    assert_memory_equal(tr_buf_data(&out), "AB", 2);
    assert_memory_equal(tr_buf_data(&out) + 2, msg, sizeof(msg));
    tr_buf_cleanup(&z);
    tr_buf_cleanup(&out);
}

static void
test_codec_gzip_accepts_zlib_and_concatenated_members(void **state)
{
    static const char msg[] = "zlib-wrapped, not gzip-wrapped";
    uint8_t zbuf[256];
    uLongf zlen = sizeof(zbuf);
    struct tr_buf z, out;

    (void)state;
    assert_int_equal(compress2(zbuf, &zlen, (const Bytef *)msg, sizeof(msg),
                               Z_DEFAULT_COMPRESSION),
                     Z_OK);
    assert_int_equal(zbuf[0], 0x78); /* a zlib header */
    tr_buf_init(&out, 1 << 20);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, zbuf, zlen, &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), sizeof(msg));
    assert_memory_equal(tr_buf_data(&out), msg, sizeof(msg));

    /* Two gzip members back to back decode as their concatenation. */
    tr_buf_init(&z, 1 << 20);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, "abc", 3, &z), TR_OK);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, "defg", 4, &z), TR_OK);
    tr_buf_reset(&out);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), 7);
    assert_memory_equal(tr_buf_data(&out), "abcdefg", 7);
    tr_buf_cleanup(&z);
    tr_buf_cleanup(&out);
}

static void
test_codec_gzip_bomb_is_bounded(void **state)
{
    size_t big = 20 * 1024 * 1024;
    uint8_t *zeros = calloc(1, big);
    struct tr_buf z, out;

    (void)state;
    assert_non_null(zeros);
    tr_buf_init(&z, big);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, zeros, big, &z), TR_OK);
    free(zeros);
    /* 20 MiB of zeros deflate to a few KiB. */
    assert_true(tr_buf_len(&z) < 64 * 1024);

    tr_buf_init(&out, 1024 * 1024);
    tr_buf_put_bytes(&out, "keep", 4);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &out),
                     TR_ERR_TOO_LARGE);
    /* What was there before is kept; the partial output is not. */
    assert_int_equal(tr_buf_len(&out), 4);
    assert_memory_equal(tr_buf_data(&out), "keep", 4);
    assert_int_equal(tr_buf_err(&out), TR_ERR_TOO_LARGE);
    tr_buf_cleanup(&out);

    /* One byte short of the real size is also too large; exact fits. */
    tr_buf_init(&out, big - 1);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &out),
                     TR_ERR_TOO_LARGE);
    tr_buf_cleanup(&out);
    tr_buf_init(&out, big);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), big);
    tr_buf_cleanup(&out);
    tr_buf_cleanup(&z);
}

static void
test_codec_gzip_rejects_corrupt_input(void **state)
{
    static const uint8_t garbage[] = "this is not a compressed stream at all";
    uint8_t text[5000];
    struct tr_buf z, out;
    uint64_t rng = 99;
    size_t n, i;

    (void)state;
    tr_buf_init(&out, 1 << 20);
    assert_int_equal(
        tr_codec_decompress(TR_CODEC_GZIP, garbage, sizeof(garbage), &out),
        TR_ERR_CORRUPT);
    assert_int_equal(tr_buf_len(&out), 0);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, garbage, 0, &out),
                     TR_ERR_CORRUPT);

    fill_text(text, sizeof(text), 5);
    tr_buf_init(&z, 1 << 20);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, text, sizeof(text), &z),
                     TR_OK);
    /* Every truncation of a good stream is corrupt, never a crash. */
    for (n = 0; n < tr_buf_len(&z); n++) {
        uint8_t *cut = malloc(n ? n : 1);

        assert_non_null(cut);
        memcpy(cut, tr_buf_data(&z), n);
        tr_buf_reset(&out);
        assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, cut, n, &out),
                         TR_ERR_CORRUPT);
        assert_int_equal(tr_buf_len(&out), 0);
        free(cut);
    }
    /* A flipped byte past the 10-byte header: deflate or the CRC-32 trailer
     * rejects it (header bytes such as MTIME are not checked by gzip). */
    for (i = 10; i < tr_buf_len(&z); i++) {
        uint8_t *bad = malloc(tr_buf_len(&z));

        assert_non_null(bad);
        memcpy(bad, tr_buf_data(&z), tr_buf_len(&z));
        bad[i] ^= (uint8_t)(1 + next_rand(&rng) % 255);
        tr_buf_reset(&out);
        assert_int_equal(
            tr_codec_decompress(TR_CODEC_GZIP, bad, tr_buf_len(&z), &out),
            TR_ERR_CORRUPT);
        free(bad);
    }
    /* Trailing garbage after a complete member. */
    tr_buf_put_bytes(&z, "junk", 4);
    tr_buf_reset(&out);
    assert_int_equal(tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                         tr_buf_len(&z), &out),
                     TR_ERR_CORRUPT);
    tr_buf_cleanup(&z);
    tr_buf_cleanup(&out);
}

static void
test_codec_unsupported(void **state)
{
    struct tr_buf out;

    (void)state;
    tr_buf_init(&out, 1024);
    assert_int_equal(tr_codec_available(TR_CODEC_NONE), 1);
    assert_int_equal(tr_codec_available(TR_CODEC_GZIP), 1);
    assert_int_equal(tr_codec_available(TR_CODEC_SNAPPY), 0);
    assert_int_equal(tr_codec_available(TR_CODEC_LZ4), 0);
    assert_int_equal(tr_codec_available(TR_CODEC_ZSTD), 0);
    assert_int_equal(tr_codec_available((enum tr_codec)7), 0);
    assert_int_equal(tr_codec_compress(TR_CODEC_SNAPPY, "x", 1, &out),
                     TR_ERR_UNSUPPORTED);
    assert_int_equal(tr_codec_decompress(TR_CODEC_LZ4, "x", 1, &out),
                     TR_ERR_UNSUPPORTED);
    assert_int_equal(tr_codec_decompress(TR_CODEC_ZSTD, "x", 1, &out),
                     TR_ERR_UNSUPPORTED);
    assert_int_equal(tr_codec_decompress((enum tr_codec)5, "x", 1, &out),
                     TR_ERR_UNSUPPORTED);
    assert_int_equal(tr_buf_len(&out), 0);
    /* "none" copies. */
    assert_int_equal(tr_codec_compress(TR_CODEC_NONE, "abc", 3, &out), TR_OK);
    assert_int_equal(tr_codec_decompress(TR_CODEC_NONE, "de", 2, &out), TR_OK);
    assert_int_equal(tr_buf_len(&out), 5);
    assert_memory_equal(tr_buf_data(&out), "abcde", 5);
    tr_buf_cleanup(&out);
}

static void
test_codec_names(void **state)
{
    static const char *names[] = { "none", "gzip", "snappy", "lz4", "zstd" };
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        assert_string_equal(tr_codec_name((enum tr_codec)i), names[i]);
        assert_int_equal(tr_codec_parse(names[i]), i);
    }
    assert_null(tr_codec_name((enum tr_codec)5));
    assert_null(tr_codec_name((enum tr_codec) - 1));
    assert_int_equal(tr_codec_parse("GZIP"), -1);
    assert_int_equal(tr_codec_parse(""), -1);
    assert_int_equal(tr_codec_parse("brotli"), -1);
}

static void
test_codec_gzip_oom(void **state)
{
    uint8_t text[40000];
    struct tr_buf z, out;
    tr_err_t err;
    long n;

    (void)state;
    fill_text(text, sizeof(text), 11);
    for (n = 0;; n++) {
        tr_buf_init(&z, 1 << 20);
        tr_alloc_fail_after(n);
        err = tr_codec_compress(TR_CODEC_GZIP, text, sizeof(text), &z);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        tr_buf_cleanup(&z);
        assert_true(n < 1000);
    }
    for (n = 0;; n++) {
        tr_buf_init(&out, 1 << 20);
        tr_alloc_fail_after(n);
        err = tr_codec_decompress(TR_CODEC_GZIP, tr_buf_data(&z),
                                  tr_buf_len(&z), &out);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        tr_buf_cleanup(&out);
        assert_true(n < 1000);
    }
    assert_int_equal(tr_buf_len(&out), sizeof(text));
    assert_memory_equal(tr_buf_data(&out), text, sizeof(text));
    tr_buf_cleanup(&out);
    tr_buf_cleanup(&z);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_gzip_round_trip),
        cmocka_unit_test(test_codec_gzip_appends),
        cmocka_unit_test(test_codec_gzip_accepts_zlib_and_concatenated_members),
        cmocka_unit_test(test_codec_gzip_bomb_is_bounded),
        cmocka_unit_test(test_codec_gzip_rejects_corrupt_input),
        cmocka_unit_test(test_codec_unsupported),
        cmocka_unit_test(test_codec_names),
        cmocka_unit_test(test_codec_gzip_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
