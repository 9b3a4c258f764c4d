#include "virtio/pci.h"

#include <assert.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "pci/sriov.h"

#define NO_VECTOR VIRTIO_MSI_NO_VECTOR

static struct virtio_pci *to_vp(struct pci_device *dev)
{
    return container_of(dev, struct virtio_pci, pci);
}

static uint16_t ld_vec(const uint16_t *v) { return __atomic_load_n(v, __ATOMIC_ACQUIRE); }
static void st_vec(uint16_t *v, uint16_t x) { __atomic_store_n(v, x, __ATOMIC_RELEASE); }

/* ---- interrupts (any thread) ---- */

static void irq_queue(void *opaque, unsigned q)
{
    struct virtio_pci *vp = opaque;
    uint16_t vec = q < VIRTIO_MAX_QUEUES ? ld_vec(&vp->queue_vector[q]) : NO_VECTOR;
    __atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_QUEUE, __ATOMIC_RELAXED);
    if (vec != NO_VECTOR)
        msix_signal(&vp->msix, vec);
}

static void irq_config(void *opaque)
{
    struct virtio_pci *vp = opaque;
    uint16_t vec = ld_vec(&vp->config_vector);
    __atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_RELAXED);
    if (vec != NO_VECTOR)
        msix_signal(&vp->msix, vec);
}

/* The vector's irqfd while MSI-X delivers it straight (no ISR bit: with MSI-X the
 * driver does not read ISR for queue interrupts, virtio 1.2 §4.1.4.5.1). */
static int irq_queue_fd(void *opaque, unsigned q)
{
    struct virtio_pci *vp = opaque;
    uint16_t vec = q < VIRTIO_MAX_QUEUES ? ld_vec(&vp->queue_vector[q]) : NO_VECTOR;
    return vec == NO_VECTOR ? -1 : msix_vector_irqfd(&vp->msix, vec);
}

static const struct virtio_irq_ops vp_irq_ops = { irq_queue, irq_config, irq_queue_fd };

/* MSI-X (un)masked, enabled or reset: the device re-reads irq_queue_fd. */
static void msix_changed(void *opaque)
{
    struct virtio_pci *vp = opaque;
    virtio_dev_irq_changed(vp->vdev);
}

/* ---- doorbells ---- */

uint64_t virtio_pci_notify_addr(const struct virtio_pci *vp, unsigned q)
{
    const struct pci_bar *b = &vp->pci.bars[VIRTIO_PCI_BAR];
    if (!vp->pci.mem_enable || b->addr == PCI_BAR_UNMAPPED || q >= vp->vdev->ops->num_queues)
        return UINT64_MAX;
    return b->addr + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
}

static void notify_unregister(struct virtio_pci *vp)
{
    if (vp->notify_base == UINT64_MAX || !vp->notify_ops)
        return;
    for (unsigned q = 0; q < vp->vdev->ops->num_queues; q++)
        vp->notify_ops->del(vp->notify_opaque,
                            vp->notify_base + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT,
                            vp->vdev->kick_fds[q]);
    vp->notify_base = UINT64_MAX;
}

/* Keeps the ioeventfds on the doorbells' current addresses. A failed add leaves that
 * queue on the MMIO fallback, which signals the same eventfd (slower, still correct). */
static void notify_sync(struct virtio_pci *vp)
{
    uint64_t want = virtio_pci_notify_addr(vp, 0);
    if (want == vp->notify_base || !vp->notify_ops)
        return;
    notify_unregister(vp);
    if (want == UINT64_MAX)
        return;
    for (unsigned q = 0; q < vp->vdev->ops->num_queues; q++)
        if (vp->notify_ops->add(vp->notify_opaque, want + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT,
                                vp->vdev->kick_fds[q]) < 0)
            log_warn("%s: no ioeventfd for queue %u, doorbell goes through MMIO exits",
                     vp->pci.name, q);
    vp->notify_base = want;
}

void virtio_pci_sync_notify(struct virtio_pci *vp) { notify_sync(vp); }

void virtio_pci_set_notify_ops(struct virtio_pci *vp, const struct virtio_pci_notify_ops *ops,
                               void *opaque)
{
    notify_unregister(vp);
    vp->notify_ops = ops;
    vp->notify_opaque = opaque;
    notify_sync(vp);
}

