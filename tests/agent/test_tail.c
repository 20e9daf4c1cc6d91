/*
 * Tests for agent/tail.c: the line/event splitter (partial lines, long
 * lines, multiline joining, backpressure) and file identity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/parse.h"
#include "agent/tail.h"

struct rec {
    uint64_t off, end;
    int truncated;
    char data[256];
};

struct sink {
    struct rec r[32];
    int n;
    int refuse_after; /* -1: never */
};

static tr_err_t
collect(void *arg, uint64_t off, const char *data, size_t len, uint64_t end,
        int truncated)
{
    struct sink *s = arg;
    if (s->refuse_after >= 0 && s->n >= s->refuse_after) {
        return TR_ERR_AGAIN;
    }
    assert_true(s->n < 32);
    assert_true(len < sizeof(s->r[0].data));
    s->r[s->n].off = off;
    s->r[s->n].end = end;
    s->r[s->n].truncated = truncated;
    memcpy(s->r[s->n].data, data, len);
    s->r[s->n].data[len] = '\0';
    s->n++;
    return TR_OK;
}

static size_t
split(struct tr_split_state *st, const struct tr_split_opts *o,
      const char *text, uint64_t base, int flags, struct sink *s)
{
    size_t consumed = 0;
    assert_int_equal(tr_tail_split(st, o, text, strlen(text), base, flags,
                                   collect, s, &consumed),
                     TR_OK);
    return consumed;
}

static void
test_lines_and_partial(void **state)
{
    struct tr_split_state st = { 0 };
    struct tr_split_opts o = { 100, 100, NULL };
    struct sink s = { .refuse_after = -1 };
    (void)state;

    size_t c = split(&st, &o, "one\ntwo\nthr", 1000, 0, &s);
    assert_int_equal(c, 8); /* the partial "thr" waits */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.r[0].data, "one");
    assert_int_equal(s.r[0].off, 1000);
    assert_int_equal(s.r[0].end, 1004);
    assert_string_equal(s.r[1].data, "two");
    assert_int_equal(s.r[1].off, 1004);
    /* The same bytes come back with the rest of the line. */
    c = split(&st, &o, "three\n\n", 1008, 0, &s);
    assert_int_equal(c, 7);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.r[2].data, "three");
    assert_string_equal(s.r[3].data, ""); /* an empty line is a record */
    /* After the partial-line timeout the tail is sent as it is. */
    c = split(&st, &o, "tail", 1015, TR_SPLIT_FLUSH_PARTIAL, &s);
    assert_int_equal(c, 4);
    assert_string_equal(s.r[4].data, "tail");
    assert_int_equal(s.r[4].end, 1019);
}

static void
test_long_line_is_cut(void **state)
{
    struct tr_split_state st = { 0 };
    struct tr_split_opts o = { 8, 8, NULL };
    struct sink s = { .refuse_after = -1 };
    (void)state;

    /* A line exactly at the limit is not cut. */
    size_t c = split(&st, &o, "12345678\nabc", 0, 0, &s);
    assert_int_equal(c, 9);
    assert_int_equal(s.r[0].truncated, 0);
    /* A longer one is cut, and its rest skipped, across calls. */
    c = split(&st, &o, "abcdefghijkl", 9, 0, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.r[1].data, "abcdefgh");
    assert_int_equal(s.r[1].truncated, 1);
    assert_int_equal(c, 12);
    c = split(&st, &o, "mnop\nnext\n", 21, 0, &s);
    assert_int_equal(c, 10);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.r[2].data, "next");
    assert_int_equal(s.r[2].off, 26);
    assert_int_equal(s.r[2].truncated, 0);
}

static struct tr_parse *
ml_parser(void)
{
    struct tr_agent_input in;
    struct tr_parse *p = NULL;
    char err[128];
    memset(&in, 0, sizeof(in));
    in.multiline_start = "^\\d{4}-";
    assert_int_equal(tr_parse_new(&in, &p, err, sizeof(err)), TR_OK);
    return p;
}

