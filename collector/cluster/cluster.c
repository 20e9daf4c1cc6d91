/*
 * cluster -- ZooKeeper membership, the controller, and replica roles; see
 * cluster.h and docs/cluster.md.
 */
#include "cluster_int.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "alloc.h"
#include "broker.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "dynconf.h"
#include "fetcher.h"
#include "json.h"
#include "log.h"
#include "partition.h"
#include "proto.h"
#include "quota.h"
#include "stats.h"
#include "topics.h"
#include "waits.h"
#include "zk.h"

/* Bound on a controlled shutdown; the stop goes on after it regardless. */
#define CONTROLLED_SHUTDOWN_MS 8000

/* Bounds on one topic's configs read from ZooKeeper. */
#define TOPIC_CONFIGS_MAX 64
#define TOPIC_CONFIG_LEN  256
/* Config change notifications kept in /config/changes. */
#define CONFIG_CHANGES_KEPT 100

/* ---------------------------------------------------------------- view */

static size_t
key_hash(const char *topic, int32_t partition)
{
    size_t h = 2166136261u; /* FNV-1a */

    while (*topic != '\0') {
        h = (h ^ (unsigned char)*topic++) * 16777619u;
    }
    return (h ^ (uint32_t)partition) * 16777619u;
}

/* The slot holding (topic, partition), or the empty one it would take. */
static size_t *
entry_slot(struct tr_cluster *c, const char *topic, int32_t partition)
{
    size_t mask = c->nslots - 1, i = key_hash(topic, partition) & mask;

    while (c->slots[i] != 0) {
        const struct entry *e = &c->entries[c->slots[i] - 1];
        if (e->st.partition == partition && strcmp(e->st.topic, topic) == 0) {
            break;
        }
        i = (i + 1) & mask;
    }
    return &c->slots[i];
}

static struct entry *
find_entry(struct tr_cluster *c, const char *topic, int32_t partition)
{
    size_t *slot;

    if (c->nslots == 0) {
        return NULL;
    }
    slot = entry_slot(c, topic, partition);
    return *slot != 0 ? &c->entries[*slot - 1] : NULL;
}

/* Keeps the index at most half full, rebuilding it when it grows. */
static tr_err_t
index_reserve(struct tr_cluster *c, size_t n)
{
    size_t *old = c->slots, nslots = c->nslots ? c->nslots : 64, i;

    if (2 * n <= c->nslots) {
        return TR_OK;
    }
    while (2 * n > nslots) {
        nslots *= 2;
    }
    c->slots = tr_calloc(nslots, sizeof(*c->slots));
    if (c->slots == NULL) {
        c->slots = old;
        return TR_ERR_NOMEM;
    }
    tr_free(old);
    c->nslots = nslots;
    for (i = 0; i < c->nentries; i++) {
        *entry_slot(c, c->entries[i].st.topic, c->entries[i].st.partition) =
            i + 1;
    }
    return TR_OK;
}

/* Finds or adds the entry of (topic, partition); NULL when out of memory. */
static struct entry *
get_entry(struct tr_cluster *c, const char *topic, int32_t partition)
{
    struct entry *e = find_entry(c, topic, partition);

    if (e != NULL) {
        return e;
    }
    if (tr_array_reserve(&c->entries, &c->entries_cap, c->nentries + 1,
                         sizeof(*c->entries)) != TR_OK ||
        index_reserve(c, c->nentries + 1) != TR_OK) {
        return NULL;
    }
    e = &c->entries[c->nentries++];
    memset(e, 0, sizeof(*e));
    snprintf(e->st.topic, sizeof(e->st.topic), "%s", topic);
    e->st.partition = partition;
    e->st.leader = -1;
    e->st.leader_epoch = -1;
    e->st.zk_version = -1;
    e->role_epoch = -1;
    *entry_slot(c, topic, partition) = c->nentries;
    return e;
}

static int
slot_of(const struct entry *e, int32_t id)
{
    int32_t i;

    for (i = 0; i < e->st.nreplicas; i++) {
        if (e->st.replicas[i] == id) {
            return i;
        }
    }
    return -1;
}

/*
 * Leader: HW = the smallest log end over the ISR; returns 1 if it moved.
 * Caller holds c->lock.
 */
static int
update_hw(struct tr_cluster *c, struct entry *e, struct tr_partition *part)
{
    struct tr_partition_offsets offs;
    int64_t hw;
    int32_t i;
    int s;

    tr_partition_offsets(part, &offs);
    hw = offs.log_end;
    for (i = 0; i < e->st.nisr; i++) {
        if (e->st.isr[i] == c->id) {
            continue;
        }
        s = slot_of(e, e->st.isr[i]);
        if (s < 0 || e->fol_leo[s] < 0) {
            return 0; /* a member we have not heard from yet */
        }
        if (e->fol_leo[s] < hw) {
            hw = e->fol_leo[s];
        }
    }
    return tr_partition_set_high_watermark(part, hw);
}

void
tr_cluster_wake(struct tr_cluster *c)
{
    event_active(c->wake_ev, EV_READ, 0);
}

int32_t
tr_cluster_broker_id(struct tr_cluster *c)
{
    return c->id;
}

