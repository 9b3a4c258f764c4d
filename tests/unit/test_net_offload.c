/* virtio-net over an offload backend (a fake standing in for vhost-net): the sequencing
 * of start_offload / set_link / stop_offload around DRIVER_OK, link changes, reset and
 * backend-reported ring errors; the call eventfds become queue interrupts through the
 * transport; the RX/TX kick eventfds are left to the backend; the control queue stays
 * in vpf. The I/O thread runs for real: start/stop/link are iothread_call()s, done when
 * the call returns; interrupts are awaited with a timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"
#include "fake_msi.h"
#include "fake_net.h"
#include "virtio/pci.h"

struct fake_offload {
    struct net_backend be;
    int starts, stops, links;
    bool link, fail_start, broken;
    uint64_t offloads;
    struct net_backend_offload cfg;
    int cfd;                        /* config interrupt eventfd (config_fd) */
    bool dev_link;                  /* what device_link() answers */
    int call[2];                    /* what each ring signals now (start, then set_call) */
    int set_calls;
};

static uint64_t fo_features(struct net_backend *be) { return BIT(VIRTIO_NET_F_CSUM); }
static int fo_set_features(struct net_backend *be, uint64_t f)
{
    ((struct fake_offload *)be)->offloads = f;
    return 0;
}
static void fo_close(struct net_backend *be)
{
    close(((struct fake_offload *)be)->cfd);
    free(be);
}
static int fo_config_fd(struct net_backend *be) { return ((struct fake_offload *)be)->cfd; }
static bool fo_device_link(struct net_backend *be)
{
    return __atomic_load_n(&((struct fake_offload *)be)->dev_link, __ATOMIC_SEQ_CST);
}
static int fo_start(struct net_backend *be, const struct net_backend_offload *cfg)
{
    struct fake_offload *f = (struct fake_offload *)be;
    f->starts++;
    f->cfg = *cfg;
    f->link = cfg->link_up;
    for (unsigned i = 0; i < 2; i++)
        f->call[i] = cfg->vrings[i].call_fd;
    return f->fail_start ? -1 : 0;
}
static void fo_stop(struct net_backend *be, uint16_t *last_avail, unsigned n)
{
    struct fake_offload *f = (struct fake_offload *)be;
    f->stops++;
    for (unsigned i = 0; i < n; i++)
        last_avail[i] = (uint16_t)(5 + i);
}
static int fo_set_link(struct net_backend *be, bool up)
{
    struct fake_offload *f = (struct fake_offload *)be;
    f->links++;
    f->link = up;
    return 0;
}
static bool fo_broken(struct net_backend *be) { return ((struct fake_offload *)be)->broken; }
static int fo_stats(struct net_backend *be, struct net_backend_stats *s)
{
    s->rx_packets = 11;
    s->tx_bytes = 22;
    return 0;
}

static int fo_set_call(struct net_backend *be, unsigned ring, int fd)
{
    struct fake_offload *f = (struct fake_offload *)be;
    assert_true(ring < 2 && fd >= 0);
    f->call[ring] = fd;
    f->set_calls++;
    return 0;
}

static const struct net_backend_ops fo_ops = {
    .type = "fake-offload",
    .kind = NET_BACKEND_OFFLOAD,
    .features = fo_features,
    .set_features = fo_set_features,
    .close = fo_close,
    .start_offload = fo_start,
    .stop_offload = fo_stop,
    .set_link = fo_set_link,
    .backend_broken = fo_broken,
    .stats = fo_stats,
    .config_fd = fo_config_fd,
    .device_link = fo_device_link,
};

/* The same backend, able to move a ring's interrupt (as vhost does): fo_ops plus
 * set_call, filled in by setup_pci_direct. */
static struct net_backend_ops fo_direct_ops;

/* A fake offload backend, owned by the device it is handed to. */
static struct net_backend *fo_new_ops(const struct net_backend_ops *ops)
{
    struct fake_offload *fo = calloc(1, sizeof(*fo));
    fo->be = (struct net_backend){ .ops = ops,
                                   .fd = -1,
                                   .hdr_len = NET_BACKEND_HDR_LEN,
                                   .name = "fake" };
    fo->cfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    fo->dev_link = true;
    return &fo->be;
}

