/*
 * test_credentials -- the SCRAM credential store: set, reopen, get, delete;
 * the file is 0600, holds no password, and a damaged line is refused with
 * its line number; --add-scram's kafka-storage syntax, good and bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "credentials.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_credentials.XXXXXX");
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

static char *
file_text(void)
{
    char path[128];
    static char text[8192];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s" TR_CREDENTIALS_FILE, dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
test_store(void **state)
{
    struct tr_credentials *creds;
    struct tr_scram_cred cred, got;
    char err[256], path[128], **names;
    int32_t iters[3];
    size_t n, i;
    struct stat st;

    (void)state;
    assert_int_equal(tr_credentials_open(dir, &creds, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_credentials_get(creds, "alice", TR_SCRAM_SHA_256, &got),
                     TR_ERR_NOT_FOUND);
    assert_int_equal(tr_scram_cred_make(&cred, TR_SCRAM_SHA_256, "alice-secret",
                                        12, 4096, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_credentials_set(creds, "alice", &cred), TR_OK);
    assert_int_equal(tr_scram_cred_make(&cred, TR_SCRAM_SHA_512, "alice-secret",
                                        12, 8192, NULL, 0),
                     TR_OK);
    assert_int_equal(tr_credentials_set(creds, "alice", &cred), TR_OK);
    assert_int_equal(
        tr_scram_cred_make(&cred, TR_SCRAM_SHA_256, "x y", 3, 4096, NULL, 0),
        TR_OK);
    assert_int_equal(tr_credentials_set(creds, "bob smith,=", &cred), TR_OK);
    tr_credentials_free(creds);

    snprintf(path, sizeof(path), "%s" TR_CREDENTIALS_FILE, dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_null(strstr(file_text(), "alice-secret"));
    assert_non_null(strstr(file_text(), "alice SCRAM-SHA-256=[salt="));
    assert_non_null(strstr(file_text(), "bob%20smith%2C%3D SCRAM-SHA-256"));

    assert_int_equal(tr_credentials_open(dir, &creds, err, sizeof(err)), TR_OK);
    assert_int_equal(tr_credentials_get(creds, "alice", TR_SCRAM_SHA_512, &got),
                     TR_OK);
    assert_int_equal(got.iterations, 8192);
    assert_int_equal(tr_scram_cred_check_password(&got, "alice-secret", 12),
                     TR_OK);
    assert_int_equal(
        tr_credentials_get(creds, "bob smith,=", TR_SCRAM_SHA_256, &got),
        TR_OK);
    assert_int_equal(tr_scram_cred_check_password(&got, "x y", 3), TR_OK);
    assert_int_equal(tr_credentials_describe(creds, "alice", iters), TR_OK);
    assert_int_equal(iters[TR_SCRAM_SHA_256], 4096);
    assert_int_equal(iters[TR_SCRAM_SHA_512], 8192);
    assert_int_equal(tr_credentials_users(creds, &names, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "alice");
    assert_string_equal(names[1], "bob smith,=");
    for (i = 0; i < n; i++) {
        tr_free(names[i]);
    }
    tr_free(names);

    assert_int_equal(tr_credentials_delete(creds, "alice", TR_SCRAM_SHA_256),
                     TR_OK);
    assert_int_equal(tr_credentials_delete(creds, "alice", TR_SCRAM_SHA_256),
                     TR_ERR_NOT_FOUND);
    assert_int_equal(tr_credentials_delete(creds, "alice", TR_SCRAM_SHA_512),
                     TR_OK);
    assert_int_equal(tr_credentials_describe(creds, "alice", iters),
                     TR_ERR_NOT_FOUND);
    tr_credentials_free(creds);
    assert_null(strstr(file_text(), "alice"));
}

static void
test_damaged(void **state)
{
    struct tr_credentials *creds = NULL;
    char err[256], path[128];
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s" TR_CREDENTIALS_FILE, dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\n\nalice SCRAM-SHA-256=[salt=MTIz,iterations=4096]\n", f);
    fclose(f);
    assert_int_equal(tr_credentials_open(dir, &creds, err, sizeof(err)),
                     TR_ERR_CORRUPT);
    assert_null(creds);
    assert_non_null(strstr(err, TR_CREDENTIALS_FILE ":3: bad credential"));
    unlink(path);
}

static void
test_add_scram(void **state)
{
    struct tr_scram_cred cred;
    char user[TR_CREDENTIALS_MAX_USER + 1], err[256];
    static const char *const bad[] = {
        "SCRAM-SHA-256",
        "SCRAM-SHA-1=[name=a,password=b]",
        "SCRAM-SHA-256=[password=b]",
        "SCRAM-SHA-256=[name=a]",
        "SCRAM-SHA-256=[name=a,password=b,iterations=4095]",
        "SCRAM-SHA-256=[name=a,password=b,iterations=16385]",
        "SCRAM-SHA-256=[name=a,password=b,colour=red]",
        "SCRAM-SHA-256=[name=a,saltedpassword=YCE=]",
        "SCRAM-SHA-256=[name=a,password=\"b]",
        "SCRAM-SHA-256=[name=a,password=b",
    };
    size_t i;

    (void)state;
    assert_int_equal(tr_credentials_parse_add_scram(
                         "SCRAM-SHA-256=[name=admin,password=admin-secret]",
                         user, &cred, err, sizeof(err)),
                     TR_OK);
    assert_string_equal(user, "admin");
    assert_int_equal(cred.iterations, 4096);
    assert_int_equal(tr_scram_cred_check_password(&cred, "admin-secret", 12),
                     TR_OK);
    assert_int_equal(tr_credentials_parse_add_scram(
                         "SCRAM-SHA-512=[name=\"alice\",iterations=8192,"
                         "salt=\"N3E=\",password=\"a=b\"]",
                         user, &cred, err, sizeof(err)),
                     TR_OK);
    assert_string_equal(user, "alice");
    assert_int_equal(cred.mech, TR_SCRAM_SHA_512);
    assert_int_equal(cred.iterations, 8192);
    assert_int_equal(cred.salt_len, 2);
    assert_int_equal(tr_scram_cred_check_password(&cred, "a=b", 3), TR_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (tr_credentials_parse_add_scram(bad[i], user, &cred, err,
                                           sizeof(err)) == TR_OK) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_non_null(strstr(err, "--add-scram"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test(test_add_scram),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
