/*
 * pidgen -- producer ids for idempotent producers, unique across restarts.
 *
 * Ids are handed out from blocks; before the first id of a block is used,
 * the block's end is written durably to "<log.dir>/producer-id-block"
 * (temporary file, fsync, rename). After a crash the next block starts past
 * anything that may have been handed out, so an id is never reused.
 * Thread safety: any thread.
 */
#ifndef TR_PIDGEN_H
#define TR_PIDGEN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_pidgen;

/* Returns an owned generator in *out. */
tr_err_t tr_pidgen_open(const char *log_dir, struct tr_pidgen **out,
                        char *errbuf, size_t errlen);
void tr_pidgen_close(struct tr_pidgen *gen);
tr_err_t tr_pidgen_next(struct tr_pidgen *gen, int64_t *producer_id);

#endif /* TR_PIDGEN_H */
