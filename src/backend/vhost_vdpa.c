/* vhost-vdpa backend: a vDPA device (hardware, or the kernel's simulator) moves the
 * packets between the guest's rings and the wire; vpf only sets it up through
 * /dev/vhost-vdpa-N (Linux drivers/vhost/vdpa.c) and keeps the control queue, as with
 * vhost-net (the device's own control queue is never negotiated: vpf answers CTRL_RX,
 * CTRL_MAC_ADDR and NOTF_COAL itself, as its virtio-net does for every backend).
 *
 * Open: VHOST_SET_OWNER (the device pins pages of vpf's mm), VHOST_VDPA_GET_DEVICE_ID
 * (must be 1, virtio-net: virtio 1.2 §5), backend features (VHOST_BACKEND_F_IOTLB_MSG_V2
 * required, IOTLB_BATCH and SUSPEND used when offered), device features (VERSION_1
 * required), the IOVA range, the largest ring, the device's config (MAC when it has
 * VIRTIO_NET_F_MAC), then status 0 (reset); with VIRTIO_NET_F_STATUS an eventfd for its
 * config interrupt (VHOST_VDPA_SET_CONFIG_CALL), which the device's I/O thread watches
 * while offloaded, reading the link state with VHOST_VDPA_GET_CONFIG (net_offload.c).
 *
 * Start (DRIVER_OK of the guest, I/O thread), the virtio 1.2 §3.1.1 driver sequence on
 * the device: status ACKNOWLEDGE|DRIVER; SET_FEATURES (vhost_vdpa_driver_features);
 * FEATURES_OK, read back; guest RAM mapped with IOVA = guest physical address through
 * VHOST_IOTLB_UPDATE messages (struct vhost_msg_v2 written to the fd, one batch), each
 * region inside VHOST_VDPA_GET_IOVA_RANGE; per ring SET_VRING_NUM, BASE, ADDR (IOVAs,
 * i.e. guest physical), KICK (the queue's ioeventfd), CALL; DRIVER_OK, read back; then
 * VHOST_VDPA_SET_VRING_ENABLE on both rings if the link is up. Link down disables the
 * rings (the device moves nothing), link up enables them again.
 * Stop (reset, FLR, VF Disable, guest error): SUSPEND when offered, GET_VRING_BASE of
 * each ring (Linux 6.1 has no SUSPEND: the bases are read from the running device, which
 * is harmless since every stop is followed by a reset of the guest's rings), status 0
 * (the device stops and forgets its mappings), kick/call unbound, the IOTLB entries
 * invalidated (vhost-vdpa unpins the pages).
 *
 * Pinning: vhost-vdpa pins the mapped guest RAM, counted per mm against RLIMIT_MEMLOCK
 * (drivers/vhost/vdpa.c vhost_vdpa_pa_map). vpf raises the limit when allowed; each
 * open reserves the guest's RAM size from it, and an open that would pass it fails
 * with a message naming the limit.
 *
 * Threads: open/close on the control path; start/stop/set_link on the device's I/O
 * thread, and device_link() there too; error() on any thread. `lock` guards `removed` and `vfd` between them and
 * vdpa_monitor's thread, which marks a device deleted under a running VF. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/vdpa_monitor.h"
#include "backend/vdpa_netlink.h"
#include "base/log.h"
#include "base/util.h"

#define VDPA_VRINGS 2               /* rx0, tx0: virtio-net's order (virtio 1.2 §5.1.2) */

#define VDPA_RING_FEATURES (BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
    BIT(VIRTIO_RING_F_INDIRECT_DESC))
#define VDPA_OFFLOADS (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | \
    BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN))
/* What vpf's virtio-net does itself, whatever the device could. */
#define VDPA_VPF_ONLY (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | \
    BIT(VIRTIO_NET_F_CTRL_VLAN) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | \
    BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_NOTF_COAL) | BIT(VIRTIO_F_SR_IOV) | \
    BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))

