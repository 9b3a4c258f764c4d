/* The PCI Express root complex: bus 0 with a host bridge at 00:00.0, config access through
 * conf1 (ports 0xcf8..0xcff, PCI 3.0 §3.2.2.3.2) and ECAM (PCIe Base 6.0 §7.2.2) over the
 * same per-function config model, BAR assignment inside the two MMIO windows (vpf is the
 * firmware), and MMIO dispatch inside those windows to the function whose BAR claims the
 * address.
 *
 * Locking: one mutex per bus, taken by every entry point below (config accesses and BAR
 * MMIO dispatch alike), so device callbacks (pci_device_ops) always run with it held and
 * config state never changes under a running BAR access. A config-write hook may add or
 * remove functions (SR-IOV VF enable) through the *_locked calls, which expect the lock
 * held. msix_signal never takes it (I/O threads stay lock-free).
 *
 * Wiring (VM code): register on the PIO bus  [0xcf8, +8)  pci_bus_cf8_read/write,
 *                   on the MMIO bus [ecam_base, +ecam_size)  pci_bus_ecam_read/write,
 *                   [mmio32_base, +mmio32_size)  pci_bus_mmio32_read/write,
 *                   [mmio64_base, +mmio64_size)  pci_bus_mmio64_read/write,
 * each with the struct pci_bus * as opaque. BAR moves never touch the iobus. */
#ifndef VPF_PCI_BUS_H
#define VPF_PCI_BUS_H

#include <pthread.h>
#include <stdint.h>

#include "pci/device.h"
#include "base/log.h"

#define PCI_DEVFN(dev, fn) ((uint8_t)(((dev) << 3) | (fn)))
#define PCI_BUS_MAX_FUNCS  256

struct pci_window {
    uint64_t base, size;
    uint64_t next;         /* bump allocator for BAR assignment */
};

struct pci_bus {
    pthread_mutex_t lock;
    struct pci_device *funcs[PCI_BUS_MAX_FUNCS];   /* by devfn; NULL = absent */
    struct pci_device host_bridge;
    uint32_t cf8;                                  /* conf1 CONFIG_ADDRESS */
    struct pci_window mmio32, mmio64;
    uint64_t ecam_size;                            /* buses 0..ecam_size/1MiB-1 decoded */
    struct log_ratelimit log_rl;                   /* unclaimed accesses (guest-triggered) */
};

/* Sets up bus 0 with the host bridge (Red Hat 1b36:0008 "QEMU PCIe host bridge", class
 * 0x0600) at 00:00.0. Windows: the 32-bit and 64-bit MMIO apertures (as in the DSDT's
 * _CRS) and the ECAM size. Returns 0 or -1 on invalid windows. */
int pci_bus_init(struct pci_bus *bus, uint64_t mmio32_base, uint64_t mmio32_size,
                 uint64_t mmio64_base, uint64_t mmio64_size, uint64_t ecam_size);
void pci_bus_destroy(struct pci_bus *bus);

/* Puts dev at devfn on bus 0 and assigns each BAR a naturally aligned address: MEM32 in
 * the 32-bit window, MEM64 in the 64-bit window. Sets the multi-function bit of
 * function 0 in the slot when a non-VF function > 0 joins. Does not enable memory
 * decoding (the guest does). Returns 0, or -1 if devfn is taken or a window is full. */
int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn);
int pci_bus_add_locked(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn);
/* Same, but BAR addresses are left as they are (VFs: set by the PF). */
int pci_bus_add_noassign_locked(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn);
/* Takes dev off the bus; the caller frees it afterwards (no access can be in flight:
 * all of them hold the lock). */
void pci_bus_remove(struct pci_bus *bus, struct pci_device *dev);
void pci_bus_remove_locked(struct pci_bus *bus, struct pci_device *dev);

/* Allocates a naturally aligned region of size (power of two) in the 32-bit (is64 false)
 * or 64-bit window, e.g. for an SR-IOV PF's VF BARs. Returns the address or
 * PCI_BAR_UNMAPPED if the window is full. Caller holds the lock or is in setup. */
uint64_t pci_bus_alloc_mmio(struct pci_bus *bus, uint64_t size, bool is64);

/* iobus entry points (iobus_read_fn / iobus_write_fn), opaque = struct pci_bus *. */
void pci_bus_cf8_read(void *opaque, uint64_t off, void *data, unsigned len);
void pci_bus_cf8_write(void *opaque, uint64_t off, const void *data, unsigned len);
void pci_bus_ecam_read(void *opaque, uint64_t off, void *data, unsigned len);
void pci_bus_ecam_write(void *opaque, uint64_t off, const void *data, unsigned len);
void pci_bus_mmio32_read(void *opaque, uint64_t off, void *data, unsigned len);
void pci_bus_mmio32_write(void *opaque, uint64_t off, const void *data, unsigned len);
void pci_bus_mmio64_read(void *opaque, uint64_t off, void *data, unsigned len);
void pci_bus_mmio64_write(void *opaque, uint64_t off, const void *data, unsigned len);

#endif
