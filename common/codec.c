/*
 * codec -- record-batch compression: one table row per codec.
 *
 * Each codec is a compress and a decompress function appending to a
 * struct tr_buf; a codec not built in has NULL functions and reports
 * TR_ERR_UNSUPPORTED. configure defines HAVE_ZSTD, HAVE_LZ4 and HAVE_SNAPPY
 * when it finds the libraries (--with-zstd and friends), and only those rows
 * are filled in.
 *
 * Decompression never trusts sizes inside the stream: output goes through
 * tr_buf_put_bytes (a chunk at a time for the streaming codecs), so the
 * caller's buffer maximum is the only bound and a compression bomb ends with
 * TR_ERR_TOO_LARGE. Snappy blocks declare their size up front; that size is
 * believed only after the whole block has been validated, and only as far as
 * the caller's maximum allows.
 *
 * zlib allocates through tr_malloc (its hooks are part of its stable API);
 * libzstd, liblz4 and libsnappy allocate their working memory themselves,
 * because their allocator hooks are not part of their stable ABI.
 */
#include "codec.h"

#include "build-config.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif
#ifdef HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef HAVE_SNAPPY
#include <snappy-c.h>
#endif

#include "alloc.h"

/* Bytes produced per library call; output is copied into 'out' from here. */
#define CHUNK 16384

typedef tr_err_t codec_fn(const void *in, size_t len, struct tr_buf *out);

struct codec_row {
    const char *name;
    codec_fn *compress;   /* NULL: not built in */
    codec_fn *decompress; /* NULL: not built in */
};

/* zlib's allocator hooks, so that allocation failures can be injected. */
static voidpf
zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size != 0 && items > SIZE_MAX / size) {
        return Z_NULL;
    }
    return tr_malloc((size_t)items * size);
}

static void
zfree(voidpf opaque, voidpf ptr)
{
    (void)opaque;
    tr_free(ptr);
}

/* Gives zlib the next piece of input; avail_in is only a uInt. */
static void
feed(z_stream *zs, const uint8_t **in, size_t *left)
{
    uInt n = *left > UINT_MAX ? UINT_MAX : (uInt)*left;

    if (zs->avail_in == 0 && *left > 0) {
        zs->next_in = (Bytef *)*in;
        zs->avail_in = n;
        *in += n;
        *left -= n;
    }
}

static tr_err_t
none_copy(const void *in, size_t len, struct tr_buf *out)
{
    tr_buf_put_bytes(out, in, len);
    return tr_buf_err(out);
}
/* Writes one gzip member (RFC 1952) at the default level. */
static tr_err_t
gzip_compress(const void *in, size_t len, struct tr_buf *out)
{
    uint8_t chunk[CHUNK];
    const uint8_t *next = in;
    size_t left = len;
    z_stream zs;
    tr_err_t err = TR_ERR_NOMEM;
    int zr;

    memset(&zs, 0, sizeof(zs));
    zs.zalloc = zalloc;
    zs.zfree = zfree;
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return TR_ERR_NOMEM;
    }
    do {
        feed(&zs, &next, &left);
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zr = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR || zr == Z_MEM_ERROR) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        tr_buf_put_bytes(out, chunk, sizeof(chunk) - zs.avail_out);
        if (tr_buf_err(out) != TR_OK) {
            err = tr_buf_err(out);
            goto out;
        }
    } while (zr != Z_STREAM_END);
    err = TR_OK;
out:
    deflateEnd(&zs);
    return err;
}

/*
 * Inflates gzip or zlib streams (windowBits 15 + 32 detects the header).
 * Several concatenated gzip members are accepted, as Java's
 * GZIPInputStream does; anything else after the end is corrupt.
 */
