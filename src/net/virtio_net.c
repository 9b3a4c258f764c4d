/* virtio-net: device ops (features, config space, activate/reset) and the I/O thread
 * wiring of the data path. Packet handling is in net_rx.c, net_tx.c, net_ctrl.c; an
 * offloaded data path (vhost-net) in net_offload.c. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"

#define F(bit) (1ull << (bit))

/* Offloads, offered only as far as the backend supports them. */
#define VNET_OFFLOADS (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | \
    F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | \
    F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN))
#define VNET_BASE_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | \
    F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CTRL_VQ) | \
    F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_RING_F_EVENT_IDX) | \
    F(VIRTIO_RING_F_INDIRECT_DESC))

#define VNET_RING_FEATURES (F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_RING_F_EVENT_IDX) | \
    F(VIRTIO_RING_F_INDIRECT_DESC))

/* Config fields we expose: mac, status, max_virtqueue_pairs (virtio 1.2 §5.1.4). */
#define VNET_CONFIG_SIZE offsetof(struct virtio_net_config, mtu)

static struct virtio_net *to_net(struct virtio_dev *dev)
{
    return (struct virtio_net *)dev;   /* vdev is the first member */
}

static uint64_t vnet_get_features(struct virtio_dev *dev)
{
    return to_net(dev)->host_features;
}

/* virtio 1.2 §5.1.3.1 feature dependencies. */
static bool vnet_check_features(struct virtio_dev *dev, uint64_t f)
{
    static const struct { unsigned bit; uint64_t needs_any; } deps[] = {
        { VIRTIO_NET_F_GUEST_TSO4, F(VIRTIO_NET_F_GUEST_CSUM) },
        { VIRTIO_NET_F_GUEST_TSO6, F(VIRTIO_NET_F_GUEST_CSUM) },
        { VIRTIO_NET_F_GUEST_ECN, F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) },
        { VIRTIO_NET_F_HOST_TSO4, F(VIRTIO_NET_F_CSUM) },
        { VIRTIO_NET_F_HOST_TSO6, F(VIRTIO_NET_F_CSUM) },
        { VIRTIO_NET_F_HOST_ECN, F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) },
        { VIRTIO_NET_F_CTRL_RX, F(VIRTIO_NET_F_CTRL_VQ) },
        { VIRTIO_NET_F_CTRL_MAC_ADDR, F(VIRTIO_NET_F_CTRL_VQ) },
        { VIRTIO_NET_F_NOTF_COAL, F(VIRTIO_NET_F_CTRL_VQ) },
    };
    for (size_t i = 0; i < ARRAY_SIZE(deps); i++) {
        if ((f & F(deps[i].bit)) && !(f & deps[i].needs_any)) {
            log_warn_rl(&dev->log_rl, "%s: feature %u negotiated without its dependency", dev->ops->name,
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
    pthread_mutex_lock(&n->cfg_lock);
    memcpy(cfg + offsetof(struct virtio_net_config, mac), n->mac, 6);
    /* Up when the host says so and the backend's device (vhost-vdpa) does not say down. */
    st_le16(cfg + offsetof(struct virtio_net_config, status),
            n->link_up && !n->dev_link_down ? VIRTIO_NET_S_LINK_UP : 0);
    pthread_mutex_unlock(&n->cfg_lock);
    st_le16(cfg + offsetof(struct virtio_net_config, max_virtqueue_pairs), 1);
    memcpy(data, cfg + off, len);
}

/* With VERSION_1 the config is read-only to the driver; the MAC changes only through
 * VIRTIO_NET_CTRL_MAC_ADDR_SET (virtio 1.2 §5.1.4.2). */
static void vnet_config_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len)
{
    log_debug_rl(&dev->log_rl, "%s: config write at %u ignored", dev->ops->name, off);
}

void vnet_set_mac(struct virtio_net *n, const uint8_t mac[6])
{
    pthread_mutex_lock(&n->cfg_lock);
    memcpy(n->mac, mac, 6);
    pthread_mutex_unlock(&n->cfg_lock);
    /* A generation change, no interrupt: the driver asked for it. */
    __atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_RELEASE);
}

/* ---- I/O thread ---- */

/* The backend fd is watched level-triggered, so EPOLLIN only while a packet it has can
 * go somewhere: link up, RX buffers not known to be missing, and a receive queue at
 * all (a driver may set DRIVER_OK without one: then frames wait in the backend rather
 * than wake this thread for ever). */
