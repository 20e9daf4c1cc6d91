/*
 * err -- names for internal error codes and their mapping to Kafka's codes.
 */
#include "err.h"

const char *
tr_err_str(tr_err_t err)
{
    switch (err) {
    case TR_OK:
        return "success";
    case TR_ERR_NOMEM:
        return "out of memory";
    case TR_ERR_AGAIN:
        return "incomplete, try again";
    case TR_ERR_CORRUPT:
        return "corrupt data";
    case TR_ERR_TRUNCATED:
        return "truncated input";
    case TR_ERR_TOO_LARGE:
        return "too large";
    case TR_ERR_INVALID:
        return "invalid argument";
    case TR_ERR_IO:
        return "I/O error";
    case TR_ERR_NOT_FOUND:
        return "not found";
    case TR_ERR_EXISTS:
        return "already exists";
    case TR_ERR_UNSUPPORTED:
        return "unsupported";
    case TR_ERR_OUT_OF_RANGE:
        return "out of range";
    case TR_ERR_NOSPACE:
        return "no space left on device";
    case TR_ERR_LOCKED:
        return "locked by another process";
    case TR_ERR_INTERNAL:
        return "internal error";
    case TR_ERR_TIMEOUT:
        return "timed out";
    case TR_ERR_CONFIG:
        return "configuration error";
    case TR_ERR_SEQUENCE:
        return "out-of-order sequence number";
    case TR_ERR_DUPLICATE:
        return "duplicate sequence number";
    case TR_ERR_FENCED:
        return "stale producer epoch";
    case TR_ERR_UNKNOWN_PRODUCER:
        return "unknown producer id";
    case TR_ERR_CLOSED:
        return "closed";
    case TR_ERR_NO_KEY:
        return "record without a key in a compacted topic";
    case TR_ERR_STALE:
        return "a newer version was written first";
    case TR_ERR_AUTH:
        return "authentication failed";
    case TR_ERR_TLS:
        return "TLS handshake failed";
    case TR_ERR_TXN_STATE:
        return "not allowed in the transaction's state";
    case TR_ERR_TIMESTAMP:
        return "record timestamp out of range";
    }
    return "unknown error";
}

int16_t
tr_kerr_from(tr_err_t err)
{
    switch (err) {
    case TR_OK:
        return TR_KERR_NONE;
    case TR_ERR_CORRUPT:
    case TR_ERR_TRUNCATED:
    case TR_ERR_NO_KEY: /* INVALID_RECORD from Produce v8: see api_produce */
        return TR_KERR_CORRUPT_MESSAGE;
    case TR_ERR_TOO_LARGE:
        return TR_KERR_MESSAGE_TOO_LARGE;
    case TR_ERR_INVALID:
        return TR_KERR_INVALID_REQUEST;
    case TR_ERR_NOT_FOUND:
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    case TR_ERR_EXISTS:
        return TR_KERR_TOPIC_ALREADY_EXISTS;
    case TR_ERR_UNSUPPORTED:
        return TR_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    case TR_ERR_OUT_OF_RANGE:
        return TR_KERR_OFFSET_OUT_OF_RANGE;
    case TR_ERR_IO:
    case TR_ERR_NOSPACE:
        return TR_KERR_KAFKA_STORAGE_ERROR;
    case TR_ERR_TIMEOUT:
        return TR_KERR_REQUEST_TIMED_OUT;
    case TR_ERR_CONFIG:
        return TR_KERR_INVALID_CONFIG;
    case TR_ERR_SEQUENCE:
        return TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case TR_ERR_DUPLICATE:
        return TR_KERR_DUPLICATE_SEQUENCE_NUMBER;
    case TR_ERR_FENCED:
        return TR_KERR_INVALID_PRODUCER_EPOCH;
    case TR_ERR_UNKNOWN_PRODUCER:
        return TR_KERR_UNKNOWN_PRODUCER_ID;
    case TR_ERR_TXN_STATE:
        return TR_KERR_INVALID_TXN_STATE;
    case TR_ERR_TIMESTAMP:
        return TR_KERR_INVALID_TIMESTAMP;
    default:
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
}
