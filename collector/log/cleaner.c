/*
 * cleaner -- the key map, the batch and segment rewrite of log compaction,
 * and the cleaner threads. See cleaner.h.
 *
 * A v2 record inside a batch's records section (after decompression):
 *
 *   +--------+-------+---------+---------+------+-----+--------+-----+-----+
 *   | Length | Attrs | TsDelta | OffDelta| KeyLen| Key | ValLen | Val | Hdrs|
 *   | varint | int8  | varlong | varint  | varint|     | varint |     |     |
 *   +--------+-------+---------+---------+------+-----+--------+-----+-----+
 *
 * The deltas are relative to the batch's BaseOffset and BaseTimestamp,
 * which a cleaned batch keeps, so a surviving record's bytes are copied
 * unchanged.
 */
#include "cleaner.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "clock.h"
#include "codec.h"
#include "crc32c.h"
#include "fsutil.h"
#include "log.h"
#include "partition.h"
#include "topics.h"

/* ---------------------------------------------------------------------- */
/* Key map                                                                 */

struct map_entry {
    uint64_t h1, h2;
    int64_t offset_plus1; /* 0: empty slot */
};

_Static_assert(sizeof(struct map_entry) == TR_CLEANER_MAP_ENTRY_SIZE,
               "a map entry is 24 bytes, as log.cleaner.dedupe.buffer.size "
               "is documented to hold");

struct tr_cleaner_map {
    struct map_entry *slots;
    size_t nslots;
    size_t count;
    size_t limit; /* 90% of nslots */
};

/* Two independent 64-bit hashes of the key: 128 bits, like Kafka's MD5. */
static void
hash_key(const uint8_t *key, size_t len, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        a = (a ^ key[i]) * 0x100000001b3ULL;
        b = (b + key[i]) * 0xff51afd7ed558ccdULL;
        b ^= b >> 29;
    }
    a ^= len;
    a ^= a >> 33;
    a *= 0xc4ceb9fe1a85ec53ULL;
    a ^= a >> 33;
    b ^= (uint64_t)len * 0x9e3779b97f4a7c15ULL;
    b ^= b >> 31;
    b *= 0xbf58476d1ce4e5b9ULL;
    b ^= b >> 27;
    *h1 = a;
    *h2 = b;
}

struct tr_cleaner_map *
tr_cleaner_map_new(size_t max_bytes, size_t expected)
{
    struct tr_cleaner_map *map;
    size_t max_slots = max_bytes / sizeof(struct map_entry);
    size_t want = expected + expected / 8 + 16;

    if (want > max_slots) {
        want = max_slots;
    }
    if (want < 2) {
        return NULL;
    }
    map = tr_calloc(1, sizeof(*map));
    if (map == NULL) {
        return NULL;
    }
    map->slots = tr_calloc(want, sizeof(*map->slots));
    if (map->slots == NULL) {
        tr_free(map);
        return NULL;
    }
    map->nslots = want;
    map->limit = want - want / 10;
    if (map->limit == want) {
        map->limit = want - 1; /* always one free slot to end a probe */
    }
    return map;
}

void
tr_cleaner_map_free(struct tr_cleaner_map *map)
{
    if (map == NULL) {
        return;
    }
    tr_free(map->slots);
    tr_free(map);
}

static struct map_entry *
map_slot(const struct tr_cleaner_map *map, uint64_t h1, uint64_t h2)
{
    size_t i = (size_t)(h1 % map->nslots);

    while (map->slots[i].offset_plus1 != 0 &&
           (map->slots[i].h1 != h1 || map->slots[i].h2 != h2)) {
        i = i + 1 == map->nslots ? 0 : i + 1;
    }
    return &map->slots[i];
}

tr_err_t
tr_cleaner_map_put(struct tr_cleaner_map *map, const void *key, size_t len,
                   int64_t offset)
{
    struct map_entry *e;
    uint64_t h1, h2;

    hash_key(key, len, &h1, &h2);
    e = map_slot(map, h1, h2);
    if (e->offset_plus1 == 0) {
        if (map->count >= map->limit) {
            return TR_ERR_TOO_LARGE;
        }
        e->h1 = h1;
        e->h2 = h2;
        map->count++;
    }
    if (offset + 1 > e->offset_plus1) {
        e->offset_plus1 = offset + 1;
    }
    return TR_OK;
}

