/*
 * stats -- the collector's metrics and health over HTTP: /metrics in the
 * Prometheus text format, /healthz (the process answers) and /readyz (it
 * serves: logs recovered, listeners accepting and, in a cluster,
 * registered in ZooKeeper; the same moment main() tells systemd READY=1).
 *
 * Two kinds of numbers. Counters of work done on the hot paths are kept
 * as relaxed atomics where the work happens: here for requests (per API
 * key), errors (per API key and error code), request latency histograms
 * and connections, bumped by the network threads (net/server.c) and the
 * Produce and Fetch handlers; on each partition (struct
 * tr_partition_stats, log/partition.h) for bytes and records in and out,
 * fsyncs, rolls, retention and compaction. Everything else is computed at
 * scrape time on the main thread by walking the partitions, the cluster
 * view and the groups under their own locks, so label sets are bounded by
 * the topics, partitions and groups that exist.
 *
 * A broker without a struct tr_stats (http.listener empty) counts nothing:
 * every tr_stats_* call below accepts NULL and returns at once.
 */
#ifndef TR_STATS_H
#define TR_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct tr_broker;
struct tr_group_listing;
struct tr_metrics;
struct tr_stats;

/* One past the highest API key counted (Kafka's keys are below 100). */
#define TR_STATS_APIS 100

/* Returns an owned, empty set of counters for 'broker' (borrowed). */
tr_err_t tr_stats_new(struct tr_broker *broker, struct tr_stats **out);
/* Stops the listener and frees; NULL is fine. */
void tr_stats_free(struct tr_stats *s);

/*
 * Starts the HTTP listener on 'listen' ("host:port") on 'base'. Errors
 * as tr_metrics_new (metrics.h): TR_ERR_EXISTS when the port is taken.
 */
tr_err_t tr_stats_listen(struct tr_stats *s, struct event_base *base,
                         const char *listen, char *errbuf, size_t errlen);
/* The port of the HTTP listener, 0 when it is not listening. */
int tr_stats_port(const struct tr_stats *s);

/*
 * The HTTP listener (valid until tr_stats_free), NULL when it is not
 * listening: the console (collector/http/console.h) adds its paths to it.
 */
struct tr_metrics *tr_stats_http(struct tr_stats *s);

/* /readyz answers 200 from now on. */
void tr_stats_set_ready(struct tr_stats *s);
/* 1 once tr_stats_set_ready was called. */
int tr_stats_ready(const struct tr_stats *s);

/* One partition's lag for a group: what /metrics and /api/groups show. */
struct tr_stats_lag {
    const char *topic; /* borrowed, valid during the callback */
    int32_t partition;
    int64_t committed;      /* the group's committed offset */
    int64_t high_watermark; /* the partition's, hosted here */
    int64_t lag;            /* high_watermark - committed, at least 0 */
};

/*
 * Calls 'cb' once per group this collector coordinates, with its listing
 * and the lag of each partition it committed an offset for that is hosted
 * here (lags[0..nlags), sorted by topic and partition; both borrowed for
 * the call). Main thread (the groups and partitions lock themselves).
 */
typedef void tr_stats_group_cb(void *arg, const struct tr_group_listing *group,
                               const struct tr_stats_lag *lags, size_t nlags);
tr_err_t tr_stats_group_lags(struct tr_broker *broker, int64_t now_ms,
                             tr_stats_group_cb *cb, void *arg);

/*
 * A request of 'api_key' answered (or dropped) after 'us' microseconds:
 * counted in requests_total and the latency histogram.
 */
void tr_stats_request(struct tr_stats *s, int16_t api_key, int64_t us);
/* An error code (not NONE) reported by a request of 'api_key'. */
void tr_stats_error(struct tr_stats *s, int16_t api_key, int16_t kerr);
/*
 * 'len' bytes of 'topic'-'index' sent by a Fetch: added to the partition's
 * bytes_out (looked up here, so only when metrics are on).
 */
void tr_stats_bytes_out(struct tr_broker *broker, const char *topic,
                        int32_t index, size_t len);
/*
 * A leader changed a partition's ISR from old[0..nold) to new[0..nnew):
 * counted as a shrink if a replica left, an expand if one joined.
 */
void tr_stats_isr_change(struct tr_stats *s, const int32_t *old, int32_t nold,
                         const int32_t *new_isr, int32_t nnew);
/* A client connection opened (+1) or closed (-1). */
void tr_stats_connection(struct tr_stats *s, int delta);

#endif /* TR_STATS_H */
