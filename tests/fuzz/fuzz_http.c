/*
 * fuzz_http -- libFuzzer target for what the collector's web console reads
 * from a client and writes back about clients (collector/http/).
 *
 * The first byte picks the mode: 0, the rest is an Authorization header
 * (tr_httpauth_parse_basic), and what it accepts must be a non-empty user
 * without control bytes; 1, the rest is a string a client chose (a group
 * or client id) written by the JSON writer, whose output must parse as one
 * JSON string with common/json.c's strict reader; 2, the rest is a list of
 * group names, one a line, fed to a small lag history with times from
 * their lengths, then read back; 3, the rest is split at the first NUL
 * into this collector's document and another's, merged as /api/groups and
 * as /api/topics are in a cluster (fanout.c), and what comes out of a
 * merge that succeeds must parse as JSON.
 */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "httpauth.h"
#include "json.h"
#include "jsonw.h"
#include "laghist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
auth(const uint8_t *data, size_t size)
{
    char user[TR_CREDENTIALS_MAX_USER + 1];
    char password[TR_HTTPAUTH_MAX_PASSWORD + 1];
    char *header = malloc(size + 1);
    size_t i;

    if (header == NULL) {
        return;
    }
    memcpy(header, data, size);
    header[size] = '\0';
    if (tr_httpauth_parse_basic(header, user, password) == TR_OK) {
        if (user[0] == '\0') {
            abort();
        }
        for (i = 0; user[i] != '\0'; i++) {
            if ((unsigned char)user[i] < 0x20) {
                abort();
            }
        }
    }
    free(header);
}

static void
json(const uint8_t *data, size_t size)
{
    struct evbuffer *out = evbuffer_new();
    struct tr_json_value v;
    struct tr_jsonw w;
    const char *text;
    size_t len;

    if (out == NULL) {
        return;
    }
    tr_jsonw_init(&w, out);
    tr_jsonw_stringn(&w, (const char *)data, size);
    len = evbuffer_get_length(out);
    text = (const char *)evbuffer_pullup(out, -1);
    if (tr_json_parse(text, len, &v) != TR_OK || v.type != TR_JSON_STRING ||
        memchr(text, '<', len) != NULL) {
        abort();
    }
    evbuffer_free(out);
}

static void
history(const uint8_t *data, size_t size)
{
    struct tr_laghist *h = tr_laghist_new(4, 3);
    struct tr_laghist_sample s[4];
    char name[64];
    size_t start = 0, i;

    if (h == NULL) {
        return;
    }
    for (i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t n =
                i - start < sizeof(name) - 1 ? i - start : sizeof(name) - 1;
            memcpy(name, data + start, n);
            name[n] = '\0';
            (void)tr_laghist_add(h, name, (int64_t)i * 1000, (int64_t)n, 1000);
            if (tr_laghist_get(h, name, s, 4) == 0 ||
                tr_laghist_groups(h) > 3) {
                abort();
            }
            start = i + 1;
        }
    }
    tr_laghist_free(h);
}

static void
merge(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t first = nul != NULL ? (size_t)(nul - data) : size;
    struct tr_fanout_doc docs[2] = {
        { 1, 1, (const char *)data, first },
        { 2, nul != NULL, nul != NULL ? (const char *)nul + 1 : NULL,
          nul != NULL ? size - first - 1 : 0 },
    };
    enum tr_fanout_kind kinds[2] = { TR_FANOUT_GROUPS, TR_FANOUT_TOPICS };
    struct tr_json_value v;

    for (int k = 0; k < 2; k++) {
        struct evbuffer *out = evbuffer_new();
        if (out == NULL) {
            return;
        }
        if (tr_fanout_merge(kinds[k], docs, 2, out) == TR_OK) {
            size_t len = evbuffer_get_length(out);
            const char *text = (const char *)evbuffer_pullup(out, -1);
            if (tr_json_parse(text, len, &v) != TR_OK) {
                abort();
            }
        }
        evbuffer_free(out);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 4) {
    case 0:
        auth(data + 1, size - 1);
        break;
    case 1:
        json(data + 1, size - 1);
        break;
    case 3:
        merge(data + 1, size - 1);
        break;
    default:
        history(data + 1, size - 1);
        break;
    }
    return 0;
}
