/*
 * notify -- tells the service manager how the daemon is doing: systemd's
 * readiness protocol (sd_notify(3)) without linking libsystemd.
 *
 * Under a unit with Type=notify, systemd passes the path of a unix datagram
 * socket in $NOTIFY_SOCKET (an absolute path, or a name in the abstract
 * namespace written with a leading '@'), and the daemon sends it lines of
 * KEY=VALUE: READY=1 once it serves, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1 when it begins to shut down, STATUS=... for
 * 'systemctl status'. The collector and the agent call this module from
 * main() at those points; without $NOTIFY_SOCKET (started by hand, or by
 * another service manager) every call does nothing and succeeds.
 *
 * The module keeps no state: each call reads the environment, sends one
 * datagram and closes its socket.
 */
#ifndef TR_NOTIFY_H
#define TR_NOTIFY_H

#include "err.h"

/*
 * Sends 'state' (one or more "KEY=VALUE" lines separated by '\n') as one
 * datagram to $NOTIFY_SOCKET. Returns TR_OK when sent or when
 * $NOTIFY_SOCKET is unset or empty, TR_ERR_INVALID when it is neither an
 * absolute path nor an '@' name or is too long for a socket address, and
 * TR_ERR_IO when the send fails (errno says why).
 */
tr_err_t tr_notify_send(const char *state);

/*
 * READY=1, with STATUS='status' when 'status' is not NULL: the daemon
 * serves. Sent once at start-up and again after each reload.
 */
tr_err_t tr_notify_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC (what systemd 253 and later expect). */
tr_err_t tr_notify_reloading(void);

/* STOPPING=1: the daemon has begun a clean shutdown. */
tr_err_t tr_notify_stopping(void);

#endif
