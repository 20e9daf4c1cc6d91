/*
 * config -- the broker's option table and what is built on it: defaults,
 * file and --set parsing, derived keys, --help and DescribeConfigs.
 *
 * NOTE: every row here must also appear in conf/collector.properties (a test
 * checks both directions) -- change both.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "conf.h"
#include "log.h"
#include "principal.h"
#include "sasl.h"

enum opt_type {
    OPT_INT32,  /* int32_t field */
    OPT_INT64,  /* int64_t field */
    OPT_BOOL,   /* int field, "true"/"false" */
    OPT_STRING, /* char * field, owned */
    OPT_DOUBLE, /* double field within [min, max] */
};

/* Accepted and documented, but nothing reads it: setting it warns. */
#define OPT_UNUSED 0x1

/* Extra validation of a string value; fills 'reason' on failure. */
typedef tr_err_t opt_check_fn(const char *value, char *reason,
                              size_t reasonlen);

struct opt {
    const char *name;
    enum opt_type type;
    const char *def; /* default as text; NULL = null (unset) */
    size_t offset;
    int64_t min, max; /* integer range */
    opt_check_fn *check;
    unsigned flags;
    const char *help;
};

static opt_check_fn check_listeners;
static opt_check_fn check_protocol_map;
static opt_check_fn check_pem;
static opt_check_fn check_client_auth;
static opt_check_fn check_principal_rules;
static opt_check_fn check_tls_protocols;
static opt_check_fn check_sasl_mechanisms;
static opt_check_fn check_sasl_mechanism;
static opt_check_fn check_protocol;
static opt_check_fn check_endpoint_identification;
static opt_check_fn check_authorizer;
static opt_check_fn check_log_dirs;
static opt_check_fn check_log_level;
static opt_check_fn check_ip_overrides;
static opt_check_fn check_host_port;
static opt_check_fn check_http_auth;
static opt_check_fn check_http_listener;

#define TR_MAX_REPLICAS_CFG 16
#define F(field)            offsetof(struct tr_broker_config, field)
#define L(field)                                                               \
    (offsetof(struct tr_broker_config, log) +                                  \
     offsetof(struct tr_log_config, field))

