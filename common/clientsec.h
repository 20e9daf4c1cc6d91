/*
 * clientsec -- the security settings of every client the project ships (the
 * agent, the tributary CLI, the exporter): TLS and SASL under librdkafka's
 * property names, parsed in one place.
 *
 * The agent's [output] section, the CLI's -X KEY=VALUE and --command-config
 * FILE, and anything else that makes a client core (client.h) all hand
 * their key/value pairs to tr_clientsec_set(), then call
 * tr_clientsec_prepare() once: it checks the combination, reads the
 * password file, loads the certificates and builds the TLS context, so a
 * bad setting fails at start with its name in the message rather than at
 * the first connection. The prepared object is then borrowed by the client
 * core, which asks it for one SSL per connection (with SNI and the host
 * name to verify) and for the SASL credentials.
 *
 * Properties (librdkafka's names and values; see tr_clientsec_write_help):
 *
 *   security.protocol                      PLAINTEXT, SSL, SASL_PLAINTEXT,
 *                                          SASL_SSL (any case)
 *   ssl.ca.location                        CA bundle; unset: system CAs
 *   ssl.certificate.location, ssl.key.location, ssl.key.password
 *                                          client certificate (mutual TLS)
 *   ssl.endpoint.identification.algorithm  https (default) or none
 *   enable.ssl.certificate.verification    true (default) or false
 *   sasl.mechanism (alias sasl.mechanisms) PLAIN, SCRAM-SHA-256,
 *                                          SCRAM-SHA-512
 *   sasl.username, sasl.password           or sasl.password.file
 *
 * A key or password file that the group or others may read draws a
 * warning. Thread safety: none while being set up; once prepared it is
 * read-only and may be shared.
 */
#ifndef TR_CLIENTSEC_H
#define TR_CLIENTSEC_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

enum tr_clientsec_protocol {
    TR_CLIENTSEC_PLAINTEXT = 0,
    TR_CLIENTSEC_SSL = 1,
    TR_CLIENTSEC_SASL_PLAINTEXT = 2,
    TR_CLIENTSEC_SASL_SSL = 3,
};

enum tr_clientsec_mech {
    TR_CLIENTSEC_MECH_NONE = 0,
    TR_CLIENTSEC_MECH_PLAIN = 1,
    TR_CLIENTSEC_MECH_SCRAM_SHA_256 = 2,
    TR_CLIENTSEC_MECH_SCRAM_SHA_512 = 3,
};

struct tr_clientsec;
/* OpenSSL's connection object, kept out of this header's includes. */
struct ssl_st;

/* Called with each warning (a readable secret file, an unused setting). */
typedef void tr_clientsec_warn_cb(const char *msg, void *arg);

/* Returns an owned, empty (PLAINTEXT) set of settings in *out. */
tr_err_t tr_clientsec_new(struct tr_clientsec **out);
/* Frees the settings, wiping the passwords. NULL is a no-op. */
void tr_clientsec_free(struct tr_clientsec *sec);

/* 1 if 'key' is one of the properties above. */
int tr_clientsec_is_key(const char *key);

/*
 * Sets one property ('key' and 'value' are copied). TR_ERR_NOT_FOUND for a
 * key that is not a security property (the caller decides whether that is
 * an error), TR_ERR_CONFIG for a bad value, with errbuf saying why
 * ("security.protocol: expected PLAINTEXT, SSL, ... got 'tls'").
 */
tr_err_t tr_clientsec_set(struct tr_clientsec *sec, const char *key,
                          const char *value, char *errbuf, size_t errlen);

/*
 * Reads a Java properties file of security properties (Kafka's
 * --command-config / client.properties form). Unknown keys fail with
 * "FILE:LINE: ...". A file holding a password that others may read draws
 * a warning through 'warn' (NULL: the log).
 */
tr_err_t tr_clientsec_load_file(struct tr_clientsec *sec, const char *path,
                                tr_clientsec_warn_cb *warn, void *warn_arg,
                                char *errbuf, size_t errlen);

