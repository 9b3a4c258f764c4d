/* vhost-net backend: the kernel's vhost worker moves packets between the guest's rings
 * and a tap, vpf only sets it up (Linux drivers/vhost/net.c, vhost.c).
 *
 * Header rules (virtio 1.2 §5.1.6): with VERSION_1 every packet carries the 12-byte
 * struct virtio_net_hdr_v1. The tap reads and writes that header itself (IFF_VNET_HDR,
 * TUNSETVNETHDRSZ 12, tap_dev.c), so vhost is told to add none of its own
 * (VHOST_NET_F_VIRTIO_NET_HDR stays clear) and passes the guest's header through; with
 * MRG_RXBUF vhost fills in num_buffers. Offloads (CSUM, TSO, ECN) are the tap's business,
 * negotiated with TUNSETOFFLOAD exactly as for the tap backend.
 *
 * Sequence (as QEMU's vhost_dev_start and kvmtool do it): open: SET_OWNER (the worker
 * thread "vhost-PID" uses vpf's memory), GET_FEATURES. start: SET_FEATURES, SET_MEM_TABLE,
 * then per ring NUM, BASE, ADDR (host virtual addresses), KICK, CALL, ERR, and
 * NET_SET_BACKEND with the tap when the link is up. stop: NET_SET_BACKEND -1 (vhost
 * flushes: nothing touches guest memory after it returns), GET_VRING_BASE, then the
 * eventfds unbound. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/tap_dev.h"
#include "base/log.h"
#include "base/util.h"

/* Starts and stops follow the guest (DRIVER_OK, resets, VF Enable): limited. */
static struct log_ratelimit vhost_rl = { .burst = 2 * 128 + 2 };   /* one full VF Enable */

#define VHOST_NET_PATH "/dev/vhost-net"
#define VHOST_NET_VRINGS 2          /* vhost-net's vq 0 is RX, 1 is TX: virtio-net's order */

/* Ring features vpf's virtio-net offers that vhost must implement for the guest. */
#define VHOST_NEEDED (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF) | \
    BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC))

struct vhost_net {
    struct net_backend be;
    struct tap_dev tap;
    int vfd;                        /* /dev/vhost-net */
    uint64_t vhost_features;        /* VHOST_GET_FEATURES */
    unsigned nvrings;               /* started rings, 0 when stopped */
    bool attached;                  /* tap attached to the started rings */
};

static struct vhost_net *to_vn(struct net_backend *be) { return (struct vhost_net *)be; }

static int vioctl(struct vhost_net *v, unsigned long req, const char *what, void *arg)
{
    if (ioctl(v->vfd, req, arg) < 0) {
        log_error_rl(&vhost_rl, "vhost-net %s: %s: %s", v->be.name, what, strerror(errno));
        return -1;
    }
    return 0;
}

static uint64_t vn_features(struct net_backend *be) { return tap_dev_features(&to_vn(be)->tap); }

static int vn_set_features(struct net_backend *be, uint64_t features)
{
    return tap_dev_set_features(&to_vn(be)->tap, features);
}

/* Attaches (fd = the tap) or detaches (fd = -1) the packet source of every started ring. */
static int attach(struct vhost_net *v, int fd)
{
    int ret = 0;
    for (unsigned i = 0; i < v->nvrings; i++) {
        struct vhost_vring_file f = { .index = i, .fd = fd };
        if (vioctl(v, VHOST_NET_SET_BACKEND, fd < 0 ? "detach" : "attach", &f) < 0)
            ret = -1;
    }
    v->attached = fd >= 0 && ret == 0;
    return ret;
}

static int set_mem_table(struct vhost_net *v, const struct guest_mem *mem)
{
    struct vhost_memory *m = calloc(1, sizeof(*m) + mem->nregions * sizeof(m->regions[0]));
    if (!m) {
        log_error("vhost-net %s: out of memory", v->be.name);
        return -1;
    }
    m->nregions = mem->nregions;
    for (unsigned i = 0; i < mem->nregions; i++) {
        m->regions[i].guest_phys_addr = mem->regions[i].gpa;
        m->regions[i].memory_size = mem->regions[i].size;
        m->regions[i].userspace_addr = (uint64_t)(uintptr_t)mem->regions[i].hva;
    }
    int ret = vioctl(v, VHOST_SET_MEM_TABLE, "SET_MEM_TABLE", m);
    free(m);
    return ret;
}

/* Host address of [gpa, gpa + len), 0 if not guest RAM (rings were checked at queue
 * enable, so this is a second line only). */
static uint64_t hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    return (uint64_t)(uintptr_t)guest_mem_ptr(mem, gpa, len);
}

