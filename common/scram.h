/*
 * scram -- SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) and
 * SASL PLAIN (RFC 4616), as Kafka speaks them, on OpenSSL's libcrypto.
 *
 * Three parts:
 *
 *  - Credentials. A user's credential for one mechanism is Kafka's
 *    ScramCredential: a salt, an iteration count (at least 4096), StoredKey
 *    = H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
 *    HMAC(SaltedPassword, "Server Key"), SaltedPassword being
 *    PBKDF2-HMAC-H(password, salt, iterations). The password itself is never
 *    kept. tr_scram_cred_format()/_parse() read and write Kafka's textual
 *    form "salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>".
 *
 *  - The exchange. struct tr_scram_server runs the server's side: parse the
 *    client-first message (the caller then looks the user up), answer with
 *    server-first, verify the client-final message's proof and answer with
 *    server-final. struct tr_scram_client runs the client's side. A login
 *    costs the server no PBKDF2: the proof is checked against StoredKey.
 *
 *  - PLAIN. tr_scram_plain_parse() splits "authzid NUL authcid NUL passwd";
 *    tr_scram_cred_check_password() checks a password against a stored
 *    credential (one PBKDF2 with the stored salt and iterations), so PLAIN
 *    and SCRAM share one user store.
 *
 * Every parser takes a pointer and a length (no NUL needed), checks bounds
 * and fails with TR_ERR_CORRUPT (malformed), TR_ERR_TOO_LARGE (past a
 * limit) or TR_ERR_INVALID (well-formed but refused: a wrong proof, a bad
 * nonce, a channel-binding flag we do not do). Comparisons of secrets are
 * constant-time (CRYPTO_memcmp).
 */
#ifndef TR_SCRAM_H
#define TR_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* The numbering is Kafka's ScramMechanism byte (KIP-554): 0 is UNKNOWN. */
enum tr_scram_mech {
    TR_SCRAM_UNKNOWN = 0,
    TR_SCRAM_SHA_256 = 1,
    TR_SCRAM_SHA_512 = 2,
};

#define TR_SCRAM_MIN_ITERATIONS 4096
/* Kafka's cap for AlterUserScramCredentials and --add-scram. */
#define TR_SCRAM_MAX_ITERATIONS 16384
/* What a client accepts from a server (librdkafka's own cap). */
#define TR_SCRAM_CLIENT_MAX_ITERATIONS 1000000
#define TR_SCRAM_MAX_KEY               64 /* SHA-512's digest size */
#define TR_SCRAM_MAX_SALT              64 /* bytes; Kafka's salts are about 26 */
/* The longest message either side accepts (names, nonces, extensions). */
#define TR_SCRAM_MAX_MSG 4096
/* Kafka's serialized credential is well under this. */
#define TR_SCRAM_CRED_TEXT_MAX 512

struct tr_scram_cred {
    enum tr_scram_mech mech;
    int32_t iterations;
    size_t salt_len;
    uint8_t salt[TR_SCRAM_MAX_SALT];
    uint8_t stored_key[TR_SCRAM_MAX_KEY]; /* tr_scram_key_len(mech) bytes */
    uint8_t server_key[TR_SCRAM_MAX_KEY];
};

/* "SCRAM-SHA-256" and so on; NULL for an unknown mechanism. */
const char *tr_scram_mech_name(enum tr_scram_mech mech);
/* The mechanism named by the 'len' bytes at 'name' (exact, case as Kafka
 * writes it), or TR_SCRAM_UNKNOWN. */
enum tr_scram_mech tr_scram_mech_parse(const char *name, size_t len);
/* The digest size of the mechanism's hash, 0 for an unknown one. */
size_t tr_scram_key_len(enum tr_scram_mech mech);

/*
 * Computes SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations) into
 * 'out' (tr_scram_key_len(mech) bytes). The password is used as given
 * (UTF-8, no SASLprep, as Kafka does).
 */
tr_err_t tr_scram_salted_password(enum tr_scram_mech mech, const char *password,
                                  size_t password_len, const uint8_t *salt,
                                  size_t salt_len, int32_t iterations,
                                  uint8_t *out);

/* Fills 'cred' from a SaltedPassword (what AlterUserScramCredentials
 * carries): StoredKey and ServerKey are derived, the password is unknown. */
tr_err_t tr_scram_cred_from_salted(struct tr_scram_cred *cred,
                                   enum tr_scram_mech mech, const uint8_t *salt,
                                   size_t salt_len, int32_t iterations,
                                   const uint8_t *salted, size_t salted_len);

/*
 * Makes a credential for 'password' with a fresh random salt (Kafka's
 * shape: the ASCII of a random base-36 string) or with 'salt' if not NULL.
 * 'iterations' must be at least TR_SCRAM_MIN_ITERATIONS.
 */
tr_err_t tr_scram_cred_make(struct tr_scram_cred *cred, enum tr_scram_mech mech,
                            const char *password, size_t password_len,
                            int32_t iterations, const uint8_t *salt,
                            size_t salt_len);

/* Writes Kafka's textual form of 'cred', NUL-terminated, into 'out'
 * (TR_SCRAM_CRED_TEXT_MAX bytes is always enough). */
tr_err_t tr_scram_cred_format(const struct tr_scram_cred *cred, char *out,
                              size_t out_size);

/* Parses Kafka's textual form (exactly the four keys, in any order). */
tr_err_t tr_scram_cred_parse(struct tr_scram_cred *cred,
                             enum tr_scram_mech mech, const char *text,
                             size_t len);

