/*
 * netio -- reading Kafka frames off a socket in few, large reads; see
 * netio.h.
 */
#include "netio.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"

#define LOWAT_MAX (256 * 1024)

int
tr_netio_read_rest(struct evbuffer *in, int fd, int plain,
                   struct tr_netio_rest *st)
{
    size_t have = evbuffer_get_length(in), frame, need = 1;
    uint8_t sizebuf[4];
    struct evbuffer_iovec vec;
    ssize_t n;
    int lowat, done = 0;

    if (have >= 4) {
        evbuffer_copyout(in, sizebuf, 4);
        frame = 4 + (size_t)(uint32_t)tr_load_i32(sizebuf);
        need = frame > have ? frame - have : 0;
        if (frame >= LOWAT_MAX && need > 0 && st->expanded_for != frame &&
            evbuffer_pullup(in, (ssize_t)have) != NULL &&
            evbuffer_expand(in, need) == 0) {
            st->expanded_for = frame;
        }
        if (plain && fd >= 0 && need > 0) {
            /*
             * A socket bufferevent keeps the input's end frozen but for its
             * own reads (a TLS one does not freeze it).
             */
            evbuffer_unfreeze(in, 0);
            while (need > 0 &&
                   evbuffer_reserve_space(in, (ssize_t)need, &vec, 1) == 1) {
                n = recv(fd, vec.iov_base,
                         need < vec.iov_len ? need : vec.iov_len, MSG_DONTWAIT);
                if (n <= 0) {
                    break; /* EAGAIN; EOF, errors: the bufferevent's turn */
                }
                vec.iov_len = (size_t)n;
                evbuffer_commit_space(in, &vec, 1);
                need -= (size_t)n;
            }
            evbuffer_freeze(in, 0);
        }
        if (need == 0) {
            need = 1;
            done = 1;
        }
    }
    if (plain && fd >= 0) {
        lowat = need > LOWAT_MAX ? LOWAT_MAX : (int)need;
        if (lowat != st->rcvlowat && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT,
                                                &lowat, sizeof(lowat)) == 0) {
            st->rcvlowat = lowat;
        }
    }
    return done;
}

void
tr_netio_frame_done(struct tr_netio_rest *st)
{
    st->expanded_for = 0;
}
