#include "pci/bus.h"

#include <string.h>

#include "base/log.h"
#include "base/util.h"

#define ECAM_BUS_SIZE (1ULL << 20)   /* PCIe §7.2.2: 32 devices x 8 functions x 4 KiB */

static bool window_ok(uint64_t base, uint64_t size)
{
    return size >= PCI_BAR_MIN_SIZE && base % PCI_BAR_MIN_SIZE == 0 && base + size > base;
}

int pci_bus_init(struct pci_bus *bus, uint64_t mmio32_base, uint64_t mmio32_size,
                 uint64_t mmio64_base, uint64_t mmio64_size, uint64_t ecam_size)
{
    if (!window_ok(mmio32_base, mmio32_size) || mmio32_base + mmio32_size > 4 * GiB ||
        !window_ok(mmio64_base, mmio64_size) || ecam_size == 0 || ecam_size % ECAM_BUS_SIZE ||
        ecam_size > 256 * ECAM_BUS_SIZE)
        return -1;
    memset(bus, 0, sizeof(*bus));
    pthread_mutex_init(&bus->lock, NULL);
    bus->mmio32 = (struct pci_window){ mmio32_base, mmio32_size, mmio32_base };
    bus->mmio64 = (struct pci_window){ mmio64_base, mmio64_size, mmio64_base };
    bus->ecam_size = ecam_size;

    /* Linux's conf1 sanity check (arch/x86/pci/direct.c) looks for a host bridge or a
     * display controller on bus 0; this one has no BARs and no capabilities. */
    static const struct pci_ids hb = {
        .vendor = 0x1b36,
        .device = 0x0008,          /* Red Hat, QEMU PCIe host bridge */
        .subsys_vendor = 0x1af4,
        .subsys_id = 0x1100,
        .class_code = 0x060000,                   /* bridge, host bridge */
    };
    struct pci_device *h = &bus->host_bridge;
    pci_config_init(&h->config, &hb);
    h->name = "host-bridge";
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        h->bars[i].addr = PCI_BAR_UNMAPPED;
    h->bus = bus;
    h->devfn = 0;
    bus->funcs[0] = h;
    return 0;
}

void pci_bus_destroy(struct pci_bus *bus) { pthread_mutex_destroy(&bus->lock); }

uint64_t pci_bus_alloc_mmio(struct pci_bus *bus, uint64_t size, bool is64)
{
    struct pci_window *w = is64 ? &bus->mmio64 : &bus->mmio32;
    if (!IS_POW2(size))
        return PCI_BAR_UNMAPPED;
    uint64_t addr = ALIGN_UP(w->next, size);
    if (addr < w->next || addr < w->base || !range_within(addr - w->base, size, w->size))
        return PCI_BAR_UNMAPPED;
    w->next = addr + size;
    return addr;
}

/* PCI 3.0 §6.2.1: a multi-function device says so in function 0's Header Type, or the
 * OS scans function 0 only. VFs are not scanned (the PF announces them), so skip them. */
static void bus_update_multifunction(struct pci_bus *bus, uint8_t devfn)
{
    struct pci_device *f0 = bus->funcs[devfn & ~7];
    if (!f0 || f0 == &bus->host_bridge)
        return;
    bool multi = false;
    for (unsigned fn = 1; fn < 8; fn++) {
        struct pci_device *d = bus->funcs[(devfn & ~7) | fn];
        multi |= d && !d->is_vf;
    }
    uint8_t ht = pci_config_get8(&f0->config, PCI_HEADER_TYPE);
    ht = multi ? (ht | 0x80) : (ht & 0x7f);   /* bit 7: multi-function */
    pci_config_set8(&f0->config, PCI_HEADER_TYPE, ht);
}

static int bus_insert(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn)
{
    if (bus->funcs[devfn] || dev->bus)
        return -1;
    bus->funcs[devfn] = dev;
    dev->bus = bus;
    dev->devfn = devfn;
    bus_update_multifunction(bus, devfn);
    return 0;
}

