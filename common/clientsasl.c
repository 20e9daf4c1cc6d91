/*
 * clientsasl -- the client's SASL exchange on Kafka messages (see
 * clientsasl.h).
 *
 * States, one request in flight at each:
 *
 *   HANDSHAKE --ok--> FIRST --PLAIN ok--> DONE
 *                       |
 *                       +--SCRAM: server-first--> FINAL --signature ok--> DONE
 *
 * Any error moves to FAILED for good.
 */
#include "clientsasl.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clientsec.h"
#include "proto.h"
#include "scram.h"

#define SASL_MAX_MECHANISMS 64

enum sasl_state {
    S_HANDSHAKE,
    S_FIRST,
    S_FINAL,
    S_DONE,
    S_FAILED,
};

struct tr_clientsasl {
    enum tr_clientsec_mech mech;
    enum sasl_state state;
    int sent; /* the request of 'state' went out */
    char *user;
    char *password;
    struct tr_scram_client scram;
    struct tr_buf next; /* the token for the next SaslAuthenticate */
};

tr_err_t
tr_clientsasl_new(const struct tr_clientsec *sec, struct tr_clientsasl **out)
{
    struct tr_clientsasl *s = tr_calloc(1, sizeof(*s));
    enum tr_scram_mech sm;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (s == NULL) {
        goto out;
    }
    tr_buf_init(&s->next, TR_SCRAM_MAX_MSG * 2);
    s->mech = tr_clientsec_mech(sec);
    s->user = tr_strdup(tr_clientsec_username(sec));
    s->password = tr_strdup(tr_clientsec_password(sec));
    if (s->user == NULL || s->password == NULL) {
        goto out;
    }
    if (s->mech == TR_CLIENTSEC_MECH_PLAIN) {
        /* authzid (empty, as librdkafka sends) NUL authcid NUL passwd */
        tr_buf_put_i8(&s->next, 0);
        tr_buf_put_bytes(&s->next, s->user, strlen(s->user));
        tr_buf_put_i8(&s->next, 0);
        tr_buf_put_bytes(&s->next, s->password, strlen(s->password));
    } else {
        sm = s->mech == TR_CLIENTSEC_MECH_SCRAM_SHA_256 ? TR_SCRAM_SHA_256
                                                        : TR_SCRAM_SHA_512;
        if ((err = tr_scram_client_init(&s->scram, sm, s->user, s->password)) !=
                TR_OK ||
            (err = tr_scram_client_first(&s->scram, NULL, &s->next)) != TR_OK) {
            goto out;
        }
    }
    if ((err = tr_buf_err(&s->next)) != TR_OK) {
        goto out;
    }
    *out = s;
    s = NULL;
out:
    tr_clientsasl_free(s);
    return err;
}

void
tr_clientsasl_free(struct tr_clientsasl *s)
{
    if (s == NULL) {
        return;
    }
    if (s->password != NULL) {
        OPENSSL_cleanse(s->password, strlen(s->password));
    }
    if (tr_buf_len(&s->next) > 0) {
        OPENSSL_cleanse(tr_buf_data(&s->next), tr_buf_len(&s->next));
    }
    tr_buf_cleanup(&s->next);
    tr_scram_client_cleanup(&s->scram);
    tr_free(s->user);
    tr_free(s->password);
    tr_free(s);
}

int
tr_clientsasl_done(const struct tr_clientsasl *s)
{
    return s->state == S_DONE;
}

tr_err_t
tr_clientsasl_request(struct tr_clientsasl *s, int16_t auth_version,
                      int16_t *api_key, int16_t *version, struct tr_buf *body)
{
    if (s->sent || s->state == S_DONE || s->state == S_FAILED) {
        return TR_ERR_INVALID;
    }
    if (s->state == S_HANDSHAKE) {
        *api_key = TR_API_SASL_HANDSHAKE;
        *version = 1; /* tokens travel in SaslAuthenticate */
        tr_proto_put_cstring_v(body, 0, tr_clientsec_mech_name(s->mech));
    } else {
        *api_key = TR_API_SASL_AUTHENTICATE;
        *version = auth_version;
        tr_proto_put_bytes_v(body, 0, tr_buf_data(&s->next), /* AuthBytes */
                             (int32_t)tr_buf_len(&s->next));
    }
    if (tr_buf_err(body) == TR_OK) {
        s->sent = 1;
    }
    return tr_buf_err(body);
}

