/*
 * cluster_int -- what the cluster folder's modules share: the cluster
 * state (struct tr_cluster) and the znode codecs. Not for use outside
 * collector/cluster/.
 *
 * cluster.c owns the ZooKeeper session, the cluster thread, the broker's
 * registration, its replica roles and the view the request handlers read;
 * controller.c is the controller's work (election, leaders, the state
 * znodes, LeaderAndIsr/UpdateMetadata senders, reassignments and preferred
 * leader elections), run on the cluster thread while this broker holds
 * /controller.
 */
#ifndef TR_CLUSTER_INT_H
#define TR_CLUSTER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "cluster.h"
#include "peer.h"
#include "rpc.h"
#include "throttle.h"

struct event_base;
struct event;
struct tr_fetcher;
struct tr_broker;
struct tr_broker_config;

enum role {
    ROLE_NONE,
    ROLE_LEADER,
    ROLE_FOLLOWER
};

/* One partition of the cluster view, and this broker's part in it. */
struct entry {
    struct tr_pstate st;
    enum role role;
    int32_t role_epoch;  /* leader epoch of the role, -1 before any */
    int64_t epoch_start; /* leader: log end when the role began */
    int64_t fol_leo[TR_MAX_REPLICAS];      /* per st.replicas slot */
    int64_t fol_caught[TR_MAX_REPLICAS];   /* last time caught up (mono ms) */
    int64_t fol_prev_leo[TR_MAX_REPLICAS]; /* leader LEO at the last fetch */
    int isr_expand;  /* a follower caught up: write the ISR */
    uint32_t um_gen; /* the last UpdateMetadata that named it */
};

/* The controller's picture of one partition. */
struct cpart {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
    int32_t replicas[TR_MAX_REPLICAS];
    int32_t nreplicas;
    struct tr_pstate st; /* zk_version -1: no state znode yet */
    /*
     * A reassignment in progress (Kafka 2.4's layout: the assignment znode
     * holds the union of old and new replicas, new ones first, and says
     * which are being added and which removed). None when both are empty.
     */
    int32_t adding[TR_MAX_REPLICAS], nadding;
    int32_t removing[TR_MAX_REPLICAS], nremoving;
};

/*
 * A controller request received, waiting for the cluster thread, which
 * applies them one by one in the order they came: an UpdateMetadata
 * applied ahead of an earlier LeaderAndIsr would let the older one win.
 */
enum queued_kind {
    QUEUED_LEADER_AND_ISR,
    QUEUED_UPDATE_METADATA,
    QUEUED_STOP_REPLICA
};

struct queued_msg {
    enum queued_kind kind;
    struct tr_state_msg state; /* LeaderAndIsr, UpdateMetadata */
    struct tr_stop_msg stop;
};

/* A partition a sender must tell its broker to stop replicating. */
struct stop_item {
    char topic[TR_TOPIC_MAX + 1];
    int32_t partition;
};

/* A controller-to-broker sender: latest state wins, retried until sent. */
struct sender {
    struct tr_cluster *c;
    struct tr_broker_info info;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tr_buf *lai, *um; /* pending bodies, or NULL */
    struct stop_item *stops; /* StopReplica (delete) still to send */
    size_t nstops, stops_cap;
    int stop;
    struct tr_rpc_conn conn;
};

struct tr_cluster {
    struct tr_broker *broker;
    const struct tr_broker_config *cfg;
    int32_t id;
    /* How to reach other brokers (their inter-broker listener). */
    struct tr_peer *peer;
    const char *ib_listener; /* its name, broker->inter_broker_listener */

    pthread_mutex_t lock; /* the view and roles, below */
    struct entry *entries;
    size_t nentries, entries_cap;
    /*
     * Open-addressing index over 'entries' (position + 1, 0 = empty; at
     * most half full), since every produce and fetch looks a partition up.
     */
    size_t *slots;
    size_t nslots;
    struct tr_broker_info *brokers;
    size_t nbrokers;
    int32_t controller_id;
    int32_t controller_epoch_seen;

    /* Cluster thread. */
    struct event_base *base;
    struct event *wake_ev, *tick_ev;
    pthread_t thread;
    pthread_mutex_t qlock; /* the flags and queue below */
    int q_connected, q_expired, q_brokers, q_topics, q_isr, q_controller;
    int q_stop;
    struct queued_msg *q_msgs; /* controller requests, in arrival order */
    size_t q_nmsgs, q_cap;
    int q_reassign;            /* /admin/reassign_partitions changed */
    struct tr_ctl_job *q_jobs; /* admin requests for the controller */
    pthread_cond_t job_done;   /* signalled under qlock */

