/*
 * admin -- blocking administrative requests; see admin.h.
 *
 * Every call runs the admin client's private event loop in short slices
 * until its answer arrives or its deadline passes. Decoders follow the
 * message specifications field by field for the versions used (all of them
 * classic, non-flexible encodings).
 */
#include "admin.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "consumer.h"
#include "proto.h"

#define MAX_ITEMS 1000000

struct tr_admin {
    struct event_base *base;
    struct tr_client *client;
    struct event *tick;
    char *bootstrap;
    int timeout_ms;
};

struct call {
    int done;
    tr_err_t err;
    int16_t version;
    struct tr_buf *resp;
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop for at most one short slice. */
static void
run_once(struct tr_admin *a)
{
    struct timeval tv = { 0, 20000 };

    evtimer_add(a->tick, &tv);
    event_base_loop(a->base, EVLOOP_ONCE);
}

static void
unreachable(struct tr_admin *a, char *errbuf, size_t errlen)
{
    snprintf(errbuf, errlen,
             "cannot reach the bootstrap server %s (no answer within %d ms); "
             "check -b/--bootstrap-server and that the collector is running "
             "and listening there",
             a->bootstrap, a->timeout_ms);
}

/* Waits for a ready connection to 'node' (-1: any). */
static struct tr_conn *
wait_conn(struct tr_admin *a, int32_t node, char *errbuf, size_t errlen)
{
    int64_t deadline = tr_clock_mono_ms() + a->timeout_ms;
    struct tr_conn *conn;

    for (;;) {
        const char *why;

        conn = node < 0 ? tr_client_any_conn(a->client)
                        : tr_client_node_conn(a->client, node);
        if (conn != NULL || tr_clock_mono_ms() >= deadline) {
            break;
        }
        if (tr_client_last_error(a->client, &why) != TR_OK) {
            /* A refused login or certificate will not pass on retry. */
            snprintf(errbuf, errlen, "%s (connecting to %s)", why,
                     node < 0 ? a->bootstrap
                              : "a broker named in the metadata");
            return NULL;
        }
        run_once(a);
    }
    if (conn == NULL) {
        if (node < 0) {
            unreachable(a, errbuf, errlen);
        } else {
            snprintf(errbuf, errlen,
                     "cannot connect to broker %d named in the metadata; "
                     "check its advertised.listeners",
                     (int)node);
        }
    }
    return conn;
}

tr_err_t
tr_admin_new(const char *bootstrap, int timeout_ms,
             const struct tr_clientsec *security, struct tr_admin **out,
             char *errbuf, size_t errlen)
{
    struct tr_admin *a;
    struct tr_client_config cfg;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    a = tr_calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    a->timeout_ms = timeout_ms;
    a->bootstrap = tr_strdup(bootstrap);
    a->base = event_base_new();
    if (a->bootstrap == NULL || a->base == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    a->tick = evtimer_new(a->base, tick_cb, a);
    if (a->tick == NULL) {
        goto out;
    }
    tr_client_config_defaults(&cfg);
    cfg.bootstrap = bootstrap;
    cfg.client_id = "tributary-cli";
    cfg.request_timeout_ms = timeout_ms;
    cfg.allow_auto_create = 0;
    cfg.reconnect_backoff_max_ms = 1000;
    cfg.security = security;
    err = tr_client_new(a->base, &cfg, NULL, NULL, &a->client);
    if (err != TR_OK) {
        snprintf(errbuf, errlen,
                 "bad bootstrap server list '%s'; expected HOST:PORT[,...]",
                 bootstrap);
        goto out;
    }
    if (wait_conn(a, -1, errbuf, errlen) == NULL) {
        const char *why;

        err = tr_client_last_error(a->client, &why);
        if (err == TR_OK) {
            err = TR_ERR_IO;
        }
        goto out;
    }
    /* Learn the real node ids, which coordinators and leaders refer to. */
    {
        const char *none[1] = { NULL };
        struct tr_admin_metadata *md = NULL;

        err = tr_admin_metadata(a, none, 0, &md, errbuf, errlen);
        tr_admin_metadata_free(md);
        if (err != TR_OK) {
            goto out;
        }
    }
    *out = a;
    a = NULL;
    err = TR_OK;
out:
    tr_admin_free(a);
    return err;
}

void
tr_admin_free(struct tr_admin *a)
{
    if (a == NULL) {
        return;
    }
    tr_client_free(a->client);
    if (a->tick != NULL) {
        event_free(a->tick);
    }
    if (a->base != NULL) {
        event_base_free(a->base);
    }
    tr_free(a->bootstrap);
    tr_free(a);
}

static const struct {
    int16_t code;
    const char *name;
} kerr_names[] = {
    { -1, "UNKNOWN_SERVER_ERROR (see the collector's log)" },
    { 0, "NONE" },
    { 1, "OFFSET_OUT_OF_RANGE" },
    { 2, "CORRUPT_MESSAGE" },
    { 3, "UNKNOWN_TOPIC_OR_PARTITION (check the name with 'tributary topics "
         "list')" },
    { 5, "LEADER_NOT_AVAILABLE (the topic is being created; retry)" },
    { 6, "NOT_LEADER_OR_FOLLOWER" },
    { 7, "REQUEST_TIMED_OUT" },
    { 10, "MESSAGE_TOO_LARGE (raise message.max.bytes)" },
    { 15, "COORDINATOR_NOT_AVAILABLE" },
    { 16, "NOT_COORDINATOR" },
    { 17, "INVALID_TOPIC_EXCEPTION (topic names use [a-zA-Z0-9._-], up to "
          "249 characters)" },
    { 22, "ILLEGAL_GENERATION" },
    { 24, "INVALID_GROUP_ID" },
    { 25, "UNKNOWN_MEMBER_ID" },
    { 27, "REBALANCE_IN_PROGRESS" },
    { 29, "TOPIC_AUTHORIZATION_FAILED (the principal may not use this topic; "
          "ask for an ACL)" },
    { 30, "GROUP_AUTHORIZATION_FAILED (the principal may not use this group; "
          "ask for an ACL)" },
    { 31, "CLUSTER_AUTHORIZATION_FAILED (the principal may not do this; ask "
          "for an ACL)" },
    { 35, "UNSUPPORTED_VERSION" },
    { 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED (ask for an ACL)" },
    { 54, "SECURITY_DISABLED" },
    { 55, "OPERATION_NOT_ATTEMPTED" },
    { 36, "TOPIC_ALREADY_EXISTS (use 'topics alter' to change it)" },
    { 37, "INVALID_PARTITIONS (the count must be positive and, when altering, "
          "larger than now)" },
    { 38, "INVALID_REPLICATION_FACTOR (at most one replica per live broker; "
          "a single collector holds one)" },
    { 39, "INVALID_REPLICA_ASSIGNMENT (name live brokers, each once)" },
    { 40, "INVALID_CONFIG (see 'tributary topics describe --configs' for "
          "names)" },
    { 41, "NOT_CONTROLLER" },
    { 42, "INVALID_REQUEST" },
    { 44, "POLICY_VIOLATION" },
    { 60, "REASSIGNMENT_IN_PROGRESS" },
    { 68, "NON_EMPTY_GROUP (stop the group's consumers first)" },
    { 69, "GROUP_ID_NOT_FOUND (check the name with 'tributary groups "
          "list')" },
    { 80, "PREFERRED_LEADER_NOT_AVAILABLE (the preferred replica is down or "
          "out of sync)" },
    { 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE (no live replica to elect)" },
    { 84, "ELECTION_NOT_NEEDED" },
    { 85, "NO_REASSIGNMENT_IN_PROGRESS" },
    { 33, "UNSUPPORTED_SASL_MECHANISM" },
    { 58, "SASL_AUTHENTICATION_FAILED (check the user name and password)" },
    { 91, "RESOURCE_NOT_FOUND" },
    { 92, "DUPLICATE_RESOURCE" },
    { 93, "UNACCEPTABLE_CREDENTIAL" },
    { 105, "TRANSACTIONAL_ID_NOT_FOUND (check the id with 'tributary "
           "transactions list')" },
};

const char *
tr_admin_kerr_name(int16_t kerr)
{
    size_t i;

    for (i = 0; i < sizeof(kerr_names) / sizeof(kerr_names[0]); i++) {
        if (kerr_names[i].code == kerr) {
            return kerr_names[i].name;
        }
    }
    return "Kafka error (see the protocol's error table)";
}

static void
call_cb(tr_err_t err, int16_t version, struct tr_slice *body, void *arg)
{
    struct call *call = arg;

    call->done = 1;
    call->err = err;
    call->version = version;
    if (err == TR_OK) {
        tr_buf_put_bytes(call->resp, tr_slice_cur(body),
                         tr_slice_remaining(body));
        call->err = tr_buf_err(call->resp);
    }
}

tr_err_t
tr_admin_call(struct tr_admin *a, int32_t node, int16_t api_key, int16_t vmin,
              int16_t vmax, tr_admin_encode_cb *enc, void *arg,
              struct tr_buf *resp, int16_t *version, char *errbuf,
              size_t errlen)
{
    struct tr_conn *conn;
    struct tr_buf body;
    struct call *call = NULL;
    int64_t deadline;
    int16_t v;
    tr_err_t err = TR_ERR_IO;

    tr_buf_init(&body, SIZE_MAX);
    tr_buf_init(resp, SIZE_MAX);
    conn = wait_conn(a, node, errbuf, errlen);
    if (conn == NULL) {
        goto out;
    }
    v = tr_conn_api_version(conn, api_key, vmin, vmax);
    if (v < 0) {
        snprintf(errbuf, errlen,
                 "the broker does not offer %s v%d-v%d; upgrade the collector",
                 tr_proto_api_name(api_key), vmin, vmax);
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    if ((err = enc(&body, v, arg)) != TR_OK) {
        snprintf(errbuf, errlen, "cannot encode %s: %s",
                 tr_proto_api_name(api_key), tr_err_str(err));
        goto out;
    }
    /* On the heap: a late answer after a timeout must find it. */
    call = tr_calloc(1, sizeof(*call));
    if (call == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    call->resp = resp;
    err = tr_conn_request(conn, api_key, v, &body, call_cb, call);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "cannot send %s: %s",
                 tr_proto_api_name(api_key), tr_err_str(err));
        goto out;
    }
    deadline = tr_clock_mono_ms() + a->timeout_ms + 1000;
    while (!call->done && tr_clock_mono_ms() < deadline) {
        run_once(a);
    }
    if (!call->done) {
        snprintf(errbuf, errlen, "no answer to %s within %d ms",
                 tr_proto_api_name(api_key), a->timeout_ms);
        call = NULL; /* leaked on purpose: the client may still call it */
        err = TR_ERR_TIMEOUT;
        goto out;
    }
    err = call->err;
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "%s failed: %s", tr_proto_api_name(api_key),
                 tr_err_str(err));
        goto out;
    }
    *version = v;
out:
    tr_free(call);
    tr_buf_cleanup(&body);
    return err;
}

/* Small decoding helpers. */

static char *
dup_str(const struct tr_str *s)
{
    if (s->len < 0) {
        return NULL;
    }
    return tr_strndup(s->ptr, (size_t)s->len);
}

static tr_err_t
get_dup(struct tr_slice *s, char **out)
{
    struct tr_str str;
    tr_err_t err = tr_proto_get_string(s, &str);

    *out = NULL;
    if (err != TR_OK || str.len < 0) {
        return err;
    }
    *out = dup_str(&str);
    return *out == NULL ? TR_ERR_NOMEM : TR_OK;
}

static tr_err_t
get_i32_array(struct tr_slice *s, int32_t **out, int32_t *n)
{
    int32_t i;
    tr_err_t err;

    *out = NULL;
    if ((err = tr_proto_get_array_len_v(s, 0, n, 4, MAX_ITEMS)) != TR_OK) {
        return err;
    }
    if (*n < 0) {
        *n = 0;
    }
    *out = tr_calloc((size_t)*n + 1, sizeof(int32_t));
    if (*out == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < *n; i++) {
        if ((err = tr_slice_get_i32(s, &(*out)[i])) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

static void
bad_response(const char *api, tr_err_t err, char *errbuf, size_t errlen)
{
    snprintf(errbuf, errlen, "malformed %s response: %s", api, tr_err_str(err));
}

/* Metadata. */

struct md_req {
    const char *const *topics;
    size_t n;
};

static tr_err_t
md_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct md_req *r = arg;
    size_t i;

    if (r->topics == NULL) {
        tr_proto_put_array_len_v(b, 0, -1); /* Topics: all */
    } else {
        tr_proto_put_array_len_v(b, 0, (int32_t)r->n); /* Topics */
        for (i = 0; i < r->n; i++) {
            tr_proto_put_cstring_v(b, 0, r->topics[i]); /* Name */
        }
    }
    if (version >= 4) {
        tr_proto_put_bool(b, 0); /* AllowAutoTopicCreation */
    }
    return tr_buf_err(b);
}

static int
topic_name_cmp(const void *x, const void *y)
{
    const struct tr_admin_topic *a = x, *b = y;

    return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

static tr_err_t
md_decode(struct tr_slice *s, int16_t v, struct tr_admin_metadata *md)
{
    int32_t n, i, np, j, throttle, nops;
    tr_err_t err;

    if (v >= 3 && (err = tr_slice_get_i32(s, &throttle)) != TR_OK) {
        return err;
    }
    if ((err = tr_proto_get_array_len_v(s, 0, &n, 10, MAX_ITEMS)) != TR_OK) {
        return err;
    }
    md->brokers = tr_calloc((size_t)(n > 0 ? n : 0) + 1, sizeof(*md->brokers));
    if (md->brokers == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        struct tr_admin_broker *b = &md->brokers[md->nbrokers++];

        if ((err = tr_slice_get_i32(s, &b->id)) != TR_OK ||
            (err = get_dup(s, &b->host)) != TR_OK ||
            (err = tr_slice_get_i32(s, &b->port)) != TR_OK ||
            (err = get_dup(s, &b->rack)) != TR_OK) {
            return err;
        }
    }
    if (v >= 2 && (err = get_dup(s, &md->cluster_id)) != TR_OK) {
        return err;
    }
    if ((err = tr_slice_get_i32(s, &md->controller)) != TR_OK) {
        return err;
    }
    if ((err = tr_proto_get_array_len_v(s, 0, &n, 9, MAX_ITEMS)) != TR_OK) {
        return err;
    }
    md->topics = tr_calloc((size_t)(n > 0 ? n : 0) + 1, sizeof(*md->topics));
    if (md->topics == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        struct tr_admin_topic *t = &md->topics[md->ntopics++];

        if ((err = tr_slice_get_i16(s, &t->err)) != TR_OK ||
            (err = get_dup(s, &t->name)) != TR_OK ||
            (err = tr_proto_get_bool(s, &t->internal)) != TR_OK ||
            (err = tr_proto_get_array_len_v(s, 0, &np, 18, MAX_ITEMS)) !=
                TR_OK) {
            return err;
        }
        if (np < 0) {
            np = 0;
        }
        t->parts = tr_calloc((size_t)np + 1, sizeof(*t->parts));
        if (t->parts == NULL) {
            return TR_ERR_NOMEM;
        }
        for (j = 0; j < np; j++) {
            struct tr_admin_partition *p = &t->parts[t->nparts++];
            int32_t epoch;

            p->log_start = -1;
            p->log_end = -1;
            if ((err = tr_slice_get_i16(s, &p->err)) != TR_OK ||
                (err = tr_slice_get_i32(s, &p->id)) != TR_OK ||
                (err = tr_slice_get_i32(s, &p->leader)) != TR_OK) {
                return err;
            }
            if (v >= 7 && (err = tr_slice_get_i32(s, &epoch)) != TR_OK) {
                return err;
            }
            if ((err = get_i32_array(s, &p->replicas, &p->nreplicas)) !=
                    TR_OK ||
                (err = get_i32_array(s, &p->isr, &p->nisr)) != TR_OK) {
                return err;
            }
            if (v >= 5 &&
                (err = get_i32_array(s, &p->offline, &p->noffline)) != TR_OK) {
                return err;
            }
        }
        if (v >= 8 && (err = tr_slice_get_i32(s, &nops)) != TR_OK) {
            return err;
        }
    }
    qsort(md->topics, md->ntopics, sizeof(*md->topics), topic_name_cmp);
    return TR_OK;
}

tr_err_t
tr_admin_metadata(struct tr_admin *a, const char *const *topics, size_t n,
                  struct tr_admin_metadata **out, char *errbuf, size_t errlen)
{
    struct md_req r = { topics, n };
    struct tr_admin_metadata *md = NULL;
    struct tr_buf resp;
    struct tr_slice s;
    int16_t v;
    tr_err_t err;

    *out = NULL;
    err = tr_admin_call(a, -1, TR_API_METADATA, 1, 7, md_encode, &r, &resp, &v,
                        errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    md = tr_calloc(1, sizeof(*md));
    if (md == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = md_decode(&s, v, md)) != TR_OK) {
        bad_response("Metadata", err, errbuf, errlen);
        goto out;
    }
    /* The metadata names the real nodes; later calls may use them. */
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    tr_client_metadata_apply(a->client, v, &s);
    *out = md;
    md = NULL;
out:
    tr_admin_metadata_free(md);
    tr_buf_cleanup(&resp);
    return err;
}

void
tr_admin_metadata_free(struct tr_admin_metadata *md)
{
    size_t i;
    int32_t j;

    if (md == NULL) {
        return;
    }
    for (i = 0; i < md->nbrokers; i++) {
        tr_free(md->brokers[i].host);
        tr_free(md->brokers[i].rack);
    }
    tr_free(md->brokers);
    for (i = 0; i < md->ntopics; i++) {
        for (j = 0; j < md->topics[i].nparts; j++) {
            tr_free(md->topics[i].parts[j].replicas);
            tr_free(md->topics[i].parts[j].isr);
            tr_free(md->topics[i].parts[j].offline);
        }
        tr_free(md->topics[i].parts);
        tr_free(md->topics[i].name);
    }
    tr_free(md->topics);
    tr_free(md->cluster_id);
    tr_free(md);
}

struct tr_admin_topic *
tr_admin_metadata_topic(struct tr_admin_metadata *md, const char *name)
{
    size_t i;

    for (i = 0; i < md->ntopics; i++) {
        if (md->topics[i].name != NULL &&
            strcmp(md->topics[i].name, name) == 0) {
            return &md->topics[i];
        }
    }
    return NULL;
}

/* ListOffsets. */

struct lo_req {
    const char *topic;
    int32_t partition;
    int64_t ts;
};

static tr_err_t
lo_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct lo_req *r = arg;

    tr_buf_put_i32(b, -1); /* ReplicaId */
    if (version >= 2) {
        tr_buf_put_i8(b, 0); /* IsolationLevel */
    }
    tr_proto_put_array_len_v(b, 0, 1);      /* Topics */
    tr_proto_put_cstring_v(b, 0, r->topic); /* Name */
    tr_proto_put_array_len_v(b, 0, 1);      /* Partitions */
    tr_buf_put_i32(b, r->partition);        /* PartitionIndex */
    if (version >= 4) {
        tr_buf_put_i32(b, -1); /* CurrentLeaderEpoch */
    }
    tr_buf_put_i64(b, r->ts); /* Timestamp */
    return tr_buf_err(b);
}

tr_err_t
tr_admin_list_offset(struct tr_admin *a, int32_t leader, const char *topic,
                     int32_t partition, int64_t timestamp, int64_t *offset,
                     int16_t *kerr, char *errbuf, size_t errlen)
{
    struct lo_req r = { topic, partition, timestamp };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str name;
    int32_t throttle, nt, np, part, epoch;
    int64_t ts;
    int16_t v;
    tr_err_t err;

    *offset = -1;
    *kerr = 0;
    err = tr_admin_call(a, leader, TR_API_LIST_OFFSETS, 1, 4, lo_encode, &r,
                        &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 2 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &nt, 6, MAX_ITEMS)) != TR_OK ||
        nt < 1 || (err = tr_proto_get_string(&s, &name)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &np, 22, MAX_ITEMS)) != TR_OK ||
        np < 1 || (err = tr_slice_get_i32(&s, &part)) != TR_OK ||
        (err = tr_slice_get_i16(&s, kerr)) != TR_OK ||
        (err = tr_slice_get_i64(&s, &ts)) != TR_OK ||
        (err = tr_slice_get_i64(&s, offset)) != TR_OK ||
        (v >= 4 && (err = tr_slice_get_i32(&s, &epoch)) != TR_OK)) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response("ListOffsets", err, errbuf, errlen);
        goto out;
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

tr_err_t
tr_admin_offsets(struct tr_admin *a, struct tr_admin_metadata *md, char *errbuf,
                 size_t errlen)
{
    size_t i;
    int32_t j;
    int16_t kerr;
    tr_err_t err = TR_OK;

    for (i = 0; i < md->ntopics; i++) {
        struct tr_admin_topic *t = &md->topics[i];

        for (j = 0; j < t->nparts && t->name != NULL; j++) {
            struct tr_admin_partition *p = &t->parts[j];

            if (p->leader < 0) {
                continue;
            }
            err = tr_admin_list_offset(a, p->leader, t->name, p->id,
                                       TR_ADMIN_EARLIEST, &p->log_start, &kerr,
                                       errbuf, errlen);
            if (err != TR_OK) {
                goto out;
            }
            err = tr_admin_list_offset(a, p->leader, t->name, p->id,
                                       TR_ADMIN_LATEST, &p->log_end, &kerr,
                                       errbuf, errlen);
            if (err != TR_OK) {
                goto out;
            }
        }
    }
out:
    return err;
}

/* Topics. */

struct ct_req {
    const struct tr_admin_new_topic *t;
    int timeout_ms;
    int validate_only;
};

static tr_err_t
ct_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct ct_req *r = arg;
    size_t i;

    tr_proto_put_array_len_v(b, 0, 1);        /* Topics */
    tr_proto_put_cstring_v(b, 0, r->t->name); /* Name */
    tr_buf_put_i32(b, r->t->partitions);      /* NumPartitions */
    tr_buf_put_i16(b, r->t->replication);     /* ReplicationFactor */
    tr_proto_put_array_len_v(b, 0, 0);        /* Assignments */
    tr_proto_put_array_len_v(b, 0, (int32_t)r->t->nconfigs); /* Configs */
    for (i = 0; i < r->t->nconfigs; i++) {
        const char *kv = r->t->configs[i];
        const char *eq = strchr(kv, '=');

        if (eq == NULL) {
            return TR_ERR_INVALID;
        }
        tr_proto_put_string_v(b, 0, kv, (int32_t)(eq - kv)); /* Name */
        tr_proto_put_cstring_v(b, 0, eq + 1);                /* Value */
    }
    tr_buf_put_i32(b, r->timeout_ms); /* timeoutMs */
    if (version >= 1) {
        tr_proto_put_bool(b, r->validate_only); /* validateOnly */
    }
    return tr_buf_err(b);
}

static int32_t
controller_of(struct tr_admin *a, char *errbuf, size_t errlen)
{
    struct tr_admin_metadata *md;
    int32_t id = -1;

    if (tr_admin_metadata(a, NULL, 0, &md, errbuf, errlen) == TR_OK) {
        id = md->controller;
        tr_admin_metadata_free(md);
    }
    return id;
}

/* Reads one "Name ErrorCode [ErrorMessage]" result. */
static tr_err_t
get_result(struct tr_slice *s, int with_msg, int16_t *kerr, char *msg,
           size_t msglen)
{
    struct tr_str name, m;
    tr_err_t err;

    if ((err = tr_proto_get_string(s, &name)) != TR_OK ||
        (err = tr_slice_get_i16(s, kerr)) != TR_OK) {
        return err;
    }
    if (with_msg) {
        if ((err = tr_proto_get_string(s, &m)) != TR_OK) {
            return err;
        }
        if (msg != NULL && m.len > 0) {
            snprintf(msg, msglen, "%.*s", (int)m.len, m.ptr);
        }
    }
    return TR_OK;
}

tr_err_t
tr_admin_create_topic(struct tr_admin *a, const struct tr_admin_new_topic *t,
                      int timeout_ms, int validate_only, int16_t *kerr,
                      char *msg, size_t msglen, char *errbuf, size_t errlen)
{
    struct ct_req r = { t, timeout_ms, validate_only };
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, n;
    int16_t v;
    tr_err_t err;

    if (msg != NULL && msglen > 0) {
        msg[0] = '\0';
    }
    err =
        tr_admin_call(a, controller_of(a, errbuf, errlen), TR_API_CREATE_TOPICS,
                      0, 4, ct_encode, &r, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 2 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &n, 4, MAX_ITEMS)) != TR_OK ||
        n < 1 || (err = get_result(&s, v >= 1, kerr, msg, msglen)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response("CreateTopics", err, errbuf, errlen);
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

struct dt_req {
    const char *name;
    int timeout_ms;
};

static tr_err_t
dt_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct dt_req *r = arg;

    (void)version;
    tr_proto_put_array_len_v(b, 0, 1); /* TopicNames */
    tr_proto_put_cstring_v(b, 0, r->name);
    tr_buf_put_i32(b, r->timeout_ms); /* TimeoutMs */
    return tr_buf_err(b);
}

tr_err_t
tr_admin_delete_topic(struct tr_admin *a, const char *name, int timeout_ms,
                      int16_t *kerr, char *errbuf, size_t errlen)
{
    struct dt_req r = { name, timeout_ms };
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, n;
    int16_t v;
    tr_err_t err;

    err =
        tr_admin_call(a, controller_of(a, errbuf, errlen), TR_API_DELETE_TOPICS,
                      0, 3, dt_encode, &r, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 1 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &n, 4, MAX_ITEMS)) != TR_OK ||
        n < 1 || (err = get_result(&s, 0, kerr, NULL, 0)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response("DeleteTopics", err, errbuf, errlen);
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

struct cp_req {
    const char *name;
    int32_t count;
    int timeout_ms;
};

static tr_err_t
cp_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct cp_req *r = arg;

    (void)version;
    tr_proto_put_array_len_v(b, 0, 1);     /* Topics */
    tr_proto_put_cstring_v(b, 0, r->name); /* Name */
    tr_buf_put_i32(b, r->count);           /* Count */
    tr_proto_put_array_len_v(b, 0, -1);    /* Assignments */
    tr_buf_put_i32(b, r->timeout_ms);      /* TimeoutMs */
    tr_proto_put_bool(b, 0);               /* ValidateOnly */
    return tr_buf_err(b);
}

tr_err_t
tr_admin_create_partitions(struct tr_admin *a, const char *name, int32_t count,
                           int timeout_ms, int16_t *kerr, char *msg,
                           size_t msglen, char *errbuf, size_t errlen)
{
    struct cp_req r = { name, count, timeout_ms };
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, n;
    int16_t v;
    tr_err_t err;

    if (msg != NULL && msglen > 0) {
        msg[0] = '\0';
    }
    err = tr_admin_call(a, controller_of(a, errbuf, errlen),
                        TR_API_CREATE_PARTITIONS, 0, 1, cp_encode, &r, &resp,
                        &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &n, 4, MAX_ITEMS)) != TR_OK ||
        n < 1 || (err = get_result(&s, 1, kerr, msg, msglen)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response("CreatePartitions", err, errbuf, errlen);
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

/* Configs. */

struct dc_req {
    int8_t type;
    const char *name;
};

static tr_err_t
dc_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct dc_req *r = arg;

    tr_proto_put_array_len_v(b, 0, 1);     /* Resources */
    tr_buf_put_i8(b, r->type);             /* ResourceType */
    tr_proto_put_cstring_v(b, 0, r->name); /* ResourceName */
    tr_proto_put_array_len_v(b, 0, -1);    /* ConfigurationKeys: all */
    if (version >= 1) {
        tr_proto_put_bool(b, 0); /* IncludeSynonyms */
    }
    if (version >= 3) {
        tr_proto_put_bool(b, 0); /* IncludeDocumentation */
    }
    return tr_buf_err(b);
}

/* The broker a resource's configs must be asked of, or -1 for any. */
static int32_t
config_node(int8_t type, const char *name)
{
    char *end;
    long id;

    if (type != TR_ADMIN_RESOURCE_BROKER || name == NULL || name[0] == '\0') {
        return -1;
    }
    id = strtol(name, &end, 10);
    return *end == '\0' && id >= 0 && id <= INT32_MAX ? (int32_t)id : -1;
}

static int
config_cmp(const void *x, const void *y)
{
    const struct tr_admin_config *a = x, *b = y;

    return strcmp(a->name, b->name);
}

tr_err_t
tr_admin_describe_configs(struct tr_admin *a, int8_t type, const char *name,
                          struct tr_admin_config **out, size_t *n,
                          int16_t *kerr, char *errbuf, size_t errlen)
{
    struct dc_req r = { type, name };
    struct tr_admin_config *cfgs = NULL;
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str str;
    int32_t throttle, nres, ncfg, i, nsyn, j;
    int8_t rtype, source, ctype;
    int16_t v;
    size_t count = 0;
    tr_err_t err;

    *out = NULL;
    *n = 0;
    err = tr_admin_call(a, config_node(type, name), TR_API_DESCRIBE_CONFIGS, 0,
                        3, dc_encode, &r, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &nres, 4, MAX_ITEMS)) != TR_OK ||
        nres < 1 || (err = tr_slice_get_i16(&s, kerr)) != TR_OK ||
        (err = tr_proto_get_string(&s, &str)) != TR_OK ||
        (err = tr_slice_get_i8(&s, &rtype)) != TR_OK ||
        (err = tr_proto_get_string(&s, &str)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &ncfg, 4, MAX_ITEMS)) != TR_OK) {
        goto bad;
    }
    cfgs = tr_calloc((size_t)(ncfg > 0 ? ncfg : 0) + 1, sizeof(*cfgs));
    if (cfgs == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < ncfg; i++) {
        struct tr_admin_config *cf = &cfgs[count++];

        if ((err = get_dup(&s, &cf->name)) != TR_OK ||
            (err = get_dup(&s, &cf->value)) != TR_OK ||
            (err = tr_proto_get_bool(&s, &cf->read_only)) != TR_OK) {
            goto bad;
        }
        if (cf->name == NULL) {
            err = TR_ERR_CORRUPT;
            goto bad;
        }
        if (v == 0) {
            if ((err = tr_proto_get_bool(&s, &cf->is_default)) != TR_OK) {
                goto bad;
            }
            cf->source = cf->is_default ? 5 : 4;
        } else {
            if ((err = tr_slice_get_i8(&s, &source)) != TR_OK) {
                goto bad;
            }
            cf->is_default = source == 5;
            cf->source = source;
        }
        if ((err = tr_proto_get_bool(&s, &cf->sensitive)) != TR_OK) {
            goto bad;
        }
        if (v >= 1) {
            if ((err = tr_proto_get_array_len_v(&s, 0, &nsyn, 5, MAX_ITEMS)) !=
                TR_OK) {
                goto bad;
            }
            for (j = 0; j < nsyn; j++) {
                if ((err = tr_proto_get_string(&s, &str)) != TR_OK ||
                    (err = tr_proto_get_string(&s, &str)) != TR_OK ||
                    (err = tr_slice_get_i8(&s, &source)) != TR_OK) {
                    goto bad;
                }
            }
        }
        if (v >= 3) {
            if ((err = tr_slice_get_i8(&s, &ctype)) != TR_OK ||
                (err = tr_proto_get_string(&s, &str)) != TR_OK) {
                goto bad;
            }
        }
    }
    qsort(cfgs, count, sizeof(*cfgs), config_cmp);
    *out = cfgs;
    *n = count;
    cfgs = NULL;
    count = 0;
    err = TR_OK;
    goto out;
