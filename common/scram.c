/*
 * scram -- SASL SCRAM-SHA-256/512 and PLAIN on libcrypto. See scram.h.
 *
 * The message grammar (RFC 5802 section 7, as Kafka's ScramMessages reads
 * it):
 *
 *   client-first  = "n," [ "a=" saslname ] "," client-first-bare
 *   client-first-bare = "n=" saslname ",r=" c-nonce *( "," ext )
 *   server-first  = "r=" c-nonce s-nonce ",s=" b64(salt) ",i=" iterations
 *   client-final  = "c=" b64(gs2-header) ",r=" nonce *( "," ext ) ",p=" proof
 *   server-final  = "v=" b64(ServerSignature)  |  "e=" error
 *
 *   AuthMessage     = client-first-bare "," server-first ","
 *                     client-final-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *
 * The server recovers ClientKey = ClientProof XOR ClientSignature and
 * accepts iff H(ClientKey) equals StoredKey, so it never needs the password
 * or SaltedPassword.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "alloc.h"
#include "scram.h"

/* Random bytes behind a nonce: 18 bytes are 24 base64 characters. */
#define NONCE_BYTES 18
/* Kafka's salt is a 130-bit number in base 36: about 26 characters. */
#define SALT_CHARS 26

static const EVP_MD *
mech_md(enum tr_scram_mech mech)
{
    switch (mech) {
    case TR_SCRAM_SHA_256:
        return EVP_sha256();
    case TR_SCRAM_SHA_512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

const char *
tr_scram_mech_name(enum tr_scram_mech mech)
{
    switch (mech) {
    case TR_SCRAM_SHA_256:
        return "SCRAM-SHA-256";
    case TR_SCRAM_SHA_512:
        return "SCRAM-SHA-512";
    default:
        return NULL;
    }
}

enum tr_scram_mech
tr_scram_mech_parse(const char *name, size_t len)
{
    if (len == 13 && memcmp(name, "SCRAM-SHA-256", 13) == 0) {
        return TR_SCRAM_SHA_256;
    }
    if (len == 13 && memcmp(name, "SCRAM-SHA-512", 13) == 0) {
        return TR_SCRAM_SHA_512;
    }
    return TR_SCRAM_UNKNOWN;
}

size_t
tr_scram_key_len(enum tr_scram_mech mech)
{
    const EVP_MD *md = mech_md(mech);

    return md ? (size_t)EVP_MD_get_size(md) : 0;
}

/* ---- base64 ---- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
tr_scram_b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
    size_t need = (len + 2) / 3 * 4;
    size_t i, o = 0;

    if (out_size < need + 1) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_chars[v >> 18 & 63];
        out[o++] = b64_chars[v >> 12 & 63];
        out[o++] = b64_chars[v >> 6 & 63];
        out[o++] = b64_chars[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        out[o++] = b64_chars[v >> 18 & 63];
        out[o++] = b64_chars[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

tr_err_t
tr_scram_b64_decode(const char *in, size_t len, uint8_t *out, size_t out_size,
                    size_t *out_len)
{
    size_t i, o = 0;

    if (len % 4 != 0) {
        return TR_ERR_CORRUPT;
    }
    for (i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        int k;

        for (k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0) {
                return TR_ERR_CORRUPT; /* data after padding */
            }
            v[k] = b64_value(in[i + k]);
            if (v[k] < 0) {
                return TR_ERR_CORRUPT;
            }
        }
        if (o + 3 - (size_t)pad > out_size) {
            return TR_ERR_TOO_LARGE;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(w >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)w;
        }
    }
    *out_len = o;
    return TR_OK;
}

/* ---- primitives ---- */

static tr_err_t
hmac(enum tr_scram_mech mech, const uint8_t *key, size_t key_len,
     const void *data, size_t len, uint8_t *out)
{
    unsigned int out_len = 0;

    if (HMAC(mech_md(mech), key, (int)key_len, data, len, out, &out_len) ==
        NULL) {
        return TR_ERR_INTERNAL;
    }
    return TR_OK;
}

static tr_err_t
digest(enum tr_scram_mech mech, const uint8_t *data, size_t len, uint8_t *out)
{
    if (EVP_Digest(data, len, out, NULL, mech_md(mech), NULL) != 1) {
        return TR_ERR_INTERNAL;
    }
    return TR_OK;
}

tr_err_t
tr_scram_salted_password(enum tr_scram_mech mech, const char *password,
                         size_t password_len, const uint8_t *salt,
                         size_t salt_len, int32_t iterations, uint8_t *out)
{
    const EVP_MD *md = mech_md(mech);

    if (md == NULL || iterations < 1 || password_len > INT32_MAX ||
        salt_len > INT32_MAX) {
        return TR_ERR_INVALID;
    }
    if (PKCS5_PBKDF2_HMAC(password, (int)password_len, salt, (int)salt_len,
                          iterations, md, EVP_MD_get_size(md), out) != 1) {
        return TR_ERR_INTERNAL;
    }
    return TR_OK;
}

