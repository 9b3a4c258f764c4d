/* ACPI tables of a vpf VM (ACPI 6.4): RSDP -> XSDT -> { FADT -> DSDT, MADT, MCFG }.
 *
 * Hardware-reduced ACPI (§4.1): no SCI, no PM timer, no GPEs; poweroff and reset go
 * through the sleep control and reset registers at LAYOUT_PORT_ACPI_PM. Built once at
 * boot into guest memory at LAYOUT_ACPI, a region the E820 map marks reserved. */
#ifndef VPF_VM_ACPI_H
#define VPF_VM_ACPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most vCPUs the MADT describes: xAPIC IDs 0..254 (0xff is the broadcast ID). */
#define ACPI_MAX_CPUS 255

#define ACPI_OEM_ID       "VPF   "   /* 6 characters */
#define ACPI_OEM_TABLE_ID "VPFVM   "  /* 8 characters */

#define ACPI_RESET_STUB_SIZE 16

/* Writes the tables into buf, which the guest sees at gpa (16-byte aligned). The RSDP is
 * at gpa itself: pass gpa as boot_params.acpi_rsdp_addr. ncpus vCPUs get LAPIC IDs
 * 0..ncpus-1. If [gpa, gpa + size) covers LAYOUT_RESET_VECTOR (it does for LAYOUT_ACPI
 * and LAYOUT_ACPI_SIZE), the tables stay below it and the 16 bytes there get a real-mode
 * stub that writes the FADT reset register: hardware-reduced Linux without EFI reboots
 * by jumping to f000:fff0 (see acpi.c).
 * Returns the bytes of tables written, or -1 if ncpus is 0 or above ACPI_MAX_CPUS, gpa is
 * misaligned, or the tables do not fit (buf is then partly written, not to be used). */
ssize_t acpi_build(void *buf, uint64_t gpa, size_t size, unsigned ncpus);

#endif
