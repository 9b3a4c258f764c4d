/* The VF manager without KVM: a virtio-net PF on a real root complex, VF backends from the
 * loop backend (or a failure on demand), fake MSI routes and fake ioeventfd hooks. The
 * guest side is played through ECAM and BAR MMIO, as Linux's iov.c and virtio_pci do. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_guest.h"
#include "net/vf.h"
#include "ecam.h"
#include "net/net_rate.h"
#include "pci/bus.h"
#include "vm/layout.h"

#define PF_DEVFN PCI_DEVFN(1, 0)
#define TOTAL 4

/* ---- fakes ---- */
static int r_add(void *o, uint64_t addr, uint32_t data, int *fd)
{
    *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return *fd;                                 /* the handle is the fd */
}
static int r_update(void *o, int h, uint64_t a, uint32_t d) { return 0; }
static void r_remove(void *o, int h) { close(h); }
static const struct msi_router_ops r_ops = { r_add, r_update, r_remove };

struct ctx {
    struct fake_guest g;
    struct msi_router router;
    struct pci_bus bus;
    struct pf_policy policy;
    struct virtio_net *pf_net;
    struct virtio_pci pf;
    struct net_vf_mgr m;
    int pf_peer;
    int peers[TOTAL];
    int fail_index;                             /* backend of this VF fails, -1 none */
    unsigned opens;
    int ioev_live;                              /* registered ioeventfds */
    uint64_t ioev_gpa[64];
};

static int io_add(void *o, uint64_t gpa, int fd)
{
    struct ctx *t = o;
    assert_true(t->ioev_live < 64);
    t->ioev_gpa[t->ioev_live++] = gpa;
    return 0;
}

static void io_del(void *o, uint64_t gpa, int fd)
{
    struct ctx *t = o;
    for (int i = 0; i < t->ioev_live; i++) {
        if (t->ioev_gpa[i] == gpa) {
            t->ioev_gpa[i] = t->ioev_gpa[--t->ioev_live];
            return;
        }
    }
    fail_msg("del of an unregistered ioeventfd %#llx", (unsigned long long)gpa);
}
static const struct virtio_pci_notify_ops io_ops = { io_add, io_del };

static bool ioev_at(struct ctx *t, uint64_t gpa)
{
    for (int i = 0; i < t->ioev_live; i++)
        if (t->ioev_gpa[i] == gpa)
            return true;
    return false;
}

static struct net_backend *open_be(void *opaque, unsigned i, const char *ifname)
{
    struct ctx *t = opaque;
    t->opens++;
    if ((int)i == t->fail_index)
        return NULL;
    if (t->peers[i] >= 0)
        close(t->peers[i]);
    return loop_open(&t->peers[i]);
}

static const uint8_t PF_MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* pci_device_init's one failure (no room for the PCI Express capability) cannot happen
 * on a fresh config space, so this test is linked with -Wl,--wrap=pci_config_add_pcie_cap
 * (tests/unit/meson.build): with pcie_cap_fail_in = n the nth call from now fails. */
int __real_pci_config_add_pcie_cap(struct pci_config *cfg, unsigned port_type);
int __wrap_pci_config_add_pcie_cap(struct pci_config *cfg, unsigned port_type);
static int pcie_cap_fail_in;

