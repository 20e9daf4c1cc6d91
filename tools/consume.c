/*
 * consume -- `tributary consume`: print records of a topic.
 *
 * By assignment (all partitions, or those named with -p) from the
 * beginning, the end, an offset or a timestamp; or as a member of a group
 * (-g), starting at the group's committed offsets. Records are printed with
 * a format template or as JSON lines. --count stops after N records,
 * --until-end at the end offsets read when the command started. In a group
 * the command commits exactly what it printed.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "clock.h"
#include "consumer.h"
#include "progress.h"
#include "table.h"

#define CMD "consume"

/* Set by SIGINT/SIGTERM: the one piece of global state, read by the loop. */
static volatile sig_atomic_t stop_requested;

struct cpart_state {
    int32_t partition;
    int64_t end;     /* end offset when started */
    int64_t printed; /* next offset after the last printed record, -1 */
    int selected;
};

struct cons {
    const char *topic;
    const char *format;
    int json;
    int plain_value; /* the format is the default '%v\n' */
    FILE *out;
    int64_t count; /* -1: no limit */
    int64_t printed;
    struct cpart_state *parts;
    int32_t nparts;
    int failed;
    struct tr_progress progress;
    struct tr_consumer *cons;
};

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary consume -b HOST:PORT -t TOPIC [options]\n"
            "\n"
            "Where to start (assignment; default --from-end):\n"
            "      --from-beginning        the log start of each partition\n"
            "      --from-end              only records produced from now on\n"
            "  -o, --offset N              offset N (needs -p)\n"
            "      --from-time TIME        the first record at or after TIME "
            "(ms since the\n"
            "                              epoch, 2024-05-01T12:00:00Z, or "
            "-1h/-30m/-10s)\n"
            "  -p, --partition N           only partition N (repeatable)\n"
            "In a group:\n"
            "  -g, --group GROUP           join GROUP; start at its commits, "
            "else at\n"
            "                              --from-beginning/--from-end "
            "(default end)\n"
            "      --assignor range|roundrobin\n"
            "When to stop:\n"
            "  -c, --count N               after N records\n"
            "  -e, --until-end             at the end offsets seen at the "
            "start\n"
            "Output:\n"
            "  -F, --format TEMPLATE       %%t topic, %%p partition, %%o "
            "offset, %%T timestamp,\n"
            "                              %%k key, %%v value, %%h headers, "
            "%%%% percent,\n"
            "                              \\n \\t; default '%%v\\n'\n"
            "      --json                  one JSON object per record\n"
            "  -O, --output FILE           write records to FILE (a "
            "progress bar is drawn\n"
            "                              with --until-end on a terminal)\n"
            "  -b, --bootstrap-server HOST:PORT[,...]\n"
            "      --timeout MS            connect/request timeout (default "
            "10000)\n"
            "  -h, --help\n"
            "Consumer properties (-X KEY=VALUE, librdkafka's names):\n");
    tr_consumer_config_help(out, "  ");
    tr_cli_security_usage(out);
}

/*
 * Output is the hot path when a topic is read at full speed: records are
 * written with the stream locked once per batch (batch_cb) and the
 * unlocked stdio calls, integers without printf, into a 1 MiB buffer.
 */
static void
put_bytes(FILE *out, const uint8_t *p, int32_t len)
{
    if (len > 0) {
        fwrite_unlocked(p, 1, (size_t)len, out);
    }
}

static void
put_str(FILE *out, const char *str)
{
    fwrite_unlocked(str, 1, strlen(str), out);
}

static void
put_i64(FILE *out, int64_t v)
{
    char buf[24];
    size_t i = sizeof(buf);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        buf[--i] = '-';
    }
    fwrite_unlocked(buf + i, 1, sizeof(buf) - i, out);
}

static void
print_headers(FILE *out, const struct tr_record *rec)
{
    struct tr_slice s;
    struct tr_record_header h;
    int first = 1;

    tr_slice_init(&s, rec->headers, rec->headers_len);
    while (tr_record_headers_next(&s, &h) == TR_OK) {
        put_str(out, first ? "" : ",");
        put_bytes(out, h.key, h.key_len);
        fputc_unlocked('=', out);
        put_bytes(out, h.value, h.value_len);
        first = 0;
    }
}

