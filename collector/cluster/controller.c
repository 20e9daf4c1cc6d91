/*
 * controller -- the controller's work; see cluster_int.h and
 * docs/cluster.md.
 */
#include "cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "assign.h"
#include "broker.h"
#include "clock.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "proto.h"
#include "zk.h"

static void
read_state(struct tr_cluster *c, struct cpart *cp)
{
    char path[512], *data = NULL;
    size_t len;
    struct tr_zk_stat st;

    tr_cluster_state_path(path, sizeof(path), cp->topic, cp->partition);
    if (tr_zk_get(c->zk, path, 0, &data, &len, &st) == TR_OK &&
        tr_cluster_parse_state(data, len, &cp->st) == TR_OK) {
        cp->st.zk_version = st.version;
    }
    free(data);
}

/* ------------------------------------------------------------- senders */

/* Encodes the pending StopReplica partitions into a new body (lock held). */
static struct tr_buf *
take_stops(struct sender *s)
{
    struct tr_stop_msg m;
    struct tr_stop_part *parts;
    struct tr_buf *body;
    size_t i;

    parts = tr_calloc(s->nstops, sizeof(*parts));
    body = tr_buf_new(1 << 30);
    if (parts == NULL || body == NULL) {
        tr_free(parts);
        tr_buf_free(body);
        return NULL;
    }
    for (i = 0; i < s->nstops; i++) {
        snprintf(parts[i].topic, sizeof(parts[i].topic), "%s",
                 s->stops[i].topic);
        parts[i].partition = s->stops[i].partition;
    }
    m.controller_id = s->c->id;
    m.controller_epoch = s->c->epoch;
    m.delete_partitions = 1;
    m.parts = parts;
    m.nparts = s->nstops;
    tr_rpc_stop_encode(body, &m);
    tr_free(parts);
    s->nstops = 0;
    return body;
}

/*
 * Delivers a message to the controller's own broker without the network:
 * a controller elected a moment before has no connection to itself yet,
 * and a round trip through its own listener gains nothing. (The body is
 * still the encoded one the other brokers get, so both paths apply the
 * same bytes.)
 */
static tr_err_t
deliver_local(struct tr_cluster *c, int16_t key, const struct tr_buf *body)
{
    struct tr_slice in;
    struct tr_state_msg m;
    struct tr_stop_msg stop;
    int16_t kerr;
    tr_err_t err;

    tr_slice_init(&in, tr_buf_data(body), tr_buf_len(body));
    if (key == TR_API_STOP_REPLICA) {
        if ((err = tr_rpc_stop_decode(&in, &stop)) != TR_OK) {
            return err;
        }
        kerr = tr_cluster_stop_replica(c, &stop);
        tr_rpc_stop_free(&stop);
    } else {
        if ((err = tr_rpc_state_decode(&in, key, &m)) != TR_OK) {
            return err;
        }
        kerr = key == TR_API_LEADER_AND_ISR ? tr_cluster_leader_and_isr(c, &m)
                                            : tr_cluster_update_metadata(c, &m);
        tr_rpc_state_free(&m);
    }
    /* As over the network, a refusal (a stale epoch) is not retried. */
    if (kerr != TR_KERR_NONE) {
        tr_log_debug("controller: %s to itself: error %d",
                     tr_proto_api_name(key), kerr);
    }
    return TR_OK;
}

/*
 * Sends what is pending: StopReplica first (the controller queues one
 * before the LeaderAndIsr of the same change, and a later LeaderAndIsr may
 * name the partition again), then LeaderAndIsr, then UpdateMetadata. State
 * bodies are retried unless a newer one replaced them; a StopReplica is
 * retried as it is.
 */
static void *
sender_run(void *arg)
{
    struct sender *s = arg;
    struct tr_buf resp;
    struct tr_buf *body, *retry_stop = NULL;
    int16_t key, version;

    tr_buf_init(&resp, 1 << 20);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stop && s->lai == NULL && s->um == NULL && s->nstops == 0 &&
               retry_stop == NULL) {
            pthread_cond_wait(&s->cond, &s->lock);
        }
        if (s->stop) {
            break;
        }
        if (retry_stop != NULL || s->nstops > 0) {
            body = retry_stop != NULL ? retry_stop : take_stops(s);
            retry_stop = NULL;
            key = TR_API_STOP_REPLICA;
            version = TR_RPC_STOP_REPLICA_VERSION;
            if (body == NULL) {
                continue;
            }
        } else if (s->lai != NULL) {
            body = s->lai;
            s->lai = NULL;
            key = TR_API_LEADER_AND_ISR;
            version = TR_RPC_LEADER_AND_ISR_VERSION;
        } else {
            body = s->um;
            s->um = NULL;
            key = TR_API_UPDATE_METADATA;
            version = TR_RPC_UPDATE_METADATA_VERSION;
        }
        pthread_mutex_unlock(&s->lock);
        tr_err_t err = s->info.id == s->c->id
                           ? deliver_local(s->c, key, body)
                           : tr_rpc_call(&s->conn, s->info.host, s->info.port,
                                         key, version, body, &resp, 5000);
        pthread_mutex_lock(&s->lock);
        if (err != TR_OK) {
            tr_log_debug("controller: %s to broker %d: %s",
                         tr_proto_api_name(key), s->info.id, tr_err_str(err));
            /* Retry it unless something newer came meanwhile. */
            if (key == TR_API_STOP_REPLICA) {
                retry_stop = body;
                body = NULL;
            } else {
                struct tr_buf **slot =
                    key == TR_API_LEADER_AND_ISR ? &s->lai : &s->um;
                if (*slot == NULL) {
                    *slot = body;
                    body = NULL;
                }
            }
            pthread_mutex_unlock(&s->lock);
            struct timespec ts = { 0, 300 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->lock);
        }
        tr_buf_free(body);
    }
    pthread_mutex_unlock(&s->lock);
    tr_buf_free(retry_stop);
    tr_buf_cleanup(&resp);
    tr_rpc_conn_close(&s->conn);
    return NULL;
}

static struct sender *
sender_new(struct tr_cluster *c, const struct tr_broker_info *info)
{
    struct sender *s = tr_calloc(1, sizeof(*s));
    char client_id[64];

    if (s == NULL) {
        return NULL;
    }
    s->c = c;
    s->info = *info;
    snprintf(client_id, sizeof(client_id), "tributary-controller-%d", c->id);
    tr_rpc_conn_init(&s->conn, client_id, c->peer);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, sender_run, s) != 0) {
        tr_free(s);
        return NULL;
    }
    return s;
}

static void
sender_free(struct sender *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    tr_buf_free(s->lai);
    tr_buf_free(s->um);
    tr_free(s->stops);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    tr_free(s);
}

