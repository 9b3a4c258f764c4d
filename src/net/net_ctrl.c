/* Control queue (virtio 1.2 §5.1.6.5): { u8 class; u8 command; data[] } device-readable,
 * then u8 ack device-writable (the last writable byte). A well-formed chain with a
 * command we do not support, bad data, or a request the host does not allow this
 * function (an untrusted VF's PROMISC/ALLMULTI or MAC change: trust, net/virtio_net.h)
 * gets VIRTIO_NET_ERR: the command is answered, the device goes on (a refusal is logged,
 * rate-limited). Only a chain without room for the ack or without class/command breaks
 * the protocol: VNET_BROKEN with its enum virtio_error (NEEDS_RESET). */
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"
#include "virtio/iov.h"

struct ctrl_cmd {
    const struct iovec *iov;    /* readable part */
    unsigned niov;
    uint32_t len;               /* bytes after class and command */
};

static size_t cmd_read(const struct ctrl_cmd *c, size_t off, void *buf, size_t len)
{
    return iov_to_buf(c->iov, c->niov, 2 + off, buf, len);
}

/* §5.1.6.5.1: PROMISC / ALLMULTI take one byte, 0 or 1. The tap hands the guest every
 * frame addressed to it, so the modes are recorded, not enforced. An untrusted function
 * (a VF without `trust on`) may not turn either on, as on ixgbe/i40e/ice VFs: refused. */
static uint8_t ctrl_rx(struct virtio_net *n, uint8_t cmd, const struct ctrl_cmd *c)
{
    uint8_t on;
    if (!vnet_has(n, VIRTIO_NET_F_CTRL_RX) || c->len != 1 || cmd_read(c, 0, &on, 1) != 1 || on > 1)
        return VIRTIO_NET_ERR;
    if (on && !n->trust) {
        log_warn_rl(&n->vdev.log_rl,
                    "%s: guest asked for %s mode: refused, the function is "
                    "not trusted (vf-set trust=on)",
                    n->name, cmd == VIRTIO_NET_CTRL_RX_PROMISC ? "promiscuous" : "all-multicast");
        return VIRTIO_NET_ERR;
    }
    switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
        n->promisc = on;
        return VIRTIO_NET_OK;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
        n->allmulti = on;
        return VIRTIO_NET_OK;
    default:                    /* ALLUNI..NOBCAST need CTRL_RX_EXTRA, not offered */
        return VIRTIO_NET_ERR;
    }
}

/* §5.1.6.5.2: MAC_TABLE_SET = { le32 entries; u8 macs[entries][6]; } unicast, then the
 * same for multicast, exactly filling the data. Accepted (not enforced) when well formed. */
static uint8_t mac_table_set(const struct ctrl_cmd *c)
{
    uint64_t off = 0;
    for (int table = 0; table < 2; table++) {
        uint8_t b[4];
        if (off + 4 > c->len || cmd_read(c, off, b, 4) != 4)
            return VIRTIO_NET_ERR;
        off += 4 + 6ull * ld_le32(b);
        if (off > c->len)
            return VIRTIO_NET_ERR;
    }
    return off == c->len ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
}

static uint8_t ctrl_mac(struct virtio_net *n, uint8_t cmd, const struct ctrl_cmd *c)
{
    switch (cmd) {
    case VIRTIO_NET_CTRL_MAC_TABLE_SET:
        return vnet_has(n, VIRTIO_NET_F_CTRL_RX) ? mac_table_set(c) : VIRTIO_NET_ERR;
    case VIRTIO_NET_CTRL_MAC_ADDR_SET: {
        uint8_t mac[6];
        if (!vnet_has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) || c->len != 6 || cmd_read(c, 0, mac, 6) != 6)
            return VIRTIO_NET_ERR;
        /* Untrusted: host_mac is the host's. A MAC it set explicitly stays. */
        if (!n->trust && n->admin_mac && memcmp(mac, n->host_mac, 6)) {
            log_warn_rl(&n->vdev.log_rl,
                        "%s: guest asked to replace the host's MAC: refused, "
                        "the function is not trusted (vf-set trust=on)",
                        n->name);
            return VIRTIO_NET_ERR;
        }
        vnet_set_mac(n, mac);
        if (n->trust)           /* the spoof check follows a trusted guest: every pair's */
            vnet_dp_port(n);
        return VIRTIO_NET_OK;
    }
    default:
        return VIRTIO_NET_ERR;
    }
}

/* virtio 1.3 §5.1.6.5 "Notifications Coalescing": TX_SET and RX_SET take
 * { le32 max_packets; le32 usecs; } for the transmitq / receiveq (net_coal.h). */