int pci_bus_add_noassign_locked(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn)
{
    return bus_insert(bus, dev, devfn);
}

int pci_bus_add_locked(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn)
{
    if (bus->funcs[devfn] || dev->bus)
        return -1;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
            continue;
        uint64_t addr = pci_bus_alloc_mmio(bus, b->size, b->type == PCI_BAR_MEM64);
        if (addr == PCI_BAR_UNMAPPED) {
            log_error("pci: %s: no room for BAR %u (%#llx bytes)", dev->name, i,
                      (unsigned long long)b->size);
            return -1;
        }
        pci_device_set_bar_addr(dev, i, addr);
        log_debug("pci: %s BAR %u at %#llx", dev->name, i, (unsigned long long)addr);
    }
    return bus_insert(bus, dev, devfn);
}

int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn)
{
    pthread_mutex_lock(&bus->lock);
    int ret = pci_bus_add_locked(bus, dev, devfn);
    pthread_mutex_unlock(&bus->lock);
    return ret;
}

void pci_bus_remove_locked(struct pci_bus *bus, struct pci_device *dev)
{
    if (dev->bus != bus || bus->funcs[dev->devfn] != dev || dev == &bus->host_bridge)
        return;
    bus->funcs[dev->devfn] = NULL;
    dev->bus = NULL;
    bus_update_multifunction(bus, dev->devfn);
}

void pci_bus_remove(struct pci_bus *bus, struct pci_device *dev)
{
    pthread_mutex_lock(&bus->lock);
    pci_bus_remove_locked(bus, dev);
    pthread_mutex_unlock(&bus->lock);
}

/* Config access to 00:devfn register reg; absent functions read all ones (PCI 3.0
 * §6.1: master abort) and ignore writes. Lock held. */
static uint32_t bus_config_read(struct pci_bus *bus, unsigned busnr, unsigned devfn, unsigned reg,
                                unsigned len)
{
    struct pci_device *dev = busnr == 0 ? bus->funcs[devfn & 0xff] : NULL;
    if (!dev)
        return 0xffffffffu;
    return pci_device_config_read(dev, reg, len);
}

static void bus_config_write(struct pci_bus *bus, unsigned busnr, unsigned devfn, unsigned reg,
                             unsigned len, uint32_t val)
{
    struct pci_device *dev = busnr == 0 ? bus->funcs[devfn & 0xff] : NULL;
    if (dev)
        pci_device_config_write(dev, reg, len, val);
}

/* conf1 (PCI 3.0 §3.2.2.3.2): CONFIG_ADDRESS at 0xcf8 (dword accesses only), bit 31
 * enable, 23:16 bus, 15:8 devfn, 7:2 register; CONFIG_DATA at 0xcfc..0xcff. */
#define CF8_ENABLE 0x80000000u
#define CF8_MASK   0x80fffffcu

void pci_bus_cf8_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    uint32_t v = 0xffffffffu;
    pthread_mutex_lock(&bus->lock);
    if (off == 0 && len == 4) {
        v = bus->cf8;
    } else if (off >= 4 && off < 8 && len <= 8 - off && (bus->cf8 & CF8_ENABLE)) {
        unsigned reg = (bus->cf8 & 0xfc) + (unsigned)(off - 4);
        v = bus_config_read(bus, (bus->cf8 >> 16) & 0xff, (bus->cf8 >> 8) & 0xff, reg, len);
    }
    pthread_mutex_unlock(&bus->lock);
    memset(data, 0xff, len);
    st_sized(data, len < 4 ? len : 4, v);
}