static struct net_backend *fo_new(void) { return fo_new_ops(&fo_ops); }

static struct fake_offload *fo_of(struct fake_net *t) { return (struct fake_offload *)t->be; }

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
#define BASE_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | \
                BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) | \
                BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_CSUM))

/* The device's events (virtio_net_set_event_hook), as a manager hears them: the last
 * one and how many, written on whatever thread raised it. */
static struct {
    pthread_mutex_t lock;
    int count;
    enum virtio_net_event ev;
    char dev[32], detail[128];
} heard = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void hear(void *opaque, const char *dev, enum virtio_net_event ev, const char *detail,
                 unsigned long suppressed)
{
    pthread_mutex_lock(&heard.lock);
    heard.count++;
    heard.ev = ev;
    snprintf(heard.dev, sizeof(heard.dev), "%s", dev);
    snprintf(heard.detail, sizeof(heard.detail), "%s", detail);
    pthread_mutex_unlock(&heard.lock);
}

static int heard_count(void)
{
    pthread_mutex_lock(&heard.lock);
    int n = heard.count;
    pthread_mutex_unlock(&heard.lock);
    return n;
}

/* The event hook heard exactly n events, the last one ev with detail. */
static void expect_heard(int n, enum virtio_net_event ev, const char *detail)
{
    for (int i = 0; i < 2000 && heard_count() < n; i++)
        usleep(1000);
    pthread_mutex_lock(&heard.lock);
    assert_int_equal(heard.count, n);
    assert_int_equal(heard.ev, ev);
    assert_string_equal(heard.dev, "off-test");
    assert_string_equal(heard.detail, detail);
    pthread_mutex_unlock(&heard.lock);
}

static int setup(void **state)
{
    struct fake_net *t = calloc(1, sizeof(*t));
    fnet_init(t, "off-test", fo_new(), MAC);
    pthread_mutex_lock(&heard.lock);
    heard.count = 0;
    pthread_mutex_unlock(&heard.lock);
    virtio_net_set_event_hook(t->n, hear, NULL);
    *state = t;
    return 0;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    assert_int_equal(write(fd, &one, 8), 8);
}

/* Resets the device as the driver does; returns the offload's stop count right after
 * (a stop is an iothread_call, done when the reset returns). */
static int stops_after_reset(struct fake_net *t)
{
    virtio_dev_set_status(t->dev, 0);
    return fo_of(t)->stops;
}

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

/* queues=2 on an offload backend (vhost-net: one device per pair): each pair's backend
 * gets its own two rings (queues 2k, 2k + 1), the control queue (4) stays in vpf, link
 * and stop reach every pair, and each ring's call eventfd interrupts its own queue. */
