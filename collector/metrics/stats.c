/*
 * stats -- counters, scrape-time gauges and the HTTP listener (see
 * stats.h).
 */
#include "stats.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "broker.h"
#include "build-config.h"
#include "clock.h"
#include "fleet.h"
#include "groups.h"
#include "metrics.h"
#include "partition.h"
#include "proto.h"
#include "topics.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#include "rpc.h"
#endif

/* Error codes counted: Kafka's are -1 (UNKNOWN_SERVER_ERROR) to ~120. */
#define KERR_MIN   (-1)
#define KERR_SLOTS 160

struct tr_stats {
    struct tr_broker *broker;
    struct tr_metrics *http;
    atomic_int ready;
    atomic_uint_least64_t errors[TR_STATS_APIS][KERR_SLOTS];
    struct tr_metrics_hist latency[TR_STATS_APIS];
    atomic_uint_least64_t connections_opened;
    atomic_uint_least64_t isr_shrinks, isr_expands;
    atomic_int_least64_t connections;
    struct tr_fleet *fleet; /* the agents (fleet.h); main thread only */
};

tr_err_t
tr_stats_new(struct tr_broker *broker, struct tr_stats **out)
{
    struct tr_stats *s = tr_calloc(1, sizeof(*s));

    if (s == NULL) {
        return TR_ERR_NOMEM;
    }
    s->broker = broker;
    if (tr_fleet_new(broker->topics, broker->cfg->agents_silent_after_ms,
                     &s->fleet) != TR_OK) {
        tr_free(s);
        return TR_ERR_NOMEM;
    }
    *out = s;
    return TR_OK;
}

void
tr_stats_free(struct tr_stats *s)
{
    if (s == NULL) {
        return;
    }
    tr_metrics_free(s->http);
    tr_fleet_free(s->fleet);
    tr_free(s);
}

void
tr_stats_set_ready(struct tr_stats *s)
{
    if (s != NULL) {
        atomic_store(&s->ready, 1);
    }
}

int
tr_stats_ready(const struct tr_stats *s)
{
    return s != NULL && atomic_load(&s->ready);
}

struct tr_metrics *
tr_stats_http(struct tr_stats *s)
{
    return s != NULL ? s->http : NULL;
}

void
tr_stats_request(struct tr_stats *s, int16_t api_key, int64_t us)
{
    if (s == NULL || api_key < 0 || api_key >= TR_STATS_APIS) {
        return;
    }
    /* requests_total is the histogram's count: no counter of its own */
    tr_metrics_hist_observe(&s->latency[api_key], us);
}

void
tr_stats_error(struct tr_stats *s, int16_t api_key, int16_t kerr)
{
    int slot = kerr - KERR_MIN;

    if (s == NULL || kerr == 0 || api_key < 0 || api_key >= TR_STATS_APIS ||
        slot < 0 || slot >= KERR_SLOTS) {
        return;
    }
    atomic_fetch_add_explicit(&s->errors[api_key][slot], 1,
                              memory_order_relaxed);
}

void
tr_stats_bytes_out(struct tr_broker *broker, const char *topic, int32_t index,
                   size_t len)
{
    struct tr_partition *p;

    if (broker->stats == NULL ||
        (p = tr_topics_partition(broker->topics, topic, index)) == NULL) {
        return;
    }
    atomic_fetch_add_explicit(&tr_partition_stats(p)->bytes_out, len,
                              memory_order_relaxed);
    tr_partition_unref(p);
}

static int
has(const int32_t *ids, int32_t n, int32_t id)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        if (ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

void
tr_stats_isr_change(struct tr_stats *s, const int32_t *old, int32_t nold,
                    const int32_t *new_isr, int32_t nnew)
{
    int32_t i;
    int shrink = 0, expand = 0;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < nold; i++) {
        shrink |= !has(new_isr, nnew, old[i]);
    }
    for (i = 0; i < nnew; i++) {
        expand |= !has(old, nold, new_isr[i]);
    }
    if (shrink) {
        atomic_fetch_add_explicit(&s->isr_shrinks, 1, memory_order_relaxed);
    }
    if (expand) {
        atomic_fetch_add_explicit(&s->isr_expands, 1, memory_order_relaxed);
    }
}