void vnet_update_backend_watch(struct virtio_net *n)
{
    if (!n->be_watch.active)
        return;
    uint32_t ev = 0;
    if (n->dp_link_up && !n->rx_need_kick && n->vdev.vqs[VIRTIO_NET_RXQ].started)
        ev |= EPOLLIN;
    if (n->tx_blocked)
        ev |= EPOLLOUT;
    if (iothread_watch_mod(&n->io, &n->be_watch, ev) < 0)
        vnet_backend_gone(n, strerror(errno));
}

void vnet_backend_gone(struct virtio_net *n, const char *why)
{
    if (!n->be_err_logged) {
        log_error("%s: backend %s failed (%s); link stays down until reset", n->name, n->be->name, why);
        n->be_err_logged = true;
    }
    n->be_dead = true;
    n->tx_blocked = false;
    iothread_watch_del(&n->io, &n->be_watch);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void rate_timer_arm(struct virtio_net *n, uint64_t ns)
{
    struct itimerspec its = { .it_value = { .tv_sec = (time_t)(ns / 1000000000ull),
                                            .tv_nsec = (long)(ns % 1000000000ull) } };
    if (timerfd_settime(n->rate_timer_fd, 0, &its, NULL) < 0)
        log_warn("%s: rate timer: %s", n->name, strerror(errno));
}

bool vnet_tx_rate_ok(struct virtio_net *n)
{
    if (net_rate_may_send(&n->tx_rate, now_ns()))
        return true;
    n->tx_throttled = true;
    rate_timer_arm(n, net_rate_wait_ns(&n->tx_rate));
    return false;
}

static void tx_unthrottle(struct virtio_net *n)
{
    n->tx_throttled = false;
    rate_timer_arm(n, 0);
}

static void on_rate_timer(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    uint64_t expirations;
    if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("%s: rate timer: %s", n->name, strerror(errno));
    n->tx_throttled = false;
    vnet_tx_process(n);
}

/* ---- notification coalescing (net_coal.h) ---- */

static void coal_release_held(struct virtio_net *n);

/* Arms the timer for at_ns (0: disarms). If the kernel refuses, nothing would wake us
 * for what is held: release it now instead. */
static void coal_timer_set(struct virtio_net *n, uint64_t at_ns)
{
    struct itimerspec its = { .it_value = { .tv_sec = (time_t)(at_ns / 1000000000ull),
                                            .tv_nsec = (long)(at_ns % 1000000000ull) } };
    if (timerfd_settime(n->coal_timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
        n->coal_timer_at = at_ns;
        return;
    }
    log_warn("%s: coalescing timer: %s", n->name, strerror(errno));
    n->coal_timer_at = 0;
    coal_release_held(n);
}

/* Checks queue q's held buffers for a notification. Offloaded, the backend wrote the
 * used ring and already decided (EVENT_IDX) that the driver wants this one. */
static void coal_release(struct virtio_net *n, unsigned q)
{
    net_coal_done(&n->coal[q]);
    if (n->offloaded || virtq_should_notify(&n->vdev.vqs[q]))
        virtio_dev_notify_queue(&n->vdev, q);
}

static void coal_release_held(struct virtio_net *n)
{
    for (unsigned q = 0; q < 2; q++)
        if (n->coal[q].held)
            coal_release(n, q);
}

/* Offloaded: the buffers the backend used on queue q since the last look (the used idx
 * it published; the ring is in guest RAM, mapped since the queue started). */
static unsigned coal_backend_used(struct virtio_net *n, unsigned q)
{
    uint16_t idx = ld_le16(n->vdev.vqs[q].used + 2);
    unsigned count = (uint16_t)(idx - n->coal_used_seen[q]);
    n->coal_used_seen[q] = idx;
    return count;
}

/* Offloaded, while a notification is held the backend signals nothing more (the driver
 * has not re-armed EVENT_IDX), so the packet limit and an RX ring the backend used up
 * are seen only by looking at the ring: every quarter of usecs, 50 µs to 1 ms apart. */
static uint64_t coal_backend_tick_ns(const struct net_coal *c)
{
    uint64_t ns = (uint64_t)c->usecs * 250;
    return ns < 50000 ? 50000 : ns > 1000000 ? 1000000 : ns;
}

/* Offloaded: adds the buffers the backend used since the last look; true if due (packet
 * limit, deadline, or an RX ring without a buffer left). */
static bool coal_backend_due(struct virtio_net *n, unsigned q, uint64_t now)
{
    if (net_coal_add(&n->coal[q], coal_backend_used(n, q), now))
        return true;
    const struct virtq *vq = &n->vdev.vqs[q];
    return q == VIRTIO_NET_RXQ && ld_le16(vq->avail + 2) == n->coal_used_seen[q];
}

/* When queue q's held notification must be looked at again. */
static uint64_t coal_next(const struct virtio_net *n, unsigned q, uint64_t now)
{
    const struct net_coal *c = &n->coal[q];
    uint64_t at = c->deadline_ns;
    if (n->offloaded && now + coal_backend_tick_ns(c) < at)
        at = now + coal_backend_tick_ns(c);
    return at;
}

static void coal_hold(struct virtio_net *n, unsigned q, uint64_t now)
{
    uint64_t at = coal_next(n, q, now);
    if (!n->coal_timer_at || at < n->coal_timer_at)
        coal_timer_set(n, at);
}

/* Releases what is due, then sets the timer to the earliest time left. */
static void coal_poll(struct virtio_net *n, uint64_t now)
{
    uint64_t next = 0;
    for (unsigned q = 0; q < 2; q++) {
        struct net_coal *c = &n->coal[q];
        if (!c->held)
            continue;
        if (net_coal_due(c, now) || (n->offloaded && coal_backend_due(n, q, now))) {
            coal_release(n, q);
            continue;
        }
        uint64_t at = coal_next(n, q, now);
        if (!next || at < next)
            next = at;
    }
    if (next != n->coal_timer_at)
        coal_timer_set(n, next);
}

void vnet_signal_used(struct virtio_net *n, unsigned q, unsigned count, bool now)
{
    struct virtq *vq = &n->vdev.vqs[q];
    struct net_coal *c = &n->coal[q];
    virtq_flush(vq);
    if (!net_coal_on(c)) {
        if (virtq_should_notify(vq))
            virtio_dev_notify_queue(&n->vdev, q);
        return;
    }
    uint64_t t = now_ns();
    if (net_coal_add(c, count, t) || (now && c->held))
        coal_release(n, q);
    else if (c->held)
        coal_hold(n, q, t);
}

void vnet_signal_backend(struct virtio_net *n, unsigned q)
{
    /* Tracked even while coalescing is off, so that turning it on counts from here. */
    unsigned count = coal_backend_used(n, q);
    struct net_coal *c = &n->coal[q];
    if (!net_coal_on(c)) {
        virtio_dev_notify_queue(&n->vdev, q);
        return;
    }
    /* At least one: a signal with an unchanged idx still asks for an interrupt. */
    uint64_t t = now_ns();
    if (net_coal_add(c, count ? count : 1, t))
        coal_release(n, q);
    else
        coal_hold(n, q, t);
}

void vnet_coal_release_held(struct virtio_net *n)
{
    coal_release_held(n);
    coal_poll(n, now_ns());
}

void vnet_coal_set(struct virtio_net *n, unsigned q, uint32_t max_packets, uint32_t usecs)
{
    /* Offloaded, the backend may have interrupted the guest without vpf (the vector's
     * irqfd): count from here. */
    if (n->offloaded)
        coal_backend_used(n, q);
    net_coal_set(&n->coal[q], max_packets, usecs);
    coal_poll(n, now_ns());
    /* Moderation on: the backend's signals must come through vpf; off: straight to KVM. */
    vnet_offload_route_irqs(n);
}

static void on_coal_timer(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    uint64_t expirations;
    if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("%s: coalescing timer: %s", n->name, strerror(errno));
    n->coal_timer_at = 0;       /* fired (or disarmed under us): set again if needed */
    coal_poll(n, now_ns());
}

static void dp_halt(struct virtio_net *n)
{
    vnet_offload_stop(n);
    for (unsigned q = 0; q < VIRTIO_NET_NUM_QUEUES; q++)
        iothread_watch_del(&n->io, &n->kick[q]);
    iothread_watch_del(&n->io, &n->be_watch);
    iothread_watch_del(&n->io, &n->rate_watch);
    iothread_watch_del(&n->io, &n->coal_watch);
    /* Reset or failure: nothing held survives, and the values read 0 until a driver
     * sets new ones (the next driver starts without coalescing, as Linux assumes until
     * `ethtool -C`). */
    memset(n->coal, 0, sizeof(n->coal));
    coal_timer_set(n, 0);
    tx_unthrottle(n);
    n->running = false;
    vnet_rx_reset(n);
}

void vnet_fail(struct virtio_net *n, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    virtio_dev_fail(&n->vdev, "%s", msg);
    dp_halt(n);
}

/* Kick eventfds are polled edge-triggered and never read: every eventfd_signal() from
 * KVM's ioeventfd (or our own write) wakes epoll once more even while the counter is
 * non-zero, and the handler drains the whole queue anyway, so the counter carries no
 * information. Saves a read() per kick, as vhost's poll of the same fd does. The counter
 * saturates rather than wraps in the kernel; our own writes add one per 256 packets. */
static void on_kick(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    if (w == &n->kick[VIRTIO_NET_RXQ]) {
        if (n->rx_need_kick) {
            n->rx_need_kick = false;
            vnet_update_backend_watch(n);
        }
        vnet_rx_process(n);
    } else if (w == &n->kick[VIRTIO_NET_TXQ]) {
        vnet_tx_process(n);
    } else {
        vnet_ctrl_process(n);
    }
}

static void on_backend(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    if ((events & EPOLLOUT) && n->tx_blocked) {
        n->tx_blocked = false;
        vnet_update_backend_watch(n);
        vnet_tx_process(n);
    }
    if (events & EPOLLIN)
        vnet_rx_process(n);
    else if (events & (EPOLLHUP | EPOLLERR))
        vnet_backend_gone(n, "hang-up");
}

static void dp_start(void *arg)
{
    struct virtio_net *n = arg;
    /* Never start on top of a running data path: its watches would stay registered
     * while these structs are overwritten, and every later start would find them. */
    if (n->running)
        dp_halt(n);
    pthread_mutex_lock(&n->cfg_lock);
    n->dp_link_up = n->link_up;
    pthread_mutex_unlock(&n->cfg_lock);
    n->running = true;
    n->rx_need_kick = n->tx_blocked = n->be_dead = false;
    n->promisc = n->allmulti = false;
    vnet_rx_reset(n);
    bool offload = vnet_is_offload(n);
    for (unsigned q = 0; q < VIRTIO_NET_NUM_QUEUES; q++) {
        /* Offloaded: the backend polls the RX/TX kick eventfds itself. */
        if (!n->vdev.vqs[q].started || (offload && q != VIRTIO_NET_CTRLQ))
            continue;
        n->kick[q] = (struct iothread_watch){ .fd = n->vdev.kick_fds[q], .events = EPOLLIN | EPOLLET,
                                              .fn = on_kick, .opaque = n };
        if (iothread_watch_add(&n->io, &n->kick[q]) < 0) {
            vnet_fail(n, "cannot poll queue %u: %s", q, strerror(errno));
            return;
        }
        virtq_enable_notify(&n->vdev.vqs[q]);
    }
    n->coal_watch = (struct iothread_watch){ .fd = n->coal_timer_fd, .events = EPOLLIN,
                                             .fn = on_coal_timer, .opaque = n };
    if (iothread_watch_add(&n->io, &n->coal_watch) < 0) {
        vnet_fail(n, "cannot poll the coalescing timer: %s", strerror(errno));
        return;
    }
    if (offload) {
        for (unsigned q = 0; q < 2; q++)
            n->coal_used_seen[q] = n->vdev.vqs[q].started ? ld_le16(n->vdev.vqs[q].used + 2) : 0;
        vnet_offload_start(n);
        vnet_ctrl_process(n);
        return;
    }
    n->be_watch = (struct iothread_watch){ .fd = n->be->fd, .events = 0, .fn = on_backend, .opaque = n };
    if (iothread_watch_add(&n->io, &n->be_watch) < 0)
        vnet_backend_gone(n, strerror(errno));
    n->rate_watch = (struct iothread_watch){ .fd = n->rate_timer_fd, .events = EPOLLIN,
                                             .fn = on_rate_timer, .opaque = n };
    if (iothread_watch_add(&n->io, &n->rate_watch) < 0) {
        vnet_fail(n, "cannot poll the rate timer: %s", strerror(errno));
        return;
    }
    vnet_update_backend_watch(n);
    /* Buffers may have been queued before DRIVER_OK. */
    vnet_tx_process(n);
    vnet_rx_process(n);
    vnet_ctrl_process(n);
}

static void dp_stop(void *arg)
{
    dp_halt(arg);
}

static void dp_port(void *arg)
{
    struct virtio_net *n = arg;
    pthread_mutex_lock(&n->cfg_lock);
    memcpy(n->host_mac, n->port.mac, 6);
    n->spoofchk = n->port.spoofchk;
    n->vlan = n->port.vlan;
    uint32_t rate = n->port.max_tx_rate;
    pthread_mutex_unlock(&n->cfg_lock);
    if (rate * 1000000ull / 8 != n->tx_rate.bytes_per_sec) {
        net_rate_set(&n->tx_rate, rate, now_ns());
        if (n->tx_throttled) {      /* a new limit starts with a full bucket */
            tx_unthrottle(n);
            vnet_tx_process(n);
        }
    }
}

static void dp_link(void *arg)
{
    struct virtio_net *n = arg;
    pthread_mutex_lock(&n->cfg_lock);
    n->dp_link_up = n->link_up;
    pthread_mutex_unlock(&n->cfg_lock);
    if (!n->running)
        return;
    if (vnet_is_offload(n)) {
        vnet_offload_link(n);
        return;
    }
    vnet_update_backend_watch(n);
    vnet_rx_process(n);
}

/* ---- device ops ---- */

static int vnet_activate(struct virtio_dev *dev)
{
    struct virtio_net *n = to_net(dev);
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
    pthread_mutex_lock(&n->cfg_lock);
    memcpy(n->mac, n->port.mac, 6);
    pthread_mutex_unlock(&n->cfg_lock);
    /* No offloaded packets for whatever driver comes next until it negotiates. */
    net_backend_set_features(n->be, 0);
}

static void dp_irqs(void *arg)
{
    vnet_offload_route_irqs(arg);
}

/* The transport's direct interrupt fds may have changed (a vector masked or unmasked). */
static void vnet_irq_changed(struct virtio_dev *dev)
{
    struct virtio_net *n = to_net(dev);
    if (vnet_is_offload(n))
        iothread_call(&n->io, dp_irqs, n);
}

static const struct virtio_dev_ops vnet_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = VIRTIO_NET_NUM_QUEUES,
    .queue_max_size = VIRTQ_MAX_SIZE,
    .config_size = VNET_CONFIG_SIZE,
    .get_features = vnet_get_features,
    .check_features = vnet_check_features,
    .config_read = vnet_config_read,
    .config_write = vnet_config_write,
    .activate = vnet_activate,
    .reset = vnet_reset,
    .irq_changed = vnet_irq_changed,
};

/* ---- public API ---- */

struct virtio_net *virtio_net_create(const char *name, const struct guest_mem *mem,
                                     struct net_backend *be, const uint8_t mac[6])
{
    if (be->ops->kind == NET_BACKEND_OFFLOAD &&
        (!be->ops->start_offload || !be->ops->stop_offload || !be->ops->set_link)) {
        log_error("%s: backend %s lacks the offload operations", name, be->ops->type);
        return NULL;
    }
    if (be->hdr_len != NET_BACKEND_HDR_LEN) {
        log_error("%s: backend %s: vnet header of %u bytes, need %d", name, be->ops->type,
                  be->hdr_len, NET_BACKEND_HDR_LEN);
        return NULL;
    }
    struct virtio_net *n = calloc(1, sizeof(*n));
    if (!n) {
        log_error("%s: out of memory", name);
        return NULL;
    }
    snprintf(n->name, sizeof(n->name), "%s", name);
    if (virtio_dev_init(&n->vdev, &vnet_ops, mem) < 0) {
        log_error("%s: %s", name, strerror(errno));
        free(n);
        return NULL;
    }
    n->rate_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    n->coal_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->rate_timer_fd < 0 || n->coal_timer_fd < 0) {
        log_error("%s: timerfd: %s", name, strerror(errno));
        if (n->rate_timer_fd >= 0)
            close(n->rate_timer_fd);
        if (n->coal_timer_fd >= 0)
            close(n->coal_timer_fd);
        virtio_dev_destroy(&n->vdev);
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->cfg_lock, NULL);
    memcpy(n->mac, mac, 6);
    memcpy(n->host_mac, mac, 6);
    memcpy(n->port.mac, mac, 6);
    n->link_up = true;
    n->be = be;
    n->host_features = VNET_BASE_FEATURES | (net_backend_features(be) & VNET_OFFLOADS);
    /* A device-backed data path (vhost-vdpa) implements only the ring features it has. */
    if (be->ops->ring_features)
        n->host_features &= ~VNET_RING_FEATURES | be->ops->ring_features(be);
    /* Offloaded too: the backend's signals reach the guest through this I/O thread. */
    n->host_features |= F(VIRTIO_NET_F_NOTF_COAL);
    if (vnet_offload_init(n) < 0 || iothread_start(&n->io, n->name) < 0) {
        log_error("%s: I/O thread: %s", name, strerror(errno));
        close(n->rate_timer_fd);
        close(n->coal_timer_fd);
        vnet_offload_free(n);
        virtio_dev_destroy(&n->vdev);
        pthread_mutex_destroy(&n->cfg_lock);
        free(n);
        return NULL;
    }
    vnet_offload_watch_peer(n);
    return n;
}