int64_t
tr_cleaner_map_get(const struct tr_cleaner_map *map, const void *key,
                   size_t len)
{
    uint64_t h1, h2;

    hash_key(key, len, &h1, &h2);
    return map_slot(map, h1, h2)->offset_plus1 - 1;
}

size_t
tr_cleaner_map_count(const struct tr_cleaner_map *map)
{
    return map->count;
}

size_t
tr_cleaner_map_limit(const struct tr_cleaner_map *map)
{
    return map->limit;
}

/* ---------------------------------------------------------------------- */
/* Records                                                                 */

/* One record of a records section, with its raw bytes. */
struct raw_record {
    const uint8_t *start;
    size_t len; /* the whole record, its Length varint included */
    int32_t offset_delta;
    const uint8_t *key;
    int32_t key_len;
    int32_t value_len;
};

static tr_err_t
next_record(struct tr_slice *s, struct raw_record *r)
{
    struct tr_slice body;
    const uint8_t *start = tr_slice_cur(s);
    int32_t len, key_len, value_len;
    int64_t ts_delta;
    int8_t attrs;
    const uint8_t *key = NULL;

    if (tr_slice_get_varint(s, &len) != TR_OK || len < 0 ||
        tr_slice_sub(s, (size_t)len, &body) != TR_OK ||
        tr_slice_get_i8(&body, &attrs) != TR_OK ||
        tr_slice_get_varlong(&body, &ts_delta) != TR_OK ||
        tr_slice_get_varint(&body, &r->offset_delta) != TR_OK ||
        tr_slice_get_varint(&body, &key_len) != TR_OK || key_len < -1) {
        return TR_ERR_CORRUPT;
    }
    if (key_len >= 0 &&
        tr_slice_get_raw(&body, (size_t)key_len, &key) != TR_OK) {
        return TR_ERR_CORRUPT;
    }
    if (tr_slice_get_varint(&body, &value_len) != TR_OK || value_len < -1) {
        return TR_ERR_CORRUPT;
    }
    r->start = start;
    r->len = (size_t)(tr_slice_cur(s) - start);
    r->key = key;
    r->key_len = key_len;
    r->value_len = value_len;
    return TR_OK;
}

/*
 * Points 'records' at the batch's records section, decompressed into
 * 'inflated' when the batch is compressed.
 */
static tr_err_t
batch_records(const uint8_t *batch, size_t len, const struct tr_batch_header *h,
              struct tr_buf *inflated, struct tr_slice *records)
{
    enum tr_codec codec =
        (enum tr_codec)(h->Attributes & TR_BATCH_ATTR_CODEC_MASK);
    tr_err_t err;

    if (codec == TR_CODEC_NONE) {
        tr_slice_init(records, batch + TR_BATCH_HEADER_SIZE,
                      len - TR_BATCH_HEADER_SIZE);
        return TR_OK;
    }
    if (!tr_codec_available(codec)) {
        return TR_ERR_UNSUPPORTED;
    }
    tr_buf_reset(inflated);
    err = tr_codec_decompress(codec, batch + TR_BATCH_HEADER_SIZE,
                              len - TR_BATCH_HEADER_SIZE, inflated);
    if (err != TR_OK) {
        return err == TR_ERR_TOO_LARGE || err == TR_ERR_NOMEM ? err
                                                              : TR_ERR_CORRUPT;
    }
    tr_slice_init(records, tr_buf_data(inflated), tr_buf_len(inflated));
    return TR_OK;
}

static tr_err_t
parse_batch(const uint8_t *batch, size_t len, struct tr_batch_header *h)
{
    if (tr_batch_header_parse(batch, len, h) != TR_OK ||
        (size_t)h->BatchLength + TR_BATCH_LOG_OVERHEAD != len ||
        h->Magic != TR_BATCH_MAGIC || h->RecordsCount < 0) {
        return TR_ERR_CORRUPT;
    }
    return TR_OK;
}

