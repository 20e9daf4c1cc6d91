/*
 * sasl -- SaslHandshake, SaslAuthenticate, the SCRAM credential APIs and
 * the per-connection SASL state. See sasl.h; Kafka's behaviour is
 * SaslServerAuthenticator's (2.8), its credential APIs ZkAdminManager's.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "credentials.h"
#include "log.h"
#include "sasl.h"

/* Kafka's words, which clients print (SaslServerAuthenticator). */
#define SCRAM_FAILED(mech)                                                     \
    "Authentication failed during authentication due to invalid "              \
    "credentials with SASL mechanism " mech
#define PLAIN_FAILED "Authentication failed: Invalid username or password"

/* Caps on the credential APIs' arrays (nothing is sized by more). */
#define MAX_USERS 1000

static const char *const mech_names[] = {
    [TR_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [TR_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
    [TR_SASL_PLAIN] = "PLAIN",
};

static enum tr_sasl_mech
mech_parse(const char *s, size_t len)
{
    int m;

    for (m = TR_SASL_SCRAM_SHA_256; m <= TR_SASL_PLAIN; m++) {
        if (strlen(mech_names[m]) == len &&
            memcmp(mech_names[m], s, len) == 0) {
            return (enum tr_sasl_mech)m;
        }
    }
    return TR_SASL_NONE;
}

/*
 * The next name of the comma-separated list at *p, blanks trimmed, at
 * *s (length *len); *p moves past it. 0 at the end of the list.
 */
static int
next_mechanism(const char **p, const char **s, size_t *len)
{
    size_t n;

    if (**p == '\0') {
        return 0;
    }
    n = strcspn(*p, ",");
    *s = *p;
    *len = n;
    while (*len > 0 && **s == ' ') {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && (*s)[*len - 1] == ' ') {
        (*len)--;
    }
    *p += n;
    if (**p == ',') {
        (*p)++;
    }
    return 1;
}

int
tr_sasl_check_mechanisms(const char *list, char *errbuf, size_t errlen)
{
    const char *p = list, *s;
    size_t len;

    if (list == NULL || *list == '\0') {
        snprintf(errbuf, errlen, "sasl.enabled.mechanisms is empty");
        return -1;
    }
    while (next_mechanism(&p, &s, &len)) {
        if (mech_parse(s, len) == TR_SASL_NONE) {
            snprintf(errbuf, errlen,
                     "sasl.enabled.mechanisms: '%.*s' is not one of "
                     "SCRAM-SHA-256, SCRAM-SHA-512, PLAIN",
                     (int)len, s);
            return -1;
        }
    }
    return 0;
}

/* 1 if 'mech' is in sasl.enabled.mechanisms (checked at start-up). */
static int
mech_enabled(const struct tr_broker_config *cfg, enum tr_sasl_mech mech)
{
    const char *p = cfg->sasl_enabled_mechanisms, *s;
    size_t len;

    while (p != NULL && next_mechanism(&p, &s, &len)) {
        if (mech_parse(s, len) == mech) {
            return 1;
        }
    }
    return 0;
}

int
tr_sasl_mechanism_enabled(const struct tr_broker_config *cfg, const char *name)
{
    enum tr_sasl_mech mech = mech_parse(name, strlen(name));

    return mech != TR_SASL_NONE && mech_enabled(cfg, mech);
}

/* Writes the enabled mechanisms (or none) as an array of strings. */
static void
put_mechanisms(struct tr_buf *out, const struct tr_broker_config *cfg, int none)
{
    int m, n = 0;

    for (m = TR_SASL_SCRAM_SHA_256; m <= TR_SASL_PLAIN && !none; m++) {
        n += mech_enabled(cfg, (enum tr_sasl_mech)m);
    }
    tr_proto_put_array_len_v(out, 0, n);
    for (m = TR_SASL_SCRAM_SHA_256; m <= TR_SASL_PLAIN && !none; m++) {
        if (mech_enabled(cfg, (enum tr_sasl_mech)m)) {
            tr_proto_put_cstring_v(out, 0, mech_names[m]);
        }
    }
}

static int
is_sasl(const struct tr_conn_security *sec)
{
    return sec != NULL && (sec->protocol == TR_SEC_SASL_PLAINTEXT ||
                           sec->protocol == TR_SEC_SASL_SSL);
}

struct tr_sasl_session *
tr_sasl_session_new(void)
{
    return tr_calloc(1, sizeof(struct tr_sasl_session));
}

void
tr_sasl_session_free(struct tr_sasl_session *sess)
{
    if (sess == NULL) {
        return;
    }
    tr_scram_server_cleanup(&sess->scram);
    tr_free(sess);
}

int32_t
tr_sasl_max_frame(const struct tr_sasl_session *sess,
                  const struct tr_conn_security *sec,
                  const struct tr_broker_config *cfg, int32_t request_max)
{
    if (is_sasl(sec) && (sess == NULL || sess->state != TR_SASL_DONE) &&
        cfg->sasl_server_max_receive_size < request_max) {
        return cfg->sasl_server_max_receive_size;
    }
    return request_max;
}

int
tr_sasl_gate(const struct tr_sasl_session *sess,
             const struct tr_conn_security *sec, int16_t api_key,
             int64_t now_ms)
{
    int sasl_api =
        api_key == TR_API_SASL_HANDSHAKE || api_key == TR_API_SASL_AUTHENTICATE;

    if (!is_sasl(sec)) {
        return 1;
    }
    if (sess == NULL || sess->state == TR_SASL_FAILED) {
        return 0;
    }
    if (sess->state != TR_SASL_DONE) {
        /* Before authentication: only the exchange and ApiVersions. */
        return sasl_api ||
               (api_key == TR_API_API_VERSIONS && sess->state == TR_SASL_START);
    }
    if (sess->expiry_ms > 0 && now_ms >= sess->expiry_ms && !sasl_api) {
        return 0; /* the session's lifetime is over (KIP-368) */
    }
    return 1;
}

int
tr_sasl_expects_raw(const struct tr_sasl_session *sess)
{
    return sess != NULL && sess->state == TR_SASL_RAW;
}

/* Marks the exchange as a success: principal, lifetime, state. */
static tr_err_t
authenticated(struct tr_broker *broker, struct tr_sasl_session *sess,
              struct tr_conn_security *sec, const char *user, int64_t now_ms,
              const char **why)
{
    int64_t reauth = broker->cfg->connections_max_reauth_ms;

    if (sess->prev_user[0] != '\0' && strcmp(sess->prev_user, user) != 0) {
        *why = "Cannot change principals during re-authentication";
        return TR_ERR_INVALID;
    }
    if (strlen(user) >= sizeof(sess->user)) {
        return TR_ERR_INVALID;
    }
    memcpy(sess->user, user, strlen(user) + 1);
    sess->state = TR_SASL_DONE;
    sess->expiry_ms = reauth > 0 ? now_ms + reauth : 0;
    if (sec != NULL) {
        snprintf(sec->principal, sizeof(sec->principal), "User:%s", user);
        sec->authenticated = 1;
    }
    tr_log_info("SASL %s: authenticated User:%s", mech_names[sess->mech],
                TR_LOG_ESC(user));
    return TR_OK;
}

/* PLAIN: one token, checked against the user's SCRAM credential. */
static tr_err_t
step_plain(struct tr_broker *broker, struct tr_sasl_session *sess,
           struct tr_conn_security *sec, const uint8_t *token, size_t len,
           int64_t now_ms, const char **why)
{
    struct tr_scram_plain plain;
    struct tr_scram_cred cred;
    char user[TR_CREDENTIALS_MAX_USER + 1];
    tr_err_t err;

    *why = PLAIN_FAILED;
    err = tr_scram_plain_parse(token, len, &plain);
    if (err != TR_OK || plain.user_len > TR_CREDENTIALS_MAX_USER ||
        memchr(plain.user, '\0', plain.user_len) != NULL) {
        return TR_ERR_INVALID;
    }
    memcpy(user, plain.user, plain.user_len);
    user[plain.user_len] = '\0';
    if (broker->credentials == NULL) {
        return TR_ERR_INVALID;
    }
    err =
        tr_credentials_get(broker->credentials, user, TR_SCRAM_SHA_256, &cred);
    if (err == TR_ERR_NOT_FOUND) {
        err = tr_credentials_get(broker->credentials, user, TR_SCRAM_SHA_512,
                                 &cred);
    }
    if (err == TR_OK) {
        /*
         * One PBKDF2 on the network thread: 4096 iterations are about a
         * millisecond. SCRAM, which needs none, is the mechanism to prefer.
         */
        err = tr_scram_cred_check_password(&cred, plain.password,
                                           plain.password_len);
    }
    memset(&cred, 0, sizeof(cred));
    if (err != TR_OK) {
        tr_log_warn("SASL PLAIN: authentication of %s failed",
                    TR_LOG_ESC(user));
        return TR_ERR_INVALID;
    }
    return authenticated(broker, sess, sec, user, now_ms, why);
}

/* SCRAM: client-first then client-final. */
static tr_err_t
step_scram(struct tr_broker *broker, struct tr_sasl_session *sess,
           struct tr_conn_security *sec, const uint8_t *token, size_t len,
           int64_t now_ms, struct tr_buf *reply, const char **why)
{
    enum tr_scram_mech smech = (enum tr_scram_mech)sess->mech;
    struct tr_scram_cred cred;
    tr_err_t err;

    *why = smech == TR_SCRAM_SHA_512 ? SCRAM_FAILED("SCRAM-SHA-512")
                                     : SCRAM_FAILED("SCRAM-SHA-256");
    if (sess->scram.state == TR_SCRAM_SERVER_FIRST) {
        err = tr_scram_server_client_first(&sess->scram, token, len);
        if (err != TR_OK) {
            if (err == TR_ERR_UNSUPPORTED) {
                *why = "Delegation tokens are not supported";
            }
            tr_log_warn("SASL %s: bad client-first message (%s)",
                        mech_names[sess->mech], tr_err_str(err));
            return TR_ERR_INVALID;
        }
        err = broker->credentials == NULL
                  ? TR_ERR_NOT_FOUND
                  : tr_credentials_get(broker->credentials, sess->scram.user,
                                       smech, &cred);
        if (err != TR_OK) {
            tr_log_warn("SASL %s: no credential for %s", mech_names[sess->mech],
                        TR_LOG_ESC(sess->scram.user));
            return TR_ERR_INVALID;
        }
        err = tr_scram_server_first(&sess->scram, &cred, NULL, reply);
        memset(&cred, 0, sizeof(cred));
        return err == TR_OK ? TR_OK : TR_ERR_INVALID;
    }
    err = tr_scram_server_client_final(&sess->scram, token, len, reply);
    if (err != TR_OK) {
        tr_log_warn("SASL %s: authentication of %s failed (%s)",
                    mech_names[sess->mech], TR_LOG_ESC(sess->scram.user),
                    tr_err_str(err));
        return TR_ERR_INVALID;
    }
    return authenticated(broker, sess, sec, sess->scram.user, now_ms, why);
}

/*
 * Feeds one token to the exchange. TR_OK: 'reply' holds the answer (the
 * exchange may go on). TR_ERR_INVALID: authentication failed, 'why' says
 * what to tell the client; the session is failed for good.
 */
static tr_err_t
step(struct tr_broker *broker, struct tr_sasl_session *sess,
     struct tr_conn_security *sec, const uint8_t *token, size_t len,
     int64_t now_ms, struct tr_buf *reply, const char **why)
{
    tr_err_t err;

    if (sess->mech == TR_SASL_PLAIN) {
        err = step_plain(broker, sess, sec, token, len, now_ms, why);
    } else {
        err = step_scram(broker, sess, sec, token, len, now_ms, reply, why);
    }
    if (err != TR_OK) {
        sess->state = TR_SASL_FAILED;
        if (sec != NULL) {
            sec->authenticated = 0;
        }
        tr_buf_truncate(reply, 0);
    }
    return err;
}

tr_err_t
tr_sasl_raw_token(struct tr_broker *broker, struct tr_sasl_session *sess,
                  struct tr_conn_security *sec, const uint8_t *token,
                  size_t len, int64_t now_ms, struct tr_buf *out)
{
    const char *why = NULL;

    if (sess->state != TR_SASL_RAW) {
        return TR_ERR_INVALID;
    }
    if (step(broker, sess, sec, token, len, now_ms, out, &why) != TR_OK) {
        return TR_ERR_INVALID;
    }
    return tr_buf_err(out);
}

tr_err_t
tr_api_sasl_handshake(struct tr_request *req)
{
    const struct tr_broker_config *cfg = req->broker->cfg;
    struct tr_sasl_session *sess = req->sasl;
    struct tr_str name;
    enum tr_sasl_mech mech;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    err = tr_proto_get_string_v(&req->body, 0, &name);
    if (err != TR_OK || name.len < 0) {
        return err != TR_OK ? err : TR_ERR_CORRUPT;
    }
    mech = mech_parse(name.ptr, (size_t)name.len);
    if (!is_sasl(req->security) || sess == NULL) {
        /* A SASL client on a PLAINTEXT or SSL listener. */
        tr_buf_put_i16(req->out, TR_KERR_ILLEGAL_SASL_STATE);
        put_mechanisms(req->out, cfg, 1);
        return TR_OK;
    }
    if (sess->state == TR_SASL_DONE && cfg->connections_max_reauth_ms > 0) {
        /* Re-authentication: same mechanism, same principal. */
        if (mech != sess->mech) {
            kerr = TR_KERR_ILLEGAL_SASL_STATE;
            sess->state = TR_SASL_FAILED;
            goto respond;
        }
        memcpy(sess->prev_user, sess->user, sizeof(sess->prev_user));
        sess->state = TR_SASL_START;
    }
    if (sess->state != TR_SASL_START) {
        /* Authenticated already, or a second handshake mid-exchange. */
        if (sess->state != TR_SASL_DONE) {
            sess->state = TR_SASL_FAILED;
        }
        tr_buf_put_i16(req->out, TR_KERR_ILLEGAL_SASL_STATE);
        put_mechanisms(req->out, cfg, 1);
        return TR_OK;
    }
    if (mech == TR_SASL_NONE || !mech_enabled(cfg, mech)) {
        kerr = TR_KERR_UNSUPPORTED_SASL_MECHANISM;
        sess->state = TR_SASL_FAILED;
        tr_log_warn("%s: SASL mechanism %s is not enabled", req->peer,
                    tr_log_escape(name.ptr, (size_t)name.len,
                                  (char[TR_LOG_ESCAPE_LEN]){ 0 },
                                  TR_LOG_ESCAPE_LEN));
        goto respond;
    }
    sess->mech = mech;
    tr_scram_server_cleanup(&sess->scram);
    tr_scram_server_init(&sess->scram, (enum tr_scram_mech)mech);
    /* After v0 the tokens come as bare frames; after v1 in SaslAuthenticate. */
    sess->state =
        req->hdr.api_version == 0 ? TR_SASL_RAW : TR_SASL_AUTHENTICATE;
respond:
    tr_buf_put_i16(req->out, kerr);   /* ErrorCode */
    put_mechanisms(req->out, cfg, 0); /* Mechanisms */
    return TR_OK;
}

tr_err_t
tr_api_sasl_authenticate(struct tr_request *req)
{
    struct tr_sasl_session *sess = req->sasl;
    int16_t v = req->hdr.api_version;
    int flex = req->hdr.flexible;
    struct tr_buf reply;
    struct tr_str token;
    const char *why = NULL;
    int16_t kerr = TR_KERR_NONE;
    int64_t lifetime = 0;
    tr_err_t err;

    err = tr_proto_get_bytes_v(&req->body, flex, &token);
    if (err != TR_OK || token.len < 0) {
        return err != TR_OK ? err : TR_ERR_CORRUPT;
    }
    if (flex) {
        err = tr_proto_skip_tags(&req->body);
        if (err != TR_OK) {
            return err;
        }
    }
    tr_buf_init(&reply, TR_SCRAM_MAX_MSG);
    if (!is_sasl(req->security) || sess == NULL ||
        sess->state != TR_SASL_AUTHENTICATE) {
        kerr = TR_KERR_ILLEGAL_SASL_STATE;
        why = "Unexpected SaslAuthenticate request";
        if (sess != NULL && sess->state != TR_SASL_DONE) {
            sess->state = TR_SASL_FAILED;
        }
    } else if (step(req->broker, sess, req->security,
                    (const uint8_t *)token.ptr, (size_t)token.len, req->now_ms,
                    &reply, &why) != TR_OK) {
        kerr = TR_KERR_SASL_AUTHENTICATION_FAILED;
    } else if (sess->state == TR_SASL_DONE && sess->expiry_ms > 0) {
        lifetime = sess->expiry_ms - req->now_ms;
    }
    tr_buf_put_i16(req->out, kerr);              /* ErrorCode */
    tr_proto_put_cstring_v(req->out, flex, why); /* ErrorMessage */
    tr_proto_put_bytes_v(req->out, flex,
                         tr_buf_len(&reply) ? tr_buf_data(&reply) : (void *)"",
                         (int32_t)tr_buf_len(&reply)); /* AuthBytes */
    if (v >= 1) {
        tr_buf_put_i64(req->out, lifetime); /* SessionLifetimeMs */
    }
    tr_proto_put_tags_v(req->out, flex);
    tr_buf_cleanup(&reply);
    return TR_OK;
}

/* ---- DescribeUserScramCredentials, AlterUserScramCredentials ---- */

/* One user's part of a Describe answer. */
static void
put_described(struct tr_request *req, const char *user, int16_t kerr,
              const char *msg, const int32_t iterations[3])
{
    struct tr_buf *out = req->out;
    int m, n = 0;

    tr_proto_put_cstring_v(out, 1, user); /* User */
    tr_buf_put_i16(out, kerr);            /* ErrorCode */
    tr_proto_put_cstring_v(out, 1, msg);  /* ErrorMessage */
    for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512 && iterations; m++) {
        n += iterations[m] > 0;
    }
    tr_proto_put_array_len_v(out, 1, n); /* CredentialInfos */
    for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512 && iterations; m++) {
        if (iterations[m] > 0) {
            tr_buf_put_i8(out, (int8_t)m);      /* Mechanism */
            tr_buf_put_i32(out, iterations[m]); /* Iterations */
            tr_proto_put_tags_v(out, 1);
        }
    }
    tr_proto_put_tags_v(out, 1);
}

