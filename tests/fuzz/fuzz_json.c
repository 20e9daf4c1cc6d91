/*
 * fuzz_json -- libFuzzer target for common/json.c's reader.
 *
 * Parses the input as one JSON value, then walks every object and array in
 * it (members, integers, strings, int arrays), as the cluster code reads
 * what Kafka keeps in ZooKeeper; finally escapes the input as a string.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct tr_json_value *v, int depth)
{
    struct tr_json_iter it;
    struct tr_json_value key, val;
    char text[64];
    int32_t ints[16];
    size_t n;
    int64_t i;

    if (depth > 64) {
        return;
    }
    (void)tr_json_as_int(v, &i);
    (void)tr_json_string(v, text, sizeof(text));
    (void)tr_json_int_array(v, ints, 16, &n);
    (void)tr_json_get(v, "version", &val);
    if (tr_json_iter_init(&it, v) != TR_OK) {
        return;
    }
    while (tr_json_next(&it, &key, &val) == TR_OK) {
        (void)tr_json_string(&key, text, sizeof(text));
        walk(&val, depth + 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_json_value root;
    struct tr_buf out;
    char cstr[256];
    size_t n = size < sizeof(cstr) - 1 ? size : sizeof(cstr) - 1;

    if (tr_json_parse((const char *)data, size, &root) == TR_OK) {
        walk(&root, 0);
    }
    memcpy(cstr, data, n);
    cstr[n] = '\0';
    tr_buf_init(&out, 4096);
    tr_json_put_string(&out, cstr);
    tr_buf_cleanup(&out);
    return 0;
}
