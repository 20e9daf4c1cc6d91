/*
 * cli -- what every tributary subcommand shares: exit codes, the common
 * options (-b, --json, --timeout, and the security settings -X KEY=VALUE
 * and --command-config FILE under librdkafka's names, clientsec.h), error
 * reporting with a cause and a fix, and connecting the admin client.
 *
 * Exit codes (documented in tributary(1) and docs/cli.md):
 *   0  success
 *   1  the operation failed (a broker error, an I/O error)
 *   2  bad usage (unknown option, missing argument)
 *   3  the bootstrap server could not be reached
 *   4  an unknown topic or group
 *   5  not authorized, or authentication failed (a SASL login refused, the
 *      server's TLS certificate not trusted)
 *   6  partial: some items failed, the others succeeded
 */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "admin.h"
#include "clientsec.h"

#define TR_EXIT_OK          0
#define TR_EXIT_FAIL        1
#define TR_EXIT_USAGE       2
#define TR_EXIT_UNREACHABLE 3
#define TR_EXIT_NOT_FOUND   4
#define TR_EXIT_AUTH        5
#define TR_EXIT_PARTIAL     6

/* Options every subcommand takes. */
struct tr_cli_common {
    const char *bootstrap; /* -b; default $TRIBUTARY_BOOTSTRAP or
                              127.0.0.1:9092 */
    int json;              /* --json */
    int timeout_ms;        /* --timeout, default 10000 */
    const char *cmd;       /* for messages */
    /* -X and --command-config; NULL until one is given (PLAINTEXT). */
    struct tr_clientsec *security;
};

void tr_cli_common_init(struct tr_cli_common *c, const char *cmd);
/* Frees what the options hold. */
void tr_cli_common_cleanup(struct tr_cli_common *c);
/*
 * Checks the security settings and loads their files (once). Returns 0,
 * or prints why and returns the exit code (2). Afterwards c->security
 * (NULL: PLAINTEXT) goes into producer and consumer configs.
 */
int tr_cli_security(const struct tr_cli_common *c);
/* Prints the -X and --command-config lines of a command's --help. */
void tr_cli_security_usage(FILE *out);
/* Prints every security property with its default and meaning. */
void tr_cli_security_reference(FILE *out);

/*
 * The long options every subcommand accepts, to splice into its own
 * getopt_long table (whose short options must include "b:X:"), and the
 * handler for their codes: returns 1 if 'ch' was one of them (stored in
 * 'c'), -1 if its value was bad (the reason printed), 0 otherwise.
 */
#define TR_CLI_COMMON_OPTIONS                                                  \
    { "bootstrap-server", required_argument, NULL, 'b' },                      \
        { "json", no_argument, NULL, 0x1001 },                                 \
        { "timeout", required_argument, NULL, 0x1002 },                        \
        { "command-config", required_argument, NULL, 0x1003 },                 \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }
int tr_cli_common_opt(int ch, const char *arg, struct tr_cli_common *c);

/*
 * For commands whose first word is a subcommand ("topics list ..."): takes
 * that word into *sub and shifts argc/argv onto it, ready for getopt_long.
 * Returns -1 when there is one; otherwise prints 'usage' (to stdout for
 * --help, stderr for anything else) and returns the exit code.
 */
int tr_cli_take_subcommand(int *argc, char ***argv, void (*usage)(FILE *),
                           const char **sub);

/* Prints 'len' bytes of 's' to stdout as a JSON string, quoted. */
void tr_cli_json_string(const char *s, size_t len);

/* Prints "tributary CMD: message" on stderr. */
void tr_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit code for a Kafka error code (UNKNOWN_TOPIC -> 4, ...). */
int tr_cli_exit_for_kerr(int16_t kerr);

/*
 * Connects an admin client; on failure prints the reason and returns NULL
 * with *exit_code set (3 when unreachable).
 */
struct tr_admin *tr_cli_admin(const char *cmd,
                              const struct tr_cli_common *common,
                              int *exit_code);

/* Parses a decimal integer with an optional k/m/g (x1000) suffix. */
int tr_cli_parse_i64(const char *s, int64_t *out);
/* Parses a size with an optional K/M/G (x1024) suffix. */
int tr_cli_parse_size(const char *s, int64_t *out);
/*
 * Parses a time: milliseconds since the epoch (all digits),
 * "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]" or "YYYY-MM-DD HH:MM:SS" in UTC, or
 * "-DURATION" (e.g. -1h, -30m, -10s) relative to now.
 */
int tr_cli_parse_time(const char *s, int64_t now_ms, int64_t *out);

/* The subcommands; each returns its exit code. argv[0] is its name. */
int tr_cmd_topics(int argc, char **argv);
int tr_cmd_produce(int argc, char **argv);
int tr_cmd_consume(int argc, char **argv);
int tr_cmd_groups(int argc, char **argv);
int tr_cmd_cluster(int argc, char **argv);
int tr_cmd_configs(int argc, char **argv);
/*
 * reassign.c: `tributary cluster reassign|rebalance|elect-leaders` (argv[0]
 * is the subcommand); -1 when 'sub' is none of them. The usage text covers
 * every `tributary cluster` form.
 */
int tr_cluster_subcommand(const char *sub, int argc, char **argv);
void tr_cluster_reassign_usage(FILE *out);
int tr_cmd_export(int argc, char **argv);
/* users.c: SASL/SCRAM users (list, set, delete). */
int tr_cmd_users(int argc, char **argv);
/* quotas.c: client quotas (list, set, delete). */
int tr_cmd_quotas(int argc, char **argv);
/* transactions.c: transactional ids (list, describe). */
int tr_cmd_transactions(int argc, char **argv);
/* acls.c: ACLs (list, add, remove), kafka-acls' flags. */
int tr_cmd_acls(int argc, char **argv);

#endif /* TR_CLI_H */
