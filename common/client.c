/*
 * client -- broker connections, request/response matching and the metadata
 * cache under the producer (see client.h).
 *
 * A connection moves CONNECTING (TCP, then the TLS handshake on SSL and
 * SASL_SSL) -> HANDSHAKE (our ApiVersions v0 is the only request in
 * flight) -> SASL (on SASL_*: SaslHandshake and SaslAuthenticate, one at a
 * time, driven by clientsasl.c) -> READY. Requests are written in order and
 * Kafka answers them in order on one connection, so responses are matched
 * against the head of the in-flight queue; any mismatch is a protocol error and
 * closes the connection. One timer per connection watches the oldest
 * request's deadline (and the connect itself).
 *
 * Frame on the wire, both ways:
 *
 *  +--------+----------------------------+------------------+
 *  | Size   | header (request v1/v2,     | body             |
 *  | int32  | response v0/v1)            |                  |
 *  +--------+----------------------------+------------------+
 *
 * ApiVersions responses always use response header v0 (no tags).
 */
#include "client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "alloc.h"
#include "clientsasl.h"
#include "clientsec.h"
#include "clock.h"
#include "log.h"
#include "netio.h"

#define CLIENT_MAX_NODES      1024
#define CLIENT_MAX_TOPICS     100000
#define CLIENT_MAX_PARTITIONS 100000
#define CLIENT_MAX_APIS       256
#define CLIENT_MAX_REPLICAS   1024
#define CLIENT_API_TABLE      128 /* ApiVersions kept for keys below this */
#define CLIENT_HOST_MAX       256
#define CLIENT_METADATA_MAX_V 7
#define CLIENT_HEADER_MAX     (64 + 32767)
#define CLIENT_DEFAULT_ID     "tributary"
#define CLIENT_WHY_MAX        512

enum conn_state {
    CONN_CONNECTING,
    CONN_HANDSHAKE,
    CONN_SASL,
    CONN_READY,
};

struct creq {
    TAILQ_ENTRY(creq) link;
    int32_t corr;
    int16_t api_key;
    int16_t api_version;
    int64_t deadline; /* monotonic ms */
    tr_client_response_cb *cb;
    void *arg;
};

TAILQ_HEAD(creq_list, creq);

struct tr_node;

struct tr_conn {
    struct tr_client *client;
    struct tr_node *node;
    struct bufferevent *bev;
    struct event *timer;
    enum conn_state state;
    int32_t next_corr;
    struct creq_list inflight;
    size_t ninflight;
    int64_t connect_deadline;
    /* ApiVersions answer: max version per key, -1 if unsupported. */
    int16_t api_min[CLIENT_API_TABLE];
    int16_t api_max[CLIENT_API_TABLE];
    int dispatching;            /* inside a response callback */
    tr_err_t fail_err;          /* deferred close requested during dispatch */
    struct tr_netio_rest rest;  /* large reads of frames (netio.h) */
    SSL *ssl;                   /* TLS connections; owned by bev */
    struct tr_clientsasl *sasl; /* during CONN_SASL; owned */
    int16_t sasl_auth_version;
    char why[CLIENT_WHY_MAX]; /* what a TR_ERR_AUTH/TLS close says */
};

struct tr_node {
    struct tr_client *client;
    int32_t id; /* negative for bootstrap entries */
    char *host;
    int port;
    struct tr_conn *conn;
    struct event *retry_timer;
    int failures;     /* consecutive, for the backoff */
    int64_t retry_at; /* monotonic ms; no connect before */
    int wanted;       /* someone asked while it was backing off */
    int outage_logged;
};

struct mtopic {
    char *name;
    int16_t kerr; /* last topic error; 0 once known */
    int known;
    int32_t nparts;
    int32_t *leaders;
};

struct tr_client {
    struct event_base *base;
    struct tr_client_config cfg;
    char *bootstrap;
    char *client_id;
    tr_client_event_cb *cb;
    void *cb_arg;
    struct tr_node **nodes;
    size_t nnodes;
    struct mtopic *topics;
    size_t ntopics, topics_cap;
    uint32_t rng;
    /* metadata refresh */
    struct event *md_timer;
    int md_wanted;
    int md_inflight;
    int64_t md_last;     /* when the last refresh was sent */
    size_t md_next_node; /* round-robin start for connecting */
    int closing;         /* tr_client_free: no callbacks */
    /* The last TLS or SASL refusal, until a connection is ready again. */
    tr_err_t sec_err;
    char sec_why[CLIENT_WHY_MAX];
};

static void conn_close(struct tr_conn *conn, tr_err_t why);
static void node_connect(struct tr_node *node);

static void conn_ready(struct tr_conn *conn);
static void sasl_start(struct tr_conn *conn);
static void sasl_cb(tr_err_t err, int16_t version, struct tr_slice *body,
                    void *arg);
static void metadata_maybe_send(struct tr_client *c);
static void metadata_schedule(struct tr_client *c, int64_t delay_ms);

void
tr_client_config_defaults(struct tr_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->client_id = CLIENT_DEFAULT_ID;
    cfg->request_timeout_ms = 30000;
    cfg->reconnect_backoff_ms = 100;
    cfg->reconnect_backoff_max_ms = 10000;
    cfg->metadata_refresh_ms = 300000;
    cfg->allow_auto_create = 1;
    cfg->max_response_bytes = 64 * 1024 * 1024;
}

int64_t
tr_client_backoff_ms(int base, int max, int attempt, uint32_t rnd)
{
    int64_t ms = base > 0 ? base : 1;
    double jitter;
    int i;

    for (i = 0; i < attempt && ms < max; i++) {
        ms *= 2;
    }
    if (ms > max && max > 0) {
        ms = max;
    }
    /* 0.8 + 0.4 * rnd / 2^32: spreads clients that failed together. */
    jitter = 0.8 + 0.4 * ((double)rnd / 4294967296.0);
    ms = (int64_t)((double)ms * jitter);
    return ms < 1 ? 1 : ms;
}

uint32_t
tr_client_random(struct tr_client *c)
{
    uint32_t x = c->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->rng = x;
    return x;
}

static void
notify(struct tr_client *c)
{
    if (c->cb != NULL) {
        c->cb(c->cb_arg);
    }
}

/* Nodes. */

static struct tr_node *
node_find(const struct tr_client *c, int32_t id)
{
    size_t i;

    for (i = 0; i < c->nnodes; i++) {
        if (c->nodes[i]->id == id) {
            return c->nodes[i];
        }
    }
    return NULL;
}

