/* virtio-net: the device ops (features, config space, activate/reset) and the public
 * API (virtio_net.h), on vCPU and control threads; whatever changes the data path is
 * handed to the I/O thread (net_io.c) with iothread_call. The file map is in vnet.h. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"

/* Offloads, offered only as far as the backend supports them. */
#define VNET_OFFLOADS (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | \
    BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN))
#define VNET_BASE_FEATURES (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | \
    BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) | \
    BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
    BIT(VIRTIO_RING_F_INDIRECT_DESC))

#define VNET_RING_FEATURES (BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
    BIT(VIRTIO_RING_F_INDIRECT_DESC))

/* Config fields we expose: mac, status, max_virtqueue_pairs (virtio 1.2 §5.1.4). */
#define VNET_CONFIG_SIZE offsetof(struct virtio_net_config, mtu)

static struct virtio_net *to_net(struct virtio_dev *dev)
{
    return container_of(dev, struct virtio_net, vdev);
}

static uint64_t vnet_get_features(struct virtio_dev *dev) { return to_net(dev)->host_features; }

/* virtio 1.2 §5.1.3.1 feature dependencies. */
static bool vnet_check_features(struct virtio_dev *dev, uint64_t f)
{
    static const struct {
        unsigned bit;
        uint64_t needs_any;
    } deps[] = {
        { VIRTIO_NET_F_GUEST_TSO4, BIT(VIRTIO_NET_F_GUEST_CSUM) },
        { VIRTIO_NET_F_GUEST_TSO6, BIT(VIRTIO_NET_F_GUEST_CSUM) },
        { VIRTIO_NET_F_GUEST_ECN, BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) },
        { VIRTIO_NET_F_HOST_TSO4, BIT(VIRTIO_NET_F_CSUM) },
        { VIRTIO_NET_F_HOST_TSO6, BIT(VIRTIO_NET_F_CSUM) },
        { VIRTIO_NET_F_HOST_ECN, BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) },
        { VIRTIO_NET_F_CTRL_RX, BIT(VIRTIO_NET_F_CTRL_VQ) },
        { VIRTIO_NET_F_CTRL_MAC_ADDR, BIT(VIRTIO_NET_F_CTRL_VQ) },
        { VIRTIO_NET_F_NOTF_COAL, BIT(VIRTIO_NET_F_CTRL_VQ) },
        { VIRTIO_NET_F_MQ, BIT(VIRTIO_NET_F_CTRL_VQ) },
    };
    for (size_t i = 0; i < ARRAY_SIZE(deps); i++) {
        if ((f & BIT(deps[i].bit)) && !(f & deps[i].needs_any)) {
            log_warn_rl(&dev->log_rl, "%s: feature %u negotiated without its dependency", dev->name,
                        deps[i].bit);
            return false;
        }
    }
    return true;
}

static void vnet_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
    struct virtio_net *n = to_net(dev);
    uint8_t cfg[VNET_CONFIG_SIZE];
    pthread_mutex_lock(&n->cfg.lock);
    memcpy(cfg + offsetof(struct virtio_net_config, mac), n->cfg.mac, 6);
    /* Up when the host says so and the backend's device (vhost-vdpa) does not say down. */
    st_le16(cfg + offsetof(struct virtio_net_config, status),
            n->cfg.link_up && !n->cfg.dev_link_down ? VIRTIO_NET_S_LINK_UP : 0);
    pthread_mutex_unlock(&n->cfg.lock);
    /* §5.1.4: read only with VIRTIO_NET_F_MQ, offered only with npairs > 1. */
    st_le16(cfg + offsetof(struct virtio_net_config, max_virtqueue_pairs), (uint16_t)n->npairs);
    memcpy(data, cfg + off, len);
}

/* With VERSION_1 the config is read-only to the driver; the MAC changes only through
 * VIRTIO_NET_CTRL_MAC_ADDR_SET (virtio 1.2 §5.1.4.2). */
static void vnet_config_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len)
{
    log_debug_rl(&dev->log_rl, "%s: config write at %u ignored", dev->name, off);
}

