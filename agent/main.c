/*
 * main -- tributary-agent: tails log files and ships their lines to a
 * collector (see docs/agent.md).
 *
 *   tributary-agent --config FILE [--check-config]
 *
 * Signals: SIGHUP reloads the configuration (positions are kept), SIGTERM
 * and SIGINT flush what is in flight, write the registry and exit.
 *
 * Under systemd (Type=notify) the agent sends READY=1 once its inputs are
 * open and the first connection to the collector is under way, RELOADING=1
 * and READY=1 around a SIGHUP reload, and STOPPING=1 at SIGTERM or SIGINT.
 */
#include <errno.h>
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "parse.h"

#define SHUTDOWN_TIMEOUT_MS 10000
/* glibc's own ceiling for the mmap threshold on 64-bit systems. */
#define MMAP_THRESHOLD_MAX (32 << 20)

/*
 * Keeps freed memory for reuse instead of handing it back to the kernel
 * after every request. By default glibc trims the heap (or unmaps) once a
 * megabyte-sized request buffer or batch is freed, and the next one faults
 * every page in again: about one page fault per 4 KiB shipped, 8-12% of
 * the agent's CPU. Memory in flight is bounded by buffer_max_bytes, so
 * what is kept is bounded by a small multiple of it.
 */
static void
keep_freed_memory(int64_t buffer_max_bytes)
{
    int64_t keep = 2 * buffer_max_bytes;

    if (keep < (8 << 20)) {
        keep = 8 << 20;
    }
    if (keep > MMAP_THRESHOLD_MAX) {
        keep = MMAP_THRESHOLD_MAX;
    }
    (void)mallopt(M_MMAP_THRESHOLD, (int)keep);
    (void)mallopt(M_TRIM_THRESHOLD, (int)keep);
}

struct sigctx {
    struct tr_agent *agent;
    const char *path;
};

static void
usage(FILE *out)
{
    fputs("usage: tributary-agent --config FILE [--check-config]\n"
          "       tributary-agent --print-options\n"
          "  --config FILE     agent configuration (INI, see docs/agent.md)\n"
          "  --check-config    validate the configuration and exit\n"
          "  --print-options   print the option reference and exit\n",
          out);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sigctx *ctx = arg;
    char errbuf[1024];
    struct tr_agent_conf *conf = NULL;

    (void)what;
    if (sig == SIGHUP) {
        tr_log_info("SIGHUP: reloading %s", ctx->path);
        (void)tr_notify_reloading();
        if (tr_agent_conf_load(ctx->path, &conf, errbuf, sizeof(errbuf)) !=
                TR_OK ||
            tr_agent_reload(ctx->agent, conf, errbuf, sizeof(errbuf)) !=
                TR_OK) {
            tr_log_error("reload failed, keeping the running configuration: "
                         "%s",
                         errbuf);
        }
        (void)tr_notify_ready(NULL);
        return;
    }
    tr_log_info("signal %d: flushing and exiting", (int)sig);
    (void)tr_notify_stopping();
    tr_agent_shutdown(ctx->agent, SHUTDOWN_TIMEOUT_MS);
}

/* Compiles every pattern, as the agent would, without starting anything. */
static int
check_config(struct tr_agent_conf *conf)
{
    char errbuf[1024];
    for (size_t i = 0; i < conf->ninputs; i++) {
        struct tr_parse *p = NULL;
        if (tr_parse_new(conf->inputs[i], &p, errbuf, sizeof(errbuf)) !=
            TR_OK) {
            fprintf(stderr, "[input %s] %s\n", conf->inputs[i]->name, errbuf);
            return 1;
        }
        tr_parse_free(p);
    }
    printf("configuration ok: %zu inputs\n", conf->ninputs);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    char errbuf[1024];
    struct tr_agent_conf *conf = NULL;
    struct event_base *base = NULL;
    struct tr_agent *agent = NULL;
    struct event *sigs[3] = { NULL, NULL, NULL };
    struct sigctx ctx;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--print-options") == 0) {
            tr_agent_conf_write_reference(1);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    tr_log_init(TR_LOG_INFO, 2);
    if (tr_agent_conf_load(path, &conf, errbuf, sizeof(errbuf)) != TR_OK) {
        fprintf(stderr, "tributary-agent: %s\n", errbuf);
        goto out;
    }
    if (check) {
        rc = check_config(conf);
        goto out;
    }
    int level = tr_log_level_parse(conf->log_level);
    if (level < 0) {
        fprintf(stderr, "tributary-agent: %s: unknown log_level '%s'\n", path,
                conf->log_level);
        goto out;
    }
    tr_log_init((enum tr_log_level)level, 2);
    keep_freed_memory(conf->buffer_max_bytes);
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "tributary-agent: event_base_new failed\n");
        goto out;
    }
    if (tr_agent_new(base, conf, &agent, errbuf, sizeof(errbuf)) != TR_OK) {
        conf = NULL; /* taken by tr_agent_new */
        fprintf(stderr, "tributary-agent: %s\n", errbuf);
        goto out;
    }
    conf = NULL;
    ctx.agent = agent;
    ctx.path = path;
    const int signums[3] = { SIGHUP, SIGTERM, SIGINT };
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(base, signums[i], on_signal, &ctx);
        if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0) {
            fprintf(stderr, "tributary-agent: cannot handle signals\n");
            goto out;
        }
    }
    if (tr_notify_ready("shipping") != TR_OK) {
        tr_log_warn("NOTIFY_SOCKET: cannot notify the service manager: %s",
                    strerror(errno));
    }
    event_base_dispatch(base);
    rc = 0;
out:
    for (int i = 0; i < 3; i++) {
        if (sigs[i] != NULL) {
            event_free(sigs[i]);
        }
    }
    tr_agent_free(agent);
    tr_agent_conf_free(conf);
    if (base != NULL) {
        event_base_free(base);
    }
    return rc;
}
