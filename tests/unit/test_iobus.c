#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/iobus.h"
#include "base/util.h"

struct fake_dev {
    uint64_t last_off;
    uint64_t last_val;
    unsigned writes;
};

static void fake_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    st_sized(data, len, 0x1000 + off);
}

static void fake_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct fake_dev *d = opaque;
    d->last_off = off;
    d->last_val = ld_sized(data, len);
    d->writes++;
}

static void test_dispatch(void **state)
{
    struct iobus bus;
    struct fake_dev a = { 0 }, b = { 0 };
    iobus_init(&bus, "test");
    assert_int_equal(iobus_register(&bus, 0x100, 0x10, fake_read, fake_write, &a), 0);
    assert_int_equal(iobus_register(&bus, 0x10, 0x8, fake_read, fake_write, &b), 0);
    uint32_t v = 0;
    assert_int_equal(iobus_read(&bus, 0x104, &v, 4), 1);
    assert_int_equal(v, 0x1004);
    uint16_t w = 0xbeef;
    assert_int_equal(iobus_write(&bus, 0x12, &w, 2), 1);
    assert_int_equal(b.last_off, 2);
    assert_int_equal(b.last_val, 0xbeef);
    assert_int_equal(a.writes, 0);
    iobus_destroy(&bus);
}

static void test_unclaimed_and_straddle(void **state)
{
    struct iobus bus;
    struct fake_dev a = { 0 };
    iobus_init(&bus, "test");
    assert_int_equal(iobus_register(&bus, 0x100, 0x10, fake_read, fake_write, &a), 0);
    uint32_t v = 0;
    assert_int_equal(iobus_read(&bus, 0x200, &v, 4), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(iobus_read(&bus, 0x10e, &v, 4), 0); /* straddles the end */
    assert_int_equal(iobus_write(&bus, 0x10e, &v, 4), 0);
    assert_int_equal(a.writes, 0);
    iobus_destroy(&bus);
}

static void test_overlap_and_unregister(void **state)
{
    struct iobus bus;
    struct fake_dev a = { 0 };
    iobus_init(&bus, "test");
    assert_int_equal(iobus_register(&bus, 0x100, 0x10, fake_read, fake_write, &a), 0);
    assert_int_equal(iobus_register(&bus, 0x10f, 0x10, fake_read, fake_write, &a), -1);
    assert_int_equal(iobus_register(&bus, 0xf8, 0x9, fake_read, fake_write, &a), -1);
    assert_int_equal(iobus_register(&bus, 0x110, 0x10, fake_read, fake_write, &a), 0);
    assert_int_equal(iobus_unregister(&bus, 0x100, &a), 0);
    assert_int_equal(iobus_unregister(&bus, 0x100, &a), -1);
    uint8_t v;
    assert_int_equal(iobus_read(&bus, 0x100, &v, 1), 0);
    assert_int_equal(iobus_read(&bus, 0x110, &v, 1), 1);
    iobus_destroy(&bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_unclaimed_and_straddle),
        cmocka_unit_test(test_overlap_and_unregister),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
