/*
 * cluster -- this collector as a member of a cluster coordinated by
 * ZooKeeper (Kafka's classic design; see docs/cluster.md).
 *
 * One cluster thread owns the ZooKeeper session and everything written to
 * it: the broker's registration (/brokers/ids/N), the controller election
 * (/controller, /controller_epoch) and, while this broker is controller,
 * the controller's work: assign replicas, elect leaders from the ISR, write
 * partition states (fenced by the controller epoch and the znode version),
 * and tell brokers their roles with LeaderAndIsr and the cluster's shape
 * with UpdateMetadata. As a partition leader it also writes ISR changes
 * (shrink after replica.lag.time.max.ms, expand when caught up) and leaves
 * an /isr_change_notification for the controller.
 *
 * The request handlers (network threads) ask it, under its lock, whether
 * this broker leads a partition, record followers' fetch positions (which
 * move the high watermark: the smallest log end of the ISR), and read the
 * cluster view for Metadata. LeaderAndIsr is applied on the cluster thread
 * (it may create logs and talk to ZooKeeper); UpdateMetadata at once.
 *
 * Single-node collectors (no zookeeper.connect) have no tr_cluster at all:
 * broker->cluster is NULL and every caller keeps its old behaviour.
 */
#ifndef TR_CLUSTER_H
#define TR_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rpc.h"

struct tr_broker;
struct tr_broker_config;
struct tr_cluster;
struct tr_partition;

/*
 * Connects to ZooKeeper and starts the cluster thread; the broker registers
 * once the session is up. Owned result in *out; 'broker' is borrowed and
 * must outlive it.
 */
tr_err_t tr_cluster_start(struct tr_broker *broker, struct tr_cluster **out,
                          char *errbuf, size_t errlen);
/*
 * Whether the broker has registered in ZooKeeper at least once since
 * tr_cluster_start (it then takes part in the cluster); safe to call from
 * any thread. main() tells the service manager it is ready after that.
 */
int tr_cluster_registered(const struct tr_cluster *c);
/*
 * broker.id=-1 without an id in meta.properties: takes the next id from
 * ZooKeeper, reserved.broker.max.id + the new version of /brokers/seqid
 * (1001, 1002, ... by default), as Kafka does. Blocks with a session of its
 * own for at most zookeeper.connection.timeout.ms, before the listener and
 * the cluster thread start (every part of the broker uses its id).
 */
tr_err_t tr_cluster_generate_broker_id(const struct tr_broker_config *cfg,
                                       int32_t *id, char *errbuf,
                                       size_t errlen);
/*
 * Controlled shutdown (when controlled.shutdown.enable): asks the
 * controller to move this broker's leaderships away and waits (bounded)
 * until it has. Call before the listener closes.
 */
void tr_cluster_controlled_shutdown(struct tr_cluster *c);
/* Stops the threads and closes the session; NULL is a no-op. */
void tr_cluster_free(struct tr_cluster *c);

/* The broker id in use (broker.id, or the one generated for -1). */
int32_t tr_cluster_broker_id(struct tr_cluster *c);

/*
 * Produce: TR_KERR_NONE when this broker leads the partition and, for
 * acks=all, the ISR has at least min.insync.replicas members;
 * NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS or UNKNOWN_TOPIC_OR_PARTITION
 * otherwise. *epoch gets the leader epoch (to notice a change later).
 */
int16_t tr_cluster_check_produce(struct tr_cluster *c, const char *topic,
                                 int32_t partition, int acks_all,
                                 int32_t *epoch);
/*
 * After a leader's append: the HW moves at once when the ISR is the leader
 * alone. The caller wakes the partition's waiters, as after any append.
 */
void tr_cluster_after_append(struct tr_cluster *c, struct tr_partition *part);
/*
 * A parked acks=all produce: NONE once the HW passed 'last_offset' with the
 * leadership of 'epoch' intact, -1 while still waiting, or the error to
 * answer (NOT_LEADER_OR_FOLLOWER when the leadership moved on).
 */
