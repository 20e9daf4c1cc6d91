/*
 * test_acl -- the authorizer: Kafka's decision table (super users, no ACL,
 * allow.everyone.if.no.acl.found, deny wins, implied operations, literal
 * "*", prefixes, hosts, User:*), authorizeByResourceType, KIP-430 bits,
 * binding validation and filters, the file (reopen, damaged line), hosts
 * as Java prints them, and an OOM loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acl.h"
#include "alloc.h"

#define CLASS "kafka.security.authorizer.AclAuthorizer"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_acl.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Removes the file of bindings: the next open starts empty. */
static void
wipe(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s" TR_ACL_FILE, dir);
    remove(path);
}

static struct tr_acl *
open_acl(const char *supers, int everyone)
{
    struct tr_acl_config cfg = { CLASS, supers, everyone, dir };
    struct tr_acl *acl = NULL;
    char errbuf[256];

    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)), TR_OK);
    assert_non_null(acl);
    return acl;
}

/* Adds one binding. */
static void
add(struct tr_acl *acl, int type, const char *name, int pattern,
    const char *principal, const char *host, int op, int perm)
{
    struct tr_acl_binding b = { (int8_t)type, (int8_t)pattern,
                                (int8_t)op,   (int8_t)perm,
                                name,         principal,
                                host };

    assert_null(tr_acl_binding_invalid(&b));
    assert_int_equal(tr_acl_add(acl, &b, 1), TR_OK);
}

static int
may(struct tr_acl *acl, const char *principal, const char *host, int op,
    int type, const char *name)
{
    return tr_acl_authorize(acl, principal, host, (enum tr_acl_op)op,
                            (enum tr_acl_resource)type, name, 1);
}

#define ALICE "User:alice"
#define BOB   "User:bob"
#define HOST  "127.0.0.1"

static void
test_open_and_config(void **state)
{
    struct tr_acl_config cfg = { "", NULL, 0, dir };
    struct tr_acl *acl = (struct tr_acl *)1;
    char errbuf[256];

    (void)state;
    /* No authorizer: NULL, and NULL allows everything. */
    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)), TR_OK);
    assert_null(acl);
    assert_true(may(NULL, BOB, HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "t"));
    cfg.class_name = "com.example.MyAuthorizer";
    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "com.example.MyAuthorizer"));
    assert_true(tr_acl_class_supported("kafka.security.auth."
                                       "SimpleAclAuthorizer"));
    assert_true(tr_acl_class_supported("org.apache.kafka.metadata."
                                       "authorizer.StandardAuthorizer"));
    cfg.class_name = CLASS;
    cfg.super_users = "User:admin;nocolon";
    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "nocolon"));
}

static void
test_no_acl_and_super_users(void **state)
{
    struct tr_acl *acl = open_acl(" User:admin ; User:CN=b,O=Acme", 0);

    (void)state;
    /* No ACL at all: denied (allow.everyone.if.no.acl.found=false). */
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_CLUSTER_ACTION, TR_ACL_CLUSTER,
                     TR_ACL_CLUSTER_NAME));
    /* Super users, a DN with commas too (';' separates). */
    assert_true(may(acl, "User:admin", HOST, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                    TR_ACL_CLUSTER_NAME));
    assert_true(
        may(acl, "User:CN=b,O=Acme", HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "t"));
    /* A super user beats a DENY. */
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, "User:admin", "*",
        TR_ACL_OP_ALL, TR_ACL_PERM_DENY);
    assert_true(
        may(acl, "User:admin", HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    tr_acl_free(acl);
}

static void
test_allow_everyone(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 1);

    (void)state;
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    /* Once the resource has any ACL, only the ACLs count. */
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, BOB, "*", TR_ACL_OP_READ,
        TR_ACL_PERM_ALLOW);
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    assert_true(may(acl, BOB, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "u"));
    /* A prefix applying to the name counts as an ACL of it. */
    add(acl, TR_ACL_TOPIC, "u", TR_ACL_PAT_PREFIXED, BOB, "*", TR_ACL_OP_READ,
        TR_ACL_PERM_ALLOW);
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "u1"));
    tr_acl_free(acl);
}

