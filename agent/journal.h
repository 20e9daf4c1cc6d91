/*
 * journal -- the agent's write-ahead journal of sent batches, in
 * STATE_DIR/journal, for exactly-once delivery.
 *
 * Before a batch goes out for the first time (and again when a new
 * producer id renumbers it) the agent appends one entry: producer id and
 * epoch, topic, partition, base sequence, record count, the batch's
 * CRC-32C, and for each record the identity of its file (device, inode,
 * fingerprint), the name it had, where the record's value starts, its
 * length, where the record ends and its timestamp: a few bytes a line, not
 * the line. After a crash the agent knows which lines went into which
 * sequence numbers: it rebuilds the batches the collector has not got from
 * the files, byte for byte (the CRC checks it), and resends them with
 * their original producer id and sequences (the collector drops any it
 * already has), and skips those lines when it reads them again from the
 * registry position.
 *
 * Format: records of [u32 length][u32 CRC-32C of the payload][payload],
 * big-endian. Payload 'P': pid i64, epoch i16 (the producer id in use).
 * Payload 'D': pid i64, epoch i16, partition i32, base_seq i32, count i32,
 * topic (u16 length + bytes), the batch's crc u32, the first record's
 * timestamp i64, nrec u32, then the records as runs of one file: count
 * u32, dev u64, ino u64, fp_len u32, fp_crc u32, path (u16 length +
 * bytes), the run's first value start u64, then per record uvarints: the
 * gap from the previous record's end (the run's start for the first) to
 * its value, the value's length, (end - start - length) << 1 | truncated,
 * and the zig-zag timestamp difference from the first record's. Payloads
 * 'B' (nrec x (dev u64, ino u64, fp_len u32, fp_crc u32, end u64)) and 'C'
 * (runs of line ends) carried the encoded batch itself (u32 length +
 * bytes) instead; they are read, and resent as they are, but no longer
 * written. A record cut by a crash (short, or a bad CRC) ends the journal:
 * it is cut off at load.
 *
 * Writes are plain write(2)s, so a killed process loses nothing; fsync is
 * grouped with the registry's (tr_journal_sync before each registry
 * write), which bounds what a power loss can lose the same way. Entries
 * are dropped (tr_journal_compact, which copies the live ones to
 * journal.tmp and renames it) once the registry has moved past all their
 * lines, so the journal holds about what is in flight plus one save window.
 */
#ifndef TR_AGENT_JOURNAL_H
#define TR_AGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* One record's line: its file and the offset just past it. */
struct tr_journal_rec {
    uint64_t dev, ino;
    uint32_t fp_len, fp_crc;
    uint64_t end;
};

/* What rebuilding one record from its file needs. */
struct tr_journal_line {
    uint64_t start;    /* the value's first byte in the file */
    uint32_t len;      /* the value is [start, start + len) */
    int truncated;     /* the line or event was cut */
    int64_t timestamp; /* ms, as sent */
    const char *path;  /* the file's name when it was read */
};

/* One journaled batch; all pointers are borrowed or owned by the journal. */
struct tr_journal_batch {
    int64_t pid;
    int16_t epoch;
    const char *topic;
    int32_t partition, base_seq, count;
    uint32_t nrec;                       /* == count */
    const struct tr_journal_rec *recs;   /* files and ends, for skipping */
    const struct tr_journal_line *lines; /* for rebuilding; NULL: wire */
    uint32_t crc;                        /* the batch's CRC-32C (lines) */
    /* Entries written before 'D' only: the encoded batch. */
    const uint8_t *wire;
    size_t wire_len;
};

struct tr_journal;

/*
 * Opens DIR/journal (created if missing), loads the batches of the last
 * producer id and cuts a torn tail. *out is owned (tr_journal_free).
 */
tr_err_t tr_journal_open(const char *dir, struct tr_journal **out, char *errbuf,
                         size_t errlen);
void tr_journal_free(struct tr_journal *j);

/* The last producer id journaled (-1: none) and its epoch. */
int64_t tr_journal_pid(const struct tr_journal *j, int16_t *epoch);
/* Batches loaded by tr_journal_open (of that producer id), in order. */
size_t tr_journal_loaded(const struct tr_journal *j);
const struct tr_journal_batch *tr_journal_loaded_at(const struct tr_journal *j,
                                                    size_t i);
/* Frees what tr_journal_open loaded (the entries stay in the file). */
void tr_journal_drop_loaded(struct tr_journal *j);

/* Records that the producer id is now 'pid' (written at once). */
tr_err_t tr_journal_set_pid(struct tr_journal *j, int64_t pid, int16_t epoch);
/* Appends one batch (one write(2)); b->lines is required, wire unused. */
tr_err_t tr_journal_append(struct tr_journal *j,
                           const struct tr_journal_batch *b);
/*
 * The same, a record at a time with no arrays (the agent's hot path):
 * begin with b's batch fields (recs, lines and wire unused), add its
 * b->count records in order (r->end is the record's end; l->path must stay
 * valid until end), then end writes the entry. TR_ERR_INVALID from end
 * when the count differs.
 */
tr_err_t tr_journal_begin(struct tr_journal *j,
                          const struct tr_journal_batch *b);
void tr_journal_add(struct tr_journal *j, const struct tr_journal_rec *r,
                    const struct tr_journal_line *l);
tr_err_t tr_journal_end(struct tr_journal *j);
/* fdatasync if anything was written since the last call. */
tr_err_t tr_journal_sync(struct tr_journal *j);
/* Bytes in the file. */
uint64_t tr_journal_size(const struct tr_journal *j);

/*
 * 1 while some line of file (dev, ino, fp) ending at or before 'end' may
 * still be read again (the registry is not past it), else 0.
 */
typedef int tr_journal_live_cb(void *arg, uint64_t dev, uint64_t ino,
                               uint32_t fp_len, uint32_t fp_crc, uint64_t end);

/*
 * Rewrites the journal with only the entries of the current producer id
 * that 'live' keeps (atomically: journal.tmp, fsync, rename).
 */
tr_err_t tr_journal_compact(struct tr_journal *j, tr_journal_live_cb *live,
                            void *arg);

#endif /* TR_AGENT_JOURNAL_H */