static void
node_free(struct tr_node *node)
{
    if (node == NULL) {
        return;
    }
    if (node->conn != NULL) {
        conn_close(node->conn, TR_ERR_CLOSED);
    }
    if (node->retry_timer != NULL) {
        event_free(node->retry_timer);
    }
    tr_free(node->host);
    tr_free(node);
}

static void
node_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_node *node = arg;

    (void)fd;
    (void)what;
    if (node->wanted && node->conn == NULL) {
        node_connect(node);
    }
}

/* Adds a node or updates its address; returns it or NULL on NOMEM. */
static struct tr_node *
node_upsert(struct tr_client *c, int32_t id, const char *host, size_t hostlen,
            int port)
{
    struct tr_node *node = node_find(c, id);
    struct tr_node **grown;
    char *h = NULL;

    if (node != NULL && strlen(node->host) == hostlen &&
        memcmp(node->host, host, hostlen) == 0 && node->port == port) {
        return node;
    }
    h = tr_strndup(host, hostlen);
    if (h == NULL) {
        return NULL;
    }
    if (node != NULL) {
        /* Moved: the old connection points at the wrong place. */
        if (node->conn != NULL) {
            conn_close(node->conn, TR_ERR_CLOSED);
        }
        tr_free(node->host);
        node->host = h;
        node->port = port;
        return node;
    }
    if (c->nnodes >= CLIENT_MAX_NODES) {
        tr_free(h);
        return NULL;
    }
    grown = tr_realloc(c->nodes, (c->nnodes + 1) * sizeof(*grown));
    if (grown == NULL) {
        tr_free(h);
        return NULL;
    }
    c->nodes = grown;
    node = tr_calloc(1, sizeof(*node));
    if (node == NULL) {
        tr_free(h);
        return NULL;
    }
    node->retry_timer = evtimer_new(c->base, node_retry_cb, node);
    if (node->retry_timer == NULL) {
        tr_free(node);
        tr_free(h);
        return NULL;
    }
    node->client = c;
    node->id = id;
    node->host = h;
    node->port = port;
    c->nodes[c->nnodes++] = node;
    return node;
}

/* Connections. */

static void
conn_arm_timer(struct tr_conn *conn)
{
    struct creq *req = TAILQ_FIRST(&conn->inflight);
    int64_t deadline, now = tr_clock_mono_ms();
    struct timeval tv;

    if (conn->state == CONN_CONNECTING) {
        deadline = conn->connect_deadline;
    } else if (req != NULL) {
        deadline = req->deadline;
    } else {
        event_del(conn->timer);
        return;
    }
    deadline = deadline > now ? deadline - now : 0;
    tv.tv_sec = deadline / 1000;
    tv.tv_usec = (deadline % 1000) * 1000;
    event_add(conn->timer, &tv);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_conn *conn = arg;
    struct creq *req = TAILQ_FIRST(&conn->inflight);
    int64_t now = tr_clock_mono_ms();

    (void)fd;
    (void)what;
    if (conn->state == CONN_CONNECTING && now >= conn->connect_deadline) {
        conn_close(conn, TR_ERR_TIMEOUT);
        return;
    }
    if (req != NULL && now >= req->deadline) {
        tr_log_warn("client: %s request to %s:%d timed out",
                    tr_proto_api_name(req->api_key), conn->node->host,
                    conn->node->port);
        conn_close(conn, TR_ERR_TIMEOUT);
        return;
    }
    conn_arm_timer(conn);
}

/*
 * Tears the connection down: detaches it from its node, schedules the
 * reconnect backoff, then fails every request with 'why'. During a
 * response callback the close is deferred to the end of the dispatch.
 */
static void
conn_close(struct tr_conn *conn, tr_err_t why)
{
    struct tr_client *c = conn->client;
    struct tr_node *node = conn->node;
    struct creq_list reqs;
    struct creq *req;
    int was_ready = conn->state == CONN_READY;
    int sec_fail = why == TR_ERR_AUTH || why == TR_ERR_TLS;
    int64_t backoff;
    struct timeval tv;

    if (conn->dispatching) {
        if (conn->fail_err == TR_OK) {
            conn->fail_err = why;
        }
        return;
    }
    node->conn = NULL;
    TAILQ_INIT(&reqs);
    TAILQ_CONCAT(&reqs, &conn->inflight, link);
    if (sec_fail) {
        /*
         * A refused login or certificate does not fix itself: say why every
         * time it changes, and retry only slowly.
         */
        if (c->sec_err != why || strcmp(c->sec_why, conn->why) != 0) {
            tr_log_warn("client: broker %s:%d (node %d): %s; retrying every "
                        "%d ms",
                        node->host, node->port, node->id, conn->why,
                        c->cfg.reconnect_backoff_max_ms);
        }
        c->sec_err = why;
        snprintf(c->sec_why, sizeof(c->sec_why), "%s", conn->why);
        node->outage_logged = 1;
    }
    if (conn->ssl != NULL && SSL_is_init_finished(conn->ssl)) {
        /*
         * close_notify, so the broker sees an orderly close rather than an
         * "unexpected eof" (BEV_OPT_CLOSE_ON_FREE skips SSL_shutdown).
         */
        SSL_shutdown(conn->ssl);
        ERR_clear_error();
    }
    bufferevent_free(conn->bev);
    event_free(conn->timer);
    tr_clientsasl_free(conn->sasl);
    tr_free(conn);

    if (why != TR_ERR_CLOSED) {
        if (!node->outage_logged) {
            tr_log_warn("client: broker %s:%d (node %d) %s: %s; retrying "
                        "with backoff, records wait",
                        node->host, node->port, node->id,
                        was_ready ? "connection lost" : "unreachable",
                        tr_err_str(why));
            node->outage_logged = 1;
        }
        backoff =
            tr_client_backoff_ms(sec_fail ? c->cfg.reconnect_backoff_max_ms
                                          : c->cfg.reconnect_backoff_ms,
                                 c->cfg.reconnect_backoff_max_ms,
                                 node->failures, tr_client_random(c));
        node->failures++;
        node->retry_at = tr_clock_mono_ms() + backoff;
        node->wanted = 1;
        tv.tv_sec = backoff / 1000;
        tv.tv_usec = (backoff % 1000) * 1000;
        event_add(node->retry_timer, &tv);
        /* Leaders may have moved; learn it as soon as anyone answers. */
        c->md_wanted = 1;
    }

    while ((req = TAILQ_FIRST(&reqs)) != NULL) {
        TAILQ_REMOVE(&reqs, req, link);
        if (req->cb != NULL && !c->closing) {
            req->cb(why, req->api_version, NULL, req->arg);
        }
        tr_free(req);
    }
    if (why != TR_ERR_CLOSED) {
        metadata_schedule(c, 0);
    }
}

