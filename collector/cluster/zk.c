/*
 * zk -- the collector's ZooKeeper session; see zk.h.
 */
#include "zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The synchronous calls exist only in the multi-threaded library. */
#define THREADED
#include <zookeeper/zookeeper.h>

#include "alloc.h"
#include "log.h"

struct tr_zk {
    zhandle_t *zh;
    char *hosts;  /* connect string without the chroot */
    char *chroot; /* "/tributary", or NULL */
    int session_timeout_ms;
    tr_zk_cb *cb;
    void *arg;
};

static tr_err_t
map_rc(int rc)
{
    switch (rc) {
    case ZOK:
        return TR_OK;
    case ZNONODE:
        return TR_ERR_NOT_FOUND;
    case ZNODEEXISTS:
        return TR_ERR_EXISTS;
    case ZBADVERSION:
        return TR_ERR_STALE;
    case ZOPERATIONTIMEOUT:
        return TR_ERR_TIMEOUT;
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZCLOSING:
        return TR_ERR_CLOSED;
    case ZBADARGUMENTS:
        return TR_ERR_INVALID;
    default:
        return TR_ERR_IO;
    }
}

static void
watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct tr_zk *zk = ctx;

    (void)zh;
    if (zk == NULL || zk->cb == NULL) {
        return;
    }
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_CONNECTED_STATE) {
            zk->cb(zk->arg, TR_ZK_CONNECTED, "");
        } else if (state == ZOO_EXPIRED_SESSION_STATE) {
            zk->cb(zk->arg, TR_ZK_EXPIRED, "");
        } else {
            zk->cb(zk->arg, TR_ZK_DISCONNECTED, "");
        }
    } else if (type == ZOO_CHILD_EVENT) {
        zk->cb(zk->arg, TR_ZK_CHILDREN, path);
    } else if (type == ZOO_CREATED_EVENT || type == ZOO_DELETED_EVENT ||
               type == ZOO_CHANGED_EVENT) {
        zk->cb(zk->arg, TR_ZK_DATA, path);
    }
}

/* Makes the chroot with a short-lived session of its own. */
static tr_err_t
make_chroot(struct tr_zk *zk, int connect_timeout_ms)
{
    zhandle_t *zh;
    tr_err_t err = TR_ERR_TIMEOUT;
    char path[1024];
    char *p;
    int waited = 0, rc;

    zh = zookeeper_init(zk->hosts, NULL, zk->session_timeout_ms, NULL, NULL, 0);
    if (zh == NULL) {
        return TR_ERR_IO;
    }
    while (zoo_state(zh) != ZOO_CONNECTED_STATE &&
           waited < connect_timeout_ms) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        waited += 50;
    }
    if (zoo_state(zh) != ZOO_CONNECTED_STATE) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s", zk->chroot);
    for (p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL,
                            0);
            if (rc != ZOK && rc != ZNODEEXISTS) {
                err = map_rc(rc);
                goto out;
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    err = TR_OK;
out:
    zookeeper_close(zh);
    return err;
}

static tr_err_t
start_session(struct tr_zk *zk)
{
    char connect[2048];

    snprintf(connect, sizeof(connect), "%s%s", zk->hosts,
             zk->chroot ? zk->chroot : "");
    zk->zh =
        zookeeper_init(connect, watcher, zk->session_timeout_ms, NULL, zk, 0);
    return zk->zh != NULL ? TR_OK : TR_ERR_IO;
}

tr_err_t
tr_zk_open(const char *connect, int session_timeout_ms, int connect_timeout_ms,
           tr_zk_cb *cb, void *arg, struct tr_zk **out, char *errbuf,
           size_t errlen)
{
    struct tr_zk *zk;
    const char *slash;
    tr_err_t err = TR_ERR_NOMEM;

    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zk = tr_calloc(1, sizeof(*zk));
    if (zk == NULL) {
        goto fail;
    }
    zk->cb = cb;
    zk->arg = arg;
    zk->session_timeout_ms = session_timeout_ms;
    slash = strchr(connect, '/');
    if (slash != NULL && slash[1] != '\0') {
        zk->hosts = tr_strndup(connect, (size_t)(slash - connect));
        zk->chroot = tr_strdup(slash);
        if (zk->hosts == NULL || zk->chroot == NULL) {
            goto fail;
        }
        while (strlen(zk->chroot) > 1 &&
               zk->chroot[strlen(zk->chroot) - 1] == '/') {
            zk->chroot[strlen(zk->chroot) - 1] = '\0';
        }
        err = make_chroot(zk, connect_timeout_ms);
        if (err != TR_OK) {
            snprintf(errbuf, errlen,
                     "zookeeper.connect=%s: cannot create the chroot %s "
                     "within zookeeper.connection.timeout.ms (%s)",
                     connect, zk->chroot, tr_err_str(err));
            goto fail;
        }
    } else {
        zk->hosts = slash != NULL
                        ? tr_strndup(connect, (size_t)(slash - connect))
                        : tr_strdup(connect);
        if (zk->hosts == NULL) {
            goto fail;
        }
    }
    err = start_session(zk);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "zookeeper.connect=%s: cannot start a session",
                 connect);
        goto fail;
    }
    *out = zk;
    return TR_OK;
