/*
 * test_clientsasl -- the client's SASL exchange on Kafka message bodies,
 * against the server's side of scram.c: SCRAM-SHA-256 and -512 and PLAIN
 * to the end (SaslAuthenticate v0 and v1), and the refusals a user must
 * understand: a wrong password (the broker's message passed on), a
 * mechanism the broker does not enable (its list passed on), a listener
 * without SASL, a forged server signature, a truncated answer, a request
 * out of turn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clientsasl.h"
#include "clientsec.h"
#include "err.h"
#include "proto.h"
#include "scram.h"

static struct tr_clientsec *
settings(const char *mech, const char *user, const char *password)
{
    struct tr_clientsec *sec;
    char errbuf[256];

    assert_int_equal(tr_clientsec_new(&sec), TR_OK);
    assert_int_equal(tr_clientsec_set(sec, "security.protocol",
                                      "SASL_PLAINTEXT", errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(
        tr_clientsec_set(sec, "sasl.mechanism", mech, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(
        tr_clientsec_set(sec, "sasl.username", user, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(tr_clientsec_set(sec, "sasl.password", password, errbuf,
                                      sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, NULL, NULL, errbuf, sizeof(errbuf)), TR_OK);
    return sec;
}

/* Takes the next request; checks its API and returns its payload. */
static void
next_request(struct tr_clientsasl *sasl, int16_t auth_version, int16_t want_key,
             struct tr_buf *payload)
{
    struct tr_buf body;
    struct tr_slice s;
    struct tr_str str;
    int16_t key, version;

    tr_buf_init(&body, 1 << 16);
    assert_int_equal(
        tr_clientsasl_request(sasl, auth_version, &key, &version, &body),
        TR_OK);
    assert_int_equal(key, want_key);
    tr_slice_init(&s, tr_buf_data(&body), tr_buf_len(&body));
    if (key == TR_API_SASL_HANDSHAKE) {
        assert_int_equal(version, 1);
        assert_int_equal(tr_proto_get_string(&s, &str), TR_OK); /* Mechanism */
    } else {
        assert_int_equal(version, auth_version);
        assert_int_equal(tr_proto_get_bytes(&s, &str), TR_OK); /* AuthBytes */
    }
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_reset(payload);
    tr_buf_put_bytes(payload, str.ptr, (size_t)str.len);
    tr_buf_cleanup(&body);
}

/* A SaslHandshake response body. */
static void
handshake_body(struct tr_buf *b, int16_t kerr, const char *const *mechs, int n)
{
    int i;

    tr_buf_reset(b);
    tr_buf_put_i16(b, kerr);           /* ErrorCode */
    tr_proto_put_array_len_v(b, 0, n); /* Mechanisms */
    for (i = 0; i < n; i++) {
        tr_proto_put_cstring_v(b, 0, mechs[i]);
    }
}

/* A SaslAuthenticate response body. */
static void
authenticate_body(struct tr_buf *b, int16_t version, int16_t kerr,
                  const char *msg, const void *bytes, size_t len)
{
    tr_buf_reset(b);
    tr_buf_put_i16(b, kerr);                         /* ErrorCode */
    tr_proto_put_cstring_v(b, 0, msg);               /* ErrorMessage */
    tr_proto_put_bytes_v(b, 0, bytes, (int32_t)len); /* AuthBytes */
    if (version >= 1) {
        tr_buf_put_i64(b, 0); /* SessionLifetimeMs */
    }
}

static tr_err_t
answer(struct tr_clientsasl *sasl, int16_t version, const struct tr_buf *b,
       char *errbuf, size_t errlen)
{
    struct tr_slice s;

    tr_slice_init(&s, tr_buf_data(b), tr_buf_len(b));
    return tr_clientsasl_response(sasl, version, &s, errbuf, errlen);
}

/* Runs the handshake step with the broker enabling every mechanism. */
static void
handshake_ok(struct tr_clientsasl *sasl, const char *mech)
{
    static const char *const all[] = { "SCRAM-SHA-256", "SCRAM-SHA-512",
                                       "PLAIN" };
    struct tr_buf payload, resp;
    char errbuf[256];

    tr_buf_init(&payload, 1 << 16);
    tr_buf_init(&resp, 1 << 16);
    next_request(sasl, 1, TR_API_SASL_HANDSHAKE, &payload);
    assert_int_equal(tr_buf_len(&payload), strlen(mech));
    assert_memory_equal(tr_buf_data(&payload), mech, strlen(mech));
    handshake_body(&resp, 0, all, 3);
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)), TR_OK);
    assert_false(tr_clientsasl_done(sasl));
    tr_buf_cleanup(&payload);
    tr_buf_cleanup(&resp);
}

/*
 * A whole SCRAM exchange against scram.c's server, which holds the
 * credential for 'stored_password'. 'forge' replaces the server's
 * signature. Returns the client's verdict on the last answer.
 */
