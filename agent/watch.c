/*
 * watch -- the inotify and rescan backends, and glob matching (see
 * watch.h).
 */
#include "watch.h"

#include <errno.h>
#include <event2/event.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "log.h"

struct wdir {
    int wd;
    char *path;
    int creations_only; /* watched for new subdirectories only */
};

struct tr_watch {
    struct event_base *base;
    int fd; /* inotify fd, -1 in the polling backend */
    struct event *ev_inotify;
    struct event *ev_rescan;
    struct wdir *dirs;
    size_t ndirs, cap;
    tr_watch_cb *cb;
    void *arg;
    uint64_t overflows;
    int limit_warned;
};

#define DIR_MASK                                                               \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |         \
     IN_DELETE_SELF | IN_MOVE_SELF)
/*
 * A directory watched only for the creation of a missing one below it.
 * IN_MASK_ADD: if the same directory is also fully watched (under another
 * name), its mask must not shrink.
 */
#define CREATIONS_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_MASK_ADD)

static struct wdir *
find_wd(struct tr_watch *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++) {
        if (w->dirs[i].wd == wd) {
            return &w->dirs[i];
        }
    }
    return NULL;
}

static void
drop_dir(struct tr_watch *w, struct wdir *d)
{
    size_t i = (size_t)(d - w->dirs);
    tr_free(d->path);
    w->dirs[i] = w->dirs[--w->ndirs];
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
    struct tr_watch *w = arg;
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));

    (void)what;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof(*e) + e->len;
            if (e->mask & IN_Q_OVERFLOW) {
                w->overflows++;
                tr_log_warn("inotify queue overflowed; rescanning");
                w->cb(w->arg, TR_WATCH_RESCAN, NULL, NULL);
                continue;
            }
            struct wdir *d = find_wd(w, e->wd);
            if (d == NULL) {
                continue;
            }
            if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                /* The directory went away; the rescan re-adds it. */
                if (e->mask & IN_IGNORED) {
                    drop_dir(w, d);
                } else {
                    inotify_rm_watch(w->fd, d->wd);
                }
                continue;
            }
            if (e->len == 0) {
                continue;
            }
            if (d->creations_only) {
                /* A missing directory may have appeared: rescan it. */
                if ((e->mask & IN_ISDIR) &&
                    (e->mask & (IN_CREATE | IN_MOVED_TO))) {
                    w->cb(w->arg, TR_WATCH_CREATED, d->path, e->name);
                }
                continue;
            }
            if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
                w->cb(w->arg, TR_WATCH_CREATED, d->path, e->name);
            } else if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
                w->cb(w->arg, TR_WATCH_GONE, d->path, e->name);
            } else if (e->mask & IN_MODIFY) {
                w->cb(w->arg, TR_WATCH_CHANGED, d->path, e->name);
            }
        }
    }
}

static void
on_rescan(evutil_socket_t fd, short what, void *arg)
{
    struct tr_watch *w = arg;
    (void)fd;
    (void)what;
    w->cb(w->arg, TR_WATCH_RESCAN, NULL, NULL);
}

tr_err_t
tr_watch_new(struct event_base *base, int mode, int64_t rescan_ms,
             tr_watch_cb *cb, void *arg, struct tr_watch **out)
{
    struct tr_watch *w = tr_calloc(1, sizeof(*w));
    tr_err_t err = TR_ERR_NOMEM;

    if (w == NULL) {
        goto out;
    }
    w->base = base;
    w->cb = cb;
    w->arg = arg;
    w->fd = -1;
    if (mode != TR_WATCH_POLL) {
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
            if (mode == TR_WATCH_INOTIFY) {
                tr_log_error("inotify_init1: %s", strerror(errno));
                err = TR_ERR_UNSUPPORTED;
                goto out;
            }
            tr_log_warn("inotify unavailable (%s); polling every %lld ms",
                        strerror(errno), (long long)rescan_ms);
        }
    }
    if (w->fd >= 0) {
        w->ev_inotify =
            event_new(base, w->fd, EV_READ | EV_PERSIST, on_inotify, w);
        if (w->ev_inotify == NULL || event_add(w->ev_inotify, NULL) != 0) {
            goto out;
        }
    }
    w->ev_rescan = event_new(base, -1, EV_PERSIST, on_rescan, w);
    struct timeval tv = { (time_t)(rescan_ms / 1000),
                          (suseconds_t)(rescan_ms % 1000) * 1000 };
    if (w->ev_rescan == NULL || event_add(w->ev_rescan, &tv) != 0) {
        goto out;
    }
    *out = w;
    w = NULL;
    err = TR_OK;
out:
    tr_watch_free(w);
    return err;
}

