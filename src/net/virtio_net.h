/* virtio-net device model (virtio 1.2 §5.1), transport-independent.
 *
 * N queue pairs (receiveq 2k, transmitq 2k + 1; N > 1 offers VIRTIO_NET_F_MQ) and a
 * control queue (2N, or 2 without MQ negotiated). Offered features:
 * VERSION_1, MAC, STATUS, MRG_RXBUF, CTRL_VQ, CTRL_RX, CTRL_MAC_ADDR, EVENT_IDX,
 * INDIRECT_DESC, the checksum/TSO/ECN offloads the backend supports, and NOTF_COAL:
 * interrupt moderation the guest sets with `ethtool -C`.
 *
 * The data path runs on the device's own I/O thread (epoll over the queues' kick
 * eventfds and the backend fd), and each further queue pair on an I/O thread of its
 * own: no lock and no allocation per packet. With an offload backend (vhost-net) the
 * backend moves RX/TX and the device's I/O thread keeps the control queue, link state
 * and the backend's interrupt and error eventfds (net_offload.c). A guest protocol
 * error sets DEVICE_NEEDS_RESET and stops this device only.
 *
 * Wiring: create with a guest memory map and a backend (ownership of the backend passes
 * to the device), plug virtio_net_vdev() into a transport (virtio/pci.h), which forwards
 * register accesses and provides interrupts. */
#ifndef VPF_NET_VIRTIO_NET_H
#define VPF_NET_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/guest_mem.h"
#include "virtio/device.h"

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_CTRLQ 2
#define VIRTIO_NET_NUM_QUEUES 3      /* one pair and the control queue */
/* queues=N, vf-queues=N: at most this many pairs (VIRTIO_NET_F_MQ). */
#define VIRTIO_NET_MAX_PAIRS 8

struct virtio_net;

struct virtio_net_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
    uint64_t tx_spoofed;        /* dropped by the source MAC check (virtio_net_set_spoofchk) */
};

