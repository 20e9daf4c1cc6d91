/*
 * ship -- hands records to the producer and brings acknowledgements back.
 *
 * Every record gets a slot in the in-flight pool (inflight.h) whose token
 * is the producer's opaque pointer; the delivery callback releases it and
 * tells the agent which file queue may have advanced. Backpressure: when
 * the pool is empty or the producer's buffer is full, tr_ship_send returns
 * TR_ERR_AGAIN and the agent stops reading until tr_ship_blocked() turns 0
 * again, which happens once half of what was pending has been reported.
 * So memory in flight is bounded however long the collector is away.
 */
#ifndef TR_AGENT_SHIP_H
#define TR_AGENT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "err.h"
#include "inflight.h"

struct event_base;
struct tr_ship;

/*
 * Called for each record reported: 'q' is its queue (committed may have
 * moved); 'ok' is 0 when it failed for good and must be read again.
 */
typedef void tr_ship_done_cb(void *arg, struct tr_inflight_queue *q, int ok);

/* Counters, for metrics. */
struct tr_ship_stats {
    uint64_t sent, acked, failed, dropped_too_large;
};

/* Returns an owned shipper in *out; 'conf' and 'base' are borrowed. */
tr_err_t tr_ship_new(struct event_base *base, const struct tr_agent_conf *conf,
                     tr_ship_done_cb *cb, void *arg, struct tr_ship **out);
/* Reports every pending record as failed (TR_ERR_CLOSED), then frees. */
void tr_ship_free(struct tr_ship *s);

/*
 * Sends one record for queue 'q' ending at file offset 'end'. Key (NULL:
 * none), value and headers are copied. TR_ERR_AGAIN: full, try after an
 * acknowledgement. TR_ERR_TOO_LARGE: the record can never be sent (counted
 * and treated as done).
 */
tr_err_t tr_ship_send(struct tr_ship *s, struct tr_inflight_queue *q,
                      uint64_t end, const char *topic, const void *key,
                      size_t key_len, const void *value, size_t value_len,
                      const struct tr_record_header *headers, int nheaders,
                      int64_t timestamp_ms);

/* 1 while sends are refused (backpressure). */
int tr_ship_blocked(struct tr_ship *s);
size_t tr_ship_pending(const struct tr_ship *s);
size_t tr_ship_buffered_bytes(const struct tr_ship *s);
int tr_ship_connected(const struct tr_ship *s);
void tr_ship_flush(struct tr_ship *s);
void tr_ship_stats(const struct tr_ship *s, struct tr_ship_stats *out);

#endif /* TR_AGENT_SHIP_H */