struct vhost_vdpa {
    struct net_backend be;
    pthread_mutex_t lock;
    int vfd;                        /* /dev/vhost-vdpa-N; -1 once closed after removal */
    unsigned minor;                 /* N, for the monitor */
    bool created;                   /* vpf made the vDPA device (deleted on close) */
    bool removed;                   /* the device was deleted under vpf */
    bool monitored;
    uint64_t dev_features;          /* VHOST_GET_FEATURES */
    uint64_t backend_features;      /* the VHOST_BACKEND_F_* bits set */
    struct vhost_vdpa_iova_range iova;
    uint16_t max_ring;
    uint64_t reserved;              /* bytes of RLIMIT_MEMLOCK this device counts on */
    const struct guest_mem *mapped; /* mapped regions (nregions of it) or NULL */
    unsigned nvrings;               /* started rings, 0 when stopped */
    bool enabled;                   /* rings enabled (link up) */
    int notify_fd;                  /* while started: ring 0's err_fd, to wake the I/O thread */
    int config_fd;                  /* VHOST_VDPA_SET_CONFIG_CALL eventfd, -1 without STATUS */
    char path[48];
};

/* Bytes of guest RAM pinned by all vhost-vdpa devices of this process together. */
static uint64_t pinned_total;
static pthread_mutex_t pinned_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vhost_vdpa *to_vd(struct net_backend *be) { return (struct vhost_vdpa *)be; }

uint64_t vhost_vdpa_driver_features(uint64_t negotiated, uint64_t device)
{
    return (negotiated & device & ~VDPA_VPF_ONLY) | (device & BIT(VIRTIO_F_ACCESS_PLATFORM));
}

static int vioctl(struct vhost_vdpa *v, unsigned long req, const char *what, void *arg)
{
    if (v->vfd < 0 || ioctl(v->vfd, req, arg) < 0) {
        log_error("vhost-vdpa %s: %s: %s", v->be.name, what,
                  v->vfd < 0 ? "device gone" : strerror(errno));
        return -1;
    }
    return 0;
}

static int set_status(struct vhost_vdpa *v, uint8_t status, const char *what)
{
    if (vioctl(v, VHOST_VDPA_SET_STATUS, what, &status) < 0)
        return -1;
    if (!status)
        return 0;
    uint8_t got = 0;
    if (vioctl(v, VHOST_VDPA_GET_STATUS, "GET_STATUS", &got) < 0)
        return -1;
    if ((got & status) != status || (got & VIRTIO_CONFIG_S_NEEDS_RESET)) {
        log_error("vhost-vdpa %s: device refused %s (status %#x)", v->be.name, what, got);
        return -1;
    }
    return 0;
}

