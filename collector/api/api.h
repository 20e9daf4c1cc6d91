/*
 * api -- the table of Kafka APIs the collector serves and their handlers.
 *
 * The server decodes the request header, looks the API up here, checks the
 * version against the advertised range, and calls the handler with the body.
 * A handler decodes the body field by field (in the order of the JSON
 * specifications in shared/reference/kafka-protocol), does the work, and
 * encodes the response body into req->out. It returns TR_OK, or an error
 * for a malformed request, which makes the server close the connection, as
 * Kafka does.
 *
 * Checklist: when an API or version range changes here, update
 * docs/compatibility.md too.
 */
#ifndef TR_API_H
#define TR_API_H

#include <stdint.h>
#include <sys/types.h>

#include "acl.h"
#include "broker.h"
#include "buf.h"
#include "config.h"
#include "proto.h"

struct tr_request;
struct tr_sasl_session;

typedef tr_err_t tr_api_handler(struct tr_request *req);

struct tr_api {
    int16_t key;
    int16_t min_version; /* advertised */
    int16_t max_version;
    tr_api_handler *handler;
};

/* Returns the entry for 'key', or NULL if the collector does not serve it. */
const struct tr_api *tr_api_find(int16_t key);
/* The whole table, for ApiVersions. */
const struct tr_api *tr_api_table(size_t *count);

/*
 * The security of the connection a request came on, owned by the server
 * and living as long as the connection. 'protocol' is the listener's
 * (listener.security.protocol.map): on SASL_PLAINTEXT and SASL_SSL the
 * SASL code (api/sasl.c) requires authentication and, once the client has
 * authenticated, writes the principal ("User:NAME") and sets
 * 'authenticated'. On SSL the server sets the principal after the
 * handshake (the client certificate's subject, or User:ANONYMOUS); on
 * PLAINTEXT it is User:ANONYMOUS, as in Kafka. Metadata and FindCoordinator
 * answer with the advertised address of this listener.
 */
struct tr_conn_security {
    enum tr_security_protocol protocol;
    const char *listener;        /* listener name, "PLAINTEXT", "EXTERNAL" */
    const char *advertised_host; /* this listener's advertised address */
    int advertised_port;
    int authenticated; /* SASL done (always set on PLAINTEXT and SSL) */
    char principal[512];
};

/*
 * One request being handled. Everything it points to is valid for the
 * duration of the handler call only.
 */
struct tr_request {
    struct tr_broker *broker;
    /* The connection's security; NULL only in unit tests of handlers. */
    struct tr_conn_security *security;
    /* The connection's SASL exchange (api/sasl.h); NULL in unit tests. */
    struct tr_sasl_session *sasl;
    struct tr_request_header hdr;
    struct tr_slice body;
    struct tr_buf *out; /* the response body goes here */
    void *response;     /* private: the server's response under assembly */
    const char *peer;   /* "ip:port" of the client, for logs */
    int64_t now_ms;
    /* Set by handlers: */
    int no_response; /* acks=0 produce: send nothing */
    int close;       /* close the connection instead of answering */
    /*
     * Fetch long polling: set to the number of milliseconds to wait before
     * the request is run again (it is also run again as soon as one of the
     * partitions it watched gets an append). The handler must have left
     * req->out untouched. 'final' is set on the last run (deadline passed).
     */
    int park_ms;
    int final;
    struct tr_waiter *waiter; /* to register watched partitions on */
    /*
     * Kept across the runs of a parked request (acks=all produce keeps its
     * append results here so a rerun never appends again): set by the
     * handler, freed with state_free by the server when the request is done.
     */
    void *state;
    void (*state_free)(void *state);
    /*
     * Client quotas (security/quota.h, KIP-219): the wait the client is
     * told of, known before the handler runs for a Produce; handlers
     * encode it with tr_request_put_throttle where the response has
     * throttle_time_ms, so the server can raise it afterwards (Fetch
     * bytes, request time). A handler sets 'quota_exempt' for requests
     * quotas do not apply to (a follower's Fetch).
     */
    int32_t throttle_ms;
    int quota_exempt;
    size_t throttle_at; /* private: offset of the field + 1, or 0 */
    size_t sent_ahead;  /* private: bytes tr_request_add_file moved out */
    struct tr_request_quota *quota; /* NULL without the server */
};

/*
 * The client-quota side of one request, filled by the server: the
 * quotas, the client's quota names (its principal's name, its client id
 * cut to 255 bytes), the wait so far, and whether the Fetch handler has
 * counted its bytes itself (tr_request_fetch_quota).
 */
