/*
 * test_murmur2 -- the Java client's murmur2 vectors (Kafka's UtilsTest) and
 * the keyed partition derived from them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "producer.h"

struct vector {
    const char *key;
    int32_t hash; /* as Java's signed int */
};

static const struct vector vectors[] = {
    { "21", -973932308 },
    { "foobar", -790332482 },
    { "a-little-bit-long-string", -985981536 },
    { "a-little-bit-longer-string", -1486304829 },
    { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
    { "abc", 479470107 },
    { "", 275646681 },
};

static void
test_murmur2_java_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint32_t h = tr_murmur2(vectors[i].key, strlen(vectors[i].key));

        assert_int_equal((int32_t)h, vectors[i].hash);
    }
    /* -973932308 as an unsigned 32-bit value. */
    assert_int_equal(tr_murmur2("21", 2), 0xC5F2F8ECU);
}

static void
test_murmur2_partition_masks_sign_bit(void **state)
{
    (void)state;
    /* -973932308 & 0x7fffffff = 1173551340; % 3 = 0, % 7 = 3. */
    assert_int_equal(tr_murmur2_partition("21", 2, 3), 1173551340 % 3);
    assert_int_equal(tr_murmur2_partition("21", 2, 7), 1173551340 % 7);
    /* 479470107 is positive: unchanged by the mask. */
    assert_int_equal(tr_murmur2_partition("abc", 3, 10), 479470107 % 10);
    assert_int_equal(tr_murmur2_partition("", 0, 4), 275646681 % 4);
    assert_int_equal(tr_murmur2_partition("abc", 3, 1), 0);
    assert_int_equal(tr_murmur2_partition("abc", 3, 0), -1);
}

static void
test_murmur2_partition_in_range(void **state)
{
    char key[32];
    int i, n;

    (void)state;
    for (n = 1; n <= 17; n += 4) {
        for (i = 0; i < 1000; i++) {
            int len = snprintf(key, sizeof(key), "key-%d", i);
            int32_t part = tr_murmur2_partition(key, (size_t)len, n);

            assert_true(part >= 0 && part < n);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_java_vectors),
        cmocka_unit_test(test_murmur2_partition_masks_sign_bit),
        cmocka_unit_test(test_murmur2_partition_in_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
