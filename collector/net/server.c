/*
 * server -- accept, frame, dispatch and answer Kafka requests.
 *
 * Each listener is one bound socket with its security protocol; a
 * connection keeps a pointer to its listener and its own struct
 * tr_conn_security, which every request on it sees. On SSL and SASL_SSL
 * listeners the connection's bufferevent is libevent's OpenSSL one over
 * the socket, so the framing below never sees TLS.
 */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "api.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "netio.h"
#include "proto.h"
#include "quota.h"
#include "sasl.h"
#include "stats.h"
#include "tls.h"
#include "waits.h"

/*
 * Unsent output above which a connection's next requests wait, and the
 * level it must drain to before they are read again.
 */
#define OUTPUT_HIGH_WATER (32u << 20)
#define OUTPUT_LOW_WATER  (4u << 20)
/* Largest response body encoded in memory (records go as file segments). */
#define RESPONSE_MAX (256u << 20)

struct conn;

/* One bound socket: its listeners entry and the address it advertises. */
struct listener {
    struct tr_server *server;
    struct evconnlistener *ev;
    struct tr_listener_spec spec;
    int port; /* bound (spec.port may be 0) */
    char advertised_host[256];
    int advertised_port;
};

/* An accepted socket on its way to a network thread. */
struct pending {
    int fd;
    struct listener *listener;
    int per_ip_counted;
    char ip[INET6_ADDRSTRLEN];
};

struct netthread {
    struct tr_server *server;
    struct event_base *base;
    pthread_t tid;
    int started;
    struct event *accept_ev; /* activated by the main thread */
    struct event *stop_ev;
    pthread_mutex_t lock; /* guards pending_fds */
    struct pending *pending_fds;
    size_t npending, cap;
    TAILQ_HEAD(, conn) conns;
    struct tr_buf scratch; /* response encoding, reused per request */
    /*
     * A TLS request spread over the input's chains is copied here whole,
     * reused per request: pulling it up in the evbuffer would allocate
     * (and fault in) a new buffer the size of the request every time.
     */
    uint8_t *frame_buf;
    size_t frame_cap;
    /*
     * Where a response is assembled (encoded bytes and file segments)
     * before it moves to a connection's output; reused per request. It is
     * marked as draining to a socket, or libevent would read file segments
     * into memory instead of leaving them for sendfile.
     */
    struct evbuffer *response;
};

struct conn {
    struct netthread *nt;
    struct bufferevent *bev;
    SSL *ssl; /* on TLS listeners; owned by 'bev' */
    struct tr_conn_security sec;
    struct tr_sasl_session *sasl; /* on SASL_* listeners (api/sasl.h) */
    struct tr_netio_rest rest;    /* large reads of requests (netio.h) */
    TAILQ_ENTRY(conn) link;
    char peer[NI_MAXHOST + NI_MAXSERV + 2];
    int paused;            /* waiting for output to drain */
    uint8_t *parked_frame; /* owned copy of a parked request, or NULL */
    size_t parked_len;
    int64_t deadline_ms;
    struct event *wake_ev;
    struct event *timer_ev;
    struct tr_waiter *waiter;
    void *state; /* a parked request's handler state (api.h) */
    void (*state_free)(void *);
    /* Client quotas: no request is read until then (KIP-219). */
    int64_t muted_until_ms;      /* monotonic */
    int64_t produce_throttle_ms; /* a parked Produce's, from its arrival */
    struct event *mute_ev;
    int per_ip_counted; /* holds a slot in the server's per-IP counts */
    char ip[INET6_ADDRSTRLEN];
    int64_t parked_us; /* monotonic arrival of the parked request */
};

#define IP_BUCKETS 256

/* The open connections from one address. */
struct ip_count {
    struct ip_count *next;
    int count;
    char ip[INET6_ADDRSTRLEN];
};

/* One entry of max.connections.per.ip.overrides, resolved. */
struct ip_override {
    char ip[INET6_ADDRSTRLEN];
    int32_t max;
};

struct tr_server {
    struct tr_broker *broker;
    struct event_base *main_base;
    struct listener listeners[TR_LISTENERS_MAX];
    size_t nlisteners;
    struct tr_tls *tls; /* NULL without SSL or SASL_SSL listeners */
    int nthreads;
    struct netthread *threads;
    unsigned next_thread;
    atomic_int nconns;
    int32_t request_max;
    /*
     * Connection limits: max.connections stops accepting (resume_ev, on
     * the main thread, starts again); max.connections.per.ip counts each
     * address's connections under ip_lock.
     */
    struct event *resume_ev;
    atomic_int accepting;
    int per_ip_on; /* a per-IP limit is set */
    /* The limits in force: changed at run time by tr_server_set_limits. */
    atomic_int max_conns;
    atomic_int max_per_ip;
    pthread_mutex_t ip_lock; /* also guards overrides */
    struct ip_count *ips[IP_BUCKETS];
    struct ip_override *overrides;
    size_t noverrides;
    int64_t refused_log_ms; /* rate limit of the per-IP refusal warning */
    unsigned refused_quiet;
    struct timeval idle_tv, write_tv;
};

/* The response under assembly; req->response points here. */
struct response {
    struct evbuffer *ev;
    int copy_files; /* TLS: file data is read, not sent with sendfile */
};

/*
 * Writes the final throttle time where the handler encoded the field:
 * still in 'out', or already moved to the evbuffer ahead of file data.
 */
static void
patch_throttle(struct tr_request *req, struct response *resp, int32_t ms)
{
    size_t at = req->throttle_at - 1, moved = evbuffer_get_length(resp->ev);
    unsigned char *p;

    if (at >= moved) {
        tr_buf_set_i32(req->out, at - moved, ms);
        return;
    }
    p = evbuffer_pullup(resp->ev, (ev_ssize_t)(at + 4));
    if (p != NULL) {
        tr_store_i32(p + at, ms);
    }
}

/* Largest piece of a file read at once for a TLS connection. */
#define COPY_CHUNK (1u << 20)

static void process_input(struct conn *c);
static void conn_close(struct conn *c);
static void ip_release(struct tr_server *server, const char *ip);
static void conn_slot_release(struct tr_server *server);

/*
 * Reads 'len' bytes of 'fd' at 'pos' into 'ev'. This is the TLS path of a
 * Fetch: the bytes must pass through OpenSSL to be encrypted, so sendfile
 * cannot be used (kernel TLS could, see docs/security.md), and an evbuffer
 * file segment would be mapped or read lazily, after the segment may have
 * been deleted by retention; reading now is what Kafka does too.
 */
