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

static tr_err_t
validate(const uint8_t *p, size_t len, struct tr_batch_header *h, int check_crc)
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
    if (check_crc && tr_crc32c(0, p + TR_BATCH_OFF_ATTRIBUTES,
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
tr_batch_validate(const uint8_t *p, size_t len, struct tr_batch_header *h)
{
    return validate(p, len, h, 1);
}

tr_err_t
tr_batch_next(struct tr_slice *s, const uint8_t **batch, size_t *len)
{
    const uint8_t *p = tr_slice_cur(s);
    size_t left = tr_slice_remaining(s);
    tr_err_t err = TR_ERR_NOT_FOUND;
    int32_t batch_length;
    size_t total;

    if (left == 0) {
        goto out;
    }
    err = TR_ERR_TRUNCATED;
    if (left < TR_BATCH_LOG_OVERHEAD) {
        goto out;
    }
    batch_length = tr_load_i32(p + TR_BATCH_OFF_LENGTH);
    if (batch_length < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    if ((size_t)batch_length > left - TR_BATCH_LOG_OVERHEAD) {
        goto out; /* a partial batch: leave it unread */
    }
    total = (size_t)batch_length + TR_BATCH_LOG_OVERHEAD;
    err = tr_slice_skip(s, total);
    if (err != TR_OK) {
        goto out;
    }
    *batch = p;
    *len = total;
out:
    return err;
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

void
tr_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t now_ms)
{
    uint16_t attrs = (uint16_t)tr_load_i16(batch + TR_BATCH_OFF_ATTRIBUTES);

    tr_store_i16(batch + TR_BATCH_OFF_ATTRIBUTES,
                 (int16_t)(attrs | TR_BATCH_ATTR_LOG_APPEND_TS));
    tr_store_i64(batch + OFF_MAX_TIMESTAMP, now_ms);
    tr_store_i32(batch + TR_BATCH_OFF_CRC,
                 (int32_t)tr_crc32c(0, batch + TR_BATCH_OFF_ATTRIBUTES,
                                    len - TR_BATCH_OFF_ATTRIBUTES));
}

tr_err_t
tr_batch_iter_init(struct tr_batch_iter *it, const uint8_t *batch, size_t len,
                   size_t max_bytes)
{
    return tr_batch_iter_init_flags(it, batch, len, max_bytes,
                                    TR_BATCH_ITER_CHECK_CRC);
}

tr_err_t
tr_batch_iter_init_flags(struct tr_batch_iter *it, const uint8_t *batch,
                         size_t len, size_t max_bytes, unsigned flags)
{
    const uint8_t *records = batch + TR_BATCH_HEADER_SIZE;
    size_t records_len;
    tr_err_t err;
    int codec;

    /* Cleanup must be safe whatever happens below. */
    tr_buf_init(&it->inflated, max_bytes);
    tr_slice_init(&it->records, NULL, 0);
    it->left = 0;
    err = validate(batch, len, &it->h, (flags & TR_BATCH_ITER_CHECK_CRC) != 0);
    if (err != TR_OK) {
        goto out;
    }
    records_len = len - TR_BATCH_HEADER_SIZE;
    codec = it->h.Attributes & TR_BATCH_ATTR_CODEC_MASK;
    if (codec == TR_CODEC_NONE) {
        tr_slice_init(&it->records, records, records_len);
    } else {
        err = tr_codec_decompress((enum tr_codec)codec, records, records_len,
                                  &it->inflated);
        if (err != TR_OK) {
            goto out;
        }
        tr_slice_init(&it->records, tr_buf_data(&it->inflated),
                      tr_buf_len(&it->inflated));
    }
    it->left = it->h.RecordsCount;
    err = TR_OK;
out:
    return err;
}

/*
 * Reads a length-prefixed byte string (-1 for null) from a record. A length
 * past the bytes left is corrupt, not truncated: the record's own Length
 * said these bytes were all there.
 */
static tr_err_t
get_nullable_bytes(struct tr_slice *s, const uint8_t **p, int32_t *len)
{
    int32_t n;

    if (tr_slice_get_varint(s, &n) != TR_OK || n < -1) {
        return TR_ERR_CORRUPT;
    }
    *len = n;
    *p = NULL;
    if (n == -1) {
        return TR_OK;
    }
    if (tr_slice_get_raw(s, (size_t)n, p) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    return TR_OK;
}

tr_err_t
tr_record_headers_next(struct tr_slice *s, struct tr_record_header *hdr)
{
    if (tr_slice_remaining(s) == 0) {
        return TR_ERR_NOT_FOUND;
    }
    if (get_nullable_bytes(s, &hdr->key, &hdr->key_len) != TR_OK ||
        hdr->key_len < 0) {
        return TR_ERR_CORRUPT; /* header keys are strings, never null */
    }
    return get_nullable_bytes(s, &hdr->value, &hdr->value_len);
}

/*
 * Record decoding is the consumer's inner loop (millions of records a
 * second), so it reads through a bare cursor with inlined, bounds-checked
 * varint decoding instead of a call per field. Every read checks 'end'.
 */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

static inline int
rd_uvarint(struct rd *r, uint64_t *v, unsigned max_bytes)
{
    uint64_t result = 0;
    unsigned shift = 0, i;

    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++; /* the common one-byte case */
        return 0;
    }
    for (i = 0; i < max_bytes && r->p < r->end; i++) {
        uint8_t b = *r->p++;

        result |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = result;
            return 0;
        }
        shift += 7;
    }
    return -1;
}

static inline int
rd_varint(struct rd *r, int32_t *v)
{
    uint64_t u;

    if (rd_uvarint(r, &u, 5) != 0 || u > UINT32_MAX) {
        return -1;
    }
    *v = (int32_t)((uint32_t)(u >> 1) ^ (uint32_t) - (int64_t)(u & 1));
    return 0;
}

static inline int
rd_varlong(struct rd *r, int64_t *v)
{
    uint64_t u;

    if (rd_uvarint(r, &u, 10) != 0) {
        return -1;
    }
    *v = (int64_t)((u >> 1) ^ (uint64_t) - (int64_t)(u & 1));
    return 0;
}

/* A length-prefixed byte string, -1 for null; past the end is corrupt. */
static inline int
rd_bytes(struct rd *r, const uint8_t **p, int32_t *len)
{
    int32_t n;

    if (rd_varint(r, &n) != 0 || n < -1) {
        return -1;
    }
    *len = n;
    *p = NULL;
    if (n == -1) {
        return 0;
    }
    if ((size_t)(r->end - r->p) < (size_t)n) {
        return -1;
    }
    *p = r->p;
    r->p += n;
    return 0;
}

/* Decodes the record in 'r', which holds exactly its Length bytes. */
static tr_err_t
parse_record(const struct tr_batch_header *h, struct rd *r,
             struct tr_record *rec)
{
    const uint8_t *hk, *hv;
    int32_t offset_delta, i, hk_len, hv_len;
    int64_t ts_delta;
    tr_err_t err = TR_ERR_CORRUPT;

    if (r->p >= r->end) {
        goto out;
    }
    r->p++; /* attributes: unused in v2 */
    if (rd_varlong(r, &ts_delta) != 0 || rd_varint(r, &offset_delta) != 0) {
        goto out;
    }
    if (offset_delta < 0 || offset_delta > h->LastOffsetDelta) {
        goto out;
    }
    /* Unsigned sums: hostile deltas may wrap, but never overflow (UB). */
    rec->offset = (int64_t)((uint64_t)h->BaseOffset + (uint64_t)offset_delta);
    if (h->Attributes & TR_BATCH_ATTR_LOG_APPEND_TS) {
        rec->timestamp = h->MaxTimestamp; /* the broker's time */
    } else {
        rec->timestamp =
            (int64_t)((uint64_t)h->BaseTimestamp + (uint64_t)ts_delta);
    }
    if (rd_bytes(r, &rec->key, &rec->key_len) != 0 ||
        rd_bytes(r, &rec->value, &rec->value_len) != 0) {
        goto out;
    }
    if (rd_varint(r, &rec->header_count) != 0 || rec->header_count < 0) {
        goto out;
    }
    /*
     * Walk the headers once so that tr_record_headers_next never meets
     * malformed bytes. Each takes at least two bytes, so a hostile count
     * runs out of input quickly.
     */
    rec->headers = r->p;
    for (i = 0; i < rec->header_count; i++) {
        if (rd_bytes(r, &hk, &hk_len) != 0 || hk_len < 0 ||
            rd_bytes(r, &hv, &hv_len) != 0) {
            goto out; /* header keys are strings, never null */
        }
    }
    rec->headers_len = (size_t)(r->p - rec->headers);
    if (r->p != r->end) {
        goto out; /* Length disagrees with the fields */
    }
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_batch_iter_next(struct tr_batch_iter *it, struct tr_record *rec)
{
    struct rd all, r;
    int32_t length;
    tr_err_t err = TR_ERR_CORRUPT;

    if (it->left == 0) {
        /* More bytes than RecordsCount records is corrupt too. */
        if (tr_slice_remaining(&it->records) == 0) {
            err = TR_ERR_NOT_FOUND;
        }
        goto out;
    }
    if (tr_slice_remaining(&it->records) == 0) {
        goto stop; /* records promised, no bytes (the slice may be NULL) */
    }
    all.p = tr_slice_cur(&it->records);
    all.end = all.p + tr_slice_remaining(&it->records);
    if (rd_varint(&all, &length) != 0 || length < 0 ||
        (size_t)(all.end - all.p) < (size_t)length) {
        goto stop;
    }
    r.p = all.p;
    r.end = all.p + length;
    if (parse_record(&it->h, &r, rec) != TR_OK) {
        goto stop;
    }
    (void)tr_slice_skip(&it->records,
                        (size_t)(r.end - tr_slice_cur(&it->records)));
    it->left--;
    err = TR_OK;
    goto out;
stop:
    /* Stop here: later calls must not resume mid-record. */
    it->left = 0;
    tr_slice_init(&it->records, NULL, 0);
out:
    return err;
}

const struct tr_batch_header *
tr_batch_iter_header(const struct tr_batch_iter *it)
{
    return &it->h;
}

void
tr_batch_iter_cleanup(struct tr_batch_iter *it)
{
    tr_buf_cleanup(&it->inflated);
}

struct tr_batch_builder {
    enum tr_codec codec;
    size_t max_bytes;      /* cap on the uncompressed records */
    struct tr_buf records; /* encoded records, uncompressed */
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t flags; /* TR_BATCH_ATTR_TRANSACTIONAL and _CONTROL bits */
};

struct tr_batch_builder *
tr_batch_builder_new(enum tr_codec codec, size_t max_bytes)
{
    struct tr_batch_builder *b = tr_malloc(sizeof(*b));

    if (b == NULL) {
        return NULL;
    }
    b->codec = codec;
    b->max_bytes = max_bytes;
    tr_buf_init(&b->records, max_bytes);
    tr_batch_builder_reset(b);
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->flags = 0;
    return b;
}

void
tr_batch_builder_free(struct tr_batch_builder *b)
{
    if (b == NULL) {
        return;
    }
    tr_buf_cleanup(&b->records);
    tr_free(b);
}

/* Keeps the producer fields: they belong to the producer, not the batch. */
void
tr_batch_builder_reset(struct tr_batch_builder *b)
{
    tr_buf_reset(&b->records);
    b->count = 0;
    b->base_timestamp = -1;
    b->max_timestamp = -1;
}

void
tr_batch_builder_set_producer(struct tr_batch_builder *b, int64_t producer_id,
                              int16_t epoch, int32_t base_sequence)
{
    b->producer_id = producer_id;
    b->producer_epoch = epoch;
    b->base_sequence = base_sequence;
}

void
tr_batch_builder_set_flags(struct tr_batch_builder *b, int16_t flags)
{
    b->flags = (int16_t)(flags &
                         (TR_BATCH_ATTR_TRANSACTIONAL | TR_BATCH_ATTR_CONTROL));
}

/* Encoded size of a nullable byte string: its length varint and bytes. */
static uint64_t
nullable_size(int32_t len)
{
    return tr_varint_size(len) + (len > 0 ? (uint64_t)len : 0);
}

/*
 * Appends one record. Fails with TR_ERR_TOO_LARGE (leaving the builder as
 * it was) when the record would take the records past the builder's
 * maximum, so a caller can finish this batch and start another. After
 * TR_ERR_NOMEM the builder must be reset.
 */
tr_err_t
tr_batch_builder_add(struct tr_batch_builder *b, int64_t timestamp,
                     const void *key, int32_t key_len, const void *value,
                     int32_t value_len, const struct tr_record_header *headers,
                     int32_t nheaders)
{
    int64_t ts_delta = 0;
    uint64_t body;
    size_t need;
    tr_err_t err = TR_ERR_INVALID;
    int32_t i;

    if (key_len < -1 || value_len < -1 || nheaders < 0 ||
        (nheaders > 0 && headers == NULL)) {
        goto out;
    }
    if (b->count > 0) {
        ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)b->base_timestamp);
    }
    body = 1 + tr_varlong_size(ts_delta) + tr_varint_size(b->count) +
           nullable_size(key_len) + nullable_size(value_len) +
           tr_varint_size(nheaders);
    for (i = 0; i < nheaders; i++) {
        if (headers[i].key_len < 0 || headers[i].value_len < -1) {
            goto out; /* header keys are strings, never null */
        }
        body += nullable_size(headers[i].key_len) +
                nullable_size(headers[i].value_len);
    }
    err = tr_buf_err(&b->records);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_TOO_LARGE;
    if (b->count == INT32_MAX || body > INT32_MAX) {
        goto out;
    }
    need = tr_varint_size((int32_t)body) + (size_t)body;
    if (need > b->max_bytes - tr_buf_len(&b->records)) {
        goto out;
    }
    err = tr_buf_reserve(&b->records, need);
    if (err != TR_OK) {
        goto out;
    }

    tr_buf_put_varint(&b->records, (int32_t)body); /* Length */
    tr_buf_put_i8(&b->records, 0);                 /* Attributes */
    tr_buf_put_varlong(&b->records, ts_delta);     /* TimestampDelta */
    tr_buf_put_varint(&b->records, b->count);      /* OffsetDelta */
    tr_buf_put_varint(&b->records, key_len);       /* KeyLength */
    if (key_len > 0) {
        tr_buf_put_bytes(&b->records, key, (size_t)key_len); /* Key */
    }
    tr_buf_put_varint(&b->records, value_len); /* ValueLength */
    if (value_len > 0) {
        tr_buf_put_bytes(&b->records, value, (size_t)value_len); /* Value */
    }
    tr_buf_put_varint(&b->records, nheaders); /* HeadersCount */
    for (i = 0; i < nheaders; i++) {
        tr_buf_put_varint(&b->records, headers[i].key_len); /* HeaderKeyLen */
        if (headers[i].key_len > 0) {
            tr_buf_put_bytes(&b->records, headers[i].key,
                             (size_t)headers[i].key_len);
        }
        tr_buf_put_varint(&b->records, headers[i].value_len); /* HeaderValLen */
        if (headers[i].value_len > 0) {
            tr_buf_put_bytes(&b->records, headers[i].value,
                             (size_t)headers[i].value_len);
        }
    }
    if (b->count == 0) {
        b->base_timestamp = timestamp;
        b->max_timestamp = timestamp;
    } else if (timestamp > b->max_timestamp) {
        b->max_timestamp = timestamp;
    }
    b->count++;
    err = TR_OK;
out:
    return err;
}

int32_t
tr_batch_builder_count(const struct tr_batch_builder *b)
{
    return b->count;
}

size_t
tr_batch_builder_size(const struct tr_batch_builder *b)
{
    return tr_buf_len(&b->records);
}

/*
 * Appends the batch to 'out'. An empty builder is TR_ERR_INVALID: Kafka
 * never carries a batch without records from a producer. On failure 'out'
 * is cut back to its old length (its sticky error, if any, remains).
 */
tr_err_t
tr_batch_builder_finish(struct tr_batch_builder *b, struct tr_buf *out)
{
    size_t start = tr_buf_len(out);
    size_t end, of_length, of_crc;
    int16_t attributes = 0;
    tr_err_t err = TR_ERR_INVALID;

    if (b->count == 0) {
        goto out;
    }
    err = tr_buf_err(&b->records);
    if (err != TR_OK) {
        goto out;
    }
    if (b->codec != TR_CODEC_NONE) {
        attributes = (int16_t)(b->codec & TR_BATCH_ATTR_CODEC_MASK);
    }
    attributes |= b->flags;
    tr_buf_put_i64(out, 0);                 /* BaseOffset */
    of_length = tr_buf_put_i32(out, 0);     /* BatchLength */
    tr_buf_put_i32(out, -1);                /* PartitionLeaderEpoch */
    tr_buf_put_i8(out, TR_BATCH_MAGIC);     /* Magic */
    of_crc = tr_buf_put_u32(out, 0);        /* CRC */
    tr_buf_put_i16(out, attributes);        /* Attributes */
    tr_buf_put_i32(out, b->count - 1);      /* LastOffsetDelta */
    tr_buf_put_i64(out, b->base_timestamp); /* BaseTimestamp */
    tr_buf_put_i64(out, b->max_timestamp);  /* MaxTimestamp */
    tr_buf_put_i64(out, b->producer_id);    /* ProducerId */
    tr_buf_put_i16(out, b->producer_epoch); /* ProducerEpoch */
    tr_buf_put_i32(out, b->base_sequence);  /* BaseSequence */
    tr_buf_put_i32(out, b->count);          /* RecordsCount */
    err = tr_buf_err(out);
    if (err != TR_OK) {
        goto out;
    }
    if (b->codec == TR_CODEC_NONE) {
        tr_buf_put_bytes(out, tr_buf_data(&b->records),
                         tr_buf_len(&b->records)); /* Records */
        err = tr_buf_err(out);
    } else {
        err = tr_codec_compress(b->codec, tr_buf_data(&b->records),
                                tr_buf_len(&b->records), out); /* Records */
    }
    if (err != TR_OK) {
        goto out;
    }
    end = tr_buf_len(out);
    if (end - start - TR_BATCH_LOG_OVERHEAD > INT32_MAX) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    tr_buf_set_i32(out, of_length,
                   (int32_t)(end - start - TR_BATCH_LOG_OVERHEAD));
    tr_buf_set_u32(out, of_crc,
                   tr_crc32c(0,
                             tr_buf_data(out) + start + TR_BATCH_OFF_ATTRIBUTES,
                             end - start - TR_BATCH_OFF_ATTRIBUTES));
    err = TR_OK;
out:
    if (err != TR_OK) {
        tr_buf_truncate(out, start);
    }
    return err;
}

tr_err_t
tr_batch_build_marker(struct tr_buf *out, int64_t producer_id, int16_t epoch,
                      int commit, int32_t coordinator_epoch, int64_t timestamp)
{
    struct tr_batch_builder *b;
    uint8_t key[4], value[6];
    tr_err_t err = TR_ERR_NOMEM;

    b = tr_batch_builder_new(TR_CODEC_NONE, 64);
    if (b == NULL) {
        goto out;
    }
    tr_batch_builder_set_producer(b, producer_id, epoch, -1);
    tr_batch_builder_set_flags(b, TR_BATCH_ATTR_TRANSACTIONAL |
                                      TR_BATCH_ATTR_CONTROL);
    key[0] = 0; /* version (int16) */
    key[1] = 0;
    key[2] = 0; /* type (int16): 0 ABORT, 1 COMMIT */
    key[3] = commit ? 1 : 0;
    value[0] = 0; /* version (int16) */
    value[1] = 0;
    value[2] = (uint8_t)((uint32_t)coordinator_epoch >> 24);
    value[3] = (uint8_t)((uint32_t)coordinator_epoch >> 16);
    value[4] = (uint8_t)((uint32_t)coordinator_epoch >> 8);
    value[5] = (uint8_t)coordinator_epoch;
    err = tr_batch_builder_add(b, timestamp, key, sizeof(key), value,
                               sizeof(value), NULL, 0);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_batch_builder_finish(b, out);
out:
    tr_batch_builder_free(b);
    return err;
}

tr_err_t
tr_batch_marker_parse(const uint8_t *batch, size_t len, int *commit,
                      int32_t *coordinator_epoch)
{
    struct tr_batch_iter it;
    struct tr_record rec;
    struct tr_slice k, v;
    int16_t version, type;
    tr_err_t err;

    err = tr_batch_iter_init(&it, batch, len, 4096);
    if (err != TR_OK) {
        return err;
    }
    if (!(tr_batch_iter_header(&it)->Attributes & TR_BATCH_ATTR_CONTROL)) {
        err = TR_ERR_INVALID;
        goto out;
    }
    err = tr_batch_iter_next(&it, &rec);
    if (err != TR_OK || rec.key_len < 4) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    tr_slice_init(&k, rec.key, (size_t)rec.key_len);
    if (tr_slice_get_i16(&k, &version) != TR_OK ||
        tr_slice_get_i16(&k, &type) != TR_OK || version != 0 ||
        (type != 0 && type != 1)) {
        /* Other control types (KRaft's) are not transaction markers. */
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    *commit = type == 1;
    *coordinator_epoch = 0;
    if (rec.value_len >= 6) {
        tr_slice_init(&v, rec.value, (size_t)rec.value_len);
        (void)tr_slice_get_i16(&v, &version);
        (void)tr_slice_get_i32(&v, coordinator_epoch);
    }
    err = TR_OK;
out:
    tr_batch_iter_cleanup(&it);
    return err;
}
