/*
 * test_plan -- reassignment plans: Kafka's JSON read and written, bad plans
 * refused with a reason, and the rebalance planner's promises (every
 * broker within one replica and one preferred leader of the others, only
 * replicas that must move moving, dead brokers emptied, the same input
 * giving the same plan, and a balanced cluster left alone).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static void
parse_ok(const char *json, struct tr_plan *p)
{
    char errbuf[256];

    assert_int_equal(
        tr_plan_parse(json, strlen(json), p, errbuf, sizeof(errbuf)), TR_OK);
}

static void
parse_fails(const char *json, const char *reason)
{
    struct tr_plan p;
    char errbuf[256] = "";

    assert_int_equal(
        tr_plan_parse(json, strlen(json), &p, errbuf, sizeof(errbuf)),
        TR_ERR_CORRUPT);
    assert_non_null(strstr(errbuf, reason));
    assert_int_equal(p.n, 0);
}

static void
test_parse(void **state)
{
    struct tr_plan p;
    const struct tr_plan_part *pp;

    (void)state;
    parse_ok("{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
             "\"replicas\":[3,1,2]},{\"topic\":\"u\",\"partition\":\"7\","
             "\"replicas\":[4],\"log_dirs\":[\"any\"]}]}",
             &p);
    assert_int_equal(p.n, 2);
    pp = tr_plan_find(&p, "t", 0);
    assert_non_null(pp);
    assert_int_equal(pp->nreplicas, 3);
    assert_int_equal(pp->replicas[0], 3);
    assert_int_equal(pp->replicas[2], 2);
    pp = tr_plan_find(&p, "u", 7);
    assert_non_null(pp);
    assert_int_equal(pp->replicas[0], 4);
    assert_null(tr_plan_find(&p, "t", 1));
    tr_plan_free(&p);
    parse_ok("{\"version\":1,\"partitions\":[]}", &p);
    assert_int_equal(p.n, 0);
    tr_plan_free(&p);
}

static void
test_parse_refuses(void **state)
{
    (void)state;
    parse_fails("[1,2]", "not a JSON object");
    parse_fails("{\"version\":1", "not a JSON object");
    parse_fails("{\"version\":1}", "no \"partitions\"");
    parse_fails("{\"partitions\":{}}", "no \"partitions\"");
    parse_fails("{\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
                "topic");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"replicas\":[1]}]}",
                "partition");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"partition\":-1,"
                "\"replicas\":[1]}]}",
                "partition");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
                "\"replicas\":[]}]}",
                "replicas");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
                "\"replicas\":[1,2,1]}]}",
                "listed twice");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
                "\"replicas\":[1]},{\"topic\":\"t\",\"partition\":0,"
                "\"replicas\":[2]}]}",
                "t-0 is listed twice");
    parse_fails("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
                "\"replicas\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}]}",
                "replicas");
}

static void
test_write_reads_back(void **state)
{
    struct tr_plan p, q;
    int32_t a[] = { 2, 0, 1 }, b[] = { 5 };
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    tr_plan_init(&p);
    assert_int_equal(tr_plan_add(&p, "logs.web", 3, a, 3), TR_OK);
    assert_int_equal(tr_plan_add(&p, "x", 0, b, 1), TR_OK);
    f = open_memstream(&text, &len);
    tr_plan_write(&p, f);
    fclose(f);
    parse_ok(text, &q);
    assert_int_equal(q.n, 2);
    assert_memory_equal(q.parts[0].replicas, a, sizeof(a));
    assert_string_equal(q.parts[1].topic, "x");
    tr_plan_free(&p);
    tr_plan_free(&q);
    free(text);
}

/* A cluster of 'nb' brokers (ids 1..nb) holding 'np' partitions. */
static void
round_robin(struct tr_plan *p, int np, int rf, int nb)
{
    int32_t reps[TR_PLAN_MAX_REPLICAS];
    int i, r;

    tr_plan_init(p);
    for (i = 0; i < np; i++) {
        for (r = 0; r < rf; r++) {
            reps[r] = (i + r) % nb + 1;
        }
        assert_int_equal(tr_plan_add(p, "t", i, reps, rf), TR_OK);
    }
}

