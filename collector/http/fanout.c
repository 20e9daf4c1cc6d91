/*
 * fanout -- the console's JSON API across a cluster (see fanout.h).
 */
#include "fanout.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clientsec.h"
#include "json.h"
#include "log.h"

/* ---- merging ------------------------------------------------------- */

/* A document's root object and its array under 'key', if it has them. */
static int
doc_array(const struct tr_fanout_doc *d, const char *key,
          struct tr_json_value *root, struct tr_json_value *arr)
{
    return d->ok && tr_json_parse(d->data, d->len, root) == TR_OK &&
           root->type == TR_JSON_OBJECT &&
           tr_json_get(root, key, arr) == TR_OK && arr->type == TR_JSON_ARRAY;
}

static int
same_text(const struct tr_json_value *a, const struct tr_json_value *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Appends "sep" then the value's text. */
static void
add_value(struct evbuffer *out, int *first, const struct tr_json_value *v)
{
    if (!*first) {
        evbuffer_add(out, ",", 1);
    }
    *first = 0;
    evbuffer_add(out, v->ptr, v->len);
}

/* groups: every document's, each group_id once (the first seen). */
static tr_err_t
merge_groups(const struct tr_fanout_doc *docs, size_t n, int *ok,
             struct evbuffer *out)
{
    struct tr_json_value *seen = NULL;
    size_t nseen = 0, cap = 0, i, k;
    int first = 1;
    tr_err_t err = TR_OK;

    evbuffer_add(out, "[", 1);
    for (i = 0; i < n && err == TR_OK; i++) {
        struct tr_json_value root, arr, g, id;
        struct tr_json_iter it;

        if (!ok[i] || !doc_array(&docs[i], "groups", &root, &arr) ||
            tr_json_iter_init(&it, &arr) != TR_OK) {
            ok[i] = 0;
            continue;
        }
        while (tr_json_next(&it, NULL, &g) == TR_OK) {
            if (g.type != TR_JSON_OBJECT ||
                tr_json_get(&g, "group_id", &id) != TR_OK) {
                continue;
            }
            for (k = 0; k < nseen && !same_text(&seen[k], &id); k++) {
            }
            if (k < nseen) {
                continue; /* a coordinator that moved: the first answer */
            }
            if (tr_array_reserve(&seen, &cap, nseen + 1, sizeof(*seen)) !=
                TR_OK) {
                err = TR_ERR_NOMEM;
                break;
            }
            seen[nseen++] = id;
            add_value(out, &first, &g);
        }
    }
    evbuffer_add(out, "]", 1);
    tr_free(seen);
    return err;
}

/*
 * The partition 'number' of topic 'name' in document 'd' (NULL: not
 * there), as that collector reports it.
 */
static int
find_partition(const struct tr_fanout_doc *d, const struct tr_json_value *name,
               const struct tr_json_value *number, struct tr_json_value *out)
{
    struct tr_json_value root, arr, t, v, parts, p, pn;
    struct tr_json_iter it, pit;

    if (!doc_array(d, "topics", &root, &arr) ||
        tr_json_iter_init(&it, &arr) != TR_OK) {
        return 0;
    }
    while (tr_json_next(&it, NULL, &t) == TR_OK) {
        if (t.type != TR_JSON_OBJECT || tr_json_get(&t, "name", &v) != TR_OK ||
            !same_text(&v, name)) {
            continue;
        }
        if (tr_json_get(&t, "partitions", &parts) != TR_OK ||
            tr_json_iter_init(&pit, &parts) != TR_OK) {
            return 0;
        }
        while (tr_json_next(&pit, NULL, &p) == TR_OK) {
            if (p.type == TR_JSON_OBJECT &&
                tr_json_get(&p, "partition", &pn) == TR_OK &&
                same_text(&pn, number)) {
                *out = p;
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

/* One topic of the local document, its partitions as their leaders say. */
static void
merge_topic(const struct tr_fanout_doc *docs, size_t n, const int *ok,
            const struct tr_json_value *topic, struct evbuffer *out)
{
    struct tr_json_value key, v, name, p, pn, lv, theirs;
    struct tr_json_iter it, pit;
    int first = 1, pfirst;
    int64_t leader;
    size_t i;

    if (tr_json_get(topic, "name", &name) != TR_OK ||
        tr_json_iter_init(&it, topic) != TR_OK) {
        evbuffer_add(out, topic->ptr, topic->len);
        return;
    }
    evbuffer_add(out, "{", 1);
    while (tr_json_next(&it, &key, &v) == TR_OK) {
        if (!first) {
            evbuffer_add(out, ",", 1);
        }
        first = 0;
        evbuffer_add(out, key.ptr, key.len);
        evbuffer_add(out, ":", 1);
        if (key.len != sizeof("\"partitions\"") - 1 ||
            memcmp(key.ptr, "\"partitions\"", key.len) != 0 ||
            tr_json_iter_init(&pit, &v) != TR_OK) {
            evbuffer_add(out, v.ptr, v.len);
            continue;
        }
        evbuffer_add(out, "[", 1);
        pfirst = 1;
        while (tr_json_next(&pit, NULL, &p) == TR_OK) {
            const struct tr_json_value *use = &p;
            if (p.type == TR_JSON_OBJECT &&
                tr_json_get(&p, "partition", &pn) == TR_OK &&
                tr_json_get(&p, "leader", &lv) == TR_OK &&
                tr_json_as_int(&lv, &leader) == TR_OK &&
                leader != docs[0].broker_id) {
                for (i = 1; i < n; i++) {
                    if (ok[i] && docs[i].broker_id == leader &&
                        find_partition(&docs[i], &name, &pn, &theirs)) {
                        use = &theirs;
                        break;
                    }
                }
            }
            add_value(out, &pfirst, use);
        }
        evbuffer_add(out, "]", 1);
    }
    evbuffer_add(out, "}", 1);
}

static void
merge_topics(const struct tr_fanout_doc *docs, size_t n, int *ok,
             const struct tr_json_value *local, struct evbuffer *out)
{
    struct tr_json_value root, arr, t;
    struct tr_json_iter it;
    int first = 1;
    size_t i;

    for (i = 1; i < n; i++) {
        if (ok[i] && !doc_array(&docs[i], "topics", &root, &arr)) {
            ok[i] = 0;
        }
    }
    evbuffer_add(out, "[", 1);
    if (tr_json_iter_init(&it, local) == TR_OK) {
        while (tr_json_next(&it, NULL, &t) == TR_OK) {
            if (!first) {
                evbuffer_add(out, ",", 1);
            }
            first = 0;
            if (t.type == TR_JSON_OBJECT) {
                merge_topic(docs, n, ok, &t, out);
            } else {
                evbuffer_add(out, t.ptr, t.len);
            }
        }
    }
    evbuffer_add(out, "]", 1);
}

tr_err_t
tr_fanout_merge(enum tr_fanout_kind kind, const struct tr_fanout_doc *docs,
                size_t n, struct evbuffer *out)
{
    const char *key = kind == TR_FANOUT_GROUPS ? "groups" : "topics";
    struct tr_json_value root, arr, k, v;
    struct tr_json_iter it;
    int *ok = NULL, first = 1;
    size_t i;
    tr_err_t err = TR_OK;

    if (n == 0 || !doc_array(&docs[0], key, &root, &arr) ||
        tr_json_iter_init(&it, &root) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if ((ok = tr_calloc(n, sizeof(*ok))) == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        ok[i] = docs[i].ok;
    }
    evbuffer_add(out, "{", 1);
    while (tr_json_next(&it, &k, &v) == TR_OK && err == TR_OK) {
        if (!first) {
            evbuffer_add(out, ",", 1);
        }
        first = 0;
        evbuffer_add(out, k.ptr, k.len);
        evbuffer_add(out, ":", 1);
        if (v.ptr != arr.ptr) {
            evbuffer_add(out, v.ptr, v.len);
        } else if (kind == TR_FANOUT_GROUPS) {
            err = merge_groups(docs, n, ok, out);
        } else {
            merge_topics(docs, n, ok, &arr, out);
        }
    }
    evbuffer_add_printf(out, "%s\"brokers_missing\":[", first ? "" : ",");
    first = 1;
    for (i = 1; i < n; i++) {
        if (!ok[i]) {
            evbuffer_add_printf(out, "%s%d", first ? "" : ",",
                                (int)docs[i].broker_id);
            first = 0;
        }
    }
    evbuffer_add(out, "]}", 2);
    tr_free(ok);
    return err;
}

/* ---- asking the others --------------------------------------------- */

/* The largest document taken from another collector. */
#define TR_FANOUT_MAX_BODY (64 << 20)

struct fanout;

struct fan_peer {
    struct fanout *f;
    int32_t id;
    int done, ok;
    struct evbuffer *body;
};

struct fanout {
    struct evhttp_request *req; /* NULL once the client has gone */
    struct evhttp_connection *client;
    enum tr_fanout_kind kind;
    struct evbuffer *local;
    size_t npeers, pending;
    int issuing;
    struct fan_peer *peers;
};

static void
fanout_free(struct fanout *f)
{
    size_t i;

    for (i = 0; i < f->npeers; i++) {
        if (f->peers[i].body != NULL) {
            evbuffer_free(f->peers[i].body);
        }
    }
    tr_free(f->peers);
    if (f->local != NULL) {
        evbuffer_free(f->local);
    }
    tr_free(f);
}

/* The asking client closed its connection: nobody to answer. */
static void
client_closed(struct evhttp_connection *conn, void *arg)
{
    struct fanout *f = arg;

    (void)conn;
    f->req = NULL;
    f->client = NULL;
}

/* Every collector answered (or failed): merge and reply. */
static void
finish(struct fanout *f)
{
    struct tr_fanout_doc *docs;
    struct evbuffer *merged = evbuffer_new();
    size_t i, n = 0;
    int status = 200;

    docs = tr_calloc(f->npeers + 1, sizeof(*docs));
    if (f->req != NULL && docs != NULL && merged != NULL) {
        docs[n].ok = 1;
        docs[n].broker_id = -1;
        docs[n].len = evbuffer_get_length(f->local);
        docs[n].data = (const char *)evbuffer_pullup(f->local, -1);
        n++;
        for (i = 0; i < f->npeers; i++) {
            struct fan_peer *p = &f->peers[i];
            if (p->id < 0) {
                docs[0].broker_id = -1 - p->id; /* this collector */
                continue;
            }
            docs[n].broker_id = p->id;
            docs[n].ok = p->ok;
            docs[n].len = evbuffer_get_length(p->body);
            docs[n].data = (const char *)evbuffer_pullup(p->body, -1);
            n++;
        }
        if (tr_fanout_merge(f->kind, docs, n, merged) != TR_OK) {
            /* This collector's own answer, then. */
            evbuffer_drain(merged, evbuffer_get_length(merged));
            evbuffer_add_buffer(merged, f->local);
        }
    }
    if (f->req != NULL) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(f->req);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "Cache-Control", "no-store");
        evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
        /* Before the reply: sending it may end the connection. */
        evhttp_connection_set_closecb(f->client, NULL, NULL);
        if (merged == NULL || docs == NULL) {
            evhttp_send_error(f->req, HTTP_INTERNAL, NULL);
        } else {
            evhttp_send_reply(f->req, status, "OK", merged);
        }
    }
    if (merged != NULL) {
        evbuffer_free(merged);
    }
    tr_free(docs);
    fanout_free(f);
}

static void
peer_done(struct evhttp_request *r, void *arg)
{
    struct fan_peer *p = arg;
    struct fanout *f = p->f;

    if (p->done) {
        return;
    }
    p->done = 1;
    if (r != NULL && evhttp_request_get_response_code(r) == 200) {
        p->ok = evbuffer_add_buffer(p->body,
                                    evhttp_request_get_input_buffer(r)) == 0;
    }
    if (--f->pending == 0 && !f->issuing) {
        finish(f);
    }
}

/*
 * A connection to 'host':'port', over TLS with 'tls' (verifying that the
 * certificate names 'host') when 'https'; NULL when it cannot be made.
 */
static struct evhttp_connection *
connect_to(struct event_base *base, SSL_CTX *tls, int https, const char *host,
           uint16_t port)
{
    struct evhttp_connection *conn;
    struct bufferevent *bev;
    SSL *ssl;

    if (!https) {
        return evhttp_connection_base_new(base, NULL, host, port);
    }
    if (tls == NULL || (ssl = SSL_new(tls)) == NULL) {
        return NULL;
    }
    if (tr_clientsec_expect_host(ssl, host) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    conn = evhttp_connection_base_bufferevent_new(base, NULL, bev, host, port);
    if (conn == NULL) {
        bufferevent_free(bev);
    }
    return conn;
}

/* Asks one collector; 0 when the request could not even be made. */
static int
ask(struct event_base *base, SSL_CTX *tls, struct fanout *f, struct fan_peer *p,
    const char *addr, const char *authorization)
{
    const char *path = f->kind == TR_FANOUT_GROUPS ? "/api/groups?scope=local"
                                                   : "/api/topics?scope=local";
    int https = strncmp(addr, "https://", 8) == 0;
    const char *hostport = https ? addr + 8 : addr;
    const char *colon = strrchr(hostport, ':');
    char host[256];
    struct evhttp_connection *conn;
    struct evhttp_request *r;
    long port;
    char *end;

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
        return 0;
    }
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        return 0;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    conn = connect_to(base, tls, https, host, (uint16_t)port);
    if (conn == NULL) {
        return 0;
    }
    evhttp_connection_set_timeout(conn, TR_FANOUT_TIMEOUT_S);
    /* Another collector's document, not an unbounded stream. */
    evhttp_connection_set_max_body_size(conn, TR_FANOUT_MAX_BODY);
    r = evhttp_request_new(peer_done, p);
    if (r == NULL) {
        evhttp_connection_free(conn);
        return 0;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", hostport);
    /*
     * One request per connection: the other collector closes it after
     * answering, and libevent then frees it (free_on_completion frees only
     * a connection that is closed, never one kept alive).
     */
    evhttp_add_header(evhttp_request_get_output_headers(r), "Connection",
                      "close");
    if (authorization != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(r), "Authorization",
                          authorization);
    }
    if (evhttp_make_request(conn, r, EVHTTP_REQ_GET, path) != 0) {
        evhttp_connection_free(conn);
        return 0;
    }
    evhttp_connection_free_on_completion(conn);
    return 1;
}

int
tr_fanout_start(struct event_base *base, SSL_CTX *tls,
                struct evhttp_request *req, enum tr_fanout_kind kind,
                struct evbuffer *local, const struct tr_fanout_peer *peers,
                size_t npeers, int32_t self)
{
    const char *authorization = evhttp_find_header(
        evhttp_request_get_input_headers(req), "Authorization");
    struct fanout *f;
    size_t i, others = 0;

    for (i = 0; i < npeers; i++) {
        others += peers[i].id != self;
    }
    if (others == 0 || (f = tr_calloc(1, sizeof(*f))) == NULL) {
        return 0;
    }
    f->peers = tr_calloc(npeers + 1, sizeof(*f->peers));
    if (f->peers == NULL) {
        tr_free(f);
        return 0;
    }
    f->req = req;
    f->client = evhttp_request_get_connection(req);
    f->kind = kind;
    f->local = local;
    f->npeers = 1;
    /* Entry 0 names this collector (its id, encoded as -1 - id). */
    f->peers[0].id = -1 - self;
    f->peers[0].done = 1;
    f->issuing = 1;
    for (i = 0; i < npeers; i++) {
        struct fan_peer *p = &f->peers[f->npeers];
        if (peers[i].id == self) {
            continue;
        }
        p->f = f;
        p->id = peers[i].id;
        p->body = evbuffer_new();
        f->npeers++;
        f->pending++;
        if (p->body == NULL ||
            !ask(base, tls, f, p, peers[i].addr, authorization)) {
            p->done = 1;
            f->pending--;
        }
    }
    f->issuing = 0;
    evhttp_connection_set_closecb(f->client, client_closed, f);
    if (f->pending == 0) {
        finish(f);
    }
    return 1;
}
