/*
 * reassign -- `tributary cluster reassign | rebalance | elect-leaders`:
 * moving replicas and leaders, through the controller's admin APIs
 * (AlterPartitionReassignments, ListPartitionReassignments, ElectLeaders).
 *
 * Plans are Kafka's reassignment JSON (plan.h). --execute prints the
 * current assignment of the partitions it moves first, as Kafka's tool
 * does, so that the operator can keep it for a rollback; --verify reads
 * Metadata and the moves in progress and exits 0 only when every partition
 * has exactly its planned replicas, all in sync; --cancel stops the moves
 * in progress (the added replicas are dropped again).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "plan.h"
#include "proto.h"
#include "table.h"

#define CMD "cluster"

/* Partitions one AlterPartitionReassignments carries at most. */
#define BATCH 1000

void
tr_cluster_reassign_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: tributary cluster [status] [-b HOST:PORT] [--json]\n"
        "       tributary cluster reassign -b B --plan FILE "
        "(--execute [--throttle BYTES/S] |\n"
        "                                   --verify | --cancel)\n"
        "       tributary cluster rebalance -b B [--brokers ID,...] "
        "[--topic T]... [--execute]\n"
        "                                   [--plan-out FILE]\n"
        "       tributary cluster elect-leaders -b B [--type "
        "preferred|unclean] [--topic T\n"
        "                                   [--partition P]]\n"
        "\n"
        "  status         brokers, controller, offline and under-replicated "
        "partitions\n"
        "  reassign       moves replicas as a plan in Kafka's reassignment "
        "JSON says:\n"
        "                 {\"version\":1,\"partitions\":[{\"topic\":\"t\","
        "\"partition\":0,\n"
        "                  \"replicas\":[3,1,2]}]}; --verify exits 0 once "
        "done, 1 while\n"
        "                 moving; --cancel stops the moves of the plan;\n"
        "                 --throttle limits the copying (each broker, bytes "
        "per second)\n"
        "                 until --verify finds the move done\n"
        "  rebalance      proposes (prints) a plan spreading replicas and "
        "preferred leaders\n"
        "                 evenly over the live brokers (or --brokers), "
        "moving as little as\n"
        "                 possible; --execute starts it\n"
        "  elect-leaders  makes preferred replicas leaders again (or, with "
        "--type unclean,\n"
        "                 elects any live replica where no leader is left)\n"
        "\n"
        "  -b, --bootstrap-server HOST:PORT[,...]  brokers to ask "
        "(default 127.0.0.1:9092\n"
        "                              or $TRIBUTARY_BOOTSTRAP)\n"
        "      --json                  JSON output (status, verify)\n"
        "      --timeout MS            per request (default 10000)\n"
        "  -h, --help\n");
}

/* ------------------------------------------------------------ requests */

struct alter_arg {
    const struct tr_plan *plan;
    size_t from, n;
    int cancel;
};

static tr_err_t
alter_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct alter_arg *x = arg;
    size_t i, j, run;
    int32_t ntopics = 0, r;

    (void)version;
    tr_buf_put_i32(b, 60000); /* TimeoutMs */
    for (i = x->from; i < x->from + x->n; i = j) {
        for (j = i + 1;
             j < x->from + x->n &&
             strcmp(x->plan->parts[j].topic, x->plan->parts[i].topic) == 0;
             j++) {
        }
        ntopics++;
    }
    tr_proto_put_array_len_v(b, 1, ntopics);
    for (i = x->from; i < x->from + x->n; i += run) {
        const struct tr_plan_part *first = &x->plan->parts[i];
        for (run = 1; i + run < x->from + x->n &&
                      strcmp(x->plan->parts[i + run].topic, first->topic) == 0;
             run++) {
        }
        tr_proto_put_cstring_v(b, 1, first->topic);
        tr_proto_put_array_len_v(b, 1, (int32_t)run);
        for (j = i; j < i + run; j++) {
            const struct tr_plan_part *pp = &x->plan->parts[j];
            tr_buf_put_i32(b, pp->partition);
            tr_proto_put_array_len_v(b, 1, x->cancel ? -1 : pp->nreplicas);
            for (r = 0; !x->cancel && r < pp->nreplicas; r++) {
                tr_buf_put_i32(b, pp->replicas[r]);
            }
            tr_proto_put_tags_v(b, 1);
        }
        tr_proto_put_tags_v(b, 1);
    }
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

