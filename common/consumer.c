/*
 * consumer -- the client core's Kafka consumer; see consumer.h.
 *
 * Everything is driven by kick(), which looks at the state of the group and
 * of every partition and sends whatever request can be sent now: metadata
 * for new topics, FindCoordinator / JoinGroup / SyncGroup / OffsetFetch for
 * the group, ListOffsets for partitions that must resolve a position, one
 * Fetch per leader, commits. kick() runs after every response, on the
 * client's events (a connection became ready, metadata arrived) and on a
 * retry timer while something waits for a backoff.
 *
 * Partitions are never freed before the consumer: a revoked one is only
 * marked unassigned, so the requests in flight can keep pointers to them
 * and check on return whether their answer still applies (same position,
 * still assigned).
 */
#include "consumer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "log.h"
#include "proto.h"

#define MAX_TOPICS     100000
#define MAX_PARTITIONS 100000
#define MAX_MEMBERS    10000
#define RETRY_MS       100

enum pstate {
    P_NEED_STORED = 0, /* group: waiting for OffsetFetch */
    P_FETCHING_STORED, /* OffsetFetch in flight */
    P_NEED_LIST,       /* ListOffsets to send ('want', 'want_ts') */
    P_LISTING,         /* ListOffsets in flight */
    P_ACTIVE,          /* position known: fetch */
    P_STOPPED,         /* an error stopped it */
};

struct cpart {
    char *topic;
    int32_t partition;
    int assigned;
    enum pstate state;
    int64_t position;
    int64_t want;    /* TR_OFFSET_BEGINNING / END when P_NEED_LIST */
    int64_t want_ts; /* >= 0: a timestamp lookup */
    int64_t hw;
    int64_t lso; /* last stable offset from the last Fetch, -1 */
    /*
     * After a timestamp lookup: records older than this are skipped until
     * the first one at or past it (a broker may answer with the offset of
     * the batch holding the time, not of the record). -1 when off.
     */
    int64_t skip_before_ts;
    int inflight;      /* in a Fetch request */
    int seeked;        /* set by tr_consumer_seek during a rebalance callback */
    int64_t committed; /* last offset committed or queued, -1 none */
    int64_t commit_want; /* offset waiting to be committed, -1 none */
    int64_t retry_at;
};

/* A topic assigned as a whole once its partition count is known. */
struct ctopic {
    char *name;
    int64_t offset;
    int64_t ts;
    int expanded;
};

enum gstate {
    G_NONE = 0, /* assign mode */
    G_FIND,
    G_FINDING,
    G_JOIN,
    G_JOINING,
    G_ASSIGN, /* leader: waiting for partition counts */
    G_SYNCING,
    G_STABLE,
    G_LEAVING,
    G_CLOSED,
};

struct member {
    char *id;
    char **topics;
    size_t ntopics;
};

struct creq_item {
    struct cpart *p;
    int64_t offset;
};

enum creq_kind {
    R_FETCH,
    R_LIST,
    R_FIND,
    R_JOIN,
    R_SYNC,
    R_HEARTBEAT,
    R_OFFSET_FETCH,
    R_COMMIT,
    R_LEAVE,
};

struct creq {
    TAILQ_ENTRY(creq) link;
    struct tr_consumer *c;
    enum creq_kind kind;
    int32_t node;
    int32_t generation;
    size_t n;
    struct creq_item items[]; /* flexible array member */
};

TAILQ_HEAD(creq_list, creq);

struct tr_consumer {
    struct event_base *base;
    struct tr_client *client;
    struct tr_consumer_config cfg;
    char *bootstrap;
    char *client_id;
    char *group_id;
    char *assignor;
    tr_consumer_batch_cb *cb;
    tr_consumer_rebalance_cb *rebalance_cb;
    tr_consumer_error_cb *error_cb;
    void *arg;

    struct cpart **parts;
    size_t nparts;
    size_t partcap;
    struct ctopic *topics;
    size_t ntopics;

    struct creq_list reqs;
    int32_t *fetch_nodes; /* leaders with a Fetch in flight */
    size_t nfetch_nodes;

    struct tr_record *recs;
    size_t reccap;
    size_t delivered;
    int in_poll;
    int in_rebalance;
    int ever_connected;
    int64_t created;

    struct event *timer;
    struct event *poll_timer;

    /* Group mode. */
    char **subs;
    size_t nsubs;
    enum gstate gstate;
    int32_t coord;
    char *member_id;
    int32_t generation;
    int leader;
    struct member *members;
    size_t nmembers;
    int64_t group_retry_at;
    int64_t next_heartbeat;
    int64_t next_autocommit;
    int heartbeat_inflight;
    int commit_inflight;
    int leave_inflight;
};

static void kick(struct tr_consumer *c);

void
tr_consumer_config_defaults(struct tr_consumer_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->client_id = "tributary";
    cfg->assignor = "range";
    cfg->session_timeout_ms = 10000;
    cfg->rebalance_timeout_ms = 30000;
    cfg->heartbeat_ms = 3000;
    cfg->auto_commit = 1;
    cfg->auto_commit_ms = 5000;
    cfg->auto_offset_reset = TR_CONSUMER_RESET_EARLIEST;
    cfg->fetch_max_wait_ms = 500;
    cfg->fetch_min_bytes = 1;
    cfg->fetch_max_bytes = 52428800;
    cfg->partition_max_bytes = 1048576;
    cfg->request_timeout_ms = 30000;
    cfg->max_inflate_bytes = (size_t)64 << 20;
    cfg->isolation_level = 1;
    cfg->check_crcs = 0;
}

