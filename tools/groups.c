/*
 * groups -- `tributary groups list|describe|reset-offsets|delete`.
 *
 * describe joins three answers: DescribeGroups (members and their
 * assignments, decoded from the consumer protocol), OffsetFetch (the
 * group's commits) and ListOffsets (each partition's end) into one row per
 * partition with its lag. reset-offsets computes a plan (earliest, latest,
 * an offset, a datetime or a shift, clamped into the log), prints it, and
 * unless --dry-run commits it -- only while the group has no members, as
 * Kafka requires, since live members would overwrite it.
 */
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "clock.h"
#include "consumer.h"
#include "table.h"

#define CMD "groups"

enum reset_to {
    TO_NONE = 0,
    TO_EARLIEST,
    TO_LATEST,
    TO_OFFSET,
    TO_DATETIME,
    TO_SHIFT,
};

struct gopts {
    struct tr_cli_common common;
    const char *topic;
    int32_t partitions[1024];
    size_t npartitions;
    enum reset_to to;
    int64_t value;
    int dry_run;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary groups list     [-b HOST:PORT] [--json]\n"
            "       tributary groups describe [-b HOST:PORT] [--json] GROUP\n"
            "       tributary groups reset-offsets [-b HOST:PORT] GROUP -t "
            "TOPIC [-p N]...\n"
            "              (--to-earliest | --to-latest | --to-offset N |\n"
            "               --to-datetime TIME | --shift-by [-]N) "
            "[--dry-run] [--json]\n"
            "       tributary groups delete   [-b HOST:PORT] GROUP...\n"
            "\n"
            "describe prints the members with their assignments and, per "
            "partition, the\ncommitted offset, the log end offset and the "
            "lag.\n"
            "reset-offsets needs a group without members (stop its "
            "consumers); it prints\nthe plan, and commits it unless "
            "--dry-run. TIME is ms since the epoch,\n"
            "YYYY-MM-DDTHH:MM:SSZ, or -1h/-30m/-10s.\n"
            "\n"
            "  -b, --bootstrap-server HOST:PORT[,...]\n"
            "      --json            one JSON document on stdout\n"
            "      --timeout MS      per request (default 10000)\n"
            "  -h, --help\n");
    tr_cli_security_usage(out);
}

static int
fail_err(const char *errbuf)
{
    tr_cli_error(CMD, "%s", errbuf);
    return strstr(errbuf, "GROUP_ID_NOT_FOUND") ? TR_EXIT_NOT_FOUND
                                                : TR_EXIT_FAIL;
}

static int
cmd_list(struct tr_admin *a, struct gopts *o)
{
    struct tr_admin_group *gs = NULL, *g = NULL;
    const char *headers[] = { "GROUP", "TYPE", "STATE", "MEMBERS" };
    struct tr_table *t = NULL;
    struct tr_json j;
    char errbuf[512];
    size_t n = 0, i;
    int rc = TR_EXIT_FAIL;

    if (tr_admin_list_groups(a, &gs, &n, errbuf, sizeof(errbuf)) != TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_arr_begin(&j);
    } else if ((t = tr_table_new(4, headers)) == NULL) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        tr_admin_groups_free(g, 1);
        g = NULL;
        if (tr_admin_describe_group(a, gs[i].id, &g, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            g = NULL;
        }
        if (o->common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "group");
            tr_json_str(&j, gs[i].id);
            tr_json_key(&j, "protocol_type");
            tr_json_str(&j, gs[i].protocol_type);
            tr_json_key(&j, "state");
            tr_json_str(&j, g ? g->state : NULL);
            tr_json_key(&j, "members");
            tr_json_int(&j, g ? (int64_t)g->nmembers : 0);
            tr_json_obj_end(&j);
        } else {
            tr_table_addf(t, "%s\t%s\t%s\t%zu", gs[i].id,
                          gs[i].protocol_type && gs[i].protocol_type[0]
                              ? gs[i].protocol_type
                              : "-",
                          g && g->state ? g->state : "-",
                          g ? g->nmembers : (size_t)0);
        }
    }
    if (o->common.json) {
        tr_json_arr_end(&j);
        tr_json_end(&j);
    } else {
        tr_table_print(t, stdout);
    }
    rc = TR_EXIT_OK;
out:
    tr_admin_groups_free(g, 1);
    tr_admin_groups_free(gs, n);
    tr_table_free(t);
    return rc;
}

