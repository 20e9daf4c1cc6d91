/*
 * parse -- what the agent does with one line (or joined event) of an input:
 * include/exclude filters, named captures of a per-input pattern, the key
 * template, the multiline start pattern and the record time.
 *
 * Patterns are PCRE2, JIT-compiled once per input. Matching allocates
 * nothing: the match data and the key buffer live in the parser and are
 * reused for every line.
 */
#ifndef TR_AGENT_PARSE_H
#define TR_AGENT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct tr_parse;

/* Where a line came from: the values of ${host}, ${path} and ${file}. */
struct tr_parse_ctx {
    const char *host;
    const char *path;
    const char *file; /* the base name of path */
};

struct tr_parse_result {
    const char *key; /* valid until the next call; NULL: no key */
    size_t key_len;
    int64_t timestamp_ms; /* -1: none parsed (use the read time) */
};

/*
 * Compiles the patterns and the key template of 'in' (borrowed; copied as
 * needed) into an owned *out. On TR_ERR_CONFIG errbuf names the option, the
 * offset in the pattern and PCRE2's reason.
 */
tr_err_t tr_parse_new(const struct tr_agent_input *in, struct tr_parse **out,
                      char *errbuf, size_t errlen);
void tr_parse_free(struct tr_parse *p);

/*
 * Filters and parses one line of 'len' bytes (no newline). Returns 1 to
 * send it with *res filled, 0 to drop it (include_lines did not match, or
 * exclude_lines did).
 */
int tr_parse_line(struct tr_parse *p, const char *line, size_t len,
                  const struct tr_parse_ctx *ctx, struct tr_parse_result *res);

/* 1 if the input joins lines into events (multiline_start is set). */
int tr_parse_multiline(const struct tr_parse *p);

/* 1 if 'line' starts a new event; always 1 without multiline_start. */
int tr_parse_event_start(struct tr_parse *p, const char *line, size_t len);

/*
 * Expands a key template over 'ctx' alone (no captures) into 'out' of
 * 'outlen' bytes; returns the length, or -1 when the template is invalid
 * or the result does not fit. Exposed for tests and --check-config.
 */
long tr_parse_expand(const char *tmpl, const struct tr_parse_ctx *ctx,
                     char *out, size_t outlen);

/*
 * Parses 'len' bytes of 'text' with the strptime(3) 'format' into
 * milliseconds since the epoch (UTC unless the format has %z; a fraction
 * ".123" right after the parsed part adds milliseconds). -1 on failure.
 */
int64_t tr_parse_time(const char *text, size_t len, const char *format);

#endif /* TR_AGENT_PARSE_H */
