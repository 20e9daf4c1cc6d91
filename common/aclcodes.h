/*
 * aclcodes -- the vocabulary of Kafka's ACLs shared by the collector's
 * authorizer (collector/security/acl) and the command line (tributary
 * acls): the wire codes of resource types, operations, pattern types and
 * permissions, their names (READ, TOPIC, LITERAL, ALLOW) and Kafka's JSON
 * spelling in ZooKeeper (Read, Topic, Allow), and the parsers.
 *
 * NOTE: the codes are a wire and disk contract (AclOperation, ResourceType,
 * PatternType, AclPermissionType in Kafka); never renumber them.
 */
#ifndef TR_ACLCODES_H
#define TR_ACLCODES_H

/* Wire codes (AclOperation, ResourceType, PatternType, AclPermissionType). */
enum tr_acl_resource {
    TR_ACL_RES_UNKNOWN = 0,
    TR_ACL_RES_ANY = 1, /* filters only */
    TR_ACL_TOPIC = 2,
    TR_ACL_GROUP = 3,
    TR_ACL_CLUSTER = 4,
    TR_ACL_TRANSACTIONAL_ID = 5,
    TR_ACL_DELEGATION_TOKEN = 6,
};

enum tr_acl_op {
    TR_ACL_OP_UNKNOWN = 0,
    TR_ACL_OP_ANY = 1, /* filters only */
    TR_ACL_OP_ALL = 2,
    TR_ACL_OP_READ = 3,
    TR_ACL_OP_WRITE = 4,
    TR_ACL_OP_CREATE = 5,
    TR_ACL_OP_DELETE = 6,
    TR_ACL_OP_ALTER = 7,
    TR_ACL_OP_DESCRIBE = 8,
    TR_ACL_OP_CLUSTER_ACTION = 9,
    TR_ACL_OP_DESCRIBE_CONFIGS = 10,
    TR_ACL_OP_ALTER_CONFIGS = 11,
    TR_ACL_OP_IDEMPOTENT_WRITE = 12,
};

enum tr_acl_pattern {
    TR_ACL_PAT_UNKNOWN = 0,
    TR_ACL_PAT_ANY = 1,   /* filters only: any pattern type */
    TR_ACL_PAT_MATCH = 2, /* filters only: every pattern applying to name */
    TR_ACL_PAT_LITERAL = 3,
    TR_ACL_PAT_PREFIXED = 4,
};

enum tr_acl_perm {
    TR_ACL_PERM_UNKNOWN = 0,
    TR_ACL_PERM_ANY = 1, /* filters only */
    TR_ACL_PERM_DENY = 2,
    TR_ACL_PERM_ALLOW = 3,
};

/* Indexed by code: Kafka's JSON names ("Read", "TransactionalId", "Allow"). */
extern const char *const tr_acl_op_json[13];
extern const char *const tr_acl_resource_json[7];
extern const char *const tr_acl_perm_json[4];
/* Indexed by code: "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED". */
extern const char *const tr_acl_pattern_names[5];

/* Names, for logs, messages and the CLI: "READ", "TOPIC", "LITERAL". */
const char *tr_acl_op_name(int op);
const char *tr_acl_resource_name(int type);
const char *tr_acl_pattern_name(int pattern);
const char *tr_acl_perm_name(int perm);
/*
 * The reverse, case-insensitive with '-' and '_' ignored (READ, Read,
 * TransactionalId, transactional-id); -1 if unknown.
 */
int tr_acl_op_parse(const char *s);
int tr_acl_resource_parse(const char *s);
int tr_acl_pattern_parse(const char *s);

int tr_acl_perm_parse(const char *s);

#endif /* TR_ACLCODES_H */
