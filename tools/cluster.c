/*
 * cluster -- `tributary cluster [status]`: the brokers, the controller, and
 * the partitions that need attention (no leader, or fewer in-sync replicas
 * than replicas), from one Metadata answer. The other `tributary cluster`
 * subcommands (reassign, rebalance, elect-leaders) are in reassign.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "table.h"

#define CMD "cluster"

static void
usage(FILE *out)
{
    tr_cluster_reassign_usage(out);
    tr_cli_security_usage(out);
}

int
tr_cmd_cluster(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    const char *bh[] = { "ID", "HOST", "PORT", "RACK", "CONTROLLER" };
    const char *ph[] = { "TOPIC",    "PARTITION", "LEADER",
                         "REPLICAS", "ISR",       "PROBLEM" };
    struct tr_cli_common common;
    struct tr_admin *a = NULL;
    struct tr_admin_metadata *md = NULL;
    struct tr_table *bt = NULL, *pt = NULL;
    struct tr_json j;
    char errbuf[512];
    size_t i;
    int32_t p;
    int ch, r, rc = TR_EXIT_USAGE, pass, nbad = 0;

    if (argc >= 2 && argv[1][0] != '-') {
        if (strcmp(argv[1], "status") != 0) {
            rc = tr_cluster_subcommand(argv[1], argc - 1, argv + 1);
            if (rc < 0) {
                tr_cli_error(CMD, "unknown subcommand '%s'", argv[1]);
                tr_cluster_reassign_usage(stderr);
                rc = TR_EXIT_USAGE;
            }
            return rc;
        }
        argc--;
        argv++;
    }
    tr_cli_common_init(&common, CMD);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &common)) != 0) {
            if (r < 0) {
                goto out;
            }
            continue;
        }
        if (ch == 'h') {
            usage(stdout);
            rc = TR_EXIT_OK;
        } else {
            usage(stderr);
        }
        goto out;
    }
    if (optind != argc) {
        usage(stderr);
        goto out;
    }
    if ((a = tr_cli_admin(CMD, &common, &rc)) == NULL) {
        goto out;
    }
    if (tr_admin_metadata(a, NULL, 0, &md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    bt = tr_table_new(5, bh);
    pt = tr_table_new(6, ph);
    if (bt == NULL || pt == NULL) {
        rc = TR_EXIT_FAIL;
        goto out;
    }
    if (common.json) {
        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "cluster_id");
        tr_json_str(&j, md->cluster_id);
        tr_json_key(&j, "controller");
        tr_json_int(&j, md->controller);
        tr_json_key(&j, "brokers");
        tr_json_arr_begin(&j);
    }
    for (i = 0; i < md->nbrokers; i++) {
        struct tr_admin_broker *b = &md->brokers[i];

        if (common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "id");
            tr_json_int(&j, b->id);
            tr_json_key(&j, "host");
            tr_json_str(&j, b->host);
            tr_json_key(&j, "port");
            tr_json_int(&j, b->port);
            tr_json_key(&j, "rack");
            tr_json_str(&j, b->rack);
            tr_json_key(&j, "controller");
            tr_json_bool(&j, b->id == md->controller);
            tr_json_obj_end(&j);
        } else {
            tr_table_addf(bt, "%d\t%s\t%d\t%s\t%s", (int)b->id,
                          b->host ? b->host : "-", (int)b->port,
                          b->rack ? b->rack : "-",
                          b->id == md->controller ? "yes" : "");
        }
    }
    if (common.json) {
        tr_json_arr_end(&j);
    }
    /* Pass 0: no leader; pass 1: under-replicated. */
    for (pass = 0; pass < 2; pass++) {
        if (common.json) {
            tr_json_key(&j, pass == 0 ? "offline_partitions"
                                      : "under_replicated_partitions");
            tr_json_arr_begin(&j);
        }
        for (i = 0; i < md->ntopics; i++) {
            struct tr_admin_topic *t = &md->topics[i];

            for (p = 0; p < t->nparts && t->name != NULL; p++) {
                struct tr_admin_partition *pp = &t->parts[p];
                int bad = pass == 0
                              ? pp->leader < 0
                              : pp->leader >= 0 && pp->nisr < pp->nreplicas;

                if (!bad) {
                    continue;
                }
                nbad++;
                if (common.json) {
                    tr_json_obj_begin(&j);
                    tr_json_key(&j, "topic");
                    tr_json_str(&j, t->name);
                    tr_json_key(&j, "partition");
                    tr_json_int(&j, pp->id);
                    tr_json_key(&j, "leader");
                    tr_json_int(&j, pp->leader);
                    tr_json_key(&j, "replicas");
                    tr_json_int(&j, pp->nreplicas);
                    tr_json_key(&j, "isr");
                    tr_json_int(&j, pp->nisr);
                    tr_json_obj_end(&j);
                } else {
                    tr_table_addf(pt, "%s\t%d\t%d\t%d\t%d\t%s", t->name,
                                  (int)pp->id, (int)pp->leader,
                                  (int)pp->nreplicas, (int)pp->nisr,
                                  pass == 0 ? "no leader" : "under-replicated");
                }
            }
        }
        if (common.json) {
            tr_json_arr_end(&j);
        }
    }
    if (common.json) {
        tr_json_obj_end(&j);
        tr_json_end(&j);
    } else {
        printf("Cluster %s, controller %d\n\n",
               md->cluster_id ? md->cluster_id : "-", (int)md->controller);
        tr_table_print(bt, stdout);
        printf("\n");
        if (tr_table_rows(pt) == 0) {
            printf("All partitions have a leader and a full ISR.\n");
        } else {
            tr_table_print(pt, stdout);
        }
    }
    rc = nbad > 0 ? TR_EXIT_FAIL : TR_EXIT_OK;
out:
    tr_cli_common_cleanup(&common);
    tr_table_free(bt);
    tr_table_free(pt);
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}