static tr_err_t
scram_exchange(const char *mech, enum tr_scram_mech smech, const char *password,
               const char *stored_password, int16_t version, int forge,
               char *errbuf, size_t errlen)
{
    struct tr_clientsec *sec = settings(mech, "alice", password);
    struct tr_clientsasl *sasl;
    struct tr_scram_server srv;
    struct tr_scram_cred cred;
    struct tr_buf payload, out, resp;
    tr_err_t err;

    assert_int_equal(tr_scram_cred_make(&cred, smech, stored_password,
                                        strlen(stored_password), 4096, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    tr_clientsec_free(sec); /* the exchange keeps its own copies */
    tr_scram_server_init(&srv, smech);
    tr_buf_init(&payload, 1 << 16);
    tr_buf_init(&out, 1 << 16);
    tr_buf_init(&resp, 1 << 16);
    handshake_ok(sasl, mech);

    /* client-first -> server-first */
    next_request(sasl, version, TR_API_SASL_AUTHENTICATE, &payload);
    assert_int_equal(tr_scram_server_client_first(&srv, tr_buf_data(&payload),
                                                  tr_buf_len(&payload)),
                     TR_OK);
    assert_string_equal(srv.user, "alice");
    assert_int_equal(tr_scram_server_first(&srv, &cred, NULL, &out), TR_OK);
    authenticate_body(&resp, version, 0, NULL, tr_buf_data(&out),
                      tr_buf_len(&out));
    assert_int_equal(answer(sasl, version, &resp, errbuf, errlen), TR_OK);
    assert_false(tr_clientsasl_done(sasl));

    /* client-final -> server-final, or Kafka's refusal */
    next_request(sasl, version, TR_API_SASL_AUTHENTICATE, &payload);
    tr_buf_reset(&out);
    err = tr_scram_server_client_final(&srv, tr_buf_data(&payload),
                                       tr_buf_len(&payload), &out);
    if (err != TR_OK) {
        authenticate_body(&resp, version, TR_KERR_SASL_AUTHENTICATION_FAILED,
                          "Authentication failed during authentication due "
                          "to invalid credentials with SASL mechanism "
                          "SCRAM-SHA-256",
                          "", 0);
    } else if (forge) {
        static const char fake[] =
            "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        authenticate_body(&resp, version, 0, NULL, fake, sizeof(fake) - 1);
    } else {
        authenticate_body(&resp, version, 0, NULL, tr_buf_data(&out),
                          tr_buf_len(&out));
    }
    err = answer(sasl, version, &resp, errbuf, errlen);
    if (err == TR_OK) {
        int16_t key, v;

        assert_true(tr_clientsasl_done(sasl));
        /* Nothing more to send once done. */
        assert_int_equal(tr_clientsasl_request(sasl, version, &key, &v, &out),
                         TR_ERR_INVALID);
    } else {
        assert_false(tr_clientsasl_done(sasl));
    }
    tr_clientsasl_free(sasl);
    tr_scram_server_cleanup(&srv);
    tr_buf_cleanup(&payload);
    tr_buf_cleanup(&out);
    tr_buf_cleanup(&resp);
    return err;
}

static void
test_clientsasl_scram_ok(void **state)
{
    char errbuf[256];

    (void)state;
    assert_int_equal(scram_exchange("SCRAM-SHA-256", TR_SCRAM_SHA_256, "pw1",
                                    "pw1", 0, 0, errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(scram_exchange("SCRAM-SHA-512", TR_SCRAM_SHA_512, "pw2",
                                    "pw2", 1, 0, errbuf, sizeof(errbuf)),
                     TR_OK);
}

static void
test_clientsasl_scram_wrong_password(void **state)
{
    char errbuf[256];

    (void)state;
    assert_int_equal(scram_exchange("SCRAM-SHA-256", TR_SCRAM_SHA_256, "bad",
                                    "good", 1, 0, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_string_equal(errbuf,
                        "SASL authentication failed: Authentication failed "
                        "during authentication due to invalid credentials "
                        "with SASL mechanism SCRAM-SHA-256");
}

static void
test_clientsasl_scram_forged_signature(void **state)
{
    char errbuf[256];

    (void)state;
    assert_int_equal(scram_exchange("SCRAM-SHA-512", TR_SCRAM_SHA_512, "pw",
                                    "pw", 0, 1, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_non_null(strstr(errbuf, "signature is wrong"));
}

static void
test_clientsasl_plain(void **state)
{
    struct tr_clientsec *sec = settings("PLAIN", "bob", "bob-secret");
    struct tr_clientsasl *sasl;
    struct tr_scram_plain plain;
    struct tr_buf payload, resp;
    char errbuf[256];

    (void)state;
    tr_buf_init(&payload, 1 << 16);
    tr_buf_init(&resp, 1 << 16);
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    handshake_ok(sasl, "PLAIN");
    next_request(sasl, 0, TR_API_SASL_AUTHENTICATE, &payload);
    assert_int_equal(tr_scram_plain_parse(tr_buf_data(&payload),
                                          tr_buf_len(&payload), &plain),
                     TR_OK);
    assert_int_equal(plain.authzid_len, 0);
    assert_int_equal(plain.user_len, 3);
    assert_memory_equal(plain.user, "bob", 3);
    assert_memory_equal(plain.password, "bob-secret", 10);
    authenticate_body(&resp, 0, 0, NULL, "", 0);
    assert_int_equal(answer(sasl, 0, &resp, errbuf, sizeof(errbuf)), TR_OK);
    assert_true(tr_clientsasl_done(sasl));
    tr_clientsasl_free(sasl);

    /* The broker's refusal. */
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    handshake_ok(sasl, "PLAIN");
    next_request(sasl, 1, TR_API_SASL_AUTHENTICATE, &payload);
    authenticate_body(&resp, 1, TR_KERR_SASL_AUTHENTICATION_FAILED,
                      "Authentication failed: Invalid username or password", "",
                      0);
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_string_equal(errbuf, "SASL authentication failed: Authentication "
                                "failed: Invalid username or password");
    tr_clientsasl_free(sasl);
    tr_clientsec_free(sec);
    tr_buf_cleanup(&payload);
    tr_buf_cleanup(&resp);
}

static void
test_clientsasl_handshake_refusals(void **state)
{
    static const char *const plain_only[] = { "PLAIN" };
    struct tr_clientsec *sec = settings("SCRAM-SHA-512", "alice", "pw");
    struct tr_clientsasl *sasl;
    struct tr_buf payload, resp;
    char errbuf[256];

    (void)state;
    tr_buf_init(&payload, 1 << 16);
    tr_buf_init(&resp, 1 << 16);

    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    next_request(sasl, 1, TR_API_SASL_HANDSHAKE, &payload);
    handshake_body(&resp, TR_KERR_UNSUPPORTED_SASL_MECHANISM, plain_only, 1);
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_string_equal(errbuf, "SASL mechanism SCRAM-SHA-512 is not enabled "
                                "on the broker (it offers: PLAIN)");
    tr_clientsasl_free(sasl);

    /* A listener without SASL answers ILLEGAL_SASL_STATE. */
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    next_request(sasl, 1, TR_API_SASL_HANDSHAKE, &payload);
    handshake_body(&resp, TR_KERR_ILLEGAL_SASL_STATE, NULL, 0);
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_non_null(strstr(errbuf, "security.protocol"));
    tr_clientsasl_free(sasl);

    /* Every strict prefix of a good answer is malformed, never a crash. */
    handshake_body(&resp, 0, plain_only, 1);
    for (size_t cut = 0; cut < tr_buf_len(&resp); cut++) {
        struct tr_slice s;

        assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
        next_request(sasl, 1, TR_API_SASL_HANDSHAKE, &payload);
        tr_slice_init(&s, tr_buf_data(&resp), cut);
        assert_int_equal(
            tr_clientsasl_response(sasl, 1, &s, errbuf, sizeof(errbuf)),
            TR_ERR_CORRUPT);
        assert_non_null(strstr(errbuf, "malformed SaslHandshake"));
        tr_clientsasl_free(sasl);
    }

    /* An answer with no request out. */
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)),
                     TR_ERR_INVALID);
    tr_clientsasl_free(sasl);
    tr_clientsasl_free(NULL);

    tr_clientsec_free(sec);
    tr_buf_cleanup(&payload);
    tr_buf_cleanup(&resp);
}

/*
 * fuzz_clientsasl: a null AuthBytes (length -1) in the answer to
 * client-first reached SCRAM's parser as a NULL pointer (undefined
 * behaviour); it reads as an empty, unacceptable server-first.
 */
static void
test_clientsasl_fuzz_null_authbytes_reads_as_empty(void **state)
{
    struct tr_clientsec *sec = settings("SCRAM-SHA-256", "alice", "pw");
    struct tr_clientsasl *sasl;
    struct tr_buf payload, resp;
    char errbuf[256];

    (void)state;
    tr_buf_init(&payload, 1 << 16);
    tr_buf_init(&resp, 1 << 16);
    assert_int_equal(tr_clientsasl_new(sec, &sasl), TR_OK);
    handshake_ok(sasl, "SCRAM-SHA-256");
    next_request(sasl, 1, TR_API_SASL_AUTHENTICATE, &payload);
    tr_buf_put_i16(&resp, 0);                 /* ErrorCode */
    tr_proto_put_cstring_v(&resp, 0, NULL);   /* ErrorMessage */
    tr_proto_put_bytes_v(&resp, 0, NULL, -1); /* AuthBytes: null */
    tr_buf_put_i64(&resp, 0);                 /* SessionLifetimeMs */
    assert_int_equal(answer(sasl, 1, &resp, errbuf, sizeof(errbuf)),
                     TR_ERR_AUTH);
    assert_non_null(strstr(errbuf, "server-first message is not acceptable"));
    tr_clientsasl_free(sasl);
    tr_clientsec_free(sec);
    tr_buf_cleanup(&payload);
    tr_buf_cleanup(&resp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clientsasl_scram_ok),
        cmocka_unit_test(test_clientsasl_scram_wrong_password),
        cmocka_unit_test(test_clientsasl_scram_forged_signature),
        cmocka_unit_test(test_clientsasl_plain),
        cmocka_unit_test(test_clientsasl_handshake_refusals),
        cmocka_unit_test(test_clientsasl_fuzz_null_authbytes_reads_as_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
