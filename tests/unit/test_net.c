/* virtio-net through the loop backend: a fake guest drives the device as a driver
 * would (features, queues, DRIVER_OK, kicks) while the test plays the host side of the
 * socketpair. The I/O thread runs for real, so results are awaited with a timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "fake_net.h"
#include "net/vnet.h"           /* white-box: the I/O thread's watches and control path */

#define HDR 12

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int setup(void **state)
{
    struct fake_net *t = calloc(1, sizeof(*t));
    fnet_init_loop(t, "vnet-test", MAC);
    *state = t;
    return 0;
}

#define BASE_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | \
                BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
                BIT(VIRTIO_RING_F_INDIRECT_DESC))

static void settle(void) { usleep(20000); }

/* ---- TX ---- */

static void test_tx_frame(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_CSUM)), FNET_ALL_OK);
    struct virtio_net_hdr_v1 *h = fg_ptr(&t->g, 0x10000);
    memset(h, 0, HDR);
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    memset(fg_ptr(&t->g, 0x11000), 0xaa, 60);
    memset(fg_ptr(&t->g, 0x12000), 0xbb, 40);
    fvq_desc(&t->q[1], 0, 0x10000, HDR, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q[1], 1, 0x11000, 60, VRING_DESC_F_NEXT, 2);
    fvq_desc(&t->q[1], 2, 0x12000, 40, 0, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    uint8_t buf[256];
    ssize_t n = recv(t->peer, buf, sizeof(buf), 0);
    assert_int_equal(n, HDR + 100);
    assert_memory_equal(buf, h, HDR);
    assert_int_equal(buf[HDR], 0xaa);
    assert_int_equal(buf[HDR + 60], 0xbb);
    assert_true(fnet_wait_used(t, 1, 1));
    uint32_t id, len;
    fvq_used_elem(&t->q[1], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    assert_true(fnet_wait_count(&t->irqs[1], 1));
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_packets, 1);
    assert_int_equal(s.tx_bytes, 100);
    /* The negotiated offloads reached the backend (tap: TUNSETOFFLOAD). */
    assert_int_equal(loop_last_features(t->be), BIT(VIRTIO_NET_F_CSUM));
}

static void test_tx_batch_indirect(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    for (uint16_t i = 0; i < 5; i++) {
        uint64_t table = 0x40000 + 0x100 * i;
        memset(fg_ptr(&t->g, 0x20000 + 0x1000 * i), 0, HDR);
        memset(fg_ptr(&t->g, 0x20000 + 0x1000 * i + HDR), i, 50);
        fg_desc_at(&t->g, table, 0, 0x20000 + 0x1000 * i, HDR + 50, 0, 0);
        fvq_desc(&t->q[1], i, table, 16, VRING_DESC_F_INDIRECT, 0);
        fvq_publish(&t->q[1], i);
    }
    fnet_kick(t, 1);
    for (int i = 0; i < 5; i++) {
        uint8_t buf[128];
        assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 50);
        assert_int_equal(buf[HDR + 49], i);
    }
    assert_true(fnet_wait_used(t, 1, 5));
    settle();
    assert_int_equal(fnet_count(&t->irqs[1]), 1);  /* one interrupt for the batch */
}

static void test_tx_event_idx_suppression(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_RING_F_EVENT_IDX)), FNET_ALL_OK);
    fvq_set_used_event(&t->q[1], 5);             /* interrupt me after the 6th */
    memset(fg_ptr(&t->g, 0x20000), 0, 64);
    fvq_desc(&t->q[1], 0, 0x20000, 64, 0, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    uint8_t buf[128];
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), 64);
    assert_true(fnet_wait_used(t, 1, 1));
    settle();
    assert_int_equal(fnet_count(&t->irqs[1]), 0);
    /* The device asked to be kicked for the next buffer (avail_event = 1). */
    assert_int_equal(fvq_avail_event(&t->q[1]), 1);
    fvq_set_used_event(&t->q[1], 1);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), 64);
    assert_true(fnet_wait_count(&t->irqs[1], 1));
}

static void test_tx_short_packet_counted(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[1], 0, 0x20000, 4, 0, 0);     /* shorter than the header */
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 1));
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_errors, 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* Host spoof check (SR-IOV VFs): only frames from the host-assigned MAC leave. */
static void test_tx_spoof_check(void **state)
{
    struct fake_net *t = *state;
    virtio_net_set_spoofchk(t->n, true);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    static const uint8_t forged[6] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01 };
    const uint8_t *src[3] = { forged, MAC, NULL };
    for (uint16_t i = 0; i < 3; i++) {
        uint8_t *f = fg_ptr(&t->g, 0x20000 + 0x1000 * i);
        memset(f, 0, HDR + 60);
        memset(f + HDR, 0xff, 6);                    /* broadcast destination */
        if (src[i])
            memcpy(f + HDR + 6, src[i], 6);
        /* The third is too short to carry a source MAC: it cannot prove it. */
        fvq_desc(&t->q[1], i, 0x20000 + 0x1000 * i, src[i] ? HDR + 60 : HDR + 8, 0, 0);
        fvq_publish(&t->q[1], i);
    }
    fnet_kick(t, 1);
    uint8_t buf[128];
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 60);
    assert_memory_equal(buf + HDR + 6, MAC, 6);
    assert_true(fnet_wait_used(t, 1, 3));
    assert_int_equal(recv(t->peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_spoofed, 2);
    assert_int_equal(s.tx_packets, 1);
}

static void test_tx_bad_chain_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[1], 0, 0x20000, 64, VRING_DESC_F_NEXT, 0);   /* loop */
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_CHAIN_LOOP);
    assert_int_equal(fnet_used_idx(t, 1), 0);
    /* Kicks are ignored now; the I/O thread lives on. */
    fnet_kick(t, 1);
    settle();
    assert_int_equal(fnet_count(&t->config_irqs), 1);
    /* The driver resets and starts over: the device works again. */
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[1], 0, 0x20000, 64, 0, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    uint8_t buf[128];
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), 64);
}

static void test_tx_writable_desc_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[1], 0, 0x20000, 64, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q[1], 1, 0x21000, 64, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_CHAIN_DIRECTION);
}

/* ---- RX ---- */

