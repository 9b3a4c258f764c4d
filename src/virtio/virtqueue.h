/* Split virtqueue, device side (virtio 1.2 §2.7).
 *
 * The transport sets the size and the three ring addresses; virtq_start() validates them
 * against guest RAM once and caches host pointers (vpf never remaps guest RAM while a
 * device runs). Everything else the guest writes (avail idx, heads, descriptors, indirect
 * tables, buffers) is validated on every pop. A violation makes the queue "broken": the
 * call returns VIRTQ_ERR, the reason is kept in vq->error (an enum virtio_error), and
 * every later pop fails too, so no partial used entry is ever written for a bad chain.
 * The device model passes vq->error to virtio_dev_fail(): DEVICE_NEEDS_RESET (virtio 1.2
 * §2.1.2).
 *
 * Threading: one thread (the device's I/O thread) pops and pushes; the transport only
 * configures the queue while the device is stopped. Not locked. */
#ifndef VPF_VIRTIO_VIRTQUEUE_H
#define VPF_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/guest_mem.h"
#include "virtio/errors.h"

/* Largest queue size vpf offers (Queue Size register maximum). */
#define VIRTQ_MAX_SIZE 256
/* Most descriptors (hence iovecs) one chain may have, indirect tables included. Linux
 * drivers stay far below (virtio-net: MAX_SKB_FRAGS + 2); writev() takes IOV_MAX = 1024. */
#define VIRTQ_MAX_CHAIN 1024

enum virtq_result { VIRTQ_ERR = -1, VIRTQ_EMPTY = 0, VIRTQ_OK = 1, VIRTQ_NOSPACE = 2 };

/* One descriptor chain popped from the avail ring. iov[0..nout) are device-readable,
 * iov[nout..nout+nin) device-writable (virtio 1.2 §2.7.4: writable ones come last). */
struct virtq_chain {
    uint16_t head;
    uint16_t nout, nin;
    uint32_t out_len, in_len;
    struct iovec *iov;
};

struct virtq {
    /* Set by the transport while the queue is stopped. */
    uint16_t size;                  /* power of two, 1..VIRTQ_MAX_SIZE */
    uint64_t desc_gpa, avail_gpa, used_gpa;
    bool event_idx, indirect;       /* negotiated VIRTIO_F_EVENT_IDX / INDIRECT_DESC */

    /* Runtime state, owned by the thread that pops. */
    const struct guest_mem *mem;
    uint8_t *desc;                  /* host pointers, valid after virtq_start() */
    uint8_t *avail;
    uint8_t *used;
    uint16_t last_avail;            /* next avail ring slot to consume */
    uint16_t avail_shadow;          /* driver's avail idx as last read, checked before use */
    uint16_t used_idx;              /* shadow used idx, published by virtq_flush() */
    uint16_t published_used;        /* used idx the driver can see */
    uint16_t signalled_used;        /* used idx at the last notify decision */
    bool signalled_valid;
    bool started;
    enum virtio_error error;        /* first violation, or VIRTIO_ERR_NONE */
};

/* Validates ring addresses, alignment and size against guest RAM (virtio 1.2 §2.7:
 * descriptor table 16-aligned, avail ring 2-aligned, used ring 4-aligned) and resets the
 * runtime indices. Returns 0, or -1 with vq->error set. */
int virtq_start(struct virtq *vq, const struct guest_mem *mem);
/* Forgets runtime state (device reset); the configuration stays. */
void virtq_stop(struct virtq *vq);

/* Pops the next available chain into iov[0..max_iov).
 * VIRTQ_OK: *c filled. VIRTQ_EMPTY: nothing available. VIRTQ_NOSPACE: the chain is fine
 * but needs more than max_iov entries; nothing consumed (only when max_iov <
 * VIRTQ_MAX_CHAIN). VIRTQ_ERR: guest violation, queue now broken. */
int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned max_iov, struct virtq_chain *c);
/* Gives back the last n popped chains, not yet pushed, so they are popped again. */
void virtq_unpop(struct virtq *vq, uint16_t n);
/* Number of chains the driver made available and we have not popped, as far as the last
 * read of its avail idx shows: the idx in guest memory is re-read (acquire) only when
 * that count is exhausted, as vhost does, so 0 is always current and a non-zero count
 * may be an underestimate. VIRTQ_ERR (and broken queue) if the avail idx ran more than
 * size ahead. */
int virtq_avail_count(struct virtq *vq);

/* Writes a used element at the shadow used idx; invisible to the driver until flush. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Publishes the pushed elements (release barrier: elements before idx). */
void virtq_flush(struct virtq *vq);
/* After virtq_flush(): true if the driver wants an interrupt for what was published
 * since the last call (used_event with EVENT_IDX, else avail NO_INTERRUPT flag). */
bool virtq_should_notify(struct virtq *vq);

/* Driver-notification (kick) suppression, virtio 1.2 §2.7.10. disable: the driver need
 * not kick while we are going to poll anyway. enable: ask for a kick on the next
 * buffer; returns true if buffers arrived meanwhile (caller must poll again rather than
 * sleep, the kick for them may never come). */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/* Bytes the rings of a queue of this size occupy (for the transport's checks). */
uint64_t virtq_desc_bytes(uint16_t size);
uint64_t virtq_avail_bytes(uint16_t size);
uint64_t virtq_used_bytes(uint16_t size);

#endif
