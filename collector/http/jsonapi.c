/*
 * jsonapi -- the JSON API's documents (see jsonapi.h).
 */
#include "jsonapi.h"

#include <event2/buffer.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "broker.h"
#include "build-config.h"
#include "groups.h"
#include "jsonw.h"
#include "laghist.h"
#include "logring.h"
#include "partition.h"
#include "stats.h"
#include "topics.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#include "rpc.h"
#endif

/* Lines of /api/errors: the ring's size (console.c makes it). */
#define ERRORS_MAX 100

static int
may_describe(const struct tr_jsonapi_ctx *ctx, enum tr_acl_resource type,
             const char *name)
{
    return ctx->broker->acl == NULL ||
           tr_acl_authorize(ctx->broker->acl, ctx->principal, ctx->host,
                            TR_ACL_OP_DESCRIBE, type, name, 0);
}

void
tr_jsonapi_error(struct evbuffer *out, const char *message)
{
    struct tr_jsonw w;

    tr_jsonw_init(&w, out);
    tr_jsonw_object(&w);
    tr_jsonw_kv_string(&w, "error", message);
    tr_jsonw_end_object(&w);
}

static void
int_array(struct tr_jsonw *w, const char *key, const int32_t *v, int32_t n)
{
    int32_t i;

    tr_jsonw_key(w, key);
    tr_jsonw_array(w);
    for (i = 0; i < n; i++) {
        tr_jsonw_int(w, v[i]);
    }
    tr_jsonw_end_array(w);
}

/* Counts over the topics a principal sees (for /api/cluster). */
struct topic_summary {
    int64_t topics, partitions, under_replicated, offline, size_bytes;
};

/*
 * One partition: where it lives (the cluster view, or this collector
 * alone) and, when hosted here, its offsets and size.
 */
static void
write_partition(const struct tr_jsonapi_ctx *ctx, struct tr_jsonw *w,
                const char *topic, int32_t index, struct topic_summary *sum)
{
    struct tr_broker *broker = ctx->broker;
    struct tr_partition *p = tr_topics_partition(broker->topics, topic, index);
    struct tr_partition_offsets po;
    int32_t self = broker->node_id, leader = self;
    int32_t one[1] = { self };
    const int32_t *replicas = one, *isr = one, *offline = NULL;
    int32_t nreplicas = 1, nisr = 1, noffline = 0;
    int under;
#ifdef HAVE_ZOOKEEPER
    struct tr_pstate st;

    if (broker->cluster != NULL) {
        if (tr_cluster_partition_state(broker->cluster, topic, index, &st)) {
            leader = st.leader;
            replicas = st.replicas;
            nreplicas = st.nreplicas;
            isr = st.isr;
            nisr = st.nisr;
            offline = st.offline;
            noffline = st.noffline;
        } else {
            leader = -1;
            nreplicas = nisr = 0;
        }
    }
#endif
    under = leader >= 0 && nisr < nreplicas;
    sum->partitions++;
    sum->under_replicated += under;
    sum->offline += leader < 0;
    if (p != NULL) {
        tr_partition_offsets(p, &po);
        tr_partition_unref(p);
        sum->size_bytes += po.size_bytes;
    }
    if (w == NULL) {
        return;
    }
    tr_jsonw_object(w);
    tr_jsonw_kv_int(w, "partition", index);
    tr_jsonw_kv_int(w, "leader", leader);
    int_array(w, "replicas", replicas, nreplicas);
    int_array(w, "isr", isr, nisr);
    int_array(w, "offline_replicas", offline, noffline);
    tr_jsonw_kv_bool(w, "under_replicated", under);
    tr_jsonw_kv_bool(w, "hosted", p != NULL);
    tr_jsonw_key(w, "log_start_offset");
    if (p != NULL) {
        tr_jsonw_int(w, po.log_start);
        tr_jsonw_kv_int(w, "log_end_offset", po.log_end);
        tr_jsonw_kv_int(w, "high_watermark", po.high_watermark);
        tr_jsonw_kv_int(w, "size_bytes", po.size_bytes);
    } else {
        /* hosted elsewhere: that collector's console has the offsets */
        tr_jsonw_null(w);
        tr_jsonw_key(w, "log_end_offset");
        tr_jsonw_null(w);
        tr_jsonw_key(w, "high_watermark");
        tr_jsonw_null(w);
        tr_jsonw_key(w, "size_bytes");
        tr_jsonw_null(w);
    }
    tr_jsonw_end_object(w);
}

/*
 * The topics the principal may describe, with their partitions, into 'w'
 * (NULL: only counts into 'sum'). In a cluster the names and partition
 * counts are the cluster view's; alone, the partitions hosted here.
 */
