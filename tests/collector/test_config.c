/*
 * test_config -- the broker config table: Kafka's defaults, files, --set,
 * derived keys, error text, DescribeConfigs output, and agreement between
 * the table and conf/collector.properties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include <cmocka.h>

#include "alloc.h"
#include "config.h"
#include "log.h"

/* Writes 'text' to a new temporary file whose name goes into 'path'. */
static void
write_temp(char *path, const char *text)
{
    int fd;

    snprintf(path, 64, "%s", "/tmp/test_config_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void
test_config_defaults_are_kafkas(void **state)
{
    struct tr_broker_config cfg;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    (void)state;
    tr_broker_config_init(&cfg);
    assert_int_equal(cfg.broker_id, 0);
    assert_string_equal(cfg.listeners, "PLAINTEXT://127.0.0.1:9092");
    assert_null(cfg.advertised_listeners);
    assert_string_equal(cfg.log_dirs, "./var/collector");
    assert_int_equal(cfg.num_partitions, 1);
    assert_int_equal(cfg.auto_create_topics, 1);
    assert_true(cfg.log.segment_bytes == 1073741824);
    assert_true(cfg.log.segment_ms == 7LL * 24 * 3600 * 1000);
    assert_int_equal(cfg.log.index_interval_bytes, 4096);
    assert_int_equal(cfg.log.segment_index_bytes, 10485760);
    assert_true(cfg.log.flush_messages == INT64_MAX);
    assert_true(cfg.log.flush_ms == INT64_MAX);
    assert_int_equal(cfg.log.max_message_bytes, 1000012);
    assert_true(cfg.log.retention_ms == 604800000);
    assert_true(cfg.log.retention_bytes == -1);
    assert_int_equal(cfg.socket_request_max_bytes, 104857600);
    assert_int_equal(cfg.num_network_threads, cpus > 0 ? cpus : 1);
    assert_int_equal(cfg.num_io_threads, 8);
    assert_true(cfg.connections_max_idle_ms == 600000);
    assert_true(cfg.socket_write_timeout_ms == 30000);
    assert_int_equal(cfg.max_connections, 10000);
    assert_int_equal(cfg.default_replication_factor, 1);
    assert_int_equal(cfg.offsets_topic_replication_factor, 1);
    assert_string_equal(cfg.log_level, "info");
    tr_broker_config_cleanup(&cfg);
    assert_null(cfg.listeners);
}

static void
test_config_load_file(void **state)
{
    struct tr_broker_config cfg;
    char path[64], errbuf[512];

    (void)state;
    write_temp(path, "# test\n"
                     "broker.id = 3\n"
                     "listeners=PLAINTEXT://:19092\n"
                     "log.dirs=/tmp/somewhere\n"
                     "auto.create.topics.enable=FALSE\n"
                     "num.partitions=4\n"
                     "log.retention.hours=1\n"
                     "log.retention.minutes=5\n"
                     "log.roll.hours=2\n"
                     "log.segment.bytes=1048576\n"
                     "message.max.bytes=2000000\n"
                     "num.network.threads=3\n"
                     "tributary.log.level=debug\n");
    tr_broker_config_init(&cfg);
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)), TR_OK);
    unlink(path);
    assert_int_equal(cfg.broker_id, 3);
    assert_string_equal(cfg.listeners, "PLAINTEXT://:19092");
    assert_string_equal(cfg.log_dirs, "/tmp/somewhere");
    assert_int_equal(cfg.auto_create_topics, 0);
    assert_int_equal(cfg.num_partitions, 4);
    /* minutes win over hours */
    assert_true(cfg.log.retention_ms == 5 * 60000);
    assert_true(cfg.log.segment_ms == 2 * 3600000);
    assert_true(cfg.log.segment_bytes == 1048576);
    assert_int_equal(cfg.log.max_message_bytes, 2000000);
    assert_int_equal(cfg.num_network_threads, 3);
    assert_string_equal(cfg.log_level, "debug");

    /* ms wins over both, and a negative retention means forever (-1). */
    assert_int_equal(tr_broker_config_set(&cfg, "log.retention.ms=1234", errbuf,
                                          sizeof(errbuf)),
                     TR_OK);
    assert_true(cfg.log.retention_ms == 1234);
    assert_int_equal(tr_broker_config_set(&cfg, "log.retention.ms=-1", errbuf,
                                          sizeof(errbuf)),
                     TR_OK);
    assert_true(cfg.log.retention_ms == -1);
    assert_int_equal(
        tr_broker_config_set(&cfg, "log.roll.ms=60000", errbuf, sizeof(errbuf)),
        TR_OK);
    assert_true(cfg.log.segment_ms == 60000);
    tr_broker_config_cleanup(&cfg);

    tr_broker_config_init(&cfg);
    assert_int_equal(tr_broker_config_set(&cfg, "log.retention.hours=-1",
                                          errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_true(cfg.log.retention_ms == -1);
    tr_broker_config_cleanup(&cfg);
}

static void
test_config_set_overrides_and_errors(void **state)
{
    struct tr_broker_config cfg;
    char path[64], errbuf[512];

    (void)state;
    write_temp(path, "broker.id=3\nmax.connections=5\n");
    tr_broker_config_init(&cfg);
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)), TR_OK);
    unlink(path);
    assert_int_equal(
        tr_broker_config_set(&cfg, "broker.id=9", errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(cfg.broker_id, 9);
    assert_int_equal(cfg.max_connections, 5);
    assert_int_equal(tr_broker_config_set(&cfg,
                                          "advertised.listeners="
                                          "PLAINTEXT://example.org:9092",
                                          errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(cfg.advertised_listeners,
                        "PLAINTEXT://example.org:9092");

    assert_int_equal(
        tr_broker_config_set(&cfg, "broker.id=abc", errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf,
                        "--set broker.id: expected an integer, got 'abc'");
    assert_int_equal(cfg.broker_id, 9);
    assert_int_equal(
        tr_broker_config_set(&cfg, "num.partitions=0", errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "--set num.partitions: value 0 is out of "
                                "range [1, 2147483647]");
    assert_int_equal(
        tr_broker_config_set(&cfg, "no.such.key=1", errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "--set no.such.key: unknown key");
    assert_int_equal(
        tr_broker_config_set(&cfg, "broker.id", errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "--set broker.id: expected KEY=VALUE");
    assert_int_equal(
        tr_broker_config_set(&cfg, "log.dirs=/a,/b", errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "--set log.dirs: log.dirs '/a,/b' lists "
                                "several directories; the collector supports "
                                "exactly one");
    assert_int_equal(tr_broker_config_set(&cfg, "tributary.log.level=loud",
                                          errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "--set tributary.log.level: unknown log "
                                "level 'loud' (error, warn, info or debug)");
    tr_broker_config_cleanup(&cfg);
}

static void
test_config_unknown_key_warns(void **state)
{
    struct tr_broker_config cfg;
    char path[64], logpath[64], errbuf[512], expect[256], logtext[4096];
    ssize_t n;
    int logfd;

    (void)state;
    write_temp(path, "broker.id=2\n"
                     "no.such.key=localhost:2181\n"
                     "num.io.threads=4\n");
    write_temp(logpath, "");
    logfd = open(logpath, O_RDWR);
    assert_true(logfd >= 0);
    tr_log_init(TR_LOG_WARN, logfd);
    tr_broker_config_init(&cfg);
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)), TR_OK);
    tr_log_init(TR_LOG_INFO, 2);
    assert_int_equal(cfg.broker_id, 2);
    assert_int_equal(cfg.num_io_threads, 4);

    n = pread(logfd, logtext, sizeof(logtext) - 1, 0);
    assert_true(n > 0);
    logtext[n] = '\0';
    snprintf(expect, sizeof(expect), "%s:2: unknown key 'no.such.key' ignored",
             path);
    assert_non_null(strstr(logtext, expect));
    snprintf(expect, sizeof(expect),
             "%s:3: num.io.threads is accepted but has no effect", path);
    assert_non_null(strstr(logtext, expect));
    close(logfd);
    unlink(logpath);
    unlink(path);
    tr_broker_config_cleanup(&cfg);
}

static void
test_config_invalid_value_names_file_and_line(void **state)
{
    struct tr_broker_config cfg;
    char path[64], errbuf[512], expect[256];

    (void)state;
    write_temp(path, "broker.id=1\n"
                     "\n"
                     "auto.create.topics.enable=yes\n");
    tr_broker_config_init(&cfg);
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    snprintf(expect, sizeof(expect), "%s:3: expected true or false, got 'yes'",
             path);
    assert_string_equal(errbuf, expect);
    unlink(path);

    write_temp(path, "# big\nsocket.request.max.bytes=4294967296\n");
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    snprintf(expect, sizeof(expect),
             "%s:2: value 4294967296 is out of range [1, 2147483647]", path);
    assert_string_equal(errbuf, expect);
    unlink(path);

    write_temp(path, "listeners=SSL://:99999\n");
    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    snprintf(expect, sizeof(expect),
             "%s:1: listener port: value 99999 is out of range [0, 65535]",
             path);
    assert_string_equal(errbuf, expect);
    unlink(path);

    assert_int_equal(
        tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)),
        TR_ERR_IO);
    assert_non_null(strstr(errbuf, path));
    tr_broker_config_cleanup(&cfg);
}

static void
test_config_listener(void **state)
{
    char host[64], errbuf[256];
    int port = -1;

    (void)state;
    assert_int_equal(tr_broker_config_listener("PLAINTEXT://127.0.0.1:9092",
                                               host, sizeof(host), &port,
                                               errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9092);
    assert_int_equal(tr_broker_config_listener("PLAINTEXT://:0,SSL://:9", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 0);
    assert_int_equal(tr_broker_config_listener("plaintext://[::1]:19092", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 19092);

    assert_int_equal(tr_broker_config_listener("localhost:9092", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(
        errbuf, "listener 'localhost:9092' is not PROTOCOL://HOST:PORT");
    assert_int_equal(tr_broker_config_listener("SASL_SSL://h:1", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(tr_broker_config_listener("PLAINTEXT://host", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "listener 'PLAINTEXT://host' has no port");
    assert_int_equal(tr_broker_config_listener("PLAINTEXT://h:70000", host,
                                               sizeof(host), &port, errbuf,
                                               sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf,
                        "listener port: value 70000 is out of range [0, "
                        "65535]");
}

static void
test_config_listeners(void **state)
{
    struct tr_listener_spec specs[TR_LISTENERS_MAX];
    char errbuf[256];
    size_t n = 0;

    (void)state;
    assert_int_equal(tr_broker_config_listeners(
                         "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093,"
                         "sasl_plaintext://:9094,SASL_SSL://[::1]:9095",
                         NULL, specs, &n, errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(n, 4);
    assert_string_equal(specs[0].name, "PLAINTEXT");
    assert_int_equal(specs[0].protocol, TR_SEC_PLAINTEXT);
    assert_int_equal(specs[1].protocol, TR_SEC_SSL);
    assert_int_equal(specs[1].port, 9093);
    assert_string_equal(specs[2].name, "SASL_PLAINTEXT");
    assert_int_equal(specs[2].protocol, TR_SEC_SASL_PLAINTEXT);
    assert_string_equal(specs[2].host, "0.0.0.0");
    assert_int_equal(specs[3].protocol, TR_SEC_SASL_SSL);
    assert_string_equal(specs[3].host, "::1");

    /* Named listeners through listener.security.protocol.map. */
    assert_int_equal(tr_broker_config_listeners(
                         "INTERNAL://127.0.0.1:1,EXTERNAL://0.0.0.0:2",
                         "INTERNAL:PLAINTEXT,EXTERNAL:SSL", specs, &n, errbuf,
                         sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(specs[0].name, "INTERNAL");
    assert_int_equal(specs[0].protocol, TR_SEC_PLAINTEXT);
    assert_string_equal(specs[1].name, "EXTERNAL");
    assert_int_equal(specs[1].protocol, TR_SEC_SSL);

    assert_int_equal(tr_broker_config_listeners("EXTERNAL://h:2", NULL, specs,
                                                &n, errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "listener name 'EXTERNAL' is neither a "
                                "security protocol nor in "
                                "listener.security.protocol.map");
    assert_int_equal(tr_broker_config_listeners("SSL://h:2,SSL://h:3", NULL,
                                                specs, &n, errbuf,
                                                sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "listener name 'SSL' is used twice");
    assert_int_equal(tr_broker_config_listeners("PLAINTEXT://h:2,SSL://h:2",
                                                NULL, specs, &n, errbuf,
                                                sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_string_equal(errbuf, "listener port 2 is used twice");
}

static void
test_config_ssl_settings(void **state)
{
    struct tr_broker_config cfg;
    char errbuf[256];

    (void)state;
    tr_broker_config_init(&cfg);
    assert_string_equal(cfg.ssl_client_auth, "none");
    assert_string_equal(cfg.ssl_enabled_protocols, "TLSv1.2,TLSv1.3");
    assert_int_equal(tr_broker_config_set(&cfg, "ssl.client.auth=maybe", errbuf,
                                          sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "ssl.client.auth"));
    assert_int_equal(tr_broker_config_set(&cfg, "ssl.enabled.protocols=TLSv1.1",
                                          errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "ssl.enabled.protocols"));
    assert_int_equal(tr_broker_config_set(&cfg, "ssl.keystore.type=JKS", errbuf,
                                          sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_int_equal(
        tr_broker_config_set(&cfg, "listener.security.protocol.map=A:TLS",
                             errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_broker_config_set(&cfg,
                             "listener.security.protocol.map=A:SSL,B:SASL_SSL",
                             errbuf, sizeof(errbuf)),
        TR_OK);
    tr_broker_config_cleanup(&cfg);
}

struct described {
    char names[128][64];
    char values[128][64];
    int defaults[128];
    size_t n;
};

static void
describe_cb(const char *name, const char *value, int is_default, void *arg)
{
    struct described *d = arg;

    assert_true(d->n < 128);
    snprintf(d->names[d->n], sizeof(d->names[0]), "%s", name);
    snprintf(d->values[d->n], sizeof(d->values[0]), "%s",
             value ? value : "(null)");
    d->defaults[d->n] = is_default;
    d->n++;
}

static int
find_described(const struct described *d, const char *name)
{
    size_t i;

    for (i = 0; i < d->n; i++) {
        if (strcmp(d->names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void
test_config_describe(void **state)
{
    struct tr_broker_config cfg;
    struct described d;
    char errbuf[256];
    int i;

    (void)state;
    memset(&d, 0, sizeof(d));
    tr_broker_config_init(&cfg);
    assert_int_equal(tr_broker_config_set(&cfg, "log.segment.bytes=1000",
                                          errbuf, sizeof(errbuf)),
                     TR_OK);
    tr_broker_config_describe(&cfg, describe_cb, &d);
    assert_true(d.n >= 25);

    i = find_described(&d, "log.segment.bytes");
    assert_true(i >= 0);
    assert_string_equal(d.values[i], "1000");
    assert_int_equal(d.defaults[i], 0);
    i = find_described(&d, "broker.id");
    assert_true(i >= 0);
    assert_string_equal(d.values[i], "0");
    assert_int_equal(d.defaults[i], 1);
    i = find_described(&d, "auto.create.topics.enable");
    assert_string_equal(d.values[i], "true");
    i = find_described(&d, "log.retention.ms");
    assert_string_equal(d.values[i], "(null)");
    i = find_described(&d, "log.retention.hours");
    assert_string_equal(d.values[i], "168");
    i = find_described(&d, "advertised.listeners");
    assert_string_equal(d.values[i], "(null)");
    i = find_described(&d, "message.max.bytes");
    assert_string_equal(d.values[i], "1000012");
    tr_broker_config_cleanup(&cfg);
}

static void
test_config_usage_lists_every_key(void **state)
{
    struct tr_broker_config cfg;
    struct described d;
    char text[16384];
    FILE *out;
    size_t i, n;

    (void)state;
    memset(&d, 0, sizeof(d));
    tr_broker_config_init(&cfg);
    tr_broker_config_describe(&cfg, describe_cb, &d);
    tr_broker_config_cleanup(&cfg);

    out = tmpfile();
    assert_non_null(out);
    tr_broker_config_usage(out);
    rewind(out);
    n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    for (i = 0; i < d.n; i++) {
        char needle[80];

        snprintf(needle, sizeof(needle), "  %s (default: ", d.names[i]);
        assert_non_null(strstr(text, needle));
    }
    assert_non_null(strstr(text, "num.io.threads (default: 8) [accepted, no "
                                 "effect]"));
}

/*
 * conf/collector.properties must document exactly the table's keys, each as
 * "key=value" or "#key=value" at the start of a line.
 */
static void
test_config_table_matches_properties_file(void **state)
{
    struct tr_broker_config cfg, fromfile;
    struct described d, dfile;
    char path[1024], line[1024], errbuf[512];
    char keys[128][64];
    int found[128];
    size_t nkeys = 0, i, k;
    const char *top;
    FILE *f;

    (void)state;
    memset(&d, 0, sizeof(d));
    memset(&dfile, 0, sizeof(dfile));
    memset(found, 0, sizeof(found));
    top = getenv("top_srcdir");
    if (top == NULL) {
        top = ".";
    }
    snprintf(path, sizeof(path), "%s/conf/collector.properties", top);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = line;
        size_t len;

        if (*p == '#') {
            p++;
        }
        len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789.");
        if (len == 0 || p[len] != '=') {
            continue;
        }
        assert_true(nkeys < 128);
        snprintf(keys[nkeys], sizeof(keys[0]), "%.*s", (int)len, p);
        nkeys++;
    }
    fclose(f);

    tr_broker_config_init(&cfg);
    tr_broker_config_describe(&cfg, describe_cb, &d);
    for (i = 0; i < d.n; i++) {
        for (k = 0; k < nkeys; k++) {
            if (strcmp(keys[k], d.names[i]) == 0) {
                found[k]++;
                break;
            }
        }
        if (k == nkeys) {
            fail_msg("%s is in the table but not in %s", d.names[i], path);
        }
    }
    for (k = 0; k < nkeys; k++) {
        if (found[k] != 1) {
            fail_msg("%s is in %s but %s the table", keys[k], path,
                     found[k] == 0 ? "not in" : "more than once in");
        }
    }
    assert_int_equal(nkeys, d.n);

    /* The shipped file loads and sets nothing but the defaults. */
    tr_broker_config_init(&fromfile);
    assert_int_equal(
        tr_broker_config_load_file(&fromfile, path, errbuf, sizeof(errbuf)),
        TR_OK);
    tr_broker_config_describe(&fromfile, describe_cb, &dfile);
    assert_int_equal(dfile.n, d.n);
    for (i = 0; i < d.n; i++) {
        if (strcmp(d.values[i], dfile.values[i]) != 0) {
            fail_msg("%s: the file sets %s, the default is %s", d.names[i],
                     dfile.values[i], d.values[i]);
        }
    }
    tr_broker_config_cleanup(&cfg);
    tr_broker_config_cleanup(&fromfile);
}

/* Fails allocation 0, 1, 2, ... until the load succeeds: no leak, no crash. */
static void
test_config_oom_loop(void **state)
{
    struct tr_broker_config cfg;
    char path[64], errbuf[512];
    tr_err_t err;
    long n;

    (void)state;
    write_temp(path, "listeners=PLAINTEXT://:1\nlog.dirs=/x\n");
    for (n = 0;; n++) {
        tr_broker_config_init(&cfg);
        tr_alloc_fail_after(n);
        err = tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf));
        if (err == TR_OK) {
            err = tr_broker_config_set(&cfg, "tributary.log.level=warn", errbuf,
                                       sizeof(errbuf));
        }
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        tr_broker_config_cleanup(&cfg);
    }
    assert_string_equal(cfg.log_dirs, "/x");
    assert_string_equal(cfg.log_level, "warn");
    tr_broker_config_cleanup(&cfg);
    unlink(path);
}

/* Kafka's JAAS syntax for a broker's own inter-broker login. */
static void
test_config_jaas(void **state)
{
    char mod[256], user[64], pass[64], err[256];

    (void)state;
    assert_int_equal(
        tr_jaas_parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule "
            "required username=\"broker\" password=\"s3 \\\"x\\\";\";",
            mod, sizeof(mod), user, sizeof(user), pass, sizeof(pass), err,
            sizeof(err)),
        TR_OK);
    assert_string_equal(
        mod, "org.apache.kafka.common.security.scram.ScramLoginModule");
    assert_string_equal(user, "broker");
    assert_string_equal(pass, "s3 \"x\";");
    /* Bare values, other flags, comments and unknown options. */
    assert_int_equal(tr_jaas_parse("/* c */ a.B OPTIONAL // note\n username=u "
                                   "user_alice=\"x\" password=p ;",
                                   mod, sizeof(mod), user, sizeof(user), pass,
                                   sizeof(pass), err, sizeof(err)),
                     TR_OK);
    assert_string_equal(user, "u");
    assert_string_equal(pass, "p");
    /* Malformed: no flag, no ';', two entries, an open quote, no value. */
    static const char *const bad[] = {
        "a.B username=\"u\";",         "a.B required username=\"u\"",
        "a.B required; c.D required;", "a.B required password=\"p;",
        "a.B required username=;",     "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(tr_jaas_parse(bad[i], mod, sizeof(mod), user,
                                       sizeof(user), pass, sizeof(pass), err,
                                       sizeof(err)),
                         TR_ERR_CONFIG);
        assert_non_null(strstr(err, "JAAS"));
        assert_string_equal(pass, "");
    }
}

/* listener.name.*.sasl.jaas.config keys and the inter-broker listener. */
static void
test_config_inter_broker(void **state)
{
    struct tr_broker_config cfg;
    char user[64], pass[64], err[512];
    const char *name = "x";

    (void)state;
    tr_broker_config_init(&cfg);
    assert_int_equal(
        tr_broker_config_inter_broker(&cfg, &name, err, sizeof(err)), TR_OK);
    assert_null(name); /* the first listener */
    assert_int_equal(
        tr_broker_config_set(&cfg, "security.inter.broker.protocol=SASL_SSL",
                             err, sizeof(err)),
        TR_OK);
    assert_int_equal(
        tr_broker_config_inter_broker(&cfg, &name, err, sizeof(err)), TR_OK);
    assert_string_equal(name, "SASL_SSL");
    assert_int_equal(tr_broker_config_set(&cfg,
                                          "inter.broker.listener.name=INTERNAL",
                                          err, sizeof(err)),
                     TR_OK);
    assert_int_equal(
        tr_broker_config_inter_broker(&cfg, &name, err, sizeof(err)),
        TR_ERR_CONFIG);
    assert_non_null(strstr(err, "both set"));
    assert_int_equal(tr_broker_config_set(&cfg,
                                          "security.inter.broker.protocol=TLS",
                                          err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_int_equal(tr_broker_config_set(
                         &cfg, "sasl.mechanism.inter.broker.protocol=GSSAPI",
                         err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_int_equal(
        tr_broker_config_set(
            &cfg, "ssl.endpoint.identification.algorithm=", err, sizeof(err)),
        TR_OK);

    /* Not set: a clear error naming the key. */
    assert_int_equal(tr_broker_config_jaas(&cfg, "INTERNAL", "SCRAM-SHA-512",
                                           user, sizeof(user), pass,
                                           sizeof(pass), err, sizeof(err)),
                     TR_ERR_NOT_FOUND);
    assert_non_null(
        strstr(err, "listener.name.internal.scram-sha-512.sasl.jaas.config"));
    /* A bad entry fails at --set, not at the first connection. */
    assert_int_equal(
        tr_broker_config_set(
            &cfg,
            "listener.name.INTERNAL.SCRAM-SHA-512.sasl.jaas.config=nonsense",
            err, sizeof(err)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_broker_config_set(
            &cfg,
            "listener.name.INTERNAL.SCRAM-SHA-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule "
            "required username=\"broker\" password=\"old\";",
            err, sizeof(err)),
        TR_OK);
    /* A second value for the same key (any case) replaces the first. */
    assert_int_equal(
        tr_broker_config_set(
            &cfg,
            "listener.name.internal.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule "
            "required username=\"broker\" password=\"broker-secret\";",
            err, sizeof(err)),
        TR_OK);
    assert_int_equal(tr_broker_config_jaas(&cfg, "Internal", "SCRAM-SHA-512",
                                           user, sizeof(user), pass,
                                           sizeof(pass), err, sizeof(err)),
                     TR_OK);
    assert_string_equal(user, "broker");
    assert_string_equal(pass, "broker-secret");
    /* The PLAIN mechanism wants PlainLoginModule. */
    assert_int_equal(
        tr_broker_config_set(
            &cfg,
            "listener.name.internal.plain.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule "
            "required username=\"broker\" password=\"p\";",
            err, sizeof(err)),
        TR_OK);
    assert_int_equal(tr_broker_config_jaas(&cfg, "INTERNAL", "PLAIN", user,
                                           sizeof(user), pass, sizeof(pass),
                                           err, sizeof(err)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(err, "PlainLoginModule"));
    tr_broker_config_cleanup(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_kafkas),
        cmocka_unit_test(test_config_load_file),
        cmocka_unit_test(test_config_set_overrides_and_errors),
        cmocka_unit_test(test_config_unknown_key_warns),
        cmocka_unit_test(test_config_invalid_value_names_file_and_line),
        cmocka_unit_test(test_config_listener),
        cmocka_unit_test(test_config_listeners),
        cmocka_unit_test(test_config_ssl_settings),
        cmocka_unit_test(test_config_describe),
        cmocka_unit_test(test_config_usage_lists_every_key),
        cmocka_unit_test(test_config_table_matches_properties_file),
        cmocka_unit_test(test_config_oom_loop),
        cmocka_unit_test(test_config_jaas),
        cmocka_unit_test(test_config_inter_broker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
