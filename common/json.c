/*
 * json -- strict, bounds-checked JSON reader for ZooKeeper znodes, and a
 * string escaper for writing them. See json.h for the contract.
 *
 * One recursive-descent scanner does all the checking. tr_json_parse() runs
 * it over the whole document; tr_json_next() runs it over one member at a
 * time, so every reader re-checks the bytes it walks and none trusts a view.
 * Recursion only happens on '[' and '{', and stops at TR_JSON_MAX_DEPTH.
 * Strings are never unescaped in place: string_char() yields one code point
 * at a time, and the readers encode or compare it as they go.
 */
#include "json.h"

#include <string.h>

/* A position inside the bytes of a document or of one view. */
struct scanner {
    const unsigned char *s;
    size_t len;
    size_t pos;
};

static tr_err_t scan_value(struct scanner *sc, int depth,
                           struct tr_json_value *out);

static void
scanner_init(struct scanner *sc, const char *data, size_t len, size_t pos)
{
    sc->s = (const unsigned char *)data;
    sc->len = len;
    sc->pos = pos;
}

/* Returns the next byte without consuming it, or -1 at the end. */
static int
peek(const struct scanner *sc)
{
    return sc->pos < sc->len ? sc->s[sc->pos] : -1;
}

static void
skip_ws(struct scanner *sc)
{
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        sc->pos++;
    }
}

/*
 * Decodes one UTF-8 sequence from the 'avail' bytes at 'p'. Returns its
 * length, or 0 unless it is the shortest encoding of a Unicode scalar value
 * (no overlong forms, no surrogates, nothing past U+10FFFF).
 */
static size_t
utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t n, i;
    uint32_t c;

    if (avail == 0) {
        return 0;
    }
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > avail) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return n;
}

/* Writes scalar value 'cp' as UTF-8 into 'out'; returns the length. */
static size_t
utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the four hex digits of a \u escape. */
static tr_err_t
hex4(struct scanner *sc, uint32_t *v)
{
    size_t i;

    if (sc->len - sc->pos < 4) {
        return TR_ERR_CORRUPT;
    }
    *v = 0;
    for (i = 0; i < 4; i++) {
        unsigned char c = sc->s[sc->pos++];

        if (c >= '0' && c <= '9') {
            *v = (*v << 4) | (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            *v = (*v << 4) | (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            *v = (*v << 4) | (uint32_t)(c - 'A' + 10);
        } else {
            return TR_ERR_CORRUPT;
        }
    }
    return TR_OK;
}

/*
 * Reads one character of a string whose opening quote 'sc' has passed: a
 * UTF-8 sequence or an escape (a surrogate pair counts as one). Sets '*end'
 * instead, after consuming it, at the closing quote. Raw control characters,
 * unknown escapes, bad UTF-8 and unpaired surrogates are corrupt.
 */
static tr_err_t
string_char(struct scanner *sc, uint32_t *cp, int *end)
{
    const unsigned char *p = sc->s + sc->pos;
    size_t avail = sc->len - sc->pos;
    uint32_t low;
    size_t n;

    *end = 0;
    if (avail == 0 || p[0] < 0x20) {
        return TR_ERR_CORRUPT;
    }
    if (p[0] == '"') {
        sc->pos++;
        *end = 1;
        return TR_OK;
    }
    if (p[0] != '\\') {
        n = utf8_decode(p, avail, cp);
        if (n == 0) {
            return TR_ERR_CORRUPT;
        }
        sc->pos += n;
        return TR_OK;
    }
    if (avail < 2) {
        return TR_ERR_CORRUPT;
    }
    sc->pos += 2;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
        *cp = p[1];
        return TR_OK;
    case 'b':
        *cp = '\b';
        return TR_OK;
    case 'f':
        *cp = '\f';
        return TR_OK;
    case 'n':
        *cp = '\n';
        return TR_OK;
    case 'r':
        *cp = '\r';
        return TR_OK;
    case 't':
        *cp = '\t';
        return TR_OK;
    case 'u':
        break;
    default:
        return TR_ERR_CORRUPT;
    }
    if (hex4(sc, cp) != TR_OK || (*cp >= 0xdc00 && *cp <= 0xdfff)) {
        return TR_ERR_CORRUPT;
    }
    if (*cp < 0xd800 || *cp > 0xdbff) {
        return TR_OK;
    }
    /* A high surrogate: the low half must follow as another \u escape. */
    if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' ||
        sc->s[sc->pos + 1] != 'u') {
        return TR_ERR_CORRUPT;
    }
    sc->pos += 2;
    if (hex4(sc, &low) != TR_OK || low < 0xdc00 || low > 0xdfff) {
        return TR_ERR_CORRUPT;
    }
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
    return TR_OK;
}

