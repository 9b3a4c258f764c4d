/* Test helper: config accesses to bus 0 through the root complex's ECAM entry points, as
 * the guest makes them (PCIe §7.2.2: devfn << 12 | register). Header-only. */
#ifndef VPF_TESTS_ECAM_H
#define VPF_TESTS_ECAM_H

#include "pci/bus.h"

static inline uint32_t ecam_rd(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len)
{
    uint32_t v = 0;
    pci_bus_ecam_read(bus, (uint64_t)devfn << 12 | reg, &v, len);
    return v;
}

static inline void ecam_wr(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len,
                           uint32_t v)
{
    pci_bus_ecam_write(bus, (uint64_t)devfn << 12 | reg, &v, len);
}

#endif