int __wrap_pci_config_add_pcie_cap(struct pci_config *cfg, unsigned port_type)
{
    if (pcie_cap_fail_in && --pcie_cap_fail_in == 0)
        return -1;
    return __real_pci_config_add_pcie_cap(cfg, port_type);
}

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));
    fg_init(&t->g);
    t->fail_index = -1;
    for (int i = 0; i < TOTAL; i++)
        t->peers[i] = -1;
    t->router = (struct msi_router){ &r_ops, t };
    assert_int_equal(pci_bus_init(&t->bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE,
                                  LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE),
                     0);
    pf_policy_init(&t->policy);
    assert_int_equal(pf_policy_parse_key(&t->policy, "total-vfs", "4", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&t->policy, "vf-tap", "tvf%d", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&t->policy, "vf-mac", "02:00:00:00:00:10", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&t->policy, PF_MAC, NULL, 0), 0);
    struct net_backend *be = loop_open(&t->pf_peer);
    t->pf_net = virtio_net_create("net0", &t->g.mem, be, PF_MAC, NULL, 0);
    assert_non_null(t->pf_net);
    assert_int_equal(virtio_pci_init(&t->pf, "net0", virtio_net_vdev(t->pf_net), &t->router, NULL,
                                     0),
                     0);
    const struct net_vf_env env = {
        .mem = &t->g.mem,
        .router = &t->router,
        .notify_ops = &io_ops,
        .notify_opaque = t,
        .open_backend = open_be,
        .backend_opaque = t,
    };
    assert_int_equal(net_vf_mgr_init(&t->m, "net0", &t->pf, t->pf_net, &t->policy, PF_MAC, &env,
                                     NULL, 0),
                     0);
    assert_int_equal(pci_bus_add(&t->bus, &t->pf.pci, PF_DEVFN), 0);
    assert_int_equal(net_vf_mgr_assign_bars(&t->m, &t->bus), 0);
    virtio_pci_set_notify_ops(&t->pf, &io_ops, t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    net_vf_mgr_destroy(&t->m);
    pci_bus_remove(&t->bus, &t->pf.pci);
    virtio_pci_destroy(&t->pf);
    virtio_net_destroy(t->pf_net);
    close(t->pf_peer);
    for (int i = 0; i < TOTAL; i++)
        if (t->peers[i] >= 0)
            close(t->peers[i]);
    assert_int_equal(t->ioev_live, 0);
    pci_bus_destroy(&t->bus);
    fg_free(&t->g);
    free(t);
    return 0;
}

static uint32_t cfg_rd(struct ctx *t, unsigned devfn, unsigned reg, unsigned len)
{
    return ecam_rd(&t->bus, devfn, reg, len);
}

static void cfg_wr(struct ctx *t, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
    ecam_wr(&t->bus, devfn, reg, len, v);
}

static unsigned sr(struct ctx *t) { return t->m.sriov.cap; }

static uint64_t vf_bar_base(struct ctx *t)
{
    return (cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_BAR + 16, 4) & ~0xfull) |
           (uint64_t)cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_BAR + 20, 4) << 32;
}

static uint64_t mmio_rd(struct ctx *t, uint64_t gpa, unsigned len)
{
    uint64_t v = 0;
    pci_bus_mmio64_read(&t->bus, gpa - LAYOUT_MMIO64_START, &v, len);
    return v;
}

static void mmio_wr(struct ctx *t, uint64_t gpa, unsigned len, uint64_t v)
{
    pci_bus_mmio64_write(&t->bus, gpa - LAYOUT_MMIO64_START, &v, len);
}

/* What Linux's sriov_enable writes (drivers/pci/iov.c). */
static void enable_vfs(struct ctx *t, unsigned n)
{
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_NUM_VF, 2, n);
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
}

static void disable_vfs(struct ctx *t)
{
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_CTRL, 2, 0);
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_NUM_VF, 2, 0);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_pf_offers_sriov(void **state)
{
    struct ctx *t = *state;
    assert_int_equal(pci_config_find_ecap(&t->pf.pci.config, PCI_EXT_CAP_ID_SRIOV), 0x100);
    assert_int_equal(cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_TOTAL_VF, 2), TOTAL);
    assert_int_equal(cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_VF_DID, 2), 0x1041);
    /* The VF BAR is the virtio-pci BAR: BAR 4, 64-bit prefetchable, 32 KiB per VF. */
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_BAR + 16, 4, 0xffffffff);
    assert_int_equal(cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_BAR + 16, 4), 0xffff800c);
    uint32_t hi = virtio_dev_read_device_features(virtio_net_vdev(t->pf_net), 1);
    assert_true(hi & (1u << (VIRTIO_F_SR_IOV - 32)));
}

