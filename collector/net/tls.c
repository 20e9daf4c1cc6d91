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
#include "buf.h"
#include "clientsec.h"
#include "log.h"
#include "principal.h"

struct tr_tls {
    struct tr_broker_config cfg; /* owned copy: reloads read it */
    pthread_mutex_t reload_lock; /* one reload or reconfiguration at once */
    pthread_mutex_t lock;        /* guards ctx: reloads swap it */
    SSL_CTX *ctx;
    struct tr_principal_rules *rules; /* ssl.principal.mapping.rules */
};

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
                 tr_clientsec_ossl_error(e, sizeof(e)));
        goto out;
    }
    if (tls12[0] == '\0') {
        /* Only TLS 1.3 suites named: TLS 1.2 has none left. */
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    } else if (SSL_CTX_set_cipher_list(ctx, tls12) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.cipher.suites: no known suite in '%s': %s", suites,
                 tr_clientsec_ossl_error(e, sizeof(e)));
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

    SSL_CTX_set_default_passwd_cb(ctx, tr_clientsec_password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->ssl_key_password);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->ssl_keystore_location) !=
        1) {
        snprintf(errbuf, errlen,
                 "ssl.keystore.location: no certificate chain in %s: %s",
                 cfg->ssl_keystore_location,
                 tr_clientsec_ossl_error(e, sizeof(e)));
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->ssl_keystore_location,
                                    SSL_FILETYPE_PEM) != 1) {
        if (cfg->ssl_key_password != NULL) {
            snprintf(errbuf, errlen,
                     "ssl.key.password: cannot decrypt the private key in %s "
                     "(wrong password?): %s",
                     cfg->ssl_keystore_location,
                     tr_clientsec_ossl_error(e, sizeof(e)));
        } else {
            snprintf(errbuf, errlen,
                     "ssl.keystore.location: cannot load the private key in "
                     "%s (encrypted? set ssl.key.password): %s",
                     cfg->ssl_keystore_location,
                     tr_clientsec_ossl_error(e, sizeof(e)));
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
                 cfg->ssl_truststore_location,
                 tr_clientsec_ossl_error(e, sizeof(e)));
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
                 tr_clientsec_ossl_error(e, sizeof(e)));
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
                 tr_clientsec_ossl_error(e, sizeof(e)));
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
                     tr_clientsec_ossl_error(e, sizeof(e)));
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
    if (tls == NULL || tr_broker_config_copy(&tls->cfg, cfg) != TR_OK) {
        tr_free(tls);
        SSL_CTX_free(ctx);
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    if (tr_principal_rules_parse(cfg->ssl_principal_mapping_rules, &tls->rules,
                                 errbuf, errlen) != TR_OK) {
        SSL_CTX_free(ctx);
        tr_broker_config_cleanup(&tls->cfg);
        tr_free(tls);
        return TR_ERR_CONFIG;
    }
    tls->ctx = ctx;
    pthread_mutex_init(&tls->lock, NULL);
    pthread_mutex_init(&tls->reload_lock, NULL);
    *out = tls;
    return TR_OK;
}

/* Swaps 'ctx' in; reload_lock held. */
static void
swap_ctx(struct tr_tls *tls, SSL_CTX *ctx)
{
    SSL_CTX *old;

    pthread_mutex_lock(&tls->lock);
    old = tls->ctx;
    tls->ctx = ctx;
    pthread_mutex_unlock(&tls->lock);
    /* Connections made on the old context hold their own references. */
    SSL_CTX_free(old);
}

tr_err_t
tr_tls_reload(struct tr_tls *tls, char *errbuf, size_t errlen)
{
    SSL_CTX *ctx;

    pthread_mutex_lock(&tls->reload_lock);
    ctx = build_ctx(&tls->cfg, errbuf, errlen);
    if (ctx != NULL) {
        swap_ctx(tls, ctx);
    }
    pthread_mutex_unlock(&tls->reload_lock);
    return ctx != NULL ? TR_OK : TR_ERR_CONFIG;
}

tr_err_t
tr_tls_check_config(const struct tr_broker_config *cfg, char *errbuf,
                    size_t errlen)
{
    SSL_CTX *ctx = build_ctx(cfg, errbuf, errlen);

    SSL_CTX_free(ctx);
    return ctx != NULL ? TR_OK : TR_ERR_CONFIG;
}