static void
sender_post(struct sender *s, int16_t key, struct tr_buf *body)
{
    pthread_mutex_lock(&s->lock);
    if (key == TR_API_LEADER_AND_ISR) {
        tr_buf_free(s->lai);
        s->lai = body;
    } else {
        tr_buf_free(s->um);
        s->um = body;
    }
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Queues a StopReplica (with deletion) of one partition for broker 'id'. */
static void
send_stop(struct tr_cluster *c, int32_t id, const char *topic,
          int32_t partition)
{
    size_t i;

    for (i = 0; i < c->nsenders; i++) {
        struct sender *s = c->senders[i];
        if (s->info.id != id) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        if (tr_array_reserve(&s->stops, &s->stops_cap, s->nstops + 1,
                             sizeof(*s->stops)) == TR_OK) {
            snprintf(s->stops[s->nstops].topic, sizeof(s->stops[0].topic), "%s",
                     topic);
            s->stops[s->nstops].partition = partition;
            s->nstops++;
            pthread_cond_signal(&s->cond);
        }
        pthread_mutex_unlock(&s->lock);
    }
}

/* Keeps one sender per live broker (cluster thread). */
static void
sync_senders(struct tr_cluster *c)
{
    size_t i, j, k = 0;

    for (i = 0; i < c->nsenders; i++) {
        struct sender *s = c->senders[i];
        int keep = 0;
        for (j = 0; j < c->nlive; j++) {
            if (c->live[j].id == s->info.id &&
                c->live[j].port == s->info.port &&
                strcmp(c->live[j].host, s->info.host) == 0) {
                keep = 1;
            }
        }
        if (keep && c->is_controller) {
            c->senders[k++] = s;
        } else {
            sender_free(s);
        }
    }
    c->nsenders = k;
    if (!c->is_controller) {
        return;
    }
    for (j = 0; j < c->nlive; j++) {
        int have = 0;
        for (i = 0; i < c->nsenders; i++) {
            if (c->senders[i]->info.id == c->live[j].id) {
                have = 1;
            }
        }
        if (!have) {
            struct sender *s;
            if (tr_array_reserve(&c->senders, &c->senders_cap, c->nsenders + 1,
                                 sizeof(*c->senders)) != TR_OK) {
                return;
            }
            s = sender_new(c, &c->live[j]);
            if (s != NULL) {
                c->senders[c->nsenders++] = s;
            }
        }
    }
}

/* ---------------------------------------------------------- controller */

static int
is_live(struct tr_cluster *c, int32_t id)
{
    size_t i;

    for (i = 0; i < c->nlive; i++) {
        if (c->live[i].id == id) {
            return 1;
        }
    }
    return 0;
}

static struct cpart *
cpart_find(struct tr_cluster *c, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < c->ncparts; i++) {
        if (c->cparts[i].partition == partition &&
            strcmp(c->cparts[i].topic, topic) == 0) {
            return &c->cparts[i];
        }
    }
    return NULL;
}

static struct cpart *
cpart_get(struct tr_cluster *c, const char *topic, int32_t partition)
{
    struct cpart *tmp = cpart_find(c, topic, partition);

    if (tmp != NULL) {
        return tmp;
    }
    if (tr_array_reserve(&c->cparts, &c->cparts_cap, c->ncparts + 1,
                         sizeof(*c->cparts)) != TR_OK) {
        return NULL;
    }
    tmp = &c->cparts[c->ncparts++];
    memset(tmp, 0, sizeof(*tmp));
    snprintf(tmp->topic, sizeof(tmp->topic), "%s", topic);
    tmp->partition = partition;
    tmp->st.zk_version = -1;
    tmp->st.leader = -1;
    snprintf(tmp->st.topic, sizeof(tmp->st.topic), "%s", topic);
    tmp->st.partition = partition;
    return tmp;
}

/*
 * Reads "endpoints" and "listener_security_protocol_map" of a broker
 * registration into b->endpoints, through the same parser as listeners
 * (a name missing from the map must be a protocol, as in Kafka). A
 * registration without endpoints (version 1) leaves none.
 */
static tr_err_t
read_endpoints(const struct tr_json_value *root, struct tr_broker_info *b)
{
    struct tr_json_value list, map, key, val;
    struct tr_json_iter it;
    struct tr_buf eps, protos;
    char text[320], reason[256];
    size_t n = 0;
    tr_err_t err = TR_OK;

    b->nendpoints = 0;
    if (tr_json_get(root, "endpoints", &list) != TR_OK) {
        return TR_OK;
    }
    tr_buf_init(&eps, 8192);
    tr_buf_init(&protos, 4096);
    if (tr_json_get(root, "listener_security_protocol_map", &map) == TR_OK &&
        tr_json_iter_init(&it, &map) == TR_OK) {
        while (tr_json_next(&it, &key, &val) == TR_OK) {
            char name[64], proto[32];

            if (tr_json_string(&key, name, sizeof(name)) == TR_OK &&
                tr_json_string(&val, proto, sizeof(proto)) == TR_OK) {
                snprintf(text, sizeof(text), "%s%s:%s",
                         tr_buf_len(&protos) ? "," : "", name, proto);
                tr_buf_put_bytes(&protos, text, strlen(text));
            }
        }
    }
    tr_buf_put_bytes(&protos, "", 1);
    err = tr_json_iter_init(&it, &list);
    while (err == TR_OK && tr_json_next(&it, NULL, &val) == TR_OK) {
        err = tr_json_string(&val, text, sizeof(text));
        if (err == TR_OK && strchr(text, ',') != NULL) {
            err = TR_ERR_CORRUPT;
        }
        if (err == TR_OK) {
            tr_buf_put_bytes(&eps, ",", tr_buf_len(&eps) ? 1 : 0);
            tr_buf_put_bytes(&eps, text, strlen(text));
        }
    }
    tr_buf_put_bytes(&eps, "", 1);
    if (err == TR_OK) {
        err =
            tr_buf_err(&eps) != TR_OK ? tr_buf_err(&eps) : tr_buf_err(&protos);
    }
    if (err == TR_OK && tr_buf_len(&eps) > 1) {
        err = tr_broker_config_listeners(
            (const char *)tr_buf_data(&eps),
            tr_buf_len(&protos) > 1 ? (const char *)tr_buf_data(&protos) : NULL,
            b->endpoints, &n, reason, sizeof(reason));
        if (err != TR_OK) {
            tr_log_warn("controller: broker %d: endpoints: %s", (int)b->id,
                        reason);
        }
        b->nendpoints = err == TR_OK ? (int32_t)n : 0;
    }
    tr_buf_cleanup(&eps);
    tr_buf_cleanup(&protos);
    return err;
}

/* Reads the live brokers and their endpoints, leaving a watch. */
static tr_err_t
read_brokers(struct tr_cluster *c)
{
    char **names = NULL;
    int n = 0, i;
    struct tr_broker_info *live;
    size_t nlive = 0;
    tr_err_t err;

    err = tr_zk_children(c->zk, "/brokers/ids", 1, &names, &n);
    if (err != TR_OK) {
        return err;
    }
    live = tr_calloc(n > 0 ? (size_t)n : 1, sizeof(*live));
    if (live == NULL) {
        tr_zk_free_children(names, n);
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        char path[128], *data = NULL;
        size_t len;
        struct tr_json_value root, v;
        int64_t port;
        struct tr_broker_info *b = &live[nlive];

        snprintf(path, sizeof(path), "/brokers/ids/%s", names[i]);
        if (tr_zk_get(c->zk, path, 0, &data, &len, NULL) != TR_OK) {
            continue;
        }
        b->id = (int32_t)strtol(names[i], NULL, 10);
        if (tr_json_parse(data, len, &root) == TR_OK &&
            read_endpoints(&root, b) == TR_OK) {
            /* Its inter-broker endpoint, else the legacy host and port. */
            if (!tr_rpc_use_endpoint(b, c->ib_listener)) {
                if (tr_json_get(&root, "host", &v) != TR_OK ||
                    tr_json_string(&v, b->host, sizeof(b->host)) != TR_OK ||
                    tr_json_get(&root, "port", &v) != TR_OK ||
                    tr_json_as_int(&v, &port) != TR_OK || port <= 0 ||
                    port > 65535) {
                    tr_log_warn("controller: broker %d has no %s listener "
                                "(the inter-broker one); every broker needs "
                                "it",
                                (int)b->id, c->ib_listener);
                    free(data);
                    continue;
                }
                b->port = (int32_t)port;
            }
            if (tr_json_get(&root, "rack", &v) != TR_OK ||
                tr_json_string(&v, b->rack, sizeof(b->rack)) != TR_OK) {
                b->rack[0] = '\0';
            }
            nlive++;
        } else {
            tr_log_warn("controller: %s: unreadable registration", path);
        }
        free(data);
    }
    tr_zk_free_children(names, n);
    tr_free(c->live);
    c->live = live;
    c->nlive = nlive;
    if (c->shutting_down_broker >= 0 && !is_live(c, c->shutting_down_broker)) {
        c->shutting_down_broker = -1; /* it left; it may come back */
    }
    return TR_OK;
}

