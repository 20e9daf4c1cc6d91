/*
 * conf -- the properties/INI scanner and the typed value parsers.
 *
 * The scanner reads the whole file into memory (it is small, and capped),
 * joins continued lines into one logical line in a growable scratch buffer,
 * and splits that line according to the format. See conf.h for the syntax.
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/* A growable NUL-terminated string: the logical line being assembled. */
struct scratch {
    char *data;
    size_t len;
    size_t cap;
};

/* State of one parse: where we are, and the INI sections already seen. */
struct scan {
    const char *name;
    enum tr_conf_format format;
    tr_conf_entry_cb *cb;
    void *arg;
    char *errbuf;
    size_t errlen;
    char **sections; /* owned strings, for the duplicate check */
    size_t nsections;
    char *section; /* borrowed from 'sections'; NULL before the first */
};

static tr_err_t
scratch_append(struct scratch *s, const char *p, size_t n)
{
    char *grown;
    size_t cap;

    if (s->len + n + 1 > s->cap) {
        cap = s->cap ? s->cap : 128;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        grown = tr_realloc(s->data, cap);
        if (grown == NULL) {
            return TR_ERR_NOMEM;
        }
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
    return TR_OK;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\v';
}

/* Number of consecutive backslashes ending just before p[end]. */
static size_t
backslashes_before(const char *p, size_t end)
{
    size_t n = 0;

    while (n < end && p[end - 1 - n] == '\\') {
        n++;
    }
    return n;
}

/* Trims whitespace from both ends of [*start, *end), keeping escaped ones. */
static void
trim(const char *p, size_t *start, size_t *end, int escapes)
{
    while (*start < *end && is_space(p[*start])) {
        (*start)++;
    }
    while (*end > *start && is_space(p[*end - 1])) {
        if (escapes && backslashes_before(p, *end - 1) % 2 == 1) {
            break;
        }
        (*end)--;
    }
}

static void
report(struct scan *sc, int line, const char *reason)
{
    snprintf(sc->errbuf, sc->errlen, "%s:%d: %s", sc->name, line, reason);
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes Java-properties escapes of p[start, end) into 'out' (which must
 * hold end - start + 1 bytes: no escape grows). Fills 'reason' on a bad
 * \u escape.
 */
static tr_err_t
unescape(const char *p, size_t start, size_t end, char *out, char *reason,
         size_t reasonlen)
{
    size_t i, o = 0;
    unsigned cp;
    int k, h;

    for (i = start; i < end; i++) {
        if (p[i] != '\\' || i + 1 >= end) {
            out[o++] = p[i];
            continue;
        }
        i++;
        switch (p[i]) {
        case 't':
            out[o++] = '\t';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'u':
            cp = 0;
            for (k = 1; k <= 4; k++) {
                h = i + k < end ? hex_value(p[i + k]) : -1;
                if (h < 0) {
                    snprintf(reason, reasonlen,
                             "malformed \\uXXXX escape (four hex digits "
                             "expected)");
                    return TR_ERR_CONFIG;
                }
                cp = cp * 16 + (unsigned)h;
            }
            i += 4;
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                snprintf(reason, reasonlen,
                         "unsupported \\u%04X escape (NUL or surrogate)", cp);
                return TR_ERR_CONFIG;
            }
            /* UTF-8 takes at most 3 bytes here, \uXXXX took 6: no growth. */
            if (cp < 0x80) {
                out[o++] = (char)cp;
            } else if (cp < 0x800) {
                out[o++] = (char)(0xC0 | (cp >> 6));
                out[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[o++] = (char)(0xE0 | (cp >> 12));
                out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        default:
            out[o++] = p[i];
            break;
        }
    }
    out[o] = '\0';
    return TR_OK;
}

static tr_err_t
emit(struct scan *sc, int line, const char *key, const char *value)
{
    char reason[512];
    tr_err_t err;

    reason[0] = '\0';
    err = sc->cb(sc->section, key, value, sc->name, line, reason,
                 sizeof(reason), sc->arg);
    if (err != TR_OK) {
        report(sc, line, reason[0] ? reason : tr_err_str(err));
    }
    return err;
}

/* Splits one logical properties line into key and value. */
static tr_err_t
properties_line(struct scan *sc, int line, const char *p, size_t len)
{
    char reason[256];
    char *key = NULL, *value = NULL;
    size_t sep, kstart = 0, kend, vstart, vend = len;
    tr_err_t err = TR_ERR_CONFIG;

    for (sep = 0; sep < len; sep++) {
        if (p[sep] == '\\') {
            sep++;
            continue;
        }
        if (p[sep] == '=' || p[sep] == ':') {
            break;
        }
    }
    if (sep >= len) {
        report(sc, line, "expected key=value");
        goto out;
    }
    kend = sep;
    vstart = sep + 1;
    trim(p, &kstart, &kend, 1);
    trim(p, &vstart, &vend, 1);
    if (kstart == kend) {
        report(sc, line, "empty key before '='");
        goto out;
    }
    key = tr_malloc(kend - kstart + 1);
    value = tr_malloc(vend - vstart + 1);
    if (key == NULL || value == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    if (unescape(p, kstart, kend, key, reason, sizeof(reason)) != TR_OK ||
        unescape(p, vstart, vend, value, reason, sizeof(reason)) != TR_OK) {
        report(sc, line, reason);
        goto out;
    }
    err = emit(sc, line, key, value);
out:
    tr_free(key);
    tr_free(value);
    return err;
}

static tr_err_t
ini_section(struct scan *sc, int line, const char *p, size_t len)
{
    char reason[256];
    char **grown;
    char *name = NULL;
    size_t start = 1, end = len, i;
    tr_err_t err = TR_ERR_CONFIG;

    if (len < 2 || p[len - 1] != ']') {
        report(sc, line, "expected ']' to close the section name");
        goto out;
    }
    end = len - 1;
    trim(p, &start, &end, 0);
    if (start == end) {
        report(sc, line, "empty section name");
        goto out;
    }
    if (memchr(p + start, '[', end - start) != NULL ||
        memchr(p + start, ']', end - start) != NULL) {
        report(sc, line, "'[' or ']' inside a section name");
        goto out;
    }
    name = tr_strndup(p + start, end - start);
    if (name == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < sc->nsections; i++) {
        if (strcmp(sc->sections[i], name) == 0) {
            snprintf(reason, sizeof(reason), "duplicate section [%s]", name);
            report(sc, line, reason);
            goto out;
        }
    }
    grown = tr_realloc(sc->sections, (sc->nsections + 1) * sizeof(*grown));
    if (grown == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    sc->sections = grown;
    sc->sections[sc->nsections++] = name;
    sc->section = name;
    name = NULL;
    err = TR_OK;
out:
    tr_free(name);
    return err;
}

static tr_err_t
ini_line(struct scan *sc, int line, const char *p, size_t len)
{
    char *key = NULL, *value = NULL;
    const char *eq;
    size_t kstart = 0, kend, vstart, vend = len;
    tr_err_t err = TR_ERR_CONFIG;

    if (p[0] == '[') {
        while (len > 0 && is_space(p[len - 1])) {
            len--;
        }
        return ini_section(sc, line, p, len);
    }
    eq = memchr(p, '=', len);
    if (eq == NULL) {
        report(sc, line, "expected key = value or [section]");
        goto out;
    }
    kend = (size_t)(eq - p);
    vstart = kend + 1;
    trim(p, &kstart, &kend, 0);
    trim(p, &vstart, &vend, 0);
    if (kstart == kend) {
        report(sc, line, "empty key before '='");
        goto out;
    }
    key = tr_strndup(p + kstart, kend - kstart);
    value = tr_strndup(p + vstart, vend - vstart);
    if (key == NULL || value == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    err = emit(sc, line, key, value);
out:
    tr_free(key);
    tr_free(value);
    return err;
}

tr_err_t
tr_conf_parse_string(const char *text, size_t len, const char *name,
                     enum tr_conf_format format, tr_conf_entry_cb *cb,
                     void *arg, char *errbuf, size_t errlen)
{
    struct scan sc;
    struct scratch line = { NULL, 0, 0 };
    size_t pos = 0, eol, start, end, i;
    int lineno = 0, first, more;
    tr_err_t err = TR_ERR_CONFIG;

    memset(&sc, 0, sizeof(sc));
    sc.name = name;
    sc.format = format;
    sc.cb = cb;
    sc.arg = arg;
    sc.errbuf = errbuf;
    sc.errlen = errlen;
    if (errlen > 0) {
        errbuf[0] = '\0';
    }
    if (memchr(text, '\0', len) != NULL) {
        for (i = 0, lineno = 1; text[i] != '\0'; i++) {
            lineno += text[i] == '\n';
        }
        report(&sc, lineno, "file contains a NUL byte");
        goto out;
    }
    while (pos < len) {
        /* Assemble one logical line, joining continuations. */
        line.len = 0;
        first = lineno + 1;
        more = 1;
        while (more && pos < len) {
            lineno++;
            eol = pos;
            while (eol < len && text[eol] != '\n') {
                eol++;
            }
            start = pos;
            end = eol;
            pos = eol < len ? eol + 1 : eol;
            if (end > start && text[end - 1] == '\r') {
                end--;
            }
            while (start < end && is_space(text[start])) {
                start++;
            }
            if (line.len == 0 &&
                (start == end || text[start] == '#' ||
                 (format == TR_CONF_PROPERTIES && text[start] == '!') ||
                 (format == TR_CONF_INI && text[start] == ';'))) {
                /* Blank or comment: comments never continue. */
                first = lineno + 1;
                continue;
            }
            more = backslashes_before(text + start, end - start) % 2 == 1;
            if (more) {
                end--;
            }
            if (scratch_append(&line, text + start, end - start) != TR_OK) {
                err = TR_ERR_NOMEM;
                goto out;
            }
        }
        if (line.len == 0) {
            continue;
        }
        if (format == TR_CONF_PROPERTIES) {
            err = properties_line(&sc, first, line.data, line.len);
        } else {
            err = ini_line(&sc, first, line.data, line.len);
        }
        if (err != TR_OK) {
            goto out;
        }
    }
    err = TR_OK;
out:
    for (i = 0; i < sc.nsections; i++) {
        tr_free(sc.sections[i]);
    }
    tr_free(sc.sections);
    tr_free(line.data);
    return err;
}

tr_err_t
tr_conf_parse_file(const char *path, enum tr_conf_format format,
                   tr_conf_entry_cb *cb, void *arg, char *errbuf, size_t errlen)
{
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    ssize_t n;
    int fd;
    tr_err_t err = TR_ERR_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(errbuf, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > TR_CONF_MAX_FILE_BYTES) {
        snprintf(errbuf, errlen, "%s: larger than %d bytes", path,
                 TR_CONF_MAX_FILE_BYTES);
        err = TR_ERR_TOO_LARGE;
        goto out;
    }
    text = tr_malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        err = TR_ERR_NOMEM;
        snprintf(errbuf, errlen, "%s: out of memory", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(errbuf, errlen, "%s: cannot read: %s", path,
                     strerror(errno));
            goto out;
        }
        if (n == 0) {
            break; /* shrank meanwhile: parse what we have */
        }
        got += (size_t)n;
    }
    err =
        tr_conf_parse_string(text, got, path, format, cb, arg, errbuf, errlen);
out:
    if (fd >= 0) {
        close(fd);
    }
    tr_free(text);
    return err;
}

/* Parses a whole decimal int64 within [min, max], else fills 'reason'. */
static tr_err_t
parse_i64(const char *value, int64_t min, int64_t max, int64_t *out,
          char *reason, size_t reasonlen)
{
    char *end;
    long long v;

    errno = 0;
    if (value[0] == '\0' || is_space(value[0])) {
        snprintf(reason, reasonlen, "expected an integer, got '%s'", value);
        return TR_ERR_CONFIG;
    }
    v = strtoll(value, &end, 10);
    if (end == value || *end != '\0') {
        snprintf(reason, reasonlen, "expected an integer, got '%s'", value);
        return TR_ERR_CONFIG;
    }
    if (errno == ERANGE || v < min || v > max) {
        snprintf(reason, reasonlen,
                 "value %s is out of range [%" PRId64 ", %" PRId64 "]", value,
                 min, max);
        return TR_ERR_CONFIG;
    }
    *out = v;
    return TR_OK;
}

tr_err_t
tr_conf_parse_int32(const char *value, int32_t min, int32_t max, int32_t *out,
                    char *reason, size_t reasonlen)
{
    int64_t v;
    tr_err_t err;

    err = parse_i64(value, min, max, &v, reason, reasonlen);
    if (err == TR_OK) {
        *out = (int32_t)v;
    }
    return err;
}

tr_err_t
tr_conf_parse_int64(const char *value, int64_t min, int64_t max, int64_t *out,
                    char *reason, size_t reasonlen)
{
    return parse_i64(value, min, max, out, reason, reasonlen);
}

tr_err_t
tr_conf_parse_bool(const char *value, int *out, char *reason, size_t reasonlen)
{
    if (strcasecmp(value, "true") == 0) {
        *out = 1;
        return TR_OK;
    }
    if (strcasecmp(value, "false") == 0) {
        *out = 0;
        return TR_OK;
    }
    snprintf(reason, reasonlen, "expected true or false, got '%s'", value);
    return TR_ERR_CONFIG;
}

tr_err_t
tr_conf_parse_size(const char *value, int64_t min, int64_t max, int64_t *out,
                   char *reason, size_t reasonlen)
{
    static const char suffixes[] = "kmgt";
    char digits[32];
    const char *p, *unit;
    int64_t v, mult = 1;
    size_t ndigits;
    int shift;

    p = value;
    if (*p == '-' || *p == '+') {
        p++;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    ndigits = (size_t)(p - value);
    if (ndigits == 0 || ndigits >= sizeof(digits)) {
        snprintf(reason, reasonlen, "expected a size in bytes, got '%s'",
                 value);
        return TR_ERR_CONFIG;
    }
    if (*p != '\0') {
        unit = strchr(suffixes, *p | 0x20);
        if (unit == NULL ||
            (strcasecmp(p + 1, "") != 0 && strcasecmp(p + 1, "b") != 0 &&
             strcasecmp(p + 1, "ib") != 0)) {
            snprintf(reason, reasonlen,
                     "expected a size in bytes (optionally with k, m, g or "
                     "t), got '%s'",
                     value);
            return TR_ERR_CONFIG;
        }
        shift = 10 * (int)(unit - suffixes + 1);
        mult = (int64_t)1 << shift;
    }
    memcpy(digits, value, ndigits);
    digits[ndigits] = '\0';
    if (parse_i64(digits, INT64_MIN, INT64_MAX, &v, reason, reasonlen) !=
            TR_OK ||
        (v > 0 && v > INT64_MAX / mult) || (v < 0 && v < INT64_MIN / mult) ||
        v * mult < min || v * mult > max) {
        snprintf(reason, reasonlen,
                 "size %s is out of range [%" PRId64 ", %" PRId64 "] bytes",
                 value, min, max);
        return TR_ERR_CONFIG;
    }
    *out = v * mult;
    return TR_OK;
}

tr_err_t
tr_conf_parse_duration(const char *value, int64_t unit_ms, int64_t min,
                       int64_t max, int64_t *out_ms, char *reason,
                       size_t reasonlen)
{
    int64_t v;
    tr_err_t err;

    err = parse_i64(value, min, max, &v, reason, reasonlen);
    if (err != TR_OK) {
        return err;
    }
    if ((v > 0 && v > INT64_MAX / unit_ms) ||
        (v < 0 && v < INT64_MIN / unit_ms)) {
        snprintf(reason, reasonlen,
                 "duration %s overflows when converted to milliseconds", value);
        return TR_ERR_CONFIG;
    }
    *out_ms = v * unit_ms;
    return TR_OK;
}