/* Reads a [topic, [partition, error, message]] response; counts failures. */
static tr_err_t
read_partition_results(struct tr_slice *s, int flex, int with_message,
                       const char *what, int *nfailed)
{
    int32_t nt, np, t, p, index;
    int16_t kerr;
    struct tr_str topic, msg;
    char name[TR_PLAN_TOPIC_MAX + 1];
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(s, flex, &nt, 3, 1 << 20)) != TR_OK) {
        return err;
    }
    for (t = 0; t < nt; t++) {
        if ((err = tr_proto_get_string_v(s, flex, &topic)) != TR_OK ||
            (err = tr_proto_get_array_len_v(s, flex, &np, 6, 1 << 20)) !=
                TR_OK) {
            return err;
        }
        (void)tr_str_copy(&topic, name, sizeof(name));
        for (p = 0; p < np; p++) {
            msg.len = -1;
            if ((err = tr_slice_get_i32(s, &index)) != TR_OK ||
                (err = tr_slice_get_i16(s, &kerr)) != TR_OK ||
                (with_message &&
                 (err = tr_proto_get_string_v(s, flex, &msg)) != TR_OK) ||
                (flex && (err = tr_proto_skip_tags(s)) != TR_OK)) {
                return err;
            }
            /* A partition already led by its preferred replica is fine. */
            if (kerr != TR_KERR_NONE && kerr != TR_KERR_ELECTION_NOT_NEEDED) {
                (*nfailed)++;
                fprintf(stderr, "tributary %s: %s-%d: %s: %s%s%.*s\n", CMD,
                        name, (int)index, what, tr_admin_kerr_name(kerr),
                        msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0,
                        msg.len > 0 ? msg.ptr : "");
            }
        }
        if (flex && (err = tr_proto_skip_tags(s)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

/* Sends the plan (or its cancellation) in batches; returns the exit code. */
static int
send_plan(struct tr_admin *a, int32_t controller, const struct tr_plan *plan,
          int cancel)
{
    struct alter_arg x;
    struct tr_buf resp;
    struct tr_slice s;
    int16_t version, kerr;
    int32_t throttle;
    struct tr_str msg;
    char errbuf[512];
    int nfailed = 0;
    tr_err_t err;

    x.plan = plan;
    x.cancel = cancel;
    for (x.from = 0; x.from < plan->n; x.from += x.n) {
        x.n = plan->n - x.from < BATCH ? plan->n - x.from : BATCH;
        err = tr_admin_call(a, controller, TR_API_ALTER_PARTITION_REASSIGNMENTS,
                            0, 0, alter_encode, &x, &resp, &version, errbuf,
                            sizeof(errbuf));
        if (err != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            return TR_EXIT_FAIL;
        }
        tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
        if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
            (err = tr_slice_get_i16(&s, &kerr)) != TR_OK ||
            (err = tr_proto_get_string_v(&s, 1, &msg)) != TR_OK) {
            tr_buf_cleanup(&resp);
            tr_cli_error(CMD, "malformed AlterPartitionReassignments answer");
            return TR_EXIT_FAIL;
        }
        if (kerr != TR_KERR_NONE) {
            tr_buf_cleanup(&resp);
            tr_cli_error(CMD, "the controller refused the plan: %s",
                         tr_admin_kerr_name(kerr));
            return tr_cli_exit_for_kerr(kerr);
        }
        err = read_partition_results(
            &s, 1, 1, cancel ? "cannot cancel" : "cannot move", &nfailed);
        tr_buf_cleanup(&resp);
        if (err != TR_OK) {
            tr_cli_error(CMD, "malformed AlterPartitionReassignments answer");
            return TR_EXIT_FAIL;
        }
    }
    if (nfailed > 0) {
        return nfailed == (int)plan->n ? TR_EXIT_FAIL : TR_EXIT_PARTIAL;
    }
    return TR_EXIT_OK;
}

static tr_err_t
list_encode(struct tr_buf *b, int16_t version, void *arg)
{
    (void)version;
    (void)arg;
    tr_buf_put_i32(b, 60000);
    tr_proto_put_array_len_v(b, 1, -1); /* every partition */
    tr_proto_put_tags_v(b, 1);
    return TR_OK;
}

static tr_err_t
get_ids(struct tr_slice *s, int32_t *ids, int32_t *n)
{
    int32_t count, i, id;
    tr_err_t err;

    if ((err = tr_proto_get_array_len_v(s, 1, &count, 4, 1 << 16)) != TR_OK) {
        return err;
    }
    *n = 0;
    for (i = 0; i < count; i++) {
        if ((err = tr_slice_get_i32(s, &id)) != TR_OK) {
            return err;
        }
        if (*n < TR_PLAN_MAX_REPLICAS) {
            ids[(*n)++] = id;
        }
    }
    return TR_OK;
}

/* The moves in progress, as a plan of their target replica lists. */
static tr_err_t
list_moves(struct tr_admin *a, int32_t controller, struct tr_plan *moving,
           char *errbuf, size_t errlen)
{
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str msg, topic;
    char name[TR_PLAN_TOPIC_MAX + 1];
    int32_t throttle, nt, np, t, p, index, nrep, nadd, nrem, r;
    int32_t reps[TR_PLAN_MAX_REPLICAS], add[TR_PLAN_MAX_REPLICAS],
        rem[TR_PLAN_MAX_REPLICAS], target[TR_PLAN_MAX_REPLICAS];
    int16_t version, kerr;
    tr_err_t err;

    tr_plan_init(moving);
    err = tr_admin_call(a, controller, TR_API_LIST_PARTITION_REASSIGNMENTS, 0,
                        0, list_encode, NULL, &resp, &version, errbuf, errlen);
    if (err != TR_OK) {
        return err;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
        (err = tr_slice_get_i16(&s, &kerr)) != TR_OK ||
        (err = tr_proto_get_string_v(&s, 1, &msg)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 1, &nt, 3, 1 << 20)) != TR_OK) {
        goto bad;
    }
    if (kerr != TR_KERR_NONE) {
        snprintf(errbuf, errlen, "ListPartitionReassignments: %s",
                 tr_admin_kerr_name(kerr));
        tr_buf_cleanup(&resp);
        return TR_ERR_IO;
    }
    for (t = 0; t < nt; t++) {
        if ((err = tr_proto_get_string_v(&s, 1, &topic)) != TR_OK ||
            (err = tr_proto_get_array_len_v(&s, 1, &np, 4, 1 << 20)) != TR_OK) {
            goto bad;
        }
        (void)tr_str_copy(&topic, name, sizeof(name));
        for (p = 0; p < np; p++) {
            int32_t nt2 = 0;
            if ((err = tr_slice_get_i32(&s, &index)) != TR_OK ||
                (err = get_ids(&s, reps, &nrep)) != TR_OK ||
                (err = get_ids(&s, add, &nadd)) != TR_OK ||
                (err = get_ids(&s, rem, &nrem)) != TR_OK ||
                (err = tr_proto_skip_tags(&s)) != TR_OK) {
                goto bad;
            }
            for (r = 0; r < nrep; r++) {
                int32_t k, gone = 0;
                for (k = 0; k < nrem; k++) {
                    gone |= rem[k] == reps[r];
                }
                if (!gone) {
                    target[nt2++] = reps[r];
                }
            }
            (void)tr_plan_add(moving, name, index, target, nt2);
        }
        if ((err = tr_proto_skip_tags(&s)) != TR_OK) {
            goto bad;
        }
    }
    tr_buf_cleanup(&resp);
    return TR_OK;
bad:
    tr_buf_cleanup(&resp);
    tr_plan_free(moving);
    snprintf(errbuf, errlen, "malformed ListPartitionReassignments answer");
    return TR_ERR_CORRUPT;
}

/* ------------------------------------------------------------- helpers */

static int
read_file(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n = 0;
    char *buf;

    if (f == NULL) {
        return -1;
    }
    buf = tr_malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            break;
        }
        cap *= 2;
        char *bigger = tr_realloc(buf, cap + 1);
        if (bigger == NULL) {
            tr_free(buf);
            buf = NULL;
        }
        buf = bigger;
    }
    if (f != stdin) {
        fclose(f);
    }
    if (buf == NULL) {
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The current assignment of every partition in the metadata. */
static tr_err_t
current_plan(const struct tr_admin_metadata *md, struct tr_plan *out)
{
    size_t i;
    int32_t p;
    tr_err_t err;

    tr_plan_init(out);
    for (i = 0; i < md->ntopics; i++) {
        const struct tr_admin_topic *t = &md->topics[i];
        for (p = 0; p < t->nparts && t->name != NULL; p++) {
            const struct tr_admin_partition *pp = &t->parts[p];
            err = tr_plan_add(out, t->name, pp->id, pp->replicas,
                              pp->nreplicas < TR_PLAN_MAX_REPLICAS
                                  ? pp->nreplicas
                                  : TR_PLAN_MAX_REPLICAS);
            if (err != TR_OK) {
                tr_plan_free(out);
                return err;
            }
        }
    }
    return TR_OK;
}

static const struct tr_admin_partition *
md_partition(const struct tr_admin_metadata *md, const char *topic,
             int32_t partition)
{
    size_t i;
    int32_t p;

    for (i = 0; i < md->ntopics; i++) {
        const struct tr_admin_topic *t = &md->topics[i];
        if (t->name == NULL || strcmp(t->name, topic) != 0) {
            continue;
        }
        for (p = 0; p < t->nparts; p++) {
            if (t->parts[p].id == partition) {
                return &t->parts[p];
            }
        }
    }
    return NULL;
}

static int
cmp_plan_part(const void *a, const void *b)
{
    const struct tr_plan_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    return c != 0
               ? c
               : (x->partition > y->partition) - (x->partition < y->partition);
}

static void
ids_text(char *buf, size_t len, const int32_t *ids, int32_t n)
{
    int32_t i;
    size_t off = 0;

    buf[0] = '\0';
    for (i = 0; i < n && off < len; i++) {
        off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "",
                                (int)ids[i]);
    }
}

