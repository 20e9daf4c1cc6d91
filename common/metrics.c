/*
 * metrics -- HTTP listener for /metrics and check paths, and the
 * Prometheus text format (see metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"

struct tr_metrics {
    struct evhttp *http;
    tr_metrics_render_cb *render;
    const struct tr_metrics_check *checks;
    size_t nchecks;
    void *arg;
    tr_metrics_auth_cb *auth;
    tr_metrics_handler_cb *handler;
    void *handler_arg;
    int port;
};

/* The longest path routed; longer ones get 404 (or 414 from evhttp). */
#define PATH_MAX_LEN 512

/*
 * Bucket upper bounds in microseconds (integers, so observing does no
 * floating point): request latencies from sub-ms to 10 s.
 */
static const int64_t hist_bounds_us[TR_METRICS_HIST_BUCKETS] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct tr_metrics *m = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    char path[PATH_MAX_LEN];
    size_t i, n = strcspn(uri, "?#");

    if (out == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        /* evhttp_send_error would drop the Allow header */
        evhttp_add_header(h, "Allow", "GET, HEAD");
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(out, "method not allowed: read-only\n");
        evhttp_send_reply(req, 405, "Method Not Allowed", out);
        goto out;
    }
    if (n >= sizeof(path)) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        goto out;
    }
    memcpy(path, uri, n);
    path[n] = '\0';
    if (m->auth != NULL && !m->auth(m->handler_arg, req, path)) {
        goto out;
    }
    if (strcmp(path, "/metrics") == 0) {
        evhttp_add_header(h, "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        m->render(m->arg, out);
        evhttp_send_reply(req, HTTP_OK, "OK", out);
        goto out;
    }
    for (i = 0; i < m->nchecks; i++) {
        if (strcmp(path, m->checks[i].path) == 0) {
            evhttp_add_header(h, "Content-Type",
                              m->checks[i].content_type != NULL
                                  ? m->checks[i].content_type
                                  : "text/plain; charset=utf-8");
            int ok = m->checks[i].cb(m->arg, out);
            evhttp_send_reply(req, ok ? HTTP_OK : 503,
                              ok ? "OK" : "Service Unavailable", out);
            goto out;
        }
    }
    if (m->handler != NULL && m->handler(m->handler_arg, req, path)) {
        goto out;
    }
    evhttp_send_error(req, HTTP_NOTFOUND, NULL);
out:
    evbuffer_free(out);
}

/*
 * Binds and listens on host:port itself (rather than through evhttp) so
 * the caller learns why a bind failed: an address in use is an expected
 * outcome when two programs share a default port.
 */
static tr_err_t
bind_listen(const char *host, const char *port, const char *setting,
            const char *listen_addr, int *fd_out, char *errbuf, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    int fd = -1, one = 1, rc, saved;
    tr_err_t err = TR_ERR_IO;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(errbuf, errlen, "%s: cannot resolve '%s': %s", setting,
                 listen_addr, gai_strerror(rc));
        return TR_ERR_CONFIG;
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        saved = errno;
        snprintf(errbuf, errlen, "%s: cannot listen on %s: %s", setting,
                 listen_addr, strerror(saved));
        err = saved == EADDRINUSE ? TR_ERR_EXISTS : TR_ERR_IO;
        goto out;
    }
    *fd_out = fd;
    fd = -1;
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(ai);
    return err;
}

tr_err_t
tr_metrics_new(struct event_base *base, const char *listen_addr,
               const char *setting, tr_metrics_render_cb *render,
               const struct tr_metrics_check *checks, size_t nchecks, void *arg,
               struct tr_metrics **out, char *errbuf, size_t errlen)
{
    struct tr_metrics *m = tr_calloc(1, sizeof(*m));
    char host[256], port[8];
    int fd = -1;
    tr_err_t err = TR_ERR_NOMEM;

