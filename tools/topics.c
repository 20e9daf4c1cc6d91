/*
 * topics -- `tributary topics list|describe|create|delete|alter`.
 *
 * All through the admin client (admin.h): Metadata for names, partitions,
 * leaders, replicas and in-sync replicas; ListOffsets for each partition's
 * log start and end; DescribeLogDirs at every broker for the size of each
 * replica on disk; CreateTopics, DeleteTopics, CreatePartitions and
 * (Incremental)AlterConfigs for the changes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "table.h"

#define CMD "topics"

struct topts {
    struct tr_cli_common common;
    int64_t partitions;
    int64_t replication;
    const char **configs;
    size_t nconfigs;
    int show_configs;
    int if_not_exists;
    int if_exists;
    int internal;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary topics list     [-b HOST:PORT] [--json]\n"
            "       tributary topics describe [-b HOST:PORT] [--json] "
            "[--configs] [TOPIC...]\n"
            "       tributary topics create   [-b HOST:PORT] TOPIC "
            "[--partitions N]\n"
            "                                 [--replication-factor N] "
            "[--config KEY=VALUE]...\n"
            "                                 [--if-not-exists]\n"
            "       tributary topics delete   [-b HOST:PORT] [--if-exists] "
            "TOPIC...\n"
            "       tributary topics alter    [-b HOST:PORT] TOPIC "
            "[--partitions N]\n"
            "                                 [--replication-factor N] "
            "[--config KEY=VALUE]...\n"
            "                                 [--delete-config KEY]...\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server HOST:PORT[,...]  brokers to ask "
            "(default 127.0.0.1:9092\n"
            "                              or $TRIBUTARY_BOOTSTRAP)\n"
            "      --json                  one JSON document on stdout\n"
            "      --timeout MS            per request (default 10000)\n"
            "  -p, --partitions N          partition count (create: "
            "default 1; alter: grow to N)\n"
            "  -r, --replication-factor N  replicas (default 1)\n"
            "  -c, --config KEY=VALUE      a topic config "
            "(retention.ms, cleanup.policy, ...)\n"
            "      --delete-config KEY     alter: back to the default\n"
            "      --configs               describe: also print configs\n"
            "      --internal              list: include internal topics\n"
            "  -h, --help                  this text\n");
    tr_cli_security_usage(out);
}

static int
add_config(struct topts *o, const char *kv)
{
    const char **grown =
        tr_realloc(o->configs, (o->nconfigs + 1) * sizeof(*grown));

    if (grown == NULL) {
        return -1;
    }
    o->configs = grown;
    o->configs[o->nconfigs++] = kv;
    return 0;
}

static int
metadata_or_fail(struct tr_admin *a, const char *const *topics, size_t n,
                 struct tr_admin_metadata **md)
{
    char errbuf[512];

    if (tr_admin_metadata(a, topics, n, md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    return TR_EXIT_OK;
}

static int
cmd_list(struct tr_admin *a, struct topts *o)
{
    struct tr_admin_metadata *md = NULL;
    const char *headers[] = { "TOPIC", "PARTITIONS", "REPLICATION" };
    struct tr_table *t = NULL;
    struct tr_json j;
    size_t i;
    int rc;

    if ((rc = metadata_or_fail(a, NULL, 0, &md)) != TR_EXIT_OK) {
        goto out;
    }
    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_arr_begin(&j);
    } else {
        t = tr_table_new(3, headers);
        if (t == NULL) {
            rc = TR_EXIT_FAIL;
            goto out;
        }
    }
    for (i = 0; i < md->ntopics; i++) {
        struct tr_admin_topic *tp = &md->topics[i];
        int32_t repl = tp->nparts > 0 ? tp->parts[0].nreplicas : 0;

        if (tp->name == NULL || (tp->internal && !o->internal)) {
            continue;
        }
        if (o->common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "name");
            tr_json_str(&j, tp->name);
            tr_json_key(&j, "partitions");
            tr_json_int(&j, tp->nparts);
            tr_json_key(&j, "replication_factor");
            tr_json_int(&j, repl);
            tr_json_key(&j, "internal");
            tr_json_bool(&j, tp->internal);
            tr_json_obj_end(&j);
        } else {
            tr_table_addf(t, "%s\t%d\t%d", tp->name, (int)tp->nparts,
                          (int)repl);
        }
    }
    if (o->common.json) {
        tr_json_arr_end(&j);
        tr_json_end(&j);
    } else {
        tr_table_print(t, stdout);
    }
out:
    tr_table_free(t);
    tr_admin_metadata_free(md);
    return rc;
}

static void
ids_str(char *buf, size_t len, const int32_t *ids, int32_t n)
{
    size_t used = 0;
    int32_t i;

    buf[0] = '\0';
    for (i = 0; i < n && used + 12 < len; i++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "",
                                 (int)ids[i]);
    }
}

static void
json_ids(struct tr_json *j, const int32_t *ids, int32_t n)
{
    int32_t i;

    tr_json_arr_begin(j);
    for (i = 0; i < n; i++) {
        tr_json_int(j, ids[i]);
    }
    tr_json_arr_end(j);
}

/*
 * Replica sizes: each broker's DescribeLogDirs answer, its partitions
 * sorted by (topic, partition) for lookups. A broker that could not answer
 * (an older collector without the API, a timeout) has dirs NULL: its
 * replicas' sizes are unknown, which the table shows as "-".
 */
