/*
 * config -- table-driven parsing of the agent's INI file (see config.h).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clientsec.h"
#include "codec.h"
#include "conf.h"

enum opt_type {
    OPT_STR,
    OPT_SIZE,
    OPT_MS,
    OPT_INT,
    OPT_BOOL,
    OPT_READ_FROM,
    OPT_WATCH,
    OPT_COMPRESSION,
    OPT_LIST,
};

struct opt {
    const char *name;
    enum opt_type type;
    const char *def; /* NULL: no default */
    size_t off;
    int64_t min, max;
    const char *help;
};

#define A(f) offsetof(struct tr_agent_conf, f)
#define I(f) offsetof(struct tr_agent_input, f)

/* clang-format off */
static const struct opt agent_opts[] = {
    { "state_dir", OPT_STR, NULL, A(state_dir), 0, 0, "Directory for the registry of file positions (required)." },
    { "host", OPT_STR, "", A(host), 0, 0, "Host name put in the host header and ${host}; empty: gethostname()." },
    { "log_level", OPT_STR, "info", A(log_level), 0, 0, "error, warn, info or debug." },
    { "metrics_listen", OPT_STR, "", A(metrics_listen), 0, 0, "host:port of the HTTP listener for /metrics and /health; empty: off." },
    { "read_from", OPT_READ_FROM, "beginning", A(read_from), 0, 0, "Where files present at the first start begin: beginning or end. New files always start at their beginning." },
    { "watch", OPT_WATCH, "auto", A(watch_mode), 0, 0, "Discovery: auto (inotify, else polling), inotify or poll." },
    { "max_open_files", OPT_INT, "1024", A(max_open_files), 1, 1000000, "Bound on descriptors held for tailed files; beyond it idle files are closed and reopened with an identity check." },
    { "max_line_bytes", OPT_SIZE, "256k", A(max_line_bytes), 64, 16 << 20, "Longer lines are cut; the record carries the header truncated=true." },
    { "partial_line_timeout_ms", OPT_MS, "5000", A(partial_line_timeout_ms), 0, 86400000, "A last line without newline is sent after it has not grown for this long." },
    { "rescan_interval_ms", OPT_MS, "10000", A(rescan_interval_ms), 100, 86400000, "Slow rescan of the globs and of file sizes (the fallback for overflowed inotify queues and file systems without inotify)." },
    { "registry_flush_interval_ms", OPT_MS, "25", A(registry_flush_interval_ms), 0, 3600000, "Least spacing between registry writes. Positions are written as soon as acknowledgements advance them, at most this often (and at most 1/5 of the time goes to writing)." },
    { "rotate_wait_ms", OPT_MS, "5000", A(rotate_wait_ms), 0, 86400000, "How long a file renamed away or deleted is kept open after its end was read, for late writers." },
    { "read_chunk_bytes", OPT_SIZE, "256k", A(read_chunk_bytes), 4096, 64 << 20, "Bytes read from one file per turn before the next file gets its turn." },
    { "max_inflight_records", OPT_INT, "100000", A(max_inflight_records), 1, 10000000, "Bound on records sent but not yet acknowledged." },
    { "fingerprint_bytes", OPT_SIZE, "1024", A(fingerprint_bytes), 16, 65536, "Bytes at the start of a file whose CRC, with device and inode, identifies it." },
    { "status_interval_ms", OPT_MS, "5000", A(status_interval_ms), 0, 3600000, "How often the agent publishes its status record (inputs, files, bytes behind, last error) to status_topic, keyed by host, for the collector's fleet view; 0: never. Changes need a restart." },
    { "status_topic", OPT_STR, "__tributary_agents", A(status_topic), 0, 0, "Topic of the status records; the collector creates __tributary_agents compacted and reads only that one." },
    { NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct opt output_opts[] = {
    { "brokers", OPT_STR, NULL, A(brokers), 0, 0, "Bootstrap list host:port[,host:port...] (required)." },
    { "client_id", OPT_STR, "tributary-agent", A(client_id), 0, 0, "Kafka client id." },
    { "compression", OPT_COMPRESSION, "none", A(compression), 0, 0, "none, gzip, or zstd, lz4, snappy when built in." },
    { "acks", OPT_INT, "-1", A(acks), -1, 1, "-1 (all), 0 or 1. Positions advance only on acknowledgements, so 0 weakens delivery." },
    { "linger_ms", OPT_MS, "5", A(linger_ms), 0, 60000, "How long a batch waits for more records." },
    { "batch_bytes", OPT_SIZE, "512k", A(batch_bytes), 1024, 64 << 20, "Largest batch per partition; keep it under the collector's message.max.bytes (1000012 by default)." },
    { "buffer_max_bytes", OPT_SIZE, "4m", A(buffer_max_bytes), 65536, INT64_C(4) << 30, "Bound on memory in flight; past it the agent stops reading (the files are the buffer)." },
    { "retry_backoff_ms", OPT_MS, "100", A(retry_backoff_ms), 1, 600000, "First retry backoff (doubles, with jitter)." },
    { "retry_backoff_max_ms", OPT_MS, "10000", A(retry_backoff_max_ms), 1, 3600000, "Largest retry backoff." },
    { "request_timeout_ms", OPT_MS, "30000", A(request_timeout_ms), 100, 3600000, "Produce request timeout." },
    { "idempotent", OPT_BOOL, "true", A(idempotent), 0, 0, "Idempotent producer (needs acks = -1): retries never duplicate." },
    { "exactly_once", OPT_BOOL, "true", A(exactly_once), 0, 0, "Journal sent batches in state_dir so that no line is sent twice across crashes (needs idempotent, acks = -1); false: at least once." },
    { NULL, 0, NULL, 0, 0, 0, NULL },
};

static const struct opt input_opts[] = {
    { "paths", OPT_LIST, NULL, I(paths), 0, 0, "Path globs, separated by commas or spaces (required)." },
    { "exclude", OPT_LIST, "", I(excludes), 0, 0, "File globs to skip; a glob without '/' matches the file name, one with '/' the whole path." },
    { "topic", OPT_STR, NULL, I(topic), 0, 0, "Topic the records go to (required)." },
    { "key", OPT_STR, "", I(key), 0, 0, "Record key template over ${host}, ${path}, ${file} and named captures of pattern; empty: no key." },
    { "pattern", OPT_STR, "", I(pattern), 0, 0, "PCRE2 pattern whose named captures feed the key and the time." },
    { "include_lines", OPT_STR, "", I(include_lines), 0, 0, "PCRE2: only lines matching it are sent." },
    { "exclude_lines", OPT_STR, "", I(exclude_lines), 0, 0, "PCRE2: lines matching it are dropped." },
    { "multiline_start", OPT_STR, "", I(multiline_start), 0, 0, "PCRE2: a line matching it starts a new event; other lines join the event before them." },
    { "multiline_max_bytes", OPT_SIZE, "1m", I(multiline_max_bytes), 64, 16 << 20, "Largest joined event; longer ones are cut (truncated=true)." },
    { "multiline_timeout_ms", OPT_MS, "2000", I(multiline_timeout_ms), 0, 86400000, "An event is sent when no line joined it for this long." },
    { "time_capture", OPT_STR, "", I(time_capture), 0, 0, "Named capture of pattern that holds the record time; empty: read time." },
    { "time_format", OPT_STR, "%Y-%m-%dT%H:%M:%S", I(time_format), 0, 0, "strptime(3) format of time_capture (UTC unless it has %z)." },
    { "read_from", OPT_READ_FROM, NULL, I(read_from), 0, 0, "Overrides [agent] read_from for this input." },
    { NULL, 0, NULL, 0, 0, 0, NULL },
};
/* clang-format on */

struct load_ctx {
    struct tr_agent_conf *conf;
    struct tr_agent_input *cur; /* the input section being read */
    /* bitmaps of keys seen, to reject duplicates and fill defaults */
};

static void
free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tr_free(v[i]);
    }
    tr_free(v);
}

