/*
 * test_httpauth -- HTTP Basic for the console: well-formed headers (any
 * case of the scheme, extra spaces, a colon inside the password, an empty
 * password), malformed ones (no header, another scheme, no space, bad or
 * unpadded base64, no colon, an empty user, control bytes, a NUL, past the
 * limits) refused with the right code and never a crash, and passwords
 * checked against a real SCRAM store (SHA-256, SHA-512 only, a wrong
 * password, an unknown user).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "credentials.h"
#include "httpauth.h"
#include "scram.h"

static char dir[64];
static char user[TR_CREDENTIALS_MAX_USER + 1];
static char pass[TR_HTTPAUTH_MAX_PASSWORD + 1];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_httpauth.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "Basic " + base64 of the 'len' bytes at 'plain', into 'out'. */
static const char *
basic(const char *plain, size_t len, char *out, size_t outlen)
{
    memcpy(out, "Basic ", 6);
    tr_scram_b64_encode((const uint8_t *)plain, len, out + 6, outlen - 6);
    return out;
}

static void
test_parse_good(void **state)
{
    char h[256];

    (void)state;
    /* alice:s3cret:with:colons */
    assert_int_equal(
        tr_httpauth_parse_basic(
            basic("alice:s3cret:with:colons", 24, h, sizeof(h)), user, pass),
        TR_OK);
    assert_string_equal(user, "alice");
    assert_string_equal(pass, "s3cret:with:colons");
    assert_int_equal(tr_httpauth_parse_basic("bAsIc   Ym9iOg==  ", user, pass),
                     TR_OK);
    assert_string_equal(user, "bob");
    assert_string_equal(pass, "");
}

static void
test_parse_malformed(void **state)
{
    static const struct {
        const char *header;
        tr_err_t err;
    } cases[] = {
        { "", TR_ERR_UNSUPPORTED },
        { "Basic", TR_ERR_UNSUPPORTED },
        { "Basicx YWxpY2U6cA==", TR_ERR_UNSUPPORTED },
        { "Bearer abc.def", TR_ERR_UNSUPPORTED },
        { "Digest username=\"a\"", TR_ERR_UNSUPPORTED },
        { "Basic ", TR_ERR_CORRUPT },
        { "Basic YWxpY2U6cA", TR_ERR_CORRUPT },    /* unpadded */
        { "Basic YWxp Y2U6cA==", TR_ERR_CORRUPT }, /* space inside */
        { "Basic !!!!", TR_ERR_CORRUPT },
        { "Basic ====", TR_ERR_CORRUPT },
        { "Basic YWxpY2U=", TR_ERR_CORRUPT }, /* "alice": no colon */
        { "Basic OnBhc3M=", TR_ERR_CORRUPT }, /* ":pass": no user */
        { "Basic YQFiOnA=", TR_ERR_CORRUPT }, /* "a\x01b:p" */
        { "Basic YTpwAHE=", TR_ERR_CORRUPT }, /* "a:p\0q" */
        { "Basic AGE6cA==", TR_ERR_CORRUPT }, /* "\0a:p" */
    };
    size_t i;

    (void)state;
    assert_int_equal(tr_httpauth_parse_basic(NULL, user, pass),
                     TR_ERR_NOT_FOUND);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tr_err_t err = tr_httpauth_parse_basic(cases[i].header, user, pass);
        if (err != cases[i].err) {
            fail_msg("'%s': %d, expected %d", cases[i].header, err,
                     cases[i].err);
        }
        assert_string_equal(user, "");
        assert_string_equal(pass, "");
    }
}

static void
test_parse_limits(void **state)
{
    char plain[TR_CREDENTIALS_MAX_USER + TR_HTTPAUTH_MAX_PASSWORD + 8];
    char h[2 * sizeof(plain) + 16];
    char *huge;

    (void)state;
    /* the longest user and password fit */
    memset(plain, 'u', TR_CREDENTIALS_MAX_USER);
    plain[TR_CREDENTIALS_MAX_USER] = ':';
    memset(plain + TR_CREDENTIALS_MAX_USER + 1, 'p', TR_HTTPAUTH_MAX_PASSWORD);
    assert_int_equal(
        tr_httpauth_parse_basic(
            basic(plain, TR_CREDENTIALS_MAX_USER + 1 + TR_HTTPAUTH_MAX_PASSWORD,
                  h, sizeof(h)),
            user, pass),
        TR_OK);
    assert_int_equal(strlen(user), TR_CREDENTIALS_MAX_USER);
    assert_int_equal(strlen(pass), TR_HTTPAUTH_MAX_PASSWORD);
    /* one more byte of user */
    memset(plain, 'u', TR_CREDENTIALS_MAX_USER + 1);
    plain[TR_CREDENTIALS_MAX_USER + 1] = ':';
    assert_int_equal(
        tr_httpauth_parse_basic(
            basic(plain, TR_CREDENTIALS_MAX_USER + 3, h, sizeof(h)), user,
            pass),
        TR_ERR_TOO_LARGE);
    /* a header far past any limit */
    huge = malloc(100000);
    assert_non_null(huge);
    memcpy(huge, "Basic ", 6);
    memset(huge + 6, 'A', 100000 - 7);
    huge[100000 - 1] = '\0';
    assert_int_equal(tr_httpauth_parse_basic(huge, user, pass),
                     TR_ERR_TOO_LARGE);
    free(huge);
}

static void
test_check(void **state)
{
    struct tr_credentials *creds;
    struct tr_scram_cred cred;
    char err[256];

    (void)state;
    assert_int_equal(tr_credentials_open(dir, &creds, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_scram_cred_make(&cred, TR_SCRAM_SHA_256, "alice-pw", 8,
                                        4096, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_credentials_set(creds, "alice", &cred), TR_OK);
    assert_int_equal(
        tr_scram_cred_make(&cred, TR_SCRAM_SHA_512, "bob-pw", 6, 4096, NULL, 0),
        TR_OK);
    assert_int_equal(tr_credentials_set(creds, "bob", &cred), TR_OK);

    assert_int_equal(tr_httpauth_check(creds, "alice", "alice-pw"), TR_OK);
    assert_int_equal(tr_httpauth_check(creds, "alice", "alice-pW"),
                     TR_ERR_INVALID);
    assert_int_equal(tr_httpauth_check(creds, "alice", ""), TR_ERR_INVALID);
    assert_int_equal(tr_httpauth_check(creds, "bob", "bob-pw"), TR_OK);
    assert_int_equal(tr_httpauth_check(creds, "bob", "alice-pw"),
                     TR_ERR_INVALID);
    assert_int_equal(tr_httpauth_check(creds, "carol", "alice-pw"),
                     TR_ERR_INVALID);
    assert_int_equal(tr_httpauth_check(NULL, "alice", "alice-pw"),
                     TR_ERR_INVALID);
    tr_credentials_free(creds);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
