/*
 * ship -- producer glue, delivery reports and backpressure (see ship.h).
 */
#include "ship.h"

#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "log.h"
#include "producer.h"

struct tr_ship {
    struct tr_producer *producer;
    struct tr_inflight *inflight;
    tr_ship_done_cb *cb;
    void *arg;
    int blocked;
    size_t resume_below; /* unblock once pending drops under this */
    struct tr_ship_stats stats;
};

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

tr_err_t
tr_ship_new(struct event_base *base, const struct tr_agent_conf *conf,
            tr_ship_done_cb *cb, void *arg, struct tr_ship **out)
{
    struct tr_producer_config pc;
    struct tr_ship *s = tr_calloc(1, sizeof(*s));
    tr_err_t err = TR_ERR_NOMEM;

    if (s == NULL) {
        goto out;
    }
    s->cb = cb;
    s->arg = arg;
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
    if ((err = tr_producer_new(base, &pc, on_delivery, s, &s->producer)) !=
        TR_OK) {
        goto out;
    }
    *out = s;
    s = NULL;
    err = TR_OK;
out:
    tr_ship_free(s);
    return err;
}

void
tr_ship_free(struct tr_ship *s)
{
    if (s == NULL) {
        return;
    }
    tr_producer_free(s->producer);
    tr_inflight_free(s->inflight);
    tr_free(s);
}

static void
block(struct tr_ship *s)
{
    s->blocked = 1;
    s->resume_below = tr_producer_pending(s->producer) / 2;
}

tr_err_t
tr_ship_send(struct tr_ship *s, struct tr_inflight_queue *q, uint64_t end,
             const char *topic, const void *key, size_t key_len,
             const void *value, size_t value_len,
             const struct tr_record_header *headers, int nheaders,
             int64_t timestamp_ms)
{
    uintptr_t token;
    tr_err_t err;

    if (s->blocked) {
        return TR_ERR_AGAIN;
    }
    if (tr_inflight_push(s->inflight, q, end, &token) != TR_OK) {
        block(s);
        return TR_ERR_AGAIN;
    }
    err = tr_producer_send(
        s->producer, topic, -1, key, key ? (int32_t)key_len : -1, value,
        (int32_t)value_len, headers, nheaders, timestamp_ms, (void *)token);
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