static void
print_template(struct cons *c, const char *topic, int32_t partition,
               const struct tr_record *rec)
{
    const char *f;
    FILE *out = c->out;

    if (c->plain_value) {
        put_bytes(out, rec->value, rec->value_len);
        fputc_unlocked('\n', out);
        return;
    }
    for (f = c->format; *f != '\0'; f++) {
        if (*f == '\\' && f[1] != '\0') {
            f++;
            fputc_unlocked(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f, out);
            continue;
        }
        if (*f != '%' || f[1] == '\0') {
            fputc_unlocked(*f, out);
            continue;
        }
        switch (*++f) {
        case 't':
            put_str(out, topic);
            break;
        case 'p':
            put_i64(out, partition);
            break;
        case 'o':
            put_i64(out, rec->offset);
            break;
        case 'T':
            put_i64(out, rec->timestamp);
            break;
        case 'k':
            put_bytes(out, rec->key, rec->key_len);
            break;
        case 'v':
            put_bytes(out, rec->value, rec->value_len);
            break;
        case 'h':
            print_headers(out, rec);
            break;
        default:
            fputc_unlocked(*f, out);
            break;
        }
    }
}

/* Writes one record as a JSON object (also the exporter's jsonl form). */
static void
print_json(FILE *out, const char *topic, int32_t partition,
           const struct tr_record *rec)
{
    struct tr_slice s;
    struct tr_record_header h;
    int first = 1;

    fputs("{\"topic\":", out);
    tr_json_escape(out, topic, strlen(topic));
    fprintf(out,
            ",\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld,"
            "\"key\":",
            (int)partition, (long long)rec->offset, (long long)rec->timestamp);
    if (rec->key_len < 0) {
        fputs("null", out);
    } else {
        tr_json_escape(out, (const char *)rec->key, (size_t)rec->key_len);
    }
    fputs(",\"value\":", out);
    if (rec->value_len < 0) {
        fputs("null", out);
    } else {
        tr_json_escape(out, (const char *)rec->value, (size_t)rec->value_len);
    }
    fputs(",\"headers\":{", out);
    tr_slice_init(&s, rec->headers, rec->headers_len);
    while (tr_record_headers_next(&s, &h) == TR_OK) {
        fputs(first ? "" : ",", out);
        tr_json_escape(out, (const char *)h.key,
                       h.key_len > 0 ? (size_t)h.key_len : 0);
        fputc(':', out);
        if (h.value_len < 0) {
            fputs("null", out);
        } else {
            tr_json_escape(out, (const char *)h.value, (size_t)h.value_len);
        }
        first = 0;
    }
    fputs("}}\n", out);
}

static struct cpart_state *
state_of(struct cons *c, int32_t partition)
{
    if (partition < 0 || partition >= c->nparts) {
        return NULL;
    }
    return &c->parts[partition];
}

static void
batch_cb(const struct tr_consumer_batch *b, void *arg)
{
    struct cons *c = arg;
    struct cpart_state *ps = state_of(c, b->partition);
    size_t i;

    flockfile(c->out);
    for (i = 0; i < b->count; i++) {
        if (c->count >= 0 && c->printed >= c->count) {
            break;
        }
        if (c->json) {
            print_json(c->out, b->topic, b->partition, &b->records[i]);
        } else {
            print_template(c, b->topic, b->partition, &b->records[i]);
        }
        c->printed++;
        if (ps != NULL) {
            ps->printed = b->records[i].offset + 1;
        }
    }
    funlockfile(c->out);
    tr_progress_update(&c->progress, c->printed);
}

static void
error_cb(const char *topic, int32_t partition, tr_err_t err, int16_t kerr,
         void *arg)
{
    struct cons *c = arg;

    if (kerr == TR_KERR_OFFSET_OUT_OF_RANGE) {
        tr_cli_error(CMD, "%s [%d]: the offset is out of range", topic,
                     (int)partition);
    } else if (kerr != 0) {
        tr_cli_error(CMD, "%s [%d]: %s", topic, (int)partition,
                     tr_admin_kerr_name(kerr));
    } else {
        tr_cli_error(CMD, "%s [%d]: %s", topic, (int)partition,
                     tr_err_str(err));
    }
    c->failed = kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION ? TR_EXIT_NOT_FOUND
                                                           : TR_EXIT_FAIL;
}

