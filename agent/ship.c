/*
 * ship -- producer glue, delivery reports and backpressure (see ship.h).
 */
#include "ship.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "producer.h"
#include "resume.h"

/* The journal is compacted once it is this large (and twice the buffer). */
#define SHIP_COMPACT_BYTES (8u << 20)
/* Least spacing of the journal's fdatasync. */
#define SHIP_SYNC_MS 1000
/* How long a restart waits for DescribeProducers before falling back. */
#define SHIP_RESUME_WAIT_MS 60000

/* A journaled line not to send again (the lines of resumed batches). */
struct skip {
    uint64_t dev, ino, end;
    uint32_t fp_len, fp_crc;
    uint8_t state; /* 0 free, 1 used, 2 removed */
};

struct tr_ship {
    struct tr_producer *producer;
    struct tr_inflight *inflight;
    tr_ship_done_cb *cb;
    void *arg;
    int blocked;
    size_t resume_below; /* unblock once pending drops under this */
    struct tr_ship_stats stats;
    /* exactly once */
    const struct tr_ship_files *files;
    struct tr_journal *journal;
    uint64_t compact_at, compact_base;
    int64_t pid;      /* the producer id batches were journaled under */
    size_t replaying; /* records of resent batches not yet acknowledged */
    struct skip *skips;
    size_t nskips, skip_cap; /* cap: a power of two */
    /*
     * The distinct (file, fingerprint) identities of the skips, for
     * recognising a copytruncate copy of a journaled file
     * (tr_ship_journal_origin); freed with the skips.
     */
    struct tr_journal_rec *origins;
    size_t norigins, origins_cap;
    /* After a restart: the batches rebuilt from the files, by loaded index */
    uint8_t **rebuilt;
    size_t *rebuilt_len;
    int journal_failing;
    int64_t synced_ms; /* last fdatasync of the journal */
};

static void rebuilt_free(struct tr_ship *s);

static uint64_t
skip_hash(uint64_t dev, uint64_t ino, uint64_t end)
{
    uint64_t h = dev * 0x9e3779b97f4a7c15u ^ ino * 0xc2b2ae3d27d4eb4fu ^ end;
    return h ^ (h >> 29);
}

/*
 * Remembers r's file identity among the origins. A file's lines come in
 * order, so the identity is nearly always the last one added.
 */
static tr_err_t
origin_add(struct tr_ship *s, const struct tr_journal_rec *r)
{
    for (size_t i = s->norigins; i > 0; i--) {
        const struct tr_journal_rec *o = &s->origins[i - 1];
        if (o->dev == r->dev && o->ino == r->ino && o->fp_len == r->fp_len &&
            o->fp_crc == r->fp_crc) {
            return TR_OK;
        }
    }
    if (tr_array_reserve(&s->origins, &s->origins_cap, s->norigins + 1,
                         sizeof(*s->origins)) != TR_OK) {
        return TR_ERR_NOMEM;
    }
    s->origins[s->norigins] = *r;
    s->origins[s->norigins].end = 0;
    s->norigins++;
    return TR_OK;
}

static tr_err_t
skip_insert(struct tr_ship *s, const struct tr_journal_rec *r)
{
    if ((s->nskips + 1) * 2 > s->skip_cap) {
        size_t cap = s->skip_cap ? s->skip_cap * 2 : 1024;
        struct skip *old = s->skips, *grown = tr_calloc(cap, sizeof(*grown));
        size_t oldcap = s->skip_cap;

        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        s->skips = grown;
        s->skip_cap = cap;
        s->nskips = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].state == 1) {
                struct tr_journal_rec o = { old[i].dev, old[i].ino,
                                            old[i].fp_len, old[i].fp_crc,
                                            old[i].end };
                if (skip_insert(s, &o) != TR_OK) {
                    tr_free(old);
                    return TR_ERR_NOMEM;
                }
            }
        }
        tr_free(old);
    }
    size_t i = skip_hash(r->dev, r->ino, r->end) & (s->skip_cap - 1);
    /*
     * The same (dev, ino, end) may come twice: a file truncated and
     * written again (copytruncate) has lines at the same offsets; its
     * fingerprint tells them apart (already_sent).
     */
    while (s->skips[i].state == 1) {
        struct skip *k = &s->skips[i];
        if (k->dev == r->dev && k->ino == r->ino && k->end == r->end &&
            k->fp_len == r->fp_len && k->fp_crc == r->fp_crc) {
            return TR_OK; /* already there */
        }
        i = (i + 1) & (s->skip_cap - 1);
    }
    s->skips[i] =
        (struct skip){ r->dev, r->ino, r->end, r->fp_len, r->fp_crc, 1 };
    s->nskips++;
    return TR_OK;
}

