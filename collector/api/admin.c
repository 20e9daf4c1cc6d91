/*
 * api_admin -- CreateTopics, DeleteTopics, CreatePartitions and
 * DescribeConfigs.
 *
 * Admin clients send these to the controller named in Metadata; a single
 * collector is its own controller. Replication factors above the number of
 * brokers are refused as Kafka refuses them, so scripts written for a
 * cluster fail clearly rather than silently getting fewer copies.
 */
#include "api.h"

#include "build-config.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "assign.h"
#include "config.h"
#include "dynconf.h"
#include "log.h"
#include "plimits.h"
#include "topics.h"
#include "waits.h"

#define MAX_CONFIGS 1000

/* Resource types in DescribeConfigs. */
#define RESOURCE_TOPIC  2
#define RESOURCE_BROKER 4
#define RESOURCE_GROUP  32 /* Kafka 4.0's group configs (KIP-848, KIP-932) */

/*
 * The configs Kafka 4.0 describes for a group, at the broker defaults
 * Kafka has (group.consumer.session.timeout.ms, ...). Classic groups use
 * none of them (their members send their own timeouts), and none can be
 * changed here, but admin clients describe them.
 */
static const char *const group_configs[][2] = {
    { "consumer.heartbeat.interval.ms", "5000" },
    { "consumer.session.timeout.ms", "45000" },
    { "share.auto.offset.reset", "latest" },
    { "share.heartbeat.interval.ms", "5000" },
    { "share.record.lock.duration.ms", "30000" },
    { "share.session.timeout.ms", "45000" },
};

static void
put_topic_result(struct tr_request *req, const struct tr_str *name,
                 int16_t kerr, const char *message, int with_message)
{
    tr_proto_put_string_v(req->out, 0, name->ptr,
                          name->len < 0 ? 0 : name->len);
    tr_buf_put_i16(req->out, kerr);
    if (with_message) {
        tr_proto_put_cstring_v(req->out, 0,
                               kerr == TR_KERR_NONE ? NULL : message);
    }
}

/*
 * CreateTopics and DeleteTopics in a cluster: the change goes to ZooKeeper
 * at once and the answer waits, as Kafka's does, until this broker's
 * metadata shows it. The request is parked meanwhile (watching
 * TR_WAITS_METADATA) rather than holding its network thread: the
 * controller's LeaderAndIsr and UpdateMetadata for the change arrive on
 * these same threads. Each topic's outcome is kept here across the runs.
 */
enum topic_wait {
    WAIT_NONE,
    WAIT_CREATED,
    WAIT_DELETED
};

struct topic_result {
    char *name; /* the name as sent (owned) */
    int32_t name_len;
    int16_t kerr;
    enum topic_wait wait;
    int32_t partitions; /* WAIT_CREATED: how many must have leaders */
    char message[300];
};

struct topic_results {
    int throttle;      /* the response has throttle_time_ms */
    int with_message;  /* ... and error messages */
    int16_t timed_out; /* the answer of a wait that did not finish */
    size_t n, cap;
    struct topic_result *r;
};

static void
results_free(void *arg)
{
    struct topic_results *st = arg;

    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        tr_free(st->r[i].name);
    }
    tr_free(st->r);
    tr_free(st);
}

/* Records one topic's outcome; *message may be NULL. */
static tr_err_t
results_add(struct topic_results *st, const struct tr_str *name, int16_t kerr,
            const char *message, enum topic_wait wait, int32_t partitions)
{
    struct topic_result *r;
    size_t len = name->len < 0 ? 0 : (size_t)name->len;

    if (tr_array_reserve(&st->r, &st->cap, st->n + 1, sizeof(*st->r)) !=
        TR_OK) {
        return TR_ERR_NOMEM;
    }
    r = &st->r[st->n];
    memset(r, 0, sizeof(*r));
    if ((r->name = tr_malloc(len + 1)) == NULL) {
        return TR_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(r->name, name->ptr, len);
    }
    r->name[len] = '\0';
    r->name_len = (int32_t)len;
    r->kerr = kerr;
    r->wait = kerr == TR_KERR_NONE ? wait : WAIT_NONE;
    r->partitions = partitions;
    snprintf(r->message, sizeof(r->message), "%s", message ? message : "");
    st->n++;
    return TR_OK;
}

