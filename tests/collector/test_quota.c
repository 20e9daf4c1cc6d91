/*
 * test_quota -- client quotas: Kafka's precedence of entities, the
 * sampled rate and the throttle time it gives, sensors shared as far as
 * the matched entity names them, the bounded sensor table, validation of
 * changes, and the file surviving a reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quota.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_quota.XXXXXX");
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

static struct tr_quotas *
open_quotas(void)
{
    struct tr_quotas *q;
    char err[256];

    assert_int_equal(tr_quotas_open(dir, 11, 1000, 100, &q, err, sizeof(err)),
                     TR_OK);
    return q;
}

/* Sets one key of an entity; 'user'/'client' "<default>" means default. */
static int16_t
set(struct tr_quotas *q, const char *user, const char *client,
    enum tr_quota_key key, double value)
{
    struct tr_quota_entity e = { NULL, 0, NULL, 0 };
    struct tr_quota_op op = { key, value, 0 };
    char msg[256];

    if (user != NULL && strcmp(user, "<default>") == 0) {
        e.user_default = 1;
    } else {
        e.user = user;
    }
    if (client != NULL && strcmp(client, "<default>") == 0) {
        e.client_default = 1;
    } else {
        e.client_id = client;
    }
    return tr_quotas_alter(q, &e, &op, 1, 0, msg, sizeof(msg));
}

static double
bound(struct tr_quotas *q, const char *user, const char *client)
{
    double b = -1;

    if (!tr_quotas_bound(q, user, client, TR_QUOTA_PRODUCER_BYTE_RATE, &b)) {
        return 0;
    }
    return b;
}

/* Adds the eight levels from least to most specific, checking each wins. */
static void
test_precedence(void **state)
{
    struct tr_quotas *q = open_quotas();
    const enum tr_quota_key P = TR_QUOTA_PRODUCER_BYTE_RATE;

    (void)state;
    assert_false(tr_quotas_active(q, P));
    assert_true(bound(q, "alice", "app") == 0);
    assert_int_equal(set(q, NULL, "<default>", P, 8), 0);
    assert_true(tr_quotas_active(q, P));
    assert_false(tr_quotas_active(q, TR_QUOTA_CONSUMER_BYTE_RATE));
    assert_true(bound(q, "alice", "app") == 8);
    assert_int_equal(set(q, NULL, "app", P, 7), 0);
    assert_true(bound(q, "alice", "app") == 7);
    assert_true(bound(q, "alice", "other") == 8);
    assert_int_equal(set(q, "<default>", NULL, P, 6), 0);
    assert_true(bound(q, "alice", "app") == 6);
    assert_int_equal(set(q, "<default>", "<default>", P, 5), 0);
    assert_true(bound(q, "alice", "app") == 5);
    assert_int_equal(set(q, "<default>", "app", P, 4), 0);
    assert_true(bound(q, "alice", "app") == 4);
    assert_true(bound(q, "alice", "other") == 5);
    assert_int_equal(set(q, "alice", NULL, P, 3), 0);
    assert_true(bound(q, "alice", "app") == 3);
    assert_true(bound(q, "bob", "app") == 4);
    assert_int_equal(set(q, "alice", "<default>", P, 2), 0);
    assert_true(bound(q, "alice", "app") == 2);
    assert_int_equal(set(q, "alice", "app", P, 1), 0);
    assert_true(bound(q, "alice", "app") == 1);
    assert_true(bound(q, "alice", "other") == 2);
    /* Precedence is per key: a consumer quota elsewhere does not hide it. */
    assert_int_equal(set(q, "carol", "app", TR_QUOTA_CONSUMER_BYTE_RATE, 100),
                     0);
    assert_true(bound(q, "carol", "app") == 4);
    tr_quotas_free(q);
}

