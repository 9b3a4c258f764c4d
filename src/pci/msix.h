/* MSI-X (PCIe Base 6.0 §6.1.4, §7.7.2): the capability in config space, the vector table
 * and the Pending Bit Array inside one BAR of the function.
 *
 * Delivery: each vector gets a route from the msi_router (a KVM GSI route + irqfd) the
 * first time it becomes deliverable (MSI-X Enable set, Function Mask clear, vector
 * unmasked); later table changes re-target it with route_update. Routes are never
 * removed before msix_destroy, so an eventfd that an I/O thread (or vhost) signals stays
 * valid for the device's lifetime.
 *
 * Direct delivery: while a vector is deliverable its route's eventfd (an irqfd) may be
 * handed to a backend that signals it itself (vhost's call fd), with no vpf thread in
 * between. msix_vector_irqfd() says which fd that is now; the change hook tells the
 * owner when the answer may have changed (Mask Bit, Enable, Function Mask, a new route,
 * reset), so the owner can switch the backend back to its own eventfd while the vector
 * is masked: masking stays exact (PCIe 6.0 §6.1.4.2), the pending bit is set by
 * msix_signal() as for any other interrupt.
 *
 * Threads: table/capability accesses come from vCPUs with the bus lock held; the change
 * hook runs there too, after the change is visible to msix_signal().
 * msix_signal may run on any thread at the same time: it only reads atomics and writes
 * the eventfd, or sets the vector's pending bit; the unmask path re-checks pending bits
 * after unmasking, so no interrupt is lost and none is sent twice for one pending bit. */
#ifndef VPF_PCI_MSIX_H
#define VPF_PCI_MSIX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/msi.h"
#include "base/log.h"

struct pci_device;

#define MSIX_MAX_VECTORS   2048   /* Table Size field is 11 bits */
#define MSIX_ENTRY_SIZE    16

struct msix_vector {
    uint32_t addr_lo, addr_hi, data, ctrl;   /* table entry as written by the guest */
    int route;                               /* router handle, -1 none yet */
    bool route_stale;                        /* table changed since route_add/update */
    _Atomic int fd;                          /* eventfd of the route, -1 none */
    _Atomic bool masked;                     /* mirror of ctrl bit 0 */
};

struct msix {
    struct pci_device *dev;
    struct msi_router *router;
    unsigned nvec;
    unsigned cap;                            /* config offset of the capability */
    unsigned bar;                            /* table and PBA live in this BAR */
    uint64_t table_off, pba_off;
    struct msix_vector *vec;
    _Atomic uint64_t *pba;                   /* (nvec + 63) / 64 words */
    _Atomic bool active;                     /* Enable && !Function Mask */
    void (*on_change)(void *opaque);         /* msix_set_change_hook */
    void *change_opaque;
    struct log_ratelimit log_rl;             /* guest-triggered messages */
};

/* Adds the MSI-X capability to dev's config space and sets dev->msix. The table
 * (nvec * 16 bytes) at table_off and the PBA (8 bytes per 64 vectors) at pba_off must lie
 * inside BAR `bar` (declared before) and not overlap; offsets 8-byte aligned (the BIR
 * field keeps 3 bits). All vectors start masked (§7.7.2.4). Returns 0 or -1. */
int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec, unsigned bar,
              uint64_t table_off, uint64_t pba_off, struct msi_router *router);
/* Removes all routes and frees the table. No msix_signal may run any more. */
void msix_destroy(struct msix *m);

/* Raises vector `vector`: injected now if deliverable, otherwise its pending bit is set
 * and it fires when it becomes deliverable. Out-of-range vectors are ignored. Any thread. */
void msix_signal(struct msix *m, unsigned vector);

/* Table/PBA MMIO at offset off inside BAR `bar`. Return false if the access is not in
 * the table or PBA (the device handles it), true when consumed. Accesses must be
 * naturally aligned dwords or qwords (§6.1.4.2); others read all ones / are dropped.
 * PBA writes are ignored (read-only). */
bool msix_mmio_read(struct msix *m, unsigned bar, uint64_t off, void *data, unsigned len);
bool msix_mmio_write(struct msix *m, unsigned bar, uint64_t off, const void *data, unsigned len);

/* Re-reads Enable / Function Mask from config space after a guest config write (called by
 * pci_device_config_write) and fires pending vectors that became deliverable. */
void msix_config_update(struct msix *m);

/* Device or function reset: Enable and Function Mask cleared, all vectors masked, table
 * entries and pending bits cleared (routes kept). */
void msix_reset(struct msix *m);

/* True if vector would be injected now (tests, vhost call-fd decisions). */
bool msix_vector_deliverable(struct msix *m, unsigned vector);
/* The eventfd that injects vector now (its route's irqfd) if it is deliverable, else -1.
 * Valid until the change hook runs. Any thread. */
int msix_vector_irqfd(struct msix *m, unsigned vector);
/* fn(opaque) runs (vCPU thread, bus lock held) after any change that may change a
 * vector's msix_vector_irqfd() answer. One hook per function; NULL removes it. */
void msix_set_change_hook(struct msix *m, void (*fn)(void *opaque), void *opaque);
bool msix_vector_pending(struct msix *m, unsigned vector);

#endif
