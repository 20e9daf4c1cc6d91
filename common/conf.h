/*
 * conf -- parsers for configuration files: Java properties and INI.
 *
 * The collector reads Kafka-style "server.properties" files; the agent reads
 * INI files with one section per input. Both go through the same scanner,
 * which hands every entry to a callback with the file name and line number,
 * so that every error a person must fix reads "FILE:LINE: reason".
 *
 * Properties syntax (as java.util.Properties, minus whitespace-only
 * separators, which are almost always a typo in a config file):
 *
 *   # comment            ! comment            blank lines are skipped
 *   key = value          key: value           whitespace around both trimmed
 *   long.key = first \   a line ending in an odd number of backslashes
 *       second           continues; the next line's indent is dropped
 *   path = a\=b\\c\u0041 escapes: \t \n \r \f \\ \= \: \# \! \<space> \uXXXX
 *
 * INI syntax:
 *
 *   [section]   [section name]     a section may appear once per file
 *   key = value                    '=' only; values are raw (no escapes, so
 *   # comment   ; comment          regular expressions keep backslashes)
 *
 * Entries before the first INI section have a NULL section. Backslash line
 * continuation works in both formats.
 *
 * The typed value parsers fill 'reason' (no file or line: the caller adds
 * those) and return TR_ERR_CONFIG on a bad value.
 */
#ifndef TR_CONF_H
#define TR_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum tr_conf_format {
    TR_CONF_PROPERTIES = 0,
    TR_CONF_INI = 1,
};

/* Files larger than this are refused rather than read into memory. */
#define TR_CONF_MAX_FILE_BYTES (4 * 1024 * 1024)

/*
 * Called once per entry. 'section' (NULL outside any INI section), 'key',
 * 'value' and 'file' are borrowed and valid until the callback returns. To
 * reject the entry, write a reason (without file or line) into 'reason' and
 * return an error; parsing stops and the parser's errbuf then reads
 * "FILE:LINE: reason".
 */
typedef tr_err_t tr_conf_entry_cb(const char *section, const char *key,
                                  const char *value, const char *file, int line,
                                  char *reason, size_t reasonlen, void *arg);

/*
 * Parses the file at 'path'. Returns TR_OK, TR_ERR_IO (cannot read; errbuf
 * names the file and errno), TR_ERR_CONFIG (syntax error or an error from
 * 'cb'; errbuf reads "FILE:LINE: reason") or TR_ERR_NOMEM.
 */
tr_err_t tr_conf_parse_file(const char *path, enum tr_conf_format format,
                            tr_conf_entry_cb *cb, void *arg, char *errbuf,
                            size_t errlen);

/*
 * Parses 'len' bytes of 'text' as if read from a file called 'name' (used in
 * messages). Same results as tr_conf_parse_file, minus TR_ERR_IO.
 */
tr_err_t tr_conf_parse_string(const char *text, size_t len, const char *name,
                              enum tr_conf_format format, tr_conf_entry_cb *cb,
                              void *arg, char *errbuf, size_t errlen);

/* Parses a decimal integer within [min, max]. */
tr_err_t tr_conf_parse_int32(const char *value, int32_t min, int32_t max,
                             int32_t *out, char *reason, size_t reasonlen);
tr_err_t tr_conf_parse_int64(const char *value, int64_t min, int64_t max,
                             int64_t *out, char *reason, size_t reasonlen);

/* Parses "true" or "false" (any case, as Kafka does) into 1 or 0. */
tr_err_t tr_conf_parse_bool(const char *value, int *out, char *reason,
                            size_t reasonlen);

/*
 * Parses a byte count: a plain integer, as Kafka takes it, optionally
 * followed by k, m, g or t (powers of 1024, any case, optional trailing
 * "b"/"ib") for the agent's hand-written INI files. The result must lie
 * within [min, max].
 */
tr_err_t tr_conf_parse_size(const char *value, int64_t min, int64_t max,
                            int64_t *out, char *reason, size_t reasonlen);

/*
 * Parses a duration given, as Kafka takes it, as a plain integer in the unit
 * the key names ('unit_ms' milliseconds per unit: 1 for ".ms", 60000 for
 * ".minutes", 3600000 for ".hours"). 'min' and 'max' are in that unit. The
 * result is in milliseconds; a negative value stays as given times the unit,
 * and a product that overflows int64 is an error.
 */
tr_err_t tr_conf_parse_duration(const char *value, int64_t unit_ms, int64_t min,
                                int64_t max, int64_t *out_ms, char *reason,
                                size_t reasonlen);

#endif /* TR_CONF_H */
