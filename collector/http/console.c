/*
 * console -- routes, authentication and headers of the console and its
 * JSON API (see console.h).
 */
#include "console.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "assets.h"
#include "broker.h"
#include "clock.h"
#include "fanout.h"
#include "httpauth.h"
#include "jsonapi.h"
#include "laghist.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

#include "build-config.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/* Kafka's principal for a client that did not authenticate. */
#define ANONYMOUS     "User:ANONYMOUS"
#define PRINCIPAL_MAX (sizeof("User:") + TR_CREDENTIALS_MAX_USER)

struct tr_console {
    struct tr_broker *broker;
    struct event_base *base;
    /*
     * The client side of TLS for asking other collectors' HTTPS consoles
     * (fanout.h), made from this collector's ssl.* settings the first time
     * one is asked; 'client_tls_failed' once that could not be done.
     */
    SSL_CTX *client_tls;
    int client_tls_failed;
    struct tr_logring *errors;
    struct tr_laghist *hist;
    struct event *sample;
    int auth;
    /*
     * The principal of the request being answered: set by on_auth, read
     * by on_request of the same request (both run inside one call of the
     * listener's callback, on the main thread).
     */
    char principal[PRINCIPAL_MAX];
};

/* The paths served without credentials: probes and Prometheus. */
static const char *const open_paths[] = { "/metrics", "/healthz", "/readyz",
                                          "/health" };

/* Headers every answer of the console carries. */
static void
common_headers(struct evkeyvalq *h, const char *type)
{
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; "
                      "frame-ancestors 'none'; form-action 'none'");
}

static void
reply_json(struct evhttp_request *req, int status, struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    common_headers(h, "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, status,
                      status == 200   ? "OK"
                      : status == 401 ? "Unauthorized"
                      : status == 403 ? "Forbidden"
                      : status == 404 ? "Not Found"
                                      : "Error",
                      body);
}

static void
unauthorized(struct evhttp_request *req, const char *why)
{
    struct evbuffer *body = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "WWW-Authenticate",
                      "Basic realm=\"tributary\", charset=\"UTF-8\"");
    if (body == NULL) {
        evhttp_send_error(req, 401, "Unauthorized");
        return;
    }
    tr_jsonapi_error(body, why);
    reply_json(req, 401, body);
    evbuffer_free(body);
}

static int
on_auth(void *arg, struct evhttp_request *req, const char *path)
{
    struct tr_console *c = arg;
    char user[TR_CREDENTIALS_MAX_USER + 1];
    char password[TR_HTTPAUTH_MAX_PASSWORD + 1];
    const char *header;
    size_t i;
    tr_err_t err;
    int ok = 0;

    snprintf(c->principal, sizeof(c->principal), "%s", ANONYMOUS);
    for (i = 0; i < sizeof(open_paths) / sizeof(open_paths[0]); i++) {
        if (strcmp(path, open_paths[i]) == 0) {
            return 1;
        }
    }
    if (!c->auth) {
        return 1;
    }
    header = evhttp_find_header(evhttp_request_get_input_headers(req),
                                "Authorization");
    err = tr_httpauth_parse_basic(header, user, password);
    if (err == TR_OK) {
        err = tr_httpauth_check(c->broker->credentials, user, password);
        if (err == TR_OK) {
            snprintf(c->principal, sizeof(c->principal), "User:%s", user);
            ok = 1;
        } else {
            tr_log_warn("http.listener: authentication of %s failed",
                        TR_LOG_ESC(user));
        }
    }
    memset(password, 0, sizeof(password));
    if (!ok) {
        unauthorized(req, err == TR_ERR_NOT_FOUND
                              ? "credentials required (HTTP Basic)"
                              : "authentication failed");
    }
    return ok;
}

/* The client's address as ACL bindings hold hosts ("127.0.0.1"). */
static void
peer_host(struct evhttp_request *req, char *out, size_t outlen)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char peer[TR_ACL_HOST_MAX + 16];
    char *addr = NULL;
    ev_uint16_t port = 0;

    snprintf(out, outlen, "*");
    if (conn == NULL) {
        return;
    }
    evhttp_connection_get_peer(conn, &addr, &port);
    if (addr == NULL) {
        return;
    }
    snprintf(peer, sizeof(peer), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr,
             (unsigned)port);
    tr_acl_host_from_peer(peer, out, outlen);
}

static int
serve_asset(struct evhttp_request *req, const char *path)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *inm;
    size_t i;

    if (strcmp(path, "/") == 0) {
        path = "/index.html";
    }
    for (i = 0; i < tr_console_nassets; i++) {
        const struct tr_console_asset *a = &tr_console_assets[i];

        if (strcmp(path, a->path) != 0) {
            continue;
        }
        common_headers(h, a->type);
        evhttp_add_header(h, "ETag", a->etag);
        evhttp_add_header(h, "Cache-Control", "no-cache");
        inm = evhttp_find_header(evhttp_request_get_input_headers(req),
                                 "If-None-Match");
        if (inm != NULL && strcmp(inm, a->etag) == 0) {
            evhttp_send_reply(req, 304, "Not Modified", NULL);
            return 1;
        }
        struct evbuffer *body = evbuffer_new();
        if (body == NULL) {
            evhttp_send_error(req, HTTP_INTERNAL, NULL);
            return 1;
        }
        /* static bytes: sent without a copy */
        evbuffer_add_reference(body, a->data, a->len, NULL, NULL);
        evhttp_send_reply(req, HTTP_OK, "OK", body);
        evbuffer_free(body);
        return 1;
    }
    return 0;
}

static const struct {
    const char *path;
    int (*write)(const struct tr_jsonapi_ctx *ctx, struct evbuffer *out);
} api_paths[] = {
    { "/api/cluster", tr_jsonapi_cluster },
    { "/api/topics", tr_jsonapi_topics },
    { "/api/groups", tr_jsonapi_groups },
    { "/api/errors", tr_jsonapi_errors },
};

