/*
 * test_scram -- SCRAM-SHA-256/512 and PLAIN: RFC 7677's SCRAM-SHA-256
 * exchange byte for byte from both sides, a client and a server talking to
 * each other for both mechanisms, librdkafka's doubled nonce, Kafka's
 * textual credential round-tripped, base64 edge cases, and the refusals:
 * wrong proofs and passwords, a tampered nonce or channel binding, every
 * strict prefix of each message, saslname escapes, malformed PLAIN messages.
 * Every message is copied into an exactly-sized heap buffer so a sanitizer
 * build catches a read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "scram.h"

/* RFC 7677 section 3. */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_CNONCE       "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE       "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                       \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                    \
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                                                       \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"             \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
/* The RFC prints v=6rriTRBi23WpRR/wcOxJLZtaTdl2YxtUgnPc2Ho4E0U=, which does
 * not follow from its own inputs: HMAC(ServerKey, AuthMessage) is this
 * (Python's hashlib and hmac agree). */
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* An owned copy of 's' without its NUL. */
static uint8_t *
dup_exact(const char *s, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static void
rfc_cred(struct tr_scram_cred *cred)
{
    uint8_t salt[32];
    size_t salt_len;

    assert_int_equal(tr_scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt,
                                         sizeof(salt), &salt_len),
                     TR_OK);
    assert_int_equal(tr_scram_cred_make(cred, TR_SCRAM_SHA_256, "pencil", 6,
                                        4096, salt, salt_len),
                     TR_OK);
}

/* Feeds 'msg' to the server's client-first parser from a fresh state. */
static tr_err_t
server_first_msg(struct tr_scram_server *srv, const char *msg)
{
    size_t len = strlen(msg);
    uint8_t *m = dup_exact(msg, len);
    tr_err_t err;

    tr_scram_server_init(srv, TR_SCRAM_SHA_256);
    err = tr_scram_server_client_first(srv, m, len);
    free(m);
    return err;
}

static void
test_rfc7677_server(void **state)
{
    struct tr_scram_server srv;
    struct tr_scram_cred cred;
    struct tr_buf out;

    (void)state;
    rfc_cred(&cred);
    tr_buf_init(&out, 4096);
    assert_int_equal(server_first_msg(&srv, RFC_CLIENT_FIRST), TR_OK);
    assert_string_equal(srv.user, "user");
    assert_int_equal(tr_scram_server_first(&srv, &cred, RFC_SNONCE, &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), strlen(RFC_SERVER_FIRST));
    assert_memory_equal(tr_buf_data(&out), RFC_SERVER_FIRST,
                        strlen(RFC_SERVER_FIRST));
    tr_buf_reset(&out);
    assert_int_equal(
        tr_scram_server_client_final(&srv, (const uint8_t *)RFC_CLIENT_FINAL,
                                     strlen(RFC_CLIENT_FINAL), &out),
        TR_OK);
    assert_int_equal(srv.state, TR_SCRAM_SERVER_DONE);
    assert_int_equal(tr_buf_len(&out), strlen(RFC_SERVER_FINAL));
    assert_memory_equal(tr_buf_data(&out), RFC_SERVER_FINAL,
                        strlen(RFC_SERVER_FINAL));
    tr_scram_server_cleanup(&srv);
    tr_buf_cleanup(&out);
}

