/*
 * api_logdirs -- DescribeLogDirs (v0-4): what this broker's log directory
 * holds, partition by partition, and how full its filesystem is.
 *
 * Admin tools ask every broker in turn (the answer is about the broker's own
 * disk, not the cluster), so this handler never forwards anything: it lists
 * the partitions in the local registry -- leaders and followers alike, as
 * Kafka lists every log in a directory -- with their size on disk (the
 * segments' .log files, Kafka's Log.size) and their offset lag.
 *
 *   request:  Topics [Topic string, Partitions [int32]]   null: every topic
 *   response: ThrottleTimeMs int32, (v3+) ErrorCode int16,
 *             Results [ErrorCode int16, LogDir string,
 *                      Topics [Name string,
 *                              Partitions [PartitionIndex int32,
 *                                          PartitionSize int64,
 *                                          OffsetLag int64,
 *                                          IsFutureKey bool]],
 *                      (v4+) TotalBytes int64, UsableBytes int64]
 *
 * v2+ are flexible (compact lengths, a tagged-field section closing every
 * struct). Topics and partitions asked for but not held here are left out,
 * as Kafka does, rather than answered with an error: another broker may
 * hold them. IsFutureKey is always false (no AlterReplicaLogDirs, and
 * log.dirs is a single directory).
 *
 * Offset lag is Kafka's: the high watermark minus the log end, never below
 * zero, so always 0 on a leader. A follower's own high watermark is capped
 * at its log end, so it uses the last one its leader sent instead
 * (tr_partition_offsets' hw_offered): a follower catching up reports how
 * far it is behind the leader's committed records, and 0 once it holds
 * them all or before it has heard from the leader.
 */
#include "api.h"

#include "build-config.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "alloc.h"
#include "config.h"
#include "topics.h"

/* One local partition, sorted by (topic, index) for lookups. */
struct local {
    struct tr_partition *part;
    const char *topic;
    int32_t index;
    int selected;
};

static int
local_cmp(const void *x, const void *y)
{
    const struct local *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);

    if (c != 0) {
        return c;
    }
    return (a->index > b->index) - (a->index < b->index);
}

/* Orders a wire string against a topic name as strcmp would. */
static int
str_cmp(const struct tr_str *s, const char *name)
{
    size_t nlen = strlen(name);
    size_t slen = (size_t)s->len;
    int c = memcmp(s->ptr, name, slen < nlen ? slen : nlen);

    if (c != 0) {
        return c;
    }
    return (slen > nlen) - (slen < nlen);
}

/* Marks the local partition (topic, index), if there is one. */
static void
select_one(struct local *locals, size_t n, const struct tr_str *topic,
           int32_t index)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(topic, locals[mid].topic);

        if (c == 0) {
            c = (index > locals[mid].index) - (index < locals[mid].index);
        }
        if (c == 0) {
            locals[mid].selected = 1;
            return;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
}

/*
 * Reads the Topics array; with 'locals' set it also marks every local
 * partition asked for (*all set for a null array). The first pass runs
 * without 'locals' to check the whole request before any work.
 */
static tr_err_t
read_topics(struct tr_slice *in, int flex, struct local *locals, size_t n,
            int *all)
{
    struct tr_str topic;
    int32_t ntopics, np, t, i, index;
    tr_err_t err;

    /* A topic takes at least 6 bytes (3 compact), a partition 4. */
    err = tr_proto_get_array_len_v(in, flex, &ntopics, flex ? 3 : 6,
                                   TR_API_MAX_TOPICS);
    if (err != TR_OK) {
        return err;
    }
    *all = ntopics < 0;
    for (t = 0; t < ntopics; t++) {
        if ((err = tr_proto_get_string_v(in, flex, &topic)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 4,
                                            TR_API_MAX_PARTITIONS)) != TR_OK) {
            return err;
        }
        if (topic.len < 0) {
            return TR_ERR_CORRUPT; /* the name is not nullable */
        }
        for (i = 0; i < np; i++) {
            if ((err = tr_slice_get_i32(in, &index)) != TR_OK) {
                return err;
            }
            if (locals != NULL) {
                select_one(locals, n, &topic, index);
            }
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            return err;
        }
    }
    if (flex) {
        return tr_proto_skip_tags(in);
    }
    return TR_OK;
}

/* Kafka's OffsetLag for one local partition (see the top of the file). */
static int64_t
offset_lag(struct tr_request *req, const struct local *l,
           const struct tr_partition_offsets *offs)
{
#ifdef HAVE_ZOOKEEPER
    struct tr_pstate st;

    if (req->broker->cluster != NULL &&
        tr_cluster_partition_state(req->broker->cluster, l->topic, l->index,
                                   &st) &&
        st.leader != req->broker->node_id && offs->hw_offered > offs->log_end) {
        return offs->hw_offered - offs->log_end;
    }
#else
    (void)req;
    (void)l;
    (void)offs;
#endif
    return 0;
}