/* Frees a request body given to the output buffer, once it is written. */
static void
free_given(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    tr_free((void *)data);
}

/*
 * Queues one request frame. With 'give', 'body' (from tr_buf_steal) is
 * owned by the call: the output buffer references it instead of copying it
 * and frees it once written (or the call frees it on failure).
 */
static tr_err_t
conn_write(struct tr_conn *conn, int16_t api_key, int16_t api_version,
           const uint8_t *body, size_t len, int give, tr_client_response_cb *cb,
           void *arg)
{
    struct tr_client *c = conn->client;
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    struct tr_buf hdr;
    struct creq *req = NULL;
    tr_err_t err = TR_ERR_NOMEM;
    int32_t corr = conn->next_corr;

    tr_buf_init(&hdr, CLIENT_HEADER_MAX);
    tr_buf_put_i32(&hdr, 0); /* Size */
    tr_proto_request_header_put(&hdr, api_key, api_version, corr, c->client_id);
    if (tr_buf_err(&hdr) != TR_OK) {
        err = tr_buf_err(&hdr);
        goto out;
    }
    if (tr_buf_len(&hdr) - 4 + len > INT32_MAX) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    tr_buf_set_i32(&hdr, 0, (int32_t)(tr_buf_len(&hdr) - 4 + len));
    if (cb != NULL) {
        req = tr_calloc(1, sizeof(*req));
        if (req == NULL) {
            goto out;
        }
    }
    if (evbuffer_add(out, tr_buf_data(&hdr), tr_buf_len(&hdr)) != 0) {
        goto out;
    }
    if (len > 0) {
        if ((give ? evbuffer_add_reference(out, body, len, free_given, NULL)
                  : evbuffer_add(out, body, len)) != 0) {
            /* Half a frame is queued: the connection is unusable. */
            conn_close(conn, TR_ERR_NOMEM);
            goto out;
        }
        give = 0; /* the output buffer frees it once written */
    }
    conn->next_corr = corr == INT32_MAX ? 0 : corr + 1;
    if (req != NULL) {
        req->corr = corr;
        req->api_key = api_key;
        req->api_version = api_version;
        /* A little past the broker's own timeout, so its answer wins. */
        req->deadline = tr_clock_mono_ms() + c->cfg.request_timeout_ms + 1000;
        req->cb = cb;
        req->arg = arg;
        TAILQ_INSERT_TAIL(&conn->inflight, req, link);
        conn->ninflight++;
        if (conn->ninflight == 1) {
            conn_arm_timer(conn);
        }
        req = NULL;
    }
    err = TR_OK;
out:
    if (give) {
        tr_free((void *)body);
    }
    tr_free(req);
    tr_buf_cleanup(&hdr);
    return err;
}

/* Sends the SASL exchange's next request on 'conn'. */
static void
sasl_send(struct tr_conn *conn)
{
    struct tr_buf body;
    int16_t api_key, version;
    tr_err_t err;

    tr_buf_init(&body, SIZE_MAX);
    err = tr_clientsasl_request(conn->sasl, conn->sasl_auth_version, &api_key,
                                &version, &body);
    if (err == TR_OK) {
        err = conn_write(conn, api_key, version, tr_buf_data(&body),
                         tr_buf_len(&body), 0, sasl_cb, conn);
    }
    if (tr_buf_len(&body) > 0) {
        OPENSSL_cleanse(tr_buf_data(&body), tr_buf_len(&body));
    }
    tr_buf_cleanup(&body);
    if (err != TR_OK) {
        conn_close(conn, err);
    }
}

static void
sasl_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct tr_conn *conn = arg;

    if (err != TR_OK) {
        return; /* 'conn' is already freed: touch nothing */
    }
    err = tr_clientsasl_response(conn->sasl, version, body, conn->why,
                                 sizeof(conn->why));
    if (err != TR_OK) {
        conn_close(conn, TR_ERR_AUTH);
        return;
    }
    if (!tr_clientsasl_done(conn->sasl)) {
        sasl_send(conn);
        return;
    }
    tr_clientsasl_free(conn->sasl);
    conn->sasl = NULL;
    tr_log_debug(
        "client: authenticated to %s:%d as %s (%s)", conn->node->host,
        conn->node->port,
        TR_LOG_ESC(tr_clientsec_username(conn->client->cfg.security)),
        tr_clientsec_mech_name(tr_clientsec_mech(conn->client->cfg.security)));
    conn_ready(conn);
}

/*
 * Starts SASL after the ApiVersions handshake: SaslHandshake v1, then the
 * tokens in SaslAuthenticate v0 or v1, whichever the broker offers.
 */
static void
sasl_start(struct tr_conn *conn)
{
    tr_err_t err;

    conn->state = CONN_SASL;
    conn->sasl_auth_version =
        tr_conn_api_version(conn, TR_API_SASL_AUTHENTICATE, 0, 1);
    if (tr_conn_api_version(conn, TR_API_SASL_HANDSHAKE, 1, 1) < 0 ||
        conn->sasl_auth_version < 0) {
        snprintf(conn->why, sizeof(conn->why),
                 "SASL authentication failed: the broker offers no "
                 "SaslHandshake v1 and SaslAuthenticate");
        conn_close(conn, TR_ERR_AUTH);
        return;
    }
    err = tr_clientsasl_new(conn->client->cfg.security, &conn->sasl);
    if (err != TR_OK) {
        conn_close(conn, err);
        return;
    }
    sasl_send(conn);
}

static void
handshake_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct tr_conn *conn = arg;
    struct tr_api_range ranges[CLIENT_MAX_APIS];
    struct tr_node *node;
    size_t n = 0, i;
    int16_t kerr = 0;

    if (err != TR_OK) {
        return; /* 'conn' is already freed: touch nothing */
    }
    node = conn->node;
    err = tr_client_ApiVersionsResponse_decode(body, version, &kerr, ranges,
                                               CLIENT_MAX_APIS, &n);
    if (err != TR_OK || kerr != TR_KERR_NONE) {
        tr_log_error("client: bad ApiVersions answer from %s:%d (error %d)",
                     node->host, node->port, (int)kerr);
        conn_close(conn, err != TR_OK ? err : TR_ERR_UNSUPPORTED);
        return;
    }
    for (i = 0; i < n; i++) {
        if (ranges[i].ApiKey >= 0 && ranges[i].ApiKey < CLIENT_API_TABLE) {
            conn->api_min[ranges[i].ApiKey] = ranges[i].MinVersion;
            conn->api_max[ranges[i].ApiKey] = ranges[i].MaxVersion;
        }
    }
    if (conn->client->cfg.security != NULL &&
        tr_clientsec_uses_sasl(conn->client->cfg.security)) {
        sasl_start(conn);
        return;
    }
    conn_ready(conn);
}

