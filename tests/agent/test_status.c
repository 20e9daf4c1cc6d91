/*
 * test_status -- the agent's status record (agent/status.h): valid JSON
 * whatever the paths hold, bounded in size, and read back by the
 * collector's fleet view (collector/metrics/fleet.h) field for field, so
 * the writer and the reader cannot drift apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/config.h"
#include "agent/status.h"
#include "fleet.h"
#include "json.h"

#define T0 INT64_C(1765000000000)

static const char conf_text[] = "[agent]\nstate_dir = /tmp/x\nhost = web-1\n"
                                "[output]\nbrokers = 127.0.0.1:9092\n"
                                "[input nginx]\npaths = /var/log/*.log\n"
                                "topic = logs\n"
                                "[input app]\npaths = /srv/*.log\n"
                                "topic = app-logs\n";

static struct tr_agent_conf *
load_conf(void)
{
    struct tr_agent_conf *c = NULL;
    char errbuf[256];

    assert_int_equal(tr_agent_conf_load_string(conf_text, strlen(conf_text),
                                               "a.conf", &c, errbuf,
                                               sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(c->status_interval_ms, 5000);
    assert_string_equal(c->status_topic, "__tributary_agents");
    return c;
}

/* The record as a C string (owned by the caller). */
static char *
encode(const struct tr_status_agent *ag, const struct tr_status_file *files,
       size_t n)
{
    struct tr_buf b;
    struct tr_json_value root;
    char *s;

    tr_buf_init(&b, 4u << 20);
    assert_int_equal(tr_status_encode(&b, ag, files, n, T0, 5000), TR_OK);
    assert_int_equal(
        tr_json_parse((const char *)tr_buf_data(&b), tr_buf_len(&b), &root),
        TR_OK);
    s = calloc(1, tr_buf_len(&b) + 1);
    assert_non_null(s);
    memcpy(s, tr_buf_data(&b), tr_buf_len(&b));
    tr_buf_cleanup(&b);
    return s;
}

static void
test_status_round_trip_through_fleet(void **state)
{
    struct tr_agent_conf *c = load_conf();
    struct tr_status_agent ag = { "web-1",        "0.1.0", T0 - 10000,
                                  "read /x: EIO", T0 - 5,  c };
    struct tr_status_file files[] = {
        { "/var/log/a.log", "nginx", 100, 90, 120, T0 - 1000 },
        { "/srv/\"b\"\\.log", "app", 0, 0, 0, 0 },
    };
    struct tr_fleet *fl;
    struct tr_buf b;
    char *rec = encode(&ag, files, 2);

    (void)state;
    assert_int_equal(tr_fleet_new(NULL, 30000, &fl), TR_OK);
    assert_int_equal(tr_fleet_apply(fl, "web-1", 5, rec, strlen(rec), T0, T0),
                     TR_OK);
    tr_buf_init(&b, 1 << 20);
    assert_int_equal(tr_fleet_json(fl, T0, &b), TR_OK);
    tr_buf_put_bytes(&b, "", 1);
    assert_string_equal(
        (const char *)tr_buf_data(&b),
        "{\"now_ms\":1765000000000,\"silent_after_ms\":30000,\"agents\":["
        "{\"host\":\"web-1\",\"version\":\"0.1.0\","
        "\"started_ms\":1764999990000,\"last_seen_ms\":1765000000000,"
        "\"silent\":false,\"bytes_behind\":30,"
        "\"last_error\":\"read /x: EIO\",\"last_error_ms\":1764999999995,"
        "\"inputs\":[{\"name\":\"nginx\",\"topic\":\"logs\"},"
        "{\"name\":\"app\",\"topic\":\"app-logs\"}],"
        "\"files\":[{\"path\":\"/var/log/a.log\",\"input\":\"nginx\","
        "\"bytes_read\":100,\"bytes_acked\":90,\"bytes_behind\":30,"
        "\"last_ack_ms\":1764999999000},"
        "{\"path\":\"/srv/\\\"b\\\"\\\\.log\",\"input\":\"app\","
        "\"bytes_read\":0,\"bytes_acked\":0,\"bytes_behind\":0,"
        "\"last_ack_ms\":null}]}]}\n");
    tr_buf_cleanup(&b);
    tr_fleet_free(fl);
    free(rec);
    tr_agent_conf_free(c);
}

/* No error: null; a path that is not UTF-8 still makes valid JSON. */
static void
test_status_no_error_and_binary_path(void **state)
{
    struct tr_agent_conf *c = load_conf();
    struct tr_status_agent ag = { "h", "v", 1, NULL, 0, c };
    struct tr_status_file f = { "/var/log/\xff\xfe.log", "nginx", 1, 1, 1, 0 };
    char *rec = encode(&ag, &f, 1);

    (void)state;
    assert_non_null(strstr(rec, "\"last_error\":null,\"last_error_ms\":null"));
    assert_non_null(strstr(rec, "\"path\":\"/var/log/\\\\xff\\\\xfe.log\""));
    free(rec);
    tr_agent_conf_free(c);
}

/* Thousands of files: the record stays bounded, the rest are counted. */
static void
test_status_bounded(void **state)
{
    struct tr_agent_conf *c = load_conf();
    struct tr_status_agent ag = { "h", "v", 1, NULL, 0, c };
    size_t n = 20000;
    struct tr_status_file *files = calloc(n, sizeof(*files));
    char path[64];
    char *rec;

    (void)state;
    assert_non_null(files);
    snprintf(path, sizeof(path), "/var/log/some/fairly/long/name.log");
    for (size_t i = 0; i < n; i++) {
        files[i] = (struct tr_status_file){ path, "nginx", i, i, i, T0 };
    }
    rec = encode(&ag, files, n);
    assert_true(strlen(rec) < 300u * 1024);
    assert_null(strstr(rec, "\"files_omitted\":0}"));
    assert_non_null(strstr(rec, "\"files_omitted\":"));
    free(rec);
    free(files);
    tr_agent_conf_free(c);
}

static void
test_status_config(void **state)
{
    static const char off[] = "[agent]\nstate_dir = /tmp/x\n"
                              "status_interval_ms = 0\nstatus_topic =\n"
                              "[output]\nbrokers = b:1\n"
                              "[input a]\npaths = /x\ntopic = t\n";
    static const char empty[] = "[agent]\nstate_dir = /tmp/x\n"
                                "status_topic =\n"
                                "[output]\nbrokers = b:1\n"
                                "[input a]\npaths = /x\ntopic = t\n";
    struct tr_agent_conf *c = NULL;
    char errbuf[256];

    (void)state;
    assert_int_equal(tr_agent_conf_load_string(off, strlen(off), "a.conf", &c,
                                               errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(c->status_interval_ms, 0);
    tr_agent_conf_free(c);
    c = NULL;
    assert_int_equal(tr_agent_conf_load_string(empty, strlen(empty), "a.conf",
                                               &c, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "status_topic"));
    tr_agent_conf_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_round_trip_through_fleet),
        cmocka_unit_test(test_status_no_error_and_binary_path),
        cmocka_unit_test(test_status_bounded),
        cmocka_unit_test(test_status_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
