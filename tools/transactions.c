/*
 * transactions -- "tributary transactions": the collector's transactional
 * ids, through Kafka's ListTransactions and DescribeTransactions (KIP-664,
 * the requests kafka-transactions.sh sends).
 *
 *   tributary transactions list [--state S]... [--producer-id P]...
 *   tributary transactions describe ID...
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "proto.h"
#include "table.h"

#define CMD         "transactions"
#define MAX_FILTERS 64

struct xopts {
    struct tr_cli_common common;
    const char *states[MAX_FILTERS];
    int nstates;
    int64_t pids[MAX_FILTERS];
    int npids;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary transactions list [-b B] [--json] "
            "[--state S]... [--producer-id P]...\n"
            "       tributary transactions describe [-b B] [--json] ID...\n"
            "\n"
            "Transactional ids of the collector (ListTransactions, "
            "DescribeTransactions).\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server HOST:PORT  a collector (default "
            "$TRIBUTARY_BOOTSTRAP or 127.0.0.1:9092)\n"
            "  -s, --state S          only ids in state S (Empty, Ongoing, "
            "PrepareCommit,\n"
            "                         PrepareAbort, CompleteCommit, "
            "CompleteAbort)\n"
            "  -p, --producer-id P    only ids with producer id P\n"
            "      --json             print JSON\n"
            "      --timeout MS       per request (default 10000)\n"
            "\n"
            "See docs/transactions.md and tributary-transactions(1).\n");
    tr_cli_security_usage(out);
}

/* ---- list ---- */

static tr_err_t
list_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct xopts *o = arg;
    int i;

    tr_proto_put_array_len_v(b, 1, o->nstates); /* StateFilters */
    for (i = 0; i < o->nstates; i++) {
        tr_proto_put_cstring_v(b, 1, o->states[i]);
    }
    tr_proto_put_array_len_v(b, 1, o->npids); /* ProducerIdFilters */
    for (i = 0; i < o->npids; i++) {
        tr_buf_put_i64(b, o->pids[i]);
    }
    if (version >= 1) {
        tr_buf_put_i64(b, -1); /* DurationFilter: none */
    }
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

static int
cmd_list(struct tr_admin *a, const struct xopts *o)
{
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str str, id, state;
    int16_t version, kerr;
    int32_t throttle, n, i;
    int64_t pid;
    char errbuf[512];
    tr_err_t err;

    err = tr_admin_call(a, -1, TR_API_LIST_TRANSACTIONS, 0, 1, list_encode,
                        (void *)o, &resp, &version, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_slice_get_i16(&s, &kerr) != TR_OK ||
        tr_proto_get_array_len_v(&s, 1, &n, 1, 1 << 16) != TR_OK) {
        goto bad;
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(&s, 1, &str) != TR_OK) {
            goto bad;
        }
        fprintf(stderr, "tributary %s: unknown state '%.*s'\n", CMD,
                str.len > 0 ? (int)str.len : 0, str.len > 0 ? str.ptr : "");
    }
    if (kerr != TR_KERR_NONE) {
        tr_cli_error(CMD, "%s", tr_admin_kerr_name(kerr));
        tr_buf_cleanup(&resp);
        return tr_cli_exit_for_kerr(kerr);
    }
    if (tr_proto_get_array_len_v(&s, 1, &n, 4, 1 << 24) != TR_OK) {
        goto bad;
    }
    if (o->common.json) {
        printf("[");
    } else {
        printf("%-40s %-20s %s\n", "TRANSACTIONAL_ID", "PRODUCER_ID", "STATE");
    }
    for (i = 0; i < n; i++) {
        if (tr_proto_get_string_v(&s, 1, &id) != TR_OK ||
            tr_slice_get_i64(&s, &pid) != TR_OK ||
            tr_proto_get_string_v(&s, 1, &state) != TR_OK ||
            tr_proto_skip_tags(&s) != TR_OK || id.len < 0 || state.len < 0) {
            goto bad;
        }
        if (o->common.json) {
            printf("%s{\"transactional_id\":", i > 0 ? "," : "");
            tr_json_escape(stdout, id.ptr, (size_t)id.len);
            printf(",\"producer_id\":%" PRId64 ",\"state\":", pid);
            tr_json_escape(stdout, state.ptr, (size_t)state.len);
            printf("}");
        } else {
            printf("%-40.*s %-20" PRId64 " %.*s\n", (int)id.len, id.ptr, pid,
                   (int)state.len, state.ptr);
        }
    }
    if (o->common.json) {
        printf("]\n");
    }
    tr_buf_cleanup(&resp);
    return TR_EXIT_OK;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed ListTransactions answer");
    return TR_EXIT_FAIL;
}

/* ---- describe ---- */

struct ids_arg {
    char **ids;
    int n;
};

static tr_err_t
describe_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct ids_arg *x = arg;
    int i;

    (void)version;
    tr_proto_put_array_len_v(b, 1, x->n); /* TransactionalIds */
    for (i = 0; i < x->n; i++) {
        tr_proto_put_cstring_v(b, 1, x->ids[i]);
    }
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

