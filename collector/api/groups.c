/*
 * api_groups -- the consumer-group APIs: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
 * DescribeGroups and DeleteGroups.
 *
 * The handlers decode and encode; the coordinator (groups.c) decides. A
 * JoinGroup or SyncGroup the coordinator cannot answer yet parks (see
 * api.h): the handler sets req->park_ms without touching req->out and runs
 * again, from the same frame, when the group's key is notified or the time
 * is up. In a cluster an OffsetCommit parks the same way until its batch is
 * committed, woken by the high watermark of its __consumer_offsets
 * partition, as an acks=all Produce is. All versions served here are
 * non-flexible.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "build-config.h"
#include "config.h"
#include "coordinator.h"
#include "groups.h"
#include "log.h"
#include "plimits.h"
#include "topics.h"
#include "waits.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/* Caps on array counts of group requests (nothing is sized by more). */
#define MAX_PROTOCOLS 64
#define MAX_MEMBERS   100000
#define MAX_GROUPS    100000

static void
put_str(struct tr_buf *out, const struct tr_str *s)
{
    tr_proto_put_string_v(out, 0, s->len > 0 ? s->ptr : "",
                          s->len > 0 ? s->len : 0);
}

/* Kafka reports a member's host as "/ip"; req->peer is "ip:port". */
static void
client_host(const struct tr_request *req, char *out, size_t outlen)
{
    const char *colon = strrchr(req->peer, ':');
    int len = colon != NULL ? (int)(colon - req->peer) : (int)strlen(req->peer);

    snprintf(out, outlen, "/%.*s", len, req->peer);
}

#ifdef HAVE_ZOOKEEPER
/*
 * Creates __consumer_offsets through the controller, as Kafka does on the
 * first FindCoordinator: offsets.topic.num.partitions partitions, and
 * offsets.topic.replication.factor replicas, or as many as there are live
 * brokers if that is fewer. Returns at once; the leaders come later.
 */
static void
create_txn_topic(struct tr_request *req)
{
    const struct tr_broker_config *cfg = req->broker->cfg;
    struct tr_broker_info *bs = NULL;
    size_t live = tr_cluster_brokers(req->broker->cluster, &bs);
    int32_t rf = cfg->transaction_state_log_replication_factor;
    int32_t isr = cfg->transaction_state_log_min_isr;
    char isrs[16], errbuf[256];
    const char *keys[] = { "cleanup.policy", "compression.type",
                           "segment.bytes", "min.insync.replicas",
                           "unclean.leader.election.enable" };
    const char *values[] = { "compact", "uncompressed", "104857600", isrs,
                             "false" };
    int16_t kerr;

    tr_free(bs);
    rf = (size_t)rf > live ? (int32_t)live : rf;
    if (rf < 1) {
        return;
    }
    snprintf(isrs, sizeof(isrs), "%d", (int)(isr > rf ? rf : isr));
    kerr = tr_cluster_create_topic(
        req->broker->cluster, TR_TXN_TOPIC,
        cfg->transaction_state_log_num_partitions, rf, keys, values,
        sizeof(keys) / sizeof(keys[0]), errbuf, sizeof(errbuf));
    if (kerr == TR_KERR_NONE) {
        tr_log_info("%s: created %s (%d partitions, replication factor %d)",
                    req->peer, TR_TXN_TOPIC,
                    (int)cfg->transaction_state_log_num_partitions, (int)rf);
    } else if (kerr != TR_KERR_TOPIC_ALREADY_EXISTS) {
        tr_log_warn("cannot create %s: %s", TR_TXN_TOPIC, errbuf);
    }
}

static void
create_offsets_topic(struct tr_request *req)
{
    static const char *const keys[] = { "cleanup.policy", "segment.bytes" };
    static const char *const values[] = { TR_GROUPS_TOPIC_CLEANUP_POLICY,
                                          TR_GROUPS_TOPIC_SEGMENT_BYTES };
    const struct tr_broker_config *cfg = req->broker->cfg;
    struct tr_cluster *c = req->broker->cluster;
    struct tr_broker_info *bs = NULL;
    int32_t rf = cfg->offsets_topic_replication_factor;
    size_t live = tr_cluster_brokers(c, &bs);
    char errbuf[256];
    int16_t kerr;

    tr_free(bs);
    if ((size_t)rf > live) {
        rf = (int32_t)live;
    }
    if (rf < 1) {
        return; /* no broker registered yet */
    }
    kerr = tr_cluster_create_topic(
        c, TR_GROUPS_TOPIC, cfg->offsets_topic_num_partitions, rf, keys, values,
        sizeof(keys) / sizeof(keys[0]), errbuf, sizeof(errbuf));
    if (kerr == TR_KERR_NONE) {
        tr_log_info("%s: created %s (%d partitions, replication factor %d) "
                    "for the first FindCoordinator",
                    req->peer, TR_GROUPS_TOPIC,
                    (int)cfg->offsets_topic_num_partitions, (int)rf);
    } else if (kerr != TR_KERR_TOPIC_ALREADY_EXISTS) {
        tr_log_warn("cannot create %s: %s", TR_GROUPS_TOPIC, errbuf);
    }
}

/*
 * The coordinator of 'group' in a cluster: the leader of its partition of
 * __consumer_offsets, in *out. COORDINATOR_NOT_AVAILABLE while the topic
 * or that leader does not exist (clients ask again).
 */
static int16_t
cluster_coordinator(struct tr_request *req, const struct tr_str *group,
                    int8_t key_type, struct tr_broker_info *out)
{
    struct tr_cluster *c = req->broker->cluster;
    struct tr_broker_info *bs = NULL;
    struct tr_pstate st;
    const char *topic = key_type == 1 ? TR_TXN_TOPIC : TR_GROUPS_TOPIC;
    int32_t p = -1;
    int16_t kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    size_t n, i;

    if (key_type == 1) {
        /* A transactional id: its partition of __transaction_state. */
        int32_t count = tr_cluster_partition_count(c, TR_TXN_TOPIC);

        if (count > 0) {
            p = tr_groups_partition_for(group, count);
        } else {
            create_txn_topic(req);
            return kerr;
        }
    } else {
        p = tr_groups_coordinator_partition(req->broker->groups, group);
    }
    if (p < 0) {
        if (tr_cluster_partition_count(c, TR_GROUPS_TOPIC) < 0) {
            create_offsets_topic(req);
        }
        return kerr;
    }
    if (!tr_cluster_partition_state(c, topic, p, &st) || st.leader < 0) {
        return kerr;
    }
    n = tr_cluster_brokers(c, &bs);
    for (i = 0; i < n; i++) {
        const char *host;
        int32_t port;

        /* At its address on the client's listener; without one, none. */
        if (bs[i].id == st.leader &&
            tr_rpc_endpoint(
                &bs[i], req->security != NULL ? req->security->listener : NULL,
                &host, &port)) {
            *out = bs[i];
            snprintf(out->host, sizeof(out->host), "%s", host);
            out->port = port;
            kerr = TR_KERR_NONE;
            break;
        }
    }
    tr_free(bs);
    return kerr;
}
#endif

