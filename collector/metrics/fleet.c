/*
 * fleet -- the collector's view of its agents (see fleet.h).
 *
 * One struct agent per host, kept in a list sorted by host. A status
 * record is parsed whole into a new struct agent first and only then
 * replaces the old one, so a malformed record changes nothing.
 */
#include "fleet.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include "alloc.h"
#include "batch.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "partition.h"
#include "topics.h"

#define FLEET_PARTITIONS_MAX 64
#define FLEET_READ_CHUNK     (256u << 10)
#define FLEET_BATCH_MAX      (16u << 20) /* inflated batch bound */
#define FLEET_WARN_EVERY_MS  60000
#define FLEET_STR_MAX        4096 /* a path, a host, an error text */
/*
 * Bytes of batches parsed per poll: a long replay (after a restart, before
 * compaction caught up) is done in slices so the event loop it shares
 * with the HTTP listener, signals and timers is never held for long.
 */
#define FLEET_POLL_BYTES (4u << 20)
#define FLEET_FOLLOW_MS  250

struct fleet_input {
    char *name, *topic;
};

struct fleet_file {
    char *path, *input;
    int64_t bytes_read, bytes_acked, bytes_behind;
    int64_t last_ack_ms; /* -1: null */
};

struct agent {
    size_t size; /* bytes of the record it was parsed from */
    char *host, *version;
    int64_t started_ms, last_seen_ms;
    char *last_error; /* NULL: none */
    int64_t last_error_ms;
    struct fleet_input *inputs;
    size_t ninputs;
    struct fleet_file *files;
    size_t nfiles;
    TAILQ_ENTRY(agent) link;
};

TAILQ_HEAD(agent_list, agent);

struct tr_fleet {
    struct tr_topics *topics;
    int64_t silent_after_ms;
    struct agent_list agents;
    size_t nagents;
    size_t bytes; /* sum of the agents' record sizes (TR_FLEET_MAX_BYTES) */
    int64_t next[FLEET_PARTITIONS_MAX]; /* next offset to read */
    uint64_t skipped, skipped_unwarned;
    int64_t last_warn_ms;
    struct event *ev_follow; /* tr_fleet_follow's timer, or NULL */
};

static const char *const topic_keys[] = { "cleanup.policy",
                                          "message.timestamp.type",
                                          "segment.bytes" };
static const char *const topic_values[] = { "compact", "LogAppendTime",
                                            "104857600" };

size_t
tr_fleet_topic_configs(const char *const **keys, const char *const **values)
{
    *keys = topic_keys;
    *values = topic_values;
    return sizeof(topic_keys) / sizeof(topic_keys[0]);
}

tr_err_t
tr_fleet_ensure_topic(struct tr_topics *topics, char *errbuf, size_t errlen)
{
    struct tr_config_entry configs[sizeof(topic_keys) / sizeof(topic_keys[0])];
    tr_err_t err;

    if (tr_topics_partition_count(topics, TR_FLEET_TOPIC) >= 0) {
        return TR_OK;
    }
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        configs[i].name = topic_keys[i];
        configs[i].value = topic_values[i];
    }
    err =
        tr_topics_create(topics, TR_FLEET_TOPIC, 1, configs,
                         sizeof(configs) / sizeof(configs[0]), errbuf, errlen);
    if (err == TR_OK) {
        tr_log_info("created %s (compacted) for the agents' status records",
                    TR_FLEET_TOPIC);
    } else if (err != TR_ERR_EXISTS && err != TR_ERR_CONFIG) {
        snprintf(errbuf, errlen, "%s", tr_err_str(err));
    }
    return err == TR_ERR_EXISTS ? TR_OK : err;
}

static void
agent_free(struct agent *ag)
{
    if (ag == NULL) {
        return;
    }
    for (size_t i = 0; i < ag->ninputs; i++) {
        tr_free(ag->inputs[i].name);
        tr_free(ag->inputs[i].topic);
    }
    for (size_t i = 0; i < ag->nfiles; i++) {
        tr_free(ag->files[i].path);
        tr_free(ag->files[i].input);
    }
    tr_free(ag->inputs);
    tr_free(ag->files);
    tr_free(ag->host);
    tr_free(ag->version);
    tr_free(ag->last_error);
    tr_free(ag);
}

