/*
 * status -- the agent's status records (see status.h).
 */
#include "status.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "producer.h"

/*
 * A record stays well under the collector's default message.max.bytes
 * (1000012): files past this many bytes of JSON are only counted
 * (files_omitted).
 */
#define STATUS_MAX_BYTES (256u << 10)
#define STATUS_BUF_MAX   (STATUS_MAX_BYTES + (64u << 10))

struct tr_status_doc {
    struct tr_buf files; /* the elements of "files", comma-separated */
    size_t nfiles;
    uint64_t omitted;
};

struct tr_status {
    struct event_base *base;
    struct tr_producer *producer;
    struct event *ev;
    char *topic;
    int64_t interval_ms;
    tr_status_fill_cb *cb;
    void *arg;
    struct tr_buf out;
    int pending; /* a record is queued or in flight */
    int failing; /* the last one failed (warned once per streak) */
    int closing; /* being freed: failures are expected */
    uint64_t sent, failed;
};

static void
put_text(struct tr_buf *b, const char *s)
{
    tr_buf_put_bytes(b, s, strlen(s));
}

static void
put_int(struct tr_buf *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    tr_buf_put_bytes(b, num, (size_t)n);
}

/*
 * A string from the system (a path may hold any bytes): as is when it is
 * valid UTF-8, else in the log's printable escaping, so the record is
 * always valid JSON.
 */
static void
put_string(struct tr_buf *b, const char *s)
{
    char esc[TR_LOG_ESCAPE_LEN * 4];

    if (s == NULL) {
        put_text(b, "null");
        return;
    }
    if (tr_json_put_string(b, s) == TR_ERR_INVALID) {
        tr_json_put_string(b, tr_log_escape(s, strlen(s), esc, sizeof(esc)));
    }
}

/* Writes "key": v (or null when v is 0, for the optional times). */
static void
put_member_time(struct tr_buf *b, const char *key, int64_t v)
{
    put_text(b, key);
    if (v > 0) {
        put_int(b, v);
    } else {
        put_text(b, "null");
    }
}

void
tr_status_doc_file(struct tr_status_doc *doc, const struct tr_status_file *f)
{
    struct tr_buf *b = &doc->files;
    size_t mark = tr_buf_len(b);
    uint64_t behind = f->size > f->bytes_acked ? f->size - f->bytes_acked : 0;

    if (mark >= STATUS_MAX_BYTES) {
        doc->omitted++;
        return;
    }
    put_text(b, doc->nfiles > 0 ? ",{\"path\":" : "{\"path\":");
    put_string(b, f->path);
    put_text(b, ",\"input\":");
    put_string(b, f->input);
    put_text(b, ",\"bytes_read\":");
    put_int(b, (int64_t)f->bytes_read);
    put_text(b, ",\"bytes_acked\":");
    put_int(b, (int64_t)f->bytes_acked);
    put_text(b, ",\"bytes_behind\":");
    put_int(b, (int64_t)behind);
    put_member_time(b, ",\"last_ack_ms\":", f->last_ack_ms);
    put_text(b, "}");
    if (tr_buf_err(b) != TR_OK) {
        tr_buf_truncate(b, mark);
        doc->omitted++;
        return;
    }
    doc->nfiles++;
}

/* The whole record: the agent's fields, its inputs, then doc's files. */
static tr_err_t
assemble(struct tr_buf *out, const struct tr_status_agent *ag,
         const struct tr_status_doc *doc, int64_t now_ms, int64_t interval_ms)
{
    const struct tr_agent_conf *conf = ag->conf;

    put_text(out, "{\"host\":");
    put_string(out, ag->host);
    put_text(out, ",\"version\":");
    put_string(out, ag->version);
    put_text(out, ",\"started_ms\":");
    put_int(out, ag->started_ms);
    put_text(out, ",\"timestamp_ms\":");
    put_int(out, now_ms);
    put_text(out, ",\"interval_ms\":");
    put_int(out, interval_ms);
    put_text(out, ",\"last_error\":");
    put_string(out, ag->last_error);
    put_member_time(out, ",\"last_error_ms\":",
                    ag->last_error != NULL ? ag->last_error_ms : 0);
    put_text(out, ",\"inputs\":[");
    for (size_t i = 0; conf != NULL && i < conf->ninputs; i++) {
        put_text(out, i > 0 ? ",{\"name\":" : "{\"name\":");
        put_string(out, conf->inputs[i]->name);
        put_text(out, ",\"topic\":");
        put_string(out, conf->inputs[i]->topic);
        put_text(out, "}");
    }
    put_text(out, "],\"files\":[");
    tr_buf_put_bytes(out, tr_buf_data(&doc->files), tr_buf_len(&doc->files));
    put_text(out, "],\"files_omitted\":");
    put_int(out, (int64_t)doc->omitted);
    put_text(out, "}");
    return tr_buf_err(out);
}

