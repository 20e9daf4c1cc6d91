/*
 * log -- timestamped, leveled log lines.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Singletons: set by main() before threads start, read-only afterwards. */
static enum tr_log_level log_threshold = TR_LOG_INFO;
static int log_fd = 2;
/* Singleton: the WARN/ERROR hook, set and removed by main() (log.h). */
static tr_log_hook_cb *log_hook;
static void *log_hook_arg;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
tr_log_init(enum tr_log_level level, int fd)
{
    log_threshold = level;
    log_fd = fd;
}

void
tr_log_set_hook(tr_log_hook_cb *cb, void *arg)
{
    log_hook = cb;
    log_hook_arg = arg;
}

int
tr_log_level_parse(const char *name)
{
    static const char *const lower[] = { "error", "warn", "info", "debug" };
    int i;

    for (i = 0; i < 4; i++) {
        if (strcmp(name, lower[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int
tr_log_enabled(enum tr_log_level level)
{
    return level <= log_threshold;
}

const char *
tr_log_escape(const char *s, size_t len, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = 0, total = 0, room;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        total += (c < 0x20 || c > 0x7e) ? 4 : c == '\\' ? 2 : 1;
    }
    /* Cut text keeps room for "..." after it. */
    room = total < outlen ? outlen - 1 : outlen - 4;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = (c < 0x20 || c > 0x7e) ? 4 : c == '\\' ? 2 : 1;

        if (n + need > room) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        if (need == 4) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else if (need == 2) {
            out[n++] = '\\';
            out[n++] = '\\';
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}

/*
 * Rewrites the 'len' bytes at 'text' (room for 'cap') with control and
 * non-ASCII bytes as \xNN, in place from the back; returns the new length,
 * cut to fit. Backslashes stay: escaped fields already doubled theirs.
 */
static size_t
escape_in_place(char *text, size_t len, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, bad = 0, n;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        bad += c < 0x20 || c > 0x7e;
    }
    if (bad == 0) {
        return len;
    }
    while (len > 0 && len + 3 * bad > cap) {
        unsigned char c = (unsigned char)text[--len];

        bad -= c < 0x20 || c > 0x7e;
    }
    n = len + 3 * bad;
    for (i = len; i-- > 0;) {
        unsigned char c = (unsigned char)text[i];

        if (c < 0x20 || c > 0x7e) {
            text[--n] = hex[c & 15];
            text[--n] = hex[c >> 4];
            text[--n] = 'x';
            text[--n] = '\\';
        } else {
            text[--n] = (char)c;
        }
    }
    return len + 3 * bad;
}

void
tr_log_msg(enum tr_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n, msg;
    int r;
    va_list ap;

    if (!tr_log_enabled(level)) {
        return;
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
                 (long)(tv.tv_usec / 1000), level_names[level]);
    if (r > 0) {
        n += (size_t)r;
    }
    msg = n;
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (r > 0) {
        size_t len =
            (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;

        n += escape_in_place(line + n, len, sizeof(line) - n - 1);
    }
    if (log_hook != NULL && level <= TR_LOG_WARN) {
        log_hook(log_hook_arg, level,
                 (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, line + msg,
                 n - msg);
    }
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* Nowhere left to report a failure to log. */
    }
}