struct tr_request_quota {
    struct tr_quotas *quotas; /* NULL: none */
    const char *user;
    char client_id[256];
    int64_t start_us; /* handler start, when request time counts */
    int64_t throttle_ms;
    int fetch_counted;
};

/*
 * Fetch: counts 'bytes' of records against the client's
 * consumer_byte_rate and returns the wait (0: within its quota). Over
 * it, the bytes are taken back and req->throttle_ms is set: the handler
 * answers without records, as Kafka does, so a client never gets more
 * than its quota allows. Without quotas (or in unit tests) 0.
 */
int32_t tr_request_fetch_quota(struct tr_request *req, size_t bytes);
/*
 * The most bytes a Fetch of this client may return under its
 * consumer_byte_rate (Kafka's cap), or 0 for no cap.
 */
int32_t tr_request_fetch_cap(struct tr_request *req);

/*
 * The principal the request's connection is authenticated as
 * ("User:alice"); "User:ANONYMOUS" without a connection (unit tests).
 */
const char *tr_request_principal(const struct tr_request *req);

/*
 * Encodes throttle_time_ms (req->throttle_ms) at this point of the
 * response and remembers where, for the server to update it.
 * (request.c, like tr_request_principal and the fetch quota calls.)
 */
void tr_request_put_throttle(struct tr_request *req);

/*
 * Appends 'len' bytes of file 'fd' at 'pos' to the response at the current
 * point, to be sent with sendfile. Takes ownership of 'fd' (closed when the
 * bytes have been sent or the connection is gone). On a TLS connection the
 * bytes are read now and encrypted with the rest (docs/security.md).
 */
tr_err_t tr_request_add_file(struct tr_request *req, int fd, off_t pos,
                             size_t len);

/* Handlers, one file per API family. */
tr_err_t tr_api_api_versions(struct tr_request *req);
tr_err_t tr_api_metadata(struct tr_request *req);
tr_err_t tr_api_produce(struct tr_request *req);
tr_err_t tr_api_init_producer_id(struct tr_request *req);
tr_err_t tr_api_fetch(struct tr_request *req);
/*
 * Fetch's byte limit for one partition (KIP-74): its own max bytes, and no
 * more than what is left of the request's max bytes after 'total' bytes
 * already taken (a limit <= 0 is no limit for the request, nothing for the
 * partition). Only the first batch of the first non-empty partition may
 * exceed it.
 */
size_t tr_api_fetch_budget(int32_t request_max, int32_t partition_max,
                           size_t total);
tr_err_t tr_api_list_offsets(struct tr_request *req);
tr_err_t tr_api_create_topics(struct tr_request *req);
tr_err_t tr_api_delete_topics(struct tr_request *req);
tr_err_t tr_api_create_partitions(struct tr_request *req);
tr_err_t tr_api_describe_configs(struct tr_request *req);
tr_err_t tr_api_find_coordinator(struct tr_request *req);
tr_err_t tr_api_join_group(struct tr_request *req);
tr_err_t tr_api_sync_group(struct tr_request *req);
tr_err_t tr_api_heartbeat(struct tr_request *req);
tr_err_t tr_api_leave_group(struct tr_request *req);
tr_err_t tr_api_offset_commit(struct tr_request *req);
tr_err_t tr_api_offset_fetch(struct tr_request *req);
tr_err_t tr_api_list_groups(struct tr_request *req);
tr_err_t tr_api_describe_groups(struct tr_request *req);
tr_err_t tr_api_delete_groups(struct tr_request *req);
tr_err_t tr_api_offset_delete(struct tr_request *req);
tr_err_t tr_api_alter_configs(struct tr_request *req);
tr_err_t tr_api_incremental_alter_configs(struct tr_request *req);
tr_err_t tr_api_delete_records(struct tr_request *req);
tr_err_t tr_api_describe_log_dirs(struct tr_request *req);
tr_err_t tr_api_leader_and_isr(struct tr_request *req);
tr_err_t tr_api_update_metadata(struct tr_request *req);
tr_err_t tr_api_controlled_shutdown(struct tr_request *req);
tr_err_t tr_api_offset_for_leader_epoch(struct tr_request *req);
tr_err_t tr_api_stop_replica(struct tr_request *req);
/* reassign.c: the controller's admin APIs. */
tr_err_t tr_api_alter_partition_reassignments(struct tr_request *req);
tr_err_t tr_api_list_partition_reassignments(struct tr_request *req);
tr_err_t tr_api_elect_leaders(struct tr_request *req);
/* txn.c: transactions (KIP-98) and their admin APIs. */
tr_err_t tr_api_add_partitions_to_txn(struct tr_request *req);
tr_err_t tr_api_add_offsets_to_txn(struct tr_request *req);
tr_err_t tr_api_end_txn(struct tr_request *req);
/* WriteTxnMarkers (inter-broker: a coordinator to partition leaders). */
tr_err_t tr_api_write_txn_markers(struct tr_request *req);
tr_err_t tr_api_txn_offset_commit(struct tr_request *req);
tr_err_t tr_api_describe_transactions(struct tr_request *req);
/*
 * Fetch's AbortedTransactions: null at read_uncommitted (isolation 0), else
 * the 'n' entries (producer id, first offset).
 */
