/*
 * test_dynconf -- dynamic broker configuration (collector/dynconf.h): the
 * precedence of the per-broker set, the cluster default, the static
 * settings and the built-in defaults; AlterConfigs and
 * IncrementalAlterConfigs semantics and Kafka's refusals; DescribeConfigs
 * sources and synonyms; the hooks; the files under log.dirs, including
 * malformed ones and bad values; running out of memory.
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
#include "config.h"
#include "dynconf.h"

/* A static configuration from "key=value" settings. */
static void
static_cfg(struct tr_broker_config *cfg, const char *const *sets)
{
    char errbuf[256];

    tr_broker_config_init(cfg);
    for (; sets != NULL && *sets != NULL; sets++) {
        assert_int_equal(
            tr_broker_config_set(cfg, *sets, errbuf, sizeof(errbuf)), TR_OK);
    }
}

static struct tr_dynconf *
new_dc(const char *const *sets)
{
    struct tr_broker_config cfg;
    struct tr_dynconf *dc;

    static_cfg(&cfg, sets);
    assert_int_equal(tr_dynconf_new(&cfg, &dc), TR_OK);
    tr_broker_config_cleanup(&cfg);
    return dc;
}

/* Prepares and commits one change; returns the error, 'errbuf' the text. */
static tr_err_t
change(struct tr_dynconf *dc, enum tr_dynconf_scope scope, int replace,
       const struct tr_config_alter *alters, size_t n, char *errbuf,
       size_t errlen)
{
    struct tr_dynconf_set *set = NULL;
    tr_err_t err;

    err =
        tr_dynconf_prepare(dc, scope, alters, n, replace, &set, errbuf, errlen);
    if (err != TR_OK) {
        assert_null(set);
        return err;
    }
    return tr_dynconf_commit(dc, scope, set, errbuf, errlen);
}

static void
set1(struct tr_dynconf *dc, enum tr_dynconf_scope scope, const char *key,
     const char *value)
{
    struct tr_config_alter a = { key, value,
                                 value ? TR_CONFIG_OP_SET
                                       : TR_CONFIG_OP_DELETE };
    char errbuf[512];

    assert_int_equal(change(dc, scope, 0, &a, 1, errbuf, sizeof(errbuf)),
                     TR_OK);
}

static struct tr_broker_config
effective(struct tr_dynconf *dc)
{
    struct tr_broker_config eff;

    assert_int_equal(tr_dynconf_effective(dc, &eff), TR_OK);
    return eff;
}

static int32_t
max_message_bytes(struct tr_dynconf *dc)
{
    struct tr_broker_config eff = effective(dc);
    int32_t v = eff.log.max_message_bytes;

    tr_broker_config_cleanup(&eff);
    return v;
}

static void
test_dynconf_precedence(void **state)
{
    static const char *const sets[] = { "message.max.bytes=5000",
                                        "log.retention.ms=60000", NULL };
    struct tr_dynconf *dc = new_dc(sets);
    struct tr_broker_config eff;

    (void)state;
    assert_int_equal(max_message_bytes(dc), 5000); /* static */
    set1(dc, TR_DYNCONF_DEFAULT, "message.max.bytes", "3000");
    assert_int_equal(max_message_bytes(dc), 3000); /* default > static */
    set1(dc, TR_DYNCONF_BROKER, "message.max.bytes", "7000");
    assert_int_equal(max_message_bytes(dc), 7000); /* broker > default */
    set1(dc, TR_DYNCONF_DEFAULT, "message.max.bytes", "4000");
    assert_int_equal(max_message_bytes(dc), 7000);
    set1(dc, TR_DYNCONF_BROKER, "message.max.bytes", NULL);
    assert_int_equal(max_message_bytes(dc), 4000); /* deleted: the default */
    set1(dc, TR_DYNCONF_DEFAULT, "message.max.bytes", NULL);
    assert_int_equal(max_message_bytes(dc), 5000); /* back to static */

    /* Kafka merges the levels: a static log.retention.ms still wins. */
    set1(dc, TR_DYNCONF_DEFAULT, "log.retention.hours", "2");
    eff = effective(dc);
    assert_true(eff.log.retention_ms == 60000);
    tr_broker_config_cleanup(&eff);
    set1(dc, TR_DYNCONF_BROKER, "log.retention.ms", "1000");
    eff = effective(dc);
    assert_true(eff.log.retention_ms == 1000);
    tr_broker_config_cleanup(&eff);
    tr_dynconf_free(dc);

    /* Without a static log.retention.ms, the dynamic hours count. */
    dc = new_dc(NULL);
    set1(dc, TR_DYNCONF_DEFAULT, "log.retention.hours", "2");
    eff = effective(dc);
    assert_true(eff.log.retention_ms == 2 * 3600000);
    tr_broker_config_cleanup(&eff);
    tr_dynconf_free(dc);
}

