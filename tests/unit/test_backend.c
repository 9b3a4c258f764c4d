/* tap backend against the real /dev/net/tun (skipped where the host gives us none), the
 * loop backend's framing, and the --net option parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/util.h"
#include "net/net_opts.h"

/* queues=N: N queues of one multi-queue tap; a pair's queue detaches and attaches
 * (TUNSETQUEUE), the offloads are set through an attached queue; other backends have
 * one pair. */
static void test_tap_multi_queue(void **state)
{
    char name[IFNAMSIZ];
    snprintf(name, sizeof(name), "vpfq%d", (int)getpid() % 100000);
    char err[256];
    struct net_backend *be[3];
    if (net_backend_open_mq(NET_BACKEND_TAP, name, 3, be, err, sizeof(err)) < 0) {
        print_message("tap not available here (%s), skipped\n", err);
        skip();
    }
    for (int k = 0; k < 3; k++) {
        assert_true(tap_created(be[k]));
        assert_string_equal(be[k]->name, name);
        assert_true(be[k]->fd >= 0);
    }
    assert_int_not_equal(be[0]->fd, be[1]->fd);
    struct ifreq ifr = { 0 };
    assert_int_equal(ioctl(be[1]->fd, TUNGETIFF, &ifr), 0);
    assert_true(ifr.ifr_flags & IFF_MULTI_QUEUE);
    assert_int_equal(be[1]->ops->set_queue_enabled(be[1], false), 0);
    assert_int_equal(be[1]->ops->set_queue_enabled(be[1], false), -1);     /* EINVAL */
    assert_int_equal(net_backend_set_features(be[0], BIT(VIRTIO_NET_F_GUEST_CSUM)), 0);
    assert_int_equal(be[1]->ops->set_queue_enabled(be[1], true), 0);
    assert_int_equal(ioctl(be[1]->fd, TUNGETIFF, &ifr), 0);
    for (int k = 0; k < 3; k++)
        net_backend_close(be[k]);
    assert_int_equal(if_nametoindex(name), 0);  /* gone with its last queue */
    /* A single-queue tap takes no second queue; vhost-vdpa and vhost-user: no tap queues. */
    struct net_backend *one = tap_open(name, err, sizeof(err));
    assert_non_null(one);
    assert_int_equal(net_backend_open_mq(NET_BACKEND_TAP, name, 2, be, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "IFF_MULTI_QUEUE"));
    net_backend_close(one);
    assert_int_equal(net_backend_open_mq(NET_BACKEND_VHOST_USER, name, 2, be, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "queues=2 needs tap or vhost-net"));
}

static void test_tap(void **state)
{
    char name[IFNAMSIZ];
    snprintf(name, sizeof(name), "vpft%d", (int)getpid() % 100000);
    char err[256];
    struct net_backend *be = tap_open(name, err, sizeof(err));
    if (!be) {
        print_message("tap not available here (%s), skipped\n", err);
        skip();
    }
    assert_true(tap_created(be));
    assert_int_not_equal(if_nametoindex(name), 0);
    assert_int_equal(be->hdr_len, 12);
    assert_string_equal(be->name, name);
    uint64_t f = net_backend_features(be);
    assert_true(f & BIT(VIRTIO_NET_F_CSUM));
    assert_true(f & BIT(VIRTIO_NET_F_HOST_TSO4));
    assert_true(f & BIT(VIRTIO_NET_F_GUEST_CSUM));
    assert_int_equal(net_backend_set_features(be, BIT(VIRTIO_NET_F_GUEST_CSUM) |
                                                      BIT(VIRTIO_NET_F_GUEST_TSO4)),
                     0);
    assert_int_equal(net_backend_set_features(be, 0), 0);

    /* Link is up (IFF_UP) and addressing left alone. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = { 0 };
    memcpy(ifr.ifr_name, name, strlen(name));
    assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    assert_true(ifr.ifr_flags & IFF_UP);
    close(s);

    /* A frame with a plain vnet header is accepted; nothing to read (non-blocking). */
    uint8_t frame[12 + 60] = { 0 };
    memset(frame + 12, 0xff, 6);                     /* broadcast destination */
    frame[12 + 6] = 0x02;                            /* locally administered source */
    frame[12 + 12] = 0x88;                           /* local experimental ethertype */
    frame[12 + 13] = 0xb5;
    struct iovec iov = { frame, sizeof(frame) };
    assert_int_equal(net_backend_send(be, &iov, 1), sizeof(frame));
    uint8_t in[2048];
    struct iovec riov = { in, sizeof(in) };
    ssize_t r;
    while ((r = net_backend_recv(be, &riov, 1)) > 0)
        ;                                            /* host may send IPv6 noise */
    assert_int_equal(r, -EAGAIN);
    net_backend_close(be);
    assert_int_equal(if_nametoindex(name), 0);       /* created by us: gone */
}

