/*
 * test_waits -- parked requests: a notify wakes exactly the waiters of its
 * (topic, partition), once; cancel stops wake-ups; a waiter watching
 * several partitions is woken once and unregistered from all of them; a
 * notify from another thread reaches the waiter's event base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>

#include "waits.h"

struct fixture {
    struct event_base *base;
    struct tr_waits *waits;
    struct event *ev[3];
    int fired[3];
};

static void
fired_cb(evutil_socket_t fd, short what, void *arg)
{
    (*(int *)arg)++;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int i;

    evthread_use_pthreads();
    f->base = event_base_new();
    f->waits = tr_waits_new();
    for (i = 0; i < 3; i++) {
        f->ev[i] = event_new(f->base, -1, 0, fired_cb, &f->fired[i]);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    int i;

    for (i = 0; i < 3; i++) {
        event_free(f->ev[i]);
    }
    tr_waits_free(f->waits);
    event_base_free(f->base);
    free(f);
    return 0;
}

static void
run_loop(struct fixture *f)
{
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void
test_waits_notify_wakes_only_its_key(void **state)
{
    struct fixture *f = *state;
    struct tr_waiter *a = tr_waiter_new(f->waits, f->ev[0]);
    struct tr_waiter *b = tr_waiter_new(f->waits, f->ev[1]);

    assert_int_equal(tr_waiter_watch(a, "logs", 0), TR_OK);
    assert_int_equal(tr_waiter_watch(b, "logs", 1), TR_OK);
    tr_waits_notify(f->waits, "logs", 0);
    tr_waits_notify(f->waits, "other", 0);
    run_loop(f);
    assert_int_equal(f->fired[0], 1);
    assert_int_equal(f->fired[1], 0);
    /* Woken waiters are unregistered: a second notify does nothing. */
    tr_waits_notify(f->waits, "logs", 0);
    run_loop(f);
    assert_int_equal(f->fired[0], 1);
    tr_waits_notify(f->waits, "logs", 1);
    run_loop(f);
    assert_int_equal(f->fired[1], 1);
    tr_waiter_free(a);
    tr_waiter_free(b);
}

static void
test_waits_multi_watch_wakes_once(void **state)
{
    struct fixture *f = *state;
    struct tr_waiter *a = tr_waiter_new(f->waits, f->ev[0]);
    int p;

    for (p = 0; p < 50; p++) {
        assert_int_equal(tr_waiter_watch(a, "t", p), TR_OK);
    }
    tr_waits_notify(f->waits, "t", 7);
    tr_waits_notify(f->waits, "t", 8);
    run_loop(f);
    assert_int_equal(f->fired[0], 1);
    tr_waiter_free(a);
}

static void
test_waits_cancel_stops_wakeups(void **state)
{
    struct fixture *f = *state;
    struct tr_waiter *a = tr_waiter_new(f->waits, f->ev[0]);

    assert_int_equal(tr_waiter_watch(a, "t", 0), TR_OK);
    tr_waiter_cancel(a);
    tr_waiter_cancel(a); /* idempotent */
    tr_waits_notify(f->waits, "t", 0);
    run_loop(f);
    assert_int_equal(f->fired[0], 0);
    tr_waiter_free(a);
    tr_waiter_free(NULL);
}

struct notifier {
    struct tr_waits *waits;
};

static void *
notify_thread(void *arg)
{
    struct notifier *n = arg;

    tr_waits_notify(n->waits, "x", 3);
    return NULL;
}

static void
test_waits_cross_thread_notify(void **state)
{
    struct fixture *f = *state;
    struct tr_waiter *a = tr_waiter_new(f->waits, f->ev[2]);
    struct notifier n = { f->waits };
    pthread_t tid;

    assert_int_equal(tr_waiter_watch(a, "x", 3), TR_OK);
    assert_int_equal(pthread_create(&tid, NULL, notify_thread, &n), 0);
    pthread_join(tid, NULL);
    run_loop(f);
    assert_int_equal(f->fired[2], 1);
    tr_waiter_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waits_notify_wakes_only_its_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_multi_watch_wakes_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_cancel_stops_wakeups, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_waits_cross_thread_notify, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