/* 1 once every assigned partition reached its end offset. */
static int
at_end(struct cons *c, struct tr_consumer *cons)
{
    struct tr_consumer_tp tps[1024];
    size_t n, i;
    int64_t pos;

    if (!tr_consumer_ready(cons)) {
        return 0;
    }
    n = tr_consumer_assignment(cons, tps, 1024);
    if (n > 1024) {
        n = 1024;
    }
    for (i = 0; i < n; i++) {
        struct cpart_state *ps = state_of(c, tps[i].partition);

        int64_t end, readable;

        pos = tr_consumer_position(cons, tps[i].topic, tps[i].partition, NULL);
        if (ps == NULL) {
            continue;
        }
        /*
         * Under read_committed the end is the last stable offset when it
         * is lower: an open transaction's records cannot be read yet.
         */
        end = ps->end;
        readable = tr_consumer_end(cons, tps[i].topic, tps[i].partition);
        if (readable >= 0 && readable < end) {
            end = readable;
        }
        if (pos < 0 || pos < end) {
            return 0;
        }
    }
    return 1;
}

/* Commits what was printed (group mode). */
static void
commit_printed(struct cons *c, struct tr_consumer *cons)
{
    int32_t p;

    for (p = 0; p < c->nparts; p++) {
        if (c->parts[p].printed >= 0) {
            tr_consumer_commit(cons, c->topic, p, c->parts[p].printed);
        }
    }
}

/* Group mode: commits on revoke what this member printed. */
static void
rebalance_cb(int assigned, const struct tr_consumer_tp *tps, size_t n,
             void *arg)
{
    struct cons *c = arg;
    size_t i;

    for (i = 0; !assigned && i < n; i++) {
        struct cpart_state *ps = state_of(c, tps[i].partition);

        if (ps != NULL && ps->printed >= 0) {
            tr_consumer_commit(c->cons, c->topic, tps[i].partition,
                               ps->printed);
        }
    }
}

/* -X KEY=VALUE for the consumer: 1 taken, 0 not ours, -1 bad (told). */
static int
consumer_opt(const char *arg, struct tr_consumer_config *cfg)
{
    char errbuf[256];
    tr_err_t err = tr_consumer_config_set_arg(cfg, arg, errbuf, sizeof(errbuf));

    if (err == TR_ERR_NOT_FOUND) {
        return 0;
    }
    if (err != TR_OK) {
        tr_cli_error(CMD, "-X %s", errbuf);
        return -1;
    }
    return 1;
}

