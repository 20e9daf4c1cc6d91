/*
 * metrics -- the agent's optional HTTP listener: GET /metrics (Prometheus
 * text format 0.0.4) and GET /health, on libevent's evhttp and the agent's
 * own event_base.
 *
 * The agent owns the numbers; this module owns the listener and the text
 * format, so a render callback writes families through tr_metrics_family()
 * and tr_metrics_sample().
 */
#ifndef TR_AGENT_METRICS_H
#define TR_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct evbuffer;
struct tr_metrics;

/* Writes every metric into 'out'. */
typedef void tr_metrics_render_cb(void *arg, struct evbuffer *out);
/* Returns 1 when healthy; writes a one-line reason into 'out' either way. */
typedef int tr_metrics_health_cb(void *arg, struct evbuffer *out);

/*
 * Listens on 'listen' ("host:port"; port 0 picks one) and returns an owned
 * listener in *out. TR_ERR_IO with errbuf naming the address if the bind
 * fails; TR_ERR_CONFIG if 'listen' does not parse.
 */
tr_err_t tr_metrics_new(struct event_base *base, const char *listen,
                        tr_metrics_render_cb *render,
                        tr_metrics_health_cb *health, void *arg,
                        struct tr_metrics **out, char *errbuf, size_t errlen);
void tr_metrics_free(struct tr_metrics *m);
/* The port bound (useful with port 0). */
int tr_metrics_port(const struct tr_metrics *m);

/* Writes the # HELP and # TYPE lines of a family ('type': counter/gauge). */
void tr_metrics_family(struct evbuffer *out, const char *name, const char *type,
                       const char *help);
/*
 * Writes one sample; 'label' and 'label_value' may be NULL. The value is
 * escaped as the text format requires.
 */
void tr_metrics_sample(struct evbuffer *out, const char *name,
                       const char *label, const char *label_value,
                       double value);

#endif /* TR_AGENT_METRICS_H */
