/*
 * broker -- the context every request handler works in.
 *
 * One struct tr_broker is built by main() and passed, borrowed, to the
 * server and through it to each handler; it is read-only after start-up
 * apart from the objects it points to, which do their own locking. This is
 * the "server" object of the collector, kept explicit instead of global.
 */
#ifndef TR_BROKER_H
#define TR_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct tr_broker_config;
struct tr_topics;
struct tr_waits;
struct tr_pidgen;
struct tr_groups;
struct tr_cluster;
struct tr_credentials;
struct tr_quotas;
struct tr_limits;
struct tr_txn_coordinator;
struct tr_acl;
struct tr_stats;
struct tr_dynconf;

struct tr_broker {
    const struct tr_broker_config *cfg;
    struct tr_topics *topics;
    struct tr_waits *waits;
    struct tr_pidgen *pids;
    struct tr_groups *groups;           /* the group coordinator */
    struct tr_txn_coordinator *txn;     /* NULL in a cluster (not yet) */
    struct tr_cluster *cluster;         /* NULL for a single collector */
    struct tr_credentials *credentials; /* SCRAM users (security/) */
    struct tr_quotas *quotas;           /* client quotas (security/) */
    struct tr_limits *limits;           /* per-principal counts (security/) */
    struct tr_acl *acl;     /* the authorizer (security/acl.h); NULL: none */
    struct tr_stats *stats; /* metrics (metrics/stats.h); NULL: off */
    struct tr_dynconf *dynconf; /* dynamic broker configs (dynconf.h) */
    int32_t node_id;
    /* The inter-broker listener's advertised address (and its name). */
    char advertised_host[256];
    int advertised_port;
    char inter_broker_listener[32];
    /* Every listener as advertised: what a cluster registers. */
    struct tr_listener_spec advertised[TR_LISTENERS_MAX];
    size_t nadvertised;
    char cluster_id[64];
};

#endif /* TR_BROKER_H */
