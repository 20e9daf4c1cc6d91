/*
 * test_fleet -- the fleet view (collector/metrics/fleet.h): status records
 * parsed into /api/agents, the silent rule, tombstones, and malformed
 * records refused without changing anything.
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
#include "fleet.h"

#define SILENT 30000
#define T0     INT64_C(1765000000000)

/* A record as agent/status.c writes it. */
static const char good[] =
    "{\"host\":\"web-1\",\"version\":\"0.1.0\",\"started_ms\":1764999990000,"
    "\"timestamp_ms\":1765000000000,\"interval_ms\":5000,"
    "\"last_error\":null,\"last_error_ms\":null,"
    "\"inputs\":[{\"name\":\"nginx\",\"topic\":\"logs\"}],"
    "\"files\":[{\"path\":\"/var/log/a.log\",\"input\":\"nginx\","
    "\"bytes_read\":100,\"bytes_acked\":90,\"bytes_behind\":15,"
    "\"last_ack_ms\":1764999999000},"
    "{\"path\":\"/var/log/b \\\"q\\\".log\",\"input\":\"nginx\","
    "\"bytes_read\":0,\"bytes_acked\":0,\"bytes_behind\":7,"
    "\"last_ack_ms\":null}],\"files_omitted\":0,\"future\":[1]}";

static const char with_error[] =
    "{\"version\":\"0.2.0\",\"started_ms\":1,\"last_error\":\"read x: EIO\","
    "\"last_error_ms\":1765000000500,\"inputs\":[],\"files\":[]}";

static tr_err_t
apply(struct tr_fleet *fl, const char *host, const char *value, int64_t ts,
      int64_t now)
{
    return tr_fleet_apply(fl, host, host != NULL ? strlen(host) : 0, value,
                          value != NULL ? strlen(value) : 0, ts, now);
}

/* The /api/agents document at 'now' (owned by the caller). */
static char *
json(struct tr_fleet *fl, int64_t now)
{
    struct tr_buf b;
    char *s;

    tr_buf_init(&b, 1 << 20);
    assert_int_equal(tr_fleet_json(fl, now, &b), TR_OK);
    s = calloc(1, tr_buf_len(&b) + 1);
    assert_non_null(s);
    memcpy(s, tr_buf_data(&b), tr_buf_len(&b));
    tr_buf_cleanup(&b);
    return s;
}

static void
test_fleet_good_record_served(void **state)
{
    struct tr_fleet *fl;
    size_t active, silent;
    char *s;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "web-1", good, T0, T0 + 10), TR_OK);
    s = json(fl, T0 + 1000);
    assert_string_equal(
        s, "{\"now_ms\":1765000001000,\"silent_after_ms\":30000,\"agents\":["
           "{\"host\":\"web-1\",\"version\":\"0.1.0\","
           "\"started_ms\":1764999990000,\"last_seen_ms\":1765000000000,"
           "\"silent\":false,\"bytes_behind\":22,\"last_error\":null,"
           "\"last_error_ms\":null,"
           "\"inputs\":[{\"name\":\"nginx\",\"topic\":\"logs\"}],"
           "\"files\":[{\"path\":\"/var/log/a.log\",\"input\":\"nginx\","
           "\"bytes_read\":100,\"bytes_acked\":90,\"bytes_behind\":15,"
           "\"last_ack_ms\":1764999999000},"
           "{\"path\":\"/var/log/b \\\"q\\\".log\",\"input\":\"nginx\","
           "\"bytes_read\":0,\"bytes_acked\":0,\"bytes_behind\":7,"
           "\"last_ack_ms\":null}]}]}\n");
    free(s);
    tr_fleet_counts(fl, T0 + 1000, &active, &silent);
    assert_int_equal(active, 1);
    assert_int_equal(silent, 0);
    tr_fleet_free(fl);
}

