/*
 * test_producer -- the client core without a broker: request encoders and
 * response decoders on byte buffers, the metadata cache, backoff, and the
 * producer's accumulation (partitioning, linger, batch size, backpressure),
 * idempotence bookkeeping (sequences, retries, DUPLICATE/OUT_OF_ORDER/
 * UNKNOWN_PRODUCER_ID, restamping) and exactly-once reporting.
 *
 * producer.c is included so that the tests can drive its static stages
 * (pump, batch_result, renumber_all) directly; the event loop never runs,
 * so nothing reaches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "producer.c"

/* Encoding helpers for hand-made responses. */

static void
put_str(struct tr_buf *b, const char *s)
{
    tr_proto_put_cstring_v(b, 0, s);
}

/*
 * A Metadata response (v1-v7) with one broker (node 'node' at
 * 127.0.0.1:'port') and one topic of 'nparts' partitions led by 'node'.
 */
static void
build_metadata(struct tr_buf *b, int16_t v, int32_t node, int32_t port,
               const char *topic, int32_t nparts, int16_t topic_err)
{
    int32_t i;

    if (v >= 3) {
        tr_buf_put_i32(b, 0); /* ThrottleTimeMs */
    }
    tr_buf_put_i32(b, 1);    /* Brokers */
    tr_buf_put_i32(b, node); /* NodeId */
    put_str(b, "127.0.0.1"); /* Host */
    tr_buf_put_i32(b, port); /* Port */
    put_str(b, NULL);        /* Rack */
    if (v >= 2) {
        put_str(b, "cluster"); /* ClusterId */
    }
    tr_buf_put_i32(b, node); /* ControllerId */
    tr_buf_put_i32(b, 1);    /* Topics */
    tr_buf_put_i16(b, topic_err);
    put_str(b, topic);
    tr_proto_put_bool(b, 0);   /* IsInternal */
    tr_buf_put_i32(b, nparts); /* Partitions, listed backwards */
    for (i = nparts - 1; i >= 0; i--) {
        tr_buf_put_i16(b, 0);
        tr_buf_put_i32(b, i);    /* PartitionIndex */
        tr_buf_put_i32(b, node); /* LeaderId */
        if (v >= 7) {
            tr_buf_put_i32(b, 3); /* LeaderEpoch */
        }
        tr_buf_put_i32(b, 1); /* ReplicaNodes */
        tr_buf_put_i32(b, node);
        tr_buf_put_i32(b, 1); /* IsrNodes */
        tr_buf_put_i32(b, node);
        if (v >= 5) {
            tr_buf_put_i32(b, 0); /* OfflineReplicas */
        }
    }
}

static tr_err_t
apply_metadata(struct tr_client *c, int16_t v, const char *topic,
               int32_t nparts)
{
    struct tr_buf b;
    struct tr_slice s;
    tr_err_t err;

    tr_buf_init(&b, 1 << 20);
    if (strcmp(topic, "other") != 0) {
        assert_int_equal(tr_client_topic_add(c, topic), TR_OK);
    }
    build_metadata(&b, v, 0, 1, topic, nparts, 0);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    err = tr_client_metadata_apply(c, v, &s);
    tr_buf_cleanup(&b);
    return err;
}

/* Delivery reports, recorded per opaque (an index into 'seen'). */
#define MAX_RECS 4096

struct reports {
    int count[MAX_RECS];
    tr_err_t err[MAX_RECS];
    int64_t offset[MAX_RECS];
    int32_t partition[MAX_RECS];
    int order[MAX_RECS]; /* sequence of opaques as reported */
    int n;
};

static void
on_delivery(void *opaque, tr_err_t err, int16_t kerr, const char *topic,
            int32_t partition, int64_t offset, void *arg)
{
    struct reports *r = arg;
    size_t i = (size_t)(uintptr_t)opaque;

    (void)kerr;
    (void)topic;
    assert_true(i < MAX_RECS);
    r->count[i]++;
    r->err[i] = err;
    r->offset[i] = offset;
    r->partition[i] = partition;
    r->order[r->n++] = (int)i;
}

struct fixture {
    struct event_base *base;
    struct tr_producer *p;
    struct reports r;
};

