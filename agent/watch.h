/*
 * watch -- discovering files and changes: inotify on the directories of the
 * path globs, and a slow periodic rescan.
 *
 * Two backends sit behind this header. The inotify backend watches each
 * directory once (not each file, so 10,000 files cost one watch) for
 * creations, renames, deletions and writes. A directory that does not
 * exist yet is waited for by watching its nearest existing ancestor for
 * new subdirectories only. The rescan timer fires in both backends: with
 * inotify it is the backstop for overflowed queues and watch limits;
 * without inotify (watch = poll,
 * or a file system that has none) it is the only source. tr_watch_new()
 * picks the backend.
 *
 * Glob matching is here too: fnmatch(3) with FNM_PATHNAME, so '*' never
 * crosses a '/'.
 */
#ifndef TR_AGENT_WATCH_H
#define TR_AGENT_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
struct tr_watch;

/* What happened, for tr_watch_cb. */
enum tr_watch_what {
    TR_WATCH_CHANGED = 1, /* dir/name was written to or truncated */
    TR_WATCH_CREATED = 2, /* dir/name appeared (created or renamed in) */
    TR_WATCH_GONE = 3,    /* dir/name went away (deleted or renamed out) */
    TR_WATCH_RESCAN = 4,  /* rescan everything (timer, or events lost) */
};

/*
 * Called on the event_base's thread. 'dir' and 'name' are borrowed for the
 * call, and NULL for TR_WATCH_RESCAN.
 */
typedef void tr_watch_cb(void *arg, enum tr_watch_what what, const char *dir,
                         const char *name);

/*
 * Returns an owned watcher in *out. 'mode' is a tr_watch_mode (config.h):
 * AUTO falls back to polling when inotify is unavailable, INOTIFY fails
 * with TR_ERR_UNSUPPORTED. 'base' is borrowed.
 */
tr_err_t tr_watch_new(struct event_base *base, int mode, int64_t rescan_ms,
                      tr_watch_cb *cb, void *arg, struct tr_watch **out);
void tr_watch_free(struct tr_watch *w);

/*
 * Watches directory 'dir' (copied) if not yet watched. A missing directory
 * is watched for through its nearest existing ancestor (as
 * tr_watch_add_creations), so its creation is reported at once (as
 * TR_WATCH_CREATED of a directory) and the caller can add it then. A
 * directory that cannot be watched (the inotify watch limit, permissions)
 * is left to the rescan: TR_OK either way, TR_ERR_NOMEM aside.
 */
tr_err_t tr_watch_add_dir(struct tr_watch *w, const char *dir);

/*
 * Watches the nearest existing directory at or above 'dir' (copied) only
 * for subdirectories created or moved into it, reported as
 * TR_WATCH_CREATED; files written there are not reported. For the fixed
 * part of a glob whose directory part has a wildcard (/var/log for
 * /var/log/APP-WILDCARD/x.log), whose matches may appear later. A directory
 * fully watched already is left as it is.
 */
tr_err_t tr_watch_add_creations(struct tr_watch *w, const char *dir);

/* 1 when the inotify backend is active. */
int tr_watch_inotify(const struct tr_watch *w);
/* Directories watched through inotify. */
size_t tr_watch_dirs(const struct tr_watch *w);
/* Queue overflows seen so far. */
uint64_t tr_watch_overflows(const struct tr_watch *w);

/* 1 if 'path' matches the glob 'pattern' (whole path, '*' stops at '/'). */
int tr_watch_glob_match(const char *pattern, const char *path);

/*
 * 1 if 'path' matches one of the 'n' exclude globs. A glob without '/'
 * matches the base name ("*.gz"), one with '/' the whole path.
 */
int tr_watch_excluded(char *const *globs, size_t n, const char *path);

#endif /* TR_AGENT_WATCH_H */
