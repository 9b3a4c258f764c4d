#include "vm/acpi.h"

#include <stdbool.h>
#include <string.h>

#include "base/util.h"
#include "vm/aml.h"
#include "vm/dsdt.h"
#include "vm/layout.h"

#define SDT_HEADER_SIZE 36      /* ACPI 6.4 §5.2.6 */
#define RSDP_SIZE       36      /* §5.2.5.3, revision 2 */
#define FADT_SIZE       276     /* §5.2.9, revision 6 */
#define MCFG_SIZE       60      /* PCI Firmware 3.3 §4.1.2: header, 8 reserved, 1 entry */

/* FADT Flags (§5.2.9, Table 5.10) */
#define FADT_PWR_BUTTON     (1u << 4)    /* no fixed-feature power button */
#define FADT_SLP_BUTTON     (1u << 5)
#define FADT_RESET_REG_SUP  (1u << 10)
#define FADT_HEADLESS       (1u << 12)
#define FADT_HW_REDUCED     (1u << 20)
/* IA-PC Boot Architecture Flags (§5.2.9.3, Table 5.11): bit 0 (legacy devices) and
 * bit 1 (8042) clear: no ISA devices beyond those in the DSDT, no keyboard controller. */
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_PCIE_ASPM_CTRLS (1u << 4)   /* OSPM must not enable ASPM */
#define BOOT_CMOS_RTC_ABSENT (1u << 5)   /* vpf emulates no RTC at 0x70 */

#define GAS_SYSTEM_IO   1       /* §5.2.3.2 */
#define GAS_ACCESS_BYTE 1

/* MADT (§5.2.12) */
#define MADT_PCAT_COMPAT   1u   /* KVM's in-kernel 8259s exist (masked by Linux) */
#define MADT_LAPIC         0
#define MADT_IOAPIC        1
#define MADT_LAPIC_ENABLED 1u
#define MADT_IOAPIC_ID     0    /* KVM's IOAPIC resets with ID 0 */

struct acpi_out {
    uint8_t *buf;
    uint64_t gpa;
    size_t size, len;
    bool err;
};

/* Next table slot, 16-byte aligned, zeroed; NULL (and err) if n bytes do not fit. */
static uint8_t *acpi_alloc(struct acpi_out *o, size_t n, uint64_t *gpa)
{
    size_t off = (size_t)ALIGN_UP(o->len, 16);
    if (o->err || off > o->size || n > o->size - off) {
        o->err = true;
        return NULL;
    }
    memset(o->buf + off, 0, n);
    o->len = off + n;
    *gpa = o->gpa + off;
    return o->buf + off;
}

static uint8_t acpi_checksum(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* §5.2.6: the header common to all tables but the RSDP; the checksum is set last. */
static void sdt_header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(p, sig, 4);
    st_le32(p + 4, len);
    p[8] = rev;
    memcpy(p + 10, ACPI_OEM_ID, 6);
    memcpy(p + 16, ACPI_OEM_TABLE_ID, 8);
    st_le32(p + 24, 1);                 /* OEM revision */
    memcpy(p + 28, "VPF ", 4);          /* creator ID */
    st_le32(p + 32, 1);                 /* creator revision */
}

static void sdt_finish(uint8_t *p)
{
    p[9] = 0;
    p[9] = acpi_checksum(p, ld_le32(p + 4));
}

/* §5.2.3.2: Generic Address Structure for a byte-wide I/O port. */
static void gas_io8(uint8_t *p, uint16_t port)
{
    p[0] = GAS_SYSTEM_IO;
    p[1] = 8;
    p[2] = 0;
    p[3] = GAS_ACCESS_BYTE;
    st_le64(p + 4, port);
}

