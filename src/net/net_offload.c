/* virtio-net with an offloaded data path (vhost-net, vhost-vdpa): on DRIVER_OK the
 * receive and transmit rings go to the backend, which the guest's doorbells reach
 * directly (the queue's KVM ioeventfd is the backend's kick fd, so this I/O thread stops
 * polling it) and which signals a per-ring "call" eventfd when the guest should be
 * interrupted.
 *
 * Which eventfd that is (vnet_offload_route_irqs): while the queue's MSI-X vector is
 * unmasked and routed and the guest's interrupt moderation (NOTF_COAL) is off for the
 * ring, the vector's irqfd itself: KVM injects the interrupt, no vpf thread wakes.
 * Otherwise vpf's own call_fd: the I/O thread forwards it with virtio_dev_notify_queue(),
 * i.e. msix_signal(), so a masked vector (per-vector or function mask) only sets its
 * pending bit and fires on unmask (PCIe 6.0 §6.1.4.2), and moderation holds it as it
 * holds vpf's own interrupts. The transport reports every change that may move a vector
 * between the two (irq_changed, vCPU thread, before the guest's register write
 * completes), and the switch (VHOST_SET_VRING_CALL) is done by then. call_fd stays
 * watched either way, so a signal that reached it just before an unmask is delivered.
 * The control queue stays here. A ring error the backend reports makes the device need a
 * reset. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "net/vnet.h"
#include "virtio/device.h"

/* Rings by queue index: pair k's rx at 2k, tx at 2k + 1, on pair k's backend as its
 * rings 0 and 1 (one vhost-net device per pair). */
#define NRINGS(n) (2 * (n)->npairs)
#define RING_BE(n, i) ((n)->pairs[(i) / 2].be)

bool vnet_is_offload(const struct virtio_net *n) { return n->be->ops->kind == NET_BACKEND_OFFLOAD; }

int vnet_offload_init(struct virtio_net *n)
{
    for (unsigned i = 0; i < VNET_MAX_DATAQ; i++)
        n->off.call_fd[i] = n->off.err_fd[i] = n->off.ring_call[i] = -1;
    if (!vnet_is_offload(n))
        return 0;
    for (unsigned i = 0; i < NRINGS(n); i++) {
        n->off.call_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        n->off.err_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (n->off.call_fd[i] < 0 || n->off.err_fd[i] < 0) {
            vnet_offload_free(n);
            return -1;
        }
    }
    return 0;
}

void vnet_offload_free(struct virtio_net *n)
{
    for (unsigned i = 0; i < VNET_MAX_DATAQ; i++) {
        if (n->off.call_fd[i] >= 0)
            close(n->off.call_fd[i]);
        if (n->off.err_fd[i] >= 0)
            close(n->off.err_fd[i]);
        n->off.call_fd[i] = n->off.err_fd[i] = -1;
    }
}

static void drain(int fd)
{
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing pending */
    }
}

/* The fd the backend should signal for ring i now (see the top of this file). */
static int ring_call_fd(struct virtio_net *n, unsigned i)
{
    int fd = -1;
    if (RING_BE(n, i)->ops->set_call && !vnet_coal_on(n, i))
        fd = virtio_dev_queue_irqfd(&n->vdev, i);
    return fd >= 0 ? fd : n->off.call_fd[i];
}

void vnet_offload_route_irqs(struct virtio_net *n)
{
    if (!n->off.active)
        return;
    for (unsigned i = 0; i < NRINGS(n); i++) {
        int fd = ring_call_fd(n, i);
        if (!n->off.pair_active[i / 2] || fd == n->off.ring_call[i])
            continue;
        struct net_backend *be = RING_BE(n, i);
        if (be->ops->set_call(be, i % 2, fd) < 0) {
            log_warn_rl(&n->vdev.log_rl, "%s: backend %s: cannot move ring %u's interrupt to %s",
                        n->name, n->be->ops->type, i, fd == n->off.call_fd[i] ? "vpf" : "KVM");
            continue;
        }
        n->off.ring_call[i] = fd;
    }
}

static void on_call(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    drain(w->fd);
    vnet_signal_backend(n, (unsigned)(w - n->off.call_watch));
}

