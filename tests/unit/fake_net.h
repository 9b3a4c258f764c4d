/* Test helper: a fake guest driving a virtio-net device as its driver would (features, the
 * RX/TX/control queues, DRIVER_OK, kicks), with the device's interrupts counted. The
 * device's I/O thread runs for real, so results are awaited with a timeout. Header-only;
 * include after <cmocka.h>. Used by the virtio-net unit tests. */
#ifndef VPF_TESTS_FAKE_NET_H
#define VPF_TESTS_FAKE_NET_H

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "fake_guest.h"
#include "net/virtio_net.h"

#define FNET_QSZ 16
/* The status after a successful fnet_start. */
#define FNET_ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
                     VIRTIO_STATUS_DRIVER_OK)

struct fake_net {
    struct fake_guest g;
    struct fake_vq q[VIRTIO_MAX_QUEUES];    /* RX, TX[, RX1, TX1...], control */
    unsigned nq;                    /* queues: 2 * pairs + 1 */
    unsigned ctrlq;                 /* the control queue's index (2, or nq - 1 with MQ) */
    struct virtio_net *n;
    struct virtio_dev *dev;
    struct net_backend *be;         /* owned by n (pair 0's) */
    int peer;                       /* host end of the loop backend's socketpair, else -1 */
    int peers[VIRTIO_NET_MAX_PAIRS];    /* fnet_init_loop_mq: each pair's host end */
    int irqs[VIRTIO_MAX_QUEUES], config_irqs;   /* bumped on the I/O thread: fnet_count() */
};

static inline uint64_t fnet_mono_ms(void) { return monotonic_ns() / NSEC_PER_MSEC; }

static inline int fnet_count(int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

/* Waits (up to 2 s) for a counter to reach v; true if it did. */
static inline int fnet_wait_count(int *p, int v)
{
    for (int i = 0; i < 2000 && fnet_count(p) != v; i++)
        usleep(1000);
    return fnet_count(p) == v;
}

static inline void fnet_irq_queue(void *o, unsigned q)
{
    __atomic_fetch_add(&((struct fake_net *)o)->irqs[q], 1, __ATOMIC_SEQ_CST);
}
static inline void fnet_irq_config(void *o)
{
    __atomic_fetch_add(&((struct fake_net *)o)->config_irqs, 1, __ATOMIC_SEQ_CST);
}
static const struct virtio_irq_ops fnet_irq_ops = { fnet_irq_queue, fnet_irq_config, NULL };

/* A device over be (which it then owns) with its interrupts counted in t; a transport set
 * up afterwards (virtio_pci_init) takes the interrupts over. */
static inline void fnet_init_mq(struct fake_net *t, const char *name, struct net_backend **be,
                                unsigned npairs, const uint8_t mac[6])
{
    fg_init(&t->g);
    t->nq = 2 * npairs + 1;
    t->ctrlq = 2;
    for (unsigned i = 0; i < t->nq; i++)
        fvq_init(&t->q[i], &t->g, FNET_QSZ);
    t->be = be[0];
    t->peer = -1;
    char err[128] = "";
    t->n = virtio_net_create_mq(name, &t->g.mem, be, npairs, mac, err, sizeof(err));
    if (!t->n)
        fail_msg("virtio_net_create_mq: %s", err);
    t->dev = virtio_net_vdev(t->n);
    virtio_dev_set_irq(t->dev, &fnet_irq_ops, t);
}

static inline void fnet_init(struct fake_net *t, const char *name, struct net_backend *be,
                             const uint8_t mac[6])
{
    fnet_init_mq(t, name, &be, 1, mac);
}

/* npairs loop backends, pair k's host end on t->peers[k] (t->peer: pair 0's). */
static inline void fnet_init_loop_mq(struct fake_net *t, const char *name, unsigned npairs,
                                     const uint8_t mac[6])
{
    struct net_backend *be[VIRTIO_NET_MAX_PAIRS];
    for (unsigned k = 0; k < npairs; k++) {
        be[k] = loop_open(&t->peers[k]);
        assert_non_null(be[k]);
    }
    fnet_init_mq(t, name, be, npairs, mac);
    t->peer = t->peers[0];
}

/* The same over the loop backend; the test plays the host side on t->peer. */
static inline void fnet_init_loop(struct fake_net *t, const char *name, const uint8_t mac[6])
{
    int peer;
    struct net_backend *be = loop_open(&peer);
    assert_non_null(be);
    fnet_init(t, name, be, mac);
    t->peer = peer;
}

static inline void fnet_destroy(struct fake_net *t)
{
    virtio_net_destroy(t->n);
    for (unsigned k = 1; k < t->nq / 2; k++)
        close(t->peers[k]);
    if (t->peer >= 0)
        close(t->peer);
    fg_free(&t->g);
}

/* cmocka teardown for a state that is a calloc'd, fnet_init'ed fake_net. */
static inline int fnet_teardown(void **state)
{
    fnet_destroy(*state);
    free(*state);
    return 0;
}

/* Resets the device, negotiates features f, sets up the three queues on fresh rings,
 * DRIVER_OK. Returns the status: without FEATURES_OK where the device refused f. */
static inline uint8_t fnet_start(struct fake_net *t, uint64_t f)
{
    virtio_dev_set_status(t->dev, 0);
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(t->dev, 0, (uint32_t)f);
    virtio_dev_write_driver_features(t->dev, 1, (uint32_t)(f >> 32));
    virtio_dev_set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                      VIRTIO_STATUS_FEATURES_OK);
    if (!(virtio_dev_get_status(t->dev) & VIRTIO_STATUS_FEATURES_OK))
        return virtio_dev_get_status(t->dev);
    t->ctrlq = (f & (1ull << VIRTIO_NET_F_MQ)) ? t->nq - 1 : 2;
    for (unsigned i = 0; i < t->nq; i++) {
        struct virtq *vq = &t->dev->vqs[i];
        memset(fg_ptr(&t->g, t->q[i].avail), 0, 6 + 2 * FNET_QSZ);
        memset(fg_ptr(&t->g, t->q[i].used), 0, 6 + 8 * FNET_QSZ);
        t->q[i].avail_idx = t->q[i].last_used = 0;
        vq->size = FNET_QSZ;
        vq->desc_gpa = t->q[i].desc;
        vq->avail_gpa = t->q[i].avail;
        vq->used_gpa = t->q[i].used;
        assert_int_equal(virtio_dev_enable_queue(t->dev, i), 0);
    }
    virtio_dev_set_status(t->dev, FNET_ALL_OK);
    return virtio_dev_get_status(t->dev);
}