static void
test_dynconf_replace_and_incremental(void **state)
{
    struct tr_config_alter two[] = {
        { "message.max.bytes", "3000", TR_CONFIG_OP_SET },
        { "log.segment.bytes", "4096", TR_CONFIG_OP_SET },
    };
    struct tr_config_alter one = { "log.retention.bytes", "100000", 0 };
    struct tr_dynconf *dc = new_dc(NULL);
    struct tr_broker_config eff;
    char errbuf[512];

    (void)state;
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 1, two, 2, errbuf, sizeof(errbuf)),
        TR_OK);
    /* AlterConfigs replaces the whole set: the other keys go. */
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 1, &one, 1, errbuf, sizeof(errbuf)),
        TR_OK);
    eff = effective(dc);
    assert_int_equal(eff.log.max_message_bytes, 1000012);
    assert_true(eff.log.segment_bytes == 1073741824);
    assert_true(eff.log.retention_bytes == 100000);
    tr_broker_config_cleanup(&eff);
    /* IncrementalAlterConfigs keeps them. */
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, two, 2, errbuf, sizeof(errbuf)),
        TR_OK);
    eff = effective(dc);
    assert_int_equal(eff.log.max_message_bytes, 3000);
    assert_true(eff.log.retention_bytes == 100000);
    tr_broker_config_cleanup(&eff);
    tr_dynconf_free(dc);
}

