/* Transmit path: guest transmitq -> backend, one writev per packet straight from guest
 * buffers (virtio 1.2 §5.1.6.2). The vnet header is the first bytes of the chain and goes
 * to the backend as is; a tap interprets it (checksum / GSO).
 *
 * A run ends drained, out of budget (it kicks itself), with the backend full
 * (VNET_BLOCKED: the chain stays in the ring for later), over the rate limit
 * (VNET_THROTTLED) or on a guest error (VNET_BROKEN); net_io.c applies that. The rate
 * limit's token bucket is net_rate.c; its timer, which resumes a throttled TX, is here.
 * I/O thread only (vnet_tx_init/free: creation). */
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
static bool tx_spoofed(struct virtio_net *n, unsigned nout)
{
    uint8_t src[6];
    return iov_to_buf(n->iov, nout, NET_BACKEND_HDR_LEN + ETH_SRC_OFF, src, 6) != 6 ||
           memcmp(src, n->host_mac, 6) != 0;
}

/* Counts a sent chain of len bytes (header included) for the function and pair. */
static void tx_count(struct vnet_pair *p, uint64_t len)
{
    struct virtio_net *n = p->n;
    vnet_stat_add(&n->stats.tx_packets, 1);
    vnet_stat_add(&n->stats.tx_bytes, len - p->be->hdr_len);
    vnet_stat_add(&p->stats.tx_packets, 1);
    vnet_stat_add(&p->stats.tx_bytes, len - p->be->hdr_len);
}

/* Every transmitq is served, active pair or not: a driver that lowered the pairs may
 * still have buffers on the others (virtio 1.2 §5.1.6.5.5 limits only receiving). */
struct vnet_run vnet_tx_process(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    const unsigned q = vnet_txq(p->idx);
    struct virtq *vq = &n->vdev.vqs[q];
    struct vnet_run run = { .outcome = VNET_DONE };
    if (!n->dp.running || p->tx_blocked || n->tx.throttled || !vq->started)
        return (struct vnet_run){ .outcome = VNET_IDLE };
    for (;;) {
        virtq_disable_notify(vq);
        while (run.done < VNET_TX_BUDGET) {
            if (n->tx.rate.bytes_per_sec && !net_rate_may_send(&n->tx.rate, monotonic_ns())) {
                run.outcome = VNET_THROTTLED;   /* the rate timer resumes us */
                return run;
            }
            struct virtq_chain c;
            int r = virtq_pop(vq, n->iov, VIRTQ_MAX_CHAIN, &c);
            if (r == VIRTQ_EMPTY)
                break;
            if (r != VIRTQ_OK)
                return (struct vnet_run){ .outcome = VNET_BROKEN, .error = vq->error };
            /* virtio 1.2 §5.1.6.2: transmit buffers are device-readable only. */
            if (c.nin)
                return (struct vnet_run){ .outcome = VNET_BROKEN,
                                          .error = VIRTIO_ERR_CHAIN_DIRECTION };
            run.done++;
            if (c.out_len < p->be->hdr_len) {
                vnet_stat_add(&n->stats.tx_errors, 1);
            } else if (n->spoofchk && tx_spoofed(n, c.nout)) {
                vnet_stat_add(&n->stats.tx_spoofed, 1);
            } else if (!n->dp.link_up || n->dp.be_dead) {
                vnet_stat_add(&n->stats.tx_dropped, 1);
            } else {
                ssize_t s = n->vlan ? vnet_vlan_send(n, p->be, n->iov, c.nout, c.out_len)
                                    : net_backend_send(p->be, n->iov, c.nout);
                if (s == -EAGAIN || s == -ENOBUFS) {
                    /* Backend full: keep the chain for later, wait for POLLOUT. */
                    virtq_unpop(vq, 1);
                    run.done--; /* not sent: not counted (budget, coalescing) */
                    run.outcome = VNET_BLOCKED;
                    return run;
                }
                if (s < 0) {
                    vnet_stat_add(&n->stats.tx_errors, 1);
                } else {
                    net_rate_charge(&n->tx.rate, (uint64_t)s);
                    tx_count(p, c.out_len);
                }
            }
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

/* ---- the rate limit's timer ---- */

int vnet_tx_init(struct virtio_net *n)
{
    n->tx.rate_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return n->tx.rate_timer_fd < 0 ? -1 : 0;
}

void vnet_tx_free(struct virtio_net *n)
{
    if (n->tx.rate_timer_fd >= 0)
        close(n->tx.rate_timer_fd);
    n->tx.rate_timer_fd = -1;
}

static void rate_timer_arm(struct virtio_net *n, uint64_t ns)
{
    struct itimerspec its = { .it_value = ns_to_timespec(ns) };
    if (timerfd_settime(n->tx.rate_timer_fd, 0, &its, NULL) < 0)
        log_warn("%s: rate timer: %s", n->name, strerror(errno));
}

void vnet_tx_throttle(struct virtio_net *n)
{
    n->tx.throttled = true;
    rate_timer_arm(n, net_rate_wait_ns(&n->tx.rate));
}

static void tx_unthrottle(struct virtio_net *n)
{
    n->tx.throttled = false;
    rate_timer_arm(n, 0);
}

static void on_rate_timer(struct iothread_watch *w, uint32_t events)
{
    struct virtio_net *n = w->opaque;
    uint64_t expirations;
    if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("%s: rate timer: %s", n->name, strerror(errno));
    n->tx.throttled = false;
    for (unsigned k = 0; k < n->npairs && !n->tx.throttled; k++)
        vnet_io_run(n, vnet_txq(k));
}

int vnet_tx_rate_start(struct virtio_net *n)
{
    n->tx.rate_watch = (struct iothread_watch){ .fd = n->tx.rate_timer_fd,
                                                .events = EPOLLIN,
                                                .fn = on_rate_timer,
                                                .opaque = n };
    return iothread_watch_add(&n->io, &n->tx.rate_watch);
}

void vnet_tx_rate_stop(struct virtio_net *n)
{
    iothread_watch_del(&n->io, &n->tx.rate_watch);
    tx_unthrottle(n);
}

void vnet_tx_set_rate(struct virtio_net *n, uint32_t mbit)
{
    if (net_rate_bytes_per_sec(mbit) == n->tx.rate.bytes_per_sec)
        return;
    net_rate_set(&n->tx.rate, mbit, monotonic_ns());
    if (n->tx.throttled) { /* a new limit starts with a full bucket */
        tx_unthrottle(n);
        for (unsigned k = 0; k < n->npairs && !n->tx.throttled; k++)
            vnet_io_run(n, vnet_txq(k));
    }
}
