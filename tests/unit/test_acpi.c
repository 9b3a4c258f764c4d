#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "base/util.h"
#include "vm/acpi.h"
#include "vm/layout.h"

static uint8_t mem[LAYOUT_ACPI_SIZE];

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Host pointer of a table at gpa, after checking it lies in the region and sums to 0. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
    assert_true(gpa >= LAYOUT_ACPI && gpa - LAYOUT_ACPI + 36 <= sizeof(mem));
    const uint8_t *p = mem + (gpa - LAYOUT_ACPI);
    uint32_t len = ld_le32(p + 4);
    assert_true(len >= 36 && gpa - LAYOUT_ACPI + len <= sizeof(mem));
    assert_memory_equal(p, sig, 4);
    assert_int_equal(sum(p, len), 0);
    return p;
}

static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig)
{
    uint32_t n = (ld_le32(xsdt + 4) - 36) / 8;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t gpa = ld_le64(xsdt + 36 + 8 * i);
        const uint8_t *p = mem + (gpa - LAYOUT_ACPI);
        if (gpa >= LAYOUT_ACPI && gpa - LAYOUT_ACPI < sizeof(mem) && !memcmp(p, sig, 4))
            return table_at(gpa, sig);
    }
    fail_msg("%s not in XSDT", sig);
    return NULL;
}

static const uint8_t *build(unsigned ncpus)
{
    memset(mem, 0xcc, sizeof(mem));
    ssize_t n = acpi_build(mem, LAYOUT_ACPI, sizeof(mem), ncpus);
    assert_true(n > 0 && (size_t)n <= sizeof(mem));
    /* RSDP at the start, revision 2, both checksums. */
    assert_memory_equal(mem, "RSD PTR ", 8);
    assert_int_equal(mem[15], 2);
    assert_int_equal(sum(mem, 20), 0);
    assert_int_equal(ld_le32(mem + 20), 36);
    assert_int_equal(sum(mem, 36), 0);
    assert_int_equal(ld_le32(mem + 16), 0);
    return table_at(ld_le64(mem + 24), "XSDT");
}

static void test_table_set(void **state)
{
    const uint8_t *xsdt = build(4);
    assert_int_equal(ld_le32(xsdt + 4), 36 + 3 * 8);
    xsdt_find(xsdt, "FACP");
    xsdt_find(xsdt, "APIC");
    xsdt_find(xsdt, "MCFG");
}

static void test_fadt(void **state)
{
    const uint8_t *f = xsdt_find(build(2), "FACP");
    assert_int_equal(ld_le32(f + 4), 276);
    assert_int_equal(f[8], 6);
    assert_int_equal(ld_le32(f + 40), 0);                   /* 32-bit DSDT unused */
    const uint8_t *dsdt = table_at(ld_le64(f + 140), "DSDT");
    assert_int_equal(dsdt[8], 2);
    uint32_t flags = ld_le32(f + 112);
    assert_true(flags & (1u << 20));                        /* HW_REDUCED_ACPI */
    assert_true(flags & (1u << 10));                        /* RESET_REG_SUP */
    uint16_t boot = ld_le16(f + 109);
    assert_int_equal(boot & 3, 0);                          /* no legacy devices, no 8042 */
    assert_true(boot & (1u << 2));                          /* VGA not present */
    /* Reset and sleep registers: byte I/O ports at the layout's offsets. */
    const uint8_t reset[] = { 1, 8, 0, 1 };
    assert_memory_equal(f + 116, reset, 4);
    assert_true(ld_le64(f + 120) == LAYOUT_PORT_ACPI_PM + ACPI_RESET_OFF);
    assert_int_equal(f[128], ACPI_RESET_VALUE);
    assert_memory_equal(f + 244, reset, 4);
    assert_true(ld_le64(f + 248) == LAYOUT_PORT_ACPI_PM + ACPI_SLEEP_CONTROL_OFF);
    assert_memory_equal(f + 256, reset, 4);
    assert_true(ld_le64(f + 260) == LAYOUT_PORT_ACPI_PM + ACPI_SLEEP_STATUS_OFF);
    /* No fixed-hardware blocks in a hardware-reduced FADT. */
    for (unsigned off = 148; off < 244; off++)
        assert_int_equal(f[off], 0);
    assert_int_equal(ld_le16(f + 46), 0);                   /* SCI_INT */
}