static void
test_literal_and_implied(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 0);

    (void)state;
    add(acl, TR_ACL_TOPIC, "logs", TR_ACL_PAT_LITERAL, ALICE, "*",
        TR_ACL_OP_WRITE, TR_ACL_PERM_ALLOW);
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "logs"));
    /* WRITE implies DESCRIBE, nothing else. */
    assert_true(
        may(acl, ALICE, HOST, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC, "logs"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "logs"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_CREATE, TR_ACL_TOPIC, "logs"));
    assert_false(may(acl, BOB, HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "logs"));
    /* Not another topic, nor a group of the same name. */
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "logs2"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_GROUP, "logs"));
    /* ALTER_CONFIGS implies DESCRIBE_CONFIGS; DESCRIBE implies nothing. */
    add(acl, TR_ACL_TOPIC, "cfg", TR_ACL_PAT_LITERAL, ALICE, "*",
        TR_ACL_OP_ALTER_CONFIGS, TR_ACL_PERM_ALLOW);
    add(acl, TR_ACL_TOPIC, "cfg", TR_ACL_PAT_LITERAL, BOB, "*",
        TR_ACL_OP_DESCRIBE, TR_ACL_PERM_ALLOW);
    assert_true(
        may(acl, ALICE, HOST, TR_ACL_OP_DESCRIBE_CONFIGS, TR_ACL_TOPIC, "cfg"));
    assert_false(
        may(acl, ALICE, HOST, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC, "cfg"));
    assert_false(may(acl, BOB, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "cfg"));
    /* ALL allows every operation. */
    add(acl, TR_ACL_GROUP, "g", TR_ACL_PAT_LITERAL, ALICE, "*", TR_ACL_OP_ALL,
        TR_ACL_PERM_ALLOW);
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_DELETE, TR_ACL_GROUP, "g"));
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_GROUP, "g"));
    tr_acl_free(acl);
}

static void
test_deny_wins(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 0);

    (void)state;
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, ALICE, "*", TR_ACL_OP_ALL,
        TR_ACL_PERM_ALLOW);
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, ALICE, "*", TR_ACL_OP_WRITE,
        TR_ACL_PERM_DENY);
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC, "t"));
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    /* DENY WRITE does not deny DESCRIBE (READ still implies it). */
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC, "t"));
    /* A DENY of User:* on the literal "*" covers everyone, everywhere. */
    add(acl, TR_ACL_TOPIC, "*", TR_ACL_PAT_LITERAL, "User:*", "*",
        TR_ACL_OP_READ, TR_ACL_PERM_DENY);
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
    /* A DENY by prefix beats a literal ALLOW. */
    add(acl, TR_ACL_TOPIC, "secret", TR_ACL_PAT_LITERAL, BOB, "*",
        TR_ACL_OP_ALTER, TR_ACL_PERM_ALLOW);
    assert_true(may(acl, BOB, HOST, TR_ACL_OP_ALTER, TR_ACL_TOPIC, "secret"));
    add(acl, TR_ACL_TOPIC, "sec", TR_ACL_PAT_PREFIXED, BOB, "*", TR_ACL_OP_ALL,
        TR_ACL_PERM_DENY);
    assert_false(may(acl, BOB, HOST, TR_ACL_OP_ALTER, TR_ACL_TOPIC, "secret"));
    tr_acl_free(acl);
}

