/*
 * clientsec -- client TLS and SASL settings under librdkafka's names, and
 * the client TLS context built from them (see clientsec.h).
 */
#include "clientsec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "alloc.h"
#include "conf.h"
#include "log.h"

/* Longest password taken from a file (Kafka's SCRAM has no limit). */
#define CLIENTSEC_SECRET_MAX 1024

enum prop {
    P_PROTOCOL,
    P_CA,
    P_CERT,
    P_KEY,
    P_KEY_PASSWORD,
    P_ENDPOINT,
    P_VERIFY,
    P_MECHANISM,
    P_MECHANISMS,
    P_USERNAME,
    P_PASSWORD,
    P_PASSWORD_FILE,
    P_COUNT,
};

struct prop_info {
    const char *name;
    const char *def; /* as shown in the help */
    const char *help;
};

/* clang-format off */
static const struct prop_info props[P_COUNT] = {
    [P_PROTOCOL] = { "security.protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL" },
    [P_CA] = { "ssl.ca.location", "system CAs", "PEM file of the CA(s) the server's certificate must chain to" },
    [P_CERT] = { "ssl.certificate.location", "none", "PEM client certificate (mutual TLS)" },
    [P_KEY] = { "ssl.key.location", "none", "PEM private key of that certificate" },
    [P_KEY_PASSWORD] = { "ssl.key.password", "none", "password of an encrypted private key" },
    [P_ENDPOINT] = { "ssl.endpoint.identification.algorithm", "https", "https: the certificate must name the host connected to; none: any name" },
    [P_VERIFY] = { "enable.ssl.certificate.verification", "true", "false accepts any server certificate (tests only)" },
    [P_MECHANISM] = { "sasl.mechanism", "none", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" },
    [P_MECHANISMS] = { "sasl.mechanisms", "none", "librdkafka's alias of sasl.mechanism" },
    [P_USERNAME] = { "sasl.username", "none", "SASL user name" },
    [P_PASSWORD] = { "sasl.password", "none", "SASL password" },
    [P_PASSWORD_FILE] = { "sasl.password.file", "none", "file whose first line is the SASL password (keep it mode 600)" },
};
/* clang-format on */

struct tr_clientsec {
    enum tr_clientsec_protocol protocol;
    char *ca;
    char *cert;
    char *key;
    char *key_password;
    int verify_host;
    int verify_cert;
    enum tr_clientsec_mech mech;
    char *username;
    char *password;
    char *password_file;
    int set[P_COUNT]; /* which properties were given */
    SSL_CTX *ctx;
    int prepared;
};

static const char *const protocol_names[] = { "PLAINTEXT", "SSL",
                                              "SASL_PLAINTEXT", "SASL_SSL" };
static const char *const mech_names[] = { NULL, "PLAIN", "SCRAM-SHA-256",
                                          "SCRAM-SHA-512" };

tr_err_t
tr_clientsec_new(struct tr_clientsec **out)
{
    struct tr_clientsec *sec = tr_calloc(1, sizeof(*sec));

    *out = NULL;
    if (sec == NULL) {
        return TR_ERR_NOMEM;
    }
    sec->verify_host = 1;
    sec->verify_cert = 1;
    *out = sec;
    return TR_OK;
}

static void
free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
    }
    tr_free(s);
}

void
tr_clientsec_free(struct tr_clientsec *sec)
{
    if (sec == NULL) {
        return;
    }
    tr_free(sec->ca);
    tr_free(sec->cert);
    tr_free(sec->key);
    free_secret(sec->key_password);
    tr_free(sec->username);
    free_secret(sec->password);
    tr_free(sec->password_file);
    SSL_CTX_free(sec->ctx);
    tr_free(sec);
}

static int
find_prop(const char *key)
{
    int i;

    for (i = 0; i < P_COUNT; i++) {
        if (strcmp(props[i].name, key) == 0) {
            return i;
        }
    }
    return -1;
}

int
tr_clientsec_is_key(const char *key)
{
    return find_prop(key) >= 0;
}

/* Replaces the owned string at 'slot' by a copy of 'value'. */
static tr_err_t
set_string(char **slot, const char *value, int secret)
{
    char *s = tr_strdup(value);

    if (s == NULL) {
        return TR_ERR_NOMEM;
    }
    if (secret) {
        free_secret(*slot);
    } else {
        tr_free(*slot);
    }
    *slot = s;
    return TR_OK;
}