static void test_vfs_come_up_as_virtio_net(void **state)
{
    struct ctx *t = *state;
    uint64_t base = vf_bar_base(t);
    enable_vfs(t, 3);
    assert_int_equal(t->m.nvfs, 3);
    for (unsigned i = 0; i < 3; i++) {
        unsigned devfn = PF_DEVFN + 1 + i;
        struct net_vf *vf = t->m.vfs[i];
        assert_non_null(vf);
        assert_int_equal(vf->devfn, devfn);
        assert_ptr_equal(t->bus.funcs[devfn], &vf->vp.pci);
        assert_int_equal(cfg_rd(t, devfn, PCI_VENDOR_ID, 4), 0xffffffff);
        assert_int_equal(cfg_rd(t, devfn, PCI_CLASS_REVISION, 4), 0x02000001);
        assert_int_equal(cfg_rd(t, devfn, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
        assert_true(pci_config_find_cap(&vf->vp.pci.config, PCI_CAP_ID_MSIX) >= 0x40);
        assert_true(pci_config_find_cap(&vf->vp.pci.config, PCI_CAP_ID_VNDR) >= 0x40);
        /* Its BAR is VF BAR base + i * 32 KiB: the device config there holds the MAC. */
        uint64_t bar = base + i * VIRTIO_PCI_BAR_SIZE;
        uint8_t mac[6];
        for (int b = 0; b < 6; b++)
            mac[b] = (uint8_t)mmio_rd(t, bar + VIRTIO_PCI_DEVICE_OFF + b, 1);
        uint8_t want[6];
        pf_policy_vf_mac(&t->policy, PF_MAC, i, want);
        assert_memory_equal(mac, want, 6);
        assert_memory_equal(vf->mac, want, 6);
        assert_int_equal(mmio_rd(t, bar + VIRTIO_PCI_COMMON_NUMQ, 2), 3);
        /* Doorbells registered at each VF's notify addresses. */
        for (unsigned q = 0; q < 3; q++)
            assert_true(ioev_at(t, bar + VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT));
        char tap[IFNAMSIZ];
        snprintf(tap, sizeof(tap), "tvf%u", i);
        assert_string_equal(vf->tap, tap);
        assert_true(virtio_net_link_up(vf->net));
    }
    /* vf-mac listed VF 0's MAC; VF 1 gets the PF's MAC + 2. */
    assert_int_equal(t->m.vfs[0]->mac[5], 0x10);
    assert_int_equal(t->m.vfs[1]->mac[5], 0x58);
    assert_int_equal(t->ioev_live, 9);
    assert_ptr_equal(net_vf_mgr_find(&t->m, "net0vf2"), t->m.vfs[2]);
    assert_null(net_vf_mgr_find(&t->m, "net0vf3"));

    /* VF MSE off: no doorbells; on again: back. */
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    assert_int_equal(t->ioev_live, 0);
    assert_int_equal(mmio_rd(t, base + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
    cfg_wr(t, PF_DEVFN, sr(t) + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    assert_int_equal(t->ioev_live, 9);

    disable_vfs(t);
    assert_int_equal(t->m.nvfs, 0);
    assert_int_equal(t->ioev_live, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_null(t->bus.funcs[PF_DEVFN + 1 + i]);
        /* The backend was closed: its peer sees the end. */
        char b;
        assert_int_equal(recv(t->peers[i], &b, 1, MSG_DONTWAIT), 0);
    }
}

static void test_failed_backend_leaves_link_down(void **state)
{
    struct ctx *t = *state;
    t->fail_index = 1;
    enable_vfs(t, 3);
    assert_int_equal(t->m.nvfs, 3);
    struct net_vf *vf = t->m.vfs[1];
    assert_non_null(vf);
    assert_false(virtio_net_link_up(vf->net));
    assert_string_equal(vf->error, "cannot open tap tvf1");
    assert_ptr_equal(t->bus.funcs[PF_DEVFN + 2], &vf->vp.pci);
    assert_true(virtio_net_link_up(t->m.vfs[0]->net));
    assert_true(virtio_net_link_up(t->m.vfs[2]->net));
    disable_vfs(t);
}

/* vf-backend=vhost-net where /dev/vhost-net cannot be opened (this build host has no
 * vhost_net): the VF still appears, link down, the reason kept for the log and `vfs`. */
/* A VF whose PCI function cannot be built at VF Enable (pci_device_init fails, a guest
 * reachable path) is refused: nothing at its routing ID, its resources released, the
 * other VFs and the PF go on, vpf keeps running, and the next VF Enable tries again. */
static void test_vf_init_failure_refuses_vf(void **state)
{
    struct ctx *t = *state;
    enable_vfs(t, 3);                           /* the test's peer ends stay open */
    disable_vfs(t);
    int fds = count_fds();
    pcie_cap_fail_in = 2;                       /* VF 1's function */
    enable_vfs(t, 3);
    assert_int_equal(pcie_cap_fail_in, 0);
    assert_int_equal(t->m.nvfs, 3);
    assert_non_null(t->m.vfs[0]);
    assert_null(t->m.vfs[1]);
    assert_non_null(t->m.vfs[2]);
    assert_null(t->bus.funcs[PF_DEVFN + 2]);
    assert_int_equal(cfg_rd(t, PF_DEVFN + 2, PCI_CLASS_REVISION, 4), 0xffffffff);
    assert_int_equal(cfg_rd(t, PF_DEVFN + 3, PCI_CLASS_REVISION, 4), 0x02000001);
    assert_int_equal(t->ioev_live, 6);          /* VFs 0 and 2: three doorbells each */
    assert_null(net_vf_mgr_find(&t->m, "net0vf1"));
    assert_false(virtio_dev_failed(virtio_net_vdev(t->pf_net)));
    disable_vfs(t);
    assert_int_equal(t->ioev_live, 0);
    assert_int_equal(count_fds(), fds);         /* VF 1's backend and I/O thread too */
    enable_vfs(t, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_non_null(t->m.vfs[i]);
    disable_vfs(t);
}

static void test_vhost_unavailable_vf_link_down(void **state)
{
    struct ctx *t = *state;
    if (access("/dev/vhost-net", F_OK) == 0) {
        skip();
        return;
    }
    t->policy.vf_backend = NET_BACKEND_VHOST_NET;
    t->m.env.open_backend = NULL;               /* the real net_backend_open() */
    enable_vfs(t, 1);
    struct net_vf *vf = t->m.vfs[0];
    assert_non_null(vf);
    assert_false(virtio_net_link_up(vf->net));
    assert_non_null(strstr(vf->error, "vhost-net on tap tvf0: /dev/vhost-net: "));
    assert_string_equal(virtio_net_backend_type(vf->net), "null");
    disable_vfs(t);
}

/* vf-backend=vhost-vdpa whose vDPA device cannot be made (no such management device,
 * or no vdpa in this kernel) or opened: the VF still appears, link down, the reason
 * kept for the log and `vfs`. */
static void test_vdpa_unavailable_vf_link_down(void **state)
{
    struct ctx *t = *state;
    t->policy.vf_backend = NET_BACKEND_VHOST_VDPA;
    strcpy(t->policy.vf_vdpa_mgmtdev, "vpf_test_no_such_mgmtdev");
    enable_vfs(t, 1);
    struct net_vf *vf = t->m.vfs[0];
    assert_non_null(vf);
    assert_false(virtio_net_link_up(vf->net));
    assert_true(strstr(vf->error, "no vdpa netlink family") ||
                strstr(vf->error, "no management device vpf_test_no_such_mgmtdev") ||
                strstr(vf->error, "vdpa dev add"));
    assert_string_equal(virtio_net_backend_type(vf->net), "null");
    disable_vfs(t);
    t->policy.vf_vdpa_mgmtdev[0] = '\0';
    strcpy(t->policy.vf_vdpa, "/nonexistent/vhost-vdpa-%d");
    enable_vfs(t, 2);
    assert_non_null(t->m.vfs[1]);
    assert_false(virtio_net_link_up(t->m.vfs[1]->net));
    assert_string_equal(t->m.vfs[1]->error,
                        "vhost-vdpa /nonexistent/vhost-vdpa-1: No such file or "
                        "directory (is the vhost_vdpa module loaded and the vDPA device made?)");
    disable_vfs(t);
}

static void test_cycles_release_everything(void **state)
{
    struct ctx *t = *state;
    enable_vfs(t, TOTAL);
    disable_vfs(t);
    int fds = count_fds();
    for (int c = 0; c < 10; c++) {
        enable_vfs(t, TOTAL);
        assert_int_equal(t->m.nvfs, TOTAL);
        assert_true(count_fds() > fds);
        disable_vfs(t);
        assert_int_equal(count_fds(), fds);
    }
    assert_int_equal(t->opens, 11 * TOTAL);
}

/* A driver writing 0 to the PF's device status (virtio reset) takes the VFs down. */
static void test_pf_reset_tears_down(void **state)
{
    struct ctx *t = *state;
    enable_vfs(t, 2);
    assert_non_null(t->m.vfs[1]);
    cfg_wr(t, PF_DEVFN, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t pf_bar = t->pf.pci.bars[VIRTIO_PCI_BAR].addr;
    mmio_wr(t, pf_bar + VIRTIO_PCI_COMMON_STATUS, 1, 0);
    assert_int_equal(t->m.nvfs, 0);
    assert_null(t->bus.funcs[PF_DEVFN + 1]);
    assert_int_equal(cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_CTRL, 2) & PCI_SRIOV_CTRL_VFE, 0);
    assert_int_equal(cfg_rd(t, PF_DEVFN, sr(t) + PCI_SRIOV_NUM_VF, 2), 0);
    /* The PF's own doorbells stay. */
    assert_int_equal(t->ioev_live, 3);
    cfg_wr(t, PF_DEVFN, PCI_COMMAND, 2, 0);
}

static void test_more_than_total_brings_nothing(void **state)
{
    struct ctx *t = *state;
    enable_vfs(t, TOTAL + 1);
    assert_int_equal(t->m.nvfs, 0);
    assert_int_equal(t->opens, 0);
    disable_vfs(t);
}

static void test_policy_parse(void **state)
{
    struct pf_policy p;
    pf_policy_init(&p);
    assert_true(p.spoofchk);
    assert_int_equal(pf_policy_parse_key(&p, "tap", "x", NULL, 0), 0);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "0", NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "129", NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "4x", NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "-1", NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-spoofchk", "maybe", NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "02:00:00:00:00:01;;02:00:00:00:00:02", NULL,
                                         0),
                     -1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "01:00:00:00:00:01", NULL, 0),
                     -1);  /* multicast */
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "02:00:00:00:00:01;", NULL, 0), -1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), 0);                 /* nothing set */
    assert_int_equal(pf_policy_parse_key(&p, "vf-spoofchk", "off", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1); /* needs total-vfs */
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "64", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1); /* needs vf-tap */
    static const char *bad[] = { "vf",   "vf%d%d",          "vf%s", "v%%d", "a/b%d", "a b%d",
                                 "x:%d", "abcdefghijklmn%d" /* 14 + 2 digits: 16 > 15 */ };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pf_policy_parse_key(&p, "vf-tap", bad[i], NULL, 0) == 1)
            assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1);
    }
    assert_int_equal(pf_policy_parse_key(&p, "vf-tap", "abcdefghijklm%d", NULL, 0),
                     1); /* 15 chars */
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), 0);
    char name[IFNAMSIZ];
    pf_policy_vf_tap(&p, 63, name);
    assert_string_equal(name, "abcdefghijklm63");
    assert_int_equal(pf_policy_parse_key(&p, "vf-tap", "%d-vf", NULL, 0), 1);
    pf_policy_vf_tap(&p, 7, name);
    assert_string_equal(name, "7-vf");
    /* Default MACs: PF + i + 1 in the low 24 bits, wrapping there. */
    const uint8_t top[6] = { 0x52, 0x54, 0x00, 0xff, 0xff, 0xfe };
    uint8_t mac[6];
    pf_policy_vf_mac(&p, top, 0, mac);
    assert_memory_equal(mac, ((uint8_t[]){ 0x52, 0x54, 0x00, 0xff, 0xff, 0xff }), 6);
    pf_policy_vf_mac(&p, top, 1, mac);
    assert_memory_equal(mac, ((uint8_t[]){ 0x52, 0x54, 0x00, 0x00, 0x00, 0x00 }), 6);
    /* Explicit MACs must not collide with the PF, each other, or derived ones. */
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "52:54:00:12:34:56", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "02:00:00:00:00:01;02:00:00:00:00:01", NULL,
                                         0),
                     1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "52:54:00:12:34:59", NULL, 0),
                     1); /* VF 2's */
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "1", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "02:00:00:00:00:01;02:00:00:00:00:02", NULL,
                                         0),
                     1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), -1); /* 2 MACs, 1 VF */
}

