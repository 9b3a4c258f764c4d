#include "vm/boot.h"
#include "vm/e820.h"
#include "vm/layout.h"
#include "base/util.h"

#include <asm/bootparam.h>
#include <stdio.h>

#define PTE_PRESENT  (1ULL << 0)
#define PTE_RW       (1ULL << 1)
#define PTE_PS       (1ULL << 7)   /* 2 MiB page in a PD entry */

/* GDT entries for flat 64-bit code and data (Intel SDM Vol. 3 §3.4.5). */
#define GDT_CODE64   0x00af9b000000ffffULL
#define GDT_DATA     0x00cf93000000ffffULL

static int boot_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len)
{
    void *dst = guest_mem_ptr(mem, gpa, len);
    if (!dst)
        return -1;
    memcpy(dst, src, len);
    return 0;
}

/* Identity-maps the first 4 GiB with 2 MiB pages: covers everything the kernel needs
 * before it builds its own tables (kernel, zero page, cmdline, initrd all sit below 4 GiB). */
static int boot_page_tables(const struct guest_mem *mem)
{
    uint64_t *pml4 = guest_mem_ptr(mem, LAYOUT_PML4, 0x1000);
    uint64_t *pdpt = guest_mem_ptr(mem, LAYOUT_PML4 + 0x1000, 0x1000);
    uint64_t *pd = guest_mem_ptr(mem, LAYOUT_PML4 + 0x2000, 4 * 0x1000);
    if (!pml4 || !pdpt || !pd)
        return -1;
    memset(pml4, 0, 0x6000);
    pml4[0] = (LAYOUT_PML4 + 0x1000) | PTE_PRESENT | PTE_RW;
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (LAYOUT_PML4 + 0x2000 + i * 0x1000) | PTE_PRESENT | PTE_RW;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
    return 0;
}

static int boot_gdt(const struct guest_mem *mem, struct boot_entry *entry)
{
    const uint64_t gdt[4] = { 0, 0, GDT_CODE64, GDT_DATA };
    entry->gdt_base = LAYOUT_GDT;
    entry->gdt_limit = sizeof(gdt) - 1;
    return boot_write(mem, LAYOUT_GDT, gdt, sizeof(gdt));
}

/* End of the memory the decompressing kernel may use: it runs at its load address aligned
 * up to kernel_alignment, or at pref_address, and needs init_size bytes from there. */
static uint64_t boot_kernel_end(const struct bzimage *k)
{
    uint64_t start = ALIGN_UP(LAYOUT_KERNEL, k->kernel_alignment);
    if (!k->relocatable || k->pref_address > start)
        start = MAX(start, k->pref_address);
    return start + k->init_size;
}

int boot_setup(const struct guest_mem *mem, const struct boot_input *in, struct boot_entry *entry,
               char *err, size_t errlen)
{
    const struct bzimage *k = in->kernel;
    uint64_t low_ram = e820_low_ram(in->ram_size);
    uint64_t kernel_end = boot_kernel_end(k);

    if (kernel_end > low_ram) {
        snprintf(err, errlen,
                 "not enough guest RAM below 4 GiB for the kernel to decompress (raise --memory)");
        return -1;
    }
    if (boot_write(mem, LAYOUT_KERNEL, k->payload, k->payload_size)) {
        snprintf(err, errlen, "kernel does not fit in guest RAM");
        return -1;
    }

    struct boot_params zp;
    memset(&zp, 0, sizeof(zp));
    memcpy(&zp.hdr, k->payload - k->setup_size + 0x1f1, k->header_size);
    zp.hdr.type_of_loader = 0xff;       /* undefined loader */
    zp.hdr.loadflags |= KEEP_SEGMENTS;
    zp.hdr.loadflags &= ~QUIET_FLAG;

    size_t cmdline_len = strlen(in->cmdline);
    if (cmdline_len > k->cmdline_size || cmdline_len >= LAYOUT_CMDLINE_MAX) {
        snprintf(err, errlen, "kernel command line too long for this kernel");
        return -1;
    }
    if (boot_write(mem, LAYOUT_CMDLINE, in->cmdline, cmdline_len + 1)) {
        snprintf(err, errlen, "cannot place the command line in guest RAM");
        return -1;
    }
    zp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
    zp.hdr.cmdline_size = (uint32_t)cmdline_len;

    if (in->initrd) {
        /* Highest page-aligned spot below both initrd_addr_max and the end of low RAM,
         * above the kernel's decompression area. */
        uint64_t limit = MIN((uint64_t)k->initrd_addr_max + 1, low_ram);
        if (in->initrd_size > limit || ALIGN_DOWN(limit - in->initrd_size, 0x1000) < kernel_end) {
            snprintf(err, errlen, "initrd too big for guest RAM (raise --memory)");
            return -1;
        }
        uint64_t addr = ALIGN_DOWN(limit - in->initrd_size, 0x1000);
        if (boot_write(mem, addr, in->initrd, in->initrd_size)) {
            snprintf(err, errlen, "initrd too big for guest RAM (raise --memory)");
            return -1;
        }
        zp.hdr.ramdisk_image = (uint32_t)addr;
        zp.hdr.ramdisk_size = (uint32_t)in->initrd_size;
        zp.ext_ramdisk_image = (uint32_t)(addr >> 32);
        zp.ext_ramdisk_size = (uint32_t)(in->initrd_size >> 32);
    }

    struct e820_map map;
    e820_build(&map, in->ram_size);
    for (unsigned i = 0; i < map.n; i++) {
        zp.e820_table[i].addr = map.entries[i].addr;
        zp.e820_table[i].size = map.entries[i].size;
        zp.e820_table[i].type = map.entries[i].type;
    }
    zp.e820_entries = (uint8_t)map.n;
    zp.acpi_rsdp_addr = in->acpi_rsdp;

    if (boot_write(mem, LAYOUT_ZERO_PAGE, &zp, sizeof(zp)) || boot_gdt(mem, entry) ||
        boot_page_tables(mem)) {
        snprintf(err, errlen, "guest RAM too small for the boot structures");
        return -1;
    }
    /* boot.rst: the 64-bit entry is 0x200 past the protected-mode kernel's load address;
     * %rsi holds the zero page. */
    entry->rip = LAYOUT_KERNEL + 0x200;
    entry->rsi = LAYOUT_ZERO_PAGE;
    entry->rsp = LAYOUT_ZERO_PAGE - 0x10;   /* unused by the kernel, but sane */
    entry->cr3 = LAYOUT_PML4;
    return 0;
}
