/* Host policy for an SR-IOV virtual PF's VFs, from --net: how many VFs the guest may
 * enable, which backend and MAC each gets, and whether their source MACs are enforced.
 * The guest only picks how many of the TotalVFs to bring up; everything else is here.
 *
 *   total-vfs=N          TotalVFs, 1..NET_MAX_VFS
 *   vf-tap=PATTERN       VF i's tap: PATTERN with its one %d replaced by i (e.g. vpfvf%d);
 *                        created when VF i comes up (removed when it goes, if vpf made it)
 *   vf-mac=MAC;MAC;...   VF 0, 1, ... MACs; VFs past the list get the default below
 *   vf-backend=tap|vhost-net   VF data path: vpf's own (tap, default) or the kernel's
 *                        (vhost-net, on the same tap)
 *   vf-queues=N          each VF's queue pairs (1..VIRTIO_NET_MAX_PAIRS, default 1;
 *                        VIRTIO_NET_F_MQ): a multi-queue tap; tap and vhost-net only
 *   vf-backend=vhost-vdpa  VF i on a vDPA device (no tap), with one of:
 *     vf-vdpa-mgmtdev=MGMTDEV  vpf creates VF i's vDPA device on MGMTDEV (e.g.
 *                        vdpasim_net, pci/0000:03:00.1) with the VF's MAC when the VF
 *                        comes up, and deletes it when the VF goes
 *     vf-vdpa=PATTERN    VF i on the admin's /dev/vhost-vdpa device PATTERN with its
 *                        one %d replaced by i (e.g. /dev/vhost-vdpa-%d); its MAC is the
 *                        device's
 *   vf-backend=vhost-user  VF i served by an external switch (DPDK, OVS-DPDK) over a
 *                        vhost-user socket (no tap):
 *     vf-socket=PATTERN  VF i's socket: PATTERN with its one %d replaced by i (e.g.
 *                        /run/switch/vf%d.sock); connected to at VF Enable, closed at
 *                        VF Disable
 *     vf-vhost-user-server=on|off  vpf listens on the VF sockets instead (default off)
 *   vf-spoofchk=on|off   drop (and count) VF frames whose source MAC is not the VF's; on
 *                        for tap VFs, off for vhost-net and vhost-vdpa VFs, where vpf never
 *                        sees a frame (on with them is refused)
 *
 * Default VF MAC: the PF's MAC plus i + 1 in its low 24 bits (the NIC-specific half),
 * wrapping within them: PF 52:54:00:12:34:56 -> VF 0 52:54:00:12:34:57, VF 3 ...:5a.
 *
 * At run time the host changes each VF's settings (struct pf_vf_conf) in iproute2's
 * vocabulary, `ip link set PF vf I ...` (ip-link(8)): mac, vlan with qos and proto,
 * spoofchk, trust, state, max_tx_rate, min_tx_rate; pf_policy_vf_change() checks a
 * change and applies it. They are kept per VF index whether the VF is up or not.
 *
 * Pure functions of their arguments: no locks, any thread (the callers hold theirs). */
#ifndef VPF_NET_PF_POLICY_H
#define VPF_NET_PF_POLICY_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "net/virtio_net.h"

#define NET_MAX_VFS 128

struct pf_policy {
    unsigned total_vfs;                 /* 0: a plain NIC without SR-IOV */
    char vf_tap[IFNAMSIZ + 2];          /* pattern; %d counts 2 characters, its value >= 1 */
    uint8_t vf_macs[NET_MAX_VFS][6];    /* explicit vf-mac= entries */
    unsigned nvf_macs;
    enum net_backend_type vf_backend;
    char vf_vdpa_mgmtdev[64];           /* vf-vdpa-mgmtdev= */
    char vf_vdpa[64];                   /* vf-vdpa= pattern */
    char vf_socket[108];                /* vf-socket= pattern (vhost-user) */
    bool vf_vu_server;                  /* vf-vhost-user-server=on */
    bool vf_vu_server_set;
    bool spoofchk;                      /* final after pf_policy_check */
    bool spoofchk_set;                  /* vf-spoofchk= was given */
    unsigned vf_queues;                 /* vf-queues=: each VF's queue pairs (default 1) */
    bool vf_queues_set;
};

/* queues=N / vf-queues=N (key names the option): 1..VIRTIO_NET_MAX_PAIRS into *out.
 * 0, or -1 with the reason in err. */
int net_parse_queues(const char *key, const char *val, unsigned *out, char *err, size_t errlen);

