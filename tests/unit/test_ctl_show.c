/* What `vpf ctl` prints for people (src/ctl/client_show.c): tables for the listing
 * commands, "key: value" lines for the others, one line per event; answers from a newer
 * or older vpf (fields added or missing) still print. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/client_show.h"

/* The text ctl_show_reply prints for the answer json to cmd. */
static char *shown(const char *cmd, const char *json)
{
    json_error_t e;
    json_t *reply = json_loads(json, 0, &e);
    if (!reply)
        fail_msg("bad test JSON: %s", e.text);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ctl_show_reply(f, cmd, reply);
    fclose(f);
    json_decref(reply);
    return text;
}

static void expect_shown(const char *cmd, const char *json, const char *want)
{
    char *text = shown(cmd, json);
    if (strcmp(text, want))
        fail_msg("vpf ctl %s printed\n%s\nexpected\n%s", cmd, text, want);
    free(text);
}

static void test_devices_table(void **state)
{
    expect_shown(
        "devices",
        "{\"ok\":true,\"devices\":["
        "{\"dev\":\"net0\",\"pci\":\"0000:00:01.0\",\"mac\":\"52:54:00:00:00:10\",\"tap\":\"vpfpf0\","
        "\"link\":true,\"total_vfs\":8,\"backend\":\"tap\",\"vf_backend\":\"vhost-net\"},"
        "{\"dev\":\"net1\",\"pci\":\"0000:00:03.0\",\"mac\":\"52:54:00:aa:bb:01\",\"tap\":\"\","
        "\"link\":false,\"total_vfs\":0,\"backend\":\"vhost-vdpa\",\"vdpa\":\"/dev/vhost-vdpa-0\","
        "\"future_field\":42}]}",
        "DEV   PCI           MAC                LINK  BACKEND     PORT               VFS  VF-BACKEND\n"
        "net0  0000:00:01.0  52:54:00:00:00:10  up    tap         vpfpf0             8    vhost-net\n"
        "net1  0000:00:03.0  52:54:00:aa:bb:01  down  vhost-vdpa  /dev/vhost-vdpa-0  -    -\n");
    /* No devices: no table at all. */
    expect_shown("devices", "{\"ok\":true,\"devices\":[]}", "");
}

/* Every VF the PF allows, as ip link show lists them: an enabled one with its counters,
 * one whose backend failed, one the guest has not enabled (settings only). */