static void
test_wildcards_prefixes_hosts(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 0);

    (void)state;
    /* Literal "*": every topic; User:*: everyone. */
    add(acl, TR_ACL_TOPIC, "*", TR_ACL_PAT_LITERAL, "User:*", "*",
        TR_ACL_OP_DESCRIBE, TR_ACL_PERM_ALLOW);
    assert_true(
        may(acl, BOB, HOST, TR_ACL_OP_DESCRIBE, TR_ACL_TOPIC, "anything"));
    assert_false(may(acl, BOB, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "anything"));
    /* A literal named "*" in the filter sense is not a prefix. */
    add(acl, TR_ACL_TOPIC, "app-", TR_ACL_PAT_PREFIXED, ALICE, "*",
        TR_ACL_OP_READ, TR_ACL_PERM_ALLOW);
    assert_true(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "app-"));
    assert_true(
        may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "app-orders"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "app"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "other"));
    /* Several prefixes: the longer one applies as well. */
    add(acl, TR_ACL_TOPIC, "app-orders", TR_ACL_PAT_PREFIXED, ALICE, "*",
        TR_ACL_OP_READ, TR_ACL_PERM_DENY);
    assert_false(
        may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "app-orders-eu"));
    assert_true(
        may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "app-users"));
    /* Hosts: exact match or "*". */
    add(acl, TR_ACL_GROUP, "g", TR_ACL_PAT_LITERAL, ALICE, "10.0.0.1",
        TR_ACL_OP_READ, TR_ACL_PERM_ALLOW);
    assert_true(may(acl, ALICE, "10.0.0.1", TR_ACL_OP_READ, TR_ACL_GROUP, "g"));
    assert_false(may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_GROUP, "g"));
    add(acl, TR_ACL_GROUP, "g", TR_ACL_PAT_LITERAL, "User:*", "10.0.0.1",
        TR_ACL_OP_READ, TR_ACL_PERM_DENY);
    assert_false(
        may(acl, ALICE, "10.0.0.1", TR_ACL_OP_READ, TR_ACL_GROUP, "g"));
    tr_acl_free(acl);
}

static void
test_authorize_any(void **state)
{
    struct tr_acl *acl = open_acl("User:admin", 0);
    int w = TR_ACL_OP_WRITE;

    (void)state;
    assert_false(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_TOPIC, 1));
    assert_true(
        tr_acl_authorize_any(acl, "User:admin", HOST, w, TR_ACL_TOPIC, 0));
    add(acl, TR_ACL_TOPIC, "logs", TR_ACL_PAT_LITERAL, ALICE, "*", w,
        TR_ACL_PERM_ALLOW);
    assert_true(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_TOPIC, 0));
    assert_false(tr_acl_authorize_any(acl, BOB, HOST, w, TR_ACL_TOPIC, 0));
    /* Another operation or type does not count. */
    assert_false(tr_acl_authorize_any(acl, ALICE, HOST, TR_ACL_OP_READ,
                                      TR_ACL_TOPIC, 0));
    assert_false(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_GROUP, 0));
    /* Shadowed by a DENY on a prefix of the name. */
    add(acl, TR_ACL_TOPIC, "lo", TR_ACL_PAT_PREFIXED, ALICE, "*", w,
        TR_ACL_PERM_DENY);
    assert_false(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_TOPIC, 0));
    /* An ALLOW prefix not under a DENY prefix is enough. */
    add(acl, TR_ACL_TOPIC, "m", TR_ACL_PAT_PREFIXED, ALICE, "*", w,
        TR_ACL_PERM_ALLOW);
    assert_true(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_TOPIC, 0));
    /* A DENY on the literal "*" denies whatever else there is. */
    add(acl, TR_ACL_TOPIC, "*", TR_ACL_PAT_LITERAL, "User:*", "*",
        TR_ACL_OP_ALL, TR_ACL_PERM_DENY);
    assert_false(tr_acl_authorize_any(acl, ALICE, HOST, w, TR_ACL_TOPIC, 1));
    tr_acl_free(acl);

    /* allow.everyone.if.no.acl.found allows, unless a DENY on "*". */
    acl = open_acl(NULL, 1);
    assert_false(tr_acl_authorize_any(acl, BOB, HOST, w, TR_ACL_TOPIC, 0));
    tr_acl_free(acl);
    wipe();
    acl = open_acl(NULL, 1);
    assert_true(tr_acl_authorize_any(acl, BOB, HOST, w, TR_ACL_TOPIC, 0));
    /* Without it, a literal "*" ALLOW is enough. */
    tr_acl_free(acl);
    acl = open_acl(NULL, 0);
    add(acl, TR_ACL_TOPIC, "*", TR_ACL_PAT_LITERAL, BOB, "*", w,
        TR_ACL_PERM_ALLOW);
    assert_true(tr_acl_authorize_any(acl, BOB, HOST, w, TR_ACL_TOPIC, 0));
    tr_acl_free(acl);
}

