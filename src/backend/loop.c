/* loop backend: a SOCK_SEQPACKET socketpair in place of a tap, one packet (vnet header
 * first) per message. Lets unit tests and the fuzzer drive the real data path. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"

struct loop {
    struct net_backend be;
    uint64_t last_features;
};

static uint64_t loop_features(struct net_backend *be)
{
    return BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
           BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
           BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN);
}

static int loop_set_features(struct net_backend *be, uint64_t features)
{
    ((struct loop *)be)->last_features = features;
    return 0;
}

static ssize_t loop_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    ssize_t n;
    do
        n = sendmsg(be->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t loop_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    /* MSG_TRUNC: the real packet length, like a tap's read. */
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    ssize_t n;
    do
        n = recvmsg(be->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void loop_close(struct net_backend *be)
{
    close(be->fd);
    free(be);
}

static const struct net_backend_ops loop_ops = {
    .type = "loop",
    .kind = NET_BACKEND_USERSPACE,
    .features = loop_features,
    .set_features = loop_set_features,
    .close = loop_close,
    .send = loop_send,
    .recv = loop_recv,
};

struct net_backend *loop_open(int *peer_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("loop backend: socketpair: %m");
        return NULL;
    }
    struct loop *l = calloc(1, sizeof(*l));
    if (!l) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    l->be.ops = &loop_ops;
    l->be.fd = sv[0];
    l->be.hdr_len = NET_BACKEND_HDR_LEN;
    snprintf(l->be.name, sizeof(l->be.name), "loop");
    *peer_fd = sv[1];
    return &l->be;
}

uint64_t loop_last_features(const struct net_backend *be)
{
    return be->ops == &loop_ops ? ((const struct loop *)be)->last_features : 0;
}