static void
input_free(struct tr_agent_input *in)
{
    if (in == NULL) {
        return;
    }
    tr_free(in->name);
    free_list(in->paths, in->npaths);
    free_list(in->excludes, in->nexcludes);
    const struct opt *o;
    for (o = input_opts; o->name; o++) {
        if (o->type == OPT_STR) {
            tr_free(*(char **)((char *)in + o->off));
        }
    }
    for (size_t i = 0; i < in->nfields; i++) {
        tr_free(in->fields[i].name);
        tr_free(in->fields[i].value);
    }
    tr_free(in->fields);
    tr_free(in);
}

void
tr_agent_conf_free(struct tr_agent_conf *conf)
{
    if (conf == NULL) {
        return;
    }
    const struct opt *tabs[] = { agent_opts, output_opts };
    for (size_t t = 0; t < 2; t++) {
        for (const struct opt *o = tabs[t]; o->name; o++) {
            if (o->type == OPT_STR || o->type == OPT_COMPRESSION) {
                tr_free(*(char **)((char *)conf + o->off));
            }
        }
    }
    for (size_t i = 0; i < conf->ninputs; i++) {
        input_free(conf->inputs[i]);
    }
    tr_free(conf->inputs);
    tr_clientsec_free(conf->security);
    tr_free(conf);
}

