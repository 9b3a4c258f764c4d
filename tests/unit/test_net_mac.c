/* MAC addresses as text (net/mac.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/mac.h"

static void test_parse(void **state)
{
    static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f };
    uint8_t mac[6];
    assert_int_equal(net_parse_mac("52:54:00:AB:cd:0f", mac), 0);
    assert_memory_equal(mac, want, 6);
    assert_int_equal(net_parse_mac("01:00:00:00:00:01", mac), -1);     /* multicast */
    assert_int_equal(net_parse_mac("52:54:00:00:00", mac), -1);
    assert_int_equal(net_parse_mac("52:54:00:00:00:0g", mac), -1);
    assert_int_equal(net_parse_mac("52:54:00:00:00:001", mac), -1);
    assert_int_equal(net_parse_mac("52-54-00-00-00-01", mac), -1);
    assert_int_equal(net_parse_mac("", mac), -1);
}

static void test_format_round_trip(void **state)
{
    static const uint8_t mac[6] = { 0x02, 0xff, 0x00, 0x1a, 0xb2, 0xc3 };
    char s[MAC_STR_LEN];
    memset(s, 'x', sizeof(s));
    net_format_mac(s, mac);
    assert_string_equal(s, "02:ff:00:1a:b2:c3");
    uint8_t back[6];
    assert_int_equal(net_parse_mac(s, back), 0);
    assert_memory_equal(back, mac, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