/* A non-negative int32 property value; 0 or -1. */
static int
parse_i32(const char *value, int32_t min, int32_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min ||
        v > INT32_MAX) {
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* 'value' is 'yes' (*out 1) or 'no' (*out 0), else TR_ERR_CONFIG. */
static tr_err_t
parse_choice(const char *key, const char *value, const char *yes,
             const char *no, int *out, char *errbuf, size_t errlen)
{
    if (strcmp(value, yes) == 0 || strcmp(value, no) == 0) {
        *out = strcmp(value, yes) == 0;
        return TR_OK;
    }
    snprintf(errbuf, errlen, "%s=%s: use %s or %s", key, value, yes, no);
    return TR_ERR_CONFIG;
}

tr_err_t
tr_consumer_config_set(struct tr_consumer_config *cfg, const char *key,
                       const char *value, char *errbuf, size_t errlen)
{
    int32_t v;

    if (strcmp(key, "isolation.level") == 0) {
        return parse_choice(key, value, "read_committed", "read_uncommitted",
                            &cfg->isolation_level, errbuf, errlen);
    }
    if (strcmp(key, "check.crcs") == 0) {
        return parse_choice(key, value, "true", "false", &cfg->check_crcs,
                            errbuf, errlen);
    }
    if (strcmp(key, "fetch.max.bytes") != 0 &&
        strcmp(key, "max.partition.fetch.bytes") != 0 &&
        strcmp(key, "fetch.wait.max.ms") != 0 &&
        strcmp(key, "fetch.min.bytes") != 0) {
        return TR_ERR_NOT_FOUND;
    }
    if (parse_i32(value, strcmp(key, "fetch.wait.max.ms") == 0 ? 0 : 1, &v) !=
        0) {
        snprintf(errbuf, errlen, "%s=%s: not a number in range", key, value);
        return TR_ERR_CONFIG;
    }
    if (strcmp(key, "fetch.max.bytes") == 0) {
        cfg->fetch_max_bytes = v;
    } else if (strcmp(key, "max.partition.fetch.bytes") == 0) {
        cfg->partition_max_bytes = v;
    } else if (strcmp(key, "fetch.wait.max.ms") == 0) {
        cfg->fetch_max_wait_ms = v;
    } else {
        cfg->fetch_min_bytes = v;
    }
    return TR_OK;
}

tr_err_t
tr_consumer_config_set_arg(struct tr_consumer_config *cfg, const char *arg,
                           char *errbuf, size_t errlen)
{
    char key[64];
    const char *eq = strchr(arg, '=');
    size_t klen = eq != NULL ? (size_t)(eq - arg) : 0;

    if (eq == NULL || klen == 0 || klen >= sizeof(key)) {
        return TR_ERR_NOT_FOUND; /* not one of ours; the caller says why */
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    return tr_consumer_config_set(cfg, key, eq + 1, errbuf, errlen);
}

void
tr_consumer_config_help(FILE *out, const char *indent)
{
    fprintf(out,
            "%sisolation.level=read_committed|read_uncommitted (default "
            "read_committed:\n"
            "%s    records of open or aborted transactions are not read)\n"
            "%scheck.crcs=true|false         verify each batch's CRC-32C "
            "(default false)\n"
            "%sfetch.max.bytes=N             per Fetch (default 52428800)\n"
            "%smax.partition.fetch.bytes=N   per partition (default "
            "1048576)\n"
            "%sfetch.wait.max.ms=N           (default 500)\n"
            "%sfetch.min.bytes=N             (default 1)\n",
            indent, indent, indent, indent, indent, indent, indent);
}

/* read_committed filtering. */

struct tr_consumer_txnf {
    struct tr_consumer_aborted *aborted; /* sorted by first offset */
    size_t n;
    size_t next;   /* the first not yet reached */
    int64_t *pids; /* aborted producer ids in effect */
    size_t npids;
};

static int
aborted_cmp(const void *a, const void *b)
{
    const struct tr_consumer_aborted *x = a, *y = b;

    return x->first_offset < y->first_offset   ? -1
           : x->first_offset > y->first_offset ? 1
                                               : 0;
}

tr_err_t
tr_consumer_txnf_new(const struct tr_consumer_aborted *aborted, size_t n,
                     struct tr_consumer_txnf **out)
{
    struct tr_consumer_txnf *f = tr_calloc(1, sizeof(*f));

    if (f == NULL) {
        return TR_ERR_NOMEM;
    }
    f->aborted = tr_calloc(n + 1, sizeof(*f->aborted));
    f->pids = tr_calloc(n + 1, sizeof(*f->pids));
    if (f->aborted == NULL || f->pids == NULL) {
        tr_consumer_txnf_free(f);
        return TR_ERR_NOMEM;
    }
    if (n > 0) {
        memcpy(f->aborted, aborted, n * sizeof(*aborted));
        qsort(f->aborted, n, sizeof(*f->aborted), aborted_cmp);
    }
    f->n = n;
    *out = f;
    return TR_OK;
}

static size_t
txnf_find(const struct tr_consumer_txnf *f, int64_t pid)
{
    size_t i;

    for (i = 0; i < f->npids; i++) {
        if (f->pids[i] == pid) {
            return i;
        }
    }
    return SIZE_MAX;
}

int
tr_consumer_txnf_keep(struct tr_consumer_txnf *f, const uint8_t *batch,
                      size_t len, const struct tr_batch_header *h)
{
    int64_t last = h->BaseOffset + h->LastOffsetDelta;
    int32_t coordinator_epoch;
    size_t i;
    int commit;

    /* Transactions that started at or before this batch are now aborted. */
    while (f->next < f->n && f->aborted[f->next].first_offset <= last) {
        if (txnf_find(f, f->aborted[f->next].producer_id) == SIZE_MAX) {
            f->pids[f->npids++] = f->aborted[f->next].producer_id;
        }
        f->next++;
    }
    if (h->Attributes & TR_BATCH_ATTR_CONTROL) {
        if (tr_batch_marker_parse(batch, len, &commit, &coordinator_epoch) ==
                TR_OK &&
            !commit && (i = txnf_find(f, h->ProducerId)) != SIZE_MAX) {
            f->pids[i] = f->pids[--f->npids];
        }
        return 0;
    }
    if ((h->Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
        txnf_find(f, h->ProducerId) != SIZE_MAX) {
        return 0;
    }
    return 1;
}

void
tr_consumer_txnf_free(struct tr_consumer_txnf *f)
{
    if (f == NULL) {
        return;
    }
    tr_free(f->aborted);
    tr_free(f->pids);
    tr_free(f);
}

/* Partitions. */

static struct cpart *
part_find(const struct tr_consumer *c, const char *topic, size_t topic_len,
          int32_t partition)
{
    size_t i;

    for (i = 0; i < c->nparts; i++) {
        struct cpart *p = c->parts[i];

        if (p->partition == partition && strlen(p->topic) == topic_len &&
            memcmp(p->topic, topic, topic_len) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Returns the partition, made if new (unassigned), or NULL (out of memory). */
static struct cpart *
part_get(struct tr_consumer *c, const char *topic, size_t topic_len,
         int32_t partition)
{
    struct cpart *p = part_find(c, topic, topic_len, partition);
    struct cpart **grown;

    if (p != NULL) {
        return p;
    }
    if (c->nparts == c->partcap) {
        size_t cap = c->partcap ? c->partcap * 2 : 16;

        grown = tr_realloc(c->parts, cap * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        c->parts = grown;
        c->partcap = cap;
    }
    p = tr_calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->topic = tr_strndup(topic, topic_len);
    if (p->topic == NULL) {
        tr_free(p);
        return NULL;
    }
    p->partition = partition;
    p->position = -1;
    p->hw = -1;
    p->lso = -1;
    p->want_ts = -1;
    p->skip_before_ts = -1;
    p->committed = -1;
    p->commit_want = -1;
    c->parts[c->nparts++] = p;
    if (tr_client_topic_add(c->client, p->topic) != TR_OK) {
        return NULL;
    }
    return p;
}

/* Points 'p' at a starting offset (or a lookup to make). */
static void
part_start(struct cpart *p, int64_t offset, int64_t ts)
{
    p->want_ts = -1;
    p->skip_before_ts = -1;
    p->retry_at = 0;
    if (ts >= 0) {
        p->state = P_NEED_LIST;
        p->want_ts = ts;
        p->position = -1;
    } else if (offset >= 0) {
        p->state = P_ACTIVE;
        p->position = offset;
    } else if (offset == TR_OFFSET_STORED) {
        p->state = P_NEED_STORED;
        p->position = -1;
    } else {
        p->state = P_NEED_LIST;
        p->want = offset == TR_OFFSET_END ? TR_OFFSET_END : TR_OFFSET_BEGINNING;
        p->position = -1;
    }
}

/* Applies auto.offset.reset to a partition without a usable position. */
static void
part_reset(struct tr_consumer *c, struct cpart *p, int16_t kerr)
{
    switch (c->cfg.auto_offset_reset) {
    case TR_CONSUMER_RESET_LATEST:
        part_start(p, TR_OFFSET_END, -1);
        break;
    case TR_CONSUMER_RESET_NONE:
        p->state = P_STOPPED;
        if (c->error_cb != NULL) {
            c->error_cb(p->topic, p->partition, TR_ERR_OUT_OF_RANGE, kerr,
                        c->arg);
        }
        break;
    default:
        part_start(p, TR_OFFSET_BEGINNING, -1);
        break;
    }
}

static void
part_stop(struct tr_consumer *c, struct cpart *p, tr_err_t err, int16_t kerr)
{
    p->state = P_STOPPED;
    if (c->error_cb != NULL) {
        c->error_cb(p->topic, p->partition, err, kerr, c->arg);
    }
}

/* Requests. */

static struct creq *
creq_new(struct tr_consumer *c, enum creq_kind kind, int32_t node, size_t n)
{
    struct creq *r = tr_calloc(1, sizeof(*r) + n * sizeof(r->items[0]));

    if (r == NULL) {
        return NULL;
    }
    r->c = c;
    r->kind = kind;
    r->node = node;
    r->generation = c->generation;
    TAILQ_INSERT_TAIL(&c->reqs, r, link);
    return r;
}

static void
creq_free(struct creq *r)
{
    if (r != NULL) {
        TAILQ_REMOVE(&r->c->reqs, r, link);
        tr_free(r);
    }
}

static void
retry_later(struct tr_consumer *c, int ms)
{
    struct timeval tv;

    if (evtimer_pending(c->timer, NULL)) {
        return;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(c->timer, &tv);
}

/* Encoders and decoders shared with the admin client. */

tr_err_t
tr_consumer_subscription_encode(struct tr_buf *b, const char *const *topics,
                                size_t n)
{
    size_t i;

    tr_buf_put_i16(b, 0);                       /* Version */
    tr_proto_put_array_len_v(b, 0, (int32_t)n); /* Topics */
    for (i = 0; i < n; i++) {
        tr_proto_put_cstring_v(b, 0, topics[i]);
    }
    tr_proto_put_bytes_v(b, 0, NULL, -1); /* UserData */
    return tr_buf_err(b);
}

tr_err_t
tr_consumer_subscription_decode(struct tr_slice *s, tr_consumer_topic_cb *cb,
                                void *arg)
{
    int16_t version;
    int32_t n, i;
    struct tr_str t;
    tr_err_t err;

    if ((err = tr_slice_get_i16(s, &version)) != TR_OK) {
        goto out;
    }
    if (version < 0) {
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    if ((err = tr_proto_get_array_len_v(s, 0, &n, 2, MAX_TOPICS)) != TR_OK) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        if ((err = tr_proto_get_string(s, &t)) != TR_OK) {
            goto out;
        }
        if (t.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if ((err = cb(&t, arg)) != TR_OK) {
            goto out;
        }
    }
    /* UserData and the later versions' fields are not needed. */
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_consumer_assignment_encode(struct tr_buf *b, const struct tr_assignment *a,
                              size_t n)
{
    size_t i, j, ntopics = 0;
    size_t of_count;
    int32_t count;

    tr_buf_put_i16(b, 0); /* Version */
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(a[i].topic, a[i - 1].topic) != 0) {
            ntopics++;
        }
    }
    tr_proto_put_array_len_v(b, 0, (int32_t)ntopics); /* AssignedPartitions */
    for (i = 0; i < n; i = j) {
        tr_proto_put_cstring_v(b, 0, a[i].topic); /* Topic */
        of_count = tr_buf_put_i32(b, 0);          /* Partitions */
        count = 0;
        for (j = i; j < n && strcmp(a[j].topic, a[i].topic) == 0; j++) {
            tr_buf_put_i32(b, a[j].partition);
            count++;
        }
        tr_buf_set_i32(b, of_count, count);
    }
    tr_proto_put_bytes_v(b, 0, NULL, -1); /* UserData */
    return tr_buf_err(b);
}

tr_err_t
tr_consumer_assignment_decode(struct tr_slice *s, tr_consumer_tp_cb *cb,
                              void *arg)
{
    int16_t version;
    int32_t nt, np, i, j, part;
    struct tr_str t;
    tr_err_t err;

    if (tr_slice_remaining(s) == 0) {
        err = TR_OK; /* an empty assignment */
        goto out;
    }
    if ((err = tr_slice_get_i16(s, &version)) != TR_OK) {
        goto out;
    }
    if ((err = tr_proto_get_array_len_v(s, 0, &nt, 6, MAX_TOPICS)) != TR_OK) {
        goto out;
    }
    for (i = 0; i < nt; i++) {
        if ((err = tr_proto_get_string(s, &t)) != TR_OK) {
            goto out;
        }
        if (t.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        err = tr_proto_get_array_len_v(s, 0, &np, 4, MAX_PARTITIONS);
        if (err != TR_OK) {
            goto out;
        }
        for (j = 0; j < np; j++) {
            if ((err = tr_slice_get_i32(s, &part)) != TR_OK) {
                goto out;
            }
            if ((err = cb(&t, part, arg)) != TR_OK) {
                goto out;
            }
        }
    }
    err = TR_OK;
out:
    return err;
}

/* Assignors. */

static int
member_cmp(const void *a, const void *b)
{
    const struct tr_assign_member *const *x = a, *const *y = b;

    return strcmp((*x)->id, (*y)->id);
}

static int
topic_cmp(const void *a, const void *b)
{
    const struct tr_assign_topic *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

static int
assignment_cmp(const void *a, const void *b)
{
    const struct tr_assignment *x = a, *y = b;
    int d;

    if (x->member != y->member) {
        return x->member < y->member ? -1 : 1;
    }
    if ((d = strcmp(x->topic, y->topic)) != 0) {
        return d;
    }
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static int
subscribed(const struct tr_assign_member *m, const char *topic)
{
    size_t i;

    for (i = 0; i < m->ntopics; i++) {
        if (strcmp(m->topics[i], topic) == 0) {
            return 1;
        }
    }
    return 0;
}

tr_err_t
tr_consumer_assignor_run(const char *assignor,
                         const struct tr_assign_member *members,
                         size_t nmembers, const struct tr_assign_topic *topics,
                         size_t ntopics, struct tr_assignment **out,
                         size_t *nout)
{
    const struct tr_assign_member **ms = NULL;
    const struct tr_assign_topic **ts = NULL;
    size_t *subs = NULL;
    struct tr_assignment *a = NULL;
    size_t total = 0, n = 0, i, t, k, nsub, next = 0;
    int roundrobin;
    int32_t p;
    tr_err_t err = TR_ERR_INVALID;

    *out = NULL;
    *nout = 0;
    if (strcmp(assignor, "range") == 0) {
        roundrobin = 0;
    } else if (strcmp(assignor, "roundrobin") == 0) {
        roundrobin = 1;
    } else {
        goto out;
    }
    err = TR_ERR_NOMEM;
    for (t = 0; t < ntopics; t++) {
        total += topics[t].partitions > 0 ? (size_t)topics[t].partitions : 0;
    }
    ms = tr_calloc(nmembers + 1, sizeof(*ms));
    ts = tr_calloc(ntopics + 1, sizeof(*ts));
    subs = tr_calloc(nmembers + 1, sizeof(*subs));
    a = tr_calloc(total + 1, sizeof(*a));
    if (ms == NULL || ts == NULL || subs == NULL || a == NULL) {
        goto out;
    }
    for (i = 0; i < nmembers; i++) {
        ms[i] = &members[i];
    }
    for (t = 0; t < ntopics; t++) {
        ts[t] = &topics[t];
    }
    qsort(ms, nmembers, sizeof(*ms), member_cmp);
    qsort(ts, ntopics, sizeof(*ts), topic_cmp);
    for (t = 0; t < ntopics; t++) {
        nsub = 0;
        for (i = 0; i < nmembers; i++) {
            if (subscribed(ms[i], ts[t]->name)) {
                subs[nsub++] = i;
            }
        }
        if (nsub == 0) {
            continue;
        }
        if (!roundrobin) {
            int32_t per = ts[t]->partitions / (int32_t)nsub;
            int32_t extra = ts[t]->partitions % (int32_t)nsub;

            p = 0;
            for (k = 0; k < nsub; k++) {
                int32_t cnt = per + ((int32_t)k < extra ? 1 : 0), j;

                for (j = 0; j < cnt; j++) {
                    a[n].member = (size_t)(ms[subs[k]] - members);
                    a[n].topic = ts[t]->name;
                    a[n].partition = p++;
                    n++;
                }
            }
            continue;
        }
        for (p = 0; p < ts[t]->partitions; p++) {
            /* Deal to the next member (in id order) subscribed to it. */
            while (!subscribed(ms[next % nmembers], ts[t]->name)) {
                next++;
            }
            a[n].member = (size_t)(ms[next % nmembers] - members);
            a[n].topic = ts[t]->name;
            a[n].partition = p;
            n++;
            next++;
        }
    }
    qsort(a, n, sizeof(*a), assignment_cmp);
    *out = a;
    *nout = n;
    a = NULL;
    err = TR_OK;
out:
    tr_free(ms);
    tr_free(ts);
    tr_free(subs);
    tr_free(a);
    return err;
}

/* Delivery. */

/*
 * Hands out one batch: the records at or past 'from' (a fetch lands at the
 * start of the batch holding the wanted offset). Control batches carry no
 * user records.
 */
static tr_err_t
deliver_batch(struct tr_consumer *c, struct cpart *p, const uint8_t *data,
              size_t len, int64_t from, int64_t hw, int64_t next)
{
    struct tr_batch_iter it;
    struct tr_consumer_batch out;
    struct tr_record rec;
    size_t n = 0;
    tr_err_t err;

    err = tr_batch_iter_init_flags(&it, data, len, c->cfg.max_inflate_bytes,
                                   c->cfg.check_crcs ? TR_BATCH_ITER_CHECK_CRC
                                                     : 0);
    if (err != TR_OK) {
        goto out;
    }
    if (it.h.Attributes & TR_BATCH_ATTR_CONTROL) {
        err = TR_OK;
        goto out;
    }
    if ((size_t)it.h.RecordsCount > c->reccap) {
        size_t cap = (size_t)it.h.RecordsCount;
        struct tr_record *grown = tr_realloc(c->recs, cap * sizeof(*grown));

        if (grown == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        c->recs = grown;
        c->reccap = cap;
    }
    while ((err = tr_batch_iter_next(&it, &rec)) == TR_OK) {
        if (rec.offset < from || n == c->reccap) {
            continue;
        }
        if (p->skip_before_ts >= 0) {
            if (rec.timestamp < p->skip_before_ts) {
                continue;
            }
            p->skip_before_ts = -1;
        }
        c->recs[n++] = rec;
    }
    if (err != TR_ERR_NOT_FOUND) {
        goto out;
    }
    err = TR_OK;
    if (n == 0) {
        goto out;
    }
    out.topic = p->topic;
    out.partition = p->partition;
    out.records = c->recs;
    out.count = n;
    out.high_watermark = hw;
    out.next_offset = next;
    c->delivered += n;
    c->cb(&out, c->arg);
out:
    tr_batch_iter_cleanup(&it);
    return err;
}

/* One partition's data from a Fetch response. */
struct fpart {
    struct cpart *p;
    int64_t from;
    int64_t hw;
    struct tr_str records;
    const uint8_t *aborted; /* read_committed: naborted (pid, first offset) */
    int32_t naborted;
};

/*
 * Advances 'fp->p' past the whole batches in its records (without reading
 * them) so the next Fetch can go out before delivery.
 */
static void
advance_position(struct fpart *fp)
{
    struct tr_slice s;
    const uint8_t *batch;
    size_t len;
    struct tr_batch_header h;

    tr_slice_init(&s, fp->records.ptr, (size_t)fp->records.len);
    while (tr_batch_next(&s, &batch, &len) == TR_OK) {
        if (tr_batch_header_parse(batch, len, &h) != TR_OK) {
            break;
        }
        if (h.BaseOffset + h.LastOffsetDelta + 1 > fp->p->position) {
            fp->p->position = h.BaseOffset + h.LastOffsetDelta + 1;
        }
    }
}

/*
 * The aborted transactions of a Fetch answer, as a filter; NULL when none
 * (then only control batches are dropped).
 */
static tr_err_t
fetch_txnf(const struct fpart *fp, struct tr_consumer_txnf **out)
{
    struct tr_consumer_aborted *a;
    int32_t i;
    tr_err_t err;

    *out = NULL;
    if (fp->naborted <= 0) {
        return TR_OK;
    }
    a = tr_calloc((size_t)fp->naborted, sizeof(*a));
    if (a == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < fp->naborted; i++) {
        a[i].producer_id = tr_load_i64(fp->aborted + 16 * (size_t)i);
        a[i].first_offset = tr_load_i64(fp->aborted + 16 * (size_t)i + 8);
    }
    err = tr_consumer_txnf_new(a, (size_t)fp->naborted, out);
    tr_free(a);
    return err;
}

static void
deliver_part(struct tr_consumer *c, struct fpart *fp)
{
    struct tr_slice s;
    const uint8_t *batch;
    size_t len;
    struct tr_batch_header h;
    struct tr_consumer_txnf *txnf = NULL;
    tr_err_t err;

    if ((err = fetch_txnf(fp, &txnf)) != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, fp->records.ptr, (size_t)fp->records.len);
    while ((err = tr_batch_next(&s, &batch, &len)) == TR_OK) {
        if (tr_batch_header_parse(batch, len, &h) != TR_OK) {
            err = TR_ERR_CORRUPT;
            break;
        }
        if (txnf != NULL && !tr_consumer_txnf_keep(txnf, batch, len, &h)) {
            continue; /* a marker or an aborted transaction's data */
        }
        if (h.BaseOffset + h.LastOffsetDelta < fp->from) {
            continue;
        }
        if (!fp->p->assigned) {
            break; /* revoked by a callback */
        }
        err = deliver_batch(c, fp->p, batch, len, fp->from, fp->hw,
                            h.BaseOffset + h.LastOffsetDelta + 1);
        if (err != TR_OK) {
            break;
        }
    }
out:
    tr_consumer_txnf_free(txnf);
    if (err != TR_OK && err != TR_ERR_NOT_FOUND && err != TR_ERR_TRUNCATED) {
        tr_log_error("consumer: %s [%d]: bad batch near offset %lld: %s",
                     fp->p->topic, (int)fp->p->partition,
                     (long long)fp->p->position, tr_err_str(err));
        part_stop(c, fp->p, err, 0);
    }
}

/* Fetch. */

static void
fetch_node_done(struct tr_consumer *c, int32_t node)
{
    size_t i;

    for (i = 0; i < c->nfetch_nodes; i++) {
        if (c->fetch_nodes[i] == node) {
            c->fetch_nodes[i] = c->fetch_nodes[--c->nfetch_nodes];
            return;
        }
    }
}

static int
fetch_node_busy(const struct tr_consumer *c, int32_t node)
{
    size_t i;

    for (i = 0; i < c->nfetch_nodes; i++) {
        if (c->fetch_nodes[i] == node) {
            return 1;
        }
    }
    return 0;
}

static void
handle_part_error(struct tr_consumer *c, struct cpart *p, int16_t kerr)
{
    switch (kerr) {
    case TR_KERR_OFFSET_OUT_OF_RANGE:
        tr_log_debug("consumer: %s [%d] offset %lld out of range", p->topic,
                     (int)p->partition, (long long)p->position);
        part_reset(c, p, kerr);
        break;
    case TR_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case TR_KERR_NOT_LEADER_OR_FOLLOWER:
    case TR_KERR_LEADER_NOT_AVAILABLE:
    case TR_KERR_REQUEST_TIMED_OUT:
    case TR_KERR_KAFKA_STORAGE_ERROR:
        p->retry_at = tr_clock_mono_ms() + 500;
        tr_client_metadata_refresh(c->client);
        break;
    default:
        part_stop(c, p, TR_ERR_INTERNAL, kerr);
        break;
    }
}

static void
fetch_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct creq *r = arg;
    struct tr_consumer *c = r->c;
    struct fpart *fps = NULL;
    size_t nfp = 0, i, k;
    int32_t nt, np, ti, pi, part, throttle, naborted;
    int16_t kerr, top_err;
    int64_t hw, lso, lstart;
    struct tr_str topic, records;
    const uint8_t *aborted;

    fetch_node_done(c, r->node);
    for (i = 0; i < r->n; i++) {
        r->items[i].p->inflight = 0;
    }
    if (err != TR_OK) {
        goto out;
    }
    fps = tr_calloc(r->n + 1, sizeof(*fps));
    if (fps == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    if ((err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        goto out;
    }
    if (version >= 7) {
        int32_t session;

        if ((err = tr_slice_get_i16(body, &top_err)) != TR_OK ||
            (err = tr_slice_get_i32(body, &session)) != TR_OK) {
            goto out;
        }
        if (top_err != 0) {
            tr_log_warn("consumer: Fetch failed with error %d", top_err);
            goto out;
        }
    }
    err = tr_proto_get_array_len_v(body, 0, &nt, 6, MAX_TOPICS);
    if (err != TR_OK) {
        goto out;
    }
    for (ti = 0; ti < nt; ti++) {
        if ((err = tr_proto_get_string(body, &topic)) != TR_OK) {
            goto out;
        }
        err = tr_proto_get_array_len_v(body, 0, &np, 14, MAX_PARTITIONS);
        if (err != TR_OK) {
            goto out;
        }
        for (pi = 0; pi < np; pi++) {
            struct cpart *p = NULL;

            if ((err = tr_slice_get_i32(body, &part)) != TR_OK ||
                (err = tr_slice_get_i16(body, &kerr)) != TR_OK ||
                (err = tr_slice_get_i64(body, &hw)) != TR_OK ||
                (err = tr_slice_get_i64(body, &lso)) != TR_OK) {
                goto out;
            }
            if (version >= 5 &&
                (err = tr_slice_get_i64(body, &lstart)) != TR_OK) {
                goto out;
            }
            err = tr_proto_get_array_len_v(body, 0, &naborted, 16,
                                           MAX_PARTITIONS);
            if (err != TR_OK) {
                goto out;
            }
            aborted = tr_slice_cur(body);
            if (naborted > 0 &&
                (err = tr_slice_skip(body, (size_t)naborted * 16)) != TR_OK) {
                goto out;
            }
            if (version >= 11) {
                int32_t preferred;

                if ((err = tr_slice_get_i32(body, &preferred)) != TR_OK) {
                    goto out;
                }
            }
            if ((err = tr_proto_get_bytes(body, &records)) != TR_OK) {
                goto out;
            }
            /* Only answers for the position we asked about still apply. */
            for (k = 0; k < r->n; k++) {
                struct cpart *q = r->items[k].p;

                if (q->partition == part && topic.len >= 0 &&
                    tr_str_eq(&topic, q->topic)) {
                    if (q->assigned && q->state == P_ACTIVE &&
                        q->position == r->items[k].offset &&
                        r->generation == c->generation) {
                        p = q;
                    }
                    break;
                }
            }
            if (p == NULL) {
                continue;
            }
            if (kerr != 0) {
                handle_part_error(c, p, kerr);
                continue;
            }
            p->hw = hw;
            p->lso = lso;
            if (records.len > 0 && nfp < r->n) {
                fps[nfp].p = p;
                fps[nfp].from = p->position;
                fps[nfp].hw = hw;
                fps[nfp].records = records;
                fps[nfp].aborted = aborted;
                fps[nfp].naborted = c->cfg.isolation_level ? naborted : 0;
                advance_position(&fps[nfp]);
                nfp++;
            }
        }
    }
    err = TR_OK;
out:
    if (err != TR_OK && err != TR_ERR_CLOSED) {
        tr_log_debug("consumer: Fetch from node %d failed: %s", (int)r->node,
                     tr_err_str(err));
    }
    /* Send the next Fetch before handing these records out. */
    kick(c);
    for (i = 0; i < nfp; i++) {
        deliver_part(c, &fps[i]);
    }
    tr_free(fps);
    creq_free(r);
    if (nfp > 0 && c->in_poll) {
        event_base_loopbreak(c->base);
    }
}

tr_err_t tr_consumer_FetchRequest_encode(struct tr_buf *b, int16_t version,
                                         const struct tr_consumer_config *cfg,
                                         const struct creq_item *items,
                                         size_t n);

/* Items are grouped by topic (the caller sorts them). */
tr_err_t
tr_consumer_FetchRequest_encode(struct tr_buf *b, int16_t version,
                                const struct tr_consumer_config *cfg,
                                const struct creq_item *items, size_t n)
{
    size_t i, j, ntopics = 0;
    size_t of_count;
    int32_t count;

    tr_buf_put_i32(b, -1);                                    /* ReplicaId */
    tr_buf_put_i32(b, cfg->fetch_max_wait_ms);                /* MaxWaitMs */
    tr_buf_put_i32(b, cfg->fetch_min_bytes);                  /* MinBytes */
    tr_buf_put_i32(b, cfg->fetch_max_bytes);                  /* MaxBytes */
    tr_buf_put_i8(b, (int8_t)(cfg->isolation_level ? 1 : 0)); /* Isolation */
    if (version >= 7) {
        tr_buf_put_i32(b, 0);  /* SessionId */
        tr_buf_put_i32(b, -1); /* SessionEpoch: no session */
    }
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(items[i].p->topic, items[i - 1].p->topic) != 0) {
            ntopics++;
        }
    }
    tr_proto_put_array_len_v(b, 0, (int32_t)ntopics); /* Topics */
    for (i = 0; i < n; i = j) {
        tr_proto_put_cstring_v(b, 0, items[i].p->topic); /* Topic */
        of_count = tr_buf_put_i32(b, 0);                 /* Partitions */
        count = 0;
        for (j = i; j < n && strcmp(items[j].p->topic, items[i].p->topic) == 0;
             j++) {
            tr_buf_put_i32(b, items[j].p->partition); /* Partition */
            if (version >= 9) {
                tr_buf_put_i32(b, -1); /* CurrentLeaderEpoch */
            }
            tr_buf_put_i64(b, items[j].offset); /* FetchOffset */
            if (version >= 5) {
                tr_buf_put_i64(b, -1); /* LogStartOffset */
            }
            tr_buf_put_i32(b, cfg->partition_max_bytes); /* PartitionMaxBytes */
            count++;
        }
        tr_buf_set_i32(b, of_count, count);
    }
    if (version >= 7) {
        tr_proto_put_array_len_v(b, 0, 0); /* ForgottenTopicsData */
    }
    if (version >= 11) {
        tr_proto_put_cstring_v(b, 0, ""); /* RackId */
    }
    return tr_buf_err(b);
}

static void list_cb(tr_err_t err, int16_t version, struct tr_slice *body,
                    void *arg);

static int
item_cmp(const void *a, const void *b)
{
    const struct creq_item *x = a, *y = b;

    return strcmp(x->p->topic, y->p->topic);
}

/*
 * Sends one request of 'kind' (R_FETCH or R_LIST) to 'node' for the
 * partitions in 'ps' (all led by it).
 */
static void
send_part_request(struct tr_consumer *c, enum creq_kind kind, int32_t node,
                  struct tr_conn *conn, struct cpart **ps, size_t n)
{
    struct creq *r = NULL;
    struct tr_buf body;
    int16_t version;
    size_t i, j, nt;
    tr_err_t err = TR_ERR_NOMEM;

    tr_buf_init(&body, SIZE_MAX);
    if (kind == R_FETCH) {
        version = tr_conn_api_version(conn, TR_API_FETCH, 4, 11);
    } else {
        version = tr_conn_api_version(conn, TR_API_LIST_OFFSETS, 1, 4);
    }
    if (version < 0) {
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    r = creq_new(c, kind, node, n);
    if (r == NULL) {
        goto out;
    }
    r->n = n;
    for (i = 0; i < n; i++) {
        r->items[i].p = ps[i];
        r->items[i].offset = kind == R_FETCH       ? ps[i]->position
                             : ps[i]->want_ts >= 0 ? ps[i]->want_ts
                                                   : ps[i]->want;
    }
    qsort(r->items, n, sizeof(r->items[0]), item_cmp);
    if (kind == R_FETCH) {
        err = tr_consumer_FetchRequest_encode(&body, version, &c->cfg, r->items,
                                              n);
    } else {
        tr_buf_put_i32(&body, -1); /* ReplicaId */
        if (version >= 2) {
            tr_buf_put_i8(&body, 0); /* IsolationLevel */
        }
        for (i = 0, nt = 0; i < n; i++) {
            nt += i == 0 ||
                  strcmp(r->items[i].p->topic, r->items[i - 1].p->topic) != 0;
        }
        tr_proto_put_array_len_v(&body, 0, (int32_t)nt); /* Topics */
        for (i = 0; i < n; i = j) {
            size_t of_count;

            tr_proto_put_cstring_v(&body, 0, r->items[i].p->topic); /* Name */
            of_count = tr_buf_put_i32(&body, 0); /* Partitions */
            for (j = i; j < n &&
                        strcmp(r->items[j].p->topic, r->items[i].p->topic) == 0;
                 j++) {
                tr_buf_put_i32(&body, r->items[j].p->partition);
                if (version >= 4) {
                    tr_buf_put_i32(&body, -1); /* CurrentLeaderEpoch */
                }
                tr_buf_put_i64(&body, r->items[j].offset); /* Timestamp */
            }
            tr_buf_set_i32(&body, of_count, (int32_t)(j - i));
        }
        err = tr_buf_err(&body);
    }
    if (err != TR_OK) {
        goto out;
    }
    err = tr_conn_request(
        conn, kind == R_FETCH ? TR_API_FETCH : TR_API_LIST_OFFSETS, version,
        &body, kind == R_FETCH ? fetch_cb : list_cb, r);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (kind == R_FETCH) {
            ps[i]->inflight = 1;
        } else {
            ps[i]->state = P_LISTING;
        }
    }
    if (kind == R_FETCH) {
        c->fetch_nodes[c->nfetch_nodes++] = node;
    }
    r = NULL;
out:
    if (err != TR_OK) {
        tr_log_debug("consumer: cannot send to node %d: %s", (int)node,
                     tr_err_str(err));
        retry_later(c, RETRY_MS);
    }
    creq_free(r);
    tr_buf_cleanup(&body);
}

static void
list_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct creq *r = arg;
    struct tr_consumer *c = r->c;
    int32_t nt, np, ti, pi, part, throttle, epoch;
    int16_t kerr;
    int64_t ts, offset;
    struct tr_str topic;
    size_t k;

    if (err != TR_OK) {
        goto out;
    }
    if (version >= 2 && (err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        goto out;
    }
    err = tr_proto_get_array_len_v(body, 0, &nt, 6, MAX_TOPICS);
    if (err != TR_OK) {
        goto out;
    }
    for (ti = 0; ti < nt; ti++) {
        if ((err = tr_proto_get_string(body, &topic)) != TR_OK) {
            goto out;
        }
        err = tr_proto_get_array_len_v(body, 0, &np, 22, MAX_PARTITIONS);
        if (err != TR_OK) {
            goto out;
        }
        for (pi = 0; pi < np; pi++) {
            if ((err = tr_slice_get_i32(body, &part)) != TR_OK ||
                (err = tr_slice_get_i16(body, &kerr)) != TR_OK ||
                (err = tr_slice_get_i64(body, &ts)) != TR_OK ||
                (err = tr_slice_get_i64(body, &offset)) != TR_OK) {
                goto out;
            }
            if (version >= 4 &&
                (err = tr_slice_get_i32(body, &epoch)) != TR_OK) {
                goto out;
            }
            for (k = 0; k < r->n; k++) {
                struct cpart *p = r->items[k].p;

                if (p->partition != part || topic.len < 0 ||
                    !tr_str_eq(&topic, p->topic) || p->state != P_LISTING) {
                    continue;
                }
                if (kerr != 0) {
                    p->state = P_NEED_LIST;
                    handle_part_error(c, p, kerr);
                } else if (offset < 0) {
                    /* No record at or after the timestamp: the end. */
                    part_start(p, TR_OFFSET_END, -1);
                } else {
                    p->state = P_ACTIVE;
                    p->position = offset;
                    p->skip_before_ts =
                        r->items[k].offset >= 0 ? r->items[k].offset : -1;
                }
            }
        }
    }
    err = TR_OK;
out:
    for (k = 0; k < r->n; k++) {
        if (r->items[k].p->state == P_LISTING) {
            r->items[k].p->state = P_NEED_LIST;
            r->items[k].p->retry_at = tr_clock_mono_ms() + RETRY_MS;
        }
    }
    if (err != TR_OK) {
        tr_log_debug("consumer: ListOffsets failed: %s", tr_err_str(err));
        retry_later(c, RETRY_MS);
    }
    creq_free(r);
    kick(c);
}

/* Group membership. */

static void
members_free(struct tr_consumer *c)
{
    size_t i, j;

    for (i = 0; i < c->nmembers; i++) {
        for (j = 0; j < c->members[i].ntopics; j++) {
            tr_free(c->members[i].topics[j]);
        }
        tr_free(c->members[i].topics);
        tr_free(c->members[i].id);
    }
    tr_free(c->members);
    c->members = NULL;
    c->nmembers = 0;
}

static tr_err_t
member_topic_cb(const struct tr_str *topic, void *arg)
{
    struct member *m = arg;
    char **grown;

    grown = tr_realloc(m->topics, (m->ntopics + 1) * sizeof(*grown));
    if (grown == NULL) {
        return TR_ERR_NOMEM;
    }
    m->topics = grown;
    m->topics[m->ntopics] = tr_strndup(topic->ptr, (size_t)topic->len);
    if (m->topics[m->ntopics] == NULL) {
        return TR_ERR_NOMEM;
    }
    m->ntopics++;
    return TR_OK;
}

static void
set_member_id(struct tr_consumer *c, const char *id, size_t len)
{
    char *copy = tr_strndup(id, len);

    if (copy != NULL) {
        tr_free(c->member_id);
        c->member_id = copy;
    }
}

/* Lists the assigned partitions for a rebalance callback. */
static void
call_rebalance(struct tr_consumer *c, int assigned)
{
    struct tr_consumer_tp *tps;
    size_t i, n = 0;

    if (c->rebalance_cb == NULL) {
        return;
    }
    tps = tr_calloc(c->nparts + 1, sizeof(*tps));
    if (tps == NULL) {
        return;
    }
    for (i = 0; i < c->nparts; i++) {
        if (c->parts[i]->assigned) {
            tps[n].topic = c->parts[i]->topic;
            tps[n].partition = c->parts[i]->partition;
            n++;
        }
    }
    c->in_rebalance = 1;
    c->rebalance_cb(assigned, tps, n, c->arg);
    c->in_rebalance = 0;
    tr_free(tps);
}

static void send_commit(struct tr_consumer *c);

/*
 * Gives the assignment back before a rejoin: the callback commits what it
 * processed, auto commit commits the positions.
 */
static void
revoke_all(struct tr_consumer *c)
{
    size_t i;
    int any = 0;

    for (i = 0; i < c->nparts; i++) {
        any |= c->parts[i]->assigned;
    }
    if (!any) {
        return;
    }
    call_rebalance(c, 0);
    if (c->cfg.auto_commit) {
        tr_consumer_commit_positions(c);
    }
    send_commit(c);
    for (i = 0; i < c->nparts; i++) {
        c->parts[i]->assigned = 0;
    }
}

static void
group_rejoin(struct tr_consumer *c, int reset_member)
{
    if (c->gstate == G_LEAVING || c->gstate == G_CLOSED) {
        return;
    }
    revoke_all(c);
    if (reset_member) {
        set_member_id(c, "", 0);
        c->generation = -1;
    }
    c->gstate = G_JOIN;
}

static void
group_lost_coordinator(struct tr_consumer *c)
{
    if (c->gstate == G_LEAVING || c->gstate == G_CLOSED) {
        return;
    }
    revoke_all(c);
    c->gstate = G_FIND;
    c->group_retry_at = tr_clock_mono_ms() + RETRY_MS;
    retry_later(c, RETRY_MS);
}

/* Reacts to a group error code; returns 1 if it was handled as one. */
static int
group_error(struct tr_consumer *c, int16_t kerr)
{
    switch (kerr) {
    case 0:
        return 0;
    case TR_KERR_NOT_COORDINATOR:
    case TR_KERR_COORDINATOR_NOT_AVAILABLE:
    case TR_KERR_COORDINATOR_LOAD_IN_PROGRESS:
        group_lost_coordinator(c);
        break;
    case TR_KERR_UNKNOWN_MEMBER_ID:
    case TR_KERR_ILLEGAL_GENERATION:
    case TR_KERR_FENCED_INSTANCE_ID:
        group_rejoin(c, 1);
        break;
    case TR_KERR_REBALANCE_IN_PROGRESS:
        group_rejoin(c, 0);
        break;
    default:
        tr_log_warn("consumer: group %s: error %d; rejoining", c->group_id,
                    kerr);
        group_rejoin(c, 0);
        c->group_retry_at = tr_clock_mono_ms() + 1000;
        retry_later(c, 1000);
        break;
    }
    return 1;
}

static void group_cb(tr_err_t err, int16_t version, struct tr_slice *body,
                     void *arg);

static tr_err_t
group_send(struct tr_consumer *c, enum creq_kind kind, struct tr_conn *conn,
           int16_t api_key, int16_t version, struct tr_buf *body)
{
    struct creq *r;
    tr_err_t err;

    if ((err = tr_buf_err(body)) != TR_OK) {
        return err;
    }
    r = creq_new(c, kind, tr_conn_node_id(conn), 0);
    if (r == NULL) {
        return TR_ERR_NOMEM;
    }
    err = tr_conn_request(conn, api_key, version, body, group_cb, r);
    if (err != TR_OK) {
        creq_free(r);
    }
    return err;
}

static void
send_find(struct tr_consumer *c)
{
    struct tr_conn *conn = tr_client_any_conn(c->client);
    struct tr_buf body;
    int16_t v;

    if (conn == NULL) {
        return;
    }
    v = tr_conn_api_version(conn, TR_API_FIND_COORDINATOR, 0, 2);
    if (v < 0) {
        tr_log_error("consumer: the broker has no FindCoordinator (groups)");
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    tr_proto_put_cstring_v(&body, 0, c->group_id); /* Key */
    if (v >= 1) {
        tr_buf_put_i8(&body, 0); /* KeyType: group */
    }
    if (group_send(c, R_FIND, conn, TR_API_FIND_COORDINATOR, v, &body) ==
        TR_OK) {
        c->gstate = G_FINDING;
    }
    tr_buf_cleanup(&body);
}

static void
send_join(struct tr_consumer *c, struct tr_conn *conn)
{
    struct tr_buf body, meta;
    int16_t v = tr_conn_api_version(conn, TR_API_JOIN_GROUP, 0, 5);

    if (v < 0) {
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    tr_buf_init(&meta, SIZE_MAX);
    tr_consumer_subscription_encode(&meta, (const char *const *)c->subs,
                                    c->nsubs);
    tr_proto_put_cstring_v(&body, 0, c->group_id);    /* GroupId */
    tr_buf_put_i32(&body, c->cfg.session_timeout_ms); /* SessionTimeoutMs */
    if (v >= 1) {
        tr_buf_put_i32(&body, c->cfg.rebalance_timeout_ms); /* Rebalance.. */
    }
    tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
    if (v >= 5) {
        tr_proto_put_cstring_v(&body, 0, NULL); /* GroupInstanceId */
    }
    tr_proto_put_cstring_v(&body, 0, "consumer");  /* ProtocolType */
    tr_proto_put_array_len_v(&body, 0, 1);         /* Protocols */
    tr_proto_put_cstring_v(&body, 0, c->assignor); /* Name */
    tr_proto_put_bytes_v(&body, 0, tr_buf_data(&meta),
                         (int32_t)tr_buf_len(&meta)); /* Metadata */
    if (tr_buf_err(&meta) == TR_OK &&
        group_send(c, R_JOIN, conn, TR_API_JOIN_GROUP, v, &body) == TR_OK) {
        c->gstate = G_JOINING;
    }
    tr_buf_cleanup(&meta);
    tr_buf_cleanup(&body);
}

/* Leader: computes and sends the assignment once partition counts are in. */
static void
send_sync(struct tr_consumer *c, struct tr_conn *conn)
{
    struct tr_assign_member *ms = NULL;
    struct tr_assign_topic *ts = NULL;
    struct tr_assignment *a = NULL;
    size_t na = 0, nt = 0, i, j, k, first;
    struct tr_buf body, abuf;
    int16_t v = tr_conn_api_version(conn, TR_API_SYNC_GROUP, 0, 3);
    int32_t nparts;
    int16_t kerr;
    int ready = 1;

    tr_buf_init(&body, SIZE_MAX);
    tr_buf_init(&abuf, SIZE_MAX);
    if (v < 0) {
        goto out;
    }
    if (c->leader) {
        size_t total = 0;

        for (i = 0; i < c->nmembers; i++) {
            total += c->members[i].ntopics;
        }
        ms = tr_calloc(c->nmembers + 1, sizeof(*ms));
        ts = tr_calloc(total + 1, sizeof(*ts));
        if (ms == NULL || ts == NULL) {
            goto out;
        }
        for (i = 0; i < c->nmembers; i++) {
            ms[i].id = c->members[i].id;
            ms[i].topics = (const char *const *)c->members[i].topics;
            ms[i].ntopics = c->members[i].ntopics;
            for (j = 0; j < c->members[i].ntopics; j++) {
                const char *name = c->members[i].topics[j];

                for (k = 0; k < nt && strcmp(ts[k].name, name) != 0; k++) {
                }
                if (k < nt) {
                    continue;
                }
                tr_client_topic_add(c->client, name);
                if (tr_client_topic_partitions(c->client, name, &nparts,
                                               &kerr) != TR_OK) {
                    /* Unknown topics are assigned nothing, like Kafka. */
                    if (kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION ||
                        kerr == TR_KERR_INVALID_TOPIC_EXCEPTION) {
                        continue;
                    }
                    ready = 0;
                    continue;
                }
                ts[nt].name = name;
                ts[nt].partitions = nparts;
                nt++;
            }
        }
        if (!ready) {
            c->gstate = G_ASSIGN;
            tr_client_metadata_refresh(c->client);
            retry_later(c, RETRY_MS);
            goto out;
        }
        if (tr_consumer_assignor_run(c->assignor, ms, c->nmembers, ts, nt, &a,
                                     &na) != TR_OK) {
            goto out;
        }
    }
    tr_proto_put_cstring_v(&body, 0, c->group_id);  /* GroupId */
    tr_buf_put_i32(&body, c->generation);           /* GenerationId */
    tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
    if (v >= 3) {
        tr_proto_put_cstring_v(&body, 0, NULL); /* GroupInstanceId */
    }
    tr_proto_put_array_len_v(
        &body, 0, c->leader ? (int32_t)c->nmembers : 0); /* Assig.. */
    for (i = 0, first = 0; c->leader && i < c->nmembers; i++) {
        size_t end = first;

        while (end < na && a[end].member == i) {
            end++;
        }
        tr_buf_reset(&abuf);
        tr_consumer_assignment_encode(&abuf, a + first, end - first);
        tr_proto_put_cstring_v(&body, 0, c->members[i].id); /* MemberId */
        tr_proto_put_bytes_v(&body, 0, tr_buf_data(&abuf),
                             (int32_t)tr_buf_len(&abuf)); /* Assignment */
        first = end;
    }
    if (tr_buf_err(&abuf) == TR_OK &&
        group_send(c, R_SYNC, conn, TR_API_SYNC_GROUP, v, &body) == TR_OK) {
        c->gstate = G_SYNCING;
    }
out:
    tr_free(ms);
    tr_free(ts);
    tr_free(a);
    tr_buf_cleanup(&abuf);
    tr_buf_cleanup(&body);
}

static void
send_heartbeat(struct tr_consumer *c, struct tr_conn *conn)
{
    struct tr_buf body;
    int16_t v = tr_conn_api_version(conn, TR_API_HEARTBEAT, 0, 3);

    if (v < 0) {
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    tr_proto_put_cstring_v(&body, 0, c->group_id);  /* GroupId */
    tr_buf_put_i32(&body, c->generation);           /* GenerationId */
    tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
    if (v >= 3) {
        tr_proto_put_cstring_v(&body, 0, NULL); /* GroupInstanceId */
    }
    if (group_send(c, R_HEARTBEAT, conn, TR_API_HEARTBEAT, v, &body) == TR_OK) {
        c->heartbeat_inflight = 1;
    }
    tr_buf_cleanup(&body);
}

static void
send_offset_fetch(struct tr_consumer *c, struct tr_conn *conn)
{
    struct cpart **ps;
    struct creq *r = NULL;
    struct tr_buf body;
    size_t i, j, n = 0, nt = 0;
    int16_t v = tr_conn_api_version(conn, TR_API_OFFSET_FETCH, 1, 5);

    if (v < 0) {
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    ps = tr_calloc(c->nparts + 1, sizeof(*ps));
    if (ps == NULL) {
        goto out;
    }
    for (i = 0; i < c->nparts; i++) {
        if (c->parts[i]->assigned && c->parts[i]->state == P_NEED_STORED) {
            ps[n++] = c->parts[i];
        }
    }
    if (n == 0) {
        goto out;
    }
    r = creq_new(c, R_OFFSET_FETCH, tr_conn_node_id(conn), n);
    if (r == NULL) {
        goto out;
    }
    r->n = n;
    for (i = 0; i < n; i++) {
        r->items[i].p = ps[i];
    }
    qsort(r->items, n, sizeof(r->items[0]), item_cmp);
    for (i = 0; i < n; i++) {
        nt += i == 0 ||
              strcmp(r->items[i].p->topic, r->items[i - 1].p->topic) != 0;
    }
    tr_proto_put_cstring_v(&body, 0, c->group_id);   /* GroupId */
    tr_proto_put_array_len_v(&body, 0, (int32_t)nt); /* Topics */
    for (i = 0; i < n; i = j) {
        size_t of_count;

        tr_proto_put_cstring_v(&body, 0, r->items[i].p->topic); /* Name */
        of_count = tr_buf_put_i32(&body, 0); /* PartitionIndexes */
        for (j = i;
             j < n && strcmp(r->items[j].p->topic, r->items[i].p->topic) == 0;
             j++) {
            tr_buf_put_i32(&body, r->items[j].p->partition);
        }
        tr_buf_set_i32(&body, of_count, (int32_t)(j - i));
    }
    if (tr_buf_err(&body) != TR_OK ||
        tr_conn_request(conn, TR_API_OFFSET_FETCH, v, &body, group_cb, r) !=
            TR_OK) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        ps[i]->state = P_FETCHING_STORED;
    }
    r = NULL;
out:
    creq_free(r);
    tr_free(ps);
    tr_buf_cleanup(&body);
}

/* Sends the queued commits (one OffsetCommit in flight at a time). */
static void
send_commit(struct tr_consumer *c)
{
    struct tr_conn *conn;
    struct cpart **ps = NULL;
    struct creq *r = NULL;
    struct tr_buf body;
    size_t i, j, n = 0, nt = 0;
    int16_t v;

    if (c->group_id == NULL || c->commit_inflight || c->coord < 0 ||
        c->gstate == G_CLOSED) {
        return;
    }
    conn = tr_client_node_conn(c->client, c->coord);
    if (conn == NULL) {
        return;
    }
    v = tr_conn_api_version(conn, TR_API_OFFSET_COMMIT, 2, 7);
    if (v < 0) {
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    ps = tr_calloc(c->nparts + 1, sizeof(*ps));
    if (ps == NULL) {
        goto out;
    }
    for (i = 0; i < c->nparts; i++) {
        if (c->parts[i]->commit_want >= 0) {
            ps[n++] = c->parts[i];
        }
    }
    if (n == 0) {
        goto out;
    }
    r = creq_new(c, R_COMMIT, tr_conn_node_id(conn), n);
    if (r == NULL) {
        goto out;
    }
    r->n = n;
    for (i = 0; i < n; i++) {
        r->items[i].p = ps[i];
        r->items[i].offset = ps[i]->commit_want;
    }
    qsort(r->items, n, sizeof(r->items[0]), item_cmp);
    for (i = 0; i < n; i++) {
        nt += i == 0 ||
              strcmp(r->items[i].p->topic, r->items[i - 1].p->topic) != 0;
    }
    tr_proto_put_cstring_v(&body, 0, c->group_id);  /* GroupId */
    tr_buf_put_i32(&body, c->generation);           /* GenerationIdOrMember.. */
    tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
    if (v >= 7) {
        tr_proto_put_cstring_v(&body, 0, NULL); /* GroupInstanceId */
    }
    if (v <= 4) {
        tr_buf_put_i64(&body, -1); /* RetentionTimeMs */
    }
    tr_proto_put_array_len_v(&body, 0, (int32_t)nt); /* Topics */
    for (i = 0; i < n; i = j) {
        size_t of_count;

        tr_proto_put_cstring_v(&body, 0, r->items[i].p->topic); /* Name */
        of_count = tr_buf_put_i32(&body, 0);                    /* Partitions */
        for (j = i;
             j < n && strcmp(r->items[j].p->topic, r->items[i].p->topic) == 0;
             j++) {
            tr_buf_put_i32(&body, r->items[j].p->partition); /* Partition.. */
            tr_buf_put_i64(&body, r->items[j].offset); /* CommittedOffset */
            if (v >= 6) {
                tr_buf_put_i32(&body, -1); /* CommittedLeaderEpoch */
            }
            tr_proto_put_cstring_v(&body, 0, ""); /* CommittedMetadata */
        }
        tr_buf_set_i32(&body, of_count, (int32_t)(j - i));
    }
    if (tr_buf_err(&body) != TR_OK ||
        tr_conn_request(conn, TR_API_OFFSET_COMMIT, v, &body, group_cb, r) !=
            TR_OK) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        ps[i]->commit_want = -1;
    }
    c->commit_inflight = 1;
    r = NULL;
out:
    creq_free(r);
    tr_free(ps);
    tr_buf_cleanup(&body);
}

static void
send_leave(struct tr_consumer *c, struct tr_conn *conn)
{
    struct tr_buf body;
    int16_t v = tr_conn_api_version(conn, TR_API_LEAVE_GROUP, 0, 3);

    if (v < 0) {
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    tr_proto_put_cstring_v(&body, 0, c->group_id); /* GroupId */
    if (v < 3) {
        tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
    } else {
        tr_proto_put_array_len_v(&body, 0, 1);          /* Members */
        tr_proto_put_cstring_v(&body, 0, c->member_id); /* MemberId */
        tr_proto_put_cstring_v(&body, 0, NULL);         /* GroupInstanceId */
    }
    if (group_send(c, R_LEAVE, conn, TR_API_LEAVE_GROUP, v, &body) == TR_OK) {
        c->leave_inflight = 1;
    }
    tr_buf_cleanup(&body);
}

static tr_err_t
assigned_tp_cb(const struct tr_str *topic, int32_t partition, void *arg)
{
    struct tr_consumer *c = arg;
    struct cpart *p = part_get(c, topic->ptr, (size_t)topic->len, partition);

    if (p == NULL) {
        return TR_ERR_NOMEM;
    }
    p->assigned = 1;
    p->seeked = 0;
    p->inflight = 0;
    part_start(p, TR_OFFSET_STORED, -1);
    return TR_OK;
}

static tr_err_t
on_find(struct tr_consumer *c, int16_t version, struct tr_slice *body)
{
    int32_t throttle, node, port;
    int16_t kerr;
    struct tr_str msg, host;
    tr_err_t err;

    if (version >= 1 && (err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        return err;
    }
    if ((err = tr_slice_get_i16(body, &kerr)) != TR_OK) {
        return err;
    }
    if (version >= 1 && (err = tr_proto_get_string(body, &msg)) != TR_OK) {
        return err;
    }
    if ((err = tr_slice_get_i32(body, &node)) != TR_OK ||
        (err = tr_proto_get_string(body, &host)) != TR_OK ||
        (err = tr_slice_get_i32(body, &port)) != TR_OK) {
        return err;
    }
    if (kerr != 0) {
        tr_log_debug("consumer: FindCoordinator: error %d", kerr);
        c->gstate = G_FIND;
        c->group_retry_at = tr_clock_mono_ms() + 500;
        retry_later(c, 500);
        return TR_OK;
    }
    c->coord = node;
    c->gstate = G_JOIN;
    return TR_OK;
}

static tr_err_t
on_join(struct tr_consumer *c, int16_t version, struct tr_slice *body)
{
    int32_t throttle, gen, n, i;
    int16_t kerr;
    struct tr_str proto, leader, member, mid, inst, meta;
    struct tr_slice ms;
    tr_err_t err;

    if (version >= 2 && (err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        return err;
    }
    if ((err = tr_slice_get_i16(body, &kerr)) != TR_OK ||
        (err = tr_slice_get_i32(body, &gen)) != TR_OK ||
        (err = tr_proto_get_string(body, &proto)) != TR_OK ||
        (err = tr_proto_get_string(body, &leader)) != TR_OK ||
        (err = tr_proto_get_string(body, &member)) != TR_OK) {
        return err;
    }
    if (kerr == TR_KERR_MEMBER_ID_REQUIRED) {
        set_member_id(c, member.ptr, member.len > 0 ? (size_t)member.len : 0);
        c->gstate = G_JOIN;
        return TR_OK;
    }
    if (kerr != 0) {
        c->gstate = G_JOIN;
        if (kerr == TR_KERR_UNKNOWN_MEMBER_ID) {
            set_member_id(c, "", 0);
        }
        group_error(c, kerr);
        if (c->gstate == G_JOIN) {
            c->group_retry_at = tr_clock_mono_ms() + RETRY_MS;
            retry_later(c, RETRY_MS);
        }
        return TR_OK;
    }
    if (member.len < 0 || leader.len < 0) {
        return TR_ERR_CORRUPT;
    }
    set_member_id(c, member.ptr, (size_t)member.len);
    c->generation = gen;
    c->leader = leader.len == member.len &&
                memcmp(leader.ptr, member.ptr, (size_t)member.len) == 0;
    members_free(c);
    if ((err = tr_proto_get_array_len_v(body, 0, &n, 6, MAX_MEMBERS)) !=
        TR_OK) {
        return err;
    }
    c->members = tr_calloc((size_t)n + 1, sizeof(*c->members));
    if (c->members == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        struct member *m = &c->members[c->nmembers];

        if ((err = tr_proto_get_string(body, &mid)) != TR_OK) {
            return err;
        }
        if (version >= 5 && (err = tr_proto_get_string(body, &inst)) != TR_OK) {
            return err;
        }
        if ((err = tr_proto_get_bytes(body, &meta)) != TR_OK) {
            return err;
        }
        if (mid.len < 0) {
            return TR_ERR_CORRUPT;
        }
        m->id = tr_strndup(mid.ptr, (size_t)mid.len);
        if (m->id == NULL) {
            return TR_ERR_NOMEM;
        }
        c->nmembers++;
        tr_slice_init(&ms, meta.ptr, meta.len > 0 ? (size_t)meta.len : 0);
        err = tr_consumer_subscription_decode(&ms, member_topic_cb, m);
        if (err == TR_ERR_NOMEM) {
            return err;
        }
    }
    c->gstate = G_ASSIGN;
    return TR_OK;
}

static tr_err_t
on_sync(struct tr_consumer *c, int16_t version, struct tr_slice *body)
{
    int32_t throttle;
    int16_t kerr;
    struct tr_str assignment;
    struct tr_slice as;
    size_t i;
    tr_err_t err;

    if (version >= 1 && (err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        return err;
    }
    if ((err = tr_slice_get_i16(body, &kerr)) != TR_OK ||
        (err = tr_proto_get_bytes(body, &assignment)) != TR_OK) {
        return err;
    }
    if (kerr != 0) {
        c->gstate = G_JOIN;
        group_error(c, kerr);
        return TR_OK;
    }
    for (i = 0; i < c->nparts; i++) {
        c->parts[i]->assigned = 0;
    }
    tr_slice_init(&as, assignment.ptr,
                  assignment.len > 0 ? (size_t)assignment.len : 0);
    if ((err = tr_consumer_assignment_decode(&as, assigned_tp_cb, c)) !=
        TR_OK) {
        return err;
    }
    c->gstate = G_STABLE;
    c->next_heartbeat = tr_clock_mono_ms() + c->cfg.heartbeat_ms;
    c->next_autocommit = tr_clock_mono_ms() + c->cfg.auto_commit_ms;
    tr_log_info("consumer: joined group %s (generation %d, %s)", c->group_id,
                (int)c->generation, c->leader ? "leader" : "member");
    call_rebalance(c, 1);
    return TR_OK;
}

static tr_err_t
on_offset_fetch(struct tr_consumer *c, struct creq *r, int16_t version,
                struct tr_slice *body)
{
    int32_t throttle, nt, np, ti, pi, part, epoch;
    int16_t kerr;
    int64_t offset;
    struct tr_str topic, meta;
    size_t k;
    tr_err_t err;

    if (version >= 3 && (err = tr_slice_get_i32(body, &throttle)) != TR_OK) {
        return err;
    }
    if ((err = tr_proto_get_array_len_v(body, 0, &nt, 6, MAX_TOPICS)) !=
        TR_OK) {
        return err;
    }
    for (ti = 0; ti < nt; ti++) {
        if ((err = tr_proto_get_string(body, &topic)) != TR_OK ||
            (err = tr_proto_get_array_len_v(body, 0, &np, 16,
                                            MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        for (pi = 0; pi < np; pi++) {
            if ((err = tr_slice_get_i32(body, &part)) != TR_OK ||
                (err = tr_slice_get_i64(body, &offset)) != TR_OK) {
                return err;
            }
            if (version >= 5 &&
                (err = tr_slice_get_i32(body, &epoch)) != TR_OK) {
                return err;
            }
            if ((err = tr_proto_get_string(body, &meta)) != TR_OK ||
                (err = tr_slice_get_i16(body, &kerr)) != TR_OK) {
                return err;
            }
            for (k = 0; k < r->n; k++) {
                struct cpart *p = r->items[k].p;

                if (p->partition != part || topic.len < 0 ||
                    !tr_str_eq(&topic, p->topic) ||
                    p->state != P_FETCHING_STORED) {
                    continue;
                }
                if (kerr != 0) {
                    p->state = P_NEED_STORED;
                } else if (offset >= 0) {
                    p->state = P_ACTIVE;
                    p->position = offset;
                    p->committed = offset;
                } else {
                    part_reset(c, p, 0);
                }
            }
        }
    }
    return TR_OK;
}

static void
group_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct creq *r = arg;
    struct tr_consumer *c = r->c;
    int32_t throttle;
    int16_t kerr = 0;
    size_t k;

    switch (r->kind) {
    case R_FIND:
        if (err == TR_OK) {
            err = on_find(c, version, body);
        }
        if (err != TR_OK && c->gstate == G_FINDING) {
            c->gstate = G_FIND;
            c->group_retry_at = tr_clock_mono_ms() + 500;
            retry_later(c, 500);
        }
        break;
    case R_JOIN:
        if (c->gstate != G_JOINING) {
            break;
        }
        if (err == TR_OK) {
            err = on_join(c, version, body);
        }
        if (err != TR_OK) {
            group_lost_coordinator(c);
        }
        break;
    case R_SYNC:
        if (c->gstate != G_SYNCING) {
            break;
        }
        if (err == TR_OK) {
            err = on_sync(c, version, body);
        }
        if (err != TR_OK) {
            group_lost_coordinator(c);
        }
        break;
    case R_HEARTBEAT:
        c->heartbeat_inflight = 0;
        if (err == TR_OK && version >= 1) {
            err = tr_slice_get_i32(body, &throttle);
        }
        if (err == TR_OK) {
            err = tr_slice_get_i16(body, &kerr);
        }
        if (c->gstate != G_STABLE || r->generation != c->generation) {
            break;
        }
        if (err != TR_OK) {
            group_lost_coordinator(c);
        } else {
            group_error(c, kerr);
        }
        break;
    case R_OFFSET_FETCH:
        if (err == TR_OK) {
            err = on_offset_fetch(c, r, version, body);
        }
        for (k = 0; k < r->n; k++) {
            if (r->items[k].p->state == P_FETCHING_STORED) {
                r->items[k].p->state = P_NEED_STORED;
            }
        }
        if (err != TR_OK) {
            retry_later(c, RETRY_MS);
        }
        break;
    case R_COMMIT:
        c->commit_inflight = 0;
        if (err == TR_OK) {
            int32_t nt = 0, np, ti, pi, part;
            struct tr_str topic;

            if (version >= 3) {
                err = tr_slice_get_i32(body, &throttle);
            }
            if (err == TR_OK) {
                err = tr_proto_get_array_len_v(body, 0, &nt, 6, MAX_TOPICS);
            }
            for (ti = 0; err == TR_OK && ti < nt; ti++) {
                err = tr_proto_get_string(body, &topic);
                if (err == TR_OK) {
                    err = tr_proto_get_array_len_v(body, 0, &np, 6,
                                                   MAX_PARTITIONS);
                }
                for (pi = 0; err == TR_OK && pi < np; pi++) {
                    if ((err = tr_slice_get_i32(body, &part)) != TR_OK ||
                        (err = tr_slice_get_i16(body, &kerr)) != TR_OK) {
                        break;
                    }
                    for (k = 0; k < r->n; k++) {
                        struct cpart *p = r->items[k].p;

                        if (p->partition == part &&
                            tr_str_eq(&topic, p->topic)) {
                            if (kerr == 0) {
                                if (r->items[k].offset > p->committed) {
                                    p->committed = r->items[k].offset;
                                }
                            } else {
                                tr_log_debug("consumer: commit of %s [%d] "
                                             "failed: error %d",
                                             p->topic, (int)part, kerr);
                                if (p->commit_want < 0 && p->assigned &&
                                    kerr != TR_KERR_UNKNOWN_MEMBER_ID &&
                                    kerr != TR_KERR_ILLEGAL_GENERATION) {
                                    p->commit_want = r->items[k].offset;
                                }
                            }
                        }
                    }
                }
            }
        }
        if (err != TR_OK) {
            /* Put the offsets back so that they are committed later. */
            for (k = 0; k < r->n; k++) {
                if (r->items[k].p->commit_want < 0) {
                    r->items[k].p->commit_want = r->items[k].offset;
                }
            }
        }
        break;
    case R_LEAVE:
        c->leave_inflight = 0;
        break;
    default:
        break;
    }
    creq_free(r);
    kick(c);
}

/* The driver. */

static struct tr_conn *
coord_conn(struct tr_consumer *c)
{
    struct tr_conn *conn = tr_client_node_conn(c->client, c->coord);

    if (conn == NULL) {
        retry_later(c, RETRY_MS);
    }
    return conn;
}

static void
group_step(struct tr_consumer *c)
{
    struct tr_conn *conn;
    int64_t now = tr_clock_mono_ms();
    size_t i;
    int need_stored = 0;

    if (now < c->group_retry_at) {
        retry_later(c, (int)(c->group_retry_at - now));
        return;
    }
    switch (c->gstate) {
    case G_FIND:
        send_find(c);
        break;
    case G_JOIN:
        if ((conn = coord_conn(c)) != NULL) {
            send_join(c, conn);
        }
        break;
    case G_ASSIGN:
        if ((conn = coord_conn(c)) != NULL) {
            send_sync(c, conn);
        }
        break;
    case G_STABLE:
        if ((conn = coord_conn(c)) == NULL) {
            break;
        }
        for (i = 0; i < c->nparts; i++) {
            need_stored |=
                c->parts[i]->assigned && c->parts[i]->state == P_NEED_STORED;
        }
        if (need_stored) {
            send_offset_fetch(c, conn);
        }
        if (now >= c->next_heartbeat && !c->heartbeat_inflight) {
            send_heartbeat(c, conn);
            c->next_heartbeat = now + c->cfg.heartbeat_ms;
        }
        if (c->cfg.auto_commit && now >= c->next_autocommit) {
            tr_consumer_commit_positions(c);
            c->next_autocommit = now + c->cfg.auto_commit_ms;
        }
        send_commit(c);
        retry_later(c, c->cfg.heartbeat_ms < 1000 ? c->cfg.heartbeat_ms : 1000);
        break;
    default:
        break;
    }
}

static void
expand_topics(struct tr_consumer *c)
{
    size_t i;
    int32_t n, k;
    int16_t kerr;

    for (i = 0; i < c->ntopics; i++) {
        struct ctopic *t = &c->topics[i];

        if (t->expanded) {
            continue;
        }
        if (tr_client_topic_partitions(c->client, t->name, &n, &kerr) !=
            TR_OK) {
            if (kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION && c->error_cb) {
                t->expanded = 1;
                c->error_cb(t->name, -1, TR_ERR_NOT_FOUND, kerr, c->arg);
            }
            continue;
        }
        for (k = 0; k < n; k++) {
            struct cpart *p = part_get(c, t->name, strlen(t->name), k);

            if (p == NULL) {
                return;
            }
            p->assigned = 1;
            part_start(p, t->offset, t->ts);
        }
        t->expanded = 1;
    }
}

/*
 * Sends what can be sent: for each leader, one ListOffsets for the
 * partitions that need a position and one Fetch (if none is in flight) for
 * the active ones.
 */
static void
kick(struct tr_consumer *c)
{
    struct cpart **ps = NULL;
    int32_t *leaders = NULL;
    size_t i, j, nl = 0, n;
    int64_t now = tr_clock_mono_ms();
    int pass, waiting = 0;

    if (c->gstate == G_CLOSED) {
        return;
    }
    if (c->ntopics > 0) {
        expand_topics(c);
    }
    if (c->group_id != NULL) {
        group_step(c);
        if (c->gstate == G_LEAVING) {
            return;
        }
    }
    ps = tr_calloc(c->nparts + 1, sizeof(*ps));
    leaders = tr_calloc(c->nparts + 1, sizeof(*leaders));
    if (ps == NULL || leaders == NULL) {
        goto out;
    }
    for (i = 0; i < c->nparts; i++) {
        struct cpart *p = c->parts[i];
        int32_t leader;

        if (!p->assigned || (p->state != P_ACTIVE && p->state != P_NEED_LIST)) {
            continue;
        }
        if (p->retry_at > now) {
            waiting = 1;
            continue;
        }
        leader = tr_client_partition_leader(c->client, p->topic, p->partition);
        if (leader < 0) {
            waiting = 1;
            continue;
        }
        for (j = 0; j < nl && leaders[j] != leader; j++) {
        }
        if (j == nl) {
            leaders[nl++] = leader;
        }
    }
    for (j = 0; j < nl; j++) {
        struct tr_conn *conn = tr_client_node_conn(c->client, leaders[j]);

        if (conn == NULL) {
            waiting = 1;
            continue;
        }
        for (pass = 0; pass < 2; pass++) {
            enum pstate want = pass == 0 ? P_NEED_LIST : P_ACTIVE;

            if (pass == 1 && fetch_node_busy(c, leaders[j])) {
                continue;
            }
            n = 0;
            for (i = 0; i < c->nparts; i++) {
                struct cpart *p = c->parts[i];

                if (p->assigned && p->state == want && !p->inflight &&
                    p->retry_at <= now &&
                    tr_client_partition_leader(c->client, p->topic,
                                               p->partition) == leaders[j]) {
                    ps[n++] = p;
                }
            }
            if (n == 0) {
                continue;
            }
            if (pass == 1) {
                int32_t *grown = tr_realloc(
                    c->fetch_nodes, (c->nfetch_nodes + 1) * sizeof(*grown));

                if (grown == NULL) {
                    goto out;
                }
                c->fetch_nodes = grown;
            }
            send_part_request(c, pass == 0 ? R_LIST : R_FETCH, leaders[j], conn,
                              ps, n);
        }
    }
out:
    if (waiting) {
        retry_later(c, RETRY_MS);
    }
    tr_free(ps);
    tr_free(leaders);
}

static void
client_event_cb(void *arg)
{
    struct tr_consumer *c = arg;

    if (tr_client_connected(c->client)) {
        c->ever_connected = 1;
    }
    kick(c);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kick(arg);
}

static void
poll_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_consumer *c = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(c->base);
}

/* Public API. */

tr_err_t
tr_consumer_new(struct event_base *base, const struct tr_consumer_config *cfg,
                tr_consumer_batch_cb *cb, void *cb_arg,
                struct tr_consumer **out)
{
    struct tr_consumer *c;
    struct tr_client_config ccfg;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    c = tr_calloc(1, sizeof(*c));
    if (c == NULL) {
        goto out;
    }
    TAILQ_INIT(&c->reqs);
    c->base = base;
    c->cfg = *cfg;
    c->cb = cb;
    c->arg = cb_arg;
    c->coord = -1;
    c->generation = -1;
    c->created = tr_clock_mono_ms();
    c->bootstrap = tr_strdup(cfg->bootstrap ? cfg->bootstrap : "");
    c->client_id = tr_strdup(cfg->client_id ? cfg->client_id : "tributary");
    c->assignor = tr_strdup(cfg->assignor ? cfg->assignor : "range");
    c->member_id = tr_strdup("");
    if (c->bootstrap == NULL || c->client_id == NULL || c->assignor == NULL ||
        c->member_id == NULL) {
        goto out;
    }
    if (cfg->group_id != NULL) {
        c->group_id = tr_strdup(cfg->group_id);
        if (c->group_id == NULL) {
            goto out;
        }
        c->gstate = G_FIND;
    }
    if (strcmp(c->assignor, "range") != 0 &&
        strcmp(c->assignor, "roundrobin") != 0) {
        err = TR_ERR_CONFIG;
        goto out;
    }
    c->cfg.bootstrap = c->bootstrap;
    c->cfg.client_id = c->client_id;
    c->cfg.group_id = c->group_id;
    c->cfg.assignor = c->assignor;
    c->timer = evtimer_new(base, timer_cb, c);
    c->poll_timer = evtimer_new(base, poll_timer_cb, c);
    if (c->timer == NULL || c->poll_timer == NULL) {
        goto out;
    }
    tr_client_config_defaults(&ccfg);
    ccfg.bootstrap = c->bootstrap;
    ccfg.client_id = c->client_id;
    ccfg.allow_auto_create = 0;
    ccfg.security = cfg->security;
    ccfg.request_timeout_ms =
        cfg->request_timeout_ms +
        (cfg->fetch_max_wait_ms > 0 ? cfg->fetch_max_wait_ms : 0);
    if (cfg->rebalance_timeout_ms + 5000 > ccfg.request_timeout_ms) {
        /* A JoinGroup may wait for the whole rebalance. */
        ccfg.request_timeout_ms = cfg->rebalance_timeout_ms + 5000;
    }
    err = tr_client_new(base, &ccfg, client_event_cb, c, &c->client);
    if (err != TR_OK) {
        goto out;
    }
    *out = c;
    c = NULL;
    err = TR_OK;
out:
    tr_consumer_free(c);
    return err;
}

void
tr_consumer_set_rebalance_cb(struct tr_consumer *c,
                             tr_consumer_rebalance_cb *cb)
{
    c->rebalance_cb = cb;
}

void
tr_consumer_set_error_cb(struct tr_consumer *c, tr_consumer_error_cb *cb)
{
    c->error_cb = cb;
}

tr_err_t
tr_consumer_assign(struct tr_consumer *c, const char *topic, int32_t partition,
                   int64_t offset)
{
    struct cpart *p = part_get(c, topic, strlen(topic), partition);

    if (p == NULL) {
        return TR_ERR_NOMEM;
    }
    p->assigned = 1;
    part_start(p, offset, -1);
    return TR_OK;
}

tr_err_t
tr_consumer_assign_time(struct tr_consumer *c, const char *topic,
                        int32_t partition, int64_t ts_ms)
{
    struct cpart *p = part_get(c, topic, strlen(topic), partition);

    if (p == NULL) {
        return TR_ERR_NOMEM;
    }
    p->assigned = 1;
    part_start(p, TR_OFFSET_END, ts_ms);
    return TR_OK;
}

tr_err_t
tr_consumer_assign_topic(struct tr_consumer *c, const char *topic,
                         int64_t offset, int64_t ts_ms)
{
    struct ctopic *grown;
    char *name = tr_strdup(topic);

    if (name == NULL) {
        return TR_ERR_NOMEM;
    }
    grown = tr_realloc(c->topics, (c->ntopics + 1) * sizeof(*grown));
    if (grown == NULL) {
        tr_free(name);
        return TR_ERR_NOMEM;
    }
    c->topics = grown;
    c->topics[c->ntopics].name = name;
    c->topics[c->ntopics].offset = offset;
    c->topics[c->ntopics].ts = ts_ms;
    c->topics[c->ntopics].expanded = 0;
    c->ntopics++;
    return tr_client_topic_add(c->client, topic);
}

tr_err_t
tr_consumer_subscribe(struct tr_consumer *c, const char *const *topics,
                      size_t n)
{
    size_t i;
    tr_err_t err;

    if (c->group_id == NULL) {
        return TR_ERR_INVALID;
    }
    c->subs = tr_calloc(n + 1, sizeof(*c->subs));
    if (c->subs == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        c->subs[i] = tr_strdup(topics[i]);
        if (c->subs[i] == NULL) {
            return TR_ERR_NOMEM;
        }
        c->nsubs++;
        if ((err = tr_client_topic_add(c->client, topics[i])) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

tr_err_t
tr_consumer_seek(struct tr_consumer *c, const char *topic, int32_t partition,
                 int64_t offset)
{
    struct cpart *p = part_find(c, topic, strlen(topic), partition);

    if (p == NULL || !p->assigned) {
        return TR_ERR_NOT_FOUND;
    }
    part_start(p, offset, -1);
    if (c->in_rebalance) {
        p->seeked = 1;
    }
    return TR_OK;
}

size_t
tr_consumer_poll(struct tr_consumer *c, int timeout_ms)
{
    struct timeval tv;
    size_t before = c->delivered;

    kick(c);
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(c->poll_timer, &tv);
    c->in_poll = 1;
    if (c->delivered == before) {
        event_base_loop(c->base, timeout_ms == 0 ? EVLOOP_NONBLOCK : 0);
    }
    c->in_poll = 0;
    evtimer_del(c->poll_timer);
    if (tr_client_connected(c->client)) {
        c->ever_connected = 1;
    }
    return c->delivered - before;
}

size_t
tr_consumer_assignment(const struct tr_consumer *c, struct tr_consumer_tp *out,
                       size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < c->nparts; i++) {
        if (!c->parts[i]->assigned) {
            continue;
        }
        if (n < max) {
            out[n].topic = c->parts[i]->topic;
            out[n].partition = c->parts[i]->partition;
        }
        n++;
    }
    return n;
}

int64_t
tr_consumer_position(const struct tr_consumer *c, const char *topic,
                     int32_t partition, int64_t *hw)
{
    struct cpart *p = part_find(c, topic, strlen(topic), partition);

    if (hw != NULL) {
        *hw = p != NULL ? p->hw : -1;
    }
    if (p == NULL || p->state != P_ACTIVE) {
        return -1;
    }
    return p->position;
}

int64_t
tr_consumer_end(const struct tr_consumer *c, const char *topic,
                int32_t partition)
{
    struct cpart *p = part_find(c, topic, strlen(topic), partition);

    if (p == NULL) {
        return -1;
    }
    return c->cfg.isolation_level && p->lso >= 0 ? p->lso : p->hw;
}

int
tr_consumer_ready(const struct tr_consumer *c)
{
    size_t i;

    for (i = 0; i < c->ntopics; i++) {
        if (!c->topics[i].expanded) {
            return 0;
        }
    }
    for (i = 0; i < c->nparts; i++) {
        if (c->parts[i]->assigned && c->parts[i]->state != P_ACTIVE &&
            c->parts[i]->state != P_STOPPED) {
            return 0;
        }
    }
    return tr_consumer_stable(c);
}

int
tr_consumer_stable(const struct tr_consumer *c)
{
    return c->group_id == NULL || c->gstate == G_STABLE;
}

int
tr_consumer_unreachable(const struct tr_consumer *c)
{
    return !c->ever_connected && !tr_client_connected(c->client);
}

tr_err_t
tr_consumer_commit(struct tr_consumer *c, const char *topic, int32_t partition,
                   int64_t offset)
{
    struct cpart *p = part_find(c, topic, strlen(topic), partition);

    if (c->group_id == NULL) {
        return TR_ERR_INVALID;
    }
    if (p == NULL) {
        return TR_ERR_NOT_FOUND;
    }
    if (offset != p->committed) {
        p->commit_want = offset;
    }
    if (c->gstate == G_STABLE || c->gstate == G_LEAVING || c->in_rebalance) {
        send_commit(c);
    }
    return TR_OK;
}

tr_err_t
tr_consumer_commit_positions(struct tr_consumer *c)
{
    size_t i;

    if (c->group_id == NULL) {
        return TR_ERR_INVALID;
    }
    for (i = 0; i < c->nparts; i++) {
        struct cpart *p = c->parts[i];

        if (p->assigned && p->state == P_ACTIVE && p->position >= 0 &&
            p->position != p->committed) {
            p->commit_want = p->position;
        }
    }
    send_commit(c);
    return TR_OK;
}

size_t
tr_consumer_commits_pending(const struct tr_consumer *c)
{
    size_t i, n = c->commit_inflight ? 1 : 0;

    for (i = 0; i < c->nparts; i++) {
        n += c->parts[i]->commit_want >= 0;
    }
    return n;
}

void
tr_consumer_close(struct tr_consumer *c, int timeout_ms)
{
    int64_t deadline = tr_clock_mono_ms() + timeout_ms;
    struct tr_conn *conn;
    int left_sent = 0;

    if (c->group_id == NULL || c->gstate == G_CLOSED) {
        c->gstate = G_CLOSED;
        return;
    }
    if (c->gstate == G_STABLE) {
        revoke_all(c);
    }
    while (tr_clock_mono_ms() < deadline) {
        if (c->gstate == G_STABLE || c->gstate == G_LEAVING) {
            send_commit(c);
        }
        if (tr_consumer_commits_pending(c) == 0 && !left_sent) {
            if (c->coord >= 0 && c->member_id[0] != '\0' &&
                (conn = tr_client_node_conn(c->client, c->coord)) != NULL) {
                c->gstate = G_LEAVING;
                send_leave(c, conn);
                left_sent = 1;
            } else if (c->coord < 0 || c->member_id[0] == '\0') {
                break;
            }
        }
        if (left_sent && !c->leave_inflight) {
            break;
        }
        c->gstate = c->gstate == G_STABLE ? G_LEAVING : c->gstate;
        tr_consumer_poll(c, 100);
    }
    c->gstate = G_CLOSED;
}

void
tr_consumer_free(struct tr_consumer *c)
{
    struct creq *r;
    size_t i;

    if (c == NULL) {
        return;
    }
    tr_client_free(c->client);
    while ((r = TAILQ_FIRST(&c->reqs)) != NULL) {
        creq_free(r);
    }
    if (c->timer != NULL) {
        event_free(c->timer);
    }
    if (c->poll_timer != NULL) {
        event_free(c->poll_timer);
    }
    for (i = 0; i < c->nparts; i++) {
        tr_free(c->parts[i]->topic);
        tr_free(c->parts[i]);
    }
    tr_free(c->parts);
    for (i = 0; i < c->ntopics; i++) {
        tr_free(c->topics[i].name);
    }
    tr_free(c->topics);
    for (i = 0; i < c->nsubs; i++) {
        tr_free(c->subs[i]);
    }
    tr_free(c->subs);
    members_free(c);
    tr_free(c->fetch_nodes);
    tr_free(c->recs);
    tr_free(c->bootstrap);
    tr_free(c->client_id);
    tr_free(c->group_id);
    tr_free(c->assignor);
    tr_free(c->member_id);
    tr_free(c);
}