static int set_vring(struct vhost_net *v, unsigned i, const struct guest_mem *mem,
                     const struct net_backend_vring *r)
{
    struct vhost_vring_state num = { .index = i, .num = r->size };
    struct vhost_vring_state base = { .index = i, .num = r->last_avail };
    /* virtio 1.2 §2.7: descriptor table 16 * size, avail 6 + 2 * size, used 6 + 8 * size. */
    struct vhost_vring_addr addr = {
        .index = i,
        .desc_user_addr = hva(mem, r->desc_gpa, 16ull * r->size),
        .avail_user_addr = hva(mem, r->avail_gpa, 6 + 2ull * r->size),
        .used_user_addr = hva(mem, r->used_gpa, 6 + 8ull * r->size),
    };
    struct vhost_vring_file kick = { .index = i, .fd = r->kick_fd };
    struct vhost_vring_file call = { .index = i, .fd = r->call_fd };
    struct vhost_vring_file err = { .index = i, .fd = r->err_fd };
    if (!addr.desc_user_addr || !addr.avail_user_addr || !addr.used_user_addr) {
        log_error_rl(&vhost_rl, "vhost-net %s: ring %u outside guest RAM", v->be.name, i);
        return -1;
    }
    if (vioctl(v, VHOST_SET_VRING_NUM, "SET_VRING_NUM", &num) < 0 ||
        vioctl(v, VHOST_SET_VRING_BASE, "SET_VRING_BASE", &base) < 0 ||
        vioctl(v, VHOST_SET_VRING_ADDR, "SET_VRING_ADDR", &addr) < 0 ||
        vioctl(v, VHOST_SET_VRING_KICK, "SET_VRING_KICK", &kick) < 0 ||
        vioctl(v, VHOST_SET_VRING_CALL, "SET_VRING_CALL", &call) < 0 ||
        vioctl(v, VHOST_SET_VRING_ERR, "SET_VRING_ERR", &err) < 0)
        return -1;
    return 0;
}

/* Unbinds ring i's eventfds, so vhost holds none of the device's fds while stopped. */
static void unbind_vring(struct vhost_net *v, unsigned i)
{
    struct vhost_vring_file f = { .index = i, .fd = VHOST_FILE_UNBIND };
    vioctl(v, VHOST_SET_VRING_KICK, "unbind kick", &f);
    vioctl(v, VHOST_SET_VRING_CALL, "unbind call", &f);
    vioctl(v, VHOST_SET_VRING_ERR, "unbind err", &f);
}

static void vn_stop(struct net_backend *be, uint16_t *last_avail, unsigned nvrings)
{
    struct vhost_net *v = to_vn(be);
    unsigned n = v->nvrings;
    attach(v, -1);
    for (unsigned i = 0; i < n; i++) {
        struct vhost_vring_state s = { .index = i };
        if (vioctl(v, VHOST_GET_VRING_BASE, "GET_VRING_BASE", &s) == 0 && i < nvrings)
            last_avail[i] = (uint16_t)s.num;
        unbind_vring(v, i);
    }
    v->nvrings = 0;
}

static int vn_start(struct net_backend *be, const struct net_backend_offload *cfg)
{
    struct vhost_net *v = to_vn(be);
    if (cfg->nvrings != VHOST_NET_VRINGS) {
        log_error("vhost-net %s: %u rings, vhost-net takes %d", be->name, cfg->nvrings,
                  VHOST_NET_VRINGS);
        return -1;
    }
    /* Only ring features: the offload bits are the tap's, and VHOST_NET_F_VIRTIO_NET_HDR
     * (bit 27) must stay clear, the tap does the header. vpf never offers bit 27
     * (ANY_LAYOUT), so the guest cannot have negotiated it. */
    uint64_t f = cfg->features & v->vhost_features & ~BIT(VHOST_NET_F_VIRTIO_NET_HDR);
    if (vioctl(v, VHOST_SET_FEATURES, "SET_FEATURES", &f) < 0 || set_mem_table(v, cfg->mem) < 0)
        return -1;
    for (unsigned i = 0; i < cfg->nvrings; i++) {
        v->nvrings = i + 1;
        if (set_vring(v, i, cfg->mem, &cfg->vrings[i]) < 0)
            goto fail;
    }
    if (cfg->link_up && attach(v, v->tap.fd) < 0)
        goto fail;
    log_debug_rl(&vhost_rl, "vhost-net %s: started, features %#llx, link %s", be->name,
                 (unsigned long long)f, cfg->link_up ? "up" : "down");
    return 0;
fail: {
    uint16_t ignored[VHOST_NET_VRINGS];
    vn_stop(be, ignored, VHOST_NET_VRINGS);
}
    return -1;
}

static int vn_set_link(struct net_backend *be, bool up)
{
    struct vhost_net *v = to_vn(be);
    if (!v->nvrings || v->attached == up)
        return 0;
    return attach(v, up ? v->tap.fd : -1);
}

/* vhost signals the error eventfd for a broken ring and also when its tap went away
 * under it (deleted by the admin): tun then answers TUNGETIFF with EBADFD. */
static bool vn_backend_broken(struct net_backend *be)
{
    struct ifreq ifr;
    return ioctl(to_vn(be)->tap.fd, TUNGETIFF, &ifr) < 0;
}

static int read_counter(const char *ifname, const char *name, uint64_t *out)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    *out = ok ? v : 0;
    return ok ? 0 : -1;
}

