/* Test helper: a fake guest with RAM in a malloc'd buffer and a driver-side view of split
 * virtqueues (the driver half of virtio 1.2 §2.7), so device code can be exercised
 * without KVM. Header-only; used by the virtio and net unit tests. */
#ifndef VPF_TESTS_FAKE_GUEST_H
#define VPF_TESTS_FAKE_GUEST_H

#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/guest_mem.h"
#include "base/util.h"

#define FG_RAM_SIZE (1024 * 1024)

struct fake_guest {
    uint8_t *ram;
    struct guest_mem mem;
    uint64_t bump;          /* next free gpa for fg_alloc */
};

static inline void fg_init(struct fake_guest *g)
{
    memset(g, 0, sizeof(*g));
    g->ram = calloc(1, FG_RAM_SIZE);
    guest_mem_add(&g->mem, 0, FG_RAM_SIZE, g->ram);
    g->bump = 0x1000;
}

static inline void fg_free(struct fake_guest *g) { free(g->ram); }

static inline uint64_t fg_alloc(struct fake_guest *g, uint64_t len, uint64_t align)
{
    uint64_t gpa = ALIGN_UP(g->bump, align);
    g->bump = gpa + len;
    return gpa;
}

static inline void *fg_ptr(struct fake_guest *g, uint64_t gpa) { return g->ram + gpa; }

struct fake_vq {
    struct fake_guest *g;
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t last_used;
};

static inline void fvq_init(struct fake_vq *q, struct fake_guest *g, uint16_t size)
{
    q->g = g;
    q->size = size;
    q->desc = fg_alloc(g, 16ull * size, 16);
    q->avail = fg_alloc(g, 6 + 2ull * size, 2);
    q->used = fg_alloc(g, 6 + 8ull * size, 4);
    q->avail_idx = 0;
    q->last_used = 0;
}

static inline void fvq_desc(struct fake_vq *q, uint16_t i, uint64_t addr, uint32_t len,
                            uint16_t flags, uint16_t next)
{
    struct vring_desc d = { addr, len, flags, next };
    memcpy(fg_ptr(q->g, q->desc + 16ull * i), &d, sizeof(d));
}

/* Writes an entry of a separate descriptor table (indirect) at gpa. */
static inline void fg_desc_at(struct fake_guest *g, uint64_t table, uint16_t i, uint64_t addr,
                              uint32_t len, uint16_t flags, uint16_t next)
{
    struct vring_desc d = { addr, len, flags, next };   /* tables may be unaligned */
    memcpy(fg_ptr(g, table + 16ull * i), &d, sizeof(d));
}

static inline void fvq_set_avail_idx(struct fake_vq *q, uint16_t idx)
{
    q->avail_idx = idx;
    st_le16(fg_ptr(q->g, q->avail + 2), idx);
}

static inline void fvq_publish(struct fake_vq *q, uint16_t head)
{
    st_le16(fg_ptr(q->g, q->avail + 4 + 2ull * (q->avail_idx % q->size)), head);
    fvq_set_avail_idx(q, q->avail_idx + 1);
}

static inline uint16_t fvq_used_idx(struct fake_vq *q)
{
    return ld_le16(fg_ptr(q->g, q->used + 2));
}
static inline uint16_t fvq_used_flags(struct fake_vq *q) { return ld_le16(fg_ptr(q->g, q->used)); }
static inline uint16_t fvq_avail_event(struct fake_vq *q)
{
    return ld_le16(fg_ptr(q->g, q->used + 4 + 8ull * q->size));
}
static inline void fvq_set_used_event(struct fake_vq *q, uint16_t v)
{
    st_le16(fg_ptr(q->g, q->avail + 4 + 2ull * q->size), v);
}
static inline void fvq_set_avail_flags(struct fake_vq *q, uint16_t v)
{
    st_le16(fg_ptr(q->g, q->avail), v);
}

/* Used element i (absolute index, wrapped here). */
static inline void fvq_used_elem(struct fake_vq *q, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *e = fg_ptr(q->g, q->used + 4 + 8ull * (i % q->size));
    *id = ld_le32(e);
    *len = ld_le32(e + 4);
}

#endif