/* TR_OK if 'password' matches 'cred', TR_ERR_INVALID if not. One PBKDF2. */
tr_err_t tr_scram_cred_check_password(const struct tr_scram_cred *cred,
                                      const char *password,
                                      size_t password_len);

/* Base64 (RFC 4648, padded). Encode writes a NUL; returns the length. */
size_t tr_scram_b64_encode(const uint8_t *in, size_t len, char *out,
                           size_t out_size);
/* Strict decode: padding required, no whitespace. */
tr_err_t tr_scram_b64_decode(const char *in, size_t len, uint8_t *out,
                             size_t out_size, size_t *out_len);

/* ---- the server's side ---- */

enum tr_scram_server_state {
    TR_SCRAM_SERVER_FIRST = 0, /* waiting for client-first */
    TR_SCRAM_SERVER_USER,      /* client-first parsed; a credential is wanted */
    TR_SCRAM_SERVER_FINAL,     /* server-first sent; waiting for client-final */
    TR_SCRAM_SERVER_DONE,      /* authenticated */
    TR_SCRAM_SERVER_FAILED,
};

struct tr_scram_server {
    enum tr_scram_mech mech;
    enum tr_scram_server_state state;
    char *user;              /* unescaped saslname; owned */
    char *authzid;           /* NULL or the a= value (unescaped); owned */
    char *gs2_header;        /* "n,," or "n,a=...,"; owned */
    char *client_first_bare; /* owned */
    char *server_first;      /* owned */
    char *nonce;             /* client nonce + server nonce; owned */
    size_t cnonce_len;
    struct tr_scram_cred cred;
};

void tr_scram_server_init(struct tr_scram_server *srv, enum tr_scram_mech mech);
/* Frees what the exchange holds and wipes the keys. */
void tr_scram_server_cleanup(struct tr_scram_server *srv);

/*
 * Parses the client-first message. On TR_OK srv->user names the user, whose
 * credential the caller passes to tr_scram_server_first(). Only the gs2 flag
 * "n" is accepted; an authzid must be empty or the user. The extension
 * tokenauth=true (delegation tokens) is refused with TR_ERR_UNSUPPORTED.
 */
tr_err_t tr_scram_server_client_first(struct tr_scram_server *srv,
                                      const uint8_t *msg, size_t len);

/* Appends server-first to 'out' for the user's credential (copied);
 * 'snonce' NULL draws a random server nonce (tests pass RFC 7677's). */
tr_err_t tr_scram_server_first(struct tr_scram_server *srv,
                               const struct tr_scram_cred *cred,
                               const char *snonce, struct tr_buf *out);

/*
 * Verifies the client-final message and on success appends server-final
 * ("v=<ServerSignature>") to 'out'. A wrong proof, nonce or channel binding
 * is TR_ERR_INVALID; the exchange is then failed for good.
 */
tr_err_t tr_scram_server_client_final(struct tr_scram_server *srv,
                                      const uint8_t *msg, size_t len,
                                      struct tr_buf *out);

/* ---- the client's side ---- */

struct tr_scram_client {
    enum tr_scram_mech mech;
    int state; /* 0 before client-first, 1 after, 2 after client-final, 3 done
                */
    char *user;
    char *password;
    char *client_first_bare;
    char *cnonce;
    uint8_t server_signature[TR_SCRAM_MAX_KEY];
};

/* Copies 'user' and 'password' (NUL-terminated). */
tr_err_t tr_scram_client_init(struct tr_scram_client *cli,
                              enum tr_scram_mech mech, const char *user,
                              const char *password);
void tr_scram_client_cleanup(struct tr_scram_client *cli);
/* Appends client-first to 'out'; 'cnonce' NULL draws a random one. */
tr_err_t tr_scram_client_first(struct tr_scram_client *cli, const char *cnonce,
                               struct tr_buf *out);
/* What server-first says; 'nonce' points into the message. */
struct tr_scram_server_first {
    const char *nonce; /* client nonce + server nonce */
    size_t nonce_len;
    uint8_t salt[TR_SCRAM_MAX_MSG];
    size_t salt_len;
    int32_t iterations;
};

/*
 * Parses and checks server-first against the exchange so far: the nonce
 * must extend ours, the salt be base64, the iterations within
 * TR_SCRAM_MIN_ITERATIONS..TR_SCRAM_CLIENT_MAX_ITERATIONS. No PBKDF2.
 */
tr_err_t tr_scram_client_parse_server_first(const struct tr_scram_client *cli,
                                            const uint8_t *msg, size_t len,
                                            struct tr_scram_server_first *sf);
/* Reads server-first, appends client-final (PBKDF2 runs here). */
tr_err_t tr_scram_client_final(struct tr_scram_client *cli, const uint8_t *msg,
                               size_t len, struct tr_buf *out);
/* Checks server-final's signature: TR_OK, or TR_ERR_INVALID. */
tr_err_t tr_scram_client_verify(struct tr_scram_client *cli, const uint8_t *msg,
                                size_t len);

/* ---- PLAIN ---- */

struct tr_scram_plain {
    const char *authzid; /* views into the message; not NUL-terminated */
    size_t authzid_len;
    const char *user;
    size_t user_len;
    const char *password;
    size_t password_len;
};

/*
 * Splits a PLAIN message into its three fields (views into 'msg'). Exactly
 * two NULs; user and password non-empty; authzid empty or equal to the user
 * (TR_ERR_INVALID otherwise).
 */
tr_err_t tr_scram_plain_parse(const uint8_t *msg, size_t len,
                              struct tr_scram_plain *plain);

#endif /* TR_SCRAM_H */
