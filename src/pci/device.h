/* A PCI function as a device model sees it. A model (virtio-pci transport, an SR-IOV VF)
 * embeds struct pci_device, fills config space and BARs at init, and gets BAR MMIO
 * accesses and config writes through its ops. All callbacks run with the bus lock held
 * (see bus.h), on a vCPU thread.
 *
 * BARs: memory only (no I/O BARs), size a power of two >= 4 KiB (one page, so BARs never
 * share a page and each can be mapped or trapped alone). A 64-bit BAR uses two BAR
 * registers (i, i+1). The bus assigns addresses when the function is added (vpf acts as
 * firmware); the guest may move them with the usual sizing protocol (PCI 3.0 §6.2.5.1). */
#ifndef VPF_PCI_DEVICE_H
#define VPF_PCI_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "base/util.h"
#include "pci/config.h"

#define PCI_NUM_BARS     6
#define PCI_BAR_MIN_SIZE 4096ULL
#define PCI_BAR_UNMAPPED UINT64_MAX

struct pci_device;
struct pci_bus;
struct msix;
struct pci_sriov;

enum pci_bar_type {
    PCI_BAR_NONE,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64,   /* occupies this BAR register and the next */
    PCI_BAR_UPPER,   /* the high dword of the previous MEM64 BAR (no region of its own) */
};

struct pci_bar {
    enum pci_bar_type type;
    bool prefetchable;
    uint64_t size;
    /* Guest address the BAR decodes at, PCI_BAR_UNMAPPED if none. Kept in step with the
     * BAR registers by pci_device_config_write (or set by the PF for a VF). */
    uint64_t addr;
};

struct pci_device_ops {
    /* MMIO inside BAR `bar` at offset off (off + len <= BAR size; len 1, 2, 4 or 8).
     * Accesses to the MSI-X table/PBA never reach these: the bus hands them to dev->msix.
     * A NULL bar_read reads as zeros; a NULL bar_write drops writes. */
    void (*bar_read)(struct pci_device *dev, unsigned bar, uint64_t off, void *data, unsigned len);
    void (*bar_write)(struct pci_device *dev, unsigned bar, uint64_t off, const void *data,
                      unsigned len);
    /* Optional: called after a valid guest config write was applied to config space and
     * the generic state (BARs, Memory Space Enable, MSI-X) updated. May add or remove
     * other functions with the pci_bus_*_locked calls. */
    void (*config_write)(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);
    /* Optional: Function Level Reset of the device behind the function (pci_device_flr
     * resets the PCI state around it). Bus lock held, like config_write. */
    void (*flr)(struct pci_device *dev);
};

struct pci_device {
    struct pci_config config;
    struct pci_bar bars[PCI_NUM_BARS];
    const struct pci_device_ops *ops;
    const char *name;              /* for logs */
    struct msix *msix;             /* set by msix_init, NULL without MSI-X */
    struct pci_sriov *sriov;       /* set by pci_sriov_init on a PF, else NULL */
    /* Memory Space Enable as decoded: Command bit 1 for a normal function. */
    bool mem_enable;
    /* SR-IOV VF (PCIe §9.3.4): BAR registers read as zero and Command.MSE is ignored;
     * the PF sets bars[].addr (pci_device_set_bar_addr) and mem_enable from its VF BARs
     * and VF MSE. Built by pci_device_init_vf; put on the bus by the PF
     * (pci_sriov_add_vf_locked). */
    bool is_vf;
    /* Set by the bus while the function is on it. */
    struct pci_bus *bus;
    uint8_t devfn;
    struct log_ratelimit log_rl;   /* this function's guest-triggered messages */
};

/* Type 0 header from ids plus a PCI Express capability (Root Complex Integrated
 * Endpoint, see pci_config_add_pcie_cap). ops may be NULL. Returns 0, or -1 with the
 * reason in err (docs/architecture.md, "Errors"); runs at VF Enable too, so it never
 * ends the process. */
int pci_device_init(struct pci_device *dev, const char *name, const struct pci_ids *ids,
                    const struct pci_device_ops *ops, char *err, size_t errlen);

/* The same for an SR-IOV VF (PCIe §9.3.4.1): is_vf set, Vendor and Device ID read
 * 0xFFFF (software takes them from the PF), Command.MSE and INTx Disable read-only zero.
 * Declare its BARs afterwards (registers stay zero). */
int pci_device_init_vf(struct pci_device *dev, const char *name, const struct pci_ids *ids,
                       const struct pci_device_ops *ops, char *err, size_t errlen);

/* Declares BAR `bar` (0..5; 0..4 for MEM64): size a power of two >= 4 KiB, prefetchable
 * only sensible for MEM64. Sets the BAR registers' read-only type bits and writable
 * address bits. Returns 0, or -1 for an invalid declaration. Before pci_bus_add. */
int pci_device_set_bar(struct pci_device *dev, unsigned bar, enum pci_bar_type type,
                       bool prefetchable, uint64_t size);

/* The BAR declaration and decoding behind pci_device_set_bar, for any array of BAR
 * registers at reg0 (a function's BAR0, an SR-IOV capability's VF BAR0): validates, fills
 * bars[bar] (and bars[bar + 1] for MEM64), and unless cfg is NULL writes the read-only
 * type bits and the writable address mask. Returns 0 or -1. */
int pci_bar_declare(struct pci_bar bars[PCI_NUM_BARS], struct pci_config *cfg, unsigned reg0,
                    unsigned bar, enum pci_bar_type type, bool prefetchable, uint64_t size);
/* The address in the registers of BAR `bar` (a MEM32 or MEM64 entry of bars). */
uint64_t pci_bar_read_addr(const struct pci_bar bars[PCI_NUM_BARS], const struct pci_config *cfg,
                           unsigned reg0, unsigned bar);

/* Programs the BAR address (as firmware would) and updates bars[bar].addr. */
void pci_device_set_bar_addr(struct pci_device *dev, unsigned bar, uint64_t addr);

/* Guest config access to this function (called by the bus with its lock held). A write
 * is applied through the masks, then BAR addresses, mem_enable and MSI-X state are
 * re-derived, then ops->config_write runs. Invalid accesses read all ones / are dropped. */
uint32_t pci_device_config_read(struct pci_device *dev, unsigned off, unsigned len);
void pci_device_config_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);

/* Function Level Reset (PCIe §6.6.2), offered only by functions that call
 * pci_device_offer_flr (before pci_bus_add; needs ops->flr). A guest write of Initiate
 * FLR runs pci_device_flr: ops->flr, then Command, Status, Device Control/Status and
 * MSI-X (disabled, every vector masked, nothing pending) back to their reset values.
 * Memory BARs keep their addresses (vpf assigns them as firmware would; Linux restores
 * its saved config after an FLR anyway). */
int pci_device_offer_flr(struct pci_device *dev);
void pci_device_flr(struct pci_device *dev);

/* BAR index whose region contains [addr, addr+len), with *off set to the offset in it;
 * -1 if none or the function does not decode memory (mem_enable clear). */
int pci_device_bar_find(const struct pci_device *dev, uint64_t addr, unsigned len, uint64_t *off);

/* MMIO to BAR `bar` at off: MSI-X table/PBA first, then ops. */
void pci_device_bar_read(struct pci_device *dev, unsigned bar, uint64_t off, void *data,
                         unsigned len);
void pci_device_bar_write(struct pci_device *dev, unsigned bar, uint64_t off, const void *data,
                          unsigned len);

#endif
