/* Notification coalescing arithmetic (net_coal.h) on a made-up clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/net_coal.h"

#define US 1000ull

static void test_off_notifies_always(void **state)
{
    struct net_coal c = { 0 };
    assert_false(net_coal_on(&c));
    assert_true(net_coal_add(&c, 1, 5));
    assert_true(net_coal_add(&c, 0, 5));
    net_coal_set(&c, 64, 0);            /* virtio 1.3: usecs 0 or max_packets 0, no delay */
    assert_false(net_coal_on(&c));
    assert_true(net_coal_add(&c, 1, 5));
    net_coal_set(&c, 0, 100);
    assert_false(net_coal_on(&c));
    assert_true(net_coal_add(&c, 1, 5));
}

static void test_time_limit(void **state)
{
    struct net_coal c = { 0 };
    net_coal_set(&c, 100000, 100);
    assert_false(net_coal_add(&c, 0, 1000 * US));        /* nothing new: nothing held */
    assert_false(net_coal_due(&c, 1000 * US));
    assert_false(net_coal_add(&c, 3, 1000 * US));
    assert_int_equal(c.deadline_ns, 1100 * US);
    assert_false(net_coal_add(&c, 500, 1050 * US));      /* below the packet limit */
    assert_int_equal(c.deadline_ns, 1100 * US);          /* from the first held one */
    assert_false(net_coal_due(&c, 1099 * US));
    assert_true(net_coal_due(&c, 1100 * US));
    assert_true(net_coal_add(&c, 1, 1100 * US));
    net_coal_done(&c);
    assert_false(net_coal_due(&c, 5000 * US));
    assert_false(net_coal_add(&c, 1, 5000 * US));
    assert_int_equal(c.deadline_ns, 5100 * US);
}

static void test_packet_limit(void **state)
{
    struct net_coal c = { 0 };
    net_coal_set(&c, 4, 1000);
    assert_false(net_coal_add(&c, 2, 0));
    assert_false(net_coal_add(&c, 1, 10));
    assert_true(net_coal_add(&c, 1, 20));
    net_coal_done(&c);
    assert_true(net_coal_add(&c, 9, 30));              /* a batch over the limit */
}

/* The used idx is 16 bits: never hold so many that EVENT_IDX's check could wrap. */
static void test_held_bounded(void **state)
{
    struct net_coal c = { 0 };
    net_coal_set(&c, UINT32_MAX, NET_COAL_MAX_USECS);
    assert_false(net_coal_add(&c, NET_COAL_MAX_HELD - 1, 0));
    assert_true(net_coal_add(&c, 1, 0));
}

static void test_new_parameters_release(void **state)
{
    struct net_coal c = { 0 };
    net_coal_set(&c, 64, 1000000);
    assert_false(net_coal_add(&c, 1, 0));
    net_coal_set(&c, 64, 10);           /* what was held under the old ones is due now */
    assert_true(net_coal_due(&c, 0));
    net_coal_done(&c);
    net_coal_set(&c, 0, 0);
    assert_false(net_coal_due(&c, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_notifies_always), cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_packet_limit),        cmocka_unit_test(test_new_parameters_release),
        cmocka_unit_test(test_held_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
