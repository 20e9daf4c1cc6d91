/*
 * test_logring -- the ring of recent WARN/ERROR lines: order (newest
 * first), wrap-around (the oldest go), the pushed total, long lines cut,
 * a reader asking for fewer than kept, the logger's hook feeding it only
 * WARN and ERROR lines, and allocation failures at construction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "log.h"
#include "logring.h"

static void
test_order_and_wrap(void **state)
{
    struct tr_logring *r = tr_logring_new(3);
    struct tr_logring_entry e[5];
    uint64_t total = 99;
    char text[16];
    int i;

    (void)state;
    assert_non_null(r);
    assert_int_equal(tr_logring_get(r, e, 5, &total), 0);
    assert_int_equal(total, 0);
    for (i = 1; i <= 5; i++) {
        snprintf(text, sizeof(text), "line %d", i);
        tr_logring_push(r, i % 2 ? TR_LOG_WARN : TR_LOG_ERROR, 1000 + i, text,
                        strlen(text));
    }
    assert_int_equal(tr_logring_get(r, e, 5, &total), 3);
    assert_int_equal(total, 5);
    assert_string_equal(e[0].text, "line 5");
    assert_int_equal(e[0].time_ms, 1005);
    assert_int_equal(e[0].level, TR_LOG_WARN);
    assert_string_equal(e[1].text, "line 4");
    assert_int_equal(e[1].level, TR_LOG_ERROR);
    assert_string_equal(e[2].text, "line 3");
    /* fewer than kept: the newest */
    assert_int_equal(tr_logring_get(r, e, 2, NULL), 2);
    assert_string_equal(e[0].text, "line 5");
    assert_string_equal(e[1].text, "line 4");
    tr_logring_free(r);
}

static void
test_long_line_cut(void **state)
{
    struct tr_logring *r = tr_logring_new(1);
    struct tr_logring_entry e;
    char big[TR_LOGRING_TEXT_MAX * 2];

    (void)state;
    memset(big, 'x', sizeof(big));
    tr_logring_push(r, TR_LOG_ERROR, 1, big, sizeof(big));
    assert_int_equal(tr_logring_get(r, &e, 1, NULL), 1);
    assert_int_equal(strlen(e.text), TR_LOGRING_TEXT_MAX);
    tr_logring_free(r);
    assert_null(tr_logring_new(0));
    tr_logring_free(NULL);
}

static void
test_log_hook(void **state)
{
    struct tr_logring *r = tr_logring_new(8);
    struct tr_logring_entry e[8];
    FILE *devnull = fopen("/dev/null", "w");

    (void)state;
    assert_non_null(devnull);
    tr_log_init(TR_LOG_DEBUG, fileno(devnull));
    tr_log_set_hook(tr_logring_hook, r);
    tr_log_info("not kept");
    tr_log_warn("disk %s nearly full", "sda");
    tr_log_debug("not kept either");
    tr_log_error("a \x01 control byte");
    tr_log_set_hook(NULL, NULL);
    tr_log_error("after the hook is gone");
    assert_int_equal(tr_logring_get(r, e, 8, NULL), 2);
    /* the text as written: escaped, without time, level or newline */
    assert_string_equal(e[0].text, "a \\x01 control byte");
    assert_int_equal(e[0].level, TR_LOG_ERROR);
    assert_string_equal(e[1].text, "disk sda nearly full");
    assert_int_equal(e[1].level, TR_LOG_WARN);
    assert_true(e[1].time_ms > 1600000000000LL);
    tr_log_init(TR_LOG_INFO, 2);
    fclose(devnull);
    tr_logring_free(r);
}

/* Allocation N fails, for every N until tr_logring_new succeeds. */
static void
test_oom(void **state)
{
    struct tr_logring *r = NULL;
    long n;

    (void)state;
    for (n = 0; r == NULL && n < 10; n++) {
        tr_alloc_fail_after(n);
        r = tr_logring_new(4);
        tr_alloc_fail_after(-1);
    }
    assert_non_null(r);
    tr_logring_push(r, TR_LOG_WARN, 1, "x", 1);
    tr_logring_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_wrap),
        cmocka_unit_test(test_long_line_cut),
        cmocka_unit_test(test_log_hook),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
