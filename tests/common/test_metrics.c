/*
 * test_metrics -- the Prometheus text format writer (families, label
 * escaping, several labels, number formatting), the latency histogram
 * (bucket boundaries, cumulative buckets, +Inf, sum and count) and the
 * listener's start-up errors (an unparsable address, a port in use), and
 * its routing over a real socket: 405 with Allow for other methods, the
 * authentication hook (which may answer itself), the handler of other
 * paths, 404 for what nobody knows, and a query string ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"

/* The evbuffer's contents as an owned NUL-terminated string. */
static char *
text(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);

    assert_non_null(s);
    evbuffer_copyout(b, s, n);
    s[n] = '\0';
    return s;
}

static void
test_family_and_samples(void **state)
{
    struct evbuffer *b = evbuffer_new();
    const char *kv[4] = { "topic", "logs", "partition", "3" };
    char *s;

    (void)state;
    tr_metrics_family(b, "x_total", "counter", "Things done.");
    tr_metrics_sample(b, "x_total", NULL, NULL, 42);
    tr_metrics_sample(b, "x_total", "topic", "a\"b\\c\nd", 1.5);
    tr_metrics_sample_n(b, "y", 2, kv, -7);
    tr_metrics_sample(b, "z", NULL, NULL, 12345678901234.0);
    tr_metrics_sample(b, "w", NULL, NULL, 1e300);
    s = text(b);
    assert_string_equal(s, "# HELP x_total Things done.\n"
                           "# TYPE x_total counter\n"
                           "x_total 42\n"
                           "x_total{topic=\"a\\\"b\\\\c\\nd\"} 1.5\n"
                           "y{topic=\"logs\",partition=\"3\"} -7\n"
                           "z 12345678901234\n"
                           "w 1.0000000000000001e+300\n");
    free(s);
    evbuffer_free(b);
}

static void
test_histogram(void **state)
{
    struct tr_metrics_hist h;
    struct evbuffer *b = evbuffer_new();
    char *s;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_true(tr_metrics_hist_bound(0) == 0.0005);
    assert_true(tr_metrics_hist_bound(TR_METRICS_HIST_BUCKETS - 1) == 10);
    tr_metrics_hist_observe(&h, 100);      /* <= 0.5 ms */
    tr_metrics_hist_observe(&h, 500);      /* the bound itself: inclusive */
    tr_metrics_hist_observe(&h, 501);      /* <= 1 ms */
    tr_metrics_hist_observe(&h, 3000000);  /* <= 5 s */
    tr_metrics_hist_observe(&h, 60000000); /* past 10 s: +Inf only */
    tr_metrics_hist_observe(&h, -5);       /* clock step: counted as 0 */
    tr_metrics_hist_write(b, "lat_seconds", "api", "Fetch", &h);
    s = text(b);
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"0.0005\"} 3\n"));
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"0.001\"} 4\n"));
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"2.5\"} 4\n"));
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"5\"} 5\n"));
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"10\"} 5\n"));
    assert_non_null(
        strstr(s, "lat_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 6\n"));
    assert_non_null(
        strstr(s, "lat_seconds_sum{api=\"Fetch\"} 63.001100999999998\n"));
    assert_non_null(strstr(s, "lat_seconds_count{api=\"Fetch\"} 6\n"));
    free(s);
    evbuffer_free(b);

    /* Without a label. */
    b = evbuffer_new();
    tr_metrics_hist_write(b, "n", NULL, NULL, &h);
    s = text(b);
    assert_non_null(strstr(
        s, "n_bucket{le=\"+Inf\"} 6\nn_sum 63.001100999999998\nn_count 6\n"));
    free(s);
    evbuffer_free(b);
}

static void
render_nothing(void *arg, struct evbuffer *out)
{
    (void)arg;
    (void)out;
}

