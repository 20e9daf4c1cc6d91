/*
 * registry -- loading and atomically saving file positions (see registry.h).
 */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

#define HEADER "# tributary-agent registry v1\n"

struct tr_registry {
    struct tr_registry_entry *v;
    size_t n, cap;
    size_t *buckets; /* index + 1 into v; 0 empty; open addressing */
    size_t nbuckets;
};

static size_t
hash_id(uint64_t dev, uint64_t ino)
{
    uint64_t h = (dev * 0x9e3779b97f4a7c15ULL) ^ (ino * 0xc2b2ae3d27d4eb4fULL);
    return (size_t)(h ^ (h >> 31));
}

void
tr_registry_free(struct tr_registry *reg)
{
    if (reg == NULL) {
        return;
    }
    for (size_t i = 0; i < reg->n; i++) {
        tr_free((char *)reg->v[i].path);
    }
    tr_free(reg->v);
    tr_free(reg->buckets);
    tr_free(reg);
}

static tr_err_t
build_index(struct tr_registry *reg)
{
    reg->nbuckets = 16;
    while (reg->nbuckets < reg->n * 2) {
        reg->nbuckets *= 2;
    }
    reg->buckets = tr_calloc(reg->nbuckets, sizeof(size_t));
    if (reg->buckets == NULL) {
        return TR_ERR_NOMEM;
    }
    for (size_t i = 0; i < reg->n; i++) {
        size_t b = hash_id(reg->v[i].dev, reg->v[i].ino) & (reg->nbuckets - 1);
        while (reg->buckets[b] != 0) {
            b = (b + 1) & (reg->nbuckets - 1);
        }
        reg->buckets[b] = i + 1;
    }
    return TR_OK;
}

/* Parses one line "DEV INO FP_LEN FP_CRC OFFSET PATH" into 'e'. */
static int
parse_line(char *line, struct tr_registry_entry *e, char **path)
{
    char *p = line, *end;
    uint64_t v[5];

    for (int i = 0; i < 5; i++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (errno != 0 || *end != ' ') {
            return -1;
        }
        p = end + 1;
    }
    if (v[2] > UINT32_MAX || v[3] > UINT32_MAX) {
        return -1;
    }
    e->dev = v[0];
    e->ino = v[1];
    e->fp_len = (uint32_t)v[2];
    e->fp_crc = (uint32_t)v[3];
    e->offset = v[4];
    *path = p;
    return 0;
}

