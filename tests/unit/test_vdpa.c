/* vhost-vdpa without a kernel: feature negotiation, netlink message building and
 * parsing, uevent parsing, option parsing and the open error paths. */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "backend/vdpa_monitor.h"
#include "backend/vdpa_netlink.h"
#include "base/util.h"
#include "net/net_conflicts.h"
#include "net/net_opts.h"

/* vpf keeps the control queue and its commands; ACCESS_PLATFORM goes to the device
 * only; ring features only where both have them. */
static void test_driver_features(void **state)
{
    (void)state;
    uint64_t guest = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
                     BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
                     BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_NOTF_COAL) |
                     BIT(VIRTIO_F_SR_IOV) | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM);
    /* vdpa_sim_net in Linux 6.1 */
    uint64_t sim = BIT(VIRTIO_F_ANY_LAYOUT) | BIT(VIRTIO_F_VERSION_1) |
                   BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_MTU) |
                   BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);
    assert_int_equal(vhost_vdpa_driver_features(guest, sim), BIT(VIRTIO_F_VERSION_1) |
                                                                 BIT(VIRTIO_NET_F_MAC) |
                                                                 BIT(VIRTIO_F_ACCESS_PLATFORM));
    uint64_t hw = sim | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_RING_F_EVENT_IDX) |
                  BIT(VIRTIO_NET_F_CSUM);
    assert_int_equal(vhost_vdpa_driver_features(guest, hw),
                     BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) |
                         BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
                         BIT(VIRTIO_NET_F_CSUM));
    /* Without ACCESS_PLATFORM on the device it is not set either. */
    assert_int_equal(vhost_vdpa_driver_features(guest, BIT(VIRTIO_F_VERSION_1)),
                     BIT(VIRTIO_F_VERSION_1));
}

/* Walks the attributes of a generic netlink message: the payload of attribute type, or
 * NULL; *len its length. */
static const char *attr(const void *msg, uint16_t type, size_t *len)
{
    const struct nlmsghdr *h = msg;
    const char *p = (const char *)msg + NLMSG_HDRLEN + GENL_HDRLEN;
    const char *end = (const char *)msg + h->nlmsg_len;
    while (p + NLA_HDRLEN <= end) {
        const struct nlattr *a = (const struct nlattr *)p;
        assert_true(a->nla_len >= NLA_HDRLEN && p + a->nla_len <= end);
        if (a->nla_type == type) {
            *len = a->nla_len - NLA_HDRLEN;
            return p + NLA_HDRLEN;
        }
        p += NLA_ALIGN(a->nla_len);
    }
    return NULL;
}

static void test_dev_new_message(void **state)
{
    (void)state;
    char buf[512];
    const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x57 };
    size_t n = vdpa_nl_build_dev_new(buf, sizeof(buf), 0x1d, 7, "vpf1-net0vf0", "vdpasim_net", mac);
    assert_true(n > NLMSG_HDRLEN + GENL_HDRLEN);
    const struct nlmsghdr *h = (const void *)buf;
    assert_int_equal(h->nlmsg_len, n);
    assert_int_equal(h->nlmsg_type, 0x1d);
    assert_int_equal(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    assert_int_equal(h->nlmsg_seq, 7);
    const struct genlmsghdr *g = NLMSG_DATA(h);
    assert_int_equal(g->cmd, VDPA_CMD_DEV_NEW);
    size_t len;
    const char *v = attr(buf, VDPA_ATTR_DEV_NAME, &len);
    assert_non_null(v);
    assert_int_equal(len, strlen("vpf1-net0vf0") + 1);
    assert_string_equal(v, "vpf1-net0vf0");
    v = attr(buf, VDPA_ATTR_MGMTDEV_DEV_NAME, &len);
    assert_non_null(v);
    assert_string_equal(v, "vdpasim_net");
    assert_null(attr(buf, VDPA_ATTR_MGMTDEV_BUS_NAME, &len));
    v = attr(buf, VDPA_ATTR_DEV_NET_CFG_MACADDR, &len);
    assert_non_null(v);
    assert_int_equal(len, 6);
    assert_memory_equal(v, mac, 6);

    /* "bus/dev": both halves; no MAC attribute without a MAC. */
    n = vdpa_nl_build_dev_new(buf, sizeof(buf), 0x1d, 8, "d", "pci/0000:03:00.1", NULL);
    assert_true(n > 0);
    assert_string_equal(attr(buf, VDPA_ATTR_MGMTDEV_BUS_NAME, &len), "pci");
    assert_string_equal(attr(buf, VDPA_ATTR_MGMTDEV_DEV_NAME, &len), "0000:03:00.1");
    assert_null(attr(buf, VDPA_ATTR_DEV_NET_CFG_MACADDR, &len));
}