/* One partition's entry of "adding_replicas" or "removing_replicas". */
static int32_t
read_moving(const struct tr_json_value *root, const char *field,
            const char *partition, int32_t *ids)
{
    struct tr_json_value map, list;
    size_t count = 0;

    if (tr_json_get(root, field, &map) != TR_OK ||
        tr_json_get(&map, partition, &list) != TR_OK ||
        tr_json_int_array(&list, ids, TR_MAX_REPLICAS, &count) != TR_OK) {
        return 0;
    }
    return (int32_t)count;
}

/* Reads one topic's assignment and every partition's state. */
static tr_err_t
read_topic(struct tr_cluster *c, const char *topic)
{
    char path[512], *data = NULL;
    size_t len;
    struct tr_json_value root, parts, key, val;
    struct tr_json_iter it;
    tr_err_t err;

    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    err = tr_zk_get(c->zk, path, 1, &data, &len, NULL);
    if (err != TR_OK) {
        return err;
    }
    if ((err = tr_json_parse(data, len, &root)) != TR_OK ||
        (err = tr_json_get(&root, "partitions", &parts)) != TR_OK ||
        (err = tr_json_iter_init(&it, &parts)) != TR_OK) {
        tr_log_warn("controller: %s: unreadable assignment", path);
        free(data);
        return TR_ERR_CORRUPT;
    }
    while (tr_json_next(&it, &key, &val) == TR_OK) {
        char num[16];
        size_t count;
        int32_t reps[TR_MAX_REPLICAS];
        struct cpart *cp;

        if (tr_json_string(&key, num, sizeof(num)) != TR_OK ||
            tr_json_int_array(&val, reps, TR_MAX_REPLICAS, &count) != TR_OK) {
            continue;
        }
        cp = cpart_get(c, topic, (int32_t)strtol(num, NULL, 10));
        if (cp == NULL) {
            continue;
        }
        memcpy(cp->replicas, reps, count * sizeof(reps[0]));
        cp->nreplicas = (int32_t)count;
        memcpy(cp->st.replicas, reps, count * sizeof(reps[0]));
        cp->st.nreplicas = (int32_t)count;
        cp->nadding = read_moving(&root, "adding_replicas", num, cp->adding);
        cp->nremoving =
            read_moving(&root, "removing_replicas", num, cp->removing);
        read_state(c, cp);
    }
    free(data);
    return TR_OK;
}

static tr_err_t
read_topics(struct tr_cluster *c)
{
    char **names = NULL;
    int n = 0, i;
    tr_err_t err;

    err = tr_zk_children(c->zk, "/brokers/topics", 1, &names, &n);
    if (err != TR_OK) {
        return err;
    }
    for (i = 0; i < n; i++) {
        (void)read_topic(c, names[i]);
    }
    tr_zk_free_children(names, n);
    return TR_OK;
}

/* Writes a partition's new state, fenced; keeps cp->st on failure. */
static tr_err_t
write_state(struct tr_cluster *c, struct cpart *cp, struct tr_pstate *next)
{
    struct tr_buf b;
    char path[512];
    int32_t version = 0;
    tr_err_t err;

    next->controller_epoch = c->epoch;
    tr_buf_init(&b, 65536);
    tr_cluster_state_json(&b, next);
    tr_cluster_state_path(path, sizeof(path), cp->topic, cp->partition);
    if (cp->st.zk_version < 0) {
        char parent[512];
        snprintf(parent, sizeof(parent), "/brokers/topics/%s/partitions/%d",
                 cp->topic, (int)cp->partition);
        (void)tr_zk_ensure_path(c->zk, parent);
        err =
            tr_zk_fenced_create(c->zk, c->epoch_version, path,
                                (const char *)tr_buf_data(&b), tr_buf_len(&b));
        version = 0;
    } else {
        err = tr_zk_fenced_set(c->zk, c->epoch_version, path,
                               (const char *)tr_buf_data(&b), tr_buf_len(&b),
                               cp->st.zk_version, &version);
    }
    tr_buf_cleanup(&b);
    if (err == TR_OK) {
        next->zk_version = version;
        cp->st = *next;
    } else if (err == TR_ERR_FENCED) {
        tr_log_warn("controller: a newer controller exists; resigning");
        c->is_controller = 0;
    } else {
        tr_log_warn("controller: cannot write %s: %s", path, tr_err_str(err));
        if (err == TR_ERR_STALE || err == TR_ERR_EXISTS) {
            read_state(c, cp); /* the leader changed the ISR meanwhile */
        }
    }
    return err;
}

/*
 * Decides leaders for every partition: new partitions get their first state,
 * partitions whose leader is gone (or is shutting down) get a new one from
 * the live ISR (or, if allowed, any live replica), dead replicas leave the
 * ISR. Returns the number of states written.
 */