fail:
    if (err == TR_ERR_NOMEM) {
        snprintf(errbuf, errlen, "out of memory");
    }
    tr_zk_close(zk);
    return err;
}

void
tr_zk_close(struct tr_zk *zk)
{
    if (zk == NULL) {
        return;
    }
    if (zk->zh != NULL) {
        zookeeper_close(zk->zh);
    }
    tr_free(zk->hosts);
    tr_free(zk->chroot);
    tr_free(zk);
}

tr_err_t
tr_zk_reconnect(struct tr_zk *zk)
{
    if (zk->zh != NULL) {
        zookeeper_close(zk->zh);
        zk->zh = NULL;
    }
    return start_session(zk);
}

int
tr_zk_connected(struct tr_zk *zk)
{
    return zk->zh != NULL && zoo_state(zk->zh) == ZOO_CONNECTED_STATE;
}

int64_t
tr_zk_session_id(struct tr_zk *zk)
{
    const clientid_t *id = zk->zh != NULL ? zoo_client_id(zk->zh) : NULL;

    return id != NULL ? id->client_id : 0;
}

tr_err_t
tr_zk_create(struct tr_zk *zk, const char *path, const char *data, size_t len,
             int flags, char *created, size_t created_len)
{
    int mode = 0;

    if (zk->zh == NULL) {
        return TR_ERR_CLOSED;
    }
    if (flags & TR_ZK_EPHEMERAL) {
        mode |= ZOO_EPHEMERAL;
    }
    if (flags & TR_ZK_SEQUENCE) {
        mode |= ZOO_SEQUENCE;
    }
    return map_rc(zoo_create(zk->zh, path, data, data ? (int)len : -1,
                             &ZOO_OPEN_ACL_UNSAFE, mode, created,
                             created ? (int)created_len : 0));
}

tr_err_t
tr_zk_ensure_path(struct tr_zk *zk, const char *path)
{
    char buf[1024];
    char *p;
    tr_err_t err;

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        return TR_ERR_TOO_LARGE;
    }
    for (p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            err = tr_zk_create(zk, buf, NULL, 0, 0, NULL, 0);
            if (err != TR_OK && err != TR_ERR_EXISTS) {
                return err;
            }
            *p = c;
            if (c == '\0') {
                return TR_OK;
            }
        }
    }
}

static void
copy_stat(struct tr_zk_stat *st, const struct Stat *s)
{
    if (st != NULL) {
        st->czxid = s->czxid;
        st->version = s->version;
        st->ephemeral_owner = s->ephemeralOwner;
    }
}

tr_err_t
tr_zk_get(struct tr_zk *zk, const char *path, int watch, char **data,
          size_t *len, struct tr_zk_stat *st)
{
    struct Stat s;
    char *buf;
    int cap = 65536, n, rc;

    *data = NULL;
    if (len != NULL) {
        *len = 0;
    }
    if (zk->zh == NULL) {
        return TR_ERR_CLOSED;
    }
    for (;;) {
        buf = malloc((size_t)cap + 1);
        if (buf == NULL) {
            return TR_ERR_NOMEM;
        }
        n = cap;
        rc = zoo_wget(zk->zh, path, watch ? watcher : NULL, watch ? zk : NULL,
                      buf, &n, &s);
        if (rc == ZNONODE && watch) {
            /* Watch for the node's creation instead. */
            (void)zoo_wexists(zk->zh, path, watcher, zk, &s);
        }
        if (rc != ZOK) {
            free(buf);
            return map_rc(rc);
        }
        if (s.dataLength <= cap) {
            break;
        }
        free(buf);
        cap = s.dataLength;
    }
    if (n < 0) {
        n = 0;
    }
    buf[n] = '\0';
    *data = buf;
    if (len != NULL) {
        *len = (size_t)n;
    }
    copy_stat(st, &s);
    return TR_OK;
}

tr_err_t
tr_zk_set(struct tr_zk *zk, const char *path, const char *data, size_t len,
          int32_t version, int32_t *new_version)
{
    struct Stat s;
    int rc;

    if (zk->zh == NULL) {
        return TR_ERR_CLOSED;
    }
    rc = zoo_set2(zk->zh, path, data, (int)len, version, &s);
    if (rc == ZOK && new_version != NULL) {
        *new_version = s.version;
    }
    return map_rc(rc);
}

tr_err_t
tr_zk_delete(struct tr_zk *zk, const char *path, int32_t version)
{
    if (zk->zh == NULL) {
        return TR_ERR_CLOSED;
    }
    return map_rc(zoo_delete(zk->zh, path, version));
}

