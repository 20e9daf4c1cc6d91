/*
 * test_table -- aligned tables, the JSON writer's escaping and nesting, and
 * the progress bar's text.
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
#include "progress.h"
#include "table.h"

/* Runs 'fn' with a memory stream and returns what it wrote (free it). */
static char *
capture(void (*fn)(FILE *out, void *arg), void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void
print_table(FILE *out, void *arg)
{
    tr_table_print(arg, out);
}

static void
test_table_aligns_columns(void **state)
{
    const char *h[] = { "TOPIC", "PARTITIONS", "NOTE" };
    const char *r1[] = { "a", "3", "x" };
    const char *r2[] = { "longer-name", "12", NULL };
    struct tr_table *t = tr_table_new(3, h);
    char *out;

    (void)state;
    assert_non_null(t);
    assert_int_equal(tr_table_add(t, r1), TR_OK);
    assert_int_equal(tr_table_add(t, r2), TR_OK);
    assert_int_equal(tr_table_rows(t), 2);
    out = capture(print_table, t);
    /* Text left-aligned, numbers right-aligned, NULL as "-". */
    assert_string_equal(out, "TOPIC        PARTITIONS  NOTE\n"
                             "a                     3  x\n"
                             "longer-name          12  -\n");
    free(out);
    tr_table_free(t);
}

static void
test_table_addf_splits_tabs(void **state)
{
    const char *h[] = { "A", "B" };
    struct tr_table *t = tr_table_new(2, h);
    char *out;

    (void)state;
    assert_int_equal(tr_table_addf(t, "%s\t%d", "x", 7), TR_OK);
    assert_int_equal(tr_table_addf(t, "only"), TR_OK);
    out = capture(print_table, t);
    assert_string_equal(out, "A     B\nx     7\nonly  \n");
    free(out);
    tr_table_free(t);
}

static void
write_json(FILE *out, void *arg)
{
    struct tr_json j;

    (void)arg;
    tr_json_init(&j, out);
    tr_json_arr_begin(&j);
    tr_json_obj_begin(&j);
    tr_json_key(&j, "name");
    tr_json_str(&j, "a\"b\\c\n\t\x01");
    tr_json_key(&j, "n");
    tr_json_int(&j, -42);
    tr_json_key(&j, "ok");
    tr_json_bool(&j, 1);
    tr_json_key(&j, "none");
    tr_json_str(&j, NULL);
    tr_json_key(&j, "list");
    tr_json_arr_begin(&j);
    tr_json_int(&j, 1);
    tr_json_int(&j, 2);
    tr_json_arr_end(&j);
    tr_json_obj_end(&j);
    tr_json_obj_begin(&j);
    tr_json_obj_end(&j);
    tr_json_arr_end(&j);
    tr_json_end(&j);
}

static void
test_json_nesting_and_escapes(void **state)
{
    char *out = capture(write_json, NULL);

    (void)state;
    assert_string_equal(out, "[{\"name\":\"a\\\"b\\\\c\\n\\t\\u0001\","
                             "\"n\":-42,\"ok\":true,\"none\":null,"
                             "\"list\":[1,2]},{}]\n");
    free(out);
}

struct bytes {
    const char *s;
    size_t len;
};

static void
escape_bytes(FILE *out, void *arg)
{
    struct bytes *b = arg;

    tr_json_escape(out, b->s, b->len);
}

static void
test_json_keeps_utf8_escapes_stray_bytes(void **state)
{
    /* "é" is valid UTF-8; 0xff and a lone continuation byte are not. */
    struct bytes b = { "\xc3\xa9-\xff-\x80", 6 };
    char *out = capture(escape_bytes, &b);

    (void)state;
    assert_string_equal(out, "\"\xc3\xa9-\\u00ff-\\u0080\"");
    free(out);
}

static void
test_progress_format(void **state)
{
    char buf[256];

    (void)state;
    tr_progress_format(buf, sizeof(buf), "records", 250, 1000, 1000, 10);
    assert_string_equal(buf, "[##........]  25% 250/1000 records  250 "
                             "records/s  ETA 00:03");
    tr_progress_format(buf, sizeof(buf), "records", 5000, -1, 2000, 10);
    assert_string_equal(buf, "5000 records  2500 records/s");
    tr_progress_format(buf, sizeof(buf), "b", 0, 10, 0, 4);
    assert_string_equal(buf, "[....]   0% 0/10 b  0 b/s  ETA --:--");
}

static void
test_table_oom(void **state)
{
    const char *h[] = { "A", "B" };
    const char *r[] = { "1", "2" };
    struct tr_table *t = NULL;
    long n;

    (void)state;
    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        t = tr_table_new(2, h);
        if (t != NULL && tr_table_add(t, r) == TR_OK) {
            break;
        }
        tr_table_free(t);
        t = NULL;
    }
    tr_alloc_fail_after(-1);
    assert_int_equal(tr_table_rows(t), 1);
    tr_table_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_aligns_columns),
        cmocka_unit_test(test_table_addf_splits_tabs),
        cmocka_unit_test(test_json_nesting_and_escapes),
        cmocka_unit_test(test_json_keeps_utf8_escapes_stray_bytes),
        cmocka_unit_test(test_progress_format),
        cmocka_unit_test(test_table_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
