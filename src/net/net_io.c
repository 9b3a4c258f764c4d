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
 * go somewhere: link up, RX buffers not known to be missing, and a receive queue at
 * all (a driver may set DRIVER_OK without one: then frames wait in the backend rather
 * than wake this thread for ever). */
void vnet_update_backend_watch(struct virtio_net *n)
{
    if (!n->dp.be_watch.active)
        return;
    uint32_t ev = 0;
    if (n->dp.link_up && !n->rx.need_kick && n->vdev.vqs[VIRTIO_NET_RXQ].started)
        ev |= EPOLLIN;
    if (n->tx.blocked)
        ev |= EPOLLOUT;
    if (iothread_watch_mod(&n->io, &n->dp.be_watch, ev) < 0)
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
    n->tx.blocked = false;
    iothread_watch_del(&n->io, &n->dp.be_watch);
}

void vnet_io_run(struct virtio_net *n, unsigned q)
{
    struct vnet_run r = q == VIRTIO_NET_RXQ   ? vnet_rx_process(n)
                        : q == VIRTIO_NET_TXQ ? vnet_tx_process(n)
                                              : vnet_ctrl_process(n);
    switch (r.outcome) {
    case VNET_IDLE:
        return;
    case VNET_BROKEN:
        /* What the run pushed before is not published: the device needs a reset. */
        vnet_fail(n, (int)q, r.error);
        return;
    case VNET_RING_EMPTY:
        if (!n->rx.need_kick) {
            n->rx.need_kick = true;     /* until the guest kicks the receive queue */
            vnet_update_backend_watch(n);
        }
        break;
    case VNET_BLOCKED:
        n->tx.blocked = true;           /* until the backend is writable */
        vnet_update_backend_watch(n);
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
    if (q == VIRTIO_NET_CTRLQ) {
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
    for (unsigned q = 0; q < VIRTIO_NET_NUM_QUEUES; q++)
        iothread_watch_del(&n->io, &n->dp.kick[q]);
    iothread_watch_del(&n->io, &n->dp.be_watch);
    vnet_tx_rate_stop(n);
    vnet_notify_stop(n);
    n->dp.running = false;
    vnet_rx_reset(n);
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
    if (q == VIRTIO_NET_RXQ && n->rx.need_kick) {
        n->rx.need_kick = false;
        vnet_update_backend_watch(n);
    }
    vnet_io_run(n, q);
}

static void on_backend(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    if ((events & EPOLLOUT) && n->tx.blocked) {
        n->tx.blocked = false;
        vnet_update_backend_watch(n);
        vnet_io_run(n, VIRTIO_NET_TXQ);
    }
    if (events & EPOLLIN)
        vnet_io_run(n, VIRTIO_NET_RXQ);
    else if (events & (EPOLLHUP | EPOLLERR))
        vnet_backend_gone(n, "hang-up");
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
    n->rx.need_kick = n->tx.blocked = n->dp.be_dead = false;
    n->promisc = n->allmulti = false;
    vnet_rx_reset(n);
    bool offload = vnet_is_offload(n);
    for (unsigned q = 0; q < VIRTIO_NET_NUM_QUEUES; q++) {
        /* Offloaded: the backend polls the RX/TX kick eventfds itself. */
        if (!n->vdev.vqs[q].started || (offload && q != VIRTIO_NET_CTRLQ))
            continue;
        n->dp.kick[q] = (struct iothread_watch){ .fd = n->vdev.kick_fds[q],
                                                 .events = EPOLLIN | EPOLLET,
                                                 .fn = on_kick,
                                                 .opaque = n };
        if (iothread_watch_add(&n->io, &n->dp.kick[q]) < 0) {
            log_error("%s: cannot poll queue %u: %s", n->name, q, strerror(errno));
            vnet_fail(n, (int)q, VIRTIO_ERR_HOST);
            return;
        }
        virtq_enable_notify(&n->vdev.vqs[q]);
    }
    if (vnet_notify_start(n) < 0) {
        log_error("%s: cannot poll the coalescing timer: %s", n->name, strerror(errno));
        vnet_fail(n, -1, VIRTIO_ERR_HOST);
        return;
    }
    if (offload) {
        vnet_offload_start(n);
        vnet_io_run(n, VIRTIO_NET_CTRLQ);
        return;
    }
    n->dp.be_watch = (struct iothread_watch){ .fd = n->be->fd,
                                              .events = 0,
                                              .fn = on_backend,
                                              .opaque = n };
    if (iothread_watch_add(&n->io, &n->dp.be_watch) < 0)
        vnet_backend_gone(n, strerror(errno));
    if (vnet_tx_rate_start(n) < 0) {
        log_error("%s: cannot poll the rate timer: %s", n->name, strerror(errno));
        vnet_fail(n, -1, VIRTIO_ERR_HOST);
        return;
    }
    vnet_update_backend_watch(n);
    /* Buffers may have been queued before DRIVER_OK. */
    vnet_io_run(n, VIRTIO_NET_TXQ);
    vnet_io_run(n, VIRTIO_NET_RXQ);
    vnet_io_run(n, VIRTIO_NET_CTRLQ);
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
    vnet_update_backend_watch(n);
    vnet_io_run(n, VIRTIO_NET_RXQ);
}