static void test_bad_messages_are_not_built(void **state)
{
    (void)state;
    char buf[512], big[VDPA_NL_NAME_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(vdpa_nl_build_dev_new(buf, sizeof(buf), 1, 1, "", "vdpasim_net", NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_new(buf, sizeof(buf), 1, 1, big, "vdpasim_net", NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_new(buf, sizeof(buf), 1, 1, "d", "/x", NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_new(buf, sizeof(buf), 1, 1, "d", "pci/", NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_new(buf, 40, 1, 1, "d", "vdpasim_net", NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_del(buf, sizeof(buf), 1, 1, NULL), 0);
    assert_int_equal(vdpa_nl_build_dev_del(buf, 20, 1, 1, "d"), 0);
    size_t n = vdpa_nl_build_dev_del(buf, sizeof(buf), 0x1d, 3, "vpf1-net0vf2");
    assert_true(n > 0);
    assert_int_equal(((struct genlmsghdr *)NLMSG_DATA((struct nlmsghdr *)buf))->cmd,
                     VDPA_CMD_DEV_DEL);
    size_t len;
    assert_string_equal(attr(buf, VDPA_ATTR_DEV_NAME, &len), "vpf1-net0vf2");
}

static void test_getfamily_and_answers(void **state)
{
    (void)state;
    char buf[256];
    size_t n = vdpa_nl_build_getfamily(buf, sizeof(buf), 1);
    assert_true(n > 0);
    assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_type, GENL_ID_CTRL);
    size_t len;
    assert_string_equal(attr(buf, CTRL_ATTR_FAMILY_NAME, &len), VDPA_GENL_NAME);

    /* An answer with the family id. */
    struct {
        struct nlmsghdr h;
        struct genlmsghdr g;
        struct nlattr a;
        uint16_t id;
        uint16_t pad;
    } ans = { .h = { .nlmsg_len = sizeof(ans), .nlmsg_type = GENL_ID_CTRL },
              .g = { .cmd = CTRL_CMD_NEWFAMILY },
              .a = { .nla_len = NLA_HDRLEN + 2, .nla_type = CTRL_ATTR_FAMILY_ID },
              .id = 0x22 };
    assert_int_equal(vdpa_nl_parse_family(&ans, sizeof(ans)), 0x22);
    assert_int_equal(vdpa_nl_parse_family(&ans, 10), -1);           /* truncated */
    ans.a.nla_len = 200;                                             /* attribute past the end */
    assert_int_equal(vdpa_nl_parse_family(&ans, sizeof(ans)), -1);

    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } ack = { .h = { .nlmsg_len = sizeof(ack), .nlmsg_type = NLMSG_ERROR },
              .e = { .error = -ENODEV } };
    assert_int_equal(vdpa_nl_parse_ack(&ack, sizeof(ack)), -ENODEV);
    ack.e.error = 0;
    assert_int_equal(vdpa_nl_parse_ack(&ack, sizeof(ack)), 0);
    ack.e.error = 5;                                                 /* not an errno */
    assert_int_equal(vdpa_nl_parse_ack(&ack, sizeof(ack)), -EBADMSG);
    assert_int_equal(vdpa_nl_parse_ack(&ack, 8), -EBADMSG);
    ack.h.nlmsg_type = GENL_ID_CTRL;
    assert_int_equal(vdpa_nl_parse_ack(&ack, sizeof(ack)), -EBADMSG);
}

static void test_dev_name_parse(void **state)
{
    (void)state;
    unsigned minor = 99;
    assert_int_equal(vdpa_monitor_parse("vhost-vdpa-3", &minor), 1);
    assert_int_equal(minor, 3);
    assert_int_equal(vdpa_monitor_parse("vhost-vdpa-12", &minor), 1);
    assert_int_equal(minor, 12);
    assert_int_equal(vdpa_monitor_parse("vhost-net", &minor), 0);
    assert_int_equal(vdpa_monitor_parse("vhost-vdpa-3x", &minor), 0);
    assert_int_equal(vdpa_monitor_parse("vhost-vdpa-", &minor), 0);
    assert_int_equal(vdpa_monitor_parse("vhost-vdpa--1", &minor), 0);
    assert_int_equal(vdpa_monitor_parse("xvhost-vdpa-1", &minor), 0);
}

static void test_options(void **state)
{
    (void)state;
    struct net_opts o;
    assert_int_equal(
        net_opts_parse("backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-0,mac=52:54:00:00:00:01", &o, NULL,
                       0),
        0);
    assert_int_equal(o.backend, NET_BACKEND_VHOST_VDPA);
    assert_string_equal(o.vdpa, "/dev/vhost-vdpa-0");
    assert_string_equal(o.tap, "");
    assert_int_equal(net_opts_parse("backend=vhost-vdpa", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=t0,backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-0", &o, NULL,
                                    0),
                     -1);
    assert_int_equal(net_opts_parse("tap=t0,vdpa=/dev/vhost-vdpa-0", &o, NULL, 0), -1);

    assert_int_equal(
        net_opts_parse("tap=t0,mac=52:54:00:00:00:10,total-vfs=3,vf-backend=vhost-vdpa,"
                       "vf-vdpa=/dev/vhost-vdpa-%d",
                       &o, NULL, 0),
        0);
    char path[64];
    pf_policy_vf_vdpa(&o.vf, 2, path);
    assert_string_equal(path, "/dev/vhost-vdpa-2");
    assert_false(o.vf.spoofchk);
    assert_true(pf_policy_vf_offloaded(&o.vf));
    char tap[IFNAMSIZ];
    pf_policy_vf_tap(&o.vf, 1, tap);
    assert_string_equal(tap, "");
    assert_int_equal(
        net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net", &o,
                       NULL, 0),
        0);
    assert_string_equal(o.vf.vf_vdpa_mgmtdev, "vdpasim_net");
    /* One source, a pattern with one %d, no tap, no spoof check. */
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=m,"
                                    "vf-vdpa=/dev/vhost-vdpa-%d",
                                    &o, NULL, 0),
                     -1);
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa=/dev/vd", &o,
                                    NULL, 0),
                     -1);
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa=/d%d/%d", &o,
                                    NULL, 0),
                     -1);
    assert_int_equal(
        net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=m,vf-tap=v%d", &o,
                       NULL, 0),
        -1);
    assert_int_equal(
        net_opts_parse("tap=t0,total-vfs=3,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=m,vf-spoofchk=on",
                       &o, NULL, 0),
        -1);
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=3,vf-tap=v%d,vf-vdpa-mgmtdev=m", &o, NULL, 0),
                     -1);
    assert_int_equal(net_opts_parse("tap=t0,vf-vdpa-mgmtdev=m", &o, NULL, 0), -1);
}

