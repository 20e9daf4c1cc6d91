/*
 * test_json -- the JSON reader on the documents Kafka 2.x keeps in
 * ZooKeeper: lookups, nested lookups, iteration, integers (as numbers and as
 * strings), escapes and UTF-8, and the failures: every strict prefix of a
 * valid document, malformed syntax, nesting past the cap, overflow, leading
 * zeros, trailing garbage, corrupt views and byte-flipped documents. Every
 * document is copied into an exactly-sized heap buffer with no NUL after
 * it, so a sanitizer build catches any read past the end. Also the string
 * escaper, round-tripped through the reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "json.h"

static const char *const kafka_docs[] = {
    "{\"version\":1,\"leader\":1,\"leader_epoch\":4,\"controller_epoch\":7,"
    "\"isr\":[1,2,3]}",
    "{\"version\":2,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
    "\"adding_replicas\":{},\"removing_replicas\":{}}",
    "{\"version\":5,\"host\":\"localhost\",\"port\":9092,\"jmx_port\":-1,"
    "\"timestamp\":\"1700000000000\",\"endpoints\":[\"PLAINTEXT://"
    "host1:9092\"],\"listener_security_protocol_map\":{\"PLAINTEXT\":"
    "\"PLAINTEXT\"},\"rack\":\"dc1\"}",
    "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
    "\"replicas\":[3,1,2]}]}",
    "{\"version\":1,\"config\":{\"cleanup.policy\":\"compact\","
    "\"min.insync.replicas\":\"2\"}}",
    "{\"version\":\"1\",\"id\":\"abc\"}",
};

#define NDOCS (sizeof(kafka_docs) / sizeof(kafka_docs[0]))

/* Escapes, surrogates, raw UTF-8 and every literal, for prefixes and flips. */
static const char *const other_docs[] = {
    "{\"k\\u00e9\":\"\\ud83d\\ude00\\n\\\"\",\"n\":-1.5e+3,\"u\":\"\xc3\xa9\xf0\x9f"
    "\x98\x80\",\"t\":[true,false,null,0,{}]}",
};

#define NOTHER (sizeof(other_docs) / sizeof(other_docs[0]))

/* The i-th of all the valid documents above. */
static const char *
any_doc(size_t i)
{
    return i < NDOCS ? kafka_docs[i] : other_docs[i - NDOCS];
}

/*
 * Returns an owned (free with free()) copy of the 'len' bytes at 's' in a
 * buffer of exactly that size: no NUL terminator for the reader to lean on.
 */
