/*
 * test_crc32c -- CRC-32C known answers, and agreement between the hardware
 * and portable implementations on random lengths and alignments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* A small deterministic generator so failures reproduce. */
static uint32_t
next_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

static void
test_crc32c_known_answers(void **state)
{
    uint8_t buf[32];
    size_t i;

    (void)state;
    assert_int_equal(tr_crc32c(0, "123456789", 9), 0xE3069283U);
    assert_int_equal(tr_crc32c_portable(0, "123456789", 9), 0xE3069283U);

    memset(buf, 0, sizeof(buf));
    assert_int_equal(tr_crc32c(0, buf, sizeof(buf)), 0x8A9136AAU);
    assert_int_equal(tr_crc32c_portable(0, buf, sizeof(buf)), 0x8A9136AAU);

    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(tr_crc32c(0, buf, sizeof(buf)), 0x62A8AB43U);
    assert_int_equal(tr_crc32c_portable(0, buf, sizeof(buf)), 0x62A8AB43U);

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)i;
    }
    assert_int_equal(tr_crc32c(0, buf, sizeof(buf)), 0x46DD794EU);
    assert_int_equal(tr_crc32c_portable(0, buf, sizeof(buf)), 0x46DD794EU);
}

static void
test_crc32c_empty_is_identity(void **state)
{
    (void)state;
    assert_int_equal(tr_crc32c(0, "", 0), 0);
    assert_int_equal(tr_crc32c(0x12345678U, "", 0), 0x12345678U);
    assert_int_equal(tr_crc32c_portable(0xE3069283U, NULL, 0), 0xE3069283U);
}

static void
test_crc32c_paths_agree(void **state)
{
    enum {
        SIZE = 4096 + 16
    };
    uint8_t *buf = malloc(SIZE);
    uint64_t rng = 42;
    size_t i;
    int round;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < SIZE; i++) {
        buf[i] = (uint8_t)next_rand(&rng);
    }
    for (round = 0; round < 2000; round++) {
        size_t off = next_rand(&rng) % 16;
        size_t len = next_rand(&rng) % (SIZE - off);
        uint32_t seed = round % 3 == 0 ? 0 : next_rand(&rng);

        assert_int_equal(tr_crc32c(seed, buf + off, len),
                         tr_crc32c_portable(seed, buf + off, len));
    }
    /* Every short length at every alignment, where the edge loops live. */
    for (i = 0; i < 16; i++) {
        size_t len;

        for (len = 0; len < 40; len++) {
            assert_int_equal(tr_crc32c(0, buf + i, len),
                             tr_crc32c_portable(0, buf + i, len));
        }
    }
    free(buf);
}

static void
test_crc32c_incremental_equals_one_shot(void **state)
{
    enum {
        SIZE = 1000
    };
    uint8_t buf[SIZE];
    uint64_t rng = 7;
    uint32_t whole, whole_portable;
    size_t i;

    (void)state;
    for (i = 0; i < SIZE; i++) {
        buf[i] = (uint8_t)next_rand(&rng);
    }
    whole = tr_crc32c(0, buf, SIZE);
    whole_portable = tr_crc32c_portable(0, buf, SIZE);
    assert_int_equal(whole, whole_portable);
    for (i = 0; i <= SIZE; i += 7) {
        uint32_t crc = tr_crc32c(0, buf, i);

        assert_int_equal(tr_crc32c(crc, buf + i, SIZE - i), whole);
        crc = tr_crc32c_portable(0, buf, i);
        assert_int_equal(tr_crc32c_portable(crc, buf + i, SIZE - i), whole);
    }
    /* Byte at a time, through the dispatching entry point. */
    {
        uint32_t crc = 0;

        for (i = 0; i < SIZE; i++) {
            crc = tr_crc32c(crc, buf + i, 1);
        }
        assert_int_equal(crc, whole);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_answers),
        cmocka_unit_test(test_crc32c_empty_is_identity),
        cmocka_unit_test(test_crc32c_paths_agree),
        cmocka_unit_test(test_crc32c_incremental_equals_one_shot),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
