/*
 * test_principal -- ssl.principal.mapping.rules: Kafka's documented
 * examples, rule order, case folding, escaped slashes, commas inside a
 * regex, no match, and rules refused when parsed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "principal.h"

/* Maps 'dn' with 'text' and checks the name (NULL: no rule matches). */
static void
expect_map(const char *text, const char *dn, const char *want)
{
    struct tr_principal_rules *rules;
    char err[256], out[256];
    tr_err_t rc;

    rc = tr_principal_rules_parse(text, &rules, err, sizeof(err));
    if (rc != TR_OK) {
        fail_msg("rules '%s' refused: %s", text, err);
    }
    rc = tr_principal_map(rules, dn, out, sizeof(out));
    if (want == NULL) {
        assert_int_equal(rc, TR_ERR_INVALID);
    } else {
        assert_int_equal(rc, TR_OK);
        assert_string_equal(out, want);
    }
    tr_principal_rules_free(rules);
}

static void
expect_refused(const char *text, const char *reason)
{
    struct tr_principal_rules *rules = (void *)1;
    char err[256] = "";

    assert_int_equal(tr_principal_rules_parse(text, &rules, err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_null(rules);
    if (strstr(err, reason) == NULL) {
        fail_msg("'%s': error '%s' lacks '%s'", text, err, reason);
    }
}

static void
test_default(void **state)
{
    (void)state;
    expect_map(NULL, "CN=alice,O=Acme", "CN=alice,O=Acme");
    expect_map("", "CN=alice,O=Acme", "CN=alice,O=Acme");
    expect_map("DEFAULT", "CN=alice,O=Acme", "CN=alice,O=Acme");
}

/* The examples of Kafka's documentation (security.html, KIP-371). */
static void
test_kafka_examples(void **state)
{
    const char *rules = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
                        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),"
                        "C=(.*?)$/$1@$2/L,"
                        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT";

    (void)state;
    expect_map(rules,
               "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,"
               "ST=Unknown,C=Unknown",
               "serviceuser");
    expect_map(rules,
               "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,"
               "C=Unknown",
               "adminuser@admin");
    expect_map(rules, "CN=Kafka-Broker.Example,O=X", "kafka");
    expect_map(rules, "O=NoCommonName", "O=NoCommonName");
    expect_map("RULE:^CN=(.*?),OU=(.*?),O=.*$/$1@$2/U", "CN=a,OU=b,O=c", "A@B");
}

static void
test_order_and_no_match(void **state)
{
    (void)state;
    /* The first matching rule decides, even before DEFAULT. */
    expect_map("RULE:^CN=(.*)$/first-$1/,RULE:^CN=(.*)$/second/", "CN=x",
               "first-x");
    /* A regex must match the whole subject. */
    expect_map("RULE:CN=alice/alice/", "CN=alice,O=Acme", NULL);
    expect_map("RULE:^CN=bob,.*$/bob/", "CN=alice,O=Acme", NULL);
    /* "\/" is a slash in the regex and the replacement. */
    expect_map("RULE:^CN=(.*)\\/(.*)$/$1\\/$2-x/", "CN=a/b", "a/b-x");
    /* Spaces around rules and commas are allowed. */
    expect_map(" RULE:^CN=(.*)$/$1/ ,  DEFAULT ", "CN=z", "z");
    expect_map(" RULE:^CN=(.*)$/$1/ ,  DEFAULT ", "O=z", "O=z");
}

static void
test_refused(void **state)
{
    (void)state;
    expect_refused("RULE:^CN=(.*$/$1/", "bad regex");
    expect_refused("RULE:^CN=(.*)$/$2/", "does not have");
    expect_refused("RULE:^CN=(.*)$/$1", "invalid rule");
    expect_refused("RULE:^CN=(.*)$/$1/X", "invalid rule");
    expect_refused("NONSENSE", "invalid rule");
    expect_refused(",", "invalid rule");
}

static void
test_too_long(void **state)
{
    struct tr_principal_rules *rules;
    char err[128], out[8];

    (void)state;
    assert_int_equal(
        tr_principal_rules_parse("DEFAULT", &rules, err, sizeof(err)), TR_OK);
    assert_int_equal(
        tr_principal_map(rules, "CN=a-long-name", out, sizeof(out)),
        TR_ERR_TOO_LARGE);
    tr_principal_rules_free(rules);
    assert_int_equal(tr_principal_rules_parse("RULE:^(.*)$/$1$1$1/", &rules,
                                              err, sizeof(err)),
                     TR_OK);
    assert_int_equal(tr_principal_map(rules, "CN=abc", out, sizeof(out)),
                     TR_ERR_TOO_LARGE);
    tr_principal_rules_free(rules);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_kafka_examples),
        cmocka_unit_test(test_order_and_no_match),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_too_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
