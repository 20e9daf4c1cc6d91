/*
 * groups -- the consumer-group coordinator: groups, members, generations,
 * rebalances, committed offsets, and their persistence.
 *
 * A single collector coordinates every group id. In a cluster, a group is
 * coordinated by the leader of its partition of __consumer_offsets, as in
 * Kafka: FindCoordinator names that leader, and every other broker answers
 * the group's requests with NOT_COORDINATOR, so clients look again after a
 * failover. The coordinator learns about leadership by asking, through the
 * calls in struct tr_groups_cluster: whenever it serves a partition, and
 * for every partition on each tr_groups_tick(), it compares the leader
 * epoch it loaded the partition's groups at with the current one. At a
 * new epoch (the followers appended records by replication, unseen by
 * this module) it forgets that partition's groups and replays the
 * partition's log to its end before answering. A broker that no longer
 * leads a partition drops its groups and never appends to it, not even
 * from tr_groups_tick().
 *
 * A group moves through Kafka's classic states:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable --join, leave,
 *   session expiry--> PreparingRebalance ...; the last member leaving
 *   returns the group to Empty; DeleteGroups and offset expiry make it Dead
 *   (it is then forgotten).
 *
 * In a cluster the leader's SyncGroup makes the group Stable only once the
 * group's metadata record is committed (the partition's high watermark has
 * passed it); until then the group stays CompletingRebalance and every
 * member's SyncGroup waits, as with Kafka's acks=-1 append.
 *
 * JoinGroup and SyncGroup wait: the coordinator answers "park" and the
 * handler sets req->park_ms. Before parking, the coordinator watches the
 * group's key in waits ("__group:<id>", partition 0) on the request's waiter,
 * and it notifies that key whenever a join completes, a group becomes Stable,
 * a rebalance begins, or the group is unloaded; the server then runs the
 * request again. Each member keeps the outcome of its join (and the group
 * its assignments), so the re-run finds its answer. A re-run of a join that
 * came without a member id is recognised by its 'token' (the connection's
 * waiter, constant while the request is parked). A leader's SyncGroup
 * waiting for its record to be committed also watches the partition of
 * __consumer_offsets, which the cluster notifies when its high watermark
 * moves or its leadership changes.
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
 * Kafka. On a single collector an OffsetCommit is answered once its batch
 * is appended (in the page cache: it survives a kill of the process; the
 * topic's flush policy decides when it survives a power loss), and
 * tr_groups_open() replays every partition to rebuild offsets and groups.
 * In a cluster tr_groups_commit() reports where its batch went (struct
 * tr_groups_ack) and the handler answers once tr_groups_acked() says the
 * batch is committed.
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
struct tr_partition;

#define TR_GROUPS_TOPIC "__consumer_offsets"
/*
 * Its configs (Kafka's offsets.topic.segment.bytes is 100 MiB), locally
 * and in a cluster's /config/topics alike.
 */
#define TR_GROUPS_TOPIC_CLEANUP_POLICY "compact"
#define TR_GROUPS_TOPIC_SEGMENT_BYTES  "104857600"

struct tr_groups_config {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes */
    int32_t offsets_partitions;         /* offsets.topic.num.partitions */
    int32_t metadata_max_bytes;         /* offset.metadata.max.bytes, 4096 */
    int32_t commit_timeout_ms;          /* offsets.commit.timeout.ms */
    int32_t max_size; /* group.max.size: members, pending ones included */
    /*
     * Called (with the coordinator's lock held; it must not call back)
     * when a group leaves memory: deleted, expired, or its partition's
     * leadership gone. NULL: nothing to tell.
     */
    void (*removed)(void *arg, const char *group_id);
    void *removed_arg;
};

/* Kafka's offsets.commit.timeout.ms: how long a commit waits, in a cluster. */
#define TR_GROUPS_COMMIT_TIMEOUT_MS 5000

/* Fills 'cfg' with Kafka's defaults. */
void tr_groups_config_defaults(struct tr_groups_config *cfg);

struct tr_groups;

