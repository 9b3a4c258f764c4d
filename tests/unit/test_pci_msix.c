#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"
#include "pci/bus.h"
#include "pci/msix.h"
#include "vm/layout.h"

/* A router with plain eventfds, recording what the device asked for. */
#define MAX_ROUTES 64
struct fake_router {
    int fds[MAX_ROUTES];
    uint64_t addr[MAX_ROUTES];
    uint32_t data[MAX_ROUTES];
    unsigned n, adds, updates, removes;
    bool fail;
};

static int fr_add(void *opaque, uint64_t addr, uint32_t data, int *fd)
{
    struct fake_router *r = opaque;
    if (r->fail || r->n == MAX_ROUTES)
        return -1;
    r->fds[r->n] = eventfd(0, EFD_NONBLOCK);
    r->addr[r->n] = addr;
    r->data[r->n] = data;
    *fd = r->fds[r->n];
    r->adds++;
    return (int)r->n++;
}

static int fr_update(void *opaque, int h, uint64_t addr, uint32_t data)
{
    struct fake_router *r = opaque;
    r->addr[h] = addr;
    r->data[h] = data;
    r->updates++;
    return 0;
}

static void fr_remove(void *opaque, int h)
{
    struct fake_router *r = opaque;
    close(r->fds[h]);
    r->removes++;
}

static const struct msi_router_ops fr_ops = { fr_add, fr_update, fr_remove };

/* Number of injections on route h since the last call. */
static uint64_t fr_count(struct fake_router *r, int h)
{
    uint64_t v = 0;
    if (read(r->fds[h], &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

#define NVEC      8
#define TABLE_OFF 0x2000
#define PBA_OFF   0x3000

struct fixture {
    struct pci_bus bus;
    struct pci_device dev;
    struct msix msix;
    struct fake_router fr;
    struct msi_router router;
    uint64_t bar;   /* offset of BAR 1 inside the 32-bit window */
    unsigned cap;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    static const struct pci_ids ids = { .vendor = 0x1af4,
                                        .device = 0x1041,
                                        .class_code = 0x020000 };
    assert_int_equal(pci_bus_init(&f->bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE,
                                  LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE),
                     0);
    assert_int_equal(pci_device_init(&f->dev, "msix-test", &ids, NULL, NULL, 0), 0);
    assert_int_equal(pci_device_set_bar(&f->dev, 1, PCI_BAR_MEM32, false, 16 * KiB), 0);
    f->router = (struct msi_router){ &fr_ops, &f->fr };
    assert_int_equal(msix_init(&f->msix, &f->dev, NVEC, 1, TABLE_OFF, PBA_OFF, &f->router), 0);
    assert_int_equal(pci_bus_add(&f->bus, &f->dev, PCI_DEVFN(2, 0)), 0);
    f->bar = f->dev.bars[1].addr - LAYOUT_MMIO32_START;
    f->cap = f->msix.cap;
    uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    pci_bus_ecam_write(&f->bus, PCI_DEVFN(2, 0) << 12 | PCI_COMMAND, &cmd, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    msix_destroy(&f->msix);
    assert_int_equal(f->fr.removes, f->fr.adds);
    pci_bus_destroy(&f->bus);
    free(f);
    return 0;
}

static uint32_t cfg_read(struct fixture *f, unsigned reg, unsigned len)
{
    uint32_t v = 0;
    pci_bus_ecam_read(&f->bus, PCI_DEVFN(2, 0) << 12 | reg, &v, len);
    return v;
}

static void cfg_write(struct fixture *f, unsigned reg, unsigned len, uint32_t v)
{
    pci_bus_ecam_write(&f->bus, PCI_DEVFN(2, 0) << 12 | reg, &v, len);
}

static uint32_t bar_read32(struct fixture *f, uint64_t off)
{
    uint32_t v = 0;
    pci_bus_mmio32_read(&f->bus, f->bar + off, &v, 4);
    return v;
}

static void bar_write32(struct fixture *f, uint64_t off, uint32_t v)
{
    pci_bus_mmio32_write(&f->bus, f->bar + off, &v, 4);
}

/* Programs vector v's message and unmasks it, as Linux's msix_setup_msi_descs/unmask. */
static void program(struct fixture *f, unsigned v, uint32_t addr, uint32_t data, bool unmask)
{
    uint64_t e = TABLE_OFF + v * 16;
    bar_write32(f, e + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    bar_write32(f, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
    bar_write32(f, e + PCI_MSIX_ENTRY_DATA, data);
    if (unmask)
        bar_write32(f, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

static void enable(struct fixture *f, bool on, bool fmask)
{
    cfg_write(f, f->cap + PCI_MSIX_FLAGS, 2,
              (on ? PCI_MSIX_FLAGS_ENABLE : 0) | (fmask ? PCI_MSIX_FLAGS_MASKALL : 0));
}

static void test_capability(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pci_config_find_cap(&f->dev.config, PCI_CAP_ID_MSIX), (int)f->cap);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_TABLE, 4), TABLE_OFF | 1);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_PBA, 4), PBA_OFF | 1);
    /* Table Size and BIR are read-only. */
    cfg_write(f, f->cap + PCI_MSIX_FLAGS, 2, 0xffff);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_FLAGS, 2),
                     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1));
    cfg_write(f, f->cap + PCI_MSIX_TABLE, 4, 0);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_TABLE, 4), TABLE_OFF | 1);
    /* Vectors start masked (PCIe §7.7.2.4). */
    for (unsigned v = 0; v < NVEC; v++)
        assert_int_equal(bar_read32(f, TABLE_OFF + v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL), 1);
}

