/*
 * main -- tributary-collector: arguments, configuration, signals, and the
 * order of start-up and shutdown.
 *
 * Start-up: configuration (exit 2 on a bad value), the log directory (its
 * lock, recovery of every partition after an unclean stop), the listener,
 * then the network threads. Shutdown on SIGTERM or SIGINT: in a cluster
 * the controlled shutdown first, while the listeners still serve; then stop
 * accepting, stop the network threads, flush every partition, write the
 * checkpoints and the clean-shutdown marker. A second signal exits at once.
 * SIGHUP reloads the TLS certificates for new connections.
 *
 * The service manager (systemd, Type=notify) hears READY=1 once the
 * listeners accept connections on recovered logs and, in a cluster, once
 * the broker has registered in ZooKeeper; STOPPING=1 at the first signal.
 */
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "broker.h"
#include "build-config.h"
#include "cleaner.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#include "zk.h"
#endif
#include "acl.h"
#include "clock.h"
#include "config.h"
#include "console.h"
#include "coordinator.h"
#include "credentials.h"
#include "dynconf.h"
#include "fleet.h"
#include "groups.h"
#include "log.h"
#include "logring.h"
#include "metrics.h"
#include "notify.h"
#include "pidgen.h"
#include "plimits.h"
#include "quota.h"
#include "server.h"
#include "stats.h"
#include "tls.h"
#include "topics.h"
#include "waits.h"

#define EXIT_CONFIG 2

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary-collector [--config FILE] [--set KEY=VALUE]...\n"
            "\n"
            "Runs a Tributary collector: a broker that stores partitioned "
            "commit logs\n"
            "and speaks the Apache Kafka protocol. With no arguments it runs "
            "a single\n"
            "node on PLAINTEXT://127.0.0.1:9092 with data under "
            "./var/collector.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     read settings from a properties file\n"
            "  -s, --set KEY=VALUE   override one setting (repeatable; applied "
            "after --config)\n"
            "  --add-scram 'MECH=[name=NAME,password=PASSWORD]'\n"
            "                        store a SASL/SCRAM credential in "
            "log.dirs and exit\n"
            "                        (repeatable; also iterations=, salt=, "
            "saltedpassword=)\n"
            "  -h, --help            show this help and the settings\n"
            "  -V, --version         show the version\n"
            "\n"
            "Exit status: 0 after a clean shutdown, 1 on a run-time failure, "
            "2 on a\n"
            "configuration error.\n"
            "\n"
            "Settings (Kafka's names and defaults):\n");
    tr_broker_config_usage(out);
}

static int mkdirs(const char *path);

/*
 * --add-scram (Kafka's kafka-storage format --add-scram): stores each
 * credential in log.dirs's credential store, before or between runs of the
 * collector (a running one does not see the change until it restarts).
 * Returns the exit status.
 */
static int
add_scram(const struct tr_broker_config *cfg, int argc, char **argv)
{
    struct tr_credentials *creds = NULL;
    struct tr_scram_cred cred;
    char user[TR_CREDENTIALS_MAX_USER + 1], errbuf[512];
    int i, status = EXIT_CONFIG;
    tr_err_t err;

    if (mkdirs(cfg->log_dirs) != 0) {
        fprintf(stderr, "tributary-collector: log.dirs: cannot create %s: %s\n",
                cfg->log_dirs, strerror(errno));
        return 1;
    }
    err = tr_credentials_open(cfg->log_dirs, &creds, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        fprintf(stderr, "tributary-collector: %s\n", errbuf);
        return 1;
    }
    for (i = 1; i < argc; i++) {
        const char *arg = NULL;

        if (strcmp(argv[i], "--add-scram") == 0 && i + 1 < argc) {
            arg = argv[++i];
        } else if (strncmp(argv[i], "--add-scram=", 12) == 0) {
            arg = argv[i] + 12;
        } else {
            continue;
        }
        if (tr_credentials_parse_add_scram(arg, user, &cred, errbuf,
                                           sizeof(errbuf)) != TR_OK) {
            fprintf(stderr, "tributary-collector: %s\n", errbuf);
            goto out;
        }
        err = tr_credentials_set(creds, user, &cred);
        if (err != TR_OK) {
            fprintf(stderr,
                    "tributary-collector: cannot store the credential of "
                    "%s: %s\n",
                    user, tr_err_str(err));
            status = 1;
            goto out;
        }
        printf("stored the %s credential of user %s in %s%s\n",
               tr_scram_mech_name(cred.mech), user, cfg->log_dirs,
               TR_CREDENTIALS_FILE);
    }
    status = 0;
out:
    memset(&cred, 0, sizeof(cred));
    tr_credentials_free(creds);
    return status;
}

/* Creates 'path' and its parents, like mkdir -p. */
static int
mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t i, len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];

            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            buf[i] = c;
        }
    }
    return 0;
}

/* Reads the cluster id, or makes and stores a new random one. */
static void
load_cluster_id(const char *log_dir, char *out, size_t outlen)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char path[PATH_MAX];
    unsigned char rnd[22];
    FILE *f;
    size_t i;
    int fd;

    snprintf(path, sizeof(path), "%s/cluster.id", log_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(out, (int)outlen, f) != NULL) {
            out[strcspn(out, "\r\n")] = '\0';
        }
        fclose(f);
        if (out[0] != '\0') {
            return;
        }
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (unsigned char)(tr_clock_mono_us() >> (i % 8));
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    for (i = 0; i < sizeof(rnd) && i + 1 < outlen; i++) {
        out[i] = alphabet[rnd[i] % 64];
    }
    out[i] = '\0';
    f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "%s\n", out);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
    }
}