static tr_err_t
skip_add(struct tr_ship *s, const struct tr_journal_rec *r)
{
    size_t before = s->nskips;
    tr_err_t err = skip_insert(s, r);

    if (err != TR_OK || s->nskips == before) {
        return err; /* already there: so is its origin */
    }
    return origin_add(s, r);
}

/*
 * The entry for (dev, ino, end) whose fingerprint q's file still has, or
 * NULL.
 */
static struct skip *
skip_find(struct tr_ship *s, struct tr_inflight_queue *q, uint64_t dev,
          uint64_t ino, uint64_t end)
{
    size_t i = skip_hash(dev, ino, end) & (s->skip_cap - 1);

    while (s->skips[i].state != 0) {
        struct skip *k = &s->skips[i];
        if (k->state == 1 && k->dev == dev && k->ino == ino && k->end == end &&
            s->files->prefix(s->arg, q, k->fp_len, k->fp_crc)) {
            return k;
        }
        i = (i + 1) & (s->skip_cap - 1);
    }
    return NULL;
}

static void
skip_clear(struct tr_ship *s)
{
    tr_free(s->skips);
    s->skips = NULL;
    s->nskips = s->skip_cap = 0;
    tr_free(s->origins);
    s->origins = NULL;
    s->norigins = s->origins_cap = 0;
}

/*
 * Producer hook: a batch got its sequence and is about to go out for the
 * first time (or was renumbered under a new producer id). Journaled before
 * it is sent.
 */
static void
on_batch(void *arg, const char *topic, int32_t partition, int64_t pid,
         int16_t epoch, int32_t base_seq, int32_t count, const uint8_t *wire,
         size_t wire_len, void *const *opaques)
{
    struct tr_ship *s = arg;
    struct tr_journal_batch b;
    tr_err_t err;

    if (s->journal == NULL) {
        return;
    }
    if (pid != s->pid) {
        if (s->pid >= 0) {
            s->stats.fallbacks++;
            tr_log_warn("exactly once: the collector lost producer id %" PRId64
                        " (now %" PRId64 "); the records in flight are "
                        "delivered at least once",
                        s->pid, pid);
        }
        s->pid = pid;
    }
    if (count == 0 || opaques[0] == NULL) {
        return; /* a resent batch renumbered: its lines were journaled */
    }
    memset(&b, 0, sizeof(b));
    b.pid = pid;
    b.epoch = epoch;
    b.topic = topic;
    b.partition = partition;
    b.base_seq = base_seq;
    b.count = count;
    /* The batch's own CRC: a rebuilt batch is checked against it. */
    b.crc = wire_len > TR_BATCH_OFF_CRC + 4
                ? tr_load_u32(wire + TR_BATCH_OFF_CRC)
                : 0;
    err = tr_journal_begin(s->journal, &b);
    if (err == TR_OK) {
        /* Straight from the in-flight slots into the entry: no arrays. */
        struct tr_inflight_queue *prev_q = NULL;
        struct tr_journal_rec id;
        struct tr_journal_line l;
        const char *path = "";
        int32_t i;

        for (i = 0; i < count && opaques[i] != NULL; i++) {
            struct tr_inflight_line line;
            struct tr_inflight_queue *q =
                tr_inflight_token(s->inflight, (uintptr_t)opaques[i], &line);

            if (q != prev_q) { /* a batch's lines come from a few files */
                memset(&id, 0, sizeof(id));
                path = "";
                s->files->ident(s->arg, q, &id, &path);
                prev_q = q;
            }
            id.end = line.end;
            l = (struct tr_journal_line){ line.start, line.len, line.truncated,
                                          line.timestamp_ms, path };
            tr_journal_add(s->journal, &id, &l);
        }
        /* Mixed with resent records (not ours): end drops the entry. */
        err = tr_journal_end(s->journal);
    }
    if (err != TR_OK) {
        s->stats.journal_errors++;
        if (!s->journal_failing) {
            tr_log_error("journal: %s: delivery is at least once until it "
                         "can be written",
                         tr_err_str(err));
        }
        s->journal_failing = 1;
        return;
    }
    s->journal_failing = 0;
}