/* --------------------------------------------------------- subcommands */

struct opts {
    struct tr_cli_common common;
    const char *plan_path, *plan_out, *brokers, *type;
    const char *topics[64];
    int ntopics;
    int32_t partition;
    int execute, verify, cancel;
    int64_t throttle; /* --throttle bytes/s, 0: none */
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    enum {
        O_PLAN = 0x2001,
        O_EXECUTE,
        O_VERIFY,
        O_CANCEL,
        O_BROKERS,
        O_TOPIC,
        O_PARTITION,
        O_TYPE,
        O_PLAN_OUT,
        O_THROTTLE
    };
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "plan", required_argument, NULL, O_PLAN },
        { "reassignment-json-file", required_argument, NULL, O_PLAN },
        { "execute", no_argument, NULL, O_EXECUTE },
        { "verify", no_argument, NULL, O_VERIFY },
        { "cancel", no_argument, NULL, O_CANCEL },
        { "brokers", required_argument, NULL, O_BROKERS },
        { "topic", required_argument, NULL, O_TOPIC },
        { "partition", required_argument, NULL, O_PARTITION },
        { "type", required_argument, NULL, O_TYPE },
        { "election-type", required_argument, NULL, O_TYPE },
        { "plan-out", required_argument, NULL, O_PLAN_OUT },
        { "throttle", required_argument, NULL, O_THROTTLE },
        { NULL, 0, NULL, 0 },
    };
    int ch, r;
    int64_t v;

    memset(o, 0, sizeof(*o));
    tr_cli_common_init(&o->common, CMD);
    o->partition = -1;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &o->common)) != 0) {
            if (r < 0) {
                return TR_EXIT_USAGE;
            }
            continue;
        }
        switch (ch) {
        case O_PLAN:
            o->plan_path = optarg;
            break;
        case O_PLAN_OUT:
            o->plan_out = optarg;
            break;
        case O_EXECUTE:
            o->execute = 1;
            break;
        case O_VERIFY:
            o->verify = 1;
            break;
        case O_CANCEL:
            o->cancel = 1;
            break;
        case O_BROKERS:
            o->brokers = optarg;
            break;
        case O_TOPIC:
            if (o->ntopics == (int)(sizeof(o->topics) / sizeof(o->topics[0]))) {
                tr_cli_error(CMD, "too many --topic");
                return TR_EXIT_USAGE;
            }
            o->topics[o->ntopics++] = optarg;
            break;
        case O_PARTITION:
            if (tr_cli_parse_i64(optarg, &v) != 0 || v < 0 || v > INT32_MAX) {
                tr_cli_error(CMD, "bad --partition '%s'", optarg);
                return TR_EXIT_USAGE;
            }
            o->partition = (int32_t)v;
            break;
        case O_TYPE:
            o->type = optarg;
            break;
        case O_THROTTLE:
            if (tr_cli_parse_i64(optarg, &v) != 0 || v <= 0) {
                tr_cli_error(CMD, "bad --throttle '%s' (bytes per second)",
                             optarg);
                return TR_EXIT_USAGE;
            }
            o->throttle = v;
            break;
        case 'h':
            tr_cluster_reassign_usage(stdout);
            return TR_EXIT_OK;
        default:
            tr_cluster_reassign_usage(stderr);
            return TR_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        tr_cluster_reassign_usage(stderr);
        return TR_EXIT_USAGE;
    }
    return -1;
}

