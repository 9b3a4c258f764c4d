/* libFuzzer target: the virtio-pci transport and the VF manager together, as a guest sees
 * them: a virtio-net PF of 3 queue pairs (VIRTIO_NET_F_MQ, 7 queues) on the root complex
 * with an SR-IOV capability (TotalVFs 4) whose virtio-net VFs (one pair) come and go, driven through ECAM and BAR MMIO (status sequences, queue
 * setup, VF Enable/Disable, NumVFs, FLR, garbage in common config and the MSI-X table,
 * doorbells), all without KVM: VF backends are loop socketpairs, the MSI router and the
 * ioeventfd hooks are fakes that count what is registered (as test_net_vf.c does).
 *
 * The world is built once. Each input is a list of 12-byte records:
 *   op (1) | function and flags (1) | offset (2, LE) | value (8, LE)
 * function: bits 0-2 (0 the PF, 1-4 VF 0-3, 5-7 a function picked from the offset),
 * bits 3-5 the access width code, bits 6-7 flags (op-specific: "well-formed" variants).
 *
 * Oracle, after every input: back to a baseline (VF Disable, the PF's config as firmware
 * left it, PF status 0), then a well-behaved driver brings up the PF and, after a clean
 * VF Enable of one VF, VF 0 (VERSION_1 features, valid rings in fake guest RAM,
 * FEATURES_OK, DRIVER_OK), and each must come up (no DEVICE_NEEDS_RESET, activated) and
 * transmit a frame end to end; the PF with MQ negotiated must ack VQ_PAIRS_SET(3), have
 * exactly 3 pairs active and carry a frame through its last pair too; then baseline
 * again, and nothing may be left behind: ioeventfds (only the PF's seven doorbells), MSI routes (only the PF's), fds, threads.
 * Any deviation abort()s with a description; ASan/UBSan catch memory errors. A guest
 * must never be able to leave a device that a correct driver cannot bring up again. */
#include <dirent.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/guest_mem.h"
#include "base/log.h"
#include "base/util.h"
#include "net/vf.h"
#include "net/vnet.h"
#include "pci/bus.h"
#include "pci/config.h"
#include "vm/layout.h"

#define PF_DEVFN PCI_DEVFN(1, 0)
#define TOTAL 4                          /* TotalVFs: every VF has an I/O thread */
#define NFN (1 + TOTAL)                  /* functions: 0 the PF, 1 + i VF i */
#define PF_PAIRS 3                       /* the PF: queues=3 (VIRTIO_NET_F_MQ) */
#define PF_NQ (2 * PF_PAIRS + 1)
#define VF_NQ VIRTIO_NET_NUM_QUEUES      /* a VF: one pair (the backend hook opens one) */
#define NQ PF_NQ                         /* the most queues of any function */
#define REC 12

/* Fake guest RAM: rings of function f, queue q in their own 16 KiB (256 entries: desc
 * +0, avail +0x1000, used +0x2000), buffers after them; the fuzzer may write it all. */
#define RAM_SIZE 0x100000
#define RING_BASE 0x10000ull
#define RING_STRIDE 0x4000ull
#define BUF_BASE 0x80000ull
#define BUF_STRIDE 0x1000ull
#define FUZZ_RAM_END 0x90000ull
#define QSIZE 256

static uint8_t *ram;
static struct guest_mem mem;

/* ---- fakes: MSI routes (handle = fd) and ioeventfds, both counted ---- */
static int msi_live;

static int r_add(void *o, uint64_t addr, uint32_t data, int *fd)
{
    *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (*fd >= 0)
        msi_live++;
    return *fd;
}
static int r_update(void *o, int h, uint64_t a, uint32_t d) { return 0; }
static void r_remove(void *o, int h)
{
    close(h);
    msi_live--;
}
static const struct msi_router_ops r_ops = { r_add, r_update, r_remove };

#define IOEV_MAX 64
static int ioev_live;
static struct {
    uint64_t gpa;
    int fd;
} ioev[IOEV_MAX];

static _Noreturn void oracle_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void oracle_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_sriov oracle: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static int io_add(void *o, uint64_t gpa, int fd)
{
    if (ioev_live == IOEV_MAX)
        oracle_fail("more than %d ioeventfds registered (a leak)", IOEV_MAX);
    ioev[ioev_live].gpa = gpa;
    ioev[ioev_live].fd = fd;
    ioev_live++;
    return 0;
}

static void io_del(void *o, uint64_t gpa, int fd)
{
    for (int i = 0; i < ioev_live; i++) {
        if (ioev[i].gpa == gpa && ioev[i].fd == fd) {
            ioev[i] = ioev[--ioev_live];
            return;
        }
    }
    oracle_fail("del of an ioeventfd never added: gpa %#llx fd %d", (unsigned long long)gpa, fd);
}
static const struct virtio_pci_notify_ops io_ops = { io_add, io_del };