/* The connection may carry requests now: tell the owner. */
static void
conn_ready(struct tr_conn *conn)
{
    struct tr_node *node = conn->node;

    conn->state = CONN_READY;
    conn->client->sec_err = TR_OK;
    conn->client->sec_why[0] = '\0';
    node->failures = 0;
    if (node->outage_logged) {
        tr_log_info("client: broker %s:%d (node %d) is reachable again",
                    node->host, node->port, node->id);
        node->outage_logged = 0;
    }
    tr_log_debug("client: connected to %s:%d (node %d)", node->host, node->port,
                 node->id);
    metadata_maybe_send(conn->client);
    notify(conn->client);
}

/* The rest of an incomplete response frame, read in few reads (netio.h). */
static int
conn_read_rest(struct tr_conn *conn, struct evbuffer *in)
{
    return tr_netio_read_rest(in, (int)bufferevent_getfd(conn->bev),
                              conn->ssl == NULL, &conn->rest);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct tr_conn *conn = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct tr_slice s;
    struct creq *req;
    uint8_t sizebuf[4];
    const uint8_t *p;
    int32_t size, corr;
    tr_err_t fail = TR_OK;

again:
    while (fail == TR_OK && evbuffer_get_length(in) >= 4) {
        evbuffer_copyout(in, sizebuf, 4);
        size = tr_load_i32(sizebuf);
        if (size < 4 || (size_t)size > conn->client->cfg.max_response_bytes) {
            fail = TR_ERR_CORRUPT;
            break;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)size) {
            break; /* wait for the rest of the frame */
        }
        p = evbuffer_pullup(in, 4 + (ssize_t)size);
        if (p == NULL) {
            fail = TR_ERR_NOMEM;
            break;
        }
        tr_slice_init(&s, p + 4, (size_t)size);
        req = TAILQ_FIRST(&conn->inflight);
        if (tr_slice_get_i32(&s, &corr) != TR_OK || req == NULL ||
            req->corr != corr) {
            tr_log_error("client: %s:%d answered correlation id %d out of "
                         "order",
                         conn->node->host, conn->node->port, (int)corr);
            fail = TR_ERR_CORRUPT;
            break;
        }
        if (req->api_key != TR_API_API_VERSIONS &&
            tr_proto_is_flexible(req->api_key, req->api_version) &&
            tr_proto_skip_tags(&s) != TR_OK) {
            fail = TR_ERR_CORRUPT;
            break;
        }
        TAILQ_REMOVE(&conn->inflight, req, link);
        conn->ninflight--;
        conn->dispatching = 1;
        req->cb(TR_OK, req->api_version, &s, req->arg);
        conn->dispatching = 0;
        tr_free(req);
        evbuffer_drain(in, 4 + (size_t)size);
        tr_netio_frame_done(&conn->rest);
        fail = conn->fail_err;
        conn_arm_timer(conn);
    }
    if (fail != TR_OK) {
        conn->fail_err = TR_OK;
        conn_close(conn, fail);
        return;
    }
    if (conn_read_rest(conn, in)) {
        goto again;
    }
}

/*
 * Classifies a connection error. On TLS connections OpenSSL's reason is
 * the useful part: a certificate refused (untrusted, expired, another
 * host's) or a handshake the server cut short (not a TLS listener, our
 * certificate refused) is TR_ERR_TLS with conn->why saying so.
 */
static tr_err_t
conn_failure(struct tr_conn *conn, short what)
{
    unsigned long e = 0, next;

    if (conn->ssl == NULL) {
        return TR_ERR_IO;
    }
    while ((next = bufferevent_get_openssl_error(conn->bev)) != 0) {
        /* The first with a library is the reason; libevent adds others. */
        if (e == 0 && ERR_GET_LIB(next) != 0) {
            e = next;
        }
    }
    if (e == 0 && SSL_get_verify_result(conn->ssl) == X509_V_OK &&
        !(conn->state == CONN_CONNECTING && (what & BEV_EVENT_EOF))) {
        ERR_clear_error();
        return TR_ERR_IO; /* refused, reset: the network, not TLS */
    }
    tr_clientsec_tls_error(conn->ssl, e, conn->why, sizeof(conn->why));
    ERR_clear_error();
    return TR_ERR_TLS;
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct tr_conn *conn = arg;
    tr_err_t err;

    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;

        /*
         * Requests are written whole; Nagle would only hold the last
         * segment of each back for an ACK (tens of ms of latency).
         */
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one));
        conn->state = CONN_HANDSHAKE;
        /* ApiVersions v0: every broker answers it, with an empty body. */
        err = conn_write(conn, TR_API_API_VERSIONS, 0, NULL, 0, 0, handshake_cb,
                         conn);
        if (err != TR_OK) {
            conn_close(conn, err);
        }
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        conn_close(conn, conn_failure(conn, what));
    }
}

static void
node_connect(struct tr_node *node)
{
    struct tr_client *c = node->client;
    struct tr_conn *conn;

    node->wanted = 0;
    conn = tr_calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return;
    }
    conn->client = c;
    conn->node = node;
    conn->state = CONN_CONNECTING;
    memset(conn->api_min, 0xff, sizeof(conn->api_min));
    memset(conn->api_max, 0xff, sizeof(conn->api_max));
    TAILQ_INIT(&conn->inflight);
    conn->timer = evtimer_new(c->base, conn_timer_cb, conn);
    if (c->cfg.security != NULL && tr_clientsec_uses_tls(c->cfg.security)) {
        /*
         * The handshake runs once TCP is up; BEV_EVENT_CONNECTED then means
         * TLS is up too (and the certificate verified).
         */
        conn->ssl = tr_clientsec_ssl_new(c->cfg.security, node->host);
        if (conn->ssl != NULL) {
            conn->bev = bufferevent_openssl_socket_new(
                c->base, -1, conn->ssl, BUFFEREVENT_SSL_CONNECTING,
                BEV_OPT_CLOSE_ON_FREE);
            if (conn->bev == NULL) {
                SSL_free(conn->ssl);
                conn->ssl = NULL;
            } else {
                /* A broker closing without close_notify is an EOF. */
                bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
            }
        }
    } else {
        conn->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (conn->timer == NULL || conn->bev == NULL) {
        if (conn->timer != NULL) {
            event_free(conn->timer);
        }
        if (conn->bev != NULL) {
            bufferevent_free(conn->bev);
        }
        tr_free(conn);
        return;
    }
    bufferevent_setcb(conn->bev, conn_read_cb, NULL, conn_event_cb, conn);
    /* Fetch responses are large: read them in few system calls. */
    bufferevent_set_max_single_read(conn->bev, 1 << 20);
    bufferevent_set_max_single_write(conn->bev, 1 << 20);
    bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
    node->conn = conn;
    conn->connect_deadline = tr_clock_mono_ms() + c->cfg.request_timeout_ms;
    conn_arm_timer(conn);
    /*
     * A NULL evdns base makes libevent resolve with getaddrinfo(), which
     * blocks; broker names are resolved once per connect and are usually
     * local or cached.
     */
    if (bufferevent_socket_connect_hostname(conn->bev, NULL, AF_UNSPEC,
                                            node->host, node->port) != 0) {
        conn_close(conn, TR_ERR_IO);
    }
}