/* The host's settings for a VF that is down are kept and applied when it comes up; VFs
 * start untrusted (the PF's own device is trusted), VF 0's vf-mac= MAC is the host's. */
static void test_settings_apply_at_enable(void **state)
{
    struct ctx *t = *state;
    net_vf_mgr_lock(&t->m);
    struct pf_vf_conf c = t->m.conf[1];
    c.port.vlan = 100;
    c.port.vlan_qos = 3;
    c.port.vlan_proto = VIRTIO_NET_VLAN_8021AD;
    c.port.trust = true;
    c.port.max_tx_rate = 50;
    c.link = PF_VF_LINK_DISABLE;
    net_vf_mgr_set_conf(&t->m, 1, &c);
    assert_false(net_vf_mgr_vf_up(&t->m, 1));
    net_vf_mgr_unlock(&t->m);
    enable_vfs(t, 2);
    assert_true(net_vf_mgr_vf_up(&t->m, 1));
    struct virtio_net_port p;
    virtio_net_get_port(t->m.vfs[1]->net, &p);
    assert_memory_equal(p.mac, c.port.mac, 6);
    assert_int_equal(p.vlan, 100);
    assert_int_equal(p.vlan_qos, 3);
    assert_int_equal(p.vlan_proto, VIRTIO_NET_VLAN_8021AD);
    assert_true(p.trust);
    assert_false(p.admin_mac); /* derived: vf-mac= names only VF 0's */
    assert_int_equal(p.max_tx_rate, 50);
    assert_false(virtio_net_link_up(t->m.vfs[1]->net));
    virtio_net_get_port(t->m.vfs[0]->net, &p);
    assert_false(p.trust);
    assert_true(p.admin_mac);
    assert_true(p.spoofchk);
    assert_true(virtio_net_link_up(t->m.vfs[0]->net));
    virtio_net_get_port(t->pf_net, &p);
    assert_true(p.trust);
    /* Kept across VF Disable and Enable. */
    disable_vfs(t);
    enable_vfs(t, 2);
    virtio_net_get_port(t->m.vfs[1]->net, &p);
    assert_int_equal(p.vlan, 100);
    assert_false(virtio_net_link_up(t->m.vfs[1]->net));
    disable_vfs(t);
}

