/* The I/O thread: calls run on it, it switches between SCHED_OTHER and SCHED_BATCH with
 * the size of its handler runs, and an edge-triggered eventfd
 * watch (how virtio-net polls kick eventfds, never reading them) fires once per write
 * however far the counter has grown. iothread_call() is the barrier: an event written
 * before the call is handled before the call returns (same or earlier epoll batch). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/iothread.h"

struct ctx {
    struct iothread io;
    struct iothread_watch w;
    int efd;
    int fired;          /* handler runs, touched on the I/O thread only */
    int policy;
    bool on_thread;
};

static void on_event(struct iothread_watch *w, uint32_t events)
{
    struct ctx *t = w->opaque;
    t->fired++;
}

static void add_watch(void *arg)
{
    struct ctx *t = arg;
    t->w = (struct iothread_watch){ .fd = t->efd,
                                    .events = EPOLLIN | EPOLLET,
                                    .fn = on_event,
                                    .opaque = t };
    assert_int_equal(iothread_watch_add(&t->io, &t->w), 0);
}

static void del_watch(void *arg)
{
    struct ctx *t = arg;
    iothread_watch_del(&t->io, &t->w);
}

static void probe(void *arg)
{
    struct ctx *t = arg;
    t->policy = sched_getscheduler(0);
    t->on_thread = iothread_is_self(&t->io);
}

static void nop(void *arg) { (void)arg; }

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));
    assert_int_equal(iothread_start(&t->io, "test-io"), 0);
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(t->efd >= 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    iothread_call(&t->io, del_watch, t);
    iothread_stop(&t->io);
    close(t->efd);
    free(t);
    return 0;
}

static unsigned run_src, run_size;
static void note_run(void *arg)
{
    struct ctx *t = arg;
    iothread_note_run(&t->io, run_src, run_size);
    probe(t);
}

static int policy_after_run(struct ctx *t, unsigned src, unsigned n)
{
    run_src = src;
    run_size = n;
    iothread_call(&t->io, note_run, t);
    return t->policy;
}

/* Request/response: single items alternating between two sources. */
static void alternate(struct ctx *t, unsigned first, int runs, int expect)
{
    for (int i = 0; i < runs; i++)
        assert_int_equal(policy_after_run(t, (first + (unsigned)i) % 2, 1), expect);
}

static void test_policy_follows_runs(void **state)
{
    struct ctx *t = *state;
    iothread_call(&t->io, probe, t);
    assert_true(t->on_thread);
    assert_int_equal(t->policy, SCHED_OTHER);
    assert_false(iothread_is_self(&t->io));
    alternate(t, 0, 20, SCHED_OTHER);
    assert_int_equal(policy_after_run(t, 1, 5), SCHED_BATCH);     /* a batch */
    assert_int_equal(policy_after_run(t, 1, 0), SCHED_BATCH);     /* nothing moved */
    alternate(t, 0, IOTHREAD_SINGLE_RUNS - 1, SCHED_BATCH);       /* 0 1 0 ..: not yet */
    assert_int_equal(policy_after_run(t, 1, 1), SCHED_OTHER);
    assert_int_equal(policy_after_run(t, 1, 1), SCHED_BATCH);     /* same source twice */
    alternate(t, 0, IOTHREAD_SINGLE_RUNS - 1, SCHED_BATCH);
    assert_int_equal(policy_after_run(t, 1, 1), SCHED_OTHER);
}

static void kick(struct ctx *t)
{
    uint64_t one = 1;
    assert_int_equal(write(t->efd, &one, sizeof(one)), sizeof(one));
}

static void test_edge_triggered_eventfd_fires_per_write(void **state)
{
    struct ctx *t = *state;
    kick(t);                            /* pending before the watch exists */
    iothread_call(&t->io, add_watch, t);
    iothread_call(&t->io, nop, t);
    assert_int_equal(t->fired, 1);      /* reported once on add, not again (not drained) */
    iothread_call(&t->io, nop, t);
    assert_int_equal(t->fired, 1);
    for (int i = 2; i <= 5; i++) {
        kick(t);                        /* counter keeps growing: still one event each */
        iothread_call(&t->io, nop, t);
        assert_int_equal(t->fired, i);
    }
    uint64_t v;
    assert_int_equal(read(t->efd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 5);             /* nobody read it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policy_follows_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_triggered_eventfd_fires_per_write, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
