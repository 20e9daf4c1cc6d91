/*
 * parse -- filters, captures, key templates, multiline starts and record
 * times with PCRE2 (see parse.h).
 */
#define _GNU_SOURCE /* strptime, timegm, tm_gmtoff */
#include "parse.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

/* Keys longer than this are cut: a key is for partitioning, not payload. */
#define KEY_MAX 1024

enum seg_kind {
    SEG_LITERAL,
    SEG_HOST,
    SEG_PATH,
    SEG_FILE,
    SEG_CAPTURE,
};

struct seg {
    enum seg_kind kind;
    size_t off, len; /* SEG_LITERAL: bytes of tmpl */
    uint32_t group;  /* SEG_CAPTURE */
};

struct tr_parse {
    pcre2_code *pattern, *include, *exclude, *start;
    pcre2_match_data *md; /* sized for the largest of them */
    char *tmpl;           /* key template, or NULL */
    struct seg *segs;
    size_t nsegs;
    int time_group; /* -1: none */
    char *time_format;
    char key[KEY_MAX];
};

static tr_err_t
compile(const char *opt, const char *src, pcre2_code **out, char *errbuf,
        size_t errlen)
{
    int code;
    PCRE2_SIZE at;

    *out = NULL;
    if (src == NULL) {
        return TR_OK;
    }
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, 0, &code, &at,
                         NULL);
    if (*out == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(errbuf, errlen, "%s: at offset %zu: %s", opt, (size_t)at,
                 (const char *)msg);
        return TR_ERR_CONFIG;
    }
    /* JIT is an optimisation: without it (no JIT support) matching works. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return TR_OK;
}

static tr_err_t
add_seg(struct tr_parse *p, enum seg_kind kind, size_t off, size_t len,
        uint32_t group)
{
    struct seg *ns = tr_realloc(p->segs, (p->nsegs + 1) * sizeof(*ns));
    if (ns == NULL) {
        return TR_ERR_NOMEM;
    }
    p->segs = ns;
    ns[p->nsegs].kind = kind;
    ns[p->nsegs].off = off;
    ns[p->nsegs].len = len;
    ns[p->nsegs].group = group;
    p->nsegs++;
    return TR_OK;
}

static tr_err_t
compile_template(struct tr_parse *p, char *errbuf, size_t errlen)
{
    const char *t = p->tmpl;
    size_t i = 0, lit = 0;
    tr_err_t err;

    while (t[i]) {
        if (t[i] != '$' || t[i + 1] != '{') {
            i++;
            continue;
        }
        if (i > lit && (err = add_seg(p, SEG_LITERAL, lit, i - lit, 0))) {
            return err;
        }
        const char *end = strchr(t + i + 2, '}');
        if (end == NULL) {
            snprintf(errbuf, errlen, "key: unclosed '${' at offset %zu", i);
            return TR_ERR_CONFIG;
        }
        size_t nlen = (size_t)(end - (t + i + 2));
        char name[128];
        if (nlen == 0 || nlen >= sizeof(name)) {
            snprintf(errbuf, errlen, "key: bad variable at offset %zu", i);
            return TR_ERR_CONFIG;
        }
        memcpy(name, t + i + 2, nlen);
        name[nlen] = '\0';
        if (strcmp(name, "host") == 0) {
            err = add_seg(p, SEG_HOST, 0, 0, 0);
        } else if (strcmp(name, "path") == 0) {
            err = add_seg(p, SEG_PATH, 0, 0, 0);
        } else if (strcmp(name, "file") == 0) {
            err = add_seg(p, SEG_FILE, 0, 0, 0);
        } else {
            int g = p->pattern ? pcre2_substring_number_from_name(
                                     p->pattern, (PCRE2_SPTR)name)
                               : PCRE2_ERROR_NOSUBSTRING;
            if (g < 0) {
                snprintf(errbuf, errlen,
                         "key: '${%s}' is neither host, path, file nor a "
                         "named capture of pattern",
                         name);
                return TR_ERR_CONFIG;
            }
            err = add_seg(p, SEG_CAPTURE, 0, 0, (uint32_t)g);
        }
        if (err != TR_OK) {
            return err;
        }
        i = (size_t)(end - t) + 1;
        lit = i;
    }
    if (i > lit) {
        return add_seg(p, SEG_LITERAL, lit, i - lit, 0);
    }
    return TR_OK;
}

tr_err_t
tr_parse_new(const struct tr_agent_input *in, struct tr_parse **out,
             char *errbuf, size_t errlen)
{
    struct tr_parse *p = tr_calloc(1, sizeof(*p));
    tr_err_t err = TR_ERR_NOMEM;

    if (p == NULL) {
        goto out;
    }
    p->time_group = -1;
    if ((err = compile("pattern", in->pattern, &p->pattern, errbuf, errlen)) !=
            TR_OK ||
        (err = compile("include_lines", in->include_lines, &p->include, errbuf,
                       errlen)) != TR_OK ||
        (err = compile("exclude_lines", in->exclude_lines, &p->exclude, errbuf,
                       errlen)) != TR_OK ||
        (err = compile("multiline_start", in->multiline_start, &p->start,
                       errbuf, errlen)) != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    /* One match data for all four patterns: size it for the largest. */
    uint32_t pairs = 1, n;
    pcre2_code *all[] = { p->pattern, p->include, p->exclude, p->start };
    for (size_t i = 0; i < 4; i++) {
        if (all[i] != NULL &&
            pcre2_pattern_info(all[i], PCRE2_INFO_CAPTURECOUNT, &n) == 0 &&
            n + 1 > pairs) {
            pairs = n + 1;
        }
    }
    p->md = pcre2_match_data_create(pairs, NULL);
    if (p->md == NULL) {
        goto out;
    }
    if (in->key != NULL) {
        p->tmpl = tr_strdup(in->key);
        if (p->tmpl == NULL) {
            goto out;
        }
        if ((err = compile_template(p, errbuf, errlen)) != TR_OK) {
            goto out;
        }
    }
    if (in->time_capture != NULL) {
        p->time_group = pcre2_substring_number_from_name(
            p->pattern, (PCRE2_SPTR)in->time_capture);
        if (p->time_group < 0) {
            snprintf(errbuf, errlen,
                     "time_capture: '%s' is not a named capture of pattern",
                     in->time_capture);
            err = TR_ERR_CONFIG;
            goto out;
        }
        p->time_format = tr_strdup(in->time_format ? in->time_format : "");
        if (p->time_format == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    *out = p;
    p = NULL;
    err = TR_OK;
out:
    if (err == TR_ERR_NOMEM) {
        snprintf(errbuf, errlen, "out of memory");
    }
    tr_parse_free(p);
    return err;
}

void
tr_parse_free(struct tr_parse *p)
{
    if (p == NULL) {
        return;
    }
    pcre2_code_free(p->pattern);
    pcre2_code_free(p->include);
    pcre2_code_free(p->exclude);
    pcre2_code_free(p->start);
    pcre2_match_data_free(p->md);
    tr_free(p->tmpl);
    tr_free(p->segs);
    tr_free(p->time_format);
    tr_free(p);
}

static int
match(struct tr_parse *p, pcre2_code *re, const char *s, size_t len)
{
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, p->md, NULL) >= 0;
}

