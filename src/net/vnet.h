/* virtio-net internals, shared by the files of src/net that make up the device:
 *
 *   virtio_net.c   device ops (features, config space, activate, reset) and the public
 *                  API (virtio_net.h); vCPU and control threads, config under cfg.lock
 *   net_io.c       the I/O threads' side: data path start/stop, the watches of the kick
 *                  eventfds and the backend fds, and applying what a queue run ended with
 *   net_rx.c, net_tx.c, net_ctrl.c
 *                  one run over a queue each, returning its outcome (struct vnet_run);
 *                  they signal nothing but the early used-buffer notification of a batch
 *   net_notify.c   used-buffer notifications and their moderation (NOTF_COAL)
 *   net_offload.c  handing RX/TX to an offload backend (vhost-net, vhost-vdpa,
 *                  vhost-user) and watching a vhost-user backend's peer
 *   net_vlan.c     the port's VLAN tag (802.1Q or 802.1ad) to and from the backend
 *
 * struct virtio_net is grouped by owner: each sub-struct is written by the file named at
 * it. Threads: the device's I/O thread (n->io) runs the control queue, the offloaded
 * data path and pair 0; with vpf's data path each further queue pair has its own I/O
 * thread (struct vnet_pair: p->io). A pair's state (struct vnet_pair, its queues'
 * entries in notify, kick[]) is touched only on its thread, the rest but cfg and tx's
 * bucket only on the device's; hand-overs reach a thread through iothread_call, which
 * runs there. So the data path allocates nothing and takes no lock, but tx.lock while
 * the host set a rate limit (one bucket for all pairs). */
#ifndef VPF_NET_VNET_H
#define VPF_NET_VNET_H

#include <assert.h>
#include <linux/virtio_net.h>
#include <pthread.h>

#include "base/iothread.h"
#include "net/net_coal.h"
#include "net/net_rate.h"
#include "net/virtio_net.h"

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

/* Shared with the vCPU and control threads, under lock (virtio_net.c; net_offload.c
 * sets dev_link_down). */
struct vnet_config {
    pthread_mutex_t lock;
    uint8_t mac[6];                     /* the config space's MAC */
    bool link_up;                       /* the host's link state */
    bool dev_link_down;                 /* the backend's device says its link is down */
    struct virtio_net_port port;        /* the host's settings, copied to the I/O thread */
};

/* The data path as the I/O thread runs it (net_io.c). Queue layout (virtio 1.2
 * §5.1.2): receiveq k at 2k, transmitq k at 2k + 1, the control queue at 2 * npairs
 * with VIRTIO_NET_F_MQ negotiated, else at 2 (ctrlq, set at activate). */
struct vnet_dp {
    bool running;                       /* started (activate .. reset/fail) */
    bool link_up;                       /* cfg.link_up as the data path follows it */
    bool be_dead;                       /* offloaded backend gone: not polled at all */
    bool be_err_logged;                 /* atomic: any pair's thread may find it first */
    unsigned ctrlq;                     /* the control queue's index */
    unsigned used_pairs;                /* pairs the driver may use: npairs with MQ, else 1 */
    unsigned curr_pairs;                /* pairs in use (VQ_PAIRS_SET, §5.1.6.5.5); 1 at start */
    /* By queue index; a data queue's on its pair's thread, the control queue's here. */
    struct iothread_watch kick[VIRTIO_MAX_QUEUES];
};

#define VNET_MAX_DATAQ (2 * VIRTIO_NET_MAX_PAIRS)
static_assert(VNET_MAX_DATAQ + 1 <= VIRTIO_MAX_QUEUES, "the control queue must fit");

/* Receive (net_rx.c). The buffer cache: chains[chain_head ..+ nchains), their iovecs
 * iov[iov_head ..+ niov). A packet consumes from the heads; the arrays are compacted
 * only when the cache reaches their end (amortised O(1) per packet). */
struct vnet_rx {
    bool need_kick;                     /* out of buffers: backend not polled for input
                                           until the guest kicks (net_io.c) */
    unsigned chain_head, nchains;
    unsigned iov_head, niov;
    uint64_t space;                     /* bytes the cached chains hold */
    struct vnet_rx_chain chains[VIRTQ_MAX_SIZE];
    struct iovec iov[VNET_RX_MAX_IOV];
};

/* Transmit's rate limit (net_tx.c): one bucket for the function, charged by every
 * transmit queue from its pair's thread, under lock while a limit is set (checked
 * before a send, charged after: the debt can reach one packet per pair). */
struct vnet_tx {
    pthread_mutex_t lock;
    struct net_rate rate;               /* bytes_per_sec 0: no limit */
    uint64_t bytes_per_sec;             /* atomic copy: checked without the lock */
};