bad:
    bad_response("DescribeConfigs", err, errbuf, errlen);
out:
    tr_admin_configs_free(cfgs, count);
    tr_buf_cleanup(&resp);
    return err;
}

void
tr_admin_configs_free(struct tr_admin_config *cfgs, size_t n)
{
    size_t i;

    if (cfgs == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        tr_free(cfgs[i].name);
        tr_free(cfgs[i].value);
    }
    tr_free(cfgs);
}

struct ac_req {
    int8_t type;
    const char *name;
    const char *const *kv;
    size_t n;
    int incremental;
    const struct tr_admin_config *current; /* AlterConfigs: kept values */
    size_t ncurrent;
};

static int
kv_names(const char *kv, const char *name)
{
    size_t len = strcspn(kv, "=");

    return strlen(name) == len && strncmp(kv, name, len) == 0;
}

static void
put_kv(struct tr_buf *b, const char *kv, int incremental)
{
    const char *eq = strchr(kv, '=');
    int del = eq == NULL || eq[1] == '\0';

    tr_proto_put_string_v(
        b, 0, kv, (int32_t)(eq ? (size_t)(eq - kv) : strlen(kv))); /* Name */
    if (incremental) {
        tr_buf_put_i8(b, del ? 1 : 0); /* ConfigOperation: SET 0, DELETE 1 */
    }
    tr_proto_put_cstring_v(b, 0, del ? NULL : eq + 1); /* Value */
}

