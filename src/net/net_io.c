/* virtio-net on its I/O threads: starts and stops the data path, owns the watches of the
 * kick eventfds and of the backend fds, and runs the queues.
 *
 * A run over a queue (net_rx.c, net_tx.c, net_ctrl.c) does the queue's work and returns
 * how it ended (struct vnet_run); vnet_io_run() applies that in one place: the guest's
 * used-buffer notification (net_notify.c), the backend fd's epoll interest (input only
 * while a packet could go somewhere, output while the backend is full), the rate timer
 * (net_tx.c), DEVICE_NEEDS_RESET for a guest error, the I/O thread's scheduling policy
 * (iothread_note_run). Every watch handler and hand-over call goes through it.
 *
 * Threads: the device's I/O thread (n->io) runs the control queue, the offloaded data
 * path and pair 0; with vpf's data path and several pairs each further pair runs on its
 * own (p->io), so pairs move packets on different cores. The device's thread hands each
 * pair its part of a start, stop, link or port change with iothread_call (direct for
 * its own pairs); a pair's thread calls no other thread, so that cannot deadlock. No
 * lock but cfg.lock (link, port) and tx.lock (the rate limit's bucket). */
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
    if (p->link_up && !p->rx.need_kick && p->active && n->vdev.vqs[vnet_rxq(p->idx)].started)
        ev |= EPOLLIN;
    if (p->tx_blocked)
        ev |= EPOLLOUT;
    if (iothread_watch_mod(p->io, &p->be_watch, ev) < 0)
        vnet_pair_gone(p, strerror(errno));
}

/* Once per device until its reset, whichever thread finds it first. */
static void gone_log(struct virtio_net *n, const char *why)
{
    if (__atomic_exchange_n(&n->dp.be_err_logged, true, __ATOMIC_RELAXED))
        return;
    log_error("%s: backend %s failed (%s); link stays down until reset", n->name, n->be->name, why);
    vnet_event(n, VIRTIO_NET_EVENT_BACKEND_FAILED, why);
}

void vnet_pair_gone(struct vnet_pair *p, const char *why)
{
    gone_log(p->n, why);
    p->be_dead = true;
    p->tx_blocked = false;
    iothread_watch_del(p->io, &p->be_watch);
}

void vnet_backend_gone(struct virtio_net *n, const char *why)
{
    gone_log(n, why);
    n->dp.be_dead = true;
    for (unsigned k = 0; k < n->npairs; k++)
        if (n->pairs[k].io == &n->io)
            vnet_pair_gone(&n->pairs[k], why);
}

static void on_backend(struct iothread_watch *w, uint32_t events);

/* Pair p's backend fd watched (userspace data path, running, in use) or not: a pair the
 * guest gave up costs no wakeup. Pair's thread. */
static void pair_watch(struct vnet_pair *p)
{
    if (!p->active || !p->running || p->be_dead || vnet_is_offload(p->n)) {
        iothread_watch_del(p->io, &p->be_watch);
        return;
    }
    if (!p->be_watch.active) {
        p->be_watch = (struct iothread_watch){ .fd = p->be->fd,
                                               .events = 0,
                                               .fn = on_backend,
                                               .opaque = p };
        if (iothread_watch_add(p->io, &p->be_watch) < 0) {
            vnet_pair_gone(p, strerror(errno));
            return;
        }
    }
    vnet_update_backend_watch(p);
}

/* Pair's thread: in use or not (p->active set by the caller). */
static void pair_activate(void *arg)
{
    struct vnet_pair *p = arg;
    pair_watch(p);
    if (p->active && p->running && !vnet_is_offload(p->n))
        vnet_io_run(p->n, vnet_rxq(p->idx));
}

static void pair_deactivate(void *arg) { pair_watch(arg); }

/* Pair k's backend queue attached or detached (a multi-queue tap: TUNSETQUEUE). */
static int pair_enable(struct virtio_net *n, unsigned k, bool on)
{
    struct net_backend *be = n->pairs[k].be;
    if (n->npairs == 1 || !be->ops->set_queue_enabled || be->ops->set_queue_enabled(be, on) == 0)
        return 0;
    /* The guest asks for it (VQ_PAIRS_SET) as often as it likes: rate-limited. */
    log_error_rl(&n->vdev.log_rl, "%s: cannot %s queue pair %u of %s", n->name,
                 on ? "attach" : "detach", k, be->name);
    return -1;
}

struct pair_flag {
    struct vnet_pair *p;
    bool on;
};

static void pair_set_active(void *arg)
{
    struct pair_flag *f = arg;
    f->p->active = f->on;
}

/* Pairs 0..k-1 in use, the others not, as far as the backends let: returns m <= k, the
 * pairs then in use (0..m-1; a queue that refuses to attach stays out of use, and so
 * does every pair after it). A queue that refuses to detach is out of use all the same
 * (not polled: logged). Device's thread. */