static void
test_rfc7677_client(void **state)
{
    struct tr_scram_client cli;
    struct tr_buf out;

    (void)state;
    tr_buf_init(&out, 4096);
    assert_int_equal(
        tr_scram_client_init(&cli, TR_SCRAM_SHA_256, "user", "pencil"), TR_OK);
    assert_int_equal(tr_scram_client_first(&cli, RFC_CNONCE, &out), TR_OK);
    assert_int_equal(tr_buf_len(&out), strlen(RFC_CLIENT_FIRST));
    assert_memory_equal(tr_buf_data(&out), RFC_CLIENT_FIRST,
                        strlen(RFC_CLIENT_FIRST));
    tr_buf_reset(&out);
    assert_int_equal(tr_scram_client_final(&cli,
                                           (const uint8_t *)RFC_SERVER_FIRST,
                                           strlen(RFC_SERVER_FIRST), &out),
                     TR_OK);
    assert_int_equal(tr_buf_len(&out), strlen(RFC_CLIENT_FINAL));
    assert_memory_equal(tr_buf_data(&out), RFC_CLIENT_FINAL,
                        strlen(RFC_CLIENT_FINAL));
    assert_int_equal(tr_scram_client_verify(&cli,
                                            (const uint8_t *)RFC_SERVER_FINAL,
                                            strlen(RFC_SERVER_FINAL)),
                     TR_OK);
    tr_scram_client_cleanup(&cli);

    /* A server signature one character off is refused. */
    assert_int_equal(
        tr_scram_client_init(&cli, TR_SCRAM_SHA_256, "user", "pencil"), TR_OK);
    tr_buf_reset(&out);
    assert_int_equal(tr_scram_client_first(&cli, RFC_CNONCE, &out), TR_OK);
    tr_buf_reset(&out);
    assert_int_equal(tr_scram_client_final(&cli,
                                           (const uint8_t *)RFC_SERVER_FIRST,
                                           strlen(RFC_SERVER_FIRST), &out),
                     TR_OK);
    assert_int_equal(
        tr_scram_client_verify(
            &cli,
            (const uint8_t *)"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            strlen(RFC_SERVER_FINAL)),
        TR_ERR_INVALID);
    tr_scram_client_cleanup(&cli);
    tr_buf_cleanup(&out);
}

/*
 * Runs a whole exchange between our client and server. 'mangle' may edit
 * client-final before the server sees it. Returns the server's verdict.
 */
static tr_err_t
exchange(enum tr_scram_mech mech, const char *user, const char *password,
         const char *stored_password, void (*mangle)(struct tr_buf *final))
{
    struct tr_scram_client cli;
    struct tr_scram_server srv;
    struct tr_scram_cred cred;
    struct tr_buf c1, s1, c2, s2;
    uint8_t *m;
    tr_err_t err;

    tr_buf_init(&c1, 4096);
    tr_buf_init(&s1, 4096);
    tr_buf_init(&c2, 4096);
    tr_buf_init(&s2, 4096);
    assert_int_equal(tr_scram_cred_make(&cred, mech, stored_password,
                                        strlen(stored_password), 4096, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_scram_client_init(&cli, mech, user, password), TR_OK);
    assert_int_equal(tr_scram_client_first(&cli, NULL, &c1), TR_OK);
    tr_scram_server_init(&srv, mech);
    m = dup_exact((const char *)tr_buf_data(&c1), tr_buf_len(&c1));
    assert_int_equal(tr_scram_server_client_first(&srv, m, tr_buf_len(&c1)),
                     TR_OK);
    free(m);
    assert_string_equal(srv.user, user);
    assert_int_equal(tr_scram_server_first(&srv, &cred, NULL, &s1), TR_OK);
    assert_int_equal(
        tr_scram_client_final(&cli, tr_buf_data(&s1), tr_buf_len(&s1), &c2),
        TR_OK);
    if (mangle != NULL) {
        mangle(&c2);
    }
    m = dup_exact((const char *)tr_buf_data(&c2), tr_buf_len(&c2));
    err = tr_scram_server_client_final(&srv, m, tr_buf_len(&c2), &s2);
    free(m);
    if (err == TR_OK) {
        assert_int_equal(
            tr_scram_client_verify(&cli, tr_buf_data(&s2), tr_buf_len(&s2)),
            TR_OK);
    } else {
        assert_int_equal(srv.state, TR_SCRAM_SERVER_FAILED);
        /* A failed exchange stays failed. */
        assert_int_not_equal(tr_scram_server_client_final(
                                 &srv, tr_buf_data(&c2), tr_buf_len(&c2), &s2),
                             TR_OK);
    }
    tr_scram_client_cleanup(&cli);
    tr_scram_server_cleanup(&srv);
    tr_buf_cleanup(&c1);
    tr_buf_cleanup(&s1);
    tr_buf_cleanup(&c2);
    tr_buf_cleanup(&s2);
    return err;
}

/* Flips one character of the proof. */
static void
flip_proof(struct tr_buf *final)
{
    uint8_t *p = tr_buf_data(final) + tr_buf_len(final) - 5;

    *p = *p == 'A' ? 'B' : 'A';
}

/* Changes the server's part of the nonce. */
static void
flip_nonce(struct tr_buf *final)
{
    uint8_t *p = tr_buf_data(final) + 9 + 30;

    *p = *p == 'A' ? 'B' : 'A';
}

/* Claims channel binding that client-first did not ask for. */
static void
other_binding(struct tr_buf *final)
{
    memcpy(tr_buf_data(final), "c=eSws", 6);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    assert_int_equal(exchange(TR_SCRAM_SHA_256, "alice", "alice-secret",
                              "alice-secret", NULL),
                     TR_OK);
    assert_int_equal(exchange(TR_SCRAM_SHA_512, "alice", "alice-secret",
                              "alice-secret", NULL),
                     TR_OK);
    /* Escaped names: "a,b=c" travels as "a=2Cb=3Dc". */
    assert_int_equal(exchange(TR_SCRAM_SHA_256, "a,b=c", "pw", "pw", NULL),
                     TR_OK);
}

static void
test_refusals(void **state)
{
    (void)state;
    assert_int_equal(
        exchange(TR_SCRAM_SHA_256, "alice", "wrong", "alice-secret", NULL),
        TR_ERR_INVALID);
    assert_int_equal(
        exchange(TR_SCRAM_SHA_512, "alice", "wrong", "alice-secret", NULL),
        TR_ERR_INVALID);
    assert_int_equal(
        exchange(TR_SCRAM_SHA_256, "alice", "pw", "pw", flip_proof),
        TR_ERR_INVALID);
    assert_int_equal(
        exchange(TR_SCRAM_SHA_256, "alice", "pw", "pw", flip_nonce),
        TR_ERR_INVALID);
    assert_int_equal(
        exchange(TR_SCRAM_SHA_256, "alice", "pw", "pw", other_binding),
        TR_ERR_INVALID);
}

/*
 * librdkafka before 2.6.1 sends r=<cnonce><cnonce><snonce> in client-final
 * (and signs what it sends): accepted. A nonce that only ends with the
 * server's, without the client nonce in front, is not.
 */
static tr_err_t
final_with_nonce(const char *nonce)
{
    struct tr_scram_server srv;
    struct tr_scram_cred cred;
    struct tr_buf out;
    uint8_t salt[32], salted[32], client_key[32], stored[32], sig[32];
    char bare[512], auth[1024], final[1024], proof[64];
    size_t salt_len, i;
    unsigned int n;
    tr_err_t err;

    rfc_cred(&cred);
    assert_int_equal(tr_scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt,
                                         sizeof(salt), &salt_len),
                     TR_OK);
    assert_int_equal(tr_scram_salted_password(TR_SCRAM_SHA_256, "pencil", 6,
                                              salt, salt_len, 4096, salted),
                     TR_OK);
    HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10,
         client_key, &n);
    EVP_Digest(client_key, 32, stored, NULL, EVP_sha256(), NULL);
    snprintf(bare, sizeof(bare), "c=biws,r=%s", nonce);
    snprintf(auth, sizeof(auth), "%s,%s,%s", RFC_CLIENT_FIRST + 3,
             RFC_SERVER_FIRST, bare);
    HMAC(EVP_sha256(), stored, 32, (const uint8_t *)auth, strlen(auth), sig,
         &n);
    for (i = 0; i < 32; i++) {
        client_key[i] ^= sig[i];
    }
    tr_scram_b64_encode(client_key, 32, proof, sizeof(proof));
    snprintf(final, sizeof(final), "%s,p=%s", bare, proof);

    tr_buf_init(&out, 4096);
    assert_int_equal(server_first_msg(&srv, RFC_CLIENT_FIRST), TR_OK);
    assert_int_equal(tr_scram_server_first(&srv, &cred, RFC_SNONCE, &out),
                     TR_OK);
    tr_buf_reset(&out);
    err = tr_scram_server_client_final(&srv, (const uint8_t *) final,
                                       strlen(final), &out);
    tr_scram_server_cleanup(&srv);
    tr_buf_cleanup(&out);
    return err;
}

