/*
 * Tests for agent/parse.c: key templates, named captures, include/exclude,
 * multiline starts and record times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "agent/config.h"
#include "agent/parse.h"

static const struct tr_parse_ctx ctx = { "web1", "/var/log/app/app.log",
                                         "app.log" };

static struct tr_parse *
make(const char *pattern, const char *key, const char *inc, const char *exc,
     const char *start)
{
    struct tr_agent_input in;
    struct tr_parse *p = NULL;
    char err[256];
    memset(&in, 0, sizeof(in));
    in.pattern = (char *)pattern;
    in.key = (char *)key;
    in.include_lines = (char *)inc;
    in.exclude_lines = (char *)exc;
    in.multiline_start = (char *)start;
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_OK);
    return p;
}

static void
check_key(struct tr_parse *p, const char *line, const char *want)
{
    struct tr_parse_result r;
    assert_int_equal(tr_parse_line(p, line, strlen(line), &ctx, &r), 1);
    if (want == NULL) {
        assert_null(r.key);
        return;
    }
    assert_non_null(r.key);
    assert_int_equal(r.key_len, strlen(want));
    assert_memory_equal(r.key, want, r.key_len);
}

static void
test_key_template_with_captures(void **state)
{
    (void)state;
    struct tr_parse *p = make("user=(?<user>u[0-9]+)(?: req=(?<req>\\w+))?",
                              "${host}/${user}/${req}", NULL, NULL, NULL);
    check_key(p, "GET / user=u42 req=abc", "web1/u42/abc");
    /* An unset group expands to nothing; no match leaves only literals. */
    check_key(p, "GET / user=u7", "web1/u7/");
    check_key(p, "no user here", "web1//");
    tr_parse_free(p);

    p = make(NULL, "${file}:${path}", NULL, NULL, NULL);
    check_key(p, "x", "app.log:/var/log/app/app.log");
    tr_parse_free(p);

    p = make(NULL, NULL, NULL, NULL, NULL);
    check_key(p, "x", NULL);
    tr_parse_free(p);
}

static void
test_bad_templates_and_patterns(void **state)
{
    struct tr_agent_input in;
    struct tr_parse *p = NULL;
    char err[256];
    (void)state;

    memset(&in, 0, sizeof(in));
    in.key = "${nope}";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_ERR_CONFIG);
    assert_non_null(strstr(err, "nope"));
    in.key = "${host";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_ERR_CONFIG);
    in.key = NULL;
    in.pattern = "(unclosed";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_ERR_CONFIG);
    assert_non_null(strstr(err, "pattern: at offset"));
    in.pattern = "(?<a>x)";
    in.time_capture = "b";
    in.time_format = "%s";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_ERR_CONFIG);
    assert_null(p);
}

static void
test_include_exclude(void **state)
{
    struct tr_parse_result r;
    (void)state;
    struct tr_parse *p = make(NULL, NULL, "ERROR|WARN", "healthcheck", NULL);
    assert_int_equal(tr_parse_line(p, "ERROR x", 7, &ctx, &r), 1);
    assert_int_equal(tr_parse_line(p, "INFO x", 6, &ctx, &r), 0);
    assert_int_equal(tr_parse_line(p, "WARN healthcheck", 16, &ctx, &r), 0);
    tr_parse_free(p);
}

static void
test_multiline_start(void **state)
{
    (void)state;
    struct tr_parse *p = make(NULL, NULL, NULL, NULL, "^\\d{4}-");
    assert_int_equal(tr_parse_multiline(p), 1);
    assert_int_equal(tr_parse_event_start(p, "2024-01-01 x", 12), 1);
    assert_int_equal(tr_parse_event_start(p, "\tat Foo.bar", 11), 0);
    tr_parse_free(p);
    p = make(NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(tr_parse_multiline(p), 0);
    assert_int_equal(tr_parse_event_start(p, "\tat", 3), 1);
    tr_parse_free(p);
}

static void
test_time(void **state)
{
    (void)state;
    const char *t = "2024-03-01T12:00:00";
    assert_int_equal(tr_parse_time(t, strlen(t), "%Y-%m-%dT%H:%M:%S"),
                     INT64_C(1709294400000));
    t = "2024-03-01T12:00:00.250";
    assert_int_equal(tr_parse_time(t, strlen(t), "%Y-%m-%dT%H:%M:%S"),
                     INT64_C(1709294400250));
    t = "01/Mar/2024:13:00:00 +0100";
    assert_int_equal(tr_parse_time(t, strlen(t), "%d/%b/%Y:%H:%M:%S %z"),
                     INT64_C(1709294400000));
    assert_int_equal(tr_parse_time("junk", 4, "%Y-%m-%d"), -1);

    struct tr_agent_input in;
    struct tr_parse *p = NULL;
    struct tr_parse_result r;
    char err[256];
    memset(&in, 0, sizeof(in));
    in.pattern = "^(?<ts>\\S+) ";
    in.time_capture = "ts";
    in.time_format = "%Y-%m-%dT%H:%M:%S";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_OK);
    const char *line = "2024-03-01T12:00:00 hello";
    assert_int_equal(tr_parse_line(p, line, strlen(line), &ctx, &r), 1);
    assert_int_equal(r.timestamp_ms, INT64_C(1709294400000));
    assert_int_equal(tr_parse_line(p, "nope", 4, &ctx, &r), 1);
    assert_int_equal(r.timestamp_ms, -1);
    tr_parse_free(p);
}

static void
test_expand(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(tr_parse_expand("${host}-${file}", &ctx, out, sizeof(out)),
                     12);
    assert_string_equal(out, "web1-app.log");
    assert_int_equal(tr_parse_expand("${user}", &ctx, out, sizeof(out)), -1);
    assert_int_equal(tr_parse_expand("${path}", &ctx, out, 5), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_template_with_captures),
        cmocka_unit_test(test_bad_templates_and_patterns),
        cmocka_unit_test(test_include_exclude),
        cmocka_unit_test(test_multiline_start),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_expand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
