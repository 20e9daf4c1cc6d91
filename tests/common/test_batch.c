/*
 * test_batch -- RecordBatch v2 validation, splitting, iteration and building,
 * checked against batches produced by an independent implementation
 * (kafka-python 2.0.2, DefaultRecordBatchBuilder) and against hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "codec.h"
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

/* A small deterministic generator so failures reproduce. */
static uint32_t
next_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

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

/* What a test expects one record to be. */
struct want_record {
    int64_t timestamp;
    const char *key; /* NULL: null */
    const char *value;
    int nheaders;
    const char *hkeys[2];
    const char *hvalues[2]; /* NULL: null */
};

static const struct want_record plain_records[] = {
    { 1700000000000LL, "key-0", "value-0", 0, { NULL }, { NULL } },
    { 1700000000005LL,
      NULL,
      "value-1 no key",
      2,
      { "trace", "empty" },
      { "abc", NULL } },
    { 1699999999990LL, "key-2", NULL, 0, { NULL }, { NULL } },
    { 1700000000123LL, "", "", 1, { "h" }, { "" } },
};

static void
assert_bytes(const uint8_t *p, int32_t len, const char *want)
{
    if (want == NULL) {
        assert_int_equal(len, -1);
        assert_null(p);
        return;
    }
    assert_int_equal(len, (int32_t)strlen(want));
    if (len > 0) {
        assert_memory_equal(p, want, (size_t)len);
    }
}

static void
assert_record(const struct tr_record *rec, int64_t offset,
              const struct want_record *want)
{
    struct tr_record_header hdr;
    struct tr_slice hs;
    int i;

    assert_int_equal(rec->offset, offset);
    assert_int_equal(rec->timestamp, want->timestamp);
    assert_bytes(rec->key, rec->key_len, want->key);
    assert_bytes(rec->value, rec->value_len, want->value);
    assert_int_equal(rec->header_count, want->nheaders);
    tr_slice_init(&hs, rec->headers, rec->headers_len);
    for (i = 0; i < want->nheaders; i++) {
        assert_int_equal(tr_record_headers_next(&hs, &hdr), TR_OK);
        assert_bytes(hdr.key, hdr.key_len, want->hkeys[i]);
        assert_bytes(hdr.value, hdr.value_len, want->hvalues[i]);
    }
    assert_int_equal(tr_record_headers_next(&hs, &hdr), TR_ERR_NOT_FOUND);
}

/* Iterates 'batch' and checks it holds exactly 'want' from 'base'. */
static void
assert_batch_records(const uint8_t *batch, size_t len, int64_t base,
                     const struct want_record *want, int n)
{
    struct tr_batch_iter it;
    struct tr_record rec;
    int i;

    assert_int_equal(tr_batch_iter_init(&it, batch, len, 1 << 20), TR_OK);
    assert_int_equal(tr_batch_iter_header(&it)->RecordsCount, n);
    for (i = 0; i < n; i++) {
        assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
        assert_record(&rec, base + i, &want[i]);
    }
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_NOT_FOUND);
    tr_batch_iter_cleanup(&it);
}

/*
 * A gzip batch whose RecordsCount promises a record but whose payload
 * inflates to nothing: corrupt, found without arithmetic on the empty
 * buffer's NULL pointer (fuzz_batch found this one under UBSan).
 */
