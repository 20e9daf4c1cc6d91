/*
 * plimits -- per-principal counts of created topics and groups. See
 * plimits.h.
 */
#include "plimits.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define BUCKETS 1024

/* A created name and who it is charged to. */
struct name {
    struct name *next;
    struct owner *owner;
    char text[];
};

/* A principal and how many names of one kind it holds. */
struct owner {
    struct owner *next;
    int32_t count;
    char text[];
};

struct table {
    int32_t max;
    struct name *names[BUCKETS];
    struct owner *owners[BUCKETS];
};

struct tr_limits {
    pthread_mutex_t lock;
    struct table kinds[2];
};

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h % BUCKETS;
}

static struct name **
name_slot(struct table *t, const char *text)
{
    struct name **pp = &t->names[hash(text)];

    while (*pp != NULL && strcmp((*pp)->text, text) != 0) {
        pp = &(*pp)->next;
    }
    return pp;
}

static struct owner **
owner_slot(struct table *t, const char *text)
{
    struct owner **pp = &t->owners[hash(text)];

    while (*pp != NULL && strcmp((*pp)->text, text) != 0) {
        pp = &(*pp)->next;
    }
    return pp;
}

struct tr_limits *
tr_limits_new(int32_t max_topics, int32_t max_groups)
{
    struct tr_limits *l = tr_calloc(1, sizeof(*l));

    if (l == NULL) {
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->kinds[TR_LIMIT_TOPICS].max = max_topics;
    l->kinds[TR_LIMIT_GROUPS].max = max_groups;
    return l;
}

void
tr_limits_free(struct tr_limits *l)
{
    int k, b;

    if (l == NULL) {
        return;
    }
    for (k = 0; k < 2; k++) {
        for (b = 0; b < BUCKETS; b++) {
            struct name *n;
            struct owner *o;

            while ((n = l->kinds[k].names[b]) != NULL) {
                l->kinds[k].names[b] = n->next;
                tr_free(n);
            }
            while ((o = l->kinds[k].owners[b]) != NULL) {
                l->kinds[k].owners[b] = o->next;
                tr_free(o);
            }
        }
    }
    pthread_mutex_destroy(&l->lock);
    tr_free(l);
}

int32_t
tr_limits_max(const struct tr_limits *l, enum tr_limit_kind kind)
{
    return l != NULL ? l->kinds[kind].max : INT32_MAX;
}

enum tr_limit_result
tr_limits_acquire(struct tr_limits *l, enum tr_limit_kind kind,
                  const char *principal, const char *name)
{
    struct table *t;
    struct name **np, *n;
    struct owner **op, *o;
    enum tr_limit_result r = TR_LIMIT_KNOWN;

    if (l == NULL || l->kinds[kind].max == INT32_MAX) {
        return TR_LIMIT_KNOWN;
    }
    t = &l->kinds[kind];
    pthread_mutex_lock(&l->lock);
    np = name_slot(t, name);
    if (*np != NULL) {
        goto out;
    }
    op = owner_slot(t, principal);
    o = *op;
    if (o != NULL && o->count >= t->max) {
        r = TR_LIMIT_REFUSED;
        goto out;
    }
    if (t->max == 0) {
        r = TR_LIMIT_REFUSED;
        goto out;
    }
    if (o == NULL) {
        o = tr_calloc(1, sizeof(*o) + strlen(principal) + 1);
        if (o == NULL) {
            r = TR_LIMIT_REFUSED;
            goto out;
        }
        memcpy(o->text, principal, strlen(principal) + 1);
        *op = o;
    }
    n = tr_calloc(1, sizeof(*n) + strlen(name) + 1);
    if (n == NULL) {
        r = TR_LIMIT_REFUSED;
        goto out;
    }
    memcpy(n->text, name, strlen(name) + 1);
    n->owner = o;
    *np = n;
    o->count++;
    r = TR_LIMIT_TAKEN;
out:
    pthread_mutex_unlock(&l->lock);
    return r;
}

void
tr_limits_release(struct tr_limits *l, enum tr_limit_kind kind,
                  const char *name)
{
    struct table *t;
    struct name **np, *n;

    if (l == NULL || l->kinds[kind].max == INT32_MAX) {
        return;
    }
    t = &l->kinds[kind];
    pthread_mutex_lock(&l->lock);
    np = name_slot(t, name);
    n = *np;
    if (n != NULL) {
        *np = n->next;
        if (--n->owner->count == 0) {
            struct owner **op = owner_slot(t, n->owner->text);
            struct owner *o = *op;

            *op = o->next;
            tr_free(o);
        }
        tr_free(n);
    }
    pthread_mutex_unlock(&l->lock);
}

int32_t
tr_limits_count(struct tr_limits *l, enum tr_limit_kind kind,
                const char *principal)
{
    struct owner *o;
    int32_t n;

    if (l == NULL) {
        return 0;
    }
    pthread_mutex_lock(&l->lock);
    o = *owner_slot(&l->kinds[kind], principal);
    n = o != NULL ? o->count : 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}