static int
reconcile(struct tr_cluster *c)
{
    size_t i;
    int32_t r;
    int changed = 0;

    for (i = 0; i < c->ncparts && c->is_controller &&
                !__atomic_load_n(&c->stopping, __ATOMIC_ACQUIRE);
         i++) {
        struct cpart *cp = &c->cparts[i];
        struct tr_pstate next = cp->st;
        int leader_ok, need = 0;

        if (cp->nreplicas == 0) {
            continue;
        }
        memcpy(next.replicas, cp->replicas, sizeof(next.replicas));
        next.nreplicas = cp->nreplicas;
        if (cp->st.zk_version < 0) {
            next.leader = -1;
            next.nisr = 0;
            for (r = 0; r < cp->nreplicas; r++) {
                if (is_live(c, cp->replicas[r])) {
                    next.isr[next.nisr++] = cp->replicas[r];
                    if (next.leader < 0) {
                        next.leader = cp->replicas[r];
                    }
                }
            }
            if (next.nisr == 0) {
                next.isr[next.nisr++] = cp->replicas[0];
            }
            next.leader_epoch = 0;
            need = 1;
        } else {
            /*
             * A leader or ISR member that the assignment no longer names
             * (a finished reassignment) counts as gone.
             */
            leader_ok = next.leader >= 0 && is_live(c, next.leader) &&
                        next.leader != c->shutting_down_broker &&
                        tr_rpc_has(cp->replicas, cp->nreplicas, next.leader);
            /* The ISR keeps only live members (and never empties). */
            struct tr_pstate live_isr = next;
            live_isr.nisr = 0;
            for (r = 0; r < next.nisr; r++) {
                if (is_live(c, next.isr[r]) &&
                    next.isr[r] != c->shutting_down_broker &&
                    tr_rpc_has(cp->replicas, cp->nreplicas, next.isr[r])) {
                    live_isr.isr[live_isr.nisr++] = next.isr[r];
                }
            }
            if (!leader_ok) {
                int32_t chosen = -1;
                for (r = 0; r < cp->nreplicas && chosen < 0; r++) {
                    if (tr_rpc_has(live_isr.isr, live_isr.nisr,
                                   cp->replicas[r])) {
                        chosen = cp->replicas[r];
                    }
                }
                if (chosen < 0 && c->cfg->unclean_leader_election) {
                    for (r = 0; r < cp->nreplicas && chosen < 0; r++) {
                        if (is_live(c, cp->replicas[r]) &&
                            cp->replicas[r] != c->shutting_down_broker) {
                            chosen = cp->replicas[r];
                            live_isr.nisr = 1;
                            live_isr.isr[0] = chosen;
                            tr_log_warn("controller: %s-%d: unclean election "
                                        "of broker %d",
                                        cp->topic, cp->partition, chosen);
                        }
                    }
                }
                if (chosen >= 0) {
                    next = live_isr;
                    next.leader = chosen;
                    next.leader_epoch = cp->st.leader_epoch + 1;
                    need = 1;
                } else if (next.leader >= 0 &&
                           next.leader == c->shutting_down_broker &&
                           is_live(c, next.leader) &&
                           tr_rpc_has(cp->replicas, cp->nreplicas,
                                      next.leader)) {
                    /*
                     * A broker shutting down keeps what no one else can
                     * take over, as in Kafka: offline now would only take
                     * the partition away from clients sooner. Members
                     * gone meanwhile still leave its ISR.
                     */
                    if (!tr_rpc_has(live_isr.isr, live_isr.nisr, next.leader)) {
                        live_isr.isr[live_isr.nisr++] = next.leader;
                    }
                    if (live_isr.nisr < next.nisr) {
                        next = live_isr;
                        need = 1;
                    }
                } else if (next.leader >= 0) {
                    /* Offline: no leader; the ISR keeps the last one. */
                    next.leader = -1;
                    next.leader_epoch = cp->st.leader_epoch + 1;
                    need = 1;
                }
            } else if (live_isr.nisr < next.nisr && live_isr.nisr > 0) {
                /*
                 * Only the ISR changes: the leadership does not, so the
                 * leader epoch stays (the znode version moves), and the
                 * leader and its followers go on without re-syncing.
                 */
                next = live_isr;
                need = 1;
            }
        }
        if (need && write_state(c, cp, &next) == TR_OK) {
            tr_log_info("controller: %s-%d: leader %d, epoch %d, isr of %d",
                        cp->topic, cp->partition, cp->st.leader,
                        cp->st.leader_epoch, cp->st.nisr);
            changed++;
        }
    }
    return changed;
}

/* Sends LeaderAndIsr (its partitions) and UpdateMetadata to every broker. */
static void
broadcast(struct tr_cluster *c)
{
    struct tr_state_msg m;
    struct tr_pstate *mine;
    size_t i, j, n;

    if (!c->is_controller) {
        return;
    }
    sync_senders(c);
    m.controller_id = c->id;
    m.controller_epoch = c->epoch;
    m.brokers = c->live;
    m.nbrokers = c->nlive;
    mine = tr_calloc(c->ncparts + 1, sizeof(*mine));
    if (mine == NULL) {
        return;
    }
    for (i = 0; i < c->ncparts; i++) {
        struct tr_pstate *st = &c->cparts[i].st;
        int32_t r;
        st->noffline = 0;
        for (r = 0; r < st->nreplicas; r++) {
            if (!is_live(c, st->replicas[r])) {
                st->offline[st->noffline++] = st->replicas[r];
            }
        }
    }
    for (j = 0; j < c->nsenders; j++) {
        struct sender *s = c->senders[j];
        struct tr_buf *lai = tr_buf_new(1 << 30), *um = tr_buf_new(1 << 30);

        if (lai == NULL || um == NULL) {
            tr_buf_free(lai);
            tr_buf_free(um);
            continue;
        }
        n = 0;
        for (i = 0; i < c->ncparts; i++) {
            if (c->cparts[i].st.zk_version >= 0 &&
                tr_rpc_has(c->cparts[i].st.replicas, c->cparts[i].st.nreplicas,
                           s->info.id)) {
                mine[n++] = c->cparts[i].st;
            }
        }
        m.parts = mine;
        m.nparts = n;
        tr_rpc_state_encode(lai, TR_API_LEADER_AND_ISR, &m);
        n = 0;
        for (i = 0; i < c->ncparts; i++) {
            if (c->cparts[i].st.zk_version >= 0) {
                mine[n++] = c->cparts[i].st;
            }
        }
        m.nparts = n;
        tr_rpc_state_encode(um, TR_API_UPDATE_METADATA, &m);
        sender_post(s, TR_API_LEADER_AND_ISR, lai);
        sender_post(s, TR_API_UPDATE_METADATA, um);
    }
    tr_free(mine);
}

/* Reads and clears /isr_change_notification; re-reads the states named. */
static void
read_isr_changes(struct tr_cluster *c)
{
    char **names = NULL, path[256], topic[TR_TOPIC_MAX + 1], *data;
    int n = 0, i;
    size_t len;
    struct tr_json_value root, parts, item, v;
    struct tr_json_iter it;
    struct cpart *cp;
    int64_t partition;

    if (tr_zk_children(c->zk, "/isr_change_notification", 1, &names, &n) !=
        TR_OK) {
        return;
    }
    /* Each notification names the partitions whose state to re-read. */
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/isr_change_notification/%s", names[i]);
        data = NULL;
        if (tr_zk_get(c->zk, path, 0, &data, &len, NULL) == TR_OK &&
            tr_json_parse(data, len, &root) == TR_OK &&
            tr_json_get(&root, "partitions", &parts) == TR_OK &&
            tr_json_iter_init(&it, &parts) == TR_OK) {
            while (tr_json_next(&it, NULL, &item) == TR_OK) {
                if (tr_json_get(&item, "topic", &v) == TR_OK &&
                    tr_json_string(&v, topic, sizeof(topic)) == TR_OK &&
                    tr_json_get(&item, "partition", &v) == TR_OK &&
                    tr_json_as_int(&v, &partition) == TR_OK &&
                    (cp = cpart_find(c, topic, (int32_t)partition)) != NULL) {
                    read_state(c, cp);
                }
            }
        }
        free(data);
        (void)tr_zk_delete(c->zk, path, -1);
    }
    tr_zk_free_children(names, n);
}

static void progress_reassignments(struct tr_cluster *c);

static void
become_controller(struct tr_cluster *c)
{
    c->ncparts = 0;
    c->shutting_down_broker = -1;
    (void)read_brokers(c);
    (void)read_topics(c);
    (void)read_isr_changes(c);
    tr_log_info("controller: broker %d is the controller (epoch %d), %zu "
                "live brokers, %zu partitions",
                c->id, c->epoch, c->nlive, c->ncparts);
    reconcile(c);
    broadcast(c);
    /* Moves and deletions a previous controller left go on from here. */
    tr_controller_delete_topics(c);
    tr_controller_legacy_reassign(c);
    progress_reassignments(c);
}