/* Errors that retrying can never fix: drop the record, do not loop. */
static int
permanent(tr_err_t err, int16_t kerr)
{
    return err == TR_ERR_TOO_LARGE || kerr == TR_KERR_MESSAGE_TOO_LARGE ||
           kerr == TR_KERR_RECORD_LIST_TOO_LARGE ||
           kerr == TR_KERR_INVALID_RECORD || kerr == TR_KERR_CORRUPT_MESSAGE;
}

static void
on_delivery(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct tr_ship *s = arg;
    int ok = 1;

    (void)offset;
    if (opaque == NULL) {
        /* A record of a resent batch. */
        if (err != TR_OK && err != TR_ERR_CLOSED && s->nskips > 0) {
            tr_log_warn("exactly once: a resent batch to %s [%d] failed "
                        "(%s, kafka error %d); its lines are read again "
                        "(at least once)",
                        topic, (int)partition, tr_err_str(err), (int)kerr);
            s->stats.fallbacks++;
            skip_clear(s);
        }
        if (s->replaying > 0 && --s->replaying == 0) {
            tr_log_info("exactly once: resent batches acknowledged; reading");
            s->cb(s->arg, NULL, 1);
        }
        return;
    }
    if (err == TR_OK) {
        s->stats.acked++;
    } else {
        /*
         * Even "too large" is read again rather than dropped: a single line
         * is bounded by max_line_bytes, so it is the batch that was too
         * large, and the next attempt batches differently.
         */
        if (permanent(err, kerr)) {
            s->stats.dropped_too_large++;
        }
        s->stats.failed++;
        ok = 0;
        if (err != TR_ERR_CLOSED) {
            tr_log_warn("record to %s [%d] failed (%s, kafka error %d); "
                        "its file is read again from the last position",
                        topic, (int)partition, tr_err_str(err), (int)kerr);
        }
    }
    struct tr_inflight_queue *q =
        tr_inflight_done(s->inflight, (uintptr_t)opaque, ok);
    if (s->blocked && tr_producer_pending(s->producer) <= s->resume_below) {
        s->blocked = 0;
    }
    s->cb(s->arg, q, ok);
}

/* Adds 'topic' to the list if it is not there. */
static tr_err_t
topic_list_add(const char ***list, size_t *n, const char *topic)
{
    const char **grown;

    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*list)[i], topic) == 0) {
            return TR_OK;
        }
    }
    grown = tr_realloc(*list, (*n + 1) * sizeof(*grown));
    if (grown == NULL) {
        return TR_ERR_NOMEM;
    }
    *list = grown;
    grown[(*n)++] = topic;
    return TR_OK;
}

static struct tr_resume_part *
part_find(struct tr_resume_part *parts, size_t n, const char *topic,
          int32_t partition)
{
    for (size_t i = 0; i < n; i++) {
        if (parts[i].partition == partition &&
            strcmp(parts[i].topic, topic) == 0) {
            return &parts[i];
        }
    }
    return NULL;
}

/* Hands one partition's resume point and resent batches to the producer. */
static tr_err_t
resume_partition(struct tr_ship *s, const struct tr_resume_part *part)
{
    struct tr_journal *j = s->journal;
    size_t nl = tr_journal_loaded(j), n = 0;
    const uint8_t **wire = tr_calloc(nl + 1, sizeof(*wire));
    size_t *len = tr_calloc(nl + 1, sizeof(*len));
    int32_t *count = tr_calloc(nl + 1, sizeof(*count));
    int32_t next = part->known ? part->last_seq + 1 : 0;
    tr_err_t err = TR_ERR_NOMEM;

    if (wire == NULL || len == NULL || count == NULL) {
        goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        const struct tr_journal_batch *b = tr_journal_loaded_at(j, i);

        if (b->partition != part->partition ||
            strcmp(b->topic, part->topic) != 0) {
            continue;
        }
        if (part->known && b->base_seq <= part->last_seq) {
            s->stats.landed_batches++;
            continue;
        }
        wire[n] = b->lines != NULL ? s->rebuilt[i] : b->wire;
        len[n] = b->lines != NULL ? s->rebuilt_len[i] : b->wire_len;
        count[n] = b->count;
        s->replaying += (size_t)b->count;
        n++;
    }
    s->stats.resent_batches += n;
    if (n == 0 && next == 0) {
        err = TR_OK; /* nothing to say: the defaults */
        goto out;
    }
    err = tr_producer_resume(s->producer, part->topic, part->partition, next,
                             wire, len, count, n);
out:
    tr_free(wire);
    tr_free(len);
    tr_free(count);
    return err;
}

