/*
 * configs -- "tributary configs": describe and change broker and topic
 * configs with kafka-configs' flags, through DescribeConfigs and
 * IncrementalAlterConfigs (AlterConfigs, merged, for an older broker).
 *
 *   tributary configs --entity-type brokers (--entity-name ID |
 *       --entity-default) --describe [--all]
 *   tributary configs --entity-type brokers (--entity-name ID |
 *       --entity-default) --alter [--add-config K=V,...]
 *       [--delete-config K,...]
 *   (and the same with --entity-type topics --entity-name TOPIC)
 *
 * A broker's own settings are asked of that broker (common/admin.c routes
 * a BROKER resource named by an id to it), the cluster default of any.
 * Without --all, --describe lists only the dynamic values, as
 * kafka-configs does; --add-config values holding commas go in square
 * brackets (ssl.cipher.suites=[A,B]).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"

#define CMD         "configs"
#define MAX_CHANGES 64

struct copts {
    struct tr_cli_common common;
    const char *entity_type; /* "brokers" or "topics" */
    const char *entity_name;
    int entity_default;
    int describe, alter, all;
    const char *add, *del;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: tributary configs -b B --entity-type brokers|topics\n"
            "           (--entity-name NAME | --entity-default) --describe "
            "[--all]\n"
            "       tributary configs -b B --entity-type brokers|topics\n"
            "           (--entity-name NAME | --entity-default) --alter\n"
            "           [--add-config K=V,K2=[A,B]] [--delete-config K,K2]\n"
            "\n"
            "Broker configs that change at run time (Kafka's dynamic broker "
            "configs), per\nbroker (--entity-name ID) or for every broker "
            "(--entity-default), and topic\nconfigs; kafka-configs' "
            "flags.\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server HOST:PORT  a collector (default "
            "$TRIBUTARY_BOOTSTRAP or 127.0.0.1:9092)\n"
            "      --entity-type T    brokers or topics\n"
            "      --entity-name N    a broker id or a topic name\n"
            "      --entity-default   the cluster-wide broker default\n"
            "      --describe         print the dynamic values (--all: every "
            "config, with\n"
            "                         its source)\n"
            "      --alter            change: --add-config sets, "
            "--delete-config removes\n"
            "      --json             describe as JSON\n"
            "      --timeout MS       per request (default 10000)\n");
    tr_cli_security_usage(out);
    fprintf(out, "\nSee docs/operations.md, \"Changing settings at run "
                 "time\".\n");
}

static const char *
source_name(int source)
{
    static const char *const names[] = {
        "UNKNOWN",
        "DYNAMIC_TOPIC_CONFIG",
        "DYNAMIC_BROKER_CONFIG",
        "DYNAMIC_DEFAULT_BROKER_CONFIG",
        "STATIC_BROKER_CONFIG",
        "DEFAULT_CONFIG",
        "DYNAMIC_BROKER_LOGGER_CONFIG",
    };

    return source >= 0 && source < (int)(sizeof(names) / sizeof(names[0]))
               ? names[source]
               : "UNKNOWN";
}

/* The source that makes a value "dynamic" for this entity. */
static int
dynamic_source(const struct copts *o)
{
    if (strcmp(o->entity_type, "topics") == 0) {
        return 1;
    }
    return o->entity_default ? 3 : 2;
}

