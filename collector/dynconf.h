/*
 * dynconf -- dynamic broker configuration, as Kafka's KIP-226 has it: the
 * broker settings an operator may change at run time with AlterConfigs or
 * IncrementalAlterConfigs on a BROKER resource, without a restart.
 *
 * Two sets of dynamic values sit over the static configuration (the
 * properties file and --set, config.h):
 *
 *   per-broker (resource "<id>")  >  cluster default (resource "")
 *     >  static (file, --set)  >  built-in default
 *
 * The effective configuration is the static one with the default set and
 * then the per-broker set applied, key by key, as if they had been written
 * at the end of the file (so derived keys follow Kafka's merge: a static
 * log.retention.ms still wins over a dynamic log.retention.hours).
 *
 * Where the sets live is the caller's business: on a single collector in
 * "<log.dirs>/.brokers/<id>.json" and "<log.dirs>/.brokers/<default>.json"
 * (tr_dynconf_open_dir), in a cluster in ZooKeeper's /config/brokers/<id>
 * and /config/brokers/<default> (collector/cluster/cluster.c feeds them in
 * with tr_dynconf_load_json). Both use Kafka's znode text,
 * {"version":1,"config":{"key":"value",...}}.
 *
 * Which keys are dynamic is decided by the table in dynconf.c: the topic
 * defaults (log.segment.*, log.roll.*, log.retention.*, log.flush.*,
 * log.index.*, message.max.bytes, the log.cleaner topic defaults), the log
 * cleaner's threads and buffer, the connection limits, the replication
 * throttles, and the TLS keystore and truststore (per broker only, as in
 * Kafka). Every other key is read-only: changing it is refused with
 * Kafka's "Cannot update these configs dynamically: Set(...)".
 *
 * A change is checked as a whole before it is kept (every value parsed,
 * the TLS settings tried), then the effective configuration is rebuilt and
 * the hooks are called with the categories of keys whose value changed;
 * they push the new values to the topics, the server and the cleaner.
 *
 * Thread safety: every function may be called from any thread; an internal
 * mutex serializes changes, and hooks run with it held (they must not call
 * back into this module).
 */
#ifndef TR_DYNCONF_H
#define TR_DYNCONF_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "topics.h"

struct tr_dynconf;
struct tr_dynconf_set;

enum tr_dynconf_scope {
    TR_DYNCONF_BROKER = 0,  /* this broker: resource name = broker id */
    TR_DYNCONF_DEFAULT = 1, /* every broker: resource name "" */
};

/* Categories of dynamic keys, as bits: what a change touches. */
#define TR_DYNCONF_LOG      0x01u /* topic defaults: tr_topics_set_defaults */
#define TR_DYNCONF_CLEANER  0x02u /* log.cleaner.threads, buffer, backoff */
#define TR_DYNCONF_CONNS    0x04u /* max.connections* */
#define TR_DYNCONF_TLS      0x08u /* ssl.*: a new TLS context */
#define TR_DYNCONF_THROTTLE 0x10u /* *.replication.throttled.rate */

/* DescribeConfigs' ConfigSource values this module reports. */
#define TR_DYNCONF_SOURCE_DYNAMIC_BROKER  2
#define TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT 3
#define TR_DYNCONF_SOURCE_STATIC          4
#define TR_DYNCONF_SOURCE_DEFAULT         5

struct tr_dynconf_hooks {
    /*
     * Optional: a last look at a candidate configuration before it is
     * kept ('what' as below); an error refuses the change with 'errbuf'.
     */
    tr_err_t (*check)(void *arg, unsigned what,
                      const struct tr_broker_config *candidate, char *errbuf,
                      size_t errlen);
    /* Called after each change with the categories whose values moved. */
    void (*apply)(void *arg, unsigned what, const struct tr_broker_config *eff);
    void *arg;
};

/*
 * Returns an owned store over a copy of 'static_cfg' (whose broker.id names
 * the per-broker set), with both dynamic sets empty. TR_ERR_NOMEM.
 */
tr_err_t tr_dynconf_new(const struct tr_broker_config *static_cfg,
                        struct tr_dynconf **out);