/* Where the string property 'p' is kept; NULL for the others. */
static char **
string_slot(struct tr_clientsec *sec, int p)
{
    switch ((enum prop)p) {
    case P_CA:
        return &sec->ca;
    case P_CERT:
        return &sec->cert;
    case P_KEY:
        return &sec->key;
    case P_KEY_PASSWORD:
        return &sec->key_password;
    case P_USERNAME:
        return &sec->username;
    case P_PASSWORD:
        return &sec->password;
    case P_PASSWORD_FILE:
        return &sec->password_file;
    default:
        return NULL;
    }
}

tr_err_t
tr_clientsec_set(struct tr_clientsec *sec, const char *key, const char *value,
                 char *errbuf, size_t errlen)
{
    int p = find_prop(key), i, v;
    char reason[128], **slot;
    tr_err_t err = TR_ERR_CONFIG;

    if (p < 0) {
        snprintf(errbuf, errlen, "%s: not a client security property", key);
        return TR_ERR_NOT_FOUND;
    }
    if ((slot = string_slot(sec, p)) != NULL) {
        err = set_string(slot, value, p == P_KEY_PASSWORD || p == P_PASSWORD);
        if (err != TR_OK) {
            goto out;
        }
    }
    switch ((enum prop)p) {
    case P_PROTOCOL:
        for (i = 0; i < 4; i++) {
            if (strcasecmp(value, protocol_names[i]) == 0) {
                sec->protocol = (enum tr_clientsec_protocol)i;
                break;
            }
        }
        if (i == 4) {
            snprintf(errbuf, errlen,
                     "%s: expected PLAINTEXT, SSL, SASL_PLAINTEXT or "
                     "SASL_SSL, got '%s'",
                     key, value);
            goto out;
        }
        break;
    case P_ENDPOINT:
        if (strcasecmp(value, "https") == 0) {
            sec->verify_host = 1;
        } else if (strcasecmp(value, "none") == 0 || value[0] == '\0') {
            sec->verify_host = 0;
        } else {
            snprintf(errbuf, errlen, "%s: expected https or none, got '%s'",
                     key, value);
            goto out;
        }
        break;
    case P_VERIFY:
        if (tr_conf_parse_bool(value, &v, reason, sizeof(reason)) != TR_OK) {
            snprintf(errbuf, errlen, "%s: expected true or false, got '%s'",
                     key, value);
            goto out;
        }
        sec->verify_cert = v;
        break;
    case P_MECHANISM:
    case P_MECHANISMS:
        for (i = 1; i < 4; i++) {
            if (strcasecmp(value, mech_names[i]) == 0) {
                sec->mech = (enum tr_clientsec_mech)i;
                break;
            }
        }
        if (i == 4) {
            snprintf(errbuf, errlen,
                     "%s: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, "
                     "got '%s'",
                     key, value);
            goto out;
        }
        break;
    default:
        break; /* a string, stored above */
    }
    sec->set[p] = 1;
    sec->prepared = 0;
    err = TR_OK;
out:
    if (err == TR_ERR_NOMEM) {
        snprintf(errbuf, errlen, "out of memory");
    }
    return err;
}

/* Formats a warning and hands it to 'warn', or to the log. */
static void warnf(tr_clientsec_warn_cb *warn, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warnf(tr_clientsec_warn_cb *warn, void *arg, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (warn != NULL) {
        warn(msg, arg);
    } else {
        tr_log_warn("%s", msg);
    }
}

/* Warns when 'path' (a secret) may be read by the group or others. */
static void
check_private(const char *what, const char *path, tr_clientsec_warn_cb *warn,
              void *arg)
{
    struct stat st;

    if (stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        warnf(warn, arg,
              "%s %s is readable by group or others (mode %03o); chmod 600 "
              "it",
              what, path, (unsigned)(st.st_mode & 0777));
    }
}

tr_err_t
tr_clientsec_read_secret(const char *what, const char *path, char *out,
                         size_t outlen, tr_clientsec_warn_cb *warn,
                         void *warn_arg, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t len;
    tr_err_t err = TR_ERR_IO;

    out[0] = '\0';
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: cannot read %s: %s", what, path,
                 strerror(errno));
        goto out;
    }
    check_private(what, path, warn, warn_arg);
    if (fgets(out, (int)outlen, f) == NULL) {
        out[0] = '\0';
    }
    len = strlen(out);
    if (len == outlen - 1 && out[len - 1] != '\n') {
        snprintf(errbuf, errlen, "%s: the first line of %s is too long", what,
                 path);
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) {
        out[--len] = '\0';
    }
    if (len == 0) {
        snprintf(errbuf, errlen, "%s: %s holds no password on its first line",
                 what, path);
        err = TR_ERR_INVALID;
        goto out;
    }
    err = TR_OK;
