/*
 * test_proto -- Kafka primitives: classic and compact (flexible) strings,
 * bytes and arrays, tagged-field sections, request headers, and the caps
 * that keep a hostile count or length from being trusted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "proto.h"

static void
test_proto_classic_string_round_trip(void **state)
{
    static const uint8_t want[] = { 0x00, 0x03, 'a', 'b', 'c', 0xff, 0xff };
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;

    tr_buf_init(&b, 1024);
    tr_proto_put_cstring_v(&b, 0, "abc");
    tr_proto_put_cstring_v(&b, 0, NULL);
    assert_int_equal(tr_buf_len(&b), sizeof(want));
    assert_memory_equal(tr_buf_data(&b), want, sizeof(want));

    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_true(tr_str_eq(&str, "abc"));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_int_equal(str.len, -1);
    assert_null(str.ptr);
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_cleanup(&b);
}

static void
test_proto_compact_string_encoding(void **state)
{
    /* Compact: uvarint N+1; 0 is null; "" is a single 0x01. */
    static const uint8_t want[] = { 0x04, 'x', 'y', 'z', 0x00, 0x01 };
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;

    tr_buf_init(&b, 1024);
    tr_proto_put_cstring_v(&b, 1, "xyz");
    tr_proto_put_cstring_v(&b, 1, NULL);
    tr_proto_put_cstring_v(&b, 1, "");
    assert_memory_equal(tr_buf_data(&b), want, sizeof(want));

    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_compact_string(&s, &str), TR_OK);
    assert_true(tr_str_eq(&str, "xyz"));
    assert_int_equal(tr_proto_get_compact_string(&s, &str), TR_OK);
    assert_int_equal(str.len, -1);
    assert_int_equal(tr_proto_get_compact_string(&s, &str), TR_OK);
    assert_int_equal(str.len, 0);
    tr_buf_cleanup(&b);
}

static void
test_proto_long_compact_string_uses_multibyte_varint(void **state)
{
    char big[300];
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tr_buf_init(&b, 4096);
    tr_proto_put_cstring_v(&b, 1, big);
    /* 299 + 1 = 300 = 0xAC 0x02 */
    assert_int_equal(tr_buf_data(&b)[0], 0xac);
    assert_int_equal(tr_buf_data(&b)[1], 0x02);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_compact_string(&s, &str), TR_OK);
    assert_int_equal(str.len, 299);
    tr_buf_cleanup(&b);
}

static void
test_proto_string_past_end_is_truncated(void **state)
{
    static const uint8_t classic[] = { 0x00, 0x05, 'a', 'b' };
    static const uint8_t compact[] = { 0x06, 'a' };
    static const uint8_t negative[] = { 0xff, 0xfe };
    struct tr_slice s;
    struct tr_str str;

    tr_slice_init(&s, classic, sizeof(classic));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_ERR_TRUNCATED);
    tr_slice_init(&s, compact, sizeof(compact));
    assert_int_equal(tr_proto_get_compact_string(&s, &str), TR_ERR_TRUNCATED);
    tr_slice_init(&s, negative, sizeof(negative));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_ERR_CORRUPT);
}

static void
test_proto_bytes_classic_and_compact(void **state)
{
    static const uint8_t data[] = { 1, 2, 3 };
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;

    tr_buf_init(&b, 1024);
    tr_proto_put_bytes_v(&b, 0, data, 3);
    tr_proto_put_bytes_v(&b, 0, NULL, -1);
    tr_proto_put_bytes_v(&b, 1, data, 3);
    tr_proto_put_bytes_v(&b, 1, NULL, -1);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_bytes_v(&s, 0, &str), TR_OK);
    assert_int_equal(str.len, 3);
    assert_memory_equal(str.ptr, data, 3);
    assert_int_equal(tr_proto_get_bytes_v(&s, 0, &str), TR_OK);
    assert_int_equal(str.len, -1);
    assert_int_equal(tr_proto_get_bytes_v(&s, 1, &str), TR_OK);
    assert_int_equal(str.len, 3);
    assert_int_equal(tr_proto_get_bytes_v(&s, 1, &str), TR_OK);
    assert_int_equal(str.len, -1);
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_cleanup(&b);
}

static void
test_proto_array_counts_are_capped(void **state)
{
    static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff };
    static const uint8_t neg[] = { 0xff, 0xff, 0xff, 0xfe };
    static const uint8_t null_arr[] = { 0xff, 0xff, 0xff, 0xff };
    static const uint8_t three[] = { 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t compact_null[] = { 0x00 };
    static const uint8_t compact_two[] = { 0x03, 0, 0 };
    struct tr_slice s;
    int32_t n;

    /* More elements than the bytes left could hold: refused. */
    tr_slice_init(&s, huge, sizeof(huge));
    assert_int_not_equal(tr_proto_get_array_len_v(&s, 0, &n, 4, INT32_MAX),
                         TR_OK);
    /* Over the caller's cap. */
    tr_slice_init(&s, three, sizeof(three));
    assert_int_equal(tr_proto_get_array_len_v(&s, 0, &n, 1, 2),
                     TR_ERR_TOO_LARGE);
    tr_slice_init(&s, three, sizeof(three));
    assert_int_equal(tr_proto_get_array_len_v(&s, 0, &n, 1, 10), TR_OK);
    assert_int_equal(n, 3);
    /* Negative counts other than -1 are corrupt; -1 is a null array. */
    tr_slice_init(&s, neg, sizeof(neg));
    assert_int_equal(tr_proto_get_array_len_v(&s, 0, &n, 1, 10),
                     TR_ERR_CORRUPT);
    tr_slice_init(&s, null_arr, sizeof(null_arr));
    assert_int_equal(tr_proto_get_array_len_v(&s, 0, &n, 1, 10), TR_OK);
    assert_int_equal(n, -1);
    /* Compact: N+1, 0 = null. */
    tr_slice_init(&s, compact_null, sizeof(compact_null));
    assert_int_equal(tr_proto_get_array_len_v(&s, 1, &n, 1, 10), TR_OK);
    assert_int_equal(n, -1);
    tr_slice_init(&s, compact_two, sizeof(compact_two));
    assert_int_equal(tr_proto_get_array_len_v(&s, 1, &n, 1, 10), TR_OK);
    assert_int_equal(n, 2);
}

