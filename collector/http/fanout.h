/*
 * fanout -- the console's JSON API across a cluster.
 *
 * A collector knows the consumer groups it coordinates and the offsets
 * and sizes of the partitions it hosts; in a cluster the others know the
 * rest. So that one console shows every group's lag and every
 * partition's offsets, /api/groups and /api/topics ask every other
 * collector's console for its own document (GET ...?scope=local, with the
 * asking client's Authorization header, so the same user and ACLs apply
 * everywhere; each collector publishes its listener's address in
 * ZooKeeper, cluster.h) and merge the answers with this collector's:
 *
 *   groups: every collector's groups, each once (its coordinator's);
 *   topics: this collector's list, each partition as its leader reports
 *           it (the leader knows its offsets and size), else as here.
 *
 * The answer waits for every collector, at most TR_FANOUT_TIMEOUT_S each;
 * those that did not answer are listed in "brokers_missing" and their
 * part is left out (or, for a partition, taken from here). An HTTPS
 * listener is asked over TLS with the client context the caller gives
 * (the collector's own ssl.* settings: its keystore as the client
 * certificate, its truststore to verify the other's certificate, which
 * must name the published host). Main thread only (the HTTP listener's
 * event base).
 */
#ifndef TR_FANOUT_H
#define TR_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct evbuffer;
struct evhttp_request;
struct ssl_ctx_st;

/* A collector's console: its broker id and "host:port" (or https://...). */
struct tr_fanout_peer {
    int32_t id;
    char addr[300];
};

/* Seconds a collector has to answer (connection and reply). */
#define TR_FANOUT_TIMEOUT_S 3

enum tr_fanout_kind {
    TR_FANOUT_GROUPS,
    TR_FANOUT_TOPICS
};

/* One collector's document for tr_fanout_merge (borrowed). */
struct tr_fanout_doc {
    int32_t broker_id;
    int ok; /* it answered 200 with this document */
    const char *data;
    size_t len;
};

/*
 * Merges 'docs' (docs[0] this collector's, which must be ok) into 'out'
 * as described above, adding "brokers_missing": the ids of the documents
 * not ok, or not JSON of the expected shape. TR_ERR_CORRUPT when docs[0]
 * is not; TR_ERR_NOMEM.
 */
tr_err_t tr_fanout_merge(enum tr_fanout_kind kind,
                         const struct tr_fanout_doc *docs, size_t n,
                         struct evbuffer *out);

/*
 * Starts answering 'req' with the merged 'kind' document: 'local' is this
 * collector's (taken), 'peers' (borrowed) every published listener, this
 * collector's ('self') included; 'tls' (borrowed, NULL: HTTPS listeners
 * are not asked) the client context for HTTPS ones. Returns 1 when the
 * answer will come later, 0 when there is nobody else to ask (then 'local'
 * is still the caller's, to answer with).
 */
int tr_fanout_start(struct event_base *base, struct ssl_ctx_st *tls,
                    struct evhttp_request *req, enum tr_fanout_kind kind,
                    struct evbuffer *local, const struct tr_fanout_peer *peers,
                    size_t npeers, int32_t self);

#endif /* TR_FANOUT_H */