/* The assignment after applying 'moves' to 'cur'. */
static void
apply(struct tr_plan *cur, const struct tr_plan *moves)
{
    size_t i, j;

    for (i = 0; i < moves->n; i++) {
        for (j = 0; j < cur->n; j++) {
            if (cur->parts[j].partition == moves->parts[i].partition &&
                strcmp(cur->parts[j].topic, moves->parts[i].topic) == 0) {
                cur->parts[j] = moves->parts[i];
            }
        }
    }
}

static void
counts(const struct tr_plan *p, const int32_t *brokers, int nb, int *load,
       int *lead)
{
    size_t i;
    int32_t r;
    int b;

    memset(load, 0, sizeof(int) * (size_t)nb);
    memset(lead, 0, sizeof(int) * (size_t)nb);
    for (i = 0; i < p->n; i++) {
        for (r = 0; r < p->parts[i].nreplicas; r++) {
            for (b = 0; b < nb; b++) {
                if (brokers[b] == p->parts[i].replicas[r]) {
                    load[b]++;
                    lead[b] += r == 0;
                }
            }
        }
        /* No broker twice in one list. */
        for (r = 1; r < p->parts[i].nreplicas; r++) {
            int32_t q;
            for (q = 0; q < r; q++) {
                assert_int_not_equal(p->parts[i].replicas[q],
                                     p->parts[i].replicas[r]);
            }
        }
    }
}

static void
assert_balanced(const struct tr_plan *p, const int32_t *brokers, int nb)
{
    int load[64], lead[64], b, lo = 1 << 30, hi = 0, llo = 1 << 30, lhi = 0;

    counts(p, brokers, nb, load, lead);
    for (b = 0; b < nb; b++) {
        lo = load[b] < lo ? load[b] : lo;
        hi = load[b] > hi ? load[b] : hi;
        llo = lead[b] < llo ? lead[b] : llo;
        lhi = lead[b] > lhi ? lead[b] : lhi;
    }
    assert_true(hi - lo <= 1);
    assert_true(lhi - llo <= 1);
}

static size_t
replicas_moved(const struct tr_plan *before, const struct tr_plan *moves)
{
    size_t i, n = 0;
    int32_t r, q;

    for (i = 0; i < moves->n; i++) {
        const struct tr_plan_part *was = tr_plan_find(
            before, moves->parts[i].topic, moves->parts[i].partition);
        for (r = 0; r < moves->parts[i].nreplicas; r++) {
            int found = 0;
            for (q = 0; q < was->nreplicas; q++) {
                found |= was->replicas[q] == moves->parts[i].replicas[r];
            }
            n += !found;
        }
    }
    return n;
}

static void
test_rebalance_new_broker(void **state)
{
    struct tr_plan cur, moves;
    int32_t brokers[] = { 1, 2, 3, 4 };

    (void)state;
    /* 12 partitions x RF 3 on brokers 1-3: 36 replicas; broker 4 joins. */
    round_robin(&cur, 12, 3, 3);
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 4, &moves), TR_OK);
    /* Exactly the 9 replicas broker 4 must take move, no more. */
    assert_int_equal(replicas_moved(&cur, &moves), 9);
    {
        struct tr_plan before = cur;
        cur.parts = malloc(cur.n * sizeof(*cur.parts));
        memcpy(cur.parts, before.parts, cur.n * sizeof(*cur.parts));
        apply(&cur, &moves);
        assert_balanced(&cur, brokers, 4);
        tr_plan_free(&before);
    }
    tr_plan_free(&moves);
    /* Balanced now: nothing more to do. */
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 4, &moves), TR_OK);
    assert_int_equal(moves.n, 0);
    tr_plan_free(&moves);
    tr_plan_free(&cur);
}

