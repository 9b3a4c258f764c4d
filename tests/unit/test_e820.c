#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vm/e820.h"
#include "vm/layout.h"
#include "base/util.h"

static uint64_t ram_total(const struct e820_map *m)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < m->n; i++)
        if (m->entries[i].type == E820_TYPE_RAM)
            t += m->entries[i].size;
    return t;
}

static void assert_sorted_disjoint(const struct e820_map *m)
{
    for (unsigned i = 1; i < m->n; i++)
        assert_true(m->entries[i - 1].addr + m->entries[i - 1].size <= m->entries[i].addr);
    for (unsigned i = 0; i < m->n; i++)
        assert_true(m->entries[i].size > 0);
}

static int find(const struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->entries[i].addr == addr && m->entries[i].size == size && m->entries[i].type == type)
            return 1;
    return 0;
}

static void test_small_guest(void **state)
{
    struct e820_map m;
    e820_build(&m, 512 * MiB);
    assert_sorted_disjoint(&m);
    assert_true(find(&m, 0, LAYOUT_LOW_RAM_END, E820_TYPE_RAM));
    assert_true(find(&m, LAYOUT_KERNEL, 512 * MiB - LAYOUT_KERNEL, E820_TYPE_RAM));
    /* Linux uses MMCONFIG only if E820 reserves the ECAM window. */
    assert_true(find(&m, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, E820_TYPE_RESERVED));
    /* The ACPI tables sit in a reserved range. */
    for (unsigned i = 0; i < m.n; i++)
        if (m.entries[i].addr <= LAYOUT_ACPI && LAYOUT_ACPI < m.entries[i].addr + m.entries[i].size)
            assert_int_equal(m.entries[i].type, E820_TYPE_RESERVED);
    /* RAM seen by the guest = RAM minus the legacy hole. */
    assert_int_equal(ram_total(&m), 512 * MiB - (LAYOUT_KERNEL - LAYOUT_LOW_RAM_END));
    assert_int_equal(e820_high_ram(512 * MiB), 0);
}

static void test_guest_spanning_the_hole(void **state)
{
    struct e820_map m;
    uint64_t ram = 6 * GiB;
    e820_build(&m, ram);
    assert_sorted_disjoint(&m);
    assert_int_equal(e820_low_ram(ram), LAYOUT_MMIO32_START);
    assert_int_equal(e820_high_ram(ram), ram - LAYOUT_MMIO32_START);
    assert_true(find(&m, LAYOUT_HIGH_RAM, ram - LAYOUT_MMIO32_START, E820_TYPE_RAM));
    assert_true(find(&m, LAYOUT_KERNEL, LAYOUT_MMIO32_START - LAYOUT_KERNEL, E820_TYPE_RAM));
    /* No RAM inside the 32-bit MMIO hole. */
    for (unsigned i = 0; i < m.n; i++)
        if (m.entries[i].type == E820_TYPE_RAM)
            assert_true(m.entries[i].addr + m.entries[i].size <= LAYOUT_MMIO32_START ||
                        m.entries[i].addr >= LAYOUT_HIGH_RAM);
}

static void test_exactly_low_limit(void **state)
{
    struct e820_map m;
    e820_build(&m, LAYOUT_MMIO32_START);
    assert_sorted_disjoint(&m);
    for (unsigned i = 0; i < m.n; i++)
        assert_true(m.entries[i].addr < LAYOUT_HIGH_RAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_guest),
        cmocka_unit_test(test_guest_spanning_the_hole),
        cmocka_unit_test(test_exactly_low_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
