/* Multi-queue virtio-net (VIRTIO_NET_F_MQ, virtio 1.2 §5.1.6.5.5): the queues= and
 * vf-queues= options, the queue layout and config, VQ_PAIRS_SET's validation, and each
 * pair's data path starting and stopping with it, over one loop backend per pair. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "fake_net.h"
#include "net/net_opts.h"
#include "net/vnet.h"           /* white-box: vnet_ctrl_mq */

#define HDR 12
#define PAIRS 3

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* No MRG_RXBUF: one 2 KiB buffer takes a packet (with it, vpf waits for 64 KiB). */
#define BASE_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_CTRL_VQ))
#define MQ_F (BASE_F | BIT(VIRTIO_NET_F_MQ))

static int setup(void **state)
{
    struct fake_net *t = calloc(1, sizeof(*t));
    fnet_init_loop_mq(t, "mq-test", PAIRS, MAC);
    *state = t;
    return 0;
}

/* ---- options ---- */

static void expect_opt_error(const char *arg, const char *needle)
{
    struct net_opts o;
    char err[256] = "";
    assert_int_equal(net_opts_parse(arg, &o, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("'%s': error '%s' lacks '%s'", arg, err, needle);
}

static void test_opts_queues(void **state)
{
    struct net_opts o;
    char err[256];
    assert_int_equal(net_opts_parse("tap=t0", &o, err, sizeof(err)), 0);
    assert_int_equal(o.queues, 1);
    assert_int_equal(o.vf.vf_queues, 1);
    assert_int_equal(net_opts_parse("tap=t0,queues=4", &o, err, sizeof(err)), 0);
    assert_int_equal(o.queues, 4);
    assert_int_equal(net_opts_parse("tap=t0,queues=8,backend=vhost-net", &o, err, sizeof(err)), 0);
    assert_int_equal(o.queues, 8);
    expect_opt_error("tap=t0,queues=0", "queues='0'");
    expect_opt_error("tap=t0,queues=9", "from 1 to 8");
    expect_opt_error("tap=t0,queues=2x", "queues='2x'");
    expect_opt_error("tap=t0,queues=-1", "queues='-1'");
    expect_opt_error("tap=t0,queues=", "queues=''");
    /* One pair on a vDPA device: the error names the option. */
    expect_opt_error("backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-0,queues=2",
                     "queues=2 needs backend=tap, vhost-net or vhost-user");
    /* A vhost-user switch carries N pairs on its one connection. */
    assert_int_equal(net_opts_parse("backend=vhost-user,socket=/run/s.sock,queues=4", &o, err,
                                    sizeof(err)),
                     0);
    assert_int_equal(o.queues, 4);
    /* queues=1 is fine everywhere. */
    assert_int_equal(net_opts_parse("backend=vhost-user,socket=/run/s.sock,queues=1", &o, err,
                                    sizeof(err)),
                     0);
}

static void test_opts_vf_queues(void **state)
{
    struct net_opts o;
    char err[256];
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=4,vf-tap=v%d,vf-queues=4", &o, err,
                                    sizeof(err)),
                     0);
    assert_int_equal(o.vf.vf_queues, 4);
    assert_int_equal(o.queues, 1);
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=4,vf-tap=v%d,vf-backend=vhost-net,"
                                    "vf-queues=2",
                                    &o, err, sizeof(err)),
                     0);
    expect_opt_error("tap=t0,vf-queues=2", "need total-vfs=N");
    expect_opt_error("tap=t0,total-vfs=4,vf-tap=v%d,vf-queues=0", "vf-queues='0'");
    expect_opt_error("tap=t0,total-vfs=4,vf-tap=v%d,vf-queues=9", "from 1 to 8");
    expect_opt_error("tap=t0,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net,"
                     "vf-queues=2",
                     "vf-queues=2 needs vf-backend=tap, vhost-net or vhost-user");
    assert_int_equal(net_opts_parse("tap=t0,total-vfs=2,vf-backend=vhost-user,vf-socket=/s%d,"
                                    "vf-queues=2",
                                    &o, err, sizeof(err)),
                     0);
    assert_int_equal(o.vf.vf_queues, 2);
}