/* One row of describe: a partition the group owns or committed. */
struct row {
    char *topic;
    int32_t partition;
    int64_t committed;
    int64_t end;
    const struct tr_admin_member *member;
};

static int
row_cmp(const void *x, const void *y)
{
    const struct row *a = x, *b = y;
    int d = strcmp(a->topic, b->topic);

    if (d != 0) {
        return d;
    }
    return a->partition < b->partition ? -1 : a->partition > b->partition;
}

static struct row *
row_find(struct row *rows, size_t n, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (rows[i].partition == partition &&
            strcmp(rows[i].topic, topic) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

/* Looks up the leader of a partition in 'md'. */
static int32_t
leader_of(struct tr_admin_metadata *md, const char *topic, int32_t partition)
{
    struct tr_admin_topic *t = tr_admin_metadata_topic(md, topic);
    int32_t i;

    for (i = 0; t != NULL && i < t->nparts; i++) {
        if (t->parts[i].id == partition) {
            return t->parts[i].leader;
        }
    }
    return -1;
}

static int
cmd_describe(struct tr_admin *a, struct gopts *o, const char *group)
{
    struct tr_admin_group *g = NULL;
    struct tr_admin_tp *tps = NULL;
    struct tr_admin_metadata *md = NULL;
    struct row *rows = NULL;
    size_t ntps = 0, nrows = 0, i, k, cap;
    const char *mh[] = { "MEMBER", "CLIENT", "HOST", "ASSIGNED" };
    const char *ph[] = { "TOPIC", "PARTITION", "COMMITTED",
                         "END",   "LAG",       "MEMBER" };
    struct tr_table *mt = NULL, *pt = NULL;
    struct tr_json j;
    char errbuf[512];
    int16_t kerr;
    int rc = TR_EXIT_FAIL;

    if (tr_admin_describe_group(a, group, &g, errbuf, sizeof(errbuf)) !=
        TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    if (g->err != 0) {
        tr_cli_error(CMD, "group '%s': %s", group, tr_admin_kerr_name(g->err));
        rc = tr_cli_exit_for_kerr(g->err);
        goto out;
    }
    if (tr_admin_fetch_offsets(a, group, NULL, 0, &tps, &ntps, &kerr, errbuf,
                               sizeof(errbuf)) != TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    if ((g->state == NULL || strcmp(g->state, "Dead") == 0) && ntps == 0) {
        tr_cli_error(CMD,
                     "group '%s' does not exist; see 'tributary groups "
                     "list'",
                     group);
        rc = TR_EXIT_NOT_FOUND;
        goto out;
    }
    cap = ntps;
    for (i = 0; i < g->nmembers; i++) {
        cap += g->members[i].nassigned;
    }
    rows = tr_calloc(cap + 1, sizeof(*rows));
    if (rows == NULL) {
        goto out;
    }
    for (i = 0; i < ntps; i++) {
        rows[nrows].topic = tps[i].topic;
        rows[nrows].partition = tps[i].partition;
        rows[nrows].committed = tps[i].offset;
        rows[nrows].end = -1;
        nrows++;
    }
    for (i = 0; i < g->nmembers; i++) {
        for (k = 0; k < g->members[i].nassigned; k++) {
            struct tr_admin_tp *tp = &g->members[i].assigned[k];
            struct row *r = row_find(rows, nrows, tp->topic, tp->partition);

            if (r == NULL) {
                r = &rows[nrows++];
                r->topic = tp->topic;
                r->partition = tp->partition;
                r->committed = -1;
                r->end = -1;
            }
            r->member = &g->members[i];
        }
    }
    qsort(rows, nrows, sizeof(*rows), row_cmp);
    if (nrows > 0) {
        if (tr_admin_metadata(a, NULL, 0, &md, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            rc = fail_err(errbuf);
            goto out;
        }
        for (i = 0; i < nrows; i++) {
            int32_t leader = leader_of(md, rows[i].topic, rows[i].partition);

            if (leader >= 0 && tr_admin_list_offset(
                                   a, leader, rows[i].topic, rows[i].partition,
                                   TR_ADMIN_LATEST, &rows[i].end, &kerr, errbuf,
                                   sizeof(errbuf)) != TR_OK) {
                rc = fail_err(errbuf);
                goto out;
            }
        }
    }
    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "group");
        tr_json_str(&j, group);
        tr_json_key(&j, "state");
        tr_json_str(&j, g->state);
        tr_json_key(&j, "protocol_type");
        tr_json_str(&j, g->protocol_type);
        tr_json_key(&j, "protocol");
        tr_json_str(&j, g->protocol);
        tr_json_key(&j, "members");
        tr_json_arr_begin(&j);
        for (i = 0; i < g->nmembers; i++) {
            struct tr_admin_member *m = &g->members[i];

            tr_json_obj_begin(&j);
            tr_json_key(&j, "member_id");
            tr_json_str(&j, m->id);
            tr_json_key(&j, "client_id");
            tr_json_str(&j, m->client_id);
            tr_json_key(&j, "client_host");
            tr_json_str(&j, m->client_host);
            tr_json_key(&j, "assignment");
            tr_json_arr_begin(&j);
            for (k = 0; k < m->nassigned; k++) {
                tr_json_obj_begin(&j);
                tr_json_key(&j, "topic");
                tr_json_str(&j, m->assigned[k].topic);
                tr_json_key(&j, "partition");
                tr_json_int(&j, m->assigned[k].partition);
                tr_json_obj_end(&j);
            }
            tr_json_arr_end(&j);
            tr_json_obj_end(&j);
        }
        tr_json_arr_end(&j);
        tr_json_key(&j, "partitions");
        tr_json_arr_begin(&j);
        for (i = 0; i < nrows; i++) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "topic");
            tr_json_str(&j, rows[i].topic);
            tr_json_key(&j, "partition");
            tr_json_int(&j, rows[i].partition);
            tr_json_key(&j, "committed_offset");
            if (rows[i].committed >= 0) {
                tr_json_int(&j, rows[i].committed);
            } else {
                tr_json_null(&j);
            }
            tr_json_key(&j, "log_end_offset");
            tr_json_int(&j, rows[i].end);
            tr_json_key(&j, "lag");
            if (rows[i].committed >= 0 && rows[i].end >= 0) {
                tr_json_int(&j, rows[i].end - rows[i].committed);
            } else {
                tr_json_null(&j);
            }
            tr_json_key(&j, "member_id");
            tr_json_str(&j, rows[i].member ? rows[i].member->id : NULL);
            tr_json_obj_end(&j);
        }
        tr_json_arr_end(&j);
        tr_json_obj_end(&j);
        tr_json_end(&j);
        rc = TR_EXIT_OK;
        goto out;
    }
    mt = tr_table_new(4, mh);
    pt = tr_table_new(6, ph);
    if (mt == NULL || pt == NULL) {
        goto out;
    }
    printf("Group %s: %s, %zu member(s)%s%s\n\n", group,
           g->state ? g->state : "-", g->nmembers,
           g->protocol && g->protocol[0] ? ", assignor " : "",
           g->protocol ? g->protocol : "");
    for (i = 0; i < g->nmembers; i++) {
        struct tr_admin_member *m = &g->members[i];
        char assigned[1024];
        size_t used = 0;

        assigned[0] = '\0';
        for (k = 0; k < m->nassigned && used + 64 < sizeof(assigned); k++) {
            used +=
                (size_t)snprintf(assigned + used, sizeof(assigned) - used,
                                 "%s%s:%d", k ? "," : "", m->assigned[k].topic,
                                 (int)m->assigned[k].partition);
        }
        tr_table_addf(mt, "%s\t%s\t%s\t%s", m->id ? m->id : "-",
                      m->client_id ? m->client_id : "-",
                      m->client_host ? m->client_host : "-",
                      m->nassigned ? assigned : "-");
    }
    if (g->nmembers > 0) {
        tr_table_print(mt, stdout);
        printf("\n");
    }
    for (i = 0; i < nrows; i++) {
        char committed[32], lag[32];

        snprintf(committed, sizeof(committed), "%lld",
                 (long long)rows[i].committed);
        snprintf(lag, sizeof(lag), "%lld",
                 (long long)(rows[i].end - rows[i].committed));
        tr_table_addf(pt, "%s\t%d\t%s\t%lld\t%s\t%s", rows[i].topic,
                      (int)rows[i].partition,
                      rows[i].committed >= 0 ? committed : "-",
                      (long long)rows[i].end,
                      rows[i].committed >= 0 && rows[i].end >= 0 ? lag : "-",
                      rows[i].member ? rows[i].member->id : "-");
    }
    tr_table_print(pt, stdout);
    rc = TR_EXIT_OK;
out:
    tr_table_free(mt);
    tr_table_free(pt);
    tr_free(rows);
    tr_admin_metadata_free(md);
    tr_admin_tps_free(tps, ntps);
    tr_admin_groups_free(g, 1);
    return rc;
}

struct first_rec {
    int found;
    int64_t offset;
};

static void
first_cb(const struct tr_consumer_batch *b, void *arg)
{
    struct first_rec *f = arg;

    if (!f->found && b->count > 0) {
        f->found = 1;
        f->offset = b->records[0].offset;
    }
}

/*
 * The offset of the first record at or after 'ts': ListOffsets may answer
 * with the start of the batch holding the time, so the records are read
 * from there (the consumer skips the older ones). 'end' when none.
 */
static int64_t
offset_for_time(const struct tr_cli_common *common, const char *topic,
                int32_t partition, int64_t ts, int64_t end)
{
    struct tr_consumer_config cfg;
    struct tr_consumer *cons = NULL;
    struct event_base *base = event_base_new();
    struct first_rec f = { 0, end };
    int64_t deadline = tr_clock_mono_ms() + common->timeout_ms, pos;

    if (base == NULL) {
        return end;
    }
    tr_consumer_config_defaults(&cfg);
    cfg.bootstrap = common->bootstrap;
    cfg.security = common->security; /* prepared by tr_cli_admin */
    cfg.client_id = "tributary-groups";
    cfg.fetch_max_wait_ms = 100;
    if (tr_consumer_new(base, &cfg, first_cb, &f, &cons) == TR_OK &&
        tr_consumer_assign_time(cons, topic, partition, ts) == TR_OK) {
        while (!f.found && tr_clock_mono_ms() < deadline) {
            pos = tr_consumer_position(cons, topic, partition, NULL);
            if (tr_consumer_ready(cons) && pos >= end) {
                break;
            }
            tr_consumer_poll(cons, 100);
        }
    }
    tr_consumer_free(cons);
    event_base_free(base);
    return f.offset;
}

static int
cmd_reset(struct tr_admin *a, struct gopts *o, const char *group)
{
    struct tr_admin_group *g = NULL;
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_topic *t;
    struct tr_admin_tp *cur = NULL, *plan = NULL;
    size_t ncur = 0, nplan = 0, i;
    const char *one[1] = { o->topic };
    const char *ph[] = { "TOPIC", "PARTITION", "CURRENT", "NEW" };
    struct tr_table *pt = NULL;
    struct tr_json j;
    char errbuf[512];
    int16_t kerr;
    int32_t p;
    int rc = TR_EXIT_FAIL;

    if (tr_admin_describe_group(a, group, &g, errbuf, sizeof(errbuf)) !=
        TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    if (g->nmembers > 0 && !o->dry_run) {
        tr_cli_error(CMD,
                     "group '%s' has %zu active member(s) (state %s); "
                     "stop its consumers first, or use --dry-run to see "
                     "the plan",
                     group, g->nmembers, g->state ? g->state : "-");
        goto out;
    }
    if (tr_admin_metadata(a, one, 1, &md, errbuf, sizeof(errbuf)) != TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    t = tr_admin_metadata_topic(md, o->topic);
    if (t == NULL || t->err != 0) {
        tr_cli_error(CMD,
                     "topic '%s' does not exist; see 'tributary topics "
                     "list'",
                     o->topic);
        rc = TR_EXIT_NOT_FOUND;
        goto out;
    }
    if (tr_admin_fetch_offsets(a, group, o->topic, t->nparts, &cur, &ncur,
                               &kerr, errbuf, sizeof(errbuf)) != TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    if (tr_admin_offsets(a, md, errbuf, sizeof(errbuf)) != TR_OK) {
        rc = fail_err(errbuf);
        goto out;
    }
    plan = tr_calloc((size_t)t->nparts + 1, sizeof(*plan));
    if (plan == NULL) {
        goto out;
    }
    for (p = 0; p < t->nparts; p++) {
        struct tr_admin_partition *pp = &t->parts[p];
        int64_t current = -1, target = -1;

        if (o->npartitions > 0) {
            for (i = 0; i < o->npartitions && o->partitions[i] != pp->id; i++) {
            }
            if (i == o->npartitions) {
                continue;
            }
        }
        for (i = 0; i < ncur; i++) {
            if (cur[i].partition == pp->id) {
                current = cur[i].offset;
            }
        }
        switch (o->to) {
        case TO_EARLIEST:
            target = pp->log_start;
            break;
        case TO_LATEST:
            target = pp->log_end;
            break;
        case TO_OFFSET:
            target = o->value;
            break;
        case TO_DATETIME:
            if (tr_admin_list_offset(a, pp->leader, o->topic, pp->id, o->value,
                                     &target, &kerr, errbuf,
                                     sizeof(errbuf)) != TR_OK) {
                rc = fail_err(errbuf);
                goto out;
            }
            target = target < 0 ? pp->log_end
                                : offset_for_time(&o->common, o->topic, pp->id,
                                                  o->value, pp->log_end);
            break;
        case TO_SHIFT:
            target = (current >= 0 ? current : pp->log_end) + o->value;
            break;
        default:
            break;
        }
        if (target < pp->log_start) {
            target = pp->log_start;
        }
        if (target > pp->log_end) {
            target = pp->log_end;
        }
        plan[nplan].topic = (char *)o->topic;
        plan[nplan].partition = pp->id;
        plan[nplan].offset = target;
        if (!o->common.json) {
            if (pt == NULL && (pt = tr_table_new(4, ph)) == NULL) {
                goto out;
            }
            if (current >= 0) {
                tr_table_addf(pt, "%s\t%d\t%lld\t%lld", o->topic, (int)pp->id,
                              (long long)current, (long long)target);
            } else {
                tr_table_addf(pt, "%s\t%d\t-\t%lld", o->topic, (int)pp->id,
                              (long long)target);
            }
        }
        nplan++;
    }
    if (!o->dry_run && nplan > 0) {
        if (tr_admin_commit_offsets(a, group, plan, nplan, &kerr, errbuf,
                                    sizeof(errbuf)) != TR_OK) {
            rc = fail_err(errbuf);
            goto out;
        }
        if (kerr != 0) {
            tr_cli_error(CMD, "committing the new offsets failed: %s",
                         tr_admin_kerr_name(kerr));
            rc = tr_cli_exit_for_kerr(kerr);
            if (rc == TR_EXIT_OK) {
                rc = TR_EXIT_FAIL;
            }
            goto out;
        }
    }
    if (o->common.json) {
        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "group");
        tr_json_str(&j, group);
        tr_json_key(&j, "dry_run");
        tr_json_bool(&j, o->dry_run);
        tr_json_key(&j, "partitions");
        tr_json_arr_begin(&j);
        for (i = 0; i < nplan; i++) {
            int64_t current = -1;
            size_t k;

            for (k = 0; k < ncur; k++) {
                if (cur[k].partition == plan[i].partition) {
                    current = cur[k].offset;
                }
            }
            tr_json_obj_begin(&j);
            tr_json_key(&j, "topic");
            tr_json_str(&j, plan[i].topic);
            tr_json_key(&j, "partition");
            tr_json_int(&j, plan[i].partition);
            tr_json_key(&j, "current_offset");
            if (current >= 0) {
                tr_json_int(&j, current);
            } else {
                tr_json_null(&j);
            }
            tr_json_key(&j, "new_offset");
            tr_json_int(&j, plan[i].offset);
            tr_json_obj_end(&j);
        }
        tr_json_arr_end(&j);
        tr_json_obj_end(&j);
        tr_json_end(&j);
    } else {
        if (pt != NULL) {
            tr_table_print(pt, stdout);
        }
        printf("%s\n", o->dry_run ? "Dry run: nothing was committed."
                                  : "Committed the new offsets.");
    }
    rc = TR_EXIT_OK;
out:
    tr_table_free(pt);
    tr_free(plan); /* its topic strings are borrowed */
    tr_admin_tps_free(cur, ncur);
    tr_admin_metadata_free(md);
    tr_admin_groups_free(g, 1);
    return rc;
}

static int
cmd_delete(struct tr_admin *a, struct gopts *o, char **names, int n)
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
        kerr = 0;
        if (tr_admin_delete_group(a, names[i], &kerr, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            rc = fail_err(errbuf);
            failed++;
        } else if (kerr != 0) {
            tr_cli_error(CMD, "delete group '%s' failed: %s", names[i],
                         tr_admin_kerr_name(kerr));
            rc = tr_cli_exit_for_kerr(kerr);
            failed++;
        } else if (!o->common.json) {
            printf("Deleted group %s.\n", names[i]);
        }
        if (o->common.json) {
            tr_json_obj_begin(&j);
            tr_json_key(&j, "group");
            tr_json_str(&j, names[i]);
            tr_json_key(&j, "error_code");
            tr_json_int(&j, kerr);
            tr_json_obj_end(&j);
        }
    }
    if (o->common.json) {
        tr_json_arr_end(&j);
        tr_json_end(&j);
    }
    return failed > 0 && failed < n ? TR_EXIT_PARTIAL : rc;
}

int
tr_cmd_groups(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "topic", required_argument, NULL, 't' },
        { "partition", required_argument, NULL, 'p' },
        { "to-earliest", no_argument, NULL, 'E' },
        { "to-latest", no_argument, NULL, 'L' },
        { "to-offset", required_argument, NULL, 'O' },
        { "to-datetime", required_argument, NULL, 'D' },
        { "shift-by", required_argument, NULL, 'S' },
        { "dry-run", no_argument, NULL, 'n' },
        { "execute", no_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    struct gopts o;
    struct tr_admin *a = NULL;
    const char *sub;
    int64_t v;
    int ch, r, rc = TR_EXIT_USAGE, nto = 0;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    if ((r = tr_cli_take_subcommand(&argc, &argv, usage, &sub)) >= 0) {
        return r;
    }
    while ((ch = getopt_long(argc, argv, "b:X:t:p:h", longopts, NULL)) != -1) {
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
        case 't':
            o.topic = optarg;
            break;
        case 'p':
            if (tr_cli_parse_i64(optarg, &v) != 0 || v < 0 ||
                o.npartitions == 1024) {
                tr_cli_error(CMD, "bad --partition '%s'", optarg);
                goto out;
            }
            o.partitions[o.npartitions++] = (int32_t)v;
            break;
        case 'E':
            o.to = TO_EARLIEST;
            nto++;
            break;
        case 'L':
            o.to = TO_LATEST;
            nto++;
            break;
        case 'O':
            if (tr_cli_parse_i64(optarg, &o.value) != 0 || o.value < 0) {
                tr_cli_error(CMD, "bad --to-offset '%s'", optarg);
                goto out;
            }
            o.to = TO_OFFSET;
            nto++;
            break;
        case 'D':
            if (tr_cli_parse_time(optarg, tr_clock_wall_ms(), &o.value) != 0) {
                tr_cli_error(CMD,
                             "bad --to-datetime '%s': use ms since the "
                             "epoch, YYYY-MM-DDTHH:MM:SSZ or -1h",
                             optarg);
                goto out;
            }
            o.to = TO_DATETIME;
            nto++;
            break;
        case 'S':
            if (tr_cli_parse_i64(optarg, &o.value) != 0) {
                tr_cli_error(CMD, "bad --shift-by '%s'", optarg);
                goto out;
            }
            o.to = TO_SHIFT;
            nto++;
            break;
        case 'n':
            o.dry_run = 1;
            break;
        case 'x':
            o.dry_run = 0;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(sub, "list") == 0) {
        if (argc != 0) {
            tr_cli_error(CMD, "list takes no arguments");
            goto out;
        }
    } else if (strcmp(sub, "describe") == 0) {
        if (argc != 1) {
            tr_cli_error(CMD, "describe takes one GROUP");
            goto out;
        }
    } else if (strcmp(sub, "reset-offsets") == 0) {
        if (argc != 1 || o.topic == NULL || nto != 1) {
            tr_cli_error(CMD, "reset-offsets takes one GROUP, --topic and "
                              "exactly one of --to-earliest, --to-latest, "
                              "--to-offset, --to-datetime, --shift-by");
            goto out;
        }
    } else if (strcmp(sub, "delete") == 0) {
        if (argc < 1) {
            tr_cli_error(CMD, "delete needs at least one GROUP");
            goto out;
        }
    } else {
        tr_cli_error(CMD,
                     "unknown subcommand '%s'; use list, describe, "
                     "reset-offsets or delete",
                     sub);
        goto out;
    }
    if ((a = tr_cli_admin(CMD, &o.common, &rc)) == NULL) {
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(a, &o);
    } else if (strcmp(sub, "describe") == 0) {
        rc = cmd_describe(a, &o, argv[0]);
    } else if (strcmp(sub, "reset-offsets") == 0) {
        rc = cmd_reset(a, &o, argv[0]);
    } else {
        rc = cmd_delete(a, &o, argv, argc);
    }
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_free(a);
    fflush(stdout);
    return rc;
}
