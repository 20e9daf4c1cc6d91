/*
 * principal -- ssl.principal.mapping.rules; see principal.h.
 */
#include "principal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

struct rule {
    int is_default;
    pcre2_code *re;    /* NULL for DEFAULT */
    char *replacement; /* '\/' already turned into '/' */
    char fold;         /* 0, 'L' or 'U' */
};

struct tr_principal_rules {
    size_t count;
    struct rule rules[];
};

/* Subjects and names are short; this bounds a replacement's output. */
#define NAME_MAX_OUT 4096

static const char *
skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/*
 * Reads a '/'-terminated part of a RULE starting at 'p': "\/" stands for
 * '/', any other backslash pair is kept as it is (the regex needs it).
 * Returns a copy (caller frees) and leaves '*end' after the '/', or NULL
 * if there is no closing '/'.
 */
static char *
read_part(const char *p, const char **end)
{
    const char *q = p;
    char *copy, *w;

    while (*q != '\0' && *q != '/') {
        if (*q == '\\' && q[1] != '\0') {
            q++;
        }
        q++;
    }
    if (*q != '/') {
        return NULL;
    }
    copy = tr_malloc((size_t)(q - p) + 1);
    if (copy == NULL) {
        return NULL;
    }
    for (w = copy; p < q; p++) {
        if (*p == '\\' && p[1] == '/') {
            p++;
        } else if (*p == '\\') {
            *w++ = *p++;
        }
        *w++ = *p;
    }
    *w = '\0';
    *end = q + 1;
    return copy;
}

/* The highest "$n" or "${n}" group number in 'replacement'. */
static long
max_group_ref(const char *replacement)
{
    const char *p;
    long max = 0, n;

    for (p = replacement; *p != '\0'; p++) {
        if (*p != '$') {
            continue;
        }
        if (p[1] == '$') {
            p++;
            continue;
        }
        n = 0;
        if (p[1] == '{') {
            p += 2;
        } else {
            p++;
        }
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p - '0');
            if (n > 100000) {
                return n;
            }
            p++;
        }
        if (n > max) {
            max = n;
        }
        p--;
    }
    return max;
}

static tr_err_t
compile_rule(struct rule *r, const char *pattern, char *errbuf, size_t errlen)
{
    int code;
    PCRE2_SIZE at;
    uint32_t groups = 0;
    char msg[256];

    r->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code,
                          &at, NULL);
    if (r->re == NULL) {
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
        snprintf(errbuf, errlen,
                 "ssl.principal.mapping.rules: bad regex '%s' at %zu: %s",
                 pattern, (size_t)at, msg);
        return TR_ERR_CONFIG;
    }
    pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (max_group_ref(r->replacement) > (long)groups) {
        snprintf(errbuf, errlen,
                 "ssl.principal.mapping.rules: replacement '%s' names a "
                 "group that '%s' does not have",
                 r->replacement, pattern);
        return TR_ERR_CONFIG;
    }
    return TR_OK;
}

