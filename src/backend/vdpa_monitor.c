/* vhost-vdpa removal watch (see vdpa_monitor.h). A kobject uevent is "ACTION@DEVPATH"
 * followed by NUL-separated KEY=VALUE strings (lib/kobject_uevent.c), multicast to
 * group 1 of NETLINK_KOBJECT_UEVENT. */
#include "backend/vdpa_monitor.h"

#include <errno.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

#define MON_MAX 256

struct mon_entry {
    unsigned minor;
    void (*fn)(void *opaque);
    void *opaque;
};

static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mon_entry mon[MON_MAX];
static unsigned mon_n;
static int mon_fd = -1;

int vdpa_monitor_parse(const char *msg, size_t len, unsigned *minor)
{
    bool remove = false, have = false;
    unsigned m = 0;
    for (size_t off = 0; off < len;) {
        const char *s = msg + off;
        size_t n = strnlen(s, len - off);
        char extra;
        if (n == 13 && !memcmp(s, "ACTION=remove", 13))
            remove = true;
        else if (n > 8 && n < 40 && !memcmp(s, "DEVNAME=", 8)) {
            char buf[40];
            memcpy(buf, s + 8, n - 8);
            buf[n - 8] = '\0';
            /* DEVNAME is relative to /dev; "vhost-vdpa-N" exactly. */
            have = sscanf(buf, "vhost-vdpa-%u%c", &m, &extra) == 1 && !strncmp(buf, "vhost-vdpa-", 11);
        }
        off += n + 1;
    }
    if (remove && have) {
        *minor = m;
        return 1;
    }
    return 0;
}

static void *mon_thread(void *arg)
{
    (void)arg;
    static char buf[8192];
    for (;;) {
        ssize_t n = recv(mon_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS)
                continue;   /* ENOBUFS: events lost; later ones still count */
            log_warn("vDPA removal watch: %s; deleted devices go unnoticed", strerror(errno));
            return NULL;
        }
        buf[n] = '\0';
        unsigned minor;
        if (!vdpa_monitor_parse(buf, (size_t)n, &minor))
            continue;
        pthread_mutex_lock(&mon_lock);
        for (unsigned i = 0; i < mon_n; i++) {
            if (mon[i].minor == minor) {
                struct mon_entry e = mon[i];
                mon[i] = mon[--mon_n];
                e.fn(e.opaque);
                break;
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
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        log_warn("vDPA removal watch: uevent socket: %s", strerror(errno));
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
