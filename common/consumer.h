/*
 * consumer -- the client core's Kafka consumer.
 *
 * Written on the client layer (client.h) and driven by the caller's
 * libevent event_base, like the producer. Two modes:
 *
 *  - assign mode (no group id): the caller names partitions and where to
 *    start (an offset, the beginning, the end, or a timestamp, resolved
 *    with ListOffsets);
 *  - group mode: the consumer finds the group's coordinator, joins
 *    (JoinGroup with the "range" or "roundrobin" assignor and the standard
 *    ConsumerProtocol subscription), computes the assignment when it is the
 *    leader, receives its own (SyncGroup), starts each partition at the
 *    group's committed offset (OffsetFetch) unless the rebalance callback
 *    seeked it elsewhere, heartbeats, commits (OffsetCommit) and leaves
 *    (LeaveGroup) on close.
 *
 * Fetching: one Fetch (v4-v11, the highest the broker has) per leader at a
 * time, for that leader's partitions. When a response arrives, the next
 * offsets are computed from the batch headers and the next Fetch is sent
 * before the records of this one are handed out (prefetch), so the network
 * and the caller's processing overlap.
 *
 * Delivery is per RecordBatch and without copies: the callback gets an
 * array of records whose key, value and headers point into the response
 * (or into the inflated bytes of a compressed batch), valid only during the
 * call. Records below the requested offset (a fetch lands at the start of
 * the batch holding it) and control batches are skipped. Under
 * read_committed (the default) Fetch asks for isolation level 1 and the
 * batches of aborted transactions are dropped (tr_consumer_txnf_*).
 *
 * OFFSET_OUT_OF_RANGE resets the position per auto_offset_reset (earliest,
 * latest) or, with "none", stops the partition and reports the error.
 *
 * Thread safety: none; call everything from the event_base's thread. The
 * callbacks must not free the consumer.
 */
#ifndef TR_CONSUMER_H
#define TR_CONSUMER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "buf.h"
#include "err.h"
#include "proto.h"

struct event_base;

/* Special starting offsets for tr_consumer_assign and tr_consumer_seek. */
#define TR_OFFSET_BEGINNING (-2)    /* the log start offset */
#define TR_OFFSET_END       (-1)    /* the high watermark */
#define TR_OFFSET_STORED    (-1000) /* group mode: the committed offset */

enum tr_consumer_reset {
    TR_CONSUMER_RESET_EARLIEST = 0,
    TR_CONSUMER_RESET_LATEST = 1,
    TR_CONSUMER_RESET_NONE = 2,
};

struct tr_consumer_config {
    const char *bootstrap;    /* "host:port[,host:port...]" */
    const char *client_id;    /* default "tributary" */
    const char *group_id;     /* NULL: assign mode */
    const char *assignor;     /* "range" (default) or "roundrobin" */
    int session_timeout_ms;   /* default 10000 */
    int rebalance_timeout_ms; /* default 30000 */
    int heartbeat_ms;         /* default 3000 */
    int auto_commit;          /* group mode; default 1 */
    int auto_commit_ms;       /* default 5000 */
    enum tr_consumer_reset auto_offset_reset; /* default EARLIEST */
    int fetch_max_wait_ms;                    /* default 500 */
    int32_t fetch_min_bytes;                  /* default 1 */
    int32_t fetch_max_bytes;                  /* default 52428800 */
    int32_t partition_max_bytes;              /* default 1048576 */
    int request_timeout_ms;                   /* default 30000 */
    size_t max_inflate_bytes; /* cap for one decompressed batch; 64 MiB */
    /*
     * isolation.level: 1 read_committed (default, as librdkafka's): Fetch
     * stops at the last stable offset and records of aborted transactions
     * are dropped; 0 read_uncommitted. Control batches (transaction
     * markers) are never delivered either way.
     */
    int isolation_level;
    int check_crcs; /* check.crcs: verify each batch's CRC-32C; default 0 */
    /* TLS and SASL (clientsec.h); borrowed, must outlive the consumer. */
    const struct tr_clientsec *security;
};

/* Fills 'cfg' with the defaults above. */
void tr_consumer_config_defaults(struct tr_consumer_config *cfg);

/*
 * Sets one consumer property by librdkafka's name: isolation.level
 * (read_committed|read_uncommitted), check.crcs (true|false),
 * fetch.max.bytes, max.partition.fetch.bytes, fetch.wait.max.ms,
 * fetch.min.bytes. TR_ERR_NOT_FOUND for a key that is not one of them,
 * TR_ERR_CONFIG with the reason in 'errbuf' for a bad value.
 */
tr_err_t tr_consumer_config_set(struct tr_consumer_config *cfg, const char *key,
                                const char *value, char *errbuf, size_t errlen);
