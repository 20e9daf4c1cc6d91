/*
 * test_clientsec -- the client security properties: librdkafka's names and
 * values (any case, the sasl.mechanisms alias), refusals with the setting
 * named, what prepare demands of each protocol (a mechanism, a user, one
 * password source, certificate and key together), sasl.password.file read
 * and a readable one warned about, a properties file read with unknown
 * keys refused at FILE:LINE, and an OOM loop.
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
#include "clientsec.h"

struct warnings {
    int n;
    char last[1024];
};

static void
on_warn(const char *msg, void *arg)
{
    struct warnings *w = arg;

    w->n++;
    snprintf(w->last, sizeof(w->last), "%s", msg);
}

/* Writes 'text' to a new temporary file with 'mode'; returns its path. */
static char *
temp_file(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/test_clientsec.XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static struct tr_clientsec *
make(void)
{
    struct tr_clientsec *sec;

    assert_int_equal(tr_clientsec_new(&sec), TR_OK);
    return sec;
}

static tr_err_t
set(struct tr_clientsec *sec, const char *key, const char *value)
{
    char errbuf[256];

    return tr_clientsec_set(sec, key, value, errbuf, sizeof(errbuf));
}

static void
test_clientsec_defaults_plaintext(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[256];

    (void)state;
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(tr_clientsec_protocol(sec), TR_CLIENTSEC_PLAINTEXT);
    assert_false(tr_clientsec_uses_tls(sec));
    assert_false(tr_clientsec_uses_sasl(sec));
    assert_int_equal(w.n, 0);
    tr_clientsec_free(sec);
    tr_clientsec_free(NULL);
}

static void
test_clientsec_values(void **state)
{
    struct tr_clientsec *sec = make();
    char errbuf[256];

    (void)state;
    assert_int_equal(set(sec, "security.protocol", "sasl_ssl"), TR_OK);
    assert_int_equal(tr_clientsec_protocol(sec), TR_CLIENTSEC_SASL_SSL);
    assert_true(tr_clientsec_uses_tls(sec));
    assert_true(tr_clientsec_uses_sasl(sec));
    assert_int_equal(set(sec, "security.protocol", "SASL_PLAINTEXT"), TR_OK);
    assert_false(tr_clientsec_uses_tls(sec));
    assert_int_equal(set(sec, "security.protocol", "Ssl"), TR_OK);
    assert_int_equal(tr_clientsec_protocol(sec), TR_CLIENTSEC_SSL);
    assert_int_equal(set(sec, "sasl.mechanisms", "scram-sha-512"), TR_OK);
    assert_int_equal(tr_clientsec_mech(sec), TR_CLIENTSEC_MECH_SCRAM_SHA_512);
    assert_int_equal(set(sec, "sasl.mechanism", "PLAIN"), TR_OK);
    assert_int_equal(tr_clientsec_mech(sec), TR_CLIENTSEC_MECH_PLAIN);
    assert_string_equal(tr_clientsec_mech_name(TR_CLIENTSEC_MECH_SCRAM_SHA_256),
                        "SCRAM-SHA-256");
    assert_int_equal(set(sec, "ssl.endpoint.identification.algorithm", "none"),
                     TR_OK);
    assert_int_equal(set(sec, "ssl.endpoint.identification.algorithm", "HTTPS"),
                     TR_OK);
    assert_int_equal(set(sec, "enable.ssl.certificate.verification", "FALSE"),
                     TR_OK);

    /* Refusals name the setting and the value. */
    assert_int_equal(tr_clientsec_set(sec, "security.protocol", "tls", errbuf,
                                      sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "security.protocol"));
    assert_non_null(strstr(errbuf, "'tls'"));
    assert_int_equal(tr_clientsec_set(sec, "sasl.mechanism", "GSSAPI", errbuf,
                                      sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "SCRAM-SHA-512"));
    assert_int_equal(set(sec, "ssl.endpoint.identification.algorithm", "ldap"),
                     TR_ERR_CONFIG);
    assert_int_equal(set(sec, "enable.ssl.certificate.verification", "yes!"),
                     TR_ERR_CONFIG);
    assert_int_equal(
        tr_clientsec_set(sec, "bootstrap.servers", "x", errbuf, sizeof(errbuf)),
        TR_ERR_NOT_FOUND);
    assert_true(tr_clientsec_is_key("sasl.password.file"));
    assert_false(tr_clientsec_is_key("sasl.jaas.config"));
    tr_clientsec_free(sec);
}

static void
expect_prepare_error(struct tr_clientsec *sec, const char *want)
{
    struct warnings w = { 0 };
    char errbuf[512];

    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    if (strstr(errbuf, want) == NULL) {
        fail_msg("expected '%s' in '%s'", want, errbuf);
    }
}

static void
test_clientsec_prepare_sasl(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[512];

    (void)state;
    assert_int_equal(set(sec, "security.protocol", "SASL_PLAINTEXT"), TR_OK);
    expect_prepare_error(sec, "sasl.mechanism: not set");
    assert_int_equal(set(sec, "sasl.mechanism", "SCRAM-SHA-256"), TR_OK);
    expect_prepare_error(sec, "sasl.username: not set");
    assert_int_equal(set(sec, "sasl.username", "alice"), TR_OK);
    expect_prepare_error(sec, "sasl.password: not set");
    assert_int_equal(set(sec, "sasl.password", "alice-secret"), TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_string_equal(tr_clientsec_username(sec), "alice");
    assert_string_equal(tr_clientsec_password(sec), "alice-secret");
    assert_int_equal(w.n, 0);
    /* Both password sources: which one was meant? */
    assert_int_equal(set(sec, "sasl.password.file", "/nonexistent"), TR_OK);
    expect_prepare_error(sec, "give one of them");
    tr_clientsec_free(sec);
}

static void
test_clientsec_password_file(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[512], *path, *empty;

    (void)state;
    path = temp_file("s3cret\r\nsecond line\n", 0600);
    empty = temp_file("\n", 0600);
    assert_int_equal(set(sec, "security.protocol", "SASL_SSL"), TR_OK);
    assert_int_equal(set(sec, "sasl.mechanism", "PLAIN"), TR_OK);
    assert_int_equal(set(sec, "sasl.username", "bob"), TR_OK);
    assert_int_equal(set(sec, "sasl.password.file", "/nonexistent/pw"), TR_OK);
    expect_prepare_error(sec, "sasl.password.file: cannot read /nonexistent");
    assert_int_equal(set(sec, "sasl.password.file", empty), TR_OK);
    expect_prepare_error(sec, "holds no password");
    assert_int_equal(set(sec, "sasl.password.file", path), TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_string_equal(tr_clientsec_password(sec), "s3cret");
    assert_int_equal(w.n, 0);
    /* A file the group may read draws one warning naming it. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(set(sec, "sasl.password.file", path), TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.last, path));
    assert_non_null(strstr(w.last, "readable by group or others"));
    /* Prepared once: preparing again warns no more. */
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(w.n, 1);
    unlink(path);
    unlink(empty);
    free(path);
    free(empty);
    tr_clientsec_free(sec);
}

static void
test_clientsec_prepare_tls(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[512];

    (void)state;
    assert_int_equal(set(sec, "security.protocol", "SSL"), TR_OK);
    assert_int_equal(set(sec, "ssl.certificate.location", "/x/client.crt"),
                     TR_OK);
    expect_prepare_error(sec, "mutual TLS needs both");
    assert_int_equal(set(sec, "ssl.key.location", "/x/client.key"), TR_OK);
    expect_prepare_error(sec, "ssl.certificate.location: no certificate in "
                              "/x/client.crt");
    tr_clientsec_free(sec);

    sec = make();
    assert_int_equal(set(sec, "security.protocol", "SSL"), TR_OK);
    assert_int_equal(set(sec, "ssl.ca.location", "/nonexistent/ca.crt"), TR_OK);
    expect_prepare_error(sec, "ssl.ca.location: no CA certificate in "
                              "/nonexistent/ca.crt");
    tr_clientsec_free(sec);

    /* With the system CAs (whatever they hold) and no verification. */
    sec = make();
    assert_int_equal(set(sec, "security.protocol", "SSL"), TR_OK);
    assert_int_equal(set(sec, "enable.ssl.certificate.verification", "false"),
                     TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.last, "any server certificate"));
    tr_clientsec_free(sec);
}

static void
test_clientsec_unused_settings_warn(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[512];

    (void)state;
    assert_int_equal(set(sec, "sasl.username", "alice"), TR_OK);
    assert_int_equal(set(sec, "ssl.ca.location", "/x/ca.crt"), TR_OK);
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.last, "uses no SASL"));
    tr_clientsec_free(sec);
}

