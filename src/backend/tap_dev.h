/* A Linux tap interface as both tap-based backends use it: tap.c (vpf reads and writes
 * it) and vhost_net.c (the kernel's vhost worker does, through the same fd). One open
 * path, so both get the same framing and offload handling.
 *
 * Framing: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with TUNSETVNETHDRSZ 12, i.e. every packet
 * carries struct virtio_net_hdr_v1 (virtio 1.2 §5.1.6), exactly as the guest sees it. */
#ifndef VPF_BACKEND_TAP_DEV_H
#define VPF_BACKEND_TAP_DEV_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tap_dev {
    int fd;                     /* non-blocking, close-on-exec */
    bool created;               /* vpf created the interface: it goes away on close */
    unsigned tun_offloads;      /* TUN_F_* the kernel accepted at probe time */
    char name[IFNAMSIZ];
};

/* Attaches to the tap ifname, creating it if it does not exist, and brings its link
 * up (addresses are the host admin's business). Returns 0, or -1 with the reason in err
 * (one line, not logged: the caller says it once, with its context). */
int tap_dev_open(struct tap_dev *t, const char *ifname, char *err, size_t errlen);
/* The same, with multi_queue one queue of a multi-queue tap (IFF_MULTI_QUEUE): each such
 * open attaches one more queue (fd) to ifname, and the kernel spreads received frames
 * over the attached queues by flow. A tap opened without it takes no second queue. */
int tap_dev_open_mq(struct tap_dev *t, const char *ifname, bool multi_queue, char *err,
                    size_t errlen);
/* A multi-queue tap's queue attached (on) or detached (TUNSETQUEUE IFF_ATTACH_QUEUE /
 * IFF_DETACH_QUEUE): the kernel steers no received frame to a detached queue (Linux
 * keeps its fd usable: tun_disable_queue). 0, or -1 with errno (EINVAL: already so). */
int tap_dev_set_queue(struct tap_dev *t, bool on);
/* A tap someone else opened and handed to vpf (`--net fd=N`, or a VF's tap passed over
 * the control socket), as libvirt does for QEMU, so vpf needs no CAP_NET_ADMIN: fd must
 * be a tun fd attached to a tap with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (set only when
 * the tap is attached, so the opener must have asked for it). tap_dev_adopt takes fd
 * (closed if it fails), makes it non-blocking and close-on-exec, sets the 12-byte header
 * and probes the offloads; it neither creates nor removes the tap, nor sets its link:
 * the opener's job. Returns 0, or -1 with the reason in err. */
int tap_dev_adopt(struct tap_dev *t, int fd, char *err, size_t errlen);
/* Checks fd as tap_dev_adopt would, without changing it; the tap's name into name. The
 * reason in err does not name fd: the caller says which descriptor it was. */
int tap_dev_check_fd(int fd, char name[IFNAMSIZ], char *err, size_t errlen);
void tap_dev_close(struct tap_dev *t);

/* Virtio-net offload feature bits this tap can honour (host direction: it accepts
 * partial checksums and TSO/ECN GSO packets; guest direction: what TUNSETOFFLOAD took). */
uint64_t tap_dev_features(const struct tap_dev *t);
/* Maps the negotiated GUEST_* bits onto TUNSETOFFLOAD. Returns 0 or -1 (logged). */
int tap_dev_set_features(struct tap_dev *t, uint64_t features);

#endif
