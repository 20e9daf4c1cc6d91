/*
 * hdr -- an HDR-style latency histogram for the bench tool.
 *
 * Layout, as in HdrHistogram: bucket 0 covers [0, 2^k) with 2^k
 * sub-buckets of width 1; bucket b > 0 covers [2^(k+b-1), 2^(k+b)) with
 * the upper 2^(k-1) sub-buckets of width 2^b (the lower half would
 * duplicate bucket b-1). So counts are one flat array of
 * (buckets + 1) * 2^(k-1) entries, indexed without loops or division.
 */
#include "hdr.h"

#include <string.h>

#include "alloc.h"

struct tr_hdr {
    int64_t highest;
    int digits;
    int sub_bucket_count_magnitude; /* k */
    int sub_bucket_half_count_magnitude;
    int64_t sub_bucket_count;
    int64_t sub_bucket_half_count;
    int64_t sub_bucket_mask;
    int bucket_count;
    size_t counts_len;
    int64_t total;
    int64_t min;
    int64_t max;
    int64_t clamped;
    double sum;
    int64_t *counts;
};

static int
bucket_index(const struct tr_hdr *h, int64_t v)
{
    /* Position of the highest set bit of (v | mask), minus the width of
     * bucket 0, gives how many doublings past bucket 0 'v' sits. */
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask));

    return pow2ceiling - (h->sub_bucket_half_count_magnitude + 1);
}

static size_t
counts_index(const struct tr_hdr *h, int64_t v)
{
    int b = bucket_index(h, v);
    int64_t sub = v >> b;
    int64_t base = (int64_t)(b + 1) << h->sub_bucket_half_count_magnitude;

    return (size_t)(base + (sub - h->sub_bucket_half_count));
}

/* The smallest value counted at 'idx'. */
static int64_t
value_at_index(const struct tr_hdr *h, size_t idx)
{
    int64_t b = ((int64_t)idx >> h->sub_bucket_half_count_magnitude) - 1;
    int64_t sub = ((int64_t)idx & (h->sub_bucket_half_count - 1)) +
                  h->sub_bucket_half_count;

    if (b < 0) {
        sub -= h->sub_bucket_half_count;
        b = 0;
    }
    return sub << b;
}

int64_t
tr_hdr_equivalent_range(const struct tr_hdr *h, int64_t value)
{
    if (value < 1) {
        value = 1;
    }
    return (int64_t)1 << bucket_index(h, value);
}

tr_err_t
tr_hdr_new(int64_t highest, int digits, struct tr_hdr **out)
{
    tr_err_t err = TR_ERR_INVALID;
    struct tr_hdr *h = NULL;
    int64_t largest_single_unit = 2;
    int64_t smallest_untrackable;
    int i;

    *out = NULL;
    if (highest < 2 || digits < 1 || digits > 5) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    h = tr_calloc(1, sizeof(*h));
    if (h == NULL) {
        goto out;
    }
    h->highest = highest;
    h->digits = digits;
    for (i = 0; i < digits; i++) {
        largest_single_unit *= 10;
    }
    /* 2 * 10^d sub-buckets keep the relative error under 10^-d. */
    h->sub_bucket_count_magnitude =
        64 - __builtin_clzll((uint64_t)largest_single_unit - 1);
    h->sub_bucket_half_count_magnitude = h->sub_bucket_count_magnitude - 1;
    h->sub_bucket_count = (int64_t)1 << h->sub_bucket_count_magnitude;
    h->sub_bucket_half_count = h->sub_bucket_count / 2;
    h->sub_bucket_mask = h->sub_bucket_count - 1;

    smallest_untrackable = h->sub_bucket_count;
    h->bucket_count = 1;
    while (smallest_untrackable <= highest) {
        if (smallest_untrackable > INT64_MAX / 2) {
            h->bucket_count++;
            break;
        }
        smallest_untrackable <<= 1;
        h->bucket_count++;
    }
    h->counts_len =
        (size_t)(h->bucket_count + 1) * (size_t)h->sub_bucket_half_count;
    h->counts = tr_calloc(h->counts_len, sizeof(*h->counts));
    if (h->counts == NULL) {
        goto out;
    }
    *out = h;
    h = NULL;
    err = TR_OK;
out:
    tr_hdr_free(h);
    return err;
}

void
tr_hdr_free(struct tr_hdr *h)
{
    if (h == NULL) {
        return;
    }
    tr_free(h->counts);
    tr_free(h);
}

void
tr_hdr_reset(struct tr_hdr *h)
{
    memset(h->counts, 0, h->counts_len * sizeof(*h->counts));
    h->total = 0;
    h->min = 0;
    h->max = 0;
    h->clamped = 0;
    h->sum = 0;
}

void
tr_hdr_record_n(struct tr_hdr *h, int64_t value, int64_t count)
{
    int64_t v = value;

    if (count <= 0) {
        return;
    }
    if (h->total == 0 || value < h->min) {
        h->min = value;
    }
    if (h->total == 0 || value > h->max) {
        h->max = value;
    }
    h->total += count;
    h->sum += (double)value * (double)count;
    if (v < 1) {
        v = 1;
    }
    if (v > h->highest) {
        v = h->highest;
        h->clamped += count;
    }
    h->counts[counts_index(h, v)] += count;
}

void
tr_hdr_record(struct tr_hdr *h, int64_t value)
{
    tr_hdr_record_n(h, value, 1);
}

tr_err_t
tr_hdr_merge(struct tr_hdr *dst, const struct tr_hdr *src)
{
    size_t i;

    if (dst->highest != src->highest || dst->digits != src->digits) {
        return TR_ERR_INVALID;
    }
    if (src->total == 0) {
        return TR_OK;
    }
    for (i = 0; i < dst->counts_len; i++) {
        dst->counts[i] += src->counts[i];
    }
    if (dst->total == 0 || src->min < dst->min) {
        dst->min = src->min;
    }
    if (dst->total == 0 || src->max > dst->max) {
        dst->max = src->max;
    }
    dst->total += src->total;
    dst->sum += src->sum;
    dst->clamped += src->clamped;
    return TR_OK;
}

int64_t
tr_hdr_count(const struct tr_hdr *h)
{
    return h->total;
}

int64_t
tr_hdr_min(const struct tr_hdr *h)
{
    return h->min;
}

int64_t
tr_hdr_max(const struct tr_hdr *h)
{
    return h->max;
}

double
tr_hdr_mean(const struct tr_hdr *h)
{
    return h->total == 0 ? 0.0 : h->sum / (double)h->total;
}

int64_t
tr_hdr_clamped(const struct tr_hdr *h)
{
    return h->clamped;
}

int64_t
tr_hdr_percentile(const struct tr_hdr *h, double p)
{
    int64_t rank;
    int64_t seen = 0;
    double x;
    size_t i;

    if (h->total == 0) {
        return 0;
    }
    if (p < 0) {
        p = 0;
    }
    if (p > 100) {
        p = 100;
    }
    /* Rank of the value wanted, ceil(p% of count), 1-based; the small
     * slack keeps 99.9% of 1000 at 999 despite binary rounding. */
    x = (p / 100.0) * (double)h->total - 1e-9;
    rank = (int64_t)x;
    if ((double)rank < x) {
        rank++;
    }
    if (rank < 1) {
        rank = 1;
    }
    for (i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t lo = value_at_index(h, i);
            int64_t hi = lo + tr_hdr_equivalent_range(h, lo) - 1;

            if (hi > h->max) {
                hi = h->max;
            }
            if (hi < h->min) {
                hi = h->min;
            }
            return hi;
        }
    }
    return h->max;
}
