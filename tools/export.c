/*
 * export -- `tributary export`: a consumer-group member that lands a topic
 * as files for analytics jobs (the role of Kafka Connect's HDFS sink).
 *
 * One open file per assigned partition, under a temporary '_' name in the
 * directory of its records' hour (landing.h). A file is closed and landed
 * -- flushed, fsynced, renamed, directory fsynced -- when it reaches
 * --roll-records or --roll-bytes, when it is --roll-ms old, when the next
 * record belongs to another hour, when the partition is revoked, and on
 * shutdown. Files of one partition therefore hold contiguous, disjoint
 * offset ranges, and the names of the landed files say exactly what has
 * landed.
 *
 * Exactly once: at start the temporary files are deleted; whenever a
 * partition is assigned, its files are scanned and the consumer is seeked
 * to one past the highest landed offset (falling back to the group's
 * commit only when nothing has landed). Records below that are dropped.
 * After each landing, and for what the files show landed whenever a
 * partition is assigned, the next offset is committed to the group so that
 * its lag is visible, but the files, not the commits, decide where to
 * resume.
 *
 * Only committed data is landed (the consumer reads read_committed):
 * records of an open transaction wait until it ends, those of aborted
 * transactions and the transaction markers are never written, so a file's
 * offset range may have holes where they were.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "consumer.h"
#include "landing.h"
#include "log.h"
#include "progress.h"
#include "table.h"

#define CMD "export"

/* Set by SIGINT/SIGTERM: the one piece of global state, read by the loop. */
static volatile sig_atomic_t stop_requested;

enum xformat {
    FMT_LINES = 0,
    FMT_JSONL = 1,
};

struct xfile {
    int open;
    int fd;
    gzFile gz;
    char dir[4096];
    char tmp[4096 + 1100];
    int64_t hour;
    int64_t first;
    int64_t last;
    int64_t records;
    int64_t bytes;
    int64_t opened_ms;
};

struct xpart {
    int assigned;
    int64_t next; /* the next offset to land, -1 unknown */
    struct xfile f;
};

struct exporter {
    const char *root;
    const char *topic;
    enum xformat format;
    int gzip;
    int64_t roll_records;
    int64_t roll_bytes;
    int64_t roll_ms;
    struct xpart *parts;
    int32_t nparts;
    struct tr_consumer *cons;
    struct tr_buf line;
    int failed;
    int64_t landed_files;
    int64_t landed_records;
    struct tr_progress progress;
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
            "Usage: tributary export -b HOST:PORT -t TOPIC -g GROUP --root "
            "DIR [options]\n"
            "\n"
            "Lands TOPIC as files ROOT/TOPIC/dt=YYYY-MM-DD/hr=HH/"
            "TOPIC+PARTITION+FIRST+LAST.EXT,\nexactly once, as a member of "
            "GROUP. Runs until SIGTERM (or --until-end).\n"
            "\n"
            "  -t, --topic TOPIC         required\n"
            "  -g, --group GROUP         required; commits show its lag\n"
            "  -r, --root DIR            required; any mounted file system\n"
            "  -f, --format lines|jsonl  lines: the value and a newline "
            "(default);\n"
            "                            jsonl: key, value, headers, "
            "partition, offset,\n"
            "                            timestamp\n"
            "      --compression gzip|none   default gzip (.gz)\n"
            "      --roll-records N      land a file after N records "
            "(default 1000000)\n"
            "      --roll-bytes N        ... after N bytes before "
            "compression (default 256M)\n"
            "      --roll-ms MS          ... once it is MS old (default "
            "600000)\n"
            "      --until-end           stop once caught up with the end "
            "offsets at start\n"
            "                            (or the last stable offset, if "
            "lower)\n"
            "      --from-beginning      with nothing landed and no commit: "
            "start at the\n"
            "                            log start (default)\n"
            "      --from-end            ... or at the end\n"
            "      --progress            draw the catch-up progress bar even "
            "if stderr is\n"
            "                            not a terminal\n"
            "      --session-timeout MS  group session timeout (default "
            "10000)\n"
            "  -b, --bootstrap-server HOST:PORT[,...]\n"
            "      --timeout MS          connect/request timeout (default "
            "10000)\n"
            "  -h, --help\n");
    tr_cli_security_usage(out);
}