void
tr_watch_free(struct tr_watch *w)
{
    if (w == NULL) {
        return;
    }
    if (w->ev_inotify != NULL) {
        event_free(w->ev_inotify);
    }
    if (w->ev_rescan != NULL) {
        event_free(w->ev_rescan);
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    for (size_t i = 0; i < w->ndirs; i++) {
        tr_free(w->dirs[i].path);
    }
    tr_free(w->dirs);
    tr_free(w);
}

static struct wdir *
find_path(struct tr_watch *w, const char *dir)
{
    for (size_t i = 0; i < w->ndirs; i++) {
        if (strcmp(w->dirs[i].path, dir) == 0) {
            return &w->dirs[i];
        }
    }
    return NULL;
}

/* Records watch 'wd' on 'dir' (copied); removes the watch on failure. */
static tr_err_t
remember(struct tr_watch *w, int wd, const char *dir, int creations_only)
{
    if (w->ndirs == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 8;
        struct wdir *nd = tr_realloc(w->dirs, nc * sizeof(*nd));
        if (nd == NULL) {
            inotify_rm_watch(w->fd, wd);
            return TR_ERR_NOMEM;
        }
        w->dirs = nd;
        w->cap = nc;
    }
    char *p = tr_strdup(dir);
    if (p == NULL) {
        inotify_rm_watch(w->fd, wd);
        return TR_ERR_NOMEM;
    }
    w->dirs[w->ndirs].wd = wd;
    w->dirs[w->ndirs].path = p;
    w->dirs[w->ndirs].creations_only = creations_only;
    w->ndirs++;
    return TR_OK;
}

/*
 * Watches the nearest existing directory at or above 'dir' for new
 * subdirectories (see tr_watch_add_creations).
 */
static tr_err_t
watch_creations(struct tr_watch *w, const char *dir)
{
    char path[PATH_MAX];
    tr_err_t err = TR_OK;

    if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path)) {
        return TR_OK; /* the rescan covers it */
    }
    for (;;) {
        if (find_path(w, path) != NULL) {
            break; /* watched already, fully or for creations */
        }
        int wd = inotify_add_watch(w->fd, path, CREATIONS_MASK);
        if (wd >= 0) {
            if (find_wd(w, wd) == NULL) {
                err = remember(w, wd, path, 1);
            }
            break;
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            break; /* watch limit, permissions: the rescan covers it */
        }
        /* Go up one level: "/a/b" -> "/a", "/a" -> "/", "a" -> ".". */
        char *slash = strrchr(path, '/');
        if (slash == NULL) {
            if (strcmp(path, ".") == 0) {
                break;
            }
            snprintf(path, sizeof(path), ".");
        } else if (slash == path) {
            if (path[1] == '\0') {
                break;
            }
            path[1] = '\0';
        } else {
            *slash = '\0';
        }
    }
    return err;
}

tr_err_t
tr_watch_add_dir(struct tr_watch *w, const char *dir)
{
    if (w->fd < 0) {
        return TR_OK;
    }
    struct wdir *known = find_path(w, dir);
    if (known != NULL && !known->creations_only) {
        return TR_OK;
    }
    /* Without IN_MASK_ADD: a creations-only watch becomes a full one. */
    int wd = inotify_add_watch(w->fd, dir, DIR_MASK | IN_ONLYDIR);
    if (wd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            /* Missing: watch above it so its creation is seen at once. */
            return watch_creations(w, dir);
        }
        if (errno == ENOSPC && !w->limit_warned) {
            tr_log_warn("inotify watch limit reached at %s "
                        "(fs.inotify.max_user_watches); rescans cover it",
                        dir);
            w->limit_warned = 1;
        }
        return TR_OK;
    }
    /* The same directory under another name yields the same wd. */
    struct wdir *same = find_wd(w, wd);
    if (same != NULL) {
        same->creations_only = 0;
        return TR_OK;
    }
    return remember(w, wd, dir, 0);
}

tr_err_t
tr_watch_add_creations(struct tr_watch *w, const char *dir)
{
    if (w->fd < 0) {
        return TR_OK;
    }
    return watch_creations(w, dir);
}

int
tr_watch_inotify(const struct tr_watch *w)
{
    return w->fd >= 0;
}

size_t
tr_watch_dirs(const struct tr_watch *w)
{
    return w->ndirs;
}

uint64_t
tr_watch_overflows(const struct tr_watch *w)
{
    return w->overflows;
}

int
tr_watch_glob_match(const char *pattern, const char *path)
{
    return fnmatch(pattern, path, FNM_PATHNAME) == 0;
}

int
tr_watch_excluded(char *const *globs, size_t n, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < n; i++) {
        const char *subject = strchr(globs[i], '/') ? path : base;
        if (fnmatch(globs[i], subject, FNM_PATHNAME) == 0) {
            return 1;
        }
    }
    return 0;
}
