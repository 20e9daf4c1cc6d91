/*
 * clientsasl -- the client's side of Kafka's SASL exchange (KIP-43,
 * KIP-152), on byte buffers: SaslHandshake v1 naming the mechanism, then
 * the mechanism's tokens in SaslAuthenticate v0/v1 requests.
 *
 *   PLAIN          SaslAuthenticate("\0user\0password")           -> ""
 *   SCRAM-SHA-*    SaslAuthenticate(client-first) -> server-first
 *                  SaslAuthenticate(client-final) -> server-final, whose
 *                  signature is checked: a server that does not know the
 *                  password cannot pass for the real one
 *
 * The client core (client.c) runs it after the ApiVersions handshake of
 * every connection: it asks for the next request, sends it, and hands the
 * response body back, until the exchange is done or has failed. Keeping
 * the messages here, away from sockets, lets the tests drive it against
 * the server's side of common/scram.c.
 *
 * A refusal is TR_ERR_AUTH with errbuf holding what the user should see:
 * "SASL authentication failed: <the broker's message>", "SASL mechanism
 * SCRAM-SHA-512 not enabled on the broker (it offers: PLAIN)", ...
 */
#ifndef TR_CLIENTSASL_H
#define TR_CLIENTSASL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct tr_clientsec;
struct tr_clientsasl;

/*
 * Returns an owned exchange in *out for the mechanism and credentials of
 * 'sec' (prepared, SASL; borrowed only during the call).
 */
tr_err_t tr_clientsasl_new(const struct tr_clientsec *sec,
                           struct tr_clientsasl **out);
/* Wipes the secrets and frees. NULL is a no-op. */
void tr_clientsasl_free(struct tr_clientsasl *sasl);

/*
 * Appends the next request's body to 'body' and says which API it is
 * (*api_key: SaslHandshake or SaslAuthenticate) and its version
 * (SaslAuthenticate at 'auth_version', 0 or 1, which the caller chose
 * from the broker's ApiVersions). TR_ERR_INVALID once done or failed.
 */
tr_err_t tr_clientsasl_request(struct tr_clientsasl *sasl, int16_t auth_version,
                               int16_t *api_key, int16_t *version,
                               struct tr_buf *body);

/*
 * Reads the response body to the last request. TR_OK: go on (another
 * request, or done: see tr_clientsasl_done); TR_ERR_AUTH: refused, with
 * errbuf saying why; TR_ERR_CORRUPT: a malformed answer.
 */
tr_err_t tr_clientsasl_response(struct tr_clientsasl *sasl, int16_t version,
                                struct tr_slice *body, char *errbuf,
                                size_t errlen);

/* 1 once the broker accepted the credentials. */
int tr_clientsasl_done(const struct tr_clientsasl *sasl);

#endif /* TR_CLIENTSASL_H */
