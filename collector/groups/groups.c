/*
 * groups -- the consumer-group coordinator (see groups.h for the states,
 * the parking protocol, the record formats and how a cluster moves groups
 * between brokers).
 *
 * Groups and their members are kept in lists, and each group's offsets in
 * an array sorted by (topic, partition): a collector coordinates tens of
 * groups, not millions, and lookups under the lock stay short.
 *
 * In a cluster, every group in memory belongs to a partition of
 * __consumer_offsets this broker leads and has loaded at its current leader
 * epoch (groups->loaded[p]); serve_group() keeps it so before any request
 * touches a group, and tr_groups_tick() before any timeout does. Every
 * append checks the leadership again just before writing (still_leads), so
 * a deposed leader drops its writes instead of forking the replicated log.
 *
 * The rules follow Kafka's classic group coordinator (GroupCoordinator /
 * GroupMetadataManager): which errors come in which state, when a rebalance
 * starts, that commits from the current generation are accepted while a
 * rebalance is being prepared (consumers commit as they revoke), and that
 * generation -1 with no member id commits for "simple" consumers only while
 * the group has no members.
 */
#include "groups.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "partition.h"
#include "topics.h"
#include "waits.h"

/* Kafka's OFFSET_METADATA_TOO_LARGE; err.h lists only the common codes. */
#define KERR_OFFSET_METADATA_TOO_LARGE 12

/* Extra time a parked request waits past the group's own deadline. */
#define PARK_SLACK_MS 2000
/* How often empty groups are checked for expired offsets. */
#define EXPIRY_INTERVAL_MS 10000
/* Largest batch written to __consumer_offsets. */
#define BATCH_MAX (64u << 20)
/* Bytes read from __consumer_offsets at a time during the replay. */
#define LOAD_CHUNK (1u << 20)

struct protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
};

struct member {
    TAILQ_ENTRY(member) link;
    char *id;
    char *instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    struct protocol *protocols;
    int32_t nprotocols;
    uint8_t *assignment;
    int32_t assignment_len;
    int64_t last_heartbeat;
    int join_waiting; /* joined this rebalance, waits for it to complete */
    int join_ready;   /* join completed; its parked request collects it */
    int sync_waiting; /* follower waiting for the leader's assignments */
    const void *token;
};

TAILQ_HEAD(member_list, member);

struct pending_id {
    char *id;
    int64_t expire_ms;
};

struct offset_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;       /* NUL-terminated, but may hold NULs */
    int32_t metadata_len; /* its bytes, exactly as committed */
    int64_t commit_ts;
};

/* A TxnOffsetCommit waiting for its transaction's marker. */
struct txn_offset {
    int64_t producer_id;
    struct offset_entry e;
};

struct group {
    TAILQ_ENTRY(group) link;
    char *id;
    char *wait_key; /* "__group:<id>" */
    enum tr_group_state state;
    int32_t generation;
    char *protocol_type; /* "" until a member joins */
    char *protocol;      /* NULL: none chosen */
    char *leader;        /* NULL: none */
    struct member_list members;
    int nmembers;
    struct pending_id *pending; /* ids handed out with MEMBER_ID_REQUIRED */
    size_t npending;
    int64_t rebalance_deadline;
    int64_t delay_until; /* initial delay: the join completes no earlier */
    int64_t delay_limit;
    int64_t state_ts;
    struct offset_entry *offsets;
    size_t noffsets, offcap;
    struct txn_offset *txn_offsets; /* pending until the marker */
    size_t ntxn_offsets, txn_offcap;
    int meta_in_log; /* a group metadata record exists (tombstone on delete) */
    int32_t partition; /* of __consumer_offsets */
    /*
     * Cluster: the leader's SyncGroup stored the assignments and the group
     * metadata record waits to be committed (partition -1: nothing waits);
     * the group becomes Stable when it is, or rebalances at the deadline.
     */
    struct tr_groups_ack sync_ack;
    int64_t sync_deadline;
};

TAILQ_HEAD(group_list, group);

struct tr_groups {
    pthread_mutex_t lock;
    struct tr_topics *topics;
    struct tr_waits *waits;
    struct tr_groups_config cfg;
    int32_t partitions; /* 0 in a cluster until the cluster knows the topic */
    struct group_list groups;
    uint64_t id_state; /* splitmix64 state for member ids */
    int64_t next_expiry;
    struct tr_batch_builder *builder;
    struct tr_buf key, value, batch;
    int clustered;
    struct tr_groups_cluster cluster;
    /* Cluster: per partition, the leader epoch its groups were loaded at
     * (-1: not loaded, none of its groups in memory). */
    int32_t *loaded;
    struct tr_groups_ack last; /* where the last write_batch() appended */
};

/* ---- small helpers ---------------------------------------------------- */

static int
str_empty(const struct tr_str *s)
{
    return s->len <= 0;
}

/* Returns an owned NUL-terminated copy ("" for null), or NULL on OOM. */
static char *
str_dup(const struct tr_str *s)
{
    return tr_strndup(s->len > 0 ? s->ptr : "",
                      s->len > 0 ? (size_t)s->len : 0);
}

static struct tr_str
cstr(const char *c)
{
    struct tr_str s;

    s.ptr = c;
    s.len = c != NULL ? (int32_t)strlen(c) : -1;
    return s;
}

static uint8_t *
bytes_dup(const void *p, int32_t len)
{
    uint8_t *copy = tr_malloc(len > 0 ? (size_t)len : 1);

    if (copy != NULL && len > 0) {
        memcpy(copy, p, (size_t)len);
    }
    return copy;
}

static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Returns an owned "<prefix>-<uuid>" member id, as Kafka makes them. */
static char *
new_member_id(struct tr_groups *groups, const struct tr_str *prefix)
{
    uint64_t a = splitmix64(&groups->id_state);
    uint64_t b = splitmix64(&groups->id_state);
    size_t plen = prefix->len > 0 ? (size_t)prefix->len : 0;
    char *id = tr_malloc(plen + 38);

    if (id == NULL) {
        return NULL;
    }
    memcpy(id, prefix->len > 0 ? prefix->ptr : "", plen);
    snprintf(id + plen, 38, "-%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff,
             (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffull));
    return id;
}

/*
 * Java's String.hashCode over the UTF-16 code units of 'group' (UTF-8 on
 * the wire), so that a group lands in the partition Kafka would use.
 */
int32_t
tr_groups_partition_for(const struct tr_str *group, int32_t partitions)
{
    const uint8_t *p = (const uint8_t *)group->ptr;
    size_t n = group->len > 0 ? (size_t)group->len : 0, i = 0;
    uint32_t h = 0;
    int32_t sh;

    while (i < n) {
        uint32_t cp = p[i];
        size_t extra = 0;

        if (cp >= 0xf0 && cp < 0xf8) {
            cp &= 0x07;
            extra = 3;
        } else if (cp >= 0xe0) {
            cp &= 0x0f;
            extra = 2;
        } else if (cp >= 0xc0) {
            cp &= 0x1f;
            extra = 1;
        }
        if (cp >= 0x80 && extra == 0) {
            cp = 0xfffd; /* stray byte: Java decodes it as U+FFFD */
        }
        i++;
        while (extra > 0 && i < n && (p[i] & 0xc0) == 0x80) {
            cp = (cp << 6) | (p[i] & 0x3f);
            i++;
            extra--;
        }
        if (extra > 0) {
            cp = 0xfffd;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31 + (0xd800 + (cp >> 10));
            h = h * 31 + (0xdc00 + (cp & 0x3ff));
        } else {
            h = h * 31 + cp;
        }
    }
    sh = (int32_t)h;
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
    sh = sh == INT32_MIN ? 0 : (sh < 0 ? -sh : sh);
    return partitions > 0 ? sh % partitions : 0;
}

const char *
tr_group_state_name(enum tr_group_state state)
{
    switch (state) {
    case TR_GROUP_EMPTY:
        return "Empty";
    case TR_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case TR_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case TR_GROUP_STABLE:
        return "Stable";
    case TR_GROUP_DEAD:
        return "Dead";
    }
    return "Dead";
}

void
tr_groups_config_defaults(struct tr_groups_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->min_session_timeout_ms = 6000;
    cfg->max_session_timeout_ms = 1800000;
    cfg->initial_rebalance_delay_ms = 3000;
    cfg->offsets_retention_ms = 10080LL * 60 * 1000;
    cfg->offsets_partitions = 50;
    cfg->metadata_max_bytes = 4096;
    cfg->commit_timeout_ms = TR_GROUPS_COMMIT_TIMEOUT_MS;
    cfg->max_size = INT32_MAX;
}

/* ---- record codec ----------------------------------------------------- */

void
tr_groups_put_offset_key(struct tr_buf *out, const struct tr_str *group,
                         const struct tr_str *topic, int32_t partition)
{
    tr_buf_put_i16(out, 1); /* version */
    tr_proto_put_string_v(out, 0, group->ptr, group->len < 0 ? 0 : group->len);
    tr_proto_put_string_v(out, 0, topic->ptr, topic->len < 0 ? 0 : topic->len);
    tr_buf_put_i32(out, partition);
}

void
tr_groups_put_offset_value(struct tr_buf *out, int64_t offset,
                           int32_t leader_epoch, const struct tr_str *metadata,
                           int64_t commit_ts)
{
    tr_buf_put_i16(out, 3); /* version */
    tr_buf_put_i64(out, offset);
    tr_buf_put_i32(out, leader_epoch);
    tr_proto_put_string_v(out, 0, metadata->len > 0 ? metadata->ptr : "",
                          metadata->len > 0 ? metadata->len : 0);
    tr_buf_put_i64(out, commit_ts);
}

static void
put_group_key(struct tr_buf *out, const char *group)
{
    tr_buf_put_i16(out, 2); /* version */
    tr_proto_put_cstring_v(out, 0, group);
}