/* The tap's counters, seen from the guest: what the tap transmits reaches the guest. */
static int vn_stats(struct net_backend *be, struct net_backend_stats *s)
{
    const char *t = to_vn(be)->tap.name;
    int r = 0;
    r |= read_counter(t, "tx_packets", &s->rx_packets);
    r |= read_counter(t, "tx_bytes", &s->rx_bytes);
    r |= read_counter(t, "tx_dropped", &s->rx_dropped);
    r |= read_counter(t, "tx_errors", &s->rx_errors);
    r |= read_counter(t, "rx_packets", &s->tx_packets);
    r |= read_counter(t, "rx_bytes", &s->tx_bytes);
    r |= read_counter(t, "rx_dropped", &s->tx_dropped);
    r |= read_counter(t, "rx_errors", &s->tx_errors);
    return r;
}

static void vn_close(struct net_backend *be)
{
    struct vhost_net *v = to_vn(be);
    if (v->nvrings) {
        uint16_t ignored[VHOST_NET_VRINGS];
        vn_stop(be, ignored, VHOST_NET_VRINGS);
    }
    close(v->vfd);      /* the last reference: the vhost worker exits */
    tap_dev_close(&v->tap);
    free(v);
}

/* I/O thread, while started: vhost signals fd from its next interrupt on. */
static int vn_set_call(struct net_backend *be, unsigned ring, int fd)
{
    struct vhost_net *v = to_vn(be);
    struct vhost_vring_file call = { .index = ring, .fd = fd };
    if (ring >= v->nvrings)
        return -1;
    return vioctl(v, VHOST_SET_VRING_CALL, "SET_VRING_CALL", &call);
}

/* A queue of a multi-queue tap: detached, vhost moves nothing on it (as QEMU's
 * tap_disable for vhost-net). */
static int vn_set_queue_enabled(struct net_backend *be, bool on)
{
    return tap_dev_set_queue(&to_vn(be)->tap, on);
}

static const struct net_backend_ops vhost_net_ops = {
    .type = "vhost-net",
    .kind = NET_BACKEND_OFFLOAD,
    .features = vn_features,
    .set_features = vn_set_features,
    .close = vn_close,
    .start_offload = vn_start,
    .stop_offload = vn_stop,
    .set_link = vn_set_link,
    .backend_broken = vn_backend_broken,
    .stats = vn_stats,
    .set_call = vn_set_call,
    .set_queue_enabled = vn_set_queue_enabled,
};

/* On the tap ifname, or (fd >= 0, taken) the one fd is attached to, named ifname. */
static struct net_backend *vhost_net_open_any(const char *ifname, int fd, bool mq, char *err,
                                              size_t errlen)
{
    const char *name = ifname ? ifname : "";
    struct vhost_net *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vhost-net %s: out of memory", name);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    v->vfd = open(VHOST_NET_PATH, O_RDWR | O_CLOEXEC);
    if (v->vfd < 0) {
        snprintf(err, errlen, "vhost-net on tap %s: %s: %s%s", name, VHOST_NET_PATH,
                 strerror(errno), errno == ENOENT ? " (is the vhost_net module loaded?)" : "");
        free(v);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    snprintf(v->be.name, sizeof(v->be.name), "%s", name);
    if (ioctl(v->vfd, VHOST_SET_OWNER, NULL) < 0 ||
        ioctl(v->vfd, VHOST_GET_FEATURES, &v->vhost_features) < 0) {
        snprintf(err, errlen, "vhost-net on tap %s: VHOST_SET_OWNER/GET_FEATURES: %s", name,
                 strerror(errno));
        goto fail;
    }
    if ((v->vhost_features & VHOST_NEEDED) != VHOST_NEEDED) {
        snprintf(err, errlen, "vhost-net on tap %s: the kernel's vhost-net lacks features %#llx",
                 name, (unsigned long long)(VHOST_NEEDED & ~v->vhost_features));
        goto fail;
    }
    int r = fd >= 0 ? tap_dev_adopt(&v->tap, fd, err, errlen)
                    : tap_dev_open_mq(&v->tap, ifname, mq, err, errlen);
    fd = -1;                                    /* taken either way */
    if (r < 0)
        goto fail;
    v->be.ops = &vhost_net_ops;
    v->be.fd = -1;
    v->be.hdr_len = NET_BACKEND_HDR_LEN;
    v->be.tap_created = v->tap.created;
    log_info_rl(&vhost_rl, "vhost-net %s: kernel data path ready", v->be.name);
    return &v->be;
fail:
    close(v->vfd);
    free(v);
    if (fd >= 0)
        close(fd);
    return NULL;
}

struct net_backend *vhost_net_open(const char *ifname, char *err, size_t errlen)
{
    return vhost_net_open_any(ifname, -1, false, err, errlen);
}

struct net_backend *vhost_net_open_queue(const char *ifname, char *err, size_t errlen)
{
    return vhost_net_open_any(ifname, -1, true, err, errlen);
}

struct net_backend *vhost_net_open_fd(int fd, char *err, size_t errlen)
{
    char name[IFNAMSIZ] = "", why[160];
    if (tap_dev_check_fd(fd, name, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "vhost-net: fd %d: %s", fd, why);
        close(fd);
        return NULL;
    }
    return vhost_net_open_any(name, fd, false, err, errlen);
}
