/*
 * producers -- idempotent-producer state: an open-addressing hash table
 * from producer id to its epoch and last five batches. See producers.h for
 * the sequence rules.
 */
#include "producers.h"

#include "alloc.h"

#define INITIAL_SLOTS 16

struct producer {
    int64_t producer_id; /* -1: free slot */
    int16_t epoch;
    /* Of the newest marker (-1: none): markers of an older transaction
     * coordinator are refused (TRANSACTION_COORDINATOR_FENCED). */
    int32_t coordinator_epoch;
    int nbatches; /* 0: reserved, nothing known yet */
    /* Oldest first; at most TR_PRODUCERS_BATCHES_RETAINED. */
    struct tr_producer_batch batches[TR_PRODUCERS_BATCHES_RETAINED];
};

struct tr_producers {
    struct producer *slots;
    size_t nslots; /* a power of two */
    size_t count;
};

/* splitmix64's finaliser: producer ids are sequential, so mix them. */
static size_t
hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id;

    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static struct producer *
find_slot(struct producer *slots, size_t nslots, int64_t id)
{
    size_t i = hash_id(id) & (nslots - 1);

    while (slots[i].producer_id != -1 && slots[i].producer_id != id) {
        i = (i + 1) & (nslots - 1);
    }
    return &slots[i];
}

static struct producer *
alloc_slots(size_t n)
{
    struct producer *slots = tr_calloc(n, sizeof(*slots));
    size_t i;

    if (slots != NULL) {
        for (i = 0; i < n; i++) {
            slots[i].producer_id = -1;
        }
    }
    return slots;
}

struct tr_producers *
tr_producers_new(void)
{
    struct tr_producers *ps = tr_calloc(1, sizeof(*ps));

    if (ps == NULL) {
        return NULL;
    }
    ps->slots = alloc_slots(INITIAL_SLOTS);
    if (ps->slots == NULL) {
        tr_free(ps);
        return NULL;
    }
    ps->nslots = INITIAL_SLOTS;
    return ps;
}

void
tr_producers_free(struct tr_producers *ps)
{
    if (ps == NULL) {
        return;
    }
    tr_free(ps->slots);
    tr_free(ps);
}

size_t
tr_producers_count(const struct tr_producers *ps)
{
    return ps->count;
}

int32_t
tr_producers_last_seq(int32_t first_seq, int32_t last_offset_delta)
{
    int64_t last = (int64_t)first_seq + last_offset_delta;

    /* Sequences wrap from INT32_MAX to 0, as in Kafka's incrementSequence. */
    if (last > INT32_MAX) {
        last -= (int64_t)INT32_MAX + 1;
    }
    return (int32_t)last;
}

static int32_t
next_seq(int32_t seq)
{
    return seq == INT32_MAX ? 0 : seq + 1;
}

static const struct producer *
lookup(const struct tr_producers *ps, int64_t id)
{
    const struct producer *p = find_slot(ps->slots, ps->nslots, id);

    return p->producer_id == id ? p : NULL;
}

/* Checks 'b' against the producer's epoch and last sequence. */
static tr_err_t
check_follows(const struct tr_producer_batch *b, int16_t epoch,
              int32_t last_seq)
{
    if (b->epoch < epoch) {
        return TR_ERR_FENCED;
    }
    if (b->epoch > epoch) {
        return b->first_seq == 0 ? TR_OK : TR_ERR_SEQUENCE;
    }
    return b->first_seq == next_seq(last_seq) ? TR_OK : TR_ERR_SEQUENCE;
}

tr_err_t
tr_producers_check(const struct tr_producers *ps,
                   const struct tr_producer_batch *b,
                   const struct tr_producer_batch *prev, size_t nprev,
                   struct tr_producer_batch *orig)
{
    const struct producer *p;
    const struct tr_producer_batch *last;
    size_t i;

    /* A batch earlier in the same record set is the newest state. */
    for (i = nprev; i > 0; i--) {
        if (prev[i - 1].producer_id == b->producer_id) {
            return check_follows(b, prev[i - 1].epoch, prev[i - 1].last_seq);
        }
    }
    p = lookup(ps, b->producer_id);
    if (p == NULL || (p->nbatches == 0 && p->epoch < 0)) {
        return TR_OK;
    }
    if (p->nbatches == 0) {
        /* Only a marker's epoch is known: fence older epochs. */
        return b->epoch < p->epoch ? TR_ERR_FENCED : TR_OK;
    }
    if (b->epoch == p->epoch) {
        for (i = 0; i < (size_t)p->nbatches; i++) {
            if (p->batches[i].first_seq == b->first_seq &&
                p->batches[i].last_seq == b->last_seq) {
                *orig = p->batches[i];
                return TR_ERR_DUPLICATE;
            }
        }
    }
    last = &p->batches[p->nbatches - 1];
    return check_follows(b, p->epoch, last->last_seq);
}