tr_err_t
tr_tls_reconfigure(struct tr_tls *tls, const struct tr_broker_config *cfg,
                   char *errbuf, size_t errlen)
{
    struct tr_broker_config copy;
    SSL_CTX *ctx;
    tr_err_t err = TR_ERR_CONFIG;

    if (tr_broker_config_copy(&copy, cfg) != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    pthread_mutex_lock(&tls->reload_lock);
    ctx = build_ctx(&copy, errbuf, errlen);
    if (ctx != NULL) {
        swap_ctx(tls, ctx);
        tr_broker_config_cleanup(&tls->cfg);
        tls->cfg = copy; /* the strings move over */
        err = TR_OK;
    }
    pthread_mutex_unlock(&tls->reload_lock);
    if (err != TR_OK) {
        tr_broker_config_cleanup(&copy);
    }
    return err;
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
    tr_principal_rules_free(tls->rules);
    tr_broker_config_cleanup(&tls->cfg);
    pthread_mutex_destroy(&tls->lock);
    pthread_mutex_destroy(&tls->reload_lock);
    tr_free(tls);
}

/*
 * The attribute types Java's X500Principal prints by name in RFC 2253 form;
 * every other one is printed as its OID and "#" with the hex of the
 * value's DER encoding (emailAddress: "1.2.840.113549.1.9.1=#16...").
 */
static const int named_nids[] = {
    NID_commonName,          NID_countryName,      NID_localityName,
    NID_stateOrProvinceName, NID_organizationName, NID_organizationalUnitName,
    NID_streetAddress,       NID_domainComponent,  NID_userId,
};

static int
is_named(int nid)
{
    size_t i;

    for (i = 0; i < sizeof(named_nids) / sizeof(named_nids[0]); i++) {
        if (named_nids[i] == nid) {
            return 1;
        }
    }
    return 0;
}

/* Appends the value escaped as Java does: ",=+<>#;\"\\" anywhere, and
 * leading and trailing spaces, get a backslash. */
static void
put_escaped(struct tr_buf *b, const unsigned char *v, int len)
{
    int i, lead, trail;

    for (lead = 0; lead < len && v[lead] == ' '; lead++) {
    }
    for (trail = len; trail > lead && v[trail - 1] == ' '; trail--) {
    }
    for (i = 0; i < len; i++) {
        unsigned char c = v[i];
        int edge = i < lead || i >= trail;

        if ((c != '\0' && strchr(",=+<>#;\"\\", c) != NULL) ||
            (c == ' ' && edge)) {
            tr_buf_put_i8(b, '\\');
        }
        tr_buf_put_i8(b, (int8_t)c);
    }
}

/* Appends "#" and the hex of the DER encoding of a string value. */
static void
put_der_hex(struct tr_buf *b, const ASN1_STRING *s)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char head[6];
    size_t n = 0, i;
    int len = ASN1_STRING_length(s);
    const unsigned char *data = ASN1_STRING_get0_data(s);

    head[n++] = (unsigned char)ASN1_STRING_type(s);
    if (len < 0x80) {
        head[n++] = (unsigned char)len;
    } else if (len < 0x100) {
        head[n++] = 0x81;
        head[n++] = (unsigned char)len;
    } else {
        head[n++] = 0x82;
        head[n++] = (unsigned char)(len >> 8);
        head[n++] = (unsigned char)len;
    }
    tr_buf_put_i8(b, (int8_t)'#');
    for (i = 0; i < n + (size_t)len; i++) {
        unsigned char c = i < n ? head[i] : data[i - n];

        tr_buf_put_i8(b, (int8_t)(uint8_t)hex[c >> 4]);
        tr_buf_put_i8(b, (int8_t)(uint8_t)hex[c & 15]);
    }
}

/*
 * Writes 'name' in Java's RFC 2253 form (X500Principal.getName()): the
 * most specific RDN first, no spaces, "+" inside a multi-valued RDN.
 */
static void
format_dn(const X509_NAME *name, struct tr_buf *b)
{
    int i, set = -1;

    for (i = X509_NAME_entry_count(name) - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
        const ASN1_STRING *val = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(obj);
        unsigned char *utf8 = NULL;
        int len;
        char oid[80];

        if (set != -1) {
            tr_buf_put_i8(b, X509_NAME_ENTRY_set(e) == set ? '+' : ',');
        }
        set = X509_NAME_ENTRY_set(e);
        if (is_named(nid)) {
            tr_buf_put_bytes(b, OBJ_nid2sn(nid), strlen(OBJ_nid2sn(nid)));
            tr_buf_put_i8(b, (int8_t)'=');
            len = ASN1_STRING_to_UTF8(&utf8, val);
            if (len >= 0) {
                put_escaped(b, utf8, len);
            }
            OPENSSL_free(utf8);
        } else {
            OBJ_obj2txt(oid, sizeof(oid), obj, 1);
            tr_buf_put_bytes(b, oid, strlen(oid));
            tr_buf_put_i8(b, (int8_t)'=');
            put_der_hex(b, val);
        }
    }
}

tr_err_t
tr_tls_principal(struct tr_tls *tls, SSL *ssl, char *out, size_t outlen)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    struct tr_buf dn;
    tr_err_t err;

    snprintf(out, outlen, "User:ANONYMOUS");
    if (cert == NULL) {
        return TR_OK;
    }
    tr_buf_init(&dn, 65536);
    format_dn(X509_get_subject_name(cert), &dn);
    tr_buf_put_i8(&dn, 0);
    X509_free(cert);
    err = tr_buf_err(&dn);
    if (err == TR_OK) {
        memcpy(out, "User:", 5);
        err = tr_principal_map(tls->rules, (const char *)tr_buf_data(&dn),
                               out + 5, outlen - 5);
    }
    tr_buf_cleanup(&dn);
    return err;
}

void
tr_tls_describe(SSL *ssl, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
}
