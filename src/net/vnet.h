/* virtio-net internals shared by virtio_net.c (device ops, I/O thread wiring), net_rx.c,
 * net_tx.c and net_ctrl.c. Fields under "I/O thread" are touched only on the device's
 * I/O thread (or through iothread_call), so the data path takes no lock. */
#ifndef VPF_NET_VNET_H
#define VPF_NET_VNET_H

#include <linux/virtio_net.h>
#include <pthread.h>

#include "net/net_coal.h"
#include "net/net_rate.h"
#include "net/virtio_net.h"
#include "virtio/iothread.h"

#define VNET_RX_MAX_IOV 1024            /* IOV_MAX: one readv over all cached buffers */
#define VNET_TX_BUDGET 256              /* packets per wakeup, then let others run */
#define VNET_RX_BUDGET 256
#define VNET_CTRL_BUDGET 64             /* control commands per wakeup */
/* Largest frame the backend may hand us: 64 KiB GSO payload + Ethernet + VLAN headers
 * (virtio 1.2 §5.1.6.3.1 asks the same 65562-byte buffers of a driver). */
#define VNET_MAX_GSO_FRAME (65536 + 14 + 4)
/* Room for the guest's buffers behind the VLAN tag's scratch (net_vlan.c): IOV_MAX. */
#define VNET_VLAN_MAX_IOV VNET_RX_MAX_IOV
/* A received length below any header: the receive path drops the packet and counts it
 * (e.g. a frame net_vlan.c refused), without consuming the guest's buffers. */
#define VNET_RX_DROP 1
/* num_buffers in struct virtio_net_hdr_v1 (virtio 1.2 §5.1.6). */
#define VNET_HDR_NUM_BUFFERS_OFF 10

/* An RX buffer chain popped ahead and kept until a packet fills it. */
struct vnet_rx_chain {
    uint16_t head;
    uint16_t niov;
    uint32_t len;
    uint32_t iov_start;
};

struct virtio_net {
    struct virtio_dev vdev;             /* first: ops get a struct virtio_dev * */
    char name[32];
    struct net_backend *be;
    struct iothread io;
    uint64_t host_features;

    /* Config as the guest reads it; written by ctl (link) and the I/O thread (MAC). */
    pthread_mutex_t cfg_lock;
    uint8_t mac[6];
    bool link_up;
    struct virtio_net_port port;        /* the host's settings, copied to the I/O thread */
    /* Host port settings (virtio_net_set_port): set on the I/O thread, read by it. */
    uint8_t host_mac[6];
    bool spoofchk;
    uint16_t vlan;                      /* 802.1Q VID enforced towards the backend; 0: none */
    struct net_rate tx_rate;            /* transmit limit; bytes_per_sec 0: none */

    /* I/O thread */
    bool running;                       /* data path started (activate .. reset/fail) */
    bool dp_link_up;
    bool mrg_rxbuf;
    bool rx_need_kick;                  /* out of RX buffers: backend not polled for IN */
    bool tx_blocked;                    /* backend full: polled for OUT */
    bool tx_throttled;                  /* over the rate limit: waiting for rate_timer */
    bool be_dead;                       /* backend hung up: not polled at all */
    bool be_err_logged;
    bool promisc, allmulti;             /* accepted, not enforced (tap delivers all) */
    /* Offloaded data path (net_offload.c): the backend moves RX/TX, this thread polls
     * only the control queue and the backend's call/error eventfds. */
    bool offloaded;
    int call_fd[2], err_fd[2];          /* per ring (rx, tx); -1 for userspace backends */
    int ring_call[2];                   /* what the backend signals now: call_fd or an irqfd */
    struct iothread_watch call_watch[2], err_watch[2];
    struct iothread_watch cfg_watch;    /* the backend's config_fd, while offloaded */
    bool dev_link_down;                 /* the backend's device says its link is down (cfg_lock) */
    struct iothread_watch peer_watch;   /* the backend's event_fd (vhost-user), for the device's life */
    uint32_t rx_need;
    struct iothread_watch kick[VIRTIO_NET_NUM_QUEUES];
    struct iothread_watch be_watch;
    struct iothread_watch rate_watch;   /* rate_timer_fd, while the data path runs */
    int rate_timer_fd;
    /* Notification coalescing (NOTF_COAL) of the receiveq and transmitq, set by the
     * driver; one absolute timer for the earlier of their deadlines. */
    struct net_coal coal[2];
    struct iothread_watch coal_watch;
    int coal_timer_fd;
    uint64_t coal_timer_at;             /* deadline the timer is set to; 0: disarmed */
    uint16_t coal_used_seen[2];         /* offloaded: used idx at the backend's last signal */
    /* RX buffer cache: rx_chains[rx_chain_head ..+ rx_nchains), their iovecs
     * rx_iov[rx_iov_head ..+ rx_niov). A packet consumes from the heads; the arrays are
     * compacted only when the cache reaches their end (amortised O(1) per packet). */
    unsigned rx_chain_head, rx_iov_head;
    unsigned rx_nchains, rx_niov;
    uint64_t rx_space;
    struct vnet_rx_chain rx_chains[VIRTQ_MAX_SIZE];
    struct iovec rx_iov[VNET_RX_MAX_IOV];
    struct iovec iov[VIRTQ_MAX_CHAIN];  /* TX and control chains */
    /* VLAN tagging/stripping (net_vlan.c): header + MACs + tag, and the iovecs behind. */
    uint8_t vlan_head[NET_BACKEND_HDR_LEN + 12 + 4];
    struct iovec vlan_iov[VNET_VLAN_MAX_IOV];

