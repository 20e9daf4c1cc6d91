/*
 * landing -- the exporter's file layout, and what it finds after a crash.
 *
 *   ROOT/TOPIC/dt=YYYY-MM-DD/hr=HH/TOPIC+PARTITION+FIRST+LAST.EXT
 *
 * The date and hour are those of the records' timestamps (UTC). A file is
 * written as _TOPIC+PARTITION+FIRST.tmp in its final directory (a leading
 * '_' hides it from Hadoop-style readers), fsynced, renamed to its final
 * name, and the directory fsynced. So a visible file is always complete,
 * and the file names alone say which offsets have landed: after a crash
 * the exporter deletes the '_' files and resumes each partition after the
 * highest LAST among its files.
 *
 * NOTE: the name format is also parsed by tests/integration/test_export.py
 * and described in docs/exporter.md -- change all three together.
 */
#ifndef TR_LANDING_H
#define TR_LANDING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* "TOPIC+PARTITION+FIRST+LAST.EXT" into 'buf'; -1 if it does not fit. */
int tr_landing_name(char *buf, size_t len, const char *topic, int32_t partition,
                    int64_t first, int64_t last, const char *ext);
/* "_TOPIC+PARTITION+FIRST.tmp": the name while being written. */
int tr_landing_tmp_name(char *buf, size_t len, const char *topic,
                        int32_t partition, int64_t first);
/*
 * Parses a final file name of 'topic' (Kafka topic names are
 * [a-zA-Z0-9._-], so '+' separates safely). Returns 0 and fills the
 * outputs, or -1 if 'name' is not one of its files.
 */
int tr_landing_parse(const char *name, const char *topic, int32_t *partition,
                     int64_t *first, int64_t *last);
/* "ROOT/TOPIC/dt=YYYY-MM-DD/hr=HH" for a timestamp in ms; -1 on overflow. */
int tr_landing_dir(char *buf, size_t len, const char *root, const char *topic,
                   int64_t ts_ms);
/* The hour bucket of a timestamp (ms / 3600000, negative clamped to 0). */
int64_t tr_landing_hour(int64_t ts_ms);

/*
 * Walks ROOT/TOPIC: deletes every temporary ('_'-prefixed) file when
 * 'remove_tmp', and for each partition p < nparts sets last[p] to the
 * highest LAST among its files (-1 if none). *ntmp counts the temporary
 * files seen. A missing ROOT/TOPIC is not an error.
 */
tr_err_t tr_landing_scan(const char *root, const char *topic, int32_t nparts,
                         int64_t *last, int remove_tmp, size_t *ntmp);

/* mkdir -p. */
tr_err_t tr_landing_mkdirs(const char *path);
/* fsync(2) of a directory, so that a rename in it is durable. */
tr_err_t tr_landing_sync_dir(const char *path);

#endif /* TR_LANDING_H */