static size_t
append(char *out, size_t used, size_t cap, const char *s, size_t len)
{
    if (used + len > cap) {
        len = cap - used;
    }
    memcpy(out + used, s, len);
    return used + len;
}

int
tr_parse_line(struct tr_parse *p, const char *line, size_t len,
              const struct tr_parse_ctx *ctx, struct tr_parse_result *res)
{
    res->key = NULL;
    res->key_len = 0;
    res->timestamp_ms = -1;
    if (p->include != NULL && !match(p, p->include, line, len)) {
        return 0;
    }
    if (p->exclude != NULL && match(p, p->exclude, line, len)) {
        return 0;
    }
    int matched = p->pattern != NULL && match(p, p->pattern, line, len);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
    uint32_t npairs = pcre2_get_ovector_count(p->md);

    if (p->tmpl != NULL) {
        size_t used = 0;
        for (size_t i = 0; i < p->nsegs; i++) {
            const struct seg *s = &p->segs[i];
            switch (s->kind) {
            case SEG_LITERAL:
                used = append(p->key, used, KEY_MAX, p->tmpl + s->off, s->len);
                break;
            case SEG_HOST:
                used =
                    append(p->key, used, KEY_MAX, ctx->host, strlen(ctx->host));
                break;
            case SEG_PATH:
                used =
                    append(p->key, used, KEY_MAX, ctx->path, strlen(ctx->path));
                break;
            case SEG_FILE:
                used =
                    append(p->key, used, KEY_MAX, ctx->file, strlen(ctx->file));
                break;
            case SEG_CAPTURE:
                if (matched && s->group < npairs &&
                    ov[2 * s->group] != PCRE2_UNSET) {
                    used =
                        append(p->key, used, KEY_MAX, line + ov[2 * s->group],
                               ov[2 * s->group + 1] - ov[2 * s->group]);
                }
                break;
            }
        }
        res->key = p->key;
        res->key_len = used;
    }
    if (matched && p->time_group >= 0 && (uint32_t)p->time_group < npairs &&
        ov[2 * p->time_group] != PCRE2_UNSET) {
        size_t a = ov[2 * p->time_group], b = ov[2 * p->time_group + 1];
        res->timestamp_ms = tr_parse_time(line + a, b - a, p->time_format);
    }
    return 1;
}

