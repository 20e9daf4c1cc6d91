/*
 * err -- the project's internal error codes, and Kafka's wire error codes.
 *
 * Internal functions return tr_err_t: TR_OK (0) or a negative code. Kafka's
 * error codes are a separate contract (fixed int16 values from the protocol
 * specification); tr_kerr_from() is the one place that maps between them, at
 * the protocol edge. New codes go at the end of each list; none is ever
 * renumbered or reused.
 */
#ifndef TR_ERR_H
#define TR_ERR_H

#include <stdint.h>

typedef enum {
    TR_OK = 0,
    TR_ERR_NOMEM = -1,     /* allocation failed */
    TR_ERR_AGAIN = -2,     /* incomplete: call again with more input */
    TR_ERR_CORRUPT = -3,   /* bytes fail a CRC or structural check */
    TR_ERR_TRUNCATED = -4, /* input ends before the structure does */
    TR_ERR_TOO_LARGE = -5, /* a length or count is past its limit */
    TR_ERR_INVALID = -6,   /* well-formed but not allowed (bad argument) */
    TR_ERR_IO = -7,        /* a system call failed; errno says why */
    TR_ERR_NOT_FOUND = -8,
    TR_ERR_EXISTS = -9,
    TR_ERR_UNSUPPORTED = -10, /* a version, codec or feature we lack */
    TR_ERR_OUT_OF_RANGE = -11,
    TR_ERR_NOSPACE = -12, /* disk full */
    TR_ERR_LOCKED = -13,  /* another process holds the lock */
    TR_ERR_INTERNAL = -14,
    TR_ERR_TIMEOUT = -15,
    TR_ERR_CONFIG = -16,
    TR_ERR_SEQUENCE = -17,  /* idempotent producer: out-of-order sequence */
    TR_ERR_DUPLICATE = -18, /* idempotent producer: batch already written */
    TR_ERR_FENCED = -19,    /* idempotent producer: stale epoch */
    TR_ERR_UNKNOWN_PRODUCER = -20,
    TR_ERR_CLOSED = -21,    /* peer or object closed */
    TR_ERR_NO_KEY = -22,    /* a compacted log got a record without a key */
    TR_ERR_STALE = -23,     /* a conditional write lost to a newer version */
    TR_ERR_AUTH = -24,      /* SASL authentication refused */
    TR_ERR_TLS = -25,       /* TLS handshake failed (certificate not trusted) */
    TR_ERR_TXN_STATE = -26, /* a batch or marker a transaction does not allow */
    TR_ERR_TIMESTAMP = -27, /* a timestamp out of the allowed range */
} tr_err_t;

/* Returns a static, human-readable description of 'err'. */
const char *tr_err_str(tr_err_t err);

/* Kafka protocol error codes (int16 on the wire). */
enum {
    TR_KERR_UNKNOWN_SERVER_ERROR = -1,
    TR_KERR_NONE = 0,
    TR_KERR_OFFSET_OUT_OF_RANGE = 1,
    TR_KERR_CORRUPT_MESSAGE = 2,
    TR_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    TR_KERR_INVALID_FETCH_SIZE = 4,
    TR_KERR_LEADER_NOT_AVAILABLE = 5,
    TR_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    TR_KERR_REQUEST_TIMED_OUT = 7,
    TR_KERR_BROKER_NOT_AVAILABLE = 8,
    TR_KERR_REPLICA_NOT_AVAILABLE = 9,
    TR_KERR_MESSAGE_TOO_LARGE = 10,
    TR_KERR_STALE_CONTROLLER_EPOCH = 11,
    TR_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    TR_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    TR_KERR_NOT_COORDINATOR = 16,
    TR_KERR_INVALID_TOPIC_EXCEPTION = 17,
    TR_KERR_RECORD_LIST_TOO_LARGE = 18,
    TR_KERR_NOT_ENOUGH_REPLICAS = 19,
    TR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    TR_KERR_INVALID_REQUIRED_ACKS = 21,
    TR_KERR_ILLEGAL_GENERATION = 22,
    TR_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    TR_KERR_INVALID_GROUP_ID = 24,
    TR_KERR_UNKNOWN_MEMBER_ID = 25,
    TR_KERR_INVALID_SESSION_TIMEOUT = 26,
    TR_KERR_REBALANCE_IN_PROGRESS = 27,
    TR_KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    TR_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    TR_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    TR_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    TR_KERR_INVALID_TIMESTAMP = 32,
    TR_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    TR_KERR_ILLEGAL_SASL_STATE = 34,
    TR_KERR_UNSUPPORTED_VERSION = 35,
    TR_KERR_TOPIC_ALREADY_EXISTS = 36,
    TR_KERR_INVALID_PARTITIONS = 37,
    TR_KERR_INVALID_REPLICATION_FACTOR = 38,
    TR_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    TR_KERR_INVALID_CONFIG = 40,
    TR_KERR_NOT_CONTROLLER = 41,
    TR_KERR_INVALID_REQUEST = 42,
    TR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    TR_KERR_POLICY_VIOLATION = 44,
    TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    TR_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    TR_KERR_INVALID_PRODUCER_EPOCH = 47,
    TR_KERR_INVALID_TXN_STATE = 48,
    TR_KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    TR_KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    TR_KERR_CONCURRENT_TRANSACTIONS = 51,
    TR_KERR_TRANSACTION_COORDINATOR_FENCED = 52,
    TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    TR_KERR_SECURITY_DISABLED = 54,
    TR_KERR_OPERATION_NOT_ATTEMPTED = 55,
    TR_KERR_KAFKA_STORAGE_ERROR = 56,
    TR_KERR_UNKNOWN_PRODUCER_ID = 59,
    TR_KERR_REASSIGNMENT_IN_PROGRESS = 60,
    TR_KERR_NON_EMPTY_GROUP = 68,
    TR_KERR_GROUP_ID_NOT_FOUND = 69,
    TR_KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    TR_KERR_MEMBER_ID_REQUIRED = 79,
    TR_KERR_GROUP_MAX_SIZE_REACHED = 81,
    TR_KERR_FENCED_INSTANCE_ID = 82,
    TR_KERR_LISTENER_NOT_FOUND = 72,
    TR_KERR_FENCED_LEADER_EPOCH = 74,
    TR_KERR_UNKNOWN_LEADER_EPOCH = 75,
    TR_KERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    TR_KERR_ELECTION_NOT_NEEDED = 84,
    TR_KERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    TR_KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    TR_KERR_INVALID_RECORD = 87,
    TR_KERR_UNSTABLE_OFFSET_COMMIT = 88,
    TR_KERR_PRODUCER_FENCED = 90,
    TR_KERR_TRANSACTIONAL_ID_NOT_FOUND = 105,
    TR_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    TR_KERR_SASL_AUTHENTICATION_FAILED = 58,
    TR_KERR_RESOURCE_NOT_FOUND = 91,
    TR_KERR_DUPLICATE_RESOURCE = 92,
    TR_KERR_UNACCEPTABLE_CREDENTIAL = 93,
};

/* Maps an internal error to the Kafka error code a client should see. */
int16_t tr_kerr_from(tr_err_t err);

#endif /* TR_ERR_H */