    struct virtio_net_stats stats;      /* written by the I/O thread only */
};

/* Single writer: a relaxed store is enough for readers on other threads. */
static inline void vnet_stat_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline bool vnet_has(const struct virtio_net *n, unsigned bit)
{
    return virtio_has_feature(n->vdev.features, bit);
}

/* virtio_net.c, I/O thread: guest error -> NEEDS_RESET, data path halted. */
void vnet_fail(struct virtio_net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Re-derives the backend fd's epoll interest from the flags above. */
void vnet_update_backend_watch(struct virtio_net *n);
/* The backend is gone (EOF / hang-up / hard error): stop polling it, log once. */
void vnet_backend_gone(struct virtio_net *n, const char *why);
void vnet_set_mac(struct virtio_net *n, const uint8_t mac[6]);
/* count used buffers were pushed to queue q (RX or TX): publish them and notify the
 * driver if it wants it, now or, with coalescing, when due; now: whatever is held is
 * due (the guest is out of buffers and must hear of the used ones to add more). */
void vnet_signal_used(struct virtio_net *n, unsigned q, unsigned count, bool now);
/* Offloaded: the backend signalled queue q's call eventfd; interrupt the guest now or,
 * with coalescing, when due (counting the used buffers by the ring's used idx). */
void vnet_signal_backend(struct virtio_net *n, unsigned q);
/* Offloaded: the backend stops; whatever of its signals is held goes to the guest now. */
void vnet_coal_release_held(struct virtio_net *n);
/* VIRTIO_NET_CTRL_NOTF_COAL_{RX,TX}_SET for queue q. */
void vnet_coal_set(struct virtio_net *n, unsigned q, uint32_t max_packets, uint32_t usecs);

/* net_offload.c, I/O thread: hand RX/TX over to an offload backend / take them back. */
bool vnet_is_offload(const struct virtio_net *n);
int vnet_offload_init(struct virtio_net *n);       /* creation: the eventfds */
void vnet_offload_free(struct virtio_net *n);
void vnet_offload_start(struct virtio_net *n);
void vnet_offload_stop(struct virtio_net *n);
void vnet_offload_link(struct virtio_net *n);
/* Points each ring's interrupt at the vector's irqfd while the transport can deliver it
 * straight and moderation is off for the ring, else at call_fd (vpf in between). */
void vnet_offload_route_irqs(struct virtio_net *n);
/* After the I/O thread started: watch a backend whose peer comes and goes (event_fd,
 * vhost-user) for the device's whole life; its link follows the peer. */
void vnet_offload_watch_peer(struct virtio_net *n);

/* net_tx.c, net_rx.c, net_ctrl.c: drain the queue as far as possible, then interrupt
 * once if the driver wants it. */
void vnet_tx_process(struct virtio_net *n);
/* TX rate limit: true if a packet may go now; else arms the timer that resumes TX. */
bool vnet_tx_rate_ok(struct virtio_net *n);
void vnet_rx_process(struct virtio_net *n);
void vnet_rx_reset(struct virtio_net *n);
void vnet_ctrl_process(struct virtio_net *n);
/* The backend's send/recv with the port's VLAN applied (net_vlan.c; vlan != 0 only).
 * send: len is the chain's length; -EINVAL for a chain too short to tag. recv: as
 * net_backend_recv, the frame untagged, or VNET_RX_DROP for a frame not of our VLAN. */
ssize_t vnet_vlan_send(struct virtio_net *n, const struct iovec *iov, unsigned niov, uint32_t len);
ssize_t vnet_vlan_recv(struct virtio_net *n, const struct iovec *iov, unsigned niov);

#endif