/* Used-buffer notifications of the receive and transmit queues (by queue index) and
 * their moderation (NOTF_COAL) as the driver set it (net_notify.c); a queue's entries
 * are its pair's thread's. RX_SET/TX_SET apply to every receiveq/transmitq. */
struct vnet_notify {
    struct net_coal coal[VNET_MAX_DATAQ];
    uint16_t used_seen[VNET_MAX_DATAQ]; /* offloaded: used idx at the backend's last signal */
};

/* The host port as a pair's thread applies it (virtio_net.c from cfg.port; net_ctrl.c
 * for a trusted guest's MAC): read by net_tx.c (spoof check) and net_vlan.c. */
struct vnet_port_dp {
    uint8_t host_mac[6];                /* the spoof check's: the host's MAC, or a trusted
                                         * guest's own (CTRL_MAC_ADDR_SET, net_ctrl.c) */
    bool spoofchk;
    uint16_t vlan;                      /* VID enforced towards the backend; 0: none */
    uint16_t vlan_tpid;                 /* the tag's TPID: 0x8100 or 0x88a8 */
    uint16_t vlan_tci;                  /* the tag inserted: PCP << 13 | VID (802.1Q §9.6) */
};

/* The offloaded data path (net_offload.c): the backend moves RX/TX, the I/O thread
 * polls only the control queue and the backend's call/error (and config) eventfds. */
struct vnet_offload {
    bool active;
    bool pair_active[VIRTIO_NET_MAX_PAIRS];     /* that pair's backend was started */
    /* Per ring, by queue index (rx 2k, tx 2k + 1); -1 for userspace backends. */
    int call_fd[VNET_MAX_DATAQ], err_fd[VNET_MAX_DATAQ];
    int ring_call[VNET_MAX_DATAQ];      /* what the backend signals now: call_fd or an irqfd */
    struct iothread_watch call_watch[VNET_MAX_DATAQ], err_watch[VNET_MAX_DATAQ];
    struct iothread_watch cfg_watch;    /* the backend's config_fd, while active */
    struct iothread_watch peer_watch;   /* the backend's event_fd (vhost-user), for the
                                           device's life */
    bool peer_lost;                     /* BACKEND_FAILED told, RESTORED not yet */
};

/* One queue pair (receiveq 2k, transmitq 2k + 1) and its own backend: a queue of a
 * multi-queue tap (IFF_MULTI_QUEUE), or a vhost-net device on it. Run by io: pair 0,
 * and every pair of an offloaded or single-pair device, on the device's I/O thread;
 * with vpf's data path each further pair on its own (own_io), so pairs run on
 * different cores. Everything below but stats is touched on io only. */
struct vnet_pair {
    struct virtio_net *n;
    unsigned idx;
    struct net_backend *be;
    struct iothread *io;
    struct iothread own_io;             /* started when io points at it */
    bool running;                       /* this pair's data path started (net_io.c) */
    bool active;                        /* in use: idx < dp.curr_pairs */
    bool link_up;                       /* cfg.link_up as this pair follows it */
    bool be_dead;                       /* its backend hung up: not polled at all */
    bool tx_blocked;                    /* backend full: polled for output (net_io.c) */
    bool throttled;                     /* over the rate limit: waiting for the timer */
    struct iothread_watch be_watch;     /* the backend fd (userspace backends) */
    int rate_timer_fd;                  /* net_tx.c */
    struct iothread_watch rate_watch;
    int coal_timer_fd;                  /* net_notify.c: the earlier of its queues' */
    struct iothread_watch coal_watch;
    uint64_t coal_timer_at;             /* deadline the timer is set to; 0: disarmed */
    struct vnet_port_dp port;
    struct vnet_rx rx;
    /* Scratch of one chain at a time: TX chains (net_tx.c), and the VLAN tag's header +
     * MACs + tag with the iovecs behind it (net_vlan.c). */
    struct iovec iov[VIRTQ_MAX_CHAIN];
    uint8_t vlan_head[NET_BACKEND_HDR_LEN + 12 + 4];
    struct iovec vlan_iov[VNET_VLAN_MAX_IOV];
    struct virtio_net_stats stats;      /* single writer: the pair's thread */
};

struct virtio_net {
    struct virtio_dev vdev;             /* the ops get it: to_net() */
    struct virtio_dev_ops ops;          /* vnet_ops with this device's queue count */
    char name[32];
    struct net_backend *be;             /* pairs[0].be: features, counters, links */
    unsigned npairs;                    /* max_virtqueue_pairs (queues=N) */
    struct vnet_pair *pairs;            /* [npairs] */
    struct iothread io;
    uint64_t host_features;