void vnet_set_mac(struct virtio_net *n, const uint8_t mac[6])
{
    pthread_mutex_lock(&n->cfg.lock);
    memcpy(n->cfg.mac, mac, 6);
    pthread_mutex_unlock(&n->cfg.lock);
    /* A generation change, no interrupt: the driver asked for it. */
    __atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_RELEASE);
}

/* ---- hand-over calls: run on the I/O thread (iothread_call) ---- */

static void dp_start(void *arg)
{
    struct virtio_net *n = arg;
    /* After a reset cfg.mac is the host's again; a trusted guest's spoof check follows
     * the MAC it sets (net_ctrl.c). */
    pthread_mutex_lock(&n->cfg.lock);
    memcpy(n->host_mac, n->trust ? n->cfg.mac : n->cfg.port.mac, 6);
    pthread_mutex_unlock(&n->cfg.lock);
    vnet_dp_start(n);
}

static void dp_stop(void *arg) { vnet_dp_halt(arg); }

/* The host's port settings, taken over by every pair between two packets. */
static void dp_port(void *arg) { vnet_dp_port(arg); }

static void dp_link(void *arg) { vnet_dp_link(arg); }

static void dp_one_pair(void *arg) { vnet_set_pairs(arg, 1); }

static void dp_irqs(void *arg) { vnet_offload_route_irqs(arg); }

struct coal_query {
    struct virtio_net *n;
    struct virtio_net_coalesce *c;
};

static void dp_get_coalesce(void *arg)
{
    struct coal_query *q = arg;
    vnet_coal_get(q->n, q->c);
}

/* ---- device ops ---- */

static int vnet_activate(struct virtio_dev *dev)
{
    struct virtio_net *n = to_net(dev);
    /* A multi-queue tap's offloads are the interface's (TUNSETOFFLOAD on any queue sets
     * them for all): set through pair 0's, which is never detached. */
    if (net_backend_set_features(n->be, dev->features & VNET_OFFLOADS) < 0)
        return -1;
    n->mrg_rxbuf = vnet_has(n, VIRTIO_NET_F_MRG_RXBUF);
    /* Merged buffers: be ready for the largest frame, not only the MTU: the host may give
     * the tap a jumbo MTU, and we cannot peek at a packet's length before reading it. */
    n->rx_need = n->be->hdr_len + VNET_MAX_GSO_FRAME;
    iothread_call(&n->io, dp_start, n);
    return 0;
}

static void vnet_reset(struct virtio_dev *dev)
{
    struct virtio_net *n = to_net(dev);
    iothread_call(&n->io, dp_stop, n);
    /* The next driver reads the host's MAC, whatever this one set (CTRL_MAC_ADDR_SET). */
    pthread_mutex_lock(&n->cfg.lock);
    memcpy(n->cfg.mac, n->cfg.port.mac, 6);
    pthread_mutex_unlock(&n->cfg.lock);
    /* No offloaded packets for whatever driver comes next until it negotiates. */
    net_backend_set_features(n->be, 0);
}

/* The transport's direct interrupt fds may have changed (a vector masked or unmasked). */
static void vnet_irq_changed(struct virtio_dev *dev)
{
    struct virtio_net *n = to_net(dev);
    if (vnet_is_offload(n))
        iothread_call(&n->io, dp_irqs, n);
}

void vnet_event(struct virtio_net *n, enum virtio_net_event ev, const char *detail)
{
    if (!n->event_fn)
        return;
    unsigned long suppressed = 0;
    if (ev == VIRTIO_NET_EVENT_NEEDS_RESET) {
        pthread_mutex_lock(&n->event_lock);
        bool pass = log_ratelimit_check(&n->event_rl, monotonic_ns(), &suppressed);
        pthread_mutex_unlock(&n->event_lock);
        if (!pass)
            return;
    }
    n->event_fn(n->event_opaque, n->name, ev, detail, suppressed);
}

/* DEVICE_NEEDS_RESET, whoever found it (a ring on the I/O thread, a queue enable on a
 * vCPU). */
static void vnet_failed(struct virtio_dev *dev, enum virtio_error err)
{
    vnet_event(to_net(dev), VIRTIO_NET_EVENT_NEEDS_RESET, virtio_error_name(err));
}

