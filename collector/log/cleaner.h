/*
 * cleaner -- log compaction: the key map, the batch and segment rewrite,
 * and the log cleaner threads.
 *
 * A compacted log (cleanup.policy=compact) keeps at least the last record of
 * every key. The cleaner works as Kafka's does (LogCleaner.scala):
 *
 *   log:   [ clean section ][ dirty, cleanable ][ uncleanable ][ active ]
 *                           ^ first dirty offset  ^ end (newer than
 *                                                   min.compaction.lag.ms)
 *
 * 1. The key map records, for every key in the cleanable dirty section, the
 *    offset of its last record. An entry is a 128-bit hash of the key and an
 *    offset (24 bytes, as Kafka's SkimpyOffsetMap with MD5), in an
 *    open-addressed table filled to at most 90% of log.cleaner.dedupe.
 *    buffer.size; when it is full the section ends early.
 * 2. Every closed segment from the log start up to the end of the section
 *    is recopied without the records whose key maps to a later offset, the
 *    records without a key, and the tombstones (null value) of batches older
 *    than delete.retention.ms. Offsets, order and timestamps are kept: a
 *    batch keeps its BaseOffset, LastOffsetDelta and BaseTimestamp, so the
 *    surviving records are copied byte for byte and only the batch header
 *    (length, count, CRC) changes. Compressed batches are decompressed and
 *    recompressed with the same codec. A batch left empty disappears, unless
 *    it is the last batch of its idempotent producer: then an empty batch
 *    header stays (as Kafka keeps it) so the sequence state survives.
 *    Aborted transactional data goes whatever its keys, and so do the
 *    markers of transactions left without data (struct tr_cleaner_txns).
 *
 * partition.c owns the segments, the swap and its crash recovery; this
 * module owns the bytes. The threads (log.cleaner.threads) walk the topics
 * every log.cleaner.backoff.ms and clean each compacted partition whose
 * dirty ratio reaches min.cleanable.dirty.ratio.
 */
#ifndef TR_CLEANER_H
#define TR_CLEANER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Bytes of map per key: a 16-byte hash and an 8-byte offset. */
#define TR_CLEANER_MAP_ENTRY_SIZE 24

struct tr_cleaner_map;

/*
 * Returns an owned map with room for at most 'max_bytes' of entries, sized
 * for about 'expected' keys (so a small log does not take the whole
 * buffer), or NULL.
 */
struct tr_cleaner_map *tr_cleaner_map_new(size_t max_bytes, size_t expected);
/* NULL is a no-op. */
void tr_cleaner_map_free(struct tr_cleaner_map *map);
/*
 * Records that the last record of key 'key' ('len' bytes) is at 'offset'.
 * TR_ERR_TOO_LARGE when the key is new and the map is 90% full.
 */
tr_err_t tr_cleaner_map_put(struct tr_cleaner_map *map, const void *key,
                            size_t len, int64_t offset);
/* The offset recorded for 'key', or -1. */
int64_t tr_cleaner_map_get(const struct tr_cleaner_map *map, const void *key,
                           size_t len);
size_t tr_cleaner_map_count(const struct tr_cleaner_map *map);
/* Keys the map accepts before it is full. */
size_t tr_cleaner_map_limit(const struct tr_cleaner_map *map);

/*
 * Adds the keyed records of one batch (whole, CRC not checked) whose
 * offsets are below 'end_offset' to the map. *last gets the offset after
 * the last record mapped. TR_ERR_TOO_LARGE when the map filled up (the
 * records before that are in it).
 */
tr_err_t tr_cleaner_map_batch(struct tr_cleaner_map *map, const uint8_t *batch,
                              size_t len, int64_t end_offset, size_t max_bytes,
                              int64_t *last);

/* Whether the batch at 'base_offset' is the last one of 'producer_id'. */
typedef int tr_cleaner_last_batch_fn(int64_t producer_id, int64_t base_offset,
                                     void *arg);