/* Computes ClientKey and from it StoredKey; ServerKey; all from SP. */
static tr_err_t
derive_keys(enum tr_scram_mech mech, const uint8_t *salted, uint8_t *stored,
            uint8_t *server)
{
    size_t klen = tr_scram_key_len(mech);
    uint8_t client_key[TR_SCRAM_MAX_KEY];
    tr_err_t err;

    err = hmac(mech, salted, klen, "Client Key", 10, client_key);
    if (err != TR_OK) {
        goto out;
    }
    err = digest(mech, client_key, klen, stored);
    if (err != TR_OK) {
        goto out;
    }
    if (server != NULL) {
        err = hmac(mech, salted, klen, "Server Key", 10, server);
    }
out:
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return err;
}

tr_err_t
tr_scram_cred_from_salted(struct tr_scram_cred *cred, enum tr_scram_mech mech,
                          const uint8_t *salt, size_t salt_len,
                          int32_t iterations, const uint8_t *salted,
                          size_t salted_len)
{
    if (mech_md(mech) == NULL || salt_len == 0 ||
        salt_len > TR_SCRAM_MAX_SALT || salted_len != tr_scram_key_len(mech) ||
        iterations < TR_SCRAM_MIN_ITERATIONS) {
        return TR_ERR_INVALID;
    }
    memset(cred, 0, sizeof(*cred));
    cred->mech = mech;
    cred->iterations = iterations;
    cred->salt_len = salt_len;
    memcpy(cred->salt, salt, salt_len);
    return derive_keys(mech, salted, cred->stored_key, cred->server_key);
}

/* Fills 'out' with 'n' random characters of 'alphabet' (no modulo bias). */
static tr_err_t
random_chars(char *out, size_t n, const char *alphabet, size_t alpha_len)
{
    size_t limit = 256 - 256 % alpha_len;
    size_t got = 0;

    while (got < n) {
        uint8_t bytes[32];
        size_t i;

        if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
            return TR_ERR_INTERNAL;
        }
        for (i = 0; i < sizeof(bytes) && got < n; i++) {
            if (bytes[i] < limit) {
                out[got++] = alphabet[bytes[i] % alpha_len];
            }
        }
    }
    return TR_OK;
}

tr_err_t
tr_scram_cred_make(struct tr_scram_cred *cred, enum tr_scram_mech mech,
                   const char *password, size_t password_len,
                   int32_t iterations, const uint8_t *salt, size_t salt_len)
{
    static const char base36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t salted[TR_SCRAM_MAX_KEY];
    char fresh[SALT_CHARS];
    tr_err_t err;

    if (mech_md(mech) == NULL || iterations < TR_SCRAM_MIN_ITERATIONS) {
        return TR_ERR_INVALID;
    }
    if (salt == NULL) {
        err = random_chars(fresh, sizeof(fresh), base36, 36);
        if (err != TR_OK) {
            return err;
        }
        salt = (const uint8_t *)fresh;
        salt_len = sizeof(fresh);
    }
    err = tr_scram_salted_password(mech, password, password_len, salt, salt_len,
                                   iterations, salted);
    if (err == TR_OK) {
        err = tr_scram_cred_from_salted(cred, mech, salt, salt_len, iterations,
                                        salted, tr_scram_key_len(mech));
    }
    OPENSSL_cleanse(salted, sizeof(salted));
    return err;
}

tr_err_t
tr_scram_cred_format(const struct tr_scram_cred *cred, char *out,
                     size_t out_size)
{
    char salt[TR_SCRAM_MAX_SALT * 2], stored[TR_SCRAM_MAX_KEY * 2],
        server[TR_SCRAM_MAX_KEY * 2];
    size_t klen = tr_scram_key_len(cred->mech);
    int n;

    if (klen == 0 || cred->salt_len > TR_SCRAM_MAX_SALT) {
        return TR_ERR_INVALID;
    }
    tr_scram_b64_encode(cred->salt, cred->salt_len, salt, sizeof(salt));
    tr_scram_b64_encode(cred->stored_key, klen, stored, sizeof(stored));
    tr_scram_b64_encode(cred->server_key, klen, server, sizeof(server));
    n = snprintf(out, out_size,
                 "salt=%s,stored_key=%s,server_key=%s,iterations=%d", salt,
                 stored, server, (int)cred->iterations);
    if (n < 0 || (size_t)n >= out_size) {
        return TR_ERR_TOO_LARGE;
    }
    return TR_OK;
}