int16_t tr_cluster_check_acked(struct tr_cluster *c, const char *topic,
                               int32_t partition, int32_t epoch,
                               int64_t last_offset);
/*
 * A transaction coordinator's markers for partitions other brokers lead:
 * one WriteTxnMarkers request to each leader (over the inter-broker
 * listener, as its principal), waiting for the answer. Sets each
 * partition's error: the leader's answer, NOT_LEADER_OR_FOLLOWER when the
 * partition has no leader or the leader cannot be reached (the caller
 * tries again later), NONE for a partition whose topic is gone (Kafka
 * drops it).
 */
struct tr_rpc_marker;
void tr_cluster_write_txn_markers(struct tr_cluster *c,
                                  struct tr_rpc_marker *m);

/*
 * Fetch and OffsetForLeaderEpoch on a local partition: consumers read from
 * the leader only; a follower (replica_id >= 0) also has its position
 * recorded, which may move the HW and the ISR. 'current_epoch' is the
 * fetcher's idea of the leader epoch (-1: none). *catching_up (may be
 * NULL) is set to 1 for a follower outside the ISR: its fetch counts
 * against the leader side of the replication throttle,
 * tr_cluster_leader_throttle (which the fetch handler asks before reading
 * and tells what it sent).
 */
int16_t tr_cluster_check_fetch(struct tr_cluster *c, struct tr_partition *part,
                               int32_t replica_id, int32_t current_epoch,
                               int64_t fetch_offset, int *catching_up);
struct tr_throttle *tr_cluster_leader_throttle(struct tr_cluster *c);

/*
 * Dynamic broker settings (Kafka's KIP-226 storage, collector/dynconf.h):
 * writes the whole set of one broker ('broker' its id) or of every broker
 * ('broker' "") to /config/brokers/<id> or /config/brokers/<default> and
 * announces it under /config/changes ("brokers/<id>"), so that every
 * broker reads it again and applies it. The keys were checked by
 * tr_dynconf_prepare. Kafka error code; errbuf says why.
 */
int16_t tr_cluster_alter_broker_config(struct tr_cluster *c, const char *broker,
                                       const char *const *keys,
                                       const char *const *values, size_t n,
                                       char *errbuf, size_t errlen);

/*
 * Metadata: the live brokers (owned copy, free with tr_free), each with
 * every listener it advertises; tr_rpc_endpoint() picks the one a client
 * should be given (that of the listener its request came on).
 */
size_t tr_cluster_brokers(struct tr_cluster *c, struct tr_broker_info **out);
/*
 * Whether live broker 'id' has listener 'listener' (NULL: any): 1 yes, 0
 * no, -1 when the view has no such broker.
 */
int tr_cluster_broker_listener(struct tr_cluster *c, int32_t id,
                               const char *listener);
int32_t tr_cluster_controller_id(struct tr_cluster *c);
/* Partitions of 'topic' in the view, -1 when unknown. */
int32_t tr_cluster_partition_count(struct tr_cluster *c, const char *topic);
/* 1 and *out filled when the view knows the partition. */
int tr_cluster_partition_state(struct tr_cluster *c, const char *topic,
                               int32_t partition, struct tr_pstate *out);
/*
 * The consoles of a cluster: each collector publishes where its HTTP
 * listener answers (the ephemeral TR_CLUSTER_HTTP_PATH/<id>, "host:port",
 * written again at every registration), so that one console can gather
 * the groups and partitions the others lead (collector/http/fanout.h).
 * tr_cluster_set_http is called once the listener is up; ""
 * withdraws nothing already published (it goes with the session).
 */
#define TR_CLUSTER_HTTP_PATH "/tributary/http"

struct tr_cluster_http_peer {
    int32_t id;
    char addr[300]; /* "host:port" */
};