static void
exit_now(int sig)
{
    _exit(128 + sig);
}

/* What the first SIGTERM or SIGINT sets off. */
struct shutdown_ctx {
    struct event_base *base;
#ifdef HAVE_ZOOKEEPER
    struct tr_cluster *cluster; /* NULL on a single node */
    pthread_t thread;           /* the controlled shutdown, if started */
    int started;
#endif
};

#ifdef HAVE_ZOOKEEPER
/*
 * Hands this broker's leaderships over, then ends the main loop. It runs
 * beside the loop, as Kafka does it before closing its sockets: the
 * listeners still accept and answer meanwhile, so clients keep being served
 * and the controller reaches this broker even over a new connection (a
 * controller elected a moment before has none yet).
 */
static void *
controlled_shutdown_run(void *arg)
{
    struct shutdown_ctx *s = arg;

    tr_cluster_controlled_shutdown(s->cluster);
    event_base_loopexit(s->base, NULL);
    return NULL;
}
#endif

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct shutdown_ctx *s = arg;
    struct sigaction sa;

    (void)what;
    tr_log_info("signal %d: shutting down (a second signal exits at once)",
                (int)sig);
    (void)tr_notify_stopping();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = exit_now;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
#ifdef HAVE_ZOOKEEPER
    if (s->cluster != NULL && !s->started) {
        if (pthread_create(&s->thread, NULL, controlled_shutdown_run, s) == 0) {
            s->started = 1;
            return;
        }
        tr_log_warn("controlled shutdown: no thread for it; stopping now");
    }
#endif
    event_base_loopexit(s->base, NULL);
}

/*
 * SIGHUP: read the TLS keystore and truststore again, so a renewed
 * certificate is served to new connections without a restart; existing
 * connections keep theirs. A bad file is logged and the old ones stay.
 */
static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
    char errbuf[512];
    tr_err_t err;

    (void)tr_notify_reloading();
    err = tr_server_reload_tls(arg, errbuf, sizeof(errbuf));

    if (err == TR_OK) {
        tr_log_info("SIGHUP: TLS keystore and truststore reloaded; new "
                    "connections use them");
    } else if (err == TR_ERR_NOT_FOUND) {
        tr_log_info("SIGHUP: nothing to reload (%s)", errbuf);
    } else {
        tr_log_error("SIGHUP: TLS reload failed, keeping the old "
                     "certificates: %s",
                     errbuf);
    }
    (void)tr_notify_ready(NULL);
}

/* Tells the service manager the collector serves; 'what' for its STATUS. */
static void
notify_ready(const char *what)
{
    if (tr_notify_ready(what) != TR_OK) {
        tr_log_warn("NOTIFY_SOCKET: cannot notify the service manager: %s",
                    strerror(errno));
    }
}

#ifdef HAVE_ZOOKEEPER
/*
 * In a cluster the collector is ready once it has registered in ZooKeeper,
 * which the cluster thread does when its session is up: checked here every
 * 100 ms until then, on the main loop.
 */
struct ready_wait {
    struct tr_cluster *cluster;
    struct event *ev;
    struct tr_stats *stats;
};

static void
ready_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ready_wait *rw = arg;

    if (tr_cluster_registered(rw->cluster)) {
        event_del(rw->ev);
        notify_ready("serving; registered in the cluster");
        tr_stats_set_ready(rw->stats);
    }
}
#endif

/* Lines kept for the console's latest errors (GET /api/errors). */
#define ERROR_LINES 100

/*
 * The console and JSON API on the HTTP listener (http/console.h), with
 * Basic authentication as http.auth says.
 */
static tr_err_t
start_console(struct tr_broker *broker, struct event_base *base,
              struct tr_stats *stats, struct tr_logring *errors,
              struct tr_console **console)
{
    int any_sasl = 0, auth;
    size_t k;

    for (k = 0; k < broker->nadvertised; k++) {
        any_sasl |= broker->advertised[k].protocol == TR_SEC_SASL_PLAINTEXT ||
                    broker->advertised[k].protocol == TR_SEC_SASL_SSL;
    }
    auth = tr_console_auth_wanted(broker->cfg->http_auth, any_sasl);
    if (auth < 0) {
        auth = 1; /* the config check refuses other values */
    }
    if (tr_console_new(broker, base, tr_stats_http(stats), errors, auth,
                       console) != TR_OK) {
        tr_log_error("http.listener: cannot start the console");
        return TR_ERR_NOMEM;
    }
    tr_log_info("http.listener: console and JSON API at / and /api/ (%s)",
                auth ? "HTTP Basic with SCRAM users (http.auth)"
                     : "no authentication (http.auth)");
    return TR_OK;
}

/* Each HTTPS connection: a server-side SSL on the keystore's context. */
static struct bufferevent *
https_bev(struct event_base *base, void *arg)
{
    SSL *ssl = tr_tls_ssl_new(arg);

    if (ssl == NULL) {
        return NULL;
    }
    return bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/*
 * The HTTP listener (http.listener; metrics/stats.h), HTTPS with the
 * ssl.* settings' context for an https:// value. A default port that is
 * taken (say, by another collector on the host) only warns, and the
 * collector runs without metrics; a listener set explicitly must bind.
 */
#ifdef HAVE_ZOOKEEPER
/*
 * Tells the other collectors where this one's HTTP listener answers (for
 * their consoles): the listener's host, or the advertised host when it
 * listens on every address, and the port it got.
 */
static void
publish_http(struct tr_broker *broker, const char *listen, int port, int https)
{
    char host[256], addr[300];
    const char *colon;

    if (strncmp(listen, "https://", 8) == 0) {
        listen += 8;
    } else if (strncmp(listen, "http://", 7) == 0) {
        listen += 7;
    }
    colon = strrchr(listen, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - listen) : 0;

    snprintf(host, sizeof(host), "%.*s", (int)hlen, listen);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
        strcmp(host, "[::]") == 0 || strcmp(host, "::") == 0) {
        snprintf(host, sizeof(host), "%s", broker->advertised_host);
    }
    snprintf(addr, sizeof(addr), "%s%s:%d", https ? "https://" : "", host,
             port);
    tr_cluster_set_http(broker->cluster, addr);
}
#endif

