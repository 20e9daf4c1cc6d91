/*
 * acl -- Kafka's ACL authorizer: the bindings in a sorted table, the
 * decision, and their storage (a file, or ZooKeeper in a cluster). See
 * acl.h for the model and the formats.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"

/* The file is small; a bigger one is not ours. */
#define FILE_MAX (64u << 20)
/* Longest name, principal or host kept (ZooKeeper paths must fit too). */
#define FIELD_MAX 1024
/* Denial log lines: at most LOG_BURST per LOG_WINDOW_MS, then a count. */
#define LOG_BURST     10
#define LOG_WINDOW_MS 5000
/* Compare-and-set attempts on one znode before giving up. */
#define CAS_ATTEMPTS 20
/* Change notifications kept (Kafka purges them after 15 minutes). */
#define CHANGES_KEPT 100

#define LITERAL_ROOT     "/kafka-acl"
#define PREFIXED_ROOT    "/kafka-acl-extended/prefixed"
#define LITERAL_CHANGES  "/kafka-acl-changes"
#define EXTENDED_CHANGES "/kafka-acl-extended-changes"
#define CHANGE_PREFIX    "/acl_changes_"

/* One binding; the strings are owned by the table holding it. */
struct entry {
    int8_t type, pattern, op, perm;
    char *name, *principal, *host;
};

/* Sorted by resource (type, pattern, name), then the rest; no duplicates. */
struct table {
    struct entry *e;
    size_t n, cap;
};