static uint64_t build_dsdt(struct acpi_out *o)
{
    uint64_t gpa;
    size_t off = (size_t)ALIGN_UP(o->len, 16);
    if (o->err || off > o->size || o->size - off < SDT_HEADER_SIZE) {
        o->err = true;
        return 0;
    }
    struct aml a;
    aml_init(&a, o->buf + off + SDT_HEADER_SIZE, o->size - off - SDT_HEADER_SIZE);
    dsdt_build(&a);
    if (a.err) {
        o->err = true;
        return 0;
    }
    /* The AML is already in place; claim it and write the header in front. */
    size_t len = SDT_HEADER_SIZE + a.len;
    uint8_t *p = o->buf + off;
    o->len = off + len;
    gpa = o->gpa + off;
    memset(p, 0, SDT_HEADER_SIZE);
    /* Revision 2: AML integers are 64 bits (ACPI 6.4 §5.2.11.1). */
    sdt_header(p, "DSDT", (uint32_t)len, 2);
    sdt_finish(p);
    return gpa;
}

static uint64_t build_fadt(struct acpi_out *o, uint64_t dsdt)
{
    uint64_t gpa;
    uint8_t *p = acpi_alloc(o, FADT_SIZE, &gpa);
    if (!p)
        return 0;
    sdt_header(p, "FACP", FADT_SIZE, 6);
    /* DSDT (offset 40) stays 0: X_DSDT is used (§5.2.9). SCI_INT 0: no SCI when
     * hardware-reduced (Linux skips the SCI override then). */
    st_le16(p + 109, BOOT_VGA_NOT_PRESENT | BOOT_PCIE_ASPM_CTRLS | BOOT_CMOS_RTC_ABSENT);
    st_le32(p + 112, FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP | FADT_HEADLESS |
                         FADT_HW_REDUCED);
    gas_io8(p + 116, LAYOUT_PORT_ACPI_PM + ACPI_RESET_OFF);        /* RESET_REG */
    p[128] = ACPI_RESET_VALUE;
    p[131] = 4;                                                     /* FADT minor version: 6.4 */
    st_le64(p + 140, dsdt);                                         /* X_DSDT */
    gas_io8(p + 244, LAYOUT_PORT_ACPI_PM + ACPI_SLEEP_CONTROL_OFF); /* SLEEP_CONTROL_REG */
    gas_io8(p + 256, LAYOUT_PORT_ACPI_PM + ACPI_SLEEP_STATUS_OFF);  /* SLEEP_STATUS_REG */
    memcpy(p + 268, "VPF     ", 8);                                 /* hypervisor vendor */
    sdt_finish(p);
    return gpa;
}

static uint64_t build_madt(struct acpi_out *o, unsigned ncpus)
{
    uint64_t gpa;
    uint32_t len = 44 + 8 * ncpus + 12;
    uint8_t *p = acpi_alloc(o, len, &gpa);
    if (!p)
        return 0;
    sdt_header(p, "APIC", len, 5);
    st_le32(p + 36, (uint32_t)LAYOUT_LAPIC);
    st_le32(p + 40, MADT_PCAT_COMPAT);
    uint8_t *e = p + 44;
    for (unsigned i = 0; i < ncpus; i++, e += 8) {     /* §5.2.12.2 */
        e[0] = MADT_LAPIC;
        e[1] = 8;
        e[2] = (uint8_t)i;                              /* ACPI processor UID */
        e[3] = (uint8_t)i;                              /* APIC ID, as vCPU i gets */
        st_le32(e + 4, MADT_LAPIC_ENABLED);
    }
    /* §5.2.12.3. No interrupt source overrides: KVM routes ISA IRQ n to IOAPIC pin n
     * (the PIT included, on GSI 0), which is Linux's identity default. */
    e[0] = MADT_IOAPIC;
    e[1] = 12;
    e[2] = MADT_IOAPIC_ID;
    st_le32(e + 4, (uint32_t)LAYOUT_IOAPIC);
    st_le32(e + 8, 0);                                  /* GSI base */
    sdt_finish(p);
    return gpa;
}

