/*
 * proto -- Kafka primitive types and headers over tr_buf / tr_slice.
 */
#include "proto.h"

#include <string.h>

/* First flexible version per API key, from the JSON specifications. */
static const struct {
    int16_t key;
    int16_t first_flexible; /* -1: never flexible */
    const char *name;
} api_table[] = {
    { 0, 9, "Produce" },
    { 1, 12, "Fetch" },
    { 2, 6, "ListOffsets" },
    { 3, 9, "Metadata" },
    { 4, 4, "LeaderAndIsr" },
    { 5, 2, "StopReplica" },
    { 6, 6, "UpdateMetadata" },
    { 7, 3, "ControlledShutdown" },
    { 8, 8, "OffsetCommit" },
    { 9, 6, "OffsetFetch" },
    { 10, 3, "FindCoordinator" },
    { 11, 6, "JoinGroup" },
    { 12, 4, "Heartbeat" },
    { 13, 4, "LeaveGroup" },
    { 14, 4, "SyncGroup" },
    { 15, 5, "DescribeGroups" },
    { 16, 3, "ListGroups" },
    { 17, -1, "SaslHandshake" },
    { 18, 3, "ApiVersions" },
    { 19, 5, "CreateTopics" },
    { 20, 4, "DeleteTopics" },
    { 21, 2, "DeleteRecords" },
    { 22, 2, "InitProducerId" },
    { 23, 4, "OffsetForLeaderEpoch" },
    { 24, 3, "AddPartitionsToTxn" },
    { 25, 3, "AddOffsetsToTxn" },
    { 26, 3, "EndTxn" },
    { 27, 1, "WriteTxnMarkers" },
    { 28, 3, "TxnOffsetCommit" },
    { 29, 2, "DescribeAcls" },
    { 30, 2, "CreateAcls" },
    { 31, 2, "DeleteAcls" },
    { 32, 4, "DescribeConfigs" },
    { 33, 2, "AlterConfigs" },
    { 36, 2, "SaslAuthenticate" },
    { 37, 2, "CreatePartitions" },
    { 43, 2, "ElectLeaders" },
    { 45, 0, "AlterPartitionReassignments" },
    { 46, 0, "ListPartitionReassignments" },
    { 35, 2, "DescribeLogDirs" },
    { 42, 2, "DeleteGroups" },
    { 44, 1, "IncrementalAlterConfigs" },
    { 47, -1, "OffsetDelete" },
    { 48, 1, "DescribeClientQuotas" },
    { 49, 1, "AlterClientQuotas" },
    { 50, 0, "DescribeUserScramCredentials" },
    { 51, 0, "AlterUserScramCredentials" },
    { 60, 0, "DescribeCluster" },
    { 61, 0, "DescribeProducers" },
    { 65, 0, "DescribeTransactions" },
    { 66, 0, "ListTransactions" },
    { 75, 0, "DescribeTopicPartitions" },
};

#define API_TABLE_LEN (sizeof(api_table) / sizeof(api_table[0]))

const char *
tr_proto_api_name(int16_t api_key)
{
    size_t i;

    for (i = 0; i < API_TABLE_LEN; i++) {
        if (api_table[i].key == api_key) {
            return api_table[i].name;
        }
    }
    return "Unknown";
}

int
tr_proto_is_flexible(int16_t api_key, int16_t version)
{
    size_t i;

    for (i = 0; i < API_TABLE_LEN; i++) {
        if (api_table[i].key == api_key) {
            return api_table[i].first_flexible >= 0 &&
                   version >= api_table[i].first_flexible;
        }
    }
    return 0;
}

int
tr_str_eq(const struct tr_str *s, const char *cstr)
{
    size_t n = strlen(cstr);

    return s->len >= 0 && (size_t)s->len == n && memcmp(s->ptr, cstr, n) == 0;
}

tr_err_t
tr_str_copy(const struct tr_str *s, char *out, size_t outlen)
{
    if (s->len < 0) {
        return TR_ERR_INVALID;
    }
    if ((size_t)s->len >= outlen) {
        return TR_ERR_TOO_LARGE;
    }
    if (s->len > 0 && memchr(s->ptr, '\0', (size_t)s->len) != NULL) {
        return TR_ERR_INVALID;
    }
    memcpy(out, s->ptr, (size_t)s->len);
    out[s->len] = '\0';
    return TR_OK;
}

