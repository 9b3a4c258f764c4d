/* SR-IOV capability register semantics (PCIe Base 6.0 §9.3.3) through the root complex's
 * ECAM, with a PF at 00:01.0 whose owner (this test) creates plain VF functions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/util.h"
#include "ecam.h"
#include "pci/bus.h"
#include "pci/sriov.h"
#include "vm/layout.h"

#define TOTAL 8
#define VF_BAR 4
#define VF_BAR_SIZE 0x8000
#define PF_DEVFN PCI_DEVFN(1, 0)

struct vf {
    struct pci_device pci;
    uint64_t last_off;
    unsigned reads;
};

struct fixture {
    struct pci_bus bus;
    struct pci_device pf;
    struct pci_sriov sriov;
    struct vf vfs[TOTAL];
    unsigned enables, disables, moves, last_n;
};

static void vf_bar_read(struct pci_device *pci, unsigned bar, uint64_t off, void *data,
                        unsigned len)
{
    struct vf *v = container_of(pci, struct vf, pci);
    v->reads++;
    v->last_off = off;
    st_sized(data, len, 0x5a5a5a5a);
}

static const struct pci_device_ops vf_ops = { .bar_read = vf_bar_read };
static const struct pci_ids ids = {
    .vendor = 0x1af4,
    .device = 0x1041,
    .subsys_vendor = 0x1af4,
    .subsys_id = 0x1100,
    .class_code = 0x020000,
    .revision = 1,
};

static void op_enable(void *opaque, unsigned n)
{
    struct fixture *f = opaque;
    f->enables++;
    f->last_n = n;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(pci_device_init_vf(&f->vfs[i].pci, "vf", &ids, &vf_ops, NULL, 0), 0);
        assert_int_equal(pci_device_set_bar(&f->vfs[i].pci, VF_BAR, PCI_BAR_MEM64, true,
                                            VF_BAR_SIZE),
                         0);
        assert_int_equal(pci_sriov_add_vf_locked(&f->sriov, i, &f->vfs[i].pci), 0);
    }
}

static void op_disable(void *opaque)
{
    struct fixture *f = opaque;
    f->disables++;
    for (unsigned i = 0; i < TOTAL; i++)
        pci_sriov_remove_vf_locked(&f->sriov, i);
}

static void op_moved(void *opaque) { ((struct fixture *)opaque)->moves++; }

static const struct pci_sriov_ops ops = { op_enable, op_disable, op_moved };

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(pci_bus_init(&f->bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE,
                                  LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE),
                     0);
    assert_int_equal(pci_device_init(&f->pf, "pf", &ids, NULL, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&f->pf, 4, PCI_BAR_MEM64, true, VF_BAR_SIZE), 0);
    assert_int_equal(pci_sriov_init(&f->sriov, &f->pf, TOTAL, 0x1041, &ops, f), 0);
    assert_int_equal(pci_sriov_set_vf_bar(&f->sriov, VF_BAR, PCI_BAR_MEM64, true, VF_BAR_SIZE), 0);
    assert_int_equal(pci_bus_add(&f->bus, &f->pf, PF_DEVFN), 0);
    assert_int_equal(pci_sriov_assign_bars(&f->sriov, &f->bus), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pci_sriov_reset(&f->sriov);
    pci_bus_remove(&f->bus, &f->pf);
    pci_bus_destroy(&f->bus);
    free(f);
    return 0;
}

static uint32_t cfg_rd(struct fixture *f, unsigned devfn, unsigned reg, unsigned len)
{
    return ecam_rd(&f->bus, devfn, reg, len);
}

static void cfg_wr(struct fixture *f, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
    ecam_wr(&f->bus, devfn, reg, len, v);
}

static unsigned cap(struct fixture *f) { return f->sriov.cap; }
static uint32_t sr_rd(struct fixture *f, unsigned reg, unsigned len)
{
    return cfg_rd(f, PF_DEVFN, cap(f) + reg, len);
}
static void sr_wr(struct fixture *f, unsigned reg, unsigned len, uint32_t v)
{
    cfg_wr(f, PF_DEVFN, cap(f) + reg, len, v);
}

static uint64_t vf_bar_base(struct fixture *f)
{
    return (sr_rd(f, PCI_SRIOV_BAR + 4 * VF_BAR, 4) & ~0xfull) |
           (uint64_t)sr_rd(f, PCI_SRIOV_BAR + 4 * VF_BAR + 4, 4) << 32;
}

static void test_layout(void **state)
{
    struct fixture *f = *state;
    /* The first extended capability, found the way Linux walks the list. */
    assert_int_equal(cap(f), 0x100);
    assert_int_equal(pci_config_find_ecap(&f->pf.config, PCI_EXT_CAP_ID_SRIOV), 0x100);
    assert_int_equal(cfg_rd(f, PF_DEVFN, 0x100, 4) & 0xfffff, PCI_EXT_CAP_ID_SRIOV | 1 << 16);
    assert_int_equal(sr_rd(f, PCI_SRIOV_CAP, 4), 0);                   /* no VF Migration */
    assert_int_equal(sr_rd(f, PCI_SRIOV_INITIAL_VF, 2), TOTAL);
    assert_int_equal(sr_rd(f, PCI_SRIOV_TOTAL_VF, 2), TOTAL);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), 0);
    assert_int_equal(sr_rd(f, PCI_SRIOV_FUNC_LINK, 1), 0);             /* the PF itself */
    assert_int_equal(sr_rd(f, PCI_SRIOV_VF_DID, 2), 0x1041);
    assert_int_equal(sr_rd(f, PCI_SRIOV_SUP_PGSIZE, 4), 0xf);          /* 4..32 KiB */
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 1);
    assert_int_equal(sr_rd(f, PCI_SRIOV_BAR + 4 * VF_BAR, 4) & 0xf,
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    for (unsigned b = 0; b < 4; b++)
        assert_int_equal(sr_rd(f, PCI_SRIOV_BAR + 4 * b, 4), 0);       /* not implemented */
    /* Pre-assigned inside the 64-bit window, aligned, room for every VF. */
    uint64_t base = vf_bar_base(f);
    assert_true(base >= LAYOUT_MMIO64_START);
    assert_true(base + TOTAL * VF_BAR_SIZE <= LAYOUT_MMIO64_START + LAYOUT_MMIO64_SIZE);
    assert_int_equal(base % VF_BAR_SIZE, 0);
    /* Read-only fields stay put. */
    sr_wr(f, PCI_SRIOV_TOTAL_VF, 2, 99);
    sr_wr(f, PCI_SRIOV_VF_OFFSET, 4, 0x00050005);
    sr_wr(f, PCI_SRIOV_VF_DID, 2, 0x1234);
    assert_int_equal(sr_rd(f, PCI_SRIOV_TOTAL_VF, 2), TOTAL);
    assert_int_equal(sr_rd(f, PCI_SRIOV_VF_OFFSET, 2), 1);
    assert_int_equal(sr_rd(f, PCI_SRIOV_VF_DID, 2), 0x1041);
}

