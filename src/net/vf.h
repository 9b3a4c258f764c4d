/* The virtual PF's VF manager: turns a virtio-net PF into an SR-IOV PF and brings its
 * virtio-net VFs up and down as the guest sets and clears VF Enable.
 *
 * The PF's function gets the SR-IOV capability (pci/sriov.h) with TotalVFs from the host
 * policy (net/pf_policy.h), VF Device ID 0x1041 and one VF BAR: the virtio-pci BAR (BAR
 * 4, 64-bit prefetchable, 32 KiB per VF); the PF's virtio device offers VIRTIO_F_SR_IOV.
 * On VF Enable (a config write, vCPU thread, bus lock held) VF i becomes a virtio-pci
 * function at routing ID PF + 1 + i with its own virtio-net device, I/O thread, MSI-X and
 * backend: VF i's tap and MAC come from the policy, never from the guest (with
 * vf-backend=vhost-vdpa a vDPA device instead of a tap: made with the VF's MAC on the
 * policy's management device and deleted with the VF, or the admin's, whose MAC the VF
 * then takes). A VF whose
 * backend cannot be opened still comes up, on a null backend with its link held down and
 * the reason kept in `error` (log and control socket). On VF Disable or a PF reset every
 * VF is quiesced (doorbells unregistered, data path and I/O thread stopped) and freed
 * with everything it held: kick eventfds, MSI routes and their irqfds, its tap (which
 * disappears if vpf created it).
 *
 * Locking: VFs are created and destroyed with the bus lock held. `lock` guards vfs[]
 * against the control thread, which reads it with net_vf_mgr_lock() held; a VF is taken
 * out of vfs[] under `lock` before it is destroyed. Order: bus lock, then `lock`. */
#ifndef VPF_NET_VF_H
#define VPF_NET_VF_H

#include <net/if.h>
#include <pthread.h>

#include "backend/backend.h"
#include "net/pf_policy.h"
#include "net/virtio_net.h"
#include "pci/sriov.h"
#include "virtio/pci.h"
#include "base/log.h"

/* What the VM lends the VFs. */
struct net_vf_mgr;

struct net_vf_env {
    const struct guest_mem *mem;
    struct msi_router *router;
    const struct virtio_pci_notify_ops *notify_ops;    /* ioeventfd hooks */
    void *notify_opaque;
    /* Opens VF i's backend on interface ifname; NULL means net_backend_open() with the
     * policy's vf-backend. */
    struct net_backend *(*open_backend)(void *opaque, unsigned i, const char *ifname);
    void *backend_opaque;
    /* Optional: after VF Enable or Disable changed which VFs exist (vCPU thread, bus lock
     * held, manager lock not held; must not block). */
    void (*vfs_changed)(void *opaque, struct net_vf_mgr *m);
    void *changed_opaque;
};

struct net_vf {
    char name[32];              /* PF name + "vf" + index, e.g. net0vf3 */
    unsigned index;
    uint8_t devfn;
    uint8_t mac[6];             /* host-assigned (the port's, as at creation) */
    char tap[IFNAMSIZ];
    bool tap_created;
    char vdpa_dev[64];          /* vhost-vdpa: its vDPA device's name */
    char socket[108];           /* vhost-user: its socket */
    char error[256];            /* why the VF has no backend; empty when it has one */
    struct virtio_net *net;
    struct virtio_pci vp;
};

struct net_vf_mgr {
    char pf_name[16];
    uint8_t pf_mac[6];
    const struct pf_policy *policy;
    struct net_vf_env env;
    struct pci_sriov sriov;
    pthread_mutex_t lock;
    struct net_vf *vfs[PCI_SRIOV_MAX_VFS];
    unsigned nvfs;              /* VFs the guest enabled (some may have failed: NULL) */
    /* Each VF index's port (MAC, spoof check, VLAN): from the policy, changed by the
     * host (net_vf_mgr_set_port); kept across VF Disable/Enable, as a NIC's PF keeps its
     * VFs' settings. Under `lock`. */
    struct virtio_net_port ports[NET_MAX_VFS];
    struct log_ratelimit log_rl;    /* VF Enable/Disable messages (guest-triggered) */
};

/* Makes pf (virtio_pci_init done, not yet on the bus) an SR-IOV PF under policy
 * (total_vfs > 0; both must outlive the manager) and offers VIRTIO_F_SR_IOV on pf_net.
 * Returns 0 or -1 (logged). */
int net_vf_mgr_init(struct net_vf_mgr *m, const char *pf_name, struct virtio_pci *pf,
                    struct virtio_net *pf_net, const struct pf_policy *policy,
                    const uint8_t pf_mac[6], const struct net_vf_env *env);
/* After pci_bus_add of the PF: places the VF BAR region in the bus's 64-bit window. */
int net_vf_mgr_assign_bars(struct net_vf_mgr *m, struct pci_bus *bus);
/* Brings every VF down (takes the bus lock). Before the PF leaves the bus. */
void net_vf_mgr_destroy(struct net_vf_mgr *m);

/* Control thread: hold the lock while using vfs[] or a VF found here. */
void net_vf_mgr_lock(struct net_vf_mgr *m);
void net_vf_mgr_unlock(struct net_vf_mgr *m);
/* The VF named name (e.g. "net0vf3"), or NULL. Lock held. */
struct net_vf *net_vf_mgr_find(struct net_vf_mgr *m, const char *name);
/* VF i's port (i < total_vfs, validated by the caller); applied at once if VF i is up,
 * else when it comes up. Lock held. */
void net_vf_mgr_set_port(struct net_vf_mgr *m, unsigned i, const struct virtio_net_port *p);

#endif
