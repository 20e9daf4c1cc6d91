/*
 * api_meta -- the API table, ApiVersions and Metadata.
 *
 * Metadata is also where topics are auto-created: producers (and kafkajs
 * consumers) ask for a topic's metadata before using it, and Kafka creates
 * missing topics at that moment when auto.create.topics.enable is set and,
 * from v4, the client allows it.
 */
#include "api.h"

#include "build-config.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "fleet.h"
#include "log.h"
#include "plimits.h"
#include "topics.h"

/*
 * What we advertise. Produce starts at 0 although only 3+ is implemented:
 * librdkafka checks Produce v0 before it will compress a batch.
 */
static const struct tr_api api_table[] = {
    { TR_API_PRODUCE, 0, 8, tr_api_produce },
    { TR_API_FETCH, 4, 11, tr_api_fetch },
    { TR_API_LIST_OFFSETS, 1, 8, tr_api_list_offsets },
    { TR_API_METADATA, 0, 8, tr_api_metadata },
    { TR_API_LEADER_AND_ISR, 1, 1, tr_api_leader_and_isr },
    { TR_API_STOP_REPLICA, 1, 1, tr_api_stop_replica },
    { TR_API_UPDATE_METADATA, 4, 4, tr_api_update_metadata },
    { TR_API_CONTROLLED_SHUTDOWN, 1, 1, tr_api_controlled_shutdown },
    { TR_API_OFFSET_FOR_LEADER_EPOCH, 0, 3, tr_api_offset_for_leader_epoch },
    { TR_API_API_VERSIONS, 0, 3, tr_api_api_versions },
    { TR_API_CREATE_TOPICS, 0, 4, tr_api_create_topics },
    { TR_API_DELETE_TOPICS, 0, 3, tr_api_delete_topics },
    { TR_API_INIT_PRODUCER_ID, 0, 4, tr_api_init_producer_id },
    { TR_API_ADD_PARTITIONS_TO_TXN, 0, 3, tr_api_add_partitions_to_txn },
    { TR_API_ADD_OFFSETS_TO_TXN, 0, 3, tr_api_add_offsets_to_txn },
    { TR_API_END_TXN, 0, 3, tr_api_end_txn },
    { TR_API_WRITE_TXN_MARKERS, 0, 1, tr_api_write_txn_markers },
    { TR_API_TXN_OFFSET_COMMIT, 0, 3, tr_api_txn_offset_commit },
    { TR_API_DESCRIBE_TRANSACTIONS, 0, 0, tr_api_describe_transactions },
    { TR_API_LIST_TRANSACTIONS, 0, 1, tr_api_list_transactions },
    { TR_API_DESCRIBE_PRODUCERS, 0, 0, tr_api_describe_producers },
    { TR_API_DESCRIBE_ACLS, 0, 3, tr_api_describe_acls },
    { TR_API_CREATE_ACLS, 0, 3, tr_api_create_acls },
    { TR_API_DELETE_ACLS, 0, 3, tr_api_delete_acls },
    { TR_API_DESCRIBE_CONFIGS, 0, 3, tr_api_describe_configs },
    { TR_API_CREATE_PARTITIONS, 0, 1, tr_api_create_partitions },
    { TR_API_OFFSET_COMMIT, 2, 8, tr_api_offset_commit },
    { TR_API_OFFSET_FETCH, 1, 8, tr_api_offset_fetch },
    { TR_API_FIND_COORDINATOR, 0, 2, tr_api_find_coordinator },
    { TR_API_JOIN_GROUP, 0, 5, tr_api_join_group },
    { TR_API_HEARTBEAT, 0, 3, tr_api_heartbeat },
    { TR_API_LEAVE_GROUP, 0, 3, tr_api_leave_group },
    { TR_API_SYNC_GROUP, 0, 3, tr_api_sync_group },
    { TR_API_DESCRIBE_GROUPS, 0, 4, tr_api_describe_groups },
    { TR_API_LIST_GROUPS, 0, 5, tr_api_list_groups },
    { TR_API_DELETE_GROUPS, 0, 1, tr_api_delete_groups },
    { TR_API_OFFSET_DELETE, 0, 0, tr_api_offset_delete },
    { TR_API_DELETE_RECORDS, 0, 1, tr_api_delete_records },
    { TR_API_DESCRIBE_LOG_DIRS, 0, 4, tr_api_describe_log_dirs },
    { TR_API_ELECT_LEADERS, 0, 2, tr_api_elect_leaders },
    { TR_API_ALTER_PARTITION_REASSIGNMENTS, 0, 0,
      tr_api_alter_partition_reassignments },
    { TR_API_LIST_PARTITION_REASSIGNMENTS, 0, 0,
      tr_api_list_partition_reassignments },
    { TR_API_ALTER_CONFIGS, 0, 1, tr_api_alter_configs },
    { TR_API_INCREMENTAL_ALTER_CONFIGS, 0, 0,
      tr_api_incremental_alter_configs },
    { TR_API_SASL_HANDSHAKE, 0, 1, tr_api_sasl_handshake },
    { TR_API_SASL_AUTHENTICATE, 0, 2, tr_api_sasl_authenticate },
    { TR_API_DESCRIBE_CLIENT_QUOTAS, 0, 1, tr_api_describe_client_quotas },
    { TR_API_ALTER_CLIENT_QUOTAS, 0, 1, tr_api_alter_client_quotas },
    { TR_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0,
      tr_api_describe_user_scram_credentials },
    { TR_API_ALTER_USER_SCRAM_CREDENTIALS, 0, 0,
      tr_api_alter_user_scram_credentials },
};

