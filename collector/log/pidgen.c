/*
 * pidgen -- durable producer-id blocks.
 */
#include "pidgen.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#define PIDGEN_BLOCK 1000

struct tr_pidgen {
    pthread_mutex_t lock;
    char path[PATH_MAX];
    int64_t next;
    int64_t block_end; /* persisted: no id at or past it was handed out */
};

static tr_err_t
persist(struct tr_pidgen *gen, int64_t block_end)
{
    char tmp[PATH_MAX + 8], line[32];
    int fd, n;
    tr_err_t err = TR_ERR_IO;

    snprintf(tmp, sizeof(tmp), "%s.tmp", gen->path);
    n = snprintf(line, sizeof(line), "%" PRId64 "\n", block_end);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return TR_ERR_IO;
    }
    if (write(fd, line, (size_t)n) == n && fsync(fd) == 0) {
        err = TR_OK;
    }
    close(fd);
    if (err == TR_OK && rename(tmp, gen->path) != 0) {
        err = TR_ERR_IO;
    }
    return err;
}

tr_err_t
tr_pidgen_open(const char *log_dir, struct tr_pidgen **out, char *errbuf,
               size_t errlen)
{
    struct tr_pidgen *gen = tr_calloc(1, sizeof(*gen));
    FILE *f;

    if (gen == NULL) {
        return TR_ERR_NOMEM;
    }
    pthread_mutex_init(&gen->lock, NULL);
    snprintf(gen->path, sizeof(gen->path), "%s/producer-id-block", log_dir);
    f = fopen(gen->path, "r");
    if (f != NULL) {
        char line[64];

        if (fgets(line, sizeof(line), f) != NULL) {
            char *end;
            long long v = strtoll(line, &end, 10);

            if (end != line && v >= 0) {
                gen->next = v;
            }
        }
        fclose(f);
    } else if (errno != ENOENT) {
        snprintf(errbuf, errlen, "%s: %s", gen->path, strerror(errno));
        tr_pidgen_close(gen);
        return TR_ERR_IO;
    }
    gen->block_end = gen->next;
    *out = gen;
    return TR_OK;
}

void
tr_pidgen_close(struct tr_pidgen *gen)
{
    if (gen == NULL) {
        return;
    }
    pthread_mutex_destroy(&gen->lock);
    tr_free(gen);
}

tr_err_t
tr_pidgen_next(struct tr_pidgen *gen, int64_t *producer_id)
{
    tr_err_t err = TR_OK;

    pthread_mutex_lock(&gen->lock);
    if (gen->next >= gen->block_end) {
        err = persist(gen, gen->next + PIDGEN_BLOCK);
        if (err == TR_OK) {
            gen->block_end = gen->next + PIDGEN_BLOCK;
        }
    }
    if (err == TR_OK) {
        *producer_id = gen->next++;
    }
    pthread_mutex_unlock(&gen->lock);
    return err;
}
