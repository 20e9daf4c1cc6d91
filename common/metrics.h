/*
 * metrics -- an HTTP listener for Prometheus scrapes and health checks, and
 * the Prometheus text format (0.0.4) writer, shared by the collector and
 * the agent.
 *
 * The listener is libevent's evhttp on the caller's event_base: GET
 * /metrics calls the render callback, which writes families with
 * tr_metrics_family() and samples with tr_metrics_sample*(); each check
 * path (/health, /healthz, /readyz, ...) calls its callback and answers
 * 200 or 503. Any other path goes to the program's handler, if it set
 * one (tr_metrics_set_handler: the collector's console and JSON API),
 * after its authentication hook. Only GET and HEAD are served; any other
 * method gets 405 with "Allow: GET, HEAD". The program owns the numbers;
 * this module owns the sockets and the format. Latency histograms (struct
 * tr_metrics_hist) are lock-free so hot paths can observe into them from any
 * thread.
 */
#ifndef TR_METRICS_H
#define TR_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct evbuffer;
struct evhttp_request;
struct bufferevent;
struct tr_metrics;

/* Writes every metric into 'out'. */
typedef void tr_metrics_render_cb(void *arg, struct evbuffer *out);
/* Returns 1 when the check passes; writes a one-line reason into 'out'. */
typedef int tr_metrics_health_cb(void *arg, struct evbuffer *out);

/*
 * A check path served besides /metrics; also the way to serve a small
 * read-only JSON document (content_type "application/json", the callback
 * returning 1).
 */
struct tr_metrics_check {
    const char *path; /* "/healthz" */
    tr_metrics_health_cb *cb;
    const char *content_type; /* NULL: text/plain; charset=utf-8 */
};

/*
 * Listens on 'listen' ("host:port"; port 0 picks one) and returns an owned
 * listener in *out. 'checks' (borrowed, kept) lists the check paths.
 * 'setting' names the setting 'listen' came from, for errbuf. Errors:
 * TR_ERR_CONFIG if 'listen' does not parse or resolve; TR_ERR_EXISTS if
 * the address is in use (another process on the port); TR_ERR_IO for any
 * other bind failure.
 */
tr_err_t tr_metrics_new(struct event_base *base, const char *listen,
                        const char *setting, tr_metrics_render_cb *render,
                        const struct tr_metrics_check *checks, size_t nchecks,
                        void *arg, struct tr_metrics **out, char *errbuf,
                        size_t errlen);
void tr_metrics_free(struct tr_metrics *m);

/*
 * Decides whether 'req' for 'path' (the URI without its query) may be
 * served: returns 1 to go on, or 0 after answering it itself (401). Called
 * for every GET or HEAD, /metrics and the check paths included, so the
 * program chooses which paths stay open.
 */
typedef int tr_metrics_auth_cb(void *arg, struct evhttp_request *req,
                               const char *path);
/*
 * Answers 'req' for 'path', a path neither /metrics nor a check path;
 * returns 0 when it does not know the path (the listener answers 404).
 */
typedef int tr_metrics_handler_cb(void *arg, struct evhttp_request *req,
                                  const char *path);
/*
 * Sets the authentication hook and the handler of other paths (either
 * may be NULL); 'arg' is borrowed and must outlive 'm'.
 */
void tr_metrics_set_handler(struct tr_metrics *m, tr_metrics_auth_cb *auth,
                            tr_metrics_handler_cb *handler, void *arg);
/*
 * Makes the bufferevent of each accepted connection with 'cb' (an OpenSSL
 * one for HTTPS) instead of a plain socket one; 'arg' is borrowed and must
 * outlive 'm'. A NULL from 'cb' (no memory) makes evhttp fall back to a
 * plain bufferevent, on which a TLS client's hello fails to parse (400).
 */
typedef struct bufferevent *tr_metrics_bev_cb(struct event_base *base,
                                              void *arg);
void tr_metrics_set_bevcb(struct tr_metrics *m, tr_metrics_bev_cb *cb,
                          void *arg);

/* The port bound (useful with port 0). */
int tr_metrics_port(const struct tr_metrics *m);

/* Writes the # HELP and # TYPE lines of a family ('type': counter/gauge). */
void tr_metrics_family(struct evbuffer *out, const char *name, const char *type,
                       const char *help);
/*
 * Writes one sample; 'label' and 'label_value' may be NULL. The label value
 * is escaped as the text format requires.
 */
void tr_metrics_sample(struct evbuffer *out, const char *name,
                       const char *label, const char *label_value,
                       double value);
/*
 * Writes one sample with 'nlabels' labels: 'kv' holds name, value, name,
 * value, ... (2 * nlabels strings).
 */
void tr_metrics_sample_n(struct evbuffer *out, const char *name, size_t nlabels,
                         const char *const *kv, double value);

/*
 * A latency histogram with fixed buckets (tr_metrics_hist_bound: 0.5 ms
 * to 10 s), kept as relaxed atomics: observing is two atomic adds (its
 * bucket, the sum) and takes no lock; the count is the buckets' total.
 * Zero-initialise it.
 */
#define TR_METRICS_HIST_BUCKETS 14
struct tr_metrics_hist {
    /* not cumulative; the last one past the highest bound (+Inf) */
    atomic_uint_least64_t bucket[TR_METRICS_HIST_BUCKETS + 1];
    atomic_uint_least64_t sum_us;
};
/* The upper bound of bucket i in seconds (i < TR_METRICS_HIST_BUCKETS). */
double tr_metrics_hist_bound(size_t i);
/* Counts one observation of 'us' microseconds. */
void tr_metrics_hist_observe(struct tr_metrics_hist *h, int64_t us);
/* The number of observations so far. */
uint64_t tr_metrics_hist_count(const struct tr_metrics_hist *h);
/*
 * Writes the _bucket (cumulative, with le="+Inf"), _sum (seconds) and
 * _count samples of 'h' under 'name' with one label (may be NULL). The
 * caller writes the family line (type "histogram") once before.
 */
void tr_metrics_hist_write(struct evbuffer *out, const char *name,
                           const char *label, const char *label_value,
                           const struct tr_metrics_hist *h);

#endif /* TR_METRICS_H */