/* clang-format off */
static const struct opt opts[] = {
    { "broker.id", OPT_INT32, "0", F(broker_id), -1, INT32_MAX, NULL, 0,
      "Id of this broker in Metadata responses (Kafka's default, -1, asks "
      "for a generated id; a single collector uses 0)." },
    { "listeners", OPT_STRING, "PLAINTEXT://127.0.0.1:9092", F(listeners),
      0, 0, check_listeners, 0,
      "Addresses to listen on, NAME://HOST:PORT,... where NAME is a "
      "security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or a "
      "name mapped in listener.security.protocol.map; an empty host means "
      "all interfaces." },
    { "advertised.listeners", OPT_STRING, NULL, F(advertised_listeners),
      0, 0, check_listeners, 0,
      "Addresses given to clients in Metadata, per listener name, if "
      "different from listeners; a client is given the one of the listener "
      "it connected to." },
    { "listener.security.protocol.map", OPT_STRING, NULL,
      F(listener_security_protocol_map), 0, 0, check_protocol_map, 0,
      "NAME:PROTOCOL,... for listener names that are not protocol names, "
      "e.g. INTERNAL:PLAINTEXT,EXTERNAL:SSL." },
    { "ssl.keystore.type", OPT_STRING, "PEM", F(ssl_keystore_type), 0, 0,
      check_pem, 0, "Format of ssl.keystore.location; only PEM." },
    { "ssl.keystore.location", OPT_STRING, NULL, F(ssl_keystore_location),
      0, 0, NULL, 0,
      "PEM file with the server's private key and certificate chain; "
      "required by SSL and SASL_SSL listeners; read again on SIGHUP." },
    { "ssl.key.password", OPT_STRING, NULL, F(ssl_key_password), 0, 0, NULL,
      0, "Password of an encrypted private key in the keystore." },
    { "ssl.truststore.type", OPT_STRING, "PEM", F(ssl_truststore_type), 0, 0,
      check_pem, 0, "Format of ssl.truststore.location; only PEM." },
    { "ssl.truststore.location", OPT_STRING, NULL,
      F(ssl_truststore_location), 0, 0, NULL, 0,
      "PEM file of the CA certificates client certificates are checked "
      "against (mutual TLS); read again on SIGHUP." },
    { "ssl.client.auth", OPT_STRING, "none", F(ssl_client_auth), 0, 0,
      check_client_auth, 0,
      "Client certificates: none, requested (checked if sent) or required; "
      "the principal is then User: and the certificate's subject." },
    { "ssl.principal.mapping.rules", OPT_STRING, "DEFAULT",
      F(ssl_principal_mapping_rules), 0, 0, check_principal_rules, 0,
      "How a client certificate's subject becomes the principal's name: "
      "DEFAULT or RULE:regex/replacement/[L|U], comma separated, the first "
      "match deciding; a subject no rule matches is refused." },
    { "ssl.enabled.protocols", OPT_STRING, "TLSv1.2,TLSv1.3",
      F(ssl_enabled_protocols), 0, 0, check_tls_protocols, 0,
      "TLS versions accepted (TLSv1.2, TLSv1.3)." },
    { "ssl.cipher.suites", OPT_STRING, NULL, F(ssl_cipher_suites), 0, 0,
      NULL, 0,
      "Cipher suites allowed, IANA or OpenSSL names, comma separated; "
      "unset: OpenSSL's defaults." },
    { "sasl.enabled.mechanisms", OPT_STRING,
      "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN", F(sasl_enabled_mechanisms), 0, 0,
      check_sasl_mechanisms, 0,
      "SASL mechanisms offered on SASL_PLAINTEXT and SASL_SSL listeners: "
      "SCRAM-SHA-256, SCRAM-SHA-512, PLAIN (Kafka's default, GSSAPI, is "
      "not supported)." },
    { "sasl.server.max.receive.size", OPT_INT32, "524288",
      F(sasl_server_max_receive_size), 1, INT32_MAX, NULL, 0,
      "Largest request accepted on a SASL listener before the client has "
      "authenticated; a larger one closes the connection." },
    { "connections.max.reauth.ms", OPT_INT64, "0",
      F(connections_max_reauth_ms), 0, INT64_MAX, NULL, 0,
      "Lifetime of a SASL session: clients are told to authenticate again "
      "before it ends, and a connection past it is closed; 0: unlimited." },
    { "authorizer.class.name", OPT_STRING, "", F(authorizer_class_name),
      0, 0, check_authorizer, 0,
      "Authorizer checking every request against ACLs: "
      "kafka.security.authorizer.AclAuthorizer (or "
      "kafka.security.auth.SimpleAclAuthorizer, "
      "org.apache.kafka.metadata.authorizer.StandardAuthorizer, the same "
      "here); empty: no authorization." },
    { "super.users", OPT_STRING, NULL, F(super_users), 0, 0, NULL, 0,
      "Principals allowed everything by the authorizer, separated by ';' "
      "(User:admin;User:CN=broker,O=Acme)." },
    { "allow.everyone.if.no.acl.found", OPT_BOOL, "false",
      F(allow_everyone_if_no_acl_found), 0, 0, NULL, 0,
      "With an authorizer: allow any principal on a resource that has no "
      "ACL at all." },
    { "log.dirs", OPT_STRING, "./var/collector", F(log_dirs),
      0, 0, check_log_dirs, 0,
      "Directory holding the partition logs (one directory only)." },
    { "num.partitions", OPT_INT32, "1", F(num_partitions), 1, INT32_MAX,
      NULL, 0, "Partitions of an auto-created topic." },
    { "auto.create.topics.enable", OPT_BOOL, "true", F(auto_create_topics),
      0, 0, NULL, 0,
      "Create a topic when a client asks for metadata of an unknown one." },
    { "log.segment.bytes", OPT_INT64, "1073741824", L(segment_bytes),
      14, INT32_MAX, NULL, 0,
      "Size at which a partition rolls to a new segment file." },
    { "log.roll.ms", OPT_INT64, NULL, F(log_roll_ms_), 1, INT64_MAX, NULL, 0,
      "Age at which a segment is rolled; overrides log.roll.hours." },
    { "log.roll.hours", OPT_INT32, "168", F(log_roll_hours_), 1, INT32_MAX,
      NULL, 0, "Age at which a segment is rolled, in hours." },
    { "log.index.interval.bytes", OPT_INT32, "4096",
      L(index_interval_bytes), 0, INT32_MAX, NULL, 0,
      "Bytes of records between two offset-index entries." },
    { "log.index.size.max.bytes", OPT_INT32, "10485760",
      L(segment_index_bytes), 4, INT32_MAX, NULL, 0,
      "Size preallocated for each offset index; a full index rolls the "
      "segment." },
    { "log.flush.interval.messages", OPT_INT64, "9223372036854775807",
      L(flush_messages), 1, INT64_MAX, NULL, 0,
      "Records appended to a partition before it is fsynced." },
    { "log.flush.interval.ms", OPT_INT64, "9223372036854775807",
      L(flush_ms), 0, INT64_MAX, NULL, 0,
      "Time a record may stay unsynced (Kafka leaves this unset, which means "
      "the same: never by time)." },
    { "message.max.bytes", OPT_INT32, "1000012", L(max_message_bytes),
      0, INT32_MAX, NULL, 0,
      "Largest record batch a producer may send." },
    { "log.retention.ms", OPT_INT64, NULL, F(log_retention_ms_),
      -1, INT64_MAX, NULL, 0,
      "Age after which segments are deleted; -1 keeps them forever. "
      "Overrides log.retention.minutes and log.retention.hours." },
    { "log.retention.minutes", OPT_INT32, NULL, F(log_retention_minutes_),
      -1, INT32_MAX, NULL, 0,
      "Retention in minutes; overrides log.retention.hours." },
    { "log.retention.hours", OPT_INT32, "168", F(log_retention_hours_),
      -1, INT32_MAX, NULL, 0, "Retention in hours." },
    { "log.retention.bytes", OPT_INT64, "-1", L(retention_bytes),
      -1, INT64_MAX, NULL, 0,
      "Size a partition may reach before old segments are deleted; -1 means "
      "no limit." },
    { "log.retention.check.interval.ms", OPT_INT64, "300000",
      L(retention_check_interval_ms), 1, INT64_MAX, NULL, 0,
      "How often segments past retention are looked for and deleted." },
    { "log.segment.delete.delay.ms", OPT_INT64, "60000",
      L(segment_delete_delay_ms), 0, INT64_MAX, NULL, 0,
      "A deleted segment is renamed to .deleted at once and unlinked this "
      "long after; 0 unlinks at once." },
    { "log.cleaner.enable", OPT_BOOL, "true", L(cleaner_enable), 0, 0, NULL,
      0, "Run the log cleaner, which compacts topics with "
      "cleanup.policy=compact." },
    { "log.cleaner.threads", OPT_INT32, "1", L(cleaner_threads), 1, 64,
      NULL, 0, "Log cleaner threads." },
    { "log.cleaner.dedupe.buffer.size", OPT_INT64, "134217728",
      L(cleaner_dedupe_buffer_size), 1024, INT64_MAX, NULL, 0,
      "Memory for the cleaners' key maps (24 bytes a key), shared by the "
      "threads; allocated per cleaning, only as large as the keys need." },
    { "log.cleaner.backoff.ms", OPT_INT64, "15000", L(cleaner_backoff_ms),
      0, INT64_MAX, NULL, 0,
      "Pause of a cleaner thread when no log needs cleaning." },
    { "log.cleaner.min.cleanable.ratio", OPT_DOUBLE, "0.5",
      L(min_cleanable_ratio), 0, 1, NULL, 0,
      "Default min.cleanable.dirty.ratio: the share of dirty bytes at which "
      "a log is cleaned." },
    { "log.cleaner.delete.retention.ms", OPT_INT64, "86400000",
      L(delete_retention_ms), 0, INT64_MAX, NULL, 0,
      "Default delete.retention.ms: how long tombstones are kept." },
    { "log.cleaner.min.compaction.lag.ms", OPT_INT64, "0",
      L(min_compaction_lag_ms), 0, INT64_MAX, NULL, 0,
      "Default min.compaction.lag.ms: records younger than this are not "
      "compacted." },
    { "socket.request.max.bytes", OPT_INT32, "104857600",
      F(socket_request_max_bytes), 1, INT32_MAX, NULL, 0,
      "Largest request accepted; a bigger frame closes the connection." },
    { "num.network.threads", OPT_INT32, "0", F(num_network_threads),
      0, 1024, NULL, 0,
      "Network threads; 0 means one per online CPU (Kafka's default is 3)." },
    { "num.io.threads", OPT_INT32, "8", F(num_io_threads), 1, 1024, NULL,
      OPT_UNUSED,
      "Accepted for compatibility: requests are handled on the network "
      "threads, so this has no effect." },
    { "connections.max.idle.ms", OPT_INT64, "600000",
      F(connections_max_idle_ms), -1, INT64_MAX, NULL, 0,
      "Idle connections are closed after this long; -1 never." },
    { "tributary.socket.write.timeout.ms", OPT_INT64, "30000",
      F(socket_write_timeout_ms), 1, INT64_MAX, NULL, 0,
      "A client that does not read its responses for this long is "
      "disconnected." },
    { "max.connections", OPT_INT32, "10000", F(max_connections),
      1, INT32_MAX, NULL, 0,
      "Connections open at once; while there are this many, new ones wait "
      "in the listen queue until one closes, as in Kafka (whose default "
      "is unlimited)." },
    { "max.connections.per.ip", OPT_INT32, "2147483647",
      F(max_connections_per_ip), 0, INT32_MAX, NULL, 0,
      "Connections open at once from one IP address; more are closed as "
      "soon as they are accepted." },
    { "max.connections.per.ip.overrides", OPT_STRING, NULL,
      F(max_connections_per_ip_overrides), 0, 0, check_ip_overrides, 0,
      "Per-address exceptions to max.connections.per.ip, HOST:COUNT,... "
      "(host names are resolved at start-up), e.g. "
      "host1:100,127.0.0.1:200." },
    { "quota.window.num", OPT_INT32, "11", F(quota_window_num), 1, 1000,
      NULL, 0,
      "Samples a client quota's rate is measured over." },
    { "quota.window.size.seconds", OPT_INT32, "1",
      F(quota_window_size_seconds), 1, 3600, NULL, 0,
      "Length of one client quota sample, in seconds." },
    { "max.topics.per.principal", OPT_INT32, "2147483647",
      F(max_topics_per_principal), 0, INT32_MAX, NULL, 0,
      "Topics one principal may create (CreateTopics and auto-creation) "
      "while this collector runs; beyond it CreateTopics answers "
      "POLICY_VIOLATION. Not a Kafka setting." },
    { "max.groups.per.principal", OPT_INT32, "2147483647",
      F(max_groups_per_principal), 0, INT32_MAX, NULL, 0,
      "Consumer groups one principal may create on this coordinator while "
      "it runs; beyond it the request answers GROUP_MAX_SIZE_REACHED. Not "
      "a Kafka setting." },
    { "default.replication.factor", OPT_INT32, "1",
      F(default_replication_factor), 1, INT32_MAX, NULL, 0,
      "Replication factor of auto-created topics; a single collector can "
      "only honour 1." },
    { "offsets.topic.replication.factor", OPT_INT32, "1",
      F(offsets_topic_replication_factor), 1, INT16_MAX, NULL, 0,
      "Replication factor of the consumer-offsets topic (Kafka's default is "
      "3; a single collector can only honour 1)." },
    { "zookeeper.connect", OPT_STRING, NULL, F(zookeeper_connect), 0, 0,
      NULL, 0,
      "ZooKeeper hosts, with an optional chroot (host:2181/tributary); set, "
      "the collector joins a cluster, unset it runs alone." },
    { "zookeeper.session.timeout.ms", OPT_INT64, "18000",
      F(zookeeper_session_timeout_ms), 1000, INT32_MAX, NULL, 0,
      "A broker silent this long loses its session and its leaderships." },
    { "zookeeper.connection.timeout.ms", OPT_INT64, "18000",
      F(zookeeper_connection_timeout_ms), 100, INT32_MAX, NULL, 0,
      "How long start-up waits for ZooKeeper." },
    { "broker.rack", OPT_STRING, NULL, F(broker_rack), 0, 0, NULL, 0,
      "Rack of this broker, given to clients and used to spread replicas." },
    { "reserved.broker.max.id", OPT_INT32, "1000", F(reserved_broker_max_id),
      0, INT32_MAX - 1, NULL, 0,
      "Highest broker.id a cluster member may be given; broker.id=-1 gets "
      "a generated id above it." },
    { "min.insync.replicas", OPT_INT32, "1", L(min_insync_replicas), 1,
      TR_MAX_REPLICAS_CFG, NULL, 0,
      "acks=all produce needs this many in-sync replicas, else "
      "NOT_ENOUGH_REPLICAS (the default of the topic config of that "
      "name)." },
    { "replica.lag.time.max.ms", OPT_INT64, "30000",
      F(replica_lag_time_max_ms), 100, INT64_MAX, NULL, 0,
      "A follower not caught up for this long leaves the ISR." },
    { "replica.fetch.max.bytes", OPT_INT32, "1048576",
      F(replica_fetch_max_bytes), 1024, INT32_MAX, NULL, 0,
      "Bytes a follower asks for per partition in one fetch." },
    { "replica.fetch.wait.max.ms", OPT_INT32, "500",
      F(replica_fetch_wait_max_ms), 1, INT32_MAX, NULL, 0,
      "How long a follower's fetch waits at the leader for new records." },
    { "num.replica.fetchers", OPT_INT32, "1", F(num_replica_fetchers), 1, 64,
      NULL, OPT_UNUSED, "Fetcher threads per source broker (one is used)." },
    { "unclean.leader.election.enable", OPT_BOOL, "false",
      F(unclean_leader_election), 0, 0, NULL, 0,
      "Let a replica outside the ISR lead when no ISR member is alive "
      "(availability over durability)." },
    { "controlled.shutdown.enable", OPT_BOOL, "true",
      F(controlled_shutdown_enable), 0, 0, NULL, 0,
      "On SIGTERM, hand leaderships over before stopping." },
    { "auto.leader.rebalance.enable", OPT_BOOL, "true",
      F(auto_leader_rebalance_enable), 0, 0, NULL, 0,
      "The controller gives partitions back to their preferred leader." },
    { "leader.imbalance.check.interval.seconds", OPT_INT64, "300",
      F(leader_imbalance_check_interval_seconds), 1, INT32_MAX, NULL, 0,
      "How often the controller checks leaders against preferences." },
    { "leader.imbalance.per.broker.percentage", OPT_INT32, "10",
      F(leader_imbalance_per_broker_pct), 0, 100, NULL, 0,
      "Share of a broker's preferred partitions led elsewhere that "
      "triggers moving them back." },
    { "leader.replication.throttled.rate", OPT_INT64, "9223372036854775807",
      F(leader_replication_throttled_rate), 1, INT64_MAX, NULL, 0,
      "Bytes/s a leader serves to replicas catching up (out of the ISR); "
      "changeable at run time." },
    { "follower.replication.throttled.rate", OPT_INT64,
      "9223372036854775807", F(follower_replication_throttled_rate), 1,
      INT64_MAX, NULL, 0,
      "Bytes/s a follower copies for replicas catching up (out of the "
      "ISR); changeable at run time." },
    { "inter.broker.listener.name", OPT_STRING, NULL,
      F(inter_broker_listener_name), 0, 0, NULL, 0,
      "Listener brokers use between themselves (replication, the "
      "controller's requests), of any security protocol; unset: the "
      "listener named by security.inter.broker.protocol if set, else the "
      "first listener. Not together with security.inter.broker.protocol." },
    { "security.inter.broker.protocol", OPT_STRING, "PLAINTEXT",
      F(security_inter_broker_protocol), 0, 0, check_protocol, 0,
      "Kafka's other way to pick the inter-broker listener: the one whose "
      "name is this protocol. Not together with inter.broker.listener.name." },
    { "sasl.mechanism.inter.broker.protocol", OPT_STRING, "SCRAM-SHA-256",
      F(sasl_mechanism_inter_broker_protocol), 0, 0, check_sasl_mechanism, 0,
      "SASL mechanism brokers log in to each other with on a SASL "
      "inter-broker listener (Kafka's default, GSSAPI, is not supported); "
      "the broker's own user comes from listener.name.<listener>."
      "<mechanism>.sasl.jaas.config." },
    { "ssl.endpoint.identification.algorithm", OPT_STRING, "https",
      F(ssl_endpoint_identification_algorithm), 0, 0,
      check_endpoint_identification, 0,
      "https: a broker connecting to another over TLS checks that the "
      "peer's certificate names the host it connects to; empty: no check." },
    { "offsets.topic.num.partitions", OPT_INT32, "50",
      F(offsets_topic_num_partitions), 1, 10000, NULL, 0,
      "Partitions of __consumer_offsets, used when it is created; an "
      "existing topic keeps its count." },
    { "transaction.state.log.num.partitions", OPT_INT32, "50",
      F(transaction_state_log_num_partitions), 1, 10000, NULL, 0,
      "Partitions of __transaction_state, used when it is created; an "
      "existing topic keeps its count (it must never change)." },
    { "transaction.state.log.replication.factor", OPT_INT32, "3",
      F(transaction_state_log_replication_factor), 1, INT16_MAX, NULL, 0,
      "Replication factor of __transaction_state in a cluster, capped by "
      "the live brokers when it is created (a single collector uses 1)." },
    { "transaction.state.log.min.isr", OPT_INT32, "2",
      F(transaction_state_log_min_isr), 1, INT16_MAX, NULL, 0,
      "min.insync.replicas of __transaction_state in a cluster (capped by "
      "its replication factor): a coordinator's write needs this many." },
    { "transaction.max.timeout.ms", OPT_INT32, "900000",
      F(transaction_max_timeout_ms), 1, INT32_MAX, NULL, 0,
      "The longest transaction.timeout.ms a producer may ask for; more gets "
      "INVALID_TRANSACTION_TIMEOUT." },
    { "transactional.id.expiration.ms", OPT_INT64, "604800000",
      F(transactional_id_expiration_ms), 1, INT64_MAX, NULL, 0,
      "A transactional id with no transaction open that has been idle this "
      "long is removed." },
    { "transaction.abort.timed.out.transaction.cleanup.interval.ms",
      OPT_INT64, "10000", F(transaction_abort_timed_out_interval_ms), 1,
      INT64_MAX, NULL, 0,
      "How often transactions open longer than their timeout are looked "
      "for and aborted." },
    { "transaction.remove.expired.transaction.cleanup.interval.ms",
      OPT_INT64, "3600000", F(transaction_remove_expired_interval_ms), 1,
      INT64_MAX, NULL, 0,
      "How often expired transactional ids are looked for and removed." },
    { "offsets.retention.minutes", OPT_INT32, "10080",
      F(offsets_retention_minutes), 1, INT32_MAX, NULL, 0,
      "Committed offsets of a group that has been empty this long are "
      "deleted." },
    { "group.min.session.timeout.ms", OPT_INT32, "6000",
      F(group_min_session_timeout_ms), 0, INT32_MAX, NULL, 0,
      "Smallest session timeout a consumer may ask for." },
    { "group.max.session.timeout.ms", OPT_INT32, "1800000",
      F(group_max_session_timeout_ms), 0, INT32_MAX, NULL, 0,
      "Largest session timeout a consumer may ask for." },
    { "group.max.size", OPT_INT32, "2147483647", F(group_max_size), 1,
      INT32_MAX, NULL, 0,
      "Most members a consumer group may have; one more joining gets "
      "GROUP_MAX_SIZE_REACHED." },
    { "group.initial.rebalance.delay.ms", OPT_INT32, "3000",
      F(group_initial_rebalance_delay_ms), 0, INT32_MAX, NULL, 0,
      "Wait before the first rebalance of an empty group, so members "
      "starting together join one generation." },
    { "tributary.log.level", OPT_STRING, "info", F(log_level), 0, 0,
      check_log_level, 0, "Log threshold: error, warn, info or debug." },
    { "http.listener", OPT_STRING, "127.0.0.1:9644", F(http_listener), 0,
      0, check_http_listener, 0,
      "host:port of the HTTP listener for /metrics (Prometheus), /healthz, "
      "/readyz and the web console; https://host:port serves HTTPS with "
      "ssl.keystore.location's certificate; empty: off. When the default "
      "port is taken the collector warns and runs without it; a value set "
      "here that cannot be bound stops start-up." },
    { "http.auth", OPT_STRING, "auto", F(http_auth), 0, 0, check_http_auth,
      0,
      "Credentials for the web console and its JSON API on http.listener: "
      "basic (HTTP Basic, checked against the SCRAM users; pages show "
      "what the user may DESCRIBE), none, or auto (basic when a listener "
      "is SASL_PLAINTEXT or SASL_SSL). /metrics, /healthz and /readyz "
      "stay open." },
    { "agents.silent.after.ms", OPT_INT64, "30000",
      F(agents_silent_after_ms), 1000, INT64_MAX, NULL, 0,
      "An agent whose last status record (in __tributary_agents) is older "
      "than this is shown as silent in /api/agents and the tributary_agents "
      "metric." },
};
/* clang-format on */

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

