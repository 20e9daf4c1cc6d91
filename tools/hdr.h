/*
 * hdr -- an HDR-style latency histogram for the bench tool.
 *
 * Values (microseconds in the bench tool, but any positive integer unit)
 * are counted in log-linear buckets as in Gil Tene's HdrHistogram: each
 * power-of-two range is split into 2^k equal sub-buckets, with k chosen so
 * that any recorded value is reported within 10^-d of its true value
 * (d = significant digits, 1 to 5). Recording is O(1) and never
 * allocates, so it can sit on a hot path; memory is fixed at creation
 * (about 2^k * log2(highest) counters of 8 bytes: ~200 KiB for one hour
 * in microseconds at 3 digits).
 *
 * Percentiles are reported as the highest value equivalent to the bucket
 * holding that rank, so a reported p99 is never below the true p99.
 * Values above 'highest' are clamped to it and counted in
 * tr_hdr_clamped(); min and max are kept exactly.
 *
 * Thread safety: none.
 */
#ifndef TR_HDR_H
#define TR_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_hdr;

/*
 * Returns an owned histogram in *out that tracks values 1..'highest' (>= 2)
 * with 'digits' significant decimal digits (1-5). TR_ERR_INVALID for bad
 * arguments, TR_ERR_NOMEM.
 */
tr_err_t tr_hdr_new(int64_t highest, int digits, struct tr_hdr **out);
/* NULL is a no-op. */
void tr_hdr_free(struct tr_hdr *h);
/* Forgets every value. */
void tr_hdr_reset(struct tr_hdr *h);

/* Counts 'value' once; values below 1 count as 1 (min keeps the truth). */
void tr_hdr_record(struct tr_hdr *h, int64_t value);
/* Counts 'value' 'count' times. */
void tr_hdr_record_n(struct tr_hdr *h, int64_t value, int64_t count);
/*
 * Adds every value of 'src' (borrowed) to 'dst'. Both must have been
 * created with the same 'highest' and 'digits': TR_ERR_INVALID otherwise.
 */
tr_err_t tr_hdr_merge(struct tr_hdr *dst, const struct tr_hdr *src);

int64_t tr_hdr_count(const struct tr_hdr *h);
/* Exact smallest and largest recorded values; 0 when empty. */
int64_t tr_hdr_min(const struct tr_hdr *h);
int64_t tr_hdr_max(const struct tr_hdr *h);
/* Mean of the exact values (not of the buckets); 0 when empty. */
double tr_hdr_mean(const struct tr_hdr *h);
/* Values that were above 'highest' and were counted as 'highest'. */
int64_t tr_hdr_clamped(const struct tr_hdr *h);

/*
 * The value at percentile 'p' (0-100): the highest value equivalent to the
 * bucket that holds the ceil(p/100 * count)-th smallest value, capped at
 * the exact max. 0 when empty.
 */
int64_t tr_hdr_percentile(const struct tr_hdr *h, double p);

/*
 * Size of the range of values counted as equal to 'value' (1 for small
 * values); exposed so tests can check the precision promise.
 */
int64_t tr_hdr_equivalent_range(const struct tr_hdr *h, int64_t value);

#endif /* TR_HDR_H */