static void
test_batch_iter_count_without_bytes(void **state)
{
    struct tr_buf gz, b;
    struct tr_batch_iter it;
    struct tr_record rec;

    (void)state;
    tr_buf_init(&gz, 1 << 16);
    tr_buf_init(&b, 1 << 16);
    assert_int_equal(tr_codec_compress(TR_CODEC_GZIP, "", 0, &gz), TR_OK);
    tr_buf_put_bytes(&b, kp_plain, TR_BATCH_HEADER_SIZE);
    tr_buf_put_bytes(&b, tr_buf_data(&gz), tr_buf_len(&gz));
    assert_int_equal(tr_buf_err(&b), TR_OK);
    tr_store_i32(tr_buf_data(&b) + TR_BATCH_OFF_LENGTH,
                 (int32_t)(tr_buf_len(&b) - 12));
    tr_store_i16(tr_buf_data(&b) + TR_BATCH_OFF_ATTRIBUTES, TR_CODEC_GZIP);
    tr_store_i32(tr_buf_data(&b) + TR_BATCH_HEADER_SIZE - 4, 1);
    fix_crc(tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(
        tr_batch_iter_init(&it, tr_buf_data(&b), tr_buf_len(&b), 1 << 20),
        TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_NOT_FOUND);
    tr_batch_iter_cleanup(&it);
    tr_buf_cleanup(&gz);
    tr_buf_cleanup(&b);
}

static void
test_batch_iter_kafka_python_plain(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));

    (void)state;
    assert_batch_records(kp_plain, sizeof(kp_plain), 0, plain_records, 4);
    /* Offsets follow BaseOffset once the log has assigned it. */
    tr_batch_set_base_offset(b, 1000);
    assert_batch_records(b, sizeof(kp_plain), 1000, plain_records, 4);
    free(b);
}

static void
test_batch_iter_kafka_python_gzip(void **state)
{
    struct want_record want[5];
    char keys[5][4], hvals[5][4];
    struct tr_batch_iter it;
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        snprintf(hvals[i], sizeof(hvals[i]), "%d", i);
        memset(&want[i], 0, sizeof(want[i]));
        want[i].timestamp = 1700000000000LL + i;
        want[i].key = keys[i];
        want[i].value = GZIP_VALUE;
        want[i].nheaders = 1;
        want[i].hkeys[0] = "n";
        want[i].hvalues[0] = hvals[i];
    }
    assert_batch_records(kp_gzip, sizeof(kp_gzip), 0, want, 5);

    /* The decompressed records (5 x ~190 bytes) do not fit in 500. */
    assert_int_equal(tr_batch_iter_init(&it, kp_gzip, sizeof(kp_gzip), 500),
                     TR_ERR_TOO_LARGE);
    tr_batch_iter_cleanup(&it);
}