static tr_err_t
grow(struct tr_producers *ps)
{
    size_t n = ps->nslots * 2;
    struct producer *slots = alloc_slots(n);
    size_t i;

    if (slots == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < ps->nslots; i++) {
        if (ps->slots[i].producer_id != -1) {
            *find_slot(slots, n, ps->slots[i].producer_id) = ps->slots[i];
        }
    }
    tr_free(ps->slots);
    ps->slots = slots;
    ps->nslots = n;
    return TR_OK;
}

tr_err_t
tr_producers_reserve(struct tr_producers *ps, int64_t producer_id)
{
    tr_err_t err = TR_OK;
    struct producer *p = find_slot(ps->slots, ps->nslots, producer_id);

    if (p->producer_id == producer_id) {
        goto out;
    }
    /* Keep the table at most half full so probes stay short. */
    if ((ps->count + 1) * 2 > ps->nslots) {
        err = grow(ps);
        if (err != TR_OK) {
            goto out;
        }
        p = find_slot(ps->slots, ps->nslots, producer_id);
    }
    p->producer_id = producer_id;
    p->epoch = -1;
    p->coordinator_epoch = -1;
    p->nbatches = 0;
    ps->count++;
out:
    return err;
}

tr_err_t
tr_producers_update(struct tr_producers *ps, const struct tr_producer_batch *b)
{
    tr_err_t err;
    struct producer *p;
    int i;

    err = tr_producers_reserve(ps, b->producer_id);
    if (err != TR_OK) {
        goto out;
    }
    p = find_slot(ps->slots, ps->nslots, b->producer_id);
    if (p->nbatches == 0 || b->epoch != p->epoch) {
        p->epoch = b->epoch;
        p->nbatches = 0;
    }
    if (p->nbatches == TR_PRODUCERS_BATCHES_RETAINED) {
        for (i = 1; i < TR_PRODUCERS_BATCHES_RETAINED; i++) {
            p->batches[i - 1] = p->batches[i];
        }
        p->nbatches--;
    }
    p->batches[p->nbatches++] = *b;
out:
    return err;
}

int64_t
tr_producers_last_batch_offset(const struct tr_producers *ps,
                               int64_t producer_id)
{
    const struct producer *p;

    if (producer_id < 0) {
        return -1;
    }
    p = find_slot(ps->slots, ps->nslots, producer_id);
    if (p->producer_id != producer_id || p->nbatches == 0) {
        return -1;
    }
    return p->batches[p->nbatches - 1].first_offset;
}

int16_t
tr_producers_epoch(const struct tr_producers *ps, int64_t producer_id)
{
    const struct producer *p = lookup(ps, producer_id);

    return p != NULL ? p->epoch : -1;
}

tr_err_t
tr_producers_mark_epoch(struct tr_producers *ps, int64_t producer_id,
                        int16_t epoch, int32_t coordinator_epoch)
{
    struct producer *p;
    tr_err_t err;

    err = tr_producers_reserve(ps, producer_id);
    if (err != TR_OK) {
        return err;
    }
    p = find_slot(ps->slots, ps->nslots, producer_id);
    if (epoch > p->epoch) {
        /* A new epoch restarts the sequence; the same one continues it. */
        p->epoch = epoch;
        p->nbatches = 0;
    }
    if (coordinator_epoch > p->coordinator_epoch) {
        p->coordinator_epoch = coordinator_epoch;
    }
    return TR_OK;
}

int32_t
tr_producers_coordinator_epoch(const struct tr_producers *ps,
                               int64_t producer_id)
{
    const struct producer *p = lookup(ps, producer_id);

    return p != NULL ? p->coordinator_epoch : -1;
}

size_t
tr_producers_list(const struct tr_producers *ps, struct tr_producer_state *out,
                  size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < ps->nslots; i++) {
        const struct producer *p = &ps->slots[i];

        if (p->producer_id == -1) {
            continue;
        }
        if (n < max) {
            out[n].producer_id = p->producer_id;
            out[n].epoch = p->epoch;
            out[n].last_seq =
                p->nbatches > 0 ? p->batches[p->nbatches - 1].last_seq : -1;
            out[n].last_offset =
                p->nbatches > 0 ? p->batches[p->nbatches - 1].last_offset : -1;
            out[n].coordinator_epoch = p->coordinator_epoch;
        }
        n++;
    }
    return n;
}
