/*
 * agent -- the tailing runtime: discovers files, reads them, ships their
 * lines and keeps the registry of acknowledged positions.
 *
 * Everything runs on one event_base: inotify and the rescan timer (watch),
 * the producer (ship), a tick timer for timeouts, the registry timer and
 * the metrics listener. Reading is done in turns: each ready file gets up
 * to one buffer per turn, then the loop goes back to the event_base so
 * acknowledgements and timers are never starved.
 */
#ifndef TR_AGENT_AGENT_H
#define TR_AGENT_AGENT_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct event_base;
struct tr_agent;

/*
 * Builds an agent on 'base' (borrowed) from 'conf' (taken, freed by
 * tr_agent_free even on failure). Loads the registry, compiles the
 * patterns, starts the metrics listener and the producer, and scans the
 * globs once. errbuf says why on failure.
 */
tr_err_t tr_agent_new(struct event_base *base, struct tr_agent_conf *conf,
                      struct tr_agent **out, char *errbuf, size_t errlen);

/*
 * Replaces the inputs with those of 'conf' (taken). Positions are kept:
 * files stay tracked when an input of the same name still matches them.
 * The [output] and state_dir cannot change without a restart (a warning
 * says so). On error the old configuration stays and errbuf says why.
 */
tr_err_t tr_agent_reload(struct tr_agent *a, struct tr_agent_conf *conf,
                         char *errbuf, size_t errlen);

/*
 * Stops reading, flushes what is in flight (waiting at most 'timeout_ms'
 * for acknowledgements), writes the registry and exits the event loop.
 */
void tr_agent_shutdown(struct tr_agent *a, long timeout_ms);

/* Writes the registry now. */
tr_err_t tr_agent_save(struct tr_agent *a);

void tr_agent_free(struct tr_agent *a);

#endif /* TR_AGENT_AGENT_H */
