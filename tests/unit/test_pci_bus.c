#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/util.h"
#include "pci/bus.h"
#include "vm/layout.h"

struct test_dev {
    struct pci_device pci;
    unsigned reads, writes, hooks;
    unsigned last_bar;
    uint64_t last_off, last_val;
};

static void tdev_bar_read(struct pci_device *pci, unsigned bar, uint64_t off, void *data,
                          unsigned len)
{
    struct test_dev *d = container_of(pci, struct test_dev, pci);
    d->reads++;
    st_sized(data, len, (uint64_t)bar << 24 | off);
}

static void tdev_bar_write(struct pci_device *pci, unsigned bar, uint64_t off, const void *data,
                           unsigned len)
{
    struct test_dev *d = container_of(pci, struct test_dev, pci);
    d->writes++;
    d->last_bar = bar;
    d->last_off = off;
    d->last_val = ld_sized(data, len);
}

static void tdev_config_write(struct pci_device *pci, unsigned off, unsigned len, uint32_t val)
{
    container_of(pci, struct test_dev, pci)->hooks++;
}

static const struct pci_device_ops tdev_ops = {
    .bar_read = tdev_bar_read,
    .bar_write = tdev_bar_write,
    .config_write = tdev_config_write,
};

static const struct pci_ids tdev_ids = {
    .vendor = 0x1af4,
    .device = 0x1041,
    .class_code = 0x020000,
};

struct fixture {
    struct pci_bus bus;
    struct test_dev dev;
};

/* BAR 0: 16 KiB MEM32. BAR 2+3: 1 MiB prefetchable MEM64. At 00:03.0. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(pci_bus_init(&f->bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE,
                                  LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE),
                     0);
    assert_int_equal(pci_device_init(&f->dev.pci, "test", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&f->dev.pci, 0, PCI_BAR_MEM32, false, 16 * KiB), 0);
    assert_int_equal(pci_device_set_bar(&f->dev.pci, 2, PCI_BAR_MEM64, true, MiB), 0);
    assert_int_equal(pci_bus_add(&f->bus, &f->dev.pci, PCI_DEVFN(3, 0)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pci_bus_destroy(&f->bus);
    free(f);
    return 0;
}

static uint32_t cf8_read(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len)
{
    uint32_t addr = 0x80000000u | devfn << 8 | (reg & 0xfc), v = 0;
    pci_bus_cf8_write(bus, 0, &addr, 4);
    pci_bus_cf8_read(bus, 4 + (reg & 3), &v, len);
    return v;
}

static void cf8_write(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
    uint32_t addr = 0x80000000u | devfn << 8 | (reg & 0xfc);
    pci_bus_cf8_write(bus, 0, &addr, 4);
    pci_bus_cf8_write(bus, 4 + (reg & 3), &v, len);
}

static uint32_t ecam_read(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len)
{
    uint32_t v = 0;
    pci_bus_ecam_read(bus, (uint64_t)devfn << 12 | reg, &v, len);
    return v;
}

static void ecam_write(struct pci_bus *bus, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
    pci_bus_ecam_write(bus, (uint64_t)devfn << 12 | reg, &v, len);
}

static void test_host_bridge(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cf8_read(&f->bus, 0, PCI_VENDOR_ID, 4), 0x00081b36);
    assert_int_equal(cf8_read(&f->bus, 0, PCI_CLASS_DEVICE, 2), 0x0600);
    assert_int_equal(ecam_read(&f->bus, 0, PCI_CLASS_DEVICE, 2), 0x0600);
    /* Linux's conf1 probe (arch/x86/pci/direct.c): the address register reads back. */
    uint32_t a = 0x80000000u, r = 0;
    uint8_t b = 1;
    pci_bus_cf8_write(&f->bus, 3, &b, 1);
    pci_bus_cf8_write(&f->bus, 0, &a, 4);
    pci_bus_cf8_read(&f->bus, 0, &r, 4);
    assert_int_equal(r, 0x80000000u);
    /* Reserved and low bits of CONFIG_ADDRESS read as zero. */
    a = 0xffffffffu;
    pci_bus_cf8_write(&f->bus, 0, &a, 4);
    pci_bus_cf8_read(&f->bus, 0, &r, 4);
    assert_int_equal(r, 0x80fffffcu);
    /* The host bridge is not replaceable. */
    struct test_dev other;
    assert_int_equal(pci_device_init(&other.pci, "other", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_bus_add(&f->bus, &other.pci, 0), -1);
}