static void test_mq_pairs_each_offloaded(void **state)
{
    struct fake_net t = { 0 };
    struct net_backend *be[2] = { fo_new(), fo_new() };
    fnet_init_mq(&t, "off-mq", be, 2, MAC);
    struct fake_offload *fo[2] = { (struct fake_offload *)be[0], (struct fake_offload *)be[1] };
    assert_int_equal(fnet_start(&t, BASE_F | BIT(VIRTIO_NET_F_MQ)), FNET_ALL_OK);
    for (unsigned k = 0; k < 2; k++) {
        assert_int_equal(fo[k]->starts, 1);
        assert_int_equal(fo[k]->cfg.nvrings, 2);
        for (unsigned r = 0; r < 2; r++) {
            const struct net_backend_vring *v = &fo[k]->cfg.vrings[r];
            assert_int_equal(v->desc_gpa, t.q[2 * k + r].desc);
            assert_int_equal(v->kick_fd, t.dev->kick_fds[2 * k + r]);
        }
    }
    /* The control queue is vpf's, at 2N. A pair that comes into use stays the backend's:
     * vpf neither pops its receive buffers nor publishes on its ring. */
    fvq_desc(&t.q[2], 0, 0x60000, 2048, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t.q[2], 0);
    uint8_t b[2] = { 2, 0 };
    assert_int_equal(fnet_ctrl(&t, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b, 2),
                     VIRTIO_NET_OK);
    assert_int_equal(virtio_net_active_pairs(t.n), 2);
    assert_int_equal(t.dev->vqs[2].last_avail, 0);
    assert_int_equal(fnet_used_idx(&t, 2), 0);
    /* Pair 1's transmit ring's call reaches queue 3's interrupt. */
    signal_fd(fo[1]->cfg.vrings[1].call_fd);
    assert_true(fnet_wait_count(&t.irqs[3], 1));
    assert_int_equal(fnet_count(&t.irqs[1]), 0);
    virtio_net_set_link(t.n, false);
    assert_false(fo[0]->link || fo[1]->link);
    virtio_net_set_link(t.n, true);
    assert_true(fo[0]->link && fo[1]->link);
    virtio_dev_set_status(t.dev, 0);
    assert_int_equal(fo[0]->stops, 1);
    assert_int_equal(fo[1]->stops, 1);
    assert_int_equal(t.dev->vqs[3].last_avail, 0);  /* reset: the rings start over */
    assert_int_equal(virtio_net_active_pairs(t.n), 1);
    fnet_destroy(&t);
}

/* DRIVER_OK hands the RX/TX rings over with everything the backend needs. */
static void test_start_hands_over_rings(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fo_of(t)->starts, 0);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    struct fake_offload *fo = fo_of(t);
    assert_int_equal(fo->starts, 1);
    assert_int_equal(fo->stops, 0);
    assert_ptr_equal(fo->cfg.mem, &t->g.mem);
    assert_int_equal(fo->cfg.features, BASE_F);
    assert_int_equal(fo->offloads, BIT(VIRTIO_NET_F_CSUM));
    assert_true(fo->cfg.link_up);
    assert_int_equal(fo->cfg.nvrings, 2);
    for (unsigned i = 0; i < 2; i++) {
        const struct net_backend_vring *r = &fo->cfg.vrings[i];
        assert_int_equal(r->size, FNET_QSZ);
        assert_int_equal(r->last_avail, 0);
        assert_int_equal(r->desc_gpa, t->q[i].desc);
        assert_int_equal(r->avail_gpa, t->q[i].avail);
        assert_int_equal(r->used_gpa, t->q[i].used);
        assert_int_equal(r->kick_fd, t->dev->kick_fds[i]);
        assert_true(r->call_fd >= 0 && r->err_fd >= 0);
        assert_int_not_equal(r->call_fd, r->kick_fd);
    }
    assert_int_not_equal(fo->cfg.vrings[0].call_fd, fo->cfg.vrings[1].call_fd);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, 11);
    assert_int_equal(s.tx_bytes, 22);
    assert_string_equal(virtio_net_stats_source(t->n), "tap");
    assert_string_equal(virtio_net_backend_type(t->n), "fake-offload");
}

/* The backend's call eventfd is a queue interrupt through the transport (MSI-X: masking
 * and pending bits apply there); RX/TX kicks stay with the backend. */
static void test_call_forwarded_kicks_left_alone(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    signal_fd(fo_of(t)->cfg.vrings[0].call_fd);
    assert_true(fnet_wait_count(&t->irqs[0], 1));
    signal_fd(fo_of(t)->cfg.vrings[1].call_fd);
    assert_true(fnet_wait_count(&t->irqs[1], 1));
    assert_int_equal(fnet_count(&t->irqs[0]), 1);
    signal_fd(t->dev->kick_fds[0]);
    signal_fd(t->dev->kick_fds[1]);
    /* A round trip through the I/O thread: had it polled the kicks, it drained them. */
    virtio_net_set_link(t->n, false);
    assert_true(readable(t->dev->kick_fds[0]));
    assert_true(readable(t->dev->kick_fds[1]));
}