/*
 * In a cluster, /api/groups and /api/topics gather what the other
 * collectors know (fanout.h), unless the request is one of theirs
 * (?scope=local). 1 when that took 'body' and will answer.
 */
static int
gather(struct tr_console *c, struct evhttp_request *req, const char *path,
       struct evbuffer *body)
{
#ifdef HAVE_ZOOKEEPER
    struct tr_cluster_http_peer *found = NULL;
    struct tr_fanout_peer *peers = NULL;
    const char *query =
        evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    enum tr_fanout_kind kind;
    size_t n, i;
    int started = 0;

    if (c->broker->cluster == NULL ||
        (query != NULL && strstr(query, "scope=local") != NULL)) {
        return 0;
    }
    if (strcmp(path, "/api/groups") == 0) {
        kind = TR_FANOUT_GROUPS;
    } else if (strcmp(path, "/api/topics") == 0) {
        kind = TR_FANOUT_TOPICS;
    } else {
        return 0;
    }
    n = tr_cluster_http_peers(c->broker->cluster, &found);
    peers = n > 0 ? tr_calloc(n, sizeof(*peers)) : NULL;
    for (i = 0; peers != NULL && i < n; i++) {
        peers[i].id = found[i].id;
        snprintf(peers[i].addr, sizeof(peers[i].addr), "%s", found[i].addr);
    }
    for (i = 0; peers != NULL && i < n; i++) {
        if (strncmp(peers[i].addr, "https://", 8) == 0 &&
            c->client_tls == NULL && !c->client_tls_failed) {
            char errbuf[256];
            c->client_tls =
                tr_tls_client_ctx_new(c->broker->cfg, errbuf, sizeof(errbuf));
            if (c->client_tls == NULL) {
                c->client_tls_failed = 1;
                tr_log_warn("http.listener: cannot ask the other collectors' "
                            "HTTPS consoles: %s",
                            errbuf);
            }
        }
    }
    if (peers != NULL) {
        started = tr_fanout_start(c->base, c->client_tls, req, kind, body,
                                  peers, n, c->broker->node_id);
    }
    tr_free(peers);
    tr_free(found);
    return started;
#else
    (void)c;
    (void)req;
    (void)path;
    (void)body;
    return 0;
#endif
}

static int
on_request(void *arg, struct evhttp_request *req, const char *path)
{
    struct tr_console *c = arg;
    struct tr_jsonapi_ctx ctx;
    struct evbuffer *body;
    char host[TR_ACL_HOST_MAX];
    size_t i;
    int status = 404;

    if (strncmp(path, "/api/", 5) != 0) {
        return serve_asset(req, path);
    }
    body = evbuffer_new();
    if (body == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return 1;
    }
    peer_host(req, host, sizeof(host));
    ctx.broker = c->broker;
    ctx.hist = c->hist;
    ctx.errors = c->errors;
    ctx.principal = c->principal;
    ctx.host = host;
    ctx.now_ms = tr_clock_wall_ms();
    for (i = 0; i < sizeof(api_paths) / sizeof(api_paths[0]); i++) {
        if (strcmp(path, api_paths[i].path) == 0) {
            status = api_paths[i].write(&ctx, body);
            break;
        }
    }
    if (status == 200 && gather(c, req, path, body)) {
        return 1; /* answered once the other collectors have */
    }
    if (i == sizeof(api_paths) / sizeof(api_paths[0])) {
        tr_jsonapi_error(body, "no such path in the API (docs/operations.md)");
    }
    reply_json(req, status, body);
    evbuffer_free(body);
    return 1;
}

static void
sample_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_console *c = arg;

    (void)fd;
    (void)what;
    tr_jsonapi_sample_lag(c->broker, c->hist, tr_clock_wall_ms());
}

tr_err_t
tr_console_new(struct tr_broker *broker, struct event_base *base,
               struct tr_metrics *http, struct tr_logring *errors, int auth,
               struct tr_console **out)
{
    struct tr_console *c = tr_calloc(1, sizeof(*c));
    struct timeval every = { TR_LAGHIST_INTERVAL_MS / 1000,
                             (TR_LAGHIST_INTERVAL_MS % 1000) * 1000 };
    tr_err_t err = TR_ERR_NOMEM;

    if (c == NULL) {
        goto out;
    }
    c->broker = broker;
    c->base = base;
    c->errors = errors;
    c->auth = auth;
    c->hist = tr_laghist_new(TR_LAGHIST_SAMPLES, TR_LAGHIST_GROUPS);
    c->sample = event_new(base, -1, EV_PERSIST, sample_cb, c);
    if (c->hist == NULL || c->sample == NULL) {
        goto out;
    }
    event_add(c->sample, &every);
    tr_jsonapi_sample_lag(broker, c->hist, tr_clock_wall_ms());
    tr_metrics_set_handler(http, on_auth, on_request, c);
    *out = c;
    c = NULL;
    err = TR_OK;
out:
    tr_console_free(c);
    return err;
}

void
tr_console_free(struct tr_console *c)
{
    if (c == NULL) {
        return;
    }
    if (c->sample != NULL) {
        event_free(c->sample);
    }
    SSL_CTX_free(c->client_tls);
    tr_laghist_free(c->hist);
    tr_free(c);
}

int
tr_console_auth_wanted(const char *setting, int any_sasl)
{
    if (setting == NULL || strcmp(setting, "auto") == 0) {
        return any_sasl;
    }
    if (strcmp(setting, "basic") == 0) {
        return 1;
    }
    if (strcmp(setting, "none") == 0) {
        return 0;
    }
    return -1;
}
