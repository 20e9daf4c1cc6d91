/*
 * throttle -- a byte-rate budget for replication traffic; see throttle.h.
 */
#include "throttle.h"

static int
unlimited(int64_t rate)
{
    return rate <= 0 || rate == INT64_MAX;
}

void
tr_throttle_init(struct tr_throttle *t, int64_t rate)
{
    pthread_mutex_init(&t->lock, NULL);
    t->rate = rate;
    t->tokens = unlimited(rate) ? 0 : (double)rate;
    t->last_ms = -1;
    t->total = 0;
}

void
tr_throttle_cleanup(struct tr_throttle *t)
{
    pthread_mutex_destroy(&t->lock);
}

void
tr_throttle_set_rate(struct tr_throttle *t, int64_t rate)
{
    pthread_mutex_lock(&t->lock);
    if (t->rate != rate) {
        t->rate = rate;
        t->tokens = unlimited(rate) ? 0 : (double)rate;
    }
    pthread_mutex_unlock(&t->lock);
}

int64_t
tr_throttle_rate(struct tr_throttle *t)
{
    int64_t rate;

    pthread_mutex_lock(&t->lock);
    rate = t->rate;
    pthread_mutex_unlock(&t->lock);
    return rate;
}

/* Adds what the time since the last call earned, up to one second's worth. */
static void
refill(struct tr_throttle *t, int64_t now_ms)
{
    if (t->last_ms >= 0 && now_ms > t->last_ms) {
        t->tokens += (double)t->rate * (double)(now_ms - t->last_ms) / 1000.0;
        if (t->tokens > (double)t->rate) {
            t->tokens = (double)t->rate;
        }
    }
    t->last_ms = now_ms;
}

int
tr_throttle_allow(struct tr_throttle *t, int64_t now_ms)
{
    int ok;

    pthread_mutex_lock(&t->lock);
    if (unlimited(t->rate)) {
        ok = 1;
    } else {
        refill(t, now_ms);
        ok = t->tokens > 0;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void
tr_throttle_record(struct tr_throttle *t, int64_t bytes, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    t->total += bytes;
    if (!unlimited(t->rate)) {
        refill(t, now_ms);
        t->tokens -= (double)bytes;
    }
    pthread_mutex_unlock(&t->lock);
}
