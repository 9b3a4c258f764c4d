/* virtio-net on its I/O thread: starts and stops the data path, owns the watches of the
 * kick eventfds and of the backend fd, and runs the queues.
 *
 * A run over a queue (net_rx.c, net_tx.c, net_ctrl.c) does the queue's work and returns
 * how it ended (struct vnet_run); vnet_io_run() applies that in one place: the guest's
 * used-buffer notification (net_notify.c), the backend fd's epoll interest (input only
 * while a packet could go somewhere, output while the backend is full), the rate timer
 * (net_tx.c), DEVICE_NEEDS_RESET for a guest error, the I/O thread's scheduling policy
 * (iothread_note_run). Every watch handler and hand-over call goes through it.
 *
 * I/O thread only (handlers and iothread_call); no lock but cfg.lock for the link. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/log.h"
#include "net/vnet.h"

/* The backend fd is watched level-triggered, so EPOLLIN only while a packet it has can
 * go somewhere: link up, the pair in use, RX buffers not known to be missing, and a
 * receive queue at all (a driver may set DRIVER_OK without one: then frames wait in
 * the backend rather than wake this thread for ever). */
void vnet_update_backend_watch(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    if (!p->be_watch.active)
        return;
    uint32_t ev = 0;
    if (n->dp.link_up && !p->rx.need_kick && p->idx < n->dp.curr_pairs &&
        n->vdev.vqs[vnet_rxq(p->idx)].started)
        ev |= EPOLLIN;
    if (p->tx_blocked)
        ev |= EPOLLOUT;
    if (iothread_watch_mod(&n->io, &p->be_watch, ev) < 0)
        vnet_backend_gone(n, strerror(errno));
}

void vnet_backend_gone(struct virtio_net *n, const char *why)
{
    if (!n->dp.be_err_logged) {
        log_error("%s: backend %s failed (%s); link stays down until reset", n->name, n->be->name,
                  why);
        n->dp.be_err_logged = true;
        vnet_event(n, VIRTIO_NET_EVENT_BACKEND_FAILED, why);
    }
    n->dp.be_dead = true;
    for (unsigned k = 0; k < n->npairs; k++) {
        n->pairs[k].tx_blocked = false;
        iothread_watch_del(&n->io, &n->pairs[k].be_watch);
    }
}

/* Pair k's backend queue attached or detached (a multi-queue tap: TUNSETQUEUE). */
static int pair_enable(struct virtio_net *n, unsigned k, bool on)
{
    struct net_backend *be = n->pairs[k].be;
    if (n->npairs == 1 || !be->ops->set_queue_enabled || be->ops->set_queue_enabled(be, on) == 0)
        return 0;
    log_error("%s: cannot %s queue pair %u of %s", n->name, on ? "attach" : "detach", k, be->name);
    return -1;
}

static void on_backend(struct iothread_watch *w, uint32_t events);

/* Pair p's backend fd watched (userspace data path, running) or not: only the pairs in
 * use are, so a pair the guest gave up costs no wakeup. */
static void pair_watch(struct vnet_pair *p, bool on)
{
    struct virtio_net *n = p->n;
    if (!on || !n->dp.running || n->dp.be_dead || vnet_is_offload(n)) {
        iothread_watch_del(&n->io, &p->be_watch);
        return;
    }
    if (p->be_watch.active)
        return;
    p->be_watch = (struct iothread_watch){ .fd = p->be->fd,
                                           .events = 0,
                                           .fn = on_backend,
                                           .opaque = p };
    if (iothread_watch_add(&n->io, &p->be_watch) < 0) {
        vnet_backend_gone(n, strerror(errno));
        return;
    }
    vnet_update_backend_watch(p);
}