static void inject(struct fake_net *t, size_t payload, uint8_t fill, uint8_t hdr_flags)
{
    uint8_t *pkt = malloc(HDR + payload);
    memset(pkt, 0, HDR);
    pkt[0] = hdr_flags;
    pkt[10] = 0xee;                              /* garbage num_buffers: device overwrites */
    memset(pkt + HDR, fill, payload);
    assert_int_equal(send(t->peer, pkt, HDR + payload, 0), (ssize_t)(HDR + payload));
    free(pkt);
}

static void post_rx(struct fake_net *t, uint16_t id, uint64_t gpa, uint32_t len)
{
    fvq_desc(&t->q[0], id, gpa, len, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[0], id);
}

static void test_rx_mergeable(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF)), FNET_ALL_OK);
    for (uint16_t i = 0; i < FNET_QSZ; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 1000);
    fnet_kick(t, 0);
    inject(t, 2488, 0x5a, VIRTIO_NET_HDR_F_DATA_VALID);   /* 2500 bytes with header */
    assert_true(fnet_wait_used(t, 0, 3));
    uint32_t id, len;
    fvq_used_elem(&t->q[0], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 1000);
    fvq_used_elem(&t->q[0], 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 1000);
    fvq_used_elem(&t->q[0], 2, &id, &len);
    assert_int_equal(id, 2);
    assert_int_equal(len, 500);
    struct virtio_net_hdr_v1 *h = fg_ptr(&t->g, 0x30000);
    assert_int_equal(h->num_buffers, 3);
    assert_int_equal(h->flags, VIRTIO_NET_HDR_F_DATA_VALID);
    uint8_t *p = fg_ptr(&t->g, 0x30000);
    assert_int_equal(p[HDR], 0x5a);
    assert_int_equal(p[0x2000 + 499], 0x5a);
    assert_int_equal(p[0x2000 + 500], 0);
    assert_true(fnet_wait_count(&t->irqs[0], 1));

    /* 13 buffers (13000 bytes) left, below a 64 KiB frame and the ring not all ours:
     * the device waits for the guest's refill rather than risk dropping a big frame. */
    inject(t, 100, 0x11, 0);
    settle();
    assert_int_equal(fnet_used_idx(t, 0), 3);
    for (uint16_t i = 0; i < 3; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 1000);
    fnet_kick(t, 0);
    assert_true(fnet_wait_used(t, 0, 4));
    fvq_used_elem(&t->q[0], 3, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, HDR + 100);
    h = fg_ptr(&t->g, 0x33000);
    assert_int_equal(h->num_buffers, 1);
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x33000 + HDR), 0x11);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, 2);
    assert_int_equal(s.rx_bytes, 2588);
}

static void test_rx_mergeable_big_buffers(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF)), FNET_ALL_OK);
    /* Two 40000-byte buffers hold a 64 KiB frame: no need to wait for a full ring. */
    post_rx(t, 0, 0x80000, 40000);
    post_rx(t, 1, 0x90000, 40000);
    fnet_kick(t, 0);
    inject(t, 50000, 0x42, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    uint32_t id, len;
    fvq_used_elem(&t->q[0], 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, HDR + 50000 - 40000);
    assert_int_equal(((struct virtio_net_hdr_v1 *)fg_ptr(&t->g, 0x80000))->num_buffers, 2);
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x90000 + len - 1), 0x42);
}

static void test_rx_split_header_buffers(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    /* One chain of two descriptors, the header split across them (ANY_LAYOUT). */
    fvq_desc(&t->q[0], 0, 0x30000, 11, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q[0], 1, 0x31000, 2000, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[0], 0);
    fnet_kick(t, 0);
    inject(t, 64, 0x77, 0);
    assert_true(fnet_wait_used(t, 0, 1));
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x30000 + 10), 1);   /* num_buffers lo */
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x31000), 0);        /* num_buffers hi */
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x31001), 0x77);
}

static void test_rx_no_mrg_one_chain_per_packet(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    post_rx(t, 0, 0x30000, 1600);
    post_rx(t, 1, 0x31000, 100);                 /* too small for the next packet */
    fnet_kick(t, 0);
    inject(t, 200, 1, 0);
    inject(t, 200, 2, 0);                        /* truncated: dropped */
    assert_true(fnet_wait_used(t, 0, 1));
    struct virtio_net_hdr_v1 *h = fg_ptr(&t->g, 0x30000);
    assert_int_equal(h->num_buffers, 1);
    for (int i = 0; i < 2000; i++) {
        struct virtio_net_stats s;
        virtio_net_get_stats(t->n, &s);
        if (s.rx_dropped == 1)
            break;
        usleep(1000);
    }
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_dropped, 1);
    /* The small buffer is still ours and is reused. */
    inject(t, 50, 3, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    uint32_t id, len;
    fvq_used_elem(&t->q[0], 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, HDR + 50);
}

static void test_rx_waits_for_buffers(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    inject(t, 80, 9, 0);
    settle();
    assert_int_equal(fnet_used_idx(t, 0), 0);
    post_rx(t, 0, 0x30000, 2000);
    fnet_kick(t, 0);
    assert_true(fnet_wait_used(t, 0, 1));
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x30000 + HDR), 9);
}

static void test_rx_small_ring_reads_anyway(void **state)
{
    struct fake_net *t = *state;
    /* Every buffer of the ring posted, together still below a GSO frame: the device
     * must read rather than wait for buffers that can never come. */
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF) |
                                       BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4)),
                     FNET_ALL_OK);
    for (uint16_t i = 0; i < FNET_QSZ; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 1600);
    fnet_kick(t, 0);
    inject(t, 3000, 4, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    assert_int_equal(((struct virtio_net_hdr_v1 *)fg_ptr(&t->g, 0x30000))->num_buffers, 2);
}

/* EVENT_IDX, interrupts armed (used_event = 0): a batch is signalled once, early (after
 * its first completion), and the check at the end of the batch adds none while the
 * driver has not re-armed. Same on the receive queue. */