/* NULL is a no-op. */
void tr_dynconf_free(struct tr_dynconf *dc);
/* Sets (or, with NULL members, clears) the hooks. */
void tr_dynconf_set_hooks(struct tr_dynconf *dc,
                          const struct tr_dynconf_hooks *hooks);

/*
 * Keeps the sets in 'dir' (a single collector's log.dirs): reads
 * 'dir'/.brokers/<id>.json and <default>.json if they exist, and writes
 * every later change there atomically. A file that is not Kafka's JSON is
 * TR_ERR_CORRUPT with 'errbuf' naming it; an entry that cannot apply (a
 * read-only or unknown key, a bad value) is logged, naming the key, and
 * ignored, as Kafka does with ZooKeeper's.
 */
tr_err_t tr_dynconf_open_dir(struct tr_dynconf *dc, const char *dir,
                             char *errbuf, size_t errlen);

/* Copies the effective configuration into 'out' (owned by the caller). */
tr_err_t tr_dynconf_effective(struct tr_dynconf *dc,
                              struct tr_broker_config *out);

/* 1 when 'key' may change at run time; 'what' gets its category. */
int tr_dynconf_is_dynamic(const char *key, unsigned *what);

/*
 * Works out the set of 'scope' after AlterConfigs ('replace': the entries
 * become the whole set) or IncrementalAlterConfigs (SET, DELETE, APPEND and
 * SUBTRACT, the last two on list keys only), and checks it: the keys must
 * be dynamic (else TR_ERR_INVALID, "Cannot update these configs
 * dynamically: Set(...)"), per-broker keys cannot go to the default
 * (TR_ERR_INVALID), a key may appear once (TR_ERR_INVALID), and every
 * value must parse and the result be usable (TR_ERR_CONFIG, naming the
 * key). On success '*out' is an owned set for tr_dynconf_commit.
 */
tr_err_t tr_dynconf_prepare(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                            const struct tr_config_alter *alters, size_t n,
                            int replace, struct tr_dynconf_set **out,
                            char *errbuf, size_t errlen);

/* The entries of a prepared set (valid while the set lives). */
size_t tr_dynconf_set_entries(const struct tr_dynconf_set *set,
                              const char *const **keys,
                              const char *const **values);
/* NULL is a no-op. */
void tr_dynconf_set_free(struct tr_dynconf_set *set);

/*
 * Makes 'set' (consumed, even on failure) the set of 'scope': written to
 * the directory first when tr_dynconf_open_dir was called (TR_ERR_IO,
 * changing nothing, when that fails), then applied through the hooks.
 */
tr_err_t tr_dynconf_commit(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                           struct tr_dynconf_set *set, char *errbuf,
                           size_t errlen);

/*
 * Replaces the set of 'scope' by Kafka's JSON at 'data' ('len' bytes; NULL
 * for no znode: an empty set), as read from ZooKeeper. 'origin' names it
 * in messages. TR_ERR_CORRUPT (nothing changed) for text that is not
 * Kafka's JSON; entries that cannot apply are logged and ignored.
 */
tr_err_t tr_dynconf_load_json(struct tr_dynconf *dc,
                              enum tr_dynconf_scope scope, const char *data,
                              size_t len, const char *origin, char *errbuf,
                              size_t errlen);

/* A value of one key at one level, for DescribeConfigs' synonyms. */
struct tr_dynconf_synonym {
    const char *name;
    const char *value; /* NULL for a sensitive key */
    int source;        /* TR_DYNCONF_SOURCE_* */
};

typedef void tr_dynconf_describe_cb(const char *name, const char *value,
                                    int source, int read_only, int sensitive,
                                    const struct tr_dynconf_synonym *synonyms,
                                    size_t nsynonyms, void *arg);

/*
 * Calls 'cb' for every key of 'scope': for the broker, every key of the
 * table with its effective value, its source (that of its first synonym),
 * whether it is read-only, and its synonyms in precedence order (the key
 * at each level that has a value, then the keys it derives from, such as
 * log.retention.minutes and log.retention.hours under log.retention.ms);
 * for the default, only the keys the default set holds, as Kafka lists
 * them. Sensitive values (ssl.key.password) are NULL. The strings are
 * valid until 'cb' returns.
 */
void tr_dynconf_describe(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                         tr_dynconf_describe_cb *cb, void *arg);

#endif /* TR_DYNCONF_H */