static void check_madt(unsigned ncpus)
{
    const uint8_t *m = xsdt_find(build(ncpus), "APIC");
    assert_int_equal(ld_le32(m + 36), LAYOUT_LAPIC);
    uint32_t len = ld_le32(m + 4);
    unsigned lapics = 0, ioapics = 0;
    for (uint32_t off = 44; off < len;) {
        const uint8_t *e = m + off;
        assert_true(e[1] >= 2 && off + e[1] <= len);
        if (e[0] == 0) {
            assert_int_equal(e[1], 8);
            assert_int_equal(e[3], lapics);                 /* APIC IDs 0..n-1 in order */
            assert_int_equal(ld_le32(e + 4) & 1, 1);        /* enabled */
            lapics++;
        } else if (e[0] == 1) {
            assert_int_equal(e[1], 12);
            assert_int_equal(ld_le32(e + 4), LAYOUT_IOAPIC);
            assert_int_equal(ld_le32(e + 8), 0);            /* GSI base */
            ioapics++;
        } else {
            fail_msg("unexpected MADT entry type %u", e[0]);
        }
        off += e[1];
    }
    assert_int_equal(lapics, ncpus);
    assert_int_equal(ioapics, 1);
}

static void test_madt(void **state)
{
    check_madt(1);
    check_madt(7);
    check_madt(ACPI_MAX_CPUS);
}

static void test_mcfg(void **state)
{
    const uint8_t *m = xsdt_find(build(1), "MCFG");
    assert_int_equal(ld_le32(m + 4), 60);
    assert_true(ld_le64(m + 44) == LAYOUT_ECAM);
    assert_int_equal(ld_le16(m + 52), 0);
    assert_int_equal(m[54], 0);
    assert_int_equal(m[55], LAYOUT_ECAM_LAST_BUS);
    /* The ECAM size the layout reserves is what the bus range needs. */
    assert_true(LAYOUT_ECAM_SIZE == (LAYOUT_ECAM_LAST_BUS + 1) * MiB);
}

static bool contains(const uint8_t *p, size_t n, const uint8_t *pat, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(p + i, pat, m))
            return true;
    return false;
}

static const uint8_t *dsdt_of(size_t *len)
{
    const uint8_t *f = xsdt_find(build(1), "FACP");
    const uint8_t *d = table_at(ld_le64(f + 140), "DSDT");
    *len = ld_le32(d + 4);
    return d;
}

/* The windows in PCI0._CRS and MRES._CRS, re-encoded here from layout.h by hand
 * (ACPI 6.4 §6.4.3.5), must appear in the DSDT. */
static void test_dsdt_windows(void **state)
{
    size_t n;
    const uint8_t *d = dsdt_of(&n);
    uint8_t q[46] = { 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03 };
    st_le64(q + 14, LAYOUT_MMIO64_START);
    st_le64(q + 22, LAYOUT_MMIO64_START + LAYOUT_MMIO64_SIZE - 1);
    st_le64(q + 38, LAYOUT_MMIO64_SIZE);
    assert_true(contains(d, n, q, sizeof(q)));
    uint8_t dw[26] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01 };
    st_le32(dw + 10, LAYOUT_MMIO32_START);
    st_le32(dw + 14, LAYOUT_MMIO32_START + LAYOUT_MMIO32_SIZE - 1);
    st_le32(dw + 22, LAYOUT_MMIO32_SIZE);
    assert_true(contains(d, n, dw, sizeof(dw)));
    uint8_t bus[16] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00 };
    st_le16(bus + 10, LAYOUT_ECAM_LAST_BUS);
    st_le16(bus + 14, LAYOUT_ECAM_LAST_BUS + 1);
    assert_true(contains(d, n, bus, sizeof(bus)));
    uint8_t io[16] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03 };
    st_le16(io + 8, LAYOUT_PCI_IO_START);
    st_le16(io + 10, LAYOUT_PCI_IO_END);
    st_le16(io + 14, LAYOUT_PCI_IO_END - LAYOUT_PCI_IO_START + 1);
    assert_true(contains(d, n, io, sizeof(io)));
    uint8_t ecam[12] = { 0x86, 0x09, 0x00, 0x01 };
    st_le32(ecam + 4, LAYOUT_ECAM);
    st_le32(ecam + 8, LAYOUT_ECAM_SIZE);
    assert_true(contains(d, n, ecam, sizeof(ecam)));
    uint8_t com[] = { 0x47,
                      0x01,
                      LAYOUT_PORT_COM1 & 0xff,
                      LAYOUT_PORT_COM1 >> 8,
                      LAYOUT_PORT_COM1 & 0xff,
                      LAYOUT_PORT_COM1 >> 8,
                      1,
                      8,
                      0x22,
                      1u << LAYOUT_IRQ_COM1,
                      0 };
    assert_true(contains(d, n, com, sizeof(com)));
    uint8_t pvp[] = { 0x47,
                      0x01,
                      LAYOUT_PORT_PVPANIC & 0xff,
                      LAYOUT_PORT_PVPANIC >> 8,
                      LAYOUT_PORT_PVPANIC & 0xff,
                      LAYOUT_PORT_PVPANIC >> 8,
                      1,
                      1 };
    assert_true(contains(d, n, pvp, sizeof(pvp)));
    /* Name (_S5, Package () { 5, 5, 0, 0 }) */
    uint8_t s5[] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, ACPI_S5_SLP_TYP, 0x0a, ACPI_S5_SLP_TYP,
        0x00, 0x00
    };
    assert_true(contains(d, n, s5, sizeof(s5)));
    const char *names[] = { "PCI0", "MRES", "COM1", "PEVT", "_OSC", "_SEG", "_BBN", "QEMU0001" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        assert_true(contains(d, n, (const uint8_t *)names[i], strlen(names[i])));
}

