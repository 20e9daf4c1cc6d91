/*
 * test_conf -- properties and INI parsing, and the typed value parsers:
 * what each syntax yields, and that every error names file and line.
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

#include "alloc.h"
#include "conf.h"

#define MAX_ENTRIES 16

struct entry {
    char section[64];
    char key[64];
    char value[128];
    int line;
};

struct collected {
    struct entry entries[MAX_ENTRIES];
    size_t n;
    const char *reject_key; /* the callback refuses this key */
};

static tr_err_t
collect(const char *section, const char *key, const char *value,
        const char *file, int line, char *reason, size_t reasonlen, void *arg)
{
    struct collected *c = arg;
    struct entry *e;

    (void)file;
    if (c->reject_key != NULL && strcmp(key, c->reject_key) == 0) {
        snprintf(reason, reasonlen, "unknown key '%s'", key);
        return TR_ERR_CONFIG;
    }
    assert_true(c->n < MAX_ENTRIES);
    e = &c->entries[c->n++];
    snprintf(e->section, sizeof(e->section), "%s",
             section ? section : "(none)");
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->value, sizeof(e->value), "%s", value);
    e->line = line;
    return TR_OK;
}

static tr_err_t
parse(const char *text, enum tr_conf_format format, struct collected *c,
      char *errbuf, size_t errlen)
{
    return tr_conf_parse_string(text, strlen(text), "conf/x.properties", format,
                                collect, c, errbuf, errlen);
}

static void
test_conf_properties_basic(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];
    const char *text = "# a comment\n"
                       "! another comment\n"
                       "\n"
                       "   broker.id = 7   \n"
                       "log.dirs:/var/lib/x\r\n"
                       "empty=\n"
                       "\tspaced.key\t=\tvalue with spaces\t\n"
                       "a=b=c\n"
                       "url = http://h:1/x # not a comment\n";

    (void)state;
    assert_int_equal(
        parse(text, TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.entries[0].section, "(none)");
    assert_string_equal(c.entries[0].key, "broker.id");
    assert_string_equal(c.entries[0].value, "7");
    assert_int_equal(c.entries[0].line, 4);
    assert_string_equal(c.entries[1].key, "log.dirs");
    assert_string_equal(c.entries[1].value, "/var/lib/x");
    assert_int_equal(c.entries[1].line, 5);
    assert_string_equal(c.entries[2].key, "empty");
    assert_string_equal(c.entries[2].value, "");
    assert_string_equal(c.entries[3].key, "spaced.key");
    assert_string_equal(c.entries[3].value, "value with spaces");
    assert_string_equal(c.entries[4].key, "a");
    assert_string_equal(c.entries[4].value, "b=c");
    assert_string_equal(c.entries[5].value, "http://h:1/x # not a comment");
}

static void
test_conf_properties_continuation(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];
    const char *text = "listeners = PLAINTEXT://a:1,\\\n"
                       "            PLAINTEXT://b:2\n"
                       "next = 1\n"
                       "escaped.backslash = c:\\\\\n"
                       "after = 2\n"
                       "three = x\\\n"
                       "  y\\\n"
                       "  z\n"
                       "last = at end of file\\";

    (void)state;
    assert_int_equal(
        parse(text, TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.entries[0].value, "PLAINTEXT://a:1,PLAINTEXT://b:2");
    assert_int_equal(c.entries[0].line, 1);
    assert_string_equal(c.entries[1].key, "next");
    assert_int_equal(c.entries[1].line, 3);
    /* An even number of backslashes is an escaped backslash, not a join. */
    assert_string_equal(c.entries[2].value, "c:\\");
    assert_string_equal(c.entries[3].key, "after");
    assert_int_equal(c.entries[3].line, 5);
    assert_string_equal(c.entries[4].value, "xyz");
    assert_int_equal(c.entries[4].line, 6);
    assert_string_equal(c.entries[5].value, "at end of file");
    assert_int_equal(c.entries[5].line, 9);
}