static void test_event_idx_one_interrupt_per_batch(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF) |
                                       BIT(VIRTIO_RING_F_EVENT_IDX)),
                     FNET_ALL_OK);
    fvq_set_used_event(&t->q[1], 0);
    for (uint16_t i = 0; i < 8; i++) {
        memset(fg_ptr(&t->g, 0x20000 + 0x100 * i), 0, 64);
        fvq_desc(&t->q[1], i, 0x20000 + 0x100 * i, 64, 0, 0);
        fvq_publish(&t->q[1], i);
    }
    fnet_kick(t, 1);
    uint8_t buf[128];
    for (int i = 0; i < 8; i++)
        assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), 64);
    assert_true(fnet_wait_used(t, 1, 8));
    settle();
    assert_int_equal(fnet_count(&t->irqs[1]), 1);

    /* Receive: four packets queued before the buffers come (64 KiB each, so the device
     * never waits for more), read in one batch. */
    fvq_set_used_event(&t->q[0], 0);
    for (int i = 0; i < 4; i++)
        inject(t, 100, (uint8_t)i, 0);
    for (uint16_t i = 0; i < 5; i++)
        post_rx(t, i, 0x80000 + 0x10000 * i, 0x10000);
    fnet_kick(t, 0);
    assert_true(fnet_wait_used(t, 0, 4));
    settle();
    assert_int_equal(fnet_count(&t->irqs[0]), 1);
}

/* Many packets through the 16-entry ring with MRG_RXBUF and 200-byte buffers (chains of
 * ndesc descriptors through indirect tables): the device's buffer cache advances through
 * its arrays and is compacted whenever it reaches the end of one (the chain array after
 * 240 chains, the iovec array first with 5 iovecs per chain). Every packet must arrive
 * whole, in order, in the buffers the driver posted, in posting order. */
static void rx_stream(struct fake_net *t, unsigned ndesc)
{
    enum { BUF = 200, NPKT = 700 };
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF)), FNET_ALL_OK);
    uint16_t fifo[FNET_QSZ];    /* posted heads, oldest first */
    unsigned nfifo = 0;
    uint64_t buf[FNET_QSZ];
    for (uint16_t i = 0; i < FNET_QSZ; i++) {
        buf[i] = 0x30000 + BUF * i;
        if (ndesc > 1) {
            uint64_t table = 0x40000 + 0x100 * i;
            for (unsigned j = 0; j < ndesc; j++)
                fg_desc_at(&t->g, table, j, buf[i] + j * (BUF / ndesc), BUF / ndesc,
                           VRING_DESC_F_WRITE | (j + 1 < ndesc ? VRING_DESC_F_NEXT : 0), j + 1);
            fvq_desc(&t->q[0], i, table, 16 * ndesc, VRING_DESC_F_INDIRECT, 0);
        } else {
            fvq_desc(&t->q[0], i, buf[i], BUF, VRING_DESC_F_WRITE, 0);
        }
        fvq_publish(&t->q[0], i);
        fifo[nfifo++] = i;
    }
    fnet_kick(t, 0);
    uint16_t used = 0;
    for (unsigned p = 0; p < NPKT; p++) {
        size_t payload = 20 + (p * 37) % 300;     /* 1 or 2 buffers */
        uint8_t fill = (uint8_t)(p + 1);
        inject(t, payload, fill, 0);
        unsigned nb = (unsigned)((HDR + payload + BUF - 1) / BUF);
        assert_true(fnet_wait_used(t, 0, (uint16_t)(used + nb)));
        uint16_t heads[2];
        uint32_t total = 0;
        for (unsigned b = 0; b < nb; b++) {
            uint32_t id, len;
            fvq_used_elem(&t->q[0], (uint16_t)(used + b), &id, &len);
            assert_int_equal(id, fifo[b]);
            heads[b] = (uint16_t)id;
            total += len;
        }
        assert_int_equal(total, HDR + payload);
        uint8_t *first = fg_ptr(&t->g, buf[heads[0]]);
        assert_int_equal(((struct virtio_net_hdr_v1 *)first)->num_buffers, nb);
        assert_int_equal(first[HDR], fill);
        uint8_t *last = nb == 1
                            ? first + HDR + payload - 1
                            : (uint8_t *)fg_ptr(&t->g, buf[heads[1]]) + (HDR + payload - BUF) - 1;
        assert_int_equal(*last, fill);
        used = (uint16_t)(used + nb);
        /* The driver recycles the buffers it got back, at the end of the ring. */
        memmove(fifo, fifo + nb, (nfifo - nb) * sizeof(fifo[0]));
        nfifo -= nb;
        for (unsigned b = 0; b < nb; b++) {
            memset(fg_ptr(&t->g, buf[heads[b]]), 0, BUF);
            fvq_publish(&t->q[0], heads[b]);
            fifo[nfifo++] = heads[b];
        }
        fnet_kick(t, 0);
    }
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, NPKT);
    assert_int_equal(s.rx_dropped, 0);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

static void test_rx_stream_cache_wraps(void **state) { rx_stream(*state, 1); }
static void test_rx_stream_cache_wraps_iovecs(void **state) { rx_stream(*state, 5); }

static void test_rx_readable_desc_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[0], 0, 0x30000, 2000, 0, 0);
    fvq_publish(&t->q[0], 0);
    fnet_kick(t, 0);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_CHAIN_DIRECTION);
}

/* ---- control queue ---- */

static void test_ctrl_commands(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    uint8_t on = 1, two = 2;
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &two, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\1\1", 2),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &on, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_VLAN, 0, &on, 1), VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, 200, 0, NULL, 0), VIRTIO_NET_ERR);

    const uint8_t mac[6] = { 0x02, 1, 2, 3, 4, 5 };
    uint8_t gen = virtio_dev_config_generation(t->dev);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
                     VIRTIO_NET_OK);
    uint8_t cfg[6];
    virtio_dev_config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, mac, 6);
    assert_int_not_equal(virtio_dev_config_generation(t->dev), gen);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 5),
                     VIRTIO_NET_ERR);

    /* MAC_TABLE_SET: 1 unicast, 2 multicast entries. */
    uint8_t tbl[4 + 6 + 4 + 12] = { 1, 0, 0, 0 };
    tbl[10] = 2;
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
                               sizeof(tbl)),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
                               sizeof(tbl) - 1),
                     VIRTIO_NET_ERR);
    tbl[0] = 0xff;   /* huge count */
    tbl[3] = 0xff;
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
                               sizeof(tbl)),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, 9, NULL, 0), VIRTIO_NET_ERR);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    settle();
    assert_true(fnet_count(&t->irqs[2]) >= 1);
}

static void test_ctrl_needs_features(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_CTRL_VQ)),
                     FNET_ALL_OK);
    uint8_t on = 1;
    const uint8_t mac[6] = { 0x02, 1, 2, 3, 4, 5 };
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
                     VIRTIO_NET_ERR);
}

