/*
 * batch_dump -- decodes the record batches of collector segment files with
 * our own batch and codec code, for the integration tests.
 *
 *   batch_dump FILE.log...
 *   batch_dump --codecs      prints the codecs built in, one a line
 *
 * For every batch it prints
 *   batch <BaseOffset> codec=<name> attributes=<n> records=<n> bytes=<n>
 * and for every record in it
 *   record <offset> <key> <value> <headers>
 * where key and value are hex ("-" for null, "" shown as "=") and headers
 * is "k=v,k=v" in hex the same way. The CRC of every batch is checked
 * (tr_batch_validate) before its records are decompressed
 * (tr_batch_iter). Exit status 0 only if every batch decoded; a zero-filled
 * tail (a preallocated segment) ends a file quietly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "codec.h"

#define MAX_RECORDS_BYTES (64 * 1024 * 1024)

static void
put_hex(const uint8_t *p, int32_t len)
{
    int32_t i;

    if (len < 0) {
        fputs("-", stdout);
        return;
    }
    if (len == 0) {
        fputs("=", stdout);
        return;
    }
    for (i = 0; i < len; i++) {
        printf("%02x", p[i]);
    }
}

static int
all_zero(const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static tr_err_t
dump_batch(const uint8_t *batch, size_t len)
{
    struct tr_batch_header h;
    struct tr_batch_iter it;
    struct tr_record rec;
    struct tr_record_header hdr;
    struct tr_slice hs;
    tr_err_t err;
    int n;

    err = tr_batch_validate(batch, len, &h);
    if (err != TR_OK) {
        return err;
    }
    printf(
        "batch %lld codec=%s attributes=%d records=%d bytes=%zu\n",
        (long long)h.BaseOffset,
        tr_codec_name((enum tr_codec)(h.Attributes & TR_BATCH_ATTR_CODEC_MASK)),
        h.Attributes, h.RecordsCount, len);
    err = tr_batch_iter_init(&it, batch, len, MAX_RECORDS_BYTES);
    if (err != TR_OK) {
        return err;
    }
    while ((err = tr_batch_iter_next(&it, &rec)) == TR_OK) {
        printf("record %lld ", (long long)rec.offset);
        put_hex(rec.key, rec.key_len);
        fputs(" ", stdout);
        put_hex(rec.value, rec.value_len);
        fputs(" ", stdout);
        tr_slice_init(&hs, rec.headers, rec.headers_len);
        for (n = 0; (err = tr_record_headers_next(&hs, &hdr)) == TR_OK; n++) {
            if (n > 0) {
                fputs(",", stdout);
            }
            put_hex(hdr.key, hdr.key_len);
            fputs("=", stdout);
            put_hex(hdr.value, hdr.value_len);
        }
        if (n == 0) {
            fputs("-", stdout);
        }
        fputs("\n", stdout);
        if (err != TR_ERR_NOT_FOUND) {
            break;
        }
    }
    tr_batch_iter_cleanup(&it);
    return err == TR_ERR_NOT_FOUND ? TR_OK : err;
}

static int
dump_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    const uint8_t *batch;
    struct tr_slice s;
    size_t len = 0, cap = 0, got, blen;
    tr_err_t err;
    int rc = 1;

    if (f == NULL) {
        perror(path);
        return 1;
    }
    for (;;) {
        if (cap - len < 65536) {
            uint8_t *more = tr_realloc(data, cap * 2 + 65536);

            if (more == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                goto out;
            }
            data = more;
            cap = cap * 2 + 65536;
        }
        got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        perror(path);
        goto out;
    }
    tr_slice_init(&s, data, len);
    for (;;) {
        size_t at = tr_slice_pos(&s);

        err = tr_batch_next(&s, &batch, &blen);
        if (err == TR_ERR_NOT_FOUND) {
            break;
        }
        if (err != TR_OK) {
            if (all_zero(data + at, len - at)) {
                break;
            }
            fprintf(stderr, "%s: at byte %zu: %s\n", path, at, tr_err_str(err));
            goto out;
        }
        err = dump_batch(batch, blen);
        if (err != TR_OK) {
            fprintf(stderr, "%s: batch at byte %zu: %s\n", path, at,
                    tr_err_str(err));
            goto out;
        }
    }
    rc = 0;
out:
    fclose(f);
    tr_free(data);
    return rc;
}

int
main(int argc, char **argv)
{
    int i, rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: batch_dump FILE.log... | --codecs\n");
        return 2;
    }
    if (strcmp(argv[1], "--codecs") == 0) {
        for (i = TR_CODEC_NONE; i <= TR_CODEC_ZSTD; i++) {
            if (tr_codec_available((enum tr_codec)i)) {
                printf("%s\n", tr_codec_name((enum tr_codec)i));
            }
        }
        return 0;
    }
    for (i = 1; i < argc; i++) {
        rc |= dump_file(argv[i]);
    }
    if (fflush(stdout) != 0) {
        rc = 1;
    }
    return rc;
}
