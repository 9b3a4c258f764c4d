/* vpf's DSDT, generated as AML so every window comes from layout.h. In ASL it reads:
 *
 *   Scope (\_SB) {
 *     Device (PCI0) {                        // PCIe host bridge (PCI Firmware 3.3 §4.1.5)
 *       Name (_HID, EisaId ("PNP0A08"))  Name (_CID, EisaId ("PNP0A03"))
 *       Name (_SEG, 0)  Name (_BBN, 0)  Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () {
 *         WordBusNumber (0 .. ECAM_LAST_BUS)
 *         IO (Decode16, 0xcf8, 0xcf8, 1, 8)            // conf1, consumed by the bridge
 *         WordIO (0x0000 .. 0x0cf7)  WordIO (PCI_IO_START .. PCI_IO_END)
 *         DWordMemory (MMIO32 window)  QWordMemory (MMIO64 window) })
 *       Method (_OSC, 4) { ... }                       // grants what the OS asks
 *     }
 *     Device (MRES) { PNP0C02, Memory32Fixed (ECAM) }  // MCFG reservation
 *     Device (COM1) { PNP0501, IO 0x3f8/8, IRQNoFlags {4} }
 *     Device (PEVT) { "QEMU0001", IO pvpanic/1 }
 *   }
 *   Name (_S5, Package () { 5, 5, 0, 0 })
 */
#include "vm/dsdt.h"

#include "vm/layout.h"

/* PCI Firmware 3.3 §4.5.1: the _OSC UUID of PCI host bridges. */
static const uint8_t pci_osc_uuid[16] = {
    0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40,
    0x96, 0x57, 0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66,   /* 33db4d5b-1ff7-401c-9657-7441c03dd766 */
};

static void dsdt_pci0_crs(struct aml *a)
{
    uint8_t buf[256];
    struct aml r;
    aml_init(&r, buf, sizeof(buf));
    aml_res_word_bus(&r, 0, LAYOUT_ECAM_LAST_BUS);
    aml_res_io(&r, LAYOUT_PORT_PCI_CF8, 1, 8);
    aml_res_word_io(&r, 0x0000, LAYOUT_PORT_PCI_CF8 - 1);
    aml_res_word_io(&r, LAYOUT_PCI_IO_START, LAYOUT_PCI_IO_END);
    aml_res_dword_mem(&r, (uint32_t)LAYOUT_MMIO32_START,
                      (uint32_t)(LAYOUT_MMIO32_START + LAYOUT_MMIO32_SIZE - 1), false);
    aml_res_qword_mem(&r, LAYOUT_MMIO64_START, LAYOUT_MMIO64_START + LAYOUT_MMIO64_SIZE - 1, true);
    aml_res_end(&r);
    a->err |= r.err;
    aml_name_decl(a, "_CRS");
    aml_buffer(a, r.buf, r.len);
}

/* Linux (drivers/acpi/pci_root.c, negotiate_os_control) asks a PNP0A08 bridge for native
 * control of PCIe features; without _OSC it keeps ASPM off and logs that firmware
 * retains control. vpf has no ports, hotplug or AER to keep, so it grants everything:
 *   Method (_OSC, 4) {
 *     CreateDWordField (Arg3, 0, CDW1)
 *     If (LNot (LEqual (Arg0, ToUUID (PCI host bridge)))) { Or (CDW1, 4, CDW1) }
 *     Return (Arg3)
 *   }
 * (CDW1 bit 2: unrecognized UUID, PCI Firmware 3.3 §4.5.1.) */
static void dsdt_pci0_osc(struct aml *a)
{
    size_t m = aml_method_open(a, "_OSC", 4, false);
    aml_byte(a, AML_CREATE_DWORD_FIELD);
    aml_byte(a, AML_ARG(3));
    aml_integer(a, 0);
    aml_name(a, "CDW1");
    size_t i = aml_if_open(a);
    aml_byte(a, AML_LNOT);
    aml_byte(a, AML_LEQUAL);
    aml_byte(a, AML_ARG(0));
    aml_buffer(a, pci_osc_uuid, sizeof(pci_osc_uuid));
    aml_byte(a, AML_OR);
    aml_name(a, "CDW1");
    aml_integer(a, 4);
    aml_name(a, "CDW1");
    aml_close(a, i);
    aml_byte(a, AML_RETURN);
    aml_byte(a, AML_ARG(3));
    aml_close(a, m);
}

static void dsdt_pci0(struct aml *a)
{
    size_t d = aml_device_open(a, "PCI0");
    aml_name_decl(a, "_HID");
    aml_eisaid(a, "PNP0A08");
    aml_name_decl(a, "_CID");
    aml_eisaid(a, "PNP0A03");
    aml_name_decl(a, "_SEG");
    aml_integer(a, 0);
    aml_name_decl(a, "_BBN");
    aml_integer(a, 0);
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    dsdt_pci0_crs(a);
    dsdt_pci0_osc(a);
    aml_close(a, d);
}

