/*
 * fetcher -- a replica fetcher: the thread that copies partitions from one
 * leader broker to this one.
 *
 * Followers pull, as consumers do: Fetch (v11) with this broker's id as
 * replica id, one request for all the partitions this broker follows on
 * that leader. Each response's batches are appended as they are (offsets
 * and leader epochs kept) and the follower's high watermark follows the
 * leader's. A partition added (a new leader, or a new epoch) first finds
 * where its log diverges from the leader's: OffsetForLeaderEpoch (v3) for
 * its newest epoch, then truncation to the end the leader gives for it, as
 * Kafka does since KIP-101/KIP-279. A fenced or unknown epoch in an answer
 * sends the partition back to that step.
 *
 * Thread safety: add/remove/free may be called from any thread.
 */
#ifndef TR_FETCHER_H
#define TR_FETCHER_H

#include <stdint.h>

#include "err.h"

struct tr_peer;
struct tr_throttle;
struct tr_topics;
struct tr_waits;
struct tr_fetcher;

struct tr_fetcher_config {
    int32_t replica_id;
    int32_t leader_id;
    char host[256];
    int port;
    int32_t fetch_max_bytes; /* replica.fetch.max.bytes, per partition */
    int32_t fetch_wait_ms;   /* replica.fetch.wait.max.ms */
    int32_t timeout_ms;      /* socket timeout for one request */
    /*
     * follower.replication.throttled.rate, shared by the broker's fetchers
     * (borrowed; NULL: none): partitions marked throttled are left out of
     * a fetch while it is spent.
     */
    struct tr_throttle *throttle;
    /* TLS and SASL to the leader (borrowed; NULL: PLAINTEXT). */
    const struct tr_peer *peer;
    /*
     * Borrowed flag, read atomically (NULL: never set): while set, nothing
     * is fetched. A broker in its controlled shutdown sets it, as Kafka's
     * controller stops such a broker's replicas, so that leaders do not
     * take it back into their ISR after the controller took it out.
     */
    const int *paused;
};

/* Starts the thread. Owned result in *out. */
tr_err_t tr_fetcher_start(const struct tr_fetcher_config *cfg,
                          struct tr_topics *topics, struct tr_waits *waits,
                          struct tr_fetcher **out);
/* The leader's address changed (it re-registered). */
void tr_fetcher_set_address(struct tr_fetcher *f, const char *host, int port);
/* Follows (topic, partition) at 'leader_epoch', truncating first. */
void tr_fetcher_add(struct tr_fetcher *f, const char *topic, int32_t partition,
                    int32_t leader_epoch);
/* Stops following; returns once no fetch of it is being applied. */
void tr_fetcher_remove(struct tr_fetcher *f, const char *topic,
                       int32_t partition);
/*
 * Marks a followed partition as catching up (out of the ISR): its traffic
 * counts against, and waits for, the follower throttle.
 */
void tr_fetcher_set_throttled(struct tr_fetcher *f, const char *topic,
                              int32_t partition, int throttled);
int tr_fetcher_count(struct tr_fetcher *f);
/* Stops the thread and frees; NULL is a no-op. */
void tr_fetcher_free(struct tr_fetcher *f);

#endif /* TR_FETCHER_H */