static tr_err_t
gzip_decompress(const void *in, size_t len, struct tr_buf *out)
{
    uint8_t chunk[CHUNK];
    const uint8_t *next = in;
    size_t left = len;
    z_stream zs;
    tr_err_t err = TR_ERR_NOMEM;
    int zr;

    memset(&zs, 0, sizeof(zs));
    zs.zalloc = zalloc;
    zs.zfree = zfree;
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        return TR_ERR_NOMEM;
    }
    for (;;) {
        feed(&zs, &next, &left);
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zr = inflate(&zs, Z_NO_FLUSH);
        tr_buf_put_bytes(out, chunk, sizeof(chunk) - zs.avail_out);
        if (tr_buf_err(out) != TR_OK) {
            err = tr_buf_err(out);
            goto out;
        }
        if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0 && left == 0) {
                break;
            }
            /* Another member follows. */
            if (inflateReset(&zs) != Z_OK) {
                err = TR_ERR_CORRUPT;
                goto out;
            }
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        /*
         * With fresh output space, Z_BUF_ERROR means no progress was
         * possible: the input ran out before the stream ended.
         */
        if (zr != Z_OK) {
            err = TR_ERR_CORRUPT; /* also Z_DATA_ERROR, Z_NEED_DICT */
            goto out;
        }
    }
    err = TR_OK;
out:
    inflateEnd(&zs);
    return err;
}

#ifdef HAVE_ZSTD
/* Allocation failures inside libzstd are ours to report as NOMEM. */
static tr_err_t
zstd_err(size_t ret, tr_err_t otherwise)
{
    return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? TR_ERR_NOMEM
                                                                  : otherwise;
}

/*
 * Writes one zstd frame at the default level (3). The frame header carries
 * the content size, as librdkafka's does, so that readers which size their
 * output from it (librdkafka, zstd-jni) need not guess.
 */
static tr_err_t
zstd_compress(const void *in, size_t len, struct tr_buf *out)
{
    uint8_t chunk[CHUNK];
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_inBuffer src = { in, len, 0 };
    ZSTD_outBuffer dst;
    tr_err_t err = TR_ERR_NOMEM;
    size_t ret;

    if (cctx == NULL) {
        goto out;
    }
    ret = ZSTD_CCtx_setPledgedSrcSize(cctx, len);
    if (ZSTD_isError(ret)) {
        err = TR_ERR_INTERNAL;
        goto out;
    }
    do {
        dst.dst = chunk;
        dst.size = sizeof(chunk);
        dst.pos = 0;
        ret = ZSTD_compressStream2(cctx, &dst, &src, ZSTD_e_end);
        if (ZSTD_isError(ret)) {
            err = zstd_err(ret, TR_ERR_INTERNAL);
            goto out;
        }
        tr_buf_put_bytes(out, chunk, dst.pos);
        if (tr_buf_err(out) != TR_OK) {
            err = tr_buf_err(out);
            goto out;
        }
    } while (ret != 0);
    err = TR_OK;
out:
    ZSTD_freeCCtx(cctx);
    return err;
}

/*
 * Decodes one or more zstd frames (skippable frames are skipped). The
 * window is limited to libzstd's default (2^27 bytes), which every Kafka
 * producer stays within unless it asks for the highest levels.
 */
static tr_err_t
zstd_decompress(const void *in, size_t len, struct tr_buf *out)
{
    uint8_t chunk[CHUNK];
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer src = { in, len, 0 };
    ZSTD_outBuffer dst;
    tr_err_t err = TR_ERR_NOMEM;
    size_t ret = 1;

    if (dctx == NULL) {
        goto out;
    }
    for (;;) {
        dst.dst = chunk;
        dst.size = sizeof(chunk);
        dst.pos = 0;
        ret = ZSTD_decompressStream(dctx, &dst, &src);
        if (ZSTD_isError(ret)) {
            err = zstd_err(ret, TR_ERR_CORRUPT);
            goto out;
        }
        tr_buf_put_bytes(out, chunk, dst.pos);
        if (tr_buf_err(out) != TR_OK) {
            err = tr_buf_err(out);
            goto out;
        }
        /*
         * 0: a frame ended and all of it was flushed. A chunk not filled up
         * also means libzstd holds nothing back, whatever it returned.
         */
        if (src.pos == src.size && (ret == 0 || dst.pos < dst.size)) {
            break;
        }
    }
    /* Non-zero: the input ended inside a frame (or there was none). */
    if (ret != 0) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    err = TR_OK;
out:
    ZSTD_freeDCtx(dctx);
    return err;
}
#endif /* HAVE_ZSTD */

