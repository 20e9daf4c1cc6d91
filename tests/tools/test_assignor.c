/*
 * test_assignor -- the range and roundrobin assignors (the group leader's
 * half of the consumer protocol), and the ConsumerProtocol subscription
 * and assignment encodings they travel in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "consumer.h"

/* Renders an assignment as "m0:t0,t1 m1:..." for easy comparison. */
static void
render(const struct tr_assign_member *m, size_t nm,
       const struct tr_assignment *a, size_t n, char *buf, size_t len)
{
    size_t i, k, used = 0;

    buf[0] = '\0';
    for (k = 0; k < nm; k++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%s:", k ? " " : "",
                                 m[k].id);
        for (i = 0; i < n; i++) {
            if (a[i].member == k) {
                used += (size_t)snprintf(buf + used, len - used, "%s%d,",
                                         a[i].topic, (int)a[i].partition);
            }
        }
    }
}

static const char *const both[] = { "a", "b" };
static const char *const only_a[] = { "a" };

static void
run(const char *assignor, const struct tr_assign_member *m, size_t nm,
    const struct tr_assign_topic *t, size_t nt, const char *expect)
{
    struct tr_assignment *a = NULL;
    size_t n = 0;
    char buf[512];

    assert_int_equal(tr_consumer_assignor_run(assignor, m, nm, t, nt, &a, &n),
                     TR_OK);
    render(m, nm, a, n, buf, sizeof(buf));
    assert_string_equal(buf, expect);
    tr_free(a);
}

static void
test_range_per_topic_runs(void **state)
{
    /* Listed out of order: members are sorted by id first. */
    const struct tr_assign_member m[] = {
        { "c2", both, 2 },
        { "c1", both, 2 },
    };
    const struct tr_assign_topic t[] = { { "b", 2 }, { "a", 3 } };

    (void)state;
    /* a: 3 over 2 -> c1 gets 0,1; c2 gets 2. b: one each. */
    run("range", m, 2, t, 2, "c2:a2,b1, c1:a0,a1,b0,");
}

static void
test_roundrobin_deals_across_topics(void **state)
{
    const struct tr_assign_member m[] = {
        { "c1", both, 2 },
        { "c2", both, 2 },
    };
    const struct tr_assign_topic t[] = { { "a", 3 }, { "b", 2 } };

    (void)state;
    /* a0 c1, a1 c2, a2 c1, b0 c2, b1 c1 */
    run("roundrobin", m, 2, t, 2, "c1:a0,a2,b1, c2:a1,b0,");
}

static void
test_unsubscribed_members_get_nothing(void **state)
{
    const struct tr_assign_member m[] = {
        { "c1", only_a, 1 },
        { "c2", both, 2 },
    };
    const struct tr_assign_topic t[] = { { "a", 2 }, { "b", 2 } };

    (void)state;
    run("range", m, 2, t, 2, "c1:a0, c2:a1,b0,b1,");
    run("roundrobin", m, 2, t, 2, "c1:a0, c2:a1,b0,b1,");
}

static void
test_more_members_than_partitions(void **state)
{
    const struct tr_assign_member m[] = {
        { "c1", only_a, 1 },
        { "c2", only_a, 1 },
        { "c3", only_a, 1 },
    };
    const struct tr_assign_topic t[] = { { "a", 2 } };

    (void)state;
    run("range", m, 3, t, 1, "c1:a0, c2:a1, c3:");
    run("roundrobin", m, 3, t, 1, "c1:a0, c2:a1, c3:");
}

static void
test_unknown_assignor(void **state)
{
    const struct tr_assign_member m[] = { { "c1", only_a, 1 } };
    const struct tr_assign_topic t[] = { { "a", 1 } };
    struct tr_assignment *a = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(tr_consumer_assignor_run("sticky", m, 1, t, 1, &a, &n),
                     TR_ERR_INVALID);
    assert_null(a);
}

struct collected {
    char text[256];
    size_t used;
};

static tr_err_t
topic_cb(const struct tr_str *topic, void *arg)
{
    struct collected *c = arg;

    c->used += (size_t)snprintf(c->text + c->used, sizeof(c->text) - c->used,
                                "%.*s;", (int)topic->len, topic->ptr);
    return TR_OK;
}

static tr_err_t
tp_cb(const struct tr_str *topic, int32_t partition, void *arg)
{
    struct collected *c = arg;

    c->used += (size_t)snprintf(c->text + c->used, sizeof(c->text) - c->used,
                                "%.*s/%d;", (int)topic->len, topic->ptr,
                                (int)partition);
    return TR_OK;
}

static void
test_subscription_roundtrip(void **state)
{
    static const uint8_t expect[] = {
        0, 0,                                              /* Version */
        0, 0, 0,   2,                                      /* Topics */
        0, 1, 'a', 0, 2, 'b', 'c', 0xff, 0xff, 0xff, 0xff, /* UserData: null */
    };
    struct tr_buf b;
    struct tr_slice s;
    struct collected c = { "", 0 };
    const char *const topics[] = { "a", "bc" };

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_consumer_subscription_encode(&b, topics, 2), TR_OK);
    assert_int_equal(tr_buf_len(&b), sizeof(expect));
    assert_memory_equal(tr_buf_data(&b), expect, sizeof(expect));
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_consumer_subscription_decode(&s, topic_cb, &c), TR_OK);
    assert_string_equal(c.text, "a;bc;");
    tr_buf_cleanup(&b);
}

static void
test_assignment_roundtrip_and_truncation(void **state)
{
    const struct tr_assignment a[] = {
        { 0, "a", 0 },
        { 0, "a", 2 },
        { 0, "b", 1 },
    };
    struct tr_buf b;
    struct tr_slice s;
    struct collected c = { "", 0 };
    size_t cut;

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_consumer_assignment_encode(&b, a, 3), TR_OK);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_consumer_assignment_decode(&s, tp_cb, &c), TR_OK);
    assert_string_equal(c.text, "a/0;a/2;b/1;");
    /* Every truncation fails cleanly (the empty one is "no assignment"). */
    for (cut = 1; cut < tr_buf_len(&b) - 4; cut++) {
        c.used = 0;
        tr_slice_init(&s, tr_buf_data(&b), cut);
        assert_int_not_equal(tr_consumer_assignment_decode(&s, tp_cb, &c),
                             TR_OK);
    }
    tr_buf_cleanup(&b);
}

static void
test_assignor_oom(void **state)
{
    const struct tr_assign_member m[] = { { "c1", both, 2 } };
    const struct tr_assign_topic t[] = { { "a", 3 }, { "b", 1 } };
    struct tr_assignment *a = NULL;
    size_t n = 0;
    long k;
    tr_err_t err;

    (void)state;
    for (k = 0;; k++) {
        tr_alloc_fail_after(k);
        err = tr_consumer_assignor_run("range", m, 1, t, 2, &a, &n);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_null(a);
    }
    assert_int_equal(n, 4);
    tr_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_per_topic_runs),
        cmocka_unit_test(test_roundrobin_deals_across_topics),
        cmocka_unit_test(test_unsubscribed_members_get_nothing),
        cmocka_unit_test(test_more_members_than_partitions),
        cmocka_unit_test(test_unknown_assignor),
        cmocka_unit_test(test_subscription_roundtrip),
        cmocka_unit_test(test_assignment_roundtrip_and_truncation),
        cmocka_unit_test(test_assignor_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
