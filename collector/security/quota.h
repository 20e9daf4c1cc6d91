/*
 * quota -- Kafka's client quotas: the configured quotas by entity, the
 * rate sensors that measure clients against them, and the throttle time
 * a client over its quota is given (KIP-13, KIP-55, KIP-124, KIP-219).
 *
 * Entities are a user (the principal's name, "alice" for User:alice), a
 * client id, or a user and a client id, each part either named or
 * <default>. Keys: producer_byte_rate and consumer_byte_rate (bytes/s),
 * request_percentage (percent of one network thread's time),
 * controller_mutation_rate (stored and described, not enforced). For each
 * key on its own the first entity with a value wins, in Kafka's order:
 *
 *   users/U/clients/C, users/U/clients/<default>, users/U,
 *   users/<default>/clients/C, users/<default>/clients/<default>,
 *   users/<default>, clients/C, clients/<default>
 *
 * and no match means no limit. As in Kafka, clients share a sensor
 * exactly as far as the matched entity names them: a quota on users/alice
 * is one budget for all of alice's client ids, one on clients/<default>
 * a budget per client id.
 *
 * A sensor is Kafka's sampled rate: quota.window.num samples of
 * quota.window.size.seconds; the rate is the sum of the live samples over
 * the time since the oldest, but at least (samples - 1) windows. A client
 * whose observed rate O exceeds its quota T after recording is told to
 * wait round((O - T) / T * W) ms, W being that same elapsed time (the
 * request-time wait is capped at one window, as in Kafka). Sensors live
 * in a bounded table: one idle for samples x window has forgotten all it
 * measured and is dropped, and when the table is full the least recently
 * used goes, so clients cycling through client ids cannot grow memory.
 *
 * Persistence: on a single collector the file '.quotas' in the log
 * directory, one line per entity, its ZooKeeper path and key=value pairs:
 *
 *   users/alice/clients/app producer_byte_rate=1048576
 *
 * rewritten atomically at each change (temporary file, fsync, rename,
 * directory fsync). In a cluster ZooKeeper, as in Kafka 2.x:
 * /config/users/<u>[/clients/<c>] and /config/clients/<c> hold
 * {"version":1,"config":{"producer_byte_rate":"1048576"}} (names
 * sanitized as credentials.h says, <default> as is), the users' znodes
 * shared with the SCRAM credentials, whose members are kept; a change is
 * announced under /config/changes and every broker reads the entity again.
 *
 * Thread-safe: one lock guards the entities and the sensors; a collector
 * with no quota at all never takes it (tr_quotas_active).
 */
#ifndef TR_QUOTA_H
#define TR_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TR_QUOTAS_FILE "/.quotas"
/* Longest user or client id an entity may name. */
#define TR_QUOTA_NAME_MAX 255
/*
 * Sensors the collector keeps (each a few hundred bytes): the bound on
 * the memory that clients cycling through client ids can take.
 */
#define TR_QUOTA_SENSORS_MAX 100000
/* Kafka's name of the default entity in ZooKeeper and its tools. */
#define TR_QUOTA_DEFAULT_NAME "<default>"

enum tr_quota_key {
    TR_QUOTA_PRODUCER_BYTE_RATE,
    TR_QUOTA_CONSUMER_BYTE_RATE,
    TR_QUOTA_REQUEST_PERCENTAGE,
    TR_QUOTA_CONTROLLER_MUTATION_RATE,
    TR_QUOTA_NKEYS
};

/* The key's Kafka name; parse returns -1 for a name that is no key. */
const char *tr_quota_key_name(enum tr_quota_key key);
int tr_quota_key_parse(const char *name, size_t len);

/*
 * An entity; the strings are borrowed. A part is absent when its name is
 * NULL and its default flag is 0.
 */
struct tr_quota_entity {
    const char *user;
    int user_default;
    const char *client_id;
    int client_default;
};

/* Values of an entity: 'set' has bit (1 << key) for each one present. */
struct tr_quota_values {
    double v[TR_QUOTA_NKEYS];
    unsigned set;
};

/* One change of an entity's values (AlterClientQuotas). */
struct tr_quota_op {
    enum tr_quota_key key;
    double value;
    int remove;
};

struct tr_quotas;

