/*
 * txns -- the transactions of one partition: which producers have a
 * transaction open on it (and from which offset), and the index of aborted
 * transactions, as Kafka's ProducerStateManager and TransactionIndex keep
 * them (KIP-98).
 *
 * The partition feeds it every transactional batch it writes
 * (tr_txns_begin, which opens a transaction at the batch's first offset if
 * the producer has none open) and every marker (tr_txns_end). From it come
 * the last stable offset (LSO): no offset at or above the first offset of
 * an open transaction, or of one whose marker is not yet below the high
 * watermark, is stable, so read_committed consumers stop below it; and, for a
 * fetch, the aborted transactions whose data lies in the range returned, which
 * the client needs to drop that data.
 *
 * An aborted-index entry is Kafka's AbortedTxn:
 *
 *   +-------------+--------------+-------------+--------------------+
 *   | producer_id | first_offset | last_offset | last_stable_offset |
 *   +-------------+--------------+-------------+--------------------+
 *
 * 'last_offset' is the ABORT marker's offset, 'last_stable_offset' the
 * LSO right after the abort (the first offset of another producer's
 * earliest open transaction, or the marker + 1). Entries are appended in
 * marker order, so 'last_offset' increases. Only transactions that wrote
 * data get an entry.
 *
 * Nothing here is persisted: the partition rebuilds it at every open by
 * replaying the log's batch headers and markers (it reads every header at
 * open anyway), so it is right after a SIGKILL without a .txnindex file.
 *
 * Thread safety: none; the partition's lock guards it.
 */
#ifndef TR_TXNS_H
#define TR_TXNS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;
    int64_t last_stable_offset;
};

/* An open transaction, as DescribeProducers reports it. */
struct tr_open_txn {
    int64_t producer_id;
    int64_t first_offset;
};

struct tr_txns;

/* Returns an owned, empty state (free with tr_txns_free) or NULL. */
struct tr_txns *tr_txns_new(void);
void tr_txns_free(struct tr_txns *t);
/* Forgets everything (before a replay of the log). */
void tr_txns_clear(struct tr_txns *t);

/* First offset of 'producer_id''s open transaction, -1 when none is open. */
int64_t tr_txns_open_first(const struct tr_txns *t, int64_t producer_id);

/*
 * A transactional batch of 'producer_id' starting at 'offset' was written:
 * opens its transaction there unless one is open already. TR_ERR_NOMEM.
 */
tr_err_t tr_txns_begin(struct tr_txns *t, int64_t producer_id, int64_t offset);

/*
 * A marker of 'producer_id' was written at 'marker_offset': closes its
 * transaction; an ABORT ('commit' 0) of a transaction that wrote data adds
 * an aborted-index entry. *had_data (may be NULL) tells whether a
 * transaction was open. TR_ERR_NOMEM (the transaction stays open).
 */
tr_err_t tr_txns_end(struct tr_txns *t, int64_t producer_id, int commit,
                     int64_t marker_offset, int *had_data);

/* The smallest first offset of the open transactions, -1 when none. */
int64_t tr_txns_first_unstable(const struct tr_txns *t);
/*
 * The smallest first offset of the transactions not yet stable at
 * 'high_watermark': the open ones and those whose marker is at or above
 * it (Kafka's unreplicated transactions: a read_committed consumer must
 * not see a transaction's data before its marker is replicated, or a new
 * leader without the marker would have it open again). Forgets the
 * transactions whose marker is below it. -1 when none.
 */
int64_t tr_txns_stable_until(struct tr_txns *t, int64_t high_watermark);

/*
 * The aborted transactions a fetch of [from, to) must report: those whose
 * marker is at or after 'from' and whose data starts before 'to'. The scan
 * stops, as Kafka's does, at the first entry whose last stable offset
 * reaches 'to'. Returns an owned array (free with tr_free) in *out, NULL
 * with *count 0 when there is none. TR_ERR_NOMEM.
 */
tr_err_t tr_txns_aborted(const struct tr_txns *t, int64_t from, int64_t to,
                         struct tr_aborted_txn **out, size_t *count);

/*
 * Whether the batch of 'producer_id' at 'offset' belongs to an aborted
 * transaction (for the log cleaner, which removes such data).
 */
int tr_txns_is_aborted(const struct tr_txns *t, int64_t producer_id,
                       int64_t offset);

/*
 * Drops the aborted entry of 'producer_id' whose marker is at
 * 'marker_offset' (the log cleaner removed the marker and all the data);
 * no-op when there is none.
 */
void tr_txns_forget_aborted(struct tr_txns *t, int64_t producer_id,
                            int64_t marker_offset);
/* Drops aborted entries whose marker is below 'log_start' (retention). */
void tr_txns_prune(struct tr_txns *t, int64_t log_start);

/*
 * Copies up to 'max' open transactions into 'out' (any order); returns how
 * many are open.
 */
size_t tr_txns_open_list(const struct tr_txns *t, struct tr_open_txn *out,
                         size_t max);

/* Number of aborted-index entries (tests, logs). */
size_t tr_txns_aborted_count(const struct tr_txns *t);

#endif /* TR_TXNS_H */
