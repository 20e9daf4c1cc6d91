/*
 * batch -- Kafka RecordBatch v2: header decoding, validation, splitting a
 * record set into batches, record iteration, and the batch builder.
 *
 * Everything here reads bytes that came from the network or the disk, so
 * every length is checked against the bytes actually present before it is
 * used, and nothing is allocated from a length that has not been capped.
 *
 * A record inside a batch (all varints zig-zag):
 *
 *  +--------+-----+--------+---------+------+---+--------+-----+--------+-/-+
 *  |Length  |Attrs|TsDelta |OffDelta |KeyLen|Key|ValueLen|Value|HdrCount|...|
 *  |varint  |int8 |varlong |varint   |varint|   |varint  |     |varint  |   |
 *  +--------+-----+--------+---------+------+---+--------+-----+--------+-/-+
 *
 * and each header is KeyLen varint | Key | ValueLen varint (-1 null) | Value.
 * Length counts the bytes after itself.
 */
#include "batch.h"

#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "crc32c.h"

/* Offsets of the header fields after Attributes. */
#define OFF_LAST_OFFSET_DELTA 23
#define OFF_BASE_TIMESTAMP    27
#define OFF_MAX_TIMESTAMP     35
#define OFF_PRODUCER_ID       43
#define OFF_PRODUCER_EPOCH    51
#define OFF_BASE_SEQUENCE     53
#define OFF_RECORDS_COUNT     57

/*
 * The smallest possible record: Length, Attributes, TimestampDelta,
 * OffsetDelta, KeyLength, ValueLength and HeadersCount of one byte each.
 * Used to reject an uncompressed batch whose RecordsCount cannot fit.
 */
#define MIN_RECORD_SIZE 7

tr_err_t
tr_batch_header_parse(const uint8_t *p, size_t len, struct tr_batch_header *h)
{
    if (len < TR_BATCH_HEADER_SIZE) {
        return TR_ERR_TRUNCATED;
    }
    h->BaseOffset = tr_load_i64(p + TR_BATCH_OFF_BASE_OFFSET);
    h->BatchLength = tr_load_i32(p + TR_BATCH_OFF_LENGTH);
    h->PartitionLeaderEpoch = tr_load_i32(p + TR_BATCH_OFF_LEADER_EPOCH);
    h->Magic = (int8_t)p[TR_BATCH_OFF_MAGIC];
    h->Crc = tr_load_u32(p + TR_BATCH_OFF_CRC);
    h->Attributes = tr_load_i16(p + TR_BATCH_OFF_ATTRIBUTES);
    h->LastOffsetDelta = tr_load_i32(p + OFF_LAST_OFFSET_DELTA);
    h->BaseTimestamp = tr_load_i64(p + OFF_BASE_TIMESTAMP);
    h->MaxTimestamp = tr_load_i64(p + OFF_MAX_TIMESTAMP);
    h->ProducerId = tr_load_i64(p + OFF_PRODUCER_ID);
    h->ProducerEpoch = tr_load_i16(p + OFF_PRODUCER_EPOCH);
    h->BaseSequence = tr_load_i32(p + OFF_BASE_SEQUENCE);
    h->RecordsCount = tr_load_i32(p + OFF_RECORDS_COUNT);
    return TR_OK;
}

/* A timestamp field is either unset (-1) or a non-negative time. */
static int
timestamp_ok(int64_t ts)
{
    return ts >= -1;
}

tr_err_t
tr_batch_validate(const uint8_t *p, size_t len, struct tr_batch_header *h)
{
    struct tr_batch_header tmp;
    tr_err_t err = TR_ERR_TRUNCATED;
    int codec;

    if (h == NULL) {
        h = &tmp;
    }
    /* Magic sits at byte 16 in every message format, so check it first. */
    if (len <= TR_BATCH_OFF_MAGIC) {
        goto out;
    }
    if (p[TR_BATCH_OFF_MAGIC] != TR_BATCH_MAGIC) {
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    if (tr_batch_header_parse(p, len, h) != TR_OK) {
        goto out;
    }
    err = TR_ERR_CORRUPT;
    if (h->BatchLength < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD) {
        goto out;
    }
    if ((size_t)h->BatchLength > len - TR_BATCH_LOG_OVERHEAD) {
        err = TR_ERR_TRUNCATED;
        goto out;
    }
    if ((size_t)h->BatchLength != len - TR_BATCH_LOG_OVERHEAD) {
        goto out; /* trailing bytes: not exactly one batch */
    }
    if (tr_crc32c(0, p + TR_BATCH_OFF_ATTRIBUTES,
                  len - TR_BATCH_OFF_ATTRIBUTES) != h->Crc) {
        goto out;
    }
    if (h->RecordsCount < 0 || h->LastOffsetDelta < h->RecordsCount - 1) {
        goto out;
    }
    codec = h->Attributes & TR_BATCH_ATTR_CODEC_MASK;
    if (codec > TR_CODEC_ZSTD) {
        goto out;
    }
    if (codec == TR_CODEC_NONE &&
        (size_t)h->RecordsCount >
            (len - TR_BATCH_HEADER_SIZE) / MIN_RECORD_SIZE) {
        goto out;
    }
    /* Control batches (transaction markers) only exist in transactions. */
    if ((h->Attributes & TR_BATCH_ATTR_CONTROL) &&
        !(h->Attributes & TR_BATCH_ATTR_TRANSACTIONAL)) {
        goto out;
    }
    if ((h->Attributes & TR_BATCH_ATTR_TRANSACTIONAL) && h->ProducerId < 0) {
        goto out;
    }
    if (!timestamp_ok(h->BaseTimestamp) || !timestamp_ok(h->MaxTimestamp)) {
        goto out;
    }
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_batch_next(struct tr_slice *s, const uint8_t **batch, size_t *len)
{
    const uint8_t *p = tr_slice_cur(s);
    size_t left = tr_slice_remaining(s);
    int32_t batch_length;
    size_t total;

    if (left == 0) {
        return TR_ERR_NOT_FOUND;
    }
    if (left < TR_BATCH_LOG_OVERHEAD) {
        return TR_ERR_TRUNCATED;
    }
    batch_length = tr_load_i32(p + TR_BATCH_OFF_LENGTH);
    if (batch_length < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD) {
        return TR_ERR_CORRUPT;
    }
    if ((size_t)batch_length > left - TR_BATCH_LOG_OVERHEAD) {
        return TR_ERR_TRUNCATED;
    }
    total = (size_t)batch_length + TR_BATCH_LOG_OVERHEAD;
    *batch = p;
    *len = total;
    return tr_slice_skip(s, total);
}

void
tr_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    tr_store_i64(batch + TR_BATCH_OFF_BASE_OFFSET, base_offset);
}

void
tr_batch_set_leader_epoch(uint8_t *batch, int32_t epoch)
{
    tr_store_i32(batch + TR_BATCH_OFF_LEADER_EPOCH, epoch);
}