/* Splits 'value' at commas and whitespace into an owned list. */
static tr_err_t
split_list(const char *value, char ***out, size_t *nout)
{
    char **v = NULL;
    size_t n = 0;
    const char *p = value;
    tr_err_t err = TR_ERR_NOMEM;

    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }
        char **nv = tr_realloc(v, (n + 1) * sizeof(*v));
        if (nv == NULL) {
            goto out;
        }
        v = nv;
        v[n] = tr_strndup(s, (size_t)(p - s));
        if (v[n] == NULL) {
            goto out;
        }
        n++;
    }
    free_list(*out, *nout);
    *out = v;
    *nout = n;
    v = NULL;
    n = 0;
    err = TR_OK;
out:
    free_list(v, n);
    return err;
}

static tr_err_t
set_opt(const struct opt *o, void *base, const char *value, char *reason,
        size_t reasonlen)
{
    char *field = (char *)base + o->off;
    int64_t v64;
    int32_t v32;
    tr_err_t err = TR_ERR_CONFIG;

    switch (o->type) {
    case OPT_STR:
    case OPT_COMPRESSION: {
        if (o->type == OPT_COMPRESSION) {
            int codec = tr_codec_parse(value);

            if (codec < 0 || !tr_codec_available((enum tr_codec)codec)) {
                snprintf(reason, reasonlen,
                         "%s: '%s' is not a codec this build has (none, "
                         "gzip%s%s%s)",
                         o->name, value,
                         tr_codec_available(TR_CODEC_ZSTD) ? ", zstd" : "",
                         tr_codec_available(TR_CODEC_LZ4) ? ", lz4" : "",
                         tr_codec_available(TR_CODEC_SNAPPY) ? ", snappy" : "");
                goto out;
            }
        }
        char *s = tr_strdup(value);
        if (s == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        tr_free(*(char **)field);
        *(char **)field = s;
        break;
    }
    case OPT_LIST:
        if (split_list(value, (char ***)field,
                       (size_t *)(field + sizeof(char **))) != TR_OK) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        break;
    case OPT_SIZE:
        if (tr_conf_parse_size(value, o->min, o->max, &v64, reason,
                               reasonlen) != TR_OK) {
            goto out;
        }
        *(int64_t *)field = v64;
        break;
    case OPT_MS:
        if (tr_conf_parse_duration(value, 1, o->min, o->max, &v64, reason,
                                   reasonlen) != TR_OK) {
            goto out;
        }
        *(int64_t *)field = v64;
        break;
    case OPT_INT:
        if (tr_conf_parse_int64(value, o->min, o->max, &v64, reason,
                                reasonlen) != TR_OK) {
            goto out;
        }
        *(int64_t *)field = v64;
        break;
    case OPT_BOOL:
        if (tr_conf_parse_bool(value, &v32, reason, reasonlen) != TR_OK) {
            goto out;
        }
        *(int *)field = v32;
        break;
    case OPT_READ_FROM:
        if (strcmp(value, "beginning") == 0) {
            *(int *)field = TR_READ_FROM_BEGINNING;
        } else if (strcmp(value, "end") == 0) {
            *(int *)field = TR_READ_FROM_END;
        } else {
            snprintf(reason, reasonlen,
                     "read_from: expected beginning or end, got '%s'", value);
            goto out;
        }
        break;
    case OPT_WATCH:
        if (strcmp(value, "auto") == 0) {
            *(int *)field = TR_WATCH_AUTO;
        } else if (strcmp(value, "inotify") == 0) {
            *(int *)field = TR_WATCH_INOTIFY;
        } else if (strcmp(value, "poll") == 0) {
            *(int *)field = TR_WATCH_POLL;
        } else {
            snprintf(reason, reasonlen,
                     "watch: expected auto, inotify or poll, got '%s'", value);
            goto out;
        }
        break;
    }
    err = TR_OK;
out:
    return err;
}

static tr_err_t
set_defaults(const struct opt *tab, void *base)
{
    char reason[128];
    for (const struct opt *o = tab; o->name; o++) {
        if (o->def != NULL &&
            set_opt(o, base, o->def, reason, sizeof(reason)) != TR_OK) {
            return TR_ERR_NOMEM;
        }
    }
    return TR_OK;
}

static const struct opt *
find_opt(const struct opt *tab, const char *key)
{
    for (const struct opt *o = tab; o->name; o++) {
        if (strcmp(o->name, key) == 0) {
            return o;
        }
    }
    return NULL;
}

static tr_err_t
add_field(struct tr_agent_input *in, const char *name, const char *value)
{
    struct tr_agent_field *nf =
        tr_realloc(in->fields, (in->nfields + 1) * sizeof(*nf));
    if (nf == NULL) {
        return TR_ERR_NOMEM;
    }
    in->fields = nf;
    nf[in->nfields].name = tr_strdup(name);
    nf[in->nfields].value = tr_strdup(value);
    in->nfields++;
    if (nf[in->nfields - 1].name == NULL || nf[in->nfields - 1].value == NULL) {
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

static int
name_ok(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
              *s == '.')) {
            return 0;
        }
    }
    return 1;
}