static void
test_multiline_joins_stack_trace(void **state)
{
    struct tr_parse *p = ml_parser();
    struct tr_split_state st = { 0 };
    struct tr_split_opts o = { 100, 200, p };
    struct sink s = { .refuse_after = -1 };
    (void)state;

    const char *text = "2024-01-01 ERROR boom\n"
                       "java.lang.X: bad\n"
                       "\tat A.b(A.java:1)\n"
                       "2024-01-01 INFO ok\n"
                       "2024-01-01 INFO last\n";
    size_t c = split(&st, &o, text, 0, 0, &s);
    assert_int_equal(s.n, 2); /* the last event may still grow */
    assert_string_equal(s.r[0].data, "2024-01-01 ERROR boom\n"
                                     "java.lang.X: bad\n"
                                     "\tat A.b(A.java:1)");
    assert_int_equal(s.r[0].off, 0);
    assert_int_equal(s.r[0].end, 57);
    assert_string_equal(s.r[1].data, "2024-01-01 INFO ok");
    assert_int_equal(c, 76);
    /* The flush timeout sends it. */
    c = split(&st, &o, "2024-01-01 INFO last\n", 76, TR_SPLIT_FLUSH_EVENT, &s);
    assert_int_equal(c, 21);
    assert_string_equal(s.r[2].data, "2024-01-01 INFO last");
    tr_parse_free(p);
}

static void
test_multiline_max_cuts_event(void **state)
{
    struct tr_parse *p = ml_parser();
    struct tr_split_state st = { 0 };
    struct tr_split_opts o = { 100, 20, p };
    struct sink s = { .refuse_after = -1 };
    (void)state;

    const char *text = "2024-01 start\n"
                       " cont one\n"
                       " cont two\n"
                       " cont three\n"
                       "2024-02 next\n"
                       "2024-03 x\n";
    size_t c = split(&st, &o, text, 0, 0, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.r[0].truncated, 1);
    assert_int_equal(strlen(s.r[0].data), 20);
    assert_memory_equal(s.r[0].data, "2024-01 start\n cont ", 20);
    assert_string_equal(s.r[1].data, "2024-02 next");
    assert_int_equal(s.r[1].truncated, 0);
    assert_int_equal(c, strlen(text) - strlen("2024-03 x\n"));
    tr_parse_free(p);
}

static void
test_backpressure_stops_before_record(void **state)
{
    struct tr_split_state st = { 0 };
    struct tr_split_opts o = { 100, 100, NULL };
    struct sink s = { .refuse_after = 1 };
    (void)state;

    size_t c = split(&st, &o, "a\nb\nc\n", 0, 0, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(c, 2);
    s.refuse_after = -1;
    c = split(&st, &o, "b\nc\n", 2, 0, &s);
    assert_int_equal(c, 4);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.r[1].data, "b");
}

static void
test_identity(void **state)
{
    char path[] = "/tmp/test_tail.XXXXXX";
    struct tr_tail_id id, id2;
    struct stat st;
    (void)state;

    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    assert_int_equal(fstat(fd, &st), 0);
    id.dev = (uint64_t)st.st_dev;
    id.ino = (uint64_t)st.st_ino;
    assert_int_equal(tr_tail_fingerprint(fd, 1024, &id), TR_OK);
    assert_int_equal(id.fp_len, 6);
    assert_int_equal(tr_tail_same(fd, &st, &id), 1);
    /* Growth keeps the identity. */
    assert_int_equal(write(fd, "world\n", 6), 6);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(tr_tail_same(fd, &st, &id), 1);
    /* Rewriting the first bytes (same inode) makes another file. */
    assert_int_equal(pwrite(fd, "HELLO\n", 6, 0), 6);
    assert_int_equal(tr_tail_same(fd, &st, &id), 0);
    /* As does shrinking below the fingerprint. */
    assert_int_equal(ftruncate(fd, 3), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(tr_tail_same(fd, &st, &id), 0);
    id2 = id;
    id2.ino++;
    assert_int_equal(tr_tail_same(fd, &st, &id2), 0);
    close(fd);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_partial),
        cmocka_unit_test(test_long_line_is_cut),
        cmocka_unit_test(test_multiline_joins_stack_trace),
        cmocka_unit_test(test_multiline_max_cuts_event),
        cmocka_unit_test(test_backpressure_stops_before_record),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
