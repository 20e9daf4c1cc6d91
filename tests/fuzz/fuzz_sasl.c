/*
 * fuzz_sasl -- libFuzzer target for the SASL messages (common/scram.c):
 * what a client sends the collector and what a server sends our clients.
 *
 * Input: [mode][message]. Modes:
 *   0  client-first, as the collector reads it
 *   1  client-final, as the collector reads it after RFC 7677's exchange
 *      has got to server-first (so the nonce, channel binding and proof
 *      checks all run)
 *   2  a PLAIN message
 *   3  a stored credential's text (SCRAM-SHA-256), 4 the same for 512
 *   5  server-first, as our client reads it (the parse only: the PBKDF2
 *      that follows costs milliseconds and reads nothing)
 *   6  server-final, as our client checks it after RFC 7677's exchange
 *   7  base64
 * The exchange state is made once, in LLVMFuzzerInitialize, from RFC
 * 7677's test vector.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "scram.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_CNONCE       "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE       "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                       \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                    \
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

static struct tr_scram_cred user_cred;
/* A client that has sent client-final (state 2), copied per input. */
static struct tr_scram_client client_at_final;
/* A client that has sent client-first (state 1). */
static struct tr_scram_client client_at_first;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const uint8_t salt[] = { 0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12,
                                    0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14,
                                    0x12, 0x36, 0xfa, 0x81 };
    struct tr_buf out;

    (void)argc;
    (void)argv;
    tr_buf_init(&out, 1 << 16);
    if (tr_scram_cred_make(&user_cred, TR_SCRAM_SHA_256, "pencil", 6, 4096,
                           salt, sizeof(salt)) != TR_OK ||
        tr_scram_client_init(&client_at_first, TR_SCRAM_SHA_256, "user",
                             "pencil") != TR_OK ||
        tr_scram_client_first(&client_at_first, RFC_CNONCE, &out) != TR_OK ||
        tr_scram_client_init(&client_at_final, TR_SCRAM_SHA_256, "user",
                             "pencil") != TR_OK ||
        tr_scram_client_first(&client_at_final, RFC_CNONCE, &out) != TR_OK ||
        tr_scram_client_final(&client_at_final,
                              (const uint8_t *)RFC_SERVER_FIRST,
                              strlen(RFC_SERVER_FIRST), &out) != TR_OK) {
        abort();
    }
    tr_buf_cleanup(&out);
    return 0;
}

static void
server_final(const uint8_t *msg, size_t len)
{
    struct tr_scram_server srv;
    struct tr_buf out;

    tr_buf_init(&out, 1 << 16);
    tr_scram_server_init(&srv, TR_SCRAM_SHA_256);
    if (tr_scram_server_client_first(&srv, (const uint8_t *)RFC_CLIENT_FIRST,
                                     strlen(RFC_CLIENT_FIRST)) != TR_OK ||
        tr_scram_server_first(&srv, &user_cred, RFC_SNONCE, &out) != TR_OK) {
        abort();
    }
    (void)tr_scram_server_client_final(&srv, msg, len, &out);
    tr_scram_server_cleanup(&srv);
    tr_buf_cleanup(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_scram_server srv;
    struct tr_scram_plain plain;
    struct tr_scram_cred cred;
    struct tr_scram_server_first sf;
    struct tr_scram_client cli;
    uint8_t raw[4096];
    size_t n;
    const uint8_t *msg = data + 1;
    size_t len;

    if (size < 1) {
        return 0;
    }
    len = size - 1;
    switch (data[0] & 7) {
    case 0:
        tr_scram_server_init(&srv, TR_SCRAM_SHA_512);
        (void)tr_scram_server_client_first(&srv, msg, len);
        tr_scram_server_cleanup(&srv);
        break;
    case 1:
        server_final(msg, len);
        break;
    case 2:
        (void)tr_scram_plain_parse(msg, len, &plain);
        break;
    case 3:
    case 4:
        (void)tr_scram_cred_parse(
            &cred, (data[0] & 7) == 3 ? TR_SCRAM_SHA_256 : TR_SCRAM_SHA_512,
            (const char *)msg, len);
        break;
    case 5:
        (void)tr_scram_client_parse_server_first(&client_at_first, msg, len,
                                                 &sf);
        break;
    case 6:
        cli = client_at_final; /* verify changes only the state */
        (void)tr_scram_client_verify(&cli, msg, len);
        break;
    default:
        (void)tr_scram_b64_decode((const char *)msg, len, raw, sizeof(raw), &n);
        break;
    }
    return 0;
}
