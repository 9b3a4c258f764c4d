#include "base/iothread.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/confine.h"
#include "base/log.h"

#define IOTHREAD_BATCH 64

/* Running I/O threads, so the ones started during setup can be asked to confine
 * themselves once the VM is set up (iothread_confine_all). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iothread *registry;

static void drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void run_call(struct iothread *it)
{
    drain(it->cmd_fd);
    it->call_fn(it->call_arg);
    signal_fd(it->ack_fd);
}

static void *iothread_main(void *arg)
{
    struct iothread *it = arg;
    struct epoll_event ev[IOTHREAD_BATCH];
    /* Named by the thread itself (prctl), not by its creator (which would open
     * /proc/self/task/TID/comm): VF I/O threads are created on confined vCPU threads. */
    pthread_setname_np(pthread_self(), it->name);
    confine_self(CONFINE_IOTHREAD);
    while (!it->quit) {
        int n = epoll_wait(it->epfd, ev, IOTHREAD_BATCH, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("%s: epoll_wait", it->name);
        }
        bool call = false;
        for (int i = 0; i < n; i++) {
            struct iothread_watch *w = ev[i].data.ptr;
            if (w == &it->cmd_watch)
                call = true;
            else if (w->active)
                w->fn(w, ev[i].events);
        }
        /* Calls run after the batch: a call that deletes watches (device stop) never
         * leaves an event for them behind in ev[]. */
        if (call)
            run_call(it);
    }
    return NULL;
}

int iothread_start(struct iothread *it, const char *name)
{
    memset(it, 0, sizeof(*it));
    it->last_src = UINT_MAX;
    snprintf(it->name, sizeof(it->name), "%s", name);
    it->epfd = epoll_create1(EPOLL_CLOEXEC);
    it->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    it->ack_fd = eventfd(0, EFD_CLOEXEC);            /* blocking: callers wait on it */
    if (it->epfd < 0 || it->cmd_fd < 0 || it->ack_fd < 0)
        goto fail;
    pthread_mutex_init(&it->call_lock, NULL);
    it->cmd_watch = (struct iothread_watch){ .fd = it->cmd_fd, .events = EPOLLIN };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &it->cmd_watch };
    if (epoll_ctl(it->epfd, EPOLL_CTL_ADD, it->cmd_fd, &ev) < 0)
        goto fail_lock;
    int err = pthread_create(&it->thread, NULL, iothread_main, it);
    if (err) {
        errno = err;
        goto fail_lock;
    }
    it->running = true;
    pthread_mutex_lock(&registry_lock);
    it->next = registry;
    registry = it;
    pthread_mutex_unlock(&registry_lock);
    return 0;
fail_lock:
    pthread_mutex_destroy(&it->call_lock);
fail: {
    int e = errno;
    if (it->epfd >= 0)
        close(it->epfd);
    if (it->cmd_fd >= 0)
        close(it->cmd_fd);
    if (it->ack_fd >= 0)
        close(it->ack_fd);
    errno = e;
    return -1;
}
}

static void set_quit(void *arg) { ((struct iothread *)arg)->quit = true; }

void iothread_stop(struct iothread *it)
{
    if (!it->running)
        return;
    pthread_mutex_lock(&registry_lock);
    for (struct iothread **p = &registry; *p; p = &(*p)->next) {
        if (*p == it) {
            *p = it->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    iothread_call(it, set_quit, it);
    pthread_join(it->thread, NULL);
    it->running = false;
    pthread_mutex_destroy(&it->call_lock);
    close(it->epfd);
    close(it->cmd_fd);
    close(it->ack_fd);
}

/* SCHED_BATCH (sched(7)): same nice level and CPU share as SCHED_OTHER, but its wakeups
 * (a kick, a packet on the backend) never preempt the task running on that CPU, e.g. the
 * vCPU thread that kicked or the process filling the tap. That task goes on (the guest
 * queues more buffers without kicking, the sender more packets) and the I/O thread takes
 * them in one batch when it blocks or at the next tick; on an idle CPU it changes
 * nothing. For one packet at a time (request/response) that only delays the answer until
 * the guest halts, so alternating single-item runs switch back. Nested A/B 4-8:
 * bench/results/NOTES.md. */
static void set_batch(struct iothread *it, bool on)
{
    struct sched_param sp = { .sched_priority = 0 };
    if (pthread_setschedparam(pthread_self(), on ? SCHED_BATCH : SCHED_OTHER, &sp) != 0)
        log_debug("%s: scheduling policy refused", it->name);
    it->batch = on;     /* even if refused: do not retry on every run */
}

void iothread_note_run(struct iothread *it, unsigned src, unsigned n)
{
    if (n == 0)
        return;
    bool bulk = n > 1 || src == it->last_src;
    it->last_src = src;
    if (bulk) {
        it->single_runs = 0;
        if (!it->batch)
            set_batch(it, true);
    } else if (it->batch && ++it->single_runs >= IOTHREAD_SINGLE_RUNS) {
        set_batch(it, false);
    }
}

bool iothread_is_self(const struct iothread *it)
{
    return it->running && pthread_equal(pthread_self(), it->thread);
}

void iothread_call(struct iothread *it, void (*fn)(void *), void *arg)
{
    if (iothread_is_self(it)) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&it->call_lock);
    it->call_fn = fn;
    it->call_arg = arg;
    /* eventfd write/read order the call_fn/arg stores before the thread's loads and the
     * thread's effects before our return. */
    signal_fd(it->cmd_fd);
    drain(it->ack_fd);
    pthread_mutex_unlock(&it->call_lock);
}

int iothread_watch_add(struct iothread *it, struct iothread_watch *w)
{
    struct epoll_event ev = { .events = w->events, .data.ptr = w };
    if (epoll_ctl(it->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -1;
    w->active = true;
    return 0;
}

int iothread_watch_mod(struct iothread *it, struct iothread_watch *w, uint32_t events)
{
    if (!w->active || w->events == events)
        return 0;
    struct epoll_event ev = { .events = events, .data.ptr = w };
    if (epoll_ctl(it->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return -1;
    w->events = events;
    return 0;
}

void iothread_watch_del(struct iothread *it, struct iothread_watch *w)
{
    if (!w->active)
        return;
    epoll_ctl(it->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->active = false;
}

static void confine_call(void *arg)
{
    (void)arg;
    confine_self(CONFINE_IOTHREAD);
}

void iothread_confine_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct iothread *it = registry; it; it = it->next)
        iothread_call(it, confine_call, NULL);
    pthread_mutex_unlock(&registry_lock);
}