/* Adds the four kafka-python records to 'b'. */
static void
add_plain_records(struct tr_batch_builder *b)
{
    struct tr_record_header h1[2] = {
        { (const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3 },
        { (const uint8_t *)"empty", 5, NULL, -1 },
    };
    struct tr_record_header h3[1] = {
        { (const uint8_t *)"h", 1, (const uint8_t *)"", 0 },
    };

    assert_int_equal(tr_batch_builder_add(b, 1700000000000LL, "key-0", 5,
                                          "value-0", 7, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_add(b, 1700000000005LL, NULL, -1,
                                          "value-1 no key", 14, h1, 2),
                     TR_OK);
    assert_int_equal(
        tr_batch_builder_add(b, 1699999999990LL, "key-2", 5, NULL, -1, NULL, 0),
        TR_OK);
    assert_int_equal(
        tr_batch_builder_add(b, 1700000000123LL, "", 0, "", 0, h3, 1), TR_OK);
}

static void
test_batch_builder_matches_kafka_python(void **state)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    struct tr_buf out;
    struct tr_batch_header h;

    (void)state;
    assert_non_null(b);
    tr_buf_init(&out, 1 << 20);
    tr_batch_builder_set_producer(b, 1234, 5, 42);
    add_plain_records(b);
    assert_int_equal(tr_batch_builder_count(b), 4);
    assert_int_equal(tr_batch_builder_size(b), sizeof(kp_plain) - 61);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_int_equal(tr_buf_len(&out), sizeof(kp_plain));
    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(h.PartitionLeaderEpoch, -1);
    /* kafka-python writes leader epoch 0; it is not under the CRC. */
    tr_batch_set_leader_epoch(tr_buf_data(&out), 0);
    assert_memory_equal(tr_buf_data(&out), kp_plain, sizeof(kp_plain));
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

static void
test_batch_builder_defaults(void **state)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    struct tr_batch_header h;
    struct tr_buf out;

    (void)state;
    assert_non_null(b);
    tr_buf_init(&out, 1 << 20);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_ERR_INVALID);
    assert_int_equal(tr_buf_len(&out), 0);
    assert_int_equal(tr_batch_builder_add(b, 50, "a", 1, "b", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_add(b, 70, "a", 1, "b", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_add(b, 60, "a", 1, "b", 1, NULL, 0),
                     TR_OK);
    tr_buf_put_bytes(&out, "prefix", 6);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_memory_equal(tr_buf_data(&out), "prefix", 6);
    assert_int_equal(
        tr_batch_validate(tr_buf_data(&out) + 6, tr_buf_len(&out) - 6, &h),
        TR_OK);
    assert_int_equal(h.BaseOffset, 0);
    assert_int_equal(h.PartitionLeaderEpoch, -1);
    assert_int_equal(h.Attributes, 0);
    assert_int_equal(h.LastOffsetDelta, 2);
    assert_int_equal(h.BaseTimestamp, 50);
    assert_int_equal(h.MaxTimestamp, 70);
    assert_int_equal(h.ProducerId, -1);
    assert_int_equal(h.ProducerEpoch, -1);
    assert_int_equal(h.BaseSequence, -1);
    assert_int_equal(h.RecordsCount, 3);

    /* Reset starts a new batch. */
    tr_batch_builder_reset(b);
    assert_int_equal(tr_batch_builder_count(b), 0);
    assert_int_equal(tr_batch_builder_size(b), 0);
    assert_int_equal(tr_batch_builder_add(b, 9, NULL, -1, NULL, -1, NULL, 0),
                     TR_OK);
    tr_buf_reset(&out);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(h.RecordsCount, 1);
    assert_int_equal(h.BaseTimestamp, 9);
    /* 61-byte header plus the smallest record (7 bytes + Length). */
    assert_int_equal(tr_buf_len(&out), 61 + 7);
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
    tr_batch_builder_free(NULL);
}

static void
test_batch_builder_rejects_bad_arguments(void **state)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 100);
    struct tr_record_header null_key = { NULL, -1, NULL, -1 };
    uint8_t big[100];

    (void)state;
    assert_non_null(b);
    memset(big, 'x', sizeof(big));
    assert_int_equal(tr_batch_builder_add(b, 1, "k", -2, NULL, -1, NULL, 0),
                     TR_ERR_INVALID);
    assert_int_equal(tr_batch_builder_add(b, 1, NULL, -1, "v", -2, NULL, 0),
                     TR_ERR_INVALID);
    assert_int_equal(tr_batch_builder_add(b, 1, NULL, -1, NULL, -1, NULL, -1),
                     TR_ERR_INVALID);
    assert_int_equal(
        tr_batch_builder_add(b, 1, NULL, -1, NULL, -1, &null_key, 1),
        TR_ERR_INVALID);
    assert_int_equal(tr_batch_builder_count(b), 0);
    /* Past the maximum: refused, and the builder is still usable. */
    assert_int_equal(tr_batch_builder_add(b, 1, NULL, -1, "v", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_add(b, 2, NULL, -1, big, 100, NULL, 0),
                     TR_ERR_TOO_LARGE);
    assert_int_equal(tr_batch_builder_count(b), 1);
    assert_int_equal(tr_batch_builder_add(b, 2, NULL, -1, big, 50, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_count(b), 2);
    tr_batch_builder_free(b);
}

static void
test_batch_builder_unsupported_codec(void **state)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_ZSTD, 1 << 20);
    struct tr_buf out;

    (void)state;
    assert_non_null(b);
    tr_buf_init(&out, 1 << 20);
    assert_int_equal(tr_batch_builder_add(b, 1, NULL, -1, "v", 1, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_finish(b, &out),
                     tr_codec_available(TR_CODEC_ZSTD) ? TR_OK
                                                       : TR_ERR_UNSUPPORTED);
    if (!tr_codec_available(TR_CODEC_ZSTD)) {
        assert_int_equal(tr_buf_len(&out), 0);
    }
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

static void
test_batch_builder_gzip_round_trip(void **state)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_GZIP, 1 << 20);
    struct tr_batch_header h;
    struct tr_buf out;

    (void)state;
    assert_non_null(b);
    tr_buf_init(&out, 1 << 20);
    tr_batch_builder_set_producer(b, 1234, 5, 42);
    add_plain_records(b);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    assert_int_equal(tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), &h),
                     TR_OK);
    assert_int_equal(h.Attributes & TR_BATCH_ATTR_CODEC_MASK, TR_CODEC_GZIP);
    assert_int_equal(h.ProducerId, 1234);
    assert_int_equal(h.BaseSequence, 42);
    assert_int_equal(h.MaxTimestamp, 1700000000123LL);
    assert_batch_records(tr_buf_data(&out), tr_buf_len(&out), 0, plain_records,
                         4);
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

