/*
 * config -- the collector's broker configuration (server.properties keys).
 *
 * One table in config.c lists every key with its type, default, range,
 * field and help text. That table drives parsing of the properties file and
 * of --set, the --help listing, DescribeConfigs of the broker resource, and a
 * test that checks conf/collector.properties documents exactly these keys.
 * Defaults are Kafka's unless the help text says otherwise.
 *
 * Keys Kafka derives from one another are resolved after every load or set:
 * log.retention.ms wins over log.retention.minutes, which wins over
 * log.retention.hours (a negative result means no time limit, -1);
 * log.roll.ms wins over log.roll.hours; num.network.threads = 0 becomes the
 * number of online CPUs.
 *
 * Unknown keys in a file are logged as warnings and ignored, so a Kafka
 * server.properties loads; bad values are errors reading "FILE:LINE: reason".
 */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "partition.h"

/* Per-listener JAAS entries a configuration may hold. */
#define TR_JAAS_MAX 16

struct tr_broker_config {
    int32_t broker_id;          /* broker.id, 0 */
    char *listeners;            /* listeners, "PLAINTEXT://127.0.0.1:9092" */
    char *advertised_listeners; /* advertised.listeners, NULL = listeners */
    char *log_dirs;             /* log.dirs, "./var/collector" (one dir) */
    int32_t num_partitions;     /* num.partitions, 1 */
    int auto_create_topics;     /* auto.create.topics.enable, true */
    struct tr_log_config log;   /* log.* and message.max.bytes */
    int32_t socket_request_max_bytes; /* socket.request.max.bytes, 100 MiB */
    int32_t num_network_threads;      /* num.network.threads, 0 = online CPUs */
    int32_t num_io_threads;           /* num.io.threads: accepted, unused */
    int64_t connections_max_idle_ms;  /* connections.max.idle.ms, 600000 */
    int64_t socket_write_timeout_ms;  /* tributary.socket.write.timeout.ms */
    int32_t max_connections;          /* max.connections, 10000 */
    int32_t max_connections_per_ip;   /* max.connections.per.ip */
    char *max_connections_per_ip_overrides;   /* HOST:N,... or NULL */
    int32_t quota_window_num;                 /* quota.window.num, 11 */
    int32_t quota_window_size_seconds;        /* quota.window.size.seconds */
    int32_t max_topics_per_principal;         /* INT32_MAX: no limit */
    int32_t max_groups_per_principal;         /* INT32_MAX: no limit */
    int32_t default_replication_factor;       /* 1 */
    int32_t offsets_topic_replication_factor; /* 1 */
    int32_t offsets_topic_num_partitions;     /* 50 */
    int32_t offsets_retention_minutes;        /* 10080 (7 days) */
    int32_t group_min_session_timeout_ms;     /* 6000 */
    int32_t group_max_session_timeout_ms;     /* 1800000 */
    int32_t group_max_size;                   /* INT32_MAX */
    int32_t group_initial_rebalance_delay_ms; /* 3000 */
    char *log_level;                          /* tributary.log.level, "info" */
    char *http_listener; /* http.listener, "127.0.0.1:9644"; "": off */
    char *http_auth;     /* http.auth: "auto", "basic" or "none" */
    int64_t agents_silent_after_ms; /* agents.silent.after.ms, 30000 */
    /* Transactions (txn/coordinator.h) */
    int32_t transaction_state_log_num_partitions;     /* 50 */
    int32_t transaction_state_log_replication_factor; /* 3 */
    int32_t transaction_state_log_min_isr;            /* 2 */
    int32_t transaction_max_timeout_ms;               /* 900000 */
    int64_t transactional_id_expiration_ms;           /* 7 days */
    int64_t transaction_abort_timed_out_interval_ms;  /* 10000 */
    int64_t transaction_remove_expired_interval_ms;   /* 3600000 */
    /* The cluster (docs/cluster.md); unused without zookeeper.connect. */
    char *zookeeper_connect;                 /* NULL: a single collector */
    int64_t zookeeper_session_timeout_ms;    /* 18000 */
    int64_t zookeeper_connection_timeout_ms; /* 18000 */
    char *broker_rack;                       /* NULL */
    int32_t reserved_broker_max_id;          /* 1000 */
    int64_t replica_lag_time_max_ms;         /* 30000 */
    int32_t replica_fetch_max_bytes;         /* 1048576 */
    int32_t replica_fetch_wait_max_ms;       /* 500 */
    int32_t num_replica_fetchers;            /* 1 */
    int unclean_leader_election;             /* false */
    int controlled_shutdown_enable;          /* true */
    int auto_leader_rebalance_enable;        /* true */
    int64_t leader_imbalance_check_interval_seconds; /* 300 */
    int32_t leader_imbalance_per_broker_pct;         /* 10 */
    int64_t leader_replication_throttled_rate;       /* INT64_MAX: none */
    int64_t follower_replication_throttled_rate;     /* INT64_MAX: none */
    char *inter_broker_listener_name;     /* NULL: see tr_broker_config_ib */
    char *security_inter_broker_protocol; /* "PLAINTEXT" */
    char *sasl_mechanism_inter_broker_protocol;  /* "SCRAM-SHA-256" */
    char *ssl_endpoint_identification_algorithm; /* "https", "" for none */
    /* Listeners' security (docs/security.md). */
    char *listener_security_protocol_map; /* NAME:PROTOCOL,... or NULL */
    char *ssl_keystore_type;              /* "PEM" (the only one) */
    char *ssl_keystore_location;          /* PEM: chain and private key */
    char *ssl_key_password;               /* for an encrypted key, or NULL */
    char *ssl_truststore_type;            /* "PEM" */
    char *ssl_truststore_location;        /* CA bundle, or NULL */
    char *ssl_client_auth;                /* none, requested, required */
    char *ssl_principal_mapping_rules;    /* security/principal.h */
    char *ssl_enabled_protocols;          /* "TLSv1.2,TLSv1.3" */
    char *ssl_cipher_suites;              /* NULL: OpenSSL's defaults */
    /* SASL (api/sasl.c, docs/security.md). */
    char *sasl_enabled_mechanisms; /* SCRAM-SHA-256,SCRAM-SHA-512,PLAIN */
    int32_t sasl_server_max_receive_size; /* 524288, before authentication */
    int64_t connections_max_reauth_ms;    /* 0: no re-authentication */
    /* Authorization (security/acl.h, docs/security.md). */
    char *authorizer_class_name;        /* "": none */
    char *super_users;                  /* "User:a;User:b" or NULL */
    int allow_everyone_if_no_acl_found; /* false */

