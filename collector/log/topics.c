/*
 * topics -- the topic registry of one log directory, and its files.
 *
 * Layout of a log directory (names as in Kafka where Kafka has one):
 *
 *   <log.dir>/
 *     .lock                             flock(LOCK_EX|LOCK_NB) while open
 *     .clean_shutdown                   present only between a clean close
 *                                       and the next open
 *     meta.properties                   version=0, broker.id=N
 *     recovery-point-offset-checkpoint  see below
 *     .topics/<topic>.properties        partitions=N, then topic configs
 *     <topic>-<n>/                      one partition (see partition.h)
 *
 * The recovery-point checkpoint is Kafka's text format:
 *
 *   +------------------------+
 *   | 0                      |  format version
 *   | 2                      |  number of entries
 *   | logs 0 1234            |  topic, partition, first offset not yet
 *   | logs 1 99              |  known to be fsynced
 *   +------------------------+
 *
 * Every file here is replaced atomically: written to "<name>.tmp", fsynced,
 * renamed over the old one, and the directory fsynced.
 *
 * The registry is a sorted array of topics (binary search by name) behind
 * one mutex. Disk work for create, delete and add-partitions happens under
 * that mutex, which keeps the registry and the files in step at the cost of
 * stalling lookups during an admin request; flushes, ticks and the
 * checkpoint take references and run outside it.
 */
#include "topics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "conf.h"
#include "log.h"

#define LOCK_FILE           ".lock"
#define CLEAN_SHUTDOWN_FILE ".clean_shutdown"
#define CHECKPOINT_FILE     "recovery-point-offset-checkpoint"
#define LOG_START_FILE      "log-start-offset-checkpoint"
#define CLEANER_FILE        "cleaner-offset-checkpoint"
#define META_FILE           "meta.properties"
#define TOPICS_DIR          ".topics"
#define TMP_SUFFIX          ".tmp"

/* A sanity cap on partitions per topic; Kafka has none, but each is a
 * directory with open files. */
#define TOPICS_MAX_PARTITIONS 10000
/* Validated topic-config values are short; longer ones are refused. */
#define TOPICS_MAX_VALUE_LEN   63
#define CHECKPOINT_INTERVAL_MS 60000
#define CHECKPOINT_MAX_BYTES   (64 * 1024 * 1024)

/* ---------------------------------------------------------------------- */
/* Topic-level configs                                                     */

enum topt_type {
    TOPT_INT32,
    TOPT_INT64,
    TOPT_BOOL,
    TOPT_ENUM,  /* one of 'choices' */
    TOPT_LIST,  /* comma-separated subset of 'choices', at least one */
    TOPT_RATIO, /* a double within [0, 1] */
    TOPT_TEXT,  /* any short text (kept, with no meaning here) */
};

#define NO_LOG_FIELD ((size_t)-1)

struct topic_opt {
    const char *name;
    enum topt_type type;
    int64_t min, max;
    size_t log_offset; /* field of struct tr_log_config, or NO_LOG_FIELD */
    const char *def;   /* default of a key with no log field */
    const char *const *choices;
};

static const char *const cleanup_policies[] = { "delete", "compact", NULL };
static const char *const timestamp_types[] = { "CreateTime", "LogAppendTime",
                                               NULL };
static const char *const compression_types[] = {
    "uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", NULL
};

#define LOGF(field) offsetof(struct tr_log_config, field)

/*
 * NOTE: keys that set a field of struct tr_log_config name it here; the
 * field's width follows from the type (TOPT_INT32 -> int32_t, TOPT_INT64 ->
 * int64_t, TOPT_RATIO -> double, TOPT_LIST -> int of TR_LOG_CLEANUP_* bits,
 * cleanup.policy being the only list, TOPT_ENUM -> int index of the
 * choice), except segment.bytes, which Kafka
 * bounds as an int but the log stores as int64 (see apply_log_config and
 * topic_value). Change both together.
 */