/* Link down detaches, up reattaches; a start while down starts detached. */
static void test_link_detaches(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    virtio_net_set_link(t->n, false);
    assert_int_equal(fo_of(t)->links, 1);
    assert_false(fo_of(t)->link);
    virtio_net_set_link(t->n, true);
    assert_int_equal(fo_of(t)->links, 2);
    assert_true(fo_of(t)->link);
    virtio_net_set_link(t->n, false);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);  /* reset + DRIVER_OK while down */
    assert_int_equal(fo_of(t)->starts, 2);
    assert_false(fo_of(t)->cfg.link_up);
}

/* Reset stops the offload once; its call fds no longer interrupt; DRIVER_OK restarts. */
static void test_reset_stops_and_restart(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    int call = fo_of(t)->cfg.vrings[0].call_fd;
    assert_int_equal(stops_after_reset(t), 1);
    signal_fd(call);
    virtio_net_set_link(t->n, false);               /* I/O thread round trip */
    assert_int_equal(fnet_count(&t->irqs[0]), 0);
    assert_int_equal(stops_after_reset(t), 1);      /* no second stop */
    virtio_net_set_link(t->n, true);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(fo_of(t)->starts, 2);
    /* The stale signal from before the restart was dropped, a new one goes through. */
    signal_fd(fo_of(t)->cfg.vrings[0].call_fd);
    assert_true(fnet_wait_count(&t->irqs[0], 1));
}

/* A ring error the backend reports: NEEDS_RESET, config interrupt, offload stopped. */
static void test_backend_ring_error_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    signal_fd(fo_of(t)->cfg.vrings[1].err_fd);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_true(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(t->dev), VIRTIO_ERR_BACKEND_RING);
    virtio_net_set_link(t->n, false);               /* round trip: the stop happened */
    assert_int_equal(fo_of(t)->stops, 1);
    assert_int_equal(stops_after_reset(t), 1);
    /* The manager heard of it once (an event per failure, not per signal). */
    expect_heard(1, VIRTIO_NET_EVENT_NEEDS_RESET, virtio_error_name(VIRTIO_ERR_BACKEND_RING));
}

/* A guest that breaks the device as fast as it resets it: the manager hears of the first
 * LOG_RATELIMIT_BURST failures in the window, not of every one. */
static void test_needs_reset_events_limited(void **state)
{
    struct fake_net *t = *state;
    for (int i = 1; i <= LOG_RATELIMIT_BURST + 5; i++) {
        assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
        signal_fd(fo_of(t)->cfg.vrings[0].err_fd);
        assert_true(fnet_wait_count(&t->config_irqs, i));
    }
    virtio_dev_set_status(t->dev, 0);
    expect_heard(LOG_RATELIMIT_BURST, VIRTIO_NET_EVENT_NEEDS_RESET,
                 virtio_error_name(VIRTIO_ERR_BACKEND_RING));
}

/* The same signal when the backend itself broke (its tap deleted): the offload stops,
 * the guest is not blamed (no NEEDS_RESET, no config interrupt). */
