/*
 * status -- the agent reports itself: every status_interval_ms it publishes
 * one small JSON record about its inputs and files to status_topic
 * (__tributary_agents, a compacted topic), keyed by its host name, so the
 * collector knows its fleet (collector/metrics/fleet.h) without any other
 * service.
 *
 * The records go through a producer of their own (common/producer.h), not
 * the shipper's (ship.h): they never enter the exactly-once journal or the
 * in-flight pool of log lines, never take part in their backpressure and
 * never wait behind them in a batch. It is cheap by construction: at most
 * one status record is pending at any time (while one is unreported, a
 * tick is skipped: a fresher record follows anyway), so a collector that
 * is away costs one record of memory and no retries pile up. The producer
 * is not idempotent and uses acks=1: a duplicate status record is harmless
 * (compaction keeps the last per host).
 *
 * The topic is created compacted by the collector (see fleet.h), so an
 * agent needs no admin rights, only WRITE on the topic.
 *
 * Record value (UTF-8 JSON; unknown keys are ignored by readers):
 *
 *   {"host": "web-1", "version": "0.1.0", "started_ms": 1765100000000,
 *    "timestamp_ms": 1765100005000, "interval_ms": 5000,
 *    "last_error": "read /var/log/x.log: Input/output error" | null,
 *    "last_error_ms": 1765100004000 | null,
 *    "inputs": [{"name": "nginx", "topic": "logs"}],
 *    "files": [{"path": "/var/log/nginx/access.log", "input": "nginx",
 *               "bytes_read": 4096, "bytes_acked": 4096,
 *               "bytes_behind": 0, "last_ack_ms": 1765100003000 | null}],
 *    "files_omitted": 0}
 *
 * NOTE: collector/metrics/fleet.c reads this format -- change both.
 *
 * Thread safety: none; everything runs on the agent's event_base.
 */
#ifndef TR_AGENT_STATUS_H
#define TR_AGENT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"

struct event_base;
struct tr_status;

/* A record being written (the fill callback's argument). */
struct tr_status_doc;

/* One tracked file, as the agent sees it. Strings are borrowed. */
struct tr_status_file {
    const char *path;
    const char *input;
    uint64_t bytes_read;  /* read and handed to the shipper */
    uint64_t bytes_acked; /* acknowledged by the collector */
    uint64_t size;        /* last size seen: behind = size - acked */
    int64_t last_ack_ms;  /* wall clock; 0: nothing acknowledged yet */
};

/* The agent as a whole. Strings are borrowed. */
struct tr_status_agent {
    const char *host;
    const char *version;
    int64_t started_ms;
    const char *last_error; /* NULL: none */
    int64_t last_error_ms;
    const struct tr_agent_conf *conf; /* its inputs are listed */
};

/*
 * Describes the agent for one record: fills 'ag' and calls
 * tr_status_doc_file() once per tracked file.
 */
typedef void tr_status_fill_cb(void *arg, struct tr_status_agent *ag,
                               struct tr_status_doc *doc);

/*
 * Starts publishing every conf->status_interval_ms (0: returns TR_OK with
 * *out NULL, nothing is published). 'conf' is borrowed for the producer's
 * settings ([output] brokers, client_id, security: they must outlive it)
 * and the topic, which are read once here. Returns an owned publisher.
 */
tr_err_t tr_status_new(struct event_base *base,
                       const struct tr_agent_conf *conf, tr_status_fill_cb *cb,
                       void *arg, struct tr_status **out);
/* Stops publishing; a pending record is dropped. NULL is a no-op. */
void tr_status_free(struct tr_status *st);

/* Adds one file to the record. Past a size cap it is only counted. */
void tr_status_doc_file(struct tr_status_doc *doc,
                        const struct tr_status_file *f);

/*
 * Writes a whole record into 'out' (for the publisher and for tests):
 * 'ag' and 'files[0..nfiles)' are borrowed, 'now_ms' is its timestamp_ms.
 * Returns tr_buf_err(out).
 */
tr_err_t tr_status_encode(struct tr_buf *out, const struct tr_status_agent *ag,
                          const struct tr_status_file *files, size_t nfiles,
                          int64_t now_ms, int64_t interval_ms);

/* Records published and acknowledged, and those that failed. */
void tr_status_counts(const struct tr_status *st, uint64_t *sent,
                      uint64_t *failed);

#endif /* TR_AGENT_STATUS_H */
