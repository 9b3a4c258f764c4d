#include "virtio/virtqueue.h"

#include <linux/virtio_ring.h>
#include <string.h>

#include "base/util.h"

/* Layout offsets inside the rings (virtio 1.2 §2.7.6, §2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define DESC_SIZE 16u
#define USED_ELEM_SIZE 8u

uint64_t virtq_desc_bytes(uint16_t size) { return (uint64_t)DESC_SIZE * size; }
/* The trailing used_event / avail_event fields are counted even without EVENT_IDX:
 * every driver allocates them (Linux vring_size()), and it keeps the check simple. */
uint64_t virtq_avail_bytes(uint16_t size) { return AVAIL_RING + 2ull * size + 2; }
uint64_t virtq_used_bytes(uint16_t size) { return USED_RING + (uint64_t)USED_ELEM_SIZE * size + 2; }

static int vq_fail(struct virtq *vq, enum virtio_error why)
{
    if (!vq->error)
        vq->error = why;
    return VIRTQ_ERR;
}

static uint16_t ld16_acquire(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}
static uint16_t ld16_once(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}
static void st16_once(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

/* Snapshot one descriptor. The guest may rewrite it concurrently, so every check and use
 * below must read the copy only; the compiler barrier keeps it from re-reading guest
 * memory (no double fetch). Indirect tables need not be aligned, hence memcpy. */
static void desc_read(const uint8_t *table, uint32_t i, struct vring_desc *d)
{
    memcpy(d, table + (size_t)i * DESC_SIZE, sizeof(*d));
    __asm__ volatile("" ::: "memory");
}

int virtq_start(struct virtq *vq, const struct guest_mem *mem)
{
    vq->error = VIRTIO_ERR_NONE;
    vq->started = false;
    vq->mem = mem;
    if (!IS_POW2(vq->size) || vq->size > VIRTQ_MAX_SIZE)
        return vq_fail(vq, VIRTIO_ERR_QUEUE_SIZE);
    if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE || vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
        vq->used_gpa % VRING_USED_ALIGN_SIZE)
        return vq_fail(vq, VIRTIO_ERR_RING_ALIGN);
    vq->desc = guest_mem_ptr(mem, vq->desc_gpa, virtq_desc_bytes(vq->size));
    vq->avail = guest_mem_ptr(mem, vq->avail_gpa, virtq_avail_bytes(vq->size));
    vq->used = guest_mem_ptr(mem, vq->used_gpa, virtq_used_bytes(vq->size));
    if (!vq->desc || !vq->avail || !vq->used)
        return vq_fail(vq, VIRTIO_ERR_RING_ADDR);
    /* A fresh queue starts at index 0 on both rings (virtio 1.2 §2.7.6, §2.7.8). */
    vq->last_avail = vq->avail_shadow = 0;
    vq->used_idx = vq->published_used = vq->signalled_used = 0;
    vq->started = true;
    return 0;
}

void virtq_stop(struct virtq *vq)
{
    vq->started = false;
    vq->desc = vq->avail = vq->used = NULL;
    vq->last_avail = vq->avail_shadow = 0;
    vq->used_idx = vq->published_used = vq->signalled_used = 0;
    vq->error = VIRTIO_ERR_NONE;
}

int virtq_avail_count(struct virtq *vq)
{
    if (vq->error)
        return VIRTQ_ERR;
    if (!vq->started)
        return vq_fail(vq, VIRTIO_ERR_QUEUE_NOT_STARTED);
    uint16_t n = (uint16_t)(vq->avail_shadow - vq->last_avail);
    if (n == 0) {
        /* Acquire: ring entries and descriptors are read after the idx that published
         * them. Entries below an idx read earlier were published by that read. */
        vq->avail_shadow = ld16_acquire(vq->avail + AVAIL_IDX);
        n = (uint16_t)(vq->avail_shadow - vq->last_avail);
    }
    /* Checked on every call, not only after a read: the shadow must never let a bogus idx
     * through (virtq_unpop moves last_avail back, never below a validated position). */
    if (n > vq->size)
        return vq_fail(vq, VIRTIO_ERR_AVAIL_IDX);
    return n;
}

struct walk {
    struct iovec *iov;
    unsigned max_iov, niov, nout, nin;
    uint64_t out_len, in_len;
};

/* Adds one buffer descriptor to the walk. */
static int walk_buffer(struct virtq *vq, struct walk *w, const struct vring_desc *d)
{
    if (d->len == 0)
        return vq_fail(vq, VIRTIO_ERR_DESC_ZERO_LEN);
    void *p = guest_mem_ptr(vq->mem, d->addr, d->len);
    if (!p)
        return vq_fail(vq, VIRTIO_ERR_DESC_ADDR);
    if (d->flags & VRING_DESC_F_WRITE) {
        w->nin++;
        w->in_len += d->len;
    } else {
        /* virtio 1.2 §2.7.4.2: device-writable descriptors follow device-readable ones. */
        if (w->nin)
            return vq_fail(vq, VIRTIO_ERR_DESC_ORDER);
        w->nout++;
        w->out_len += d->len;
    }
    if (w->niov >= VIRTQ_MAX_CHAIN)
        return vq_fail(vq, VIRTIO_ERR_CHAIN_TOO_LONG);
    if (w->out_len > UINT32_MAX || w->in_len > UINT32_MAX)
        return vq_fail(vq, VIRTIO_ERR_CHAIN_TOO_BIG);
    /* Past max_iov keep validating without storing: the caller learns NOSPACE only for a
     * chain that is otherwise valid. */
    if (w->niov < w->max_iov)
        w->iov[w->niov] = (struct iovec){ p, d->len };
    w->niov++;
    return 0;
}