static int iotlb_msg(struct vhost_vdpa *v, uint8_t type, uint64_t iova, uint64_t size,
                     uint64_t uaddr)
{
    struct vhost_msg_v2 m = { .type = VHOST_IOTLB_MSG_V2 };
    m.iotlb = (struct vhost_iotlb_msg){ .iova = iova,
                                        .size = size,
                                        .uaddr = uaddr,
                                        .perm = VHOST_ACCESS_RW,
                                        .type = type };
    if (v->vfd < 0 || write(v->vfd, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
        log_error("vhost-vdpa %s: IOTLB message %u [%#llx, +%#llx): %s", v->be.name, type,
                  (unsigned long long)iova, (unsigned long long)size,
                  v->vfd < 0 ? "device gone" : strerror(errno));
        return -1;
    }
    return 0;
}

static bool batching(const struct vhost_vdpa *v)
{
    return v->backend_features & BIT(VHOST_BACKEND_F_IOTLB_BATCH);
}

static void unmap_mem(struct vhost_vdpa *v)
{
    const struct guest_mem *mem = v->mapped;
    if (!mem)
        return;
    if (batching(v))
        iotlb_msg(v, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0);
    for (unsigned i = 0; i < mem->nregions; i++)
        iotlb_msg(v, VHOST_IOTLB_INVALIDATE, mem->regions[i].gpa, mem->regions[i].size, 0);
    if (batching(v))
        iotlb_msg(v, VHOST_IOTLB_BATCH_END, 0, 0, 0);
    v->mapped = NULL;
}

static bool in_iova_range(const struct vhost_vdpa *v, uint64_t gpa, uint64_t size)
{
    return size && gpa >= v->iova.first && gpa + size - 1 >= gpa && gpa + size - 1 <= v->iova.last;
}

static int map_mem(struct vhost_vdpa *v, const struct guest_mem *mem)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        if (!in_iova_range(v, mem->regions[i].gpa, mem->regions[i].size)) {
            log_error("vhost-vdpa %s: guest RAM [%#llx, +%#llx) is outside the device's IOVA "
                      "range [%#llx, %#llx]",
                      v->be.name, (unsigned long long)mem->regions[i].gpa,
                      (unsigned long long)mem->regions[i].size, (unsigned long long)v->iova.first,
                      (unsigned long long)v->iova.last);
            return -1;
        }
    }
    int ret = 0;
    if (batching(v) && iotlb_msg(v, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0) < 0)
        return -1;
    for (unsigned i = 0; i < mem->nregions && ret == 0; i++) {
        ret = iotlb_msg(v, VHOST_IOTLB_UPDATE, mem->regions[i].gpa, mem->regions[i].size,
                        (uint64_t)(uintptr_t)mem->regions[i].hva);
        if (ret == 0)
            v->mapped = mem;
    }
    /* With batching the device maps at BATCH_END; its errors come back there. */
    if (batching(v) && iotlb_msg(v, VHOST_IOTLB_BATCH_END, 0, 0, 0) < 0)
        ret = -1;
    if (ret < 0 && errno == ENOMEM)
        log_error("vhost-vdpa %s: pinning guest RAM failed: RLIMIT_MEMLOCK too low?", v->be.name);
    return ret;
}

static int set_vring(struct vhost_vdpa *v, unsigned i, const struct net_backend_vring *r)
{
    struct vhost_vring_state num = { .index = i, .num = r->size };
    struct vhost_vring_state base = { .index = i, .num = r->last_avail };
    /* IOVAs: guest physical addresses, mapped 1:1 by map_mem (validated by virtq_start). */
    struct vhost_vring_addr addr = {
        .index = i,
        .desc_user_addr = r->desc_gpa,
        .avail_user_addr = r->avail_gpa,
        .used_user_addr = r->used_gpa,
    };
    struct vhost_vring_file kick = { .index = i, .fd = r->kick_fd };
    struct vhost_vring_file call = { .index = i, .fd = r->call_fd };
    if (r->size > v->max_ring) {
        log_error("vhost-vdpa %s: ring %u has %u entries, the device takes at most %u", v->be.name,
                  i, r->size, v->max_ring);
        return -1;
    }
    if (vioctl(v, VHOST_SET_VRING_NUM, "SET_VRING_NUM", &num) < 0 ||
        vioctl(v, VHOST_SET_VRING_BASE, "SET_VRING_BASE", &base) < 0 ||
        vioctl(v, VHOST_SET_VRING_ADDR, "SET_VRING_ADDR", &addr) < 0 ||
        vioctl(v, VHOST_SET_VRING_KICK, "SET_VRING_KICK", &kick) < 0 ||
        vioctl(v, VHOST_SET_VRING_CALL, "SET_VRING_CALL", &call) < 0)
        return -1;
    return 0;
}

static int enable_rings(struct vhost_vdpa *v, bool on)
{
    int ret = 0;
    for (unsigned i = 0; i < v->nvrings; i++) {
        struct vhost_vring_state s = { .index = i, .num = on };
        if (vioctl(v, VHOST_VDPA_SET_VRING_ENABLE, on ? "enable ring" : "disable ring", &s) < 0)
            ret = -1;
    }
    v->enabled = on && ret == 0;
    return ret;
}