/* Linux writes NumVFs for every candidate and re-reads offset and stride (iov.c). */
static void test_numvfs_offset_stride(void **state)
{
    struct fixture *f = *state;
    for (unsigned ari = 0; ari < 2; ari++) {
        sr_wr(f, PCI_SRIOV_CTRL, 2, ari ? PCI_SRIOV_CTRL_ARI : 0);
        for (unsigned n = 0; n <= TOTAL; n++) {
            sr_wr(f, PCI_SRIOV_NUM_VF, 2, n);
            assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), n);
            assert_int_equal(sr_rd(f, PCI_SRIOV_VF_OFFSET, 2), 1);
            assert_int_equal(sr_rd(f, PCI_SRIOV_VF_STRIDE, 2), 1);
        }
    }
    assert_int_equal(f->enables, 0);
}

static void test_routing_ids(void **state)
{
    /* PF 00:01.0: VFs 00:01.1..00:01.7, then 00:02.0.. (no ARI: device numbers go on). */
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(1, 0), 0), PCI_DEVFN(1, 1));
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(1, 0), 6), PCI_DEVFN(1, 7));
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(1, 0), 7), PCI_DEVFN(2, 0));
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(1, 0), 63), PCI_DEVFN(9, 0));
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(31, 0), 6), PCI_DEVFN(31, 7));
    assert_int_equal(pci_sriov_vf_devfn(PCI_DEVFN(31, 0), 7), -1);     /* past bus 0 */
    assert_int_equal(pci_sriov_vf_devfn(0, PCI_SRIOV_MAX_VFS), -1);
}

