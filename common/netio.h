/*
 * netio -- reading Kafka frames off a socket in few, large reads.
 *
 * libevent 2.1 reads a socket at most 4 KiB at a time whatever a
 * bufferevent's max_single_read says, so a 1 MiB Produce request or Fetch
 * response costs some 256 reads and as many wake-ups. Both ends of the
 * protocol (the collector's server and the client core) therefore read the
 * rest of an incomplete frame themselves: tr_netio_read_rest() receives it
 * straight into room made once for the whole frame (so evbuffer_pullup()
 * has nothing to copy), in as few recv() calls as the kernel allows, and
 * sets SO_RCVLOWAT so that the kernel wakes the reader only once up to
 * 256 KiB more of the frame is queued. On TLS connections only the room is
 * made: OpenSSL does its own reads and may hold ciphertext the kernel no
 * longer counts.
 */
#ifndef TR_NETIO_H
#define TR_NETIO_H

#include <stddef.h>

struct evbuffer;

/* What a connection remembers between calls; zero it to start. */
struct tr_netio_rest {
    int rcvlowat;        /* SO_RCVLOWAT last set; 0: never set */
    size_t expanded_for; /* frame size the input was expanded for */
};

/*
 * 'in' is the input of a bufferevent on socket 'fd' (-1: none), holding
 * the start of a size-prefixed frame the caller saw incomplete (or less
 * than its 4-byte size); 'plain' is 0 on a TLS connection. Reads what the
 * socket has of the rest; returns 1 when the frame is now complete, 0 when
 * the caller should wait for the next read event. The caller has checked
 * the frame's size against its limits.
 */
int tr_netio_read_rest(struct evbuffer *in, int fd, int plain,
                       struct tr_netio_rest *st);

/* A frame was consumed: the next one gets its own room. */
void tr_netio_frame_done(struct tr_netio_rest *st);

#endif /* TR_NETIO_H */
