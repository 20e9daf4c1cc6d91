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

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
tr_log_init(enum tr_log_level level, int fd)
{
    log_threshold = level;
    log_fd = fd;
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

void
tr_log_msg(enum tr_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
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
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (r > 0) {
        n +=
            (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
    }
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* Nowhere left to report a failure to log. */
    }
}