static uint8_t ctrl_notf_coal(struct virtio_net *n, uint8_t cmd, const struct ctrl_cmd *c)
{
    uint8_t b[8];
    if (!vnet_has(n, VIRTIO_NET_F_NOTF_COAL) || c->len != 8 || cmd_read(c, 0, b, 8) != 8)
        return VIRTIO_NET_ERR;
    uint32_t max_packets = ld_le32(b), usecs = ld_le32(b + 4);
    if (usecs > NET_COAL_MAX_USECS)
        return VIRTIO_NET_ERR;
    switch (cmd) {
    case VIRTIO_NET_CTRL_NOTF_COAL_RX_SET:
        vnet_coal_set(n, VIRTIO_NET_RXQ, max_packets, usecs);
        return VIRTIO_NET_OK;
    case VIRTIO_NET_CTRL_NOTF_COAL_TX_SET:
        vnet_coal_set(n, VIRTIO_NET_TXQ, max_packets, usecs);
        return VIRTIO_NET_OK;
    default:                    /* VQ_SET / VQ_GET need VQ_NOTF_COAL, not offered */
        return VIRTIO_NET_ERR;
    }
}

/* virtio 1.2 §5.1.6.5.5: VQ_PAIRS_SET takes { le16 virtqueue_pairs; }, 1 to
 * max_virtqueue_pairs, and only with VIRTIO_NET_F_MQ negotiated; anything else is
 * answered VIRTIO_NET_ERR and changes nothing. */
uint8_t vnet_ctrl_mq(struct virtio_net *n, uint8_t cmd, const void *data, uint32_t len)
{
    if (!vnet_has(n, VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != 2)
        return VIRTIO_NET_ERR;
    uint16_t k = ld_le16(data);
    if (k < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || k > n->npairs) {
        log_warn_rl(&n->vdev.log_rl, "%s: guest asked for %u queue pairs, the device has 1 to %u",
                    n->name, k, n->npairs);
        return VIRTIO_NET_ERR;
    }
    return vnet_set_pairs(n, k) < 0 ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
}

static uint8_t ctrl_mq(struct virtio_net *n, uint8_t cmd, const struct ctrl_cmd *c)
{
    uint8_t b[2];
    if (c->len != 2 || cmd_read(c, 0, b, 2) != 2)
        return VIRTIO_NET_ERR;
    return vnet_ctrl_mq(n, cmd, b, c->len);
}

struct vnet_run vnet_ctrl_process(struct virtio_net *n)
{
    const unsigned q = n->dp.ctrlq;
    struct virtq *vq = &n->vdev.vqs[q];
    if (!n->dp.running || !vq->started)
        return (struct vnet_run){ .outcome = VNET_IDLE };
    struct vnet_run run = { .outcome = VNET_DONE };
    for (;; run.done++) {
        if (run.done == VNET_CTRL_BUDGET) {
            /* A guest keeping the queue full must not hold the I/O thread: come back
             * after the other ready fds and the hand-over calls (control socket, reset),
             * via our own kick (edge-triggered: one more event). */
            uint64_t one = 1;
            if (write(n->vdev.kick_fds[q], &one, sizeof(one)) < 0) {
                /* eventfd counter saturated: cannot happen within 2^64 kicks */
            }
            break;
        }
        struct virtq_chain c;
        int r = virtq_pop(vq, n->iov, VIRTQ_MAX_CHAIN, &c);
        if (r == VIRTQ_EMPTY) {
            /* Re-arm kicks (EVENT_IDX: avail_event = next index), then re-check. */
            if (!virtq_enable_notify(vq))
                break;
            continue;
        }
        if (r != VIRTQ_OK)
            return (struct vnet_run){ .outcome = VNET_BROKEN, .error = vq->error };
        if (c.out_len < 2 || c.in_len < 1)
            return (struct vnet_run){ .outcome = VNET_BROKEN, .error = VIRTIO_ERR_CHAIN_TOO_SHORT };
        uint8_t hdr[2];
        iov_to_buf(n->iov, c.nout, 0, hdr, 2);
        struct ctrl_cmd cmd = { n->iov, c.nout, c.out_len - 2 };
        uint8_t ack;
        switch (hdr[0]) {
        case VIRTIO_NET_CTRL_RX:
            ack = ctrl_rx(n, hdr[1], &cmd);
            break;
        case VIRTIO_NET_CTRL_MAC:
            ack = ctrl_mac(n, hdr[1], &cmd);
            break;
        case VIRTIO_NET_CTRL_NOTF_COAL:
            ack = ctrl_notf_coal(n, hdr[1], &cmd);
            break;
        case VIRTIO_NET_CTRL_MQ:
            ack = ctrl_mq(n, hdr[1], &cmd);
            break;
        default:
            ack = VIRTIO_NET_ERR;
            break;
        }
        iov_from_buf(n->iov + c.nout, c.nin, c.in_len - 1, &ack, 1);
        virtq_push(vq, c.head, c.in_len);
    }
    return run;         /* net_io.c publishes and notifies */
}
