/*
 * Unit tests for collector/cluster/assign: rack-aware and round-robin
 * replica assignment, and the checks on explicit assignments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "assign.h"

#define MAX_OUT 4096

static const char *
rack_of(const struct tr_assign_broker *b, size_t nb, int32_t id)
{
    size_t i;

    for (i = 0; i < nb; i++) {
        if (b[i].id == id) {
            return b[i].rack != NULL ? b[i].rack : "";
        }
    }
    fail_msg("broker %d is not one of the brokers", (int)id);
    return NULL;
}

static size_t
count_racks(const struct tr_assign_broker *b, size_t nb)
{
    size_t i, j, n = 0;

    for (i = 0; i < nb; i++) {
        for (j = 0; j < i && strcmp(b[j].rack, b[i].rack) != 0; j++) {
        }
        n += j == i;
    }
    return n;
}

/*
 * Assigns and checks the invariants: no broker twice in a partition, each
 * partition on min(rf, racks) racks, and the leaders spread so that no
 * broker leads more than one partition above its fair share.
 */
static void
check_shape(const struct tr_assign_broker *b, size_t nb, int32_t partitions,
            int32_t rf, uint32_t start, uint32_t shift)
{
    int32_t out[MAX_OUT];
    int leads[64] = { 0 };
    char errbuf[200];
    size_t nracks = count_racks(b, nb), want_racks, i, j, k, distinct;
    int32_t p, r;
    int most = 0, least = partitions;

    assert_true((size_t)partitions * (size_t)rf <= MAX_OUT && nb <= 64);
    assert_int_equal(tr_assign_replicas(b, nb, partitions, rf, start, shift,
                                        out, errbuf, sizeof(errbuf)),
                     TR_OK);
    want_racks = (size_t)rf < nracks ? (size_t)rf : nracks;
    for (p = 0; p < partitions; p++) {
        const int32_t *reps = &out[p * rf];

        distinct = 0;
        for (r = 0; r < rf; r++) {
            for (k = 0; k < (size_t)r; k++) {
                assert_int_not_equal(reps[k], reps[r]);
            }
            for (k = 0; k < (size_t)r && strcmp(rack_of(b, nb, reps[k]),
                                                rack_of(b, nb, reps[r])) != 0;
                 k++) {
            }
            distinct += k == (size_t)r;
        }
        if (distinct != want_racks) {
            fail_msg("partition %d of %d (rf %d, start %u, shift %u) is on "
                     "%zu racks, not %zu",
                     (int)p, (int)partitions, (int)rf, start, shift, distinct,
                     want_racks);
        }
        for (i = 0; i < nb && b[i].id != reps[0]; i++) {
        }
        leads[i]++;
    }
    for (j = 0; j < nb; j++) {
        most = leads[j] > most ? leads[j] : most;
        least = leads[j] < least ? leads[j] : least;
    }
    assert_true(most - least <= 1);
}

static const struct tr_assign_broker two_racks[] = {
    { 1, "a" },
    { 2, "a" },
    { 3, "b" },
    { 4, "b" },
};

static void
test_assign_two_racks_rf2(void **state)
{
    uint32_t s;

    (void)state;
    for (s = 0; s < 8; s++) {
        check_shape(two_racks, 4, 8, 2, s, s * 3);
        check_shape(two_racks, 4, 30, 2, s, s + 1);
    }
}

static void
test_assign_more_replicas_than_racks(void **state)
{
    uint32_t s;

    (void)state;
    for (s = 0; s < 8; s++) {
        check_shape(two_racks, 4, 16, 3, s, 7 * s);
        check_shape(two_racks, 4, 16, 4, s, s);
    }
}