out:
    if (f != NULL) {
        fclose(f);
    }
    if (err != TR_OK) {
        OPENSSL_cleanse(out, outlen);
        out[0] = '\0';
    }
    return err;
}

struct load_ctx {
    struct tr_clientsec *sec;
    int secret; /* a password was set from the file */
};

static tr_err_t
on_entry(const char *section, const char *key, const char *value,
         const char *file, int line, char *reason, size_t reasonlen, void *arg)
{
    struct load_ctx *ctx = arg;
    tr_err_t err;

    (void)section;
    (void)file;
    (void)line;
    err = tr_clientsec_set(ctx->sec, key, value, reason, reasonlen);
    if (err == TR_ERR_NOT_FOUND) {
        snprintf(reason, reasonlen,
                 "unknown key '%s' (see --help for the security properties)",
                 key);
        return TR_ERR_CONFIG;
    }
    if (strcmp(key, "sasl.password") == 0 ||
        strcmp(key, "ssl.key.password") == 0) {
        ctx->secret = 1;
    }
    return err;
}

tr_err_t
tr_clientsec_load_file(struct tr_clientsec *sec, const char *path,
                       tr_clientsec_warn_cb *warn, void *warn_arg, char *errbuf,
                       size_t errlen)
{
    struct load_ctx ctx = { sec, 0 };
    tr_err_t err;

    err = tr_conf_parse_file(path, TR_CONF_PROPERTIES, on_entry, &ctx, errbuf,
                             errlen);
    if (err == TR_OK && ctx.secret) {
        check_private("the properties file", path, warn, warn_arg);
    }
    return err;
}

const char *
tr_clientsec_ossl_error(char *buf, size_t len)
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

int
tr_clientsec_password_cb(char *buf, int size, int rwflag, void *arg)
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

