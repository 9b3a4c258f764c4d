#include "pci/msix.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "pci/device.h"

static uint64_t pba_size(unsigned nvec) { return (nvec + 63) / 64 * 8ULL; }

int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec, unsigned bar,
              uint64_t table_off, uint64_t pba_off, struct msi_router *router)
{
    if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || dev->msix)
        return -1;
    const struct pci_bar *b = &dev->bars[bar];
    uint64_t tsize = (uint64_t)nvec * MSIX_ENTRY_SIZE, psize = pba_size(nvec);
    if ((b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64) || (table_off & 7) ||
        (pba_off & 7) || table_off > UINT32_MAX || pba_off > UINT32_MAX ||
        !range_within(table_off, tsize, b->size) || !range_within(pba_off, psize, b->size) ||
        (table_off < pba_off + psize && pba_off < table_off + tsize))
        return -1;

    memset(m, 0, sizeof(*m));
    m->vec = calloc(nvec, sizeof(*m->vec));
    m->pba = calloc(psize / 8, sizeof(*m->pba));
    int cap = pci_config_add_cap(&dev->config, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
    if (!m->vec || !m->pba || cap < 0) {
        free(m->vec);
        free((void *)m->pba);
        return -1;
    }
    m->dev = dev;
    m->router = router;
    m->nvec = nvec;
    m->cap = (unsigned)cap;
    m->bar = bar;
    m->table_off = table_off;
    m->pba_off = pba_off;
    for (unsigned i = 0; i < nvec; i++) {
        m->vec[i].route = -1;
        m->vec[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;   /* §7.7.2.4: masked after reset */
        atomic_init(&m->vec[i].fd, -1);
        atomic_init(&m->vec[i].masked, true);
    }
    /* §7.7.2.2: Table Size is N-1 (RO); Enable and Function Mask are RW. */
    struct pci_config *cfg = &dev->config;
    pci_config_set16(cfg, m->cap + PCI_MSIX_FLAGS, (uint16_t)(nvec - 1));
    pci_config_set_wmask(cfg, m->cap + PCI_MSIX_FLAGS, 2,
                         PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    pci_config_set32(cfg, m->cap + PCI_MSIX_TABLE, (uint32_t)table_off | bar);
    pci_config_set32(cfg, m->cap + PCI_MSIX_PBA, (uint32_t)pba_off | bar);
    dev->msix = m;
    return 0;
}

void msix_destroy(struct msix *m)
{
    if (!m->vec)
        return;
    for (unsigned i = 0; i < m->nvec; i++)
        if (m->vec[i].route >= 0 && m->router)
            m->router->ops->route_remove(m->router->opaque, m->vec[i].route);
    free(m->vec);
    free((void *)m->pba);
    m->vec = NULL;
    m->pba = NULL;
    if (m->dev && m->dev->msix == m)
        m->dev->msix = NULL;
}

bool msix_vector_deliverable(struct msix *m, unsigned v)
{
    return v < m->nvec && atomic_load(&m->active) && !atomic_load(&m->vec[v].masked) &&
           atomic_load(&m->vec[v].fd) >= 0;
}

int msix_vector_irqfd(struct msix *m, unsigned v)
{
    return msix_vector_deliverable(m, v) ? atomic_load(&m->vec[v].fd) : -1;
}

void msix_set_change_hook(struct msix *m, void (*fn)(void *opaque), void *opaque)
{
    m->on_change = fn;
    m->change_opaque = opaque;
}

static void msix_changed(struct msix *m)
{
    if (m->on_change)
        m->on_change(m->change_opaque);
}

bool msix_vector_pending(struct msix *m, unsigned v)
{
    return v < m->nvec && (atomic_load(&m->pba[v / 64]) >> (v % 64) & 1);
}

static void msix_inject(int fd)
{
    uint64_t one = 1;
    /* Only fails if the counter would overflow, i.e. the interrupt is pending anyway. */
    if (write(fd, &one, sizeof(one)) < 0)
        log_debug("msix: eventfd write: %m");
}

/* Claims the pending bit of v and injects it, if v is deliverable. Both msix_signal and
 * the unmask paths call this after their store, so whichever runs second sees the other's
 * update (seq_cst atomics) and the single fetch_and decides who injects. */
static void msix_fire_pending(struct msix *m, unsigned v)
{
    uint64_t bit = 1ULL << (v % 64);
    if (msix_vector_deliverable(m, v) && (atomic_fetch_and(&m->pba[v / 64], ~bit) & bit))
        msix_inject(atomic_load(&m->vec[v].fd));
}

void msix_signal(struct msix *m, unsigned v)
{
    if (v >= m->nvec)
        return;
    if (msix_vector_deliverable(m, v)) {
        msix_inject(atomic_load(&m->vec[v].fd));
        return;
    }
    atomic_fetch_or(&m->pba[v / 64], 1ULL << (v % 64));
    msix_fire_pending(m, v);
}

/* Makes sure an unmasked vector of an active function has an up-to-date route. */
static void msix_route_sync(struct msix *m, unsigned v)
{
    struct msix_vector *e = &m->vec[v];
    if (!m->router || (e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT))
        return;
    uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
    if (e->route < 0) {
        int fd = -1;
        int h = m->router->ops->route_add(m->router->opaque, addr, e->data, &fd);
        if (h < 0 || fd < 0) {
            log_warn_rl(&m->log_rl, "msix: %s: no route for vector %u", m->dev->name, v);
            return;
        }
        e->route = h;
        e->route_stale = false;
        atomic_store(&e->fd, fd);
    } else if (e->route_stale) {
        if (m->router->ops->route_update(m->router->opaque, e->route, addr, e->data) < 0)
            log_warn_rl(&m->log_rl, "msix: %s: cannot re-target vector %u", m->dev->name, v);
        else
            e->route_stale = false;
    }
}

/* After a table write to vector v (bus lock held). */
static void msix_vector_update(struct msix *m, unsigned v)
{
    struct msix_vector *e = &m->vec[v];
    bool masked = e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT;
    bool was = msix_vector_deliverable(m, v);
    if (!masked && atomic_load(&m->active))
        msix_route_sync(m, v);
    atomic_store(&e->masked, masked);
    msix_fire_pending(m, v);
    if (msix_vector_deliverable(m, v) != was)
        msix_changed(m);
}

void msix_config_update(struct msix *m)
{
    uint16_t ctl = pci_config_get16(&m->dev->config, m->cap + PCI_MSIX_FLAGS);
    bool active = (ctl & PCI_MSIX_FLAGS_ENABLE) && !(ctl & PCI_MSIX_FLAGS_MASKALL);
    bool was = atomic_load(&m->active);
    if (active == was)
        return;
    if (active)
        for (unsigned v = 0; v < m->nvec; v++)
            msix_route_sync(m, v);
    atomic_store(&m->active, active);
    if (active)
        for (unsigned v = 0; v < m->nvec; v++)
            msix_fire_pending(m, v);
    msix_changed(m);
}

void msix_reset(struct msix *m)
{
    struct pci_config *cfg = &m->dev->config;
    uint16_t ctl = pci_config_get16(cfg, m->cap + PCI_MSIX_FLAGS);
    pci_config_set16(cfg, m->cap + PCI_MSIX_FLAGS,
                     ctl & (uint16_t)~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
    atomic_store(&m->active, false);
    for (unsigned v = 0; v < m->nvec; v++) {
        struct msix_vector *e = &m->vec[v];
        e->addr_lo = e->addr_hi = e->data = 0;
        e->ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
        e->route_stale = true;
        atomic_store(&e->masked, true);
    }
    for (unsigned i = 0; i < pba_size(m->nvec) / 8; i++)
        atomic_store(&m->pba[i], 0);
    msix_changed(m);
}

/* Reads one dword of the table or PBA at offset off (dword aligned) inside the BAR. */
static uint32_t msix_read32(struct msix *m, uint64_t off)
{
    if (off - m->table_off < (uint64_t)m->nvec * MSIX_ENTRY_SIZE && off >= m->table_off) {
        uint64_t t = off - m->table_off;
        const struct msix_vector *e = &m->vec[t / MSIX_ENTRY_SIZE];
        switch (t % MSIX_ENTRY_SIZE) {
        case PCI_MSIX_ENTRY_LOWER_ADDR:
            return e->addr_lo;
        case PCI_MSIX_ENTRY_UPPER_ADDR:
            return e->addr_hi;
        case PCI_MSIX_ENTRY_DATA:
            return e->data;
        default:
            return e->ctrl;
        }
    }
    uint64_t p = off - m->pba_off;
    uint64_t word = atomic_load(&m->pba[p / 8]);
    return (uint32_t)(word >> (p % 8 * 8));
}

static void msix_write32(struct msix *m, uint64_t off, uint32_t val)
{
    if (off < m->table_off || off - m->table_off >= (uint64_t)m->nvec * MSIX_ENTRY_SIZE)
        return;   /* PBA is read-only (§7.7.2.5) */
    uint64_t t = off - m->table_off;
    unsigned v = (unsigned)(t / MSIX_ENTRY_SIZE);
    struct msix_vector *e = &m->vec[v];
    switch (t % MSIX_ENTRY_SIZE) {
    case PCI_MSIX_ENTRY_LOWER_ADDR:
        e->addr_lo = val & ~3u;
        e->route_stale = true;
        break;
    case PCI_MSIX_ENTRY_UPPER_ADDR:
        e->addr_hi = val;
        e->route_stale = true;
        break;
    case PCI_MSIX_ENTRY_DATA:
        e->data = val;
        e->route_stale = true;
        break;
    default:
        /* Only Mask Bit is implemented; the rest is reserved (§7.7.2.4). */
        e->ctrl = val & PCI_MSIX_ENTRY_CTRL_MASKBIT;
        break;
    }
    msix_vector_update(m, v);
}

/* Classifies an access: 0 not ours, 1 ours and well-formed, -1 ours but malformed. */
static int msix_claim(struct msix *m, unsigned bar, uint64_t off, unsigned len)
{
    if (!m->vec || bar != m->bar)
        return 0;
    uint64_t tsize = (uint64_t)m->nvec * MSIX_ENTRY_SIZE, psize = pba_size(m->nvec);
    bool in_table = off >= m->table_off && off - m->table_off < tsize;
    bool in_pba = off >= m->pba_off && off - m->pba_off < psize;
    if (!in_table && !in_pba)
        return 0;
    /* §6.1.4.2: aligned DWORD or QWORD accesses only; both stay inside the region
     * because entries and PBA words are 8-byte aligned. */
    if ((len != 4 && len != 8) || (off & (len - 1)))
        return -1;
    return 1;
}

bool msix_mmio_read(struct msix *m, unsigned bar, uint64_t off, void *data, unsigned len)
{
    int c = msix_claim(m, bar, off, len);
    if (c == 0)
        return false;
    if (c < 0) {
        memset(data, 0xff, len);
        return true;
    }
    uint64_t v = msix_read32(m, off);
    if (len == 8)
        v |= (uint64_t)msix_read32(m, off + 4) << 32;
    st_sized(data, len, v);
    return true;
}

bool msix_mmio_write(struct msix *m, unsigned bar, uint64_t off, const void *data, unsigned len)
{
    int c = msix_claim(m, bar, off, len);
    if (c == 0)
        return false;
    if (c < 0)
        return true;
    uint64_t v = ld_sized(data, len);
    msix_write32(m, off, (uint32_t)v);
    if (len == 8)
        msix_write32(m, off + 4, (uint32_t)(v >> 32));
    return true;
}