/* Linux uses MCFG only if the ECAM window is reserved by a motherboard resource device
 * (arch/x86/pci/mmconfig-shared.c, is_acpi_reserved). */
static void dsdt_mres(struct aml *a)
{
    uint8_t buf[32];
    struct aml r;
    aml_init(&r, buf, sizeof(buf));
    aml_res_mem32_fixed(&r, (uint32_t)LAYOUT_ECAM, (uint32_t)LAYOUT_ECAM_SIZE);
    aml_res_end(&r);
    a->err |= r.err;

    size_t d = aml_device_open(a, "MRES");
    aml_name_decl(a, "_HID");
    aml_eisaid(a, "PNP0C02");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_buffer(a, r.buf, r.len);
    aml_close(a, d);
}

static void dsdt_com1(struct aml *a)
{
    uint8_t buf[32];
    struct aml r;
    aml_init(&r, buf, sizeof(buf));
    aml_res_io(&r, LAYOUT_PORT_COM1, 1, 8);
    aml_res_irq(&r, 1u << LAYOUT_IRQ_COM1);
    aml_res_end(&r);
    a->err |= r.err;

    size_t d = aml_device_open(a, "COM1");
    aml_name_decl(a, "_HID");
    aml_eisaid(a, "PNP0501");
    aml_name_decl(a, "_UID");
    aml_integer(a, 1);
    aml_name_decl(a, "_CRS");
    aml_buffer(a, r.buf, r.len);
    aml_close(a, d);
}

/* QEMU docs/specs/pvpanic.rst: ACPI device QEMU0001 with one I/O port. */
static void dsdt_pevt(struct aml *a)
{
    uint8_t buf[32];
    struct aml r;
    aml_init(&r, buf, sizeof(buf));
    aml_res_io(&r, LAYOUT_PORT_PVPANIC, 1, 1);
    aml_res_end(&r);
    a->err |= r.err;

    size_t d = aml_device_open(a, "PEVT");
    aml_name_decl(a, "_HID");
    aml_string(a, "QEMU0001");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_buffer(a, r.buf, r.len);
    aml_close(a, d);
}

/* The power button as hardware-reduced ACPI has it (ACPI 6.4 §4.8.2.2.1.2, §5.6.9): a
 * control-method power button device and a Generic Event Device whose interrupt makes
 * the OS run _EVT, which notifies the button (0x80: pressed). Linux: evged.c runs _EVT,
 * button.c turns the notification into KEY_POWER for acpid or systemd-logind.
 *   Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) }
 *   Device (GED0) {
 *     Name (_HID, "ACPI0013")
 *     Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh,
 *                                                  Exclusive) { LAYOUT_GSI_GED } })
 *     Method (_EVT, 1) { If (LEqual (Arg0, LAYOUT_GSI_GED)) { Notify (PWRB, 0x80) } }
 *   } */
static void dsdt_power_button(struct aml *a)
{
    size_t d = aml_device_open(a, "PWRB");
    aml_name_decl(a, "_HID");
    aml_eisaid(a, "PNP0C0C");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_close(a, d);

    uint8_t buf[32];
    struct aml r;
    aml_init(&r, buf, sizeof(buf));
    aml_res_ext_irq_edge(&r, LAYOUT_GSI_GED);
    aml_res_end(&r);
    a->err |= r.err;
    d = aml_device_open(a, "GED0");
    aml_name_decl(a, "_HID");
    aml_string(a, "ACPI0013");
    aml_name_decl(a, "_UID");
    aml_integer(a, 0);
    aml_name_decl(a, "_CRS");
    aml_buffer(a, r.buf, r.len);
    size_t m = aml_method_open(a, "_EVT", 1, false);
    size_t i = aml_if_open(a);
    aml_byte(a, AML_LEQUAL);
    aml_byte(a, AML_ARG(0));
    aml_integer(a, LAYOUT_GSI_GED);
    aml_byte(a, AML_NOTIFY);
    aml_name(a, "PWRB");
    aml_integer(a, 0x80);
    aml_close(a, i);
    aml_close(a, m);
    aml_close(a, d);
}

void dsdt_build(struct aml *a)
{
    size_t sb = aml_scope_open(a, "\\_SB_");
    dsdt_pci0(a);
    dsdt_mres(a);
    dsdt_com1(a);
    dsdt_pevt(a);
    dsdt_power_button(a);
    aml_close(a, sb);

    /* ACPI 6.4 §7.4.2: _S5 gives SLP_TYP for the sleep control register (hardware-reduced:
     * §4.8.3.7); the second value is SLP_TYPb, unused. */
    aml_name_decl(a, "_S5_");
    size_t p = aml_package_open(a, 4);
    aml_integer(a, ACPI_S5_SLP_TYP);
    aml_integer(a, ACPI_S5_SLP_TYP);
    aml_integer(a, 0);
    aml_integer(a, 0);
    aml_close(a, p);
}