struct tr_aborted_txn;
void tr_api_put_aborted_txns(struct tr_buf *out, int8_t isolation,
                             const struct tr_aborted_txn *aborted, size_t n);
/*
 * Produce's check of one partition's record set against the transaction
 * of 'txn_id' (len -1: none): TR_KERR_NONE, or the error for the partition.
 */
int16_t tr_api_txn_check_produce(struct tr_request *req,
                                 const struct tr_str *txn_id, const char *topic,
                                 int32_t partition,
                                 const struct tr_str *records);
tr_err_t tr_api_list_transactions(struct tr_request *req);
tr_err_t tr_api_describe_producers(struct tr_request *req);
/* sasl.c: authentication and the SCRAM credential APIs. */
tr_err_t tr_api_sasl_handshake(struct tr_request *req);
tr_err_t tr_api_sasl_authenticate(struct tr_request *req);
tr_err_t tr_api_describe_user_scram_credentials(struct tr_request *req);
tr_err_t tr_api_alter_user_scram_credentials(struct tr_request *req);
/* quotas.c: client quotas (security/quota.h). */
tr_err_t tr_api_describe_client_quotas(struct tr_request *req);
tr_err_t tr_api_alter_client_quotas(struct tr_request *req);

/* acls.c: the ACL APIs. */
tr_err_t tr_api_describe_acls(struct tr_request *req);
tr_err_t tr_api_create_acls(struct tr_request *req);
tr_err_t tr_api_delete_acls(struct tr_request *req);

/*
 * Authorization of a request (security/acl.h), for every handler: 1 if the
 * principal of the request's connection, from its host, may do 'op' on the
 * resource, 0 if not (the denial is logged, rate limited). Call it before
 * looking the resource up, so that a denied client cannot learn whether it
 * exists, and answer Kafka's *_AUTHORIZATION_FAILED error. Without an
 * authorizer it is a single pointer test. For example, a handler of
 * DescribeClientQuotas:
 *
 *   if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE_CONFIGS, TR_ACL_CLUSTER,
 *                         TR_ACL_CLUSTER_NAME)) {
 *       error = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
 *   }
 */
int tr_api_authorize_slow(struct tr_request *req, enum tr_acl_op op,
                          enum tr_acl_resource type, const char *name);
static inline int
tr_api_authorize(struct tr_request *req, enum tr_acl_op op,
                 enum tr_acl_resource type, const char *name)
{
    return req->broker->acl == NULL ||
           tr_api_authorize_slow(req, op, type, name);
}
/* The same for a name read from the wire (not NUL-terminated). */
int tr_api_authorize_str(struct tr_request *req, enum tr_acl_op op,
                         enum tr_acl_resource type, const struct tr_str *name);
/* Without logging a denial: for filtering (Metadata of all topics). */
int tr_api_authorize_quiet(struct tr_request *req, enum tr_acl_op op,
                           enum tr_acl_resource type, const char *name);
/* 'op' on any resource of 'type' (tr_acl_authorize_any). */
int tr_api_authorize_any(struct tr_request *req, enum tr_acl_op op,
                         enum tr_acl_resource type);
/* KIP-430 authorized_operations of the resource for this request. */
int32_t tr_api_authorized_ops(struct tr_request *req, enum tr_acl_resource type,
                              const char *name);
/* Longest resource name the helpers look up (Kafka: topics 249). */
#define TR_API_ACL_NAME_MAX 1024

/*
 * Encodes the ApiVersions v0 answer Kafka gives to a version it lacks:
 * error UNSUPPORTED_VERSION and our full table, so clients can retry.
 */
void tr_api_versions_unsupported(struct tr_buf *out);

/* Array-count caps for decoding (no allocation is ever sized by more). */
#define TR_API_MAX_TOPICS     100000
#define TR_API_MAX_PARTITIONS 100000

#endif /* TR_API_H */