int vnet_set_pairs(struct virtio_net *n, unsigned k)
{
    int ret = 0;
    unsigned old = n->dp.curr_pairs;
    __atomic_store_n(&n->dp.curr_pairs, k, __ATOMIC_RELAXED); /* also read by others */
    /* Pair 0 is never detached: a tap keeps at least one queue. */
    for (unsigned i = 1; i < n->npairs; i++) {
        if ((i < k) == (i < old))
            continue;
        if (i >= k)
            pair_watch(&n->pairs[i], false);
        if (pair_enable(n, i, i < k) < 0)
            ret = -1;
        else if (i < k)
            pair_watch(&n->pairs[i], true);
    }
    for (unsigned i = 0; i < n->npairs; i++) {
        vnet_update_backend_watch(&n->pairs[i]);
        if (n->dp.running && i < k && i >= old)
            vnet_io_run(n, vnet_rxq(i));
    }
    return ret;
}

/* Queue q's run: RX or TX of its pair, or the control queue. */
static struct vnet_run io_process(struct virtio_net *n, unsigned q)
{
    if (q == n->dp.ctrlq)
        return vnet_ctrl_process(n);
    if (q >= 2 * n->npairs)
        return (struct vnet_run){ .outcome = VNET_IDLE };
    struct vnet_pair *p = &n->pairs[q / 2];
    return q & 1 ? vnet_tx_process(p) : vnet_rx_process(p);
}

void vnet_io_run(struct virtio_net *n, unsigned q)
{
    struct vnet_run r = io_process(n, q);
    struct vnet_pair *p = q < 2 * n->npairs ? &n->pairs[q / 2] : NULL;
    switch (r.outcome) {
    case VNET_IDLE:
        return;
    case VNET_BROKEN:
        /* What the run pushed before is not published: the device needs a reset. */
        vnet_fail(n, (int)q, r.error);
        return;
    case VNET_RING_EMPTY:
        if (!p->rx.need_kick) {
            p->rx.need_kick = true;     /* until the guest kicks the receive queue */
            vnet_update_backend_watch(p);
        }
        break;
    case VNET_BLOCKED:
        p->tx_blocked = true;           /* until the backend is writable */
        vnet_update_backend_watch(p);
        break;
    case VNET_THROTTLED:
        vnet_tx_throttle(n);
        break;
    case VNET_BACKEND_GONE:
        vnet_backend_gone(n, r.err ? strerror(r.err) : "end of file");
        break;
    case VNET_DONE:
        break;
    }
    if (q == n->dp.ctrlq) {
        vnet_notify_used(n, q);         /* commands are never moderated */
        return;
    }
    /* Out of RX buffers: a held notification is due, the driver refills only after it. */
    vnet_signal_used(n, q, r.done, r.outcome == VNET_RING_EMPTY);
    iothread_note_run(&n->io, q, r.done);
}

void vnet_dp_halt(struct virtio_net *n)
{
    vnet_offload_stop(n);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        iothread_watch_del(&n->io, &n->dp.kick[q]);
    for (unsigned k = 0; k < n->npairs; k++) {
        iothread_watch_del(&n->io, &n->pairs[k].be_watch);
        vnet_rx_reset(&n->pairs[k]);
    }
    vnet_tx_rate_stop(n);
    vnet_notify_stop(n);
    n->dp.running = false;
    /* The next driver starts on one pair (virtio 1.2 §5.1.6.5.5). */
    if (n->dp.curr_pairs != 1)
        vnet_set_pairs(n, 1);
}

void vnet_fail(struct virtio_net *n, int q, enum virtio_error err)
{
    virtio_dev_fail(&n->vdev, q, err);
    vnet_dp_halt(n);
}

/* Kick eventfds are polled edge-triggered and never read: every eventfd_signal() from
 * KVM's ioeventfd (or our own write) wakes epoll once more even while the counter is
 * non-zero, and the handler drains the whole queue anyway, so the counter carries no
 * information. Saves a read() per kick, as vhost's poll of the same fd does. The counter
 * saturates rather than wraps in the kernel; our own writes add one per 256 packets. */
static void on_kick(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    unsigned q = (unsigned)(w - n->dp.kick);
    if (q < 2 * n->npairs && q != n->dp.ctrlq && !(q & 1)) {
        struct vnet_pair *p = &n->pairs[q / 2];
        if (p->rx.need_kick) {
            p->rx.need_kick = false;
            vnet_update_backend_watch(p);
        }
    }
    vnet_io_run(n, q);
}