static void
test_librdkafka_nonce(void **state)
{
    (void)state;
    assert_int_equal(final_with_nonce(RFC_CNONCE RFC_CNONCE RFC_SNONCE), TR_OK);
    assert_int_equal(final_with_nonce(RFC_CNONCE RFC_SNONCE), TR_OK);
    assert_int_equal(final_with_nonce("xyz" RFC_CNONCE RFC_SNONCE),
                     TR_ERR_INVALID);
    assert_int_equal(final_with_nonce(RFC_CNONCE), TR_ERR_INVALID);
    assert_int_equal(final_with_nonce(RFC_CNONCE RFC_SNONCE "x"),
                     TR_ERR_INVALID);
}

static void
test_client_first_parse(void **state)
{
    struct tr_scram_server srv;
    static const char *const bad[] = {
        "",
        "n",
        "n,",
        "n,,",
        "x,,n=user,r=abc",
        "n,,n=,r=abc",
        "n,,n=user,r=",
        "n,,n=user",
        "n,,r=abc,n=user",
        "n,,n=us=er,r=abc",
        "n,,n=us=2,r=abc",
        "n,,n=us=4D,r=abc",
        "n,,n=user,r=abc,",
        "n,,n=user,r=ab c",
        "n,,n=user,r=abc,junk",
        "n,a,n=user,r=abc",
    };
    size_t i;

    (void)state;
    assert_int_equal(server_first_msg(&srv, "n,,n=a=2Cb=3Dc,r=x,ext=1"), TR_OK);
    assert_string_equal(srv.user, "a,b=c");
    tr_scram_server_cleanup(&srv);
    assert_int_equal(server_first_msg(&srv, "n,a=user,n=user,r=x"), TR_OK);
    assert_string_equal(srv.authzid, "user");
    tr_scram_server_cleanup(&srv);

    /* Refused but well-formed. */
    assert_int_equal(server_first_msg(&srv, "n,a=other,n=user,r=x"),
                     TR_ERR_INVALID);
    tr_scram_server_cleanup(&srv);
    assert_int_equal(server_first_msg(&srv, "y,,n=user,r=x"), TR_ERR_INVALID);
    tr_scram_server_cleanup(&srv);
    assert_int_equal(server_first_msg(&srv, "p=tls-unique,,n=user,r=x"),
                     TR_ERR_INVALID);
    tr_scram_server_cleanup(&srv);
    assert_int_equal(server_first_msg(&srv, "n,,n=user,r=x,tokenauth=true"),
                     TR_ERR_UNSUPPORTED);
    tr_scram_server_cleanup(&srv);
    assert_int_equal(server_first_msg(&srv, "n,,m=x,n=user,r=x"),
                     TR_ERR_UNSUPPORTED);
    tr_scram_server_cleanup(&srv);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tr_err_t err = server_first_msg(&srv, bad[i]);
        if (err == TR_OK) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        tr_scram_server_cleanup(&srv);
    }
    /* Every strict prefix of RFC 7677's client-first fails cleanly. */
    for (i = 0; i < strlen(RFC_CLIENT_FIRST) - 1; i++) {
        uint8_t *m = dup_exact(RFC_CLIENT_FIRST, i);
        tr_scram_server_init(&srv, TR_SCRAM_SHA_256);
        if (i < strlen("n,,n=user,r=") + 1) {
            assert_int_not_equal(tr_scram_server_client_first(&srv, m, i),
                                 TR_OK);
        } else {
            /* A shorter nonce is still a nonce. */
            assert_int_equal(tr_scram_server_client_first(&srv, m, i), TR_OK);
        }
        tr_scram_server_cleanup(&srv);
        free(m);
    }
    /* A NUL inside and an oversized message. */
    {
        uint8_t withnul[] = "n,,n=us\0er,r=abc";
        char *big = malloc(TR_SCRAM_MAX_MSG + 2);
        tr_scram_server_init(&srv, TR_SCRAM_SHA_256);
        assert_int_equal(
            tr_scram_server_client_first(&srv, withnul, sizeof(withnul) - 1),
            TR_ERR_CORRUPT);
        tr_scram_server_cleanup(&srv);
        assert_non_null(big);
        memset(big, 'a', TR_SCRAM_MAX_MSG + 1);
        memcpy(big, "n,,n=", 5);
        tr_scram_server_init(&srv, TR_SCRAM_SHA_256);
        assert_int_equal(tr_scram_server_client_first(&srv, (uint8_t *)big,
                                                      TR_SCRAM_MAX_MSG + 1),
                         TR_ERR_TOO_LARGE);
        tr_scram_server_cleanup(&srv);
        free(big);
    }
}

