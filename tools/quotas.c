/*
 * quotas -- "tributary quotas": client quotas of the collector, through
 * Kafka's DescribeClientQuotas and AlterClientQuotas (the requests
 * kafka-configs --entity-type users/clients sends).
 *
 *   tributary quotas list [--user U] [--client-id C]
 *   tributary quotas set (--user U | --client-id C)... KEY=VALUE...
 *   tributary quotas delete (--user U | --client-id C)... [KEY...]
 *
 * --default-user and --default-client-id name Kafka's <default> entities
 * (so does the value "<default>"). Keys: producer_byte_rate,
 * consumer_byte_rate, request_percentage, controller_mutation_rate.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "proto.h"

#define CMD "quotas"

/* The four quota keys, in Kafka's spelling. */
static const char *const keys[] = {
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct qopts {
    struct tr_cli_common common;
    const char *user, *client_id; /* NULL: not given */
    int user_default, client_default;
};

static void
usage(FILE *out)
{
    fprintf(out, "Usage: tributary quotas list [-b B] [--json] [ENTITY]\n"
                 "       tributary quotas set -b B ENTITY KEY=VALUE...\n"
                 "       tributary quotas delete -b B ENTITY [KEY...]\n"
                 "\n"
                 "Client quotas of the collector (DescribeClientQuotas, "
                 "AlterClientQuotas).\n"
                 "ENTITY is --user U and/or --client-id C; --default-user and\n"
                 "--default-client-id (or the name <default>) mean Kafka's "
                 "defaults.\n"
                 "KEY is producer_byte_rate or consumer_byte_rate (bytes/s), "
                 "request_percentage\n"
                 "(percent of one network thread), controller_mutation_rate "
                 "(stored only).\n"
                 "delete without KEY removes all of the entity's quotas.\n"
                 "\n"
                 "Options:\n"
                 "  -b, --bootstrap-server HOST:PORT  a collector (default "
                 "$TRIBUTARY_BOOTSTRAP or 127.0.0.1:9092)\n"
                 "  -u, --user U           the user (principal name: alice for "
                 "User:alice)\n"
                 "  -c, --client-id C      the client id\n"
                 "      --default-user     users/<default>\n"
                 "      --default-client-id  clients/<default>\n"
                 "      --json             list as JSON\n"
                 "      --timeout MS       per request (default 10000)\n");
    tr_cli_security_usage(out);
    fprintf(out, "\nSee docs/security.md, \"Quotas and limits\".\n");
}

static int
key_known(const char *k, size_t len)
{
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        if (strlen(keys[i]) == len && memcmp(keys[i], k, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
has_entity(const struct qopts *o)
{
    return o->user != NULL || o->user_default || o->client_id != NULL ||
           o->client_default;
}

/* The entity's components (user, then client-id), as both APIs write. */
static void
put_entity(struct tr_buf *b, int flex, const struct qopts *o)
{
    tr_proto_put_quota_entity(b, flex, o->user, o->user_default, o->client_id,
                              o->client_default);
}

static void
put_f64(struct tr_buf *b, double v)
{
    int64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    tr_buf_put_i64(b, bits);
}

/* ---- list ---- */

static void
put_component(struct tr_buf *b, int flex, const char *type, const char *name,
              int is_default)
{
    tr_proto_put_cstring_v(b, flex, type);
    tr_buf_put_i8(b, is_default ? 1 : 0); /* MatchType: exact, default */
    tr_proto_put_cstring_v(b, flex, is_default ? NULL : name);
    tr_proto_put_tags_v(b, flex);
}

static tr_err_t
describe_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct qopts *o = arg;
    int flex = version >= 1;
    int n = (o->user != NULL || o->user_default) +
            (o->client_id != NULL || o->client_default);

    tr_proto_put_array_len_v(b, flex, n); /* Components */
    if (o->user != NULL || o->user_default) {
        put_component(b, flex, "user", o->user, o->user_default);
    }
    if (o->client_id != NULL || o->client_default) {
        put_component(b, flex, "client-id", o->client_id, o->client_default);
    }
    tr_proto_put_bool(b, 0); /* Strict: entities naming more match too */
    tr_proto_put_tags_v(b, flex);
    return TR_OK;
}

/* Prints one entity ("user=alice,client-id=app") or its JSON members. */
static tr_err_t
print_entity(struct tr_slice *s, int flex, int json)
{
    struct tr_str type, name;
    int32_t n, i;

    if (tr_proto_get_array_len_v(s, flex, &n, 2, 8) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(s, flex, &type) != TR_OK ||
            tr_proto_get_string_v(s, flex, &name) != TR_OK ||
            (flex && tr_proto_skip_tags(s) != TR_OK) || type.len < 0) {
            return TR_ERR_CORRUPT;
        }
        if (json) {
            tr_cli_json_string(type.ptr, (size_t)type.len);
            putchar(':');
            if (name.len < 0) {
                printf("\"<default>\",");
            } else {
                tr_cli_json_string(name.ptr, (size_t)name.len);
                putchar(',');
            }
        } else {
            printf("%s%.*s=%.*s", i > 0 ? "," : "", (int)type.len, type.ptr,
                   name.len < 0 ? 9 : (int)name.len,
                   name.len < 0 ? "<default>" : name.ptr);
        }
    }
    return TR_OK;
}

static int
cmd_list(struct tr_admin *a, const struct qopts *o)
{
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg, key;
    int16_t version, kerr;
    int32_t throttle, n, i, nv, k;
    int64_t bits;
    double v;
    char errbuf[512];
    int flex, json = o->common.json;
    tr_err_t err;

    err = tr_admin_call(a, -1, TR_API_DESCRIBE_CLIENT_QUOTAS, 0, 1,
                        describe_encode, (void *)o, &resp, &version, errbuf,
                        sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    flex = version >= 1;
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_slice_get_i16(&s, &kerr) != TR_OK ||
        tr_proto_get_string_v(&s, flex, &msg) != TR_OK ||
        tr_proto_get_array_len_v(&s, flex, &n, 2, 1 << 20) != TR_OK) {
        goto bad;
    }
    if (kerr != TR_KERR_NONE) {
        tr_cli_error(CMD, "%s%s%.*s", tr_admin_kerr_name(kerr),
                     msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0,
                     msg.len > 0 ? msg.ptr : "");
        tr_buf_cleanup(&resp);
        return tr_cli_exit_for_kerr(kerr);
    }
    if (json) {
        printf("[");
    } else {
        printf("%-48s %-26s %s\n", "ENTITY", "KEY", "VALUE");
    }
    for (i = 0; i < n; i++) {
        struct tr_slice entity = s;

        if (json) {
            printf("%s{", i > 0 ? "," : "");
            if (print_entity(&s, flex, 1) != TR_OK) {
                goto bad;
            }
        } else if (print_entity(&s, flex, 0) != TR_OK) {
            goto bad;
        }
        if (tr_proto_get_array_len_v(&s, flex, &nv, 9, 64) != TR_OK) {
            goto bad;
        }
        for (k = 0; k < nv; k++) {
            if (tr_proto_get_string_v(&s, flex, &key) != TR_OK ||
                tr_slice_get_i64(&s, &bits) != TR_OK ||
                (flex && tr_proto_skip_tags(&s) != TR_OK) || key.len < 0) {
                goto bad;
            }
            memcpy(&v, &bits, sizeof(v));
            if (json) {
                printf("%s\"%.*s\":%.17g", k > 0 ? "," : "\"quotas\":{",
                       (int)key.len, key.ptr, v);
            } else {
                if (k > 0) {
                    /* Later values of the entity: print its name again. */
                    struct tr_slice again = entity;
                    printf("\n");
                    (void)print_entity(&again, flex, 0);
                }
                printf("\t%-26.*s %.17g", (int)key.len, key.ptr, v);
            }
        }
        if (flex && tr_proto_skip_tags(&s) != TR_OK) {
            goto bad;
        }
        printf(json ? "%s}" : "\n", nv > 0 ? "}" : "\"quotas\":{}");
    }
    if (json) {
        printf("]\n");
    }
    tr_buf_cleanup(&resp);
    return n == 0 && has_entity(o) ? TR_EXIT_NOT_FOUND : TR_EXIT_OK;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed DescribeClientQuotas answer");
    return TR_EXIT_FAIL;
}

/* ---- set, delete ---- */

struct alter_arg {
    const struct qopts *o;
    char **ops; /* KEY=VALUE or KEY */
    int nops;
    int remove;
};

static tr_err_t
alter_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct alter_arg *x = arg;
    int flex = version >= 1, i;

    tr_proto_put_array_len_v(b, flex, 1); /* Entries */
    put_entity(b, flex, x->o);
    tr_proto_put_array_len_v(b, flex, x->nops); /* Ops */
    for (i = 0; i < x->nops; i++) {
        const char *eq = strchr(x->ops[i], '=');
        size_t klen = eq != NULL ? (size_t)(eq - x->ops[i]) : strlen(x->ops[i]);

        tr_proto_put_string_v(b, flex, x->ops[i], (int32_t)klen);
        put_f64(b, eq != NULL ? strtod(eq + 1, NULL) : 0);
        tr_proto_put_bool(b, x->remove);
        tr_proto_put_tags_v(b, flex);
    }
    tr_proto_put_tags_v(b, flex);
    tr_proto_put_bool(b, 0); /* ValidateOnly */
    tr_proto_put_tags_v(b, flex);
    return TR_OK;
}

/* Checks the KEY=VALUE (set) or KEY (delete) arguments. */
static int
check_ops(char **ops, int n, int remove)
{
    int i;

    for (i = 0; i < n; i++) {
        const char *eq = strchr(ops[i], '=');
        size_t klen = eq != NULL ? (size_t)(eq - ops[i]) : strlen(ops[i]);
        char *end;
        double v;

        if (!key_known(ops[i], klen)) {
            tr_cli_error(CMD,
                         "unknown key '%.*s' (producer_byte_rate, "
                         "consumer_byte_rate, request_percentage, "
                         "controller_mutation_rate)",
                         (int)klen, ops[i]);
            return -1;
        }
        if (remove && eq != NULL) {
            tr_cli_error(CMD, "delete takes keys without values");
            return -1;
        }
        if (remove) {
            continue;
        }
        v = eq != NULL ? strtod(eq + 1, &end) : 0;
        if (eq == NULL || end == eq + 1 || *end != '\0' || !(v > 0)) {
            tr_cli_error(CMD, "'%s' is not KEY=VALUE with a positive VALUE",
                         ops[i]);
            return -1;
        }
    }
    return 0;
}

static int
cmd_alter(struct tr_admin *a, const struct qopts *o, char **ops, int nops,
          int remove)
{
    struct alter_arg x = { o, ops, nops, remove };
    char *all[NKEYS];
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg;
    char errbuf[512];
    int16_t version, kerr;
    int32_t throttle, n;
    int flex, rc = TR_EXIT_FAIL;
    size_t i;
    tr_err_t err;

    if (remove && nops == 0) {
        for (i = 0; i < NKEYS; i++) {
            all[i] = (char *)keys[i];
        }
        x.ops = all;
        x.nops = (int)NKEYS;
    }
    err = tr_admin_call(a, -1, TR_API_ALTER_CLIENT_QUOTAS, 0, 1, alter_encode,
                        &x, &resp, &version, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    flex = version >= 1;
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_proto_get_array_len_v(&s, flex, &n, 3, 16) != TR_OK || n != 1 ||
        tr_slice_get_i16(&s, &kerr) != TR_OK ||
        tr_proto_get_string_v(&s, flex, &msg) != TR_OK) {
        tr_cli_error(CMD, "malformed AlterClientQuotas answer");
        goto out;
    }
    if (kerr != TR_KERR_NONE) {
        tr_cli_error(CMD, "%s%s%.*s", tr_admin_kerr_name(kerr),
                     msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0,
                     msg.len > 0 ? msg.ptr : "");
        rc = tr_cli_exit_for_kerr(kerr);
        goto out;
    }
    printf("%s the quotas of", remove ? "deleted" : "set");
    if (o->user != NULL || o->user_default) {
        printf(" user %s", o->user_default ? "<default>" : o->user);
    }
    if (o->client_id != NULL || o->client_default) {
        printf(" client-id %s", o->client_default ? "<default>" : o->client_id);
    }
    printf("\n");
    rc = TR_EXIT_OK;
out:
    tr_buf_cleanup(&resp);
    return rc;
}

int
tr_cmd_quotas(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "user", required_argument, NULL, 'u' },
        { "client-id", required_argument, NULL, 'c' },
        { "default-user", no_argument, NULL, 0x2001 },
        { "default-client-id", no_argument, NULL, 0x2002 },
        { NULL, 0, NULL, 0 },
    };
    struct qopts o;
    struct tr_admin *a = NULL;
    const char *sub;
    int ch, r, rc = TR_EXIT_USAGE, remove;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    while ((ch = getopt_long(argc, argv, "b:X:u:c:h", longopts, NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &o.common)) != 0) {
            if (r < 0) {
                goto out;
            }
            continue;
        }
        switch (ch) {
        case 'h':
            usage(stdout);
            rc = TR_EXIT_OK;
            goto out;
        case 'u':
            o.user = optarg;
            break;
        case 'c':
            o.client_id = optarg;
            break;
        case 0x2001:
            o.user_default = 1;
            break;
        case 0x2002:
            o.client_default = 1;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (o.user != NULL && strcmp(o.user, "<default>") == 0) {
        o.user = NULL;
        o.user_default = 1;
    }
    if (o.client_id != NULL && strcmp(o.client_id, "<default>") == 0) {
        o.client_id = NULL;
        o.client_default = 1;
    }
    if ((o.user != NULL && o.user_default) ||
        (o.client_id != NULL && o.client_default)) {
        tr_cli_error(CMD, "a name and its default together");
        goto out;
    }
    remove = strcmp(sub, "delete") == 0;
    if (strcmp(sub, "list") == 0) {
        if (argc != 0) {
            tr_cli_error(CMD, "list takes no arguments");
            goto out;
        }
    } else if (strcmp(sub, "set") == 0 || remove) {
        if (!has_entity(&o)) {
            tr_cli_error(CMD,
                         "%s needs --user, --client-id, --default-user "
                         "or --default-client-id",
                         sub);
            goto out;
        }
        if ((!remove && argc == 0) || argc > 64) {
            tr_cli_error(CMD, "set takes KEY=VALUE arguments");
            goto out;
        }
        if (check_ops(argv, argc, remove) != 0) {
            goto out;
        }
    } else {
        tr_cli_error(CMD, "unknown subcommand '%s' (list, set, delete)", sub);
        goto out;
    }
    a = tr_cli_admin(CMD, &o.common, &rc);
    if (a == NULL) {
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(a, &o);
    } else {
        rc = cmd_alter(a, &o, argv, argc, remove);
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_free(a);
    return rc;
}