static void
test_assign_uneven_racks(void **state)
{
    /* Given out of order: the assignment sorts by rack, then id. */
    static const struct tr_assign_broker b[] = {
        { 6, "c" }, { 1, "a" }, { 5, "b" }, { 2, "a" }, { 4, "b" }, { 3, "a" },
    };
    uint32_t s;

    (void)state;
    for (s = 0; s < 12; s++) {
        check_shape(b, 6, 12, 3, s, s * 5);
        check_shape(b, 6, 7, 2, s, s);
        check_shape(b, 6, 50, 1, s, s);
    }
}

static void
test_assign_one_broker_per_rack(void **state)
{
    static const struct tr_assign_broker b[] = {
        { 10, "r1" }, { 20, "r2" }, { 30, "r3" }, { 40, "r4" }, { 50, "r5" },
    };
    uint32_t s;

    (void)state;
    for (s = 0; s < 5; s++) {
        check_shape(b, 5, 23, 3, s, s);
        check_shape(b, 5, 10, 5, s, s);
    }
}

/*
 * Worked by hand from Kafka's algorithm: racks r1 {0, 5}, r2 {3, 4},
 * r3 {1, 2} alternate as 0 3 1 5 4 2, and with no random start or shift
 * each partition takes the next brokers along that list.
 */