static const struct virtio_dev_ops vnet_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = VIRTIO_NET_NUM_QUEUES,   /* per device: 2 * npairs + 1 (n->ops) */
    .queue_max_size = VIRTQ_MAX_SIZE,
    .config_size = VNET_CONFIG_SIZE,
    .get_features = vnet_get_features,
    .check_features = vnet_check_features,
    .config_read = vnet_config_read,
    .config_write = vnet_config_write,
    .activate = vnet_activate,
    .reset = vnet_reset,
    .irq_changed = vnet_irq_changed,
    .failed = vnet_failed,
};

/* ---- public API ---- */

/* The backends can run as this device's data path. NULL, or why not. */
static const char *backends_unfit(struct net_backend *const *be, unsigned npairs)
{
    static char why[128];
    if (npairs < 1 || npairs > VIRTIO_NET_MAX_PAIRS)
        return "queue pairs out of range";
    for (unsigned k = 0; k < npairs; k++) {
        if (be[k]->ops->kind == NET_BACKEND_OFFLOAD &&
            (!be[k]->ops->start_offload || !be[k]->ops->stop_offload || !be[k]->ops->set_link)) {
            snprintf(why, sizeof(why), "backend %s lacks the offload operations", be[k]->ops->type);
            return why;
        }
        if (be[k]->hdr_len != NET_BACKEND_HDR_LEN) {
            snprintf(why, sizeof(why), "backend %s: vnet header of %u bytes, need %d",
                     be[k]->ops->type, be[k]->hdr_len, NET_BACKEND_HDR_LEN);
            return why;
        }
        if (be[k]->ops != be[0]->ops)
            return "queue pairs on different backend types";
    }
    return NULL;
}

static void pair_threads_stop(struct virtio_net *n)
{
    for (unsigned k = 0; k < n->npairs; k++) {
        if (n->pairs[k].io == &n->pairs[k].own_io)
            iothread_stop(&n->pairs[k].own_io);
        n->pairs[k].io = &n->io;
    }
}

static void vnet_free(struct virtio_net *n)
{
    for (unsigned k = 0; k < n->npairs; k++) {
        vnet_tx_free(&n->pairs[k]);
        vnet_notify_free(&n->pairs[k]);
    }
    vnet_offload_free(n);
    pthread_mutex_destroy(&n->tx.lock);
    virtio_dev_destroy(&n->vdev);
    pthread_mutex_destroy(&n->cfg.lock);
    pthread_mutex_destroy(&n->event_lock);
    free(n->pairs);
    free(n);
}

static void vnet_init_state(struct virtio_net *n, struct net_backend *const *be, unsigned npairs,
                            const uint8_t mac[6])
{
    n->npairs = npairs;
    /* Opened queues are attached: active until vnet_set_pairs(1) at creation. */
    for (unsigned k = 0; k < npairs; k++)
        n->pairs[k] = (struct vnet_pair){ .n = n,
                                          .idx = k,
                                          .be = be[k],
                                          .io = &n->io,
                                          .active = true,
                                          .rate_timer_fd = -1,
                                          .coal_timer_fd = -1 };
    n->be = be[0];
    n->dp.curr_pairs = npairs;
    memcpy(n->cfg.mac, mac, 6);
    memcpy(n->host_mac, mac, 6);
    memcpy(n->cfg.port.mac, mac, 6);
    n->cfg.port.trust = n->trust = true;    /* until the VF manager says otherwise */
    n->cfg.link_up = true;
    n->host_features = VNET_BASE_FEATURES | (net_backend_features(n->be) & VNET_OFFLOADS);
    /* A device-backed data path (vhost-vdpa) implements only the ring features it has. */
    if (n->be->ops->ring_features)
        n->host_features &= ~VNET_RING_FEATURES | n->be->ops->ring_features(n->be);
    /* Offloaded too: the backend's signals reach the guest through this I/O thread. */
    n->host_features |= BIT(VIRTIO_NET_F_NOTF_COAL);
    if (npairs > 1)
        n->host_features |= BIT(VIRTIO_NET_F_MQ);
}

/* With vpf's data path, pairs 1.. on their own I/O threads ("net0q1", ...): they then
 * move packets on other cores than pair 0. Offloaded, the backend's threads do that and
 * the device's thread keeps them all. 0, or -1 (errno; none left running). */
