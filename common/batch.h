/*
 * batch -- Kafka RecordBatch v2 (magic 2): validate, iterate, build.
 *
 * The collector stores batches exactly as producers sent them; it only
 * rewrites BaseOffset (and PartitionLeaderEpoch), which the CRC does not
 * cover. So the produce path needs only the header: tr_batch_header_parse()
 * and tr_batch_validate(). Record iteration and the builder serve the
 * client core, the tools and, later, the log cleaner.
 *
 *  0        8          12                16    17    21     23
 *  +--------+----------+-----------------+-----+-----+------+
 *  |BaseOff |BatchLen  |PartLeaderEpoch  |Magic| CRC |Attrs |
 *  +--------+----------+-----------------+-----+-----+------+
 *  23             27          35           43         51       53
 *  +--------------+-----------+------------+----------+--------+
 *  |LastOffDelta  |BaseTstamp |MaxTstamp   |ProducerId|ProdEpoch|
 *  +--------------+-----------+------------+----------+--------+
 *  53           57            61
 *  +------------+-------------+---------...
 *  |BaseSequence|RecordsCount | records (compressed as one stream if
 *  +------------+-------------+---------...  Attrs & 7 != 0)
 *
 * BatchLength counts the bytes after itself (total = BatchLength + 12).
 * The CRC-32C covers bytes [21, end).
 */
#ifndef TR_BATCH_H
#define TR_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define TR_BATCH_HEADER_SIZE  61
#define TR_BATCH_LOG_OVERHEAD 12 /* BaseOffset + BatchLength */
#define TR_BATCH_MAGIC        2

#define TR_BATCH_OFF_BASE_OFFSET  0
#define TR_BATCH_OFF_LENGTH       8
#define TR_BATCH_OFF_LEADER_EPOCH 12
#define TR_BATCH_OFF_MAGIC        16
#define TR_BATCH_OFF_CRC          17
#define TR_BATCH_OFF_ATTRIBUTES   21

/* Attributes bits. */
#define TR_BATCH_ATTR_CODEC_MASK     0x07
#define TR_BATCH_ATTR_LOG_APPEND_TS  0x08
#define TR_BATCH_ATTR_TRANSACTIONAL  0x10
#define TR_BATCH_ATTR_CONTROL        0x20
#define TR_BATCH_ATTR_DELETE_HORIZON 0x40

/* Compression codecs (Attributes & TR_BATCH_ATTR_CODEC_MASK). */
enum tr_codec {
    TR_CODEC_NONE = 0,
    TR_CODEC_GZIP = 1,
    TR_CODEC_SNAPPY = 2,
    TR_CODEC_LZ4 = 3,
    TR_CODEC_ZSTD = 4,
};

struct tr_batch_header {
    int64_t BaseOffset;
    int32_t BatchLength;
    int32_t PartitionLeaderEpoch;
    int8_t Magic;
    uint32_t Crc;
    int16_t Attributes;
    int32_t LastOffsetDelta;
    int64_t BaseTimestamp;
    int64_t MaxTimestamp;
    int64_t ProducerId;
    int16_t ProducerEpoch;
    int32_t BaseSequence;
    int32_t RecordsCount;
};

/*
 * Decodes the fixed 61-byte header at 'p' without checking anything but
 * the length. TR_ERR_TRUNCATED if len < TR_BATCH_HEADER_SIZE.
 */
tr_err_t tr_batch_header_parse(const uint8_t *p, size_t len,
                               struct tr_batch_header *h);

/*
 * Checks that the 'len' bytes at 'p' are exactly one valid v2 batch:
 * BatchLength matches len, magic is 2, the CRC-32C matches, RecordsCount is
 * not negative and LastOffsetDelta >= RecordsCount - 1 (equal unless the
 * batch was compacted), the codec is known, control and transactional bits
 * are consistent, and the timestamps are not negative unless unset (-1).
 * Fills 'h' when not NULL. Returns TR_ERR_CORRUPT (CRC or structure),
 * TR_ERR_TRUNCATED, or TR_ERR_UNSUPPORTED (magic other than 2).
 */
tr_err_t tr_batch_validate(const uint8_t *p, size_t len,
                           struct tr_batch_header *h);

/*
 * Splits a record set (a Produce request's Records field, or a fetched
 * range) into batches: points *batch at the next whole batch and *len at its
 * size and advances 's'. Returns TR_ERR_NOT_FOUND at the clean end,
 * TR_ERR_TRUNCATED for a partial trailing batch (normal at the end of a
 * fetch response), TR_ERR_CORRUPT for a length below the header size.
 * Does not check the CRC.
 */
tr_err_t tr_batch_next(struct tr_slice *s, const uint8_t **batch, size_t *len);

/* In-place rewrites of the fields the CRC does not cover. */
void tr_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void tr_batch_set_leader_epoch(uint8_t *batch, int32_t epoch);
/*
 * Stamps a whole batch of 'len' bytes with its append time, as Kafka does
 * on a LogAppendTime topic: the timestamp-type bit set, MaxTimestamp =
 * 'now_ms', and the CRC (which covers both) computed again.
 */
