/*
 * partition -- the commit log of one topic partition.
 *
 * A partition is a directory "<topic>-<n>" of segments (see segment.h), the
 * newest of which is active and takes appends. It keeps four offsets as
 * separate notions, because replication will pull them apart:
 *
 *   log start offset  first offset still stored (moved by retention)
 *   high watermark    offsets below it are committed and visible to
 *                     consumers; on a single node it follows the log end
 *   log end offset    the next offset to assign (LEO)
 *   leader epoch      stamped into every appended batch
 *
 * Appends validate each batch (CRC, header), check idempotent-producer
 * sequences, rewrite BaseOffset and PartitionLeaderEpoch in place, and write
 * the batches unchanged otherwise. Reads hand back a file range that the
 * network layer sends with sendfile, never copying the records.
 *
 * Thread safety: every function takes the partition's own lock; any thread
 * may call them. Appends are short (a write to the page cache); fsync
 * happens under the flush policy, outside the append path where possible.
 */
#ifndef TR_PARTITION_H
#define TR_PARTITION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "txns.h"

struct tr_batch_header;

/* Per-log settings (Kafka's broker defaults, overridden per topic). */
struct tr_log_config {
    int64_t segment_bytes;        /* log.segment.bytes, 1 GiB */
    int64_t segment_ms;           /* log.roll.ms, 7 days */
    int32_t index_interval_bytes; /* log.index.interval.bytes, 4096 */
    int32_t segment_index_bytes;  /* log.index.size.max.bytes, 10 MiB */
    int64_t flush_messages;       /* log.flush.interval.messages, INT64_MAX */
    int64_t flush_ms;             /* log.flush.interval.ms, INT64_MAX */
    int32_t max_message_bytes;    /* message.max.bytes, 1000012 */
    int64_t retention_ms;         /* log.retention.ms, 7 days; -1 none */
    int64_t retention_bytes;      /* log.retention.bytes, -1 */
    /* Fields below were added for retention and compaction. */
    int cleanup_policy;            /* TR_LOG_CLEANUP_* bits, delete */
    int64_t delete_retention_ms;   /* log.cleaner.delete.retention.ms, 1 d */
    double min_cleanable_ratio;    /* log.cleaner.min.cleanable.ratio, 0.5 */
    int64_t min_compaction_lag_ms; /* log.cleaner.min.compaction.lag.ms, 0 */
    int32_t min_insync_replicas;   /* min.insync.replicas, 1 (a cluster's) */
    /* Topic configs only (no broker-wide default here): */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms, INT64_MAX */
    int log_append_time; /* message.timestamp.type: 1 for LogAppendTime */
    /* message.timestamp.before/after.max.ms and the older
     * message.timestamp.difference.max.ms (which bounds both when they
     * are not set): how far a CreateTime may lie behind or ahead of now. */
    int64_t timestamp_before_max_ms;
    int64_t timestamp_after_max_ms;
    int64_t timestamp_difference_max_ms;
    /* Broker-wide only (no topic override): */
    int64_t segment_delete_delay_ms;     /* log.segment.delete.delay.ms */
    int64_t retention_check_interval_ms; /* log.retention.check.interval.ms */
    int cleaner_enable;                  /* log.cleaner.enable, true */
    int32_t cleaner_threads;             /* log.cleaner.threads, 1 */
    int64_t cleaner_dedupe_buffer_size;  /* log.cleaner.dedupe.buffer.size */
    int64_t cleaner_backoff_ms;          /* log.cleaner.backoff.ms, 15000 */
};

/* cleanup.policy bits. */
#define TR_LOG_CLEANUP_DELETE  0x1
#define TR_LOG_CLEANUP_COMPACT 0x2

/* Fills 'cfg' with Kafka's defaults. */
void tr_log_config_defaults(struct tr_log_config *cfg);

struct tr_partition;

/*
 * Opens (creating if needed) the partition in directory 'dir'. When
 * 'recover' is set (no clean-shutdown marker), every batch after
 * 'recovery_point' is re-validated, a torn or corrupt tail is truncated, and
 * missing or broken indexes are rebuilt. Idempotent-producer state is rebuilt
 * from the log. 'cfg' is copied. Returns an owned partition in *out.
 */
