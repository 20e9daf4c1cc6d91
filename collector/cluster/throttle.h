/*
 * throttle -- a byte-rate budget for replication traffic
 * (leader.replication.throttled.rate, follower.replication.throttled.rate).
 *
 * A token bucket holding at most one second of the rate: a sender may go on
 * while the balance is positive and records what it sent afterwards, so a
 * large fetch overdraws the bucket and the next one waits until it has
 * refilled. Averaged over a few seconds the traffic stays at the rate, and
 * a partition is never cut in the middle of a batch. The fetchers of the
 * follower side share one; the leader's fetch handlers share another.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef TR_THROTTLE_H
#define TR_THROTTLE_H

#include <pthread.h>
#include <stdint.h>

struct tr_throttle {
    pthread_mutex_t lock;
    int64_t rate;  /* bytes per second; <= 0 or INT64_MAX: unlimited */
    double tokens; /* bytes that may still go; negative after overdraw */
    int64_t last_ms;
    int64_t total; /* bytes recorded, for logs and tests */
};

void tr_throttle_init(struct tr_throttle *t, int64_t rate);
void tr_throttle_cleanup(struct tr_throttle *t);
/* Changes the rate (a setting changed at run time). */
void tr_throttle_set_rate(struct tr_throttle *t, int64_t rate);
int64_t tr_throttle_rate(struct tr_throttle *t);
/* 1 when throttled traffic may be sent now (always when unlimited). */
int tr_throttle_allow(struct tr_throttle *t, int64_t now_ms);
/* Records 'bytes' of throttled traffic sent. */
void tr_throttle_record(struct tr_throttle *t, int64_t bytes, int64_t now_ms);

#endif /* TR_THROTTLE_H */
