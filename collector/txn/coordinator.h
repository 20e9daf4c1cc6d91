/*
 * coordinator -- the transaction coordinator (KIP-98): transactional ids,
 * their producer ids and epochs, the partitions of their open transaction,
 * and the two-phase end of a transaction.
 *
 * A transactional id lives in partition abs(java_hash(id)) % partitions of
 * the compacted internal topic __transaction_state
 * (transaction.state.log.num.partitions, 50), as in Kafka; the record
 * schemas are Kafka's TransactionLogKey/Value v0:
 *
 *   key   v0: int16 0 | string transactional_id
 *   value v0: int16 0 | int64 producer_id | int16 producer_epoch
 *             | int32 transaction_timeout_ms | int8 transaction_status
 *             | [string topic, [int32 partition]] (null when Empty)
 *             | int64 transaction_last_update_timestamp_ms
 *             | int64 transaction_start_timestamp_ms
 *   a null value (tombstone) removes an expired id.
 *
 * States (transaction_status): Empty 0, Ongoing 1, PrepareCommit 2,
 * PrepareAbort 3, CompleteCommit 4, CompleteAbort 5 (Dead 6 and
 * PrepareEpochFence 7 are never written):
 *
 *   Empty/Complete* --AddPartitions/AddOffsets--> Ongoing --EndTxn,
 *   timeout, fence--> Prepare* --every marker written--> Complete*
 *   --InitProducerId--> Empty; Empty/Complete* --expiry--> Dead (removed)
 *
 * A transition is applied in memory only once its record is appended.
 * On a single collector EndTxn writes Prepare*, then a marker (a control
 * batch) to every partition of the transaction (on __consumer_offsets the
 * marker also commits or drops the pending offsets of the group
 * coordinator), then Complete*, and answers afterwards -- the order Kafka
 * allows a single node. A marker that cannot be written leaves the
 * transaction in Prepare* (requests get CONCURRENT_TRANSACTIONS) and
 * tr_txn_tick() tries again. tr_txn_open() replays the topic, so the state
 * survives a restart or a SIGKILL, and completes transactions left in
 * Prepare*; open ones are left to their timeout.
 *
 * In a cluster (struct tr_txn_cluster) the coordinator of an id is the
 * leader of its partition of __transaction_state, as in Kafka. The
 * coordinator asks the cluster about leadership whenever it serves an id
 * and for every partition on each tr_txn_tick(): at a new leader epoch it
 * forgets the partition's ids and replays the partition's log (which this
 * broker holds as a follower until then), with the leader epoch as its
 * coordinator epoch, and finishes the transactions it finds in Prepare*;
 * a partition it no longer leads is dropped, and requests for its ids get
 * NOT_COORDINATOR. Every record is acknowledged by the ISR (acks=all)
 * before it is applied. Markers go to the partitions this broker leads
 * directly and to the others' leaders as WriteTxnMarkers (the
 * send_markers call), each acknowledged by its ISR before Complete* is
 * written; EndTxn answers once Prepare* is written, and a marker that
 * cannot be delivered yet is sent again on the next tick.
 *
 * Errors are Kafka's codes. Fencing is reported as TR_KERR_PRODUCER_FENCED;
 * the API layer turns it into INVALID_PRODUCER_EPOCH for the request
 * versions that predate it (KIP-588).
 *
 * Thread safety: one mutex guards the coordinator; any thread may call.
 * It takes the group coordinator's lock and partitions' locks while
 * holding its own, never the other way round.
 */
#ifndef TR_TXN_COORDINATOR_H
#define TR_TXN_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto.h"

struct tr_topics;
struct tr_waits;
struct tr_groups;
struct tr_pidgen;

#define TR_TXN_TOPIC "__transaction_state"

struct tr_txn_config {
    int32_t state_partitions;   /* transaction.state.log.num.partitions */
    int32_t max_timeout_ms;     /* transaction.max.timeout.ms */
    int64_t id_expiration_ms;   /* transactional.id.expiration.ms */
    int64_t abort_interval_ms;  /* transaction.abort.timed.out.transaction
                                   .cleanup.interval.ms */
    int64_t remove_interval_ms; /* transaction.remove.expired.transaction
                                   .cleanup.interval.ms */
    int32_t offsets_partitions; /* of __consumer_offsets (AddOffsetsToTxn) */
    /* NULL: a single collector; else borrowed, must outlive the coordinator */
    const struct tr_txn_cluster *cluster;
};

struct tr_partition;

/* One partition's marker sent to another broker, and what came back. */
struct tr_txn_marker_target {
    const char *topic;
    int32_t partition;
    int16_t error; /* set by send_markers */
};