static void
test_dynconf_lists(void **state)
{
    struct tr_config_alter a = { "max.connections.per.ip.overrides",
                                 "h1:1,h2:2", TR_CONFIG_OP_APPEND };
    struct tr_dynconf *dc = new_dc(NULL);
    struct tr_broker_config eff;
    char errbuf[512];

    (void)state;
    assert_int_equal(
        change(dc, TR_DYNCONF_DEFAULT, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_OK);
    a.value = "h2:2,h3:3";
    assert_int_equal(
        change(dc, TR_DYNCONF_DEFAULT, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_OK);
    eff = effective(dc);
    assert_string_equal(eff.max_connections_per_ip_overrides, "h1:1,h2:2,h3:3");
    tr_broker_config_cleanup(&eff);
    a.op = TR_CONFIG_OP_SUBTRACT;
    a.value = "h1:1,h3:3";
    assert_int_equal(
        change(dc, TR_DYNCONF_DEFAULT, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_OK);
    eff = effective(dc);
    assert_string_equal(eff.max_connections_per_ip_overrides, "h2:2");
    tr_broker_config_cleanup(&eff);
    /* APPEND on a key that is not a list: Kafka's refusal. */
    a.name = "message.max.bytes";
    a.op = TR_CONFIG_OP_APPEND;
    a.value = "1";
    assert_int_equal(
        change(dc, TR_DYNCONF_DEFAULT, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_string_equal(errbuf, "Config value append is not allowed for "
                                "config key: message.max.bytes");
    tr_dynconf_free(dc);
}

static void
test_dynconf_refusals(void **state)
{
    struct tr_config_alter ro[] = {
        { "log.dirs", "/x", TR_CONFIG_OP_SET },
        { "message.max.bytes", "3000", TR_CONFIG_OP_SET },
        { "num.network.threads", "4", TR_CONFIG_OP_SET },
    };
    struct tr_config_alter a = { "ssl.keystore.location", "/k.pem", 0 };
    struct tr_config_alter dup[] = {
        { "message.max.bytes", "3000", TR_CONFIG_OP_SET },
        { "message.max.bytes", "4000", TR_CONFIG_OP_SET },
    };
    struct tr_dynconf *dc = new_dc(NULL);
    char errbuf[512];

    (void)state;
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 1, ro, 3, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_string_equal(errbuf, "Cannot update these configs dynamically: "
                                "Set(log.dirs, num.network.threads)");
    assert_int_equal(
        change(dc, TR_DYNCONF_DEFAULT, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "broker id must be specified: "
                                   "Set(ssl.keystore.location)"));
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, dup, 2, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "duplicate"));

    a.name = "no.such.key";
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "Unknown broker config: no.such.key");
    a.name = "message.max.bytes";
    a.value = "big";
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "Invalid value big for configuration "
                                   "message.max.bytes"));
    a.value = "-5";
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    a.name = "max.connections.per.ip.overrides";
    a.value = "nocount";
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "max.connections.per.ip.overrides"));
    a.value = NULL; /* SET with a null value */
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    /* Nothing of the above changed anything. */
    assert_int_equal(max_message_bytes(dc), 1000012);
    /* Deleting a read-only key that is not set is not a change of it. */
    ro[0].op = TR_CONFIG_OP_DELETE;
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, ro, 2, errbuf, sizeof(errbuf)), TR_OK);
    tr_dynconf_free(dc);
}

/* What the describe callback saw, for one key. */
struct seen {
    const char *want;
    int found, source, read_only, sensitive;
    char value[64];
    size_t nsyn;
    struct {
        char name[64], value[64];
        int source;
    } syn[8];
    size_t count;
};

static void
describe_cb(const char *name, const char *value, int source, int read_only,
            int sensitive, const struct tr_dynconf_synonym *syn, size_t nsyn,
            void *arg)
{
    struct seen *s = arg;
    size_t i;

    s->count++;
    if (strcmp(name, s->want) != 0) {
        return;
    }
    s->found = 1;
    s->source = source;
    s->read_only = read_only;
    s->sensitive = sensitive;
    snprintf(s->value, sizeof(s->value), "%s", value ? value : "(null)");
    s->nsyn = nsyn;
    for (i = 0; i < nsyn && i < 8; i++) {
        snprintf(s->syn[i].name, sizeof(s->syn[i].name), "%s", syn[i].name);
        snprintf(s->syn[i].value, sizeof(s->syn[i].value), "%s",
                 syn[i].value ? syn[i].value : "(null)");
        s->syn[i].source = syn[i].source;
    }
}

static struct seen
describe(struct tr_dynconf *dc, enum tr_dynconf_scope scope, const char *key)
{
    struct seen s;

    memset(&s, 0, sizeof(s));
    s.want = key;
    tr_dynconf_describe(dc, scope, describe_cb, &s);
    return s;
}