void
tr_stats_connection(struct tr_stats *s, int delta)
{
    if (s == NULL) {
        return;
    }
    if (delta > 0) {
        atomic_fetch_add_explicit(&s->connections_opened, 1,
                                  memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&s->connections, delta, memory_order_relaxed);
}

/* ---- rendering ---------------------------------------------------------- */

static double
load(const atomic_uint_least64_t *v)
{
    return (double)atomic_load_explicit(v, memory_order_relaxed);
}

/* Prometheus' standard process metrics (client libraries' names). */
static void
render_process(struct evbuffer *out)
{
    struct rusage ru;
    struct rlimit rl;
    long pages = 0, rss = 0, page = sysconf(_SC_PAGESIZE);
    FILE *f;
    DIR *d;
    struct dirent *e;
    int fds = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        tr_metrics_family(out, "process_cpu_seconds_total", "counter",
                          "Total user and system CPU time spent in seconds.");
        tr_metrics_sample(
            out, "process_cpu_seconds_total", NULL, NULL,
            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    }
    f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) == 2) {
            tr_metrics_family(out, "process_resident_memory_bytes", "gauge",
                              "Resident memory size in bytes.");
            tr_metrics_sample(out, "process_resident_memory_bytes", NULL, NULL,
                              (double)rss * (double)page);
            tr_metrics_family(out, "process_virtual_memory_bytes", "gauge",
                              "Virtual memory size in bytes.");
            tr_metrics_sample(out, "process_virtual_memory_bytes", NULL, NULL,
                              (double)pages * (double)page);
        }
        fclose(f);
    }
    d = opendir("/proc/self/fd");
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            fds += e->d_name[0] != '.';
        }
        closedir(d);
        tr_metrics_family(out, "process_open_fds", "gauge",
                          "Number of open file descriptors.");
        tr_metrics_sample(out, "process_open_fds", NULL, NULL, fds - 1);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        tr_metrics_family(out, "process_max_fds", "gauge",
                          "Maximum number of open file descriptors.");
        tr_metrics_sample(out, "process_max_fds", NULL, NULL,
                          (double)rl.rlim_cur);
    }
}

static void
render_requests(struct tr_stats *s, struct evbuffer *out)
{
    int k, e;
    char code[8];

    tr_metrics_family(out, "tributary_requests_total", "counter",
                      "Kafka requests answered, per API.");
    for (k = 0; k < TR_STATS_APIS; k++) {
        uint64_t n = tr_metrics_hist_count(&s->latency[k]);
        if (n > 0) {
            tr_metrics_sample(out, "tributary_requests_total", "api",
                              tr_proto_api_name((int16_t)k), (double)n);
        }
    }
    tr_metrics_family(out, "tributary_request_errors_total", "counter",
                      "Error codes reported in responses (top level and per "
                      "partition for Produce and Fetch), per API and Kafka "
                      "error code; INVALID_REQUEST (42) counts requests "
                      "that closed the connection.");
    for (k = 0; k < TR_STATS_APIS; k++) {
        for (e = 0; e < KERR_SLOTS; e++) {
            if (load(&s->errors[k][e]) > 0) {
                const char *kv[4] = { "api", tr_proto_api_name((int16_t)k),
                                      "error_code", code };
                snprintf(code, sizeof(code), "%d", e + KERR_MIN);
                tr_metrics_sample_n(out, "tributary_request_errors_total", 2,
                                    kv, load(&s->errors[k][e]));
            }
        }
    }
    tr_metrics_family(out, "tributary_request_duration_seconds", "histogram",
                      "Time from a request's arrival to its response being "
                      "queued (long-polling fetches included), per API.");
    for (k = 0; k < TR_STATS_APIS; k++) {
        if (tr_metrics_hist_count(&s->latency[k]) > 0) {
            tr_metrics_hist_write(out, "tributary_request_duration_seconds",
                                  "api", tr_proto_api_name((int16_t)k),
                                  &s->latency[k]);
        }
    }
    tr_metrics_family(out, "tributary_connections", "gauge",
                      "Client connections open.");
    tr_metrics_sample(out, "tributary_connections", NULL, NULL,
                      (double)atomic_load(&s->connections));
    tr_metrics_family(out, "tributary_connections_opened_total", "counter",
                      "Client connections accepted.");
    tr_metrics_sample(out, "tributary_connections_opened_total", NULL, NULL,
                      load(&s->connections_opened));
}