/* state: auto follows the PF's link, enable and disable hold the VF's; a VF without a
 * backend stays down whatever its state. */
static void test_link_state(void **state)
{
    struct ctx *t = *state;
    t->fail_index = 2;
    enable_vfs(t, 3);
    net_vf_mgr_lock(&t->m);
    struct pf_vf_conf c = t->m.conf[1];
    c.link = PF_VF_LINK_ENABLE;
    net_vf_mgr_set_conf(&t->m, 1, &c);
    c = t->m.conf[2];
    c.link = PF_VF_LINK_ENABLE;
    net_vf_mgr_set_conf(&t->m, 2, &c);
    assert_false(virtio_net_link_up(t->m.vfs[2]->net));
    virtio_net_set_link(t->pf_net, false);
    net_vf_mgr_pf_link_changed(&t->m);
    assert_false(virtio_net_link_up(t->m.vfs[0]->net)); /* auto */
    assert_true(virtio_net_link_up(t->m.vfs[1]->net)); /* enable */
    virtio_net_set_link(t->pf_net, true);
    net_vf_mgr_pf_link_changed(&t->m);
    assert_true(virtio_net_link_up(t->m.vfs[0]->net));
    c = t->m.conf[1];
    c.link = PF_VF_LINK_DISABLE;
    net_vf_mgr_set_conf(&t->m, 1, &c);
    assert_false(virtio_net_link_up(t->m.vfs[1]->net));
    c.link = PF_VF_LINK_AUTO;
    net_vf_mgr_set_conf(&t->m, 1, &c);
    assert_true(virtio_net_link_up(t->m.vfs[1]->net));
    assert_false(virtio_net_link_up(t->m.vfs[2]->net));
    net_vf_mgr_unlock(&t->m);
    /* A VF that comes up while the PF's link is down and it follows it: down. */
    disable_vfs(t);
    virtio_net_set_link(t->pf_net, false);
    enable_vfs(t, 2);
    assert_false(virtio_net_link_up(t->m.vfs[0]->net));
    disable_vfs(t);
}

