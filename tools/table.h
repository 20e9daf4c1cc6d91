/*
 * table -- aligned text tables for people and JSON for scripts.
 *
 * Every tributary subcommand prints through these two so that its output
 * is either an aligned table (--json absent) or exactly one JSON document
 * on stdout. The table keeps its cells until printed, to size the columns;
 * the JSON writer streams and tracks commas and nesting itself.
 */
#ifndef TR_TABLE_H
#define TR_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

struct tr_table;

/* Returns an owned table with 'ncols' columns named by 'headers' (copied). */
struct tr_table *tr_table_new(size_t ncols, const char *const *headers);
void tr_table_free(struct tr_table *t);
/* Appends one row of 'ncols' cells (copied; NULL prints "-"). */
tr_err_t tr_table_add(struct tr_table *t, const char *const *cells);
/* Like tr_table_add with printf-style cells separated by '\t'. */
tr_err_t tr_table_addf(struct tr_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t tr_table_rows(const struct tr_table *t);
/*
 * Prints the header and the rows, each column as wide as its widest cell,
 * two spaces apart; numeric-looking columns are right-aligned.
 */
void tr_table_print(const struct tr_table *t, FILE *out);

/* A streaming JSON writer (no whitespace, one document per writer). */
struct tr_json {
    FILE *out;          /* private */
    int depth;          /* private */
    int need_comma[64]; /* private */
    int after_key;      /* private */
};

void tr_json_init(struct tr_json *j, FILE *out);
void tr_json_obj_begin(struct tr_json *j);
void tr_json_obj_end(struct tr_json *j);
void tr_json_arr_begin(struct tr_json *j);
void tr_json_arr_end(struct tr_json *j);
void tr_json_key(struct tr_json *j, const char *key);
/* NULL writes null. */
void tr_json_str(struct tr_json *j, const char *s);
/* 'len' bytes, escaped; bytes that are not UTF-8 become \u00XX. */
void tr_json_strn(struct tr_json *j, const char *s, size_t len);
void tr_json_int(struct tr_json *j, int64_t v);
void tr_json_bool(struct tr_json *j, int v);
void tr_json_null(struct tr_json *j);
/* Ends the document with a newline. */
void tr_json_end(struct tr_json *j);

/*
 * Appends 's' (len bytes) to 'out' as a JSON string with quotes. Used by
 * the exporter's jsonl writer too.
 */
void tr_json_escape(FILE *out, const char *s, size_t len);

#endif /* TR_TABLE_H */