/*
 * Rebuilds from the files every journaled batch the collector lacks
 * ('parts' say where it stands), into s->rebuilt. Returns NULL, or why it
 * cannot (*err set on an allocation failure).
 */
static const char *
rebuild_batches(struct tr_ship *s, const struct tr_agent_conf *conf,
                struct tr_resume_part *parts, size_t nparts, tr_err_t *err)
{
    struct tr_journal *j = s->journal;
    size_t nl = tr_journal_loaded(j);
    struct tr_batch_builder *bld = NULL;
    struct tr_buf out;
    const char *why = NULL;

    *err = TR_ERR_NOMEM;
    tr_buf_init(&out, SIZE_MAX);
    s->rebuilt = tr_calloc(nl + 1, sizeof(*s->rebuilt));
    s->rebuilt_len = tr_calloc(nl + 1, sizeof(*s->rebuilt_len));
    bld = tr_batch_builder_new((enum tr_codec)tr_codec_parse(conf->compression),
                               SIZE_MAX);
    if (s->rebuilt == NULL || s->rebuilt_len == NULL || bld == NULL) {
        why = "out of memory";
        goto out;
    }
    *err = TR_OK;
    for (size_t i = 0; i < nl && why == NULL; i++) {
        const struct tr_journal_batch *b = tr_journal_loaded_at(j, i);
        const struct tr_resume_part *part =
            part_find(parts, nparts, b->topic, b->partition);
        tr_err_t e = TR_OK;

        if (b->lines == NULL ||
            (part->known && b->base_seq <= part->last_seq)) {
            continue; /* carries its batch, or landed */
        }
        tr_batch_builder_reset(bld);
        tr_batch_builder_set_producer(bld, b->pid, b->epoch, b->base_seq);
        for (uint32_t r = 0; r < b->nrec && e == TR_OK; r++) {
            e = s->files->rebuild(s->arg, b, r, bld);
        }
        if (e == TR_ERR_NOMEM) {
            *err = e;
            why = "out of memory";
            break;
        }
        if (e != TR_OK) {
            tr_log_warn("exactly once: batch %d-%d of %s [%d] cannot be "
                        "rebuilt: %s (its file is gone or was rewritten)",
                        (int)b->base_seq, (int)(b->base_seq + b->count - 1),
                        b->topic, (int)b->partition, tr_err_str(e));
            why = "lines of a batch the collector lacks are gone from disk";
            break;
        }
        tr_buf_reset(&out);
        if ((e = tr_batch_builder_finish(bld, &out)) != TR_OK ||
            (s->rebuilt[i] = tr_buf_steal(&out, &s->rebuilt_len[i])) == NULL) {
            *err = TR_ERR_NOMEM;
            why = "out of memory";
            break;
        }
        s->stats.rebuilt_batches++;
        if (tr_load_u32(s->rebuilt[i] + TR_BATCH_OFF_CRC) != b->crc) {
            /* Same lines, other bytes: a setting changed (key, codec...). */
            s->stats.rebuilt_differ++;
        }
    }
    if (why == NULL && s->stats.rebuilt_differ > 0) {
        tr_log_warn("exactly once: %" PRIu64 " of %" PRIu64 " batches rebuilt "
                    "from the files differ from the ones sent (the input's "
                    "settings changed?); their lines are still sent once",
                    s->stats.rebuilt_differ, s->stats.rebuilt_batches);
    }
out:
    tr_batch_builder_free(bld);
    tr_buf_cleanup(&out);
    return why;
}

/*
 * Before the producer exists: decides whether the last run's producer id
 * can be resumed (DescribeProducers knows it wherever the journal has
 * batches). Sets pc's producer id if so and returns the partitions in
 * *parts (owned); else falls back (logged, counted) with *parts NULL.
 */
static tr_err_t
resume_prepare(struct tr_ship *s, struct event_base *base,
               const struct tr_agent_conf *conf, struct tr_producer_config *pc,
               struct tr_resume_part **parts, size_t *nparts)
{
    struct tr_journal *j = s->journal;
    struct tr_client_config cc;
    const char **topics = NULL;
    size_t ntopics = 0, nl = tr_journal_loaded(j);
    int16_t epoch;
    int64_t pid = tr_journal_pid(j, &epoch);
    const char *why = NULL;
    tr_err_t err = TR_OK;