static void test_ctrl_without_ack_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fvq_desc(&t->q[2], 0, 0x50000, 3, 0, 0);     /* class, cmd, data; no writable ack */
    fvq_publish(&t->q[2], 0);
    fnet_kick(t, 2);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_CHAIN_TOO_SHORT);
    assert_int_equal(fnet_used_idx(t, 2), 0);
}

/* ---- features, config, link ---- */

static void test_features(void **state)
{
    struct fake_net *t = *state;
    uint64_t f = virtio_dev_read_device_features(t->dev, 0) |
                 (uint64_t)virtio_dev_read_device_features(t->dev, 1) << 32;
    assert_true(f & BIT(VIRTIO_F_VERSION_1));
    assert_true(f & BIT(VIRTIO_NET_F_MRG_RXBUF));
    assert_true(f & BIT(VIRTIO_NET_F_GUEST_TSO4));
    assert_false(f & BIT(VIRTIO_NET_F_MQ));
    /* virtio 1.2 §5.1.3.1 dependencies */
    assert_false(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_GUEST_TSO4)) & VIRTIO_STATUS_FEATURES_OK);
    assert_false(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_HOST_TSO6)) & VIRTIO_STATUS_FEATURES_OK);
    assert_false(fnet_start(t, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_CTRL_RX)) &
                 VIRTIO_STATUS_FEATURES_OK);
    assert_false(fnet_start(t, BASE_F & ~BIT(VIRTIO_F_VERSION_1)) & VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_GUEST_CSUM) |
                                       BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
                                       BIT(VIRTIO_NET_F_GUEST_ECN)),
                     FNET_ALL_OK);
    assert_int_equal(loop_last_features(t->be),
                     BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
                         BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN));
    virtio_dev_set_status(t->dev, 0);
    assert_int_equal(loop_last_features(t->be), 0);   /* offloads off after reset */
}

static void test_config_and_link(void **state)
{
    struct fake_net *t = *state;
    uint8_t cfg[10];
    virtio_dev_config_read(t->dev, 0, cfg, 10);
    assert_memory_equal(cfg, MAC, 6);
    assert_int_equal(ld_le16(cfg + 6), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(ld_le16(cfg + 8), 1);
    uint32_t beyond = 0xffffffff;
    virtio_dev_config_read(t->dev, 10, &beyond, 4);
    assert_int_equal(beyond, 0);
    virtio_dev_config_write(t->dev, 0, "\x02\0\0\0", 4);   /* read-only with VERSION_1 */
    virtio_dev_config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, MAC, 6);

    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    virtio_net_set_link(t->n, false);
    assert_int_equal(fnet_count(&t->config_irqs), 1);
    virtio_dev_config_read(t->dev, 6, cfg, 2);
    assert_int_equal(ld_le16(cfg), 0);
    virtio_net_set_link(t->n, false);                   /* no change, no interrupt */
    assert_int_equal(fnet_count(&t->config_irqs), 1);
    /* Link down: TX dropped, RX not delivered. */
    fvq_desc(&t->q[1], 0, 0x20000, 64, 0, 0);
    memset(fg_ptr(&t->g, 0x20000), 0, 64);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 1));
    post_rx(t, 0, 0x30000, 2000);
    fnet_kick(t, 0);
    inject(t, 100, 1, 0);
    settle();
    assert_int_equal(fnet_used_idx(t, 0), 0);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_dropped, 1);
    virtio_net_set_link(t->n, true);
    assert_int_equal(fnet_count(&t->config_irqs), 2);
    assert_true(fnet_wait_used(t, 0, 1));
    assert_true(virtio_net_link_up(t->n));
}

static void test_backend_hangup(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    post_rx(t, 0, 0x30000, 2000);
    fnet_kick(t, 0);
    close(t->peer);
    t->peer = -1;
    settle();
    /* TX still completes (dropped) and the device stays usable for the guest. */
    fvq_desc(&t->q[1], 0, 0x20000, 64, 0, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 1));
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* ---- hostile drivers (issue 12) ---- */

/* One TX frame through the device; true if it reached the backend's peer. */
static bool tx_one_frame(struct fake_net *t, uint16_t d)
{
    memset(fg_ptr(&t->g, 0x10000), 0, HDR);
    memset(fg_ptr(&t->g, 0x10000 + HDR), 0x5a, 60);
    fvq_desc(&t->q[1], d, 0x10000, HDR + 60, 0, 0);
    fvq_publish(&t->q[1], d);
    fnet_kick(t, 1);
    struct pollfd p = { t->peer, POLLIN, 0 };
    uint8_t buf[256];
    return poll(&p, 1, 2000) == 1 && recv(t->peer, buf, sizeof(buf), 0) == HDR + 60;
}

static uint32_t be_events;
static void read_be_events(void *arg)
{
    struct virtio_net *n = arg;
    be_events = n->pairs[0].be_watch.active ? n->pairs[0].be_watch.events : 0;
}

/* Fault 5: DRIVER_OK with no receive queue. The backend fd was watched for EPOLLIN
 * (level-triggered) although nothing could read it: the first frame from the host made
 * the I/O thread spin until the guest reset the device. */
static void test_no_rx_queue_no_backend_poll(void **state)
{
    struct fake_net *t = *state;
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(t->dev, 1, 1);             /* VERSION_1 */
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                      VIRTIO_STATUS_FEATURES_OK);
    struct virtq *vq = &t->dev->vqs[1];
    vq->size = FNET_QSZ;
    vq->desc_gpa = t->q[1].desc;
    vq->avail_gpa = t->q[1].avail;
    vq->used_gpa = t->q[1].used;
    assert_int_equal(virtio_dev_enable_queue(t->dev, 1), 0);   /* TX only */
    virtio_dev_set_status(t->dev, FNET_ALL_OK);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    uint8_t frame[HDR + 60] = { 0 };
    assert_int_equal(send(t->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
    iothread_call(&t->n->io, read_be_events, t->n);
    assert_false(be_events & EPOLLIN);
    assert_true(tx_one_frame(t, 0));                            /* TX still works */
}

/* Fault 6: DRIVER_OK cleared without a reset and set again started the data path a
 * second time over its live epoll registrations; every later start failed with EEXIST,
 * even after resets: the device stayed dead. Now the driver error needs a reset, and
 * the reset brings it back. */
static void test_driver_ok_again_then_reset_works(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    virtio_dev_set_status(t->dev, FNET_ALL_OK & ~VIRTIO_STATUS_DRIVER_OK);
    virtio_dev_set_status(t->dev, FNET_ALL_OK);
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_STATUS_CLEARED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);  /* resets first */
        assert_true(tx_one_frame(t, (uint16_t)i));
    }
}