static void
test_client_final_prefixes(void **state)
{
    struct tr_scram_server srv;
    struct tr_scram_cred cred;
    struct tr_buf out;
    size_t i;

    (void)state;
    rfc_cred(&cred);
    tr_buf_init(&out, 4096);
    for (i = 0; i < strlen(RFC_CLIENT_FINAL); i++) {
        uint8_t *m = dup_exact(RFC_CLIENT_FINAL, i);
        assert_int_equal(server_first_msg(&srv, RFC_CLIENT_FIRST), TR_OK);
        tr_buf_reset(&out);
        assert_int_equal(tr_scram_server_first(&srv, &cred, RFC_SNONCE, &out),
                         TR_OK);
        tr_buf_reset(&out);
        assert_int_not_equal(tr_scram_server_client_final(&srv, m, i, &out),
                             TR_OK);
        assert_int_equal(tr_buf_len(&out), 0);
        tr_scram_server_cleanup(&srv);
        free(m);
    }
    /* Out of order: client-final before server-first. */
    assert_int_equal(server_first_msg(&srv, RFC_CLIENT_FIRST), TR_OK);
    assert_int_equal(
        tr_scram_server_client_final(&srv, (const uint8_t *)RFC_CLIENT_FINAL,
                                     strlen(RFC_CLIENT_FINAL), &out),
        TR_ERR_INVALID);
    tr_scram_server_cleanup(&srv);
    /* A server-first the client cannot accept: too few iterations, a nonce
     * that does not extend the client's, junk. */
    {
        static const char *const bad[] = {
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
            "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=!!!!,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4x",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            "e=other-error",
        };
        struct tr_scram_client cli;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_int_equal(
                tr_scram_client_init(&cli, TR_SCRAM_SHA_256, "user", "pencil"),
                TR_OK);
            tr_buf_reset(&out);
            assert_int_equal(tr_scram_client_first(&cli, RFC_CNONCE, &out),
                             TR_OK);
            tr_buf_reset(&out);
            assert_int_not_equal(tr_scram_client_final(&cli,
                                                       (const uint8_t *)bad[i],
                                                       strlen(bad[i]), &out),
                                 TR_OK);
            tr_scram_client_cleanup(&cli);
        }
    }
    tr_buf_cleanup(&out);
}