/* Parses a decimal int32 of 1..10 digits, nothing else. */
static tr_err_t
parse_int(const char *s, size_t len, int32_t *v)
{
    int64_t n = 0;
    size_t i;

    if (len == 0 || len > 10) {
        return TR_ERR_CORRUPT;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return TR_ERR_CORRUPT;
        }
        n = n * 10 + (s[i] - '0');
    }
    if (n > INT32_MAX) {
        return TR_ERR_OUT_OF_RANGE;
    }
    *v = (int32_t)n;
    return TR_OK;
}

tr_err_t
tr_scram_cred_parse(struct tr_scram_cred *cred, enum tr_scram_mech mech,
                    const char *text, size_t len)
{
    size_t klen = tr_scram_key_len(mech);
    const char *p = text, *end = text + len;
    unsigned seen = 0;
    size_t n;
    tr_err_t err;

    if (klen == 0) {
        return TR_ERR_INVALID;
    }
    memset(cred, 0, sizeof(*cred));
    cred->mech = mech;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(fend - p));
        const char *val;
        size_t klen_name, vlen;
        unsigned bit;

        if (eq == NULL) {
            return TR_ERR_CORRUPT;
        }
        klen_name = (size_t)(eq - p);
        val = eq + 1;
        vlen = (size_t)(fend - val);
        if (klen_name == 4 && memcmp(p, "salt", 4) == 0) {
            bit = 1;
            err = tr_scram_b64_decode(val, vlen, cred->salt, sizeof(cred->salt),
                                      &cred->salt_len);
            if (err == TR_OK && cred->salt_len == 0) {
                err = TR_ERR_CORRUPT;
            }
        } else if (klen_name == 10 && memcmp(p, "stored_key", 10) == 0) {
            bit = 2;
            err = tr_scram_b64_decode(val, vlen, cred->stored_key,
                                      sizeof(cred->stored_key), &n);
            if (err == TR_OK && n != klen) {
                err = TR_ERR_CORRUPT;
            }
        } else if (klen_name == 10 && memcmp(p, "server_key", 10) == 0) {
            bit = 4;
            err = tr_scram_b64_decode(val, vlen, cred->server_key,
                                      sizeof(cred->server_key), &n);
            if (err == TR_OK && n != klen) {
                err = TR_ERR_CORRUPT;
            }
        } else if (klen_name == 10 && memcmp(p, "iterations", 10) == 0) {
            bit = 8;
            err = parse_int(val, vlen, &cred->iterations);
            if (err == TR_OK && cred->iterations < TR_SCRAM_MIN_ITERATIONS) {
                err = TR_ERR_INVALID;
            }
        } else {
            return TR_ERR_CORRUPT;
        }
        if (err != TR_OK) {
            return err == TR_ERR_TOO_LARGE ? TR_ERR_CORRUPT : err;
        }
        if (seen & bit) {
            return TR_ERR_CORRUPT;
        }
        seen |= bit;
        p = comma ? comma + 1 : end;
        if (comma != NULL && p == end) {
            return TR_ERR_CORRUPT; /* trailing comma */
        }
    }
    return seen == 15 ? TR_OK : TR_ERR_CORRUPT;
}

tr_err_t
tr_scram_cred_check_password(const struct tr_scram_cred *cred,
                             const char *password, size_t password_len)
{
    size_t klen = tr_scram_key_len(cred->mech);
    uint8_t salted[TR_SCRAM_MAX_KEY], stored[TR_SCRAM_MAX_KEY];
    tr_err_t err;

    if (klen == 0) {
        return TR_ERR_INVALID;
    }
    err =
        tr_scram_salted_password(cred->mech, password, password_len, cred->salt,
                                 cred->salt_len, cred->iterations, salted);
    if (err == TR_OK) {
        err = derive_keys(cred->mech, salted, stored, NULL);
    }
    if (err == TR_OK && CRYPTO_memcmp(stored, cred->stored_key, klen) != 0) {
        err = TR_ERR_INVALID;
    }
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(stored, sizeof(stored));
    return err;
}

/* ---- message parsing ---- */

/*
 * Unescapes a saslname: "=2C" is ',', "=3D" is '=', any other '=' and any
 * ',' or NUL are malformed; empty is malformed. Returns an owned string.
 */