static void
test_rebalance_dead_broker(void **state)
{
    struct tr_plan cur, moves;
    int32_t live[] = { 1, 2, 4 };
    size_t i;
    int32_t r;

    (void)state;
    round_robin(&cur, 9, 2, 4);
    assert_int_equal(tr_plan_rebalance(&cur, live, 3, &moves), TR_OK);
    apply(&cur, &moves);
    for (i = 0; i < cur.n; i++) {
        for (r = 0; r < cur.parts[i].nreplicas; r++) {
            assert_int_not_equal(cur.parts[i].replicas[r], 3);
        }
    }
    assert_balanced(&cur, live, 3);
    tr_plan_free(&moves);
    tr_plan_free(&cur);
}

static void
test_rebalance_leaders_only(void **state)
{
    struct tr_plan cur, moves;
    int32_t brokers[] = { 1, 2, 3 }, reps[] = { 1, 2, 3 };
    int i;

    (void)state;
    /* Every partition on every broker, all preferring broker 1. */
    tr_plan_init(&cur);
    for (i = 0; i < 6; i++) {
        assert_int_equal(tr_plan_add(&cur, "t", i, reps, 3), TR_OK);
    }
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 3, &moves), TR_OK);
    /* Only the order changes: no replica moves. */
    assert_int_equal(replicas_moved(&cur, &moves), 0);
    assert_true(moves.n >= 4);
    apply(&cur, &moves);
    assert_balanced(&cur, brokers, 3);
    tr_plan_free(&moves);
    tr_plan_free(&cur);
}

static void
test_rebalance_deterministic_and_refusals(void **state)
{
    struct tr_plan cur, a, b;
    int32_t brokers[] = { 7, 8, 9, 10, 11 }, two[] = { 1, 2 };
    size_t i;

    (void)state;
    round_robin(&cur, 17, 3, 3);
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 5, &a), TR_OK);
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 5, &b), TR_OK);
    assert_int_equal(a.n, b.n);
    for (i = 0; i < a.n; i++) {
        assert_memory_equal(&a.parts[i], &b.parts[i], sizeof(a.parts[i]));
    }
    tr_plan_free(&a);
    tr_plan_free(&b);
    /* RF 3 cannot live on two brokers; no brokers at all is refused. */
    assert_int_equal(tr_plan_rebalance(&cur, two, 2, &a), TR_ERR_INVALID);
    assert_int_equal(a.n, 0);
    assert_int_equal(tr_plan_rebalance(&cur, two, 0, &a), TR_ERR_INVALID);
    tr_plan_free(&cur);
}

/* Each topic is spread on its own, not just the cluster's total. */
static void
test_rebalance_per_topic(void **state)
{
    struct tr_plan cur, moves;
    int32_t brokers[] = { 1, 2 }, one[] = { 1 }, two[] = { 2 };
    int i, a1 = 0, b1 = 0;
    size_t k;

    (void)state;
    tr_plan_init(&cur);
    for (i = 0; i < 4; i++) {
        assert_int_equal(tr_plan_add(&cur, "a", i, one, 1), TR_OK);
        assert_int_equal(tr_plan_add(&cur, "b", i, two, 1), TR_OK);
    }
    assert_int_equal(tr_plan_rebalance(&cur, brokers, 2, &moves), TR_OK);
    apply(&cur, &moves);
    for (k = 0; k < cur.n; k++) {
        if (cur.parts[k].replicas[0] == 1) {
            a1 += strcmp(cur.parts[k].topic, "a") == 0;
            b1 += strcmp(cur.parts[k].topic, "b") == 0;
        }
    }
    assert_int_equal(a1, 2);
    assert_int_equal(b1, 2);
    assert_int_equal(replicas_moved(&cur, &moves), 0); /* applied already */
    tr_plan_free(&moves);
    tr_plan_free(&cur);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_write_reads_back),
        cmocka_unit_test(test_rebalance_new_broker),
        cmocka_unit_test(test_rebalance_dead_broker),
        cmocka_unit_test(test_rebalance_leaders_only),
        cmocka_unit_test(test_rebalance_deterministic_and_refusals),
        cmocka_unit_test(test_rebalance_per_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