/* ---- the world ---- */
static struct msi_router router = { &r_ops, NULL };
static struct pci_bus bus;
static struct pf_policy policy;
static struct virtio_net *pf_net;
static struct virtio_pci pf;
static struct net_vf_mgr mgr;
static int pf_peers[PF_PAIRS] = { -1, -1, -1 };
#define pf_peer pf_peers[0]
static int peers[TOTAL] = { -1, -1, -1, -1 };
static const uint8_t PF_MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* The PF's config registers as "firmware" left them, restored at each baseline. */
static uint32_t pf_bar4_lo, pf_bar4_hi, vf_bar4_lo, vf_bar4_hi, sys_pgsize;
static unsigned sr;                     /* SR-IOV capability offset */
static int fds_base, threads_base;

static struct net_backend *open_be(void *opaque, unsigned i, const char *ifname)
{
    if (peers[i] >= 0)
        close(peers[i]);
    peers[i] = -1;
    return loop_open(&peers[i]);
}

static uint32_t cfg_rd(unsigned devfn, unsigned reg, unsigned len)
{
    uint32_t v = 0;
    pci_bus_ecam_read(&bus, (uint64_t)devfn << 12 | reg, &v, len);
    return v;
}

static void cfg_wr(unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
    pci_bus_ecam_write(&bus, (uint64_t)devfn << 12 | reg, &v, len);
}

/* Function fn: 0 the PF, 1 + i VF i (NULL while VF i is not up). */
static struct virtio_pci *fn_vp(unsigned fn)
{
    if (fn == 0)
        return &pf;
    struct net_vf *vf = fn - 1 < mgr.nvfs ? mgr.vfs[fn - 1] : NULL;
    return vf ? &vf->vp : NULL;
}

static struct virtio_net *fn_net(unsigned fn)
{
    if (fn == 0)
        return pf_net;
    struct net_vf *vf = fn - 1 < mgr.nvfs ? mgr.vfs[fn - 1] : NULL;
    return vf ? vf->net : NULL;
}

/* Where function fn's BAR 4 is (or would be), PCI_BAR_UNMAPPED if nowhere. */
static uint64_t fn_bar(unsigned fn)
{
    if (fn == 0)
        return pf.pci.bars[VIRTIO_PCI_BAR].addr;
    uint64_t base = mgr.sriov.vf_bars[VIRTIO_PCI_BAR].addr;
    return base == PCI_BAR_UNMAPPED ? base : base + (uint64_t)(fn - 1) * VIRTIO_PCI_BAR_SIZE;
}

static bool in_win(uint64_t gpa, unsigned len, uint64_t start, uint64_t size)
{
    return gpa >= start && gpa - start < size && len <= size - (gpa - start);
}

static void mmio_wr(uint64_t gpa, unsigned len, uint64_t v)
{
    if (in_win(gpa, len, LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE))
        pci_bus_mmio64_write(&bus, gpa - LAYOUT_MMIO64_START, &v, len);
    else if (in_win(gpa, len, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE))
        pci_bus_mmio32_write(&bus, gpa - LAYOUT_MMIO32_START, &v, len);
}

static uint64_t mmio_rd(uint64_t gpa, unsigned len)
{
    uint64_t v = 0;
    if (in_win(gpa, len, LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE))
        pci_bus_mmio64_read(&bus, gpa - LAYOUT_MMIO64_START, &v, len);
    else if (in_win(gpa, len, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE))
        pci_bus_mmio32_read(&bus, gpa - LAYOUT_MMIO32_START, &v, len);
    return v;
}

static void bar_wr(unsigned fn, uint64_t off, unsigned len, uint64_t v)
{
    uint64_t b = fn_bar(fn);
    if (b != PCI_BAR_UNMAPPED)
        mmio_wr(b + off, len, v);
}

static uint64_t bar_rd(unsigned fn, uint64_t off, unsigned len)
{
    uint64_t b = fn_bar(fn);
    return b == PCI_BAR_UNMAPPED ? 0 : mmio_rd(b + off, len);
}

static uint8_t status_rd(unsigned fn) { return (uint8_t)bar_rd(fn, VIRTIO_PCI_COMMON_STATUS, 1); }
static void status_wr(unsigned fn, uint8_t s) { bar_wr(fn, VIRTIO_PCI_COMMON_STATUS, 1, s); }

static unsigned fn_nq(unsigned fn) { return fn ? VF_NQ : PF_NQ; }

/* q < fn_nq(fn): the PF's 7 queues first, then each VF's 3. */
static uint64_t ring_gpa(unsigned fn, unsigned q)
{
    return RING_BASE + (fn ? PF_NQ + (fn - 1) * VF_NQ + q : q) * RING_STRIDE;
}

/* ---- a well-behaved driver (Linux virtio_pci_modern + virtio_net, through MMIO) ---- */

