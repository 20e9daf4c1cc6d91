/*
 * rpc -- inter-broker requests and connections; see rpc.h.
 */
#include "rpc.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "peer.h"
#include "proto.h"

#define MAX_PARTS   1000000
#define MAX_BROKERS 10000

int
tr_rpc_has(const int32_t *ids, int32_t n, int32_t id)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        if (ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

static void
put_ids(struct tr_buf *out, const int32_t *ids, int32_t n)
{
    int32_t i;

    tr_buf_put_i32(out, n);
    for (i = 0; i < n; i++) {
        tr_buf_put_i32(out, ids[i]);
    }
}

static tr_err_t
get_ids(struct tr_slice *in, int32_t *ids, int32_t *n)
{
    int32_t count, i;
    tr_err_t err;

    err = tr_proto_get_array_len_v(in, 0, &count, 4, TR_MAX_REPLICAS);
    if (err != TR_OK) {
        return err;
    }
    if (count < 0) {
        count = 0;
    }
    for (i = 0; i < count; i++) {
        err = tr_slice_get_i32(in, &ids[i]);
        if (err != TR_OK) {
            return err;
        }
    }
    *n = count;
    return TR_OK;
}

void
tr_rpc_state_encode(struct tr_buf *out, int16_t api_key,
                    const struct tr_state_msg *m)
{
    size_t i;
    int lai = api_key == TR_API_LEADER_AND_ISR;

    tr_buf_put_i32(out, m->controller_id);
    tr_buf_put_i32(out, m->controller_epoch);
    tr_buf_put_i32(out, (int32_t)m->nparts);
    for (i = 0; i < m->nparts; i++) {
        const struct tr_pstate *p = &m->parts[i];

        tr_proto_put_cstring_v(out, 0, p->topic);
        tr_buf_put_i32(out, p->partition);
        tr_buf_put_i32(out, p->controller_epoch);
        tr_buf_put_i32(out, p->leader);
        tr_buf_put_i32(out, p->leader_epoch);
        put_ids(out, p->isr, p->nisr);
        tr_buf_put_i32(out, p->zk_version);
        put_ids(out, p->replicas, p->nreplicas);
        if (lai) {
            tr_proto_put_bool(out, 0); /* IsNew */
        } else {
            put_ids(out, p->offline, p->noffline);
        }
    }
    tr_buf_put_i32(out, (int32_t)m->nbrokers);
    for (i = 0; i < m->nbrokers; i++) {
        const struct tr_broker_info *b = &m->brokers[i];

        tr_buf_put_i32(out, b->id);
        if (lai) {
            tr_proto_put_cstring_v(out, 0, b->host);
            tr_buf_put_i32(out, b->port);
        } else if (b->nendpoints == 0) {
            /* Known only by its address: PLAINTEXT, as Kafka 0.10 was. */
            tr_buf_put_i32(out, 1);
            tr_buf_put_i32(out, b->port);
            tr_proto_put_cstring_v(out, 0, b->host);
            tr_proto_put_cstring_v(out, 0, "PLAINTEXT");
            tr_buf_put_i16(out, TR_SEC_PLAINTEXT);
            tr_proto_put_cstring_v(out, 0, b->rack[0] ? b->rack : NULL);
        } else {
            int32_t j;

            tr_buf_put_i32(out, b->nendpoints);
            for (j = 0; j < b->nendpoints; j++) {
                const struct tr_listener_spec *e = &b->endpoints[j];

                tr_buf_put_i32(out, e->port);
                tr_proto_put_cstring_v(out, 0, e->host);
                tr_proto_put_cstring_v(out, 0, e->name);
                /* Kafka's SecurityProtocol ids follow the same order. */
                tr_buf_put_i16(out, (int16_t)e->protocol);
            }
            tr_proto_put_cstring_v(out, 0, b->rack[0] ? b->rack : NULL);
        }
    }
}

tr_err_t
tr_rpc_state_decode(struct tr_slice *in, int16_t api_key,
                    struct tr_state_msg *m)
{
    int lai = api_key == TR_API_LEADER_AND_ISR;
    int32_t n, i, ne, j;
    struct tr_str s;
    tr_err_t err;

    memset(m, 0, sizeof(*m));
    if ((err = tr_slice_get_i32(in, &m->controller_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &m->controller_epoch)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &n, 30, MAX_PARTS)) != TR_OK) {
        goto fail;
    }
    if (n > 0) {
        m->parts = tr_calloc((size_t)n, sizeof(*m->parts));
        if (m->parts == NULL) {
            err = TR_ERR_NOMEM;
            goto fail;
        }
    }
    for (i = 0; i < n; i++) {
        struct tr_pstate *p = &m->parts[i];
        int is_new;

        if ((err = tr_proto_get_string(in, &s)) != TR_OK ||
            (err = tr_str_copy(&s, p->topic, sizeof(p->topic))) != TR_OK ||
            (err = tr_slice_get_i32(in, &p->partition)) != TR_OK ||
            (err = tr_slice_get_i32(in, &p->controller_epoch)) != TR_OK ||
            (err = tr_slice_get_i32(in, &p->leader)) != TR_OK ||
            (err = tr_slice_get_i32(in, &p->leader_epoch)) != TR_OK ||
            (err = get_ids(in, p->isr, &p->nisr)) != TR_OK ||
            (err = tr_slice_get_i32(in, &p->zk_version)) != TR_OK ||
            (err = get_ids(in, p->replicas, &p->nreplicas)) != TR_OK) {
            goto fail;
        }
        err = lai ? tr_proto_get_bool(in, &is_new)
                  : get_ids(in, p->offline, &p->noffline);
        if (err != TR_OK) {
            goto fail;
        }
        m->nparts++;
    }
    if ((err = tr_proto_get_array_len_v(in, 0, &n, 8, MAX_BROKERS)) != TR_OK) {
        goto fail;
    }
    if (n > 0) {
        m->brokers = tr_calloc((size_t)n, sizeof(*m->brokers));
        if (m->brokers == NULL) {
            err = TR_ERR_NOMEM;
            goto fail;
        }
    }
    for (i = 0; i < n; i++) {
        struct tr_broker_info *b = &m->brokers[i];

        if ((err = tr_slice_get_i32(in, &b->id)) != TR_OK) {
            goto fail;
        }
        if (lai) {
            if ((err = tr_proto_get_string(in, &s)) != TR_OK ||
                (err = tr_str_copy(&s, b->host, sizeof(b->host))) != TR_OK ||
                (err = tr_slice_get_i32(in, &b->port)) != TR_OK) {
                goto fail;
            }
        } else {
            if ((err = tr_proto_get_array_len_v(in, 0, &ne, 12, 16)) != TR_OK) {
                goto fail;
            }
            for (j = 0; j < ne; j++) {
                int32_t port;
                int16_t proto;
                struct tr_str host, listener;

                if ((err = tr_slice_get_i32(in, &port)) != TR_OK ||
                    (err = tr_proto_get_string(in, &host)) != TR_OK ||
                    (err = tr_proto_get_string(in, &listener)) != TR_OK ||
                    (err = tr_slice_get_i16(in, &proto)) != TR_OK) {
                    goto fail;
                }
                if (proto < TR_SEC_PLAINTEXT || proto > TR_SEC_SASL_SSL) {
                    err = TR_ERR_CORRUPT;
                    goto fail;
                }
                if (b->nendpoints < TR_LISTENERS_MAX) {
                    struct tr_listener_spec *e = &b->endpoints[b->nendpoints];

                    if ((err = tr_str_copy(&host, e->host, sizeof(e->host))) !=
                            TR_OK ||
                        (err = tr_str_copy(&listener, e->name,
                                           sizeof(e->name))) != TR_OK) {
                        goto fail;
                    }
                    e->port = port;
                    e->protocol = (enum tr_security_protocol)proto;
                    b->nendpoints++;
                }
            }
            /* Until the caller picks its inter-broker listener's. */
            (void)tr_rpc_use_endpoint(b, NULL);
            if ((err = tr_proto_get_string(in, &s)) != TR_OK) {
                goto fail;
            }
            if (s.len > 0 &&
                (err = tr_str_copy(&s, b->rack, sizeof(b->rack))) != TR_OK) {
                goto fail;
            }
        }
        m->nbrokers++;
    }
    return TR_OK;
fail:
    tr_rpc_state_free(m);
    return err == TR_ERR_TRUNCATED || err == TR_ERR_INVALID ? TR_ERR_CORRUPT
                                                            : err;
}