static void
test_dynconf_describe(void **state)
{
    static const char *const sets[] = { "message.max.bytes=5000",
                                        "ssl.key.password=secret", NULL };
    struct tr_dynconf *dc = new_dc(sets);
    struct seen s;

    (void)state;
    s = describe(dc, TR_DYNCONF_BROKER, "message.max.bytes");
    assert_true(s.found);
    assert_int_equal(s.source, TR_DYNCONF_SOURCE_STATIC);
    assert_false(s.read_only);
    assert_int_equal(s.nsyn, 2);
    set1(dc, TR_DYNCONF_DEFAULT, "message.max.bytes", "3000");
    set1(dc, TR_DYNCONF_BROKER, "message.max.bytes", "7000");
    s = describe(dc, TR_DYNCONF_BROKER, "message.max.bytes");
    assert_string_equal(s.value, "7000");
    assert_int_equal(s.source, TR_DYNCONF_SOURCE_DYNAMIC_BROKER);
    assert_int_equal(s.nsyn, 4);
    assert_string_equal(s.syn[0].value, "7000");
    assert_int_equal(s.syn[0].source, TR_DYNCONF_SOURCE_DYNAMIC_BROKER);
    assert_string_equal(s.syn[1].value, "3000");
    assert_int_equal(s.syn[1].source, TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT);
    assert_string_equal(s.syn[2].value, "5000");
    assert_int_equal(s.syn[2].source, TR_DYNCONF_SOURCE_STATIC);
    assert_string_equal(s.syn[3].value, "1000012");
    assert_int_equal(s.syn[3].source, TR_DYNCONF_SOURCE_DEFAULT);

    /* Read-only keys and their sources. */
    s = describe(dc, TR_DYNCONF_BROKER, "log.dirs");
    assert_true(s.read_only);
    assert_int_equal(s.source, TR_DYNCONF_SOURCE_DEFAULT);
    s = describe(dc, TR_DYNCONF_BROKER, "ssl.key.password");
    assert_true(s.sensitive);
    assert_string_equal(s.value, "(null)");
    assert_string_equal(s.syn[0].value, "(null)");

    /* log.retention.ms: its synonyms are the keys it derives from. */
    set1(dc, TR_DYNCONF_DEFAULT, "log.retention.hours", "5");
    s = describe(dc, TR_DYNCONF_BROKER, "log.retention.ms");
    assert_int_equal(s.source, TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT);
    assert_int_equal(s.nsyn, 2);
    assert_string_equal(s.syn[0].name, "log.retention.hours");
    assert_string_equal(s.syn[0].value, "5");
    assert_string_equal(s.syn[1].value, "168");
    assert_int_equal(s.syn[1].source, TR_DYNCONF_SOURCE_DEFAULT);

    /* The default resource lists only what the default set holds. */
    s = describe(dc, TR_DYNCONF_DEFAULT, "message.max.bytes");
    assert_int_equal(s.count, 2);
    assert_string_equal(s.value, "3000");
    assert_int_equal(s.source, TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT);
    tr_dynconf_free(dc);
}

struct hook_log {
    unsigned applied, checked;
    int calls;
    int refuse_tls;
};

