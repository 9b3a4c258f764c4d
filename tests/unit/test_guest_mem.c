#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/guest_mem.h"

static uint8_t low[4096], high[8192];

static void test_translate_inside_and_edges(void **state)
{
    struct guest_mem mem = { 0 };
    assert_int_equal(guest_mem_add(&mem, 0x0, sizeof(low), low), 0);
    assert_int_equal(guest_mem_add(&mem, 0x100000, sizeof(high), high), 0);
    assert_ptr_equal(guest_mem_ptr(&mem, 0x10, 16), low + 0x10);
    assert_ptr_equal(guest_mem_ptr(&mem, 0x100000 + 8191, 1), high + 8191);
    assert_ptr_equal(guest_mem_ptr(&mem, 4096, 0), low + 4096);
    assert_int_equal(guest_mem_total(&mem), sizeof(low) + sizeof(high));
}

static void test_reject_outside_and_straddling(void **state)
{
    struct guest_mem mem = { 0 };
    assert_int_equal(guest_mem_add(&mem, 0x0, sizeof(low), low), 0);
    assert_int_equal(guest_mem_add(&mem, 0x1000, sizeof(high), high), 0); /* adjacent */
    assert_null(guest_mem_ptr(&mem, 0x4000, 1));
    /* Contiguous in guest physical space but two host mappings: must be refused. */
    assert_null(guest_mem_ptr(&mem, 0xff0, 0x20));
    assert_null(guest_mem_ptr(&mem, UINT64_MAX - 4, 16));
    assert_null(guest_mem_ptr(&mem, 0x10, UINT64_MAX));
}

static void test_reject_overlap(void **state)
{
    struct guest_mem mem = { 0 };
    assert_int_equal(guest_mem_add(&mem, 0x1000, 0x1000, low), 0);
    assert_int_equal(guest_mem_add(&mem, 0x1800, 0x1000, high), -1);
    assert_int_equal(guest_mem_add(&mem, 0x0, 0, high), -1);
    assert_int_equal(guest_mem_add(&mem, UINT64_MAX - 10, 0x100, high), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate_inside_and_edges),
        cmocka_unit_test(test_reject_outside_and_straddling),
        cmocka_unit_test(test_reject_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