#define API_COUNT (sizeof(api_table) / sizeof(api_table[0]))

const struct tr_api *
tr_api_find(int16_t key)
{
    size_t i;

    for (i = 0; i < API_COUNT; i++) {
        if (api_table[i].key == key) {
            return &api_table[i];
        }
    }
    return NULL;
}

const struct tr_api *
tr_api_table(size_t *count)
{
    *count = API_COUNT;
    return api_table;
}

static void
put_api_versions(struct tr_buf *out, int flex, int16_t error)
{
    size_t i;

    tr_buf_put_i16(out, error);
    tr_proto_put_array_len_v(out, flex, (int32_t)API_COUNT);
    for (i = 0; i < API_COUNT; i++) {
        tr_buf_put_i16(out, api_table[i].key);
        tr_buf_put_i16(out, api_table[i].min_version);
        tr_buf_put_i16(out, api_table[i].max_version);
        tr_proto_put_tags_v(out, flex);
    }
}

void
tr_api_versions_unsupported(struct tr_buf *out)
{
    put_api_versions(out, 0, TR_KERR_UNSUPPORTED_VERSION);
}

tr_err_t
tr_api_api_versions(struct tr_request *req)
{
    int16_t version = req->hdr.api_version;
    int flex = req->hdr.flexible;
    tr_err_t err;

    if (version >= 3) {
        struct tr_str name, ver;

        err = tr_proto_get_compact_string(&req->body, &name);
        if (err == TR_OK) {
            err = tr_proto_get_compact_string(&req->body, &ver);
        }
        if (err == TR_OK) {
            err = tr_proto_skip_tags(&req->body);
        }
        if (err != TR_OK) {
            return err;
        }
    }
    put_api_versions(req->out, flex, TR_KERR_NONE);
    if (version >= 1) {
        tr_request_put_throttle(req);
    }
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}

/*
 * Auto-creation needs CREATE on the cluster or on the topic (Kafka checks
 * the cluster quietly, then each topic).
 */
static int
may_create(struct tr_request *req, const char *name)
{
    return tr_api_authorize_quiet(req, TR_ACL_OP_CREATE, TR_ACL_CLUSTER,
                                  TR_ACL_CLUSTER_NAME) ||
           tr_api_authorize(req, TR_ACL_OP_CREATE, TR_ACL_TOPIC, name);
}

/*
 * Auto-creation counts against the asking principal's
 * max.topics.per.principal (internal "__" topics excepted): refused, the
 * topic's error is POLICY_VIOLATION.
 */
static int
auto_create_allowed(struct tr_request *req, const char *name, int16_t *kerr)
{
    if (strncmp(name, "__", 2) == 0 ||
        tr_limits_acquire(req->broker->limits, TR_LIMIT_TOPICS,
                          tr_request_principal(req),
                          name) != TR_LIMIT_REFUSED) {
        return 1;
    }
    tr_log_warn("%s: %s may not auto-create topic '%s' "
                "(max.topics.per.principal %d)",
                req->peer, tr_request_principal(req), TR_LOG_ESC(name),
                tr_limits_max(req->broker->limits, TR_LIMIT_TOPICS));
    *kerr = TR_KERR_POLICY_VIOLATION;
    return 0;
}

/*
 * Finds topic 'name' or creates it when auto-creation applies. Returns the
 * partition count, or -1 with *kerr set.
 */