/* A tap a manager opened and handed over (vf-tap): each VF Enable puts the VF's
 * backend on a duplicate of it, vpf opens no tap; released, the pattern's again. */
static void test_handed_tap(void **state)
{
    struct ctx *t = *state;
    char name[IFNAMSIZ];
    snprintf(name, sizeof(name), "vpfht%d", (int)getpid() % 100000);
    int fd = open("/dev/net/tun", O_RDWR);
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
    memcpy(ifr.ifr_name, name, strlen(name));
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        if (fd >= 0)
            close(fd);
        print_message("tap not available here, skipped\n");
        skip();
    }
    net_vf_mgr_lock(&t->m);
    net_vf_mgr_set_tap(&t->m, 1, fd, name);
    char got[IFNAMSIZ];
    net_vf_mgr_tap_name(&t->m, 1, got);
    assert_string_equal(got, name);
    net_vf_mgr_unlock(&t->m);
    for (int cycle = 0; cycle < 2; cycle++) {
        enable_vfs(t, 2);
        struct net_vf *vf = t->m.vfs[1];
        assert_string_equal(vf->tap, name);
        assert_string_equal(vf->error, "");
        assert_false(vf->tap_created);
        assert_string_equal(virtio_net_backend_type(vf->net), "tap");
        assert_true(virtio_net_link_up(vf->net));
        assert_int_equal(t->opens, cycle + 1); /* VF 0 only: through the hook */
        disable_vfs(t);
        assert_int_not_equal(if_nametoindex(name), 0); /* the manager still holds it */
    }
    net_vf_mgr_lock(&t->m);
    net_vf_mgr_set_tap(&t->m, 1, -1, NULL); /* released: closed */
    net_vf_mgr_tap_name(&t->m, 1, got);
    net_vf_mgr_unlock(&t->m);
    assert_string_equal(got, "tvf1");
    assert_int_equal(if_nametoindex(name), 0);
    enable_vfs(t, 2);
    assert_string_equal(t->m.vfs[1]->tap, "tvf1");
    assert_int_equal(t->opens, 4);
    disable_vfs(t);
}