/*
 * A password whose '-' base64 and base-36 never write, so finding it in
 * the stored text means it was stored (a two-letter one appears by
 * chance in about one text in twenty).
 */
#define PW "secret-pw-1"

static void
test_cred_text(void **state)
{
    struct tr_scram_cred cred, back;
    char text[TR_SCRAM_CRED_TEXT_MAX];
    static const char *const bad[] = {
        "",
        "salt=MTIz,stored_key=AAAA,server_key=AAAA,iterations=4096",
        "salt=MTIz,iterations=4096",
        "salt=MTIz,salt=MTIz,stored_key=x,server_key=x,iterations=4096",
        "pepper=MTIz",
        "salt=,stored_key=,server_key=,iterations=",
    };
    size_t i;

    (void)state;
    assert_int_equal(tr_scram_cred_make(&cred, TR_SCRAM_SHA_512, PW, strlen(PW),
                                        8192, NULL, 0),
                     TR_OK);
    /* Kafka's salt: the ASCII of a base-36 number. */
    assert_int_equal(cred.salt_len, 26);
    for (i = 0; i < cred.salt_len; i++) {
        assert_true((cred.salt[i] >= '0' && cred.salt[i] <= '9') ||
                    (cred.salt[i] >= 'a' && cred.salt[i] <= 'z'));
    }
    assert_int_equal(tr_scram_cred_format(&cred, text, sizeof(text)), TR_OK);
    assert_non_null(strstr(text, ",iterations=8192"));
    assert_null(strstr(text, PW));
    assert_int_equal(
        tr_scram_cred_parse(&back, TR_SCRAM_SHA_512, text, strlen(text)),
        TR_OK);
    assert_int_equal(back.iterations, 8192);
    assert_int_equal(back.salt_len, cred.salt_len);
    assert_memory_equal(back.salt, cred.salt, cred.salt_len);
    assert_memory_equal(back.stored_key, cred.stored_key, 64);
    assert_memory_equal(back.server_key, cred.server_key, 64);
    assert_int_equal(tr_scram_cred_check_password(&back, PW, strlen(PW)),
                     TR_OK);
    assert_int_equal(tr_scram_cred_check_password(&back, "pW", 2),
                     TR_ERR_INVALID);
    /* The same text is not a SHA-256 credential (key sizes differ). */
    assert_int_not_equal(
        tr_scram_cred_parse(&back, TR_SCRAM_SHA_256, text, strlen(text)),
        TR_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(tr_scram_cred_parse(&back, TR_SCRAM_SHA_256,
                                                 bad[i], strlen(bad[i])),
                             TR_OK);
    }
    /* Every strict prefix fails. */
    for (i = 0; i < strlen(text); i++) {
        char *m = (char *)dup_exact(text, i);
        assert_int_not_equal(tr_scram_cred_parse(&back, TR_SCRAM_SHA_512, m, i),
                             TR_OK);
        free(m);
    }
    /* Too few iterations are refused at creation. */
    assert_int_equal(
        tr_scram_cred_make(&cred, TR_SCRAM_SHA_256, "pw", 2, 4095, NULL, 0),
        TR_ERR_INVALID);
}

