/*
 * test_retention -- retention by time and by size (whole closed segments,
 * never the active one, the log start offset following), DeleteRecords,
 * the .deleted files and their delayed unlink, reads through descriptors
 * of deleted segments, the log-start checkpoint across a reopen of the
 * topic registry, and topic config changes (AlterConfigs and
 * IncrementalAlterConfigs semantics) that persist and reach live
 * partitions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "partition.h"
#include "topics.h"

#define T0   1700000000000LL
#define HOUR 3600000LL

struct fixture {
    char root[64];
    char dir[128];
    struct tr_log_config cfg;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->root, sizeof(f->root), "/tmp/tr-test-retention-XXXXXX");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/logs-0", f->root);
    tr_log_config_defaults(&f->cfg);
    f->cfg.segment_index_bytes = 4096;
    f->cfg.index_interval_bytes = 100;
    f->cfg.segment_bytes = 200; /* one batch a segment */
    *state = f;
    return 0;
}

static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char path[512];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(path);
        } else {
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    remove_tree(f->root);
    free(f);
    return 0;
}

/* Appends one batch of 5 keyed records stamped 'ts'. */
static void
put(struct tr_partition *part, int64_t ts)
{
    struct tr_batch_builder *b = tr_batch_builder_new(TR_CODEC_NONE, 1 << 20);
    struct tr_append_result res;
    struct tr_buf set;
    int i;

    assert_non_null(b);
    tr_buf_init(&set, 1 << 20);
    for (i = 0; i < 5; i++) {
        assert_int_equal(tr_batch_builder_add(b, ts, "key", 3,
                                              "value-value-value", 17, NULL, 0),
                         TR_OK);
    }
    assert_int_equal(tr_batch_builder_finish(b, &set), TR_OK);
    assert_int_equal(
        tr_partition_append(part, tr_buf_data(&set), tr_buf_len(&set), &res),
        TR_OK);
    tr_batch_builder_free(b);
    tr_buf_cleanup(&set);
}

static struct tr_partition *
open_part(struct fixture *f)
{
    struct tr_partition *part = NULL;

    assert_int_equal(tr_partition_open(f->dir, "logs", 0, &f->cfg, 0, 0, &part),
                     TR_OK);
    return part;
}