/* Public connection API. */

struct tr_conn *
tr_client_node_conn(struct tr_client *c, int32_t node_id)
{
    struct tr_node *node = node_find(c, node_id);

    if (node == NULL) {
        return NULL;
    }
    if (node->conn != NULL) {
        return node->conn->state == CONN_READY ? node->conn : NULL;
    }
    if (tr_clock_mono_ms() >= node->retry_at) {
        node_connect(node);
    } else {
        node->wanted = 1;
    }
    return NULL;
}

static int
has_real_nodes(const struct tr_client *c)
{
    size_t i;

    for (i = 0; i < c->nnodes; i++) {
        if (c->nodes[i]->id >= 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Bootstrap entries are used only until the first metadata names the real
 * nodes, so one broker is not connected (and reported down) twice.
 */
struct tr_conn *
tr_client_any_conn(struct tr_client *c)
{
    int real = has_real_nodes(c);
    int64_t now = tr_clock_mono_ms();
    struct tr_node *node;
    size_t i, k;

    for (i = 0; i < c->nnodes; i++) {
        node = c->nodes[i];
        if (node->conn != NULL && node->conn->state == CONN_READY &&
            (!real || node->id >= 0)) {
            return node->conn;
        }
    }
    for (i = 0; i < c->nnodes; i++) {
        node = c->nodes[i];
        if (node->conn != NULL && (!real || node->id >= 0)) {
            return NULL; /* one connect at a time is enough */
        }
    }
    for (k = 0; k < c->nnodes; k++) {
        i = (c->md_next_node + k) % c->nnodes;
        node = c->nodes[i];
        if (real && node->id < 0) {
            continue;
        }
        if (now >= node->retry_at) {
            c->md_next_node = i + 1;
            node_connect(node);
            return NULL;
        }
    }
    /* All backing off: the first retry timer to fire connects. */
    for (i = 0; i < c->nnodes; i++) {
        if (!real || c->nodes[i]->id >= 0) {
            c->nodes[i]->wanted = 1;
        }
    }
    return NULL;
}

tr_err_t
tr_client_last_error(const struct tr_client *c, const char **text)
{
    *text = c->sec_err != TR_OK ? c->sec_why : NULL;
    return c->sec_err;
}

int
tr_client_connected(const struct tr_client *c)
{
    size_t i;

    for (i = 0; i < c->nnodes; i++) {
        if (c->nodes[i]->conn != NULL &&
            c->nodes[i]->conn->state == CONN_READY) {
            return 1;
        }
    }
    return 0;
}

tr_err_t
tr_conn_request(struct tr_conn *conn, int16_t api_key, int16_t api_version,
                const struct tr_buf *body, tr_client_response_cb *cb, void *arg)
{
    if (conn->state != CONN_READY || conn->fail_err != TR_OK) {
        return TR_ERR_CLOSED;
    }
    return conn_write(conn, api_key, api_version, tr_buf_data(body),
                      tr_buf_len(body), 0, cb, arg);
}

tr_err_t
tr_conn_request_give(struct tr_conn *conn, int16_t api_key, int16_t api_version,
                     struct tr_buf *body, tr_client_response_cb *cb, void *arg)
{
    uint8_t *data;
    size_t len;

    if (conn->state != CONN_READY || conn->fail_err != TR_OK) {
        return TR_ERR_CLOSED;
    }
    if (tr_buf_err(body) != TR_OK) {
        return tr_buf_err(body);
    }
    data = tr_buf_steal(body, &len);
    return conn_write(conn, api_key, api_version, data, len, data != NULL, cb,
                      arg);
}

int16_t
tr_conn_api_version(const struct tr_conn *conn, int16_t api_key, int16_t min,
                    int16_t max)
{
    int16_t bmin, bmax, v;

    if (api_key < 0 || api_key >= CLIENT_API_TABLE) {
        return -1;
    }
    bmin = conn->api_min[api_key];
    bmax = conn->api_max[api_key];
    if (bmax < 0) {
        return -1;
    }
    v = bmax < max ? bmax : max;
    return (v >= min && v >= bmin) ? v : -1;
}

size_t
tr_conn_inflight(const struct tr_conn *conn)
{
    return conn->ninflight;
}

int32_t
tr_conn_node_id(const struct tr_conn *conn)
{
    return conn->node->id;
}

/* Metadata cache. */

static struct mtopic *
topic_find(const struct tr_client *c, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < c->ntopics; i++) {
        if (strlen(c->topics[i].name) == len &&
            memcmp(c->topics[i].name, name, len) == 0) {
            return &c->topics[i];
        }
    }
    return NULL;
}

tr_err_t
tr_client_topic_add(struct tr_client *c, const char *topic)
{
    struct mtopic *grown;
    char *name;

    if (topic_find(c, topic, strlen(topic)) != NULL) {
        return TR_OK;
    }
    if (c->ntopics >= CLIENT_MAX_TOPICS) {
        return TR_ERR_TOO_LARGE;
    }
    if (c->ntopics == c->topics_cap) {
        size_t cap = c->topics_cap ? c->topics_cap * 2 : 8;

        grown = tr_realloc(c->topics, cap * sizeof(*grown));
        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        c->topics = grown;
        c->topics_cap = cap;
    }
    name = tr_strdup(topic);
    if (name == NULL) {
        return TR_ERR_NOMEM;
    }
    memset(&c->topics[c->ntopics], 0, sizeof(c->topics[0]));
    c->topics[c->ntopics].name = name;
    c->topics[c->ntopics].kerr = TR_KERR_LEADER_NOT_AVAILABLE;
    c->ntopics++;
    tr_client_metadata_refresh(c);
    return TR_OK;
}

tr_err_t
tr_client_topic_partitions(const struct tr_client *c, const char *topic,
                           int32_t *nparts, int16_t *kerr)
{
    const struct mtopic *t = topic_find(c, topic, strlen(topic));

    *nparts = 0;
    *kerr = TR_KERR_NONE;
    if (t == NULL) {
        *kerr = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return TR_ERR_AGAIN;
    }
    if (!t->known) {
        *kerr = t->kerr;
        return TR_ERR_AGAIN;
    }
    *nparts = t->nparts;
    return TR_OK;
}

int32_t
tr_client_partition_leader(const struct tr_client *c, const char *topic,
                           int32_t partition)
{
    const struct mtopic *t = topic_find(c, topic, strlen(topic));

    if (t == NULL || !t->known || partition < 0 || partition >= t->nparts) {
        return -1;
    }
    return t->leaders[partition];
}

static void
metadata_schedule(struct tr_client *c, int64_t delay_ms)
{
    int64_t now = tr_clock_mono_ms();
    int64_t at = now + delay_ms;
    int64_t earliest = c->md_last + c->cfg.reconnect_backoff_ms;
    struct timeval tv;

    c->md_wanted = 1;
    if (at < earliest) {
        at = earliest;
    }
    at -= now;
    if (at < 0) {
        at = 0;
    }
    tv.tv_sec = at / 1000;
    tv.tv_usec = (at % 1000) * 1000;
    event_add(c->md_timer, &tv);
}

void
tr_client_metadata_refresh(struct tr_client *c)
{
    metadata_schedule(c, 0);
}

static void
metadata_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct tr_client *c = arg;
    struct timeval tv;

    c->md_inflight = 0;
    if (err == TR_OK) {
        err = tr_client_metadata_apply(c, version, body);
        if (err != TR_OK) {
            tr_log_warn("client: bad Metadata response: %s", tr_err_str(err));
        }
    }
    if (err != TR_OK || c->md_wanted) {
        metadata_schedule(c,
                          tr_client_backoff_ms(c->cfg.reconnect_backoff_ms,
                                               c->cfg.reconnect_backoff_max_ms,
                                               0, tr_client_random(c)));
        return;
    }
    tv.tv_sec = c->cfg.metadata_refresh_ms / 1000;
    tv.tv_usec = (c->cfg.metadata_refresh_ms % 1000) * 1000;
    event_add(c->md_timer, &tv);
}

static void
metadata_maybe_send(struct tr_client *c)
{
    struct tr_conn *conn;
    struct tr_buf body;
    const char **names = NULL;
    int16_t version;
    size_t i;
    int64_t now = tr_clock_mono_ms();

    if (!c->md_wanted || c->md_inflight) {
        return;
    }
    if (now < c->md_last + c->cfg.reconnect_backoff_ms) {
        metadata_schedule(c, 0);
        return;
    }
    conn = tr_client_any_conn(c);
    if (conn == NULL) {
        return; /* the handshake of the connection being made sends it */
    }
    version =
        tr_conn_api_version(conn, TR_API_METADATA, 1, CLIENT_METADATA_MAX_V);
    if (version < 0) {
        tr_log_error("client: broker %d supports no Metadata v1-v%d",
                     (int)tr_conn_node_id(conn), CLIENT_METADATA_MAX_V);
        return;
    }
    tr_buf_init(&body, SIZE_MAX);
    if (c->ntopics > 0) {
        names = tr_malloc(c->ntopics * sizeof(*names));
        if (names == NULL) {
            goto out;
        }
        for (i = 0; i < c->ntopics; i++) {
            names[i] = c->topics[i].name;
        }
    }
    if (tr_client_MetadataRequest_encode(&body, version, names, c->ntopics,
                                         c->cfg.allow_auto_create) != TR_OK) {
        goto out;
    }
    if (tr_conn_request(conn, TR_API_METADATA, version, &body, metadata_cb,
                        c) != TR_OK) {
        goto out;
    }
    c->md_inflight = 1;
    c->md_wanted = 0;
    c->md_last = now;
out:
    if (!c->md_inflight) {
        metadata_schedule(c, c->cfg.reconnect_backoff_ms);
    }
    tr_free(names);
    tr_buf_cleanup(&body);
}

static void
md_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_client *c = arg;

    (void)fd;
    (void)what;
    /* Fires for a wanted refresh or for the periodic one. */
    c->md_wanted = 1;
    metadata_maybe_send(c);
}

