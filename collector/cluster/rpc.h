/*
 * rpc -- the requests brokers send each other, and a blocking connection
 * to send them on.
 *
 * The controller tells brokers their roles with LeaderAndIsr (v1) and the
 * cluster's shape with UpdateMetadata (v4); a stopping broker asks the
 * controller to move its leaderships with ControlledShutdown (v1); a
 * follower that must find where its log diverges asks the leader with
 * OffsetForLeaderEpoch (v3). LeaderAndIsr and UpdateMetadata carry the same
 * per-partition state, so one struct and one codec serve both, on both
 * sides. Decoders are bounds-checked and cap every count.
 *
 * tr_rpc_conn is a blocking connection with timeouts (over TLS and SASL
 * when the inter-broker listener has them), for the cluster thread's
 * senders and the replica fetchers, which each own theirs.
 */
#ifndef TR_RPC_H
#define TR_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "peer.h"

#define TR_MAX_REPLICAS 16
#define TR_TOPIC_MAX    249

struct tr_pstate {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
    int32_t controller_epoch;
    int32_t leader; /* -1: none (offline) */
    int32_t leader_epoch;
    int32_t zk_version;
    int32_t nisr, isr[TR_MAX_REPLICAS];
    int32_t nreplicas, replicas[TR_MAX_REPLICAS];
    int32_t noffline, offline[TR_MAX_REPLICAS];
};

/*
 * A broker as the cluster knows it: every listener it advertises (Kafka's
 * endpoints: name, security protocol, host, port) and, in host and port,
 * the one brokers reach it on (the inter-broker listener's).
 */
struct tr_broker_info {
    int32_t id;
    char host[256];
    int32_t port;
    char rack[64]; /* "" when unset */
    int32_t nendpoints;
    struct tr_listener_spec endpoints[TR_LISTENERS_MAX];
};

/*
 * The endpoint of 'b' for listener 'name' (any case), or NULL when it has
 * none; a NULL name is the inter-broker endpoint (host and port).
 */
int tr_rpc_endpoint(const struct tr_broker_info *b, const char *name,
                    const char **host, int32_t *port);
/*
 * Points host and port of 'b' at its endpoint for listener 'name', if it
 * has one (the first endpoint for NULL); returns 1 when found.
 */
int tr_rpc_use_endpoint(struct tr_broker_info *b, const char *name);

/*
 * WriteTxnMarkers v0 (one marker, sent by a transaction coordinator to a
 * partition leader): the partitions must come grouped by topic (adjacent
 * equal names form one topic entry). The response decoder sets each
 * partition's 'error' from the answer (UNKNOWN_SERVER_ERROR for one the
 * answer leaves out).
 */
struct tr_rpc_marker_tp {
    const char *topic;
    int32_t partition;
    int16_t error;
};

struct tr_rpc_marker {
    int64_t producer_id;
    int16_t producer_epoch;
    int commit;
    int32_t coordinator_epoch;
    struct tr_rpc_marker_tp *tps; /* borrowed */
    size_t ntps;
};

void tr_rpc_markers_encode(struct tr_buf *out, const struct tr_rpc_marker *m);
tr_err_t tr_rpc_markers_decode_response(struct tr_slice *in,
                                        struct tr_rpc_marker *m);

/* LeaderAndIsr or UpdateMetadata. Arrays owned by the message. */
struct tr_state_msg {
    int32_t controller_id;
    int32_t controller_epoch;
    struct tr_pstate *parts;
    size_t nparts;
    struct tr_broker_info *brokers;
    size_t nbrokers;
};

/* StopReplica: partitions a broker no longer replicates. */
struct tr_stop_part {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
};

struct tr_stop_msg {
    int32_t controller_id;
    int32_t controller_epoch;
    int delete_partitions;
    struct tr_stop_part *parts; /* owned by the message */
    size_t nparts;
};

#define TR_RPC_LEADER_AND_ISR_VERSION      1
#define TR_RPC_STOP_REPLICA_VERSION        1
#define TR_RPC_UPDATE_METADATA_VERSION     4
#define TR_RPC_CONTROLLED_SHUTDOWN_VERSION 1
#define TR_RPC_OFFSET_FOR_EPOCH_VERSION    3
#define TR_RPC_FETCH_VERSION               11

/* Encodes the request body of 'api_key' (LeaderAndIsr or UpdateMetadata). */
void tr_rpc_state_encode(struct tr_buf *out, int16_t api_key,
                         const struct tr_state_msg *m);
/* Decodes it; on success free with tr_rpc_state_free. */
tr_err_t tr_rpc_state_decode(struct tr_slice *in, int16_t api_key,
                             struct tr_state_msg *m);
void tr_rpc_state_free(struct tr_state_msg *m);

/* StopReplica v1: encodes the request body; decodes (free with _free). */
void tr_rpc_stop_encode(struct tr_buf *out, const struct tr_stop_msg *m);
tr_err_t tr_rpc_stop_decode(struct tr_slice *in, struct tr_stop_msg *m);
void tr_rpc_stop_free(struct tr_stop_msg *m);

/* 1 if 'id' is among the 'n' ids in 'ids'. */
int tr_rpc_has(const int32_t *ids, int32_t n, int32_t id);

/*
 * A blocking connection to another broker, secured as the inter-broker
 * listener says (peer.h): TLS and SASL run when it is opened. A peer that
 * refuses us (a certificate, a password) is logged, at warning level when
 * the reason is new, and not tried again for a backoff that doubles from
 * 250 ms to 10 s; calls meanwhile fail at once with TR_ERR_AGAIN.
 */
struct tr_rpc_conn {
    struct tr_peer_link link;
    const struct tr_peer *peer; /* borrowed; NULL: PLAINTEXT */
    char host[256];
    int port;
    int32_t correlation_id;
    char client_id[64];
    int backoff_ms;
    int64_t retry_at_ms;
    int64_t last_report_ms;
    char last_failure[256]; /* "" while all is well */
};

void tr_rpc_conn_init(struct tr_rpc_conn *c, const char *client_id,
                      const struct tr_peer *peer);
void tr_rpc_conn_close(struct tr_rpc_conn *c);
/*
 * Sends the request 'body' of (api_key, version) to host:port (reconnecting
 * if needed) and reads the response into 'resp' (body after the
 * correlation id; 'resp' is reset first). Fails with TR_ERR_TIMEOUT when
 * nothing comes back within 'timeout_ms', closing the connection.
 */
tr_err_t tr_rpc_call(struct tr_rpc_conn *c, const char *host, int port,
                     int16_t api_key, int16_t version,
                     const struct tr_buf *body, struct tr_buf *resp,
                     int timeout_ms);

#endif /* TR_RPC_H */