/* Many entities: each found, and removals (which move others) keep it so. */
static void
test_many_entities(void **state)
{
    struct tr_quotas *q = open_quotas();
    struct tr_quota_entity e = { NULL, 0, NULL, 0 };
    struct tr_quota_op rm = { TR_QUOTA_PRODUCER_BYTE_RATE, 0, 1 };
    char name[32], msg[128];
    int i;

    (void)state;
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_int_equal(
            set(q, name, NULL, TR_QUOTA_PRODUCER_BYTE_RATE, 1000 + i), 0);
    }
    for (i = 0; i < 300; i += 2) {
        snprintf(name, sizeof(name), "user%d", i);
        e.user = name;
        assert_int_equal(tr_quotas_alter(q, &e, &rm, 1, 0, msg, sizeof(msg)),
                         0);
    }
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_true(bound(q, name, "c") == (i % 2 ? 1000 + i : 0));
    }
    tr_quotas_free(q);
}

/*
 * Kafka's arithmetic: 11 windows of 1 s, a fresh sensor's rate is taken
 * over at least 10 s, and a client over its quota waits
 * (O - T) / T * W.
 */
static void
test_rate_and_throttle(void **state)
{
    struct tr_quotas *q = open_quotas();
    const enum tr_quota_key P = TR_QUOTA_PRODUCER_BYTE_RATE;
    int64_t t0 = 1000000, t;

    (void)state;
    assert_int_equal(set(q, "alice", NULL, P, 1000), 0);
    /* 10 000 bytes over a 10 s window: 1000 B/s, exactly the quota. */
    assert_int_equal(tr_quotas_record(q, "alice", "a", P, 10000, t0), 0);
    /* 10 000 more: 2000 B/s, so (2000 - 1000) / 1000 * 10 s. */
    assert_int_equal(tr_quotas_record(q, "alice", "a", P, 10000, t0), 10000);
    /* Another client id of alice shares the user's budget. */
    assert_int_equal(tr_quotas_record(q, "alice", "b", P, 0, t0), 10000);
    /* Others have no quota. */
    assert_int_equal(tr_quotas_record(q, "bob", "a", P, 1e9, t0), 0);
    /* Once the samples have expired the client is forgiven. */
    t = t0 + 11 * 1000;
    assert_int_equal(tr_quotas_record(q, "alice", "a", P, 100, t), 0);
    /* Steady 900 B/s for 30 s stays within; a burst does not. */
    for (t = t0 + 12000; t < t0 + 42000; t += 100) {
        assert_int_equal(tr_quotas_record(q, "alice", "a", P, 90, t), 0);
    }
    assert_true(tr_quotas_record(q, "alice", "a", P, 6000, t) > 0);
    tr_quotas_free(q);
}

/* Per client id under clients/<default>: each id its own budget. */
static void
test_default_sensors_and_bound(void **state)
{
    struct tr_quotas *q = open_quotas();
    const enum tr_quota_key C = TR_QUOTA_CONSUMER_BYTE_RATE;
    char id[32];
    int i;

    (void)state;
    assert_int_equal(set(q, NULL, "<default>", C, 1000), 0);
    assert_int_equal(tr_quotas_record(q, "u", "one", C, 20000, 0), 10000);
    assert_int_equal(tr_quotas_record(q, "u", "two", C, 5000, 0), 0);
    assert_int_equal(tr_quotas_sensor_count(q), 2);
    /* A client cycling ids: the table stays within its bound (100). */
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        (void)tr_quotas_record(q, "u", id, C, 1, 0);
        assert_true(tr_quotas_sensor_count(q) <= 100);
    }
    /* Idle sensors past the sampled time go when a new one comes. */
    (void)tr_quotas_record(q, "u", "late", C, 1, 60000);
    assert_int_equal(tr_quotas_sensor_count(q), 1);
    tr_quotas_free(q);
}

static void
test_request_percentage_capped(void **state)
{
    struct tr_quotas *q = open_quotas();
    const enum tr_quota_key R = TR_QUOTA_REQUEST_PERCENTAGE;

    (void)state;
    assert_int_equal(set(q, "<default>", NULL, R, 10), 0);
    /* 50 s of thread time in 10 s: far over, but waits one window. */
    assert_int_equal(tr_quotas_record(q, "x", "c", R, 5000, 0), 1000);
    tr_quotas_free(q);
}

struct listing {
    int n;
    char text[1024];
};