/* Lock held. */
static void stop_locked(struct vhost_vdpa *v, uint16_t *last_avail, unsigned nvrings)
{
    unsigned n = v->nvrings;
    if (n && v->vfd >= 0 && (v->backend_features & BIT(VHOST_BACKEND_F_SUSPEND)))
        vioctl(v, VHOST_VDPA_SUSPEND, "SUSPEND", NULL);
    for (unsigned i = 0; i < n && v->vfd >= 0; i++) {
        struct vhost_vring_state s = { .index = i };
        if (vioctl(v, VHOST_GET_VRING_BASE, "GET_VRING_BASE", &s) == 0 && i < nvrings)
            last_avail[i] = (uint16_t)s.num;
    }
    if (v->vfd >= 0) {
        set_status(v, 0, "reset");
        for (unsigned i = 0; i < n; i++) {
            struct vhost_vring_file f = { .index = i, .fd = VHOST_FILE_UNBIND };
            vioctl(v, VHOST_SET_VRING_KICK, "unbind kick", &f);
            vioctl(v, VHOST_SET_VRING_CALL, "unbind call", &f);
        }
        unmap_mem(v);
    }
    v->mapped = NULL;
    v->nvrings = 0;
    v->enabled = false;
    v->notify_fd = -1;
    /* Deleted under vpf: `vdpa dev del` waits in the kernel until the fd is closed. */
    if (v->removed && v->vfd >= 0) {
        close(v->vfd);
        v->vfd = -1;
    }
}

static void vd_stop(struct net_backend *be, uint16_t *last_avail, unsigned nvrings)
{
    struct vhost_vdpa *v = to_vd(be);
    pthread_mutex_lock(&v->lock);
    stop_locked(v, last_avail, nvrings);
    pthread_mutex_unlock(&v->lock);
}

static int start_locked(struct vhost_vdpa *v, const struct net_backend_offload *cfg)
{
    if (v->removed || v->vfd < 0) {
        log_error("vhost-vdpa %s: the vDPA device is gone", v->be.name);
        return -1;
    }
    if (cfg->nvrings != VDPA_VRINGS) {
        log_error("vhost-vdpa %s: %u rings, vpf gives the device %d", v->be.name, cfg->nvrings,
                  VDPA_VRINGS);
        return -1;
    }
    uint64_t f = vhost_vdpa_driver_features(cfg->features, v->dev_features);
    if (set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, "ACKNOWLEDGE|DRIVER") <
            0 ||
        vioctl(v, VHOST_SET_FEATURES, "SET_FEATURES", &f) < 0 ||
        set_status(v,
                   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                       VIRTIO_CONFIG_S_FEATURES_OK,
                   "FEATURES_OK") < 0 ||
        map_mem(v, cfg->mem) < 0)
        return -1;
    for (unsigned i = 0; i < cfg->nvrings; i++) {
        v->nvrings = i + 1;
        if (set_vring(v, i, &cfg->vrings[i]) < 0)
            return -1;
    }
    if (set_status(v,
                   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
                   "DRIVER_OK") < 0)
        return -1;
    if (cfg->link_up && enable_rings(v, true) < 0)
        return -1;
    v->notify_fd = cfg->vrings[0].err_fd;
    log_debug("vhost-vdpa %s: started, features %#llx, link %s", v->be.name, (unsigned long long)f,
              cfg->link_up ? "up" : "down");
    return 0;
}

static int vd_start(struct net_backend *be, const struct net_backend_offload *cfg)
{
    struct vhost_vdpa *v = to_vd(be);
    pthread_mutex_lock(&v->lock);
    int ret = start_locked(v, cfg);
    if (ret < 0) {
        uint16_t ignored[VDPA_VRINGS];
        stop_locked(v, ignored, VDPA_VRINGS);
    }
    pthread_mutex_unlock(&v->lock);
    return ret;
}

static int vd_set_link(struct net_backend *be, bool up)
{
    struct vhost_vdpa *v = to_vd(be);
    pthread_mutex_lock(&v->lock);
    int ret = 0;
    if (v->nvrings && v->enabled != up)
        ret = enable_rings(v, up);
    pthread_mutex_unlock(&v->lock);
    return ret;
}