static int
cmd_describe(struct tr_admin *a, const struct copts *o, int8_t type,
             const char *name)
{
    struct tr_admin_config *cfgs = NULL;
    char errbuf[512];
    size_t n = 0, i;
    int16_t kerr = 0;
    int first = 1, rc;

    if (tr_admin_describe_configs(a, type, name, &cfgs, &n, &kerr, errbuf,
                                  sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        return TR_EXIT_FAIL;
    }
    if (kerr != 0) {
        tr_cli_error(CMD, "%s %s: %s", o->entity_type,
                     o->entity_default ? "<default>" : name,
                     tr_admin_kerr_name(kerr));
        rc = tr_cli_exit_for_kerr(kerr);
        goto out;
    }
    if (o->common.json) {
        printf("[");
    } else {
        printf("%s configs for %s %s are:\n", o->all ? "All" : "Dynamic",
               strcmp(o->entity_type, "brokers") == 0 ? "broker" : "topic",
               o->entity_default ? "<default>" : name);
    }
    for (i = 0; i < n; i++) {
        const struct tr_admin_config *cf = &cfgs[i];
        const char *value = cf->sensitive ? NULL : cf->value;

        if (!o->all && cf->source != dynamic_source(o)) {
            continue;
        }
        if (o->common.json) {
            printf("%s{\"name\":", first ? "" : ",");
            tr_cli_json_string(cf->name, strlen(cf->name));
            printf(",\"value\":");
            if (value != NULL) {
                tr_cli_json_string(value, strlen(value));
            } else {
                printf("null");
            }
            printf(",\"source\":\"%s\",\"read_only\":%s,\"sensitive\":%s}",
                   source_name(cf->source), cf->read_only ? "true" : "false",
                   cf->sensitive ? "true" : "false");
        } else {
            printf("  %s=%s sensitive=%s source=%s%s\n", cf->name,
                   value != NULL ? value : "null",
                   cf->sensitive ? "true" : "false", source_name(cf->source),
                   cf->read_only ? " read-only" : "");
        }
        first = 0;
    }
    if (o->common.json) {
        printf("]\n");
    }
    rc = TR_EXIT_OK;
out:
    tr_admin_configs_free(cfgs, n);
    return rc;
}

/*
 * Splits kafka-configs' "k=v,k2=[a,b]" into 'out' entries (written into
 * 'buf', brackets dropped); 'deleting': "k,k2" become "k=" deletes.
 * Returns the count, or -1 with the reason printed.
 */
static int
split_changes(const char *text, int deleting, char *buf, size_t buflen,
              const char **out, int at)
{
    const char *p = text;
    size_t used = 0;

    while (*p != '\0') {
        const char *start = p;
        int depth = 0;
        size_t len;

        for (; *p != '\0' && (*p != ',' || depth > 0); p++) {
            depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
        }
        len = (size_t)(p - start);
        if (*p == ',') {
            p++;
        }
        if (len == 0) {
            continue;
        }
        if (at == MAX_CHANGES || used + len + 2 > buflen) {
            tr_cli_error(CMD, "too many or too long configs");
            return -1;
        }
        if (!deleting && memchr(start, '=', len) == NULL) {
            tr_cli_error(CMD, "--add-config '%.*s' is not KEY=VALUE", (int)len,
                         start);
            return -1;
        }
        out[at++] = buf + used;
        for (; len > 0; start++, len--) {
            if (*start != '[' && *start != ']') {
                buf[used++] = *start;
            }
        }
        if (deleting) {
            buf[used++] = '=';
        }
        buf[used++] = '\0';
    }
    return at;
}

static int
cmd_alter(struct tr_admin *a, const struct copts *o, int8_t type,
          const char *name)
{
    const char *changes[MAX_CHANGES];
    char *buf = NULL, errbuf[512], msg[512];
    size_t buflen;
    int16_t kerr = 0;
    int n = 0, rc = TR_EXIT_USAGE;

    /* Two halves, each room for both lists and a NUL per entry. */
    buflen = 2 * ((o->add ? strlen(o->add) : 0) +
                  (o->del ? strlen(o->del) : 0) + 2 * MAX_CHANGES + 2);
    buf = tr_malloc(buflen);
    if (buf == NULL) {
        return TR_EXIT_FAIL;
    }
    if (o->add != NULL &&
        (n = split_changes(o->add, 0, buf, buflen / 2, changes, n)) < 0) {
        goto out;
    }
    if (o->del != NULL && (n = split_changes(o->del, 1, buf + buflen / 2,
                                             buflen / 2, changes, n)) < 0) {
        goto out;
    }
    if (n == 0) {
        tr_cli_error(CMD, "--alter needs --add-config or --delete-config");
        goto out;
    }
    if (tr_admin_alter_configs(a, type, name, changes, (size_t)n, &kerr, msg,
                               sizeof(msg), errbuf, sizeof(errbuf)) != TR_OK) {
        tr_cli_error(CMD, "%s", errbuf);
        rc = TR_EXIT_FAIL;
        goto out;
    }
    if (kerr != 0) {
        tr_cli_error(CMD, "%s%s%s", tr_admin_kerr_name(kerr),
                     msg[0] ? ": " : "", msg);
        rc = tr_cli_exit_for_kerr(kerr);
        goto out;
    }
    printf("Completed updating config for %s %s.\n",
           strcmp(o->entity_type, "brokers") == 0 ? "broker" : "topic",
           o->entity_default ? "<default>" : name);
    rc = TR_EXIT_OK;
out:
    tr_free(buf);
    return rc;
}

int
tr_cmd_configs(int argc, char **argv)
{
    static const struct option longopts[] = {
        TR_CLI_COMMON_OPTIONS,
        { "entity-type", required_argument, NULL, 0x2001 },
        { "entity-name", required_argument, NULL, 0x2002 },
        { "entity-default", no_argument, NULL, 0x2003 },
        { "describe", no_argument, NULL, 0x2004 },
        { "alter", no_argument, NULL, 0x2005 },
        { "all", no_argument, NULL, 0x2006 },
        { "add-config", required_argument, NULL, 0x2007 },
        { "delete-config", required_argument, NULL, 0x2008 },
        { NULL, 0, NULL, 0 },
    };
    struct copts o;
    struct tr_admin *a = NULL;
    const char *name;
    int8_t type;
    int ch, r, rc = TR_EXIT_USAGE;

    memset(&o, 0, sizeof(o));
    tr_cli_common_init(&o.common, CMD);
    while ((ch = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
        if ((r = tr_cli_common_opt(ch, optarg, &o.common)) != 0) {
            if (r < 0) {
                goto out;
            }
            continue;
        }
        switch (ch) {
        case 'h':
            usage(stdout);
            rc = TR_EXIT_OK;
            goto out;
        case 0x2001:
            o.entity_type = optarg;
            break;
        case 0x2002:
            o.entity_name = optarg;
            break;
        case 0x2003:
            o.entity_default = 1;
            break;
        case 0x2004:
            o.describe = 1;
            break;
        case 0x2005:
            o.alter = 1;
            break;
        case 0x2006:
            o.all = 1;
            break;
        case 0x2007:
            o.add = optarg;
            break;
        case 0x2008:
            o.del = optarg;
            break;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc) {
        tr_cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (o.entity_type == NULL || (strcmp(o.entity_type, "brokers") != 0 &&
                                  strcmp(o.entity_type, "topics") != 0)) {
        tr_cli_error(CMD, "--entity-type brokers or topics is required");
        goto out;
    }
    if ((o.entity_name != NULL) == o.entity_default ||
        (o.entity_default && strcmp(o.entity_type, "topics") == 0)) {
        tr_cli_error(CMD, "give --entity-name, or --entity-default (brokers "
                          "only)");
        goto out;
    }
    if (o.describe == o.alter) {
        tr_cli_error(CMD, "give --describe or --alter");
        goto out;
    }
    type = strcmp(o.entity_type, "brokers") == 0 ? TR_ADMIN_RESOURCE_BROKER
                                                 : TR_ADMIN_RESOURCE_TOPIC;
    name = o.entity_default ? "" : o.entity_name;
    a = tr_cli_admin(CMD, &o.common, &rc);
    if (a == NULL) {
        goto out;
    }
    rc = o.describe ? cmd_describe(a, &o, type, name)
                    : cmd_alter(a, &o, type, name);
out:
    tr_cli_common_cleanup(&o.common);
    tr_admin_free(a);
    return rc;
}
