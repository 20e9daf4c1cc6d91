/*
 * producers -- idempotent-producer state of one partition.
 *
 * For every producer id seen in the log it keeps the producer epoch and the
 * metadata of its last five batches (first and last sequence, first and last
 * offset), as Kafka's ProducerStateManager does: five is why idempotent
 * clients keep at most five requests in flight, and a retry of any of them
 * must be recognised as a duplicate rather than written twice.
 *
 * The rules for a batch of producer P, epoch E, sequences [first, last]:
 *   - P unknown: accepted whatever its sequence (the state may have been
 *     lost with old segments, as Kafka 2.x allows);
 *   - E below P's epoch: TR_ERR_FENCED;
 *   - E above P's epoch: the producer was reset; 'first' must be 0;
 *   - same epoch, [first, last] equal to one of the five retained batches:
 *     a duplicate, answered with that batch's original offsets;
 *   - same epoch, first == last sequence + 1 (wrapping at INT32_MAX):
 *     accepted; anything else is TR_ERR_SEQUENCE.
 *
 * The state is not persisted: the partition rebuilds it at open by replaying
 * every batch header of the log through tr_producers_update().
 *
 * Thread safety: none; the partition's lock guards it.
 */
#ifndef TR_PRODUCERS_H
#define TR_PRODUCERS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TR_PRODUCERS_BATCHES_RETAINED 5

/* What the state needs to know of one batch. */
struct tr_producer_batch {
    int64_t producer_id;
    int16_t epoch;
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset; /* BaseOffset once assigned */
    int64_t last_offset;
};

struct tr_producers;

/* Returns an owned, empty state (free with tr_producers_free) or NULL. */
struct tr_producers *tr_producers_new(void);
void tr_producers_free(struct tr_producers *ps);

/* The last sequence of a batch: 'first_seq' + 'last_offset_delta', wrapped. */
int32_t tr_producers_last_seq(int32_t first_seq, int32_t last_offset_delta);

/*
 * Checks batch 'b' (offsets not yet assigned) against the state, as if the
 * 'nprev' batches of 'prev' (earlier batches of the same record set, already
 * checked) had been applied. TR_OK: append it. TR_ERR_DUPLICATE: do not;
 * *orig gets the original batch (with its offsets). TR_ERR_FENCED or
 * TR_ERR_SEQUENCE: reject the record set.
 */
tr_err_t tr_producers_check(const struct tr_producers *ps,
                            const struct tr_producer_batch *b,
                            const struct tr_producer_batch *prev, size_t nprev,
                            struct tr_producer_batch *orig);

/*
 * Makes room for producer 'producer_id' so that a later tr_producers_update
 * for it cannot fail. TR_ERR_NOMEM.
 */
tr_err_t tr_producers_reserve(struct tr_producers *ps, int64_t producer_id);

/*
 * Records batch 'b' (offsets assigned) as written: a newer epoch resets the
 * producer, the batch joins its retained five. Never checks; used both
 * after an append and when replaying the log. TR_ERR_NOMEM only if the
 * producer was not reserved.
 */
tr_err_t tr_producers_update(struct tr_producers *ps,
                             const struct tr_producer_batch *b);

/*
 * BaseOffset of the last batch written by 'producer_id', or -1 if unknown.
 * The log cleaner keeps that batch (at least its header) so that the
 * sequence state survives compaction.
 */
int64_t tr_producers_last_batch_offset(const struct tr_producers *ps,
                                       int64_t producer_id);

/* The epoch known for 'producer_id', -1 when unknown. */
int16_t tr_producers_epoch(const struct tr_producers *ps, int64_t producer_id);

/*
 * A transaction marker of 'producer_id' at 'epoch' was written: a newer
 * epoch replaces the producer's (its sequence starts again, and older
 * epochs are fenced); the same epoch keeps the sequence running, as in
 * Kafka's ProducerStateEntry. The marker's 'coordinator_epoch' is kept
 * when it is the highest seen. TR_ERR_NOMEM.
 */
tr_err_t tr_producers_mark_epoch(struct tr_producers *ps, int64_t producer_id,
                                 int16_t epoch, int32_t coordinator_epoch);
/* The coordinator epoch of the producer's newest marker, -1 when none. */
int32_t tr_producers_coordinator_epoch(const struct tr_producers *ps,
                                       int64_t producer_id);

/* One producer's state, as DescribeProducers reports it. */
struct tr_producer_state {
    int64_t producer_id;
    int16_t epoch;
    int32_t last_seq;          /* -1: no batch known in this epoch */
    int64_t last_offset;       /* of its last batch, -1 when none */
    int32_t coordinator_epoch; /* of its newest marker, -1 when none */
};

/*
 * Copies up to 'max' producers into 'out' (any order); returns how many
 * are known.
 */
size_t tr_producers_list(const struct tr_producers *ps,
                         struct tr_producer_state *out, size_t max);

/* Number of producers known. */
size_t tr_producers_count(const struct tr_producers *ps);

#endif /* TR_PRODUCERS_H */
