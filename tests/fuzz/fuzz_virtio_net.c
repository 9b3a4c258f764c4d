/* libFuzzer target: arbitrary bytes as guest memory + queue layout + a script of device
 * operations, driving virtio-net's TX, RX and control paths over socketpair backends.
 *
 * Input: one byte picking the device (1 to MAXP queue pairs, VIRTIO_NET_F_MQ offered from
 * 2), struct fuzz_hdr, then the script (hdr.script_len bytes), then guest RAM (64 KiB,
 * zero-padded). The devices are created once; each input resets one, reloads guest RAM,
 * negotiates, enables every queue the device has (2N + 1: the control queue's layout at
 * 2N with MQ negotiated, at 2 without, pairs' rings each in their own 8 KiB window; the
 * transport's checks are skipped on purpose: the device must survive any ring placement
 * virtq_start() accepts) and runs the script, each queue's run on its own thread (pair
 * k's on the pair's I/O thread, the control queue on the device's) via iothread_call.
 *
 * Oracle beyond the sanitizers, after every operation: the device is failed, or
 * 1 <= virtio_net_active_pairs() <= N and exactly pairs 0..active-1 are in use; a
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET(k) acked VIRTIO_NET_OK leaves exactly k in use, and
 * one answered VIRTIO_NET_ERR changes nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/virtio_ring.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "net/vnet.h"

#define RAM_SIZE (64 * 1024)
#define RING_WINDOW (8 * 1024)     /* aligned-mode ring addresses land where input bytes are */
#define RAM2_GPA 0x100000ull        /* a second, separate region: buffers may not straddle */
#define RAM2_SIZE 4096
#define MAXP 4                      /* devices with 1..MAXP pairs */
#define SCRATCH 0xf000u             /* our control commands (above every aligned ring) */

struct fuzz_hdr {
    uint64_t features;
    uint8_t qlog2[3];               /* queue size = 1 << (qlog2 % 9) */
    uint8_t script_len;
    uint32_t desc[3], avail[3], used[3];
};

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t ram2[RAM2_SIZE];
static struct guest_mem mem;
static struct virtio_net *nets[MAXP];      /* nets[i]: i + 1 pairs */
static int peers[MAXP][MAXP];              /* the loop backends' other ends, by pair */
static struct virtio_net *net;             /* this input's device */
static unsigned np;                        /* its pairs */
static struct fuzz_hdr h;

static void irq_queue(void *o, unsigned q) {}
static void irq_config(void *o) {}
static const struct virtio_irq_ops irq_ops = { irq_queue, irq_config, NULL };

static _Noreturn void oracle_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void oracle_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_virtio_net oracle (%u pairs): ", np);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* The loop backend with queues that attach and detach as a multi-queue tap's do
 * (TUNSETQUEUE), and refuse to attach while refuse_attach is set (op 6). */
static struct net_backend_ops mq_loop_ops;
static bool refuse_attach;

static int mq_loop_set_queue(struct net_backend *be, bool on)
{
    return on && refuse_attach ? -1 : 0;
}

static void init_once(void)
{
    log_threshold = LOG_ERROR;      /* guest errors are the normal case here */
    guest_mem_add(&mem, 0, RAM_SIZE, ram);
    guest_mem_add(&mem, RAM2_GPA, RAM2_SIZE, ram2);
    for (unsigned d = 0; d < MAXP; d++) {
        struct net_backend *be[MAXP];
        for (unsigned k = 0; k <= d; k++) {
            be[k] = loop_open(&peers[d][k]);
            if (!mq_loop_ops.type) {
                mq_loop_ops = *be[k]->ops;
                mq_loop_ops.set_queue_enabled = mq_loop_set_queue;
            }
            be[k]->ops = &mq_loop_ops;
        }
        const uint8_t mac[6] = { 0x52, 0x54, 0, 0, 0, (uint8_t)(1 + d) };
        char name[16];
        snprintf(name, sizeof(name), "fz%u", d + 1);
        nets[d] = virtio_net_create_mq(name, &mem, be, d + 1, mac, NULL, 0);
        if (!nets[d])
            abort();
        virtio_dev_set_irq(virtio_net_vdev(nets[d]), &irq_ops, NULL);
    }
}

static void drain(int fd)
{
    static uint8_t buf[70000];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
}

static void drain_peers(void)
{
    for (unsigned k = 0; k < np; k++)
        drain(peers[np - 1][k]);
}

static struct iothread *q_thread(unsigned q)
{
    return q < 2 * np && q != net->dp.ctrlq ? net->pairs[q / 2].io : &net->io;
}