static int pair_threads_start(struct virtio_net *n)
{
    if (vnet_is_offload(n))
        return 0;
    for (unsigned k = 1; k < n->npairs; k++) {
        struct vnet_pair *p = &n->pairs[k];
        char name[sizeof(n->name) + 16];
        snprintf(name, sizeof(name), "%sq%u", n->name, k);
        if (iothread_start(&p->own_io, name) < 0) {
            pair_threads_stop(n);
            return -1;
        }
        p->io = &p->own_io;
    }
    return 0;
}

struct virtio_net *virtio_net_create_mq(const char *name, const struct guest_mem *mem,
                                        struct net_backend *const *be, unsigned npairs,
                                        const uint8_t mac[6], char *err, size_t errlen)
{
    const char *unfit = backends_unfit(be, npairs);
    if (unfit) {
        snprintf(err, errlen, "%s", unfit);
        return NULL;
    }
    struct virtio_net *n = calloc(1, sizeof(*n));
    struct vnet_pair *pairs = calloc(npairs, sizeof(*pairs));
    if (!n || !pairs) {
        snprintf(err, errlen, "out of memory");
        free(n);
        free(pairs);
        return NULL;
    }
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->pairs = pairs;
    n->ops = vnet_ops;
    n->ops.num_queues = 2 * npairs + 1;
    pthread_mutex_init(&n->cfg.lock, NULL);
    pthread_mutex_init(&n->event_lock, NULL);
    pthread_mutex_init(&n->tx.lock, NULL);
    for (unsigned i = 0; i < VNET_MAX_DATAQ; i++)
        n->off.call_fd[i] = n->off.err_fd[i] = -1;
    vnet_init_state(n, be, npairs, mac);
    if (virtio_dev_init(&n->vdev, &n->ops, mem) < 0) {
        snprintf(err, errlen, "kick eventfds: %s", strerror(errno));
        vnet_free(n);
        return NULL;
    }
    virtio_dev_set_name(&n->vdev, n->name);
    for (unsigned k = 0; k < npairs; k++) {
        if (vnet_tx_init(&n->pairs[k]) < 0 || vnet_notify_init(&n->pairs[k]) < 0) {
            snprintf(err, errlen, "timerfd: %s", strerror(errno));
            vnet_free(n);
            return NULL;
        }
    }
    if (vnet_offload_init(n) < 0 || iothread_start(&n->io, n->name) < 0) {
        snprintf(err, errlen, "I/O thread: %s", strerror(errno));
        vnet_free(n);
        return NULL;
    }
    if (pair_threads_start(n) < 0) {
        snprintf(err, errlen, "I/O thread: %s", strerror(errno));
        iothread_stop(&n->io);
        vnet_free(n);
        return NULL;
    }
    /* Until a driver asks for more, one pair receives: the other tap queues detached. */
    iothread_call(&n->io, dp_one_pair, n);
    vnet_offload_watch_peer(n);
    return n;
}

struct virtio_net *virtio_net_create(const char *name, const struct guest_mem *mem,
                                     struct net_backend *be, const uint8_t mac[6], char *err,
                                     size_t errlen)
{
    return virtio_net_create_mq(name, mem, &be, 1, mac, err, errlen);
}

void virtio_net_set_event_hook(struct virtio_net *n, virtio_net_event_fn fn, void *opaque)
{
    n->event_opaque = opaque;
    n->event_fn = fn;
}

void virtio_net_destroy(struct virtio_net *n)
{
    if (!n)
        return;
    virtio_dev_destroy(&n->vdev);
    iothread_stop(&n->io);
    pair_threads_stop(n);
    for (unsigned k = 0; k < n->npairs; k++)
        net_backend_close(n->pairs[k].be);
    vnet_free(n);
}

struct virtio_dev *virtio_net_vdev(struct virtio_net *n) { return &n->vdev; }

void virtio_net_offer_features(struct virtio_net *n, uint64_t features)
{
    n->host_features |= features;
}

void virtio_net_set_port(struct virtio_net *n, const struct virtio_net_port *p)
{
    pthread_mutex_lock(&n->cfg.lock);
    bool new_mac = memcmp(n->cfg.port.mac, p->mac, 6) != 0;
    n->cfg.port = *p;
    if (new_mac)
        memcpy(n->cfg.mac, p->mac, 6);
    pthread_mutex_unlock(&n->cfg.lock);
    /* No interrupt: Linux reads the MAC at probe only; the generation tells a reader. */
    if (new_mac)
        __atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_RELEASE);
    iothread_call(&n->io, dp_port, n);
}