tr_err_t
tr_groups_decode_key(const uint8_t *p, size_t len, struct tr_groups_key *key)
{
    struct tr_slice s;
    int16_t version;

    tr_slice_init(&s, p, len);
    memset(key, 0, sizeof(*key));
    if (tr_slice_get_i16(&s, &version) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (version == 0 || version == 1) {
        key->type = TR_GROUPS_KEY_OFFSET;
        if (tr_proto_get_string(&s, &key->group) != TR_OK ||
            tr_proto_get_string(&s, &key->topic) != TR_OK ||
            tr_slice_get_i32(&s, &key->partition) != TR_OK ||
            key->group.len < 0 || key->topic.len < 0) {
            return TR_ERR_CORRUPT;
        }
        return TR_OK;
    }
    if (version == 2) {
        key->type = TR_GROUPS_KEY_GROUP;
        if (tr_proto_get_string(&s, &key->group) != TR_OK ||
            key->group.len < 0) {
            return TR_ERR_CORRUPT;
        }
        return TR_OK;
    }
    return TR_ERR_UNSUPPORTED;
}

tr_err_t
tr_groups_decode_offset_value(const uint8_t *p, size_t len,
                              struct tr_groups_offset_value *val)
{
    struct tr_slice s;
    int16_t version;
    int64_t expire;

    tr_slice_init(&s, p, len);
    memset(val, 0, sizeof(*val));
    val->leader_epoch = -1;
    if (tr_slice_get_i16(&s, &version) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (version < 0 || version > 3) {
        return TR_ERR_UNSUPPORTED;
    }
    if (tr_slice_get_i64(&s, &val->offset) != TR_OK ||
        (version >= 3 && tr_slice_get_i32(&s, &val->leader_epoch) != TR_OK) ||
        tr_proto_get_string(&s, &val->metadata) != TR_OK ||
        tr_slice_get_i64(&s, &val->commit_ts) != TR_OK ||
        (version == 1 && tr_slice_get_i64(&s, &expire) != TR_OK)) {
        return TR_ERR_CORRUPT;
    }
    return TR_OK;
}

/* ---- members and groups ----------------------------------------------- */

static void
protocols_free(struct protocol *protos, int32_t n)
{
    int32_t i;

    for (i = 0; protos != NULL && i < n; i++) {
        tr_free(protos[i].name);
        tr_free(protos[i].metadata);
    }
    tr_free(protos);
}

static void
member_free(struct member *m)
{
    if (m == NULL) {
        return;
    }
    tr_free(m->id);
    tr_free(m->instance_id);
    tr_free(m->client_id);
    tr_free(m->client_host);
    protocols_free(m->protocols, m->nprotocols);
    tr_free(m->assignment);
    tr_free(m);
}

static void
group_free(struct group *g)
{
    struct member *m;
    size_t i;

    if (g == NULL) {
        return;
    }
    while ((m = TAILQ_FIRST(&g->members)) != NULL) {
        TAILQ_REMOVE(&g->members, m, link);
        member_free(m);
    }
    for (i = 0; i < g->npending; i++) {
        tr_free(g->pending[i].id);
    }
    tr_free(g->pending);
    for (i = 0; i < g->noffsets; i++) {
        tr_free(g->offsets[i].topic);
        tr_free(g->offsets[i].metadata);
    }
    tr_free(g->offsets);
    for (i = 0; i < g->ntxn_offsets; i++) {
        tr_free(g->txn_offsets[i].e.topic);
        tr_free(g->txn_offsets[i].e.metadata);
    }
    tr_free(g->txn_offsets);
    tr_free(g->id);
    tr_free(g->wait_key);
    tr_free(g->protocol_type);
    tr_free(g->protocol);
    tr_free(g->leader);
    tr_free(g);
}

static struct group *
group_find(struct tr_groups *groups, const struct tr_str *id)
{
    struct group *g;

    TAILQ_FOREACH(g, &groups->groups, link) {
        if (tr_str_eq(id, g->id)) {
            return g;
        }
    }
    return NULL;
}

/* Returns the group, creating it Empty; NULL on OOM. */
static struct group *
group_get(struct tr_groups *groups, const struct tr_str *id, int64_t now_ms)
{
    struct group *g = group_find(groups, id);
    size_t klen;

    if (g != NULL) {
        return g;
    }
    g = tr_calloc(1, sizeof(*g));
    if (g == NULL) {
        return NULL;
    }
    TAILQ_INIT(&g->members);
    g->id = str_dup(id);
    g->protocol_type = tr_strdup("");
    klen = strlen("__group:") + (id->len > 0 ? (size_t)id->len : 0) + 1;
    g->wait_key = tr_malloc(klen);
    if (g->id == NULL || g->protocol_type == NULL || g->wait_key == NULL) {
        group_free(g);
        return NULL;
    }
    snprintf(g->wait_key, klen, "__group:%s", g->id);
    g->state = TR_GROUP_EMPTY;
    g->state_ts = now_ms;
    g->partition = tr_groups_partition_for(id, groups->partitions);
    g->sync_ack.partition = -1;
    TAILQ_INSERT_TAIL(&groups->groups, g, link);
    return g;
}

static void
group_remove(struct tr_groups *groups, struct group *g)
{
    TAILQ_REMOVE(&groups->groups, g, link);
    if (groups->cfg.removed != NULL) {
        groups->cfg.removed(groups->cfg.removed_arg, g->id);
    }
    group_free(g);
}

int
tr_groups_exists(struct tr_groups *groups, const struct tr_str *id)
{
    int found;

    pthread_mutex_lock(&groups->lock);
    found = group_find(groups, id) != NULL;
    pthread_mutex_unlock(&groups->lock);
    return found;
}

static struct member *
member_find(struct group *g, const struct tr_str *id)
{
    struct member *m;

    if (g == NULL || str_empty(id)) {
        return NULL;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        if (tr_str_eq(id, m->id)) {
            return m;
        }
    }
    return NULL;
}

static struct member *
member_find_instance(struct group *g, const struct tr_str *instance_id)
{
    struct member *m;

    if (g == NULL || instance_id->len < 0) {
        return NULL;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        if (m->instance_id != NULL && tr_str_eq(instance_id, m->instance_id)) {
            return m;
        }
    }
    return NULL;
}

/* A parked join of a new member comes back without its id: find it. */
static struct member *
member_find_token(struct group *g, const void *token)
{
    struct member *m;

    if (g == NULL || token == NULL) {
        return NULL;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        if (m->token == token && (m->join_waiting || m->join_ready)) {
            return m;
        }
    }
    return NULL;
}

/*
 * With an instance id, the instance must map to this member id: another
 * id means this one was replaced by a newer incarnation (static
 * membership), which Kafka answers with FENCED_INSTANCE_ID.
 */
static int
fenced(struct group *g, const struct tr_str *member_id,
       const struct tr_str *instance_id)
{
    struct member *mi = member_find_instance(g, instance_id);

    return mi != NULL && !tr_str_eq(member_id, mi->id);
}

static void
notify(struct tr_groups *groups, struct group *g)
{
    if (groups->waits != NULL) {
        tr_waits_notify(groups->waits, g->wait_key, 0);
    }
}

static int
is_leader(const struct group *g, const struct member *m)
{
    return g->leader != NULL && strcmp(g->leader, m->id) == 0;
}

static const struct protocol *
member_protocol(const struct member *m, const char *name)
{
    int32_t i;

    for (i = 0; name != NULL && i < m->nprotocols; i++) {
        if (strcmp(m->protocols[i].name, name) == 0) {
            return &m->protocols[i];
        }
    }
    return NULL;
}

/* 1 if every member other than 'skip' supports protocol 'name'. */
static int
all_support(const struct group *g, const struct member *skip,
            const struct tr_str *name)
{
    const struct member *m;
    int32_t i;

    TAILQ_FOREACH(m, &g->members, link) {
        int found = 0;

        if (m == skip) {
            continue;
        }
        for (i = 0; i < m->nprotocols && !found; i++) {
            found = tr_str_eq(name, m->protocols[i].name);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/*
 * Picks the protocol by vote, as Kafka does: among those every member
 * supports, each member votes for the first in its own preference order;
 * the most votes win (ties go to the first member's preference).
 */
static const char *
select_protocol(const struct group *g)
{
    const struct member *first = TAILQ_FIRST(&g->members), *m;
    const char *best = NULL;
    int best_votes = -1;
    int32_t i, j;

    if (first == NULL) {
        return NULL;
    }
    for (i = 0; i < first->nprotocols; i++) {
        struct tr_str name = cstr(first->protocols[i].name);
        int votes = 0;

        if (!all_support(g, NULL, &name)) {
            continue;
        }
        TAILQ_FOREACH(m, &g->members, link) {
            for (j = 0; j < m->nprotocols; j++) {
                struct tr_str cand = cstr(m->protocols[j].name);

                if (all_support(g, NULL, &cand)) {
                    votes += strcmp(m->protocols[j].name, name.ptr) == 0;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = first->protocols[i].name;
            best_votes = votes;
        }
    }
    return best;
}

/* ---- persistence ------------------------------------------------------ */

/*
 * Cluster: 1 if this broker still leads partition 'p' at the epoch its
 * groups were loaded at (*epoch gets it). Asked right before every append:
 * a leader deposed since the request began must not write, or its log
 * would fork from the new leader's.
 */
static int
still_leads(struct tr_groups *groups, int32_t p, int32_t *epoch)
{
    return groups->loaded != NULL && groups->loaded[p] >= 0 &&
           groups->cluster.leader_epoch(groups->cluster.arg, p, 0, epoch) ==
               TR_KERR_NONE &&
           *epoch == groups->loaded[p];
}

/*
 * Appends the records in the builder as one batch to the group's partition
 * of __consumer_offsets; in a cluster only as its leader, through the
 * replicated path, and groups->last says what to wait for. TR_ERR_STALE
 * when this broker no longer leads the partition (nothing written). Called
 * with the lock held.
 */
static tr_err_t
write_batch(struct tr_groups *groups, const struct group *g)
{
    int32_t index = g->partition, epoch = -1;
    struct tr_partition *part = NULL;
    struct tr_append_result res;
    tr_err_t err;

    groups->last.partition = -1;
    tr_buf_reset(&groups->batch);
    err = tr_batch_builder_finish(groups->builder, &groups->batch);
    tr_batch_builder_reset(groups->builder);
    if (err != TR_OK || (err = tr_buf_err(&groups->batch)) != TR_OK) {
        goto out;
    }
    if (groups->clustered && !still_leads(groups, index, &epoch)) {
        err = TR_ERR_STALE;
        goto out;
    }
    part = tr_topics_partition(groups->topics, TR_GROUPS_TOPIC, index);
    if (part == NULL) {
        err = TR_ERR_NOT_FOUND;
        goto out;
    }
    err = tr_partition_append(part, tr_buf_data(&groups->batch),
                              tr_buf_len(&groups->batch), &res);
    if (err == TR_OK && groups->clustered) {
        /* Moves the HW at once when the ISR is this broker alone. */
        groups->cluster.appended(groups->cluster.arg, part);
        groups->last.partition = index;
        groups->last.epoch = epoch;
        groups->last.last_offset = res.last_offset;
    }
    if (err == TR_OK && groups->waits != NULL) {
        tr_waits_notify(groups->waits, TR_GROUPS_TOPIC, index);
    }
out:
    if (err == TR_ERR_STALE) {
        tr_log_info("group '%s': %s-%d has a new leader; not written",
                    TR_LOG_ESC(g->id), TR_GROUPS_TOPIC, index);
    } else if (err != TR_OK) {
        tr_log_error("cannot write group '%s' to %s-%d: %s", TR_LOG_ESC(g->id),
                     TR_GROUPS_TOPIC, index, tr_err_str(err));
    }
    tr_partition_unref(part);
    return err;
}

static tr_err_t
add_record(struct tr_groups *groups, int64_t now_ms, int tombstone)
{
    if (tr_buf_err(&groups->key) != TR_OK ||
        tr_buf_err(&groups->value) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    return tr_batch_builder_add(
        groups->builder, now_ms, tr_buf_data(&groups->key),
        (int32_t)tr_buf_len(&groups->key),
        tombstone ? NULL : tr_buf_data(&groups->value),
        tombstone ? -1 : (int32_t)tr_buf_len(&groups->value), NULL, 0);
}

/* Encodes GroupMetadataValue v3 for 'g' into groups->value. */
static void
put_group_value(struct tr_buf *out, const struct group *g)
{
    const struct member *m;

    tr_buf_put_i16(out, 3); /* version */
    tr_proto_put_cstring_v(out, 0, g->protocol_type);
    tr_buf_put_i32(out, g->generation);
    tr_proto_put_cstring_v(out, 0, g->protocol);
    tr_proto_put_cstring_v(out, 0, g->leader);
    tr_buf_put_i64(out, g->state_ts); /* current_state_timestamp */
    tr_buf_put_i32(out, g->state == TR_GROUP_EMPTY ? 0 : g->nmembers);
    if (g->state == TR_GROUP_EMPTY) {
        return;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        const struct protocol *p = member_protocol(m, g->protocol);

        tr_proto_put_cstring_v(out, 0, m->id);
        tr_proto_put_cstring_v(out, 0, m->instance_id);
        tr_proto_put_cstring_v(out, 0, m->client_id);
        tr_proto_put_cstring_v(out, 0, m->client_host);
        tr_buf_put_i32(out, m->rebalance_timeout_ms);
        tr_buf_put_i32(out, m->session_timeout_ms);
        tr_proto_put_bytes_v(out, 0, p ? p->metadata : NULL,
                             p ? p->metadata_len : 0);
        tr_proto_put_bytes_v(out, 0, m->assignment,
                             m->assignment ? m->assignment_len : 0);
    }
}

/* Writes the group's metadata record (or its tombstone). */
static tr_err_t
write_group(struct tr_groups *groups, struct group *g, int64_t now_ms,
            int tombstone)
{
    tr_err_t err;

    tr_buf_reset(&groups->key);
    tr_buf_reset(&groups->value);
    put_group_key(&groups->key, g->id);
    if (!tombstone) {
        put_group_value(&groups->value, g);
    }
    err = add_record(groups, now_ms, tombstone);
    if (err == TR_OK) {
        err = write_batch(groups, g);
    } else {
        tr_batch_builder_reset(groups->builder);
    }
    if (err == TR_OK) {
        g->meta_in_log = !tombstone;
    }
    return err;
}

/* ---- offsets in memory ------------------------------------------------ */

static int
offset_cmp(const struct offset_entry *e, const struct tr_str *topic,
           int32_t partition)
{
    size_t elen = strlen(e->topic);
    size_t tlen = topic->len > 0 ? (size_t)topic->len : 0;
    int c = memcmp(e->topic, topic->ptr, elen < tlen ? elen : tlen);

    if (c != 0) {
        return c;
    }
    if (elen != tlen) {
        return elen < tlen ? -1 : 1;
    }
    return e->partition < partition ? -1 : (e->partition > partition);
}

/* Index of the entry, or of where it would go (*found says which). */
static size_t
offset_search(const struct group *g, const struct tr_str *topic,
              int32_t partition, int *found)
{
    size_t lo = 0, hi = g->noffsets;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = offset_cmp(&g->offsets[mid], topic, partition);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static tr_err_t
offset_set(struct group *g, const struct tr_str *topic, int32_t partition,
           int64_t offset, int32_t epoch, const struct tr_str *metadata,
           int64_t commit_ts)
{
    int found;
    size_t i = offset_search(g, topic, partition, &found);
    char *meta = str_dup(metadata);
    struct offset_entry *e;

    if (meta == NULL) {
        return TR_ERR_NOMEM;
    }
    if (!found) {
        char *name = str_dup(topic);

        if (name == NULL) {
            tr_free(meta);
            return TR_ERR_NOMEM;
        }
        if (g->noffsets == g->offcap) {
            size_t cap = g->offcap ? g->offcap * 2 : 16;
            struct offset_entry *grown =
                tr_realloc(g->offsets, cap * sizeof(*grown));

            if (grown == NULL) {
                tr_free(meta);
                tr_free(name);
                return TR_ERR_NOMEM;
            }
            g->offsets = grown;
            g->offcap = cap;
        }
        memmove(&g->offsets[i + 1], &g->offsets[i],
                (g->noffsets - i) * sizeof(*e));
        g->noffsets++;
        e = &g->offsets[i];
        e->topic = name;
        e->partition = partition;
        e->metadata = NULL;
    }
    e = &g->offsets[i];
    tr_free(e->metadata);
    e->metadata = meta;
    e->metadata_len = metadata->len > 0 ? metadata->len : 0;
    e->offset = offset;
    e->leader_epoch = epoch;
    e->commit_ts = commit_ts;
    return TR_OK;
}

static void
offset_delete_at(struct group *g, size_t i)
{
    tr_free(g->offsets[i].topic);
    tr_free(g->offsets[i].metadata);
    memmove(&g->offsets[i], &g->offsets[i + 1],
            (g->noffsets - i - 1) * sizeof(g->offsets[0]));
    g->noffsets--;
}

static void
offset_delete(struct group *g, const struct tr_str *topic, int32_t partition)
{
    int found;
    size_t i = offset_search(g, topic, partition, &found);

    if (found) {
        offset_delete_at(g, i);
    }
}

/* ---- leadership (in a cluster) --------------------------------------- */

/* Defined with the replay, below. */
static tr_err_t load_partition(struct tr_groups *groups,
                               struct tr_partition *part, int32_t only,
                               int64_t now_ms, int64_t *records);

/*
 * Forgets the Empty groups of partition 'p' (all with -1) that have no
 * offsets and no metadata record: the replay makes one for every key it
 * sees, tombstoned or not.
 */
static void
drop_unused(struct tr_groups *groups, int32_t p)
{
    struct group *g, *gnext;

    for (g = TAILQ_FIRST(&groups->groups); g != NULL; g = gnext) {
        gnext = TAILQ_NEXT(g, link);
        if ((p < 0 || g->partition == p) && g->state == TR_GROUP_EMPTY &&
            g->noffsets == 0 && !g->meta_in_log) {
            group_remove(groups, g);
        }
    }
}

/*
 * Cluster: learns the partition count of __consumer_offsets once the
 * cluster knows the topic. Groups are placed by it, so it is taken once
 * and kept. 0 while unknown.
 */
static int
know_partitions(struct tr_groups *groups)
{
    int32_t n, i;

    if (groups->partitions > 0) {
        return 1;
    }
    n = groups->cluster.partitions(groups->cluster.arg);
    if (n <= 0) {
        return 0;
    }
    groups->loaded = tr_calloc((size_t)n, sizeof(*groups->loaded));
    if (groups->loaded == NULL) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        groups->loaded[i] = -1;
    }
    groups->partitions = n;
    return 1;
}

/*
 * Drops the groups of partition 'p' from memory: this broker no longer
 * leads it, or leads it at a new epoch and replays it. Parked joins and
 * syncs of those groups are woken to find out.
 */
static void
unload_partition(struct tr_groups *groups, int32_t p)
{
    struct group *g, *gnext;
    size_t n = 0;

    for (g = TAILQ_FIRST(&groups->groups); g != NULL; g = gnext) {
        gnext = TAILQ_NEXT(g, link);
        if (g->partition == p) {
            notify(groups, g);
            group_remove(groups, g);
            n++;
        }
    }
    if (groups->loaded[p] >= 0) {
        tr_log_info("%s-%d: leader epoch %d is over; %zu groups unloaded",
                    TR_GROUPS_TOPIC, p, groups->loaded[p], n);
    }
    groups->loaded[p] = -1;
}

/* Replays partition 'p' to its log end: this broker leads it at 'epoch'. */
static int16_t
load_led_partition(struct tr_groups *groups, int32_t p, int32_t epoch,
                   int64_t now_ms)
{
    struct tr_partition *part;
    int64_t records = 0, t0 = tr_clock_mono_ms();
    size_t n = 0;
    struct group *g;
    tr_err_t err;

    part = tr_topics_partition(groups->topics, TR_GROUPS_TOPIC, p);
    if (part == NULL) {
        return TR_KERR_COORDINATOR_NOT_AVAILABLE; /* no local log yet */
    }
    err = load_partition(groups, part, p, now_ms, &records);
    tr_partition_unref(part);
    if (err != TR_OK) {
        tr_log_error("cannot load %s-%d: %s", TR_GROUPS_TOPIC, p,
                     tr_err_str(err));
        unload_partition(groups, p); /* nothing half-loaded stays */
        return TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    drop_unused(groups, p);
    groups->loaded[p] = epoch;
    TAILQ_FOREACH(g, &groups->groups, link) {
        n += g->partition == p;
    }
    tr_log_info("%s-%d: coordinating its %zu groups at leader epoch %d "
                "(%lld records replayed in %lld ms)",
                TR_GROUPS_TOPIC, p, n, epoch, (long long)records,
                (long long)(tr_clock_mono_ms() - t0));
    return TR_KERR_NONE;
}

/*
 * Makes sure this broker may serve the groups of partition 'p' and has
 * them loaded at the current leader epoch: TR_KERR_NONE, NOT_COORDINATOR
 * or COORDINATOR_NOT_AVAILABLE. Groups of 'p' held by the caller are
 * invalid afterwards (they may have been reloaded). Cluster only.
 */
static int16_t
serve_partition(struct tr_groups *groups, int32_t p, int64_t now_ms)
{
    int32_t epoch = -1;

    if (groups->cluster.leader_epoch(groups->cluster.arg, p, 0, &epoch) !=
        TR_KERR_NONE) {
        if (groups->loaded[p] >= 0) {
            unload_partition(groups, p);
        }
        return TR_KERR_NOT_COORDINATOR;
    }
    if (groups->loaded[p] == epoch) {
        return TR_KERR_NONE;
    }
    /*
     * A new epoch: while this broker followed, the partition grew by
     * replication, which this module never saw.
     */
    if (groups->loaded[p] >= 0) {
        unload_partition(groups, p);
    }
    return load_led_partition(groups, p, epoch, now_ms);
}

/*
 * serve_partition() for the partition of 'group_id'; always TR_KERR_NONE
 * on a single collector. Call before looking the group up.
 */
static int16_t
serve_group(struct tr_groups *groups, const struct tr_str *group_id,
            int64_t now_ms)
{
    if (!groups->clustered) {
        return TR_KERR_NONE;
    }
    if (!know_partitions(groups)) {
        return TR_KERR_NOT_COORDINATOR;
    }
    return serve_partition(
        groups, tr_groups_partition_for(group_id, groups->partitions), now_ms);
}

/* The cluster's answer on a write, as a coordinator error (see groups.h). */
static int16_t
ack_state(struct tr_groups *groups, const struct tr_groups_ack *ack)
{
    int16_t kerr;

    if (ack->partition < 0 || !groups->clustered) {
        return TR_KERR_NONE;
    }
    kerr = groups->cluster.acked(groups->cluster.arg, ack->partition,
                                 ack->epoch, ack->last_offset);
    /* Kafka's mapping: the leadership moved, so did the coordinator. */
    return kerr > 0 ? TR_KERR_NOT_COORDINATOR : kerr;
}

int16_t
tr_groups_acked(struct tr_groups *groups, const struct tr_groups_ack *ack)
{
    /* No group state is read: the cluster's lock is enough. */
    return ack_state(groups, ack);
}

int32_t
tr_groups_coordinator_partition(struct tr_groups *groups,
                                const struct tr_str *group)
{
    int32_t p = -1;

    pthread_mutex_lock(&groups->lock);
    if (!groups->clustered || know_partitions(groups)) {
        p = tr_groups_partition_for(group, groups->partitions);
    }
    pthread_mutex_unlock(&groups->lock);
    return p;
}

/* ---- the state machine ------------------------------------------------ */

static void
set_str(char **slot, const char *value)
{
    char *copy = value != NULL ? tr_strdup(value) : NULL;

    if (value != NULL && copy == NULL) {
        return; /* keep the old value rather than lose it */
    }
    tr_free(*slot);
    *slot = copy;
}

/* Starts a rebalance: every member must join again. */
static void
prepare_rebalance(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    struct member *m;
    int32_t timeout = 0;

    TAILQ_FOREACH(m, &g->members, link) {
        if (m->rebalance_timeout_ms > timeout) {
            timeout = m->rebalance_timeout_ms;
        }
        m->sync_waiting = 0;
    }
    g->rebalance_deadline = now_ms + timeout;
    g->delay_until = 0;
    g->sync_ack.partition = -1; /* that generation's assignment is moot */
    if (g->state == TR_GROUP_EMPTY) {
        /*
         * Kafka's InitialDelayedJoin: the first members of a new group
         * usually start together, so wait a little for the others instead
         * of rebalancing once per arrival.
         */
        int32_t delay = groups->cfg.initial_rebalance_delay_ms;

        g->delay_limit = g->rebalance_deadline;
        g->delay_until = now_ms + (delay < timeout ? delay : timeout);
    }
    g->state = TR_GROUP_PREPARING_REBALANCE;
    g->state_ts = now_ms;
    tr_log_debug("group '%s': preparing rebalance (generation %d, %d members)",
                 TR_LOG_ESC(g->id), g->generation, g->nmembers);
    notify(groups, g);
}

static void
remove_member(struct group *g, struct member *m)
{
    TAILQ_REMOVE(&g->members, m, link);
    g->nmembers--;
    member_free(m);
}

/*
 * Completes the join phase when every member has joined (after any initial
 * delay), or when the rebalance timeout has passed, dropping the members
 * that did not join.
 */
static void
try_complete_join(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    struct member *m, *next;
    const char *proto;
    int all = 1;

    if (g->state != TR_GROUP_PREPARING_REBALANCE) {
        return;
    }
    if (g->delay_until != 0 && now_ms < g->delay_until) {
        return;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        all = all && m->join_waiting;
    }
    if (!all && now_ms < g->rebalance_deadline) {
        return;
    }
    for (m = TAILQ_FIRST(&g->members); m != NULL; m = next) {
        next = TAILQ_NEXT(m, link);
        if (!m->join_waiting) {
            tr_log_info("group '%s': member %s did not rejoin in time; "
                        "removed",
                        TR_LOG_ESC(g->id), TR_LOG_ESC(m->id));
            remove_member(g, m);
        }
    }
    g->generation++;
    g->state_ts = now_ms;
    g->delay_until = 0;
    if (g->nmembers == 0) {
        g->state = TR_GROUP_EMPTY;
        set_str(&g->protocol, NULL);
        set_str(&g->leader, NULL);
        write_group(groups, g, now_ms, 0);
        tr_log_info("group '%s': generation %d is empty", TR_LOG_ESC(g->id),
                    g->generation);
        notify(groups, g);
        return;
    }
    proto = select_protocol(g);
    set_str(&g->protocol,
            proto ? proto : TAILQ_FIRST(&g->members)->protocols[0].name);
    if (g->leader == NULL || member_find(g, &(struct tr_str){
                                                g->leader,
                                                (int32_t)strlen(g->leader),
                                            }) == NULL) {
        set_str(&g->leader, TAILQ_FIRST(&g->members)->id);
    }
    TAILQ_FOREACH(m, &g->members, link) {
        m->join_waiting = 0;
        m->join_ready = 1;
        m->last_heartbeat = now_ms;
        tr_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
    g->state = TR_GROUP_COMPLETING_REBALANCE;
    tr_log_info("group '%s': generation %d with %d members, protocol %s, "
                "leader %s",
                TR_LOG_ESC(g->id), g->generation, g->nmembers,
                TR_LOG_ESC(g->protocol), TR_LOG_ESC(g->leader));
    notify(groups, g);
}

/* A member left or expired: rebalance the others (or empty the group). */
static void
member_gone(struct tr_groups *groups, struct group *g, struct member *m,
            int64_t now_ms)
{
    remove_member(g, m);
    switch (g->state) {
    case TR_GROUP_STABLE:
    case TR_GROUP_COMPLETING_REBALANCE:
        prepare_rebalance(groups, g, now_ms);
        /* FALLTHROUGH */
    case TR_GROUP_PREPARING_REBALANCE:
        try_complete_join(groups, g, now_ms);
        break;
    default:
        break;
    }
}

/* Copies the join answer for member 'm' into 'res'. */
static tr_err_t
fill_join_result(const struct group *g, const struct member *m,
                 struct tr_join_result *res)
{
    const struct member *o;
    int32_t i = 0;

    res->error = TR_KERR_NONE;
    res->generation = g->generation;
    res->member_id = tr_strdup(m->id);
    res->protocol = g->protocol ? tr_strdup(g->protocol) : NULL;
    res->leader = tr_strdup(g->leader ? g->leader : "");
    if (res->member_id == NULL || (g->protocol && !res->protocol) ||
        res->leader == NULL) {
        return TR_ERR_NOMEM;
    }
    if (!is_leader(g, m)) {
        return TR_OK;
    }
    res->members = tr_calloc((size_t)g->nmembers + 1, sizeof(*res->members));
    if (res->members == NULL) {
        return TR_ERR_NOMEM;
    }
    TAILQ_FOREACH(o, &g->members, link) {
        const struct protocol *p = member_protocol(o, g->protocol);
        struct tr_join_member *jm = &res->members[i++];

        res->nmembers = i;
        jm->member_id = tr_strdup(o->id);
        jm->instance_id = o->instance_id ? tr_strdup(o->instance_id) : NULL;
        jm->metadata_len = p ? p->metadata_len : 0;
        jm->metadata = bytes_dup(p ? p->metadata : NULL, jm->metadata_len);
        if (jm->member_id == NULL || jm->metadata == NULL ||
            (o->instance_id && jm->instance_id == NULL)) {
            return TR_ERR_NOMEM;
        }
    }
    return TR_OK;
}

void
tr_join_result_cleanup(struct tr_join_result *res)
{
    int32_t i;

    for (i = 0; i < res->nmembers; i++) {
        tr_free(res->members[i].member_id);
        tr_free(res->members[i].instance_id);
        tr_free(res->members[i].metadata);
    }
    tr_free(res->members);
    tr_free(res->protocol);
    tr_free(res->leader);
    tr_free(res->member_id);
    memset(res, 0, sizeof(*res));
}

/* 1 if the request's protocols differ from what the member has stored. */
static int
protocols_changed(const struct member *m, const struct tr_join_request *jr)
{
    int32_t i;

    if (m->nprotocols != jr->nprotocols) {
        return 1;
    }
    for (i = 0; i < jr->nprotocols; i++) {
        const struct tr_group_protocol *p = &jr->protocols[i];

        if (!tr_str_eq(&p->name, m->protocols[i].name) ||
            (p->metadata.len > 0 ? p->metadata.len : 0) !=
                m->protocols[i].metadata_len ||
            (p->metadata.len > 0 &&
             memcmp(p->metadata.ptr, m->protocols[i].metadata,
                    (size_t)p->metadata.len) != 0)) {
            return 1;
        }
    }
    return 0;
}

/* Stores the request's client details, timeouts and protocols in 'm'. */
static tr_err_t
member_update(struct member *m, const struct tr_join_request *jr)
{
    struct protocol *protos;
    char *client_id = str_dup(&jr->client_id);
    char *host = tr_strdup(jr->client_host ? jr->client_host : "");
    int32_t i;

    protos = tr_calloc((size_t)jr->nprotocols + 1, sizeof(*protos));
    if (protos == NULL || client_id == NULL || host == NULL) {
        goto fail;
    }
    for (i = 0; i < jr->nprotocols; i++) {
        const struct tr_group_protocol *p = &jr->protocols[i];
        int32_t len = p->metadata.len > 0 ? p->metadata.len : 0;

        protos[i].name = str_dup(&p->name);
        protos[i].metadata = bytes_dup(p->metadata.ptr, len);
        protos[i].metadata_len = len;
        if (protos[i].name == NULL || protos[i].metadata == NULL) {
            protocols_free(protos, i + 1);
            protos = NULL;
            goto fail;
        }
    }
    protocols_free(m->protocols, m->nprotocols);
    m->protocols = protos;
    m->nprotocols = jr->nprotocols;
    tr_free(m->client_id);
    m->client_id = client_id;
    tr_free(m->client_host);
    m->client_host = host;
    m->session_timeout_ms = jr->session_timeout_ms;
    m->rebalance_timeout_ms = jr->rebalance_timeout_ms;
    return TR_OK;
fail:
    tr_free(protos);
    tr_free(client_id);
    tr_free(host);
    return TR_ERR_NOMEM;
}

static tr_err_t
watch(struct tr_groups *groups, struct group *g, struct tr_waiter *waiter)
{
    if (waiter == NULL) {
        return TR_OK;
    }
    return tr_waiter_watch(waiter, g->wait_key, 0);
}

/*
 * The member waits in the join phase: collect the answer if the join has
 * completed, else park (or, on the last run, give up with
 * REBALANCE_IN_PROGRESS so the client joins again).
 */
static tr_err_t
join_wait(struct tr_groups *groups, struct group *g, struct member *m,
          const struct tr_join_request *jr, int final, int64_t now_ms,
          struct tr_join_result *res)
{
    tr_err_t err;

    try_complete_join(groups, g, now_ms);
    if (m->join_ready) {
        m->join_ready = 0;
        m->token = NULL;
        return fill_join_result(g, m, res);
    }
    if (final) {
        res->error = TR_KERR_REBALANCE_IN_PROGRESS;
        res->member_id = tr_strdup(m->id);
        return res->member_id ? TR_OK : TR_ERR_NOMEM;
    }
    err = watch(groups, g, jr->waiter);
    if (err != TR_OK) {
        return err;
    }
    res->park_ms = (int32_t)(g->rebalance_deadline > now_ms
                                 ? g->rebalance_deadline - now_ms
                                 : 0) +
                   PARK_SLACK_MS;
    return TR_OK;
}

/* A known member joins (again): decide whether this starts a rebalance. */
static tr_err_t
join_known(struct tr_groups *groups, struct group *g, struct member *m,
           const struct tr_join_request *jr, int final, int64_t now_ms,
           struct tr_join_result *res)
{
    int changed = protocols_changed(m, jr);
    tr_err_t err;

    err = member_update(m, jr);
    if (err != TR_OK) {
        return err;
    }
    m->last_heartbeat = now_ms;
    m->token = jr->token;
    m->join_ready = 0;
    switch (g->state) {
    case TR_GROUP_COMPLETING_REBALANCE:
        if (!changed) {
            return fill_join_result(g, m, res);
        }
        prepare_rebalance(groups, g, now_ms);
        break;
    case TR_GROUP_STABLE:
        if (!changed && !is_leader(g, m)) {
            return fill_join_result(g, m, res);
        }
        prepare_rebalance(groups, g, now_ms);
        break;
    default:
        break;
    }
    m->join_waiting = 1;
    return join_wait(groups, g, m, jr, final, now_ms, res);
}

/* Adds a new member with id 'id' (taken) and starts or joins a rebalance. */
static tr_err_t
join_new(struct tr_groups *groups, struct group *g, char *id,
         const struct tr_join_request *jr, int final, int64_t now_ms,
         struct tr_join_result *res)
{
    struct member *m = tr_calloc(1, sizeof(*m));

    if (m == NULL) {
        tr_free(id);
        return TR_ERR_NOMEM;
    }
    m->id = id;
    if ((jr->instance_id.len >= 0 &&
         (m->instance_id = str_dup(&jr->instance_id)) == NULL) ||
        member_update(m, jr) != TR_OK) {
        member_free(m);
        return TR_ERR_NOMEM;
    }
    m->last_heartbeat = now_ms;
    m->token = jr->token;
    m->join_waiting = 1;
    TAILQ_INSERT_TAIL(&g->members, m, link);
    g->nmembers++;
    if (g->state == TR_GROUP_PREPARING_REBALANCE) {
        if (g->delay_until != 0) {
            /* Each arrival during the initial delay extends it. */
            int64_t until = now_ms + groups->cfg.initial_rebalance_delay_ms;

            g->delay_until = until < g->delay_limit ? until : g->delay_limit;
        }
    } else {
        prepare_rebalance(groups, g, now_ms);
    }
    if (g->nmembers == 1) {
        char *pt = str_dup(&jr->protocol_type);

        if (pt != NULL) {
            tr_free(g->protocol_type);
            g->protocol_type = pt;
        }
    }
    return join_wait(groups, g, m, jr, final, now_ms, res);
}

/*
 * A static member (group.instance.id) joins without a member id. A known
 * instance gets a new member id that replaces the old one; in a Stable
 * group with unchanged metadata that is all (no rebalance), as KIP-345
 * intends for restarts.
 */
static tr_err_t
join_static(struct tr_groups *groups, struct group *g, struct member *m,
            const struct tr_join_request *jr, int final, int64_t now_ms,
            struct tr_join_result *res)
{
    char *id = new_member_id(groups, &jr->instance_id);
    int was_leader = is_leader(g, m);

    if (id == NULL) {
        return TR_ERR_NOMEM;
    }
    tr_log_info("group '%s': static member %s replaces %s", TR_LOG_ESC(g->id),
                TR_LOG_ESC(id), TR_LOG_ESC(m->id));
    tr_free(m->id);
    m->id = id;
    if (was_leader) {
        set_str(&g->leader, id);
    }
    if (g->state == TR_GROUP_STABLE && !protocols_changed(m, jr)) {
        tr_err_t err = member_update(m, jr);

        if (err != TR_OK) {
            return err;
        }
        m->last_heartbeat = now_ms;
        m->join_waiting = 0;
        m->join_ready = 0;
        write_group(groups, g, now_ms, 0);
        return fill_join_result(g, m, res);
    }
    return join_known(groups, g, m, jr, final, now_ms, res);
}

static int16_t
check_join(const struct tr_groups *groups, const struct group *g,
           const struct member *self, const struct tr_join_request *jr)
{
    int32_t i;

    if (str_empty(&jr->group_id)) {
        return TR_KERR_INVALID_GROUP_ID;
    }
    if (jr->session_timeout_ms < groups->cfg.min_session_timeout_ms ||
        jr->session_timeout_ms > groups->cfg.max_session_timeout_ms) {
        return TR_KERR_INVALID_SESSION_TIMEOUT;
    }
    if (str_empty(&jr->protocol_type) || jr->nprotocols <= 0) {
        return TR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (g == NULL || g->nmembers == 0 || (g->nmembers == 1 && self != NULL)) {
        return TR_KERR_NONE;
    }
    if (!tr_str_eq(&jr->protocol_type, g->protocol_type)) {
        return TR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    for (i = 0; i < jr->nprotocols; i++) {
        if (all_support(g, self, &jr->protocols[i].name)) {
            return TR_KERR_NONE;
        }
    }
    return TR_KERR_INCONSISTENT_GROUP_PROTOCOL;
}

static int
take_pending(struct group *g, const struct tr_str *id)
{
    size_t i;

    for (i = 0; i < g->npending; i++) {
        if (tr_str_eq(id, g->pending[i].id)) {
            tr_free(g->pending[i].id);
            g->pending[i] = g->pending[--g->npending];
            return 1;
        }
    }
    return 0;
}

static tr_err_t
add_pending(struct group *g, const char *id, int64_t expire_ms)
{
    struct pending_id *grown;
    char *copy = tr_strdup(id);

    grown = copy ? tr_realloc(g->pending, (g->npending + 1) * sizeof(*grown))
                 : NULL;
    if (grown == NULL) {
        tr_free(copy);
        return TR_ERR_NOMEM;
    }
    g->pending = grown;
    g->pending[g->npending].id = copy;
    g->pending[g->npending].expire_ms = expire_ms;
    g->npending++;
    return TR_OK;
}

static tr_err_t
join_locked(struct tr_groups *groups, const struct tr_join_request *jr,
            int final, int64_t now_ms, struct tr_join_result *res)
{
    struct group *g = group_find(groups, &jr->group_id);
    struct member *m = NULL;
    int is_static = jr->instance_id.len >= 0;
    char *id;

    /* A parked request running again? */
    if (g != NULL) {
        m = str_empty(&jr->member_id) ? member_find_token(g, jr->token)
                                      : member_find(g, &jr->member_id);
        if (m != NULL && m->token == jr->token && jr->token != NULL &&
            (m->join_waiting || m->join_ready)) {
            return join_wait(groups, g, m, jr, final, now_ms, res);
        }
        if (str_empty(&jr->member_id)) {
            m = NULL;
        }
    }
    if (is_static && !str_empty(&jr->member_id) &&
        fenced(g, &jr->member_id, &jr->instance_id)) {
        res->error = TR_KERR_FENCED_INSTANCE_ID;
        return TR_OK;
    }
    if (is_static && str_empty(&jr->member_id)) {
        m = member_find_instance(g, &jr->instance_id);
    }
    res->error = check_join(groups, g, m, jr);
    if (res->error != TR_KERR_NONE) {
        return TR_OK;
    }
    if (!str_empty(&jr->member_id)) {
        if (m != NULL) {
            return join_known(groups, g, m, jr, final, now_ms, res);
        }
        if (g == NULL || !take_pending(g, &jr->member_id)) {
            res->error = TR_KERR_UNKNOWN_MEMBER_ID;
            return TR_OK;
        }
        id = str_dup(&jr->member_id);
        return id ? join_new(groups, g, id, jr, final, now_ms, res)
                  : TR_ERR_NOMEM;
    }
    g = group_get(groups, &jr->group_id, now_ms);
    if (g == NULL) {
        return TR_ERR_NOMEM;
    }
    if (m != NULL) {
        return join_static(groups, g, m, jr, final, now_ms, res);
    }
    /*
     * group.max.size, as Kafka counts it: members and the ids given out to
     * joiners still to come back (KIP-394) both hold memory and a place in
     * the next generation. Members already in stay, only newcomers wait.
     */
    if ((size_t)g->nmembers + g->npending >= (size_t)groups->cfg.max_size) {
        res->error = TR_KERR_GROUP_MAX_SIZE_REACHED;
        return TR_OK;
    }
    id = new_member_id(groups, is_static ? &jr->instance_id : &jr->client_id);
    if (id == NULL) {
        return TR_ERR_NOMEM;
    }
    if (!is_static && jr->version >= 4) {
        /* KIP-394: the client must come back with this id. */
        tr_err_t err = add_pending(g, id, now_ms + jr->session_timeout_ms);

        res->error = TR_KERR_MEMBER_ID_REQUIRED;
        res->member_id = id;
        return err;
    }
    return join_new(groups, g, id, jr, final, now_ms, res);
}

tr_err_t
tr_groups_join(struct tr_groups *groups, const struct tr_join_request *jr,
               int final, int64_t now_ms, struct tr_join_result *res)
{
    tr_err_t err;

    memset(res, 0, sizeof(*res));
    res->generation = -1;
    pthread_mutex_lock(&groups->lock);
    res->error = str_empty(&jr->group_id)
                     ? TR_KERR_NONE /* join_locked says why */
                     : serve_group(groups, &jr->group_id, now_ms);
    err = res->error == TR_KERR_NONE
              ? join_locked(groups, jr, final, now_ms, res)
              : TR_OK;
    pthread_mutex_unlock(&groups->lock);
    if (err != TR_OK) {
        tr_join_result_cleanup(res);
    }
    return err;
}

void
tr_sync_result_cleanup(struct tr_sync_result *res)
{
    tr_free(res->assignment);
    memset(res, 0, sizeof(*res));
}

static tr_err_t
sync_answer(const struct member *m, struct tr_sync_result *res)
{
    res->error = TR_KERR_NONE;
    res->assignment_len = m->assignment ? m->assignment_len : 0;
    res->assignment = bytes_dup(m->assignment, res->assignment_len);
    return res->assignment ? TR_OK : TR_ERR_NOMEM;
}

/* The assignments are stored (and committed, in a cluster): Stable. */
static void
become_stable(struct tr_groups *groups, struct group *g)
{
    g->state = TR_GROUP_STABLE;
    tr_log_debug("group '%s': generation %d is stable", TR_LOG_ESC(g->id),
                 g->generation);
    notify(groups, g);
}

/* The assignment could not be stored: no member gets it; rebalance. */
static void
withdraw_assignments(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    struct member *m;

    TAILQ_FOREACH(m, &g->members, link) {
        tr_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
    prepare_rebalance(groups, g, now_ms);
}

/*
 * Cluster: the group metadata record of the leader's SyncGroup is
 * committed (the group becomes Stable: TR_KERR_NONE), not yet (-1), or
 * will not be: the leadership moved (NOT_COORDINATOR) or the deadline
 * passed (COORDINATOR_NOT_AVAILABLE, Kafka's answer to a timed-out group
 * write); then the assignment is withdrawn and the group rebalances, as
 * Kafka's resetAndPropagateAssignmentError does.
 */
static int16_t
settle_sync(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    int16_t kerr;

    if (g->sync_ack.partition < 0) {
        return TR_KERR_NONE;
    }
    kerr = ack_state(groups, &g->sync_ack);
    if (kerr < 0 && now_ms < g->sync_deadline) {
        return -1;
    }
    g->sync_ack.partition = -1;
    if (kerr == TR_KERR_NONE) {
        become_stable(groups, g);
        return TR_KERR_NONE;
    }
    if (kerr < 0) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    tr_log_info("group '%s': the assignment of generation %d was not "
                "committed (error %d); rebalancing",
                TR_LOG_ESC(g->id), g->generation, kerr);
    withdraw_assignments(groups, g, now_ms);
    return kerr;
}

/*
 * The leader's SyncGroup: store everyone's assignment and write the group.
 * On a single collector the group is Stable at once; in a cluster it is
 * once the record is committed (settle_sync). *kerr gets the error to
 * answer when the write failed.
 */
static tr_err_t
store_assignments(struct tr_groups *groups, struct group *g,
                  const struct tr_sync_request *sr, int64_t now_ms,
                  int16_t *kerr)
{
    struct member *m;
    int32_t i;
    tr_err_t err;

    *kerr = TR_KERR_NONE;
    TAILQ_FOREACH(m, &g->members, link) {
        tr_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        for (i = 0; i < sr->nassignments; i++) {
            const struct tr_group_assignment *a = &sr->assignments[i];

            if (tr_str_eq(&a->member_id, m->id)) {
                m->assignment_len =
                    a->assignment.len > 0 ? a->assignment.len : 0;
                m->assignment = bytes_dup(a->assignment.ptr, m->assignment_len);
                if (m->assignment == NULL) {
                    return TR_ERR_NOMEM;
                }
                break;
            }
        }
        m->sync_waiting = 0;
    }
    g->state_ts = now_ms;
    err = write_group(groups, g, now_ms, 0);
    if (!groups->clustered) {
        become_stable(groups, g); /* a failed write is logged; serve on */
        return TR_OK;
    }
    if (err != TR_OK) {
        *kerr = err == TR_ERR_STALE ? TR_KERR_NOT_COORDINATOR
                                    : TR_KERR_COORDINATOR_NOT_AVAILABLE;
        withdraw_assignments(groups, g, now_ms);
        return TR_OK;
    }
    g->sync_ack = groups->last;
    g->sync_deadline = now_ms + groups->cfg.commit_timeout_ms;
    if (settle_sync(groups, g, now_ms) > 0) {
        *kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE; /* cannot happen at once */
    }
    return TR_OK;
}

static tr_err_t
sync_locked(struct tr_groups *groups, const struct tr_sync_request *sr,
            int final, int64_t now_ms, struct tr_sync_result *res)
{
    struct group *g;
    struct member *m;
    int16_t kerr;
    tr_err_t err;

    if (str_empty(&sr->group_id)) {
        res->error = TR_KERR_INVALID_GROUP_ID;
        return TR_OK;
    }
    res->error = serve_group(groups, &sr->group_id, now_ms);
    if (res->error != TR_KERR_NONE) {
        return TR_OK;
    }
    g = group_find(groups, &sr->group_id);
    if (g != NULL && sr->instance_id.len >= 0 &&
        fenced(g, &sr->member_id, &sr->instance_id)) {
        res->error = TR_KERR_FENCED_INSTANCE_ID;
        return TR_OK;
    }
    m = member_find(g, &sr->member_id);
    if (m == NULL) {
        res->error = TR_KERR_UNKNOWN_MEMBER_ID;
        return TR_OK;
    }
    if (sr->generation != g->generation) {
        res->error = TR_KERR_ILLEGAL_GENERATION;
        return TR_OK;
    }
    m->last_heartbeat = now_ms;
    switch (g->state) {
    case TR_GROUP_STABLE:
        m->sync_waiting = 0;
        return sync_answer(m, res);
    case TR_GROUP_COMPLETING_REBALANCE:
        if (is_leader(g, m) && g->sync_ack.partition < 0) {
            err = store_assignments(groups, g, sr, now_ms, &kerr);
            if (err != TR_OK) {
                return err;
            }
        } else {
            kerr = settle_sync(groups, g, now_ms);
        }
        if (kerr > 0) {
            res->error = kerr;
            return TR_OK;
        }
        if (g->state == TR_GROUP_STABLE) {
            return sync_answer(m, res);
        }
        if (final) {
            m->sync_waiting = 0;
            res->error = TR_KERR_REBALANCE_IN_PROGRESS;
            return TR_OK;
        }
        err = watch(groups, g, sr->waiter);
        if (err == TR_OK && g->sync_ack.partition >= 0 && sr->waiter) {
            /* The cluster notifies the partition when its HW moves. */
            err = tr_waiter_watch(sr->waiter, TR_GROUPS_TOPIC,
                                  g->sync_ack.partition);
        }
        if (err != TR_OK) {
            return err;
        }
        m->sync_waiting = 1;
        res->park_ms =
            (g->sync_ack.partition >= 0 ? (int32_t)(g->sync_deadline - now_ms)
                                        : m->session_timeout_ms) +
            PARK_SLACK_MS;
        return TR_OK;
    case TR_GROUP_PREPARING_REBALANCE:
        res->error = TR_KERR_REBALANCE_IN_PROGRESS;
        return TR_OK;
    default:
        res->error = TR_KERR_UNKNOWN_MEMBER_ID;
        return TR_OK;
    }
}

tr_err_t
tr_groups_sync(struct tr_groups *groups, const struct tr_sync_request *sr,
               int final, int64_t now_ms, struct tr_sync_result *res)
{
    tr_err_t err;

    memset(res, 0, sizeof(*res));
    pthread_mutex_lock(&groups->lock);
    err = sync_locked(groups, sr, final, now_ms, res);
    pthread_mutex_unlock(&groups->lock);
    if (err != TR_OK) {
        tr_sync_result_cleanup(res);
    }
    return err;
}

int16_t
tr_groups_heartbeat(struct tr_groups *groups, const struct tr_str *group_id,
                    const struct tr_str *member_id,
                    const struct tr_str *instance_id, int32_t generation,
                    int64_t now_ms)
{
    struct group *g;
    struct member *m;
    int16_t kerr = TR_KERR_UNKNOWN_MEMBER_ID;

    if (str_empty(group_id)) {
        return TR_KERR_INVALID_GROUP_ID;
    }
    pthread_mutex_lock(&groups->lock);
    kerr = serve_group(groups, group_id, now_ms);
    if (kerr != TR_KERR_NONE) {
        goto out;
    }
    kerr = TR_KERR_UNKNOWN_MEMBER_ID;
    g = group_find(groups, group_id);
    if (g != NULL && instance_id->len >= 0 &&
        fenced(g, member_id, instance_id)) {
        kerr = TR_KERR_FENCED_INSTANCE_ID;
        goto out;
    }
    m = member_find(g, member_id);
    if (m == NULL) {
        goto out;
    }
    if (generation != g->generation) {
        kerr = TR_KERR_ILLEGAL_GENERATION;
        goto out;
    }
    m->last_heartbeat = now_ms;
    kerr = g->state == TR_GROUP_PREPARING_REBALANCE
               ? TR_KERR_REBALANCE_IN_PROGRESS
               : TR_KERR_NONE;
out:
    pthread_mutex_unlock(&groups->lock);
    return kerr;
}

int16_t
tr_groups_leave(struct tr_groups *groups, const struct tr_str *group_id,
                const struct tr_str *member_id,
                const struct tr_str *instance_id, int64_t now_ms)
{
    struct group *g;
    struct member *m;
    int16_t kerr = TR_KERR_UNKNOWN_MEMBER_ID;

    if (str_empty(group_id)) {
        return TR_KERR_INVALID_GROUP_ID;
    }
    pthread_mutex_lock(&groups->lock);
    kerr = serve_group(groups, group_id, now_ms);
    if (kerr != TR_KERR_NONE) {
        goto out;
    }
    kerr = TR_KERR_UNKNOWN_MEMBER_ID;
    g = group_find(groups, group_id);
    if (g == NULL) {
        goto out;
    }
    if (str_empty(member_id) && instance_id->len >= 0) {
        m = member_find_instance(g, instance_id);
    } else if (instance_id->len >= 0 && fenced(g, member_id, instance_id)) {
        kerr = TR_KERR_FENCED_INSTANCE_ID;
        goto out;
    } else {
        m = member_find(g, member_id);
    }
    if (m == NULL) {
        goto out;
    }
    tr_log_info("group '%s': member %s left", TR_LOG_ESC(g->id),
                TR_LOG_ESC(m->id));
    member_gone(groups, g, m, now_ms);
    kerr = TR_KERR_NONE;
out:
    pthread_mutex_unlock(&groups->lock);
    return kerr;
}

/* The commit's group-level check, as Kafka orders it. */
static int16_t
check_commit(struct group *g, const struct tr_str *member_id,
             const struct tr_str *instance_id, int32_t generation,
             int64_t now_ms)
{
    struct member *m;

    if (g == NULL) {
        /* Only a "simple" consumer may commit to a group nobody joined. */
        return generation < 0 ? TR_KERR_NONE : TR_KERR_ILLEGAL_GENERATION;
    }
    if (instance_id->len >= 0 && fenced(g, member_id, instance_id)) {
        return TR_KERR_FENCED_INSTANCE_ID;
    }
    if (generation < 0 && g->state == TR_GROUP_EMPTY) {
        return TR_KERR_NONE;
    }
    if (g->state == TR_GROUP_COMPLETING_REBALANCE) {
        return TR_KERR_REBALANCE_IN_PROGRESS;
    }
    m = member_find(g, member_id);
    if (m == NULL) {
        return TR_KERR_UNKNOWN_MEMBER_ID;
    }
    if (generation != g->generation) {
        return TR_KERR_ILLEGAL_GENERATION;
    }
    m->last_heartbeat = now_ms;
    return TR_KERR_NONE;
}

static tr_err_t
commit_locked(struct tr_groups *groups, const struct tr_str *group_id,
              const struct tr_str *member_id, const struct tr_str *instance_id,
              int32_t generation, struct tr_offset_commit *offs, int32_t n,
              int64_t now_ms, struct tr_groups_ack *ack)
{
    struct group *g = NULL;
    int16_t kerr;
    int32_t i, accepted = 0, epoch;
    tr_err_t err = TR_OK;

    kerr = group_id->len < 0 ? TR_KERR_INVALID_GROUP_ID
                             : serve_group(groups, group_id, now_ms);
    if (kerr == TR_KERR_NONE && groups->clustered &&
        groups->cluster.leader_epoch(
            groups->cluster.arg,
            tr_groups_partition_for(group_id, groups->partitions), 1,
            &epoch) == TR_KERR_NOT_ENOUGH_REPLICAS) {
        /* Kafka's commits are acks=-1 writes: refused below the min ISR. */
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (kerr == TR_KERR_NONE) {
        g = group_find(groups, group_id);
        kerr = check_commit(g, member_id, instance_id, generation, now_ms);
    }
    for (i = 0; i < n; i++) {
        struct tr_offset_commit *oc = &offs[i];

        oc->error = kerr;
        if (kerr != TR_KERR_NONE) {
            continue;
        }
        if (oc->topic.len <= 0) {
            oc->error = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (oc->metadata.len > groups->cfg.metadata_max_bytes) {
            oc->error = KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        tr_buf_reset(&groups->key);
        tr_buf_reset(&groups->value);
        tr_groups_put_offset_key(&groups->key, group_id, &oc->topic,
                                 oc->partition);
        tr_groups_put_offset_value(&groups->value, oc->offset, oc->leader_epoch,
                                   &oc->metadata, now_ms);
        err = add_record(groups, now_ms, 0);
        if (err != TR_OK) {
            oc->error = TR_KERR_INVALID_COMMIT_OFFSET_SIZE;
            continue;
        }
        accepted++;
    }
    if (accepted == 0) {
        tr_batch_builder_reset(groups->builder);
        return TR_OK;
    }
    if (g == NULL) {
        g = group_get(groups, group_id, now_ms);
        if (g == NULL) {
            tr_batch_builder_reset(groups->builder);
            return TR_ERR_NOMEM;
        }
    }
    err = write_batch(groups, g);
    if (err == TR_OK && ack != NULL) {
        *ack = groups->last;
    }
    for (i = 0; i < n; i++) {
        struct tr_offset_commit *oc = &offs[i];

        if (oc->error != TR_KERR_NONE) {
            continue;
        }
        if (err == TR_ERR_TOO_LARGE) {
            oc->error = TR_KERR_INVALID_COMMIT_OFFSET_SIZE;
        } else if (err == TR_ERR_STALE) {
            oc->error = TR_KERR_NOT_COORDINATOR;
        } else if (err != TR_OK) {
            oc->error = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        } else if (offset_set(g, &oc->topic, oc->partition, oc->offset,
                              oc->leader_epoch, &oc->metadata,
                              now_ms) != TR_OK) {
            /* On disk but not in memory: it is there after a restart. */
            oc->error = TR_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    return TR_OK;
}

tr_err_t
tr_groups_commit(struct tr_groups *groups, const struct tr_str *group_id,
                 const struct tr_str *member_id,
                 const struct tr_str *instance_id, int32_t generation,
                 struct tr_offset_commit *offs, int32_t n, int64_t now_ms,
                 struct tr_groups_ack *ack)
{
    tr_err_t err;

    if (ack != NULL) {
        ack->partition = -1;
    }
    pthread_mutex_lock(&groups->lock);
    err = commit_locked(groups, group_id, member_id, instance_id, generation,
                        offs, n, now_ms, ack);
    pthread_mutex_unlock(&groups->lock);
    return err;
}

void
tr_group_offsets_free(struct tr_group_offset *offs, size_t count)
{
    size_t i;

    for (i = 0; offs != NULL && i < count; i++) {
        tr_free(offs[i].topic);
        tr_free(offs[i].metadata);
    }
    tr_free(offs);
}

tr_err_t
tr_groups_offsets(struct tr_groups *groups, const struct tr_str *group_id,
                  int64_t now_ms, struct tr_group_offset **out, size_t *count,
                  int16_t *kerr)
{
    struct tr_group_offset *offs = NULL;
    struct group *g = NULL;
    size_t i, n = 0;
    tr_err_t err = TR_ERR_NOMEM;

    pthread_mutex_lock(&groups->lock);
    *kerr = serve_group(groups, group_id, now_ms);
    if (*kerr == TR_KERR_NONE) {
        g = group_find(groups, group_id);
    }
    n = g != NULL ? g->noffsets : 0;
    offs = tr_calloc(n + 1, sizeof(*offs));
    if (offs == NULL) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct offset_entry *e = &g->offsets[i];

        offs[i].topic = tr_strdup(e->topic);
        offs[i].metadata = tr_strndup(e->metadata, (size_t)e->metadata_len);
        offs[i].metadata_len = e->metadata_len;
        offs[i].partition = e->partition;
        offs[i].offset = e->offset;
        offs[i].leader_epoch = e->leader_epoch;
        if (offs[i].topic == NULL || offs[i].metadata == NULL) {
            goto out;
        }
    }
    *out = offs;
    *count = n;
    offs = NULL;
    err = TR_OK;
out:
    pthread_mutex_unlock(&groups->lock);
    tr_group_offsets_free(offs, n);
    return err;
}

void
tr_group_listing_free(struct tr_group_listing *list, size_t count)
{
    size_t i;

    for (i = 0; list != NULL && i < count; i++) {
        tr_free(list[i].group_id);
        tr_free(list[i].protocol_type);
    }
    tr_free(list);
}

tr_err_t
tr_groups_list(struct tr_groups *groups, int64_t now_ms,
               struct tr_group_listing **out, size_t *count)
{
    struct tr_group_listing *list = NULL;
    struct group *g;
    size_t n = 0, i = 0;
    int32_t p;
    tr_err_t err = TR_ERR_NOMEM;

    pthread_mutex_lock(&groups->lock);
    if (groups->clustered && know_partitions(groups)) {
        /* Loads what this broker leads; unloads what it no longer does. */
        for (p = 0; p < groups->partitions; p++) {
            (void)serve_partition(groups, p, now_ms);
        }
    }
    TAILQ_FOREACH(g, &groups->groups, link) {
        n++;
    }
    list = tr_calloc(n + 1, sizeof(*list));
    if (list == NULL) {
        goto out;
    }
    TAILQ_FOREACH(g, &groups->groups, link) {
        list[i].group_id = tr_strdup(g->id);
        list[i].protocol_type = tr_strdup(g->protocol_type);
        list[i].state = g->state;
        i++;
        if (list[i - 1].group_id == NULL || list[i - 1].protocol_type == NULL) {
            goto out;
        }
    }
    *out = list;
    *count = n;
    list = NULL;
    err = TR_OK;
out:
    pthread_mutex_unlock(&groups->lock);
    tr_group_listing_free(list, n);
    return err;
}

void
tr_group_description_cleanup(struct tr_group_description *desc)
{
    size_t i;

    for (i = 0; i < desc->nmembers; i++) {
        struct tr_group_member_info *mi = &desc->members[i];

        tr_free(mi->member_id);
        tr_free(mi->instance_id);
        tr_free(mi->client_id);
        tr_free(mi->client_host);
        tr_free(mi->metadata);
        tr_free(mi->assignment);
    }
    tr_free(desc->members);
    tr_free(desc->protocol_type);
    tr_free(desc->protocol);
    tr_free(desc->leader);
    memset(desc, 0, sizeof(*desc));
}

static tr_err_t
describe_locked(struct group *g, struct tr_group_description *out)
{
    struct member *m;
    size_t i = 0;

    out->state = g->state;
    out->generation = g->generation;
    out->protocol_type = tr_strdup(g->protocol_type);
    out->protocol = tr_strdup(g->protocol ? g->protocol : "");
    out->leader = tr_strdup(g->leader ? g->leader : "");
    out->members = tr_calloc((size_t)g->nmembers + 1, sizeof(*out->members));
    if (out->protocol_type == NULL || out->protocol == NULL ||
        out->leader == NULL || out->members == NULL) {
        return TR_ERR_NOMEM;
    }
    TAILQ_FOREACH(m, &g->members, link) {
        struct tr_group_member_info *mi = &out->members[i++];
        const struct protocol *p = member_protocol(m, g->protocol);

        out->nmembers = i;
        mi->member_id = tr_strdup(m->id);
        mi->instance_id = m->instance_id ? tr_strdup(m->instance_id) : NULL;
        mi->client_id = tr_strdup(m->client_id);
        mi->client_host = tr_strdup(m->client_host);
        mi->metadata_len = p ? p->metadata_len : 0;
        mi->metadata = bytes_dup(p ? p->metadata : NULL, mi->metadata_len);
        mi->assignment_len = m->assignment ? m->assignment_len : 0;
        mi->assignment = bytes_dup(m->assignment, mi->assignment_len);
        if (mi->member_id == NULL || mi->client_id == NULL ||
            mi->client_host == NULL || mi->metadata == NULL ||
            mi->assignment == NULL ||
            (m->instance_id != NULL && mi->instance_id == NULL)) {
            return TR_ERR_NOMEM;
        }
    }
    return TR_OK;
}

/*
 * Removes the members whose session ended: at last heartbeat + session
 * timeout exactly, as Kafka's heartbeat purgatory does. The tick calls
 * this every 100 ms, and requests that look at a group's state call it
 * first, so that no answer shows a member past its deadline. Called with
 * the lock held.
 */
static void
expire_sessions(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    struct member *m, *mnext;

    for (m = TAILQ_FIRST(&g->members); m != NULL; m = mnext) {
        mnext = TAILQ_NEXT(m, link);
        /* Members parked in a join or sync are kept alive (Kafka too). */
        if (m->join_waiting || m->sync_waiting) {
            continue;
        }
        if (now_ms - m->last_heartbeat >= m->session_timeout_ms) {
            tr_log_info("group '%s': member %s session timed out "
                        "(%d ms)",
                        TR_LOG_ESC(g->id), TR_LOG_ESC(m->id),
                        m->session_timeout_ms);
            member_gone(groups, g, m, now_ms);
            mnext = TAILQ_FIRST(&g->members); /* list changed */
        }
    }
}

tr_err_t
tr_groups_describe(struct tr_groups *groups, const struct tr_str *group_id,
                   int64_t now_ms, struct tr_group_description *out)
{
    struct group *g = NULL;
    tr_err_t err = TR_OK;

    memset(out, 0, sizeof(*out));
    out->state = TR_GROUP_DEAD;
    pthread_mutex_lock(&groups->lock);
    out->error = str_empty(group_id) ? TR_KERR_NONE
                                     : serve_group(groups, group_id, now_ms);
    if (out->error == TR_KERR_NONE) {
        g = group_find(groups, group_id);
    }
    if (g != NULL) {
        expire_sessions(groups, g, now_ms);
        try_complete_join(groups, g, now_ms);
        err = describe_locked(g, out);
    }
    pthread_mutex_unlock(&groups->lock);
    if (err != TR_OK) {
        tr_group_description_cleanup(out);
    }
    return err;
}

/* Writes tombstones for the listed offsets (all when 'all'), then drops them.
 */
static tr_err_t
expire_offsets(struct tr_groups *groups, struct group *g, int64_t now_ms,
               int all)
{
    struct tr_str gid = cstr(g->id);
    size_t i, removed = 0;
    int any = 0;
    tr_err_t err;

    for (i = 0; i < g->noffsets; i++) {
        const struct offset_entry *e = &g->offsets[i];
        int64_t since = e->commit_ts > g->state_ts ? e->commit_ts : g->state_ts;
        struct tr_str topic = cstr(e->topic);

        if (!all && now_ms - since < groups->cfg.offsets_retention_ms) {
            continue;
        }
        tr_buf_reset(&groups->key);
        tr_groups_put_offset_key(&groups->key, &gid, &topic, e->partition);
        err = add_record(groups, now_ms, 1);
        if (err != TR_OK) {
            tr_batch_builder_reset(groups->builder);
            return err;
        }
        any = 1;
    }
    if (!any) {
        return TR_OK;
    }
    err = write_batch(groups, g);
    if (err != TR_OK) {
        return err;
    }
    for (i = g->noffsets; i-- > 0;) {
        const struct offset_entry *e = &g->offsets[i];
        int64_t since = e->commit_ts > g->state_ts ? e->commit_ts : g->state_ts;

        if (all || now_ms - since >= groups->cfg.offsets_retention_ms) {
            tr_log_debug("group '%s': offset of %s-%d removed",
                         TR_LOG_ESC(g->id), e->topic, e->partition);
            offset_delete_at(g, i);
            removed++;
        }
    }
    tr_log_info("group '%s': %zu committed offsets %s", TR_LOG_ESC(g->id),
                removed,
                all ? "deleted" : "expired (offsets.retention.minutes)");
    return TR_OK;
}

/* Forgets an empty group with no offsets (tombstoning its metadata). */
static void
maybe_drop_group(struct tr_groups *groups, struct group *g, int64_t now_ms)
{
    if (g->state != TR_GROUP_EMPTY || g->noffsets > 0 || g->npending > 0) {
        return;
    }
    if (g->meta_in_log && write_group(groups, g, now_ms, 1) != TR_OK) {
        return;
    }
    g->state = TR_GROUP_DEAD;
    notify(groups, g);
    group_remove(groups, g);
}

/*
 * Whether a member of a consumer-protocol group subscribes to 'topic': its
 * chosen protocol's metadata is a ConsumerProtocolSubscription (int16
 * version, then the topic names). Metadata that does not parse counts as
 * subscribing to everything, so nothing in use is deleted.
 */
static int
member_subscribes(const struct group *g, const struct member *m,
                  const struct tr_str *topic)
{
    struct tr_slice s;
    struct tr_str name;
    int16_t version;
    int32_t i, n;

    for (i = 0; i < m->nprotocols; i++) {
        if (g->protocol != NULL &&
            strcmp(m->protocols[i].name, g->protocol) == 0) {
            break;
        }
    }
    if (i == m->nprotocols) {
        return 1;
    }
    tr_slice_init(&s, m->protocols[i].metadata,
                  (size_t)m->protocols[i].metadata_len);
    if (tr_slice_get_i16(&s, &version) != TR_OK || version < 0 ||
        tr_proto_get_array_len_v(&s, 0, &n, 2, 1 << 20) != TR_OK) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string(&s, &name) != TR_OK) {
            return 1;
        }
        if (name.len == topic->len &&
            (name.len <= 0 ||
             memcmp(name.ptr, topic->ptr, (size_t)name.len) == 0)) {
            return 1;
        }
    }
    return 0;
}

int16_t
tr_groups_delete_offsets(struct tr_groups *groups,
                         const struct tr_str *group_id,
                         struct tr_offset_commit *parts, size_t n,
                         int64_t now_ms)
{
    struct tr_str gid;
    struct group *g;
    struct member *m;
    size_t i, k, deleted = 0;
    int16_t kerr;
    int found, any = 0;

    pthread_mutex_lock(&groups->lock);
    kerr = serve_group(groups, group_id, now_ms);
    if (kerr != TR_KERR_NONE) {
        goto out;
    }
    kerr = TR_KERR_GROUP_ID_NOT_FOUND;
    g = group_find(groups, group_id);
    if (g == NULL || g->state == TR_GROUP_DEAD) {
        goto out;
    }
    expire_sessions(groups, g, now_ms);
    try_complete_join(groups, g, now_ms);
    kerr = TR_KERR_NON_EMPTY_GROUP;
    if (g->state != TR_GROUP_EMPTY &&
        strcmp(g->protocol_type != NULL ? g->protocol_type : "", "consumer") !=
            0) {
        goto out;
    }
    gid = cstr(g->id);
    for (i = 0; i < n; i++) {
        parts[i].error = TR_KERR_NONE;
        TAILQ_FOREACH(m, &g->members, link) {
            if (member_subscribes(g, m, &parts[i].topic)) {
                parts[i].error = TR_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
                break;
            }
        }
        if (parts[i].error != TR_KERR_NONE) {
            continue;
        }
        (void)offset_search(g, &parts[i].topic, parts[i].partition, &found);
        if (!found) {
            continue;
        }
        tr_buf_reset(&groups->key);
        tr_groups_put_offset_key(&groups->key, &gid, &parts[i].topic,
                                 parts[i].partition);
        if (add_record(groups, now_ms, 1) != TR_OK) {
            tr_batch_builder_reset(groups->builder);
            kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
            goto out;
        }
        any = 1;
    }
    if (any && write_batch(groups, g) != TR_OK) {
        kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        goto out;
    }
    for (i = 0; any && i < n; i++) {
        if (parts[i].error == TR_KERR_NONE) {
            k = offset_search(g, &parts[i].topic, parts[i].partition, &found);
            if (found) {
                offset_delete_at(g, k);
                deleted++;
            }
        }
    }
    if (deleted > 0) {
        tr_log_info("group '%s': %zu committed offsets deleted (OffsetDelete)",
                    TR_LOG_ESC(g->id), deleted);
    }
    kerr = TR_KERR_NONE;
out:
    pthread_mutex_unlock(&groups->lock);
    return kerr;
}

int16_t
tr_groups_delete(struct tr_groups *groups, const struct tr_str *group_id,
                 int64_t now_ms)
{
    struct group *g;
    int16_t kerr = TR_KERR_GROUP_ID_NOT_FOUND;

    if (str_empty(group_id)) {
        return TR_KERR_INVALID_GROUP_ID;
    }
    pthread_mutex_lock(&groups->lock);
    kerr = serve_group(groups, group_id, now_ms);
    if (kerr != TR_KERR_NONE) {
        goto out;
    }
    kerr = TR_KERR_GROUP_ID_NOT_FOUND;
    g = group_find(groups, group_id);
    if (g == NULL) {
        goto out;
    }
    expire_sessions(groups, g, now_ms);
    try_complete_join(groups, g, now_ms);
    if (g->state != TR_GROUP_EMPTY) {
        kerr = TR_KERR_NON_EMPTY_GROUP;
        goto out;
    }
    kerr = TR_KERR_COORDINATOR_NOT_AVAILABLE;
    if (expire_offsets(groups, g, now_ms, 1) != TR_OK) {
        goto out;
    }
    if (g->meta_in_log && write_group(groups, g, now_ms, 1) != TR_OK) {
        goto out;
    }
    tr_log_info("group '%s' deleted", TR_LOG_ESC(g->id));
    g->state = TR_GROUP_DEAD;
    notify(groups, g);
    group_remove(groups, g);
    kerr = TR_KERR_NONE;
out:
    pthread_mutex_unlock(&groups->lock);
    return kerr;
}

void
tr_groups_tick(struct tr_groups *groups, int64_t now_ms)
{
    struct group *g, *gnext;
    size_t i;
    int32_t p;

    pthread_mutex_lock(&groups->lock);
    /*
     * Cluster: a partition led no longer is unloaded here, so no timeout
     * below can make a deposed leader write; one led at a new epoch is
     * (re)loaded, so that the sessions of members who died with the old
     * coordinator expire here, as in Kafka. Every group left in memory is
     * this broker's to serve.
     */
    if (groups->clustered && know_partitions(groups)) {
        for (p = 0; p < groups->partitions; p++) {
            (void)serve_partition(groups, p, now_ms);
        }
    }
    for (g = TAILQ_FIRST(&groups->groups); g != NULL; g = gnext) {
        gnext = TAILQ_NEXT(g, link);
        if (g->sync_ack.partition >= 0) {
            (void)settle_sync(groups, g, now_ms);
        }
        for (i = g->npending; i-- > 0;) {
            if (now_ms >= g->pending[i].expire_ms) {
                tr_free(g->pending[i].id);
                g->pending[i] = g->pending[--g->npending];
            }
        }
        expire_sessions(groups, g, now_ms);
        try_complete_join(groups, g, now_ms);
    }
    if (now_ms >= groups->next_expiry) {
        groups->next_expiry = now_ms + EXPIRY_INTERVAL_MS;
        for (g = TAILQ_FIRST(&groups->groups); g != NULL; g = gnext) {
            gnext = TAILQ_NEXT(g, link);
            if (g->state != TR_GROUP_EMPTY) {
                continue;
            }
            expire_offsets(groups, g, now_ms, 0);
            maybe_drop_group(groups, g, now_ms);
        }
    }
    pthread_mutex_unlock(&groups->lock);
}

/* ---- loading ---------------------------------------------------------- */

/* Replaces the group's metadata from a GroupMetadataValue (v0-v3). */
static tr_err_t
load_group_value(struct tr_groups *groups, struct group *g, struct tr_slice *s,
                 int64_t now_ms)
{
    struct tr_str ptype, proto, leader;
    int16_t version;
    int32_t generation, nmembers, i;
    int64_t state_ts = -1;
    struct member *m;

    if (tr_slice_get_i16(s, &version) != TR_OK || version < 0 || version > 3 ||
        tr_proto_get_string(s, &ptype) != TR_OK ||
        tr_slice_get_i32(s, &generation) != TR_OK ||
        tr_proto_get_string(s, &proto) != TR_OK ||
        tr_proto_get_string(s, &leader) != TR_OK ||
        (version >= 2 && tr_slice_get_i64(s, &state_ts) != TR_OK) ||
        tr_proto_get_array_len_v(s, 0, &nmembers, 20, INT32_MAX) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    while ((m = TAILQ_FIRST(&g->members)) != NULL) {
        remove_member(g, m);
    }
    for (i = 0; i < nmembers; i++) {
        struct tr_str id, iid = { NULL, -1 }, cid, host, sub, asg;
        int32_t rebalance = -1, session;

        if (tr_proto_get_string(s, &id) != TR_OK ||
            (version >= 3 && tr_proto_get_string(s, &iid) != TR_OK) ||
            tr_proto_get_string(s, &cid) != TR_OK ||
            tr_proto_get_string(s, &host) != TR_OK ||
            (version >= 1 && tr_slice_get_i32(s, &rebalance) != TR_OK) ||
            tr_slice_get_i32(s, &session) != TR_OK ||
            tr_proto_get_bytes(s, &sub) != TR_OK ||
            tr_proto_get_bytes(s, &asg) != TR_OK) {
            return TR_ERR_CORRUPT;
        }
        m = tr_calloc(1, sizeof(*m));
        if (m == NULL) {
            return TR_ERR_NOMEM;
        }
        TAILQ_INSERT_TAIL(&g->members, m, link);
        g->nmembers++;
        m->id = str_dup(&id);
        m->instance_id = iid.len >= 0 ? str_dup(&iid) : NULL;
        m->client_id = str_dup(&cid);
        m->client_host = str_dup(&host);
        m->session_timeout_ms = session;
        m->rebalance_timeout_ms = rebalance >= 0 ? rebalance : session;
        m->assignment_len = asg.len > 0 ? asg.len : 0;
        m->assignment = bytes_dup(asg.ptr, m->assignment_len);
        m->protocols = tr_calloc(1, sizeof(*m->protocols));
        if (m->protocols != NULL) {
            m->nprotocols = 1;
            m->protocols[0].name = str_dup(proto.len >= 0 ? &proto : &ptype);
            m->protocols[0].metadata_len = sub.len > 0 ? sub.len : 0;
            m->protocols[0].metadata =
                bytes_dup(sub.ptr, m->protocols[0].metadata_len);
        }
        m->last_heartbeat = now_ms;
        if (m->id == NULL || m->client_id == NULL || m->client_host == NULL ||
            m->assignment == NULL || m->protocols == NULL ||
            m->protocols[0].name == NULL || m->protocols[0].metadata == NULL ||
            (iid.len >= 0 && m->instance_id == NULL)) {
            return TR_ERR_NOMEM;
        }
    }
    tr_free(g->protocol_type);
    g->protocol_type = str_dup(&ptype);
    tr_free(g->protocol);
    g->protocol = proto.len >= 0 ? str_dup(&proto) : NULL;
    tr_free(g->leader);
    g->leader = leader.len >= 0 ? str_dup(&leader) : NULL;
    if (g->protocol_type == NULL) {
        return TR_ERR_NOMEM;
    }
    g->generation = generation;
    g->state_ts = state_ts >= 0 ? state_ts : now_ms;
    /* Members of a stored generation carry on heartbeating (Kafka too). */
    g->state = g->nmembers > 0 ? TR_GROUP_STABLE : TR_GROUP_EMPTY;
    g->meta_in_log = 1;
    return TR_OK;
}

/*
 * Applies one record of the replay. With 'only' >= 0 (a cluster loading
 * one partition), records of groups that belong elsewhere are skipped.
 */
static tr_err_t
load_record(struct tr_groups *groups, const struct tr_record *rec, int32_t only,
            int64_t now_ms)
{
    struct tr_groups_key key;
    struct tr_groups_offset_value val;
    struct group *g;
    struct tr_slice s;
    tr_err_t err;

    if (rec->key_len <= 0) {
        return TR_OK;
    }
    err = tr_groups_decode_key(rec->key, (size_t)rec->key_len, &key);
    if (err != TR_OK || key.group.len <= 0) {
        return TR_OK; /* a key we do not know (a newer Kafka's): skip */
    }
    if (only >= 0 &&
        tr_groups_partition_for(&key.group, groups->partitions) != only) {
        return TR_OK;
    }
    g = group_find(groups, &key.group);
    if (rec->value_len < 0) {
        if (g != NULL && key.type == TR_GROUPS_KEY_OFFSET) {
            offset_delete(g, &key.topic, key.partition);
        } else if (g != NULL) {
            struct member *m;

            while ((m = TAILQ_FIRST(&g->members)) != NULL) {
                remove_member(g, m);
            }
            g->state = TR_GROUP_EMPTY;
            g->meta_in_log = 0;
        }
        return TR_OK;
    }
    g = group_get(groups, &key.group, now_ms);
    if (g == NULL) {
        return TR_ERR_NOMEM;
    }
    if (key.type == TR_GROUPS_KEY_OFFSET) {
        if (tr_groups_decode_offset_value(rec->value, (size_t)rec->value_len,
                                          &val) != TR_OK) {
            return TR_OK;
        }
        return offset_set(g, &key.topic, key.partition, val.offset,
                          val.leader_epoch, &val.metadata, val.commit_ts);
    }
    tr_slice_init(&s, rec->value, (size_t)rec->value_len);
    err = load_group_value(groups, g, &s, now_ms);
    return err == TR_ERR_CORRUPT ? TR_OK : err;
}

/*
 * Adds a pending transactional offset of 'producer_id' to 'g' (replacing
 * the producer's earlier one for the same partition). Called with the lock
 * held.
 */
static tr_err_t
txn_offset_add(struct group *g, int64_t producer_id, const struct tr_str *topic,
               int32_t partition, int64_t offset, int32_t leader_epoch,
               const struct tr_str *metadata, int64_t commit_ts)
{
    struct txn_offset *to = NULL;
    char *name = str_dup(topic), *meta = str_dup(metadata);
    tr_err_t err = TR_ERR_NOMEM;
    size_t i;

    if (name == NULL || meta == NULL) {
        goto out;
    }
    for (i = 0; i < g->ntxn_offsets; i++) {
        struct txn_offset *t = &g->txn_offsets[i];

        if (t->producer_id == producer_id && t->e.partition == partition &&
            strcmp(t->e.topic, name) == 0) {
            to = t;
            tr_free(t->e.topic);
            tr_free(t->e.metadata);
            break;
        }
    }
    if (to == NULL) {
        err = tr_array_reserve(&g->txn_offsets, &g->txn_offcap,
                               g->ntxn_offsets + 1, sizeof(*g->txn_offsets));
        if (err != TR_OK) {
            goto out;
        }
        to = &g->txn_offsets[g->ntxn_offsets++];
    }
    to->producer_id = producer_id;
    to->e.topic = name;
    to->e.partition = partition;
    to->e.offset = offset;
    to->e.leader_epoch = leader_epoch;
    to->e.metadata = meta;
    to->e.metadata_len = metadata->len > 0 ? metadata->len : 0;
    to->e.commit_ts = commit_ts;
    name = meta = NULL;
    err = TR_OK;
out:
    tr_free(name);
    tr_free(meta);
    return err;
}

/*
 * The marker of 'producer_id''s transaction was written to partition
 * 'partition' of __consumer_offsets: a COMMIT makes its pending offsets
 * committed, an ABORT drops them (Kafka's completePendingTxnOffsetCommit).
 * Called with the lock held.
 */
static tr_err_t
txn_complete_locked(struct tr_groups *groups, int32_t partition,
                    int64_t producer_id, int commit)
{
    struct group *g;
    tr_err_t err = TR_OK;
    size_t i, k;

    TAILQ_FOREACH(g, &groups->groups, link) {
        if (g->partition != partition) {
            continue;
        }
        for (i = 0, k = 0; i < g->ntxn_offsets; i++) {
            struct txn_offset *t = &g->txn_offsets[i];
            struct tr_str topic = cstr(t->e.topic);
            struct tr_str meta = { t->e.metadata, t->e.metadata_len };

            if (t->producer_id != producer_id) {
                g->txn_offsets[k++] = *t;
                continue;
            }
            if (commit && err == TR_OK) {
                err = offset_set(g, &topic, t->e.partition, t->e.offset,
                                 t->e.leader_epoch, &meta, t->e.commit_ts);
            }
            tr_free(t->e.topic);
            tr_free(t->e.metadata);
        }
        g->ntxn_offsets = k;
    }
    return err;
}

/* Like load_record, for an offset commit of a transaction (pending). */
static tr_err_t
load_txn_record(struct tr_groups *groups, const struct tr_record *rec,
                int32_t only, int64_t producer_id, int64_t now_ms)
{
    struct tr_groups_key key;
    struct tr_groups_offset_value val;
    struct group *g;

    if (rec->key_len <= 0 || rec->value_len < 0 ||
        tr_groups_decode_key(rec->key, (size_t)rec->key_len, &key) != TR_OK ||
        key.type != TR_GROUPS_KEY_OFFSET || key.group.len <= 0 ||
        tr_groups_decode_offset_value(rec->value, (size_t)rec->value_len,
                                      &val) != TR_OK) {
        return TR_OK;
    }
    if (only >= 0 &&
        tr_groups_partition_for(&key.group, groups->partitions) != only) {
        return TR_OK;
    }
    g = group_get(groups, &key.group, now_ms);
    if (g == NULL) {
        return TR_ERR_NOMEM;
    }
    return txn_offset_add(g, producer_id, &key.topic, key.partition, val.offset,
                          val.leader_epoch, &val.metadata, val.commit_ts);
}

/* What load_batch needs: the replay's arguments and where it started. */
struct load_ctx {
    struct tr_groups *groups;
    struct tr_partition *part;
    int32_t only;
    int64_t now_ms;
    int64_t from; /* the log start: records before it are gone */
    int64_t *records;
};

/* One batch of the replay (tr_partition_foreach_batch's callback). */
static tr_err_t
load_batch(const uint8_t *b, size_t blen, const struct tr_batch_header *bh,
           void *arg)
{
    struct load_ctx *lc = arg;
    struct tr_batch_iter it;
    struct tr_record rec;
    const struct tr_batch_header *h;
    tr_err_t err = TR_OK;

    (void)bh;
    if (tr_batch_iter_init(&it, b, blen, BATCH_MAX) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    h = tr_batch_iter_header(&it);
    if (h->Attributes & TR_BATCH_ATTR_CONTROL) {
        int commit;
        int32_t coordinator_epoch;

        if (tr_batch_marker_parse(b, blen, &commit, &coordinator_epoch) ==
            TR_OK) {
            err = txn_complete_locked(lc->groups, tr_partition_index(lc->part),
                                      h->ProducerId, commit);
        }
    } else {
        int64_t txn_pid =
            (h->Attributes & TR_BATCH_ATTR_TRANSACTIONAL) ? h->ProducerId : -1;

        while (tr_batch_iter_next(&it, &rec) == TR_OK) {
            if (rec.offset < lc->from) {
                continue;
            }
            err = txn_pid >= 0
                      ? load_txn_record(lc->groups, &rec, lc->only, txn_pid,
                                        lc->now_ms)
                      : load_record(lc->groups, &rec, lc->only, lc->now_ms);
            if (err != TR_OK) {
                break;
            }
            (*lc->records)++;
        }
    }
    tr_batch_iter_cleanup(&it);
    return err;
}

/*
 * Replays one partition of __consumer_offsets to its log end: on a new
 * leader the records above the high watermark are the old leader's, and
 * they become committed as the followers catch up (Kafka loads to the log
 * end too). See load_record for 'only'.
 */
static tr_err_t
load_partition(struct tr_groups *groups, struct tr_partition *part,
               int32_t only, int64_t now_ms, int64_t *records)
{
    struct tr_partition_offsets offs;
    struct load_ctx lc = { groups, part, only, now_ms, 0, records };

    tr_partition_offsets(part, &offs);
    lc.from = offs.log_start;
    return tr_partition_foreach_batch(part, offs.log_start, LOAD_CHUNK,
                                      load_batch, &lc);
}

/* Creates __consumer_offsets if it is missing; sets groups->partitions. */
static tr_err_t
ensure_topic(struct tr_groups *groups, char *errbuf, size_t errlen)
{
    static const struct tr_config_entry configs[] = {
        { "cleanup.policy", TR_GROUPS_TOPIC_CLEANUP_POLICY },
        { "segment.bytes", TR_GROUPS_TOPIC_SEGMENT_BYTES },
    };
    int32_t count = tr_topics_partition_count(groups->topics, TR_GROUPS_TOPIC);
    tr_err_t err;

    if (count < 0) {
        err = tr_topics_create(
            groups->topics, TR_GROUPS_TOPIC, groups->cfg.offsets_partitions,
            configs, sizeof(configs) / sizeof(configs[0]), errbuf, errlen);
        if (err != TR_OK && err != TR_ERR_EXISTS) {
            if (err != TR_ERR_CONFIG) {
                snprintf(errbuf, errlen, "cannot create %s: %s",
                         TR_GROUPS_TOPIC, tr_err_str(err));
            }
            return err;
        }
        tr_log_info("created %s with %d partitions", TR_GROUPS_TOPIC,
                    groups->cfg.offsets_partitions);
        count = tr_topics_partition_count(groups->topics, TR_GROUPS_TOPIC);
    } else if (count != groups->cfg.offsets_partitions) {
        /* Groups were placed by the existing count: keep it. */
        tr_log_warn("%s has %d partitions, not offsets.topic.num.partitions "
                    "(%d); keeping %d",
                    TR_GROUPS_TOPIC, count, groups->cfg.offsets_partitions,
                    count);
    }
    if (count <= 0) {
        snprintf(errbuf, errlen, "%s has no partitions", TR_GROUPS_TOPIC);
        return TR_ERR_INTERNAL;
    }
    groups->partitions = count;
    return TR_OK;
}

tr_err_t
tr_groups_open(struct tr_topics *topics, struct tr_waits *waits,
               const struct tr_groups_cluster *cluster,
               const struct tr_groups_config *cfg, int64_t now_ms,
               struct tr_groups **out, char *errbuf, size_t errlen)
{
    struct tr_groups *groups = NULL;
    int64_t records = 0;
    int32_t p;
    tr_err_t err = TR_ERR_NOMEM;

    groups = tr_calloc(1, sizeof(*groups));
    if (groups == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    pthread_mutex_init(&groups->lock, NULL);
    TAILQ_INIT(&groups->groups);
    groups->topics = topics;
    groups->waits = waits;
    groups->cfg = *cfg;
    groups->last.partition = -1;
    if (cluster != NULL) {
        groups->clustered = 1;
        groups->cluster = *cluster;
    }
    groups->id_state = (uint64_t)tr_clock_mono_us() ^ ((uint64_t)now_ms << 20) ^
                       (uint64_t)getpid();
    tr_buf_init(&groups->key, 1u << 20);
    tr_buf_init(&groups->value, BATCH_MAX);
    tr_buf_init(&groups->batch, BATCH_MAX);
    groups->builder = tr_batch_builder_new(TR_CODEC_NONE, BATCH_MAX);
    if (groups->builder == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    err = ensure_topic(groups, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    if (groups->clustered) {
        /*
         * The local log may be stale or ahead of the cluster's: nothing is
         * loaded until this broker leads a partition, and groups are placed
         * by the cluster's partition count.
         */
        groups->partitions = 0;
    }
    for (p = 0; p < groups->partitions; p++) {
        struct tr_partition *part =
            tr_topics_partition(topics, TR_GROUPS_TOPIC, p);

        if (part == NULL) {
            continue;
        }
        err = load_partition(groups, part, -1, now_ms, &records);
        tr_partition_unref(part);
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "cannot load %s-%d: %s", TR_GROUPS_TOPIC,
                     p, tr_err_str(err));
            goto out;
        }
    }
    drop_unused(groups, -1);
    if (records > 0) {
        tr_log_info("loaded %lld records of %s", (long long)records,
                    TR_GROUPS_TOPIC);
    }
    groups->next_expiry = now_ms + EXPIRY_INTERVAL_MS;
    *out = groups;
    groups = NULL;
    err = TR_OK;
out:
    tr_groups_close(groups);
    return err;
}

void
tr_groups_close(struct tr_groups *groups)
{
    struct group *g;

    if (groups == NULL) {
        return;
    }
    while ((g = TAILQ_FIRST(&groups->groups)) != NULL) {
        group_remove(groups, g);
    }
    tr_free(groups->loaded);
    tr_batch_builder_free(groups->builder);
    tr_buf_cleanup(&groups->key);
    tr_buf_cleanup(&groups->value);
    tr_buf_cleanup(&groups->batch);
    pthread_mutex_destroy(&groups->lock);
    tr_free(groups);
}

tr_err_t
tr_groups_txn_commit(struct tr_groups *groups, const struct tr_str *group_id,
                     const struct tr_str *member_id,
                     const struct tr_str *instance_id, int32_t generation,
                     int64_t producer_id, int16_t producer_epoch,
                     struct tr_offset_commit *offs, int32_t n, int64_t now_ms)
{
    struct group *g = NULL;
    int16_t kerr;
    int32_t i, accepted = 0;
    tr_err_t err = TR_OK;

    pthread_mutex_lock(&groups->lock);
    kerr = group_id->len < 0 ? TR_KERR_INVALID_GROUP_ID
                             : serve_group(groups, group_id, now_ms);
    if (kerr == TR_KERR_NONE) {
        g = group_find(groups, group_id);
        /* No member information: accepted in any state (Kafka). */
        if (!(generation < 0 && str_empty(member_id) && instance_id->len < 0)) {
            kerr = check_commit(g, member_id, instance_id, generation, now_ms);
        }
    }
    for (i = 0; i < n; i++) {
        struct tr_offset_commit *oc = &offs[i];

        oc->error = kerr;
        if (kerr != TR_KERR_NONE) {
            continue;
        }
        if (oc->topic.len <= 0) {
            oc->error = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (oc->metadata.len > groups->cfg.metadata_max_bytes) {
            oc->error = KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        tr_buf_reset(&groups->key);
        tr_buf_reset(&groups->value);
        tr_groups_put_offset_key(&groups->key, group_id, &oc->topic,
                                 oc->partition);
        tr_groups_put_offset_value(&groups->value, oc->offset, oc->leader_epoch,
                                   &oc->metadata, now_ms);
        if (add_record(groups, now_ms, 0) != TR_OK) {
            oc->error = TR_KERR_INVALID_COMMIT_OFFSET_SIZE;
            continue;
        }
        accepted++;
    }
    if (accepted == 0) {
        tr_batch_builder_reset(groups->builder);
        goto out;
    }
    if (g == NULL) {
        g = group_get(groups, group_id, now_ms);
        if (g == NULL) {
            tr_batch_builder_reset(groups->builder);
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    /*
     * One transactional batch with the producer's id and epoch; sequence
     * -1, since coordinator writes are checked by epoch only.
     */
    tr_batch_builder_set_producer(groups->builder, producer_id, producer_epoch,
                                  -1);
    tr_batch_builder_set_flags(groups->builder, TR_BATCH_ATTR_TRANSACTIONAL);
    err = write_batch(groups, g);
    tr_batch_builder_set_producer(groups->builder, -1, -1, -1);
    tr_batch_builder_set_flags(groups->builder, 0);
    for (i = 0; i < n; i++) {
        struct tr_offset_commit *oc = &offs[i];

        if (oc->error != TR_KERR_NONE) {
            continue;
        }
        if (err == TR_ERR_FENCED) {
            oc->error = TR_KERR_INVALID_PRODUCER_EPOCH;
        } else if (err == TR_ERR_STALE) {
            oc->error = TR_KERR_NOT_COORDINATOR;
        } else if (err != TR_OK) {
            oc->error = TR_KERR_COORDINATOR_NOT_AVAILABLE;
        } else if (txn_offset_add(g, producer_id, &oc->topic, oc->partition,
                                  oc->offset, oc->leader_epoch, &oc->metadata,
                                  now_ms) != TR_OK) {
            oc->error = TR_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    err = TR_OK;
out:
    pthread_mutex_unlock(&groups->lock);
    return err;
}

tr_err_t
tr_groups_txn_complete(struct tr_groups *groups, int32_t partition,
                       int64_t producer_id, int commit)
{
    tr_err_t err;

    pthread_mutex_lock(&groups->lock);
    err = txn_complete_locked(groups, partition, producer_id, commit);
    pthread_mutex_unlock(&groups->lock);
    return err;
}

int
tr_groups_txn_pending(struct tr_groups *groups, const struct tr_str *group_id,
                      const char *topic, int32_t partition)
{
    struct group *g;
    size_t i;
    int pending = 0;

    pthread_mutex_lock(&groups->lock);
    g = group_find(groups, group_id);
    for (i = 0; g != NULL && i < g->ntxn_offsets; i++) {
        if (g->txn_offsets[i].e.partition == partition &&
            strcmp(g->txn_offsets[i].e.topic, topic) == 0) {
            pending = 1;
            break;
        }
    }
    pthread_mutex_unlock(&groups->lock);
    return pending;
}