static int32_t
resolve_topic(struct tr_request *req, const char *name, int allow_create,
              int16_t *kerr)
{
    const struct tr_broker_config *cfg = req->broker->cfg;
    char errbuf[256];
    int32_t count;
    tr_err_t err;

    *kerr = TR_KERR_NONE;
    if (!tr_topics_valid_name(name)) {
        *kerr = TR_KERR_INVALID_TOPIC_EXCEPTION;
        return -1;
    }
#ifdef HAVE_ZOOKEEPER
    if (req->broker->cluster != NULL) {
        struct tr_cluster *c = req->broker->cluster;
        int16_t ck;

        count = tr_cluster_partition_count(c, name);
        if (count >= 0) {
            return count;
        }
        /*
         * The agents' status topic is internal: created whatever the
         * auto-creation setting, compacted (metrics/fleet.h).
         */
        int fleet = strcmp(name, TR_FLEET_TOPIC) == 0;
        const char *const *fkeys = NULL, *const *fvalues = NULL;
        size_t nf = fleet ? tr_fleet_topic_configs(&fkeys, &fvalues) : 0;

        if (!allow_create || (!cfg->auto_create_topics && !fleet)) {
            *kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            return -1;
        }
        if (!may_create(req, name)) {
            *kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            return -1;
        }
        if (!auto_create_allowed(req, name, kerr)) {
            return -1;
        }
        int32_t rf = fleet || strncmp(name, "__consumer_offsets", 18) == 0
                         ? cfg->offsets_topic_replication_factor
                         : cfg->default_replication_factor;
        if (fleet) {
            struct tr_broker_info *bs = NULL;
            size_t live = tr_cluster_brokers(c, &bs);

            tr_free(bs);
            rf = (size_t)rf > live && live > 0 ? (int32_t)live : rf;
        }
        ck = tr_cluster_create_topic(c, name, fleet ? 1 : cfg->num_partitions,
                                     rf, fkeys, fvalues, nf, errbuf,
                                     sizeof(errbuf));
        if (ck != TR_KERR_NONE) {
            tr_limits_release(req->broker->limits, TR_LIMIT_TOPICS, name);
        }
        if (ck == TR_KERR_INVALID_REPLICATION_FACTOR) {
            tr_log_warn("cannot auto-create topic '%s': %s", TR_LOG_ESC(name),
                        errbuf);
        }
        /* The leaders are not known yet: clients retry, as with Kafka. */
        *kerr = TR_KERR_LEADER_NOT_AVAILABLE;
        return -1;
    }
#endif
    count = tr_topics_partition_count(req->broker->topics, name);
    if (count >= 0) {
        return count;
    }
    if (!allow_create || !cfg->auto_create_topics) {
        *kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return -1;
    }
    if (!may_create(req, name)) {
        *kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
        return -1;
    }
    if (!auto_create_allowed(req, name, kerr)) {
        return -1;
    }
    err = tr_topics_create(req->broker->topics, name, cfg->num_partitions, NULL,
                           0, errbuf, sizeof(errbuf));
    if (err == TR_OK) {
        tr_log_info("auto-created topic '%s' with %d partitions (asked by %s)",
                    name, cfg->num_partitions, req->peer);
    } else if (err != TR_ERR_EXISTS) {
        tr_limits_release(req->broker->limits, TR_LIMIT_TOPICS, name);
        tr_log_error("cannot auto-create topic '%s': %s", TR_LOG_ESC(name),
                     err == TR_ERR_CONFIG ? errbuf : tr_err_str(err));
        *kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
        return -1;
    }
    count = tr_topics_partition_count(req->broker->topics, name);
    if (count < 0) {
        *kerr = TR_KERR_LEADER_NOT_AVAILABLE; /* deleted meanwhile: retry */
    }
    return count;
}

/*
 * One topic of the answer. 'ops' is its TopicAuthorizedOperations (v8+),
 * INT32_MIN when not asked for. A topic the client may not describe gets
 * TOPIC_AUTHORIZATION_FAILED, no partitions, and IsInternal false.
 */