    *parts = NULL;
    *nparts = 0;
    if (pid < 0) {
        goto out;
    }
    for (size_t i = 0; i < conf->ninputs && err == TR_OK; i++) {
        err = topic_list_add(&topics, &ntopics, conf->inputs[i]->topic);
    }
    for (size_t i = 0; i < nl && err == TR_OK; i++) {
        err = topic_list_add(&topics, &ntopics,
                             tr_journal_loaded_at(j, i)->topic);
    }
    if (err != TR_OK) {
        goto out;
    }
    tr_client_config_defaults(&cc);
    cc.bootstrap = conf->brokers;
    cc.client_id = conf->client_id;
    cc.security = conf->security;
    cc.request_timeout_ms = (int)conf->request_timeout_ms;
    cc.reconnect_backoff_ms = (int)conf->retry_backoff_ms;
    cc.reconnect_backoff_max_ms = (int)conf->retry_backoff_max_ms;
    cc.allow_auto_create = 0;
    tr_log_info("exactly once: resuming producer id %" PRId64 " (%zu journaled "
                "batches); asking the collector where it stands",
                pid, nl);
    err = tr_resume_describe(base, &cc, pid, topics, ntopics,
                             SHIP_RESUME_WAIT_MS, parts, nparts);
    if (err == TR_ERR_NOMEM) {
        goto out;
    }
    if (err != TR_OK) {
        why = "DescribeProducers got no answer";
        err = TR_OK;
    }
    for (size_t i = 0; why == NULL && i < nl; i++) {
        const struct tr_journal_batch *b = tr_journal_loaded_at(j, i);
        const struct tr_resume_part *part =
            part_find(*parts, *nparts, b->topic, b->partition);
        if (part == NULL || !part->known) {
            why = "the collector no longer knows it";
        }
    }
    if (why == NULL) {
        why = rebuild_batches(s, conf, *parts, *nparts, &err);
        if (err != TR_OK) {
            goto out;
        }
    }
    if (why != NULL) {
        tr_log_warn("exactly once: cannot resume producer id %" PRId64
                    " (%s); taking a new one: the %zu journaled batches are "
                    "delivered at least once",
                    pid, why, nl);
        s->stats.fallbacks++;
        tr_free(*parts);
        *parts = NULL;
        *nparts = 0;
        goto out;
    }
    pc->producer_id = pid;
    pc->producer_epoch = epoch;
    s->pid = pid;
out:
    tr_free(topics);
    return err;
}