static void notify_write(struct virtio_pci *vp, uint64_t off)
{
    uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;
    if (q >= vp->vdev->ops->num_queues)
        return;
    uint64_t one = 1;
    if (write(vp->vdev->kick_fds[q], &one, sizeof(one)) < 0) {
        /* counter saturated: a kick is pending anyway */
    }
}

/* ---- common configuration (virtio 1.2 §4.1.4.3) ---- */

static void transport_reset(struct virtio_pci *vp)
{
    vp->dfselect = vp->gfselect = 0;
    vp->queue_select = 0;
    st_vec(&vp->config_vector, NO_VECTOR);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        st_vec(&vp->queue_vector[q], NO_VECTOR);
    __atomic_store_n(&vp->isr, 0, __ATOMIC_RELAXED);
}

/* A device reset by the driver (status 0) or by an FLR. */
static void device_reset(struct virtio_pci *vp)
{
    transport_reset(vp);
    /* A reset PF takes its VFs down with it, as an FLR of the PF would (it clears VF
     * Enable): a driver that resets the PF no longer manages them. */
    if (vp->pci.sriov)
        pci_sriov_reset(vp->pci.sriov);
}

/* §4.1.5.1.2.1: a vector the table cannot hold reads back as NO_VECTOR. */
static uint16_t valid_vector(struct virtio_pci *vp, uint16_t v)
{
    return v < vp->msix.nvec ? v : NO_VECTOR;
}

static struct virtq *selected(struct virtio_pci *vp)
{
    return vp->queue_select < vp->vdev->ops->num_queues ? &vp->vdev->vqs[vp->queue_select] : NULL;
}

static uint64_t common_read(struct virtio_pci *vp, unsigned off)
{
    struct virtio_dev *d = vp->vdev;
    struct virtq *vq = selected(vp);
    unsigned q = vp->queue_select;
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return vp->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return virtio_dev_read_device_features(d, vp->dfselect);
    case VIRTIO_PCI_COMMON_GFSELECT:
        return vp->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return virtio_dev_read_driver_features(d, vp->gfselect);
    case VIRTIO_PCI_COMMON_MSIX:
        return ld_vec(&vp->config_vector);
    case VIRTIO_PCI_COMMON_NUMQ:
        return d->ops->num_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        return virtio_dev_get_status(d);
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return virtio_dev_config_generation(d);
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return vp->queue_select;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return vq ? vq->size : 0;   /* 0: no such queue */
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return vq ? ld_vec(&vp->queue_vector[q]) : NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return vq ? d->queue_enabled[q] : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return vq ? q : 0;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        return vq ? vq->desc_gpa : 0;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        return vq ? vq->avail_gpa : 0;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return vq ? vq->used_gpa : 0;
    default:
        return 0;
    }
}

/* Width of the register starting at off, 0 if none starts there. */
static unsigned common_width(unsigned off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
    case VIRTIO_PCI_COMMON_DF:
    case VIRTIO_PCI_COMMON_GFSELECT:
    case VIRTIO_PCI_COMMON_GF:
        return 4;
    case VIRTIO_PCI_COMMON_STATUS:
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return 1;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return 8;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_Q_SELECT:
    case VIRTIO_PCI_COMMON_Q_SIZE:
    case VIRTIO_PCI_COMMON_Q_MSIX:
    case VIRTIO_PCI_COMMON_Q_ENABLE:
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return 2;
    default:
        return 0;
    }
}

/* Finds the register holding [off, off+len): exact width, or a 32-bit half of a 64-bit
 * address (§4.1.3.1: drivers may split 64-bit fields). *base gets its start. */
static bool common_locate(unsigned off, unsigned len, unsigned *base)
{
    if (common_width(off) == len || (len == 4 && common_width(off) == 8)) {
        *base = off;
        return true;
    }
    if (len == 4 && off >= 4 && common_width(off - 4) == 8) {
        *base = off - 4;
        return true;
    }
    return false;
}

static void set_queue_addr(struct virtio_pci *vp, uint64_t *field, unsigned shift, unsigned len,
                           uint64_t val)
{
    uint64_t mask = len == 8 ? UINT64_MAX : 0xffffffffull << shift;
    *field = (*field & ~mask) | ((val << shift) & mask);
}