/*
 * Parks the request while a wait of 'st' is unfinished (up to 'wait_ms'
 * from the first run), else answers: every topic's outcome, an unfinished
 * wait as st->timed_out. Takes 'st' (kept in req->state while parked).
 */
static tr_err_t
results_finish(struct tr_request *req, struct topic_results *st, int wait_ms)
{
    int pending = 0, watching = 0;
    size_t i;

    for (i = 0; i < st->n; i++) {
        pending |= st->r[i].wait != WAIT_NONE;
    }
    /* Watch before looking: a change applied in between still wakes it. */
    if (pending && !req->final && req->waiter != NULL) {
        watching = tr_waiter_watch(req->waiter, TR_WAITS_METADATA, 0) == TR_OK;
    }
#ifdef HAVE_ZOOKEEPER
    for (i = 0; i < st->n; i++) {
        struct topic_result *r = &st->r[i];
        if ((r->wait == WAIT_CREATED &&
             tr_cluster_topic_ready(req->broker->cluster, r->name,
                                    r->partitions)) ||
            (r->wait == WAIT_DELETED &&
             tr_cluster_partition_count(req->broker->cluster, r->name) < 0)) {
            r->wait = WAIT_NONE;
        }
    }
#endif
    pending = 0;
    for (i = 0; i < st->n; i++) {
        pending |= st->r[i].wait != WAIT_NONE;
    }
    if (pending && watching) {
        req->state = st;
        req->state_free = results_free;
        req->park_ms = wait_ms > 0 ? wait_ms : 1;
        return TR_OK;
    }
    if (st->throttle) {
        tr_request_put_throttle(req);
    }
    tr_buf_put_i32(req->out, (int32_t)st->n);
    for (i = 0; i < st->n; i++) {
        struct topic_result *r = &st->r[i];
        struct tr_str name = { r->name, r->name_len };
        put_topic_result(req, &name,
                         r->wait != WAIT_NONE ? st->timed_out : r->kerr,
                         r->message, st->with_message);
    }
    if (req->state != st) {
        results_free(st);
    }
    return TR_OK;
}

/*
 * Reads one topic's Assignments (bounds-checked by the first pass) from
 * 'at' and leaves it after them; *n gets their count, 0 when there are
 * none. Otherwise checks them with tr_assign_explicit: *replicas gets the
 * lists by partition (owned, free with tr_free) and *rf their length, or
 * the answer is a Kafka error code with the reason in 'message'.
 */
static int16_t
read_assignments(struct tr_slice *at, int32_t *n, int32_t **replicas,
                 int32_t *rf, char *message, size_t len)
{
    struct tr_slice first;
    int32_t *partition_of = NULL, *count_of = NULL, *ids = NULL;
    int32_t i, j, nrep, i32;
    size_t total = 0, k = 0;
    int16_t kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
    tr_err_t err;

    *replicas = NULL;
    tr_proto_get_array_len_v(at, 0, n, 0, TR_API_MAX_PARTITIONS);
    *n = *n < 0 ? 0 : *n;
    first = *at;
    for (i = 0; i < *n; i++) {
        tr_slice_get_i32(at, &i32);
        tr_proto_get_array_len_v(at, 0, &nrep, 0, 1000);
        for (j = 0; j < nrep; j++) {
            tr_slice_get_i32(at, &i32);
        }
        total += nrep < 0 ? 0 : (size_t)nrep;
    }
    if (*n == 0) {
        kerr = TR_KERR_NONE;
        goto out;
    }
    /* 'total' is bounded by the request's size: each id took 4 bytes. */
    partition_of = tr_malloc((size_t)*n * sizeof(*partition_of));
    count_of = tr_malloc((size_t)*n * sizeof(*count_of));
    ids = tr_malloc((total + 1) * sizeof(*ids));
    *replicas = tr_malloc((total + 1) * sizeof(**replicas));
    if (partition_of == NULL || count_of == NULL || ids == NULL ||
        *replicas == NULL) {
        snprintf(message, len, "out of memory");
        goto out;
    }
    for (i = 0; i < *n; i++) {
        tr_slice_get_i32(&first, &partition_of[i]);
        tr_proto_get_array_len_v(&first, 0, &nrep, 0, 1000);
        count_of[i] = nrep < 0 ? 0 : nrep;
        for (j = 0; j < count_of[i]; j++) {
            tr_slice_get_i32(&first, &ids[k++]);
        }
    }
    err = tr_assign_explicit(partition_of, count_of, ids, *n, *replicas, rf,
                             message, len);
    if (err == TR_ERR_INVALID) {
        kerr = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
        goto out;
    }
    if (err != TR_OK) {
        goto out;
    }
    kerr = TR_KERR_NONE;
out:
    if (kerr != TR_KERR_NONE) {
        tr_free(*replicas);
        *replicas = NULL;
    }
    tr_free(partition_of);
    tr_free(count_of);
    tr_free(ids);
    return kerr;
}

