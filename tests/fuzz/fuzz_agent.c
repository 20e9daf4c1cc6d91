/*
 * fuzz_agent -- libFuzzer target for the agent's line parser and registry.
 *
 * Input: [mode][bytes...]. Mode 0xff writes the bytes as the registry file
 * and loads it (agent/registry.c). Mode 0xfe writes them as the journal
 * (agent/journal.c): chunks of [u16 length][payload], each framed with its
 * right CRC-32C so mutations reach the entry decoder; it is loaded, every
 * loaded batch walked, compacted, appended to and loaded again. Otherwise the
 * bytes are log lines, split at '\n', run through one of a few parsers
 * (agent/parse.c: PCRE2 patterns with named captures, key templates, include
 * and exclude filters, multiline starts, timestamps), the one chosen by mode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/journal.h"
#include "agent/parse.h"
#include "agent/registry.h"
#include "common/buf.h"
#include "common/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct parser_conf {
    const char *pattern, *key, *inc, *exc, *start, *time_capture, *time_format;
};

/* Shaped like the examples in docs/agent.md. */
static const struct parser_conf confs[] = {
    { "^(?<ts>\\S+ \\S+) (?<level>[A-Z]+) (?<user>u[0-9]+)?", "${host}/${user}",
      NULL, "DEBUG", "^\\d{4}-", "ts", "%Y-%m-%d %H:%M:%S" },
    { "^(?<ip>\\S+) \\S+ \\S+ \\[(?<ts>[^\\]]+)\\] \"(?<req>[^\"]*)\"",
      "${ip}:${file}", "GET|POST", NULL, NULL, "ts", "%d/%b/%Y:%H:%M:%S %z" },
    { "(?<k>[^=]+)=(?<v>.*)", "${k}${path}${v}", NULL, NULL, "^\\S", NULL,
      NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

#define NCONFS (sizeof(confs) / sizeof(confs[0]))

static struct tr_parse *parsers[NCONFS];
static char dir[64];

static struct tr_parse *
parser(size_t i)
{
    struct tr_agent_input in;
    char errbuf[256];

    if (parsers[i] == NULL) {
        memset(&in, 0, sizeof(in));
        in.pattern = (char *)confs[i].pattern;
        in.key = (char *)confs[i].key;
        in.include_lines = (char *)confs[i].inc;
        in.exclude_lines = (char *)confs[i].exc;
        in.multiline_start = (char *)confs[i].start;
        in.time_capture = (char *)confs[i].time_capture;
        in.time_format = (char *)confs[i].time_format;
        if (tr_parse_new(&in, &parsers[i], errbuf, sizeof(errbuf)) != TR_OK) {
            fprintf(stderr, "fuzz_agent: parser %zu: %s\n", i, errbuf);
            abort();
        }
    }
    return parsers[i];
}

/* The registry directory goes with the process. */
static void
remove_registry(void)
{
    char path[96];

    snprintf(path, sizeof(path), "%s/registry", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/journal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/journal.tmp", dir);
    unlink(path);
    rmdir(dir);
}

static void
make_dir(void)
{
    if (dir[0] == '\0') {
        /* In memory where it can: the journal fsyncs at every input. */
        snprintf(dir, sizeof(dir), "/dev/shm/tr-fuzz-agent-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            snprintf(dir, sizeof(dir), "/tmp/tr-fuzz-agent-XXXXXX");
            if (mkdtemp(dir) == NULL) {
                abort();
            }
        }
        atexit(remove_registry);
    }
}

/* Keeps every other file's entries, by inode. */
static int
journal_live(void *arg, uint64_t dev, uint64_t ino, uint32_t fp_len,
             uint32_t fp_crc, uint64_t end)
{
    (void)arg;
    (void)dev;
    (void)fp_len;
    (void)fp_crc;
    return (ino & 1) != 0 || end > 1000;
}

static void
load_journal(const uint8_t *data, size_t size)
{
    struct tr_journal *j = NULL;
    char path[96], errbuf[512];
    FILE *f;
    size_t off = 0;

    make_dir();
    snprintf(path, sizeof(path), "%s/journal", dir);
    f = fopen(path, "wb");
    if (f == NULL) {
        abort();
    }
    while (size - off >= 2) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        uint8_t hdr[8];

        off += 2;
        if (len > size - off) {
            len = size - off;
        }
        tr_store_u32(hdr, (uint32_t)len);
        tr_store_u32(hdr + 4, tr_crc32c(0, data + off, len));
        if (fwrite(hdr, 1, 8, f) != 8 ||
            (len > 0 && fwrite(data + off, 1, len, f) != len)) {
            abort();
        }
        off += len;
    }
    fclose(f);
    if (tr_journal_open(dir, &j, errbuf, sizeof(errbuf)) != TR_OK) {
        return;
    }
    uint64_t sum = 0;
    struct tr_journal_batch copy;
    int have = 0;
    for (size_t i = 0; i < tr_journal_loaded(j); i++) {
        const struct tr_journal_batch *b = tr_journal_loaded_at(j, i);
        for (uint32_t r = 0; r < b->nrec; r++) {
            sum += b->recs[r].end;
            if (b->lines != NULL) {
                sum += b->lines[r].start + strlen(b->lines[r].path);
            }
        }
        if (b->wire != NULL && b->wire_len > 0) {
            sum += b->wire[b->wire_len - 1];
        }
        if (b->lines != NULL && !have) {
            copy = *b;
            have = 1;
        }
    }
    /* Written again as it was read: the reload must agree. */
    if (have && tr_journal_append(j, &copy) != TR_OK) {
        abort();
    }
    (void)sum;
    (void)tr_journal_compact(j, journal_live, NULL);
    tr_journal_free(j);
    if (tr_journal_open(dir, &j, errbuf, sizeof(errbuf)) != TR_OK) {
        abort();
    }
    tr_journal_free(j);
}

static void
load_registry(const uint8_t *data, size_t size)
{
    struct tr_registry *reg = NULL;
    char path[96], errbuf[512];
    FILE *f;

    make_dir();
    snprintf(path, sizeof(path), "%s/registry", dir);
    f = fopen(path, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size)) {
        abort();
    }
    fclose(f);
    if (tr_registry_load(dir, &reg, errbuf, sizeof(errbuf)) == TR_OK) {
        size_t i, n = tr_registry_count(reg);

        for (i = 0; i < n; i++) {
            const struct tr_registry_entry *e = tr_registry_entry_at(reg, i);

            (void)tr_registry_find(reg, e->dev, e->ino);
        }
    }
    tr_registry_free(reg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tr_parse_ctx ctx = { "web1", "/var/log/app/app.log",
                                             "app.log" };
    struct tr_parse_result res;
    struct tr_parse *p;
    const char *line, *end, *nl;

    if (size < 1) {
        return -1;
    }
    if (data[0] == 0xff) {
        load_registry(data + 1, size - 1);
        return 0;
    }
    if (data[0] == 0xfe) {
        load_journal(data + 1, size - 1);
        return 0;
    }
    p = parser(data[0] % NCONFS);
    line = (const char *)data + 1;
    end = (const char *)data + size;
    while (line <= end) {
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL) {
            nl = end;
        }
        (void)tr_parse_event_start(p, line, (size_t)(nl - line));
        (void)tr_parse_line(p, line, (size_t)(nl - line), &ctx, &res);
        line = nl + 1;
    }
    return 0;
}
