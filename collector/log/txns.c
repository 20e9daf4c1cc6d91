/*
 * txns -- open transactions and the aborted-transaction index of one
 * partition. See txns.h. Open transactions are few (one per transactional
 * producer writing to the partition), so they sit in a small unsorted
 * array; the aborted index is an array in marker order.
 */
#include "txns.h"

#include <string.h>

#include "alloc.h"

/* A transaction whose marker is written but not yet below the HW. */
struct completing {
    int64_t first_offset;
    int64_t marker_offset;
};

struct tr_txns {
    struct tr_open_txn *open;
    size_t nopen, open_cap;
    struct completing *completing;
    size_t ncompleting, completing_cap;
    struct tr_aborted_txn *aborted; /* ascending last_offset */
    size_t naborted, aborted_cap;
};

struct tr_txns *
tr_txns_new(void)
{
    return tr_calloc(1, sizeof(struct tr_txns));
}

void
tr_txns_free(struct tr_txns *t)
{
    if (t == NULL) {
        return;
    }
    tr_free(t->open);
    tr_free(t->completing);
    tr_free(t->aborted);
    tr_free(t);
}

void
tr_txns_clear(struct tr_txns *t)
{
    t->nopen = 0;
    t->ncompleting = 0;
    t->naborted = 0;
}

static size_t
find_open(const struct tr_txns *t, int64_t producer_id)
{
    size_t i;

    for (i = 0; i < t->nopen; i++) {
        if (t->open[i].producer_id == producer_id) {
            return i;
        }
    }
    return t->nopen;
}

int64_t
tr_txns_open_first(const struct tr_txns *t, int64_t producer_id)
{
    size_t i = find_open(t, producer_id);

    return i < t->nopen ? t->open[i].first_offset : -1;
}

tr_err_t
tr_txns_begin(struct tr_txns *t, int64_t producer_id, int64_t offset)
{
    tr_err_t err;

    if (find_open(t, producer_id) < t->nopen) {
        return TR_OK;
    }
    err = tr_array_reserve(&t->open, &t->open_cap, t->nopen + 1,
                           sizeof(*t->open));
    if (err != TR_OK) {
        return err;
    }
    t->open[t->nopen].producer_id = producer_id;
    t->open[t->nopen].first_offset = offset;
    t->nopen++;
    return TR_OK;
}

int64_t
tr_txns_first_unstable(const struct tr_txns *t)
{
    int64_t first = -1;
    size_t i;

    for (i = 0; i < t->nopen; i++) {
        if (first < 0 || t->open[i].first_offset < first) {
            first = t->open[i].first_offset;
        }
    }
    return first;
}

int64_t
tr_txns_stable_until(struct tr_txns *t, int64_t high_watermark)
{
    int64_t first = tr_txns_first_unstable(t);
    size_t i = 0;

    while (i < t->ncompleting) {
        const struct completing *c = &t->completing[i];
        if (c->marker_offset < high_watermark) {
            t->completing[i] = t->completing[--t->ncompleting];
            continue; /* replicated: complete */
        }
        if (first < 0 || c->first_offset < first) {
            first = c->first_offset;
        }
        i++;
    }
    return first;
}

tr_err_t
tr_txns_end(struct tr_txns *t, int64_t producer_id, int commit,
            int64_t marker_offset, int *had_data)
{
    size_t i = find_open(t, producer_id);
    struct tr_aborted_txn *a;
    int64_t lso;
    tr_err_t err;

    if (had_data != NULL) {
        *had_data = i < t->nopen;
    }
    if (i == t->nopen) {
        return TR_OK; /* a partition added but never written to */
    }
    /* Unstable until the marker is below the high watermark. */
    err = tr_array_reserve(&t->completing, &t->completing_cap,
                           t->ncompleting + 1, sizeof(*t->completing));
    if (err != TR_OK) {
        return err;
    }
    t->completing[t->ncompleting++] =
        (struct completing){ t->open[i].first_offset, marker_offset };
    if (!commit) {
        /* The entry first, then the transaction closes (Kafka's order). */
        err = tr_array_reserve(&t->aborted, &t->aborted_cap, t->naborted + 1,
                               sizeof(*t->aborted));
        if (err != TR_OK) {
            t->ncompleting--;
            return err;
        }
        a = &t->aborted[t->naborted];
        a->producer_id = producer_id;
        a->first_offset = t->open[i].first_offset;
        a->last_offset = marker_offset;
        t->open[i] = t->open[t->nopen - 1];
        t->nopen--;
        lso = tr_txns_first_unstable(t);
        a->last_stable_offset = lso >= 0 ? lso : marker_offset + 1;
        t->naborted++;
        return TR_OK;
    }
    t->open[i] = t->open[t->nopen - 1];
    t->nopen--;
    return TR_OK;
}

tr_err_t
tr_txns_aborted(const struct tr_txns *t, int64_t from, int64_t to,
                struct tr_aborted_txn **out, size_t *count)
{
    size_t lo = 0, hi = t->naborted, mid, i, n = 0, cap = 0;
    struct tr_aborted_txn *res = NULL;
    tr_err_t err = TR_OK;

    *out = NULL;
    *count = 0;
    /* The first entry whose marker is at or after 'from'. */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (t->aborted[mid].last_offset < from) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (i = lo; i < t->naborted; i++) {
        const struct tr_aborted_txn *a = &t->aborted[i];

        if (a->first_offset < to) {
            err = tr_array_reserve(&res, &cap, n + 1, sizeof(*res));
            if (err != TR_OK) {
                goto out;
            }
            res[n++] = *a;
        }
        if (a->last_stable_offset >= to) {
            break;
        }
    }
    *out = res;
    *count = n;
    res = NULL;
out:
    tr_free(res);
    return err;
}

int
tr_txns_is_aborted(const struct tr_txns *t, int64_t producer_id, int64_t offset)
{
    size_t lo = 0, hi = t->naborted, mid, i;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (t->aborted[mid].last_offset < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    /* The producer's first transaction ending after 'offset' holds it. */
    for (i = lo; i < t->naborted; i++) {
        if (t->aborted[i].producer_id == producer_id) {
            return t->aborted[i].first_offset <= offset;
        }
    }
    return 0;
}

void
tr_txns_forget_aborted(struct tr_txns *t, int64_t producer_id,
                       int64_t marker_offset)
{
    size_t lo = 0, hi = t->naborted;

    /* Entries are in marker order: find it by its marker. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->aborted[mid].last_offset < marker_offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < t->naborted && t->aborted[lo].last_offset == marker_offset &&
        t->aborted[lo].producer_id == producer_id) {
        memmove(&t->aborted[lo], &t->aborted[lo + 1],
                (t->naborted - lo - 1) * sizeof(t->aborted[0]));
        t->naborted--;
    }
}

void
tr_txns_prune(struct tr_txns *t, int64_t log_start)
{
    size_t i = 0, j;

    while (i < t->naborted && t->aborted[i].last_offset < log_start) {
        i++;
    }
    if (i == 0) {
        return;
    }
    for (j = i; j < t->naborted; j++) {
        t->aborted[j - i] = t->aborted[j];
    }
    t->naborted -= i;
}

size_t
tr_txns_open_list(const struct tr_txns *t, struct tr_open_txn *out, size_t max)
{
    size_t i;

    for (i = 0; i < t->nopen && i < max; i++) {
        out[i] = t->open[i];
    }
    return t->nopen;
}

size_t
tr_txns_aborted_count(const struct tr_txns *t)
{
    return t->naborted;
}