/* Tries to become controller; learns who is otherwise. */
void
tr_controller_elect(struct tr_cluster *c)
{
    char *data = NULL, body[160];
    size_t len;
    struct tr_zk_stat st;
    struct tr_json_value root, v;
    int32_t epoch = 0, version = -1, newv = 0;
    int64_t id;
    tr_err_t err;

    if (tr_zk_get(c->zk, "/controller_epoch", 0, &data, &len, &st) == TR_OK) {
        epoch = (int32_t)strtol(data, NULL, 10);
        version = st.version;
    }
    free(data);
    data = NULL;
    snprintf(body, sizeof(body),
             "{\"version\":1,\"brokerid\":%d,\"timestamp\":\"%" PRId64 "\"}",
             (int)c->id, tr_clock_wall_ms());
    err = tr_zk_elect(c->zk, body, strlen(body), epoch + 1, version, &newv);
    if (err == TR_OK) {
        c->is_controller = 1;
        c->epoch = epoch + 1;
        c->epoch_version = newv;
        pthread_mutex_lock(&c->lock);
        c->controller_id = c->id;
        if (c->epoch > c->controller_epoch_seen) {
            c->controller_epoch_seen = c->epoch;
        }
        pthread_mutex_unlock(&c->lock);
        become_controller(c);
    }
    /* Watch /controller whoever holds it. */
    if (tr_zk_get(c->zk, "/controller", 1, &data, &len, NULL) == TR_OK) {
        if (tr_json_parse(data, len, &root) == TR_OK &&
            tr_json_get(&root, "brokerid", &v) == TR_OK &&
            tr_json_as_int(&v, &id) == TR_OK) {
            pthread_mutex_lock(&c->lock);
            c->controller_id = (int32_t)id;
            pthread_mutex_unlock(&c->lock);
            if (id != c->id && c->is_controller) {
                tr_controller_resign(c);
            }
        }
    } else if (!c->is_controller) {
        pthread_mutex_lock(&c->lock);
        c->controller_id = -1;
        pthread_mutex_unlock(&c->lock);
    }
    free(data);
}

/*
 * Writes /config/topics/T and then /brokers/topics/T with 'replicas'
 * (partitions x rf, borrowed). The controller sees the new assignment
 * through its watch on /brokers/topics.
 */
static int16_t
write_topic(struct tr_cluster *c, const char *name, const int32_t *replicas,
            int32_t partitions, int32_t rf, const char *const *config_keys,
            const char *const *config_values, size_t nconfigs, char *errbuf,
            size_t errlen)
{
    struct tr_buf b;
    char path[512], num[32];
    int32_t p, r;
    size_t i;
    tr_err_t err;

    tr_buf_init(&b, 16 << 20);
    /* Topic configs first, as Kafka's admin client writes them. */
    tr_buf_put_bytes(&b, "{\"version\":1,\"config\":{", 23);
    for (i = 0; i < nconfigs; i++) {
        if (i > 0) {
            tr_buf_put_bytes(&b, ",", 1);
        }
        (void)tr_json_put_string(&b, config_keys[i]);
        tr_buf_put_bytes(&b, ":", 1);
        (void)tr_json_put_string(&b, config_values[i]);
    }
    tr_buf_put_bytes(&b, "}}", 2);
    snprintf(path, sizeof(path), "/config/topics/%s", name);
    (void)tr_zk_create(c->zk, path, (const char *)tr_buf_data(&b),
                       tr_buf_len(&b), 0, NULL, 0);
    tr_buf_reset(&b);
    tr_buf_put_bytes(&b, "{\"version\":2,\"partitions\":{", 27);
    for (p = 0; p < partitions; p++) {
        snprintf(num, sizeof(num), "%s\"%d\":[", p ? "," : "", (int)p);
        tr_buf_put_bytes(&b, num, strlen(num));
        for (r = 0; r < rf; r++) {
            snprintf(num, sizeof(num), "%s%d", r ? "," : "",
                     (int)replicas[(size_t)p * (size_t)rf + (size_t)r]);
            tr_buf_put_bytes(&b, num, strlen(num));
        }
        tr_buf_put_bytes(&b, "]", 1);
    }
    tr_buf_put_bytes(&b, "},\"adding_replicas\":{},\"removing_replicas\":{}}",
                     46);
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = tr_zk_create(c->zk, path, (const char *)tr_buf_data(&b),
                           tr_buf_len(&b), 0, NULL, 0);
    }
    tr_buf_cleanup(&b);
    if (err == TR_ERR_EXISTS) {
        snprintf(errbuf, errlen, "Topic '%s' already exists.", name);
        return TR_KERR_TOPIC_ALREADY_EXISTS;
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "cannot write %s: %s", path, tr_err_str(err));
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    tr_log_info("cluster: created topic %s (%d partitions, replication "
                "factor %d)",
                name, (int)partitions, (int)rf);
    return TR_KERR_NONE;
}

int
tr_cluster_topic_ready(struct tr_cluster *c, const char *name,
                       int32_t partitions)
{
    struct tr_pstate st;
    int32_t p;

    if (tr_cluster_partition_count(c, name) < partitions) {
        return 0;
    }
    for (p = 0; p < partitions; p++) {
        if (!tr_cluster_partition_state(c, name, p, &st) || st.leader < 0) {
            return 0;
        }
    }
    return 1;
}

