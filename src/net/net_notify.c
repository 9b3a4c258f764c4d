/* Used-buffer notifications of the receiveq and transmitq, and their moderation
 * (VIRTIO_NET_F_NOTF_COAL, virtio 1.3 §5.1.6.5; the arithmetic is net_coal.c).
 *
 * Used buffers are published at once; only the check for an interrupt (and with it
 * EVENT_IDX's own suppression) waits until the first held buffer is usecs old or
 * max_packets are held, on one absolute timerfd per queue pair (on the pair's thread). With an offloaded
 * backend the same hold applies to the backend's signals, which reach the guest through
 * the I/O thread while moderation is on (net_offload.c); the used buffers are counted
 * from the used idx the backend published, and since a backend with a held signal stays
 * quiet, the timer also looks at the ring every quarter of usecs (50 µs to 1 ms).
 *
 * Queue q's state on its pair's I/O thread only (vnet_notify_init/free: creation;
 * vnet_coal_set: the control queue's thread, handing each pair its part). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"

static void coal_release_held(struct vnet_pair *p);

static struct vnet_pair *pair_of(struct virtio_net *n, unsigned q) { return &n->pairs[q / 2]; }

/* Arms pair p's timer for at_ns (0: disarms). If the kernel refuses, nothing would wake
 * us for what is held: release it now instead. */
