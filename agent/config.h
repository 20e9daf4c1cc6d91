/*
 * config -- the agent's configuration: an INI file with an [agent] section,
 * an [output] section and one [input NAME] section per source.
 *
 * Options are declared in tables (name, type, default, help) that drive
 * parsing, the defaults and docs/agent.md; unknown keys and bad values fail
 * with "FILE:LINE: reason". The result is plain data: the other modules
 * compile what they need from it (parse.c compiles the patterns).
 */
#ifndef TR_AGENT_CONFIG_H
#define TR_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_clientsec;

enum tr_read_from {
    TR_READ_FROM_BEGINNING = 0,
    TR_READ_FROM_END = 1,
};

enum tr_watch_mode {
    TR_WATCH_AUTO = 0,    /* inotify, falling back to polling */
    TR_WATCH_INOTIFY = 1, /* inotify or fail */
    TR_WATCH_POLL = 2,    /* rescans only */
};

/* A static header added to every record of an input ("field.NAME = v"). */
struct tr_agent_field {
    char *name;
    char *value;
};

struct tr_agent_input {
    char *name;
    char **paths; /* path globs, npaths of them */
    size_t npaths;
    char **excludes; /* file globs: a pattern without '/' matches the name */
    size_t nexcludes;
    char *topic;
    char *key;           /* template over ${host} ${path} ${file} ${capture} */
    char *pattern;       /* PCRE2 with named captures, or NULL */
    char *include_lines; /* PCRE2: keep only matching lines, or NULL */
    char *exclude_lines; /* PCRE2: drop matching lines, or NULL */
    char *multiline_start; /* PCRE2: a line matching starts a new event */
    int64_t multiline_max_bytes;
    int64_t multiline_timeout_ms;
    char *time_capture; /* named capture holding the record time */
    char *time_format;  /* strptime(3) format for it */
    int read_from;      /* enum tr_read_from */
    int read_from_set;  /* 0: inherit [agent] read_from */
    struct tr_agent_field *fields;
    size_t nfields;
};

struct tr_agent_conf {
    /* [agent] */
    char *state_dir;
    char *host;
    char *log_level;
    char *metrics_listen; /* "host:port" or NULL */
    int read_from;
    int watch_mode;
    int64_t max_open_files;
    int64_t max_line_bytes;
    int64_t partial_line_timeout_ms;
    int64_t rescan_interval_ms;
    int64_t registry_flush_interval_ms;
    int64_t rotate_wait_ms;
    int64_t read_chunk_bytes;
    int64_t max_inflight_records;
    int64_t fingerprint_bytes;
    int64_t status_interval_ms; /* 0: no status records (status.h) */
    char *status_topic;
    /* [output] */
    char *brokers;
    char *client_id;
    char *compression; /* a codec name tr_codec_parse knows */
    int64_t acks;
    int64_t linger_ms;
    int64_t batch_bytes;
    int64_t buffer_max_bytes;
    int64_t retry_backoff_ms;
    int64_t retry_backoff_max_ms;
    int64_t request_timeout_ms;
    int idempotent;
    int exactly_once;
    /*
     * [output] security.protocol, ssl.*, sasl.* (librdkafka's names,
     * clientsec.h), prepared by the loader; owned.
     */
    struct tr_clientsec *security;
    /* [input NAME] ... */
    struct tr_agent_input **inputs;
    size_t ninputs;
};

/*
 * Loads the file at 'path' into an owned *out (free with
 * tr_agent_conf_free). On TR_ERR_CONFIG or TR_ERR_IO errbuf says why
 * ("FILE:LINE: reason" for a bad entry, "FILE: reason" for a missing one).
 */
tr_err_t tr_agent_conf_load(const char *path, struct tr_agent_conf **out,
                            char *errbuf, size_t errlen);

/* As tr_agent_conf_load, from 'len' bytes of 'text' called 'name'. */
tr_err_t tr_agent_conf_load_string(const char *text, size_t len,
                                   const char *name, struct tr_agent_conf **out,
                                   char *errbuf, size_t errlen);

/* Returns the input called 'name' or NULL; 'conf' is borrowed. */
const struct tr_agent_input *
tr_agent_conf_input(const struct tr_agent_conf *conf, const char *name);

/* NULL is a no-op. */
void tr_agent_conf_free(struct tr_agent_conf *conf);

/*
 * Writes the option reference (section, key, default, help) as a Markdown
 * table to 'fd'; docs/agent.md is checked against it.
 */
void tr_agent_conf_write_reference(int fd);

#endif /* TR_AGENT_CONFIG_H */