static void test_enable_routing_and_disable(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, TOTAL);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_int_equal(f->enables, 1);
    assert_int_equal(f->last_n, TOTAL);
    for (unsigned i = 0; i < TOTAL; i++) {
        unsigned devfn = PF_DEVFN + 1 + i;
        assert_ptr_equal(f->bus.funcs[devfn], &f->vfs[i].pci);
        /* §9.3.4.1: vendor/device read all ones; class, revision, header, subsystem valid. */
        assert_int_equal(cfg_rd(f, devfn, PCI_VENDOR_ID, 4), 0xffffffff);
        assert_int_equal(cfg_rd(f, devfn, PCI_CLASS_REVISION, 4), 0x02000001);
        assert_int_equal(cfg_rd(f, devfn, PCI_HEADER_TYPE, 1), 0);
        assert_int_equal(cfg_rd(f, devfn, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
        assert_int_equal(cfg_rd(f, devfn, PCI_BASE_ADDRESS_0 + 4 * VF_BAR, 4), 0);
    }
    assert_null(f->bus.funcs[PF_DEVFN + 1 + TOTAL]);
    /* Function 0 of the next slot is a VF: the PF's header stays single-function. */
    assert_int_equal(cfg_rd(f, PF_DEVFN, PCI_HEADER_TYPE, 1), 0);
    sr_wr(f, PCI_SRIOV_CTRL, 2, 0);
    assert_int_equal(f->disables, 1);
    for (unsigned i = 0; i < TOTAL; i++) {
        assert_null(f->bus.funcs[PF_DEVFN + 1 + i]);
        assert_int_equal(cfg_rd(f, PF_DEVFN + 1 + i, PCI_VENDOR_ID, 2), 0xffff);
    }
}

static void test_enable_with_zero_vfs(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 0);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_int_equal(f->enables, 0);
    assert_int_equal(sr_rd(f, PCI_SRIOV_CTRL, 2), PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_null(f->bus.funcs[PF_DEVFN + 1]);
    sr_wr(f, PCI_SRIOV_CTRL, 2, 0);
    assert_int_equal(f->disables, 0); /* nothing was up */
}

static void test_numvfs_above_total(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, TOTAL + 1);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), TOTAL + 1); /* stored as written */
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    assert_int_equal(f->enables, 0);
    for (unsigned devfn = PF_DEVFN + 1; devfn < 256; devfn++)
        assert_null(f->bus.funcs[devfn]);
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 0xffff);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), TOTAL + 1); /* frozen while enabled */
    sr_wr(f, PCI_SRIOV_CTRL, 2, 0);
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 0xffff);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), 0xffff);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    assert_int_equal(f->enables, 0);
}

static void test_numvfs_frozen_while_enabled(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 2);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    assert_int_equal(f->last_n, 2);
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 5);
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 2);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), 2);
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 1);
    /* Setting VF Enable again is not a new enable. */
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_int_equal(f->enables, 1);
    sr_wr(f, PCI_SRIOV_CTRL, 2, 0);
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 5);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), 5);
}

static void test_vf_bar_sizing_and_decoding(void **state)
{
    struct fixture *f = *state;
    unsigned lo = PCI_SRIOV_BAR + 4 * VF_BAR, hi = lo + 4;
    sr_wr(f, lo, 4, 0xffffffff);
    sr_wr(f, hi, 4, 0xffffffff);
    assert_int_equal(sr_rd(f, lo, 4), (uint32_t)~(VF_BAR_SIZE - 1) | 0xc); /* per-VF size */
    assert_int_equal(sr_rd(f, hi, 4), 0xffffffff);
    /* The guest reassigns the VF BAR (Linux may), to a base of its choosing. */
    uint64_t base = LAYOUT_MMIO64_START + 0x100000;
    sr_wr(f, lo, 4, (uint32_t)base);
    sr_wr(f, hi, 4, (uint32_t)(base >> 32));
    assert_int_equal(vf_bar_base(f), base);

    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 3);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE); /* no MSE yet */
    uint32_t v = 0;
    pci_bus_mmio64_read(&f->bus, base + 0x10 - LAYOUT_MMIO64_START, &v, 4);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(f->vfs[0].reads, 0);
    /* A VF's own Command.MSE is read-only zero and changes nothing. */
    cfg_wr(f, PF_DEVFN + 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(cfg_rd(f, PF_DEVFN + 1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, 0);
    pci_bus_mmio64_read(&f->bus, base + 0x10 - LAYOUT_MMIO64_START, &v, 4);
    assert_int_equal(f->vfs[0].reads, 0);

    unsigned moves = f->moves;
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_true(f->moves > moves);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->vfs[i].pci.bars[VF_BAR].addr, base + i * VF_BAR_SIZE);
        pci_bus_mmio64_read(&f->bus, base + i * VF_BAR_SIZE + 0x24 - LAYOUT_MMIO64_START, &v, 4);
        assert_int_equal(v, 0x5a5a5a5a);
        assert_int_equal(f->vfs[i].reads, 1);
        assert_int_equal(f->vfs[i].last_off, 0x24);
    }
    /* Past the last enabled VF: nobody. */
    pci_bus_mmio64_read(&f->bus, base + 3 * VF_BAR_SIZE - LAYOUT_MMIO64_START, &v, 4);
    assert_int_equal(v, 0xffffffff);
    /* Moving the VF BAR while enabled moves every VF. */
    uint64_t base2 = base + 0x200000;
    sr_wr(f, lo, 4, (uint32_t)base2);
    assert_int_equal(f->vfs[2].pci.bars[VF_BAR].addr, base2 + 2 * VF_BAR_SIZE);
    /* A base near the top of the address space does not wrap onto low addresses. */
    sr_wr(f, lo, 4, (uint32_t)~(VF_BAR_SIZE - 1));
    sr_wr(f, hi, 4, 0xffffffff);
    assert_int_equal(f->vfs[0].pci.bars[VF_BAR].addr, 0xffffffffffff8000ull);
    assert_int_equal(f->vfs[1].pci.bars[VF_BAR].addr, PCI_BAR_UNMAPPED);
    /* VF MSE off: no VF decodes. */
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    for (unsigned i = 0; i < 3; i++)
        assert_false(f->vfs[i].pci.mem_enable);
}