/* ---- layout, config, features ---- */

static void test_layout(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(t->dev->ops->num_queues, 2 * PAIRS + 1);
    assert_true(virtio_dev_read_device_features(t->dev, 0) & BIT(VIRTIO_NET_F_MQ));
    uint8_t b[2];
    virtio_dev_config_read(t->dev, offsetof(struct virtio_net_config, max_virtqueue_pairs), b, 2);
    assert_int_equal(ld_le16(b), PAIRS);
    assert_int_equal(virtio_net_queue_pairs(t->n), PAIRS);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    /* MQ needs the control queue (§5.1.3.1). */
    assert_int_equal(fnet_start(t, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MQ)) &
                         VIRTIO_STATUS_FEATURES_OK,
                     0);
    /* With MQ the control queue is the last (2N); without it, queue 2 (§5.1.2). */
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(t->n->dp.ctrlq, 2 * PAIRS);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(t->n->dp.ctrlq, 2);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\1", 1),
                     VIRTIO_NET_ERR);   /* answered on queue 2: CTRL_RX not negotiated */
}

static void test_single_pair_has_no_mq(void **state)
{
    struct fake_net t = { 0 };
    fnet_init_loop(&t, "sq-test", MAC);
    assert_int_equal(t.dev->ops->num_queues, 3);
    assert_false(virtio_dev_read_device_features(t.dev, 0) & BIT(VIRTIO_NET_F_MQ));
    fnet_destroy(&t);
}

static void test_create_refuses_bad_pairs(void **state)
{
    struct fake_guest g;
    fg_init(&g);
    int peer;
    struct net_backend *be[VIRTIO_NET_MAX_PAIRS + 1] = { loop_open(&peer) };
    char err[128];
    assert_null(virtio_net_create_mq("x", &g.mem, be, 0, MAC, err, sizeof(err)));
    assert_null(
        virtio_net_create_mq("x", &g.mem, be, VIRTIO_NET_MAX_PAIRS + 1, MAC, err, sizeof(err)));
    net_backend_close(be[0]);
    close(peer);
    fg_free(&g);
}

/* ---- VQ_PAIRS_SET ---- */

static int pairs_set(struct fake_net *t, uint16_t k)
{
    uint8_t b[2];
    st_le16(b, k);
    return fnet_ctrl(t, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b, 2);
}

static void test_pairs_set_validation(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 0), VIRTIO_NET_ERR);
    assert_int_equal(pairs_set(t, PAIRS + 1), VIRTIO_NET_ERR);
    assert_int_equal(pairs_set(t, 0x8000), VIRTIO_NET_ERR);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    assert_int_equal(pairs_set(t, PAIRS), VIRTIO_NET_OK);
    assert_int_equal(virtio_net_active_pairs(t->n), PAIRS);
    assert_int_equal(pairs_set(t, 1), VIRTIO_NET_OK);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    /* A wrong length or command: refused, nothing changes. */
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\2", 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(fnet_ctrl(t, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, "\2\0", 2),
                     VIRTIO_NET_ERR);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    /* A reset goes back to one pair. */
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
}

static void test_pairs_set_without_mq(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_ERR);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    /* The pure check, as the control queue calls it. */
    uint8_t b[2] = { 1, 0 };
    assert_int_equal(vnet_ctrl_mq(t->n, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b, 2), VIRTIO_NET_ERR);
}

/* ---- per-pair data path ---- */

