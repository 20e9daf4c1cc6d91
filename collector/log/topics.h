/*
 * topics -- the registry of topics and partitions of one log directory.
 *
 * Opening it takes the directory's lock file (so two collectors never share
 * it), notes whether the last shutdown was clean (the clean-shutdown marker,
 * removed at open), reads the recovery-point checkpoint and opens every
 * partition directory "<topic>-<n>", recovering those that need it. Topic
 * metadata (partition count, per-topic configs) lives in
 * "<log.dir>/.topics/<topic>.properties", written atomically (temporary
 * file, fsync, rename, directory fsync).
 *
 * Closing flushes every partition, writes the recovery-point checkpoint and
 * the clean-shutdown marker, and releases the lock.
 *
 * Thread safety: all functions may be called from any thread; an internal
 * mutex guards the registry. Partitions returned are referenced: release
 * them with tr_partition_unref().
 */
#ifndef TR_TOPICS_H
#define TR_TOPICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "partition.h"

#define TR_TOPIC_NAME_MAX 249

struct tr_topics;

/*
 * Returns an owned registry in *out. 'defaults' (copied) are the broker's
 * log settings, which per-topic configs override. On failure 'errbuf'
 * says why (for example "log.dirs ./var/collector is locked by another
 * process").
 */
tr_err_t tr_topics_open(const char *log_dir,
                        const struct tr_log_config *defaults,
                        struct tr_topics **out, char *errbuf, size_t errlen);
/*
 * Checks "<log.dir>/meta.properties" against 'broker_id', writing it
 * (version=0, broker.id=N) at first start. TR_ERR_CONFIG, with the reason
 * in 'errbuf', when the directory belongs to another broker id.
 */
tr_err_t tr_topics_check_broker_id(struct tr_topics *topics, int32_t broker_id,
                                   char *errbuf, size_t errlen);
/*
 * Reads the broker.id of "<log.dir>/meta.properties": how a broker started
 * with broker.id=-1 finds the id it was given the first time.
 * TR_ERR_NOT_FOUND without the file; TR_ERR_CORRUPT, with the reason in
 * 'errbuf', when it has no readable broker.id line.
 */
tr_err_t tr_topics_meta_broker_id(struct tr_topics *topics, int32_t *broker_id,
                                  char *errbuf, size_t errlen);
/*
 * Replaces the broker's log settings (dynamic broker configuration,
 * dynconf.h): every topic recomputes its settings, so a topic without an
 * override of a key follows the new default at once.
 */
void tr_topics_set_defaults(struct tr_topics *topics,
                            const struct tr_log_config *defaults);
/* Clean shutdown as described above; NULL is a no-op. */
void tr_topics_close(struct tr_topics *topics);

/* 1 if Kafka would accept 'name': 1-249 chars of [a-zA-Z0-9._-], not "." or
 * "..". */
int tr_topics_valid_name(const char *name);

/* A topic-level config entry, as in CreateTopics and DescribeConfigs. */
struct tr_config_entry {
    const char *name;
    const char *value;
};

/*
 * Checks topic configs as CreateTopics would (every name Kafka knows for
 * topics, each value within Kafka's bounds); a null value is accepted.
 * Errors: TR_ERR_CONFIG, with 'errbuf' saying which entry and why.
 */
tr_err_t tr_topics_validate_configs(const struct tr_config_entry *configs,
                                    size_t nconfigs, char *errbuf,
                                    size_t errlen);
/*
 * Creates topic 'name' with 'partitions' partitions and the given configs.
 * Errors: TR_ERR_EXISTS, TR_ERR_INVALID (bad name or partition count),
 * TR_ERR_CONFIG (unknown config key or bad value; 'errbuf' says which).
 */
tr_err_t tr_topics_create(struct tr_topics *topics, const char *name,
                          int32_t partitions,
                          const struct tr_config_entry *configs,
                          size_t nconfigs, char *errbuf, size_t errlen);
/* Deletes the topic and, once no one serves them, its files. */
tr_err_t tr_topics_delete(struct tr_topics *topics, const char *name);
/* Grows the topic to 'total' partitions (TR_ERR_INVALID if not larger). */
tr_err_t tr_topics_add_partitions(struct tr_topics *topics, const char *name,
                                  int32_t total);

/* Returns a referenced partition, or NULL if the topic or index is unknown. */
struct tr_partition *tr_topics_partition(struct tr_topics *topics,
                                         const char *name, int32_t index);