/* One vf-set request through pf_policy_vf_change; the conf is kept on success only. */
static enum pf_vf_change_err change(const struct pf_policy *p, struct pf_vf_conf *c,
                                    const struct pf_vf_change *ch, const char *want_msg)
{
    char msg[256] = "";
    struct pf_vf_conf before = *c;
    enum pf_vf_change_err e = pf_policy_vf_change(p, 2, c, ch, msg, sizeof(msg));
    if (e != PF_VF_OK)
        assert_memory_equal(c, &before, sizeof(before));
    if (want_msg && !strstr(msg, want_msg))
        fail_msg("message \"%s\" lacks \"%s\"", msg, want_msg);
    return e;
}

#define CH(...) (&(struct pf_vf_change){ __VA_ARGS__ })

/* iproute2's vocabulary: what is accepted, what it becomes, what is refused and why. */
static void test_vf_change_vocabulary(void **state)
{
    struct pf_policy p;
    pf_policy_init(&p);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "4", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-tap", "t%d", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-mac", "02:00:00:00:00:10", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), 0);
    struct pf_vf_conf c;
    pf_policy_vf_conf(&p, PF_MAC, 0, &c);
    assert_true(c.port.admin_mac); /* vf-mac= named it */
    pf_policy_vf_conf(&p, PF_MAC, 2, &c);
    assert_false(c.port.admin_mac); /* derived */
    assert_true(c.port.spoofchk);
    assert_false(c.port.trust);
    assert_int_equal(c.link, PF_VF_LINK_AUTO);
    assert_int_equal(c.port.mac[5], 0x59);
    /* vlan with qos and proto; vlan alone resets both (one setting, as in ip link). */
    assert_int_equal(change(&p, &c,
                            CH(.has_vlan = true, .vlan = 100, .has_qos = true, .qos = 5,
                               .proto = "802.1AD"),
                            NULL),
                     PF_VF_OK);
    assert_int_equal(c.port.vlan, 100);
    assert_int_equal(c.port.vlan_qos, 5);
    assert_int_equal(c.port.vlan_proto, VIRTIO_NET_VLAN_8021AD);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 4094), NULL), PF_VF_OK);
    assert_int_equal(c.port.vlan_qos, 0);
    assert_int_equal(c.port.vlan_proto, VIRTIO_NET_VLAN_8021Q);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 7, .proto = "802.1q"), NULL),
                     PF_VF_OK);
    assert_int_equal(
        change(&p, &c,
               CH(.has_vlan = true, .vlan = 0, .has_qos = true, .qos = 0, .proto = "802.1Q"), NULL),
        PF_VF_OK);
    assert_int_equal(c.port.vlan, 0);
    /* Refused, the conf unchanged (checked in change()). */
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 4095), "4095 is reserved"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = -1), "vlan must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 5, .has_qos = true, .qos = 8),
                            "qos must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_qos = true, .qos = 1), "go with vlan"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.proto = "802.1ad"), "go with vlan"), PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 5, .proto = "qinq"),
                            "802.1Q or 802.1ad"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 0, .has_qos = true, .qos = 3),
                            "vlan 0"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 0, .proto = "802.1ad"), "vlan 0"),
                     PF_VF_BAD_ARGUMENT);
    /* A refused part refuses the whole request. */
    assert_int_equal(change(&p, &c, CH(.has_trust = true, .trust = true, .state = "up"),
                            "state must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_false(c.port.trust);
    /* spoofchk, trust, state, mac. */
    const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x22 };
    assert_int_equal(change(&p, &c,
                            CH(.has_spoofchk = true, .spoofchk = false, .has_trust = true,
                               .trust = true, .state = "disable", .mac = mac),
                            NULL),
                     PF_VF_OK);
    assert_false(c.port.spoofchk);
    assert_true(c.port.trust);
    assert_int_equal(c.link, PF_VF_LINK_DISABLE);
    assert_memory_equal(c.port.mac, mac, 6);
    assert_true(c.port.admin_mac);
    assert_int_equal(change(&p, &c, CH(.state = "enable"), NULL), PF_VF_OK);
    assert_int_equal(c.link, PF_VF_LINK_ENABLE);
    assert_int_equal(change(&p, &c, CH(.state = "auto"), NULL), PF_VF_OK);
    assert_int_equal(c.link, PF_VF_LINK_AUTO);
    /* Rates: max_tx_rate and its older name rate; min_tx_rate only 0. */
    assert_int_equal(change(&p, &c, CH(.has_max_tx_rate = true, .max_tx_rate = 500), NULL),
                     PF_VF_OK);
    assert_int_equal(c.port.max_tx_rate, 500);
    assert_int_equal(change(&p, &c, CH(.has_rate = true, .rate = 20), NULL), PF_VF_OK);
    assert_int_equal(c.port.max_tx_rate, 20);
    assert_int_equal(change(&p, &c,
                            CH(.has_rate = true, .rate = 30, .has_max_tx_rate = true,
                               .max_tx_rate = 30, .has_min_tx_rate = true),
                            NULL),
                     PF_VF_OK);
    assert_int_equal(c.port.max_tx_rate, 30);
    assert_int_equal(
        change(&p, &c, CH(.has_rate = true, .rate = 30, .has_max_tx_rate = true, .max_tx_rate = 40),
               "older name"),
        PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_max_tx_rate = true, .max_tx_rate = -1),
                            "max_tx_rate must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c,
                            CH(.has_max_tx_rate = true, .max_tx_rate = NET_MAX_RATE_MBIT + 1),
                            "max_tx_rate must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_int_equal(change(&p, &c, CH(.has_min_tx_rate = true, .min_tx_rate = 10), "min_tx_rate"),
                     PF_VF_NOT_SUPPORTED);
    assert_int_equal(change(&p, &c, CH(.has_min_tx_rate = true, .min_tx_rate = -10),
                            "min_tx_rate must be"),
                     PF_VF_BAD_ARGUMENT);
    assert_string_equal(pf_vf_link_name(PF_VF_LINK_DISABLE), "disable");
    assert_string_equal(pf_vf_proto_name(VIRTIO_NET_VLAN_8021AD), "802.1ad");
}