static void
test_clientsec_properties_file(void **state)
{
    struct tr_clientsec *sec = make();
    struct warnings w = { 0 };
    char errbuf[512], *good, *bad;

    (void)state;
    good = temp_file("# client.properties\n"
                     "security.protocol = SASL_PLAINTEXT\n"
                     "sasl.mechanism=SCRAM-SHA-512\n"
                     "sasl.username=alice\n"
                     "sasl.password=alice-secret\n",
                     0644);
    bad = temp_file("security.protocol=SSL\nbootstrap.servers=x:1\n", 0600);
    assert_int_equal(
        tr_clientsec_load_file(sec, good, on_warn, &w, errbuf, sizeof(errbuf)),
        TR_OK);
    /* It holds a password and others may read it. */
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.last, good));
    assert_int_equal(
        tr_clientsec_prepare(sec, on_warn, &w, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(tr_clientsec_mech(sec), TR_CLIENTSEC_MECH_SCRAM_SHA_512);
    assert_string_equal(tr_clientsec_password(sec), "alice-secret");
    assert_int_equal(
        tr_clientsec_load_file(sec, bad, on_warn, &w, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, ":2: unknown key 'bootstrap.servers'"));
    assert_int_equal(tr_clientsec_load_file(sec, "/nonexistent/x.properties",
                                            on_warn, &w, errbuf,
                                            sizeof(errbuf)),
                     TR_ERR_IO);
    unlink(good);
    unlink(bad);
    free(good);
    free(bad);
    tr_clientsec_free(sec);
}

static void
test_clientsec_help_lists_every_property(void **state)
{
    const char *def, *help, *name;
    size_t i;

    (void)state;
    for (i = 0; (name = tr_clientsec_prop(i, &def, &help)) != NULL; i++) {
        assert_true(tr_clientsec_is_key(name));
        assert_true(strlen(help) > 0);
    }
    assert_int_equal(i, 12);
}

static void
test_clientsec_oom(void **state)
{
    struct tr_clientsec *sec = NULL;
    char errbuf[256];
    long n;
    tr_err_t err;

    (void)state;
    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        err = tr_clientsec_new(&sec);
        if (err == TR_OK) {
            err = tr_clientsec_set(sec, "sasl.username", "alice", errbuf,
                                   sizeof(errbuf));
        }
        if (err == TR_OK) {
            err = tr_clientsec_set(sec, "sasl.password", "pw", errbuf,
                                   sizeof(errbuf));
        }
        tr_alloc_fail_after(-1);
        tr_clientsec_free(sec);
        sec = NULL;
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
    }
    assert_true(n >= 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clientsec_defaults_plaintext),
        cmocka_unit_test(test_clientsec_values),
        cmocka_unit_test(test_clientsec_prepare_sasl),
        cmocka_unit_test(test_clientsec_password_file),
        cmocka_unit_test(test_clientsec_prepare_tls),
        cmocka_unit_test(test_clientsec_unused_settings_warn),
        cmocka_unit_test(test_clientsec_properties_file),
        cmocka_unit_test(test_clientsec_help_lists_every_property),
        cmocka_unit_test(test_clientsec_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