tr_err_t
tr_api_find_coordinator(struct tr_request *req)
{
    struct tr_broker *broker = req->broker;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_str key;
    int8_t key_type = 0;
    int16_t kerr = TR_KERR_NONE;
    const char *msg = NULL;
    int32_t node = broker->node_id;
    /* This broker as the listener the client came on advertises it. */
    const char *host = req->security != NULL ? req->security->advertised_host
                                             : broker->advertised_host;
    int port = req->security != NULL ? req->security->advertised_port
                                     : broker->advertised_port;
    tr_err_t err;
#ifdef HAVE_ZOOKEEPER
    struct tr_broker_info coord;
#endif

    if ((err = tr_proto_get_string(&req->body, &key)) != TR_OK ||
        (v >= 1 && (err = tr_slice_get_i8(&req->body, &key_type)) != TR_OK)) {
        return err;
    }
    if (key_type == 0 &&
        !tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE, TR_ACL_GROUP, &key)) {
        kerr = TR_KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (key_type == 1 &&
               !tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE,
                                     TR_ACL_TRANSACTIONAL_ID, &key)) {
        kerr = TR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (key_type == 1 && broker->txn == NULL) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        msg = "no transaction coordinator";
    } else if (key_type != 0 && key_type != 1) {
        kerr = TR_KERR_INVALID_REQUEST;
        msg = "unknown key type";
    }
#ifdef HAVE_ZOOKEEPER
    if (kerr == TR_KERR_NONE && broker->cluster != NULL) {
        /* Kafka's rule: the leader of the group's offsets partition. */
        kerr = cluster_coordinator(req, &key, key_type, &coord);
        if (kerr == TR_KERR_NONE) {
            node = coord.id;
            host = coord.host;
            port = coord.port;
        } else {
            msg = key_type == 1 ? "the id's transaction state partition has "
                                  "no leader yet"
                                : "the group's offsets partition has no "
                                  "leader yet";
        }
    }
#endif
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i16(out, kerr);
    if (v >= 1) {
        tr_proto_put_cstring_v(out, 0, msg); /* ErrorMessage */
    }
    tr_buf_put_i32(out, kerr == TR_KERR_NONE ? node : -1);
    tr_proto_put_cstring_v(out, 0, kerr == TR_KERR_NONE ? host : "");
    tr_buf_put_i32(out, kerr == TR_KERR_NONE ? port : -1);
    return TR_OK;
}

/* An owned NUL-terminated copy of 's' ("" for null), or NULL on OOM. */
static char *
str_copy(const struct tr_str *s)
{
    size_t n = s->len > 0 ? (size_t)s->len : 0;
    char *p = tr_malloc(n + 1);

    if (p != NULL) {
        if (n > 0) { /* a null string has no pointer to copy from */
            memcpy(p, s->ptr, n);
        }
        p[n] = '\0';
    }
    return p;
}

/*
 * max.groups.per.principal: a request that would create group 'id' is
 * charged to its principal, or refused (GROUP_MAX_SIZE_REACHED, the
 * closest of Kafka's errors) when the principal already has its limit.
 */
static int
group_allowed(struct tr_request *req, const struct tr_str *id)
{
    struct tr_limits *limits = req->broker->limits;
    char *name;
    enum tr_limit_result r;

    if (tr_limits_max(limits, TR_LIMIT_GROUPS) == INT32_MAX ||
        tr_groups_exists(req->broker->groups, id)) {
        return 1;
    }
    name = str_copy(id);
    if (name == NULL) {
        return 0;
    }
    r = tr_limits_acquire(limits, TR_LIMIT_GROUPS, tr_request_principal(req),
                          name);
    if (r == TR_LIMIT_REFUSED) {
        tr_log_warn("%s: %s may not create group '%s' "
                    "(max.groups.per.principal %d)",
                    req->peer, tr_request_principal(req), TR_LOG_ESC(name),
                    tr_limits_max(limits, TR_LIMIT_GROUPS));
    }
    tr_free(name);
    return r != TR_LIMIT_REFUSED;
}

/* After the request: a charge for a group that was not created goes back. */
static void
group_charged(struct tr_request *req, const struct tr_str *id)
{
    char *name;

    if (tr_limits_max(req->broker->limits, TR_LIMIT_GROUPS) == INT32_MAX ||
        tr_groups_exists(req->broker->groups, id)) {
        return;
    }
    name = str_copy(id);
    if (name != NULL) {
        tr_limits_release(req->broker->limits, TR_LIMIT_GROUPS, name);
        tr_free(name);
    }
}

