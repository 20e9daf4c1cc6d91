/*
 * jsonapi -- the documents of the console's JSON API (GET /api/cluster,
 * /api/topics, /api/groups, /api/errors; docs/operations.md, "Web console
 * and JSON API"), written from the collector's own state: the partitions
 * (log/topics.h), the cluster view (cluster/cluster.h) when the collector
 * is in a cluster, the consumer groups and their lag (gathered by
 * metrics/stats.h for /metrics too), the lag history (laghist.h) and the
 * last WARN/ERROR lines (logring.h).
 *
 * Every document is filtered for the principal asking: with an authorizer
 * (authorizer.class.name) a topic or group appears only if the principal
 * may DESCRIBE it, and the log lines need DESCRIBE on the cluster, as
 * Kafka's Metadata, ListGroups and DescribeLogDirs would. Main thread only
 * (the HTTP listener's), like the scrape.
 */
#ifndef TR_JSONAPI_H
#define TR_JSONAPI_H

#include <stdint.h>

struct evbuffer;
struct tr_broker;
struct tr_laghist;
struct tr_logring;

/* What a request is answered from; all borrowed. */
struct tr_jsonapi_ctx {
    struct tr_broker *broker;
    struct tr_laghist *hist;   /* may be NULL: no history */
    struct tr_logring *errors; /* may be NULL: no lines */
    const char *principal;     /* "User:alice", "User:ANONYMOUS" */
    const char *host;          /* the client's address, as ACLs hold it */
    int64_t now_ms;
};

/*
 * Each writes its document into 'out' and returns the HTTP status (200, or
 * 403 with {"error": ...} when the principal may not see it).
 */
int tr_jsonapi_cluster(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out);
int tr_jsonapi_topics(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out);
int tr_jsonapi_groups(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out);
int tr_jsonapi_errors(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out);

/* Writes {"error": 'message'} into 'out'. */
void tr_jsonapi_error(struct evbuffer *out, const char *message);

/*
 * Adds every group's total lag at 'now_ms' to 'hist' (all groups: the
 * filter applies when the history is read).
 */
void tr_jsonapi_sample_lag(struct tr_broker *broker, struct tr_laghist *hist,
                           int64_t now_ms);

#endif /* TR_JSONAPI_H */