static void
test_fleet_silent_after_setting(void **state)
{
    struct tr_fleet *fl;
    size_t active, silent;
    char *s;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "b", good, T0, T0), TR_OK);
    assert_int_equal(apply(fl, "a", with_error, T0 + 20000, T0 + 20000), TR_OK);
    /* Exactly silent_after_ms is still active; one more is silent. */
    tr_fleet_counts(fl, T0 + SILENT, &active, &silent);
    assert_int_equal(active, 2);
    tr_fleet_counts(fl, T0 + SILENT + 1, &active, &silent);
    assert_int_equal(active, 1);
    assert_int_equal(silent, 1);
    s = json(fl, T0 + SILENT + 1);
    /* sorted by host: a (active, with its error), then b (silent) */
    assert_non_null(strstr(s, "\"agents\":[{\"host\":\"a\""));
    assert_non_null(strstr(s, "\"silent\":false,\"bytes_behind\":0,"
                              "\"last_error\":\"read x: EIO\","
                              "\"last_error_ms\":1765000000500"));
    assert_non_null(strstr(s, "{\"host\":\"b\""));
    assert_non_null(strstr(s, "\"silent\":true"));
    free(s);
    /* Heard from again: active. */
    assert_int_equal(apply(fl, "b", good, T0 + 40000, T0 + 40000), TR_OK);
    tr_fleet_counts(fl, T0 + 40001, &active, &silent);
    assert_int_equal(active, 2);
    assert_int_equal(silent, 0);
    tr_fleet_free(fl);
}

static void
test_fleet_clock_and_order(void **state)
{
    struct tr_fleet *fl;
    char *s;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    /* A timestamp in the future counts as now. */
    assert_int_equal(apply(fl, "h", good, T0 + 99999, T0), TR_OK);
    s = json(fl, T0);
    assert_non_null(strstr(s, "\"last_seen_ms\":1765000000000"));
    free(s);
    /* An older record (replayed out of order) does not replace it. */
    assert_int_equal(apply(fl, "h", with_error, T0 - 5, T0), TR_OK);
    s = json(fl, T0);
    assert_non_null(strstr(s, "\"version\":\"0.1.0\""));
    free(s);
    tr_fleet_free(fl);
}

static void
test_fleet_tombstone_forgets(void **state)
{
    struct tr_fleet *fl;
    size_t active, silent;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "h", good, T0, T0), TR_OK);
    assert_int_equal(apply(fl, "other", NULL, T0, T0), TR_OK);
    tr_fleet_counts(fl, T0, &active, &silent);
    assert_int_equal(active, 1);
    assert_int_equal(apply(fl, "h", NULL, T0, T0), TR_OK);
    tr_fleet_counts(fl, T0, &active, &silent);
    assert_int_equal(active + silent, 0);
    tr_fleet_free(fl);
}

static void
test_fleet_malformed_records_change_nothing(void **state)
{
    static const char *const bad[] = {
        "",
        "{not json",
        "[1,2]",
        "null",
        "{\"version\":3,\"started_ms\":1,\"inputs\":[],\"files\":[]}",
        "{\"started_ms\":1,\"inputs\":[],\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":-1,\"inputs\":[],\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":1.5,\"inputs\":[],\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":\"1\",\"inputs\":[],\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":{},\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":[],\"files\":[3]}",
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":[{\"name\":\"a\"}],"
        "\"files\":[]}",
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":[],\"files\":[{"
        "\"path\":\"p\",\"input\":\"i\",\"bytes_read\":\"9\","
        "\"bytes_acked\":0,\"bytes_behind\":0}]}",
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":[],\"files\":[{"
        "\"path\":\"p\",\"input\":\"i\",\"bytes_read\":1,"
        "\"bytes_acked\":99999999999999999999999,\"bytes_behind\":0}]}",
        "{\"version\":\"v\",\"version\":\"w\",\"started_ms\":1,"
        "\"inputs\":[],\"files\":[]}",
        "{\"version\":\"a\\u0000b\",\"started_ms\":1,\"inputs\":[],"
        "\"files\":[]}",
        "{\"version\":\"\xff\",\"started_ms\":1,\"inputs\":[],\"files\":[]}",
    };
    struct tr_fleet *fl;
    char *before, *after;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "web-1", good, T0, T0), TR_OK);
    before = json(fl, T0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tr_err_t err = apply(fl, "web-1", bad[i], T0 + 1, T0 + 1);
        if (err == TR_OK) {
            fail_msg("accepted bad record %zu: %s", i, bad[i]);
        }
        err = apply(fl, "new-host", bad[i], T0 + 1, T0 + 1);
        assert_int_not_equal(err, TR_OK);
    }
    /* No key, an empty key, a key holding NUL: no host to file it under. */
    assert_int_not_equal(
        tr_fleet_apply(fl, NULL, 0, good, strlen(good), T0, T0), TR_OK);
    assert_int_not_equal(apply(fl, "", good, T0, T0), TR_OK);
    assert_int_not_equal(
        tr_fleet_apply(fl, "a\0b", 3, good, strlen(good), T0, T0), TR_OK);
    assert_int_not_equal(apply(fl, "h\xff", good, T0, T0), TR_OK);
    after = json(fl, T0);
    assert_string_equal(before, after);
    free(before);
    free(after);
    tr_fleet_free(fl);
}

