/*
 * client -- the client core's broker connections and metadata cache.
 *
 * This is the layer under the producer (and, later, the consumer, the admin
 * client, the bench tool and the exporter). It owns:
 *
 *  - one connection per broker node (struct tr_conn): a libevent bufferevent
 *    doing Kafka framing (int32 size + header + body), correlation ids,
 *    in-order response matching, per-request timeouts and an ApiVersions
 *    handshake on connect. A connection that fails, times out or reads a
 *    bad frame is closed: every request on it fails with the reason, and the
 *    node is reconnected later with exponential backoff and jitter. A
 *    warning is logged once per outage of a node, not per attempt;
 *  - security (clientsec.h): TLS through libevent's OpenSSL bufferevent,
 *    the server's certificate and host name verified, and after the
 *    ApiVersions handshake a SASL exchange (clientsasl.h) before the
 *    connection counts as ready. A refused login or certificate is logged
 *    as an error with its reason, kept for tr_client_last_error, and
 *    retried only after the longest backoff, never in a tight loop;
 *  - a metadata cache: brokers (node id -> host:port) and, for the topics a
 *    caller asked about, partitions -> leader node. It is refreshed on an
 *    interval and on demand (tr_client_metadata_refresh, which callers use
 *    after errors such as NOT_LEADER_OR_FOLLOWER), at most once per backoff.
 *
 * The owner learns about progress through one event callback (a connection
 * became ready, metadata arrived) and through the per-request callbacks.
 * Connections are made lazily: asking for a node's connection starts
 * connecting it. Bootstrap brokers are nodes with negative ids until the
 * first metadata names the real ones.
 *
 * Request and response bodies are encoded and decoded by the functions at
 * the end of this header, field by field in the order of Kafka's JSON
 * message specifications; they are public so that the tools can reuse them
 * and the tests can check them on byte buffers.
 *
 * Thread safety: none; everything runs on the event_base's thread. No
 * callback may free the client.
 */
#ifndef TR_CLIENT_H
#define TR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "proto.h"

struct event_base;
struct tr_clientsec;

struct tr_client_config {
    const char *bootstrap;        /* "host:port[,host:port...]" */
    const char *client_id;        /* default "tributary" */
    int request_timeout_ms;       /* default 30000 */
    int reconnect_backoff_ms;     /* first backoff, default 100 */
    int reconnect_backoff_max_ms; /* cap, default 10000 */
    int metadata_refresh_ms;      /* default 300000 */
    int allow_auto_create;        /* Metadata v4+ flag; default 1 */
    size_t max_response_bytes;    /* frame cap; default 64 MiB */
    /*
     * TLS and SASL (clientsec.h), prepared; borrowed, and must outlive the
     * client. NULL: PLAINTEXT.
     */
    const struct tr_clientsec *security;
};

/* Fills 'cfg' with the defaults above. */
void tr_client_config_defaults(struct tr_client_config *cfg);

struct tr_client;
struct tr_conn;

/*
 * Called once per request with a response. 'err' is TR_OK and 'body' the
 * response body (the header already consumed; valid only during the call),
 * or the failure that closed the connection (TR_ERR_IO, TR_ERR_TIMEOUT,
 * TR_ERR_CORRUPT, TR_ERR_CLOSED, TR_ERR_AUTH, TR_ERR_TLS) and 'body' NULL.
 */
typedef void tr_client_response_cb(tr_err_t err, int16_t api_version,
                                   struct tr_slice *body, void *arg);

/* Something the owner may be waiting for happened; see the file comment. */
typedef void tr_client_event_cb(void *arg);

/*
 * Returns an owned client in *out. 'cfg' is copied; 'base' is borrowed and
 * must outlive the client. TR_ERR_CONFIG for an empty or malformed
 * bootstrap list. Nothing is connected yet.
 */
tr_err_t tr_client_new(struct event_base *base,
                       const struct tr_client_config *cfg,
                       tr_client_event_cb *cb, void *cb_arg,
                       struct tr_client **out);

/*
 * Closes every connection and frees the client. Requests still waiting are
 * dropped without their callbacks: the owner frees what it handed them.
 * NULL is a no-op.
 */
void tr_client_free(struct tr_client *c);

/*
 * Returns the ready connection to 'node_id' (valid until the next return to
 * the event loop), or NULL while there is none; then connecting is started,
 * or retried once the node's backoff has passed, and the event callback
 * fires when it is ready. NULL too for a node the metadata does not know.
 */
struct tr_conn *tr_client_node_conn(struct tr_client *c, int32_t node_id);
/* Like tr_client_node_conn for whichever known node answers first. */
struct tr_conn *tr_client_any_conn(struct tr_client *c);
/* 1 while at least one connection is ready. */
int tr_client_connected(const struct tr_client *c);
/*
 * The last security failure of any connection, until a connection becomes
 * ready again: TR_ERR_AUTH (SASL refused) or TR_ERR_TLS (handshake failed,
 * e.g. "certificate verify failed: hostname mismatch"), with *text (valid
 * until the next return to the event loop) saying why; TR_OK and NULL
 * when there is none. Tools use it to stop waiting and report.
 */
tr_err_t tr_client_last_error(const struct tr_client *c, const char **text);

