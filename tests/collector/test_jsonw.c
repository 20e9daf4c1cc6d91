/*
 * test_jsonw -- the console's JSON writer: commas in nested containers,
 * string escaping (quotes, backslashes, control bytes, '<', '>', '&',
 * U+2028), bytes that are not UTF-8 (lone continuation bytes, overlong
 * forms, surrogates, truncated sequences) replaced by U+FFFD, and every
 * output checked with the project's strict JSON reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "json.h"
#include "jsonw.h"

/* The evbuffer's contents as an owned NUL-terminated string. */
static char *
text(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);

    assert_non_null(s);
    evbuffer_copyout(b, s, n);
    s[n] = '\0';
    return s;
}

/* Writes 'len' bytes of 's' as one JSON string and returns the text. */
static char *
string_of(const char *s, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    struct tr_jsonw w;
    struct tr_json_value v;
    char *out;

    tr_jsonw_init(&w, b);
    tr_jsonw_stringn(&w, s, len);
    out = text(b);
    evbuffer_free(b);
    assert_int_equal(tr_json_parse(out, strlen(out), &v), TR_OK);
    return out;
}

static void
test_structure(void **state)
{
    struct evbuffer *b = evbuffer_new();
    struct tr_jsonw w;
    struct tr_json_value root, v;
    char *s;

    (void)state;
    tr_jsonw_init(&w, b);
    tr_jsonw_object(&w);
    tr_jsonw_kv_string(&w, "name", "logs");
    tr_jsonw_kv_int(&w, "n", -42);
    tr_jsonw_kv_bool(&w, "ok", 1);
    tr_jsonw_key(&w, "none");
    tr_jsonw_null(&w);
    tr_jsonw_key(&w, "list");
    tr_jsonw_array(&w);
    tr_jsonw_int(&w, 1);
    tr_jsonw_array(&w);
    tr_jsonw_end_array(&w);
    tr_jsonw_object(&w);
    tr_jsonw_kv_bool(&w, "f", 0);
    tr_jsonw_end_object(&w);
    tr_jsonw_string(&w, NULL);
    tr_jsonw_end_array(&w);
    tr_jsonw_key(&w, "empty");
    tr_jsonw_object(&w);
    tr_jsonw_end_object(&w);
    tr_jsonw_end_object(&w);
    s = text(b);
    assert_string_equal(s, "{\"name\":\"logs\",\"n\":-42,\"ok\":true,"
                           "\"none\":null,\"list\":[1,[],{\"f\":false},"
                           "null],\"empty\":{}}");
    assert_int_equal(tr_json_parse(s, strlen(s), &root), TR_OK);
    assert_int_equal(tr_json_get(&root, "list", &v), TR_OK);
    assert_int_equal(v.type, TR_JSON_ARRAY);
    free(s);
    evbuffer_free(b);
}

static void
test_escapes(void **state)
{
    char *s;

    (void)state;
    s = string_of("a\"b\\c\nd\te\x01", 10);
    assert_string_equal(s, "\"a\\\"b\\\\c\\nd\\u0009e\\u0001\"");
    free(s);
    s = string_of("<script>alert(1)</script>&", 26);
    assert_string_equal(s, "\"\\u003cscript\\u003ealert(1)\\u003c/"
                           "script\\u003e\\u0026\"");
    free(s);
    /* a NUL inside, U+2028 (a line break to JavaScript), valid UTF-8 kept */
    s = string_of("x\0y\xe2\x80\xa8z\xc3\xa9\xf0\x9f\x98\x80", 13);
    assert_string_equal(s, "\"x\\u0000y\\u2028z\xc3\xa9\xf0\x9f\x98\x80\"");
    free(s);
}

static void
test_invalid_utf8(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        { "\x80", 1, "\"\\ufffd\"" },                       /* continuation */
        { "a\xc0\xaf", 3, "\"a\\ufffd\\ufffd\"" },          /* overlong '/' */
        { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
        { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
        { "ok\xe2\x82", 4, "\"ok\\ufffd\\ufffd\"" }, /* truncated */
        { "\xff\xfe", 2, "\"\\ufffd\\ufffd\"" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = string_of(cases[i].in, cases[i].len);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
}

/* Every byte string of length 1 and 2: always valid JSON, never a crash. */
static void
test_all_short_strings(void **state)
{
    char in[2];
    int a, b;

    (void)state;
    for (a = 0; a < 256; a++) {
        in[0] = (char)a;
        free(string_of(in, 1));
        for (b = 0; b < 256; b++) {
            in[1] = (char)b;
            free(string_of(in, 2));
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_all_short_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
