/* virtio-pci modern transport register semantics over a dummy virtio device, a fake MSI
 * router and fake ioeventfd hooks. No bus: config and BAR accesses go straight to the
 * pci_device, as the bus would dispatch them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <unistd.h>

#include "fake_guest.h"
#include "fake_msi.h"
#include "virtio/pci.h"

/* ---- dummy device ---- */
struct dummy {
    struct virtio_dev vdev;
    int activations, resets;
};
static uint64_t d_features(struct virtio_dev *d) { return (1ull << VIRTIO_F_VERSION_1) | 0x5; }
static void d_cfg_read(struct virtio_dev *d, uint32_t off, void *data, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        ((uint8_t *)data)[i] = (uint8_t)(0x40 + off + i);
}
static int d_activate(struct virtio_dev *d)
{
    ((struct dummy *)d)->activations++;
    return 0;
}
static void d_reset(struct virtio_dev *d) { ((struct dummy *)d)->resets++; }
static const struct virtio_dev_ops d_ops = {
    .name = "dummy",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 3,
    .queue_max_size = 64,
    .config_size = 8,
    .get_features = d_features,
    .config_read = d_cfg_read,
    .activate = d_activate,
    .reset = d_reset,
};

/* ---- fake ioeventfd hooks ---- */
struct ioev {
    uint64_t gpa[16];
    int fd[16];
    unsigned n, adds, dels;
};
static int io_add(void *o, uint64_t gpa, int fd)
{
    struct ioev *e = o;
    e->gpa[e->n] = gpa;
    e->fd[e->n++] = fd;
    e->adds++;
    return 0;
}
static void io_del(void *o, uint64_t gpa, int fd)
{
    struct ioev *e = o;
    for (unsigned i = 0; i < e->n; i++) {
        if (e->gpa[i] == gpa && e->fd[i] == fd) {
            e->gpa[i] = e->gpa[--e->n];
            e->fd[i] = e->fd[e->n];
            e->dels++;
            return;
        }
    }
    fail_msg("del of unregistered ioeventfd");
}
static const struct virtio_pci_notify_ops io_ops = { io_add, io_del };

struct ctx {
    struct fake_guest g;
    struct dummy d;
    struct fake_msi_router r;
    struct msi_router router;
    struct virtio_pci vp;
    struct ioev io;
};

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));
    fg_init(&t->g);
    assert_int_equal(virtio_dev_init(&t->d.vdev, &d_ops, &t->g.mem), 0);
    t->router = (struct msi_router){ &fake_msi_ops, &t->r };
    assert_int_equal(virtio_pci_init(&t->vp, "vp-test", &t->d.vdev, &t->router, NULL, 0), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    virtio_pci_destroy(&t->vp);
    virtio_dev_destroy(&t->d.vdev);
    fg_free(&t->g);
    free(t);
    return 0;
}

static uint32_t cfg_rd(struct ctx *t, unsigned off, unsigned len)
{
    return pci_device_config_read(&t->vp.pci, off, len);
}
static void cfg_wr(struct ctx *t, unsigned off, unsigned len, uint32_t v)
{
    pci_device_config_write(&t->vp.pci, off, len, v);
}
static uint64_t rd(struct ctx *t, uint64_t off, unsigned len)
{
    uint64_t v = 0;
    pci_device_bar_read(&t->vp.pci, VIRTIO_PCI_BAR, off, &v, len);
    return v;
}
static void wr(struct ctx *t, uint64_t off, unsigned len, uint64_t v)
{
    pci_device_bar_write(&t->vp.pci, VIRTIO_PCI_BAR, off, &v, len);
}