static void
test_base64(void **state)
{
    static const struct {
        const char *plain, *b64;
    } v[] = {
        { "", "" },        { "f", "Zg==" },        { "fo", "Zm8=" },
        { "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
        { "n,,", "biws" },
    };
    static const char *const bad[] = { "Zg=",  "Z===", "Zg==Zg==", "Zm9",
                                       "Zm 9", "=Zm9", "Zm=v" };
    uint8_t out[16];
    char enc[16];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(tr_scram_b64_encode((const uint8_t *)v[i].plain,
                                             strlen(v[i].plain), enc,
                                             sizeof(enc)),
                         strlen(v[i].b64));
        assert_string_equal(enc, v[i].b64);
        assert_int_equal(tr_scram_b64_decode(v[i].b64, strlen(v[i].b64), out,
                                             sizeof(out), &n),
                         TR_OK);
        assert_int_equal(n, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, n);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(
            tr_scram_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n),
            TR_OK);
    }
    assert_int_equal(tr_scram_b64_decode("Zm9vYmE=", 8, out, 4, &n),
                     TR_ERR_TOO_LARGE);
}

static void
test_plain(void **state)
{
    struct tr_scram_plain plain;
    struct tr_scram_cred cred;

    (void)state;
    /* librdkafka and kafkajs: empty authzid; kafka-python: the user. */
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"\0alice\0secret", 13, &plain),
        TR_OK);
    assert_int_equal(plain.user_len, 5);
    assert_memory_equal(plain.user, "alice", 5);
    assert_int_equal(plain.password_len, 6);
    assert_memory_equal(plain.password, "secret", 6);
    assert_int_equal(tr_scram_plain_parse(
                         (const uint8_t *)"alice\0alice\0secret", 18, &plain),
                     TR_OK);
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"bob\0alice\0secret", 16, &plain),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"\0\0secret", 8, &plain),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"\0alice\0", 7, &plain),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"\0alice", 6, &plain),
        TR_ERR_CORRUPT);
    assert_int_equal(tr_scram_plain_parse((const uint8_t *)"", 0, &plain),
                     TR_ERR_CORRUPT);
    assert_int_equal(
        tr_scram_plain_parse((const uint8_t *)"\0a\0b\0c", 7, &plain),
        TR_ERR_CORRUPT);

    /* PLAIN is checked against the SCRAM credential. */
    assert_int_equal(
        tr_scram_cred_make(&cred, TR_SCRAM_SHA_256, "secret", 6, 4096, NULL, 0),
        TR_OK);
    assert_int_equal(tr_scram_cred_check_password(&cred, "secret", 6), TR_OK);
    assert_int_equal(tr_scram_cred_check_password(&cred, "secreT", 6),
                     TR_ERR_INVALID);
    assert_int_equal(tr_scram_cred_check_password(&cred, "secret!", 7),
                     TR_ERR_INVALID);
}

static void
test_mech_names(void **state)
{
    (void)state;
    assert_int_equal(tr_scram_mech_parse("SCRAM-SHA-256", 13),
                     TR_SCRAM_SHA_256);
    assert_int_equal(tr_scram_mech_parse("SCRAM-SHA-512", 13),
                     TR_SCRAM_SHA_512);
    assert_int_equal(tr_scram_mech_parse("SCRAM-SHA-1", 11), TR_SCRAM_UNKNOWN);
    assert_int_equal(tr_scram_mech_parse("scram-sha-256", 13),
                     TR_SCRAM_UNKNOWN);
    assert_string_equal(tr_scram_mech_name(TR_SCRAM_SHA_512), "SCRAM-SHA-512");
    assert_null(tr_scram_mech_name(TR_SCRAM_UNKNOWN));
    assert_int_equal(tr_scram_key_len(TR_SCRAM_SHA_256), 32);
    assert_int_equal(tr_scram_key_len(TR_SCRAM_SHA_512), 64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7677_server),
        cmocka_unit_test(test_rfc7677_client),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_librdkafka_nonce),
        cmocka_unit_test(test_client_first_parse),
        cmocka_unit_test(test_client_final_prefixes),
        cmocka_unit_test(test_cred_text),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_mech_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