static struct fixture *
fixture_new(int idempotent, size_t batch_bytes, size_t buffer_max)
{
    struct tr_producer_config cfg;
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    tr_producer_config_defaults(&cfg);
    /* Nothing listens on port 1; the loop never runs anyway. */
    cfg.bootstrap = "127.0.0.1:1";
    cfg.idempotent = idempotent;
    cfg.linger_ms = 1000000;
    cfg.batch_bytes = batch_bytes;
    cfg.buffer_max_bytes = buffer_max;
    assert_int_equal(tr_producer_new(f->base, &cfg, on_delivery, &f->r, &f->p),
                     TR_OK);
    return f;
}

static void
fixture_free(struct fixture *f)
{
    tr_producer_free(f->p);
    event_base_free(f->base);
    free(f);
}

static tr_err_t
send_keyed(struct fixture *f, const char *topic, int i)
{
    char key[32], value[64];
    int klen = snprintf(key, sizeof(key), "key-%d", i);
    int vlen = snprintf(value, sizeof(value), "value-%d", i);
    struct tr_record_header h = { (const uint8_t *)"h", 1, (const uint8_t *)"v",
                                  1 };

    return tr_producer_send(f->p, topic, -1, key, klen, value, vlen, &h, 1, -1,
                            (void *)(uintptr_t)i);
}

static int32_t
expected_partition(int i, int32_t n)
{
    char key[32];
    int klen = snprintf(key, sizeof(key), "key-%d", i);

    return tr_murmur2_partition(key, (size_t)klen, n);
}

/* Counts the records queued in one partition's open and ready batches. */
static int32_t
queued(struct ppart *part)
{
    struct pbatch *b;
    int32_t n = part->open ? part->open->count : 0;

    TAILQ_FOREACH(b, &part->ready, link) {
        n += b->count;
    }
    return n;
}

/* Tests: codec and cache. */

static void
test_backoff_grows_caps_and_jitters(void **state)
{
    (void)state;
    assert_int_equal(tr_client_backoff_ms(100, 10000, 0, 0), 80);
    assert_int_equal(tr_client_backoff_ms(100, 10000, 1, 0), 160);
    assert_int_equal(tr_client_backoff_ms(100, 10000, 3, 0), 640);
    /* Capped before the jitter: 10000 * [0.8, 1.2). */
    assert_int_equal(tr_client_backoff_ms(100, 10000, 30, 0), 8000);
    assert_true(tr_client_backoff_ms(100, 10000, 30, UINT32_MAX) < 12000);
    assert_true(tr_client_backoff_ms(100, 10000, 30, UINT32_MAX) >= 11999);
    assert_int_equal(tr_client_backoff_ms(100, 10000, 0, 1U << 31), 100);
    assert_int_equal(tr_client_backoff_ms(0, 0, 5, 0), 1);
}

static void
test_metadata_request_encoding(void **state)
{
    const char *topics[] = { "a", "logs" };
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str name;
    int32_t n;
    int flag;

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_client_MetadataRequest_encode(&b, 4, topics, 2, 1),
                     TR_OK);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_slice_get_i32(&s, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(tr_proto_get_string(&s, &name), TR_OK);
    assert_true(tr_str_eq(&name, "a"));
    assert_int_equal(tr_proto_get_string(&s, &name), TR_OK);
    assert_true(tr_str_eq(&name, "logs"));
    assert_int_equal(tr_proto_get_bool(&s, &flag), TR_OK);
    assert_int_equal(flag, 1);
    assert_int_equal(tr_slice_remaining(&s), 0);

    /* v1, brokers only: an empty array (null would mean all topics). */
    tr_buf_reset(&b);
    assert_int_equal(tr_client_MetadataRequest_encode(&b, 1, NULL, 0, 1),
                     TR_OK);
    assert_int_equal(tr_buf_len(&b), 4);
    assert_int_equal(tr_load_i32(tr_buf_data(&b)), 0);
    tr_buf_cleanup(&b);
}

