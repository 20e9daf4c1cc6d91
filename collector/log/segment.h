/*
 * segment -- one file of a partition's log, with its two indexes.
 *
 * A segment is named by its base offset, the first offset it may hold,
 * zero-padded to 20 digits as Kafka does:
 *
 *   00000000000000368769.log        record batches in wire format, BaseOffset
 *                                   and PartitionLeaderEpoch already assigned
 *   00000000000000368769.index      sparse offset index (index.h)
 *   00000000000000368769.timeindex  time index (index.h)
 *
 * The .log is the truth; the indexes are rebuilt from it whenever they are
 * missing or inconsistent. Only the newest segment of a partition takes
 * appends; its indexes are preallocated, and sealing it (at a roll) writes a
 * last time-index entry, trims the indexes to their used size and fsyncs.
 *
 * The segment knows nothing of offsets assignment, rolling policy or
 * producers: partition.c decides those and hands in batches whose offsets
 * are final.
 *
 * Thread safety: none; the owning partition's lock guards every call.
 */
#ifndef TR_SEGMENT_H
#define TR_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"
#include "err.h"

/* "%020lld" plus a suffix: the length of a segment file name. */
#define TR_SEGMENT_NAME_DIGITS 20

struct tr_segment;

/* tr_segment_open() flags. */
#define TR_SEGMENT_ACTIVE  0x1 /* will take appends: preallocate indexes */
#define TR_SEGMENT_RECOVER 0x2 /* validate every batch (CRC) and truncate */

/*
 * Opens (creating if needed) the segment of 'dir' with base 'base_offset'.
 * Indexes that are missing or fail tr_index_check() are rebuilt from the
 * log. With TR_SEGMENT_RECOVER every batch is read and validated from the
 * start and the log is truncated at the first torn or corrupt one (then the
 * indexes are rebuilt); without it only the batch headers after the last
 * index entry are walked, and a broken header there triggers the same
 * recovery. 'index_max_bytes' sizes the indexes of an active segment and
 * 'index_interval_bytes' spaces the entries of a rebuilt offset index.
 * Returns an owned segment in *out.
 */
tr_err_t tr_segment_open(const char *dir, int64_t base_offset, int flags,
                         int32_t index_max_bytes, int32_t index_interval_bytes,
                         struct tr_segment **out);
/* Closes the files (no fsync). NULL is a no-op. */
void tr_segment_close(struct tr_segment *seg);
/* Closes and unlinks the segment's three files. NULL is a no-op. */
void tr_segment_delete(struct tr_segment *seg);

/* Bytes removed from the log by recovery at open (0 if none). */
int64_t tr_segment_truncated_bytes(const struct tr_segment *seg);

int64_t tr_segment_base_offset(const struct tr_segment *seg);
/* One past the last offset stored; the base offset when empty. */
int64_t tr_segment_next_offset(const struct tr_segment *seg);
/* Bytes of complete batches in the .log. */
int64_t tr_segment_size(const struct tr_segment *seg);
/* Largest batch MaxTimestamp stored, -1 when none. */
int64_t tr_segment_max_timestamp(const struct tr_segment *seg);
/*
 * When the segment's first batch was appended (wall ms), used to roll by
 * age; on reopen, the first batch's MaxTimestamp or the file time. -1 when
 * empty.
 */
int64_t tr_segment_created_ms(const struct tr_segment *seg);
/* The .log descriptor, borrowed: valid until the segment is closed. */
int tr_segment_fd(const struct tr_segment *seg);
/* 1 when either index has no room for another entry. */
int tr_segment_index_full(const struct tr_segment *seg);

/*
 * Appends 'len' bytes of whole batches whose offsets are final (borrowed),
 * with one positioned write at the end of the log. On a failed or short
 * write the log is truncated back so nothing partial stays: TR_ERR_NOSPACE
 * (ENOSPC, EDQUOT, EFBIG) or TR_ERR_IO. Then indexes the batches: an offset
 * entry for the first batch and whenever more than 'index_interval_bytes'
 * have been appended since the last one. 'now_ms' dates a segment's first
 * append.
 */
tr_err_t tr_segment_append(struct tr_segment *seg, const uint8_t *data,
                           size_t len, int32_t index_interval_bytes,
                           int64_t now_ms);

/*
 * Seals the segment when it stops being active: adds the last time-index
 * entry and trims both indexes to their used size. It does not fsync: the
 * caller does that (tr_segment_flush, or fdatasync on a dup of the
 * descriptor outside its lock).
 */
tr_err_t tr_segment_seal(struct tr_segment *seg);
/* fdatasyncs the log and msyncs the indexes. */
tr_err_t tr_segment_flush(struct tr_segment *seg);

/*
 * Finds the range to send for a read starting at 'offset': the first batch
 * whose last offset is >= 'offset', then following whole batches while the
 * total stays within 'max_bytes' (the first batch always counts, KIP-74) and
 * each batch's BaseOffset is below 'max_offset'. *len is 0 when no batch
 * qualifies (offset past the segment's end, or the first batch is at or past
 * 'max_offset'). TR_ERR_CORRUPT if a header on the way is broken.
 */
tr_err_t tr_segment_read_range(struct tr_segment *seg, int64_t offset,
                               size_t max_bytes, int64_t max_offset, off_t *pos,
                               size_t *len);

/*
 * Finds the first batch whose MaxTimestamp is >= 'timestamp': *offset gets
 * its BaseOffset and *ts its MaxTimestamp. TR_ERR_NOT_FOUND when none.
 */
tr_err_t tr_segment_find_time(struct tr_segment *seg, int64_t timestamp,
                              int64_t *offset, int64_t *ts);

/* Called for each batch header in log order; non-TR_OK stops the walk. */
typedef tr_err_t tr_segment_header_cb(const struct tr_batch_header *h,
                                      off_t pos, void *arg);
/* Walks every batch header of the segment (headers only, no CRC check). */
tr_err_t tr_segment_foreach_header(struct tr_segment *seg,
                                   tr_segment_header_cb *cb, void *arg);

/*
 * Reads the batch header at 'pos' of 'fd' whose complete batches end at
 * 'end'. TR_ERR_TRUNCATED if the header or the batch runs past 'end',
 * TR_ERR_CORRUPT for a length below the header size.
 */
tr_err_t tr_segment_read_header(int fd, off_t pos, off_t end,
                                struct tr_batch_header *h);

#endif /* TR_SEGMENT_H */
