#include "pci/config.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

/* Raw accessors are for vpf's own code: a bad offset is a bug, not guest input. */
static void config_check(unsigned off, unsigned len)
{
    if (off > PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - off) {
        log_error("pci: config offset %#x+%u out of range", off, len);
        abort();
    }
}

static uint32_t bytes_get(const uint8_t *p, unsigned off, unsigned len)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint32_t)p[off + i] << (8 * i);
    return v;
}

static void bytes_set(uint8_t *p, unsigned off, unsigned len, uint32_t v)
{
    for (unsigned i = 0; i < len; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

uint8_t pci_config_get8(const struct pci_config *cfg, unsigned off)
{
    config_check(off, 1);
    return cfg->data[off];
}

uint16_t pci_config_get16(const struct pci_config *cfg, unsigned off)
{
    config_check(off, 2);
    return (uint16_t)bytes_get(cfg->data, off, 2);
}

uint32_t pci_config_get32(const struct pci_config *cfg, unsigned off)
{
    config_check(off, 4);
    return bytes_get(cfg->data, off, 4);
}

void pci_config_set8(struct pci_config *cfg, unsigned off, uint8_t val)
{
    config_check(off, 1);
    cfg->data[off] = val;
}

void pci_config_set16(struct pci_config *cfg, unsigned off, uint16_t val)
{
    config_check(off, 2);
    bytes_set(cfg->data, off, 2, val);
}

void pci_config_set32(struct pci_config *cfg, unsigned off, uint32_t val)
{
    config_check(off, 4);
    bytes_set(cfg->data, off, 4, val);
}

void pci_config_set_wmask(struct pci_config *cfg, unsigned off, unsigned len, uint32_t mask)
{
    config_check(off, len);
    bytes_set(cfg->wmask, off, len, mask);
    for (unsigned i = 0; i < len; i++)
        cfg->w1cmask[off + i] &= (uint8_t)~(mask >> (8 * i));
}

void pci_config_set_w1cmask(struct pci_config *cfg, unsigned off, unsigned len, uint32_t mask)
{
    config_check(off, len);
    bytes_set(cfg->w1cmask, off, len, mask);
    for (unsigned i = 0; i < len; i++)
        cfg->wmask[off + i] &= (uint8_t)~(mask >> (8 * i));
}

bool pci_config_access_ok(unsigned off, unsigned len)
{
    if (len != 1 && len != 2 && len != 4)
        return false;
    return (off & (len - 1)) == 0 && off < PCI_CONFIG_SIZE;
}

uint32_t pci_config_read(const struct pci_config *cfg, unsigned off, unsigned len)
{
    if (!pci_config_access_ok(off, len))
        return len == 1 ? 0xff : len == 2 ? 0xffff : 0xffffffffu;
    return bytes_get(cfg->data, off, len);
}

int pci_config_write(struct pci_config *cfg, unsigned off, unsigned len, uint32_t val)
{
    if (!pci_config_access_ok(off, len))
        return -1;
    for (unsigned i = 0; i < len; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t w = cfg->wmask[off + i], c = cfg->w1cmask[off + i];
        uint8_t d = cfg->data[off + i];
        d = (uint8_t)((d & ~w) | (b & w));
        d &= (uint8_t)~(b & c);
        cfg->data[off + i] = d;
    }
    return 0;
}

void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids)
{
    memset(cfg, 0, sizeof(*cfg));
    pci_config_set16(cfg, PCI_VENDOR_ID, ids->vendor);
    pci_config_set16(cfg, PCI_DEVICE_ID, ids->device);
    pci_config_set8(cfg, PCI_REVISION_ID, ids->revision);
    pci_config_set8(cfg, PCI_CLASS_PROG, (uint8_t)ids->class_code);
    pci_config_set16(cfg, PCI_CLASS_DEVICE, (uint16_t)(ids->class_code >> 8));
    pci_config_set8(cfg, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
    pci_config_set16(cfg, PCI_SUBSYSTEM_VENDOR_ID, ids->subsys_vendor);
    pci_config_set16(cfg, PCI_SUBSYSTEM_ID, ids->subsys_id);

    /* PCI 3.0 §6.2.2: no I/O BARs, so I/O Space stays hardwired 0. */
    pci_config_set_wmask(cfg, PCI_COMMAND, 2,
                         PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
                             PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    pci_config_set_w1cmask(cfg, PCI_STATUS, 2,
                           PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
                               PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
                               PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
    pci_config_set_wmask(cfg, PCI_CACHE_LINE_SIZE, 1, 0xff);
    pci_config_set_wmask(cfg, PCI_INTERRUPT_LINE, 1, 0xff);

    cfg->cap_next = PCI_STD_HEADER_SIZEOF;
    cfg->ecap_next = PCI_CFG_SPACE_SIZE;
}

int pci_config_add_cap(struct pci_config *cfg, uint8_t id, unsigned size)
{
    if (size < 2 || cfg->cap_next < PCI_STD_HEADER_SIZEOF ||
        size > PCI_CFG_SPACE_SIZE - (unsigned)cfg->cap_next)
        return -1;
    unsigned off = cfg->cap_next;
    cfg->data[off] = id;
    cfg->data[off + 1] = 0;
    if (cfg->cap_last)
        cfg->data[cfg->cap_last + 1] = (uint8_t)off;
    else
        cfg->data[PCI_CAPABILITY_LIST] = (uint8_t)off;
    cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    cfg->cap_last = (uint16_t)off;
    cfg->cap_next = (uint16_t)ALIGN_UP(off + size, 4);
    return (int)off;
}

int pci_config_add_ecap(struct pci_config *cfg, uint16_t id, uint8_t version, unsigned size)
{
    if (size < 4 || cfg->ecap_next < PCI_CFG_SPACE_SIZE ||
        size > PCI_CONFIG_SIZE - (unsigned)cfg->ecap_next)
        return -1;
    unsigned off = cfg->ecap_next;
    pci_config_set32(cfg, off, (uint32_t)id | (uint32_t)(version & 0xf) << 16);
    if (cfg->ecap_last) {
        uint32_t hdr = pci_config_get32(cfg, cfg->ecap_last);
        pci_config_set32(cfg, cfg->ecap_last, (hdr & 0xfffff) | (uint32_t)off << 20);
    }
    cfg->ecap_last = (uint16_t)off;
    cfg->ecap_next = (uint16_t)ALIGN_UP(off + size, 4);
    return (int)off;
}

int pci_config_find_cap(const struct pci_config *cfg, uint8_t id)
{
    if (!(cfg->data[PCI_STATUS] & PCI_STATUS_CAP_LIST))
        return -1;
    unsigned off = cfg->data[PCI_CAPABILITY_LIST] & ~3u;
    /* At most 48 capabilities fit in [0x40, 0x100): a longer walk is a loop. */
    for (unsigned n = 0; n < 48 && off >= PCI_STD_HEADER_SIZEOF; n++) {
        if (cfg->data[off] == id)
            return (int)off;
        off = cfg->data[off + 1] & ~3u;
    }
    return -1;
}

int pci_config_find_ecap(const struct pci_config *cfg, uint16_t id)
{
    unsigned off = PCI_CFG_SPACE_SIZE;
    /* PCIe §7.6.3: at most (4096 - 256) / 8 headers of 8 bytes minimum fit. */
    for (unsigned n = 0; n < (PCI_CONFIG_SIZE - PCI_CFG_SPACE_SIZE) / 8; n++) {
        uint32_t hdr = pci_config_get32(cfg, off);
        if (hdr == 0)
            return -1;
        if ((hdr & 0xffff) == id)
            return (int)off;
        off = (hdr >> 20) & ~3u;
        if (off < PCI_CFG_SPACE_SIZE)
            return -1;
    }
    return -1;
}