static const char *
extension(const struct exporter *x)
{
    if (x->format == FMT_JSONL) {
        return x->gzip ? "jsonl.gz" : "jsonl";
    }
    return x->gzip ? "txt.gz" : "txt";
}

/* Appends 's' as a JSON string to 'b'. */
static void
json_put(struct tr_buf *b, const uint8_t *s, int32_t len)
{
    static const char hex[] = "0123456789abcdef";
    int32_t i;

    if (len < 0) {
        tr_buf_put_bytes(b, "null", 4);
        return;
    }
    tr_buf_put_i8(b, '"');
    for (i = 0; i < len; i++) {
        uint8_t ch = s[i];

        if (ch == '"' || ch == '\\') {
            tr_buf_put_i8(b, '\\');
            tr_buf_put_i8(b, (int8_t)ch);
        } else if (ch == '\n') {
            tr_buf_put_bytes(b, "\\n", 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

            tr_buf_put_bytes(b, esc, 6);
        } else {
            /* Bytes >= 0x80 are passed through: values are UTF-8 text. */
            tr_buf_put_i8(b, (int8_t)ch);
        }
    }
    tr_buf_put_i8(b, '"');
}

static void
put_num(struct tr_buf *b, const char *key, int64_t v)
{
    char num[48];
    int n = snprintf(num, sizeof(num), ",\"%s\":%lld", key, (long long)v);

    tr_buf_put_bytes(b, num, (size_t)n);
}

static void
format_record(struct exporter *x, int32_t partition,
              const struct tr_record *rec)
{
    struct tr_slice s;
    struct tr_record_header h;
    int first = 1;

    tr_buf_reset(&x->line);
    if (x->format == FMT_LINES) {
        if (rec->value_len > 0) {
            tr_buf_put_bytes(&x->line, rec->value, (size_t)rec->value_len);
        }
        tr_buf_put_i8(&x->line, '\n');
        return;
    }
    tr_buf_put_bytes(&x->line, "{\"key\":", 7);
    json_put(&x->line, rec->key, rec->key_len);
    tr_buf_put_bytes(&x->line, ",\"value\":", 9);
    json_put(&x->line, rec->value, rec->value_len);
    tr_buf_put_bytes(&x->line, ",\"headers\":{", 12);
    tr_slice_init(&s, rec->headers, rec->headers_len);
    while (tr_record_headers_next(&s, &h) == TR_OK) {
        if (!first) {
            tr_buf_put_i8(&x->line, ',');
        }
        json_put(&x->line, h.key, h.key_len < 0 ? 0 : h.key_len);
        tr_buf_put_i8(&x->line, ':');
        json_put(&x->line, h.value, h.value_len);
        first = 0;
    }
    tr_buf_put_i8(&x->line, '}');
    put_num(&x->line, "partition", partition);
    put_num(&x->line, "offset", rec->offset);
    put_num(&x->line, "timestamp", rec->timestamp);
    tr_buf_put_bytes(&x->line, "}\n", 2);
}

static void
fail(struct exporter *x, const char *what, const char *path)
{
    tr_cli_error(CMD, "%s %s: %s", what, path, strerror(errno));
    x->failed = 1;
    stop_requested = 1;
}

static int
file_open(struct exporter *x, int32_t partition, struct xfile *f,
          int64_t offset, int64_t ts)
{
    char name[1024];
    char path[4096 + 1100];
    int gzfd;

    if (tr_landing_dir(f->dir, sizeof(f->dir), x->root, x->topic, ts) != 0 ||
        tr_landing_tmp_name(name, sizeof(name), x->topic, partition, offset) !=
            0) {
        errno = ENAMETOOLONG;
        fail(x, "cannot name a file under", x->root);
        return -1;
    }
    if (tr_landing_mkdirs(f->dir) != TR_OK) {
        fail(x, "cannot create", f->dir);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    snprintf(f->tmp, sizeof(f->tmp), "%s", path);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        fail(x, "cannot create", f->tmp);
        return -1;
    }
    gzfd = dup(f->fd);
    f->gz = gzfd >= 0 ? gzdopen(gzfd, x->gzip ? "wb6" : "wbT") : NULL;
    if (f->gz == NULL) {
        if (gzfd >= 0) {
            close(gzfd);
        }
        close(f->fd);
        fail(x, "cannot start writing", f->tmp);
        return -1;
    }
    gzbuffer(f->gz, 128 * 1024);
    f->open = 1;
    f->hour = tr_landing_hour(ts);
    f->first = offset;
    f->last = offset - 1;
    f->records = 0;
    f->bytes = 0;
    f->opened_ms = tr_clock_mono_ms();
    return 0;
}

/*
 * Lands a file: finishes the gzip stream, fsyncs, renames to its final
 * name and fsyncs the directory. Only then is the offset committed.
 */
static int
file_land(struct exporter *x, int32_t partition, struct xfile *f)
{
    char name[1024];
    char final[4096 + 1100];
    int rc;

    if (!f->open) {
        return 0;
    }
    f->open = 0;
    rc = gzclose(f->gz);
    f->gz = NULL;
    if (rc != Z_OK) {
        errno = EIO;
        close(f->fd);
        fail(x, "cannot finish", f->tmp);
        return -1;
    }
    if (f->records == 0) {
        close(f->fd);
        unlink(f->tmp);
        return 0;
    }
    if (fsync(f->fd) != 0) {
        close(f->fd);
        fail(x, "cannot fsync", f->tmp);
        return -1;
    }
    close(f->fd);
    tr_landing_name(name, sizeof(name), x->topic, partition, f->first, f->last,
                    extension(x));
    snprintf(final, sizeof(final), "%s/%s", f->dir, name);
    if (rename(f->tmp, final) != 0) {
        fail(x, "cannot rename", f->tmp);
        return -1;
    }
    if (tr_landing_sync_dir(f->dir) != TR_OK) {
        fail(x, "cannot fsync the directory", f->dir);
        return -1;
    }
    x->landed_files++;
    x->landed_records += f->records;
    tr_log_debug("export: landed %s (%lld records)", final,
                 (long long)f->records);
    tr_consumer_commit(x->cons, x->topic, partition, f->last + 1);
    return 0;
}

static void
batch_cb(const struct tr_consumer_batch *b, void *arg)
{
    struct exporter *x = arg;
    struct xpart *p;
    size_t i;

    if (b->partition < 0 || b->partition >= x->nparts || x->failed) {
        return;
    }
    p = &x->parts[b->partition];
    if (!p->assigned) {
        return;
    }
    for (i = 0; i < b->count; i++) {
        const struct tr_record *rec = &b->records[i];

        if (p->next >= 0 && rec->offset < p->next) {
            continue; /* landed already */
        }
        if (p->f.open &&
            (tr_landing_hour(rec->timestamp) != p->f.hour ||
             p->f.records >= x->roll_records || p->f.bytes >= x->roll_bytes)) {
            if (file_land(x, b->partition, &p->f) != 0) {
                return;
            }
        }
        if (!p->f.open && file_open(x, b->partition, &p->f, rec->offset,
                                    rec->timestamp) != 0) {
            return;
        }
        format_record(x, b->partition, rec);
        if (tr_buf_err(&x->line) != TR_OK ||
            gzwrite(p->f.gz, tr_buf_data(&x->line),
                    (unsigned)tr_buf_len(&x->line)) !=
                (int)tr_buf_len(&x->line)) {
            errno = EIO;
            fail(x, "cannot write", p->f.tmp);
            return;
        }
        p->f.records++;
        p->f.bytes += (int64_t)tr_buf_len(&x->line);
        p->f.last = rec->offset;
        p->next = rec->offset + 1;
    }
}

/* Lands the files that are old enough. */
static void
roll_by_age(struct exporter *x)
{
    int64_t now = tr_clock_mono_ms();
    int32_t i;

    for (i = 0; i < x->nparts; i++) {
        if (x->parts[i].f.open && now - x->parts[i].f.opened_ms >= x->roll_ms) {
            file_land(x, i, &x->parts[i].f);
        }
    }
}

static void
rebalance_cb(int assigned, const struct tr_consumer_tp *tps, size_t n,
             void *arg)
{
    struct exporter *x = arg;
    int64_t *last;
    size_t i, ntmp;

    if (!assigned) {
        for (i = 0; i < n; i++) {
            if (tps[i].partition < x->nparts) {
                file_land(x, tps[i].partition, &x->parts[tps[i].partition].f);
                x->parts[tps[i].partition].assigned = 0;
            }
        }
        return;
    }
    last = tr_calloc((size_t)x->nparts + 1, sizeof(*last));
    if (last == NULL) {
        x->failed = 1;
        stop_requested = 1;
        return;
    }
    /* Another member may have landed files since: look again. */
    if (tr_landing_scan(x->root, x->topic, x->nparts, last, 0, &ntmp) !=
        TR_OK) {
        fail(x, "cannot scan", x->root);
        tr_free(last);
        return;
    }
    for (i = 0; i < n; i++) {
        int32_t part = tps[i].partition;

        if (part >= x->nparts) {
            continue;
        }
        x->parts[part].assigned = 1;
        x->parts[part].next = last[part] >= 0 ? last[part] + 1 : -1;
        if (last[part] >= 0) {
            tr_consumer_seek(x->cons, x->topic, part, last[part] + 1);
            /*
             * The group's commit may be behind the files (a member stopped
             * before its last commit was answered): commit what has
             * landed, so the lag shown is right even if nothing more is.
             */
            tr_consumer_commit(x->cons, x->topic, part, last[part] + 1);
        }
    }
    tr_free(last);
}

static void
error_cb(const char *topic, int32_t partition, tr_err_t err, int16_t kerr,
         void *arg)
{
    struct exporter *x = arg;

    tr_cli_error(CMD, "%s [%d]: %s", topic, (int)partition,
                 kerr ? tr_admin_kerr_name(kerr) : tr_err_str(err));
    x->failed = 1;
    stop_requested = 1;
}

/* Partition count and end offsets (for --until-end); 0 or an exit code. */
static int
prepare(struct exporter *x, const struct tr_cli_common *common, int64_t **ends)
{
    struct tr_admin *a;
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_topic *t;
    const char *one[1] = { x->topic };
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
    t = tr_admin_metadata_topic(md, x->topic);
    if (t == NULL || t->err != 0) {
        tr_cli_error(CMD,
                     "topic '%s' does not exist; see 'tributary topics "
                     "list'",
                     x->topic);
        rc = TR_EXIT_NOT_FOUND;
        goto out;
    }
    x->nparts = t->nparts;
    x->parts = tr_calloc((size_t)t->nparts + 1, sizeof(*x->parts));
    *ends = tr_calloc((size_t)t->nparts + 1, sizeof(**ends));
    if (x->parts == NULL || *ends == NULL) {
        goto out;
    }
    for (p = 0; p < t->nparts; p++) {
        struct tr_admin_partition *pp = &t->parts[p];

        if (pp->id < 0 || pp->id >= t->nparts) {
            continue;
        }
        x->parts[pp->id].next = -1;
        if (tr_admin_list_offset(a, pp->leader, x->topic, pp->id,
                                 TR_ADMIN_LATEST, &(*ends)[pp->id], &kerr,
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

static int64_t
caught_up(struct exporter *x, const int64_t *ends, int64_t *remaining)
{
    struct tr_consumer_tp tps[1024];
    size_t n, i;
    int64_t left = 0;
    int done = tr_consumer_ready(x->cons);

    n = tr_consumer_assignment(x->cons, tps, 1024);
    if (n == 0 || n > 1024) {
        done = 0;
        n = n > 1024 ? 1024 : n;
    }
    for (i = 0; i < n; i++) {
        int32_t p = tps[i].partition;
        int64_t pos = tr_consumer_position(x->cons, x->topic, p, NULL);
        int64_t next = p < x->nparts ? x->parts[p].next : -1;

        if (p >= x->nparts) {
            continue;
        }
        int64_t end = ends[p];
        int64_t readable = tr_consumer_end(x->cons, x->topic, p);

        if (next < pos) {
            next = pos;
        }
        /* An open transaction's records are not readable yet. */
        if (readable >= 0 && readable < end) {
            end = readable;
        }
        if (next < 0 || next < end) {
            done = 0;
            if (next >= 0) {
                left += end - next;
            }
        }
    }
    *remaining = left;
    return done;
}

int
tr_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "topic", required_argument, NULL, 't' },
        { "group", required_argument, NULL, 'g' },
        { "root", required_argument, NULL, 'r' },
        { "format", required_argument, NULL, 'f' },
        { "compression", required_argument, NULL, 'z' },
        { "roll-records", required_argument, NULL, 'R' },
        { "roll-bytes", required_argument, NULL, 'S' },
        { "roll-ms", required_argument, NULL, 'M' },
        { "until-end", no_argument, NULL, 'e' },
        { "from-beginning", no_argument, NULL, 'B' },
        { "from-end", no_argument, NULL, 'E' },
        { "progress", no_argument, NULL, 'P' },
        { "session-timeout", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    struct tr_cli_common common;
    struct tr_consumer_config cfg;
    struct event_base *base = NULL;
    struct exporter x;
    int64_t session_ms = 10000;
    const char *group = NULL;
    int64_t *ends = NULL, left, total = -1;
    size_t ntmp = 0;
    int64_t *last = NULL;
    int ch, r, rc = TR_EXIT_USAGE, until_end = 0, force = 0;
    enum tr_consumer_reset reset = TR_CONSUMER_RESET_EARLIEST;
    struct sigaction sa;
    int32_t p;
    tr_err_t err;

    memset(&x, 0, sizeof(x));
    x.gzip = 1;
    x.roll_records = 1000000;
    x.roll_bytes = (int64_t)256 << 20;
    x.roll_ms = 600000;
    tr_buf_init(&x.line, SIZE_MAX);
    tr_cli_common_init(&common, CMD);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:X:t:g:r:f:h", longopts, NULL)) !=
           -1) {
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
            x.topic = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'r':
            x.root = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "lines") == 0) {
                x.format = FMT_LINES;
            } else if (strcmp(optarg, "jsonl") == 0) {
                x.format = FMT_JSONL;
            } else {
                tr_cli_error(CMD, "bad --format '%s': use lines or jsonl",
                             optarg);
                goto out;
            }
            break;
        case 'z':
            if (strcmp(optarg, "gzip") == 0) {
                x.gzip = 1;
            } else if (strcmp(optarg, "none") == 0) {
                x.gzip = 0;
            } else {
                tr_cli_error(CMD, "bad --compression '%s': use gzip or none",
                             optarg);
                goto out;
            }
            break;
        case 'R':
            if (tr_cli_parse_i64(optarg, &x.roll_records) != 0 ||
                x.roll_records <= 0) {
                tr_cli_error(CMD, "bad --roll-records '%s'", optarg);
                goto out;
            }
            break;
        case 'S':
            if (tr_cli_parse_size(optarg, &x.roll_bytes) != 0 ||
                x.roll_bytes <= 0) {
                tr_cli_error(CMD, "bad --roll-bytes '%s'", optarg);
                goto out;
            }
            break;
        case 'M':
            if (tr_cli_parse_i64(optarg, &x.roll_ms) != 0 || x.roll_ms <= 0) {
                tr_cli_error(CMD, "bad --roll-ms '%s'", optarg);
                goto out;
            }
            break;
        case 'e':
            until_end = 1;
            break;
        case 'B':
            reset = TR_CONSUMER_RESET_EARLIEST;
            break;
        case 'E':
            reset = TR_CONSUMER_RESET_LATEST;
            break;
        case 'P':
            force = 1;
            break;
        case 'T':
            if (tr_cli_parse_i64(optarg, &session_ms) != 0 ||
                session_ms < 100 || session_ms > 3600000) {
                tr_cli_error(CMD, "bad --session-timeout '%s'", optarg);
                goto out;
            }
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (x.topic == NULL || group == NULL || x.root == NULL || optind != argc) {
        tr_cli_error(CMD, "--topic, --group and --root are required");
        usage(stderr);
        goto out;
    }
    if ((rc = prepare(&x, &common, &ends)) != TR_EXIT_OK) {
        goto out;
    }
    rc = TR_EXIT_FAIL;
    /* Whatever a crash left half-written is discarded first. */
    last = tr_calloc((size_t)x.nparts + 1, sizeof(*last));
    if (last == NULL) {
        goto out;
    }
    if (tr_landing_mkdirs(x.root) != TR_OK ||
        tr_landing_scan(x.root, x.topic, x.nparts, last, 1, &ntmp) != TR_OK) {
        tr_cli_error(CMD, "cannot use --root %s: %s", x.root, strerror(errno));
        goto out;
    }
    if (ntmp > 0) {
        tr_log_info("export: removed %zu unfinished file(s)", ntmp);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    base = event_base_new();
    if (base == NULL) {
        goto out;
    }
    tr_consumer_config_defaults(&cfg);
    cfg.bootstrap = common.bootstrap;
    cfg.security = common.security; /* prepared by tr_cli_admin */
    cfg.client_id = "tributary-export";
    cfg.group_id = group;
    cfg.auto_commit = 0;
    cfg.auto_offset_reset = reset;
    cfg.session_timeout_ms = (int)session_ms;
    cfg.heartbeat_ms = (int)(session_ms / 3);
    /*
     * Only committed data is landed: records of open transactions wait,
     * those of aborted ones are never written, markers neither.
     */
    cfg.isolation_level = 1;
    if ((err = tr_consumer_new(base, &cfg, batch_cb, &x, &x.cons)) != TR_OK) {
        tr_cli_error(CMD, "cannot start the consumer: %s", tr_err_str(err));
        goto out;
    }
    tr_consumer_set_rebalance_cb(x.cons, rebalance_cb);
    tr_consumer_set_error_cb(x.cons, error_cb);
    {
        const char *one[1] = { x.topic };

        if ((err = tr_consumer_subscribe(x.cons, one, 1)) != TR_OK) {
            tr_cli_error(CMD, "%s", tr_err_str(err));
            goto out;
        }
    }
    tr_progress_init(&x.progress, "records", -1, force && until_end);
    if (!until_end) {
        x.progress.out = NULL;
    }
    while (!stop_requested) {
        tr_consumer_poll(x.cons, 200);
        roll_by_age(&x);
        if (until_end) {
            int done = (int)caught_up(&x, ends, &left);

            if (total < 0 && tr_consumer_ready(x.cons)) {
                total = left;
                tr_progress_set_total(&x.progress, total);
            }
            if (total >= 0) {
                tr_progress_update(&x.progress, total - left);
            }
            if (done) {
                break;
            }
        }
    }
    tr_progress_finish(&x.progress);
    /* Land what is open, commit it, leave the group. */
    for (p = 0; p < x.nparts; p++) {
        file_land(&x, p, &x.parts[p].f);
    }
    tr_consumer_close(x.cons, common.timeout_ms);
    if (common.json) {
        struct tr_json j;

        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "topic");
        tr_json_str(&j, x.topic);
        tr_json_key(&j, "files");
        tr_json_int(&j, x.landed_files);
        tr_json_key(&j, "records");
        tr_json_int(&j, x.landed_records);
        tr_json_obj_end(&j);
        tr_json_end(&j);
    }
    rc = x.failed ? TR_EXIT_FAIL : TR_EXIT_OK;
out:
    tr_cli_common_cleanup(&common);
    for (p = 0; p < x.nparts; p++) {
        if (x.parts[p].f.open) {
            gzclose(x.parts[p].f.gz);
            close(x.parts[p].f.fd);
        }
    }
    tr_consumer_free(x.cons);
    if (base != NULL) {
        event_base_free(base);
    }
    tr_free(x.parts);
    tr_free(ends);
    tr_free(last);
    tr_buf_cleanup(&x.line);
    return rc;
}