/*
 * How the coordinator asks the cluster about __consumer_offsets (main.c
 * wires these to cluster.h; tests move leaderships by hand). Partitions are
 * those of __consumer_offsets. Every call is made with the coordinator's
 * lock held and must not call back into this module.
 */
struct tr_groups_cluster {
    void *arg;
    /* The topic's partition count in the cluster, -1 while unknown. */
    int32_t (*partitions)(void *arg);
    /*
     * TR_KERR_NONE and the leader epoch in *epoch when this broker leads
     * 'partition'; with 'acks_all', also NOT_ENOUGH_REPLICAS when the ISR
     * is below min.insync.replicas. A Kafka error otherwise.
     */
    int16_t (*leader_epoch)(void *arg, int32_t partition, int acks_all,
                            int32_t *epoch);
    /* After the coordinator appended to 'part' as its leader. */
    void (*appended)(void *arg, struct tr_partition *part);
    /*
     * TR_KERR_NONE once the high watermark passed 'last_offset' with the
     * leadership of 'epoch' intact, -1 while it has not, or the error
     * (NOT_LEADER_OR_FOLLOWER when the leadership moved).
     */
    int16_t (*acked)(void *arg, int32_t partition, int32_t epoch,
                     int64_t last_offset);
};

/*
 * Returns an owned coordinator in *out. 'topics' and 'waits' (may be NULL
 * in tests) are borrowed and must outlive it; 'cluster' (NULL: a single
 * collector) is copied. Creates __consumer_offsets in 'topics' if missing,
 * with its compaction settings, so that the replicas a cluster puts there
 * get them too. A single collector replays the topic at once; in a cluster
 * nothing is loaded until this broker leads a partition. On failure
 * 'errbuf' says why.
 */
tr_err_t tr_groups_open(struct tr_topics *topics, struct tr_waits *waits,
                        const struct tr_groups_cluster *cluster,
                        const struct tr_groups_config *cfg, int64_t now_ms,
                        struct tr_groups **out, char *errbuf, size_t errlen);
/* True when this coordinator holds group 'id' in memory now. */
int tr_groups_exists(struct tr_groups *groups, const struct tr_str *id);

/* Frees the coordinator (the log is already durable); NULL is a no-op. */
void tr_groups_close(struct tr_groups *groups);

/*
 * Periodic work: completes joins whose rebalance timeout or initial delay
 * has passed, expires members whose session timed out, expires offsets of
 * groups that have been empty for offsets.retention.minutes, settles
 * SyncGroup writes waiting to be committed. In a cluster it first drops
 * the groups of partitions this broker no longer leads (and loads those
 * it leads at a new epoch), and touches only the groups it coordinates.
 */
void tr_groups_tick(struct tr_groups *groups, int64_t now_ms);

/* The partition of __consumer_offsets that holds 'group'. */
int32_t tr_groups_partition_for(const struct tr_str *group, int32_t partitions);

/*
 * The partition of __consumer_offsets holding 'group' with the partition
 * count in use (the cluster's, in a cluster); -1 while the cluster does not
 * know the topic yet.
 */
int32_t tr_groups_coordinator_partition(struct tr_groups *groups,
                                        const struct tr_str *group);

/*
 * Where a write of the coordinator waits to be committed, in a cluster:
 * the partition of __consumer_offsets, the leader epoch it was appended in
 * and its last offset. partition -1: nothing to wait for.
 */
struct tr_groups_ack {
    int32_t partition;
    int32_t epoch;
    int64_t last_offset;
};

/*
 * TR_KERR_NONE once the write is committed, -1 while it is not yet, or
 * NOT_COORDINATOR when the leadership moved on first (the write may be
 * lost; the client commits again at the new coordinator).
 */
int16_t tr_groups_acked(struct tr_groups *groups,
                        const struct tr_groups_ack *ack);

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
 * them visible. Sets each entry's error (NOT_COORDINATOR for all on a
 * broker that does not coordinate the group). In a cluster *ack says what
 * to wait for before answering (see tr_groups_acked); 'ack' may be NULL.
 */
