/* Guest physical memory map of a vpf VM (x86_64). One place for every fixed address, so
 * the E820 map, the ACPI tables (DSDT windows, MCFG) and the device models agree.
 *
 *   0x0000_0000  real-mode IVT/BDA (RAM, left to the kernel)
 *   0x0000_0500  GDT
 *   0x0000_7000  zero page (struct boot_params)
 *   0x0000_9000  identity page tables: PML4, PDPT, 4 PDs (first 4 GiB, 2 MiB pages)
 *   0x0002_0000  kernel command line
 *   0x0009_fc00  --- end of low RAM; EBDA hole (reserved) ---
 *   0x000e_0000  ACPI tables (reserved in E820, RSDP first)
 *   0x000f_fff0  reset vector f000:fff0: a stub writing the ACPI reset register
 *   0x0010_0000  protected-mode kernel (bzImage payload)
 *   ...          RAM up to min(memory, MMIO_32_START); initrd at the top of it
 *   0xc000_0000  32-bit PCI MMIO window (BARs below 4 GiB)
 *   0xe000_0000  PCIe ECAM (MMCONFIG), buses 0..ECAM_LAST_BUS (reserved in E820 + PNP0C02)
 *   0xfec0_0000  IOAPIC
 *   0xfee0_0000  local APICs
 *   0x1_0000_0000  RAM above 4 GiB (whatever did not fit below the hole)
 *   0x40_0000_0000 64-bit PCI MMIO window (prefetchable 64-bit BARs, VF BARs)
 */
#ifndef VPF_VM_LAYOUT_H
#define VPF_VM_LAYOUT_H

#define LAYOUT_GDT            0x500ULL
#define LAYOUT_ZERO_PAGE      0x7000ULL
#define LAYOUT_PML4           0x9000ULL   /* + PDPT at +0x1000, PDs at +0x2000..+0x5fff */
#define LAYOUT_CMDLINE        0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_LOW_RAM_END    0x9fc00ULL
#define LAYOUT_ACPI           0xe0000ULL
#define LAYOUT_ACPI_SIZE      0x20000ULL
#define LAYOUT_RESET_VECTOR   0xffff0ULL  /* inside the ACPI region, its last 16 bytes */
#define LAYOUT_KERNEL         0x100000ULL

#define LAYOUT_MMIO32_START   0xc0000000ULL
#define LAYOUT_MMIO32_SIZE    0x20000000ULL  /* 0xc000_0000..0xdfff_ffff */
#define LAYOUT_ECAM           0xe0000000ULL
#define LAYOUT_ECAM_LAST_BUS  0
#define LAYOUT_ECAM_SIZE      ((LAYOUT_ECAM_LAST_BUS + 1) * 0x100000ULL)
#define LAYOUT_IOAPIC         0xfec00000ULL
#define LAYOUT_LAPIC          0xfee00000ULL
#define LAYOUT_HIGH_RAM       0x100000000ULL
#define LAYOUT_MMIO64_START   0x4000000000ULL  /* 256 GiB */
#define LAYOUT_MMIO64_SIZE    0x1000000000ULL  /* 64 GiB */

/* Largest --memory accepted: RAM above 4 GiB must stay below the 64-bit MMIO window. */
#define LAYOUT_MAX_RAM        (LAYOUT_MMIO64_START - LAYOUT_HIGH_RAM + LAYOUT_MMIO32_START)

/* Port I/O */
#define LAYOUT_PORT_COM1      0x3f8
#define LAYOUT_IRQ_COM1       4
/* The Generic Event Device's interrupt (the ACPI power button): an IOAPIC pin above the
 * ISA range, edge-triggered, active high (DSDT GED0 _CRS). */
#define LAYOUT_GSI_GED        16
#define LAYOUT_PORT_PCI_CF8   0xcf8          /* 0xcf8..0xcff: conf1 address + data */
#define LAYOUT_PORT_ACPI_PM   0x600          /* hardware-reduced sleep control/status, reset */
#define LAYOUT_PORT_PVPANIC   0x505
#define LAYOUT_PCI_IO_START   0x1000         /* PCI I/O window for the DSDT (no I/O BARs used) */
#define LAYOUT_PCI_IO_END     0xffff

/* Values written to the ACPI registers at LAYOUT_PORT_ACPI_PM (FADT + DSDT _S5). */
#define ACPI_SLEEP_CONTROL_OFF  0   /* sleep control register (byte) */
#define ACPI_SLEEP_STATUS_OFF   1   /* sleep status register (byte) */
#define ACPI_RESET_OFF          4   /* reset register (byte) */
#define ACPI_RESET_VALUE        0x1
#define ACPI_S5_SLP_TYP         5   /* _S5_ package value; SLP_TYP lives in bits 4:2 */
#define ACPI_SLP_EN             (1u << 5)

#endif