/* One queue pair's share of the counters (vpf's data path only). */
struct virtio_net_queue_stats {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

/* What happened to a device that the host's manager may want to hear of (vpf publishes
 * them as control-socket events, docs/api.md). detail: the reason (NEEDS_RESET: the
 * virtio error's name; BACKEND_FAILED: why, e.g. a vhost-user peer lost), or "up"/"down"
 * (LINK: the backend's device changed its own link, e.g. a vDPA device's config
 * interrupt, a vhost-user peer come or gone). */
enum virtio_net_event {
    VIRTIO_NET_EVENT_NEEDS_RESET,       /* DEVICE_NEEDS_RESET: the guest must reset it */
    VIRTIO_NET_EVENT_BACKEND_FAILED,    /* the backend stopped working (tap or device gone) */
    VIRTIO_NET_EVENT_BACKEND_RESTORED,  /* a failed backend works again (for backends that
                                         * reconnect: a vhost-user peer back, the rings
                                         * restored) */
    VIRTIO_NET_EVENT_LINK,              /* the backend's device took its link down or up */
};
/* Called on the thread that saw it (I/O thread, or a vCPU); must not block. A guest can
 * repeat NEEDS_RESET as fast as it resets the device: at most LOG_RATELIMIT_BURST of
 * those per LOG_RATELIMIT_WINDOW_NS per device reach the hook, and the next one that does
 * says how many were dropped (suppressed; 0 otherwise). */
typedef void (*virtio_net_event_fn)(void *opaque, const char *dev, enum virtio_net_event ev,
                                    const char *detail, unsigned long suppressed);

/* Creates the device (link up) and starts its I/O thread. name is for logs and the
 * thread name. Returns NULL with the reason in err on failure; the backend is then not
 * consumed. */
struct virtio_net *virtio_net_create(const char *name, const struct guest_mem *mem,
                                     struct net_backend *be, const uint8_t mac[6], char *err,
                                     size_t errlen);
/* The same with npairs queue pairs (1..VIRTIO_NET_MAX_PAIRS; more than one offers
 * VIRTIO_NET_F_MQ with max_virtqueue_pairs = npairs), be[k] moving pair k's packets (the
 * queues of one multi-queue tap, see net_backend_open_mq). All backends are consumed on
 * success, none on failure. */
struct virtio_net *virtio_net_create_mq(const char *name, const struct guest_mem *mem,
                                        struct net_backend *const *be, unsigned npairs,
                                        const uint8_t mac[6], char *err, size_t errlen);
/* Stops the data path and the I/O thread, closes the backend, frees. */
void virtio_net_destroy(struct virtio_net *n);
/* Sets where the device's events go (before the guest can start it: creation, VF
 * Enable). NULL: nowhere (the default). */
void virtio_net_set_event_hook(struct virtio_net *n, virtio_net_event_fn fn, void *opaque);

struct virtio_dev *virtio_net_vdev(struct virtio_net *n);

/* Before the guest runs: also offer these feature bits (e.g. VIRTIO_F_SR_IOV on a PF). */
void virtio_net_offer_features(struct virtio_net *n, uint64_t features);
/* Before the guest runs: with on, a transmitted frame whose Ethernet source address is
 * not the MAC given at creation (the host's; a trusted guest's own, see trust below) is
 * dropped and counted in tx_spoofed. */
void virtio_net_set_spoofchk(struct virtio_net *n, bool on);

/* A function's port as the host sets it (never the guest): the MAC it assigned (the
 * config space's MAC, which Linux reads at its next driver probe, and after every reset;
 * the spoof check's reference right away), the spoof check, and the VLAN the port
 * enforces towards the backend (1-4094; 0: none): the guest sends and receives untagged,
 * frames to it must carry the VID and lose the tag, others are dropped (rx_dropped);
 * and the transmit rate limit (token bucket, net/net_rate.h).
 *
 * Trust (as `ip link set PF vf I trust on|off` on ixgbe, i40e, ice): an untrusted
 * function's guest may not replace a MAC the host set explicitly (admin_mac) through
 * VIRTIO_NET_CTRL_MAC_ADDR_SET, nor turn on promiscuous or all-multicast reception
 * (VIRTIO_NET_CTRL_RX_PROMISC/ALLMULTI, virtio 1.3 §5.1.6.5.1): both are answered
 * VIRTIO_NET_ERR; the spoof check compares with the host's MAC. A trusted guest may do
 * all of it, and the spoof check then follows the MAC it set. A device is created
 * trusted (a PF's guest owns its function); the VF manager sets its VFs' trust. */
enum virtio_net_vlan_proto {
    VIRTIO_NET_VLAN_8021Q,      /* C-VLAN tag, TPID 0x8100 (IEEE 802.1Q-2018 §9.5, Table 9-1) */
    VIRTIO_NET_VLAN_8021AD,     /* S-VLAN tag, TPID 0x88a8 (802.1ad; the same table) */
};
struct virtio_net_port {
    uint8_t mac[6];
    bool admin_mac;             /* mac was set by the host, not derived: see trust */
    bool spoofchk;
    bool trust;
    uint16_t vlan;              /* VID 1-4094; 0: no VLAN */
    uint8_t vlan_qos;           /* PCP 0-7 of the tag inserted on transmit (802.1Q §9.6) */
    enum virtio_net_vlan_proto vlan_proto;
    uint32_t max_tx_rate;       /* Mbit/s the guest may transmit; 0: unlimited */
};
/* Any thread but the device's I/O thread; takes effect between two packets. */
void virtio_net_set_port(struct virtio_net *n, const struct virtio_net_port *p);
void virtio_net_get_port(struct virtio_net *n, struct virtio_net_port *p);

/* Link state as the guest sees it (config status, VIRTIO_NET_S_LINK_UP) with a config
 * interrupt on change. While down, the device neither sends nor receives. Any thread
 * except the device's I/O thread. */
void virtio_net_set_link(struct virtio_net *n, bool up);
bool virtio_net_link_up(struct virtio_net *n);
/* What the guest sees: the host's link and, where the backend has its own (vhost-vdpa's
 * device status, a vhost-user peer), that one too (net_offload.c). */
bool virtio_net_carrier(struct virtio_net *n);

/* Current MAC (the guest may change it with VIRTIO_NET_CTRL_MAC_ADDR_SET). */
void virtio_net_get_mac(struct virtio_net *n, uint8_t mac[6]);
/* Counters; any thread, each value consistent on its own. With an offloaded backend
 * they are the backend's (the tap's, from sysfs, turned to the guest's view) and
 * tx_spoofed is 0; virtio_net_stats_source() says which: "vpf" or "tap" ("none" for an offloaded backend
 * without counters: vhost-vdpa). */
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s);
const char *virtio_net_stats_source(const struct virtio_net *n);
/* max_virtqueue_pairs, and the pairs the guest's driver uses now (1 until it sends
 * VQ_PAIRS_SET). Any thread. */
unsigned virtio_net_queue_pairs(const struct virtio_net *n);
unsigned virtio_net_active_pairs(const struct virtio_net *n);
/* Pair k's counters (vpf's data path; zero when offloaded). Any thread. */
void virtio_net_get_queue_stats(struct virtio_net *n, unsigned k, struct virtio_net_queue_stats *s);
/* Interrupt moderation as the guest's driver set it (VIRTIO_NET_CTRL_NOTF_COAL; all 0
 * until it does, and after a reset). Any thread but the device's I/O thread. */
struct virtio_net_coalesce {
    uint32_t rx_usecs, rx_max_packets, tx_usecs, tx_max_packets;
};
void virtio_net_get_coalesce(struct virtio_net *n, struct virtio_net_coalesce *c);
/* The backend's type: "tap", "vhost-net", "null", ... */
const char *virtio_net_backend_type(const struct virtio_net *n);
/* Any thread: why the backend stopped working at run time (vhost-vdpa: its device was
 * deleted), copied into buf; 0 if there is a reason, -1 if none (net_offload.c). */
int virtio_net_backend_error(struct virtio_net *n, char *buf, size_t len);
/* Any thread: a backend with a peer (vhost-user): its socket and the connection's state
 * ("connected", "connecting", "listening"); 0, or -1 for other backends (net_offload.c). */
int virtio_net_backend_peer(struct virtio_net *n, const char **socket, const char **state);

#endif
