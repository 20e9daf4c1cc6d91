/*
 * request -- what handlers may ask of the request they serve, apart from
 * its bytes: the principal, where throttle_time_ms goes, and a Fetch's
 * client quota (api.h). Kept out of net/server.c so that handlers can run
 * without the network (unit tests, the request fuzzer).
 */
#include <stdint.h>

#include "api.h"
#include "clock.h"
#include "quota.h"

_Static_assert(sizeof(((struct tr_request_quota *)0)->client_id) ==
                   TR_QUOTA_NAME_MAX + 1,
               "a client id is cut to a quota name");

const char *
tr_request_principal(const struct tr_request *req)
{
    return req->security != NULL ? req->security->principal : "User:ANONYMOUS";
}

void
tr_request_put_throttle(struct tr_request *req)
{
    req->throttle_at = req->sent_ahead + tr_buf_len(req->out) + 1;
    tr_buf_put_i32(req->out, req->throttle_ms);
}

int32_t
tr_request_fetch_cap(struct tr_request *req)
{
    struct tr_request_quota *qs = req->quota;
    double cap;

    if (qs == NULL || qs->quotas == NULL) {
        return 0;
    }
    cap = tr_quotas_window_max(qs->quotas, qs->user, qs->client_id,
                               TR_QUOTA_CONSUMER_BYTE_RATE);
    return cap <= 0           ? 0
           : cap >= INT32_MAX ? INT32_MAX
           : cap < 1          ? 1
                              : (int32_t)cap;
}

int32_t
tr_request_fetch_quota(struct tr_request *req, size_t bytes)
{
    struct tr_request_quota *qs = req->quota;
    int64_t now, t;

    if (qs == NULL ||
        !tr_quotas_active(qs->quotas, TR_QUOTA_CONSUMER_BYTE_RATE)) {
        return 0;
    }
    now = tr_clock_mono_ms();
    qs->fetch_counted = 1;
    t = tr_quotas_record(qs->quotas, qs->user, qs->client_id,
                         TR_QUOTA_CONSUMER_BYTE_RATE, (double)bytes, now);
    if (t <= 0) {
        return 0;
    }
    /* Kafka's "unrecord": the bytes are not sent, so they do not count. */
    (void)tr_quotas_record(qs->quotas, qs->user, qs->client_id,
                           TR_QUOTA_CONSUMER_BYTE_RATE, -(double)bytes, now);
    qs->throttle_ms = t > qs->throttle_ms ? t : qs->throttle_ms;
    req->throttle_ms =
        qs->throttle_ms > INT32_MAX ? INT32_MAX : (int32_t)qs->throttle_ms;
    return req->throttle_ms;
}