struct q_arg {
    unsigned q;
};

static void run_q(void *arg) { vnet_io_run(net, ((struct q_arg *)arg)->q); }

/* A run of queue q on the thread that owns it. */
static void run_queue(unsigned q)
{
    struct q_arg a = { q };
    iothread_call(q_thread(q), run_q, &a);
}

static void step_all(void)
{
    for (unsigned k = 0; k < np; k++) {
        run_queue(vnet_txq(k));
        run_queue(vnet_rxq(k));
    }
    if (net->dp.ctrlq < 2 * np + 1)
        run_queue(net->dp.ctrlq);
}

static void drain_backend(void *arg)
{
    struct vnet_pair *p = arg;
    drain(p->be->fd);
}

/* ---- the multi-queue oracle ---- */

struct pair_q {
    struct vnet_pair *p;
    bool active;
};

static void read_active(void *arg)
{
    struct pair_q *a = arg;
    a->active = a->p->active;
}

/* Failed, or pairs 0..active-1 in use and no other. */
static void check_pairs(const char *after)
{
    if (virtio_dev_failed(virtio_net_vdev(net)))
        return;
    unsigned cur = virtio_net_active_pairs(net);
    if (cur < 1 || cur > np)
        oracle_fail("%u pairs active after %s", cur, after);
    for (unsigned k = 0; k < np; k++) {
        struct pair_q a = { &net->pairs[k], false };
        iothread_call(net->pairs[k].io, read_active, &a);
        if (a.active != (k < cur))
            oracle_fail("pair %u %s with %u active after %s", k, a.active ? "in use" : "idle", cur,
                        after);
    }
}

static uint8_t *ram_at(uint64_t gpa, uint64_t len)
{
    if (gpa < RAM_SIZE && len <= RAM_SIZE - gpa)
        return ram + gpa;
    return NULL;
}

struct mq_call {
    uint8_t cmd;
    uint8_t data[2];
    uint32_t len;
    uint8_t ack;
};

static void do_ctrl_mq(void *arg)
{
    struct mq_call *c = arg;
    /* What the control queue does with the command: only while it runs. */
    if (net->dp.running && net->vdev.vqs[net->dp.ctrlq].started)
        c->ack = vnet_ctrl_mq(net, c->cmd, c->data, c->len);
}

/* VIRTIO_NET_CTRL_MQ command straight into the handler, on the device's thread. */
static void ctrl_mq_direct(uint8_t cmd, uint16_t k, uint32_t len)
{
    unsigned before = virtio_net_active_pairs(net);
    struct mq_call c = { cmd, { (uint8_t)k, (uint8_t)(k >> 8) }, len, 0xff };
    iothread_call(&net->io, do_ctrl_mq, &c);
    if (virtio_dev_failed(virtio_net_vdev(net)) || c.ack == 0xff)
        return;
    unsigned now = virtio_net_active_pairs(net);
    if (c.ack == VIRTIO_NET_OK && now != k)
        oracle_fail("VQ_PAIRS_SET(%u) acked, %u pairs active", k, now);
    if (c.ack != VIRTIO_NET_OK && now != before)
        oracle_fail("VQ_PAIRS_SET(%u) refused, active pairs %u -> %u", k, before, now);
    if (c.ack == VIRTIO_NET_OK && (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != 2 ||
                                   !vnet_has(net, VIRTIO_NET_F_MQ) || k < 1 || k > np))
        oracle_fail("VQ_PAIRS_SET(%u) cmd %u len %u acked", k, cmd, len);
    check_pairs("VQ_PAIRS_SET");
}

/* The same through the control ring as a driver puts it there: { class, cmd, le16 k }
 * readable, then the ack writable, after the device consumed what was queued. Skipped
 * when the ring is not where we can write it. */
