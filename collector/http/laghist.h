/*
 * laghist -- a bounded in-memory history of each consumer group's total
 * lag, for the console's chart of the last hour (GET /api/groups).
 *
 * The console samples every group it sees every TR_LAGHIST_INTERVAL_MS and
 * keeps the last 'nsamples' per group (120 x 30 s: one hour) for at most
 * 'max_groups' groups. A group not sampled for a whole history's length is
 * forgotten, and when the table is full the group sampled longest ago
 * makes room, so memory stays within max_groups x nsamples samples
 * whatever clients do with group ids. Main thread only (no lock).
 */
#ifndef TR_LAGHIST_H
#define TR_LAGHIST_H

#include <stddef.h>
#include <stdint.h>

#define TR_LAGHIST_INTERVAL_MS 30000
#define TR_LAGHIST_SAMPLES     120
#define TR_LAGHIST_GROUPS      1000

struct tr_laghist;

struct tr_laghist_sample {
    int64_t time_ms;
    int64_t lag;
};

/* Returns an owned, empty history, or NULL (no memory, or a zero size). */
struct tr_laghist *tr_laghist_new(size_t nsamples, size_t max_groups);
/* NULL is a no-op. */
void tr_laghist_free(struct tr_laghist *h);

/*
 * Records 'group''s total 'lag' at 'now_ms' ('group' is copied). Groups
 * whose last sample is older than nsamples x 'interval_ms' are dropped
 * first. Returns 0, or -1 when out of memory (the sample is lost).
 */
int tr_laghist_add(struct tr_laghist *h, const char *group, int64_t now_ms,
                   int64_t lag, int64_t interval_ms);

/*
 * Copies up to 'cap' samples of 'group', oldest first, into 'out'; returns
 * how many (0 for a group without any).
 */
size_t tr_laghist_get(const struct tr_laghist *h, const char *group,
                      struct tr_laghist_sample *out, size_t cap);

/* The number of groups kept. */
size_t tr_laghist_groups(const struct tr_laghist *h);

#endif /* TR_LAGHIST_H */
