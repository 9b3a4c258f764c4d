/* Host-enforced VLAN of a function (`vf-set ... vlan=N [qos=P] [proto=802.1Q|802.1ad]`,
 * as `ip link set PF vf I vlan N qos P proto ...` on a NIC): the guest sends and
 * receives untagged frames; towards the backend every frame carries one VLAN tag (IEEE
 * 802.1Q-2018 §9.5-9.6): TPID 0x8100 (C-VLAN, 802.1Q) or 0x88a8 (S-VLAN, 802.1ad), then
 * the TCI with PCP P, DEI 0 and VID N. Transmit inserts the tag, receive accepts only
 * frames whose outer tag has our TPID and VID N (any PCP and DEI: the priority is the
 * sender's) and strips it; everything else is dropped and counted.
 *
 * Both directions work on the frame in place, without copying the payload:
 *  TX: [vnet header + MACs + tag] from a 28-byte scratch, then the guest's buffers from
 *      the byte after the source MAC on.
 *  RX: readv into [28-byte scratch] + the guest's buffers from byte 24 on (header + MACs
 *      go first), so a tagged frame's payload lands right after the MACs; the scratch's
 *      header and MACs are then copied in front of it.
 * The vnet header's offsets count from the frame's start, so they move by the tag's 4
 * bytes (virtio 1.2 §5.1.6.2: csum_start; hdr_len is a hint, kept consistent). */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "net/vnet.h"
#include "virtio/iov.h"

#define ETH_ALEN2 12                        /* destination + source MAC */
#define VLAN_TAG_LEN 4
#define VNET_VLAN_HEAD (NET_BACKEND_HDR_LEN + ETH_ALEN2)   /* 24: header + MACs */

/* out[] = in[] without its first off bytes; returns the count, or -1 if it does not fit. */
static int iov_skip(const struct iovec *in, unsigned n, size_t off, struct iovec *out, unsigned cap)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (off >= in[i].iov_len) {
            off -= in[i].iov_len;
            continue;
        }
        if (k == cap)
            return -1;
        out[k].iov_base = (char *)in[i].iov_base + off;
        out[k].iov_len = in[i].iov_len - off;
        off = 0;
        k++;
    }
    return (int)k;
}

/* Moves csum_start and hdr_len by delta (+4 tagging, -4 stripping) where they are set. */
static void hdr_shift(uint8_t *h, int delta)
{
    struct virtio_net_hdr_v1 *v = (struct virtio_net_hdr_v1 *)h;
    if (v->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        st_le16(&v->csum_start, (uint16_t)(ld_le16(&v->csum_start) + delta));
    if (v->gso_type != VIRTIO_NET_HDR_GSO_NONE && ld_le16(&v->hdr_len))
        st_le16(&v->hdr_len, (uint16_t)(ld_le16(&v->hdr_len) + delta));
}

ssize_t vnet_vlan_send(struct vnet_pair *p, const struct iovec *iov, unsigned niov, uint32_t len)
{
    uint8_t *head = p->vlan_head;
    if (len < VNET_VLAN_HEAD + 2 ||
        iov_to_buf(iov, niov, 0, head, VNET_VLAN_HEAD) != VNET_VLAN_HEAD)
        return -EINVAL;             /* no room for an EtherType: not a frame */
    hdr_shift(head, VLAN_TAG_LEN);
    st_be16(head + VNET_VLAN_HEAD, p->port.vlan_tpid);
    st_be16(head + VNET_VLAN_HEAD + 2, p->port.vlan_tci);
    struct iovec *out = p->vlan_iov;
    out[0] = (struct iovec){ head, VNET_VLAN_HEAD + VLAN_TAG_LEN };
    int k = iov_skip(iov, niov, VNET_VLAN_HEAD, out + 1, VNET_VLAN_MAX_IOV - 1);
    if (k < 0)
        return -EINVAL;
    return net_backend_send(p->be, out, k + 1);
}

ssize_t vnet_vlan_recv(struct vnet_pair *p, const struct iovec *iov, unsigned niov)
{
    uint8_t *head = p->vlan_head;
    struct iovec *in = p->vlan_iov;
    in[0] = (struct iovec){ head, VNET_VLAN_HEAD + VLAN_TAG_LEN };
    /* The guest's space from byte 24 on, less what IOV_MAX leaves us: fewer bytes, never
     * a wrong frame (a packet that does not fit is truncated and dropped by the caller). */
    int k = iov_skip(iov, niov, VNET_VLAN_HEAD, in + 1, VNET_VLAN_MAX_IOV - 1);
    if (k < 0)
        k = VNET_VLAN_MAX_IOV - 1;
    ssize_t r = net_backend_recv(p->be, in, k + 1);
    if (r < 0)
        return r;
    if (r < VNET_VLAN_HEAD + VLAN_TAG_LEN)
        return VNET_RX_DROP;
    if (ld_be16(head + VNET_VLAN_HEAD) != p->port.vlan_tpid ||
        (ld_be16(head + VNET_VLAN_HEAD + 2) & 0xfff) != p->port.vlan)
        return VNET_RX_DROP;
    hdr_shift(head, -VLAN_TAG_LEN);
    if (iov_from_buf(iov, niov, 0, head, VNET_VLAN_HEAD) != VNET_VLAN_HEAD)
        return VNET_RX_DROP;        /* under 24 bytes of buffers: the frame did not fit */
    return r - VLAN_TAG_LEN;
}
