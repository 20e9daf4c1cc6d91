/*
 * replica -- the requests brokers send each other: LeaderAndIsr,
 * UpdateMetadata, StopReplica, ControlledShutdown (controller traffic, see
 * cluster/cluster.h) and OffsetForLeaderEpoch (a follower finding where its
 * log diverges; clients use it too, after a leader change).
 *
 * A single collector has no controller: it answers the controller's
 * requests with STALE_CONTROLLER_EPOCH, so a stray controller gets nothing
 * done here. OffsetForLeaderEpoch works everywhere.
 */
#include "api.h"

#include <string.h>

#include "build-config.h"
#include "log.h"
#include "partition.h"
#include "rpc.h"
#include "topics.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/*
 * The controller's requests need CLUSTER_ACTION on the cluster: brokers
 * talk to each other as the principal of their inter-broker connection,
 * which must therefore be allowed it (super.users, docs/security.md).
 */
static int
cluster_action(struct tr_request *req)
{
    return tr_api_authorize(req, TR_ACL_OP_CLUSTER_ACTION, TR_ACL_CLUSTER,
                            TR_ACL_CLUSTER_NAME);
}

static tr_err_t
state_request(struct tr_request *req, int16_t key)
{
    int16_t kerr = TR_KERR_STALE_CONTROLLER_EPOCH;
    struct tr_state_msg m;
    tr_err_t err;

    err = tr_rpc_state_decode(&req->body, key, &m);
    if (err != TR_OK) {
        return err;
    }
    if (!cluster_action(req)) {
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
#ifdef HAVE_ZOOKEEPER
    else if (req->broker->cluster != NULL) {
        kerr = key == TR_API_LEADER_AND_ISR
                   ? tr_cluster_leader_and_isr(req->broker->cluster, &m)
                   : tr_cluster_update_metadata(req->broker->cluster, &m);
    }
#endif
    tr_rpc_state_free(&m);
    tr_buf_put_i16(req->out, kerr);
    if (key == TR_API_LEADER_AND_ISR) {
        tr_buf_put_i32(req->out, 0); /* per-partition errors: none */
    }
    return TR_OK;
}

tr_err_t
tr_api_leader_and_isr(struct tr_request *req)
{
    return state_request(req, TR_API_LEADER_AND_ISR);
}

tr_err_t
tr_api_update_metadata(struct tr_request *req)
{
    return state_request(req, TR_API_UPDATE_METADATA);
}

/*
 * StopReplica v1: the controller moved replicas off this broker. The
 * partitions are answered as one list (errors only at the top level).
 */
tr_err_t
tr_api_stop_replica(struct tr_request *req)
{
    int16_t kerr = TR_KERR_STALE_CONTROLLER_EPOCH;
    struct tr_stop_msg m;
    tr_err_t err;

    err = tr_rpc_stop_decode(&req->body, &m);
    if (err != TR_OK) {
        return err;
    }
    if (!cluster_action(req)) {
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
#ifdef HAVE_ZOOKEEPER
    else if (req->broker->cluster != NULL) {
        kerr = tr_cluster_stop_replica(req->broker->cluster, &m);
    }
#endif
    tr_rpc_stop_free(&m);
    tr_buf_put_i16(req->out, kerr);
    tr_buf_put_i32(req->out, 0); /* per-partition errors: none */
    return TR_OK;
}

tr_err_t
tr_api_controlled_shutdown(struct tr_request *req)
{
    int32_t id, remaining = 0;
    int16_t kerr = TR_KERR_NOT_CONTROLLER;
    tr_err_t err;

    if ((err = tr_slice_get_i32(&req->body, &id)) != TR_OK) {
        return err;
    }
    if (!cluster_action(req)) {
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
#ifdef HAVE_ZOOKEEPER
    else if (req->broker->cluster != NULL) {
        kerr = tr_cluster_handle_controlled_shutdown(req->broker->cluster, id,
                                                     &remaining);
    }
#endif
    tr_buf_put_i16(req->out, kerr);
    /* The count stands for the partitions still led (names not needed). */
    tr_buf_put_i32(req->out, remaining);
    for (; remaining > 0; remaining--) {
        tr_proto_put_cstring_v(req->out, 0, "");
        tr_buf_put_i32(req->out, -1);
    }
    return TR_OK;
}

tr_err_t
tr_api_offset_for_leader_epoch(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    int32_t replica_id = -1, nt, np, t, p;
    tr_err_t err;

    if (v >= 3 && (err = tr_slice_get_i32(in, &replica_id)) != TR_OK) {
        return err;
    }
    if ((err = tr_proto_get_array_len_v(in, 0, &nt, 6, TR_API_MAX_TOPICS)) !=
        TR_OK) {
        return err;
    }
    if (v >= 2) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i32(req->out, nt < 0 ? 0 : nt);
    for (t = 0; t < nt; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int topic_ok, allowed;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &np, 8,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        topic_ok = tr_str_copy(&name, topic, sizeof(topic)) == TR_OK;
        /* A follower's CLUSTER_ACTION, or DESCRIBE on the topic. */
        allowed =
            np <= 0 || (replica_id >= 0 && cluster_action(req)) ||
            tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC, &name);
        tr_proto_put_string_v(req->out, 0, name.ptr,
                              name.len < 0 ? 0 : name.len);
        tr_buf_put_i32(req->out, np < 0 ? 0 : np);
        for (p = 0; p < np; p++) {
            int32_t index, current = -1, epoch, found = -1;
            int64_t end = -1;
            int16_t kerr = TR_KERR_NONE;
            struct tr_partition *part = NULL;

            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (v >= 2 && (err = tr_slice_get_i32(in, &current)) != TR_OK) ||
                (err = tr_slice_get_i32(in, &epoch)) != TR_OK) {
                return err;
            }
            if (topic_ok && allowed) {
                part = tr_topics_partition(req->broker->topics, topic, index);
            }
            if (!allowed) {
                kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (part == NULL) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
#ifdef HAVE_ZOOKEEPER
            if (part != NULL && req->broker->cluster != NULL) {
                kerr = tr_cluster_check_fetch(req->broker->cluster, part, -1,
                                              current, -1, NULL);
            }
#endif
            if (kerr == TR_KERR_NONE) {
                tr_partition_end_offset_for_epoch(part, epoch, &found, &end);
            }
            tr_partition_unref(part);
            tr_buf_put_i16(req->out, kerr);
            tr_buf_put_i32(req->out, index);
            if (v >= 1) {
                tr_buf_put_i32(req->out, found);
            }
            tr_buf_put_i64(req->out, end);
        }
    }
    return TR_OK;
}