static void
test_authorized_ops(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 0);

    (void)state;
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, ALICE, "*", TR_ACL_OP_READ,
        TR_ACL_PERM_ALLOW);
    add(acl, TR_ACL_TOPIC, "t", TR_ACL_PAT_LITERAL, ALICE, "*", TR_ACL_OP_WRITE,
        TR_ACL_PERM_ALLOW);
    /* READ + WRITE + the implied DESCRIBE: KIP-430's example. */
    assert_int_equal(tr_acl_authorized_ops(acl, ALICE, HOST, TR_ACL_TOPIC, "t"),
                     0x118);
    assert_int_equal(tr_acl_authorized_ops(acl, BOB, HOST, TR_ACL_TOPIC, "t"),
                     0);
    /* Without an authorizer: every operation valid for the type. */
    assert_int_equal(tr_acl_authorized_ops(NULL, BOB, HOST, TR_ACL_GROUP, "g"),
                     (1 << TR_ACL_OP_READ) | (1 << TR_ACL_OP_DESCRIBE) |
                         (1 << TR_ACL_OP_DELETE));
    tr_acl_free(acl);
}

static void
test_binding_checks_and_filters(void **state)
{
    struct tr_acl_binding b = { TR_ACL_TOPIC,
                                TR_ACL_PAT_LITERAL,
                                TR_ACL_OP_READ,
                                TR_ACL_PERM_ALLOW,
                                "t",
                                ALICE,
                                "*" };
    struct tr_acl_binding f = {
        TR_ACL_RES_ANY, TR_ACL_PAT_ANY, TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
        NULL,           NULL,           NULL
    };

    (void)state;
    assert_null(tr_acl_binding_invalid(&b));
    b.pattern_type = TR_ACL_PAT_MATCH;
    assert_non_null(tr_acl_binding_invalid(&b));
    b.pattern_type = TR_ACL_PAT_LITERAL;
    b.operation = TR_ACL_OP_ANY;
    assert_non_null(tr_acl_binding_invalid(&b));
    b.operation = TR_ACL_OP_READ;
    b.permission = TR_ACL_PERM_ANY;
    assert_non_null(tr_acl_binding_invalid(&b));
    b.permission = TR_ACL_PERM_ALLOW;
    b.name = "";
    assert_string_equal(tr_acl_binding_invalid(&b),
                        "Invalid empty resource name");
    b.name = "t";
    b.principal = "alice";
    assert_non_null(tr_acl_binding_invalid(&b));
    b.principal = ALICE;
    b.resource_type = TR_ACL_CLUSTER;
    assert_non_null(strstr(tr_acl_binding_invalid(&b), "kafka-cluster"));
    b.name = TR_ACL_CLUSTER_NAME;
    assert_null(tr_acl_binding_invalid(&b));

    /* Filters: ANY matches all; MATCH covers literal, "*" and prefixes. */
    b.resource_type = TR_ACL_TOPIC;
    b.name = "app-";
    b.pattern_type = TR_ACL_PAT_PREFIXED;
    assert_true(tr_acl_filter_matches(&f, &b));
    f.pattern_type = TR_ACL_PAT_MATCH;
    f.name = "app-orders";
    assert_true(tr_acl_filter_matches(&f, &b));
    f.name = "ap";
    assert_false(tr_acl_filter_matches(&f, &b));
    f.pattern_type = TR_ACL_PAT_LITERAL;
    f.name = "app-";
    assert_false(tr_acl_filter_matches(&f, &b));
    f.pattern_type = TR_ACL_PAT_PREFIXED;
    assert_true(tr_acl_filter_matches(&f, &b));
    f.principal = BOB;
    assert_false(tr_acl_filter_matches(&f, &b));
    f.principal = NULL;
    f.operation = TR_ACL_OP_WRITE;
    assert_false(tr_acl_filter_matches(&f, &b));
}

