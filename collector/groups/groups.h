/*
 * groups -- the consumer-group coordinator: groups, members, generations,
 * rebalances, committed offsets, and their persistence.
 *
 * Every group id maps to this broker (a single node coordinates them all).
 * A group moves through Kafka's classic states:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable --join, leave,
 *   session expiry--> PreparingRebalance ...; the last member leaving
 *   returns the group to Empty; DeleteGroups and offset expiry make it Dead
 *   (it is then forgotten).
 *
 * JoinGroup and SyncGroup wait: the coordinator answers "park" and the
 * handler sets req->park_ms. Before parking, the coordinator watches the
 * group's key in waits ("__group:<id>", partition 0) on the request's waiter,
 * and it notifies that key whenever a join completes, a group becomes Stable,
 * or a rebalance begins; the server then runs the request again. Each
 * member keeps the outcome of its join (and the group its assignments), so
 * the re-run finds its answer. A re-run of a join that came without a member
 * id is recognised by its 'token' (the connection's waiter, constant while
 * the request is parked).
 *
 * Committed offsets and group metadata are written to the internal topic
 * __consumer_offsets (cleanup.policy=compact) with Kafka's record schemas,
 * so Kafka's own tools can read them:
 *
 *   offset commit   key   v1: int16 1, string group, string topic,
 *                             int32 partition
 *                   value v3: int16 3, int64 offset, int32 leader_epoch,
 *                             string metadata, int64 commit_timestamp
 *   group metadata  key   v2: int16 2, string group
 *                   value v3: int16 3, string protocol_type,
 *                             int32 generation, string? protocol,
 *                             string? leader, int64 current_state_timestamp,
 *                             [member_id, instance_id?, client_id,
 *                              client_host, int32 rebalance_timeout,
 *                              int32 session_timeout, bytes subscription,
 *                              bytes assignment]
 *   a null value (tombstone) deletes the key.
 *
 * A group lives in partition abs(java_hash(group)) % partitions, as in
 * Kafka. An OffsetCommit is answered only after its batch is appended (in
 * the page cache: it survives a kill of the process; the topic's flush
 * policy decides when it survives a power loss). tr_groups_open() replays
 * every partition to rebuild offsets and groups.
 *
 * Thread safety: one mutex guards the coordinator; any thread may call any
 * function. Times are wall-clock milliseconds passed in by the caller.
 */
#ifndef TR_GROUPS_H
#define TR_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto.h"

struct tr_topics;
struct tr_waits;
struct tr_waiter;
struct tr_buf;

#define TR_GROUPS_TOPIC "__consumer_offsets"

struct tr_groups_config {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes */
    int32_t offsets_partitions;         /* offsets.topic.num.partitions */
    int32_t metadata_max_bytes;         /* offset.metadata.max.bytes, 4096 */
};

/* Fills 'cfg' with Kafka's defaults. */
void tr_groups_config_defaults(struct tr_groups_config *cfg);

struct tr_groups;

/*
 * Creates __consumer_offsets in 'topics' if missing, replays it, and
 * returns an owned coordinator in *out. 'topics' and 'waits' (may be NULL
 * in tests) are borrowed and must outlive it. On failure 'errbuf' says why.
 */
tr_err_t tr_groups_open(struct tr_topics *topics, struct tr_waits *waits,
                        const struct tr_groups_config *cfg, int64_t now_ms,
                        struct tr_groups **out, char *errbuf, size_t errlen);
/* Frees the coordinator (the log is already durable); NULL is a no-op. */
void tr_groups_close(struct tr_groups *groups);

/*
 * Periodic work: completes joins whose rebalance timeout or initial delay
 * has passed, expires members whose session timed out, expires offsets of
 * groups that have been empty for offsets.retention.minutes.
 */
void tr_groups_tick(struct tr_groups *groups, int64_t now_ms);

/* The partition of __consumer_offsets that holds 'group'. */
int32_t tr_groups_partition_for(const struct tr_str *group, int32_t partitions);

/* One protocol a member supports; borrowed from the request. */
struct tr_group_protocol {
    struct tr_str name;
    struct tr_str metadata;
};

/* A JoinGroup, decoded; every pointer is borrowed from the request. */
struct tr_join_request {
    struct tr_str group_id;
    struct tr_str member_id;   /* empty: a new member */
    struct tr_str instance_id; /* len -1: not a static member */
    struct tr_str client_id;
    const char *client_host;
    struct tr_str protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int16_t version;
    int32_t nprotocols;
    const struct tr_group_protocol *protocols;
    const void *token;        /* identifies the request across re-runs */
    struct tr_waiter *waiter; /* watched before parking; may be NULL */
};

struct tr_join_member {
    char *member_id;
    char *instance_id; /* NULL if none */
    uint8_t *metadata;
    int32_t metadata_len;
};

/* The answer to a join; strings and arrays are owned (see cleanup). */
struct tr_join_result {
    int16_t error;
    int32_t park_ms; /* > 0: park and run again */
    int32_t generation;
    char *protocol; /* NULL: none chosen */
    char *leader;
    char *member_id;
    int32_t nmembers; /* only for the leader */
    struct tr_join_member *members;
};

void tr_join_result_cleanup(struct tr_join_result *res);

/*
 * Handles a JoinGroup (first run or re-run). 'final' is set on the last
 * run, when the request may no longer park. TR_ERR_NOMEM on allocation
 * failure; Kafka errors go into res->error.
 */
tr_err_t tr_groups_join(struct tr_groups *groups,
                        const struct tr_join_request *jr, int final,
                        int64_t now_ms, struct tr_join_result *res);