/* The device can only break under vpf by going away (the monitor marks it). */
static bool vd_backend_broken(struct net_backend *be)
{
    struct vhost_vdpa *v = to_vd(be);
    pthread_mutex_lock(&v->lock);
    bool r = v->removed;
    pthread_mutex_unlock(&v->lock);
    return r;
}

static int vd_error(struct net_backend *be, char *buf, size_t len)
{
    struct vhost_vdpa *v = to_vd(be);
    pthread_mutex_lock(&v->lock);
    bool r = v->removed;
    pthread_mutex_unlock(&v->lock);
    if (!r)
        return -1;
    snprintf(buf, len, "vDPA device %s (%s) was deleted", v->be.dev[0] ? v->be.dev : "?", v->path);
    return 0;
}

static int vd_config_fd(struct net_backend *be) { return to_vd(be)->config_fd; }

/* virtio 1.2 §5.1.4: status follows mac (6 bytes), VIRTIO_NET_S_LINK_UP is bit 0. A
 * device that cannot be read is taken as down. */
static bool vd_device_link(struct net_backend *be)
{
    struct vhost_vdpa *v = to_vd(be);
    struct {
        struct vhost_vdpa_config c;
        uint8_t status[2];
    } cfg = { .c = { .off = 6, .len = 2 } };
    pthread_mutex_lock(&v->lock);
    int r = v->vfd >= 0 ? ioctl(v->vfd, VHOST_VDPA_GET_CONFIG, &cfg) : -1;
    pthread_mutex_unlock(&v->lock);
    if (r < 0)
        return false;
    return (cfg.status[0] | cfg.status[1] << 8) & VIRTIO_NET_S_LINK_UP;
}

static uint64_t vd_features(struct net_backend *be)
{
    return to_vd(be)->dev_features & VDPA_OFFLOADS;
}

static uint64_t vd_ring_features(struct net_backend *be)
{
    return to_vd(be)->dev_features & VDPA_RING_FEATURES;
}

/* The device's offloads are set with its features at start. */
static int vd_set_features(struct net_backend *be, uint64_t features)
{
    (void)be;
    (void)features;
    return 0;
}

static void unreserve(struct vhost_vdpa *v)
{
    pthread_mutex_lock(&pinned_lock);
    pinned_total -= v->reserved;
    pthread_mutex_unlock(&pinned_lock);
    v->reserved = 0;
}