/* Per-topic sums of the partitions' counters. */
struct topic_sum {
    const char *topic; /* borrowed from a partition */
    double bytes_in, records_in, bytes_out;
};

static const struct {
    const char *name, *help;
    size_t field; /* offset in struct topic_sum */
} topic_counters[] = {
    { "tributary_topic_bytes_in_total",
      "Bytes of record batches produced to the topic's partitions here.",
      offsetof(struct topic_sum, bytes_in) },
    { "tributary_topic_records_in_total",
      "Records produced to the topic's partitions here.",
      offsetof(struct topic_sum, records_in) },
    { "tributary_topic_bytes_out_total",
      "Bytes of record batches sent by Fetch from the topic's partitions "
      "here (consumers and followers).",
      offsetof(struct topic_sum, bytes_out) },
};

/* Broker-wide sums of the partitions' log work counters. */
static const struct {
    const char *name, *help;
    size_t field; /* offset in struct tr_partition_stats */
} log_counters[] = {
    { "tributary_log_fsyncs_total", "fdatasync calls by log flushes.",
      offsetof(struct tr_partition_stats, fsyncs) },
    { "tributary_log_segment_rolls_total", "Log segments rolled.",
      offsetof(struct tr_partition_stats, rolls) },
    { "tributary_retention_deleted_segments_total",
      "Log segments deleted by retention (time, size, log start).",
      offsetof(struct tr_partition_stats, retention_segments) },
    { "tributary_retention_deleted_bytes_total",
      "Bytes of log segments deleted by retention.",
      offsetof(struct tr_partition_stats, retention_bytes) },
    { "tributary_compactions_total",
      "Compaction passes of the log cleaner that rewrote a log.",
      offsetof(struct tr_partition_stats, cleanings) },
    { "tributary_compaction_removed_bytes_total",
      "Bytes removed from logs by compaction.",
      offsetof(struct tr_partition_stats, cleaned_bytes) },
    { "tributary_compaction_removed_records_total",
      "Records removed from logs by compaction.",
      offsetof(struct tr_partition_stats, cleaned_records) },
};

#define NLOG_COUNTERS (sizeof(log_counters) / sizeof(log_counters[0]))

static const struct {
    const char *name, *help;
} partition_gauges[] = {
    { "tributary_log_size_bytes", "Bytes of the partition's log segments." },
    { "tributary_log_start_offset", "The partition's log start offset." },
    { "tributary_log_end_offset", "The partition's log end offset." },
    { "tributary_high_watermark", "The partition's high watermark." },
};

static void
partition_labels(struct tr_partition *p, char *idx, size_t idxlen,
                 const char *kv[4])
{
    snprintf(idx, idxlen, "%" PRId32, tr_partition_index(p));
    kv[0] = "topic";
    kv[1] = tr_partition_topic(p);
    kv[2] = "partition";
    kv[3] = idx;
}

