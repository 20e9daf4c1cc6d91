/*
 * test_topics -- the topic registry on a real temporary log directory:
 * create, list, describe, delete and grow topics; name rules; the lock file;
 * and reopening after a clean close and after a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "partition.h"
#include "topics.h"

struct fixture {
    char dir[64];
    struct tr_log_config defaults;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_topics_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    tr_log_config_defaults(&fx->defaults);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(fx);
    return 0;
}

static int
exists(const struct fixture *fx, const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    return stat(path, &st) == 0;
}

static struct tr_topics *
open_ok(const struct fixture *fx)
{
    struct tr_topics *topics = NULL;
    char errbuf[512];
    tr_err_t err;

    err =
        tr_topics_open(fx->dir, &fx->defaults, &topics, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        fail_msg("tr_topics_open: %s", errbuf);
    }
    assert_non_null(topics);
    return topics;
}

struct described {
    char names[64][64];
    char values[64][64];
    enum tr_config_source sources[64];
    size_t n;
};

static void
describe_cb(const char *name, const char *value, enum tr_config_source source,
            void *arg)
{
    struct described *d = arg;

    assert_true(d->n < 64);
    snprintf(d->names[d->n], sizeof(d->names[0]), "%s", name);
    snprintf(d->values[d->n], sizeof(d->values[0]), "%s", value);
    d->sources[d->n] = source;
    d->n++;
}

/* Returns the index of 'name' in 'd' (failing if absent). */
static size_t
find(const struct described *d, const char *name)
{
    size_t i;

    for (i = 0; i < d->n; i++) {
        if (strcmp(d->names[i], name) == 0) {
            return i;
        }
    }
    fail_msg("config %s not described", name);
    return 0;
}

static void
test_topics_valid_name(void **state)
{
    char name[TR_TOPIC_NAME_MAX + 2];

    (void)state;
    assert_true(tr_topics_valid_name("logs"));
    assert_true(tr_topics_valid_name("a.b_c-D9"));
    assert_true(tr_topics_valid_name("__consumer_offsets"));
    assert_true(tr_topics_valid_name("..."));
    assert_false(tr_topics_valid_name(""));
    assert_false(tr_topics_valid_name("."));
    assert_false(tr_topics_valid_name(".."));
    assert_false(tr_topics_valid_name("a/b"));
    assert_false(tr_topics_valid_name("a b"));
    assert_false(tr_topics_valid_name("caf\xc3\xa9"));
    memset(name, 'x', TR_TOPIC_NAME_MAX);
    name[TR_TOPIC_NAME_MAX] = '\0';
    assert_true(tr_topics_valid_name(name));
    name[TR_TOPIC_NAME_MAX] = 'x';
    name[TR_TOPIC_NAME_MAX + 1] = '\0';
    assert_false(tr_topics_valid_name(name));
}