static tr_err_t
on_entry(const char *section, const char *key, const char *value,
         const char *file, int line, char *reason, size_t reasonlen, void *arg)
{
    struct load_ctx *ctx = arg;
    struct tr_agent_conf *conf = ctx->conf;
    const struct opt *o;
    tr_err_t err = TR_ERR_CONFIG;

    (void)file;
    (void)line;
    if (section == NULL) {
        snprintf(reason, reasonlen,
                 "'%s' outside a section ([agent], [output] or [input NAME])",
                 key);
        goto out;
    }
    if (strcmp(section, "agent") == 0) {
        ctx->cur = NULL;
        if ((o = find_opt(agent_opts, key)) == NULL) {
            snprintf(reason, reasonlen, "unknown key '%s' in [agent]", key);
            goto out;
        }
        err = set_opt(o, conf, value, reason, reasonlen);
        goto out;
    }
    if (strcmp(section, "output") == 0) {
        ctx->cur = NULL;
        if (tr_clientsec_is_key(key)) {
            err =
                tr_clientsec_set(conf->security, key, value, reason, reasonlen);
            goto out;
        }
        if ((o = find_opt(output_opts, key)) == NULL) {
            snprintf(reason, reasonlen, "unknown key '%s' in [output]", key);
            goto out;
        }
        err = set_opt(o, conf, value, reason, reasonlen);
        goto out;
    }
    if (strncmp(section, "input ", 6) != 0) {
        snprintf(reason, reasonlen,
                 "unknown section [%s] (expected [agent], [output] or "
                 "[input NAME])",
                 section);
        goto out;
    }
    const char *name = section + 6;
    while (*name == ' ') {
        name++;
    }
    if (!name_ok(name)) {
        snprintf(reason, reasonlen,
                 "bad input name '%s' (letters, digits, '_', '-', '.')", name);
        goto out;
    }
    if (ctx->cur == NULL || strcmp(ctx->cur->name, name) != 0) {
        struct tr_agent_input *in = tr_calloc(1, sizeof(*in));
        struct tr_agent_input **nv =
            tr_realloc(conf->inputs, (conf->ninputs + 1) * sizeof(*nv));
        if (in == NULL || nv == NULL) {
            tr_free(in);
            if (nv != NULL) {
                conf->inputs = nv;
            }
            err = TR_ERR_NOMEM;
            goto out;
        }
        conf->inputs = nv;
        conf->inputs[conf->ninputs++] = in;
        ctx->cur = in;
        in->name = tr_strdup(name);
        if (in->name == NULL || set_defaults(input_opts, in) != TR_OK) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    if (strncmp(key, "field.", 6) == 0) {
        if (!name_ok(key + 6)) {
            snprintf(reason, reasonlen, "bad field name '%s'", key + 6);
            goto out;
        }
        err = add_field(ctx->cur, key + 6, value);
        goto out;
    }
    if ((o = find_opt(input_opts, key)) == NULL) {
        snprintf(reason, reasonlen, "unknown key '%s' in [input %s]", key,
                 name);
        goto out;
    }
    if (o->off == I(read_from)) {
        ctx->cur->read_from_set = 1;
    }
    err = set_opt(o, ctx->cur, value, reason, reasonlen);
out:
    return err;
}

/* Empty strings mean "unset" for optional patterns: store NULL instead. */
static void
null_if_empty(char **s)
{
    if (*s != NULL && **s == '\0') {
        tr_free(*s);
        *s = NULL;
    }
}

static tr_err_t
finish(struct tr_agent_conf *conf, const char *name, char *errbuf,
       size_t errlen)
{
    if (conf->state_dir == NULL || conf->state_dir[0] == '\0') {
        snprintf(errbuf, errlen, "%s: [agent] state_dir is required", name);
        return TR_ERR_CONFIG;
    }
    if (conf->brokers == NULL || conf->brokers[0] == '\0') {
        snprintf(errbuf, errlen, "%s: [output] brokers is required", name);
        return TR_ERR_CONFIG;
    }
    if (conf->ninputs == 0) {
        snprintf(errbuf, errlen, "%s: no [input NAME] section", name);
        return TR_ERR_CONFIG;
    }
    {
        char reason[512];

        if (tr_clientsec_prepare(conf->security, NULL, NULL, reason,
                                 sizeof(reason)) != TR_OK) {
            snprintf(errbuf, errlen, "%s: [output] %s", name, reason);
            return TR_ERR_CONFIG;
        }
    }
    null_if_empty(&conf->metrics_listen);
    if (conf->status_interval_ms > 0 && conf->status_topic[0] == '\0') {
        snprintf(errbuf, errlen,
                 "%s: [agent] status_topic is empty (status_interval_ms = 0 "
                 "turns the status records off)",
                 name);
        return TR_ERR_CONFIG;
    }
    if (conf->host != NULL && conf->host[0] == '\0') {
        char h[256];
        if (gethostname(h, sizeof(h)) != 0) {
            h[0] = '\0';
        }
        h[sizeof(h) - 1] = '\0';
        char *s = tr_strdup(h[0] ? h : "localhost");
        if (s == NULL) {
            return TR_ERR_NOMEM;
        }
        tr_free(conf->host);
        conf->host = s;
    }
    for (size_t i = 0; i < conf->ninputs; i++) {
        struct tr_agent_input *in = conf->inputs[i];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(conf->inputs[j]->name, in->name) == 0) {
                snprintf(errbuf, errlen, "%s: [input %s] appears twice", name,
                         in->name);
                return TR_ERR_CONFIG;
            }
        }
        if (in->npaths == 0) {
            snprintf(errbuf, errlen, "%s: [input %s] needs paths", name,
                     in->name);
            return TR_ERR_CONFIG;
        }
        for (size_t j = 0; j < in->npaths; j++) {
            if (in->paths[j][0] != '/') {
                snprintf(errbuf, errlen,
                         "%s: [input %s] path '%s' is not absolute", name,
                         in->name, in->paths[j]);
                return TR_ERR_CONFIG;
            }
        }
        if (in->topic == NULL || in->topic[0] == '\0') {
            snprintf(errbuf, errlen, "%s: [input %s] needs a topic", name,
                     in->name);
            return TR_ERR_CONFIG;
        }
        if (!in->read_from_set) {
            in->read_from = conf->read_from;
        }
        null_if_empty(&in->key);
        null_if_empty(&in->pattern);
        null_if_empty(&in->include_lines);
        null_if_empty(&in->exclude_lines);
        null_if_empty(&in->multiline_start);
        null_if_empty(&in->time_capture);
        if (in->time_capture != NULL && in->pattern == NULL) {
            snprintf(errbuf, errlen,
                     "%s: [input %s] time_capture needs a pattern", name,
                     in->name);
            return TR_ERR_CONFIG;
        }
    }
    return TR_OK;
}

