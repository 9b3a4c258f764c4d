/* vhost-vdpa removal watch (see vdpa_monitor.h): inotify(7) on /dev, IN_DELETE. */
#include "backend/vdpa_monitor.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/confine.h"
#include "base/log.h"

#define MON_MAX 256
#define MON_DIR "/dev"

struct mon_entry {
    unsigned minor;
    void (*fn)(void *opaque);
    void *opaque;
};

static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mon_entry mon[MON_MAX];
static unsigned mon_n;
static int mon_fd = -1;

int vdpa_monitor_parse(const char *name, unsigned *minor)
{
    unsigned m;
    char extra;
    if (strncmp(name, "vhost-vdpa-", 11) || name[11] < '0' || name[11] > '9' ||
        sscanf(name + 11, "%u%c", &m, &extra) != 1)
        return 0;
    *minor = m;
    return 1;
}

/* mon_lock held. Entry i's device is gone: called once, then forgotten. */
static void fire(unsigned i)
{
    struct mon_entry e = mon[i];
    mon[i] = mon[--mon_n];
    e.fn(e.opaque);
}

/* mon_lock held. After a queue overflow (IN_Q_OVERFLOW) events were lost: look. */
static void rescan(void)
{
    for (unsigned i = 0; i < mon_n;) {
        char path[48];
        snprintf(path, sizeof(path), MON_DIR "/vhost-vdpa-%u", mon[i].minor);
        if (access(path, F_OK) < 0 && errno == ENOENT)
            fire(i);
        else
            i++;
    }
}

static void *mon_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "vdpa-watch");
    confine_self(CONFINE_VDPA_WATCH);
    static char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(mon_fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_warn("vDPA removal watch: %s; deleted devices go unnoticed", strerror(errno));
            return NULL;
        }
        pthread_mutex_lock(&mon_lock);
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const void *)(buf + off);
            off += (ssize_t)(sizeof(*ev) + ev->len);
            unsigned minor;
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan();
                continue;
            }
            if (!(ev->mask & IN_DELETE) || !ev->len || off > n ||
                !memchr(ev->name, '\0', ev->len) || !vdpa_monitor_parse(ev->name, &minor))
                continue;
            for (unsigned i = 0; i < mon_n; i++) {
                if (mon[i].minor == minor) {
                    fire(i);
                    break;
                }
            }
        }
        pthread_mutex_unlock(&mon_lock);
    }
}

/* mon_lock held. */
static int mon_start(void)
{
    if (mon_fd >= 0)
        return 0;
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, MON_DIR, IN_DELETE) < 0) {
        log_warn("vDPA removal watch: inotify on " MON_DIR ": %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    mon_fd = fd;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&t, &a, mon_thread, NULL);
    pthread_attr_destroy(&a);
    if (r) {
        log_warn("vDPA removal watch: thread: %s", strerror(r));
        close(fd);
        mon_fd = -1;
        return -1;
    }
    return 0;
}

int vdpa_monitor_add(unsigned minor, void (*fn)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&mon_lock);
    int ret = mon_start();
    if (ret == 0 && mon_n == MON_MAX) {
        log_warn("vDPA removal watch: more than %d devices", MON_MAX);
        ret = -1;
    }
    if (ret == 0)
        mon[mon_n++] = (struct mon_entry){ .minor = minor, .fn = fn, .opaque = opaque };
    pthread_mutex_unlock(&mon_lock);
    return ret;
}

void vdpa_monitor_del(unsigned minor)
{
    pthread_mutex_lock(&mon_lock);
    for (unsigned i = 0; i < mon_n; i++) {
        if (mon[i].minor == minor) {
            mon[i] = mon[--mon_n];
            break;
        }
    }
    pthread_mutex_unlock(&mon_lock);
}