static void on_err(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    int q = (int)(w - n->off.err_watch);
    struct net_backend *be = RING_BE(n, q);
    drain(w->fd);
    if (be->ops->backend_broken && be->ops->backend_broken(be)) {
        /* The host's doing (tap deleted): not the guest's fault, no NEEDS_RESET. The
         * used buffers behind a held signal are announced before vpf stops looking. */
        vnet_coal_release_held(n);
        char why[160] = "its tap is gone";
        if (n->be->ops->error)
            n->be->ops->error(n->be, why, sizeof(why));
        vnet_offload_stop(n);
        vnet_backend_gone(n, why);
        /* A device gone for good (vhost-vdpa's deleted vDPA device): the guest sees its
         * carrier drop (virtio 1.2 §5.1.4.2, a config change), as on a NIC whose port died. */
        if (n->be->ops->error)
            virtio_net_set_link(n, false);
        return;
    }
    vnet_fail(n, q, VIRTIO_ERR_BACKEND_RING);
}

static void unwatch(struct virtio_net *n)
{
    for (unsigned i = 0; i < NRINGS(n); i++) {
        iothread_watch_del(&n->io, &n->off.call_watch[i]);
        iothread_watch_del(&n->io, &n->off.err_watch[i]);
    }
    if (n->off.cfg_watch.fn)
        iothread_watch_del(&n->io, &n->off.cfg_watch);
    n->off.cfg_watch.fn = NULL;
}

/* The device's own link (vhost-vdpa's config interrupt, virtio 1.2 §5.1.4: status
 * VIRTIO_NET_S_LINK_UP): the guest's link is up only while both the host and the
 * device say so; a change is a config change for the guest (§5.1.4.2). */
static void update_device_link(struct virtio_net *n)
{
    bool down = !n->be->ops->device_link(n->be);
    pthread_mutex_lock(&n->cfg.lock);
    bool changed = n->cfg.dev_link_down != down;
    n->cfg.dev_link_down = down;
    pthread_mutex_unlock(&n->cfg.lock);
    if (!changed)
        return;
    char why[200] = "";
    if (down && n->be->ops->error && n->be->ops->error(n->be, why + 2, sizeof(why) - 2) == 0)
        memcpy(why, ": ", 2);
    log_info("%s: the %s device's link went %s%s", n->name, n->be->ops->type, down ? "down" : "up",
             why);
    virtio_dev_config_changed(&n->vdev);
    vnet_event(n, VIRTIO_NET_EVENT_LINK, down ? "down" : "up");
}

/* The backend's peer (vhost-user) came or went: its own work first (service), then
 * BACKEND_FAILED when it went, BACKEND_RESTORED when a reconnect restored the rings,
 * and the guest's carrier follows (device_link). */
static void on_peer(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    bool was_up = !n->cfg.dev_link_down;    /* written only here, on this thread */
    n->be->ops->service(n->be);
    bool up = n->be->ops->device_link(n->be);
    if (was_up && !up) {
        char why[200] = "the peer is gone";
        if (n->be->ops->error)
            n->be->ops->error(n->be, why, sizeof(why));
        n->off.peer_lost = true;
        vnet_event(n, VIRTIO_NET_EVENT_BACKEND_FAILED, why);
    } else if (!was_up && up && n->off.peer_lost) {
        n->off.peer_lost = false;       /* the rings came back from their used index */
        vnet_event(n, VIRTIO_NET_EVENT_BACKEND_RESTORED, "");
    }
    update_device_link(n);
}

static void peer_watch_start(void *arg)
{
    struct virtio_net *n = arg;
    n->off.peer_watch = (struct iothread_watch){ .fd = n->be->ops->event_fd(n->be),
                                                 .events = EPOLLIN,
                                                 .fn = on_peer,
                                                 .opaque = n };
    if (iothread_watch_add(&n->io, &n->off.peer_watch) < 0)
        log_error("%s: cannot watch the backend's peer: %s", n->name, strerror(errno));
    update_device_link(n);
}

void vnet_offload_watch_peer(struct virtio_net *n)
{
    const struct net_backend_ops *o = n->be->ops;
    if (vnet_is_offload(n) && o->event_fd && o->service && o->device_link)
        iothread_call(&n->io, peer_watch_start, n);
}

int virtio_net_backend_peer(struct virtio_net *n, const char **socket, const char **state)
{
    if (!n->be->ops->peer_state)
        return -1;
    *socket = n->be->socket;
    *state = n->be->ops->peer_state(n->be);
    return 0;
}

static void on_config(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    drain(w->fd);
    update_device_link(n);
}

/* Pair k's two rings and their eventfds' watches. 0, or -1 (nothing left watched for
 * the pair; the backend is gone). */
