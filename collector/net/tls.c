/*
 * tls -- the TLS server context: Kafka's ssl.* settings on OpenSSL 3.
 */
#include "tls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

struct tr_tls {
    const struct tr_broker_config *cfg;
    pthread_mutex_t lock; /* guards ctx: reloads swap it */
    SSL_CTX *ctx;
};

/* The newest OpenSSL error as text, and the queue emptied. */
static const char *
ossl_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0) {
        snprintf(buf, len, "unknown error");
    } else {
        ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

/*
 * Hands OpenSSL ssl.key.password. Without this callback OpenSSL would
 * prompt on the terminal for an encrypted key; with no password set we
 * return -1, so such a key fails to load instead.
 */
static int
password_cb(char *buf, int size, int rwflag, void *arg)
{
    const char *password = arg;
    size_t len;

    (void)rwflag;
    if (password == NULL) {
        return -1;
    }
    len = strlen(password);
    if (len > (size_t)size) {
        return -1;
    }
    memcpy(buf, password, len);
    return (int)len;
}

/* Checks that 'path' can be read, so a missing file names its setting. */
static tr_err_t
check_file(const char *setting, const char *path, char *errbuf, size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(errbuf, errlen,
                 "%s: not set (required by SSL and SASL_SSL listeners)",
                 setting);
        return TR_ERR_CONFIG;
    }
    if (access(path, R_OK) != 0) {
        snprintf(errbuf, errlen, "%s: cannot read %s: %s", setting, path,
                 strerror(errno));
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* Returns 1 if 'name' is one of TLS 1.3's suites, which OpenSSL sets apart. */
static int
is_tls13_suite(const char *name)
{
    return strncmp(name, "TLS_AES_", 8) == 0 ||
           strncmp(name, "TLS_CHACHA20_", 13) == 0;
}

/*
 * Applies ssl.cipher.suites. Kafka takes Java's (IANA) names; OpenSSL
 * keeps TLS 1.3 suites in one list (same names) and older ones in another
 * (its own names, which OPENSSL_cipher_name() maps from IANA ones). A list
 * naming suites of only one version restricts the other version to none,
 * which is what the operator asked: only the named suites.
 */
static tr_err_t
set_ciphers(SSL_CTX *ctx, const char *suites, char *errbuf, size_t errlen)
{
    char tls12[2048] = "", tls13[1024] = "", name[128], e[256];
    const char *p = suites;
    tr_err_t err = TR_ERR_CONFIG;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n;
        char *list;
        size_t cap, used;
        const char *ossl;

        if (end == NULL) {
            end = p + strlen(p);
        }
        while (*p == ' ' && p < end) {
            p++;
        }
        n = (size_t)(end - p);
        if (n == 0 || n >= sizeof(name)) {
            snprintf(errbuf, errlen, "ssl.cipher.suites: bad entry '%.*s'",
                     (int)n, p);
            goto out;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (is_tls13_suite(name)) {
            list = tls13;
            cap = sizeof(tls13);
            ossl = name;
        } else {
            list = tls12;
            cap = sizeof(tls12);
            ossl = OPENSSL_cipher_name(name);
            if (ossl == NULL || strcmp(ossl, "(NONE)") == 0) {
                ossl = name; /* perhaps OpenSSL's own name */
            }
        }
        used = strlen(list);
        if (used + strlen(ossl) + 2 > cap) {
            snprintf(errbuf, errlen, "ssl.cipher.suites: list too long");
            goto out;
        }
        snprintf(list + used, cap - used, "%s%s", used ? ":" : "", ossl);
        p = *end ? end + 1 : end;
    }
    if (SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.cipher.suites: unknown TLS 1.3 suite in '%s': %s", tls13,
                 ossl_error(e, sizeof(e)));
        goto out;
    }
    if (tls12[0] == '\0') {
        /* Only TLS 1.3 suites named: TLS 1.2 has none left. */
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    } else if (SSL_CTX_set_cipher_list(ctx, tls12) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.cipher.suites: no known suite in '%s': %s", suites,
                 ossl_error(e, sizeof(e)));
        goto out;
    }
    err = TR_OK;
out:
    return err;
}