tr_err_t
tr_zk_children(struct tr_zk *zk, const char *path, int watch, char ***names,
               int *count)
{
    struct String_vector v = { 0, NULL };
    char **out;
    int rc, i;

    *names = NULL;
    *count = 0;
    if (zk->zh == NULL) {
        return TR_ERR_CLOSED;
    }
    rc = zoo_wget_children(zk->zh, path, watch ? watcher : NULL,
                           watch ? zk : NULL, &v);
    if (rc != ZOK) {
        return map_rc(rc);
    }
    out = tr_calloc(v.count > 0 ? (size_t)v.count : 1, sizeof(*out));
    if (out == NULL) {
        deallocate_String_vector(&v);
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < v.count; i++) {
        out[i] = tr_strdup(v.data[i]);
        if (out[i] == NULL) {
            tr_zk_free_children(out, i);
            deallocate_String_vector(&v);
            return TR_ERR_NOMEM;
        }
    }
    *names = out;
    *count = v.count;
    deallocate_String_vector(&v);
    return TR_OK;
}

void
tr_zk_free_children(char **names, int count)
{
    int i;

    if (names == NULL) {
        return;
    }
    for (i = 0; i < count; i++) {
        tr_free(names[i]);
    }
    tr_free(names);
}

/*
 * libzookeeper_mt 3.8's zoo_multi frees its request twice when the session
 * is not connected (seen under AddressSanitizer after a broker woke from a
 * pause with an expired session), so a multi is only tried while connected.
 */
static int
multi_ready(struct tr_zk *zk)
{
    return zk->zh != NULL && zoo_state(zk->zh) == ZOO_CONNECTED_STATE;
}

/* Runs a two-op multi whose first op checks /controller_epoch. */
static tr_err_t
fenced_multi(struct tr_zk *zk, zoo_op_t *ops, struct Stat *stat)
{
    zoo_op_result_t res[2];
    int rc;

    (void)stat;
    if (!multi_ready(zk)) {
        return TR_ERR_CLOSED;
    }
    memset(res, 0, sizeof(res));
    rc = zoo_multi(zk->zh, 2, ops, res);
    if (rc == ZOK) {
        return TR_OK;
    }
    if (res[0].err == ZBADVERSION || res[0].err == ZNONODE) {
        return TR_ERR_FENCED;
    }
    return map_rc(res[1].err != ZOK && res[1].err != ZRUNTIMEINCONSISTENCY
                      ? res[1].err
                      : rc);
}

tr_err_t
tr_zk_fenced_set(struct tr_zk *zk, int32_t epoch_version, const char *path,
                 const char *data, size_t len, int32_t version,
                 int32_t *new_version)
{
    zoo_op_t ops[2];
    struct Stat s;
    tr_err_t err;

    memset(&s, 0, sizeof(s));
    zoo_check_op_init(&ops[0], "/controller_epoch", epoch_version);
    zoo_set_op_init(&ops[1], path, data, (int)len, version, &s);
    err = fenced_multi(zk, ops, &s);
    if (err == TR_OK && new_version != NULL) {
        *new_version = s.version;
    }
    return err;
}

tr_err_t
tr_zk_fenced_create(struct tr_zk *zk, int32_t epoch_version, const char *path,
                    const char *data, size_t len)
{
    zoo_op_t ops[2];

    zoo_check_op_init(&ops[0], "/controller_epoch", epoch_version);
    zoo_create_op_init(&ops[1], path, data, data ? (int)len : -1,
                       &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    return fenced_multi(zk, ops, NULL);
}

tr_err_t
tr_zk_fenced_delete(struct tr_zk *zk, int32_t epoch_version, const char *path)
{
    zoo_op_t ops[2];

    zoo_check_op_init(&ops[0], "/controller_epoch", epoch_version);
    zoo_delete_op_init(&ops[1], path, -1);
    return fenced_multi(zk, ops, NULL);
}

tr_err_t
tr_zk_elect(struct tr_zk *zk, const char *data, size_t len, int32_t epoch,
            int32_t version, int32_t *new_version)
{
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    struct Stat s;
    char num[16];
    int rc;

    if (!multi_ready(zk)) {
        return TR_ERR_CLOSED;
    }
    snprintf(num, sizeof(num), "%d", (int)epoch);
    memset(&s, 0, sizeof(s));
    memset(res, 0, sizeof(res));
    zoo_create_op_init(&ops[0], "/controller", data, (int)len,
                       &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    if (version < 0) {
        zoo_create_op_init(&ops[1], "/controller_epoch", num, (int)strlen(num),
                           &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    } else {
        zoo_set_op_init(&ops[1], "/controller_epoch", num, (int)strlen(num),
                        version, &s);
    }
    rc = zoo_multi(zk->zh, 2, ops, res);
    if (rc == ZOK) {
        *new_version = version < 0 ? 0 : s.version;
        return TR_OK;
    }
    if (res[0].err == ZNODEEXISTS) {
        return TR_ERR_EXISTS;
    }
    if (res[1].err == ZBADVERSION || res[1].err == ZNODEEXISTS) {
        return TR_ERR_STALE;
    }
    return map_rc(rc);
}