static tr_err_t
load(const char *path, const char *text, size_t len, struct tr_agent_conf **out,
     char *errbuf, size_t errlen)
{
    struct load_ctx ctx = { 0 };
    tr_err_t err = TR_ERR_NOMEM;

    ctx.conf = tr_calloc(1, sizeof(*ctx.conf));
    if (ctx.conf == NULL || set_defaults(agent_opts, ctx.conf) != TR_OK ||
        set_defaults(output_opts, ctx.conf) != TR_OK ||
        tr_clientsec_new(&ctx.conf->security) != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    if (text == NULL) {
        err = tr_conf_parse_file(path, TR_CONF_INI, on_entry, &ctx, errbuf,
                                 errlen);
    } else {
        err = tr_conf_parse_string(text, len, path, TR_CONF_INI, on_entry, &ctx,
                                   errbuf, errlen);
    }
    if (err != TR_OK) {
        goto out;
    }
    if ((err = finish(ctx.conf, path, errbuf, errlen)) != TR_OK) {
        goto out;
    }
    *out = ctx.conf;
    ctx.conf = NULL;
    err = TR_OK;
out:
    tr_agent_conf_free(ctx.conf);
    return err;
}

tr_err_t
tr_agent_conf_load(const char *path, struct tr_agent_conf **out, char *errbuf,
                   size_t errlen)
{
    return load(path, NULL, 0, out, errbuf, errlen);
}

tr_err_t
tr_agent_conf_load_string(const char *text, size_t len, const char *name,
                          struct tr_agent_conf **out, char *errbuf,
                          size_t errlen)
{
    return load(name, text, len, out, errbuf, errlen);
}

const struct tr_agent_input *
tr_agent_conf_input(const struct tr_agent_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->ninputs; i++) {
        if (strcmp(conf->inputs[i]->name, name) == 0) {
            return conf->inputs[i];
        }
    }
    return NULL;
}