static void
test_conf_properties_escapes(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];
    const char *text = "key\\=with\\:seps = tab\\there\n"
                       "uni = \\u0041\\u00e9\n"
                       "trailing = kept\\ \n";

    (void)state;
    assert_int_equal(
        parse(text, TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.entries[0].key, "key=with:seps");
    assert_string_equal(c.entries[0].value, "tab\there");
    assert_string_equal(c.entries[1].value, "A\xc3\xa9");
    assert_string_equal(c.entries[2].value, "kept ");

    memset(&c, 0, sizeof(c));
    assert_int_equal(parse("ok = 1\nbad = \\u12G4\n", TR_CONF_PROPERTIES, &c,
                           errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:2: malformed \\uXXXX "
                                "escape (four hex digits expected)");
}

static void
test_conf_properties_missing_equals(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];

    (void)state;
    assert_int_equal(parse("a = 1\n\n# c\nbroker.id 7\nb = 2\n",
                           TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:4: expected key=value");
    assert_int_equal(c.n, 1);

    assert_int_equal(
        parse(" = 1\n", TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:1: empty key before '='");
}

static void
test_conf_callback_error_has_file_and_line(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];

    (void)state;
    c.reject_key = "bogus";
    assert_int_equal(parse("a=1\nb=2\n\nbogus=3\n", TR_CONF_PROPERTIES, &c,
                           errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:4: unknown key 'bogus'");
}

static void
test_conf_nul_byte(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];
    const char text[] = "a=1\nb=\0\n";

    (void)state;
    assert_int_equal(tr_conf_parse_string(text, sizeof(text) - 1, "f",
                                          TR_CONF_PROPERTIES, collect, &c,
                                          errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "f:2: file contains a NUL byte");
}

static void
test_conf_ini_basic(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];
    const char *text = "global = yes\n"
                       "; comment\n"
                       "# comment\n"
                       "[input app]\n"
                       "path = /var/log/app/*.log\n"
                       "pattern = ^\\d+ \\w+$\n"
                       "  [ output ]  \n"
                       "topic = logs\n"
                       "brokers = a:1, \\\n"
                       "          b:2\n";

    (void)state;
    assert_int_equal(parse(text, TR_CONF_INI, &c, errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.entries[0].section, "(none)");
    assert_string_equal(c.entries[0].key, "global");
    assert_string_equal(c.entries[1].section, "input app");
    assert_string_equal(c.entries[1].value, "/var/log/app/*.log");
    assert_int_equal(c.entries[1].line, 5);
    /* INI values are raw: backslashes survive for regular expressions. */
    assert_string_equal(c.entries[2].value, "^\\d+ \\w+$");
    assert_string_equal(c.entries[3].section, "output");
    assert_string_equal(c.entries[3].key, "topic");
    assert_string_equal(c.entries[4].value, "a:1, b:2");
    assert_int_equal(c.entries[4].line, 9);
}

static void
test_conf_ini_errors(void **state)
{
    struct collected c = { 0 };
    char errbuf[256];

    (void)state;
    assert_int_equal(
        parse("[a]\nx=1\n[b]\n[a]\n", TR_CONF_INI, &c, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:4: duplicate section [a]");

    assert_int_equal(
        parse("[a]\n[unclosed\n", TR_CONF_INI, &c, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(
        errbuf, "conf/x.properties:2: expected ']' to close the section name");

    assert_int_equal(parse("[]\n", TR_CONF_INI, &c, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:1: empty section name");

    assert_int_equal(
        parse("[a]\n\njust words\n", TR_CONF_INI, &c, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "conf/x.properties:3: expected key = value or "
                                "[section]");
}

static void
test_conf_parse_file(void **state)
{
    struct collected c = { 0 };
    char path[] = "/tmp/test_conf_XXXXXX";
    char errbuf[512];
    char expect[600];
    const char *text = "a = 1\nb\n";
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(tr_conf_parse_file(path, TR_CONF_PROPERTIES, collect, &c,
                                        errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:2: expected key=value", path);
    assert_string_equal(errbuf, expect);
    assert_int_equal(c.n, 1);
    unlink(path);

    assert_int_equal(tr_conf_parse_file(path, TR_CONF_PROPERTIES, collect, &c,
                                        errbuf, sizeof(errbuf)),
                     TR_ERR_IO);
    assert_non_null(strstr(errbuf, "cannot open"));
    assert_non_null(strstr(errbuf, path));
}

static void
test_conf_int_values(void **state)
{
    char reason[256];
    int32_t v32 = 0;
    int64_t v64 = 0;

    (void)state;
    assert_int_equal(
        tr_conf_parse_int32("42", 0, 100, &v32, reason, sizeof(reason)), TR_OK);
    assert_int_equal(v32, 42);
    assert_int_equal(
        tr_conf_parse_int32("-1", -1, 100, &v32, reason, sizeof(reason)),
        TR_OK);
    assert_int_equal(v32, -1);
    assert_int_equal(
        tr_conf_parse_int32("12x", 0, 100, &v32, reason, sizeof(reason)),
        TR_ERR_CONFIG);
    assert_string_equal(reason, "expected an integer, got '12x'");
    assert_int_equal(
        tr_conf_parse_int32("", 0, 100, &v32, reason, sizeof(reason)),
        TR_ERR_CONFIG);
    assert_string_equal(reason, "expected an integer, got ''");
    assert_int_equal(
        tr_conf_parse_int32("101", 0, 100, &v32, reason, sizeof(reason)),
        TR_ERR_CONFIG);
    assert_string_equal(reason, "value 101 is out of range [0, 100]");
    assert_int_equal(tr_conf_parse_int32("2147483648", INT32_MIN, INT32_MAX,
                                         &v32, reason, sizeof(reason)),
                     TR_ERR_CONFIG);
    assert_string_equal(
        reason, "value 2147483648 is out of range [-2147483648, 2147483647]");
    assert_int_equal(v32, -1);

    assert_int_equal(tr_conf_parse_int64("9223372036854775807", 0, INT64_MAX,
                                         &v64, reason, sizeof(reason)),
                     TR_OK);
    assert_true(v64 == INT64_MAX);
    assert_int_equal(tr_conf_parse_int64("9223372036854775808", 0, INT64_MAX,
                                         &v64, reason, sizeof(reason)),
                     TR_ERR_CONFIG);
    assert_string_equal(reason, "value 9223372036854775808 is out of range "
                                "[0, 9223372036854775807]");
}

static void
test_conf_bool_values(void **state)
{
    char reason[256];
    int b = -1;

    (void)state;
    assert_int_equal(tr_conf_parse_bool("true", &b, reason, sizeof(reason)),
                     TR_OK);
    assert_int_equal(b, 1);
    assert_int_equal(tr_conf_parse_bool("FALSE", &b, reason, sizeof(reason)),
                     TR_OK);
    assert_int_equal(b, 0);
    assert_int_equal(tr_conf_parse_bool("yes", &b, reason, sizeof(reason)),
                     TR_ERR_CONFIG);
    assert_string_equal(reason, "expected true or false, got 'yes'");
    assert_int_equal(b, 0);
}

static void
test_conf_size_and_duration_values(void **state)
{
    char reason[256];
    int64_t v = 0;

    (void)state;
    assert_int_equal(tr_conf_parse_size("1073741824", 0, INT64_MAX, &v, reason,
                                        sizeof(reason)),
                     TR_OK);
    assert_true(v == 1073741824);
    assert_int_equal(
        tr_conf_parse_size("1g", 0, INT64_MAX, &v, reason, sizeof(reason)),
        TR_OK);
    assert_true(v == 1073741824);
    assert_int_equal(
        tr_conf_parse_size("64KiB", 0, INT64_MAX, &v, reason, sizeof(reason)),
        TR_OK);
    assert_true(v == 65536);
    assert_int_equal(
        tr_conf_parse_size("-1", -1, INT64_MAX, &v, reason, sizeof(reason)),
        TR_OK);
    assert_true(v == -1);
    assert_int_equal(
        tr_conf_parse_size("3x", 0, INT64_MAX, &v, reason, sizeof(reason)),
        TR_ERR_CONFIG);
    assert_string_equal(reason, "expected a size in bytes (optionally with k, "
                                "m, g or t), got '3x'");
    assert_int_equal(
        tr_conf_parse_size("3g", 0, 1024, &v, reason, sizeof(reason)),
        TR_ERR_CONFIG);
    assert_string_equal(reason, "size 3g is out of range [0, 1024] bytes");
    assert_int_equal(tr_conf_parse_size("99999999999t", 0, INT64_MAX, &v,
                                        reason, sizeof(reason)),
                     TR_ERR_CONFIG);

    assert_int_equal(tr_conf_parse_duration("168", 3600000, -1, INT32_MAX, &v,
                                            reason, sizeof(reason)),
                     TR_OK);
    assert_true(v == 604800000);
    assert_int_equal(tr_conf_parse_duration("-1", 60000, -1, INT32_MAX, &v,
                                            reason, sizeof(reason)),
                     TR_OK);
    assert_true(v == -60000);
    assert_int_equal(tr_conf_parse_duration("7d", 1, 0, INT64_MAX, &v, reason,
                                            sizeof(reason)),
                     TR_ERR_CONFIG);
    assert_string_equal(reason, "expected an integer, got '7d'");
    assert_int_equal(tr_conf_parse_duration("9223372036854775", 3600000, 0,
                                            INT64_MAX, &v, reason,
                                            sizeof(reason)),
                     TR_ERR_CONFIG);
    assert_string_equal(reason, "duration 9223372036854775 overflows when "
                                "converted to milliseconds");
}

/* Fails allocation 0, 1, 2, ... until a parse succeeds: no leak, no crash. */
static void
test_conf_oom_loop(void **state)
{
    struct collected c;
    char errbuf[256];
    const char *text = "a = 1\nb = \\\n  2\nc = \\u0041\n";
    const char *ini = "x = 1\n[s]\ny = 2\n[t]\n";
    tr_err_t err;
    long n;

    (void)state;
    for (n = 0;; n++) {
        memset(&c, 0, sizeof(c));
        tr_alloc_fail_after(n);
        err = parse(text, TR_CONF_PROPERTIES, &c, errbuf, sizeof(errbuf));
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
    }
    assert_int_equal(c.n, 3);
    for (n = 0;; n++) {
        memset(&c, 0, sizeof(c));
        tr_alloc_fail_after(n);
        err = parse(ini, TR_CONF_INI, &c, errbuf, sizeof(errbuf));
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
    }
    assert_int_equal(c.n, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_properties_basic),
        cmocka_unit_test(test_conf_properties_continuation),
        cmocka_unit_test(test_conf_properties_escapes),
        cmocka_unit_test(test_conf_properties_missing_equals),
        cmocka_unit_test(test_conf_callback_error_has_file_and_line),
        cmocka_unit_test(test_conf_nul_byte),
        cmocka_unit_test(test_conf_ini_basic),
        cmocka_unit_test(test_conf_ini_errors),
        cmocka_unit_test(test_conf_parse_file),
        cmocka_unit_test(test_conf_int_values),
        cmocka_unit_test(test_conf_bool_values),
        cmocka_unit_test(test_conf_size_and_duration_values),
        cmocka_unit_test(test_conf_oom_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