static tr_err_t
walk_topics(const struct tr_jsonapi_ctx *ctx, struct tr_jsonw *w,
            struct topic_summary *sum)
{
    struct tr_broker *broker = ctx->broker;
    char **names = NULL;
    int32_t *counts = NULL;
    size_t n = 0, i;
    int32_t k;
    tr_err_t err = TR_ERR_NOMEM;

    memset(sum, 0, sizeof(*sum));
#ifdef HAVE_ZOOKEEPER
    if (broker->cluster != NULL) {
        n = tr_cluster_topics(broker->cluster, &names);
        counts = n > 0 ? tr_calloc(n, sizeof(*counts)) : NULL;
        if (n > 0 && counts == NULL) {
            goto out;
        }
        for (i = 0; i < n; i++) {
            counts[i] = tr_cluster_partition_count(broker->cluster, names[i]);
        }
    }
#endif
    if (names == NULL) {
        struct tr_topic_info *info = NULL;

        err = tr_topics_list(broker->topics, &info, &n);
        if (err != TR_OK) {
            goto out;
        }
        err = TR_ERR_NOMEM;
        names = n > 0 ? tr_calloc(n, sizeof(*names)) : NULL;
        counts = n > 0 ? tr_calloc(n, sizeof(*counts)) : NULL;
        for (i = 0; i < n && names != NULL && counts != NULL; i++) {
            names[i] = tr_strdup(info[i].name);
            counts[i] = info[i].partitions;
        }
        tr_free(info);
        if (n > 0 && (names == NULL || counts == NULL || i < n)) {
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        if (names[i] == NULL || !may_describe(ctx, TR_ACL_TOPIC, names[i])) {
            continue;
        }
        sum->topics++;
        if (w != NULL) {
            tr_jsonw_object(w);
            tr_jsonw_kv_string(w, "name", names[i]);
            tr_jsonw_kv_bool(w, "internal", strncmp(names[i], "__", 2) == 0);
            tr_jsonw_key(w, "partitions");
            tr_jsonw_array(w);
        }
        for (k = 0; k < counts[i]; k++) {
            write_partition(ctx, w, names[i], k, sum);
        }
        if (w != NULL) {
            tr_jsonw_end_array(w);
            tr_jsonw_end_object(w);
        }
    }
    err = TR_OK;
out:
    for (i = 0; names != NULL && i < n; i++) {
        tr_free(names[i]);
    }
    tr_free(names);
    tr_free(counts);
    return err;
}

int
tr_jsonapi_topics(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out)
{
    struct topic_summary sum;
    struct tr_jsonw w;

    tr_jsonw_init(&w, out);
    tr_jsonw_object(&w);
    tr_jsonw_key(&w, "topics");
    tr_jsonw_array(&w);
    (void)walk_topics(ctx, &w, &sum);
    tr_jsonw_end_array(&w);
    tr_jsonw_end_object(&w);
    return 200;
}

static void
write_listeners(struct tr_jsonw *w, const struct tr_listener_spec *l, size_t n)
{
    size_t i;

    tr_jsonw_key(w, "listeners");
    tr_jsonw_array(w);
    for (i = 0; i < n; i++) {
        tr_jsonw_object(w);
        tr_jsonw_kv_string(w, "name", l[i].name);
        tr_jsonw_kv_string(w, "security_protocol",
                           tr_security_protocol_name(l[i].protocol));
        tr_jsonw_kv_string(w, "host", l[i].host);
        tr_jsonw_kv_int(w, "port", l[i].port);
        tr_jsonw_end_object(w);
    }
    tr_jsonw_end_array(w);
}

static void
write_broker(struct tr_jsonw *w, int32_t id, const char *host, int32_t port,
             const char *rack, int controller, int self,
             const struct tr_listener_spec *l, size_t nl)
{
    tr_jsonw_object(w);
    tr_jsonw_kv_int(w, "id", id);
    tr_jsonw_kv_string(w, "host", host);
    tr_jsonw_kv_int(w, "port", port);
    tr_jsonw_key(w, "rack");
    if (rack != NULL && rack[0] != '\0') {
        tr_jsonw_string(w, rack);
    } else {
        tr_jsonw_null(w);
    }
    tr_jsonw_kv_bool(w, "controller", controller);
    tr_jsonw_kv_bool(w, "self", self);
    write_listeners(w, l, nl);
    tr_jsonw_end_object(w);
}

/* Counts the groups the principal sees (a tr_stats_group_cb). */
struct group_count {
    const struct tr_jsonapi_ctx *ctx;
    int64_t n;
};

static void
count_group(void *arg, const struct tr_group_listing *group,
            const struct tr_stats_lag *lags, size_t nlags)
{
    struct group_count *gc = arg;

    (void)lags;
    (void)nlags;
    gc->n += may_describe(gc->ctx, TR_ACL_GROUP, group->group_id);
}

int
tr_jsonapi_cluster(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out)
{
    struct tr_broker *broker = ctx->broker;
    struct topic_summary sum;
    struct group_count gc = { ctx, 0 };
    struct tr_jsonw w;
    int32_t controller = broker->node_id;

    (void)walk_topics(ctx, NULL, &sum);
    (void)tr_stats_group_lags(broker, ctx->now_ms, count_group, &gc);
    tr_jsonw_init(&w, out);
    tr_jsonw_object(&w);
    tr_jsonw_kv_string(&w, "cluster_id", broker->cluster_id);
    tr_jsonw_kv_string(&w, "version", PACKAGE_VERSION);
    tr_jsonw_kv_string(&w, "mode",
                       broker->cluster != NULL ? "cluster" : "single");
    tr_jsonw_kv_int(&w, "broker_id", broker->node_id);
    tr_jsonw_kv_bool(&w, "ready", tr_stats_ready(broker->stats));
    tr_jsonw_kv_int(&w, "now_ms", ctx->now_ms);
    tr_jsonw_key(&w, "brokers");
    tr_jsonw_array(&w);
#ifdef HAVE_ZOOKEEPER
    if (broker->cluster != NULL) {
        struct tr_broker_info *b = NULL;
        size_t nb = tr_cluster_brokers(broker->cluster, &b), i;

        controller = tr_cluster_controller_id(broker->cluster);
        for (i = 0; i < nb; i++) {
            write_broker(&w, b[i].id, b[i].host, b[i].port, b[i].rack,
                         b[i].id == controller, b[i].id == broker->node_id,
                         b[i].endpoints, (size_t)b[i].nendpoints);
        }
        tr_free(b);
    }
#endif
    if (broker->cluster == NULL) {
        write_broker(&w, broker->node_id, broker->advertised_host,
                     broker->advertised_port, broker->cfg->broker_rack, 1, 1,
                     broker->advertised, broker->nadvertised);
    }
    tr_jsonw_end_array(&w);
    tr_jsonw_kv_int(&w, "controller_id", controller);
    tr_jsonw_kv_int(&w, "topics", sum.topics);
    tr_jsonw_kv_int(&w, "partitions", sum.partitions);
    tr_jsonw_kv_int(&w, "under_replicated_partitions", sum.under_replicated);
    tr_jsonw_kv_int(&w, "offline_partitions", sum.offline);
    tr_jsonw_kv_int(&w, "size_bytes", sum.size_bytes);
    tr_jsonw_kv_int(&w, "groups", gc.n);
    tr_jsonw_end_object(&w);
    return 200;
}

/* Writes each group the principal sees (a tr_stats_group_cb). */
struct group_writer {
    const struct tr_jsonapi_ctx *ctx;
    struct tr_jsonw *w;
};

static void
write_members(const struct tr_jsonapi_ctx *ctx, struct tr_jsonw *w,
              const char *group_id)
{
    struct tr_str id = { group_id, (int32_t)strlen(group_id) };
    struct tr_group_description desc;
    size_t i;

    memset(&desc, 0, sizeof(desc));
    tr_jsonw_key(w, "members");
    tr_jsonw_array(w);
    if (tr_groups_describe(ctx->broker->groups, &id, ctx->now_ms, &desc) ==
        TR_OK) {
        for (i = 0; i < desc.nmembers; i++) {
            tr_jsonw_object(w);
            tr_jsonw_kv_string(w, "member_id", desc.members[i].member_id);
            tr_jsonw_kv_string(w, "client_id", desc.members[i].client_id);
            tr_jsonw_kv_string(w, "client_host", desc.members[i].client_host);
            tr_jsonw_end_object(w);
        }
        tr_group_description_cleanup(&desc);
    }
    tr_jsonw_end_array(w);
}

static void
write_group(void *arg, const struct tr_group_listing *group,
            const struct tr_stats_lag *lags, size_t nlags)
{
    struct group_writer *gw = arg;
    const struct tr_jsonapi_ctx *ctx = gw->ctx;
    struct tr_jsonw *w = gw->w;
    struct tr_laghist_sample hist[TR_LAGHIST_SAMPLES];
    size_t j, nhist = 0;
    int64_t total = 0;

    if (!may_describe(ctx, TR_ACL_GROUP, group->group_id)) {
        return;
    }
    tr_jsonw_object(w);
    tr_jsonw_kv_string(w, "group_id", group->group_id);
    tr_jsonw_kv_string(w, "state", tr_group_state_name(group->state));
    tr_jsonw_kv_string(w, "protocol_type", group->protocol_type);
    write_members(ctx, w, group->group_id);
    tr_jsonw_key(w, "partitions");
    tr_jsonw_array(w);
    for (j = 0; j < nlags; j++) {
        /* as OffsetFetch: only the topics the principal may describe */
        if (!may_describe(ctx, TR_ACL_TOPIC, lags[j].topic)) {
            continue;
        }
        total += lags[j].lag;
        tr_jsonw_object(w);
        tr_jsonw_kv_string(w, "topic", lags[j].topic);
        tr_jsonw_kv_int(w, "partition", lags[j].partition);
        tr_jsonw_kv_int(w, "committed_offset", lags[j].committed);
        tr_jsonw_kv_int(w, "high_watermark", lags[j].high_watermark);
        tr_jsonw_kv_int(w, "lag", lags[j].lag);
        tr_jsonw_end_object(w);
    }
    tr_jsonw_end_array(w);
    tr_jsonw_kv_int(w, "lag", total);
    /* the samples kept, then now: a chart has a point from the start */
    if (ctx->hist != NULL) {
        nhist = tr_laghist_get(ctx->hist, group->group_id, hist,
                               TR_LAGHIST_SAMPLES);
    }
    tr_jsonw_key(w, "lag_history");
    tr_jsonw_array(w);
    for (j = 0; j < nhist; j++) {
        tr_jsonw_array(w);
        tr_jsonw_int(w, hist[j].time_ms);
        tr_jsonw_int(w, hist[j].lag);
        tr_jsonw_end_array(w);
    }
    tr_jsonw_array(w);
    tr_jsonw_int(w, ctx->now_ms);
    tr_jsonw_int(w, total);
    tr_jsonw_end_array(w);
    tr_jsonw_end_array(w);
    tr_jsonw_end_object(w);
}

int
tr_jsonapi_groups(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out)
{
    struct tr_jsonw w;
    struct group_writer gw = { ctx, &w };

    tr_jsonw_init(&w, out);
    tr_jsonw_object(&w);
    tr_jsonw_kv_int(&w, "now_ms", ctx->now_ms);
    tr_jsonw_kv_int(&w, "sample_interval_ms", TR_LAGHIST_INTERVAL_MS);
    tr_jsonw_key(&w, "groups");
    tr_jsonw_array(&w);
    (void)tr_stats_group_lags(ctx->broker, ctx->now_ms, write_group, &gw);
    tr_jsonw_end_array(&w);
    tr_jsonw_end_object(&w);
    return 200;
}

int
tr_jsonapi_errors(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out)
{
    struct tr_logring_entry *e = NULL;
    struct tr_jsonw w;
    uint64_t total = 0;
    size_t n = 0, i;

    if (!may_describe(ctx, TR_ACL_CLUSTER, TR_ACL_CLUSTER_NAME)) {
        tr_jsonapi_error(out, "the log needs DESCRIBE on the cluster");
        return 403;
    }
    if (ctx->errors != NULL) {
        e = tr_calloc(ERRORS_MAX, sizeof(*e));
        if (e != NULL) {
            n = tr_logring_get(ctx->errors, e, ERRORS_MAX, &total);
        }
    }
    tr_jsonw_init(&w, out);
    tr_jsonw_object(&w);
    tr_jsonw_kv_int(&w, "total", (int64_t)total);
    tr_jsonw_key(&w, "errors");
    tr_jsonw_array(&w);
    for (i = 0; i < n; i++) {
        tr_jsonw_object(&w);
        tr_jsonw_kv_int(&w, "time_ms", e[i].time_ms);
        tr_jsonw_kv_string(&w, "level",
                           e[i].level == TR_LOG_ERROR ? "ERROR" : "WARN");
        tr_jsonw_kv_string(&w, "message", e[i].text);
        tr_jsonw_end_object(&w);
    }
    tr_jsonw_end_array(&w);
    tr_jsonw_end_object(&w);
    tr_free(e);
    return 200;
}

/* Adds one group's total lag to the history (a tr_stats_group_cb). */
struct sampler {
    struct tr_laghist *hist;
    int64_t now_ms;
};

static void
sample_group(void *arg, const struct tr_group_listing *group,
             const struct tr_stats_lag *lags, size_t nlags)
{
    struct sampler *s = arg;
    int64_t total = 0;
    size_t j;

    for (j = 0; j < nlags; j++) {
        total += lags[j].lag;
    }
    (void)tr_laghist_add(s->hist, group->group_id, s->now_ms, total,
                         TR_LAGHIST_INTERVAL_MS);
}

void
tr_jsonapi_sample_lag(struct tr_broker *broker, struct tr_laghist *hist,
                      int64_t now_ms)
{
    struct sampler s = { hist, now_ms };

    (void)tr_stats_group_lags(broker, now_ms, sample_group, &s);
}