static void test_absent_functions(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cf8_read(&f->bus, PCI_DEVFN(4, 0), 0, 4), 0xffffffffu);
    assert_int_equal(cf8_read(&f->bus, PCI_DEVFN(3, 1), 0, 2), 0xffff);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(31, 7), 0, 4), 0xffffffffu);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(4, 0), 0x100, 1), 0xff);
    /* Other buses do not exist. */
    uint32_t addr = 0x80010000u | PCI_DEVFN(3, 0) << 8, v = 0;
    pci_bus_cf8_write(&f->bus, 0, &addr, 4);
    pci_bus_cf8_read(&f->bus, 4, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    /* Enable bit clear: no config cycle. */
    addr = PCI_DEVFN(3, 0) << 8;
    pci_bus_cf8_write(&f->bus, 0, &addr, 4);
    pci_bus_cf8_read(&f->bus, 4, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    /* Writes to absent functions are dropped without harm. */
    cf8_write(&f->bus, PCI_DEVFN(9, 0), PCI_COMMAND, 2, 0xffff);
    ecam_write(&f->bus, PCI_DEVFN(9, 0), PCI_COMMAND, 2, 0xffff);
}

static void test_cf8_and_ecam_agree(void **state)
{
    struct fixture *f = *state;
    unsigned fn = PCI_DEVFN(3, 0);
    for (unsigned reg = 0; reg < 256; reg += 4)
        assert_int_equal(cf8_read(&f->bus, fn, reg, 4), ecam_read(&f->bus, fn, reg, 4));
    for (unsigned reg = 0; reg < 16; reg++)
        assert_int_equal(cf8_read(&f->bus, fn, reg, 1), ecam_read(&f->bus, fn, reg, 1));
    /* Write through one, read through the other, with sub-dword accesses. */
    cf8_write(&f->bus, fn, PCI_INTERRUPT_LINE, 1, 0x5a);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_INTERRUPT_LINE, 1), 0x5a);
    ecam_write(&f->bus, fn, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    assert_int_equal(cf8_read(&f->bus, fn, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
    assert_int_equal(cf8_read(&f->bus, fn, PCI_COMMAND + 1, 1), 0);
    assert_int_equal(f->dev.hooks, 2);
    /* Extended config space: ECAM only; the PCIe capability is in the list. */
    int pcie = pci_config_find_cap(&f->dev.pci.config, PCI_CAP_ID_EXP);
    assert_true(pcie >= 0x40);
    assert_int_equal(ecam_read(&f->bus, fn, 0x100, 4), 0);
}

static void test_malformed_config(void **state)
{
    struct fixture *f = *state;
    unsigned fn = PCI_DEVFN(3, 0);
    uint32_t v = 0;
    uint64_t q = 0;
    /* Unaligned ECAM accesses and 8-byte ones read all ones and change nothing. */
    assert_int_equal(ecam_read(&f->bus, fn, 0x01, 2), 0xffff);
    assert_int_equal(ecam_read(&f->bus, fn, 0x02, 4), 0xffffffffu);
    pci_bus_ecam_read(&f->bus, (uint64_t)fn << 12, &q, 8);
    assert_true(q == UINT64_MAX);
    q = 0;
    pci_bus_ecam_write(&f->bus, (uint64_t)fn << 12 | PCI_COMMAND, &q, 8);
    ecam_write(&f->bus, fn, PCI_COMMAND + 1, 2, 0xffff);
    /* Beyond the ECAM window. */
    pci_bus_ecam_read(&f->bus, LAYOUT_ECAM_SIZE, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    pci_bus_ecam_write(&f->bus, UINT64_MAX - 3, &v, 4);
    /* conf1: non-dword access to the address register; unaligned data port accesses. */
    uint16_t w = 0x1234;
    pci_bus_cf8_write(&f->bus, 0, &w, 2);
    pci_bus_cf8_read(&f->bus, 2, &w, 2);
    assert_int_equal(w, 0xffff);
    uint32_t addr = 0x80000000u | fn << 8 | PCI_COMMAND;
    pci_bus_cf8_write(&f->bus, 0, &addr, 4);
    pci_bus_cf8_read(&f->bus, 5, &w, 2);
    assert_int_equal(w, 0xffff);
    pci_bus_cf8_read(&f->bus, 6, &v, 4);   /* runs past 0xcff */
    pci_bus_cf8_read(&f->bus, 4, &v, 3);
    w = 0xffff;
    pci_bus_cf8_write(&f->bus, 5, &w, 2);
    pci_bus_cf8_write(&f->bus, 7, &w, 2);
    assert_int_equal(cf8_read(&f->bus, fn, PCI_COMMAND, 2), 0);
    assert_int_equal(f->dev.hooks, 0);
}

static uint64_t bar_addr_cfg(struct pci_bus *bus, unsigned devfn, unsigned bar)
{
    uint64_t lo = ecam_read(bus, devfn, PCI_BASE_ADDRESS_0 + 4 * bar, 4);
    uint64_t hi = ecam_read(bus, devfn, PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4);
    return (lo & ~0xfULL) | (lo & PCI_BASE_ADDRESS_MEM_TYPE_64 ? hi << 32 : 0);
}

static void test_bar_assignment(void **state)
{
    struct fixture *f = *state;
    unsigned fn = PCI_DEVFN(3, 0);
    uint64_t b0 = bar_addr_cfg(&f->bus, fn, 0), b2 = bar_addr_cfg(&f->bus, fn, 2);
    assert_true(b0 >= LAYOUT_MMIO32_START &&
                b0 + 16 * KiB <= LAYOUT_MMIO32_START + LAYOUT_MMIO32_SIZE);
    assert_int_equal(b0 % (16 * KiB), 0);
    assert_true(b2 >= LAYOUT_MMIO64_START && b2 + MiB <= LAYOUT_MMIO64_START + LAYOUT_MMIO64_SIZE);
    assert_int_equal(b2 % MiB, 0);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_2, 4) & 0xf,
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_0, 4) & 0xf, 0);
    /* Unused BARs and the ROM BAR read zero even after all-ones writes. */
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
    ecam_write(&f->bus, fn, PCI_ROM_ADDRESS, 4, 0xffffffff);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_4, 4), 0);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_ROM_ADDRESS, 4), 0);

    /* A second device gets non-overlapping BARs. */
    struct test_dev *d2 = calloc(1, sizeof(*d2));
    assert_int_equal(pci_device_init(&d2->pci, "second", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&d2->pci, 0, PCI_BAR_MEM32, false, 4 * KiB), 0);
    assert_int_equal(pci_bus_add(&f->bus, &d2->pci, PCI_DEVFN(4, 0)), 0);
    uint64_t c0 = bar_addr_cfg(&f->bus, PCI_DEVFN(4, 0), 0);
    assert_true(c0 >= b0 + 16 * KiB || c0 + 4 * KiB <= b0);
    assert_int_equal(pci_bus_add(&f->bus, &d2->pci, PCI_DEVFN(5, 0)), -1);   /* already on */
    pci_bus_remove(&f->bus, &d2->pci);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(4, 0), 0, 4), 0xffffffffu);
    free(d2);
}