void tr_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t now_ms);

/* One header of a record; pointers borrow the batch's (decompressed) bytes. */
struct tr_record_header {
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
};

/* A record as iterated; pointers borrow the batch's (decompressed) bytes. */
struct tr_record {
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
    int32_t header_count;
    /* Raw header bytes; parse them with tr_record_headers_next. */
    const uint8_t *headers;
    size_t headers_len;
};

/*
 * Record iterator over one batch. For a compressed batch the records are
 * decompressed into the iterator's own buffer (bounded by 'max_bytes').
 */
struct tr_batch_iter {
    struct tr_batch_header h; /* private */
    struct tr_slice records;  /* private */
    struct tr_buf inflated;   /* private */
    int32_t left;             /* private */
};

/* 'batch' is borrowed and must stay valid while the iterator is used. */
tr_err_t tr_batch_iter_init(struct tr_batch_iter *it, const uint8_t *batch,
                            size_t len, size_t max_bytes);
/*
 * The same with options: TR_BATCH_ITER_CHECK_CRC verifies the CRC-32C
 * (tr_batch_iter_init always does). A consumer may skip it, as librdkafka
 * does by default (check.crcs=false): TCP and the broker's own check on
 * produce already cover the bytes, and the CRC is a large share of the
 * cost of reading small records.
 */
#define TR_BATCH_ITER_CHECK_CRC 0x1u
tr_err_t tr_batch_iter_init_flags(struct tr_batch_iter *it,
                                  const uint8_t *batch, size_t len,
                                  size_t max_bytes, unsigned flags);
/* TR_OK with *rec filled, TR_ERR_NOT_FOUND at the end, or TR_ERR_CORRUPT. */
tr_err_t tr_batch_iter_next(struct tr_batch_iter *it, struct tr_record *rec);
const struct tr_batch_header *
tr_batch_iter_header(const struct tr_batch_iter *it);
void tr_batch_iter_cleanup(struct tr_batch_iter *it);

/* Iterates a record's headers; TR_ERR_NOT_FOUND at the end. */
tr_err_t tr_record_headers_next(struct tr_slice *s,
                                struct tr_record_header *hdr);

/*
 * Builder: appends records, then writes one whole batch to an output buffer
 * with the CRC filled in. Used by the client core and the tools.
 */
struct tr_batch_builder;

/* Returns an owned builder (free with tr_batch_builder_free) or NULL. */
struct tr_batch_builder *tr_batch_builder_new(enum tr_codec codec,
                                              size_t max_bytes);
void tr_batch_builder_free(struct tr_batch_builder *b);
/* Empties the builder for a new batch (keeps its memory). */
void tr_batch_builder_reset(struct tr_batch_builder *b);
/* Idempotent producer fields; defaults are -1 (not idempotent). */
void tr_batch_builder_set_producer(struct tr_batch_builder *b,
                                   int64_t producer_id, int16_t epoch,
                                   int32_t base_sequence);
/*
 * Attribute bits the batch is written with: TR_BATCH_ATTR_TRANSACTIONAL
 * and TR_BATCH_ATTR_CONTROL (others are ignored). Kept across resets.
 */
void tr_batch_builder_set_flags(struct tr_batch_builder *b, int16_t flags);
/* Headers are 'nheaders' (key, value) pairs; key_len/value_len -1 = null. */
tr_err_t tr_batch_builder_add(struct tr_batch_builder *b, int64_t timestamp,
                              const void *key, int32_t key_len,
                              const void *value, int32_t value_len,
                              const struct tr_record_header *headers,
                              int32_t nheaders);
int32_t tr_batch_builder_count(const struct tr_batch_builder *b);
/* Uncompressed bytes of records added so far (for batch.size limits). */
size_t tr_batch_builder_size(const struct tr_batch_builder *b);
/* Appends the finished batch (BaseOffset 0) to 'out'. */
tr_err_t tr_batch_builder_finish(struct tr_batch_builder *b,
                                 struct tr_buf *out);

/*
 * Transaction markers (control batches, KIP-98): attributes 0x30, BaseSequence
 * -1, one record whose key is int16 version 0 + int16 type (0 ABORT,
 * 1 COMMIT) and whose value is int16 version 0 + int32 coordinator epoch:
 * 78 bytes in all.
 */
#define TR_BATCH_MARKER_SIZE 78

/* Appends a marker batch (BaseOffset 0) to 'out'. TR_ERR_NOMEM. */
tr_err_t tr_batch_build_marker(struct tr_buf *out, int64_t producer_id,
                               int16_t epoch, int commit,
                               int32_t coordinator_epoch, int64_t timestamp);
/*
 * Reads the marker of control batch 'batch': *commit 1 for COMMIT, 0 for
 * ABORT. TR_ERR_UNSUPPORTED for another control type or version,
 * TR_ERR_INVALID for a batch that is not a control batch, TR_ERR_CORRUPT.
 */
tr_err_t tr_batch_marker_parse(const uint8_t *batch, size_t len, int *commit,
                               int32_t *coordinator_epoch);

#endif /* TR_BATCH_H */
