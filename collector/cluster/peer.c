/*
 * peer -- TLS and SASL for this broker's connections to other brokers;
 * see peer.h.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clientsec.h"
#include "clock.h"
#include "sasl.h"
#include "tls.h"

struct tr_peer {
    enum tr_security_protocol protocol;
    SSL_CTX *ctx;    /* SSL, SASL_SSL */
    int verify_host; /* ssl.endpoint.identification.algorithm=https */
    char mechanism[32];
    enum tr_scram_mech scram; /* TR_SCRAM_UNKNOWN: PLAIN */
    char user[256];
    char password[256];
};

tr_err_t
tr_peer_new(const struct tr_broker_config *cfg,
            enum tr_security_protocol protocol, const char *listener,
            struct tr_peer **out, char *errbuf, size_t errlen)
{
    struct tr_peer *peer;
    const char *mech = cfg->sasl_mechanism_inter_broker_protocol;
    tr_err_t err = TR_ERR_CONFIG;

    peer = tr_calloc(1, sizeof(*peer));
    if (peer == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    peer->protocol = protocol;
    if (TR_SEC_IS_TLS(protocol)) {
        peer->ctx = tr_tls_client_ctx_new(cfg, errbuf, errlen);
        if (peer->ctx == NULL) {
            goto out;
        }
        peer->verify_host =
            cfg->ssl_endpoint_identification_algorithm != NULL &&
            cfg->ssl_endpoint_identification_algorithm[0] != '\0';
    }
    if (protocol == TR_SEC_SASL_PLAINTEXT || protocol == TR_SEC_SASL_SSL) {
        /* Kafka's rule: the others expect what this broker offers. */
        if (!tr_sasl_mechanism_enabled(cfg, mech)) {
            snprintf(errbuf, errlen,
                     "sasl.mechanism.inter.broker.protocol: %s is not in "
                     "sasl.enabled.mechanisms (%s)",
                     mech, cfg->sasl_enabled_mechanisms);
            goto out;
        }
        snprintf(peer->mechanism, sizeof(peer->mechanism), "%s", mech);
        peer->scram = tr_scram_mech_parse(mech, strlen(mech));
        err = tr_broker_config_jaas(cfg, listener, mech, peer->user,
                                    sizeof(peer->user), peer->password,
                                    sizeof(peer->password), errbuf, errlen);
        if (err != TR_OK) {
            err = TR_ERR_CONFIG;
            goto out;
        }
    }
    *out = peer;
    peer = NULL;
    err = TR_OK;
out:
    tr_peer_free(peer);
    return err;
}

void
tr_peer_free(struct tr_peer *peer)
{
    if (peer == NULL) {
        return;
    }
    SSL_CTX_free(peer->ctx);
    OPENSSL_cleanse(peer->password, sizeof(peer->password));
    tr_free(peer);
}

const char *
tr_peer_protocol_name(const struct tr_peer *peer)
{
    return tr_security_protocol_name(peer != NULL ? peer->protocol
                                                  : TR_SEC_PLAINTEXT);
}

int
tr_peer_is_tls(const struct tr_peer *peer)
{
    return peer != NULL && peer->ctx != NULL;
}

int
tr_peer_is_sasl(const struct tr_peer *peer)
{
    return peer != NULL && peer->mechanism[0] != '\0';
}

const char *
tr_peer_mechanism(const struct tr_peer *peer)
{
    return peer->mechanism;
}

const char *
tr_peer_user(const struct tr_peer *peer)
{
    return peer->user;
}

tr_err_t
tr_peer_wait(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = { fd, events, 0 };
    int64_t left = deadline - tr_clock_mono_ms();
    int rc;

    if (left <= 0) {
        return TR_ERR_TIMEOUT;
    }
    do {
        rc = poll(&pfd, 1, (int)left);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        return TR_ERR_TIMEOUT;
    }
    return rc < 0 ? TR_ERR_IO : TR_OK;
}

/*
 * After an SSL call returned 'rc' <= 0: waits for what OpenSSL needs
 * (TR_OK: call again), or says the connection failed.
 */
static tr_err_t
ssl_wait(struct tr_peer_link *link, int rc, int64_t deadline)
{
    switch (SSL_get_error(link->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return tr_peer_wait(link->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return tr_peer_wait(link->fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN:
        return TR_ERR_CLOSED;
    default:
        ERR_clear_error();
        return TR_ERR_IO;
    }
}

tr_err_t
tr_peer_tls_connect(const struct tr_peer *peer, struct tr_peer_link *link,
                    const char *host, int64_t deadline, char *why,
                    size_t whylen)
{
    char e[256];
    long verify;
    int rc;
    tr_err_t err;

    link->ssl = SSL_new(peer->ctx);
    if (link->ssl == NULL || SSL_set_fd(link->ssl, link->fd) != 1 ||
        (peer->verify_host && tr_clientsec_expect_host(link->ssl, host) != 1)) {
        snprintf(why, whylen, "TLS: cannot set up the connection");
        err = TR_ERR_NOMEM;
        goto fail;
    }
    for (;;) {
        ERR_clear_error();
        rc = SSL_connect(link->ssl);
        if (rc == 1) {
            return TR_OK;
        }
        err = ssl_wait(link, rc, deadline);
        if (err != TR_OK) {
            break;
        }
    }
    verify = SSL_get_verify_result(link->ssl);
    if (verify != X509_V_OK) {
        snprintf(why, whylen, "TLS: the peer's certificate is refused: %s%s",
                 X509_verify_cert_error_string(verify),
                 verify == X509_V_ERR_HOSTNAME_MISMATCH ||
                         verify == X509_V_ERR_IP_ADDRESS_MISMATCH
                     ? " (ssl.endpoint.identification.algorithm=https: the "
                       "certificate must name the advertised host)"
                     : "");
    } else if (err == TR_ERR_TIMEOUT) {
        snprintf(why, whylen, "TLS: no handshake before the deadline");
    } else {
        unsigned long code = ERR_peek_last_error();

        if (code != 0) {
            ERR_error_string_n(code, e, sizeof(e));
        } else {
            snprintf(e, sizeof(e), "connection closed");
        }
        snprintf(why, whylen, "TLS handshake failed: %s", e);
    }
    ERR_clear_error();
fail:
    SSL_free(link->ssl);
    link->ssl = NULL;
    return err == TR_OK ? TR_ERR_IO : err;
}

/* Moves exactly 'n' bytes out of (writing) or into 'p' before 'deadline'. */
static tr_err_t
transfer(struct tr_peer_link *link, uint8_t *p, size_t n, int writing,
         int64_t deadline)
{
    int chunk;
    ssize_t done;
    tr_err_t err;

    while (n > 0) {
        chunk = n > INT32_MAX ? INT32_MAX : (int)n;
        if (link->ssl != NULL) {
            ERR_clear_error();
            done = writing ? SSL_write(link->ssl, p, chunk)
                           : SSL_read(link->ssl, p, chunk);
            if (done <= 0) {
                err = ssl_wait(link, (int)done, deadline);
                if (err != TR_OK) {
                    return err;
                }
                continue;
            }
        } else {
            done = writing ? send(link->fd, p, n, MSG_NOSIGNAL)
                           : recv(link->fd, p, n, 0);
            if (done == 0 && !writing) {
                return TR_ERR_CLOSED;
            }
            if (done <= 0) {
                if (done < 0 && errno != EAGAIN && errno != EINTR) {
                    return TR_ERR_IO;
                }
                err = tr_peer_wait(link->fd, writing ? POLLOUT : POLLIN,
                                   deadline);
                if (err != TR_OK) {
                    return err;
                }
                continue;
            }
        }
        p += done;
        n -= (size_t)done;
    }
    return TR_OK;
}

tr_err_t
tr_peer_write(struct tr_peer_link *link, const uint8_t *p, size_t n,
              int64_t deadline)
{
    /* 'p' is only read when writing. */
    return transfer(link, (uint8_t *)(uintptr_t)p, n, 1, deadline);
}

tr_err_t
tr_peer_read(struct tr_peer_link *link, uint8_t *p, size_t n, int64_t deadline)
{
    return transfer(link, p, n, 0, deadline);
}

void
tr_peer_link_close(struct tr_peer_link *link)
{
    if (link->ssl != NULL) {
        /* close_notify, without waiting for the peer's (non-blocking). */
        (void)SSL_shutdown(link->ssl);
        ERR_clear_error();
        SSL_free(link->ssl);
        link->ssl = NULL;
    }
    if (link->fd >= 0) {
        close(link->fd);
        link->fd = -1;
    }
}

tr_err_t
tr_peer_sasl_begin(const struct tr_peer *peer, struct tr_peer_sasl *s,
                   struct tr_buf *out)
{
    tr_err_t err;

    memset(s, 0, sizeof(*s));
    s->peer = peer;
    if (peer->scram == TR_SCRAM_UNKNOWN) {
        /* PLAIN: authzid (empty), NUL, user, NUL, password. */
        tr_buf_put_i8(out, 0);
        tr_buf_put_bytes(out, peer->user, strlen(peer->user));
        tr_buf_put_i8(out, 0);
        tr_buf_put_bytes(out, peer->password, strlen(peer->password));
        return tr_buf_err(out);
    }
    err = tr_scram_client_init(&s->scram, peer->scram, peer->user,
                               peer->password);
    if (err == TR_OK) {
        err = tr_scram_client_first(&s->scram, NULL, out);
    }
    return err;
}

tr_err_t
tr_peer_sasl_step(struct tr_peer_sasl *s, const uint8_t *in, size_t len,
                  struct tr_buf *out, int *done)
{
    *done = 0;
    if (s->peer->scram == TR_SCRAM_UNKNOWN) {
        *done = 1; /* PLAIN: the server's empty answer means success */
        return TR_OK;
    }
    if (s->step++ == 0) {
        return tr_scram_client_final(&s->scram, in, len, out);
    }
    *done = 1;
    return tr_scram_client_verify(&s->scram, in, len);
}

void
tr_peer_sasl_end(struct tr_peer_sasl *s)
{
    if (s->peer != NULL && s->peer->scram != TR_SCRAM_UNKNOWN) {
        tr_scram_client_cleanup(&s->scram);
    }
    s->peer = NULL;
}