tr_err_t tr_partition_open(const char *dir, const char *topic, int32_t index,
                           const struct tr_log_config *cfg, int recover,
                           int64_t recovery_point, struct tr_partition **out);
/*
 * Partitions are reference counted (atomically), because a network thread
 * may still be serving one while an admin request deletes its topic. The
 * opener holds the first reference. The last unref flushes and closes it,
 * and removes its directory if it was marked deleted. NULL is a no-op.
 */
void tr_partition_ref(struct tr_partition *part);
void tr_partition_unref(struct tr_partition *part);
/* Marks the partition so that the last unref removes its files. */
void tr_partition_mark_deleted(struct tr_partition *part);

const char *tr_partition_topic(const struct tr_partition *part);
int32_t tr_partition_index(const struct tr_partition *part);
const char *tr_partition_dir(const struct tr_partition *part);

/*
 * Work counters of one partition since it was opened, for the collector's
 * metrics (collector/metrics/stats.h), which sums them per topic or per
 * broker at scrape time. Relaxed atomics: bumped where the work happens,
 * read without the partition's lock.
 */
struct tr_partition_stats {
    atomic_uint_least64_t bytes_in;   /* by tr_partition_append */
    atomic_uint_least64_t records_in; /* offsets appended by those */
    atomic_uint_least64_t bytes_out;  /* counted by Fetch (api/fetch.c) */
    atomic_uint_least64_t fsyncs;     /* fdatasync calls by flushes */
    atomic_uint_least64_t rolls;      /* segments rolled */
    atomic_uint_least64_t retention_segments; /* deleted by retention */
    atomic_uint_least64_t retention_bytes;
    atomic_uint_least64_t cleanings;     /* compaction passes that cleaned */
    atomic_uint_least64_t cleaned_bytes; /* bytes compaction removed */
    atomic_uint_least64_t cleaned_records;
};
/* The partition's counters (borrowed: lives as long as the partition). */
struct tr_partition_stats *tr_partition_stats(struct tr_partition *part);

struct tr_append_result {
    int64_t base_offset;     /* offset of the first record appended */
    int64_t last_offset;     /* offset of the last record appended */
    int64_t log_append_time; /* -1 unless LogAppendTime is in use */
    int64_t log_start_offset;
    int duplicate; /* 1: the batch was a replay; offsets are the original */
};

/*
 * Appends the record set 'records' (one or more v2 batches, as in a Produce
 * request). The bytes are modified in place (BaseOffset, leader epoch) and
 * then written. All batches are validated before any is written, so a bad
 * batch writes nothing. Errors: TR_ERR_CORRUPT (CRC, structure),
 * TR_ERR_TOO_LARGE (a batch over max_message_bytes), TR_ERR_UNSUPPORTED
 * (magic < 2), TR_ERR_NO_KEY for a record without a key in a
 * compacted log, TR_ERR_TIMESTAMP for a CreateTime out of the topic's
 * bounds, TR_ERR_SEQUENCE,
 * TR_ERR_FENCED, TR_ERR_UNKNOWN_PRODUCER, TR_ERR_IO / TR_ERR_NOSPACE (nothing
 * visible was appended).
 */
tr_err_t tr_partition_append(struct tr_partition *part, uint8_t *records,
                             size_t len, struct tr_append_result *res);

/* A record refused within a record set (Produce v8 RecordErrors). */
struct tr_record_error {
    tr_err_t err;        /* TR_ERR_NO_KEY or TR_ERR_TIMESTAMP */
    int32_t batch_index; /* the record's index in the record set */
    int64_t offset;      /* its offset as the producer sent it */
    int64_t timestamp;
};

/* The records an append refused; the caller owns and zeroes it. */
struct tr_append_errors {
    struct tr_record_error *e; /* owned: tr_append_errors_free */
    size_t n, cap;
    int64_t ts_min, ts_max; /* the CreateTimes allowed at the append */
};

void tr_append_errors_free(struct tr_append_errors *errs);