static void
list_cb(const struct tr_quota_entity *e, const struct tr_quota_values *v,
        void *arg)
{
    struct listing *l = arg;
    size_t used = strlen(l->text);

    snprintf(l->text + used, sizeof(l->text) - used, "%s/%s:%x;",
             e->user_default ? "<default>"
             : e->user       ? e->user
                             : "-",
             e->client_default ? "<default>"
             : e->client_id    ? e->client_id
                               : "-",
             v->set);
    l->n++;
}

static void
test_validation_and_reopen(void **state)
{
    struct tr_quotas *q = open_quotas();
    struct tr_quota_entity none = { NULL, 0, NULL, 0 };
    struct tr_quota_entity odd = { "we ird/\xc3\xa9", 0, "app", 0 };
    struct tr_quota_op ops[2] = {
        { TR_QUOTA_PRODUCER_BYTE_RATE, 1048576, 0 },
        { TR_QUOTA_REQUEST_PERCENTAGE, 12.5, 0 },
    };
    struct tr_quota_op bad = { TR_QUOTA_PRODUCER_BYTE_RATE, 1.5, 0 };
    struct tr_quota_op neg = { TR_QUOTA_REQUEST_PERCENTAGE, -1, 0 };
    struct tr_quota_op rm = { TR_QUOTA_PRODUCER_BYTE_RATE, 0, 1 };
    struct listing l;
    char msg[256], path[128], text[512];
    double b;
    FILE *f;
    size_t n;

    (void)state;
    assert_int_equal(tr_quotas_alter(q, &none, ops, 1, 0, msg, sizeof(msg)),
                     42);
    assert_int_equal(tr_quotas_alter(q, &odd, &bad, 1, 0, msg, sizeof(msg)),
                     42);
    assert_non_null(strstr(msg, "Long"));
    assert_int_equal(tr_quotas_alter(q, &odd, &neg, 1, 0, msg, sizeof(msg)),
                     42);
    /* validate_only changes nothing. */
    assert_int_equal(tr_quotas_alter(q, &odd, ops, 2, 1, msg, sizeof(msg)), 0);
    assert_false(tr_quotas_active(q, TR_QUOTA_PRODUCER_BYTE_RATE));
    assert_int_equal(tr_quotas_alter(q, &odd, ops, 2, 0, msg, sizeof(msg)), 0);
    assert_int_equal(set(q, "<default>", NULL, TR_QUOTA_CONSUMER_BYTE_RATE, 9),
                     0);
    tr_quotas_free(q);

    snprintf(path, sizeof(path), "%s" TR_QUOTAS_FILE, dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "users/we%20ird%2F%C3%A9/clients/app "
                                 "producer_byte_rate=1048576 "
                                 "request_percentage=12.5\n"));
    assert_non_null(strstr(text, "users/<default> consumer_byte_rate=9\n"));

    q = open_quotas();
    assert_true(
        tr_quotas_bound(q, odd.user, "app", TR_QUOTA_REQUEST_PERCENTAGE, &b));
    assert_true(b == 12.5);
    memset(&l, 0, sizeof(l));
    tr_quotas_each(q, list_cb, &l);
    assert_int_equal(l.n, 2);
    /* Removing the last values removes the entity. */
    assert_int_equal(tr_quotas_alter(q, &odd, &rm, 1, 0, msg, sizeof(msg)), 0);
    ops[0].remove = 1;
    ops[1].remove = 1;
    assert_int_equal(tr_quotas_alter(q, &odd, ops, 2, 0, msg, sizeof(msg)), 0);
    memset(&l, 0, sizeof(l));
    tr_quotas_each(q, list_cb, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.text, "<default>/-:2;");
    tr_quotas_free(q);

    /* A damaged file is refused with its line. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("# x\nusers/bob producer_byte_rate=abc\n", f);
    fclose(f);
    assert_int_equal(tr_quotas_open(dir, 11, 1000, 100, &q, text, sizeof(text)),
                     TR_ERR_CORRUPT);
    assert_non_null(strstr(text, ":2: bad value"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_and_throttle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_sensors_and_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_percentage_capped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validation_and_reopen, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