/*
 * Sends one request. 'body' (borrowed, copied) is the encoded body without
 * the header. With 'cb' NULL no response is expected (Produce with acks=0)
 * and nothing is reported. Returns TR_ERR_CLOSED if the connection is not
 * ready, TR_ERR_NOMEM.
 */
tr_err_t tr_conn_request(struct tr_conn *conn, int16_t api_key,
                         int16_t api_version, const struct tr_buf *body,
                         tr_client_response_cb *cb, void *arg);
/*
 * tr_conn_request for large bodies: takes the body's memory (leaving
 * 'body' empty, whatever the result, unless the connection is not ready)
 * and queues it without copying it; it is freed once written.
 */
tr_err_t tr_conn_request_give(struct tr_conn *conn, int16_t api_key,
                              int16_t api_version, struct tr_buf *body,
                              tr_client_response_cb *cb, void *arg);
/*
 * The highest version of 'api_key' in [min, max] that the broker supports,
 * from its ApiVersions answer; -1 if none.
 */
int16_t tr_conn_api_version(const struct tr_conn *conn, int16_t api_key,
                            int16_t min, int16_t max);
/* Requests sent on this connection and not yet answered. */
size_t tr_conn_inflight(const struct tr_conn *conn);
int32_t tr_conn_node_id(const struct tr_conn *conn);

/*
 * Adds 'topic' to the topics whose metadata is kept, and asks for a
 * refresh if it is new. 'topic' is copied.
 */
tr_err_t tr_client_topic_add(struct tr_client *c, const char *topic);
/*
 * Looks 'topic' up. TR_OK with *nparts; TR_ERR_AGAIN while no metadata has
 * arrived for it or the broker answered with an error (*kerr, e.g.
 * LEADER_NOT_AVAILABLE while it is being created) -- callers wait and
 * refresh.
 */
tr_err_t tr_client_topic_partitions(const struct tr_client *c,
                                    const char *topic, int32_t *nparts,
                                    int16_t *kerr);
/* The leader node of a partition, or -1 if unknown. */
int32_t tr_client_partition_leader(const struct tr_client *c, const char *topic,
                                   int32_t partition);
/* Asks for a metadata refresh soon (coalesced, rate-limited by backoff). */
void tr_client_metadata_refresh(struct tr_client *c);

/*
 * Returns the backoff before attempt 'attempt' (0 = first retry):
 * base * 2^attempt capped at 'max', then scaled by a jitter factor in
 * [0.8, 1.2) drawn from 'rnd', never below 1 ms.
 */
int64_t tr_client_backoff_ms(int base, int max, int attempt, uint32_t rnd);
/* Next value of the client's jitter generator (xorshift; not global). */
uint32_t tr_client_random(struct tr_client *c);

/* Protocol bodies. Encoders append to 'b' and return tr_buf_err(b). */

/* One API's supported range, from an ApiVersions response. */
struct tr_api_range {
    int16_t ApiKey;
    int16_t MinVersion;
    int16_t MaxVersion;
};

/*
 * Decodes an ApiVersions v0-v2 response body into 'out' (up to 'max'
 * entries; more are skipped). *kerr is the ErrorCode.
 */
tr_err_t tr_client_ApiVersionsResponse_decode(struct tr_slice *s,
                                              int16_t version, int16_t *kerr,
                                              struct tr_api_range *out,
                                              size_t max, size_t *n);

/*
 * Metadata v1-v7 request: 'topics' NULL/0 asks for brokers only (an empty
 * array, not null, which would mean all topics).
 */
tr_err_t tr_client_MetadataRequest_encode(struct tr_buf *b, int16_t version,
                                          const char *const *topics,
                                          size_t ntopics, int allow_create);
/*
 * Decodes a Metadata v1-v7 response body and merges it into the client's
 * cache (brokers, and the topics the client keeps), then fires the event
 * callback. Exposed for tests and for tools that fetch metadata themselves.
 */
tr_err_t tr_client_metadata_apply(struct tr_client *c, int16_t version,
                                  struct tr_slice *s);

/* One partition's record set in a Produce request (all borrowed). */
struct tr_produce_part {
    const char *topic;
    int32_t partition;
    const uint8_t *records;
    size_t len;
};

/*
 * Produce v3-v7 request. Entries with the same topic must be adjacent;
 * each becomes one TopicData. TransactionalId is null.
 */
tr_err_t tr_client_ProduceRequest_encode(struct tr_buf *b, int16_t version,
                                         int16_t acks, int32_t timeout_ms,
                                         const struct tr_produce_part *parts,
                                         size_t n);

/* Called for each partition in a Produce response; 'topic' borrows it. */
typedef void tr_client_produce_result_cb(const struct tr_str *topic,
                                         int32_t partition, int16_t kerr,
                                         int64_t base_offset, void *arg);

/* Decodes a Produce v3-v7 response body, calling 'cb' per partition. */
tr_err_t tr_client_ProduceResponse_decode(struct tr_slice *s, int16_t version,
                                          tr_client_produce_result_cb *cb,
                                          void *arg);

/* InitProducerId v0-v1 request without a transactional id. */
tr_err_t tr_client_InitProducerIdRequest_encode(struct tr_buf *b,
                                                int16_t version);
tr_err_t tr_client_InitProducerIdResponse_decode(struct tr_slice *s,
                                                 int16_t version, int16_t *kerr,
                                                 int64_t *producer_id,
                                                 int16_t *epoch);

#endif /* TR_CLIENT_H */