static void test_backend_broken_is_not_guest_error(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    fo_of(t)->broken = true;
    signal_fd(fo_of(t)->cfg.vrings[1].err_fd);
    for (int i = 0; i < 2000 && __atomic_load_n(&fo_of(t)->stops, __ATOMIC_SEQ_CST) == 0; i++)
        usleep(1000);
    virtio_net_set_link(t->n, false);               /* I/O thread round trip */
    assert_int_equal(fo_of(t)->stops, 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    assert_int_equal(fnet_count(&t->config_irqs), 1);  /* the link change only */
    assert_int_equal(stops_after_reset(t), 1);
    expect_heard(1, VIRTIO_NET_EVENT_BACKEND_FAILED, "its tap is gone");
}

static uint16_t config_status(struct fake_net *t)
{
    uint8_t st[2];
    virtio_dev_config_read(t->dev, offsetof(struct virtio_net_config, status), st, 2);
    return (uint16_t)(st[0] | st[1] << 8);
}

/* The backend's device has its own link (vhost-vdpa's config interrupt): its changes
 * reach the guest as config changes, and the guest's link is up only while both the
 * host and the device say so. */
static void test_device_link_changes(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    struct fake_offload *fo = fo_of(t);
    assert_int_equal(config_status(t), VIRTIO_NET_S_LINK_UP);
    __atomic_store_n(&fo->dev_link, false, __ATOMIC_SEQ_CST);
    signal_fd(fo->cfd);
    assert_true(fnet_wait_count(&t->config_irqs, 1));
    assert_int_equal(config_status(t), 0);
    expect_heard(1, VIRTIO_NET_EVENT_LINK, "down");
    virtio_net_set_link(t->n, false);                /* the host's link down and up again */
    virtio_net_set_link(t->n, true);
    assert_int_equal(config_status(t), 0);
    __atomic_store_n(&fo->dev_link, true, __ATOMIC_SEQ_CST);
    signal_fd(fo->cfd);
    assert_true(fnet_wait_count(&t->config_irqs, 4));
    assert_int_equal(config_status(t), VIRTIO_NET_S_LINK_UP);
    expect_heard(2, VIRTIO_NET_EVENT_LINK, "up");     /* the host's own changes are not its */
    /* Stopped: the config interrupt is no longer watched. */
    assert_int_equal(stops_after_reset(t), 1);
    __atomic_store_n(&fo->dev_link, false, __ATOMIC_SEQ_CST);
    signal_fd(fo->cfd);
    virtio_net_set_link(t->n, true);                 /* I/O thread round trip */
    assert_int_equal(config_status(t), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(heard_count(), 2);
}

/* A backend that cannot start: the device stays up for the guest, nothing to stop. */
static void test_start_failure(void **state)
{
    struct fake_net *t = *state;
    fo_of(t)->fail_start = true;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(fo_of(t)->starts, 1);
    virtio_net_set_link(t->n, false);
    assert_int_equal(fo_of(t)->links, 0);
    assert_int_equal(stops_after_reset(t), 0);
}

/* The control queue is still served by vpf while RX/TX are offloaded. */
static void test_ctrl_stays_in_vpf(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    const uint8_t mac[6] = { 0x02, 1, 2, 3, 4, 5 };
    uint8_t *hdr = fg_ptr(&t->g, 0x50000);
    hdr[0] = VIRTIO_NET_CTRL_MAC;
    hdr[1] = VIRTIO_NET_CTRL_MAC_ADDR_SET;
    memcpy(fg_ptr(&t->g, 0x50100), mac, 6);
    uint8_t *ack = fg_ptr(&t->g, 0x50f00);
    *ack = 0xcc;
    fvq_desc(&t->q[2], 0, 0x50000, 2, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q[2], 1, 0x50100, 6, VRING_DESC_F_NEXT, 2);
    fvq_desc(&t->q[2], 2, 0x50f00, 1, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[2], 0);
    signal_fd(t->dev->kick_fds[2]);
    assert_true(fnet_wait_count(&t->irqs[2], 1));
    assert_int_equal(*ack, VIRTIO_NET_OK);
    uint8_t got[6];
    virtio_net_get_mac(t->n, got);
    assert_memory_equal(got, mac, 6);
}

/* Waits until vpf has taken the backend's signal on eventfd fd. vpf drains the eventfd
 * and handles the signal in one I/O thread callback, so once the eventfd is empty, one
 * I/O thread round trip later that callback has run to its end. */
static bool signal_taken(struct fake_net *t, int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    for (int i = 0; i < 2000 && poll(&p, 1, 0) == 1; i++)
        usleep(1000);
    struct virtio_net_coalesce c;
    virtio_net_get_coalesce(t->n, &c);              /* I/O thread round trip */
    return poll(&p, 1, 0) == 0;
}

/* With rx-usecs 1 s and rx-frames frames: the backend signals at used idx first, then
 * quietly moves it to later; vpf's look at the ring must release the interrupt (the
 * irqs-th) long before the timer would. */
static void released_by_ring(struct fake_net *t, uint32_t frames, uint16_t first, uint16_t later,
                             int irqs)
{
    uint16_t *used_idx = fg_ptr(&t->g, t->q[0].used + 2);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, frames, 1000000),
                     VIRTIO_NET_OK);
    uint64_t t0 = fnet_mono_ms();
    *used_idx = first;
    signal_fd(fo_of(t)->cfg.vrings[0].call_fd);
    assert_true(signal_taken(t, fo_of(t)->cfg.vrings[0].call_fd));   /* seen at `first` */
    *used_idx = later;
    assert_true(fnet_wait_count(&t->irqs[0], irqs));
    assert_true(fnet_mono_ms() - t0 < 700);
}