static tr_err_t
saslname_decode(const char *s, size_t len, char **out)
{
    char *name;
    size_t i, o = 0;

    if (len == 0) {
        return TR_ERR_CORRUPT;
    }
    name = tr_malloc(len + 1);
    if (name == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '=') {
            if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'C') {
                name[o++] = ',';
            } else if (i + 2 < len && s[i + 1] == '3' && s[i + 2] == 'D') {
                name[o++] = '=';
            } else {
                tr_free(name);
                return TR_ERR_CORRUPT;
            }
            i += 2;
        } else if (s[i] == ',' || s[i] == '\0') {
            tr_free(name);
            return TR_ERR_CORRUPT;
        } else {
            name[o++] = s[i];
        }
    }
    name[o] = '\0';
    *out = name;
    return TR_OK;
}

/* Appends 'name' with ',' and '=' escaped, for a client-first message. */
static void
saslname_encode(struct tr_buf *out, const char *name)
{
    for (; *name; name++) {
        if (*name == ',') {
            tr_buf_put_bytes(out, "=2C", 3);
        } else if (*name == '=') {
            tr_buf_put_bytes(out, "=3D", 3);
        } else {
            tr_buf_put_bytes(out, name, 1);
        }
    }
}

/* A nonce is printable ASCII but ','; RFC 5802's "printable". */
static int
nonce_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',') {
            return 0;
        }
    }
    return 1;
}

/*
 * Takes the next "k=value" attribute of a message: one letter 'key', then
 * '=', then everything up to the next ',' or the end. Moves *p past it and
 * its comma.
 */
static tr_err_t
next_attr(const char **p, const char *end, char key, const char **val,
          size_t *vlen)
{
    const char *s = *p;
    const char *comma;

    if (end - s < 2 || s[0] != key || s[1] != '=') {
        return TR_ERR_CORRUPT;
    }
    s += 2;
    comma = memchr(s, ',', (size_t)(end - s));
    *val = s;
    *vlen = (size_t)((comma ? comma : end) - s);
    *p = comma ? comma + 1 : end;
    if (comma != NULL && *p == end) {
        return TR_ERR_CORRUPT; /* trailing comma */
    }
    return TR_OK;
}

static tr_err_t
check_message(const uint8_t *msg, size_t len)
{
    if (len == 0) {
        return TR_ERR_CORRUPT;
    }
    if (len > TR_SCRAM_MAX_MSG) {
        return TR_ERR_TOO_LARGE;
    }
    if (memchr(msg, '\0', len) != NULL) {
        return TR_ERR_CORRUPT;
    }
    return TR_OK;
}

/* ---- server ---- */

void
tr_scram_server_init(struct tr_scram_server *srv, enum tr_scram_mech mech)
{
    memset(srv, 0, sizeof(*srv));
    srv->mech = mech;
}

void
tr_scram_server_cleanup(struct tr_scram_server *srv)
{
    tr_free(srv->user);
    tr_free(srv->authzid);
    tr_free(srv->gs2_header);
    tr_free(srv->client_first_bare);
    tr_free(srv->server_first);
    tr_free(srv->nonce);
    OPENSSL_cleanse(&srv->cred, sizeof(srv->cred));
    memset(srv, 0, sizeof(*srv));
}