/* Scans a string from its opening quote to just past its closing one. */
static tr_err_t
scan_string(struct scanner *sc)
{
    uint32_t cp;
    int end = 0;

    if (peek(sc) != '"') {
        return TR_ERR_CORRUPT;
    }
    sc->pos++;
    while (!end) {
        if (string_char(sc, &cp, &end) != TR_OK) {
            return TR_ERR_CORRUPT;
        }
    }
    return TR_OK;
}

/* Consumes a run of digits; returns how many. */
static size_t
scan_digits(struct scanner *sc)
{
    size_t start = sc->pos;

    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' &&
           sc->s[sc->pos] <= '9') {
        sc->pos++;
    }
    return sc->pos - start;
}

/*
 * Scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? A leading
 * zero followed by a digit ends the number at the zero, and the caller then
 * finds the digit where a delimiter should be.
 */
static tr_err_t
scan_number(struct scanner *sc)
{
    if (peek(sc) == '-') {
        sc->pos++;
    }
    if (peek(sc) == '0') {
        sc->pos++;
    } else if (scan_digits(sc) == 0) {
        return TR_ERR_CORRUPT;
    }
    if (peek(sc) == '.') {
        sc->pos++;
        if (scan_digits(sc) == 0) {
            return TR_ERR_CORRUPT;
        }
    }
    if (peek(sc) == 'e' || peek(sc) == 'E') {
        sc->pos++;
        if (peek(sc) == '+' || peek(sc) == '-') {
            sc->pos++;
        }
        if (scan_digits(sc) == 0) {
            return TR_ERR_CORRUPT;
        }
    }
    return TR_OK;
}

static tr_err_t
scan_literal(struct scanner *sc, const char *word)
{
    size_t n = strlen(word);

    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0) {
        return TR_ERR_CORRUPT;
    }
    sc->pos += n;
    return TR_OK;
}

/*
 * Scans the next member of the array or object whose opening bracket 'sc'
 * has passed: the ',' unless it is the first, then for an object the key
 * and ':', then the value (nested 'depth' containers deep). Returns
 * TR_ERR_NOT_FOUND, just past the closing bracket, when there are no more.
 * 'key' is set only for an object.
 */
static tr_err_t
next_member(struct scanner *sc, int object, int first, int depth,
            struct tr_json_value *key, struct tr_json_value *val)
{
    size_t start;

    skip_ws(sc);
    if (peek(sc) == (object ? '}' : ']')) {
        sc->pos++;
        return TR_ERR_NOT_FOUND;
    }
    if (!first) {
        if (peek(sc) != ',') {
            return TR_ERR_CORRUPT;
        }
        sc->pos++;
        skip_ws(sc);
    }
    if (object) {
        start = sc->pos;
        if (scan_string(sc) != TR_OK) {
            return TR_ERR_CORRUPT;
        }
        key->type = TR_JSON_STRING;
        key->ptr = (const char *)sc->s + start;
        key->len = sc->pos - start;
        skip_ws(sc);
        if (peek(sc) != ':') {
            return TR_ERR_CORRUPT;
        }
        sc->pos++;
        skip_ws(sc);
    }
    return scan_value(sc, depth, val);
}

