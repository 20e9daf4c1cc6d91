/*
 * resume -- DescribeProducers for every partition of the agent's topics
 * (see resume.h).
 *
 * A small state machine on a private client: wait for each topic's
 * metadata, then send one DescribeProducers per leader for the partitions
 * not answered yet; an answer with an error (a leader that moved) asks for
 * fresh metadata and the partition is asked again on the next round.
 * Rounds run every RESUME_ROUND_MS until everything is answered.
 */
#include "resume.h"

#include <event2/event.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "client.h"
#include "clock.h"
#include "log.h"
#include "proto.h"

#define RESUME_ROUND_MS    100
#define RESUME_MAX_REFUSED 50 /* errors for one partition before giving up */

enum {
    PART_TODO,
    PART_ASKED,
    PART_DONE
};

struct rctx {
    struct tr_client *client;
    struct event_base *base;
    int64_t pid;
    const char *const *topics;
    size_t ntopics;
    struct tr_resume_part *parts;
    int *state, *refused;
    size_t nparts;
    int have_parts;
    tr_err_t fail;
    int outstanding;
    struct rreq *reqs;
};

struct rreq {
    struct rreq *next; /* every request, freed at the end */
    struct rctx *ctx;
    size_t *idx; /* partitions asked, indexes into ctx->parts */
    size_t n;
};

static void
client_event(void *arg)
{
    (void)arg; /* the round timer drives everything */
}

/* Once every topic's partition count is known: the list of partitions. */
static tr_err_t
list_parts(struct rctx *x)
{
    size_t total = 0, k = 0;
    int32_t n;
    int16_t kerr;

    for (size_t t = 0; t < x->ntopics; t++) {
        if (tr_client_topic_partitions(x->client, x->topics[t], &n, &kerr) !=
            TR_OK) {
            tr_client_metadata_refresh(x->client);
            return TR_ERR_AGAIN;
        }
        total += (size_t)n;
    }
    x->parts = tr_calloc(total + 1, sizeof(*x->parts));
    x->state = tr_calloc(total + 1, sizeof(int));
    x->refused = tr_calloc(total + 1, sizeof(int));
    if (x->parts == NULL || x->state == NULL || x->refused == NULL) {
        return TR_ERR_NOMEM;
    }
    for (size_t t = 0; t < x->ntopics; t++) {
        tr_client_topic_partitions(x->client, x->topics[t], &n, &kerr);
        for (int32_t i = 0; i < n; i++) {
            x->parts[k].topic = x->topics[t];
            x->parts[k].partition = i;
            k++;
        }
    }
    x->nparts = k;
    x->have_parts = 1;
    return TR_OK;
}

static struct tr_resume_part *
find_part(struct rreq *r, const struct tr_str *topic, int32_t partition,
          size_t *at)
{
    for (size_t i = 0; i < r->n; i++) {
        struct tr_resume_part *p = &r->ctx->parts[r->idx[i]];
        if (p->partition == partition && tr_str_eq(topic, p->topic)) {
            *at = r->idx[i];
            return p;
        }
    }
    return NULL;
}