static void inject(int peer, uint8_t fill)
{
    uint8_t pkt[HDR + 60] = { 0 };
    memset(pkt + HDR, fill, 60);
    assert_int_equal(send(peer, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
}

static void post_rx(struct fake_net *t, unsigned q, uint16_t id, uint64_t gpa)
{
    fvq_desc(&t->q[q], id, gpa, 2048, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[q], id);
    fnet_kick(t, q);
}

static void tx_frame(struct fake_net *t, unsigned q, uint16_t id, uint64_t gpa)
{
    memset(fg_ptr(&t->g, gpa), 0, HDR + 60);
    fvq_desc(&t->q[q], id, gpa, HDR + 60, 0, 0);
    fvq_publish(&t->q[q], id);
    fnet_kick(t, q);
}

static void test_pair_rx_follows_pairs_set(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    for (unsigned k = 0; k < PAIRS; k++)
        post_rx(t, vnet_rxq(k), 0, 0x80000 + 0x8000 * k);
    /* One pair in use: pair 1's backend is not read. */
    inject(t->peers[1], 0x11);
    usleep(50000);
    assert_int_equal(fnet_used_idx(t, vnet_rxq(1)), 0);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    assert_true(fnet_wait_used(t, vnet_rxq(1), 1));
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x88000 + HDR), 0x11);
    /* Pair 0 still receives; pair 2 is still off. */
    inject(t->peers[0], 0x22);
    assert_true(fnet_wait_used(t, vnet_rxq(0), 1));
    inject(t->peers[2], 0x33);
    usleep(50000);
    assert_int_equal(fnet_used_idx(t, vnet_rxq(2)), 0);
    struct virtio_net_queue_stats q;
    virtio_net_get_queue_stats(t->n, 1, &q);
    assert_int_equal(q.rx_packets, 1);
    assert_int_equal(q.rx_bytes, 60);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.rx_packets, 2);
    /* Back to one: pair 1 stops receiving. */
    assert_int_equal(pairs_set(t, 1), VIRTIO_NET_OK);
    post_rx(t, vnet_rxq(1), 1, 0x8c000);
    inject(t->peers[1], 0x44);
    usleep(50000);
    assert_int_equal(fnet_used_idx(t, vnet_rxq(1)), 1);
}

/* Loop backends whose queues refuse to attach (TUNSETQUEUE failing: the tap's queue
 * limit, a tap gone, ...) for pair attach_fails. */
static struct net_backend_ops refusing_ops;
static struct net_backend *attach_fails;

static int refusing_set_queue(struct net_backend *be, bool on)
{
    return on && be == attach_fails ? -1 : 0;
}

static int setup_refusing(void **state)
{
    struct fake_net *t = calloc(1, sizeof(*t));
    struct net_backend *be[PAIRS];
    for (unsigned k = 0; k < PAIRS; k++) {
        be[k] = loop_open(&t->peers[k]);
        assert_non_null(be[k]);
    }
    refusing_ops = *be[0]->ops;
    refusing_ops.set_queue_enabled = refusing_set_queue;
    for (unsigned k = 0; k < PAIRS; k++)
        be[k]->ops = &refusing_ops;
    attach_fails = NULL;
    fnet_init_mq(t, "mq-refuse", be, PAIRS, MAC);
    t->peer = t->peers[0];
    *state = t;
    return 0;
}

/* A VQ_PAIRS_SET a backend refuses is answered VIRTIO_NET_ERR and changes nothing: the
 * pairs in use stay those the driver had (Linux keeps its count on an error), none past
 * the refused one is polled, and the count says what is in use. */
static void test_pairs_set_backend_refuses(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    attach_fails = t->n->pairs[1].be;
    assert_int_equal(pairs_set(t, 3), VIRTIO_NET_ERR);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    for (unsigned k = 0; k < PAIRS; k++)
        post_rx(t, vnet_rxq(k), 0, 0x80000 + 0x8000 * k);
    inject(t->peers[2], 0x33);
    usleep(50000);
    assert_int_equal(fnet_used_idx(t, vnet_rxq(2)), 0);
    /* Pair 2 alone may come: still refused as a whole (1 and 2 or none). */
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_ERR);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
    /* The backend works again: all three. */
    attach_fails = NULL;
    assert_int_equal(pairs_set(t, 3), VIRTIO_NET_OK);
    assert_int_equal(virtio_net_active_pairs(t->n), 3);
    assert_true(fnet_wait_used(t, vnet_rxq(2), 1));
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
}