tr_err_t
tr_api_describe_user_scram_credentials(struct tr_request *req)
{
    struct tr_credentials *creds = req->broker->credentials;
    struct tr_slice names_at, names_start;
    struct tr_str name, other;
    char user[TR_CREDENTIALS_MAX_USER + 1], msg[512];
    char **all = NULL;
    size_t nall = 0, i;
    int32_t n, j, k, iterations[3];
    tr_err_t err;

    err = tr_proto_get_array_len_v(&req->body, 1, &n, 2, MAX_USERS);
    if (err != TR_OK) {
        return err;
    }
    names_at = req->body;
    names_start = req->body;
    for (j = 0; j < n; j++) {
        if ((err = tr_proto_get_compact_string(&req->body, &name)) != TR_OK ||
            (err = tr_proto_skip_tags(&req->body)) != TR_OK) {
            return err;
        }
    }
    if ((err = tr_proto_skip_tags(&req->body)) != TR_OK) {
        return err;
    }

    tr_request_put_throttle(req);
    if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        tr_buf_put_i16(req->out, TR_KERR_CLUSTER_AUTHORIZATION_FAILED);
        tr_proto_put_cstring_v(req->out, 1, "Cluster authorization failed.");
        tr_proto_put_array_len_v(req->out, 1, 0);
        tr_proto_put_tags_v(req->out, 1);
        return TR_OK;
    }
    if (n <= 0) {
        /* Null or empty: every user with a credential. */
        err = creds == NULL ? TR_OK : tr_credentials_users(creds, &all, &nall);
        tr_buf_put_i16(req->out, err == TR_OK ? TR_KERR_NONE
                                              : TR_KERR_UNKNOWN_SERVER_ERROR);
        tr_proto_put_cstring_v(req->out, 1, NULL);
        tr_proto_put_array_len_v(req->out, 1, (int32_t)nall);
        for (i = 0; i < nall; i++) {
            if (tr_credentials_describe(creds, all[i], iterations) != TR_OK) {
                memset(iterations, 0, sizeof(iterations));
            }
            put_described(req, all[i], TR_KERR_NONE, NULL, iterations);
            tr_free(all[i]);
        }
        tr_free(all);
        tr_proto_put_tags_v(req->out, 1);
        return TR_OK;
    }
    tr_buf_put_i16(req->out, TR_KERR_NONE);    /* ErrorCode */
    tr_proto_put_cstring_v(req->out, 1, NULL); /* ErrorMessage */
    tr_proto_put_array_len_v(req->out, 1, n);  /* Results */
    for (j = 0; j < n; j++) {
        struct tr_slice dup_at = names_start;
        int dup = 0;

        (void)tr_proto_get_compact_string(&names_at, &name);
        (void)tr_proto_skip_tags(&names_at);
        for (k = 0; k < n; k++) {
            (void)tr_proto_get_compact_string(&dup_at, &other);
            (void)tr_proto_skip_tags(&dup_at);
            if (k != j && other.len == name.len &&
                (name.len <= 0 ||
                 memcmp(other.ptr, name.ptr, (size_t)name.len) == 0)) {
                dup = 1;
            }
        }
        if (name.len < 0 || tr_str_copy(&name, user, sizeof(user)) != TR_OK) {
            user[0] = '\0';
        }
        if (dup) {
            snprintf(msg, sizeof(msg),
                     "Cannot describe SCRAM credentials for the same user "
                     "twice in a single request: %s",
                     user);
            put_described(req, user, TR_KERR_DUPLICATE_RESOURCE, msg, NULL);
        } else if (user[0] == '\0' || creds == NULL ||
                   tr_credentials_describe(creds, user, iterations) != TR_OK) {
            snprintf(msg, sizeof(msg),
                     "Attempt to describe a user credential that does not "
                     "exist: %s",
                     user);
            put_described(req, user, TR_KERR_RESOURCE_NOT_FOUND, msg, NULL);
        } else {
            put_described(req, user, TR_KERR_NONE, NULL, iterations);
        }
    }
    tr_proto_put_tags_v(req->out, 1);
    return TR_OK;
}

