/*
 * test_batch -- RecordBatch v2 validation, splitting, iteration and building,
 * checked against batches produced by an independent implementation
 * (kafka-python 2.0.2, DefaultRecordBatchBuilder) and against hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "buf.h"
#include "crc32c.h"

/*
 * kafka-python: magic=2, compression_type=0, producer_id=1234,
 * producer_epoch=5, base_sequence=42, offsets 0..3, records
 *   (1700000000000, b"key-0", b"value-0", [])
 *   (1700000000005, None, b"value-1 no key", [("trace", b"abc"),
 *                                             ("empty", None)])
 *   (1699999999990, b"key-2", None, [])
 *   (1700000000123, b"", b"", [("h", b"")])
 * PartitionLeaderEpoch is 0 (kafka-python writes 0; the CRC skips it).
 */
static const uint8_t kp_plain[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81,
    0x00, 0x00, 0x00, 0x00, 0x02, 0xb5, 0xe4, 0x54, 0xc4, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00,
    0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x04, 0xd2, 0x00, 0x05, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
    0x04, 0x24, 0x00, 0x00, 0x00, 0x0a, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x0e,
    0x76, 0x61, 0x6c, 0x75, 0x65, 0x2d, 0x30, 0x00, 0x4a, 0x00, 0x0a, 0x02,
    0x01, 0x1c, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x2d, 0x31, 0x20, 0x6e, 0x6f,
    0x20, 0x6b, 0x65, 0x79, 0x04, 0x0a, 0x74, 0x72, 0x61, 0x63, 0x65, 0x06,
    0x61, 0x62, 0x63, 0x0a, 0x65, 0x6d, 0x70, 0x74, 0x79, 0x01, 0x16, 0x00,
    0x13, 0x04, 0x0a, 0x6b, 0x65, 0x79, 0x2d, 0x32, 0x01, 0x00, 0x14, 0x00,
    0xf6, 0x01, 0x06, 0x00, 0x00, 0x02, 0x02, 0x68, 0x00,
};

/*
 * kafka-python: the same producer fields, compression_type=1 (gzip), five
 * records i = 0..4: timestamp 1700000000000 + i, key "k<i>", value
 * GZIP_VALUE, one header ("n", "<i>").
 */
static const uint8_t kp_gzip[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa,
    0x00, 0x00, 0x00, 0x00, 0x02, 0xbe, 0x16, 0xd8, 0x75, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00,
    0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x04, 0xd2, 0x00, 0x05, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
    0x05, 0x1f, 0x8b, 0x08, 0x00, 0xe5, 0x2e, 0x04, 0x6b, 0x02, 0xff, 0xd5,
    0xce, 0xc9, 0x0d, 0x80, 0x20, 0x10, 0x40, 0x51, 0x32, 0x99, 0x18, 0xcb,
    0x98, 0x12, 0x10, 0x6d, 0xc8, 0x7d, 0x19, 0x05, 0xc5, 0xdd, 0x6a, 0xad,
    0xc3, 0x93, 0xd8, 0x85, 0x9c, 0xff, 0x3f, 0xbc, 0x07, 0x84, 0x10, 0xc8,
    0xf2, 0x86, 0xa5, 0x29, 0x69, 0x5a, 0xdb, 0x9c, 0x29, 0xb3, 0x66, 0xd7,
    0x54, 0x99, 0x83, 0xba, 0x75, 0x18, 0x67, 0x32, 0x5b, 0x69, 0xe9, 0xcb,
    0x7d, 0x7a, 0x9d, 0x54, 0x98, 0x9a, 0xfe, 0xf0, 0x02, 0x68, 0x90, 0x0f,
    0x08, 0x00, 0xe4, 0xc8, 0x4f, 0x7e, 0xe4, 0xf8, 0x88, 0xc8, 0xca, 0x4f,
    0xbe, 0x72, 0xfc, 0x20, 0x40, 0x8e, 0xfd, 0xe4, 0xc7, 0x8e, 0x1f, 0x86,
    0xc8, 0x89, 0x9f, 0xfc, 0xe4, 0x05, 0x2d, 0x12, 0x3c, 0x9e, 0xbb, 0x03,
    0x00, 0x00,
};

