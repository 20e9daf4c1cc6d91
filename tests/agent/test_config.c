/*
 * Tests for agent/config.c: the keys, defaults, and FILE:LINE
 * errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "agent/config.h"

static const char good[] = "[agent]\n"
                           "state_dir = /var/lib/tributary-agent\n"
                           "host = h1\n"
                           "[output]\n"
                           "brokers = 127.0.0.1:9092\n"
                           "compression = gzip\n"
                           "[input app]\n"
                           "paths = /var/log/app/app.log*, /srv/x/*.log\n"
                           "exclude = *.gz\n"
                           "topic = app\n"
                           "pattern = user=(?<user>u[0-9]+)\n"
                           "key = ${user}\n"
                           "read_from = end\n"
                           "field.env = prod\n"
                           "[input sys]\n"
                           "paths = /var/log/syslog\n"
                           "topic = syslog\n";

static void
test_good(void **state)
{
    struct tr_agent_conf *c = NULL;
    char err[256];
    (void)state;

    assert_int_equal(tr_agent_conf_load_string(good, strlen(good), "a.conf", &c,
                                               err, sizeof(err)),
                     TR_OK);
    assert_string_equal(c->state_dir, "/var/lib/tributary-agent");
    assert_string_equal(c->host, "h1");
    assert_string_equal(c->brokers, "127.0.0.1:9092");
    assert_string_equal(c->compression, "gzip");
    assert_int_equal(c->max_open_files, 1024);
    assert_int_equal(c->max_line_bytes, 256 * 1024);
    assert_int_equal(c->ninputs, 2);
    const struct tr_agent_input *in = tr_agent_conf_input(c, "app");
    assert_non_null(in);
    assert_int_equal(in->npaths, 2);
    assert_string_equal(in->paths[1], "/srv/x/*.log");
    assert_int_equal(in->nexcludes, 1);
    assert_string_equal(in->key, "${user}");
    assert_int_equal(in->read_from, TR_READ_FROM_END);
    assert_int_equal(in->nfields, 1);
    assert_string_equal(in->fields[0].name, "env");
    in = tr_agent_conf_input(c, "sys");
    assert_int_equal(in->read_from, TR_READ_FROM_BEGINNING);
    assert_null(in->key);
    assert_null(in->pattern);
    tr_agent_conf_free(c);
}

static void
expect_error(const char *text, const char *want)
{
    struct tr_agent_conf *c = NULL;
    char err[256];
    assert_int_equal(tr_agent_conf_load_string(text, strlen(text), "b.conf", &c,
                                               err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_null(c);
    if (strstr(err, want) == NULL) {
        fail_msg("error '%s' lacks '%s'", err, want);
    }
}

static void
test_errors(void **state)
{
    (void)state;
    expect_error("[agent]\nstate_dir = /x\nbogus = 1\n",
                 "b.conf:3: unknown key 'bogus' in [agent]");
    expect_error("[agent]\nmax_open_files = lots\n", "b.conf:2:");
    expect_error("[agent]\nread_from = middle\n",
                 "b.conf:2: read_from: expected beginning or end");
    expect_error("[outptu]\nx = 1\n", "b.conf:2: unknown section [outptu]");
    expect_error("state_dir = /x\n", "b.conf:1:");
    expect_error("[output]\nbrokers = a:1\n[input a]\npaths = /x\ntopic = t\n",
                 "state_dir is required");
    expect_error("[agent]\nstate_dir = /s\n[output]\nbrokers = a:1\n"
                 "[input a]\ntopic = t\n",
                 "[input a] needs paths");
    expect_error("[agent]\nstate_dir = /s\n[output]\nbrokers = a:1\n"
                 "[input a]\npaths = rel/x.log\ntopic = t\n",
                 "not absolute");
    expect_error("[agent]\nstate_dir = /s\n[output]\nbrokers = a:1\n",
                 "no [input NAME]");
    expect_error("[output]\ncompression = brotli\n",
                 "b.conf:2: compression: 'brotli' is not a codec this build "
                 "has (none, gzip");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