/*
 * tr_partition_append at wall time 'now_ms', as Produce uses it: every
 * record's key (compacted logs) and CreateTime (message.timestamp.before/
 * after/difference.max.ms) is checked and each refused record listed in
 * 'errs' (may be NULL); the error returned is the first one's. On a
 * LogAppendTime log each batch is stamped with 'now_ms', which goes into
 * res->log_append_time.
 */
tr_err_t tr_partition_append_at(struct tr_partition *part, uint8_t *records,
                                size_t len, int64_t now_ms,
                                struct tr_append_result *res,
                                struct tr_append_errors *errs);

/*
 * A range of one segment file, to be sent with sendfile. 'fd' is a dup of
 * the segment's descriptor owned by the caller (close it), so the range stays
 * readable even if retention deletes the segment meanwhile.
 */
struct tr_read_result {
    int fd;     /* -1 when there is nothing to send */
    off_t pos;  /* file position of the first byte */
    size_t len; /* whole batches, except the first may exceed max_bytes */
};

/*
 * Finds the batches holding 'offset' and after it, up to 'max_bytes' (but
 * at least one whole batch, as KIP-74 requires) and never at or past
 * 'max_offset' (the high watermark, or the LSO for read_committed). Reads
 * stop at a segment's end. Errors: TR_ERR_OUT_OF_RANGE when 'offset' is
 * below the log start or above the log end offset.
 */
tr_err_t tr_partition_read(struct tr_partition *part, int64_t offset,
                           size_t max_bytes, int64_t max_offset,
                           struct tr_read_result *res);

struct tr_partition_offsets {
    int64_t log_start;
    int64_t high_watermark;
    /* LSO: the HW, or the first offset of the earliest open transaction */
    int64_t last_stable;
    int64_t log_end;
    int32_t leader_epoch;
    int64_t size_bytes; /* bytes of all segments' .log files */
    /*
     * The last high watermark offered to tr_partition_set_high_watermark,
     * uncapped (-1: none yet). On a follower it is the leader's, so
     * hw_offered - log_end is how far this copy lags (DescribeLogDirs).
     */
    int64_t hw_offered;
};

void tr_partition_offsets(struct tr_partition *part,
                          struct tr_partition_offsets *offs);

/*
 * ListOffsets by time: the earliest offset whose batch MaxTimestamp is >=
 * 'timestamp', found through the time index. *offset = -1 and *ts = -1 when
 * there is none.
 */
/* The largest record timestamp in the partition, -1 when it has none. */
int64_t tr_partition_max_timestamp(struct tr_partition *part);
tr_err_t tr_partition_offset_for_time(struct tr_partition *part,
                                      int64_t timestamp, int64_t *offset,
                                      int64_t *ts);

/* fsyncs everything written so far and advances the recovery point. */
tr_err_t tr_partition_flush(struct tr_partition *part);
/* Offsets below this are fsynced (for the recovery-point checkpoint). */
int64_t tr_partition_recovery_point(struct tr_partition *part);

/*
 * Periodic work, called by the background thread: flush when flush_ms has
 * passed, roll the active segment when segment_ms has passed.
 */
void tr_partition_tick(struct tr_partition *part, int64_t now_ms);

/* Replaces the log settings (topic config change). */
void tr_partition_set_config(struct tr_partition *part,
                             const struct tr_log_config *cfg);

/*
 * Retention and DeleteRecords.
 *
 * The log start offset is the first offset a consumer may read. It moves
 * forward only: retention deletes whole closed segments (never the active
 * one) and moves it to the next segment's base; DeleteRecords moves it to
 * any offset up to the high watermark and deletes the segments wholly below
 * it. Deleted segment files are renamed to "<name>.deleted" at once and
 * unlinked segment_delete_delay_ms later by tr_partition_tick (leftovers are
 * unlinked at the next open); a fetch holding a dup of the descriptor keeps
 * reading meanwhile either way. The caller persists the log start offset
 * (topics.c, log-start-offset-checkpoint) and hands it back at the next
 * open with tr_partition_restore_log_start.
 */