/* A guest repeating a VQ_PAIRS_SET the backend refuses does not flood the log: the
 * refusal's line is the device's guest-triggered kind, rate-limited. */
static void test_pairs_set_refusal_log_limited(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    attach_fails = t->n->pairs[1].be;
    FILE *f = tmpfile();
    assert_non_null(f);
    log_set_output(f);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pairs_set(t, 3), VIRTIO_NET_ERR);
    log_set_output(NULL);
    rewind(f);
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        lines += strstr(line, "queue pair") != NULL;
    fclose(f);
    assert_in_range(lines, 1, LOG_RATELIMIT_BURST + 1);
    assert_int_equal(virtio_net_active_pairs(t->n), 1);
}

static void test_pair_tx(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, PAIRS), VIRTIO_NET_OK);
    for (unsigned k = 0; k < PAIRS; k++)
        tx_frame(t, vnet_txq(k), 0, 0xa0000 + 0x1000 * k);
    for (unsigned k = 0; k < PAIRS; k++) {
        uint8_t buf[256];
        assert_int_equal(recv(t->peers[k], buf, sizeof(buf), 0), HDR + 60);
        assert_true(fnet_wait_used(t, vnet_txq(k), 1));
        assert_true(fnet_wait_count(&t->irqs[vnet_txq(k)], 1));
        struct virtio_net_queue_stats q;
        virtio_net_get_queue_stats(t->n, k, &q);
        assert_int_equal(q.tx_packets, 1);
    }
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_packets, PAIRS);
}

/* The host's spoof check holds on every transmit queue. */
static void test_pair_spoof_check(void **state)
{
    struct fake_net *t = *state;
    virtio_net_set_spoofchk(t->n, true);
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    tx_frame(t, vnet_txq(1), 0, 0xa0000);      /* source 00:00:00:00:00:00 */
    assert_true(fnet_wait_used(t, vnet_txq(1), 1));
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_spoofed, 1);
    assert_int_equal(s.tx_packets, 0);
}

/* A guest error on pair 1 stops the whole function, and a reset brings it back. */
static void test_pair_error_needs_reset(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    fvq_desc(&t->q[vnet_txq(1)], 0, 0xa0000, HDR + 60, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q[vnet_txq(1)], 0);
    fnet_kick(t, vnet_txq(1));
    for (int i = 0; i < 2000 && !virtio_dev_failed(t->dev); i++)
        usleep(1000);
    assert_true(virtio_dev_failed(t->dev));
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
}

/* The rate limit is one bucket for the function (1 Mbit/s: 125 000 B/s, a 65 566-byte
 * bucket): three 30 000-byte frames on each of two pairs. Each pair checks the bucket
 * before and charges it after a send, so the debt can reach one frame per pair; the
 * last frame still waits until at least four are paid for beyond the bucket:
 * (120 000 - 65 566) B / 125 000 B/s = 435 ms. */
static void test_pairs_share_rate_limit(void **state)
{
    struct fake_net *t = *state;
    struct virtio_net_port port;
    virtio_net_get_port(t->n, &port);
    port.max_tx_rate = 1;
    virtio_net_set_port(t->n, &port);
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    for (unsigned k = 0; k < 2; k++) {
        for (uint16_t i = 0; i < 3; i++) {
            uint64_t gpa = 0xa0000 + 0x8000 * (3 * k + i);
            memset(fg_ptr(&t->g, gpa), 0, HDR + 30000);
            fvq_desc(&t->q[vnet_txq(k)], i, gpa, HDR + 30000, 0, 0);
            fvq_publish(&t->q[vnet_txq(k)], i);
        }
    }
    uint64_t t0 = fnet_mono_ms();
    fnet_kick(t, vnet_txq(0));
    fnet_kick(t, vnet_txq(1));
    assert_true(fnet_wait_used(t, vnet_txq(0), 3));
    assert_true(fnet_wait_used(t, vnet_txq(1), 3));
    assert_true(fnet_mono_ms() - t0 >= 400);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_packets, 6);
}

