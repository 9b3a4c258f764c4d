#include "pci/device.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "pci/msix.h"
#include "pci/sriov.h"

int pci_device_init(struct pci_device *dev, const char *name, const struct pci_ids *ids,
                    const struct pci_device_ops *ops, char *err, size_t errlen)
{
    memset(dev, 0, sizeof(*dev));
    pci_config_init(&dev->config, ids);
    /* A function on the root bus is a Root Complex Integrated Endpoint (PCIe §1.3.2.3). */
    if (pci_config_add_pcie_cap(&dev->config, PCI_EXP_TYPE_RC_END) < 0) {
        snprintf(err, errlen, "no room for the PCI Express capability");
        return -1;
    }
    dev->ops = ops;
    dev->name = name;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        dev->bars[i].addr = PCI_BAR_UNMAPPED;
    return 0;
}

int pci_device_init_vf(struct pci_device *dev, const char *name, const struct pci_ids *ids,
                       const struct pci_device_ops *ops, char *err, size_t errlen)
{
    if (pci_device_init(dev, name, ids, ops, err, errlen) < 0)
        return -1;
    dev->is_vf = true;
    pci_config_set16(&dev->config, PCI_VENDOR_ID, 0xffff);
    pci_config_set16(&dev->config, PCI_DEVICE_ID, 0xffff);
    pci_config_set_wmask(&dev->config, PCI_COMMAND, 2,
                         PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
    return 0;
}

static unsigned bar_reg(unsigned bar) { return PCI_BASE_ADDRESS_0 + 4 * bar; }

int pci_bar_declare(struct pci_bar bars[PCI_NUM_BARS], struct pci_config *cfg, unsigned reg0,
                    unsigned bar, enum pci_bar_type type, bool prefetchable, uint64_t size)
{
    if (bar >= PCI_NUM_BARS || bars[bar].type != PCI_BAR_NONE || !IS_POW2(size) ||
        size < PCI_BAR_MIN_SIZE)
        return -1;
    uint32_t flags = PCI_BASE_ADDRESS_SPACE_MEMORY;
    if (type == PCI_BAR_MEM32) {
        if (size > 2 * GiB)
            return -1;
        flags |= PCI_BASE_ADDRESS_MEM_TYPE_32;
    } else if (type == PCI_BAR_MEM64) {
        if (bar + 1 >= PCI_NUM_BARS || bars[bar + 1].type != PCI_BAR_NONE || size > (1ULL << 62))
            return -1;
        flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
    } else {
        return -1;
    }
    if (prefetchable)
        flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;

    bars[bar] = (struct pci_bar){ type, prefetchable, size, PCI_BAR_UNMAPPED };
    if (type == PCI_BAR_MEM64)
        bars[bar + 1] = (struct pci_bar){ PCI_BAR_UPPER, false, 0, PCI_BAR_UNMAPPED };
    if (!cfg)
        return 0;
    /* PCI 3.0 §6.2.5.1: address bits below the size read as zero, so writing all ones
     * and reading back yields the size; the type bits are read-only. */
    uint64_t addr_mask = ~(size - 1);
    unsigned reg = reg0 + 4 * bar;
    pci_config_set32(cfg, reg, flags);
    pci_config_set_wmask(cfg, reg, 4, (uint32_t)addr_mask & PCI_BASE_ADDRESS_MEM_MASK);
    if (type == PCI_BAR_MEM64)
        pci_config_set_wmask(cfg, reg + 4, 4, (uint32_t)(addr_mask >> 32));
    return 0;
}

uint64_t pci_bar_read_addr(const struct pci_bar bars[PCI_NUM_BARS], const struct pci_config *cfg,
                           unsigned reg0, unsigned bar)
{
    unsigned reg = reg0 + 4 * bar;
    uint64_t addr = pci_config_get32(cfg, reg) & PCI_BASE_ADDRESS_MEM_MASK;
    if (bars[bar].type == PCI_BAR_MEM64)
        addr |= (uint64_t)pci_config_get32(cfg, reg + 4) << 32;
    return addr;
}

int pci_device_set_bar(struct pci_device *dev, unsigned bar, enum pci_bar_type type,
                       bool prefetchable, uint64_t size)
{
    /* SR-IOV VFs: BAR registers are RO zero (PCIe §9.3.4.1.11); the PF places them. */
    return pci_bar_declare(dev->bars, dev->is_vf ? NULL : &dev->config, PCI_BASE_ADDRESS_0, bar,
                           type, prefetchable, size);
}

/* Re-derive a BAR's address from its registers. */
static void bar_decode(struct pci_device *dev, unsigned bar)
{
    struct pci_bar *b = &dev->bars[bar];
    if (b->type == PCI_BAR_MEM32 || b->type == PCI_BAR_MEM64)
        b->addr = pci_bar_read_addr(dev->bars, &dev->config, PCI_BASE_ADDRESS_0, bar);
}

void pci_device_set_bar_addr(struct pci_device *dev, unsigned bar, uint64_t addr)
{
    if (bar >= PCI_NUM_BARS)
        return;
    struct pci_bar *b = &dev->bars[bar];
    if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
        return;
    if (dev->is_vf) {
        b->addr = addr;
        return;
    }
    uint32_t lo = pci_config_get32(&dev->config, bar_reg(bar));
    lo = (lo & ~PCI_BASE_ADDRESS_MEM_MASK) | ((uint32_t)addr & PCI_BASE_ADDRESS_MEM_MASK);
    pci_config_set32(&dev->config, bar_reg(bar), lo);
    if (b->type == PCI_BAR_MEM64)
        pci_config_set32(&dev->config, bar_reg(bar + 1), (uint32_t)(addr >> 32));
    bar_decode(dev, bar);
}

uint32_t pci_device_config_read(struct pci_device *dev, unsigned off, unsigned len)
{
    return pci_config_read(&dev->config, off, len);
}

static bool overlaps(unsigned off, unsigned len, unsigned start, unsigned size)
{
    return off < start + size && start < off + len;
}

void pci_device_config_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
    if (pci_config_write(&dev->config, off, len, val) < 0) {
        log_debug_rl(&dev->log_rl, "pci: %s: dropped config write %#x/%u", dev->name, off, len);
        return;
    }
    if (!dev->is_vf) {
        if (overlaps(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
            for (unsigned i = 0; i < PCI_NUM_BARS; i++)
                bar_decode(dev, i);
        if (overlaps(off, len, PCI_COMMAND, 2))
            dev->mem_enable = pci_config_get16(&dev->config, PCI_COMMAND) & PCI_COMMAND_MEMORY;
    }
    if (dev->msix && overlaps(off, len, dev->msix->cap, PCI_CAP_MSIX_SIZEOF))
        msix_config_update(dev->msix);
    if (dev->sriov)
        pci_sriov_config_write(dev->sriov, off, len);
    if (dev->ops && dev->ops->config_write)
        dev->ops->config_write(dev, off, len, val);
    if (dev->ops && dev->ops->flr && pci_config_pcie_flr_written(&dev->config, off, len, val))
        pci_device_flr(dev);
}

int pci_device_offer_flr(struct pci_device *dev)
{
    if (!dev->ops || !dev->ops->flr)
        return -1;
    return pci_config_pcie_offer_flr(&dev->config);
}

void pci_device_flr(struct pci_device *dev)
{
    log_info_rl(&dev->log_rl, "pci: %s: function level reset", dev->name);
    dev->ops->flr(dev);
    struct pci_config *c = &dev->config;
    pci_config_set16(c, PCI_COMMAND, 0);
    /* Status: only the read-only Capabilities List bit survives (error bits are RW1C). */
    pci_config_set16(c, PCI_STATUS, pci_config_get16(c, PCI_STATUS) & PCI_STATUS_CAP_LIST);
    pci_config_pcie_reset(c);
    if (!dev->is_vf)
        dev->mem_enable = false;
    if (dev->msix)
        msix_reset(dev->msix);
}

int pci_device_bar_find(const struct pci_device *dev, uint64_t addr, unsigned len, uint64_t *off)
{
    if (!dev->mem_enable)
        return -1;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if ((b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64) || b->addr == PCI_BAR_UNMAPPED)
            continue;
        if (addr >= b->addr && range_within(addr - b->addr, len, b->size)) {
            *off = addr - b->addr;
            return (int)i;
        }
    }
    return -1;
}

void pci_device_bar_read(struct pci_device *dev, unsigned bar, uint64_t off, void *data,
                         unsigned len)
{
    if (dev->msix && msix_mmio_read(dev->msix, bar, off, data, len))
        return;
    if (dev->ops && dev->ops->bar_read)
        dev->ops->bar_read(dev, bar, off, data, len);
    else
        memset(data, 0, len);
}

void pci_device_bar_write(struct pci_device *dev, unsigned bar, uint64_t off, const void *data,
                          unsigned len)
{
    if (dev->msix && msix_mmio_write(dev->msix, bar, off, data, len))
        return;
    if (dev->ops && dev->ops->bar_write)
        dev->ops->bar_write(dev, bar, off, data, len);
}
