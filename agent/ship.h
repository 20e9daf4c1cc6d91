/*
 * ship -- hands records to the producer and brings acknowledgements back.
 *
 * Every record gets a slot in the in-flight pool (inflight.h) whose token
 * is the producer's opaque pointer; the delivery callback releases it and
 * tells the agent which file queue may have advanced. Backpressure: when
 * the pool is empty or the producer's buffer is full, tr_ship_send returns
 * TR_ERR_AGAIN and the agent stops reading until tr_ship_blocked() turns 0
 * again, which happens once half of what was pending has been reported.
 * So memory in flight is bounded however long the collector is away.
 */
#ifndef TR_AGENT_SHIP_H
#define TR_AGENT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "err.h"
#include "inflight.h"
#include "journal.h"

struct event_base;
struct tr_ship;

/*
 * Called for each record reported: 'q' is its queue (committed may have
 * moved); 'ok' is 0 when it failed for good and must be read again. 'q'
 * NULL: sends are accepted again (the resent batches are acknowledged).
 */
typedef void tr_ship_done_cb(void *arg, struct tr_inflight_queue *q, int ok);

/* Counters, for metrics. */
struct tr_ship_stats {
    uint64_t sent, acked, failed, dropped_too_large;
    /* exactly once */
    uint64_t resent_batches;  /* journaled batches resent after a restart */
    uint64_t rebuilt_batches; /* of those, rebuilt from the files */
    uint64_t rebuilt_differ;  /* rebuilt, but not byte for byte (CRC) */
    uint64_t landed_batches;  /* journaled batches the collector had */
    uint64_t skipped_records; /* lines read again and not sent again */
    uint64_t fallbacks;       /* producer id lost: at least once */
    uint64_t journal_errors;  /* journal writes that failed */
    uint64_t journal_compactions;
};

struct tr_batch_builder;

/*
 * The agent's view of the file behind a queue, for the journal (exactly
 * once). ident fills the identity of q's file and its name (borrowed for
 * the call; 0: none). prefix answers
 * whether q's file still starts with the fp_len bytes whose CRC-32C is
 * fp_crc (the file a journaled line came from, not a truncated and
 * rewritten one). A copytruncate copy's lines are also looked up under the
 * identity of the file it copies (origin).
 */
struct tr_ship_files {
    int (*ident)(void *arg, const struct tr_inflight_queue *q,
                 struct tr_journal_rec *id, const char **path);
    int (*prefix)(void *arg, const struct tr_inflight_queue *q, uint32_t fp_len,
                  uint32_t fp_crc);
    /* q's file is logrotate's copy of file (dev, ino): 1, else 0. */
    int (*origin)(void *arg, const struct tr_inflight_queue *q, uint64_t *dev,
                  uint64_t *ino);
    /*
     * After a restart, before any file is read: adds record i of the
     * journaled batch b to 'bld' as it was sent: its value read again from
     * its file (found by identity, or as logrotate's copy of it), key and
     * headers made as the agent makes them, the journaled timestamp.
     * TR_ERR_NOT_FOUND when the bytes are gone.
     */
    tr_err_t (*rebuild)(void *arg, const struct tr_journal_batch *b, uint32_t i,
                        struct tr_batch_builder *bld);
};

/*
 * Returns an owned shipper in *out; 'conf', 'files' and 'base' are
 * borrowed. With [output] exactly_once it opens the journal in state_dir
 * and, if the last run left one, resumes its producer id: it asks the
 * collector where each partition stands (resume.h), rebuilds the journaled
 * batches it lacks from the files (files->rebuild) and resends them, and
 * refuses sends (tr_ship_blocked) until they are
 * acknowledged; lines of journaled batches are then skipped when read
 * again. If the collector no longer knows the producer id, or a batch's
 * lines are gone from disk, it takes a new one and delivery falls back to
 * at least once for those lines (logged, counted). Runs 'base' while it waits
 * for the collector.
 */
tr_err_t tr_ship_new(struct event_base *base, const struct tr_agent_conf *conf,
                     const struct tr_ship_files *files, tr_ship_done_cb *cb,
                     void *arg, struct tr_ship **out, char *errbuf,
                     size_t errlen);
/* Reports every pending record as failed (TR_ERR_CLOSED), then frees. */
void tr_ship_free(struct tr_ship *s);

/*
 * Sends one record for queue 'q': 'line' says where its value (line->len
 * bytes at 'value') is in the file, where it ends and its timestamp (ms,
 * never -1: the journal needs the one sent). Key (NULL: none), value and
 * headers are copied. TR_ERR_AGAIN: full, try after an acknowledgement.
 * TR_ERR_TOO_LARGE: the record can never be sent (counted and treated as
 * done).
 */
tr_err_t tr_ship_send(struct tr_ship *s, struct tr_inflight_queue *q,
                      const struct tr_inflight_line *line, const char *topic,
                      const void *key, size_t key_len, const void *value,
                      const struct tr_record_header *headers, int nheaders);

/*
 * After a restart: 1 if q's file starts with the bytes another file had
 * when lines of it were journaled by the last run and not yet read again
 * (the longest such prefix): then *out is that file's identity (end 0),
 * and q's file may be logrotate's copy of it, made while the agent was
 * down. The caller decides (the original must have been truncated since)
 * and, if so, reads the copy from its start with the journaled lines
 * skipped (tr_ship_files.origin). 0 when nothing matches or nothing is
 * left to skip.
 */
int tr_ship_journal_origin(struct tr_ship *s, struct tr_inflight_queue *q,
                           struct tr_journal_rec *out);
/* 1 while lines of the last run's journal are still to be skipped. */
int tr_ship_skipping(const struct tr_ship *s);

/* 1 while sends are refused (backpressure). */
int tr_ship_blocked(struct tr_ship *s);
size_t tr_ship_pending(const struct tr_ship *s);
size_t tr_ship_buffered_bytes(const struct tr_ship *s);
int tr_ship_connected(const struct tr_ship *s);
void tr_ship_flush(struct tr_ship *s);
void tr_ship_stats(const struct tr_ship *s, struct tr_ship_stats *out);

/*
 * Journal upkeep, called around each registry write: sync before it (so
 * the journal is never behind the registry on disk), compact after it
 * with 'live' answering from the positions just written (journal.h).
 * No-ops without exactly_once.
 */
tr_err_t tr_ship_journal_sync(struct tr_ship *s);
void tr_ship_journal_compact(struct tr_ship *s, tr_journal_live_cb *live,
                             void *arg);
/* Bytes in the journal (0 without one). */
uint64_t tr_ship_journal_bytes(const struct tr_ship *s);

#endif /* TR_AGENT_SHIP_H */
