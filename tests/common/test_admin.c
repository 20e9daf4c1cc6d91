/*
 * test_admin -- the admin client's pure codecs: DescribeLogDirs requests
 * (null and explicit topics, classic and flexible) and responses of every
 * version, cut short at every byte, with hostile counts, and with each
 * allocation failing in turn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admin.h"
#include "alloc.h"
#include "buf.h"
#include "proto.h"

static void
test_admin_log_dirs_request_null_topics(void **state)
{
    static const uint8_t classic[] = { 0xff, 0xff, 0xff, 0xff };
    static const uint8_t flexible[] = { 0x00, 0x00 }; /* null, tags */
    struct tr_buf b;

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_admin_log_dirs_encode(&b, 1, NULL, NULL, 0), TR_OK);
    assert_int_equal(tr_buf_len(&b), sizeof(classic));
    assert_memory_equal(tr_buf_data(&b), classic, sizeof(classic));
    tr_buf_reset(&b);
    assert_int_equal(tr_admin_log_dirs_encode(&b, 4, NULL, NULL, 0), TR_OK);
    assert_int_equal(tr_buf_len(&b), sizeof(flexible));
    assert_memory_equal(tr_buf_data(&b), flexible, sizeof(flexible));
    tr_buf_cleanup(&b);
}

static void
test_admin_log_dirs_request_topics(void **state)
{
    static const char *const topics[] = { "ab", "c" };
    static const int32_t nparts[] = { 2, 0 };
    static const uint8_t classic[] = {
        0, 0, 0,   2,               /* Topics */
        0, 2, 'a', 'b', 0, 0, 0, 2, /* "ab", 2 partitions */
        0, 0, 0,   0,   0, 0, 0, 1, /* 0, 1 */
        0, 1, 'c', 0,   0, 0, 0,    /* "c", none */
    };
    static const uint8_t flexible[] = {
        3,                                         /* Topics: 2 */
        3, 'a', 'b', 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, /* "ab" [0, 1] tags */
        2, 'c', 1,   0,                            /* "c" [] tags */
        0,                                         /* tags */
    };
    struct tr_buf b;

    (void)state;
    tr_buf_init(&b, 1024);
    assert_int_equal(tr_admin_log_dirs_encode(&b, 0, topics, nparts, 2), TR_OK);
    assert_int_equal(tr_buf_len(&b), sizeof(classic));
    assert_memory_equal(tr_buf_data(&b), classic, sizeof(classic));
    tr_buf_reset(&b);
    assert_int_equal(tr_admin_log_dirs_encode(&b, 2, topics, nparts, 2), TR_OK);
    assert_int_equal(tr_buf_len(&b), sizeof(flexible));
    assert_memory_equal(tr_buf_data(&b), flexible, sizeof(flexible));
    tr_buf_cleanup(&b);
}

/*
 * A response as the collector writes it: one directory holding topic "t"
 * (partitions 0 and 3) and topic "u" (partition 1).
 */
static void
put_response(struct tr_buf *b, int16_t v)
{
    int flex = v >= 2;
    static const struct {
        const char *topic;
        int32_t partition;
        int64_t size, lag;
    } parts[] = { { "t", 0, 4096, 0 }, { "t", 3, 17, 5 }, { "u", 1, 0, 0 } };
    int i;

    tr_buf_put_i32(b, 0); /* ThrottleTimeMs */
    if (v >= 3) {
        tr_buf_put_i16(b, 0); /* ErrorCode */
    }
    tr_proto_put_array_len_v(b, flex, 1); /* Results */
    tr_buf_put_i16(b, 0);
    tr_proto_put_cstring_v(b, flex, "/var/lib/tributary");
    tr_proto_put_array_len_v(b, flex, 2); /* Topics */
    for (i = 0; i < 3; i++) {
        if (i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0) {
            if (i > 0) {
                tr_proto_put_tags_v(b, flex);
            }
            tr_proto_put_cstring_v(b, flex, parts[i].topic);
            tr_proto_put_array_len_v(b, flex, i == 0 ? 2 : 1);
        }
        tr_buf_put_i32(b, parts[i].partition);
        tr_buf_put_i64(b, parts[i].size);
        tr_buf_put_i64(b, parts[i].lag);
        tr_proto_put_bool(b, 0);
        tr_proto_put_tags_v(b, flex);
    }
    tr_proto_put_tags_v(b, flex);
    if (v >= 4) {
        tr_buf_put_i64(b, 1000000); /* TotalBytes */
        tr_buf_put_i64(b, 250000);  /* UsableBytes */
    }
    tr_proto_put_tags_v(b, flex);
    tr_proto_put_tags_v(b, flex);
}

