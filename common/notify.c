/*
 * notify -- systemd's readiness protocol written by hand (see notify.h).
 *
 * The protocol is one datagram per notification on an AF_UNIX SOCK_DGRAM
 * socket; systemd identifies the sender by its credentials (SCM_CREDENTIALS
 * are added by the kernel when the receiver asks for them), so nothing else
 * has to be sent. The socket is opened per call: notifications are rare
 * (start-up, reload, shutdown) and a socket kept open would be one more
 * thing to hand to every thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "notify.h"

/* Fills 'sa' from $NOTIFY_SOCKET's value 'path'; returns the address length. */
static tr_err_t
notify_address(const char *path, struct sockaddr_un *sa, socklen_t *salen)
{
    size_t len = strlen(path);

    if ((path[0] != '/' && path[0] != '@') || len < 2 ||
        len > sizeof(sa->sun_path) - 1) {
        return TR_ERR_INVALID;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    if (path[0] == '@') {
        /* Abstract namespace: the name is the bytes after a NUL, no end. */
        sa->sun_path[0] = '\0';
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    return TR_OK;
}

tr_err_t
tr_notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len = strlen(state);
    ssize_t n;
    int fd, saved;
    tr_err_t err;

    if (path == NULL || path[0] == '\0') {
        return TR_OK;
    }
    err = notify_address(path, &sa, &salen);
    if (err != TR_OK) {
        return err;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return TR_ERR_IO;
    }
    n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? TR_OK : TR_ERR_IO;
}

tr_err_t
tr_notify_ready(const char *status)
{
    char msg[512];

    if (status == NULL) {
        return tr_notify_send("READY=1");
    }
    /* A newline in the status would start a new assignment: cut it there. */
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%.*s",
             (int)strcspn(status, "\n"), status);
    return tr_notify_send(msg);
}

tr_err_t
tr_notify_reloading(void)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)tr_clock_mono_us());
    return tr_notify_send(msg);
}

tr_err_t
tr_notify_stopping(void)
{
    return tr_notify_send("STOPPING=1");
}