#define GZIP_VALUE                                                             \
    "the quick brown fox jumps over the lazy dog "                             \
    "the quick brown fox jumps over the lazy dog "                             \
    "the quick brown fox jumps over the lazy dog "                             \
    "the quick brown fox jumps over the lazy dog "

/* Returns a malloc'd copy of 'len' bytes. */
static uint8_t *
dup_bytes(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len);

    assert_non_null(copy);
    memcpy(copy, p, len);
    return copy;
}

/* Recomputes the CRC after a test has edited CRC-covered bytes. */
static void
fix_crc(uint8_t *batch, size_t len)
{
    tr_store_u32(batch + TR_BATCH_OFF_CRC,
                 tr_crc32c(0, batch + TR_BATCH_OFF_ATTRIBUTES,
                           len - TR_BATCH_OFF_ATTRIBUTES));
}

static void
test_batch_header_parse_kafka_python(void **state)
{
    struct tr_batch_header h;

    (void)state;
    assert_int_equal(tr_batch_header_parse(kp_plain, sizeof(kp_plain), &h),
                     TR_OK);
    assert_int_equal(h.BaseOffset, 0);
    assert_int_equal(h.BatchLength, sizeof(kp_plain) - 12);
    assert_int_equal(h.PartitionLeaderEpoch, 0);
    assert_int_equal(h.Magic, 2);
    assert_int_equal(h.Crc, 0xb5e454c4U);
    assert_int_equal(h.Attributes, 0);
    assert_int_equal(h.LastOffsetDelta, 3);
    assert_int_equal(h.BaseTimestamp, 1700000000000LL);
    assert_int_equal(h.MaxTimestamp, 1700000000123LL);
    assert_int_equal(h.ProducerId, 1234);
    assert_int_equal(h.ProducerEpoch, 5);
    assert_int_equal(h.BaseSequence, 42);
    assert_int_equal(h.RecordsCount, 4);
    assert_int_equal(tr_batch_header_parse(kp_plain, 60, &h), TR_ERR_TRUNCATED);
}

static void
test_batch_validate_accepts_kafka_python(void **state)
{
    struct tr_batch_header h;

    (void)state;
    assert_int_equal(tr_batch_validate(kp_plain, sizeof(kp_plain), &h), TR_OK);
    assert_int_equal(h.RecordsCount, 4);
    assert_int_equal(tr_batch_validate(kp_gzip, sizeof(kp_gzip), &h), TR_OK);
    assert_int_equal(h.Attributes & TR_BATCH_ATTR_CODEC_MASK, TR_CODEC_GZIP);
    assert_int_equal(h.RecordsCount, 5);
    assert_int_equal(tr_batch_validate(kp_plain, sizeof(kp_plain), NULL),
                     TR_OK);
}

static void
test_batch_validate_rejects_flipped_crc(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    size_t i;

    (void)state;
    /* A flipped bit anywhere from the CRC field to the end is caught. */
    for (i = TR_BATCH_OFF_CRC; i < sizeof(kp_plain); i++) {
        b[i] ^= 0x01;
        assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                         TR_ERR_CORRUPT);
        b[i] ^= 0x01;
    }
    /* BaseOffset and PartitionLeaderEpoch are outside the CRC. */
    tr_batch_set_base_offset(b, 123456789);
    tr_batch_set_leader_epoch(b, 7);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL), TR_OK);
    assert_int_equal(tr_load_i64(b), 123456789);
    assert_int_equal(tr_load_i32(b + 12), 7);
    free(b);
}