tr_err_t
tr_status_encode(struct tr_buf *out, const struct tr_status_agent *ag,
                 const struct tr_status_file *files, size_t nfiles,
                 int64_t now_ms, int64_t interval_ms)
{
    struct tr_status_doc doc = { .nfiles = 0 };
    tr_err_t err;

    tr_buf_init(&doc.files, STATUS_BUF_MAX);
    for (size_t i = 0; i < nfiles; i++) {
        tr_status_doc_file(&doc, &files[i]);
    }
    err = assemble(out, ag, &doc, now_ms, interval_ms);
    tr_buf_cleanup(&doc.files);
    return err;
}

static void
on_delivery(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct tr_status *st = arg;

    (void)opaque;
    (void)partition;
    (void)offset;
    st->pending = 0;
    if (err == TR_OK) {
        st->sent++;
        st->failing = 0;
        return;
    }
    st->failed++;
    /* Once per failure streak, not once per interval. */
    if (!st->failing && !st->closing) {
        tr_log_warn("status record to %s not delivered: %s (Kafka error %d); "
                    "the next one follows",
                    TR_LOG_ESC(topic), tr_err_str(err), (int)kerr);
    }
    st->failing = 1;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tr_status *st = arg;
    struct tr_status_agent ag = { 0 };
    struct tr_status_doc doc = { .nfiles = 0 };
    tr_err_t err;

    (void)fd;
    (void)what;
    if (st->pending) {
        return; /* the last one is not reported yet */
    }
    tr_buf_init(&doc.files, STATUS_BUF_MAX);
    tr_buf_reset(&st->out);
    st->cb(st->arg, &ag, &doc);
    err = assemble(&st->out, &ag, &doc, tr_clock_wall_ms(), st->interval_ms);
    tr_buf_cleanup(&doc.files);
    if (err != TR_OK || ag.host == NULL) {
        return;
    }
    err = tr_producer_send(st->producer, st->topic, -1, ag.host,
                           (int32_t)strlen(ag.host), tr_buf_data(&st->out),
                           (int32_t)tr_buf_len(&st->out), NULL, 0, -1, NULL);
    if (err == TR_OK) {
        st->pending = 1;
        tr_producer_flush(st->producer);
    }
}

tr_err_t
tr_status_new(struct event_base *base, const struct tr_agent_conf *conf,
              tr_status_fill_cb *cb, void *arg, struct tr_status **out)
{
    struct tr_producer_config pc;
    struct tr_status *st = NULL;
    struct timeval tv;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (conf->status_interval_ms <= 0) {
        return TR_OK;
    }
    if ((st = tr_calloc(1, sizeof(*st))) == NULL) {
        goto out;
    }
    st->base = base;
    st->cb = cb;
    st->arg = arg;
    st->interval_ms = conf->status_interval_ms;
    tr_buf_init(&st->out, STATUS_BUF_MAX);
    if ((st->topic = tr_strdup(conf->status_topic)) == NULL) {
        goto out;
    }
    tr_producer_config_defaults(&pc);
    pc.bootstrap = conf->brokers;
    pc.client_id = conf->client_id;
    pc.security = conf->security;
    pc.acks = 1;
    pc.idempotent = 0;
    pc.linger_ms = 0;
    pc.max_in_flight = 1;
    pc.retry_backoff_ms = (int)conf->retry_backoff_ms;
    pc.retry_backoff_max_ms = (int)conf->retry_backoff_max_ms;
    pc.request_timeout_ms = (int)conf->request_timeout_ms;
    /* Stale after an interval or two: give up rather than queue. */
    pc.delivery_timeout_ms = 2 * conf->status_interval_ms + 10000;
    pc.buffer_max_bytes = STATUS_BUF_MAX;
    if ((err = tr_producer_new(base, &pc, on_delivery, st, &st->producer)) !=
        TR_OK) {
        goto out;
    }
    st->ev = event_new(base, -1, EV_PERSIST, on_tick, st);
    if (st->ev == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    tv.tv_sec = (time_t)(conf->status_interval_ms / 1000);
    tv.tv_usec = (suseconds_t)(conf->status_interval_ms % 1000) * 1000;
    event_add(st->ev, &tv);
    /* The first record at once, so the fleet sees a new agent quickly. */
    event_active(st->ev, EV_TIMEOUT, 0);
    *out = st;
    st = NULL;
    err = TR_OK;
out:
    tr_status_free(st);
    return err;
}

void
tr_status_free(struct tr_status *st)
{
    if (st == NULL) {
        return;
    }
    if (st->ev != NULL) {
        event_free(st->ev);
    }
    st->closing = 1;
    tr_producer_free(st->producer);
    tr_buf_cleanup(&st->out);
    tr_free(st->topic);
    tr_free(st);
}

void
tr_status_counts(const struct tr_status *st, uint64_t *sent, uint64_t *failed)
{
    *sent = st != NULL ? st->sent : 0;
    *failed = st != NULL ? st->failed : 0;
}
