/*
 * aclcodes -- names of Kafka's ACL codes (see aclcodes.h).
 */
#include <ctype.h>
#include <string.h>

#include "aclcodes.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const op_names[] = {
    "UNKNOWN",
    "ANY",
    "ALL",
    "READ",
    "WRITE",
    "CREATE",
    "DELETE",
    "ALTER",
    "DESCRIBE",
    "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
};
/* Kafka's JSON spelling in ZooKeeper. */
const char *const tr_acl_op_json[13] = {
    "Unknown",
    "Any",
    "All",
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "ClusterAction",
    "DescribeConfigs",
    "AlterConfigs",
    "IdempotentWrite",
};
static const char *const res_names[] = {
    "UNKNOWN",          "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
    "DELEGATION_TOKEN",
};
const char *const tr_acl_resource_json[7] = {
    "Unknown",         "Any", "Topic", "Group", "Cluster", "TransactionalId",
    "DelegationToken",
};
const char *const tr_acl_pattern_names[5] = {
    "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED",
};
static const char *const perm_names[] = { "UNKNOWN", "ANY", "DENY", "ALLOW" };
const char *const tr_acl_perm_json[4] = { "Unknown", "Any", "Deny", "Allow" };

static const char *
name_of(const char *const *names, int count, int v)
{
    return v >= 0 && v < count ? names[v] : names[0];
}

const char *
tr_acl_op_name(int op)
{
    return name_of(op_names, COUNT(op_names), op);
}

const char *
tr_acl_resource_name(int type)
{
    return name_of(res_names, COUNT(res_names), type);
}

const char *
tr_acl_pattern_name(int pattern)
{
    return name_of(tr_acl_pattern_names, COUNT(tr_acl_pattern_names), pattern);
}

const char *
tr_acl_perm_name(int perm)
{
    return name_of(perm_names, COUNT(perm_names), perm);
}

/* Compares ignoring case, '_' and '-': "TransactionalId" = "transactional-id".
 */
static int
loose_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_' || *a == '-') {
            a++;
        }
        while (*b == '_' || *b == '-') {
            b++;
        }
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
            return 0;
        }
        if (*a == '\0') {
            return 1;
        }
        a++;
        b++;
    }
}

static int
parse_name(const char *const *names, int count, const char *s)
{
    int i;

    for (i = 0; i < count; i++) {
        if (loose_eq(names[i], s)) {
            return i;
        }
    }
    return -1;
}

int
tr_acl_op_parse(const char *s)
{
    return parse_name(op_names, COUNT(op_names), s);
}

int
tr_acl_resource_parse(const char *s)
{
    return parse_name(res_names, COUNT(res_names), s);
}

int
tr_acl_pattern_parse(const char *s)
{
    return parse_name(tr_acl_pattern_names, COUNT(tr_acl_pattern_names), s);
}

int
tr_acl_perm_parse(const char *s)
{
    return parse_name(perm_names, COUNT(perm_names), s);
}