static void
test_batch_validate_rejects_wrong_length(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    int32_t good = tr_load_i32(b + TR_BATCH_OFF_LENGTH);

    (void)state;
    tr_store_i32(b + TR_BATCH_OFF_LENGTH, good + 1);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_TRUNCATED);
    tr_store_i32(b + TR_BATCH_OFF_LENGTH, good - 1);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_CORRUPT);
    tr_store_i32(b + TR_BATCH_OFF_LENGTH, 48);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_CORRUPT);
    tr_store_i32(b + TR_BATCH_OFF_LENGTH, -1);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_CORRUPT);
    tr_store_i32(b + TR_BATCH_OFF_LENGTH, INT32_MAX);
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_TRUNCATED);
    free(b);
}

static void
test_batch_validate_rejects_magic_1(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));

    (void)state;
    b[TR_BATCH_OFF_MAGIC] = 1;
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_UNSUPPORTED);
    b[TR_BATCH_OFF_MAGIC] = 0;
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_UNSUPPORTED);
    b[TR_BATCH_OFF_MAGIC] = 3;
    assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                     TR_ERR_UNSUPPORTED);
    free(b);
}

/* Sets a CRC-covered field, fixes the CRC, and returns validate's verdict. */
static tr_err_t
validate_with_i32(size_t off, int32_t v)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    tr_err_t err;

    tr_store_i32(b + off, v);
    fix_crc(b, sizeof(kp_plain));
    err = tr_batch_validate(b, sizeof(kp_plain), NULL);
    free(b);
    return err;
}

static tr_err_t
validate_with_i64(size_t off, int64_t v)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    tr_err_t err;

    tr_store_i64(b + off, v);
    fix_crc(b, sizeof(kp_plain));
    err = tr_batch_validate(b, sizeof(kp_plain), NULL);
    free(b);
    return err;
}

static tr_err_t
validate_with_attributes(int16_t attrs)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    tr_err_t err;

    tr_store_i16(b + TR_BATCH_OFF_ATTRIBUTES, attrs);
    fix_crc(b, sizeof(kp_plain));
    err = tr_batch_validate(b, sizeof(kp_plain), NULL);
    free(b);
    return err;
}

static void
test_batch_validate_rejects_bad_fields(void **state)
{
    (void)state;
    /* The fix_crc helper itself leaves a good batch good. */
    assert_int_equal(validate_with_i32(57, 4), TR_OK);
    /* RecordsCount */
    assert_int_equal(validate_with_i32(57, -1), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_i32(57, INT32_MIN), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_i32(57, 5), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_i32(57, 100000), TR_ERR_CORRUPT);
    /* LastOffsetDelta below RecordsCount - 1; above is compaction. */
    assert_int_equal(validate_with_i32(23, 2), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_i32(23, 10), TR_OK);
    /* Timestamps: -1 means unset, other negatives are corrupt. */
    assert_int_equal(validate_with_i64(27, -1), TR_OK);
    assert_int_equal(validate_with_i64(27, -2), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_i64(35, INT64_MIN), TR_ERR_CORRUPT);
    /* Codecs 5..7 do not exist; 2..4 are valid even if not built in. */
    assert_int_equal(validate_with_attributes(5), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_attributes(7), TR_ERR_CORRUPT);
    assert_int_equal(validate_with_attributes(TR_CODEC_ZSTD), TR_OK);
    /* A control batch must be transactional. */
    assert_int_equal(validate_with_attributes(TR_BATCH_ATTR_CONTROL),
                     TR_ERR_CORRUPT);
    assert_int_equal(validate_with_attributes(TR_BATCH_ATTR_CONTROL |
                                              TR_BATCH_ATTR_TRANSACTIONAL),
                     TR_OK);
    /* A transactional batch needs a producer id. */
    assert_int_equal(validate_with_i64(43, -1), TR_OK);
    {
        uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));

        tr_store_i64(b + 43, -1);
        tr_store_i16(b + TR_BATCH_OFF_ATTRIBUTES, TR_BATCH_ATTR_TRANSACTIONAL);
        fix_crc(b, sizeof(kp_plain));
        assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), NULL),
                         TR_ERR_CORRUPT);
        free(b);
    }
}