tr_err_t
tr_cleaner_map_batch(struct tr_cleaner_map *map, const uint8_t *batch,
                     size_t len, int64_t end_offset, size_t max_bytes,
                     int64_t *last)
{
    struct tr_batch_header h;
    struct tr_buf inflated;
    struct tr_slice records;
    struct raw_record r;
    int64_t offset;
    int32_t i;
    tr_err_t err;

    tr_buf_init(&inflated, max_bytes);
    err = parse_batch(batch, len, &h);
    if (err != TR_OK) {
        goto out;
    }
    *last = h.BaseOffset;
    if (h.Attributes & TR_BATCH_ATTR_CONTROL) {
        *last = h.BaseOffset + h.LastOffsetDelta + 1;
        goto out;
    }
    err = batch_records(batch, len, &h, &inflated, &records);
    if (err != TR_OK) {
        goto out;
    }
    for (i = 0; i < h.RecordsCount; i++) {
        err = next_record(&records, &r);
        if (err != TR_OK) {
            goto out;
        }
        offset = h.BaseOffset + r.offset_delta;
        if (offset >= end_offset) {
            break;
        }
        if (r.key_len >= 0) {
            err = tr_cleaner_map_put(map, r.key, (size_t)r.key_len, offset);
            if (err != TR_OK) {
                goto out;
            }
        }
        *last = offset + 1;
    }
    if (i == h.RecordsCount && h.BaseOffset + h.LastOffsetDelta < end_offset) {
        *last = h.BaseOffset + h.LastOffsetDelta + 1;
    }
out:
    tr_buf_cleanup(&inflated);
    return err;
}

/* Writes a batch header for 'records' and 'count' records to 'out'. */
static void
put_batch(struct tr_buf *out, const uint8_t *orig_header, int16_t attributes,
          int32_t count, const uint8_t *records, size_t records_len)
{
    size_t at = tr_buf_len(out);
    uint8_t *p;
    uint32_t crc;

    tr_buf_put_bytes(out, orig_header, TR_BATCH_HEADER_SIZE);
    tr_buf_put_bytes(out, records, records_len);
    if (tr_buf_err(out) != TR_OK) {
        return;
    }
    p = tr_buf_data(out) + at;
    tr_store_i32(
        p + TR_BATCH_OFF_LENGTH,
        (int32_t)(TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD + records_len));
    tr_store_i16(p + TR_BATCH_OFF_ATTRIBUTES, attributes);
    tr_store_i32(p + TR_BATCH_HEADER_SIZE - 4, count);
    crc =
        tr_crc32c(0, p + TR_BATCH_OFF_ATTRIBUTES,
                  TR_BATCH_HEADER_SIZE - TR_BATCH_OFF_ATTRIBUTES + records_len);
    tr_store_u32(p + TR_BATCH_OFF_CRC, crc);
}

/* ---- transactions of a pass ----------------------------------------- */

struct open_txn {
    int64_t producer_id;
    int has_data;
};

struct tr_cleaner_txns {
    struct open_txn *open;
    size_t nopen, open_cap;
    struct tr_cleaner_marker *dropped;
    size_t ndropped, dropped_cap;
};

struct tr_cleaner_txns *
tr_cleaner_txns_new(void)
{
    return tr_calloc(1, sizeof(struct tr_cleaner_txns));
}

void
tr_cleaner_txns_free(struct tr_cleaner_txns *t)
{
    if (t != NULL) {
        tr_free(t->open);
        tr_free(t->dropped);
        tr_free(t);
    }
}

size_t
tr_cleaner_txns_dropped(const struct tr_cleaner_txns *t,
                        const struct tr_cleaner_marker **out)
{
    *out = t->dropped;
    return t->ndropped;
}

void
tr_cleaner_txns_clear_dropped(struct tr_cleaner_txns *t)
{
    t->ndropped = 0;
}