static tr_err_t
decode(struct rreq *r, struct tr_slice *s)
{
    struct rctx *x = r->ctx;
    int32_t throttle, nt, np, na;
    tr_err_t err;

    if ((err = tr_slice_get_i32(s, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(s, 1, &nt, 2, INT32_MAX)) != TR_OK) {
        return err;
    }
    for (int32_t t = 0; t < nt; t++) {
        struct tr_str name;
        if ((err = tr_proto_get_compact_string(s, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(s, 1, &np, 8, INT32_MAX)) !=
                TR_OK) {
            return err;
        }
        for (int32_t p = 0; p < np; p++) {
            int32_t index;
            int16_t kerr;
            struct tr_str msg;
            size_t at = 0;
            if ((err = tr_slice_get_i32(s, &index)) != TR_OK ||
                (err = tr_slice_get_i16(s, &kerr)) != TR_OK ||
                (err = tr_proto_get_compact_string(s, &msg)) != TR_OK ||
                (err = tr_proto_get_array_len_v(s, 1, &na, 36, INT32_MAX)) !=
                    TR_OK) {
                return err;
            }
            struct tr_resume_part *part = find_part(r, &name, index, &at);
            for (int32_t a = 0; a < na; a++) {
                int64_t pid, ts, txn;
                int32_t epoch, last, cepoch;
                if ((err = tr_slice_get_i64(s, &pid)) != TR_OK ||
                    (err = tr_slice_get_i32(s, &epoch)) != TR_OK ||
                    (err = tr_slice_get_i32(s, &last)) != TR_OK ||
                    (err = tr_slice_get_i64(s, &ts)) != TR_OK ||
                    (err = tr_slice_get_i32(s, &cepoch)) != TR_OK ||
                    (err = tr_slice_get_i64(s, &txn)) != TR_OK ||
                    (err = tr_proto_skip_tags(s)) != TR_OK) {
                    return err;
                }
                if (part != NULL && kerr == TR_KERR_NONE && pid == x->pid) {
                    part->known = 1;
                    part->last_seq = last;
                }
            }
            if ((err = tr_proto_skip_tags(s)) != TR_OK) {
                return err;
            }
            if (part == NULL || x->state[at] != PART_ASKED) {
                continue;
            }
            if (kerr == TR_KERR_NONE) {
                x->state[at] = PART_DONE;
                continue;
            }
            x->state[at] = PART_TODO;
            tr_client_metadata_refresh(x->client);
            if (++x->refused[at] >= RESUME_MAX_REFUSED) {
                tr_log_warn("resume: %s [%d]: DescribeProducers keeps "
                            "failing with error %d",
                            part->topic, (int)part->partition, (int)kerr);
                x->fail = TR_ERR_UNSUPPORTED;
            }
        }
        if ((err = tr_proto_skip_tags(s)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

static void
response_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct rreq *r = arg;
    struct rctx *x = r->ctx;

    (void)version;
    x->outstanding--;
    if (err == TR_OK) {
        err = decode(r, body);
    }
    for (size_t i = 0; i < r->n; i++) {
        if (x->state[r->idx[i]] == PART_ASKED) {
            x->state[r->idx[i]] = PART_TODO; /* unanswered: ask again */
        }
    }
    if (err != TR_OK) {
        tr_log_debug("resume: DescribeProducers: %s", tr_err_str(err));
    }
    r->n = 0; /* answered; freed with the others at the end */
}

/* Asks one leader for its partitions still to do. */
static void
ask_leader(struct rctx *x, int32_t leader, struct tr_conn *conn)
{
    struct rreq *r = tr_calloc(1, sizeof(*r));
    struct tr_buf body;
    int16_t version;

    version = tr_conn_api_version(conn, TR_API_DESCRIBE_PRODUCERS, 0, 0);
    if (version < 0) {
        tr_log_warn("resume: node %d does not serve DescribeProducers",
                    (int)leader);
        x->fail = TR_ERR_UNSUPPORTED;
        tr_free(r);
        return;
    }
    if (r == NULL || (r->idx = tr_calloc(x->nparts, sizeof(size_t))) == NULL) {
        tr_free(r);
        return;
    }
    r->ctx = x;
    for (size_t i = 0; i < x->nparts; i++) {
        if (x->state[i] == PART_TODO &&
            tr_client_partition_leader(x->client, x->parts[i].topic,
                                       x->parts[i].partition) == leader) {
            r->idx[r->n++] = i;
        }
    }
    tr_buf_init(&body, SIZE_MAX);
    /* Topics, each with its partitions (the list is grouped by topic). */
    size_t ntopics = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (i == 0 ||
            x->parts[r->idx[i]].topic != x->parts[r->idx[i - 1]].topic) {
            ntopics++;
        }
    }
    tr_proto_put_array_len_v(&body, 1, (int32_t)ntopics);
    for (size_t i = 0; i < r->n;) {
        const char *topic = x->parts[r->idx[i]].topic;
        size_t e = i;
        while (e < r->n && x->parts[r->idx[e]].topic == topic) {
            e++;
        }
        tr_proto_put_cstring_v(&body, 1, topic);
        tr_proto_put_array_len_v(&body, 1, (int32_t)(e - i));
        for (; i < e; i++) {
            tr_buf_put_i32(&body, x->parts[r->idx[i]].partition);
        }
        tr_proto_put_tags_v(&body, 1);
    }
    tr_proto_put_tags_v(&body, 1);
    if (r->n > 0 && tr_conn_request(conn, TR_API_DESCRIBE_PRODUCERS, version,
                                    &body, response_cb, r) == TR_OK) {
        for (size_t i = 0; i < r->n; i++) {
            x->state[r->idx[i]] = PART_ASKED;
        }
        x->outstanding++;
        r->next = x->reqs;
        x->reqs = r;
        r = NULL;
    }
    tr_buf_cleanup(&body);
    if (r != NULL) {
        tr_free(r->idx);
        tr_free(r);
    }
}

/* One round: returns 1 when every partition is answered. */
static int
round_once(struct rctx *x)
{
    size_t done = 0;

    if (!x->have_parts && list_parts(x) != TR_OK) {
        return 0;
    }
    for (size_t i = 0; i < x->nparts && x->fail == TR_OK; i++) {
        if (x->state[i] == PART_DONE) {
            done++;
            continue;
        }
        if (x->state[i] != PART_TODO) {
            continue;
        }
        int32_t leader = tr_client_partition_leader(
            x->client, x->parts[i].topic, x->parts[i].partition);
        if (leader < 0) {
            tr_client_metadata_refresh(x->client);
            continue;
        }
        struct tr_conn *conn = tr_client_node_conn(x->client, leader);
        if (conn != NULL) {
            ask_leader(x, leader, conn);
        }
    }
    return done == x->nparts;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

tr_err_t
tr_resume_describe(struct event_base *base, const struct tr_client_config *cc,
                   int64_t pid, const char *const *topics, size_t ntopics,
                   int max_wait_ms, struct tr_resume_part **out, size_t *nout)
{
    struct rctx x;
    struct event *tick = NULL;
    struct timeval tv = { 0, RESUME_ROUND_MS * 1000 };
    int64_t deadline = tr_clock_mono_ms() + max_wait_ms;
    tr_err_t err;

    memset(&x, 0, sizeof(x));
    *out = NULL;
    *nout = 0;
    x.base = base;
    x.pid = pid;
    x.topics = topics;
    x.ntopics = ntopics;
    if ((err = tr_client_new(base, cc, client_event, &x, &x.client)) != TR_OK) {
        goto out;
    }
    for (size_t t = 0; t < ntopics; t++) {
        if ((err = tr_client_topic_add(x.client, topics[t])) != TR_OK) {
            goto out;
        }
    }
    err = TR_ERR_NOMEM;
    if ((tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL)) == NULL) {
        goto out;
    }
    event_add(tick, &tv);
    for (;;) {
        if (round_once(&x)) {
            err = TR_OK;
            break;
        }
        if (x.fail != TR_OK) {
            err = x.fail;
            break;
        }
        if (tr_clock_mono_ms() >= deadline || event_base_got_break(base) ||
            event_base_got_exit(base)) {
            err = TR_ERR_TIMEOUT;
            break;
        }
        event_base_loop(base, EVLOOP_ONCE);
    }
out:
    if (tick != NULL) {
        event_free(tick);
    }
    /* Requests still out are dropped without callbacks: free them here. */
    tr_client_free(x.client);
    while (x.reqs != NULL) {
        struct rreq *r = x.reqs;
        x.reqs = r->next;
        tr_free(r->idx);
        tr_free(r);
    }
    if (err == TR_OK) {
        *out = x.parts;
        *nout = x.nparts;
        x.parts = NULL;
    }
    tr_free(x.parts);
    tr_free(x.state);
    tr_free(x.refused);
    return err;
}