tr_err_t
tr_api_create_topics(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    int16_t v = req->hdr.api_version;
    struct tr_slice topics_at;
    int32_t ntopics, t, timeout_ms;
    int validate_only = 0, create_any;
    struct topic_results *st;
    tr_err_t err;

    if (req->state != NULL) {
        return results_finish(req, req->state, 0); /* woken, or timed out */
    }
    /* Skip to the trailing fields first: validate_only decides the work. */
    err = tr_proto_get_array_len_v(in, 0, &ntopics, 12, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    topics_at = *in;
    for (t = 0; t < ntopics; t++) {
        struct tr_str s;
        int32_t np, nrep, n, i, j, i32;
        int16_t rf;

        if ((err = tr_proto_get_string(in, &s)) != TR_OK ||
            (err = tr_slice_get_i32(in, &np)) != TR_OK ||
            (err = tr_slice_get_i16(in, &rf)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &n, 8,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        for (i = 0; i < n; i++) {
            if ((err = tr_slice_get_i32(in, &i32)) != TR_OK ||
                (err = tr_proto_get_array_len_v(in, 0, &nrep, 4, 1000)) !=
                    TR_OK) {
                return err;
            }
            for (j = 0; j < nrep; j++) {
                if ((err = tr_slice_get_i32(in, &i32)) != TR_OK) {
                    return err;
                }
            }
        }
        if ((err = tr_proto_get_array_len_v(in, 0, &n, 4, MAX_CONFIGS)) !=
            TR_OK) {
            return err;
        }
        for (i = 0; i < n; i++) {
            if ((err = tr_proto_get_string(in, &s)) != TR_OK ||
                (err = tr_proto_get_string(in, &s)) != TR_OK) {
                return err;
            }
        }
    }
    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (v >= 1 && (err = tr_proto_get_bool(in, &validate_only)) != TR_OK)) {
        return err;
    }
    /* CREATE on the cluster covers every topic (asked quietly, as Kafka). */
    create_any = tr_api_authorize_quiet(req, TR_ACL_OP_CREATE, TR_ACL_CLUSTER,
                                        TR_ACL_CLUSTER_NAME);

    if ((st = tr_calloc(1, sizeof(*st))) == NULL) {
        return TR_ERR_NOMEM;
    }
    st->throttle = v >= 2;
    st->with_message = v >= 1;
    /* Kafka: a timeout of 0 answers at once; we still wait a little. */
    st->timed_out = timeout_ms > 0 ? TR_KERR_REQUEST_TIMED_OUT : TR_KERR_NONE;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name, s;
        enum topic_wait wait = WAIT_NONE;
        struct tr_config_entry configs[64];
        char strings[64][2][256];
        char topic[TR_TOPIC_NAME_MAX + 1], message[300] = "";
        int32_t np, n, i, nassigned, assigned_rf = 0;
        int32_t *assigned = NULL;
        int16_t rf, kerr;
        size_t nconfigs = 0;
        enum tr_limit_result charged = TR_LIMIT_KNOWN;

        tr_proto_get_string(&topics_at, &name);
        tr_slice_get_i32(&topics_at, &np);
        tr_slice_get_i16(&topics_at, &rf);
        kerr = read_assignments(&topics_at, &nassigned, &assigned, &assigned_rf,
                                message, sizeof(message));
        if (kerr == TR_KERR_NONE && nassigned > 0 && (np != -1 || rf != -1)) {
            /* Kafka's words: the request is malformed, not the assignment. */
            kerr = TR_KERR_INVALID_REQUEST;
            snprintf(message, sizeof(message),
                     "Both numPartitions or replicationFactor and "
                     "replicasAssignments were set. Both cannot be used at "
                     "the same time.");
        } else if (kerr == TR_KERR_NONE && nassigned > 0 &&
                   req->broker->cluster == NULL &&
                   tr_assign_check_live(assigned,
                                        (size_t)nassigned * (size_t)assigned_rf,
                                        &req->broker->node_id, 1, message,
                                        sizeof(message)) != TR_OK) {
            kerr = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        tr_proto_get_array_len_v(&topics_at, 0, &n, 0, MAX_CONFIGS);
        for (i = 0; i < n; i++) {
            struct tr_str value;

            tr_proto_get_string(&topics_at, &s);
            tr_proto_get_string(&topics_at, &value);
            if (value.len < 0) {
                continue; /* null: keep the default */
            }
            if (nconfigs == 64 ||
                tr_str_copy(&s, strings[nconfigs][0], 256) != TR_OK ||
                tr_str_copy(&value, strings[nconfigs][1], 256) != TR_OK) {
                kerr = TR_KERR_INVALID_CONFIG;
                snprintf(message, sizeof(message), "config entry too long");
                continue;
            }
            configs[nconfigs].name = strings[nconfigs][0];
            configs[nconfigs].value = strings[nconfigs][1];
            nconfigs++;
        }

        if (nassigned > 0) {
            np = nassigned;
            rf = (int16_t)assigned_rf;
        }
        if (np == -1) {
            np = req->broker->cfg->num_partitions;
        }
        if (rf == -1) {
            rf = (int16_t)req->broker->cfg->default_replication_factor;
        }
        if (!create_any &&
            !tr_api_authorize_str(req, TR_ACL_OP_CREATE, TR_ACL_TOPIC, &name)) {
            /* CREATE on the cluster or the topic, checked first. */
            kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(message, sizeof(message), "Authorization failed.");
        }
        if (kerr != TR_KERR_NONE) {
            /* message already set */
        } else if (tr_str_copy(&name, topic, sizeof(topic)) != TR_OK ||
                   !tr_topics_valid_name(topic)) {
            kerr = TR_KERR_INVALID_TOPIC_EXCEPTION;
            snprintf(message, sizeof(message),
                     "topic names are 1-249 characters of [a-zA-Z0-9._-]");
        } else if (np <= 0) {
            kerr = TR_KERR_INVALID_PARTITIONS;
            snprintf(message, sizeof(message),
                     "number of partitions must be larger than 0");
        } else if (!validate_only && (charged = tr_limits_acquire(
                                          req->broker->limits, TR_LIMIT_TOPICS,
                                          tr_request_principal(req), topic)) ==
                                         TR_LIMIT_REFUSED) {
            kerr = TR_KERR_POLICY_VIOLATION;
            snprintf(message, sizeof(message),
                     "%s may create at most %d topics "
                     "(max.topics.per.principal)",
                     tr_request_principal(req),
                     tr_limits_max(req->broker->limits, TR_LIMIT_TOPICS));
        } else if (req->broker->cluster != NULL &&
                   (!validate_only || assigned != NULL)) {
#ifdef HAVE_ZOOKEEPER
            const char *keys[64], *values[64];
            size_t k;
            for (k = 0; k < nconfigs; k++) {
                keys[k] = configs[k].name;
                values[k] = configs[k].value;
            }
            if (assigned != NULL) {
                kerr = tr_cluster_create_topic_assigned(
                    req->broker->cluster, topic, assigned, np, rf, keys, values,
                    nconfigs, validate_only, message, sizeof(message));
            } else {
                kerr = tr_cluster_create_topic(req->broker->cluster, topic, np,
                                               rf, keys, values, nconfigs,
                                               message, sizeof(message));
            }
            wait = validate_only ? WAIT_NONE : WAIT_CREATED;
#endif
        } else if (rf <= 0 || rf > 1) {
            kerr = TR_KERR_INVALID_REPLICATION_FACTOR;
            snprintf(message, sizeof(message),
                     "replication factor %d is invalid: %d broker available",
                     rf, 1);
        } else if (validate_only) {
            if (tr_topics_partition_count(req->broker->topics, topic) >= 0) {
                kerr = TR_KERR_TOPIC_ALREADY_EXISTS;
                snprintf(message, sizeof(message), "topic '%s' already exists",
                         topic);
            } else if (tr_topics_validate_configs(configs, nconfigs, message,
                                                  sizeof(message)) != TR_OK) {
                kerr = TR_KERR_INVALID_CONFIG;
            }
        } else {
            char errbuf[256] = "";

            err = tr_topics_create(req->broker->topics, topic, np, configs,
                                   nconfigs, errbuf, sizeof(errbuf));
            if (err == TR_ERR_EXISTS) {
                kerr = TR_KERR_TOPIC_ALREADY_EXISTS;
                snprintf(message, sizeof(message), "topic '%s' already exists",
                         topic);
            } else if (err == TR_ERR_CONFIG) {
                kerr = TR_KERR_INVALID_CONFIG;
                snprintf(message, sizeof(message), "%s", errbuf);
            } else if (err != TR_OK) {
                kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
                snprintf(message, sizeof(message), "%s", tr_err_str(err));
            } else {
                tr_log_info("created topic '%s' with %d partitions (by %s)",
                            topic, np, req->peer);
            }
        }
        if (charged == TR_LIMIT_TAKEN && kerr != TR_KERR_NONE) {
            tr_limits_release(req->broker->limits, TR_LIMIT_TOPICS, topic);
        }
        tr_free(assigned);
        if (results_add(st, &name, kerr, message, wait, np) != TR_OK) {
            results_free(st);
            return TR_ERR_NOMEM;
        }
    }
    return results_finish(
        req, st,
        timeout_ms > 5000 ? (timeout_ms < 60000 ? timeout_ms : 60000) : 5000);
}

tr_err_t
tr_api_delete_topics(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_slice names_at;
    int32_t n, i, timeout_ms;
    struct topic_results *st;
    tr_err_t err;

    if (req->state != NULL) {
        return results_finish(req, req->state, 0); /* woken, or timed out */
    }
    err = tr_proto_get_array_len_v(in, 0, &n, 2, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
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
    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK) {
        return err;
    }
    if ((st = tr_calloc(1, sizeof(*st))) == NULL) {
        return TR_ERR_NOMEM;
    }
    st->throttle = req->hdr.api_version >= 1;
    st->timed_out = TR_KERR_REQUEST_TIMED_OUT; /* it completes later */
    for (i = 0; i < n; i++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1];
        int16_t kerr = TR_KERR_NONE;
        enum topic_wait wait = WAIT_NONE;

        tr_proto_get_string(&names_at, &name);
        if (!tr_api_authorize_str(req, TR_ACL_OP_DELETE, TR_ACL_TOPIC, &name)) {
            kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
        } else if (tr_str_copy(&name, topic, sizeof(topic)) != TR_OK) {
            kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
#ifdef HAVE_ZOOKEEPER
        } else if (req->broker->cluster != NULL) {
            /* The controller deletes it on every replica. */
            kerr = tr_cluster_delete_topic(req->broker->cluster, topic);
            wait = WAIT_DELETED;
            if (kerr == TR_KERR_NONE) {
                tr_log_info("deleted topic '%s' (by %s)", topic, req->peer);
            }
#endif
        } else {
            err = tr_topics_delete(req->broker->topics, topic);
            if (err == TR_ERR_NOT_FOUND) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (err != TR_OK) {
                kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
            } else {
                tr_log_info("deleted topic '%s' (by %s)", topic, req->peer);
            }
        }
        if (kerr == TR_KERR_NONE) {
            tr_limits_release(req->broker->limits, TR_LIMIT_TOPICS, topic);
        }
        if (results_add(st, &name, kerr, NULL, wait, 0) != TR_OK) {
            results_free(st);
            return TR_ERR_NOMEM;
        }
    }
    return results_finish(
        req, st, timeout_ms > 0 && timeout_ms < 30000 ? timeout_ms : 30000);
}

tr_err_t
tr_api_create_partitions(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_slice topics_at;
    int32_t ntopics, t, timeout_ms;
    int validate_only;
    tr_err_t err;

    err = tr_proto_get_array_len_v(in, 0, &ntopics, 10, TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    ntopics = ntopics < 0 ? 0 : ntopics;
    topics_at = *in;
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        int32_t count, n, i, j, nrep, i32;

        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_slice_get_i32(in, &count)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &n, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        for (i = 0; i < n; i++) {
            if ((err = tr_proto_get_array_len_v(in, 0, &nrep, 4, 1000)) !=
                TR_OK) {
                return err;
            }
            for (j = 0; j < nrep; j++) {
                if ((err = tr_slice_get_i32(in, &i32)) != TR_OK) {
                    return err;
                }
            }
        }
    }
    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (err = tr_proto_get_bool(in, &validate_only)) != TR_OK) {
        return err;
    }
    tr_request_put_throttle(req);
    tr_buf_put_i32(req->out, ntopics);
    for (t = 0; t < ntopics; t++) {
        struct tr_str name;
        char topic[TR_TOPIC_NAME_MAX + 1], message[200] = "";
        int32_t count, n, i, j, nrep, i32, current = -1;
        int16_t kerr = TR_KERR_NONE;
        int allowed;

        tr_proto_get_string(&topics_at, &name);
        tr_slice_get_i32(&topics_at, &count);
        tr_proto_get_array_len_v(&topics_at, 0, &n, 0, TR_API_MAX_PARTITIONS);
        for (i = 0; i < n; i++) {
            tr_proto_get_array_len_v(&topics_at, 0, &nrep, 0, 1000);
            for (j = 0; j < nrep; j++) {
                tr_slice_get_i32(&topics_at, &i32);
            }
        }
        allowed =
            tr_api_authorize_str(req, TR_ACL_OP_ALTER, TR_ACL_TOPIC, &name);
        if (allowed && tr_str_copy(&name, topic, sizeof(topic)) == TR_OK) {
            current = tr_topics_partition_count(req->broker->topics, topic);
        }
        if (!allowed) {
            kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(message, sizeof(message), "Authorization failed.");
        } else if (current < 0) {
            kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(message, sizeof(message), "topic does not exist");
        } else if (count <= current) {
            kerr = TR_KERR_INVALID_PARTITIONS;
            snprintf(message, sizeof(message),
                     "topic has %d partitions; the new count must be larger",
                     current);
        } else if (!validate_only) {
            err = tr_topics_add_partitions(req->broker->topics, topic, count);
            if (err != TR_OK) {
                kerr = err == TR_ERR_INVALID ? TR_KERR_INVALID_PARTITIONS
                                             : TR_KERR_UNKNOWN_SERVER_ERROR;
                snprintf(message, sizeof(message), "%s", tr_err_str(err));
            } else {
                tr_log_info("topic '%s' grown to %d partitions (by %s)", topic,
                            count, req->peer);
            }
        }
        put_topic_result(req, &name, kerr, message, 1);
    }
    return TR_OK;
}