/* The host's link holds on every pair: while it is down pair 1 neither receives nor
 * sends (its frame is dropped and counted); after link up it receives again. */
static void test_pair_link(void **state)
{
    struct fake_net *t = *state;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    virtio_net_set_link(t->n, false);
    post_rx(t, vnet_rxq(1), 0, 0x88000);
    inject(t->peers[1], 0x55);
    tx_frame(t, vnet_txq(1), 0, 0xa0000);
    assert_true(fnet_wait_used(t, vnet_txq(1), 1));
    usleep(50000);
    assert_int_equal(fnet_used_idx(t, vnet_rxq(1)), 0);
    struct virtio_net_stats s;
    virtio_net_get_stats(t->n, &s);
    assert_int_equal(s.tx_dropped, 1);
    assert_int_equal(s.tx_packets, 0);
    virtio_net_set_link(t->n, true);
    assert_true(fnet_wait_used(t, vnet_rxq(1), 1));
    assert_int_equal(*(uint8_t *)fg_ptr(&t->g, 0x88000 + HDR), 0x55);
}

/* The host's VLAN holds on every transmit queue: pair 1's frame leaves tagged. */
static void test_pair_vlan(void **state)
{
    struct fake_net *t = *state;
    struct virtio_net_port port;
    virtio_net_get_port(t->n, &port);
    port.vlan = 5;
    virtio_net_set_port(t->n, &port);
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(pairs_set(t, 2), VIRTIO_NET_OK);
    tx_frame(t, vnet_txq(1), 0, 0xa0000);
    uint8_t buf[256];
    assert_int_equal(recv(t->peers[1], buf, sizeof(buf), 0), HDR + 64);
    assert_int_equal(buf[HDR + 12], 0x81);
    assert_int_equal(buf[HDR + 15], 5);
}

/* With vpf's data path every pair after the first has its own I/O thread. */
static pthread_t ran_on;
static void record_thread(void *arg) { ran_on = pthread_self(); }

static void test_pairs_on_own_threads(void **state)
{
    struct fake_net *t = *state;
    pthread_t seen[PAIRS];
    for (unsigned k = 0; k < PAIRS; k++) {
        iothread_call(t->n->pairs[k].io, record_thread, NULL);
        seen[k] = ran_on;
    }
    assert_ptr_equal(t->n->pairs[0].io, &t->n->io);
    for (unsigned k = 0; k < PAIRS; k++)
        for (unsigned j = k + 1; j < PAIRS; j++)
            assert_false(pthread_equal(seen[k], seen[j]));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fnet_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_queues),
        cmocka_unit_test(test_opts_vf_queues),
        cmocka_unit_test(test_single_pair_has_no_mq),
        cmocka_unit_test(test_create_refuses_bad_pairs),
        T(test_layout),
        T(test_pairs_set_validation),
        T(test_pairs_set_without_mq),
        T(test_pair_rx_follows_pairs_set),
        T(test_pair_tx),
        T(test_pair_spoof_check),
        T(test_pair_error_needs_reset),
        T(test_pairs_on_own_threads),
        T(test_pair_vlan),
        T(test_pair_link),
        T(test_pairs_share_rate_limit),
        cmocka_unit_test_setup_teardown(test_pairs_set_backend_refuses, setup_refusing,
                                        fnet_teardown),
        cmocka_unit_test_setup_teardown(test_pairs_set_refusal_log_limited, setup_refusing,
                                        fnet_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