static void coal_timer_set(struct vnet_pair *p, uint64_t at_ns)
{
    struct itimerspec its = { .it_value = ns_to_timespec(at_ns) };
    if (timerfd_settime(p->coal_timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
        p->coal_timer_at = at_ns;
        return;
    }
    log_warn("%s: coalescing timer: %s", p->n->name, strerror(errno));
    p->coal_timer_at = 0;
    coal_release_held(p);
}

/* Checks queue q's held buffers for a notification. Offloaded, the backend wrote the
 * used ring and already decided (EVENT_IDX) that the driver wants this one. */
static void coal_release(struct virtio_net *n, unsigned q)
{
    net_coal_done(&n->notify.coal[q]);
    if (n->off.active || virtq_should_notify(&n->vdev.vqs[q]))
        virtio_dev_notify_queue(&n->vdev, q);
}

static void coal_release_held(struct vnet_pair *p)
{
    for (unsigned q = vnet_rxq(p->idx); q <= vnet_txq(p->idx); q++)
        if (p->n->notify.coal[q].held)
            coal_release(p->n, q);
}

/* Offloaded: the buffers the backend used on queue q since the last look (the used idx
 * it published; the ring is in guest RAM, mapped since the queue started). */
static unsigned coal_backend_used(struct virtio_net *n, unsigned q)
{
    uint16_t idx = ld_le16(n->vdev.vqs[q].used + 2);
    unsigned count = (uint16_t)(idx - n->notify.used_seen[q]);
    n->notify.used_seen[q] = idx;
    return count;
}

/* Offloaded, while a notification is held the backend signals nothing more (the driver
 * has not re-armed EVENT_IDX), so the packet limit and an RX ring the backend used up
 * are seen only by looking at the ring: every quarter of usecs, 50 µs to 1 ms apart. */
static uint64_t coal_backend_tick_ns(const struct net_coal *c)
{
    uint64_t ns = (uint64_t)c->usecs * NSEC_PER_USEC / 4;
    return ns < 50 * NSEC_PER_USEC ? 50 * NSEC_PER_USEC : ns > NSEC_PER_MSEC ? NSEC_PER_MSEC : ns;
}

/* Offloaded: adds the buffers the backend used since the last look; true if due (packet
 * limit, deadline, or an RX ring without a buffer left). */
static bool coal_backend_due(struct virtio_net *n, unsigned q, uint64_t now)
{
    if (net_coal_add(&n->notify.coal[q], coal_backend_used(n, q), now))
        return true;
    const struct virtq *vq = &n->vdev.vqs[q];
    return !(q & 1) && ld_le16(vq->avail + 2) == n->notify.used_seen[q];
}

/* When queue q's held notification must be looked at again. */
static uint64_t coal_next(const struct virtio_net *n, unsigned q, uint64_t now)
{
    const struct net_coal *c = &n->notify.coal[q];
    uint64_t at = c->deadline_ns;
    if (n->off.active && now + coal_backend_tick_ns(c) < at)
        at = now + coal_backend_tick_ns(c);
    return at;
}

static void coal_hold(struct virtio_net *n, unsigned q, uint64_t now)
{
    struct vnet_pair *p = pair_of(n, q);
    uint64_t at = coal_next(n, q, now);
    if (!p->coal_timer_at || at < p->coal_timer_at)
        coal_timer_set(p, at);
}

/* Releases what of pair p's queues is due, then sets its timer to the earliest time
 * left. */
static void coal_poll(struct vnet_pair *p, uint64_t now)
{
    struct virtio_net *n = p->n;
    uint64_t next = 0;
    for (unsigned q = vnet_rxq(p->idx); q <= vnet_txq(p->idx); q++) {
        struct net_coal *c = &n->notify.coal[q];
        if (!c->held)
            continue;
        if (net_coal_due(c, now) || (n->off.active && coal_backend_due(n, q, now))) {
            coal_release(n, q);
            continue;
        }
        uint64_t at = coal_next(n, q, now);
        if (!next || at < next)
            next = at;
    }
    if (next != p->coal_timer_at)
        coal_timer_set(p, next);
}

void vnet_signal_used(struct virtio_net *n, unsigned q, unsigned count, bool now)
{
    struct virtq *vq = &n->vdev.vqs[q];
    struct net_coal *c = &n->notify.coal[q];
    virtq_flush(vq);
    if (!net_coal_on(c)) {
        if (virtq_should_notify(vq))
            virtio_dev_notify_queue(&n->vdev, q);
        return;
    }
    uint64_t t = monotonic_ns();
    if (net_coal_add(c, count, t) || (now && c->held))
        coal_release(n, q);
    else if (c->held)
        coal_hold(n, q, t);
}

void vnet_notify_used(struct virtio_net *n, unsigned q)
{
    struct virtq *vq = &n->vdev.vqs[q];
    virtq_flush(vq);
    if (virtq_should_notify(vq))
        virtio_dev_notify_queue(&n->vdev, q);
}

void vnet_signal_backend(struct virtio_net *n, unsigned q)
{
    /* Tracked even while coalescing is off, so that turning it on counts from here. */
    unsigned count = coal_backend_used(n, q);
    struct net_coal *c = &n->notify.coal[q];
    if (!net_coal_on(c)) {
        virtio_dev_notify_queue(&n->vdev, q);
        return;
    }
    /* At least one: a signal with an unchanged idx still asks for an interrupt. */
    uint64_t t = monotonic_ns();
    if (net_coal_add(c, count ? count : 1, t))
        coal_release(n, q);
    else
        coal_hold(n, q, t);
}

void vnet_coal_release_held(struct virtio_net *n)
{
    for (unsigned k = 0; k < n->npairs; k++) {
        coal_release_held(&n->pairs[k]);
        coal_poll(&n->pairs[k], monotonic_ns());
    }
}

struct coal_arg {
    struct vnet_pair *p;
    unsigned first;             /* VIRTIO_NET_RXQ or TXQ: which queue of the pair */
    uint32_t max_packets, usecs;
};

static void coal_set_pair(void *arg)
{
    struct coal_arg *a = arg;
    struct vnet_pair *p = a->p;
    unsigned q = 2 * p->idx + a->first;
    /* Offloaded, the backend may have interrupted the guest without vpf (the vector's
     * irqfd): count from here. */
    if (p->n->off.active)
        coal_backend_used(p->n, q);
    net_coal_set(&p->n->notify.coal[q], a->max_packets, a->usecs);
    coal_poll(p, monotonic_ns());
}

void vnet_coal_set(struct virtio_net *n, unsigned q, uint32_t max_packets, uint32_t usecs)
{
    for (unsigned k = 0; k < n->npairs; k++) {
        struct coal_arg a = { &n->pairs[k], q, max_packets, usecs };
        iothread_call(n->pairs[k].io, coal_set_pair, &a);
    }
    /* Moderation on: the backend's signals must come through vpf; off: straight to KVM. */
    vnet_offload_route_irqs(n);
}

void vnet_coal_get(struct virtio_net *n, struct virtio_net_coalesce *c)
{
    const struct net_coal *rx = &n->notify.coal[VIRTIO_NET_RXQ],
                          *tx = &n->notify.coal[VIRTIO_NET_TXQ];
    *c = (struct virtio_net_coalesce){ .rx_usecs = rx->usecs,
                                       .rx_max_packets = rx->max_packets,
                                       .tx_usecs = tx->usecs,
                                       .tx_max_packets = tx->max_packets };
}

static void on_coal_timer(struct iothread_watch *w, uint32_t events)
{
    struct vnet_pair *p = w->opaque;
    uint64_t expirations;
    if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("%s: coalescing timer: %s", p->n->name, strerror(errno));
    p->coal_timer_at = 0;       /* fired (or disarmed under us): set again if needed */
    coal_poll(p, monotonic_ns());
}

int vnet_notify_init(struct vnet_pair *p)
{
    p->coal_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return p->coal_timer_fd < 0 ? -1 : 0;
}

void vnet_notify_free(struct vnet_pair *p)
{
    if (p->coal_timer_fd >= 0)
        close(p->coal_timer_fd);
    p->coal_timer_fd = -1;
}

int vnet_notify_start(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    p->coal_watch = (struct iothread_watch){ .fd = p->coal_timer_fd,
                                             .events = EPOLLIN,
                                             .fn = on_coal_timer,
                                             .opaque = p };
    if (iothread_watch_add(p->io, &p->coal_watch) < 0)
        return -1;
    /* Offloaded: the backend's used buffers count from where the rings are now. */
    if (vnet_is_offload(n))
        for (unsigned q = vnet_rxq(p->idx); q <= vnet_txq(p->idx); q++)
            n->notify.used_seen[q] = n->vdev.vqs[q].started ? ld_le16(n->vdev.vqs[q].used + 2) : 0;
    return 0;
}

void vnet_notify_stop(struct vnet_pair *p)
{
    iothread_watch_del(p->io, &p->coal_watch);
    /* Reset or failure: nothing held survives, and the values read 0 until a driver
     * sets new ones (the next driver starts without coalescing, as Linux assumes until
     * `ethtool -C`). */
    memset(&p->n->notify.coal[vnet_rxq(p->idx)], 0, 2 * sizeof(p->n->notify.coal[0]));
    coal_timer_set(p, 0);
}
