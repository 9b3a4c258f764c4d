/* Cross---net checks: taps and MACs unique over every PF and every VF it may bring up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/net_conflicts.h"

static void parse2(struct net_opts o[2], const char *a, const char *b)
{
    assert_int_equal(net_opts_parse(a, &o[0], NULL, 0), 0);
    assert_int_equal(net_opts_parse(b, &o[1], NULL, 0), 0);
}

static void test_distinct_ok(void **state)
{
    struct net_opts o[2];
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=4,vf-tap=a%d",
           "tap=t1,mac=52:54:00:00:01:10,total-vfs=4,vf-tap=b%d");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), 0);
    assert_int_equal(net_opts_check_conflicts(o, 0, NULL, 0), 0);
    parse2(o, "tap=t0,mac=52:54:00:00:00:10", "tap=t1,mac=52:54:00:00:00:11");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), 0);
}

static void test_tap_conflicts(void **state)
{
    struct net_opts o[2];
    /* Two plain NICs on one tap. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10", "tap=t0,mac=52:54:00:00:00:20");
    char err[256] = "";
    assert_int_equal(net_opts_check_conflicts(o, 2, err, sizeof(err)), -1);
    assert_string_equal(err, "--net: tap t0 is given to both net0 and net1");
    /* Same VF pattern on two PFs: VF 0 of each would share vf0. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=2,vf-tap=vf%d",
           "tap=t1,mac=52:54:00:00:01:10,total-vfs=2,vf-tap=vf%d");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
    /* A PF's tap equal to the last VF name of another PF's pattern. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=12,vf-tap=x%d",
           "tap=x11,mac=52:54:00:00:01:10");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
    /* ... but one VF short of it is fine. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=11,vf-tap=x%d",
           "tap=x11,mac=52:54:00:00:01:10");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), 0);
    /* A PF's own VF pattern producing the PF's tap. */
    parse2(o, "tap=p1,mac=52:54:00:00:00:10,total-vfs=2,vf-tap=p%d",
           "tap=t1,mac=52:54:00:00:01:10");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
}

static void test_mac_conflicts(void **state)
{
    struct net_opts o[2];
    parse2(o, "tap=t0,mac=52:54:00:00:00:10", "tap=t1,mac=52:54:00:00:00:10");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
    /* Default VF MACs of net0 (PF + 1..4) reach net1's PF MAC. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=4,vf-tap=a%d",
           "tap=t1,mac=52:54:00:00:00:14");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=3,vf-tap=a%d",
           "tap=t1,mac=52:54:00:00:00:14");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), 0);
    /* An explicit vf-mac equal to another PF's VF default. */
    parse2(o, "tap=t0,mac=52:54:00:00:00:10,total-vfs=1,vf-tap=a%d,vf-mac=52:54:00:00:01:11",
           "tap=t1,mac=52:54:00:00:01:10,total-vfs=1,vf-tap=b%d");
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distinct_ok),
        cmocka_unit_test(test_tap_conflicts),
        cmocka_unit_test(test_mac_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