static void test_bar_declaration_checks(void **state)
{
    static struct test_dev d;
    assert_int_equal(pci_device_init(&d.pci, "bad", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM32, false, 2048), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM32, false, 12 * KiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM32, false, 4 * GiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 5, PCI_BAR_MEM64, false, MiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 6, PCI_BAR_MEM32, false, MiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_UPPER, false, MiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 1, PCI_BAR_MEM64, false, MiB), 0);
    assert_int_equal(pci_device_set_bar(&d.pci, 2, PCI_BAR_MEM32, false, MiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM64, false, MiB), -1);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM32, false, MiB), 0);
}

static void test_bar_sizing(void **state)
{
    struct fixture *f = *state;
    unsigned fn = PCI_DEVFN(3, 0);
    uint64_t b2 = bar_addr_cfg(&f->bus, fn, 2);
    /* PCI 3.0 §6.2.5.1, as Linux's __pci_read_base does it: decode off, all ones, read. */
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_0, 4), 0xffffc000);
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_2, 4),
                     0xfff00000 | PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_int_equal(ecam_read(&f->bus, fn, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
    /* Restore, as the OS does. */
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_2, 4, (uint32_t)b2);
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_3, 4, (uint32_t)(b2 >> 32));
    assert_true(bar_addr_cfg(&f->bus, fn, 2) == b2);
    assert_true(f->dev.pci.bars[2].addr == b2);

    /* A large 64-bit BAR: the high dword carries size bits too. */
    static struct test_dev big;
    assert_int_equal(pci_device_init(&big.pci, "big", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&big.pci, 0, PCI_BAR_MEM64, true, 8 * GiB), 0);
    assert_int_equal(pci_bus_add(&f->bus, &big.pci, PCI_DEVFN(6, 0)), 0);
    ecam_write(&f->bus, PCI_DEVFN(6, 0), PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    ecam_write(&f->bus, PCI_DEVFN(6, 0), PCI_BASE_ADDRESS_1, 4, 0xffffffff);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(6, 0), PCI_BASE_ADDRESS_0, 4), 0x0000000c);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(6, 0), PCI_BASE_ADDRESS_1, 4), 0xfffffffe);
    pci_bus_remove(&f->bus, &big.pci);
}