static inline void fnet_kick(struct fake_net *t, unsigned q)
{
    uint64_t one = 1;
    assert_int_equal(write(t->dev->kick_fds[q], &one, 8), 8);
}

/* The used index as the I/O thread publishes it (an acquire load, unlike fvq_used_idx). */
static inline uint16_t fnet_used_idx(struct fake_net *t, unsigned q)
{
    return __atomic_load_n((uint16_t *)fg_ptr(&t->g, t->q[q].used + 2), __ATOMIC_ACQUIRE);
}

/* Waits (up to 2 s) for queue q's used index to reach idx; true if it did. */
static inline int fnet_wait_used(struct fake_net *t, unsigned q, uint16_t idx)
{
    for (int i = 0; i < 2000; i++) {
        if (fnet_used_idx(t, q) == idx)
            return 1;
        usleep(1000);
    }
    return 0;
}

/* Sends a control command (class, cmd, data) and returns the ack. */
static inline int fnet_ctrl(struct fake_net *t, uint8_t cls, uint8_t cmd, const void *data,
                            uint32_t len)
{
    static uint16_t n;
    uint8_t *hdr = fg_ptr(&t->g, 0x50000);
    hdr[0] = cls;
    hdr[1] = cmd;
    if (len)
        memcpy(fg_ptr(&t->g, 0x50100), data, len);
    uint8_t *ack = fg_ptr(&t->g, 0x50f00);
    *ack = 0xcc;
    uint16_t d = (uint16_t)((n * 3) % FNET_QSZ);
    if (len) {
        fvq_desc(&t->q[t->ctrlq], d, 0x50000, 2, VRING_DESC_F_NEXT, (d + 1) % FNET_QSZ);
        fvq_desc(&t->q[t->ctrlq], (d + 1) % FNET_QSZ, 0x50100, len, VRING_DESC_F_NEXT,
                 (d + 2) % FNET_QSZ);
    } else {
        fvq_desc(&t->q[t->ctrlq], d, 0x50000, 2, VRING_DESC_F_NEXT, (d + 2) % FNET_QSZ);
    }
    fvq_desc(&t->q[t->ctrlq], (d + 2) % FNET_QSZ, 0x50f00, 1, VRING_DESC_F_WRITE, 0);
    n++;
    uint16_t want = (uint16_t)(fnet_used_idx(t, t->ctrlq) + 1);
    fvq_publish(&t->q[t->ctrlq], d);
    fnet_kick(t, t->ctrlq);
    if (!fnet_wait_used(t, t->ctrlq, want))
        return -1;
    return *ack;
}

/* VIRTIO_NET_CTRL_NOTF_COAL_{RX,TX}_SET { le32 max_packets; le32 usecs; }: the ack. */
static inline int fnet_coal_set(struct fake_net *t, uint8_t cmd, uint32_t max_packets,
                                uint32_t usecs)
{
    uint8_t b[8];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(max_packets >> (8 * i));
        b[4 + i] = (uint8_t)(usecs >> (8 * i));
    }
    return fnet_ctrl(t, VIRTIO_NET_CTRL_NOTF_COAL, cmd, b, 8);
}

#endif