/* Defaults: no VFs, tap backend, spoof check on. */
void pf_policy_init(struct pf_policy *p);
/* One key=value of --net. Returns 1 if it was a policy key and valid, 0 if the key is
 * not a policy key, -1 for a bad value (the reason in err). */
int pf_policy_parse_key(struct pf_policy *p, const char *key, const char *val, char *err,
                        size_t errlen);
/* After every key, with the PF's MAC: the keys fit together, the tap names fit IFNAMSIZ
 * and no two of the PF's and VFs' MACs are equal; settles the spoof check default for
 * the VF backend. Returns 0, or -1 with the reason in err. */
int pf_policy_check(struct pf_policy *p, const uint8_t pf_mac[6], char *err, size_t errlen);

/* VF i's MAC and tap name (i < total_vfs, policy checked). */
void pf_policy_vf_mac(const struct pf_policy *p, const uint8_t pf_mac[6], unsigned i,
                      uint8_t mac[6]);
void pf_policy_vf_tap(const struct pf_policy *p, unsigned i, char name[IFNAMSIZ]);
/* VF i's /dev/vhost-vdpa path from vf-vdpa= (i < total_vfs, policy checked). */
void pf_policy_vf_vdpa(const struct pf_policy *p, unsigned i, char path[64]);
/* VF i's vhost-user socket path from vf-socket= (i < total_vfs, policy checked). */
void pf_policy_vf_socket(const struct pf_policy *p, unsigned i, char path[108]);
/* True if the VFs' frames bypass vpf (vhost-net, vhost-vdpa, vhost-user): no spoof check, VLAN or
 * rate limit can be applied to them. */
bool pf_policy_vf_offloaded(const struct pf_policy *p);

/* A VF's link as the host sets it (`ip link set PF vf I state ...`): auto follows the
 * PF's link, enable holds it up, disable down. A VF without a working backend is down
 * whatever its state. */
enum pf_vf_link { PF_VF_LINK_AUTO, PF_VF_LINK_ENABLE, PF_VF_LINK_DISABLE };

/* What the host set for one VF: its port (net/virtio_net.h: MAC, spoof check, trust,
 * VLAN, rate) and its link state. */
struct pf_vf_conf {
    struct virtio_net_port port;
    enum pf_vf_link link;
};

/* VF i's settings before the host changes any: the policy's MAC (admin_mac when vf-mac=
 * names it) and spoof check, untrusted, no VLAN or rate limit, link auto. */
void pf_policy_vf_conf(const struct pf_policy *p, const uint8_t pf_mac[6], unsigned i,
                       struct pf_vf_conf *c);

/* A change the host asks for (vf-set); each has_ or non-NULL field was given. mac has been
 * parsed and checked against the other functions' MACs by the caller. */
struct pf_vf_change {
    const uint8_t *mac;
    bool has_vlan, has_qos, has_spoofchk, has_trust, has_max_tx_rate, has_min_tx_rate, has_rate;
    int64_t vlan, qos, max_tx_rate, min_tx_rate, rate;
    bool spoofchk, trust;
    const char *proto;          /* "802.1Q", "802.1ad" (any case) */
    const char *state;          /* "auto", "enable", "disable" */
};

enum pf_vf_change_err { PF_VF_OK, PF_VF_BAD_ARGUMENT, PF_VF_NOT_SUPPORTED };

/* Checks a change of VF i against iproute2's rules and what the policy's VF backend can do, and
 * applies it to *c only if all of it is valid: vlan 0-4094 (0 removes the VLAN, then qos
 * must be 0 and proto 802.1Q); qos 0-7 and proto only with vlan, which resets both when
 * they are not given; max_tx_rate (or its older name rate, the same value if both) in
 * Mbit/s, 0 unlimited; min_tx_rate only 0 (vpf guarantees no bandwidth); a VLAN, spoof
 * check or rate limit on offloaded VFs is not supported. Returns PF_VF_OK, or the error's
 * class with the reason for the client in err (its last two parameters, as a
 * constructor's). */
enum pf_vf_change_err pf_policy_vf_change(const struct pf_policy *p, unsigned i,
                                          struct pf_vf_conf *c, const struct pf_vf_change *change,
                                          char *err, size_t errlen);

/* Names as iproute2 prints them: "auto", "enable", "disable"; "802.1Q", "802.1ad". */
const char *pf_vf_link_name(enum pf_vf_link l);
const char *pf_vf_proto_name(enum virtio_net_vlan_proto p);

#endif