/*
 * How the coordinator asks the cluster (main.c wires these to cluster.h;
 * tests stand in for it). Every call is made with the coordinator's lock
 * held and must not call back into this module.
 */
struct tr_txn_cluster {
    void *arg;
    /* The partition count of 'topic' in the cluster, -1 while unknown. */
    int32_t (*partitions)(void *arg, const char *topic);
    /*
     * TR_KERR_NONE and the leader epoch in *epoch when this broker leads
     * the partition; with 'acks_all' also NOT_ENOUGH_REPLICAS when its ISR
     * is below min.insync.replicas. A Kafka error otherwise.
     */
    int16_t (*leader_epoch)(void *arg, const char *topic, int32_t partition,
                            int acks_all, int32_t *epoch);
    /* After the coordinator appended to 'part' as its leader. */
    void (*appended)(void *arg, struct tr_partition *part);
    /*
     * NONE once the high watermark passed 'last_offset' with the leadership
     * of 'epoch' intact, -1 while it has not, or the error.
     */
    int16_t (*acked)(void *arg, const char *topic, int32_t partition,
                     int32_t epoch, int64_t last_offset);
    /*
     * WriteTxnMarkers to the leaders of the 'n' partitions (one request per
     * broker); sets each target's error (NONE once written and
     * acknowledged there).
     */
    void (*send_markers)(void *arg, int64_t producer_id, int16_t epoch,
                         int commit, int32_t coordinator_epoch,
                         struct tr_txn_marker_target *targets, size_t n);
};

/*
 * Whether a marker answered with 'error' must be sent again (Kafka's
 * TransactionMarkerRequestCompletionHandler): 0 for NONE, for a fenced
 * producer or coordinator epoch (47, 52) and an old message format (43),
 * which end the attempt for that partition; 1 for the rest (no leader, a
 * leader that moved, not enough replicas, a timeout, a lost connection).
 */
int tr_txn_marker_retriable(int16_t error);

/* How long the coordinator waits for the ISR to acknowledge a write. */
#define TR_TXN_ACK_TIMEOUT_MS 5000

/*
 * Waits (polling 'acked', up to TR_TXN_ACK_TIMEOUT_MS) for a write to be
 * acknowledged: NONE, the error, or REQUEST_TIMED_OUT. Shared with the
 * WriteTxnMarkers handler.
 */
int16_t tr_txn_wait_acked(int16_t (*acked)(void *arg, const char *topic,
                                           int32_t partition, int32_t epoch,
                                           int64_t last_offset),
                          void *arg, const char *topic, int32_t partition,
                          int32_t epoch, int64_t last_offset);

void tr_txn_config_defaults(struct tr_txn_config *cfg);

enum tr_txn_state {
    TR_TXN_EMPTY = 0,
    TR_TXN_ONGOING = 1,
    TR_TXN_PREPARE_COMMIT = 2,
    TR_TXN_PREPARE_ABORT = 3,
    TR_TXN_COMPLETE_COMMIT = 4,
    TR_TXN_COMPLETE_ABORT = 5,
    TR_TXN_DEAD = 6,
};

/* "Empty", "Ongoing", ... as Kafka names them. */
const char *tr_txn_state_name(enum tr_txn_state state);

struct tr_txn_coordinator;

/*
 * Returns an owned coordinator in *out. 'topics', 'waits' (may be NULL),
 * 'groups' (may be NULL: no transactional offsets) and 'pids' are borrowed
 * and must outlive it. 'pid_high_bits' is or'ed into every new producer id
 * (a cluster puts the broker id there). Creates __transaction_state if
 * missing and replays it; in a cluster (cfg->cluster) nothing is created
 * or loaded until this broker leads a partition. On failure 'errbuf' says
 * why.
 */
tr_err_t tr_txn_open(struct tr_topics *topics, struct tr_waits *waits,
                     struct tr_groups *groups, struct tr_pidgen *pids,
                     int64_t pid_high_bits, const struct tr_txn_config *cfg,
                     int64_t now_ms, struct tr_txn_coordinator **out,
                     char *errbuf, size_t errlen);
void tr_txn_close(struct tr_txn_coordinator *tc);

/*
 * Periodic work: aborts Ongoing transactions whose timeout has passed
 * (fencing the producer with epoch + 1), retries the markers of
 * transactions left in Prepare*, and removes ids idle for
 * transactional.id.expiration.ms.
 */
void tr_txn_tick(struct tr_txn_coordinator *tc, int64_t now_ms);

/* The partition of __transaction_state holding 'id'. */
int32_t tr_txn_partition_for(const struct tr_txn_coordinator *tc,
                             const struct tr_str *id);

/*
 * InitProducerId with a transactional id. 'pid_in'/'epoch_in' are the
 * caller's (-1 when absent, v3+). Returns a Kafka error; on NONE *pid and
 * *epoch are the producer's.
 */
