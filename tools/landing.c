/*
 * landing -- the exporter's file names and crash recovery; see landing.h.
 */
#include "landing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

int
tr_landing_name(char *buf, size_t len, const char *topic, int32_t partition,
                int64_t first, int64_t last, const char *ext)
{
    int n = snprintf(buf, len, "%s+%d+%" PRId64 "+%" PRId64 ".%s", topic,
                     (int)partition, first, last, ext);

    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
tr_landing_tmp_name(char *buf, size_t len, const char *topic, int32_t partition,
                    int64_t first)
{
    int n = snprintf(buf, len, "_%s+%d+%" PRId64 ".tmp", topic, (int)partition,
                     first);

    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
parse_num(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        if (v > (INT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (*s - '0');
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int
tr_landing_parse(const char *name, const char *topic, int32_t *partition,
                 int64_t *first, int64_t *last)
{
    size_t tlen = strlen(topic);
    const char *p = name;
    int64_t part;

    if (strncmp(p, topic, tlen) != 0 || p[tlen] != '+') {
        return -1;
    }
    p += tlen + 1;
    if (parse_num(&p, &part) != 0 || *p++ != '+' || part > INT32_MAX ||
        parse_num(&p, first) != 0 || *p++ != '+' || parse_num(&p, last) != 0 ||
        *p != '.' || p[1] == '\0' || *last < *first) {
        return -1;
    }
    *partition = (int32_t)part;
    return 0;
}

int64_t
tr_landing_hour(int64_t ts_ms)
{
    return ts_ms < 0 ? 0 : ts_ms / 3600000;
}

int
tr_landing_dir(char *buf, size_t len, const char *root, const char *topic,
               int64_t ts_ms)
{
    time_t t = (time_t)(tr_landing_hour(ts_ms) * 3600);
    struct tm tm;
    int n;

    if (gmtime_r(&t, &tm) == NULL) {
        return -1;
    }
    n = snprintf(buf, len, "%s/%s/dt=%04d-%02d-%02d/hr=%02d", root, topic,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

tr_err_t
tr_landing_mkdirs(const char *path)
{
    char buf[4096];
    size_t i, len = strlen(path);

    if (len >= sizeof(buf)) {
        return TR_ERR_TOO_LARGE;
    }
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];

            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return TR_ERR_IO;
            }
            buf[i] = saved;
        }
    }
    return TR_OK;
}

tr_err_t
tr_landing_sync_dir(const char *path)
{
    return tr_fsync_dir(path);
}

/* Walks one directory level; 'depth' 0 is TOPIC, 1 dt=, 2 hr=. */
static tr_err_t
walk(const char *dir, int depth, const char *topic, int32_t nparts,
     int64_t *last, int remove_tmp, size_t *ntmp)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];
    int32_t part;
    int64_t first, l;
    tr_err_t err = TR_OK;

    if (d == NULL) {
        return errno == ENOENT ? TR_OK : TR_ERR_IO;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
            sizeof(path)) {
            continue;
        }
        if (depth < 2) {
            if ((depth == 0 && strncmp(de->d_name, "dt=", 3) == 0) ||
                (depth == 1 && strncmp(de->d_name, "hr=", 3) == 0)) {
                err = walk(path, depth + 1, topic, nparts, last, remove_tmp,
                           ntmp);
                if (err != TR_OK) {
                    break;
                }
            }
            continue;
        }
        if (de->d_name[0] == '_') {
            (*ntmp)++;
            if (remove_tmp && unlink(path) != 0 && errno != ENOENT) {
                err = TR_ERR_IO;
                break;
            }
            continue;
        }
        if (tr_landing_parse(de->d_name, topic, &part, &first, &l) == 0 &&
            part < nparts && l > last[part]) {
            last[part] = l;
        }
    }
    closedir(d);
    if (err == TR_OK && depth == 2 && remove_tmp && *ntmp > 0) {
        err = tr_landing_sync_dir(dir);
    }
    return err;
}

tr_err_t
tr_landing_scan(const char *root, const char *topic, int32_t nparts,
                int64_t *last, int remove_tmp, size_t *ntmp)
{
    char dir[4096];
    int32_t p;

    *ntmp = 0;
    for (p = 0; p < nparts; p++) {
        last[p] = -1;
    }
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, topic) >=
        sizeof(dir)) {
        return TR_ERR_TOO_LARGE;
    }
    return walk(dir, 0, topic, nparts, last, remove_tmp, ntmp);
}