/* Two vDPA PFs and vDPA VFs have no taps: no false tap conflict between them, MACs
 * still checked. */
static void test_conflicts_without_taps(void **state)
{
    (void)state;
    struct net_opts o[2];
    assert_int_equal(
        net_opts_parse("backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-0,mac=52:54:00:00:00:01", &o[0],
                       NULL, 0),
        0);
    assert_int_equal(
        net_opts_parse("tap=t1,mac=52:54:00:00:01:01,total-vfs=2,vf-backend=vhost-vdpa,"
                       "vf-vdpa-mgmtdev=vdpasim_net",
                       &o[1], NULL, 0),
        0);
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), 0);
    assert_int_equal(
        net_opts_parse("tap=t1,mac=52:54:00:00:00:00,total-vfs=2,vf-backend=vhost-vdpa,"
                       "vf-vdpa-mgmtdev=vdpasim_net",
                       &o[1], NULL, 0),
        0);
    assert_int_equal(net_opts_check_conflicts(o, 2, NULL, 0), -1);     /* VF 0 gets ...:01 */
}

static void test_open_errors(void **state)
{
    (void)state;
    struct guest_mem mem = { 0 };
    char err[256];
    assert_null(vhost_vdpa_open("/nonexistent/vhost-vdpa-5", &mem, err, sizeof(err)));
    assert_non_null(strstr(err, "vhost-vdpa /nonexistent/vhost-vdpa-5: No such file or directory"));
    /* Not a vhost device: the first ioctl fails, the reason says which. */
    assert_null(vhost_vdpa_open("/dev/null", &mem, err, sizeof(err)));
    assert_non_null(strstr(err, "vhost-vdpa /dev/null: VHOST_SET_OWNER: "));
    char path[64];
    assert_int_equal(vdpa_dev_vhost_path("vpf-no-such-device", path, sizeof(path), err,
                                         sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "vDPA device vpf-no-such-device: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_features),
        cmocka_unit_test(test_dev_new_message),
        cmocka_unit_test(test_bad_messages_are_not_built),
        cmocka_unit_test(test_getfamily_and_answers),
        cmocka_unit_test(test_dev_name_parse),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_conflicts_without_taps),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
