/*
 * users -- "tributary users": SASL/SCRAM users of the collector, through
 * Kafka's DescribeUserScramCredentials and AlterUserScramCredentials (the
 * same requests kafka-configs --entity-type users sends).
 *
 *   tributary users list [NAME...]
 *   tributary users set NAME [--mechanism M] [--iterations N]
 *                            [--password-file F]
 *   tributary users delete NAME [--mechanism M]
 *
 * The password never leaves this process: 'set' draws a salt, runs PBKDF2
 * here and sends the salt and SaltedPassword; the collector keeps only the
 * keys derived from them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "proto.h"
#include "scram.h"

#define CMD "users"

/* Room for a password read from a file or stdin. */
#define PASSWORD_MAX 1024

struct uopts {
    struct tr_cli_common common;
    enum tr_scram_mech mech;
    int32_t iterations;
    const char *password_file;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary users list [-b B] [--json] [NAME...]\n"
            "       tributary users set -b B NAME [--mechanism M] "
            "[--iterations N]\n"
            "                              [--password-file F]\n"
            "       tributary users delete -b B NAME [--mechanism M]\n"
            "\n"
            "SASL/SCRAM users of the collector (DescribeUserScramCredentials, "
            "AlterUserScramCredentials).\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server HOST:PORT  a collector (default "
            "$TRIBUTARY_BOOTSTRAP or 127.0.0.1:9092)\n"
            "  -m, --mechanism M      SCRAM-SHA-256 (default) or "
            "SCRAM-SHA-512\n"
            "  -i, --iterations N     PBKDF2 iterations, 4096..16384 "
            "(default 4096)\n"
            "  -p, --password-file F  read the password from the first line "
            "of F\n"
            "                         (default: the first line of stdin)\n"
            "      --json             list as JSON\n"
            "      --timeout MS       per request (default 10000)\n"
            "\n"
            "The password is salted and hashed here; only the salt and the "
            "salted\npassword are sent. See tributary-users(1).\n");
    tr_cli_security_usage(out);
}

/* ---- list ---- */

struct names_arg {
    char **names;
    int n;
};

static tr_err_t
describe_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct names_arg *x = arg;
    int i;

    (void)version;
    tr_proto_put_array_len_v(b, 1, x->n > 0 ? x->n : -1); /* Users */
    for (i = 0; i < x->n; i++) {
        tr_proto_put_cstring_v(b, 1, x->names[i]); /* Name */
        tr_proto_put_tags_v(b, 1);
    }
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

static int
cmd_list(struct tr_admin *a, const struct uopts *o, int argc, char **argv)
{
    struct names_arg x = { argv, argc };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg, user;
    int16_t version, kerr, ukerr;
    int32_t throttle, n, i, ninfo, k, iterations;
    int8_t mech;
    char errbuf[512];
    int rc = TR_EXIT_OK, first = 1;
    tr_err_t err;

    err = tr_admin_call(a, -1, TR_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0,
                        describe_encode, &x, &resp, &version, errbuf,
                        sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_slice_get_i16(&s, &kerr) != TR_OK ||
        tr_proto_get_string_v(&s, 1, &msg) != TR_OK ||
        tr_proto_get_array_len_v(&s, 1, &n, 4, 1 << 20) != TR_OK) {
        goto bad;
    }
    if (kerr != TR_KERR_NONE) {
        tr_cli_error(CMD, "%s", tr_admin_kerr_name(kerr));
        tr_buf_cleanup(&resp);
        return tr_cli_exit_for_kerr(kerr);
    }
    if (o->common.json) {
        printf("[");
    } else {
        printf("%-32s %-14s %s\n", "USER", "MECHANISM", "ITERATIONS");
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(&s, 1, &user) != TR_OK ||
            tr_slice_get_i16(&s, &ukerr) != TR_OK ||
            tr_proto_get_string_v(&s, 1, &msg) != TR_OK ||
            tr_proto_get_array_len_v(&s, 1, &ninfo, 5, 16) != TR_OK ||
            user.len < 0) {
            goto bad;
        }
        if (ukerr != TR_KERR_NONE) {
            fprintf(stderr, "tributary %s: %.*s: %s\n", CMD, (int)user.len,
                    user.ptr, tr_admin_kerr_name(ukerr));
            rc = ukerr == TR_KERR_RESOURCE_NOT_FOUND ? TR_EXIT_NOT_FOUND
                                                     : TR_EXIT_FAIL;
        }
        for (k = 0; k < ninfo; k++) {
            if (tr_slice_get_i8(&s, &mech) != TR_OK ||
                tr_slice_get_i32(&s, &iterations) != TR_OK ||
                tr_proto_skip_tags(&s) != TR_OK) {
                goto bad;
            }
            if (o->common.json) {
                printf("%s{\"user\":", first ? "" : ",");
                tr_cli_json_string(user.ptr, (size_t)user.len);
                printf(",\"mechanism\":\"%s\",\"iterations\":%d}",
                       tr_scram_mech_name((enum tr_scram_mech)mech)
                           ? tr_scram_mech_name((enum tr_scram_mech)mech)
                           : "UNKNOWN",
                       (int)iterations);
                first = 0;
            } else {
                printf("%-32.*s %-14s %d\n", (int)user.len, user.ptr,
                       tr_scram_mech_name((enum tr_scram_mech)mech)
                           ? tr_scram_mech_name((enum tr_scram_mech)mech)
                           : "UNKNOWN",
                       (int)iterations);
            }
        }
        if (tr_proto_skip_tags(&s) != TR_OK) {
            goto bad;
        }
    }
    if (o->common.json) {
        printf("]\n");
    }
    tr_buf_cleanup(&resp);
    if (n == 0 && argc > 0) {
        rc = TR_EXIT_NOT_FOUND;
    }
    return rc;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed DescribeUserScramCredentials answer");
    return TR_EXIT_FAIL;
}