static void
put_topic_metadata(struct tr_request *req, const char *name, int32_t count,
                   int16_t kerr, int32_t ops)
{
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int32_t node = req->broker->node_id;
    int32_t i;

    tr_buf_put_i16(out, kerr);
    tr_proto_put_cstring_v(out, 0, name);
    if (v >= 1) {
        tr_proto_put_bool(out,
                          kerr != TR_KERR_TOPIC_AUTHORIZATION_FAILED &&
                              strncmp(name, "__", 2) == 0); /* IsInternal */
    }
    tr_buf_put_i32(out, count > 0 ? count : 0);
#ifdef HAVE_ZOOKEEPER
    if (req->broker->cluster != NULL) {
        const char *listener =
            req->security != NULL ? req->security->listener : NULL;

        for (i = 0; i < count; i++) {
            struct tr_pstate st;
            int known =
                tr_cluster_partition_state(req->broker->cluster, name, i, &st);
            int32_t r;
            int16_t perr = TR_KERR_NONE;

            if (!known) {
                memset(&st, 0, sizeof(st));
                st.leader = -1;
            }
            if (st.leader < 0) {
                perr = TR_KERR_LEADER_NOT_AVAILABLE;
            } else if (listener != NULL &&
                       tr_cluster_broker_listener(req->broker->cluster,
                                                  st.leader, listener) == 0) {
                /* Kafka: the leader lacks the client's listener. */
                perr = v >= 6 ? TR_KERR_LISTENER_NOT_FOUND
                              : TR_KERR_LEADER_NOT_AVAILABLE;
                st.leader = -1;
            }
            tr_buf_put_i16(out, perr);
            tr_buf_put_i32(out, i);
            tr_buf_put_i32(out, st.leader);
            if (v >= 7) {
                tr_buf_put_i32(out, st.leader_epoch);
            }
            tr_buf_put_i32(out, st.nreplicas);
            for (r = 0; r < st.nreplicas; r++) {
                tr_buf_put_i32(out, st.replicas[r]);
            }
            tr_buf_put_i32(out, st.nisr);
            for (r = 0; r < st.nisr; r++) {
                tr_buf_put_i32(out, st.isr[r]);
            }
            if (v >= 5) {
                tr_buf_put_i32(out, st.noffline);
                for (r = 0; r < st.noffline; r++) {
                    tr_buf_put_i32(out, st.offline[r]);
                }
            }
        }
        count = 0; /* done */
    }
#endif
    for (i = 0; i < count; i++) {
        tr_buf_put_i16(out, TR_KERR_NONE);
        tr_buf_put_i32(out, i);    /* PartitionIndex */
        tr_buf_put_i32(out, node); /* LeaderId */
        if (v >= 7) {
            tr_buf_put_i32(out, 0); /* LeaderEpoch */
        }
        tr_buf_put_i32(out, 1); /* ReplicaNodes */
        tr_buf_put_i32(out, node);
        tr_buf_put_i32(out, 1); /* IsrNodes */
        tr_buf_put_i32(out, node);
        if (v >= 5) {
            tr_buf_put_i32(out, 0); /* OfflineReplicas */
        }
    }
    if (v >= 8) {
        tr_buf_put_i32(out, ops); /* TopicAuthorizedOperations */
    }
}

/* TopicAuthorizedOperations of an answered topic, if asked for. */
static int32_t
topic_ops(struct tr_request *req, int wanted, const char *name, int16_t kerr)
{
    return wanted && kerr != TR_KERR_TOPIC_AUTHORIZATION_FAILED
               ? tr_api_authorized_ops(req, TR_ACL_TOPIC, name)
               : INT32_MIN;
}

