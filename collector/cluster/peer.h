/*
 * peer -- the security of the connections this broker opens to other
 * brokers (replica fetchers, the controller's requests, controlled
 * shutdown), as set for the inter-broker listener.
 *
 * One struct tr_peer is built at start-up from the inter-broker listener's
 * security protocol: on SSL and SASL_SSL a TLS client context (tls.h: the
 * peer's certificate checked against ssl.truststore.location, its host name
 * too when ssl.endpoint.identification.algorithm=https, and the keystore
 * presented as client certificate when asked); on SASL_PLAINTEXT and
 * SASL_SSL the mechanism (sasl.mechanism.inter.broker.protocol) and this
 * broker's own user and password (Kafka's
 * listener.name.<listener>.<mechanism>.sasl.jaas.config). It is read-only
 * afterwards and shared by every connection, on any thread.
 *
 * rpc.c owns the connections: it opens the socket, calls
 * tr_peer_tls_connect() for the TLS handshake, and runs the SaslHandshake
 * and SaslAuthenticate requests with the tokens tr_peer_sasl_*() make.
 * Reads and writes go through tr_peer_read()/tr_peer_write(), on a
 * non-blocking socket with a deadline, over TLS or not.
 */
#ifndef TR_PEER_H
#define TR_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "scram.h"

struct tr_peer;
typedef struct ssl_st SSL;

/*
 * Builds the settings for inter-broker connections of 'protocol' on the
 * listener 'listener' (its name, for the JAAS key). 'cfg' is borrowed for
 * the call only. Bad or missing settings are TR_ERR_CONFIG with 'errbuf'
 * naming the key. Owned result in *out.
 */
tr_err_t tr_peer_new(const struct tr_broker_config *cfg,
                     enum tr_security_protocol protocol, const char *listener,
                     struct tr_peer **out, char *errbuf, size_t errlen);
/* NULL is a no-op. */
void tr_peer_free(struct tr_peer *peer);

/* "SASL_SSL" and so on; PLAINTEXT for a NULL peer. */
const char *tr_peer_protocol_name(const struct tr_peer *peer);
/* 1 when connections do TLS, or SASL. A NULL peer does neither. */
int tr_peer_is_tls(const struct tr_peer *peer);
int tr_peer_is_sasl(const struct tr_peer *peer);
/* The SASL mechanism ("SCRAM-SHA-512"). */
const char *tr_peer_mechanism(const struct tr_peer *peer);
/* The user this broker logs in as. */
const char *tr_peer_user(const struct tr_peer *peer);

/* A connected socket and, over TLS, its SSL. */
struct tr_peer_link {
    int fd; /* -1 when closed */
    SSL *ssl;
};

/*
 * Runs the TLS handshake on 'link->fd' (connected, non-blocking) as a
 * client of 'host', until 'deadline' (tr_clock_mono_ms). On failure 'why'
 * says what went wrong (a certificate that does not verify, a host name
 * it does not cover, a handshake refused) and the SSL is freed.
 */
tr_err_t tr_peer_tls_connect(const struct tr_peer *peer,
                             struct tr_peer_link *link, const char *host,
                             int64_t deadline, char *why, size_t whylen);
/* Waits for poll 'events' on 'fd' until 'deadline': TR_ERR_TIMEOUT after. */
tr_err_t tr_peer_wait(int fd, short events, int64_t deadline);
/* Writes or reads exactly 'n' bytes before 'deadline'. */
tr_err_t tr_peer_write(struct tr_peer_link *link, const uint8_t *p, size_t n,
                       int64_t deadline);
tr_err_t tr_peer_read(struct tr_peer_link *link, uint8_t *p, size_t n,
                      int64_t deadline);
/* Closes the socket and frees the SSL; a closed link is a no-op. */
void tr_peer_link_close(struct tr_peer_link *link);

/* One SASL login as the client. */
struct tr_peer_sasl {
    const struct tr_peer *peer;
    struct tr_scram_client scram;
    int step;
};

/* Starts a login: the first token goes to 'out'. */
tr_err_t tr_peer_sasl_begin(const struct tr_peer *peer, struct tr_peer_sasl *s,
                            struct tr_buf *out);
/*
 * Takes the server's token 'in': either the next token to send goes to
 * 'out', or *done is set (the server proved itself, for SCRAM). A server
 * signature that does not verify is TR_ERR_INVALID.
 */
tr_err_t tr_peer_sasl_step(struct tr_peer_sasl *s, const uint8_t *in,
                           size_t len, struct tr_buf *out, int *done);
void tr_peer_sasl_end(struct tr_peer_sasl *s);

#endif /* TR_PEER_H */