int
tr_rpc_endpoint(const struct tr_broker_info *b, const char *name,
                const char **host, int32_t *port)
{
    int32_t i;

    if (name == NULL) {
        *host = b->host;
        *port = b->port;
        return 1;
    }
    for (i = 0; i < b->nendpoints; i++) {
        if (strcasecmp(b->endpoints[i].name, name) == 0) {
            *host = b->endpoints[i].host;
            *port = b->endpoints[i].port;
            return 1;
        }
    }
    return 0;
}

int
tr_rpc_use_endpoint(struct tr_broker_info *b, const char *name)
{
    int32_t i;

    for (i = 0; i < b->nendpoints; i++) {
        if (name == NULL || strcasecmp(b->endpoints[i].name, name) == 0) {
            snprintf(b->host, sizeof(b->host), "%s", b->endpoints[i].host);
            b->port = b->endpoints[i].port;
            return 1;
        }
    }
    return 0;
}

void
tr_rpc_state_free(struct tr_state_msg *m)
{
    tr_free(m->parts);
    tr_free(m->brokers);
    m->parts = NULL;
    m->brokers = NULL;
    m->nparts = m->nbrokers = 0;
}

void
tr_rpc_stop_encode(struct tr_buf *out, const struct tr_stop_msg *m)
{
    size_t i;

    tr_buf_put_i32(out, m->controller_id);
    tr_buf_put_i32(out, m->controller_epoch);
    tr_buf_put_i64(out, -1); /* BrokerEpoch: not tracked */
    tr_proto_put_bool(out, m->delete_partitions);
    /* One topic entry per partition: simple, and valid for any reader. */
    tr_buf_put_i32(out, (int32_t)m->nparts);
    for (i = 0; i < m->nparts; i++) {
        tr_proto_put_cstring_v(out, 0, m->parts[i].topic);
        tr_buf_put_i32(out, 1);
        tr_buf_put_i32(out, m->parts[i].partition);
    }
}

