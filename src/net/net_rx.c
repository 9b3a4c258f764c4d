/* Receive path: backend -> guest receiveq (virtio 1.2 §5.1.6.3, §5.1.6.4).
 *
 * RX chains are popped ahead into a cache until they can hold the largest packet the
 * backend may produce (rx.need), then one readv() goes straight into all of them; the
 * packet fills chains in order, those are pushed with num_buffers = their count
 * (MRG_RXBUF) and the rest stay cached for the next packet. Without MRG_RXBUF one chain
 * takes one packet. A packet longer than the cached space is dropped (the buffers were
 * only scribbled on, not consumed).
 *
 * Out of buffers: enable kicks and return VNET_RING_EMPTY (net_io.c stops polling the
 * backend until the guest adds some). With MRG_RXBUF we also wait while the cache is
 * below rx.need, as vhost-net does (Linux refills after every interrupt, so the wait
 * ends); the exception is a ring that is entirely ours and still too small: then read
 * anyway, or we would never receive. A guest error ends the run as VNET_BROKEN, the
 * backend's end or failure as VNET_BACKEND_GONE; net_io.c applies them. */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "net/vnet.h"
#include "virtio/iov.h"

void vnet_rx_reset(struct vnet_pair *p)
{
    struct vnet_rx *rx = &p->rx;
    rx->chain_head = rx->iov_head = 0;
    rx->nchains = rx->niov = 0;
    rx->space = 0;
}

/* Moves the cached chains and their iovecs to the front of the arrays. Delivering a
 * packet only advances the heads; this runs when the cache hits the end of an array, so
 * its cost is spread over the packets delivered since (a memmove per packet cost more
 * than the rest of the receive path for small packets: bench/dp_bench rx64). */
static void rx_compact(struct vnet_rx *rx)
{
    memmove(rx->iov, rx->iov + rx->iov_head, rx->niov * sizeof(rx->iov[0]));
    memmove(rx->chains, rx->chains + rx->chain_head, rx->nchains * sizeof(rx->chains[0]));
    for (unsigned i = 0; i < rx->nchains; i++)
        rx->chains[i].iov_start -= rx->iov_head;
    rx->chain_head = rx->iov_head = 0;
}

/* Pops chains into the cache. *full: no more can be cached (ring or iov array).
 * Returns VIRTIO_ERR_NONE, or the guest's violation. */
static enum virtio_error rx_refill(struct vnet_pair *p, bool *full)
{
    struct virtio_net *n = p->n;
    struct vnet_rx *rx = &p->rx;
    struct virtq *vq = &n->vdev.vqs[vnet_rxq(p->idx)];
    const uint32_t need = n->rx_need, size = vq->size;
    const bool mrg_rxbuf = n->mrg_rxbuf;
    *full = false;
    while (rx->space < need) {
        if (rx->nchains >= size) {
            *full = true;
            break;
        }
        if (!mrg_rxbuf && rx->nchains)
            break;
        if (rx->chain_head + rx->nchains >= VIRTQ_MAX_SIZE)
            rx_compact(rx);     /* head > 0 here: nchains < vq->size <= VIRTQ_MAX_SIZE */
        unsigned tail = rx->iov_head + rx->niov;
        struct virtq_chain c;
        int r = virtq_pop(vq, &rx->iov[tail], VNET_RX_MAX_IOV - tail, &c);
        if (r == VIRTQ_EMPTY)
            break;
        if (r == VIRTQ_NOSPACE) {
            if (rx->iov_head) {
                rx_compact(rx);
                continue;
            }
            *full = true;
            break;
        }
        if (r != VIRTQ_OK)
            return vq->error;
        if (c.nout)
            return VIRTIO_ERR_CHAIN_DIRECTION;
        /* virtio 1.2 §5.1.6.3.1: every buffer holds at least the header. */
        if (c.in_len < p->be->hdr_len)
            return VIRTIO_ERR_CHAIN_TOO_SHORT;
        rx->chains[rx->chain_head + rx->nchains++] = (struct vnet_rx_chain){ .head = c.head,
                                                                             .niov = c.nin,
                                                                             .len = c.in_len,
                                                                             .iov_start = tail };
        rx->niov += c.nin;
        rx->space += c.in_len;
    }
    return VIRTIO_ERR_NONE;
}

