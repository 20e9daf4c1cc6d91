/*
 * codec -- record-batch compression: one table row per codec.
 *
 * Each codec is a compress and a decompress function appending to a
 * struct tr_buf; a codec not built in has NULL functions and reports
 * TR_ERR_UNSUPPORTED. Adding snappy, lz4 or zstd means writing their two
 * functions and filling in their row under the configure switch.
 *
 * Decompression never trusts sizes inside the stream: output goes through
 * tr_buf_put_bytes a chunk at a time, so the caller's buffer maximum is the
 * only bound and a compression bomb ends with TR_ERR_TOO_LARGE.
 */
#include "codec.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "alloc.h"

/* Bytes produced per zlib call; output is copied into 'out' from here. */
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

/* Indexed by enum tr_codec. */
static const struct codec_row codecs[] = {
    [TR_CODEC_NONE] = { "none", none_copy, none_copy },
    [TR_CODEC_GZIP] = { "gzip", gzip_compress, gzip_decompress },
    [TR_CODEC_SNAPPY] = { "snappy", NULL, NULL },
    [TR_CODEC_LZ4] = { "lz4", NULL, NULL },
    [TR_CODEC_ZSTD] = { "zstd", NULL, NULL },
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