static uint16_t ctrl_used_after_one_run;
static void ctrl_run_once(void *arg)
{
    struct fake_net *t = arg;
    vnet_io_run(t->n, VIRTIO_NET_CTRLQ);
    ctrl_used_after_one_run = fvq_used_idx(&t->q[2]);
}

/* Fault 7: the control queue was served without a work limit, so a guest keeping it full
 * held the I/O thread (and every hand-over call waiting on it). One run now takes at
 * most VNET_CTRL_BUDGET commands and kicks itself for the rest. */
static void test_ctrl_budget(void **state)
{
    struct fake_net *t = *state;
    fnet_destroy(t);
    fnet_init_loop(t, "vnet-test", MAC);
    fvq_init(&t->q[2], &t->g, 256);                             /* a bigger control ring */
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(t->dev, 0, (uint32_t)BASE_F);
    virtio_dev_write_driver_features(t->dev, 1, (uint32_t)(BASE_F >> 32));
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                      VIRTIO_STATUS_FEATURES_OK);
    for (unsigned i = 0; i < 3; i++) {
        struct virtq *vq = &t->dev->vqs[i];
        vq->size = t->q[i].size;
        vq->desc_gpa = t->q[i].desc;
        vq->avail_gpa = t->q[i].avail;
        vq->used_gpa = t->q[i].used;
        assert_int_equal(virtio_dev_enable_queue(t->dev, i), 0);
    }
    virtio_dev_set_status(t->dev, FNET_ALL_OK);
    const unsigned cmds = 100;                                  /* > VNET_CTRL_BUDGET */
    uint8_t *b = fg_ptr(&t->g, 0x60000);
    for (unsigned i = 0; i < cmds; i++) {
        b[4 * i] = VIRTIO_NET_CTRL_RX;
        b[4 * i + 1] = VIRTIO_NET_CTRL_RX_PROMISC;
        b[4 * i + 2] = 1;
        fvq_desc(&t->q[2], (uint16_t)(2 * i), 0x60000 + 4 * i, 3, VRING_DESC_F_NEXT,
                 (uint16_t)(2 * i + 1));
        fvq_desc(&t->q[2], (uint16_t)(2 * i + 1), 0x60000 + 4 * i + 3, 1, VRING_DESC_F_WRITE, 0);
        fvq_publish(&t->q[2], (uint16_t)(2 * i));               /* no kick: the test runs it */
    }
    iothread_call(&t->n->io, ctrl_run_once, t);
    assert_int_equal(ctrl_used_after_one_run, VNET_CTRL_BUDGET);
    assert_true(fnet_wait_used(t, 2, (uint16_t)cmds));          /* the self-kick did the rest */
    for (unsigned i = 0; i < cmds; i++)
        assert_int_equal(b[4 * i + 3], VIRTIO_NET_OK);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fnet_teardown)

/* ---- host port: VLAN ---- */

static void set_vlan_tag(struct fake_net *t, uint16_t vid, uint8_t qos,
                         enum virtio_net_vlan_proto proto)
{
    struct virtio_net_port p;
    virtio_net_get_port(t->n, &p);
    p.vlan = vid;
    p.vlan_qos = qos;
    p.vlan_proto = proto;
    virtio_net_set_port(t->n, &p);
}

static void set_vlan(struct fake_net *t, uint16_t vid)
{
    set_vlan_tag(t, vid, 0, VIRTIO_NET_VLAN_8021Q);
}