static void test_table_rw(void **state)
{
    struct fixture *f = *state;
    program(f, 3, 0xfee01000, 0x4041, false);
    assert_int_equal(bar_read32(f, TABLE_OFF + 3 * 16), 0xfee01000);
    assert_int_equal(bar_read32(f, TABLE_OFF + 3 * 16 + 8), 0x4041);
    /* Reserved vector control bits read zero. */
    bar_write32(f, TABLE_OFF + 3 * 16 + 12, 0xfffffffe);
    assert_int_equal(bar_read32(f, TABLE_OFF + 3 * 16 + 12), 0);
    /* 8-byte accesses. */
    uint64_t q = 0x00000000fee02000ULL;
    pci_bus_mmio32_write(&f->bus, f->bar + TABLE_OFF + 4 * 16, &q, 8);
    q = 0;
    pci_bus_mmio32_read(&f->bus, f->bar + TABLE_OFF + 4 * 16, &q, 8);
    assert_true(q == 0xfee02000ULL);
    /* No route is made for masked vectors or while MSI-X is disabled. */
    assert_int_equal(f->fr.adds, 0);
}

static void test_malformed_mmio(void **state)
{
    struct fixture *f = *state;
    program(f, 0, 0xfee00000, 0x30, false);
    uint16_t w = 0;
    pci_bus_mmio32_read(&f->bus, f->bar + TABLE_OFF, &w, 2);
    assert_int_equal(w, 0xffff);
    w = 0;
    pci_bus_mmio32_write(&f->bus, f->bar + TABLE_OFF + 12, &w, 2);   /* would unmask */
    uint8_t b = 0;
    pci_bus_mmio32_write(&f->bus, f->bar + TABLE_OFF + 12, &b, 1);
    uint32_t d = 0;
    pci_bus_mmio32_write(&f->bus, f->bar + TABLE_OFF + 14, &d, 4);   /* misaligned */
    uint64_t q = 0;
    pci_bus_mmio32_write(&f->bus, f->bar + TABLE_OFF + 12, &q, 8);   /* misaligned qword */
    assert_int_equal(bar_read32(f, TABLE_OFF + 12), 1);
    /* PBA is read-only; the region past the table and PBA goes to the device (zeros). */
    bar_write32(f, PBA_OFF, 0xffffffff);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
    assert_int_equal(bar_read32(f, TABLE_OFF + NVEC * 16), 0);
    /* Out-of-range vectors are ignored. */
    msix_signal(&f->msix, NVEC);
    msix_signal(&f->msix, UINT32_MAX);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
    /* Bad declarations are refused. */
    struct msix m2;
    assert_int_equal(msix_init(&m2, &f->dev, NVEC, 1, 0, 0, &f->router), -1);   /* already */
    static struct pci_device d2;
    static const struct pci_ids ids = { .vendor = 0x1af4, .device = 0x1041 };
    assert_int_equal(pci_device_init(&d2, "d2", &ids, NULL, NULL, 0), 0);
    assert_int_equal(msix_init(&m2, &d2, 4, 0, 0, 0x1000, NULL), -1);   /* no BAR 0 */
    assert_int_equal(pci_device_set_bar(&d2, 0, PCI_BAR_MEM32, false, 4 * KiB), 0);
    assert_int_equal(msix_init(&m2, &d2, 0, 0, 0, 0x800, NULL), -1);
    assert_int_equal(msix_init(&m2, &d2, 2049, 0, 0, 0x800, NULL), -1);
    assert_int_equal(msix_init(&m2, &d2, 4, 0, 0, 0x20, NULL), -1);     /* overlap */
    assert_int_equal(msix_init(&m2, &d2, 4, 0, 0x4, 0x800, NULL), -1);  /* misaligned */
    assert_int_equal(msix_init(&m2, &d2, 256, 0, 0, 0x800, NULL), -1);  /* table too big */
    assert_int_equal(msix_init(&m2, &d2, 4, 0, 0, 0xffc, NULL), -1);
    assert_int_equal(msix_init(&m2, &d2, 4, 6, 0, 0x800, NULL), -1);
    assert_int_equal(msix_init(&m2, &d2, 4, 0, 0, 0x800, NULL), 0);
    msix_destroy(&m2);
}