static tr_err_t
start_http(struct tr_broker *broker, struct event_base *base,
           struct tr_logring *errors, struct tr_stats **stats,
           struct tr_tls **tls, struct tr_console **console, int *status)
{
    const char *listen = broker->cfg->http_listener;
    char errbuf[512];
    tr_err_t err;

    if (listen == NULL || listen[0] == '\0') {
        return TR_OK;
    }
    if (strncmp(listen, "https://", 8) == 0) {
        listen += 8;
        err = tr_tls_new(broker->cfg, tls, errbuf, sizeof(errbuf));
        if (err != TR_OK) {
            tr_log_error("http.listener: https: %s", errbuf);
            *status = EXIT_CONFIG;
            return err;
        }
    } else if (strncmp(listen, "http://", 7) == 0) {
        listen += 7;
    }
    err = tr_stats_new(broker, stats);
    if (err != TR_OK) {
        return err;
    }
    err = tr_stats_listen(*stats, base, listen, errbuf, sizeof(errbuf));
    if (err == TR_ERR_EXISTS &&
        !tr_broker_config_is_set(broker->cfg, "http.listener")) {
        tr_log_warn("%s; running without metrics (set http.listener to "
                    "another address, or empty)",
                    errbuf);
        tr_stats_free(*stats);
        *stats = NULL;
        return TR_OK;
    }
    if (err != TR_OK) {
        tr_log_error("%s", errbuf);
        tr_stats_free(*stats);
        *stats = NULL;
        *status = EXIT_CONFIG;
        return err;
    }
    if (*tls != NULL) {
        tr_metrics_set_bevcb(tr_stats_http(*stats), https_bev, *tls);
    }
    tr_log_info("http.listener: /metrics, /healthz and /readyz on port %d%s",
                tr_stats_port(*stats), *tls != NULL ? " (HTTPS)" : "");
    broker->stats = *stats;
    return start_console(broker, base, *stats, errors, console);
}

/* What a dynamic broker config change is pushed to (dynconf.h). */
struct dyn_targets {
    struct tr_broker *broker;
    struct tr_server *server;
    struct tr_cleaner **cleaner;
};

static tr_err_t
dyn_check(void *arg, unsigned what, const struct tr_broker_config *cfg,
          char *errbuf, size_t errlen)
{
    struct dyn_targets *t = arg;

    return (what & TR_DYNCONF_TLS)
               ? tr_server_check_tls(t->server, cfg, errbuf, errlen)
               : TR_OK;
}

static void
dyn_apply(void *arg, unsigned what, const struct tr_broker_config *cfg)
{
    struct dyn_targets *t = arg;
    char errbuf[512];

    if (what & TR_DYNCONF_LOG) {
        tr_topics_set_defaults(t->broker->topics, &cfg->log);
    }
    if ((what & TR_DYNCONF_CONNS) &&
        tr_server_set_limits(t->server, cfg, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_log_error("dynamic config: connection limits unchanged: %s", errbuf);
    }
    if ((what & TR_DYNCONF_TLS) &&
        tr_server_reconfigure_tls(t->server, cfg, errbuf, sizeof(errbuf)) !=
            TR_OK) {
        tr_log_error("dynamic config: TLS unchanged: %s", errbuf);
    }
    if ((what & TR_DYNCONF_CLEANER) && *t->cleaner != NULL) {
        /* Kafka restarts its cleaner threads with the new settings too. */
        tr_cleaner_stop(*t->cleaner);
        *t->cleaner = NULL;
        if (tr_cleaner_start(t->broker->topics, cfg->log.cleaner_threads,
                             cfg->log.cleaner_dedupe_buffer_size,
                             cfg->log.cleaner_backoff_ms,
                             t->cleaner) != TR_OK) {
            tr_log_error("dynamic config: cannot restart the log cleaner");
        }
    }
    tr_log_info("dynamic config applied:%s%s%s%s%s",
                (what & TR_DYNCONF_LOG) ? " log" : "",
                (what & TR_DYNCONF_CLEANER) ? " cleaner" : "",
                (what & TR_DYNCONF_CONNS) ? " connections" : "",
                (what & TR_DYNCONF_TLS) ? " tls" : "",
                (what & TR_DYNCONF_THROTTLE) ? " throttles" : "");
}

/*
 * Dynamic broker configs (dynconf.h): the store over the static settings,
 * with a single collector's persisted sets read from log.dirs; 'cfg'
 * becomes the effective configuration everything starts with.
 */
static tr_err_t
start_dynconf(struct tr_broker_config *cfg, struct tr_topics *topics,
              struct tr_dynconf **out)
{
    struct tr_broker_config eff;
    char errbuf[512];
    tr_err_t err;

    err = tr_dynconf_new(cfg, out);
    if (err == TR_OK && cfg->zookeeper_connect == NULL) {
        err = tr_dynconf_open_dir(*out, cfg->log_dirs, errbuf, sizeof(errbuf));
        if (err != TR_OK) {
            tr_log_error("dynamic broker config: %s", errbuf);
        }
    }
    if (err == TR_OK && (err = tr_dynconf_effective(*out, &eff)) == TR_OK) {
        tr_broker_config_cleanup(cfg);
        *cfg = eff; /* the strings move over */
        tr_topics_set_defaults(topics, &cfg->log);
    }
    return err;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    tr_topics_tick(arg, tr_clock_wall_ms());
}

/* Group timeouts (joins, sessions) are checked more often than the logs. */
static void
group_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_broker *broker = arg;

    tr_groups_tick(broker->groups, tr_clock_wall_ms());
    if (broker->txn != NULL && broker->cfg->zookeeper_connect == NULL) {
        tr_txn_tick(broker->txn, tr_clock_wall_ms());
    }
}

