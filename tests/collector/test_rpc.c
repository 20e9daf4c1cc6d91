/*
 * Unit tests for collector/cluster/rpc: the LeaderAndIsr and UpdateMetadata
 * codec that controller and brokers share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "proto.h"
#include "rpc.h"

static void
sample(struct tr_state_msg *m, struct tr_pstate *parts,
       struct tr_broker_info *brokers)
{
    memset(parts, 0, 2 * sizeof(*parts));
    memset(brokers, 0, 3 * sizeof(*brokers));
    snprintf(parts[0].topic, sizeof(parts[0].topic), "events");
    parts[0].partition = 3;
    parts[0].controller_epoch = 7;
    parts[0].leader = 2;
    parts[0].leader_epoch = 11;
    parts[0].zk_version = 5;
    parts[0].nisr = 2;
    parts[0].isr[0] = 2;
    parts[0].isr[1] = 1;
    parts[0].nreplicas = 3;
    parts[0].replicas[0] = 1;
    parts[0].replicas[1] = 2;
    parts[0].replicas[2] = 3;
    parts[0].noffline = 1;
    parts[0].offline[0] = 3;
    snprintf(parts[1].topic, sizeof(parts[1].topic), "__consumer_offsets");
    parts[1].partition = 49;
    parts[1].leader = -1;
    parts[1].nreplicas = 1;
    parts[1].replicas[0] = 3;
    for (int i = 0; i < 3; i++) {
        brokers[i].id = i + 1;
        snprintf(brokers[i].host, sizeof(brokers[i].host), "10.0.0.%d", i + 1);
        brokers[i].port = 9092 + i;
    }
    snprintf(brokers[1].rack, sizeof(brokers[1].rack), "rack-b");
    /* Broker 3 advertises two listeners; the others only an address. */
    brokers[2].nendpoints = 2;
    snprintf(brokers[2].endpoints[0].name, sizeof(brokers[2].endpoints[0].name),
             "INTERNAL");
    brokers[2].endpoints[0].protocol = TR_SEC_SASL_SSL;
    snprintf(brokers[2].endpoints[0].host, sizeof(brokers[2].endpoints[0].host),
             "10.0.0.3");
    brokers[2].endpoints[0].port = 9094;
    snprintf(brokers[2].endpoints[1].name, sizeof(brokers[2].endpoints[1].name),
             "EXTERNAL");
    brokers[2].endpoints[1].protocol = TR_SEC_SSL;
    snprintf(brokers[2].endpoints[1].host, sizeof(brokers[2].endpoints[1].host),
             "logs.example.com");
    brokers[2].endpoints[1].port = 19094;
    m->controller_id = 2;
    m->controller_epoch = 7;
    m->parts = parts;
    m->nparts = 2;
    m->brokers = brokers;
    m->nbrokers = 3;
}

static void
round_trip(int16_t key)
{
    struct tr_pstate parts[2];
    struct tr_broker_info brokers[3];
    struct tr_state_msg in, out;
    struct tr_buf b;
    struct tr_slice s;
    size_t len, cut;

    sample(&in, parts, brokers);
    tr_buf_init(&b, 1 << 20);
    tr_rpc_state_encode(&b, key, &in);
    assert_int_equal(tr_buf_err(&b), TR_OK);
    len = tr_buf_len(&b);

    tr_slice_init(&s, tr_buf_data(&b), len);
    assert_int_equal(tr_rpc_state_decode(&s, key, &out), TR_OK);
    assert_int_equal(tr_slice_remaining(&s), 0);
    assert_int_equal(out.controller_id, 2);
    assert_int_equal(out.controller_epoch, 7);
    assert_int_equal(out.nparts, 2);
    assert_string_equal(out.parts[0].topic, "events");
    assert_int_equal(out.parts[0].partition, 3);
    assert_int_equal(out.parts[0].leader, 2);
    assert_int_equal(out.parts[0].leader_epoch, 11);
    assert_int_equal(out.parts[0].zk_version, 5);
    assert_int_equal(out.parts[0].nisr, 2);
    assert_int_equal(out.parts[0].isr[1], 1);
    assert_int_equal(out.parts[0].nreplicas, 3);
    assert_int_equal(out.parts[0].replicas[2], 3);
    /* Offline replicas travel in UpdateMetadata only. */
    assert_int_equal(out.parts[0].noffline,
                     key == TR_API_UPDATE_METADATA ? 1 : 0);
    assert_string_equal(out.parts[1].topic, "__consumer_offsets");
    assert_int_equal(out.parts[1].leader, -1);
    assert_int_equal(out.nbrokers, 3);
    assert_string_equal(out.brokers[2].host, "10.0.0.3");
    assert_int_equal(out.brokers[2].port, 9094);
    assert_string_equal(out.brokers[1].rack,
                        key == TR_API_UPDATE_METADATA ? "rack-b" : "");
    if (key == TR_API_UPDATE_METADATA) {
        const char *host;
        int32_t port;

        /* Every endpoint travels, with its listener name and protocol. */
        assert_int_equal(out.brokers[0].nendpoints, 1);
        assert_string_equal(out.brokers[0].endpoints[0].name, "PLAINTEXT");
        assert_int_equal(out.brokers[2].nendpoints, 2);
        assert_int_equal(out.brokers[2].endpoints[0].protocol, TR_SEC_SASL_SSL);
        assert_int_equal(out.brokers[2].endpoints[1].protocol, TR_SEC_SSL);
        assert_true(tr_rpc_endpoint(&out.brokers[2], "external", &host, &port));
        assert_string_equal(host, "logs.example.com");
        assert_int_equal(port, 19094);
        assert_false(
            tr_rpc_endpoint(&out.brokers[0], "EXTERNAL", &host, &port));
        assert_true(tr_rpc_use_endpoint(&out.brokers[2], "EXTERNAL"));
        assert_string_equal(out.brokers[2].host, "logs.example.com");
        assert_false(tr_rpc_use_endpoint(&out.brokers[1], "EXTERNAL"));
        assert_string_equal(out.brokers[1].host, "10.0.0.2");
    }
    tr_rpc_state_free(&out);
    assert_null(out.parts);

    /* Every cut short of the whole fails cleanly and leaves nothing owned. */
    for (cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, tr_buf_data(&b), cut);
        tr_slice_init(&s, copy, cut);
        assert_int_not_equal(tr_rpc_state_decode(&s, key, &out), TR_OK);
        assert_null(out.parts);
        assert_null(out.brokers);
        free(copy);
    }
    tr_buf_cleanup(&b);
}