/* Totals saturate: the numbers come from the wire. */
static void
test_fleet_bytes_behind_saturates(void **state)
{
    static const char huge[] =
        "{\"version\":\"v\",\"started_ms\":1,\"inputs\":[],\"files\":["
        "{\"path\":\"a\",\"input\":\"i\",\"bytes_read\":0,"
        "\"bytes_acked\":0,\"bytes_behind\":9223372036854775807},"
        "{\"path\":\"b\",\"input\":\"i\",\"bytes_read\":0,"
        "\"bytes_acked\":0,\"bytes_behind\":9223372036854775807}]}";
    struct tr_fleet *fl;
    char *s;

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "h", huge, T0, T0), TR_OK);
    s = json(fl, T0);
    assert_non_null(strstr(s, "\"silent\":false,"
                              "\"bytes_behind\":9223372036854775807,"));
    free(s);
    tr_fleet_free(fl);
}

static void
test_fleet_too_many_files(void **state)
{
    struct tr_fleet *fl;
    size_t cap = 64 + (size_t)(TR_FLEET_MAX_FILES + 1) * 8, len = 0;
    char *v = malloc(cap);

    (void)state;
    assert_non_null(v);
    len += (size_t)snprintf(v, cap,
                            "{\"version\":\"v\",\"started_ms\":1,"
                            "\"inputs\":[],\"files\":[");
    for (int i = 0; i <= TR_FLEET_MAX_FILES; i++) {
        len += (size_t)snprintf(v + len, cap - len, i > 0 ? ",{}" : "{}");
    }
    snprintf(v + len, cap - len, "]}");
    assert_int_equal(tr_fleet_new(NULL, SILENT, &fl), TR_OK);
    assert_int_equal(apply(fl, "h", v, T0, T0), TR_ERR_TOO_LARGE);
    free(v);
    tr_fleet_free(fl);
}

/* Out of memory at every allocation: an error, no leak, no crash. */
static void
test_fleet_oom(void **state)
{
    struct tr_fleet *fl = NULL;
    tr_err_t err = TR_ERR_NOMEM;

    (void)state;
    for (long n = 0; err != TR_OK; n++) {
        tr_alloc_fail_after(n);
        fl = NULL;
        err = tr_fleet_new(NULL, SILENT, &fl);
        if (err == TR_OK) {
            err = apply(fl, "web-1", good, T0, T0);
            if (err == TR_OK) {
                err = apply(fl, "web-1", good, T0 + 1, T0 + 1);
            }
        }
        tr_alloc_fail_after(-1);
        if (err != TR_OK) {
            assert_int_equal(err, TR_ERR_NOMEM);
        }
        tr_fleet_free(fl);
        assert_true(n < 1000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_good_record_served),
        cmocka_unit_test(test_fleet_silent_after_setting),
        cmocka_unit_test(test_fleet_clock_and_order),
        cmocka_unit_test(test_fleet_tombstone_forgets),
        cmocka_unit_test(test_fleet_malformed_records_change_nothing),
        cmocka_unit_test(test_fleet_bytes_behind_saturates),
        cmocka_unit_test(test_fleet_too_many_files),
        cmocka_unit_test(test_fleet_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