/* Reads partition count and end offsets; 0 or an exit code. */
static int
prepare(struct cons *c, const struct tr_cli_common *common)
{
    struct tr_admin *a;
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_topic *t;
    const char *one[1] = { c->topic };
    char errbuf[512];
    int16_t kerr;
    int32_t p;
    int rc = TR_EXIT_FAIL;

    if ((a = tr_cli_admin(CMD, common, &rc)) == NULL) {
        return rc;
    }
    if (tr_admin_metadata(a, one, 1, &md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        goto out;
    }
    t = tr_admin_metadata_topic(md, c->topic);
    if (t == NULL || t->err != 0) {
        kerr = t ? t->err : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (kerr == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            tr_cli_error(CMD,
                         "topic '%s' does not exist; see 'tributary "
                         "topics list'",
                         c->topic);
        } else {
            tr_cli_error(CMD, "topic '%s': %s", c->topic,
                         tr_admin_kerr_name(kerr));
        }
        rc = tr_cli_exit_for_kerr(kerr);
        goto out;
    }
    c->nparts = t->nparts;
    c->parts = tr_calloc((size_t)t->nparts + 1, sizeof(*c->parts));
    if (c->parts == NULL) {
        goto out;
    }
    for (p = 0; p < t->nparts; p++) {
        struct tr_admin_partition *pp = &t->parts[p];

        if (pp->id < 0 || pp->id >= t->nparts) {
            continue;
        }
        c->parts[pp->id].partition = pp->id;
        c->parts[pp->id].printed = -1;
        if (tr_admin_list_offset(a, pp->leader, c->topic, pp->id,
                                 TR_ADMIN_LATEST, &c->parts[pp->id].end, &kerr,
                                 errbuf, sizeof(errbuf)) != TR_OK) {
            tr_cli_error(CMD, "%s", errbuf);
            goto out;
        }
    }
    rc = TR_EXIT_OK;
out:
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}

int
tr_cmd_consume(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "topic", required_argument, NULL, 't' },
        { "partition", required_argument, NULL, 'p' },
        { "offset", required_argument, NULL, 'o' },
        { "from-beginning", no_argument, NULL, 'B' },
        { "from-end", no_argument, NULL, 'E' },
        { "from-time", required_argument, NULL, 'T' },
        { "group", required_argument, NULL, 'g' },
        { "assignor", required_argument, NULL, 'A' },
        { "count", required_argument, NULL, 'c' },
        { "until-end", no_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'F' },
        { "output", required_argument, NULL, 'O' },
        { "progress", no_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    struct tr_cli_common common;
    struct tr_consumer_config cfg;
    struct tr_consumer *cons = NULL;
    struct event_base *base = NULL;
    struct cons c;
    const char *group = NULL, *assignor = "range", *output = NULL;
    int32_t sel[1024];
    size_t nsel = 0, i;
    int64_t offset = TR_OFFSET_END, ts = -1, v, total;
    int ch, r, rc = TR_EXIT_USAGE, until_end = 0, from_set = 0, force = 0;
    int64_t last_commit = 0;
    struct sigaction sa;
    tr_err_t err;

    memset(&c, 0, sizeof(c));
    tr_consumer_config_defaults(&cfg);
    c.format = "%v\\n";
    c.count = -1;
    c.out = stdout;
    tr_cli_common_init(&common, CMD);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:X:t:p:o:g:c:eF:O:h", longopts,
                             NULL)) != -1) {
        if (ch == 'X' && (r = consumer_opt(optarg, &cfg)) != 0) {
            if (r < 0) {
                goto out;
            }
            continue;
        }
        if ((r = tr_cli_common_opt(ch, optarg, &common)) != 0) {
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
            c.topic = optarg;
            break;
        case 'p':
            if (tr_cli_parse_i64(optarg, &v) != 0 || v < 0 || v > 100000 ||
                nsel == 1024) {
                tr_cli_error(CMD, "bad --partition '%s'", optarg);
                goto out;
            }
            sel[nsel++] = (int32_t)v;
            break;
        case 'o':
            if (strcmp(optarg, "beginning") == 0) {
                offset = TR_OFFSET_BEGINNING;
            } else if (strcmp(optarg, "end") == 0) {
                offset = TR_OFFSET_END;
            } else if (tr_cli_parse_i64(optarg, &offset) != 0 || offset < 0) {
                tr_cli_error(CMD, "bad --offset '%s': use N, beginning or end",
                             optarg);
                goto out;
            }
            from_set = 1;
            break;
        case 'B':
            offset = TR_OFFSET_BEGINNING;
            from_set = 1;
            break;
        case 'E':
            offset = TR_OFFSET_END;
            from_set = 1;
            break;
        case 'T':
            if (tr_cli_parse_time(optarg, tr_clock_wall_ms(), &ts) != 0 ||
                ts < 0) {
                tr_cli_error(CMD,
                             "bad --from-time '%s': use ms since the "
                             "epoch, YYYY-MM-DDTHH:MM:SSZ or -1h",
                             optarg);
                goto out;
            }
            from_set = 1;
            break;
        case 'g':
            group = optarg;
            break;
        case 'A':
            assignor = optarg;
            if (strcmp(assignor, "range") != 0 &&
                strcmp(assignor, "roundrobin") != 0) {
                tr_cli_error(CMD,
                             "bad --assignor '%s': use range or "
                             "roundrobin",
                             optarg);
                goto out;
            }
            break;
        case 'c':
            if (tr_cli_parse_i64(optarg, &c.count) != 0 || c.count < 0) {
                tr_cli_error(CMD, "bad --count '%s'", optarg);
                goto out;
            }
            break;
        case 'e':
            until_end = 1;
            break;
        case 'F':
            c.format = optarg;
            break;
        case 'O':
            output = optarg;
            break;
        case 'P':
            force = 1;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    c.json = common.json;
    c.plain_value = strcmp(c.format, "%v\\n") == 0;
    if (c.topic == NULL || optind != argc) {
        tr_cli_error(CMD, "%s",
                     c.topic == NULL ? "--topic is required"
                                     : "unexpected argument");
        goto out;
    }
    if (offset >= 0 && nsel == 0) {
        tr_cli_error(CMD, "--offset N needs --partition: offsets are per "
                          "partition");
        goto out;
    }
    if (group != NULL && (nsel > 0 || offset >= 0 || ts >= 0)) {
        tr_cli_error(CMD,
                     "in a group (-g) the group assigns partitions and "
                     "its commits say where to start; drop -p/-o/--from-time "
                     "or use 'tributary groups reset-offsets'");
        goto out;
    }
    if ((rc = prepare(&c, &common)) != TR_EXIT_OK) {
        goto out;
    }
    rc = TR_EXIT_FAIL;
    for (i = 0; i < nsel; i++) {
        if (sel[i] >= c.nparts) {
            tr_cli_error(CMD,
                         "topic '%s' has partitions 0-%d; partition %d "
                         "does not exist",
                         c.topic, (int)c.nparts - 1, (int)sel[i]);
            rc = TR_EXIT_NOT_FOUND;
            goto out;
        }
        c.parts[sel[i]].selected = 1;
    }
    if (output != NULL) {
        c.out = fopen(output, "w");
        if (c.out == NULL) {
            tr_cli_error(CMD, "cannot open %s: %s", output, strerror(errno));
            goto out;
        }
    }
    setvbuf(c.out, NULL, _IOFBF, (size_t)1 << 20);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    base = event_base_new();
    if (base == NULL) {
        goto out;
    }
    cfg.bootstrap = common.bootstrap;
    cfg.security = common.security; /* prepared by tr_cli_admin */
    cfg.client_id = "tributary-consume";
    cfg.group_id = group;
    cfg.assignor = assignor;
    cfg.auto_commit = 0;
    cfg.auto_offset_reset = offset == TR_OFFSET_BEGINNING
                                ? TR_CONSUMER_RESET_EARLIEST
                                : TR_CONSUMER_RESET_LATEST;
    if (!from_set && group != NULL) {
        cfg.auto_offset_reset = TR_CONSUMER_RESET_LATEST;
    }
    if ((err = tr_consumer_new(base, &cfg, batch_cb, &c, &cons)) != TR_OK) {
        tr_cli_error(CMD, "cannot start the consumer: %s", tr_err_str(err));
        goto out;
    }
    c.cons = cons;
    tr_consumer_set_error_cb(cons, error_cb);
    tr_consumer_set_rebalance_cb(cons, rebalance_cb);
    if (group != NULL) {
        const char *one[1] = { c.topic };

        err = tr_consumer_subscribe(cons, one, 1);
    } else if (nsel == 0) {
        err = tr_consumer_assign_topic(cons, c.topic, offset, ts);
    } else {
        for (i = 0, err = TR_OK; i < nsel && err == TR_OK; i++) {
            err = ts >= 0 ? tr_consumer_assign_time(cons, c.topic, sel[i], ts)
                          : tr_consumer_assign(cons, c.topic, sel[i], offset);
        }
    }
    if (err != TR_OK) {
        tr_cli_error(CMD, "%s", tr_err_str(err));
        goto out;
    }
    tr_progress_init(&c.progress, "records", -1,
                     force || (output != NULL && until_end));
    total = -1;
    while (!stop_requested && c.failed == 0) {
        if (c.count >= 0 && c.printed >= c.count) {
            break;
        }
        if (until_end && at_end(&c, cons)) {
            break;
        }
        if (until_end && total < 0 && tr_consumer_ready(cons)) {
            struct tr_consumer_tp tps[1024];
            size_t n = tr_consumer_assignment(cons, tps, 1024);

            total = 0;
            for (i = 0; i < n && i < 1024; i++) {
                int64_t pos = tr_consumer_position(cons, tps[i].topic,
                                                   tps[i].partition, NULL);
                struct cpart_state *ps = state_of(&c, tps[i].partition);

                if (ps != NULL && pos >= 0 && ps->end > pos) {
                    total += ps->end - pos;
                }
            }
            tr_progress_set_total(&c.progress, total);
        }
        tr_consumer_poll(cons, 200);
        if (group != NULL && tr_clock_mono_ms() - last_commit >= 1000) {
            commit_printed(&c, cons);
            last_commit = tr_clock_mono_ms();
        }
    }
    tr_progress_finish(&c.progress);
    if (group != NULL) {
        commit_printed(&c, cons);
        tr_consumer_close(cons, common.timeout_ms);
    }
    if (fflush(c.out) != 0) {
        tr_cli_error(CMD, "writing the output: %s", strerror(errno));
        goto out;
    }
    rc = c.failed ? c.failed : TR_EXIT_OK;
out:
    tr_cli_common_cleanup(&common);
    tr_consumer_free(cons);
    if (base != NULL) {
        event_base_free(base);
    }
    if (c.out != NULL && c.out != stdout) {
        fclose(c.out);
    }
    tr_free(c.parts);
    return rc;
}