static tr_err_t
ac_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct ac_req *r = arg;
    size_t i, j, of_count;
    int32_t count = 0;

    (void)version;
    tr_proto_put_array_len_v(b, 0, 1);     /* Resources */
    tr_buf_put_i8(b, r->type);             /* ResourceType */
    tr_proto_put_cstring_v(b, 0, r->name); /* ResourceName */
    of_count = tr_buf_put_i32(b, 0);       /* Configs */
    for (i = 0; i < r->n; i++) {
        const char *eq = strchr(r->kv[i], '=');

        if (!r->incremental && (eq == NULL || eq[1] == '\0')) {
            continue; /* a delete: just leave it out */
        }
        put_kv(b, r->kv[i], r->incremental);
        count++;
    }
    for (i = 0; !r->incremental && i < r->ncurrent; i++) {
        const struct tr_admin_config *cf = &r->current[i];

        if (cf->is_default || cf->read_only || cf->value == NULL) {
            continue;
        }
        for (j = 0; j < r->n && !kv_names(r->kv[j], cf->name); j++) {
        }
        if (j < r->n) {
            continue;
        }
        tr_proto_put_cstring_v(b, 0, cf->name);  /* Name */
        tr_proto_put_cstring_v(b, 0, cf->value); /* Value */
        count++;
    }
    tr_buf_set_i32(b, of_count, count);
    tr_proto_put_bool(b, 0); /* ValidateOnly */
    return tr_buf_err(b);
}

