/*
 * admin -- blocking administrative requests for the command-line tools.
 *
 * An admin client owns its own event_base and a client (client.h); each
 * call sends one request and runs that loop until the answer arrives or
 * the timeout passes, which is what a command line wants. Results are
 * decoded into plain structs owned by the caller (free each with its
 * matching _free function).
 *
 * Failures a person must fix come with text in 'errbuf' that names the
 * cause and the fix: an unreachable bootstrap server, an API the broker
 * does not offer, a Kafka error code (tr_admin_kerr_str names every code
 * the tools can meet).
 *
 * Thread safety: none.
 */
#ifndef TR_ADMIN_H
#define TR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct tr_admin;
struct tr_clientsec;

/*
 * Returns an owned admin client in *out after a first connection to one of
 * the bootstrap servers succeeded within 'timeout_ms'. TR_ERR_CONFIG for a
 * malformed list, TR_ERR_IO when nothing answered, TR_ERR_AUTH or
 * TR_ERR_TLS when the broker refused the login or its certificate was
 * refused (errbuf says so). 'security' (clientsec.h; NULL: PLAINTEXT) is
 * borrowed and must outlive the admin client.
 */
tr_err_t tr_admin_new(const char *bootstrap, int timeout_ms,
                      const struct tr_clientsec *security,
                      struct tr_admin **out, char *errbuf, size_t errlen);
void tr_admin_free(struct tr_admin *a);

/* The Kafka error's name and a hint, e.g. "UNKNOWN_TOPIC_OR_PARTITION". */
const char *tr_admin_kerr_name(int16_t kerr);

/*
 * Sends one request to 'node' (-1: any broker) with the highest version of
 * 'api_key' in [vmin, vmax] the broker offers, encoded by 'enc', and waits.
 * On TR_OK *resp holds the response body (owned; tr_buf_cleanup) and
 * *version the version used.
 */
typedef tr_err_t tr_admin_encode_cb(struct tr_buf *b, int16_t version,
                                    void *arg);
tr_err_t tr_admin_call(struct tr_admin *a, int32_t node, int16_t api_key,
                       int16_t vmin, int16_t vmax, tr_admin_encode_cb *enc,
                       void *arg, struct tr_buf *resp, int16_t *version,
                       char *errbuf, size_t errlen);

/* Cluster metadata (Metadata v1+). */
struct tr_admin_broker {
    int32_t id;
    char *host;
    int32_t port;
    char *rack; /* NULL if none */
};

struct tr_admin_partition {
    int32_t id;
    int16_t err;
    int32_t leader;
    int32_t *replicas;
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    int32_t *offline;
    int32_t noffline;
    /* Filled by tr_admin_offsets, -1 until then. */
    int64_t log_start;
    int64_t log_end;
};

struct tr_admin_topic {
    char *name;
    int16_t err;
    int internal;
    struct tr_admin_partition *parts;
    int32_t nparts;
};

struct tr_admin_metadata {
    struct tr_admin_broker *brokers;
    size_t nbrokers;
    int32_t controller;
    char *cluster_id; /* NULL if the version has none */
    struct tr_admin_topic *topics;
    size_t ntopics;
};

/*
 * Fetches metadata for 'topics' (NULL: every topic; n 0 with topics not
 * NULL: brokers only), topics sorted by name. Returns owned *out.
 */
tr_err_t tr_admin_metadata(struct tr_admin *a, const char *const *topics,
                           size_t n, struct tr_admin_metadata **out,
                           char *errbuf, size_t errlen);
void tr_admin_metadata_free(struct tr_admin_metadata *md);
/* The topic named 'name' in 'md', or NULL. */
struct tr_admin_topic *tr_admin_metadata_topic(struct tr_admin_metadata *md,
                                               const char *name);

/*
 * Fills log_start and log_end of every partition of 'md' (ListOffsets to
 * each leader).
 */