static void
test_assign_matches_kafka(void **state)
{
    static const struct tr_assign_broker b[] = {
        { 0, "rack1" }, { 1, "rack3" }, { 2, "rack3" },
        { 3, "rack2" }, { 4, "rack2" }, { 5, "rack1" },
    };
    static const int32_t want[] = {
        0, 3, 1, 3, 1, 5, 1, 5, 4, 5, 4, 2, 4, 2, 0, 2, 0, 3,
    };
    int32_t out[18];
    char errbuf[200];

    (void)state;
    assert_int_equal(
        tr_assign_replicas(b, 6, 6, 3, 0, 0, out, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_memory_equal(out, want, sizeof(want));
    /* The leaders alone: the alternating list itself. */
    assert_int_equal(
        tr_assign_replicas(b, 6, 6, 1, 0, 0, out, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], 5);
    assert_int_equal(out[4], 4);
    assert_int_equal(out[5], 2);
}

static void
test_assign_without_racks_round_robin(void **state)
{
    static const struct tr_assign_broker b[] = {
        { 3, NULL },
        { 1, "" },
        { 2, NULL },
    };
    static const int32_t want[] = { 2, 3, 3, 1, 1, 2, 2, 3 };
    int32_t out[8];
    char errbuf[200];

    (void)state;
    assert_int_equal(
        tr_assign_replicas(b, 3, 4, 2, 1, 99, out, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_memory_equal(out, want, sizeof(want));
}

static void
test_assign_refuses_mixed_racks(void **state)
{
    static const struct tr_assign_broker b[] = {
        { 1, "a" },
        { 2, NULL },
        { 3, "b" },
    };
    int32_t out[8];
    char errbuf[200];

    (void)state;
    assert_int_equal(
        tr_assign_replicas(b, 3, 4, 2, 0, 0, out, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "Not all brokers have rack information"));
    assert_int_equal(
        tr_assign_replicas(b, 2, 4, 3, 0, 0, out, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "larger than available brokers"));
}

static void
test_assign_oom(void **state)
{
    int32_t out[8 * 3];
    char errbuf[200];
    int n;
    tr_err_t err;

    (void)state;
    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        err = tr_assign_replicas(two_racks, 4, 8, 3, 1, 2, out, errbuf,
                                 sizeof(errbuf));
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
    }
    assert_true(n > 1);
}

static void
test_assign_explicit_ok(void **state)
{
    /* Wire order need not be partition order. */
    static const int32_t partition_of[] = { 1, 0, 2 };
    static const int32_t count_of[] = { 2, 2, 2 };
    static const int32_t ids[] = { 2, 3, 1, 2, 3, 1 };
    static const int32_t want[] = { 1, 2, 2, 3, 3, 1 };
    int32_t out[6], rf = 0;
    char errbuf[200];

    (void)state;
    assert_int_equal(tr_assign_explicit(partition_of, count_of, ids, 3, out,
                                        &rf, errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(rf, 2);
    assert_memory_equal(out, want, sizeof(want));
}

static void
test_assign_explicit_refused(void **state)
{
    static const int32_t seq[] = { 0, 1, 2 };
    static const int32_t gap[] = { 0, 2, 3 };
    static const int32_t twice[] = { 0, 1, 1 };
    static const int32_t two[] = { 2, 2, 2 };
    static const int32_t ragged[] = { 2, 1, 2 };
    static const int32_t empty[] = { 0, 0, 0 };
    static const int32_t ids[] = { 1, 2, 2, 3, 3, 1 };
    static const int32_t dup[] = { 1, 2, 3, 3, 3, 1 };
    int32_t out[6], rf;
    char errbuf[200];

    (void)state;
    assert_int_equal(
        tr_assign_explicit(gap, two, ids, 3, out, &rf, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "consecutive 0-based"));
    assert_int_equal(tr_assign_explicit(twice, two, ids, 3, out, &rf, errbuf,
                                        sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "consecutive 0-based"));
    assert_int_equal(tr_assign_explicit(seq, ragged, ids, 3, out, &rf, errbuf,
                                        sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "same number of replicas"));
    assert_int_equal(tr_assign_explicit(seq, empty, ids, 3, out, &rf, errbuf,
                                        sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "no replicas"));
    assert_int_equal(
        tr_assign_explicit(seq, two, dup, 3, out, &rf, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "lists broker 3 twice"));
    assert_int_equal(
        tr_assign_explicit(seq, two, ids, 0, out, &rf, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
}

/*
 * fuzz_request: a first list of 3 ids naming the last of 4 partitions,
 * the others empty, so the caller's room is 3 ids; the first list was
 * written (at 9..11) before the ragged ones were seen.
 */
static void
test_assign_explicit_fuzz_ragged_lists_write_nothing(void **state)
{
    static const int32_t partition_of[] = { 3, 0, 1, 2 };
    static const int32_t count_of[] = { 3, 0, 0, 0 };
    static const int32_t ids[] = { 1, 2, 3 };
    int32_t out[12], rf, i;
    char errbuf[200];

    (void)state;
    for (i = 0; i < 12; i++) {
        out[i] = -7;
    }
    assert_int_equal(tr_assign_explicit(partition_of, count_of, ids, 4, out,
                                        &rf, errbuf, sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "same number of replicas"));
    for (i = 0; i < 12; i++) {
        assert_int_equal(out[i], -7);
    }
}

static void
test_assign_check_live(void **state)
{
    static const int32_t live[] = { 1, 2, 3 };
    static const int32_t good[] = { 3, 1, 2, 2 };
    static const int32_t bad[] = { 3, 1, 7, 2 };
    char errbuf[200];

    (void)state;
    assert_int_equal(
        tr_assign_check_live(good, 4, live, 3, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(
        tr_assign_check_live(bad, 4, live, 3, errbuf, sizeof(errbuf)),
        TR_ERR_NOT_FOUND);
    assert_non_null(strstr(errbuf, "Unknown broker 7"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_two_racks_rf2),
        cmocka_unit_test(test_assign_more_replicas_than_racks),
        cmocka_unit_test(test_assign_uneven_racks),
        cmocka_unit_test(test_assign_one_broker_per_rack),
        cmocka_unit_test(test_assign_matches_kafka),
        cmocka_unit_test(test_assign_without_racks_round_robin),
        cmocka_unit_test(test_assign_refuses_mixed_racks),
        cmocka_unit_test(test_assign_oom),
        cmocka_unit_test(test_assign_explicit_ok),
        cmocka_unit_test(test_assign_explicit_refused),
        cmocka_unit_test(test_assign_explicit_fuzz_ragged_lists_write_nothing),
        cmocka_unit_test(test_assign_check_live),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