/* Number of partitions, or -1 if the topic does not exist. */
int32_t tr_topics_partition_count(struct tr_topics *topics, const char *name);

struct tr_topic_info {
    char name[TR_TOPIC_NAME_MAX + 1];
    int32_t partitions;
};

/* Returns an owned array (free with tr_free) of every topic, sorted by name. */
tr_err_t tr_topics_list(struct tr_topics *topics, struct tr_topic_info **out,
                        size_t *count);

/* Where a config value comes from, as DescribeConfigs reports it. */
enum tr_config_source {
    TR_CONFIG_SOURCE_TOPIC = 1,         /* DYNAMIC_TOPIC_CONFIG */
    TR_CONFIG_SOURCE_STATIC_BROKER = 4, /* STATIC_BROKER_CONFIG */
    TR_CONFIG_SOURCE_DEFAULT = 5,       /* DEFAULT_CONFIG */
};

typedef void tr_topics_config_cb(const char *name, const char *value,
                                 enum tr_config_source source, void *arg);

/*
 * Calls 'cb' for every topic-level config of 'name' (segment.bytes,
 * segment.ms, retention.ms, retention.bytes, cleanup.policy,
 * max.message.bytes, flush.messages, flush.ms, index.interval.bytes, ...)
 * with its effective value and source. TR_ERR_NOT_FOUND if no such topic.
 */
tr_err_t tr_topics_describe_configs(struct tr_topics *topics, const char *name,
                                    tr_topics_config_cb *cb, void *arg);

/* Incremental config operations (IncrementalAlterConfigs OpType). */
enum tr_config_op {
    TR_CONFIG_OP_SET = 0,
    TR_CONFIG_OP_DELETE = 1,
    TR_CONFIG_OP_APPEND = 2,   /* list configs only */
    TR_CONFIG_OP_SUBTRACT = 3, /* list configs only */
};

struct tr_config_alter {
    const char *name;
    const char *value; /* NULL: null (DELETE, or "default" in AlterConfigs) */
    int op;            /* enum tr_config_op; ignored when replacing */
};

/*
 * Changes the configs of topic 'name'. With 'replace' (AlterConfigs) every
 * override is dropped and the entries given (null values skipped) become
 * the new set; otherwise (IncrementalAlterConfigs) each entry's operation
 * applies to the current overrides. All entries are checked before any
 * applies. Unless 'validate_only', the topic file is rewritten atomically
 * and the live partitions get the new settings (tr_partition_set_config).
 * Errors: TR_ERR_NOT_FOUND (no topic), TR_ERR_CONFIG (unknown key, bad
 * value), TR_ERR_INVALID (APPEND or SUBTRACT on a non-list config, or an
 * unknown operation); 'errbuf' says which.
 */
tr_err_t tr_topics_alter_configs(struct tr_topics *topics, const char *name,
                                 const struct tr_config_alter *alters, size_t n,
                                 int replace, int validate_only, char *errbuf,
                                 size_t errlen);

/*
 * DeleteRecords on one partition (see tr_partition_delete_records); the
 * log-start-offset checkpoint is written before returning, so the new log
 * start survives a crash. TR_ERR_NOT_FOUND for an unknown partition.
 */
tr_err_t tr_topics_delete_records(struct tr_topics *topics, const char *name,
                                  int32_t index, int64_t offset,
                                  int64_t *low_watermark);

/*
 * Returns an owned array of referenced partitions of every topic (release
 * with tr_topics_partitions_release), or NULL with *n = 0.
 */
struct tr_partition **tr_topics_partitions(struct tr_topics *topics, size_t *n);
void tr_topics_partitions_release(struct tr_partition **parts, size_t n);

/*
 * Periodic work for the background thread: each partition's tick (flush and
 * roll by time, unlinking deleted segments), retention every
 * log.retention.check.interval.ms, and the recovery-point, log-start and
 * cleaner checkpoints every minute. Files:
 *
 *   recovery-point-offset-checkpoint   fsynced below this offset
 *   log-start-offset-checkpoint        first offset readable (never lowered
 *                                      at open: the larger of it and the
 *                                      first segment's base wins)
 *   cleaner-offset-checkpoint          compacted below this offset
 */
void tr_topics_tick(struct tr_topics *topics, int64_t now_ms);
/* Flushes every partition (used at shutdown and by tests). */
tr_err_t tr_topics_flush(struct tr_topics *topics);

#endif /* TR_TOPICS_H */
