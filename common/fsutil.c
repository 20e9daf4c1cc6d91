/*
 * fsutil -- durable file writes; see fsutil.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

tr_err_t
tr_fsync_dir(const char *dir)
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
tr_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return TR_ERR_IO;
        }
        p += w;
        len -= (size_t)w;
    }
    return TR_OK;
}

tr_err_t
tr_read_at(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;

    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return TR_ERR_IO;
        }
        if (r == 0) {
            return TR_ERR_TRUNCATED;
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return TR_OK;
}

tr_err_t
tr_replace_file(const char *dir, const char *name, const void *data, size_t len,
                mode_t mode)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int fd = -1;
    tr_err_t err = TR_ERR_INVALID;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >=
            (int)sizeof(tmp)) {
        return err;
    }
    err = TR_ERR_IO;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        goto out;
    }
    /* An existing temporary file keeps its mode: set ours first. */
    if (fchmod(fd, mode) != 0 || tr_write_all(fd, data, len) != TR_OK ||
        fsync(fd) != 0) {
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
    err = tr_fsync_dir(dir);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (err != TR_OK) {
        unlink(tmp);
    }
    return err;
}
