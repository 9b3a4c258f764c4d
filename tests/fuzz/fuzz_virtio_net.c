/* libFuzzer target: arbitrary bytes as guest memory + queue layout + a script of device
 * operations, driving virtio-net's TX, RX and control paths over a socketpair backend.
 *
 * Input: struct fuzz_hdr, then the script (hdr.script_len bytes), then guest RAM (64 KiB,
 * zero-padded). The device is created once; each input resets it, reloads guest RAM,
 * negotiates, enables the queues (the transport's checks are skipped on purpose: the
 * device must survive any ring placement virtq_start() accepts) and runs the script on
 * the device's I/O thread via iothread_call, so runs are serialised with the data path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "net/vnet.h"

#define RAM_SIZE (64 * 1024)
#define RING_WINDOW (8 * 1024)     /* aligned-mode ring addresses land where input bytes are */
#define RAM2_GPA 0x100000ull        /* a second, separate region: buffers may not straddle */
#define RAM2_SIZE 4096

struct fuzz_hdr {
    uint64_t features;
    uint8_t qlog2[3];               /* queue size = 1 << (qlog2 % 9) */
    uint8_t script_len;
    uint32_t desc[3], avail[3], used[3];
};

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t ram2[RAM2_SIZE];
static struct guest_mem mem;
static struct virtio_net *net;
static int peer = -1;

static void irq_queue(void *o, unsigned q) {}
static void irq_config(void *o) {}
static const struct virtio_irq_ops irq_ops = { irq_queue, irq_config, NULL };

static void init_once(void)
{
    log_threshold = LOG_ERROR;      /* guest errors are the normal case here */
    guest_mem_add(&mem, 0, RAM_SIZE, ram);
    guest_mem_add(&mem, RAM2_GPA, RAM2_SIZE, ram2);
    struct net_backend *be = loop_open(&peer);
    const uint8_t mac[6] = { 0x52, 0x54, 0, 0, 0, 1 };
    net = virtio_net_create("fuzz-net", &mem, be, mac, NULL, 0);
    if (!net)
        abort();
    virtio_dev_set_irq(virtio_net_vdev(net), &irq_ops, NULL);
}

static void drain(int fd)
{
    static uint8_t buf[70000];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
}

static void step(void *arg)
{
    struct virtio_net *n = arg;
    vnet_io_run(n, VIRTIO_NET_TXQ);
    vnet_io_run(n, VIRTIO_NET_RXQ);
    vnet_io_run(n, VIRTIO_NET_CTRLQ);
}

static void step_rx(void *arg) { vnet_io_run(arg, VIRTIO_NET_RXQ); }
static void step_tx(void *arg) { vnet_io_run(arg, VIRTIO_NET_TXQ); }
static void step_ctrl(void *arg) { vnet_io_run(arg, VIRTIO_NET_CTRLQ); }

static void drain_backend(void *arg)
{
    struct virtio_net *n = arg;
    drain(n->be->fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net)
        init_once();
    struct fuzz_hdr h;
    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    data += sizeof(h);
    size -= sizeof(h);
    size_t slen = h.script_len < size ? h.script_len : size;
    const uint8_t *script = data;
    data += slen;
    size -= slen;
    memset(ram, 0, sizeof(ram));
    memset(ram2, 0, sizeof(ram2));
    memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    if (size > RAM_SIZE)
        memcpy(ram2, data + RAM_SIZE, size - RAM_SIZE < RAM2_SIZE ? size - RAM_SIZE : RAM2_SIZE);

    struct virtio_dev *dev = virtio_net_vdev(net);
    virtio_dev_set_status(dev, 0);
    iothread_call(&net->io, drain_backend, net);
    drain(peer);
    virtio_net_set_link(net, true);

    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(dev, 0, (uint32_t)h.features);
    virtio_dev_write_driver_features(dev, 1, (uint32_t)(h.features >> 32));
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < VIRTIO_NET_NUM_QUEUES; q++) {
        struct virtq *vq = &dev->vqs[q];
        vq->size = (uint16_t)(1u << (h.qlog2[q] % 9));
        /* Top bit set: the raw value (any address, any alignment); else a properly
         * aligned address inside RAM, so most inputs get past virtq_start(). */
        vq->desc_gpa = h.desc[q] >> 31 ? h.desc[q] & 0x7fffffff : (h.desc[q] % RING_WINDOW) & ~15u;
        vq->avail_gpa = h.avail[q] >> 31 ? h.avail[q] & 0x7fffffff
                                         : (h.avail[q] % RING_WINDOW) & ~1u;
        vq->used_gpa = h.used[q] >> 31 ? h.used[q] & 0x7fffffff : (h.used[q] % RING_WINDOW) & ~3u;
        virtio_dev_enable_queue(dev, q);
    }
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);

    /* Script: op byte, some ops take arguments. Packets to inject come from guest RAM
     * contents (any bytes) so the vnet header is fuzzed too. */
    for (size_t i = 0; i < slen; i++) {
        uint8_t op = script[i];
        switch (op & 7) {
        case 0:
            iothread_call(&net->io, step_tx, net);
            break;
        case 1:
            iothread_call(&net->io, step_rx, net);
            break;
        case 2:
            iothread_call(&net->io, step_ctrl, net);
            break;
        case 3: {               /* inject a packet of (op >> 3) * 97 + 1 bytes */
            size_t len = (size_t)(op >> 3) * 97 + 1;
            send(peer, ram + (i * 131) % (RAM_SIZE - len), len, MSG_DONTWAIT);
            break;
        }
        case 4: {               /* a big (GSO-sized) packet */
            static uint8_t big[66000];
            send(peer, big, sizeof(big) - (op >> 3), MSG_DONTWAIT);
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
        case 6:
            drain(peer);
            break;
        default:
            iothread_call(&net->io, step, net);
            break;
        }
    }
    iothread_call(&net->io, step, net);
    drain(peer);
    return 0;
}
