/*
 * acls -- "tributary acls": the collector's ACLs, through Kafka's
 * DescribeAcls, CreateAcls and DeleteAcls (what kafka-acls sends), with
 * kafka-acls' flags.
 *
 *   tributary acls list   [RESOURCES] [--principal P] [--resource-pattern-type
 * T] tributary acls add    RESOURCES (--allow-principal P | --deny-principal
 * P)...
 *                         [--allow-host H] [--deny-host H] [--operation OP]...
 *                         [--producer [--idempotent]] [--consumer]
 *   tributary acls remove RESOURCES [the same filters]
 *
 * RESOURCES are any of --topic T, --group G, --transactional-id T (each
 * repeatable) and --cluster.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aclcodes.h"
#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "proto.h"

#define CMD "acls"

/* Each repeatable option holds at most this many values. */
#define MAX_VALUES 64

struct resource {
    int8_t type;
    const char *name;
};

struct aopts {
    struct tr_cli_common common;
    struct resource res[4 * MAX_VALUES + 1];
    int nres;
    const char *allow_principals[MAX_VALUES], *deny_principals[MAX_VALUES];
    int nallow, ndeny;
    const char *allow_hosts[MAX_VALUES], *deny_hosts[MAX_VALUES];
    int nallow_hosts, ndeny_hosts;
    int8_t ops[MAX_VALUES];
    int nops;
    int pattern;           /* 0: the subcommand's default */
    const char *principal; /* list: filter */
    int producer, consumer, idempotent;
};

/* One binding or filter to send; the strings are borrowed. */
struct binding {
    int8_t type;
    const char *name;
    int8_t pattern;
    const char *principal;
    const char *host;
    int8_t op;
    int8_t perm;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary acls list [-b B] [--json] [RESOURCES] "
            "[--principal P]\n"
            "       tributary acls add -b B RESOURCES --allow-principal P "
            "[--operation OP]...\n"
            "       tributary acls remove -b B RESOURCES "
            "[--allow-principal P] [--operation OP]...\n"
            "\n"
            "The collector's ACLs (DescribeAcls, CreateAcls, DeleteAcls); "
            "kafka-acls' flags.\n"
            "\n"
            "Resources (repeatable):\n"
            "      --topic T              a topic (or a prefix with "
            "--resource-pattern-type prefixed;\n"
            "                             '*' is every topic)\n"
            "      --group G              a consumer group\n"
            "      --transactional-id T   a transactional id\n"
            "      --cluster              the cluster\n"
            "      --resource-pattern-type literal|prefixed|match|any\n"
            "                             add: literal (default) or prefixed; "
            "list and remove\n"
            "                             also match (every ACL applying to "
            "the name) and any\n"
            "                             (default for list)\n"
            "Who and what:\n"
            "      --allow-principal P    User:NAME allowed (repeatable; "
            "User:* is everyone)\n"
            "      --deny-principal P     User:NAME denied (repeatable)\n"
            "      --allow-host H         host the allow ACLs apply to "
            "(default *)\n"
            "      --deny-host H          host the deny ACLs apply to "
            "(default *)\n"
            "      --operation OP         Read, Write, Create, Delete, Alter, "
            "Describe,\n"
            "                             ClusterAction, DescribeConfigs, "
            "AlterConfigs,\n"
            "                             IdempotentWrite or All (default: "
            "All to add, any to\n"
            "                             remove); repeatable\n"
            "      --producer             topics: Write, Describe, Create; "
            "transactional ids:\n"
            "                             Write, Describe\n"
            "      --idempotent           with --producer: IdempotentWrite on "
            "the cluster\n"
            "      --consumer             topics: Read, Describe; groups: "
            "Read\n"
            "      --principal P          list: only the ACLs of P\n"
            "Common:\n"
            "  -b, --bootstrap-server HOST:PORT  a collector (default "
            "$TRIBUTARY_BOOTSTRAP or 127.0.0.1:9092)\n"
            "      --json             list as JSON\n"
            "      --timeout MS       per request (default 10000)\n"
            "      --force            accepted for kafka-acls' sake (no "
            "prompt is ever shown)\n");
    tr_cli_security_usage(out);
    fprintf(out, "\nSee tributary-acls(1).\n");
}

/* ---- encoding and decoding ---- */