static void
test_metadata_apply_all_versions(void **state)
{
    struct event_base *base = event_base_new();
    struct tr_client_config cfg;
    struct tr_client *c;
    int32_t n, part;
    int16_t kerr, v;

    (void)state;
    tr_client_config_defaults(&cfg);
    cfg.bootstrap = "127.0.0.1:1, [::1]:2";
    assert_int_equal(tr_client_new(base, &cfg, NULL, NULL, &c), TR_OK);
    assert_int_equal(tr_client_topic_add(c, "logs"), TR_OK);
    assert_int_equal(tr_client_topic_partitions(c, "logs", &n, &kerr),
                     TR_ERR_AGAIN);
    assert_int_equal(tr_client_partition_leader(c, "logs", 0), -1);
    for (v = 1; v <= 7; v++) {
        assert_int_equal(apply_metadata(c, v, "logs", 3 + v), TR_OK);
        assert_int_equal(tr_client_topic_partitions(c, "logs", &n, &kerr),
                         TR_OK);
        assert_int_equal(n, 3 + v);
        for (part = 0; part < n; part++) {
            assert_int_equal(tr_client_partition_leader(c, "logs", part), 0);
        }
        assert_int_equal(tr_client_partition_leader(c, "logs", n), -1);
    }
    /* Topics nobody asked about are not kept. */
    assert_int_equal(apply_metadata(c, 4, "other", 2), TR_OK);
    assert_int_equal(tr_client_topic_partitions(c, "other", &n, &kerr),
                     TR_ERR_AGAIN);
    assert_int_equal(apply_metadata(c, 8, "logs", 2), TR_ERR_UNSUPPORTED);
    tr_client_free(c);
    event_base_free(base);
}

static void
test_metadata_topic_error_and_truncation(void **state)
{
    struct event_base *base = event_base_new();
    struct tr_client_config cfg;
    struct tr_client *c;
    struct tr_buf b;
    struct tr_slice s;
    int32_t n;
    int16_t kerr;
    size_t cut;

    (void)state;
    tr_client_config_defaults(&cfg);
    cfg.bootstrap = "localhost:9092";
    assert_int_equal(tr_client_new(base, &cfg, NULL, NULL, &c), TR_OK);
    assert_int_equal(tr_client_topic_add(c, "t"), TR_OK);
    tr_buf_init(&b, 1 << 16);
    build_metadata(&b, 4, 0, 9092, "t", 0, TR_KERR_LEADER_NOT_AVAILABLE);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_client_metadata_apply(c, 4, &s), TR_OK);
    assert_int_equal(tr_client_topic_partitions(c, "t", &n, &kerr),
                     TR_ERR_AGAIN);
    assert_int_equal(kerr, TR_KERR_LEADER_NOT_AVAILABLE);

    tr_buf_reset(&b);
    build_metadata(&b, 7, 0, 9092, "t", 4, 0);
    for (cut = 0; cut < tr_buf_len(&b); cut++) {
        tr_slice_init(&s, tr_buf_data(&b), cut);
        assert_int_not_equal(tr_client_metadata_apply(c, 7, &s), TR_OK);
    }
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_client_metadata_apply(c, 7, &s), TR_OK);
    assert_int_equal(tr_client_topic_partitions(c, "t", &n, &kerr), TR_OK);
    assert_int_equal(n, 4);
    tr_buf_cleanup(&b);
    tr_client_free(c);
    event_base_free(base);
}

static void
test_bootstrap_parsing(void **state)
{
    struct event_base *base = event_base_new();
    struct tr_client_config cfg;
    struct tr_client *c = NULL;
    const char *bad[] = { "",           "host",  "host:",   "host:0",
                          "host:70000", ":9092", "host:12x" };
    size_t i;

    (void)state;
    tr_client_config_defaults(&cfg);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.bootstrap = bad[i];
        assert_int_equal(tr_client_new(base, &cfg, NULL, NULL, &c),
                         TR_ERR_CONFIG);
        assert_null(c);
    }
    cfg.bootstrap = "a:1,b:2 , c:3";
    assert_int_equal(tr_client_new(base, &cfg, NULL, NULL, &c), TR_OK);
    assert_false(tr_client_connected(c));
    tr_client_free(c);
    event_base_free(base);
}

static void
test_api_versions_decode(void **state)
{
    struct tr_api_range r[2];
    struct tr_buf b;
    struct tr_slice s;
    int16_t kerr;
    size_t n;

    (void)state;
    tr_buf_init(&b, 256);
    tr_buf_put_i16(&b, 0); /* ErrorCode */
    tr_buf_put_i32(&b, 3); /* ApiKeys */
    tr_buf_put_i16(&b, 0);
    tr_buf_put_i16(&b, 0);
    tr_buf_put_i16(&b, 8);
    tr_buf_put_i16(&b, 3);
    tr_buf_put_i16(&b, 0);
    tr_buf_put_i16(&b, 8);
    tr_buf_put_i16(&b, 22);
    tr_buf_put_i16(&b, 0);
    tr_buf_put_i16(&b, 1);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(
        tr_client_ApiVersionsResponse_decode(&s, 0, &kerr, r, 2, &n), TR_OK);
    assert_int_equal(kerr, 0);
    assert_int_equal(n, 2); /* the third was skipped, not overrun */
    assert_int_equal(r[1].ApiKey, 3);
    assert_int_equal(r[1].MaxVersion, 8);
    /* v1 adds ThrottleTimeMs, which is missing here. */
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(
        tr_client_ApiVersionsResponse_decode(&s, 1, &kerr, r, 2, &n),
        TR_ERR_TRUNCATED);
    tr_buf_cleanup(&b);
}