/* Parses the rule at '*pp' into 'r' and moves '*pp' past its comma. */
static tr_err_t
parse_rule(const char **pp, struct rule *r, char *errbuf, size_t errlen)
{
    const char *p = skip_space(*pp), *start = p;
    char *pattern = NULL;
    tr_err_t err = TR_ERR_CONFIG;

    if (strncmp(p, "DEFAULT", 7) == 0) {
        r->is_default = 1;
        p += 7;
    } else if (strncmp(p, "RULE:", 5) == 0) {
        pattern = read_part(p + 5, &p);
        if (pattern != NULL) {
            r->replacement = read_part(p, &p);
        }
        if (pattern == NULL || r->replacement == NULL) {
            goto bad;
        }
        if (*p == 'L' || *p == 'U') {
            r->fold = *p++;
        }
        err = compile_rule(r, pattern, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        err = TR_ERR_CONFIG;
    } else {
        goto bad;
    }
    p = skip_space(p);
    if (*p != ',' && *p != '\0') {
        goto bad;
    }
    *pp = *p == ',' ? p + 1 : p;
    err = TR_OK;
    goto out;
bad:
    snprintf(errbuf, errlen,
             "ssl.principal.mapping.rules: invalid rule at '%.60s' "
             "(expected DEFAULT or RULE:regex/replacement/[L|U])",
             start);
out:
    tr_free(pattern);
    return err;
}

tr_err_t
tr_principal_rules_parse(const char *text, struct tr_principal_rules **out,
                         char *errbuf, size_t errlen)
{
    struct tr_principal_rules *rules = NULL;
    const char *p;
    size_t n = 1;
    tr_err_t err = TR_OK;

    *out = NULL;
    if (text == NULL || *skip_space(text) == '\0') {
        text = "DEFAULT";
    }
    /* Commas may sit inside regexes: this only bounds the count. */
    for (p = text; *p != '\0'; p++) {
        n += *p == ',';
    }
    rules = tr_calloc(1, sizeof(*rules) + n * sizeof(rules->rules[0]));
    if (rules == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    p = text;
    while (*skip_space(p) != '\0') {
        err = parse_rule(&p, &rules->rules[rules->count], errbuf, errlen);
        rules->count++; /* counted even on error, to be freed */
        if (err != TR_OK) {
            goto out;
        }
    }
    if (rules->count == 0) {
        snprintf(errbuf, errlen, "ssl.principal.mapping.rules: no rule");
        err = TR_ERR_CONFIG;
        goto out;
    }
    *out = rules;
    rules = NULL;
out:
    tr_principal_rules_free(rules);
    return err;
}

void
tr_principal_rules_free(struct tr_principal_rules *rules)
{
    size_t i;

    if (rules == NULL) {
        return;
    }
    for (i = 0; i < rules->count; i++) {
        pcre2_code_free(rules->rules[i].re);
        tr_free(rules->rules[i].replacement);
    }
    tr_free(rules);
}

/*
 * Applies one RULE: if its regex matches the whole of 'dn', 'out' gets
 * 'dn' with every match replaced (Java's replaceAll), case-folded as the
 * rule says. Returns TR_ERR_NOT_FOUND when the regex does not match.
 */
static tr_err_t
apply_rule(const struct rule *r, const char *dn, char *out, size_t outlen)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->re, NULL);
    PCRE2_SIZE len = outlen;
    size_t i;
    int rc;
    tr_err_t err = TR_ERR_NOT_FOUND;

    if (md == NULL) {
        return TR_ERR_NOMEM;
    }
    rc = pcre2_match(r->re, (PCRE2_SPTR)dn, strlen(dn), 0,
                     PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL);
    if (rc < 0) {
        goto out;
    }
    rc = pcre2_substitute(r->re, (PCRE2_SPTR)dn, strlen(dn), 0,
                          PCRE2_SUBSTITUTE_GLOBAL, md, NULL,
                          (PCRE2_SPTR)r->replacement, PCRE2_ZERO_TERMINATED,
                          (PCRE2_UCHAR *)out, &len);
    if (rc == PCRE2_ERROR_NOMEMORY) {
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    if (rc < 0) {
        err = TR_ERR_INVALID;
        goto out;
    }
    for (i = 0; i < len; i++) {
        if (r->fold == 'L') {
            out[i] = (char)tolower((unsigned char)out[i]);
        } else if (r->fold == 'U') {
            out[i] = (char)toupper((unsigned char)out[i]);
        }
    }
    err = TR_OK;
out:
    pcre2_match_data_free(md);
    return err;
}

tr_err_t
tr_principal_map(const struct tr_principal_rules *rules, const char *dn,
                 char *out, size_t outlen)
{
    size_t i;
    tr_err_t err;

    if (outlen > NAME_MAX_OUT) {
        outlen = NAME_MAX_OUT;
    }
    for (i = 0; i < rules->count; i++) {
        const struct rule *r = &rules->rules[i];

        if (r->is_default) {
            if (strlen(dn) >= outlen) {
                return TR_ERR_TOO_LARGE;
            }
            memcpy(out, dn, strlen(dn) + 1);
            return TR_OK;
        }
        err = apply_rule(r, dn, out, outlen);
        if (err != TR_ERR_NOT_FOUND) {
            return err;
        }
    }
    return TR_ERR_INVALID;
}