static void
put_binding(struct tr_buf *b, int16_t version, const struct binding *x)
{
    int flex = version >= 2;

    tr_buf_put_i8(b, x->type);                     /* ResourceType */
    tr_proto_put_cstring_v(b, flex, x->name);      /* ResourceName */
    tr_buf_put_i8(b, x->pattern);                  /* PatternType */
    tr_proto_put_cstring_v(b, flex, x->principal); /* Principal */
    tr_proto_put_cstring_v(b, flex, x->host);      /* Host */
    tr_buf_put_i8(b, x->op);                       /* Operation */
    tr_buf_put_i8(b, x->perm);                     /* PermissionType */
    tr_proto_put_tags_v(b, flex);
}

struct list_arg {
    const struct binding *b;
    int n;
};

static tr_err_t
describe_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct list_arg *x = arg;

    /* One filter; in v2 its tagged fields are the request's. */
    put_binding(b, version, x->b);
    return TR_OK;
}

static tr_err_t
array_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct list_arg *x = arg;
    int i;

    tr_proto_put_array_len_v(b, version >= 2, x->n);
    for (i = 0; i < x->n; i++) {
        put_binding(b, version, &x->b[i]);
    }
    tr_proto_put_tags_v(b, version >= 2);
    return TR_OK;
}

/* A binding read from an answer; strings borrowed from the response. */
struct got {
    int8_t type, pattern, op, perm;
    struct tr_str name, principal, host;
};

static void
print_got(const struct got *g, int json, int *first)
{
    if (json) {
        printf("%s{\"resourceType\":\"%s\",\"name\":\"%.*s\","
               "\"patternType\":\"%s\",\"principal\":\"%.*s\",\"host\":"
               "\"%.*s\",\"operation\":\"%s\",\"permissionType\":\"%s\"}",
               *first ? "" : ",", tr_acl_resource_name(g->type),
               (int)g->name.len, g->name.ptr, tr_acl_pattern_name(g->pattern),
               (int)g->principal.len, g->principal.ptr, (int)g->host.len,
               g->host.ptr, tr_acl_op_name(g->op), tr_acl_perm_name(g->perm));
        *first = 0;
        return;
    }
    printf("\t(principal=%.*s, host=%.*s, operation=%s, permissionType=%s)\n",
           (int)g->principal.len, g->principal.ptr, (int)g->host.len,
           g->host.ptr, tr_acl_op_name(g->op), tr_acl_perm_name(g->perm));
}

static void
print_resource(int8_t type, const struct tr_str *name, int8_t pattern)
{
    printf("Current ACLs for resource `ResourcePattern(resourceType=%s, "
           "name=%.*s, patternType=%s)`:\n",
           tr_acl_resource_name(type), (int)name->len, name->ptr,
           tr_acl_pattern_name(pattern));
}

/* Strings in JSON must not break the output: refuse odd ones. */
static int
printable(const struct tr_str *s)
{
    int32_t i;

    for (i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
            return 0;
        }
    }
    return s->len >= 0;
}

static int
report_kerr(int16_t kerr, const struct tr_str *msg)
{
    if (kerr == TR_KERR_SECURITY_DISABLED) {
        tr_cli_error(CMD,
                     "%s: the collector has no authorizer (set "
                     "authorizer.class.name)",
                     tr_admin_kerr_name(kerr));
        return TR_EXIT_FAIL;
    }
    tr_cli_error(CMD, "%s%s%.*s", tr_admin_kerr_name(kerr),
                 msg != NULL && msg->len > 0 ? ": " : "",
                 msg != NULL && msg->len > 0 ? (int)msg->len : 0,
                 msg != NULL && msg->len > 0 ? msg->ptr : "");
    return tr_cli_exit_for_kerr(kerr);
}

/*
 * Sends one ACL request (v1-2) and reads the answer's ThrottleTimeMs.
 * Returns 0 with *resp (owned: tr_buf_cleanup) and 's' on the rest, *flex
 * set for v2; or an exit code, reported.
 */
static int
call(struct tr_admin *a, int16_t api, tr_admin_encode_cb *enc, void *arg,
     struct tr_buf *resp, struct tr_slice *s, int *flex)
{
    char errbuf[512];
    int16_t version;
    int32_t throttle;