static char *
dup_exact(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

/* Parses the 'len' bytes at 's' from an exactly-sized copy. */
static tr_err_t
parse_exact(const char *s, size_t len)
{
    struct tr_json_value root;
    char *p = dup_exact(s, len);
    tr_err_t err = tr_json_parse(p, len, &root);

    free(p);
    return err;
}

static int64_t
get_int(const struct tr_json_value *obj, const char *key)
{
    struct tr_json_value v;
    int64_t x = 0;

    assert_int_equal(tr_json_get(obj, key, &v), TR_OK);
    assert_int_equal(tr_json_as_int(&v, &x), TR_OK);
    return x;
}

static void
assert_get_string(const struct tr_json_value *obj, const char *key,
                  const char *want)
{
    struct tr_json_value v;
    char buf[256];

    assert_int_equal(tr_json_get(obj, key, &v), TR_OK);
    assert_int_equal(v.type, TR_JSON_STRING);
    assert_int_equal(tr_json_string(&v, buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, want);
}

static void
test_json_partition_state(void **state)
{
    const char *doc = kafka_docs[0];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, isr;
    int32_t ids[8];
    size_t n;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(root.type, TR_JSON_OBJECT);
    assert_ptr_equal(root.ptr, p);
    assert_int_equal(root.len, len);
    assert_int_equal(get_int(&root, "version"), 1);
    assert_int_equal(get_int(&root, "leader"), 1);
    assert_int_equal(get_int(&root, "leader_epoch"), 4);
    assert_int_equal(get_int(&root, "controller_epoch"), 7);
    assert_int_equal(tr_json_get(&root, "isr", &isr), TR_OK);
    assert_int_equal(isr.type, TR_JSON_ARRAY);
    assert_int_equal(isr.len, strlen("[1,2,3]"));
    assert_memory_equal(isr.ptr, "[1,2,3]", isr.len);
    assert_int_equal(tr_json_int_array(&isr, ids, 8, &n), TR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 3);
    assert_int_equal(tr_json_get(&root, "missing", &isr), TR_ERR_NOT_FOUND);
    /* Keys match whole, not by prefix either way. */
    assert_int_equal(tr_json_get(&root, "lead", &isr), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_json_get(&root, "leaders", &isr), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_json_get(&root, "", &isr), TR_ERR_NOT_FOUND);
    free(p);
}

static void
test_json_topic_assignment(void **state)
{
    const char *doc = kafka_docs[1];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, parts, k, v, empty;
    struct tr_json_iter it;
    int32_t ids[3];
    size_t n, i = 0;
    int64_t id;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(get_int(&root, "version"), 2);
    assert_int_equal(tr_json_get(&root, "partitions", &parts), TR_OK);
    assert_int_equal(parts.type, TR_JSON_OBJECT);
    assert_int_equal(tr_json_iter_init(&it, &parts), TR_OK);
    while (tr_json_next(&it, &k, &v) == TR_OK) {
        assert_int_equal(k.type, TR_JSON_STRING);
        /* Partition ids are object keys: strings holding integers. */
        assert_int_equal(tr_json_as_int(&k, &id), TR_OK);
        assert_int_equal(id, (int64_t)i);
        assert_int_equal(tr_json_int_array(&v, ids, 3, &n), TR_OK);
        assert_int_equal(n, 3);
        assert_int_equal(ids[0], i == 0 ? 1 : 2);
        assert_int_equal(ids[1], i == 0 ? 2 : 3);
        assert_int_equal(ids[2], i == 0 ? 3 : 1);
        i++;
    }
    assert_int_equal(i, 2);
    /* The end is sticky. */
    assert_int_equal(tr_json_next(&it, &k, &v), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_json_next(&it, &k, &v), TR_ERR_NOT_FOUND);

    assert_int_equal(tr_json_get(&root, "adding_replicas", &empty), TR_OK);
    assert_int_equal(empty.type, TR_JSON_OBJECT);
    assert_int_equal(tr_json_iter_init(&it, &empty), TR_OK);
    assert_int_equal(tr_json_next(&it, &k, &v), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_json_get(&empty, "0", &v), TR_ERR_NOT_FOUND);
    assert_int_equal(tr_json_get(&root, "removing_replicas", &empty), TR_OK);
    assert_int_equal(empty.len, 2);
    free(p);
}

static void
test_json_broker_registration(void **state)
{
    const char *doc = kafka_docs[2];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, eps, ep, map;
    struct tr_json_iter it;
    char buf[64];

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(get_int(&root, "version"), 5);
    assert_get_string(&root, "host", "localhost");
    assert_int_equal(get_int(&root, "port"), 9092);
    assert_int_equal(get_int(&root, "jmx_port"), -1);
    assert_int_equal(get_int(&root, "timestamp"), 1700000000000LL);
    assert_get_string(&root, "rack", "dc1");

    assert_int_equal(tr_json_get(&root, "endpoints", &eps), TR_OK);
    assert_int_equal(tr_json_iter_init(&it, &eps), TR_OK);
    assert_int_equal(tr_json_next(&it, NULL, &ep), TR_OK);
    assert_int_equal(tr_json_string(&ep, buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "PLAINTEXT://host1:9092");
    assert_int_equal(tr_json_next(&it, NULL, &ep), TR_ERR_NOT_FOUND);

    assert_int_equal(tr_json_get(&root, "listener_security_protocol_map", &map),
                     TR_OK);
    assert_get_string(&map, "PLAINTEXT", "PLAINTEXT");

    /* Wrong types are refused, not coerced. */
    assert_int_equal(tr_json_get(&eps, "PLAINTEXT", &map), TR_ERR_INVALID);
    assert_int_equal(tr_json_as_int(&eps, &(int64_t){ 0 }), TR_ERR_INVALID);
    assert_int_equal(tr_json_get(&root, "host", &ep), TR_OK);
    assert_int_equal(tr_json_as_int(&ep, &(int64_t){ 0 }), TR_ERR_INVALID);
    assert_int_equal(tr_json_get(&root, "port", &ep), TR_OK);
    assert_int_equal(tr_json_string(&ep, buf, sizeof(buf)), TR_ERR_INVALID);
    free(p);
}

static void
test_json_reassignment(void **state)
{
    const char *doc = kafka_docs[3];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, parts, entry, replicas;
    struct tr_json_iter it;
    int32_t ids[3];
    size_t n;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(tr_json_get(&root, "partitions", &parts), TR_OK);
    assert_int_equal(parts.type, TR_JSON_ARRAY);
    assert_int_equal(tr_json_iter_init(&it, &parts), TR_OK);
    assert_int_equal(tr_json_next(&it, NULL, &entry), TR_OK);
    assert_int_equal(entry.type, TR_JSON_OBJECT);
    assert_get_string(&entry, "topic", "t");
    assert_int_equal(get_int(&entry, "partition"), 0);
    assert_int_equal(tr_json_get(&entry, "replicas", &replicas), TR_OK);
    assert_int_equal(tr_json_int_array(&replicas, ids, 3, &n), TR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 2);
    /* One short of room. */
    assert_int_equal(tr_json_int_array(&replicas, ids, 2, &n),
                     TR_ERR_TOO_LARGE);
    assert_int_equal(n, 0);
    assert_int_equal(tr_json_next(&it, NULL, &entry), TR_ERR_NOT_FOUND);
    free(p);
}

static void
test_json_topic_config(void **state)
{
    const char *doc = kafka_docs[4];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, config, k, v;
    struct tr_json_iter it;
    char key[64], val[64];

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(get_int(&root, "version"), 1);
    assert_int_equal(tr_json_get(&root, "config", &config), TR_OK);
    assert_get_string(&config, "cleanup.policy", "compact");
    assert_int_equal(get_int(&config, "min.insync.replicas"), 2);
    assert_int_equal(tr_json_iter_init(&it, &config), TR_OK);
    assert_int_equal(tr_json_next(&it, &k, &v), TR_OK);
    assert_int_equal(tr_json_string(&k, key, sizeof(key)), TR_OK);
    assert_int_equal(tr_json_string(&v, val, sizeof(val)), TR_OK);
    assert_string_equal(key, "cleanup.policy");
    assert_string_equal(val, "compact");
    assert_int_equal(tr_json_next(&it, &k, &v), TR_OK);
    assert_int_equal(tr_json_string(&k, key, sizeof(key)), TR_OK);
    assert_string_equal(key, "min.insync.replicas");
    assert_int_equal(tr_json_next(&it, &k, &v), TR_ERR_NOT_FOUND);
    free(p);
}

static void
test_json_string_version(void **state)
{
    const char *doc = kafka_docs[5];
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(get_int(&root, "version"), 1);
    assert_get_string(&root, "id", "abc");
    free(p);
}

/* Every strict prefix of a valid document fails; whitespace after is fine. */
static void
test_json_every_prefix_fails(void **state)
{
    size_t d, i;

    (void)state;
    for (d = 0; d < NDOCS + NOTHER; d++) {
        const char *doc = any_doc(d);
        size_t len = strlen(doc);
        char padded[512];

        for (i = 0; i < len; i++) {
            assert_int_equal(parse_exact(doc, i), TR_ERR_CORRUPT);
        }
        assert_int_equal(parse_exact(doc, len), TR_OK);
        assert_true(len + 4 <= sizeof(padded));
        padded[0] = '\n';
        memcpy(padded + 1, doc, len);
        memcpy(padded + 1 + len, " \t\r", 3);
        assert_int_equal(parse_exact(padded, len + 4), TR_OK);
    }
}

static void
test_json_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "[1,]",
        "[,1]",
        "[1,,2]",
        "[1 2]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{'a':1}",
        "{1:1}",
        "{\"a\":1]",
        "[1}",
        "tru",
        "nul",
        "True",
        "NULL",
        "truex",
        "[1]x",
        "[1] [2]",
        "{}}",
        "1.",
        ".5",
        "-",
        "--1",
        "1e",
        "1e+",
        "1.e3",
        "01",
        "-01",
        "00",
        "[01]",
        "{\"a\":007}",
        "+1",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "\"abc",
        "\"a\nb\"",
        "\"a\tb\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"\\u12\"",
        "\"\\\"",
        "\"\\ud800\"",
        "\"\\ud800x\"",
        "\"\\ud800\\u0041\"",
        "\"\\udc00\"",
        "\"\\udc00\\ud800\"",
        "\"\xc0\x80\"",         /* overlong NUL */
        "\"\xe0\x80\xaf\"",     /* overlong '/' */
        "\"\xed\xa0\x80\"",     /* surrogate in UTF-8 */
        "\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
        "\"\xf5\x80\x80\x80\"",
        "\"\xff\"",
        "\"\x80\"",
        "\"\xc3\"",
        "\"\xe2\x82\"",
        "\xef\xbb\xbf{}", /* byte-order mark */
        "\v{}",
        "{}\f",
        "/* comment */ {}",
    };
    static const char *const good[] = {
        "0",    "-0",   "1",     "-1",      "1.5",    "1.5e-3",      "0.0",
        "1E+2", "1e10", "true",  "false",   "null",   "\"\"",        "\"x\"",
        "[]",   "{}",   " [ ] ", "[[],{}]", "[null]", "{\"\":null}", "[-0.0e0]"
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_exact(bad[i], strlen(bad[i])) != TR_ERR_CORRUPT) {
            fail_msg("accepted bad document %zu: %s", i, bad[i]);
        }
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (parse_exact(good[i], strlen(good[i])) != TR_OK) {
            fail_msg("refused good document %zu: %s", i, good[i]);
        }
    }
    /* A NUL inside the length is garbage, not an end. */
    assert_int_equal(parse_exact("{}\0", 3), TR_ERR_CORRUPT);
    assert_int_equal(parse_exact("\"a\0b\"", 5), TR_ERR_CORRUPT);
    assert_int_equal(tr_json_parse(NULL, 0, &(struct tr_json_value){ 0 }),
                     TR_ERR_CORRUPT);
    assert_int_equal(tr_json_parse(NULL, 1, &(struct tr_json_value){ 0 }),
                     TR_ERR_INVALID);
}