/* Reads a SaslHandshake response: the mechanism must be enabled. */
static tr_err_t
handshake_response(struct tr_clientsasl *s, struct tr_slice *body, char *errbuf,
                   size_t errlen)
{
    struct tr_str mech;
    char offered[512] = "";
    int16_t kerr;
    int32_t n, i;
    size_t used;
    tr_err_t err;

    if ((err = tr_slice_get_i16(body, &kerr)) != TR_OK || /* ErrorCode */
        (err = tr_proto_get_array_len_v(body, 0, &n, 2, SASL_MAX_MECHANISMS)) !=
            TR_OK) {
        goto out; /* Mechanisms */
    }
    for (i = 0; i < n; i++) {
        if ((err = tr_proto_get_string(body, &mech)) != TR_OK) {
            goto out;
        }
        used = strlen(offered);
        if (mech.len > 0 && used + (size_t)mech.len + 3 < sizeof(offered)) {
            snprintf(offered + used, sizeof(offered) - used, "%s%.*s",
                     used ? ", " : "", (int)mech.len, mech.ptr);
        }
    }
    err = TR_ERR_AUTH;
    if (kerr == TR_KERR_UNSUPPORTED_SASL_MECHANISM) {
        snprintf(errbuf, errlen,
                 "SASL mechanism %s is not enabled on the broker (it offers: "
                 "%s)",
                 tr_clientsec_mech_name(s->mech), offered);
        goto out;
    }
    if (kerr == TR_KERR_ILLEGAL_SASL_STATE) {
        snprintf(errbuf, errlen,
                 "SASL handshake refused: ILLEGAL_SASL_STATE (is the "
                 "listener SASL_PLAINTEXT or SASL_SSL? check "
                 "security.protocol)");
        goto out;
    }
    if (kerr != TR_KERR_NONE) {
        snprintf(errbuf, errlen, "SASL handshake failed: Kafka error %d",
                 (int)kerr);
        goto out;
    }
    s->state = S_FIRST;
    err = TR_OK;
out:
    return err;
}

/* Reads a SaslAuthenticate response and moves the mechanism on. */
static tr_err_t
authenticate_response(struct tr_clientsasl *s, int16_t version,
                      struct tr_slice *body, char *errbuf, size_t errlen)
{
    struct tr_str msg, bytes;
    int64_t lifetime;
    int16_t kerr;
    tr_err_t err;

    if ((err = tr_slice_get_i16(body, &kerr)) != TR_OK ||    /* ErrorCode */
        (err = tr_proto_get_string(body, &msg)) != TR_OK ||  /* ErrorMessage */
        (err = tr_proto_get_bytes(body, &bytes)) != TR_OK) { /* AuthBytes */
        goto out;
    }
    if (version >= 1 && (err = tr_slice_get_i64(body, &lifetime)) != TR_OK) {
        goto out; /* SessionLifetimeMs */
    }
    err = TR_ERR_AUTH;
    if (kerr != TR_KERR_NONE) {
        if (msg.len > 0) {
            snprintf(errbuf, errlen, "SASL authentication failed: %.*s",
                     (int)(msg.len > 400 ? 400 : msg.len), msg.ptr);
        } else {
            snprintf(errbuf, errlen,
                     "SASL authentication failed: Kafka error %d", (int)kerr);
        }
        goto out;
    }
    if (bytes.len < 0) {
        bytes.ptr = ""; /* a null AuthBytes reads as empty */
        bytes.len = 0;
    }
    if (s->mech == TR_CLIENTSEC_MECH_PLAIN) {
        s->state = S_DONE;
        err = TR_OK;
        goto out;
    }
    if (s->state == S_FIRST) {
        /* server-first in, client-final out (PBKDF2 runs here) */
        tr_buf_reset(&s->next);
        err = tr_scram_client_final(&s->scram, (const uint8_t *)bytes.ptr,
                                    (size_t)bytes.len, &s->next);
        if (err != TR_OK) {
            snprintf(errbuf, errlen,
                     "SASL authentication failed: the broker's SCRAM "
                     "server-first message is not acceptable (%s)",
                     tr_err_str(err));
            err = TR_ERR_AUTH;
            goto out;
        }
        s->state = S_FINAL;
        goto out;
    }
    if (tr_scram_client_verify(&s->scram, (const uint8_t *)bytes.ptr,
                               (size_t)bytes.len) != TR_OK) {
        snprintf(errbuf, errlen,
                 "SASL authentication failed: the broker's SCRAM signature "
                 "is wrong (it does not know the password: not the real "
                 "broker?)");
        goto out;
    }
    s->state = S_DONE;
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_clientsasl_response(struct tr_clientsasl *s, int16_t version,
                       struct tr_slice *body, char *errbuf, size_t errlen)
{
    tr_err_t err = TR_ERR_INVALID;

    if (!s->sent || s->state == S_DONE || s->state == S_FAILED) {
        snprintf(errbuf, errlen, "SASL: no request is waiting for an answer");
        goto out;
    }
    s->sent = 0;
    if (s->state == S_HANDSHAKE) {
        err = handshake_response(s, body, errbuf, errlen);
    } else {
        err = authenticate_response(s, version, body, errbuf, errlen);
    }
    if (err == TR_ERR_CORRUPT || err == TR_ERR_TRUNCATED ||
        err == TR_ERR_TOO_LARGE) {
        snprintf(errbuf, errlen, "SASL: malformed %s response",
                 s->state == S_HANDSHAKE ? "SaslHandshake"
                                         : "SaslAuthenticate");
        err = TR_ERR_CORRUPT;
    }
out:
    if (err != TR_OK) {
        s->state = S_FAILED;
    }
    return err;
}
