#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vm/aml.h"

static uint8_t buf[0x20000];

#define assert_bytes(a, ...) do { \
        static const uint8_t exp_[] = { __VA_ARGS__ }; \
        assert_false((a)->err); \
        assert_int_equal((a)->len, sizeof(exp_)); \
        assert_memory_equal((a)->buf, exp_, sizeof(exp_)); \
    } while (0)

static void test_integers(void **state)
{
    struct aml a;
    aml_init(&a, buf, sizeof(buf));
    aml_integer(&a, 0);
    aml_integer(&a, 1);
    aml_integer(&a, 5);
    aml_integer(&a, 0x1234);
    aml_integer(&a, 0xc0000000);
    aml_integer(&a, 0x4000000000ULL);
    aml_integer(&a, UINT64_MAX);
    assert_bytes(&a, 0x00, 0x01, 0x0a, 0x05, 0x0b, 0x34, 0x12, 0x0c, 0x00, 0x00, 0x00, 0xc0, 0x0e,
                 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xff);
}

static void test_names(void **state)
{
    struct aml a;
    aml_init(&a, buf, sizeof(buf));
    aml_name(&a, "\\_SB_");
    aml_name(&a, "_S5");
    aml_name(&a, "\\_SB_.PCI0");
    aml_name(&a, "\\_SB_.PCI0.S00");
    aml_name(&a, "\\");
    assert_bytes(&a, '\\', '_', 'S', 'B', '_', '_', 'S', '5', '_', '\\', 0x2e, '_', 'S', 'B', '_',
                 'P', 'C', 'I', '0', '\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S',
                 '0', '0', '_', '\\', 0x00);
    aml_init(&a, buf, sizeof(buf));
    aml_name(&a, "TOOLONG");
    assert_true(a.err);
}

static void test_eisaid_string(void **state)
{
    struct aml a;
    aml_init(&a, buf, sizeof(buf));
    aml_eisaid(&a, "PNP0A08");
    aml_string(&a, "QEMU0001");
    /* EisaId ("PNP0A08") == 0x080AD041, as iasl encodes it. */
    assert_bytes(&a, 0x0c, 0x41, 0xd0, 0x0a, 0x08, 0x0d, 'Q', 'E', 'M', 'U', '0', '0', '0', '1', 0);
}

/* §20.2.4: PkgLength counts its own bytes; 1 byte up to 63, then 2, 3 bytes. */
static void test_pkglength(void **state)
{
    struct aml a;
    static uint8_t payload[0x10000];
    memset(payload, 0xaa, sizeof(payload));
    size_t sizes[] = { 0, 61, 62, 63, 0xffd, 0xffe, 0x1000, 0xfffff - 3 - 8 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i] > sizeof(payload) ? sizeof(payload) : sizes[i];
        aml_init(&a, buf, sizeof(buf));
        size_t m = aml_if_open(&a);
        aml_bytes(&a, payload, n);
        aml_close(&a, m);
        assert_false(a.err);
        size_t total = a.len - 1;     /* minus IfOp */
        unsigned lead = buf[1], nbytes = (lead >> 6) + 1;
        assert_int_equal(a.len, 1 + nbytes + n);
        size_t dec = nbytes == 1 ? (lead & 0x3f) : (lead & 0xf);
        for (unsigned k = 1; k < nbytes; k++)
            dec |= (size_t)buf[1 + k] << (4 + 8 * (k - 1));
        assert_int_equal(dec, total);
        assert_int_equal(nbytes, total <= 0x3f ? 1 : total <= 0xfff ? 2 : 3);
        if (n)
            assert_int_equal(buf[1 + nbytes], 0xaa);
    }
}

static void test_nested_and_overflow(void **state)
{
    struct aml a;
    aml_init(&a, buf, sizeof(buf));
    size_t s = aml_scope_open(&a, "\\_SB_");
    size_t d = aml_device_open(&a, "DEV0");
    aml_name_decl(&a, "_UID");
    aml_integer(&a, 0);
    aml_close(&a, d);
    aml_close(&a, s);
    assert_bytes(&a, 0x10, 0x13, '\\', '_', 'S', 'B', '_', 0x5b, 0x82, 0x0b, 'D', 'E', 'V', '0',
                 0x08, '_', 'U', 'I', 'D', 0x00);
    /* Running out of room sets err and stops writing. */
    uint8_t small[8];
    aml_init(&a, small, sizeof(small));
    s = aml_scope_open(&a, "\\_SB_");
    aml_integer(&a, 0x12345678);
    aml_close(&a, s);
    assert_true(a.err);
    assert_true(a.len <= sizeof(small));
}

static void test_resources(void **state)
{
    struct aml a;
    aml_init(&a, buf, sizeof(buf));
    aml_res_io(&a, 0x3f8, 1, 8);
    aml_res_irq(&a, 1u << 4);
    aml_res_mem32_fixed(&a, 0xe0000000, 0x100000);
    aml_res_end(&a);
    assert_bytes(&a, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x86, 0x09,
                 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x10, 0x00, 0x79, 0x00);
    aml_init(&a, buf, sizeof(buf));
    aml_res_word_bus(&a, 0, 0xff);
    assert_bytes(&a, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x00, 0, 0, 0x00,
                 0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_eisaid_string),
        cmocka_unit_test(test_pkglength),
        cmocka_unit_test(test_nested_and_overflow),
        cmocka_unit_test(test_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