static tr_err_t
copy_file(struct evbuffer *ev, int fd, off_t pos, size_t len)
{
    while (len > 0) {
        struct evbuffer_iovec v;
        size_t want = len < COPY_CHUNK ? len : COPY_CHUNK;
        ssize_t n;

        if (evbuffer_reserve_space(ev, (ev_ssize_t)want, &v, 1) < 1) {
            return TR_ERR_NOMEM;
        }
        n = pread(fd, v.iov_base, want, pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* A segment shorter than its index said: it was truncated. */
            return TR_ERR_IO;
        }
        v.iov_len = (size_t)n;
        if (evbuffer_commit_space(ev, &v, 1) != 0) {
            return TR_ERR_NOMEM;
        }
        pos += n;
        len -= (size_t)n;
    }
    return TR_OK;
}

tr_err_t
tr_request_add_file(struct tr_request *req, int fd, off_t pos, size_t len)
{
    struct response *resp = req->response;
    struct evbuffer_file_segment *seg;

    if (evbuffer_add(resp->ev, tr_buf_data(req->out), tr_buf_len(req->out)) !=
        0) {
        close(fd);
        return TR_ERR_NOMEM;
    }
    req->sent_ahead += tr_buf_len(req->out) + len;
    tr_buf_reset(req->out);
    if (resp->copy_files) {
        tr_err_t err = copy_file(resp->ev, fd, pos, len);

        close(fd);
        return err;
    }
    seg = evbuffer_file_segment_new(fd, pos, (ev_off_t)len,
                                    EVBUF_FS_CLOSE_ON_FREE);
    if (seg == NULL) {
        close(fd);
        return TR_ERR_NOMEM;
    }
    if (evbuffer_add_file_segment(resp->ev, seg, 0, (ev_off_t)len) != 0) {
        evbuffer_file_segment_free(seg);
        return TR_ERR_NOMEM;
    }
    evbuffer_file_segment_free(seg); /* the evbuffer keeps a reference */
    return TR_OK;
}

/* Queues [size][body pieces] on the connection's output. */
static tr_err_t
send_response(struct conn *c, struct response *resp, struct tr_buf *out)
{
    uint8_t size[4];
    size_t total;

    if (tr_buf_len(out) > 0 &&
        evbuffer_add(resp->ev, tr_buf_data(out), tr_buf_len(out)) != 0) {
        return TR_ERR_NOMEM;
    }
    total = evbuffer_get_length(resp->ev);
    if (total > INT32_MAX) {
        return TR_ERR_TOO_LARGE;
    }
    tr_store_i32(size, (int32_t)total);
    if (evbuffer_prepend(resp->ev, size, 4) != 0 ||
        evbuffer_add_buffer(bufferevent_get_output(c->bev), resp->ev) != 0) {
        return TR_ERR_NOMEM;
    }
    return TR_OK;
}

enum frame_result {
    FRAME_DONE,
    FRAME_PARKED,
    FRAME_CLOSE,
};

/*
 * SASL: a bare token after SaslHandshake v0 (kafka-python), answered in the
 * same framing, a size and the bytes; a failed exchange closes the
 * connection without a word, as Kafka does.
 */
static enum frame_result
sasl_raw_frame(struct conn *c, const uint8_t *frame, size_t len)
{
    struct tr_buf *out = &c->nt->scratch;
    struct evbuffer *ev = bufferevent_get_output(c->bev);
    uint8_t size[4];

    tr_buf_reset(out);
    if (tr_sasl_raw_token(c->nt->server->broker, c->sasl, &c->sec, frame, len,
                          tr_clock_wall_ms(), out) != TR_OK) {
        tr_log_warn("%s: SASL authentication failed; closing", c->peer);
        return FRAME_CLOSE;
    }
    tr_store_i32(size, (int32_t)tr_buf_len(out));
    if (evbuffer_add(ev, size, 4) != 0 ||
        (tr_buf_len(out) > 0 &&
         evbuffer_add(ev, tr_buf_data(out), tr_buf_len(out)) != 0)) {
        return FRAME_CLOSE;
    }
    return FRAME_DONE;
}

/* APIs without a request quota, as in Kafka: inter-broker and log-in. */
static int
request_time_exempt(int16_t key)
{
    switch (key) {
    case TR_API_LEADER_AND_ISR:
    case TR_API_STOP_REPLICA:
    case TR_API_UPDATE_METADATA:
    case TR_API_CONTROLLED_SHUTDOWN:
    case TR_API_API_VERSIONS:
    case TR_API_SASL_HANDSHAKE:
    case TR_API_SASL_AUTHENTICATE:
        return 1;
    default:
        return 0;
    }
}

