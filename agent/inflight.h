/*
 * inflight -- records sent but not yet acknowledged, and the committed
 * position each file may advance to.
 *
 * One file's lines can go to several partitions (keyed records), and
 * partitions acknowledge independently, so acknowledgements arrive out of
 * the order the lines were read. Each file owns a queue of its records in
 * read order; each record remembers the file offset just past its line.
 * The committed position is the end offset of the longest acknowledged
 * prefix of that queue: everything before it has been acknowledged.
 *
 * Slots come from one fixed pool (no allocation per record); when it is
 * empty tr_inflight_push returns TR_ERR_AGAIN and the agent stops reading.
 * A record that failed for good freezes its queue's position; once the
 * queue drains the owner rewinds to it and reads again (duplicates rather
 * than loss).
 */
#ifndef TR_AGENT_INFLIGHT_H
#define TR_AGENT_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Embedded in each file; fields are private to inflight.c. */
struct tr_inflight_queue {
    uint32_t head, tail; /* slot index + 1; 0: empty */
    uint32_t prev_tail;  /* the tail before the last push, for unpush */
    uint32_t count;      /* records outstanding */
    int failed;          /* a record failed: committed is frozen */
    uint64_t committed;  /* every byte before this was acknowledged */
    void *owner;
    /*
     * The owner's: what identified its file when the owner let go of the
     * queue with records still out (a truncation), for the journal.
     */
    uint64_t gone_dev, gone_ino;
    uint32_t gone_fp_len, gone_fp_crc;
    char *gone_path; /* its name then (owned by the owner's code) */
};

/*
 * One record as read: the file range of its value and the timestamp it
 * was sent with, so the journal can rebuild it from the file (journal.h).
 * end is the offset just past the record (its newline included); the
 * value is [start, start + len).
 */
struct tr_inflight_line {
    uint64_t start, end;
    uint32_t len;
    uint8_t truncated; /* the line or event was cut (max_line_bytes) */
    int64_t timestamp_ms;
};

struct tr_inflight;

/* Returns an owned pool of 'max' slots in *out. */
tr_err_t tr_inflight_new(size_t max, struct tr_inflight **out);
void tr_inflight_free(struct tr_inflight *inf);

/* Starts an empty queue whose records begin at 'offset'. */
void tr_inflight_queue_init(struct tr_inflight_queue *q, uint64_t offset,
                            void *owner);

/*
 * Appends the record 'line' (copied) to 'q' (borrowed; must stay in place
 * until its count is 0). *token identifies it for tr_inflight_done (never
 * 0). TR_ERR_AGAIN when the pool is empty.
 */
tr_err_t tr_inflight_push(struct tr_inflight *inf, struct tr_inflight_queue *q,
                          const struct tr_inflight_line *line,
                          uintptr_t *token);

/*
 * Undoes the last push to 'q' (the send it was for failed). 'token' must be
 * that push's token.
 */
void tr_inflight_unpush(struct tr_inflight *inf, struct tr_inflight_queue *q,
                        uintptr_t token);

/*
 * Reports the record 'token' acknowledged (ok = 1) or failed for good
 * (ok = 0). Returns its queue, whose committed position may have advanced.
 */
struct tr_inflight_queue *tr_inflight_done(struct tr_inflight *inf,
                                           uintptr_t token, int ok);

/* The queue of the record 'token' (still outstanding) and its line. */
struct tr_inflight_queue *tr_inflight_token(const struct tr_inflight *inf,
                                            uintptr_t token,
                                            struct tr_inflight_line *line);

/* Slots in use. */
size_t tr_inflight_used(const struct tr_inflight *inf);
/* Slots left. */
size_t tr_inflight_free_slots(const struct tr_inflight *inf);

#endif /* TR_AGENT_INFLIGHT_H */