/* With acpica-tools installed, the reference disassembler must accept the DSDT and find
 * the devices in it. */
static void test_dsdt_iasl(void **state)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        skip();
    size_t n;
    const uint8_t *d = dsdt_of(&n);
    char dir[] = "/tmp/vpf-acpi-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "cd %s && iasl -d dsdt.dat >log 2>&1 && grep -q 'Device (PCI0)' dsdt.dsl && "
             "grep -q 'QWordMemory' dsdt.dsl && grep -q 'PNP0C02' dsdt.dsl && "
             "grep -q 'Method (_OSC, 4' dsdt.dsl && grep -q 'Device (GED0)' dsdt.dsl && "
             "grep -q 'ACPI0013' dsdt.dsl && grep -q 'PNP0C0C' dsdt.dsl && "
             "grep -q 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )' dsdt.dsl && "
             "grep -q 'Notify (PWRB, 0x80)' dsdt.dsl && grep -q 'Method (_EVT, 1' dsdt.dsl && "
             "! grep -qi 'error' log",
             dir);
    int rc = system(cmd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", dir);
    assert_int_equal(rc, 0);
}

/* The reset vector gets a stub that writes the FADT reset register; tables stay below. */
static void test_reset_stub(void **state)
{
    memset(mem, 0xcc, sizeof(mem));
    ssize_t n = acpi_build(mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE, ACPI_MAX_CPUS);
    assert_true(n > 0 && (uint64_t)n <= LAYOUT_RESET_VECTOR - LAYOUT_ACPI);
    const uint8_t *s = mem + (LAYOUT_RESET_VECTOR - LAYOUT_ACPI);
    uint16_t port = LAYOUT_PORT_ACPI_PM + ACPI_RESET_OFF;
    const uint8_t expect[] = { 0xb0,      ACPI_RESET_VALUE,                 /* mov al, value */
                               0xba,      port & 0xff,
                               port >> 8,           /* mov dx, port */
                               0xee,                                   /* out dx, al */
                               0xfa,      0xf4,
                               0xeb,      0xfd };               /* cli; hlt; jmp */
    assert_memory_equal(s, expect, sizeof(expect));
    assert_true(LAYOUT_RESET_VECTOR + ACPI_RESET_STUB_SIZE == LAYOUT_ACPI + LAYOUT_ACPI_SIZE);
    /* A region that stops short of the reset vector gets no stub. */
    memset(mem, 0xcc, sizeof(mem));
    assert_true(acpi_build(mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE - 1, 1) > 0);
    assert_int_equal(mem[LAYOUT_RESET_VECTOR - LAYOUT_ACPI], 0xcc);
}

static void test_limits(void **state)
{
    assert_int_equal(acpi_build(mem, LAYOUT_ACPI, sizeof(mem), 0), -1);
    assert_int_equal(acpi_build(mem, LAYOUT_ACPI, sizeof(mem), ACPI_MAX_CPUS + 1), -1);
    assert_int_equal(acpi_build(mem, LAYOUT_ACPI + 8, sizeof(mem), 1), -1);
    /* The largest set fits the region with room to spare. */
    ssize_t need = acpi_build(mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE, ACPI_MAX_CPUS);
    assert_true(need > 0 && need <= (ssize_t)LAYOUT_ACPI_SIZE);
    /* Every smaller buffer fails cleanly and never writes past its end. */
    for (ssize_t size = 0; size < need; size++) {
        memset(mem, 0xcc, sizeof(mem));
        assert_int_equal(acpi_build(mem, LAYOUT_ACPI, (size_t)size, ACPI_MAX_CPUS), -1);
        for (size_t i = (size_t)size; i < (size_t)need; i++)
            if (mem[i] != 0xcc)
                fail_msg("size %zd: byte %zu written", size, i);
    }
    assert_int_equal(acpi_build(mem, LAYOUT_ACPI, (size_t)need, ACPI_MAX_CPUS), need);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_set),    cmocka_unit_test(test_fadt),
        cmocka_unit_test(test_madt),         cmocka_unit_test(test_mcfg),
        cmocka_unit_test(test_dsdt_windows), cmocka_unit_test(test_dsdt_iasl),
        cmocka_unit_test(test_reset_stub),   cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