static uint64_t build_mcfg(struct acpi_out *o)
{
    uint64_t gpa;
    uint8_t *p = acpi_alloc(o, MCFG_SIZE, &gpa);
    if (!p)
        return 0;
    sdt_header(p, "MCFG", MCFG_SIZE, 1);
    uint8_t *e = p + 44;                                /* after 8 reserved bytes */
    st_le64(e, LAYOUT_ECAM);
    st_le16(e + 8, 0);                                  /* segment group */
    e[10] = 0;                                          /* start bus */
    e[11] = LAYOUT_ECAM_LAST_BUS;                       /* end bus */
    sdt_finish(p);
    return gpa;
}

/* Linux on hardware-reduced ACPI without EFI runtime reboots through EFI (a no-op) and
 * then the BIOS (arch/x86/kernel/reboot.c: reboot_init picks BOOT_EFI when
 * efi_reboot_required(), then machine_real_restart jumps to f000:fff0). vpf has no BIOS,
 * so the reset vector holds what one would do there: write the FADT reset register.
 *   mov al, RESET_VALUE; mov dx, port; out dx, al; cli; 1: hlt; jmp 1b */
static void acpi_reset_stub(uint8_t *p)
{
    uint16_t port = LAYOUT_PORT_ACPI_PM + ACPI_RESET_OFF;
    const uint8_t stub[ACPI_RESET_STUB_SIZE] = {
        0xb0,
        ACPI_RESET_VALUE,
        0xba,
        (uint8_t)port,
        (uint8_t)(port >> 8),
        0xee,
        0xfa,
        0xf4,
        0xeb,
        0xfd,
        0xf4,
        0xf4,
        0xf4,
        0xf4,
        0xf4,
        0xf4,
    };
    memcpy(p, stub, sizeof(stub));
}

ssize_t acpi_build(void *buf, uint64_t gpa, size_t size, unsigned ncpus)
{
    if (ncpus == 0 || ncpus > ACPI_MAX_CPUS || gpa % 16)
        return -1;
    /* If the region covers the reset vector, the tables stop short of it. */
    bool stub = gpa <= LAYOUT_RESET_VECTOR && LAYOUT_RESET_VECTOR - gpa <= size &&
                ACPI_RESET_STUB_SIZE <= size - (LAYOUT_RESET_VECTOR - gpa);
    struct acpi_out o = { .buf = buf,
                          .gpa = gpa,
                          .size = stub ? (size_t)(LAYOUT_RESET_VECTOR - gpa) : size };
    uint64_t rsdp_gpa, xsdt_gpa;
    uint8_t *rsdp = acpi_alloc(&o, RSDP_SIZE, &rsdp_gpa);
    uint64_t dsdt = build_dsdt(&o);
    uint64_t tables[] = { build_fadt(&o, dsdt), build_madt(&o, ncpus), build_mcfg(&o) };
    uint32_t xlen = SDT_HEADER_SIZE + 8 * ARRAY_SIZE(tables);
    uint8_t *xsdt = acpi_alloc(&o, xlen, &xsdt_gpa);
    if (o.err)
        return -1;

    sdt_header(xsdt, "XSDT", xlen, 1);                  /* §5.2.8 */
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
        st_le64(xsdt + SDT_HEADER_SIZE + 8 * i, tables[i]);
    sdt_finish(xsdt);

    memcpy(rsdp, "RSD PTR ", 8);                        /* §5.2.5.3 */
    memcpy(rsdp + 9, ACPI_OEM_ID, 6);
    rsdp[15] = 2;                                       /* revision: ACPI 2.0+ */
    st_le32(rsdp + 16, 0);                              /* no RSDT */
    st_le32(rsdp + 20, RSDP_SIZE);
    st_le64(rsdp + 24, xsdt_gpa);
    rsdp[8] = acpi_checksum(rsdp, 20);
    rsdp[32] = acpi_checksum(rsdp, RSDP_SIZE);
    if (stub)
        acpi_reset_stub(o.buf + (LAYOUT_RESET_VECTOR - gpa));
    return (ssize_t)o.len;
}
