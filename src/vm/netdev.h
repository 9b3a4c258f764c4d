/* The VM's virtio-net PCI functions (--net) and their control commands. */
#ifndef VPF_VM_NETDEV_H
#define VPF_VM_NETDEV_H

#include "ctl/ctl.h"
#include "net/vf.h"
#include "net/virtio_net.h"
#include "virtio/pci.h"

struct vm;

struct netdev {
    char name[16];              /* net0, net1, ... (control API and logs) */
    struct virtio_net *net;
    struct virtio_pci pci;
    uint8_t devfn;
    struct net_vf_mgr *vfs;     /* SR-IOV PF (--net total-vfs=N), else NULL */
};

/* Creates one virtio-net function per --net option on the VM's PCI bus, each with its
 * backend; die()s with a clear line if a backend cannot be opened (setup). Device
 * numbers go 1, 2, ... and skip those an SR-IOV PF's VFs will take (its routing IDs
 * PF + 1 .. PF + total-vfs continue into the following device numbers). */
void netdev_create_all(struct vm *vm);
/* Registers "devices", "vfs", "link" and "stats" on the control server (netdev_ctl.c). */
void netdev_register_ctl(struct vm *vm, struct ctl_server *ctl);
/* The "vfs-changed" event's data for m's PF: {dev, num_vfs, vfs: [{vf, dev, pci, mac,
 * tap, backend, link, error}]}; takes the manager's lock (netdev_ctl.c). */
json_t *netdev_vfs_json(struct net_vf_mgr *m);
/* Quiesces and frees every device (taps vpf created go away). */
void netdev_destroy_all(struct vm *vm);

#endif