static void
test_listener_errors(void **state)
{
    struct event_base *base = event_base_new();
    struct tr_metrics *a = NULL, *b = NULL;
    char errbuf[256], addr[64];

    (void)state;
    assert_int_equal(tr_metrics_new(base, "127.0.0.1:0", "http.listener",
                                    render_nothing, NULL, 0, NULL, &a, errbuf,
                                    sizeof(errbuf)),
                     TR_OK);
    assert_true(tr_metrics_port(a) > 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tr_metrics_port(a));
    assert_int_equal(tr_metrics_new(base, addr, "http.listener", render_nothing,
                                    NULL, 0, NULL, &b, errbuf, sizeof(errbuf)),
                     TR_ERR_EXISTS);
    assert_null(b);
    assert_non_null(strstr(errbuf, "http.listener: cannot listen on"));
    assert_int_equal(tr_metrics_new(base, "nonsense", "http.listener",
                                    render_nothing, NULL, 0, NULL, &b, errbuf,
                                    sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_int_equal(tr_metrics_new(base, "127.0.0.1:99999", "x.y",
                                    render_nothing, NULL, 0, NULL, &b, errbuf,
                                    sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "x.y: expected host:port"));
    assert_int_equal(tr_metrics_new(base, "127.0.0.1:", "x.y", render_nothing,
                                    NULL, 0, NULL, &b, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    tr_metrics_free(a);
    event_base_free(base);
}

static void
render_one(void *arg, struct evbuffer *out)
{
    (void)arg;
    evbuffer_add_printf(out, "m 1\n");
}

/* Refuses every path that starts with /secret (401), lets the rest on. */
static int
auth_hook(void *arg, struct evhttp_request *req, const char *path)
{
    int *calls = arg;

    (*calls)++;
    if (strncmp(path, "/secret", 7) == 0) {
        evhttp_send_reply(req, 401, "Unauthorized", NULL);
        return 0;
    }
    return 1;
}

/* Knows /mine only. */
static int
handler(void *arg, struct evhttp_request *req, const char *path)
{
    struct evbuffer *out;

    (void)arg;
    if (strcmp(path, "/mine") != 0) {
        return 0;
    }
    out = evbuffer_new();
    evbuffer_add_printf(out, "handled\n");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    return 1;
}

/*
 * Sends 'request' to 127.0.0.1:port and runs 'base' until the listener
 * has answered and closed; returns the answer (static storage).
 */
static const char *
roundtrip(struct event_base *base, int port, const char *request)
{
    static char answer[4096];
    struct sockaddr_in sa;
    size_t n = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), i;

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, request, strlen(request)),
                     (ssize_t)strlen(request));
    for (i = 0; i < 2000; i++) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        ssize_t r;

        event_base_loop(base, EVLOOP_NONBLOCK);
        if (poll(&pfd, 1, 5) <= 0) {
            continue;
        }
        r = read(fd, answer + n, sizeof(answer) - 1 - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    answer[n] = '\0';
    return answer;
}

static void
test_routes_and_hooks(void **state)
{
    struct event_base *base = event_base_new();
    struct tr_metrics *m = NULL;
    char errbuf[256];
    const char *a;
    int calls = 0, port;

    (void)state;
    assert_int_equal(tr_metrics_new(base, "127.0.0.1:0", "http.listener",
                                    render_one, NULL, 0, NULL, &m, errbuf,
                                    sizeof(errbuf)),
                     TR_OK);
    port = tr_metrics_port(m);
    /* no hooks yet: /mine is unknown */
    a = roundtrip(base, port, "GET /mine HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, " 404 "));
    tr_metrics_set_handler(m, auth_hook, handler, &calls);
    a = roundtrip(base, port, "GET /mine?x=1 HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, "HTTP/1.0 200"));
    assert_non_null(strstr(a, "handled"));
    a = roundtrip(base, port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, "m 1"));
    a = roundtrip(base, port, "GET /secret HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, " 401 "));
    a = roundtrip(base, port, "GET /other HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, " 404 "));
    assert_int_equal(calls, 4);
    /* other methods: 405 before any hook, with Allow */
    a = roundtrip(base, port,
                  "POST /mine HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(a, " 405 "));
    assert_non_null(strstr(a, "Allow: GET, HEAD"));
    a = roundtrip(base, port, "DELETE /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(a, " 405 "));
    assert_int_equal(calls, 4);
    tr_metrics_free(m);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_listener_errors),
        cmocka_unit_test(test_routes_and_hooks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
