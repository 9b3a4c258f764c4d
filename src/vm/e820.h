/* The BIOS memory map handed to Linux in the zero page (boot_params.e820_table). */
#ifndef VPF_VM_E820_H
#define VPF_VM_E820_H

#include <stdint.h>

#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2

struct e820_entry {
    uint64_t addr, size;
    uint32_t type;
};

#define E820_MAX 16

struct e820_map {
    struct e820_entry entries[E820_MAX];
    unsigned n;
};

/* Builds the map for a guest with ram_size bytes of RAM laid out per vm/layout.h: low RAM,
 * the EBDA and ACPI holes reserved, RAM up to the 32-bit MMIO hole, the ECAM window
 * reserved (Linux accepts MMCONFIG only if E820 reserves it), and RAM above 4 GiB. */
void e820_build(struct e820_map *map, uint64_t ram_size);

/* RAM below 4 GiB and above it, as vpf maps it. */
uint64_t e820_low_ram(uint64_t ram_size);
uint64_t e820_high_ram(uint64_t ram_size);

#endif
