/* --net option: "tap=IFNAME|fd=N[,mac=XX:XX:XX:XX:XX:XX][,backend=tap|vhost-net]
 * [,total-vfs=N,vf-tap=PATTERN[,vf-mac=MAC;MAC;...][,vf-backend=tap|vhost-net]
 * [,vf-spoofchk=on|off]]" (SR-IOV keys: net/pf_policy.h). backend: who moves the PF's
 * packets, vpf (tap, default) or the kernel (vhost-net on the same tap).
 * "backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-N[,mac=...]": the PF on a vDPA device
 * instead of a tap (tap= does not apply; the device's own MAC wins over mac=).
 * "fd=N" in place of tap=: the tap file descriptor N vpf inherited from its caller
 * (opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, e.g. by libvirt or a privileged
 * manager), so vpf needs no CAP_NET_ADMIN for it; checked here, its name kept in tap.
 * "backend=vhost-user,socket=PATH[,vhost-user-server=on|off][,mac=...]": the PF served
 * by an external switch over the vhost-user socket PATH; vpf connects to it (the
 * default) or listens on it (vhost-user-server=on).
 * "queues=N" (1..8, default 1): N queue pairs (VIRTIO_NET_F_MQ), on N queues of a
 * multi-queue tap (tap=, backend=tap or vhost-net; not fd=, vhost-vdpa, vhost-user);
 * "vf-queues=N" the same for each VF (pf_policy.h). */
#ifndef VPF_NET_NET_OPTS_H
#define VPF_NET_NET_OPTS_H

#include <net/if.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/pf_policy.h"

struct net_opts {
    char tap[IFNAMSIZ];         /* "" with backend=vhost-vdpa; fd=N: its tap's name */
    int tap_fd;                 /* fd=N, else -1 */
    char vdpa[64];              /* backend=vhost-vdpa: the /dev/vhost-vdpa-N path */
    char socket[108];           /* backend=vhost-user: the socket path */
    bool vu_server;             /* vhost-user-server=on: vpf listens on socket */
    bool vu_server_set;
    uint8_t mac[6];
    enum net_backend_type backend;
    unsigned queues;            /* queues=N: queue pairs (VIRTIO_NET_F_MQ when > 1), default 1 */
    struct pf_policy vf;    /* vf.total_vfs 0: no SR-IOV */
};

/* Parses arg into *o. Without mac=, a random locally administered unicast MAC
 * (52:54:00:xx:xx:xx) is chosen. Returns 0, or -1 with the reason in err. */
int net_opts_parse(const char *arg, struct net_opts *o, char *err, size_t errlen);

#endif
