/*
 * console -- the collector's web console and JSON API on the HTTP listener
 * (http.listener; metrics/stats.h owns the socket and serves /metrics,
 * /healthz and /readyz).
 *
 *   GET /                  the console (index.html; console.css,
 *                          console.js), embedded at build time (assets.h)
 *   GET /api/cluster       brokers, controller, counts (jsonapi.h)
 *   GET /api/topics        topics, partitions, leaders, ISR, offsets, sizes
 *   GET /api/groups        groups, lag per partition, lag over the last hour
 *   GET /api/errors        the last WARN and ERROR log lines
 *   GET /api/agents        the fleet (metrics/fleet.c), read by the page
 *
 * Read-only: other methods get 405. With http.auth on (by default when a
 * listener speaks SASL) every path but /metrics, /healthz and /readyz
 * needs HTTP Basic credentials of a SCRAM user (httpauth.h); the documents
 * show what that user ("User:NAME") may DESCRIBE. Without it requests are
 * "User:ANONYMOUS", as a PLAINTEXT client is. A timer samples every
 * group's lag for the chart (laghist.h). Main thread only.
 */
#ifndef TR_CONSOLE_H
#define TR_CONSOLE_H

#include "err.h"

struct event_base;
struct tr_broker;
struct tr_logring;
struct tr_metrics;
struct tr_console;

/*
 * Serves the console on 'http' (borrowed; the console must be freed after
 * it, or before it serves again). 'broker' and 'errors' (the WARN/ERROR
 * ring; may be NULL) are borrowed. 'auth': 1 to require Basic credentials.
 * Returns an owned console in *out.
 */
tr_err_t tr_console_new(struct tr_broker *broker, struct event_base *base,
                        struct tr_metrics *http, struct tr_logring *errors,
                        int auth, struct tr_console **out);
/* NULL is a no-op. */
void tr_console_free(struct tr_console *c);

/*
 * Whether http.auth's value 'setting' ("auto", "basic" or "none") turns
 * authentication on for a collector whose listeners include a SASL one
 * ('any_sasl'): "auto" follows the listeners. -1 for another value.
 */
int tr_console_auth_wanted(const char *setting, int any_sasl);

#endif /* TR_CONSOLE_H */