static unsigned pairs_apply(struct virtio_net *n, unsigned k)
{
    unsigned m = k;
    /* Pair 0 is never detached: a tap keeps at least one queue. A pair stops being
     * polled before its queue is detached, and is attached before it is polled. */
    for (unsigned i = 1; i < n->npairs; i++) {
        struct vnet_pair *p = &n->pairs[i];
        struct pair_flag f = { p, i < m };
        if (p->active == f.on)
            continue;
        if (!f.on) {
            iothread_call(p->io, pair_set_active, &f);
            iothread_call(p->io, pair_deactivate, p);
            pair_enable(n, i, false);
        } else if (pair_enable(n, i, true) < 0) {
            m = i;
        } else {
            iothread_call(p->io, pair_set_active, &f);
            iothread_call(p->io, pair_activate, p);
        }
    }
    return m;
}

int vnet_set_pairs(struct virtio_net *n, unsigned k)
{
    unsigned old = n->dp.curr_pairs;
    unsigned m = pairs_apply(n, k);
    if (m != k) {
        /* Refused: back to the pairs the driver had (it keeps them on VIRTIO_NET_ERR).
         * Only attaching fails, so those were all in use before: m >= old. */
        m = pairs_apply(n, old < m ? old : m);
    }
    __atomic_store_n(&n->dp.curr_pairs, m, __ATOMIC_RELAXED); /* also read by others */
    return m == k ? 0 : -1;
}

/* Queue q's run: RX or TX of its pair, or the control queue. */
static struct vnet_run io_process(struct virtio_net *n, unsigned q)
{
    if (q == n->dp.ctrlq)
        return vnet_ctrl_process(n);
    /* Offloaded, the backend owns the data rings: vpf must not pop or publish there. */
    if (q >= 2 * n->npairs || vnet_is_offload(n))
        return (struct vnet_run){ .outcome = VNET_IDLE };
    struct vnet_pair *p = &n->pairs[q / 2];
    return q & 1 ? vnet_tx_process(p) : vnet_rx_process(p);
}

static void pair_halt(void *arg);

/* The device failed on another thread: what runs here stops now. */
static bool io_failed(struct virtio_net *n, unsigned q)
{
    if (!virtio_dev_failed(&n->vdev))
        return false;
    /* The control queue, one past the pairs (io_process runs nothing there), pair 0. */
    if (q == n->dp.ctrlq || q >= 2 * n->npairs || n->pairs[q / 2].io == &n->io)
        vnet_dp_halt(n);
    else
        pair_halt(&n->pairs[q / 2]);
    return true;
}

void vnet_io_run(struct virtio_net *n, unsigned q)
{
    if (io_failed(n, q))
        return;
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
        vnet_tx_throttle(p);
        break;
    case VNET_BACKEND_GONE:
        vnet_pair_gone(p, r.err ? strerror(r.err) : "end of file");
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
    iothread_note_run(p->io, q, r.done);
}

/* Pair's thread: its data path stops (watches gone, RX cache dropped, moderation
 * forgotten). */
static void pair_halt(void *arg)
{
    struct vnet_pair *p = arg;
    struct virtio_net *n = p->n;
    /* Without MQ the control queue is at 2, pair 1's receiveq index: not ours then. */
    for (unsigned q = vnet_rxq(p->idx); q <= vnet_txq(p->idx); q++)
        if (q != n->dp.ctrlq)
            iothread_watch_del(p->io, &n->dp.kick[q]);
    iothread_watch_del(p->io, &p->be_watch);
    vnet_tx_rate_stop(p);
    vnet_notify_stop(p);
    p->running = false;
    vnet_rx_reset(p);
}

void vnet_dp_halt(struct virtio_net *n)
{
    vnet_offload_stop(n);
    iothread_watch_del(&n->io, &n->dp.kick[n->dp.ctrlq]);
    for (unsigned k = 0; k < n->npairs; k++)
        if (n->pairs[k].running)
            iothread_call(n->pairs[k].io, pair_halt, &n->pairs[k]);
    n->dp.running = false;
    /* The next driver starts on one pair (virtio 1.2 §5.1.6.5.5). */
    vnet_set_pairs(n, 1);
}

void vnet_fail(struct virtio_net *n, int q, enum virtio_error err)
{
    virtio_dev_fail(&n->vdev, q, err);
    if (q >= 0 && (unsigned)q != n->dp.ctrlq && iothread_is_self(n->pairs[q / 2].io) &&
        n->pairs[q / 2].io != &n->io)
        pair_halt(&n->pairs[q / 2]);    /* a pair's own thread: the others see the flag */
    else
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
        vnet_pair_gone(p, "hang-up");
}

/* Queue q's kick watched on io (a started queue). 0, or -1 (device failed). */
static int watch_kick(struct virtio_net *n, struct iothread *io, unsigned q)
{
    if (!n->vdev.vqs[q].started)
        return 0;
    n->dp.kick[q] = (struct iothread_watch){ .fd = n->vdev.kick_fds[q],
                                             .events = EPOLLIN | EPOLLET,
                                             .fn = on_kick,
                                             .opaque = n };
    if (iothread_watch_add(io, &n->dp.kick[q]) < 0) {
        log_error("%s: cannot poll queue %u: %s", n->name, q, strerror(errno));
        return -1;
    }
    virtq_enable_notify(&n->vdev.vqs[q]);
    return 0;
}