static int32_t
clamp_ms(int64_t ms)
{
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

/*
 * Before the handler: a Produce's bytes are counted once, when the
 * request first arrives (a parked acks=all rerun keeps the answer), so
 * the handler can encode the wait; request time starts.
 */
static void
quota_before(struct conn *c, struct tr_request *req, size_t len,
             struct tr_request_quota *qs)
{
    struct tr_quotas *quotas = c->nt->server->broker->quotas;
    const char *colon = strchr(c->sec.principal, ':');
    int32_t n = req->hdr.client_id.len;

    qs->start_us = 0;
    qs->throttle_ms = 0;
    qs->fetch_counted = 0;
    qs->quotas = quotas;
    req->quota = qs;
    if (quotas == NULL) {
        return;
    }
    /* The quota user is the principal's name: alice for User:alice. */
    qs->user = colon != NULL ? colon + 1 : c->sec.principal;
    n = n < 0 ? 0 : n > TR_QUOTA_NAME_MAX ? TR_QUOTA_NAME_MAX : n;
    if (n > 0) {
        memcpy(qs->client_id, req->hdr.client_id.ptr, (size_t)n);
    }
    qs->client_id[n] = '\0';
    if (req->hdr.api_key == TR_API_PRODUCE) {
        if (c->parked_frame == NULL) {
            c->produce_throttle_ms = tr_quotas_record(
                quotas, qs->user, qs->client_id, TR_QUOTA_PRODUCER_BYTE_RATE,
                (double)len + 4, tr_clock_mono_ms());
        }
        req->throttle_ms = clamp_ms(c->produce_throttle_ms);
        qs->throttle_ms = c->produce_throttle_ms;
    }
    if (tr_quotas_active(quotas, TR_QUOTA_REQUEST_PERCENTAGE) &&
        !request_time_exempt(req->hdr.api_key)) {
        qs->start_us = tr_clock_mono_us();
    }
}

/* After each run of the handler: its time counts, parked or not. */
static void
quota_after(struct conn *c, struct tr_request *req, struct tr_request_quota *qs)
{
    struct tr_quotas *quotas = c->nt->server->broker->quotas;
    int64_t t;

    if (qs->start_us == 0 || req->quota_exempt) {
        return;
    }
    /* Percent-seconds of one thread: 1 s of work is 100. */
    t = tr_quotas_record(
        quotas, qs->user, qs->client_id, TR_QUOTA_REQUEST_PERCENTAGE,
        (double)(tr_clock_mono_us() - qs->start_us) / 1e4, tr_clock_mono_ms());
    qs->throttle_ms = t > qs->throttle_ms ? t : qs->throttle_ms;
}

/*
 * The request is answered: a Fetch's response bytes count, the largest
 * wait goes into throttle_time_ms, and the connection is muted for it
 * (KIP-219: the answer goes at once, the next request waits).
 */
static void
quota_finish(struct conn *c, struct tr_request *req, struct response *resp,
             struct tr_request_quota *qs)
{
    struct tr_quotas *quotas = c->nt->server->broker->quotas;
    int64_t t;

    c->produce_throttle_ms = 0;
    if (quotas == NULL || req->quota_exempt) {
        return;
    }
    if (req->hdr.api_key == TR_API_FETCH && !qs->fetch_counted &&
        tr_quotas_active(quotas, TR_QUOTA_CONSUMER_BYTE_RATE)) {
        size_t bytes = tr_buf_len(req->out) + evbuffer_get_length(resp->ev);

        t = tr_quotas_record(quotas, qs->user, qs->client_id,
                             TR_QUOTA_CONSUMER_BYTE_RATE, (double)bytes,
                             tr_clock_mono_ms());
        qs->throttle_ms = t > qs->throttle_ms ? t : qs->throttle_ms;
    }
    if (qs->throttle_ms <= 0) {
        return;
    }
    if (req->throttle_at > 0 && qs->throttle_ms != req->throttle_ms) {
        patch_throttle(req, resp, clamp_ms(qs->throttle_ms));
    }
    c->muted_until_ms = tr_clock_mono_ms() + qs->throttle_ms;
    tr_log_debug("%s: over its quota; muted for %lld ms", c->peer,
                 (long long)qs->throttle_ms);
}

/*
 * Handles one request frame (without its size prefix). 'final' is set when
 * a parked request runs for the last time.
 */
static enum frame_result
handle_frame(struct conn *c, uint8_t *frame, size_t len, int final)
{
    struct netthread *nt = c->nt;
    struct tr_server *server = nt->server;
    struct tr_request req;
    struct response resp = { NULL };
    struct tr_request_quota quota;
    const struct tr_api *api;
    enum frame_result result = FRAME_CLOSE;
    struct tr_stats *stats = server->broker->stats;
    int64_t start_us = stats == NULL              ? 0
                       : frame == c->parked_frame ? c->parked_us
                                                  : tr_clock_mono_us();
    tr_err_t err;

    if (tr_sasl_expects_raw(c->sasl)) {
        return sasl_raw_frame(c, frame, len);
    }
    memset(&req, 0, sizeof(req));
    tr_slice_init(&req.body, frame, len);
    err = tr_proto_request_header_parse(&req.body, &req.hdr);
    if (err != TR_OK) {
        tr_log_warn("%s: malformed request header (%s); closing", c->peer,
                    tr_err_str(err));
        goto out;
    }
    /* SASL listeners: only the exchange until it succeeds (Kafka closes). */
    if (!tr_sasl_gate(c->sasl, &c->sec, req.hdr.api_key, tr_clock_wall_ms())) {
        tr_log_warn("%s: %s without SASL authentication; closing", c->peer,
                    tr_proto_api_name(req.hdr.api_key));
        goto out;
    }
    tr_buf_reset(&nt->scratch);
    req.out = &nt->scratch;
    req.broker = server->broker;
    req.security = &c->sec;
    req.sasl = c->sasl;
    req.peer = c->peer;
    req.now_ms = tr_clock_wall_ms();
    req.final = final;
    /* The thread's response buffer; empty between requests. */
    resp.ev = nt->response;
    resp.copy_files = c->ssl != NULL;
    req.response = &resp;

    /* Response header: v0 for ApiVersions always, v1 for flexible APIs. */
    tr_buf_put_i32(req.out, req.hdr.correlation_id);
    api = tr_api_find(req.hdr.api_key);
    if (req.hdr.api_key == TR_API_API_VERSIONS && api != NULL &&
        (req.hdr.api_version > api->max_version || req.hdr.api_version < 0)) {
        tr_api_versions_unsupported(req.out);
        goto respond;
    }
    if (api == NULL || req.hdr.api_version < api->min_version ||
        req.hdr.api_version > api->max_version) {
        tr_log_warn("%s: unsupported request %s (key %d) v%d; closing", c->peer,
                    tr_proto_api_name(req.hdr.api_key), req.hdr.api_key,
                    req.hdr.api_version);
        tr_stats_error(stats, req.hdr.api_key, TR_KERR_UNSUPPORTED_VERSION);
        goto out;
    }
    if (req.hdr.flexible && req.hdr.api_key != TR_API_API_VERSIONS) {
        tr_proto_put_tags_v(req.out, 1);
    }
    if (c->waiter == NULL) {
        c->waiter = tr_waiter_new(server->broker->waits, c->wake_ev);
        if (c->waiter == NULL) {
            goto out;
        }
    }
    req.waiter = c->waiter;
    req.state = c->state;
    req.state_free = c->state_free;
    quota_before(c, &req, len, &quota);
    err = api->handler(&req);
    c->state = req.state;
    c->state_free = req.state_free;
    quota_after(c, &req, &quota);
    if (err != TR_OK) {
        tr_log_warn("%s: bad %s v%d request (%s); closing", c->peer,
                    tr_proto_api_name(req.hdr.api_key), req.hdr.api_version,
                    tr_err_str(err));
        tr_stats_error(stats, req.hdr.api_key, TR_KERR_INVALID_REQUEST);
        tr_waiter_cancel(c->waiter);
        goto out;
    }
    if (req.park_ms > 0 && !final) {
        if (c->parked_frame == NULL) {
            c->deadline_ms = tr_clock_mono_ms() + req.park_ms;
            c->parked_us = start_us;
        }
        result = FRAME_PARKED;
        goto out;
    }
    tr_waiter_cancel(c->waiter);
    if (req.close) {
        tr_log_debug("%s: closing after a refused %s", c->peer,
                     tr_proto_api_name(req.hdr.api_key));
        goto out;
    }
    quota_finish(c, &req, &resp, &quota);
    if (req.no_response) {
        result = FRAME_DONE;
        goto out;
    }
respond:
    if (tr_buf_err(req.out) != TR_OK) {
        tr_log_error("%s: cannot encode %s response: %s", c->peer,
                     tr_proto_api_name(req.hdr.api_key),
                     tr_err_str(tr_buf_err(req.out)));
        goto out;
    }
    if (send_response(c, &resp, req.out) != TR_OK) {
        tr_log_error("%s: out of memory queueing a response", c->peer);
        goto out;
    }
    result = FRAME_DONE;
out:
    if (stats != NULL && result != FRAME_PARKED && req.out != NULL) {
        tr_stats_request(stats, req.hdr.api_key, tr_clock_mono_us() - start_us);
    }
    if (result != FRAME_PARKED && c->state != NULL) {
        if (c->state_free != NULL) {
            c->state_free(c->state);
        }
        c->state = NULL;
        c->state_free = NULL;
    }
    if (resp.ev != NULL && evbuffer_get_length(resp.ev) > 0) {
        /* Unsent pieces of a refused or parked response (closes fds). */
        evbuffer_drain(resp.ev, evbuffer_get_length(resp.ev));
    }
    return result;
}

/* Runs a parked request again; called on its own network thread. */
static void
rerun_parked(struct conn *c, int final)
{
    uint8_t *frame = c->parked_frame;
    enum frame_result r;

    if (frame == NULL) {
        return;
    }
    if (tr_clock_mono_ms() >= c->deadline_ms) {
        final = 1;
    }
    tr_waiter_cancel(c->waiter);
    r = handle_frame(c, frame, c->parked_len, final);
    if (r == FRAME_PARKED) {
        return; /* still watching; the timer stays armed */
    }
    evtimer_del(c->timer_ev);
    c->parked_frame = NULL;
    tr_free(frame);
    if (r == FRAME_CLOSE) {
        conn_close(c);
        return;
    }
    process_input(c);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    rerun_parked(arg, 0);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    rerun_parked(arg, 1);
}

/*
 * A throttled connection: reading stops (the kernel's buffers push back
 * on the client) until the wait is over. True while it lasts.
 */
static int
conn_muted(struct conn *c)
{
    int64_t left = c->muted_until_ms - tr_clock_mono_ms();
    struct timeval tv;

    if (left <= 0) {
        c->muted_until_ms = 0;
        bufferevent_enable(c->bev, EV_READ);
        return 0;
    }
    bufferevent_disable(c->bev, EV_READ);
    tv.tv_sec = (time_t)(left / 1000);
    tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
    evtimer_add(c->mute_ev, &tv);
    return 1;
}

static void
mute_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    if (!c->paused) {
        process_input(c);
    }
}

