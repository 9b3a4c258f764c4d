/* Transmit path: guest transmitq -> backend, one writev per packet straight from guest
 * buffers (virtio 1.2 §5.1.6.2). The vnet header is the first bytes of the chain and goes
 * to the backend as is; a tap interprets it (checksum / GSO).
 *
 * A run ends drained, out of budget (it kicks itself), with the backend full
 * (VNET_BLOCKED: the chain stays in the ring for later), over the rate limit
 * (VNET_THROTTLED) or on a guest error (VNET_BROKEN); net_io.c applies that. The rate
 * limit's token bucket is net_rate.c, one per function under n->tx.lock; each pair's
 * timer, which resumes its throttled TX, is here. The pair's I/O thread only
 * (vnet_tx_init/free: creation; vnet_tx_set_rate: any thread). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "net/vnet.h"
#include "virtio/iov.h"

#define ETH_SRC_OFF 6

/* Spoof check: the frame's Ethernet source must be the host-assigned MAC. A frame too
 * short to carry one cannot prove it and is dropped as well. */
static bool tx_spoofed(struct vnet_pair *p, unsigned nout)
{
    uint8_t src[6];
    return iov_to_buf(p->iov, nout, NET_BACKEND_HDR_LEN + ETH_SRC_OFF, src, 6) != 6 ||
           memcmp(src, p->port.host_mac, 6) != 0;
}

/* The function's rate limit (one bucket for all its transmit queues): true if a packet
 * may go now. No lock while there is no limit. */
static bool tx_may_send(struct virtio_net *n)
{
    if (!__atomic_load_n(&n->tx.bytes_per_sec, __ATOMIC_RELAXED))
        return true;
    pthread_mutex_lock(&n->tx.lock);
    bool ok = !n->tx.rate.bytes_per_sec || net_rate_may_send(&n->tx.rate, monotonic_ns());
    pthread_mutex_unlock(&n->tx.lock);
    return ok;
}

