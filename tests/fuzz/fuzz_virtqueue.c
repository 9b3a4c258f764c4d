/* libFuzzer target: the split virtqueue alone, single-threaded. Input: a queue layout,
 * then guest RAM. Pops every chain the "guest" published, checks the invariants the
 * device relies on (iovecs inside RAM, lengths add up), pushes them back, and exercises
 * the notification logic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE (32 * 1024)

static uint8_t ram[RAM_SIZE];
static struct iovec iov[VIRTQ_MAX_CHAIN];

struct vq_hdr {
    uint8_t qlog2, flags, max_iov;
    uint8_t pad;
    uint16_t desc, avail, used;
    uint16_t last_avail;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.nregions)
        guest_mem_add(&mem, 0, RAM_SIZE, ram);
    struct vq_hdr h;
    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    memset(ram, 0, sizeof(ram));
    memcpy(ram, data + sizeof(h), size - sizeof(h) < RAM_SIZE ? size - sizeof(h) : RAM_SIZE);

    struct virtq vq = { 0 };
    vq.size = (uint16_t)(1u << (h.qlog2 % 9));
    vq.desc_gpa = h.desc;
    vq.avail_gpa = h.avail;
    vq.used_gpa = h.used;
    vq.indirect = h.flags & 1;
    vq.event_idx = h.flags & 2;
    if (virtq_start(&vq, &mem) < 0)
        return 0;
    vq.last_avail = vq.used_idx = vq.published_used = vq.signalled_used = h.last_avail;
    unsigned max_iov = h.max_iov ? h.max_iov : VIRTQ_MAX_CHAIN;
    for (int n = 0; n < 2 * VIRTQ_MAX_SIZE; n++) {
        struct virtq_chain c;
        int r = virtq_pop(&vq, iov, max_iov, &c);
        if (r != VIRTQ_OK)
            break;
        uint64_t out = 0, in = 0;
        for (unsigned i = 0; i < c.nout + c.nin; i++) {
            uint8_t *p = iov[i].iov_base;
            if (p < ram || p + iov[i].iov_len > ram + RAM_SIZE || iov[i].iov_len == 0)
                abort();
            if (i < c.nout)
                out += iov[i].iov_len;
            else
                in += iov[i].iov_len;
        }
        if (out != c.out_len || in != c.in_len || c.head >= vq.size)
            abort();
        if (c.nin && (h.flags & 4))
            memset(iov[c.nout].iov_base, 0xa5, iov[c.nout].iov_len);   /* device writes */
        virtq_push(&vq, c.head, c.in_len);
        if (h.flags & 8)
            virtq_unpop(&vq, 0);
        if (n % 3 == 0) {
            virtq_flush(&vq);
            virtq_should_notify(&vq);
        }
    }
    virtq_flush(&vq);
    virtq_should_notify(&vq);
    virtq_enable_notify(&vq);
    virtq_disable_notify(&vq);
    return 0;
}