/*
 * Plaintext connections read the rest of a large request themselves:
 * libevent would take it 4 KiB at a time (netio.h). Returns 1 when the
 * frame at the head of 'in' is now complete.
 */
static int
read_rest(struct conn *c, struct evbuffer *in)
{
    return tr_netio_read_rest(in, (int)bufferevent_getfd(c->bev), 1, &c->rest);
}

/*
 * The 'len' bytes at the head of 'in', contiguous: in place when they
 * already are (plaintext reads a request into one chain), else copied
 * into the thread's frame buffer. Valid until the next call or drain.
 */
static uint8_t *
frame_of(struct conn *c, struct evbuffer *in, size_t len)
{
    struct netthread *nt = c->nt;

    if (evbuffer_get_contiguous_space(in) >= len) {
        return evbuffer_pullup(in, (ssize_t)len);
    }
    if (len > nt->frame_cap) {
        uint8_t *grown = tr_realloc(nt->frame_buf, len);
        if (grown == NULL) {
            return NULL;
        }
        nt->frame_buf = grown;
        nt->frame_cap = len;
    }
    if (evbuffer_copyout(in, nt->frame_buf, len) != (ev_ssize_t)len) {
        return NULL;
    }
    return nt->frame_buf;
}

/* Handles every complete frame in the input, in order. */
static void
process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int32_t request_max = c->nt->server->request_max;

    while (c->parked_frame == NULL) {
        uint8_t hdr[4];
        int32_t size;
        size_t avail = evbuffer_get_length(in);
        uint8_t *frame;
        enum frame_result r;

        if (c->muted_until_ms > 0 && conn_muted(c)) {
            return;
        }

        if (evbuffer_get_length(out) > OUTPUT_HIGH_WATER) {
            c->paused = 1;
            bufferevent_setwatermark(c->bev, EV_WRITE, OUTPUT_LOW_WATER, 0);
            return;
        }
        if (avail < 4) {
            if (c->ssl == NULL) {
                read_rest(c, in); /* only resets SO_RCVLOWAT */
            }
            bufferevent_setwatermark(c->bev, EV_READ, 0,
                                     (size_t)request_max + 4);
            return;
        }
        evbuffer_copyout(in, hdr, 4);
        size = tr_load_i32(hdr);
        if (size > tr_sasl_max_frame(c->sasl, &c->sec,
                                     c->nt->server->broker->cfg, request_max) &&
            size <= request_max) {
            tr_log_warn("%s: request of %d bytes before SASL "
                        "authentication (sasl.server.max.receive.size); "
                        "closing",
                        c->peer, size);
            conn_close(c);
            return;
        }
        if (size < 0 || size > request_max) {
            tr_log_warn("%s: request size %d outside 0..%d "
                        "(socket.request.max.bytes); closing",
                        c->peer, size, request_max);
            conn_close(c);
            return;
        }
        if (avail < 4 + (size_t)size && c->ssl == NULL) {
            /* The rest in few large reads (netio.h), else at the next one. */
            if (read_rest(c, in)) {
                continue;
            }
            bufferevent_setwatermark(c->bev, EV_READ, 0,
                                     (size_t)request_max + 4);
            return;
        }
        if (avail < 4 + (size_t)size) {
            /* TLS: wake only when the whole frame is here. */
            bufferevent_setwatermark(c->bev, EV_READ, 4 + (size_t)size,
                                     (size_t)request_max + 4);
            return;
        }
        frame = frame_of(c, in, 4 + (size_t)size);
        if (frame == NULL) {
            tr_log_error("%s: out of memory reading a request", c->peer);
            conn_close(c);
            return;
        }
        r = handle_frame(c, frame + 4, (size_t)size, 0);
        if (r == FRAME_PARKED) {
            c->parked_frame = tr_malloc(size ? (size_t)size : 1);
            if (c->parked_frame == NULL) {
                conn_close(c);
                return;
            }
            memcpy(c->parked_frame, frame + 4, (size_t)size);
            c->parked_len = (size_t)size;
            {
                int64_t wait_ms = c->deadline_ms - tr_clock_mono_ms();
                struct timeval tv;

                wait_ms = wait_ms > 0 ? wait_ms : 0;
                tv.tv_sec = (time_t)(wait_ms / 1000);
                tv.tv_usec = (suseconds_t)((wait_ms % 1000) * 1000);
                evtimer_add(c->timer_ev, &tv);
            }
        }
        evbuffer_drain(in, 4 + (size_t)size);
        tr_netio_frame_done(&c->rest);
        if (r == FRAME_CLOSE) {
            conn_close(c);
            return;
        }
    }
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (!c->paused) {
        process_input(c);
    }
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->paused) {
        c->paused = 0;
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        process_input(c);
    }
}

/*
 * Logs why a TLS connection failed: OpenSSL's reasons (a handshake with
 * an untrusted or missing client certificate, a plaintext client on a TLS
 * port) are the useful part, not errno.
 */