struct broker_sizes {
    int32_t id;
    struct tr_admin_log_dirs *dirs;
};

static int
part_cmp(const void *x, const void *y)
{
    const struct tr_admin_log_dir_part *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);

    if (c != 0) {
        return c;
    }
    return (a->partition > b->partition) - (a->partition < b->partition);
}

/*
 * Asks every broker of 'md' for the sizes of the topics described (those
 * with a name and no error). Returns an owned array of md->nbrokers entries
 * (free with sizes_free), or NULL when out of memory. Failures of single
 * brokers are reported on stderr, not fatal: the rest of the description
 * stands without them.
 */
static struct broker_sizes *
sizes_fetch(struct tr_admin *a, const struct tr_admin_metadata *md)
{
    struct broker_sizes *bs = NULL;
    const char **names = NULL;
    int32_t *nparts = NULL;
    size_t i, d, n = 0;
    char errbuf[512];

    bs = tr_calloc(md->nbrokers + 1, sizeof(*bs));
    names = tr_calloc(md->ntopics + 1, sizeof(*names));
    nparts = tr_calloc(md->ntopics + 1, sizeof(*nparts));
    if (bs == NULL || names == NULL || nparts == NULL) {
        tr_free(bs);
        bs = NULL;
        goto out;
    }
    for (i = 0; i < md->ntopics; i++) {
        if (md->topics[i].name != NULL && md->topics[i].err == 0) {
            names[n] = md->topics[i].name;
            nparts[n++] = md->topics[i].nparts;
        }
    }
    for (i = 0; i < md->nbrokers; i++) {
        bs[i].id = md->brokers[i].id;
        if (n == 0) {
            continue;
        }
        if (tr_admin_describe_log_dirs(a, bs[i].id, names, nparts, n,
                                       &bs[i].dirs, errbuf,
                                       sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "sizes on broker %d unknown: %s", (int)bs[i].id,
                         errbuf);
            continue;
        }
        for (d = 0; d < bs[i].dirs->ndirs; d++) {
            struct tr_admin_log_dir *dir = &bs[i].dirs->dirs[d];

            if (dir->nparts > 1) {
                qsort(dir->parts, dir->nparts, sizeof(*dir->parts), part_cmp);
            }
        }
    }
out:
    tr_free(names);
    tr_free(nparts);
    return bs;
}

static void
sizes_free(struct broker_sizes *bs, size_t n)
{
    size_t i;

    for (i = 0; bs != NULL && i < n; i++) {
        tr_admin_log_dirs_free(bs[i].dirs);
    }
    tr_free(bs);
}

/*
 * The replica of (topic, partition) on broker 'id': its log-dir entry, or
 * NULL when unknown. A partition sits in one directory of a broker (a
 * future replica of AlterReplicaLogDirs, which the collector never makes,
 * is skipped).
 */