tr_err_t tr_admin_offsets(struct tr_admin *a, struct tr_admin_metadata *md,
                          char *errbuf, size_t errlen);

/* Special timestamps for tr_admin_list_offset. */
#define TR_ADMIN_LATEST   (-1)
#define TR_ADMIN_EARLIEST (-2)

/*
 * The offset of 'topic' [partition] for 'timestamp' (a time in ms, or
 * TR_ADMIN_LATEST / TR_ADMIN_EARLIEST); -1 in *offset when no record has a
 * timestamp that late. *kerr is the partition's error code.
 */
tr_err_t tr_admin_list_offset(struct tr_admin *a, int32_t leader,
                              const char *topic, int32_t partition,
                              int64_t timestamp, int64_t *offset, int16_t *kerr,
                              char *errbuf, size_t errlen);

/* One topic to create. */
struct tr_admin_new_topic {
    const char *name;
    int32_t partitions;
    int16_t replication;
    const char *const *configs; /* "key=value" */
    size_t nconfigs;
};

/*
 * CreateTopics; *kerr and msg (if any) give the topic's result. Goes to the
 * controller.
 */
tr_err_t tr_admin_create_topic(struct tr_admin *a,
                               const struct tr_admin_new_topic *t,
                               int timeout_ms, int validate_only, int16_t *kerr,
                               char *msg, size_t msglen, char *errbuf,
                               size_t errlen);
tr_err_t tr_admin_delete_topic(struct tr_admin *a, const char *name,
                               int timeout_ms, int16_t *kerr, char *errbuf,
                               size_t errlen);
/* CreatePartitions: grows 'name' to 'count' partitions. */
tr_err_t tr_admin_create_partitions(struct tr_admin *a, const char *name,
                                    int32_t count, int timeout_ms,
                                    int16_t *kerr, char *msg, size_t msglen,
                                    char *errbuf, size_t errlen);

/* One configuration entry of a DescribeConfigs answer. */
struct tr_admin_config {
    char *name;
    char *value; /* NULL: null or sensitive */
    int read_only;
    int is_default;
    int sensitive;
    int source; /* ConfigSource: 1 topic, 2 dynamic broker, 3 dynamic
                   default, 4 static broker, 5 default (v0: 4 or 5) */
};

#define TR_ADMIN_RESOURCE_TOPIC  2
#define TR_ADMIN_RESOURCE_BROKER 4

/*
 * DescribeConfigs for one resource; returns an owned array in *out. A
 * BROKER resource named by an id is asked of that broker (Kafka answers
 * per-broker configs only there); the others go to any broker.
 */
tr_err_t tr_admin_describe_configs(struct tr_admin *a, int8_t type,
                                   const char *name,
                                   struct tr_admin_config **out, size_t *n,
                                   int16_t *kerr, char *errbuf, size_t errlen);
void tr_admin_configs_free(struct tr_admin_config *cfgs, size_t n);
/*
 * Sets configs ("key=value"; "key=" or "key" deletes) on a resource with
 * IncrementalAlterConfigs if offered, else AlterConfigs merged over the
 * current non-default values.
 */
tr_err_t tr_admin_alter_configs(struct tr_admin *a, int8_t type,
                                const char *name, const char *const *kv,
                                size_t n, int16_t *kerr, char *msg,
                                size_t msglen, char *errbuf, size_t errlen);

/* Groups. */
struct tr_admin_group {
    char *id;
    char *protocol_type;
    char *state; /* DescribeGroups only */
    char *protocol;
    struct tr_admin_member *members;
    size_t nmembers;
    int16_t err;
};

/* One member; its assignment decoded from the consumer protocol. */
struct tr_admin_member {
    char *id;
    char *client_id;
    char *client_host;
    struct tr_admin_tp *assigned;
    size_t nassigned;
};

struct tr_admin_tp {
    char *topic;
    int32_t partition;
    int64_t offset; /* committed offset, -1 none */
};