tr_err_t
tr_api_join_group(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_join_request jr;
    struct tr_join_result res;
    struct tr_group_protocol *protos = NULL;
    char host[80];
    int32_t i;
    tr_err_t err;

    memset(&jr, 0, sizeof(jr));
    memset(&res, 0, sizeof(res));
    jr.instance_id.len = -1;
    if ((err = tr_proto_get_string(in, &jr.group_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &jr.session_timeout_ms)) != TR_OK ||
        (v >= 1 &&
         (err = tr_slice_get_i32(in, &jr.rebalance_timeout_ms)) != TR_OK) ||
        (err = tr_proto_get_string(in, &jr.member_id)) != TR_OK ||
        (v >= 5 && (err = tr_proto_get_string(in, &jr.instance_id)) != TR_OK) ||
        (err = tr_proto_get_string(in, &jr.protocol_type)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &jr.nprotocols, 6,
                                        MAX_PROTOCOLS)) != TR_OK) {
        return err;
    }
    if (v == 0) {
        /* v0 bounds the join phase by the session timeout. */
        jr.rebalance_timeout_ms = jr.session_timeout_ms;
    }
    jr.nprotocols = jr.nprotocols < 0 ? 0 : jr.nprotocols;
    protos = tr_calloc((size_t)jr.nprotocols + 1, sizeof(*protos));
    if (protos == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < jr.nprotocols; i++) {
        if ((err = tr_proto_get_string(in, &protos[i].name)) != TR_OK ||
            (err = tr_proto_get_bytes(in, &protos[i].metadata)) != TR_OK) {
            goto out;
        }
        if (protos[i].name.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
    client_host(req, host, sizeof(host));
    jr.protocols = protos;
    jr.client_id = req->hdr.client_id;
    jr.client_host = host;
    jr.version = v;
    jr.token = req->waiter;
    jr.waiter = req->waiter;
    if (!tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP,
                              &jr.group_id)) {
        res.error = TR_KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (!group_allowed(req, &jr.group_id)) {
        res.error = TR_KERR_GROUP_MAX_SIZE_REACHED;
    } else {
        err = tr_groups_join(req->broker->groups, &jr, req->final, req->now_ms,
                             &res);
        group_charged(req, &jr.group_id);
    }
    if (err != TR_OK) {
        goto out;
    }
    if (res.park_ms > 0) {
        req->park_ms = res.park_ms;
        goto out;
    }
    if (v >= 2) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i16(out, res.error);
    tr_buf_put_i32(out, res.error == TR_KERR_NONE ? res.generation : -1);
    tr_proto_put_cstring_v(out, 0, res.protocol ? res.protocol : "");
    tr_proto_put_cstring_v(out, 0, res.leader ? res.leader : "");
    if (res.member_id != NULL) {
        tr_proto_put_cstring_v(out, 0, res.member_id);
    } else {
        put_str(out, &jr.member_id);
    }
    tr_buf_put_i32(out, res.nmembers);
    for (i = 0; i < res.nmembers; i++) {
        tr_proto_put_cstring_v(out, 0, res.members[i].member_id);
        if (v >= 5) {
            tr_proto_put_cstring_v(out, 0, res.members[i].instance_id);
        }
        tr_proto_put_bytes_v(out, 0, res.members[i].metadata,
                             res.members[i].metadata_len);
    }
out:
    tr_join_result_cleanup(&res);
    tr_free(protos);
    return err;
}

tr_err_t
tr_api_sync_group(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_sync_request sr;
    struct tr_sync_result res;
    struct tr_group_assignment *asg = NULL;
    int32_t i;
    tr_err_t err;

    memset(&sr, 0, sizeof(sr));
    memset(&res, 0, sizeof(res));
    sr.instance_id.len = -1;
    if ((err = tr_proto_get_string(in, &sr.group_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &sr.generation)) != TR_OK ||
        (err = tr_proto_get_string(in, &sr.member_id)) != TR_OK ||
        (v >= 3 && (err = tr_proto_get_string(in, &sr.instance_id)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(in, 0, &sr.nassignments, 6,
                                        MAX_MEMBERS)) != TR_OK) {
        return err;
    }
    sr.nassignments = sr.nassignments < 0 ? 0 : sr.nassignments;
    asg = tr_calloc((size_t)sr.nassignments + 1, sizeof(*asg));
    if (asg == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < sr.nassignments; i++) {
        if ((err = tr_proto_get_string(in, &asg[i].member_id)) != TR_OK ||
            (err = tr_proto_get_bytes(in, &asg[i].assignment)) != TR_OK) {
            goto out;
        }
    }
    sr.assignments = asg;
    sr.waiter = req->waiter;
    if (!tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP,
                              &sr.group_id)) {
        res.error = TR_KERR_GROUP_AUTHORIZATION_FAILED;
    } else {
        err = tr_groups_sync(req->broker->groups, &sr, req->final, req->now_ms,
                             &res);
    }
    if (err != TR_OK) {
        goto out;
    }
    if (res.park_ms > 0) {
        req->park_ms = res.park_ms;
        goto out;
    }
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i16(out, res.error);
    tr_proto_put_bytes_v(out, 0, res.assignment,
                         res.assignment ? res.assignment_len : 0);
out:
    tr_sync_result_cleanup(&res);
    tr_free(asg);
    return err;
}

tr_err_t
tr_api_heartbeat(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    struct tr_str group, member, instance = { NULL, -1 };
    int32_t generation;
    int16_t kerr;
    tr_err_t err;

    if ((err = tr_proto_get_string(in, &group)) != TR_OK ||
        (err = tr_slice_get_i32(in, &generation)) != TR_OK ||
        (err = tr_proto_get_string(in, &member)) != TR_OK ||
        (v >= 3 && (err = tr_proto_get_string(in, &instance)) != TR_OK)) {
        return err;
    }
    kerr = !tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP, &group)
               ? TR_KERR_GROUP_AUTHORIZATION_FAILED
               : tr_groups_heartbeat(req->broker->groups, &group, &member,
                                     &instance, generation, req->now_ms);
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i16(req->out, kerr);
    return TR_OK;
}

tr_err_t
tr_api_leave_group(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_str group, member, instance = { NULL, -1 };
    struct tr_slice members_at;
    int32_t n, i;
    int16_t kerr;
    size_t at;
    int allowed;
    tr_err_t err;

    if ((err = tr_proto_get_string(in, &group)) != TR_OK) {
        return err;
    }
    allowed = tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP, &group);
    if (v < 3) {
        if ((err = tr_proto_get_string(in, &member)) != TR_OK) {
            return err;
        }
        kerr = !allowed ? TR_KERR_GROUP_AUTHORIZATION_FAILED
                        : tr_groups_leave(req->broker->groups, &group, &member,
                                          &instance, req->now_ms);
        if (v >= 1) {
            tr_request_put_throttle(req);
        }
        tr_buf_put_i16(out, kerr);
        return TR_OK;
    }
    if ((err = tr_proto_get_array_len_v(in, 0, &n, 4, MAX_MEMBERS)) != TR_OK) {
        return err;
    }
    n = n < 0 ? 0 : n;
    members_at = *in;
    for (i = 0; i < n; i++) {
        if ((err = tr_proto_get_string(in, &member)) != TR_OK ||
            (err = tr_proto_get_string(in, &instance)) != TR_OK) {
            return err;
        }
    }
    tr_request_put_throttle(req);
    if (!allowed) {
        /* Kafka's error response: the top-level code, no members. */
        tr_buf_put_i16(out, TR_KERR_GROUP_AUTHORIZATION_FAILED);
        tr_buf_put_i32(out, 0);
        return TR_OK;
    }
    at = tr_buf_put_i16(out, TR_KERR_NONE); /* ErrorCode */
    tr_buf_put_i32(out, n);
    for (i = 0; i < n; i++) {
        tr_proto_get_string(&members_at, &member);
        tr_proto_get_string(&members_at, &instance);
        kerr = tr_groups_leave(req->broker->groups, &group, &member, &instance,
                               req->now_ms);
        put_str(out, &member);
        tr_proto_put_string_v(out, 0, instance.ptr, instance.len);
        tr_buf_put_i16(out, kerr);
        if (kerr == TR_KERR_NOT_COORDINATOR) {
            /* Clients look at the top: find the coordinator again. */
            tr_buf_set_i16(out, at, kerr);
        }
    }
    return TR_OK;
}

