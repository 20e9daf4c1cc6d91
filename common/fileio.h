/*
 * fileio -- replacing a small file atomically: the whole new content is
 * written to a temporary file beside it (with its final mode from the
 * start), fsynced, renamed over the old one, and the directory fsynced, so
 * a crash leaves either the old file or the new one, never a mix. For the
 * collector's small state files (.scram-credentials, .quotas).
 */
#ifndef TR_FILEIO_H
#define TR_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* fsyncs directory 'dir' (a rename in it becomes durable). */
tr_err_t tr_fileio_sync_dir(const char *dir);

/*
 * Replaces 'dir'/'name' with the 'len' bytes at 'data', mode 'mode'.
 * TR_ERR_INVALID for a path too long, TR_ERR_IO on a failed write; the
 * temporary file ('name'.tmp) is removed on failure.
 */
tr_err_t tr_fileio_replace(const char *dir, const char *name, const void *data,
                           size_t len, mode_t mode);

#endif /* TR_FILEIO_H */