/* Loads the client certificate and key for mutual TLS into 'ctx'. */
static tr_err_t
load_client_cert(struct tr_clientsec *sec, SSL_CTX *ctx, char *errbuf,
                 size_t errlen)
{
    char e[256];

    if (SSL_CTX_use_certificate_chain_file(ctx, sec->cert) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.certificate.location: no certificate in %s: %s",
                 sec->cert, tr_clientsec_ossl_error(e, sizeof(e)));
        return TR_ERR_CONFIG;
    }
    SSL_CTX_set_default_passwd_cb(ctx, tr_clientsec_password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, sec->key_password);
    if (SSL_CTX_use_PrivateKey_file(ctx, sec->key, SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
        if (sec->key_password != NULL) {
            snprintf(errbuf, errlen,
                     "ssl.key.password: cannot decrypt the private key in %s "
                     "(wrong password?): %s",
                     sec->key, tr_clientsec_ossl_error(e, sizeof(e)));
        } else {
            snprintf(errbuf, errlen,
                     "ssl.key.location: cannot load the private key in %s "
                     "(encrypted? set ssl.key.password): %s",
                     sec->key, tr_clientsec_ossl_error(e, sizeof(e)));
        }
        return TR_ERR_CONFIG;
    }
    /* The password is needed only while the key loads. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(errbuf, errlen,
                 "ssl.key.location: the key in %s does not match the "
                 "certificate in %s",
                 sec->key, sec->cert);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
build_ctx(struct tr_clientsec *sec, char *errbuf, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char e[256];
    tr_err_t err = TR_ERR_CONFIG;

    if (ctx == NULL) {
        snprintf(errbuf, errlen, "TLS: cannot make a context: %s",
                 tr_clientsec_ossl_error(e, sizeof(e)));
        goto out;
    }
    /* As Kafka since 2.6 (KIP-573): TLS 1.2 and 1.3 only. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (sec->ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, sec->ca, NULL) != 1) {
            snprintf(errbuf, errlen,
                     "ssl.ca.location: no CA certificate in %s: %s", sec->ca,
                     tr_clientsec_ossl_error(e, sizeof(e)));
            goto out;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(errbuf, errlen,
                 "ssl.ca.location: not set, and the system CAs cannot be "
                 "loaded: %s",
                 tr_clientsec_ossl_error(e, sizeof(e)));
        goto out;
    }
    if (sec->cert != NULL &&
        (err = load_client_cert(sec, ctx, errbuf, errlen)) != TR_OK) {
        goto out;
    }
    SSL_CTX_set_verify(
        ctx, sec->verify_cert ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_CTX_free(sec->ctx);
    sec->ctx = ctx;
    ctx = NULL;
    err = TR_OK;
out:
    SSL_CTX_free(ctx);
    return err;
}

/* Warns about settings the chosen protocol does not use. */
static void
warn_unused(const struct tr_clientsec *sec, tr_clientsec_warn_cb *warn,
            void *arg)
{
    static const int tls_props[] = { P_CA, P_CERT, P_KEY, P_KEY_PASSWORD };
    static const int sasl_props[] = { P_MECHANISM, P_MECHANISMS, P_USERNAME,
                                      P_PASSWORD, P_PASSWORD_FILE };
    size_t i;

    for (i = 0; i < sizeof(tls_props) / sizeof(tls_props[0]); i++) {
        if (sec->set[tls_props[i]] && !tr_clientsec_uses_tls(sec)) {
            warnf(warn, arg, "%s is set but security.protocol=%s uses no TLS",
                  props[tls_props[i]].name, protocol_names[sec->protocol]);
        }
    }
    for (i = 0; i < sizeof(sasl_props) / sizeof(sasl_props[0]); i++) {
        if (sec->set[sasl_props[i]] && !tr_clientsec_uses_sasl(sec)) {
            warnf(warn, arg, "%s is set but security.protocol=%s uses no SASL",
                  props[sasl_props[i]].name, protocol_names[sec->protocol]);
        }
    }
}

static tr_err_t
check_sasl(struct tr_clientsec *sec, tr_clientsec_warn_cb *warn, void *arg,
           char *errbuf, size_t errlen)
{
    char secret[CLIENTSEC_SECRET_MAX];
    tr_err_t err = TR_ERR_CONFIG;

    if (sec->mech == TR_CLIENTSEC_MECH_NONE) {
        snprintf(errbuf, errlen,
                 "sasl.mechanism: not set, but security.protocol=%s needs it "
                 "(PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)",
                 protocol_names[sec->protocol]);
        goto out;
    }
    if (sec->username == NULL || sec->username[0] == '\0') {
        snprintf(errbuf, errlen,
                 "sasl.username: not set, but security.protocol=%s needs it",
                 protocol_names[sec->protocol]);
        goto out;
    }
    if (sec->password_file != NULL) {
        if (sec->password != NULL && !sec->set[P_PASSWORD]) {
            free_secret(sec->password); /* read by an earlier prepare */
            sec->password = NULL;
        }
        if (sec->password != NULL) {
            snprintf(errbuf, errlen,
                     "sasl.password.file: sasl.password is set too; give one "
                     "of them");
            goto out;
        }
        err = tr_clientsec_read_secret("sasl.password.file", sec->password_file,
                                       secret, sizeof(secret), warn, arg,
                                       errbuf, errlen);
        if (err != TR_OK) {
            err = TR_ERR_CONFIG;
            goto out;
        }
        err = set_string(&sec->password, secret, 1);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "out of memory");
            goto out;
        }
        err = TR_ERR_CONFIG;
    }
    if (sec->password == NULL || sec->password[0] == '\0') {
        snprintf(errbuf, errlen,
                 "sasl.password: not set (nor sasl.password.file), but "
                 "security.protocol=%s needs it",
                 protocol_names[sec->protocol]);
        goto out;
    }
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_clientsec_prepare(struct tr_clientsec *sec, tr_clientsec_warn_cb *warn,
                     void *warn_arg, char *errbuf, size_t errlen)
{
    tr_err_t err = TR_ERR_CONFIG;

    if (sec->prepared) {
        return TR_OK; /* nothing was set since */
    }
    warn_unused(sec, warn, warn_arg);
    if (tr_clientsec_uses_sasl(sec) &&
        (err = check_sasl(sec, warn, warn_arg, errbuf, errlen)) != TR_OK) {
        goto out;
    }
    if (tr_clientsec_uses_tls(sec)) {
        if ((sec->cert == NULL) != (sec->key == NULL)) {
            snprintf(
                errbuf, errlen, "%s: set, but %s is not; mutual TLS needs both",
                sec->cert ? "ssl.certificate.location" : "ssl.key.location",
                sec->cert ? "ssl.key.location" : "ssl.certificate.location");
            err = TR_ERR_CONFIG;
            goto out;
        }
        if (sec->key != NULL) {
            check_private("ssl.key.location", sec->key, warn, warn_arg);
        }
        if ((err = build_ctx(sec, errbuf, errlen)) != TR_OK) {
            goto out;
        }
        if (!sec->verify_cert) {
            warnf(warn, warn_arg,
                  "enable.ssl.certificate.verification=false: any server "
                  "certificate is accepted");
        }
    }
    sec->prepared = 1;
    err = TR_OK;
out:
    return err;
}