void tr_cluster_set_http(struct tr_cluster *c, const char *addr);
/*
 * Reads the published HTTP listeners from ZooKeeper (this collector's
 * too): an owned array (tr_free) in *out, and its length. 0 on any error.
 */
size_t tr_cluster_http_peers(struct tr_cluster *c,
                             struct tr_cluster_http_peer **out);

/* Topic names in the view (owned array of owned strings). */
size_t tr_cluster_topics(struct tr_cluster *c, char ***out);

/*
 * CreateTopics / auto-creation: assigns 'partitions' x 'rf' replicas over
 * the live brokers (rack-aware when they have broker.rack, see assign.h)
 * and writes /config/topics/T and /brokers/topics/T. Kafka error codes:
 * TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR (more than the live
 * brokers), INVALID_PARTITIONS, INVALID_REPLICA_ASSIGNMENT (only some
 * brokers have a rack). Returns once ZooKeeper has it: the controller
 * then elects the leaders, and tr_cluster_topic_ready says when this broker
 * knows them (callers on a network thread park meanwhile, watching
 * TR_WAITS_METADATA: the controller's requests to this broker come on the
 * same network threads).
 */
int16_t tr_cluster_create_topic(struct tr_cluster *c, const char *name,
                                int32_t partitions, int32_t rf,
                                const char *const *config_keys,
                                const char *const *config_values,
                                size_t nconfigs, char *errbuf, size_t errlen);
/*
 * CreateTopics with explicit Assignments: as above with the client's
 * 'replicas' (partitions x rf, borrowed; already checked with
 * tr_assign_explicit), which must name live brokers only, else
 * INVALID_REPLICA_ASSIGNMENT. With 'validate_only' it checks and writes
 * nothing.
 */
int16_t tr_cluster_create_topic_assigned(struct tr_cluster *c, const char *name,
                                         const int32_t *replicas,
                                         int32_t partitions, int32_t rf,
                                         const char *const *config_keys,
                                         const char *const *config_values,
                                         size_t nconfigs, int validate_only,
                                         char *errbuf, size_t errlen);

/* 1 when this broker's metadata has 'partitions' partitions of 'name', each
 * with a leader. */
int tr_cluster_topic_ready(struct tr_cluster *c, const char *name,
                           int32_t partitions);

/*
 * One partition named by an admin request (AlterPartitionReassignments,
 * ListPartitionReassignments, ElectLeaders) and its outcome.
 */
struct tr_partition_op {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
    int32_t replicas[TR_MAX_REPLICAS];        /* target; for LIST the current */
    int32_t nreplicas;                        /* -1: cancel the reassignment */
    int32_t adding[TR_MAX_REPLICAS], nadding; /* LIST */
    int32_t removing[TR_MAX_REPLICAS], nremoving; /* LIST */
    int16_t error;                                /* Kafka error code */
    char message[160];                            /* "" when none */
};

/* ElectionType of ElectLeaders. */
#define TR_ELECTION_PREFERRED 0
#define TR_ELECTION_UNCLEAN   1

/*
 * AlterPartitionReassignments: starts (or, with nreplicas -1, cancels) the
 * moves on the controller. Each item's error and message are set;
 * NOT_CONTROLLER when this broker is not the controller, REQUEST_TIMED_OUT
 * when it did not answer within 'timeout_ms'.
 */
int16_t tr_cluster_alter_reassignments(struct tr_cluster *c,
                                       struct tr_partition_op *items, size_t n,
                                       int timeout_ms);
/*
 * ListPartitionReassignments: the moves in progress, as an owned array in
 * *out (free with tr_free).
 */
int16_t tr_cluster_list_reassignments(struct tr_cluster *c,
                                      struct tr_partition_op **out,
                                      size_t *nout, int timeout_ms);
/*
 * ElectLeaders: preferred or unclean election for 'items' (n > 0; each
 * item's error set), or for every partition when n is 0, in which case
 * *out gets an owned array of the partitions an election was tried on.
 */