/*
 * A parked OffsetCommit (in a cluster): the first run wrote the batch and
 * keeps here each partition's answer and where the batch went; reruns only
 * ask whether it is committed, so nothing is written twice.
 */
struct commit_state {
    struct tr_groups_ack ack;
    int32_t n;
    int16_t errors[]; /* n */
};

static void
commit_state_free(void *arg)
{
    tr_free(arg);
}

/*
 * After the commit (first run) or instead of it (rerun): answer now, or
 * park until the batch is committed. Returns 1 to park.
 */
static int
commit_wait(struct tr_request *req, struct tr_offset_commit *offs, int32_t n,
            const struct tr_groups_ack *ack)
{
    struct commit_state *cs = req->state;
    int16_t kerr;
    int32_t i;

    if (cs == NULL) {
        if (ack->partition < 0) {
            return 0; /* a single collector, or nothing written */
        }
        cs = tr_malloc(sizeof(*cs) + (size_t)n * sizeof(cs->errors[0]) + 1);
        if (cs == NULL) {
            /* Cannot wait: the client retries a commit with no answer. */
            for (i = 0; i < n; i++) {
                if (offs[i].error == TR_KERR_NONE) {
                    offs[i].error = TR_KERR_COORDINATOR_NOT_AVAILABLE;
                }
            }
            return 0;
        }
        cs->ack = *ack;
        cs->n = n;
        for (i = 0; i < n; i++) {
            cs->errors[i] = offs[i].error;
        }
        req->state = cs;
        req->state_free = commit_state_free;
    } else {
        for (i = 0; i < n && i < cs->n; i++) {
            offs[i].error = cs->errors[i];
        }
    }
    /* Watch, then look: a HW move in between is not missed. */
    (void)tr_waiter_watch(req->waiter, TR_GROUPS_TOPIC, cs->ack.partition);
    kerr = tr_groups_acked(req->broker->groups, &cs->ack);
    if (kerr < 0 && !req->final) {
        req->park_ms = TR_GROUPS_COMMIT_TIMEOUT_MS;
        return 1;
    }
    if (kerr != TR_KERR_NONE) {
        for (i = 0; i < n; i++) {
            if (offs[i].error == TR_KERR_NONE) {
                offs[i].error = kerr < 0 ? TR_KERR_REQUEST_TIMED_OUT : kerr;
            }
        }
    }
    return 0;
}

/* Partitions of topic 'name' here or in the cluster; -1 when unknown. */
static int32_t
topic_partitions(struct tr_request *req, const struct tr_str *name)
{
    char topic[TR_TOPIC_NAME_MAX + 1];
    int32_t n;

    if (tr_str_copy(name, topic, sizeof(topic)) != TR_OK) {
        return -1;
    }
    n = tr_topics_partition_count(req->broker->topics, topic);
#ifdef HAVE_ZOOKEEPER
    if (n < 0 && req->broker->cluster != NULL) {
        n = tr_cluster_partition_count(req->broker->cluster, topic);
    }
#endif
    return n;
}

/*
 * Commits what the client may commit: nothing without READ on the group
 * (GROUP_AUTHORIZATION_FAILED for all), and only the partitions of topics
 * it may READ (TOPIC_AUTHORIZATION_FAILED for the others) that exist
 * (UNKNOWN_TOPIC_OR_PARTITION for the others, as Kafka answers).
 */
static tr_err_t
commit_authorized(struct tr_request *req, const struct tr_str *group,
                  const struct tr_str *member, const struct tr_str *instance,
                  int32_t generation, struct tr_offset_commit *offs, int32_t n,
                  const struct tr_str *topic_names, const int32_t *topic_counts,
                  int32_t ntopics, struct tr_groups_ack *ack)
{
    struct tr_offset_commit *sub = NULL;
    int32_t t, p, k, m = 0;
    tr_err_t err;

    if (!tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP, group)) {
        for (k = 0; k < n; k++) {
            offs[k].error = TR_KERR_GROUP_AUTHORIZATION_FAILED;
        }
        return TR_OK;
    }
    sub = tr_calloc((size_t)n + 1, sizeof(*sub));
    if (sub == NULL) {
        return TR_ERR_NOMEM;
    }
    for (t = 0, k = 0; t < ntopics; t++) {
        int allowed = topic_counts[t] == 0 ||
                      tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_TOPIC,
                                           &topic_names[t]);
        int32_t nparts =
            topic_counts[t] > 0 ? topic_partitions(req, &topic_names[t]) : -1;

        for (p = 0; p < topic_counts[t]; p++, k++) {
            if (!allowed) {
                offs[k].error = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (offs[k].partition < 0 || offs[k].partition >= nparts) {
                offs[k].error = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else {
                offs[k].error = TR_KERR_NONE;
                sub[m++] = offs[k];
            }
        }
    }
    err = m == 0
              ? TR_OK
              : tr_groups_commit(req->broker->groups, group, member, instance,
                                 generation, sub, m, req->now_ms, ack);
    for (k = 0, m = 0; err == TR_OK && k < n; k++) {
        if (offs[k].error == TR_KERR_NONE) {
            offs[k].error = sub[m++].error;
        }
    }
    tr_free(sub);
    return err;
}