/*
 * ssl.enabled.protocols (checked to hold only TLSv1.2 and TLSv1.3) and
 * ssl.cipher.suites, the same for both sides.
 */
static tr_err_t
set_protocols(SSL_CTX *ctx, const struct tr_broker_config *cfg, char *errbuf,
              size_t errlen)
{
    const char *protos =
        cfg->ssl_enabled_protocols ? cfg->ssl_enabled_protocols : "";

    SSL_CTX_set_min_proto_version(
        ctx, strstr(protos, "TLSv1.2") ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(
        ctx, strstr(protos, "TLSv1.3") ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (cfg->ssl_cipher_suites != NULL && cfg->ssl_cipher_suites[0] != '\0') {
        return set_ciphers(ctx, cfg->ssl_cipher_suites, errbuf, errlen);
    }
    return TR_OK;
}

/* Loads the keystore: the certificate chain and its private key. */
static tr_err_t
use_keystore(SSL_CTX *ctx, const struct tr_broker_config *cfg, char *errbuf,
             size_t errlen)
{
    char e[256];
    tr_err_t err = TR_ERR_CONFIG;

    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->ssl_key_password);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->ssl_keystore_location) !=
        1) {
        snprintf(errbuf, errlen,
                 "ssl.keystore.location: no certificate chain in %s: %s",
                 cfg->ssl_keystore_location, ossl_error(e, sizeof(e)));
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->ssl_keystore_location,
                                    SSL_FILETYPE_PEM) != 1) {
        if (cfg->ssl_key_password != NULL) {
            snprintf(errbuf, errlen,
                     "ssl.key.password: cannot decrypt the private key in %s "
                     "(wrong password?): %s",
                     cfg->ssl_keystore_location, ossl_error(e, sizeof(e)));
        } else {
            snprintf(errbuf, errlen,
                     "ssl.keystore.location: cannot load the private key in "
                     "%s (encrypted? set ssl.key.password): %s",
                     cfg->ssl_keystore_location, ossl_error(e, sizeof(e)));
        }
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.keystore.location: the private key in %s does not match "
                 "its certificate",
                 cfg->ssl_keystore_location);
        ERR_clear_error();
        goto out;
    }
    err = TR_OK;
