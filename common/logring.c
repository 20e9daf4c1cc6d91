/*
 * logring -- a fixed ring of recent WARN and ERROR lines (see logring.h).
 */
#include "logring.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

struct tr_logring {
    pthread_mutex_t lock;
    size_t cap;
    uint64_t pushed; /* lines ever pushed; the next goes to pushed % cap */
    struct tr_logring_entry *e;
};

struct tr_logring *
tr_logring_new(size_t cap)
{
    struct tr_logring *ring;

    if (cap == 0) {
        return NULL;
    }
    ring = tr_calloc(1, sizeof(*ring));
    if (ring == NULL) {
        return NULL;
    }
    ring->e = tr_calloc(cap, sizeof(*ring->e));
    if (ring->e == NULL) {
        tr_free(ring);
        return NULL;
    }
    ring->cap = cap;
    pthread_mutex_init(&ring->lock, NULL);
    return ring;
}

void
tr_logring_free(struct tr_logring *ring)
{
    if (ring == NULL) {
        return;
    }
    pthread_mutex_destroy(&ring->lock);
    tr_free(ring->e);
    tr_free(ring);
}

void
tr_logring_push(struct tr_logring *ring, enum tr_log_level level,
                int64_t time_ms, const char *text, size_t len)
{
    struct tr_logring_entry *e;

    if (len > TR_LOGRING_TEXT_MAX) {
        len = TR_LOGRING_TEXT_MAX;
    }
    pthread_mutex_lock(&ring->lock);
    e = &ring->e[ring->pushed % ring->cap];
    e->time_ms = time_ms;
    e->level = level;
    memcpy(e->text, text, len);
    e->text[len] = '\0';
    ring->pushed++;
    pthread_mutex_unlock(&ring->lock);
}

void
tr_logring_hook(void *arg, enum tr_log_level level, int64_t time_ms,
                const char *text, size_t len)
{
    tr_logring_push(arg, level, time_ms, text, len);
}

size_t
tr_logring_get(struct tr_logring *ring, struct tr_logring_entry *out,
               size_t cap, uint64_t *total)
{
    size_t n = 0;
    uint64_t i;

    pthread_mutex_lock(&ring->lock);
    for (i = ring->pushed; i > 0 && n < cap && ring->pushed - i < ring->cap;
         i--) {
        out[n++] = ring->e[(i - 1) % ring->cap];
    }
    if (total != NULL) {
        *total = ring->pushed;
    }
    pthread_mutex_unlock(&ring->lock);
    return n;
}
