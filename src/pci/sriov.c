#include "pci/sriov.h"

#include "base/log.h"
#include "base/util.h"
#include "pci/bus.h"

#define PAGE_4K 4096u

static unsigned vf_bar_reg(const struct pci_sriov *s, unsigned bar)
{
    return s->cap + PCI_SRIOV_BAR + 4 * bar;
}

static bool is_mem_bar(const struct pci_bar *b)
{
    return b->type == PCI_BAR_MEM32 || b->type == PCI_BAR_MEM64;
}

int pci_sriov_init(struct pci_sriov *s, struct pci_device *pf, unsigned total_vfs,
                   uint16_t vf_device_id, const struct pci_sriov_ops *ops, void *opaque)
{
    if (total_vfs == 0 || total_vfs > PCI_SRIOV_MAX_VFS || pf->sriov ||
        pci_config_find_cap(&pf->config, PCI_CAP_ID_EXP) < 0)
        return -1;
    memset(s, 0, sizeof(*s));
    int cap = pci_config_add_ecap(&pf->config, PCI_EXT_CAP_ID_SRIOV, 1, PCI_EXT_CAP_SRIOV_SIZEOF);
    if (cap < 0)
        return -1;
    s->pf = pf;
    s->cap = (unsigned)cap;
    s->total_vfs = (uint16_t)total_vfs;
    s->ops = ops;
    s->opaque = opaque;
    s->sys_pgsize = 1;                         /* 4 KiB, the default (§9.3.3.13) */
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        s->vf_bars[i].addr = PCI_BAR_UNMAPPED;

    struct pci_config *c = &pf->config;
    unsigned b = s->cap;
    pci_config_set16(c, b + PCI_SRIOV_INITIAL_VF, s->total_vfs);
    pci_config_set16(c, b + PCI_SRIOV_TOTAL_VF, s->total_vfs);
    pci_config_set8(c, b + PCI_SRIOV_FUNC_LINK, pf->devfn & 7);   /* updated on bus add */
    pci_config_set16(c, b + PCI_SRIOV_VF_OFFSET, SRIOV_FIRST_VF_OFFSET);
    pci_config_set16(c, b + PCI_SRIOV_VF_STRIDE, SRIOV_VF_STRIDE);
    pci_config_set16(c, b + PCI_SRIOV_VF_DID, vf_device_id);
    pci_config_set32(c, b + PCI_SRIOV_SUP_PGSIZE, 1);             /* until VF BARs exist */
    pci_config_set32(c, b + PCI_SRIOV_SYS_PGSIZE, s->sys_pgsize);
    pci_config_set_wmask(c, b + PCI_SRIOV_CTRL, 2,
                         PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE | PCI_SRIOV_CTRL_ARI);
    pci_config_set_wmask(c, b + PCI_SRIOV_NUM_VF, 2, 0xffff);
    pci_config_set_wmask(c, b + PCI_SRIOV_SYS_PGSIZE, 4, 0xffffffff);
    pf->sriov = s;
    return 0;
}

/* Supported Page Sizes (§9.3.3.12: bit n = 2^(n+12) bytes): 4 KiB up to the smallest VF
 * BAR, so that any System Page Size software picks divides every VF BAR. */
static void update_sup_pgsize(struct pci_sriov *s)
{
    uint64_t smallest = UINT64_MAX;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        if (is_mem_bar(&s->vf_bars[i]) && s->vf_bars[i].size < smallest)
            smallest = s->vf_bars[i].size;
    uint32_t sup = 0;
    for (unsigned n = 0; n < 32 && ((uint64_t)PAGE_4K << n) <= smallest; n++)
        sup |= 1u << n;
    pci_config_set32(&s->pf->config, s->cap + PCI_SRIOV_SUP_PGSIZE, sup ? sup : 1);
}

int pci_sriov_set_vf_bar(struct pci_sriov *s, unsigned bar, enum pci_bar_type type,
                         bool prefetchable, uint64_t size)
{
    /* §9.3.3.14: the VF BARs size like ordinary BARs, per VF. */
    if (pci_bar_declare(s->vf_bars, &s->pf->config, s->cap + PCI_SRIOV_BAR, bar, type, prefetchable,
                        size) < 0)
        return -1;
    update_sup_pgsize(s);
    return 0;
}