/* Scans an array or object from its opening bracket past its closing one. */
static tr_err_t
scan_container(struct scanner *sc, int object, int depth)
{
    struct tr_json_value key, val;
    tr_err_t err;
    int first = 1;

    sc->pos++;
    while ((err = next_member(sc, object, first, depth, &key, &val)) == TR_OK) {
        first = 0;
    }
    return err == TR_ERR_NOT_FOUND ? TR_OK : err;
}

/*
 * Scans one value starting exactly at 'sc' (no leading whitespace) that sits
 * inside 'depth' containers, and points 'out' at it.
 */
static tr_err_t
scan_value(struct scanner *sc, int depth, struct tr_json_value *out)
{
    size_t start = sc->pos;
    tr_err_t err;

    switch (peek(sc)) {
    case '{':
    case '[':
        if (depth >= TR_JSON_MAX_DEPTH) {
            return TR_ERR_CORRUPT;
        }
        out->type = peek(sc) == '{' ? TR_JSON_OBJECT : TR_JSON_ARRAY;
        err = scan_container(sc, out->type == TR_JSON_OBJECT, depth + 1);
        break;
    case '"':
        out->type = TR_JSON_STRING;
        err = scan_string(sc);
        break;
    case 't':
        out->type = TR_JSON_TRUE;
        err = scan_literal(sc, "true");
        break;
    case 'f':
        out->type = TR_JSON_FALSE;
        err = scan_literal(sc, "false");
        break;
    case 'n':
        out->type = TR_JSON_NULL;
        err = scan_literal(sc, "null");
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        out->type = TR_JSON_NUMBER;
        err = scan_number(sc);
        break;
    default:
        return TR_ERR_CORRUPT;
    }
    if (err != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    out->ptr = (const char *)sc->s + start;
    out->len = sc->pos - start;
    return TR_OK;
}

tr_err_t
tr_json_parse(const char *data, size_t len, struct tr_json_value *root)
{
    struct scanner sc;
    struct tr_json_value v;

    if (data == NULL && len > 0) {
        return TR_ERR_INVALID;
    }
    scanner_init(&sc, data, len, 0);
    skip_ws(&sc);
    if (scan_value(&sc, 0, &v) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    skip_ws(&sc);
    if (sc.pos != sc.len) {
        return TR_ERR_CORRUPT;
    }
    *root = v;
    return TR_OK;
}

tr_err_t
tr_json_iter_init(struct tr_json_iter *it, const struct tr_json_value *v)
{
    char open;

    if (v->type != TR_JSON_ARRAY && v->type != TR_JSON_OBJECT) {
        it->err = TR_ERR_INVALID;
        return it->err;
    }
    it->object = v->type == TR_JSON_OBJECT;
    open = it->object ? '{' : '[';
    it->data = v->ptr;
    it->len = v->len;
    it->pos = 1;
    it->count = 0;
    it->err = TR_OK;
    if (v->ptr == NULL || v->len < 2 || v->ptr[0] != open) {
        it->err = TR_ERR_CORRUPT;
    }
    return it->err;
}

tr_err_t
tr_json_next(struct tr_json_iter *it, struct tr_json_value *key,
             struct tr_json_value *val)
{
    struct scanner sc;
    struct tr_json_value k = { TR_JSON_NULL, NULL, 0 };
    struct tr_json_value v;
    tr_err_t err;

    if (it->err != TR_OK) {
        return it->err;
    }
    scanner_init(&sc, it->data, it->len, it->pos);
    err = next_member(&sc, it->object, it->count == 0, 1, &k, &v);
    if (err == TR_ERR_NOT_FOUND && sc.pos != sc.len) {
        /* The view's text must end at its closing bracket. */
        err = TR_ERR_CORRUPT;
    }
    if (err != TR_OK) {
        it->err = err;
        return err;
    }
    it->pos = sc.pos;
    it->count++;
    if (key != NULL) {
        *key = k;
    }
    *val = v;
    return TR_OK;
}

/*
 * Sets up 'sc' just inside string view 'v'. TR_ERR_INVALID if 'v' is not a
 * string, TR_ERR_CORRUPT if its text does not start like one.
 */
static tr_err_t
string_open(const struct tr_json_value *v, struct scanner *sc)
{
    if (v->type != TR_JSON_STRING) {
        return TR_ERR_INVALID;
    }
    if (v->ptr == NULL || v->len < 2 || v->ptr[0] != '"') {
        return TR_ERR_CORRUPT;
    }
    scanner_init(sc, v->ptr, v->len, 1);
    return TR_OK;
}

/*
 * Returns TR_OK if string view 'v' unescapes to exactly 'want', else
 * TR_ERR_NOT_FOUND (or the view's error).
 */
static tr_err_t
string_equals(const struct tr_json_value *v, const char *want)
{
    struct scanner sc;
    unsigned char u[4];
    uint32_t cp;
    size_t i = 0, n, j;
    int end = 0;
    tr_err_t err = string_open(v, &sc);

    while (err == TR_OK) {
        err = string_char(&sc, &cp, &end);
        if (err != TR_OK || end) {
            break;
        }
        if (cp == 0) {
            /* 'want' cannot hold U+0000: compare the rest for errors only. */
            want = NULL;
        }
        n = utf8_encode(cp, u);
        for (j = 0; want != NULL && j < n; j++, i++) {
            if ((unsigned char)want[i] != u[j]) {
                want = NULL;
            }
        }
    }
    if (err != TR_OK) {
        return err;
    }
    if (sc.pos != sc.len) {
        return TR_ERR_CORRUPT;
    }
    return want != NULL && want[i] == '\0' ? TR_OK : TR_ERR_NOT_FOUND;
}

tr_err_t
tr_json_get(const struct tr_json_value *obj, const char *key,
            struct tr_json_value *out)
{
    struct tr_json_iter it;
    struct tr_json_value k, v;
    struct tr_json_value found = { TR_JSON_NULL, NULL, 0 };
    int nfound = 0;
    tr_err_t err;

    if (obj->type != TR_JSON_OBJECT) {
        return TR_ERR_INVALID;
    }
    err = tr_json_iter_init(&it, obj);
    while (err == TR_OK && (err = tr_json_next(&it, &k, &v)) == TR_OK) {
        err = string_equals(&k, key);
        if (err == TR_OK) {
            found = v;
            nfound++;
        } else if (err == TR_ERR_NOT_FOUND) {
            err = TR_OK;
        }
    }
    if (err != TR_ERR_NOT_FOUND) {
        return err;
    }
    if (nfound > 1) {
        return TR_ERR_CORRUPT;
    }
    if (nfound == 0) {
        return TR_ERR_NOT_FOUND;
    }
    *out = found;
    return TR_OK;
}

/*
 * Parses the 'len' bytes at 'p' as -?(0|[1-9][0-9]*). TR_ERR_INVALID for
 * anything else (checked before overflow), TR_ERR_OUT_OF_RANGE if the value
 * does not fit an int64_t.
 */
static tr_err_t
parse_int(const unsigned char *p, size_t len, int64_t *out)
{
    const uint64_t max_neg = (uint64_t)INT64_MAX + 1;
    uint64_t mag = 0, limit;
    size_t i = 0, start;
    int neg = 0;

    if (len > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    start = i;
    if (i == len || (p[i] == '0' && len - i > 1)) {
        return TR_ERR_INVALID;
    }
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return TR_ERR_INVALID;
        }
    }
    limit = neg ? max_neg : (uint64_t)INT64_MAX;
    for (i = start; i < len; i++) {
        unsigned d = (unsigned)(p[i] - '0');

        if (mag > (limit - d) / 10) {
            return TR_ERR_OUT_OF_RANGE;
        }
        mag = mag * 10 + d;
    }
    if (!neg) {
        *out = (int64_t)mag;
    } else if (mag == max_neg) {
        *out = INT64_MIN;
    } else {
        *out = -(int64_t)mag;
    }
    return TR_OK;
}

tr_err_t
tr_json_as_int(const struct tr_json_value *v, int64_t *out)
{
    const unsigned char *p = (const unsigned char *)v->ptr;

    if (v->type == TR_JSON_NUMBER && p != NULL) {
        return parse_int(p, v->len, out);
    }
    if (v->type == TR_JSON_STRING && p != NULL && v->len >= 2 && p[0] == '"' &&
        p[v->len - 1] == '"') {
        /* Digits and '-' need no escaping, so the raw text is the value. */
        return parse_int(p + 1, v->len - 2, out);
    }
    return TR_ERR_INVALID;
}

tr_err_t
tr_json_string(const struct tr_json_value *v, char *buf, size_t buflen)
{
    struct scanner sc;
    unsigned char u[4];
    uint32_t cp;
    size_t n, used = 0;
    int end = 0;
    tr_err_t err;

    if (buf == NULL || buflen == 0) {
        return TR_ERR_INVALID;
    }
    buf[0] = '\0';
    err = string_open(v, &sc);
    while (err == TR_OK) {
        err = string_char(&sc, &cp, &end);
        if (err != TR_OK || end) {
            break;
        }
        if (cp == 0) {
            err = TR_ERR_INVALID;
            break;
        }
        n = utf8_encode(cp, u);
        if (n >= buflen - used) {
            err = TR_ERR_TOO_LARGE;
            break;
        }
        memcpy(buf + used, u, n);
        used += n;
    }
    if (err == TR_OK && sc.pos != sc.len) {
        err = TR_ERR_CORRUPT;
    }
    buf[err == TR_OK ? used : 0] = '\0';
    return err;
}

tr_err_t
tr_json_int_array(const struct tr_json_value *arr, int32_t *out, size_t cap,
                  size_t *n)
{
    struct tr_json_iter it;
    struct tr_json_value v;
    int64_t x;
    size_t count = 0;
    tr_err_t err;

    *n = 0;
    if (arr->type != TR_JSON_ARRAY) {
        return TR_ERR_INVALID;
    }
    err = tr_json_iter_init(&it, arr);
    while (err == TR_OK && (err = tr_json_next(&it, NULL, &v)) == TR_OK) {
        if (count == cap) {
            err = TR_ERR_TOO_LARGE;
        } else if ((err = tr_json_as_int(&v, &x)) == TR_OK) {
            if (x < INT32_MIN || x > INT32_MAX) {
                err = TR_ERR_OUT_OF_RANGE;
            } else {
                out[count++] = (int32_t)x;
            }
        }
    }
    if (err != TR_ERR_NOT_FOUND) {
        return err;
    }
    *n = count;
    return TR_OK;
}

tr_err_t
tr_json_put_string(struct tr_buf *buf, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i, run = 0, n;
    uint32_t cp;

    for (i = 0; i < len; i += n) {
        n = utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            return TR_ERR_INVALID;
        }
    }
    tr_buf_put_bytes(buf, "\"", 1);
    for (i = 0; i < len; i++) {
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        size_t esclen = 2;

        switch (p[i]) {
        case '"':
        case '\\':
            esc[1] = (char)p[i];
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (p[i] >= 0x20) {
                continue;
            }
            esc[1] = 'u';
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0xf];
            esclen = 6;
            break;
        }
        /* Flush the unescaped run before this byte, then its escape. */
        tr_buf_put_bytes(buf, s + run, i - run);
        tr_buf_put_bytes(buf, esc, esclen);
        run = i + 1;
    }
    tr_buf_put_bytes(buf, s + run, len - run);
    tr_buf_put_bytes(buf, "\"", 1);
    return tr_buf_err(buf);
}
