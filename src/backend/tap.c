/* tap backend: a Linux tap interface with the virtio-net header framing done by the
 * kernel (IFF_VNET_HDR, tap_dev.c), so packets go between guest buffers and the tap with
 * one readv/writev and no copy in vpf. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/tap_dev.h"
#include "base/util.h"

struct tap {
    struct net_backend be;
    struct tap_dev dev;
};

static uint64_t tap_features(struct net_backend *be)
{
    return tap_dev_features(&((struct tap *)be)->dev);
}

static int tap_set_features(struct net_backend *be, uint64_t features)
{
    return tap_dev_set_features(&((struct tap *)be)->dev, features);
}

static ssize_t tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    ssize_t n;
    do
        n = writev(be->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* tun clamps a read to the buffer (tun_chr_read_iter: min(packet, iov length)), so a
 * packet longer than the iovec comes back as a short read that looks like a whole frame.
 * One spare byte after the caller's buffers tells them apart: a read that reaches it did
 * not fit, and is reported as longer than the iovec (the caller drops it, backend.h). */
static ssize_t tap_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct iovec v[IOV_MAX];
    uint8_t spare;
    int m = MIN(iovcnt, IOV_MAX - 1);       /* fewer buffers, never a cut frame */
    size_t room = 0;
    for (int i = 0; i < m; i++) {
        v[i] = iov[i];
        room += iov[i].iov_len;
    }
    size_t total = room;            /* the caller's space: room, unless IOV_MAX cut it */
    for (int i = m; i < iovcnt; i++)
        total += iov[i].iov_len;
    v[m] = (struct iovec){ &spare, 1 };
    ssize_t n;
    do
        n = readv(be->fd, v, m + 1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n > room ? (ssize_t)total + 1 : n;
}

static int tap_set_queue_enabled(struct net_backend *be, bool on)
{
    return tap_dev_set_queue(&((struct tap *)be)->dev, on);
}

static void tap_close(struct net_backend *be)
{
    struct tap *t = (struct tap *)be;
    tap_dev_close(&t->dev);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .type = "tap",
    .kind = NET_BACKEND_USERSPACE,
    .features = tap_features,
    .set_features = tap_set_features,
    .close = tap_close,
    .send = tap_send,
    .recv = tap_recv,
    .set_queue_enabled = tap_set_queue_enabled,
};

/* The tap by name (fd < 0) or the one fd is attached to (taken). */
static struct net_backend *tap_open_any(const char *ifname, int fd, bool mq, char *err,
                                        size_t errlen)
{
    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "tap %s: out of memory", ifname ? ifname : "");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if ((fd >= 0 ? tap_dev_adopt(&t->dev, fd, err, errlen)
                 : tap_dev_open_mq(&t->dev, ifname, mq, err, errlen)) < 0) {
        free(t);
        return NULL;
    }
    t->be.ops = &tap_ops;
    t->be.fd = t->dev.fd;
    t->be.hdr_len = NET_BACKEND_HDR_LEN;
    t->be.tap_created = t->dev.created;
    memcpy(t->be.name, t->dev.name, sizeof(t->dev.name));
    return &t->be;
}

struct net_backend *tap_open(const char *ifname, char *err, size_t errlen)
{
    return tap_open_any(ifname, -1, false, err, errlen);
}

struct net_backend *tap_open_queue(const char *ifname, char *err, size_t errlen)
{
    return tap_open_any(ifname, -1, true, err, errlen);
}

struct net_backend *tap_open_fd(int fd, char *err, size_t errlen)
{
    return tap_open_any(NULL, fd, false, err, errlen);
}

int tap_check_fd(int fd, char name[16], char *err, size_t errlen)
{
    return tap_dev_check_fd(fd, name, err, errlen);
}