/* ---- set, delete ---- */

struct alter_arg {
    const char *user;
    int8_t mech;
    int upsert;
    int32_t iterations;
    uint8_t salt[32];
    size_t salt_len;
    uint8_t salted[TR_SCRAM_MAX_KEY];
    size_t salted_len;
};

static tr_err_t
alter_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct alter_arg *x = arg;

    (void)version;
    tr_proto_put_array_len_v(b, 1, x->upsert ? 0 : 1); /* Deletions */
    if (!x->upsert) {
        tr_proto_put_cstring_v(b, 1, x->user); /* Name */
        tr_buf_put_i8(b, x->mech);             /* Mechanism */
        tr_proto_put_tags_v(b, 1);
    }
    tr_proto_put_array_len_v(b, 1, x->upsert ? 1 : 0); /* Upsertions */
    if (x->upsert) {
        tr_proto_put_cstring_v(b, 1, x->user); /* Name */
        tr_buf_put_i8(b, x->mech);             /* Mechanism */
        tr_buf_put_i32(b, x->iterations);      /* Iterations */
        tr_proto_put_bytes_v(b, 1, x->salt, (int32_t)x->salt_len);
        tr_proto_put_bytes_v(b, 1, x->salted, (int32_t)x->salted_len);
        tr_proto_put_tags_v(b, 1);
    }
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

/* Prints a warning about the password file (readable by others). */
static void
password_warn(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "tributary %s: warning: %s\n", CMD, msg);
}

/*
 * Reads the first line of 'path' (or of stdin for NULL) into 'out'. A file
 * others may read draws a warning, as for every secret file.
 */
static int
read_password(const char *path, char *out, size_t outlen)
{
    char errbuf[512];
    size_t len;

    if (path != NULL) {
        if (tr_clientsec_read_secret("--password-file", path, out, outlen,
                                     password_warn, NULL, errbuf,
                                     sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            return -1;
        }
        return 0;
    }
    if (fgets(out, (int)outlen, stdin) == NULL) {
        out[0] = '\0';
    }
    len = strlen(out);
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) {
        out[--len] = '\0';
    }
    if (len == 0) {
        tr_cli_error(CMD, "empty password");
        return -1;
    }
    return 0;
}

