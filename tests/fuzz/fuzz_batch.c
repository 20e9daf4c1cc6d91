/*
 * fuzz_batch -- libFuzzer target for record batches and every codec.
 *
 * Input: [mode][bytes...]. Modes 0-4 decompress the bytes with that codec
 * (none, gzip, snappy, lz4, zstd) into a bounded buffer. Any other mode
 * treats the bytes as a record set, as a Produce request carries it:
 * split into batches, each with its BatchLength and CRC-32C made right
 * (so mutations reach past the checksum, which random bytes never match),
 * validated, and its records and headers iterated, decompressing with the
 * codec its attributes name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "codec.h"
#include "crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The collector's default message.max.bytes bounds what a batch inflates to. */
#define FUZZ_MAX_INFLATED (1 << 20)

static void
walk_batch(const uint8_t *batch, size_t len)
{
    struct tr_batch_iter it;
    struct tr_record rec;
    struct tr_record_header rh;
    struct tr_slice hs;

    if (tr_batch_validate(batch, len, NULL) != TR_OK) {
        return;
    }
    if (tr_batch_iter_init(&it, batch, len, FUZZ_MAX_INFLATED) != TR_OK) {
        tr_batch_iter_cleanup(&it);
        return;
    }
    while (tr_batch_iter_next(&it, &rec) == TR_OK) {
        tr_slice_init(&hs, rec.headers, rec.headers_len);
        while (tr_record_headers_next(&hs, &rh) == TR_OK) {
        }
    }
    tr_batch_iter_cleanup(&it);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_buf out;
    struct tr_slice s;
    const uint8_t *batch;
    uint8_t *copy;
    size_t len;

    if (size < 1) {
        return -1;
    }
    if (data[0] <= TR_CODEC_ZSTD) {
        tr_buf_init(&out, FUZZ_MAX_INFLATED);
        (void)tr_codec_decompress((enum tr_codec)data[0], data + 1, size - 1,
                                  &out);
        tr_buf_cleanup(&out);
        return 0;
    }
    copy = malloc(size - 1 ? size - 1 : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data + 1, size - 1);
    tr_slice_init(&s, copy, size - 1);
    while (tr_batch_next(&s, &batch, &len) == TR_OK) {
        uint8_t *b = (uint8_t *)batch;

        if (len >= TR_BATCH_HEADER_SIZE) {
            uint32_t crc = tr_crc32c(0, b + 21, len - 21);

            b[TR_BATCH_OFF_CRC] = (uint8_t)(crc >> 24);
            b[TR_BATCH_OFF_CRC + 1] = (uint8_t)(crc >> 16);
            b[TR_BATCH_OFF_CRC + 2] = (uint8_t)(crc >> 8);
            b[TR_BATCH_OFF_CRC + 3] = (uint8_t)crc;
        }
        walk_batch(b, len);
    }
    free(copy);
    return 0;
}
