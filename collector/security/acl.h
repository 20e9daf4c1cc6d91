/*
 * acl -- the collector's authorizer: Kafka's ACLs (KIP-11, KIP-290) and
 * AclAuthorizer's decision, on every request once authorizer.class.name is
 * set (docs/security.md, "Authorization (ACLs)").
 *
 * An ACL binding says that a principal ("User:alice", or "User:*" for
 * everyone), connecting from a host (an IP address as Java prints it, or
 * "*"), is allowed or denied an operation on a resource: a topic, a group,
 * the cluster ("kafka-cluster") or a transactional id, named literally (the
 * name "*" meaning every resource of the type) or by a prefix.
 *
 * The decision (tr_acl_authorize) is Kafka's:
 *   1. a principal listed in super.users is allowed everything;
 *   2. the ACLs of the resource are those on its literal name, on the
 *      literal "*", and on every prefix of its name;
 *   3. with none, allow.everyone.if.no.acl.found decides (default: deny);
 *   4. a DENY for the principal (or User:*), the host (or *) and the
 *      operation (or ALL) denies;
 *   5. else an ALLOW of the operation, of ALL, or of an operation that
 *      implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE;
 *      ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows; nothing else does.
 *
 * Storage. On a single collector the bindings live in the file '.acls' in
 * log.dirs, one JSON object per line, rewritten atomically (temporary file,
 * fsync, rename, directory fsync) at each change. In a cluster they live in
 * ZooKeeper as Kafka 2.x keeps them: /kafka-acl/<Type>/<name> for literal
 * names and /kafka-acl-extended/prefixed/<Type>/<prefix> for prefixes, each
 * holding {"version":1,"acls":[{"principal":"User:alice",
 * "permissionType":"Allow","operation":"Read","host":"*"}]}, written with a
 * compare-and-set on the znode's version; every change is announced by a
 * sequential node under /kafka-acl-changes (literal: "Topic:<name>") or
 * /kafka-acl-extended-changes (a JSON document), which every broker watches
 * and answers by reloading (tr_acl_reload).
 *
 * Threads: any thread may call any function; the bindings sit behind a
 * read-write lock, and a check allocates nothing.
 *
 * Using it from a request handler: api.h's tr_api_authorize(req, op, type,
 * name) takes the principal and the host from the request's connection,
 * returns 1 (allowed) or 0 (denied, logged), and is a single pointer test
 * when no authorizer is configured. For instance a handler of a cluster
 * level API answers CLUSTER_AUTHORIZATION_FAILED when
 *
 *   !tr_api_authorize(req, TR_ACL_OP_ALTER_CONFIGS, TR_ACL_CLUSTER,
 *                     TR_ACL_CLUSTER_NAME)
 */
#ifndef TR_ACL_H
#define TR_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "aclcodes.h"
#include "err.h"

/* The one name of the cluster resource. */
#define TR_ACL_CLUSTER_NAME "kafka-cluster"
/* Where a single collector keeps its bindings, under log.dirs. */
#define TR_ACL_FILE_NAME ".acls"
#define TR_ACL_FILE      "/" TR_ACL_FILE_NAME
/* Room for a host as Java prints it ("0:0:0:0:0:0:0:1", "127.0.0.1"). */
#define TR_ACL_HOST_MAX 64

/*
 * One binding, or a filter. The strings are borrowed (or owned where a
 * function says so). In a filter NULL strings, TR_ACL_RES_ANY,
 * TR_ACL_PAT_ANY / TR_ACL_PAT_MATCH, TR_ACL_OP_ANY and TR_ACL_PERM_ANY
 * match anything.
 */
struct tr_acl_binding {
    int8_t resource_type; /* enum tr_acl_resource */
    int8_t pattern_type;  /* enum tr_acl_pattern */
    int8_t operation;     /* enum tr_acl_op */
    int8_t permission;    /* enum tr_acl_perm */
    const char *name;
    const char *principal;
    const char *host;
};

/* Settings, from the broker config (all strings borrowed). */
struct tr_acl_config {
    const char *class_name;  /* authorizer.class.name */
    const char *super_users; /* "User:a;User:b" or NULL */
    int allow_everyone;      /* allow.everyone.if.no.acl.found */
    const char *dir;         /* log.dirs: where TR_ACL_FILE lives */
};

struct tr_acl;

/*
 * 1 if 'class_name' names an authorizer the collector stands in for
 * (kafka.security.authorizer.AclAuthorizer, the older
 * kafka.security.auth.SimpleAclAuthorizer, or KRaft's
 * org.apache.kafka.metadata.authorizer.StandardAuthorizer), 0 otherwise.
 */
int tr_acl_class_supported(const char *class_name);

/*
 * Opens the authorizer: *out is NULL (no error) when class_name is NULL or
 * empty, i.e. no authorization. Reads the file of bindings; a malformed one
 * is TR_ERR_CORRUPT with "FILE:LINE: reason" in 'errbuf', an unknown class
 * or super.users entry TR_ERR_CONFIG. Owned result (tr_acl_free).
 */
tr_err_t tr_acl_open(const struct tr_acl_config *cfg, struct tr_acl **out,
                     char *errbuf, size_t errlen);
/* NULL is a no-op. */
void tr_acl_free(struct tr_acl *acl);

