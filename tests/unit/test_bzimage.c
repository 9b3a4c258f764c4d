#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vm/bzimage.h"
#include "../host/tinyguest.h"

static uint8_t img[TINYGUEST_MAX];

static size_t build(const struct tinyguest_opts *opts)
{
    return tinyguest_build(img, TINYGUEST_POWEROFF, opts);
}

static void test_valid(void **state)
{
    size_t n = build(NULL);
    struct bzimage k;
    char err[256] = "";
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), 0);
    assert_int_equal(k.protocol, 0x020f);
    assert_int_equal(k.setup_size, 1024);            /* (setup_sects 1 + 1) * 512 */
    assert_int_equal(k.header_size, 0x268 - 0x1f1);  /* through the jump's target */
    assert_ptr_equal(k.payload, img + 1024);
    assert_int_equal(k.payload_size, n - 1024);
    assert_int_equal(k.kernel_alignment, 0x200000);
    assert_int_equal(k.cmdline_size, 2048);
    assert_int_equal(k.pref_address, 0x1000000);
    assert_true(k.relocatable);
}

static void test_setup_sects_zero_means_four(void **state)
{
    size_t n = build(NULL);
    uint8_t big[8192] = { 0 };
    memcpy(big, img, n);
    big[0x1f1] = 0;
    struct bzimage k;
    char err[256] = "";
    assert_int_equal(bzimage_parse(big, sizeof(big), &k, err, sizeof(err)), 0);
    assert_int_equal(k.setup_size, 5 * 512);
}

static void test_truncated(void **state)
{
    size_t n = build(NULL);
    struct bzimage k;
    char err[256] = "";
    /* Every prefix shorter than the setup code + 1 byte of payload is refused. */
    for (size_t len = 0; len <= 1024; len += 7) {
        err[0] = '\0';
        assert_int_equal(bzimage_parse(img, len, &k, err, sizeof(err)), -1);
        assert_true(err[0]);
    }
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), 0);
}

static void test_corrupt(void **state)
{
    struct bzimage k;
    char err[256] = "";
    struct tinyguest_opts bad_magic = { .bad_magic = 1 };
    size_t n = build(&bad_magic);
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a bzImage"));

    n = build(NULL);
    img[0x1fe] = 0;     /* boot flag */
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);

    n = build(NULL);
    img[0x1f1] = 200;   /* setup larger than the file */
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "corrupt"));

    n = build(NULL);
    img[0x201] = 0xff;  /* header running past the setup sectors */
    img[0x1f1] = 0;
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);

    n = build(NULL);
    img[0x230] = 3;     /* kernel_alignment not a power of two */
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);

    n = build(NULL);
    memset(img + 0x260, 0, 4);  /* init_size smaller than the payload */
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
}

static void test_protocol_and_64bit(void **state)
{
    struct bzimage k;
    char err[256] = "";
    struct tinyguest_opts old = { .protocol = 0x020b };
    size_t n = build(&old);
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too old"));

    struct tinyguest_opts no64 = { .no_kernel64 = 1 };
    n = build(&no64);
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "64-bit"));

    n = build(NULL);
    img[0x211] = 0;     /* not LOADED_HIGH: a zImage */
    assert_int_equal(bzimage_parse(img, n, &k, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_setup_sects_zero_means_four),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_protocol_and_64bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