tr_err_t
tr_ship_new(struct event_base *base, const struct tr_agent_conf *conf,
            const struct tr_ship_files *files, tr_ship_done_cb *cb, void *arg,
            struct tr_ship **out, char *errbuf, size_t errlen)
{
    struct tr_producer_config pc;
    struct tr_resume_part *parts = NULL;
    size_t nparts = 0;
    struct tr_ship *s = tr_calloc(1, sizeof(*s));
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    snprintf(errbuf, errlen, "out of memory");
    if (s == NULL) {
        goto out;
    }
    s->cb = cb;
    s->arg = arg;
    s->files = files;
    s->pid = -1;
    if ((err = tr_inflight_new((size_t)conf->max_inflight_records,
                               &s->inflight)) != TR_OK) {
        goto out;
    }
    tr_producer_config_defaults(&pc);
    pc.bootstrap = conf->brokers;
    pc.client_id = conf->client_id;
    pc.acks = (int)conf->acks;
    pc.linger_ms = (int)conf->linger_ms;
    pc.batch_bytes = (size_t)conf->batch_bytes;
    /* The config loader accepted only codecs this build has. */
    pc.codec = (enum tr_codec)tr_codec_parse(conf->compression);
    pc.idempotent = conf->idempotent && conf->acks == -1;
    pc.retry_backoff_ms = (int)conf->retry_backoff_ms;
    pc.retry_backoff_max_ms = (int)conf->retry_backoff_max_ms;
    pc.request_timeout_ms = (int)conf->request_timeout_ms;
    pc.delivery_timeout_ms = -1; /* never give up: the files are the buffer */
    pc.buffer_max_bytes = (size_t)conf->buffer_max_bytes;
    pc.security = conf->security; /* kept alive across reloads (agent.c) */
    if (conf->exactly_once && !pc.idempotent) {
        tr_log_warn("exactly_once needs idempotent = true and acks = -1; "
                    "delivery is at least once");
    } else if (conf->exactly_once) {
        if ((err = tr_journal_open(conf->state_dir, &s->journal, errbuf,
                                   errlen)) != TR_OK) {
            goto out;
        }
        s->compact_base = SHIP_COMPACT_BYTES;
        if (s->compact_base < 2 * (uint64_t)conf->buffer_max_bytes) {
            s->compact_base = 2 * (uint64_t)conf->buffer_max_bytes;
        }
        s->compact_at = s->compact_base;
        pc.batch_cb = on_batch;
        pc.batch_cb_arg = s;
        if ((err = resume_prepare(s, base, conf, &pc, &parts, &nparts)) !=
            TR_OK) {
            goto out;
        }
    }
    if ((err = tr_producer_new(base, &pc, on_delivery, s, &s->producer)) !=
        TR_OK) {
        snprintf(errbuf, errlen, "producer: %s", tr_err_str(err));
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
        if ((err = resume_partition(s, &parts[i])) != TR_OK) {
            goto out;
        }
    }
    if (parts != NULL) {
        /* Every line of the journal is delivered now or was before. */
        for (size_t i = 0; i < tr_journal_loaded(s->journal); i++) {
            const struct tr_journal_batch *b =
                tr_journal_loaded_at(s->journal, i);
            for (uint32_t r = 0; r < b->nrec; r++) {
                if ((err = skip_add(s, &b->recs[r])) != TR_OK) {
                    goto out;
                }
            }
        }
        tr_log_info("exactly once: producer id %" PRId64 " resumed: %" PRIu64
                    " journaled batches had landed, %" PRIu64
                    " resent (%" PRIu64 " rebuilt from the files, %" PRIu64
                    " of them not byte for byte)",
                    s->pid, s->stats.landed_batches, s->stats.resent_batches,
                    s->stats.rebuilt_batches, s->stats.rebuilt_differ);
    }
    if (s->journal != NULL) {
        rebuilt_free(s); /* the producer copied them */
        tr_journal_drop_loaded(s->journal);
    }
    *out = s;
    s = NULL;
    err = TR_OK;
out:
    tr_free(parts);
    tr_ship_free(s);
    return err;
}

static void
rebuilt_free(struct tr_ship *s)
{
    for (size_t i = 0; s->rebuilt != NULL && i < tr_journal_loaded(s->journal);
         i++) {
        tr_free(s->rebuilt[i]);
    }
    tr_free(s->rebuilt);
    s->rebuilt = NULL;
    tr_free(s->rebuilt_len);
    s->rebuilt_len = NULL;
}

void
tr_ship_free(struct tr_ship *s)
{
    if (s == NULL) {
        return;
    }
    tr_producer_free(s->producer);
    tr_inflight_free(s->inflight);
    tr_journal_free(s->journal);
    skip_clear(s);
    rebuilt_free(s);
    tr_free(s);
}

/*
 * 1 if the line of q's file ending at 'end' is in a resumed batch: same
 * file (or the file it is a copytruncate copy of), same offset, and the
 * file still starts with the bytes it had then (not truncated and written
 * again).
 */
static int
already_sent(struct tr_ship *s, struct tr_inflight_queue *q, uint64_t end)
{
    struct tr_journal_rec id;
    struct skip *k;

    memset(&id, 0, sizeof(id));
    if (!s->files->ident(s->arg, q, &id, NULL)) {
        return 0;
    }
    k = skip_find(s, q, id.dev, id.ino, end);
    if (k == NULL && s->files->origin(s->arg, q, &id.dev, &id.ino)) {
        k = skip_find(s, q, id.dev, id.ino, end);
    }
    if (k == NULL) {
        return 0;
    }
    k->state = 2;
    if (--s->nskips == 0) {
        skip_clear(s);
    }
    return 1;
}

int
tr_ship_skipping(const struct tr_ship *s)
{
    return s->nskips > 0;
}

int
tr_ship_journal_origin(struct tr_ship *s, struct tr_inflight_queue *q,
                       struct tr_journal_rec *out)
{
    struct tr_journal_rec id;
    int found = 0;