    /*
     * listener.name.<listener>.<mechanism>.sasl.jaas.config entries: keys
     * lower-cased, values as given; read with tr_broker_config_jaas().
     */
    char *jaas_keys_[TR_JAAS_MAX];
    char *jaas_values_[TR_JAAS_MAX];
    size_t njaas_;

    /*
     * Private to config.c: raw values of keys that are folded into 'log'
     * by resolution, and one bit per table row that was set explicitly.
     */
    int64_t log_roll_ms_;
    int32_t log_roll_hours_;
    int64_t log_retention_ms_;
    int32_t log_retention_minutes_;
    int32_t log_retention_hours_;
    uint64_t set_[2];
};

/* Fills 'cfg' with the defaults. Strings in 'cfg' are owned by it. */
void tr_broker_config_init(struct tr_broker_config *cfg);
/* Frees the strings; 'cfg' may be initialised again. */
void tr_broker_config_cleanup(struct tr_broker_config *cfg);
/* 1 when the setting 'name' was given (file or --set), not defaulted. */
int tr_broker_config_is_set(const struct tr_broker_config *cfg,
                            const char *name);

/*
 * Applies the properties file at 'path' over the current values. On error
 * 'errbuf' reads "FILE:LINE: reason" (or "FILE: cannot open: ...") and 'cfg'
 * may be partly updated; the caller is expected to exit (status 2).
 */
tr_err_t tr_broker_config_load_file(struct tr_broker_config *cfg,
                                    const char *path, char *errbuf,
                                    size_t errlen);

/*
 * Applies one "key=value" (from --set). Errors read "--set KEY: reason";
 * here an unknown key is an error, since a typo on the command line has no
 * reason to be ignored.
 */
tr_err_t tr_broker_config_set(struct tr_broker_config *cfg,
                              const char *key_eq_value, char *errbuf,
                              size_t errlen);

/*
 * Calls 'cb' once per key, in table order, with its current value as text
 * (NULL for a key Kafka also reports as null, such as log.retention.ms when
 * unset) and whether it still has its default. The strings are valid until
 * 'cb' returns.
 */
void tr_broker_config_describe(const struct tr_broker_config *cfg,
                               void (*cb)(const char *name, const char *value,
                                          int is_default, void *arg),
                               void *arg);

/*
 * For dynamic configuration (dynconf.h): a deep copy of 'src' into 'dst'
 * (owned by 'dst'; free with tr_broker_config_cleanup). TR_ERR_NOMEM
 * leaves 'dst' empty.
 */
tr_err_t tr_broker_config_copy(struct tr_broker_config *dst,
                               const struct tr_broker_config *src);
/* 1 when 'name' is a key of the table. */
int tr_broker_config_known(const char *name);
/*
 * Sets table key 'key' to 'value' as the file would (marked as set, derived
 * keys resolved again). TR_ERR_CONFIG with 'reason' (without the key) for
 * an unknown key or a bad value.
 */