static void
write_table(int fd, const char *section, const struct opt *tab)
{
    char line[1024];
    for (const struct opt *o = tab; o->name; o++) {
        int n = snprintf(line, sizeof(line), "| %s | `%s` | %s%s%s | %s |\n",
                         section, o->name, o->def ? "`" : "",
                         o->def ? (o->def[0] ? o->def : "(empty)") : "-",
                         o->def ? "`" : "", o->help);
        if (n > 0 && write(fd, line, (size_t)n) < 0) {
            return;
        }
    }
}

/* The [output] security rows, from the client core's own table. */
static void
write_security(int fd)
{
    const char *name, *def, *help;
    char row[1024];
    size_t i;
    int n;

    for (i = 0; (name = tr_clientsec_prop(i, &def, &help)) != NULL; i++) {
        n = snprintf(row, sizeof(row), "| output | `%s` | %s | %s. |\n", name,
                     def, help);
        if (n > 0 && write(fd, row, (size_t)n) < 0) {
            return;
        }
    }
}

void
tr_agent_conf_write_reference(int fd)
{
    static const char head[] = "| Section | Key | Default | Meaning |\n"
                               "|---|---|---|---|\n";
    if (write(fd, head, sizeof(head) - 1) < 0) {
        return;
    }
    write_table(fd, "agent", agent_opts);
    write_table(fd, "output", output_opts);
    write_security(fd);
    write_table(fd, "input", input_opts);
    static const char fld[] = "| input | `field.NAME` | - | Static header "
                              "NAME=value added to every record. |\n";
    if (write(fd, fld, sizeof(fld) - 1) < 0) {
        return;
    }
}
