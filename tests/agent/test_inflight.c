/*
 * Tests for agent/inflight.c: committed positions under out-of-order
 * acknowledgements, failures and a full pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/inflight.h"
#include "alloc.h"

/* Pushes a record ending at 'end' (a 9-byte line before it). */
static tr_err_t
push(struct tr_inflight *inf, struct tr_inflight_queue *q, uint64_t end,
     uintptr_t *token)
{
    struct tr_inflight_line line = { end - 10, end, 9, 0, 1234 };
    return tr_inflight_push(inf, q, &line, token);
}

static void
test_out_of_order_acks_advance_prefix(void **state)
{
    struct tr_inflight *inf;
    struct tr_inflight_queue q;
    uintptr_t t[4];
    (void)state;

    assert_int_equal(tr_inflight_new(8, &inf), TR_OK);
    tr_inflight_queue_init(&q, 100, &q);
    assert_int_equal(push(inf, &q, 110, &t[0]), TR_OK);
    assert_int_equal(push(inf, &q, 120, &t[1]), TR_OK);
    assert_int_equal(push(inf, &q, 130, &t[2]), TR_OK);
    assert_int_equal(push(inf, &q, 140, &t[3]), TR_OK);
    assert_int_equal(tr_inflight_used(inf), 4);
    /* What the journal asks of a record: where it is in the file. */
    struct tr_inflight_line got;
    assert_ptr_equal(tr_inflight_token(inf, t[2], &got), &q);
    assert_int_equal(got.start, 120);
    assert_int_equal(got.end, 130);
    assert_int_equal(got.len, 9);
    assert_int_equal(got.truncated, 0);
    assert_int_equal(got.timestamp_ms, 1234);

    /* Partition B acknowledges lines 2 and 4 first: nothing moves. */
    assert_ptr_equal(tr_inflight_done(inf, t[1], 1), &q);
    tr_inflight_done(inf, t[3], 1);
    assert_int_equal(q.committed, 100);
    assert_int_equal(q.count, 4);
    /* Line 1 arrives: the prefix 1..2 is complete. */
    tr_inflight_done(inf, t[0], 1);
    assert_int_equal(q.committed, 120);
    assert_int_equal(q.count, 2);
    tr_inflight_done(inf, t[2], 1);
    assert_int_equal(q.committed, 140);
    assert_int_equal(q.count, 0);
    assert_int_equal(tr_inflight_used(inf), 0);
    tr_inflight_free(inf);
}

static void
test_failure_freezes_position(void **state)
{
    struct tr_inflight *inf;
    struct tr_inflight_queue q;
    uintptr_t t[3];
    (void)state;

    assert_int_equal(tr_inflight_new(4, &inf), TR_OK);
    tr_inflight_queue_init(&q, 0, &q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(push(inf, &q, (uint64_t)(i + 1) * 10, &t[i]), TR_OK);
    }
    tr_inflight_done(inf, t[0], 1);
    assert_int_equal(q.committed, 10);
    tr_inflight_done(inf, t[1], 0);
    tr_inflight_done(inf, t[2], 1);
    /* The failed record's line must be read again: stay before it. */
    assert_int_equal(q.committed, 10);
    assert_int_equal(q.failed, 1);
    assert_int_equal(q.count, 0);
    tr_inflight_free(inf);
}

static void
test_pool_full_and_unpush(void **state)
{
    struct tr_inflight *inf;
    struct tr_inflight_queue a, b;
    uintptr_t t1, t2, t3;
    (void)state;

    assert_int_equal(tr_inflight_new(2, &inf), TR_OK);
    tr_inflight_queue_init(&a, 0, &a);
    tr_inflight_queue_init(&b, 0, &b);
    assert_int_equal(push(inf, &a, 5, &t1), TR_OK);
    assert_int_equal(push(inf, &b, 7, &t2), TR_OK);
    assert_int_equal(push(inf, &a, 9, &t3), TR_ERR_AGAIN);
    assert_int_equal(tr_inflight_free_slots(inf), 0);
    tr_inflight_unpush(inf, &b, t2);
    assert_int_equal(b.count, 0);
    assert_int_equal(push(inf, &a, 9, &t3), TR_OK);
    tr_inflight_done(inf, t3, 1);
    assert_int_equal(a.committed, 0); /* t1 still outstanding */
    tr_inflight_done(inf, t1, 1);
    assert_int_equal(a.committed, 9);
    tr_inflight_free(inf);
}

/* Unpush takes back the last push of a long queue, head acked or not. */
static void
test_unpush_tail(void **state)
{
    struct tr_inflight *inf;
    struct tr_inflight_queue q;
    uintptr_t t[4], extra;
    (void)state;

    assert_int_equal(tr_inflight_new(8, &inf), TR_OK);
    tr_inflight_queue_init(&q, 0, &q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(push(inf, &q, (uint64_t)(i + 1) * 10, &t[i]), TR_OK);
    }
    assert_int_equal(push(inf, &q, 40, &extra), TR_OK);
    tr_inflight_unpush(inf, &q, extra);
    assert_int_equal(q.count, 3);
    assert_int_equal(push(inf, &q, 40, &t[3]), TR_OK);
    /* The previous tail acknowledged and gone before the unpush. */
    tr_inflight_done(inf, t[0], 1);
    tr_inflight_done(inf, t[1], 1);
    tr_inflight_done(inf, t[2], 1);
    assert_int_equal(q.committed, 30);
    assert_int_equal(push(inf, &q, 50, &extra), TR_OK);
    tr_inflight_done(inf, t[3], 1);
    tr_inflight_unpush(inf, &q, extra);
    assert_int_equal(q.count, 0);
    assert_int_equal(tr_inflight_used(inf), 0);
    assert_int_equal(push(inf, &q, 50, &extra), TR_OK);
    tr_inflight_done(inf, extra, 1);
    assert_int_equal(q.committed, 50);
    tr_inflight_free(inf);
}

static void
test_oom(void **state)
{
    struct tr_inflight *inf = NULL;
    (void)state;
    for (long n = 0;; n++) {
        tr_alloc_fail_after(n);
        tr_err_t err = tr_inflight_new(16, &inf);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
    }
    tr_inflight_free(inf);
    assert_int_equal(tr_inflight_new(0, &inf), TR_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order_acks_advance_prefix),
        cmocka_unit_test(test_failure_freezes_position),
        cmocka_unit_test(test_pool_full_and_unpush),
        cmocka_unit_test(test_unpush_tail),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