/* Reads and prints one TransactionState; -1 when malformed. */
static int
print_state(struct tr_slice *s, int json, int first, int *missing)
{
    struct tr_str id, state, topic;
    int16_t kerr, epoch;
    int32_t timeout, ntopics, np, t, p, partition;
    int64_t start, pid;

    if (tr_slice_get_i16(s, &kerr) != TR_OK ||
        tr_proto_get_string_v(s, 1, &id) != TR_OK ||
        tr_proto_get_string_v(s, 1, &state) != TR_OK ||
        tr_slice_get_i32(s, &timeout) != TR_OK ||
        tr_slice_get_i64(s, &start) != TR_OK ||
        tr_slice_get_i64(s, &pid) != TR_OK ||
        tr_slice_get_i16(s, &epoch) != TR_OK ||
        tr_proto_get_array_len_v(s, 1, &ntopics, 2, 1 << 16) != TR_OK ||
        id.len < 0 || state.len < 0) {
        return -1;
    }
    if (kerr != TR_KERR_NONE) {
        fprintf(stderr, "tributary %s: %.*s: %s\n", CMD, (int)id.len, id.ptr,
                tr_admin_kerr_name(kerr));
        *missing = 1;
    } else if (json) {
        printf("%s{\"transactional_id\":", first ? "" : ",");
        tr_json_escape(stdout, id.ptr, (size_t)id.len);
        printf(",\"state\":");
        tr_json_escape(stdout, state.ptr, (size_t)state.len);
        printf(",\"producer_id\":%" PRId64 ",\"producer_epoch\":%d,"
               "\"timeout_ms\":%d,\"start_ms\":%" PRId64 ",\"partitions\":[",
               pid, epoch, timeout, start);
    } else {
        printf("%.*s: %.*s, producer %" PRId64 " epoch %d, timeout %d ms",
               (int)id.len, id.ptr, (int)state.len, state.ptr, pid, epoch,
               timeout);
        if (start >= 0) {
            printf(", started at %" PRId64, start);
        }
        printf("\n");
    }
    for (t = 0; t < ntopics; t++) {
        if (tr_proto_get_string_v(s, 1, &topic) != TR_OK || topic.len < 0 ||
            tr_proto_get_array_len_v(s, 1, &np, 4, 1 << 20) != TR_OK) {
            return -1;
        }
        for (p = 0; p < np; p++) {
            if (tr_slice_get_i32(s, &partition) != TR_OK) {
                return -1;
            }
            if (kerr != TR_KERR_NONE) {
                continue;
            }
            if (json) {
                printf("%s{\"topic\":", t == 0 && p == 0 ? "" : ",");
                tr_json_escape(stdout, topic.ptr, (size_t)topic.len);
                printf(",\"partition\":%d}", partition);
            } else {
                printf("  %.*s-%d\n", (int)topic.len, topic.ptr, partition);
            }
        }
        if (tr_proto_skip_tags(s) != TR_OK) {
            return -1;
        }
    }
    if (kerr == TR_KERR_NONE && json) {
        printf("]}");
    }
    return tr_proto_skip_tags(s) == TR_OK ? (kerr == TR_KERR_NONE) : -1;
}

static int
cmd_describe(struct tr_admin *a, const struct xopts *o, int argc, char **argv)
{
    struct ids_arg x = { argv, argc };
    struct tr_buf resp;
    struct tr_slice s;
    int16_t version;
    int32_t throttle, n, i;
    int printed = 0, missing = 0, r;
    char errbuf[512];
    tr_err_t err;

    err = tr_admin_call(a, -1, TR_API_DESCRIBE_TRANSACTIONS, 0, 0,
                        describe_encode, &x, &resp, &version, errbuf,
                        sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        tr_proto_get_array_len_v(&s, 1, &n, 4, 1 << 16) != TR_OK) {
        goto bad;
    }
    if (o->common.json) {
        printf("[");
    }
    for (i = 0; i < n; i++) {
        r = print_state(&s, o->common.json, printed == 0, &missing);
        if (r < 0) {
            goto bad;
        }
        printed += r;
    }
    if (o->common.json) {
        printf("]\n");
    }
    tr_buf_cleanup(&resp);
    return missing ? TR_EXIT_NOT_FOUND : TR_EXIT_OK;
bad:
    tr_buf_cleanup(&resp);
    tr_cli_error(CMD, "malformed DescribeTransactions answer");
    return TR_EXIT_FAIL;
}

int
tr_cmd_transactions(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "state", required_argument, NULL, 's' },
        { "producer-id", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    struct xopts o;
    struct tr_admin *a = NULL;
    const char *sub;
    int ch, r, rc = TR_EXIT_USAGE;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    while ((ch = getopt_long(argc, argv, "b:X:s:p:h", longopts, NULL)) != -1) {
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
        case 's':
            if (o.nstates == MAX_FILTERS) {
                tr_cli_error(CMD, "too many --state filters");
                goto out;
            }
            o.states[o.nstates++] = optarg;
            break;
        case 'p':
            if (o.npids == MAX_FILTERS ||
                tr_cli_parse_i64(optarg, &o.pids[o.npids]) != 0) {
                tr_cli_error(CMD, "bad --producer-id '%s'", optarg);
                goto out;
            }
            o.npids++;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(sub, "list") != 0 && strcmp(sub, "describe") != 0) {
        tr_cli_error(CMD, "unknown subcommand '%s' (list, describe)", sub);
        goto out;
    }
    if (strcmp(sub, "describe") == 0 && argc < 1) {
        tr_cli_error(CMD, "describe takes one or more transactional ids");
        goto out;
    }
    if (strcmp(sub, "list") == 0 && argc > 0) {
        tr_cli_error(CMD, "list takes no arguments (use --state, "
                          "--producer-id)");
        goto out;
    }
    a = tr_cli_admin(CMD, &o.common, &rc);
    if (a == NULL) {
        goto out;
    }
    rc = strcmp(sub, "list") == 0 ? cmd_list(a, &o)
                                  : cmd_describe(a, &o, argc, argv);
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_free(a);
    return rc;
}