/*
 * Opens the quotas of log directory 'dir', reading its file if there is
 * one; 'window_num' and 'window_ms' are quota.window.num and
 * quota.window.size.seconds in ms; 'max_sensors' bounds the sensor table.
 * A malformed file is TR_ERR_CORRUPT with "FILE:LINE: reason" in 'errbuf'.
 */
tr_err_t tr_quotas_open(const char *dir, int window_num, int64_t window_ms,
                        size_t max_sensors, struct tr_quotas **out,
                        char *errbuf, size_t errlen);
/* NULL is a no-op. */
void tr_quotas_free(struct tr_quotas *q);

/* Nonzero when some entity has a value for 'key' (no lock taken). */
int tr_quotas_active(const struct tr_quotas *q, enum tr_quota_key key);

/*
 * Applies 'ops' to entity 'e' (validate_only: only checks them) and saves.
 * Returns a Kafka error code with 'msg' saying why: INVALID_REQUEST for an
 * entity without parts, a name too long, a value that is not positive, or
 * a byte rate that is not a whole number; UNKNOWN_SERVER_ERROR when the
 * change cannot be stored.
 */
int16_t tr_quotas_alter(struct tr_quotas *q, const struct tr_quota_entity *e,
                        const struct tr_quota_op *ops, size_t n,
                        int validate_only, char *msg, size_t msglen);

/*
 * Calls 'cb' for every entity with at least one value, under the lock (so
 * 'cb' must not call back into 'q'); the entity's strings are valid during
 * the call.
 */
void tr_quotas_each(struct tr_quotas *q,
                    void (*cb)(const struct tr_quota_entity *e,
                               const struct tr_quota_values *v, void *arg),
                    void *arg);

/*
 * The quota for 'key' a client ('user' may be NULL for none, 'client_id'
 * NULL for an empty one) is held to, by the precedence above: 1 and
 * '*bound' set, or 0 for none.
 */
int tr_quotas_bound(struct tr_quotas *q, const char *user,
                    const char *client_id, enum tr_quota_key key,
                    double *bound);

/*
 * What the client may use of 'key' in one full measuring span: its quota
 * times (samples - 1) windows, or 0 without a quota. Kafka caps a Fetch's
 * size at this, so that one answer never exceeds what the quota allows.
 */
double tr_quotas_window_max(struct tr_quotas *q, const char *user,
                            const char *client_id, enum tr_quota_key key);

/*
 * Records 'value' (bytes, or percent-seconds of thread time for
 * request_percentage) against the client's sensor for 'key' at 'now_ms'
 * and returns how long the client must wait, in ms (0 within its quota
 * or with no quota). Any thread may call it.
 */
int64_t tr_quotas_record(struct tr_quotas *q, const char *user,
                         const char *client_id, enum tr_quota_key key,
                         double value, int64_t now_ms);

/* Number of sensors held (for tests and the bound above). */
size_t tr_quotas_sensor_count(struct tr_quotas *q);

/*
 * Where a cluster keeps quotas. Paths are relative to /config
 * ("users/alice/clients/app"). get returns the znode's data (owned:
 * free()) or TR_ERR_NOT_FOUND; put creates or replaces it (creating a
 * missing users/<u> parent with an empty config) and announces the path
 * under /config/changes; children lists a znode's children (TR_OK and
 * none when it does not exist), freed with free_names.
 */
struct tr_quotas_remote {
    tr_err_t (*get)(void *arg, const char *path, char **data, size_t *len);
    tr_err_t (*put)(void *arg, const char *path, const char *data, size_t len);
    tr_err_t (*children)(void *arg, const char *path, char ***names,
                         int *count);
    void (*free_names)(char **names, int count);
    void *arg;
};

/*
 * From now on changes go to 'remote' (copied; 'arg' must outlive 'q') and
 * the quotas are ZooKeeper's: call tr_quotas_reload_all once connected.
 */
void tr_quotas_set_remote(struct tr_quotas *q,
                          const struct tr_quotas_remote *remote);
/* Replaces every entity with those in ZooKeeper. */
tr_err_t tr_quotas_reload_all(struct tr_quotas *q);
/*
 * A /config/changes notification's entity_path ("users/alice",
 * "clients/<default>", ...): reads that entity again. Other paths are
 * ignored.
 */
void tr_quotas_changed(struct tr_quotas *q, const char *entity_path);

#endif /* TR_QUOTA_H */