#ifdef HAVE_LZ4
/* Input fed to LZ4F per call: one block of the 64 KiB size we write. */
#define LZ4_BLOCK (64 * 1024)

/*
 * Writes one LZ4 frame the way Kafka's Java client does
 * (KafkaLZ4BlockOutputStream): 64 KiB independent blocks, no block or
 * content checksum, no content size. Java's reader refuses dependent
 * blocks, so the independence flag matters. The frame header checksum is
 * the correct one; only pre-0.10 (magic 0) writers got it wrong.
 */
static tr_err_t
lz4_compress(const void *in, size_t len, struct tr_buf *out)
{
    LZ4F_preferences_t prefs;
    LZ4F_cctx *cctx = NULL;
    const uint8_t *next = in;
    size_t left = len, cap, n;
    uint8_t *chunk = NULL;
    tr_err_t err = TR_ERR_NOMEM;

    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.autoFlush = 1;
    /* Room for the header, one block, or the end mark, whichever is asked. */
    cap = LZ4F_compressBound(LZ4_BLOCK, &prefs);
    if (cap < LZ4F_HEADER_SIZE_MAX) {
        cap = LZ4F_HEADER_SIZE_MAX;
    }
    chunk = tr_malloc(cap);
    if (chunk == NULL) {
        goto out;
    }
    if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION))) {
        cctx = NULL;
        goto out;
    }
    n = LZ4F_compressBegin(cctx, chunk, cap, &prefs);
    if (LZ4F_isError(n)) {
        err = TR_ERR_INTERNAL;
        goto out;
    }
    tr_buf_put_bytes(out, chunk, n);
    while (left > 0 && tr_buf_err(out) == TR_OK) {
        size_t piece = left < LZ4_BLOCK ? left : LZ4_BLOCK;

        n = LZ4F_compressUpdate(cctx, chunk, cap, next, piece, NULL);
        if (LZ4F_isError(n)) {
            err = TR_ERR_INTERNAL;
            goto out;
        }
        tr_buf_put_bytes(out, chunk, n);
        next += piece;
        left -= piece;
    }
    n = LZ4F_compressEnd(cctx, chunk, cap, NULL);
    if (LZ4F_isError(n)) {
        err = TR_ERR_INTERNAL;
        goto out;
    }
    tr_buf_put_bytes(out, chunk, n);
    err = tr_buf_err(out);
out:
    LZ4F_freeCompressionContext(cctx);
    tr_free(chunk);
    return err;
}

/*
 * Decodes one or more LZ4 frames, whatever block size, block mode and
 * checksum flags they use. The header checksum must be right: old Kafka
 * clients computed it wrongly, but only for magic 0/1 message sets, which
 * never reach a v2 batch. liblz4's stable API does not tell an allocation
 * failure inside LZ4F_decompress from bad input: both are TR_ERR_CORRUPT.
 */
