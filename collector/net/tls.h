/*
 * tls -- the collector's TLS server context for SSL and SASL_SSL listeners.
 *
 * One struct tr_tls holds the current OpenSSL SSL_CTX built from Kafka's
 * settings: ssl.keystore.location (PEM: private key and certificate chain),
 * ssl.key.password, ssl.truststore.location (CA bundle for client
 * certificates), ssl.client.auth, ssl.enabled.protocols and
 * ssl.cipher.suites. Every bad setting is an error naming it.
 *
 * tr_tls_client_ctx_new() builds the client side from the same settings,
 * for the connections this broker makes to other brokers.
 *
 * Renewal: tr_tls_reload() builds a new context from the same settings
 * (the files read again) and swaps it in; connections made afterwards use
 * it, while existing ones keep the one they were made with (OpenSSL counts
 * the references: an SSL holds its SSL_CTX). A reload that fails keeps the
 * old context. Any thread may call tr_tls_ssl_new() while another reloads.
 */
#ifndef TR_TLS_H
#define TR_TLS_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct tr_tls;
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

/* Builds the context from 'cfg' (copied, read again by reloads). */
tr_err_t tr_tls_new(const struct tr_broker_config *cfg, struct tr_tls **out,
                    char *errbuf, size_t errlen);
/* Rebuilds the context from the files; on failure the old one stays. */
tr_err_t tr_tls_reload(struct tr_tls *tls, char *errbuf, size_t errlen);
/*
 * Dynamic configuration: builds a context from the ssl.* settings of 'cfg'
 * (copied: later reloads use them) and swaps it in; on failure the old
 * context and settings stay. tr_tls_check_config only tries the build.
 */
tr_err_t tr_tls_reconfigure(struct tr_tls *tls,
                            const struct tr_broker_config *cfg, char *errbuf,
                            size_t errlen);
tr_err_t tr_tls_check_config(const struct tr_broker_config *cfg, char *errbuf,
                             size_t errlen);
/* A new server-side SSL on the current context, or NULL (no memory). */
SSL *tr_tls_ssl_new(struct tr_tls *tls);
/* NULL is a no-op. */
void tr_tls_free(struct tr_tls *tls);

/*
 * A client context for this broker's own TLS connections to other brokers
 * (an SSL or SASL_SSL inter-broker listener): the same ssl.enabled.protocols
 * and ssl.cipher.suites, the peer's certificate verified against
 * ssl.truststore.location (the system's CAs when unset), and the keystore
 * presented as client certificate when the peer asks for one. Owned result
 * (SSL_CTX_free), or NULL with 'errbuf' naming the setting.
 */
SSL_CTX *tr_tls_client_ctx_new(const struct tr_broker_config *cfg, char *errbuf,
                               size_t errlen);

/*
 * Writes the principal of a finished handshake to 'out': "User:" and the
 * client certificate's subject in RFC 2253 form (most specific first, as
 * Java's X500Principal.getName() prints it) mapped by
 * ssl.principal.mapping.rules, or "User:ANONYMOUS" without a certificate,
 * as Kafka's DefaultKafkaPrincipalBuilder does. TR_ERR_INVALID when no
 * rule matches the subject: the connection must then be refused.
 */
tr_err_t tr_tls_principal(struct tr_tls *tls, SSL *ssl, char *out,
                          size_t outlen);

/* The negotiated version and cipher, for logs ("TLSv1.3 ..."). */
void tr_tls_describe(SSL *ssl, char *out, size_t outlen);

#endif /* TR_TLS_H */