static tr_err_t
check_hook(void *arg, unsigned what, const struct tr_broker_config *cfg,
           char *errbuf, size_t errlen)
{
    struct hook_log *h = arg;

    (void)cfg;
    h->checked |= what;
    if (h->refuse_tls && (what & TR_DYNCONF_TLS)) {
        snprintf(errbuf, errlen, "ssl.keystore.location: cannot load");
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static void
apply_hook(void *arg, unsigned what, const struct tr_broker_config *cfg)
{
    struct hook_log *h = arg;

    (void)cfg;
    h->applied |= what;
    h->calls++;
}

static void
test_dynconf_hooks(void **state)
{
    struct hook_log h = { 0, 0, 0, 1 };
    struct tr_dynconf_hooks hooks = { check_hook, apply_hook, &h };
    struct tr_config_alter a = { "ssl.keystore.location", "/k.pem", 0 };
    struct tr_dynconf *dc = new_dc(NULL);
    char errbuf[512];

    (void)state;
    tr_dynconf_set_hooks(dc, &hooks);
    set1(dc, TR_DYNCONF_DEFAULT, "max.connections", "5");
    assert_int_equal(h.applied, TR_DYNCONF_CONNS);
    set1(dc, TR_DYNCONF_DEFAULT, "max.connections", "5");
    assert_int_equal(h.calls, 1); /* no change, no call */
    set1(dc, TR_DYNCONF_BROKER, "log.cleaner.threads", "2");
    assert_int_equal(h.applied, TR_DYNCONF_CONNS | TR_DYNCONF_CLEANER);
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "ssl.keystore.location: cannot load");
    assert_int_equal(h.calls, 2);
    h.refuse_tls = 0;
    assert_int_equal(
        change(dc, TR_DYNCONF_BROKER, 0, &a, 1, errbuf, sizeof(errbuf)), TR_OK);
    assert_true(h.applied & TR_DYNCONF_TLS);
    tr_dynconf_set_hooks(dc, NULL);
    tr_dynconf_free(dc);
}

/* A fresh directory under /tmp; 'dir' has room for 64 bytes. */
static void
temp_dir(char *dir)
{
    snprintf(dir, 64, "/tmp/test_dynconf_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/.brokers", dir);
    (void)mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/.brokers/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
remove_dir(const char *dir)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_dynconf_persist(void **state)
{
    struct tr_dynconf *dc = new_dc(NULL);
    char dir[64], path[256], errbuf[512], text[256];
    struct tr_broker_config eff;
    FILE *f;
    size_t n;

    (void)state;
    temp_dir(dir);
    assert_int_equal(tr_dynconf_open_dir(dc, dir, errbuf, sizeof(errbuf)),
                     TR_OK);
    set1(dc, TR_DYNCONF_BROKER, "message.max.bytes", "7000");
    set1(dc, TR_DYNCONF_DEFAULT, "log.retention.ms", "1000");
    set1(dc, TR_DYNCONF_DEFAULT, "max.connections.per.ip.overrides", "a\"b:1");
    tr_dynconf_free(dc);

    snprintf(path, sizeof(path), "%s/.brokers/0.json", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_string_equal(text,
                        "{\"version\":1,\"config\":{\"message.max.bytes\":"
                        "\"7000\"}}");

    dc = new_dc(NULL);
    assert_int_equal(tr_dynconf_open_dir(dc, dir, errbuf, sizeof(errbuf)),
                     TR_OK);
    eff = effective(dc);
    assert_int_equal(eff.log.max_message_bytes, 7000);
    assert_true(eff.log.retention_ms == 1000);
    assert_string_equal(eff.max_connections_per_ip_overrides, "a\"b:1");
    tr_broker_config_cleanup(&eff);
    tr_dynconf_free(dc);
    remove_dir(dir);
}

static void
test_dynconf_malformed_files(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "not json",
        "{\"version\":1,\"config\":[]}",
        "{\"version\":1,\"config\":{\"message.max.bytes\":7000}}",
        "{\"version\":1,\"config\":{\"a\":\"1\",\"a\":\"2\"}}",
        "{\"version\":1,\"config\":{\"message.max.bytes\":",
        "{\"version\":1,\"config\":{\"message.max.bytes\":null}}",
    };
    char dir[64], errbuf[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tr_dynconf *dc = new_dc(NULL);

        temp_dir(dir);
        write_file(dir, "<default>.json", bad[i]);
        errbuf[0] = '\0';
        assert_int_equal(tr_dynconf_open_dir(dc, dir, errbuf, sizeof(errbuf)),
                         TR_ERR_CORRUPT);
        assert_non_null(strstr(errbuf, "<default>.json"));
        assert_int_equal(max_message_bytes(dc), 1000012);
        tr_dynconf_free(dc);
        remove_dir(dir);
    }
}

static void
test_dynconf_bad_entries_skipped(void **state)
{
    struct tr_dynconf *dc = new_dc(NULL);
    char dir[64], errbuf[512];
    struct tr_broker_config eff;
    struct seen s;

    (void)state;
    temp_dir(dir);
    write_file(dir, "<default>.json",
               "{\"version\":1,\"config\":{\"message.max.bytes\":\"abc\","
               "\"log.dirs\":\"/x\",\"ssl.keystore.location\":\"/k\","
               "\"no.such.key\":\"1\",\"log.segment.bytes\":\"4096\"}}");
    write_file(dir, "0.json",
               "{\"version\":1,\"config\":{\"max.connections\":\"0\","
               "\"max.connections.per.ip\":\"7\"}}");
    assert_int_equal(tr_dynconf_open_dir(dc, dir, errbuf, sizeof(errbuf)),
                     TR_OK);
    eff = effective(dc);
    assert_int_equal(eff.log.max_message_bytes, 1000012);
    assert_true(eff.log.segment_bytes == 4096);
    assert_string_equal(eff.log_dirs, "./var/collector");
    assert_null(eff.ssl_keystore_location);
    assert_int_equal(eff.max_connections, 10000); /* 0 is below the minimum */
    assert_int_equal(eff.max_connections_per_ip, 7);
    tr_broker_config_cleanup(&eff);
    /* The skipped entries are gone from DescribeConfigs too. */
    s = describe(dc, TR_DYNCONF_DEFAULT, "log.segment.bytes");
    assert_int_equal(s.count, 1);
    tr_dynconf_free(dc);
    remove_dir(dir);
}

static void
test_dynconf_load_json(void **state)
{
    static const char doc[] =
        "{\"version\":1,\"config\":{\"message.max.bytes\":\"2000\"}}";
    struct tr_dynconf *dc = new_dc(NULL);
    char errbuf[512];

    (void)state;
    assert_int_equal(tr_dynconf_load_json(dc, TR_DYNCONF_DEFAULT, doc,
                                          strlen(doc), "/config/x", errbuf,
                                          sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(max_message_bytes(dc), 2000);
    assert_int_equal(tr_dynconf_load_json(dc, TR_DYNCONF_DEFAULT, "{", 1,
                                          "/config/brokers/<default>", errbuf,
                                          sizeof(errbuf)),
                     TR_ERR_CORRUPT);
    assert_non_null(strstr(errbuf, "/config/brokers/<default>"));
    assert_int_equal(max_message_bytes(dc), 2000); /* unchanged */
    assert_int_equal(tr_dynconf_load_json(dc, TR_DYNCONF_DEFAULT, NULL, 0,
                                          "/config/x", errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(max_message_bytes(dc), 1000012); /* no znode: empty */
    tr_dynconf_free(dc);
}

static void
test_dynconf_oom_loop(void **state)
{
    struct tr_config_alter a[] = {
        { "message.max.bytes", "4000", TR_CONFIG_OP_SET },
        { "max.connections.per.ip.overrides", "h:1", TR_CONFIG_OP_APPEND },
    };
    char errbuf[512];
    long n;

    (void)state;
    for (n = 0;; n++) {
        struct tr_dynconf *dc = new_dc(NULL);
        struct seen s;
        tr_err_t err;

        tr_alloc_fail_after(n);
        err = change(dc, TR_DYNCONF_BROKER, 0, a, 2, errbuf, sizeof(errbuf));
        s = describe(dc, TR_DYNCONF_BROKER, "message.max.bytes");
        tr_alloc_fail_after(-1);
        (void)s;
        if (err == TR_OK) {
            assert_int_equal(max_message_bytes(dc), 4000);
            tr_dynconf_free(dc);
            break;
        }
        assert_int_equal(max_message_bytes(dc), 1000012);
        tr_dynconf_free(dc);
        assert_true(n < 100000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynconf_precedence),
        cmocka_unit_test(test_dynconf_replace_and_incremental),
        cmocka_unit_test(test_dynconf_lists),
        cmocka_unit_test(test_dynconf_refusals),
        cmocka_unit_test(test_dynconf_describe),
        cmocka_unit_test(test_dynconf_hooks),
        cmocka_unit_test(test_dynconf_persist),
        cmocka_unit_test(test_dynconf_malformed_files),
        cmocka_unit_test(test_dynconf_bad_entries_skipped),
        cmocka_unit_test(test_dynconf_load_json),
        cmocka_unit_test(test_dynconf_oom_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