tr_err_t
tr_scram_server_client_first(struct tr_scram_server *srv, const uint8_t *msg,
                             size_t len)
{
    const char *s = (const char *)msg, *end = s + len, *p, *bare, *val;
    char *authzid = NULL, *user = NULL;
    size_t vlen;
    tr_err_t err;

    if (srv->state != TR_SCRAM_SERVER_FIRST || mech_md(srv->mech) == NULL) {
        return TR_ERR_INVALID;
    }
    srv->state = TR_SCRAM_SERVER_FAILED;
    err = check_message(msg, len);
    if (err != TR_OK) {
        return err;
    }
    /* gs2 header: only "n" (no channel binding) is accepted, as in Kafka. */
    if (s[0] == 'y' || s[0] == 'p') {
        err = TR_ERR_INVALID;
        goto out;
    }
    if (len < 3 || s[0] != 'n' || s[1] != ',') {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    p = s + 2;
    if (*p == 'a') {
        err = next_attr(&p, end, 'a', &val, &vlen);
        if (err != TR_OK) {
            goto out;
        }
        if (vlen > 0) {
            err = saslname_decode(val, vlen, &authzid);
            if (err != TR_OK) {
                goto out;
            }
        }
    } else if (*p == ',') {
        p++;
    } else {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    bare = p;
    if (p < end && *p == 'm') {
        err = TR_ERR_UNSUPPORTED; /* mandatory extension: RFC 5802 says fail */
        goto out;
    }
    err = next_attr(&p, end, 'n', &val, &vlen);
    if (err != TR_OK) {
        goto out;
    }
    err = saslname_decode(val, vlen, &user);
    if (err != TR_OK) {
        goto out;
    }
    err = next_attr(&p, end, 'r', &val, &vlen);
    if (err != TR_OK) {
        goto out;
    }
    if (!nonce_ok(val, vlen)) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    srv->cnonce_len = vlen;
    srv->nonce = tr_strndup(val, vlen);
    if (srv->nonce == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    /* Extensions: key=value pairs; only delegation tokens mean anything. */
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(fend - p));

        if (eq == NULL || eq == p) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (fend - p == 14 && memcmp(p, "tokenauth=true", 14) == 0) {
            err = TR_ERR_UNSUPPORTED;
            goto out;
        }
        p = comma ? comma + 1 : end;
        if (comma != NULL && p == end) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
    if (authzid != NULL && strcmp(authzid, user) != 0) {
        err = TR_ERR_INVALID;
        goto out;
    }
    srv->gs2_header = tr_strndup(s, (size_t)(bare - s));
    srv->client_first_bare = tr_strndup(bare, (size_t)(end - bare));
    if (srv->gs2_header == NULL || srv->client_first_bare == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    srv->user = user;
    user = NULL;
    srv->authzid = authzid;
    authzid = NULL;
    srv->state = TR_SCRAM_SERVER_USER;
    err = TR_OK;
out:
    tr_free(user);
    tr_free(authzid);
    return err;
}

tr_err_t
tr_scram_server_first(struct tr_scram_server *srv,
                      const struct tr_scram_cred *cred, const char *snonce,
                      struct tr_buf *out)
{
    char fresh[NONCE_BYTES * 2], salt[TR_SCRAM_MAX_SALT * 2], iter[16];
    uint8_t rnd[NONCE_BYTES];
    size_t start = tr_buf_len(out), nlen;
    char *nonce = NULL;
    tr_err_t err;

    if (srv->state != TR_SCRAM_SERVER_USER || cred->mech != srv->mech) {
        return TR_ERR_INVALID;
    }
    srv->state = TR_SCRAM_SERVER_FAILED;
    if (snonce == NULL) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return TR_ERR_INTERNAL;
        }
        tr_scram_b64_encode(rnd, sizeof(rnd), fresh, sizeof(fresh));
        snonce = fresh;
    }
    if (!nonce_ok(snonce, strlen(snonce))) {
        return TR_ERR_INVALID;
    }
    nlen = srv->cnonce_len + strlen(snonce);
    nonce = tr_malloc(nlen + 1);
    if (nonce == NULL) {
        return TR_ERR_NOMEM;
    }
    memcpy(nonce, srv->nonce, srv->cnonce_len);
    memcpy(nonce + srv->cnonce_len, snonce, strlen(snonce) + 1);
    tr_scram_b64_encode(cred->salt, cred->salt_len, salt, sizeof(salt));
    snprintf(iter, sizeof(iter), "%d", (int)cred->iterations);

    tr_buf_put_bytes(out, "r=", 2);
    tr_buf_put_bytes(out, nonce, nlen);
    tr_buf_put_bytes(out, ",s=", 3);
    tr_buf_put_bytes(out, salt, strlen(salt));
    tr_buf_put_bytes(out, ",i=", 3);
    tr_buf_put_bytes(out, iter, strlen(iter));
    err = tr_buf_err(out);
    if (err != TR_OK) {
        goto out;
    }
    srv->server_first = tr_strndup((const char *)tr_buf_data(out) + start,
                                   tr_buf_len(out) - start);
    if (srv->server_first == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    tr_free(srv->nonce);
    srv->nonce = nonce;
    nonce = NULL;
    srv->cred = *cred;
    srv->state = TR_SCRAM_SERVER_FINAL;
out:
    tr_free(nonce);
    return err;
}

/*
 * The nonce of client-final must be the one server-first sent. librdkafka
 * before 2.6.1 sends its client nonce twice ahead of it (cnonce cnonce
 * snonce), so, as Kafka since CVE-2024-56128, a nonce that starts with the
 * client nonce and ends with the whole server-first nonce is taken too.
 */
static int
final_nonce_ok(const struct tr_scram_server *srv, const char *r, size_t rlen)
{
    size_t nlen = strlen(srv->nonce);

    if (rlen == nlen) {
        return memcmp(r, srv->nonce, nlen) == 0;
    }
    return rlen > nlen && memcmp(r + rlen - nlen, srv->nonce, nlen) == 0 &&
           memcmp(r, srv->nonce, srv->cnonce_len) == 0;
}

tr_err_t
tr_scram_server_client_final(struct tr_scram_server *srv, const uint8_t *msg,
                             size_t len, struct tr_buf *out)
{
    const char *s = (const char *)msg, *end = s + len, *p = s, *val, *pstart;
    size_t klen = tr_scram_key_len(srv->mech), vlen, n, i;
    uint8_t gs2[TR_SCRAM_MAX_MSG], proof[TR_SCRAM_MAX_KEY];
    uint8_t sig[TR_SCRAM_MAX_KEY], key[TR_SCRAM_MAX_KEY],
        stored[TR_SCRAM_MAX_KEY];
    char sigb64[TR_SCRAM_MAX_KEY * 2];
    struct tr_buf auth;
    tr_err_t err;

    tr_buf_init(&auth, 3 * TR_SCRAM_MAX_MSG);
    if (srv->state != TR_SCRAM_SERVER_FINAL) {
        err = TR_ERR_INVALID;
        goto done;
    }
    srv->state = TR_SCRAM_SERVER_FAILED;
    err = check_message(msg, len);
    if (err != TR_OK) {
        goto done;
    }
    err = next_attr(&p, end, 'c', &val, &vlen);
    if (err != TR_OK) {
        goto done;
    }
    err = tr_scram_b64_decode(val, vlen, gs2, sizeof(gs2), &n);
    if (err != TR_OK) {
        err = TR_ERR_CORRUPT;
        goto done;
    }
    if (n != strlen(srv->gs2_header) || memcmp(gs2, srv->gs2_header, n) != 0) {
        err = TR_ERR_INVALID; /* channel binding differs from client-first */
        goto done;
    }
    err = next_attr(&p, end, 'r', &val, &vlen);
    if (err != TR_OK) {
        goto done;
    }
    if (!nonce_ok(val, vlen) || !final_nonce_ok(srv, val, vlen)) {
        err = TR_ERR_INVALID;
        goto done;
    }
    /* The proof is the last attribute; extensions may come before it. */
    pstart = NULL;
    for (i = (size_t)(p - s); i + 3 <= len; i++) {
        if (s[i - 1] == ',' && s[i] == 'p' && s[i + 1] == '=') {
            pstart = s + i;
        }
    }
    if (pstart == NULL || memchr(pstart, ',', (size_t)(end - pstart))) {
        err = TR_ERR_CORRUPT;
        goto done;
    }
    p = pstart;
    err = next_attr(&p, end, 'p', &val, &vlen);
    if (err != TR_OK) {
        goto done;
    }
    err = tr_scram_b64_decode(val, vlen, proof, sizeof(proof), &n);
    if (err != TR_OK || n != klen) {
        err = TR_ERR_CORRUPT;
        goto done;
    }

    /* AuthMessage, then ClientKey = proof XOR HMAC(StoredKey, AuthMessage). */
    tr_buf_put_bytes(&auth, srv->client_first_bare,
                     strlen(srv->client_first_bare));
    tr_buf_put_bytes(&auth, ",", 1);
    tr_buf_put_bytes(&auth, srv->server_first, strlen(srv->server_first));
    tr_buf_put_bytes(&auth, ",", 1);
    tr_buf_put_bytes(&auth, s, (size_t)(pstart - 1 - s));
    if (tr_buf_err(&auth) != TR_OK) {
        err = tr_buf_err(&auth);
        goto done;
    }
    err = hmac(srv->mech, srv->cred.stored_key, klen, tr_buf_data(&auth),
               tr_buf_len(&auth), sig);
    if (err != TR_OK) {
        goto done;
    }
    for (i = 0; i < klen; i++) {
        key[i] = proof[i] ^ sig[i];
    }
    err = digest(srv->mech, key, klen, stored);
    if (err != TR_OK) {
        goto done;
    }
    if (CRYPTO_memcmp(stored, srv->cred.stored_key, klen) != 0) {
        err = TR_ERR_INVALID;
        goto done;
    }
    err = hmac(srv->mech, srv->cred.server_key, klen, tr_buf_data(&auth),
               tr_buf_len(&auth), sig);
    if (err != TR_OK) {
        goto done;
    }
    tr_scram_b64_encode(sig, klen, sigb64, sizeof(sigb64));
    tr_buf_put_bytes(out, "v=", 2);
    tr_buf_put_bytes(out, sigb64, strlen(sigb64));
    err = tr_buf_err(out);
    if (err == TR_OK) {
        srv->state = TR_SCRAM_SERVER_DONE;
    }
done:
    OPENSSL_cleanse(key, sizeof(key));
    tr_buf_cleanup(&auth);
    return err;
}

/* ---- client ---- */

tr_err_t
tr_scram_client_init(struct tr_scram_client *cli, enum tr_scram_mech mech,
                     const char *user, const char *password)
{
    memset(cli, 0, sizeof(*cli));
    if (mech_md(mech) == NULL || user[0] == '\0') {
        return TR_ERR_INVALID;
    }
    cli->mech = mech;
    cli->user = tr_strdup(user);
    cli->password = tr_strdup(password);
    if (cli->user == NULL || cli->password == NULL) {
        tr_scram_client_cleanup(cli);
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

void
tr_scram_client_cleanup(struct tr_scram_client *cli)
{
    if (cli->password != NULL) {
        OPENSSL_cleanse(cli->password, strlen(cli->password));
    }
    tr_free(cli->user);
    tr_free(cli->password);
    tr_free(cli->client_first_bare);
    tr_free(cli->cnonce);
    memset(cli, 0, sizeof(*cli));
}

tr_err_t
tr_scram_client_first(struct tr_scram_client *cli, const char *cnonce,
                      struct tr_buf *out)
{
    char fresh[NONCE_BYTES * 2];
    uint8_t rnd[NONCE_BYTES];
    size_t start;

    if (cli->state != 0) {
        return TR_ERR_INVALID;
    }
    if (cnonce == NULL) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return TR_ERR_INTERNAL;
        }
        tr_scram_b64_encode(rnd, sizeof(rnd), fresh, sizeof(fresh));
        cnonce = fresh;
    }
    if (!nonce_ok(cnonce, strlen(cnonce))) {
        return TR_ERR_INVALID;
    }
    cli->cnonce = tr_strdup(cnonce);
    if (cli->cnonce == NULL) {
        return TR_ERR_NOMEM;
    }
    tr_buf_put_bytes(out, "n,,", 3);
    start = tr_buf_len(out);
    tr_buf_put_bytes(out, "n=", 2);
    saslname_encode(out, cli->user);
    tr_buf_put_bytes(out, ",r=", 3);
    tr_buf_put_bytes(out, cnonce, strlen(cnonce));
    if (tr_buf_err(out) != TR_OK) {
        return tr_buf_err(out);
    }
    cli->client_first_bare = tr_strndup((const char *)tr_buf_data(out) + start,
                                        tr_buf_len(out) - start);
    if (cli->client_first_bare == NULL) {
        return TR_ERR_NOMEM;
    }
    cli->state = 1;
    return TR_OK;
}

tr_err_t
tr_scram_client_parse_server_first(const struct tr_scram_client *cli,
                                   const uint8_t *msg, size_t len,
                                   struct tr_scram_server_first *sf)
{
    const char *s = (const char *)msg, *end = s + len, *p = s, *sval, *ival;
    size_t slen, ilen, cnonce_len = strlen(cli->cnonce);
    tr_err_t err;

    err = check_message(msg, len);
    if (err != TR_OK) {
        return err;
    }
    if (p < end && *p == 'm') {
        return TR_ERR_UNSUPPORTED;
    }
    if ((err = next_attr(&p, end, 'r', &sf->nonce, &sf->nonce_len)) != TR_OK ||
        (err = next_attr(&p, end, 's', &sval, &slen)) != TR_OK ||
        (err = next_attr(&p, end, 'i', &ival, &ilen)) != TR_OK) {
        return err;
    }
    /* The server's nonce must extend ours. */
    if (!nonce_ok(sf->nonce, sf->nonce_len) || sf->nonce_len <= cnonce_len ||
        memcmp(sf->nonce, cli->cnonce, cnonce_len) != 0) {
        return TR_ERR_INVALID;
    }
    if (tr_scram_b64_decode(sval, slen, sf->salt, sizeof(sf->salt),
                            &sf->salt_len) != TR_OK ||
        sf->salt_len == 0 || parse_int(ival, ilen, &sf->iterations) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (sf->iterations < TR_SCRAM_MIN_ITERATIONS ||
        sf->iterations > TR_SCRAM_CLIENT_MAX_ITERATIONS) {
        return TR_ERR_INVALID;
    }
    return TR_OK;
}

tr_err_t
tr_scram_client_final(struct tr_scram_client *cli, const uint8_t *msg,
                      size_t len, struct tr_buf *out)
{
    struct tr_scram_server_first sf;
    size_t klen = tr_scram_key_len(cli->mech), i;
    size_t start;
    uint8_t salted[TR_SCRAM_MAX_KEY];
    uint8_t client_key[TR_SCRAM_MAX_KEY], stored[TR_SCRAM_MAX_KEY],
        sig[TR_SCRAM_MAX_KEY], server_key[TR_SCRAM_MAX_KEY];
    char proof[TR_SCRAM_MAX_KEY * 2];
    struct tr_buf auth;
    tr_err_t err;

    tr_buf_init(&auth, 3 * TR_SCRAM_MAX_MSG);
    if (cli->state != 1) {
        err = TR_ERR_INVALID;
        goto done;
    }
    cli->state = -1;
    err = tr_scram_client_parse_server_first(cli, msg, len, &sf);
    if (err != TR_OK) {
        goto done;
    }
    err = tr_scram_salted_password(cli->mech, cli->password,
                                   strlen(cli->password), sf.salt, sf.salt_len,
                                   sf.iterations, salted);
    if (err != TR_OK) {
        goto done;
    }
    if ((err = hmac(cli->mech, salted, klen, "Client Key", 10, client_key)) !=
            TR_OK ||
        (err = digest(cli->mech, client_key, klen, stored)) != TR_OK ||
        (err = hmac(cli->mech, salted, klen, "Server Key", 10, server_key)) !=
            TR_OK) {
        goto done;
    }
    start = tr_buf_len(out);
    tr_buf_put_bytes(out, "c=biws,r=", 9);
    tr_buf_put_bytes(out, sf.nonce, sf.nonce_len);
    if (tr_buf_err(out) != TR_OK) {
        err = tr_buf_err(out);
        goto done;
    }
    tr_buf_put_bytes(&auth, cli->client_first_bare,
                     strlen(cli->client_first_bare));
    tr_buf_put_bytes(&auth, ",", 1);
    tr_buf_put_bytes(&auth, msg, len);
    tr_buf_put_bytes(&auth, ",", 1);
    tr_buf_put_bytes(&auth, tr_buf_data(out) + start, tr_buf_len(out) - start);
    if (tr_buf_err(&auth) != TR_OK) {
        err = tr_buf_err(&auth);
        goto done;
    }
    if ((err = hmac(cli->mech, stored, klen, tr_buf_data(&auth),
                    tr_buf_len(&auth), sig)) != TR_OK) {
        goto done;
    }
    for (i = 0; i < klen; i++) {
        client_key[i] ^= sig[i];
    }
    tr_scram_b64_encode(client_key, klen, proof, sizeof(proof));
    tr_buf_put_bytes(out, ",p=", 3);
    tr_buf_put_bytes(out, proof, strlen(proof));
    err = tr_buf_err(out);
    if (err != TR_OK) {
        goto done;
    }
    err = hmac(cli->mech, server_key, klen, tr_buf_data(&auth),
               tr_buf_len(&auth), cli->server_signature);
    if (err == TR_OK) {
        cli->state = 2;
    }
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(server_key, sizeof(server_key));
    tr_buf_cleanup(&auth);
    return err;
}

tr_err_t
tr_scram_client_verify(struct tr_scram_client *cli, const uint8_t *msg,
                       size_t len)
{
    const char *s = (const char *)msg, *p = s, *val;
    uint8_t sig[TR_SCRAM_MAX_KEY];
    size_t klen = tr_scram_key_len(cli->mech), vlen, n;
    tr_err_t err;

    if (cli->state != 2) {
        return TR_ERR_INVALID;
    }
    cli->state = -1;
    err = check_message(msg, len);
    if (err != TR_OK) {
        return err;
    }
    if (len >= 2 && s[0] == 'e' && s[1] == '=') {
        return TR_ERR_INVALID; /* the server's refusal */
    }
    err = next_attr(&p, s + len, 'v', &val, &vlen);
    if (err != TR_OK || p != s + len) {
        return TR_ERR_CORRUPT;
    }
    if (tr_scram_b64_decode(val, vlen, sig, sizeof(sig), &n) != TR_OK ||
        n != klen) {
        return TR_ERR_CORRUPT;
    }
    if (CRYPTO_memcmp(sig, cli->server_signature, klen) != 0) {
        return TR_ERR_INVALID;
    }
    cli->state = 3;
    return TR_OK;
}

/* ---- PLAIN ---- */

tr_err_t
tr_scram_plain_parse(const uint8_t *msg, size_t len,
                     struct tr_scram_plain *plain)
{
    const char *s = (const char *)msg;
    const char *nul1, *nul2;

    if (len > TR_SCRAM_MAX_MSG) {
        return TR_ERR_TOO_LARGE;
    }
    nul1 = memchr(s, '\0', len);
    if (nul1 == NULL) {
        return TR_ERR_CORRUPT;
    }
    nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - s));
    if (nul2 == NULL ||
        memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - s)) != NULL) {
        return TR_ERR_CORRUPT;
    }
    plain->authzid = s;
    plain->authzid_len = (size_t)(nul1 - s);
    plain->user = nul1 + 1;
    plain->user_len = (size_t)(nul2 - plain->user);
    plain->password = nul2 + 1;
    plain->password_len = len - (size_t)(plain->password - s);
    if (plain->user_len == 0 || plain->password_len == 0) {
        return TR_ERR_INVALID;
    }
    if (plain->authzid_len != 0 &&
        (plain->authzid_len != plain->user_len ||
         memcmp(plain->authzid, plain->user, plain->user_len) != 0)) {
        return TR_ERR_INVALID;
    }
    return TR_OK;
}
