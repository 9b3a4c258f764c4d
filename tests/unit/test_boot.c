#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <asm/bootparam.h>

#include "vm/boot.h"
#include "vm/layout.h"
#include "base/util.h"
#include "../host/tinyguest.h"

#define RAM (128 * MiB)

struct fixture {
    uint8_t *ram;
    struct guest_mem mem;
    uint8_t img[TINYGUEST_MAX];
    struct bzimage k;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ram = calloc(1, RAM);
    guest_mem_add(&f->mem, 0, RAM, f->ram);
    size_t n = tinyguest_build(f->img, TINYGUEST_POWEROFF, NULL);
    char err[256] = "";
    assert_int_equal(bzimage_parse(f->img, n, &f->k, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->ram);
    free(f);
    return 0;
}

static void test_zero_page(void **state)
{
    struct fixture *f = *state;
    static uint8_t initrd[3 * 4096 + 5];
    memset(initrd, 0xab, sizeof(initrd));
    struct boot_input in = { .kernel = &f->k,
                             .initrd = initrd,
                             .initrd_size = sizeof(initrd),
                             .cmdline = "console=ttyS0",
                             .ram_size = RAM,
                             .acpi_rsdp = LAYOUT_ACPI };
    struct boot_entry e;
    char err[256] = "";
    assert_int_equal(boot_setup(&f->mem, &in, &e, err, sizeof(err)), 0);

    const struct boot_params *zp = (const void *)(f->ram + LAYOUT_ZERO_PAGE);
    assert_int_equal(zp->hdr.header, 0x53726448);
    assert_int_equal(zp->hdr.type_of_loader, 0xff);
    assert_int_equal(zp->acpi_rsdp_addr, LAYOUT_ACPI);
    assert_string_equal((const char *)f->ram + zp->hdr.cmd_line_ptr, "console=ttyS0");
    /* initrd: page aligned, at the top of RAM, above the kernel's decompression area. */
    uint64_t addr = zp->hdr.ramdisk_image;
    assert_int_equal(addr % 4096, 0);
    assert_int_equal(zp->hdr.ramdisk_size, sizeof(initrd));
    assert_true(addr + sizeof(initrd) <= RAM);
    assert_true(addr >= 0x1000000 + 0x100000);
    assert_memory_equal(f->ram + addr, initrd, sizeof(initrd));
    assert_true(zp->e820_entries >= 3);
    /* Kernel payload at 1 MiB, entry 0x200 past it, zero page in %rsi. */
    assert_memory_equal(f->ram + LAYOUT_KERNEL, f->k.payload, f->k.payload_size);
    assert_int_equal(e.rip, LAYOUT_KERNEL + 0x200);
    assert_int_equal(e.rsi, LAYOUT_ZERO_PAGE);
}

static void test_page_tables_identity_map_4g(void **state)
{
    struct fixture *f = *state;
    struct boot_input in = { .kernel = &f->k, .cmdline = "", .ram_size = RAM };
    struct boot_entry e;
    char err[256] = "";
    assert_int_equal(boot_setup(&f->mem, &in, &e, err, sizeof(err)), 0);
    const uint64_t *pml4 = (const void *)(f->ram + e.cr3);
    const uint64_t *pdpt = (const void *)(f->ram + (pml4[0] & ~0xfffULL));
    for (uint64_t va = 0; va < 4 * GiB; va += 511 * 2 * MiB) {
        const uint64_t *pd = (const void *)(f->ram + (pdpt[va >> 30] & ~0xfffULL));
        uint64_t pde = pd[(va >> 21) & 511];
        assert_true(pde & 1);
        assert_true(pde & (1 << 7));
        assert_int_equal(pde & ~0x1fffffULL, va & ~0x1fffffULL);
    }
    const uint64_t *gdt = (const void *)(f->ram + e.gdt_base);
    assert_int_equal(e.gdt_limit, 4 * 8 - 1);
    assert_true(gdt[BOOT_GDT_CODE_SEL / 8] & (1ULL << 53));   /* L bit: 64-bit code */
}

static void test_initrd_too_big(void **state)
{
    struct fixture *f = *state;
    size_t size = RAM - 16 * MiB;   /* would overlap the kernel's decompression area */
    uint8_t *initrd = calloc(1, size);
    struct boot_input in = { .kernel = &f->k,
                             .initrd = initrd,
                             .initrd_size = size,
                             .cmdline = "",
                             .ram_size = RAM };
    struct boot_entry e;
    char err[256] = "";
    assert_int_equal(boot_setup(&f->mem, &in, &e, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "initrd too big"));
    free(initrd);
}

static void test_cmdline_too_long(void **state)
{
    struct fixture *f = *state;
    char *cmdline = malloc(4096);
    memset(cmdline, 'x', 4095);
    cmdline[4095] = 0;
    struct boot_input in = { .kernel = &f->k, .cmdline = cmdline, .ram_size = RAM };
    struct boot_entry e;
    char err[256] = "";
    assert_int_equal(boot_setup(&f->mem, &in, &e, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "command line too long"));
    free(cmdline);
}

static void test_ram_too_small_for_kernel(void **state)
{
    struct fixture *f = *state;
    struct boot_input in = { .kernel = &f->k, .cmdline = "", .ram_size = 8 * MiB };
    struct boot_entry e;
    char err[256] = "";
    assert_int_equal(boot_setup(&f->mem, &in, &e, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "RAM"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zero_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_tables_identity_map_4g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initrd_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ram_too_small_for_kernel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
