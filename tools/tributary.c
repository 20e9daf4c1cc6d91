/*
 * tributary -- the command line: one program, one subcommand per file.
 *
 *   tributary topics  list|describe|create|delete|alter
 *   tributary produce / consume
 *   tributary groups  list|describe|reset-offsets|delete
 *   tributary cluster
 *   tributary export  (the file exporter, also run as a service)
 *   tributary bench   (load generator, tools/bench.c)
 *   tributary users   SASL/SCRAM users
 *   tributary acls    ACLs
 *   tributary configs broker and topic configs (kafka-configs' flags)
 */
#include "build-config.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "log.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "topics", tr_cmd_topics,
      "list, describe, create, delete and alter topics" },
    { "produce", tr_cmd_produce, "send lines from stdin or a file" },
    { "consume", tr_cmd_consume,
      "print records from a topic, by assignment or in a group" },
    { "groups", tr_cmd_groups,
      "list, describe, reset offsets of and delete consumer groups" },
    { "cluster", tr_cmd_cluster,
      "brokers, controller and unhealthy partitions" },
    { "export", tr_cmd_export,
      "land topics as files (lines or JSON lines, gzip) for analytics" },
    { "bench", tr_cmd_bench, "produce, consume and end-to-end load tests" },
    { "users", tr_cmd_users, "list, set and delete SASL/SCRAM users" },
    { "quotas", tr_cmd_quotas, "list, set and delete client quotas" },
    { "transactions", tr_cmd_transactions,
      "list and describe transactional ids" },
    { "acls", tr_cmd_acls, "list, add and remove ACLs (authorization)" },
    { "configs", tr_cmd_configs,
      "describe and change broker (dynamic) and topic configs" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *out)
{
    size_t i;

    fprintf(out, "Usage: tributary COMMAND [options]\n\nCommands:\n");
    for (i = 0; i < NCOMMANDS; i++) {
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(out,
            "\nEvery command takes -b, --bootstrap-server HOST:PORT[,...], "
            "-X KEY=VALUE,\n--command-config FILE and --help.\n"
            "Run 'tributary COMMAND --help' or 'man tributary-COMMAND'.\n"
            "\nExit status: 0 ok, 1 failed, 2 bad usage, 3 bootstrap server "
            "unreachable,\n4 unknown topic or group, 5 not authorized or "
            "authentication failed,\n6 partly failed.\n");
    tr_cli_security_reference(out);
}

int
main(int argc, char **argv)
{
    size_t i;

    /* The client logs each broker outage; the tools say it better. */
    tr_log_init(TR_LOG_ERROR, 2);
    if (argc < 2) {
        usage(stderr);
        return TR_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return TR_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tributary %s\n", PACKAGE_VERSION);
        return TR_EXIT_OK;
    }
    for (i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "tributary: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return TR_EXIT_USAGE;
}
