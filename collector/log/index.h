/*
 * index -- the sparse offset index and the time index of one log segment.
 *
 * Both are files of fixed-size big-endian entries, preallocated to the
 * configured maximum while the segment is active, mapped into memory, and
 * searched by bisection for the greatest entry not above a target. Offsets
 * are stored relative to the segment's base offset, so they are 4 bytes.
 *
 *   offset index (NNN.index), 8 bytes per entry:
 *   +---------------------------+---------------------------+
 *   | int32 BaseOffset - base   | int32 file position       |
 *   +---------------------------+---------------------------+
 *   The entry names a batch by its BaseOffset and the position of its first
 *   byte in the .log; relative offsets and positions strictly increase.
 *
 *   time index (NNN.timeindex), 12 bytes per entry:
 *   +-----------------------------------------+---------------------------+
 *   | int64 largest MaxTimestamp so far       | int32 BaseOffset - base   |
 *   +-----------------------------------------+---------------------------+
 *   The offset is that of the first batch that reached the timestamp;
 *   timestamps strictly increase, offsets never decrease.
 *
 * The indexes hold no checksum: they are a cache of the log. After a crash,
 * or whenever tr_index_check() finds one inconsistent, the segment rebuilds
 * it from the log, which is the only source of truth.
 *
 * NOTE: these layouts match Kafka's .index/.timeindex entry sizes; a change
 * here must also change segment.c (which decides what is indexed) and any
 * tool that dumps indexes.
 *
 * Thread safety: none; the owning segment's partition lock guards it.
 */
#ifndef TR_INDEX_H
#define TR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TR_INDEX_OFFSET_ENTRY_SIZE 8
#define TR_INDEX_TIME_ENTRY_SIZE   12

enum tr_index_kind {
    TR_INDEX_OFFSET = 0, /* .index */
    TR_INDEX_TIME = 1,   /* .timeindex */
};

/* One decoded entry; 'value' is a file position or a timestamp. */
struct tr_index_entry {
    int64_t offset; /* absolute offset */
    int64_t value;  /* offset index: file position; time index: timestamp */
};

struct tr_index;

/*
 * Opens (creating if needed) the index file 'path' of the segment whose base
 * offset is 'base_offset', and maps it with room for 'max_bytes' (rounded
 * down to whole entries; 0 maps only the entries present, for a sealed
 * segment). The number of entries in use is the file's length divided by the
 * entry size, so a file left preallocated by a crash shows trailing zero
 * entries that tr_index_check() rejects. Returns an owned index in *out.
 */
tr_err_t tr_index_open(const char *path, enum tr_index_kind kind,
                       int64_t base_offset, size_t max_bytes,
                       struct tr_index **out);
/* Unmaps and closes without changing the file. NULL is a no-op. */
void tr_index_close(struct tr_index *idx);

/*
 * Checks the entries in use: sizes, ordering, relative offsets not negative,
 * positions below 'log_size'. TR_ERR_CORRUPT when the index must be rebuilt.
 */
tr_err_t tr_index_check(const struct tr_index *idx, int64_t log_size);

/*
 * Appends an offset-index entry. TR_ERR_TOO_LARGE when full, TR_ERR_INVALID
 * when 'offset' or 'pos' does not increase or does not fit.
 */
tr_err_t tr_index_append_offset(struct tr_index *idx, int64_t offset,
                                int64_t pos);
/*
 * Appends a time-index entry if 'timestamp' is above the last one (TR_OK
 * without appending otherwise). TR_ERR_TOO_LARGE when full.
 */
tr_err_t tr_index_append_time(struct tr_index *idx, int64_t timestamp,
                              int64_t offset);

/*
 * Finds the greatest entry whose key (offset for the offset index, timestamp
 * for the time index) is <= 'target'. When there is none, *e is
 * { base_offset, 0 } for the offset index and { base_offset, -1 } for the
 * time index, so a forward scan from it starts at the segment's start.
 */
void tr_index_lookup(const struct tr_index *idx, int64_t target,
                     struct tr_index_entry *e);
/* The n-th entry (n < tr_index_entries()). */
void tr_index_entry_at(const struct tr_index *idx, size_t n,
                       struct tr_index_entry *e);
/* TR_ERR_NOT_FOUND when the index is empty. */
tr_err_t tr_index_last(const struct tr_index *idx, struct tr_index_entry *e);

size_t tr_index_entries(const struct tr_index *idx);
size_t tr_index_capacity(const struct tr_index *idx);
/* 1 when no further entry fits. */
int tr_index_full(const struct tr_index *idx);

/* Drops every entry whose offset is >= 'offset'. */
void tr_index_truncate_to(struct tr_index *idx, int64_t offset);
/* Drops every entry (before a rebuild). */
void tr_index_reset(struct tr_index *idx);

/*
 * Sets the file length to the used entries plus room for 'max_bytes' in
 * total (0: exactly the used entries, which seals the index) and maps it
 * again.
 */
tr_err_t tr_index_resize(struct tr_index *idx, size_t max_bytes);
/* msyncs the used entries. */
tr_err_t tr_index_sync(struct tr_index *idx);

#endif /* TR_INDEX_H */
