/*
 * resume -- where the collector stands for the agent's producer id.
 *
 * After a restart the agent keeps its producer id (journal.h) and must
 * continue each partition right after the last sequence the collector
 * has from it: the collector remembers only the last few batches per
 * producer for deduplication, so batches journaled long ago cannot just be
 * resent. DescribeProducers (Kafka's API 61) answers, per partition, the
 * producers it has state for and their last sequence; this module asks
 * every partition's leader, on its own client, before the agent reads.
 */
#ifndef TR_AGENT_RESUME_H
#define TR_AGENT_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct tr_client_config;

struct tr_resume_part {
    const char *topic; /* borrowed from the caller's list */
    int32_t partition;
    int known;        /* the collector has state for the producer here */
    int32_t last_seq; /* its last sequence (when known) */
};

/*
 * Asks the leaders of every partition of 'topics' where producer 'pid'
 * stands, running 'base' until all have answered or 'max_wait_ms' passed.
 * *out is an owned array (tr_free) of *nout partitions. TR_ERR_TIMEOUT or
 * TR_ERR_UNSUPPORTED (a leader without DescribeProducers, or one that
 * keeps refusing it): the caller cannot resume and falls back.
 */
tr_err_t tr_resume_describe(struct event_base *base,
                            const struct tr_client_config *cc, int64_t pid,
                            const char *const *topics, size_t ntopics,
                            int max_wait_ms, struct tr_resume_part **out,
                            size_t *nout);

#endif /* TR_AGENT_RESUME_H */