int
tr_parse_multiline(const struct tr_parse *p)
{
    return p->start != NULL;
}

int
tr_parse_event_start(struct tr_parse *p, const char *line, size_t len)
{
    if (p->start == NULL) {
        return 1;
    }
    return match(p, p->start, line, len);
}

long
tr_parse_expand(const char *tmpl, const struct tr_parse_ctx *ctx, char *out,
                size_t outlen)
{
    size_t used = 0;
    const char *t = tmpl;

    while (*t) {
        const char *v = NULL;
        size_t vlen = 1, skip = 1;
        if (t[0] == '$' && t[1] == '{') {
            const char *end = strchr(t + 2, '}');
            if (end == NULL) {
                return -1;
            }
            size_t n = (size_t)(end - t - 2);
            if (n == 4 && memcmp(t + 2, "host", 4) == 0) {
                v = ctx->host;
            } else if (n == 4 && memcmp(t + 2, "path", 4) == 0) {
                v = ctx->path;
            } else if (n == 4 && memcmp(t + 2, "file", 4) == 0) {
                v = ctx->file;
            } else {
                return -1;
            }
            vlen = strlen(v);
            skip = n + 3;
        } else {
            v = t;
        }
        if (used + vlen >= outlen) {
            return -1;
        }
        memcpy(out + used, v, vlen);
        used += vlen;
        t += skip;
    }
    if (outlen > 0) {
        out[used] = '\0';
    }
    return (long)used;
}

int64_t
tr_parse_time(const char *text, size_t len, const char *format)
{
    char buf[128];
    struct tm tm;

    if (len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(buf, format, &tm);
    if (end == NULL) {
        return -1;
    }
    long gmtoff = tm.tm_gmtoff;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return -1;
    }
    int64_t ms = ((int64_t)t - gmtoff) * 1000;
    if (*end == '.' || *end == ',') {
        int64_t scale = 100;
        for (end++; *end >= '0' && *end <= '9'; end++) {
            ms += (*end - '0') * scale;
            scale /= 10;
        }
    }
    return ms;
}
