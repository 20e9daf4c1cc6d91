/*
 * producer_driver -- sends numbered keyed records with tr_producer, for the
 * integration tests.
 *
 *   producer_driver BROKERS TOPIC COUNT [options]
 *     --codec NAME      none|gzip|... (default gzip)
 *     --acks N          -1, 0 or 1 (default -1)
 *     --no-idempotence
 *     --per-tick N      records per tick (default all at once)
 *     --tick-ms N       pause between ticks (default 1)
 *     --timeout-s N     give up after N seconds (default 120)
 *
 * Record i has key "key-<i>", value "value-<i>" and one header
 * "idx" = "<i>". Every delivery report is checked to arrive exactly once;
 * the summary line "delivered=<n> failed=<n> duplicates=<n>" goes to
 * stdout and the exit status is 0 only if all COUNT records succeeded.
 * A record refused with TR_ERR_AGAIN (backpressure) is offered again on
 * the next tick.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "log.h"
#include "producer.h"

struct driver {
    struct event_base *base;
    struct tr_producer *p;
    struct event *tick;
    const char *topic;
    long count;
    long next; /* next record to send */
    long per_tick;
    int tick_ms;
    unsigned char *seen;
    long delivered, failed, duplicates;
    int flushed;
};

static void
on_delivery(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct driver *d = arg;
    long i = (long)(intptr_t)opaque;

    if (i < 0 || i >= d->count) {
        fprintf(stderr, "driver: report for unknown record %ld\n", i);
        d->failed++;
        return;
    }
    if (d->seen[i]++) {
        fprintf(stderr, "driver: record %ld reported twice\n", i);
        d->duplicates++;
        return;
    }
    if (err != TR_OK) {
        fprintf(stderr, "driver: record %ld failed: %s (kafka error %d)\n", i,
                tr_err_str(err), (int)kerr);
        d->failed++;
    } else {
        d->delivered++;
    }
    (void)topic;
    (void)partition;
    (void)offset;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;
    struct timeval tv = { d->tick_ms / 1000, (d->tick_ms % 1000) * 1000 };
    char key[32], value[64], idx[32];
    struct tr_record_header h;
    long sent = 0;
    tr_err_t err;

    (void)fd;
    (void)what;
    while (d->next < d->count && sent < d->per_tick) {
        int klen = snprintf(key, sizeof(key), "key-%ld", d->next);
        int vlen = snprintf(value, sizeof(value), "value-%ld", d->next);
        int ilen = snprintf(idx, sizeof(idx), "%ld", d->next);

        h.key = (const uint8_t *)"idx";
        h.key_len = 3;
        h.value = (const uint8_t *)idx;
        h.value_len = ilen;
        err = tr_producer_send(d->p, d->topic, -1, key, klen, value, vlen, &h,
                               1, -1, (void *)(intptr_t)d->next);
        if (err == TR_ERR_AGAIN) {
            break; /* the buffer is full: offer it again next tick */
        }
        if (err != TR_OK) {
            fprintf(stderr, "driver: send %ld: %s\n", d->next, tr_err_str(err));
            d->failed++;
        }
        d->next++;
        sent++;
    }
    if (d->next >= d->count && !d->flushed) {
        tr_producer_flush(d->p);
        d->flushed = 1;
    }
    if (d->next >= d->count && tr_producer_pending(d->p) == 0) {
        event_base_loopbreak(d->base);
        return;
    }
    evtimer_add(d->tick, &tv);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;

    (void)fd;
    (void)what;
    fprintf(stderr, "driver: timed out with %zu records pending\n",
            tr_producer_pending(d->p));
    event_base_loopbreak(d->base);
}

int
main(int argc, char **argv)
{
    struct tr_producer_config cfg;
    struct driver d;
    struct event *timeout = NULL;
    struct timeval tv = { 120, 0 };
    int i, codec, status = 1;
    tr_err_t err;

    memset(&d, 0, sizeof(d));
    if (argc < 4) {
        fprintf(stderr, "usage: %s BROKERS TOPIC COUNT [options]\n", argv[0]);
        return 2;
    }
    tr_log_init(TR_LOG_INFO, 2);
    tr_producer_config_defaults(&cfg);
    cfg.bootstrap = argv[1];
    cfg.codec = TR_CODEC_GZIP;
    cfg.retry_backoff_max_ms = 1000;
    cfg.request_timeout_ms = 10000;
    d.topic = argv[2];
    d.count = strtol(argv[3], NULL, 10);
    d.per_tick = d.count;
    d.tick_ms = 1;
    for (i = 4; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(opt, "--no-idempotence") == 0) {
            cfg.idempotent = 0;
            continue;
        }
        if (val == NULL) {
            fprintf(stderr, "driver: %s needs a value\n", opt);
            return 2;
        }
        i++;
        if (strcmp(opt, "--codec") == 0) {
            codec = tr_codec_parse(val);
            if (codec < 0) {
                fprintf(stderr, "driver: unknown codec %s\n", val);
                return 2;
            }
            cfg.codec = (enum tr_codec)codec;
        } else if (strcmp(opt, "--acks") == 0) {
            cfg.acks = (int)strtol(val, NULL, 10);
        } else if (strcmp(opt, "--per-tick") == 0) {
            d.per_tick = strtol(val, NULL, 10);
        } else if (strcmp(opt, "--tick-ms") == 0) {
            d.tick_ms = (int)strtol(val, NULL, 10);
        } else if (strcmp(opt, "--timeout-s") == 0) {
            tv.tv_sec = strtol(val, NULL, 10);
        } else {
            fprintf(stderr, "driver: unknown option %s\n", opt);
            return 2;
        }
    }
    if (d.count <= 0 || d.per_tick <= 0) {
        fprintf(stderr, "driver: COUNT and --per-tick must be positive\n");
        return 2;
    }
    d.seen = tr_calloc((size_t)d.count, 1);
    d.base = event_base_new();
    if (d.seen == NULL || d.base == NULL) {
        goto out;
    }
    err = tr_producer_new(d.base, &cfg, on_delivery, &d, &d.p);
    if (err != TR_OK) {
        fprintf(stderr, "driver: tr_producer_new: %s\n", tr_err_str(err));
        goto out;
    }
    d.tick = evtimer_new(d.base, tick_cb, &d);
    timeout = evtimer_new(d.base, timeout_cb, &d);
    if (d.tick == NULL || timeout == NULL) {
        goto out;
    }
    evtimer_add(timeout, &tv);
    tick_cb(-1, 0, &d);
    event_base_dispatch(d.base);
    tr_producer_free(d.p); /* reports anything left as TR_ERR_CLOSED */
    d.p = NULL;
    printf("delivered=%ld failed=%ld duplicates=%ld\n", d.delivered, d.failed,
           d.duplicates);
    fflush(stdout);
    status =
        (d.delivered == d.count && d.failed == 0 && d.duplicates == 0) ? 0 : 1;
out:
    tr_producer_free(d.p);
    if (d.tick != NULL) {
        event_free(d.tick);
    }
    if (timeout != NULL) {
        event_free(timeout);
    }
    if (d.base != NULL) {
        event_base_free(d.base);
    }
    tr_free(d.seen);
    return status;
}