static void test_vfs_table(void **state)
{
    expect_shown(
        "vfs",
        "{\"ok\":true,\"dev\":\"net0\",\"total_vfs\":3,\"num_vfs\":2,\"vfs\":["
        "{\"vf\":0,\"dev\":\"net0vf0\",\"pci\":\"0000:00:01.1\",\"mac\":\"52:54:00:00:00:11\","
        "\"tap\":\"vpfv0\",\"link\":true,\"up\":true,\"link_state\":\"auto\",\"trust\":false,"
        "\"qos\":2,\"proto\":\"802.1ad\",\"max_tx_rate\":500,\"min_tx_rate\":0,"
        "\"rx_packets\":12,\"rx_bytes\":1200,\"tx_packets\":7,"
        "\"tx_bytes\":700,\"tx_dropped\":1,\"tx_spoofed\":3,\"vlan\":100,\"spoofchk\":true,"
        "\"rate\":500,\"backend\":\"tap\",\"counters\":\"vpf\",\"error\":\"\"},"
        "{\"vf\":1,\"dev\":\"net0vf1\",\"pci\":\"0000:00:01.2\",\"mac\":\"52:54:00:00:00:12\","
        "\"tap\":\"\",\"link\":false,\"up\":true,\"link_state\":\"enable\",\"trust\":true,"
        "\"qos\":0,\"proto\":\"802.1Q\",\"max_tx_rate\":0,\"min_tx_rate\":0,"
        "\"rx_packets\":0,\"rx_bytes\":0,\"tx_packets\":0,"
        "\"tx_bytes\":0,\"tx_dropped\":0,\"tx_spoofed\":0,\"vlan\":0,\"spoofchk\":false,"
        "\"rate\":0,\"backend\":\"null\",\"counters\":\"none\","
        "\"error\":\"vDPA device deleted\",\"vdpa\":\"vpf77-net0vf1\"},"
        "{\"vf\":2,\"mac\":\"52:54:00:00:00:13\",\"tap\":\"vpfv2\",\"link\":false,\"up\":false,"
        "\"link_state\":\"disable\",\"trust\":false,\"qos\":0,\"proto\":\"802.1Q\","
        "\"max_tx_rate\":0,\"min_tx_rate\":0,\"vlan\":0,\"spoofchk\":true,\"rate\":0,"
        "\"backend\":\"tap\",\"error\":\"\"}]}",
        "net0: 2 of 3 VFs enabled\n"
        "VF  UP     DEV      PCI           MAC                LINK  STATE    BACKEND  PORT           VLAN"
        "  QOS  PROTO    SPOOFCHK  TRUST  MAX-TX  RX-PKTS  TX-PKTS  TX-DROP  SPOOFED  COUNTERS  ERROR\n"
        "0   true   net0vf0  0000:00:01.1  52:54:00:00:00:11  up    auto     tap      vpfv0          100 "
        "  2    802.1ad  on        off    500     12       7        1        3        vpf       -\n"
        "1   true   net0vf1  0000:00:01.2  52:54:00:00:00:12  down  enable   null     vpf77-net0vf1  -   "
        "  -    802.1Q   off       on     -       0        0        0        0        none      vDPA device deleted\n"
        "2   false  -        -             52:54:00:00:00:13  down  disable  tap      vpfv2          -   "
        "  -    802.1Q   on        off    -       -        -        -        -        -         -\n");
    /* An empty list: the count line only. */
    expect_shown("vfs", "{\"ok\":true,\"dev\":\"net0\",\"total_vfs\":9,\"num_vfs\":0,\"vfs\":[]}",
                 "net0: 0 of 9 VFs enabled\n");
}

static void test_stats(void **state)
{
    expect_shown(
        "stats",
        "{\"ok\":true,\"dev\":\"net0vf2\",\"link\":false,\"rx_packets\":5,\"rx_bytes\":640,"
        "\"rx_dropped\":1,\"rx_errors\":0,\"tx_packets\":4,\"tx_bytes\":512,\"tx_dropped\":0,"
        "\"tx_errors\":2,\"tx_spoofed\":9,\"rx_usecs\":200,\"rx_max_packets\":32,\"tx_usecs\":0,"
        "\"tx_max_packets\":1,\"backend\":\"vhost-vdpa\",\"counters\":\"none\","
        "\"error\":\"no vdpa\",\"vdpa\":\"vpf1-net0vf2\"}",
        "net0vf2  link down  backend vhost-vdpa  counters none  vdpa vpf1-net0vf2\n"
        "    PACKETS  BYTES  DROPPED  ERRORS  SPOOFED  IRQ-USECS  IRQ-FRAMES\n"
        "RX  5        640    1        0       -        200        32\n"
        "TX  4        512    0        2       9        0          1\n"
        "error: no vdpa\n");
}