/* Builds 'n' opening brackets then 'n' closing ones into an exact buffer. */
static char *
nest(size_t n, char open, char close, size_t *len)
{
    char *p = malloc(2 * n > 0 ? 2 * n : 1);

    assert_non_null(p);
    memset(p, open, n);
    memset(p + n, close, n);
    *len = 2 * n;
    return p;
}

static void
test_json_depth_cap(void **state)
{
    struct tr_json_value root, v;
    char doc[6 * (TR_JSON_MAX_DEPTH + 1) + 16];
    size_t len, i, pos;
    int64_t x;
    char *p;

    (void)state;
    p = nest(TR_JSON_MAX_DEPTH, '[', ']', &len);
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    free(p);
    p = nest(TR_JSON_MAX_DEPTH + 1, '[', ']', &len);
    assert_int_equal(tr_json_parse(p, len, &root), TR_ERR_CORRUPT);
    free(p);
    /* Far past the cap: fails fast, no deep recursion. */
    p = nest(1000000, '[', ']', &len);
    assert_int_equal(tr_json_parse(p, len, &root), TR_ERR_CORRUPT);
    free(p);
    p = nest(1000000, '[', '[', &len);
    assert_int_equal(tr_json_parse(p, len, &root), TR_ERR_CORRUPT);
    free(p);

    /* Objects count too: {"a":{"a":...1...}}. */
    for (i = TR_JSON_MAX_DEPTH; i <= TR_JSON_MAX_DEPTH + 1; i++) {
        size_t j;

        pos = 0;
        for (j = 0; j < i; j++) {
            memcpy(doc + pos, "{\"a\":", 5);
            pos += 5;
        }
        doc[pos++] = '1';
        memset(doc + pos, '}', i);
        pos += i;
        assert_int_equal(parse_exact(doc, pos),
                         i <= TR_JSON_MAX_DEPTH ? TR_OK : TR_ERR_CORRUPT);
    }

    /* Nested lookups down the deepest allowed document. */
    pos = 0;
    for (i = 0; i < TR_JSON_MAX_DEPTH; i++) {
        memcpy(doc + pos, "{\"a\":", 5);
        pos += 5;
    }
    doc[pos++] = '7';
    memset(doc + pos, '}', TR_JSON_MAX_DEPTH);
    pos += TR_JSON_MAX_DEPTH;
    p = dup_exact(doc, pos);
    assert_int_equal(tr_json_parse(p, pos, &root), TR_OK);
    v = root;
    for (i = 0; i < TR_JSON_MAX_DEPTH; i++) {
        assert_int_equal(v.type, TR_JSON_OBJECT);
        assert_int_equal(tr_json_get(&v, "a", &v), TR_OK);
    }
    assert_int_equal(v.type, TR_JSON_NUMBER);
    assert_int_equal(tr_json_as_int(&v, &x), TR_OK);
    assert_int_equal(x, 7);
    free(p);
}