static void
test_proto_tags_are_skipped(void **state)
{
    /* Two tagged fields: tag 0 size 2, tag 5 size 1; then a marker. */
    static const uint8_t tags[] = { 0x02, 0x00, 0x02, 0xaa, 0xbb,
                                    0x05, 0x01, 0xcc, 0x7e };
    static const uint8_t bad[] = { 0x01, 0x00, 0x05, 0xaa };
    struct tr_slice s;
    int8_t marker;

    tr_slice_init(&s, tags, sizeof(tags));
    assert_int_equal(tr_proto_skip_tags(&s), TR_OK);
    assert_int_equal(tr_slice_get_i8(&s, &marker), TR_OK);
    assert_int_equal(marker, 0x7e);
    tr_slice_init(&s, bad, sizeof(bad));
    assert_int_equal(tr_proto_skip_tags(&s), TR_ERR_TRUNCATED);
}

static void
test_proto_request_header_v1_and_v2(void **state)
{
    struct tr_buf b;
    struct tr_slice s;
    struct tr_request_header hdr;
    int8_t marker;

    tr_buf_init(&b, 1024);
    /* Metadata v1: header v1. */
    tr_proto_request_header_put(&b, TR_API_METADATA, 1, 42, "cli");
    tr_buf_put_i8(&b, 0x11);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_request_header_parse(&s, &hdr), TR_OK);
    assert_int_equal(hdr.api_key, TR_API_METADATA);
    assert_int_equal(hdr.api_version, 1);
    assert_int_equal(hdr.correlation_id, 42);
    assert_true(tr_str_eq(&hdr.client_id, "cli"));
    assert_false(hdr.flexible);
    assert_int_equal(tr_slice_get_i8(&s, &marker), TR_OK);
    assert_int_equal(marker, 0x11);

    /* ApiVersions v3: header v2, client id still a classic string. */
    tr_buf_reset(&b);
    tr_proto_request_header_put(&b, TR_API_API_VERSIONS, 3, 7, NULL);
    tr_buf_put_i8(&b, 0x22);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_request_header_parse(&s, &hdr), TR_OK);
    assert_true(hdr.flexible);
    assert_int_equal(hdr.client_id.len, -1);
    assert_int_equal(tr_slice_get_i8(&s, &marker), TR_OK);
    assert_int_equal(marker, 0x22);
    tr_buf_cleanup(&b);
}

static void
test_proto_flexible_versions_table(void **state)
{
    assert_false(tr_proto_is_flexible(TR_API_PRODUCE, 8));
    assert_true(tr_proto_is_flexible(TR_API_PRODUCE, 9));
    assert_false(tr_proto_is_flexible(TR_API_FETCH, 11));
    assert_true(tr_proto_is_flexible(TR_API_FETCH, 12));
    assert_false(tr_proto_is_flexible(TR_API_API_VERSIONS, 2));
    assert_true(tr_proto_is_flexible(TR_API_API_VERSIONS, 3));
    assert_false(tr_proto_is_flexible(TR_API_SASL_HANDSHAKE, 1));
    assert_false(tr_proto_is_flexible(999, 5));
    assert_string_equal(tr_proto_api_name(TR_API_METADATA), "Metadata");
    assert_string_equal(tr_proto_api_name(999), "Unknown");
}

static void
test_proto_str_copy_rejects_nul_and_overflow(void **state)
{
    struct tr_str with_nul = { "a\0b", 3 };
    struct tr_str long_str = { "abcdef", 6 };
    struct tr_str null_str = { NULL, -1 };
    char out[4];

    assert_int_equal(tr_str_copy(&with_nul, out, sizeof(out)), TR_ERR_INVALID);
    assert_int_equal(tr_str_copy(&long_str, out, sizeof(out)),
                     TR_ERR_TOO_LARGE);
    assert_int_equal(tr_str_copy(&null_str, out, sizeof(out)), TR_ERR_INVALID);
    long_str.len = 3;
    assert_int_equal(tr_str_copy(&long_str, out, sizeof(out)), TR_OK);
    assert_string_equal(out, "abc");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_classic_string_round_trip),
        cmocka_unit_test(test_proto_compact_string_encoding),
        cmocka_unit_test(test_proto_long_compact_string_uses_multibyte_varint),
        cmocka_unit_test(test_proto_string_past_end_is_truncated),
        cmocka_unit_test(test_proto_bytes_classic_and_compact),
        cmocka_unit_test(test_proto_array_counts_are_capped),
        cmocka_unit_test(test_proto_tags_are_skipped),
        cmocka_unit_test(test_proto_request_header_v1_and_v2),
        cmocka_unit_test(test_proto_flexible_versions_table),
        cmocka_unit_test(test_proto_str_copy_rejects_nul_and_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