static void
test_produce_request_groups_topics(void **state)
{
    const uint8_t r1[] = { 1, 2, 3 }, r2[] = { 4 }, r3[] = { 5, 6 };
    struct tr_produce_part parts[] = {
        { "a", 0, r1, sizeof(r1) },
        { "a", 2, r2, sizeof(r2) },
        { "b", 1, r3, sizeof(r3) },
    };
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;
    int16_t acks;
    int32_t v32;

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(
        tr_client_ProduceRequest_encode(&b, 7, -1, 30000, parts, 3), TR_OK);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_int_equal(str.len, -1); /* TransactionalId */
    assert_int_equal(tr_slice_get_i16(&s, &acks), TR_OK);
    assert_int_equal(acks, -1);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 30000);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 2); /* topics */
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_true(tr_str_eq(&str, "a"));
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 2);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 0);
    assert_int_equal(tr_proto_get_bytes(&s, &str), TR_OK);
    assert_int_equal(str.len, 3);
    assert_memory_equal(str.ptr, r1, 3);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 2);
    assert_int_equal(tr_proto_get_bytes(&s, &str), TR_OK);
    assert_int_equal(str.len, 1);
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_true(tr_str_eq(&str, "b"));
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 1);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(v32, 1);
    assert_int_equal(tr_proto_get_bytes(&s, &str), TR_OK);
    assert_memory_equal(str.ptr, r3, 2);
    assert_int_equal(tr_slice_remaining(&s), 0);
    tr_buf_cleanup(&b);
}

struct result {
    char topic[16];
    int32_t partition;
    int16_t kerr;
    int64_t offset;
};

struct results {
    struct result r[8];
    int n;
};

static void
collect_result(const struct tr_str *topic, int32_t partition, int16_t kerr,
               int64_t base_offset, void *arg)
{
    struct results *rs = arg;
    struct result *r = &rs->r[rs->n++];

    assert_int_equal(tr_str_copy(topic, r->topic, sizeof(r->topic)), TR_OK);
    r->partition = partition;
    r->kerr = kerr;
    r->offset = base_offset;
}

static void
build_produce_response(struct tr_buf *b, int16_t v)
{
    tr_buf_put_i32(b, 1); /* Responses */
    put_str(b, "logs");
    tr_buf_put_i32(b, 2); /* PartitionResponses */
    tr_buf_put_i32(b, 0);
    tr_buf_put_i16(b, 0);
    tr_buf_put_i64(b, 42);
    if (v >= 2) {
        tr_buf_put_i64(b, -1); /* LogAppendTimeMs */
    }
    if (v >= 5) {
        tr_buf_put_i64(b, 0); /* LogStartOffset */
    }
    tr_buf_put_i32(b, 3);
    tr_buf_put_i16(b, TR_KERR_NOT_LEADER_OR_FOLLOWER);
    tr_buf_put_i64(b, -1);
    if (v >= 2) {
        tr_buf_put_i64(b, -1);
    }
    if (v >= 5) {
        tr_buf_put_i64(b, 0);
    }
    tr_buf_put_i32(b, 0); /* ThrottleTimeMs */
}

static void
test_produce_response_decode(void **state)
{
    struct results rs;
    struct tr_buf b;
    struct tr_slice s;
    int16_t v;
    size_t cut;

    (void)state;
    tr_buf_init(&b, 1024);
    for (v = 3; v <= 7; v++) {
        tr_buf_reset(&b);
        build_produce_response(&b, v);
        memset(&rs, 0, sizeof(rs));
        tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
        assert_int_equal(
            tr_client_ProduceResponse_decode(&s, v, collect_result, &rs),
            TR_OK);
        assert_int_equal(tr_slice_remaining(&s), 0);
        assert_int_equal(rs.n, 2);
        assert_string_equal(rs.r[0].topic, "logs");
        assert_int_equal(rs.r[0].offset, 42);
        assert_int_equal(rs.r[1].partition, 3);
        assert_int_equal(rs.r[1].kerr, TR_KERR_NOT_LEADER_OR_FOLLOWER);
    }
    for (cut = 0; cut < tr_buf_len(&b); cut++) {
        memset(&rs, 0, sizeof(rs));
        tr_slice_init(&s, tr_buf_data(&b), cut);
        assert_int_not_equal(
            tr_client_ProduceResponse_decode(&s, 7, collect_result, &rs),
            TR_OK);
    }
    tr_buf_cleanup(&b);
}