/* Parses 'text' (one value) and reads it with tr_json_as_int. */
static tr_err_t
int_of(const char *text, int64_t *out)
{
    struct tr_json_value v;
    size_t len = strlen(text);
    char *p = dup_exact(text, len);
    tr_err_t err = tr_json_parse(p, len, &v);

    if (err == TR_OK) {
        err = tr_json_as_int(&v, out);
    }
    free(p);
    return err;
}

static void
test_json_integers(void **state)
{
    int64_t x;

    (void)state;
    assert_int_equal(int_of("0", &x), TR_OK);
    assert_int_equal(x, 0);
    assert_int_equal(int_of("-0", &x), TR_OK);
    assert_int_equal(x, 0);
    assert_int_equal(int_of("9223372036854775807", &x), TR_OK);
    assert_true(x == INT64_MAX);
    assert_int_equal(int_of("-9223372036854775808", &x), TR_OK);
    assert_true(x == INT64_MIN);
    assert_int_equal(int_of("\"9223372036854775807\"", &x), TR_OK);
    assert_true(x == INT64_MAX);
    assert_int_equal(int_of("\"-9223372036854775808\"", &x), TR_OK);
    assert_true(x == INT64_MIN);
    assert_int_equal(int_of("\"-42\"", &x), TR_OK);
    assert_int_equal(x, -42);

    assert_int_equal(int_of("9223372036854775808", &x), TR_ERR_OUT_OF_RANGE);
    assert_int_equal(int_of("-9223372036854775809", &x), TR_ERR_OUT_OF_RANGE);
    assert_int_equal(int_of("10000000000000000000", &x), TR_ERR_OUT_OF_RANGE);
    assert_int_equal(int_of("99999999999999999999999999999999", &x),
                     TR_ERR_OUT_OF_RANGE);
    assert_int_equal(int_of("\"9223372036854775808\"", &x),
                     TR_ERR_OUT_OF_RANGE);

    /* Well-formed JSON, but not an integer. */
    assert_int_equal(int_of("1.0", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("1e3", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("99999999999999999999.5", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("true", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("null", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("[1]", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"-\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"01\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"-01\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"+1\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\" 1\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"1 \"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"1.5\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"abc\"", &x), TR_ERR_INVALID);
    assert_int_equal(int_of("\"\\u0031\"", &x), TR_ERR_INVALID);

    /* Leading zeros are not JSON at all. */
    assert_int_equal(int_of("01", &x), TR_ERR_CORRUPT);
    assert_int_equal(int_of("-007", &x), TR_ERR_CORRUPT);
}

static void
test_json_int_array_limits(void **state)
{
    static const struct {
        const char *doc;
        tr_err_t err;
        size_t n;
    } cases[] = {
        { "[]", TR_OK, 0 },
        { "[2147483647,-2147483648]", TR_OK, 2 },
        { "[\"7\"]", TR_OK, 1 },
        { "[2147483648]", TR_ERR_OUT_OF_RANGE, 0 },
        { "[1,-2147483649]", TR_ERR_OUT_OF_RANGE, 0 },
        { "[1,1.5]", TR_ERR_INVALID, 0 },
        { "[1,null]", TR_ERR_INVALID, 0 },
        { "[[1]]", TR_ERR_INVALID, 0 },
        { "[1,2,3,4,5]", TR_ERR_TOO_LARGE, 0 },
        { "{}", TR_ERR_INVALID, 0 },
        { "3", TR_ERR_INVALID, 0 },
    };
    struct tr_json_value v;
    int32_t ids[4];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].doc);
        char *p = dup_exact(cases[i].doc, len);

        assert_int_equal(tr_json_parse(p, len, &v), TR_OK);
        n = 99;
        assert_int_equal(tr_json_int_array(&v, ids, 4, &n), cases[i].err);
        assert_int_equal(n, cases[i].n);
        free(p);
    }
    {
        const char *doc = "[2147483647,-2147483648]";
        char *p = dup_exact(doc, strlen(doc));

        assert_int_equal(tr_json_parse(p, strlen(doc), &v), TR_OK);
        assert_int_equal(tr_json_int_array(&v, ids, 4, &n), TR_OK);
        assert_int_equal(ids[0], INT32_MAX);
        assert_int_equal(ids[1], INT32_MIN);
        /* With no room, only an empty list reads. */
        assert_int_equal(tr_json_int_array(&v, NULL, 0, &n), TR_ERR_TOO_LARGE);
        free(p);
        p = dup_exact("[ ]", 3);
        assert_int_equal(tr_json_parse(p, 3, &v), TR_OK);
        assert_int_equal(tr_json_int_array(&v, NULL, 0, &n), TR_OK);
        assert_int_equal(n, 0);
        free(p);
    }
}

/* Parses 'doc' (a string value) and unescapes it into 'buf'. */
static tr_err_t
string_of(const char *doc, char *buf, size_t buflen)
{
    struct tr_json_value v;
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    tr_err_t err = tr_json_parse(p, len, &v);

    if (err == TR_OK) {
        err = tr_json_string(&v, buf, buflen);
    }
    free(p);
    return err;
}

static void
test_json_escapes(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(
        string_of("\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"", buf, sizeof(buf)),
        TR_OK);
    assert_string_equal(buf, "q\"b\\s/b\bf\fn\nr\rt\t");
    assert_int_equal(string_of("\"caf\\u00e9\"", buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "caf\xc3\xa9");
    assert_int_equal(string_of("\"\\u00E9\\u20ac\\u0041\"", buf, sizeof(buf)),
                     TR_OK);
    assert_string_equal(buf, "\xc3\xa9\xe2\x82\xac"
                             "A");
    /* U+1F600 as a surrogate pair, and as raw UTF-8. */
    assert_int_equal(string_of("\"<\\ud83d\\ude00>\"", buf, sizeof(buf)),
                     TR_OK);
    assert_string_equal(buf, "<\xf0\x9f\x98\x80>");
    assert_int_equal(string_of("\"<\xf0\x9f\x98\x80>\"", buf, sizeof(buf)),
                     TR_OK);
    assert_string_equal(buf, "<\xf0\x9f\x98\x80>");
    assert_int_equal(string_of("\"\\udbff\\udfff\"", buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "\xf4\x8f\xbf\xbf");
    assert_int_equal(string_of("\"\xc3\xa9\xe2\x82\xac\"", buf, sizeof(buf)),
                     TR_OK);
    assert_string_equal(buf, "\xc3\xa9\xe2\x82\xac");
    assert_int_equal(string_of("\"\"", buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "");

    /* U+0000 is valid JSON but cannot be a C string. */
    assert_int_equal(string_of("\"a\\u0000b\"", buf, sizeof(buf)),
                     TR_ERR_INVALID);
    assert_string_equal(buf, "");

    /* Room: "abc" needs 4 bytes; a 2-byte character never splits. */
    assert_int_equal(string_of("\"abc\"", buf, 4), TR_OK);
    assert_string_equal(buf, "abc");
    assert_int_equal(string_of("\"abc\"", buf, 3), TR_ERR_TOO_LARGE);
    assert_string_equal(buf, "");
    assert_int_equal(string_of("\"a\\u00e9\"", buf, 3), TR_ERR_TOO_LARGE);
    assert_int_equal(string_of("\"a\\u00e9\"", buf, 4), TR_OK);
    assert_int_equal(string_of("\"\"", buf, 1), TR_OK);
    assert_int_equal(string_of("\"\"", buf, 0), TR_ERR_INVALID);
}

static void
test_json_escaped_keys(void **state)
{
    const char *doc = "{\"cleanup\\u002epolicy\":\"compact\","
                      "\"caf\\u00e9\":1,\"a\\u0000b\":2,\"a\":3,"
                      "\"\\ud83d\\ude00\":4}";
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, v;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_get_string(&root, "cleanup.policy", "compact");
    assert_int_equal(get_int(&root, "caf\xc3\xa9"), 1);
    /* "a\u0000b" is neither "a" nor "ab". */
    assert_int_equal(get_int(&root, "a"), 3);
    assert_int_equal(tr_json_get(&root, "ab", &v), TR_ERR_NOT_FOUND);
    assert_int_equal(get_int(&root, "\xf0\x9f\x98\x80"), 4);
    free(p);
}

static void
test_json_duplicate_keys(void **state)
{
    const char *doc = "{\"leader\":1,\"isr\":[1],\"leader\":2}";
    size_t len = strlen(doc);
    char *p = dup_exact(doc, len);
    struct tr_json_value root, v;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(tr_json_get(&root, "leader", &v), TR_ERR_CORRUPT);
    assert_int_equal(tr_json_get(&root, "isr", &v), TR_OK);
    free(p);

    /* The same key spelled two ways is still a duplicate. */
    doc = "{\"a\":1,\"\\u0061\":2}";
    len = strlen(doc);
    p = dup_exact(doc, len);
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(tr_json_get(&root, "a", &v), TR_ERR_CORRUPT);
    free(p);
}

static void
test_json_iterate_mixed(void **state)
{
    static const enum tr_json_type want[] = {
        TR_JSON_NULL,   TR_JSON_TRUE,  TR_JSON_FALSE,  TR_JSON_NUMBER,
        TR_JSON_STRING, TR_JSON_ARRAY, TR_JSON_OBJECT,
    };
    static const char *const text[] = {
        "null", "true", "false", "-1.5e2", "\"s\"", "[1,[2]]", "{\"k\":{}}",
    };
    const char *doc = " [ null , true,false,-1.5e2,\"s\",[1,[2]],"
                      "{\"k\":{}} ] ";
    size_t len = strlen(doc), i = 0;
    char *p = dup_exact(doc, len);
    struct tr_json_value root, k, v;
    struct tr_json_iter it;

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    assert_int_equal(root.type, TR_JSON_ARRAY);
    assert_ptr_equal(root.ptr, p + 1);
    assert_int_equal(root.len, len - 2);
    assert_int_equal(tr_json_iter_init(&it, &root), TR_OK);
    while (tr_json_next(&it, &k, &v) == TR_OK) {
        assert_true(i < sizeof(want) / sizeof(want[0]));
        assert_int_equal(k.type, TR_JSON_NULL);
        assert_null(k.ptr);
        assert_int_equal(k.len, 0);
        assert_int_equal(v.type, want[i]);
        assert_int_equal(v.len, strlen(text[i]));
        assert_memory_equal(v.ptr, text[i], v.len);
        i++;
    }
    assert_int_equal(i, sizeof(want) / sizeof(want[0]));
    assert_int_equal(tr_json_next(&it, NULL, &v), TR_ERR_NOT_FOUND);

    assert_int_equal(tr_json_iter_init(&it, &k), TR_ERR_INVALID);
    assert_int_equal(tr_json_next(&it, NULL, &v), TR_ERR_INVALID);
    free(p);
}

/*
 * Views handed in by a caller are checked too: one cut short, one
 * overlong by a byte of garbage, and one whose type lies.
 */
static void
test_json_corrupt_views(void **state)
{
    const char *doc = "{\"a\":\"xyz\",\"b\":[1,2]}";
    size_t len = strlen(doc), cut;
    char *p = dup_exact(doc, len);
    struct tr_json_value root, v, bad;
    struct tr_json_iter it;
    int32_t ids[4];
    size_t n;
    char buf[16];

    (void)state;
    assert_int_equal(tr_json_parse(p, len, &root), TR_OK);
    for (cut = 0; cut < len; cut++) {
        char *q = dup_exact(doc, cut);
        tr_err_t err;

        bad.type = TR_JSON_OBJECT;
        bad.ptr = q;
        bad.len = cut;
        err = tr_json_get(&bad, "b", &v);
        assert_true(err == TR_ERR_CORRUPT);
        free(q);
    }
    bad = root;
    bad.len--;
    assert_int_equal(tr_json_get(&bad, "a", &v), TR_ERR_CORRUPT);
    bad.ptr = NULL;
    assert_int_equal(tr_json_get(&bad, "a", &v), TR_ERR_CORRUPT);

    assert_int_equal(tr_json_get(&root, "a", &v), TR_OK);
    bad = v;
    bad.len--;
    assert_int_equal(tr_json_string(&bad, buf, sizeof(buf)), TR_ERR_CORRUPT);
    bad.len = 1;
    assert_int_equal(tr_json_string(&bad, buf, sizeof(buf)), TR_ERR_CORRUPT);
    assert_int_equal(tr_json_as_int(&bad, &(int64_t){ 0 }), TR_ERR_INVALID);
    bad = v;
    bad.len += 1; /* now covers the ',' after the closing quote */
    assert_int_equal(tr_json_string(&bad, buf, sizeof(buf)), TR_ERR_CORRUPT);

    assert_int_equal(tr_json_get(&root, "b", &v), TR_OK);
    bad = v;
    bad.len--;
    assert_int_equal(tr_json_int_array(&bad, ids, 4, &n), TR_ERR_CORRUPT);
    bad.len += 2; /* now covers the object's closing '}' too */
    assert_int_equal(tr_json_int_array(&bad, ids, 4, &n), TR_ERR_CORRUPT);
    bad = v;
    bad.type = TR_JSON_OBJECT;
    assert_int_equal(tr_json_iter_init(&it, &bad), TR_ERR_CORRUPT);
    assert_int_equal(tr_json_next(&it, NULL, &v), TR_ERR_CORRUPT);
    free(p);
}

/* Reads everything reachable from 'v' through every accessor. */
static void
walk(const struct tr_json_value *v, int depth)
{
    struct tr_json_iter it;
    struct tr_json_value k, m;
    int32_t ids[8];
    int64_t x;
    size_t n;
    char buf[64];

    assert_true(depth <= TR_JSON_MAX_DEPTH + 1);
    (void)tr_json_as_int(v, &x);
    (void)tr_json_string(v, buf, sizeof(buf));
    (void)tr_json_int_array(v, ids, 8, &n);
    (void)tr_json_get(v, "version", &m);
    if (tr_json_iter_init(&it, v) != TR_OK) {
        return;
    }
    while (tr_json_next(&it, &k, &m) == TR_OK) {
        if (k.type == TR_JSON_STRING) {
            (void)tr_json_string(&k, buf, sizeof(buf));
        }
        walk(&m, depth + 1);
    }
}

/*
 * Each byte of each document, replaced by each of a set of troublesome
 * bytes: the reader either refuses it or reads it whole without overrunning.
 */
static void
test_json_byte_flips(void **state)
{
    static const unsigned char subst[] = {
        0x00, '"', '\\', '{', '}', '[',  ']',  ',',  ':',
        '0',  '-', 'e',  'u', ' ', 0x80, 0xc3, 0xff,
    };
    struct tr_json_value root;
    size_t d, i, s, accepted = 0;

    (void)state;
    for (d = 0; d < NDOCS + NOTHER; d++) {
        const char *doc = any_doc(d);
        size_t len = strlen(doc);

        for (i = 0; i < len; i++) {
            for (s = 0; s < sizeof(subst); s++) {
                char *p = dup_exact(doc, len);
                tr_err_t err;

                p[i] = (char)subst[s];
                err = tr_json_parse(p, len, &root);
                assert_true(err == TR_OK || err == TR_ERR_CORRUPT);
                if (err == TR_OK) {
                    accepted++;
                    walk(&root, 0);
                }
                free(p);
            }
            /* And with that byte cut out. */
            {
                char *p = dup_exact(doc, len);

                memmove(p + i, p + i + 1, len - i - 1);
                if (tr_json_parse(p, len - 1, &root) == TR_OK) {
                    walk(&root, 0);
                }
                free(p);
            }
        }
    }
    assert_true(accepted > 0);
}

/* Encodes 's', checks the JSON text, and reads it back. */
static void
assert_put_round_trip(const char *s, const char *want_json)
{
    struct tr_buf b;
    struct tr_json_value v;
    char out[128];
    char *p;

    tr_buf_init(&b, 1024);
    assert_int_equal(tr_json_put_string(&b, s), TR_OK);
    assert_int_equal(tr_buf_len(&b), strlen(want_json));
    assert_memory_equal(tr_buf_data(&b), want_json, strlen(want_json));
    p = dup_exact((const char *)tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_json_parse(p, tr_buf_len(&b), &v), TR_OK);
    assert_int_equal(tr_json_string(&v, out, sizeof(out)), TR_OK);
    assert_string_equal(out, s);
    free(p);
    tr_buf_cleanup(&b);
}

static void
test_json_put_string(void **state)
{
    struct tr_buf b;

    (void)state;
    assert_put_round_trip("", "\"\"");
    assert_put_round_trip("PLAINTEXT://host1:9092",
                          "\"PLAINTEXT://host1:9092\"");
    assert_put_round_trip("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    assert_put_round_trip("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    assert_put_round_trip("\x01x\x1f", "\"\\u0001x\\u001f\"");
    assert_put_round_trip("caf\xc3\xa9 \xf0\x9f\x98\x80",
                          "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");

    /* Invalid UTF-8 is refused before anything is written. */
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_json_put_string(&b, "ok"), TR_OK);
    assert_int_equal(tr_json_put_string(&b, "bad\xc3"), TR_ERR_INVALID);
    assert_int_equal(tr_json_put_string(&b, "\xed\xa0\x80"), TR_ERR_INVALID);
    assert_int_equal(tr_buf_len(&b), 4);
    tr_buf_cleanup(&b);

    /* The buffer's maximum shows through as its sticky error. */
    tr_buf_init(&b, 4);
    assert_int_equal(tr_json_put_string(&b, "abcdef"), TR_ERR_TOO_LARGE);
    assert_int_equal(tr_buf_err(&b), TR_ERR_TOO_LARGE);
    tr_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_partition_state),
        cmocka_unit_test(test_json_topic_assignment),
        cmocka_unit_test(test_json_broker_registration),
        cmocka_unit_test(test_json_reassignment),
        cmocka_unit_test(test_json_topic_config),
        cmocka_unit_test(test_json_string_version),
        cmocka_unit_test(test_json_every_prefix_fails),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_json_depth_cap),
        cmocka_unit_test(test_json_integers),
        cmocka_unit_test(test_json_int_array_limits),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_escaped_keys),
        cmocka_unit_test(test_json_duplicate_keys),
        cmocka_unit_test(test_json_iterate_mixed),
        cmocka_unit_test(test_json_corrupt_views),
        cmocka_unit_test(test_json_byte_flips),
        cmocka_unit_test(test_json_put_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