/* One deletion or upsertion of an AlterUserScramCredentials request. */
struct alteration {
    char user[TR_CREDENTIALS_MAX_USER + 1];
    int bad_name;
    int8_t mech;
    int upsert;
    int32_t iterations;
    struct tr_str salt, salted;
    int16_t kerr;
    const char *msg;
};

/* Appends one array of the request to '*alts' (grown to fit). */
static tr_err_t
read_alterations(struct tr_slice *s, int upsert, struct alteration **alts,
                 size_t *cap, int32_t *count)
{
    struct tr_str name;
    int32_t n, i;
    tr_err_t err;

    err = tr_proto_get_array_len_v(s, 1, &n, upsert ? 8 : 3, MAX_USERS);
    if (err != TR_OK) {
        return err;
    }
    if (n > 0) {
        err = tr_array_reserve(alts, cap, (size_t)(*count + n), sizeof(**alts));
        if (err != TR_OK) {
            return err;
        }
    }
    for (i = 0; i < n; i++) {
        struct alteration *a = &(*alts)[*count + i];
        memset(a, 0, sizeof(*a));
        a->upsert = upsert;
        if ((err = tr_proto_get_compact_string(s, &name)) != TR_OK ||
            (err = tr_slice_get_i8(s, &a->mech)) != TR_OK) {
            return err;
        }
        if (upsert &&
            ((err = tr_slice_get_i32(s, &a->iterations)) != TR_OK ||
             (err = tr_proto_get_compact_bytes(s, &a->salt)) != TR_OK ||
             (err = tr_proto_get_compact_bytes(s, &a->salted)) != TR_OK)) {
            return err;
        }
        if ((err = tr_proto_skip_tags(s)) != TR_OK) {
            return err;
        }
        if (name.len <= 0 ||
            tr_str_copy(&name, a->user, sizeof(a->user)) != TR_OK) {
            a->bad_name = 1;
            a->user[0] = '\0';
        }
    }
    *count += n > 0 ? n : 0;
    return TR_OK;
}