tr_err_t
tr_registry_load(const char *dir, struct tr_registry **out, char *errbuf,
                 size_t errlen)
{
    char path[4096];
    char *line = NULL;
    size_t linecap = 0;
    FILE *f = NULL;
    int lineno = 0;
    struct tr_registry *reg = tr_calloc(1, sizeof(*reg));
    tr_err_t err = TR_ERR_NOMEM;

    if (reg == NULL) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s/registry", dir);
    f = fopen(path, "r");
    if (f == NULL && errno != ENOENT) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    while (f != NULL) {
        ssize_t n = getline(&line, &linecap, f);
        if (n < 0) {
            break;
        }
        lineno++;
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        struct tr_registry_entry e;
        char *p;
        if (parse_line(line, &e, &p) != 0) {
            snprintf(errbuf, errlen, "%s:%d: malformed entry", path, lineno);
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (reg->n == reg->cap) {
            size_t nc = reg->cap ? reg->cap * 2 : 64;
            struct tr_registry_entry *nv = tr_realloc(reg->v, nc * sizeof(*nv));
            if (nv == NULL) {
                goto out;
            }
            reg->v = nv;
            reg->cap = nc;
        }
        e.path = tr_strdup(p);
        if (e.path == NULL) {
            goto out;
        }
        reg->v[reg->n++] = e;
    }
    if (f != NULL && ferror(f)) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    if ((err = build_index(reg)) != TR_OK) {
        goto out;
    }
    *out = reg;
    reg = NULL;
    err = TR_OK;
out:
    if (err == TR_ERR_NOMEM) {
        snprintf(errbuf, errlen, "out of memory");
    }
    free(line); /* allocated by getline(3), not by tr_malloc */
    if (f != NULL) {
        fclose(f);
    }
    tr_registry_free(reg);
    return err;
}

size_t
tr_registry_count(const struct tr_registry *reg)
{
    return reg->n;
}

const struct tr_registry_entry *
tr_registry_entry_at(const struct tr_registry *reg, size_t i)
{
    return &reg->v[i];
}

const struct tr_registry_entry *
tr_registry_find(const struct tr_registry *reg, uint64_t dev, uint64_t ino)
{
    size_t b = hash_id(dev, ino) & (reg->nbuckets - 1);
    while (reg->buckets[b] != 0) {
        const struct tr_registry_entry *e = &reg->v[reg->buckets[b] - 1];
        if (e->dev == dev && e->ino == ino) {
            return e;
        }
        b = (b + 1) & (reg->nbuckets - 1);
    }
    return NULL;
}

static tr_err_t
io_error(char *errbuf, size_t errlen, const char *what, const char *path)
{
    int e = errno;
    snprintf(errbuf, errlen, "%s %s: %s", what, path, strerror(e));
    return e == ENOSPC || e == EDQUOT ? TR_ERR_NOSPACE : TR_ERR_IO;
}

/*
 * Formats the whole file into one owned buffer, so the save is a single
 * write(2): the cost of a save is then the two fsyncs, not stdio.
 */
static char *
format_entries(const struct tr_registry_entry *entries, size_t n, size_t *len)
{
    size_t cap = sizeof(HEADER);
    for (size_t i = 0; i < n; i++) {
        /* five numbers of at most 20 digits, five blanks, a newline */
        cap += 5 * 20 + 6 + (entries[i].path ? strlen(entries[i].path) : 0);
    }
    char *buf = tr_malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    size_t used = strlen(HEADER);
    memcpy(buf, HEADER, used);
    for (size_t i = 0; i < n; i++) {
        const struct tr_registry_entry *e = &entries[i];
        const char *p = e->path ? e->path : "";
        /* A newline in a path would split the entry: drop the name. */
        int w = snprintf(buf + used, cap - used,
                         "%" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu32
                         " %" PRIu64 " %s\n",
                         e->dev, e->ino, e->fp_len, e->fp_crc, e->offset,
                         strchr(p, '\n') ? "" : p);
        used += (size_t)w;
    }
    *len = used;
    return buf;
}

tr_err_t
tr_registry_save(const char *dir, const struct tr_registry_entry *entries,
                 size_t n, char *errbuf, size_t errlen)
{
    char tmp[4096], dst[4096];
    char *buf = NULL;
    size_t len = 0;
    int fd = -1, dfd = -1;
    tr_err_t err = TR_ERR_IO;

    snprintf(tmp, sizeof(tmp), "%s/registry.tmp", dir);
    snprintf(dst, sizeof(dst), "%s/registry", dir);
    buf = format_entries(entries, n, &len);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        err = TR_ERR_NOMEM;
        goto out;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        err = io_error(errbuf, errlen, "mkdir", dir);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        err = io_error(errbuf, errlen, "open", tmp);
        goto out;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = EIO;
            }
            err = io_error(errbuf, errlen, "write", tmp);
            goto out;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        err = io_error(errbuf, errlen, "fsync", tmp);
        goto out;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        err = io_error(errbuf, errlen, "close", tmp);
        goto out;
    }
    if (rename(tmp, dst) != 0) {
        err = io_error(errbuf, errlen, "rename", tmp);
        goto out;
    }
    /* The rename is durable only once the directory is. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        err = io_error(errbuf, errlen, "fsync", dir);
        goto out;
    }
    err = TR_OK;
out:
    tr_free(buf);
    if (fd >= 0) {
        close(fd);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return err;
}