#ifdef HAVE_ZOOKEEPER
/* Under-replicated (led here, ISR short) and offline partitions hosted. */
static void
cluster_counts(struct tr_stats *s, struct tr_partition **parts, size_t n,
               int *under, int *offline)
{
    struct tr_pstate st;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!tr_cluster_partition_state(s->broker->cluster,
                                        tr_partition_topic(parts[i]),
                                        tr_partition_index(parts[i]), &st)) {
            continue;
        }
        if (st.leader < 0) {
            (*offline)++;
        } else if (st.leader == tr_cluster_broker_id(s->broker->cluster) &&
                   st.nisr < st.nreplicas) {
            (*under)++;
        }
    }
}
#endif

static void
render_logs(struct tr_stats *s, struct evbuffer *out)
{
    struct tr_partition **parts;
    struct tr_partition_offsets *offs = NULL;
    struct topic_sum *sums = NULL;
    double totals[NLOG_COUNTERS] = { 0 };
    size_t n = 0, nsums = 0, i, j, g;
    int under = 0, offline = 0;
    char idx[16];
    const char *kv[4];

    parts = tr_topics_partitions(s->broker->topics, &n);
    if (n > 0) {
        offs = tr_calloc(n, sizeof(*offs));
        sums = tr_calloc(n, sizeof(*sums));
        if (offs == NULL || sums == NULL) {
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        struct tr_partition_stats *ps = tr_partition_stats(parts[i]);

        tr_partition_offsets(parts[i], &offs[i]);
        for (j = 0; j < nsums; j++) {
            if (strcmp(sums[j].topic, tr_partition_topic(parts[i])) == 0) {
                break;
            }
        }
        if (j == nsums) {
            sums[nsums++].topic = tr_partition_topic(parts[i]);
        }
        sums[j].bytes_in += load(&ps->bytes_in);
        sums[j].records_in += load(&ps->records_in);
        sums[j].bytes_out += load(&ps->bytes_out);
        for (g = 0; g < NLOG_COUNTERS; g++) {
            totals[g] +=
                load((const atomic_uint_least64_t *)((const char *)ps +
                                                     log_counters[g].field));
        }
    }
    for (g = 0; g < sizeof(topic_counters) / sizeof(topic_counters[0]); g++) {
        tr_metrics_family(out, topic_counters[g].name, "counter",
                          topic_counters[g].help);
        for (j = 0; j < nsums; j++) {
            tr_metrics_sample(out, topic_counters[g].name, "topic",
                              sums[j].topic,
                              *(const double *)((const char *)&sums[j] +
                                                topic_counters[g].field));
        }
    }
    for (g = 0; g < NLOG_COUNTERS; g++) {
        tr_metrics_family(out, log_counters[g].name, "counter",
                          log_counters[g].help);
        tr_metrics_sample(out, log_counters[g].name, NULL, NULL, totals[g]);
    }
    tr_metrics_family(out, "tributary_partitions", "gauge",
                      "Partitions with a log on this collector.");
    tr_metrics_sample(out, "tributary_partitions", NULL, NULL, (double)n);
    for (g = 0; g < sizeof(partition_gauges) / sizeof(partition_gauges[0]);
         g++) {
        tr_metrics_family(out, partition_gauges[g].name, "gauge",
                          partition_gauges[g].help);
        for (i = 0; i < n; i++) {
            const int64_t v[] = { offs[i].size_bytes, offs[i].log_start,
                                  offs[i].log_end, offs[i].high_watermark };
            partition_labels(parts[i], idx, sizeof(idx), kv);
            tr_metrics_sample_n(out, partition_gauges[g].name, 2, kv,
                                (double)v[g]);
        }
    }
#ifdef HAVE_ZOOKEEPER
    if (s->broker->cluster != NULL) {
        cluster_counts(s, parts, n, &under, &offline);
    }
#endif
    tr_metrics_family(out, "tributary_under_replicated_partitions", "gauge",
                      "Partitions led here whose ISR is smaller than their "
                      "replica set (0 outside a cluster).");
    tr_metrics_sample(out, "tributary_under_replicated_partitions", NULL, NULL,
                      under);
    tr_metrics_family(out, "tributary_isr_shrinks_total", "counter",
                      "ISR changes by this leader that removed a replica.");
    tr_metrics_sample(out, "tributary_isr_shrinks_total", NULL, NULL,
                      load(&s->isr_shrinks));
    tr_metrics_family(out, "tributary_isr_expands_total", "counter",
                      "ISR changes by this leader that added a replica.");
    tr_metrics_sample(out, "tributary_isr_expands_total", NULL, NULL,
                      load(&s->isr_expands));
    tr_metrics_family(out, "tributary_offline_partitions", "gauge",
                      "Partitions hosted here that have no leader (0 "
                      "outside a cluster).");
    tr_metrics_sample(out, "tributary_offline_partitions", NULL, NULL, offline);
out:
    tr_free(offs);
    tr_free(sums);
    if (parts != NULL) {
        tr_topics_partitions_release(parts, n);
    }
}

tr_err_t
tr_stats_group_lags(struct tr_broker *broker, int64_t now_ms,
                    tr_stats_group_cb *cb, void *arg)
{
    struct tr_group_listing *groups = NULL;
    struct tr_stats_lag *lags = NULL;
    size_t ngroups = 0, i, j;
    tr_err_t err = TR_OK;

    if (broker->groups == NULL) {
        return TR_OK;
    }
    err = tr_groups_list(broker->groups, now_ms, &groups, &ngroups);
    if (err != TR_OK) {
        return err;
    }
    for (i = 0; i < ngroups; i++) {
        struct tr_str id = { groups[i].group_id,
                             (int32_t)strlen(groups[i].group_id) };
        struct tr_group_offset *offs = NULL;
        size_t noffs = 0, nlags = 0;
        int16_t kerr;

        if (tr_groups_offsets(broker->groups, &id, now_ms, &offs, &noffs,
                              &kerr) != TR_OK) {
            continue;
        }
        tr_free(lags);
        lags = noffs > 0 ? tr_calloc(noffs, sizeof(*lags)) : NULL;
        if (noffs > 0 && lags == NULL) {
            tr_group_offsets_free(offs, noffs);
            err = TR_ERR_NOMEM;
            break;
        }
        for (j = 0; j < noffs; j++) {
            struct tr_partition *p = tr_topics_partition(
                broker->topics, offs[j].topic, offs[j].partition);
            struct tr_partition_offsets po;

            if (p == NULL || offs[j].offset < 0) {
                if (p != NULL) {
                    tr_partition_unref(p);
                }
                continue;
            }
            tr_partition_offsets(p, &po);
            tr_partition_unref(p);
            lags[nlags].topic = offs[j].topic;
            lags[nlags].partition = offs[j].partition;
            lags[nlags].committed = offs[j].offset;
            lags[nlags].high_watermark = po.high_watermark;
            lags[nlags].lag = po.high_watermark > offs[j].offset
                                  ? po.high_watermark - offs[j].offset
                                  : 0;
            nlags++;
        }
        cb(arg, &groups[i], lags, nlags);
        tr_group_offsets_free(offs, noffs);
    }
    tr_free(lags);
    tr_group_listing_free(groups, ngroups);
    return err;
}

static void
render_group(void *arg, const struct tr_group_listing *group,
             const struct tr_stats_lag *lags, size_t nlags)
{
    struct evbuffer *out = arg;
    char idx[16];
    size_t j;

    for (j = 0; j < nlags; j++) {
        snprintf(idx, sizeof(idx), "%" PRId32, lags[j].partition);
        const char *kv[6] = { "group",       group->group_id, "topic",
                              lags[j].topic, "partition",     idx };
        tr_metrics_sample_n(out, "tributary_consumer_group_lag", 3, kv,
                            (double)lags[j].lag);
    }
}

/* Lag per group and partition: high watermark - committed offset. */
static void
render_groups(struct tr_stats *s, struct evbuffer *out)
{
    tr_metrics_family(out, "tributary_consumer_group_lag", "gauge",
                      "Records between a group's committed offset and the "
                      "partition's high watermark, per group and partition "
                      "(groups coordinated here, partitions hosted here).");
    (void)tr_stats_group_lags(s->broker, tr_clock_wall_ms(), render_group, out);
}

/* The agents that report here (fleet.h), active and silent. */
static void
render_fleet(struct tr_stats *s, struct evbuffer *out)
{
    size_t active, silent;

    tr_fleet_poll(s->fleet);
    tr_fleet_counts(s->fleet, tr_clock_wall_ms(), &active, &silent);
    tr_metrics_family(out, "tributary_agents", "gauge",
                      "Agents known from their status records, by state "
                      "(silent: not heard from for agents.silent.after.ms).");
    tr_metrics_sample(out, "tributary_agents", "state", "active",
                      (double)active);
    tr_metrics_sample(out, "tributary_agents", "state", "silent",
                      (double)silent);
    tr_metrics_family(out, "tributary_fleet_skipped_records_total", "counter",
                      "Malformed agent status records skipped.");
    tr_metrics_sample(out, "tributary_fleet_skipped_records_total", NULL, NULL,
                      (double)tr_fleet_skipped(s->fleet));
}

static void
render(void *arg, struct evbuffer *out)
{
    struct tr_stats *s = arg;

    render_process(out);
    render_requests(s, out);
    render_logs(s, out);
    render_groups(s, out);
    render_fleet(s, out);
    tr_metrics_family(out, "tributary_ready", "gauge",
                      "1 once the collector serves (as /readyz).");
    tr_metrics_sample(out, "tributary_ready", NULL, NULL,
                      atomic_load(&s->ready));
}

static int
healthz(void *arg, struct evbuffer *out)
{
    (void)arg;
    evbuffer_add_printf(out, "ok\n");
    return 1;
}

static int
readyz(void *arg, struct evbuffer *out)
{
    struct tr_stats *s = arg;

    if (!atomic_load(&s->ready)) {
        evbuffer_add_printf(out,
                            s->broker->cluster != NULL
                                ? "not ready: not registered in the cluster\n"
                                : "not ready: starting\n");
        return 0;
    }
    evbuffer_add_printf(out, "ready\n");
    return 1;
}

/* /api/agents: the fleet view as JSON (fleet.h, docs/operations.md). */
static int
api_agents(void *arg, struct evbuffer *out)
{
    struct tr_stats *s = arg;
    struct tr_buf b;

    tr_buf_init(&b, SIZE_MAX);
    tr_fleet_poll(s->fleet);
    if (tr_fleet_json(s->fleet, tr_clock_wall_ms(), &b) != TR_OK) {
        tr_buf_cleanup(&b);
        evbuffer_add_printf(out, "{\"error\":\"out of memory\"}\n");
        return 0;
    }
    evbuffer_add(out, tr_buf_data(&b), tr_buf_len(&b));
    tr_buf_cleanup(&b);
    return 1;
}

static const struct tr_metrics_check checks[] = {
    { "/healthz", healthz, NULL },
    { "/readyz", readyz, NULL },
    { "/api/agents", api_agents, "application/json" },
};

tr_err_t
tr_stats_listen(struct tr_stats *s, struct event_base *base, const char *listen,
                char *errbuf, size_t errlen)
{
    tr_err_t err = tr_metrics_new(base, listen, "http.listener", render, checks,
                                  sizeof(checks) / sizeof(checks[0]), s,
                                  &s->http, errbuf, errlen);

    if (err == TR_OK && (err = tr_fleet_follow(s->fleet, base)) != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
    }
    return err;
}

int
tr_stats_port(const struct tr_stats *s)
{
    return s != NULL && s->http != NULL ? tr_metrics_port(s->http) : 0;
}
