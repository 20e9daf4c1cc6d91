/*
 * test_log -- client-chosen strings reach the log as printable ASCII: the
 * escaper, and the formatter's own pass over what a caller did not escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void
test_log_escape_control_and_high_bytes(void **state)
{
    static const char id[] = "m\x7f\xff\n\x1b[31m\\x";
    char out[TR_LOG_ESCAPE_LEN];

    (void)state;
    assert_string_equal(tr_log_escape(id, sizeof(id) - 1, out, sizeof(out)),
                        "m\\x7f\\xff\\x0a\\x1b[31m\\\\x");
    /* Embedded NULs are bytes like any other. */
    assert_string_equal(tr_log_escape("a\0b", 3, out, sizeof(out)), "a\\x00b");
    assert_string_equal(tr_log_escape("plain-id_1.2", 12, out, sizeof(out)),
                        "plain-id_1.2");
}

static void
test_log_escape_cuts_with_ellipsis(void **state)
{
    char out[8];

    (void)state;
    assert_string_equal(tr_log_escape("abcdefghij", 10, out, sizeof(out)),
                        "abcd...");
    /* Exactly fitting text is not cut. */
    assert_string_equal(tr_log_escape("abcdefg", 7, out, sizeof(out)),
                        "abcdefg");
    /* An escape is never split. */
    assert_string_equal(tr_log_escape("ab\xff\xff", 4, out, sizeof(out)),
                        "ab...");
}

static void
test_log_line_has_no_raw_control_bytes(void **state)
{
    char path[] = "/tmp/tr-test-log-XXXXXX";
    char line[4096];
    ssize_t n, i;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    tr_log_init(TR_LOG_INFO, fd);
    /* A call site that forgot tr_log_escape. */
    tr_log_info("member %s joined",
                "evil\n2026-01-01T00:00:00.000Z ERROR x\xff");
    tr_log_init(TR_LOG_INFO, 2);
    n = pread(fd, line, sizeof(line) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    line[n] = '\0';
    assert_int_equal(line[n - 1], '\n');
    for (i = 0; i < n - 1; i++) {
        assert_true(line[i] >= 0x20 && line[i] <= 0x7e);
    }
    assert_non_null(
        strstr(line, "member evil\\x0a2026-01-01T00:00:00.000Z ERROR x\\xff "
                     "joined\n"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_escape_control_and_high_bytes),
        cmocka_unit_test(test_log_escape_cuts_with_ellipsis),
        cmocka_unit_test(test_log_line_has_no_raw_control_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
