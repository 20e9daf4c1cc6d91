/*
 * sasl -- SASL authentication on the Kafka protocol: SaslHandshake v0-1,
 * SaslAuthenticate v0-2, the SCRAM credential APIs
 * (DescribeUserScramCredentials, AlterUserScramCredentials), and the
 * per-connection state the server's gate consults.
 *
 * A connection on a SASL_PLAINTEXT or SASL_SSL listener starts
 * unauthenticated: the server answers only ApiVersions, SaslHandshake and
 * SaslAuthenticate (tr_sasl_gate) and closes it on a frame larger than
 * sasl.server.max.receive.size (tr_sasl_max_frame), as Kafka does since
 * CVE-2022-34917. The mechanisms are sasl.enabled.mechanisms' (SCRAM-SHA-256,
 * SCRAM-SHA-512 and PLAIN), all checked against the one credential store
 * (security/credentials). Once authenticated the connection's principal is
 * "User:<name>" (in struct tr_conn_security, api.h).
 *
 * The tokens travel in SaslAuthenticate requests after a v1 handshake. After
 * a v0 handshake (kafka-python 2.0.2) they travel as bare frames (a length
 * and the bytes, no header): the server hands such frames to
 * tr_sasl_raw_token() while tr_sasl_expects_raw() says so, and answers in
 * the same framing; a failure there closes the connection without a word.
 *
 * With connections.max.reauth.ms > 0, SaslAuthenticate v1+ tells the client
 * its session lifetime; past it every request but a new handshake closes
 * the connection (KIP-368). A re-authentication must keep the mechanism and
 * the principal.
 */
#ifndef TR_SASL_H
#define TR_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "scram.h"

struct tr_broker;
struct tr_conn_security;
struct tr_broker_config;

enum tr_sasl_mech {
    TR_SASL_NONE = 0,
    TR_SASL_SCRAM_SHA_256 = 1, /* = TR_SCRAM_SHA_256 */
    TR_SASL_SCRAM_SHA_512 = 2, /* = TR_SCRAM_SHA_512 */
    TR_SASL_PLAIN = 3,
};

enum tr_sasl_state {
    TR_SASL_START = 0,    /* no handshake yet */
    TR_SASL_AUTHENTICATE, /* v1 handshake done: tokens in SaslAuthenticate */
    TR_SASL_RAW,          /* v0 handshake done: tokens as bare frames */
    TR_SASL_DONE,         /* authenticated */
    TR_SASL_FAILED,       /* the next frame closes the connection */
};

/* One connection's SASL state; owned by the server's connection. */
struct tr_sasl_session {
    enum tr_sasl_state state;
    enum tr_sasl_mech mech;
    struct tr_scram_server scram;
    int64_t expiry_ms;   /* re-authentication deadline (wall), 0: none */
    char user[256];      /* the authenticated user, "" before */
    char prev_user[256]; /* on re-authentication: the user it must keep */
};

struct tr_sasl_session *tr_sasl_session_new(void);
/* NULL is a no-op. */
void tr_sasl_session_free(struct tr_sasl_session *sess);

/* The largest frame the connection may send now: the broker's maximum, or
 * sasl.server.max.receive.size before a SASL connection authenticates. */
int32_t tr_sasl_max_frame(const struct tr_sasl_session *sess,
                          const struct tr_conn_security *sec,
                          const struct tr_broker_config *cfg,
                          int32_t request_max);

/*
 * 1 if a request for 'api_key' may be handled on this connection now, 0 if
 * the connection must be closed without an answer (an unauthenticated
 * request on a SASL listener, a failed exchange, an expired session).
 */
int tr_sasl_gate(const struct tr_sasl_session *sess,
                 const struct tr_conn_security *sec, int16_t api_key,
                 int64_t now_ms);

/* 1 while the next frame is a bare SASL token (after a v0 handshake). */
int tr_sasl_expects_raw(const struct tr_sasl_session *sess);

/*
 * Handles one bare token; on TR_OK 'out' holds the token to send back in
 * the same framing (possibly empty). Any error means: close, say nothing.
 */
tr_err_t tr_sasl_raw_token(struct tr_broker *broker,
                           struct tr_sasl_session *sess,
                           struct tr_conn_security *sec, const uint8_t *token,
                           size_t len, int64_t now_ms, struct tr_buf *out);

/*
 * Checks a sasl.enabled.mechanisms value: a comma-separated list of
 * SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. 0 if good, else -1 with the
 * reason in 'errbuf'.
 */
int tr_sasl_check_mechanisms(const char *list, char *errbuf, size_t errlen);
/* 1 if mechanism 'name' is in cfg's sasl.enabled.mechanisms. */
int tr_sasl_mechanism_enabled(const struct tr_broker_config *cfg,
                              const char *name);

#endif /* TR_SASL_H */