tr_err_t
tr_admin_alter_configs(struct tr_admin *a, int8_t type, const char *name,
                       const char *const *kv, size_t n, int16_t *kerr,
                       char *msg, size_t msglen, char *errbuf, size_t errlen)
{
    struct ac_req r = { type, name, kv, n, 1, NULL, 0 };
    struct tr_admin_config *current = NULL;
    size_t ncurrent = 0;
    struct tr_conn *conn;
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, nres;
    int16_t v, api = TR_API_INCREMENTAL_ALTER_CONFIGS;
    tr_err_t err = TR_ERR_IO;

    tr_buf_init(&resp, SIZE_MAX);
    if (msg != NULL && msglen > 0) {
        msg[0] = '\0';
    }
    conn = wait_conn(a, config_node(type, name), errbuf, errlen);
    if (conn == NULL) {
        goto out;
    }
    if (tr_conn_api_version(conn, api, 0, 0) < 0) {
        api = TR_API_ALTER_CONFIGS;
        r.incremental = 0;
        err = tr_admin_describe_configs(a, type, name, &current, &ncurrent,
                                        kerr, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        r.current = current;
        r.ncurrent = ncurrent;
    }
    tr_buf_cleanup(&resp);
    err = tr_admin_call(a, config_node(type, name), api, 0,
                        api == TR_API_ALTER_CONFIGS ? 1 : 0, ac_encode, &r,
                        &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &nres, 4, MAX_ITEMS)) != TR_OK ||
        nres < 1 || (err = tr_slice_get_i16(kerr ? &s : &s, kerr)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response(tr_proto_api_name(api), err, errbuf, errlen);
        goto out;
    }
    {
        struct tr_str m;

        if (tr_proto_get_string(&s, &m) == TR_OK && m.len > 0 && msg != NULL) {
            snprintf(msg, msglen, "%.*s", (int)m.len, m.ptr);
        }
    }
out:
    tr_admin_configs_free(current, ncurrent);
    tr_buf_cleanup(&resp);
    return err;
}