    if (s->nskips == 0) {
        return 0;
    }
    memset(&id, 0, sizeof(id));
    (void)s->files->ident(s->arg, q, &id, NULL);
    for (size_t i = 0; i < s->norigins; i++) {
        const struct tr_journal_rec *o = &s->origins[i];
        if ((o->dev == id.dev && o->ino == id.ino) ||
            (found && o->fp_len <= out->fp_len)) {
            continue; /* its own lines, or not more telling */
        }
        if (s->files->prefix(s->arg, q, o->fp_len, o->fp_crc)) {
            *out = *o;
            found = 1;
        }
    }
    return found;
}

static void
block(struct tr_ship *s)
{
    s->blocked = 1;
    s->resume_below = tr_producer_pending(s->producer) / 2;
}

tr_err_t
tr_ship_send(struct tr_ship *s, struct tr_inflight_queue *q,
             const struct tr_inflight_line *line, const char *topic,
             const void *key, size_t key_len, const void *value,
             const struct tr_record_header *headers, int nheaders)
{
    uintptr_t token;
    tr_err_t err;

    if (s->blocked || s->replaying > 0) {
        return TR_ERR_AGAIN;
    }
    if (tr_inflight_push(s->inflight, q, line, &token) != TR_OK) {
        block(s);
        return TR_ERR_AGAIN;
    }
    if (s->nskips > 0 && already_sent(s, q, line->end)) {
        /* Journaled and delivered before the restart: done already. */
        s->stats.skipped_records++;
        s->cb(s->arg, tr_inflight_done(s->inflight, token, 1), 1);
        return TR_OK;
    }
    err =
        tr_producer_send(s->producer, topic, -1, key,
                         key ? (int32_t)key_len : -1, value, (int32_t)line->len,
                         headers, nheaders, line->timestamp_ms, (void *)token);
    if (err != TR_OK) {
        tr_inflight_unpush(s->inflight, q, token);
        if (err == TR_ERR_AGAIN) {
            block(s);
        } else {
            s->stats.dropped_too_large++;
        }
        return err;
    }
    s->stats.sent++;
    return TR_OK;
}

int
tr_ship_blocked(struct tr_ship *s)
{
    if (s->replaying > 0) {
        return 1;
    }
    /* Re-checked here too: a refusal with nothing pending gets no report. */
    if (s->blocked && tr_producer_pending(s->producer) <= s->resume_below) {
        s->blocked = 0;
    }
    return s->blocked;
}

size_t
tr_ship_pending(const struct tr_ship *s)
{
    return tr_producer_pending(s->producer);
}

size_t
tr_ship_buffered_bytes(const struct tr_ship *s)
{
    return tr_producer_buffered_bytes(s->producer);
}

int
tr_ship_connected(const struct tr_ship *s)
{
    return tr_producer_connected(s->producer);
}

void
tr_ship_flush(struct tr_ship *s)
{
    tr_producer_flush(s->producer);
}

void
tr_ship_stats(const struct tr_ship *s, struct tr_ship_stats *out)
{
    *out = s->stats;
}

tr_err_t
tr_ship_journal_sync(struct tr_ship *s)
{
    int64_t now = tr_clock_mono_ms();

    /*
     * At most once a second: a killed process loses nothing written, and
     * after a power loss a lost journal tail only means duplicates (the
     * registry covers acknowledged lines only), never loss.
     */
    if (s->journal == NULL || now - s->synced_ms < SHIP_SYNC_MS) {
        return TR_OK;
    }
    s->synced_ms = now;
    return tr_journal_sync(s->journal);
}

void
tr_ship_journal_compact(struct tr_ship *s, tr_journal_live_cb *live, void *arg)
{
    tr_err_t err;

    /* Resent batches stay until acknowledged: never compact under them. */
    if (s->journal == NULL || s->replaying > 0 ||
        tr_journal_size(s->journal) < s->compact_at) {
        return;
    }
    if ((err = tr_journal_compact(s->journal, live, arg)) != TR_OK) {
        s->stats.journal_errors++;
        tr_log_warn("journal: compaction failed: %s", tr_err_str(err));
        return;
    }
    s->stats.journal_compactions++;
    /* Mostly live (a slow collector): wait for it to double first. */
    s->compact_at = s->compact_base;
    if (tr_journal_size(s->journal) * 2 > s->compact_at) {
        s->compact_at = tr_journal_size(s->journal) * 2;
    }
}

uint64_t
tr_ship_journal_bytes(const struct tr_ship *s)
{
    return s->journal != NULL ? tr_journal_size(s->journal) : 0;
}