/* clang-format off */
static const struct topic_opt topic_opts[] = {
    { "cleanup.policy", TOPT_LIST, 0, 0, LOGF(cleanup_policy), NULL,
      cleanup_policies },
    { "compression.gzip.level", TOPT_INT32, -1, 9, NO_LOG_FIELD, "-1", NULL },
    { "compression.lz4.level", TOPT_INT32, 1, 17, NO_LOG_FIELD, "9", NULL },
    { "compression.type", TOPT_ENUM, 0, 0, NO_LOG_FIELD, "producer",
      compression_types },
    { "compression.zstd.level", TOPT_INT32, -131072, 22, NO_LOG_FIELD, "3",
      NULL },
    { "delete.retention.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(delete_retention_ms), NULL, NULL },
    { "file.delete.delay.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(segment_delete_delay_ms), NULL, NULL },
    { "flush.messages", TOPT_INT64, 1, INT64_MAX, LOGF(flush_messages), NULL,
      NULL },
    { "flush.ms", TOPT_INT64, 0, INT64_MAX, LOGF(flush_ms), NULL, NULL },
    { "follower.replication.throttled.replicas", TOPT_TEXT, 0, 0,
      NO_LOG_FIELD, "", NULL },
    { "index.interval.bytes", TOPT_INT32, 0, INT32_MAX,
      LOGF(index_interval_bytes), NULL, NULL },
    { "leader.replication.throttled.replicas", TOPT_TEXT, 0, 0, NO_LOG_FIELD,
      "", NULL },
    { "local.retention.bytes", TOPT_INT64, -2, INT64_MAX, NO_LOG_FIELD, "-2",
      NULL },
    { "local.retention.ms", TOPT_INT64, -2, INT64_MAX, NO_LOG_FIELD, "-2",
      NULL },
    { "max.compaction.lag.ms", TOPT_INT64, 1, INT64_MAX,
      LOGF(max_compaction_lag_ms), NULL, NULL },
    { "max.message.bytes", TOPT_INT32, 0, INT32_MAX, LOGF(max_message_bytes),
      NULL, NULL },
    { "message.downconversion.enable", TOPT_BOOL, 0, 0, NO_LOG_FIELD, "true",
      NULL },
    { "message.format.version", TOPT_TEXT, 0, 0, NO_LOG_FIELD, "3.0-IV1",
      NULL },
    { "message.timestamp.after.max.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(timestamp_after_max_ms), NULL, NULL },
    { "message.timestamp.before.max.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(timestamp_before_max_ms), NULL, NULL },
    { "message.timestamp.difference.max.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(timestamp_difference_max_ms), NULL, NULL },
    { "message.timestamp.type", TOPT_ENUM, 0, 0, LOGF(log_append_time), NULL,
      timestamp_types },
    { "min.cleanable.dirty.ratio", TOPT_RATIO, 0, 1,
      LOGF(min_cleanable_ratio), NULL, NULL },
    { "min.compaction.lag.ms", TOPT_INT64, 0, INT64_MAX,
      LOGF(min_compaction_lag_ms), NULL, NULL },
    { "min.insync.replicas", TOPT_INT32, 1, INT32_MAX,
      LOGF(min_insync_replicas), NULL, NULL },
    { "preallocate", TOPT_BOOL, 0, 0, NO_LOG_FIELD, "false", NULL },
    { "remote.log.copy.disable", TOPT_BOOL, 0, 0, NO_LOG_FIELD, "false",
      NULL },
    { "remote.log.delete.on.disable", TOPT_BOOL, 0, 0, NO_LOG_FIELD, "false",
      NULL },
    { "remote.storage.enable", TOPT_BOOL, 0, 0, NO_LOG_FIELD, "false", NULL },
    { "retention.bytes", TOPT_INT64, -1, INT64_MAX, LOGF(retention_bytes),
      NULL, NULL },
    { "retention.ms", TOPT_INT64, -1, INT64_MAX, LOGF(retention_ms), NULL,
      NULL },
    { "segment.bytes", TOPT_INT32, 14, INT32_MAX, LOGF(segment_bytes), NULL,
      NULL },
    { "segment.index.bytes", TOPT_INT32, 4, INT32_MAX,
      LOGF(segment_index_bytes), NULL, NULL },
    { "segment.jitter.ms", TOPT_INT64, 0, INT64_MAX, NO_LOG_FIELD, "0",
      NULL },
    { "segment.ms", TOPT_INT64, 1, INT64_MAX, LOGF(segment_ms), NULL, NULL },
    { "unclean.leader.election.enable", TOPT_BOOL, 0, 0, NO_LOG_FIELD,
      "false", NULL },
};
/* clang-format on */

#define NTOPIC_OPTS (sizeof(topic_opts) / sizeof(topic_opts[0]))

/* ---------------------------------------------------------------------- */
/* Registry                                                                */

struct topic {
    char name[TR_TOPIC_NAME_MAX + 1];
    int32_t npartitions;
    struct tr_partition **parts;  /* npartitions references we own */
    char *overrides[NTOPIC_OPTS]; /* owned values set on the topic, or NULL */
    struct tr_log_config log;     /* defaults with the overrides applied */
};

struct tr_topics {
    pthread_mutex_t lock; /* guards topics/ntopics/cap and every topic */
    pthread_mutex_t checkpoint_lock; /* one checkpoint writer at a time */
    char *dir;
    int lock_fd;
    struct tr_log_config defaults;
    struct topic **topics; /* sorted by name */
    size_t ntopics;
    size_t cap;
    int64_t last_checkpoint_ms; /* -1 until the first tick */
    int64_t last_retention_ms;  /* -1 until the first tick */
    /* Read at open, used while the partitions open, then freed. */
    struct recovery_points *log_starts;
    struct recovery_points *cleaner_points;
};

/* One line of the recovery-point checkpoint read at open. */
struct recovery_point {
    char *topic;
    int32_t partition;
    int64_t offset;
};

struct recovery_points {
    struct recovery_point *points; /* sorted by topic, partition */
    size_t n;
};

/* A partition reference taken under the registry lock, used outside it. */
struct part_ref {
    struct tr_partition *part;
};

int
tr_topics_valid_name(const char *name)
{
    size_t i, len = strlen(name);

    if (len == 0 || len > TR_TOPIC_NAME_MAX || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Kafka refuses "a.b" beside "a_b": both map to the same metric name. */
static int
names_collide(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char ca = *a == '.' ? '_' : *a, cb = *b == '.' ? '_' : *b;

        if (ca != cb) {
            return 0;
        }
    }
    return *a == *b;
}

static const struct topic_opt *
find_topic_opt(const char *name, size_t *index)
{
    size_t i;

    for (i = 0; i < NTOPIC_OPTS; i++) {
        if (strcmp(topic_opts[i].name, name) == 0) {
            *index = i;
            return &topic_opts[i];
        }
    }
    return NULL;
}

static int
in_choices(const char *const *choices, const char *value, size_t len)
{
    size_t i;

    for (i = 0; choices[i] != NULL; i++) {
        if (strlen(choices[i]) == len && strncmp(choices[i], value, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The index of a validated value among 'choices'. */
static int
choice_index(const char *const *choices, const char *value)
{
    int i;

    for (i = 0; choices[i + 1] != NULL; i++) {
        if (strcmp(choices[i], value) == 0) {
            break;
        }
    }
    return i;
}

/* Checks 'value' for topic config 'o'; fills 'reason' if it is bad. */
static tr_err_t
validate_topic_value(const struct topic_opt *o, const char *value, char *reason,
                     size_t reasonlen)
{
    int32_t v32;
    int64_t v64;
    const char *p, *comma;
    char *end;
    double d;
    int b;
    tr_err_t err = TR_ERR_CONFIG;

    if (strlen(value) > TOPICS_MAX_VALUE_LEN) {
        snprintf(reason, reasonlen, "value is longer than %d characters",
                 TOPICS_MAX_VALUE_LEN);
        goto out;
    }
    switch (o->type) {
    case TOPT_INT32:
        err = tr_conf_parse_int32(value, (int32_t)o->min, (int32_t)o->max, &v32,
                                  reason, reasonlen);
        break;
    case TOPT_INT64:
        err =
            tr_conf_parse_int64(value, o->min, o->max, &v64, reason, reasonlen);
        break;
    case TOPT_BOOL:
        err = tr_conf_parse_bool(value, &b, reason, reasonlen);
        break;
    case TOPT_ENUM:
        if (!in_choices(o->choices, value, strlen(value))) {
            snprintf(reason, reasonlen, "'%s' is not a valid value", value);
            goto out;
        }
        err = TR_OK;
        break;
    case TOPT_LIST:
        for (p = value;; p = comma + 1) {
            comma = strchr(p, ',');
            if (comma == NULL) {
                comma = p + strlen(p);
            }
            if (!in_choices(o->choices, p, (size_t)(comma - p))) {
                snprintf(reason, reasonlen, "'%s' is not a valid value", value);
                goto out;
            }
            if (*comma == '\0') {
                break;
            }
        }
        err = TR_OK;
        break;
    case TOPT_TEXT:
        err = TR_OK;
        break;
    case TOPT_RATIO:
        errno = 0;
        d = strtod(value, &end);
        if (end == value || *end != '\0' || errno != 0 || !(d >= 0.0) ||
            d > 1.0) {
            snprintf(reason, reasonlen,
                     "expected a number between 0 and 1, got '%s'", value);
            goto out;
        }
        err = TR_OK;
        break;
    }
out:
    return err;
}

/* TR_LOG_CLEANUP_* bits of a validated cleanup.policy list. */
static int
cleanup_bits(const char *value)
{
    const char *p, *comma;
    int bits = 0;

    for (p = value;; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma == NULL) {
            comma = p + strlen(p);
        }
        if ((size_t)(comma - p) == strlen("compact") &&
            strncmp(p, "compact", 7) == 0) {
            bits |= TR_LOG_CLEANUP_COMPACT;
        } else if ((size_t)(comma - p) == strlen("delete") &&
                   strncmp(p, "delete", 6) == 0) {
            bits |= TR_LOG_CLEANUP_DELETE;
        }
        if (*comma == '\0') {
            break;
        }
    }
    return bits;
}

static void
cleanup_text(int bits, char *buf, size_t len)
{
    snprintf(
        buf, len, "%s%s%s", (bits & TR_LOG_CLEANUP_COMPACT) ? "compact" : "",
        (bits & TR_LOG_CLEANUP_COMPACT) && (bits & TR_LOG_CLEANUP_DELETE) ? ","
                                                                          : "",
        (bits & TR_LOG_CLEANUP_DELETE) ? "delete" : "");
}

/* Recomputes t->log from the broker defaults and the topic's overrides. */
static void
apply_log_config(struct tr_topics *topics, struct topic *t)
{
    const struct topic_opt *o;
    char *field;
    size_t i;

    t->log = topics->defaults;
    for (i = 0; i < NTOPIC_OPTS; i++) {
        o = &topic_opts[i];
        if (t->overrides[i] == NULL || o->log_offset == NO_LOG_FIELD) {
            continue;
        }
        field = (char *)&t->log + o->log_offset;
        /* Values were validated when set, so strtoll cannot fail here. */
        if (o->type == TOPT_LIST) {
            *(int *)field = cleanup_bits(t->overrides[i]);
        } else if (o->type == TOPT_ENUM) {
            *(int *)field = choice_index(o->choices, t->overrides[i]);
        } else if (o->type == TOPT_RATIO) {
            *(double *)field = strtod(t->overrides[i], NULL);
        } else if (o->log_offset == LOGF(segment_bytes) ||
                   o->type == TOPT_INT64) {
            *(int64_t *)field = strtoll(t->overrides[i], NULL, 10);
        } else {
            *(int32_t *)field = (int32_t)strtol(t->overrides[i], NULL, 10);
        }
    }
}

void
tr_topics_set_defaults(struct tr_topics *topics,
                       const struct tr_log_config *defaults)
{
    size_t i;
    int32_t p;

    pthread_mutex_lock(&topics->lock);
    topics->defaults = *defaults;
    for (i = 0; i < topics->ntopics; i++) {
        struct topic *t = topics->topics[i];

        apply_log_config(topics, t);
        for (p = 0; p < t->npartitions; p++) {
            tr_partition_set_config(t->parts[p], &t->log);
        }
    }
    pthread_mutex_unlock(&topics->lock);
}

/* Formats the default of config 'i' from 'defaults' into 'buf'. */
static void
default_value(const struct tr_log_config *defaults, size_t i, char *buf,
              size_t len)
{
    const struct topic_opt *o = &topic_opts[i];
    const char *field;

    if (o->log_offset == NO_LOG_FIELD) {
        snprintf(buf, len, "%s", o->def);
    } else {
        field = (const char *)defaults + o->log_offset;
        if (o->type == TOPT_LIST) {
            cleanup_text(*(const int *)field, buf, len);
        } else if (o->type == TOPT_ENUM) {
            snprintf(buf, len, "%s", o->choices[*(const int *)field]);
        } else if (o->type == TOPT_RATIO) {
            snprintf(buf, len, "%g", *(const double *)field);
        } else if (o->log_offset == LOGF(segment_bytes) ||
                   o->type == TOPT_INT64) {
            snprintf(buf, len, "%" PRId64, *(const int64_t *)field);
        } else {
            snprintf(buf, len, "%" PRId32, *(const int32_t *)field);
        }
    }
}

/*
 * Formats the value of config 'i' for 't' into 'buf' (max 64 bytes). A
 * broker default that differs from Kafka's own came from the broker's
 * properties file (or --set) and is reported as STATIC_BROKER_CONFIG.
 */
static enum tr_config_source
topic_value(const struct topic *t, const struct tr_log_config *defaults,
            size_t i, char *buf, size_t len)
{
    struct tr_log_config builtin;
    char kafka[TOPICS_MAX_VALUE_LEN + 1];

    if (t->overrides[i] != NULL) {
        snprintf(buf, len, "%s", t->overrides[i]);
        return TR_CONFIG_SOURCE_TOPIC;
    }
    default_value(defaults, i, buf, len);
    tr_log_config_defaults(&builtin);
    default_value(&builtin, i, kafka, sizeof(kafka));
    return strcmp(buf, kafka) == 0 ? TR_CONFIG_SOURCE_DEFAULT
                                   : TR_CONFIG_SOURCE_STATIC_BROKER;
}

static void
topic_free(struct topic *t)
{
    size_t i;
    int32_t p;

    if (t == NULL) {
        return;
    }
    for (p = 0; t->parts != NULL && p < t->npartitions; p++) {
        tr_partition_unref(t->parts[p]);
    }
    tr_free(t->parts);
    for (i = 0; i < NTOPIC_OPTS; i++) {
        tr_free(t->overrides[i]);
    }
    tr_free(t);
}

/* Binary search; returns the index of 'name' or where it would go. */
static size_t
topic_search(const struct tr_topics *topics, const char *name, int *found)
{
    size_t lo = 0, hi = topics->ntopics, mid;
    int c;

    *found = 0;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(topics->topics[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static struct topic *
topic_find(const struct tr_topics *topics, const char *name)
{
    size_t i;
    int found;

    i = topic_search(topics, name, &found);
    return found ? topics->topics[i] : NULL;
}

/* Inserts 't' (taken on success) in sorted position. */
static tr_err_t
topic_insert(struct tr_topics *topics, struct topic *t)
{
    struct topic **grown;
    size_t i, cap;
    int found;

    if (topics->ntopics == topics->cap) {
        cap = topics->cap ? topics->cap * 2 : 16;
        grown = tr_realloc(topics->topics, cap * sizeof(*grown));
        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        topics->topics = grown;
        topics->cap = cap;
    }
    i = topic_search(topics, t->name, &found);
    memmove(&topics->topics[i + 1], &topics->topics[i],
            (topics->ntopics - i) * sizeof(topics->topics[0]));
    topics->topics[i] = t;
    topics->ntopics++;
    return TR_OK;
}

static void
topic_remove(struct tr_topics *topics, const char *name)
{
    size_t i;
    int found;

    i = topic_search(topics, name, &found);
    if (!found) {
        return;
    }
    memmove(&topics->topics[i], &topics->topics[i + 1],
            (topics->ntopics - i - 1) * sizeof(topics->topics[0]));
    topics->ntopics--;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

static tr_err_t
fsync_dir(const char *dir)
{
    int fd;
    tr_err_t err = TR_ERR_IO;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        goto out;
    }
    if (fsync(fd) != 0) {
        goto out;
    }
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

static tr_err_t
io_error(void)
{
    return errno == ENOSPC || errno == EDQUOT ? TR_ERR_NOSPACE : TR_ERR_IO;
}

/*
 * Replaces 'dir'/'name' with 'len' bytes of 'data': temporary file, fsync,
 * rename, directory fsync. Either the old or the new file survives a crash.
 */
static tr_err_t
write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    size_t done = 0;
    ssize_t n;
    int fd = -1;
    tr_err_t err = TR_ERR_INVALID;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/%s" TMP_SUFFIX, dir, name) >=
            (int)sizeof(tmp)) {
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = io_error();
        goto out;
    }
    while (done < len) {
        n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = io_error();
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        err = io_error();
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = io_error();
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = io_error();
        goto out;
    }
    err = fsync_dir(dir);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return err;
}

/* Reads a whole small file into an owned NUL-terminated buffer. */
static tr_err_t
read_file(const char *path, size_t max, char **out, size_t *len)
{
    char *data = NULL, *grown;
    size_t cap = 0, n = 0;
    ssize_t r;
    int fd;
    tr_err_t err = TR_ERR_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno == ENOENT ? TR_ERR_NOT_FOUND : TR_ERR_IO;
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 4096;
            if (cap > max + 1) {
                cap = max + 1;
            }
            if (n + 1 >= cap) {
                err = TR_ERR_TOO_LARGE;
                goto out;
            }
            grown = tr_realloc(data, cap);
            if (grown == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            data = grown;
        }
        r = read(fd, data + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            goto out;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    data = NULL;
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    tr_free(data);
    return err;
}

/* Creates 'path' and any missing parents, like mkdir -p. */
static int
mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t i, len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            return -1;
        }
        buf[i] = path[i];
    }
    return 0;
}

static tr_err_t
write_topic_meta(struct tr_topics *topics, const struct topic *t)
{
    char dir[PATH_MAX], name[TR_TOPIC_NAME_MAX + 32];
    char text[8192];
    size_t i, n;
    int r;

    snprintf(dir, sizeof(dir), "%s/" TOPICS_DIR, topics->dir);
    snprintf(name, sizeof(name), "%s.properties", t->name);
    r = snprintf(text, sizeof(text),
                 "# Topic %s, written by the collector.\npartitions=%" PRId32
                 "\n",
                 t->name, t->npartitions);
    n = (size_t)r;
    for (i = 0; i < NTOPIC_OPTS; i++) {
        if (t->overrides[i] != NULL) {
            /* Names and values are short and validated: no overflow. */
            r = snprintf(text + n, sizeof(text) - n, "%s=%s\n",
                         topic_opts[i].name, t->overrides[i]);
            n += (size_t)r;
        }
    }
    return write_atomic(dir, name, text, n);
}

/* Collects the topic's partition count and configs from its file. */
struct meta_parse {
    struct topic *t;
    int have_partitions;
};

static tr_err_t
meta_entry(const char *section, const char *key, const char *value,
           const char *file, int line, char *reason, size_t reasonlen,
           void *arg)
{
    struct meta_parse *mp = arg;
    const struct topic_opt *o;
    size_t i;
    tr_err_t err;

    (void)section;
    (void)file;
    (void)line;
    if (strcmp(key, "partitions") == 0) {
        err = tr_conf_parse_int32(value, 1, TOPICS_MAX_PARTITIONS,
                                  &mp->t->npartitions, reason, reasonlen);
        mp->have_partitions = err == TR_OK;
        return err;
    }
    o = find_topic_opt(key, &i);
    if (o == NULL) {
        snprintf(reason, reasonlen, "unknown topic config '%s'", key);
        return TR_ERR_CONFIG;
    }
    err = validate_topic_value(o, value, reason, reasonlen);
    if (err != TR_OK) {
        return err;
    }
    tr_free(mp->t->overrides[i]);
    mp->t->overrides[i] = tr_strdup(value);
    if (mp->t->overrides[i] == NULL) {
        snprintf(reason, reasonlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

static int
recovery_point_cmp(const void *a, const void *b)
{
    const struct recovery_point *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    if (c != 0) {
        return c;
    }
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static void
recovery_points_free(struct recovery_points *rp)
{
    size_t i;

    for (i = 0; i < rp->n; i++) {
        tr_free(rp->points[i].topic);
    }
    tr_free(rp->points);
    rp->points = NULL;
    rp->n = 0;
}

/*
 * Reads the checkpoint into 'rp'. A missing file is an empty checkpoint. A
 * malformed one is logged and ignored: recovering from offset 0 is slower
 * but always correct.
 */
static tr_err_t
read_checkpoint(struct tr_topics *topics, const char *file,
                struct recovery_points *rp)
{
    char path[PATH_MAX], topic[TR_TOPIC_NAME_MAX + 2];
    char *text = NULL, *line, *next;
    size_t len, count = 0, lineno = 0;
    long long part, off;
    int used;
    tr_err_t err;

    snprintf(path, sizeof(path), "%s/%s", topics->dir, file);
    err = read_file(path, CHECKPOINT_MAX_BYTES, &text, &len);
    if (err == TR_ERR_NOT_FOUND) {
        err = TR_OK;
        goto out;
    }
    if (err == TR_ERR_NOMEM) {
        goto out;
    }
    if (err != TR_OK) {
        goto bad;
    }
    for (line = text; line < text + len; line = next) {
        next = strchr(line, '\n');
        if (next == NULL) {
            next = text + len;
        } else {
            *next++ = '\0';
        }
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "0") != 0) {
                goto bad;
            }
            continue;
        }
        if (lineno == 2) {
            if (sscanf(line, "%zu%n", &count, &used) != 1 ||
                line[used] != '\0' || count > len) {
                goto bad;
            }
            rp->points = tr_calloc(count ? count : 1, sizeof(*rp->points));
            if (rp->points == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            continue;
        }
        if (line[0] == '\0' && next >= text + len) {
            break;
        }
        if (rp->n >= count ||
            sscanf(line, "%250s %lld %lld%n", topic, &part, &off, &used) != 3 ||
            line[used] != '\0' || !tr_topics_valid_name(topic) || part < 0 ||
            part > INT32_MAX || off < 0) {
            goto bad;
        }
        rp->points[rp->n].topic = tr_strdup(topic);
        if (rp->points[rp->n].topic == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        rp->points[rp->n].partition = (int32_t)part;
        rp->points[rp->n].offset = off;
        rp->n++;
    }
    if (lineno < 2 || rp->n != count) {
        goto bad;
    }
    qsort(rp->points, rp->n, sizeof(*rp->points), recovery_point_cmp);
    err = TR_OK;
    goto out;
bad:
    tr_log_warn("%s: unreadable or malformed (line %zu); ignored (%s)", path,
                lineno,
                strcmp(file, CHECKPOINT_FILE) == 0
                    ? "recovering every partition from its first offset"
                    : "offsets start from the segments on disk");
    recovery_points_free(rp);
    err = TR_OK;
out:
    tr_free(text);
    return err;
}

static int64_t
recovery_point_of(const struct recovery_points *rp, const char *topic,
                  int32_t partition)
{
    struct recovery_point key = { 0 }, *hit;

    if (rp->n == 0) {
        return 0;
    }
    key.topic = (char *)topic;
    key.partition = partition;
    hit = bsearch(&key, rp->points, rp->n, sizeof(*rp->points),
                  recovery_point_cmp);
    return hit ? hit->offset : 0;
}

/*
 * Removes a partition directory this process has just created and failed
 * to open: its files (no subdirectories) and the directory itself.
 */
static void
remove_new_partition_dir(const char *dir)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
            (int)sizeof(path)) {
            unlink(path);
        }
    }
    closedir(d);
    if (rmdir(dir) != 0) {
        tr_log_warn("%s: cannot remove after a failed create: %s", dir,
                    strerror(errno));
    }
}

/*
 * Opens partitions [from, to) of 't' into t->parts (already sized). On
 * failure the ones this call opened are closed; when 'fresh' (they were
 * being created, not loaded) their directories are removed too, so that a
 * failed create leaves nothing behind.
 */
static tr_err_t
open_partitions(struct tr_topics *topics, struct topic *t, int32_t from,
                int32_t to, int recover, const struct recovery_points *rp,
                int fresh, char *errbuf, size_t errlen)
{
    char dir[PATH_MAX];
    int32_t p;
    tr_err_t err = TR_OK;

    for (p = from; p < to; p++) {
        snprintf(dir, sizeof(dir), "%s/%s-%" PRId32, topics->dir, t->name, p);
        err = tr_partition_open(dir, t->name, p, &t->log, recover,
                                rp ? recovery_point_of(rp, t->name, p) : 0,
                                &t->parts[p]);
        if (err == TR_OK && topics->log_starts != NULL) {
            tr_partition_restore_log_start(
                t->parts[p], recovery_point_of(topics->log_starts, t->name, p));
        }
        if (err == TR_OK && topics->cleaner_points != NULL) {
            tr_partition_restore_first_dirty(
                t->parts[p],
                recovery_point_of(topics->cleaner_points, t->name, p));
        }
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "cannot open partition %s: %s", dir,
                     tr_err_str(err));
            t->parts[p] = NULL;
            if (fresh) {
                remove_new_partition_dir(dir);
            }
            break;
        }
    }
    if (err != TR_OK) {
        while (p > from) {
            p--;
            if (fresh) {
                tr_partition_mark_deleted(t->parts[p]);
            }
            tr_partition_unref(t->parts[p]);
            t->parts[p] = NULL;
        }
    }
    return err;
}

/* Reads .topics/<name>.properties and opens the topic's partitions. */
static tr_err_t
load_topic(struct tr_topics *topics, const char *name, int recover,
           const struct recovery_points *rp, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    struct meta_parse mp;
    struct topic *t = NULL;
    tr_err_t err = TR_ERR_NOMEM;

    t = tr_calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(path, sizeof(path), "%s/" TOPICS_DIR "/%s.properties", topics->dir,
             name);
    mp.t = t;
    mp.have_partitions = 0;
    err = tr_conf_parse_file(path, TR_CONF_PROPERTIES, meta_entry, &mp, errbuf,
                             errlen);
    if (err != TR_OK) {
        goto out;
    }
    if (!mp.have_partitions) {
        snprintf(errbuf, errlen, "%s: no partitions=N line", path);
        err = TR_ERR_CONFIG;
        goto out;
    }
    apply_log_config(topics, t);
    t->parts = tr_calloc((size_t)t->npartitions, sizeof(*t->parts));
    if (t->parts == NULL) {
        err = TR_ERR_NOMEM;
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    err = open_partitions(topics, t, 0, t->npartitions, recover, rp, 0, errbuf,
                          errlen);
    if (err != TR_OK) {
        t->npartitions = 0;
        goto out;
    }
    err = topic_insert(topics, t);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    t = NULL;
out:
    topic_free(t);
    return err;
}

/* Splits "<topic>-<n>" into its parts; 0 if 'name' is not of that form. */
static int
parse_partition_dir(const char *name, char *topic, size_t topiclen,
                    int32_t *index)
{
    const char *dash = strrchr(name, '-');
    const char *p;
    long long v = 0;

    if (dash == NULL || dash == name || dash[1] == '\0' ||
        (size_t)(dash - name) >= topiclen) {
        return 0;
    }
    for (p = dash + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > TOPICS_MAX_PARTITIONS) {
            return 0;
        }
        v = v * 10 + (*p - '0');
    }
    if (v >= TOPICS_MAX_PARTITIONS || (dash[1] == '0' && dash[2] != '\0')) {
        return 0;
    }
    memcpy(topic, name, (size_t)(dash - name));
    topic[dash - name] = '\0';
    *index = (int32_t)v;
    return tr_topics_valid_name(topic);
}

/* Grows 't' to 'total' partitions, opening the new ones. */
static tr_err_t
grow_topic(struct tr_topics *topics, struct topic *t, int32_t total,
           int recover, const struct recovery_points *rp, int fresh,
           char *errbuf, size_t errlen)
{
    struct tr_partition **grown;
    tr_err_t err;

    grown = tr_realloc(t->parts, (size_t)total * sizeof(*grown));
    if (grown == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    t->parts = grown;
    err = open_partitions(topics, t, t->npartitions, total, recover, rp, fresh,
                          errbuf, errlen);
    if (err != TR_OK) {
        return err;
    }
    t->npartitions = total;
    return TR_OK;
}

/*
 * Adopts partition directories that no metadata file mentions (left by an
 * older version, or copied in by hand): the topic gets as many partitions as
 * its highest directory index needs, and its metadata is written.
 */
static tr_err_t
adopt_strays(struct tr_topics *topics, int recover,
             const struct recovery_points *rp, char *errbuf, size_t errlen)
{
    char topic_name[TR_TOPIC_NAME_MAX + 1];
    struct dirent *de;
    struct topic *t = NULL;
    DIR *d;
    int32_t index;
    int created;
    tr_err_t err = TR_ERR_IO;

    d = opendir(topics->dir);
    if (d == NULL) {
        snprintf(errbuf, errlen, "cannot list %s: %s", topics->dir,
                 strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        if (!parse_partition_dir(de->d_name, topic_name, sizeof(topic_name),
                                 &index)) {
            continue;
        }
        t = topic_find(topics, topic_name);
        if (t != NULL && index < t->npartitions) {
            t = NULL;
            continue;
        }
        created = t == NULL;
        if (created) {
            t = tr_calloc(1, sizeof(*t));
            if (t == NULL) {
                err = TR_ERR_NOMEM;
                snprintf(errbuf, errlen, "out of memory");
                goto out;
            }
            snprintf(t->name, sizeof(t->name), "%s", topic_name);
            apply_log_config(topics, t);
        }
        tr_log_warn("%s/%s: partition directory without topic metadata; "
                    "adopting it (topic %s now has %" PRId32 " partitions)",
                    topics->dir, de->d_name, topic_name, index + 1);
        err = grow_topic(topics, t, index + 1, recover, rp, 0, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        if (created) {
            err = topic_insert(topics, t);
            if (err != TR_OK) {
                snprintf(errbuf, errlen, "out of memory");
                goto out;
            }
        }
        t = NULL;
        err = write_topic_meta(topics, topic_find(topics, topic_name));
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "cannot write metadata of topic %s: %s",
                     topic_name, tr_err_str(err));
            goto out;
        }
    }
    err = TR_OK;
out:
    if (t != NULL && topic_find(topics, t->name) != t) {
        topic_free(t);
    }
    if (d != NULL) {
        closedir(d);
    }
    return err;
}

/* Loads every topic named in .topics, removing stale temporary files. */
static tr_err_t
load_topics(struct tr_topics *topics, int recover,
            const struct recovery_points *rp, char *errbuf, size_t errlen)
{
    char dir[PATH_MAX], name[TR_TOPIC_NAME_MAX + 1], path[PATH_MAX];
    struct dirent *de;
    DIR *d = NULL;
    size_t len, suffix = strlen(".properties");
    tr_err_t err = TR_ERR_IO;

    snprintf(dir, sizeof(dir), "%s/" TOPICS_DIR, topics->dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    d = opendir(dir);
    if (d == NULL) {
        snprintf(errbuf, errlen, "cannot list %s: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);
        if (len > strlen(TMP_SUFFIX) &&
            strcmp(de->d_name + len - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0) {
            /* A write that never reached its rename. */
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
                (int)sizeof(path)) {
                unlink(path);
            }
            continue;
        }
        if (len <= suffix ||
            strcmp(de->d_name + len - suffix, ".properties") != 0 ||
            len - suffix > TR_TOPIC_NAME_MAX) {
            continue;
        }
        memcpy(name, de->d_name, len - suffix);
        name[len - suffix] = '\0';
        if (!tr_topics_valid_name(name)) {
            tr_log_warn("%s/%s: not a valid topic name; ignored", dir,
                        de->d_name);
            continue;
        }
        err = load_topic(topics, name, recover, rp, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
    }
    err = TR_OK;
out:
    if (d != NULL) {
        closedir(d);
    }
    return err;
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                          */

tr_err_t
tr_topics_open(const char *log_dir, const struct tr_log_config *defaults,
               struct tr_topics **out, char *errbuf, size_t errlen)
{
    struct recovery_points rp = { NULL, 0 };
    struct recovery_points log_starts = { NULL, 0 };
    struct recovery_points cleaner_points = { NULL, 0 };
    struct tr_topics *topics;
    char path[PATH_MAX];
    int clean, recover;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    topics = tr_calloc(1, sizeof(*topics));
    if (topics == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    topics->lock_fd = -1;
    topics->last_checkpoint_ms = -1;
    topics->last_retention_ms = -1;
    topics->defaults = *defaults;
    pthread_mutex_init(&topics->lock, NULL);
    pthread_mutex_init(&topics->checkpoint_lock, NULL);
    topics->dir = tr_strdup(log_dir);
    if (topics->dir == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (strlen(log_dir) + TR_TOPIC_NAME_MAX + 64 >= PATH_MAX) {
        snprintf(errbuf, errlen, "log.dirs %s: path too long", log_dir);
        err = TR_ERR_INVALID;
        goto fail;
    }

    err = TR_ERR_IO;
    if (mkdir_p(log_dir) != 0) {
        snprintf(errbuf, errlen, "log.dirs %s: cannot create: %s", log_dir,
                 strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/" LOCK_FILE, log_dir);
    topics->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (topics->lock_fd < 0) {
        snprintf(errbuf, errlen, "log.dirs %s: cannot open %s: %s", log_dir,
                 path, strerror(errno));
        goto fail;
    }
    if (flock(topics->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            snprintf(errbuf, errlen,
                     "log.dirs %s is locked by another process (another "
                     "collector holds %s)",
                     log_dir, path);
            err = TR_ERR_LOCKED;
        } else {
            snprintf(errbuf, errlen, "log.dirs %s: cannot lock %s: %s", log_dir,
                     path, strerror(errno));
        }
        goto fail;
    }

    /* The marker is consumed now, so a crash from here on recovers. */
    snprintf(path, sizeof(path), "%s/" CLEAN_SHUTDOWN_FILE, log_dir);
    clean = access(path, F_OK) == 0;
    recover = !clean;
    if (clean) {
        if (unlink(path) != 0 || fsync_dir(log_dir) != TR_OK) {
            snprintf(errbuf, errlen, "log.dirs %s: cannot remove %s: %s",
                     log_dir, path, strerror(errno));
            goto fail;
        }
    }

    err = read_checkpoint(topics, CHECKPOINT_FILE, &rp);
    if (err == TR_OK) {
        err = read_checkpoint(topics, LOG_START_FILE, &log_starts);
    }
    if (err == TR_OK) {
        err = read_checkpoint(topics, CLEANER_FILE, &cleaner_points);
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    topics->log_starts = &log_starts;
    topics->cleaner_points = &cleaner_points;
    err = load_topics(topics, recover, &rp, errbuf, errlen);
    if (err != TR_OK) {
        goto fail;
    }
    err = adopt_strays(topics, recover, &rp, errbuf, errlen);
    if (err != TR_OK) {
        goto fail;
    }
    recovery_points_free(&rp);
    recovery_points_free(&log_starts);
    recovery_points_free(&cleaner_points);
    topics->log_starts = NULL;
    topics->cleaner_points = NULL;
    tr_log_info("%s: %zu topics opened%s", log_dir, topics->ntopics,
                recover && topics->ntopics > 0
                    ? " (no clean-shutdown marker: partitions recovered)"
                    : "");
    *out = topics;
    return TR_OK;
fail:
    /* Nothing was flushed as clean: leave no marker, just let go. */
    recovery_points_free(&rp);
    recovery_points_free(&log_starts);
    recovery_points_free(&cleaner_points);
    if (topics != NULL) {
        while (topics->ntopics > 0) {
            topic_free(topics->topics[--topics->ntopics]);
        }
        tr_free(topics->topics);
        if (topics->lock_fd >= 0) {
            close(topics->lock_fd);
        }
        pthread_mutex_destroy(&topics->lock);
        pthread_mutex_destroy(&topics->checkpoint_lock);
        tr_free(topics->dir);
        tr_free(topics);
    }
    return err;
}

/*
 * Takes a reference on every partition, so that slow work (fsync, reading
 * recovery points) runs without the registry lock. Returns an owned array
 * (release with put_refs) or NULL with *n = 0 on NOMEM.
 */
static struct tr_partition **
take_refs(struct tr_topics *topics, size_t *n)
{
    struct tr_partition **refs;
    size_t i, total = 0, k = 0;
    int32_t p;

    pthread_mutex_lock(&topics->lock);
    for (i = 0; i < topics->ntopics; i++) {
        total += (size_t)topics->topics[i]->npartitions;
    }
    refs = tr_malloc((total ? total : 1) * sizeof(*refs));
    if (refs != NULL) {
        for (i = 0; i < topics->ntopics; i++) {
            for (p = 0; p < topics->topics[i]->npartitions; p++) {
                refs[k] = topics->topics[i]->parts[p];
                tr_partition_ref(refs[k]);
                k++;
            }
        }
    }
    pthread_mutex_unlock(&topics->lock);
    *n = k;
    return refs;
}

static void
put_refs(struct tr_partition **refs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        tr_partition_unref(refs[i]);
    }
    tr_free(refs);
}

enum checkpoint_kind {
    CHECKPOINT_RECOVERY,
    CHECKPOINT_LOG_START,
    CHECKPOINT_CLEANER,
};

static int64_t
checkpoint_value(struct tr_partition *part, enum checkpoint_kind kind)
{
    struct tr_partition_offsets offs;

    switch (kind) {
    case CHECKPOINT_LOG_START:
        tr_partition_offsets(part, &offs);
        return offs.log_start;
    case CHECKPOINT_CLEANER:
        return tr_partition_first_dirty(part);
    case CHECKPOINT_RECOVERY:
        break;
    }
    return tr_partition_recovery_point(part);
}

/*
 * Writes one offset checkpoint of every partition now open (Kafka's text
 * format, see the top of this file): the recovery points, the log start
 * offsets or the cleaner's first dirty offsets.
 */
static tr_err_t
write_offsets(struct tr_topics *topics, enum checkpoint_kind kind,
              const char *file)
{
    struct tr_partition **refs;
    char *text = NULL;
    size_t n, i, len = 0, cap;
    int r;
    tr_err_t err = TR_ERR_NOMEM;

    pthread_mutex_lock(&topics->checkpoint_lock);
    refs = take_refs(topics, &n);
    if (refs == NULL) {
        goto out;
    }
    cap = 64 + n * (TR_TOPIC_NAME_MAX + 48);
    text = tr_malloc(cap);
    if (text == NULL) {
        goto out;
    }
    r = snprintf(text, cap, "0\n%zu\n", n);
    len = (size_t)r;
    for (i = 0; i < n; i++) {
        r = snprintf(text + len, cap - len, "%s %" PRId32 " %" PRId64 "\n",
                     tr_partition_topic(refs[i]), tr_partition_index(refs[i]),
                     checkpoint_value(refs[i], kind));
        len += (size_t)r;
    }
    err = write_atomic(topics->dir, file, text, len);
    if (err != TR_OK) {
        tr_log_error("%s/%s: cannot write: %s (%s)", topics->dir, file,
                     tr_err_str(err), strerror(errno));
    }
out:
    put_refs(refs, n);
    tr_free(text);
    pthread_mutex_unlock(&topics->checkpoint_lock);
    return err;
}

/* Writes the recovery-point, log-start and cleaner checkpoints. */
static tr_err_t
write_checkpoint(struct tr_topics *topics)
{
    tr_err_t err, err2, err3;

    err = write_offsets(topics, CHECKPOINT_RECOVERY, CHECKPOINT_FILE);
    err2 = write_offsets(topics, CHECKPOINT_LOG_START, LOG_START_FILE);
    err3 = write_offsets(topics, CHECKPOINT_CLEANER, CLEANER_FILE);
    return err != TR_OK ? err : err2 != TR_OK ? err2 : err3;
}

tr_err_t
tr_topics_flush(struct tr_topics *topics)
{
    struct tr_partition **refs;
    size_t n, i;
    tr_err_t err, first = TR_OK;

    refs = take_refs(topics, &n);
    if (refs == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        err = tr_partition_flush(refs[i]);
        if (err != TR_OK && first == TR_OK) {
            tr_log_error("%s: flush failed: %s", tr_partition_dir(refs[i]),
                         tr_err_str(err));
            first = err;
        }
    }
    put_refs(refs, n);
    return first;
}

void
tr_topics_close(struct tr_topics *topics)
{
    tr_err_t err;

    if (topics == NULL) {
        return;
    }
    err = tr_topics_flush(topics);
    if (err == TR_OK) {
        err = write_checkpoint(topics);
    }
    while (topics->ntopics > 0) {
        topic_free(topics->topics[--topics->ntopics]);
    }
    tr_free(topics->topics);
    if (err == TR_OK) {
        /* Only a fully flushed directory earns the marker. */
        err = write_atomic(topics->dir, CLEAN_SHUTDOWN_FILE, "", 0);
        if (err != TR_OK) {
            tr_log_error("%s/" CLEAN_SHUTDOWN_FILE ": cannot write: %s",
                         topics->dir, tr_err_str(err));
        }
    } else {
        tr_log_error("%s: shutdown was not clean (%s); the next start will "
                     "recover",
                     topics->dir, tr_err_str(err));
    }
    close(topics->lock_fd);
    pthread_mutex_destroy(&topics->lock);
    pthread_mutex_destroy(&topics->checkpoint_lock);
    tr_free(topics->dir);
    tr_free(topics);
}

void
tr_topics_tick(struct tr_topics *topics, int64_t now_ms)
{
    struct tr_partition **refs;
    size_t n, i;
    int due, retain, deleted = 0;

    refs = take_refs(topics, &n);
    if (refs == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        tr_partition_tick(refs[i], now_ms);
    }

    /* Retention every log.retention.check.interval.ms (and at first). */
    pthread_mutex_lock(&topics->lock);
    retain = topics->last_retention_ms < 0 ||
             now_ms - topics->last_retention_ms >=
                 topics->defaults.retention_check_interval_ms;
    if (retain) {
        topics->last_retention_ms = now_ms;
    }
    pthread_mutex_unlock(&topics->lock);
    for (i = 0; retain && i < n; i++) {
        deleted += tr_partition_retain(refs[i], now_ms);
    }
    put_refs(refs, n);
    if (deleted > 0) {
        /* The log start offsets moved: persist them now. */
        write_offsets(topics, CHECKPOINT_LOG_START, LOG_START_FILE);
    }

    pthread_mutex_lock(&topics->lock);
    if (topics->last_checkpoint_ms < 0) {
        topics->last_checkpoint_ms = now_ms;
    }
    due = now_ms - topics->last_checkpoint_ms >= CHECKPOINT_INTERVAL_MS;
    if (due) {
        topics->last_checkpoint_ms = now_ms;
    }
    pthread_mutex_unlock(&topics->lock);
    if (due) {
        write_checkpoint(topics);
    }
}

tr_err_t
tr_topics_meta_broker_id(struct tr_topics *topics, int32_t *broker_id,
                         char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    char *data = NULL;
    const char *p;
    size_t len;
    long long id;
    tr_err_t err;

    snprintf(path, sizeof(path), "%s/" META_FILE, topics->dir);
    err = read_file(path, 64 * 1024, &data, &len);
    if (err == TR_ERR_NOT_FOUND) {
        goto out;
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "%s: cannot read: %s", path, tr_err_str(err));
        goto out;
    }
    p = strstr(data, "broker.id=");
    if (p == NULL || (p != data && p[-1] != '\n') ||
        sscanf(p, "broker.id=%lld", &id) != 1 || id < 0 || id > INT32_MAX) {
        snprintf(errbuf, errlen, "%s: no broker.id line", path);
        err = TR_ERR_CORRUPT;
        goto out;
    }
    *broker_id = (int32_t)id;
    err = TR_OK;
out:
    tr_free(data);
    return err;
}

tr_err_t
tr_topics_check_broker_id(struct tr_topics *topics, int32_t broker_id,
                          char *errbuf, size_t errlen)
{
    char path[PATH_MAX], text[128];
    int32_t id;
    int r;
    tr_err_t err;

    snprintf(path, sizeof(path), "%s/" META_FILE, topics->dir);
    err = tr_topics_meta_broker_id(topics, &id, errbuf, errlen);
    if (err == TR_ERR_NOT_FOUND) {
        r = snprintf(text, sizeof(text), "version=0\nbroker.id=%" PRId32 "\n",
                     broker_id);
        err = write_atomic(topics->dir, META_FILE, text, (size_t)r);
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "%s: cannot write: %s", path,
                     tr_err_str(err));
        }
        return err;
    }
    if (err == TR_OK && id != broker_id) {
        snprintf(errbuf, errlen,
                 "%s: the log directory belongs to broker.id %" PRId32
                 ", not the configured %" PRId32,
                 path, id, broker_id);
        err = TR_ERR_CONFIG;
    }
    return err;
}

/* ---------------------------------------------------------------------- */
/* Admin operations                                                        */

/* Checks whether a directory of a deleted incarnation is still around. */
static int
partition_dir_exists(struct tr_topics *topics, const char *name, int32_t index)
{
    char dir[PATH_MAX];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/%s-%" PRId32, topics->dir, name, index);
    return stat(dir, &st) == 0;
}

tr_err_t
tr_topics_validate_configs(const struct tr_config_entry *configs,
                           size_t nconfigs, char *errbuf, size_t errlen)
{
    char reason[256];
    const struct topic_opt *o;
    size_t i, k;

    for (i = 0; i < nconfigs; i++) {
        o = find_topic_opt(configs[i].name, &k);
        if (o == NULL) {
            /* Kafka's words (InvalidConfigurationException). */
            snprintf(errbuf, errlen, "Unknown topic config name: %s",
                     configs[i].name);
            return TR_ERR_CONFIG;
        }
        if (configs[i].value != NULL &&
            validate_topic_value(o, configs[i].value, reason, sizeof(reason)) !=
                TR_OK) {
            snprintf(errbuf, errlen, "invalid value for %s: %s", o->name,
                     reason);
            return TR_ERR_CONFIG;
        }
    }
    return TR_OK;
}

tr_err_t
tr_topics_create(struct tr_topics *topics, const char *name, int32_t partitions,
                 const struct tr_config_entry *configs, size_t nconfigs,
                 char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    const struct topic_opt *o;
    struct topic *t = NULL;
    size_t i, k;
    int32_t p;
    int locked = 0, opened = 0;
    tr_err_t err = TR_ERR_INVALID;

    if (errlen > 0) {
        errbuf[0] = '\0';
    }
    if (!tr_topics_valid_name(name)) {
        snprintf(errbuf, errlen,
                 "topic name '%s' is invalid: use 1 to %d of [a-zA-Z0-9._-], "
                 "and not '.' or '..'",
                 name, TR_TOPIC_NAME_MAX);
        goto out;
    }
    if (partitions < 1 || partitions > TOPICS_MAX_PARTITIONS) {
        snprintf(errbuf, errlen, "partitions must be between 1 and %d",
                 TOPICS_MAX_PARTITIONS);
        goto out;
    }
    t = tr_calloc(1, sizeof(*t));
    if (t == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (tr_topics_validate_configs(configs, nconfigs, errbuf, errlen) !=
        TR_OK) {
        err = TR_ERR_CONFIG;
        goto out;
    }
    for (i = 0; i < nconfigs; i++) {
        o = find_topic_opt(configs[i].name, &k);
        if (o == NULL || configs[i].value == NULL) {
            continue; /* null means "use the default" in CreateTopics */
        }
        tr_free(t->overrides[k]);
        t->overrides[k] = tr_strdup(configs[i].value);
        if (t->overrides[k] == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    t->parts = tr_calloc((size_t)partitions, sizeof(*t->parts));
    if (t->parts == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }

    pthread_mutex_lock(&topics->lock);
    locked = 1;
    apply_log_config(topics, t);
    if (topic_find(topics, name) != NULL) {
        snprintf(errbuf, errlen, "topic '%s' already exists", name);
        err = TR_ERR_EXISTS;
        goto out;
    }
    for (i = 0; i < topics->ntopics; i++) {
        if (names_collide(topics->topics[i]->name, name)) {
            snprintf(errbuf, errlen,
                     "topic '%s' collides with existing topic '%s' ('.' and "
                     "'_' are interchangeable in topic names)",
                     name, topics->topics[i]->name);
            goto out;
        }
    }
    for (p = 0; p < partitions; p++) {
        if (partition_dir_exists(topics, name, p)) {
            snprintf(errbuf, errlen,
                     "topic '%s' is still being deleted; try again later",
                     name);
            err = TR_ERR_EXISTS;
            goto out;
        }
    }
    err = open_partitions(topics, t, 0, partitions, 0, NULL, 1, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    t->npartitions = partitions;
    opened = 1;
    err = write_topic_meta(topics, t);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "cannot write metadata of topic %s: %s", name,
                 tr_err_str(err));
        goto out;
    }
    err = topic_insert(topics, t);
    if (err != TR_OK) {
        snprintf(path, sizeof(path), "%s/" TOPICS_DIR "/%s.properties",
                 topics->dir, name);
        unlink(path);
        goto out;
    }
    t = NULL;
    tr_log_info("created topic %s with %" PRId32 " partitions", name,
                partitions);
out:
    if (t != NULL && opened) {
        /* Undo the half-made topic, files included. */
        for (p = 0; p < t->npartitions; p++) {
            tr_partition_mark_deleted(t->parts[p]);
        }
    }
    topic_free(t);
    if (locked) {
        pthread_mutex_unlock(&topics->lock);
    }
    return err;
}

tr_err_t
tr_topics_delete(struct tr_topics *topics, const char *name)
{
    char path[PATH_MAX], dir[PATH_MAX];
    struct topic *t;
    int32_t p;
    tr_err_t err = TR_ERR_NOT_FOUND;

    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t == NULL) {
        goto out;
    }
    /* The metadata goes first: a crash after it leaves strays, which the
     * next open adopts, rather than metadata without partitions. */
    snprintf(dir, sizeof(dir), "%s/" TOPICS_DIR, topics->dir);
    if (snprintf(path, sizeof(path), "%s/%s.properties", dir, name) >=
        (int)sizeof(path)) {
        err = TR_ERR_INVALID;
        goto out;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        err = io_error();
        goto out;
    }
    fsync_dir(dir);
    topic_remove(topics, name);
    for (p = 0; p < t->npartitions; p++) {
        tr_partition_mark_deleted(t->parts[p]);
    }
    topic_free(t); /* drops our references; the last one removes files */
    tr_log_info("deleted topic %s", name);
    err = TR_OK;
out:
    pthread_mutex_unlock(&topics->lock);
    return err;
}

tr_err_t
tr_topics_add_partitions(struct tr_topics *topics, const char *name,
                         int32_t total)
{
    char errbuf[512];
    struct topic *t;
    int32_t old, p;
    tr_err_t err = TR_ERR_NOT_FOUND;

    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t == NULL) {
        goto out;
    }
    if (total <= t->npartitions || total > TOPICS_MAX_PARTITIONS) {
        err = TR_ERR_INVALID;
        goto out;
    }
    for (p = t->npartitions; p < total; p++) {
        if (partition_dir_exists(topics, name, p)) {
            /* A deleted incarnation's directory: never reuse its data. */
            err = TR_ERR_EXISTS;
            goto out;
        }
    }
    old = t->npartitions;
    err = grow_topic(topics, t, total, 0, NULL, 1, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("topic %s: %s", name, errbuf);
        goto out;
    }
    err = write_topic_meta(topics, t);
    if (err != TR_OK) {
        tr_log_error("topic %s: cannot write metadata: %s", name,
                     tr_err_str(err));
        while (t->npartitions > old) {
            t->npartitions--;
            tr_partition_mark_deleted(t->parts[t->npartitions]);
            tr_partition_unref(t->parts[t->npartitions]);
        }
        goto out;
    }
    tr_log_info("topic %s grown to %" PRId32 " partitions", name, total);
out:
    pthread_mutex_unlock(&topics->lock);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Lookups                                                                 */

struct tr_partition *
tr_topics_partition(struct tr_topics *topics, const char *name, int32_t index)
{
    struct tr_partition *part = NULL;
    struct topic *t;

    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t != NULL && index >= 0 && index < t->npartitions) {
        part = t->parts[index];
        tr_partition_ref(part);
    }
    pthread_mutex_unlock(&topics->lock);
    return part;
}

int32_t
tr_topics_partition_count(struct tr_topics *topics, const char *name)
{
    struct topic *t;
    int32_t n = -1;

    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t != NULL) {
        n = t->npartitions;
    }
    pthread_mutex_unlock(&topics->lock);
    return n;
}

tr_err_t
tr_topics_list(struct tr_topics *topics, struct tr_topic_info **out,
               size_t *count)
{
    struct tr_topic_info *info;
    size_t i;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&topics->lock);
    info = tr_calloc(topics->ntopics ? topics->ntopics : 1, sizeof(*info));
    if (info == NULL) {
        goto out;
    }
    for (i = 0; i < topics->ntopics; i++) {
        snprintf(info[i].name, sizeof(info[i].name), "%s",
                 topics->topics[i]->name);
        info[i].partitions = topics->topics[i]->npartitions;
    }
    *out = info;
    *count = topics->ntopics;
    err = TR_OK;
out:
    pthread_mutex_unlock(&topics->lock);
    return err;
}

tr_err_t
tr_topics_describe_configs(struct tr_topics *topics, const char *name,
                           tr_topics_config_cb *cb, void *arg)
{
    char values[NTOPIC_OPTS][TOPICS_MAX_VALUE_LEN + 1];
    enum tr_config_source sources[NTOPIC_OPTS];
    struct topic *t;
    size_t i;

    /* Copy under the lock, call back outside it: 'cb' may call us. */
    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t == NULL) {
        pthread_mutex_unlock(&topics->lock);
        return TR_ERR_NOT_FOUND;
    }
    for (i = 0; i < NTOPIC_OPTS; i++) {
        sources[i] =
            topic_value(t, &topics->defaults, i, values[i], sizeof(values[i]));
    }
    pthread_mutex_unlock(&topics->lock);
    for (i = 0; i < NTOPIC_OPTS; i++) {
        cb(topic_opts[i].name, values[i], sources[i], arg);
    }
    return TR_OK;
}

struct tr_partition **
tr_topics_partitions(struct tr_topics *topics, size_t *n)
{
    struct tr_partition **refs = take_refs(topics, n);

    if (refs == NULL) {
        *n = 0;
    }
    return refs;
}

void
tr_topics_partitions_release(struct tr_partition **parts, size_t n)
{
    put_refs(parts, n);
}

tr_err_t
tr_topics_delete_records(struct tr_topics *topics, const char *name,
                         int32_t index, int64_t offset, int64_t *low_watermark)
{
    struct tr_partition *part;
    tr_err_t err;

    *low_watermark = -1;
    part = tr_topics_partition(topics, name, index);
    if (part == NULL) {
        return TR_ERR_NOT_FOUND;
    }
    err = tr_partition_delete_records(part, offset, low_watermark);
    tr_partition_unref(part);
    if (err == TR_OK) {
        err = write_offsets(topics, CHECKPOINT_LOG_START, LOG_START_FILE);
    }
    return err;
}

/* The value of list config 'i' of 't' with 'item' added or removed. */
static tr_err_t
list_edit(const struct topic *t, const struct tr_log_config *defaults, size_t i,
          const char *item, int add, char *out, size_t outlen)
{
    char cur[TOPICS_MAX_VALUE_LEN + 1], *p, *comma;
    size_t len = 0;
    int present = 0;

    (void)topic_value(t, defaults, i, cur, sizeof(cur));
    out[0] = '\0';
    for (p = cur; *p != '\0'; p = comma) {
        comma = strchr(p, ',');
        if (comma == NULL) {
            comma = p + strlen(p);
        } else {
            *comma++ = '\0';
        }
        if (strcmp(p, item) == 0) {
            present = 1;
            if (!add) {
                continue;
            }
        }
        if (*p != '\0') {
            len += (size_t)snprintf(out + len, outlen - len, "%s%s",
                                    len ? "," : "", p);
        }
        if (len >= outlen) {
            return TR_ERR_TOO_LARGE;
        }
    }
    if (add && !present) {
        len += (size_t)snprintf(out + len, outlen - len, "%s%s", len ? "," : "",
                                item);
    }
    return len < outlen ? TR_OK : TR_ERR_TOO_LARGE;
}

tr_err_t
tr_topics_alter_configs(struct tr_topics *topics, const char *name,
                        const struct tr_config_alter *alters, size_t n,
                        int replace, int validate_only, char *errbuf,
                        size_t errlen)
{
    char *next[NTOPIC_OPTS];
    char value[TOPICS_MAX_VALUE_LEN + 2], reason[256];
    const struct topic_opt *o;
    struct topic *t, saved;
    const char *v;
    size_t i, k;
    int32_t p;
    tr_err_t err = TR_ERR_NOT_FOUND;

    memset(next, 0, sizeof(next));
    if (errlen > 0) {
        errbuf[0] = '\0';
    }
    pthread_mutex_lock(&topics->lock);
    t = topic_find(topics, name);
    if (t == NULL) {
        snprintf(errbuf, errlen, "topic '%s' does not exist", name);
        goto out;
    }
    /* 1. The new overrides, built aside: nothing changes on an error. */
    for (k = 0; k < NTOPIC_OPTS && !replace; k++) {
        if (t->overrides[k] != NULL) {
            next[k] = tr_strdup(t->overrides[k]);
            if (next[k] == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
        }
    }
    for (i = 0; i < n; i++) {
        o = find_topic_opt(alters[i].name, &k);
        if (o == NULL) {
            snprintf(errbuf, errlen, "Unknown topic config name: %s",
                     alters[i].name);
            err = TR_ERR_CONFIG;
            goto out;
        }
        v = alters[i].value;
        if (replace) {
            if (v == NULL) {
                continue;
            }
        } else if (alters[i].op == TR_CONFIG_OP_DELETE) {
            tr_free(next[k]);
            next[k] = NULL;
            continue;
        } else if (alters[i].op == TR_CONFIG_OP_APPEND ||
                   alters[i].op == TR_CONFIG_OP_SUBTRACT) {
            if (o->type != TOPT_LIST) {
                snprintf(errbuf, errlen,
                         "%s is not a list config: APPEND and SUBTRACT do "
                         "not apply",
                         o->name);
                err = TR_ERR_INVALID;
                goto out;
            }
            if (v == NULL || strchr(v, ',') != NULL) {
                snprintf(errbuf, errlen, "%s: one value expected", o->name);
                err = TR_ERR_CONFIG;
                goto out;
            }
            {
                /* Edit the value as it stands with the earlier entries. */
                struct topic view = *t;

                memcpy(view.overrides, next, sizeof(next));
                err = list_edit(&view, &topics->defaults, k, v,
                                alters[i].op == TR_CONFIG_OP_APPEND, value,
                                sizeof(value));
            }
            if (err != TR_OK) {
                snprintf(errbuf, errlen, "%s: value too long", o->name);
                err = TR_ERR_CONFIG;
                goto out;
            }
            v = value;
        } else if (alters[i].op != TR_CONFIG_OP_SET) {
            snprintf(errbuf, errlen, "unknown operation %d for %s",
                     alters[i].op, o->name);
            err = TR_ERR_INVALID;
            goto out;
        }
        if (v == NULL) {
            snprintf(errbuf, errlen, "%s: null value", o->name);
            err = TR_ERR_CONFIG;
            goto out;
        }
        if (validate_topic_value(o, v, reason, sizeof(reason)) != TR_OK) {
            snprintf(errbuf, errlen, "invalid value '%s' for %s: %s", v,
                     o->name, reason);
            err = TR_ERR_CONFIG;
            goto out;
        }
        tr_free(next[k]);
        next[k] = tr_strdup(v);
        if (next[k] == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    if (validate_only) {
        err = TR_OK;
        goto out;
    }
    /* 2. Swap them in, write the file, and undo if that fails. */
    saved = *t;
    memcpy(t->overrides, next, sizeof(next));
    err = write_topic_meta(topics, t);
    if (err != TR_OK) {
        memcpy(next, t->overrides, sizeof(next));
        memcpy(t->overrides, saved.overrides, sizeof(next));
        snprintf(errbuf, errlen, "cannot write the config of topic %s: %s",
                 name, tr_err_str(err));
        goto out;
    }
    memcpy(next, saved.overrides, sizeof(next)); /* freed below */
    apply_log_config(topics, t);
    for (p = 0; p < t->npartitions; p++) {
        tr_partition_set_config(t->parts[p], &t->log);
    }
    tr_log_info("topic %s: configs %s", name, replace ? "replaced" : "changed");
    err = TR_OK;
out:
    pthread_mutex_unlock(&topics->lock);
    for (k = 0; k < NTOPIC_OPTS; k++) {
        tr_free(next[k]);
    }
    return err;
}
