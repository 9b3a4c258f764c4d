/* Opening and configuring a tap with the virtio-net header framing (tap_dev.h). */
#include "backend/tap_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"


/* Guest-direction offloads: what the tap may hand us, hence the guest (TUNSETOFFLOAD). */
static const struct {
    unsigned bit;
    unsigned tun;
} guest_offloads[] = {
    { VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM },
    { VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4 },
    { VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6 },
    { VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN },
};

static unsigned to_tun(uint64_t features)
{
    unsigned t = 0;
    for (size_t i = 0; i < ARRAY_SIZE(guest_offloads); i++)
        if (features & BIT(guest_offloads[i].bit))
            t |= guest_offloads[i].tun;
    return t;
}

uint64_t tap_dev_features(const struct tap_dev *t)
{
    /* Host direction: a vnet-header tap accepts partial checksums and TSO/ECN GSO
     * packets (virtio_net_hdr_to_skb). UFO is left out: Linux guests no longer
     * produce it. */
    uint64_t f = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
                 BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN);
    for (size_t i = 0; i < ARRAY_SIZE(guest_offloads); i++)
        if ((t->tun_offloads & guest_offloads[i].tun) == guest_offloads[i].tun)
            f |= BIT(guest_offloads[i].bit);
    return f;
}

int tap_dev_set_features(struct tap_dev *t, uint64_t features)
{
    unsigned off = to_tun(features) & t->tun_offloads;
    if (ioctl(t->fd, TUNSETOFFLOAD, off) < 0) {
        log_error("tap %s: TUNSETOFFLOAD %#x: %s", t->name, off, strerror(errno));
        return -1;
    }
    return 0;
}

/* Largest subset of offloads this kernel's tun accepts (older kernels refuse ECN). */
static unsigned probe_offloads(int fd)
{
    static const unsigned tries[] = {
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
        TUN_F_CSUM,
    };
    unsigned ok = 0;
    for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
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

int tap_dev_open(struct tap_dev *t, const char *ifname, char *err, size_t errlen)
{
    return tap_dev_open_mq(t, ifname, false, err, errlen);
}

int tap_dev_set_queue(struct tap_dev *t, bool on)
{
    struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };
    return ioctl(t->fd, TUNSETQUEUE, &ifr);
}

int tap_dev_open_mq(struct tap_dev *t, const char *ifname, bool multi_queue, char *err,
                    size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
        snprintf(err, errlen, "tap: invalid interface name '%s'", ifname ? ifname : "");
        return -1;
    }
    bool existed = if_nametoindex(ifname) != 0;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "tap %s: /dev/net/tun: %s", ifname, strerror(errno));
        return -1;
    }
    unsigned feats = 0;
    if (ioctl(fd, TUNGETFEATURES, &feats) < 0 || !(feats & IFF_VNET_HDR)) {
        snprintf(err, errlen, "tap %s: kernel tun lacks IFF_VNET_HDR", ifname);
        goto fail;
    }
    struct ifreq ifr = { 0 };
    set_ifname(&ifr, ifname);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, errlen, "tap %s: TUNSETIFF%s: %s%s", ifname,
                 multi_queue ? " (IFF_MULTI_QUEUE)" : "", strerror(errno),
                 existed ? " (exists: not a tap, busy, owned by another user, or "
                           "single-queue?)"
                         : "");
        goto fail;
    }
    int hdr = NET_BACKEND_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
        snprintf(err, errlen, "tap %s: TUNSETVNETHDRSZ: %s", ifname, strerror(errno));
        goto fail;
    }
    t->fd = fd;
    memcpy(t->name, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ - 1));
    t->created = !existed;
    t->tun_offloads = probe_offloads(fd);
    /* Opened again at every VF Enable (guest-triggered): limited, with room for one full
     * enable of the most VFs a PF may have (128). */
    static struct log_ratelimit rl = { .burst = 2 * 128 + 2 };
    if (link_up(t->name) < 0)
        log_warn_rl(&rl, "tap %s: cannot bring the link up: %s", t->name, strerror(errno));
    log_info_rl(&rl, "tap %s: %s, offloads %#x", t->name, existed ? "attached" : "created",
                t->tun_offloads);
    return 0;
fail:
    close(fd);
    return -1;
}

int tap_dev_check_fd(int fd, char name[IFNAMSIZ], char *err, size_t errlen)
{
    struct ifreq ifr = { 0 };
    const unsigned want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
        snprintf(err, errlen, "not an open tap (TUNGETIFF: %s)",
                 errno == EBADF    ? "not an open file"
                 : errno == EBADFD ? "no interface attached"
                                   : strerror(errno));
        return -1;
    }
    memcpy(name, ifr.ifr_name, IFNAMSIZ);
    name[IFNAMSIZ - 1] = '\0';
    if ((ifr.ifr_flags & (want | IFF_TUN)) != want) {
        snprintf(err, errlen,
                 "%s is not a tap with IFF_NO_PI and IFF_VNET_HDR (open it with "
                 "ip tuntap ... vnet_hdr, or TUNSETIFF with those flags)",
                 name);
        return -1;
    }
    return 0;
}

int tap_dev_adopt(struct tap_dev *t, int fd, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    int hdr = NET_BACKEND_HDR_LEN, fl;
    char why[160];
    if (tap_dev_check_fd(fd, t->name, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "fd %d: %s", fd, why);
        goto fail;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
        snprintf(err, errlen, "tap %s (fd %d): %s", t->name, fd, strerror(errno));
        goto fail;
    }
    t->fd = fd;
    t->tun_offloads = probe_offloads(fd);
    static struct log_ratelimit rl = { .burst = 2 * 128 + 2 };  /* at every VF Enable */
    log_info_rl(&rl, "tap %s: handed over (fd %d), offloads %#x", t->name, fd, t->tun_offloads);
    return 0;
fail:
    close(fd);
    return -1;
}

void tap_dev_close(struct tap_dev *t)
{
    if (t->fd < 0)
        return;
    static struct log_ratelimit rl = { .burst = 2 * 128 + 2 };  /* at every VF Disable */
    if (t->created)
        log_info_rl(&rl, "tap %s: removed (created by vpf)", t->name);
    close(t->fd);
    t->fd = -1;
}