tr_err_t tr_groups_commit(struct tr_groups *groups,
                          const struct tr_str *group_id,
                          const struct tr_str *member_id,
                          const struct tr_str *instance_id, int32_t generation,
                          struct tr_offset_commit *offs, int32_t n,
                          int64_t now_ms, struct tr_groups_ack *ack);

/*
 * Transactional offsets (KIP-98, TxnOffsetCommit): validated like a commit
 * (a request without member information, generation -1 and no member or
 * instance id, is accepted in any group state), written to
 * __consumer_offsets as one transactional batch of 'producer_id' at
 * 'producer_epoch', and kept pending, invisible to tr_groups_offsets, until
 * the transaction's marker reaches the group's partition:
 * tr_groups_txn_complete then commits them (COMMIT) or drops them (ABORT).
 * A replay of the log applies the same rules. Sets each entry's error
 * (INVALID_PRODUCER_EPOCH when the partition has seen a newer epoch).
 */
tr_err_t
tr_groups_txn_commit(struct tr_groups *groups, const struct tr_str *group_id,
                     const struct tr_str *member_id,
                     const struct tr_str *instance_id, int32_t generation,
                     int64_t producer_id, int16_t producer_epoch,
                     struct tr_offset_commit *offs, int32_t n, int64_t now_ms);
/* The marker of 'producer_id' was written to 'partition'. TR_ERR_NOMEM. */
tr_err_t tr_groups_txn_complete(struct tr_groups *groups, int32_t partition,
                                int64_t producer_id, int commit);
/*
 * Whether the group has a pending transactional offset for the partition
 * (OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT then).
 */
int tr_groups_txn_pending(struct tr_groups *groups,
                          const struct tr_str *group_id, const char *topic,
                          int32_t partition);

/* A committed offset, as returned by tr_groups_offsets(). */
struct tr_group_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;       /* NUL-terminated, but may hold NULs */
    int32_t metadata_len; /* its bytes, exactly as committed */
};

/*
 * Returns an owned copy of the group's committed offsets, sorted by topic
 * then partition (free with tr_group_offsets_free); an unknown group has
 * none. *kerr gets NOT_COORDINATOR (and no offsets) on a broker that does
 * not coordinate the group, else TR_KERR_NONE.
 */
tr_err_t tr_groups_offsets(struct tr_groups *groups,
                           const struct tr_str *group_id, int64_t now_ms,
                           struct tr_group_offset **out, size_t *count,
                           int16_t *kerr);
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

/*
 * Returns an owned array of every group this broker coordinates (free with
 * tr_group_listing_free).
 */
tr_err_t tr_groups_list(struct tr_groups *groups, int64_t now_ms,
                        struct tr_group_listing **out, size_t *count);
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
    int16_t error;             /* NOT_COORDINATOR: not this broker's group */
    enum tr_group_state state; /* TR_GROUP_DEAD for an unknown group */
    int32_t generation;
    char *protocol_type;
    char *protocol;
    char *leader;
    size_t nmembers;
    struct tr_group_member_info *members;
};

tr_err_t tr_groups_describe(struct tr_groups *groups,
                            const struct tr_str *group_id, int64_t now_ms,
                            struct tr_group_description *out);
void tr_group_description_cleanup(struct tr_group_description *desc);

/*
 * Deletes an empty group and its offsets (tombstones in the log). Returns
 * GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR or NONE.
 */
int16_t tr_groups_delete(struct tr_groups *groups,
                         const struct tr_str *group_id, int64_t now_ms);

/*
 * OffsetDelete: removes the group's committed offsets of 'n' partitions
 * (their 'offset', 'leader_epoch' and 'metadata' are unused), with
 * tombstones in the log. As Kafka: a group that is not empty must use the
 * consumer protocol, and the partitions of topics its members subscribe
 * to keep their offsets (GROUP_SUBSCRIBED_TO_TOPIC in their 'error'; the
 * others get NONE, committed offset or not). Returns the group's error:
 * GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE (the write failed) or NONE.
 */
int16_t tr_groups_delete_offsets(struct tr_groups *groups,
                                 const struct tr_str *group_id,
                                 struct tr_offset_commit *parts, size_t n,
                                 int64_t now_ms);

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
