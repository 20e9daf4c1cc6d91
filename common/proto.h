/*
 * proto -- Kafka protocol primitives and request/response headers.
 *
 * Everything here sits on struct tr_buf (encoding) and struct tr_slice
 * (decoding). Message bodies are encoded and decoded by each API's handler
 * with these primitives, field by field in the order of Kafka's JSON
 * message specifications, so the code can be read side by side with them.
 *
 * Two encodings coexist. Classic versions use int16-length strings,
 * int32-length bytes and int32 array counts. "Flexible" versions (KIP-482)
 * use unsigned-varint lengths holding N+1 (0 = null) and end every struct
 * with a tagged-field section. The *_v helpers pick one by a 'flex' flag.
 */
#ifndef TR_PROTO_H
#define TR_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* API keys, as in the "apiKey" of each request specification. */
enum tr_api_key {
    TR_API_PRODUCE = 0,
    TR_API_FETCH = 1,
    TR_API_LIST_OFFSETS = 2,
    TR_API_METADATA = 3,
    TR_API_LEADER_AND_ISR = 4,
    TR_API_STOP_REPLICA = 5,
    TR_API_UPDATE_METADATA = 6,
    TR_API_CONTROLLED_SHUTDOWN = 7,
    TR_API_OFFSET_COMMIT = 8,
    TR_API_OFFSET_FETCH = 9,
    TR_API_FIND_COORDINATOR = 10,
    TR_API_JOIN_GROUP = 11,
    TR_API_HEARTBEAT = 12,
    TR_API_LEAVE_GROUP = 13,
    TR_API_SYNC_GROUP = 14,
    TR_API_DESCRIBE_GROUPS = 15,
    TR_API_LIST_GROUPS = 16,
    TR_API_SASL_HANDSHAKE = 17,
    TR_API_API_VERSIONS = 18,
    TR_API_CREATE_TOPICS = 19,
    TR_API_DELETE_TOPICS = 20,
    TR_API_DELETE_RECORDS = 21,
    TR_API_INIT_PRODUCER_ID = 22,
    TR_API_OFFSET_FOR_LEADER_EPOCH = 23,
    TR_API_ADD_PARTITIONS_TO_TXN = 24,
    TR_API_ADD_OFFSETS_TO_TXN = 25,
    TR_API_END_TXN = 26,
    TR_API_WRITE_TXN_MARKERS = 27,
    TR_API_TXN_OFFSET_COMMIT = 28,
    TR_API_DESCRIBE_ACLS = 29,
    TR_API_CREATE_ACLS = 30,
    TR_API_DELETE_ACLS = 31,
    TR_API_DESCRIBE_CONFIGS = 32,
    TR_API_ALTER_CONFIGS = 33,
    TR_API_DESCRIBE_LOG_DIRS = 35,
    TR_API_SASL_AUTHENTICATE = 36,
    TR_API_CREATE_PARTITIONS = 37,
    TR_API_DELETE_GROUPS = 42,
    TR_API_ELECT_LEADERS = 43,
    TR_API_INCREMENTAL_ALTER_CONFIGS = 44,
    TR_API_ALTER_PARTITION_REASSIGNMENTS = 45,
    TR_API_LIST_PARTITION_REASSIGNMENTS = 46,
    TR_API_OFFSET_DELETE = 47,
    TR_API_DESCRIBE_CLIENT_QUOTAS = 48,
    TR_API_ALTER_CLIENT_QUOTAS = 49,
    TR_API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
    TR_API_ALTER_USER_SCRAM_CREDENTIALS = 51,
    TR_API_DESCRIBE_PRODUCERS = 61,
    TR_API_DESCRIBE_TRANSACTIONS = 65,
    TR_API_LIST_TRANSACTIONS = 66,
};

/* Returns the API's name ("Produce", ...) or "Unknown". */
const char *tr_proto_api_name(int16_t api_key);
/*
 * 1 if 'version' of 'api_key' uses the flexible encoding (request header v2,
 * response header v1), from each specification's "flexibleVersions".
 */
