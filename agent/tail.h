/*
 * tail -- reading log files: file identity, and cutting the bytes read into
 * lines or multiline events.
 *
 * Identity is (device, inode, CRC-32C of the first bytes). Device and inode
 * alone are not enough: an inode freed by a deleted file is soon reused by
 * a new one, and taking it for the old file would skip the new file's
 * first bytes (Fluent Bit #1875, Filebeat #1341). A file whose first bytes
 * no longer match, or that is now shorter than the position read, is a new
 * file (copytruncate, inode reuse) and is read from its start.
 *
 * The splitter works on a window of the file that starts at a line
 * boundary; it never keeps bytes between calls. A partial last line or an
 * unfinished event is simply not consumed, and is read again (the file is
 * the buffer), so no per-file memory grows with line length.
 */
#ifndef TR_AGENT_TAIL_H
#define TR_AGENT_TAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"

struct tr_parse;

struct tr_tail_id {
    uint64_t dev, ino;
    uint32_t fp_len; /* bytes the CRC covers (< the maximum for small files) */
    uint32_t fp_crc;
};

/*
 * Computes the CRC-32C of the first min(size, max) bytes of 'fd' into
 * id->fp_len and id->fp_crc.
 */
tr_err_t tr_tail_fingerprint(int fd, uint32_t max, struct tr_tail_id *id);

/*
 * Returns 1 if the open file 'fd' (with 'st' from fstat) is the file 'id'
 * describes: same device and inode, at least fp_len bytes long, and the same
 * CRC over them. 0 otherwise; -1 on a read error.
 */
int tr_tail_same(int fd, const struct stat *st, const struct tr_tail_id *id);

/* Splitter state kept per file between calls. */
struct tr_split_state {
    int skip; /* enum: 0 none; 1 rest of a cut line; 2 rest of a cut event */
};

/* Flags for tr_tail_split. */
#define TR_SPLIT_FLUSH_PARTIAL 1 /* a last line without newline is complete */
#define TR_SPLIT_FLUSH_EVENT   2 /* an unfinished event is complete */

/*
 * Called once per line or event. 'off' is the file offset of its first
 * byte, 'end' the offset just past it (and past its newline); 'data' (no
 * trailing newline) is borrowed for the call. Returning anything but TR_OK
 * (TR_ERR_AGAIN for backpressure) stops the split before this record.
 */
typedef tr_err_t tr_split_emit_cb(void *arg, uint64_t off, const char *data,
                                  size_t len, uint64_t end, int truncated);

struct tr_split_opts {
    size_t max_line;     /* longer lines are cut */
    size_t max_event;    /* longer events are cut (multiline only) */
    struct tr_parse *ml; /* borrowed: multiline start pattern, or NULL */
};

/*
 * Splits 'len' bytes of 'buf', which start at file offset 'base' at a line
 * (or event) boundary. Emits every complete line or event and returns in
 * *consumed how many bytes were used up: the caller continues from
 * base + *consumed next time. A callback's TR_ERR_AGAIN (backpressure)
 * stops the split before the refused record and returns TR_OK, as running
 * out of bytes does; any other error is returned.
 */
tr_err_t tr_tail_split(struct tr_split_state *st,
                       const struct tr_split_opts *opts, const char *buf,
                       size_t len, uint64_t base, int flags,
                       tr_split_emit_cb *emit, void *arg, size_t *consumed);

#endif /* TR_AGENT_TAIL_H */