static void ctrl_mq_ring(uint16_t k)
{
    struct virtio_dev *dev = virtio_net_vdev(net);
    unsigned q = net->dp.ctrlq;
    if (q >= 2 * np + 1 || !dev->vqs[q].started)
        return;
    run_queue(q);               /* whatever the fuzzed ring holds first */
    struct virtq *vq = &dev->vqs[q];
    uint16_t size = vq->size;
    if (size < 2 || virtio_dev_failed(dev))
        return;
    uint8_t *desc = ram_at(vq->desc_gpa, 16ull * size);
    uint8_t *avail = ram_at(vq->avail_gpa, 4 + 2ull * size);
    if (!desc || !avail || vq->desc_gpa + 16ull * size > SCRATCH ||
        vq->avail_gpa + 4 + 2ull * size > SCRATCH || vq->used_gpa + 4 + 8ull * size > SCRATCH)
        return;
    unsigned before = virtio_net_active_pairs(net);
    uint16_t last = vq->last_avail;
    uint8_t *cmd = ram + SCRATCH;
    cmd[0] = VIRTIO_NET_CTRL_MQ;
    cmd[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
    st_le16(cmd + 2, k);
    cmd[4] = 0xff;
    uint16_t head = last % size, next = (uint16_t)((head + 1) % size);
    uint8_t *d0 = desc + 16 * head, *d1 = desc + 16 * next;
    st_le64(d0, SCRATCH);
    st_le32(d0 + 8, 4);
    st_le16(d0 + 12, VRING_DESC_F_NEXT);
    st_le16(d0 + 14, next);
    st_le64(d1, SCRATCH + 4);
    st_le32(d1 + 8, 1);
    st_le16(d1 + 12, VRING_DESC_F_WRITE);
    st_le16(d1 + 14, 0);
    st_le16(avail + 4 + 2 * (last % size), head);
    __atomic_store_n((uint16_t *)(avail + 2), (uint16_t)(last + 1), __ATOMIC_RELEASE);
    run_queue(q);
    if (virtio_dev_failed(dev) || cmd[4] == 0xff || ld_le16(cmd + 2) != k ||
        vq->last_avail != last + 1)
        return;                 /* not ours, or something else wrote there: no verdict */
    unsigned now = virtio_net_active_pairs(net);
    bool ok_expected = vnet_has(net, VIRTIO_NET_F_MQ) && k >= 1 && k <= np;
    if (cmd[4] == VIRTIO_NET_OK && (now != k || !ok_expected))
        oracle_fail("ring VQ_PAIRS_SET(%u) acked, %u pairs active (before %u)", k, now, before);
    if (cmd[4] != VIRTIO_NET_OK && now != before)
        oracle_fail("ring VQ_PAIRS_SET(%u) refused, active pairs %u -> %u", k, before, now);
    check_pairs("ring VQ_PAIRS_SET");
}

/* ---- the device brought up as the header says ---- */

static uint64_t ring_addr(uint32_t v, unsigned k, uint32_t align_mask)
{
    /* Top bit set: the raw value (any address, any alignment); else a properly aligned
     * address inside pair k's window, so most inputs get past virtq_start(). */
    return v >> 31 ? v & 0x7fffffff : k * RING_WINDOW + ((v % RING_WINDOW) & align_mask);
}

static void setup_queue(unsigned q)
{
    struct virtio_dev *dev = virtio_net_vdev(net);
    bool mq = virtio_has_feature(dev->features, VIRTIO_NET_F_MQ);
    unsigned ctrlq = mq ? 2 * np : VIRTIO_NET_CTRLQ;
    unsigned l = q == ctrlq ? 2 : q & 1, k = q == ctrlq ? 0 : q / 2;
    struct virtq *vq = &dev->vqs[q];
    vq->size = (uint16_t)(1u << (h.qlog2[l] % 9));
    vq->desc_gpa = ring_addr(h.desc[l], k, ~15u);
    vq->avail_gpa = ring_addr(h.avail[l], k, ~1u);
    vq->used_gpa = ring_addr(h.used[l], k, ~3u);
    virtio_dev_enable_queue(dev, q);
}

static const uint8_t ST_FOK = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK;

static void bring_up(uint64_t features)
{
    struct virtio_dev *dev = virtio_net_vdev(net);
    virtio_dev_set_status(dev, 0);
    for (unsigned k = 0; k < np; k++)
        iothread_call(net->pairs[k].io, drain_backend, &net->pairs[k]);
    drain_peers();
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(dev, 0, (uint32_t)features);
    virtio_dev_write_driver_features(dev, 1, (uint32_t)(features >> 32));
    virtio_dev_set_status(dev, ST_FOK);
    for (unsigned q = 0; q < 2 * np + 1; q++)
        setup_queue(q);
    virtio_dev_set_status(dev, ST_FOK | VIRTIO_STATUS_DRIVER_OK);
}

/* op 6: the multi-queue and status operations, by (op >> 3) & 3; a = op >> 5. */
static void mq_op(uint8_t op, uint8_t arg)
{
    struct virtio_dev *dev = virtio_net_vdev(net);
    unsigned a = op >> 5;
    switch ((op >> 3) & 3) {
    case 0:
        if ((a & 6) == 6)
            refuse_attach = !refuse_attach;     /* the backend's attach fails or works */
        else if (a & 4)
            drain_peers();
        else    /* VQ_PAIRS_SET(any) through the ring; arg 0xff: a full 16-bit value */
            ctrl_mq_ring(arg == 0xff ? (uint16_t)(a << 13 | 0x1fff) : arg % (np + 2));
        break;
    case 1:     /* straight into the handler: any command, value, length */
        ctrl_mq_direct(a & 4 ? arg & 7 : VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                       a & 2 ? (uint16_t)(arg * 257) : arg % (np + 2), a & 1 ? arg % 4 : 2);
        break;
    case 2: {   /* a kick of any queue index through its eventfd (past the last: none) */
        unsigned q = arg % (2 * MAXP + 2);
        if (q < dev->ops->num_queues) {
            uint64_t one = 1;
            if (write(dev->kick_fds[q], &one, sizeof(one)) < 0) {
                /* saturated: a kick is pending anyway */
            }
        }
        /* And a run of it on its thread (past the pairs: the device's), which must do
         * nothing for an index the device does not run. */
        if (a & 1)
            run_queue(q);
        break;
    }
    default:    /* status: reset, DRIVER_OK off and on, queue setup late */
        switch (a) {
        case 0:
            bring_up(h.features ^ ((uint64_t)arg << 16));  /* reset while pairs run */
            break;
        case 1:
            virtio_dev_set_status(dev, ST_FOK);
            virtio_dev_set_status(dev, ST_FOK | VIRTIO_STATUS_DRIVER_OK);
            break;
        case 2:
            virtio_dev_set_status(dev, (uint8_t)(virtio_dev_get_status(dev) ^ arg));
            break;
        case 3:
            virtio_dev_set_status(dev, 0);
            break;
        case 4:  /* a queue (an inactive pair's too) set up and enabled after DRIVER_OK */
            setup_queue(arg % (2 * np + 1));
            break;
        default:
            step_all();
            break;
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nets[0])
        init_once();
    if (size < 1 + sizeof(h))
        return 0;
    np = 1 + data[0] % MAXP;
    refuse_attach = false;
    net = nets[np - 1];
    memcpy(&h, data + 1, sizeof(h));
    data += 1 + sizeof(h);
    size -= 1 + sizeof(h);
    size_t slen = h.script_len < size ? h.script_len : size;
    const uint8_t *script = data;
    data += slen;
    size -= slen;
    /* The device stops before its RAM changes under it. */
    virtio_dev_set_status(virtio_net_vdev(net), 0);
    memset(ram, 0, sizeof(ram));
    memset(ram2, 0, sizeof(ram2));
    memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    if (size > RAM_SIZE)
        memcpy(ram2, data + RAM_SIZE, size - RAM_SIZE < RAM2_SIZE ? size - RAM_SIZE : RAM2_SIZE);
    virtio_net_set_link(net, true);
    bring_up(h.features);
    check_pairs("DRIVER_OK");

    /* Script: op byte, some ops take an argument byte. Packets to inject come from guest
     * RAM contents (any bytes) so the vnet header is fuzzed too. */
    for (size_t i = 0; i < slen; i++) {
        uint8_t op = script[i];
        switch (op & 7) {
        case 0:
            run_queue(vnet_txq((op >> 3) % np));
            break;
        case 1:
            run_queue(vnet_rxq((op >> 3) % np));
            break;
        case 2:
            if (net->dp.ctrlq < 2 * np + 1)
                run_queue(net->dp.ctrlq);
            break;
        case 3: {               /* inject a packet of (op >> 3) * 97 + 1 bytes to a pair */
            size_t len = (size_t)(op >> 3) * 97 + 1;
            send(peers[np - 1][i % np], ram + (i * 131) % (RAM_SIZE - len), len, MSG_DONTWAIT);
            break;
        }
        case 4: {               /* a big (GSO-sized) packet */
            static uint8_t big[66000];
            send(peers[np - 1][(op >> 3) % np], big, sizeof(big) - (op >> 3), MSG_DONTWAIT);
            break;
        }
        case 5:
            if (op & 16) {      /* host port: VLAN 100 on or off (tagging/stripping paths) */
                struct virtio_net_port p;
                virtio_net_get_port(net, &p);
                p.vlan = op & 8 ? 100 : 0;
                virtio_net_set_port(net, &p);
            } else {
                virtio_net_set_link(net, op & 8);
            }
            break;
        case 6: {
            uint8_t arg = i + 1 < slen ? script[++i] : 0;
            mq_op(op, arg);
            check_pairs("an operation");
            break;
        }
        default:
            step_all();
            break;
        }
    }
    step_all();
    check_pairs("the script");
    drain_peers();
    return 0;
}