/* Hands the first chains, filled with a len-byte packet, to the guest. */
static void rx_deliver(struct vnet_pair *p, uint32_t len)
{
    struct vnet_rx *rx = &p->rx;
    struct virtq *vq = &p->n->vdev.vqs[vnet_rxq(p->idx)];
    const struct vnet_rx_chain *ch = &rx->chains[rx->chain_head];
    unsigned k = 0;
    uint64_t consumed = 0;
    for (uint32_t left = len; left; k++) {
        uint32_t l = MIN(left, ch[k].len);
        left -= l;
        consumed += ch[k].len;
    }
    /* num_buffers: 1 without MRG_RXBUF (virtio 1.2 §5.1.6.4). The backend left those
     * two bytes alone (tap skips them: vnet header size 12 > its 10-byte header). */
    const struct iovec *first = &rx->iov[ch[0].iov_start];
    if (first->iov_len >= VNET_HDR_NUM_BUFFERS_OFF + 2) {
        st_le16((uint8_t *)first->iov_base + VNET_HDR_NUM_BUFFERS_OFF, (uint16_t)k);
    } else {                    /* header split across descriptors (ANY_LAYOUT) */
        uint8_t nb[2];
        st_le16(nb, (uint16_t)k);
        iov_from_buf(first, ch[0].niov, VNET_HDR_NUM_BUFFERS_OFF, nb, sizeof(nb));
    }
    uint32_t left = len;
    for (unsigned i = 0; i < k; i++) {
        uint32_t l = MIN(left, ch[i].len);
        virtq_push(vq, ch[i].head, l);
        left -= l;
    }
    unsigned iov_end = k == rx->nchains ? rx->iov_head + rx->niov : ch[k].iov_start;
    rx->niov -= iov_end - rx->iov_head;
    rx->iov_head = iov_end;
    rx->chain_head += k;
    rx->nchains -= k;
    rx->space -= consumed;
    if (!rx->nchains)
        rx->chain_head = rx->iov_head = 0;
}

/* With EVENT_IDX the driver asks for an interrupt at most once until it re-arms, so
 * publishing the first packet of a batch and checking right away costs one fence per
 * batch and lets the guest start on the burst while we read the rest, as QEMU's
 * per-packet notify does (the batch end checks again). Measured in the nested testbed:
 * bench/results/NOTES.md, A/B 1-3 and 10. Not with coalescing: then the driver asked to
 * hear later. */
static void rx_signal_early(struct virtio_net *n, struct virtq *vq, unsigned q)
{
    virtq_flush(vq);
    if (virtq_should_notify(vq))
        virtio_dev_notify_queue(&n->vdev, q);
}

/* Counts a delivered packet of len bytes (header included) for the pair (the function's
 * counters are the pairs' sums). */
static void rx_count(struct vnet_pair *p, uint64_t len)
{
    vnet_stat_add(&p->stats.rx_packets, 1);
    vnet_stat_add(&p->stats.rx_bytes, len - p->be->hdr_len);
}

struct vnet_run vnet_rx_process(struct vnet_pair *p)
{
    struct virtio_net *n = p->n;
    struct vnet_rx *rx = &p->rx;
    const unsigned q = vnet_rxq(p->idx);
    struct virtq *vq = &n->vdev.vqs[q];
    struct vnet_run run = { .outcome = VNET_DONE };
    if (!p->running || !p->link_up || p->be_dead || !vq->started || !p->active)
        return (struct vnet_run){ .outcome = VNET_IDLE };
    for (unsigned pkts = 0; pkts < VNET_RX_BUDGET;) {
        bool full;
        run.error = rx_refill(p, &full);
        if (run.error) {
            run.outcome = VNET_BROKEN;
            return run;
        }
        bool ready = rx->nchains && (!n->mrg_rxbuf || rx->space >= n->rx_need || full);
        if (!ready) {
            if (virtq_enable_notify(vq))
                continue;       /* buffers arrived meanwhile */
            run.outcome = VNET_RING_EMPTY;
            break;
        }
        virtq_disable_notify(vq);
        const struct iovec *iov = &rx->iov[rx->iov_head];
        ssize_t len = p->port.vlan ? vnet_vlan_recv(p, iov, rx->niov)
                                   : net_backend_recv(p->be, iov, (int)rx->niov);
        if (len == -EAGAIN)
            break;
        if (len <= 0) {
            if (len < 0)
                vnet_stat_add(&p->stats.rx_errors, 1);
            run.outcome = VNET_BACKEND_GONE;
            run.err = (int)-len;        /* 0: end of file */
            break;
        }
        pkts++;
        if ((uint64_t)len > rx->space || (size_t)len < p->be->hdr_len) {
            vnet_stat_add(&p->stats.rx_dropped, 1);
            continue;
        }
        rx_deliver(p, (uint32_t)len);
        rx_count(p, (uint64_t)len);
        if (!run.done++ && vq->event_idx && !vnet_coal_on(n, q))
            rx_signal_early(n, vq, q);
    }
    return run;
}