void virtio_net_get_port(struct virtio_net *n, struct virtio_net_port *p)
{
    pthread_mutex_lock(&n->cfg.lock);
    *p = n->cfg.port;
    pthread_mutex_unlock(&n->cfg.lock);
}

void virtio_net_set_spoofchk(struct virtio_net *n, bool on)
{
    struct virtio_net_port p;
    virtio_net_get_port(n, &p);
    p.spoofchk = on;
    virtio_net_set_port(n, &p);
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
    pthread_mutex_lock(&n->cfg.lock);
    bool changed = n->cfg.link_up != up;
    n->cfg.link_up = up;
    pthread_mutex_unlock(&n->cfg.lock);
    if (!changed)
        return;
    iothread_call(&n->io, dp_link, n);
    /* virtio 1.2 §5.1.4.2: a status change is a config change (interrupt if DRIVER_OK). */
    virtio_dev_config_changed(&n->vdev);
}

bool virtio_net_link_up(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg.lock);
    bool up = n->cfg.link_up;
    pthread_mutex_unlock(&n->cfg.lock);
    return up;
}

void virtio_net_get_mac(struct virtio_net *n, uint8_t mac[6])
{
    pthread_mutex_lock(&n->cfg.lock);
    memcpy(mac, n->cfg.mac, 6);
    pthread_mutex_unlock(&n->cfg.lock);
}

void virtio_net_get_coalesce(struct virtio_net *n, struct virtio_net_coalesce *c)
{
    struct coal_query q = { n, c };
    iothread_call(&n->io, dp_get_coalesce, &q);
}

const char *virtio_net_backend_type(const struct virtio_net *n) { return n->be->ops->type; }

const char *virtio_net_stats_source(const struct virtio_net *n)
{
    /* vhost-vdpa: the device's counters are not read (VDPA_CMD_DEV_VSTATS_GET is per
     * device driver, the simulator has none): vpf's are all zero. */
    return n->be->ops->stats ? "tap" : n->be->ops->kind == NET_BACKEND_OFFLOAD ? "none" : "vpf";
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s)
{
    if (n->be->ops->stats) {
        /* Offloaded: vpf sees no packet; the tap's own counters (one file read each). */
        struct net_backend_stats b = { 0 };
        n->be->ops->stats(n->be, &b);
        *s = (struct virtio_net_stats){
            .rx_packets = b.rx_packets,
            .rx_bytes = b.rx_bytes,
            .rx_dropped = b.rx_dropped,
            .rx_errors = b.rx_errors,
            .tx_packets = b.tx_packets,
            .tx_bytes = b.tx_bytes,
            .tx_dropped = b.tx_dropped,
            .tx_errors = b.tx_errors,
        };
        return;
    }
    /* vpf's data path: the sum of the pairs' (each written by its own thread). */
    *s = (struct virtio_net_stats){ 0 };
    uint64_t *dst = (uint64_t *)s;
    for (unsigned k = 0; k < n->npairs; k++) {
        const uint64_t *src = (const uint64_t *)&n->pairs[k].stats;
        for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
            dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

unsigned virtio_net_queue_pairs(const struct virtio_net *n) { return n->npairs; }

unsigned virtio_net_active_pairs(const struct virtio_net *n)
{
    return __atomic_load_n(&n->dp.curr_pairs, __ATOMIC_RELAXED);
}

void virtio_net_get_queue_stats(struct virtio_net *n, unsigned k, struct virtio_net_queue_stats *s)
{
    *s = (struct virtio_net_queue_stats){ 0 };
    if (k >= n->npairs)
        return;
    const struct virtio_net_stats *p = &n->pairs[k].stats;
    s->rx_packets = __atomic_load_n(&p->rx_packets, __ATOMIC_RELAXED);
    s->rx_bytes = __atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED);
    s->tx_packets = __atomic_load_n(&p->tx_packets, __ATOMIC_RELAXED);
    s->tx_bytes = __atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED);
}