static void
test_persistence(void **state)
{
    struct tr_acl *acl = open_acl(NULL, 0);
    struct tr_acl_binding f = {
        TR_ACL_RES_ANY, TR_ACL_PAT_ANY, TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
        NULL,           NULL,           NULL
    };
    struct tr_acl_binding *list = NULL, *deleted[2];
    size_t n = 0, ndeleted[2];
    char path[128], errbuf[256];
    struct tr_acl_config cfg = { CLASS, NULL, 0, dir };
    FILE *fp;

    (void)state;
    add(acl, TR_ACL_TOPIC, "t \"quoted\"", TR_ACL_PAT_LITERAL, "User:CN=x,O=y",
        "*", TR_ACL_OP_READ, TR_ACL_PERM_ALLOW);
    add(acl, TR_ACL_TOPIC, "p", TR_ACL_PAT_PREFIXED, BOB, "10.1.1.1",
        TR_ACL_OP_WRITE, TR_ACL_PERM_DENY);
    /* The same binding twice is kept once. */
    add(acl, TR_ACL_TOPIC, "p", TR_ACL_PAT_PREFIXED, BOB, "10.1.1.1",
        TR_ACL_OP_WRITE, TR_ACL_PERM_DENY);
    tr_acl_free(acl);

    acl = open_acl(NULL, 0);
    assert_int_equal(tr_acl_describe(acl, &f, &list, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "t \"quoted\"");
    assert_string_equal(list[0].principal, "User:CN=x,O=y");
    assert_int_equal(list[1].pattern_type, TR_ACL_PAT_PREFIXED);
    assert_string_equal(list[1].host, "10.1.1.1");
    tr_acl_bindings_free(list, n);
    assert_false(may(acl, "User:CN=x,O=y", HOST, TR_ACL_OP_WRITE, TR_ACL_TOPIC,
                     "t \"quoted\""));
    assert_true(may(acl, "User:CN=x,O=y", HOST, TR_ACL_OP_READ, TR_ACL_TOPIC,
                    "t \"quoted\""));

    /* Delete: each filter reports what it removed. */
    {
        struct tr_acl_binding filters[2] = {
            { TR_ACL_TOPIC, TR_ACL_PAT_ANY, TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
              NULL, BOB, NULL },
            { TR_ACL_GROUP, TR_ACL_PAT_ANY, TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
              NULL, NULL, NULL },
        };
        assert_int_equal(tr_acl_delete(acl, filters, 2, deleted, ndeleted),
                         TR_OK);
        assert_int_equal(ndeleted[0], 1);
        assert_int_equal(ndeleted[1], 0);
        assert_string_equal(deleted[0][0].name, "p");
        tr_acl_bindings_free(deleted[0], ndeleted[0]);
        tr_acl_bindings_free(deleted[1], ndeleted[1]);
    }
    tr_acl_free(acl);
    acl = open_acl(NULL, 0);
    assert_int_equal(tr_acl_describe(acl, &f, &list, &n), TR_OK);
    assert_int_equal(n, 1);
    tr_acl_bindings_free(list, n);
    tr_acl_free(acl);

    /* A damaged line: a clear error with the file and line. */
    snprintf(path, sizeof(path), "%s" TR_ACL_FILE, dir);
    fp = fopen(path, "a");
    assert_non_null(fp);
    fputs("{\"resourceType\":\"Topic\",\"patternType\":\"LITERAL\"}\n", fp);
    fclose(fp);
    acl = NULL;
    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)),
                     TR_ERR_CORRUPT);
    assert_null(acl);
    assert_non_null(strstr(errbuf, ".acls:3:"));
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"resourceType\":\"Topic\",\"patternType\":\"LITERAL\",\"name\":"
          "\"t\",\"acl\":{\"principal\":\"User:a\",\"permissionType\":"
          "\"Allow\",\"operation\":\"Fly\",\"host\":\"*\"}}\n",
          fp);
    fclose(fp);
    assert_int_equal(tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)),
                     TR_ERR_CORRUPT);
    assert_non_null(strstr(errbuf, ".acls:1:"));
    wipe();
}

