/* Linux 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
 * places the kernel, initrd, command line, zero page, GDT and identity page tables in
 * guest memory and says how the boot vCPU must start. No KVM here. */
#ifndef VPF_VM_BOOT_H
#define VPF_VM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/guest_mem.h"
#include "vm/bzimage.h"

struct boot_input {
    const struct bzimage *kernel;
    const uint8_t *initrd;      /* NULL for none */
    size_t initrd_size;
    const char *cmdline;
    uint64_t ram_size;
    uint64_t acpi_rsdp;         /* 0 for none */
};

/* Where the boot vCPU starts: 64-bit mode, paging on, flat segments from the GDT. */
struct boot_entry {
    uint64_t rip, rsi, rsp;
    uint64_t cr3;
    uint64_t gdt_base;
    uint16_t gdt_limit;
};

#define BOOT_GDT_CODE_SEL 0x10   /* __BOOT_CS */
#define BOOT_GDT_DATA_SEL 0x18   /* __BOOT_DS */

/* Returns 0, or -1 with the reason in err (e.g. initrd too big for guest RAM). */
int boot_setup(const struct guest_mem *mem, const struct boot_input *in, struct boot_entry *entry,
               char *err, size_t errlen);

#endif
