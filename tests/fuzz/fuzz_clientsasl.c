/*
 * fuzz_clientsasl -- libFuzzer target for the client's SASL exchange
 * (common/clientsasl.c): what a hostile or broken broker answers to
 * SaslHandshake and SaslAuthenticate.
 *
 * Input: [mode][len int16][answer]... The mode's low two bits pick the
 * mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), bit 2 SaslAuthenticate
 * v0 or v1. Each length-prefixed chunk is the response body to the next
 * request, until the exchange is done, fails or the input ends. A SCRAM
 * server-first asking for more than 16384 iterations is skipped: it is
 * valid, but would make each run a slow PBKDF2 and teach the fuzzer
 * nothing about parsing.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "clientsasl.h"
#include "clientsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const mechs[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                     "PLAIN" };

/* 1 if the bytes name an iteration count over 16384 (",i=" + 5+ digits). */
static int
too_many_iterations(const uint8_t *p, size_t n)
{
    size_t i, digits;

    for (i = 0; i + 3 <= n; i++) {
        if (p[i] == 'i' && p[i + 1] == '=' && (i == 0 || p[i - 1] == ',')) {
            for (digits = 0; i + 2 + digits < n && p[i + 2 + digits] >= '0' &&
                             p[i + 2 + digits] <= '9';
                 digits++) {
            }
            if (digits >= 5) {
                return 1;
            }
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_clientsec *sec = NULL;
    struct tr_clientsasl *sasl = NULL;
    struct tr_buf body;
    struct tr_slice s;
    char errbuf[512];
    int16_t key, version, auth_version;
    size_t pos = 1, len;

    if (size < 1 || tr_clientsec_new(&sec) != TR_OK) {
        return 0;
    }
    auth_version = (data[0] >> 2) & 1;
    tr_buf_init(&body, 1 << 16);
    if (tr_clientsec_set(sec, "security.protocol", "SASL_PLAINTEXT", errbuf,
                         sizeof(errbuf)) != TR_OK ||
        tr_clientsec_set(sec, "sasl.mechanism", mechs[data[0] & 3], errbuf,
                         sizeof(errbuf)) != TR_OK ||
        tr_clientsec_set(sec, "sasl.username", "alice", errbuf,
                         sizeof(errbuf)) != TR_OK ||
        tr_clientsec_set(sec, "sasl.password", "alice-secret", errbuf,
                         sizeof(errbuf)) != TR_OK ||
        tr_clientsec_prepare(sec, NULL, NULL, errbuf, sizeof(errbuf)) !=
            TR_OK ||
        tr_clientsasl_new(sec, &sasl) != TR_OK) {
        goto out;
    }
    while (!tr_clientsasl_done(sasl) && pos + 2 <= size) {
        len = ((size_t)data[pos] << 8) | data[pos + 1];
        pos += 2;
        if (len > size - pos) {
            len = size - pos;
        }
        tr_buf_reset(&body);
        if (tr_clientsasl_request(sasl, auth_version, &key, &version, &body) !=
                TR_OK ||
            too_many_iterations(data + pos, len)) {
            break;
        }
        tr_slice_init(&s, data + pos, len);
        if (tr_clientsasl_response(sasl, version, &s, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            break;
        }
        pos += len;
    }
out:
    tr_buf_cleanup(&body);
    tr_clientsasl_free(sasl);
    tr_clientsec_free(sec);
    return 0;
}