static void vd_free(struct vhost_vdpa *v)
{
    if (v->monitored)
        vdpa_monitor_del(v->minor);
    if (v->vfd >= 0)
        close(v->vfd);      /* the kernel drops its reference to config_fd */
    if (v->config_fd >= 0)
        close(v->config_fd);
    unreserve(v);
    /* Only a device vpf made, and not one already deleted under it. */
    if (v->created && !v->removed) {
        char err[160];
        if (vdpa_nl_dev_del(v->be.dev, err, sizeof(err)) < 0)
            log_warn("%s", err);
        else
            log_info("vhost-vdpa: deleted vDPA device %s", v->be.dev);
    }
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static void vd_close(struct net_backend *be)
{
    struct vhost_vdpa *v = to_vd(be);
    if (v->nvrings) {
        uint16_t ignored[VDPA_VRINGS];
        vd_stop(be, ignored, VDPA_VRINGS);
    }
    vd_free(v);
}

/* I/O thread, while started: the device signals fd from its next interrupt on (vhost-vdpa
 * passes it to the parent's set_vq_cb, and to an irq bypass producer where it has one). */
static int vd_set_call(struct net_backend *be, unsigned ring, int fd)
{
    struct vhost_vdpa *v = to_vd(be);
    struct vhost_vring_file call = { .index = ring, .fd = fd };
    pthread_mutex_lock(&v->lock);
    int ret = ring < v->nvrings && v->vfd >= 0
                  ? vioctl(v, VHOST_SET_VRING_CALL, "SET_VRING_CALL", &call)
                  : -1;
    pthread_mutex_unlock(&v->lock);
    return ret;
}

static const struct net_backend_ops vhost_vdpa_ops = {
    .type = "vhost-vdpa",
    .kind = NET_BACKEND_OFFLOAD,
    .features = vd_features,
    .set_features = vd_set_features,
    .close = vd_close,
    .start_offload = vd_start,
    .stop_offload = vd_stop,
    .set_link = vd_set_link,
    .backend_broken = vd_backend_broken,
    .ring_features = vd_ring_features,
    .error = vd_error,
    .config_fd = vd_config_fd,
    .device_link = vd_device_link,
    .set_call = vd_set_call,
};

/* The monitor saw the device's vhost-vdpa node go (vdpa dev del): a running data path
 * is stopped by its I/O thread (err_fd path, backend_broken), an idle one lets go of
 * the fd at once so that the kernel can finish the deletion. */
static void vd_removed(void *opaque)
{
    struct vhost_vdpa *v = opaque;
    pthread_mutex_lock(&v->lock);
    v->removed = true;
    if (v->nvrings && v->notify_fd >= 0) {
        /* The I/O thread asks backend_broken(), stops the data path (closing the fd). */
        if (eventfd_write(v->notify_fd, 1) < 0)
            log_warn("vhost-vdpa %s: cannot wake the I/O thread: %s", v->be.name, strerror(errno));
    } else if (!v->nvrings && v->vfd >= 0) {
        close(v->vfd);
        v->vfd = -1;
    }
    pthread_mutex_unlock(&v->lock);
    log_warn("vhost-vdpa %s: vDPA device %s was deleted", v->be.name, v->be.dev);
}

/* Makes room for pinning `bytes` more: RLIMIT_MEMLOCK raised as far as allowed. */
static int reserve_memlock(struct vhost_vdpa *v, uint64_t bytes, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
        rl.rlim_cur = rl.rlim_max = 0;
    if (rl.rlim_cur != RLIM_INFINITY) {
        struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
        if (setrlimit(RLIMIT_MEMLOCK, &inf) == 0) {
            rl = inf;
        } else if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                getrlimit(RLIMIT_MEMLOCK, &rl);
        }
    }
    pthread_mutex_lock(&pinned_lock);
    uint64_t need = pinned_total + bytes;
    bool ok = rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur;
    if (ok) {
        pinned_total = need;
        v->reserved = bytes;
    }
    pthread_mutex_unlock(&pinned_lock);
    if (!ok)
        snprintf(err, errlen,
                 "vhost-vdpa %s: RLIMIT_MEMLOCK (ulimit -l) is %llu KiB, vhost-vdpa "
                 "pins the guest's %llu MiB per device (%llu MiB with this one) and vpf may not "
                 "raise it",
                 v->path, (unsigned long long)rl.rlim_cur / 1024, (unsigned long long)(bytes >> 20),
                 (unsigned long long)(need >> 20));
    return ok ? 0 : -1;
}