/* Builds a batch of 'n' records with random keys, values and headers. */
static void
build_random(struct tr_buf *out, enum tr_codec codec, int n, uint64_t *rng)
{
    struct tr_batch_builder *b = tr_batch_builder_new(codec, 1 << 20);
    uint8_t data[64];
    struct tr_record_header hdrs[3];
    int i, j;

    assert_non_null(b);
    for (i = 0; i < (int)sizeof(data); i++) {
        data[i] = (uint8_t)next_rand(rng);
    }
    for (i = 0; i < n; i++) {
        int32_t klen = (int32_t)(next_rand(rng) % 20) - 1;
        int32_t vlen = (int32_t)(next_rand(rng) % 60) - 1;
        int nh = (int)(next_rand(rng) % 4);

        for (j = 0; j < nh; j++) {
            hdrs[j].key = data;
            hdrs[j].key_len = (int32_t)(next_rand(rng) % 8);
            hdrs[j].value = data + 8;
            hdrs[j].value_len = (int32_t)(next_rand(rng) % 10) - 1;
        }
        assert_int_equal(
            tr_batch_builder_add(
                b, 1600000000000LL + (int64_t)(next_rand(rng) % 100000), data,
                klen, data + 3, vlen, hdrs, nh),
            TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, out), TR_OK);
    tr_batch_builder_free(b);
}

/* Runs every reader over 'p' and reports whether iteration succeeded. */
static int
read_everything(const uint8_t *p, size_t len)
{
    struct tr_batch_header h;
    struct tr_batch_iter it;
    struct tr_record rec;
    struct tr_record_header hdr;
    struct tr_slice s;
    const uint8_t *batch;
    size_t blen;
    tr_err_t err;
    int ok = 0;

    (void)tr_batch_header_parse(p, len, &h);
    tr_slice_init(&s, p, len);
    while (tr_batch_next(&s, &batch, &blen) == TR_OK) {
        (void)tr_batch_validate(batch, blen, NULL);
    }
    if (tr_batch_iter_init(&it, p, len, 1 << 16) == TR_OK) {
        while ((err = tr_batch_iter_next(&it, &rec)) == TR_OK) {
            tr_slice_init(&s, rec.headers, rec.headers_len);
            while (tr_record_headers_next(&s, &hdr) == TR_OK) {
                /* Touch every byte so the sanitizer sees the bounds. */
                volatile uint8_t sink = 0;
                int32_t k;

                for (k = 0; k < hdr.key_len; k++) {
                    sink ^= hdr.key[k];
                }
                for (k = 0; k < hdr.value_len; k++) {
                    sink ^= hdr.value[k];
                }
            }
            if (rec.key_len > 0) {
                volatile uint8_t sink = rec.key[rec.key_len - 1];
                (void)sink;
            }
            if (rec.value_len > 0) {
                volatile uint8_t sink = rec.value[rec.value_len - 1];
                (void)sink;
            }
        }
        ok = err == TR_ERR_NOT_FOUND;
    }
    tr_batch_iter_cleanup(&it);
    return ok;
}

static void
test_batch_random_builds_round_trip(void **state)
{
    uint64_t rng = 1;
    struct tr_buf out;
    int round;

    (void)state;
    tr_buf_init(&out, 1 << 20);
    for (round = 0; round < 200; round++) {
        int n = 1 + (int)(next_rand(&rng) % 30);

        tr_buf_reset(&out);
        build_random(&out, round % 2 ? TR_CODEC_GZIP : TR_CODEC_NONE, n, &rng);
        assert_int_equal(
            tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), NULL),
            TR_OK);
        assert_true(read_everything(tr_buf_data(&out), tr_buf_len(&out)));
    }
    tr_buf_cleanup(&out);
}