/* ListGroups on every broker; an owned array in *out (id, protocol_type). */
tr_err_t tr_admin_list_groups(struct tr_admin *a, struct tr_admin_group **out,
                              size_t *n, char *errbuf, size_t errlen);
/* FindCoordinator for a group: its node id. */
tr_err_t tr_admin_find_coordinator(struct tr_admin *a, const char *group,
                                   int32_t *node, char *errbuf, size_t errlen);
/* DescribeGroups for one group, at its coordinator. */
tr_err_t tr_admin_describe_group(struct tr_admin *a, const char *group,
                                 struct tr_admin_group **out, char *errbuf,
                                 size_t errlen);
void tr_admin_groups_free(struct tr_admin_group *g, size_t n);
/*
 * OffsetFetch for every partition the group committed (topic NULL) or for
 * 'topic''s partitions 0..nparts-1; an owned array in *out.
 */
tr_err_t tr_admin_fetch_offsets(struct tr_admin *a, const char *group,
                                const char *topic, int32_t nparts,
                                struct tr_admin_tp **out, size_t *n,
                                int16_t *kerr, char *errbuf, size_t errlen);
void tr_admin_tps_free(struct tr_admin_tp *tps, size_t n);
/*
 * OffsetCommit outside any generation (the group must be empty). *kerr is
 * the first error met.
 */
tr_err_t tr_admin_commit_offsets(struct tr_admin *a, const char *group,
                                 const struct tr_admin_tp *tps, size_t n,
                                 int16_t *kerr, char *errbuf, size_t errlen);
tr_err_t tr_admin_delete_group(struct tr_admin *a, const char *group,
                               int16_t *kerr, char *errbuf, size_t errlen);

/*
 * DescribeLogDirs: what one broker's log directories hold. Every partition
 * the broker keeps (leader or follower) with its size on disk and lag.
 */
struct tr_admin_log_dir_part {
    char *topic;
    int32_t partition;
    int64_t size;       /* bytes of the partition's segments */
    int64_t offset_lag; /* how far this copy is behind; 0 on a leader */
    int is_future;
};

struct tr_admin_log_dir {
    int16_t err; /* Kafka error code for the directory */
    char *path;
    int64_t total_bytes;  /* of its filesystem, -1 before v4 */
    int64_t usable_bytes; /* -1 before v4 */
    struct tr_admin_log_dir_part *parts;
    size_t nparts;
};

struct tr_admin_log_dirs {
    int16_t err; /* top-level error code (v3+), else 0 */
    struct tr_admin_log_dir *dirs;
    size_t ndirs;
};

/*
 * Encodes the request body: partitions 0..nparts[i]-1 of each of the 'n'
 * 'topics', or every topic when 'topics' is NULL (a null array).
 */
tr_err_t tr_admin_log_dirs_encode(struct tr_buf *b, int16_t version,
                                  const char *const *topics,
                                  const int32_t *nparts, size_t n);
/*
 * Decodes a response body of 'version' (0-4). Returns an owned result in
 * *out (free with tr_admin_log_dirs_free); TR_ERR_TRUNCATED or
 * TR_ERR_CORRUPT for malformed bytes, TR_ERR_NOMEM.
 */
tr_err_t tr_admin_log_dirs_decode(struct tr_slice *s, int16_t version,
                                  struct tr_admin_log_dirs **out);
/*
 * DescribeLogDirs at broker 'node' (-1: any) for the topics as in
 * tr_admin_log_dirs_encode. TR_ERR_UNSUPPORTED when the broker does not
 * offer the API (errbuf says so).
 */
tr_err_t tr_admin_describe_log_dirs(struct tr_admin *a, int32_t node,
                                    const char *const *topics,
                                    const int32_t *nparts, size_t n,
                                    struct tr_admin_log_dirs **out,
                                    char *errbuf, size_t errlen);
/* NULL is a no-op. */
void tr_admin_log_dirs_free(struct tr_admin_log_dirs *d);

#endif /* TR_ADMIN_H */
