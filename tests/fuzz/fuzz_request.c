/*
 * fuzz_request -- libFuzzer target for the collector's request handlers.
 *
 * Input: [api_key int16][api_version int16][body...], big-endian, the
 * request header's other fields left out. The target runs the real handler
 * of every served API and version, as server.c's handle_frame does, against
 * one single-collector state (topics, groups, transactions, producer ids,
 * client quotas, per-principal limits) in a temporary
 * log directory made once per process. No sockets: the response goes to a
 * tr_buf and is dropped; a parked request (long-poll Fetch, acks=all
 * Produce, a join waiting for the rebalance) is dropped too.
 *
 * The state persists across inputs, as a server's does, so a finding may
 * need the inputs run before it: libFuzzer's crash file is replayed first,
 * then the corpus if it does not reproduce alone.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "api.h"
#include "broker.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "coordinator.h"
#include "groups.h"
#include "log.h"
#include "pidgen.h"
#include "plimits.h"
#include "proto.h"
#include "quota.h"
#include "topics.h"
#include "waits.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The state one collector would hold; built once, never freed. */
struct fuzz_state {
    struct tr_broker_config cfg;
    struct tr_broker broker;
    struct event_base *base;
    struct event *wake;
    struct tr_waiter *waiter;
    struct tr_buf out;
};

static struct fuzz_state *fs;
static char state_dir[] = "/tmp/tr-fuzz-request-XXXXXX";

/*
 * Stands in for server.c's sendfile path: the bytes would follow the
 * response; here the descriptor is only closed, as the server does once
 * they are sent.
 */
tr_err_t
tr_request_add_file(struct tr_request *req, int fd, off_t pos, size_t len)
{
    (void)req;
    (void)pos;
    (void)len;
    close(fd);
    return TR_OK;
}

/* As main.c wires it: a group gone frees its creator's slot. */
static void
group_removed(void *arg, const char *group_id)
{
    tr_limits_release(arg, TR_LIMIT_GROUPS, group_id);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0; /* remove what can be removed */
}

