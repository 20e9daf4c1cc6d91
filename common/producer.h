/*
 * producer -- the client core's Kafka producer.
 *
 * Written on the project's own codec (buf, proto, batch, codec) and driven
 * by the caller's libevent event_base, so the agent runs tailing and
 * shipping on one thread, and the tools and (later) the collector's
 * replica fetchers reuse the same connection code.
 *
 * It bootstraps from a list of brokers, refreshes metadata (on an interval
 * and on errors such as NOT_LEADER_OR_FOLLOWER), routes each partition's
 * batches to its leader, batches per partition (linger.ms, batch.size),
 * compresses, applies acks, retries with exponential backoff and jitter,
 * keeps at most max_in_flight requests per connection, and with
 * idempotence asks for a producer id (InitProducerId) and numbers each
 * partition's batches so that retries never duplicate a record. Keyed
 * records go to murmur2(key) mod partitions, as the Java client does.
 *
 * Delivery: every record sent is reported exactly once through the
 * delivery callback, with its offset or the error that ended its retries
 * (after delivery_timeout_ms). Records of one partition are reported in
 * the order they were sent.
 *
 * Idempotence: each partition's batches carry sequence numbers from 0,
 * advanced by the record count; at most 5 batches per partition are in
 * flight, and a retry resends the identical bytes (same producer id, epoch
 * and sequence), so the broker drops a replay (DUPLICATE_SEQUENCE_NUMBER
 * counts as success). After UNKNOWN_PRODUCER_ID, an OUT_OF_ORDER_SEQUENCE
 * _NUMBER not explained by an earlier failed batch, or a sequenced batch
 * given up on, the producer waits for every request in flight, takes a new
 * producer id and renumbers all unacknowledged batches from 0. Remaining
 * window: a batch whose request failed without an answer (timeout, lost
 * connection) and that the broker had in fact written is written again if
 * such a reset happens before it is acknowledged -- the new producer id
 * cannot be matched with the old one. delivery_timeout_ms only expires
 * records that are not in flight. Without idempotence (or with acks 0/1)
 * retries may duplicate, and with max_in_flight > 1 reorder, records.
 *
 * Memory: buffered records are bounded by buffer_max_bytes; past it
 * tr_producer_send() returns TR_ERR_AGAIN and the caller waits for a
 * delivery callback before sending more (backpressure).
 *
 * Thread safety: none; call everything from the event_base's thread.
 */
#ifndef TR_PRODUCER_H
#define TR_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "err.h"

struct event_base;
struct tr_clientsec;

struct tr_producer_config {
    const char *bootstrap;       /* "host:port[,host:port...]" */
    const char *client_id;       /* default "tributary" */
    int acks;                    /* -1, 0 or 1; default -1 */
    int linger_ms;               /* default 5 */
    size_t batch_bytes;          /* batch.size, default 512 KiB */
    enum tr_codec codec;         /* default TR_CODEC_NONE */
    int max_in_flight;           /* per connection, default 5 */
    int idempotent;              /* default 1 (needs acks -1) */
    int retry_backoff_ms;        /* first backoff, default 100 */
    int retry_backoff_max_ms;    /* cap, default 10000 */
    int request_timeout_ms;      /* default 30000 */
    int64_t delivery_timeout_ms; /* give up after; -1 never; default -1 */
    int metadata_refresh_ms;     /* default 300000 */
    size_t buffer_max_bytes;     /* default 32 MiB */
    /* TLS and SASL (clientsec.h); borrowed, must outlive the producer. */
    const struct tr_clientsec *security;
    /*
     * Resuming: a producer id >= 0 (with its epoch) is used as is instead
     * of asking InitProducerId for one (default -1). It is replaced like any
     * other after UNKNOWN_PRODUCER_ID or a sequence gap.
     */
    int64_t producer_id;
    int16_t producer_epoch;
    /*
     * Called (idempotence only) when a batch gets its sequence, just before
     * its first send, and again when a new producer id renumbers it: the
     * caller may journal it. 'opaques' are the records' opaque pointers
     * (NULL for a batch given to tr_producer_resend). NULL: no calls.
     */
    void (*batch_cb)(void *arg, const char *topic, int32_t partition,
                     int64_t pid, int16_t epoch, int32_t base_seq,
                     int32_t count, const uint8_t *wire, size_t wire_len,
                     void *const *opaques);
    void *batch_cb_arg;
};