static const struct tr_admin_log_dir_part *
sizes_find(const struct broker_sizes *bs, size_t n, int32_t id,
           const char *topic, int32_t partition)
{
    struct tr_admin_log_dir_part key;
    const struct tr_admin_log_dir_part *found;
    size_t i, d;

    if (bs == NULL) {
        return NULL;
    }
    memset(&key, 0, sizeof(key));
    key.topic = (char *)topic;
    key.partition = partition;
    for (i = 0; i < n; i++) {
        if (bs[i].id != id || bs[i].dirs == NULL) {
            continue;
        }
        for (d = 0; d < bs[i].dirs->ndirs; d++) {
            const struct tr_admin_log_dir *dir = &bs[i].dirs->dirs[d];

            if (dir->err != 0 || dir->nparts == 0) {
                continue;
            }
            found = bsearch(&key, dir->parts, dir->nparts, sizeof(*dir->parts),
                            part_cmp);
            if (found != NULL && !found->is_future) {
                return found;
            }
        }
    }
    return NULL;
}

static int
cmd_describe(struct tr_admin *a, struct topts *o, char **names, int nnames)
{
    struct tr_admin_metadata *md = NULL;
    const char *headers[] = { "TOPIC", "PARTITION", "LEADER", "REPLICAS",
                              "ISR",   "START",     "END",    "SIZE" };
    struct tr_table *t = NULL;
    struct tr_admin_config *cfgs = NULL;
    struct broker_sizes *sizes = NULL;
    const struct tr_admin_log_dir_part *lp;
    size_t ncfgs = 0, i, k;
    char errbuf[512], reps[256], isr[256], size[32];
    int32_t r;
    struct tr_json j;
    int32_t p;
    int16_t kerr;
    int rc, missing = 0;

    rc = metadata_or_fail(a, nnames > 0 ? (const char *const *)names : NULL,
                          (size_t)nnames, &md);
    if (rc != TR_EXIT_OK) {
        goto out;
    }
    for (i = 0; i < md->ntopics; i++) {
        if (md->topics[i].err != 0) {
            tr_cli_error(CMD, "topic '%s': %s",
                         md->topics[i].name ? md->topics[i].name : "?",
                         tr_admin_kerr_name(md->topics[i].err));
            rc = tr_cli_exit_for_kerr(md->topics[i].err);
            missing = 1;
        }
    }
    if (missing) {
        goto out;
    }
    if (tr_admin_offsets(a, md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    sizes = sizes_fetch(a, md);
    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_arr_begin(&j);
    } else {
        t = tr_table_new(8, headers);
        if (t == NULL) {
            rc = TR_EXIT_FAIL;
            goto out;
        }
    }
    for (i = 0; i < md->ntopics; i++) {
        struct tr_admin_topic *tp = &md->topics[i];

        if (tp->name == NULL || (tp->internal && nnames == 0)) {
            continue;
        }
        if (o->show_configs) {
            tr_admin_configs_free(cfgs, ncfgs);
            cfgs = NULL;
            ncfgs = 0;
            if (tr_admin_describe_configs(a, TR_ADMIN_RESOURCE_TOPIC, tp->name,
                                          &cfgs, &ncfgs, &kerr, errbuf,
                                          sizeof(errbuf)) != TR_OK) {
                tr_cli_error(CMD, "%s", errbuf);
                rc = TR_EXIT_FAIL;
                goto out;
            }
        }
        if (o->common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "name");
            tr_json_str(&j, tp->name);
            tr_json_key(&j, "internal");
            tr_json_bool(&j, tp->internal);
            tr_json_key(&j, "partitions");
            tr_json_arr_begin(&j);
        }
        for (p = 0; p < tp->nparts; p++) {
            struct tr_admin_partition *pp = &tp->parts[p];

            /*
             * The leader's copy is the partition's size: replicas hold the
             * same records, so a sum would count them once per replica.
             */
            lp = pp->leader >= 0 ? sizes_find(sizes, md->nbrokers, pp->leader,
                                              tp->name, pp->id)
                                 : NULL;
            if (o->common.json) {
                tr_json_obj_begin(&j);
                tr_json_key(&j, "partition");
                tr_json_int(&j, pp->id);
                tr_json_key(&j, "leader");
                tr_json_int(&j, pp->leader);
                tr_json_key(&j, "replicas");
                json_ids(&j, pp->replicas, pp->nreplicas);
                tr_json_key(&j, "isr");
                json_ids(&j, pp->isr, pp->nisr);
                tr_json_key(&j, "log_start_offset");
                tr_json_int(&j, pp->log_start);
                tr_json_key(&j, "log_end_offset");
                tr_json_int(&j, pp->log_end);
                tr_json_key(&j, "size_bytes");
                if (lp != NULL) {
                    tr_json_int(&j, lp->size);
                } else {
                    tr_json_null(&j);
                }
                tr_json_key(&j, "replica_sizes");
                tr_json_arr_begin(&j);
                for (r = 0; r < pp->nreplicas; r++) {
                    const struct tr_admin_log_dir_part *rp = sizes_find(
                        sizes, md->nbrokers, pp->replicas[r], tp->name, pp->id);

                    tr_json_obj_begin(&j);
                    tr_json_key(&j, "broker");
                    tr_json_int(&j, pp->replicas[r]);
                    tr_json_key(&j, "size_bytes");
                    if (rp != NULL) {
                        tr_json_int(&j, rp->size);
                    } else {
                        tr_json_null(&j);
                    }
                    tr_json_key(&j, "offset_lag");
                    if (rp != NULL) {
                        tr_json_int(&j, rp->offset_lag);
                    } else {
                        tr_json_null(&j);
                    }
                    tr_json_obj_end(&j);
                }
                tr_json_arr_end(&j);
                tr_json_obj_end(&j);
            } else {
                ids_str(reps, sizeof(reps), pp->replicas, pp->nreplicas);
                ids_str(isr, sizeof(isr), pp->isr, pp->nisr);
                if (lp != NULL) {
                    snprintf(size, sizeof(size), "%lld", (long long)lp->size);
                } else {
                    snprintf(size, sizeof(size), "-");
                }
                tr_table_addf(t, "%s\t%d\t%d\t%s\t%s\t%lld\t%lld\t%s", tp->name,
                              (int)pp->id, (int)pp->leader, reps, isr,
                              (long long)pp->log_start, (long long)pp->log_end,
                              size);
            }
        }
        if (o->common.json) {
            tr_json_arr_end(&j);
            if (o->show_configs) {
                tr_json_key(&j, "configs");
                tr_json_obj_begin(&j);
                for (k = 0; k < ncfgs; k++) {
                    tr_json_key(&j, cfgs[k].name);
                    tr_json_str(&j, cfgs[k].value);
                }
                tr_json_obj_end(&j);
            }
            tr_json_obj_end(&j);
        }
    }
    if (o->common.json) {
        tr_json_arr_end(&j);
        tr_json_end(&j);
    } else {
        tr_table_print(t, stdout);
        if (o->show_configs && md->ntopics == 1) {
            printf("\nCONFIG\n");
            for (k = 0; k < ncfgs; k++) {
                printf("  %s=%s%s\n", cfgs[k].name,
                       cfgs[k].value ? cfgs[k].value : "",
                       cfgs[k].is_default ? "  (default)" : "");
            }
        }
    }
out:
    sizes_free(sizes, md != NULL ? md->nbrokers : 0);
    tr_admin_configs_free(cfgs, ncfgs);
    tr_table_free(t);
    tr_admin_metadata_free(md);
    return rc;
}