int16_t tr_cluster_elect_leaders(struct tr_cluster *c, int8_t type,
                                 struct tr_partition_op *items, size_t n,
                                 struct tr_partition_op **out, size_t *nout,
                                 int timeout_ms);

/*
 * DeleteTopics: asks the controller to delete 'name' (Kafka's
 * /admin/delete_topics/<name>) and returns; the deletion is done here once
 * tr_cluster_partition_count(c, name) < 0. UNKNOWN_TOPIC_OR_PARTITION when
 * there is no such topic.
 */
int16_t tr_cluster_delete_topic(struct tr_cluster *c, const char *name);

/*
 * A topic's configs changed here (AlterConfigs): publishes its whole set of
 * overrides to /config/topics/<topic> and announces it under
 * /config/changes, as Kafka does, so that every replica applies it.
 */
int16_t tr_cluster_topic_configs_changed(struct tr_cluster *c,
                                         const char *topic,
                                         const char *const *keys,
                                         const char *const *values, size_t n);

/* Inter-broker requests, from api/replica.c. The message is consumed. */
int16_t tr_cluster_leader_and_isr(struct tr_cluster *c, struct tr_state_msg *m);
int16_t tr_cluster_update_metadata(struct tr_cluster *c,
                                   struct tr_state_msg *m);
int16_t tr_cluster_stop_replica(struct tr_cluster *c, struct tr_stop_msg *m);
/*
 * ControlledShutdown on the controller: moves the leaderships of broker
 * 'id' to other ISR members; *remaining gets how many it still leads.
 */
int16_t tr_cluster_handle_controlled_shutdown(struct tr_cluster *c, int32_t id,
                                              int32_t *remaining);

/*
 * SCRAM credentials as Kafka 2.x keeps them (security/credentials):
 * /config/users/<sanitized user> holds {"version":1,"config":{...}}, the
 * user's SCRAM credentials (and, in Kafka, its quotas). Any thread may call
 * these. tr_cluster_user_get returns the znode's data (owned: free()) or
 * TR_ERR_NOT_FOUND; tr_cluster_user_put creates or replaces it and
 * announces users/<sanitized> under /config/changes; tr_cluster_user_names
 * lists /config/users (an owned array of owned strings: tr_free each and
 * the array).
 */
tr_err_t tr_cluster_user_get(struct tr_cluster *c, const char *sanitized,
                             char **data, size_t *len);
tr_err_t tr_cluster_user_put(struct tr_cluster *c, const char *sanitized,
                             const char *data, size_t len);
tr_err_t tr_cluster_user_names(struct tr_cluster *c, char ***names, int *count);

/*
 * Client quotas (security/quota.h's remote): 'path' is relative to
 * /config ("users/alice/clients/app"). get: the znode's data (owned:
 * free()) or TR_ERR_NOT_FOUND. put: creates or replaces it (a missing
 * users/<u> parent gets an empty config) and announces 'path' under
 * /config/changes. children: the znode's children (free with
 * tr_zk_free_children), none when it does not exist. Any thread.
 */
tr_err_t tr_cluster_config_get(struct tr_cluster *c, const char *path,
                               char **data, size_t *len);
tr_err_t tr_cluster_config_put(struct tr_cluster *c, const char *path,
                               const char *data, size_t len);
tr_err_t tr_cluster_config_children(struct tr_cluster *c, const char *path,
                                    char ***names, int *count);

/*
 * ACLs as Kafka 2.x keeps them (security/acl.h): fills 'out' with the
 * authorizer's view of the ZooKeeper session, and has the cluster thread
 * load them once registered and again at every change notification under
 * /kafka-acl-changes and /kafka-acl-extended-changes.
 */
struct tr_acl_remote;
void tr_cluster_acl_remote(struct tr_cluster *c, struct tr_acl_remote *out);

#endif /* TR_CLUSTER_H */