enum tr_clientsec_protocol
tr_clientsec_protocol(const struct tr_clientsec *sec)
{
    return sec->protocol;
}

const char *
tr_clientsec_protocol_name(enum tr_clientsec_protocol p)
{
    return protocol_names[p];
}

int
tr_clientsec_uses_tls(const struct tr_clientsec *sec)
{
    return sec->protocol == TR_CLIENTSEC_SSL ||
           sec->protocol == TR_CLIENTSEC_SASL_SSL;
}

int
tr_clientsec_uses_sasl(const struct tr_clientsec *sec)
{
    return sec->protocol == TR_CLIENTSEC_SASL_PLAINTEXT ||
           sec->protocol == TR_CLIENTSEC_SASL_SSL;
}

enum tr_clientsec_mech
tr_clientsec_mech(const struct tr_clientsec *sec)
{
    return sec->mech;
}

const char *
tr_clientsec_mech_name(enum tr_clientsec_mech mech)
{
    return mech_names[mech];
}

const char *
tr_clientsec_username(const struct tr_clientsec *sec)
{
    return sec->username;
}

const char *
tr_clientsec_password(const struct tr_clientsec *sec)
{
    return sec->password;
}

int
tr_clientsec_expect_host(SSL *ssl, const char *host)
{
    unsigned char addr[16];
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    if (inet_pton(AF_INET, host, addr) == 1 ||
        inet_pton(AF_INET6, host, addr) == 1) {
        return X509_VERIFY_PARAM_set1_ip_asc(param, host);
    }
    /* SNI, so a server behind a name-based proxy gets the right one. */
    (void)SSL_set_tlsext_host_name(ssl, host);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host);
}

SSL *
tr_clientsec_ssl_new(const struct tr_clientsec *sec, const char *host)
{
    unsigned char addr[16];
    int is_ip;
    SSL *ssl;

    if (sec->ctx == NULL) {
        return NULL;
    }
    ssl = SSL_new(sec->ctx);
    if (ssl == NULL) {
        return NULL;
    }
    is_ip = inet_pton(AF_INET, host, addr) == 1 ||
            inet_pton(AF_INET6, host, addr) == 1;
    /* SNI carries names only (RFC 6066). */
    if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1) {
        goto fail;
    }
    if (sec->verify_cert && sec->verify_host) {
        if (is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
                goto fail;
            }
        } else if (SSL_set1_host(ssl, host) != 1) {
            goto fail;
        }
    }
    return ssl;
fail:
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

void
tr_clientsec_tls_error(SSL *ssl, unsigned long ossl_err, char *buf, size_t len)
{
    long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    char e[256];

    if (vr != X509_V_OK) {
        snprintf(buf, len, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (ossl_err != 0) {
        ERR_error_string_n(ossl_err, e, sizeof(e));
        snprintf(buf, len, "TLS handshake failed: %s", e);
    } else if (ERR_peek_last_error() != 0) {
        snprintf(buf, len, "TLS handshake failed: %s",
                 tr_clientsec_ossl_error(e, sizeof(e)));
    } else {
        snprintf(buf, len,
                 "TLS handshake failed: the connection closed (not a TLS "
                 "listener, or the server refused our certificate?)");
    }
}

const char *
tr_clientsec_prop(size_t i, const char **def, const char **help)
{
    if (i >= P_COUNT) {
        return NULL;
    }
    *def = props[i].def;
    *help = props[i].help;
    return props[i].name;
}

void
tr_clientsec_write_help(FILE *out, const char *indent)
{
    const char *name, *def, *help;
    size_t i;

    for (i = 0; (name = tr_clientsec_prop(i, &def, &help)) != NULL; i++) {
        fprintf(out, "%s%s (default: %s)\n%s    %s\n", indent, name, def,
                indent, help);
    }
}