static void
test_init_producer_id_round_trip(void **state)
{
    struct tr_buf b;
    struct tr_slice s;
    struct tr_str str;
    int64_t pid;
    int16_t kerr, epoch;
    int32_t v32;

    (void)state;
    tr_buf_init(&b, 64);
    assert_int_equal(tr_client_InitProducerIdRequest_encode(&b, 1), TR_OK);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_proto_get_string(&s, &str), TR_OK);
    assert_int_equal(str.len, -1);
    assert_int_equal(tr_slice_get_i32(&s, &v32), TR_OK);
    assert_int_equal(tr_slice_remaining(&s), 0);

    tr_buf_reset(&b);
    tr_buf_put_i32(&b, 0);
    tr_buf_put_i16(&b, 0);
    tr_buf_put_i64(&b, 1234);
    tr_buf_put_i16(&b, 7);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(
        tr_client_InitProducerIdResponse_decode(&s, 0, &kerr, &pid, &epoch),
        TR_OK);
    assert_int_equal(pid, 1234);
    assert_int_equal(epoch, 7);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b) - 1);
    assert_int_equal(
        tr_client_InitProducerIdResponse_decode(&s, 0, &kerr, &pid, &epoch),
        TR_ERR_TRUNCATED);
    tr_buf_cleanup(&b);
}

/* Tests: accumulation. */

static void
test_keyed_records_follow_murmur2(void **state)
{
    struct fixture *f = fixture_new(0, 1 << 20, 1 << 24);
    struct ptopic *t;
    int32_t counts[6] = { 0 };
    int i;

    (void)state;
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 6), TR_OK);
    for (i = 0; i < 300; i++) {
        assert_int_equal(send_keyed(f, "logs", i), TR_OK);
        counts[expected_partition(i, 6)]++;
    }
    t = topic_find(f->p, "logs");
    assert_non_null(t);
    assert_int_equal(t->nparts, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(queued(t->parts[i]), counts[i]);
    }
    assert_int_equal(tr_producer_pending(f->p), 300);
    assert_true(tr_producer_buffered_bytes(f->p) > 300 * 10);
    fixture_free(f);
    /* Every record reported once, with TR_ERR_CLOSED. */
    /* (f is freed; the reports were checked in the next test's style) */
}

static void
test_free_reports_every_record_once(void **state)
{
    struct fixture *f = fixture_new(0, 1 << 20, 1 << 24);
    struct reports *r = &f->r;
    struct event_base *base = f->base;
    int i;

    (void)state;
    for (i = 0; i < 10; i++) { /* before metadata: waiting */
        assert_int_equal(send_keyed(f, "logs", i), TR_OK);
    }
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 3), TR_OK);
    for (i = 10; i < 20; i++) {
        assert_int_equal(send_keyed(f, "logs", i), TR_OK);
    }
    tr_producer_free(f->p);
    for (i = 0; i < 20; i++) {
        assert_int_equal(r->count[i], 1);
        assert_int_equal(r->err[i], TR_ERR_CLOSED);
    }
    assert_int_equal(r->n, 20);
    event_base_free(base);
    free(f);
}

static void
test_waiting_records_keep_order(void **state)
{
    struct fixture *f = fixture_new(0, 1 << 20, 1 << 24);
    struct ptopic *t;
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        assert_int_equal(tr_producer_send(f->p, "logs", 1, NULL, -1, "x", 1,
                                          NULL, 0, -1, (void *)(uintptr_t)i),
                         TR_OK);
    }
    t = topic_find(f->p, "logs");
    assert_int_equal(t->nparts, 0);
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 2), TR_OK);
    /* A later send drains the waiting ones first. */
    assert_int_equal(tr_producer_send(f->p, "logs", 1, NULL, -1, "y", 1, NULL,
                                      0, -1, (void *)(uintptr_t)5),
                     TR_OK);
    assert_true(TAILQ_EMPTY(&t->waiting));
    assert_int_equal(queued(t->parts[1]), 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal((int)(uintptr_t)t->parts[1]->open->opaques[i], i);
    }
    /* Past the partition count: refused once it is known. */
    assert_int_equal(
        tr_producer_send(f->p, "logs", 2, NULL, -1, "z", 1, NULL, 0, -1, NULL),
        TR_ERR_INVALID);
    fixture_free(f);
}