/* Several queue pairs: how many are in use and a row per pair; one pair: nothing more. */
static void test_stats_queues(void **state)
{
    expect_shown(
        "stats",
        "{\"ok\":true,\"dev\":\"net0\",\"link\":true,\"rx_packets\":5,\"rx_bytes\":640,"
        "\"tx_packets\":4,\"tx_bytes\":512,\"backend\":\"tap\",\"counters\":\"vpf\","
        "\"queue_pairs\":2,\"active_pairs\":1,\"queues\":[{\"rx_packets\":3,\"rx_bytes\":384,"
        "\"tx_packets\":4,\"tx_bytes\":512},{\"rx_packets\":2,\"rx_bytes\":256,"
        "\"tx_packets\":0,\"tx_bytes\":0}]}",
        "net0  link up  backend tap  counters vpf\n"
        "    PACKETS  BYTES  DROPPED  ERRORS  SPOOFED  IRQ-USECS  IRQ-FRAMES\n"
        "RX  5        640    -        -       -        -          -\n"
        "TX  4        512    -        -       -        -          -\n"
        "queue pairs: 1 of 2 in use\n"
        "PAIR  RX-PACKETS  RX-BYTES  TX-PACKETS  TX-BYTES\n"
        "0     3           384       4           512\n"
        "1     2           256       0           0\n");
    expect_shown("stats",
                 "{\"ok\":true,\"dev\":\"net1\",\"link\":true,\"rx_packets\":0,"
                 "\"queue_pairs\":1,\"active_pairs\":1,\"queues\":[{\"rx_packets\":0}]}",
                 "net1  link up\n"
                 "    PACKETS  BYTES  DROPPED  ERRORS  SPOOFED  IRQ-USECS  IRQ-FRAMES\n"
                 "RX  0        -      -        -       -        -          -\n"
                 "TX  -        -      -        -       -        -          -\n");
}

static void test_help_table(void **state)
{
    expect_shown(
        "help",
        "{\"ok\":true,\"commands\":[{\"name\":\"devices\",\"help\":\"list network devices\",\"args\":{}},"
        "{\"name\":\"vf-set\",\"help\":\"set a VF's port\",\"args\":{"
        "\"dev\":{\"type\":\"a string\",\"required\":true},\"vf\":{\"type\":\"an integer\",\"required\":true},"
        "\"vlan\":{\"type\":\"an integer\",\"required\":false}}}]}",
        "COMMAND  ARGUMENTS      DESCRIPTION\n"
        "devices                 list network devices\n"
        "vf-set   dev vf [vlan]  set a VF's port\n");
}

/* Any other answer: its fields, aligned; lists as comma-separated names. */
static void test_fields(void **state)
{
    expect_shown(
        "info",
        "{\"ok\":true,\"version\":\"0.1.0\",\"revision\":\"\",\"uptime_ms\":1046,\"cpus\":2,"
        "\"devices\":[\"net0\",\"net1\"]}",
        "version:   0.1.0\n"
        "revision:  -\n"
        "uptime_ms: 1046\n"
        "cpus:      2\n"
        "devices:   net0,net1\n");
    expect_shown("link", "{\"ok\":true,\"id\":7,\"dev\":\"net0\",\"up\":false}",
                 "id:  7\ndev: net0\nup:  false\n");
    /* A listing answer of an unexpected shape falls back to its fields. */
    expect_shown("devices", "{\"ok\":true,\"devices\":\"soon\"}", "devices: soon\n");
}

static char *event_shown(const char *line)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ctl_show_event(f, line);
    fclose(f);
    return text;
}

static void test_events(void **state)
{
    char *t = event_shown(
        "{\"event\":\"vfs-changed\",\"timestamp\":{\"seconds\":1764755000,"
        "\"microseconds\":120000},\"data\":{\"dev\":\"net0\",\"num_vfs\":2,\"vfs\":["
        "{\"vf\":0,\"dev\":\"net0vf0\"},{\"vf\":1,\"dev\":\"net0vf1\"}]}}");
    assert_string_equal(
        t, "2025-12-03T09:43:20.120Z vfs-changed dev=net0 num_vfs=2 vfs=net0vf0,net0vf1\n");
    free(t);
    t = event_shown("{\"event\":\"shutdown\",\"timestamp\":{\"seconds\":0,\"microseconds\":999},"
                    "\"data\":{\"reason\":\"guest powered off\",\"status\":0}}");
    assert_string_equal(
        t, "1970-01-01T00:00:00.000Z shutdown reason=\"guest powered off\" status=0\n");
    free(t);
    t = event_shown("not json");
    assert_string_equal(t, "not json\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_table), cmocka_unit_test(test_vfs_table),
        cmocka_unit_test(test_stats),         cmocka_unit_test(test_stats_queues),
        cmocka_unit_test(test_help_table),    cmocka_unit_test(test_fields),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
