/*
 * zk -- the collector's ZooKeeper session (libzookeeper_mt).
 *
 * The only module that includes zookeeper.h. It wraps the synchronous calls
 * the cluster code needs (create, get, set, delete, children, and the
 * controller's fenced writes: a multi-op that first checks the version of
 * /controller_epoch), maps ZooKeeper's results to tr_err_t, and reports
 * session events and watches through one callback.
 *
 * The callback runs on the library's completion thread: it must only queue
 * work (see cluster.c, which turns it into an event on the cluster thread).
 * The synchronous calls block their caller for at most a round trip, or
 * fail with TR_ERR_CLOSED while the session is not connected.
 *
 * A chroot in the connect string ("host:2181/tributary") is created first
 * if it does not exist, as Kafka does.
 */
#ifndef TR_ZK_H
#define TR_ZK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_zk;

/* What a watch or session callback reports. */
enum tr_zk_event {
    TR_ZK_CONNECTED,    /* the session is (again) connected */
    TR_ZK_DISCONNECTED, /* connection lost; the session may still live */
    TR_ZK_EXPIRED,      /* the session is gone with its ephemeral nodes */
    TR_ZK_CHILDREN,     /* the children of 'path' changed */
    TR_ZK_DATA,         /* 'path' was created, changed or deleted */
};

typedef void tr_zk_cb(void *arg, enum tr_zk_event ev, const char *path);

struct tr_zk_stat {
    int64_t czxid; /* creation transaction: a broker's epoch */
    int32_t version;
    int64_t ephemeral_owner;
};

/* Node flags for tr_zk_create. */
#define TR_ZK_EPHEMERAL 0x1
#define TR_ZK_SEQUENCE  0x2

/*
 * Starts a session to 'connect' (hosts and optional chroot). Returns at
 * once; the callback reports TR_ZK_CONNECTED. Owned result in *out.
 */
tr_err_t tr_zk_open(const char *connect, int session_timeout_ms,
                    int connect_timeout_ms, tr_zk_cb *cb, void *arg,
                    struct tr_zk **out, char *errbuf, size_t errlen);
/* Closes the session (its ephemeral nodes vanish at once); NULL is a no-op. */
void tr_zk_close(struct tr_zk *zk);
/* Replaces an expired session by a new one with the same settings. */
tr_err_t tr_zk_reconnect(struct tr_zk *zk);
int tr_zk_connected(struct tr_zk *zk);
int64_t tr_zk_session_id(struct tr_zk *zk);

/*
 * Creates 'path' with 'data'. TR_ERR_EXISTS if it exists, TR_ERR_NOT_FOUND
 * if its parent does not. With TR_ZK_SEQUENCE, 'created' (may be NULL) gets
 * the name made.
 */
tr_err_t tr_zk_create(struct tr_zk *zk, const char *path, const char *data,
                      size_t len, int flags, char *created, size_t created_len);
/* Creates 'path' and its missing parents, empty; existing ones are fine. */
tr_err_t tr_zk_ensure_path(struct tr_zk *zk, const char *path);
/*
 * Reads 'path' into an owned, NUL-terminated *data (free with free()),
 * leaving a watch when 'watch' is set (also when the node does not exist:
 * its creation is then reported). TR_ERR_NOT_FOUND if absent.
 */
tr_err_t tr_zk_get(struct tr_zk *zk, const char *path, int watch, char **data,
                   size_t *len, struct tr_zk_stat *st);
/* Sets 'path' if its version is 'version' (-1: any); TR_ERR_STALE if not. */
tr_err_t tr_zk_set(struct tr_zk *zk, const char *path, const char *data,
                   size_t len, int32_t version, int32_t *new_version);
tr_err_t tr_zk_delete(struct tr_zk *zk, const char *path, int32_t version);
/*
 * Lists the children of 'path' (owned array of owned strings: free with
 * tr_zk_free_children). A watch reports TR_ZK_CHILDREN when set.
 */
tr_err_t tr_zk_children(struct tr_zk *zk, const char *path, int watch,
                        char ***names, int *count);
void tr_zk_free_children(char **names, int count);

/*
 * The controller's writes: each is one multi-op that checks that
 * /controller_epoch still has version 'epoch_version' (TR_ERR_FENCED when a
 * newer controller has taken over) and, for set, that 'path' has 'version'
 * (TR_ERR_STALE otherwise).
 */
tr_err_t tr_zk_fenced_set(struct tr_zk *zk, int32_t epoch_version,
                          const char *path, const char *data, size_t len,
                          int32_t version, int32_t *new_version);
tr_err_t tr_zk_fenced_create(struct tr_zk *zk, int32_t epoch_version,
                             const char *path, const char *data, size_t len);
tr_err_t tr_zk_fenced_delete(struct tr_zk *zk, int32_t epoch_version,
                             const char *path);
/*
 * Controller election, one multi-op: create the ephemeral /controller with
 * 'data' and set /controller_epoch to 'epoch' if it still has 'version'
 * (-1: create it). TR_ERR_EXISTS or TR_ERR_STALE when another broker won.
 * *new_version gets /controller_epoch's version.
 */
tr_err_t tr_zk_elect(struct tr_zk *zk, const char *data, size_t len,
                     int32_t epoch, int32_t version, int32_t *new_version);

#endif /* TR_ZK_H */