static int probe(struct vhost_vdpa *v, const struct guest_mem *mem, char *err, size_t errlen)
{
    const char *p = v->path;
    uint32_t id = 0;
    uint64_t bf = 0;
    if (ioctl(v->vfd, VHOST_SET_OWNER, NULL) < 0) {
        snprintf(err, errlen, "vhost-vdpa %s: VHOST_SET_OWNER: %s", p, strerror(errno));
        return -1;
    }
    if (ioctl(v->vfd, VHOST_VDPA_GET_DEVICE_ID, &id) < 0 || id != VIRTIO_ID_NET) {
        snprintf(err, errlen, "vhost-vdpa %s: not a virtio-net device (device id %u)", p, id);
        return -1;
    }
    if (ioctl(v->vfd, VHOST_GET_BACKEND_FEATURES, &bf) < 0 ||
        !(bf & BIT(VHOST_BACKEND_F_IOTLB_MSG_V2))) {
        snprintf(err, errlen, "vhost-vdpa %s: no VHOST_BACKEND_F_IOTLB_MSG_V2", p);
        return -1;
    }
    v->backend_features = bf & (BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
                                BIT(VHOST_BACKEND_F_IOTLB_BATCH) | BIT(VHOST_BACKEND_F_SUSPEND));
    if (ioctl(v->vfd, VHOST_SET_BACKEND_FEATURES, &v->backend_features) < 0) {
        snprintf(err, errlen, "vhost-vdpa %s: VHOST_SET_BACKEND_FEATURES: %s", p, strerror(errno));
        return -1;
    }
    if (ioctl(v->vfd, VHOST_GET_FEATURES, &v->dev_features) < 0) {
        snprintf(err, errlen, "vhost-vdpa %s: VHOST_GET_FEATURES: %s", p, strerror(errno));
        return -1;
    }
    if (!(v->dev_features & BIT(VIRTIO_F_VERSION_1))) {
        snprintf(err, errlen, "vhost-vdpa %s: the device lacks VIRTIO_F_VERSION_1, which vpf needs",
                 p);
        return -1;
    }
    if (ioctl(v->vfd, VHOST_VDPA_GET_IOVA_RANGE, &v->iova) < 0)
        v->iova = (struct vhost_vdpa_iova_range){ .first = 0, .last = UINT64_MAX };
    for (unsigned i = 0; i < mem->nregions; i++) {
        if (!in_iova_range(v, mem->regions[i].gpa, mem->regions[i].size)) {
            snprintf(err, errlen,
                     "vhost-vdpa %s: guest RAM at %#llx is outside the device's IOVA "
                     "range [%#llx, %#llx]",
                     p, (unsigned long long)mem->regions[i].gpa, (unsigned long long)v->iova.first,
                     (unsigned long long)v->iova.last);
            return -1;
        }
    }
    if (ioctl(v->vfd, VHOST_VDPA_GET_VRING_NUM, &v->max_ring) < 0 || v->max_ring == 0) {
        snprintf(err, errlen, "vhost-vdpa %s: VHOST_VDPA_GET_VRING_NUM: %s", p, strerror(errno));
        return -1;
    }
    uint32_t nvqs = 0;
    if (ioctl(v->vfd, VHOST_VDPA_GET_VQS_COUNT, &nvqs) == 0 && nvqs < VDPA_VRINGS) {
        snprintf(err, errlen, "vhost-vdpa %s: the device has %u queues, vpf needs %d", p, nvqs,
                 VDPA_VRINGS);
        return -1;
    }
    uint8_t zero = 0;
    if (ioctl(v->vfd, VHOST_VDPA_SET_STATUS, &zero) < 0) {
        snprintf(err, errlen, "vhost-vdpa %s: reset: %s", p, strerror(errno));
        return -1;
    }
    /* The device's config interrupt, for its link state (virtio 1.2 §5.1.4.2). */
    if (v->dev_features & BIT(VIRTIO_NET_F_STATUS)) {
        v->config_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->config_fd < 0 || ioctl(v->vfd, VHOST_VDPA_SET_CONFIG_CALL, &v->config_fd) < 0) {
            snprintf(err, errlen, "vhost-vdpa %s: VHOST_VDPA_SET_CONFIG_CALL: %s", p,
                     strerror(errno));
            return -1;
        }
    }
    if (v->dev_features & BIT(VIRTIO_NET_F_MAC)) {
        /* virtio 1.2 §5.1.4: mac is the config's first field. */
        struct {
            struct vhost_vdpa_config c;
            uint8_t mac[6];
        } cfg = { .c = { .off = 0, .len = 6 } };
        if (ioctl(v->vfd, VHOST_VDPA_GET_CONFIG, &cfg) < 0) {
            snprintf(err, errlen, "vhost-vdpa %s: VHOST_VDPA_GET_CONFIG: %s", p, strerror(errno));
            return -1;
        }
        memcpy(v->be.mac, cfg.mac, 6);
        v->be.has_mac = !(cfg.mac[0] & 1) && memcmp(cfg.mac, (uint8_t[6]){ 0 }, 6);
    }
    return 0;
}