struct tr_acl {
    pthread_rwlock_t lock; /* guards 'tab' */
    struct table tab;
    int allow_everyone;
    char **supers; /* super.users */
    size_t nsupers, capsupers;
    char *dir;
    int remote_on;
    struct tr_acl_remote remote;
    pthread_mutex_t write_lock; /* one change at a time */
    pthread_mutex_t log_lock;   /* the denial log's rate limit */
    int64_t log_window;
    int log_lines;
    int64_t log_suppressed;
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

int
tr_acl_class_supported(const char *class_name)
{
    return strcmp(class_name, "kafka.security.authorizer.AclAuthorizer") == 0 ||
           strcmp(class_name, "kafka.security.auth.SimpleAclAuthorizer") == 0 ||
           strcmp(class_name,
                  "org.apache.kafka.metadata.authorizer.StandardAuthorizer") ==
               0;
}

/* ------------------------------------------------------------- table */

static int
entry_cmp_resource(const struct entry *e, int type, int pattern,
                   const char *name)
{
    if (e->type != type) {
        return e->type < type ? -1 : 1;
    }
    if (e->pattern != pattern) {
        return e->pattern < pattern ? -1 : 1;
    }
    return strcmp(e->name, name);
}

static int
entry_cmp(const struct entry *a, const struct entry *b)
{
    int c = entry_cmp_resource(a, b->type, b->pattern, b->name);

    if (c == 0) {
        c = strcmp(a->principal, b->principal);
    }
    if (c == 0) {
        c = strcmp(a->host, b->host);
    }
    if (c == 0) {
        c = a->op - b->op;
    }
    if (c == 0) {
        c = a->perm - b->perm;
    }
    return c;
}

/* The first entry at or after resource (type, pattern, name). */
static size_t
lower_bound(const struct table *t, int type, int pattern, const char *name)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp_resource(&t->e[mid], type, pattern, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void
entry_free(struct entry *e)
{
    tr_free(e->name);
    tr_free(e->principal);
    tr_free(e->host);
}

static void
table_cleanup(struct table *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        entry_free(&t->e[i]);
    }
    tr_free(t->e);
    memset(t, 0, sizeof(*t));
}

/* 1 if the table holds an entry equal to 'e'. */
static int
table_has(const struct table *t, const struct entry *e)
{
    size_t i = lower_bound(t, e->type, e->pattern, e->name);

    for (; i < t->n &&
           entry_cmp_resource(&t->e[i], e->type, e->pattern, e->name) == 0;
         i++) {
        if (entry_cmp(&t->e[i], e) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Inserts a copy of binding 'b' in order, unless it is there. Returns
 * TR_OK (also for a duplicate) or TR_ERR_NOMEM.
 */
static tr_err_t
table_insert(struct table *t, int type, int pattern, const char *name,
             const char *principal, const char *host, int op, int perm)
{
    struct entry e = { (int8_t)type, (int8_t)pattern, (int8_t)op,
                       (int8_t)perm, (char *)name,    (char *)principal,
                       (char *)host };
    size_t i;

    if (table_has(t, &e)) {
        return TR_OK;
    }
    if (tr_array_reserve(&t->e, &t->cap, t->n + 1, sizeof(*t->e)) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    e.name = tr_strdup(name);
    e.principal = tr_strdup(principal);
    e.host = tr_strdup(host);
    if (e.name == NULL || e.principal == NULL || e.host == NULL) {
        entry_free(&e);
        return TR_ERR_NOMEM;
    }
    for (i = lower_bound(t, type, pattern, name);
         i < t->n && entry_cmp(&t->e[i], &e) < 0; i++) {
    }
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(*t->e));
    t->e[i] = e;
    t->n++;
    return TR_OK;
}

/* Moves entry i out of the table into '*out' (the caller owns it). */
static void
table_take(struct table *t, size_t i, struct entry *out)
{
    *out = t->e[i];
    memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(*t->e));
    t->n--;
}

/* ---------------------------------------------------------- matching */

static void
binding_of(const struct entry *e, struct tr_acl_binding *b)
{
    b->resource_type = e->type;
    b->pattern_type = e->pattern;
    b->operation = e->op;
    b->permission = e->perm;
    b->name = e->name;
    b->principal = e->principal;
    b->host = e->host;
}

/* 1 if a pattern (pattern, pname) applies to resource name 'name'. */
static int
pattern_applies(int pattern, const char *pname, const char *name)
{
    if (pattern == TR_ACL_PAT_LITERAL) {
        return strcmp(pname, name) == 0 || strcmp(pname, "*") == 0;
    }
    return pattern == TR_ACL_PAT_PREFIXED &&
           strncmp(name, pname, strlen(pname)) == 0;
}

int
tr_acl_filter_matches(const struct tr_acl_binding *f,
                      const struct tr_acl_binding *b)
{
    if (f->resource_type != TR_ACL_RES_ANY &&
        f->resource_type != b->resource_type) {
        return 0;
    }
    if (f->pattern_type == TR_ACL_PAT_MATCH) {
        if (f->name != NULL &&
            !pattern_applies(b->pattern_type, b->name, f->name)) {
            return 0;
        }
    } else {
        if (f->pattern_type != TR_ACL_PAT_ANY &&
            f->pattern_type != b->pattern_type) {
            return 0;
        }
        if (f->name != NULL && strcmp(f->name, b->name) != 0) {
            return 0;
        }
    }
    return (f->principal == NULL || strcmp(f->principal, b->principal) == 0) &&
           (f->host == NULL || strcmp(f->host, b->host) == 0) &&
           (f->operation == TR_ACL_OP_ANY || f->operation == b->operation) &&
           (f->permission == TR_ACL_PERM_ANY || f->permission == b->permission);
}

/* 1 if an ALLOW of 'granted' allows 'op' (Kafka's implied operations). */
static int
implies(int granted, int op)
{
    if (granted == op || granted == TR_ACL_OP_ALL) {
        return 1;
    }
    if (op == TR_ACL_OP_DESCRIBE) {
        return granted == TR_ACL_OP_READ || granted == TR_ACL_OP_WRITE ||
               granted == TR_ACL_OP_DELETE || granted == TR_ACL_OP_ALTER;
    }
    return op == TR_ACL_OP_DESCRIBE_CONFIGS &&
           granted == TR_ACL_OP_ALTER_CONFIGS;
}

static int
who_matches(const struct entry *e, const char *principal, const char *host)
{
    return (strcmp(e->principal, principal) == 0 ||
            strcmp(e->principal, "User:*") == 0) &&
           (strcmp(e->host, host) == 0 || strcmp(e->host, "*") == 0);
}

/* What the ACLs applying to one resource say so far. */
struct verdict {
    int found; /* any ACL on the resource, whoever it is for */
    int deny;
    int allow;
};

static void
consider(const struct entry *e, const char *principal, const char *host, int op,
         struct verdict *v)
{
    v->found = 1;
    if (!who_matches(e, principal, host)) {
        return;
    }
    if (e->perm == TR_ACL_PERM_DENY &&
        (e->op == op || e->op == TR_ACL_OP_ALL)) {
        v->deny = 1;
    } else if (e->perm == TR_ACL_PERM_ALLOW && implies(e->op, op)) {
        v->allow = 1;
    }
}

/* Looks at every entry of the literal resource (type, name). */
static void
consider_literal(const struct table *t, int type, const char *name,
                 const char *principal, const char *host, int op,
                 struct verdict *v)
{
    size_t i = lower_bound(t, type, TR_ACL_PAT_LITERAL, name);

    for (; i < t->n &&
           entry_cmp_resource(&t->e[i], type, TR_ACL_PAT_LITERAL, name) == 0;
         i++) {
        consider(&t->e[i], principal, host, op, v);
    }
}

/* Kafka's steps 2-5 over the table; the caller holds the lock. */
static struct verdict
decide(const struct table *t, const char *principal, const char *host, int op,
       int type, const char *name)
{
    struct verdict v = { 0, 0, 0 };
    char first[2] = { 0, 0 };
    size_t i;

    consider_literal(t, type, name, principal, host, op, &v);
    if (strcmp(name, "*") != 0) {
        consider_literal(t, type, "*", principal, host, op, &v);
    }
    /*
     * Every prefix of 'name' starts with its first byte and sorts no later
     * than it: scan only the prefixes in that range.
     */
    first[0] = name[0];
    for (i = lower_bound(t, type, TR_ACL_PAT_PREFIXED, first);
         i < t->n && t->e[i].type == type &&
         t->e[i].pattern == TR_ACL_PAT_PREFIXED &&
         strcmp(t->e[i].name, name) <= 0;
         i++) {
        if (strncmp(name, t->e[i].name, strlen(t->e[i].name)) == 0) {
            consider(&t->e[i], principal, host, op, &v);
        }
    }
    return v;
}

static int
is_super(const struct tr_acl *acl, const char *principal)
{
    size_t i;

    for (i = 0; i < acl->nsupers; i++) {
        if (strcmp(acl->supers[i], principal) == 0) {
            return 1;
        }
    }
    return 0;
}

int
tr_acl_super_user(const struct tr_acl *acl, const char *principal)
{
    return is_super(acl, principal);
}

/*
 * Logs a denial, at most LOG_BURST lines per LOG_WINDOW_MS; the lines
 * left out are counted and reported with the next one written.
 */
static void
log_denied(struct tr_acl *acl, const char *principal, const char *host, int op,
           int type, int pattern, const char *name)
{
    int64_t now = tr_clock_mono_ms(), suppressed = 0;
    int write = 0;

    pthread_mutex_lock(&acl->log_lock);
    if (now - acl->log_window >= LOG_WINDOW_MS) {
        acl->log_window = now;
        acl->log_lines = 0;
    }
    if (acl->log_lines < LOG_BURST) {
        acl->log_lines++;
        write = 1;
        suppressed = acl->log_suppressed;
        acl->log_suppressed = 0;
    } else {
        acl->log_suppressed++;
    }
    pthread_mutex_unlock(&acl->log_lock);
    if (!write) {
        return;
    }
    if (suppressed > 0) {
        tr_log_warn("authorizer: %lld more denials not logged",
                    (long long)suppressed);
    }
    tr_log_warn("authorizer: Principal = %s is Denied Operation = %s from "
                "host = %s on resource = %s:%s:%s",
                TR_LOG_ESC(principal), tr_acl_op_json[op], TR_LOG_ESC(host),
                tr_acl_resource_json[type], tr_acl_pattern_names[pattern],
                TR_LOG_ESC(name));
}

static int
valid_op(int op)
{
    return op >= TR_ACL_OP_ALL && op <= TR_ACL_OP_IDEMPOTENT_WRITE;
}

static int
valid_type(int type)
{
    return type >= TR_ACL_TOPIC && type <= TR_ACL_DELEGATION_TOKEN;
}

int
tr_acl_authorize(struct tr_acl *acl, const char *principal, const char *host,
                 enum tr_acl_op op, enum tr_acl_resource type, const char *name,
                 int log)
{
    struct verdict v;
    int ok;

    if (acl == NULL || is_super(acl, principal)) {
        return 1;
    }
    if (!valid_op((int)op) || !valid_type((int)type)) {
        return 0;
    }
    pthread_rwlock_rdlock(&acl->lock);
    v = decide(&acl->tab, principal, host, (int)op, (int)type, name);
    pthread_rwlock_unlock(&acl->lock);
    ok = v.found ? !v.deny && v.allow : acl->allow_everyone;
    if (!ok && log) {
        log_denied(acl, principal, host, (int)op, (int)type, TR_ACL_PAT_LITERAL,
                   name);
    }
    return ok;
}

/* A DENY for the subject and 'op' (or ALL) on this entry. */
static int
denies(const struct entry *e, const char *principal, const char *host, int op)
{
    return e->perm == TR_ACL_PERM_DENY &&
           (e->op == op || e->op == TR_ACL_OP_ALL) &&
           who_matches(e, principal, host);
}

/*
 * 1 if the ALLOW on (pattern, name) is shadowed by a DENY in [first, end):
 * on the same literal name, or on a prefix of the name.
 */
static int
shadowed(const struct table *t, size_t first, size_t end, int pattern,
         const char *name, const char *principal, const char *host, int op)
{
    size_t j;

    for (j = first; j < end; j++) {
        const struct entry *d = &t->e[j];
        if (!denies(d, principal, host, op)) {
            continue;
        }
        if (d->pattern == TR_ACL_PAT_PREFIXED &&
            strncmp(name, d->name, strlen(d->name)) == 0) {
            return 1;
        }
        if (pattern == TR_ACL_PAT_LITERAL && d->pattern == TR_ACL_PAT_LITERAL &&
            strcmp(d->name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
tr_acl_authorize_any(struct tr_acl *acl, const char *principal,
                     const char *host, enum tr_acl_op op,
                     enum tr_acl_resource type, int log)
{
    const struct table *t;
    size_t first, end, i;
    int ok = 0, deny_all = 0;

    if (acl == NULL || is_super(acl, principal)) {
        return 1;
    }
    pthread_rwlock_rdlock(&acl->lock);
    t = &acl->tab;
    first = lower_bound(t, (int)type, 0, "");
    for (end = first; end < t->n && t->e[end].type == (int)type; end++) {
    }
    for (i = first; i < end; i++) {
        if (t->e[i].pattern == TR_ACL_PAT_LITERAL &&
            strcmp(t->e[i].name, "*") == 0 &&
            denies(&t->e[i], principal, host, (int)op)) {
            deny_all = 1;
        }
    }
    if (!deny_all) {
        ok = acl->allow_everyone;
    }
    for (i = first; !deny_all && !ok && i < end; i++) {
        const struct entry *e = &t->e[i];
        if (e->perm != TR_ACL_PERM_ALLOW ||
            (e->op != (int)op && e->op != TR_ACL_OP_ALL) ||
            !who_matches(e, principal, host)) {
            continue;
        }
        ok = (e->pattern == TR_ACL_PAT_LITERAL && strcmp(e->name, "*") == 0) ||
             !shadowed(t, first, end, e->pattern, e->name, principal, host,
                       (int)op);
    }
    pthread_rwlock_unlock(&acl->lock);
    if (!ok && log) {
        log_denied(acl, principal, host, (int)op, (int)type, TR_ACL_PAT_ANY,
                   "*");
    }
    return ok;
}

/* The operations valid on each resource type (KIP-430's bitfield order). */
static uint32_t
valid_ops(int type)
{
#define B(op) (1u << (op))
    switch (type) {
    case TR_ACL_TOPIC:
        return B(TR_ACL_OP_READ) | B(TR_ACL_OP_WRITE) | B(TR_ACL_OP_CREATE) |
               B(TR_ACL_OP_DESCRIBE) | B(TR_ACL_OP_DELETE) |
               B(TR_ACL_OP_ALTER) | B(TR_ACL_OP_DESCRIBE_CONFIGS) |
               B(TR_ACL_OP_ALTER_CONFIGS);
    case TR_ACL_GROUP:
        return B(TR_ACL_OP_READ) | B(TR_ACL_OP_DESCRIBE) | B(TR_ACL_OP_DELETE);
    case TR_ACL_CLUSTER:
        return B(TR_ACL_OP_CREATE) | B(TR_ACL_OP_CLUSTER_ACTION) |
               B(TR_ACL_OP_DESCRIBE_CONFIGS) | B(TR_ACL_OP_ALTER_CONFIGS) |
               B(TR_ACL_OP_IDEMPOTENT_WRITE) | B(TR_ACL_OP_ALTER) |
               B(TR_ACL_OP_DESCRIBE);
    case TR_ACL_TRANSACTIONAL_ID:
        return B(TR_ACL_OP_DESCRIBE) | B(TR_ACL_OP_WRITE);
    case TR_ACL_DELEGATION_TOKEN:
        return B(TR_ACL_OP_DESCRIBE);
    default:
        return 0;
    }
#undef B
}

int32_t
tr_acl_authorized_ops(struct tr_acl *acl, const char *principal,
                      const char *host, enum tr_acl_resource type,
                      const char *name)
{
    uint32_t ops = valid_ops((int)type), bits = 0;
    int op;

    for (op = TR_ACL_OP_READ; op <= TR_ACL_OP_IDEMPOTENT_WRITE; op++) {
        if ((ops & (1u << op)) != 0 &&
            tr_acl_authorize(acl, principal, host, (enum tr_acl_op)op, type,
                             name, 0)) {
            bits |= 1u << op;
        }
    }
    return (int32_t)bits;
}

const char *
tr_acl_binding_invalid(const struct tr_acl_binding *b)
{
    const char *colon;

    if (!valid_type(b->resource_type) || !valid_op(b->operation) ||
        (b->pattern_type != TR_ACL_PAT_LITERAL &&
         b->pattern_type != TR_ACL_PAT_PREFIXED) ||
        (b->permission != TR_ACL_PERM_ALLOW &&
         b->permission != TR_ACL_PERM_DENY)) {
        return "ACL binding contains unknown elements";
    }
    if (b->name == NULL || b->name[0] == '\0') {
        return "Invalid empty resource name";
    }
    if (b->resource_type == TR_ACL_CLUSTER &&
        strcmp(b->name, TR_ACL_CLUSTER_NAME) != 0) {
        return "The only valid name for the CLUSTER resource is "
               "kafka-cluster";
    }
    if (b->principal == NULL || (colon = strchr(b->principal, ':')) == NULL ||
        colon == b->principal || colon[1] == '\0') {
        return "Invalid principal: expected TYPE:NAME, e.g. User:alice";
    }
    if (b->host == NULL || b->host[0] == '\0') {
        return "Invalid empty host";
    }
    if (strlen(b->name) > FIELD_MAX || strlen(b->principal) > FIELD_MAX ||
        strlen(b->host) > FIELD_MAX || strchr(b->name, '\n') != NULL ||
        strchr(b->principal, '\n') != NULL) {
        return "Resource name, principal or host too long";
    }
    return NULL;
}

void
tr_acl_host_from_peer(const char *peer, char *out, size_t outlen)
{
    char ip[TR_ACL_HOST_MAX];
    const char *colon = strrchr(peer, ':');
    size_t len = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    unsigned char a6[16];

    if (len > 0 && peer[0] == '[' && peer[len - 1] == ']') {
        peer++;
        len -= 2;
    }
    if (len >= sizeof(ip)) {
        len = sizeof(ip) - 1;
    }
    memcpy(ip, peer, len);
    ip[len] = '\0';
    if (strchr(ip, ':') != NULL && inet_pton(AF_INET6, ip, a6) == 1) {
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0,    0,
                                                    0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a6, v4mapped, sizeof(v4mapped)) == 0) {
            snprintf(out, outlen, "%u.%u.%u.%u", a6[12], a6[13], a6[14],
                     a6[15]);
        } else {
            snprintf(out, outlen, "%x:%x:%x:%x:%x:%x:%x:%x", a6[0] << 8 | a6[1],
                     a6[2] << 8 | a6[3], a6[4] << 8 | a6[5], a6[6] << 8 | a6[7],
                     a6[8] << 8 | a6[9], a6[10] << 8 | a6[11],
                     a6[12] << 8 | a6[13], a6[14] << 8 | a6[15]);
        }
        return;
    }
    snprintf(out, outlen, "%s", ip);
}

/* ------------------------------------------------------------ formats */

/* Kafka's JSON for one ACL (the resource is in the znode's path). */
static void
put_acl_json(struct tr_buf *b, const struct entry *e)
{
    tr_buf_put_bytes(b, "{\"principal\":", 13);
    (void)tr_json_put_string(b, e->principal);
    tr_buf_put_bytes(b, ",\"permissionType\":\"", 19);
    tr_buf_put_bytes(b, tr_acl_perm_json[e->perm],
                     strlen(tr_acl_perm_json[e->perm]));
    tr_buf_put_bytes(b, "\",\"operation\":\"", 15);
    tr_buf_put_bytes(b, tr_acl_op_json[e->op], strlen(tr_acl_op_json[e->op]));
    tr_buf_put_bytes(b, "\",\"host\":", 9);
    (void)tr_json_put_string(b, e->host);
    tr_buf_put_bytes(b, "}", 1);
}

static int
json_enum(const struct tr_json_value *obj, const char *key,
          const char *const *names, int count)
{
    struct tr_json_value v;
    char text[64];
    int i;

    if (tr_json_get(obj, key, &v) != TR_OK ||
        tr_json_string(&v, text, sizeof(text)) != TR_OK) {
        return -1;
    }
    /* Kafka writes the exact spelling; anything else is not its JSON. */
    for (i = 0; i < count; i++) {
        if (strcmp(names[i], text) == 0) {
            return i;
        }
    }
    return -1;
}

static tr_err_t
json_text(const struct tr_json_value *obj, const char *key, char *out,
          size_t outlen)
{
    struct tr_json_value v;

    if (tr_json_get(obj, key, &v) != TR_OK) {
        return TR_ERR_NOT_FOUND;
    }
    return tr_json_string(&v, out, outlen);
}

/*
 * Reads one ACL object (principal, permissionType, operation, host) into
 * 't' for resource (type, pattern, name). Returns a reason or NULL.
 */
static const char *
read_acl(struct table *t, const struct tr_json_value *obj, int type,
         int pattern, const char *name)
{
    char principal[FIELD_MAX + 1], host[FIELD_MAX + 1];
    struct tr_acl_binding b;
    int op, perm;

    if (json_text(obj, "principal", principal, sizeof(principal)) != TR_OK ||
        json_text(obj, "host", host, sizeof(host)) != TR_OK) {
        return "missing or bad principal or host";
    }
    op = json_enum(obj, "operation", tr_acl_op_json, COUNT(tr_acl_op_json));
    perm = json_enum(obj, "permissionType", tr_acl_perm_json,
                     COUNT(tr_acl_perm_json));
    b.resource_type = (int8_t)type;
    b.pattern_type = (int8_t)pattern;
    b.operation = (int8_t)op;
    b.permission = (int8_t)perm;
    b.name = name;
    b.principal = principal;
    b.host = host;
    if (op < 0 || perm < 0 || tr_acl_binding_invalid(&b) != NULL) {
        return "invalid ACL";
    }
    return table_insert(t, type, pattern, name, principal, host, op, perm) ==
                   TR_OK
               ? NULL
               : "out of memory";
}

/* ---------------------------------------------------------- the file */

/*
 * Rewrites the file from table 't': a temporary file, fsync, rename,
 * directory fsync, so a crash leaves the old file or the new one.
 */
static tr_err_t
save_file(const char *dir, const struct table *t)
{
    struct tr_buf b;
    size_t i;
    tr_err_t err;

    tr_buf_init(&b, FILE_MAX);
    tr_buf_put_bytes(&b,
                     "# ACLs of this collector, one binding a line "
                     "(tributary acls add|remove).\n",
                     74);
    for (i = 0; i < t->n; i++) {
        const struct entry *e = &t->e[i];
        tr_buf_put_bytes(&b, "{\"resourceType\":\"", 17);
        tr_buf_put_bytes(&b, tr_acl_resource_json[e->type],
                         strlen(tr_acl_resource_json[e->type]));
        tr_buf_put_bytes(&b, "\",\"patternType\":\"", 17);
        tr_buf_put_bytes(&b, tr_acl_pattern_names[e->pattern],
                         strlen(tr_acl_pattern_names[e->pattern]));
        tr_buf_put_bytes(&b, "\",\"name\":", 9);
        (void)tr_json_put_string(&b, e->name);
        tr_buf_put_bytes(&b, ",\"acl\":", 7);
        put_acl_json(&b, e);
        tr_buf_put_bytes(&b, "}\n", 2);
    }
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = tr_replace_file(dir, TR_ACL_FILE_NAME, tr_buf_data(&b),
                              tr_buf_len(&b), 0600);
    }
    tr_buf_cleanup(&b);
    return err;
}

/* Parses one line of the file into 't'; returns a reason or NULL. */
static const char *
load_line(struct table *t, const char *line, size_t len)
{
    struct tr_json_value root, acl;
    char name[FIELD_MAX + 1], pattern_text[16];
    int type, pattern;

    if (tr_json_parse(line, len, &root) != TR_OK ||
        root.type != TR_JSON_OBJECT) {
        return "not a JSON object";
    }
    type = json_enum(&root, "resourceType", tr_acl_resource_json,
                     COUNT(tr_acl_resource_json));
    if (json_text(&root, "patternType", pattern_text, sizeof(pattern_text)) !=
        TR_OK) {
        return "no patternType";
    }
    pattern = tr_acl_pattern_parse(pattern_text);
    if (!valid_type(type) ||
        (pattern != TR_ACL_PAT_LITERAL && pattern != TR_ACL_PAT_PREFIXED)) {
        return "bad resourceType or patternType";
    }
    if (json_text(&root, "name", name, sizeof(name)) != TR_OK) {
        return "missing or bad name";
    }
    if (tr_json_get(&root, "acl", &acl) != TR_OK ||
        acl.type != TR_JSON_OBJECT) {
        return "no acl object";
    }
    return read_acl(t, &acl, type, pattern, name);
}

static tr_err_t
load_file(const char *dir, struct table *t, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    char *text = NULL;
    const char *why = NULL;
    struct stat st;
    size_t pos = 0, lineno = 0;
    FILE *f;
    tr_err_t err = TR_ERR_CORRUPT;

    snprintf(path, sizeof(path), "%s" TR_ACL_FILE, dir);
    f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return TR_OK;
        }
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return TR_ERR_IO;
    }
    if (fstat(fileno(f), &st) != 0 || st.st_size > (off_t)FILE_MAX) {
        snprintf(errbuf, errlen, "%s: unreadable or too large", path);
        goto out;
    }
    text = tr_malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        snprintf(errbuf, errlen, "%s: read error", path);
        err = TR_ERR_IO;
        goto out;
    }
    text[st.st_size] = '\0';
    while (pos < (size_t)st.st_size) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', (size_t)st.st_size - pos);
        size_t len =
            nl != NULL ? (size_t)(nl - line) : (size_t)st.st_size - pos;

        lineno++;
        pos += len + 1;
        if (len == 0 || line[0] == '#') {
            continue;
        }
        why = load_line(t, line, len);
        if (why != NULL) {
            snprintf(errbuf, errlen, "%s:%zu: %s", path, lineno, why);
            goto out;
        }
    }
    err = TR_OK;
out:
    tr_free(text);
    fclose(f);
    return err;
}