_Static_assert(sizeof(opts) / sizeof(opts[0]) <=
                   64 * sizeof(((struct tr_broker_config *)0)->set_) /
                       sizeof(uint64_t),
               "struct tr_broker_config.set_ has one bit per row");

static int
is_set(const struct tr_broker_config *cfg, size_t i)
{
    return (cfg->set_[i / 64] >> (i % 64)) & 1;
}

static const struct opt *find_opt(const char *name, size_t *index);

int
tr_broker_config_is_set(const struct tr_broker_config *cfg, const char *name)
{
    size_t i;

    return find_opt(name, &i) != NULL && is_set(cfg, i);
}

static const char *const protocol_names[] = {
    [TR_SEC_PLAINTEXT] = "PLAINTEXT",
    [TR_SEC_SSL] = "SSL",
    [TR_SEC_SASL_PLAINTEXT] = "SASL_PLAINTEXT",
    [TR_SEC_SASL_SSL] = "SASL_SSL",
};

const char *
tr_security_protocol_name(enum tr_security_protocol p)
{
    return protocol_names[p];
}

/* Finds the protocol named by 'len' bytes at 'name', any case. */
static int
protocol_find(const char *name, size_t len, enum tr_security_protocol *out)
{
    size_t i;

    for (i = 0; i < sizeof(protocol_names) / sizeof(protocol_names[0]); i++) {
        if (strlen(protocol_names[i]) == len &&
            strncasecmp(protocol_names[i], name, len) == 0) {
            *out = (enum tr_security_protocol)i;
            return 1;
        }
    }
    return 0;
}