static int
count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t l, m = strlen(suffix);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        l = strlen(de->d_name);
        if (l > m && strcmp(de->d_name + l - m, suffix) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int64_t
log_start(struct tr_partition *part)
{
    struct tr_partition_offsets offs;

    tr_partition_offsets(part, &offs);
    return offs.log_start;
}

static void
test_retention_by_time(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_read_result rr;

    f->cfg.retention_ms = 10 * HOUR;
    f->cfg.segment_delete_delay_ms = 60000;
    part = open_part(f);
    put(part, T0);            /* 0-4 */
    put(part, T0 + HOUR);     /* 5-9 */
    put(part, T0 + 5 * HOUR); /* 10-14 */
    put(part, T0);            /* 15-19: active, old, never deleted */
    assert_int_equal(count_suffix(f->dir, ".log"), 4);

    /* Nothing is old enough yet. */
    assert_int_equal(tr_partition_retain(part, T0 + 10 * HOUR), 0);
    /* Segment 0 (newest record T0) and 5 (T0+1h) pass 10 hours. */
    assert_int_equal(tr_partition_retain(part, T0 + 11 * HOUR + 1), 2);
    assert_int_equal(log_start(part), 10);
    assert_int_equal(count_suffix(f->dir, ".log"), 2);
    assert_int_equal(count_suffix(f->dir, ".log.deleted"), 2);
    assert_int_equal(tr_partition_read(part, 9, 1000, 100, &rr),
                     TR_ERR_OUT_OF_RANGE);
    assert_int_equal(tr_partition_read(part, 10, 1000, 100, &rr), TR_OK);
    assert_true(rr.len > 0);
    close(rr.fd);

    /* Far in the future: all but the active segment. */
    assert_int_equal(tr_partition_retain(part, T0 + 1000 * HOUR), 1);
    assert_int_equal(log_start(part), 15);
    assert_int_equal(count_suffix(f->dir, ".log"), 1);

    /* .deleted files go once log.segment.delete.delay.ms has passed. */
    tr_partition_tick(part, T0 + 11 * HOUR + 30000);
    assert_int_equal(count_suffix(f->dir, ".log.deleted"), 3);
    tr_partition_tick(part, T0 + 11 * HOUR + 60001);
    assert_int_equal(count_suffix(f->dir, ".log.deleted"), 1);
    assert_int_equal(count_suffix(f->dir, ".index.deleted"), 1);
    tr_partition_unref(part);
    /* Leftovers are unlinked at the next open; the log start holds. */
    part = open_part(f);
    assert_int_equal(count_suffix(f->dir, ".deleted"), 0);
    assert_int_equal(log_start(part), 15);
    tr_partition_unref(part);
}

static void
test_retention_by_size(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_partition_offsets offs;
    int64_t one;

    f->cfg.retention_ms = -1;
    f->cfg.segment_delete_delay_ms = 0; /* unlink at once */
    part = open_part(f);
    put(part, T0);
    tr_partition_offsets(part, &offs);
    one = offs.size_bytes;
    put(part, T0);
    put(part, T0);
    put(part, T0);
    put(part, T0); /* 5 segments of 'one' bytes */
    f->cfg.retention_bytes = 2 * one + 1;
    tr_partition_set_config(part, &f->cfg);
    /* Oldest first while over the limit: 5 -> 3 segments (3 > 2.x, but
     * deleting a third would go under it). */
    assert_int_equal(tr_partition_retain(part, T0), 2);
    tr_partition_offsets(part, &offs);
    assert_int_equal(offs.log_start, 10);
    assert_int_equal(offs.size_bytes, 3 * one);
    assert_int_equal(count_suffix(f->dir, ".deleted"), 0);
    /* A limit below the active segment still keeps the active segment. */
    f->cfg.retention_bytes = 0;
    tr_partition_set_config(part, &f->cfg);
    assert_int_equal(tr_partition_retain(part, T0), 2);
    assert_int_equal(log_start(part), 20);
    assert_int_equal(count_suffix(f->dir, ".log"), 1);
    tr_partition_unref(part);
}

static void
test_retention_needs_delete_policy(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;

    f->cfg.retention_ms = 1;
    f->cfg.cleanup_policy = TR_LOG_CLEANUP_COMPACT;
    part = open_part(f);
    put(part, T0);
    put(part, T0);
    assert_int_equal(tr_partition_retain(part, T0 + HOUR), 0);
    f->cfg.cleanup_policy = TR_LOG_CLEANUP_COMPACT | TR_LOG_CLEANUP_DELETE;
    tr_partition_set_config(part, &f->cfg);
    assert_int_equal(tr_partition_retain(part, T0 + HOUR), 1);
    tr_partition_unref(part);
}

static void
test_retention_delete_records(void **state)
{
    struct fixture *f = *state;
    struct tr_partition *part;
    struct tr_read_result rr, held;
    int64_t low;
    uint8_t byte;

    f->cfg.segment_delete_delay_ms = 0;
    part = open_part(f);
    put(part, T0); /* 0-4 */
    put(part, T0); /* 5-9 */
    put(part, T0); /* 10-14 */
    /* A fetch holding segment 0 keeps reading after its deletion. */
    assert_int_equal(tr_partition_read(part, 0, 1000, 100, &held), TR_OK);
    assert_true(held.len > 0);

    assert_int_equal(tr_partition_delete_records(part, 7, &low), TR_OK);
    assert_int_equal(low, 7);
    assert_int_equal(count_suffix(f->dir, ".log"), 2); /* 0 went */
    assert_int_equal(tr_partition_read(part, 6, 1000, 100, &rr),
                     TR_ERR_OUT_OF_RANGE);
    assert_int_equal(tr_partition_read(part, 7, 1000, 100, &rr), TR_OK);
    close(rr.fd);
    assert_int_equal(pread(held.fd, &byte, 1, held.pos + 8), 1);
    close(held.fd);

    /* Never backwards; never past the high watermark; -1 is the HW. */
    assert_int_equal(tr_partition_delete_records(part, 3, &low), TR_OK);
    assert_int_equal(low, 7);
    assert_int_equal(tr_partition_delete_records(part, 16, &low),
                     TR_ERR_OUT_OF_RANGE);
    assert_int_equal(low, 7);
    assert_int_equal(tr_partition_delete_records(part, -1, &low), TR_OK);
    assert_int_equal(low, 15);
    assert_int_equal(count_suffix(f->dir, ".log"), 1); /* the active one */
    tr_partition_unref(part);

    /* Reopened with the checkpointed value: it does not go back. */
    part = open_part(f);
    assert_int_equal(log_start(part), 10); /* the first segment's base */
    tr_partition_restore_log_start(part, 15);
    assert_int_equal(log_start(part), 15);
    tr_partition_restore_log_start(part, 12);
    assert_int_equal(log_start(part), 15);
    tr_partition_unref(part);
}

/* ---------------------------------------------------------------------- */
/* Through the topic registry                                              */

struct described {
    char value[64][64];
    char name[64][64];
    int source[64];
    int n;
};

static void
describe_cb(const char *name, const char *value, enum tr_config_source source,
            void *arg)
{
    struct described *d = arg;

    assert_true(d->n < 64);
    snprintf(d->name[d->n], sizeof(d->name[0]), "%s", name);
    snprintf(d->value[d->n], sizeof(d->value[0]), "%s", value);
    d->source[d->n] = (int)source;
    d->n++;
}

/* Value and source of 'name' as DescribeConfigs would see them. */
static const char *
described(struct tr_topics *topics, const char *topic, const char *name,
          int *source)
{
    static struct described d;
    int i;

    memset(&d, 0, sizeof(d));
    assert_int_equal(tr_topics_describe_configs(topics, topic, describe_cb, &d),
                     TR_OK);
    for (i = 0; i < d.n; i++) {
        if (strcmp(d.name[i], name) == 0) {
            *source = d.source[i];
            return d.value[i];
        }
    }
    fail_msg("config %s not described", name);
    return NULL;
}

static struct tr_topics *
open_topics(struct fixture *f, const struct tr_log_config *defaults)
{
    struct tr_topics *topics = NULL;
    char errbuf[256];

    assert_int_equal(
        tr_topics_open(f->root, defaults, &topics, errbuf, sizeof(errbuf)),
        TR_OK);
    return topics;
}

static void
test_retention_log_start_survives_restart(void **state)
{
    struct fixture *f = *state;
    struct tr_topics *topics;
    struct tr_partition *part;
    struct tr_log_config defaults;
    static const struct tr_config_entry small[] = {
        { "segment.bytes", "200" },
    };
    char errbuf[256];
    int64_t low;

    tr_log_config_defaults(&defaults);
    defaults.segment_index_bytes = 4096;
    topics = open_topics(f, &defaults);
    assert_int_equal(
        tr_topics_create(topics, "logs", 1, small, 1, errbuf, sizeof(errbuf)),
        TR_OK);
    part = tr_topics_partition(topics, "logs", 0);
    put(part, T0);
    put(part, T0);
    tr_partition_unref(part);
    /* Mid-segment: only the checkpoint can remember it. */
    assert_int_equal(tr_topics_delete_records(topics, "logs", 0, 7, &low),
                     TR_OK);
    assert_int_equal(low, 7);
    assert_int_equal(tr_topics_delete_records(topics, "logs", 1, 7, &low),
                     TR_ERR_NOT_FOUND);
    tr_topics_close(topics);

    topics = open_topics(f, &defaults);
    part = tr_topics_partition(topics, "logs", 0);
    assert_non_null(part);
    assert_int_equal(log_start(part), 7);
    tr_partition_unref(part);
    /* Retention by the registry's tick (first tick checks at once). */
    tr_topics_close(topics);
}

static void
test_retention_topic_configs_alter(void **state)
{
    struct fixture *f = *state;
    struct tr_topics *topics;
    struct tr_partition *part;
    struct tr_log_config defaults, live;
    char errbuf[256];
    int source;
    struct tr_config_alter set[] = {
        { "retention.ms", "3600000", TR_CONFIG_OP_SET },
        { "cleanup.policy", "compact", TR_CONFIG_OP_APPEND },
    };
    struct tr_config_alter bad_key[] = {
        { "retention.ms", "1", TR_CONFIG_OP_SET },
        { "no.such.config", "1", TR_CONFIG_OP_SET },
    };
    struct tr_config_alter bad_append[] = {
        { "retention.ms", "1", TR_CONFIG_OP_APPEND },
    };
    struct tr_config_alter subtract[] = {
        { "cleanup.policy", "delete", TR_CONFIG_OP_SUBTRACT },
        { "retention.ms", NULL, TR_CONFIG_OP_DELETE },
    };
    struct tr_config_alter replace[] = {
        { "segment.bytes", "1048576", 0 },
        { "retention.bytes", NULL, 0 },
    };

    tr_log_config_defaults(&defaults);
    defaults.segment_index_bytes = 4096;
    defaults.retention_bytes = 5000000; /* as if set in the broker file */
    topics = open_topics(f, &defaults);
    assert_int_equal(
        tr_topics_create(topics, "t", 1, NULL, 0, errbuf, sizeof(errbuf)),
        TR_OK);
    assert_string_equal(described(topics, "t", "retention.ms", &source),
                        "604800000");
    assert_int_equal(source, TR_CONFIG_SOURCE_DEFAULT);
    assert_string_equal(described(topics, "t", "retention.bytes", &source),
                        "5000000");
    assert_int_equal(source, TR_CONFIG_SOURCE_STATIC_BROKER);

    /* Incremental: SET and APPEND; validate_only changes nothing. */
    assert_int_equal(tr_topics_alter_configs(topics, "t", set, 2, 0, 1, errbuf,
                                             sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(described(topics, "t", "retention.ms", &source)[0], '6');
    assert_int_equal(tr_topics_alter_configs(topics, "t", set, 2, 0, 0, errbuf,
                                             sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(described(topics, "t", "retention.ms", &source),
                        "3600000");
    assert_int_equal(source, TR_CONFIG_SOURCE_TOPIC);
    assert_string_equal(described(topics, "t", "cleanup.policy", &source),
                        "delete,compact");
    part = tr_topics_partition(topics, "t", 0);
    tr_partition_config(part, &live);
    assert_int_equal(live.retention_ms, 3600000);
    assert_int_equal(live.cleanup_policy,
                     TR_LOG_CLEANUP_DELETE | TR_LOG_CLEANUP_COMPACT);
    tr_partition_unref(part);

    /* All or nothing: a bad entry leaves the rest unapplied. */
    assert_int_equal(tr_topics_alter_configs(topics, "t", bad_key, 2, 0, 0,
                                             errbuf, sizeof(errbuf)),
                     TR_ERR_CONFIG);
    assert_non_null(strstr(errbuf, "no.such.config"));
    assert_string_equal(described(topics, "t", "retention.ms", &source),
                        "3600000");
    assert_int_equal(tr_topics_alter_configs(topics, "t", bad_append, 1, 0, 0,
                                             errbuf, sizeof(errbuf)),
                     TR_ERR_INVALID);
    assert_int_equal(tr_topics_alter_configs(topics, "nope", set, 1, 0, 0,
                                             errbuf, sizeof(errbuf)),
                     TR_ERR_NOT_FOUND);

    /* SUBTRACT and DELETE. */
    assert_int_equal(tr_topics_alter_configs(topics, "t", subtract, 2, 0, 0,
                                             errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(described(topics, "t", "cleanup.policy", &source),
                        "compact");
    assert_string_equal(described(topics, "t", "retention.ms", &source),
                        "604800000");
    assert_int_equal(source, TR_CONFIG_SOURCE_DEFAULT);
    tr_topics_close(topics);

    /* Persisted: the same after a reopen. */
    topics = open_topics(f, &defaults);
    assert_string_equal(described(topics, "t", "cleanup.policy", &source),
                        "compact");
    assert_int_equal(source, TR_CONFIG_SOURCE_TOPIC);
    part = tr_topics_partition(topics, "t", 0);
    tr_partition_config(part, &live);
    assert_int_equal(live.cleanup_policy, TR_LOG_CLEANUP_COMPACT);
    tr_partition_unref(part);

    /* AlterConfigs replaces the whole set (nulls skipped). */
    assert_int_equal(tr_topics_alter_configs(topics, "t", replace, 2, 1, 0,
                                             errbuf, sizeof(errbuf)),
                     TR_OK);
    assert_string_equal(described(topics, "t", "cleanup.policy", &source),
                        "delete");
    assert_int_equal(source, TR_CONFIG_SOURCE_DEFAULT);
    assert_string_equal(described(topics, "t", "segment.bytes", &source),
                        "1048576");
    assert_int_equal(source, TR_CONFIG_SOURCE_TOPIC);
    part = tr_topics_partition(topics, "t", 0);
    tr_partition_config(part, &live);
    assert_int_equal(live.segment_bytes, 1048576);
    assert_int_equal(live.cleanup_policy, TR_LOG_CLEANUP_DELETE);
    tr_partition_unref(part);
    tr_topics_close(topics);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_by_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_needs_delete_policy,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_delete_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_log_start_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_topic_configs_alter,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