/* Raises the log start offset to 'offset' (never lowers it) at open. */
void tr_partition_restore_log_start(struct tr_partition *part, int64_t offset);

/*
 * Applies retention by time (a closed segment whose largest timestamp is
 * older than now_ms - retention_ms) and by size (oldest closed segments
 * while the partition exceeds retention_bytes), if the cleanup policy
 * includes delete. Returns the number of segments deleted.
 */
int tr_partition_retain(struct tr_partition *part, int64_t now_ms);

/*
 * DeleteRecords: moves the log start offset to 'offset' (-1: the high
 * watermark). TR_ERR_OUT_OF_RANGE when 'offset' is above the high
 * watermark. *low_watermark gets the resulting log start offset.
 */
tr_err_t tr_partition_delete_records(struct tr_partition *part, int64_t offset,
                                     int64_t *low_watermark);

/*
 * Log compaction (cleanup.policy=compact). The log cleaner thread calls
 * tr_partition_clean; the "first dirty offset" (how far the log has been
 * cleaned) is kept by the partition and persisted by topics.c in the
 * cleaner-offset-checkpoint.
 */
struct tr_clean_stats {
    int segments_rewritten;
    int64_t records_removed;
    int64_t bytes_before;
    int64_t bytes_after;
    int64_t first_dirty; /* after the pass */
};

/*
 * Cleaning ratio of the log at 'now_ms': dirty cleanable bytes over all
 * bytes below the end of the cleanable section; 0 when there is nothing to
 * clean or the policy is not compact.
 */
double tr_partition_dirty_ratio(struct tr_partition *part, int64_t now_ms);

/*
 * Cleans the log once if it is compacted and its dirty ratio reaches
 * min_cleanable_ratio (always when 'force'): builds the key map over the
 * cleanable dirty section (at most 'map_bytes' of map, 24 bytes a key),
 * then rewrites each closed segment up to the end of that section without
 * the records superseded by a later one of the same key, and without
 * tombstones older than delete_retention_ms. Each segment is written as
 * "<base>.log.cleaned", renamed to ".swap" and swapped in under the lock;
 * tr_partition_open completes or discards leftovers of a crash. TR_ERR_AGAIN
 * when there was nothing to do.
 */
tr_err_t tr_partition_clean(struct tr_partition *part, int64_t now_ms,
                            int64_t map_bytes, int force,
                            struct tr_clean_stats *stats);

/* How far the log has been cleaned (for the cleaner checkpoint). */
int64_t tr_partition_first_dirty(struct tr_partition *part);
/* Restores the cleaner checkpoint at open. */
void tr_partition_restore_first_dirty(struct tr_partition *part,
                                      int64_t offset);

/*
 * Replication. The log stores and reports; the cluster code decides.
 *
 * A replicated partition's high watermark no longer follows the log end:
 * the leader moves it (the smallest log end of the in-sync replicas) and a
 * follower copies the leader's. The leader-epoch cache maps every leader
 * epoch to the first offset written in it; it is rebuilt from the batch
 * headers at open and written to "leader-epoch-checkpoint" (Kafka's format:
 * version, count, then "epoch start-offset" lines) whenever it changes.
 */

/*
 * Marks the partition replicated; its high watermark drops to
 * 'high_watermark' if that is lower (-1: keep it). Idempotent.
 */
void tr_partition_set_replicated(struct tr_partition *part,
                                 int64_t high_watermark);
/* Raises the high watermark to 'hw' (capped at the log end); 1 if it moved. */
int tr_partition_set_high_watermark(struct tr_partition *part, int64_t hw);
/*
 * This broker leads the partition from 'epoch' on: appends are stamped with
 * it, and the epoch cache gets an entry at the current log end.
 */
tr_err_t tr_partition_become_leader(struct tr_partition *part, int32_t epoch);
/*
 * Follower append: the leader's batches, offsets and epochs kept as they
 * are. Batches the log already holds are skipped; the first new one must
 * start at the log end (TR_ERR_OUT_OF_RANGE otherwise). *log_end gets the
 * log end after the call, whatever happened. TR_ERR_CORRUPT for a batch
 * that fails validation (nothing is written then).
 */
