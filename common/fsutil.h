/*
 * fsutil -- durable file writes shared by the stores that rewrite a whole
 * small file at each change (the authorizer's .acls, the SCRAM credential
 * store): write everything, fsync a directory, and replace a file
 * atomically so that a crash leaves the old file or the new one, never a
 * mix. Also a whole-range read (the cleaner, the agent's journal rebuild).
 */
#ifndef TR_FSUTIL_H
#define TR_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* fsyncs directory 'dir' (a rename in it becomes durable); TR_ERR_IO. */
tr_err_t tr_fsync_dir(const char *dir);

/* Writes all 'len' bytes at 'data' to 'fd', retrying on EINTR; TR_ERR_IO. */
tr_err_t tr_write_all(int fd, const void *data, size_t len);

/*
 * Reads exactly 'len' bytes of 'fd' at offset 'off' into 'buf', retrying
 * on EINTR and short reads; TR_ERR_IO, or TR_ERR_TRUNCATED when the file
 * ends first.
 */
tr_err_t tr_read_at(int fd, void *buf, size_t len, uint64_t off);

/*
 * Replaces 'dir'/'name' by 'len' bytes at 'data': writes 'name'.tmp with
 * 'mode' (set before any byte is written), fsyncs it, renames it over the
 * file and fsyncs 'dir'. On failure the temporary file is removed and the
 * old file is untouched. TR_ERR_IO, or TR_ERR_INVALID for a path too long.
 */
tr_err_t tr_replace_file(const char *dir, const char *name, const void *data,
                         size_t len, mode_t mode);

#endif /* TR_FSUTIL_H */
