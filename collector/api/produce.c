/*
 * api_produce -- Produce and InitProducerId.
 *
 * Produce batches are appended exactly as the producer sent them: the
 * request frame is ours, so the partition rewrites BaseOffset in place and
 * writes the bytes; nothing is decompressed or copied record by record.
 * Versions 0-2 are advertised (librdkafka checks Produce v0 before it
 * compresses) but their MessageSet format is refused per partition.
 */
#include "api.h"

#include <string.h>

#include "log.h"
#include "partition.h"
#include "pidgen.h"
#include "topics.h"
#include "waits.h"

static int16_t
append_partition(struct tr_request *req, const char *topic, int32_t index,
                 const struct tr_str *records, struct tr_append_result *res)
{
    struct tr_partition *part;
    tr_err_t err;

    part = tr_topics_partition(req->broker->topics, topic, index);
    if (part == NULL) {
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (records->len <= 0) {
        tr_partition_unref(part);
        return TR_KERR_CORRUPT_MESSAGE;
    }
    /* The frame is mutable memory owned by the server (see api.h). */
    err = tr_partition_append(part, (uint8_t *)records->ptr,
                              (size_t)records->len, res);
    tr_partition_unref(part);
    if (err == TR_OK) {
        if (!res->duplicate) {
            tr_waits_notify(req->broker->waits, topic, index);
        }
        return TR_KERR_NONE;
    }
    if (err != TR_ERR_SEQUENCE && err != TR_ERR_FENCED &&
        err != TR_ERR_UNKNOWN_PRODUCER) {
        tr_log_warn("%s: produce to %s-%d refused: %s", req->peer, topic, index,
                    tr_err_str(err));
    }
    switch (err) {
    case TR_ERR_NO_KEY:
        return req->hdr.api_version >= 8 ? TR_KERR_INVALID_RECORD
                                         : TR_KERR_CORRUPT_MESSAGE;
    case TR_ERR_UNSUPPORTED:
        return TR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    case TR_ERR_TOO_LARGE:
        return TR_KERR_MESSAGE_TOO_LARGE;
    default:
        return tr_kerr_from(err);
    }
}

tr_err_t
tr_api_produce(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_str txn_id = { NULL, -1 };
    int16_t acks;
    int32_t timeout_ms, ntopics, t;
    tr_err_t err;

    if (v >= 3) {
        err = tr_proto_get_string(in, &txn_id);
        if (err != TR_OK) {
            return err;
        }
    }
    if ((err = tr_slice_get_i16(in, &acks)) != TR_OK ||
        (err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    if (ntopics < 0) {
        return TR_ERR_CORRUPT;
    }
    tr_buf_put_i32(out, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int topic_ok;
        int32_t nparts, p;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &nparts, 8,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        if (nparts < 0) {
            return TR_ERR_CORRUPT;
        }
        topic_ok = tr_str_copy(&name, topic, sizeof(topic)) == TR_OK;
        tr_proto_put_string_v(out, 0, name.ptr, name.len < 0 ? 0 : name.len);
        tr_buf_put_i32(out, nparts);
        for (p = 0; p < nparts; p++) {
            struct tr_append_result res = { -1, -1, -1, -1, 0 };
            struct tr_str records;
            int32_t index;
            int16_t kerr;

            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (err = tr_proto_get_bytes(in, &records)) != TR_OK) {
                return err;
            }
            if (v < 3) {
                kerr = TR_KERR_UNSUPPORTED_VERSION;
            } else if (acks != 0 && acks != 1 && acks != -1) {
                kerr = TR_KERR_INVALID_REQUIRED_ACKS;
            } else if (txn_id.len >= 0) {
                kerr = TR_KERR_INVALID_TXN_STATE; /* no transactions yet */
            } else if (!topic_ok) {
                kerr = TR_KERR_INVALID_TOPIC_EXCEPTION;
            } else {
                kerr = append_partition(req, topic, index, &records, &res);
            }
            tr_buf_put_i32(out, index);
            tr_buf_put_i16(out, kerr);
            tr_buf_put_i64(out, res.base_offset);
            if (v >= 2) {
                tr_buf_put_i64(out, res.log_append_time);
            }
            if (v >= 5) {
                tr_buf_put_i64(out, res.log_start_offset);
            }
            if (v >= 8) {
                tr_buf_put_i32(out, 0);               /* RecordErrors */
                tr_proto_put_cstring_v(out, 0, NULL); /* ErrorMessage */
            }
        }
    }
    if (v >= 1) {
        tr_buf_put_i32(out, 0); /* ThrottleTimeMs */
    }
    /* acks=0: the client expects no response at all. */
    req->no_response = acks == 0;
    return TR_OK;
}

tr_err_t
tr_api_init_producer_id(struct tr_request *req)
{
    struct tr_str txn_id;
    int32_t txn_timeout;
    int64_t pid = -1;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    if ((err = tr_proto_get_string(&req->body, &txn_id)) != TR_OK ||
        (err = tr_slice_get_i32(&req->body, &txn_timeout)) != TR_OK) {
        return err;
    }
    if (txn_id.len >= 0) {
        /* Transactions need a transaction coordinator, which comes later. */
        kerr = TR_KERR_INVALID_TXN_STATE;
    } else if (tr_pidgen_next(req->broker->pids, &pid) != TR_OK) {
        tr_log_error("cannot allocate a producer id: %s",
                     "the producer-id-block file could not be written");
        kerr = TR_KERR_KAFKA_STORAGE_ERROR;
    }
    tr_buf_put_i32(req->out, 0); /* ThrottleTimeMs */
    tr_buf_put_i16(req->out, kerr);
    tr_buf_put_i64(req->out, kerr == TR_KERR_NONE ? pid : -1);
    tr_buf_put_i16(req->out, kerr == TR_KERR_NONE ? 0 : -1);
    return TR_OK;
}
