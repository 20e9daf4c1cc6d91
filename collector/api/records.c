/*
 * api_records -- DeleteRecords (v0-1): moves partitions' log start offsets.
 *
 * Request and response are the classic (non-flexible) encodings of
 * DeleteRecordsRequest/Response v0 and v1 (v1 only changes throttling
 * behaviour). An offset of -1 means the high watermark. Each partition's
 * LowWatermark answers with the resulting log start offset.
 */
#include "api.h"

#include <stdio.h>

#include "log.h"
#include "topics.h"

tr_err_t
tr_api_delete_records(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_slice topics_at;
    int32_t ntopics, t, np, i, index, timeout_ms;
    int64_t offset;
    tr_err_t err;

    /* First pass: check the whole request before doing anything. */
    err = tr_proto_get_array_len_v(in, 0, &ntopics, 6, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    topics_at = *in;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &np, 12,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        for (i = 0; i < np; i++) {
            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (err = tr_slice_get_i64(in, &offset)) != TR_OK) {
                return err;
            }
        }
    }
    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK) {
        return err;
    }

    tr_request_put_throttle(req);
    tr_buf_put_i32(out, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int valid, allowed;

        tr_proto_get_string(&topics_at, &name);
        tr_proto_get_array_len_v(&topics_at, 0, &np, 0, TR_API_MAX_PARTITIONS);
        np = np < 0 ? 0 : np;
        valid = tr_str_copy(&name, topic, sizeof(topic)) == TR_OK;
        allowed = np == 0 || tr_api_authorize_str(req, TR_ACL_OP_DELETE,
                                                  TR_ACL_TOPIC, &name);
        tr_proto_put_string_v(out, 0, name.ptr, name.len < 0 ? 0 : name.len);
        tr_buf_put_i32(out, np);
        for (i = 0; i < np; i++) {
            int64_t low = -1;
            int16_t kerr = TR_KERR_NONE;

            tr_slice_get_i32(&topics_at, &index);
            tr_slice_get_i64(&topics_at, &offset);
            err = !allowed ? TR_ERR_INVALID
                  : valid ? tr_topics_delete_records(req->broker->topics, topic,
                                                     index, offset, &low)
                          : TR_ERR_NOT_FOUND;
            if (!allowed) {
                kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (err == TR_ERR_NOT_FOUND) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (err == TR_ERR_OUT_OF_RANGE) {
                kerr = TR_KERR_OFFSET_OUT_OF_RANGE;
            } else if (err != TR_OK) {
                kerr = tr_kerr_from(err);
            } else {
                tr_log_info("DeleteRecords %s-%d before %lld (by %s): log "
                            "start offset now %lld",
                            topic, index, (long long)offset, req->peer,
                            (long long)low);
            }
            tr_buf_put_i32(out, index); /* PartitionIndex */
            tr_buf_put_i64(out, low);   /* LowWatermark */
            tr_buf_put_i16(out, kerr);  /* ErrorCode */
        }
    }
    return TR_OK;
}