tr_err_t tr_broker_config_put(struct tr_broker_config *cfg, const char *key,
                              const char *value, char *reason,
                              size_t reasonlen);

/* Prints every key with its default and help text (for --help). */
void tr_broker_config_usage(FILE *out);

/*
 * Parses the first entry of a listeners list ("NAME://host:port", or
 * "NAME://[v6addr]:port"). An empty host means 0.0.0.0. Only the syntax is
 * checked here; tr_broker_config_listeners() resolves the name to a
 * security protocol. On error 'errbuf' holds the reason.
 */
tr_err_t tr_broker_config_listener(const char *listeners, char *host,
                                   size_t hostlen, int *port, char *errbuf,
                                   size_t errlen);

/*
 * Parses max.connections.per.ip.overrides ("HOST:COUNT,...", the count
 * after the last colon so IPv6 addresses work) and calls 'cb' (may be
 * NULL: only checks) for each entry. Errors name the entry.
 */
tr_err_t tr_broker_config_ip_overrides(const char *value,
                                       tr_err_t (*cb)(const char *host,
                                                      int32_t max, void *arg),
                                       void *arg, char *errbuf, size_t errlen);

/* Kafka's security protocols; the names are Kafka's (SecurityProtocol). */
enum tr_security_protocol {
    TR_SEC_PLAINTEXT,
    TR_SEC_SSL,
    TR_SEC_SASL_PLAINTEXT,
    TR_SEC_SASL_SSL,
};

/* "PLAINTEXT", "SSL", "SASL_PLAINTEXT" or "SASL_SSL". */
const char *tr_security_protocol_name(enum tr_security_protocol p);

/* True for the protocols that run over TLS (SSL, SASL_SSL). */
#define TR_SEC_IS_TLS(p) ((p) == TR_SEC_SSL || (p) == TR_SEC_SASL_SSL)

#define TR_LISTENERS_MAX 8

/* One entry of listeners or advertised.listeners. */
struct tr_listener_spec {
    char name[32]; /* upper case: "PLAINTEXT", "EXTERNAL", ... */
    enum tr_security_protocol protocol;
    char host[256]; /* "0.0.0.0" for an empty host */
    int port;
};

/*
 * Parses a whole listeners (or advertised.listeners) list into 'out' (room
 * for TR_LISTENERS_MAX) and resolves each name to its security protocol:
 * through 'protocol_map' (listener.security.protocol.map, "NAME:PROTO,...";
 * may be NULL), else the name itself must be a protocol, as in Kafka.
 * Names and ports must be unique (port 0 excepted). Errors name the entry.
 */
tr_err_t tr_broker_config_listeners(const char *listeners,
                                    const char *protocol_map,
                                    struct tr_listener_spec *out, size_t *n,
                                    char *errbuf, size_t errlen);

/*
 * The listener brokers talk to each other on, in '*name' (a string of
 * 'cfg', or NULL for the first listener): inter.broker.listener.name,
 * else, when security.inter.broker.protocol was set, the listener named
 * as that protocol (Kafka's rule). Setting both is an error, as in Kafka.
 */
tr_err_t tr_broker_config_inter_broker(const struct tr_broker_config *cfg,
                                       const char **name, char *errbuf,
                                       size_t errlen);

/*
 * This broker's own SASL login for 'mechanism' on 'listener' (any case),
 * from Kafka's listener.name.<listener>.<mechanism>.sasl.jaas.config, e.g.
 *   org.apache.kafka.common.security.scram.ScramLoginModule required
 *     username="broker" password="broker-secret";
 * TR_ERR_NOT_FOUND when the key is not set; TR_ERR_CONFIG when the entry
 * has no username or password or names the wrong login module. 'errbuf'
 * says why, naming the key.
 */
tr_err_t tr_broker_config_jaas(const struct tr_broker_config *cfg,
                               const char *listener, const char *mechanism,
                               char *user, size_t userlen, char *password,
                               size_t passlen, char *errbuf, size_t errlen);

/*
 * Parses one JAAS login-module entry: "<module> <flag> key=value ... ;",
 * flag one of required, requisite, sufficient, optional; values bare words
 * or double-quoted (with backslash escapes); // and C comments skipped.
 * Exactly one entry. Copies the module name and the username and password
 * options ("" when absent). TR_ERR_CONFIG with 'errbuf' saying why.
 */
tr_err_t tr_jaas_parse(const char *text, char *module, size_t modlen,
                       char *user, size_t userlen, char *password,
                       size_t passlen, char *errbuf, size_t errlen);

#endif /* TR_CONFIG_H */
