/*
 * fileio -- atomic replacement of small files. See fileio.h.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

tr_err_t
tr_fileio_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    tr_err_t err = TR_OK;

    if (fd < 0) {
        return TR_ERR_IO;
    }
    if (fsync(fd) != 0) {
        err = TR_ERR_IO;
    }
    close(fd);
    return err;
}

tr_err_t
tr_fileio_replace(const char *dir, const char *name, const void *data,
                  size_t len, mode_t mode)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    const char *p = data;
    int fd = -1;
    tr_err_t err = TR_ERR_INVALID;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >=
            (int)sizeof(tmp)) {
        return err;
    }
    err = TR_ERR_IO;
    /* The mode from the start: no one sees the content with looser ones. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || fchmod(fd, mode) != 0) {
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto out;
    }
    err = tr_fileio_sync_dir(dir);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (err != TR_OK) {
        unlink(tmp);
    }
    return err;
}
