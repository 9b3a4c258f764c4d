/* The SR-IOV Extended Capability of a physical function (PCIe Base 6.0 §9.3.3, the same
 * registers as PCI-SIG SR-IOV 1.1 §3.3; cap ID 0x0010): the register model only. What a
 * VF *is* belongs to the PF's owner, which creates and destroys the VF functions through
 * the ops below; this file places them on the bus and keeps their BARs and decoding in
 * step with the PF's VF BARs and VF MSE.
 *
 * Registers (offsets from the capability, <linux/pci_regs.h> names):
 *   TotalVFs = InitialVFs = total_vfs (no VF Migration, so they must be equal: §9.3.3.6).
 *   NumVFs: RW while VF Enable is clear, read-only while it is set. Any 16-bit value is
 *     stored and read back as written; VF Enable with NumVFs 0 or above TotalVFs brings
 *     up no VFs (the spec leaves it undefined, §9.3.3.7; Linux never does it).
 *   First VF Offset = 1, VF Stride = 1 for every NumVFs and either ARI setting: VF i is
 *     routing ID PF + 1 + i on the PF's bus, i.e. the VFs take the functions after the PF
 *     and then the following device numbers (00:01.0 PF -> 00:01.1..00:01.7, 00:02.0...).
 *     No ARI: the root bus has no downstream port to enable it (docs/architecture.md).
 *   Function Dependency Link = the PF's function number (Linux checks it, iov.c).
 *   ARI Capable Hierarchy: RW (the PF is function 0), has no effect on offset/stride.
 *   VF Device ID: given at init. VF Migration: not capable (Capabilities 0, Status 0).
 *   Supported Page Sizes: every power of two from 4 KiB up to the smallest VF BAR, so a
 *     VF BAR is always a multiple of the page size. System Page Size: RW, default 4 KiB;
 *     a write that is not exactly one supported size is ignored (§9.3.3.13 leaves it
 *     undefined). Read-only while VF Enable is set.
 *   VF BAR0..5: memory BARs of each VF, sized with the usual protocol (writing all ones
 *     reads back the per-VF size mask); VF i's BAR = VF BAR base + i * size (§9.3.3.14).
 *   VF MSE: gates decoding of every VF BAR (VFs ignore their own Command.MSE, §9.3.4.1.3).
 *
 * Locking: every call runs with the bus lock held (config-write hook) or during setup. */
#ifndef VPF_PCI_SRIOV_H
#define VPF_PCI_SRIOV_H

#include <stdbool.h>
#include <stdint.h>

#include "pci/device.h"

#define PCI_SRIOV_MAX_VFS   128
#define SRIOV_FIRST_VF_OFFSET 1
#define SRIOV_VF_STRIDE 1

struct pci_bus;

/* Callbacks into the PF's owner, all with the bus lock held (vCPU thread). */
struct pci_sriov_ops {
    /* VF Enable took effect with num_vfs (1..TotalVFs) VFs: create VF 0..num_vfs-1 and put
     * each on the bus with pci_sriov_add_vf_locked(). A VF that cannot be created is left
     * out (its routing ID reads as absent). */
    void (*enable)(void *opaque, unsigned num_vfs);
    /* VF Enable cleared or the PF reset: quiesce, pci_sriov_remove_vf_locked() and free
     * every VF. */
    void (*disable)(void *opaque);
    /* The VFs' BAR addresses or decoding changed (VF BAR write, VF MSE): bars[].addr and
     * mem_enable of each VF are already updated; re-register doorbells. Optional. */
    void (*vfs_moved)(void *opaque);
};

struct pci_sriov {
    struct pci_device *pf;
    unsigned cap;                              /* config offset of the capability */
    uint16_t total_vfs;
    uint16_t num_vfs;                          /* VFs brought up by VF Enable, 0 = none */
    bool vfe;                                  /* VF Enable as last acted upon */
    uint32_t sys_pgsize;                       /* last valid System Page Size */
    bool warned;                               /* bad NumVFs already logged */
    struct pci_bar vf_bars[PCI_NUM_BARS];      /* per-VF size and type; addr = VF BAR base */
    struct pci_device *vfs[PCI_SRIOV_MAX_VFS]; /* on the bus, NULL = absent */
    const struct pci_sriov_ops *ops;
    void *opaque;
};

/* Appends the capability to pf's extended config space (pf must have a PCI Express
 * capability) and sets pf->sriov. total_vfs 1..PCI_SRIOV_MAX_VFS. Returns 0 or -1. */
int pci_sriov_init(struct pci_sriov *s, struct pci_device *pf, unsigned total_vfs,
                   uint16_t vf_device_id, const struct pci_sriov_ops *ops, void *opaque);

/* Declares VF BAR `bar` (as pci_device_set_bar: MEM32 or MEM64, size a power of two
 * >= 4 KiB, per VF). Before pci_sriov_assign_bars. Returns 0 or -1. */
int pci_sriov_set_vf_bar(struct pci_sriov *s, unsigned bar, enum pci_bar_type type,
                         bool prefetchable, uint64_t size);

/* As firmware: places each VF BAR's region (size * TotalVFs, rounded up to a power of two)
 * in the bus's window. Call once the PF is on the bus. Returns 0 or -1 (window full). */
int pci_sriov_assign_bars(struct pci_sriov *s, struct pci_bus *bus);

/* Routing ID (devfn on the PF's bus) of VF i for a PF at pf_devfn, or -1 if it would not
 * fit on the bus. Also used before the PF is on the bus, to keep those slots free. */
int pci_sriov_vf_devfn(uint8_t pf_devfn, unsigned i);

/* Puts vf (built with pci_device_init_vf) on the bus as VF i (< num_vfs) and sets its BAR
 * addresses and decoding from the PF. Returns 0 or -1 (routing ID taken). */
int pci_sriov_add_vf_locked(struct pci_sriov *s, unsigned i, struct pci_device *vf);
/* Takes VF i off the bus (no-op if absent). */
void pci_sriov_remove_vf_locked(struct pci_sriov *s, unsigned i);

/* Called by pci_device_config_write after a guest write to the PF was applied. */
void pci_sriov_config_write(struct pci_sriov *s, unsigned off, unsigned len);

/* The PF was reset: VFs torn down, VF Enable, VF MSE and NumVFs cleared. The VF BARs and
 * System Page Size keep what software programmed. */
void pci_sriov_reset(struct pci_sriov *s);

#endif