/* The guest's interrupt moderation (NOTF_COAL) holds the backend's signals too. While it
 * holds one the backend signals nothing more (EVENT_IDX), so vpf watches the ring: the
 * packet limit counts the used idx the backend published, and an RX ring with every
 * buffer used makes it due. */
static void test_moderation_holds_backend_signals(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    int call = fo_of(t)->cfg.vrings[0].call_fd;
    uint16_t *used_idx = fg_ptr(&t->g, t->q[0].used + 2);
    uint16_t *avail_idx = fg_ptr(&t->g, t->q[0].avail + 2);
    *avail_idx = 100;                                           /* plenty of RX buffers */
    /* Used buffers while moderation is off still count as seen. */
    *used_idx = 7;
    signal_fd(call);
    assert_true(fnet_wait_count(&t->irqs[0], 1));
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 64, 300000), VIRTIO_NET_OK);

    uint64_t t0 = fnet_mono_ms();
    *used_idx = 8;
    signal_fd(call);
    assert_true(signal_taken(t, call));
    *used_idx = 9;
    if (fnet_mono_ms() - t0 < 250)
        assert_int_equal(fnet_count(&t->irqs[0]), 1);           /* held */
    assert_true(fnet_wait_count(&t->irqs[0], 2));
    assert_true(fnet_mono_ms() - t0 >= 290);
    usleep(20000);
    assert_int_equal(fnet_count(&t->irqs[0]), 2);               /* one for both */

    /* rx-frames 3 (usecs 1 s): one signal, then the backend quietly uses two more. */
    released_by_ring(t, 3, 10, 12, 3);
    /* The RX ring used up (avail idx == used idx): due at once. */
    released_by_ring(t, 64, 13, 100, 4);

    /* TX untouched by RX's setting */
    t0 = fnet_mono_ms();
    signal_fd(fo_of(t)->cfg.vrings[1].call_fd);
    assert_true(fnet_wait_count(&t->irqs[1], 1));
    assert_true(fnet_mono_ms() - t0 < 700);
}

/* ---- through virtio-pci and MSI-X: masking applies to the backend's interrupts ---- */

struct pctx {
    struct fake_net c;              /* c.irqs unused: interrupts go through MSI-X */
    struct fake_msi_router r;
    struct msi_router router;
    struct virtio_pci vp;
};

static int setup_pci_ops(void **state, const struct net_backend_ops *ops)
{
    struct pctx *p = calloc(1, sizeof(*p));
    fnet_init(&p->c, "off-pci", fo_new_ops(ops), MAC);
    p->router = (struct msi_router){ &fake_msi_ops, &p->r };
    assert_int_equal(virtio_pci_init(&p->vp, "off-pci", p->c.dev, &p->router, NULL, 0), 0);
    *state = p;
    return 0;
}

static int setup_pci(void **state) { return setup_pci_ops(state, &fo_ops); }
static int setup_pci_direct(void **state)
{
    fo_direct_ops = fo_ops;
    fo_direct_ops.set_call = fo_set_call;
    return setup_pci_ops(state, &fo_direct_ops);
}

static int teardown_pci(void **state)
{
    struct pctx *p = *state;
    virtio_pci_destroy(&p->vp);
    fnet_destroy(&p->c);
    free(p);
    return 0;
}