static void test_identity_and_caps(void **state)
{
    struct ctx *t = *state;
    assert_int_equal(cfg_rd(t, PCI_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(cfg_rd(t, PCI_DEVICE_ID, 2), 0x1041);
    assert_int_equal(cfg_rd(t, PCI_REVISION_ID, 1), 1);
    assert_int_equal(cfg_rd(t, PCI_CLASS_REVISION, 4) >> 8, 0x020000);
    assert_int_equal(cfg_rd(t, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
    assert_true(pci_config_find_cap(&t->vp.pci.config, PCI_CAP_ID_EXP) >= 0x40);
    assert_true(pci_config_find_cap(&t->vp.pci.config, PCI_CAP_ID_MSIX) >= 0x40);
    uint32_t bar = cfg_rd(t, PCI_BASE_ADDRESS_4, 4);
    assert_int_equal(bar & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    /* Walk the vendor capabilities as virtio_pci_modern does. */
    int seen = 0;
    for (unsigned off = cfg_rd(t, PCI_CAPABILITY_LIST, 1), n = 0; off && n < 48;
         off = cfg_rd(t, off + 1, 1), n++) {
        if (cfg_rd(t, off, 1) != PCI_CAP_ID_VNDR)
            continue;
        unsigned type = cfg_rd(t, off + 3, 1);
        seen |= 1 << type;
        if (type == VIRTIO_PCI_CAP_PCI_CFG)
            continue;
        assert_int_equal(cfg_rd(t, off + 4, 1), VIRTIO_PCI_BAR);
        uint32_t o = cfg_rd(t, off + 8, 4), l = cfg_rd(t, off + 12, 4);
        assert_true(o + l <= VIRTIO_PCI_BAR_SIZE);
        if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
            assert_int_equal(cfg_rd(t, off + 2, 1), 20);
            assert_int_equal(cfg_rd(t, off + 16, 4), VIRTIO_PCI_NOTIFY_MULT);
            assert_int_equal(o, VIRTIO_PCI_NOTIFY_OFF);
            assert_int_equal(l, 3 * VIRTIO_PCI_NOTIFY_MULT);
        }
        if (type == VIRTIO_PCI_CAP_COMMON_CFG)
            assert_int_equal(o, VIRTIO_PCI_COMMON_OFF);
    }
    assert_int_equal(seen, 0x3e);      /* types 1..5 */
}

static void setup_queue(struct ctx *t, unsigned q, uint16_t size)
{
    struct fake_vq fq;
    fvq_init(&fq, &t->g, size);
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    wr(t, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    wr(t, VIRTIO_PCI_COMMON_Q_DESCLO, 4, fq.desc);
    wr(t, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
    wr(t, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, fq.avail);
    wr(t, VIRTIO_PCI_COMMON_Q_USEDLO, 4, fq.used);
    wr(t, VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
    /* Linux writes each address as two 32-bit halves (vp_iowrite64_twopart). */
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_DESCLO, 8), fq.desc);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_AVAILLO, 8), fq.avail);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_USEDLO, 8), fq.used);
    wr(t, VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1);
    wr(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static void test_common_cfg_flow(void **state)
{
    struct ctx *t = *state;
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
    wr(t, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_DF, 4), 1);       /* VERSION_1 */
    wr(t, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_DF, 4), 5);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    wr(t, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_GF, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    wr(t, VIRTIO_PCI_COMMON_GF, 4, 4);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_GF, 4), 4);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_STATUS, 1), 0x0b);

    /* Queue registers */
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    wr(t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 48);                    /* not a power of two */
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
    wr(t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 128);                   /* above the maximum */
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
    wr(t, VIRTIO_PCI_COMMON_Q_MSIX, 2, 4);                     /* table has 4: 0..3 */
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    wr(t, VIRTIO_PCI_COMMON_MSIX, 2, 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_MSIX, 2), 0);
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 7);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);   /* no such queue */
    wr(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);                   /* harmless */

    for (unsigned q = 0; q < 3; q++)
        setup_queue(t, q, 16);
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_MSIX, 2), 3);
    uint64_t desc = rd(t, VIRTIO_PCI_COMMON_Q_DESCLO, 8);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_DESCLO, 4), desc);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0);
    /* Frozen once enabled. */
    wr(t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
    wr(t, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_DESCLO, 8), desc);

    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
    assert_int_equal(t->d.activations, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);

    /* Reset: device stopped, transport registers back to defaults. */
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    assert_int_equal(t->d.resets, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
    /* Odd widths are ignored. */
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 4, 2);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_NUMQ + 1, 1), 0);
}