static int
cmd_alter(struct tr_admin *a, const struct uopts *o, const char *user,
          int upsert)
{
    struct alter_arg x;
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str name, msg;
    char password[PASSWORD_MAX], errbuf[512];
    int16_t version, kerr = TR_KERR_NONE;
    int32_t throttle, n, i;
    int rc = TR_EXIT_FAIL;
    tr_err_t err;

    memset(&x, 0, sizeof(x));
    x.user = user;
    x.mech = (int8_t)o->mech;
    x.upsert = upsert;
    x.iterations = o->iterations;
    if (upsert) {
        if (read_password(o->password_file, password, sizeof(password)) != 0) {
            return TR_EXIT_USAGE;
        }
        x.salt_len = sizeof(x.salt);
        x.salted_len = tr_scram_key_len(o->mech);
        if (RAND_bytes(x.salt, (int)x.salt_len) != 1 ||
            tr_scram_salted_password(o->mech, password, strlen(password),
                                     x.salt, x.salt_len, x.iterations,
                                     x.salted) != TR_OK) {
            OPENSSL_cleanse(password, sizeof(password));
            tr_cli_error(CMD, "cannot salt the password");
            return TR_EXIT_FAIL;
        }
        OPENSSL_cleanse(password, sizeof(password));
    }
    err = tr_admin_call(a, -1, TR_API_ALTER_USER_SCRAM_CREDENTIALS, 0, 0,
                        alter_encode, &x, &resp, &version, errbuf,
                        sizeof(errbuf));
    OPENSSL_cleanse(&x, sizeof(x));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_proto_get_array_len_v(&s, 1, &n, 3, 1 << 16) != TR_OK) {
        goto bad;
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(&s, 1, &name) != TR_OK ||
            tr_slice_get_i16(&s, &kerr) != TR_OK ||
            tr_proto_get_string_v(&s, 1, &msg) != TR_OK ||
            tr_proto_skip_tags(&s) != TR_OK) {
            goto bad;
        }
        if (kerr != TR_KERR_NONE) {
            fprintf(stderr, "tributary %s: %s: %s%s%.*s\n", CMD, user,
                    tr_admin_kerr_name(kerr), msg.len > 0 ? ": " : "",
                    msg.len > 0 ? (int)msg.len : 0, msg.len > 0 ? msg.ptr : "");
            rc = kerr == TR_KERR_RESOURCE_NOT_FOUND
                     ? TR_EXIT_NOT_FOUND
                     : tr_cli_exit_for_kerr(kerr);
            goto out;
        }
    }
    if (n != 1) {
        goto bad;
    }
    printf("%s %s credential of %s\n", upsert ? "set the" : "deleted the",
           tr_scram_mech_name(o->mech), user);
    rc = TR_EXIT_OK;
out:
    tr_buf_cleanup(&resp);
    return rc;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed AlterUserScramCredentials answer");
    return TR_EXIT_FAIL;
}

int
tr_cmd_users(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "mechanism", required_argument, NULL, 'm' },
        { "iterations", required_argument, NULL, 'i' },
        { "password-file", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    struct uopts o;
    struct tr_admin *a = NULL;
    const char *sub;
    int64_t v;
    int ch, r, rc = TR_EXIT_USAGE;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    o.mech = TR_SCRAM_SHA_256;
    o.iterations = TR_SCRAM_MIN_ITERATIONS;
    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    while ((ch = getopt_long(argc, argv, "b:X:m:i:p:h", longopts, NULL)) !=
           -1) {
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
        case 'm':
            o.mech = tr_scram_mech_parse(optarg, strlen(optarg));
            if (o.mech == TR_SCRAM_UNKNOWN) {
                tr_cli_error(CMD,
                             "bad --mechanism '%s' (SCRAM-SHA-256 or "
                             "SCRAM-SHA-512)",
                             optarg);
                goto out;
            }
            break;
        case 'i':
            if (tr_cli_parse_i64(optarg, &v) != 0 ||
                v < TR_SCRAM_MIN_ITERATIONS || v > TR_SCRAM_MAX_ITERATIONS) {
                tr_cli_error(CMD, "bad --iterations '%s' (4096..16384)",
                             optarg);
                goto out;
            }
            o.iterations = (int32_t)v;
            break;
        case 'p':
            o.password_file = optarg;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(sub, "list") != 0 && strcmp(sub, "set") != 0 &&
        strcmp(sub, "delete") != 0) {
        tr_cli_error(CMD, "unknown subcommand '%s' (list, set, delete)", sub);
        goto out;
    }
    if (strcmp(sub, "list") != 0 && argc != 1) {
        tr_cli_error(CMD, "%s takes one user NAME", sub);
        goto out;
    }
    a = tr_cli_admin(CMD, &o.common, &rc);
    if (a == NULL) {
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(a, &o, argc, argv);
    } else {
        rc = cmd_alter(a, &o, argv[0], strcmp(sub, "set") == 0);
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_free(a);
    return rc;
}