tr_err_t
tr_proto_get_bool(struct tr_slice *s, int *v)
{
    int8_t b;
    tr_err_t err = tr_slice_get_i8(s, &b);

    if (err == TR_OK) {
        *v = b != 0;
    }
    return err;
}

/* Points 'out' at 'len' bytes of 's' (len -1: null). */
static tr_err_t
get_sized(struct tr_slice *s, int64_t len, struct tr_str *out)
{
    const uint8_t *p;
    tr_err_t err;

    if (len == -1) {
        out->ptr = NULL;
        out->len = -1;
        return TR_OK;
    }
    if (len < -1) {
        return TR_ERR_CORRUPT;
    }
    if (len > INT32_MAX) {
        return TR_ERR_TOO_LARGE;
    }
    err = tr_slice_get_raw(s, (size_t)len, &p);
    if (err != TR_OK) {
        return err;
    }
    out->ptr = (const char *)p;
    out->len = (int32_t)len;
    return TR_OK;
}

tr_err_t
tr_proto_get_string(struct tr_slice *s, struct tr_str *out)
{
    int16_t len;
    tr_err_t err = tr_slice_get_i16(s, &len);

    if (err != TR_OK) {
        return err;
    }
    return get_sized(s, len, out);
}

tr_err_t
tr_proto_get_bytes(struct tr_slice *s, struct tr_str *out)
{
    int32_t len;
    tr_err_t err = tr_slice_get_i32(s, &len);

    if (err != TR_OK) {
        return err;
    }
    return get_sized(s, len, out);
}

/* Compact strings and bytes share one layout: uvarint N+1, then N bytes. */
tr_err_t
tr_proto_get_compact_string(struct tr_slice *s, struct tr_str *out)
{
    uint64_t n;
    tr_err_t err = tr_slice_get_uvarint(s, &n);

    if (err != TR_OK) {
        return err;
    }
    if (n > (uint64_t)INT32_MAX + 1) {
        return TR_ERR_TOO_LARGE;
    }
    return get_sized(s, (int64_t)n - 1, out);
}

tr_err_t
tr_proto_get_compact_bytes(struct tr_slice *s, struct tr_str *out)
{
    return tr_proto_get_compact_string(s, out);
}

tr_err_t
tr_proto_get_string_v(struct tr_slice *s, int flex, struct tr_str *out)
{
    return flex ? tr_proto_get_compact_string(s, out)
                : tr_proto_get_string(s, out);
}

tr_err_t
tr_proto_get_bytes_v(struct tr_slice *s, int flex, struct tr_str *out)
{
    return flex ? tr_proto_get_compact_bytes(s, out)
                : tr_proto_get_bytes(s, out);
}

tr_err_t
tr_proto_get_array_len_v(struct tr_slice *s, int flex, int32_t *n,
                         size_t min_elem_size, int32_t max)
{
    int64_t count;
    tr_err_t err;

    if (flex) {
        uint64_t u;

        err = tr_slice_get_uvarint(s, &u);
        if (err != TR_OK) {
            return err;
        }
        if (u > (uint64_t)INT32_MAX) {
            return TR_ERR_TOO_LARGE;
        }
        count = (int64_t)u - 1;
    } else {
        int32_t c;

        err = tr_slice_get_i32(s, &c);
        if (err != TR_OK) {
            return err;
        }
        count = c;
    }
    if (count < -1) {
        return TR_ERR_CORRUPT;
    }
    if (count > max) {
        return TR_ERR_TOO_LARGE;
    }
    if (count > 0 && min_elem_size > 0 &&
        (uint64_t)count > tr_slice_remaining(s) / min_elem_size) {
        return TR_ERR_TRUNCATED;
    }
    *n = (int32_t)count;
    return TR_OK;
}

