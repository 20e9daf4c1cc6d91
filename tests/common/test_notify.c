/*
 * test_notify -- the readiness notifications reach a unix datagram socket
 * the test binds in place of systemd's, at a path and in the abstract
 * namespace, and a bad $NOTIFY_SOCKET is an error, not a crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct sock {
    int fd;
    char path[108]; /* $NOTIFY_SOCKET's value */
    char dir[64];
};

/* Binds a datagram socket at a fresh path ('abstract': an '@' name). */
static void
sock_open(struct sock *s, int abstract)
{
    struct sockaddr_un sa;
    socklen_t salen;

    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (abstract) {
        snprintf(s->path, sizeof(s->path), "@tributary-test-notify-%ld",
                 (long)getpid());
        memcpy(sa.sun_path + 1, s->path + 1, strlen(s->path) - 1);
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                            strlen(s->path));
    } else {
        snprintf(s->dir, sizeof(s->dir), "/tmp/tr-notify-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->path, sizeof(s->path), "%s/notify", s->dir);
        memcpy(sa.sun_path, s->path, strlen(s->path));
        salen = (socklen_t)sizeof(sa);
    }
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, salen), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", s->path, 1), 0);
}

/* Reads one datagram into 'buf' (NUL-terminated); fails if none waits. */
static void
sock_read(struct sock *s, char *buf, size_t len)
{
    ssize_t n = recv(s->fd, buf, len - 1, MSG_DONTWAIT);

    assert_true(n >= 0);
    buf[n] = '\0';
}

static void
sock_close(struct sock *s)
{
    close(s->fd);
    if (s->dir[0] != '\0') {
        unlink(s->path);
        rmdir(s->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

static void
test_notify_ready_status_stopping(void **state)
{
    struct sock s;
    char buf[512];

    (void)state;
    sock_open(&s, 0);
    assert_int_equal(tr_notify_ready("serving"), TR_OK);
    sock_read(&s, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=serving");
    assert_int_equal(tr_notify_ready(NULL), TR_OK);
    sock_read(&s, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    assert_int_equal(tr_notify_stopping(), TR_OK);
    sock_read(&s, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    /* One datagram per call: nothing else is waiting. */
    assert_true(recv(s.fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
    assert_int_equal(errno, EAGAIN);
    sock_close(&s);
}

static void
test_notify_reloading_has_monotonic_time(void **state)
{
    struct sock s;
    char buf[512];
    unsigned long long usec = 0;

    (void)state;
    sock_open(&s, 0);
    assert_int_equal(tr_notify_reloading(), TR_OK);
    sock_read(&s, buf, sizeof(buf));
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
    assert_true(usec > 0);
    sock_close(&s);
}

/*
 * One datagram per case: at a path and in the abstract namespace; a status
 * with a newline cannot add an assignment of its own.
 */
static void
test_notify_datagrams(void **state)
{
    static const struct {
        int abstract, ready;
        const char *arg, *want;
    } cases[] = {
        { 1, 0, "STATUS=abstract", "STATUS=abstract" },
        { 1, 1, "serving", "READY=1\nSTATUS=serving" },
        { 0, 1, "up\nSTOPPING=1", "READY=1\nSTATUS=up" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sock s;
        char buf[512];

        sock_open(&s, cases[i].abstract);
        assert_int_equal(cases[i].ready ? tr_notify_ready(cases[i].arg)
                                        : tr_notify_send(cases[i].arg),
                         TR_OK);
        sock_read(&s, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
        sock_close(&s);
    }
}

static void
test_notify_unset_is_a_no_op(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(tr_notify_ready("x"), TR_OK);
    assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
    assert_int_equal(tr_notify_stopping(), TR_OK);
    unsetenv("NOTIFY_SOCKET");
}

static void
test_notify_bad_socket(void **state)
{
    char longpath[200];

    (void)state;
    /* Relative paths and a bare '@' are not addresses systemd gives. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "run/notify", 1), 0);
    assert_int_equal(tr_notify_ready(NULL), TR_ERR_INVALID);
    assert_int_equal(setenv("NOTIFY_SOCKET", "@", 1), 0);
    assert_int_equal(tr_notify_ready(NULL), TR_ERR_INVALID);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", longpath, 1), 0);
    assert_int_equal(tr_notify_ready(NULL), TR_ERR_INVALID);
    /* Nobody listens there. */
    assert_int_equal(
        setenv("NOTIFY_SOCKET", "/nonexistent/tributary/notify", 1), 0);
    assert_int_equal(tr_notify_ready(NULL), TR_ERR_IO);
    unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_ready_status_stopping),
        cmocka_unit_test(test_notify_reloading_has_monotonic_time),
        cmocka_unit_test(test_notify_datagrams),
        cmocka_unit_test(test_notify_unset_is_a_no_op),
        cmocka_unit_test(test_notify_bad_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