    struct vnet_config cfg;
    struct vnet_dp dp;
    bool mrg_rxbuf;                     /* negotiated (activate) */
    uint32_t rx_need;                   /* bytes cached before a read (activate) */
    struct vnet_tx tx;
    struct vnet_notify notify;
    struct vnet_offload off;
    virtio_net_event_fn event_fn;       /* set before the guest runs, read by any thread */
    void *event_opaque;
    pthread_mutex_t event_lock;         /* event_rl, from any thread */
    struct log_ratelimit event_rl;      /* NEEDS_RESET events, which a guest can repeat */

    /* The host port as the device's I/O thread applies it (virtio_net.c, from cfg.port):
     * read by net_ctrl.c (trust); each pair has its copy (struct vnet_port_dp). */
    uint8_t host_mac[6];                /* the spoof check's reference (net_ctrl.c) */
    bool trust;                         /* see struct virtio_net_port */
    bool admin_mac;
    /* Receive modes the driver set (net_ctrl.c): accepted, not enforced (tap delivers all). */
    bool promisc, allmulti;
    /* Scratch of one control chain at a time (net_ctrl.c). */
    struct iovec iov[VIRTQ_MAX_CHAIN];
};

/* Single writer (the pair's thread): a relaxed store is enough for readers elsewhere. */
static inline void vnet_stat_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline bool vnet_has(const struct virtio_net *n, unsigned bit)
{
    return virtio_has_feature(n->vdev.features, bit);
}

/* Queue indices of pair k (virtio 1.2 §5.1.2). */
static inline unsigned vnet_rxq(unsigned k) { return 2 * k; }
static inline unsigned vnet_txq(unsigned k) { return 2 * k + 1; }

static inline bool vnet_coal_on(const struct virtio_net *n, unsigned q)
{
    return net_coal_on(&n->notify.coal[q]);
}

/* What a run over a queue (vnet_rx_process, vnet_tx_process, vnet_ctrl_process) ended
 * with, as crosvm's process_rx answers RxDescriptorsExhausted: the run does the queue's
 * work and nothing else; net_io.c applies the rest. */
enum vnet_outcome {
    VNET_IDLE,              /* the queue cannot run now (stopped, link down, blocked,
                               throttled): nothing done, nothing to apply */
    VNET_DONE,              /* drained (kicks re-armed), or the budget spent (the run
                               kicked itself, or the level-triggered backend fd will) */
    VNET_RING_EMPTY,        /* RX: no guest buffers for the next packet: stop polling
                               the backend for input until the guest kicks; a held
                               notification is due (the driver refills only after it) */
    VNET_BLOCKED,           /* TX: the backend is full: poll it for output */
    VNET_THROTTLED,         /* TX: over the rate limit: arm the rate timer */
    VNET_BACKEND_GONE,      /* RX: the backend hung up or failed (err) */
    VNET_BROKEN,            /* the guest broke the queue (error): NEEDS_RESET, and
                               nothing of this run is signalled */
};

struct vnet_run {
    enum vnet_outcome outcome;
    unsigned done;                      /* RX, TX: packets moved (used buffers pushed) */
    int err;                            /* VNET_BACKEND_GONE: errno, 0 for end of file */
    enum virtio_error error;            /* VNET_BROKEN */
};

/* net_rx.c, net_tx.c, net_ctrl.c, I/O thread: one run over the queue, as far as the
 * budget, the ring, the backend or the rate limit allow. */
struct vnet_run vnet_rx_process(struct vnet_pair *p);
void vnet_rx_reset(struct vnet_pair *p);
struct vnet_run vnet_tx_process(struct vnet_pair *p);
struct vnet_run vnet_ctrl_process(struct virtio_net *n);
/* net_ctrl.c: VIRTIO_NET_CTRL_MQ command cmd with its len bytes of data (exposed for the
 * unit tests): VIRTIO_NET_OK or VIRTIO_NET_ERR. */
uint8_t vnet_ctrl_mq(struct virtio_net *n, uint8_t cmd, const void *data, uint32_t len);

/* net_io.c. vnet_io_run: a run over queue q (RX, TX or control) and what it ended with
 * applied: the guest's notification (net_notify.c), the backend fd's epoll interest,
 * the rate timer, NEEDS_RESET. What every handler and hand-over calls, on q's thread
 * (its pair's, or the device's for the control queue). */
void vnet_io_run(struct virtio_net *n, unsigned q);
/* The device's I/O thread: the data path on DRIVER_OK (a running one is halted first)
 * and its end (reset, failure); link: the pairs follow cfg.link_up; port: they take
 * cfg.port. Each hands every pair its part on the pair's thread (iothread_call; a
 * pair's thread never calls another thread, so these nested calls cannot deadlock). */
void vnet_dp_start(struct virtio_net *n);
void vnet_dp_halt(struct virtio_net *n);
void vnet_dp_link(struct virtio_net *n);
void vnet_dp_port(struct virtio_net *n);
/* Guest error (or VIRTIO_ERR_HOST) on queue q (-1: none) -> NEEDS_RESET
 * (virtio_dev_fail), and what runs on the calling thread halted: the device's thread
 * halts the data path, a pair's thread its pair; the others halt at their next run. */