static void
test_batch_iter_rejects_record_mismatches(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    struct tr_batch_iter it;
    struct tr_record rec;

    (void)state;
    /* The first record's Length is one byte short, then one byte long. */
    assert_int_equal(b[61], 0x24);
    b[61] = 0x22;
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_NOT_FOUND);
    tr_batch_iter_cleanup(&it);
    b[61] = 0x26;
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);
    b[61] = 0x24;

    /* RecordsCount says 3 but 4 records follow. */
    tr_store_i32(b + 57, 3);
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);

    /* RecordsCount says 5 but only 4 follow (LastOffsetDelta raised too). */
    tr_store_i32(b + 57, 5);
    tr_store_i32(b + 23, 4);
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);

    /* An OffsetDelta past LastOffsetDelta. */
    memcpy(b, kp_plain, sizeof(kp_plain));
    tr_store_i32(b + 23, 3);
    b[64] = 0x08; /* record 0: OffsetDelta 4 */
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    assert_int_equal(tr_batch_iter_next(&it, &rec), TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);

    /* The iterator refuses a batch that does not validate. */
    memcpy(b, kp_plain, sizeof(kp_plain));
    b[100] ^= 0xff;
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_ERR_CORRUPT);
    tr_batch_iter_cleanup(&it);
    free(b);
}

static void
test_batch_log_append_time(void **state)
{
    uint8_t *b = dup_bytes(kp_plain, sizeof(kp_plain));
    struct tr_batch_iter it;
    struct tr_record rec;
    int n = 0;

    (void)state;
    /* With LogAppendTime every record carries MaxTimestamp. */
    tr_store_i16(b + TR_BATCH_OFF_ATTRIBUTES, TR_BATCH_ATTR_LOG_APPEND_TS);
    tr_store_i64(b + 35, 1800000000000LL);
    fix_crc(b, sizeof(kp_plain));
    assert_int_equal(tr_batch_iter_init(&it, b, sizeof(kp_plain), 1 << 20),
                     TR_OK);
    while (tr_batch_iter_next(&it, &rec) == TR_OK) {
        assert_int_equal(rec.timestamp, 1800000000000LL);
        n++;
    }
    assert_int_equal(n, 4);
    tr_batch_iter_cleanup(&it);
    free(b);

    /* tr_batch_set_log_append_time does the same as the collector's
     * append on a LogAppendTime topic: still a valid batch. */
    b = dup_bytes(kp_plain, sizeof(kp_plain));
    tr_batch_set_log_append_time(b, sizeof(kp_plain), 1900000000000LL);
    {
        struct tr_batch_header h;

        assert_int_equal(tr_batch_validate(b, sizeof(kp_plain), &h), TR_OK);
        assert_true(h.Attributes & TR_BATCH_ATTR_LOG_APPEND_TS);
        assert_int_equal(h.MaxTimestamp, 1900000000000LL);
    }
    free(b);
}

/*
 * Mutates valid batches at random (with and without fixing the CRC, so the
 * record parser sees hostile bytes too) and runs every reader over them.
 */
