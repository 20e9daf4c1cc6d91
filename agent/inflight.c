/*
 * inflight -- the slot pool and per-file acknowledgement queues (see
 * inflight.h).
 */
#include "inflight.h"

#include "alloc.h"

enum {
    SLOT_FREE = 0,
    SLOT_SENT = 1,
    SLOT_ACKED = 2,
    SLOT_FAILED = 3,
};

/* 40 bytes: the start is kept as the bytes between value and end. */
struct slot {
    uint64_t end;
    int64_t timestamp_ms;
    struct tr_inflight_queue *q;
    uint32_t next; /* next in the queue, or in the free list; index + 1 */
    uint32_t len;  /* the value's bytes */
    uint32_t tail; /* end - start - len: the newline, a cut event's rest */
    uint8_t state;
    uint8_t truncated;
};

struct tr_inflight {
    struct slot *slots;
    size_t max, used;
    uint32_t free_head; /* index + 1 */
};

tr_err_t
tr_inflight_new(size_t max, struct tr_inflight **out)
{
    struct tr_inflight *inf = NULL;
    tr_err_t err = TR_ERR_INVALID;

    if (max == 0 || max >= UINT32_MAX) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    inf = tr_calloc(1, sizeof(*inf));
    if (inf == NULL) {
        goto out;
    }
    inf->slots = tr_calloc(max, sizeof(*inf->slots));
    if (inf->slots == NULL) {
        goto out;
    }
    inf->max = max;
    for (size_t i = 0; i < max; i++) {
        inf->slots[i].next = i + 1 < max ? (uint32_t)(i + 2) : 0;
    }
    inf->free_head = 1;
    *out = inf;
    inf = NULL;
    err = TR_OK;
out:
    tr_inflight_free(inf);
    return err;
}

void
tr_inflight_free(struct tr_inflight *inf)
{
    if (inf == NULL) {
        return;
    }
    tr_free(inf->slots);
    tr_free(inf);
}

void
tr_inflight_queue_init(struct tr_inflight_queue *q, uint64_t offset,
                       void *owner)
{
    q->head = q->tail = q->prev_tail = 0;
    q->count = 0;
    q->failed = 0;
    q->committed = offset;
    q->owner = owner;
    q->gone_dev = q->gone_ino = 0;
    q->gone_fp_len = q->gone_fp_crc = 0;
    q->gone_path = NULL;
}

tr_err_t
tr_inflight_push(struct tr_inflight *inf, struct tr_inflight_queue *q,
                 const struct tr_inflight_line *line, uintptr_t *token)
{
    if (inf->free_head == 0) {
        return TR_ERR_AGAIN;
    }
    uint32_t id = inf->free_head;
    struct slot *s = &inf->slots[id - 1];
    inf->free_head = s->next;
    s->end = line->end;
    s->timestamp_ms = line->timestamp_ms;
    s->len = line->len;
    /* A record's rest past its value is less than one read buffer. */
    s->tail = (uint32_t)(line->end - line->start - line->len);
    s->truncated = line->truncated != 0;
    s->q = q;
    s->next = 0;
    s->state = SLOT_SENT;
    if (q->tail != 0) {
        inf->slots[q->tail - 1].next = id;
    } else {
        q->head = id;
    }
    q->prev_tail = q->tail;
    q->tail = id;
    q->count++;
    inf->used++;
    *token = id;
    return TR_OK;
}

struct tr_inflight_queue *
tr_inflight_token(const struct tr_inflight *inf, uintptr_t token,
                  struct tr_inflight_line *line)
{
    const struct slot *s = &inf->slots[(uint32_t)token - 1];

    line->end = s->end;
    line->start = s->end - s->tail - s->len;
    line->len = s->len;
    line->truncated = s->truncated;
    line->timestamp_ms = s->timestamp_ms;
    return s->q;
}

static void
release(struct tr_inflight *inf, uint32_t id)
{
    struct slot *s = &inf->slots[id - 1];
    s->state = SLOT_FREE;
    s->q = NULL;
    s->next = inf->free_head;
    inf->free_head = id;
    inf->used--;
}

void
tr_inflight_unpush(struct tr_inflight *inf, struct tr_inflight_queue *q,
                   uintptr_t token)
{
    uint32_t id = (uint32_t)token;

    /* The last push: its predecessor is remembered (O(1), not a walk). */
    if (q->head == id) {
        q->head = 0;
        q->tail = 0;
    } else {
        inf->slots[q->prev_tail - 1].next = 0;
        q->tail = q->prev_tail;
    }
    q->prev_tail = 0;
    q->count--;
    release(inf, id);
}

struct tr_inflight_queue *
tr_inflight_done(struct tr_inflight *inf, uintptr_t token, int ok)
{
    uint32_t id = (uint32_t)token;
    struct slot *s = &inf->slots[id - 1];
    struct tr_inflight_queue *q = s->q;

    s->state = ok ? SLOT_ACKED : SLOT_FAILED;
    while (q->head != 0) {
        uint32_t h = q->head;
        struct slot *hs = &inf->slots[h - 1];
        if (hs->state == SLOT_SENT) {
            break;
        }
        if (hs->state == SLOT_FAILED) {
            q->failed = 1;
        }
        if (!q->failed) {
            q->committed = hs->end;
        }
        q->head = hs->next;
        if (q->head == 0) {
            q->tail = 0;
        }
        if (q->prev_tail == h) {
            q->prev_tail = 0; /* gone: a last push is now the head */
        }
        q->count--;
        release(inf, h);
    }
    return q;
}

size_t
tr_inflight_used(const struct tr_inflight *inf)
{
    return inf->used;
}

size_t
tr_inflight_free_slots(const struct tr_inflight *inf)
{
    return inf->max - inf->used;
}