/* Writes the Topics array of the one result: the selected partitions. */
static void
put_topics(struct tr_request *req, const struct local *locals, size_t n)
{
    struct tr_buf *out = req->out;
    int flex = req->hdr.flexible;
    int32_t ntopics = 0, np;
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (locals[i].selected &&
            (i == 0 || !locals[i - 1].selected ||
             strcmp(locals[i - 1].topic, locals[i].topic) != 0)) {
            ntopics++;
        }
    }
    tr_proto_put_array_len_v(out, flex, ntopics); /* Topics */
    for (i = 0; i < n; i = j) {
        for (j = i, np = 0;
             j < n && strcmp(locals[j].topic, locals[i].topic) == 0; j++) {
            np += locals[j].selected;
        }
        if (np == 0) {
            continue;
        }
        tr_proto_put_cstring_v(out, flex, locals[i].topic); /* Name */
        tr_proto_put_array_len_v(out, flex, np);            /* Partitions */
        for (; i < j; i++) {
            struct tr_partition_offsets offs;

            if (!locals[i].selected) {
                continue;
            }
            tr_partition_offsets(locals[i].part, &offs);
            tr_buf_put_i32(out, locals[i].index); /* PartitionIndex */
            tr_buf_put_i64(out, offs.size_bytes); /* PartitionSize */
            tr_buf_put_i64(out,
                           offset_lag(req, &locals[i], &offs)); /* OffsetLag */
            tr_proto_put_bool(out, 0); /* IsFutureKey */
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
}

tr_err_t
tr_api_describe_log_dirs(struct tr_request *req)
{
    struct tr_slice topics_at = req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = req->hdr.flexible;
    struct tr_partition **parts = NULL;
    struct local *locals = NULL;
    const char *dir = req->broker->cfg->log_dirs;
    char path[PATH_MAX];
    struct statvfs fs;
    int64_t total = -1, usable = -1;
    int16_t kerr = TR_KERR_NONE;
    size_t nparts = 0, n, i;
    int all;
    tr_err_t err;

    /* First pass: a malformed request closes the connection, untouched. */
    err = read_topics(&req->body, flex, NULL, 0, &all);
    if (err != TR_OK) {
        goto out;
    }
    if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        /* Kafka: no results; from v3 also the code at the top. */
        tr_request_put_throttle(req);
        if (v >= 3) {
            tr_buf_put_i16(out, TR_KERR_CLUSTER_AUTHORIZATION_FAILED);
        }
        tr_proto_put_array_len_v(out, flex, 0); /* Results */
        tr_proto_put_tags_v(out, flex);
        goto out;
    }

    parts = tr_topics_partitions(req->broker->topics, &nparts);
    n = nparts;
    if (n > 0) {
        locals = tr_calloc(n, sizeof(*locals));
        if (locals == NULL) {
            /* Answer, rather than drop the client: the directory is fine. */
            kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
            n = 0;
        }
    }
    for (i = 0; i < n; i++) {
        locals[i].part = parts[i];
        locals[i].topic = tr_partition_topic(parts[i]);
        locals[i].index = tr_partition_index(parts[i]);
        locals[i].selected = 1;
    }
    if (n > 1) {
        qsort(locals, n, sizeof(*locals), local_cmp);
    }
    if (!all) {
        for (i = 0; i < n; i++) {
            locals[i].selected = 0;
        }
        (void)read_topics(&topics_at, flex, locals, n, &all);
    }
    if (realpath(dir, path) != NULL) {
        dir = path; /* LogDir is "the absolute log directory path" */
    }
    if (statvfs(dir, &fs) == 0) {
        total = (int64_t)fs.f_blocks * (int64_t)fs.f_frsize;
        usable = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
    }

    tr_request_put_throttle(req);
    if (v >= 3) {
        tr_buf_put_i16(out, TR_KERR_NONE); /* ErrorCode */
    }
    tr_proto_put_array_len_v(out, flex, 1); /* Results: the one log dir */
    tr_buf_put_i16(out, kerr);              /* ErrorCode */
    tr_proto_put_cstring_v(out, flex, dir); /* LogDir */
    put_topics(req, locals, n);
    if (v >= 4) {
        tr_buf_put_i64(out, total);  /* TotalBytes */
        tr_buf_put_i64(out, usable); /* UsableBytes */
    }
    tr_proto_put_tags_v(out, flex);
    tr_proto_put_tags_v(out, flex);
    err = TR_OK;
out:
    tr_free(locals);
    tr_topics_partitions_release(parts, nparts);
    return err;
}