/* The log directory goes with the process (libFuzzer exits through exit). */
static void
remove_state(void)
{
    (void)nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_request: %s: %s\n", what, why);
    exit(1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char kv[128], errbuf[512];
    struct tr_groups_config gcfg;
    struct tr_txn_config tcfg;
    struct rlimit rl;
    const char *dir;
    int devnull;

    (void)argc;
    (void)argv;
    /*
     * Every partition holds descriptors; a CreateTopics asking for
     * thousands of them must fail (as it would on a real host at its
     * limit) instead of filling the disk for the rest of the run.
     */
    rl.rlim_cur = rl.rlim_max = 512;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    devnull = open("/dev/null", O_WRONLY);
    /* Info and warnings are formatted (escaping included), not shown. */
    tr_log_init(TR_LOG_INFO, devnull >= 0 ? devnull : 2);

    fs = calloc(1, sizeof(*fs));
    dir = mkdtemp(state_dir);
    if (fs == NULL || dir == NULL) {
        die("set-up", "cannot make the state directory");
    }
    atexit(remove_state);
    tr_broker_config_init(&fs->cfg);
    snprintf(kv, sizeof(kv), "log.dirs=%s", dir);
    if (tr_broker_config_set(&fs->cfg, kv, errbuf, sizeof(errbuf)) != TR_OK ||
        tr_broker_config_set(&fs->cfg, "group.initial.rebalance.delay.ms=0",
                             errbuf, sizeof(errbuf)) != TR_OK) {
        die("config", errbuf);
    }
    if (tr_topics_open(fs->cfg.log_dirs, &fs->cfg.log, &fs->broker.topics,
                       errbuf, sizeof(errbuf)) != TR_OK) {
        die("topics", errbuf);
    }
    if (tr_pidgen_open(fs->cfg.log_dirs, &fs->broker.pids, errbuf,
                       sizeof(errbuf)) != TR_OK) {
        die("pidgen", errbuf);
    }
    /* Quotas and per-principal limits, so their APIs and checks run. */
    if (tr_quotas_open(fs->cfg.log_dirs, 11, 1000, 1000, &fs->broker.quotas,
                       errbuf, sizeof(errbuf)) != TR_OK) {
        die("quotas", errbuf);
    }
    fs->broker.limits = tr_limits_new(1000, 1000);
    fs->broker.waits = tr_waits_new();
    tr_groups_config_defaults(&gcfg);
    gcfg.initial_rebalance_delay_ms = 0;
    gcfg.removed = group_removed;
    gcfg.removed_arg = fs->broker.limits;
    if (fs->broker.waits == NULL ||
        tr_groups_open(fs->broker.topics, fs->broker.waits, NULL, &gcfg,
                       tr_clock_wall_ms(), &fs->broker.groups, errbuf,
                       sizeof(errbuf)) != TR_OK) {
        die("groups", errbuf);
    }
    tr_txn_config_defaults(&tcfg);
    tcfg.state_partitions = 3;
    tcfg.offsets_partitions = gcfg.offsets_partitions;
    if (tr_txn_open(fs->broker.topics, fs->broker.waits, fs->broker.groups,
                    fs->broker.pids, 0, &tcfg, tr_clock_wall_ms(),
                    &fs->broker.txn, errbuf, sizeof(errbuf)) != TR_OK) {
        die("transactions", errbuf);
    }
    fs->broker.cfg = &fs->cfg;
    fs->broker.node_id = 0;
    snprintf(fs->broker.advertised_host, sizeof(fs->broker.advertised_host),
             "127.0.0.1");
    fs->broker.advertised_port = 9092;
    snprintf(fs->broker.cluster_id, sizeof(fs->broker.cluster_id),
             "fuzzfuzzfuzzfuzzfuzzfw");
    fs->base = event_base_new();
    fs->wake = fs->base ? event_new(fs->base, -1, 0, wake_cb, NULL) : NULL;
    fs->waiter = fs->wake ? tr_waiter_new(fs->broker.waits, fs->wake) : NULL;
    if (fs->waiter == NULL) {
        die("waiter", "out of memory");
    }
    tr_buf_init(&fs->out, 64 << 20);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char client_id[] = "fuzz\x7f\xff\n";
    struct tr_request req;
    const struct tr_api *api;
    tr_err_t err;

    if (size < 4) {
        return -1;
    }
    memset(&req, 0, sizeof(req));
    req.hdr.api_key = (int16_t)((data[0] << 8) | data[1]);
    req.hdr.api_version = (int16_t)((data[2] << 8) | data[3]);
    req.hdr.correlation_id = 1;
    req.hdr.client_id.ptr = client_id;
    req.hdr.client_id.len = sizeof(client_id) - 1;
    req.hdr.flexible =
        tr_proto_is_flexible(req.hdr.api_key, req.hdr.api_version);
    api = tr_api_find(req.hdr.api_key);
    if (api == NULL || req.hdr.api_version < api->min_version ||
        req.hdr.api_version > api->max_version) {
        return -1; /* the server closes without calling a handler */
    }
    tr_slice_init(&req.body, data + 4, size - 4);
    tr_buf_reset(&fs->out);
    req.out = &fs->out;
    req.broker = &fs->broker;
    req.peer = "127.0.0.1:40000";
    req.now_ms = tr_clock_wall_ms();
    req.waiter = fs->waiter;
    tr_buf_put_i32(req.out, req.hdr.correlation_id);
    if (req.hdr.flexible && req.hdr.api_key != TR_API_API_VERSIONS) {
        tr_proto_put_tags_v(req.out, 1);
    }
    err = api->handler(&req);
    (void)err;
    if (req.park_ms > 0) {
        /* A parked request is dropped: run its last run, as at deadline. */
        req.final = 1;
        req.park_ms = 0;
        tr_buf_reset(&fs->out);
        (void)api->handler(&req);
    }
    tr_waiter_cancel(fs->waiter);
    if (req.state != NULL && req.state_free != NULL) {
        req.state_free(req.state);
    }
    (void)event_base_loop(fs->base, EVLOOP_NONBLOCK);
    return 0;
}
