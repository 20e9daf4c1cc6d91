/*
 * cli -- shared pieces of the tributary subcommands; see cli.h.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

void
tr_cli_common_init(struct tr_cli_common *c)
{
    const char *env = getenv("TRIBUTARY_BOOTSTRAP");

    c->bootstrap = env != NULL && env[0] != '\0' ? env : "127.0.0.1:9092";
    c->json = 0;
    c->timeout_ms = 10000;
}

int
tr_cli_common_opt(int ch, const char *arg, struct tr_cli_common *c)
{
    int64_t v;

    switch (ch) {
    case 'b':
        c->bootstrap = arg;
        return 1;
    case 0x1001:
        c->json = 1;
        return 1;
    case 0x1002:
        if (tr_cli_parse_i64(arg, &v) != 0 || v <= 0 || v > 3600000) {
            return -1;
        }
        c->timeout_ms = (int)v;
        return 1;
    default:
        return 0;
    }
}

void
tr_cli_json_string(const char *s, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

void
tr_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tributary %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
tr_cli_exit_for_kerr(int16_t kerr)
{
    switch (kerr) {
    case 0:
        return TR_EXIT_OK;
    case TR_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case TR_KERR_GROUP_ID_NOT_FOUND:
        return TR_EXIT_NOT_FOUND;
    case TR_KERR_TOPIC_AUTHORIZATION_FAILED:
    case 30: /* GROUP_AUTHORIZATION_FAILED */
    case 31: /* CLUSTER_AUTHORIZATION_FAILED */
        return TR_EXIT_AUTH;
    default:
        return TR_EXIT_FAIL;
    }
}

struct tr_admin *
tr_cli_admin(const char *cmd, const struct tr_cli_common *common,
             int *exit_code)
{
    struct tr_admin *a = NULL;
    char errbuf[512];
    tr_err_t err;

    err = tr_admin_new(common->bootstrap, common->timeout_ms, &a, errbuf,
                       sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(cmd, "%s", errbuf);
        *exit_code = err == TR_ERR_CONFIG ? TR_EXIT_USAGE : TR_EXIT_UNREACHABLE;
        return NULL;
    }
    return a;
}

static int
parse_scaled(const char *s, int64_t *out, int64_t k)
{
    char *end;
    long long v;
    int64_t mul = 1;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    v = strtoll(s, &end, 10);
    if (end == s) {
        return -1;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = k;
        end++;
        break;
    case 'm':
    case 'M':
        mul = k * k;
        end++;
        break;
    case 'g':
    case 'G':
        mul = k * k * k;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'b' || *end == 'B') {
        end++;
    }
    if (*end != '\0') {
        return -1;
    }
    *out = (int64_t)v * mul;
    return 0;
}

int
tr_cli_parse_i64(const char *s, int64_t *out)
{
    return parse_scaled(s, out, 1000);
}

int
tr_cli_parse_size(const char *s, int64_t *out)
{
    return parse_scaled(s, out, 1024);
}

int
tr_cli_parse_time(const char *s, int64_t now_ms, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
    char *end;
    long long v;
    time_t t;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    if (s[0] == '-') {
        v = strtoll(s + 1, &end, 10);
        if (end == s + 1 || v < 0) {
            return -1;
        }
        switch (*end) {
        case 's':
            v *= 1000;
            break;
        case 'm':
            v *= 60000;
            break;
        case 'h':
            v *= 3600000;
            break;
        case 'd':
            v *= 86400000;
            break;
        default:
            return -1;
        }
        if (end[1] != '\0') {
            return -1;
        }
        *out = now_ms - v;
        return 0;
    }
    if (strspn(s, "0123456789") == strlen(s)) {
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) {
        return -1;
    }
    s += n;
    if (*s == 'T' || *s == ' ') {
        s++;
        n = 0;
        if (sscanf(s, "%2d:%2d%n", &h, &mi, &n) != 2) {
            return -1;
        }
        s += n;
        if (*s == ':') {
            n = 0;
            if (sscanf(s, ":%2d%n", &sec, &n) != 1) {
                return -1;
            }
            s += n;
            if (*s == '.') {
                n = 0;
                if (sscanf(s, ".%3d%n", &ms, &n) != 1) {
                    return -1;
                }
                s += n;
            }
        }
    }
    if (*s == 'Z') {
        s++;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *out = (int64_t)t * 1000 + ms;
    return 0;
}

int
tr_cli_take_subcommand(int *argc, char ***argv, void (*usage)(FILE *),
                       const char **sub)
{
    char **av = *argv;

    if (*argc < 2 || av[1][0] == '-') {
        if (*argc >= 2 &&
            (strcmp(av[1], "--help") == 0 || strcmp(av[1], "-h") == 0)) {
            usage(stdout);
            return TR_EXIT_OK;
        }
        usage(stderr);
        return TR_EXIT_USAGE;
    }
    *sub = av[1];
    (*argc)--;
    (*argv)++;
    optind = 1;
    return -1;
}