/* VF BAR base addresses as the registers say now. */
static void decode_vf_bars(struct pci_sriov *s)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        if (is_mem_bar(&s->vf_bars[i]))
            s->vf_bars[i].addr = pci_bar_read_addr(s->vf_bars, &s->pf->config,
                                                   s->cap + PCI_SRIOV_BAR, i);
}

static uint64_t pow2_roundup(uint64_t v)
{
    uint64_t p = 1;
    while (p && p < v)
        p <<= 1;
    return p;
}

int pci_sriov_assign_bars(struct pci_sriov *s, struct pci_bus *bus)
{
    struct pci_config *c = &s->pf->config;
    /* The PF's function number is known now (Function Dependency Link, §9.3.3.8). */
    pci_config_set8(c, s->cap + PCI_SRIOV_FUNC_LINK, s->pf->devfn & 7);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        struct pci_bar *b = &s->vf_bars[i];
        if (!is_mem_bar(b))
            continue;
        uint64_t region = b->size <= UINT64_MAX / s->total_vfs
                              ? pow2_roundup(b->size * s->total_vfs)
                              : 0;
        uint64_t addr = region ? pci_bus_alloc_mmio(bus, region, b->type == PCI_BAR_MEM64)
                               : PCI_BAR_UNMAPPED;
        if (addr == PCI_BAR_UNMAPPED) {
            log_error("pci: %s: no room for VF BAR %u (%u x %#llx bytes)", s->pf->name, i,
                      s->total_vfs, (unsigned long long)b->size);
            return -1;
        }
        uint32_t lo = pci_config_get32(c, vf_bar_reg(s, i)) & ~PCI_BASE_ADDRESS_MEM_MASK;
        pci_config_set32(c, vf_bar_reg(s, i), lo | ((uint32_t)addr & PCI_BASE_ADDRESS_MEM_MASK));
        if (b->type == PCI_BAR_MEM64)
            pci_config_set32(c, vf_bar_reg(s, i + 1), (uint32_t)(addr >> 32));
        log_debug("pci: %s VF BAR %u at %#llx", s->pf->name, i, (unsigned long long)addr);
    }
    decode_vf_bars(s);
    return 0;
}

int pci_sriov_vf_devfn(uint8_t pf_devfn, unsigned i)
{
    unsigned rid = pf_devfn + SRIOV_FIRST_VF_OFFSET + i * SRIOV_VF_STRIDE;
    return i < PCI_SRIOV_MAX_VFS && rid < PCI_BUS_MAX_FUNCS ? (int)rid : -1;
}

/* VF i's BARs follow the PF's VF BARs and decode while VF Enable and VF MSE are set. */
static void place_vf(struct pci_sriov *s, unsigned i, bool mse)
{
    struct pci_device *vf = s->vfs[i];
    vf->mem_enable = mse && s->vfe;
    for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
        const struct pci_bar *vb = &s->vf_bars[b];
        if (!is_mem_bar(vb) || vf->bars[b].type != vb->type || vf->bars[b].size != vb->size)
            continue;
        uint64_t off = (uint64_t)i * vb->size, addr = vb->addr + off;
        /* A base the guest put near the top of the address space must not wrap. */
        pci_device_set_bar_addr(vf, b, addr < vb->addr ? PCI_BAR_UNMAPPED : addr);
    }
}

