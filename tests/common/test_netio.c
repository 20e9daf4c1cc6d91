/*
 * test_netio -- the rest of a frame read straight off a socket: a frame
 * completed by one call, one arriving in pieces (0 until it is whole), the
 * SO_RCVLOWAT asked for, a frame already complete, and a TLS connection
 * (nothing read, only the room made).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "buf.h"
#include "netio.h"

static int fds[2];

static int
setup(void **state)
{
    int size = 4 << 20;

    (void)state;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        return -1;
    }
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

static int
teardown(void **state)
{
    (void)state;
    close(fds[0]);
    close(fds[1]);
    return 0;
}

/* A frame of 'len' body bytes: its size, then bytes i % 251. */
static uint8_t *
make_frame(size_t len)
{
    uint8_t *f = malloc(4 + len);
    size_t i;

    assert_non_null(f);
    tr_store_i32(f, (int32_t)len);
    for (i = 0; i < len; i++) {
        f[4 + i] = (uint8_t)(i % 251);
    }
    return f;
}

static void
send_all(const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fds[1], p, len);

        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static int
lowat(void)
{
    int v = 0;
    socklen_t l = sizeof(v);

    assert_int_equal(getsockopt(fds[0], SOL_SOCKET, SO_RCVLOWAT, &v, &l), 0);
    return v;
}

static void
test_whole_rest_in_one_call(void **state)
{
    size_t len = 1 << 20;
    uint8_t *f = make_frame(len);
    struct evbuffer *in = evbuffer_new();
    struct tr_netio_rest st = { 0, 0 };
    uint8_t *p;

    (void)state;
    evbuffer_add(in, f, 4096); /* what libevent read itself */
    send_all(f + 4096, 4 + len - 4096);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 1);
    assert_int_equal(evbuffer_get_length(in), 4 + len);
    p = evbuffer_pullup(in, -1);
    assert_memory_equal(p, f, 4 + len);
    assert_int_equal(lowat(), 1); /* the next frame wakes at its first byte */
    tr_netio_frame_done(&st);
    assert_int_equal(st.expanded_for, 0);
    evbuffer_free(in);
    free(f);
}

static void
test_pieces(void **state)
{
    size_t len = 600000;
    uint8_t *f = make_frame(len);
    struct evbuffer *in = evbuffer_new();
    struct tr_netio_rest st = { 0, 0 };

    (void)state;
    evbuffer_add(in, f, 2); /* not even the size yet */
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 0);
    assert_int_equal(lowat(), 1);
    evbuffer_add(in, f + 2, 1000);
    send_all(f + 1002, 100000);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 0);
    assert_int_equal(evbuffer_get_length(in), 101002);
    /* The kernel is asked to wake us when up to 256 KiB more is there. */
    assert_int_equal(lowat(), 256 * 1024);
    send_all(f + 101002, 4 + len - 101002 - 100);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 0);
    assert_int_equal(lowat(), 100);
    send_all(f + 4 + len - 100, 100);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 1);
    assert_memory_equal(evbuffer_pullup(in, -1), f, 4 + len);
    evbuffer_free(in);
    free(f);
}

static void
test_tls_reads_nothing(void **state)
{
    size_t len = 300000;
    uint8_t *f = make_frame(len);
    struct evbuffer *in = evbuffer_new();
    struct tr_netio_rest st = { 0, 0 };
    uint8_t scratch[16];

    (void)state;
    evbuffer_add(in, f, 1000);
    send_all(f + 1000, 10);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 0, &st), 0);
    assert_int_equal(evbuffer_get_length(in), 1000);
    assert_int_equal(st.expanded_for, 4 + len); /* the room was made */
    assert_int_equal(read(fds[0], scratch, sizeof(scratch)), 10);
    evbuffer_free(in);
    free(f);
}

static void
test_already_complete(void **state)
{
    uint8_t *f = make_frame(10);
    struct evbuffer *in = evbuffer_new();
    struct tr_netio_rest st = { 0, 0 };

    (void)state;
    evbuffer_add(in, f, 14);
    assert_int_equal(tr_netio_read_rest(in, fds[0], 1, &st), 1);
    assert_int_equal(tr_netio_read_rest(in, -1, 1, &st), 1);
    assert_int_equal(evbuffer_get_length(in), 14);
    evbuffer_free(in);
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_rest_in_one_call, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_reads_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_already_complete, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
