/* Network backends: where a virtio-net function's packets go on the host.
 *
 * Two kinds, one interface, so virtio-net never knows which it has:
 *
 *  NET_BACKEND_USERSPACE (tap, loop): vpf moves the packets. The device's I/O thread polls
 *    be->fd (readable: a packet to receive; writable after send() said -EAGAIN) and calls
 *    send()/recv() with iovecs pointing straight into guest buffers. Every packet is
 *    framed by a virtio-net header of be->hdr_len bytes (virtio 1.2 §5.1.6: 12 bytes,
 *    struct virtio_net_hdr_v1, with VERSION_1), exactly as the guest sees it: a tap with
 *    IFF_VNET_HDR and TUNSETVNETHDRSZ 12 reads and writes that framing itself.
 *
 *  NET_BACKEND_OFFLOAD (vhost-net, vhost-vdpa, vhost-user): the kernel or another
 *    process moves the packets. On DRIVER_OK the device hands over, through
 *    start_offload(), the guest memory table, each queue's ring addresses and size, the
 *    kick eventfd (the same fd KVM signals through KVM_IOEVENTFD), a call eventfd the
 *    backend signals for a used-buffer interrupt (the MSI-X vector's irqfd while it is
 *    deliverable, else the device's own eventfd, forwarded through MSI-X so masking and
 *    pending bits stay in one place; set_call() switches between them at run time) and
 *    an error eventfd (a bad ring: the device then needs a reset), and does only
 *    control afterwards. set_link()
 *    detaches/reattaches the packet source while the link is down. stop_offload()
 *    returns each queue's next avail index, so a later start (or a switch to
 *    userspace) resumes.
 *
 * Offloads: features() lists the virtio-net offload feature bits (VIRTIO_NET_F_CSUM,
 * GUEST_CSUM, HOST_/GUEST_TSO4/6, HOST_/GUEST_ECN, ...) the backend can honour; the device
 * offers the guest no others. After negotiation the device calls set_features() with the
 * accepted bits, e.g. tap maps GUEST_* onto TUNSETOFFLOAD (and 0 on reset, so no GSO
 * packet reaches a driver that did not ask for it).
 *
 * Threads: open/close/set_features run on the control path (a vCPU thread or setup)
 * while the data path is stopped; send/recv, start_offload/stop_offload/set_link on the
 * device's I/O thread only (start/stop through its hand-over call, so serialised with
 * each other); stats on any thread. Failures are returned, never fatal: a VF whose backend breaks just loses
 * its link. */
#ifndef VPF_BACKEND_BACKEND_H
#define VPF_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/guest_mem.h"

#define NET_BACKEND_HDR_LEN 12   /* struct virtio_net_hdr_v1 */

enum net_backend_kind { NET_BACKEND_USERSPACE, NET_BACKEND_OFFLOAD };

struct net_backend;

/* The backends --net backend= and vf-backend= choose from: vpf on a tap, vhost-net on a
 * tap, or a vhost-vdpa device (no tap). */
enum net_backend_type {
    NET_BACKEND_TAP,
    NET_BACKEND_VHOST_NET,
    NET_BACKEND_VHOST_VDPA,
    NET_BACKEND_VHOST_USER
};

/* One queue as an offloaded backend needs it (vhost SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR). */
struct net_backend_vring {
    uint16_t size;
    uint16_t last_avail;
    uint64_t desc_gpa, avail_gpa, used_gpa;   /* validated against mem by virtq_start */
    int kick_fd;            /* ioeventfd of the queue's notify address */
    int call_fd;            /* signalled for a used-buffer interrupt (see set_call) */
    int err_fd;             /* signalled when the backend finds the ring broken */
};

struct net_backend_offload {
    const struct guest_mem *mem;
    uint64_t features;      /* negotiated virtio features */
    bool link_up;           /* false: set up the rings, move no packets until set_link */
    unsigned nvrings;       /* rx0, tx0[, rx1, tx1...]; the control queue stays in vpf */
    struct net_backend_vring vrings[2];
};

/* Counters as the guest sees them (rx: towards the guest). */
struct net_backend_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
};