static void test_delivery_and_pending(void **state)
{
    struct fixture *f = *state;
    program(f, 0, 0xfee00000, 0x30, true);
    /* Disabled: the signal becomes pending. */
    msix_signal(&f->msix, 0);
    assert_true(msix_vector_pending(&f->msix, 0));
    assert_int_equal(bar_read32(f, PBA_OFF), 1);
    assert_int_equal(f->fr.adds, 0);
    /* Enable: route made with the programmed message, pending vector fires once. */
    enable(f, true, false);
    assert_int_equal(f->fr.adds, 1);
    assert_true(f->fr.addr[0] == 0xfee00000);
    assert_int_equal(f->fr.data[0], 0x30);
    assert_int_equal(fr_count(&f->fr, 0), 1);
    assert_false(msix_vector_pending(&f->msix, 0));
    /* Deliverable: immediate. */
    assert_true(msix_vector_deliverable(&f->msix, 0));
    msix_signal(&f->msix, 0);
    msix_signal(&f->msix, 0);
    assert_int_equal(fr_count(&f->fr, 0), 2);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
}

static void test_vector_mask(void **state)
{
    struct fixture *f = *state;
    enable(f, true, false);
    program(f, 5, 0xfee00000, 0x35, true);
    assert_int_equal(f->fr.adds, 1);
    bar_write32(f, TABLE_OFF + 5 * 16 + 12, 1);   /* mask */
    msix_signal(&f->msix, 5);
    msix_signal(&f->msix, 5);
    assert_int_equal(fr_count(&f->fr, 0), 0);
    assert_int_equal(bar_read32(f, PBA_OFF), 1u << 5);
    /* Re-target while masked: route updated on unmask, then the pending one fires once. */
    bar_write32(f, TABLE_OFF + 5 * 16 + 8, 0x45);
    assert_int_equal(f->fr.updates, 0);
    bar_write32(f, TABLE_OFF + 5 * 16 + 12, 0);
    assert_int_equal(f->fr.updates, 1);
    assert_int_equal(f->fr.data[0], 0x45);
    assert_int_equal(fr_count(&f->fr, 0), 1);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
    /* Other vectors are independent. */
    msix_signal(&f->msix, 6);
    assert_int_equal(bar_read32(f, PBA_OFF), 1u << 6);
}

static void test_function_mask(void **state)
{
    struct fixture *f = *state;
    program(f, 1, 0xfee00000, 0x31, true);
    program(f, 2, 0xfee00000, 0x32, true);
    enable(f, true, true);                 /* enabled but function-masked */
    assert_int_equal(f->fr.adds, 0);
    msix_signal(&f->msix, 1);
    msix_signal(&f->msix, 2);
    assert_int_equal(bar_read32(f, PBA_OFF), 0x6);
    enable(f, true, false);                /* unmask the function: both fire */
    assert_int_equal(f->fr.adds, 2);
    assert_int_equal(fr_count(&f->fr, 0) + fr_count(&f->fr, 1), 2);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
    /* Disable: pending again; routes survive. */
    enable(f, false, false);
    msix_signal(&f->msix, 2);
    assert_true(msix_vector_pending(&f->msix, 2));
    assert_false(msix_vector_deliverable(&f->msix, 2));
    enable(f, true, false);
    assert_int_equal(f->fr.adds, 2);
    assert_int_equal(fr_count(&f->fr, 0) + fr_count(&f->fr, 1), 1);
}

static void test_route_failure(void **state)
{
    struct fixture *f = *state;
    f->fr.fail = true;
    enable(f, true, false);
    program(f, 0, 0xfee00000, 0x30, true);
    msix_signal(&f->msix, 0);
    assert_true(msix_vector_pending(&f->msix, 0));   /* kept, not lost */
    f->fr.fail = false;
    bar_write32(f, TABLE_OFF + 12, 1);
    bar_write32(f, TABLE_OFF + 12, 0);               /* retried on the next unmask */
    assert_int_equal(f->fr.adds, 1);
    assert_int_equal(fr_count(&f->fr, 0), 1);
}