tr_err_t tr_partition_append_replica(struct tr_partition *part,
                                     uint8_t *records, size_t len,
                                     int64_t *log_end);
/*
 * Removes every batch that ends at or after 'offset' (a batch holding
 * 'offset' goes whole), then rebuilds indexes, producer state and the epoch
 * cache for what is left. The high watermark follows the log end down.
 */
tr_err_t tr_partition_truncate(struct tr_partition *part, int64_t offset);
/*
 * Empties the log and starts it again at 'offset' (log start, log end and
 * high watermark all move there): a follower whose log ends before the
 * leader's log start (retention removed what it lacks) starts over where
 * the leader's log begins, and a replica moved away drops its copy.
 */
tr_err_t tr_partition_reset(struct tr_partition *part, int64_t offset);
/*
 * OffsetForLeaderEpoch: the largest epoch <= 'epoch' that this log knows,
 * and the offset where the next one starts (the log end for the newest).
 * Both -1 when the log has no epochs.
 */
void tr_partition_end_offset_for_epoch(struct tr_partition *part, int32_t epoch,
                                       int32_t *found_epoch,
                                       int64_t *end_offset);
/* The newest epoch in the cache, -1 when empty. */
int32_t tr_partition_last_epoch(struct tr_partition *part);

/* A copy of the partition's current settings. */
void tr_partition_config(struct tr_partition *part, struct tr_log_config *cfg);
/* Its min.insync.replicas alone (acks=all checks it for every produce). */
int32_t tr_partition_min_insync(struct tr_partition *part);

/*
 * Transactions (KIP-98, see txns.h). Transactional batches of Produce open
 * their producer's transaction on the partition; the coordinator closes
 * it with a marker (a control batch) written here. A marker whose epoch is
 * below the producer's gives TR_ERR_FENCED; one of a newer epoch fences
 * the older one. A marker whose coordinator epoch is below that of the
 * producer's last marker gives TR_ERR_STALE (a coordinator that lost its
 * __transaction_state partition). *offset gets the marker's offset.
 */
tr_err_t tr_partition_append_marker(struct tr_partition *part,
                                    int64_t producer_id, int16_t epoch,
                                    int commit, int32_t coordinator_epoch,
                                    int64_t *offset);
/*
 * The aborted transactions a read_committed fetch of [from, to) reports
 * (see tr_txns_aborted). Returns an owned array in *out (free with
 * tr_free).
 */
tr_err_t tr_partition_aborted_txns(struct tr_partition *part, int64_t from,
                                   int64_t to, struct tr_aborted_txn **out,
                                   size_t *count);
/* A producer of the partition, for DescribeProducers. */
struct tr_partition_producer {
    int64_t producer_id;
    int16_t epoch;
    int32_t last_seq;
    int64_t current_txn_start; /* first offset of its open txn, or -1 */
    int32_t coordinator_epoch; /* of its newest marker, -1: none */
};

/*
 * Returns an owned array (free with tr_free) of the partition's producers
 * in *out. TR_ERR_NOMEM.
 */
tr_err_t tr_partition_producers(struct tr_partition *part,
                                struct tr_partition_producer **out,
                                size_t *count);
/* Copies up to 'max' open transactions; returns how many are open. */
size_t tr_partition_open_txns(struct tr_partition *part,
                              struct tr_open_txn *out, size_t max);

/*
 * Calls 'cb' for every whole batch from the one holding 'from' to the log
 * end, reading 'chunk' bytes at a time (a larger batch is read whole). The
 * batch bytes are valid during the call only. Stops at the first error of
 * 'cb' and returns it; TR_ERR_IO, TR_ERR_NOMEM. For coordinators that
 * replay an internal topic at start-up.
 */
typedef tr_err_t tr_partition_batch_cb(const uint8_t *batch, size_t len,
                                       const struct tr_batch_header *h,
                                       void *arg);
tr_err_t tr_partition_foreach_batch(struct tr_partition *part, int64_t from,
                                    size_t chunk, tr_partition_batch_cb *cb,
                                    void *arg);

#endif /* TR_PARTITION_H */