/* The same from "key=value" (a -X argument); TR_ERR_NOT_FOUND as above. */
tr_err_t tr_consumer_config_set_arg(struct tr_consumer_config *cfg,
                                    const char *arg, char *errbuf,
                                    size_t errlen);
/* Writes the property lines of a --help, each prefixed by 'indent'. */
void tr_consumer_config_help(FILE *out, const char *indent);

/* A topic partition; 'topic' is borrowed from the consumer. */
struct tr_consumer_tp {
    const char *topic;
    int32_t partition;
};

/*
 * One RecordBatch worth of records for a partition. Everything is valid
 * only during the callback.
 */
struct tr_consumer_batch {
    const char *topic;
    int32_t partition;
    const struct tr_record *records;
    size_t count;
    int64_t high_watermark; /* from the same Fetch response */
    int64_t next_offset;    /* the position after this batch */
};

typedef void tr_consumer_batch_cb(const struct tr_consumer_batch *batch,
                                  void *arg);

/*
 * Group mode: called with assigned 0 for the partitions being taken away
 * (before the rejoin; commit what was processed here) and with assigned 1
 * for the new assignment (tr_consumer_seek here overrides the committed
 * offsets). 'tps' is valid only during the call.
 */
typedef void tr_consumer_rebalance_cb(int assigned,
                                      const struct tr_consumer_tp *tps,
                                      size_t n, void *arg);

/*
 * A partition stopped: OFFSET_OUT_OF_RANGE with reset "none", an unknown
 * topic or partition, a corrupt batch. 'kerr' is the Kafka error code or 0
 * with 'err' the internal one.
 */
typedef void tr_consumer_error_cb(const char *topic, int32_t partition,
                                  tr_err_t err, int16_t kerr, void *arg);

struct tr_consumer;

/*
 * Returns an owned consumer in *out. 'cfg' is copied (strings too); 'base'
 * is borrowed and must outlive the consumer. TR_ERR_CONFIG for a bad
 * bootstrap list or assignor.
 */
tr_err_t tr_consumer_new(struct event_base *base,
                         const struct tr_consumer_config *cfg,
                         tr_consumer_batch_cb *cb, void *cb_arg,
                         struct tr_consumer **out);
void tr_consumer_set_rebalance_cb(struct tr_consumer *c,
                                  tr_consumer_rebalance_cb *cb);
void tr_consumer_set_error_cb(struct tr_consumer *c, tr_consumer_error_cb *cb);

/*
 * Assign mode: adds a partition starting at 'offset' (>= 0, or
 * TR_OFFSET_BEGINNING / TR_OFFSET_END). 'topic' is copied.
 */
tr_err_t tr_consumer_assign(struct tr_consumer *c, const char *topic,
                            int32_t partition, int64_t offset);
/* Assign mode: starts at the first record with a timestamp >= 'ts_ms'. */
tr_err_t tr_consumer_assign_time(struct tr_consumer *c, const char *topic,
                                 int32_t partition, int64_t ts_ms);
/*
 * Assign mode: assigns every partition of 'topic' once its metadata is
 * known (inside tr_consumer_poll), each starting at 'offset', or, when
 * 'ts_ms' >= 0, at the first record with a timestamp >= ts_ms.
 */
tr_err_t tr_consumer_assign_topic(struct tr_consumer *c, const char *topic,
                                  int64_t offset, int64_t ts_ms);
/* Group mode: the topics to consume (copied). Call before the first poll. */
tr_err_t tr_consumer_subscribe(struct tr_consumer *c, const char *const *topics,
                               size_t n);
/* Moves an assigned partition's position. TR_ERR_NOT_FOUND if unassigned. */
tr_err_t tr_consumer_seek(struct tr_consumer *c, const char *topic,
                          int32_t partition, int64_t offset);

/*
 * Runs the event loop until at least one batch was delivered, the consumer
 * has nothing left to wait for (every partition stopped), or 'timeout_ms'
 * passed (0: one non-blocking pass). Returns the records delivered.
 */
size_t tr_consumer_poll(struct tr_consumer *c, int timeout_ms);

/* The current assignment (valid until the next poll). */
size_t tr_consumer_assignment(const struct tr_consumer *c,
                              struct tr_consumer_tp *out, size_t max);
/*
 * The next offset to be delivered for a partition, -1 while unknown.
 * *hw (if not NULL) gets the last high watermark seen, -1 if none.
 */
int64_t tr_consumer_position(const struct tr_consumer *c, const char *topic,
                             int32_t partition, int64_t *hw);
/*
 * The end of what this consumer can read in a partition, from the last
 * Fetch answer: the last stable offset under read_committed (records of a
 * transaction still open lie past it), the high watermark under
 * read_uncommitted; -1 until a Fetch answered.
 */
int64_t tr_consumer_end(const struct tr_consumer *c, const char *topic,
                        int32_t partition);