tr_err_t
tr_api_metadata(struct tr_request *req)
{
    struct tr_broker *broker = req->broker;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_slice topics_at;
    struct tr_topic_info *all = NULL;
    size_t nall = 0, i;
    int32_t ntopics, t, listed = 0;
    int allow_create = 1, cluster_ops = 0, want_ops = 0;
    size_t count_at;
    tr_err_t err;

    /* Metadata v0-8 are never flexible. */
    err =
        tr_proto_get_array_len_v(&req->body, 0, &ntopics, 2, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    topics_at = req->body;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;

        err = tr_proto_get_string(&req->body, &name);
        if (err != TR_OK) {
            return err;
        }
    }
    if (v >= 4) {
        err = tr_proto_get_bool(&req->body, &allow_create);
        if (err != TR_OK) {
            return err;
        }
    }
    if (v >= 8) {
        err = tr_proto_get_bool(&req->body, &cluster_ops);
        if (err == TR_OK) {
            err = tr_proto_get_bool(&req->body, &want_ops);
        }
        if (err != TR_OK) {
            return err;
        }
    }

    if (v >= 3) {
        tr_request_put_throttle(req);
    }
    int32_t controller = broker->node_id;
#ifdef HAVE_ZOOKEEPER
    struct tr_broker_info *bs = NULL;
    size_t nb = 0;
    if (broker->cluster != NULL) {
        nb = tr_cluster_brokers(broker->cluster, &bs);
        controller = tr_cluster_controller_id(broker->cluster);
    }
    if (nb > 0) {
        /*
         * Each broker at its endpoint for the listener the request came
         * on; one without that listener is left out, as Kafka does.
         */
        const char *listener =
            req->security != NULL ? req->security->listener : NULL;
        size_t brokers_at = tr_buf_len(out);
        int32_t nlisted = 0;

        tr_buf_put_i32(out, 0);
        for (i = 0; i < nb; i++) {
            const char *host;
            int32_t port;

            if (!tr_rpc_endpoint(&bs[i], listener, &host, &port)) {
                continue;
            }
            tr_buf_put_i32(out, bs[i].id);
            tr_proto_put_cstring_v(out, 0, host);
            tr_buf_put_i32(out, port);
            if (v >= 1) {
                tr_proto_put_cstring_v(out, 0,
                                       bs[i].rack[0] ? bs[i].rack : NULL);
            }
            nlisted++;
        }
        tr_buf_set_i32(out, brokers_at, nlisted);
    }
    tr_free(bs);
    if (nb == 0)
#endif
    {
        tr_buf_put_i32(out, 1); /* Brokers: this one */
        tr_buf_put_i32(out, broker->node_id);
        /* Kafka gives the address of the listener the client used. */
        tr_proto_put_cstring_v(out, 0,
                               req->security != NULL
                                   ? req->security->advertised_host
                                   : broker->advertised_host);
        tr_buf_put_i32(out, req->security != NULL
                                ? req->security->advertised_port
                                : broker->advertised_port);
        if (v >= 1) {
            tr_proto_put_cstring_v(out, 0, NULL); /* Rack */
        }
    }
    if (v >= 2) {
        tr_proto_put_cstring_v(out, 0, broker->cluster_id);
    }
    if (v >= 1) {
        tr_buf_put_i32(out, controller); /* ControllerId */
    }

    /* v0: an empty list means all topics; v1+: null means all. */
    if ((ntopics < 0 || (v == 0 && ntopics == 0)) && broker->cluster != NULL) {
#ifdef HAVE_ZOOKEEPER
        char **names = NULL;
        size_t nn = tr_cluster_topics(broker->cluster, &names);
        count_at = tr_buf_put_i32(out, 0);
        for (i = 0; i < nn; i++) {
            /* All topics: those the client may not describe are left out. */
            if (tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC,
                                       names[i])) {
                put_topic_metadata(
                    req, names[i],
                    tr_cluster_partition_count(broker->cluster, names[i]),
                    TR_KERR_NONE,
                    topic_ops(req, want_ops, names[i], TR_KERR_NONE));
                listed++;
            }
            tr_free(names[i]);
        }
        tr_free(names);
        tr_buf_set_i32(out, count_at, listed);
#endif
    } else if (ntopics < 0 || (v == 0 && ntopics == 0)) {
        err = tr_topics_list(broker->topics, &all, &nall);
        if (err != TR_OK) {
            return err;
        }
        count_at = tr_buf_put_i32(out, 0);
        for (i = 0; i < nall; i++) {
            if (tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC,
                                       all[i].name)) {
                put_topic_metadata(
                    req, all[i].name, all[i].partitions, TR_KERR_NONE,
                    topic_ops(req, want_ops, all[i].name, TR_KERR_NONE));
                listed++;
            }
        }
        tr_free(all);
        tr_buf_set_i32(out, count_at, listed);
    } else {
        tr_buf_put_i32(out, ntopics);
        for (t = 0; t < ntopics; t++) {
            struct tr_str name;
            char cname[TR_TOPIC_NAME_MAX + 1];
            int16_t kerr;
            int32_t count = -1;

            tr_proto_get_string(&topics_at, &name);
            if (tr_str_copy(&name, cname, sizeof(cname)) != TR_OK) {
                /* Too long or null: answer with a truncated name. */
                snprintf(cname, sizeof(cname), "%.*s",
                         name.len > 0 ? (int)(name.len > 249 ? 249 : name.len)
                                      : 0,
                         name.ptr ? name.ptr : "");
                kerr = TR_KERR_INVALID_TOPIC_EXCEPTION;
            } else if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC,
                                         cname)) {
                /* Before the lookup: a denied client learns nothing. */
                kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else {
                count = resolve_topic(req, cname, allow_create, &kerr);
            }
            put_topic_metadata(req, cname, count, kerr,
                               topic_ops(req, want_ops, cname, kerr));
        }
    }
    if (v >= 8) {
        /* ClusterAuthorizedOperations: 0 without DESCRIBE on the cluster. */
        tr_buf_put_i32(out, !cluster_ops ? INT32_MIN
                            : tr_api_authorize_quiet(req, TR_ACL_OP_DESCRIBE,
                                                     TR_ACL_CLUSTER,
                                                     TR_ACL_CLUSTER_NAME)
                                ? tr_api_authorized_ops(req, TR_ACL_CLUSTER,
                                                        TR_ACL_CLUSTER_NAME)
                                : 0);
    }
    return TR_OK;
}