static void test_bad_ring_needs_reset(void **state)
{
    struct ctx *t = *state;
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x03);
    wr(t, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_GF, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    wr(t, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x7fff0000ull);       /* not guest RAM */
    wr(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_true(rd(t, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void enable_mem(struct ctx *t, uint64_t addr)
{
    cfg_wr(t, PCI_BASE_ADDRESS_4, 4, (uint32_t)addr);
    cfg_wr(t, PCI_BASE_ADDRESS_5, 4, (uint32_t)(addr >> 32));
    cfg_wr(t, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static void test_doorbells(void **state)
{
    struct ctx *t = *state;
    virtio_pci_set_notify_ops(&t->vp, &io_ops, &t->io);
    assert_int_equal(t->io.adds, 0);                            /* BAR not decoded */
    assert_int_equal(virtio_pci_notify_addr(&t->vp, 0), UINT64_MAX);
    enable_mem(t, 0x4000000000ull);
    assert_int_equal(t->io.n, 3);
    for (unsigned q = 0; q < 3; q++) {
        assert_int_equal(virtio_pci_notify_addr(&t->vp, q), 0x4000003000ull + 4 * q);
        assert_int_equal(t->io.gpa[q], 0x4000003000ull + 4 * q);
        assert_int_equal(t->io.fd[q], t->d.vdev.kick_fds[q]);
    }
    /* Moving the BAR moves the doorbells. */
    cfg_wr(t, PCI_BASE_ADDRESS_4, 4, 0x10000);
    assert_int_equal(t->io.n, 3);
    assert_int_equal(t->io.dels, 3);
    assert_int_equal(virtio_pci_notify_addr(&t->vp, 2), 0x4000013008ull);
    cfg_wr(t, PCI_COMMAND, 2, 0);
    assert_int_equal(t->io.n, 0);
    /* MMIO fallback: a doorbell write signals the queue's eventfd. */
    wr(t, VIRTIO_PCI_NOTIFY_OFF + 4, 2, 0);
    uint64_t v = 0;
    assert_int_equal(read(t->d.vdev.kick_fds[1], &v, 8), 8);
    assert_int_equal(v, 1);
    assert_int_equal(read(t->d.vdev.kick_fds[0], &v, 8), -1);
    wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 3, 2, 0);                 /* no queue 3: ignored */
    enable_mem(t, 0x4000020000ull);
    virtio_pci_set_notify_ops(&t->vp, NULL, NULL);
    assert_int_equal(t->io.n, 0);
}

static void test_interrupts_and_isr(void **state)
{
    struct ctx *t = *state;
    enable_mem(t, 0x4000000000ull);
    int cap = pci_config_find_cap(&t->vp.pci.config, PCI_CAP_ID_MSIX);
    cfg_wr(t, (unsigned)cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    for (unsigned v = 0; v < 4; v++) {
        wr(t, VIRTIO_PCI_MSIX_TABLE_OFF + 16 * v, 4, 0xfee00000);
        wr(t, VIRTIO_PCI_MSIX_TABLE_OFF + 16 * v + 8, 4, 0x30 + v);
        wr(t, VIRTIO_PCI_MSIX_TABLE_OFF + 16 * v + 12, 4, 0);  /* unmask */
    }
    wr(t, VIRTIO_PCI_COMMON_MSIX, 2, 0);
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    wr(t, VIRTIO_PCI_COMMON_Q_MSIX, 2, 3);
    virtio_dev_notify_queue(&t->d.vdev, 2);
    assert_int_equal(t->r.n, 4);                                /* one route per vector */
    uint64_t c = 0;
    assert_int_equal(read(t->r.fds[3], &c, 8), 8);              /* vector 3 */
    assert_int_equal(c, 1);
    assert_int_equal(read(t->r.fds[0], &c, 8), -1);
    assert_int_equal(rd(t, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
    assert_int_equal(rd(t, VIRTIO_PCI_ISR_OFF, 1), 0);         /* read clears */
    /* Config change goes to config_msix_vector (DRIVER_OK needed for the device). */
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x03);
    wr(t, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_GF, 4, 1);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    wr(t, VIRTIO_PCI_COMMON_MSIX, 2, 0);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
    virtio_dev_config_changed(&t->d.vdev);
    assert_int_equal(rd(t, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
    assert_int_equal(read(t->r.fds[0], &c, 8), 8);
    assert_int_equal(c, 1);
    /* A queue without a vector: ISR only, no MSI. */
    wr(t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    virtio_dev_notify_queue(&t->d.vdev, 0);
    for (unsigned v = 0; v < 4; v++)
        assert_int_equal(read(t->r.fds[v], &c, 8), -1);
    assert_int_equal(rd(t, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
}

static void test_device_cfg_and_cfg_cap(void **state)
{
    struct ctx *t = *state;
    assert_int_equal(rd(t, VIRTIO_PCI_DEVICE_OFF + 2, 2), 0x4342);
    assert_int_equal(rd(t, VIRTIO_PCI_DEVICE_OFF + 6, 4), 0);  /* crosses the end */
    /* PCI config access capability: read num_queues through config space. */
    unsigned cap = t->vp.cfg_cap;
    cfg_wr(t, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
    cfg_wr(t, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
    cfg_wr(t, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_NUMQ);
    assert_int_equal(cfg_rd(t, cap + 16, 2), 3);
    /* and write queue_select through it */
    cfg_wr(t, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_Q_SELECT);
    cfg_wr(t, cap + 16, 4, 2);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 2);
    /* bad window: ignored */
    cfg_wr(t, cap + VIRTIO_PCI_CAP_LENGTH, 4, 3);
    cfg_wr(t, cap + 16, 4, 1);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 2);
}

/* PCIe §6.6.2: a VF offers Function Level Reset and comes out of one as after power-on;
 * the PF does not offer it and ignores the bit. */
static void test_vf_flr(void **state)
{
    struct ctx *t = *state;
    struct dummy d2 = { 0 };
    struct virtio_pci vf;
    assert_int_equal(virtio_dev_init(&d2.vdev, &d_ops, &t->g.mem), 0);
    assert_int_equal(virtio_pci_init_vf(&vf, "vf-test", &d2.vdev, &t->router, NULL, 0), 0);
    struct pci_device *dev = &vf.pci;
    int exp = pci_config_find_cap(&dev->config, PCI_CAP_ID_EXP);
    int msix = pci_config_find_cap(&dev->config, PCI_CAP_ID_MSIX);
    assert_true(exp > 0 && msix > 0);
    assert_true(pci_device_config_read(dev, (unsigned)exp + PCI_EXP_DEVCAP, 4) &
                PCI_EXP_DEVCAP_FLR);
    assert_false(
        cfg_rd(t, (unsigned)pci_config_find_cap(&t->vp.pci.config, PCI_CAP_ID_EXP) + PCI_EXP_DEVCAP,
               4) &
        PCI_EXP_DEVCAP_FLR);
    uint16_t devctl0 = (uint16_t)pci_device_config_read(dev, (unsigned)exp + PCI_EXP_DEVCTL, 2);

    /* A driver's state: bus master, MSI-X on, a vector programmed, DRIVER_OK. */
    pci_device_config_write(dev, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    pci_device_config_write(dev, (unsigned)msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    pci_device_config_write(dev, (unsigned)exp + PCI_EXP_DEVCTL, 2, devctl0 | PCI_EXP_DEVCTL_URRE);
    uint32_t v = 0xfee00000;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFF, &v, 4);
    v = 0;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFF + 12, &v, 4);
    uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &st, 1);
    uint32_t one = 1, sel = 1;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_GFSELECT, &sel, 4);
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_GF, &one, 4);
    st = 0x0f;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &st, 1);
    uint16_t vec = 0;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_MSIX, &vec, 2);
    uint8_t b = 0;
    pci_device_bar_read(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &b, 1);
    assert_int_equal(b, 0x0f);

    /* Initiate FLR (with other Device Control bits, as pcie_capability_set_word does). */
    pci_device_config_write(dev, (unsigned)exp + PCI_EXP_DEVCTL, 2,
                            devctl0 | PCI_EXP_DEVCTL_URRE | PCI_EXP_DEVCTL_BCR_FLR);
    assert_int_equal(d2.resets, 1);
    pci_device_bar_read(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &b, 1);
    assert_int_equal(b, 0);
    uint16_t w = 0;
    pci_device_bar_read(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_MSIX, &w, 2);
    assert_int_equal(w, VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(pci_device_config_read(dev, PCI_COMMAND, 2), 0);
    assert_int_equal(pci_device_config_read(dev, (unsigned)msix + PCI_MSIX_FLAGS, 2) &
                         (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL),
                     0);
    assert_int_equal(pci_device_config_read(dev, (unsigned)exp + PCI_EXP_DEVCTL, 2), devctl0);
    v = 0;
    pci_device_bar_read(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFF + 12, &v, 4);
    assert_int_equal(v, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    /* Usable again: a driver can start over. */
    st = VIRTIO_CONFIG_S_ACKNOWLEDGE;
    pci_device_bar_write(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &st, 1);
    pci_device_bar_read(dev, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &b, 1);
    assert_int_equal(b, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    virtio_pci_destroy(&vf);
    virtio_dev_destroy(&d2.vdev);

    /* The PF: the bit is not offered, so nothing happens. */
    int pexp = pci_config_find_cap(&t->vp.pci.config, PCI_CAP_ID_EXP);
    wr(t, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    cfg_wr(t, (unsigned)pexp + PCI_EXP_DEVCTL, 2, devctl0 | PCI_EXP_DEVCTL_BCR_FLR);
    assert_int_equal(rd(t, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
    assert_int_equal(t->d.resets, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_identity_and_caps),
        T(test_common_cfg_flow),
        T(test_bad_ring_needs_reset),
        T(test_doorbells),
        T(test_interrupts_and_isr),
        T(test_device_cfg_and_cfg_cap),
        T(test_vf_flr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