/* DescribeConfigs: collects entries, then filters by the requested keys. */
struct describe {
    struct tr_request *req;
    struct tr_slice keys; /* requested ConfigurationKeys, or count < 0 */
    int32_t nkeys;
    int32_t written;
    int read_only;        /* group configs cannot be changed */
    int include_synonyms; /* IncludeSynonyms (v1+) */
};

static int
key_requested(struct describe *d, const char *name)
{
    struct tr_slice keys = d->keys;
    int32_t i;

    if (d->nkeys < 0) {
        return 1;
    }
    for (i = 0; i < d->nkeys; i++) {
        struct tr_str k;

        if (tr_proto_get_string(&keys, &k) == TR_OK && tr_str_eq(&k, name)) {
            return 1;
        }
    }
    return 0;
}

/* One entry; 'syn' (v1+, when asked for) lists its synonyms. */
static void
put_config_full(struct describe *d, const char *name, const char *value,
                int is_default, int8_t source, int read_only, int sensitive,
                const struct tr_dynconf_synonym *syn, size_t nsyn)
{
    struct tr_buf *out = d->req->out;
    int16_t v = d->req->hdr.api_version;
    size_t i;

    if (!key_requested(d, name)) {
        return;
    }
    tr_proto_put_cstring_v(out, 0, name);
    tr_proto_put_cstring_v(out, 0, value);
    tr_proto_put_bool(out, read_only);
    if (v == 0) {
        tr_proto_put_bool(out, is_default);
    } else {
        tr_buf_put_i8(out, source);
    }
    tr_proto_put_bool(out, sensitive); /* IsSensitive */
    if (v >= 1) {
        nsyn = d->include_synonyms ? nsyn : 0;
        tr_buf_put_i32(out, (int32_t)nsyn); /* Synonyms */
        for (i = 0; i < nsyn; i++) {
            tr_proto_put_cstring_v(out, 0, syn[i].name);
            tr_proto_put_cstring_v(out, 0, syn[i].value);
            tr_buf_put_i8(out, (int8_t)syn[i].source);
        }
    }
    if (v >= 3) {
        tr_buf_put_i8(out, 0);                /* ConfigType: unknown */
        tr_proto_put_cstring_v(out, 0, NULL); /* Documentation */
    }
    d->written++;
}