int16_t
tr_cluster_check_produce(struct tr_cluster *c, const char *topic,
                         int32_t partition, int acks_all, int32_t *epoch)
{
    int32_t min_isr = c->cfg->log.min_insync_replicas;
    struct entry *e;
    int16_t kerr;

    if (acks_all) {
        /* The topic's min.insync.replicas (the broker's is its default). */
        struct tr_partition *part =
            tr_topics_partition(c->broker->topics, topic, partition);
        if (part != NULL) {
            min_isr = tr_partition_min_insync(part);
            tr_partition_unref(part);
        }
    }
    pthread_mutex_lock(&c->lock);
    e = find_entry(c, topic, partition);
    if (e == NULL) {
        kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (e->role != ROLE_LEADER) {
        kerr = TR_KERR_NOT_LEADER_OR_FOLLOWER;
    } else if (acks_all && e->st.nisr < min_isr) {
        kerr = TR_KERR_NOT_ENOUGH_REPLICAS;
    } else {
        kerr = TR_KERR_NONE;
        *epoch = e->role_epoch;
    }
    pthread_mutex_unlock(&c->lock);
    return kerr;
}

void
tr_cluster_after_append(struct tr_cluster *c, struct tr_partition *part)
{
    struct entry *e;

    pthread_mutex_lock(&c->lock);
    e = find_entry(c, tr_partition_topic(part), tr_partition_index(part));
    if (e != NULL && e->role == ROLE_LEADER) {
        (void)update_hw(c, e, part);
    }
    pthread_mutex_unlock(&c->lock);
}

int16_t
tr_cluster_check_acked(struct tr_cluster *c, const char *topic,
                       int32_t partition, int32_t epoch, int64_t last_offset)
{
    struct tr_partition *part;
    struct tr_partition_offsets offs;
    struct entry *e;
    int16_t kerr = -1;

    pthread_mutex_lock(&c->lock);
    e = find_entry(c, topic, partition);
    if (e == NULL || e->role != ROLE_LEADER || e->role_epoch != epoch) {
        kerr = TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    pthread_mutex_unlock(&c->lock);
    if (kerr >= 0) {
        return kerr;
    }
    part = tr_topics_partition(c->broker->topics, topic, partition);
    if (part == NULL) {
        return TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    tr_partition_offsets(part, &offs);
    tr_partition_unref(part);
    return offs.high_watermark > last_offset ? TR_KERR_NONE : -1;
}

int16_t
tr_cluster_check_fetch(struct tr_cluster *c, struct tr_partition *part,
                       int32_t replica_id, int32_t current_epoch,
                       int64_t fetch_offset, int *catching_up)
{
    const char *topic = tr_partition_topic(part);
    int32_t partition = tr_partition_index(part);
    struct tr_partition_offsets offs;
    struct entry *e;
    int16_t kerr = TR_KERR_NONE;
    int64_t now;
    int s, moved = 0, expand = 0;

    if (catching_up != NULL) {
        *catching_up = 0;
    }
    pthread_mutex_lock(&c->lock);
    e = find_entry(c, topic, partition);
    if (e == NULL) {
        kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto out;
    }
    if (e->role != ROLE_LEADER) {
        kerr = TR_KERR_NOT_LEADER_OR_FOLLOWER;
        goto out;
    }
    if (current_epoch >= 0 && current_epoch < e->role_epoch) {
        kerr = TR_KERR_FENCED_LEADER_EPOCH;
        goto out;
    }
    if (current_epoch > e->role_epoch) {
        kerr = TR_KERR_UNKNOWN_LEADER_EPOCH;
        goto out;
    }
    if (replica_id < 0) {
        goto out;
    }
    s = slot_of(e, replica_id);
    if (s < 0) {
        kerr = TR_KERR_NOT_LEADER_OR_FOLLOWER;
        goto out;
    }
    if (catching_up != NULL) {
        *catching_up = !tr_rpc_has(e->st.isr, e->st.nisr, replica_id);
    }
    tr_partition_offsets(part, &offs);
    now = tr_clock_mono_ms();
    /* Kafka's rule: caught up when at the leader's end now or as of the
     * previous fetch. */
    if (fetch_offset >= offs.log_end) {
        e->fol_caught[s] = now;
    } else if (e->fol_prev_leo[s] >= 0 && fetch_offset >= e->fol_prev_leo[s]) {
        e->fol_caught[s] = now;
    }
    e->fol_prev_leo[s] = offs.log_end;
    e->fol_leo[s] = fetch_offset;
    if (!tr_rpc_has(e->st.isr, e->st.nisr, replica_id) &&
        fetch_offset >= offs.high_watermark && fetch_offset >= e->epoch_start &&
        !e->isr_expand) {
        e->isr_expand = 1;
        expand = 1;
    }
    moved = update_hw(c, e, part);
out:
    pthread_mutex_unlock(&c->lock);
    if (moved) {
        tr_waits_notify(c->broker->waits, topic, partition);
    }
    if (expand) {
        tr_cluster_wake(c);
    }
    return kerr;
}

struct tr_throttle *
tr_cluster_leader_throttle(struct tr_cluster *c)
{
    return &c->leader_throttle;
}

size_t
tr_cluster_brokers(struct tr_cluster *c, struct tr_broker_info **out)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = c->nbrokers;
    *out = tr_calloc(n ? n : 1, sizeof(**out));
    if (*out == NULL) {
        n = 0;
    } else if (n > 0) {
        memcpy(*out, c->brokers, n * sizeof(**out));
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

int
tr_cluster_broker_listener(struct tr_cluster *c, int32_t id,
                           const char *listener)
{
    const char *host;
    int32_t port;
    int found = -1;
    size_t i;

    pthread_mutex_lock(&c->lock);
    for (i = 0; i < c->nbrokers; i++) {
        if (c->brokers[i].id == id) {
            found = tr_rpc_endpoint(&c->brokers[i], listener, &host, &port);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

int32_t
tr_cluster_controller_id(struct tr_cluster *c)
{
    int32_t id;

    pthread_mutex_lock(&c->lock);
    id = c->controller_id;
    pthread_mutex_unlock(&c->lock);
    return id;
}

int32_t
tr_cluster_partition_count(struct tr_cluster *c, const char *topic)
{
    int32_t n = -1;
    size_t i;

    /*
     * Only partitions an UpdateMetadata has named: it names a topic's
     * partitions all at once, whereas a LeaderAndIsr being applied (the
     * cluster thread may take a while creating logs) brings them one by
     * one, and a partial count would mislead (the group coordinator maps
     * groups to __consumer_offsets partitions by it).
     */
    pthread_mutex_lock(&c->lock);
    for (i = 0; i < c->nentries; i++) {
        if (c->entries[i].st.leader_epoch >= 0 && c->entries[i].um_gen != 0 &&
            strcmp(c->entries[i].st.topic, topic) == 0 &&
            c->entries[i].st.partition + 1 > n) {
            n = c->entries[i].st.partition + 1;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

int
tr_cluster_partition_state(struct tr_cluster *c, const char *topic,
                           int32_t partition, struct tr_pstate *out)
{
    struct entry *e;
    int found = 0;

    pthread_mutex_lock(&c->lock);
    e = find_entry(c, topic, partition);
    if (e != NULL && e->st.leader_epoch >= 0) {
        *out = e->st;
        found = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

size_t
tr_cluster_topics(struct tr_cluster *c, char ***out)
{
    char **names;
    size_t i, j, n = 0;

    pthread_mutex_lock(&c->lock);
    names = tr_calloc(c->nentries + 1, sizeof(*names));
    if (names != NULL) {
        for (i = 0; i < c->nentries; i++) {
            if (c->entries[i].st.leader_epoch < 0) {
                continue;
            }
            for (j = 0; j < n; j++) {
                if (strcmp(names[j], c->entries[i].st.topic) == 0) {
                    break;
                }
            }
            if (j == n) {
                names[n] = tr_strdup(c->entries[i].st.topic);
                if (names[n] != NULL) {
                    n++;
                }
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    *out = names;
    return n;
}

/* ------------------------------------------------------ JSON in znodes */

void
tr_cluster_put_ids_json(struct tr_buf *b, const int32_t *ids, int32_t n)
{
    char num[16];
    int32_t i;

    tr_buf_put_bytes(b, "[", 1);
    for (i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%s%d", i ? "," : "", (int)ids[i]);
        tr_buf_put_bytes(b, num, strlen(num));
    }
    tr_buf_put_bytes(b, "]", 1);
}

void
tr_cluster_state_json(struct tr_buf *b, const struct tr_pstate *st)
{
    char head[160];

    snprintf(head, sizeof(head),
             "{\"version\":1,\"leader\":%d,\"leader_epoch\":%d,"
             "\"controller_epoch\":%d,\"isr\":",
             (int)st->leader, (int)st->leader_epoch, (int)st->controller_epoch);
    tr_buf_put_bytes(b, head, strlen(head));
    tr_cluster_put_ids_json(b, st->isr, st->nisr);
    tr_buf_put_bytes(b, "}", 1);
}

tr_err_t
tr_cluster_parse_state(const char *data, size_t len, struct tr_pstate *st)
{
    struct tr_json_value root, v;
    int64_t n;
    size_t count;
    tr_err_t err;

    if ((err = tr_json_parse(data, len, &root)) != TR_OK) {
        return err;
    }
    if ((err = tr_json_get(&root, "leader", &v)) != TR_OK ||
        (err = tr_json_as_int(&v, &n)) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    st->leader = (int32_t)n;
    if ((err = tr_json_get(&root, "leader_epoch", &v)) != TR_OK ||
        (err = tr_json_as_int(&v, &n)) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    st->leader_epoch = (int32_t)n;
    if (tr_json_get(&root, "controller_epoch", &v) == TR_OK &&
        tr_json_as_int(&v, &n) == TR_OK) {
        st->controller_epoch = (int32_t)n;
    }
    if ((err = tr_json_get(&root, "isr", &v)) != TR_OK ||
        (err = tr_json_int_array(&v, st->isr, TR_MAX_REPLICAS, &count)) !=
            TR_OK) {
        return TR_ERR_CORRUPT;
    }
    st->nisr = (int32_t)count;
    return TR_OK;
}

void
tr_cluster_state_path(char *buf, size_t len, const char *topic,
                      int32_t partition)
{
    snprintf(buf, len, "/brokers/topics/%s/partitions/%d/state", topic,
             (int)partition);
}

/*
 * Reads a partition's state znode into cp->st (the assignment's replicas
 * stay), with its version; cp->st is left alone when it is missing or
 * unreadable. Controller only.
 */
static const char *const persistent_paths[] = {
    "/brokers/ids",         "/brokers/topics",          "/brokers/seqid",
    "/admin/delete_topics", "/isr_change_notification", "/config/topics",
    "/config/changes",      "/config/brokers",
};

static void
put_text(struct tr_buf *b, const char *text)
{
    tr_buf_put_bytes(b, text, strlen(text));
}

/* Appends "NAME://host:port" (an IPv6 host in brackets) as a JSON string. */
static void
put_endpoint(struct tr_buf *b, const struct tr_listener_spec *e)
{
    char text[sizeof(e->name) + sizeof(e->host) + 16];
    int v6 = strchr(e->host, ':') != NULL;

    snprintf(text, sizeof(text), "%s://%s%s%s:%d", e->name, v6 ? "[" : "",
             e->host, v6 ? "]" : "", e->port);
    (void)tr_json_put_string(b, text);
}

/*
 * /brokers/ids/N as Kafka 2.x writes it (version 5): every advertised
 * listener in "endpoints" with its protocol in
 * "listener_security_protocol_map", and the legacy "host" and "port" of
 * the PLAINTEXT listener (null and -1 without one) for old readers.
 */
static void
registration_json(struct tr_cluster *c, struct tr_buf *b)
{
    const struct tr_broker *br = c->broker;
    const struct tr_listener_spec *plain = NULL;
    char num[160];
    size_t i;

    for (i = 0; i < br->nadvertised && plain == NULL; i++) {
        if (br->advertised[i].protocol == TR_SEC_PLAINTEXT) {
            plain = &br->advertised[i];
        }
    }
    put_text(b, "{\"version\":5,\"host\":");
    if (plain != NULL) {
        (void)tr_json_put_string(b, plain->host);
    } else {
        put_text(b, "null");
    }
    snprintf(num, sizeof(num),
             ",\"port\":%d,\"jmx_port\":-1,\"timestamp\":\"%" PRId64
             "\",\"endpoints\":[",
             plain != NULL ? plain->port : -1, tr_clock_wall_ms());
    put_text(b, num);
    for (i = 0; i < br->nadvertised; i++) {
        if (i > 0) {
            put_text(b, ",");
        }
        put_endpoint(b, &br->advertised[i]);
    }
    put_text(b, "],\"listener_security_protocol_map\":{");
    for (i = 0; i < br->nadvertised; i++) {
        const char *proto =
            tr_security_protocol_name(br->advertised[i].protocol);

        if (i > 0) {
            put_text(b, ",");
        }
        (void)tr_json_put_string(b, br->advertised[i].name);
        put_text(b, ":");
        (void)tr_json_put_string(b, proto);
    }
    put_text(b, "},\"rack\":");
    if (c->cfg->broker_rack != NULL) {
        (void)tr_json_put_string(b, c->cfg->broker_rack);
    } else {
        put_text(b, "null");
    }
    put_text(b, ",\"features\":{}}");
}

/*
 * Publishes where this collector's HTTP listener answers, for the other
 * collectors' consoles (tr_cluster_http_peers): the ephemeral
 * /tributary/http/<id> holds "host:port". Cluster thread.
 */
static void
publish_http(struct tr_cluster *c)
{
    char path[64], addr[sizeof(c->http_addr)];
    tr_err_t err;

    pthread_mutex_lock(&c->qlock);
    snprintf(addr, sizeof(addr), "%s", c->http_addr);
    pthread_mutex_unlock(&c->qlock);
    if (addr[0] == '\0') {
        return;
    }
    snprintf(path, sizeof(path), TR_CLUSTER_HTTP_PATH "/%d", (int)c->id);
    (void)tr_zk_ensure_path(c->zk, TR_CLUSTER_HTTP_PATH);
    err =
        tr_zk_create(c->zk, path, addr, strlen(addr), TR_ZK_EPHEMERAL, NULL, 0);
    if (err == TR_ERR_EXISTS) {
        /* Ours from this session (set again), or a lingering one. */
        (void)tr_zk_delete(c->zk, path, -1);
        err = tr_zk_create(c->zk, path, addr, strlen(addr), TR_ZK_EPHEMERAL,
                           NULL, 0);
    }
    if (err != TR_OK) {
        tr_log_warn("cluster: cannot publish the HTTP listener at %s: %s", path,
                    tr_err_str(err));
    }
}

void
tr_cluster_set_http(struct tr_cluster *c, const char *addr)
{
    pthread_mutex_lock(&c->qlock);
    snprintf(c->http_addr, sizeof(c->http_addr), "%s", addr);
    c->q_http = 1;
    pthread_mutex_unlock(&c->qlock);
    tr_cluster_wake(c);
}

size_t
tr_cluster_http_peers(struct tr_cluster *c, struct tr_cluster_http_peer **out)
{
    char **names = NULL, *data = NULL, path[128];
    size_t i, len, got = 0;
    int n = 0;

    *out = NULL;
    if (tr_zk_children(c->zk, TR_CLUSTER_HTTP_PATH, 0, &names, &n) != TR_OK) {
        return 0;
    }
    *out = n > 0 ? tr_calloc((size_t)n, sizeof(**out)) : NULL;
    for (i = 0; i < (size_t)n && *out != NULL; i++) {
        struct tr_cluster_http_peer *p = &(*out)[got];
        char *end;
        long id = strtol(names[i], &end, 10);

        if (*end != '\0' || id < 0 || id > INT32_MAX) {
            continue;
        }
        snprintf(path, sizeof(path), TR_CLUSTER_HTTP_PATH "/%s", names[i]);
        if (tr_zk_get(c->zk, path, 0, &data, &len, NULL) != TR_OK) {
            continue;
        }
        if (len > 0 && len < sizeof(p->addr)) {
            memcpy(p->addr, data, len);
            p->addr[len] = '\0';
            p->id = (int32_t)id;
            got++;
        }
        free(data);
    }
    tr_zk_free_children(names, n);
    if (got == 0) {
        tr_free(*out);
        *out = NULL;
    }
    return got;
}

/* Registers /brokers/ids/N; the node of a previous session may linger. */
static tr_err_t
register_broker(struct tr_cluster *c)
{
    char path[64], body[1024], *data = NULL;
    struct tr_buf reg;
    size_t i, len;
    tr_err_t err;

    for (i = 0; i < sizeof(persistent_paths) / sizeof(persistent_paths[0]);
         i++) {
        err = tr_zk_ensure_path(c->zk, persistent_paths[i]);
        if (err != TR_OK) {
            return err;
        }
    }
    /* The cluster id: ours if none, else adopt the cluster's. */
    snprintf(body, sizeof(body), "{\"version\":\"1\",\"id\":\"%s\"}",
             c->broker->cluster_id);
    (void)tr_zk_ensure_path(c->zk, "/cluster");
    (void)tr_zk_create(c->zk, "/cluster/id", body, strlen(body), 0, NULL, 0);
    if (tr_zk_get(c->zk, "/cluster/id", 0, &data, &len, NULL) == TR_OK) {
        struct tr_json_value root, v;
        if (tr_json_parse(data, len, &root) == TR_OK &&
            tr_json_get(&root, "id", &v) == TR_OK) {
            (void)tr_json_string(&v, c->broker->cluster_id,
                                 sizeof(c->broker->cluster_id));
        }
        free(data);
    }
    snprintf(path, sizeof(path), "/brokers/ids/%d", (int)c->id);
    tr_buf_init(&reg, 1 << 16);
    registration_json(c, &reg);
    err = tr_buf_err(&reg);
    if (err == TR_OK) {
        err = tr_zk_create(c->zk, path, (const char *)tr_buf_data(&reg),
                           tr_buf_len(&reg), TR_ZK_EPHEMERAL, NULL, 0);
    }
    tr_buf_cleanup(&reg);

    if (err == TR_ERR_EXISTS) {
        struct tr_zk_stat st;
        if (tr_zk_get(c->zk, path, 1, &data, &len, &st) == TR_OK) {
            free(data);
            if (st.ephemeral_owner == tr_zk_session_id(c->zk)) {
                return TR_OK;
            }
        }
        tr_log_warn("cluster: %s is still held by an earlier session; "
                    "waiting for it to expire",
                    path);
        return TR_ERR_AGAIN;
    }
    if (err == TR_OK) {
        publish_http(c);
        tr_log_info("cluster: registered as broker %d at %s:%d (%s, the "
                    "inter-broker listener) with %d listener(s)",
                    c->id, c->broker->advertised_host,
                    c->broker->advertised_port, c->ib_listener,
                    (int)c->broker->nadvertised);
    }
    return err;
}

/* ------------------------------------------------------ replica roles */

static struct tr_fetcher *
fetcher_for(struct tr_cluster *c, int32_t leader, const char *host, int port)
{
    struct tr_fetcher_config fc;
    struct tr_fetcher *f;
    size_t i;

    for (i = 0; i < c->nfetchers; i++) {
        if (c->fetchers[i].leader == leader) {
            tr_fetcher_set_address(c->fetchers[i].f, host, port);
            return c->fetchers[i].f;
        }
    }
    memset(&fc, 0, sizeof(fc));
    fc.replica_id = c->id;
    fc.leader_id = leader;
    snprintf(fc.host, sizeof(fc.host), "%s", host);
    fc.port = port;
    fc.fetch_max_bytes = c->cfg->replica_fetch_max_bytes;
    fc.fetch_wait_ms = c->cfg->replica_fetch_wait_max_ms;
    fc.timeout_ms = 10000;
    fc.throttle = &c->follower_throttle;
    fc.paused = &c->shutting_down;
    fc.peer = c->peer;
    if (tr_array_reserve(&c->fetchers, &c->fetchers_cap, c->nfetchers + 1,
                         sizeof(*c->fetchers)) != TR_OK ||
        tr_fetcher_start(&fc, c->broker->topics, c->broker->waits, &f) !=
            TR_OK) {
        return NULL;
    }
    c->fetchers[c->nfetchers].leader = leader;
    c->fetchers[c->nfetchers].f = f;
    c->nfetchers++;
    return f;
}

static void
stop_following(struct tr_cluster *c, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < c->nfetchers; i++) {
        tr_fetcher_remove(c->fetchers[i].f, topic, partition);
    }
}

/* A topic's configs as /config/topics/T holds them (Kafka's JSON). */
struct topic_configs {
    struct tr_config_entry entries[TOPIC_CONFIGS_MAX];
    struct tr_config_alter alters[TOPIC_CONFIGS_MAX];
    char strings[TOPIC_CONFIGS_MAX][2][TOPIC_CONFIG_LEN];
    size_t n;
};

static tr_err_t read_topic_configs(struct tr_cluster *c, const char *topic,
                                   struct topic_configs *tc);

/* Makes sure the local log exists, creating the topic if needed. */
static struct tr_partition *
local_partition(struct tr_cluster *c, const char *topic, int32_t partition)
{
    struct tr_partition *part;
    int32_t count;
    char errbuf[256];

    part = tr_topics_partition(c->broker->topics, topic, partition);
    if (part != NULL) {
        return part;
    }
    count = tr_topics_partition_count(c->broker->topics, topic);
    if (count < 0) {
        /* With the topic's configs, wherever it was created. */
        struct topic_configs *tc = tr_malloc(sizeof(*tc));
        if (tc != NULL && read_topic_configs(c, topic, tc) != TR_OK) {
            tc->n = 0;
        }
        if (tr_topics_create(c->broker->topics, topic, partition + 1,
                             tc != NULL ? tc->entries : NULL,
                             tc != NULL ? tc->n : 0, errbuf,
                             sizeof(errbuf)) != TR_OK) {
            tr_log_error("cluster: cannot create %s locally: %s", topic,
                         errbuf);
        }
        tr_free(tc);
    } else if (count <= partition) {
        (void)tr_topics_add_partitions(c->broker->topics, topic, partition + 1);
    }
    return tr_topics_partition(c->broker->topics, topic, partition);
}

static int
same_ids(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    return na == nb && memcmp(a, b, (size_t)na * sizeof(*a)) == 0;
}

/*
 * A leader's replica set changed under the same leadership: the followers'
 * positions move with their ids; a new replica starts unknown (and counts
 * as caught up now, so that it has replica.lag.time.max.ms to show it).
 * Caller holds c->lock.
 */
static void
set_replicas(struct entry *e, const int32_t *ids, int32_t n)
{
    int64_t leo[TR_MAX_REPLICAS], caught[TR_MAX_REPLICAS],
        prev[TR_MAX_REPLICAS];
    int32_t i, s;

    if (same_ids(ids, n, e->st.replicas, e->st.nreplicas)) {
        return;
    }
    for (i = 0; i < n; i++) {
        s = slot_of(e, ids[i]);
        leo[i] = s >= 0 ? e->fol_leo[s] : -1;
        prev[i] = s >= 0 ? e->fol_prev_leo[s] : -1;
        caught[i] = s >= 0 ? e->fol_caught[s] : tr_clock_mono_ms();
    }
    memcpy(e->st.replicas, ids, (size_t)n * sizeof(*ids));
    e->st.nreplicas = n;
    memcpy(e->fol_leo, leo, sizeof(leo));
    memcpy(e->fol_prev_leo, prev, sizeof(prev));
    memcpy(e->fol_caught, caught, sizeof(caught));
}

static void
apply_leader_and_isr(struct tr_cluster *c, struct tr_state_msg *m)
{
    size_t i, j;

    for (i = 0; i < m->nparts; i++) {
        struct tr_pstate *p = &m->parts[i];
        struct tr_partition *part;
        struct entry *e;
        const char *host = NULL;
        int port = 0;

        if (!tr_rpc_has(p->replicas, p->nreplicas, c->id)) {
            continue;
        }
        pthread_mutex_lock(&c->lock);
        e = get_entry(c, p->topic, p->partition);
        /*
         * Same epoch: apply only a newer ISR, or a new replica set (a
         * reassignment adds and removes replicas under one leadership).
         */
        if (e == NULL || (e->role != ROLE_NONE &&
                          (p->leader_epoch < e->role_epoch ||
                           (p->leader_epoch == e->role_epoch &&
                            p->zk_version <= e->st.zk_version &&
                            same_ids(p->replicas, p->nreplicas, e->st.replicas,
                                     e->st.nreplicas))))) {
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        if (p->leader_epoch == e->role_epoch && e->role != ROLE_NONE) {
            int moved = 0;
            if (p->zk_version >= e->st.zk_version) {
                memcpy(e->st.isr, p->isr, sizeof(p->isr));
                e->st.nisr = p->nisr;
                e->st.zk_version = p->zk_version;
            }
            set_replicas(e, p->replicas, p->nreplicas);
            if (e->role == ROLE_LEADER) {
                /* A smaller ISR may let the high watermark move now. */
                struct tr_partition *led = tr_topics_partition(
                    c->broker->topics, p->topic, p->partition);
                if (led != NULL) {
                    moved = update_hw(c, e, led);
                    tr_partition_unref(led);
                }
            }
            pthread_mutex_unlock(&c->lock);
            if (moved) {
                tr_waits_notify(c->broker->waits, p->topic, p->partition);
            }
            if (p->leader != c->id) {
                /* In the ISR now (or out of it): throttled no more (again). */
                for (j = 0; j < c->nfetchers; j++) {
                    tr_fetcher_set_throttled(
                        c->fetchers[j].f, p->topic, p->partition,
                        !tr_rpc_has(p->isr, p->nisr, c->id));
                }
            }
            continue;
        }
        pthread_mutex_unlock(&c->lock);

        part = local_partition(c, p->topic, p->partition);
        if (part == NULL) {
            continue;
        }
        /*
         * The first role since the log was opened: until now its high
         * watermark followed the log end, which after a restart includes a
         * tail no one may have replicated. Trusting it let a restarted
         * leader answer a retried (duplicate) acks=all batch at once, and
         * let consumers read what a new leader then truncated (found by the
         * fault checker: an acknowledged record lost). Start from the log
         * start instead; a leader raises it as its followers fetch, a
         * follower takes its leader's. Kafka checkpoints the high
         * watermark for this; the log start is the safe floor.
         */
        tr_partition_set_replicated(part, 0);
        stop_following(c, p->topic, p->partition);
        if (p->leader == c->id) {
            struct tr_partition_offsets offs;
            (void)tr_partition_become_leader(part, p->leader_epoch);
            tr_partition_offsets(part, &offs);
            pthread_mutex_lock(&c->lock);
            e = get_entry(c, p->topic, p->partition);
            if (e != NULL) {
                e->st = *p;
                e->role = ROLE_LEADER;
                e->role_epoch = p->leader_epoch;
                e->epoch_start = offs.log_end;
                e->isr_expand = 0;
                for (j = 0; j < TR_MAX_REPLICAS; j++) {
                    e->fol_leo[j] = -1;
                    e->fol_prev_leo[j] = -1;
                    e->fol_caught[j] = tr_clock_mono_ms();
                }
                (void)update_hw(c, e, part);
            }
            pthread_mutex_unlock(&c->lock);
            tr_log_info("cluster: leading %s-%d at epoch %d from offset "
                        "%" PRId64,
                        p->topic, p->partition, p->leader_epoch, offs.log_end);
        } else {
            for (j = 0; j < m->nbrokers; j++) {
                if (m->brokers[j].id == p->leader) {
                    host = m->brokers[j].host;
                    port = m->brokers[j].port;
                }
            }
            pthread_mutex_lock(&c->lock);
            e = get_entry(c, p->topic, p->partition);
            if (e != NULL) {
                e->st = *p;
                e->role = ROLE_FOLLOWER;
                e->role_epoch = p->leader_epoch;
            }
            pthread_mutex_unlock(&c->lock);
            if (host != NULL && p->leader >= 0) {
                struct tr_fetcher *f = fetcher_for(c, p->leader, host, port);
                if (f != NULL) {
                    tr_fetcher_add(f, p->topic, p->partition, p->leader_epoch);
                    tr_fetcher_set_throttled(
                        f, p->topic, p->partition,
                        !tr_rpc_has(p->isr, p->nisr, c->id));
                }
            }
            tr_log_info("cluster: following %s-%d on broker %d at epoch %d",
                        p->topic, p->partition, p->leader, p->leader_epoch);
        }
        tr_partition_unref(part);
        /* Parked produces and fetches look at the new role. */
        tr_waits_notify(c->broker->waits, p->topic, p->partition);
    }
}

/*
 * Leader's ISR upkeep: followers that fell behind for longer than
 * replica.lag.time.max.ms leave, caught-up ones join. The state znode is
 * written only if its version is still the one this leader knows, so a
 * leader that was replaced while paused changes nothing.
 */
static void
check_isr(struct tr_cluster *c)
{
    int64_t now = tr_clock_mono_ms();
    size_t i;

    for (i = 0;; i++) {
        struct tr_pstate next;
        struct tr_partition *part;
        struct tr_partition_offsets offs;
        struct entry *e;
        struct tr_buf b;
        char path[512], note[600], created[256];
        int32_t r, version = 0;
        int change = 0;
        tr_err_t err;

        pthread_mutex_lock(&c->lock);
        if (i >= c->nentries) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        e = &c->entries[i];
        if (e->role != ROLE_LEADER) {
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        part = tr_topics_partition(c->broker->topics, e->st.topic,
                                   e->st.partition);
        if (part == NULL) {
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        tr_partition_offsets(part, &offs);
        next = e->st;
        next.nisr = 0;
        for (r = 0; r < e->st.nreplicas; r++) {
            int32_t id = e->st.replicas[r];
            int in = tr_rpc_has(e->st.isr, e->st.nisr, id);
            if (id == c->id) {
                next.isr[next.nisr++] = id;
                continue;
            }
            if (in) {
                if (e->fol_leo[r] < offs.log_end &&
                    now - e->fol_caught[r] > c->cfg->replica_lag_time_max_ms) {
                    change = 1; /* shrink */
                    continue;
                }
                next.isr[next.nisr++] = id;
            } else if (e->fol_leo[r] >= offs.high_watermark &&
                       e->fol_leo[r] >= e->epoch_start) {
                next.isr[next.nisr++] = id;
                change = 1; /* expand */
            }
        }
        e->isr_expand = 0;
        pthread_mutex_unlock(&c->lock);
        if (!change) {
            tr_partition_unref(part);
            continue;
        }
        tr_buf_init(&b, 65536);
        tr_cluster_state_json(&b, &next);
        tr_cluster_state_path(path, sizeof(path), next.topic, next.partition);
        err = tr_zk_set(c->zk, path, (const char *)tr_buf_data(&b),
                        tr_buf_len(&b), next.zk_version, &version);
        tr_buf_cleanup(&b);
        pthread_mutex_lock(&c->lock);
        e = find_entry(c, next.topic, next.partition);
        if (err == TR_OK && e != NULL && e->role == ROLE_LEADER &&
            e->role_epoch == next.leader_epoch) {
            tr_log_info("cluster: %s-%d: ISR now %d of %d replicas", next.topic,
                        next.partition, next.nisr, next.nreplicas);
            tr_stats_isr_change(c->broker->stats, e->st.isr, e->st.nisr,
                                next.isr, next.nisr);
            memcpy(e->st.isr, next.isr, sizeof(next.isr));
            e->st.nisr = next.nisr;
            e->st.zk_version = version;
            if (update_hw(c, e, part)) {
                pthread_mutex_unlock(&c->lock);
                tr_waits_notify(c->broker->waits, next.topic, next.partition);
                pthread_mutex_lock(&c->lock);
            }
        } else if (err != TR_OK) {
            tr_log_warn("cluster: %s-%d: ISR change not written (%s); waiting "
                        "for the controller",
                        next.topic, next.partition, tr_err_str(err));
        }
        pthread_mutex_unlock(&c->lock);
        tr_partition_unref(part);
        if (err == TR_OK) {
            snprintf(note, sizeof(note),
                     "{\"version\":1,\"partitions\":[{\"topic\":\"%s\","
                     "\"partition\":%d}]}",
                     next.topic, (int)next.partition);
            (void)tr_zk_create(c->zk, "/isr_change_notification/isr_change_",
                               note, strlen(note), TR_ZK_SEQUENCE, created,
                               sizeof(created));
        }
    }
}

/* ------------------------------------------------------ cluster thread */

static void
zk_event(void *arg, enum tr_zk_event ev, const char *path)
{
    struct tr_cluster *c = arg;

    pthread_mutex_lock(&c->qlock);
    switch (ev) {
    case TR_ZK_CONNECTED:
        c->q_connected = 1;
        break;
    case TR_ZK_DISCONNECTED:
        break;
    case TR_ZK_EXPIRED:
        c->q_expired = 1;
        break;
    case TR_ZK_CHILDREN:
        if (strcmp(path, "/brokers/ids") == 0) {
            c->q_brokers = 1;
        } else if (strcmp(path, "/brokers/topics") == 0) {
            c->q_topics = 1;
        } else if (strcmp(path, "/isr_change_notification") == 0) {
            c->q_isr = 1;
        } else if (strcmp(path, "/admin/delete_topics") == 0) {
            c->q_delete = 1;
        } else if (strcmp(path, "/config/changes") == 0) {
            c->q_changes = 1;
        } else if (strcmp(path, "/kafka-acl-changes") == 0 ||
                   strcmp(path, "/kafka-acl-extended-changes") == 0) {
            c->q_acls = 1;
        }
        break;
    case TR_ZK_DATA:
        if (strcmp(path, "/controller") == 0) {
            c->q_controller = 1;
        } else if (strncmp(path, "/brokers/ids/", 13) == 0) {
            c->q_connected = 1; /* our registration vanished: redo it */
        } else if (strncmp(path, "/brokers/topics/", 16) == 0) {
            c->q_topics = 1;
        } else if (strcmp(path, "/admin/reassign_partitions") == 0) {
            c->q_reassign = 1;
        } else if (strncmp(path, "/config/brokers/", 16) == 0) {
            c->q_config = 1;
        }
        break;
    }
    pthread_mutex_unlock(&c->qlock);
    tr_cluster_wake(c);
}

/*
 * StopReplica: the controller moved this replica away. The fetcher lets go,
 * the role ends, and (when asked to delete) the local copy is emptied; the
 * topic's local directory goes too once no partition of it is hosted here.
 */
static void
apply_stop_replica(struct tr_cluster *c, const struct tr_stop_msg *m)
{
    size_t i, j;

    for (i = 0; i < m->nparts; i++) {
        const struct tr_stop_part *sp = &m->parts[i];
        struct tr_partition *part;
        struct entry *e;
        int hosted = 0;

        stop_following(c, sp->topic, sp->partition);
        pthread_mutex_lock(&c->lock);
        e = find_entry(c, sp->topic, sp->partition);
        if (e != NULL) {
            e->role = ROLE_NONE;
            e->role_epoch = -1;
        }
        for (j = 0; j < c->nentries; j++) {
            hosted |= c->entries[j].role != ROLE_NONE &&
                      strcmp(c->entries[j].st.topic, sp->topic) == 0;
        }
        pthread_mutex_unlock(&c->lock);
        tr_log_info("cluster: no longer a replica of %s-%d", sp->topic,
                    sp->partition);
        tr_waits_notify(c->broker->waits, sp->topic, sp->partition);
        if (!m->delete_partitions) {
            continue;
        }
        if (!hosted) {
            (void)tr_topics_delete(c->broker->topics, sp->topic);
            continue;
        }
        part = tr_topics_partition(c->broker->topics, sp->topic, sp->partition);
        if (part != NULL) {
            (void)tr_partition_reset(part, 0);
            tr_partition_unref(part);
        }
    }
}

/* Marks jobs done with 'error' (NONE: as run) and wakes their posters. */
static void
finish_jobs(struct tr_cluster *c, struct tr_ctl_job *jobs, int16_t error)
{
    struct tr_ctl_job *job, *next;

    pthread_mutex_lock(&c->qlock);
    for (job = jobs; job != NULL; job = next) {
        next = job->next;
        if (error != TR_KERR_NONE) {
            job->error = error;
        }
        if (job->abandoned) {
            tr_free(job->items);
            tr_free(job->found);
            tr_free(job);
        } else {
            job->done = 1;
        }
    }
    pthread_cond_broadcast(&c->job_done);
    pthread_mutex_unlock(&c->qlock);
}

static void
run_jobs(struct tr_cluster *c)
{
    struct tr_ctl_job *jobs, *job, *prev = NULL, *next;

    pthread_mutex_lock(&c->qlock);
    jobs = c->q_jobs;
    c->q_jobs = NULL;
    pthread_mutex_unlock(&c->qlock);
    /* The queue is newest first: run them in the order they came. */
    for (job = jobs; job != NULL; job = next) {
        next = job->next;
        job->next = prev;
        prev = job;
    }
    for (job = prev; job != NULL; job = job->next) {
        tr_controller_run_job(c, job);
    }
    finish_jobs(c, prev, TR_KERR_NONE);
}

/*
 * Hands 'job' to the cluster thread and waits up to 'timeout_ms'. Returns
 * the job when done (the caller frees it), or NULL on a timeout (the
 * cluster thread then frees it).
 */
static struct tr_ctl_job *
post_job(struct tr_cluster *c, struct tr_ctl_job *job, int timeout_ms)
{
    struct timespec until;
    int64_t deadline;

    clock_gettime(CLOCK_REALTIME, &until);
    deadline = (int64_t)until.tv_sec * 1000 + until.tv_nsec / 1000000 +
               (timeout_ms > 0 ? timeout_ms : 30000);
    until.tv_sec = (time_t)(deadline / 1000);
    until.tv_nsec = (long)(deadline % 1000) * 1000000;
    pthread_mutex_lock(&c->qlock);
    job->next = c->q_jobs;
    c->q_jobs = job;
    pthread_mutex_unlock(&c->qlock);
    tr_cluster_wake(c);
    pthread_mutex_lock(&c->qlock);
    while (!job->done) {
        if (pthread_cond_timedwait(&c->job_done, &c->qlock, &until) != 0 &&
            !job->done) {
            job->abandoned = 1;
            job = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&c->qlock);
    return job;
}

static void
free_job(struct tr_ctl_job *job)
{
    if (job != NULL) {
        tr_free(job->items);
        tr_free(job->found);
        tr_free(job);
    }
}

static struct tr_ctl_job *
new_job(enum tr_ctl_job_kind kind, const struct tr_partition_op *items,
        size_t n)
{
    struct tr_ctl_job *job = tr_calloc(1, sizeof(*job));

    if (job == NULL) {
        return NULL;
    }
    job->kind = kind;
    if (n > 0) {
        job->items = tr_calloc(n, sizeof(*items));
        if (job->items == NULL) {
            tr_free(job);
            return NULL;
        }
        memcpy(job->items, items, n * sizeof(*items));
        job->nitems = n;
    }
    return job;
}

int16_t
tr_cluster_alter_reassignments(struct tr_cluster *c,
                               struct tr_partition_op *items, size_t n,
                               int timeout_ms)
{
    struct tr_ctl_job *job = new_job(TR_CTL_REASSIGN, items, n);
    int16_t kerr;

    if (job == NULL) {
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    job = post_job(c, job, timeout_ms);
    if (job == NULL) {
        return TR_KERR_REQUEST_TIMED_OUT;
    }
    memcpy(items, job->items, n * sizeof(*items));
    kerr = job->error;
    free_job(job);
    return kerr;
}

int16_t
tr_cluster_list_reassignments(struct tr_cluster *c,
                              struct tr_partition_op **out, size_t *nout,
                              int timeout_ms)
{
    struct tr_ctl_job *job = new_job(TR_CTL_LIST_REASSIGNMENTS, NULL, 0);
    int16_t kerr;

    *out = NULL;
    *nout = 0;
    if (job == NULL) {
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    job = post_job(c, job, timeout_ms);
    if (job == NULL) {
        return TR_KERR_REQUEST_TIMED_OUT;
    }
    *out = job->found;
    *nout = job->nfound;
    job->found = NULL;
    kerr = job->error;
    free_job(job);
    return kerr;
}

int16_t
tr_cluster_elect_leaders(struct tr_cluster *c, int8_t type,
                         struct tr_partition_op *items, size_t n,
                         struct tr_partition_op **out, size_t *nout,
                         int timeout_ms)
{
    struct tr_ctl_job *job = new_job(TR_CTL_ELECT, items, n);
    int16_t kerr;

    *out = NULL;
    *nout = 0;
    if (job == NULL) {
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    job->election_type = type;
    job = post_job(c, job, timeout_ms);
    if (job == NULL) {
        return TR_KERR_REQUEST_TIMED_OUT;
    }
    if (n > 0) {
        memcpy(items, job->items, n * sizeof(*items));
    }
    *out = job->found;
    *nout = job->nfound;
    job->found = NULL;
    kerr = job->error;
    free_job(job);
    return kerr;
}

static void apply_update_metadata(struct tr_cluster *c, struct tr_state_msg *m);

/*
 * One replication throttle from the effective configuration (dynamic
 * values over static ones: collector/dynconf.h), or the static value.
 */
static int64_t
throttle_rate(const struct tr_broker_config *eff, int leader, int64_t fallback)
{
    if (eff == NULL) {
        return fallback;
    }
    return leader ? eff->leader_replication_throttled_rate
                  : eff->follower_replication_throttled_rate;
}

/*
 * Reads (and watches) /config/brokers/<id> and /config/brokers/<default>,
 * hands them to the dynamic configuration, and applies the throttles.
 */
static void
read_dynamic_config(struct tr_cluster *c)
{
    char path[64], errbuf[512], *data[2] = { NULL, NULL };
    struct tr_broker_config eff;
    int have_eff = 0;
    int64_t leader, follower;
    size_t len[2] = { 0, 0 };
    int i;

    (void)tr_zk_ensure_path(c->zk, "/config/brokers");
    for (i = 0; i < 2; i++) {
        if (i == 0) {
            snprintf(path, sizeof(path), "/config/brokers/%d", (int)c->id);
        } else {
            snprintf(path, sizeof(path), "/config/brokers/<default>");
        }
        if (tr_zk_get(c->zk, path, 1, &data[i], &len[i], NULL) != TR_OK) {
            data[i] = NULL;
        }
        if (c->broker->dynconf != NULL &&
            tr_dynconf_load_json(
                c->broker->dynconf,
                i == 0 ? TR_DYNCONF_BROKER : TR_DYNCONF_DEFAULT, data[i],
                len[i], path, errbuf, sizeof(errbuf)) != TR_OK) {
            tr_log_warn("cluster: %s", errbuf);
        }
    }
    if (c->broker->dynconf != NULL &&
        tr_dynconf_effective(c->broker->dynconf, &eff) == TR_OK) {
        have_eff = 1;
    }
    leader = throttle_rate(have_eff ? &eff : NULL, 1,
                           c->cfg->leader_replication_throttled_rate);
    follower = throttle_rate(have_eff ? &eff : NULL, 0,
                             c->cfg->follower_replication_throttled_rate);
    if (have_eff) {
        tr_broker_config_cleanup(&eff);
    }
    if (leader != tr_throttle_rate(&c->leader_throttle) ||
        follower != tr_throttle_rate(&c->follower_throttle)) {
        tr_log_info("cluster: replication throttle: leader %" PRId64
                    ", follower %" PRId64 " bytes/s",
                    leader, follower);
    }
    tr_throttle_set_rate(&c->leader_throttle, leader);
    tr_throttle_set_rate(&c->follower_throttle, follower);
    free(data[0]);
    free(data[1]);
}

/* Appends "key":"value" to a JSON object under construction. */
static void
put_member(struct tr_buf *b, int *first, const char *key, const char *value)
{
    if (!*first) {
        tr_buf_put_bytes(b, ",", 1);
    }
    (void)tr_json_put_string(b, key);
    tr_buf_put_bytes(b, ":", 1);
    (void)tr_json_put_string(b, value);
    *first = 0;
}

/* ------------------------------------------------------- topic configs */

/* Reads /config/topics/<topic>; TR_ERR_NOT_FOUND when there is none. */
static tr_err_t
read_topic_configs(struct tr_cluster *c, const char *topic,
                   struct topic_configs *tc)
{
    char path[512], *data = NULL;
    struct tr_json_value root, cfg, k, v;
    struct tr_json_iter it;
    size_t len;
    tr_err_t err;

    tc->n = 0;
    snprintf(path, sizeof(path), "/config/topics/%s", topic);
    err = tr_zk_get(c->zk, path, 0, &data, &len, NULL);
    if (err != TR_OK) {
        return err;
    }
    if (tr_json_parse(data, len, &root) == TR_OK &&
        tr_json_get(&root, "config", &cfg) == TR_OK &&
        tr_json_iter_init(&it, &cfg) == TR_OK) {
        while (tc->n < TOPIC_CONFIGS_MAX &&
               tr_json_next(&it, &k, &v) == TR_OK) {
            char *key = tc->strings[tc->n][0], *value = tc->strings[tc->n][1];
            if (tr_json_string(&k, key, TOPIC_CONFIG_LEN) != TR_OK ||
                tr_json_string(&v, value, TOPIC_CONFIG_LEN) != TR_OK) {
                continue;
            }
            tc->entries[tc->n].name = key;
            tc->entries[tc->n].value = value;
            tc->alters[tc->n].name = key;
            tc->alters[tc->n].value = value;
            tc->alters[tc->n].op = TR_CONFIG_OP_SET;
            tc->n++;
        }
    } else {
        tr_log_warn("cluster: %s is not valid JSON; ignored", path);
    }
    free(data);
    return TR_OK;
}

/*
 * Makes the local copy of a topic's configs what ZooKeeper says (the topic
 * file under log.dirs is rewritten, live partitions get the settings).
 */
static void
apply_topic_configs(struct tr_cluster *c, const char *topic)
{
    struct topic_configs *tc = tr_malloc(sizeof(*tc));
    char errbuf[256];

    if (tc == NULL) {
        return;
    }
    if (tr_topics_partition_count(c->broker->topics, topic) >= 0 &&
        read_topic_configs(c, topic, tc) == TR_OK &&
        tr_topics_alter_configs(c->broker->topics, topic, tc->alters, tc->n, 1,
                                0, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_log_warn("cluster: configs of %s from ZooKeeper: %s", topic, errbuf);
    }
    tr_free(tc);
}

/*
 * Reads the config changes announced under /config/changes since the last
 * one seen (all of them at start-up, which also brings every local topic
 * up to date) and applies the topics' configs.
 */
static void
read_config_changes(struct tr_cluster *c, int all)
{
    char **names = NULL, path[256], *data;
    int n = 0, i;
    size_t len;
    int64_t seq, newest = c->config_change_seen;

    if (tr_zk_children(c->zk, "/config/changes", 1, &names, &n) != TR_OK) {
        return;
    }
    for (i = 0; i < n; i++) {
        struct tr_json_value root, v;
        char entity[2048];
        const char *digits = strrchr(names[i], '_');

        seq = digits != NULL ? strtoll(digits + 1, NULL, 10) : -1;
        if (seq > newest) {
            newest = seq;
        }
        if (all || seq <= c->config_change_seen) {
            continue;
        }
        snprintf(path, sizeof(path), "/config/changes/%s", names[i]);
        data = NULL;
        if (tr_zk_get(c->zk, path, 0, &data, &len, NULL) == TR_OK &&
            tr_json_parse(data, len, &root) == TR_OK &&
            tr_json_get(&root, "entity_path", &v) == TR_OK &&
            tr_json_string(&v, entity, sizeof(entity)) == TR_OK) {
            if (strncmp(entity, "topics/", 7) == 0) {
                apply_topic_configs(c, entity + 7);
            } else if (strncmp(entity, "brokers/", 8) == 0) {
                /* A broker's or the default's dynamic configs. */
                read_dynamic_config(c);
            } else {
                /* Client quotas (users/..., clients/...). */
                tr_quotas_changed(c->broker->quotas, entity);
            }
        }
        free(data);
    }
    tr_zk_free_children(names, n);
    c->config_change_seen = newest;
    if (all) {
        struct tr_topic_info *topics = NULL;

        if (c->broker->quotas != NULL) {
            (void)tr_quotas_reload_all(c->broker->quotas);
        }
        size_t count = 0, t;
        if (tr_topics_list(c->broker->topics, &topics, &count) == TR_OK) {
            for (t = 0; t < count; t++) {
                apply_topic_configs(c, topics[t].name);
            }
        }
        tr_free(topics);
    }
}

/*
 * Deletes notifications more than CONFIG_CHANGES_KEPT older than 'newest'
 * (the path just created): live brokers applied them long ago, and a broker
 * that registers reads every topic's configs anyway.
 */
static void
prune_config_changes(struct tr_cluster *c, const char *newest)
{
    char **names = NULL, path[256];
    const char *digits = strrchr(newest, '_');
    int64_t last = digits != NULL ? strtoll(digits + 1, NULL, 10) : -1;
    int n = 0, i;

    if (last < CONFIG_CHANGES_KEPT ||
        tr_zk_children(c->zk, "/config/changes", 0, &names, &n) != TR_OK) {
        return;
    }
    for (i = 0; i < n; i++) {
        digits = strrchr(names[i], '_');
        if (digits != NULL &&
            strtoll(digits + 1, NULL, 10) < last - CONFIG_CHANGES_KEPT) {
            snprintf(path, sizeof(path), "/config/changes/%s", names[i]);
            (void)tr_zk_delete(c->zk, path, -1);
        }
    }
    tr_zk_free_children(names, n);
}

/*
 * Writes Kafka's {"version":1,"config":{...}} of an entity to
 * /config/<kind>/<name> and announces it with a change notification
 * ("<kind>/<name>"), so that every broker re-reads it; prunes old ones.
 */
static tr_err_t
publish_entity_config(struct tr_cluster *c, const char *kind, const char *name,
                      const char *const *keys, const char *const *values,
                      size_t n)
{
    char dir[64], path[512], note[512], created[256];
    struct tr_buf b;
    size_t i;
    int first = 1;
    tr_err_t err;

    tr_buf_init(&b, 1 << 20);
    tr_buf_put_bytes(&b, "{\"version\":1,\"config\":{", 23);
    for (i = 0; i < n; i++) {
        put_member(&b, &first, keys[i], values[i]);
    }
    tr_buf_put_bytes(&b, "}}", 2);
    snprintf(dir, sizeof(dir), "/config/%s", kind);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    (void)tr_zk_ensure_path(c->zk, dir);
    err = tr_zk_set(c->zk, path, (const char *)tr_buf_data(&b), tr_buf_len(&b),
                    -1, NULL);
    if (err == TR_ERR_NOT_FOUND) {
        err = tr_zk_create(c->zk, path, (const char *)tr_buf_data(&b),
                           tr_buf_len(&b), 0, NULL, 0);
    }
    if (err == TR_OK) {
        tr_log_info("cluster: %s now %.*s", path, (int)tr_buf_len(&b),
                    (const char *)tr_buf_data(&b));
        snprintf(note, sizeof(note),
                 "{\"version\":2,\"entity_path\":\"%s/%s\"}", kind, name);
        (void)tr_zk_ensure_path(c->zk, "/config/changes");
        err = tr_zk_create(c->zk, "/config/changes/config_change_", note,
                           strlen(note), TR_ZK_SEQUENCE, created,
                           sizeof(created));
    }
    tr_buf_cleanup(&b);
    if (err == TR_OK) {
        prune_config_changes(c, created);
        tr_cluster_wake(c);
    }
    return err;
}

int16_t
tr_cluster_topic_configs_changed(struct tr_cluster *c, const char *topic,
                                 const char *const *keys,
                                 const char *const *values, size_t n)
{
    tr_err_t err = publish_entity_config(c, "topics", topic, keys, values, n);

    if (err != TR_OK) {
        tr_log_warn("cluster: cannot publish the configs of %s: %s", topic,
                    tr_err_str(err));
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return TR_KERR_NONE;
}

int16_t
tr_cluster_alter_broker_config(struct tr_cluster *c, const char *broker,
                               const char *const *keys,
                               const char *const *values, size_t n,
                               char *errbuf, size_t errlen)
{
    const char *entity = broker[0] ? broker : "<default>";
    tr_err_t err;

    errbuf[0] = '\0';
    err = publish_entity_config(c, "brokers", entity, keys, values, n);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "cannot write /config/brokers/%s: %s", entity,
                 tr_err_str(err));
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return TR_KERR_NONE;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct tr_cluster *c = arg;
    int connected, expired, brokers, topics, isr, controller;
    struct queued_msg *msgs;
    size_t nmsgs, i;
    int reassign, config, deletes, changes, acls, http;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&c->qlock);
    connected = c->q_connected;
    expired = c->q_expired;
    brokers = c->q_brokers;
    topics = c->q_topics;
    isr = c->q_isr;
    controller = c->q_controller;
    c->q_connected = c->q_expired = c->q_brokers = c->q_topics = 0;
    c->q_isr = c->q_controller = 0;
    msgs = c->q_msgs;
    nmsgs = c->q_nmsgs;
    c->q_msgs = NULL;
    c->q_nmsgs = c->q_cap = 0;
    reassign = c->q_reassign;
    c->q_reassign = 0;
    config = c->q_config;
    c->q_config = 0;
    deletes = c->q_delete;
    c->q_delete = 0;
    changes = c->q_changes;
    c->q_changes = 0;
    acls = c->q_acls;
    c->q_acls = 0;
    http = c->q_http;
    c->q_http = 0;
    pthread_mutex_unlock(&c->qlock);

    if (expired) {
        tr_log_warn("cluster: ZooKeeper session expired; starting a new one");
        c->registered = 0;
        tr_controller_resign(c);
        (void)tr_zk_reconnect(c->zk);
    }
    if ((connected || !c->registered) && tr_zk_connected(c->zk)) {
        if (!c->registered) {
            c->registered = register_broker(c) == TR_OK;
        } else {
            /* Reconnected in time, or our node changed: check it. */
            c->registered = register_broker(c) == TR_OK;
        }
        if (c->registered) {
            controller = 1;
            config = 1;
            __atomic_store_n(&c->ever_registered, 1, __ATOMIC_RELEASE);
        }
    }
    if (http && c->registered) {
        publish_http(c);
    }
    if (controller && c->registered) {
        tr_controller_elect(c);
    }
    if (config && c->registered) {
        read_dynamic_config(c);
        /* (Re)registered: bring every local topic's configs up to date. */
        read_config_changes(c, 1);
    } else if (changes && c->registered) {
        read_config_changes(c, 0);
    }
    if ((acls || config) && c->registered && c->broker->acl != NULL) {
        /* Kafka's brokers reload the resource named; we reload them all. */
        (void)tr_acl_reload(c->broker->acl);
    }
    tr_controller_events(c, brokers, topics, isr);
    if (reassign) {
        tr_controller_legacy_reassign(c);
    }
    if (deletes) {
        tr_controller_delete_topics(c);
    }
    run_jobs(c);
    for (i = 0; i < nmsgs; i++) {
        switch (msgs[i].kind) {
        case QUEUED_LEADER_AND_ISR:
            apply_leader_and_isr(c, &msgs[i].state);
            break;
        case QUEUED_UPDATE_METADATA:
            apply_update_metadata(c, &msgs[i].state);
            break;
        case QUEUED_STOP_REPLICA:
            apply_stop_replica(c, &msgs[i].stop);
            break;
        }
        tr_rpc_state_free(&msgs[i].state);
        tr_rpc_stop_free(&msgs[i].stop);
    }
    if (nmsgs > 0) {
        /* Requests parked until the metadata shows their change. */
        tr_waits_notify(c->broker->waits, TR_WAITS_METADATA, 0);
    }
    tr_free(msgs);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tr_cluster *c = arg;
    int64_t now = tr_clock_mono_ms();
    int expand = 0;
    size_t i;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&c->lock);
    for (i = 0; i < c->nentries; i++) {
        expand |= c->entries[i].isr_expand;
    }
    pthread_mutex_unlock(&c->lock);
    if (!c->registered) {
        on_wake(-1, 0, c); /* retry registration */
    }
    tr_controller_tick(c);
    if (tr_zk_connected(c->zk) &&
        (expand ||
         now - c->last_isr_check_ms >= c->cfg->replica_lag_time_max_ms / 2)) {
        c->last_isr_check_ms = now;
        check_isr(c);
    }
}

static void *
thread_main(void *arg)
{
    struct tr_cluster *c = arg;

    event_base_dispatch(c->base);
    return NULL;
}

tr_err_t
tr_cluster_generate_broker_id(const struct tr_broker_config *cfg, int32_t *id,
                              char *errbuf, size_t errlen)
{
    struct tr_zk *zk = NULL;
    int64_t deadline;
    int32_t version = -1;
    tr_err_t err;

    err = tr_zk_open(cfg->zookeeper_connect,
                     (int)cfg->zookeeper_session_timeout_ms,
                     (int)cfg->zookeeper_connection_timeout_ms, NULL, NULL, &zk,
                     errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    deadline = tr_clock_mono_ms() + cfg->zookeeper_connection_timeout_ms;
    while (!tr_zk_connected(zk) && tr_clock_mono_ms() < deadline) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    /*
     * Kafka's generateBrokerSequenceId: an unconditional write to
     * /brokers/seqid, whose new version is unique to this caller.
     */
    err = tr_zk_ensure_path(zk, "/brokers/seqid");
    if (err == TR_OK) {
        err = tr_zk_set(zk, "/brokers/seqid", "", 0, -1, &version);
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen,
                 "broker.id=-1: cannot take a broker id from /brokers/seqid "
                 "within zookeeper.connection.timeout.ms (%s)",
                 tr_err_str(err));
        goto out;
    }
    if (version > INT32_MAX - cfg->reserved_broker_max_id) {
        snprintf(errbuf, errlen,
                 "broker.id=-1: /brokers/seqid is at %d: no id is left above "
                 "reserved.broker.max.id=%d",
                 (int)version, (int)cfg->reserved_broker_max_id);
        err = TR_ERR_OUT_OF_RANGE;
        goto out;
    }
    *id = cfg->reserved_broker_max_id + version;
    err = TR_OK;
out:
    tr_zk_close(zk);
    return err;
}

tr_err_t
tr_cluster_start(struct tr_broker *broker, struct tr_cluster **out,
                 char *errbuf, size_t errlen)
{
    struct tr_cluster *c;
    struct timeval tv = { 0, 100 * 1000 };
    size_t i;
    tr_err_t err;

    c = tr_calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    c->broker = broker;
    c->cfg = broker->cfg;
    c->id = broker->node_id;
    c->controller_id = -1;
    c->shutting_down_broker = -1;
    c->config_change_seen = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_cond_init(&c->job_done, NULL);
    tr_throttle_init(&c->leader_throttle,
                     c->cfg->leader_replication_throttled_rate);
    tr_throttle_init(&c->follower_throttle,
                     c->cfg->follower_replication_throttled_rate);
    c->ib_listener = broker->inter_broker_listener;
    for (i = 0; i < broker->nadvertised; i++) {
        if (strcmp(broker->advertised[i].name, c->ib_listener) == 0) {
            err = tr_peer_new(c->cfg, broker->advertised[i].protocol,
                              c->ib_listener, &c->peer, errbuf, errlen);
            if (err != TR_OK) {
                goto fail;
            }
        }
    }
    c->base = event_base_new();
    if (c->base == NULL) {
        err = TR_ERR_NOMEM;
        goto fail;
    }
    c->wake_ev = event_new(c->base, -1, 0, on_wake, c);
    c->tick_ev = event_new(c->base, -1, EV_PERSIST, on_tick, c);
    if (c->wake_ev == NULL || c->tick_ev == NULL) {
        err = TR_ERR_NOMEM;
        goto fail;
    }
    err = tr_zk_open(c->cfg->zookeeper_connect,
                     (int)c->cfg->zookeeper_session_timeout_ms,
                     (int)c->cfg->zookeeper_connection_timeout_ms, zk_event, c,
                     &c->zk, errbuf, errlen);
    if (err != TR_OK) {
        goto fail;
    }
    event_add(c->tick_ev, &tv);
    if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
        snprintf(errbuf, errlen, "cannot start the cluster thread");
        err = TR_ERR_IO;
        goto fail;
    }
    *out = c;
    return TR_OK;
fail:
    tr_zk_close(c->zk);
    if (c->wake_ev) {
        event_free(c->wake_ev);
    }
    if (c->tick_ev) {
        event_free(c->tick_ev);
    }
    if (c->base) {
        event_base_free(c->base);
    }
    tr_peer_free(c->peer);
    tr_free(c);
    return err;
}

int
tr_cluster_registered(const struct tr_cluster *c)
{
    return __atomic_load_n(&c->ever_registered, __ATOMIC_ACQUIRE);
}

void
tr_cluster_free(struct tr_cluster *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    __atomic_store_n(&c->stopping, 1, __ATOMIC_RELEASE);
    event_base_loopexit(c->base, NULL);
    pthread_join(c->thread, NULL);
    tr_controller_resign(c);
    for (i = 0; i < c->nfetchers; i++) {
        tr_fetcher_free(c->fetchers[i].f);
    }
    tr_zk_close(c->zk);
    event_free(c->wake_ev);
    event_free(c->tick_ev);
    event_base_free(c->base);
    for (i = 0; i < c->q_nmsgs; i++) {
        tr_rpc_state_free(&c->q_msgs[i].state);
        tr_rpc_stop_free(&c->q_msgs[i].stop);
    }
    tr_free(c->q_msgs);
    finish_jobs(c, c->q_jobs, TR_KERR_NOT_CONTROLLER);
    tr_free(c->fetchers);
    tr_free(c->senders);
    tr_free(c->live);
    tr_free(c->cparts);
    tr_free(c->entries);
    tr_free(c->slots);
    tr_free(c->brokers);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->qlock);
    pthread_cond_destroy(&c->job_done);
    tr_throttle_cleanup(&c->leader_throttle);
    tr_throttle_cleanup(&c->follower_throttle);
    tr_peer_free(c->peer); /* after every connection using it closed */
    tr_free(c);
}

/* ------------------------------------------- inter-broker request side */

/* STALE_CONTROLLER_EPOCH for a request from a deposed controller. */
static int16_t
check_controller_epoch(struct tr_cluster *c, int32_t controller_id,
                       int32_t controller_epoch)
{
    int16_t kerr = TR_KERR_NONE;

    pthread_mutex_lock(&c->lock);
    if (controller_epoch < c->controller_epoch_seen) {
        kerr = TR_KERR_STALE_CONTROLLER_EPOCH;
    } else {
        c->controller_epoch_seen = controller_epoch;
        c->controller_id = controller_id;
    }
    pthread_mutex_unlock(&c->lock);
    return kerr;
}

/*
 * Queues 'q' for the cluster thread unless it comes from a deposed
 * controller; takes what it owns in any case.
 */
static int16_t
enqueue(struct tr_cluster *c, int32_t controller_id, int32_t controller_epoch,
        struct queued_msg *q)
{
    int16_t kerr = check_controller_epoch(c, controller_id, controller_epoch);

    pthread_mutex_lock(&c->qlock);
    if (kerr == TR_KERR_NONE &&
        tr_array_reserve(&c->q_msgs, &c->q_cap, c->q_nmsgs + 1,
                         sizeof(*c->q_msgs)) != TR_OK) {
        kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    if (kerr == TR_KERR_NONE) {
        c->q_msgs[c->q_nmsgs++] = *q;
    }
    pthread_mutex_unlock(&c->qlock);
    if (kerr != TR_KERR_NONE) {
        tr_rpc_state_free(&q->state);
        tr_rpc_stop_free(&q->stop);
        return kerr;
    }
    tr_cluster_wake(c);
    return TR_KERR_NONE;
}

/* Queues a LeaderAndIsr or UpdateMetadata for the cluster thread. */
static int16_t
queue_state(struct tr_cluster *c, struct tr_state_msg *m, enum queued_kind kind)
{
    struct queued_msg q;

    memset(&q, 0, sizeof(q));
    q.kind = kind;
    q.state = *m; /* takes the arrays */
    memset(m, 0, sizeof(*m));
    return enqueue(c, q.state.controller_id, q.state.controller_epoch, &q);
}

int16_t
tr_cluster_delete_topic(struct tr_cluster *c, const char *name)
{
    char path[512];
    tr_err_t err;

    if (tr_cluster_partition_count(c, name) < 0) {
        return TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
    err = tr_zk_create(c->zk, path, NULL, 0, 0, NULL, 0);
    if (err != TR_OK && err != TR_ERR_EXISTS) {
        tr_log_warn("cluster: cannot write %s: %s", path, tr_err_str(err));
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return TR_KERR_NONE;
}

int16_t
tr_cluster_stop_replica(struct tr_cluster *c, struct tr_stop_msg *m)
{
    struct queued_msg q;

    memset(&q, 0, sizeof(q));
    q.kind = QUEUED_STOP_REPLICA;
    q.stop = *m; /* takes the array */
    memset(m, 0, sizeof(*m));
    return enqueue(c, q.stop.controller_id, q.stop.controller_epoch, &q);
}

int16_t
tr_cluster_leader_and_isr(struct tr_cluster *c, struct tr_state_msg *m)
{
    return queue_state(c, m, QUEUED_LEADER_AND_ISR);
}

int16_t
tr_cluster_update_metadata(struct tr_cluster *c, struct tr_state_msg *m)
{
    return queue_state(c, m, QUEUED_UPDATE_METADATA);
}

/* UpdateMetadata: the brokers and every partition's state, for Metadata. */
static void
apply_update_metadata(struct tr_cluster *c, struct tr_state_msg *m)
{
    size_t i;

    /* host and port: where this broker reaches each (its own listener). */
    for (i = 0; i < m->nbrokers; i++) {
        (void)tr_rpc_use_endpoint(&m->brokers[i], c->ib_listener);
    }
    pthread_mutex_lock(&c->lock);
    tr_free(c->brokers);
    c->brokers = m->brokers;
    c->nbrokers = m->nbrokers;
    m->brokers = NULL;
    m->nbrokers = 0;
    c->um_gen++;
    for (i = 0; i < m->nparts; i++) {
        struct tr_pstate *p = &m->parts[i];
        struct entry *e = get_entry(c, p->topic, p->partition);
        if (e == NULL) {
            continue;
        }
        e->um_gen = c->um_gen;
        if (p->leader_epoch > e->st.leader_epoch ||
            (p->leader_epoch == e->st.leader_epoch &&
             p->zk_version >= e->st.zk_version) ||
            e->role == ROLE_NONE) {
            if (e->role == ROLE_LEADER && p->leader_epoch == e->role_epoch) {
                /* The leader's own ISR is the fresher one. */
                memcpy(e->st.offline, p->offline, sizeof(p->offline));
                e->st.noffline = p->noffline;
            } else {
                e->st = *p;
            }
        }
    }
    /*
     * The message names every partition of the cluster: one it leaves out
     * was deleted. Metadata stops listing it (a replica's role ended with
     * the StopReplica that came first).
     */
    for (i = 0; i < c->nentries; i++) {
        struct entry *e = &c->entries[i];
        if (e->um_gen != c->um_gen && e->role == ROLE_NONE) {
            e->st.leader_epoch = -1;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

static int32_t
movable_leaderships(struct tr_cluster *c)
{
    size_t i, b;
    int32_t r, n = 0;

    for (i = 0; i < c->nentries; i++) {
        const struct entry *e = &c->entries[i];
        int movable = 0;

        if (e->role != ROLE_LEADER) {
            continue;
        }
        for (r = 0; r < e->st.nisr && !movable; r++) {
            for (b = 0; b < c->nbrokers && !movable; b++) {
                movable =
                    e->st.isr[r] != c->id && c->brokers[b].id == e->st.isr[r];
            }
        }
        n += movable;
    }
    return n;
}

void
tr_cluster_controlled_shutdown(struct tr_cluster *c)
{
    struct tr_rpc_conn conn;
    struct tr_buf body, resp;
    struct tr_broker_info *bs = NULL;
    int64_t deadline = tr_clock_mono_ms() + CONTROLLED_SHUTDOWN_MS;
    size_t nb, i;
    int32_t ctrl, movable, remaining;

    if (!c->cfg->controlled_shutdown_enable) {
        return;
    }
    /* This broker's replicas stop following: it is leaving the ISRs. */
    __atomic_store_n(&c->shutting_down, 1, __ATOMIC_RELEASE);
    tr_rpc_conn_init(&conn, "tributary-shutdown", c->peer);
    tr_buf_init(&body, 64);
    tr_buf_init(&resp, 1 << 20);
    tr_buf_put_i32(&body, c->id);
    /*
     * Ask the controller until the LeaderAndIsr it sends has made this
     * broker a follower everywhere it can be. The listeners still serve
     * meanwhile (main runs this beside its loop); a controller that is this
     * broker is asked directly.
     */
    for (;;) {
        pthread_mutex_lock(&c->lock);
        movable = movable_leaderships(c);
        pthread_mutex_unlock(&c->lock);
        if (movable == 0) {
            tr_log_info("cluster: controlled shutdown: no leaderships left");
            break;
        }
        if (tr_clock_mono_ms() >= deadline) {
            tr_log_warn("cluster: controlled shutdown: %d leaderships not "
                        "moved in time; stopping anyway",
                        movable);
            break;
        }
        ctrl = tr_cluster_controller_id(c);
        if (ctrl == c->id) {
            (void)tr_cluster_handle_controlled_shutdown(c, c->id, &remaining);
        } else {
            nb = tr_cluster_brokers(c, &bs);
            for (i = 0; i < nb; i++) {
                if (bs[i].id == ctrl) {
                    (void)tr_rpc_call(&conn, bs[i].host, bs[i].port,
                                      TR_API_CONTROLLED_SHUTDOWN,
                                      TR_RPC_CONTROLLED_SHUTDOWN_VERSION, &body,
                                      &resp, 2000);
                }
            }
            tr_free(bs);
            bs = NULL;
        }
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    tr_buf_cleanup(&body);
    tr_buf_cleanup(&resp);
    tr_rpc_conn_close(&conn);
}

/* ------------------------------------------------ SCRAM credentials */

tr_err_t
tr_cluster_user_get(struct tr_cluster *c, const char *sanitized, char **data,
                    size_t *len)
{
    char path[512];

    if (snprintf(path, sizeof(path), "/config/users/%s", sanitized) >=
        (int)sizeof(path)) {
        return TR_ERR_INVALID;
    }
    return tr_zk_get(c->zk, path, 0, data, len, NULL);
}

tr_err_t
tr_cluster_user_put(struct tr_cluster *c, const char *sanitized,
                    const char *data, size_t len)
{
    char path[512], note[512], created[256];
    tr_err_t err;

    if (snprintf(path, sizeof(path), "/config/users/%s", sanitized) >=
        (int)sizeof(path)) {
        return TR_ERR_INVALID;
    }
    (void)tr_zk_ensure_path(c->zk, "/config/users");
    err = tr_zk_set(c->zk, path, data, len, -1, NULL);
    if (err == TR_ERR_NOT_FOUND) {
        err = tr_zk_create(c->zk, path, data, len, 0, NULL, 0);
    }
    if (err != TR_OK) {
        return err;
    }
    /* Kafka's notification; our brokers read the znode at each login. */
    snprintf(note, sizeof(note), "{\"version\":2,\"entity_path\":\"users/%s\"}",
             sanitized);
    (void)tr_zk_ensure_path(c->zk, "/config/changes");
    if (tr_zk_create(c->zk, "/config/changes/config_change_", note,
                     strlen(note), TR_ZK_SEQUENCE, created,
                     sizeof(created)) == TR_OK) {
        prune_config_changes(c, created);
    }
    return TR_OK;
}

/* ------------------------------------------------ client quotas */

/* "/config/" and 'path', or TR_ERR_INVALID when it does not fit. */
static tr_err_t
config_path(char *out, size_t outlen, const char *path)
{
    return snprintf(out, outlen, "/config/%s", path) >= (int)outlen
               ? TR_ERR_INVALID
               : TR_OK;
}

tr_err_t
tr_cluster_config_get(struct tr_cluster *c, const char *path, char **data,
                      size_t *len)
{
    char full[1024];

    if (config_path(full, sizeof(full), path) != TR_OK) {
        return TR_ERR_INVALID;
    }
    return tr_zk_get(c->zk, full, 0, data, len, NULL);
}

tr_err_t
tr_cluster_config_put(struct tr_cluster *c, const char *path, const char *data,
                      size_t len)
{
    static const char empty[] = "{\"version\":1,\"config\":{}}";
    char full[1024], note[1200], created[256], *slash;
    tr_err_t err;

    if (config_path(full, sizeof(full), path) != TR_OK) {
        return TR_ERR_INVALID;
    }
    /*
     * users/<u>/clients/<c>: the user's znode is also where its SCRAM
     * credentials go, so it is made with an empty config, not no data.
     */
    slash = strstr(full, "/clients/");
    if (strncmp(path, "users/", 6) == 0 && slash != NULL) {
        *slash = '\0';
        (void)tr_zk_ensure_path(c->zk, "/config/users");
        (void)tr_zk_create(c->zk, full, empty, sizeof(empty) - 1, 0, NULL, 0);
        memcpy(slash, "/clients", 9); /* where "/clients/<c>" was */
        (void)tr_zk_ensure_path(c->zk, full);
        (void)config_path(full, sizeof(full), path);
    } else {
        slash = strrchr(full, '/');
        *slash = '\0';
        (void)tr_zk_ensure_path(c->zk, full);
        *slash = '/';
    }
    err = tr_zk_set(c->zk, full, data, len, -1, NULL);
    if (err == TR_ERR_NOT_FOUND) {
        err = tr_zk_create(c->zk, full, data, len, 0, NULL, 0);
    }
    if (err != TR_OK) {
        return err;
    }
    /* Kafka's notification: every broker reads the entity again. */
    snprintf(note, sizeof(note), "{\"version\":2,\"entity_path\":\"%s\"}",
             path);
    (void)tr_zk_ensure_path(c->zk, "/config/changes");
    err = tr_zk_create(c->zk, "/config/changes/config_change_", note,
                       strlen(note), TR_ZK_SEQUENCE, created, sizeof(created));
    if (err == TR_OK) {
        prune_config_changes(c, created);
    }
    return err;
}

tr_err_t
tr_cluster_config_children(struct tr_cluster *c, const char *path,
                           char ***names, int *count)
{
    char full[1024];
    tr_err_t err;

    *names = NULL;
    *count = 0;
    if (config_path(full, sizeof(full), path) != TR_OK) {
        return TR_ERR_INVALID;
    }
    err = tr_zk_children(c->zk, full, 0, names, count);
    return err == TR_ERR_NOT_FOUND ? TR_OK : err;
}

tr_err_t
tr_cluster_user_names(struct tr_cluster *c, char ***names, int *count)
{
    char **children = NULL, **list = NULL;
    int n = 0, i;
    tr_err_t err;

    *names = NULL;
    *count = 0;
    err = tr_zk_children(c->zk, "/config/users", 0, &children, &n);
    if (err == TR_ERR_NOT_FOUND) {
        return TR_OK;
    }
    if (err != TR_OK) {
        return err;
    }
    list = tr_calloc((size_t)n + 1, sizeof(*list));
    for (i = 0; list != NULL && i < n; i++) {
        list[i] = tr_strdup(children[i]);
        if (list[i] == NULL) {
            while (i-- > 0) {
                tr_free(list[i]);
            }
            tr_free(list);
            list = NULL;
        }
    }
    tr_zk_free_children(children, n);
    if (list == NULL) {
        return TR_ERR_NOMEM;
    }
    *names = list;
    *count = n;
    return TR_OK;
}

/* ------------------------------------------------------------- ACLs */

/* The authorizer's view of ZooKeeper (security/acl.h); any thread. */
static tr_err_t
acl_get(void *arg, const char *path, char **data, size_t *len, int32_t *version)
{
    struct tr_cluster *c = arg;
    struct tr_zk_stat st;
    tr_err_t err = tr_zk_get(c->zk, path, 0, data, len, &st);

    if (err == TR_OK) {
        *version = st.version;
    }
    return err;
}

/* Creates the parents of 'path' (everything before its last '/'). */
static void
acl_ensure_parent(struct tr_cluster *c, const char *path)
{
    char parent[1200];
    const char *slash = strrchr(path, '/');
    size_t n = slash != NULL ? (size_t)(slash - path) : 0;

    if (n > 0 && n < sizeof(parent)) {
        memcpy(parent, path, n);
        parent[n] = '\0';
        (void)tr_zk_ensure_path(c->zk, parent);
    }
}

static tr_err_t
acl_put(void *arg, const char *path, const char *data, size_t len,
        int32_t version)
{
    struct tr_cluster *c = arg;
    tr_err_t err;

    if (data == NULL) {
        return tr_zk_delete(c->zk, path, version);
    }
    if (version >= 0) {
        return tr_zk_set(c->zk, path, data, len, version, NULL);
    }
    err = tr_zk_create(c->zk, path, data, len, 0, NULL, 0);
    if (err == TR_ERR_NOT_FOUND) {
        acl_ensure_parent(c, path);
        err = tr_zk_create(c->zk, path, data, len, 0, NULL, 0);
    }
    return err;
}

static tr_err_t
acl_children(void *arg, const char *path, int watch, char ***names, int *count)
{
    struct tr_cluster *c = arg;
    tr_err_t err = tr_zk_children(c->zk, path, watch, names, count);

    if (err == TR_ERR_NOT_FOUND && watch) {
        /* Watch a notification directory even before the first change. */
        (void)tr_zk_ensure_path(c->zk, path);
        err = tr_zk_children(c->zk, path, watch, names, count);
    }
    return err;
}

static tr_err_t
acl_notify(void *arg, const char *prefix, const char *data)
{
    struct tr_cluster *c = arg;

    acl_ensure_parent(c, prefix);
    return tr_zk_create(c->zk, prefix, data, strlen(data), TR_ZK_SEQUENCE, NULL,
                        0);
}

void
tr_cluster_acl_remote(struct tr_cluster *c, struct tr_acl_remote *out)
{
    out->get = acl_get;
    out->put = acl_put;
    out->children = acl_children;
    out->free_children = tr_zk_free_children;
    out->notify = acl_notify;
    out->arg = c;
    /* The cluster thread loads them (again) now that they are remote. */
    pthread_mutex_lock(&c->qlock);
    c->q_acls = 1;
    pthread_mutex_unlock(&c->qlock);
    tr_cluster_wake(c);
}

/* ---- transaction markers --------------------------------------------------
 */

/* How long one WriteTxnMarkers may take: the leader waits for its ISR. */
#define MARKERS_TIMEOUT_MS 10000

/* Sends the markers of 'm' whose leader is 'leader' (m->tps[i].error -2). */
static void
send_markers_to(struct tr_cluster *c, struct tr_rpc_marker *m, int32_t leader,
                const struct tr_broker_info *bs, size_t nbs)
{
    struct tr_rpc_marker sub = *m;
    struct tr_rpc_conn conn;
    struct tr_buf body, resp;
    struct tr_slice in;
    const char *host = NULL;
    int32_t port = 0;
    size_t i, k = 0;
    tr_err_t err = TR_ERR_NOT_FOUND;

    sub.tps = tr_calloc(m->ntps + 1, sizeof(*sub.tps));
    if (sub.tps == NULL) {
        return;
    }
    for (i = 0; i < m->ntps; i++) {
        if (m->tps[i].error == -2) {
            sub.tps[k++] = m->tps[i];
        }
    }
    sub.ntps = k;
    for (i = 0; i < nbs; i++) {
        if (bs[i].id == leader &&
            tr_rpc_endpoint(&bs[i], c->ib_listener, &host, &port)) {
            break;
        }
    }
    tr_buf_init(&body, 4096);
    tr_buf_init(&resp, 4096);
    tr_rpc_conn_init(&conn, "tributary-txn-coordinator", c->peer);
    if (i < nbs && host != NULL) {
        tr_rpc_markers_encode(&body, &sub);
        err = tr_rpc_call(&conn, host, port, TR_API_WRITE_TXN_MARKERS, 0, &body,
                          &resp, MARKERS_TIMEOUT_MS);
    }
    if (err == TR_OK) {
        tr_slice_init(&in, tr_buf_data(&resp), tr_buf_len(&resp));
        err = tr_rpc_markers_decode_response(&in, &sub);
    }
    if (err != TR_OK) {
        tr_log_warn("cluster: WriteTxnMarkers to broker %d: %s", (int)leader,
                    tr_err_str(err));
    }
    for (i = 0, k = 0; i < m->ntps; i++) {
        if (m->tps[i].error == -2) {
            m->tps[i].error = err == TR_OK ? sub.tps[k].error
                                           : TR_KERR_NOT_LEADER_OR_FOLLOWER;
            k++;
        }
    }
    tr_rpc_conn_close(&conn);
    tr_buf_cleanup(&body);
    tr_buf_cleanup(&resp);
    tr_free(sub.tps);
}

void
tr_cluster_write_txn_markers(struct tr_cluster *c, struct tr_rpc_marker *m)
{
    struct tr_broker_info *bs = NULL;
    size_t nbs = tr_cluster_brokers(c, &bs);
    int32_t *leaders = tr_calloc(m->ntps + 1, sizeof(*leaders));
    size_t i, j;

    for (i = 0; i < m->ntps; i++) {
        struct tr_pstate st;

        m->tps[i].error = TR_KERR_NOT_LEADER_OR_FOLLOWER;
        if (leaders == NULL) {
            continue;
        }
        leaders[i] = -1;
        if (tr_cluster_partition_count(c, m->tps[i].topic) < 0) {
            m->tps[i].error = TR_KERR_NONE; /* the topic is gone */
        } else if (tr_cluster_partition_state(c, m->tps[i].topic,
                                              m->tps[i].partition, &st) &&
                   st.leader >= 0) {
            leaders[i] = st.leader;
        }
    }
    /* One request per leader, in the order the leaders first appear. */
    for (i = 0; leaders != NULL && i < m->ntps; i++) {
        if (leaders[i] < 0 ||
            m->tps[i].error != TR_KERR_NOT_LEADER_OR_FOLLOWER) {
            continue;
        }
        for (j = i; j < m->ntps; j++) {
            if (leaders[j] == leaders[i] &&
                m->tps[j].error == TR_KERR_NOT_LEADER_OR_FOLLOWER) {
                m->tps[j].error = -2;
                if (j > i) {
                    leaders[j] = -1; /* sent with this request */
                }
            }
        }
        send_markers_to(c, m, leaders[i], bs, nbs);
    }
    tr_free(leaders);
    tr_free(bs);
}