static void
test_rpc_leader_and_isr_round_trip(void **state)
{
    (void)state;
    round_trip(TR_API_LEADER_AND_ISR);
}

static void
test_rpc_update_metadata_round_trip(void **state)
{
    (void)state;
    round_trip(TR_API_UPDATE_METADATA);
}

/* A hostile count is refused before anything is allocated for it. */
static void
test_rpc_counts_are_capped(void **state)
{
    struct tr_state_msg out;
    struct tr_buf b;
    struct tr_slice s;

    (void)state;
    tr_buf_init(&b, 1 << 10);
    tr_buf_put_i32(&b, 1); /* controller */
    tr_buf_put_i32(&b, 1); /* epoch */
    tr_buf_put_i32(&b, 1); /* one partition */
    tr_proto_put_cstring_v(&b, 0, "t");
    tr_buf_put_i32(&b, 0);    /* partition */
    tr_buf_put_i32(&b, 1);    /* controller epoch */
    tr_buf_put_i32(&b, 1);    /* leader */
    tr_buf_put_i32(&b, 0);    /* leader epoch */
    tr_buf_put_i32(&b, 1000); /* ISR count over TR_MAX_REPLICAS */
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_not_equal(tr_rpc_state_decode(&s, TR_API_LEADER_AND_ISR, &out),
                         TR_OK);
    assert_null(out.parts);
    tr_buf_cleanup(&b);
}

/* StopReplica v1: round trip, a topic of several partitions, every cut. */
static void
test_rpc_stop_replica(void **state)
{
    struct tr_stop_part parts[2] = { { "events", 3 }, { "metrics", 0 } };
    struct tr_stop_msg in = { 4, 9, 1, parts, 2 }, out;
    struct tr_buf b;
    struct tr_slice s;
    size_t len, cut;

    (void)state;
    tr_buf_init(&b, 1 << 10);
    tr_rpc_stop_encode(&b, &in);
    len = tr_buf_len(&b);
    tr_slice_init(&s, tr_buf_data(&b), len);
    assert_int_equal(tr_rpc_stop_decode(&s, &out), TR_OK);
    assert_int_equal(tr_slice_remaining(&s), 0);
    assert_int_equal(out.controller_id, 4);
    assert_int_equal(out.controller_epoch, 9);
    assert_int_equal(out.delete_partitions, 1);
    assert_int_equal(out.nparts, 2);
    assert_string_equal(out.parts[1].topic, "metrics");
    assert_int_equal(out.parts[0].partition, 3);
    tr_rpc_stop_free(&out);
    assert_null(out.parts);
    for (cut = 0; cut < len; cut++) {
        tr_slice_init(&s, tr_buf_data(&b), cut);
        assert_int_not_equal(tr_rpc_stop_decode(&s, &out), TR_OK);
        assert_null(out.parts);
    }
    /* Kafka's grouping: one topic, two partitions. */
    tr_buf_reset(&b);
    tr_buf_put_i32(&b, 1);
    tr_buf_put_i32(&b, 2);
    tr_buf_put_i64(&b, -1);
    tr_proto_put_bool(&b, 0);
    tr_buf_put_i32(&b, 1);
    tr_proto_put_cstring_v(&b, 0, "t");
    tr_buf_put_i32(&b, 2);
    tr_buf_put_i32(&b, 5);
    tr_buf_put_i32(&b, 6);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_rpc_stop_decode(&s, &out), TR_OK);
    assert_int_equal(out.nparts, 2);
    assert_int_equal(out.delete_partitions, 0);
    assert_string_equal(out.parts[1].topic, "t");
    assert_int_equal(out.parts[1].partition, 6);
    tr_rpc_stop_free(&out);
    /* A hostile partition count fails without allocating for it. */
    tr_buf_reset(&b);
    tr_buf_put_i32(&b, 1);
    tr_buf_put_i32(&b, 2);
    tr_buf_put_i64(&b, -1);
    tr_proto_put_bool(&b, 1);
    tr_buf_put_i32(&b, 1);
    tr_proto_put_cstring_v(&b, 0, "t");
    tr_buf_put_i32(&b, 0x7fffffff);
    tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_not_equal(tr_rpc_stop_decode(&s, &out), TR_OK);
    assert_null(out.parts);
    tr_buf_cleanup(&b);
}