static void test_vlan_tx_tags(void **state)
{
    struct fake_net *t = *state;
    set_vlan(t, 100);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    /* A checksum-offloaded IPv4 frame split over two descriptors inside the MACs. */
    uint8_t *f = fg_ptr(&t->g, 0x20000);
    memset(f, 0, HDR + 60);
    f[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    f[6] = 34;                                   /* csum_start: Ethernet 14 + IPv4 20 */
    f[8] = 16;                                   /* csum_offset (TCP) */
    memset(f + HDR, 0xff, 6);
    memcpy(f + HDR + 6, MAC, 6);
    f[HDR + 12] = 0x08;
    for (int i = 14; i < 60; i++)
        f[HDR + i] = (uint8_t)i;
    fvq_desc(&t->q[1], 0, 0x20000, HDR + 8, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q[1], 1, 0x20000 + HDR + 8, 52, 0, 0);
    fvq_publish(&t->q[1], 0);
    /* Too short to carry an EtherType: not taggable, counted as an error. */
    fvq_desc(&t->q[1], 2, 0x21000, HDR + 12, 0, 0);
    fvq_publish(&t->q[1], 2);
    fnet_kick(t, 1);
    uint8_t buf[128];
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 64);
    assert_true(fnet_wait_used(t, 1, 2));
    assert_int_equal(buf[6], 38);                /* csum_start moved past the tag */
    assert_memory_equal(buf + HDR, f + HDR, 12);
    const uint8_t tag[4] = { 0x81, 0x00, 0x00, 100 };
    assert_memory_equal(buf + HDR + 12, tag, 4);
    assert_memory_equal(buf + HDR + 16, f + HDR + 12, 48);
    assert_int_equal(recv(t->peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_packets, 1);
    assert_int_equal(s.tx_errors, 1);
    /* The guest's buffer is untouched (it is device-readable only). */
    assert_int_equal(f[6], 34);
}

/* Sends HDR + frame with a tag of TPID tpid, PCP 1 and VID vid (-1: untagged), and 40
 * payload bytes. */
static void inject_tpid(struct fake_net *t, uint16_t tpid, int vid, uint8_t flags,
                        uint8_t csum_start)
{
    uint8_t pkt[HDR + 60] = { 0 };
    size_t l = 0;
    pkt[0] = flags;
    pkt[6] = csum_start;
    l = HDR;
    memcpy(pkt + l, MAC, 6);
    memset(pkt + l + 6, 0x22, 6);
    l += 12;
    if (vid >= 0) {
        pkt[l] = (uint8_t)(tpid >> 8);
        pkt[l + 1] = (uint8_t)tpid;
        pkt[l + 2] = (uint8_t)(0x20 | vid >> 8);     /* PCP 1: ignored, only the VID counts */
        pkt[l + 3] = (uint8_t)vid;
        l += 4;
    }
    pkt[l] = 0x08;
    l += 2;
    memset(pkt + l, 0x5a, 40);
    l += 40;
    assert_int_equal(send(t->peer, pkt, l, 0), (ssize_t)l);
}

/* The same with an IEEE 802.1Q C-VLAN tag (TPID 0x8100). */
static void inject_tagged(struct fake_net *t, int vid, uint8_t flags, uint8_t csum_start)
{
    inject_tpid(t, 0x8100, vid, flags, csum_start);
}

static void test_vlan_rx_strips_and_filters(void **state)
{
    struct fake_net *t = *state;
    set_vlan(t, 100);
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF)), FNET_ALL_OK);
    for (uint16_t i = 0; i < FNET_QSZ; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 0x1000);
    fnet_kick(t, 0);
    inject_tagged(t, -1, 0, 0);                  /* untagged: not ours */
    inject_tagged(t, 200, 0, 0);                 /* another VLAN */
    inject_tagged(t, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 38);
    assert_true(fnet_wait_used(t, 0, 1));
    uint32_t id, len;
    fvq_used_elem(&t->q[0], 0, &id, &len);
    assert_int_equal(len, HDR + 12 + 2 + 40);
    uint8_t *p = fg_ptr(&t->g, 0x30000 + 0x1000 * id);
    assert_int_equal(p[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(p[6], 34);
    assert_int_equal(p[10], 1);                  /* num_buffers */
    assert_memory_equal(p + HDR, MAC, 6);
    assert_int_equal(p[HDR + 12], 0x08);
    assert_int_equal(p[HDR + 13], 0x00);
    assert_int_equal(p[HDR + 14], 0x5a);
    assert_int_equal(p[HDR + 53], 0x5a);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, 1);
    assert_int_equal(s.rx_dropped, 2);
    /* VLAN off again: an untagged frame goes through as is. (Give the buffer back
     * first: 15 free pages are below a 64 KiB frame, so the device waits for it.) */
    set_vlan(t, 0);
    post_rx(t, (uint16_t)id, 0x30000 + 0x1000 * id, 0x1000);
    fnet_kick(t, 0);
    inject_tagged(t, -1, 0, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    fvq_used_elem(&t->q[0], 1, &id, &len);
    assert_int_equal(len, HDR + 12 + 2 + 40);
}

/* Sends a 60-byte frame from MAC on the transmit queue (descriptor d) and returns what
 * reached the backend (its length). */
static ssize_t tx_one(struct fake_net *t, uint16_t d, uint8_t *buf, size_t cap)
{
    uint8_t *f = fg_ptr(&t->g, 0x20000 + 0x1000 * d);
    memset(f, 0, HDR + 60);
    memset(f + HDR, 0xff, 6);
    memcpy(f + HDR + 6, MAC, 6);
    f[HDR + 12] = 0x08;
    fvq_desc(&t->q[1], d, 0x20000 + 0x1000 * d, HDR + 60, 0, 0);
    fvq_publish(&t->q[1], d);
    fnet_kick(t, 1);
    return recv(t->peer, buf, cap, 0);
}

/* qos and proto: the inserted tag is 802.1ad's S-tag (TPID 0x88a8) with PCP 5; back to
 * 802.1Q with PCP 7, then PCP 0. */
static void test_vlan_tx_qos_proto(void **state)
{
    struct fake_net *t = *state;
    set_vlan_tag(t, 100, 5, VIRTIO_NET_VLAN_8021AD);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    uint8_t buf[128];
    assert_int_equal(tx_one(t, 0, buf, sizeof(buf)), HDR + 64);
    assert_memory_equal(buf + HDR + 12, ((uint8_t[]){ 0x88, 0xa8, 0xa0, 100 }), 4);
    assert_int_equal(buf[HDR + 16], 0x08);
    set_vlan_tag(t, 4094, 7, VIRTIO_NET_VLAN_8021Q);
    assert_int_equal(tx_one(t, 1, buf, sizeof(buf)), HDR + 64);
    assert_memory_equal(buf + HDR + 12, ((uint8_t[]){ 0x81, 0x00, 0xef, 0xfe }), 4);
    set_vlan_tag(t, 1, 0, VIRTIO_NET_VLAN_8021Q);
    assert_int_equal(tx_one(t, 2, buf, sizeof(buf)), HDR + 64);
    assert_memory_equal(buf + HDR + 12, ((uint8_t[]){ 0x81, 0x00, 0x00, 1 }), 4);
    assert_true(fnet_wait_used(t, 1, 3));
}

/* proto=802.1ad: only S-tagged frames of the VID come in (whatever their PCP), stripped;
 * a C-tag with the same VID is another network's and is dropped. */
static void test_vlan_rx_proto(void **state)
{
    struct fake_net *t = *state;
    set_vlan_tag(t, 100, 3, VIRTIO_NET_VLAN_8021AD);
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_MRG_RXBUF)), FNET_ALL_OK);
    for (uint16_t i = 0; i < FNET_QSZ; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 0x1000);
    fnet_kick(t, 0);
    inject_tpid(t, 0x8100, 100, 0, 0);           /* C-tag: not ours */
    inject_tpid(t, 0x88a8, 101, 0, 0);           /* another S-VLAN */
    inject_tpid(t, 0x88a8, 100, 0, 0);           /* ours, PCP 1 (not our 3: still ours) */
    assert_true(fnet_wait_used(t, 0, 1));
    uint32_t id, len;
    fvq_used_elem(&t->q[0], 0, &id, &len);
    assert_int_equal(len, HDR + 12 + 2 + 40);
    uint8_t *p = fg_ptr(&t->g, 0x30000 + 0x1000 * id);
    assert_memory_equal(p + HDR, MAC, 6);
    assert_int_equal(p[HDR + 12], 0x08);
    assert_int_equal(p[HDR + 14], 0x5a);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, 1);
    assert_int_equal(s.rx_dropped, 2);
}

static void test_port_mac_after_reset(void **state)
{
    struct fake_net *t = *state;
    struct virtio_net_port p;
    virtio_net_get_port(t->n, &p);
    assert_memory_equal(p.mac, MAC, 6);
    p.mac[5] = 0x99;
    p.spoofchk = true;
    virtio_net_set_port(t->n, &p);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    uint8_t mac[6];
    virtio_net_get_mac(t->n, mac);
    assert_memory_equal(mac, p.mac, 6);          /* start() reset the device first */
    /* The spoof check follows the new MAC: the old one is now forged. */
    uint8_t *f = fg_ptr(&t->g, 0x20000);
    memset(f, 0, HDR + 60);
    memcpy(f + HDR + 6, MAC, 6);
    fvq_desc(&t->q[1], 0, 0x20000, HDR + 60, 0, 0);
    fvq_publish(&t->q[1], 0);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 1));
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_spoofed, 1);
}