void virtio_net_destroy(struct virtio_net *n)
{
    if (!n)
        return;
    virtio_dev_destroy(&n->vdev);
    iothread_stop(&n->io);
    close(n->rate_timer_fd);
    close(n->coal_timer_fd);
    net_backend_close(n->be);
    vnet_offload_free(n);
    pthread_mutex_destroy(&n->cfg_lock);
    free(n);
}

struct virtio_dev *virtio_net_vdev(struct virtio_net *n)
{
    return &n->vdev;
}

void virtio_net_offer_features(struct virtio_net *n, uint64_t features)
{
    n->host_features |= features;
}

void virtio_net_set_port(struct virtio_net *n, const struct virtio_net_port *p)
{
    pthread_mutex_lock(&n->cfg_lock);
    bool new_mac = memcmp(n->port.mac, p->mac, 6) != 0;
    n->port = *p;
    if (new_mac)
        memcpy(n->mac, p->mac, 6);
    pthread_mutex_unlock(&n->cfg_lock);
    /* No interrupt: Linux reads the MAC at probe only; the generation tells a reader. */
    if (new_mac)
        __atomic_fetch_add(&n->vdev.config_generation, 1, __ATOMIC_RELEASE);
    iothread_call(&n->io, dp_port, n);
}

void virtio_net_get_port(struct virtio_net *n, struct virtio_net_port *p)
{
    pthread_mutex_lock(&n->cfg_lock);
    *p = n->port;
    pthread_mutex_unlock(&n->cfg_lock);
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
    pthread_mutex_lock(&n->cfg_lock);
    bool changed = n->link_up != up;
    n->link_up = up;
    pthread_mutex_unlock(&n->cfg_lock);
    if (!changed)
        return;
    iothread_call(&n->io, dp_link, n);
    /* virtio 1.2 §5.1.4.2: a status change is a config change (interrupt if DRIVER_OK). */
    virtio_dev_config_changed(&n->vdev);
}