/* Queue q: size, rings at their place in fake RAM (zeroed), vector, enable. */
static void drv_queue(unsigned fn, unsigned q, uint16_t size, bool enable)
{
    uint64_t r = ring_gpa(fn, q);
    memset(ram + r, 0, RING_STRIDE);
    bar_wr(fn, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    if (!bar_rd(fn, VIRTIO_PCI_COMMON_Q_SIZE, 2))
        return;
    bar_wr(fn, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    /* vp_iowrite64_twopart: low then high dword */
    const uint64_t addr[3] = { r, r + 0x1000, r + 0x2000 };
    for (unsigned i = 0; i < 3; i++) {
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * i, 4, (uint32_t)addr[i]);
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * i + 4, 4, addr[i] >> 32);
    }
    bar_wr(fn, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
    if (enable)
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static unsigned drv_ctrlq(unsigned fn, uint64_t f)
{
    return f & (1ull << VIRTIO_NET_F_MQ) ? fn_nq(fn) - 1 : VIRTIO_NET_CTRLQ;
}

/* Stops after `stages` steps (6: the whole init): 1 reset, 2 ACK|DRIVER, 3 features,
 * 4 FEATURES_OK, 5 queues, 6 DRIVER_OK. extra: features beyond VERSION_1 (masked with
 * what the device offers); qmask: queues to enable. Returns the features written. */
static uint64_t drv_init(unsigned fn, unsigned stages, uint64_t extra, uint16_t qsize,
                         unsigned qmask)
{
    if (stages < 1)
        return 0;
    status_wr(fn, 0);
    if (stages < 2)
        return 0;
    status_wr(fn, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    status_wr(fn, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    if (stages < 3)
        return 0;
    uint64_t dev = 0;
    for (unsigned s = 0; s < 2; s++) {
        bar_wr(fn, VIRTIO_PCI_COMMON_DFSELECT, 4, s);
        dev |= bar_rd(fn, VIRTIO_PCI_COMMON_DF, 4) << (32 * s);
    }
    uint64_t f = ((1ull << VIRTIO_F_VERSION_1) | extra) & dev;
    for (unsigned s = 0; s < 2; s++) {
        bar_wr(fn, VIRTIO_PCI_COMMON_GFSELECT, 4, s);
        bar_wr(fn, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(f >> (32 * s)));
    }
    if (stages < 4)
        return f;
    uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    status_wr(fn, st);
    if (stages < 5)
        return f;
    bar_wr(fn, VIRTIO_PCI_COMMON_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
    /* With MQ every pair and the control queue at 2N; without, pair 0 and it at 2.
     * qmask: bit 0 the receive queues, 1 the transmit queues, 2 the control queue. */
    unsigned ctrlq = drv_ctrlq(fn, f), nq = f & (1ull << VIRTIO_NET_F_MQ) ? fn_nq(fn) : 3;
    for (unsigned q = 0; q < nq; q++) {
        if (q == ctrlq && !(f & (1ull << VIRTIO_NET_F_CTRL_VQ)))
            continue;
        drv_queue(fn, q, qsize, (qmask >> (q == ctrlq ? 2 : q & 1)) & 1);
    }
    if (stages < 6)
        return f;
    status_wr(fn, st | VIRTIO_CONFIG_S_DRIVER_OK);
    return f;
}

/* Puts a one-descriptor chain (buffer of len bytes at the function's buffer page) on
 * queue q and rings its doorbell through MMIO. Device-writable on RX. */
static void drv_post(unsigned fn, unsigned q, uint32_t len, bool doorbell)
{
    uint64_t r = ring_gpa(fn, q);
    uint64_t buf = BUF_BASE + fn * BUF_STRIDE;
    uint16_t idx = ld_le16(ram + r + 0x1000 + 2);
    uint16_t slot = idx % QSIZE;
    struct vring_desc d = { buf, len > BUF_STRIDE ? BUF_STRIDE : len,
                            q & 1 ? 0 : VRING_DESC_F_WRITE, 0 };
    memcpy(ram + r + 16ull * slot, &d, sizeof(d));
    st_le16(ram + r + 0x1000 + 4 + 2ull * slot, slot);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    st_le16(ram + r + 0x1000 + 2, (uint16_t)(idx + 1));
    if (doorbell)
        bar_wr(fn, VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT, 2, q);
}

/* Puts VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET(k) on control queue q (the readable command,
 * then the writable ack at +4, in the second half of the function's buffer page) and
 * rings its doorbell. Returns where the ack goes (0xff until answered). */
static uint8_t *drv_pairs_set(unsigned fn, unsigned q, uint16_t k, bool doorbell)
{
    uint64_t r = ring_gpa(fn, q);
    uint64_t buf = BUF_BASE + fn * BUF_STRIDE + BUF_STRIDE / 2;
    uint16_t idx = ld_le16(ram + r + 0x1000 + 2);
    uint16_t slot = (uint16_t)(2 * idx % QSIZE);
    uint8_t *cmd = ram + buf;
    cmd[0] = VIRTIO_NET_CTRL_MQ;
    cmd[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
    st_le16(cmd + 2, k);
    cmd[4] = 0xff;
    struct vring_desc d[2] = { { buf, 4, VRING_DESC_F_NEXT, (uint16_t)(slot + 1) },
                               { buf + 4, 1, VRING_DESC_F_WRITE, 0 } };
    memcpy(ram + r + 16ull * slot, d, sizeof(d));
    st_le16(ram + r + 0x1000 + 4 + 2ull * (idx % QSIZE), slot);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    st_le16(ram + r + 0x1000 + 2, (uint16_t)(idx + 1));
    if (doorbell)
        bar_wr(fn, VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT, 2, q);
    return cmd + 4;
}

/* ---- the oracle ---- */

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        oracle_fail("cannot open %s: %s", path, strerror(errno));
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The fds a device can hold: eventfds, epoll sets, timerfds, sockets. Not the pipes and
 * files that libFuzzer and the sanitizers open on their own (the symbolizer's pipes).
 * verbose: list them, for the report of a leak. */
static int count_dev_fds(bool verbose)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        oracle_fail("cannot open /proc/self/fd: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], target[256];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        target[len > 0 ? len : 0] = 0;
        bool dev = !strncmp(target, "anon_inode:", 11) || !strncmp(target, "socket:", 7);
        n += dev;
        if (verbose && dev)
            fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
    }
    closedir(d);
    return n;
}

static void drain(int fd)
{
    static uint8_t buf[70000];
    if (fd >= 0)
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
            ;
}

static int pf_routes(void)
{
    int n = 0;
    for (unsigned v = 0; v < pf.msix.nvec; v++)
        n += pf.msix.vec[v].route >= 0;
    return n;
}

/* Everything down: VFs disabled, the PF's registers as firmware left them, PF reset. */
static void baseline(void)
{
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_CTRL, 2, 0);
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_NUM_VF, 2, 0);
    if (mgr.nvfs != 0)
        oracle_fail("VF Disable left %u VFs", mgr.nvfs);
    for (unsigned i = 0; i < TOTAL; i++) {
        if (bus.funcs[PF_DEVFN + 1 + i])
            oracle_fail("VF %u still on the bus after VF Disable", i);
        if (peers[i] >= 0)
            close(peers[i]);
        peers[i] = -1;
    }
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_SYS_PGSIZE, 4, sys_pgsize);
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_BAR + 4 * VIRTIO_PCI_BAR, 4, vf_bar4_lo);
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_BAR + 4 * VIRTIO_PCI_BAR + 4, 4, vf_bar4_hi);
    cfg_wr(PF_DEVFN, PCI_BASE_ADDRESS_4, 4, pf_bar4_lo);
    cfg_wr(PF_DEVFN, PCI_BASE_ADDRESS_5, 4, pf_bar4_hi);
    cfg_wr(PF_DEVFN, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    cfg_wr(PF_DEVFN, pf.msix.cap + PCI_MSIX_FLAGS, 2, 0);
    cfg_wr(PF_DEVFN, pf.cfg_cap + VIRTIO_PCI_CAP_BAR, 1, 0);
    for (unsigned v = 0; v < pf.msix.nvec; v++) {
        uint64_t e = VIRTIO_PCI_MSIX_TABLE_OFF + v * 16ull;
        bar_wr(0, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
        bar_wr(0, e, 4, 0);
        bar_wr(0, e + 4, 4, 0);
        bar_wr(0, e + 8, 4, 0);
    }
    if (fn_bar(0) != ((uint64_t)pf_bar4_hi << 32 | (pf_bar4_lo & ~0xfu)))
        oracle_fail("PF BAR 4 at %#llx after restoring it", (unsigned long long)fn_bar(0));
    status_wr(0, 0);
    uint8_t s = status_rd(0);
    if (s != 0)
        oracle_fail("PF status %#x after a reset", s);
    for (unsigned k = 0; k < PF_PAIRS; k++)
        drain(pf_peers[k]);
    memset(ram + RING_BASE, 0, FUZZ_RAM_END - RING_BASE);
}

/* What may remain at baseline: the PF's three doorbells and its MSI routes. */
static void check_leaks(void)
{
    if (ioev_live != PF_NQ)
        oracle_fail("%d ioeventfds registered at baseline, want the PF's %d", ioev_live, PF_NQ);
    struct virtio_dev *d = virtio_net_vdev(pf_net);
    for (int i = 0; i < ioev_live; i++) {
        uint64_t want = fn_bar(0) + VIRTIO_PCI_NOTIFY_OFF;
        uint64_t q = (ioev[i].gpa - want) / VIRTIO_PCI_NOTIFY_MULT;
        if (ioev[i].gpa < want || q >= NQ || ioev[i].gpa != want + q * VIRTIO_PCI_NOTIFY_MULT ||
            ioev[i].fd != d->kick_fds[q])
            oracle_fail("stray ioeventfd at baseline: gpa %#llx fd %d",
                        (unsigned long long)ioev[i].gpa, ioev[i].fd);
    }
    if (msi_live != pf_routes())
        oracle_fail("%d MSI routes live at baseline, the PF holds %d", msi_live, pf_routes());
    int fds = count_dev_fds(false) - msi_live;
    if (fds != fds_base) {
        count_dev_fds(true);
        oracle_fail("%d fds open at baseline (besides MSI routes), %d at start: a leak", fds,
                    fds_base);
    }
    /* A joined thread may linger in /proc for a moment after pthread_join. */
    int threads = count_dir("/proc/self/task");
    for (int i = 0; i < 1000 && threads != threads_base; i++) {
        usleep(1000);
        threads = count_dir("/proc/self/task");
    }
    if (threads != threads_base)
        oracle_fail("%d threads at baseline, %d at start", threads, threads_base);
}

static void wait_used(unsigned fn, unsigned q, uint16_t want, const char *what)
{
    uint64_t used = ring_gpa(fn, q) + 0x2000;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        uint16_t idx = __atomic_load_n((uint16_t *)(ram + used + 2), __ATOMIC_ACQUIRE);
        if (idx == want)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 5)
            oracle_fail("%s: %s not returned in 5 s (used idx %u, status %#x)", fn ? "VF" : "PF",
                        what, idx, status_rd(fn));
        usleep(10);
    }
}

/* A correct driver brings function fn up and sends one frame through it to peer. */
static void bring_up(unsigned fn, int peer)
{
    const char *who = fn ? "VF 0" : "PF";
    struct virtio_net *n = fn_net(fn);
    uint64_t f = drv_init(fn, 6,
                          (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MAC) |
                              (1ull << VIRTIO_NET_F_MQ),
                          QSIZE, 7);
    uint8_t want = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
    uint8_t s = status_rd(fn);
    if (s & VIRTIO_CONFIG_S_NEEDS_RESET)
        oracle_fail("%s: DEVICE_NEEDS_RESET after a correct initialisation (status %#x)", who, s);
    if (s != want)
        oracle_fail("%s: status %#x after a correct initialisation, want %#x (features %#llx)", who,
                    s, want, (unsigned long long)f);
    if (!virtio_net_vdev(n)->active || !n->dp.running)
        oracle_fail("%s: DRIVER_OK accepted but not activated (active %d, running %d)", who,
                    virtio_net_vdev(n)->active, n->dp.running);
    /* Every pair in use, as Linux's virtnet_set_queues asks at probe (PF: MQ). */
    unsigned npairs = virtio_net_queue_pairs(n);
    if (npairs > 1) {
        if (!(f & (1ull << VIRTIO_NET_F_MQ)))
            oracle_fail("%s: %u pairs but VIRTIO_NET_F_MQ not offered", who, npairs);
        unsigned q = drv_ctrlq(fn, f);
        uint8_t *ack = drv_pairs_set(fn, q, (uint16_t)npairs, true);
        wait_used(fn, q, 1, "VQ_PAIRS_SET");
        if (*ack != VIRTIO_NET_OK || virtio_net_active_pairs(n) != npairs)
            oracle_fail("%s: VQ_PAIRS_SET(%u) answered %u, %u pairs active", who, npairs, *ack,
                        virtio_net_active_pairs(n));
    }
    /* A frame from the device's own MAC (the spoof check lets it through). */
    uint8_t *p = ram + BUF_BASE + fn * BUF_STRIDE;
    memset(p, 0, 12 + 60);
    memset(p + 12, 0xff, 6);
    for (unsigned b = 0; b < 6; b++)
        p[12 + 6 + b] = (uint8_t)bar_rd(fn, VIRTIO_PCI_DEVICE_OFF + b, 1);
    p[12 + 12] = 0x08;
    drain(peer);
    drv_post(fn, VIRTIO_NET_TXQ, 12 + 60, true);
    wait_used(fn, VIRTIO_NET_TXQ, 1, "a transmitted frame");
    struct pollfd pfd = { peer, POLLIN, 0 };
    uint8_t got[128];
    ssize_t len = poll(&pfd, 1, 5000) == 1 ? recv(peer, got, sizeof(got), MSG_DONTWAIT) : -1;
    if (len != 12 + 60 || memcmp(got + 12, p + 12, 60))
        oracle_fail("%s: transmitted frame did not reach the backend (got %zd bytes, status %#x)",
                    who, len, status_rd(fn));
    s = status_rd(fn);
    if (s != want)
        oracle_fail("%s: status %#x after transmitting", who, s);
    if (npairs > 1) {       /* and one through the last pair, to its own backend queue */
        int lp = pf_peers[npairs - 1];
        drain(lp);
        drv_post(fn, vnet_txq(npairs - 1), 12 + 60, true);
        wait_used(fn, vnet_txq(npairs - 1), 1, "a frame on the last pair");
        pfd.fd = lp;
        len = poll(&pfd, 1, 5000) == 1 ? recv(lp, got, sizeof(got), MSG_DONTWAIT) : -1;
        if (len != 12 + 60)
            oracle_fail("%s: frame on pair %u did not reach its backend (got %zd bytes)", who,
                        npairs - 1, len);
    }
}

static void oracle(void)
{
    baseline();
    check_leaks();
    bring_up(0, pf_peer);
    /* What Linux's sriov_enable writes. */
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_NUM_VF, 2, 1);
    cfg_wr(PF_DEVFN, sr + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    if (mgr.nvfs != 1 || !mgr.vfs[0] || bus.funcs[PF_DEVFN + 1] != &mgr.vfs[0]->vp.pci)
        oracle_fail("a clean VF Enable of 1 VF gave nvfs %u, VF 0 %p", mgr.nvfs,
                    (void *)mgr.vfs[0]);
    if (ioev_live != PF_NQ + VF_NQ)
        oracle_fail("%d ioeventfds with the PF and one VF up, want %d", ioev_live, PF_NQ + VF_NQ);
    if (cfg_rd(PF_DEVFN + 1, PCI_VENDOR_ID, 4) != 0xffffffff ||
        cfg_rd(PF_DEVFN + 1, PCI_CLASS_REVISION, 4) != 0x02000001)
        oracle_fail("VF 0's config space is not a virtio-net VF's");
    bring_up(1, peers[0]);
    baseline();
    check_leaks();
}

/* ---- setup, once ---- */

static void world_init(void)
{
    log_threshold = LOG_ERROR;          /* guest errors are the normal case here */
    ram = aligned_alloc(4096, RAM_SIZE);
    if (!ram)
        abort();
    memset(ram, 0, RAM_SIZE);
    guest_mem_add(&mem, 0, RAM_SIZE, ram);
    if (pci_bus_init(&bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE, LAYOUT_MMIO64_START,
                     LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE) < 0)
        abort();
    pf_policy_init(&policy);
    if (pf_policy_parse_key(&policy, "total-vfs", "4", NULL, 0) != 1 ||
        pf_policy_parse_key(&policy, "vf-tap", "fzvf%d", NULL, 0) != 1 ||
        pf_policy_check(&policy, PF_MAC, NULL, 0) < 0)
        abort();
    struct net_backend *pf_be[PF_PAIRS];
    for (unsigned k = 0; k < PF_PAIRS; k++)
        pf_be[k] = loop_open(&pf_peers[k]);
    pf_net = virtio_net_create_mq("net0", &mem, pf_be, PF_PAIRS, PF_MAC, NULL, 0);
    if (!pf_net || virtio_pci_init(&pf, "net0", virtio_net_vdev(pf_net), &router, NULL, 0) < 0)
        abort();
    const struct net_vf_env env = {
        .mem = &mem,
        .router = &router,
        .notify_ops = &io_ops,
        .notify_opaque = NULL,
        .open_backend = open_be,
        .backend_opaque = NULL,
    };
    if (net_vf_mgr_init(&mgr, "net0", &pf, pf_net, &policy, PF_MAC, &env, NULL, 0) < 0 ||
        pci_bus_add(&bus, &pf.pci, PF_DEVFN) < 0 || net_vf_mgr_assign_bars(&mgr, &bus) < 0)
        abort();
    virtio_pci_set_notify_ops(&pf, &io_ops, NULL);
    sr = mgr.sriov.cap;
    cfg_wr(PF_DEVFN, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    pf_bar4_lo = cfg_rd(PF_DEVFN, PCI_BASE_ADDRESS_4, 4);
    pf_bar4_hi = cfg_rd(PF_DEVFN, PCI_BASE_ADDRESS_5, 4);
    vf_bar4_lo = cfg_rd(PF_DEVFN, sr + PCI_SRIOV_BAR + 4 * VIRTIO_PCI_BAR, 4);
    vf_bar4_hi = cfg_rd(PF_DEVFN, sr + PCI_SRIOV_BAR + 4 * VIRTIO_PCI_BAR + 4, 4);
    sys_pgsize = cfg_rd(PF_DEVFN, sr + PCI_SRIOV_SYS_PGSIZE, 4);
    if (fn_bar(0) == PCI_BAR_UNMAPPED || fn_bar(1) == PCI_BAR_UNMAPPED || ioev_live != PF_NQ)
        abort();
    /* The first VF Enable and the first activations start what lives on (log, ...): run
     * the oracle once before taking the reference counts. */
    threads_base = count_dir("/proc/self/task");
    baseline();
    bring_up(0, pf_peer);
    baseline();
    fds_base = count_dev_fds(false) - msi_live;
    threads_base = count_dir("/proc/self/task");
    oracle();
}

/* ---- the input ---- */

/* Common config registers with their natural widths (virtio 1.2 §4.1.4.3). */
static const struct {
    uint8_t off, len;
} common_regs[] = {
    { VIRTIO_PCI_COMMON_DFSELECT, 4 },  { VIRTIO_PCI_COMMON_DF, 4 },
    { VIRTIO_PCI_COMMON_GFSELECT, 4 },  { VIRTIO_PCI_COMMON_GF, 4 },
    { VIRTIO_PCI_COMMON_MSIX, 2 },      { VIRTIO_PCI_COMMON_NUMQ, 2 },
    { VIRTIO_PCI_COMMON_STATUS, 1 },    { VIRTIO_PCI_COMMON_CFGGENERATION, 1 },
    { VIRTIO_PCI_COMMON_Q_SELECT, 2 },  { VIRTIO_PCI_COMMON_Q_SIZE, 2 },
    { VIRTIO_PCI_COMMON_Q_MSIX, 2 },    { VIRTIO_PCI_COMMON_Q_ENABLE, 2 },
    { VIRTIO_PCI_COMMON_Q_NOFF, 2 },    { VIRTIO_PCI_COMMON_Q_DESCLO, 4 },
    { VIRTIO_PCI_COMMON_Q_DESCHI, 4 },  { VIRTIO_PCI_COMMON_Q_AVAILLO, 4 },
    { VIRTIO_PCI_COMMON_Q_AVAILHI, 4 }, { VIRTIO_PCI_COMMON_Q_USEDLO, 4 },
    { VIRTIO_PCI_COMMON_Q_USEDHI, 4 },  { VIRTIO_PCI_COMMON_Q_DESCLO, 8 },
    { VIRTIO_PCI_COMMON_Q_AVAILLO, 8 }, { VIRTIO_PCI_COMMON_Q_USEDLO, 8 },
};

/* A BAR offset, biased toward the registers that matter; *len may be set to the
 * register's natural width when `natural`. */
static uint64_t pick_bar_off(uint16_t off, bool natural, unsigned *len)
{
    unsigned arg = off >> 3;
    switch (off & 7) {
    case 0:
    case 1: {                    /* common config */
        unsigned i = arg % ARRAY_SIZE(common_regs);
        if (natural) {
            *len = common_regs[i].len;
            return common_regs[i].off;
        }
        return arg % VIRTIO_PCI_COMMON_SIZE;
    }
    case 2:                              /* status */
        if (natural)
            *len = 1;
        return VIRTIO_PCI_COMMON_STATUS;
    case 3:
    case 4: {                    /* MSI-X table, PBA */
        uint64_t o = VIRTIO_PCI_MSIX_TABLE_OFF + arg % (16 * (NQ + 1));
        if (natural)
            o &= ~3ull;
        return (off & 7) == 4 && (arg & 1) ? VIRTIO_PCI_MSIX_PBA_OFF + (arg >> 1) % 16 : o;
    }
    case 5:                              /* device config, ISR */
        return arg & 1 ? VIRTIO_PCI_ISR_OFF + (arg >> 1) % 4
                       : VIRTIO_PCI_DEVICE_OFF + (arg >> 1) % 32;
    case 6:                              /* doorbells */
        return VIRTIO_PCI_NOTIFY_OFF + arg % 16;
    default:                             /* anywhere in the BAR */
        return (uint64_t)arg * 4 % VIRTIO_PCI_BAR_SIZE;
    }
}

static void nothing(void *arg) {}

static void step(const uint8_t *r)
{
    static const unsigned lens[8] = { 1, 2, 4, 8, 4, 2, 1, 3 };
    uint8_t op = r[0], sel = r[1];
    uint16_t off = ld_le16(r + 2);
    uint64_t val = ld_le64(r + 4);
    unsigned fn = sel & 7;
    if (fn >= NFN)
        fn = off % NFN;
    unsigned len = lens[(sel >> 3) & 7];
    bool flag = sel & 0x40, flag2 = sel & 0x80;
    unsigned devfn = PF_DEVFN + fn;
    struct virtio_net *n = fn_net(fn);

    switch (op % 13) {
    case 0:                              /* config write */
        cfg_wr(devfn, flag2 ? off % 0x1000 : off % 0x140, len > 4 ? 4 : len, (uint32_t)val);
        break;
    case 1:                              /* config read */
        cfg_rd(devfn, off % 0x1000, len > 4 ? 4 : len);
        break;
    case 2:
    case 3: {                    /* BAR write / read */
        uint64_t o = pick_bar_off(off, flag, &len);
        if (op % 13 == 2)
            bar_wr(fn, o, len, val);
        else
            bar_rd(fn, o, len);
        break;
    }
    case 4: {                            /* device status: a value, or one bit flipped */
        uint8_t s = flag ? status_rd(fn) ^ (uint8_t)(1u << (val & 7)) : (uint8_t)val;
        status_wr(fn, s);
        break;
    }
    case 5:                              /* SR-IOV */
        switch (off & 3) {
        case 0:
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_NUM_VF, 2, flag ? (uint16_t)val : val % 6);
            break;
        case 1:
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_CTRL, 2, flag ? (uint16_t)val : val & 0x1f);
            break;
        case 2:                          /* Linux's sriov_enable */
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_NUM_VF, 2, 1 + val % TOTAL);
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
            break;
        default:                         /* sriov_disable */
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_CTRL, 2, 0);
            cfg_wr(PF_DEVFN, sr + PCI_SRIOV_NUM_VF, 2, 0);
            break;
        }
        break;
    case 6: {                            /* FLR (Device Control: Initiate FLR) */
        struct virtio_pci *vp = fn_vp(fn);
        int cap = vp ? pci_config_find_cap(&vp->pci.config, PCI_CAP_ID_EXP) : -1;
        if (cap > 0)
            cfg_wr(devfn, (unsigned)cap + PCI_EXP_DEVCTL, 2,
                   PCI_EXP_DEVCTL_BCR_FLR | (flag ? (uint16_t)val & 0x7fff : 0));
        break;
    }
    case 7:                              /* a (partial) well-behaved driver init */
        drv_init(fn, flag ? 6 : 1 + val % 6, val >> 8,
                 flag2 ? QSIZE : (uint16_t)(1u << ((val >> 40) % 10)), flag ? 7 : (val >> 48) & 7);
        break;
    case 8:                              /* kick: the ioeventfd's eventfd, or the doorbell */
        if (flag && n) {
            uint64_t one = 1;
            if (write(virtio_net_vdev(n)->kick_fds[off % fn_nq(fn)], &one, sizeof(one)) < 0) {
                /* saturated: a kick is pending anyway */
            }
        } else {
            /* any doorbell, one past the PF's last too */
            bar_wr(fn, VIRTIO_PCI_NOTIFY_OFF + (off % (NQ + 1)) * VIRTIO_PCI_NOTIFY_MULT, 2, val);
        }
        break;
    case 9: {                            /* queue setup, addresses in RAM or any */
        unsigned q = off % (NQ + 1);     /* the PF's 7 and one past; a VF's past its 3 */
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_SIZE, 2, flag ? (uint16_t)val : 1u << (val % 10));
        uint64_t rb = flag2 ? val : ring_gpa(fn, q % fn_nq(fn)) + ((val >> 8) & 0xff0);
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_DESCLO, 8, rb);
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, flag2 ? rb + (val >> 48) : rb + 0x1000);
        bar_wr(fn, VIRTIO_PCI_COMMON_Q_USEDLO, 8, flag2 ? rb ^ (val >> 32) : rb + 0x2000);
        if (!(off & 0x100))
            bar_wr(fn, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
        break;
    }
    case 10:                             /* guest RAM: a buffer posted, or raw bytes */
        if (flag && (off & 0x8000))      /* VQ_PAIRS_SET(any) on any queue */
            drv_pairs_set(fn, (off & 0x7fff) % fn_nq(fn), (uint16_t)val, flag2);
        else if (flag)
            drv_post(fn, off % fn_nq(fn), (uint32_t)val, flag2);
        else
            memcpy(ram + RING_BASE + (off * 8ull) % (FUZZ_RAM_END - RING_BASE - 8), &val, 8);
        break;
    case 11:                             /* MSI-X: table entry or Message Control */
        if (off & 1) {
            struct virtio_pci *vp = fn_vp(fn);
            unsigned cap = vp ? vp->msix.cap : pf.msix.cap;
            cfg_wr(devfn, cap + PCI_MSIX_FLAGS, 2, (uint16_t)val);
        } else {
            bar_wr(fn, VIRTIO_PCI_MSIX_TABLE_OFF + ((off >> 1) % (4 * (NQ + 1))) * 4, 4,
                   (uint32_t)val);
        }
        break;
    default:                             /* let the function's I/O thread run */
        if (n)
            iothread_call(&n->io, nothing, NULL);
        break;
    }
}