/* ---- host port: trust ---- */

static void set_trust(struct fake_net *t, bool trust, bool admin_mac)
{
    struct virtio_net_port p;
    virtio_net_get_port(t->n, &p);
    p.trust = trust;
    p.admin_mac = admin_mac;
    p.spoofchk = true;
    virtio_net_set_port(t->n, &p);
}

/* Sends a 60-byte frame from src (descriptor d); true if it reached the backend. */
static bool tx_from(struct fake_net *t, uint16_t d, const uint8_t src[6])
{
    uint8_t *f = fg_ptr(&t->g, 0x20000 + 0x1000 * d);
    memset(f, 0, HDR + 60);
    memset(f + HDR, 0xff, 6);
    memcpy(f + HDR + 6, src, 6);
    uint16_t want = (uint16_t)(fnet_used_idx(t, 1) + 1);
    fvq_desc(&t->q[1], d, 0x20000 + 0x1000 * d, HDR + 60, 0, 0);
    fvq_publish(&t->q[1], d);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, want));
    uint8_t buf[128];
    ssize_t n = recv(t->peer, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0)
        return false;
    assert_int_equal(n, HDR + 60);
    assert_memory_equal(buf + HDR + 6, src, 6);
    return true;
}

static const uint8_t GUEST_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

/* Untrusted (a VF without trust on): the host's MAC stays, promiscuous and all-multicast
 * are refused (turning them off is fine), the spoof check stays on the host's MAC. */
static void test_untrusted_guest(void **state)
{
    struct fake_net *t = *state;
    set_trust(t, false, true);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    uint8_t on = 1, off = 0, cfg[6];
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &off, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, GUEST_MAC, 6),
                     VIRTIO_NET_ERR);
    virtio_dev_config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, MAC, 6);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, MAC, 6),
                     VIRTIO_NET_OK);
    assert_true(tx_from(t, 0, MAC));
    /* A MAC the host did not set explicitly (a derived default) may change; its frames
     * still fail the spoof check. */
    set_trust(t, false, false);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, GUEST_MAC, 6),
                     VIRTIO_NET_OK);
    virtio_dev_config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, GUEST_MAC, 6);
    assert_false(tx_from(t, 1, GUEST_MAC));
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_spoofed, 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* Trusted: the guest replaces even the host's MAC, may go promiscuous, and the spoof
 * check follows its MAC; trust revoked: back to the host's; a reset restores it. */
static void test_trusted_guest(void **state)
{
    struct fake_net *t = *state;
    set_trust(t, true, true);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    uint8_t on = 1;
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                     VIRTIO_NET_OK);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, GUEST_MAC, 6),
                     VIRTIO_NET_OK);
    assert_true(tx_from(t, 0, GUEST_MAC));
    assert_false(tx_from(t, 1, MAC));
    set_trust(t, false, true);
    assert_false(tx_from(t, 2, GUEST_MAC));
    assert_true(tx_from(t, 3, MAC));
    set_trust(t, true, true);                    /* the guest's MAC is still its config's */
    assert_true(tx_from(t, 4, GUEST_MAC));
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);   /* reset: the host's MAC again */
    uint8_t cfg[6];
    virtio_dev_config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, MAC, 6);
    assert_true(tx_from(t, 0, MAC));
    assert_false(tx_from(t, 1, GUEST_MAC));
}

static void test_tx_rate_limit(void **state)
{
    struct fake_net *t = *state;
    struct virtio_net_port p;
    virtio_net_get_port(t->n, &p);
    p.max_tx_rate = 1;                           /* 125 000 B/s, bucket 65 566 B */
    virtio_net_set_port(t->n, &p);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    /* Four 30 000-byte frames: three fit the bucket (the third into debt), the fourth
     * waits until the debt is paid off: about 24 000 B / 125 000 B/s = 190 ms. */
    for (uint16_t i = 0; i < 4; i++) {
        uint8_t *f = fg_ptr(&t->g, 0x40000 + 0x8000 * i);
        memset(f, 0, HDR + 30000);
        memcpy(f + HDR + 6, MAC, 6);
        fvq_desc(&t->q[1], i, 0x40000 + 0x8000 * i, HDR + 30000, 0, 0);
        fvq_publish(&t->q[1], i);
    }
    uint64_t t0 = fnet_mono_ms();
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 3));
    assert_true(fnet_wait_used(t, 1, 4));
    uint64_t took = fnet_mono_ms() - t0;
    assert_true(took >= 150);
    static uint8_t buf[HDR + 30000];
    for (int i = 0; i < 4; i++)
        assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 30000);
    /* Unlimited again: a fifth frame goes at once (the bucket is deep in debt now). */
    p.max_tx_rate = 0;
    virtio_net_set_port(t->n, &p);
    fvq_desc(&t->q[1], 4, 0x40000, HDR + 30000, 0, 0);
    fvq_publish(&t->q[1], 4);
    fnet_kick(t, 1);
    assert_true(fnet_wait_used(t, 1, 5));
}

/* ---- notification coalescing (NOTF_COAL) ---- */

static void test_coal_commands(void **state)
{
    struct fake_net *t = *state;
    uint64_t f = virtio_dev_read_device_features(t->dev, 0) |
                 (uint64_t)virtio_dev_read_device_features(t->dev, 1) << 32;
    assert_true(f & BIT(VIRTIO_NET_F_NOTF_COAL));
    /* needs the control queue (virtio 1.3 §5.1.3.1) */
    assert_false(fnet_start(t, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_NOTF_COAL)) &
                 VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 0, 100), VIRTIO_NET_ERR);
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 32, 100), VIRTIO_NET_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, 1, 0), VIRTIO_NET_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 0, 1000000), VIRTIO_NET_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 0, 1000001),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_coal_set(t, 2, 0, 0), VIRTIO_NET_ERR);      /* VQ_SET: not offered */
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET,
                               "\0\0\0\0", 4),
                     VIRTIO_NET_ERR);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* RX with rx-usecs 300 ms: buffers are used at once, the interrupt comes when due. */
