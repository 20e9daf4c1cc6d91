/*
 * httpauth -- Basic credentials against the SCRAM store (see httpauth.h).
 */
#include "httpauth.h"

#include <string.h>
#include <strings.h>

#include "scram.h"

/* base64 of user ':' password: 4 characters per 3 bytes, padded. */
#define B64_MAX                                                                \
    (((TR_CREDENTIALS_MAX_USER + 1 + TR_HTTPAUTH_MAX_PASSWORD + 2) / 3) * 4)

tr_err_t
tr_httpauth_parse_basic(const char *header, char *user, char *password)
{
    uint8_t plain[TR_CREDENTIALS_MAX_USER + 1 + TR_HTTPAUTH_MAX_PASSWORD];
    const char *b64, *colon;
    size_t len, n = 0, ulen, plen, i;
    tr_err_t err;

    user[0] = '\0';
    password[0] = '\0';
    if (header == NULL) {
        return TR_ERR_NOT_FOUND;
    }
    if (strncasecmp(header, "Basic", 5) != 0 ||
        (header[5] != ' ' && header[5] != '\t')) {
        return TR_ERR_UNSUPPORTED;
    }
    b64 = header + 5;
    while (*b64 == ' ' || *b64 == '\t') {
        b64++;
    }
    len = strlen(b64);
    while (len > 0 && (b64[len - 1] == ' ' || b64[len - 1] == '\t')) {
        len--;
    }
    if (len > B64_MAX) {
        return TR_ERR_TOO_LARGE;
    }
    err = tr_scram_b64_decode(b64, len, plain, sizeof(plain), &n);
    if (err != TR_OK) {
        return err == TR_ERR_TOO_LARGE ? err : TR_ERR_CORRUPT;
    }
    colon = memchr(plain, ':', n);
    if (colon == NULL) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    ulen = (size_t)(colon - (const char *)plain);
    plen = n - ulen - 1;
    if (ulen == 0) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    for (i = 0; i < ulen; i++) {
        if (plain[i] < 0x20 || plain[i] == 0x7f) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
    if (memchr(colon + 1, '\0', plen) != NULL) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    if (ulen > TR_CREDENTIALS_MAX_USER || plen > TR_HTTPAUTH_MAX_PASSWORD) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    memcpy(user, plain, ulen);
    user[ulen] = '\0';
    memcpy(password, colon + 1, plen);
    password[plen] = '\0';
    err = TR_OK;
out:
    memset(plain, 0, sizeof(plain));
    return err;
}

tr_err_t
tr_httpauth_check(struct tr_credentials *creds, const char *user,
                  const char *password)
{
    static const uint8_t dummy_salt[] = "tributary-no-such-user";
    struct tr_scram_cred cred;
    uint8_t salted[TR_SCRAM_MAX_KEY];
    tr_err_t err = TR_ERR_NOT_FOUND;

    if (creds != NULL) {
        err = tr_credentials_get(creds, user, TR_SCRAM_SHA_256, &cred);
        if (err == TR_ERR_NOT_FOUND) {
            err = tr_credentials_get(creds, user, TR_SCRAM_SHA_512, &cred);
        }
    }
    if (err == TR_OK) {
        err = tr_scram_cred_check_password(&cred, password, strlen(password));
    } else {
        /* the work of a real check, so timing does not reveal the user */
        (void)tr_scram_salted_password(
            TR_SCRAM_SHA_256, password, strlen(password), dummy_salt,
            sizeof(dummy_salt) - 1, TR_SCRAM_MIN_ITERATIONS, salted);
        memset(salted, 0, sizeof(salted));
    }
    memset(&cred, 0, sizeof(cred));
    return err == TR_OK ? TR_OK : TR_ERR_INVALID;
}
