/*
 * fleet -- the collector's view of its agents, built from the status
 * records every agent publishes to __tributary_agents (agent/status.h):
 * who reports, with which inputs and files, how many bytes each is behind,
 * its last error, and who has gone silent (not heard from for
 * agents.silent.after.ms). Served as JSON at /api/agents and counted in
 * the tributary_agents metric (stats.c).
 *
 * Where the records come from: the local log of __tributary_agents, read
 * with tr_partition_foreach_batch from where the last read stopped (the
 * way the group coordinator replays __consumer_offsets), every 250 ms on
 * the HTTP listener's event_base and before each /api/agents answer and
 * scrape; at most 4 MiB of batches per read, so a long replay after a
 * restart is done in slices and never holds that loop for long.
 * On a single collector that is always the whole topic. In a cluster a
 * collector sees the fleet if it hosts a replica of the topic (created with
 * offsets.topic.replication.factor replicas, like __consumer_offsets);
 * others answer with an empty list. This was chosen over a consumer client
 * inside the collector because it needs no credentials, no connection to
 * itself and no second copy of the fetch logic, and it reads the replica's
 * own bytes with no network at all.
 *
 * The topic is created here on a single collector (tr_fleet_ensure_topic,
 * at start-up) and by the Metadata auto-creation path in a cluster, in both
 * cases with cleanup.policy=compact (the last record per host is kept) and
 * message.timestamp.type=LogAppendTime: a record's timestamp is when the
 * collector appended it, so "last seen" does not depend on agents' clocks.
 *
 * A malformed record (not JSON, wrong types, no key) is skipped with a
 * rate-limited warning and leaves that host's last good status in place.
 * A tombstone (null value) forgets the host.
 *
 * Thread safety: none; the HTTP listener's thread (the main event_base)
 * is the only user. The partition reads take the partition's own locks.
 */
#ifndef TR_FLEET_H
#define TR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define TR_FLEET_TOPIC "__tributary_agents"

struct event_base;
struct tr_fleet;
struct tr_topics;

/* Bounds on what one collector keeps (more is skipped, with a warning). */
#define TR_FLEET_MAX_AGENTS 100000
#define TR_FLEET_MAX_FILES  10000        /* per agent */
#define TR_FLEET_MAX_INPUTS 1024         /* per agent */
#define TR_FLEET_MAX_BYTES  (256u << 20) /* status records kept, all hosts */

/*
 * Returns an owned, empty fleet view in *out. 'topics' (borrowed, may be
 * NULL for tests) is where the records are read from.
 */
tr_err_t tr_fleet_new(struct tr_topics *topics, int64_t silent_after_ms,
                      struct tr_fleet **out);
/* NULL is a no-op. */
void tr_fleet_free(struct tr_fleet *fl);

/*
 * Creates __tributary_agents (1 partition, compacted, LogAppendTime) in
 * 'topics' if it is missing: a single collector, at start-up.
 */
tr_err_t tr_fleet_ensure_topic(struct tr_topics *topics, char *errbuf,
                               size_t errlen);
/*
 * The topic configs of __tributary_agents ("key", "value" pairs), for the
 * cluster's creation path: returns the count and points *keys and *values
 * at static arrays.
 */
size_t tr_fleet_topic_configs(const char *const **keys,
                              const char *const **values);

/*
 * Reads the status records appended since the last call (at most 4 MiB of
 * batches; the next call goes on).
 */
void tr_fleet_poll(struct tr_fleet *fl);
/* Polls every 250 ms on 'base' (borrowed, must outlive 'fl'). */
tr_err_t tr_fleet_follow(struct tr_fleet *fl, struct event_base *base);

/*
 * Applies one status record: 'key' (the host; NULL or empty: malformed),
 * 'value' (NULL: a tombstone), appended at 'ts_ms' (wall clock), read at
 * 'now_ms'. TR_ERR_CORRUPT or TR_ERR_INVALID for a malformed record
 * (nothing changes; the caller counts it), TR_ERR_TOO_LARGE past the
 * bounds above, TR_ERR_NOMEM.
 */
tr_err_t tr_fleet_apply(struct tr_fleet *fl, const void *key, size_t key_len,
                        const void *value, size_t value_len, int64_t ts_ms,
                        int64_t now_ms);

/* Agents known, and how many of them are silent at 'now_ms'. */
void tr_fleet_counts(const struct tr_fleet *fl, int64_t now_ms, size_t *active,
                     size_t *silent);
/* Status records skipped as malformed so far. */
uint64_t tr_fleet_skipped(const struct tr_fleet *fl);

/*
 * Writes the /api/agents document for 'now_ms' into 'out', agents sorted
 * by host (the shape is documented in docs/operations.md, "Fleet"):
 *
 *   {"now_ms": N, "silent_after_ms": N, "agents": [{"host", "version",
 *    "started_ms", "last_seen_ms", "silent", "bytes_behind", "last_error",
 *    "last_error_ms", "inputs": [{"name", "topic"}], "files": [{"path",
 *    "input", "bytes_read", "bytes_acked", "bytes_behind",
 *    "last_ack_ms"}]}]}
 *
 * Returns tr_buf_err(out).
 */
tr_err_t tr_fleet_json(const struct tr_fleet *fl, int64_t now_ms,
                       struct tr_buf *out);

#endif /* TR_FLEET_H */