/*
 * Parses "host:port[,host:port...]" into bootstrap nodes -1, -2, ...
 * "[v6addr]:port" is accepted too.
 */
static tr_err_t
parse_bootstrap(struct tr_client *c, const char *list)
{
    const char *p = list, *end, *colon, *host;
    size_t hostlen;
    long port;
    char *stop;
    int32_t id = -1;

    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        end = p + strcspn(p, ", ");
        colon = end;
        while (colon > p && *(colon - 1) != ':') {
            colon--;
        }
        if (colon == p) {
            return TR_ERR_CONFIG;
        }
        host = p;
        hostlen = (size_t)(colon - 1 - p);
        if (hostlen >= 2 && host[0] == '[' && host[hostlen - 1] == ']') {
            host++;
            hostlen -= 2;
        }
        port = strtol(colon, &stop, 10);
        if (stop != end || port <= 0 || port > 65535 || hostlen == 0 ||
            hostlen >= CLIENT_HOST_MAX) {
            return TR_ERR_CONFIG;
        }
        if (node_upsert(c, id--, host, hostlen, (int)port) == NULL) {
            return TR_ERR_NOMEM;
        }
        p = end;
    }
    return c->nnodes > 0 ? TR_OK : TR_ERR_CONFIG;
}

tr_err_t
tr_client_new(struct event_base *base, const struct tr_client_config *cfg,
              tr_client_event_cb *cb, void *cb_arg, struct tr_client **out)
{
    struct tr_client *c = tr_calloc(1, sizeof(*c));
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (c == NULL) {
        goto out;
    }
    c->base = base;
    c->cfg = *cfg;
    c->cb = cb;
    c->cb_arg = cb_arg;
    c->rng = (uint32_t)tr_clock_mono_us() | 1;
    c->md_last = INT64_MIN / 2;
    c->client_id =
        tr_strdup(cfg->client_id ? cfg->client_id : CLIENT_DEFAULT_ID);
    c->bootstrap = tr_strdup(cfg->bootstrap ? cfg->bootstrap : "");
    c->md_timer = evtimer_new(base, md_timer_cb, c);
    if (c->client_id == NULL || c->bootstrap == NULL || c->md_timer == NULL) {
        goto out;
    }
    c->cfg.client_id = c->client_id;
    c->cfg.bootstrap = c->bootstrap;
    if (c->cfg.reconnect_backoff_ms <= 0) {
        c->cfg.reconnect_backoff_ms = 1;
    }
    if (c->cfg.max_response_bytes == 0) {
        c->cfg.max_response_bytes = 64 * 1024 * 1024;
    }
    err = parse_bootstrap(c, c->bootstrap);
    if (err != TR_OK) {
        goto out;
    }
    *out = c;
    c = NULL;
out:
    tr_client_free(c);
    return err;
}