/* Fills 'cfg' with the defaults above. */
void tr_producer_config_defaults(struct tr_producer_config *cfg);

/*
 * Called once per record on the event_base's thread. 'opaque' is what was
 * passed to tr_producer_send. 'err' is TR_OK or the final failure, and
 * 'kerr' the Kafka error code (0 on success); 'offset' is the record's
 * offset (-1 when unknown, as with acks=0).
 */
typedef void tr_producer_delivery_cb(void *opaque, tr_err_t err, int16_t kerr,
                                     const char *topic, int32_t partition,
                                     int64_t offset, void *arg);

struct tr_producer;

/*
 * Returns an owned producer in *out. 'cfg' is copied (its strings too);
 * 'base' is borrowed and must outlive the producer. Connections are made
 * lazily; an unreachable bootstrap list is not an error here: the records
 * wait (bounded by buffer_max_bytes) and connecting is retried with backoff.
 */
tr_err_t tr_producer_new(struct event_base *base,
                         const struct tr_producer_config *cfg,
                         tr_producer_delivery_cb *cb, void *cb_arg,
                         struct tr_producer **out);

/*
 * Queues one record. 'partition' -1 picks one: murmur2 of a non-null key,
 * else a sticky partition that changes with each new batch. 'timestamp' -1
 * means now. Key, value and headers are copied. Returns TR_ERR_AGAIN when
 * the buffer is full, TR_ERR_TOO_LARGE for a record that can never fit.
 */
tr_err_t tr_producer_send(struct tr_producer *p, const char *topic,
                          int32_t partition, const void *key, int32_t key_len,
                          const void *value, int32_t value_len,
                          const struct tr_record_header *headers,
                          int32_t nheaders, int64_t timestamp, void *opaque);

/*
 * Resuming a producer id (cfg.producer_id): before any record of 'topic' is
 * sent, sets the partition's next sequence to 'next_seq' (what the broker
 * expects next, e.g. from DescribeProducers) and queues 'n' already encoded
 * batches (wire[i], count[i] records; copied) to be sent first, in order,
 * as they are: a resent batch keeps its producer id, epoch and sequence, so
 * the broker drops it if it had already landed. Their records are reported
 * with a NULL opaque. Call before the first tr_producer_send to the topic.
 */
tr_err_t tr_producer_resume(struct tr_producer *p, const char *topic,
                            int32_t partition, int32_t next_seq,
                            const uint8_t *const *wire, const size_t *wire_len,
                            const int32_t *count, size_t n);
/* The producer id in use (-1 before one is known) and its epoch. */
int64_t tr_producer_id(const struct tr_producer *p, int16_t *epoch);

/* Sends every lingering batch now. */
void tr_producer_flush(struct tr_producer *p);
/* Records queued or in flight (not yet reported). */
size_t tr_producer_pending(const struct tr_producer *p);
/* Bytes those records hold. */
size_t tr_producer_buffered_bytes(const struct tr_producer *p);
/* 1 while at least one broker connection is up. */
int tr_producer_connected(const struct tr_producer *p);

/*
 * Frees the producer; records not yet reported are reported with
 * TR_ERR_CLOSED first. NULL is a no-op.
 */
void tr_producer_free(struct tr_producer *p);

/* murmur2 as in Kafka's Java client (seed 0x9747b28c). */
uint32_t tr_murmur2(const void *data, size_t len);
/* The Java client's keyed partition: (murmur2 & 0x7fffffff) % n. */
int32_t tr_murmur2_partition(const void *key, size_t len, int32_t n);

#endif /* TR_PRODUCER_H */