/* A frame longer than the buffers: tun returns only what fit (a read is clamped to the
 * iovec), which looked like a whole, shorter frame and reached the guest cut. The
 * backend must report it as longer than the iovec, so the caller drops it. */
static void test_tap_truncation(void **state)
{
    char name[IFNAMSIZ], err[256];
    snprintf(name, sizeof(name), "vpfk%d", (int)getpid() % 100000);
    struct net_backend *be = tap_open(name, err, sizeof(err));
    int ps = socket(AF_PACKET, SOCK_RAW, 0);
    if (!be || ps < 0) {
        print_message("tap or packet socket not available here (%s), skipped\n", err);
        if (ps >= 0)
            close(ps);
        net_backend_close(be);
        skip();
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = { .ifr_mtu = 4000 };
    memcpy(ifr.ifr_name, name, strlen(name));
    assert_int_equal(ioctl(s, SIOCSIFMTU, &ifr), 0);
    close(s);
    struct sockaddr_ll to = { .sll_family = AF_PACKET,
                              .sll_ifindex = (int)if_nametoindex(name),
                              .sll_halen = 6 };
    memset(to.sll_addr, 0xff, 6);
    static uint8_t frame[3014];
    memset(frame, 0xff, 6);
    frame[6] = 0x02;
    frame[12] = 0x88;                               /* local experimental ethertype */
    frame[13] = 0xb5;
    assert_int_equal(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)),
                     sizeof(frame));
    assert_int_equal(sendto(ps, frame, 600, 0, (struct sockaddr *)&to, sizeof(to)), 600);
    close(ps);
    static uint8_t in[2][1000];
    struct iovec riov[2] = { { in[0], sizeof(in[0]) }, { in[1], sizeof(in[1]) } };
    ssize_t r;
    bool cut = false, whole = false;
    while ((r = net_backend_recv(be, riov, 2)) != -EAGAIN) {
        assert_true(r > 0);
        if (r > 2000) {
            assert_int_equal(r, 2001);              /* longer than the iovec: drop it */
            cut = true;
        } else if (r == 12 + 600 && in[0][12 + 12] == 0x88) {
            whole = true;                           /* one that fits: its length */
        }
    }
    assert_true(cut);
    assert_true(whole);
    net_backend_close(be);
}

