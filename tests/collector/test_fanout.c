/*
 * Tests for collector/http/fanout.c's merge: groups once each, partitions
 * as their leaders report them, the collectors that did not answer (or
 * answered something else) listed, this collector's document required.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"

/* Merges and returns the document as an owned string. */
static char *
merge(enum tr_fanout_kind kind, const struct tr_fanout_doc *docs, size_t n,
      tr_err_t want)
{
    struct evbuffer *out = evbuffer_new();
    size_t len;
    char *s;

    assert_non_null(out);
    assert_int_equal(tr_fanout_merge(kind, docs, n, out), want);
    len = evbuffer_get_length(out);
    s = malloc(len + 1);
    assert_non_null(s);
    evbuffer_remove(out, s, len);
    s[len] = '\0';
    evbuffer_free(out);
    return s;
}

static struct tr_fanout_doc
doc(int32_t id, int ok, const char *text)
{
    struct tr_fanout_doc d = { id, ok, text, text != NULL ? strlen(text) : 0 };
    return d;
}

static void
test_groups(void **state)
{
    struct tr_fanout_doc docs[4];
    char *s;

    (void)state;
    docs[0] = doc(1, 1,
                  "{\"now_ms\":5,\"groups\":[{\"group_id\":\"a\",\"lag\":1}],"
                  "\"sample_interval_ms\":30000}");
    docs[1] = doc(2, 1,
                  "{\"now_ms\":6,\"groups\":[{\"group_id\":\"b\",\"lag\":2},"
                  "{\"group_id\":\"a\",\"lag\":9}]}");
    docs[2] = doc(3, 0, NULL);                /* did not answer */
    docs[3] = doc(4, 1, "<html>nope</html>"); /* not JSON */
    s = merge(TR_FANOUT_GROUPS, docs, 4, TR_OK);
    assert_string_equal(s, "{\"now_ms\":5,\"groups\":[{\"group_id\":\"a\","
                           "\"lag\":1},{\"group_id\":\"b\",\"lag\":2}],"
                           "\"sample_interval_ms\":30000,"
                           "\"brokers_missing\":[3,4]}");
    free(s);
}

static void
test_topics(void **state)
{
    struct tr_fanout_doc docs[3];
    char *s;

    (void)state;
    /* Here (broker 1): t-0 led by 2, t-1 led by 1, t-2 led by 3. */
    docs[0] = doc(1, 1,
                  "{\"topics\":[{\"name\":\"t\",\"internal\":false,"
                  "\"partitions\":["
                  "{\"partition\":0,\"leader\":2,\"log_end_offset\":null},"
                  "{\"partition\":1,\"leader\":1,\"log_end_offset\":7},"
                  "{\"partition\":2,\"leader\":3,\"log_end_offset\":null}]},"
                  "{\"name\":\"u\",\"partitions\":[]}]}");
    docs[1] = doc(2, 1,
                  "{\"topics\":[{\"name\":\"t\",\"partitions\":["
                  "{\"partition\":0,\"leader\":2,\"log_end_offset\":5},"
                  "{\"partition\":1,\"leader\":1,\"log_end_offset\":null}]}]}");
    docs[2] = doc(3, 0, NULL);
    s = merge(TR_FANOUT_TOPICS, docs, 3, TR_OK);
    assert_string_equal(
        s, "{\"topics\":[{\"name\":\"t\",\"internal\":false,\"partitions\":["
           "{\"partition\":0,\"leader\":2,\"log_end_offset\":5},"
           "{\"partition\":1,\"leader\":1,\"log_end_offset\":7},"
           "{\"partition\":2,\"leader\":3,\"log_end_offset\":null}]},"
           "{\"name\":\"u\",\"partitions\":[]}],\"brokers_missing\":[3]}");
    free(s);
}

static void
test_bad_local(void **state)
{
    struct tr_fanout_doc docs[2];
    char *s;

    (void)state;
    docs[0] = doc(1, 1, "{\"groups\":{}}");
    docs[1] = doc(2, 1, "{\"groups\":[]}");
    s = merge(TR_FANOUT_GROUPS, docs, 2, TR_ERR_CORRUPT);
    assert_string_equal(s, "");
    free(s);
    docs[0] = doc(1, 1, "{\"topics\":[");
    s = merge(TR_FANOUT_TOPICS, docs, 1, TR_ERR_CORRUPT);
    free(s);
    /* Shapes that are JSON but not ours are left out, never trusted. */
    docs[0] = doc(1, 1, "{\"groups\":[{\"group_id\":\"a\"},3,[]]}");
    docs[1] = doc(2, 1, "{\"groups\":[{\"nogroup\":1},\"x\"]}");
    s = merge(TR_FANOUT_GROUPS, docs, 2, TR_OK);
    assert_string_equal(s, "{\"groups\":[{\"group_id\":\"a\"}],"
                           "\"brokers_missing\":[]}");
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_bad_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