/* Kafka's checks, in Kafka's order (ZkAdminManager). */
static void
check_alteration(struct alteration *alts, int32_t n, int32_t i)
{
    struct alteration *a = &alts[i];
    int32_t j;

    if (a->bad_name) {
        a->kerr = TR_KERR_UNACCEPTABLE_CREDENTIAL;
        a->msg = "Username must not be empty";
        return;
    }
    if (a->mech != TR_SCRAM_SHA_256 && a->mech != TR_SCRAM_SHA_512) {
        a->kerr = TR_KERR_UNSUPPORTED_SASL_MECHANISM;
        a->msg = "Unknown SCRAM mechanism";
        return;
    }
    for (j = 0; j < n; j++) {
        if (j != i && alts[j].mech == a->mech &&
            strcmp(alts[j].user, a->user) == 0) {
            a->kerr = TR_KERR_DUPLICATE_RESOURCE;
            a->msg = "A user credential cannot be altered twice in the same "
                     "request";
            return;
        }
    }
    if (a->upsert && a->iterations < TR_SCRAM_MIN_ITERATIONS) {
        a->kerr = TR_KERR_UNACCEPTABLE_CREDENTIAL;
        a->msg = "Too few iterations";
    } else if (a->upsert && a->iterations > TR_SCRAM_MAX_ITERATIONS) {
        a->kerr = TR_KERR_UNACCEPTABLE_CREDENTIAL;
        a->msg = "Too many iterations";
    } else if (a->upsert &&
               (a->salt.len <= 0 || a->salt.len > TR_SCRAM_MAX_SALT ||
                a->salted.len !=
                    (int32_t)tr_scram_key_len((enum tr_scram_mech)a->mech))) {
        a->kerr = TR_KERR_UNACCEPTABLE_CREDENTIAL;
        a->msg = "Salt and salted password do not fit the mechanism";
    }
}