static void common_write(struct virtio_pci *vp, unsigned off, unsigned len, uint64_t val)
{
    struct virtio_dev *d = vp->vdev;
    unsigned base;
    if (!common_locate(off, len, &base)) {
        log_debug_rl(&vp->pci.log_rl, "%s: common config write %#x/%u ignored", vp->pci.name, off,
                     len);
        return;
    }
    struct virtq *vq = selected(vp);
    unsigned q = vp->queue_select;
    /* §4.1.4.3.2: queue configuration is frozen once the queue is enabled. */
    bool q_writable = vq && !d->queue_enabled[q];
    switch (base) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        vp->dfselect = (uint32_t)val;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        vp->gfselect = (uint32_t)val;
        break;
    case VIRTIO_PCI_COMMON_GF:
        virtio_dev_write_driver_features(d, vp->gfselect, (uint32_t)val);
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        st_vec(&vp->config_vector, valid_vector(vp, (uint16_t)val));
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        virtio_dev_set_status(d, (uint8_t)val);
        if (val == 0)
            device_reset(vp);
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        vp->queue_select = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        /* Split rings: a power of two no larger than offered (§2.7). */
        if (q_writable && IS_POW2(val) && val <= d->ops->queue_max_size)
            vq->size = (uint16_t)val;
        else
            log_debug_rl(&vp->pci.log_rl, "%s: queue %u size %#llx refused", vp->pci.name, q,
                         (unsigned long long)val);
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        if (vq) {
            st_vec(&vp->queue_vector[q], valid_vector(vp, (uint16_t)val));
            virtio_dev_irq_changed(d);
        }
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        /* Writing 0 is not allowed (§4.1.4.3.2, no VIRTIO_F_RING_RESET); 1 validates the
         * rings against guest RAM, and a bad layout makes the device need a reset. */
        if (q_writable && val == 1)
            virtio_dev_enable_queue(d, q);
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        if (q_writable)
            set_queue_addr(vp, &vq->desc_gpa, (off - base) * 8, len, val);
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        if (q_writable)
            set_queue_addr(vp, &vq->avail_gpa, (off - base) * 8, len, val);
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        if (q_writable)
            set_queue_addr(vp, &vq->used_gpa, (off - base) * 8, len, val);
        break;
    default:                    /* read-only: DF, NUMQ, CFGGENERATION, Q_NOFF */
        break;
    }
}

/* ---- BAR dispatch ---- */

static void vp_bar_read(struct pci_device *dev, unsigned bar, uint64_t off, void *data,
                        unsigned len)
{
    struct virtio_pci *vp = to_vp(dev);
    memset(data, 0, len);
    if (bar != VIRTIO_PCI_BAR)
        return;
    if (off < VIRTIO_PCI_COMMON_SIZE) {
        unsigned base;
        if (common_locate((unsigned)off, len, &base)) {
            uint64_t v = common_read(vp, base);
            if (len == 4 && base != off)
                v >>= 32;
            st_sized(data, len, v);
        }
    } else if (off == VIRTIO_PCI_ISR_OFF) {
        /* §4.1.4.5: reading ISR status clears it. */
        *(uint8_t *)data = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
    } else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF) {
        virtio_dev_config_read(vp->vdev, (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF), data, len);
    }
}

static void vp_bar_write(struct pci_device *dev, unsigned bar, uint64_t off, const void *data,
                         unsigned len)
{
    struct virtio_pci *vp = to_vp(dev);
    if (bar != VIRTIO_PCI_BAR)
        return;
    if (off < VIRTIO_PCI_COMMON_SIZE)
        common_write(vp, (unsigned)off, len, ld_sized(data, len));
    else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF)
        virtio_dev_config_write(vp->vdev, (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF), data, len);
    else if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_MSIX_TABLE_OFF)
        notify_write(vp, off - VIRTIO_PCI_NOTIFY_OFF);
}

/* ---- config space hook: doorbell placement and the PCI config access capability ---- */

/* §4.1.4.9: the driver picks bar/offset/length in the capability and then accesses
 * pci_cfg_data, which maps onto the BAR. Config space has no read hook, so the data
 * field is refreshed from the BAR after every write to the capability: a read sees the
 * BAR as of the driver's last write there (enough for firmware-style polling drivers;
 * Linux does not use this capability). */
static bool cfg_window(struct virtio_pci *vp, uint64_t *off, unsigned *len)
{
    struct pci_config *c = &vp->pci.config;
    unsigned cap = vp->cfg_cap;
    uint8_t bar = pci_config_get8(c, cap + VIRTIO_PCI_CAP_BAR);
    *off = pci_config_get32(c, cap + VIRTIO_PCI_CAP_OFFSET);
    *len = pci_config_get32(c, cap + VIRTIO_PCI_CAP_LENGTH);
    return bar == VIRTIO_PCI_BAR && (*len == 1 || *len == 2 || *len == 4) && *off % *len == 0 &&
           *off + *len <= VIRTIO_PCI_BAR_SIZE;
}