int16_t tr_txn_init_producer_id(struct tr_txn_coordinator *tc,
                                const struct tr_str *id, int32_t timeout_ms,
                                int64_t pid_in, int16_t epoch_in,
                                int64_t now_ms, int64_t *pid, int16_t *epoch);

/* One partition of AddPartitionsToTxn; 'error' is set by the call. */
struct tr_txn_partition {
    struct tr_str topic;
    int32_t partition;
    int16_t error;
};

/* AddPartitionsToTxn: sets every entry's error. */
void tr_txn_add_partitions(struct tr_txn_coordinator *tc,
                           const struct tr_str *id, int64_t pid, int16_t epoch,
                           struct tr_txn_partition *parts, size_t n,
                           int64_t now_ms);

/* AddOffsetsToTxn: adds the group's partition of __consumer_offsets. */
int16_t tr_txn_add_offsets(struct tr_txn_coordinator *tc,
                           const struct tr_str *id, int64_t pid, int16_t epoch,
                           const struct tr_str *group, int64_t now_ms);

/* EndTxn. */
int16_t tr_txn_end(struct tr_txn_coordinator *tc, const struct tr_str *id,
                   int64_t pid, int16_t epoch, int commit, int64_t now_ms);

/*
 * Whether a transactional Produce batch of (pid, epoch) for 'id' may go to
 * topic-partition: NONE (also in a cluster when this broker does not
 * coordinate 'id': the check is then not made), or INVALID_PRODUCER_ID_MAPPING
 * (unknown id or pid), PRODUCER_FENCED (older epoch), INVALID_TXN_STATE (the
 * partition is not in an Ongoing transaction, as Kafka's partition
 * verification).
 */
int16_t tr_txn_check_produce(struct tr_txn_coordinator *tc,
                             const struct tr_str *id, int64_t pid,
                             int16_t epoch, const char *topic,
                             int32_t partition);

/* A snapshot of one transactional id (DescribeTransactions, the CLI). */
struct tr_txn_topic_partition {
    char *topic;
    int32_t partition;
};

struct tr_txn_description {
    char *transactional_id;
    enum tr_txn_state state;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t timeout_ms;
    int64_t start_ms; /* -1 when no transaction is open */
    size_t npartitions;
    struct tr_txn_topic_partition *partitions;
};

/*
 * Describes 'id': TR_ERR_NOT_FOUND when unknown. 'out' is owned by the
 * caller (free with tr_txn_description_cleanup).
 */
tr_err_t tr_txn_describe(struct tr_txn_coordinator *tc, const struct tr_str *id,
                         struct tr_txn_description *out);
void tr_txn_description_cleanup(struct tr_txn_description *d);

/*
 * Every transactional id (only partitions and states, not the partition
 * lists): an owned array in *out (free each with
 * tr_txn_description_cleanup, then tr_free).
 */
tr_err_t tr_txn_list(struct tr_txn_coordinator *tc,
                     struct tr_txn_description **out, size_t *count);

/*
 * Work done for the coordinator on threads of their own (the API layer's
 * jobs in a cluster) is counted, so that shutdown can wait for it:
 * tr_txn_drain() returns once every begun job has ended.
 */
void tr_txn_job_begin(struct tr_txn_coordinator *tc);
void tr_txn_job_end(struct tr_txn_coordinator *tc);
void tr_txn_drain(struct tr_txn_coordinator *tc);

/* Record codec of __transaction_state (exported for tests). */
struct tr_buf;
struct tr_txn_record {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t timeout_ms;
    int8_t state;
    int64_t update_ms;
    int64_t start_ms;
    size_t npartitions; /* (topic, partition) pairs in 'partitions' */
    const struct tr_txn_topic_partition *partitions;
};

void tr_txn_put_key(struct tr_buf *out, const struct tr_str *id);
/*
 * Encodes a value; the partitions are written grouped by topic (they must
 * come sorted by topic) and as a null array when the state is Empty.
 */
void tr_txn_put_value(struct tr_buf *out, const struct tr_txn_record *rec);
/* Decodes a key: *id borrows from 'p'. TR_ERR_UNSUPPORTED: not v0. */
tr_err_t tr_txn_decode_key(const uint8_t *p, size_t len, struct tr_str *id);
/*
 * Decodes a value v0. The partitions are returned as an owned array in
 * *parts (free each topic and the array with tr_free), 'rec->partitions'
 * pointing at it.
 */
tr_err_t tr_txn_decode_value(const uint8_t *p, size_t len,
                             struct tr_txn_record *rec,
                             struct tr_txn_topic_partition **parts);

#endif /* TR_TXN_COORDINATOR_H */