static void test_page_sizes(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 2); /* 8 KiB: supported */
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 2);
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 3); /* two sizes: ignored */
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 2);
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 0x10); /* 64 KiB > VF BAR: unsupported */
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 2);
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 0);
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 2);
    sr_wr(f, PCI_SRIOV_SYS_PGSIZE, 4, 1);
    assert_int_equal(sr_rd(f, PCI_SRIOV_SYS_PGSIZE, 4), 1);
    /* Supported Page Sizes is read-only. */
    sr_wr(f, PCI_SRIOV_SUP_PGSIZE, 4, 0xffffffff);
    assert_int_equal(sr_rd(f, PCI_SRIOV_SUP_PGSIZE, 4), 0xf);
}

static void test_reset(void **state)
{
    struct fixture *f = *state;
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 4);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    uint64_t base = vf_bar_base(f);
    pci_sriov_reset(&f->sriov);
    assert_int_equal(f->disables, 1);
    assert_int_equal(sr_rd(f, PCI_SRIOV_CTRL, 2), 0);
    assert_int_equal(sr_rd(f, PCI_SRIOV_NUM_VF, 2), 0);
    assert_int_equal(vf_bar_base(f), base);
    assert_null(f->bus.funcs[PF_DEVFN + 1]);
    /* And the PF can enable again. */
    sr_wr(f, PCI_SRIOV_NUM_VF, 2, 1);
    sr_wr(f, PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    assert_int_equal(f->enables, 2);
}

static void test_init_checks(void **state)
{
    struct pci_device pf;
    struct pci_sriov s;
    assert_int_equal(pci_device_init(&pf, "pf", &ids, NULL, NULL, 0), 0);
    assert_int_equal(pci_sriov_init(&s, &pf, 0, 0x1041, &ops, NULL), -1);
    assert_int_equal(pci_sriov_init(&s, &pf, PCI_SRIOV_MAX_VFS + 1, 0x1041, &ops, NULL), -1);
    assert_int_equal(pci_sriov_init(&s, &pf, PCI_SRIOV_MAX_VFS, 0x1041, &ops, NULL), 0);
    assert_int_equal(pci_sriov_set_vf_bar(&s, 4, PCI_BAR_MEM64, true, 0x3000), -1);
    assert_int_equal(pci_sriov_set_vf_bar(&s, 5, PCI_BAR_MEM64, true, 0x4000), -1);
    assert_int_equal(pci_sriov_set_vf_bar(&s, 4, PCI_BAR_MEM64, true, 0x4000), 0);
    assert_int_equal(pci_sriov_set_vf_bar(&s, 5, PCI_BAR_MEM32, false, 0x4000), -1);
    assert_int_equal(pci_config_get32(&pf.config, s.cap + PCI_SRIOV_SUP_PGSIZE), 0x7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numvfs_offset_stride, setup, teardown),
        cmocka_unit_test(test_routing_ids),
        cmocka_unit_test_setup_teardown(test_enable_routing_and_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_with_zero_vfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numvfs_above_total, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numvfs_frozen_while_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vf_bar_sizing_and_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test(test_init_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