static void
test_admin_log_dirs_response_every_version(void **state)
{
    struct tr_admin_log_dirs *d;
    struct tr_buf b;
    struct tr_slice s;
    int16_t v;

    (void)state;
    for (v = 0; v <= 4; v++) {
        tr_buf_init(&b, 4096);
        put_response(&b, v);
        tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
        assert_int_equal(tr_admin_log_dirs_decode(&s, v, &d), TR_OK);
        assert_int_equal(tr_slice_remaining(&s), 0);
        assert_int_equal(d->err, 0);
        assert_int_equal(d->ndirs, 1);
        assert_string_equal(d->dirs[0].path, "/var/lib/tributary");
        assert_int_equal(d->dirs[0].nparts, 3);
        assert_string_equal(d->dirs[0].parts[0].topic, "t");
        assert_int_equal(d->dirs[0].parts[0].size, 4096);
        assert_string_equal(d->dirs[0].parts[1].topic, "t");
        assert_int_equal(d->dirs[0].parts[1].partition, 3);
        assert_int_equal(d->dirs[0].parts[1].offset_lag, 5);
        assert_string_equal(d->dirs[0].parts[2].topic, "u");
        assert_int_equal(d->dirs[0].parts[2].partition, 1);
        assert_false(d->dirs[0].parts[2].is_future);
        assert_int_equal(d->dirs[0].total_bytes, v >= 4 ? 1000000 : -1);
        assert_int_equal(d->dirs[0].usable_bytes, v >= 4 ? 250000 : -1);
        tr_admin_log_dirs_free(d);
        tr_buf_cleanup(&b);
    }
}

static void
test_admin_log_dirs_response_cut_short(void **state)
{
    struct tr_admin_log_dirs *d;
    struct tr_buf b;
    struct tr_slice s;
    size_t len;
    int16_t v;

    (void)state;
    for (v = 0; v <= 4; v++) {
        tr_buf_init(&b, 4096);
        put_response(&b, v);
        for (len = 0; len < tr_buf_len(&b); len++) {
            tr_slice_init(&s, tr_buf_data(&b), len);
            assert_int_not_equal(tr_admin_log_dirs_decode(&s, v, &d), TR_OK);
            assert_null(d);
        }
        tr_buf_cleanup(&b);
    }
}

static void
test_admin_log_dirs_response_hostile(void **state)
{
    /* 2^31-1 results in 8 bytes: refused before anything is allocated. */
    static const uint8_t huge[] = { 0,    0,    0, 0, 0x7f, 0xff,
                                    0xff, 0xff, 0, 0, 0,    0 };
    /* One result whose LogDir is null (not nullable). */
    static const uint8_t null_dir[] = { 0, 0, 0,    0,    0, 0, 0, 1,
                                        0, 0, 0xff, 0xff, 0, 0, 0, 0 };
    struct tr_admin_log_dirs *d;
    struct tr_slice s;

    (void)state;
    tr_slice_init(&s, huge, sizeof(huge));
    assert_int_equal(tr_admin_log_dirs_decode(&s, 0, &d), TR_ERR_TOO_LARGE);
    assert_null(d);
    tr_slice_init(&s, null_dir, sizeof(null_dir));
    assert_int_equal(tr_admin_log_dirs_decode(&s, 0, &d), TR_ERR_CORRUPT);
    assert_null(d);
}

static void
test_admin_log_dirs_decode_oom(void **state)
{
    struct tr_admin_log_dirs *d;
    struct tr_buf b;
    struct tr_slice s;
    tr_err_t err;
    long n;

    (void)state;
    tr_buf_init(&b, 4096);
    put_response(&b, 4);
    for (n = 0;; n++) {
        tr_slice_init(&s, tr_buf_data(&b), tr_buf_len(&b));
        tr_alloc_fail_after(n);
        err = tr_admin_log_dirs_decode(&s, 4, &d);
        tr_alloc_fail_after(-1);
        if (err == TR_OK) {
            break;
        }
        assert_int_equal(err, TR_ERR_NOMEM);
        assert_null(d);
    }
    assert_true(n > 3);
    assert_int_equal(d->dirs[0].nparts, 3);
    tr_admin_log_dirs_free(d);
    tr_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_log_dirs_request_null_topics),
        cmocka_unit_test(test_admin_log_dirs_request_topics),
        cmocka_unit_test(test_admin_log_dirs_response_every_version),
        cmocka_unit_test(test_admin_log_dirs_response_cut_short),
        cmocka_unit_test(test_admin_log_dirs_response_hostile),
        cmocka_unit_test(test_admin_log_dirs_decode_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
