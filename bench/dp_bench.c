/* dp_bench: vpf's virtio-net data path on one core, without a guest.
 *
 * A synthetic guest (RAM in a buffer, split virtqueues filled the way Linux's virtio_net
 * driver fills them) and a real struct virtio_net (features negotiated, queues enabled,
 * DRIVER_OK) are driven in-process. The whole benchmark loop runs on the device's own
 * I/O thread (through iothread_call), so nothing races with the data path and exactly
 * one core does the work: driver side (publish buffers, reclaim used ones), device side
 * (vnet_io_run on the transmit or receive queue: a run and what it ended with applied,
 * as the I/O thread does on a kick or a readable backend) and host side (the backend).
 *
 * Backends:
 *   sink  in-process, no syscall, no payload copy (TX discards, RX writes only the vnet
 *         header): what vpf itself costs per packet (virtqueue walk, used ring, notify
 *         decisions, bookkeeping).
 *   loop  the socketpair backend of the unit tests and the fuzzer (src/backend/loop.c):
 *         one sendmsg/recvmsg per packet plus the copy, with the peer end drained /
 *         filled on the same thread (its cost is included), as a stand-in for a tap.
 *
 * Packets: 64-byte frames (TX: one descriptor holding header + frame, as Linux sends a
 * small skb; RX: 1536-byte mergeable buffers) and 64 KiB GSO frames (TX: header +
 * linear part + 16 page fragments through an indirect table; RX: 4 KiB mergeable
 * buffers, 17 per packet), with VERSION_1, MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, CSUM,
 * TSO negotiated, queue size 256.
 *
 * Usage: dp_bench [--secs S | --packets N] [--backend sink|loop|all] [CASE...]
 *   CASE: tx64 rx64 tx64k rx64k (default: all four). One result line per case and
 *   backend: packets/s, Gbit/s (frame bytes, vnet header excluded), ns/packet,
 *   interrupts/packet (used-buffer notifications the device decided to send).
 * bench/dp_callgrind.sh runs it under valgrind for instructions per packet. */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"

#define QSZ 256
#define HDR NET_BACKEND_HDR_LEN
#define RAM_SIZE (64ull << 20)
#define PAGE 4096u
#define FRAME_SMALL 64u
#define FRAME_GSO 65536u
#define RXBUF_SMALL 1536u   /* Linux: mergeable buffer for MTU-sized traffic */
#define RXBUF_GSO 4096u     /* Linux: mergeable buffers grow to a page under GSO load */
#define GSO_FRAGS 16u

/* ---- synthetic guest ---- */

struct gvq {
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx, last_used;
};

static uint8_t *ram;
static struct guest_mem mem;
static uint64_t bump = 0x10000;

static uint64_t galloc(uint64_t len, uint64_t align)
{
    uint64_t gpa = ALIGN_UP(bump, align);
    bump = gpa + len;
    if (bump > RAM_SIZE) {
        fprintf(stderr, "dp_bench: guest RAM exhausted\n");
        exit(1);
    }
    return gpa;
}

static void *gp(uint64_t gpa) { return ram + gpa; }

static void gvq_init(struct gvq *q)
{
    q->size = QSZ;
    q->desc = galloc(16ull * QSZ, 16);
    q->avail = galloc(6 + 2ull * QSZ, 2);
    q->used = galloc(6 + 8ull * QSZ, 4);
    memset(gp(q->desc), 0, 16ull * QSZ);
    memset(gp(q->avail), 0, 6 + 2ull * QSZ);
    memset(gp(q->used), 0, 6 + 8ull * QSZ);
    q->avail_idx = q->last_used = 0;
}

static void desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                    uint16_t next)
{
    struct vring_desc d = { addr, len, flags, next };
    memcpy(gp(table + 16ull * i), &d, sizeof(d));
}

/* Driver publishes head (virtio 1.2 §2.7.13): ring entry, then idx with release. */
static void gvq_publish(struct gvq *q, uint16_t head)
{
    st_le16(gp(q->avail + 4 + 2ull * (q->avail_idx & (q->size - 1))), head);
    q->avail_idx++;
}