/* FUZZ_SRIOV_TRACE=1: each record decoded and the functions' status after it (to read
 * a crash input). */
static bool trace;

static void trace_step(const uint8_t *r)
{
    static const char *const names[13] = { "cfg_wr", "cfg_rd", "bar_wr", "bar_rd", "status",
                                           "sriov",  "flr",    "init",   "kick",   "queue",
                                           "ram",    "msix",   "sync" };
    fprintf(stderr, "fuzz_sriov: %-6s fn %u w%u f%u off %#06x val %#018llx ->", names[r[0] % 13],
            r[1] & 7, (r[1] >> 3) & 7, r[1] >> 6, ld_le16(r + 2),
            (unsigned long long)ld_le64(r + 4));
    for (unsigned fn = 0; fn < NFN; fn++)
        if (fn_vp(fn))
            fprintf(stderr, " %s%u %#04x", fn ? "vf" : "pf", fn ? fn - 1 : 0,
                    virtio_dev_get_status(virtio_net_vdev(fn_net(fn))));
    fprintf(stderr, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pf_net) {
        trace = getenv("FUZZ_SRIOV_TRACE") != NULL;
        world_init();
    }
    for (size_t i = 0; i + REC <= size; i += REC) {
        step(data + i);
        if (trace)
            trace_step(data + i);
    }
    oracle();
    return 0;
}