static void
log_tls_error(struct conn *c)
{
    unsigned long e;
    char buf[256];
    int any = 0;

    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        tr_log_info("%s: TLS error on listener %s: %s", c->peer,
                    c->sec.listener, buf);
        any = 1;
    }
    if (!any) {
        tr_log_debug("%s: connection error: %s", c->peer,
                     strerror(EVUTIL_SOCKET_ERROR()));
    }
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if ((what & BEV_EVENT_CONNECTED) && c->ssl != NULL) {
        /* The TLS handshake is done: who is the client? */
        char how[128];

        tr_tls_describe(c->ssl, how, sizeof(how));
        if (tr_tls_principal(c->nt->server->tls, c->ssl, c->sec.principal,
                             sizeof(c->sec.principal)) != TR_OK &&
            c->sec.protocol == TR_SEC_SSL) {
            /* SASL_SSL takes its principal from SASL instead. */
            tr_log_warn("%s: no ssl.principal.mapping.rules rule matches "
                        "the client certificate's subject on listener %s; "
                        "closing",
                        c->peer, c->sec.listener);
            conn_close(c);
            return;
        }
        tr_log_debug("%s: TLS (%s) on listener %s as %s", c->peer, how,
                     c->sec.listener, c->sec.principal);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (what & BEV_EVENT_WRITING) {
            tr_log_warn("%s: client not reading its responses; closing",
                        c->peer);
        } else {
            tr_log_info("%s: idle connection closed", c->peer);
        }
    } else if ((what & BEV_EVENT_ERROR) && c->ssl != NULL) {
        log_tls_error(c);
    } else if (what & BEV_EVENT_ERROR) {
        tr_log_debug("%s: connection error: %s", c->peer,
                     strerror(EVUTIL_SOCKET_ERROR()));
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        conn_close(c);
    }
}

/* ---- connection limits ---- */

static unsigned
ip_hash(const char *ip)
{
    unsigned h = 2166136261u;

    for (; *ip; ip++) {
        h = (h ^ (unsigned char)*ip) * 16777619u;
    }
    return h % IP_BUCKETS;
}

/* max.connections.per.ip, or the address's override; under ip_lock. */
static int32_t
ip_limit(const struct tr_server *server, const char *ip)
{
    size_t i;

    for (i = 0; i < server->noverrides; i++) {
        if (strcmp(server->overrides[i].ip, ip) == 0) {
            return server->overrides[i].max;
        }
    }
    return atomic_load(&server->max_per_ip);
}

/* Takes one of the address's connection slots; 0 when all are taken. */
static int
ip_acquire(struct tr_server *server, const char *ip)
{
    struct ip_count **pp, *e;
    int32_t limit;
    int ok = 0;

    pthread_mutex_lock(&server->ip_lock);
    limit = ip_limit(server, ip);
    pp = &server->ips[ip_hash(ip)];
    while (*pp != NULL && strcmp((*pp)->ip, ip) != 0) {
        pp = &(*pp)->next;
    }
    e = *pp;
    if (e == NULL && limit > 0) {
        e = tr_calloc(1, sizeof(*e));
        if (e != NULL) {
            snprintf(e->ip, sizeof(e->ip), "%s", ip);
            *pp = e;
        }
    }
    if (e != NULL && e->count < limit) {
        e->count++;
        ok = 1;
    }
    pthread_mutex_unlock(&server->ip_lock);
    return ok;
}

static void
ip_release(struct tr_server *server, const char *ip)
{
    struct ip_count **pp, *e;

    pthread_mutex_lock(&server->ip_lock);
    pp = &server->ips[ip_hash(ip)];
    while (*pp != NULL && strcmp((*pp)->ip, ip) != 0) {
        pp = &(*pp)->next;
    }
    e = *pp;
    if (e != NULL && --e->count <= 0) {
        *pp = e->next;
        tr_free(e);
    }
    pthread_mutex_unlock(&server->ip_lock);
}

/* Logs a per-IP refusal, at most once every 10 s (main thread only). */
static void
refused_per_ip(struct tr_server *server, const char *ip)
{
    int64_t now = tr_clock_mono_ms();
    int32_t limit;

    if (now - server->refused_log_ms < 10000) {
        server->refused_quiet++;
        return;
    }
    pthread_mutex_lock(&server->ip_lock);
    limit = ip_limit(server, ip);
    pthread_mutex_unlock(&server->ip_lock);
    tr_log_warn("max.connections.per.ip (%d) reached for %s; closing a new "
                "connection (%u more refused since the last warning)",
                limit, ip, server->refused_quiet);
    server->refused_log_ms = now;
    server->refused_quiet = 0;
}

/* At max.connections: new connections wait in the listen queue. */
static void
accepting_stop(struct tr_server *server)
{
    size_t i;

    for (i = 0; i < server->nlisteners; i++) {
        if (server->listeners[i].ev != NULL) {
            evconnlistener_disable(server->listeners[i].ev);
        }
    }
    atomic_store(&server->accepting, 0);
    tr_log_warn("max.connections (%d) reached; new connections wait",
                atomic_load(&server->max_conns));
}

/*
 * Main thread: room again below max.connections, or (after the limit
 * changed at run time) no room any more.
 */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tr_server *server = arg;
    size_t i;

    if (atomic_load(&server->accepting) &&
        atomic_load(&server->nconns) >= atomic_load(&server->max_conns)) {
        accepting_stop(server);
        return;
    }
    if (atomic_load(&server->accepting) ||
        atomic_load(&server->nconns) >= atomic_load(&server->max_conns)) {
        return;
    }
    for (i = 0; i < server->nlisteners; i++) {
        if (server->listeners[i].ev != NULL) {
            evconnlistener_enable(server->listeners[i].ev);
        }
    }
    atomic_store(&server->accepting, 1);
}

/* A connection is gone: a full server accepts again. Any thread. */
static void
conn_slot_release(struct tr_server *server)
{
    (void)atomic_fetch_sub(&server->nconns, 1);
    if (!atomic_load(&server->accepting) && server->resume_ev != NULL) {
        event_active(server->resume_ev, EV_READ, 0);
    }
}

/* Resolves one max.connections.per.ip.overrides entry's host. */
static tr_err_t
add_override(const char *host, int32_t max, void *arg)
{
    struct tr_server *server = arg;
    struct addrinfo hints, *res = NULL, *ai;
    struct ip_override *o;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return TR_ERR_CONFIG;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        o = tr_realloc(server->overrides,
                       (server->noverrides + 1) * sizeof(*o));
        if (o == NULL) {
            freeaddrinfo(res);
            return TR_ERR_NOMEM;
        }
        server->overrides = o;
        o = &o[server->noverrides];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, o->ip, sizeof(o->ip), NULL,
                        0, NI_NUMERICHOST) == 0) {
            o->max = max;
            server->noverrides++;
        }
    }
    freeaddrinfo(res);
    return TR_OK;
}