struct net_backend_ops {
    const char *type;                       /* "tap", "loop", "vhost-net", ... */
    enum net_backend_kind kind;
    uint64_t (*features)(struct net_backend *be);
    int (*set_features)(struct net_backend *be, uint64_t features);
    void (*close)(struct net_backend *be);  /* frees be */

    /* NET_BACKEND_USERSPACE. One packet, header included. send: bytes written, or -errno
     * (-EAGAIN: no room, try again when be->fd is writable; other: packet dropped).
     * recv: the packet's full length, which may exceed the iovec (then it was truncated
     * and must be dropped), or -errno (-EAGAIN: nothing to receive). */
    ssize_t (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
    ssize_t (*recv)(struct net_backend *be, const struct iovec *iov, int iovcnt);

    /* NET_BACKEND_OFFLOAD. Return 0 or -1 (logged). After a failed start nothing runs. */
    int (*start_offload)(struct net_backend *be, const struct net_backend_offload *cfg);
    void (*stop_offload)(struct net_backend *be, uint16_t *last_avail, unsigned nvrings);
    int (*set_link)(struct net_backend *be, bool up);
    /* Optional: after the backend signalled a ring's err_fd, true if the fault is the
     * backend's own (e.g. its tap was deleted) rather than the guest's ring. */
    bool (*backend_broken)(struct net_backend *be);
    /* Optional, NET_BACKEND_OFFLOAD: counters kept outside vpf (where vpf moves the
     * packets it counts them itself). Returns 0 or -1. */
    int (*stats)(struct net_backend *be, struct net_backend_stats *s);
    /* Optional: of VERSION_1's ring features (MRG_RXBUF, EVENT_IDX, INDIRECT_DESC) the
     * ones the backend's data path implements; without it, all of them. A hardware-like
     * backend (vhost-vdpa) offers only what its device has: the guest sees no others. */
    uint64_t (*ring_features)(struct net_backend *be);
    /* Optional, any thread: why the backend stopped working at run time (e.g. its vDPA
     * device was deleted), copied into buf; 0 if it has a reason, -1 if none. */
    int (*error)(struct net_backend *be, char *buf, size_t len);
    /* Optional, NET_BACKEND_OFFLOAD, a device with its own link (vhost-vdpa with
     * VIRTIO_NET_F_STATUS): config_fd() is an eventfd the backend signals when the
     * device's config changed (its config interrupt), or -1; device_link() then reads
     * the device's link state (I/O thread). */
    int (*config_fd)(struct net_backend *be);
    bool (*device_link)(struct net_backend *be);
    /* Optional, NET_BACKEND_OFFLOAD, I/O thread, while started: signal fd for ring's
     * used-buffer interrupts from now on (VHOST_SET_VRING_CALL), e.g. the MSI-X vector's
     * irqfd while it is deliverable, the device's call_fd while it is masked. Without
     * it the backend always signals the call_fd start_offload() was given. 0 or -1. */
    int (*set_call)(struct net_backend *be, unsigned ring, int fd);
    /* Optional, NET_BACKEND_OFFLOAD, a backend whose peer comes and goes (vhost-user):
     * event_fd() is an fd the device's I/O thread watches for as long as the device
     * exists; when it is readable the thread calls service() (a dead peer, a reconnect
     * timer, a new connection; the rings are set up again on the new peer by the
     * backend itself), then device_link(): false while there is no peer, which the guest
     * sees as carrier off. */
    int (*event_fd)(struct net_backend *be);
    void (*service)(struct net_backend *be);
    /* Optional, any thread: the connection's state ("connected", "connecting",
     * "listening") for the control socket; be->socket names the socket. */
    const char *(*peer_state)(struct net_backend *be);
    /* Optional, a queue of a multi-queue tap (tap, vhost-net): attach (on) or detach it
     * (TUNSETQUEUE), so the kernel steers no frame to a queue pair the guest does not use
     * (virtio 1.2 §5.1.6.5.5); a vhost-user pair: SET_VRING_ENABLE of its rings. Control
     * path or I/O thread. 0 or -1 (errno). */
    int (*set_queue_enabled)(struct net_backend *be, bool on);
};

struct net_backend {
    const struct net_backend_ops *ops;
    int fd;                 /* USERSPACE: the fd to poll; -1 otherwise */
    unsigned hdr_len;       /* NET_BACKEND_HDR_LEN */
    bool tap_created;       /* its tap was created by vpf (and goes away on close) */
    char name[32];          /* interface name or description, for logs */
    char dev[64];           /* vhost-vdpa: the vDPA device's name ("" if unknown) */
    char socket[108];       /* vhost-user: the peer's socket ("" for other backends) */
    bool has_mac;           /* the device has its own MAC (vhost-vdpa: its config's) */
    uint8_t mac[6];
};

static inline uint64_t net_backend_features(struct net_backend *be)
{
    return be->ops->features(be);
}
static inline int net_backend_set_features(struct net_backend *be, uint64_t f)
{
    return be->ops->set_features(be, f);
}
static inline ssize_t net_backend_send(struct net_backend *be, const struct iovec *iov, int n)
{
    return be->ops->send(be, iov, n);
}
static inline ssize_t net_backend_recv(struct net_backend *be, const struct iovec *iov, int n)
{
    return be->ops->recv(be, iov, n);
}
static inline void net_backend_close(struct net_backend *be)
{
    if (be)
        be->ops->close(be);
}

/* --net tap=IFNAME: attaches to the tap IFNAME, creating it (non-persistent: it goes
 * away when vpf closes it) if it does not exist, with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * a 12-byte vnet header, non-blocking, link up (addresses are the host admin's business).
 * Returns NULL with the reason in err (one line, not logged). */
struct net_backend *tap_open(const char *ifname, char *err, size_t errlen);
/* --net fd=N: the tap fd is attached to (someone else opened it: tap_dev.h
 * tap_dev_adopt); fd is taken, closed on failure. Returns NULL with the reason in err. */
struct net_backend *tap_open_fd(int fd, char *err, size_t errlen);
/* Checks that fd is such a tap without changing it; its name into name. Returns 0, or -1
 * with the reason in err (which does not name fd). */
int tap_check_fd(int fd, char name[16], char *err, size_t errlen);
/* True if the backend's tap was created by vpf (it disappears on close). */
static inline bool tap_created(const struct net_backend *be) { return be && be->tap_created; }

/* --net tap=IFNAME,backend=vhost-net: the same tap, with the packets moved by the
 * kernel's vhost-net worker (/dev/vhost-net) instead of vpf (vhost_net.c). Returns NULL
 * with the reason in err (e.g. /dev/vhost-net missing or not permitted; not logged). */
struct net_backend *vhost_net_open(const char *ifname, char *err, size_t errlen);
/* The same on the tap fd is attached to (taken, closed on failure). */
struct net_backend *vhost_net_open_fd(int fd, char *err, size_t errlen);

/* --net backend=vhost-vdpa,vdpa=PATH: the virtio-net device behind /dev/vhost-vdpa-N
 * moves the packets (vhost_vdpa.c); vpf maps guest RAM into it, sets up its rings and
 * keeps the control queue. mem: the guest RAM it will map (checked against the device's
 * IOVA range and RLIMIT_MEMLOCK, which vpf raises when allowed). Returns NULL with the
 * reason in err (one line, not logged). */
struct net_backend *vhost_vdpa_open(const char *path, const struct guest_mem *mem, char *err,
                                    size_t errlen);
/* vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=MGMTDEV: creates the vDPA device name on mgmtdev
 * with mac (vdpa_netlink.h), then vhost_vdpa_open()s its vhost-vdpa device. The device
 * is deleted when the backend closes (and at once if opening fails). */
struct net_backend *vhost_vdpa_create(const char *name, const char *mgmtdev, const uint8_t mac[6],
                                      const struct guest_mem *mem, char *err, size_t errlen);
/* The features vpf sets on a vDPA device for a guest that negotiated `negotiated` on
 * vpf's virtio-net (virtio 1.2 §3.1.1): what both have, less what vpf keeps (the
 * control queue and its commands, NOTF_COAL, SR_IOV), plus ACCESS_PLATFORM when the
 * device offers it (vpf maps guest RAM through the device's IOTLB with IOVA = guest
 * physical address; the guest is never offered it). */
uint64_t vhost_vdpa_driver_features(uint64_t negotiated, uint64_t device);

/* --net backend=vhost-user,socket=PATH: an external switch (DPDK, OVS-DPDK) moves the
 * packets between the guest's rings and its ports; vpf is the vhost-user front-end
 * (vhost_user.c). server: vpf listens on PATH (replacing a stale socket there) instead
 * of connecting to it. mem: guest RAM, which must be shareable (memfd regions). A peer
 * that is not there yet (client: no socket, nobody listening) is not an error: the
 * backend retries with backoff and the device's link stays down until it connects.
 * Returns NULL with the reason in err (one line, not logged) only for what retrying
 * cannot mend (a path too long, RAM not shareable, a server socket that cannot be made). */
struct net_backend *vhost_user_open(const char *path, bool server, const struct guest_mem *mem,
                                    char *err, size_t errlen);
/* Tests and fuzzing: the same over an already connected socket fd (owned from then on);
 * no reconnect (a lost peer stays lost). NULL with err if the handshake fails. */
struct net_backend *vhost_user_open_fd(int fd, const char *name, const struct guest_mem *mem,
                                       int timeout_ms, char *err, size_t errlen);
/* queues=N: one connection for all npairs queue pairs (vhost-user has one socket per
 * device), seen as npairs backends be[k], one per pair as virtio-net expects: be[k]
 * starts, stops and enables (set_queue_enabled: SET_VRING_ENABLE) its pair's rings,
 * which are the connection's rings 2k, 2k + 1; be[0] also owns the connection
 * (event_fd, service, device_link, error, peer_state: ask only it). Each be[k] is
 * closed on its own; the connection goes with the last. All of them on the device's
 * I/O thread (offloaded pairs all run there). A peer without PROTOCOL_F_MQ or with
 * GET_QUEUE_NUM < npairs is refused like a bad peer (link down, the reason in
 * error(), retried). 0, or -1 with the reason in err and nothing open. */
int vhost_user_open_mq(const char *path, bool server, const struct guest_mem *mem, unsigned npairs,
                       struct net_backend **be, char *err, size_t errlen);
int vhost_user_open_fd_mq(int fd, const char *name, const struct guest_mem *mem, int timeout_ms,
                          unsigned npairs, struct net_backend **be, char *err, size_t errlen);

/* One queue of the multi-queue tap ifname (IFF_MULTI_QUEUE; created if missing): each
 * call attaches one more queue. For queues=N, one backend per queue pair. */
struct net_backend *tap_open_queue(const char *ifname, char *err, size_t errlen);
struct net_backend *vhost_net_open_queue(const char *ifname, char *err, size_t errlen);

/* npairs backends of the given type on tap ifname, be[k] for queue pair k: with npairs 1
 * as net_backend_open, else the queues of a multi-queue tap (tap, vhost-net only). 0, or
 * -1 with the reason in err and nothing left open. */
int net_backend_open_mq(enum net_backend_type type, const char *ifname, unsigned npairs,
                        struct net_backend **be, char *err, size_t errlen);
/* Opens a backend of the given type on tap ifname (open.c). NULL: reason in err. */
struct net_backend *net_backend_open(enum net_backend_type type, const char *ifname, char *err,
                                     size_t errlen);
/* The same on the tap fd is attached to (tap or vhost-net; fd taken, closed on failure). */
struct net_backend *net_backend_open_fd(enum net_backend_type type, int fd, char *err,
                                        size_t errlen);
/* "tap", "vhost-net", "vhost-vdpa". */
const char *net_backend_type_name(enum net_backend_type type);
/* Parses a type name; returns 0, or -1 if unknown. */
int net_backend_parse_type(const char *s, enum net_backend_type *type);

/* A socketpair standing in for a tap (tests, fuzzing): SOCK_SEQPACKET, one packet per
 * message, same vnet-header framing. *peer_fd gets the other end (blocking; the caller
 * owns and closes it). Offers every offload; the last set_features() value is kept for
 * tests (loop_last_features). */
struct net_backend *loop_open(int *peer_fd);
uint64_t loop_last_features(const struct net_backend *be);

/* A backend with nothing behind it (a VF whose own backend failed): receives nothing,
 * drops what it is sent, offers no offloads. name is for logs. NULL on failure. */
struct net_backend *null_open(const char *name);

#endif