static void
test_batch_fuzz_mutations(void **state)
{
    uint64_t rng = 12345;
    struct tr_buf built;
    const uint8_t *seeds[3];
    size_t seed_lens[3];
    int round, iterated = 0;

    (void)state;
    tr_buf_init(&built, 1 << 20);
    build_random(&built, TR_CODEC_NONE, 8, &rng);
    seeds[0] = kp_plain;
    seed_lens[0] = sizeof(kp_plain);
    seeds[1] = kp_gzip;
    seed_lens[1] = sizeof(kp_gzip);
    seeds[2] = tr_buf_data(&built);
    seed_lens[2] = tr_buf_len(&built);
    for (round = 0; round < 20000; round++) {
        int which = (int)(next_rand(&rng) % 3);
        size_t len = seed_lens[which];
        uint8_t *b;
        int flips = 1 + (int)(next_rand(&rng) % 4), i;

        if (next_rand(&rng) % 4 == 0) {
            len = next_rand(&rng) % (len + 1); /* truncate */
        }
        b = malloc(len ? len : 1);
        assert_non_null(b);
        memcpy(b, seeds[which], len);
        for (i = 0; i < flips && len > 0; i++) {
            size_t at = next_rand(&rng) % len;

            switch (next_rand(&rng) % 3) {
            case 0:
                b[at] ^= (uint8_t)(1u << (next_rand(&rng) % 8));
                break;
            case 1:
                b[at] = (uint8_t)next_rand(&rng);
                break;
            default:
                b[at] = next_rand(&rng) % 2 ? 0xff : 0x00;
                break;
            }
        }
        if (len >= TR_BATCH_HEADER_SIZE && next_rand(&rng) % 4 != 0) {
            tr_store_i32(b + TR_BATCH_OFF_LENGTH,
                         (int32_t)(len - TR_BATCH_LOG_OVERHEAD));
            b[TR_BATCH_OFF_MAGIC] = TR_BATCH_MAGIC;
            fix_crc(b, len);
        }
        iterated += read_everything(b, len);
        free(b);
    }
    /* Enough cases got past validation to exercise the record parser. */
    assert_true(iterated > 1000);
    assert_true(iterated < 20000);
    /* Pure noise. */
    for (round = 0; round < 2000; round++) {
        size_t len = next_rand(&rng) % 300, i;
        uint8_t *b = malloc(len ? len : 1);

        assert_non_null(b);
        for (i = 0; i < len; i++) {
            b[i] = (uint8_t)next_rand(&rng);
        }
        (void)read_everything(b, len);
        free(b);
    }
    tr_buf_cleanup(&built);
}

static void
test_batch_oom(void **state)
{
    struct tr_batch_builder *b;
    struct tr_batch_iter it;
    struct tr_buf out;
    tr_err_t err;
    long n;

    (void)state;
    for (n = 0;; n++) {
        b = NULL;
        err = TR_ERR_NOMEM;
        tr_buf_init(&out, 1 << 20);
        tr_alloc_fail_after(n);
        b = tr_batch_builder_new(TR_CODEC_GZIP, 1 << 20);
        if (b != NULL) {
            struct tr_record_header h = { (const uint8_t *)"k", 1, NULL, -1 };

            err = tr_batch_builder_add(b, 5, "key", 3, "value", 5, &h, 1);
            if (err == TR_OK) {
                err = tr_batch_builder_finish(b, &out);
            }
        }
        tr_alloc_fail_after(-1);
        tr_batch_builder_free(b);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_int_equal(tr_buf_len(&out), 0);
        tr_buf_cleanup(&out);
        assert_true(n < 1000);
    }
    assert_int_equal(
        tr_batch_validate(tr_buf_data(&out), tr_buf_len(&out), NULL), TR_OK);
    tr_buf_cleanup(&out);

    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        err = tr_batch_iter_init(&it, kp_gzip, sizeof(kp_gzip), 1 << 20);
        tr_alloc_fail_after(-1);
        tr_batch_iter_cleanup(&it);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_true(n < 1000);
    }
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
        cmocka_unit_test(test_batch_iter_count_without_bytes),
        cmocka_unit_test(test_batch_iter_kafka_python_plain),
        cmocka_unit_test(test_batch_iter_kafka_python_gzip),
        cmocka_unit_test(test_batch_builder_matches_kafka_python),
        cmocka_unit_test(test_batch_builder_defaults),
        cmocka_unit_test(test_batch_builder_rejects_bad_arguments),
        cmocka_unit_test(test_batch_builder_unsupported_codec),
        cmocka_unit_test(test_batch_builder_gzip_round_trip),
        cmocka_unit_test(test_batch_random_builds_round_trip),
        cmocka_unit_test(test_batch_iter_rejects_record_mismatches),
        cmocka_unit_test(test_batch_log_append_time),
        cmocka_unit_test(test_batch_fuzz_mutations),
        cmocka_unit_test(test_batch_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