/* The vDPA device's name and the node's number N, whatever path it was opened by (a
 * symlink, say): the parent of its vhost-vdpa node in sysfs and the node's own name
 * (/sys/dev/char/MAJ:MIN -> .../NAME/vhost-vdpa-N). Returns 0, or -1 if unknown. */
static int dev_name_of(struct vhost_vdpa *v)
{
    struct stat st;
    char link[96], target[512];
    if (fstat(v->vfd, &st) < 0 || !S_ISCHR(st.st_mode))
        return -1;
    snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return -1;
    target[n] = '\0';
    char *last = strrchr(target, '/');
    if (!last || !vdpa_monitor_parse(last + 1, &v->minor))
        return -1;
    *last = '\0';
    char *parent = strrchr(target, '/');
    snprintf(v->be.dev, sizeof(v->be.dev), "%.63s", parent ? parent + 1 : target);
    return 0;
}

static struct vhost_vdpa *vd_open(const char *path, const struct guest_mem *mem, char *err,
                                  size_t errlen)
{
    struct vhost_vdpa *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vhost-vdpa %s: out of memory", path);
        return NULL;
    }
    pthread_mutex_init(&v->lock, NULL);
    snprintf(v->path, sizeof(v->path), "%s", path);
    const char *base = strrchr(path, '/');
    snprintf(v->be.name, sizeof(v->be.name), "%s", base ? base + 1 : path);
    v->be.ops = &vhost_vdpa_ops;
    v->notify_fd = -1;
    v->config_fd = -1;
    v->be.fd = -1;
    v->be.hdr_len = NET_BACKEND_HDR_LEN;
    v->vfd = open(path, O_RDWR | O_CLOEXEC);
    if (v->vfd < 0) {
        snprintf(err, errlen, "vhost-vdpa %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (is the vhost_vdpa module loaded and the vDPA device made?)"
                                 : "");
        vd_free(v);
        return NULL;
    }
    if (dev_name_of(v) == 0)
        v->monitored = vdpa_monitor_add(v->minor, vd_removed, v) == 0;
    if (probe(v, mem, err, errlen) < 0 ||
        reserve_memlock(v, guest_mem_total(mem), err, errlen) < 0) {
        vd_free(v);
        return NULL;
    }
    return v;
}

struct net_backend *vhost_vdpa_open(const char *path, const struct guest_mem *mem, char *err,
                                    size_t errlen)
{
    struct vhost_vdpa *v = vd_open(path, mem, err, errlen);
    if (!v)
        return NULL;
    log_info("vhost-vdpa %s: device data path ready, features %#llx", path,
             (unsigned long long)v->dev_features);
    return &v->be;
}

struct net_backend *vhost_vdpa_create(const char *name, const char *mgmtdev, const uint8_t mac[6],
                                      const struct guest_mem *mem, char *err, size_t errlen)
{
    char path[48];
    if (vdpa_nl_dev_new(name, mgmtdev, mac, err, errlen) < 0)
        return NULL;
    struct vhost_vdpa *v = NULL;
    if (vdpa_dev_vhost_path(name, path, sizeof(path), err, errlen) == 0)
        v = vd_open(path, mem, err, errlen);
    if (!v) {
        char e2[160];
        if (vdpa_nl_dev_del(name, e2, sizeof(e2)) < 0)
            log_warn("%s", e2);
        return NULL;
    }
    v->created = true;
    snprintf(v->be.dev, sizeof(v->be.dev), "%s", name);
    if (mac && (!v->be.has_mac || memcmp(v->be.mac, mac, 6))) {
        snprintf(err, errlen, "vDPA device %s on %s does not have the MAC vpf asked for", name,
                 mgmtdev);
        vd_free(v);
        return NULL;
    }
    log_info("vhost-vdpa: created vDPA device %s on %s (%s), features %#llx", name, mgmtdev, path,
             (unsigned long long)v->dev_features);
    return &v->be;
}