static void on_backend(struct iothread_watch *w, uint32_t events)
{
    struct vnet_pair *p = w->opaque;
    struct virtio_net *n = p->n;
    if ((events & EPOLLOUT) && p->tx_blocked) {
        p->tx_blocked = false;
        vnet_update_backend_watch(p);
        vnet_io_run(n, vnet_txq(p->idx));
    }
    if (events & EPOLLIN)
        vnet_io_run(n, vnet_rxq(p->idx));
    else if (events & (EPOLLHUP | EPOLLERR))
        vnet_backend_gone(n, "hang-up");
}

/* The queues' kicks: every started queue, but offloaded only the control queue (the
 * backend polls the RX/TX kick eventfds itself). 0, or -1 (device failed). */
static int watch_kicks(struct virtio_net *n, bool offload)
{
    for (unsigned q = 0; q < n->ops.num_queues; q++) {
        if (!n->vdev.vqs[q].started || (offload && q != n->dp.ctrlq))
            continue;
        n->dp.kick[q] = (struct iothread_watch){ .fd = n->vdev.kick_fds[q],
                                                 .events = EPOLLIN | EPOLLET,
                                                 .fn = on_kick,
                                                 .opaque = n };
        if (iothread_watch_add(&n->io, &n->dp.kick[q]) < 0) {
            log_error("%s: cannot poll queue %u: %s", n->name, q, strerror(errno));
            vnet_fail(n, (int)q, VIRTIO_ERR_HOST);
            return -1;
        }
        virtq_enable_notify(&n->vdev.vqs[q]);
    }
    return 0;
}

void vnet_dp_start(struct virtio_net *n)
{
    /* Never start on top of a running data path: its watches would stay registered
     * while these structs are overwritten, and every later start would find them. */
    if (n->dp.running)
        vnet_dp_halt(n);
    pthread_mutex_lock(&n->cfg.lock);
    n->dp.link_up = n->cfg.link_up;
    pthread_mutex_unlock(&n->cfg.lock);
    n->dp.running = true;
    n->dp.be_dead = false;
    n->dp.ctrlq = vnet_has(n, VIRTIO_NET_F_MQ) ? 2 * n->npairs : VIRTIO_NET_CTRLQ;
    for (unsigned k = 0; k < n->npairs; k++) {
        n->pairs[k].rx.need_kick = n->pairs[k].tx_blocked = false;
        vnet_rx_reset(&n->pairs[k]);
    }
    n->promisc = n->allmulti = false;
    bool offload = vnet_is_offload(n);
    if (watch_kicks(n, offload) < 0)
        return;
    if (vnet_notify_start(n) < 0) {
        log_error("%s: cannot poll the coalescing timer: %s", n->name, strerror(errno));
        vnet_fail(n, -1, VIRTIO_ERR_HOST);
        return;
    }
    if (offload) {
        vnet_offload_start(n);
        vnet_io_run(n, n->dp.ctrlq);
        return;
    }
    for (unsigned k = 0; k < n->dp.curr_pairs; k++)
        pair_watch(&n->pairs[k], true);
    if (vnet_tx_rate_start(n) < 0) {
        log_error("%s: cannot poll the rate timer: %s", n->name, strerror(errno));
        vnet_fail(n, -1, VIRTIO_ERR_HOST);
        return;
    }
    /* Buffers may have been queued before DRIVER_OK. */
    for (unsigned k = 0; k < n->npairs; k++) {
        vnet_io_run(n, vnet_txq(k));
        vnet_io_run(n, vnet_rxq(k));
    }
    vnet_io_run(n, n->dp.ctrlq);
}

void vnet_dp_link(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg.lock);
    n->dp.link_up = n->cfg.link_up;
    pthread_mutex_unlock(&n->cfg.lock);
    if (!n->dp.running)
        return;
    if (vnet_is_offload(n)) {
        vnet_offload_link(n);
        return;
    }
    for (unsigned k = 0; k < n->npairs; k++) {
        vnet_update_backend_watch(&n->pairs[k]);
        vnet_io_run(n, vnet_rxq(k));
    }
}