static void gvq_publish_idx(struct gvq *q)
{
    __atomic_store_n((uint16_t *)gp(q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t gvq_used_idx(struct gvq *q)
{
    return __atomic_load_n((uint16_t *)gp(q->used + 2), __ATOMIC_ACQUIRE);
}

/* Interrupts stay enabled, as virtqueue_enable_cb(): used_event = what we have seen. */
static void gvq_set_used_event(struct gvq *q)
{
    st_le16(gp(q->avail + 4 + 2ull * q->size), q->last_used);
}

/* Does the device want a kick for what we just published (EVENT_IDX, §2.7.10.2)? */
static bool gvq_kick_needed(struct gvq *q, uint16_t old_idx)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t ev = ld_le16(gp(q->used + 4 + 8ull * q->size));
    return vring_need_event(ev, q->avail_idx, old_idx);
}

/* ---- sink backend ---- */

struct sinkbe {
    struct net_backend be;
    uint32_t rx_frame;      /* frame length the next recv delivers */
    uint64_t rx_pending;    /* packets "queued in the tap" */
    struct virtio_net_hdr_v1 rx_hdr;
};

static uint64_t sink_features(struct net_backend *be)
{
    return BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
           BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
           BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN);
}
static int sink_set_features(struct net_backend *be, uint64_t f) { return 0; }
static void sink_close(struct net_backend *be)
{
    close(be->fd);
    free(be);
}
static ssize_t sink_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    /* A tap would copy the frame out of guest memory here; vpf's part is only the call. */
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    return (ssize_t)len;
}
static ssize_t sink_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct sinkbe *sb = (struct sinkbe *)be;
    if (!sb->rx_pending)
        return -EAGAIN;
    sb->rx_pending--;
    /* Only the 10 bytes a tap writes (it skips num_buffers), no payload copy. */
    memcpy(iov[0].iov_base, &sb->rx_hdr, 10);
    return HDR + sb->rx_frame;
}

static const struct net_backend_ops sink_ops = {
    .type = "sink",
    .kind = NET_BACKEND_USERSPACE,
    .features = sink_features,
    .set_features = sink_set_features,
    .close = sink_close,
    .send = sink_send,
    .recv = sink_recv,
};

static struct net_backend *sink_open(void)
{
    struct sinkbe *sb = calloc(1, sizeof(*sb));
    sb->be.ops = &sink_ops;
    sb->be.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);   /* never readable */
    sb->be.hdr_len = HDR;
    snprintf(sb->be.name, sizeof(sb->be.name), "sink");
    return &sb->be;
}

/* ---- the benchmark ---- */

enum dir { TX, RX };

struct bench {
    const char *name;
    enum dir dir;
    uint32_t frame;
    bool loop;
    /* setup */
    struct virtio_net *n;
    struct net_backend *be;
    struct sinkbe *sb;
    int peer;
    struct gvq q[3];
    uint8_t *peer_buf;
    /* limits and results */
    double secs;
    uint64_t max_packets;
    uint64_t packets, irqs, kicks;
    double elapsed;
};

static uint64_t irq_count;
static void irq_queue(void *o, unsigned q) { irq_count++; }
static void irq_config(void *o) {}
static const struct virtio_irq_ops irq_ops = { irq_queue, irq_config, NULL };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prebuilt chains: head i always describes the same buffers, so the driver's per-packet
 * work is what Linux's is at best (one avail entry) and the device's shows. */