tr_err_t
tr_api_offset_commit(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 8;
    struct tr_str group, member, instance = { NULL, -1 };
    struct tr_offset_commit *offs = NULL;
    int32_t *topic_counts = NULL;
    struct tr_str *topic_names = NULL;
    struct tr_slice topics_at;
    struct tr_groups_ack ack = { -1, -1, -1 };
    int32_t generation, ntopics, t, p, n = 0, k;
    int64_t retention;
    tr_err_t err;

    if ((err = tr_proto_get_string_v(in, flex, &group)) != TR_OK ||
        (err = tr_slice_get_i32(in, &generation)) != TR_OK ||
        (err = tr_proto_get_string_v(in, flex, &member)) != TR_OK ||
        (v >= 7 &&
         (err = tr_proto_get_string_v(in, flex, &instance)) != TR_OK) ||
        (v <= 4 && (err = tr_slice_get_i64(in, &retention)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(in, flex, &ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    /* First walk: count and check the bounds. */
    topics_at = *in;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name, meta;
        int32_t np, i32;
        int64_t i64;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 14,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        np = np < 0 ? 0 : np;
        if (n > TR_API_MAX_PARTITIONS - np) {
            return TR_ERR_TOO_LARGE;
        }
        n += np;
        for (p = 0; p < np; p++) {
            if ((err = tr_slice_get_i32(in, &i32)) != TR_OK ||
                (err = tr_slice_get_i64(in, &i64)) != TR_OK ||
                (v >= 6 && (err = tr_slice_get_i32(in, &i32)) != TR_OK) ||
                (err = tr_proto_get_string_v(in, flex, &meta)) != TR_OK ||
                (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
                return err;
            }
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
    }
    if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
        return err;
    }
    offs = tr_calloc((size_t)n + 1, sizeof(*offs));
    topic_counts = tr_calloc((size_t)ntopics + 1, sizeof(*topic_counts));
    topic_names = tr_calloc((size_t)ntopics + 1, sizeof(*topic_names));
    if (offs == NULL || topic_counts == NULL || topic_names == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    /* Second walk: fill in (the bounds were checked above). */
    for (t = 0, k = 0; t < ntopics; t++) {
        struct tr_str name;
        int32_t np;

        tr_proto_get_string_v(&topics_at, flex, &name);
        tr_proto_get_array_len_v(&topics_at, flex, &np, 0,
                                 TR_API_MAX_PARTITIONS);
        np = np < 0 ? 0 : np;
        topic_counts[t] = np;
        topic_names[t] = name;
        for (p = 0; p < np; p++, k++) {
            struct tr_offset_commit *oc = &offs[k];

            oc->topic = name;
            oc->leader_epoch = -1;
            tr_slice_get_i32(&topics_at, &oc->partition);
            tr_slice_get_i64(&topics_at, &oc->offset);
            if (v >= 6) {
                tr_slice_get_i32(&topics_at, &oc->leader_epoch);
            }
            tr_proto_get_string_v(&topics_at, flex, &oc->metadata);
            if (flex) {
                (void)tr_proto_skip_tags(&topics_at);
            }
        }
        if (flex) {
            (void)tr_proto_skip_tags(&topics_at);
        }
    }
    if (req->state == NULL &&
        !tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_GROUP, &group)) {
        for (k = 0; k < n; k++) {
            offs[k].error = TR_KERR_GROUP_AUTHORIZATION_FAILED;
        }
    } else if (req->state == NULL && !group_allowed(req, &group)) {
        for (k = 0; k < n; k++) {
            offs[k].error = TR_KERR_GROUP_MAX_SIZE_REACHED;
        }
    } else if (req->state == NULL) {
        err =
            commit_authorized(req, &group, &member, &instance, generation, offs,
                              n, topic_names, topic_counts, ntopics, &ack);
        group_charged(req, &group);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (commit_wait(req, offs, n, &ack)) {
        goto out; /* parked: req->out untouched */
    }
    if (v >= 3) {
        tr_request_put_throttle(req);
    }
    tr_proto_put_array_len_v(out, flex, ntopics);
    for (t = 0, k = 0; t < ntopics; t++) {
        tr_proto_put_string_v(out, flex,
                              topic_names[t].len > 0 ? topic_names[t].ptr : "",
                              topic_names[t].len > 0 ? topic_names[t].len : 0);
        tr_proto_put_array_len_v(out, flex, topic_counts[t]);
        for (p = 0; p < topic_counts[t]; p++, k++) {
            tr_buf_put_i32(out, offs[k].partition);
            tr_buf_put_i16(out, offs[k].error);
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
out:
    tr_free(offs);
    tr_free(topic_counts);
    tr_free(topic_names);
    return err;
}

static const struct tr_group_offset *
find_offset(const struct tr_group_offset *offs, size_t n,
            const struct tr_str *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (offs[i].partition == partition && tr_str_eq(topic, offs[i].topic)) {
            return &offs[i];
        }
    }
    return NULL;
}

/*
 * One partition of an OffsetFetch answer. 'unstable' (v7 require_stable,
 * a transaction's offsets still pending): UNSTABLE_OFFSET_COMMIT and no
 * offset, so that the client asks again once the transaction ended.
 */
static void
put_fetched(struct tr_buf *out, int16_t v, int32_t partition,
            const struct tr_group_offset *o, int16_t kerr, int unstable)
{
    int flex = v >= 6;

    if (unstable) {
        o = NULL;
    }
    tr_buf_put_i32(out, partition);
    tr_buf_put_i64(out, o ? o->offset : -1);
    if (v >= 5) {
        tr_buf_put_i32(out, o ? o->leader_epoch : -1);
    }
    tr_proto_put_string_v(out, flex, o ? o->metadata : "",
                          o ? o->metadata_len : 0);
    /* v2+ carry a coordinator error at the top; v0-1 only here. */
    tr_buf_put_i16(out, unstable ? TR_KERR_UNSTABLE_OFFSET_COMMIT
                        : v < 2  ? kerr
                                 : TR_KERR_NONE);
    tr_proto_put_tags_v(out, flex);
}

/* A partition of a topic the client may not DESCRIBE: offset -1 and
 * TOPIC_AUTHORIZATION_FAILED, in every version. */
static void
put_denied(struct tr_buf *out, int16_t v, int32_t partition)
{
    int flex = v >= 6;

    tr_buf_put_i32(out, partition);
    tr_buf_put_i64(out, -1);
    if (v >= 5) {
        tr_buf_put_i32(out, -1);
    }
    tr_proto_put_cstring_v(out, flex, "");
    tr_buf_put_i16(out, TR_KERR_TOPIC_AUTHORIZATION_FAILED);
    tr_proto_put_tags_v(out, flex);
}

/* Whether v7's require_stable asks about a pending transactional offset. */
static int
unstable(struct tr_request *req, int require_stable, int16_t kerr,
         const struct tr_str *group, const struct tr_str *topic,
         int32_t partition)
{
    char name[TR_TOPIC_NAME_MAX + 1];

    return require_stable && kerr == TR_KERR_NONE &&
           tr_str_copy(topic, name, sizeof(name)) == TR_OK &&
           tr_groups_txn_pending(req->broker->groups, group, name, partition);
}

/* Checks the 'ntopics' entries of an OffsetFetch topics array. */
static tr_err_t
skip_topics_body(struct tr_slice *in, int flex, int32_t ntopics)
{
    int32_t t, p;
    tr_err_t err;

    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        int32_t np, idx;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        for (p = 0; p < np; p++) {
            if ((err = tr_slice_get_i32(in, &idx)) != TR_OK) {
                return err;
            }
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

/* Checks one topics array of an OffsetFetch (null: every topic). */
static tr_err_t
skip_fetch_topics(struct tr_slice *in, int flex, int32_t *ntopics)
{
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, flex, ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    return skip_topics_body(in, flex, *ntopics);
}

/*
 * Encodes one group's topics array of an OffsetFetch answer: the topics
 * asked for at 'topics_at' (checked by skip_fetch_topics), or every
 * committed offset when 'ntopics' is -1. Returns the group's error
 * (GROUP_AUTHORIZATION_FAILED, NOT_COORDINATOR, NONE) in *group_kerr.
 */
static tr_err_t
put_group_offsets(struct tr_request *req, int16_t v, const struct tr_str *group,
                  struct tr_slice topics_at, int32_t ntopics,
                  int require_stable, int16_t *group_kerr)
{
    struct tr_buf *out = req->out;
    int flex = v >= 6;
    struct tr_group_offset *offs = NULL;
    size_t noffs = 0, i, j;
    int32_t t, p;
    int16_t kerr;
    int allowed;
    tr_err_t err;

    if (!tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE, TR_ACL_GROUP, group)) {
        /* Nothing is looked up; v0-1 carry the code per partition. */
        kerr = TR_KERR_GROUP_AUTHORIZATION_FAILED;
    } else {
        err = tr_groups_offsets(req->broker->groups, group, req->now_ms, &offs,
                                &noffs, &kerr);
        if (err != TR_OK) {
            return err;
        }
    }
    if (req->broker->acl != NULL) {
        /* Offsets of topics the client may not describe are not shown. */
        for (i = 0, j = 0; i < noffs; i++) {
            if (tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC,
                                       offs[i].topic)) {
                offs[j++] = offs[i];
            } else {
                tr_free(offs[i].topic);
                tr_free(offs[i].metadata);
            }
        }
        noffs = j;
    }
    if (ntopics < 0) {
        /* Every committed offset; the list is sorted by topic. */
        int32_t distinct = 0;

        for (i = 0; i < noffs; i++) {
            distinct += i == 0 || strcmp(offs[i].topic, offs[i - 1].topic) != 0;
        }
        tr_proto_put_array_len_v(out, flex, distinct);
        for (i = 0; i < noffs; i = j) {
            struct tr_str name;

            for (j = i; j < noffs && strcmp(offs[j].topic, offs[i].topic) == 0;
                 j++) {
            }
            name.ptr = offs[i].topic;
            name.len = (int32_t)strlen(offs[i].topic);
            tr_proto_put_cstring_v(out, flex, offs[i].topic);
            tr_proto_put_array_len_v(out, flex, (int32_t)(j - i));
            for (; i < j; i++) {
                put_fetched(out, v, offs[i].partition, &offs[i], kerr,
                            unstable(req, require_stable, kerr, group, &name,
                                     offs[i].partition));
            }
            tr_proto_put_tags_v(out, flex);
        }
    } else {
        tr_proto_put_array_len_v(out, flex, ntopics);
        for (t = 0; t < ntopics; t++) {
            struct tr_str name;
            int32_t np, idx;

            tr_proto_get_string_v(&topics_at, flex, &name);
            tr_proto_get_array_len_v(&topics_at, flex, &np, 0,
                                     TR_API_MAX_PARTITIONS);
            np = np < 0 ? 0 : np;
            tr_proto_put_string_v(out, flex, name.len > 0 ? name.ptr : "",
                                  name.len > 0 ? name.len : 0);
            tr_proto_put_array_len_v(out, flex, np);
            allowed = np == 0 || kerr == TR_KERR_GROUP_AUTHORIZATION_FAILED ||
                      tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE,
                                           TR_ACL_TOPIC, &name);
            for (p = 0; p < np; p++) {
                tr_slice_get_i32(&topics_at, &idx);
                if (!allowed) {
                    put_denied(out, v, idx);
                    continue;
                }
                put_fetched(
                    out, v, idx, find_offset(offs, noffs, &name, idx), kerr,
                    unstable(req, require_stable, kerr, group, &name, idx));
            }
            if (flex) {
                (void)tr_proto_skip_tags(&topics_at);
            }
            tr_proto_put_tags_v(out, flex);
        }
    }
    tr_group_offsets_free(offs, noffs);
    *group_kerr = kerr;
    return TR_OK;
}

/*
 * OffsetFetch v1-v8. Up to v7 one group, whose error is at the top (v2+)
 * or in each partition (v0-1); from v8 several groups, each with its own
 * topics and error.
 */
tr_err_t
tr_api_offset_fetch(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 6;
    struct tr_str group;
    struct tr_slice groups_at, topics_at;
    int32_t ntopics, ngroups = 1, g;
    int16_t kerr;
    int require_stable = 0;
    tr_err_t err;

    if (v < 8) {
        if ((err = tr_proto_get_string_v(in, flex, &group)) != TR_OK) {
            return err;
        }
        topics_at = *in;
        if ((err = skip_fetch_topics(in, flex, &ntopics)) != TR_OK) {
            return err;
        }
        if (ntopics < 0 && v < 2) {
            return TR_ERR_CORRUPT; /* null means "all" only from v2 */
        }
    } else {
        if ((err = tr_proto_get_array_len_v(in, flex, &ngroups, 3,
                                            MAX_GROUPS)) != TR_OK) {
            return err;
        }
        ngroups = ngroups < 0 ? 0 : ngroups;
        groups_at = *in;
        for (g = 0; g < ngroups; g++) {
            if ((err = tr_proto_get_string_v(in, flex, &group)) != TR_OK ||
                (err = skip_fetch_topics(in, flex, &ntopics)) != TR_OK ||
                (err = tr_proto_skip_tags(in)) != TR_OK) {
                return err;
            }
        }
    }
    if (v >= 7 && (err = tr_proto_get_bool(in, &require_stable)) != TR_OK) {
        return err;
    }
    if (v >= 3) {
        tr_request_put_throttle(req);
    }
    if (v < 8) {
        (void)tr_proto_get_array_len_v(&topics_at, flex, &ntopics, 0,
                                       TR_API_MAX_TOPICS);
        err = put_group_offsets(req, v, &group, topics_at, ntopics,
                                require_stable, &kerr);
        if (err != TR_OK) {
            return err;
        }
        if (v >= 2) {
            tr_buf_put_i16(out, kerr); /* ErrorCode */
        }
        tr_proto_put_tags_v(out, flex);
        return TR_OK;
    }
    tr_proto_put_array_len_v(out, flex, ngroups);
    for (g = 0; g < ngroups; g++) {
        tr_proto_get_string_v(&groups_at, flex, &group);
        tr_proto_put_string_v(out, flex, group.len > 0 ? group.ptr : "",
                              group.len > 0 ? group.len : 0);
        (void)tr_proto_get_array_len_v(&groups_at, flex, &ntopics, 0,
                                       TR_API_MAX_TOPICS);
        topics_at = groups_at;
        err = put_group_offsets(req, v, &group, topics_at, ntopics,
                                require_stable, &kerr);
        if (err != TR_OK) {
            return err;
        }
        /* Step past this group's topics and tags to the next group. */
        (void)skip_topics_body(&groups_at, flex, ntopics);
        (void)tr_proto_skip_tags(&groups_at);
        tr_buf_put_i16(out, kerr); /* the group's ErrorCode */
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
    return TR_OK;
}

/*
 * Whether 'name' matches one of the 'n' strings of a ListGroups filter at
 * 'at' (checked by the caller), ignoring case as Kafka does. An empty
 * filter matches everything.
 */
static int
filter_match(struct tr_slice at, int32_t n, int flex, const char *name)
{
    struct tr_str s;
    int32_t i;

    if (n <= 0) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(&at, flex, &s) == TR_OK && s.len >= 0 &&
            (size_t)s.len == strlen(name) &&
            strncasecmp(s.ptr, name, (size_t)s.len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Reads a ListGroups filter (v4+: states, v5+: types): count and start. */
static tr_err_t
get_filter(struct tr_slice *in, int flex, struct tr_slice *at, int32_t *n)
{
    struct tr_str s;
    int32_t i;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, flex, n, 1, MAX_GROUPS)) != TR_OK) {
        return err;
    }
    *at = *in;
    for (i = 0; i < *n; i++) {
        if ((err = tr_proto_get_string_v(in, flex, &s)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

/*
 * ListGroups v0-v5: every group this broker coordinates that the client
 * may describe, with (v4+) its state and (v5+) its type, which is always
 * "classic" here; v4's states filter and v5's types filter narrow the
 * list.
 */
tr_err_t
tr_api_list_groups(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = v >= 3;
    struct tr_group_listing *list = NULL;
    struct tr_slice states_at, types_at;
    int32_t nstates = 0, ntypes = 0;
    size_t n = 0, i;
    int32_t listed = 0;
    int *shown;
    int all;
    tr_err_t err;

    if ((v >= 4 &&
         (err = get_filter(in, flex, &states_at, &nstates)) != TR_OK) ||
        (v >= 5 && (err = get_filter(in, flex, &types_at, &ntypes)) != TR_OK) ||
        (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
        return err;
    }
    err = tr_groups_list(req->broker->groups, req->now_ms, &list, &n);
    if (err != TR_OK) {
        return err;
    }
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i16(out, TR_KERR_NONE);
    /* DESCRIBE on the cluster lists all, else the groups one may describe. */
    all = tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE, TR_ACL_CLUSTER,
                                 TR_ACL_CLUSTER_NAME);
    /* A compact array's length is a varint: count first, then encode. */
    shown = tr_calloc(n + 1, sizeof(*shown));
    if (shown == NULL) {
        tr_group_listing_free(list, n);
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        shown[i] =
            (all || tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE,
                                           TR_ACL_GROUP, list[i].group_id)) &&
            (v < 4 || filter_match(states_at, nstates, flex,
                                   tr_group_state_name(list[i].state))) &&
            (v < 5 || filter_match(types_at, ntypes, flex, "classic"));
        listed += shown[i];
    }
    tr_proto_put_array_len_v(out, flex, listed);
    for (i = 0; i < n; i++) {
        if (!shown[i]) {
            continue;
        }
        tr_proto_put_cstring_v(out, flex, list[i].group_id);
        tr_proto_put_cstring_v(out, flex, list[i].protocol_type);
        if (v >= 4) {
            tr_proto_put_cstring_v(out, flex,
                                   tr_group_state_name(list[i].state));
        }
        if (v >= 5) {
            tr_proto_put_cstring_v(out, flex, "classic");
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_free(shown);
    tr_proto_put_tags_v(out, flex);
    tr_group_listing_free(list, n);
    return TR_OK;
}

tr_err_t
tr_api_describe_groups(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_slice names_at;
    int32_t n, i;
    int include_ops = 0;
    size_t j;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, 0, &n, 2, MAX_GROUPS)) != TR_OK) {
        return err;
    }
    n = n < 0 ? 0 : n;
    names_at = *in;
    for (i = 0; i < n; i++) {
        struct tr_str name;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK) {
            return err;
        }
    }
    if (v >= 3 && (err = tr_proto_get_bool(in, &include_ops)) != TR_OK) {
        return err;
    }
    if (v >= 1) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i32(out, n);
    for (i = 0; i < n; i++) {
        struct tr_group_description d;
        struct tr_str name;

        tr_proto_get_string(&names_at, &name);
        if (!tr_api_authorize_str(req, TR_ACL_OP_DESCRIBE, TR_ACL_GROUP,
                                  &name)) {
            /* Kafka's answer: the code, the name, nothing else. */
            tr_buf_put_i16(out, TR_KERR_GROUP_AUTHORIZATION_FAILED);
            put_str(out, &name);
            tr_proto_put_cstring_v(out, 0, "");
            tr_proto_put_cstring_v(out, 0, "");
            tr_proto_put_cstring_v(out, 0, "");
            tr_buf_put_i32(out, 0); /* Members */
            if (v >= 3) {
                tr_buf_put_i32(out, INT32_MIN); /* AuthorizedOperations */
            }
            continue;
        }
        err = tr_groups_describe(req->broker->groups, &name, req->now_ms, &d);
        if (err != TR_OK) {
            return err;
        }
        tr_buf_put_i16(out, name.len > 0 ? d.error : TR_KERR_INVALID_GROUP_ID);
        put_str(out, &name);
        tr_proto_put_cstring_v(out, 0, tr_group_state_name(d.state));
        tr_proto_put_cstring_v(out, 0, d.protocol_type ? d.protocol_type : "");
        tr_proto_put_cstring_v(out, 0, d.protocol ? d.protocol : "");
        tr_buf_put_i32(out, (int32_t)d.nmembers);
        for (j = 0; j < d.nmembers; j++) {
            const struct tr_group_member_info *mi = &d.members[j];

            tr_proto_put_cstring_v(out, 0, mi->member_id);
            if (v >= 4) {
                tr_proto_put_cstring_v(out, 0, mi->instance_id);
            }
            tr_proto_put_cstring_v(out, 0, mi->client_id);
            tr_proto_put_cstring_v(out, 0, mi->client_host);
            tr_proto_put_bytes_v(out, 0, mi->metadata, mi->metadata_len);
            tr_proto_put_bytes_v(out, 0, mi->assignment, mi->assignment_len);
        }
        if (v >= 3) {
            /* AuthorizedOperations (KIP-430), when asked for. */
            char gname[TR_API_ACL_NAME_MAX];
            tr_buf_put_i32(
                out,
                include_ops && tr_str_copy(&name, gname, sizeof(gname)) == TR_OK
                    ? tr_api_authorized_ops(req, TR_ACL_GROUP, gname)
                    : INT32_MIN);
        }
        tr_group_description_cleanup(&d);
    }
    return TR_OK;
}

tr_err_t
tr_api_delete_groups(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_slice names_at;
    int32_t n, i;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(in, 0, &n, 2, MAX_GROUPS)) != TR_OK) {
        return err;
    }
    n = n < 0 ? 0 : n;
    names_at = *in;
    for (i = 0; i < n; i++) {
        struct tr_str name;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK) {
            return err;
        }
    }
    tr_request_put_throttle(req);
    tr_buf_put_i32(out, n);
    for (i = 0; i < n; i++) {
        struct tr_str name;

        tr_proto_get_string(&names_at, &name);
        put_str(out, &name);
        tr_buf_put_i16(
            out,
            !tr_api_authorize_str(req, TR_ACL_OP_DELETE, TR_ACL_GROUP, &name)
                ? TR_KERR_GROUP_AUTHORIZATION_FAILED
                : tr_groups_delete(req->broker->groups, &name, req->now_ms));
    }
    return TR_OK;
}

/*
 * OffsetDelete (v0): removes a group's committed offsets for partitions
 * no member consumes (KIP-496). DELETE on the group is needed (else
 * GROUP_AUTHORIZATION_FAILED for the request), and READ on each topic
 * (else TOPIC_AUTHORIZATION_FAILED for its partitions); partitions that do
 * not exist get UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers.
 */
tr_err_t
tr_api_offset_delete(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_str group;
    struct tr_slice topics_at;
    struct tr_offset_commit *parts = NULL, *sub = NULL;
    int32_t *topic_counts = NULL;
    struct tr_str *topic_names = NULL;
    int32_t ntopics, t, p, n = 0, k, m = 0;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    if ((err = tr_proto_get_string(in, &group)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &ntopics, 6,
                                        TR_API_MAX_TOPICS)) != TR_OK) {
        return err;
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    topics_at = *in;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        int32_t np, i32;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &np, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        np = np < 0 ? 0 : np;
        if (n > TR_API_MAX_PARTITIONS - np) {
            return TR_ERR_TOO_LARGE;
        }
        n += np;
        for (p = 0; p < np; p++) {
            if ((err = tr_slice_get_i32(in, &i32)) != TR_OK) {
                return err;
            }
        }
    }
    parts = tr_calloc((size_t)n + 1, sizeof(*parts));
    sub = tr_calloc((size_t)n + 1, sizeof(*sub));
    topic_counts = tr_calloc((size_t)ntopics + 1, sizeof(*topic_counts));
    topic_names = tr_calloc((size_t)ntopics + 1, sizeof(*topic_names));
    if (parts == NULL || sub == NULL || topic_counts == NULL ||
        topic_names == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (t = 0, k = 0; t < ntopics; t++) {
        int32_t np, nparts;
        int allowed;

        tr_proto_get_string(&topics_at, &topic_names[t]);
        tr_proto_get_array_len_v(&topics_at, 0, &np, 0, TR_API_MAX_PARTITIONS);
        topic_counts[t] = np = np < 0 ? 0 : np;
        allowed =
            np == 0 || tr_api_authorize_str(req, TR_ACL_OP_READ, TR_ACL_TOPIC,
                                            &topic_names[t]);
        nparts =
            np > 0 && allowed ? topic_partitions(req, &topic_names[t]) : -1;
        for (p = 0; p < np; p++, k++) {
            parts[k].topic = topic_names[t];
            tr_slice_get_i32(&topics_at, &parts[k].partition);
            parts[k].error =
                !allowed ? TR_KERR_TOPIC_AUTHORIZATION_FAILED
                : parts[k].partition < 0 || parts[k].partition >= nparts
                    ? TR_KERR_UNKNOWN_TOPIC_OR_PARTITION
                    : TR_KERR_NONE;
            if (parts[k].error == TR_KERR_NONE) {
                sub[m++] = parts[k];
            }
        }
    }
    if (!tr_api_authorize_str(req, TR_ACL_OP_DELETE, TR_ACL_GROUP, &group)) {
        kerr = TR_KERR_GROUP_AUTHORIZATION_FAILED;
        ntopics = 0; /* Kafka answers with the error alone */
    } else {
        kerr = tr_groups_delete_offsets(req->broker->groups, &group, sub,
                                        (size_t)m, req->now_ms);
    }
    for (k = 0, m = 0; k < n; k++) {
        if (parts[k].error == TR_KERR_NONE) {
            parts[k].error = sub[m++].error;
        }
    }
    tr_buf_put_i16(out, kerr);
    tr_request_put_throttle(req);
    tr_buf_put_i32(out, ntopics);
    for (t = 0, k = 0; t < ntopics; t++) {
        put_str(out, &topic_names[t]);
        tr_buf_put_i32(out, topic_counts[t]);
        for (p = 0; p < topic_counts[t]; p++, k++) {
            tr_buf_put_i32(out, parts[k].partition);
            tr_buf_put_i16(out, parts[k].error);
        }
    }
out:
    tr_free(parts);
    tr_free(sub);
    tr_free(topic_counts);
    tr_free(topic_names);
    return err;
}
