/*
 * waits -- a hash of (topic, partition) keys to parked waiters.
 *
 * Parked requests are few compared with appends, so notify first checks an
 * atomic count of registered keys and returns without locking when there
 * are none: the common produce path pays one atomic load.
 */
#include "waits.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/queue.h>

#include "alloc.h"

#define WAITS_BUCKETS 1024

struct watch {
    LIST_ENTRY(watch) bucket_link; /* in the bucket */
    SLIST_ENTRY(watch) owner_link; /* in the waiter */
    struct tr_waiter *waiter;
    int32_t partition;
    unsigned hash;
    char topic[]; /* NUL-terminated */
};

LIST_HEAD(watch_list, watch);

struct tr_waits {
    pthread_mutex_t lock;
    atomic_long nwatches;
    struct watch_list buckets[WAITS_BUCKETS];
};

struct tr_waiter {
    struct tr_waits *waits;
    struct event *wake;
    SLIST_HEAD(, watch) watches;
};

static unsigned
key_hash(const char *topic, int32_t partition)
{
    unsigned h = 2166136261u; /* FNV-1a */

    while (*topic) {
        h = (h ^ (unsigned char)*topic++) * 16777619u;
    }
    return (h ^ (unsigned)partition) * 16777619u;
}

struct tr_waits *
tr_waits_new(void)
{
    struct tr_waits *waits = tr_calloc(1, sizeof(*waits));
    size_t i;

    if (waits == NULL) {
        return NULL;
    }
    pthread_mutex_init(&waits->lock, NULL);
    for (i = 0; i < WAITS_BUCKETS; i++) {
        LIST_INIT(&waits->buckets[i]);
    }
    return waits;
}

void
tr_waits_free(struct tr_waits *waits)
{
    if (waits == NULL) {
        return;
    }
    pthread_mutex_destroy(&waits->lock);
    tr_free(waits);
}

struct tr_waiter *
tr_waiter_new(struct tr_waits *waits, struct event *wake)
{
    struct tr_waiter *w = tr_calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->waits = waits;
    w->wake = wake;
    SLIST_INIT(&w->watches);
    return w;
}

tr_err_t
tr_waiter_watch(struct tr_waiter *w, const char *topic, int32_t partition)
{
    size_t len = strlen(topic);
    struct watch *watch = tr_malloc(sizeof(*watch) + len + 1);

    if (watch == NULL) {
        return TR_ERR_NOMEM;
    }
    memcpy(watch->topic, topic, len + 1);
    watch->partition = partition;
    watch->waiter = w;
    watch->hash = key_hash(topic, partition);
    pthread_mutex_lock(&w->waits->lock);
    LIST_INSERT_HEAD(&w->waits->buckets[watch->hash % WAITS_BUCKETS], watch,
                     bucket_link);
    SLIST_INSERT_HEAD(&w->watches, watch, owner_link);
    atomic_fetch_add(&w->waits->nwatches, 1);
    pthread_mutex_unlock(&w->waits->lock);
    return TR_OK;
}

/* Caller holds waits->lock. */
static void
cancel_locked(struct tr_waiter *w)
{
    struct watch *watch;

    while ((watch = SLIST_FIRST(&w->watches)) != NULL) {
        SLIST_REMOVE_HEAD(&w->watches, owner_link);
        LIST_REMOVE(watch, bucket_link);
        atomic_fetch_sub(&w->waits->nwatches, 1);
        tr_free(watch);
    }
}

void
tr_waiter_cancel(struct tr_waiter *w)
{
    if (SLIST_EMPTY(&w->watches)) {
        return;
    }
    pthread_mutex_lock(&w->waits->lock);
    cancel_locked(w);
    pthread_mutex_unlock(&w->waits->lock);
}

void
tr_waiter_free(struct tr_waiter *w)
{
    if (w == NULL) {
        return;
    }
    tr_waiter_cancel(w);
    tr_free(w);
}

void
tr_waits_notify(struct tr_waits *waits, const char *topic, int32_t partition)
{
    unsigned hash;
    struct watch *watch, *next;

    if (atomic_load_explicit(&waits->nwatches, memory_order_acquire) == 0) {
        return;
    }
    hash = key_hash(topic, partition);
    pthread_mutex_lock(&waits->lock);
    watch = LIST_FIRST(&waits->buckets[hash % WAITS_BUCKETS]);
    while (watch != NULL) {
        next = LIST_NEXT(watch, bucket_link);
        if (watch->hash == hash && watch->partition == partition &&
            strcmp(watch->topic, topic) == 0) {
            struct tr_waiter *w = watch->waiter;

            /* The waiter's other watches may include 'next': restart. */
            event_active(w->wake, EV_READ, 0);
            cancel_locked(w);
            next = LIST_FIRST(&waits->buckets[hash % WAITS_BUCKETS]);
        }
        watch = next;
    }
    pthread_mutex_unlock(&waits->lock);
}