/*
 * Only the syntax: the names are resolved against
 * listener.security.protocol.map when the server starts, since the map
 * may be set after listeners.
 */
static tr_err_t
check_listeners(const char *value, char *reason, size_t reasonlen)
{
    struct tr_listener_spec specs[TR_LISTENERS_MAX];
    size_t n;

    return tr_broker_config_listeners(value, "*", specs, &n, reason, reasonlen);
}

static tr_err_t
check_protocol_map(const char *value, char *reason, size_t reasonlen)
{
    const char *p = value;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        const char *colon;
        enum tr_security_protocol proto;

        if (end == NULL) {
            end = p + strlen(p);
        }
        colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL || colon == p ||
            !protocol_find(colon + 1, (size_t)(end - colon - 1), &proto)) {
            snprintf(reason, reasonlen,
                     "'%.*s' is not NAME:PROTOCOL (PLAINTEXT, SSL, "
                     "SASL_PLAINTEXT or SASL_SSL)",
                     (int)(end - p), p);
            return TR_ERR_CONFIG;
        }
        p = *end ? end + 1 : end;
    }
    return TR_OK;
}

static tr_err_t
check_pem(const char *value, char *reason, size_t reasonlen)
{
    if (strcasecmp(value, "PEM") != 0) {
        snprintf(reason, reasonlen,
                 "store type '%s' is not supported (only PEM)", value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_client_auth(const char *value, char *reason, size_t reasonlen)
{
    if (strcmp(value, "none") != 0 && strcmp(value, "requested") != 0 &&
        strcmp(value, "required") != 0) {
        snprintf(reason, reasonlen, "'%s' is not none, requested or required",
                 value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_principal_rules(const char *value, char *reason, size_t reasonlen)
{
    struct tr_principal_rules *rules;
    tr_err_t err;

    err = tr_principal_rules_parse(value, &rules, reason, reasonlen);
    tr_principal_rules_free(rules);
    return err;
}

static tr_err_t
check_sasl_mechanisms(const char *value, char *reason, size_t reasonlen)
{
    return tr_sasl_check_mechanisms(value, reason, reasonlen) == 0
               ? TR_OK
               : TR_ERR_CONFIG;
}

/* One mechanism a broker can log in with as a SASL client. */
static tr_err_t
check_sasl_mechanism(const char *value, char *reason, size_t reasonlen)
{
    if (strcmp(value, "SCRAM-SHA-256") != 0 &&
        strcmp(value, "SCRAM-SHA-512") != 0 && strcmp(value, "PLAIN") != 0) {
        snprintf(reason, reasonlen,
                 "mechanism '%s' is not supported (SCRAM-SHA-256, "
                 "SCRAM-SHA-512, PLAIN)",
                 value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_authorizer(const char *value, char *reason, size_t reasonlen)
{
    if (value[0] != '\0' && !tr_acl_class_supported(value)) {
        snprintf(reason, reasonlen,
                 "'%s' is not supported (use "
                 "kafka.security.authorizer.AclAuthorizer, or leave it "
                 "empty for no authorization)",
                 value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_protocol(const char *value, char *reason, size_t reasonlen)
{
    enum tr_security_protocol proto;

    if (!protocol_find(value, strlen(value), &proto)) {
        snprintf(reason, reasonlen,
                 "'%s' is not a security protocol (PLAINTEXT, SSL, "
                 "SASL_PLAINTEXT, SASL_SSL)",
                 value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_endpoint_identification(const char *value, char *reason, size_t reasonlen)
{
    if (value[0] != '\0' && strcasecmp(value, "https") != 0) {
        snprintf(reason, reasonlen,
                 "'%s' is not https or empty (no host name check)", value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* TLS 1.0 and 1.1 are refused: Kafka dropped them from its defaults too. */
static tr_err_t
check_tls_protocols(const char *value, char *reason, size_t reasonlen)
{
    const char *p = value;

    if (*p == '\0') {
        snprintf(reason, reasonlen, "no TLS version enabled");
        return TR_ERR_CONFIG;
    }
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len;

        if (end == NULL) {
            end = p + strlen(p);
        }
        while (*p == ' ') {
            p++;
        }
        len = (size_t)(end - p);
        if (!(len == 7 && (strncmp(p, "TLSv1.2", 7) == 0 ||
                           strncmp(p, "TLSv1.3", 7) == 0))) {
            snprintf(reason, reasonlen,
                     "unknown or unsupported TLS version '%.*s' (TLSv1.2, "
                     "TLSv1.3)",
                     (int)len, p);
            return TR_ERR_CONFIG;
        }
        p = *end ? end + 1 : end;
    }
    return TR_OK;
}

static tr_err_t
check_log_dirs(const char *value, char *reason, size_t reasonlen)
{
    if (value[0] == '\0') {
        snprintf(reason, reasonlen, "log.dirs is empty");
        return TR_ERR_CONFIG;
    }
    if (strchr(value, ',') != NULL) {
        snprintf(reason, reasonlen,
                 "log.dirs '%s' lists several directories; the collector "
                 "supports exactly one",
                 value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

static tr_err_t
check_log_level(const char *value, char *reason, size_t reasonlen)
{
    if (tr_log_level_parse(value) < 0) {
        snprintf(reason, reasonlen,
                 "unknown log level '%s' (error, warn, info or debug)", value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* host:port with a port of 0-65535, or empty; resolving waits for the bind. */
static tr_err_t
check_host_port(const char *value, char *reason, size_t reasonlen)
{
    const char *colon = strrchr(value, ':');
    char *end;
    long port;

    if (value[0] == '\0') {
        return TR_OK;
    }
    if (colon == NULL || colon == value || colon[1] == '\0') {
        snprintf(reason, reasonlen, "expected host:port, got '%s'", value);
        return TR_ERR_CONFIG;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port < 0 || port > 65535) {
        snprintf(reason, reasonlen, "'%s': port out of 0-65535", value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

tr_err_t
tr_broker_config_ip_overrides(const char *value,
                              tr_err_t (*cb)(const char *host, int32_t max,
                                             void *arg),
                              void *arg, char *errbuf, size_t errlen)
{
    const char *p = value;
    tr_err_t err;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        const char *colon;
        char host[256], *stop;
        long long n;

        if (end == NULL) {
            end = p + strlen(p);
        }
        /* The last colon: an IPv6 address has its own. */
        for (colon = end; colon > p && colon[-1] != ':'; colon--) {
        }
        colon--;
        errno = 0;
        n = colon > p ? strtoll(colon + 1, &stop, 10) : -1;
        if (colon <= p || colon + 1 == end || stop != end || errno != 0 ||
            n < 0 || n > INT32_MAX || (size_t)(colon - p) >= sizeof(host)) {
            snprintf(errbuf, errlen,
                     "'%.*s' is not HOST:COUNT (a count from 0 to %d)",
                     (int)(end - p), p, INT32_MAX);
            return TR_ERR_CONFIG;
        }
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = '\0';
        if (cb != NULL && (err = cb(host, (int32_t)n, arg)) != TR_OK) {
            snprintf(errbuf, errlen, "cannot resolve '%s'", host);
            return err;
        }
        p = *end ? end + 1 : end;
    }
    return TR_OK;
}

static tr_err_t
check_ip_overrides(const char *value, char *reason, size_t reasonlen)
{
    return tr_broker_config_ip_overrides(value, NULL, NULL, reason, reasonlen);
}

static const struct opt *
find_opt(const char *name, size_t *index)
{
    size_t i;

    for (i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            *index = i;
            return &opts[i];
        }
    }
    return NULL;
}

/*
 * Parses 'value' for row 'i' and stores it. 'value' NULL stores the null
 * default (strings only). Fills 'reason' on a bad value.
 */
static tr_err_t
store(struct tr_broker_config *cfg, size_t i, const char *value, char *reason,
      size_t reasonlen)
{
    const struct opt *o = &opts[i];
    char *field = (char *)cfg + o->offset;
    char *copy = NULL;
    int32_t v32;
    int64_t v64;
    double d;
    char *end;
    int b;
    tr_err_t err = TR_ERR_CONFIG;

    if (value == NULL) {
        /* Null defaults: strings become NULL; integers are tracked unset. */
        if (o->type == OPT_STRING) {
            tr_free(*(char **)field);
            *(char **)field = NULL;
        } else if (o->type == OPT_INT64) {
            *(int64_t *)field = -1;
        } else {
            *(int32_t *)field = -1;
        }
        err = TR_OK;
        goto out;
    }
    switch (o->type) {
    case OPT_INT32:
        err = tr_conf_parse_int32(value, (int32_t)o->min, (int32_t)o->max, &v32,
                                  reason, reasonlen);
        if (err == TR_OK) {
            *(int32_t *)field = v32;
        }
        break;
    case OPT_INT64:
        err =
            tr_conf_parse_int64(value, o->min, o->max, &v64, reason, reasonlen);
        if (err == TR_OK) {
            *(int64_t *)field = v64;
        }
        break;
    case OPT_BOOL:
        err = tr_conf_parse_bool(value, &b, reason, reasonlen);
        if (err == TR_OK) {
            *(int *)field = b;
        }
        break;
    case OPT_STRING:
        if (o->check != NULL) {
            err = o->check(value, reason, reasonlen);
            if (err != TR_OK) {
                goto out;
            }
        }
        copy = tr_strdup(value);
        if (copy == NULL) {
            snprintf(reason, reasonlen, "out of memory");
            err = TR_ERR_NOMEM;
            goto out;
        }
        tr_free(*(char **)field);
        *(char **)field = copy;
        copy = NULL;
        err = TR_OK;
        break;
    case OPT_DOUBLE:
        d = strtod(value, &end);
        if (end == value || *end != '\0' || !(d >= (double)o->min) ||
            d > (double)o->max) {
            snprintf(reason, reasonlen,
                     "expected a number between %" PRId64 " and %" PRId64
                     ", got '%s'",
                     o->min, o->max, value);
            goto out;
        }
        *(double *)field = d;
        err = TR_OK;
        break;
    }
out:
    return err;
}

/* Folds the derived keys into their effective fields; see config.h. */
static void
resolve(struct tr_broker_config *cfg)
{
    size_t i;
    int64_t ms;
    long cpus;

    if (find_opt("log.retention.ms", &i) && is_set(cfg, i)) {
        ms = cfg->log_retention_ms_;
    } else if (find_opt("log.retention.minutes", &i) && is_set(cfg, i)) {
        ms = (int64_t)cfg->log_retention_minutes_ * 60000;
    } else {
        ms = (int64_t)cfg->log_retention_hours_ * 3600000;
    }
    cfg->log.retention_ms = ms < 0 ? -1 : ms;

    if (find_opt("log.roll.ms", &i) && is_set(cfg, i)) {
        cfg->log.segment_ms = cfg->log_roll_ms_;
    } else {
        cfg->log.segment_ms = (int64_t)cfg->log_roll_hours_ * 3600000;
    }

    if (cfg->num_network_threads == 0) {
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->num_network_threads =
            cpus > 0 ? (int32_t)(cpus > 1024 ? 1024 : cpus) : 1;
    }
}

void
tr_broker_config_init(struct tr_broker_config *cfg)
{
    char reason[256];
    size_t i;
    tr_err_t err;

    memset(cfg, 0, sizeof(*cfg));
    /* Log settings without a broker key (cleanup.policy) keep Kafka's. */
    tr_log_config_defaults(&cfg->log);
    for (i = 0; i < NOPTS; i++) {
        err = store(cfg, i, opts[i].def, reason, sizeof(reason));
        /* Only running out of memory can fail on the table's own text. */
        if (err != TR_OK) {
            tr_log_error("config: default of %s: %s", opts[i].name, reason);
        }
    }
    resolve(cfg);
}

void
tr_broker_config_cleanup(struct tr_broker_config *cfg)
{
    size_t i;

    for (i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STRING) {
            char **field = (char **)((char *)cfg + opts[i].offset);

            tr_free(*field);
            *field = NULL;
        }
    }
    for (i = 0; i < cfg->njaas_; i++) {
        tr_free(cfg->jaas_keys_[i]);
        tr_free(cfg->jaas_values_[i]);
    }
    cfg->njaas_ = 0;
}

#define JAAS_PREFIX "listener.name."
#define JAAS_SUFFIX ".sasl.jaas.config"

/* 1 for listener.name.<listener>.<mechanism>.sasl.jaas.config. */
static int
is_jaas_key(const char *key)
{
    size_t len = strlen(key);

    return len > strlen(JAAS_PREFIX) + strlen(JAAS_SUFFIX) + 2 &&
           strncasecmp(key, JAAS_PREFIX, strlen(JAAS_PREFIX)) == 0 &&
           strcasecmp(key + len - strlen(JAAS_SUFFIX), JAAS_SUFFIX) == 0;
}

/*
 * Keeps a per-listener JAAS entry (a later one for the same key wins),
 * after checking its syntax so that a typo fails the start, not the first
 * connection to another broker.
 */
static tr_err_t
store_jaas(struct tr_broker_config *cfg, const char *key, const char *value,
           char *reason, size_t reasonlen)
{
    char module[256], user[256], password[256];
    char *k = NULL, *v = NULL;
    size_t i, slot;
    tr_err_t err;

    err = tr_jaas_parse(value, module, sizeof(module), user, sizeof(user),
                        password, sizeof(password), reason, reasonlen);
    OPENSSL_cleanse(password, sizeof(password));
    if (err != TR_OK) {
        return err;
    }
    k = tr_strdup(key);
    v = tr_strdup(value);
    if (k == NULL || v == NULL) {
        tr_free(k);
        tr_free(v);
        snprintf(reason, reasonlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    for (i = 0; k[i] != '\0'; i++) {
        k[i] = (char)tolower((unsigned char)k[i]);
    }
    for (slot = 0; slot < cfg->njaas_; slot++) {
        if (strcmp(cfg->jaas_keys_[slot], k) == 0) {
            break;
        }
    }
    if (slot == TR_JAAS_MAX) {
        tr_free(k);
        tr_free(v);
        snprintf(reason, reasonlen, "more than %d sasl.jaas.config entries",
                 TR_JAAS_MAX);
        return TR_ERR_CONFIG;
    }
    if (slot == cfg->njaas_) {
        cfg->njaas_++;
    } else {
        tr_free(cfg->jaas_keys_[slot]);
        tr_free(cfg->jaas_values_[slot]);
    }
    cfg->jaas_keys_[slot] = k;
    cfg->jaas_values_[slot] = v;
    return TR_OK;
}

/* Applies one entry; 'where' prefixes warnings ("FILE:LINE" or "--set"). */
static tr_err_t
apply(struct tr_broker_config *cfg, const char *key, const char *value,
      const char *where, int unknown_is_error, char *reason, size_t reasonlen)
{
    const struct opt *o;
    size_t i;
    tr_err_t err;

    o = find_opt(key, &i);
    if (o == NULL && is_jaas_key(key)) {
        return store_jaas(cfg, key, value, reason, reasonlen);
    }
    if (o == NULL) {
        if (unknown_is_error) {
            snprintf(reason, reasonlen, "unknown key");
            return TR_ERR_CONFIG;
        }
        tr_log_warn("%s: unknown key '%s' ignored", where, key);
        return TR_OK;
    }
    err = store(cfg, i, value, reason, reasonlen);
    if (err != TR_OK) {
        return err;
    }
    cfg->set_[i / 64] |= (uint64_t)1 << (i % 64);
    if (o->flags & OPT_UNUSED) {
        tr_log_warn("%s: %s is accepted but has no effect: %s", where, key,
                    o->help);
    }
    return TR_OK;
}

static tr_err_t
file_entry(const char *section, const char *key, const char *value,
           const char *file, int line, char *reason, size_t reasonlen,
           void *arg)
{
    char where[512];

    (void)section;
    snprintf(where, sizeof(where), "%s:%d", file, line);
    return apply(arg, key, value, where, 0, reason, reasonlen);
}

/* [http:// or https://]host:port, or empty. */
static tr_err_t
check_http_listener(const char *value, char *reason, size_t reasonlen)
{
    if (strncmp(value, "https://", 8) == 0) {
        value += 8;
    } else if (strncmp(value, "http://", 7) == 0) {
        value += 7;
    } else if (strstr(value, "://") != NULL) {
        snprintf(reason, reasonlen, "'%s': the scheme is http or https", value);
        return TR_ERR_CONFIG;
    }
    return check_host_port(value, reason, reasonlen);
}

static tr_err_t
check_http_auth(const char *value, char *reason, size_t reasonlen)
{
    if (strcmp(value, "auto") != 0 && strcmp(value, "basic") != 0 &&
        strcmp(value, "none") != 0) {
        snprintf(reason, reasonlen, "'%s' is not auto, basic or none", value);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

tr_err_t
tr_broker_config_load_file(struct tr_broker_config *cfg, const char *path,
                           char *errbuf, size_t errlen)
{
    tr_err_t err;

    err = tr_conf_parse_file(path, TR_CONF_PROPERTIES, file_entry, cfg, errbuf,
                             errlen);
    resolve(cfg);
    return err;
}

tr_err_t
tr_broker_config_set(struct tr_broker_config *cfg, const char *key_eq_value,
                     char *errbuf, size_t errlen)
{
    char reason[512];
    char *key = NULL;
    const char *eq;
    tr_err_t err = TR_ERR_CONFIG;

    eq = strchr(key_eq_value, '=');
    if (eq == NULL || eq == key_eq_value) {
        snprintf(errbuf, errlen, "--set %s: expected KEY=VALUE", key_eq_value);
        goto out;
    }
    key = tr_strndup(key_eq_value, (size_t)(eq - key_eq_value));
    if (key == NULL) {
        snprintf(errbuf, errlen, "--set: out of memory");
        err = TR_ERR_NOMEM;
        goto out;
    }
    reason[0] = '\0';
    err = apply(cfg, key, eq + 1, "--set", 1, reason, sizeof(reason));
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "--set %s: %s", key, reason);
        goto out;
    }
    resolve(cfg);
    err = TR_OK;
out:
    tr_free(key);
    return err;
}

/* Formats row 'i' of 'cfg' into 'buf'; returns NULL for a null value. */
static const char *
format_value(const struct tr_broker_config *cfg, size_t i, char *buf,
             size_t len)
{
    const struct opt *o = &opts[i];
    const char *field = (const char *)cfg + o->offset;

    if (o->def == NULL && !is_set(cfg, i)) {
        return NULL;
    }
    switch (o->type) {
    case OPT_INT32:
        snprintf(buf, len, "%" PRId32, *(const int32_t *)field);
        break;
    case OPT_INT64:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)field);
        break;
    case OPT_BOOL:
        snprintf(buf, len, "%s", *(const int *)field ? "true" : "false");
        break;
    case OPT_STRING:
        return *(char *const *)field;
    case OPT_DOUBLE:
        snprintf(buf, len, "%g", *(const double *)field);
        break;
    }
    return buf;
}

void
tr_broker_config_describe(const struct tr_broker_config *cfg,
                          void (*cb)(const char *name, const char *value,
                                     int is_default, void *arg),
                          void *arg)
{
    char buf[64];
    size_t i;

    for (i = 0; i < NOPTS; i++) {
        cb(opts[i].name, format_value(cfg, i, buf, sizeof(buf)),
           !is_set(cfg, i), arg);
    }
}

void
tr_broker_config_usage(FILE *out)
{
    size_t i;

    fprintf(out, "Configuration keys (file or --set KEY=VALUE):\n");
    for (i = 0; i < NOPTS; i++) {
        fprintf(out, "  %s (default: %s)%s\n      %s\n", opts[i].name,
                opts[i].def ? opts[i].def : "unset",
                (opts[i].flags & OPT_UNUSED) ? " [accepted, no effect]" : "",
                opts[i].help);
    }
}

/*
 * Parses the entry [start, end) of a listeners list into 'spec' (name
 * upper-cased, protocol not yet resolved).
 */
static tr_err_t
parse_listener(const char *start, const char *end,
               struct tr_listener_spec *spec, char *errbuf, size_t errlen)
{
    const char *sep, *hstart, *hend, *colon;
    char portbuf[16];
    char reason[128];
    int32_t p;
    size_t n, i;
    tr_err_t err = TR_ERR_CONFIG;

    sep = NULL;
    for (hstart = start; hstart + 3 <= end; hstart++) {
        if (memcmp(hstart, "://", 3) == 0) {
            sep = hstart;
            break;
        }
    }
    if (sep == NULL || sep == start) {
        snprintf(errbuf, errlen, "listener '%.*s' is not PROTOCOL://HOST:PORT",
                 (int)(end - start), start);
        goto out;
    }
    n = (size_t)(sep - start);
    if (n >= sizeof(spec->name)) {
        snprintf(errbuf, errlen, "listener name '%.*s' is too long", (int)n,
                 start);
        goto out;
    }
    for (i = 0; i < n; i++) {
        char ch = start[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
            snprintf(errbuf, errlen, "listener name '%.*s' is not valid",
                     (int)n, start);
            goto out;
        }
        spec->name[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    spec->name[n] = '\0';
    hstart = sep + 3;
    if (*hstart == '[') {
        hend = memchr(hstart, ']', (size_t)(end - hstart));
        if (hend == NULL || hend + 1 >= end || hend[1] != ':') {
            snprintf(errbuf, errlen,
                     "listener '%.*s': expected [IPv6]:PORT after ://",
                     (int)(end - start), start);
            goto out;
        }
        colon = hend + 1;
        hstart++;
    } else {
        colon = NULL;
        for (hend = hstart; hend < end; hend++) {
            if (*hend == ':') {
                colon = hend;
            }
        }
        if (colon == NULL) {
            snprintf(errbuf, errlen, "listener '%.*s' has no port",
                     (int)(end - start), start);
            goto out;
        }
        hend = colon;
    }
    n = (size_t)(hend - hstart);
    if (n == 0) {
        snprintf(spec->host, sizeof(spec->host), "0.0.0.0");
    } else if (n >= sizeof(spec->host)) {
        snprintf(errbuf, errlen, "listener host is too long");
        goto out;
    } else {
        memcpy(spec->host, hstart, n);
        spec->host[n] = '\0';
    }
    n = (size_t)(end - colon - 1);
    if (n == 0 || n >= sizeof(portbuf)) {
        snprintf(errbuf, errlen, "listener '%.*s' has no valid port",
                 (int)(end - start), start);
        goto out;
    }
    memcpy(portbuf, colon + 1, n);
    portbuf[n] = '\0';
    if (tr_conf_parse_int32(portbuf, 0, 65535, &p, reason, sizeof(reason)) !=
        TR_OK) {
        snprintf(errbuf, errlen, "listener port: %s", reason);
        goto out;
    }
    spec->port = p;
    err = TR_OK;
out:
    return err;
}

/*
 * Resolves 'spec->name' through 'map' ("NAME:PROTO,..."), else as a
 * protocol name. A NULL map is Kafka's default, the identity.
 */
static tr_err_t
resolve_protocol(struct tr_listener_spec *spec, const char *map, char *errbuf,
                 size_t errlen)
{
    const char *p = map;
    size_t len = strlen(spec->name);

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        const char *colon;

        if (end == NULL) {
            end = p + strlen(p);
        }
        colon = memchr(p, ':', (size_t)(end - p));
        if (colon != NULL && (size_t)(colon - p) == len &&
            strncasecmp(p, spec->name, len) == 0 &&
            protocol_find(colon + 1, (size_t)(end - colon - 1),
                          &spec->protocol)) {
            return TR_OK;
        }
        p = *end ? end + 1 : end;
    }
    if (protocol_find(spec->name, len, &spec->protocol)) {
        return TR_OK;
    }
    snprintf(errbuf, errlen,
             "listener name '%s' is neither a security protocol nor in "
             "listener.security.protocol.map",
             spec->name);
    return TR_ERR_CONFIG;
}

tr_err_t
tr_broker_config_listeners(const char *listeners, const char *protocol_map,
                           struct tr_listener_spec *out, size_t *n,
                           char *errbuf, size_t errlen)
{
    const char *p = listeners;
    size_t i, count = 0;
    tr_err_t err = TR_ERR_CONFIG;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        struct tr_listener_spec *spec;

        if (end == NULL) {
            end = p + strlen(p);
        }
        while (*p == ' ' && p < end) {
            p++;
        }
        if (count == TR_LISTENERS_MAX) {
            snprintf(errbuf, errlen, "more than %d listeners",
                     TR_LISTENERS_MAX);
            goto out;
        }
        spec = &out[count];
        memset(spec, 0, sizeof(*spec));
        err = parse_listener(p, end, spec, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        err = TR_ERR_CONFIG;
        /* "*": syntax only, the map is not known yet. */
        if ((protocol_map == NULL || strcmp(protocol_map, "*") != 0) &&
            resolve_protocol(spec, protocol_map, errbuf, errlen) != TR_OK) {
            goto out;
        }
        for (i = 0; i < count; i++) {
            if (strcmp(out[i].name, spec->name) == 0) {
                snprintf(errbuf, errlen, "listener name '%s' is used twice",
                         spec->name);
                goto out;
            }
            if (spec->port != 0 && out[i].port == spec->port) {
                snprintf(errbuf, errlen, "listener port %d is used twice",
                         spec->port);
                goto out;
            }
        }
        count++;
        p = *end ? end + 1 : end;
    }
    if (count == 0) {
        snprintf(errbuf, errlen, "no listener given");
        goto out;
    }
    *n = count;
    err = TR_OK;
out:
    return err;
}

tr_err_t
tr_broker_config_listener(const char *listeners, char *host, size_t hostlen,
                          int *port, char *errbuf, size_t errlen)
{
    struct tr_listener_spec spec;
    const char *end = strchr(listeners, ',');
    tr_err_t err;

    if (end == NULL) {
        end = listeners + strlen(listeners);
    }
    err = parse_listener(listeners, end, &spec, errbuf, errlen);
    if (err != TR_OK) {
        return err;
    }
    if (strlen(spec.host) >= hostlen) {
        snprintf(errbuf, errlen, "listener host is too long");
        return TR_ERR_CONFIG;
    }
    snprintf(host, hostlen, "%s", spec.host);
    *port = spec.port;
    return TR_OK;
}

tr_err_t
tr_broker_config_inter_broker(const struct tr_broker_config *cfg,
                              const char **name, char *errbuf, size_t errlen)
{
    size_t i;
    int protocol_set =
        find_opt("security.inter.broker.protocol", &i) && is_set(cfg, i);

    if (cfg->inter_broker_listener_name != NULL && protocol_set) {
        snprintf(errbuf, errlen,
                 "inter.broker.listener.name and "
                 "security.inter.broker.protocol are both set; set only one "
                 "(as Kafka requires)");
        return TR_ERR_CONFIG;
    }
    if (cfg->inter_broker_listener_name != NULL) {
        *name = cfg->inter_broker_listener_name;
    } else if (protocol_set) {
        *name = cfg->security_inter_broker_protocol;
    } else {
        *name = NULL;
    }
    return TR_OK;
}

/* A JAAS token: a word, a quoted string, or one of '=' and ';'. */
struct jaas_lexer {
    const char *p;
    char tok[512];
    int kind; /* 'w' word, 'q' quoted, '=', ';', 0 at the end, -1 error */
};

static int
jaas_word_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.' ||
           ch == '$' || ch == '/' || ch == ':' || ch == '+' || ch == '@';
}

static void
jaas_skip(struct jaas_lexer *lx)
{
    for (;;) {
        while (isspace((unsigned char)*lx->p)) {
            lx->p++;
        }
        if (lx->p[0] == '/' && lx->p[1] == '/') {
            while (*lx->p != '\0' && *lx->p != '\n') {
                lx->p++;
            }
        } else if (lx->p[0] == '/' && lx->p[1] == '*') {
            const char *end = strstr(lx->p + 2, "*/");

            lx->p = end != NULL ? end + 2 : lx->p + strlen(lx->p);
        } else {
            return;
        }
    }
}

static int
jaas_next(struct jaas_lexer *lx)
{
    size_t n = 0;

    jaas_skip(lx);
    if (*lx->p == '\0') {
        return lx->kind = 0;
    }
    if (*lx->p == '=' || *lx->p == ';') {
        lx->tok[0] = *lx->p;
        lx->tok[1] = '\0';
        return lx->kind = *lx->p++;
    }
    if (*lx->p == '"') {
        lx->p++;
        while (*lx->p != '"') {
            char ch = *lx->p++;

            if (ch == '\0') {
                snprintf(lx->tok, sizeof(lx->tok), "unterminated quote");
                return lx->kind = -1;
            }
            if (ch == '\\') {
                ch = *lx->p++;
                ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
                if (ch == '\0') {
                    snprintf(lx->tok, sizeof(lx->tok), "unterminated quote");
                    return lx->kind = -1;
                }
            }
            if (n + 1 >= sizeof(lx->tok)) {
                snprintf(lx->tok, sizeof(lx->tok), "value too long");
                return lx->kind = -1;
            }
            lx->tok[n++] = ch;
        }
        lx->p++;
        lx->tok[n] = '\0';
        return lx->kind = 'q';
    }
    while (jaas_word_char(*lx->p)) {
        if (n + 1 >= sizeof(lx->tok)) {
            snprintf(lx->tok, sizeof(lx->tok), "word too long");
            return lx->kind = -1;
        }
        lx->tok[n++] = *lx->p++;
    }
    if (n == 0) {
        snprintf(lx->tok, sizeof(lx->tok), "unexpected character '%c'", *lx->p);
        return lx->kind = -1;
    }
    lx->tok[n] = '\0';
    return lx->kind = 'w';
}

tr_err_t
tr_jaas_parse(const char *text, char *module, size_t modlen, char *user,
              size_t userlen, char *password, size_t passlen, char *errbuf,
              size_t errlen)
{
    struct jaas_lexer lx;
    char key[sizeof(lx.tok)];
    tr_err_t err = TR_ERR_CONFIG;

    memset(&lx, 0, sizeof(lx));
    lx.p = text;
    module[0] = user[0] = password[0] = '\0';
    if (jaas_next(&lx) != 'w') {
        snprintf(errbuf, errlen,
                 "JAAS: expected a login module class, as in "
                 "'org.apache.kafka.common.security.scram.ScramLoginModule "
                 "required username=\"u\" password=\"p\";'");
        goto out;
    }
    snprintf(module, modlen, "%s", lx.tok);
    if (jaas_next(&lx) != 'w' || (strcasecmp(lx.tok, "required") != 0 &&
                                  strcasecmp(lx.tok, "requisite") != 0 &&
                                  strcasecmp(lx.tok, "sufficient") != 0 &&
                                  strcasecmp(lx.tok, "optional") != 0)) {
        snprintf(errbuf, errlen,
                 "JAAS: expected required, requisite, sufficient or optional "
                 "after %s",
                 module);
        goto out;
    }
    while (jaas_next(&lx) == 'w') {
        snprintf(key, sizeof(key), "%s", lx.tok);
        if (jaas_next(&lx) != '=' ||
            (jaas_next(&lx) != 'w' && lx.kind != 'q')) {
            snprintf(errbuf, errlen, "JAAS: option %s: expected %s=\"value\"",
                     key, key);
            goto out;
        }
        if (strcmp(key, "username") == 0) {
            snprintf(user, userlen, "%s", lx.tok);
        } else if (strcmp(key, "password") == 0) {
            snprintf(password, passlen, "%s", lx.tok);
        }
    }
    if (lx.kind == -1) {
        snprintf(errbuf, errlen, "JAAS: %s", lx.tok);
        goto out;
    }
    if (lx.kind != ';') {
        snprintf(errbuf, errlen, "JAAS: the entry must end with ';'");
        goto out;
    }
    if (jaas_next(&lx) != 0) {
        snprintf(errbuf, errlen,
                 "JAAS: one login module only (text after the ';')");
        goto out;
    }
    err = TR_OK;
out:
    OPENSSL_cleanse(lx.tok, sizeof(lx.tok));
    if (err != TR_OK) {
        OPENSSL_cleanse(password, passlen);
    }
    return err;
}

tr_err_t
tr_broker_config_jaas(const struct tr_broker_config *cfg, const char *listener,
                      const char *mechanism, char *user, size_t userlen,
                      char *password, size_t passlen, char *errbuf,
                      size_t errlen)
{
    const char *want = strncmp(mechanism, "SCRAM-", 6) == 0
                           ? "org.apache.kafka.common.security.scram."
                             "ScramLoginModule"
                           : "org.apache.kafka.common.security.plain."
                             "PlainLoginModule";
    char key[256], module[256], reason[256];
    size_t i;

    snprintf(key, sizeof(key), JAAS_PREFIX "%s.%s" JAAS_SUFFIX, listener,
             mechanism);
    for (i = 0; key[i] != '\0'; i++) {
        key[i] = (char)tolower((unsigned char)key[i]);
    }
    for (i = 0; i < cfg->njaas_; i++) {
        if (strcmp(cfg->jaas_keys_[i], key) == 0) {
            break;
        }
    }
    if (i == cfg->njaas_) {
        snprintf(errbuf, errlen,
                 "%s: not set; the broker needs its own %s login to reach "
                 "the other brokers",
                 key, mechanism);
        return TR_ERR_NOT_FOUND;
    }
    if (tr_jaas_parse(cfg->jaas_values_[i], module, sizeof(module), user,
                      userlen, password, passlen, reason,
                      sizeof(reason)) != TR_OK) {
        snprintf(errbuf, errlen, "%s: %s", key, reason);
        return TR_ERR_CONFIG;
    }
    if (strcmp(module, want) != 0) {
        snprintf(errbuf, errlen, "%s: login module %s, but %s needs %s", key,
                 module, mechanism, want);
        return TR_ERR_CONFIG;
    }
    if (user[0] == '\0' || password[0] == '\0') {
        snprintf(errbuf, errlen, "%s: no username or no password option", key);
        OPENSSL_cleanse(password, passlen);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* ------------------------------------------------ for dynamic config */

tr_err_t
tr_broker_config_copy(struct tr_broker_config *dst,
                      const struct tr_broker_config *src)
{
    size_t i;

    memcpy(dst, src, sizeof(*dst));
    for (i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STRING) {
            char **field = (char **)((char *)dst + opts[i].offset);

            *field = NULL;
        }
    }
    for (i = 0; i < src->njaas_; i++) {
        dst->jaas_keys_[i] = NULL;
        dst->jaas_values_[i] = NULL;
    }
    dst->njaas_ = 0;
    for (i = 0; i < NOPTS; i++) {
        char *const *from = (char *const *)((const char *)src + opts[i].offset);
        char **to = (char **)((char *)dst + opts[i].offset);

        if (opts[i].type == OPT_STRING && *from != NULL &&
            (*to = tr_strdup(*from)) == NULL) {
            goto nomem;
        }
    }
    for (i = 0; i < src->njaas_; i++) {
        dst->jaas_keys_[i] = tr_strdup(src->jaas_keys_[i]);
        dst->jaas_values_[i] = tr_strdup(src->jaas_values_[i]);
        dst->njaas_++;
        if (dst->jaas_keys_[i] == NULL || dst->jaas_values_[i] == NULL) {
            goto nomem;
        }
    }
    return TR_OK;
nomem:
    tr_broker_config_cleanup(dst);
    return TR_ERR_NOMEM;
}

int
tr_broker_config_known(const char *name)
{
    size_t i;

    return find_opt(name, &i) != NULL;
}

tr_err_t
tr_broker_config_put(struct tr_broker_config *cfg, const char *key,
                     const char *value, char *reason, size_t reasonlen)
{
    tr_err_t err;

    reason[0] = '\0';
    if (!tr_broker_config_known(key)) {
        snprintf(reason, reasonlen, "unknown broker config");
        return TR_ERR_CONFIG;
    }
    err = apply(cfg, key, value, "dynamic config", 1, reason, reasonlen);
    if (err == TR_OK) {
        resolve(cfg);
    }
    return err;
}
