/*
 * progress -- a one-line terminal progress bar with rate and time left.
 *
 * Drawn on stderr only when stderr is a terminal (or when forced for
 * tests); otherwise every call does nothing, so scripts and logs stay
 * quiet. Redraws at most ten times a second.
 */
#ifndef TR_PROGRESS_H
#define TR_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct tr_progress {
    FILE *out;        /* private; NULL when disabled */
    const char *unit; /* private */
    int64_t total;    /* private; <= 0: unknown */
    int64_t done;     /* private */
    int64_t start_ms; /* private */
    int64_t last_ms;  /* private */
};

/*
 * Starts a bar counting 'unit' (borrowed) towards 'total' (<= 0: unknown,
 * then only the count and the rate are shown). 'force' draws even when
 * stderr is not a terminal.
 */
void tr_progress_init(struct tr_progress *p, const char *unit, int64_t total,
                      int force);
void tr_progress_set_total(struct tr_progress *p, int64_t total);
void tr_progress_update(struct tr_progress *p, int64_t done);
/* Draws the final state and ends the line. */
void tr_progress_finish(struct tr_progress *p);
/*
 * Formats the bar for 'done' of 'total' after 'elapsed_ms' into 'buf'
 * ('width' cells of bar). Exposed for tests.
 */
void tr_progress_format(char *buf, size_t len, const char *unit, int64_t done,
                        int64_t total, int64_t elapsed_ms, int width);

#endif /* TR_PROGRESS_H */