static void test_reset(void **state)
{
    struct fixture *f = *state;
    enable(f, true, false);
    program(f, 0, 0xfee00000, 0x30, true);
    bar_write32(f, TABLE_OFF + 12, 1);
    msix_signal(&f->msix, 0);
    pthread_mutex_lock(&f->bus.lock);
    msix_reset(&f->msix);
    pthread_mutex_unlock(&f->bus.lock);
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
    assert_int_equal(bar_read32(f, PBA_OFF), 0);
    assert_int_equal(bar_read32(f, TABLE_OFF), 0);
    assert_int_equal(bar_read32(f, TABLE_OFF + 12), 1);
    assert_false(msix_vector_deliverable(&f->msix, 0));
}

/* The direct-delivery contract: msix_vector_irqfd() is the route's eventfd exactly while
 * the vector is deliverable, and the change hook runs after every change of that answer
 * (so an offload backend is never left signalling a masked vector's irqfd). */
static unsigned hook_calls;
static void count_hook(void *opaque) { hook_calls++; }

static void test_irqfd_and_change_hook(void **state)
{
    struct fixture *f = *state;
    msix_set_change_hook(&f->msix, count_hook, f);
    hook_calls = 0;
    program(f, 3, 0xfee00000, 0x33, true);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), -1);   /* MSI-X not enabled */
    enable(f, true, false);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), f->fr.fds[0]);
    assert_int_equal(msix_vector_irqfd(&f->msix, 4), -1);   /* masked since reset */
    assert_int_equal(msix_vector_irqfd(&f->msix, NVEC), -1);
    bar_write32(f, TABLE_OFF + 3 * 16 + 12, 1);              /* Mask Bit */
    assert_int_equal(hook_calls, 2);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), -1);
    bar_write32(f, TABLE_OFF + 3 * 16 + 8, 0x43);            /* masked: no change */
    bar_write32(f, TABLE_OFF + 3 * 16 + 12, 1);
    assert_int_equal(hook_calls, 2);
    bar_write32(f, TABLE_OFF + 3 * 16 + 12, 0);              /* unmask: same irqfd */
    assert_int_equal(hook_calls, 3);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), f->fr.fds[0]);
    bar_write32(f, TABLE_OFF + 3 * 16 + 8, 0x53);            /* re-target while live */
    assert_int_equal(hook_calls, 3);
    assert_int_equal(f->fr.data[0], 0x53);
    enable(f, true, true);                                   /* Function Mask */
    assert_int_equal(hook_calls, 4);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), -1);
    enable(f, true, false);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), f->fr.fds[0]);
    pthread_mutex_lock(&f->bus.lock);
    msix_reset(&f->msix);
    pthread_mutex_unlock(&f->bus.lock);
    assert_int_equal(hook_calls, 6);
    assert_int_equal(msix_vector_irqfd(&f->msix, 3), -1);
    /* A vector whose route cannot be made is not deliverable: no irqfd, no change. */
    enable(f, true, false);
    f->fr.fail = true;
    program(f, 5, 0xfee00000, 0x35, true);
    assert_int_equal(msix_vector_irqfd(&f->msix, 5), -1);
    assert_int_equal(hook_calls, 7);                         /* the enable only */
}

/* An I/O thread signals while a vCPU toggles the mask: every signal is either injected
 * or left pending, and unmasking at the end flushes the pending one. */
struct race {
    struct fixture *f;
    unsigned n;
};

static void *race_signal(void *arg)
{
    struct race *r = arg;
    for (unsigned i = 0; i < r->n; i++)
        msix_signal(&r->f->msix, 7);
    return NULL;
}

static void test_signal_race(void **state)
{
    struct fixture *f = *state;
    enable(f, true, false);
    program(f, 7, 0xfee00000, 0x37, true);
    struct race r = { f, 200000 };
    pthread_t t;
    pthread_create(&t, NULL, race_signal, &r);
    uint64_t got = 0;
    for (unsigned i = 0; i < 2000; i++) {
        bar_write32(f, TABLE_OFF + 7 * 16 + 12, i & 1 ? 0 : 1);
        got += fr_count(&f->fr, 0);
    }
    pthread_join(t, NULL);
    bar_write32(f, TABLE_OFF + 7 * 16 + 12, 0);
    got += fr_count(&f->fr, 0);
    /* Signals coalesce while pending, so fewer injections than signals, but at least
     * one, and nothing is left pending once unmasked. */
    assert_true(got >= 1 && got <= r.n);
    assert_false(msix_vector_pending(&f->msix, 7));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_capability),           T(test_table_rw),    T(test_malformed_mmio),
        T(test_delivery_and_pending), T(test_vector_mask), T(test_function_mask),
        T(test_route_failure),        T(test_reset),       T(test_irqfd_and_change_hook),
        T(test_signal_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
