/* --net option: "tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX][,backend=tap|vhost-net]
 * [,total-vfs=N,vf-tap=PATTERN[,vf-mac=MAC;MAC;...][,vf-backend=tap|vhost-net]
 * [,vf-spoofchk=on|off]]" (SR-IOV keys: net/pf_policy.h). backend: who moves the PF's
 * packets, vpf (tap, default) or the kernel (vhost-net on the same tap).
 * "backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-N[,mac=...]": the PF on a vDPA device
 * instead of a tap (tap= does not apply; the device's own MAC wins over mac=).
 * "backend=vhost-user,socket=PATH[,vhost-user-server=on|off][,mac=...]": the PF served
 * by an external switch over the vhost-user socket PATH; vpf connects to it (the
 * default) or listens on it (vhost-user-server=on). */
#ifndef VPF_NET_NET_OPTS_H
#define VPF_NET_NET_OPTS_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/pf_policy.h"

struct net_opts {
    char tap[IFNAMSIZ];         /* "" with backend=vhost-vdpa */
    char vdpa[64];              /* backend=vhost-vdpa: the /dev/vhost-vdpa-N path */
    char socket[108];           /* backend=vhost-user: the socket path */
    bool vu_server;             /* vhost-user-server=on: vpf listens on socket */
    bool vu_server_set;
    uint8_t mac[6];
    enum net_backend_type backend;
    struct pf_policy vf;    /* vf.total_vfs 0: no SR-IOV */
};

/* Parses arg into *o. Without mac=, a random locally administered unicast MAC
 * (52:54:00:xx:xx:xx) is chosen. Returns 0, or -1 with the reason logged. */
int net_opts_parse(const char *arg, struct net_opts *o);
/* Parses "xx:xx:xx:xx:xx:xx" (hex, case-insensitive); rejects multicast addresses. */
int net_parse_mac(const char *s, uint8_t mac[6]);
/* The same text form, lower-case: "xx:xx:xx:xx:xx:xx" (out holds 18 bytes). */
void net_format_mac(char out[18], const uint8_t mac[6]);

#endif
