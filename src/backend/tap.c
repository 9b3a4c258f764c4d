/* tap backend: a Linux tap interface with the virtio-net header framing done by the
 * kernel (IFF_VNET_HDR), so packets go between guest buffers and the tap with one
 * readv/writev and no copy in vpf. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"

#define F(bit) (1ull << (bit))

struct tap {
    struct net_backend be;
    bool created;
    unsigned tun_offloads;      /* TUN_F_* the kernel accepted at probe time */
};

/* Guest-direction offloads: what the tap may hand us, hence the guest (TUNSETOFFLOAD). */
static const struct { unsigned bit; unsigned tun; } guest_offloads[] = {
    { VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM },
    { VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4 },
    { VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6 },
    { VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN },
};

static unsigned to_tun(uint64_t features)
{
    unsigned t = 0;
    for (size_t i = 0; i < sizeof(guest_offloads) / sizeof(guest_offloads[0]); i++)
        if (features & F(guest_offloads[i].bit))
            t |= guest_offloads[i].tun;
    return t;
}

static uint64_t tap_features(struct net_backend *be)
{
    struct tap *t = (struct tap *)be;
    /* Host direction: a vnet-header tap accepts partial checksums and TSO/ECN GSO
     * packets from us (virtio_net_hdr_to_skb). UFO is left out: Linux guests no longer
     * produce it. */
    uint64_t f = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
                 F(VIRTIO_NET_F_HOST_ECN);
    for (size_t i = 0; i < sizeof(guest_offloads) / sizeof(guest_offloads[0]); i++)
        if ((t->tun_offloads & guest_offloads[i].tun) == guest_offloads[i].tun)
            f |= F(guest_offloads[i].bit);
    return f;
}

static int tap_set_features(struct net_backend *be, uint64_t features)
{
    struct tap *t = (struct tap *)be;
    unsigned off = to_tun(features) & t->tun_offloads;
    if (ioctl(be->fd, TUNSETOFFLOAD, off) < 0) {
        log_error("tap %s: TUNSETOFFLOAD %#x: %s", be->name, off, strerror(errno));
        return -1;
    }
    return 0;
}

static ssize_t tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    ssize_t n;
    do
        n = writev(be->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t tap_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    /* tun returns the packet's full length even when the iovec was too short
     * (tun_put_user), which is what tells the caller about truncation. */
    ssize_t n;
    do
        n = readv(be->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void tap_close(struct net_backend *be)
{
    struct tap *t = (struct tap *)be;
    if (t->created)
        log_info("tap %s: removed (created by vpf)", be->name);
    close(be->fd);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .type = "tap", .kind = NET_BACKEND_USERSPACE,
    .features = tap_features, .set_features = tap_set_features, .close = tap_close,
    .send = tap_send, .recv = tap_recv,
};

/* Largest subset of offloads this kernel's tun accepts (older kernels refuse ECN). */
static unsigned probe_offloads(int fd)
{
    static const unsigned tries[] = {
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
        TUN_F_CSUM,
    };
    unsigned ok = 0;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        if (ioctl(fd, TUNSETOFFLOAD, tries[i]) == 0) {
            ok = tries[i];
            break;
        }
    }
    /* Nothing is negotiated yet: no offloaded packets until set_features(). */
    ioctl(fd, TUNSETOFFLOAD, 0);
    return ok;
}

static void set_ifname(struct ifreq *ifr, const char *name)
{
    memset(ifr->ifr_name, 0, sizeof(ifr->ifr_name));
    memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
}

static int link_up(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr = { 0 };
    set_ifname(&ifr, ifname);
    int ret = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (ret == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        ret = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    close(s);
    errno = err;
    return ret;
}

struct net_backend *tap_open(const char *ifname)
{
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
        log_error("tap: invalid interface name '%s'", ifname ? ifname : "");
        return NULL;
    }
    bool existed = if_nametoindex(ifname) != 0;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        log_error("tap %s: /dev/net/tun: %s", ifname, strerror(errno));
        return NULL;
    }
    unsigned feats = 0;
    if (ioctl(fd, TUNGETFEATURES, &feats) < 0 || !(feats & IFF_VNET_HDR)) {
        log_error("tap %s: kernel tun lacks IFF_VNET_HDR", ifname);
        goto fail;
    }
    struct ifreq ifr = { 0 };
    set_ifname(&ifr, ifname);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        log_error("tap %s: TUNSETIFF: %s%s", ifname, strerror(errno),
                  existed ? " (exists: not a tap, busy, or owned by another user?)" : "");
        goto fail;
    }
    int hdr = NET_BACKEND_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
        log_error("tap %s: TUNSETVNETHDRSZ: %s", ifname, strerror(errno));
        goto fail;
    }
    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        log_error("tap %s: out of memory", ifname);
        goto fail;
    }
    t->be.ops = &tap_ops;
    t->be.fd = fd;
    t->be.hdr_len = NET_BACKEND_HDR_LEN;
    memcpy(t->be.name, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ - 1));
    t->created = !existed;
    t->tun_offloads = probe_offloads(fd);
    if (link_up(t->be.name) < 0)
        log_warn("tap %s: cannot bring the link up: %s", t->be.name, strerror(errno));
    log_info("tap %s: %s, offloads %#x", t->be.name, existed ? "attached" : "created",
             t->tun_offloads);
    return &t->be;
fail:
    close(fd);
    return NULL;
}

bool tap_created(const struct net_backend *be)
{
    return be && be->ops == &tap_ops && ((const struct tap *)be)->created;
}
