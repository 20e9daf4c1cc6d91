/*
 * table -- aligned text tables and a streaming JSON writer; see table.h.
 */
#include "table.h"

#include <stdarg.h>
#include <string.h>

#include "alloc.h"

struct tr_table {
    size_t ncols;
    char **headers;
    char **cells; /* rows * ncols */
    size_t rows;
    size_t cap;
};

struct tr_table *
tr_table_new(size_t ncols, const char *const *headers)
{
    struct tr_table *t = tr_calloc(1, sizeof(*t));
    size_t i;

    if (t == NULL) {
        return NULL;
    }
    t->ncols = ncols;
    t->headers = tr_calloc(ncols + 1, sizeof(char *));
    if (t->headers == NULL) {
        tr_free(t);
        return NULL;
    }
    for (i = 0; i < ncols; i++) {
        t->headers[i] = tr_strdup(headers[i]);
        if (t->headers[i] == NULL) {
            tr_table_free(t);
            return NULL;
        }
    }
    return t;
}

void
tr_table_free(struct tr_table *t)
{
    size_t i;

    if (t == NULL) {
        return;
    }
    for (i = 0; i < t->ncols; i++) {
        tr_free(t->headers[i]);
    }
    for (i = 0; i < t->rows * t->ncols; i++) {
        tr_free(t->cells[i]);
    }
    tr_free(t->headers);
    tr_free(t->cells);
    tr_free(t);
}

tr_err_t
tr_table_add(struct tr_table *t, const char *const *cells)
{
    size_t i;
    char **row;

    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **grown = tr_realloc(t->cells, cap * t->ncols * sizeof(char *));

        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        t->cells = grown;
        t->cap = cap;
    }
    row = t->cells + t->rows * t->ncols;
    for (i = 0; i < t->ncols; i++) {
        row[i] = tr_strdup(cells[i] != NULL ? cells[i] : "-");
        if (row[i] == NULL) {
            while (i-- > 0) {
                tr_free(row[i]);
            }
            return TR_ERR_NOMEM;
        }
    }
    t->rows++;
    return TR_OK;
}

tr_err_t
tr_table_addf(struct tr_table *t, const char *fmt, ...)
{
    char line[4096];
    const char *cells[64];
    char *p = line, *tab;
    size_t n = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    while (n < t->ncols && n < 64) {
        cells[n++] = p;
        tab = strchr(p, '\t');
        if (tab == NULL) {
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    while (n < t->ncols && n < 64) {
        cells[n++] = "";
    }
    return tr_table_add(t, cells);
}

size_t
tr_table_rows(const struct tr_table *t)
{
    return t->rows;
}

static int
numeric(const char *s)
{
    if (*s == '-' && s[1] != '\0') {
        s++;
    }
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if ((*s < '0' || *s > '9') && *s != '.' && *s != '%') {
            return 0;
        }
    }
    return 1;
}

void
tr_table_print(const struct tr_table *t, FILE *out)
{
    size_t widths[64] = { 0 };
    int right[64];
    size_t r, c, len, ncols = t->ncols < 64 ? t->ncols : 64;

    for (c = 0; c < ncols; c++) {
        widths[c] = strlen(t->headers[c]);
        right[c] = t->rows > 0;
        for (r = 0; r < t->rows; r++) {
            const char *cell = t->cells[r * t->ncols + c];

            len = strlen(cell);
            if (len > widths[c]) {
                widths[c] = len;
            }
            if (!numeric(cell) && strcmp(cell, "-") != 0) {
                right[c] = 0;
            }
        }
    }
    for (r = 0; r <= t->rows; r++) {
        for (c = 0; c < ncols; c++) {
            const char *cell =
                r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
            int last = c + 1 == ncols;

            if (right[c]) {
                fprintf(out, "%*s%s", (int)widths[c], cell, last ? "" : "  ");
            } else if (last) {
                fputs(cell, out);
            } else {
                fprintf(out, "%-*s  ", (int)widths[c], cell);
            }
        }
        fputc('\n', out);
    }
}

/* JSON. */

void
tr_json_init(struct tr_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

static void
sep(struct tr_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->need_comma[j->depth]) {
        fputc(',', j->out);
    }
    j->need_comma[j->depth] = 1;
}

static void
open_(struct tr_json *j, int ch)
{
    sep(j);
    fputc(ch, j->out);
    if (j->depth < 63) {
        j->depth++;
    }
    j->need_comma[j->depth] = 0;
}

static void
close_(struct tr_json *j, int ch)
{
    fputc(ch, j->out);
    if (j->depth > 0) {
        j->depth--;
    }
}

void
tr_json_obj_begin(struct tr_json *j)
{
    open_(j, '{');
}

void
tr_json_obj_end(struct tr_json *j)
{
    close_(j, '}');
}

void
tr_json_arr_begin(struct tr_json *j)
{
    open_(j, '[');
}

void
tr_json_arr_end(struct tr_json *j)
{
    close_(j, ']');
}

void
tr_json_escape(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k, n;

    fputc('"', out);
    while (i < len) {
        unsigned char ch = p[i];

        if (ch == '"' || ch == '\\') {
            fputc('\\', out);
            fputc(ch, out);
            i++;
        } else if (ch == '\n') {
            fputs("\\n", out);
            i++;
        } else if (ch == '\r') {
            fputs("\\r", out);
            i++;
        } else if (ch == '\t') {
            fputs("\\t", out);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(out, "\\u%04x", ch);
            i++;
        } else if (ch < 0x80) {
            fputc(ch, out);
            i++;
        } else {
            /* Copy a whole valid UTF-8 sequence, escape a stray byte. */
            n = ch >= 0xf0 && ch < 0xf5   ? 4
                : ch >= 0xe0              ? 3
                : ch >= 0xc2 && ch < 0xe0 ? 2
                                          : 0;
            if (ch >= 0xf5) {
                n = 0;
            }
            for (k = 1; n > 0 && k < n; k++) {
                if (i + k >= len || (p[i + k] & 0xc0) != 0x80) {
                    n = 0;
                }
            }
            if (n == 0) {
                fprintf(out, "\\u%04x", ch);
                i++;
            } else {
                fwrite(p + i, 1, n, out);
                i += n;
            }
        }
    }
    fputc('"', out);
}

void
tr_json_key(struct tr_json *j, const char *key)
{
    sep(j);
    tr_json_escape(j->out, key, strlen(key));
    fputc(':', j->out);
    j->after_key = 1;
}

void
tr_json_str(struct tr_json *j, const char *s)
{
    if (s == NULL) {
        tr_json_null(j);
        return;
    }
    tr_json_strn(j, s, strlen(s));
}

void
tr_json_strn(struct tr_json *j, const char *s, size_t len)
{
    sep(j);
    tr_json_escape(j->out, s, len);
}

void
tr_json_int(struct tr_json *j, int64_t v)
{
    sep(j);
    fprintf(j->out, "%lld", (long long)v);
}

void
tr_json_bool(struct tr_json *j, int v)
{
    sep(j);
    fputs(v ? "true" : "false", j->out);
}

void
tr_json_null(struct tr_json *j)
{
    sep(j);
    fputs("null", j->out);
}

void
tr_json_end(struct tr_json *j)
{
    fputc('\n', j->out);
}
