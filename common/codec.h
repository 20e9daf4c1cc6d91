/*
 * codec -- record-batch compression behind one interface.
 *
 * gzip through zlib is always built; snappy, lz4 and zstd are added when
 * configure finds their libraries (--with-zstd, --with-lz4, --with-snappy;
 * tr_codec_available() tells at run time). The collector never calls these
 * on the produce path (it stores batches as produced); the client core, the
 * tools and the log cleaner do.
 *
 * The formats are Kafka's: gzip members; snappy in snappy-java's "xerial"
 * framing (decompression also takes the plain raw snappy librdkafka
 * writes); the LZ4 frame format with 64 KiB independent blocks, as the Java
 * client writes it; zstd frames.
 */
#ifndef TR_CODEC_H
#define TR_CODEC_H

#include <stddef.h>

#include "batch.h"
#include "buf.h"
#include "err.h"

/* 1 if 'codec' is built in. */
int tr_codec_available(enum tr_codec codec);
/* "none", "gzip", "snappy", "lz4", "zstd"; NULL for an unknown value. */
const char *tr_codec_name(enum tr_codec codec);
/* Parses a codec name; returns -1 if unknown. */
int tr_codec_parse(const char *name);

/* Appends the compressed form of 'in' to 'out'. */
tr_err_t tr_codec_compress(enum tr_codec codec, const void *in, size_t len,
                           struct tr_buf *out);
/*
 * Appends the decompressed form of 'in' to 'out'; the output is bounded by
 * out's maximum (TR_ERR_TOO_LARGE past it), so a compression bomb cannot
 * exhaust memory. TR_ERR_CORRUPT for a bad stream.
 */
tr_err_t tr_codec_decompress(enum tr_codec codec, const void *in, size_t len,
                             struct tr_buf *out);

#endif /* TR_CODEC_H */