/* A tun fd attached to the tap name with flags, as a manager opens it; -1 if no tun. */
static int open_tap_fd(const char *name, short flags)
{
    int fd = open("/dev/net/tun", O_RDWR);
    struct ifreq ifr = { .ifr_flags = flags };
    memcpy(ifr.ifr_name, name, strlen(name));
    if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --net fd=N and handed-over VF taps: a tap the caller opened, used as it is (not
 * created, not removed); anything else is refused with the reason, the fd closed. */
static void test_tap_fd(void **state)
{
    char name[IFNAMSIZ], got[IFNAMSIZ], err[192];
    snprintf(name, sizeof(name), "vpfh%d", (int)getpid() % 100000);
    int fd = open_tap_fd(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    if (fd < 0) {
        print_message("tap not available here, skipped\n");
        skip();
    }
    assert_int_equal(tap_check_fd(fd, got, err, sizeof(err)), 0);
    assert_string_equal(got, name);
    int keep = dup(fd);                              /* the manager's own reference */
    struct net_backend *be = tap_open_fd(fd, err, sizeof(err));
    assert_non_null(be);
    assert_false(tap_created(be));
    assert_string_equal(be->name, name);
    assert_true(fcntl(be->fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(be->fd, F_GETFD) & FD_CLOEXEC);
    assert_true(net_backend_features(be) & BIT(VIRTIO_NET_F_GUEST_CSUM));
    net_backend_close(be);
    assert_int_not_equal(if_nametoindex(name), 0);   /* still the manager's */
    close(keep);
    /* Without IFF_VNET_HDR; a file that is no tap; a closed fd. */
    fd = open_tap_fd(name, IFF_TAP | IFF_NO_PI);
    assert_true(fd >= 0);
    assert_null(tap_open_fd(fd, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a tap with IFF_NO_PI and IFF_VNET_HDR"));
    assert_int_equal(fcntl(fd, F_GETFD), -1);        /* taken: closed */
    fd = open("/dev/null", O_RDWR);
    assert_int_equal(tap_check_fd(fd, got, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an open tap"));
    close(fd);
    assert_null(tap_open_fd(fd, err, sizeof(err)));
    assert_non_null(strstr(err, "not an open file"));
}

static void test_tap_bad_name(void **state)
{
    char err[256] = "";
    assert_null(tap_open("", err, sizeof(err)));
    assert_true(err[0]);
    err[0] = 0;
    assert_null(tap_open("this-name-is-way-too-long-for-linux", err, sizeof(err)));
    assert_true(err[0]);
}

static void test_loop(void **state)
{
    int peer;
    struct net_backend *be = loop_open(&peer);
    assert_non_null(be);
    uint8_t a[12] = { 1 }, b[30];
    memset(b, 7, sizeof(b));
    struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
    assert_int_equal(net_backend_send(be, iov, 2), 42);
    uint8_t got[100];
    assert_int_equal(recv(peer, got, sizeof(got), 0), 42);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[41], 7);
    struct iovec riov = { got, 10 };
    assert_int_equal(net_backend_recv(be, &riov, 1), -EAGAIN);
    assert_int_equal(send(peer, b, sizeof(b), 0), 30);
    assert_int_equal(net_backend_recv(be, &riov, 1), 30);   /* full length: truncated */
    assert_int_equal(net_backend_set_features(be, 3), 0);
    assert_int_equal(loop_last_features(be), 3);
    net_backend_close(be);
    close(peer);
}

static void test_net_opts(void **state)
{
    struct net_opts o;
    assert_int_equal(net_opts_parse("tap=tap0,mac=52:54:00:AB:cd:0f", &o, NULL, 0), 0);
    assert_string_equal(o.tap, "tap0");
    const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f };
    assert_memory_equal(o.mac, want, 6);
    assert_int_equal(net_opts_parse("tap=vpf0", &o, NULL, 0), 0);
    assert_int_equal(o.mac[0], 0x52);
    assert_int_equal(o.mac[2], 0x00);
    assert_int_equal(net_opts_parse("mac=52:54:00:00:00:01", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,mac=01:00:00:00:00:01", &o, NULL, 0),
                     -1);  /* multicast */
    assert_int_equal(net_opts_parse("tap=a,mac=52:54:00:00:00", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,mac=52:54:00:00:00:0g", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,mac=52:54:00:00:00:001", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,foo=1", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=0123456789abcdef", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a/b", &o, NULL, 0), -1);
    /* backend=: the PF's data path; vf-backend=: its VFs'. */
    assert_int_equal(o.backend, NET_BACKEND_TAP);
    assert_int_equal(net_opts_parse("tap=a,backend=vhost-net", &o, NULL, 0), 0);
    assert_int_equal(o.backend, NET_BACKEND_VHOST_NET);
    assert_int_equal(o.vf.vf_backend, NET_BACKEND_TAP);
    assert_int_equal(net_opts_parse("tap=a,backend=tap", &o, NULL, 0), 0);
    assert_int_equal(o.backend, NET_BACKEND_TAP);
    assert_int_equal(net_opts_parse("tap=a,backend=vhost", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,backend=", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-backend=vhost-net", &o, NULL,
                                    0),
                     0);
    assert_int_equal(o.backend, NET_BACKEND_TAP);
    assert_int_equal(o.vf.vf_backend, NET_BACKEND_VHOST_NET);
    assert_false(o.vf.spoofchk);                  /* vpf never sees a vhost-net VF's frames */
    assert_int_equal(
        net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-backend=vhost-net,vf-spoofchk=off", &o,
                       NULL, 0),
        0);
    assert_false(o.vf.spoofchk);
    assert_int_equal(
        net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-backend=vhost-net,vf-spoofchk=on", &o, NULL,
                       0),
        -1);
    assert_int_equal(
        net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-spoofchk=on,vf-backend=vhost-net", &o, NULL,
                       0),
        -1);
    assert_int_equal(net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-backend=tap", &o, NULL, 0), 0);
    assert_true(o.vf.spoofchk);
    assert_int_equal(net_opts_parse("tap=a,vf-backend=vhost-net", &o, NULL, 0),
                     -1);   /* needs total-vfs */
    assert_int_equal(net_opts_parse("tap=a,total-vfs=2,vf-tap=v%d,vf-backend=x", &o, NULL, 0), -1);
    /* fd=N: a number of 3 or more, of an open tap (the tap case: test_tap_fd, cli tests). */
    char err[256] = "";
    int null_fd = open("/dev/null", O_RDONLY);
    char arg[32];
    snprintf(arg, sizeof(arg), "fd=%d", null_fd);
    assert_int_equal(net_opts_parse(arg, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an open tap"));
    close(null_fd);
    err[0] = '\0';
    assert_int_equal(net_opts_parse("fd=2", &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "fd= wants the number of an open tap"));
    assert_int_equal(net_opts_parse("fd=x3", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("fd=99999999999", &o, NULL, 0), -1);
    assert_int_equal(net_opts_parse("tap=a", &o, NULL, 0), 0);
    assert_int_equal(o.tap_fd, -1);
    assert_string_equal(net_backend_type_name(NET_BACKEND_VHOST_NET), "vhost-net");
    assert_string_equal(net_backend_type_name(NET_BACKEND_TAP), "tap");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tap),          cmocka_unit_test(test_tap_multi_queue),
        cmocka_unit_test(test_tap_fd),       cmocka_unit_test(test_tap_truncation),
        cmocka_unit_test(test_tap_bad_name), cmocka_unit_test(test_loop),
        cmocka_unit_test(test_net_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
