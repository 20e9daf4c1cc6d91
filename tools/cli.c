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
tr_cli_common_init(struct tr_cli_common *c, const char *cmd)
{
    const char *env = getenv("TRIBUTARY_BOOTSTRAP");

    c->bootstrap = env != NULL && env[0] != '\0' ? env : "127.0.0.1:9092";
    c->json = 0;
    c->timeout_ms = 10000;
    c->cmd = cmd;
    c->security = NULL;
}

void
tr_cli_common_cleanup(struct tr_cli_common *c)
{
    tr_clientsec_free(c->security);
    c->security = NULL;
}

/* Prints a warning about the security settings (a readable secret). */
static void
security_warn(const char *msg, void *arg)
{
    const struct tr_cli_common *c = arg;

    fprintf(stderr, "tributary %s: warning: %s\n", c->cmd, msg);
}

/* -X KEY=VALUE and --command-config FILE: 0, or -1 with the reason told. */
static int
security_opt(int ch, const char *arg, struct tr_cli_common *c)
{
    char errbuf[512], key[128];
    const char *eq;
    size_t klen;
    tr_err_t err;

    if (c->security == NULL && tr_clientsec_new(&c->security) != TR_OK) {
        tr_cli_error(c->cmd, "out of memory");
        return -1;
    }
    if (ch == 0x1003) {
        err = tr_clientsec_load_file(c->security, arg, security_warn, c, errbuf,
                                     sizeof(errbuf));
        if (err != TR_OK) {
            tr_cli_error(c->cmd, "--command-config: %s", errbuf);
            return -1;
        }
        return 0;
    }
    eq = strchr(arg, '=');
    klen = eq != NULL ? (size_t)(eq - arg) : 0;
    if (eq == NULL || klen == 0 || klen >= sizeof(key)) {
        tr_cli_error(c->cmd, "bad -X '%s': use -X KEY=VALUE", arg);
        return -1;
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    err = tr_clientsec_set(c->security, key, eq + 1, errbuf, sizeof(errbuf));
    if (err == TR_ERR_NOT_FOUND) {
        tr_cli_error(c->cmd,
                     "-X %s: unknown property; -X takes the security "
                     "properties listed by --help",
                     key);
        return -1;
    }
    if (err != TR_OK) {
        tr_cli_error(c->cmd, "-X %s", errbuf);
        return -1;
    }
    return 0;
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
            tr_cli_error(c->cmd, "bad --timeout '%s'", arg);
            return -1;
        }
        c->timeout_ms = (int)v;
        return 1;
    case 'X':
    case 0x1003:
        return security_opt(ch, arg, c) == 0 ? 1 : -1;
    default:
        return 0;
    }
}

int
tr_cli_security(const struct tr_cli_common *c)
{
    char errbuf[512];

    if (c->security == NULL) {
        return 0;
    }
    if (tr_clientsec_prepare(c->security, security_warn, (void *)c, errbuf,
                             sizeof(errbuf)) != TR_OK) {
        tr_cli_error(c->cmd, "%s", errbuf);
        return TR_EXIT_USAGE;
    }
    return 0;
}

void
tr_cli_security_usage(FILE *out)
{
    fprintf(out,
            "  -X KEY=VALUE              a TLS or SASL property, librdkafka's "
            "name (repeatable)\n"
            "      --command-config FILE a properties file of them (tributary "
            "--help lists them)\n");
}

void
tr_cli_security_reference(FILE *out)
{
    fprintf(out, "\nSecurity properties (-X KEY=VALUE or --command-config "
                 "FILE, every command):\n");
    tr_clientsec_write_help(out, "  ");
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

    if ((*exit_code = tr_cli_security(common)) != 0) {
        return NULL;
    }
    err = tr_admin_new(common->bootstrap, common->timeout_ms, common->security,
                       &a, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_cli_error(cmd, "%s", errbuf);
        *exit_code = err == TR_ERR_CONFIG ? TR_EXIT_USAGE
                     : err == TR_ERR_AUTH || err == TR_ERR_TLS
                         ? TR_EXIT_AUTH
                         : TR_EXIT_UNREACHABLE;
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