void
tr_client_free(struct tr_client *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    c->closing = 1;
    for (i = 0; i < c->nnodes; i++) {
        node_free(c->nodes[i]);
    }
    tr_free(c->nodes);
    for (i = 0; i < c->ntopics; i++) {
        tr_free(c->topics[i].name);
        tr_free(c->topics[i].leaders);
    }
    tr_free(c->topics);
    if (c->md_timer != NULL) {
        event_free(c->md_timer);
    }
    tr_free(c->client_id);
    tr_free(c->bootstrap);
    tr_free(c);
}

/* Protocol bodies, field by field as in the JSON specifications. */

tr_err_t
tr_client_ApiVersionsResponse_decode(struct tr_slice *s, int16_t version,
                                     int16_t *kerr, struct tr_api_range *out,
                                     size_t max, size_t *n)
{
    struct tr_api_range r;
    int32_t count, i;
    tr_err_t err;

    *n = 0;
    if ((err = tr_slice_get_i16(s, kerr)) != TR_OK) { /* ErrorCode */
        goto out;
    }
    /* ApiKeys */
    err = tr_proto_get_array_len_v(s, 0, &count, 6, CLIENT_MAX_APIS * 4);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < count; i++) {
        if ((err = tr_slice_get_i16(s, &r.ApiKey)) != TR_OK ||
            (err = tr_slice_get_i16(s, &r.MinVersion)) != TR_OK ||
            (err = tr_slice_get_i16(s, &r.MaxVersion)) != TR_OK) {
            goto out;
        }
        if (*n < max) {
            out[(*n)++] = r;
        }
    }
    if (version >= 1) {
        int32_t throttle;

        err = tr_slice_get_i32(s, &throttle); /* ThrottleTimeMs */
    }
out:
    return err;
}

tr_err_t
tr_client_MetadataRequest_encode(struct tr_buf *b, int16_t version,
                                 const char *const *topics, size_t ntopics,
                                 int allow_create)
{
    size_t i;

    tr_proto_put_array_len_v(b, 0, (int32_t)ntopics); /* Topics */
    for (i = 0; i < ntopics; i++) {
        tr_proto_put_cstring_v(b, 0, topics[i]); /* Name */
    }
    if (version >= 4) {
        tr_proto_put_bool(b, allow_create); /* AllowAutoTopicCreation */
    }
    return tr_buf_err(b);
}

static tr_err_t
skip_int32_array(struct tr_slice *s)
{
    int32_t n;
    tr_err_t err = tr_proto_get_array_len_v(s, 0, &n, 4, CLIENT_MAX_REPLICAS);

    if (err == TR_OK && n > 0) {
        err = tr_slice_skip(s, (size_t)n * 4);
    }
    return err;
}