/* The pair's link and port as the device's thread has them. */
static void pair_sync(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    pthread_mutex_lock(&n->cfg.lock);
    p->link_up = n->cfg.link_up;
    p->port.spoofchk = n->cfg.port.spoofchk;
    p->port.vlan = n->cfg.port.vlan;
    p->port.vlan_tpid = n->cfg.port.vlan_proto == VIRTIO_NET_VLAN_8021AD ? 0x88a8 : 0x8100;
    p->port.vlan_tci = (uint16_t)((n->cfg.port.vlan_qos & 7) << 13 | (n->cfg.port.vlan & 0xfff));
    pthread_mutex_unlock(&n->cfg.lock);
    memcpy(p->port.host_mac, n->host_mac, 6);   /* the device's thread set it: we wait */
}

/* Pair's thread: the data path on DRIVER_OK. Fails the device on a host error. */
static void pair_start(void *arg)
{
    struct vnet_pair *p = arg;
    struct virtio_net *n = p->n;
    pair_sync(p);
    p->running = true;
    p->rx.need_kick = p->tx_blocked = p->be_dead = p->throttled = false;
    vnet_rx_reset(p);
    bool offload = vnet_is_offload(n);
    /* Offloaded: the backend polls the RX/TX kick eventfds itself. */
    if (!offload &&
        (watch_kick(n, p->io, vnet_rxq(p->idx)) < 0 || watch_kick(n, p->io, vnet_txq(p->idx)) < 0))
        goto fail;
    if (vnet_notify_start(p) < 0) {
        log_error("%s: cannot poll the coalescing timer: %s", n->name, strerror(errno));
        goto fail;
    }
    if (offload)
        return;
    pair_watch(p);
    if (vnet_tx_rate_start(p) < 0) {
        log_error("%s: cannot poll the rate timer: %s", n->name, strerror(errno));
        goto fail;
    }
    /* Buffers may have been queued before DRIVER_OK. */
    vnet_io_run(n, vnet_txq(p->idx));
    vnet_io_run(n, vnet_rxq(p->idx));
    return;
fail:
    virtio_dev_fail(&n->vdev, -1, VIRTIO_ERR_HOST);
    pair_halt(p);
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
    __atomic_store_n(&n->dp.be_err_logged, false, __ATOMIC_RELAXED);
    bool mq = vnet_has(n, VIRTIO_NET_F_MQ);
    n->dp.ctrlq = mq ? 2 * n->npairs : VIRTIO_NET_CTRLQ;
    n->dp.used_pairs = mq ? n->npairs : 1;
    n->promisc = n->allmulti = false;
    if (watch_kick(n, &n->io, n->dp.ctrlq) < 0) {
        vnet_fail(n, (int)n->dp.ctrlq, VIRTIO_ERR_HOST);
        return;
    }
    for (unsigned k = 0; k < n->dp.used_pairs && !virtio_dev_failed(&n->vdev); k++)
        iothread_call(n->pairs[k].io, pair_start, &n->pairs[k]);
    if (virtio_dev_failed(&n->vdev)) {
        vnet_dp_halt(n);
        return;
    }
    if (vnet_is_offload(n))
        vnet_offload_start(n);
    vnet_io_run(n, n->dp.ctrlq);
}

/* Pair's thread: the link as cfg has it now. */
static void pair_link(void *arg)
{
    struct vnet_pair *p = arg;
    pthread_mutex_lock(&p->n->cfg.lock);
    p->link_up = p->n->cfg.link_up;
    pthread_mutex_unlock(&p->n->cfg.lock);
    if (!p->running || vnet_is_offload(p->n))
        return;
    vnet_update_backend_watch(p);
    vnet_io_run(p->n, vnet_rxq(p->idx));
}

void vnet_dp_link(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg.lock);
    n->dp.link_up = n->cfg.link_up;
    pthread_mutex_unlock(&n->cfg.lock);
    for (unsigned k = 0; k < n->npairs; k++)
        iothread_call(n->pairs[k].io, pair_link, &n->pairs[k]);
    if (n->dp.running && vnet_is_offload(n))
        vnet_offload_link(n);
}

/* Pair's thread: the host's port settings, between two packets; a new rate limit lets
 * a throttled pair go on (net_tx.c). */
static void pair_port(void *arg)
{
    struct vnet_pair *p = arg;
    pair_sync(p);
    if (p->running)
        vnet_tx_resume(p);
}

void vnet_dp_port(struct virtio_net *n)
{
    pthread_mutex_lock(&n->cfg.lock);
    n->trust = n->cfg.port.trust;
    n->admin_mac = n->cfg.port.admin_mac;
    /* A trusted guest's spoof check follows the MAC it set (cfg.mac, else the host's). */
    memcpy(n->host_mac, n->trust ? n->cfg.mac : n->cfg.port.mac, 6);
    uint32_t rate = n->cfg.port.max_tx_rate;
    pthread_mutex_unlock(&n->cfg.lock);
    vnet_tx_set_rate(n, rate);
    for (unsigned k = 0; k < n->npairs; k++)
        iothread_call(n->pairs[k].io, pair_port, &n->pairs[k]);
}