/*
 * Checks the settings together, reads sasl.password.file, loads the CA,
 * the client certificate and key, and builds the TLS context. Call once,
 * after the last tr_clientsec_set. TR_ERR_CONFIG (errbuf names the
 * setting) or TR_ERR_NOMEM. Warnings go to 'warn' (NULL: the log).
 */
tr_err_t tr_clientsec_prepare(struct tr_clientsec *sec,
                              tr_clientsec_warn_cb *warn, void *warn_arg,
                              char *errbuf, size_t errlen);

enum tr_clientsec_protocol tr_clientsec_protocol(const struct tr_clientsec *s);
/* "PLAINTEXT", "SSL", "SASL_PLAINTEXT" or "SASL_SSL". */
const char *tr_clientsec_protocol_name(enum tr_clientsec_protocol p);
/* 1 when connections use TLS (SSL, SASL_SSL). */
int tr_clientsec_uses_tls(const struct tr_clientsec *sec);
/* 1 when connections authenticate with SASL. */
int tr_clientsec_uses_sasl(const struct tr_clientsec *sec);
enum tr_clientsec_mech tr_clientsec_mech(const struct tr_clientsec *sec);
/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"; NULL for NONE. */
const char *tr_clientsec_mech_name(enum tr_clientsec_mech mech);
/* The SASL user and password, valid while 'sec' lives (after prepare). */
const char *tr_clientsec_username(const struct tr_clientsec *sec);
const char *tr_clientsec_password(const struct tr_clientsec *sec);

/*
 * Sets the name the server's certificate must cover on 'ssl' (a client's,
 * before the handshake): an IP address, or a DNS name (no partial
 * wildcards), also sent as SNI. 1 on success.
 */
int tr_clientsec_expect_host(struct ssl_st *ssl, const char *host);

/*
 * Returns a new SSL for one connection to 'host' (owned: the caller frees
 * it, or hands it to a bufferevent that does): SNI set for a name, and
 * unless verification is off the peer's certificate must name 'host'
 * (subjectAltName DNS for a name, IP for an address). NULL on failure.
 */
struct ssl_st *tr_clientsec_ssl_new(const struct tr_clientsec *sec,
                                    const char *host);

/*
 * Describes why a TLS connection failed, into 'buf': "certificate verify
 * failed: <reason>" when the server's certificate was refused (untrusted,
 * expired, "hostname mismatch"), else OpenSSL's error 'ossl_err' or the
 * queued errors. 'ssl' may be NULL.
 */
void tr_clientsec_tls_error(struct ssl_st *ssl, unsigned long ossl_err,
                            char *buf, size_t len);

/*
 * Reads the first line of the file at 'path' (the line end dropped) into
 * 'out'. A file the group or others can read draws a warning naming
 * 'what'. TR_ERR_IO (unreadable), TR_ERR_INVALID (empty),
 * TR_ERR_TOO_LARGE (does not fit), with errbuf saying so.
 */
tr_err_t tr_clientsec_read_secret(const char *what, const char *path, char *out,
                                  size_t outlen, tr_clientsec_warn_cb *warn,
                                  void *warn_arg, char *errbuf, size_t errlen);

/*
 * The i-th property of the reference (0, 1, ...): its name, with *def (the
 * default, as text) and *help; NULL past the last. Drives --help, the
 * agent's option reference and the docs.
 */
const char *tr_clientsec_prop(size_t i, const char **def, const char **help);

/*
 * OpenSSL helpers the collector's TLS context shares: the newest queued
 * error as text in 'buf' (the queue emptied; returns 'buf'), and a
 * pem_password_cb handing OpenSSL the NUL-terminated password 'arg' --
 * with NULL the callback fails, so an encrypted key fails to load instead
 * of OpenSSL prompting on the terminal.
 */
const char *tr_clientsec_ossl_error(char *buf, size_t len);
int tr_clientsec_password_cb(char *buf, int size, int rwflag, void *arg);

/* Writes the reference, one line per property, each after 'indent'. */
void tr_clientsec_write_help(FILE *out, const char *indent);

#endif /* TR_CLIENTSEC_H */