tr_err_t
tr_fleet_new(struct tr_topics *topics, int64_t silent_after_ms,
             struct tr_fleet **out)
{
    struct tr_fleet *fl = tr_calloc(1, sizeof(*fl));

    *out = NULL;
    if (fl == NULL) {
        return TR_ERR_NOMEM;
    }
    fl->topics = topics;
    fl->silent_after_ms = silent_after_ms;
    TAILQ_INIT(&fl->agents);
    *out = fl;
    return TR_OK;
}

void
tr_fleet_free(struct tr_fleet *fl)
{
    struct agent *ag;

    if (fl == NULL) {
        return;
    }
    if (fl->ev_follow != NULL) {
        event_free(fl->ev_follow);
    }
    while ((ag = TAILQ_FIRST(&fl->agents)) != NULL) {
        TAILQ_REMOVE(&fl->agents, ag, link);
        agent_free(ag);
    }
    tr_free(fl);
}

/* ---- parsing a status record ---------------------------------------------
 */

/* An owned copy of string member 'key' of 'obj'; NULL member: *out NULL. */
static tr_err_t
get_str(const struct tr_json_value *obj, const char *key, int nullable,
        char **out)
{
    struct tr_json_value v;
    char buf[FLEET_STR_MAX];
    tr_err_t err;

    *out = NULL;
    if ((err = tr_json_get(obj, key, &v)) != TR_OK) {
        return err == TR_ERR_NOT_FOUND && nullable ? TR_OK : TR_ERR_INVALID;
    }
    if (v.type == TR_JSON_NULL && nullable) {
        return TR_OK;
    }
    if (v.type != TR_JSON_STRING ||
        (err = tr_json_string(&v, buf, sizeof(buf))) != TR_OK) {
        return TR_ERR_INVALID;
    }
    *out = tr_strdup(buf);
    return *out != NULL ? TR_OK : TR_ERR_NOMEM;
}

/*
 * Integer member 'key' of 'obj' (>= 0); a missing or null nullable one
 * gives -1.
 */
static tr_err_t
get_int(const struct tr_json_value *obj, const char *key, int nullable,
        int64_t *out)
{
    struct tr_json_value v;
    tr_err_t err;

    *out = -1;
    if ((err = tr_json_get(obj, key, &v)) != TR_OK) {
        return err == TR_ERR_NOT_FOUND && nullable ? TR_OK : TR_ERR_INVALID;
    }
    if (v.type == TR_JSON_NULL && nullable) {
        return TR_OK;
    }
    if (v.type != TR_JSON_NUMBER || tr_json_as_int(&v, out) != TR_OK ||
        *out < 0) {
        *out = -1;
        return TR_ERR_INVALID;
    }
    return TR_OK;
}

/* The array member 'key' of 'obj' and its length (at most 'max'). */
static tr_err_t
get_array(const struct tr_json_value *obj, const char *key, size_t max,
          struct tr_json_value *arr, size_t *n)
{
    struct tr_json_iter it;
    struct tr_json_value v;

    *n = 0;
    if (tr_json_get(obj, key, arr) != TR_OK || arr->type != TR_JSON_ARRAY ||
        tr_json_iter_init(&it, arr) != TR_OK) {
        return TR_ERR_INVALID;
    }
    while (tr_json_next(&it, NULL, &v) == TR_OK) {
        if (v.type != TR_JSON_OBJECT) {
            return TR_ERR_INVALID;
        }
        if (++*n > max) {
            return TR_ERR_TOO_LARGE;
        }
    }
    return it.err == TR_ERR_NOT_FOUND ? TR_OK : TR_ERR_CORRUPT;
}