    if (m == NULL) {
        goto out;
    }
    m->render = render;
    m->checks = checks;
    m->nchecks = nchecks;
    m->arg = arg;
    const char *colon = strrchr(listen_addr, ':');
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == listen_addr ||
        (size_t)(colon - listen_addr) >= sizeof(host) || colon[1] == '\0' ||
        *end != '\0' || p < 0 || p > 65535) {
        snprintf(errbuf, errlen, "%s: expected host:port, got '%s'", setting,
                 listen_addr);
        err = TR_ERR_CONFIG;
        goto out;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    snprintf(port, sizeof(port), "%ld", p);
    err = bind_listen(host, port, setting, listen_addr, &fd, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    m->http = evhttp_new(base);
    if (m->http == NULL) {
        goto out;
    }
    evhttp_set_gencb(m->http, on_request, m);
    /* Nothing here reads a body; slow or huge requests are cut short. */
    evhttp_set_timeout(m->http, 30);
    evhttp_set_max_headers_size(m->http, 16384);
    evhttp_set_max_body_size(m->http, 65536);
    /* Every method reaches on_request, which answers 405 (evhttp: 501). */
    evhttp_set_allowed_methods(
        m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    m->port = (int)p;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            m->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            m->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    fd = -1; /* evhttp's now */
    *out = m;
    m = NULL;
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    tr_metrics_free(m);
    return err;
}

void
tr_metrics_free(struct tr_metrics *m)
{
    if (m == NULL) {
        return;
    }
    if (m->http != NULL) {
        evhttp_free(m->http);
    }
    tr_free(m);
}

void
tr_metrics_set_handler(struct tr_metrics *m, tr_metrics_auth_cb *auth,
                       tr_metrics_handler_cb *handler, void *arg)
{
    m->auth = auth;
    m->handler = handler;
    m->handler_arg = arg;
}

void
tr_metrics_set_bevcb(struct tr_metrics *m, tr_metrics_bev_cb *cb, void *arg)
{
    evhttp_set_bevcb(m->http, cb, arg);
}

int
tr_metrics_port(const struct tr_metrics *m)
{
    return m->port;
}

void
tr_metrics_family(struct evbuffer *out, const char *name, const char *type,
                  const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type);
}

static void
put_label_value(struct evbuffer *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"') {
            evbuffer_add_printf(out, "\\%c", *p);
        } else if (*p == '\n') {
            evbuffer_add(out, "\\n", 2);
        } else {
            evbuffer_add(out, p, 1);
        }
    }
}

void
tr_metrics_sample_n(struct evbuffer *out, const char *name, size_t nlabels,
                    const char *const *kv, double value)
{
    size_t i;

    evbuffer_add_printf(out, "%s", name);
    for (i = 0; i < nlabels; i++) {
        evbuffer_add_printf(out, "%s%s=\"", i == 0 ? "{" : ",", kv[2 * i]);
        put_label_value(out, kv[2 * i + 1]);
        evbuffer_add(out, "\"", 1);
    }
    if (value == (double)(int64_t)value && value < 9007199254740992.0 &&
        value > -9007199254740992.0) {
        /* integers (most counters and gauges) exactly, without exponent */
        evbuffer_add_printf(out, "%s %" PRId64 "\n", nlabels > 0 ? "}" : "",
                            (int64_t)value);
    } else {
        evbuffer_add_printf(out, "%s %.17g\n", nlabels > 0 ? "}" : "", value);
    }
}

void
tr_metrics_sample(struct evbuffer *out, const char *name, const char *label,
                  const char *label_value, double value)
{
    const char *kv[2] = { label, label_value };

    tr_metrics_sample_n(out, name, label != NULL ? 1 : 0, kv, value);
}

double
tr_metrics_hist_bound(size_t i)
{
    return i < TR_METRICS_HIST_BUCKETS ? (double)hist_bounds_us[i] / 1e6 : 0;
}

void
tr_metrics_hist_observe(struct tr_metrics_hist *h, int64_t us)
{
    size_t i = 0;

    if (us < 0) {
        us = 0;
    }
    while (i < TR_METRICS_HIST_BUCKETS && us > hist_bounds_us[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

uint64_t
tr_metrics_hist_count(const struct tr_metrics_hist *h)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i <= TR_METRICS_HIST_BUCKETS; i++) {
        n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    }
    return n;
}

void
tr_metrics_hist_write(struct evbuffer *out, const char *name, const char *label,
                      const char *label_value, const struct tr_metrics_hist *h)
{
    char n[256], le[32];
    const char *kv[4] = { label, label_value, "le", le };
    const char *const *lkv = label != NULL ? kv : kv + 2;
    size_t nl = label != NULL ? 2 : 1, i;
    uint64_t cum = 0;

    snprintf(n, sizeof(n), "%s_bucket", name);
    for (i = 0; i <= TR_METRICS_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < TR_METRICS_HIST_BUCKETS) {
            snprintf(le, sizeof(le), "%g", tr_metrics_hist_bound(i));
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        tr_metrics_sample_n(out, n, nl, lkv, (double)cum);
    }
    snprintf(n, sizeof(n), "%s_sum", name);
    tr_metrics_sample_n(
        out, n, nl - 1, lkv,
        (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    snprintf(n, sizeof(n), "%s_count", name);
    tr_metrics_sample_n(out, n, nl - 1, lkv, (double)cum);
}
