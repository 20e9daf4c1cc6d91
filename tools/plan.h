/*
 * plan -- partition reassignment plans for `tributary cluster reassign`
 * and `tributary cluster rebalance`.
 *
 * A plan is Kafka's reassignment JSON, so plans move between our tool and
 * kafka-reassign-partitions.sh unchanged:
 *
 *   {"version":1,"partitions":[{"topic":"t","partition":0,
 *                               "replicas":[3,1,2]}, ...]}
 *
 * The first replica of each list is the partition's preferred leader.
 * tr_plan_rebalance proposes the moves that spread replicas, then
 * preferred leaders, evenly over a set of brokers while moving as few
 * replicas as it can; it is pure (no network), so it is unit-tested.
 */
#ifndef TR_PLAN_H
#define TR_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define TR_PLAN_MAX_REPLICAS 16
#define TR_PLAN_TOPIC_MAX    249

struct tr_plan_part {
    char topic[TR_PLAN_TOPIC_MAX + 1];
    int32_t partition;
    int32_t replicas[TR_PLAN_MAX_REPLICAS];
    int32_t nreplicas;
};

struct tr_plan {
    struct tr_plan_part *parts;
    size_t n, cap;
};

/* An empty plan; free with tr_plan_free. */
void tr_plan_init(struct tr_plan *p);
void tr_plan_free(struct tr_plan *p);
/* Appends one partition (TR_ERR_TOO_LARGE beyond TR_PLAN_MAX_REPLICAS). */
tr_err_t tr_plan_add(struct tr_plan *p, const char *topic, int32_t partition,
                     const int32_t *replicas, int32_t n);

/*
 * Reads Kafka's reassignment JSON. Refuses (TR_ERR_CORRUPT, with the reason
 * in errbuf) a document that is not that shape, an empty or oversized
 * replica list, a broker named twice in one list, and a partition named
 * twice.
 */
tr_err_t tr_plan_parse(const char *json, size_t len, struct tr_plan *out,
                       char *errbuf, size_t errlen);
/* Writes 'p' as Kafka's reassignment JSON, one partition per line. */
void tr_plan_write(const struct tr_plan *p, FILE *out);

/*
 * Proposes moves for the assignment 'current' over the 'nbrokers' brokers
 * in 'brokers': replicas on brokers not in the list move to listed ones,
 * then replicas move from the most to the least loaded broker until every
 * broker holds the same number give or take one, then replicas are
 * reordered (no data moves) until preferred leaders are spread the same
 * way. Only partitions whose list changes go into *moves (initialised by
 * the call). TR_ERR_INVALID when a partition has more replicas than there
 * are brokers.
 */
tr_err_t tr_plan_rebalance(const struct tr_plan *current,
                           const int32_t *brokers, size_t nbrokers,
                           struct tr_plan *moves);

/* The entry for (topic, partition) in 'p', or NULL. */
const struct tr_plan_part *tr_plan_find(const struct tr_plan *p,
                                        const char *topic, int32_t partition);

#endif /* TR_PLAN_H */