/* Connects and reads the metadata; returns -1 or an exit code. */
static int
connect_md(const struct opts *o, struct tr_admin **a,
           struct tr_admin_metadata **md)
{
    char errbuf[512];
    int rc;

    if ((*a = tr_cli_admin(CMD, &o->common, &rc)) == NULL) {
        return rc;
    }
    if (tr_admin_metadata(*a, NULL, 0, md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    if ((*md)->controller < 0) {
        tr_cli_error(CMD, "the cluster has no controller right now; try "
                          "again in a few seconds");
        return TR_EXIT_FAIL;
    }
    return -1;
}

/*
 * Sets (rate > 0) or removes (0) the replication throttle on every broker
 * of the metadata, as Kafka's tool does around a move: the leaders serving
 * the new replicas and the followers copying are all limited to 'rate'.
 */
static int
set_throttle(struct tr_admin *a, const struct tr_admin_metadata *md,
             int64_t rate)
{
    char lead[96], fol[96], id[16], msg[512], errbuf[512];
    const char *kv[2] = { lead, fol };
    int16_t kerr = 0;
    size_t i;

    if (rate > 0) {
        snprintf(lead, sizeof(lead), "leader.replication.throttled.rate=%lld",
                 (long long)rate);
        snprintf(fol, sizeof(fol), "follower.replication.throttled.rate=%lld",
                 (long long)rate);
    } else {
        snprintf(lead, sizeof(lead), "leader.replication.throttled.rate");
        snprintf(fol, sizeof(fol), "follower.replication.throttled.rate");
    }
    for (i = 0; i < md->nbrokers; i++) {
        snprintf(id, sizeof(id), "%d", (int)md->brokers[i].id);
        if (tr_admin_alter_configs(a, TR_ADMIN_RESOURCE_BROKER, id, kv, 2,
                                   &kerr, msg, sizeof(msg), errbuf,
                                   sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "throttle on broker %s: %s", id, errbuf);
            return TR_EXIT_FAIL;
        }
        if (kerr != TR_KERR_NONE) {
            tr_cli_error(CMD, "throttle on broker %s: %s: %s", id,
                         tr_admin_kerr_name(kerr), msg);
            return tr_cli_exit_for_kerr(kerr);
        }
    }
    return TR_EXIT_OK;
}

/* --verify: 0 when every planned partition is exactly as planned. */
static int
verify_plan(struct tr_admin *a, const struct tr_admin_metadata *md,
            const struct tr_plan *plan, int json)
{
    struct tr_plan moving;
    char errbuf[512], want[128], have[128];
    size_t i, done = 0;
    struct tr_json j;

    if (list_moves(a, md->controller, &moving, errbuf, sizeof(errbuf)) !=
        TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    if (json) {
        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "partitions");
        tr_json_arr_begin(&j);
    }
    for (i = 0; i < plan->n; i++) {
        const struct tr_plan_part *pp = &plan->parts[i];
        const struct tr_admin_partition *mp =
            md_partition(md, pp->topic, pp->partition);
        const char *state;
        int32_t r, insync = 0;

        ids_text(want, sizeof(want), pp->replicas, pp->nreplicas);
        have[0] = '\0';
        if (mp == NULL) {
            state = "unknown partition";
        } else {
            ids_text(have, sizeof(have), mp->replicas, mp->nreplicas);
            for (r = 0; r < pp->nreplicas; r++) {
                int32_t k;
                for (k = 0; k < mp->nisr; k++) {
                    insync += mp->isr[k] == pp->replicas[r];
                }
            }
            if (tr_plan_find(&moving, pp->topic, pp->partition) != NULL) {
                state = "in progress";
            } else if (mp->nreplicas == pp->nreplicas &&
                       memcmp(mp->replicas, pp->replicas,
                              (size_t)pp->nreplicas * sizeof(int32_t)) == 0 &&
                       insync == pp->nreplicas) {
                state = "complete";
                done++;
            } else if (mp->nreplicas == pp->nreplicas &&
                       memcmp(mp->replicas, pp->replicas,
                              (size_t)pp->nreplicas * sizeof(int32_t)) == 0) {
                state = "replicas placed, not all in sync";
            } else {
                state = "not started (or replaced by another move)";
            }
        }
        if (json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "topic");
            tr_json_str(&j, pp->topic);
            tr_json_key(&j, "partition");
            tr_json_int(&j, pp->partition);
            tr_json_key(&j, "planned");
            tr_json_str(&j, want);
            tr_json_key(&j, "replicas");
            tr_json_str(&j, have);
            tr_json_key(&j, "in_sync");
            tr_json_int(&j, insync);
            tr_json_key(&j, "state");
            tr_json_str(&j, state);
            tr_json_obj_end(&j);
        } else {
            printf("%s-%d: %s (planned [%s], now [%s], %d of %d in sync)\n",
                   pp->topic, (int)pp->partition, state, want, have,
                   (int)insync, (int)pp->nreplicas);
        }
    }
    if (json) {
        tr_json_arr_end(&j);
        tr_json_key(&j, "done");
        tr_json_int(&j, (int64_t)done);
        tr_json_key(&j, "total");
        tr_json_int(&j, (int64_t)plan->n);
        tr_json_obj_end(&j);
        tr_json_end(&j);
    } else {
        printf("%zu of %zu partitions done%s\n", done, plan->n,
               done == plan->n ? "" : "; the move is still going");
    }
    tr_plan_free(&moving);
    return done == plan->n ? TR_EXIT_OK : TR_EXIT_FAIL;
}

static int
cmd_reassign(int argc, char **argv)
{
    struct opts o;
    struct tr_admin *a = NULL;
    struct tr_admin_metadata *md = NULL;
    struct tr_plan plan, rollback;
    char *text = NULL, errbuf[512];
    size_t len, i;
    int rc;

    tr_plan_init(&plan);
    tr_plan_init(&rollback);
    if ((rc = parse_opts(argc, argv, &o)) >= 0) {
        return rc;
    }
    rc = TR_EXIT_USAGE;
    if (o.plan_path == NULL || o.execute + o.verify + o.cancel != 1) {
        tr_cli_error(CMD, "reassign needs --plan FILE and one of --execute, "
                          "--verify, --cancel");
        goto out;
    }
    if (read_file(o.plan_path, &text, &len) != 0) {
        tr_cli_error(CMD, "cannot read %s", o.plan_path);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    if (tr_plan_parse(text, len, &plan, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s: %s", o.plan_path, errbuf);
        goto out;
    }
    qsort(plan.parts, plan.n, sizeof(*plan.parts), cmp_plan_part);
    if ((rc = connect_md(&o, &a, &md)) >= 0) {
        goto out;
    }
    if (o.verify) {
        rc = verify_plan(a, md, &plan, o.common.json);
        /* Done: the throttle a --execute set goes, as in Kafka's tool. */
        if (rc == TR_EXIT_OK && set_throttle(a, md, 0) == TR_EXIT_OK &&
            !o.common.json) {
            printf("Replication throttle removed.\n");
        }
        goto out;
    }
    if (o.throttle > 0 && o.execute) {
        if ((rc = set_throttle(a, md, o.throttle)) != TR_EXIT_OK) {
            goto out;
        }
        printf("Replication throttled to %lld bytes/s on every broker until "
               "--verify finds the move done.\n",
               (long long)o.throttle);
    }
    if (o.execute) {
        for (i = 0; i < plan.n; i++) {
            const struct tr_admin_partition *mp =
                md_partition(md, plan.parts[i].topic, plan.parts[i].partition);
            if (mp != NULL) {
                (void)tr_plan_add(&rollback, plan.parts[i].topic, mp->id,
                                  mp->replicas, mp->nreplicas);
            }
        }
        printf("Current partition replica assignment (keep it to roll "
               "back with --execute):\n\n");
        tr_plan_write(&rollback, stdout);
        printf("\n");
    }
    rc = send_plan(a, md->controller, &plan, o.cancel);
    if (o.cancel && rc == TR_EXIT_OK) {
        (void)set_throttle(a, md, 0);
    }
    if (rc == TR_EXIT_OK || rc == TR_EXIT_PARTIAL) {
        printf(o.cancel ? "Cancelled the moves of %zu partitions.\n"
                        : "Started moving %zu partitions; follow with "
                          "tributary cluster reassign --verify.\n",
               plan.n);
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_free(text);
    tr_plan_free(&plan);
    tr_plan_free(&rollback);
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}

static int
parse_brokers(const char *s, int32_t *ids, size_t cap, size_t *n)
{
    char *end;
    long v;

    *n = 0;
    while (*s != '\0') {
        v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX || *n == cap ||
            (*end != ',' && *end != '\0')) {
            return -1;
        }
        ids[(*n)++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

static int
cmd_rebalance(int argc, char **argv)
{
    struct opts o;
    struct tr_admin *a = NULL;
    struct tr_admin_metadata *md = NULL;
    struct tr_plan current, moves;
    int32_t brokers[1024];
    size_t nbrokers = 0, i, k, nreplicas = 0, nleaders = 0;
    FILE *f;
    int rc;

    tr_plan_init(&current);
    tr_plan_init(&moves);
    if ((rc = parse_opts(argc, argv, &o)) >= 0) {
        return rc;
    }
    if (o.brokers != NULL &&
        parse_brokers(o.brokers, brokers, sizeof(brokers) / sizeof(brokers[0]),
                      &nbrokers) != 0) {
        tr_cli_error(CMD, "bad --brokers '%s' (ids, comma-separated)",
                     o.brokers);
        return TR_EXIT_USAGE;
    }
    if ((rc = connect_md(&o, &a, &md)) >= 0) {
        goto out;
    }
    if (nbrokers == 0) {
        for (i = 0; i < md->nbrokers && i < sizeof(brokers) / sizeof(*brokers);
             i++) {
            brokers[nbrokers++] = md->brokers[i].id;
        }
    }
    if (current_plan(md, &current) != TR_OK) {
        rc = TR_EXIT_FAIL;
        goto out;
    }
    if (o.ntopics > 0) {
        /* Only the topics named. */
        for (i = 0, k = 0; i < current.n; i++) {
            int keep = 0, t;
            for (t = 0; t < o.ntopics; t++) {
                keep |= strcmp(current.parts[i].topic, o.topics[t]) == 0;
            }
            if (keep) {
                current.parts[k++] = current.parts[i];
            }
        }
        current.n = k;
    }
    if (tr_plan_rebalance(&current, brokers, nbrokers, &moves) != TR_OK) {
        tr_cli_error(CMD, "cannot spread the replicas: a partition has more "
                          "replicas than there are brokers");
        rc = TR_EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < moves.n; i++) {
        const struct tr_plan_part *was = tr_plan_find(
            &current, moves.parts[i].topic, moves.parts[i].partition);
        int32_t r;
        for (r = 0; was != NULL && r < moves.parts[i].nreplicas; r++) {
            int32_t q, found = 0;
            for (q = 0; q < was->nreplicas; q++) {
                found |= was->replicas[q] == moves.parts[i].replicas[r];
            }
            nreplicas += !found;
        }
        nleaders +=
            was != NULL && was->replicas[0] != moves.parts[i].replicas[0];
    }
    fprintf(stderr,
            "Over %zu brokers: %zu partitions change, %zu replicas move, %zu "
            "preferred leaders change.\n",
            nbrokers, moves.n, nreplicas, nleaders);
    tr_plan_write(&moves, stdout);
    if (o.plan_out != NULL) {
        f = fopen(o.plan_out, "w");
        if (f == NULL) {
            tr_cli_error(CMD, "cannot write %s", o.plan_out);
            rc = TR_EXIT_FAIL;
            goto out;
        }
        tr_plan_write(&moves, f);
        fclose(f);
    }
    rc = TR_EXIT_OK;
    if (o.execute && moves.n > 0) {
        rc = send_plan(a, md->controller, &moves, 0);
        if (rc == TR_EXIT_OK) {
            fprintf(stderr, "Started; follow with tributary cluster reassign "
                            "--verify --plan FILE (the plan above).\n");
        }
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_plan_free(&current);
    tr_plan_free(&moves);
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}

struct elect_arg {
    int8_t type;
    const struct opts *o;
    const struct tr_admin_metadata *md;
};

static tr_err_t
elect_encode(struct tr_buf *b, int16_t version, void *arg)
{
    const struct elect_arg *x = arg;
    int flex = version >= 2;
    int t;
    int32_t p;

    if (version >= 1) {
        tr_buf_put_i8(b, x->type);
    }
    if (x->o->ntopics == 0) {
        tr_proto_put_array_len_v(b, flex, -1); /* every partition */
    } else {
        tr_proto_put_array_len_v(b, flex, x->o->ntopics);
        for (t = 0; t < x->o->ntopics; t++) {
            const struct tr_admin_topic *mt = tr_admin_metadata_topic(
                (struct tr_admin_metadata *)x->md, x->o->topics[t]);
            int32_t n = mt == NULL ? 0 : mt->nparts;
            tr_proto_put_cstring_v(b, flex, x->o->topics[t]);
            if (x->o->partition >= 0) {
                tr_proto_put_array_len_v(b, flex, 1);
                tr_buf_put_i32(b, x->o->partition);
            } else {
                tr_proto_put_array_len_v(b, flex, n);
                for (p = 0; p < n; p++) {
                    tr_buf_put_i32(b, mt->parts[p].id);
                }
            }
            tr_proto_put_tags_v(b, flex);
        }
    }
    tr_buf_put_i32(b, 60000);
    tr_proto_put_tags_v(b, flex);
    return TR_OK;
}

static int
cmd_elect(int argc, char **argv)
{
    struct opts o;
    struct tr_admin *a = NULL;
    struct tr_admin_metadata *md = NULL;
    struct elect_arg x;
    struct tr_buf resp;
    struct tr_slice s;
    char errbuf[512];
    int16_t version, kerr = 0;
    int32_t throttle;
    int nfailed = 0, rc;

    if ((rc = parse_opts(argc, argv, &o)) >= 0) {
        return rc;
    }
    x.type = 0;
    if (o.type != NULL) {
        if (strcmp(o.type, "preferred") == 0 ||
            strcmp(o.type, "PREFERRED") == 0) {
            x.type = 0;
        } else if (strcmp(o.type, "unclean") == 0 ||
                   strcmp(o.type, "UNCLEAN") == 0) {
            x.type = 1;
        } else {
            tr_cli_error(CMD, "--type is preferred or unclean");
            return TR_EXIT_USAGE;
        }
    }
    if (o.partition >= 0 && o.ntopics != 1) {
        tr_cli_error(CMD, "--partition needs exactly one --topic");
        return TR_EXIT_USAGE;
    }
    if ((rc = connect_md(&o, &a, &md)) >= 0) {
        goto out;
    }
    x.o = &o;
    x.md = md;
    if (tr_admin_call(a, md->controller, TR_API_ELECT_LEADERS, x.type ? 1 : 0,
                      2, elect_encode, &x, &resp, &version, errbuf,
                      sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i32(&s, &throttle) != TR_OK ||
        (version >= 1 && tr_slice_get_i16(&s, &kerr) != TR_OK) ||
        read_partition_results(&s, version >= 2, 1, "not elected", &nfailed) !=
            TR_OK) {
        tr_buf_cleanup(&resp);
        tr_cli_error(CMD, "malformed ElectLeaders answer");
        rc = TR_EXIT_FAIL;
        goto out;
    }
    tr_buf_cleanup(&resp);
    if (kerr != TR_KERR_NONE) {
        tr_cli_error(CMD, "%s", tr_admin_kerr_name(kerr));
        rc = tr_cli_exit_for_kerr(kerr);
        goto out;
    }
    printf("%s\n", nfailed == 0 ? "Elections done (partitions already led by "
                                  "their preferred replica are left alone)."
                                : "Some elections could not be held.");
    rc = nfailed == 0 ? TR_EXIT_OK : TR_EXIT_PARTIAL;
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}

int
tr_cluster_subcommand(const char *sub, int argc, char **argv)
{
    if (strcmp(sub, "reassign") == 0) {
        return cmd_reassign(argc, argv);
    }
    if (strcmp(sub, "rebalance") == 0) {
        return cmd_rebalance(argc, argv);
    }
    if (strcmp(sub, "elect-leaders") == 0) {
        return cmd_elect(argc, argv);
    }
    return -1;
}
