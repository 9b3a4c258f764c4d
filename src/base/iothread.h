/* An I/O thread: one epoll loop that runs device data paths (virtio queue kicks, backend
 * fds). Handlers run on the thread only, so a data path needs no lock. Under bulk
 * traffic it runs SCHED_BATCH: its wakeups do not preempt the thread that caused them
 * (iothread_note_run).
 *
 * Hand-over (architecture: "command eventfd + acknowledgement"): another thread that must
 * change what the loop does (start/stop a device on DRIVER_OK/reset, link change) calls
 * iothread_call(); fn runs on the I/O thread between two epoll batches and the caller
 * returns after it did. The watch set changes only from such calls or from handlers, so
 * watches are plain caller-owned structs, never freed under the loop. */
#ifndef VPF_BASE_IOTHREAD_H
#define VPF_BASE_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct iothread_watch;
typedef void (*iothread_fn)(struct iothread_watch *w, uint32_t revents);

struct iothread_watch {
    int fd;
    uint32_t events;        /* EPOLLIN / EPOLLOUT, level-triggered unless EPOLLET */
    iothread_fn fn;
    void *opaque;
    bool active;            /* registered; cleared by del so a queued event is skipped */
};

struct iothread {
    pthread_t thread;
    int epfd;
    int cmd_fd, ack_fd;     /* eventfds: a call is posted / it has run */
    pthread_mutex_t call_lock;  /* one call at a time (control path only) */
    void (*call_fn)(void *);
    void *call_arg;
    bool quit;
    bool running;
    bool batch;             /* SCHED_BATCH now (I/O thread only) */
    unsigned single_runs;   /* request/response-like runs in a row */
    unsigned last_src;      /* source of the last run that moved anything */
    struct iothread_watch cmd_watch;
    char name[16];
    struct iothread *next;  /* running I/O threads (iothread.c) */
};

/* Creates the epoll set and starts the thread. Returns 0 or -1 (errno). */
int iothread_start(struct iothread *it, const char *name);
/* Stops and joins the thread, closes its fds. Watches are not touched. */
void iothread_stop(struct iothread *it);
/* Runs fn(arg) on the I/O thread and waits for it. From the I/O thread itself, runs it
 * directly. */
void iothread_call(struct iothread *it, void (*fn)(void *), void *arg);
bool iothread_is_self(const struct iothread *it);
/* On the I/O thread, after a data-path handler for source src (e.g. a queue) moved n
 * items (packets): picks the thread's policy. A run is bulk if it moved more than one
 * item or follows a run of the same source (a stream one way, one item per wakeup); then
 * SCHED_BATCH, so its wakeups do not preempt the producer, which goes on queueing.
 * Single items alternating between sources (request/response) for IOTHREAD_SINGLE_RUNS
 * runs: SCHED_OTHER, each answered at once. Runs that moved nothing do not count. */
void iothread_note_run(struct iothread *it, unsigned src, unsigned n);
#define IOTHREAD_SINGLE_RUNS 8

/* Asks every running I/O thread to confine_self(CONFINE_IOTHREAD) and waits for each.
 * Threads started later confine themselves when they start. */
void iothread_confine_all(void);

/* On the I/O thread only (handlers, calls). add with w->fd, w->events, w->fn set.
 * Return 0 or -1 (errno). del of an inactive watch is a no-op. */
int iothread_watch_add(struct iothread *it, struct iothread_watch *w);
int iothread_watch_mod(struct iothread *it, struct iothread_watch *w, uint32_t events);
void iothread_watch_del(struct iothread *it, struct iothread_watch *w);

#endif