/* Groups. */

static tr_err_t
lg_encode(struct tr_buf *b, int16_t version, void *arg)
{
    (void)version;
    (void)arg;
    return tr_buf_err(b); /* no fields before v4 */
}

static int
group_cmp(const void *x, const void *y)
{
    const struct tr_admin_group *a = x, *b = y;

    return strcmp(a->id, b->id);
}

tr_err_t
tr_admin_list_groups(struct tr_admin *a, struct tr_admin_group **out, size_t *n,
                     char *errbuf, size_t errlen)
{
    struct tr_admin_metadata *md = NULL;
    struct tr_admin_group *gs = NULL, *grown;
    size_t count = 0, b, k;
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, ng, i;
    int16_t v, kerr;
    tr_err_t err;

    *out = NULL;
    *n = 0;
    tr_buf_init(&resp, SIZE_MAX);
    err = tr_admin_metadata(a, NULL, 0, &md, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    gs = tr_calloc(1, sizeof(*gs));
    if (gs == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (b = 0; b < md->nbrokers; b++) {
        tr_buf_cleanup(&resp);
        err = tr_admin_call(a, md->brokers[b].id, TR_API_LIST_GROUPS, 0, 2,
                            lg_encode, NULL, &resp, &v, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
        if ((v >= 1 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
            (err = tr_slice_get_i16(&s, &kerr)) != TR_OK ||
            (err = tr_proto_get_array_len_v(&s, 0, &ng, 4, MAX_ITEMS)) !=
                TR_OK) {
            goto bad;
        }
        if (kerr != 0) {
            snprintf(errbuf, errlen, "ListGroups failed on broker %d: %s",
                     (int)md->brokers[b].id, tr_admin_kerr_name(kerr));
            err = TR_ERR_INVALID;
            goto out;
        }
        grown = tr_realloc(gs, (count + (size_t)ng + 1) * sizeof(*gs));
        if (grown == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        gs = grown;
        for (i = 0; i < ng; i++) {
            struct tr_admin_group *g = &gs[count];

            memset(g, 0, sizeof(*g));
            count++;
            if ((err = get_dup(&s, &g->id)) != TR_OK ||
                (err = get_dup(&s, &g->protocol_type)) != TR_OK) {
                goto bad;
            }
            if (g->id == NULL) {
                err = TR_ERR_CORRUPT;
                goto bad;
            }
        }
    }
    for (k = 0; k < count; k++) {
        if (gs[k].id == NULL) {
            err = TR_ERR_CORRUPT;
            goto bad;
        }
    }
    qsort(gs, count, sizeof(*gs), group_cmp);
    *out = gs;
    *n = count;
    gs = NULL;
    count = 0;
    err = TR_OK;
    goto out;
bad:
    bad_response("ListGroups", err, errbuf, errlen);
out:
    tr_admin_groups_free(gs, count);
    tr_admin_metadata_free(md);
    tr_buf_cleanup(&resp);
    return err;
}

static tr_err_t
fc_encode(struct tr_buf *b, int16_t version, void *arg)
{
    tr_proto_put_cstring_v(b, 0, arg); /* Key */
    if (version >= 1) {
        tr_buf_put_i8(b, 0); /* KeyType: group */
    }
    return tr_buf_err(b);
}

tr_err_t
tr_admin_find_coordinator(struct tr_admin *a, const char *group, int32_t *node,
                          char *errbuf, size_t errlen)
{
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str str;
    int32_t throttle;
    int16_t v, kerr;
    int attempt;
    tr_err_t err = TR_ERR_IO;

    tr_buf_init(&resp, SIZE_MAX);
    for (attempt = 0; attempt < 20; attempt++) {
        tr_buf_cleanup(&resp);
        err = tr_admin_call(a, -1, TR_API_FIND_COORDINATOR, 0, 2, fc_encode,
                            (void *)group, &resp, &v, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
        if ((v >= 1 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
            (err = tr_slice_get_i16(&s, &kerr)) != TR_OK ||
            (v >= 1 && (err = tr_proto_get_string(&s, &str)) != TR_OK) ||
            (err = tr_slice_get_i32(&s, node)) != TR_OK) {
            bad_response("FindCoordinator", err, errbuf, errlen);
            goto out;
        }
        if (kerr == 0) {
            goto out;
        }
        if (kerr != TR_KERR_COORDINATOR_NOT_AVAILABLE &&
            kerr != TR_KERR_COORDINATOR_LOAD_IN_PROGRESS) {
            snprintf(errbuf, errlen, "FindCoordinator for group %s: %s", group,
                     tr_admin_kerr_name(kerr));
            err = TR_ERR_INVALID;
            goto out;
        }
        run_once(a);
    }
    snprintf(errbuf, errlen, "no coordinator for group %s; retry later", group);
    err = TR_ERR_TIMEOUT;
out:
    tr_buf_cleanup(&resp);
    return err;
}

static tr_err_t
dg_encode(struct tr_buf *b, int16_t version, void *arg)
{
    tr_proto_put_array_len_v(b, 0, 1); /* Groups */
    tr_proto_put_cstring_v(b, 0, arg);
    if (version >= 3) {
        tr_proto_put_bool(b, 0); /* IncludeAuthorizedOperations */
    }
    return tr_buf_err(b);
}

struct tp_list {
    struct tr_admin_tp *tps;
    size_t n;
};

static tr_err_t
tp_add_cb(const struct tr_str *topic, int32_t partition, void *arg)
{
    struct tp_list *l = arg;
    struct tr_admin_tp *grown;

    grown = tr_realloc(l->tps, (l->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        return TR_ERR_NOMEM;
    }
    l->tps = grown;
    l->tps[l->n].topic = dup_str(topic);
    if (l->tps[l->n].topic == NULL) {
        return TR_ERR_NOMEM;
    }
    l->tps[l->n].partition = partition;
    l->tps[l->n].offset = -1;
    l->n++;
    return TR_OK;
}

tr_err_t
tr_admin_describe_group(struct tr_admin *a, const char *group,
                        struct tr_admin_group **out, char *errbuf,
                        size_t errlen)
{
    struct tr_admin_group *g = NULL;
    struct tr_buf resp;
    struct tr_slice s, as;
    struct tr_str str, assignment;
    int32_t throttle, ng, nm, i, node, ops;
    int16_t v;
    tr_err_t err;

    *out = NULL;
    tr_buf_init(&resp, SIZE_MAX);
    err = tr_admin_find_coordinator(a, group, &node, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_admin_call(a, node, TR_API_DESCRIBE_GROUPS, 0, 4, dg_encode,
                        (void *)group, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    g = tr_calloc(1, sizeof(*g));
    if (g == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 1 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &ng, 4, MAX_ITEMS)) != TR_OK ||
        ng < 1 || (err = tr_slice_get_i16(&s, &g->err)) != TR_OK ||
        (err = get_dup(&s, &g->id)) != TR_OK ||
        (err = get_dup(&s, &g->state)) != TR_OK ||
        (err = get_dup(&s, &g->protocol_type)) != TR_OK ||
        (err = get_dup(&s, &g->protocol)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &nm, 4, MAX_ITEMS)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        goto bad;
    }
    g->members = tr_calloc((size_t)(nm > 0 ? nm : 0) + 1, sizeof(*g->members));
    if (g->members == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < nm; i++) {
        struct tr_admin_member *m = &g->members[g->nmembers++];
        struct tp_list l = { NULL, 0 };

        if ((err = get_dup(&s, &m->id)) != TR_OK ||
            (v >= 4 && (err = tr_proto_get_string(&s, &str)) != TR_OK) ||
            (err = get_dup(&s, &m->client_id)) != TR_OK ||
            (err = get_dup(&s, &m->client_host)) != TR_OK ||
            (err = tr_proto_get_bytes(&s, &str)) != TR_OK ||
            (err = tr_proto_get_bytes(&s, &assignment)) != TR_OK) {
            goto bad;
        }
        if (g->protocol_type != NULL &&
            strcmp(g->protocol_type, "consumer") == 0 && assignment.len > 0) {
            tr_slice_init(&as, assignment.ptr, (size_t)assignment.len);
            err = tr_consumer_assignment_decode(&as, tp_add_cb, &l);
            m->assigned = l.tps;
            m->nassigned = l.n;
            if (err == TR_ERR_NOMEM) {
                goto out;
            }
        }
    }
    if (v >= 3 && (err = tr_slice_get_i32(&s, &ops)) != TR_OK) {
        goto bad;
    }
    *out = g;
    g = NULL;
    err = TR_OK;
    goto out;
bad:
    bad_response("DescribeGroups", err, errbuf, errlen);
out:
    tr_admin_groups_free(g, 1);
    tr_buf_cleanup(&resp);
    return err;
}

void
tr_admin_groups_free(struct tr_admin_group *g, size_t n)
{
    size_t i, j;

    if (g == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < g[i].nmembers; j++) {
            tr_admin_tps_free(g[i].members[j].assigned,
                              g[i].members[j].nassigned);
            tr_free(g[i].members[j].id);
            tr_free(g[i].members[j].client_id);
            tr_free(g[i].members[j].client_host);
        }
        tr_free(g[i].members);
        tr_free(g[i].id);
        tr_free(g[i].protocol_type);
        tr_free(g[i].state);
        tr_free(g[i].protocol);
    }
    tr_free(g);
}

void
tr_admin_tps_free(struct tr_admin_tp *tps, size_t n)
{
    size_t i;

    if (tps == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        tr_free(tps[i].topic);
    }
    tr_free(tps);
}

struct of_req {
    const char *group;
    const char *topic;
    int32_t nparts;
};

static tr_err_t
of_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct of_req *r = arg;
    int32_t i;

    (void)version;
    tr_proto_put_cstring_v(b, 0, r->group); /* GroupId */
    if (r->topic == NULL) {
        tr_proto_put_array_len_v(b, 0, -1); /* Topics: all */
    } else {
        tr_proto_put_array_len_v(b, 0, 1);         /* Topics */
        tr_proto_put_cstring_v(b, 0, r->topic);    /* Name */
        tr_proto_put_array_len_v(b, 0, r->nparts); /* PartitionIndexes */
        for (i = 0; i < r->nparts; i++) {
            tr_buf_put_i32(b, i);
        }
    }
    return tr_buf_err(b);
}

static int
tp_cmp(const void *x, const void *y)
{
    const struct tr_admin_tp *a = x, *b = y;
    int d = strcmp(a->topic, b->topic);

    if (d != 0) {
        return d;
    }
    return a->partition < b->partition ? -1 : a->partition > b->partition;
}

tr_err_t
tr_admin_fetch_offsets(struct tr_admin *a, const char *group, const char *topic,
                       int32_t nparts, struct tr_admin_tp **out, size_t *n,
                       int16_t *kerr, char *errbuf, size_t errlen)
{
    struct of_req r = { group, topic, nparts };
    struct tp_list l = { NULL, 0 };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str name, meta;
    int32_t throttle, nt, np, ti, pi, part, epoch, node;
    int64_t offset;
    int16_t v, perr;
    tr_err_t err;

    *out = NULL;
    *n = 0;
    *kerr = 0;
    tr_buf_init(&resp, SIZE_MAX);
    err = tr_admin_find_coordinator(a, group, &node, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_admin_call(a, node, TR_API_OFFSET_FETCH, topic ? 1 : 2, 5,
                        of_encode, &r, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 3 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &nt, 6, MAX_ITEMS)) != TR_OK) {
        goto bad;
    }
    for (ti = 0; ti < nt; ti++) {
        if ((err = tr_proto_get_string(&s, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(&s, 0, &np, 16, MAX_ITEMS)) !=
                TR_OK) {
            goto bad;
        }
        for (pi = 0; pi < np; pi++) {
            if ((err = tr_slice_get_i32(&s, &part)) != TR_OK ||
                (err = tr_slice_get_i64(&s, &offset)) != TR_OK ||
                (v >= 5 && (err = tr_slice_get_i32(&s, &epoch)) != TR_OK) ||
                (err = tr_proto_get_string(&s, &meta)) != TR_OK ||
                (err = tr_slice_get_i16(&s, &perr)) != TR_OK) {
                goto bad;
            }
            if (perr != 0 && *kerr == 0) {
                *kerr = perr;
            }
            if ((err = tp_add_cb(&name, part, &l)) != TR_OK) {
                goto out;
            }
            l.tps[l.n - 1].offset = perr == 0 ? offset : -1;
        }
    }
    if (v >= 2) {
        if ((err = tr_slice_get_i16(&s, &perr)) != TR_OK) {
            goto bad;
        }
        if (perr != 0) {
            *kerr = perr;
        }
    }
    if (l.n > 0) {
        qsort(l.tps, l.n, sizeof(*l.tps), tp_cmp);
    }
    *out = l.tps;
    *n = l.n;
    l.tps = NULL;
    l.n = 0;
    err = TR_OK;
    goto out;
bad:
    bad_response("OffsetFetch", err, errbuf, errlen);
out:
    tr_admin_tps_free(l.tps, l.n);
    tr_buf_cleanup(&resp);
    return err;
}

struct oc_req {
    const char *group;
    const struct tr_admin_tp *tps;
    size_t n;
};

static tr_err_t
oc_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct oc_req *r = arg;
    size_t i, j, nt = 0, of_count;

    tr_proto_put_cstring_v(b, 0, r->group); /* GroupId */
    tr_buf_put_i32(b, -1);                  /* GenerationIdOrMemberEpoch */
    tr_proto_put_cstring_v(b, 0, "");       /* MemberId */
    if (version >= 7) {
        tr_proto_put_cstring_v(b, 0, NULL); /* GroupInstanceId */
    }
    if (version <= 4) {
        tr_buf_put_i64(b, -1); /* RetentionTimeMs */
    }
    for (i = 0; i < r->n; i++) {
        nt += i == 0 || strcmp(r->tps[i].topic, r->tps[i - 1].topic) != 0;
    }
    tr_proto_put_array_len_v(b, 0, (int32_t)nt); /* Topics */
    for (i = 0; i < r->n; i = j) {
        tr_proto_put_cstring_v(b, 0, r->tps[i].topic); /* Name */
        of_count = tr_buf_put_i32(b, 0);               /* Partitions */
        for (j = i; j < r->n && strcmp(r->tps[j].topic, r->tps[i].topic) == 0;
             j++) {
            tr_buf_put_i32(b, r->tps[j].partition); /* PartitionIndex */
            tr_buf_put_i64(b, r->tps[j].offset);    /* CommittedOffset */
            if (version >= 6) {
                tr_buf_put_i32(b, -1); /* CommittedLeaderEpoch */
            }
            tr_proto_put_cstring_v(b, 0, ""); /* CommittedMetadata */
        }
        tr_buf_set_i32(b, of_count, (int32_t)(j - i));
    }
    return tr_buf_err(b);
}

tr_err_t
tr_admin_commit_offsets(struct tr_admin *a, const char *group,
                        const struct tr_admin_tp *tps, size_t n, int16_t *kerr,
                        char *errbuf, size_t errlen)
{
    struct oc_req r = { group, tps, n };
    struct tr_buf resp;
    struct tr_slice s;
    struct tr_str name;
    int32_t throttle, nt, np, ti, pi, part, node;
    int16_t v, perr;
    tr_err_t err;

    *kerr = 0;
    tr_buf_init(&resp, SIZE_MAX);
    err = tr_admin_find_coordinator(a, group, &node, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_admin_call(a, node, TR_API_OFFSET_COMMIT, 2, 7, oc_encode, &r,
                        &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((v >= 3 && (err = tr_slice_get_i32(&s, &throttle)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(&s, 0, &nt, 6, MAX_ITEMS)) != TR_OK) {
        goto bad;
    }
    for (ti = 0; ti < nt; ti++) {
        if ((err = tr_proto_get_string(&s, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(&s, 0, &np, 6, MAX_ITEMS)) !=
                TR_OK) {
            goto bad;
        }
        for (pi = 0; pi < np; pi++) {
            if ((err = tr_slice_get_i32(&s, &part)) != TR_OK ||
                (err = tr_slice_get_i16(&s, &perr)) != TR_OK) {
                goto bad;
            }
            if (perr != 0 && *kerr == 0) {
                *kerr = perr;
            }
        }
    }
    err = TR_OK;
    goto out;
bad:
    bad_response("OffsetCommit", err, errbuf, errlen);
out:
    tr_buf_cleanup(&resp);
    return err;
}

static tr_err_t
del_encode(struct tr_buf *b, int16_t version, void *arg)
{
    (void)version;
    tr_proto_put_array_len_v(b, 0, 1); /* GroupsNames */
    tr_proto_put_cstring_v(b, 0, arg);
    return tr_buf_err(b);
}

tr_err_t
tr_admin_delete_group(struct tr_admin *a, const char *group, int16_t *kerr,
                      char *errbuf, size_t errlen)
{
    struct tr_buf resp;
    struct tr_slice s;
    int32_t throttle, n, node;
    int16_t v;
    tr_err_t err;

    tr_buf_init(&resp, SIZE_MAX);
    err = tr_admin_find_coordinator(a, group, &node, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    err = tr_admin_call(a, node, TR_API_DELETE_GROUPS, 0, 1, del_encode,
                        (void *)group, &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    if ((err = tr_slice_get_i32(&s, &throttle)) != TR_OK ||
        (err = tr_proto_get_array_len_v(&s, 0, &n, 4, MAX_ITEMS)) != TR_OK ||
        n < 1 || (err = get_result(&s, 0, kerr, NULL, 0)) != TR_OK) {
        if (err == TR_OK) {
            err = TR_ERR_CORRUPT;
        }
        bad_response("DeleteGroups", err, errbuf, errlen);
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

/* Log dirs. */

tr_err_t
tr_admin_log_dirs_encode(struct tr_buf *b, int16_t version,
                         const char *const *topics, const int32_t *nparts,
                         size_t n)
{
    int flex = version >= 2;
    size_t i;
    int32_t p, np;

    if (n > MAX_ITEMS) {
        return TR_ERR_TOO_LARGE;
    }
    /* Topics: null asks for every topic the broker holds. */
    tr_proto_put_array_len_v(b, flex, topics == NULL ? -1 : (int32_t)n);
    for (i = 0; topics != NULL && i < n; i++) {
        np = nparts[i] > 0 ? nparts[i] : 0;
        tr_proto_put_cstring_v(b, flex, topics[i]); /* Topic */
        tr_proto_put_array_len_v(b, flex, np);      /* Partitions */
        for (p = 0; p < np; p++) {
            tr_buf_put_i32(b, p);
        }
        tr_proto_put_tags_v(b, flex);
    }
    tr_proto_put_tags_v(b, flex);
    return tr_buf_err(b);
}

/* One LogDir result's Topics, flattened into dir->parts. */
static tr_err_t
get_log_dir_topics(struct tr_slice *s, int flex, struct tr_admin_log_dir *dir)
{
    struct tr_admin_log_dir_part *pp;
    struct tr_str name;
    int32_t ntopics, np, t, p;
    size_t cap = 0;
    tr_err_t err;

    /* A topic takes at least 6 bytes (3 compact); a partition 21 (22). */
    err = tr_proto_get_array_len_v(s, flex, &ntopics, flex ? 3 : 6, MAX_ITEMS);
    if (err != TR_OK) {
        return err;
    }
    for (t = 0; t < ntopics; t++) {
        if ((err = tr_proto_get_string_v(s, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(s, flex, &np, flex ? 22 : 21,
                                            MAX_ITEMS)) != TR_OK) {
            return err;
        }
        if (name.len < 0) {
            return TR_ERR_CORRUPT;
        }
        if (np > 0 &&
            tr_array_reserve(&dir->parts, &cap, dir->nparts + (size_t)np,
                             sizeof(*dir->parts)) != TR_OK) {
            return TR_ERR_NOMEM;
        }
        for (p = 0; p < np; p++) {
            pp = &dir->parts[dir->nparts];
            memset(pp, 0, sizeof(*pp));
            if ((err = tr_slice_get_i32(s, &pp->partition)) != TR_OK ||
                (err = tr_slice_get_i64(s, &pp->size)) != TR_OK ||
                (err = tr_slice_get_i64(s, &pp->offset_lag)) != TR_OK ||
                (err = tr_proto_get_bool(s, &pp->is_future)) != TR_OK ||
                (flex && (err = tr_proto_skip_tags(s)) != TR_OK)) {
                return err;
            }
            pp->topic = dup_str(&name);
            if (pp->topic == NULL) {
                return TR_ERR_NOMEM;
            }
            dir->nparts++;
        }
        if (flex && (err = tr_proto_skip_tags(s)) != TR_OK) {
            return err;
        }
    }
    return TR_OK;
}

tr_err_t
tr_admin_log_dirs_decode(struct tr_slice *s, int16_t version,
                         struct tr_admin_log_dirs **out)
{
    struct tr_admin_log_dirs *d;
    struct tr_admin_log_dir *dir;
    struct tr_str path;
    int flex = version >= 2;
    int32_t throttle, nres, r;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    d = tr_calloc(1, sizeof(*d));
    if (d == NULL) {
        goto out;
    }
    /* A result takes at least 8 bytes (5 compact). */
    if ((err = tr_slice_get_i32(s, &throttle)) != TR_OK ||
        (version >= 3 && (err = tr_slice_get_i16(s, &d->err)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(s, flex, &nres, flex ? 5 : 8,
                                        MAX_ITEMS)) != TR_OK) {
        goto out;
    }
    if (nres > 0) {
        d->dirs = tr_calloc((size_t)nres, sizeof(*d->dirs));
        if (d->dirs == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
    }
    for (r = 0; r < nres; r++) {
        dir = &d->dirs[d->ndirs++];
        dir->total_bytes = -1;
        dir->usable_bytes = -1;
        if ((err = tr_slice_get_i16(s, &dir->err)) != TR_OK ||
            (err = tr_proto_get_string_v(s, flex, &path)) != TR_OK) {
            goto out;
        }
        if (path.len < 0) {
            err = TR_ERR_CORRUPT;
            goto out;
        }
        dir->path = dup_str(&path);
        if (dir->path == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        if ((err = get_log_dir_topics(s, flex, dir)) != TR_OK ||
            (version >= 4 &&
             ((err = tr_slice_get_i64(s, &dir->total_bytes)) != TR_OK ||
              (err = tr_slice_get_i64(s, &dir->usable_bytes)) != TR_OK)) ||
            (flex && (err = tr_proto_skip_tags(s)) != TR_OK)) {
            goto out;
        }
    }
    if (flex && (err = tr_proto_skip_tags(s)) != TR_OK) {
        goto out;
    }
    *out = d;
    d = NULL;
    err = TR_OK;
out:
    tr_admin_log_dirs_free(d);
    return err;
}

struct ld_req {
    const char *const *topics;
    const int32_t *nparts;
    size_t n;
};

static tr_err_t
ld_encode(struct tr_buf *b, int16_t version, void *arg)
{
    struct ld_req *r = arg;

    return tr_admin_log_dirs_encode(b, version, r->topics, r->nparts, r->n);
}

tr_err_t
tr_admin_describe_log_dirs(struct tr_admin *a, int32_t node,
                           const char *const *topics, const int32_t *nparts,
                           size_t n, struct tr_admin_log_dirs **out,
                           char *errbuf, size_t errlen)
{
    struct ld_req r = { topics, nparts, n };
    struct tr_buf resp;
    struct tr_slice s;
    int16_t v;
    tr_err_t err;

    *out = NULL;
    err = tr_admin_call(a, node, TR_API_DESCRIBE_LOG_DIRS, 0, 4, ld_encode, &r,
                        &resp, &v, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    tr_slice_init(&s, tr_buf_data(&resp), tr_buf_len(&resp));
    err = tr_admin_log_dirs_decode(&s, v, out);
    if (err != TR_OK) {
        bad_response("DescribeLogDirs", err, errbuf, errlen);
    }
out:
    tr_buf_cleanup(&resp);
    return err;
}

void
tr_admin_log_dirs_free(struct tr_admin_log_dirs *d)
{
    size_t i, j;

    if (d == NULL) {
        return;
    }
    for (i = 0; i < d->ndirs; i++) {
        for (j = 0; j < d->dirs[i].nparts; j++) {
            tr_free(d->dirs[i].parts[j].topic);
        }
        tr_free(d->dirs[i].parts);
        tr_free(d->dirs[i].path);
    }
    tr_free(d->dirs);
    tr_free(d);
}