/* ---------------------------------------------------------- open/free */

static tr_err_t
parse_supers(struct tr_acl *acl, const char *list, char *errbuf, size_t errlen)
{
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char *s;

        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1])) {
            len--;
        }
        if (len > 0) {
            const char *colon = memchr(p, ':', len);
            if (colon == NULL || colon == p || colon == p + len - 1) {
                snprintf(errbuf, errlen,
                         "super.users: '%.*s' is not a principal TYPE:NAME "
                         "(e.g. User:admin; entries are separated by ';')",
                         (int)len, p);
                return TR_ERR_CONFIG;
            }
            if (tr_array_reserve(&acl->supers, &acl->capsupers,
                                 acl->nsupers + 1,
                                 sizeof(*acl->supers)) != TR_OK ||
                (s = tr_strndup(p, len)) == NULL) {
                return TR_ERR_NOMEM;
            }
            acl->supers[acl->nsupers++] = s;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return TR_OK;
}

tr_err_t
tr_acl_open(const struct tr_acl_config *cfg, struct tr_acl **out, char *errbuf,
            size_t errlen)
{
    struct tr_acl *acl = NULL;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (cfg->class_name == NULL || cfg->class_name[0] == '\0') {
        return TR_OK;
    }
    if (!tr_acl_class_supported(cfg->class_name)) {
        snprintf(errbuf, errlen,
                 "authorizer.class.name: %s is not supported (use "
                 "kafka.security.authorizer.AclAuthorizer, "
                 "kafka.security.auth.SimpleAclAuthorizer or "
                 "org.apache.kafka.metadata.authorizer.StandardAuthorizer, "
                 "or leave it empty)",
                 cfg->class_name);
        return TR_ERR_CONFIG;
    }
    acl = tr_calloc(1, sizeof(*acl));
    if (acl == NULL) {
        goto out;
    }
    pthread_rwlock_init(&acl->lock, NULL);
    pthread_mutex_init(&acl->write_lock, NULL);
    pthread_mutex_init(&acl->log_lock, NULL);
    acl->log_window = INT64_MIN / 2;
    acl->allow_everyone = cfg->allow_everyone;
    acl->dir = tr_strdup(cfg->dir);
    if (acl->dir == NULL) {
        goto out;
    }
    snprintf(errbuf, errlen, "out of memory");
    err = parse_supers(acl, cfg->super_users, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = load_file(acl->dir, &acl->tab, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    *out = acl;
    acl = NULL;
out:
    tr_acl_free(acl);
    return err;
}

void
tr_acl_free(struct tr_acl *acl)
{
    size_t i;

    if (acl == NULL) {
        return;
    }
    table_cleanup(&acl->tab);
    for (i = 0; i < acl->nsupers; i++) {
        tr_free(acl->supers[i]);
    }
    tr_free(acl->supers);
    tr_free(acl->dir);
    pthread_rwlock_destroy(&acl->lock);
    pthread_mutex_destroy(&acl->write_lock);
    pthread_mutex_destroy(&acl->log_lock);
    tr_free(acl);
}

/* ---------------------------------------------------------- listing */

static tr_err_t
copy_binding(const struct entry *e, struct tr_acl_binding *b)
{
    binding_of(e, b);
    b->name = tr_strdup(e->name);
    b->principal = tr_strdup(e->principal);
    b->host = tr_strdup(e->host);
    return b->name != NULL && b->principal != NULL && b->host != NULL
               ? TR_OK
               : TR_ERR_NOMEM;
}

void
tr_acl_bindings_free(struct tr_acl_binding *b, size_t n)
{
    size_t i;

    for (i = 0; b != NULL && i < n; i++) {
        tr_free((char *)b[i].name);
        tr_free((char *)b[i].principal);
        tr_free((char *)b[i].host);
    }
    tr_free(b);
}

/* Appends a copy of 'e' to the list (*list, *n, *cap). */
static tr_err_t
list_append(struct tr_acl_binding **list, size_t *n, size_t *cap,
            const struct entry *e)
{
    tr_err_t err = tr_array_reserve(list, cap, *n + 1, sizeof(**list));

    if (err != TR_OK) {
        return err;
    }
    memset(&(*list)[*n], 0, sizeof(**list));
    err = copy_binding(e, &(*list)[*n]);
    (*n)++; /* freed with the list even when half made */
    return err;
}

tr_err_t
tr_acl_describe(struct tr_acl *acl, const struct tr_acl_binding *f,
                struct tr_acl_binding **out, size_t *n)
{
    struct tr_acl_binding *list = NULL, b;
    size_t count = 0, cap = 0, i;
    tr_err_t err = TR_OK;

    pthread_rwlock_rdlock(&acl->lock);
    for (i = 0; err == TR_OK && i < acl->tab.n; i++) {
        binding_of(&acl->tab.e[i], &b);
        if (tr_acl_filter_matches(f, &b)) {
            err = list_append(&list, &count, &cap, &acl->tab.e[i]);
        }
    }
    pthread_rwlock_unlock(&acl->lock);
    if (err != TR_OK) {
        tr_acl_bindings_free(list, count);
        list = NULL;
        count = 0;
    }
    *out = list;
    *n = count;
    return err;
}

/* ------------------------------------------------------ changes */

/*
 * One change to a set of bindings: adds, then deletes by filter. The
 * deleted ones are recorded per filter.
 */
struct change {
    const struct tr_acl_binding *adds;
    size_t nadds;
    const struct tr_acl_binding *filters;
    size_t nfilters;
    struct tr_acl_binding **deleted; /* [nfilters] */
    size_t *ndeleted;
    size_t *capdeleted;
};

/*
 * Applies 'ch' to the entries of 't' (only those of resource 'res' when it
 * is not NULL). Returns TR_OK with *changed set when anything changed.
 */
static tr_err_t
apply_change(struct table *t, const struct change *ch,
             const struct tr_acl_binding *res, int *changed)
{
    size_t i, j;
    tr_err_t err = TR_OK;

    *changed = 0;
    for (i = 0; i < ch->nadds; i++) {
        const struct tr_acl_binding *a = &ch->adds[i];
        size_t before = t->n;
        if (res != NULL && (a->resource_type != res->resource_type ||
                            a->pattern_type != res->pattern_type ||
                            strcmp(a->name, res->name) != 0)) {
            continue;
        }
        err = table_insert(t, a->resource_type, a->pattern_type, a->name,
                           a->principal, a->host, a->operation, a->permission);
        if (err != TR_OK) {
            return err;
        }
        *changed |= t->n != before;
    }
    for (i = 0; ch->nfilters > 0 && i < t->n;) {
        struct tr_acl_binding b;
        struct entry gone;
        int hit = 0;

        binding_of(&t->e[i], &b);
        for (j = 0; j < ch->nfilters; j++) {
            if (tr_acl_filter_matches(&ch->filters[j], &b)) {
                hit = 1;
                err = list_append(&ch->deleted[j], &ch->ndeleted[j],
                                  &ch->capdeleted[j], &t->e[i]);
                if (err != TR_OK) {
                    return err;
                }
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        table_take(t, i, &gone);
        entry_free(&gone);
        *changed = 1;
    }
    return TR_OK;
}

/* Forgets the deletions recorded (a compare-and-set is retried). */
static void
reset_deleted(const struct change *ch)
{
    size_t j;

    for (j = 0; j < ch->nfilters; j++) {
        tr_acl_bindings_free(ch->deleted[j], ch->ndeleted[j]);
        ch->deleted[j] = NULL;
        ch->ndeleted[j] = 0;
        ch->capdeleted[j] = 0;
    }
}

/* A deep copy of table 'from' into the empty 'to'. */
static tr_err_t
table_copy(struct table *to, const struct table *from)
{
    size_t i;

    for (i = 0; i < from->n; i++) {
        const struct entry *e = &from->e[i];
        if (table_insert(to, e->type, e->pattern, e->name, e->principal,
                         e->host, e->op, e->perm) != TR_OK) {
            return TR_ERR_NOMEM;
        }
    }
    return TR_OK;
}

/* Single collector: change a copy, save it, then install it. */
static tr_err_t
change_local(struct tr_acl *acl, const struct change *ch)
{
    struct table copy = { NULL, 0, 0 }, old;
    int changed = 0;
    tr_err_t err;

    pthread_rwlock_rdlock(&acl->lock);
    err = table_copy(&copy, &acl->tab);
    pthread_rwlock_unlock(&acl->lock);
    if (err == TR_OK) {
        err = apply_change(&copy, ch, NULL, &changed);
    }
    if (err == TR_OK && changed) {
        err = save_file(acl->dir, &copy);
    }
    if (err != TR_OK || !changed) {
        table_cleanup(&copy);
        return err;
    }
    pthread_rwlock_wrlock(&acl->lock);
    old = acl->tab;
    acl->tab = copy;
    pthread_rwlock_unlock(&acl->lock);
    table_cleanup(&old);
    return TR_OK;
}

/* The znode of resource (type, pattern, name). */
static tr_err_t
resource_path(char *buf, size_t len, int type, int pattern, const char *name)
{
    int n =
        snprintf(buf, len, "%s/%s/%s",
                 pattern == TR_ACL_PAT_PREFIXED ? PREFIXED_ROOT : LITERAL_ROOT,
                 tr_acl_resource_json[type], name);

    return n > 0 && (size_t)n < len && strchr(name, '/') == NULL
               ? TR_OK
               : TR_ERR_INVALID;
}

/* Parses a resource znode's {"version":1,"acls":[...]} into 't'. */
static tr_err_t
parse_resource(struct table *t, const char *data, size_t len, int type,
               int pattern, const char *name)
{
    struct tr_json_value root, acls, v;
    struct tr_json_iter it;

    if (tr_json_parse(data, len, &root) != TR_OK ||
        tr_json_get(&root, "acls", &acls) != TR_OK ||
        tr_json_iter_init(&it, &acls) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    while (tr_json_next(&it, NULL, &v) == TR_OK) {
        if (v.type != TR_JSON_OBJECT ||
            read_acl(t, &v, type, pattern, name) != NULL) {
            return TR_ERR_CORRUPT;
        }
    }
    return TR_OK;
}

/* Announces a change of a resource, as Kafka's brokers expect it. */
static void
notify_change(struct tr_acl *acl, const struct tr_acl_binding *res)
{
    struct tr_buf b;
    const char *dir;
    char **names = NULL;
    int n = 0, i;
    long long newest = -1;

    tr_buf_init(&b, 4 * FIELD_MAX);
    if (res->pattern_type == TR_ACL_PAT_LITERAL) {
        dir = LITERAL_CHANGES;
        tr_buf_put_bytes(&b, tr_acl_resource_name(res->resource_type),
                         strlen(tr_acl_resource_name(res->resource_type)));
        tr_buf_put_bytes(&b, ":", 1);
        tr_buf_put_bytes(&b, res->name, strlen(res->name) + 1);
    } else {
        dir = EXTENDED_CHANGES;
        tr_buf_put_bytes(&b, "{\"version\":1,\"resourceType\":\"", 29);
        tr_buf_put_bytes(&b, tr_acl_resource_name(res->resource_type),
                         strlen(tr_acl_resource_name(res->resource_type)));
        tr_buf_put_bytes(&b, "\",\"name\":", 9);
        (void)tr_json_put_string(&b, res->name);
        tr_buf_put_bytes(&b, ",\"patternType\":\"PREFIXED\"}", 27);
    }
    if (tr_buf_err(&b) == TR_OK) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s" CHANGE_PREFIX, dir);
        if (acl->remote.notify(acl->remote.arg, prefix,
                               (const char *)tr_buf_data(&b)) != TR_OK) {
            tr_log_warn("authorizer: cannot announce an ACL change in %s", dir);
        }
    }
    tr_buf_cleanup(&b);
    /* Keep the last CHANGES_KEPT notifications; brokers read them at once. */
    if (acl->remote.children(acl->remote.arg, dir, 0, &names, &n) != TR_OK) {
        return;
    }
    for (i = 0; i < n; i++) {
        const char *d = strrchr(names[i], '_');
        long long seq = d != NULL ? strtoll(d + 1, NULL, 10) : -1;
        newest = seq > newest ? seq : newest;
    }
    for (i = 0; i < n; i++) {
        const char *d = strrchr(names[i], '_');
        char path[256];
        if (d != NULL && strtoll(d + 1, NULL, 10) < newest - CHANGES_KEPT) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            (void)acl->remote.put(acl->remote.arg, path, NULL, 0, -1);
        }
    }
    acl->remote.free_children(names, n);
}

/*
 * Applies 'ch' to one resource's znode with a compare-and-set, retried
 * while another broker changes it at the same time, then announces it.
 */
static tr_err_t
change_resource(struct tr_acl *acl, const struct change *ch,
                const struct tr_acl_binding *res)
{
    char path[FIELD_MAX + 128];
    struct tr_buf b;
    int attempt, changed = 0;
    tr_err_t err;

    err = resource_path(path, sizeof(path), res->resource_type,
                        res->pattern_type, res->name);
    if (err != TR_OK) {
        return err;
    }
    tr_buf_init(&b, FILE_MAX);
    for (attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct table t = { NULL, 0, 0 };
        char *data = NULL;
        size_t len = 0, i;
        int32_t version = -1;

        reset_deleted(ch);
        tr_buf_reset(&b);
        err = acl->remote.get(acl->remote.arg, path, &data, &len, &version);
        if (err == TR_ERR_NOT_FOUND) {
            version = -1;
            err = TR_OK;
        } else if (err == TR_OK) {
            err = parse_resource(&t, data, len, res->resource_type,
                                 res->pattern_type, res->name);
        }
        free(data);
        if (err == TR_OK) {
            err = apply_change(&t, ch, res, &changed);
        }
        if (err == TR_OK && changed) {
            tr_buf_put_bytes(&b, "{\"version\":1,\"acls\":[", 21);
            for (i = 0; i < t.n; i++) {
                if (i > 0) {
                    tr_buf_put_bytes(&b, ",", 1);
                }
                put_acl_json(&b, &t.e[i]);
            }
            tr_buf_put_bytes(&b, "]}", 2);
            err = tr_buf_err(&b);
            if (err == TR_OK && t.n == 0) {
                err = version < 0 ? TR_OK
                                  : acl->remote.put(acl->remote.arg, path, NULL,
                                                    0, version);
            } else if (err == TR_OK) {
                err = acl->remote.put(acl->remote.arg, path,
                                      (const char *)tr_buf_data(&b),
                                      tr_buf_len(&b), version);
            }
        }
        table_cleanup(&t);
        if (err != TR_ERR_STALE && err != TR_ERR_EXISTS &&
            err != TR_ERR_NOT_FOUND) {
            break;
        }
    }
    tr_buf_cleanup(&b);
    if (err == TR_OK && changed) {
        notify_change(acl, res);
    }
    return err;
}

/* The distinct resources 'ch' may touch, from the adds and the table. */
static tr_err_t
touched_resources(struct tr_acl *acl, const struct change *ch,
                  struct tr_acl_binding **out, size_t *n)
{
    struct tr_acl_binding *list = NULL, b;
    size_t count = 0, cap = 0, i, j, k;
    tr_err_t err = TR_OK;

    for (i = 0; err == TR_OK && i < ch->nadds + acl->tab.n; i++) {
        int hit = i < ch->nadds;
        if (hit) {
            b = ch->adds[i];
        } else {
            binding_of(&acl->tab.e[i - ch->nadds], &b);
            for (j = 0; !hit && j < ch->nfilters; j++) {
                hit = tr_acl_filter_matches(&ch->filters[j], &b);
            }
        }
        for (k = 0; hit && k < count; k++) {
            if (list[k].resource_type == b.resource_type &&
                list[k].pattern_type == b.pattern_type &&
                strcmp(list[k].name, b.name) == 0) {
                hit = 0;
            }
        }
        if (hit && (err = tr_array_reserve(&list, &cap, count + 1,
                                           sizeof(*list))) == TR_OK) {
            list[count++] = b; /* borrows; valid under the write lock */
        }
    }
    *out = list;
    *n = count;
    return err;
}

/* Cluster: change every resource touched in ZooKeeper, then reload. */
static tr_err_t
change_remote(struct tr_acl *acl, const struct change *ch)
{
    struct tr_acl_binding *res = NULL, *done = NULL, **del = NULL;
    size_t nres = 0, i, j, ndone = 0, nf, *ndel = NULL, *capdel = NULL;
    struct change one = *ch;
    tr_err_t err;

    (void)tr_acl_reload(acl); /* filters see what ZooKeeper holds now */
    pthread_rwlock_rdlock(&acl->lock);
    err = touched_resources(acl, ch, &res, &nres);
    /* Copy out: the table may be replaced by a reload. */
    if (err == TR_OK && nres > 0) {
        done = tr_calloc(nres, sizeof(*done));
        for (i = 0; done != NULL && i < nres; i++) {
            struct entry e = {
                res[i].resource_type, res[i].pattern_type, 0,         0,
                (char *)res[i].name,  (char *)"",          (char *)""
            };
            if (copy_binding(&e, &done[i]) != TR_OK) {
                err = TR_ERR_NOMEM;
            }
            ndone = i + 1;
        }
        if (done == NULL) {
            err = TR_ERR_NOMEM;
        }
    }
    pthread_rwlock_unlock(&acl->lock);
    tr_free(res);
    /* Each resource's own deletions are gathered, then added up. */
    nf = ch->nfilters > 0 ? ch->nfilters : 1;
    del = tr_calloc(nf, sizeof(*del));
    ndel = tr_calloc(nf, sizeof(*ndel));
    capdel = tr_calloc(nf, sizeof(*capdel));
    if (err == TR_OK && (del == NULL || ndel == NULL || capdel == NULL)) {
        err = TR_ERR_NOMEM;
    }
    one.deleted = del;
    one.ndeleted = ndel;
    one.capdeleted = capdel;
    for (i = 0; err == TR_OK && i < ndone; i++) {
        err = change_resource(acl, &one, &done[i]);
        for (j = 0; j < ch->nfilters; j++) {
            size_t k;
            for (k = 0; err == TR_OK && k < ndel[j]; k++) {
                struct entry e = {
                    del[j][k].resource_type, del[j][k].pattern_type,
                    del[j][k].operation,     del[j][k].permission,
                    (char *)del[j][k].name,  (char *)del[j][k].principal,
                    (char *)del[j][k].host,
                };
                err = list_append(&ch->deleted[j], &ch->ndeleted[j],
                                  &ch->capdeleted[j], &e);
            }
            tr_acl_bindings_free(del[j], ndel[j]);
            del[j] = NULL;
            ndel[j] = 0;
            capdel[j] = 0;
        }
    }
    tr_free(del);
    tr_free(ndel);
    tr_free(capdel);
    tr_acl_bindings_free(done, ndone);
    (void)tr_acl_reload(acl);
    return err;
}

static tr_err_t
change(struct tr_acl *acl, const struct change *ch)
{
    tr_err_t err;

    pthread_mutex_lock(&acl->write_lock);
    err = acl->remote_on ? change_remote(acl, ch) : change_local(acl, ch);
    pthread_mutex_unlock(&acl->write_lock);
    if (err != TR_OK) {
        tr_log_error("authorizer: cannot store the ACLs: %s", tr_err_str(err));
    }
    return err;
}

tr_err_t
tr_acl_add(struct tr_acl *acl, const struct tr_acl_binding *b, size_t n)
{
    struct change ch = { b, n, NULL, 0, NULL, NULL, NULL };

    return change(acl, &ch);
}

tr_err_t
tr_acl_delete(struct tr_acl *acl, const struct tr_acl_binding *f, size_t n,
              struct tr_acl_binding **deleted, size_t *ndeleted)
{
    size_t *cap = tr_calloc(n > 0 ? n : 1, sizeof(*cap));
    struct change ch = { NULL, 0, f, n, deleted, ndeleted, cap };
    size_t i;
    tr_err_t err;

    for (i = 0; i < n; i++) {
        deleted[i] = NULL;
        ndeleted[i] = 0;
    }
    if (cap == NULL) {
        return TR_ERR_NOMEM;
    }
    err = change(acl, &ch);
    tr_free(cap);
    return err;
}

/* ------------------------------------------------------------ remote */

void
tr_acl_set_remote(struct tr_acl *acl, const struct tr_acl_remote *remote)
{
    pthread_mutex_lock(&acl->write_lock);
    acl->remote = *remote;
    acl->remote_on = 1;
    pthread_mutex_unlock(&acl->write_lock);
}

/* Reads every resource under 'root' ("/kafka-acl/Topic") into 't'. */
static tr_err_t
load_root(struct tr_acl *acl, struct table *t, const char *root, int type,
          int pattern)
{
    char **names = NULL, path[FIELD_MAX + 128];
    int n = 0, i;
    tr_err_t err;

    err = acl->remote.children(acl->remote.arg, root, 0, &names, &n);
    if (err == TR_ERR_NOT_FOUND) {
        return TR_OK;
    }
    for (i = 0; err == TR_OK && i < n; i++) {
        char *data = NULL;
        size_t len = 0;
        int32_t version;
        tr_err_t gerr;

        snprintf(path, sizeof(path), "%s/%s", root, names[i]);
        gerr = acl->remote.get(acl->remote.arg, path, &data, &len, &version);
        if (gerr == TR_OK &&
            parse_resource(t, data, len, type, pattern, names[i]) != TR_OK) {
            tr_log_warn("authorizer: %s: not Kafka's ACL JSON; ignored",
                        TR_LOG_ESC(path));
        } else if (gerr != TR_OK && gerr != TR_ERR_NOT_FOUND) {
            err = gerr;
        }
        free(data);
    }
    acl->remote.free_children(names, n);
    return err;
}

tr_err_t
tr_acl_reload(struct tr_acl *acl)
{
    struct table t = { NULL, 0, 0 }, old;
    char **names = NULL, root[128];
    int n = 0, type;
    tr_err_t err = TR_OK;

    if (!acl->remote_on) {
        return TR_OK;
    }
    /* The watches first, so a change made while reading is not missed. */
    if (acl->remote.children(acl->remote.arg, LITERAL_CHANGES, 1, &names, &n) ==
        TR_OK) {
        acl->remote.free_children(names, n);
    }
    if (acl->remote.children(acl->remote.arg, EXTENDED_CHANGES, 1, &names,
                             &n) == TR_OK) {
        acl->remote.free_children(names, n);
    }
    for (type = TR_ACL_TOPIC; err == TR_OK && type <= TR_ACL_DELEGATION_TOKEN;
         type++) {
        snprintf(root, sizeof(root), LITERAL_ROOT "/%s",
                 tr_acl_resource_json[type]);
        err = load_root(acl, &t, root, type, TR_ACL_PAT_LITERAL);
        if (err == TR_OK) {
            snprintf(root, sizeof(root), PREFIXED_ROOT "/%s",
                     tr_acl_resource_json[type]);
            err = load_root(acl, &t, root, type, TR_ACL_PAT_PREFIXED);
        }
    }
    if (err != TR_OK) {
        tr_log_warn("authorizer: cannot read the ACLs from ZooKeeper: %s",
                    tr_err_str(err));
        table_cleanup(&t);
        return err;
    }
    pthread_rwlock_wrlock(&acl->lock);
    old = acl->tab;
    acl->tab = t;
    pthread_rwlock_unlock(&acl->lock);
    table_cleanup(&old);
    return TR_OK;
}