static void tx_charge(struct virtio_net *n, uint64_t len)
{
    if (!__atomic_load_n(&n->tx.bytes_per_sec, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&n->tx.lock);
    net_rate_charge(&n->tx.rate, len);
    pthread_mutex_unlock(&n->tx.lock);
}

/* Counts a sent chain of len bytes (header included) for the pair (the function's
 * counters are the pairs' sums). */
static void tx_count(struct vnet_pair *p, uint64_t len)
{
    vnet_stat_add(&p->stats.tx_packets, 1);
    vnet_stat_add(&p->stats.tx_bytes, len - p->be->hdr_len);
}

/* One popped chain to the backend (or dropped and counted). false: the backend is full,
 * the chain was put back. */
static bool tx_one(struct vnet_pair *p, const struct virtq_chain *c)
{
    struct virtio_net *n = p->n;
    if (c->out_len < p->be->hdr_len) {
        vnet_stat_add(&p->stats.tx_errors, 1);
    } else if (p->port.spoofchk && tx_spoofed(p, c->nout)) {
        vnet_stat_add(&p->stats.tx_spoofed, 1);
    } else if (!p->link_up || p->be_dead) {
        vnet_stat_add(&p->stats.tx_dropped, 1);
    } else {
        ssize_t s = p->port.vlan ? vnet_vlan_send(p, p->iov, c->nout, c->out_len)
                                 : net_backend_send(p->be, p->iov, c->nout);
        if (s == -EAGAIN || s == -ENOBUFS)
            return false;
        if (s < 0) {
            vnet_stat_add(&p->stats.tx_errors, 1);
        } else {
            tx_charge(n, (uint64_t)s);
            tx_count(p, c->out_len);
        }
    }
    return true;
}

/* Every transmitq is served, active pair or not: a driver that lowered the pairs may
 * still have buffers on the others (virtio 1.2 §5.1.6.5.5 limits only receiving). */
struct vnet_run vnet_tx_process(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    const unsigned q = vnet_txq(p->idx);
    struct virtq *vq = &n->vdev.vqs[q];
    struct vnet_run run = { .outcome = VNET_DONE };
    if (!p->running || p->tx_blocked || p->throttled || !vq->started)
        return (struct vnet_run){ .outcome = VNET_IDLE };
    for (;;) {
        virtq_disable_notify(vq);
        while (run.done < VNET_TX_BUDGET) {
            if (!tx_may_send(n)) {
                run.outcome = VNET_THROTTLED;   /* the rate timer resumes us */
                return run;
            }
            struct virtq_chain c;
            int r = virtq_pop(vq, p->iov, VIRTQ_MAX_CHAIN, &c);
            if (r == VIRTQ_EMPTY)
                break;
            if (r != VIRTQ_OK)
                return (struct vnet_run){ .outcome = VNET_BROKEN, .error = vq->error };
            /* virtio 1.2 §5.1.6.2: transmit buffers are device-readable only. */
            if (c.nin)
                return (struct vnet_run){ .outcome = VNET_BROKEN,
                                          .error = VIRTIO_ERR_CHAIN_DIRECTION };
            if (!tx_one(p, &c)) {
                /* Backend full: keep the chain for later, wait for POLLOUT. */
                virtq_unpop(vq, 1);
                run.outcome = VNET_BLOCKED;
                return run;
            }
            run.done++;
            virtq_push(vq, c.head, 0);
            if (run.done == 1 && vq->event_idx && !vnet_coal_on(n, q)) {
                /* First completion of the batch: publish and let the driver free it
                 * now (with EVENT_IDX at most one interrupt until it re-arms; see
                 * net_rx.c rx_signal_early). */
                virtq_flush(vq);
                if (virtq_should_notify(vq))
                    virtio_dev_notify_queue(&n->vdev, q);
            }
        }
        if (run.done >= VNET_TX_BUDGET) {
            int more = virtq_avail_count(vq);
            if (more < 0)
                return (struct vnet_run){ .outcome = VNET_BROKEN, .error = vq->error };
            if (more) {
                /* Budget spent: come back after the other ready fds, via our own kick
                 * (the kick fd is edge-triggered: this write is one more event). */
                uint64_t one = 1;
                if (write(n->vdev.kick_fds[q], &one, sizeof(one)) < 0) {
                    /* eventfd counter saturated: cannot happen within 2^64 kicks */
                }
                break;
            }
            /* Ring empty: no self-kick (and no extra epoll round), re-arm instead. */
        }
        /* Re-check after enabling kicks: a buffer added meanwhile must not be missed. */
        if (!virtq_enable_notify(vq))
            break;
    }
    return run;
}

/* ---- the rate limit's timer, one per pair ---- */

int vnet_tx_init(struct vnet_pair *p)
{
    p->rate_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return p->rate_timer_fd < 0 ? -1 : 0;
}

void vnet_tx_free(struct vnet_pair *p)
{
    if (p->rate_timer_fd >= 0)
        close(p->rate_timer_fd);
    p->rate_timer_fd = -1;
}

static void rate_timer_arm(struct vnet_pair *p, uint64_t ns)
{
    struct itimerspec its = { .it_value = ns_to_timespec(ns) };
    if (timerfd_settime(p->rate_timer_fd, 0, &its, NULL) < 0)
        log_warn("%s: rate timer: %s", p->n->name, strerror(errno));
}

void vnet_tx_throttle(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    p->throttled = true;
    pthread_mutex_lock(&n->tx.lock);
    uint64_t ns = n->tx.rate.bytes_per_sec ? net_rate_wait_ns(&n->tx.rate) : 1;
    pthread_mutex_unlock(&n->tx.lock);
    rate_timer_arm(p, ns);
}

static void tx_unthrottle(struct vnet_pair *p)
{
    p->throttled = false;
    rate_timer_arm(p, 0);
}

static void on_rate_timer(struct iothread_watch *w, uint32_t events)
{
    struct vnet_pair *p = w->opaque;
    uint64_t expirations;
    if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("%s: rate timer: %s", p->n->name, strerror(errno));
    p->throttled = false;
    vnet_io_run(p->n, vnet_txq(p->idx));
}

int vnet_tx_rate_start(struct vnet_pair *p)
{
    p->rate_watch = (struct iothread_watch){ .fd = p->rate_timer_fd,
                                             .events = EPOLLIN,
                                             .fn = on_rate_timer,
                                             .opaque = p };
    return iothread_watch_add(p->io, &p->rate_watch);
}

void vnet_tx_rate_stop(struct vnet_pair *p)
{
    iothread_watch_del(p->io, &p->rate_watch);
    tx_unthrottle(p);
}

void vnet_tx_set_rate(struct virtio_net *n, uint32_t mbit)
{
    pthread_mutex_lock(&n->tx.lock);
    bool same = net_rate_bytes_per_sec(mbit) == n->tx.rate.bytes_per_sec;
    if (!same) /* a new limit starts with a full bucket */
        net_rate_set(&n->tx.rate, mbit, monotonic_ns());
    __atomic_store_n(&n->tx.bytes_per_sec, n->tx.rate.bytes_per_sec, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&n->tx.lock);
}

void vnet_tx_resume(struct vnet_pair *p)
{
    if (!p->throttled)
        return;
    tx_unthrottle(p);
    vnet_io_run(p->n, vnet_txq(p->idx));
}