/* 1 once every assigned partition has a position (resets resolved). */
int tr_consumer_ready(const struct tr_consumer *c);
/* 1 while the group is joined and stable (always 1 in assign mode). */
int tr_consumer_stable(const struct tr_consumer *c);
/* 1 if the bootstrap servers could never be reached so far. */
int tr_consumer_unreachable(const struct tr_consumer *c);

/*
 * Group mode: commits 'offset' (the next offset to read) for a partition,
 * asynchronously: it is sent as soon as the group is stable and no other
 * commit is in flight; a later call for the same partition replaces it.
 */
tr_err_t tr_consumer_commit(struct tr_consumer *c, const char *topic,
                            int32_t partition, int64_t offset);
/* Group mode: commits every partition's position. */
tr_err_t tr_consumer_commit_positions(struct tr_consumer *c);
/* Commits still waiting for their answer (or to be sent). */
size_t tr_consumer_commits_pending(const struct tr_consumer *c);

/*
 * Commits (with auto commit), leaves the group and waits up to
 * 'timeout_ms' for those answers. The consumer is then only freeable.
 */
void tr_consumer_close(struct tr_consumer *c, int timeout_ms);
/* NULL is a no-op. Does not commit or leave: call close first. */
void tr_consumer_free(struct tr_consumer *c);

/*
 * read_committed filtering of one partition's Fetch answer (Kafka's
 * algorithm): the answer lists the aborted transactions in its range as
 * (producer id, first offset). Walking the batches in offset order, a
 * producer id becomes aborted once a batch reaches its first offset, its
 * transactional data batches are dropped from there, and its ABORT marker
 * ends that. Control batches are always dropped.
 */
struct tr_consumer_aborted {
    int64_t producer_id;
    int64_t first_offset;
};

struct tr_consumer_txnf;

/*
 * Returns an owned filter in *out for 'n' aborted transactions (copied;
 * any order). TR_ERR_NOMEM.
 */
tr_err_t tr_consumer_txnf_new(const struct tr_consumer_aborted *aborted,
                              size_t n, struct tr_consumer_txnf **out);
/*
 * 1 to deliver the batch ('batch', 'len', its parsed header 'h'), 0 to
 * drop it. Call for every batch of the answer, in order.
 */
int tr_consumer_txnf_keep(struct tr_consumer_txnf *f, const uint8_t *batch,
                          size_t len, const struct tr_batch_header *h);
/* NULL is a no-op. */
void tr_consumer_txnf_free(struct tr_consumer_txnf *f);

/* Assignors (pure functions, used by the group leader). */

struct tr_assign_member {
    const char *id;
    const char *const *topics; /* its subscription */
    size_t ntopics;
};

struct tr_assign_topic {
    const char *name;
    int32_t partitions;
};

/* One assigned partition: 'member' indexes the member array. */
struct tr_assignment {
    size_t member;
    const char *topic; /* borrowed from the topic array */
    int32_t partition;
};

/*
 * Assigns the partitions of 'topics' to the members subscribed to them with
 * "range" (per topic, members in id order get consecutive runs, the first
 * partitions % members one more) or "roundrobin" (all topic partitions in
 * name order dealt to the members in id order, skipping members not
 * subscribed). Returns an owned array in *out (tr_free), sorted by member
 * then topic then partition. TR_ERR_INVALID for an unknown assignor.
 */
tr_err_t tr_consumer_assignor_run(const char *assignor,
                                  const struct tr_assign_member *members,
                                  size_t nmembers,
                                  const struct tr_assign_topic *topics,
                                  size_t ntopics, struct tr_assignment **out,
                                  size_t *nout);

/* ConsumerProtocolSubscription v0 (Topics, UserData null). */
tr_err_t tr_consumer_subscription_encode(struct tr_buf *b,
                                         const char *const *topics, size_t n);
/*
 * Decodes a subscription (v0-v3; the fields after Topics are skipped).
 * Calls 'cb' per topic; the string is borrowed from 's'.
 */
typedef tr_err_t tr_consumer_topic_cb(const struct tr_str *topic, void *arg);
tr_err_t tr_consumer_subscription_decode(struct tr_slice *s,
                                         tr_consumer_topic_cb *cb, void *arg);

/* ConsumerProtocolAssignment v0 from 'n' entries grouped by topic. */
tr_err_t tr_consumer_assignment_encode(struct tr_buf *b,
                                       const struct tr_assignment *a, size_t n);
/* Calls 'cb' per assigned partition; 'topic' is borrowed from 's'. */
typedef tr_err_t tr_consumer_tp_cb(const struct tr_str *topic,
                                   int32_t partition, void *arg);
tr_err_t tr_consumer_assignment_decode(struct tr_slice *s,
                                       tr_consumer_tp_cb *cb, void *arg);

#endif /* TR_CONSUMER_H */