    if (tr_admin_call(a, -1, api, 1, 2, enc, arg, resp, &version, errbuf,
                      sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    *flex = version >= 2;
    tr_slice_init(s, tr_buf_data(resp), tr_buf_len(resp));
    if (tr_slice_get_i32(s, &throttle) != TR_OK) {
        tr_buf_cleanup(resp);
        tr_cli_error(CMD, "malformed %s answer", tr_proto_api_name(api));
        return TR_EXIT_FAIL;
    }
    return 0;
}

/* ---- list ---- */

static int
describe_one(struct tr_admin *a, const struct aopts *o, const struct binding *f,
             int *first)
{
    struct list_arg x = { f, 1 };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg;
    int16_t kerr;
    int32_t nres, r, nacl, k;
    int flex, rc;

    rc = call(a, TR_API_DESCRIBE_ACLS, describe_encode, &x, &resp, &s, &flex);
    if (rc != 0) {
        return rc;
    }
    if (tr_slice_get_i16(&s, &kerr) != TR_OK ||
        tr_proto_get_string_v(&s, flex, &msg) != TR_OK ||
        tr_proto_get_array_len_v(&s, flex, &nres, 4, 1 << 20) != TR_OK) {
        goto bad;
    }
    if (kerr != TR_KERR_NONE) {
        rc = report_kerr(kerr, &msg);
        goto out;
    }
    for (r = 0; r < nres; r++) {
        struct got g;

        memset(&g, 0, sizeof(g));
        if (tr_slice_get_i8(&s, &g.type) != TR_OK ||
            tr_proto_get_string_v(&s, flex, &g.name) != TR_OK ||
            tr_slice_get_i8(&s, &g.pattern) != TR_OK ||
            tr_proto_get_array_len_v(&s, flex, &nacl, 4, 1 << 20) != TR_OK ||
            !printable(&g.name)) {
            goto bad;
        }
        if (!o->common.json) {
            print_resource(g.type, &g.name, g.pattern);
        }
        for (k = 0; k < nacl; k++) {
            if (tr_proto_get_string_v(&s, flex, &g.principal) != TR_OK ||
                tr_proto_get_string_v(&s, flex, &g.host) != TR_OK ||
                tr_slice_get_i8(&s, &g.op) != TR_OK ||
                tr_slice_get_i8(&s, &g.perm) != TR_OK ||
                (flex && tr_proto_skip_tags(&s) != TR_OK) ||
                !printable(&g.principal) || !printable(&g.host)) {
                goto bad;
            }
            print_got(&g, o->common.json, first);
        }
        if (flex && tr_proto_skip_tags(&s) != TR_OK) {
            goto bad;
        }
        if (!o->common.json) {
            printf("\n");
        }
    }
out:
    tr_buf_cleanup(&resp);
    return rc;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed DescribeAcls answer");
    return TR_EXIT_FAIL;
}

static int
cmd_list(struct tr_admin *a, const struct aopts *o)
{
    struct binding f;
    int i, rc = TR_EXIT_OK, r, first = 1;

    if (o->common.json) {
        printf("[");
    }
    for (i = 0; i < (o->nres > 0 ? o->nres : 1); i++) {
        memset(&f, 0, sizeof(f));
        f.type = o->nres > 0 ? o->res[i].type : TR_ACL_RES_ANY;
        f.name = o->nres > 0 ? o->res[i].name : NULL;
        f.pattern = (int8_t)(o->pattern != 0 ? o->pattern : TR_ACL_PAT_ANY);
        f.principal = o->principal;
        f.op = TR_ACL_OP_ANY;
        f.perm = TR_ACL_PERM_ANY;
        r = describe_one(a, o, &f, &first);
        if (r != TR_EXIT_OK) {
            rc = r;
        }
    }
    if (o->common.json) {
        printf("]\n");
    }
    return rc;
}

/* ---- add, remove ---- */

/* The operations each resource gets with --producer / --consumer. */
static int
convenience_ops(const struct aopts *o, int8_t type, int8_t *ops)
{
    int n = 0;

    if (o->producer && type == TR_ACL_TOPIC) {
        ops[n++] = TR_ACL_OP_WRITE;
        ops[n++] = TR_ACL_OP_DESCRIBE;
        ops[n++] = TR_ACL_OP_CREATE;
    }
    if (o->producer && type == TR_ACL_TRANSACTIONAL_ID) {
        ops[n++] = TR_ACL_OP_WRITE;
        ops[n++] = TR_ACL_OP_DESCRIBE;
    }
    if (o->producer && o->idempotent && type == TR_ACL_CLUSTER) {
        ops[n++] = TR_ACL_OP_IDEMPOTENT_WRITE;
    }
    if (o->consumer && type == TR_ACL_TOPIC) {
        ops[n++] = TR_ACL_OP_READ;
        ops[n++] = TR_ACL_OP_DESCRIBE;
    }
    if (o->consumer && type == TR_ACL_GROUP) {
        ops[n++] = TR_ACL_OP_READ;
    }
    return n;
}

/* Appends a binding to (*list, *n), growing it. */
static int
push(struct binding **list, int *n, size_t *cap, const struct binding *b)
{
    if (tr_array_reserve(list, cap, (size_t)*n + 1, sizeof(**list)) != TR_OK) {
        return -1;
    }
    (*list)[(*n)++] = *b;
    return 0;
}

/*
 * The bindings (add) or filters (remove) the options describe: every
 * resource x principal x host x operation.
 */
static int
build(const struct aopts *o, int remove, struct binding **out, int *n)
{
    struct binding b;
    size_t cap = 0;
    int r, side, p, h, k, nops;
    int8_t ops[MAX_VALUES + 8];

    *out = NULL;
    *n = 0;
    for (r = 0; r < o->nres; r++) {
        const struct resource *res = &o->res[r];

        memset(&b, 0, sizeof(b));
        b.type = res->type;
        b.name = res->name;
        b.pattern = (int8_t)(o->pattern != 0 ? o->pattern : TR_ACL_PAT_LITERAL);
        if (o->producer || o->consumer) {
            nops = convenience_ops(o, res->type, ops);
        } else if (o->nops > 0) {
            nops = o->nops;
            memcpy(ops, o->ops, (size_t)nops);
        } else {
            nops = 1;
            ops[0] = remove ? TR_ACL_OP_ANY : TR_ACL_OP_ALL;
        }
        if (remove && o->nallow + o->ndeny == 0) {
            /* No principal: every ACL of the resource. */
            b.op = TR_ACL_OP_ANY;
            b.perm = TR_ACL_PERM_ANY;
            if (push(out, n, &cap, &b) != 0) {
                return -1;
            }
            continue;
        }
        for (side = 0; side < 2; side++) {
            const char *const *principals =
                side == 0 ? o->allow_principals : o->deny_principals;
            const char *const *hosts =
                side == 0 ? o->allow_hosts : o->deny_hosts;
            int np = side == 0 ? o->nallow : o->ndeny;
            int nh = side == 0 ? o->nallow_hosts : o->ndeny_hosts;

            for (p = 0; p < np; p++) {
                for (h = 0; h < (nh > 0 ? nh : 1); h++) {
                    for (k = 0; k < nops; k++) {
                        b.principal = principals[p];
                        b.host = nh > 0 ? hosts[h] : remove ? NULL : "*";
                        b.op = ops[k];
                        b.perm =
                            side == 0 ? TR_ACL_PERM_ALLOW : TR_ACL_PERM_DENY;
                        if (push(out, n, &cap, &b) != 0) {
                            return -1;
                        }
                    }
                }
            }
        }
    }
    return 0;
}

static void
print_binding(const char *what, const struct binding *b)
{
    printf("%s ACL for resource `ResourcePattern(resourceType=%s, name=%s, "
           "patternType=%s)`: (principal=%s, host=%s, operation=%s, "
           "permissionType=%s)\n",
           what, tr_acl_resource_name(b->type), b->name,
           tr_acl_pattern_name(b->pattern), b->principal ? b->principal : "*",
           b->host ? b->host : "*", tr_acl_op_name(b->op),
           tr_acl_perm_name(b->perm));
}

static int
cmd_add(struct tr_admin *a, const struct binding *list, int n)
{
    struct list_arg x = { list, n };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg;
    int16_t kerr;
    int32_t nresults, i;
    int rc, failed = 0, flex;

    rc = call(a, TR_API_CREATE_ACLS, array_encode, &x, &resp, &s, &flex);
    if (rc != 0) {
        return rc;
    }
    if (tr_proto_get_array_len_v(&s, flex, &nresults, 3, 1 << 20) != TR_OK ||
        nresults != n) {
        goto bad;
    }
    for (i = 0; i < nresults; i++) {
        if (tr_slice_get_i16(&s, &kerr) != TR_OK ||
            tr_proto_get_string_v(&s, flex, &msg) != TR_OK ||
            (flex && tr_proto_skip_tags(&s) != TR_OK)) {
            goto bad;
        }
        if (kerr != TR_KERR_NONE) {
            rc = report_kerr(kerr, &msg);
            failed++;
        } else {
            print_binding("Added", &list[i]);
        }
    }
    tr_buf_cleanup(&resp);
    return failed > 0 && failed < n ? TR_EXIT_PARTIAL : rc;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed CreateAcls answer");
    return TR_EXIT_FAIL;
}

static int
cmd_remove(struct tr_admin *a, const struct binding *list, int n)
{
    struct list_arg x = { list, n };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg, mmsg;
    int16_t kerr, mkerr;
    int32_t nresults, i, nmatch, k;
    int rc, flex, removed = 0, first = 1;

    rc = call(a, TR_API_DELETE_ACLS, array_encode, &x, &resp, &s, &flex);
    if (rc != 0) {
        return rc;
    }
    if (tr_proto_get_array_len_v(&s, flex, &nresults, 4, 1 << 20) != TR_OK ||
        nresults != n) {
        goto bad;
    }
    for (i = 0; i < nresults; i++) {
        if (tr_slice_get_i16(&s, &kerr) != TR_OK ||
            tr_proto_get_string_v(&s, flex, &msg) != TR_OK ||
            tr_proto_get_array_len_v(&s, flex, &nmatch, 4, 1 << 20) != TR_OK) {
            goto bad;
        }
        if (kerr != TR_KERR_NONE) {
            rc = report_kerr(kerr, &msg);
        }
        for (k = 0; k < nmatch; k++) {
            struct got g;

            memset(&g, 0, sizeof(g));
            if (tr_slice_get_i16(&s, &mkerr) != TR_OK ||
                tr_proto_get_string_v(&s, flex, &mmsg) != TR_OK ||
                tr_slice_get_i8(&s, &g.type) != TR_OK ||
                tr_proto_get_string_v(&s, flex, &g.name) != TR_OK ||
                tr_slice_get_i8(&s, &g.pattern) != TR_OK ||
                tr_proto_get_string_v(&s, flex, &g.principal) != TR_OK ||
                tr_proto_get_string_v(&s, flex, &g.host) != TR_OK ||
                tr_slice_get_i8(&s, &g.op) != TR_OK ||
                tr_slice_get_i8(&s, &g.perm) != TR_OK ||
                (flex && tr_proto_skip_tags(&s) != TR_OK) ||
                !printable(&g.name) || !printable(&g.principal) ||
                !printable(&g.host)) {
                goto bad;
            }
            if (mkerr != TR_KERR_NONE) {
                rc = report_kerr(mkerr, &mmsg);
                continue;
            }
            printf("Removed ACL for resource `ResourcePattern(resourceType=%s, "
                   "name=%.*s, patternType=%s)`: ",
                   tr_acl_resource_name(g.type), (int)g.name.len, g.name.ptr,
                   tr_acl_pattern_name(g.pattern));
            print_got(&g, 0, &first);
            removed++;
        }
        if (flex && tr_proto_skip_tags(&s) != TR_OK) {
            goto bad;
        }
    }
    if (rc == TR_EXIT_OK && removed == 0) {
        printf("No ACL matched; nothing removed\n");
    }
    tr_buf_cleanup(&resp);
    return rc;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed DeleteAcls answer");
    return TR_EXIT_FAIL;
}

/* ---- options ---- */

enum {
    OPT_TOPIC = 0x2001,
    OPT_GROUP,
    OPT_CLUSTER,
    OPT_TXN,
    OPT_PATTERN,
    OPT_ALLOW_PRINCIPAL,
    OPT_DENY_PRINCIPAL,
    OPT_ALLOW_HOST,
    OPT_DENY_HOST,
    OPT_OPERATION,
    OPT_PRODUCER,
    OPT_CONSUMER,
    OPT_IDEMPOTENT,
    OPT_PRINCIPAL,
    OPT_FORCE,
};

/* Adds 'v' to a repeatable option's list; -1 when full. */
static int
add_value(const char **list, int *n, const char *v)
{
    if (*n >= MAX_VALUES) {
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

static int
add_resource(struct aopts *o, int8_t type, const char *name)
{
    if (o->nres >= (int)(sizeof(o->res) / sizeof(o->res[0]))) {
        return -1;
    }
    o->res[o->nres].type = type;
    o->res[o->nres].name = name;
    o->nres++;
    return 0;
}

/* Applies one option; returns 0, or an exit code for a bad one. */
static int
take_option(struct aopts *o, int ch, const char *arg)
{
    int v, full = 0;

    switch (ch) {
    case OPT_TOPIC:
        full = add_resource(o, TR_ACL_TOPIC, arg);
        break;
    case OPT_GROUP:
        full = add_resource(o, TR_ACL_GROUP, arg);
        break;
    case OPT_TXN:
        full = add_resource(o, TR_ACL_TRANSACTIONAL_ID, arg);
        break;
    case OPT_CLUSTER:
        full = add_resource(o, TR_ACL_CLUSTER, "kafka-cluster");
        break;
    case OPT_PATTERN:
        v = tr_acl_pattern_parse(arg);
        if (v < TR_ACL_PAT_ANY) {
            tr_cli_error(CMD,
                         "bad --resource-pattern-type '%s' (literal, "
                         "prefixed, match or any)",
                         arg);
            return TR_EXIT_USAGE;
        }
        o->pattern = v;
        break;
    case OPT_ALLOW_PRINCIPAL:
    case OPT_DENY_PRINCIPAL:
    case OPT_PRINCIPAL:
        if (strchr(arg, ':') == NULL || arg[0] == ':') {
            tr_cli_error(CMD, "bad principal '%s' (TYPE:NAME, e.g. User:alice)",
                         arg);
            return TR_EXIT_USAGE;
        }
        if (ch == OPT_PRINCIPAL) {
            o->principal = arg;
        } else if (ch == OPT_ALLOW_PRINCIPAL) {
            full = add_value(o->allow_principals, &o->nallow, arg);
        } else {
            full = add_value(o->deny_principals, &o->ndeny, arg);
        }
        break;
    case OPT_ALLOW_HOST:
        full = add_value(o->allow_hosts, &o->nallow_hosts, arg);
        break;
    case OPT_DENY_HOST:
        full = add_value(o->deny_hosts, &o->ndeny_hosts, arg);
        break;
    case OPT_OPERATION:
        v = tr_acl_op_parse(arg);
        if (v < TR_ACL_OP_ALL) {
            tr_cli_error(CMD,
                         "bad --operation '%s' (Read, Write, Create, Delete, "
                         "Alter, Describe, ClusterAction, DescribeConfigs, "
                         "AlterConfigs, IdempotentWrite, All)",
                         arg);
            return TR_EXIT_USAGE;
        }
        if (o->nops >= MAX_VALUES) {
            full = -1;
        } else {
            o->ops[o->nops++] = (int8_t)v;
        }
        break;
    case OPT_PRODUCER:
        o->producer = 1;
        break;
    case OPT_CONSUMER:
        o->consumer = 1;
        break;
    case OPT_IDEMPOTENT:
        o->idempotent = 1;
        break;
    case OPT_FORCE:
        break;
    default:
        usage(stderr);
        return TR_EXIT_USAGE;
    }
    if (full) {
        tr_cli_error(CMD, "too many values (at most %d of each option)",
                     MAX_VALUES);
        return TR_EXIT_USAGE;
    }
    return 0;
}

/* kafka-acls' rules for the convenience options and for add. */
static int
check_options(struct aopts *o, const char *sub)
{
    int i, topics = 0, groups = 0;

    for (i = 0; i < o->nres; i++) {
        topics += o->res[i].type == TR_ACL_TOPIC;
        groups += o->res[i].type == TR_ACL_GROUP;
    }
    if ((o->producer || o->consumer) && o->nops > 0) {
        tr_cli_error(CMD, "--producer and --consumer set the operations; "
                          "leave out --operation");
        return TR_EXIT_USAGE;
    }
    if (o->producer && topics == 0) {
        tr_cli_error(CMD, "--producer needs --topic");
        return TR_EXIT_USAGE;
    }
    if (o->consumer && (topics == 0 || groups == 0)) {
        tr_cli_error(CMD, "--consumer needs --topic and --group");
        return TR_EXIT_USAGE;
    }
    if (o->idempotent && !o->producer) {
        tr_cli_error(CMD, "--idempotent goes with --producer");
        return TR_EXIT_USAGE;
    }
    if (o->producer && o->idempotent &&
        add_resource(o, TR_ACL_CLUSTER, "kafka-cluster") != 0) {
        return TR_EXIT_USAGE;
    }
    if (strcmp(sub, "list") == 0) {
        return 0;
    }
    if (o->nres == 0) {
        tr_cli_error(CMD,
                     "%s needs a resource: --topic, --group, "
                     "--transactional-id or --cluster",
                     sub);
        return TR_EXIT_USAGE;
    }
    if (strcmp(sub, "add") == 0) {
        if (o->nallow + o->ndeny == 0) {
            tr_cli_error(CMD, "add needs --allow-principal or "
                              "--deny-principal");
            return TR_EXIT_USAGE;
        }
        if (o->pattern != 0 && o->pattern != TR_ACL_PAT_LITERAL &&
            o->pattern != TR_ACL_PAT_PREFIXED) {
            tr_cli_error(CMD, "add takes --resource-pattern-type literal or "
                              "prefixed");
            return TR_EXIT_USAGE;
        }
    }
    return 0;
}

int
tr_cmd_acls(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "topic", required_argument, NULL, OPT_TOPIC },
        { "group", required_argument, NULL, OPT_GROUP },
        { "cluster", no_argument, NULL, OPT_CLUSTER },
        { "transactional-id", required_argument, NULL, OPT_TXN },
        { "resource-pattern-type", required_argument, NULL, OPT_PATTERN },
        { "allow-principal", required_argument, NULL, OPT_ALLOW_PRINCIPAL },
        { "deny-principal", required_argument, NULL, OPT_DENY_PRINCIPAL },
        { "allow-host", required_argument, NULL, OPT_ALLOW_HOST },
        { "deny-host", required_argument, NULL, OPT_DENY_HOST },
        { "operation", required_argument, NULL, OPT_OPERATION },
        { "producer", no_argument, NULL, OPT_PRODUCER },
        { "consumer", no_argument, NULL, OPT_CONSUMER },
        { "idempotent", no_argument, NULL, OPT_IDEMPOTENT },
        { "principal", required_argument, NULL, OPT_PRINCIPAL },
        { "force", no_argument, NULL, OPT_FORCE },
        { NULL, 0, NULL, 0 },
    };
    struct aopts *o = NULL;
    struct binding *list = NULL;
    struct tr_admin *a = NULL;
    const char *sub;
    int ch, r, n = 0, rc = TR_EXIT_USAGE;

    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    o = tr_calloc(1, sizeof(*o));
    if (o == NULL) {
        return TR_EXIT_FAIL;
    }
    tr_cli_common_init(&o->common, CMD);
    while ((ch = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &o->common)) != 0) {
            if (r < 0) {
                goto out;
            }
            continue;
        }
        if (ch == 'h') {
            usage(stdout);
            rc = TR_EXIT_OK;
            goto out;
        }
        if ((rc = take_option(o, ch, optarg)) != 0) {
            goto out;
        }
        rc = TR_EXIT_USAGE;
    }
    if (optind < argc) {
        tr_cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
        strcmp(sub, "remove") != 0) {
        tr_cli_error(CMD, "unknown subcommand '%s' (list, add, remove)", sub);
        goto out;
    }
    if ((rc = check_options(o, sub)) != 0) {
        goto out;
    }
    rc = TR_EXIT_FAIL;
    if (strcmp(sub, "list") != 0 &&
        build(o, strcmp(sub, "remove") == 0, &list, &n) != 0) {
        goto out;
    }
    a = tr_cli_admin(CMD, &o->common, &rc);
    if (a == NULL) {
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(a, o);
    } else if (strcmp(sub, "add") == 0) {
        rc = cmd_add(a, list, n);
    } else {
        rc = cmd_remove(a, list, n);
    }
out:
    if (o != NULL) {
        tr_cli_common_cleanup(&o->common);
    }
    tr_admin_free(a);
    tr_free(list);
    tr_free(o);
    return rc;
}
