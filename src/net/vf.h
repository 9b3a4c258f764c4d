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
 * The host's settings for each VF index (struct pf_vf_conf: MAC, VLAN, spoof check,
 * trust, rate, link state) live here whether the VF is up or not, as a NIC's PF keeps
 * its VFs' settings: applied when the VF comes up, and at once to a VF that is up. A VF's
 * link is up while it has a backend and its link state says so: enable, or auto while
 * the PF's link (as the host set it) is up.
 *
 * A VF's tap is the policy's vf-tap pattern, or one a privileged manager opened and
 * handed over the control socket (net_vf_mgr_set_tap): the manager keeps that descriptor
 * and each VF Enable gives the VF's backend a duplicate, so vpf opens no tap itself.
 *
 * Locking: VFs are created and destroyed with the bus lock held. `lock` guards vfs[] and
 * conf[] against the control thread, which uses them with net_vf_mgr_lock() held; a VF
 * is taken out of vfs[] under `lock` before it is destroyed. Order: bus lock, then
 * `lock`; with `lock` held the control thread waits for VFs' I/O threads (bounded). */
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
    /* Optional: each VF's device events (virtio_net_set_event_hook). */
    virtio_net_event_fn device_event;
    void *event_opaque;
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
    struct virtio_net *pf_net;      /* its link is what link state auto follows */
    const struct pf_policy *policy;
    struct net_vf_env env;
    struct pci_sriov sriov;
    pthread_mutex_t lock;
    struct net_vf *vfs[PCI_SRIOV_MAX_VFS];
    unsigned nvfs;              /* VFs the guest enabled (some may have failed: NULL) */
    /* Each VF index's settings: from the policy, changed by the host
     * (net_vf_mgr_set_conf); kept across VF Disable/Enable. Under `lock`. */
    struct pf_vf_conf conf[NET_MAX_VFS];
    /* Taps handed over (vf-tap), per VF index: the manager's descriptor (-1: the
     * policy's pattern instead) and the tap's name. Under `lock`. */
    struct net_vf_tap {
        int fd;
        char name[IFNAMSIZ];
    } taps[NET_MAX_VFS];
    struct log_ratelimit log_rl;    /* VF Enable/Disable messages (guest-triggered) */
};

/* Makes pf (virtio_pci_init done, not yet on the bus) an SR-IOV PF under policy
 * (total_vfs > 0; both must outlive the manager) and offers VIRTIO_F_SR_IOV on pf_net.
 * Returns 0, or -1 with the reason in err. */
int net_vf_mgr_init(struct net_vf_mgr *m, const char *pf_name, struct virtio_pci *pf,
                    struct virtio_net *pf_net, const struct pf_policy *policy,
                    const uint8_t pf_mac[6], const struct net_vf_env *env, char *err,
                    size_t errlen);
/* After pci_bus_add of the PF: places the VF BAR region in the bus's 64-bit window. */
int net_vf_mgr_assign_bars(struct net_vf_mgr *m, struct pci_bus *bus);
/* Brings every VF down (takes the bus lock). Before the PF leaves the bus. */
void net_vf_mgr_destroy(struct net_vf_mgr *m);

/* Control thread: hold the lock while using vfs[] or a VF found here. */
void net_vf_mgr_lock(struct net_vf_mgr *m);
void net_vf_mgr_unlock(struct net_vf_mgr *m);
/* The VF named name (e.g. "net0vf3"), or NULL. Lock held. */
struct net_vf *net_vf_mgr_find(struct net_vf_mgr *m, const char *name);
/* VF i's settings (i < total_vfs, validated by the caller, pf_policy_vf_change); applied
 * at once if VF i is up, else when it comes up. Lock held. */
void net_vf_mgr_set_conf(struct net_vf_mgr *m, unsigned i, const struct pf_vf_conf *c);
/* After the PF's link changed (virtio_net_set_link on the PF): VFs whose link state is
 * auto follow it. Lock held. */
void net_vf_mgr_pf_link_changed(struct net_vf_mgr *m);
/* True if VF i is up (the guest enabled it and it was created). Lock held. */
bool net_vf_mgr_vf_up(struct net_vf_mgr *m, unsigned i);
/* From VF i's next Enable on, its backend is on the tap fd (taken; a tap with the vnet
 * header, checked by the caller, named name), or with fd -1 on the policy's pattern
 * again; a tap handed over before is closed. Lock held. */
void net_vf_mgr_set_tap(struct net_vf_mgr *m, unsigned i, int fd, const char *name);
/* VF i's tap name: the one handed over, or the policy's pattern's ("" for vDPA VFs).
 * Lock held. */
void net_vf_mgr_tap_name(const struct net_vf_mgr *m, unsigned i, char name[IFNAMSIZ]);

#endif