bool virtio_net_link_up(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg_lock);
    bool up = n->link_up;
    pthread_mutex_unlock(&n->cfg_lock);
    return up;
}

void virtio_net_get_mac(struct virtio_net *n, uint8_t mac[6])
{
    pthread_mutex_lock(&n->cfg_lock);
    memcpy(mac, n->mac, 6);
    pthread_mutex_unlock(&n->cfg_lock);
}

struct coal_query {
    struct virtio_net *n;
    struct virtio_net_coalesce *c;
};

static void dp_get_coalesce(void *arg)
{
    struct coal_query *q = arg;
    const struct net_coal *rx = &q->n->coal[VIRTIO_NET_RXQ], *tx = &q->n->coal[VIRTIO_NET_TXQ];
    *q->c = (struct virtio_net_coalesce){ .rx_usecs = rx->usecs, .rx_max_packets = rx->max_packets,
                                          .tx_usecs = tx->usecs, .tx_max_packets = tx->max_packets };
}

void virtio_net_get_coalesce(struct virtio_net *n, struct virtio_net_coalesce *c)
{
    struct coal_query q = { n, c };
    iothread_call(&n->io, dp_get_coalesce, &q);
}

const char *virtio_net_backend_type(const struct virtio_net *n)
{
    return n->be->ops->type;
}

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
            .rx_packets = b.rx_packets, .rx_bytes = b.rx_bytes, .rx_dropped = b.rx_dropped,
            .rx_errors = b.rx_errors, .tx_packets = b.tx_packets, .tx_bytes = b.tx_bytes,
            .tx_dropped = b.tx_dropped, .tx_errors = b.tx_errors,
        };
        return;
    }
    const uint64_t *src = (const uint64_t *)&n->stats;
    uint64_t *dst = (uint64_t *)s;
    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