static void vp_config_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
    struct virtio_pci *vp = to_vp(dev);
    notify_sync(vp);
    unsigned cap = vp->cfg_cap;
    if (off + len <= cap || off >= cap + sizeof(struct virtio_pci_cfg_cap))
        return;
    uint64_t boff;
    unsigned blen;
    if (!cfg_window(vp, &boff, &blen))
        return;
    unsigned data_off = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    uint8_t buf[4];
    if (off >= data_off) {
        uint32_t v = pci_config_get32(&dev->config, data_off);
        memcpy(buf, &v, 4);
        pci_device_bar_write(dev, VIRTIO_PCI_BAR, boff, buf, blen);
    } else {
        memset(buf, 0, sizeof(buf));
        pci_device_bar_read(dev, VIRTIO_PCI_BAR, boff, buf, blen);
        pci_config_set32(&dev->config, data_off, ld_le32(buf));
    }
}

/* PCIe §6.6.2 FLR: the virtio device resets as for status 0 (virtio 1.2 §4.1.5.1.2:
 * queues, vectors, features gone), and the VIRTIO_PCI_CAP_PCI_CFG window closes. */
static void vp_flr(struct pci_device *dev)
{
    struct virtio_pci *vp = to_vp(dev);
    virtio_dev_set_status(vp->vdev, 0);
    device_reset(vp);
    struct pci_config *c = &dev->config;
    pci_config_set8(c, vp->cfg_cap + VIRTIO_PCI_CAP_BAR, 0);
    pci_config_set32(c, vp->cfg_cap + VIRTIO_PCI_CAP_OFFSET, 0);
    pci_config_set32(c, vp->cfg_cap + VIRTIO_PCI_CAP_LENGTH, 0);
    pci_config_set32(c, vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 0);
}

static const struct pci_device_ops vp_pci_ops = {
    .bar_read = vp_bar_read,
    .bar_write = vp_bar_write,
    .config_write = vp_config_write,
    .flr = vp_flr,
};

/* ---- setup ---- */

static int add_cap(struct pci_config *c, uint8_t type, unsigned size, uint32_t off, uint32_t len)
{
    int cap = pci_config_add_cap(c, PCI_CAP_ID_VNDR, size);
    if (cap < 0)
        return -1;
    pci_config_set8(c, (unsigned)cap + VIRTIO_PCI_CAP_LEN, (uint8_t)size);
    pci_config_set8(c, (unsigned)cap + VIRTIO_PCI_CAP_CFG_TYPE, type);
    pci_config_set8(c, (unsigned)cap + VIRTIO_PCI_CAP_BAR,
                    type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR);
    pci_config_set32(c, (unsigned)cap + VIRTIO_PCI_CAP_OFFSET, off);
    pci_config_set32(c, (unsigned)cap + VIRTIO_PCI_CAP_LENGTH, len);
    return cap;
}

static uint32_t class_of(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET:
        return 0x020000;    /* network, Ethernet */
    case VIRTIO_ID_BLOCK:
        return 0x010000;  /* mass storage, SCSI */
    default:
        return 0xff0000;               /* unclassified */
    }
}