static void
conn_close(struct conn *c)
{
    struct netthread *nt = c->nt;

    TAILQ_REMOVE(&nt->conns, c, link);
    tr_stats_connection(nt->server->broker->stats, -1);
    tr_waiter_free(c->waiter);
    if (c->wake_ev != NULL) {
        event_free(c->wake_ev);
    }
    if (c->timer_ev != NULL) {
        event_free(c->timer_ev);
    }
    if (c->mute_ev != NULL) {
        event_free(c->mute_ev);
    }
    tr_free(c->parked_frame);
    if (c->state != NULL && c->state_free != NULL) {
        c->state_free(c->state);
    }
    tr_sasl_session_free(c->sasl);
    if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
        /*
         * Say close_notify (best effort, the socket is non-blocking):
         * freeing the bufferevent does not, and librdkafka before 2.2 on
         * OpenSSL 3 takes a bare EOF for a fatal error.
         */
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    if (c->bev != NULL) {
        bufferevent_free(c->bev);
    }
    if (c->per_ip_counted) {
        ip_release(nt->server, c->ip);
    }
    conn_slot_release(nt->server);
    tr_free(c);
}

static void
peer_name(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];

    snprintf(out, outlen, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        snprintf(out, outlen, "%s:%s", host, port);
    }
}

/*
 * The connection's bufferevent: a plain socket one, or on TLS listeners
 * libevent's OpenSSL one over the socket (a socket BIO, which is also what
 * kernel TLS would need), accepting a handshake on the TLS context current
 * now, so a reload (SIGHUP) affects only later connections.
 */