out:
    /* The password is needed only while the key loads. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    return err;
}

/* Loads ssl.truststore.location (optional). */
static tr_err_t
use_truststore(SSL_CTX *ctx, const struct tr_broker_config *cfg, char *errbuf,
               size_t errlen)
{
    char e[256];

    if (cfg->ssl_truststore_location == NULL) {
        return TR_OK;
    }
    if (check_file("ssl.truststore.location", cfg->ssl_truststore_location,
                   errbuf, errlen) != TR_OK) {
        return TR_ERR_CONFIG;
    }
    if (SSL_CTX_load_verify_locations(ctx, cfg->ssl_truststore_location,
                                      NULL) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.truststore.location: no CA certificate in %s: %s",
                 cfg->ssl_truststore_location, ossl_error(e, sizeof(e)));
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* Builds a context from the settings; NULL with 'errbuf' set on error. */
static SSL_CTX *
build_ctx(const struct tr_broker_config *cfg, char *errbuf, size_t errlen)
{
    static const unsigned char sid_ctx[] = "tributary-collector";
    SSL_CTX *ctx = NULL, *result = NULL;
    STACK_OF(X509_NAME) *cas = NULL;
    const char *auth = cfg->ssl_client_auth ? cfg->ssl_client_auth : "none";
    char e[256];

    if (check_file("ssl.keystore.location", cfg->ssl_keystore_location, errbuf,
                   errlen) != TR_OK) {
        goto out;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(errbuf, errlen, "TLS: cannot make a context: %s",
                 ossl_error(e, sizeof(e)));
        goto out;
    }
    if (set_protocols(ctx, cfg, errbuf, errlen) != TR_OK) {
        goto out;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle connections hold no buffers (there may be thousands). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (use_keystore(ctx, cfg, errbuf, errlen) != TR_OK ||
        use_truststore(ctx, cfg, errbuf, errlen) != TR_OK) {
        goto out;
    }
    if (cfg->ssl_truststore_location != NULL) {
        /* Tell clients which CAs their certificate should come from. */
        cas = SSL_load_client_CA_file(cfg->ssl_truststore_location);
        if (cas != NULL) {
            SSL_CTX_set_client_CA_list(ctx, cas);
        }
        ERR_clear_error();
    }
    if (strcmp(auth, "none") != 0 && cfg->ssl_truststore_location == NULL) {
        snprintf(errbuf, errlen,
                 "ssl.truststore.location: not set, but ssl.client.auth=%s "
                 "needs it to check client certificates",
                 auth);
        goto out;
    }
    if (strcmp(auth, "required") == 0) {
        SSL_CTX_set_verify(
            ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    } else if (strcmp(auth, "requested") == 0) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    result = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx); /* NULL is a no-op */
    return result;
}

SSL_CTX *
tr_tls_client_ctx_new(const struct tr_broker_config *cfg, char *errbuf,
                      size_t errlen)
{
    SSL_CTX *ctx = NULL, *result = NULL;
    char e[256];

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(errbuf, errlen, "TLS: cannot make a client context: %s",
                 ossl_error(e, sizeof(e)));
        goto out;
    }
    if (set_protocols(ctx, cfg, errbuf, errlen) != TR_OK) {
        goto out;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (cfg->ssl_keystore_location != NULL &&
        (check_file("ssl.keystore.location", cfg->ssl_keystore_location, errbuf,
                    errlen) != TR_OK ||
         use_keystore(ctx, cfg, errbuf, errlen) != TR_OK)) {
        goto out;
    }
    if (cfg->ssl_truststore_location == NULL) {
        /* Kafka falls back to the JVM's CAs; ours are the system's. */
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(errbuf, errlen,
                     "ssl.truststore.location: not set, and the system's CA "
                     "certificates cannot be loaded: %s",
                     ossl_error(e, sizeof(e)));
            goto out;
        }
    } else if (use_truststore(ctx, cfg, errbuf, errlen) != TR_OK) {
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    result = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    return result;
}

tr_err_t
tr_tls_new(const struct tr_broker_config *cfg, struct tr_tls **out,
           char *errbuf, size_t errlen)
{
    struct tr_tls *tls = NULL;
    SSL_CTX *ctx;

    ctx = build_ctx(cfg, errbuf, errlen);
    if (ctx == NULL) {
        return TR_ERR_CONFIG;
    }
    tls = tr_calloc(1, sizeof(*tls));
    if (tls == NULL) {
        SSL_CTX_free(ctx);
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    tls->cfg = cfg;
    tls->ctx = ctx;
    pthread_mutex_init(&tls->lock, NULL);
    *out = tls;
    return TR_OK;
}

tr_err_t
tr_tls_reload(struct tr_tls *tls, char *errbuf, size_t errlen)
{
    SSL_CTX *ctx, *old;

    ctx = build_ctx(tls->cfg, errbuf, errlen);
    if (ctx == NULL) {
        return TR_ERR_CONFIG;
    }
    pthread_mutex_lock(&tls->lock);
    old = tls->ctx;
    tls->ctx = ctx;
    pthread_mutex_unlock(&tls->lock);
    /* Connections made on the old context hold their own references. */
    SSL_CTX_free(old);
    return TR_OK;
}

SSL *
tr_tls_ssl_new(struct tr_tls *tls)
{
    SSL *ssl;

    pthread_mutex_lock(&tls->lock);
    ssl = SSL_new(tls->ctx);
    pthread_mutex_unlock(&tls->lock);
    return ssl;
}

void
tr_tls_free(struct tr_tls *tls)
{
    if (tls == NULL) {
        return;
    }
    SSL_CTX_free(tls->ctx);
    pthread_mutex_destroy(&tls->lock);
    tr_free(tls);
}

void
tr_tls_principal(SSL *ssl, char *out, size_t outlen)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    BIO *bio = NULL;
    char *text;
    long len;

    snprintf(out, outlen, "User:ANONYMOUS");
    if (cert == NULL) {
        return;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                                          XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &text);
        snprintf(out, outlen, "User:%.*s", (int)len, text);
    }
    BIO_free(bio);
    X509_free(cert);
}

void
tr_tls_describe(SSL *ssl, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
}