static struct open_txn *
txn_find(struct tr_cleaner_txns *t, int64_t producer_id)
{
    for (size_t i = t->nopen; i > 0; i--) {
        if (t->open[i - 1].producer_id == producer_id) {
            return &t->open[i - 1];
        }
    }
    return NULL;
}

/* A transactional batch of 'producer_id' keeps records ('kept') or not. */
static tr_err_t
txn_data(struct tr_cleaner_txns *t, int64_t producer_id, int kept)
{
    struct open_txn *o = txn_find(t, producer_id);

    if (o == NULL) {
        if (tr_array_reserve(&t->open, &t->open_cap, t->nopen + 1,
                             sizeof(*t->open)) != TR_OK) {
            return TR_ERR_NOMEM;
        }
        o = &t->open[t->nopen++];
        o->producer_id = producer_id;
        o->has_data = 0;
    }
    o->has_data |= kept;
    return TR_OK;
}

/* A marker of 'producer_id': closes its transaction; 1 if it kept data. */
static int
txn_close(struct tr_cleaner_txns *t, int64_t producer_id)
{
    struct open_txn *o = txn_find(t, producer_id);
    int had;

    if (o == NULL) {
        return 0; /* none of its data is left (or it wrote none) */
    }
    had = o->has_data;
    *o = t->open[--t->nopen];
    return had;
}

/*
 * A control batch: 1 if it goes (its transaction keeps no data, it is
 * older than the delete horizon and not its producer's last batch).
 */
static int
drop_marker(const struct tr_cleaner_filter *f, const uint8_t *batch, size_t len,
            const struct tr_batch_header *h, tr_err_t *err)
{
    struct tr_cleaner_txns *t = f->txns;
    int commit;
    int32_t coordinator_epoch;

    *err = TR_OK;
    if (t == NULL || txn_close(t, h->ProducerId) ||
        h->MaxTimestamp >= f->tombstone_horizon_ms ||
        (f->is_last != NULL &&
         f->is_last(h->ProducerId, h->BaseOffset, f->arg)) ||
        tr_batch_marker_parse(batch, len, &commit, &coordinator_epoch) !=
            TR_OK) {
        return 0;
    }
    if (!commit) {
        if (tr_array_reserve(&t->dropped, &t->dropped_cap, t->ndropped + 1,
                             sizeof(*t->dropped)) != TR_OK) {
            *err = TR_ERR_NOMEM;
            return 0;
        }
        t->dropped[t->ndropped++] =
            (struct tr_cleaner_marker){ h->ProducerId, h->BaseOffset };
    }
    return 1;
}

tr_err_t
tr_cleaner_filter_batch(const struct tr_cleaner_filter *f, const uint8_t *batch,
                        size_t len, struct tr_buf *out,
                        struct tr_cleaner_counts *counts)
{
    struct tr_batch_header h;
    struct tr_buf inflated, kept, packed;
    struct tr_slice records;
    struct raw_record r;
    enum tr_codec codec;
    int64_t offset, latest;
    int32_t i, nkept = 0;
    int drop_tombstones, aborted;
    tr_err_t err;