void vnet_fail(struct virtio_net *n, int q, enum virtio_error err);
/* Re-derives pair p's backend fd's epoll interest from its state. Pair's thread. */
void vnet_update_backend_watch(struct vnet_pair *p);
/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET (virtio 1.2 §5.1.6.5.5), validated by the caller
 * (1..npairs), and the start's 1: pairs k.. stop receiving (their tap queues detached,
 * not polled), pairs ..k-1 receive. Device's thread. 0, or -1 if a backend refused
 * to attach a queue (logged): then the pairs in use are those before the call, and
 * dp.curr_pairs counts them either way (pairs 0..curr_pairs-1 in use, no other). */
int vnet_set_pairs(struct virtio_net *n, unsigned k);
/* Pair p's backend is gone (EOF / hang-up / hard error): stop polling it, log once for
 * the device. Pair's thread. */
void vnet_pair_gone(struct vnet_pair *p, const char *why);
/* An offloaded backend is gone: the same for the device (device's thread). */
void vnet_backend_gone(struct virtio_net *n, const char *why);

/* net_tx.c: the rate limit. init/free: a pair's timer (creation; 0, or -1 with errno).
 * start/stop: its watch while the userspace data path runs (stop also disarms it).
 * throttle: over the limit, arm the timer for when the debt is paid. resume: a
 * throttled pair goes on (a new limit). Pair's thread, but init/free. set_rate: a new
 * limit from the host (Mbit/s, 0: none), which starts with a full bucket; any thread. */
int vnet_tx_init(struct vnet_pair *p);
void vnet_tx_free(struct vnet_pair *p);
int vnet_tx_rate_start(struct vnet_pair *p);
void vnet_tx_rate_stop(struct vnet_pair *p);
void vnet_tx_throttle(struct vnet_pair *p);
void vnet_tx_resume(struct vnet_pair *p);
void vnet_tx_set_rate(struct virtio_net *n, uint32_t mbit);

/* net_notify.c. init/free: a pair's moderation timer (creation; 0, or -1 with errno).
 * start/stop, pair's thread: its watch while the data path runs; stop forgets what the
 * driver set and what is held for the pair's queues (a reset, or a failure). */
int vnet_notify_init(struct vnet_pair *p);
void vnet_notify_free(struct vnet_pair *p);
int vnet_notify_start(struct vnet_pair *p);
void vnet_notify_stop(struct vnet_pair *p);
/* count used buffers were pushed to queue q (RX or TX): publish them and notify the
 * driver if it wants it, now or, with moderation, when due; now: whatever is held is
 * due (the guest is out of buffers and must hear of the used ones to add more). */
void vnet_signal_used(struct virtio_net *n, unsigned q, unsigned count, bool now);
/* Publish queue q's used buffers and notify the driver if it wants it (no moderation:
 * the control queue). */
void vnet_notify_used(struct virtio_net *n, unsigned q);
/* Offloaded: the backend signalled queue q's call eventfd; interrupt the guest now or,
 * with moderation, when due (counting the used buffers by the ring's used idx). */
void vnet_signal_backend(struct virtio_net *n, unsigned q);
/* Offloaded: the backend stops; whatever of its signals is held goes to the guest now. */
void vnet_coal_release_held(struct virtio_net *n);
/* VIRTIO_NET_CTRL_NOTF_COAL_{RX,TX}_SET: q is VIRTIO_NET_RXQ or TXQ, and the values apply to
 * every receiveq or transmitq (virtio 1.3 §5.1.6.5.6), each set on its pair's thread. */
void vnet_coal_set(struct virtio_net *n, unsigned q, uint32_t max_packets, uint32_t usecs);
/* The values the driver set (for virtio_net_get_coalesce). */
void vnet_coal_get(struct virtio_net *n, struct virtio_net_coalesce *c);

/* virtio_net.c: the guest's CTRL_MAC_ADDR_SET (config space, generation). */
void vnet_set_mac(struct virtio_net *n, const uint8_t mac[6]);

/* virtio_net.c, any thread: tells the device's event hook, if any. */
void vnet_event(struct virtio_net *n, enum virtio_net_event ev, const char *detail);

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

/* The backend's send/recv with the port's VLAN applied (net_vlan.c; vlan != 0 only).
 * send: len is the chain's length; -EINVAL for a chain too short to tag. recv: as
 * net_backend_recv, the frame untagged, or VNET_RX_DROP for a frame not of our VLAN. */
ssize_t vnet_vlan_send(struct vnet_pair *p, const struct iovec *iov, unsigned niov, uint32_t len);
ssize_t vnet_vlan_recv(struct vnet_pair *p, const struct iovec *iov, unsigned niov);

#endif
