/*
 * logring -- the last few WARN and ERROR log lines, kept in memory for a
 * status page (the collector's console, GET /api/errors).
 *
 * A fixed ring of 'cap' entries, each a time, a level and up to
 * TR_LOGRING_TEXT_MAX bytes of text (longer lines are cut), allocated once:
 * pushing allocates nothing and overwrites the oldest entry when the ring
 * is full. tr_logring_hook() has the shape of the logger's hook
 * (log.h's tr_log_set_hook), so main() connects the two. Any thread may
 * push or read; a mutex guards the ring.
 */
#ifndef TR_LOGRING_H
#define TR_LOGRING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

/* Bytes of text kept per line (NUL excluded). */
#define TR_LOGRING_TEXT_MAX 511

struct tr_logring;

/* One line, as copied out by tr_logring_get. */
struct tr_logring_entry {
    int64_t time_ms;
    enum tr_log_level level;
    char text[TR_LOGRING_TEXT_MAX + 1]; /* NUL-terminated */
};

/* Returns an owned ring of 'cap' (at least 1) entries, or NULL (no memory). */
struct tr_logring *tr_logring_new(size_t cap);
/* NULL is a no-op. */
void tr_logring_free(struct tr_logring *ring);

/* Adds one line ('len' bytes of 'text', borrowed), dropping the oldest. */
void tr_logring_push(struct tr_logring *ring, enum tr_log_level level,
                     int64_t time_ms, const char *text, size_t len);

/* tr_logring_push with 'arg' the ring: a tr_log_hook_cb. */
void tr_logring_hook(void *arg, enum tr_log_level level, int64_t time_ms,
                     const char *text, size_t len);

/*
 * Copies up to 'cap' lines into 'out', newest first; returns how many.
 * Also sets '*total' (may be NULL) to the lines pushed since the ring was
 * made, so a reader can tell how many it missed.
 */
size_t tr_logring_get(struct tr_logring *ring, struct tr_logring_entry *out,
                      size_t cap, uint64_t *total);

#endif /* TR_LOGRING_H */