tr_err_t
tr_rpc_stop_decode(struct tr_slice *in, struct tr_stop_msg *m)
{
    int32_t nt, np, t, p;
    int64_t broker_epoch;
    struct tr_str name;
    size_t cap = 0;
    tr_err_t err;

    memset(m, 0, sizeof(*m));
    if ((err = tr_slice_get_i32(in, &m->controller_id)) != TR_OK ||
        (err = tr_slice_get_i32(in, &m->controller_epoch)) != TR_OK ||
        (err = tr_slice_get_i64(in, &broker_epoch)) != TR_OK ||
        (err = tr_proto_get_bool(in, &m->delete_partitions)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 0, &nt, 6, MAX_PARTS)) != TR_OK) {
        goto fail;
    }
    for (t = 0; t < nt; t++) {
        if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &np, 4, MAX_PARTS)) !=
                TR_OK) {
            goto fail;
        }
        for (p = 0; p < np; p++) {
            struct tr_stop_part *sp;

            if (tr_array_reserve(&m->parts, &cap, m->nparts + 1,
                                 sizeof(*m->parts)) != TR_OK) {
                err = TR_ERR_NOMEM;
                goto fail;
            }
            sp = &m->parts[m->nparts];
            if ((err = tr_slice_get_i32(in, &sp->partition)) != TR_OK ||
                (err = tr_str_copy(&name, sp->topic, sizeof(sp->topic))) !=
                    TR_OK) {
                goto fail;
            }
            m->nparts++;
        }
    }
    return TR_OK;
fail:
    tr_rpc_stop_free(m);
    return err == TR_ERR_TRUNCATED || err == TR_ERR_INVALID ? TR_ERR_CORRUPT
                                                            : err;
}

void
tr_rpc_stop_free(struct tr_stop_msg *m)
{
    tr_free(m->parts);
    m->parts = NULL;
    m->nparts = 0;
}

void
tr_rpc_conn_init(struct tr_rpc_conn *c, const char *client_id,
                 const struct tr_peer *peer)
{
    memset(c, 0, sizeof(*c));
    c->link.fd = -1;
    c->peer = peer;
    snprintf(c->client_id, sizeof(c->client_id), "%s", client_id);
}