int tr_proto_is_flexible(int16_t api_key, int16_t version);

/* A string or byte string borrowed from a slice; len -1 means null. */
struct tr_str {
    const char *ptr;
    int32_t len;
};

/* 1 if 's' equals the NUL-terminated 'cstr'. */
int tr_str_eq(const struct tr_str *s, const char *cstr);
/*
 * Copies 's' into 'out' (size 'outlen') NUL-terminated. TR_ERR_TOO_LARGE if
 * it does not fit, TR_ERR_INVALID if it is null or holds a NUL byte.
 */
tr_err_t tr_str_copy(const struct tr_str *s, char *out, size_t outlen);

/* Decoding. Lengths are checked against the bytes left before use. */
tr_err_t tr_proto_get_bool(struct tr_slice *s, int *v);
tr_err_t tr_proto_get_string(struct tr_slice *s, struct tr_str *out);
tr_err_t tr_proto_get_compact_string(struct tr_slice *s, struct tr_str *out);
tr_err_t tr_proto_get_string_v(struct tr_slice *s, int flex,
                               struct tr_str *out);
tr_err_t tr_proto_get_bytes(struct tr_slice *s, struct tr_str *out);
tr_err_t tr_proto_get_compact_bytes(struct tr_slice *s, struct tr_str *out);
tr_err_t tr_proto_get_bytes_v(struct tr_slice *s, int flex, struct tr_str *out);
/*
 * Reads an array count into *n (-1 for a null array). Fails with
 * TR_ERR_CORRUPT for a negative count other than -1, and TR_ERR_TOO_LARGE
 * when the count could not fit in the bytes left ('min_elem_size' bytes
 * each) or exceeds 'max' -- so nothing is allocated from a hostile count.
 */
tr_err_t tr_proto_get_array_len_v(struct tr_slice *s, int flex, int32_t *n,
                                  size_t min_elem_size, int32_t max);
/* Skips a tagged-field section (flexible versions only). */
tr_err_t tr_proto_skip_tags(struct tr_slice *s);

/* Encoding. */
size_t tr_proto_put_bool(struct tr_buf *b, int v);
/* 'len' -1 writes a null. */
size_t tr_proto_put_string_v(struct tr_buf *b, int flex, const char *str,
                             int32_t len);
/* NULL writes a null string. */
size_t tr_proto_put_cstring_v(struct tr_buf *b, int flex, const char *str);
size_t tr_proto_put_bytes_v(struct tr_buf *b, int flex, const void *data,
                            int32_t len);
/* 'n' -1 writes a null array. */
size_t tr_proto_put_array_len_v(struct tr_buf *b, int flex, int32_t n);
/* An empty tagged-field section (flexible versions only). */
size_t tr_proto_put_tags_v(struct tr_buf *b, int flex);
/*
 * A client-quota entity (DescribeClientQuotas, AlterClientQuotas): its
 * "user" then "client-id" component, each written when it has a name or
 * its default flag (a null name: <default>).
 */
void tr_proto_put_quota_entity(struct tr_buf *b, int flex, const char *user,
                               int user_default, const char *client_id,
                               int client_default);

/* Request header v1/v2 (v0 only for ControlledShutdown v0, never used). */
struct tr_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct tr_str client_id; /* borrowed from the request frame */
    int flexible;
};

/*
 * Decodes the header at the start of a request frame (the size prefix
 * already removed). The body follows in 's'. The header's flexibility is
 * decided from the API key and version; an unknown key is decoded as v1.
 */
tr_err_t tr_proto_request_header_parse(struct tr_slice *s,
                                       struct tr_request_header *hdr);
/*
 * Writes a request header (used by the client core): v2 if the API version
 * is flexible, else v1.
 */
size_t tr_proto_request_header_put(struct tr_buf *b, int16_t api_key,
                                   int16_t api_version, int32_t correlation_id,
                                   const char *client_id);

#endif /* TR_PROTO_H */
