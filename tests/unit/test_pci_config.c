#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pci/config.h"

static const struct pci_ids ids = {
    .vendor = 0x1af4,
    .device = 0x1041,
    .subsys_vendor = 0x1af4,
    .subsys_id = 0x1100,
    .class_code = 0x020000,
    .revision = 1,
};

static void test_header(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    assert_int_equal(pci_config_read(&c, PCI_VENDOR_ID, 4), 0x10411af4);
    assert_int_equal(pci_config_read(&c, PCI_CLASS_REVISION, 4), 0x02000001);
    assert_int_equal(pci_config_read(&c, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
    assert_int_equal(pci_config_read(&c, PCI_HEADER_TYPE, 1), 0);
    assert_int_equal(pci_config_read(&c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
    assert_int_equal(pci_config_read(&c, PCI_INTERRUPT_PIN, 1), 0);
    /* No extended capabilities: the dword at 0x100 reads 0. */
    assert_int_equal(pci_config_read(&c, 0x100, 4), 0);
}

static void test_masks(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    /* RO: IDs ignore writes. */
    assert_int_equal(pci_config_write(&c, PCI_VENDOR_ID, 4, 0xdeadbeef), 0);
    assert_int_equal(pci_config_read(&c, PCI_VENDOR_ID, 4), 0x10411af4);
    /* RW: only implemented command bits stick; I/O space is hardwired 0. */
    pci_config_write(&c, PCI_COMMAND, 2, 0xffff);
    assert_int_equal(pci_config_read(&c, PCI_COMMAND, 2),
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
                         PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    /* W1C: set by vpf, cleared by writing 1, untouched by writing 0. */
    pci_config_set16(&c, PCI_STATUS,
                     PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
                         PCI_STATUS_CAP_LIST);
    pci_config_write(&c, PCI_STATUS, 2, 0);
    assert_int_equal(pci_config_read(&c, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT |
                                                             PCI_STATUS_SIG_SYSTEM_ERROR |
                                                             PCI_STATUS_CAP_LIST);
    pci_config_write(&c, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
    assert_int_equal(pci_config_read(&c, PCI_STATUS, 2),
                     PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_CAP_LIST);
    /* A dword write at 0x04 writes command and status together. */
    pci_config_write(&c, PCI_COMMAND, 4, 0xffff0000);
    assert_int_equal(pci_config_read(&c, PCI_COMMAND, 4), PCI_STATUS_CAP_LIST << 16);
    /* Setting one mask removes the bits from the other. */
    pci_config_set_w1cmask(&c, 0x40, 4, 0x0000ff00);
    pci_config_set_wmask(&c, 0x40, 4, 0x0000ffff);
    pci_config_set32(&c, 0x40, 0x12345678);
    pci_config_write(&c, 0x40, 4, 0xffffffff);
    assert_int_equal(pci_config_read(&c, 0x40, 4), 0x1234ffff);
}

static void test_subdword(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    pci_config_set_wmask(&c, 0x48, 4, 0xffffffff);
    pci_config_write(&c, 0x48, 4, 0x11223344);
    assert_int_equal(pci_config_read(&c, 0x48, 1), 0x44);
    assert_int_equal(pci_config_read(&c, 0x49, 1), 0x33);
    assert_int_equal(pci_config_read(&c, 0x4a, 2), 0x1122);
    pci_config_write(&c, 0x4b, 1, 0xaa);
    pci_config_write(&c, 0x48, 2, 0xbbcc);
    assert_int_equal(pci_config_read(&c, 0x48, 4), 0xaa22bbcc);
    /* Interrupt Line (byte) is writable inside an otherwise read-only dword. */
    pci_config_write(&c, PCI_INTERRUPT_LINE, 4, 0xffffffff);
    assert_int_equal(pci_config_read(&c, PCI_INTERRUPT_LINE, 4), 0xff);
}

static void test_malformed(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    pci_config_set_wmask(&c, 0x48, 4, 0xffffffff);
    /* Unaligned, bad sizes, out of range: all ones, writes refused. */
    assert_int_equal(pci_config_read(&c, 0x49, 2), 0xffff);
    assert_int_equal(pci_config_read(&c, 0x4a, 4), 0xffffffff);
    assert_int_equal(pci_config_read(&c, 0x48, 3), 0xffffffff);
    assert_int_equal(pci_config_read(&c, 0x48, 8), 0xffffffff);
    assert_int_equal(pci_config_read(&c, 0x48, 0), 0xffffffff);
    assert_int_equal(pci_config_read(&c, 4096, 1), 0xff);
    assert_int_equal(pci_config_read(&c, 0xfffffffc, 4), 0xffffffff);
    assert_int_equal(pci_config_write(&c, 0x49, 2, 0), -1);
    assert_int_equal(pci_config_write(&c, 0x48, 3, 0), -1);
    assert_int_equal(pci_config_write(&c, 4096, 4, 0), -1);
    assert_int_equal(pci_config_write(&c, 0xfffffffe, 2, 0), -1);
    assert_int_equal(pci_config_read(&c, 0x48, 4), 0);
    /* The last dword is reachable. */
    assert_int_equal(pci_config_read(&c, 4092, 4), 0);
}

static void test_cap_list(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_VNDR), -1);
    int a = pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 5);
    int b = pci_config_add_cap(&c, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
    int d = pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 16);
    assert_int_equal(a, 0x40);
    assert_int_equal(b, 0x48);   /* dword aligned after a 5-byte capability */
    assert_int_equal(d, 0x54);
    assert_true(pci_config_read(&c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    /* Walk as a guest does. */
    unsigned off = pci_config_read(&c, PCI_CAPABILITY_LIST, 1);
    unsigned seen[3], n = 0;
    while (off && n < 3) {
        seen[n++] = off;
        off = pci_config_read(&c, off + PCI_CAP_LIST_NEXT, 1);
    }
    assert_int_equal(n, 3);
    assert_int_equal(off, 0);
    assert_int_equal(seen[0], 0x40);
    assert_int_equal(seen[1], 0x48);
    assert_int_equal(seen[2], 0x54);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_MSIX), 0x48);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_VNDR), 0x40);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_EXP), -1);
    /* Capability headers are read-only to the guest. */
    pci_config_write(&c, 0x40, 4, 0);
    assert_int_equal(pci_config_read(&c, 0x40, 2), PCI_CAP_ID_VNDR | 0x48 << 8);
    /* Does not fit: refused, list unchanged. */
    assert_int_equal(pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 0x100), -1);
    assert_int_equal(pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 1), -1);
    while (pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 16) >= 0)
        ;
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_EXP), -1);
}

