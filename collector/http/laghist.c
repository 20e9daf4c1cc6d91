/*
 * laghist -- per-group rings of lag samples (see laghist.h).
 */
#include "laghist.h"

#include <string.h>

#include "alloc.h"

struct series {
    char *group; /* owned; NULL: a free slot */
    size_t n;    /* samples held, at most nsamples */
    size_t next; /* where the next sample goes */
    int64_t last_ms;
    struct tr_laghist_sample *s; /* nsamples of them */
};

struct tr_laghist {
    size_t nsamples, max_groups;
    struct series *series; /* max_groups slots */
};

struct tr_laghist *
tr_laghist_new(size_t nsamples, size_t max_groups)
{
    struct tr_laghist *h;

    if (nsamples == 0 || max_groups == 0) {
        return NULL;
    }
    h = tr_calloc(1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    h->series = tr_calloc(max_groups, sizeof(*h->series));
    if (h->series == NULL) {
        tr_free(h);
        return NULL;
    }
    h->nsamples = nsamples;
    h->max_groups = max_groups;
    return h;
}

static void
series_clear(struct series *s)
{
    tr_free(s->group);
    tr_free(s->s);
    memset(s, 0, sizeof(*s));
}

void
tr_laghist_free(struct tr_laghist *h)
{
    size_t i;

    if (h == NULL) {
        return;
    }
    for (i = 0; i < h->max_groups; i++) {
        series_clear(&h->series[i]);
    }
    tr_free(h->series);
    tr_free(h);
}

static struct series *
find(const struct tr_laghist *h, const char *group)
{
    size_t i;

    for (i = 0; i < h->max_groups; i++) {
        if (h->series[i].group != NULL &&
            strcmp(h->series[i].group, group) == 0) {
            return &h->series[i];
        }
    }
    return NULL;
}

/* A free slot, after dropping stale groups, or the one sampled longest ago. */
static struct series *
slot_for_new(struct tr_laghist *h, int64_t now_ms, int64_t interval_ms)
{
    struct series *victim = &h->series[0];
    int64_t span = (int64_t)h->nsamples * interval_ms;
    size_t i;

    for (i = 0; i < h->max_groups; i++) {
        struct series *s = &h->series[i];

        if (s->group != NULL && now_ms - s->last_ms > span) {
            series_clear(s);
        }
        /* a free slot beats any group; else the oldest group */
        if (victim->group != NULL &&
            (s->group == NULL || s->last_ms < victim->last_ms)) {
            victim = s;
        }
    }
    series_clear(victim);
    return victim;
}

int
tr_laghist_add(struct tr_laghist *h, const char *group, int64_t now_ms,
               int64_t lag, int64_t interval_ms)
{
    struct series *s = find(h, group);

    if (s == NULL) {
        s = slot_for_new(h, now_ms, interval_ms);
        s->group = tr_strdup(group);
        s->s = tr_calloc(h->nsamples, sizeof(*s->s));
        if (s->group == NULL || s->s == NULL) {
            series_clear(s);
            return -1;
        }
    }
    s->s[s->next].time_ms = now_ms;
    s->s[s->next].lag = lag;
    s->next = (s->next + 1) % h->nsamples;
    if (s->n < h->nsamples) {
        s->n++;
    }
    s->last_ms = now_ms;
    return 0;
}

size_t
tr_laghist_get(const struct tr_laghist *h, const char *group,
               struct tr_laghist_sample *out, size_t cap)
{
    const struct series *s = find(h, group);
    size_t i, n, first;

    if (s == NULL) {
        return 0;
    }
    n = s->n < cap ? s->n : cap;
    /* the oldest of the n newest samples */
    first = (s->next + h->nsamples - n) % h->nsamples;
    for (i = 0; i < n; i++) {
        out[i] = s->s[(first + i) % h->nsamples];
    }
    return n;
}

size_t
tr_laghist_groups(const struct tr_laghist *h)
{
    size_t i, n = 0;

    for (i = 0; i < h->max_groups; i++) {
        n += h->series[i].group != NULL;
    }
    return n;
}