static void
test_rpc_has(void **state)
{
    int32_t ids[] = { 3, 1, 2 };

    (void)state;
    assert_true(tr_rpc_has(ids, 3, 2));
    assert_false(tr_rpc_has(ids, 2, 2));
    assert_false(tr_rpc_has(ids, 0, 3));
}

/* WriteTxnMarkers v0: partitions grouped by topic; errors matched back. */
static void
test_rpc_markers(void **state)
{
    struct tr_rpc_marker_tp tps[3] = { { "a", 0, -1 },
                                       { "a", 2, -1 },
                                       { "b", 1, -1 } };
    struct tr_rpc_marker m = { 77, 3, 1, 9, tps, 3 };
    struct tr_buf b, r;
    struct tr_slice in;
    struct tr_str name;
    int32_t n, v32;
    int64_t v64;
    int16_t v16;
    int8_t v8;

    (void)state;
    tr_buf_init(&b, 256);
    tr_rpc_markers_encode(&b, &m);
    tr_slice_init(&in, tr_buf_data(&b), tr_buf_len(&b));
    assert_int_equal(tr_slice_get_i32(&in, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tr_slice_get_i64(&in, &v64), TR_OK);
    assert_int_equal(v64, 77);
    assert_int_equal(tr_slice_get_i16(&in, &v16), TR_OK);
    assert_int_equal(v16, 3);
    assert_int_equal(tr_slice_get_i8(&in, &v8), TR_OK);
    assert_int_equal(v8, 1);
    assert_int_equal(tr_slice_get_i32(&in, &n), TR_OK);
    assert_int_equal(n, 2); /* topics a and b */
    assert_int_equal(tr_proto_get_string(&in, &name), TR_OK);
    assert_int_equal(name.len, 1);
    assert_int_equal(tr_slice_get_i32(&in, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(tr_slice_get_i32(&in, &v32), TR_OK);
    assert_int_equal(tr_slice_get_i32(&in, &v32), TR_OK);
    assert_int_equal(v32, 2);
    assert_int_equal(tr_proto_get_string(&in, &name), TR_OK);
    assert_int_equal(tr_slice_get_i32(&in, &n), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tr_slice_get_i32(&in, &v32), TR_OK);
    assert_int_equal(tr_slice_get_i32(&in, &v32), TR_OK);
    assert_int_equal(v32, 9); /* coordinator epoch */
    assert_int_equal(tr_slice_remaining(&in), 0);

    /* An answer for a-2 and b-1 only: a-0 is left UNKNOWN_SERVER_ERROR. */
    tr_buf_init(&r, 256);
    tr_buf_put_i32(&r, 1);
    tr_buf_put_i64(&r, 77);
    tr_buf_put_i32(&r, 2);
    tr_proto_put_cstring_v(&r, 0, "a");
    tr_buf_put_i32(&r, 1);
    tr_buf_put_i32(&r, 2);
    tr_buf_put_i16(&r, 52);
    tr_proto_put_cstring_v(&r, 0, "b");
    tr_buf_put_i32(&r, 1);
    tr_buf_put_i32(&r, 1);
    tr_buf_put_i16(&r, 0);
    tr_slice_init(&in, tr_buf_data(&r), tr_buf_len(&r));
    assert_int_equal(tr_rpc_markers_decode_response(&in, &m), TR_OK);
    assert_int_equal(tps[0].error, TR_KERR_UNKNOWN_SERVER_ERROR);
    assert_int_equal(tps[1].error, 52);
    assert_int_equal(tps[2].error, 0);
    /* Truncated: an error, never a read past the end. */
    tr_slice_init(&in, tr_buf_data(&r), tr_buf_len(&r) - 3);
    assert_int_not_equal(tr_rpc_markers_decode_response(&in, &m), TR_OK);
    tr_buf_cleanup(&b);
    tr_buf_cleanup(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_leader_and_isr_round_trip),
        cmocka_unit_test(test_rpc_update_metadata_round_trip),
        cmocka_unit_test(test_rpc_counts_are_capped),
        cmocka_unit_test(test_rpc_stop_replica),
        cmocka_unit_test(test_rpc_has),
        cmocka_unit_test(test_rpc_markers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