static tr_err_t
apply_topic(struct tr_client *c, int16_t version, struct tr_slice *s)
{
    struct mtopic *t;
    struct tr_str name;
    int16_t kerr, pkerr;
    int32_t nparts, i, index, leader, epoch;
    int32_t *leaders = NULL;
    int internal;
    tr_err_t err;

    if ((err = tr_slice_get_i16(s, &kerr)) != TR_OK ||    /* ErrorCode */
        (err = tr_proto_get_string(s, &name)) != TR_OK) { /* Name */
        goto out;
    }
    if (name.len < 0) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    if ((err = tr_proto_get_bool(s, &internal)) != TR_OK) { /* IsInternal */
        goto out;
    }
    /* Partitions */
    err = tr_proto_get_array_len_v(s, 0, &nparts, 18, CLIENT_MAX_PARTITIONS);
    if (err != TR_OK) {
        goto out;
    }
    t = topic_find(c, name.ptr, (size_t)name.len);
    if (t != NULL && nparts > 0) {
        leaders = tr_malloc((size_t)nparts * sizeof(*leaders));
        if (leaders == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        for (i = 0; i < nparts; i++) {
            leaders[i] = -1;
        }
    }
    for (i = 0; i < (nparts > 0 ? nparts : 0); i++) {
        if ((err = tr_slice_get_i16(s, &pkerr)) != TR_OK ||
            (err = tr_slice_get_i32(s, &index)) != TR_OK || /* PartitionIndex */
            (err = tr_slice_get_i32(s, &leader)) != TR_OK) { /* LeaderId */
            goto out;
        }
        if (version >= 7 && (err = tr_slice_get_i32(s, &epoch)) != TR_OK) {
            goto out; /* LeaderEpoch */
        }
        if ((err = skip_int32_array(s)) != TR_OK || /* ReplicaNodes */
            (err = skip_int32_array(s)) != TR_OK) { /* IsrNodes */
            goto out;
        }
        if (version >= 5 && (err = skip_int32_array(s)) != TR_OK) {
            goto out; /* OfflineReplicas */
        }
        if (leaders != NULL && index >= 0 && index < nparts) {
            leaders[index] = pkerr == TR_KERR_NONE ? leader : -1;
        }
    }
    if (t != NULL) {
        t->kerr = kerr;
        if (kerr == TR_KERR_NONE && nparts > 0) {
            tr_free(t->leaders);
            t->leaders = leaders;
            leaders = NULL;
            t->nparts = nparts;
            t->known = 1;
        } else if (kerr != TR_KERR_NONE && !t->known) {
            t->nparts = 0;
        }
        if (kerr != TR_KERR_NONE && t->known) {
            /* Keep routing on the old map; callers will refresh. */
            for (i = 0; i < t->nparts; i++) {
                t->leaders[i] = -1;
            }
        }
    }
    err = TR_OK;
out:
    tr_free(leaders);
    return err;
}

tr_err_t
tr_client_metadata_apply(struct tr_client *c, int16_t version,
                         struct tr_slice *s)
{
    struct tr_str host, rack, cluster;
    int32_t nbrokers, ntopics, i, node_id, port, controller, throttle;
    tr_err_t err;

    if (version < 1 || version > CLIENT_METADATA_MAX_V) {
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    if (version >= 3 && (err = tr_slice_get_i32(s, &throttle)) != TR_OK) {
        goto out; /* ThrottleTimeMs */
    }
    /* Brokers */
    err = tr_proto_get_array_len_v(s, 0, &nbrokers, 12, CLIENT_MAX_NODES);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < nbrokers; i++) {
        if ((err = tr_slice_get_i32(s, &node_id)) != TR_OK || /* NodeId */
            (err = tr_proto_get_string(s, &host)) != TR_OK || /* Host */
            (err = tr_slice_get_i32(s, &port)) != TR_OK ||    /* Port */
            (err = tr_proto_get_string(s, &rack)) != TR_OK) { /* Rack */
            goto out;
        }
        if (node_id < 0 || host.len <= 0 || host.len >= CLIENT_HOST_MAX ||
            port <= 0 || port > 65535) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (node_upsert(c, node_id, host.ptr, (size_t)host.len, port) == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    if (version >= 2 && (err = tr_proto_get_string(s, &cluster)) != TR_OK) {
        goto out; /* ClusterId */
    }
    if ((err = tr_slice_get_i32(s, &controller)) != TR_OK) { /* ControllerId */
        goto out;
    }
    /* Topics */
    err = tr_proto_get_array_len_v(s, 0, &ntopics, 9, CLIENT_MAX_TOPICS);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < ntopics; i++) {
        if ((err = apply_topic(c, version, s)) != TR_OK) {
            goto out;
        }
    }
    /* Idle bootstrap connections have done their job. */
    if (has_real_nodes(c)) {
        for (i = 0; i < (int32_t)c->nnodes; i++) {
            struct tr_node *node = c->nodes[i];

            /* During a dispatch the answered request is already off. */
            if (node->id < 0 && node->conn != NULL &&
                node->conn->ninflight == 0) {
                conn_close(node->conn, TR_ERR_CLOSED);
            }
        }
    }
    err = TR_OK;
    notify(c);
out:
    return err;
}

tr_err_t
tr_client_ProduceRequest_encode(struct tr_buf *b, int16_t version, int16_t acks,
                                int32_t timeout_ms,
                                const struct tr_produce_part *parts, size_t n)
{
    size_t i, j, ntopics = 0;

    (void)version; /* v3-v7 share one layout */
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0) {
            ntopics++;
        }
    }
    tr_proto_put_cstring_v(b, 0, NULL);               /* TransactionalId */
    tr_buf_put_i16(b, acks);                          /* Acks */
    tr_buf_put_i32(b, timeout_ms);                    /* TimeoutMs */
    tr_proto_put_array_len_v(b, 0, (int32_t)ntopics); /* TopicData */
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(parts[j].topic, parts[i].topic) == 0;
             j++) {
        }
        tr_proto_put_cstring_v(b, 0, parts[i].topic);     /* Name */
        tr_proto_put_array_len_v(b, 0, (int32_t)(j - i)); /* PartitionData */
        for (size_t k = i; k < j; k++) {
            tr_buf_put_i32(b, parts[k].partition); /* Index */
            if (parts[k].len > INT32_MAX) {
                return TR_ERR_TOO_LARGE;
            }
            tr_proto_put_bytes_v(b, 0, parts[k].records,
                                 (int32_t)parts[k].len); /* Records */
        }
    }
    return tr_buf_err(b);
}

tr_err_t
tr_client_ProduceResponse_decode(struct tr_slice *s, int16_t version,
                                 tr_client_produce_result_cb *cb, void *arg)
{
    struct tr_str name;
    int32_t ntopics, nparts, i, j, index;
    int16_t kerr;
    int64_t base_offset, append_time, log_start;
    tr_err_t err;

    /* Responses */
    err = tr_proto_get_array_len_v(s, 0, &ntopics, 6, CLIENT_MAX_TOPICS);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < ntopics; i++) {
        if ((err = tr_proto_get_string(s, &name)) != TR_OK) { /* Name */
            goto out;
        }
        /* PartitionResponses */
        err =
            tr_proto_get_array_len_v(s, 0, &nparts, 14, CLIENT_MAX_PARTITIONS);
        if (err != TR_OK) {
            goto out;
        }
        for (j = 0; j < nparts; j++) {
            if ((err = tr_slice_get_i32(s, &index)) != TR_OK ||
                (err = tr_slice_get_i16(s, &kerr)) != TR_OK ||
                (err = tr_slice_get_i64(s, &base_offset)) != TR_OK) {
                goto out;
            }
            if (version >= 2 &&
                (err = tr_slice_get_i64(s, &append_time)) != TR_OK) {
                goto out; /* LogAppendTimeMs */
            }
            if (version >= 5 &&
                (err = tr_slice_get_i64(s, &log_start)) != TR_OK) {
                goto out; /* LogStartOffset */
            }
            cb(&name, index, kerr, base_offset, arg);
        }
    }
    err = TR_OK;
    if (version >= 1) {
        int32_t throttle;

        err = tr_slice_get_i32(s, &throttle); /* ThrottleTimeMs */
    }
out:
    return err;
}

tr_err_t
tr_client_InitProducerIdRequest_encode(struct tr_buf *b, int16_t version)
{
    (void)version;
    tr_proto_put_cstring_v(b, 0, NULL); /* TransactionalId */
    tr_buf_put_i32(b, -1);              /* TransactionTimeoutMs */
    return tr_buf_err(b);
}

tr_err_t
tr_client_InitProducerIdResponse_decode(struct tr_slice *s, int16_t version,
                                        int16_t *kerr, int64_t *producer_id,
                                        int16_t *epoch)
{
    int32_t throttle;
    tr_err_t err;

    (void)version;
    if ((err = tr_slice_get_i32(s, &throttle)) != TR_OK || /* ThrottleTimeMs */
        (err = tr_slice_get_i16(s, kerr)) != TR_OK ||      /* ErrorCode */
        (err = tr_slice_get_i64(s, producer_id)) != TR_OK || /* ProducerId */
        (err = tr_slice_get_i16(s, epoch)) != TR_OK) {       /* ProducerEpoch */
        goto out;
    }
out:
    return err;
}
