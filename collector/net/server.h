/*
 * server -- listeners, network threads, connections and Kafka framing.
 *
 * The main thread owns the listening sockets (one per entry of listeners,
 * each with its security protocol) and hands each accepted connection to
 * one of num.network.threads network threads, round robin.
 * A network thread owns an event_base and its connections outright: it
 * reads frames (an int32 size, then the request), refuses sizes past
 * socket.request.max.bytes by closing the connection, decodes the header,
 * runs the handler from api.h, and queues the response. Requests on one
 * connection are handled one at a time, in order, so pipelined requests are
 * answered in order; a parked Fetch holds the connection's later requests
 * back until it completes. Fetch record data goes out as file segments
 * (sendfile), never copied through user space, except on TLS listeners,
 * where it is read and encrypted (docs/security.md).
 *
 * Limits: connections idle for connections.max.idle.ms are closed; a
 * client that does not read its responses for
 * tributary.socket.write.timeout.ms is closed; while a connection's unsent
 * output exceeds a high-water mark no further requests are read from it.
 */
#ifndef TR_SERVER_H
#define TR_SERVER_H

#include <stddef.h>

#include "broker.h"
#include "err.h"

struct event_base;
struct tr_server;

/*
 * Binds the listeners from broker->cfg (on 'main_base', borrowed) and
 * returns an owned server. Bad TLS settings are TR_ERR_CONFIG with
 * 'errbuf' naming the setting; a port that cannot be bound names the
 * address.
 */
tr_err_t tr_server_new(struct tr_broker *broker, struct event_base *main_base,
                       struct tr_server **out, char *errbuf, size_t errlen);
/* Starts the network threads. */
tr_err_t tr_server_start(struct tr_server *server);
/* Stops accepting, stops the network threads and closes every connection. */
void tr_server_stop(struct tr_server *server);
/* Stops if needed and frees; NULL is a no-op. */
void tr_server_free(struct tr_server *server);
/* The port actually bound by the first listener (useful with port 0). */
int tr_server_port(const struct tr_server *server);
/*
 * Copies every listener as it is advertised (name, protocol, advertised
 * host, advertised port) into 'out' (room for TR_LISTENERS_MAX); returns
 * the count.
 */
size_t tr_server_advertised(const struct tr_server *server,
                            struct tr_listener_spec *out);
/* One line listing every listener, for the start-up log. */
void tr_server_describe(const struct tr_server *server, char *out,
                        size_t outlen);
/*
 * Reads the keystore and truststore again (SIGHUP) for new TLS
 * connections; on failure the old ones stay and 'errbuf' says why.
 */
tr_err_t tr_server_reload_tls(struct tr_server *server, char *errbuf,
                              size_t errlen);

/*
 * Dynamic broker configuration (dynconf.h): takes max.connections,
 * max.connections.per.ip and its overrides from 'cfg' for the connections
 * accepted from now on (a lower max.connections stops accepting until
 * enough connections close). Errors name the override that cannot be
 * resolved; the old limits then stay.
 */
tr_err_t tr_server_set_limits(struct tr_server *server,
                              const struct tr_broker_config *cfg, char *errbuf,
                              size_t errlen);
/*
 * Checks that the ssl.* settings of 'cfg' make a usable TLS context (TR_OK
 * without TLS listeners), and swaps it in for new connections.
 */
tr_err_t tr_server_check_tls(struct tr_server *server,
                             const struct tr_broker_config *cfg, char *errbuf,
                             size_t errlen);
tr_err_t tr_server_reconfigure_tls(struct tr_server *server,
                                   const struct tr_broker_config *cfg,
                                   char *errbuf, size_t errlen);

#endif /* TR_SERVER_H */