int16_t
tr_cluster_create_topic(struct tr_cluster *c, const char *name,
                        int32_t partitions, int32_t rf,
                        const char *const *config_keys,
                        const char *const *config_values, size_t nconfigs,
                        char *errbuf, size_t errlen)
{
    struct tr_broker_info *bs = NULL;
    struct tr_assign_broker *ab = NULL;
    int32_t *replicas = NULL;
    uint64_t draw;
    size_t nb, i;
    int16_t kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
    tr_err_t err;

    errbuf[0] = '\0';
    nb = tr_cluster_brokers(c, &bs);
    if (nb == 0) {
        snprintf(errbuf, errlen, "no live brokers known yet");
        kerr = TR_KERR_BROKER_NOT_AVAILABLE;
        goto out;
    }
    if (partitions < 1) {
        snprintf(errbuf, errlen, "partitions must be at least 1");
        kerr = TR_KERR_INVALID_PARTITIONS;
        goto out;
    }
    if (rf < 1 || (size_t)rf > nb || rf > TR_MAX_REPLICAS) {
        snprintf(errbuf, errlen,
                 "replication factor %d is larger than the %zu live brokers",
                 (int)rf, nb);
        kerr = TR_KERR_INVALID_REPLICATION_FACTOR;
        goto out;
    }
    ab = tr_calloc(nb, sizeof(*ab));
    replicas = tr_calloc((size_t)partitions * (size_t)rf, sizeof(*replicas));
    if (ab == NULL || replicas == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    for (i = 0; i < nb; i++) {
        ab[i].id = bs[i].id;
        ab[i].rack = bs[i].rack;
    }
    /*
     * Kafka draws the first broker and the followers' shift at random so
     * that topics do not all start on the same broker.
     */
    draw = (uint64_t)tr_clock_wall_ms() * 2654435761u ^
           (uint64_t)tr_clock_mono_ms();
    err = tr_assign_replicas(ab, nb, partitions, rf, (uint32_t)draw,
                             (uint32_t)(draw >> 32), replicas, errbuf, errlen);
    if (err == TR_ERR_INVALID) {
        kerr = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
        goto out;
    }
    if (err != TR_OK) {
        goto out;
    }
    kerr = write_topic(c, name, replicas, partitions, rf, config_keys,
                       config_values, nconfigs, errbuf, errlen);
out:
    tr_free(replicas);
    tr_free(ab);
    tr_free(bs);
    return kerr;
}

int16_t
tr_cluster_create_topic_assigned(struct tr_cluster *c, const char *name,
                                 const int32_t *replicas, int32_t partitions,
                                 int32_t rf, const char *const *config_keys,
                                 const char *const *config_values,
                                 size_t nconfigs, int validate_only,
                                 char *errbuf, size_t errlen)
{
    struct tr_broker_info *bs = NULL;
    int32_t *live = NULL;
    size_t nb, i;
    int16_t kerr = TR_KERR_INVALID_REPLICA_ASSIGNMENT;

    errbuf[0] = '\0';
    nb = tr_cluster_brokers(c, &bs);
    if (rf > TR_MAX_REPLICAS) {
        snprintf(errbuf, errlen, "%d replicas per partition: at most %d",
                 (int)rf, TR_MAX_REPLICAS);
        goto out;
    }
    live = tr_calloc(nb + 1, sizeof(*live));
    if (live == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
        goto out;
    }
    for (i = 0; i < nb; i++) {
        live[i] = bs[i].id;
    }
    if (tr_assign_check_live(replicas, (size_t)partitions * (size_t)rf, live,
                             nb, errbuf, errlen) != TR_OK) {
        goto out;
    }
    if (validate_only) {
        kerr = TR_KERR_NONE;
        if (tr_cluster_partition_count(c, name) >= 0) {
            snprintf(errbuf, errlen, "Topic '%s' already exists.", name);
            kerr = TR_KERR_TOPIC_ALREADY_EXISTS;
        }
        goto out;
    }
    kerr = write_topic(c, name, replicas, partitions, rf, config_keys,
                       config_values, nconfigs, errbuf, errlen);
out:
    tr_free(live);
    tr_free(bs);
    return kerr;
}

int16_t
tr_cluster_handle_controlled_shutdown(struct tr_cluster *c, int32_t id,
                                      int32_t *remaining)
{
    struct tr_pstate st;
    size_t i;
    int32_t n = 0;

    /* The move is the controller's (cluster thread): flag it and wait. */
    if (tr_cluster_controller_id(c) != c->id) {
        return TR_KERR_NOT_CONTROLLER;
    }
    pthread_mutex_lock(&c->qlock);
    c->shutting_down_broker = id;
    c->q_brokers = 1;
    pthread_mutex_unlock(&c->qlock);
    tr_cluster_wake(c);
    pthread_mutex_lock(&c->lock);
    for (i = 0; i < c->nentries; i++) {
        st = c->entries[i].st;
        if (st.leader == id && st.nreplicas > 1) {
            n++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    *remaining = n;
    return TR_KERR_NONE;
}

/*
 * Partitions led here that another live ISR member could take over: the
 * ones a controlled shutdown waits for. A partition whose ISR is this
 * broker alone cannot move, and waiting would only delay the stop.
 * Caller holds c->lock.
 */

void
tr_controller_resign(struct tr_cluster *c)
{
    c->is_controller = 0;
    sync_senders(c);
}

void
tr_controller_events(struct tr_cluster *c, int brokers, int topics, int isr)
{
    if (!c->is_controller) {
        return;
    }
    if (brokers) {
        (void)read_brokers(c);
    }
    if (topics) {
        (void)read_topics(c);
    }
    if (isr) {
        read_isr_changes(c);
    }
    if (brokers || topics || isr) {
        reconcile(c);
        broadcast(c);
        progress_reassignments(c); /* the ISR may have caught up */
    }
}

/* ------------------------------------------- reassignments, elections */

/* ids[] minus the members of 'drop', order kept; returns the count. */
static int32_t
ids_minus(const int32_t *ids, int32_t n, const int32_t *drop, int32_t ndrop,
          int32_t *out)
{
    int32_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (!tr_rpc_has(drop, ndrop, ids[i])) {
            out[k++] = ids[i];
        }
    }
    return k;
}

static int
moving(const struct cpart *cp)
{
    return cp->nadding > 0 || cp->nremoving > 0;
}

static void
put_moving_json(struct tr_buf *b, struct tr_cluster *c, const char *topic,
                int adding)
{
    char num[32];
    size_t i;
    int first = 1;

    tr_buf_put_bytes(b, "{", 1);
    for (i = 0; i < c->ncparts; i++) {
        const struct cpart *cp = &c->cparts[i];
        int32_t n = adding ? cp->nadding : cp->nremoving;

        if (n == 0 || strcmp(cp->topic, topic) != 0) {
            continue;
        }
        snprintf(num, sizeof(num), "%s\"%d\":", first ? "" : ",",
                 (int)cp->partition);
        tr_buf_put_bytes(b, num, strlen(num));
        tr_cluster_put_ids_json(b, adding ? cp->adding : cp->removing, n);
        first = 0;
    }
    tr_buf_put_bytes(b, "}", 1);
}

/*
 * Rewrites /brokers/topics/T from the controller's picture of its
 * partitions, with the moves in progress; fenced by the controller epoch.
 */
static tr_err_t
write_assignment(struct tr_cluster *c, const char *topic)
{
    struct tr_buf b;
    char path[512], num[32];
    int32_t p, count = 0;
    size_t i;
    tr_err_t err;

    for (i = 0; i < c->ncparts; i++) {
        if (strcmp(c->cparts[i].topic, topic) == 0 &&
            c->cparts[i].partition + 1 > count) {
            count = c->cparts[i].partition + 1;
        }
    }
    tr_buf_init(&b, 16 << 20);
    tr_buf_put_bytes(&b, "{\"version\":2,\"partitions\":{", 27);
    for (p = 0; p < count; p++) {
        const struct cpart *cp = cpart_find(c, topic, p);
        snprintf(num, sizeof(num), "%s\"%d\":", p ? "," : "", (int)p);
        tr_buf_put_bytes(&b, num, strlen(num));
        tr_cluster_put_ids_json(&b, cp ? cp->replicas : NULL,
                                cp ? cp->nreplicas : 0);
    }
    tr_buf_put_bytes(&b, "},\"adding_replicas\":", 20);
    put_moving_json(&b, c, topic, 1);
    tr_buf_put_bytes(&b, ",\"removing_replicas\":", 21);
    put_moving_json(&b, c, topic, 0);
    tr_buf_put_bytes(&b, "}", 1);
    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = tr_zk_fenced_set(c->zk, c->epoch_version, path,
                               (const char *)tr_buf_data(&b), tr_buf_len(&b),
                               -1, NULL);
    }
    tr_buf_cleanup(&b);
    if (err == TR_ERR_FENCED) {
        tr_log_warn("controller: a newer controller exists; resigning");
        tr_controller_resign(c);
    } else if (err != TR_OK) {
        tr_log_warn("controller: cannot write %s: %s", path, tr_err_str(err));
    }
    return err;
}

/*
 * Finishes the moves whose new replicas are all in sync: the assignment
 * becomes the target, then reconcile() hands the leadership to a target
 * replica if the leader is leaving and drops the leaving ones from the ISR,
 * and they are told to stop and delete their copy.
 */
static void
progress_reassignments(struct tr_cluster *c)
{
    size_t i;
    int32_t r, done = 0;

    for (i = 0; i < c->ncparts && c->is_controller; i++) {
        struct cpart *cp = &c->cparts[i];
        struct cpart before;
        int32_t target[TR_MAX_REPLICAS], nt;

        if (!moving(cp) || cp->st.zk_version < 0) {
            continue;
        }
        nt = ids_minus(cp->replicas, cp->nreplicas, cp->removing, cp->nremoving,
                       target);
        for (r = 0; r < nt; r++) {
            if (!tr_rpc_has(cp->st.isr, cp->st.nisr, target[r])) {
                break;
            }
        }
        if (r < nt) {
            continue; /* still catching up */
        }
        before = *cp;
        memcpy(cp->replicas, target, sizeof(target));
        cp->nreplicas = nt;
        cp->nadding = cp->nremoving = 0;
        if (write_assignment(c, cp->topic) != TR_OK) {
            *cp = before;
            continue;
        }
        tr_log_info("controller: %s-%d: reassignment done", cp->topic,
                    cp->partition);
        for (r = 0; r < before.nremoving; r++) {
            send_stop(c, before.removing[r], cp->topic, cp->partition);
        }
        done++;
    }
    if (done > 0) {
        reconcile(c);
        broadcast(c);
    }
}

/* Starts, replaces or cancels (nreplicas -1) one partition's move. */
static void
start_reassignment(struct tr_cluster *c, struct tr_partition_op *op)
{
    struct cpart *cp = cpart_find(c, op->topic, op->partition);
    int32_t orig[TR_MAX_REPLICAS], norig, target[TR_MAX_REPLICAS], nt;
    int32_t dropped[TR_MAX_REPLICAS], ndropped, r, k;
    struct cpart before;

    op->error = TR_KERR_NONE;
    op->message[0] = '\0';
    if (cp == NULL || cp->nreplicas == 0) {
        op->error = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    /* The replicas before any move began. */
    norig =
        ids_minus(cp->replicas, cp->nreplicas, cp->adding, cp->nadding, orig);
    if (op->nreplicas < 0) {
        if (!moving(cp)) {
            op->error = TR_KERR_NO_REASSIGNMENT_IN_PROGRESS;
            return;
        }
        memcpy(target, orig, sizeof(orig));
        nt = norig;
    } else {
        if (op->nreplicas == 0 || op->nreplicas > TR_MAX_REPLICAS) {
            op->error = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(op->message, sizeof(op->message),
                     "between 1 and %d replicas", TR_MAX_REPLICAS);
            return;
        }
        for (r = 0; r < op->nreplicas; r++) {
            if (tr_rpc_has(op->replicas, r, op->replicas[r])) {
                op->error = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
                snprintf(op->message, sizeof(op->message),
                         "broker %d is named twice", (int)op->replicas[r]);
                return;
            }
            if (!is_live(c, op->replicas[r])) {
                op->error = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
                snprintf(op->message, sizeof(op->message),
                         "broker %d is not a live broker",
                         (int)op->replicas[r]);
                return;
            }
        }
        memcpy(target, op->replicas, sizeof(target));
        nt = op->nreplicas;
    }
    before = *cp;
    /* Kafka's order: the target first, then the replicas that leave. */
    memcpy(cp->replicas, target, sizeof(target));
    cp->nreplicas = nt;
    k = ids_minus(orig, norig, target, nt, cp->removing);
    cp->nremoving = k;
    for (r = 0; r < k; r++) {
        cp->replicas[cp->nreplicas++] = cp->removing[r];
    }
    cp->nadding = ids_minus(target, nt, orig, norig, cp->adding);
    /* Replicas a replaced move had added, and this one does not want. */
    ndropped = ids_minus(before.replicas, before.nreplicas, cp->replicas,
                         cp->nreplicas, dropped);
    if (write_assignment(c, cp->topic) != TR_OK) {
        *cp = before;
        op->error = TR_KERR_UNKNOWN_SERVER_ERROR;
        snprintf(op->message, sizeof(op->message),
                 "cannot write the assignment to ZooKeeper");
        return;
    }
    memcpy(cp->st.replicas, cp->replicas, sizeof(cp->replicas));
    cp->st.nreplicas = cp->nreplicas;
    for (r = 0; r < ndropped; r++) {
        send_stop(c, dropped[r], cp->topic, cp->partition);
    }
    if (op->nreplicas < 0) {
        tr_log_info("controller: %s-%d: reassignment cancelled", cp->topic,
                    cp->partition);
    } else {
        tr_log_info("controller: %s-%d: reassigning (%d adding, %d removing)",
                    cp->topic, cp->partition, (int)cp->nadding,
                    (int)cp->nremoving);
    }
}

/* A preferred or unclean election for one partition; Kafka's codes. */
static int16_t
elect_one(struct tr_cluster *c, struct cpart *cp, int8_t type)
{
    struct tr_pstate next;
    int32_t r, chosen = -1;

    if (cp->nreplicas == 0 || cp->st.zk_version < 0) {
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    next = cp->st;
    if (type == TR_ELECTION_PREFERRED) {
        chosen = cp->replicas[0];
        if (cp->st.leader == chosen) {
            return TR_KERR_ELECTION_NOT_NEEDED;
        }
        if (!is_live(c, chosen) || chosen == c->shutting_down_broker ||
            !tr_rpc_has(cp->st.isr, cp->st.nisr, chosen)) {
            return TR_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
        }
    } else {
        if (cp->st.leader >= 0 && is_live(c, cp->st.leader)) {
            return TR_KERR_ELECTION_NOT_NEEDED;
        }
        for (r = 0; r < cp->nreplicas && chosen < 0; r++) {
            if (is_live(c, cp->replicas[r]) &&
                cp->replicas[r] != c->shutting_down_broker) {
                chosen = cp->replicas[r];
            }
        }
        if (chosen < 0) {
            return TR_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
        }
        if (!tr_rpc_has(cp->st.isr, cp->st.nisr, chosen)) {
            tr_log_warn("controller: %s-%d: unclean election of broker %d "
                        "(asked for)",
                        cp->topic, cp->partition, chosen);
            next.nisr = 1;
            next.isr[0] = chosen;
        }
    }
    next.leader = chosen;
    next.leader_epoch = cp->st.leader_epoch + 1;
    if (write_state(c, cp, &next) != TR_OK) {
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    tr_log_info("controller: %s-%d: %s election of broker %d, epoch %d",
                cp->topic, cp->partition,
                type == TR_ELECTION_PREFERRED ? "preferred" : "unclean", chosen,
                next.leader_epoch);
    return TR_KERR_NONE;
}

static tr_err_t
add_found(struct tr_ctl_job *job, size_t *cap, const struct cpart *cp,
          int16_t error)
{
    struct tr_partition_op *op;

    if (tr_array_reserve(&job->found, cap, job->nfound + 1,
                         sizeof(*job->found)) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    op = &job->found[job->nfound++];
    memset(op, 0, sizeof(*op));
    snprintf(op->topic, sizeof(op->topic), "%s", cp->topic);
    op->partition = cp->partition;
    memcpy(op->replicas, cp->replicas, sizeof(cp->replicas));
    op->nreplicas = cp->nreplicas;
    memcpy(op->adding, cp->adding, sizeof(cp->adding));
    op->nadding = cp->nadding;
    memcpy(op->removing, cp->removing, sizeof(cp->removing));
    op->nremoving = cp->nremoving;
    op->error = error;
    return TR_OK;
}

void
tr_controller_run_job(struct tr_cluster *c, struct tr_ctl_job *job)
{
    size_t i, cap = 0;
    int changed = 0;

    job->error = TR_KERR_NONE;
    if (!c->is_controller) {
        job->error = TR_KERR_NOT_CONTROLLER;
        return;
    }
    switch (job->kind) {
    case TR_CTL_REASSIGN:
        for (i = 0; i < job->nitems; i++) {
            start_reassignment(c, &job->items[i]);
            changed |= job->items[i].error == TR_KERR_NONE;
        }
        if (changed) {
            reconcile(c);
            broadcast(c);
            progress_reassignments(c); /* a pure removal is done at once */
        }
        break;
    case TR_CTL_LIST_REASSIGNMENTS:
        for (i = 0; i < c->ncparts; i++) {
            if (moving(&c->cparts[i]) &&
                add_found(job, &cap, &c->cparts[i], TR_KERR_NONE) != TR_OK) {
                job->error = TR_KERR_UNKNOWN_SERVER_ERROR;
            }
        }
        break;
    case TR_CTL_ELECT:
        if (job->nitems > 0) {
            for (i = 0; i < job->nitems; i++) {
                struct tr_partition_op *op = &job->items[i];
                struct cpart *cp = cpart_find(c, op->topic, op->partition);
                op->error = cp == NULL ? TR_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                       : elect_one(c, cp, job->election_type);
                changed |= op->error == TR_KERR_NONE;
            }
        } else {
            /* Every partition: report only those where an election ran. */
            for (i = 0; i < c->ncparts; i++) {
                int16_t e = elect_one(c, &c->cparts[i], job->election_type);
                if (e != TR_KERR_ELECTION_NOT_NEEDED &&
                    add_found(job, &cap, &c->cparts[i], e) != TR_OK) {
                    job->error = TR_KERR_UNKNOWN_SERVER_ERROR;
                }
                changed |= e == TR_KERR_NONE;
            }
        }
        if (changed) {
            broadcast(c);
        }
        break;
    }
}

/*
 * Automatic preferred-leader elections (auto.leader.rebalance.enable): a
 * broker that is the preferred leader of more partitions than it leads, by
 * more than leader.imbalance.per.broker.percentage, gets them back, once the
 * preferred replica is in sync. Partitions on the move are left alone.
 */
static void
rebalance_leaders(struct tr_cluster *c)
{
    size_t i, j;
    int changed = 0;

    for (j = 0; j < c->nlive; j++) {
        int32_t id = c->live[j].id, preferred = 0, not_led = 0;

        for (i = 0; i < c->ncparts; i++) {
            const struct cpart *cp = &c->cparts[i];
            if (cp->nreplicas > 0 && cp->replicas[0] == id && !moving(cp)) {
                preferred++;
                not_led += cp->st.leader != id;
            }
        }
        if (preferred == 0 ||
            not_led * 100 <=
                preferred * c->cfg->leader_imbalance_per_broker_pct) {
            continue;
        }
        tr_log_info("controller: broker %d leads %d of its %d preferred "
                    "partitions; moving them back",
                    id, preferred - not_led, preferred);
        for (i = 0; i < c->ncparts; i++) {
            struct cpart *cp = &c->cparts[i];
            if (cp->nreplicas > 0 && cp->replicas[0] == id && !moving(cp) &&
                elect_one(c, cp, TR_ELECTION_PREFERRED) == TR_KERR_NONE) {
                changed = 1;
            }
        }
    }
    if (changed) {
        broadcast(c);
    }
}

void
tr_controller_tick(struct tr_cluster *c)
{
    int64_t now = tr_clock_mono_ms();

    if (!c->is_controller) {
        return;
    }
    if (c->cfg->auto_leader_rebalance_enable &&
        now - c->last_rebalance_ms >=
            c->cfg->leader_imbalance_check_interval_seconds * 1000) {
        c->last_rebalance_ms = now;
        rebalance_leaders(c);
    }
}

/*
 * /admin/reassign_partitions, the path Kafka's older tools write
 * ({"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[..]}]}):
 * each entry starts a move, as AlterPartitionReassignments would, and the
 * node is deleted once read; the moves go on in the assignment znodes.
 */
void
tr_controller_legacy_reassign(struct tr_cluster *c)
{
    char *data = NULL, topic[TR_TOPIC_MAX + 1];
    size_t len, count;
    struct tr_json_value root, parts, item, v;
    struct tr_json_iter it;
    int64_t partition;
    int started = 0;

    if (!c->is_controller || tr_zk_get(c->zk, "/admin/reassign_partitions", 1,
                                       &data, &len, NULL) != TR_OK) {
        return;
    }
    if (tr_json_parse(data, len, &root) == TR_OK &&
        tr_json_get(&root, "partitions", &parts) == TR_OK &&
        tr_json_iter_init(&it, &parts) == TR_OK) {
        while (tr_json_next(&it, NULL, &item) == TR_OK) {
            struct tr_partition_op op;

            memset(&op, 0, sizeof(op));
            if (tr_json_get(&item, "topic", &v) != TR_OK ||
                tr_json_string(&v, topic, sizeof(topic)) != TR_OK ||
                tr_json_get(&item, "partition", &v) != TR_OK ||
                tr_json_as_int(&v, &partition) != TR_OK ||
                tr_json_get(&item, "replicas", &v) != TR_OK ||
                tr_json_int_array(&v, op.replicas, TR_MAX_REPLICAS, &count) !=
                    TR_OK) {
                continue;
            }
            snprintf(op.topic, sizeof(op.topic), "%s", topic);
            op.partition = (int32_t)partition;
            op.nreplicas = (int32_t)count;
            start_reassignment(c, &op);
            if (op.error != TR_KERR_NONE) {
                tr_log_warn("controller: /admin/reassign_partitions: %s-%d: "
                            "error %d %s",
                            topic, (int)partition, (int)op.error, op.message);
            }
            started |= op.error == TR_KERR_NONE;
        }
    } else {
        tr_log_warn("controller: /admin/reassign_partitions is not valid "
                    "JSON; deleting it");
    }
    free(data);
    (void)tr_zk_fenced_delete(c->zk, c->epoch_version,
                              "/admin/reassign_partitions");
    /* Watch for the next one. */
    if (tr_zk_get(c->zk, "/admin/reassign_partitions", 1, &data, &len, NULL) ==
        TR_OK) {
        free(data);
    }
    if (started) {
        reconcile(c);
        broadcast(c);
        progress_reassignments(c);
    }
}

/* ------------------------------------------------------- topic deletion */

/* Deletes 'path' (fenced); a missing node is fine. */
static void
delete_node(struct tr_cluster *c, const char *path)
{
    tr_err_t err = tr_zk_fenced_delete(c->zk, c->epoch_version, path);

    if (err == TR_ERR_FENCED) {
        tr_controller_resign(c);
    } else if (err != TR_OK && err != TR_ERR_NOT_FOUND) {
        tr_log_warn("controller: cannot delete %s: %s", path, tr_err_str(err));
    }
}

/*
 * Kafka's topic deletion: each name under /admin/delete_topics has every
 * replica of every partition told to stop and delete its copy, then the
 * topic's znodes go (partition states, assignment, config) and, last, the
 * request itself. The UpdateMetadata that follows no longer names the
 * topic, and brokers forget it. A replica down meanwhile keeps a stray
 * copy, which nothing serves.
 */
void
tr_controller_delete_topics(struct tr_cluster *c)
{
    char **names = NULL, path[512];
    int n = 0, i, deleted = 0;
    size_t j, k;
    int32_t r;

    if (!c->is_controller ||
        tr_zk_children(c->zk, "/admin/delete_topics", 1, &names, &n) != TR_OK) {
        return;
    }
    for (i = 0; i < n && c->is_controller; i++) {
        const char *topic = names[i];

        for (j = 0; j < c->ncparts; j++) {
            struct cpart *cp = &c->cparts[j];
            if (strcmp(cp->topic, topic) != 0) {
                continue;
            }
            for (r = 0; r < cp->nreplicas; r++) {
                if (is_live(c, cp->replicas[r])) {
                    send_stop(c, cp->replicas[r], cp->topic, cp->partition);
                }
            }
            tr_cluster_state_path(path, sizeof(path), cp->topic, cp->partition);
            delete_node(c, path);
            snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d",
                     cp->topic, (int)cp->partition);
            delete_node(c, path);
        }
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", topic);
        delete_node(c, path);
        snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
        delete_node(c, path);
        snprintf(path, sizeof(path), "/config/topics/%s", topic);
        delete_node(c, path);
        for (j = 0, k = 0; j < c->ncparts; j++) {
            if (strcmp(c->cparts[j].topic, topic) != 0) {
                c->cparts[k++] = c->cparts[j];
            }
        }
        c->ncparts = k;
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", topic);
        delete_node(c, path);
        tr_log_info("controller: deleted topic %s", topic);
        deleted++;
    }
    tr_zk_free_children(names, n);
    if (deleted > 0) {
        broadcast(c);
    }
}