    tr_buf_init(&inflated, f->max_bytes);
    tr_buf_init(&kept, f->max_bytes);
    tr_buf_init(&packed, f->max_bytes + 1024);
    err = parse_batch(batch, len, &h);
    if (err != TR_OK) {
        goto out;
    }
    codec = (enum tr_codec)(h.Attributes & TR_BATCH_ATTR_CODEC_MASK);
    if (h.Attributes & TR_BATCH_ATTR_CONTROL) {
        if (drop_marker(f, batch, len, &h, &err)) {
            counts->batches_removed++;
            goto out;
        }
        if (err == TR_OK) {
            tr_buf_put_bytes(out, batch, len);
            err = tr_buf_err(out);
        }
        goto out;
    }
    err = batch_records(batch, len, &h, &inflated, &records);
    if (err != TR_OK) {
        goto out;
    }
    drop_tombstones = h.MaxTimestamp < f->tombstone_horizon_ms;
    aborted = (h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
              f->is_aborted != NULL &&
              f->is_aborted(h.ProducerId, h.BaseOffset, f->arg);
    for (i = 0; i < h.RecordsCount && !aborted; i++) {
        err = next_record(&records, &r);
        if (err != TR_OK) {
            goto out;
        }
        offset = h.BaseOffset + r.offset_delta;
        if (r.key_len < 0) {
            continue; /* a compacted log has no use for keyless records */
        }
        latest = tr_cleaner_map_get(f->map, r.key, (size_t)r.key_len);
        if (latest > offset || (r.value_len < 0 && drop_tombstones)) {
            continue;
        }
        tr_buf_put_bytes(&kept, r.start, r.len);
        nkept++;
    }
    err = tr_buf_err(&kept);
    if (err != TR_OK) {
        goto out;
    }
    counts->records_kept += nkept;
    counts->records_removed += h.RecordsCount - nkept;
    if (f->txns != NULL && (h.Attributes & TR_BATCH_ATTR_TRANSACTIONAL) &&
        (err = txn_data(f->txns, h.ProducerId, nkept > 0)) != TR_OK) {
        goto out;
    }
    if (nkept == h.RecordsCount) {
        tr_buf_put_bytes(out, batch, len);
    } else if (nkept > 0 && codec == TR_CODEC_NONE) {
        put_batch(out, batch, h.Attributes, nkept, tr_buf_data(&kept),
                  tr_buf_len(&kept));
    } else if (nkept > 0) {
        err = tr_codec_compress(codec, tr_buf_data(&kept), tr_buf_len(&kept),
                                &packed);
        if (err != TR_OK) {
            goto out;
        }
        put_batch(out, batch, h.Attributes, nkept, tr_buf_data(&packed),
                  tr_buf_len(&packed));
    } else if (h.ProducerId >= 0 && f->is_last != NULL &&
               f->is_last(h.ProducerId, h.BaseOffset, f->arg)) {
        /* Kafka's empty batch: no records, no codec, same header fields. */
        put_batch(out, batch,
                  (int16_t)(h.Attributes & ~TR_BATCH_ATTR_CODEC_MASK), 0, NULL,
                  0);
    } else {
        counts->batches_removed++;
    }
    err = tr_buf_err(out);
out:
    tr_buf_cleanup(&inflated);
    tr_buf_cleanup(&kept);
    tr_buf_cleanup(&packed);
    return err;
}

static tr_err_t
write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = write(fd, (const uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == ENOSPC || errno == EDQUOT ? TR_ERR_NOSPACE
                                                      : TR_ERR_IO;
        }
        done += (size_t)n;
    }
    return TR_OK;
}

#define REWRITE_FLUSH_BYTES (1024 * 1024)

tr_err_t
tr_cleaner_rewrite_file(const struct tr_cleaner_filter *f, int in_fd,
                        int64_t in_size, int out_fd, int64_t *out_size,
                        struct tr_cleaner_counts *counts)
{
    struct tr_buf out;
    uint8_t head[TR_BATCH_LOG_OVERHEAD];
    uint8_t *in = NULL, *grown;
    size_t in_cap = 0;
    int64_t pos = 0;
    int32_t blen;
    size_t total;
    tr_err_t err = TR_OK;

