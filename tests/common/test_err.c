/*
 * test_err -- every internal error code has a name, and the mapping to
 * Kafka's wire codes gives clients the code they expect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static void
test_err_every_code_has_a_name(void **state)
{
    int code;

    for (code = TR_OK; code >= TR_ERR_TIMESTAMP; code--) {
        const char *name = tr_err_str((tr_err_t)code);

        assert_non_null(name);
        assert_string_not_equal(name, "unknown error");
    }
    assert_string_equal(tr_err_str((tr_err_t)(TR_ERR_TIMESTAMP - 1)),
                        "unknown error");
}

static void
test_err_kafka_mapping(void **state)
{
    assert_int_equal(tr_kerr_from(TR_OK), TR_KERR_NONE);
    assert_int_equal(tr_kerr_from(TR_ERR_CORRUPT), TR_KERR_CORRUPT_MESSAGE);
    assert_int_equal(tr_kerr_from(TR_ERR_TOO_LARGE), TR_KERR_MESSAGE_TOO_LARGE);
    assert_int_equal(tr_kerr_from(TR_ERR_OUT_OF_RANGE),
                     TR_KERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(tr_kerr_from(TR_ERR_SEQUENCE),
                     TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(tr_kerr_from(TR_ERR_DUPLICATE),
                     TR_KERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(tr_kerr_from(TR_ERR_FENCED),
                     TR_KERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(tr_kerr_from(TR_ERR_UNKNOWN_PRODUCER),
                     TR_KERR_UNKNOWN_PRODUCER_ID);
    assert_int_equal(tr_kerr_from(TR_ERR_NOSPACE), TR_KERR_KAFKA_STORAGE_ERROR);
    assert_int_equal(tr_kerr_from(TR_ERR_NOMEM), TR_KERR_UNKNOWN_SERVER_ERROR);
    /* Wire codes are a fixed contract. */
    assert_int_equal(TR_KERR_UNSUPPORTED_VERSION, 35);
    assert_int_equal(TR_KERR_MEMBER_ID_REQUIRED, 79);
    assert_int_equal(TR_KERR_INVALID_RECORD, 87);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_every_code_has_a_name),
        cmocka_unit_test(test_err_kafka_mapping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