static bool vf_mse(const struct pci_sriov *s)
{
    return pci_config_get16(&s->pf->config, s->cap + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_MSE;
}

int pci_sriov_add_vf_locked(struct pci_sriov *s, unsigned i, struct pci_device *vf)
{
    int devfn = pci_sriov_vf_devfn(s->pf->devfn, i);
    if (i >= s->num_vfs || s->vfs[i] || !vf->is_vf || devfn < 0 || !s->pf->bus)
        return -1;
    if (pci_bus_add_noassign_locked(s->pf->bus, vf, (uint8_t)devfn) < 0)
        return -1;
    s->vfs[i] = vf;
    place_vf(s, i, vf_mse(s));
    return 0;
}

void pci_sriov_remove_vf_locked(struct pci_sriov *s, unsigned i)
{
    if (i >= PCI_SRIOV_MAX_VFS || !s->vfs[i])
        return;
    pci_bus_remove_locked(s->pf->bus, s->vfs[i]);
    s->vfs[i]->mem_enable = false;
    s->vfs[i] = NULL;
}

static void vfs_down(struct pci_sriov *s)
{
    if (s->num_vfs && s->ops && s->ops->disable)
        s->ops->disable(s->opaque);
    for (unsigned i = 0; i < PCI_SRIOV_MAX_VFS; i++)   /* whatever the owner left */
        pci_sriov_remove_vf_locked(s, i);
    s->num_vfs = 0;
}

/* NumVFs and System Page Size are frozen while VF Enable is set (§9.3.3.7, §9.3.3.13). */
static void set_frozen(struct pci_sriov *s, bool frozen)
{
    struct pci_config *c = &s->pf->config;
    pci_config_set_wmask(c, s->cap + PCI_SRIOV_NUM_VF, 2, frozen ? 0 : 0xffff);
    pci_config_set_wmask(c, s->cap + PCI_SRIOV_SYS_PGSIZE, 4, frozen ? 0 : 0xffffffff);
}

static void vf_enable(struct pci_sriov *s)
{
    uint16_t n = pci_config_get16(&s->pf->config, s->cap + PCI_SRIOV_NUM_VF);
    s->vfe = true;
    set_frozen(s, true);
    if (n == 0 || n > s->total_vfs) {
        /* Guest-triggered: said once per PF, then only in debug logs. */
        if (!s->warned)
            log_warn("pci: %s: VF Enable with NumVFs %u (TotalVFs %u): no VFs", s->pf->name, n,
                     s->total_vfs);
        s->warned = true;
        return;
    }
    s->num_vfs = n;
    if (s->ops && s->ops->enable)
        s->ops->enable(s->opaque, n);
}

static void vf_disable(struct pci_sriov *s)
{
    vfs_down(s);
    s->vfe = false;
    set_frozen(s, false);
}

void pci_sriov_config_write(struct pci_sriov *s, unsigned off, unsigned len)
{
    if (off + len <= s->cap || off >= s->cap + PCI_EXT_CAP_SRIOV_SIZEOF)
        return;
    struct pci_config *c = &s->pf->config;
    uint32_t pg = pci_config_get32(c, s->cap + PCI_SRIOV_SYS_PGSIZE);
    uint32_t sup = pci_config_get32(c, s->cap + PCI_SRIOV_SUP_PGSIZE);
    if (IS_POW2(pg) && (pg & sup))
        s->sys_pgsize = pg;
    else
        pci_config_set32(c, s->cap + PCI_SRIOV_SYS_PGSIZE, s->sys_pgsize);

    decode_vf_bars(s);
    bool vfe = pci_config_get16(c, s->cap + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE;
    if (vfe && !s->vfe)
        vf_enable(s);
    else if (!vfe && s->vfe)
        vf_disable(s);

    bool mse = vf_mse(s);
    bool any = false;
    for (unsigned i = 0; i < s->num_vfs; i++) {
        if (s->vfs[i]) {
            place_vf(s, i, mse);
            any = true;
        }
    }
    if (any && s->ops && s->ops->vfs_moved)
        s->ops->vfs_moved(s->opaque);
}

void pci_sriov_reset(struct pci_sriov *s)
{
    vf_disable(s);
    struct pci_config *c = &s->pf->config;
    uint16_t ctrl = pci_config_get16(c, s->cap + PCI_SRIOV_CTRL);
    pci_config_set16(c, s->cap + PCI_SRIOV_CTRL,
                     ctrl & (uint16_t)~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE));
    pci_config_set16(c, s->cap + PCI_SRIOV_NUM_VF, 0);
}