/* Follows an indirect table (virtio 1.2 §2.7.5.3). */
static int walk_indirect(struct virtq *vq, struct walk *w, const struct vring_desc *ind)
{
    if (!vq->indirect)
        return vq_fail(vq, VIRTIO_ERR_INDIRECT_FEATURE);
    if (ind->flags & VRING_DESC_F_NEXT)
        return vq_fail(vq, VIRTIO_ERR_INDIRECT_NEXT);
    if (ind->len == 0 || ind->len % DESC_SIZE)
        return vq_fail(vq, VIRTIO_ERR_INDIRECT_LEN);
    uint32_t n = ind->len / DESC_SIZE;
    if (n > VIRTQ_MAX_CHAIN)
        return vq_fail(vq, VIRTIO_ERR_INDIRECT_TOO_BIG);
    const uint8_t *table = guest_mem_ptr(vq->mem, ind->addr, ind->len);
    if (!table)
        return vq_fail(vq, VIRTIO_ERR_INDIRECT_ADDR);
    uint32_t i = 0;
    for (uint32_t visited = 1;; visited++) {
        /* Each entry at most once: a longer walk means a loop. */
        if (visited > n)
            return vq_fail(vq, VIRTIO_ERR_INDIRECT_LOOP);
        struct vring_desc d;
        desc_read(table, i, &d);
        if (d.flags & VRING_DESC_F_INDIRECT)
            return vq_fail(vq, VIRTIO_ERR_INDIRECT_NESTED);
        if (walk_buffer(vq, w, &d) < 0)
            return VIRTQ_ERR;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        if (d.next >= n)
            return vq_fail(vq, VIRTIO_ERR_INDIRECT_NEXT_INDEX);
        i = d.next;
    }
}

int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned max_iov, struct virtq_chain *c)
{
    int avail = virtq_avail_count(vq);
    if (avail <= 0)
        return avail;
    uint16_t head = ld16_once(vq->avail + AVAIL_RING + 2 * (vq->last_avail & (vq->size - 1)));
    if (head >= vq->size)
        return vq_fail(vq, VIRTIO_ERR_HEAD_INDEX);

    struct walk w = { .iov = iov, .max_iov = max_iov };
    uint16_t i = head;
    for (unsigned visited = 1;; visited++) {
        /* virtio 1.2 §2.7.5.2: a chain is never longer than the queue; longer = loop. */
        if (visited > vq->size)
            return vq_fail(vq, VIRTIO_ERR_CHAIN_LOOP);
        struct vring_desc d;
        desc_read(vq->desc, i, &d);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            /* The table ends the chain (NEXT together with INDIRECT is refused). */
            if (walk_indirect(vq, &w, &d) < 0)
                return VIRTQ_ERR;
            break;
        }
        if (walk_buffer(vq, &w, &d) < 0)
            return VIRTQ_ERR;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= vq->size)
            return vq_fail(vq, VIRTIO_ERR_NEXT_INDEX);
        i = d.next;
    }
    if (w.niov > max_iov)
        return VIRTQ_NOSPACE;
    c->head = head;
    c->nout = (uint16_t)w.nout;
    c->nin = (uint16_t)w.nin;
    c->out_len = (uint32_t)w.out_len;
    c->in_len = (uint32_t)w.in_len;
    c->iov = iov;
    vq->last_avail++;
    return VIRTQ_OK;
}

void virtq_unpop(struct virtq *vq, uint16_t n) { vq->last_avail -= n; }

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
    uint8_t *e = vq->used + USED_RING + USED_ELEM_SIZE * (vq->used_idx & (vq->size - 1));
    st_le32(e, head);
    st_le32(e + 4, len);
    vq->used_idx++;
}

void virtq_flush(struct virtq *vq)
{
    if (vq->used_idx == vq->published_used)
        return;
    /* Release: the used elements are visible before the idx that publishes them
     * (virtio 1.2 §2.7.8.2). */
    __atomic_store_n((uint16_t *)(vq->used + USED_IDX), vq->used_idx, __ATOMIC_RELEASE);
    vq->published_used = vq->used_idx;
}

bool virtq_should_notify(struct virtq *vq)
{
    uint16_t old = vq->signalled_used, new = vq->published_used;
    if (old == new)
        return false;
    vq->signalled_used = new;
    /* Full barrier: the used idx store must be visible before we read the driver's
     * suppression state, or we could miss its request (virtio 1.2 §2.7.10). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (vq->event_idx) {
        uint16_t used_event = ld16_once(vq->avail + AVAIL_RING + 2 * vq->size);
        return vring_need_event(used_event, new, old);
    }
    return !(ld16_once(vq->avail + AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT);
}

void virtq_disable_notify(struct virtq *vq)
{
    /* With EVENT_IDX a stale avail_event already suppresses kicks: the driver kicks only
     * when its idx crosses it (virtio 1.2 §2.7.10.2). */
    if (!vq->event_idx)
        st16_once(vq->used + USED_FLAGS, VRING_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
    if (vq->error || !vq->started)
        return false;
    if (vq->event_idx)
        st16_once(vq->used + USED_RING + USED_ELEM_SIZE * vq->size, vq->last_avail);
    else
        st16_once(vq->used + USED_FLAGS, 0);
    /* Full barrier: publish the request before re-reading avail idx, else a buffer added
     * just before could go unnoticed with its kick suppressed. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* The fresh idx becomes the shadow; virtq_avail_count validates it before use. */
    vq->avail_shadow = ld16_acquire(vq->avail + AVAIL_IDX);
    return vq->avail_shadow != vq->last_avail;
}
