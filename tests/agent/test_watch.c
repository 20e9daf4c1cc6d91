/*
 * Tests for agent/watch.c: glob and exclude matching, and directories
 * that appear after they were asked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/watch.h"

static void
test_glob_star_stops_at_slash(void **state)
{
    (void)state;
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log*", "/var/log/app/app.log"),
        1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log*", "/var/log/app/app.log.1"),
        1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/*.log", "/var/log/app/sub/x.log"), 0);
    assert_int_equal(
        tr_watch_glob_match("/var/log/*/x.log", "/var/log/a/x.log"), 1);
    assert_int_equal(
        tr_watch_glob_match("/var/log/app/app.log", "/var/log/app/app.log.1"),
        0);
    assert_int_equal(tr_watch_glob_match("/l/app-[0-9].log", "/l/app-7.log"),
                     1);
    assert_int_equal(tr_watch_glob_match("/l/app-?.log", "/l/app-77.log"), 0);
}

static void
test_exclude_base_name_and_path(void **state)
{
    char *ex[] = { "*.gz", "/var/log/app/secret*" };
    (void)state;
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/app.log.2.gz"), 1);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/app.log.1"), 0);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/app/secret.log"), 1);
    assert_int_equal(tr_watch_excluded(ex, 2, "/var/log/other/secret.log"), 0);
    /* A base-name glob never matches the directory part. */
    char *dirs[] = { "app*" };
    assert_int_equal(tr_watch_excluded(dirs, 1, "/var/log/app/x.log"), 0);
    assert_int_equal(tr_watch_excluded(NULL, 0, "/x"), 0);
}

struct seen {
    int created, changed;
    char last[PATH_MAX];
};

static void
record(void *arg, enum tr_watch_what what, const char *dir, const char *name)
{
    struct seen *seen = arg;
    if (what == TR_WATCH_CREATED) {
        seen->created++;
        snprintf(seen->last, sizeof(seen->last), "%s/%s", dir, name);
    } else if (what == TR_WATCH_CHANGED) {
        seen->changed++;
    }
}

/* Runs the loop until 'want' creations were reported (or 200 rounds). */
static void
run_until(struct event_base *base, struct seen *seen, int want)
{
    struct timeval tv = { 0, 20000 };
    for (int i = 0; i < 200 && seen->created < want; i++) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static void
test_missing_dir_is_seen_when_created(void **state)
{
    char root[] = "/tmp/tr-test-watch-XXXXXX";
    char a[256], b[256], f[PATH_MAX];
    struct seen seen = { 0 };
    struct tr_watch *w = NULL;
    struct event_base *base = event_base_new();

    (void)state;
    assert_non_null(base);
    assert_non_null(mkdtemp(root));
    snprintf(a, sizeof(a), "%s/a", root);
    snprintf(b, sizeof(b), "%s/a/b", root);
    snprintf(f, sizeof(f), "%s/file", root);
    assert_int_equal(
        tr_watch_new(base, TR_WATCH_INOTIFY, 3600000, record, &seen, &w),
        TR_OK);
    /* root/a/b is missing: root is watched for new directories. */
    assert_int_equal(tr_watch_add_dir(w, b), TR_OK);
    assert_int_equal(tr_watch_dirs(w), 1);
    /* Files in the ancestor are not reported, only directories. */
    FILE *fp = fopen(f, "w");
    assert_non_null(fp);
    fputs("x\n", fp);
    fclose(fp);
    assert_int_equal(mkdir(a, 0700), 0);
    run_until(base, &seen, 1);
    assert_int_equal(seen.created, 1);
    assert_string_equal(seen.last, a);
    assert_int_equal(seen.changed, 0);
    /* As the agent does on that event: ask again, one level is closer. */
    assert_int_equal(tr_watch_add_dir(w, b), TR_OK);
    assert_int_equal(tr_watch_dirs(w), 2);
    assert_int_equal(mkdir(b, 0700), 0);
    run_until(base, &seen, 2);
    assert_int_equal(seen.created, 2);
    assert_string_equal(seen.last, b);
    /* Now it exists and is fully watched: files in it are reported. */
    assert_int_equal(tr_watch_add_dir(w, b), TR_OK);
    assert_int_equal(tr_watch_dirs(w), 3);
    snprintf(f, sizeof(f), "%s/x.log", b);
    fp = fopen(f, "w");
    assert_non_null(fp);
    fclose(fp);
    run_until(base, &seen, 3);
    assert_int_equal(seen.created, 3);
    assert_string_equal(seen.last, f);
    /* Asking for a directory as a creations-only watch keeps it full. */
    assert_int_equal(tr_watch_add_creations(w, b), TR_OK);
    assert_int_equal(tr_watch_dirs(w), 3);

    tr_watch_free(w);
    event_base_free(base);
    unlink(f);
    rmdir(b);
    rmdir(a);
    snprintf(f, sizeof(f), "%s/file", root);
    unlink(f);
    rmdir(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_star_stops_at_slash),
        cmocka_unit_test(test_exclude_base_name_and_path),
        cmocka_unit_test(test_missing_dir_is_seen_when_created),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