static void
test_topics_create_list_describe_delete(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    struct tr_topic_info *info = NULL;
    struct tr_partition *part;
    struct described d;
    struct tr_config_entry configs[] = {
        { "retention.ms", "3600000" },
        { "cleanup.policy", "compact,delete" },
    };
    char errbuf[512];
    size_t n, i;

    topics = open_ok(fx);
    assert_int_equal(
        tr_topics_create(topics, "zeta", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(tr_topics_create(topics, "alpha", 3, configs, 2, errbuf,
                                      sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(tr_topics_create(topics, "__internal", 1, NULL, 0, errbuf,
                                      sizeof(errbuf)),
                     TR_OK);
    assert_true(exists(fx, "alpha-0"));
    assert_true(exists(fx, "alpha-2"));
    assert_true(exists(fx, ".topics/alpha.properties"));

    assert_int_equal(tr_topics_list(topics, &info, &n), TR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(info[0].name, "__internal");
    assert_string_equal(info[1].name, "alpha");
    assert_int_equal(info[1].partitions, 3);
    assert_string_equal(info[2].name, "zeta");
    assert_int_equal(info[2].partitions, 1);
    tr_free(info);

    assert_int_equal(tr_topics_partition_count(topics, "alpha"), 3);
    assert_int_equal(tr_topics_partition_count(topics, "nope"), -1);
    part = tr_topics_partition(topics, "alpha", 2);
    assert_non_null(part);
    assert_string_equal(tr_partition_topic(part), "alpha");
    assert_int_equal(tr_partition_index(part), 2);
    tr_partition_unref(part);
    assert_null(tr_topics_partition(topics, "alpha", 3));
    assert_null(tr_topics_partition(topics, "alpha", -1));
    assert_null(tr_topics_partition(topics, "nope", 0));

    memset(&d, 0, sizeof(d));
    assert_int_equal(
        tr_topics_describe_configs(topics, "alpha", describe_cb, &d), TR_OK);
    assert_int_equal(d.n, 36); /* every topic config Kafka 3.9 has */
    i = find(&d, "file.delete.delay.ms");
    assert_string_equal(d.values[i], "60000");
    i = find(&d, "max.compaction.lag.ms");
    assert_string_equal(d.values[i], "9223372036854775807");
    i = find(&d, "preallocate");
    assert_string_equal(d.values[i], "false");
    i = find(&d, "retention.ms");
    assert_string_equal(d.values[i], "3600000");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_TOPIC);
    i = find(&d, "cleanup.policy");
    assert_string_equal(d.values[i], "compact,delete");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_TOPIC);
    i = find(&d, "segment.bytes");
    assert_string_equal(d.values[i], "1073741824");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_DEFAULT);
    i = find(&d, "min.insync.replicas");
    assert_string_equal(d.values[i], "1");
    i = find(&d, "unclean.leader.election.enable");
    assert_string_equal(d.values[i], "false");
    i = find(&d, "message.timestamp.type");
    assert_string_equal(d.values[i], "CreateTime");
    i = find(&d, "compression.type");
    assert_string_equal(d.values[i], "producer");
    i = find(&d, "delete.retention.ms");
    assert_string_equal(d.values[i], "86400000");
    i = find(&d, "min.compaction.lag.ms");
    assert_string_equal(d.values[i], "0");
    i = find(&d, "min.cleanable.dirty.ratio");
    assert_string_equal(d.values[i], "0.5");
    assert_int_equal(
        tr_topics_describe_configs(topics, "nope", describe_cb, &d),
        TR_ERR_NOT_FOUND);

    /* A partition still referenced survives deletion until it is let go. */
    part = tr_topics_partition(topics, "alpha", 0);
    assert_non_null(part);
    assert_int_equal(tr_topics_delete(topics, "alpha"), TR_OK);
    assert_int_equal(tr_topics_partition_count(topics, "alpha"), -1);
    assert_null(tr_topics_partition(topics, "alpha", 0));
    assert_false(exists(fx, ".topics/alpha.properties"));
    assert_false(exists(fx, "alpha-1"));
    assert_true(exists(fx, "alpha-0"));
    assert_int_equal(
        tr_topics_create(topics, "alpha", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_EXISTS);
    assert_string_equal(errbuf,
                        "topic 'alpha' is still being deleted; try again "
                        "later");
    tr_partition_unref(part);
    assert_false(exists(fx, "alpha-0"));
    assert_int_equal(tr_topics_delete(topics, "alpha"), TR_ERR_NOT_FOUND);

    assert_int_equal(tr_topics_list(topics, &info, &n), TR_OK);
    assert_int_equal(n, 2);
    tr_free(info);
    tr_topics_close(topics);
}

static void
test_topics_add_partitions(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    struct tr_partition *part;
    char errbuf[512];

    topics = open_ok(fx);
    assert_int_equal(
        tr_topics_create(topics, "grow", 2, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(tr_topics_add_partitions(topics, "grow", 2),
                     TR_ERR_INVALID);
    assert_int_equal(tr_topics_add_partitions(topics, "grow", 1),
                     TR_ERR_INVALID);
    assert_int_equal(tr_topics_add_partitions(topics, "nope", 5),
                     TR_ERR_NOT_FOUND);
    assert_int_equal(tr_topics_add_partitions(topics, "grow", 5), TR_OK);
    assert_int_equal(tr_topics_partition_count(topics, "grow"), 5);
    assert_true(exists(fx, "grow-4"));
    part = tr_topics_partition(topics, "grow", 4);
    assert_non_null(part);
    tr_partition_unref(part);
    tr_topics_close(topics);

    topics = open_ok(fx);
    assert_int_equal(tr_topics_partition_count(topics, "grow"), 5);
    tr_topics_close(topics);
}

static void
test_topics_create_errors(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    struct tr_config_entry unknown[] = { { "no.such.config", "1" } };
    struct tr_config_entry bad_int[] = { { "retention.ms", "soon" } };
    struct tr_config_entry bad_enum[] = { { "compression.type", "brotli" } };
    struct tr_config_entry bad_list[] = { { "cleanup.policy", "delete,x" } };
    struct tr_config_entry bad_ratio[] = {
        { "min.cleanable.dirty.ratio", "1.5" },
    };
    struct tr_config_entry bad_range[] = { { "segment.bytes", "10" } };
    char errbuf[512];

    topics = open_ok(fx);
    assert_int_equal(tr_topics_create(topics, "bad/name", 1, NULL, 0, errbuf,
                                      sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "topic name 'bad/name' is invalid"));
    assert_int_equal(
        tr_topics_create(topics, "..", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_topics_create(topics, "ok", 0, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_topics_create(topics, "ok", -3, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, unknown, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "Unknown topic config name: no.such.config");
    /* Names Kafka has that once were refused; validation alone too. */
    {
        struct tr_config_entry kafka[] = {
            { "file.delete.delay.ms", "1000" },
            { "max.compaction.lag.ms", "60000" },
            { "segment.jitter.ms", "0" },
            { "preallocate", "false" },
            { "message.downconversion.enable", "true" },
            { "message.timestamp.difference.max.ms", "3600000" },
            { "leader.replication.throttled.replicas", "" },
        };
        assert_int_equal(
            tr_topics_validate_configs(kafka, 7, errbuf, sizeof(errbuf)),
            TR_OK);
        assert_int_equal(
            tr_topics_validate_configs(unknown, 1, errbuf, sizeof(errbuf)),
            TR_ERR_CONFIG);
        kafka[1].value = "0"; /* max.compaction.lag.ms is at least 1 */
        assert_int_equal(
            tr_topics_validate_configs(kafka, 7, errbuf, sizeof(errbuf)),
            TR_ERR_CONFIG);
    }
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, bad_int, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "invalid value for retention.ms: expected "
                                "an integer, got 'soon'");
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, bad_enum, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "invalid value for compression.type: "
                                "'brotli' is not a valid value");
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, bad_list, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, bad_ratio, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_int_equal(
        tr_topics_create(topics, "ok", 1, bad_range, 1, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_string_equal(errbuf, "invalid value for segment.bytes: value 10 "
                                "is out of range [14, 2147483647]");
    /* None of the failures left anything behind. */
    assert_int_equal(tr_topics_partition_count(topics, "ok"), -1);
    assert_false(exists(fx, "ok-0"));
    assert_false(exists(fx, ".topics/ok.properties"));

    assert_int_equal(
        tr_topics_create(topics, "a.b", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(
        tr_topics_create(topics, "a.b", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_EXISTS);
    assert_int_equal(
        tr_topics_create(topics, "a_b", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_ERR_INVALID);
    assert_non_null(strstr(errbuf, "collides with existing topic 'a.b'"));
    tr_topics_close(topics);
}

static void
test_topics_lock_refuses_second_open(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics, *second = NULL;
    char errbuf[512], expect[256];

    topics = open_ok(fx);
    assert_int_equal(
        tr_topics_open(fx->dir, &fx->defaults, &second, errbuf, sizeof(errbuf)),
        TR_ERR_LOCKED);
    assert_null(second);
    snprintf(expect, sizeof(expect),
             "log.dirs %s is locked by another process (another collector "
             "holds %s/.lock)",
             fx->dir, fx->dir);
    assert_string_equal(errbuf, expect);
    tr_topics_close(topics);

    /* Released at close. */
    topics = open_ok(fx);
    tr_topics_close(topics);
}

/* Reads the recovery-point checkpoint into 'buf'. */
static void
read_checkpoint(const struct fixture *fx, char *buf, size_t len)
{
    char path[256];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint",
             fx->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void
test_topics_reopen_after_clean_close(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    struct described d;
    struct tr_config_entry configs[] = {
        { "segment.bytes", "1048576" },
        { "message.timestamp.type", "LogAppendTime" },
    };
    char errbuf[512], text[1024];
    size_t i;

    topics = open_ok(fx);
    assert_false(exists(fx, ".clean_shutdown"));
    assert_int_equal(
        tr_topics_create(topics, "logs", 2, configs, 2, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(
        tr_topics_create(topics, "other", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_int_equal(tr_topics_flush(topics), TR_OK);
    tr_topics_close(topics);
    assert_true(exists(fx, ".clean_shutdown"));
    assert_true(exists(fx, ".lock"));
    read_checkpoint(fx, text, sizeof(text));
    assert_string_equal(text, "0\n3\nlogs 0 0\nlogs 1 0\nother 0 0\n");

    topics = open_ok(fx);
    assert_false(exists(fx, ".clean_shutdown"));
    assert_int_equal(tr_topics_partition_count(topics, "logs"), 2);
    assert_int_equal(tr_topics_partition_count(topics, "other"), 1);
    memset(&d, 0, sizeof(d));
    assert_int_equal(
        tr_topics_describe_configs(topics, "logs", describe_cb, &d), TR_OK);
    i = find(&d, "segment.bytes");
    assert_string_equal(d.values[i], "1048576");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_TOPIC);
    i = find(&d, "message.timestamp.type");
    assert_string_equal(d.values[i], "LogAppendTime");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_TOPIC);
    i = find(&d, "retention.ms");
    assert_int_equal(d.sources[i], TR_CONFIG_SOURCE_DEFAULT);

    /* The checkpoint is also written by the tick, once a minute. */
    tr_topics_tick(topics, 1000);
    tr_topics_tick(topics, 1000 + 60000);
    read_checkpoint(fx, text, sizeof(text));
    assert_string_equal(text, "0\n3\nlogs 0 0\nlogs 1 0\nother 0 0\n");
    tr_topics_close(topics);
}

static void
test_topics_meta_properties(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    char errbuf[512], path[256], text[256];
    int32_t id = -1;
    FILE *f;
    size_t n;

    topics = open_ok(fx);
    assert_int_equal(
        tr_topics_meta_broker_id(topics, &id, errbuf, sizeof(errbuf)),
        TR_ERR_NOT_FOUND);
    assert_int_equal(
        tr_topics_check_broker_id(topics, 4, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(
        tr_topics_meta_broker_id(topics, &id, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(id, 4);
    snprintf(path, sizeof(path), "%s/meta.properties", fx->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_string_equal(text, "version=0\nbroker.id=4\n");
    assert_int_equal(
        tr_topics_check_broker_id(topics, 4, errbuf, sizeof(errbuf)), TR_OK);
    assert_int_equal(
        tr_topics_check_broker_id(topics, 5, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "belongs to broker.id 4, not the "
                                   "configured 5"));
    tr_topics_close(topics);
}

/* Appends one batch of 'count' records to partition 0 of 'topic'. */
static void
append_records(struct tr_topics *topics, const char *topic, int count)
{
    struct tr_batch_builder *b;
    struct tr_append_result res;
    struct tr_partition *part;
    struct tr_buf out;
    int i;

    b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    assert_non_null(b);
    for (i = 0; i < count; i++) {
        assert_int_equal(tr_batch_builder_add(b, 1700000000000 + i, NULL, -1,
                                              "hello", 5, NULL, 0),
                         TR_OK);
    }
    tr_buf_init(&out, 1 << 20);
    assert_int_equal(tr_batch_builder_finish(b, &out), TR_OK);
    part = tr_topics_partition(topics, topic, 0);
    assert_non_null(part);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&out), tr_buf_len(&out), &res),
        TR_OK);
    tr_partition_unref(part);
    tr_buf_cleanup(&out);
    tr_batch_builder_free(b);
}

static int64_t
log_end(struct tr_topics *topics, const char *topic)
{
    struct tr_partition_offsets offs;
    struct tr_partition *part;

    part = tr_topics_partition(topics, topic, 0);
    assert_non_null(part);
    tr_partition_offsets(part, &offs);
    tr_partition_unref(part);
    return offs.log_end;
}

/*
 * A child process opens the directory, writes, flushes, writes more and
 * exits without closing, as a crash would. The parent's reopen must see no
 * clean-shutdown marker, keep the topics and recover the records.
 */
static void
test_topics_unclean_reopen_recovers(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    char errbuf[512];
    pid_t pid;
    int status;

    topics = open_ok(fx);
    assert_int_equal(
        tr_topics_create(topics, "crash", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    tr_topics_close(topics);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tr_topics *child = NULL;

        if (tr_topics_open(fx->dir, &fx->defaults, &child, errbuf,
                           sizeof(errbuf)) != TR_OK) {
            _exit(1);
        }
        append_records(child, "crash", 3);
        if (tr_topics_flush(child) != TR_OK) {
            _exit(2);
        }
        tr_topics_tick(child, 0);
        tr_topics_tick(child, 60000);
        append_records(child, "crash", 2);
        _exit(0); /* no close: no marker, lock dropped by the kernel */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(exists(fx, ".clean_shutdown"));

    topics = open_ok(fx);
    assert_int_equal(tr_topics_partition_count(topics, "crash"), 1);
    /* Unflushed records were in the page cache; recovery keeps them. */
    assert_int_equal(log_end(topics, "crash"), 5);
    append_records(topics, "crash", 1);
    assert_int_equal(log_end(topics, "crash"), 6);
    tr_topics_close(topics);
    assert_true(exists(fx, ".clean_shutdown"));

    topics = open_ok(fx);
    assert_int_equal(log_end(topics, "crash"), 6);
    tr_topics_close(topics);
}

static void
test_topics_adopts_stray_partitions(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics;
    char path[256];

    snprintf(path, sizeof(path), "%s/stray-1", fx->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/not a partition", fx->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    topics = open_ok(fx);
    assert_int_equal(tr_topics_partition_count(topics, "stray"), 2);
    assert_true(exists(fx, ".topics/stray.properties"));
    assert_true(exists(fx, "stray-0"));
    tr_topics_close(topics);
    topics = open_ok(fx);
    assert_int_equal(tr_topics_partition_count(topics, "stray"), 2);
    tr_topics_close(topics);
}

static void
test_topics_bad_metadata_fails_open(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics = NULL;
    char path[256], errbuf[512], expect[512];
    FILE *f;

    topics = open_ok(fx);
    tr_topics_close(topics);
    topics = NULL;
    snprintf(path, sizeof(path), "%s/.topics/broken.properties", fx->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("partitions=2\nretention.ms=forever\n", f);
    fclose(f);
    assert_int_equal(
        tr_topics_open(fx->dir, &fx->defaults, &topics, errbuf, sizeof(errbuf)),
        TR_ERR_CONFIG);
    assert_null(topics);
    snprintf(expect, sizeof(expect), "%s:2: expected an integer, got 'forever'",
             path);
    assert_string_equal(errbuf, expect);
}

/* Fails allocation 0, 1, 2, ... until the call succeeds: no leak, no crash. */
static void
test_topics_oom_loop(void **state)
{
    struct fixture *fx = *state;
    struct tr_topics *topics = NULL;
    struct tr_config_entry configs[] = { { "retention.ms", "1000" } };
    char errbuf[512];
    tr_err_t err;
    long n;

    topics = open_ok(fx);
    for (n = 0;; n++) {
        tr_alloc_fail_after(n);
        err = tr_topics_create(topics, "oom", 2, configs, 1, errbuf,
                               sizeof(errbuf));
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_int_equal(tr_topics_partition_count(topics, "oom"), -1);
        assert_true(n < 10000);
    }
    assert_int_equal(tr_topics_partition_count(topics, "oom"), 2);
    tr_topics_close(topics);

    for (n = 0;; n++) {
        topics = NULL;
        tr_alloc_fail_after(n);
        err = tr_topics_open(fx->dir, &fx->defaults, &topics, errbuf,
                             sizeof(errbuf));
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_null(topics);
        assert_true(n < 10000);
    }
    assert_int_equal(tr_topics_partition_count(topics, "oom"), 2);
    tr_topics_close(topics);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_valid_name),
        cmocka_unit_test_setup_teardown(test_topics_create_list_describe_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_add_partitions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics_create_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics_lock_refuses_second_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_reopen_after_clean_close,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_meta_properties, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics_unclean_reopen_recovers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_adopts_stray_partitions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_bad_metadata_fails_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_oom_loop, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
