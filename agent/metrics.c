/*
 * metrics -- HTTP listener for /metrics and /health (see metrics.h).
 */
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"

struct tr_metrics {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    tr_metrics_render_cb *render;
    tr_metrics_health_cb *health;
    void *arg;
    int port;
};

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct tr_metrics *m = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    if (out == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "Method Not Allowed");
    } else if (strcmp(uri, "/metrics") == 0) {
        evhttp_add_header(h, "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        m->render(m->arg, out);
        evhttp_send_reply(req, HTTP_OK, "OK", out);
    } else if (strcmp(uri, "/health") == 0) {
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        int ok = m->health(m->arg, out);
        evhttp_send_reply(req, ok ? HTTP_OK : 503,
                          ok ? "OK" : "Service Unavailable", out);
    } else {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
    }
    evbuffer_free(out);
}

tr_err_t
tr_metrics_new(struct event_base *base, const char *listen,
               tr_metrics_render_cb *render, tr_metrics_health_cb *health,
               void *arg, struct tr_metrics **out, char *errbuf, size_t errlen)
{
    struct tr_metrics *m = tr_calloc(1, sizeof(*m));
    char host[256];
    tr_err_t err = TR_ERR_NOMEM;

    if (m == NULL) {
        goto out;
    }
    m->render = render;
    m->health = health;
    m->arg = arg;
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == listen ||
        (size_t)(colon - listen) >= sizeof(host) || *end != '\0' || port < 0 ||
        port > 65535) {
        snprintf(errbuf, errlen, "metrics_listen: expected host:port, got '%s'",
                 listen);
        err = TR_ERR_CONFIG;
        goto out;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    m->http = evhttp_new(base);
    if (m->http == NULL) {
        goto out;
    }
    evhttp_set_gencb(m->http, on_request, m);
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_POST);
    m->sock = evhttp_bind_socket_with_handle(m->http, host, (uint16_t)port);
    if (m->sock == NULL) {
        snprintf(errbuf, errlen, "metrics_listen: cannot bind %s", listen);
        err = TR_ERR_IO;
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    m->port = (int)port;
    if (getsockname(evhttp_bound_socket_get_fd(m->sock), (struct sockaddr *)&ss,
                    &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            m->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            m->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    *out = m;
    m = NULL;
    err = TR_OK;
out:
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

void
tr_metrics_sample(struct evbuffer *out, const char *name, const char *label,
                  const char *label_value, double value)
{
    if (label == NULL) {
        evbuffer_add_printf(out, "%s %.17g\n", name, value);
        return;
    }
    evbuffer_add_printf(out, "%s{%s=\"", name, label);
    for (const char *p = label_value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            evbuffer_add_printf(out, "\\%c", *p);
        } else if (*p == '\n') {
            evbuffer_add(out, "\\n", 2);
        } else {
            evbuffer_add(out, p, 1);
        }
    }
    evbuffer_add_printf(out, "\"} %.17g\n", value);
}