static void
test_batch_validate_every_truncation(void **state)
{
    size_t n;

    (void)state;
    for (n = 0; n < sizeof(kp_plain); n++) {
        /* An exact-size copy so the sanitizer sees any overrun. */
        uint8_t *b = dup_bytes(kp_plain, n ? n : 1);

        assert_int_equal(tr_batch_validate(b, n, NULL), TR_ERR_TRUNCATED);
        free(b);
    }
    for (n = 0; n < sizeof(kp_gzip); n++) {
        uint8_t *b = dup_bytes(kp_gzip, n ? n : 1);

        assert_int_equal(tr_batch_validate(b, n, NULL), TR_ERR_TRUNCATED);
        free(b);
    }
}

static void
test_batch_validate_rejects_trailing_bytes(void **state)
{
    uint8_t b[sizeof(kp_plain) + 1];

    (void)state;
    memcpy(b, kp_plain, sizeof(kp_plain));
    b[sizeof(kp_plain)] = 0;
    assert_int_equal(tr_batch_validate(b, sizeof(b), NULL), TR_ERR_CORRUPT);
}

static void
test_batch_next_splits_record_set(void **state)
{
    size_t total = sizeof(kp_plain) + sizeof(kp_gzip) + 30;
    uint8_t *set = malloc(total);
    struct tr_slice s;
    const uint8_t *batch;
    size_t len;

    (void)state;
    assert_non_null(set);
    memcpy(set, kp_plain, sizeof(kp_plain));
    memcpy(set + sizeof(kp_plain), kp_gzip, sizeof(kp_gzip));
    /* A partial third batch: the first 30 bytes of another copy. */
    memcpy(set + sizeof(kp_plain) + sizeof(kp_gzip), kp_plain, 30);

    tr_slice_init(&s, set, total);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_OK);
    assert_ptr_equal(batch, set);
    assert_int_equal(len, sizeof(kp_plain));
    assert_int_equal(tr_batch_validate(batch, len, NULL), TR_OK);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_OK);
    assert_ptr_equal(batch, set + sizeof(kp_plain));
    assert_int_equal(len, sizeof(kp_gzip));
    assert_int_equal(tr_batch_validate(batch, len, NULL), TR_OK);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_TRUNCATED);
    /* The partial batch is left unread, and asking again says the same. */
    assert_int_equal(tr_slice_remaining(&s), 30);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_TRUNCATED);

    /* Fewer than 12 bytes is also a partial batch. */
    tr_slice_init(&s, set, 11);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_TRUNCATED);

    /* A clean end. */
    tr_slice_init(&s, set, sizeof(kp_plain));
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_OK);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_NOT_FOUND);

    /* A length below the header size. */
    tr_store_i32(set + TR_BATCH_OFF_LENGTH, 48);
    tr_slice_init(&s, set, total);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_CORRUPT);
    tr_store_i32(set + TR_BATCH_OFF_LENGTH, -5);
    assert_int_equal(tr_batch_next(&s, &batch, &len), TR_ERR_CORRUPT);
    free(set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_header_parse_kafka_python),
        cmocka_unit_test(test_batch_validate_accepts_kafka_python),
        cmocka_unit_test(test_batch_validate_rejects_flipped_crc),
        cmocka_unit_test(test_batch_validate_rejects_wrong_length),
        cmocka_unit_test(test_batch_validate_rejects_magic_1),
        cmocka_unit_test(test_batch_validate_rejects_bad_fields),
        cmocka_unit_test(test_batch_validate_every_truncation),
        cmocka_unit_test(test_batch_validate_rejects_trailing_bytes),
        cmocka_unit_test(test_batch_next_splits_record_set),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