static void test_cap_loop_bounded(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    int a = pci_config_add_cap(&c, PCI_CAP_ID_VNDR, 4);
    /* A corrupt list pointing at itself must not hang the walk. */
    pci_config_set8(&c, a + 1, (uint8_t)a);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_EXP), -1);
    /* Same for the extended list. */
    pci_config_set32(&c, 0x100, 0x1 | 0x100u << 20);
    assert_int_equal(pci_config_find_ecap(&c, PCI_EXT_CAP_ID_SRIOV), -1);
}

static void test_ecap_list(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    assert_int_equal(pci_config_find_ecap(&c, PCI_EXT_CAP_ID_SRIOV), -1);
    int a = pci_config_add_ecap(&c, PCI_EXT_CAP_ID_ARI, 1, 8);
    int b = pci_config_add_ecap(&c, PCI_EXT_CAP_ID_SRIOV, 1, PCI_EXT_CAP_SRIOV_SIZEOF);
    assert_int_equal(a, 0x100);
    assert_int_equal(b, 0x108);
    uint32_t hdr = pci_config_read(&c, 0x100, 4);
    assert_int_equal(PCI_EXT_CAP_ID(hdr), PCI_EXT_CAP_ID_ARI);
    assert_int_equal(PCI_EXT_CAP_VER(hdr), 1);
    assert_int_equal(PCI_EXT_CAP_NEXT(hdr), 0x108);
    hdr = pci_config_read(&c, 0x108, 4);
    assert_int_equal(PCI_EXT_CAP_ID(hdr), PCI_EXT_CAP_ID_SRIOV);
    assert_int_equal(PCI_EXT_CAP_NEXT(hdr), 0);
    assert_int_equal(pci_config_find_ecap(&c, PCI_EXT_CAP_ID_SRIOV), 0x108);
    assert_int_equal(pci_config_add_ecap(&c, 0x1, 1, 0x1000), -1);
    assert_int_equal(pci_config_add_ecap(&c, 0x1, 1, 2), -1);
}

static void test_pcie_cap(void **state)
{
    static struct pci_config c;
    pci_config_init(&c, &ids);
    int p = pci_config_add_pcie_cap(&c, PCI_EXP_TYPE_RC_END);
    assert_true(p >= 0x40);
    assert_int_equal(pci_config_find_cap(&c, PCI_CAP_ID_EXP), p);
    uint16_t flags = pci_config_read(&c, p + PCI_EXP_FLAGS, 2);
    assert_int_equal(flags & PCI_EXP_FLAGS_VERS, 2);
    assert_int_equal((flags & PCI_EXP_FLAGS_TYPE) >> 4, PCI_EXP_TYPE_RC_END);
    assert_int_equal(pci_config_read(&c, p + PCI_EXP_LNKCAP, 4), 0);
    /* DEVCTL: payload field writable, FLR bit not (no FLR). */
    pci_config_write(&c, p + PCI_EXP_DEVCTL, 2, 0xffff);
    uint16_t ctl = pci_config_read(&c, p + PCI_EXP_DEVCTL, 2);
    assert_int_equal(ctl & PCI_EXP_DEVCTL_BCR_FLR, 0);
    assert_int_equal(ctl & PCI_EXP_DEVCTL_PAYLOAD, PCI_EXP_DEVCTL_PAYLOAD);
    /* DEVSTA error bits are W1C. */
    pci_config_set16(&c, p + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_URD);
    pci_config_write(&c, p + PCI_EXP_DEVSTA, 2, PCI_EXP_DEVSTA_URD);
    assert_int_equal(pci_config_read(&c, p + PCI_EXP_DEVSTA, 2), 0);

    static struct pci_config e;
    pci_config_init(&e, &ids);
    p = pci_config_add_pcie_cap(&e, PCI_EXP_TYPE_ENDPOINT);
    assert_int_equal((pci_config_read(&e, p + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4,
                     PCI_EXP_TYPE_ENDPOINT);
    assert_int_equal(pci_config_read(&e, p + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_NLW,
                     PCI_EXP_LNKSTA_NLW_X1);
    assert_int_equal(pci_config_add_pcie_cap(&e, PCI_EXP_TYPE_ROOT_PORT), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),    cmocka_unit_test(test_masks),
        cmocka_unit_test(test_subdword),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cap_list),  cmocka_unit_test(test_cap_loop_bounded),
        cmocka_unit_test(test_ecap_list), cmocka_unit_test(test_pcie_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