void pci_bus_cf8_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    uint32_t v = (uint32_t)ld_sized(data, len < 4 ? len : 4);
    pthread_mutex_lock(&bus->lock);
    if (off == 0 && len == 4)
        bus->cf8 = v & CF8_MASK;
    else if (off >= 4 && off < 8 && len <= 8 - off && (bus->cf8 & CF8_ENABLE))
        bus_config_write(bus, (bus->cf8 >> 16) & 0xff, (bus->cf8 >> 8) & 0xff,
                         (bus->cf8 & 0xfc) + (unsigned)(off - 4), len, v);
    pthread_mutex_unlock(&bus->lock);
}

/* ECAM (PCIe §7.2.2, Table 7-1): offset bits 27:20 bus, 19:15 device, 14:12 function,
 * 11:0 register. 8-byte accesses are not config accesses Linux makes: all ones. */
void pci_bus_ecam_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    uint32_t v = 0xffffffffu;
    if (off < bus->ecam_size && len <= 4) {
        pthread_mutex_lock(&bus->lock);
        v = bus_config_read(bus, (unsigned)(off >> 20), (unsigned)(off >> 12) & 0xff,
                            (unsigned)off & 0xfff, len);
        pthread_mutex_unlock(&bus->lock);
    }
    memset(data, 0xff, len);
    st_sized(data, len < 4 ? len : 4, v);
}

void pci_bus_ecam_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    if (off >= bus->ecam_size || len > 4)
        return;
    uint32_t v = (uint32_t)ld_sized(data, len);
    pthread_mutex_lock(&bus->lock);
    bus_config_write(bus, (unsigned)(off >> 20), (unsigned)(off >> 12) & 0xff,
                     (unsigned)off & 0xfff, len, v);
    pthread_mutex_unlock(&bus->lock);
}

/* Lock held. The function whose enabled BAR contains [addr, addr+len), or NULL. */
static struct pci_device *bus_find_bar(struct pci_bus *bus, uint64_t addr, unsigned len,
                                       unsigned *bar, uint64_t *off)
{
    for (unsigned i = 0; i < PCI_BUS_MAX_FUNCS; i++) {
        struct pci_device *dev = bus->funcs[i];
        if (!dev)
            continue;
        int b = pci_device_bar_find(dev, addr, len, off);
        if (b >= 0) {
            *bar = (unsigned)b;
            return dev;
        }
    }
    return NULL;
}

static void bus_mmio_read(struct pci_bus *bus, uint64_t addr, void *data, unsigned len)
{
    unsigned bar;
    uint64_t off;
    pthread_mutex_lock(&bus->lock);
    struct pci_device *dev = bus_find_bar(bus, addr, len, &bar, &off);
    if (dev)
        pci_device_bar_read(dev, bar, off, data, len);
    else
        memset(data, 0xff, len);
    pthread_mutex_unlock(&bus->lock);
    if (!dev)
        log_debug_rl(&bus->log_rl, "pci: unclaimed MMIO read %#llx/%u", (unsigned long long)addr,
                     len);
}

static void bus_mmio_write(struct pci_bus *bus, uint64_t addr, const void *data, unsigned len)
{
    unsigned bar;
    uint64_t off;
    pthread_mutex_lock(&bus->lock);
    struct pci_device *dev = bus_find_bar(bus, addr, len, &bar, &off);
    if (dev)
        pci_device_bar_write(dev, bar, off, data, len);
    pthread_mutex_unlock(&bus->lock);
    if (!dev)
        log_debug_rl(&bus->log_rl, "pci: unclaimed MMIO write %#llx/%u", (unsigned long long)addr,
                     len);
}

void pci_bus_mmio32_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    bus_mmio_read(bus, bus->mmio32.base + off, data, len);
}

void pci_bus_mmio32_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    bus_mmio_write(bus, bus->mmio32.base + off, data, len);
}

void pci_bus_mmio64_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    bus_mmio_read(bus, bus->mmio64.base + off, data, len);
}

void pci_bus_mmio64_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct pci_bus *bus = opaque;
    bus_mmio_write(bus, bus->mmio64.base + off, data, len);
}
