/*
 * api_configs -- AlterConfigs (v0-1) and IncrementalAlterConfigs (v0).
 *
 * Topic resources (type 2) and broker resources (type 4) change here.
 * A topic: AlterConfigs replaces the topic's whole set of overrides (a key
 * left out goes back to its default); IncrementalAlterConfigs applies SET
 * (0), DELETE (1), APPEND (2) and SUBTRACT (3, list configs such as
 * cleanup.policy only) key by key. The change is written to
 * .topics/<topic>.properties and applied to the live partitions by
 * tr_topics_alter_configs.
 *
 * A broker (Kafka's KIP-226, collector/dynconf.h): resource name "" is
 * the cluster-wide default, this broker's id its own settings (another id
 * is INVALID_REQUEST: per-broker configs go to that broker, as in Kafka).
 * Only the dynamic keys may change; the others get INVALID_REQUEST
 * "Cannot update these configs dynamically: Set(...)", a bad value
 * INVALID_CONFIG. DescribeConfigs stays in api_admin.c.
 *
 * Both requests share one layout here (classic encoding; neither version
 * served is flexible):
 *
 *   Resources [ResourceType int8, ResourceName string,
 *              Configs [Name string, (ConfigOperation int8,)
 *                       Value nullable string]]
 *   ValidateOnly bool
 *
 * and one response: ThrottleTimeMs, Responses [ErrorCode, ErrorMessage,
 * ResourceType, ResourceName].
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "build-config.h"
#include "dynconf.h"
#include "log.h"
#include "topics.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

#define RESOURCE_TOPIC  2
#define RESOURCE_BROKER 4

/* Topic configs are few (topics.c); more entries than this are refused. */
#define MAX_ENTRIES   64
#define MAX_ENTRY_LEN 256
#define MAX_CONFIGS   1000

struct entries {
    struct tr_config_alter alters[MAX_ENTRIES];
    char strings[MAX_ENTRIES][2][MAX_ENTRY_LEN];
    size_t n;
};