void
tr_rpc_conn_close(struct tr_rpc_conn *c)
{
    tr_peer_link_close(&c->link);
}

static tr_err_t
connect_to(struct tr_rpc_conn *c, const char *host, int port, int64_t deadline)
{
    struct addrinfo hints, *res = NULL;
    char portstr[16];
    int fd = -1, one = 1, soerr = 0;
    socklen_t sl = sizeof(soerr);
    tr_err_t err = TR_ERR_IO;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL) {
        goto out;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        goto out;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            goto out;
        }
        err = tr_peer_wait(fd, POLLOUT, deadline);
        if (err != TR_OK) {
            goto out;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
            soerr != 0) {
            err = TR_ERR_IO;
            goto out;
        }
    }
    c->link.fd = fd;
    fd = -1;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    err = TR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (res != NULL) {
        freeaddrinfo(res);
    }
    return err;
}

/*
 * One request and its response on the open link: the request 'body' of
 * (api_key, version), the response body (after the correlation id) into
 * 'resp', which is reset first.
 */
static tr_err_t
exchange(struct tr_rpc_conn *c, int16_t api_key, int16_t version,
         const struct tr_buf *body, struct tr_buf *resp, int64_t deadline)
{
    struct tr_buf req;
    uint8_t hdr[4];
    int32_t size, corr, want;
    tr_err_t err;

    tr_buf_reset(resp);
    tr_buf_init(&req, (size_t)INT32_MAX);
    tr_buf_put_i32(&req, 0);
    want = ++c->correlation_id;
    tr_proto_request_header_put(&req, api_key, version, want, c->client_id);
    tr_buf_put_bytes(&req, tr_buf_data(body), tr_buf_len(body));
    tr_buf_set_i32(&req, 0, (int32_t)(tr_buf_len(&req) - 4));
    err = tr_buf_err(&req);
    if (err == TR_OK) {
        err = tr_peer_write(&c->link, tr_buf_data(&req), tr_buf_len(&req),
                            deadline);
    }
    tr_buf_cleanup(&req);
    if (err == TR_OK) {
        err = tr_peer_read(&c->link, hdr, 4, deadline);
    }
    if (err == TR_OK) {
        size = tr_load_i32(hdr);
        if (size < 4 || size > 512 * 1024 * 1024) {
            err = TR_ERR_CORRUPT;
        }
    }
    if (err == TR_OK) {
        err = tr_peer_read(&c->link, hdr, 4, deadline);
        corr = tr_load_i32(hdr);
        if (err == TR_OK && corr != want) {
            err = TR_ERR_CORRUPT;
        }
    }
    if (err == TR_OK) {
        /* Straight into the response buffer: record bytes are copied once. */
        uint8_t *body_at = tr_buf_put_space(resp, (size_t)size - 4);

        err = body_at != NULL
                  ? tr_peer_read(&c->link, body_at, (size_t)size - 4, deadline)
                  : tr_buf_err(resp);
    }
    return err;
}

/*
 * Logs in with SASL (SaslHandshake v1, then SaslAuthenticate v1 per
 * token). A refusal is TR_ERR_INVALID with the peer's message in 'why'.
 */