static void bar_wr(struct pctx *p, uint64_t off, unsigned len, uint64_t v)
{
    pci_device_bar_write(&p->vp.pci, VIRTIO_PCI_BAR, off, &v, len);
}

static uint64_t fired(int fd)
{
    uint64_t v = 0;
    return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

static bool wait_pending(struct pctx *p, unsigned vec)
{
    for (int i = 0; i < 2000 && !msix_vector_pending(&p->vp.msix, vec); i++)
        usleep(1000);
    return msix_vector_pending(&p->vp.msix, vec);
}

static bool wait_fired(int fd)
{
    for (int i = 0; i < 2000; i++) {
        if (fired(fd))
            return true;
        usleep(1000);
    }
    return false;
}

/* A masked vector (Mask Bit, then Function Mask) keeps the backend's interrupt pending
 * and injects it once on unmask (PCIe 6.0 §6.1.4.2); unmasked it goes straight out. */
static void test_masked_vector_holds_backend_interrupt(void **state)
{
    struct pctx *p = *state;
    struct fake_net *t = &p->c;
    int cap = pci_config_find_cap(&p->vp.pci.config, PCI_CAP_ID_MSIX);
    pci_device_config_write(&p->vp.pci, (unsigned)cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16, 4, 0xfee00000);   /* vector 1 */
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 8, 4, 0x31);
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4, 0);       /* unmasked: route made */
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4, 1);       /* masked again */
    assert_int_equal(p->r.n, 1);
    int irqfd = p->r.fds[0];
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    bar_wr(p, VIRTIO_PCI_COMMON_Q_SELECT, 2, VIRTIO_NET_RXQ);
    bar_wr(p, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
    assert_int_equal(fo_of(t)->starts, 1);
    int call = fo_of(t)->cfg.vrings[0].call_fd;

    signal_fd(call);
    assert_true(wait_pending(p, 1));
    assert_int_equal(fired(irqfd), 0);
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4, 0);       /* unmask: fires once */
    assert_int_equal(fired(irqfd), 1);
    assert_false(msix_vector_pending(&p->vp.msix, 1));

    signal_fd(call);                                            /* deliverable: straight out */
    assert_true(wait_fired(irqfd));

    pci_device_config_write(&p->vp.pci, (unsigned)cap + PCI_MSIX_FLAGS, 2,
                            PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    signal_fd(call);
    assert_true(wait_pending(p, 1));
    assert_int_equal(fired(irqfd), 0);
    pci_device_config_write(&p->vp.pci, (unsigned)cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(fired(irqfd), 1);
    assert_false(msix_vector_pending(&p->vp.msix, 1));
}

/* Programs MSI-X vector v (unmasked unless masked) and returns its route's irqfd. */
static int vector_setup(struct pctx *p, unsigned v, bool masked)
{
    uint64_t e = VIRTIO_PCI_MSIX_TABLE_OFF + 16ull * v;
    bar_wr(p, e, 4, 0xfee00000);
    bar_wr(p, e + 8, 4, 0x30 + v);
    bar_wr(p, e + 12, 4, 0);
    int fd = msix_vector_irqfd(&p->vp.msix, v);
    if (masked)
        bar_wr(p, e + 12, 4, 1);
    return fd;
}

static void vector_mask(struct pctx *p, unsigned v, bool masked)
{
    bar_wr(p, VIRTIO_PCI_MSIX_TABLE_OFF + 16ull * v + 12, 4, masked);
}

static void queue_vector(struct pctx *p, unsigned q, uint16_t v)
{
    bar_wr(p, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    bar_wr(p, VIRTIO_PCI_COMMON_Q_MSIX, 2, v);
}

/* Interrupts straight to KVM: while a queue's vector is unmasked and routed (and the
 * guest's moderation is off), the backend signals the vector's irqfd itself; every
 * change that makes it undeliverable (Mask Bit, Function Mask, MSI-X off, no vector,
 * moderation on) moves the ring back to vpf's eventfd before the register write
 * returns, where masking and pending bits apply; undoing it moves it back. */
static void test_direct_irqfd_follows_mask(void **state)
{
    struct pctx *p = *state;
    struct fake_net *t = &p->c;
    unsigned cap = p->vp.msix.cap;
    pci_device_config_write(&p->vp.pci, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    int irq1 = vector_setup(p, 1, false), irq2 = vector_setup(p, 2, false);
    assert_true(irq1 >= 0 && irq2 >= 0 && irq1 != irq2);
    assert_int_equal(fnet_start(t, BASE_F | BIT(VIRTIO_NET_F_NOTF_COAL)), FNET_ALL_OK);
    struct fake_offload *fo = fo_of(t);
    int own[2] = { fo->cfg.vrings[0].call_fd, fo->cfg.vrings[1].call_fd };
    assert_true(own[0] != irq1 && own[1] != irq2);      /* no vector yet: vpf's */
    queue_vector(p, VIRTIO_NET_RXQ, 1);
    queue_vector(p, VIRTIO_NET_TXQ, 2);
    assert_int_equal(fo->call[0], irq1);
    assert_int_equal(fo->call[1], irq2);

    vector_mask(p, 1, true);                             /* RX's vector masked */
    assert_int_equal(fo->call[0], own[0]);
    assert_int_equal(fo->call[1], irq2);
    signal_fd(own[0]);
    assert_true(wait_pending(p, 1));
    assert_int_equal(fired(irq1), 0);
    vector_mask(p, 1, false);                            /* fires once, back to KVM */
    assert_int_equal(fired(irq1), 1);
    assert_int_equal(fo->call[0], irq1);

    pci_device_config_write(&p->vp.pci, cap + PCI_MSIX_FLAGS, 2,
                            PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(fo->call[0], own[0]);
    assert_int_equal(fo->call[1], own[1]);
    pci_device_config_write(&p->vp.pci, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(fo->call[0], irq1);
    assert_int_equal(fo->call[1], irq2);

    /* Moderation holds RX's interrupts in vpf; TX's stay direct. */
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 8, 1000), VIRTIO_NET_OK);
    struct virtio_net_coalesce c;
    virtio_net_get_coalesce(t->n, &c);                  /* I/O thread round trip */
    assert_int_equal(fo->call[0], own[0]);
    assert_int_equal(fo->call[1], irq2);
    assert_int_equal(fnet_coal_set(t, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 0, 0), VIRTIO_NET_OK);
    virtio_net_get_coalesce(t->n, &c);
    assert_int_equal(fo->call[0], irq1);

    queue_vector(p, VIRTIO_NET_TXQ, VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(fo->call[1], own[1]);
    pci_device_config_write(&p->vp.pci, cap + PCI_MSIX_FLAGS, 2, 0);
    assert_int_equal(fo->call[0], own[0]);

    /* Stopped: nothing to move. */
    pci_device_config_write(&p->vp.pci, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(stops_after_reset(t), 1);
    int moves = fo->set_calls;
    vector_mask(p, 1, true);
    vector_mask(p, 1, false);
    assert_int_equal(fo->set_calls, moves);
    /* A restart hands the irqfd over at once where it is deliverable. */
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(fo->cfg.vrings[0].call_fd, irq1);
    assert_int_equal(fo->cfg.vrings[1].call_fd, own[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fnet_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_start_hands_over_rings),
        cmocka_unit_test(test_mq_pairs_each_offloaded),
        T(test_call_forwarded_kicks_left_alone),
        T(test_link_detaches),
        T(test_reset_stops_and_restart),
        T(test_backend_ring_error_needs_reset),
        T(test_needs_reset_events_limited),
        T(test_backend_broken_is_not_guest_error),
        T(test_device_link_changes),
        T(test_start_failure),
        T(test_ctrl_stays_in_vpf),
        T(test_moderation_holds_backend_signals),
        cmocka_unit_test_setup_teardown(test_masked_vector_holds_backend_interrupt, setup_pci,
                                        teardown_pci),
        cmocka_unit_test_setup_teardown(test_direct_irqfd_follows_mask, setup_pci_direct,
                                        teardown_pci),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