/* Skips (checks) one resource of the request. */
static tr_err_t
skip_resource(struct tr_slice *in, int incremental)
{
    struct tr_str s;
    int32_t n, i;
    int8_t i8;
    tr_err_t err;

    if ((err = tr_slice_get_i8(in, &i8)) != TR_OK ||
        (err = tr_proto_get_string(in, &s)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &n, 4, MAX_CONFIGS)) != TR_OK) {
        return err;
    }
    for (i = 0; i < n; i++) {
        if ((err = tr_proto_get_string(in, &s)) != TR_OK ||
            (incremental && (err = tr_slice_get_i8(in, &i8)) != TR_OK) ||
            (err = tr_proto_get_string(in, &s)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

struct overrides {
    const char *keys[MAX_ENTRIES], *values[MAX_ENTRIES];
    char strings[MAX_ENTRIES][2][MAX_ENTRY_LEN];
    size_t n;
};

static void
collect_override(const char *name, const char *value,
                 enum tr_config_source source, void *arg)
{
    struct overrides *o = arg;

    if (source != TR_CONFIG_SOURCE_TOPIC || o->n == MAX_ENTRIES) {
        return;
    }
    snprintf(o->strings[o->n][0], MAX_ENTRY_LEN, "%s", name);
    snprintf(o->strings[o->n][1], MAX_ENTRY_LEN, "%s", value ? value : "");
    o->keys[o->n] = o->strings[o->n][0];
    o->values[o->n] = o->strings[o->n][1];
    o->n++;
}

/*
 * In a cluster a topic's configs live in ZooKeeper: after the change here,
 * its whole set of overrides goes to /config/topics/<topic> for every
 * replica to apply (cluster.h). Nothing to do on a single collector.
 */
static int16_t
publish_topic(struct tr_request *req, const char *topic)
{
#ifdef HAVE_ZOOKEEPER
    struct overrides *o;
    int16_t kerr = TR_KERR_UNKNOWN_SERVER_ERROR;

    if (req->broker->cluster == NULL) {
        return TR_KERR_NONE;
    }
    o = tr_calloc(1, sizeof(*o));
    if (o != NULL && tr_topics_describe_configs(req->broker->topics, topic,
                                                collect_override, o) == TR_OK) {
        kerr = tr_cluster_topic_configs_changed(req->broker->cluster, topic,
                                                o->keys, o->values, o->n);
    }
    tr_free(o);
    return kerr;
#else
    (void)req;
    (void)topic;
    return TR_KERR_NONE;
#endif
}

/*
 * A broker resource (collector/dynconf.h): named by this broker's id, or
 * "" for the cluster-wide default. The new set is checked, then kept: in
 * ZooKeeper in a cluster (every broker applies it from there; this one at
 * once too), else in log.dirs.
 */
static int16_t
alter_broker(struct tr_request *req, const char *name, const struct entries *e,
             int incremental, int validate_only, char *message, size_t len)
{
    struct tr_dynconf *dc = req->broker->dynconf;
    struct tr_dynconf_set *set = NULL;
    enum tr_dynconf_scope scope;
    char id[16];
    tr_err_t err;
    int16_t kerr = TR_KERR_NONE;

    snprintf(id, sizeof(id), "%d", (int)req->broker->node_id);
    if (name[0] != '\0' && strcmp(name, id) != 0) {
        /* Kafka's ConfigHelper: per-broker configs go to that broker. */
        snprintf(message, len,
                 "Unexpected broker id, expected %s, but "
                 "received %s",
                 id, name);
        return TR_KERR_INVALID_REQUEST;
    }
    if (dc == NULL) {
        snprintf(message, len,
                 "broker configs cannot change at run time "
                 "here");
        return TR_KERR_INVALID_REQUEST;
    }
    scope = name[0] == '\0' ? TR_DYNCONF_DEFAULT : TR_DYNCONF_BROKER;
    err = tr_dynconf_prepare(dc, scope, e->alters, e->n, !incremental, &set,
                             message, len);
    if (err != TR_OK) {
        return err == TR_ERR_CONFIG    ? TR_KERR_INVALID_CONFIG
               : err == TR_ERR_INVALID ? TR_KERR_INVALID_REQUEST
                                       : TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    if (validate_only) {
        tr_dynconf_set_free(set);
        return TR_KERR_NONE;
    }
#ifdef HAVE_ZOOKEEPER
    if (req->broker->cluster != NULL) {
        const char *const *keys, *const *values;
        size_t n = tr_dynconf_set_entries(set, &keys, &values);

        kerr = tr_cluster_alter_broker_config(req->broker->cluster, name, keys,
                                              values, n, message, len);
        if (kerr != TR_KERR_NONE) {
            tr_dynconf_set_free(set);
            return kerr;
        }
    }
#endif
    if (tr_dynconf_commit(dc, scope, set, message, len) != TR_OK) {
        kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
    } else {
        tr_log_info("%s dynamic configs of %s (%zu entries, by %s)",
                    incremental ? "changed" : "replaced",
                    name[0] ? "this broker" : "the cluster default", e->n,
                    req->peer);
    }
    return kerr;
}

static tr_err_t
alter(struct tr_request *req, int incremental)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_slice res_at;
    struct entries *e = NULL;
    int32_t nres, r, n, i;
    int validate_only;
    tr_err_t err;

    err = tr_proto_get_array_len_v(in, 0, &nres, 7, 1000);
    if (err != TR_OK) {
        return err;
    }
    nres = nres < 0 ? 0 : nres;
    res_at = *in;
    for (r = 0; r < nres; r++) {
        if ((err = skip_resource(in, incremental)) != TR_OK) {
            return err;
        }
    }
    if ((err = tr_proto_get_bool(in, &validate_only)) != TR_OK) {
        return err;
    }
    e = tr_malloc(sizeof(*e));
    if (e == NULL) {
        return TR_ERR_NOMEM;
    }

    tr_request_put_throttle(req);
    tr_buf_put_i32(out, nres);
    for (r = 0; r < nres; r++) {
        struct tr_str name, key, value;
        char rname[TR_TOPIC_NAME_MAX + 1], message[512] = "";
        int16_t kerr = TR_KERR_NONE;
        int8_t type, op = TR_CONFIG_OP_SET;

        tr_slice_get_i8(&res_at, &type);
        tr_proto_get_string(&res_at, &name);
        tr_proto_get_array_len_v(&res_at, 0, &n, 0, MAX_CONFIGS);
        e->n = 0;
        for (i = 0; i < n; i++) {
            tr_proto_get_string(&res_at, &key);
            if (incremental) {
                tr_slice_get_i8(&res_at, &op);
            }
            tr_proto_get_string(&res_at, &value);
            if (kerr != TR_KERR_NONE) {
                continue;
            }
            if (e->n == MAX_ENTRIES ||
                tr_str_copy(&key, e->strings[e->n][0], MAX_ENTRY_LEN) !=
                    TR_OK ||
                (value.len >= 0 && tr_str_copy(&value, e->strings[e->n][1],
                                               MAX_ENTRY_LEN) != TR_OK)) {
                kerr = TR_KERR_INVALID_REQUEST;
                snprintf(message, sizeof(message),
                         "too many config entries, or one too long");
                continue;
            }
            e->alters[e->n].name = e->strings[e->n][0];
            e->alters[e->n].value = value.len >= 0 ? e->strings[e->n][1] : NULL;
            e->alters[e->n].op = op;
            e->n++;
        }
        if (type == RESOURCE_TOPIC &&
            !tr_api_authorize_str(req, TR_ACL_OP_ALTER_CONFIGS, TR_ACL_TOPIC,
                                  &name)) {
            /* Authorization comes first (Kafka's order). */
            kerr = TR_KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(message, sizeof(message), "Authorization failed.");
        } else if (type == RESOURCE_BROKER &&
                   !tr_api_authorize(req, TR_ACL_OP_ALTER_CONFIGS,
                                     TR_ACL_CLUSTER, TR_ACL_CLUSTER_NAME)) {
            kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
            snprintf(message, sizeof(message), "Cluster authorization failed.");
        }
        if (kerr != TR_KERR_NONE) {
            /* message set above */
        } else if (tr_str_copy(&name, rname, sizeof(rname)) != TR_OK) {
            kerr = TR_KERR_INVALID_REQUEST;
            snprintf(message, sizeof(message), "resource name too long");
        } else if (type == RESOURCE_BROKER) {
            kerr = alter_broker(req, rname, e, incremental, validate_only,
                                message, sizeof(message));
        } else if (type != RESOURCE_TOPIC) {
            kerr = TR_KERR_INVALID_REQUEST;
            snprintf(message, sizeof(message),
                     "resource type %d cannot be altered (only topics, 2)",
                     type);
        } else {
            err = tr_topics_alter_configs(req->broker->topics, rname, e->alters,
                                          e->n, !incremental, validate_only,
                                          message, sizeof(message));
            if (err == TR_ERR_NOT_FOUND) {
                kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (err == TR_ERR_CONFIG) {
                kerr = TR_KERR_INVALID_CONFIG;
            } else if (err == TR_ERR_INVALID) {
                kerr = TR_KERR_INVALID_REQUEST;
            } else if (err != TR_OK) {
                kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
                if (message[0] == '\0') {
                    snprintf(message, sizeof(message), "%s", tr_err_str(err));
                }
            } else if (!validate_only) {
                tr_log_info("%s configs of topic '%s' (%zu entries, by %s)",
                            incremental ? "changed" : "replaced", rname, e->n,
                            req->peer);
                kerr = publish_topic(req, rname);
            }
        }
        tr_buf_put_i16(out, kerr); /* ErrorCode */
        tr_proto_put_cstring_v(out, 0, kerr == TR_KERR_NONE ? NULL : message);
        tr_buf_put_i8(out, type); /* ResourceType */
        tr_proto_put_string_v(out, 0, name.ptr, name.len < 0 ? 0 : name.len);
    }
    tr_free(e);
    return TR_OK;
}

tr_err_t
tr_api_alter_configs(struct tr_request *req)
{
    return alter(req, 0);
}

tr_err_t
tr_api_incremental_alter_configs(struct tr_request *req)
{
    return alter(req, 1);
}