tr_err_t
tr_proto_skip_tags(struct tr_slice *s)
{
    uint64_t count, i;
    tr_err_t err = tr_slice_get_uvarint(s, &count);

    if (err != TR_OK) {
        return err;
    }
    if (count > tr_slice_remaining(s)) {
        return TR_ERR_TRUNCATED;
    }
    for (i = 0; i < count; i++) {
        uint64_t tag, size;

        err = tr_slice_get_uvarint(s, &tag);
        if (err == TR_OK) {
            err = tr_slice_get_uvarint(s, &size);
        }
        if (err != TR_OK) {
            return err;
        }
        if (size > tr_slice_remaining(s)) {
            return TR_ERR_TRUNCATED;
        }
        err = tr_slice_skip(s, (size_t)size);
        if (err != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

size_t
tr_proto_put_bool(struct tr_buf *b, int v)
{
    return tr_buf_put_i8(b, v ? 1 : 0);
}

size_t
tr_proto_put_string_v(struct tr_buf *b, int flex, const char *str, int32_t len)
{
    size_t off;

    if (len < 0) {
        return flex ? tr_buf_put_uvarint(b, 0) : tr_buf_put_i16(b, -1);
    }
    off = flex ? tr_buf_put_uvarint(b, (uint64_t)len + 1)
               : tr_buf_put_i16(b, (int16_t)len);
    tr_buf_put_bytes(b, str, (size_t)len);
    return off;
}

size_t
tr_proto_put_cstring_v(struct tr_buf *b, int flex, const char *str)
{
    return tr_proto_put_string_v(b, flex, str, str ? (int32_t)strlen(str) : -1);
}

size_t
tr_proto_put_bytes_v(struct tr_buf *b, int flex, const void *data, int32_t len)
{
    size_t off;

    if (len < 0) {
        return flex ? tr_buf_put_uvarint(b, 0) : tr_buf_put_i32(b, -1);
    }
    off = flex ? tr_buf_put_uvarint(b, (uint64_t)len + 1)
               : tr_buf_put_i32(b, len);
    tr_buf_put_bytes(b, data, (size_t)len);
    return off;
}

size_t
tr_proto_put_array_len_v(struct tr_buf *b, int flex, int32_t n)
{
    if (flex) {
        return tr_buf_put_uvarint(b, n < 0 ? 0 : (uint64_t)n + 1);
    }
    return tr_buf_put_i32(b, n);
}

size_t
tr_proto_put_tags_v(struct tr_buf *b, int flex)
{
    if (!flex) {
        return tr_buf_len(b);
    }
    return tr_buf_put_uvarint(b, 0);
}

tr_err_t
tr_proto_request_header_parse(struct tr_slice *s, struct tr_request_header *hdr)
{
    tr_err_t err;

    err = tr_slice_get_i16(s, &hdr->api_key);
    if (err == TR_OK) {
        err = tr_slice_get_i16(s, &hdr->api_version);
    }
    if (err == TR_OK) {
        err = tr_slice_get_i32(s, &hdr->correlation_id);
    }
    if (err == TR_OK) {
        /* client_id stays a classic nullable string even in header v2. */
        err = tr_proto_get_string(s, &hdr->client_id);
    }
    if (err != TR_OK) {
        return err;
    }
    hdr->flexible = tr_proto_is_flexible(hdr->api_key, hdr->api_version);
    if (hdr->flexible) {
        err = tr_proto_skip_tags(s);
    }
    return err;
}

size_t
tr_proto_request_header_put(struct tr_buf *b, int16_t api_key,
                            int16_t api_version, int32_t correlation_id,
                            const char *client_id)
{
    size_t off = tr_buf_put_i16(b, api_key);

    tr_buf_put_i16(b, api_version);
    tr_buf_put_i32(b, correlation_id);
    tr_proto_put_cstring_v(b, 0, client_id);
    if (tr_proto_is_flexible(api_key, api_version)) {
        tr_buf_put_uvarint(b, 0);
    }
    return off;
}

void
tr_proto_put_quota_entity(struct tr_buf *b, int flex, const char *user,
                          int user_default, const char *client_id,
                          int client_default)
{
    int has_user = user != NULL || user_default;
    int has_client = client_id != NULL || client_default;

    tr_proto_put_array_len_v(b, flex, has_user + has_client);
    if (has_user) {
        tr_proto_put_cstring_v(b, flex, "user");
        tr_proto_put_cstring_v(b, flex, user_default ? NULL : user);
        tr_proto_put_tags_v(b, flex);
    }
    if (has_client) {
        tr_proto_put_cstring_v(b, flex, "client-id");
        tr_proto_put_cstring_v(b, flex, client_default ? NULL : client_id);
        tr_proto_put_tags_v(b, flex);
    }
}