static void
test_batch_size_closes_batches(void **state)
{
    struct fixture *f = fixture_new(0, 1000, 1 << 24);
    struct ptopic *t;
    struct pbatch *b;
    char value[100];
    int i, nready = 0;

    (void)state;
    memset(value, 'v', sizeof(value));
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 1), TR_OK);
    for (i = 0; i < 50; i++) {
        assert_int_equal(tr_producer_send(f->p, "logs", 0, NULL, -1, value,
                                          sizeof(value), NULL, 0, -1,
                                          (void *)(uintptr_t)i),
                         TR_OK);
    }
    t = topic_find(f->p, "logs");
    TAILQ_FOREACH(b, &t->parts[0]->ready, link) {
        assert_true(tr_batch_builder_size(b->bld) <= 1000);
        assert_true(b->count >= 8);
        nready++;
    }
    assert_true(nready >= 5);
    assert_int_equal(queued(t->parts[0]), 50);
    /* A record bigger than a batch can never be sent. */
    {
        char big[2000];

        memset(big, 'b', sizeof(big));
        assert_int_equal(tr_producer_send(f->p, "logs", 0, NULL, -1, big,
                                          sizeof(big), NULL, 0, -1, NULL),
                         TR_ERR_TOO_LARGE);
    }
    assert_int_equal(tr_producer_pending(f->p), 50);
    fixture_free(f);
}

static void
test_linger_and_flush(void **state)
{
    struct fixture *f = fixture_new(0, 1 << 20, 1 << 24);
    struct ptopic *t;

    (void)state;
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 2), TR_OK);
    assert_int_equal(send_keyed(f, "logs", 1), TR_OK);
    t = topic_find(f->p, "logs");
    pump(f->p); /* linger 1000 s: stays open */
    assert_non_null(t->parts[expected_partition(1, 2)]->open);
    f->p->cfg.linger_ms = 0;
    pump(f->p); /* expired: closed; no connection, so it stays ready */
    assert_null(t->parts[expected_partition(1, 2)]->open);
    assert_int_equal(queued(t->parts[expected_partition(1, 2)]), 1);
    f->p->cfg.linger_ms = 1000000;
    assert_int_equal(send_keyed(f, "logs", 2), TR_OK);
    tr_producer_flush(f->p);
    pump(f->p);
    assert_null(t->parts[expected_partition(2, 2)]->open);
    assert_int_equal(f->r.n, 0);
    fixture_free(f);
}

static void
test_backpressure(void **state)
{
    struct fixture *f = fixture_new(0, 1 << 20, 1000);
    int i, sent = 0;
    tr_err_t err = TR_OK;

    (void)state;
    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 2), TR_OK);
    for (i = 0; i < 100 && err == TR_OK; i++) {
        err = send_keyed(f, "logs", i);
        if (err == TR_OK) {
            sent++;
        }
    }
    assert_int_equal(err, TR_ERR_AGAIN);
    assert_true(sent > 3);
    assert_true(tr_producer_buffered_bytes(f->p) <= 1000);
    assert_int_equal(tr_producer_pending(f->p), (size_t)sent);
    {
        char big[2000];

        memset(big, 'b', sizeof(big));
        assert_int_equal(tr_producer_send(f->p, "logs", 0, NULL, -1, big,
                                          sizeof(big), NULL, 0, -1, NULL),
                         TR_ERR_TOO_LARGE);
    }
    fixture_free(f);
}

/* Tests: idempotence bookkeeping. */

/*
 * Puts 'n' batches of 'per' records on partition 0 of "logs" and "sends"
 * them: encoded with sequences, moved to the in-flight list.
 */
