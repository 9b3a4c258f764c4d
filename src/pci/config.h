/* The configuration space of one PCI function: 4 KiB (PCI Express extended config space,
 * PCIe Base 6.0 §7.2.2), with a per-byte mask of guest-writable bits and a per-byte mask
 * of write-1-to-clear bits. Every bit in neither mask is read-only to the guest; vpf sets
 * all fields at init through the pci_config_set* helpers, which ignore the masks.
 *
 * Register offsets and bits are those of <linux/pci_regs.h> (UAPI, same names as the spec).
 * Everything here is plain data: no locking (the bus lock covers it), no KVM. */
#ifndef VPF_PCI_CONFIG_H
#define VPF_PCI_CONFIG_H

#include <linux/pci_regs.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_CONFIG_SIZE        4096   /* PCI_CFG_SPACE_EXP_SIZE */
#define PCI_CONFIG_LEGACY_SIZE 256    /* reachable through conf1 (CF8/CFC) */

struct pci_config {
    uint8_t data[PCI_CONFIG_SIZE];
    uint8_t wmask[PCI_CONFIG_SIZE];    /* 1: the guest may write this bit */
    uint8_t w1cmask[PCI_CONFIG_SIZE];  /* 1: the guest clears this bit by writing 1 */
    /* Bump allocators and list tails for capabilities (0 = list empty). */
    uint16_t cap_next, cap_last;       /* standard list in [0x40, 0x100) */
    uint16_t ecap_next, ecap_last;     /* extended list in [0x100, 0x1000) */
};

/* Identity of a function (type 0 header). class_code is base << 16 | sub << 8 | prog-if. */
struct pci_ids {
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_id;
    uint32_t class_code;
    uint8_t revision;
};

/* Clears the space and writes a type 0 header: IDs and class read-only; command bits
 * Memory Space, Bus Master, Parity/SERR enables and INTx Disable writable (no I/O BARs,
 * so I/O Space stays 0); status error bits W1C; Cache Line Size and Interrupt Line
 * writable; Interrupt Pin 0 (vpf functions use MSI-X only); no ROM (PCI 3.0 §6.2.5.2). */
void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids);

/* True if off/len is a valid guest access: len 1, 2 or 4, naturally aligned, inside the
 * 4 KiB space. */
bool pci_config_access_ok(unsigned off, unsigned len);

/* Guest view. An invalid access reads as all ones (of len bytes, or 0xffffffff) and is
 * otherwise ignored; pci_config_write returns -1 for it, 0 when applied. A write keeps
 * read-only bits, sets writable bits from val and clears W1C bits written as 1. */
uint32_t pci_config_read(const struct pci_config *cfg, unsigned off, unsigned len);
int pci_config_write(struct pci_config *cfg, unsigned off, unsigned len, uint32_t val);

/* vpf's own view (setup, device models): raw access ignoring masks. Out-of-range
 * offsets are a programming error and abort. */
uint8_t pci_config_get8(const struct pci_config *cfg, unsigned off);
uint16_t pci_config_get16(const struct pci_config *cfg, unsigned off);
uint32_t pci_config_get32(const struct pci_config *cfg, unsigned off);
void pci_config_set8(struct pci_config *cfg, unsigned off, uint8_t val);
void pci_config_set16(struct pci_config *cfg, unsigned off, uint16_t val);
void pci_config_set32(struct pci_config *cfg, unsigned off, uint32_t val);
/* Masks of len (1, 2, 4) bytes at off; bits set in a write mask are cleared from the
 * other one, so a bit is RO, RW or W1C, never two at once. */
void pci_config_set_wmask(struct pci_config *cfg, unsigned off, unsigned len, uint32_t mask);
void pci_config_set_w1cmask(struct pci_config *cfg, unsigned off, unsigned len, uint32_t mask);

/* Appends a capability of size bytes (>= 2, header included) to the standard list
 * (PCI 3.0 §6.7): writes ID and next pointer, sets Status.Capabilities List, links the
 * previous tail. Returns its offset (dword aligned, >= 0x40) or -1 if it does not fit. */
int pci_config_add_cap(struct pci_config *cfg, uint8_t id, unsigned size);
/* Appends an extended capability (PCIe §7.6.3: ID 15:0, version 19:16, next 31:20) of
 * size bytes (>= 4) from 0x100. Returns its offset or -1. The dword at 0x100 stays 0
 * while the list is empty, which Linux reads as "no extended capabilities". */
int pci_config_add_ecap(struct pci_config *cfg, uint16_t id, uint8_t version, unsigned size);

/* Walk the lists as a guest would, bounded against loops. Return the offset of the
 * first capability with this ID, or -1. */
int pci_config_find_cap(const struct pci_config *cfg, uint8_t id);
int pci_config_find_ecap(const struct pci_config *cfg, uint16_t id);

/* Adds a PCI Express Capability v2 (ID 0x10, PCIe §7.5.3) of the given Device/Port Type:
 * PCI_EXP_TYPE_RC_END (Root Complex Integrated Endpoint, what a function on the root bus
 * is; QEMU does the same) or PCI_EXP_TYPE_ENDPOINT. Linux accepts both for SR-IOV
 * (drivers/pci/iov.c sriov_init) and reads extended config space of any PCIe function
 * (probe.c pci_cfg_space_size). Link registers are filled (x1, 2.5 GT/s) only for
 * PCI_EXP_TYPE_ENDPOINT; an RCiEP has no link. Max payload 128 B, no FLR (see below), role-based
 * error reporting. Returns the capability offset or -1. */
int pci_config_add_pcie_cap(struct pci_config *cfg, unsigned port_type);
/* Function Level Reset (PCIe §6.6.2): advertises it in Device Capabilities (-1 without a
 * PCIe capability); tells whether a config write set Initiate Function Level Reset
 * (never stored: the bit reads 0, §7.5.3.4); puts Device Control/Status back to their
 * reset values. */
int pci_config_pcie_offer_flr(struct pci_config *cfg);
bool pci_config_pcie_flr_written(const struct pci_config *cfg, unsigned off, unsigned len,
                                 uint32_t val);
void pci_config_pcie_reset(struct pci_config *cfg);

#endif
