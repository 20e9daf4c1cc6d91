/*
 * plimits -- how many topics and consumer groups each principal has
 * created on this collector, against max.topics.per.principal and
 * max.groups.per.principal (settings of our own: Kafka has none), so
 * that one misbehaving client cannot grow the collector's memory without
 * bound by inventing names.
 *
 * A name is charged to the principal whose request created it and
 * released when it goes (DeleteTopics, a group deleted or expired). The
 * counts are kept in memory only: after a restart they start again from
 * zero, and names created before it are charged to no one. With a limit
 * left at its default (2147483647) nothing is tracked for that kind.
 * Thread-safe.
 */
#ifndef TR_PLIMITS_H
#define TR_PLIMITS_H

#include <stdint.h>

#include "err.h"

enum tr_limit_kind {
    TR_LIMIT_TOPICS,
    TR_LIMIT_GROUPS,
};

enum tr_limit_result {
    TR_LIMIT_REFUSED, /* the principal is at its limit */
    TR_LIMIT_TAKEN,   /* charged now: release it if the creation fails */
    TR_LIMIT_KNOWN,   /* already charged to someone, or not tracked */
};

struct tr_limits;

/* An owned tracker, or NULL on OOM. INT32_MAX means no limit. */
struct tr_limits *tr_limits_new(int32_t max_topics, int32_t max_groups);
/* NULL is a no-op. */
void tr_limits_free(struct tr_limits *l);

/* The limit of 'kind' (INT32_MAX: none). */
int32_t tr_limits_max(const struct tr_limits *l, enum tr_limit_kind kind);

/*
 * Before 'principal' creates 'name' of 'kind': charges it, unless the
 * principal already has its limit. A NULL 'l' allows everything.
 */
enum tr_limit_result tr_limits_acquire(struct tr_limits *l,
                                       enum tr_limit_kind kind,
                                       const char *principal, const char *name);
/* 'name' is gone: its creator may create another. Unknown names: no-op. */
void tr_limits_release(struct tr_limits *l, enum tr_limit_kind kind,
                       const char *name);
/* Names of 'kind' charged to 'principal' now. */
int32_t tr_limits_count(struct tr_limits *l, enum tr_limit_kind kind,
                        const char *principal);

#endif /* TR_PLIMITS_H */