static void
fake_send(struct fixture *f, int n, int per, int first)
{
    struct ptopic *t = topic_find(f->p, "logs");
    struct ppart *part;
    struct pbatch *b;
    int i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < per; j++) {
            int id = first + i * per + j;

            assert_int_equal(tr_producer_send(f->p, "logs", 0, NULL, -1, "v", 1,
                                              NULL, 0, 1000 + id,
                                              (void *)(uintptr_t)id),
                             TR_OK);
        }
        tr_producer_flush(f->p);
        t = topic_find(f->p, "logs");
        part_close_open(t->parts[0]);
    }
    part = t->parts[0];
    while ((b = TAILQ_FIRST(&part->ready)) != NULL) {
        assert_int_equal(batch_encode(f->p, b), TR_OK);
        TAILQ_REMOVE(&part->ready, b, link);
        TAILQ_INSERT_TAIL(&part->inflight, b, link);
        part->ninflight++;
    }
}

static struct pbatch *
inflight_at(struct fixture *f, int k)
{
    struct pbatch *b =
        TAILQ_FIRST(&topic_find(f->p, "logs")->parts[0]->inflight);

    while (k-- > 0) {
        b = TAILQ_NEXT(b, link);
    }
    return b;
}

static void
answer(struct fixture *f, struct pbatch *b, int16_t kerr, int64_t offset)
{
    b->answered = 1;
    b->kerr = kerr;
    b->offset = offset;
    batch_result(f->p, b, TR_OK);
}

static void
check_wire(const struct pbatch *b, int64_t pid, int16_t epoch, int32_t seq)
{
    struct tr_batch_header h;

    assert_int_equal(tr_batch_validate(b->wire, b->wire_len, &h), TR_OK);
    assert_int_equal(h.ProducerId, pid);
    assert_int_equal(h.ProducerEpoch, epoch);
    assert_int_equal(h.BaseSequence, seq);
    assert_int_equal(h.RecordsCount, b->count);
}

static struct fixture *
idempotent_fixture(void)
{
    struct fixture *f = fixture_new(1, 1 << 20, 1 << 24);

    assert_int_equal(apply_metadata(f->p->client, 4, "logs", 1), TR_OK);
    f->p->pid = 77;
    f->p->epoch = 0;
    f->p->pid_state = PID_OK;
    return f;
}

static void
test_sequences_and_duplicates(void **state)
{
    struct fixture *f = idempotent_fixture();
    struct ppart *part;
    int i;

    (void)state;
    fake_send(f, 3, 4, 0);
    part = topic_find(f->p, "logs")->parts[0];
    assert_int_equal(part->ninflight, 3);
    check_wire(inflight_at(f, 0), 77, 0, 0);
    check_wire(inflight_at(f, 1), 77, 0, 4);
    check_wire(inflight_at(f, 2), 77, 0, 8);
    assert_int_equal(part->next_seq, 12);

    answer(f, inflight_at(f, 0), TR_KERR_NONE, 100);
    /* A replay the broker already has counts as written. */
    answer(f, inflight_at(f, 0), TR_KERR_DUPLICATE_SEQUENCE_NUMBER, -1);
    answer(f, inflight_at(f, 0), TR_KERR_NONE, 108);
    for (i = 0; i < 12; i++) {
        assert_int_equal(f->r.count[i], 1);
        assert_int_equal(f->r.err[i], TR_OK);
        assert_int_equal(f->r.order[i], i);
    }
    assert_int_equal(f->r.offset[0], 100);
    assert_int_equal(f->r.offset[3], 103);
    assert_int_equal(f->r.offset[4], -1);
    assert_int_equal(f->r.offset[9], 109);
    assert_int_equal(part->acked_seq, 12);
    assert_int_equal(tr_producer_pending(f->p), 0);
    assert_int_equal(tr_producer_buffered_bytes(f->p), 0);
    fixture_free(f);
}