static tr_err_t
sasl_login(struct tr_rpc_conn *c, int64_t deadline, char *why, size_t whylen)
{
    struct tr_peer_sasl sasl;
    struct tr_buf body, resp, token;
    struct tr_slice in;
    struct tr_str msg, auth;
    int16_t kerr;
    int done = 0;
    tr_err_t err;

    memset(&sasl, 0, sizeof(sasl));
    tr_buf_init(&body, 1 << 16);
    tr_buf_init(&resp, 1 << 16);
    tr_buf_init(&token, TR_SCRAM_MAX_MSG);
    tr_proto_put_cstring_v(&body, 0, tr_peer_mechanism(c->peer));
    err = exchange(c, TR_API_SASL_HANDSHAKE, 1, &body, &resp, deadline);
    if (err != TR_OK) {
        snprintf(why, whylen, "SaslHandshake: %s", tr_err_str(err));
        goto out;
    }
    tr_slice_init(&in, tr_buf_data(&resp), tr_buf_len(&resp));
    if (tr_slice_get_i16(&in, &kerr) != TR_OK || kerr != TR_KERR_NONE) {
        snprintf(why, whylen,
                 "SASL: the peer does not offer %s (SaslHandshake error %d; "
                 "see its sasl.enabled.mechanisms)",
                 tr_peer_mechanism(c->peer), (int)kerr);
        err = TR_ERR_UNSUPPORTED;
        goto out;
    }
    err = tr_peer_sasl_begin(c->peer, &sasl, &token);
    while (err == TR_OK && !done) {
        tr_buf_reset(&body);
        tr_proto_put_bytes_v(&body, 0, tr_buf_data(&token), tr_buf_len(&token));
        err = exchange(c, TR_API_SASL_AUTHENTICATE, 1, &body, &resp, deadline);
        if (err != TR_OK) {
            snprintf(why, whylen, "SaslAuthenticate: %s", tr_err_str(err));
            goto out;
        }
        tr_slice_init(&in, tr_buf_data(&resp), tr_buf_len(&resp));
        if (tr_slice_get_i16(&in, &kerr) != TR_OK ||
            tr_proto_get_string(&in, &msg) != TR_OK ||
            tr_proto_get_bytes(&in, &auth) != TR_OK) {
            snprintf(why, whylen, "SaslAuthenticate: a malformed answer");
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (kerr != TR_KERR_NONE) {
            snprintf(why, whylen, "SASL %s login as '%s' refused: %.*s",
                     tr_peer_mechanism(c->peer), tr_peer_user(c->peer),
                     msg.ptr != NULL ? (int)(msg.len > 200 ? 200 : msg.len) : 9,
                     msg.ptr != NULL ? msg.ptr : "no reason");
            err = TR_ERR_INVALID;
            goto out;
        }
        tr_buf_reset(&token);
        err = tr_peer_sasl_step(&sasl, (const uint8_t *)auth.ptr,
                                auth.len > 0 ? (size_t)auth.len : 0, &token,
                                &done);
    }
    if (err != TR_OK) {
        snprintf(why, whylen, "SASL %s: the peer's answer does not verify (%s)",
                 tr_peer_mechanism(c->peer), tr_err_str(err));
    }
out:
    tr_peer_sasl_end(&sasl);
    tr_buf_cleanup(&body);
    tr_buf_cleanup(&resp);
    tr_buf_cleanup(&token);
    return err;
}

/*
 * Logs a failure to secure a connection: at warning level when it is new
 * (or once a minute while it lasts), else at debug level, so a peer that
 * keeps refusing us does not flood the log.
 */
static void
report(struct tr_rpc_conn *c, const char *host, int port, const char *why)
{
    int64_t now = tr_clock_mono_ms();

    if (strcmp(c->last_failure, why) != 0 || now - c->last_report_ms >= 60000) {
        tr_log_warn("inter-broker connection to %s:%d (%s) failed: %s; "
                    "retrying in %d ms",
                    host, port, tr_peer_protocol_name(c->peer), why,
                    c->backoff_ms);
        snprintf(c->last_failure, sizeof(c->last_failure), "%s", why);
        c->last_report_ms = now;
    } else {
        tr_log_debug("inter-broker connection to %s:%d: %s", host, port, why);
    }
}

/* Connects, then TLS and SASL as the inter-broker listener wants. */
static tr_err_t
open_link(struct tr_rpc_conn *c, const char *host, int port, int64_t deadline)
{
    char why[512] = "";
    tr_err_t err;

    if (tr_clock_mono_ms() < c->retry_at_ms) {
        return TR_ERR_AGAIN; /* backing off after a refusal */
    }
    err = connect_to(c, host, port, deadline);
    if (err != TR_OK) {
        return err;
    }
    if (tr_peer_is_tls(c->peer)) {
        err = tr_peer_tls_connect(c->peer, &c->link, host, deadline, why,
                                  sizeof(why));
    }
    if (err == TR_OK && tr_peer_is_sasl(c->peer)) {
        err = sasl_login(c, deadline, why, sizeof(why));
    }
    if (err != TR_OK) {
        tr_rpc_conn_close(c);
        if (why[0] != '\0') {
            /* Refused, not merely unreachable: back off, up to 10 s. */
            c->backoff_ms = c->backoff_ms == 0      ? 250
                            : c->backoff_ms >= 5000 ? 10000
                                                    : c->backoff_ms * 2;
            c->retry_at_ms = tr_clock_mono_ms() + c->backoff_ms;
            report(c, host, port, why);
        }
        return err;
    }
    if (c->last_failure[0] != '\0') {
        tr_log_info("inter-broker connection to %s:%d (%s) established", host,
                    port, tr_peer_protocol_name(c->peer));
        c->last_failure[0] = '\0';
    }
    c->backoff_ms = 0;
    return TR_OK;
}

tr_err_t
tr_rpc_call(struct tr_rpc_conn *c, const char *host, int port, int16_t api_key,
            int16_t version, const struct tr_buf *body, struct tr_buf *resp,
            int timeout_ms)
{
    int64_t deadline = tr_clock_mono_ms() + timeout_ms;
    tr_err_t err;

    tr_buf_reset(resp);
    if (c->link.fd >= 0 && (c->port != port || strcmp(c->host, host) != 0)) {
        tr_rpc_conn_close(c);
    }
    if (c->link.fd < 0) {
        err = open_link(c, host, port, deadline);
        if (err != TR_OK) {
            return err;
        }
    }
    err = exchange(c, api_key, version, body, resp, deadline);
    if (err != TR_OK) {
        tr_rpc_conn_close(c);
    }
    return err;
}

/* ---- WriteTxnMarkers ------------------------------------------------------
 */

void
tr_rpc_markers_encode(struct tr_buf *out, const struct tr_rpc_marker *m)
{
    size_t i, j, ntopics = 0, of_topics;

    tr_buf_put_i32(out, 1); /* markers */
    tr_buf_put_i64(out, m->producer_id);
    tr_buf_put_i16(out, m->producer_epoch);
    tr_proto_put_bool(out, m->commit);
    of_topics = tr_buf_put_i32(out, 0);
    for (i = 0; i < m->ntps; i = j) {
        for (j = i;
             j < m->ntps && strcmp(m->tps[j].topic, m->tps[i].topic) == 0;
             j++) {
        }
        tr_proto_put_cstring_v(out, 0, m->tps[i].topic);
        tr_buf_put_i32(out, (int32_t)(j - i));
        for (; i < j; i++) {
            tr_buf_put_i32(out, m->tps[i].partition);
        }
        ntopics++;
    }
    tr_buf_set_i32(out, of_topics, (int32_t)ntopics);
    tr_buf_put_i32(out, m->coordinator_epoch);
}

tr_err_t
tr_rpc_markers_decode_response(struct tr_slice *in, struct tr_rpc_marker *m)
{
    int32_t nm, nt, np, i, t, k, partition;
    int64_t pid;
    int16_t error;
    struct tr_str name;
    size_t j;
    tr_err_t err;

    for (j = 0; j < m->ntps; j++) {
        m->tps[j].error = TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    if ((err = tr_proto_get_array_len_v(in, 0, &nm, 12, 1000)) != TR_OK) {
        return err;
    }
    for (i = 0; i < nm; i++) {
        if ((err = tr_slice_get_i64(in, &pid)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 0, &nt, 6, 100000)) != TR_OK) {
            return err;
        }
        for (t = 0; t < nt; t++) {
            if ((err = tr_proto_get_string(in, &name)) != TR_OK ||
                (err = tr_proto_get_array_len_v(in, 0, &np, 6, 100000)) !=
                    TR_OK) {
                return err;
            }
            for (k = 0; k < np; k++) {
                if ((err = tr_slice_get_i32(in, &partition)) != TR_OK ||
                    (err = tr_slice_get_i16(in, &error)) != TR_OK) {
                    return err;
                }
                for (j = 0; j < m->ntps && pid == m->producer_id; j++) {
                    if (m->tps[j].partition == partition && name.len >= 0 &&
                        strlen(m->tps[j].topic) == (size_t)name.len &&
                        memcmp(m->tps[j].topic, name.ptr, (size_t)name.len) ==
                            0) {
                        m->tps[j].error = error;
                    }
                }
            }
        }
    }
    return TR_OK;
}
