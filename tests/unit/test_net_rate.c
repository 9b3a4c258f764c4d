/* The transmit token bucket on a made-up clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/net_rate.h"

#define MS 1000000ull

static void test_unlimited(void **state)
{
    struct net_rate r;
    net_rate_set(&r, 0, 0);
    for (int i = 0; i < 1000; i++) {
        assert_true(net_rate_may_send(&r, 0));
        net_rate_charge(&r, 65536);
    }
    assert_int_equal(net_rate_wait_ns(&r), 0);
}

static void test_bucket_and_debt(void **state)
{
    struct net_rate r;
    net_rate_set(&r, 8, 1000 * MS);                 /* 8 Mbit/s = 1 000 000 B/s */
    assert_int_equal(r.burst, 65536 + 14 + 4 + 12);  /* 10 ms would be 10 000 B */
    assert_true(net_rate_may_send(&r, 1000 * MS));
    net_rate_charge(&r, 65566);                       /* bucket exactly empty */
    assert_false(net_rate_may_send(&r, 1000 * MS));
    assert_int_equal(net_rate_wait_ns(&r), 1000);     /* 1 byte at 1 B/us */
    assert_true(net_rate_may_send(&r, 1000 * MS + 1000));
    net_rate_charge(&r, 10001);                       /* 10 000 bytes of debt */
    assert_false(net_rate_may_send(&r, 1000 * MS + 1000));
    uint64_t wait = net_rate_wait_ns(&r);
    assert_int_equal(wait, 10001 * 1000);
    assert_false(net_rate_may_send(&r, 1000 * MS + 1000 + wait - 2000));
    assert_true(net_rate_may_send(&r, 1000 * MS + 1000 + wait));
}

static void test_refill_caps_and_keeps_remainders(void **state)
{
    struct net_rate r;
    net_rate_set(&r, 1, 0);                         /* 125 000 B/s: 8 us per byte */
    net_rate_charge(&r, r.burst);
    /* 1000 polls 4 us apart: each alone earns half a byte; together 500 bytes. */
    for (uint64_t t = 4000; t <= 4000000; t += 4000)
        net_rate_may_send(&r, t);
    assert_int_equal(r.tokens, 500);
    /* A long pause fills the bucket, never more. */
    assert_true(net_rate_may_send(&r, 3600000 * MS));
    assert_int_equal(r.tokens, (int64_t)r.burst);
    /* Time going backwards (a stale now) changes nothing. */
    assert_true(net_rate_may_send(&r, 5));
    assert_int_equal(r.tokens, (int64_t)r.burst);
}

static void test_fast_rates_do_not_overflow(void **state)
{
    struct net_rate r;
    net_rate_set(&r, 1000000, 0);                   /* 1 Tbit/s */
    assert_int_equal(r.burst, 1250000000ull);
    net_rate_charge(&r, r.burst + 1);
    assert_false(net_rate_may_send(&r, 0));
    assert_true(net_rate_may_send(&r, 20 * 1000 * MS));   /* 20 s later: full, no wrap */
    assert_int_equal(r.tokens, (int64_t)r.burst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_bucket_and_debt),
        cmocka_unit_test(test_refill_caps_and_keeps_remainders),
        cmocka_unit_test(test_fast_rates_do_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