static void
test_hosts(void **state)
{
    char host[TR_ACL_HOST_MAX];

    (void)state;
    tr_acl_host_from_peer("127.0.0.1:5000", host, sizeof(host));
    assert_string_equal(host, "127.0.0.1");
    tr_acl_host_from_peer("::1:5000", host, sizeof(host));
    assert_string_equal(host, "0:0:0:0:0:0:0:1");
    tr_acl_host_from_peer("[fe80::1:2]:80", host, sizeof(host));
    assert_string_equal(host, "fe80:0:0:0:0:0:1:2");
    tr_acl_host_from_peer("::ffff:10.1.2.3:80", host, sizeof(host));
    assert_string_equal(host, "10.1.2.3");
    tr_acl_host_from_peer("?", host, sizeof(host));
    assert_string_equal(host, "?");
}

static void
test_names(void **state)
{
    (void)state;
    assert_int_equal(tr_acl_op_parse("IdempotentWrite"),
                     TR_ACL_OP_IDEMPOTENT_WRITE);
    assert_int_equal(tr_acl_op_parse("cluster-action"),
                     TR_ACL_OP_CLUSTER_ACTION);
    assert_int_equal(tr_acl_op_parse("fly"), -1);
    assert_int_equal(tr_acl_resource_parse("TransactionalId"),
                     TR_ACL_TRANSACTIONAL_ID);
    assert_int_equal(tr_acl_pattern_parse("prefixed"), TR_ACL_PAT_PREFIXED);
    assert_int_equal(tr_acl_perm_parse("Deny"), TR_ACL_PERM_DENY);
    assert_string_equal(tr_acl_op_name(TR_ACL_OP_DESCRIBE_CONFIGS),
                        "DESCRIBE_CONFIGS");
    assert_string_equal(tr_acl_op_name(99), "UNKNOWN");
    assert_string_equal(tr_acl_op_json[TR_ACL_OP_CLUSTER_ACTION],
                        "ClusterAction");
}

/* Every allocation failing in turn: no crash, no leak, no half state. */
static void
test_oom(void **state)
{
    struct tr_acl_config cfg = { CLASS, "User:a;User:b", 0, dir };
    struct tr_acl_binding b = { TR_ACL_TOPIC,
                                TR_ACL_PAT_LITERAL,
                                TR_ACL_OP_READ,
                                TR_ACL_PERM_ALLOW,
                                "t",
                                ALICE,
                                "*" };
    char errbuf[256];
    long n;

    (void)state;
    for (n = 0; n < 200; n++) {
        struct tr_acl *acl = NULL;
        tr_err_t err;

        tr_alloc_fail_after(n);
        err = tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf));
        if (err == TR_OK) {
            err = tr_acl_add(acl, &b, 1);
        }
        tr_alloc_fail_after(-1);
        if (acl != NULL && err == TR_OK) {
            assert_true(
                may(acl, ALICE, HOST, TR_ACL_OP_READ, TR_ACL_TOPIC, "t"));
            tr_acl_free(acl);
            break;
        }
        tr_acl_free(acl);
    }
    assert_true(n < 200);
    wipe();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_acl_and_super_users, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allow_everyone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal_and_implied, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deny_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcards_prefixes_hosts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_authorize_any, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorized_ops, setup, teardown),
        cmocka_unit_test(test_binding_checks_and_filters),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