static struct bufferevent *
conn_bufferevent(struct conn *c, struct listener *l, int fd)
{
    struct tr_server *server = c->nt->server;
    struct bufferevent *bev;

    if (!TR_SEC_IS_TLS(l->spec.protocol)) {
        return bufferevent_socket_new(c->nt->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    c->ssl = tr_tls_ssl_new(server->tls);
    if (c->ssl == NULL) {
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(c->nt->base, fd, c->ssl,
                                         BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
        return NULL;
    }
    /* A client closing without close_notify is an EOF, not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static void
conn_open(struct netthread *nt, const struct pending *p)
{
    struct tr_server *server = nt->server;
    struct listener *l = p->listener;
    struct conn *c = tr_calloc(1, sizeof(*c));
    int fd = p->fd, one = 1;

    if (c == NULL) {
        close(fd);
        if (p->per_ip_counted) {
            ip_release(server, p->ip);
        }
        conn_slot_release(server);
        return;
    }
    c->nt = nt;
    c->per_ip_counted = p->per_ip_counted;
    memcpy(c->ip, p->ip, sizeof(c->ip));
    c->sec.protocol = l->spec.protocol;
    c->sec.listener = l->spec.name;
    c->sec.advertised_host = l->advertised_host;
    c->sec.advertised_port = l->advertised_port;
    c->sec.authenticated =
        l->spec.protocol == TR_SEC_PLAINTEXT || l->spec.protocol == TR_SEC_SSL;
    snprintf(c->sec.principal, sizeof(c->sec.principal), "User:ANONYMOUS");
    if (!c->sec.authenticated) {
        /* NULL (no memory) makes the gate close it at the first request. */
        c->sasl = tr_sasl_session_new();
    }
    peer_name(fd, c->peer, sizeof(c->peer));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    c->bev = conn_bufferevent(c, l, fd);
    c->wake_ev = event_new(nt->base, -1, 0, wake_cb, c);
    c->timer_ev = evtimer_new(nt->base, timer_cb, c);
    c->mute_ev = evtimer_new(nt->base, mute_cb, c);
    TAILQ_INSERT_TAIL(&nt->conns, c, link);
    tr_stats_connection(server->broker->stats, 1);
    if (c->bev == NULL || c->wake_ev == NULL || c->timer_ev == NULL ||
        c->mute_ev == NULL) {
        if (c->bev == NULL) {
            close(fd);
        }
        conn_close(c);
        return;
    }
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    /*
     * Produce requests are large: read them in few system calls. Over TLS
     * a read returns one record (16 KiB) whatever the room, and reserving
     * 1 MiB for each would allocate far more than it fills.
     */
    bufferevent_set_max_single_read(c->bev, c->ssl != NULL ? 1 << 16 : 1 << 20);
    bufferevent_set_max_single_write(c->bev, 1 << 20);
    bufferevent_set_timeouts(c->bev, &server->idle_tv, &server->write_tv);
    bufferevent_setwatermark(c->bev, EV_READ, 0,
                             (size_t)server->request_max + 4);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    tr_log_debug("%s: connected on listener %s", c->peer, l->spec.name);
}

static void
thread_accept_cb(evutil_socket_t unused, short what, void *arg)
{
    struct netthread *nt = arg;
    struct pending fds[64];
    size_t n, i;

    for (;;) {
        pthread_mutex_lock(&nt->lock);
        n = nt->npending < 64 ? nt->npending : 64;
        memcpy(fds, nt->pending_fds, n * sizeof(fds[0]));
        memmove(nt->pending_fds, nt->pending_fds + n,
                (nt->npending - n) * sizeof(fds[0]));
        nt->npending -= n;
        pthread_mutex_unlock(&nt->lock);
        if (n == 0) {
            break;
        }
        for (i = 0; i < n; i++) {
            conn_open(nt, &fds[i]);
        }
    }
}

static void
thread_stop_cb(evutil_socket_t unused, short what, void *arg)
{
    struct netthread *nt = arg;

    event_base_loopbreak(nt->base);
}

static void *
thread_main(void *arg)
{
    struct netthread *nt = arg;

    event_base_loop(nt->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void
listener_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
            int salen, void *arg)
{
    struct listener *listener = arg;
    struct tr_server *server = listener->server;
    int32_t max = atomic_load(&server->max_conns);
    struct netthread *nt;
    struct pending p, *fds;
    int n;

    memset(&p, 0, sizeof(p));
    p.fd = fd;
    p.listener = listener;
    if (server->per_ip_on) {
        if (getnameinfo(sa, (socklen_t)salen, p.ip, sizeof(p.ip), NULL, 0,
                        NI_NUMERICHOST) != 0) {
            snprintf(p.ip, sizeof(p.ip), "?");
        }
        if (!ip_acquire(server, p.ip)) {
            refused_per_ip(server, p.ip);
            close(fd);
            return;
        }
        p.per_ip_counted = 1;
    }
    n = atomic_fetch_add(&server->nconns, 1) + 1;
    if (n > max) {
        /* Accepted in the same burst as the last slot: no room. */
        if (p.per_ip_counted) {
            ip_release(server, p.ip);
        }
        conn_slot_release(server);
        close(fd);
        return;
    }
    if (n == max) {
        accepting_stop(server);
    }
    nt = &server->threads[server->next_thread++ % (unsigned)server->nthreads];
    pthread_mutex_lock(&nt->lock);
    if (nt->npending == nt->cap) {
        size_t cap = nt->cap ? nt->cap * 2 : 16;

        fds = tr_realloc(nt->pending_fds, cap * sizeof(*fds));
        if (fds == NULL) {
            pthread_mutex_unlock(&nt->lock);
            if (p.per_ip_counted) {
                ip_release(server, p.ip);
            }
            conn_slot_release(server);
            close(fd);
            return;
        }
        nt->pending_fds = fds;
        nt->cap = cap;
    }
    nt->pending_fds[nt->npending++] = p;
    pthread_mutex_unlock(&nt->lock);
    event_active(nt->accept_ev, EV_READ, 0);
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();

    /* EMFILE and friends: keep serving the connections we have. */
    tr_log_error("accept failed: %s", evutil_socket_error_to_string(err));
}

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* Binds 'l' (its spec filled in) on the main thread's event base. */
static tr_err_t
listener_bind(struct tr_server *server, struct listener *l, char *errbuf,
              size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char portstr[16];
    int gai;
    tr_err_t err = TR_ERR_CONFIG;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", l->spec.port);
    gai = getaddrinfo(l->spec.host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errlen, "listeners: cannot resolve '%s': %s",
                 l->spec.host, gai_strerror(gai));
        goto out;
    }
    l->server = server;
    l->ev = evconnlistener_new_bind(server->main_base, listener_cb, l,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                        LEV_OPT_CLOSE_ON_EXEC,
                                    1024, res->ai_addr, (int)res->ai_addrlen);
    if (l->ev == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (listener %s): %s",
                 l->spec.host, l->spec.port, l->spec.name, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    evconnlistener_set_error_cb(l->ev, listener_error_cb);
    l->port = l->spec.port;
    if (getsockname(evconnlistener_get_fd(l->ev), (struct sockaddr *)&ss,
                    &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    err = TR_OK;
out:
    if (res != NULL) {
        freeaddrinfo(res);
    }
    return err;
}

/*
 * Works out what each listener advertises, as Kafka does: the entry of
 * advertised.listeners with the same name, else the listener itself; an
 * address of all interfaces becomes the host name, port 0 the bound port.
 */
static tr_err_t
listeners_advertise(struct tr_server *server, char *errbuf, size_t errlen)
{
    const struct tr_broker_config *cfg = server->broker->cfg;
    struct tr_listener_spec adv[TR_LISTENERS_MAX];
    char reason[256];
    size_t nadv = 0, i, j;

    if (cfg->advertised_listeners != NULL &&
        tr_broker_config_listeners(cfg->advertised_listeners,
                                   cfg->listener_security_protocol_map, adv,
                                   &nadv, reason, sizeof(reason)) != TR_OK) {
        snprintf(errbuf, errlen, "advertised.listeners: %s", reason);
        return TR_ERR_CONFIG;
    }
    for (j = 0; j < nadv; j++) {
        for (i = 0; i < server->nlisteners; i++) {
            if (strcmp(adv[j].name, server->listeners[i].spec.name) == 0) {
                break;
            }
        }
        if (i == server->nlisteners) {
            snprintf(errbuf, errlen,
                     "advertised.listeners: listener %s is not in listeners",
                     adv[j].name);
            return TR_ERR_CONFIG;
        }
    }
    for (i = 0; i < server->nlisteners; i++) {
        struct listener *l = &server->listeners[i];
        const struct tr_listener_spec *from = &l->spec;

        for (j = 0; j < nadv; j++) {
            if (strcmp(adv[j].name, l->spec.name) == 0) {
                from = &adv[j];
            }
        }
        snprintf(l->advertised_host, sizeof(l->advertised_host), "%s",
                 from->host);
        if (strcmp(l->advertised_host, "0.0.0.0") == 0 ||
            strcmp(l->advertised_host, "::") == 0) {
            gethostname(l->advertised_host, sizeof(l->advertised_host));
        }
        l->advertised_port = from->port != 0 ? from->port : l->port;
    }
    return TR_OK;
}

tr_err_t
tr_server_new(struct tr_broker *broker, struct event_base *main_base,
              struct tr_server **out, char *errbuf, size_t errlen)
{
    const struct tr_broker_config *cfg = broker->cfg;
    struct tr_server *server = NULL;
    struct tr_listener_spec specs[TR_LISTENERS_MAX];
    char reason[256];
    size_t nspecs, j;
    int i;
    tr_err_t err = TR_ERR_NOMEM;

    err = tr_broker_config_listeners(cfg->listeners,
                                     cfg->listener_security_protocol_map, specs,
                                     &nspecs, reason, sizeof(reason));
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "listeners: %s", reason);
        goto out;
    }
    err = TR_ERR_NOMEM;
    server = tr_calloc(1, sizeof(*server));
    if (server == NULL) {
        goto out;
    }
    server->broker = broker;
    server->main_base = main_base;
    pthread_mutex_init(&server->ip_lock, NULL);
    atomic_store(&server->accepting, 1);
    server->resume_ev = event_new(main_base, -1, 0, resume_cb, server);
    if (server->resume_ev == NULL) {
        goto out;
    }
    if (cfg->max_connections_per_ip_overrides != NULL) {
        err = tr_broker_config_ip_overrides(
            cfg->max_connections_per_ip_overrides, add_override, server, reason,
            sizeof(reason));
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "max.connections.per.ip.overrides: %s",
                     reason);
            goto out;
        }
        err = TR_ERR_NOMEM;
    }
    /*
     * Counted even without a limit, so that one set at run time
     * (tr_server_set_limits) knows the connections already open.
     */
    server->per_ip_on = 1;
    atomic_store(&server->max_conns, cfg->max_connections);
    atomic_store(&server->max_per_ip, cfg->max_connections_per_ip);
    server->request_max = cfg->socket_request_max_bytes;
    server->idle_tv = ms_to_tv(cfg->connections_max_idle_ms);
    server->write_tv = ms_to_tv(cfg->socket_write_timeout_ms);
    server->nthreads =
        cfg->num_network_threads > 0 ? cfg->num_network_threads : 1;
    server->threads =
        tr_calloc((size_t)server->nthreads, sizeof(*server->threads));
    if (server->threads == NULL) {
        goto out;
    }
    for (i = 0; i < server->nthreads; i++) {
        struct netthread *nt = &server->threads[i];

        nt->server = server;
        pthread_mutex_init(&nt->lock, NULL);
        TAILQ_INIT(&nt->conns);
        tr_buf_init(&nt->scratch, RESPONSE_MAX);
        nt->base = event_base_new();
        if (nt->base == NULL) {
            goto out;
        }
        nt->accept_ev = event_new(nt->base, -1, 0, thread_accept_cb, nt);
        nt->stop_ev = event_new(nt->base, -1, 0, thread_stop_cb, nt);
        nt->response = evbuffer_new();
        if (nt->accept_ev == NULL || nt->stop_ev == NULL ||
            nt->response == NULL) {
            goto out;
        }
        evbuffer_set_flags(nt->response, EVBUFFER_FLAG_DRAINS_TO_FD);
    }

    /* TLS settings are checked before any port is bound. */
    for (j = 0; j < nspecs; j++) {
        if (TR_SEC_IS_TLS(specs[j].protocol) && server->tls == NULL) {
            err = tr_tls_new(cfg, &server->tls, errbuf, errlen);
            if (err != TR_OK) {
                goto out;
            }
        }
    }
    for (j = 0; j < nspecs; j++) {
        struct listener *l = &server->listeners[j];

        l->spec = specs[j];
        err = listener_bind(server, l, errbuf, errlen);
        if (err != TR_OK) {
            goto out;
        }
        server->nlisteners++;
    }
    err = listeners_advertise(server, errbuf, errlen);
    if (err != TR_OK) {
        goto out;
    }
    *out = server;
    server = NULL;
    err = TR_OK;
out:
    tr_server_free(server);
    return err;
}

int
tr_server_port(const struct tr_server *server)
{
    return server->listeners[0].port;
}

size_t
tr_server_advertised(const struct tr_server *server,
                     struct tr_listener_spec *out)
{
    size_t i;

    for (i = 0; i < server->nlisteners; i++) {
        const struct listener *l = &server->listeners[i];

        out[i] = l->spec;
        snprintf(out[i].host, sizeof(out[i].host), "%s", l->advertised_host);
        out[i].port = l->advertised_port;
    }
    return server->nlisteners;
}

void
tr_server_describe(const struct tr_server *server, char *out, size_t outlen)
{
    size_t i, used = 0;

    out[0] = '\0';
    for (i = 0; i < server->nlisteners && used < outlen; i++) {
        const struct listener *l = &server->listeners[i];
        int n = snprintf(out + used, outlen - used,
                         "%s%s %s:%d (%s, advertised %s:%d)", i ? ", " : "",
                         l->spec.name, l->spec.host, l->port,
                         tr_security_protocol_name(l->spec.protocol),
                         l->advertised_host, l->advertised_port);

        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

tr_err_t
tr_server_set_limits(struct tr_server *server,
                     const struct tr_broker_config *cfg, char *errbuf,
                     size_t errlen)
{
    struct tr_server scratch;
    char reason[256];
    tr_err_t err = TR_OK;

    /* Resolve the new overrides first (slow: DNS), then swap them in. */
    memset(&scratch, 0, sizeof(scratch));
    if (cfg->max_connections_per_ip_overrides != NULL) {
        err = tr_broker_config_ip_overrides(
            cfg->max_connections_per_ip_overrides, add_override, &scratch,
            reason, sizeof(reason));
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "max.connections.per.ip.overrides: %s",
                     reason);
            tr_free(scratch.overrides);
            return err;
        }
    }
    pthread_mutex_lock(&server->ip_lock);
    tr_free(server->overrides);
    server->overrides = scratch.overrides;
    server->noverrides = scratch.noverrides;
    atomic_store(&server->max_per_ip, cfg->max_connections_per_ip);
    pthread_mutex_unlock(&server->ip_lock);
    atomic_store(&server->max_conns, cfg->max_connections);
    if (server->resume_ev != NULL) {
        event_active(server->resume_ev, EV_READ, 0);
    }
    return TR_OK;
}

tr_err_t
tr_server_check_tls(struct tr_server *server,
                    const struct tr_broker_config *cfg, char *errbuf,
                    size_t errlen)
{
    /* Without TLS listeners a keystore set must still load. */
    return server->tls == NULL && cfg->ssl_keystore_location == NULL
               ? TR_OK
               : tr_tls_check_config(cfg, errbuf, errlen);
}

tr_err_t
tr_server_reconfigure_tls(struct tr_server *server,
                          const struct tr_broker_config *cfg, char *errbuf,
                          size_t errlen)
{
    return server->tls == NULL
               ? TR_OK
               : tr_tls_reconfigure(server->tls, cfg, errbuf, errlen);
}

tr_err_t
tr_server_reload_tls(struct tr_server *server, char *errbuf, size_t errlen)
{
    if (server->tls == NULL) {
        snprintf(errbuf, errlen, "no SSL or SASL_SSL listener");
        return TR_ERR_NOT_FOUND;
    }
    return tr_tls_reload(server->tls, errbuf, errlen);
}

tr_err_t
tr_server_start(struct tr_server *server)
{
    int i;

    for (i = 0; i < server->nthreads; i++) {
        struct netthread *nt = &server->threads[i];

        if (pthread_create(&nt->tid, NULL, thread_main, nt) != 0) {
            return TR_ERR_IO;
        }
        nt->started = 1;
    }
    return TR_OK;
}

void
tr_server_stop(struct tr_server *server)
{
    size_t j;
    int i;

    for (j = 0; j < server->nlisteners; j++) {
        if (server->listeners[j].ev != NULL) {
            evconnlistener_free(server->listeners[j].ev);
            server->listeners[j].ev = NULL;
        }
    }
    for (i = 0; i < server->nthreads; i++) {
        struct netthread *nt = &server->threads[i];

        if (nt->started) {
            event_active(nt->stop_ev, EV_READ, 0);
            pthread_join(nt->tid, NULL);
            nt->started = 0;
        }
    }
    /* The threads are gone: their connections can be closed from here. */
    for (i = 0; i < server->nthreads; i++) {
        struct netthread *nt = &server->threads[i];
        struct conn *c;

        while ((c = TAILQ_FIRST(&nt->conns)) != NULL) {
            conn_close(c);
        }
        for (j = 0; j < nt->npending; j++) {
            close(nt->pending_fds[j].fd);
        }
        nt->npending = 0;
    }
}

void
tr_server_free(struct tr_server *server)
{
    size_t j;
    int i;

    if (server == NULL) {
        return;
    }
    tr_server_stop(server);
    for (i = 0; server->threads != NULL && i < server->nthreads; i++) {
        struct netthread *nt = &server->threads[i];

        if (nt->accept_ev != NULL) {
            event_free(nt->accept_ev);
        }
        if (nt->stop_ev != NULL) {
            event_free(nt->stop_ev);
        }
        if (nt->response != NULL) {
            evbuffer_free(nt->response);
        }
        if (nt->base != NULL) {
            event_base_free(nt->base);
        }
        tr_free(nt->pending_fds);
        tr_free(nt->frame_buf);
        tr_buf_cleanup(&nt->scratch);
        pthread_mutex_destroy(&nt->lock);
    }
    tr_free(server->threads);
    tr_tls_free(server->tls);
    if (server->resume_ev != NULL) {
        event_free(server->resume_ev);
    }
    for (j = 0; j < IP_BUCKETS; j++) {
        struct ip_count *e;

        while ((e = server->ips[j]) != NULL) {
            server->ips[j] = e->next;
            tr_free(e);
        }
    }
    tr_free(server->overrides);
    pthread_mutex_destroy(&server->ip_lock);
    tr_free(server);
}
