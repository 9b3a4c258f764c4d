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
 *  NET_BACKEND_OFFLOAD (vhost-net, vhost-vdpa, vhost-user; not written yet): the kernel
 *    or another process moves the packets. On DRIVER_OK the device hands over, through
 *    start_offload(), the guest memory table, each queue's ring addresses and size, the
 *    kick eventfd (the same fd KVM signals through KVM_IOEVENTFD) and the call eventfd
 *    (the MSI-X vector's irqfd), and does only control afterwards. stop_offload() returns
 *    each queue's next avail index, so a later start (or a switch to userspace) resumes.
 *
 * Offloads: features() lists the virtio-net offload feature bits (VIRTIO_NET_F_CSUM,
 * GUEST_CSUM, HOST_/GUEST_TSO4/6, HOST_/GUEST_ECN, ...) the backend can honour; the device
 * offers the guest no others. After negotiation the device calls set_features() with the
 * accepted bits, e.g. tap maps GUEST_* onto TUNSETOFFLOAD (and 0 on reset, so no GSO
 * packet reaches a driver that did not ask for it).
 *
 * Threads: open/close/set_features/start_offload/stop_offload run on the control path
 * (a vCPU thread or setup) while the data path is stopped; send/recv on the device's I/O
 * thread only. Failures are returned, never fatal: a VF whose backend breaks just loses
 * its link. */
#ifndef VPF_BACKEND_BACKEND_H
#define VPF_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/guest_mem.h"

#define NET_BACKEND_HDR_LEN 12   /* struct virtio_net_hdr_v1 */

enum net_backend_kind { NET_BACKEND_USERSPACE, NET_BACKEND_OFFLOAD };

struct net_backend;

/* One queue as an offloaded backend needs it (vhost SET_VRING_NUM/ADDR/BASE/KICK/CALL). */
struct net_backend_vring {
    uint16_t size;
    uint16_t last_avail;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    int kick_fd;            /* ioeventfd of the queue's notify address */
    int call_fd;            /* irqfd of the queue's MSI-X vector, -1 if none */
};

struct net_backend_offload {
    const struct guest_mem *mem;
    uint64_t features;      /* negotiated virtio features */
    unsigned nvrings;       /* rx0, tx0[, rx1, tx1...]; the control queue stays in vpf */
    struct net_backend_vring vrings[2];
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

    /* NET_BACKEND_OFFLOAD. Return 0 or -1. */
    int (*start_offload)(struct net_backend *be, const struct net_backend_offload *cfg);
    void (*stop_offload)(struct net_backend *be, uint16_t *last_avail, unsigned nvrings);
};

struct net_backend {
    const struct net_backend_ops *ops;
    int fd;                 /* USERSPACE: the fd to poll; -1 otherwise */
    unsigned hdr_len;       /* NET_BACKEND_HDR_LEN */
    char name[32];          /* interface name or description, for logs */
};

static inline uint64_t net_backend_features(struct net_backend *be) { return be->ops->features(be); }
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
 * Returns NULL with the reason logged. */
struct net_backend *tap_open(const char *ifname);
/* True if tap_open created the interface (it disappears on close). */
bool tap_created(const struct net_backend *be);

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