/*
 * Kafka's decision for 'principal' from 'host' wanting 'op' on resource
 * 'type' 'name' (see above). Returns 1 to allow, 0 to deny. With 'log' a
 * denial is logged as a warning (rate limited: a burst per few seconds,
 * then a count of the lines suppressed). Allocates nothing.
 */
int tr_acl_authorize(struct tr_acl *acl, const char *principal,
                     const char *host, enum tr_acl_op op,
                     enum tr_acl_resource type, const char *name, int log);

/* 1 if 'principal' is listed in super.users. */
int tr_acl_super_user(const struct tr_acl *acl, const char *principal);

/*
 * Kafka's authorizeByResourceType: 1 if 'principal' may do 'op' on some
 * resource of 'type' (InitProducerId without IDEMPOTENT_WRITE: WRITE on any
 * topic). A super user, allow.everyone.if.no.acl.found, or an ALLOW on a
 * literal name or prefix not shadowed by a DENY on it (or on a prefix of
 * it) allow; a DENY on the literal "*" denies.
 */
int tr_acl_authorize_any(struct tr_acl *acl, const char *principal,
                         const char *host, enum tr_acl_op op,
                         enum tr_acl_resource type, int log);

/*
 * KIP-430's authorized_operations: bit i set when operation i (of those
 * valid for 'type') is allowed on 'name'.
 */
int32_t tr_acl_authorized_ops(struct tr_acl *acl, const char *principal,
                              const char *host, enum tr_acl_resource type,
                              const char *name);

/*
 * NULL when 'b' may be created (a known resource type, pattern LITERAL or
 * PREFIXED, a name, the cluster named kafka-cluster, a principal "Type:x",
 * a host, an operation valid for the resource, ALLOW or DENY); else the
 * reason, Kafka's wording where it has one (a static string).
 */
const char *tr_acl_binding_invalid(const struct tr_acl_binding *b);

/* 1 if binding 'b' matches filter 'f' (see struct tr_acl_binding). */
int tr_acl_filter_matches(const struct tr_acl_binding *f,
                          const struct tr_acl_binding *b);

/*
 * Adds 'n' bindings (checked with tr_acl_binding_invalid by the caller;
 * existing ones are kept once) and saves them: to the file, or to
 * ZooKeeper in a cluster. TR_ERR_IO and the like when they could not be
 * stored (nothing is added then on a single collector).
 */
tr_err_t tr_acl_add(struct tr_acl *acl, const struct tr_acl_binding *b,
                    size_t n);

/*
 * Deletes the bindings matching any of the 'n' filters and saves.
 * deleted[i] gets an owned array of the bindings filter i deleted (owned
 * strings; free with tr_acl_bindings_free) and ndeleted[i] their count.
 */
tr_err_t tr_acl_delete(struct tr_acl *acl, const struct tr_acl_binding *f,
                       size_t n, struct tr_acl_binding **deleted,
                       size_t *ndeleted);

/*
 * The bindings matching filter 'f', sorted by resource: an owned array
 * with owned strings (tr_acl_bindings_free).
 */
tr_err_t tr_acl_describe(struct tr_acl *acl, const struct tr_acl_binding *f,
                         struct tr_acl_binding **out, size_t *n);
/* Frees an array returned above; NULL is a no-op. */
void tr_acl_bindings_free(struct tr_acl_binding *b, size_t n);

/*
 * Writes the host part of a peer "ip:port" / "[ipv6]:port" / "ipv6:port"
 * as Java prints an InetAddress (IPv6 uncompressed: "0:0:0:0:0:0:0:1"),
 * which is what ACL hosts are compared with. 'out' has TR_ACL_HOST_MAX.
 */
void tr_acl_host_from_peer(const char *peer, char *out, size_t outlen);

/*
 * Where a cluster keeps its ACLs (cluster/cluster.c provides one over the
 * ZooKeeper session). Paths are absolute znode paths.
 */
struct tr_acl_remote {
    /* Owned *data (free()) and the znode's version; TR_ERR_NOT_FOUND. */
    tr_err_t (*get)(void *arg, const char *path, char **data, size_t *len,
                    int32_t *version);
    /*
     * Writes 'path' if its version is still 'version' (TR_ERR_STALE if
     * not), or creates it (and its parents) for version -1 (TR_ERR_EXISTS
     * if it is there); 'data' NULL deletes it at 'version'.
     */
    tr_err_t (*put)(void *arg, const char *path, const char *data, size_t len,
                    int32_t version);
    /* Children names (free with free_children); 'watch' sets a watch. */
    tr_err_t (*children)(void *arg, const char *path, int watch, char ***names,
                         int *count);
    void (*free_children)(char **names, int count);
    /* Creates a sequential node "<prefix>NNNNNNNNNN" holding 'data'. */
    tr_err_t (*notify)(void *arg, const char *prefix, const char *data);
    void *arg;
};

/*
 * From now on the bindings live in 'remote' (copied; 'arg' must outlive
 * the authorizer); the local file is no longer read or written. Call
 * tr_acl_reload once the session is up.
 */
void tr_acl_set_remote(struct tr_acl *acl, const struct tr_acl_remote *remote);

/*
 * Reads every binding from the remote store again and (re)sets the watches
 * on the change notifications: at start-up and whenever a notification
 * comes. On failure the bindings in memory stay as they were.
 */
tr_err_t tr_acl_reload(struct tr_acl *acl);

#endif /* TR_ACL_H */