/* Offloaded VFs: a VLAN, a spoof check or a rate is refused; trust, state and mac are
 * vpf's (control queue, config space) and are accepted. */
static void test_vf_change_offloaded(void **state)
{
    struct pf_policy p;
    pf_policy_init(&p);
    assert_int_equal(pf_policy_parse_key(&p, "total-vfs", "4", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-tap", "t%d", NULL, 0), 1);
    assert_int_equal(pf_policy_parse_key(&p, "vf-backend", "vhost-net", NULL, 0), 1);
    assert_int_equal(pf_policy_check(&p, PF_MAC, NULL, 0), 0);
    struct pf_vf_conf c;
    pf_policy_vf_conf(&p, PF_MAC, 2, &c);
    assert_false(c.port.spoofchk);
    const char *why = "VF 2 is on vhost-net: the kernel moves its frames";
    assert_int_equal(change(&p, &c, CH(.has_vlan = true, .vlan = 5), why), PF_VF_NOT_SUPPORTED);
    assert_int_equal(change(&p, &c, CH(.has_spoofchk = true, .spoofchk = true), why),
                     PF_VF_NOT_SUPPORTED);
    assert_int_equal(change(&p, &c, CH(.has_max_tx_rate = true, .max_tx_rate = 5), why),
                     PF_VF_NOT_SUPPORTED);
    assert_int_equal(change(&p, &c,
                            CH(.has_vlan = true, .vlan = 0, .has_spoofchk = true,
                               .has_max_tx_rate = true, .has_trust = true, .trust = true,
                               .state = "disable"),
                            NULL),
                     PF_VF_OK);
    assert_true(c.port.trust);
    assert_int_equal(c.link, PF_VF_LINK_DISABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pf_offers_sriov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfs_come_up_as_virtio_net, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_backend_leaves_link_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vf_init_failure_refuses_vf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vhost_unavailable_vf_link_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vdpa_unavailable_vf_link_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycles_release_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pf_reset_tears_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_than_total_brings_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_apply_at_enable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handed_tap, setup, teardown),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_vf_change_vocabulary),
        cmocka_unit_test(test_vf_change_offloaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
