/*
 * assign -- where a new topic's replicas go.
 *
 * tr_assign_replicas() is Kafka's AdminUtils.assignReplicasToBrokers: when
 * the brokers have a broker.rack, the rack-aware algorithm, which puts each
 * partition's replicas on as many racks as it can; without racks, the
 * round-robin the cluster has always used. tr_assign_explicit() and
 * tr_assign_check_live() check an assignment a client gives in
 * CreateTopics instead, with Kafka's rules and messages.
 *
 * Pure functions over arrays (no ZooKeeper, no locks), shared by the
 * controller code, the admin API and tests/collector/test_assign.c.
 */
#ifndef TR_ASSIGN_H
#define TR_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A live broker as the assignment sees it. */
struct tr_assign_broker {
    int32_t id;
    const char *rack; /* NULL or "": no broker.rack */
};

/*
 * Assigns 'partitions' x 'rf' replicas over the 'nb' brokers (any order;
 * borrowed): out[p * rf + r] gets replica r of partition p, the first one
 * being the preferred leader. 'start' and 'shift' are the random first
 * broker and replica shift Kafka draws (any values; they are taken modulo
 * the broker count, and tests fix them).
 *
 * TR_ERR_INVALID, with the reason in 'errbuf', when rf is not 1..nb or when
 * some brokers have a rack and others not (Kafka: "Not all brokers have
 * rack information"); TR_ERR_NOMEM.
 */
tr_err_t tr_assign_replicas(const struct tr_assign_broker *brokers, size_t nb,
                            int32_t partitions, int32_t rf, uint32_t start,
                            uint32_t shift, int32_t *out, char *errbuf,
                            size_t errlen);

/*
 * Checks the 'n' replica lists of a CreateTopics' Assignments, in wire
 * order: list i names partition partition_of[i] and holds count_of[i] ids,
 * which follow each other in 'ids'. Every partition 0..n-1 must be named
 * once, every list must have the same, non-zero length and no broker twice.
 * On success *rf gets that length and out[p * rf + r] (room for all the
 * ids) the lists by partition. TR_ERR_INVALID with Kafka's message in
 * 'errbuf' otherwise.
 */
tr_err_t tr_assign_explicit(const int32_t *partition_of,
                            const int32_t *count_of, const int32_t *ids,
                            int32_t n, int32_t *out, int32_t *rf, char *errbuf,
                            size_t errlen);

/*
 * Checks that each of the 'n' ids in 'replicas' is one of the 'nlive' ids
 * in 'live'. TR_ERR_NOT_FOUND naming the first stranger in 'errbuf'.
 */
tr_err_t tr_assign_check_live(const int32_t *replicas, size_t n,
                              const int32_t *live, size_t nlive, char *errbuf,
                              size_t errlen);

#endif /* TR_ASSIGN_H */
