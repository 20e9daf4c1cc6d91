/*
 * fuzz_config -- libFuzzer target for the two configuration parsers.
 *
 * Input: [mode][text...]. An even mode loads the text as the collector's
 * properties file (collector/config.c over common/conf.c) and then
 * describes every key, as DescribeConfigs does; an odd mode loads it as the
 * agent's INI file (agent/config.c). The properties parser reads only
 * files, so the text goes through one temporary file per process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "collector/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
describe_cb(const char *key, const char *value, int is_default, void *arg)
{
    (void)key;
    (void)value;
    (void)is_default;
    (void)arg;
}

/* The temporary file goes with the process. */
static void
remove_file(void)
{
    unlink(path);
}

static void
load_properties(const uint8_t *text, size_t len)
{
    struct tr_broker_config cfg;
    char errbuf[512];
    FILE *f;

    if (path[0] == '\0') {
        int fd;

        snprintf(path, sizeof(path), "/tmp/tr-fuzz-config-XXXXXX");
        fd = mkstemp(path);
        if (fd < 0) {
            abort();
        }
        close(fd);
        atexit(remove_file);
    }
    f = fopen(path, "wb");
    if (f == NULL) {
        abort();
    }
    if (len > 0 && fwrite(text, 1, len, f) != len) {
        abort();
    }
    fclose(f);
    tr_broker_config_init(&cfg);
    if (tr_broker_config_load_file(&cfg, path, errbuf, sizeof(errbuf)) ==
        TR_OK) {
        tr_broker_config_describe(&cfg, describe_cb, NULL);
    }
    tr_broker_config_cleanup(&cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_agent_conf *conf = NULL;
    char errbuf[512];

    if (size < 1) {
        return -1;
    }
    if ((data[0] & 1) == 0) {
        load_properties(data + 1, size - 1);
        return 0;
    }
    if (tr_agent_conf_load_string((const char *)data + 1, size - 1, "fuzz.ini",
                                  &conf, errbuf, sizeof(errbuf)) == TR_OK) {
        (void)tr_agent_conf_input(conf, "app");
    }
    tr_agent_conf_free(conf);
    return 0;
}