/*
 * In a cluster the transaction coordinator's tick waits for replication
 * and for other brokers (markers), so it runs on a thread of its own rather
 * than on the event loop, every 100 ms until stopped.
 */
struct txn_ticker {
    struct tr_broker *broker;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int running;
};

static void *
txn_ticker_main(void *arg)
{
    struct txn_ticker *t = arg;
    struct timespec until;

    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        pthread_mutex_unlock(&t->lock);
        tr_txn_tick(t->broker->txn, tr_clock_wall_ms());
        pthread_mutex_lock(&t->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        if (!t->stop) {
            (void)pthread_cond_timedwait(&t->cond, &t->lock, &until);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void
txn_ticker_stop(struct txn_ticker *t)
{
    if (!t->running) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->stop = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->running = 0;
}

/* A group left the coordinator: its creator may create another. */
static void
group_removed(void *arg, const char *group_id)
{
    tr_limits_release(arg, TR_LIMIT_GROUPS, group_id);
}

#ifdef HAVE_ZOOKEEPER
/*
 * The group coordinator's questions about __consumer_offsets (struct
 * tr_groups_cluster), answered by the cluster. 'arg' is the broker, whose
 * 'cluster' is NULL until the cluster starts (and again at shutdown): the
 * coordinator then leads nothing and serves no group.
 */
static int32_t
groups_partitions(void *arg)
{
    struct tr_broker *broker = arg;

    return broker->cluster != NULL
               ? tr_cluster_partition_count(broker->cluster, TR_GROUPS_TOPIC)
               : -1;
}

static int16_t
groups_leader_epoch(void *arg, int32_t partition, int acks_all, int32_t *epoch)
{
    struct tr_broker *broker = arg;

    return broker->cluster != NULL
               ? tr_cluster_check_produce(broker->cluster, TR_GROUPS_TOPIC,
                                          partition, acks_all, epoch)
               : TR_KERR_NOT_LEADER_OR_FOLLOWER;
}

static void
groups_appended(void *arg, struct tr_partition *part)
{
    struct tr_broker *broker = arg;

    if (broker->cluster != NULL) {
        tr_cluster_after_append(broker->cluster, part);
    }
}

/*
 * The transaction coordinator's questions (struct tr_txn_cluster), answered
 * by the cluster as the group coordinator's are.
 */
static int32_t
txn_partitions(void *arg, const char *topic)
{
    struct tr_broker *broker = arg;

    return broker->cluster != NULL
               ? tr_cluster_partition_count(broker->cluster, topic)
               : -1;
}

static int16_t
txn_leader_epoch(void *arg, const char *topic, int32_t partition, int acks_all,
                 int32_t *epoch)
{
    struct tr_broker *broker = arg;
    struct tr_pstate st;
    int32_t min_isr = broker->cfg->transaction_state_log_min_isr;
    int16_t kerr;

    if (broker->cluster == NULL) {
        return TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    kerr = tr_cluster_check_produce(broker->cluster, topic, partition, acks_all,
                                    epoch);
    /*
     * The cluster checks the broker's min.insync.replicas; the state topic
     * has its own, transaction.state.log.min.isr (at most its replicas).
     */
    if (kerr == TR_KERR_NONE && acks_all && strcmp(topic, TR_TXN_TOPIC) == 0 &&
        tr_cluster_partition_state(broker->cluster, topic, partition, &st)) {
        if (min_isr > st.nreplicas) {
            min_isr = st.nreplicas;
        }
        if (st.nisr < min_isr) {
            kerr = TR_KERR_NOT_ENOUGH_REPLICAS;
        }
    }
    return kerr;
}

static int16_t
txn_acked(void *arg, const char *topic, int32_t partition, int32_t epoch,
          int64_t last_offset)
{
    struct tr_broker *broker = arg;

    return broker->cluster != NULL
               ? tr_cluster_check_acked(broker->cluster, topic, partition,
                                        epoch, last_offset)
               : TR_KERR_NOT_LEADER_OR_FOLLOWER;
}

static void
txn_send_markers(void *arg, int64_t producer_id, int16_t epoch, int commit,
                 int32_t coordinator_epoch,
                 struct tr_txn_marker_target *targets, size_t n)
{
    struct tr_broker *broker = arg;
    struct tr_rpc_marker m;
    struct tr_rpc_marker_tp *tps = tr_calloc(n + 1, sizeof(*tps));
    size_t i;

    for (i = 0; i < n; i++) {
        targets[i].error = TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (tps == NULL || broker->cluster == NULL) {
        tr_free(tps);
        return;
    }
    for (i = 0; i < n; i++) {
        tps[i].topic = targets[i].topic;
        tps[i].partition = targets[i].partition;
    }
    m.producer_id = producer_id;
    m.producer_epoch = epoch;
    m.commit = commit;
    m.coordinator_epoch = coordinator_epoch;
    m.tps = tps;
    m.ntps = n;
    tr_cluster_write_txn_markers(broker->cluster, &m);
    for (i = 0; i < n; i++) {
        targets[i].error = tps[i].error;
    }
    tr_free(tps);
}

/* The credential store's view of ZooKeeper (security/credentials.h). */
static tr_err_t
users_get(void *arg, const char *sanitized, char **data, size_t *len)
{
    return tr_cluster_user_get(arg, sanitized, data, len);
}

static tr_err_t
users_put(void *arg, const char *sanitized, const char *data, size_t len)
{
    return tr_cluster_user_put(arg, sanitized, data, len);
}

static tr_err_t
users_names(void *arg, char ***names, int *count)
{
    return tr_cluster_user_names(arg, names, count);
}

static void
users_free_names(char **names, int count)
{
    int i;

    for (i = 0; i < count; i++) {
        tr_free(names[i]);
    }
    tr_free(names);
}

/* The quotas' view of ZooKeeper (security/quota.h). */
static tr_err_t
quotas_get(void *arg, const char *path, char **data, size_t *len)
{
    return tr_cluster_config_get(arg, path, data, len);
}

static tr_err_t
quotas_put(void *arg, const char *path, const char *data, size_t len)
{
    return tr_cluster_config_put(arg, path, data, len);
}

static tr_err_t
quotas_children(void *arg, const char *path, char ***names, int *count)
{
    return tr_cluster_config_children(arg, path, names, count);
}

static int16_t
groups_acked(void *arg, int32_t partition, int32_t epoch, int64_t last_offset)
{
    struct tr_broker *broker = arg;

    return broker->cluster != NULL
               ? tr_cluster_check_acked(broker->cluster, TR_GROUPS_TOPIC,
                                        partition, epoch, last_offset)
               : TR_KERR_NOT_LEADER_OR_FOLLOWER;
}
#endif

#ifdef HAVE_ZOOKEEPER
/* Whether brokers talk to each other over PLAINTEXT (as User:ANONYMOUS). */
static int
inter_broker_plaintext(const struct tr_broker *broker)
{
    size_t i;

    for (i = 0; i < broker->nadvertised; i++) {
        if (strcmp(broker->advertised[i].name, broker->inter_broker_listener) ==
            0) {
            return broker->advertised[i].protocol == TR_SEC_PLAINTEXT;
        }
    }
    return 1;
}
#endif

int
main(int argc, char **argv)
{
    struct tr_broker_config cfg;
    struct tr_broker broker;
    struct tr_topics *topics = NULL;
    struct tr_cleaner *cleaner = NULL;
    struct tr_server *server = NULL;
#ifdef HAVE_ZOOKEEPER
    struct tr_cluster *cluster = NULL;
#endif
    struct tr_pidgen *pids = NULL;
    struct tr_waits *waits = NULL;
    struct tr_groups *groups = NULL;
    struct tr_txn_coordinator *txn = NULL;
    struct tr_txn_config tcfg;
#ifdef HAVE_ZOOKEEPER
    struct tr_txn_cluster tcluster;
#endif
    struct tr_groups_config gcfg;
    struct tr_groups_cluster gcluster;
    const struct tr_groups_cluster *gcluster_in = NULL;
    struct shutdown_ctx quit;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL, *tick = NULL;
    struct event *group_tick = NULL;
#ifdef HAVE_ZOOKEEPER
    struct ready_wait ready_wait = { NULL, NULL, NULL };
#endif
    struct txn_ticker ticker = { .lock = PTHREAD_MUTEX_INITIALIZER,
                                 .cond = PTHREAD_COND_INITIALIZER };
    struct tr_credentials *creds = NULL;
    struct tr_quotas *quotas = NULL;
    struct tr_limits *limits = NULL;
    struct tr_acl *acl = NULL;
    struct tr_stats *stats = NULL;
    struct tr_dynconf *dynconf = NULL;
    struct dyn_targets dyn_targets;
    struct tr_console *console = NULL;
    struct tr_tls *http_tls = NULL;
    struct tr_logring *errors = NULL;
    const char *config_path = NULL;
    char errbuf[512];
    int status = 1, i, level, adding_scram = 0;
    tr_err_t err;

    tr_broker_config_init(&cfg);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            printf("tributary-collector %s\n", PACKAGE_VERSION);
            status = 0;
            goto out;
        } else if ((strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) &&
                   i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(arg, "--config=", 9) == 0) {
            config_path = arg + 9;
        } else if ((strcmp(arg, "-s") == 0 || strcmp(arg, "--set") == 0) &&
                   i + 1 < argc) {
            i++; /* applied after the file, below */
        } else if (strncmp(arg, "--set=", 6) == 0) {
            continue;
        } else if (strcmp(arg, "--add-scram") == 0 && i + 1 < argc) {
            i++; /* applied once the settings are known, below */
            adding_scram = 1;
        } else if (strncmp(arg, "--add-scram=", 12) == 0) {
            adding_scram = 1;
        } else {
            fprintf(stderr,
                    "tributary-collector: unknown argument '%s' "
                    "(see --help)\n",
                    arg);
            status = EXIT_CONFIG;
            goto out;
        }
    }
    if (config_path != NULL &&
        tr_broker_config_load_file(&cfg, config_path, errbuf, sizeof(errbuf)) !=
            TR_OK) {
        fprintf(stderr, "tributary-collector: %s\n", errbuf);
        status = EXIT_CONFIG;
        goto out;
    }
    for (i = 1; i < argc; i++) {
        const char *kv = NULL;

        if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--set") == 0) &&
            i + 1 < argc) {
            kv = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            kv = argv[i] + 6;
        } else if ((strcmp(argv[i], "-c") == 0 ||
                    strcmp(argv[i], "--config") == 0 ||
                    strcmp(argv[i], "--add-scram") == 0)) {
            i++;
        }
        if (kv != NULL &&
            tr_broker_config_set(&cfg, kv, errbuf, sizeof(errbuf)) != TR_OK) {
            fprintf(stderr, "tributary-collector: %s\n", errbuf);
            status = EXIT_CONFIG;
            goto out;
        }
    }
    if (adding_scram) {
        status = add_scram(&cfg, argc, argv);
        goto out;
    }
    level = tr_log_level_parse(cfg.log_level ? cfg.log_level : "info");
    if (level < 0) {
        fprintf(stderr,
                "tributary-collector: tributary.log.level: '%s' is not one "
                "of error, warn, info, debug\n",
                cfg.log_level);
        status = EXIT_CONFIG;
        goto out;
    }
    tr_log_init((enum tr_log_level)level, 2);
    /* The console's latest errors; set before any thread logs (log.h). */
    errors = tr_logring_new(ERROR_LINES);
    if (errors != NULL) {
        tr_log_set_hook(tr_logring_hook, errors);
    }
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        tr_log_error("libevent threading support is missing");
        goto out;
    }
    base = event_base_new();
    if (base == NULL) {
        goto out;
    }

    if (mkdirs(cfg.log_dirs) != 0) {
        tr_log_error("log.dirs: cannot create %s: %s", cfg.log_dirs,
                     strerror(errno));
        goto out;
    }
    err =
        tr_topics_open(cfg.log_dirs, &cfg.log, &topics, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("%s", errbuf);
        goto out;
    }
    if (cfg.zookeeper_connect != NULL) {
#ifndef HAVE_ZOOKEEPER
        tr_log_error("zookeeper.connect is set but this collector was built "
                     "without cluster support (install libzookeeper-mt-dev "
                     "and configure again)");
        status = EXIT_CONFIG;
        goto out;
#else
        if (cfg.broker_id > cfg.reserved_broker_max_id) {
            /* Kafka's rule: ids above it are the generated ones. */
            tr_log_error("broker.id=%d is above reserved.broker.max.id=%d",
                         (int)cfg.broker_id, (int)cfg.reserved_broker_max_id);
            status = EXIT_CONFIG;
            goto out;
        }
        if (cfg.broker_id < 0) {
            /*
             * The id given at the first start stays with the data, as in
             * Kafka; only a new log directory takes a new one. Everything
             * from here on (producer ids, the listener's Metadata, the
             * cluster thread) uses the id, so it is settled now.
             */
            err = tr_topics_meta_broker_id(topics, &cfg.broker_id, errbuf,
                                           sizeof(errbuf));
            if (err == TR_ERR_NOT_FOUND) {
                err = tr_cluster_generate_broker_id(&cfg, &cfg.broker_id,
                                                    errbuf, sizeof(errbuf));
                if (err == TR_OK) {
                    tr_log_info("broker.id=-1: generated broker id %d",
                                (int)cfg.broker_id);
                }
            }
            if (err != TR_OK) {
                tr_log_error("%s", errbuf);
                goto out;
            }
        }
#endif
    } else if (cfg.broker_id < 0) {
        cfg.broker_id = 0;
    }
    err = tr_topics_check_broker_id(topics, cfg.broker_id, errbuf,
                                    sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("%s", errbuf);
        status = EXIT_CONFIG;
        goto out;
    }
    if (start_dynconf(&cfg, topics, &dynconf) != TR_OK) {
        status = EXIT_CONFIG;
        goto out;
    }
    err = tr_pidgen_open(cfg.log_dirs, &pids, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("%s", errbuf);
        goto out;
    }
    waits = tr_waits_new();
    if (waits == NULL) {
        goto out;
    }
    tr_groups_config_defaults(&gcfg);
    gcfg.min_session_timeout_ms = cfg.group_min_session_timeout_ms;
    gcfg.max_session_timeout_ms = cfg.group_max_session_timeout_ms;
    gcfg.max_size = cfg.group_max_size;
    limits = tr_limits_new(cfg.max_topics_per_principal,
                           cfg.max_groups_per_principal);
    if (limits == NULL) {
        goto out;
    }
    gcfg.removed = group_removed;
    gcfg.removed_arg = limits;
    gcfg.initial_rebalance_delay_ms = cfg.group_initial_rebalance_delay_ms;
    gcfg.offsets_retention_ms = (int64_t)cfg.offsets_retention_minutes * 60000;
    gcfg.offsets_partitions = cfg.offsets_topic_num_partitions;
    memset(&gcluster, 0, sizeof(gcluster));
#ifdef HAVE_ZOOKEEPER
    if (cfg.zookeeper_connect != NULL) {
        /* Groups follow the leadership of __consumer_offsets. */
        gcluster.arg = &broker;
        gcluster.partitions = groups_partitions;
        gcluster.leader_epoch = groups_leader_epoch;
        gcluster.appended = groups_appended;
        gcluster.acked = groups_acked;
        gcluster_in = &gcluster;
    }
#endif
    err = tr_groups_open(topics, waits, gcluster_in, &gcfg, tr_clock_wall_ms(),
                         &groups, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("consumer groups: %s", errbuf);
        goto out;
    }
    /* The agents' status records (metrics/fleet.h); a cluster: meta.c. */
    if (cfg.zookeeper_connect == NULL &&
        tr_fleet_ensure_topic(topics, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_log_warn("cannot create %s: %s", TR_FLEET_TOPIC, errbuf);
    }

    memset(&broker, 0, sizeof(broker));
    broker.limits = limits;
    broker.cfg = &cfg;
    broker.dynconf = dynconf;
    broker.topics = topics;
    broker.waits = waits;
    broker.pids = pids;
    broker.groups = groups;
    broker.node_id = cfg.broker_id;
    {
        int64_t pid_high_bits = 0;

        tr_txn_config_defaults(&tcfg);
        tcfg.state_partitions = cfg.transaction_state_log_num_partitions;
        tcfg.max_timeout_ms = cfg.transaction_max_timeout_ms;
        tcfg.id_expiration_ms = cfg.transactional_id_expiration_ms;
        tcfg.abort_interval_ms = cfg.transaction_abort_timed_out_interval_ms;
        tcfg.remove_interval_ms = cfg.transaction_remove_expired_interval_ms;
        tcfg.offsets_partitions =
            tr_topics_partition_count(topics, TR_GROUPS_TOPIC);
#ifdef HAVE_ZOOKEEPER
        if (cfg.zookeeper_connect != NULL) {
            /* Ids follow the leadership of __transaction_state. */
            memset(&tcluster, 0, sizeof(tcluster));
            tcluster.arg = &broker;
            tcluster.partitions = txn_partitions;
            tcluster.leader_epoch = txn_leader_epoch;
            tcluster.appended = groups_appended;
            tcluster.acked = txn_acked;
            tcluster.send_markers = txn_send_markers;
            tcfg.cluster = &tcluster;
            /* Unique across the cluster: the broker id in the high bits. */
            pid_high_bits =
                cfg.broker_id >= 0 ? (int64_t)cfg.broker_id << 40 : 0;
        }
#endif
        err = tr_txn_open(topics, waits, groups, pids, pid_high_bits, &tcfg,
                          tr_clock_wall_ms(), &txn, errbuf, sizeof(errbuf));
        if (err != TR_OK) {
            tr_log_error("transaction coordinator: %s", errbuf);
            goto out;
        }
        broker.txn = txn;
    }
    load_cluster_id(cfg.log_dirs, broker.cluster_id, sizeof(broker.cluster_id));
    err = tr_credentials_open(cfg.log_dirs, &creds, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("SASL credentials: %s", errbuf);
        goto out;
    }
    broker.credentials = creds;
    err = tr_quotas_open(cfg.log_dirs, cfg.quota_window_num,
                         (int64_t)cfg.quota_window_size_seconds * 1000,
                         TR_QUOTA_SENSORS_MAX, &quotas, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("client quotas: %s", errbuf);
        goto out;
    }
    broker.quotas = quotas;
    {
        struct tr_acl_config acfg = {
            cfg.authorizer_class_name,
            cfg.super_users,
            cfg.allow_everyone_if_no_acl_found,
            cfg.log_dirs,
        };
        err = tr_acl_open(&acfg, &acl, errbuf, sizeof(errbuf));
        if (err != TR_OK) {
            tr_log_error("authorizer: %s", errbuf);
            if (err == TR_ERR_CONFIG || err == TR_ERR_CORRUPT) {
                status = EXIT_CONFIG;
            }
            goto out;
        }
        broker.acl = acl;
    }
    err = tr_server_new(&broker, base, &server, errbuf, sizeof(errbuf));
    if (err != TR_OK) {
        tr_log_error("%s", errbuf);
        if (err == TR_ERR_CONFIG) {
            status = EXIT_CONFIG;
        }
        goto out;
    }
    /*
     * The broker's own address (ZooKeeper registration, and Metadata when
     * a request has no listener) is the inter-broker listener's.
     */
    {
        const char *ib = NULL;
        size_t k;

        if (tr_broker_config_inter_broker(&cfg, &ib, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            tr_log_error("%s", errbuf);
            status = EXIT_CONFIG;
            goto out;
        }
        broker.nadvertised = tr_server_advertised(server, broker.advertised);
        for (k = 0; k < broker.nadvertised; k++) {
            if (ib == NULL || strcasecmp(ib, broker.advertised[k].name) == 0) {
                break;
            }
        }
        if (k == broker.nadvertised) {
            tr_log_error("%s: no listener called %s",
                         cfg.inter_broker_listener_name != NULL
                             ? "inter.broker.listener.name"
                             : "security.inter.broker.protocol",
                         ib);
            status = EXIT_CONFIG;
            goto out;
        }
        snprintf(broker.advertised_host, sizeof(broker.advertised_host), "%s",
                 broker.advertised[k].host);
        broker.advertised_port = broker.advertised[k].port;
        snprintf(broker.inter_broker_listener,
                 sizeof(broker.inter_broker_listener), "%s",
                 broker.advertised[k].name);
    }

    {
        struct tr_dynconf_hooks hooks = { dyn_check, dyn_apply, &dyn_targets };

        dyn_targets.broker = &broker;
        dyn_targets.server = server;
        dyn_targets.cleaner = &cleaner;
        tr_dynconf_set_hooks(dynconf, &hooks);
    }
    if (start_http(&broker, base, errors, &stats, &http_tls, &console,
                   &status) != TR_OK) {
        goto out;
    }

    memset(&quit, 0, sizeof(quit));
    quit.base = base;
#ifdef HAVE_ZOOKEEPER
    quit.cluster = cluster;
#endif
    sigterm = evsignal_new(base, SIGTERM, signal_cb, &quit);
    sigint = evsignal_new(base, SIGINT, signal_cb, &quit);
    sighup = evsignal_new(base, SIGHUP, sighup_cb, server);
    tick = event_new(base, -1, EV_PERSIST, tick_cb, topics);
    group_tick = event_new(base, -1, EV_PERSIST, group_tick_cb, &broker);
    if (sigterm == NULL || sigint == NULL || sighup == NULL || tick == NULL ||
        group_tick == NULL) {
        goto out;
    }
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);
    event_add(tick, &(struct timeval){ .tv_sec = 1, .tv_usec = 0 });
    event_add(group_tick, &(struct timeval){ .tv_sec = 0, .tv_usec = 100000 });
    if (cfg.log.cleaner_enable &&
        tr_cleaner_start(topics, cfg.log.cleaner_threads,
                         cfg.log.cleaner_dedupe_buffer_size,
                         cfg.log.cleaner_backoff_ms, &cleaner) != TR_OK) {
        tr_log_error("cannot start the log cleaner");
        goto out;
    }
    if (tr_server_start(server) != TR_OK) {
        tr_log_error("cannot start the network threads");
        goto out;
    }
    {
        char what[1024];

        tr_server_describe(server, what, sizeof(what));
        tr_log_info("tributary-collector %s: broker %d listening on port %d "
                    "(advertised %s:%d), %d network threads, log.dirs %s; "
                    "listeners: %s",
                    PACKAGE_VERSION, cfg.broker_id, tr_server_port(server),
                    broker.advertised_host, broker.advertised_port,
                    cfg.num_network_threads, cfg.log_dirs, what);
    }
#ifdef HAVE_ZOOKEEPER
    if (cfg.zookeeper_connect != NULL) {
        err = tr_cluster_start(&broker, &cluster, errbuf, sizeof(errbuf));
        if (err != TR_OK) {
            tr_log_error("%s", errbuf);
            if (err == TR_ERR_CONFIG) {
                status = EXIT_CONFIG;
            }
            goto out;
        }
        broker.cluster = cluster;
        if (stats != NULL) {
            publish_http(&broker, cfg.http_listener, tr_stats_port(stats),
                         http_tls != NULL);
        }
        ticker.broker = &broker;
        if (txn != NULL && pthread_create(&ticker.thread, NULL, txn_ticker_main,
                                          &ticker) == 0) {
            ticker.running = 1;
        }
        {
            /* SCRAM users live in ZooKeeper, shared by every broker. */
            struct tr_credentials_remote remote = {
                users_get, users_put, users_names, users_free_names, cluster,
            };
            tr_credentials_set_remote(creds, &remote);
        }
        {
            /* So do client quotas, changed through /config/changes. */
            struct tr_quotas_remote remote = {
                quotas_get,          quotas_put, quotas_children,
                tr_zk_free_children, cluster,
            };
            tr_quotas_set_remote(quotas, &remote);
            (void)tr_quotas_reload_all(quotas);
        }
        if (acl != NULL && inter_broker_plaintext(&broker) &&
            !tr_acl_super_user(acl, "User:ANONYMOUS")) {
            /* The brokers' own requests come over PLAINTEXT. */
            tr_log_warn("authorizer: User:ANONYMOUS, the principal brokers "
                        "talk to each other as, is not in super.users: "
                        "replication and the controller's requests need "
                        "ClusterAction on the cluster (docs/security.md)");
        }
        if (acl != NULL) {
            /* ACLs too: /kafka-acl, read once the session is up. */
            struct tr_acl_remote remote;
            tr_cluster_acl_remote(cluster, &remote);
            tr_acl_set_remote(acl, &remote);
        }
        ready_wait.cluster = cluster;
        ready_wait.stats = stats;
        ready_wait.ev =
            event_new(base, -1, EV_PERSIST, ready_wait_cb, &ready_wait);
        if (ready_wait.ev == NULL) {
            goto out;
        }
        event_add(ready_wait.ev,
                  &(struct timeval){ .tv_sec = 0, .tv_usec = 100000 });
    } else {
        notify_ready("serving");
        tr_stats_set_ready(stats);
    }
#else
    notify_ready("serving");
    tr_stats_set_ready(stats);
#endif
    event_base_dispatch(base);
#ifdef HAVE_ZOOKEEPER
    if (quit.started) {
        pthread_join(quit.thread, NULL); /* it ended the loop */
    }
#endif
    tr_server_stop(server);
    status = 0;
out:
    /* The coordinator's threads use the cluster: they end first. */
    txn_ticker_stop(&ticker);
    tr_txn_drain(txn);
#ifdef HAVE_ZOOKEEPER
    broker.cluster = NULL;
    tr_cluster_free(cluster); /* its fetchers append to the partitions */
#endif
    if (dynconf != NULL) {
        tr_dynconf_set_hooks(dynconf, NULL); /* nothing calls them now */
    }
    tr_server_free(server);
    broker.stats = NULL;
    tr_stats_free(stats);     /* after the network threads, which count */
    tr_console_free(console); /* after the listener that calls it */
    tr_tls_free(http_tls);    /* likewise */
    tr_cleaner_stop(cleaner); /* before the partitions close */
    tr_txn_close(txn);
    tr_groups_close(groups);
    if (topics != NULL) {
        tr_topics_close(topics);
        if (status == 0) {
            tr_log_info("clean shutdown complete");
        }
    }
    tr_pidgen_close(pids);
    tr_dynconf_free(dynconf);
    tr_waits_free(waits);
    tr_credentials_free(creds);
    tr_acl_free(acl);
    tr_quotas_free(quotas);
    tr_limits_free(limits); /* after the groups, which release into it */
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    if (sigint != NULL) {
        event_free(sigint);
    }
    if (sighup != NULL) {
        event_free(sighup);
    }
    if (tick != NULL) {
        event_free(tick);
    }
    if (group_tick != NULL) {
        event_free(group_tick);
    }
#ifdef HAVE_ZOOKEEPER
    if (ready_wait.ev != NULL) {
        event_free(ready_wait.ev);
    }
#endif
    if (base != NULL) {
        event_base_free(base);
    }
    /* Every thread that logs has stopped. */
    tr_log_set_hook(NULL, NULL);
    tr_logring_free(errors);
    tr_broker_config_cleanup(&cfg);
    return status;
}