struct tr_group_assignment {
    struct tr_str member_id;
    struct tr_str assignment;
};

struct tr_sync_request {
    struct tr_str group_id;
    struct tr_str member_id;
    struct tr_str instance_id;
    int32_t generation;
    int32_t nassignments;
    const struct tr_group_assignment *assignments;
    struct tr_waiter *waiter;
};

struct tr_sync_result {
    int16_t error;
    int32_t park_ms;
    uint8_t *assignment; /* owned */
    int32_t assignment_len;
};

void tr_sync_result_cleanup(struct tr_sync_result *res);

tr_err_t tr_groups_sync(struct tr_groups *groups,
                        const struct tr_sync_request *sr, int final,
                        int64_t now_ms, struct tr_sync_result *res);

/* Returns the Kafka error for a Heartbeat. */
int16_t tr_groups_heartbeat(struct tr_groups *groups,
                            const struct tr_str *group_id,
                            const struct tr_str *member_id,
                            const struct tr_str *instance_id,
                            int32_t generation, int64_t now_ms);

/*
 * Removes one member (by member id, or by instance id when member_id is
 * empty) and starts a rebalance. Returns the Kafka error.
 */
int16_t tr_groups_leave(struct tr_groups *groups, const struct tr_str *group_id,
                        const struct tr_str *member_id,
                        const struct tr_str *instance_id, int64_t now_ms);

/* One partition of an OffsetCommit; pointers are borrowed. */
struct tr_offset_commit {
    struct tr_str topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    struct tr_str metadata; /* len -1: null, stored as "" */
    int16_t error;          /* set by tr_groups_commit */
};

/*
 * Validates the commit against the group's generation and member, writes
 * the accepted partitions to __consumer_offsets as one batch, then makes
 * them visible. Sets each entry's error.
 */
tr_err_t tr_groups_commit(struct tr_groups *groups,
                          const struct tr_str *group_id,
                          const struct tr_str *member_id,
                          const struct tr_str *instance_id, int32_t generation,
                          struct tr_offset_commit *offs, int32_t n,
                          int64_t now_ms);

/* A committed offset, as returned by tr_groups_offsets(). */
struct tr_group_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
};

/*
 * Returns an owned copy of the group's committed offsets, sorted by topic
 * then partition (free with tr_group_offsets_free); an unknown group has
 * none.
 */
tr_err_t tr_groups_offsets(struct tr_groups *groups,
                           const struct tr_str *group_id,
                           struct tr_group_offset **out, size_t *count);
void tr_group_offsets_free(struct tr_group_offset *offs, size_t count);

enum tr_group_state {
    TR_GROUP_EMPTY,
    TR_GROUP_PREPARING_REBALANCE,
    TR_GROUP_COMPLETING_REBALANCE,
    TR_GROUP_STABLE,
    TR_GROUP_DEAD,
};

/* "Empty", "PreparingRebalance", ... as Kafka names them. */
const char *tr_group_state_name(enum tr_group_state state);

struct tr_group_listing {
    char *group_id;
    char *protocol_type;
    enum tr_group_state state;
};

/* Returns an owned array of every group (free with tr_group_listing_free). */
tr_err_t tr_groups_list(struct tr_groups *groups, struct tr_group_listing **out,
                        size_t *count);
void tr_group_listing_free(struct tr_group_listing *list, size_t count);

struct tr_group_member_info {
    char *member_id;
    char *instance_id;
    char *client_id;
    char *client_host;
    uint8_t *metadata;
    int32_t metadata_len;
    uint8_t *assignment;
    int32_t assignment_len;
};

struct tr_group_description {
    enum tr_group_state state; /* TR_GROUP_DEAD for an unknown group */
    int32_t generation;
    char *protocol_type;
    char *protocol;
    char *leader;
    size_t nmembers;
    struct tr_group_member_info *members;
};

tr_err_t tr_groups_describe(struct tr_groups *groups,
                            const struct tr_str *group_id,
                            struct tr_group_description *out);
void tr_group_description_cleanup(struct tr_group_description *desc);

/*
 * Deletes an empty group and its offsets (tombstones in the log). Returns
 * GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or NONE.
 */
int16_t tr_groups_delete(struct tr_groups *groups,
                         const struct tr_str *group_id, int64_t now_ms);

/*
 * Record codec of __consumer_offsets (exported for tests and tools).
 * Encoders append to 'out'; decoders borrow from the bytes given.
 */
void tr_groups_put_offset_key(struct tr_buf *out, const struct tr_str *group,
                              const struct tr_str *topic, int32_t partition);
void tr_groups_put_offset_value(struct tr_buf *out, int64_t offset,
                                int32_t leader_epoch,
                                const struct tr_str *metadata,
                                int64_t commit_ts);

enum tr_groups_key_type {
    TR_GROUPS_KEY_OFFSET = 1,
    TR_GROUPS_KEY_GROUP = 2,
};

struct tr_groups_key {
    enum tr_groups_key_type type;
    struct tr_str group;
    struct tr_str topic; /* offset keys only */
    int32_t partition;
};

struct tr_groups_offset_value {
    int64_t offset;
    int32_t leader_epoch;
    struct tr_str metadata;
    int64_t commit_ts;
};

/* TR_ERR_CORRUPT for a malformed key, TR_ERR_UNSUPPORTED for a version. */
tr_err_t tr_groups_decode_key(const uint8_t *p, size_t len,
                              struct tr_groups_key *key);
tr_err_t tr_groups_decode_offset_value(const uint8_t *p, size_t len,
                                       struct tr_groups_offset_value *val);

#endif /* TR_GROUPS_H */