static int vp_init(struct virtio_pci *vp, const char *name, struct virtio_dev *vdev,
                   struct msi_router *router, bool is_vf, char *err, size_t errlen)
{
    memset(vp, 0, sizeof(*vp));
    vp->vdev = vdev;
    vp->notify_base = UINT64_MAX;
    const struct pci_ids ids = {
        .vendor = 0x1af4,
        .device = (uint16_t)(0x1040 + vdev->ops->device_id),    /* §4.1.2.1 */
        .subsys_vendor = 0x1af4,
        .subsys_id = 0x1100,
        .class_code = class_of(vdev->ops->device_id),
        .revision = 1,                                          /* modern only */
    };
    int r = is_vf ? pci_device_init_vf(&vp->pci, name, &ids, &vp_pci_ops, err, errlen)
                  : pci_device_init(&vp->pci, name, &ids, &vp_pci_ops, err, errlen);
    if (r < 0)
        return -1;
    struct pci_config *c = &vp->pci.config;
    unsigned nq = vdev->ops->num_queues;
    /* The BAR's layout holds the most queues a device may have (virtio-net: 8 pairs and a
     * control queue): their doorbells and a vector each plus the config vector, so a
     * VF's BAR stays VIRTIO_PCI_BAR_SIZE whatever queues= says. */
    static_assert(VIRTIO_MAX_QUEUES * VIRTIO_PCI_NOTIFY_MULT <=
                      VIRTIO_PCI_MSIX_TABLE_OFF - VIRTIO_PCI_NOTIFY_OFF,
                  "doorbells overlap the MSI-X table");
    static_assert((VIRTIO_MAX_QUEUES + 1) * 16 <=
                      VIRTIO_PCI_MSIX_PBA_OFF - VIRTIO_PCI_MSIX_TABLE_OFF,
                  "MSI-X table overlaps the PBA");
    static_assert(VIRTIO_PCI_MSIX_PBA_OFF + (VIRTIO_MAX_QUEUES + 1 + 63) / 64 * 8 <=
                      VIRTIO_PCI_BAR_SIZE,
                  "PBA beyond the BAR");
    if (pci_device_set_bar(&vp->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, true, VIRTIO_PCI_BAR_SIZE) <
            0 ||
        add_cap(c, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap), VIRTIO_PCI_COMMON_OFF,
                VIRTIO_PCI_COMMON_SIZE) < 0 ||
        add_cap(c, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap), VIRTIO_PCI_ISR_OFF, 1) <
            0 ||
        add_cap(c, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap), VIRTIO_PCI_DEVICE_OFF,
                vdev->ops->config_size ? vdev->ops->config_size : 1) < 0) {
        snprintf(err, errlen, "cannot build config space");
        return -1;
    }
    int ncap = add_cap(c, VIRTIO_PCI_CAP_NOTIFY_CFG, sizeof(struct virtio_pci_notify_cap),
                       VIRTIO_PCI_NOTIFY_OFF, nq * VIRTIO_PCI_NOTIFY_MULT);
    int ccap = add_cap(c, VIRTIO_PCI_CAP_PCI_CFG, sizeof(struct virtio_pci_cfg_cap), 0, 0);
    if (ncap < 0 || ccap < 0) {
        snprintf(err, errlen, "cannot build config space");
        return -1;
    }
    pci_config_set32(c,
                     (unsigned)ncap + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier),
                     VIRTIO_PCI_NOTIFY_MULT);
    vp->cfg_cap = (unsigned)ccap;
    pci_config_set_wmask(c, vp->cfg_cap + VIRTIO_PCI_CAP_BAR, 1, 0xff);
    pci_config_set_wmask(c, vp->cfg_cap + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
    pci_config_set_wmask(c, vp->cfg_cap + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
    pci_config_set_wmask(c, vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4,
                         0xffffffff);
    if (msix_init(&vp->msix, &vp->pci, nq + 1, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFF,
                  VIRTIO_PCI_MSIX_PBA_OFF, router) < 0) {
        snprintf(err, errlen, "cannot set up MSI-X");
        return -1;
    }
    transport_reset(vp);
    virtio_dev_set_irq(vdev, &vp_irq_ops, vp);
    msix_set_change_hook(&vp->msix, msix_changed, vp);
    return 0;
}

int virtio_pci_init(struct virtio_pci *vp, const char *name, struct virtio_dev *vdev,
                    struct msi_router *router, char *err, size_t errlen)
{
    return vp_init(vp, name, vdev, router, false, err, errlen);
}

int virtio_pci_init_vf(struct virtio_pci *vp, const char *name, struct virtio_dev *vdev,
                       struct msi_router *router, char *err, size_t errlen)
{
    if (vp_init(vp, name, vdev, router, true, err, errlen) < 0)
        return -1;
    /* PCIe §9.2.1.3 / SR-IOV: every VF supports FLR, so one VF can be reset alone. */
    if (pci_device_offer_flr(&vp->pci) < 0) {
        snprintf(err, errlen, "cannot offer Function Level Reset");
        virtio_pci_destroy(vp);     /* its MSI-X vectors and vdev's interrupt callbacks */
        return -1;
    }
    return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
    notify_unregister(vp);
    virtio_dev_reset(vp->vdev);          /* stops the data path: no msix_signal after */
    virtio_dev_set_irq(vp->vdev, NULL, NULL);
    msix_set_change_hook(&vp->msix, NULL, NULL);
    msix_destroy(&vp->msix);
}