tr_err_t
tr_api_alter_user_scram_credentials(struct tr_request *req)
{
    struct tr_credentials *creds = req->broker->credentials;
    struct alteration *alts = NULL;
    size_t cap = 0;
    int32_t n = 0, i, j, nusers = 0;
    int allowed;
    tr_err_t err;

    if ((err = read_alterations(&req->body, 0, &alts, &cap, &n)) != TR_OK ||
        (err = read_alterations(&req->body, 1, &alts, &cap, &n)) != TR_OK ||
        (err = tr_proto_skip_tags(&req->body)) != TR_OK) {
        goto out;
    }
    allowed = tr_api_authorize(req, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                               TR_ACL_CLUSTER_NAME);
    for (i = 0; i < n; i++) {
        if (!allowed) {
            alts[i].kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
            alts[i].msg = "Cluster authorization failed.";
            continue;
        }
        check_alteration(alts, n, i);
        if (alts[i].kerr == TR_KERR_NONE && creds == NULL) {
            alts[i].kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    /* A user with any bad alteration gets none applied. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            if (alts[j].kerr != TR_KERR_NONE && alts[i].kerr == TR_KERR_NONE &&
                strcmp(alts[i].user, alts[j].user) == 0) {
                alts[i].kerr = alts[j].kerr;
                alts[i].msg = alts[j].msg;
            }
        }
    }
    for (i = 0; i < n; i++) {
        struct alteration *a = &alts[i];
        struct tr_scram_cred cred;

        if (a->kerr != TR_KERR_NONE) {
            continue;
        }
        if (!a->upsert) {
            err = tr_credentials_delete(creds, a->user,
                                        (enum tr_scram_mech)a->mech);
            if (err == TR_ERR_NOT_FOUND) {
                a->kerr = TR_KERR_RESOURCE_NOT_FOUND;
                a->msg = "Attempt to delete a user credential that does not "
                         "exist";
                continue;
            }
        } else {
            err = tr_scram_cred_from_salted(&cred, (enum tr_scram_mech)a->mech,
                                            (const uint8_t *)a->salt.ptr,
                                            (size_t)a->salt.len, a->iterations,
                                            (const uint8_t *)a->salted.ptr,
                                            (size_t)a->salted.len);
            if (err == TR_OK) {
                err = tr_credentials_set(creds, a->user, &cred);
            }
            memset(&cred, 0, sizeof(cred));
        }
        if (err != TR_OK) {
            a->kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
            a->msg = tr_err_str(err);
            tr_log_error("AlterUserScramCredentials: %s: %s",
                         TR_LOG_ESC(a->user), tr_err_str(err));
        } else {
            tr_log_info("SCRAM credential %s of %s %s",
                        tr_scram_mech_name((enum tr_scram_mech)a->mech),
                        TR_LOG_ESC(a->user), a->upsert ? "set" : "deleted");
        }
    }

    /* One result per user, in the order they first appear. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < i && strcmp(alts[j].user, alts[i].user) != 0; j++) {
        }
        nusers += j == i;
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(req->out, 1, nusers); /* Results */
    for (i = 0; i < n; i++) {
        const struct alteration *first = NULL;

        for (j = 0; j < i && strcmp(alts[j].user, alts[i].user) != 0; j++) {
        }
        if (j != i) {
            continue;
        }
        for (j = i; j < n; j++) {
            if (strcmp(alts[j].user, alts[i].user) == 0 &&
                alts[j].kerr != TR_KERR_NONE && first == NULL) {
                first = &alts[j];
            }
        }
        tr_proto_put_cstring_v(req->out, 1, alts[i].user); /* User */
        tr_buf_put_i16(req->out, first ? first->kerr : TR_KERR_NONE);
        tr_proto_put_cstring_v(req->out, 1, first ? first->msg : NULL);
        tr_proto_put_tags_v(req->out, 1);
    }
    tr_proto_put_tags_v(req->out, 1);
    err = TR_OK;
out:
    tr_free(alts);
    return err;
}