static int
report_kerr(const char *what, const char *topic, int16_t kerr, const char *msg)
{
    tr_cli_error(CMD, "%s '%s' failed: %s%s%s", what, topic,
                 tr_admin_kerr_name(kerr), msg && msg[0] ? ": " : "",
                 msg ? msg : "");
    return tr_cli_exit_for_kerr(kerr);
}

static void
json_result(struct topts *o, const char *topic, const char *status)
{
    struct tr_json j;

    if (!o->common.json) {
        return;
    }
    tr_json_init(&j, stdout);
    tr_json_obj_begin(&j);
    tr_json_key(&j, "topic");
    tr_json_str(&j, topic);
    tr_json_key(&j, "status");
    tr_json_str(&j, status);
    tr_json_obj_end(&j);
    tr_json_end(&j);
}

static int
cmd_create(struct tr_admin *a, struct topts *o, const char *name)
{
    struct tr_admin_new_topic nt;
    char errbuf[512], msg[512];
    int16_t kerr = 0;

    nt.name = name;
    nt.partitions = o->partitions > 0 ? (int32_t)o->partitions : 1;
    nt.replication = o->replication > 0 ? (int16_t)o->replication : 1;
    nt.configs = o->configs;
    nt.nconfigs = o->nconfigs;
    if (tr_admin_create_topic(a, &nt, o->common.timeout_ms, 0, &kerr, msg,
                              sizeof(msg), errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    if (kerr == TR_KERR_TOPIC_ALREADY_EXISTS && o->if_not_exists) {
        json_result(o, name, "exists");
        return TR_EXIT_OK;
    }
    if (kerr != 0) {
        return report_kerr("create", name, kerr, msg);
    }
    if (o->common.json) {
        json_result(o, name, "created");
    } else {
        printf("Created topic %s (%d partitions).\n", name, (int)nt.partitions);
    }
    return TR_EXIT_OK;
}

static int
cmd_delete(struct tr_admin *a, struct topts *o, char **names, int n)
{
    char errbuf[512];
    int16_t kerr;
    int i, rc = TR_EXIT_OK, failed = 0;
    struct tr_json j;

    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_arr_begin(&j);
    }
    for (i = 0; i < n; i++) {
        const char *status = "deleted";

        kerr = 0;
        if (tr_admin_delete_topic(a, names[i], o->common.timeout_ms, &kerr,
                                  errbuf, sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            rc = TR_EXIT_FAIL;
            status = "error";
            failed++;
        } else if (kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists) {
            status = "absent";
        } else if (kerr != 0) {
            rc = report_kerr("delete", names[i], kerr, NULL);
            status = "error";
            failed++;
        } else if (!o->common.json) {
            printf("Deleted topic %s.\n", names[i]);
        }
        if (o->common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "topic");
            tr_json_str(&j, names[i]);
            tr_json_key(&j, "status");
            tr_json_str(&j, status);
            if (kerr != 0) {
                tr_json_key(&j, "error_code");
                tr_json_int(&j, kerr);
            }
            tr_json_obj_end(&j);
        }
    }
    if (o->common.json) {
        tr_json_arr_end(&j);
        tr_json_end(&j);
    }
    if (failed > 0 && failed < n) {
        rc = TR_EXIT_PARTIAL;
    }
    return rc;
}

static int
cmd_alter(struct tr_admin *a, struct topts *o, const char *name)
{
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_topic *tp;
    char errbuf[512], msg[512];
    const char *one[1];
    int16_t kerr = 0;
    int rc;

    one[0] = name;
    if ((rc = metadata_or_fail(a, one, 1, &md)) != TR_EXIT_OK) {
        goto out;
    }
    tp = tr_admin_metadata_topic(md, name);
    if (tp == NULL || tp->err != 0) {
        rc = report_kerr("alter", name,
                         tp ? tp->err : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                         NULL);
        goto out;
    }
    if (o->replication > 0 && tp->nparts > 0 &&
        o->replication != tp->parts[0].nreplicas) {
        tr_cli_error(CMD,
                     "cannot change the replication factor of '%s' from %d "
                     "to %d: the collector keeps one replica per partition; "
                     "recreate the topic on a replicated cluster instead",
                     name, (int)tp->parts[0].nreplicas, (int)o->replication);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    if (o->partitions > 0 && o->partitions != tp->nparts) {
        if (tr_admin_create_partitions(
                a, name, (int32_t)o->partitions, o->common.timeout_ms, &kerr,
                msg, sizeof(msg), errbuf, sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            rc = TR_EXIT_FAIL;
            goto out;
        }
        if (kerr != 0) {
            rc = report_kerr("alter partitions of", name, kerr, msg);
            goto out;
        }
        if (!o->common.json) {
            printf("Topic %s now has %d partitions.\n", name,
                   (int)o->partitions);
        }
    }
    if (o->nconfigs > 0) {
        if (tr_admin_alter_configs(a, TR_ADMIN_RESOURCE_TOPIC, name, o->configs,
                                   o->nconfigs, &kerr, msg, sizeof(msg), errbuf,
                                   sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            rc = TR_EXIT_FAIL;
            goto out;
        }
        if (kerr != 0) {
            rc = report_kerr("alter configs of", name, kerr, msg);
            goto out;
        }
        if (!o->common.json) {
            printf("Updated %zu config(s) of topic %s.\n", o->nconfigs, name);
        }
    }
    json_result(o, name, "altered");
    rc = TR_EXIT_OK;
out:
    tr_admin_metadata_free(md);
    return rc;
}

int
tr_cmd_topics(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "partitions", required_argument, NULL, 'p' },
        { "replication-factor", required_argument, NULL, 'r' },
        { "config", required_argument, NULL, 'c' },
        { "delete-config", required_argument, NULL, 'd' },
        { "configs", no_argument, NULL, 'C' },
        { "if-not-exists", no_argument, NULL, 'N' },
        { "if-exists", no_argument, NULL, 'E' },
        { "internal", no_argument, NULL, 'I' },
        { NULL, 0, NULL, 0 },
    };
    struct topts o;
    struct tr_admin *a = NULL;
    const char *sub;
    int ch, r, rc = TR_EXIT_USAGE;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    while ((ch = getopt_long(argc, argv, "b:X:p:r:c:h", longopts, NULL)) !=
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
        case 'p':
            if (tr_cli_parse_i64(optarg, &o.partitions) != 0 ||
                o.partitions <= 0 || o.partitions > 100000) {
                tr_cli_error(CMD, "bad --partitions '%s': give 1 to 100000",
                             optarg);
                goto out;
            }
            break;
        case 'r':
            if (tr_cli_parse_i64(optarg, &o.replication) != 0 ||
                o.replication <= 0 || o.replication > 32767) {
                tr_cli_error(CMD, "bad --replication-factor '%s'", optarg);
                goto out;
            }
            break;
        case 'c':
            if (strchr(optarg, '=') == NULL) {
                tr_cli_error(CMD, "bad --config '%s': use KEY=VALUE", optarg);
                goto out;
            }
            if (add_config(&o, optarg) != 0) {
                goto out;
            }
            break;
        case 'd':
            /* A bare KEY (no '=') means delete to the config writers. */
            if (strchr(optarg, '=') != NULL || add_config(&o, optarg) != 0) {
                tr_cli_error(CMD, "bad --delete-config '%s'", optarg);
                goto out;
            }
            break;
        case 'C':
            o.show_configs = 1;
            break;
        case 'N':
            o.if_not_exists = 1;
            break;
        case 'E':
            o.if_exists = 1;
            break;
        case 'I':
            o.internal = 1;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(sub, "list") != 0 && strcmp(sub, "describe") != 0 &&
        strcmp(sub, "create") != 0 && strcmp(sub, "delete") != 0 &&
        strcmp(sub, "alter") != 0) {
        tr_cli_error(CMD,
                     "unknown subcommand '%s'; use list, describe, "
                     "create, delete or alter",
                     sub);
        goto out;
    }
    if ((strcmp(sub, "create") == 0 || strcmp(sub, "alter") == 0) &&
        argc != 1) {
        tr_cli_error(CMD, "%s takes exactly one TOPIC", sub);
        goto out;
    }
    if (strcmp(sub, "delete") == 0 && argc < 1) {
        tr_cli_error(CMD, "delete needs at least one TOPIC");
        goto out;
    }
    if (strcmp(sub, "alter") == 0 && o.partitions == 0 && o.replication == 0 &&
        o.nconfigs == 0) {
        tr_cli_error(CMD, "alter needs --partitions, --replication-factor, "
                          "--config or --delete-config");
        goto out;
    }
    a = tr_cli_admin(CMD, &o.common, &rc);
    if (a == NULL) {
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(a, &o);
    } else if (strcmp(sub, "describe") == 0) {
        rc = cmd_describe(a, &o, argv, argc);
    } else if (strcmp(sub, "create") == 0) {
        rc = cmd_create(a, &o, argv[0]);
    } else if (strcmp(sub, "delete") == 0) {
        rc = cmd_delete(a, &o, argv, argc);
    } else {
        rc = cmd_alter(a, &o, argv[0]);
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_free(o.configs);
    tr_admin_free(a);
    fflush(stdout);
    return rc;
}