static void
test_retry_resends_identical_batch(void **state)
{
    struct fixture *f = idempotent_fixture();
    struct ppart *part;
    struct pbatch *b0, *b1;
    uint8_t copy[4096];
    size_t len;

    (void)state;
    fake_send(f, 2, 3, 0);
    part = topic_find(f->p, "logs")->parts[0];
    b0 = inflight_at(f, 0);
    b1 = inflight_at(f, 1);
    len = b0->wire_len;
    memcpy(copy, b0->wire, len);
    /* The leader moved: retriable, back to the head, with backoff. */
    answer(f, b0, TR_KERR_NOT_LEADER_OR_FOLLOWER, -1);
    /* The next one then has a gap at the broker: also retried, after it. */
    answer(f, b1, TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    assert_int_equal(f->p->need_reset, 0);
    assert_ptr_equal(TAILQ_FIRST(&part->ready), b0);
    assert_ptr_equal(TAILQ_NEXT(b0, link), b1);
    assert_true(part->retrying);
    assert_true(part->backoff_until > 0);
    assert_int_equal(b0->wire_len, len);
    assert_memory_equal(b0->wire, copy, len);
    /* Re-encoding is a no-op: same bytes, same sequence. */
    assert_int_equal(batch_encode(f->p, b0), TR_OK);
    assert_memory_equal(b0->wire, copy, len);
    assert_int_equal(part->next_seq, 6);
    assert_int_equal(f->r.n, 0);
    fixture_free(f);
}

static void
test_unknown_producer_restarts_sequences(void **state)
{
    struct fixture *f = idempotent_fixture();
    struct ppart *part;
    struct pbatch *b;
    int32_t seq = 0;

    (void)state;
    fake_send(f, 3, 2, 0);
    part = topic_find(f->p, "logs")->parts[0];
    answer(f, inflight_at(f, 0), TR_KERR_NONE, 0);
    answer(f, inflight_at(f, 0), TR_KERR_UNKNOWN_PRODUCER_ID, -1);
    assert_int_equal(f->p->need_reset, 1);
    answer(f, inflight_at(f, 0), TR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    assert_int_equal(part->ninflight, 0);
    /* A new producer id arrives: both unacked batches renumbered from 0. */
    f->p->pid = 78;
    f->p->epoch = 0;
    f->p->need_reset = 0;
    renumber_all(f->p);
    TAILQ_FOREACH(b, &part->ready, link) {
        check_wire(b, 78, 0, seq);
        assert_int_equal(b->base_seq, seq);
        seq += b->count;
    }
    assert_int_equal(seq, 4);
    assert_int_equal(part->next_seq, 4);
    assert_int_equal(f->r.n, 2); /* only the first batch reported */
    fixture_free(f);
}

static void
test_fatal_error_reports_and_resets(void **state)
{
    struct fixture *f = idempotent_fixture();
    int i;

    (void)state;
    fake_send(f, 1, 3, 0);
    answer(f, inflight_at(f, 0), TR_KERR_MESSAGE_TOO_LARGE, -1);
    for (i = 0; i < 3; i++) {
        assert_int_equal(f->r.count[i], 1);
        assert_int_not_equal(f->r.err[i], TR_OK);
    }
    assert_int_equal(f->p->need_reset, 1); /* the sequence has a gap */
    fixture_free(f);
}

static void
test_connection_failure_requeues_all(void **state)
{
    struct fixture *f = idempotent_fixture();
    struct ppart *part;
    struct pbatch *b;
    int32_t seq = 0;

    (void)state;
    fake_send(f, 4, 2, 0);
    part = topic_find(f->p, "logs")->parts[0];
    /* Answered out of order relative to send order: order is restored. */
    b = inflight_at(f, 2);
    b->answered = 0;
    batch_result(f->p, b, TR_ERR_IO);
    while ((b = TAILQ_FIRST(&part->inflight)) != NULL) {
        b->answered = 0;
        batch_result(f->p, b, TR_ERR_TIMEOUT);
    }
    TAILQ_FOREACH(b, &part->ready, link) {
        assert_int_equal(b->base_seq, seq);
        seq += b->count;
    }
    assert_int_equal(seq, 8);
    assert_int_equal(f->r.n, 0);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_grows_caps_and_jitters),
        cmocka_unit_test(test_metadata_request_encoding),
        cmocka_unit_test(test_metadata_apply_all_versions),
        cmocka_unit_test(test_metadata_topic_error_and_truncation),
        cmocka_unit_test(test_bootstrap_parsing),
        cmocka_unit_test(test_api_versions_decode),
        cmocka_unit_test(test_produce_request_groups_topics),
        cmocka_unit_test(test_produce_response_decode),
        cmocka_unit_test(test_init_producer_id_round_trip),
        cmocka_unit_test(test_keyed_records_follow_murmur2),
        cmocka_unit_test(test_free_reports_every_record_once),
        cmocka_unit_test(test_waiting_records_keep_order),
        cmocka_unit_test(test_batch_size_closes_batches),
        cmocka_unit_test(test_linger_and_flush),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_sequences_and_duplicates),
        cmocka_unit_test(test_retry_resends_identical_batch),
        cmocka_unit_test(test_unknown_producer_restarts_sequences),
        cmocka_unit_test(test_fatal_error_reports_and_resets),
        cmocka_unit_test(test_connection_failure_requeues_all),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