/* What a rewrite keeps. */
/*
 * One cleaning pass's view of transactions. The pass recopies the log
 * from its start in offset order, so a transaction's data comes before
 * its marker: for each producer with a transaction open at that point it
 * records whether any of the transaction's data stays. A marker whose
 * transaction keeps no data, older than the delete horizon
 * (delete.retention.ms, as for tombstones) and not its producer's last
 * batch, goes, as Kafka's cleaner removes it; the ABORT markers that go
 * are listed for the caller, which takes them out of the partition's
 * aborted index when it swaps the segment in (a consumer that sees an
 * aborted transaction listed must also find its marker).
 */
struct tr_cleaner_txns;

/* An ABORT marker dropped from the segment being rewritten. */
struct tr_cleaner_marker {
    int64_t producer_id;
    int64_t offset;
};

/* Returns an owned, empty state (free with tr_cleaner_txns_free) or NULL. */
struct tr_cleaner_txns *tr_cleaner_txns_new(void);
/* NULL is a no-op. */
void tr_cleaner_txns_free(struct tr_cleaner_txns *t);
/*
 * The ABORT markers dropped since the last tr_cleaner_txns_clear_dropped
 * (borrowed: valid until the next filtered batch), in *out.
 */
size_t tr_cleaner_txns_dropped(const struct tr_cleaner_txns *t,
                               const struct tr_cleaner_marker **out);
void tr_cleaner_txns_clear_dropped(struct tr_cleaner_txns *t);

struct tr_cleaner_filter {
    const struct tr_cleaner_map *map; /* borrowed */
    /* Tombstones in batches whose MaxTimestamp is below this are dropped. */
    int64_t tombstone_horizon_ms;
    tr_cleaner_last_batch_fn *is_last; /* NULL: no producer keeps a batch */
    void *arg;
    size_t max_bytes; /* bound on a decompressed batch */
    /* Whether a transactional batch was aborted (NULL: none is); 'arg'. */
    tr_cleaner_last_batch_fn *is_aborted;
    /* The pass's transactions (borrowed; NULL: every marker stays). */
    struct tr_cleaner_txns *txns;
};

struct tr_cleaner_counts {
    int64_t records_kept;
    int64_t records_removed;
    int64_t batches_removed;
};

/*
 * Appends the cleaned form of one batch to 'out': the batch unchanged when
 * every record stays, a rebuilt batch when some do, an empty header when
 * none do but the batch must stay for its producer, nothing otherwise.
 * Every record of an aborted transactional batch goes, whatever its key.
 * Control batches (transaction markers) are kept unchanged while their
 * transaction keeps data (see struct tr_cleaner_txns), so a marker never
 * leaves before its transaction's data. TR_ERR_CORRUPT for a bad batch,
 * TR_ERR_UNSUPPORTED for a codec that is not built.
 */
tr_err_t tr_cleaner_filter_batch(const struct tr_cleaner_filter *f,
                                 const uint8_t *batch, size_t len,
                                 struct tr_buf *out,
                                 struct tr_cleaner_counts *counts);

/*
 * Rewrites the 'in_size' bytes of whole batches of 'in_fd' into 'out_fd'
 * (at its start) through tr_cleaner_filter_batch. *out_size gets the bytes
 * written. Nothing is synced.
 */
tr_err_t tr_cleaner_rewrite_file(const struct tr_cleaner_filter *f, int in_fd,
                                 int64_t in_size, int out_fd, int64_t *out_size,
                                 struct tr_cleaner_counts *counts);

struct tr_topics;
struct tr_cleaner;

/*
 * Starts 'threads' cleaner threads over 'topics' (borrowed; it must outlive
 * the cleaner). 'map_bytes' is log.cleaner.dedupe.buffer.size, shared out
 * between the threads. Returns an owned cleaner in *out.
 */
tr_err_t tr_cleaner_start(struct tr_topics *topics, int threads,
                          int64_t map_bytes, int64_t backoff_ms,
                          struct tr_cleaner **out);
/* Stops the threads (a cleaning in progress finishes first). NULL: no-op. */
void tr_cleaner_stop(struct tr_cleaner *cleaner);

/*
 * One pass over every partition at 'now_ms' (what each thread does per
 * round; tests call it directly). Returns the number of partitions cleaned.
 */
int tr_cleaner_run_once(struct tr_topics *topics, int64_t now_ms,
                        int64_t map_bytes);

#endif /* TR_CLEANER_H */
