/*
 * produce -- `tributary produce`: one record per input line.
 *
 * Lines come from stdin or --file. With --key-separator the text before
 * the first separator is the key; with --timestamp-separator a leading
 * decimal millisecond timestamp is taken off first. --header adds the same
 * header to every record. Records go through the client-core producer
 * (idempotent with acks=all), which batches, compresses and retries; the
 * command waits for every delivery report and fails if any record failed.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cli.h"
#include "codec.h"
#include "producer.h"
#include "progress.h"
#include "table.h"

#define CMD         "produce"
#define MAX_HEADERS 64

struct pstate {
    int64_t sent;
    int64_t acked;
    int64_t failed;
    int16_t first_kerr;
    tr_err_t first_err;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary produce -b HOST:PORT -t TOPIC [options]\n"
            "\n"
            "Sends each line of stdin (or --file) as one record.\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server HOST:PORT[,...]\n"
            "  -t, --topic TOPIC             required\n"
            "  -f, --file PATH               read lines from PATH instead of "
            "stdin\n"
            "  -p, --partition N             all records to partition N "
            "(default: by key,\n"
            "                                or sticky for records without "
            "one)\n"
            "  -K, --key-separator SEP       KEY SEP VALUE lines\n"
            "      --timestamp-separator SEP TIMESTAMP_MS SEP REST lines\n"
            "  -H, --header KEY=VALUE        a header on every record "
            "(repeatable)\n"
            "  -a, --acks all|1|0            default all (idempotent)\n"
            "  -z, --compression none|gzip|snappy|lz4|zstd   default none\n"
            "      --linger-ms MS            default 5\n"
            "      --progress                draw a progress bar even if "
            "stderr is no terminal\n"
            "      --json                    print a JSON summary\n"
            "      --timeout MS              give up on a record after MS "
            "(default: never)\n"
            "  -h, --help\n");
    tr_cli_security_usage(out);
}

static void
delivery_cb(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct pstate *st = arg;

    (void)opaque;
    (void)topic;
    (void)partition;
    (void)offset;
    if (err == TR_OK) {
        st->acked++;
        return;
    }
    if (st->failed == 0) {
        st->first_err = err;
        st->first_kerr = kerr;
    }
    st->failed++;
}

static int
check_topic(const struct tr_cli_common *common, const char *topic,
            int32_t *nparts)
{
    struct tr_admin *a;
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_topic *t;
    char errbuf[512];
    const char *one[1] = { topic };
    int rc = TR_EXIT_FAIL;

    if ((a = tr_cli_admin(CMD, common, &rc)) == NULL) {
        return rc;
    }
    if (tr_admin_metadata(a, one, 1, &md, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        goto out;
    }
    t = tr_admin_metadata_topic(md, topic);
    if (t == NULL || t->err == TR_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
        tr_cli_error(CMD,
                     "topic '%s' does not exist; create it with 'tributary "
                     "topics create %s --partitions N'",
                     topic, topic);
        rc = TR_EXIT_NOT_FOUND;
        goto out;
    }
    if (t->err != 0) {
        tr_cli_error(CMD, "topic '%s': %s", topic, tr_admin_kerr_name(t->err));
        rc = tr_cli_exit_for_kerr(t->err);
        goto out;
    }
    *nparts = t->nparts;
    rc = TR_EXIT_OK;
out:
    tr_admin_metadata_free(md);
    tr_admin_free(a);
    return rc;
}

int
tr_cmd_produce(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "topic", required_argument, NULL, 't' },
        { "file", required_argument, NULL, 'f' },
        { "partition", required_argument, NULL, 'p' },
        { "key-separator", required_argument, NULL, 'K' },
        { "timestamp-separator", required_argument, NULL, 'S' },
        { "header", required_argument, NULL, 'H' },
        { "acks", required_argument, NULL, 'a' },
        { "compression", required_argument, NULL, 'z' },
        { "linger-ms", required_argument, NULL, 'L' },
        { "progress", no_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    struct tr_cli_common common;
    struct tr_producer_config cfg;
    struct tr_producer *prod = NULL;
    struct event_base *base = NULL;
    struct tr_record_header headers[MAX_HEADERS];
    struct tr_progress progress;
    struct pstate st;
    const char *topic = NULL, *file = NULL, *keysep = NULL, *tssep = NULL;
    FILE *in = stdin;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    int64_t v, partition = -1, total = -1;
    int32_t nparts = 0, nheaders = 0;
    int ch, r, rc = TR_EXIT_USAGE, force_progress = 0, codec;
    int timeout_set = 0;
    struct stat sb;
    tr_err_t err;

    memset(&st, 0, sizeof(st));
    tr_cli_common_init(&common, CMD);
    tr_producer_config_defaults(&cfg);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:X:t:f:p:K:H:a:z:h", longopts,
                             NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &common)) != 0) {
            if (r < 0) {
                goto out;
            }
            timeout_set |= ch == 0x1002;
            continue;
        }
        switch (ch) {
        case 'h':
            usage(stdout);
            rc = TR_EXIT_OK;
            goto out;
        case 't':
            topic = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'p':
            if (tr_cli_parse_i64(optarg, &partition) != 0 || partition < 0) {
                tr_cli_error(CMD, "bad --partition '%s'", optarg);
                goto out;
            }
            break;
        case 'K':
            keysep = optarg;
            break;
        case 'S':
            tssep = optarg;
            break;
        case 'H': {
            const char *eq = strchr(optarg, '=');

            if (eq == NULL || nheaders == MAX_HEADERS) {
                tr_cli_error(CMD,
                             "bad --header '%s': use KEY=VALUE (at most "
                             "%d)",
                             optarg, MAX_HEADERS);
                goto out;
            }
            headers[nheaders].key = (const uint8_t *)optarg;
            headers[nheaders].key_len = (int32_t)(eq - optarg);
            headers[nheaders].value = (const uint8_t *)eq + 1;
            headers[nheaders].value_len = (int32_t)strlen(eq + 1);
            nheaders++;
            break;
        }
        case 'a':
            if (strcmp(optarg, "all") == 0 || strcmp(optarg, "-1") == 0) {
                cfg.acks = -1;
            } else if (strcmp(optarg, "1") == 0 || strcmp(optarg, "0") == 0) {
                cfg.acks = optarg[0] - '0';
                cfg.idempotent = 0;
            } else {
                tr_cli_error(CMD, "bad --acks '%s': use all, 1 or 0", optarg);
                goto out;
            }
            break;
        case 'z':
            codec = tr_codec_parse(optarg);
            if (codec < 0 || !tr_codec_available((enum tr_codec)codec)) {
                tr_cli_error(CMD,
                             "compression '%s' is unknown or not built "
                             "in; use none or gzip",
                             optarg);
                goto out;
            }
            cfg.codec = (enum tr_codec)codec;
            break;
        case 'L':
            if (tr_cli_parse_i64(optarg, &v) != 0 || v < 0 || v > 60000) {
                tr_cli_error(CMD, "bad --linger-ms '%s'", optarg);
                goto out;
            }
            cfg.linger_ms = (int)v;
            break;
        case 'P':
            force_progress = 1;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (topic == NULL || optind != argc) {
        tr_cli_error(CMD, "%s",
                     topic == NULL ? "--topic is required"
                                   : "unexpected argument");
        usage(stderr);
        goto out;
    }
    if (keysep != NULL && keysep[0] == '\0') {
        tr_cli_error(CMD, "--key-separator must not be empty");
        goto out;
    }
    if (file != NULL) {
        in = fopen(file, "r");
        if (in == NULL) {
            tr_cli_error(CMD, "cannot open %s: %s", file, strerror(errno));
            rc = TR_EXIT_FAIL;
            goto out;
        }
        if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode)) {
            total = sb.st_size;
        }
    }
    if ((rc = check_topic(&common, topic, &nparts)) != TR_EXIT_OK) {
        goto out;
    }
    if (partition >= nparts) {
        tr_cli_error(CMD,
                     "topic '%s' has partitions 0-%d; --partition %lld "
                     "does not exist",
                     topic, (int)nparts - 1, (long long)partition);
        rc = TR_EXIT_NOT_FOUND;
        goto out;
    }
    rc = TR_EXIT_FAIL;
    base = event_base_new();
    if (base == NULL) {
        goto out;
    }
    cfg.bootstrap = common.bootstrap;
    cfg.security = common.security; /* prepared by tr_cli_admin */
    cfg.client_id = "tributary-produce";
    if (timeout_set) {
        cfg.delivery_timeout_ms = common.timeout_ms;
    }
    if ((err = tr_producer_new(base, &cfg, delivery_cb, &st, &prod)) != TR_OK) {
        tr_cli_error(CMD, "cannot start the producer: %s", tr_err_str(err));
        goto out;
    }
    tr_progress_init(&progress, "bytes", total, force_progress && total > 0);
    {
        int64_t bytes = 0;

        while ((len = getline(&line, &linecap, in)) >= 0) {
            char *val = line, *key = NULL, *sep;
            int32_t keylen = -1;
            int64_t ts = -1;

            bytes += len;
            if (len > 0 && line[len - 1] == '\n') {
                line[--len] = '\0';
            }
            if (len > 0 && line[len - 1] == '\r') {
                line[--len] = '\0';
            }
            if (tssep != NULL && (sep = strstr(val, tssep)) != NULL) {
                *sep = '\0';
                if (tr_cli_parse_i64(val, &ts) != 0) {
                    ts = -1;
                }
                val = sep + strlen(tssep);
            }
            if (keysep != NULL && (sep = strstr(val, keysep)) != NULL) {
                key = val;
                keylen = (int32_t)(sep - val);
                val = sep + strlen(keysep);
            }
            for (;;) {
                err = tr_producer_send(prod, topic, (int32_t)partition, key,
                                       keylen, val, (int32_t)(line + len - val),
                                       nheaders ? headers : NULL, nheaders, ts,
                                       NULL);
                if (err != TR_ERR_AGAIN) {
                    break;
                }
                event_base_loop(base, EVLOOP_ONCE);
            }
            if (err != TR_OK) {
                tr_cli_error(CMD, "cannot send line %lld: %s",
                             (long long)st.sent + 1, tr_err_str(err));
                goto out;
            }
            st.sent++;
            if ((st.sent & 1023) == 0) {
                event_base_loop(base, EVLOOP_NONBLOCK);
                tr_progress_update(&progress, bytes);
            }
        }
        tr_progress_update(&progress, bytes);
    }
    if (ferror(in)) {
        tr_cli_error(CMD, "reading %s: %s", file ? file : "stdin",
                     strerror(errno));
        goto out;
    }
    tr_producer_flush(prod);
    while (tr_producer_pending(prod) > 0) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    tr_progress_finish(&progress);
    if (common.json) {
        struct tr_json j;

        tr_json_init(&j, stdout);
        tr_json_obj_begin(&j);
        tr_json_key(&j, "topic");
        tr_json_str(&j, topic);
        tr_json_key(&j, "records");
        tr_json_int(&j, st.acked);
        tr_json_key(&j, "failed");
        tr_json_int(&j, st.failed);
        tr_json_obj_end(&j);
        tr_json_end(&j);
    }
    if (st.failed > 0) {
        tr_cli_error(CMD, "%lld of %lld records failed; first error: %s%s%s",
                     (long long)st.failed, (long long)st.sent,
                     tr_err_str(st.first_err), st.first_kerr ? ", " : "",
                     st.first_kerr ? tr_admin_kerr_name(st.first_kerr) : "");
        rc = st.failed == st.sent ? tr_cli_exit_for_kerr(st.first_kerr)
                                  : TR_EXIT_PARTIAL;
        if (rc == TR_EXIT_OK) {
            rc = TR_EXIT_FAIL;
        }
        goto out;
    }
    if (!common.json) {
        fprintf(stderr, "Produced %lld records to %s.\n", (long long)st.acked,
                topic);
    }
    rc = TR_EXIT_OK;
out:
    tr_cli_common_cleanup(&common);
    tr_producer_free(prod);
    if (base != NULL) {
        event_base_free(base);
    }
    if (in != NULL && in != stdin) {
        fclose(in);
    }
    free(line); /* from getline(3) */
    return rc;
}