static void build_tx(struct bench *b)
{
    struct gvq *q = &b->q[VIRTIO_NET_TXQ];
    for (uint16_t i = 0; i < QSZ; i++) {
        if (b->frame == FRAME_SMALL) {
            uint64_t buf = galloc(HDR + b->frame, 64);
            memset(gp(buf), 0, HDR);
            memset(gp(buf + HDR), 0x5a, b->frame);
            desc_at(q->desc, i, buf, HDR + b->frame, 0, 0);
        } else {
            /* header + linear part (Ethernet/IP/TCP headers, 66 bytes) in one buffer,
             * then page fragments: 17 entries, through an indirect table. */
            uint64_t table = galloc(16ull * (GSO_FRAGS + 1), 16);
            uint64_t lin = galloc(HDR + 66, 64);
            struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                           .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                           .hdr_len = 66,
                                           .gso_size = 1448,
                                           .csum_start = 34,
                                           .csum_offset = 16 };
            memcpy(gp(lin), &h, HDR);
            memset(gp(lin + HDR), 0x45, 66);
            desc_at(table, 0, lin, HDR + 66, VRING_DESC_F_NEXT, 1);
            uint32_t left = b->frame - 66;
            for (uint16_t f = 0; f < GSO_FRAGS; f++) {
                uint32_t l = f == GSO_FRAGS - 1 ? left : PAGE;
                uint64_t pg = galloc(PAGE, PAGE);
                memset(gp(pg), 0x5a, PAGE);
                desc_at(table, f + 1, pg, l, (unsigned)f + 1 < GSO_FRAGS ? VRING_DESC_F_NEXT : 0,
                        f + 2);
                left -= l;
            }
            desc_at(q->desc, i, table, 16 * (GSO_FRAGS + 1), VRING_DESC_F_INDIRECT, 0);
        }
    }
}

static void build_rx(struct bench *b)
{
    struct gvq *q = &b->q[VIRTIO_NET_RXQ];
    uint32_t sz = b->frame == FRAME_SMALL ? RXBUF_SMALL : RXBUF_GSO;
    for (uint16_t i = 0; i < QSZ; i++)
        desc_at(q->desc, i, galloc(sz, 64), sz, VRING_DESC_F_WRITE, 0);
}