static void test_coal_rx_holds_interrupt(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 64, 300000), VIRTIO_NET_OK);
    for (uint16_t i = 0; i < 8; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 2000);
    fnet_kick(t, 0);
    uint64_t t0 = fnet_mono_ms();
    inject(t, 80, 1, 0);
    assert_true(fnet_wait_used(t, 0, 1));
    inject(t, 80, 2, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    if (fnet_mono_ms() - t0 < 250)        /* else this thread was descheduled: no evidence */
        assert_int_equal(fnet_count(&t->irqs[0]), 0);
    assert_true(fnet_wait_count(&t->irqs[0], 1));
    assert_true(fnet_mono_ms() - t0 >= 290);
    settle();
    assert_int_equal(fnet_count(&t->irqs[0]), 1);               /* one for both */

    /* rx-frames 2 (usecs 1 s): the second packet makes it due, long before the timer. */
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 2, 1000000), VIRTIO_NET_OK);
    t0 = fnet_mono_ms();
    inject(t, 80, 3, 0);
    assert_true(fnet_wait_used(t, 0, 3));
    inject(t, 80, 4, 0);
    assert_true(fnet_wait_used(t, 0, 4));
    assert_true(fnet_wait_count(&t->irqs[0], 2));
    assert_true(fnet_mono_ms() - t0 < 700);

    /* Out of buffers (the last of the 8 used): what is held is due at once, else the
     * driver would never refill. */
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 64, 1000000),
                     VIRTIO_NET_OK);
    t0 = fnet_mono_ms();
    for (uint8_t p = 5; p <= 8; p++)
        inject(t, 80, p, 0);
    assert_true(fnet_wait_used(t, 0, 8));
    assert_true(fnet_wait_count(&t->irqs[0], 3));
    assert_true(fnet_mono_ms() - t0 < 700);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* With EVENT_IDX the driver's used_event still decides when the held check is made: an
 * interrupt it asked for comes when due, none while it polls (used_event far ahead). */
static void test_coal_rx_event_idx(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL) |
                                       BIT(VIRTIO_RING_F_EVENT_IDX)),
                     FNET_ALL_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 64, 100000), VIRTIO_NET_OK);
    fvq_set_used_event(&t->q[0], 0);
    for (uint16_t i = 0; i < 8; i++)
        post_rx(t, i, 0x30000 + 0x1000 * i, 2000);
    fnet_kick(t, 0);
    inject(t, 80, 1, 0);
    inject(t, 80, 2, 0);
    assert_true(fnet_wait_used(t, 0, 2));
    assert_true(fnet_wait_count(&t->irqs[0], 1));
    fvq_set_used_event(&t->q[0], 100);                          /* polling: no interrupt */
    inject(t, 80, 3, 0);
    assert_true(fnet_wait_used(t, 0, 3));
    usleep(300000);
    assert_int_equal(fnet_count(&t->irqs[0]), 1);
    fvq_set_used_event(&t->q[0], 3);                            /* re-armed for the 4th */
    inject(t, 80, 4, 0);
    assert_true(fnet_wait_used(t, 0, 4));
    assert_true(fnet_wait_count(&t->irqs[0], 2));
}

/* TX completions likewise; a reset forgets the parameters. */
static void test_coal_tx_and_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, 3, 1000000), VIRTIO_NET_OK);
    uint8_t buf[128];
    uint64_t t0 = 0;
    for (uint16_t i = 0; i < 3; i++) {
        uint8_t *fr = fg_ptr(&t->g, 0x20000 + 0x100 * i);
        memset(fr, 0, HDR + 64);
        fvq_desc(&t->q[1], i, 0x20000 + 0x100 * i, HDR + 64, 0, 0);
        fvq_publish(&t->q[1], i);
        t0 = fnet_mono_ms();
        fnet_kick(t, 1);
        assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 64);
        assert_true(fnet_wait_used(t, 1, (uint16_t)(i + 1)));
        if (i < 2) {
            settle();
            assert_int_equal(fnet_count(&t->irqs[1]), 0);
        }
    }
    assert_true(fnet_wait_count(&t->irqs[1], 1));               /* the third: tx-frames 3 */
    assert_true(fnet_mono_ms() - t0 < 700);

    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    struct virtio_net_coalesce c;
    virtio_net_get_coalesce(t->n, &c);
    assert_int_equal(c.tx_max_packets, 0);
    assert_int_equal(c.tx_usecs, 0);
    fvq_desc(&t->q[1], 0, 0x20000, HDR + 64, 0, 0);
    fvq_publish(&t->q[1], 0);
    t0 = fnet_mono_ms();
    fnet_kick(t, 1);
    assert_int_equal(recv(t->peer, buf, sizeof(buf), 0), HDR + 64);
    assert_true(fnet_wait_count(&t->irqs[1], 2));               /* at once again */
    assert_true(fnet_mono_ms() - t0 < 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tx_frame),
        T(test_tx_batch_indirect),
        T(test_tx_event_idx_suppression),
        T(test_tx_short_packet_counted),
        T(test_tx_spoof_check),
        T(test_tx_bad_chain_needs_reset),
        T(test_tx_writable_desc_needs_reset),
        T(test_rx_mergeable),
        T(test_rx_mergeable_big_buffers),
        T(test_rx_split_header_buffers),
        T(test_rx_no_mrg_one_chain_per_packet),
        T(test_rx_waits_for_buffers),
        T(test_rx_small_ring_reads_anyway),
        T(test_rx_readable_desc_needs_reset),
        T(test_rx_stream_cache_wraps),
        T(test_rx_stream_cache_wraps_iovecs),
        T(test_event_idx_one_interrupt_per_batch),
        T(test_coal_commands),
        T(test_coal_rx_holds_interrupt),
        T(test_coal_rx_event_idx),
        T(test_coal_tx_and_reset),
        T(test_ctrl_commands),
        T(test_ctrl_needs_features),
        T(test_ctrl_without_ack_needs_reset),
        T(test_features),
        T(test_config_and_link),
        T(test_backend_hangup),
        T(test_no_rx_queue_no_backend_poll),
        T(test_driver_ok_again_then_reset_works),
        T(test_ctrl_budget),
        T(test_vlan_tx_tags),
        T(test_vlan_rx_strips_and_filters),
        T(test_vlan_tx_qos_proto),
        T(test_vlan_rx_proto),
        T(test_untrusted_guest),
        T(test_trusted_guest),
        T(test_port_mac_after_reset),
        T(test_tx_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