static int pair_rings(struct virtio_net *n, unsigned k, struct net_backend_offload *cfg)
{
    for (unsigned r = 0; r < 2; r++) {
        unsigned i = 2 * k + r;
        const struct virtq *vq = &n->vdev.vqs[i];
        /* Stale signals of an earlier run must not become interrupts now. */
        drain(n->off.call_fd[i]);
        drain(n->off.err_fd[i]);
        n->off.ring_call[i] = ring_call_fd(n, i);
        cfg->vrings[r] = (struct net_backend_vring){
            .size = vq->size,
            .last_avail = vq->last_avail,
            .desc_gpa = vq->desc_gpa,
            .avail_gpa = vq->avail_gpa,
            .used_gpa = vq->used_gpa,
            .kick_fd = n->vdev.kick_fds[i],
            .call_fd = n->off.ring_call[i],
            .err_fd = n->off.err_fd[i],
        };
        n->off.call_watch[i] = (struct iothread_watch){ .fd = n->off.call_fd[i],
                                                        .events = EPOLLIN,
                                                        .fn = on_call,
                                                        .opaque = n };
        n->off.err_watch[i] = (struct iothread_watch){ .fd = n->off.err_fd[i],
                                                       .events = EPOLLIN,
                                                       .fn = on_err,
                                                       .opaque = n };
        if (iothread_watch_add(&n->io, &n->off.call_watch[i]) < 0 ||
            iothread_watch_add(&n->io, &n->off.err_watch[i]) < 0) {
            vnet_backend_gone(n, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Hands pair k to its backend. A pair whose queues the driver did not enable stays off
 * (legal; pair 0's missing is worth a warning: the NIC moves nothing). 0, or -1. */
static int pair_start(struct virtio_net *n, unsigned k)
{
    struct net_backend *be = n->pairs[k].be;
    struct net_backend_offload cfg = {
        .mem = n->vdev.mem,
        .features = n->vdev.features,
        .link_up = n->dp.link_up,
        .nvrings = 2,
    };
    if (!n->vdev.vqs[vnet_rxq(k)].started || !n->vdev.vqs[vnet_txq(k)].started) {
        if (k == 0)
            log_warn_rl(&n->vdev.log_rl, "%s: queue pair 0 not enabled, data path stays off",
                        n->name);
        return 0;
    }
    if (pair_rings(n, k, &cfg) < 0)
        return -1;
    if (be->ops->start_offload(be, &cfg) < 0) {
        vnet_backend_gone(n, "cannot start the offloaded data path");
        return -1;
    }
    n->off.pair_active[k] = true;
    n->off.active = true;
    return 0;
}

static void watch_config(struct virtio_net *n)
{
    int cfd = n->be->ops->config_fd && n->be->ops->device_link ? n->be->ops->config_fd(n->be) : -1;
    if (cfd < 0)
        return;
    drain(cfd);
    n->off.cfg_watch = (struct iothread_watch){ .fd = cfd,
                                                .events = EPOLLIN,
                                                .fn = on_config,
                                                .opaque = n };
    if (iothread_watch_add(&n->io, &n->off.cfg_watch) < 0) {
        log_warn("%s: cannot watch the device's config interrupt: %s", n->name, strerror(errno));
        n->off.cfg_watch.fn = NULL;
    }
    update_device_link(n);
}

void vnet_offload_start(struct virtio_net *n)
{
    for (unsigned k = 0; k < n->dp.used_pairs; k++) {
        if (pair_start(n, k) < 0) {
            n->off.active = true;       /* what did start is stopped */
            vnet_offload_stop(n);
            return;
        }
    }
    if (n->off.active)
        watch_config(n);
}

void vnet_offload_stop(struct virtio_net *n)
{
    if (!n->off.active)
        return;
    for (unsigned k = 0; k < n->npairs; k++) {
        if (!n->off.pair_active[k])
            continue;
        uint16_t last[2] = { 0 };
        n->pairs[k].be->ops->stop_offload(n->pairs[k].be, last, 2);
        n->vdev.vqs[vnet_rxq(k)].last_avail = last[0];
        n->vdev.vqs[vnet_txq(k)].last_avail = last[1];
        n->off.pair_active[k] = false;
    }
    unwatch(n);
    n->off.active = false;
}

void vnet_offload_link(struct virtio_net *n)
{
    for (unsigned k = 0; k < n->npairs; k++) {
        struct net_backend *be = n->pairs[k].be;
        if (n->off.pair_active[k] && be->ops->set_link(be, n->dp.link_up) < 0)
            log_error("%s: backend %s: cannot %s the tap", n->name, be->ops->type,
                      n->dp.link_up ? "reattach" : "detach");
    }
}

int virtio_net_backend_error(struct virtio_net *n, char *buf, size_t len)
{
    return n->be->ops->error ? n->be->ops->error(n->be, buf, len) : -1;
}

bool virtio_net_carrier(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg.lock);
    bool up = n->cfg.link_up && !n->cfg.dev_link_down;
    pthread_mutex_unlock(&n->cfg.lock);
    return up;
}