static tr_err_t
parse_inputs(const struct tr_json_value *root, struct agent *ag)
{
    struct tr_json_value arr, v;
    struct tr_json_iter it;
    size_t n;
    tr_err_t err;

    if ((err = get_array(root, "inputs", TR_FLEET_MAX_INPUTS, &arr, &n)) !=
        TR_OK) {
        return err;
    }
    if (n > 0 && (ag->inputs = tr_calloc(n, sizeof(*ag->inputs))) == NULL) {
        return TR_ERR_NOMEM;
    }
    tr_json_iter_init(&it, &arr);
    while (ag->ninputs < n && tr_json_next(&it, NULL, &v) == TR_OK) {
        struct fleet_input *in = &ag->inputs[ag->ninputs++];
        if ((err = get_str(&v, "name", 0, &in->name)) != TR_OK ||
            (err = get_str(&v, "topic", 0, &in->topic)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

static tr_err_t
parse_files(const struct tr_json_value *root, struct agent *ag)
{
    struct tr_json_value arr, v;
    struct tr_json_iter it;
    size_t n;
    tr_err_t err;

    if ((err = get_array(root, "files", TR_FLEET_MAX_FILES, &arr, &n)) !=
        TR_OK) {
        return err;
    }
    if (n > 0 && (ag->files = tr_calloc(n, sizeof(*ag->files))) == NULL) {
        return TR_ERR_NOMEM;
    }
    tr_json_iter_init(&it, &arr);
    while (ag->nfiles < n && tr_json_next(&it, NULL, &v) == TR_OK) {
        struct fleet_file *f = &ag->files[ag->nfiles++];
        if ((err = get_str(&v, "path", 0, &f->path)) != TR_OK ||
            (err = get_str(&v, "input", 0, &f->input)) != TR_OK ||
            (err = get_int(&v, "bytes_read", 0, &f->bytes_read)) != TR_OK ||
            (err = get_int(&v, "bytes_acked", 0, &f->bytes_acked)) != TR_OK ||
            (err = get_int(&v, "bytes_behind", 0, &f->bytes_behind)) != TR_OK ||
            (err = get_int(&v, "last_ack_ms", 1, &f->last_ack_ms)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

/* Parses a status record's value into a new agent (owned by the caller). */
static tr_err_t
parse_status(const char *value, size_t len, struct agent *ag)
{
    struct tr_json_value root;
    tr_err_t err;

    if (tr_json_parse(value, len, &root) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (root.type != TR_JSON_OBJECT) {
        return TR_ERR_INVALID;
    }
    if ((err = get_str(&root, "version", 0, &ag->version)) != TR_OK ||
        (err = get_int(&root, "started_ms", 0, &ag->started_ms)) != TR_OK ||
        (err = get_str(&root, "last_error", 1, &ag->last_error)) != TR_OK ||
        (err = get_int(&root, "last_error_ms", 1, &ag->last_error_ms)) !=
            TR_OK ||
        (err = parse_inputs(&root, ag)) != TR_OK ||
        (err = parse_files(&root, ag)) != TR_OK) {
        return err;
    }
    return TR_OK;
}

/*
 * TR_OK if the 'len' bytes of 'key' are a host name /api/agents can show
 * (NUL-free, valid UTF-8), TR_ERR_INVALID if not, TR_ERR_NOMEM.
 */
static tr_err_t
check_host(const void *key, size_t len)
{
    char host[FLEET_STR_MAX];
    struct tr_buf b;
    tr_err_t err;

    if (key == NULL || len == 0 || len >= FLEET_STR_MAX ||
        memchr(key, '\0', len) != NULL) {
        return TR_ERR_INVALID;
    }
    memcpy(host, key, len);
    host[len] = '\0';
    tr_buf_init(&b, FLEET_STR_MAX * 6 + 3);
    err = tr_json_put_string(&b, host);
    tr_buf_cleanup(&b);
    return err;
}

/* Removes and frees 'ag'. */
static void
drop(struct tr_fleet *fl, struct agent *ag)
{
    TAILQ_REMOVE(&fl->agents, ag, link);
    fl->bytes -= ag->size;
    fl->nagents--;
    agent_free(ag);
}

/* The agent called 'host', or the one it would follow (*after), or NULL. */
static struct agent *
find(struct tr_fleet *fl, const char *host, struct agent **after)
{
    struct agent *ag;

    *after = NULL;
    TAILQ_FOREACH(ag, &fl->agents, link) {
        int c = strcmp(ag->host, host);
        if (c == 0) {
            return ag;
        }
        if (c > 0) {
            break;
        }
        *after = ag;
    }
    return NULL;
}

tr_err_t
tr_fleet_apply(struct tr_fleet *fl, const void *key, size_t key_len,
               const void *value, size_t value_len, int64_t ts_ms,
               int64_t now_ms)
{
    struct agent *ag = NULL, *old, *after;
    tr_err_t err = TR_ERR_INVALID;

    if ((err = check_host(key, key_len)) != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    if ((ag = tr_calloc(1, sizeof(*ag))) == NULL ||
        (ag->host = tr_malloc(key_len + 1)) == NULL) {
        goto out;
    }
    memcpy(ag->host, key, key_len);
    ag->host[key_len] = '\0';
    old = find(fl, ag->host, &after);
    if (value == NULL) { /* a tombstone: forget the host */
        if (old != NULL) {
            drop(fl, old);
        }
        err = TR_OK;
        goto out;
    }
    if ((err = parse_status(value, value_len, ag)) != TR_OK) {
        goto out;
    }
    ag->size = value_len;
    if ((old == NULL && fl->nagents >= TR_FLEET_MAX_AGENTS) ||
        fl->bytes - (old != NULL ? old->size : 0) + ag->size >
            TR_FLEET_MAX_BYTES) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    ag->last_seen_ms = ts_ms < now_ms ? ts_ms : now_ms;
    if (old != NULL) {
        /* Replayed out of order (several partitions): keep the newest. */
        if (old->last_seen_ms > ag->last_seen_ms) {
            err = TR_OK;
            goto out;
        }
        TAILQ_INSERT_AFTER(&fl->agents, old, ag, link);
        fl->nagents++;
        drop(fl, old);
    } else if (after != NULL) {
        TAILQ_INSERT_AFTER(&fl->agents, after, ag, link);
        fl->nagents++;
    } else {
        TAILQ_INSERT_HEAD(&fl->agents, ag, link);
        fl->nagents++;
    }
    fl->bytes += ag->size;
    ag = NULL;
    err = TR_OK;
out:
    agent_free(ag);
    return err;
}

/* ---- reading the topic ----------------------------------------------------
 */

struct poll_ctx {
    struct tr_fleet *fl;
    int64_t *next;
    int64_t now_ms;
    size_t budget; /* bytes left to parse in this poll */
};

/* Counts a skipped record; warns at most once a minute. */
static void
skipped(struct tr_fleet *fl, int64_t offset, tr_err_t err, int64_t now_ms)
{
    fl->skipped++;
    fl->skipped_unwarned++;
    if (now_ms - fl->last_warn_ms < FLEET_WARN_EVERY_MS) {
        return;
    }
    tr_log_warn("%s: skipped %" PRIu64 " malformed status record(s), the "
                "last at offset %" PRId64 " (%s)",
                TR_FLEET_TOPIC, fl->skipped_unwarned, offset, tr_err_str(err));
    fl->skipped_unwarned = 0;
    fl->last_warn_ms = now_ms;
}

static tr_err_t
poll_batch(const uint8_t *b, size_t blen, const struct tr_batch_header *bh,
           void *arg)
{
    struct poll_ctx *pc = arg;
    struct tr_batch_iter it;
    struct tr_record rec;
    tr_err_t err;

    if (pc->budget == 0) {
        return TR_ERR_AGAIN; /* the next poll goes on from *pc->next */
    }
    pc->budget = blen < pc->budget ? pc->budget - blen : 0;
    if (tr_batch_iter_init(&it, b, blen, FLEET_BATCH_MAX) != TR_OK) {
        skipped(pc->fl, bh->BaseOffset, TR_ERR_CORRUPT, pc->now_ms);
        *pc->next = bh->BaseOffset + bh->LastOffsetDelta + 1;
        return TR_OK;
    }
    const struct tr_batch_header *h = tr_batch_iter_header(&it);
    if (h->Attributes & TR_BATCH_ATTR_CONTROL) {
        *pc->next = h->BaseOffset + h->LastOffsetDelta + 1;
        tr_batch_iter_cleanup(&it);
        return TR_OK;
    }
    while (tr_batch_iter_next(&it, &rec) == TR_OK) {
        if (rec.offset < *pc->next) {
            continue;
        }
        int64_t ts = (h->Attributes & TR_BATCH_ATTR_LOG_APPEND_TS)
                         ? h->MaxTimestamp
                         : rec.timestamp;
        err = tr_fleet_apply(pc->fl, rec.key_len > 0 ? rec.key : NULL,
                             rec.key_len > 0 ? (size_t)rec.key_len : 0,
                             rec.value_len >= 0 ? rec.value : NULL,
                             rec.value_len >= 0 ? (size_t)rec.value_len : 0, ts,
                             pc->now_ms);
        if (err == TR_ERR_NOMEM) {
            tr_batch_iter_cleanup(&it);
            return err; /* read it again next time */
        }
        if (err != TR_OK) {
            skipped(pc->fl, rec.offset, err, pc->now_ms);
        }
        *pc->next = rec.offset + 1;
    }
    if (*pc->next <= h->BaseOffset + h->LastOffsetDelta) {
        *pc->next = h->BaseOffset + h->LastOffsetDelta + 1;
    }
    tr_batch_iter_cleanup(&it);
    return TR_OK;
}

void
tr_fleet_poll(struct tr_fleet *fl)
{
    int32_t count;

    if (fl->topics == NULL) {
        return;
    }
    count = tr_topics_partition_count(fl->topics, TR_FLEET_TOPIC);
    for (int32_t i = 0; i < count && i < FLEET_PARTITIONS_MAX; i++) {
        struct tr_partition *part =
            tr_topics_partition(fl->topics, TR_FLEET_TOPIC, i);
        struct tr_partition_offsets offs;
        struct poll_ctx pc = { fl, &fl->next[i], tr_clock_wall_ms(),
                               FLEET_POLL_BYTES };

        if (part == NULL) {
            continue; /* not a replica here */
        }
        tr_partition_offsets(part, &offs);
        if (offs.log_end < fl->next[i]) {
            fl->next[i] = 0; /* the topic was deleted and created again */
        }
        if (fl->next[i] < offs.log_start) {
            fl->next[i] = offs.log_start;
        }
        if (fl->next[i] < offs.log_end) {
            tr_partition_foreach_batch(part, fl->next[i], FLEET_READ_CHUNK,
                                       poll_batch, &pc);
        }
        tr_partition_unref(part);
    }
}

static void
on_follow(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tr_fleet_poll(arg);
}

tr_err_t
tr_fleet_follow(struct tr_fleet *fl, struct event_base *base)
{
    struct timeval tv = { 0, FLEET_FOLLOW_MS * 1000 };

    fl->ev_follow = event_new(base, -1, EV_PERSIST, on_follow, fl);
    if (fl->ev_follow == NULL || event_add(fl->ev_follow, &tv) != 0) {
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

/* ---- answers ---------------------------------------------------------------
 */

static int
is_silent(const struct tr_fleet *fl, const struct agent *ag, int64_t now_ms)
{
    return now_ms - ag->last_seen_ms > fl->silent_after_ms;
}

void
tr_fleet_counts(const struct tr_fleet *fl, int64_t now_ms, size_t *active,
                size_t *silent)
{
    const struct agent *ag;

    *active = 0;
    *silent = 0;
    TAILQ_FOREACH(ag, &fl->agents, link) {
        if (is_silent(fl, ag, now_ms)) {
            (*silent)++;
        } else {
            (*active)++;
        }
    }
}

uint64_t
tr_fleet_skipped(const struct tr_fleet *fl)
{
    return fl->skipped;
}

static void
put_text(struct tr_buf *b, const char *s)
{
    tr_buf_put_bytes(b, s, strlen(s));
}

/* Writes 'key' (with its quotes, colon and any comma) and integer v. */
static void
put_int(struct tr_buf *b, const char *key, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);

    put_text(b, key);
    tr_buf_put_bytes(b, num, (size_t)n);
}

/* As put_int, with null for -1. */
static void
put_opt_int(struct tr_buf *b, const char *key, int64_t v)
{
    if (v < 0) {
        put_text(b, key);
        put_text(b, "null");
    } else {
        put_int(b, key, v);
    }
}

/* Writes 'key' and string s (null for NULL). Parsed strings are UTF-8. */
static void
put_str(struct tr_buf *b, const char *key, const char *s)
{
    put_text(b, key);
    if (s == NULL || tr_json_put_string(b, s) != TR_OK) {
        put_text(b, "null");
    }
}

static void
put_agent(struct tr_buf *b, const struct tr_fleet *fl, const struct agent *ag,
          int64_t now_ms)
{
    int64_t behind = 0;

    for (size_t i = 0; i < ag->nfiles; i++) {
        /* saturating: the numbers come from the wire */
        behind = ag->files[i].bytes_behind > INT64_MAX - behind
                     ? INT64_MAX
                     : behind + ag->files[i].bytes_behind;
    }
    put_str(b, "{\"host\":", ag->host);
    put_str(b, ",\"version\":", ag->version);
    put_int(b, ",\"started_ms\":", ag->started_ms);
    put_int(b, ",\"last_seen_ms\":", ag->last_seen_ms);
    put_text(b, is_silent(fl, ag, now_ms) ? ",\"silent\":true"
                                          : ",\"silent\":false");
    put_int(b, ",\"bytes_behind\":", behind);
    put_str(b, ",\"last_error\":", ag->last_error);
    put_opt_int(b, ",\"last_error_ms\":",
                ag->last_error != NULL ? ag->last_error_ms : -1);
    put_text(b, ",\"inputs\":[");
    for (size_t i = 0; i < ag->ninputs; i++) {
        put_str(b, i > 0 ? ",{\"name\":" : "{\"name\":", ag->inputs[i].name);
        put_str(b, ",\"topic\":", ag->inputs[i].topic);
        put_text(b, "}");
    }
    put_text(b, "],\"files\":[");
    for (size_t i = 0; i < ag->nfiles; i++) {
        const struct fleet_file *f = &ag->files[i];
        put_str(b, i > 0 ? ",{\"path\":" : "{\"path\":", f->path);
        put_str(b, ",\"input\":", f->input);
        put_int(b, ",\"bytes_read\":", f->bytes_read);
        put_int(b, ",\"bytes_acked\":", f->bytes_acked);
        put_int(b, ",\"bytes_behind\":", f->bytes_behind);
        put_opt_int(b, ",\"last_ack_ms\":", f->last_ack_ms);
        put_text(b, "}");
    }
    put_text(b, "]}");
}

tr_err_t
tr_fleet_json(const struct tr_fleet *fl, int64_t now_ms, struct tr_buf *out)
{
    const struct agent *ag;
    int first = 1;

    put_int(out, "{\"now_ms\":", now_ms);
    put_int(out, ",\"silent_after_ms\":", fl->silent_after_ms);
    put_text(out, ",\"agents\":[");
    TAILQ_FOREACH(ag, &fl->agents, link) {
        if (!first) {
            put_text(out, ",");
        }
        first = 0;
        put_agent(out, fl, ag, now_ms);
    }
    put_text(out, "]}\n");
    return tr_buf_err(out);
}