static tr_err_t
lz4_decompress(const void *in, size_t len, struct tr_buf *out)
{
    uint8_t chunk[CHUNK];
    LZ4F_dctx *dctx = NULL;
    const uint8_t *next = in;
    size_t left = len, dst_len, src_len, ret;
    tr_err_t err = TR_ERR_NOMEM;

    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        dctx = NULL;
        goto out;
    }
    for (;;) {
        dst_len = sizeof(chunk);
        src_len = left;
        ret = LZ4F_decompress(dctx, chunk, &dst_len, next, &src_len, NULL);
        if (LZ4F_isError(ret)) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        next += src_len;
        left -= src_len;
        tr_buf_put_bytes(out, chunk, dst_len);
        if (tr_buf_err(out) != TR_OK) {
            err = tr_buf_err(out);
            goto out;
        }
        /* 0: a frame ended and all of it was flushed. */
        if (ret == 0 && left == 0) {
            break;
        }
        /* No progress either way: the input ends inside a frame. */
        if (src_len == 0 && dst_len == 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
    err = TR_OK;
out:
    LZ4F_freeDecompressionContext(dctx);
    return err;
}
#endif /* HAVE_LZ4 */

#ifdef HAVE_SNAPPY
/*
 * Kafka's snappy is snappy-java's stream format ("xerial" framing), not
 * Google's framing format:
 *
 *  0                8         12        16
 *  +----------------+---------+---------+--------+-----------+--------+---
 *  |82 SNAPPY 00    |version 1|compat 1 |blockLen|raw snappy |blockLen|...
 *  +----------------+---------+---------+--------+-----------+--------+---
 *
 * blockLen is a big-endian int32 and each block is an independent raw
 * snappy stream of at most 32 KiB of input. Java producers write this;
 * librdkafka writes one plain raw snappy stream instead, so readers accept
 * both, telling them apart by the magic. snappy-java also reads a header
 * appearing again between blocks (concatenated streams), and so do we.
 */
static const uint8_t xerial_magic[8] = {
    0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0
};

#define XERIAL_HEADER_SIZE 16
#define XERIAL_BLOCK       (32 * 1024) /* snappy-java's default */

static tr_err_t
snappy_compress_xerial(const void *in, size_t len, struct tr_buf *out)
{
    const char *next = in;
    size_t left = len, cap = snappy_max_compressed_length(XERIAL_BLOCK), n;
    char *block = tr_malloc(cap);
    tr_err_t err = TR_ERR_NOMEM;

    if (block == NULL) {
        goto out;
    }
    tr_buf_put_bytes(out, xerial_magic, sizeof(xerial_magic));
    tr_buf_put_i32(out, 1); /* version */
    tr_buf_put_i32(out, 1); /* compatible version */
    while (left > 0 && tr_buf_err(out) == TR_OK) {
        size_t piece = left < XERIAL_BLOCK ? left : XERIAL_BLOCK;

        n = cap;
        if (snappy_compress(next, piece, block, &n) != SNAPPY_OK) {
            err = TR_ERR_INTERNAL;
            goto out;
        }
        tr_buf_put_i32(out, (int32_t)n); /* blockLen */
        tr_buf_put_bytes(out, block, n);
        next += piece;
        left -= piece;
    }
    err = tr_buf_err(out);
out:
    tr_free(block);
    return err;
}

/*
 * Appends one raw snappy stream. The stream is validated before its
 * declared size is believed; that size is then reserved in 'out', which
 * fails with TR_ERR_TOO_LARGE past the caller's maximum.
 */
static tr_err_t
snappy_raw(const uint8_t *in, size_t len, struct tr_buf *out)
{
    size_t n = 0;
    char *plain = NULL;
    tr_err_t err = TR_ERR_CORRUPT;

    if (snappy_validate_compressed_buffer((const char *)in, len) != SNAPPY_OK ||
        snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK) {
        goto out;
    }
    err = tr_buf_reserve(out, n);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    plain = tr_malloc(n > 0 ? n : 1);
    if (plain == NULL) {
        goto out;
    }
    if (snappy_uncompress((const char *)in, len, plain, &n) != SNAPPY_OK) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    tr_buf_put_bytes(out, plain, n);
    err = tr_buf_err(out);
out:
    tr_free(plain);
    return err;
}

static int
xerial_header_at(const uint8_t *p, size_t left)
{
    return left >= sizeof(xerial_magic) &&
           memcmp(p, xerial_magic, sizeof(xerial_magic)) == 0;
}

static tr_err_t
snappy_decompress_any(const void *in, size_t len, struct tr_buf *out)
{
    const uint8_t *p = in;
    size_t pos = XERIAL_HEADER_SIZE;
    uint32_t block_len;
    tr_err_t err;

    if (!xerial_header_at(p, len)) {
        return snappy_raw(p, len, out);
    }
    while (pos < len) {
        if (xerial_header_at(p + pos, len - pos)) {
            pos += XERIAL_HEADER_SIZE;
            continue;
        }
        if (len - pos < 4) {
            return TR_ERR_CORRUPT;
        }
        block_len = tr_load_u32(p + pos); /* blockLen */
        pos += 4;
        if (block_len > len - pos) {
            return TR_ERR_CORRUPT;
        }
        err = snappy_raw(p + pos, block_len, out);
        if (err != TR_OK) {
            return err;
        }
        pos += block_len;
    }
    /* A header cut short, by itself or after the last block. */
    return pos == len ? TR_OK : TR_ERR_CORRUPT;
}
#endif /* HAVE_SNAPPY */

#ifdef HAVE_ZSTD
#define ZSTD_ROW zstd_compress, zstd_decompress
#else
#define ZSTD_ROW NULL, NULL
#endif
#ifdef HAVE_LZ4
#define LZ4_ROW lz4_compress, lz4_decompress
#else
#define LZ4_ROW NULL, NULL
#endif
#ifdef HAVE_SNAPPY
#define SNAPPY_ROW snappy_compress_xerial, snappy_decompress_any
#else
#define SNAPPY_ROW NULL, NULL
#endif

/* Indexed by enum tr_codec. */
static const struct codec_row codecs[] = {
    [TR_CODEC_NONE] = { "none", none_copy, none_copy },
    [TR_CODEC_GZIP] = { "gzip", gzip_compress, gzip_decompress },
    [TR_CODEC_SNAPPY] = { "snappy", SNAPPY_ROW },
    [TR_CODEC_LZ4] = { "lz4", LZ4_ROW },
    [TR_CODEC_ZSTD] = { "zstd", ZSTD_ROW },
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static const struct codec_row *
row(enum tr_codec codec)
{
    if ((unsigned)codec >= NCODECS) {
        return NULL;
    }
    return &codecs[codec];
}

int
tr_codec_available(enum tr_codec codec)
{
    const struct codec_row *r = row(codec);

    return r != NULL && r->compress != NULL && r->decompress != NULL;
}

const char *
tr_codec_name(enum tr_codec codec)
{
    const struct codec_row *r = row(codec);

    return r != NULL ? r->name : NULL;
}

int
tr_codec_parse(const char *name)
{
    size_t i;

    for (i = 0; i < NCODECS; i++) {
        if (strcmp(name, codecs[i].name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Runs 'fn' and, on failure, takes back anything it appended to 'out'. */
static tr_err_t
run(codec_fn *fn, const void *in, size_t len, struct tr_buf *out)
{
    size_t start = tr_buf_len(out);
    tr_err_t err = fn(in, len, out);

    if (err != TR_OK) {
        tr_buf_truncate(out, start);
    }
    return err;
}

tr_err_t
tr_codec_compress(enum tr_codec codec, const void *in, size_t len,
                  struct tr_buf *out)
{
    const struct codec_row *r = row(codec);

    if (r == NULL || r->compress == NULL) {
        return TR_ERR_UNSUPPORTED;
    }
    return run(r->compress, in, len, out);
}

tr_err_t
tr_codec_decompress(enum tr_codec codec, const void *in, size_t len,
                    struct tr_buf *out)
{
    const struct codec_row *r = row(codec);

    if (r == NULL || r->decompress == NULL) {
        return TR_ERR_UNSUPPORTED;
    }
    return run(r->decompress, in, len, out);
}