    *out_size = 0;
    tr_buf_init(&out, 2 * REWRITE_FLUSH_BYTES + f->max_bytes * 2 + 4096);
    while (pos < in_size) {
        err = tr_read_at(in_fd, head, sizeof(head), (uint64_t)pos);
        if (err != TR_OK) {
            goto out;
        }
        blen = tr_load_i32(head + TR_BATCH_OFF_LENGTH);
        if (blen < TR_BATCH_HEADER_SIZE - TR_BATCH_LOG_OVERHEAD ||
            (int64_t)blen + TR_BATCH_LOG_OVERHEAD > in_size - pos) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        total = (size_t)blen + TR_BATCH_LOG_OVERHEAD;
        if (total > f->max_bytes + TR_BATCH_LOG_OVERHEAD) {
            err = TR_ERR_TOO_LARGE;
            goto out;
        }
        if (total > in_cap) {
            grown = tr_realloc(in, total);
            if (grown == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            in = grown;
            in_cap = total;
        }
        err = tr_read_at(in_fd, in, total, (uint64_t)pos);
        if (err != TR_OK) {
            goto out;
        }
        err = tr_cleaner_filter_batch(f, in, total, &out, counts);
        if (err != TR_OK) {
            goto out;
        }
        pos += (int64_t)total;
        if (tr_buf_len(&out) >= REWRITE_FLUSH_BYTES) {
            err = write_all(out_fd, tr_buf_data(&out), tr_buf_len(&out));
            if (err != TR_OK) {
                goto out;
            }
            *out_size += (int64_t)tr_buf_len(&out);
            tr_buf_reset(&out);
        }
    }
    err = write_all(out_fd, tr_buf_data(&out), tr_buf_len(&out));
    if (err == TR_OK) {
        *out_size += (int64_t)tr_buf_len(&out);
    }
out:
    tr_free(in);
    tr_buf_cleanup(&out);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Threads                                                                 */

struct tr_cleaner {
    struct tr_topics *topics;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int64_t map_bytes; /* per thread */
    int64_t backoff_ms;
    pthread_t *threads;
    int nthreads;
};

int
tr_cleaner_run_once(struct tr_topics *topics, int64_t now_ms, int64_t map_bytes)
{
    struct tr_partition **parts;
    struct tr_clean_stats st;
    size_t n, i;
    int cleaned = 0;
    tr_err_t err;

    parts = tr_topics_partitions(topics, &n);
    if (parts == NULL) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        err = tr_partition_clean(parts[i], now_ms, map_bytes, 0, &st);
        if (err == TR_OK) {
            cleaned++;
            tr_log_info("cleaner: %s: %d segments rewritten, %" PRId64
                        " records removed, %" PRId64 " -> %" PRId64
                        " bytes, cleaned up to offset %" PRId64,
                        tr_partition_dir(parts[i]), st.segments_rewritten,
                        st.records_removed, st.bytes_before, st.bytes_after,
                        st.first_dirty);
        } else if (err != TR_ERR_AGAIN) {
            tr_log_error("cleaner: %s: %s", tr_partition_dir(parts[i]),
                         tr_err_str(err));
        }
    }
    tr_topics_partitions_release(parts, n);
    return cleaned;
}

static void *
cleaner_main(void *arg)
{
    struct tr_cleaner *c = arg;
    struct timespec ts;
    int cleaned;

    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        pthread_mutex_unlock(&c->lock);
        cleaned =
            tr_cleaner_run_once(c->topics, tr_clock_wall_ms(), c->map_bytes);
        pthread_mutex_lock(&c->lock);
        if (cleaned > 0 || c->stop) {
            continue; /* more may be due at once */
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(c->backoff_ms / 1000);
        ts.tv_nsec += (long)(c->backoff_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

tr_err_t
tr_cleaner_start(struct tr_topics *topics, int threads, int64_t map_bytes,
                 int64_t backoff_ms, struct tr_cleaner **out)
{
    struct tr_cleaner *c;
    tr_err_t err = TR_ERR_NOMEM;
    int i;

    c = tr_calloc(1, sizeof(*c));
    if (c == NULL) {
        goto out;
    }
    threads = threads < 1 ? 1 : threads;
    c->topics = topics;
    c->map_bytes = map_bytes / threads;
    c->backoff_ms = backoff_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->threads = tr_calloc((size_t)threads, sizeof(*c->threads));
    if (c->threads == NULL) {
        goto out;
    }
    for (i = 0; i < threads; i++) {
        if (pthread_create(&c->threads[i], NULL, cleaner_main, c) != 0) {
            err = TR_ERR_INTERNAL;
            goto out;
        }
        c->nthreads++;
    }
    *out = c;
    c = NULL;
    err = TR_OK;
out:
    tr_cleaner_stop(c);
    return err;
}

void
tr_cleaner_stop(struct tr_cleaner *c)
{
    int i;

    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    for (i = 0; i < c->nthreads; i++) {
        pthread_join(c->threads[i], NULL);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    tr_free(c->threads);
    tr_free(c);
}