    struct tr_zk *zk;
    int connected;
    int registered;
    /* Set (atomically) at the first registration; read by main(). */
    int ever_registered;
    int64_t last_isr_check_ms;
    /* Set (atomically) as the controlled shutdown begins; fetchers pause. */
    int shutting_down;

    /* Controller state (cluster thread only). */
    int is_controller;
    /*
     * Set (atomically) when the collector stops: the controller's long
     * loops (electing the leaders of a new topic's partitions, one
     * ZooKeeper write each) end early rather than hold the shutdown.
     */
    int stopping;
    int32_t epoch;
    int32_t epoch_version;
    struct cpart *cparts;
    size_t ncparts, cparts_cap;
    struct tr_broker_info *live;
    size_t nlive;
    struct sender **senders;
    size_t nsenders, senders_cap;
    int32_t shutting_down_broker; /* controlled shutdown in progress */
    int64_t last_rebalance_ms;    /* preferred-leader check */

    /* Replication throttles (rates set from the config and ZooKeeper). */
    struct tr_throttle leader_throttle, follower_throttle;
    int q_config;  /* /config/brokers/<id> or /<default> changed */
    int q_delete;  /* /admin/delete_topics changed */
    int q_changes; /* /config/changes has new notifications */
    int q_acls;    /* ACL change notifications (reload ACLs) */
    /*
     * Where this collector's HTTP listener answers ("host:port", "" none),
     * set by tr_cluster_set_http, published by the cluster thread (q_http)
     * as the ephemeral /tributary/http/<id> at every registration.
     */
    char http_addr[300];
    int q_http;
    int64_t config_change_seen; /* newest notification applied */
    uint32_t um_gen; /* UpdateMetadata applications, to spot the missing */

    /* Fetchers, one per leader broker (cluster thread only). */
    struct leader_fetcher {
        int32_t leader;
        struct tr_fetcher *f;
    } * fetchers;
    size_t nfetchers, fetchers_cap;
};

/*
 * An admin request that only the controller can carry out, handed from a
 * network thread to the cluster thread; the poster waits on job_done until
 * 'done' (or its timeout, after which the job's result is dropped).
 */
enum tr_ctl_job_kind {
    TR_CTL_REASSIGN,
    TR_CTL_LIST_REASSIGNMENTS,
    TR_CTL_ELECT
};

struct tr_ctl_job {
    enum tr_ctl_job_kind kind;
    int8_t election_type;          /* TR_CTL_ELECT */
    struct tr_partition_op *items; /* in/out; owned by the poster */
    size_t nitems;                 /* 0 for ELECT/LIST: every partition */
    struct tr_partition_op *found; /* LIST and ELECT of all: owned result */
    size_t nfound;
    int16_t error; /* top-level */
    int done, abandoned;
    struct tr_ctl_job *next;
};

/* cluster.c */
void tr_cluster_wake(struct tr_cluster *c);
void tr_cluster_put_ids_json(struct tr_buf *b, const int32_t *ids, int32_t n);
void tr_cluster_state_json(struct tr_buf *b, const struct tr_pstate *st);
tr_err_t tr_cluster_parse_state(const char *data, size_t len,
                                struct tr_pstate *st);
void tr_cluster_state_path(char *buf, size_t len, const char *topic,
                           int32_t partition);

/* controller.c (cluster thread) */
/* Tries to take /controller; learns and watches who holds it otherwise. */
void tr_controller_elect(struct tr_cluster *c);
/* Stops acting as controller (session lost, deposed, or stopping). */
void tr_controller_resign(struct tr_cluster *c);
/* Reacts to watched changes: brokers, topics, ISR notifications. */
void tr_controller_events(struct tr_cluster *c, int brokers, int topics,
                          int isr);
/* Periodic controller work (reassignments, preferred leaders). */
void tr_controller_tick(struct tr_cluster *c);
/* Carries out one admin job (cluster thread); sets its results. */
void tr_controller_run_job(struct tr_cluster *c, struct tr_ctl_job *job);
/* Carries out the topic deletions asked for under /admin/delete_topics. */
void tr_controller_delete_topics(struct tr_cluster *c);
/* Picks up reassignments written to /admin/reassign_partitions. */
void tr_controller_legacy_reassign(struct tr_cluster *c);

#endif /* TR_CLUSTER_INT_H */