static void
put_config(struct describe *d, const char *name, const char *value,
           int is_default, int8_t source)
{
    put_config_full(d, name, value, is_default, source, d->read_only, 0, NULL,
                    0);
}

static void
topic_config_cb(const char *name, const char *value,
                enum tr_config_source source, void *arg)
{
    put_config(arg, name, value, source == TR_CONFIG_SOURCE_DEFAULT,
               (int8_t)source);
}

static void
broker_config_cb(const char *name, const char *value, int source, int read_only,
                 int sensitive, const struct tr_dynconf_synonym *syn,
                 size_t nsyn, void *arg)
{
    put_config_full(arg, name, value, source == TR_DYNCONF_SOURCE_DEFAULT,
                    (int8_t)source, read_only, sensitive, syn, nsyn);
}

tr_err_t
tr_api_describe_configs(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    struct tr_slice res_at;
    int32_t nres, r, i;
    int include_synonyms = 0, include_docs = 0;
    tr_err_t err;

    err = tr_proto_get_array_len_v(in, 0, &nres, 7, 1000);
    if (err != TR_OK) {
        return err;
    }
    nres = nres < 0 ? 0 : nres;
    res_at = *in;
    for (r = 0; r < nres; r++) {
        struct tr_str s;
        int8_t type;
        int32_t nkeys;

        if ((err = tr_slice_get_i8(in, &type)) != TR_OK ||
            (err = tr_proto_get_string(in, &s)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &nkeys, 2, MAX_CONFIGS)) !=
                TR_OK) {
            return err;
        }
        for (i = 0; i < nkeys; i++) {
            if ((err = tr_proto_get_string(in, &s)) != TR_OK) {
                return err;
            }
        }
    }
    if ((v >= 1 && (err = tr_proto_get_bool(in, &include_synonyms)) != TR_OK) ||
        (v >= 3 && (err = tr_proto_get_bool(in, &include_docs)) != TR_OK)) {
        return err;
    }

    tr_request_put_throttle(req);
    tr_buf_put_i32(out, nres);
    for (r = 0; r < nres; r++) {
        struct describe d = { req, { 0 }, 0, 0, 0, include_synonyms };
        struct tr_str name, s;
        char rname[TR_TOPIC_NAME_MAX + 1] = "", id[16], unexpected[320];
        int8_t type;
        int16_t kerr = TR_KERR_NONE;
        const char *message = NULL;
        size_t at_error, at_count;

        tr_slice_get_i8(&res_at, &type);
        tr_proto_get_string(&res_at, &name);
        tr_proto_get_array_len_v(&res_at, 0, &d.nkeys, 0, MAX_CONFIGS);
        d.keys = res_at;
        for (i = 0; i < d.nkeys; i++) {
            tr_proto_get_string(&res_at, &s);
        }
        at_error = tr_buf_put_i16(out, kerr);
        tr_proto_put_cstring_v(out, 0, NULL); /* ErrorMessage, patched */
        tr_buf_put_i8(out, type);
        tr_proto_put_string_v(out, 0, name.ptr, name.len < 0 ? 0 : name.len);
        at_count = tr_buf_put_i32(out, 0);
        snprintf(id, sizeof(id), "%d", req->broker->node_id);
        if (tr_str_copy(&name, rname, sizeof(rname)) != TR_OK) {
            kerr = TR_KERR_INVALID_REQUEST;
            message = "resource name too long";
        } else if (type == RESOURCE_TOPIC &&
                   !tr_api_authorize(req, TR_ACL_OP_DESCRIBE_CONFIGS,
                                     TR_ACL_TOPIC, rname)) {
            kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            message = "Authorization failed.";
        } else if (type == RESOURCE_BROKER &&
                   !tr_api_authorize(req, TR_ACL_OP_DESCRIBE_CONFIGS,
                                     TR_ACL_CLUSTER, TR_ACL_CLUSTER_NAME)) {
            kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
            message = "Cluster authorization failed.";
        } else if (type == RESOURCE_GROUP &&
                   !tr_api_authorize(req, TR_ACL_OP_DESCRIBE_CONFIGS,
                                     TR_ACL_GROUP, rname)) {
            kerr = TR_KERR_GROUP_AUTHORIZATION_FAILED;
            message = "Authorization failed.";
        } else if (type == RESOURCE_GROUP) {
            d.read_only = 1;
            for (i = 0; i < (int32_t)(sizeof(group_configs) /
                                      sizeof(group_configs[0]));
                 i++) {
                put_config(&d, group_configs[i][0], group_configs[i][1], 1,
                           TR_CONFIG_SOURCE_DEFAULT);
            }
        } else if (type == RESOURCE_TOPIC) {
            if (tr_topics_describe_configs(req->broker->topics, rname,
                                           topic_config_cb, &d) != TR_OK) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                message = "topic does not exist";
            }
        } else if (type == RESOURCE_BROKER &&
                   (rname[0] == '\0' || strcmp(rname, id) == 0) &&
                   req->broker->dynconf != NULL) {
            /* collector/dynconf.h: sources, synonyms, read-only keys. */
            tr_dynconf_describe(req->broker->dynconf,
                                rname[0] == '\0' ? TR_DYNCONF_DEFAULT
                                                 : TR_DYNCONF_BROKER,
                                broker_config_cb, &d);
        } else if (type == RESOURCE_BROKER) {
            /* Kafka's ConfigHelper: per-broker configs come from that one. */
            kerr = TR_KERR_INVALID_REQUEST;
            snprintf(unexpected, sizeof(unexpected),
                     "Unexpected broker id, expected %s, but received %s", id,
                     rname);
            message = unexpected;
        } else {
            kerr = TR_KERR_INVALID_REQUEST;
            message = "unknown resource";
        }
        if (kerr != TR_KERR_NONE) {
            /* Rewrite this result from its start with the error. */
            tr_buf_truncate(out, at_error);
            tr_buf_put_i16(out, kerr);
            tr_proto_put_cstring_v(out, 0, message);
            tr_buf_put_i8(out, type);
            tr_proto_put_string_v(out, 0, name.ptr,
                                  name.len < 0 ? 0 : name.len);
            tr_buf_put_i32(out, 0);
        } else {
            tr_buf_set_i32(out, at_count, d.written);
        }
    }
    return TR_OK;
}