static void device_start(struct bench *b)
{
    if (b->loop) {
        b->be = loop_open(&b->peer);
        /* Room for a ring's worth of 64 KiB packets, as a tap's queue has. */
        int sz = 32 << 20;
        setsockopt(b->be->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        setsockopt(b->peer, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        setsockopt(b->be->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        setsockopt(b->peer, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        b->peer_buf = malloc(HDR + FRAME_GSO + 64);
        memset(b->peer_buf, 0, HDR);
        memset(b->peer_buf + HDR, 0x5a, FRAME_GSO + 64);
    } else {
        b->be = sink_open();
        b->sb = (struct sinkbe *)b->be;
        b->peer = -1;
    }
    static const uint8_t mac[6] = { 0x52, 0x54, 0, 0xbe, 0x0c, 1 };
    b->n = virtio_net_create("dp-bench", &mem, b->be, mac, NULL, 0);
    if (!b->n)
        exit(1);
    struct virtio_dev *dev = virtio_net_vdev(b->n);
    virtio_dev_set_irq(dev, &irq_ops, NULL);
    uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
                 BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) |
                 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
                 BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
                 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO4);
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(dev, 0, (uint32_t)f);
    virtio_dev_write_driver_features(dev, 1, (uint32_t)(f >> 32));
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK);
    for (unsigned i = 0; i < 3; i++) {
        gvq_init(&b->q[i]);
        dev->vqs[i].size = QSZ;
        dev->vqs[i].desc_gpa = b->q[i].desc;
        dev->vqs[i].avail_gpa = b->q[i].avail;
        dev->vqs[i].used_gpa = b->q[i].used;
        if (virtio_dev_enable_queue(dev, i) < 0)
            exit(1);
    }
    if (b->dir == TX)
        build_tx(b);
    else
        build_rx(b);
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    if (virtio_dev_failed(dev)) {
        fprintf(stderr, "dp_bench: device failed at start\n");
        exit(1);
    }
}

static void device_stop(struct bench *b)
{
    virtio_net_destroy(b->n);   /* closes the backend */
    if (b->peer >= 0)
        close(b->peer);
    free(b->peer_buf);
    bump = 0x10000;
}

/* Reclaims used entries; returns how many. */
static unsigned reclaim(struct gvq *q, uint16_t *heads)
{
    uint16_t u = gvq_used_idx(q);
    unsigned k = 0;
    while (q->last_used != u) {
        uint32_t id;
        memcpy(&id, gp(q->used + 4 + 8ull * (q->last_used & (q->size - 1))), 4);
        heads[k++] = (uint16_t)id;
        q->last_used++;
    }
    return k;
}

static bool done(struct bench *b, uint64_t pkts, double t0)
{
    if (b->max_packets)
        return pkts >= b->max_packets;
    return now() - t0 >= b->secs;
}

/* One TX round: driver publishes every free head, kick if asked; the device drains
 * (what on_kick does); the host side takes the packets; the driver reclaims. */
static void run_tx(struct bench *b)
{
    struct virtio_net *n = b->n;
    struct gvq *q = &b->q[VIRTIO_NET_TXQ];
    uint16_t free_heads[QSZ];
    unsigned nfree = QSZ;
    for (unsigned i = 0; i < QSZ; i++)
        free_heads[i] = (uint16_t)i;
    uint64_t start_pkts = n->pairs[0].stats.tx_packets;
    double t0 = now();
    while (!done(b, n->pairs[0].stats.tx_packets - start_pkts, t0)) {
        uint16_t old = q->avail_idx;
        for (unsigned i = 0; i < nfree; i++)
            gvq_publish(q, free_heads[i]);
        gvq_publish_idx(q);
        if (gvq_kick_needed(q, old))
            b->kicks++;
        vnet_io_run(n, VIRTIO_NET_TXQ);
        /* The loop backend's socket holds few packets (net.unix.max_dgram_qlen): drain
         * it, and resume a blocked queue as on_backend does on EPOLLOUT. */
        while (b->loop) {
            while (recv(b->peer, b->peer_buf, HDR + FRAME_GSO + 64, MSG_DONTWAIT) > 0)
                ;
            if (!n->pairs[0].tx_blocked)
                break;
            n->pairs[0].tx_blocked = false;
            vnet_update_backend_watch(&n->pairs[0]);
            vnet_io_run(n, VIRTIO_NET_TXQ);
        }
        nfree = reclaim(q, free_heads);
        gvq_set_used_event(q);
        if (virtio_dev_failed(virtio_net_vdev(n))) {
            fprintf(stderr, "dp_bench: device failed\n");
            exit(1);
        }
    }
    b->elapsed = now() - t0;
    b->packets = n->pairs[0].stats.tx_packets - start_pkts;
}

/* One RX round: driver posts every free buffer (kick: what on_kick does for the
 * receive queue); the host queues up to a ring's worth of packets; the device receives
 * (what on_backend does on EPOLLIN); the driver reclaims. */
static void run_rx(struct bench *b)
{
    struct virtio_net *n = b->n;
    struct gvq *q = &b->q[VIRTIO_NET_RXQ];
    uint16_t free_heads[QSZ];
    unsigned nfree = QSZ;
    for (unsigned i = 0; i < QSZ; i++)
        free_heads[i] = (uint16_t)i;
    uint32_t bufsz = b->frame == FRAME_SMALL ? RXBUF_SMALL : RXBUF_GSO;
    unsigned per_pkt = (HDR + b->frame + bufsz - 1) / bufsz;
    if (b->sb) {
        b->sb->rx_frame = b->frame;
        b->sb->rx_hdr = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
    }
    uint64_t start_pkts = n->pairs[0].stats.rx_packets;
    double t0 = now();
    while (!done(b, n->pairs[0].stats.rx_packets - start_pkts, t0)) {
        uint16_t old = q->avail_idx;
        for (unsigned i = 0; i < nfree; i++)
            gvq_publish(q, free_heads[i]);
        gvq_publish_idx(q);
        if (gvq_kick_needed(q, old)) {
            b->kicks++;
            if (n->pairs[0].rx.need_kick) {
                n->pairs[0].rx.need_kick = false;
                vnet_update_backend_watch(&n->pairs[0]);
            }
            vnet_io_run(n, VIRTIO_NET_RXQ);
        }
        /* A ring's worth of packets arrives (the device keeps rx_need bytes cached). */
        unsigned burst = QSZ / per_pkt;
        if (b->loop) {
            for (unsigned i = 0; i < burst; i++)
                if (send(b->peer, b->peer_buf, HDR + b->frame, MSG_DONTWAIT) < 0)
                    break;
        } else {
            b->sb->rx_pending = burst;
        }
        if (!n->pairs[0].rx.need_kick)  /* backend polled for EPOLLIN */
            vnet_io_run(n, VIRTIO_NET_RXQ);
        nfree = reclaim(q, free_heads);
        gvq_set_used_event(q);
        if (virtio_dev_failed(virtio_net_vdev(n))) {
            fprintf(stderr, "dp_bench: device failed\n");
            exit(1);
        }
    }
    b->elapsed = now() - t0;
    b->packets = n->pairs[0].stats.rx_packets - start_pkts;
    if (b->loop) {      /* leftovers */
        while (recv(n->be->fd, b->peer_buf, HDR + FRAME_GSO + 64, MSG_DONTWAIT) > 0)
            ;
    } else {
        b->sb->rx_pending = 0;
    }
}

static void run_on_iothread(void *arg)
{
    struct bench *b = arg;
    uint64_t irq0 = irq_count;
    if (b->dir == TX)
        run_tx(b);
    else
        run_rx(b);
    b->irqs = irq_count - irq0;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: dp_bench [--secs S | --packets N] [--backend sink|loop|all] [tx64|rx64|tx64k|rx64k...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double secs = 1.0;
    uint64_t max_packets = 0;
    const char *backend = "all";
    const char *cases[8];
    int ncases = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--secs") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--packets") && i + 1 < argc)
            max_packets = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            backend = argv[++i];
        else if (argv[i][0] != '-' && ncases < 8)
            cases[ncases++] = argv[i];
        else
            usage();
    }
    static const char *all[] = { "tx64", "rx64", "tx64k", "rx64k" };
    if (!ncases) {
        for (int i = 0; i < 4; i++)
            cases[ncases++] = all[i];
    }
    log_threshold = LOG_WARN;
    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
               -1, 0);
    if (ram == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    guest_mem_add(&mem, 0, RAM_SIZE, ram);

    printf("%-6s %-5s %12s %10s %10s %8s %8s\n", "case", "be", "packets/s", "Gbit/s", "ns/pkt",
           "irq/pkt", "packets");
    for (int bi = 0; bi < 2; bi++) {
        bool loop = bi == 1;
        if (strcmp(backend, "all") && strcmp(backend, loop ? "loop" : "sink"))
            continue;
        for (int c = 0; c < ncases; c++) {
            struct bench b = { .name = cases[c],
                               .loop = loop,
                               .secs = secs,
                               .max_packets = max_packets };
            if (!strcmp(cases[c], "tx64"))
                b.dir = TX, b.frame = FRAME_SMALL;
            else if (!strcmp(cases[c], "rx64"))
                b.dir = RX, b.frame = FRAME_SMALL;
            else if (!strcmp(cases[c], "tx64k"))
                b.dir = TX, b.frame = FRAME_GSO;
            else if (!strcmp(cases[c], "rx64k"))
                b.dir = RX, b.frame = FRAME_GSO;
            else
                usage();
            device_start(&b);
            iothread_call(&b.n->io, run_on_iothread, &b);
            device_stop(&b);
            double pps = (double)b.packets / b.elapsed;
            printf("%-6s %-5s %12.0f %10.2f %10.1f %8.3f %8" PRIu64 "\n", b.name,
                   loop ? "loop" : "sink", pps, pps * b.frame * 8 / 1e9, 1e9 / pps,
                   (double)b.irqs / (double)b.packets, b.packets);
            fflush(stdout);
        }
    }
    munmap(ram, RAM_SIZE);
    return 0;
}