static void test_mmio_dispatch(void **state)
{
    struct fixture *f = *state;
    unsigned fn = PCI_DEVFN(3, 0);
    uint64_t b0 = bar_addr_cfg(&f->bus, fn, 0), b2 = bar_addr_cfg(&f->bus, fn, 2);
    uint32_t v = 0;
    /* Memory Space Enable clear: nothing decodes. */
    pci_bus_mmio32_read(&f->bus, b0 - LAYOUT_MMIO32_START + 0x10, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(f->dev.reads, 0);
    v = 7;
    pci_bus_mmio32_write(&f->bus, b0 - LAYOUT_MMIO32_START, &v, 4);
    assert_int_equal(f->dev.writes, 0);

    ecam_write(&f->bus, fn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    pci_bus_mmio32_read(&f->bus, b0 - LAYOUT_MMIO32_START + 0x10, &v, 4);
    assert_int_equal(v, 0x10);
    pci_bus_mmio64_read(&f->bus, b2 - LAYOUT_MMIO64_START + 0x20, &v, 4);
    assert_int_equal(v, 2 << 24 | 0x20);
    uint64_t q = 0x1122334455667788ULL;
    pci_bus_mmio64_write(&f->bus, b2 - LAYOUT_MMIO64_START + 0xff8, &q, 8);
    assert_int_equal(f->dev.last_bar, 2);
    assert_int_equal(f->dev.last_off, 0xff8);
    assert_true(f->dev.last_val == q);
    /* Straddling the end of a BAR: unclaimed. */
    unsigned reads = f->dev.reads;
    pci_bus_mmio32_read(&f->bus, b0 - LAYOUT_MMIO32_START + 16 * KiB - 2, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(f->dev.reads, reads);

    /* The guest moves BAR 0: dispatch follows, the old place goes dead. */
    uint64_t nb0 = LAYOUT_MMIO32_START + LAYOUT_MMIO32_SIZE - 16 * KiB;
    ecam_write(&f->bus, fn, PCI_BASE_ADDRESS_0, 4, (uint32_t)nb0);
    pci_bus_mmio32_read(&f->bus, b0 - LAYOUT_MMIO32_START + 0x10, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    pci_bus_mmio32_read(&f->bus, nb0 - LAYOUT_MMIO32_START + 0x14, &v, 4);
    assert_int_equal(v, 0x14);
    /* And back off. */
    ecam_write(&f->bus, fn, PCI_COMMAND, 2, 0);
    pci_bus_mmio32_read(&f->bus, nb0 - LAYOUT_MMIO32_START + 0x14, &v, 4);
    assert_int_equal(v, 0xffffffffu);
}

static void test_multifunction(void **state)
{
    struct fixture *f = *state;
    static struct test_dev fn1, vf;
    assert_int_equal(pci_device_init(&fn1.pci, "fn1", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_bus_add(&f->bus, &fn1.pci, PCI_DEVFN(3, 1)), 0);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), 0x80);
    pci_bus_remove(&f->bus, &fn1.pci);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), 0);
    /* VFs do not make the PF multi-function; their BARs read zero and are placed by
     * the PF; their Command.MSE is ignored. */
    assert_int_equal(pci_device_init(&vf.pci, "vf", &tdev_ids, &tdev_ops, NULL, 0), 0);
    vf.pci.is_vf = true;
    assert_int_equal(pci_device_set_bar(&vf.pci, 0, PCI_BAR_MEM64, true, 16 * KiB), 0);
    pci_device_set_bar_addr(&vf.pci, 0, LAYOUT_MMIO64_START + 64 * MiB);
    pthread_mutex_lock(&f->bus.lock);
    assert_int_equal(pci_bus_add_noassign_locked(&f->bus, &vf.pci, PCI_DEVFN(3, 2)), 0);
    pthread_mutex_unlock(&f->bus.lock);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), 0);
    ecam_write(&f->bus, PCI_DEVFN(3, 2), PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    assert_int_equal(ecam_read(&f->bus, PCI_DEVFN(3, 2), PCI_BASE_ADDRESS_0, 4), 0);
    ecam_write(&f->bus, PCI_DEVFN(3, 2), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint32_t v = 0;
    pci_bus_mmio64_read(&f->bus, 64 * MiB + 8, &v, 4);
    assert_int_equal(v, 0xffffffffu);
    vf.pci.mem_enable = true;   /* the PF's VF MSE */
    pci_bus_mmio64_read(&f->bus, 64 * MiB + 8, &v, 4);
    assert_int_equal(v, 8);
    pci_bus_remove(&f->bus, &vf.pci);
}

static void test_window_exhaustion(void **state)
{
    struct pci_bus bus;
    assert_int_equal(pci_bus_init(&bus, 0xc0000000, 64 * KiB, 1ULL << 38, MiB, MiB), 0);
    assert_true(pci_bus_alloc_mmio(&bus, 32 * KiB, false) == 0xc0000000);
    assert_true(pci_bus_alloc_mmio(&bus, 4 * KiB, false) == 0xc0008000);
    assert_true(pci_bus_alloc_mmio(&bus, 32 * KiB, false) == PCI_BAR_UNMAPPED);
    assert_true(pci_bus_alloc_mmio(&bus, 3 * KiB, false) == PCI_BAR_UNMAPPED);
    assert_true(pci_bus_alloc_mmio(&bus, 2 * MiB, true) == PCI_BAR_UNMAPPED);
    assert_true(pci_bus_alloc_mmio(&bus, 1ULL << 63, true) == PCI_BAR_UNMAPPED);
    static struct test_dev d;
    assert_int_equal(pci_device_init(&d.pci, "huge", &tdev_ids, &tdev_ops, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&d.pci, 0, PCI_BAR_MEM32, false, MiB), 0);
    assert_int_equal(pci_bus_add(&bus, &d.pci, PCI_DEVFN(1, 0)), -1);
    pci_bus_destroy(&bus);
    /* Bad windows. */
    assert_int_equal(pci_bus_init(&bus, 0xc0000000, 0, 1ULL << 38, MiB, MiB), -1);
    assert_int_equal(pci_bus_init(&bus, 0xf0000000, 1ULL << 30, 1ULL << 38, MiB, MiB), -1);
    assert_int_equal(pci_bus_init(&bus, 0xc0000000, MiB, 1ULL << 38, MiB, 3 * KiB), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cf8_and_ecam_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_assignment, setup, teardown),
        cmocka_unit_test(test_bar_declaration_checks),
        cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multifunction, setup, teardown),
        cmocka_unit_test(test_window_exhaustion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
