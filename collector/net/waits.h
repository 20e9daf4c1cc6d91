/*
 * waits -- parked requests woken by appends.
 *
 * A Fetch that finds fewer than MinBytes waits (long polling) until new
 * records arrive on one of its partitions or its MaxWaitMs passes; later,
 * acks=all produce requests will wait here for the high watermark. A waiter
 * watches (topic, partition) keys; tr_waits_notify(), called after every
 * append from whichever network thread did it, activates the waiter's
 * libevent event, which then runs on the waiter's own thread.
 *
 * Thread safety: every function may be called from any thread. After
 * tr_waiter_cancel() returns, the waiter's event is never activated again.
 */
#ifndef TR_WAITS_H
#define TR_WAITS_H

#include <stdint.h>

#include "err.h"

struct event;
struct tr_waits;
struct tr_waiter;

/*
 * The key watched by requests that wait for this broker's view of the
 * cluster to change (CreateTopics, DeleteTopics in a cluster): notified
 * with partition 0 after each LeaderAndIsr, UpdateMetadata or StopReplica
 * is applied. Not a legal topic name, so it meets no real partition.
 */
#define TR_WAITS_METADATA "\001metadata"

/* Returns an owned registry (free with tr_waits_free) or NULL. */
struct tr_waits *tr_waits_new(void);
void tr_waits_free(struct tr_waits *waits);

/*
 * Returns an owned waiter that activates 'wake' (borrowed; it must outlive
 * the waiter's registration) when notified.
 */
struct tr_waiter *tr_waiter_new(struct tr_waits *waits, struct event *wake);
/* Adds a key; the waiter is armed once it watches at least one key. */
tr_err_t tr_waiter_watch(struct tr_waiter *w, const char *topic,
                         int32_t partition);
/* Unregisters every key; idempotent. */
void tr_waiter_cancel(struct tr_waiter *w);
/* Cancels and frees; NULL is a no-op. */
void tr_waiter_free(struct tr_waiter *w);

/* Wakes (and unregisters) every waiter watching (topic, partition). */
void tr_waits_notify(struct tr_waits *waits, const char *topic,
                     int32_t partition);

#endif /* TR_WAITS_H */
