#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_guest.h"
#include "virtio/virtqueue.h"

#define QSZ 8

struct ctx {
    struct fake_guest g;
    struct fake_vq q;
    struct virtq vq;
    struct iovec iov[VIRTQ_MAX_CHAIN];
    struct virtq_chain c;
};

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));
    fg_init(&t->g);
    fvq_init(&t->q, &t->g, QSZ);
    t->vq.size = QSZ;
    t->vq.desc_gpa = t->q.desc;
    t->vq.avail_gpa = t->q.avail;
    t->vq.used_gpa = t->q.used;
    t->vq.indirect = true;
    assert_int_equal(virtq_start(&t->vq, &t->g.mem), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    fg_free(&t->g);
    free(t);
    return 0;
}

static int pop(struct ctx *t) { return virtq_pop(&t->vq, t->iov, VIRTQ_MAX_CHAIN, &t->c); }

/* Expects the violation why: error, broken for good, nothing written to the used ring. */
static void expect_broken(struct ctx *t, enum virtio_error why)
{
    assert_int_equal(pop(t), VIRTQ_ERR);
    assert_int_equal(t->vq.error, why);
    assert_int_equal(pop(t), VIRTQ_ERR);
    assert_int_equal(t->vq.error, why);     /* the first reason stays */
    assert_int_equal(fvq_used_idx(&t->q), 0);
}

static void test_good_chain(void **state)
{
    struct ctx *t = *state;
    assert_int_equal(pop(t), VIRTQ_EMPTY);
    fvq_desc(&t->q, 3, 0x10000, 100, VRING_DESC_F_NEXT, 5);
    fvq_desc(&t->q, 5, 0x20000, 200, VRING_DESC_F_NEXT, 0);
    fvq_desc(&t->q, 0, 0x30000, 300, VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q, 3);
    assert_int_equal(virtq_avail_count(&t->vq), 1);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(t->c.head, 3);
    assert_int_equal(t->c.nout, 2);
    assert_int_equal(t->c.nin, 1);
    assert_int_equal(t->c.out_len, 300);
    assert_int_equal(t->c.in_len, 300);
    assert_ptr_equal(t->iov[0].iov_base, t->g.ram + 0x10000);
    assert_int_equal(t->iov[1].iov_len, 200);
    assert_ptr_equal(t->iov[2].iov_base, t->g.ram + 0x30000);
    assert_int_equal(pop(t), VIRTQ_EMPTY);

    virtq_push(&t->vq, 3, 42);
    assert_int_equal(fvq_used_idx(&t->q), 0);   /* not published before flush */
    virtq_flush(&t->vq);
    assert_int_equal(fvq_used_idx(&t->q), 1);
    uint32_t id, len;
    fvq_used_elem(&t->q, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 42);
}

static void test_wraparound_and_unpop(void **state)
{
    struct ctx *t = *state;
    fvq_set_avail_idx(&t->q, 65530);
    t->vq.last_avail = t->vq.avail_shadow = 65530;
    t->vq.used_idx = t->vq.published_used = t->vq.signalled_used = 65530;
    for (int i = 0; i < 20; i++) {
        fvq_desc(&t->q, (uint16_t)(i % QSZ), 0x1000, 64, 0, 0);
        fvq_publish(&t->q, (uint16_t)(i % QSZ));
        assert_int_equal(pop(t), VIRTQ_OK);
        assert_int_equal(t->c.head, i % QSZ);
        if (i == 5) {
            virtq_unpop(&t->vq, 1);
            assert_int_equal(pop(t), VIRTQ_OK);
            assert_int_equal(t->c.head, 5);
        }
        virtq_push(&t->vq, t->c.head, 0);
        virtq_flush(&t->vq);
    }
    assert_int_equal(fvq_used_idx(&t->q), (uint16_t)(65530 + 20));
}

static void test_avail_idx_jump(void **state)
{
    struct ctx *t = *state;
    fvq_set_avail_idx(&t->q, QSZ + 1);
    expect_broken(t, VIRTIO_ERR_AVAIL_IDX);
}

static void test_avail_idx_full_ring_ok(void **state)
{
    struct ctx *t = *state;
    for (int i = 0; i < QSZ; i++) {
        fvq_desc(&t->q, (uint16_t)i, 0x1000, 1, 0, 0);
        fvq_publish(&t->q, (uint16_t)i);
    }
    assert_int_equal(virtq_avail_count(&t->vq), QSZ);
    for (int i = 0; i < QSZ; i++)
        assert_int_equal(pop(t), VIRTQ_OK);
}

/* The avail idx is read once for all the entries it published; a bogus idx written
 * meanwhile is caught when the device comes to read it, before any entry behind it. */
static void test_avail_shadow_bogus_idx(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 64, 0, 0);
    fvq_desc(&t->q, 1, 0x2000, 64, 0, 0);
    fvq_publish(&t->q, 0);
    fvq_publish(&t->q, 1);
    assert_int_equal(pop(t), VIRTQ_OK);
    fvq_set_avail_idx(&t->q, 2 + QSZ + 5);
    assert_int_equal(pop(t), VIRTQ_OK);     /* published by the first read */
    assert_int_equal(t->c.head, 1);
    assert_int_equal(pop(t), VIRTQ_ERR);
    assert_int_equal(t->vq.error, VIRTIO_ERR_AVAIL_IDX);
}

/* Entries published after the last read are seen once the shadow is used up. */
static void test_avail_shadow_reread(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 64, 0, 0);
    fvq_desc(&t->q, 1, 0x2000, 64, 0, 0);
    fvq_desc(&t->q, 2, 0x3000, 64, 0, 0);
    fvq_publish(&t->q, 0);
    assert_int_equal(virtq_avail_count(&t->vq), 1);
    fvq_publish(&t->q, 1);
    fvq_publish(&t->q, 2);
    assert_int_equal(virtq_avail_count(&t->vq), 1);    /* not re-read yet */
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(virtq_avail_count(&t->vq), 2);    /* exhausted: re-read */
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(t->c.head, 2);
    assert_int_equal(pop(t), VIRTQ_EMPTY);
}

/* enable_notify's re-read feeds the shadow, and is validated before use. */
static void test_avail_shadow_enable_notify_bogus(void **state)
{
    struct ctx *t = *state;
    fvq_set_avail_idx(&t->q, QSZ + 1);
    assert_true(virtq_enable_notify(&t->vq));
    expect_broken(t, VIRTIO_ERR_AVAIL_IDX);
}

static void test_head_out_of_range(void **state)
{
    struct ctx *t = *state;
    fvq_publish(&t->q, QSZ);
    expect_broken(t, VIRTIO_ERR_HEAD_INDEX);
}

static void test_next_out_of_range(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 10, VRING_DESC_F_NEXT, QSZ);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_NEXT_INDEX);
}

static void test_loop(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 10, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x1000, 10, VRING_DESC_F_NEXT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_CHAIN_LOOP);
}

static void test_self_loop(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 2, 0x1000, 10, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    fvq_publish(&t->q, 2);
    expect_broken(t, VIRTIO_ERR_CHAIN_LOOP);
}

static void test_longest_chain_ok(void **state)
{
    struct ctx *t = *state;
    for (int i = 0; i < QSZ; i++)
        fvq_desc(&t->q, (uint16_t)i, 0x1000, 10, i < QSZ - 1 ? VRING_DESC_F_NEXT : 0,
                 (uint16_t)(i + 1));
    fvq_publish(&t->q, 0);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(t->c.nout, QSZ);
}

static void test_buffer_outside_ram(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, FG_RAM_SIZE - 10, 11, 0, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_DESC_ADDR);
}

static void test_buffer_huge_addr(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, UINT64_MAX - 4, 16, 0, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_DESC_ADDR);
}

static void test_buffer_straddles_regions(void **state)
{
    struct ctx *t = *state;
    uint8_t *second = calloc(1, 4096);
    assert_int_equal(guest_mem_add(&t->g.mem, FG_RAM_SIZE, 4096, second), 0);
    fvq_desc(&t->q, 0, FG_RAM_SIZE + 100, 100, 0, 1);   /* fine: inside region 2 */
    fvq_publish(&t->q, 0);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_ptr_equal(t->iov[0].iov_base, second + 100);
    fvq_desc(&t->q, 1, FG_RAM_SIZE - 8, 16, 0, 0);      /* crosses the boundary */
    fvq_publish(&t->q, 1);
    assert_int_equal(pop(t), VIRTQ_ERR);
    assert_int_equal(t->vq.error, VIRTIO_ERR_DESC_ADDR);
    free(second);
}

static void test_zero_length(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 0, 0, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_DESC_ZERO_LEN);
}

static void test_write_before_read(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 10, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x2000, 10, 0, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_DESC_ORDER);
}

static void test_indirect_good(void **state)
{
    struct ctx *t = *state;
    uint64_t table = 0x40000;
    fg_desc_at(&t->g, table, 0, 0x10000, 12, VRING_DESC_F_NEXT, 2);
    fg_desc_at(&t->g, table, 2, 0x11000, 1000, VRING_DESC_F_NEXT, 1);
    fg_desc_at(&t->g, table, 1, 0x12000, 1, VRING_DESC_F_WRITE, 0);
    /* A direct readable descriptor before the table is allowed (virtio 1.2 §2.7.5.3.2). */
    fvq_desc(&t->q, 4, 0x13000, 8, VRING_DESC_F_NEXT, 6);
    fvq_desc(&t->q, 6, table, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
    fvq_publish(&t->q, 4);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(t->c.head, 4);
    assert_int_equal(t->c.nout, 3);
    assert_int_equal(t->c.nin, 1);
    assert_int_equal(t->c.out_len, 8 + 12 + 1000);
    assert_ptr_equal(t->iov[3].iov_base, t->g.ram + 0x12000);
}

static void test_indirect_unaligned_table_ok(void **state)
{
    struct ctx *t = *state;
    uint64_t table = 0x40003;
    fg_desc_at(&t->g, table, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, table, 16, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_int_equal(t->c.out_len, 12);
}

static void test_indirect_not_negotiated(void **state)
{
    struct ctx *t = *state;
    t->vq.indirect = false;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x40000, 16, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_FEATURE);
}

static void test_indirect_bad_len(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x40000, 24, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_LEN);
}

static void test_indirect_zero_len(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x40000, 0, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_LEN);
}

static void test_indirect_too_large(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x40000, (VIRTQ_MAX_CHAIN + 1) * 16, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_TOO_BIG);
}

static void test_indirect_outside_ram(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, FG_RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_ADDR);
}

static void test_indirect_in_indirect(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x41000, 16, VRING_DESC_F_INDIRECT, 0);
    fg_desc_at(&t->g, 0x41000, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x40000, 16, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_NESTED);
}

static void test_indirect_next_out_of_table(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, VRING_DESC_F_NEXT, 2);
    fg_desc_at(&t->g, 0x40000, 1, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x40000, 32, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_NEXT_INDEX);
}

static void test_indirect_loop(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, VRING_DESC_F_NEXT, 1);
    fg_desc_at(&t->g, 0x40000, 1, 0x10000, 12, VRING_DESC_F_NEXT, 0);
    fvq_desc(&t->q, 0, 0x40000, 32, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_LOOP);
}

static void test_indirect_with_next(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x40000, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x10000, 12, 0, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_INDIRECT_NEXT);
}

static void test_indirect_write_before_read(void **state)
{
    struct ctx *t = *state;
    fg_desc_at(&t->g, 0x40000, 0, 0x10000, 12, 0, 0);
    fvq_desc(&t->q, 0, 0x20000, 12, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x40000, 16, VRING_DESC_F_INDIRECT, 0);
    fvq_publish(&t->q, 0);
    expect_broken(t, VIRTIO_ERR_DESC_ORDER);
}

static void test_nospace(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 10, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x1000, 10, VRING_DESC_F_NEXT, 2);
    fvq_desc(&t->q, 2, 0x1000, 10, 0, 0);
    fvq_publish(&t->q, 0);
    assert_int_equal(virtq_pop(&t->vq, t->iov, 2, &t->c), VIRTQ_NOSPACE);
    assert_int_equal(virtq_avail_count(&t->vq), 1);
    assert_int_equal(virtq_pop(&t->vq, t->iov, 3, &t->c), VIRTQ_OK);
    assert_int_equal(t->c.nout, 3);
}

static void test_nospace_but_invalid(void **state)
{
    struct ctx *t = *state;
    fvq_desc(&t->q, 0, 0x1000, 10, VRING_DESC_F_NEXT, 1);
    fvq_desc(&t->q, 1, 0x1000, 10, VRING_DESC_F_NEXT, 2);
    fvq_desc(&t->q, 2, 0x1000, 0, 0, 0);   /* invalid past the iov limit */
    fvq_publish(&t->q, 0);
    assert_int_equal(virtq_pop(&t->vq, t->iov, 1, &t->c), VIRTQ_ERR);
    assert_int_equal(t->vq.error, VIRTIO_ERR_DESC_ZERO_LEN);
}

static void test_start_validation(void **state)
{
    struct ctx *t = *state;
    struct virtq vq = t->vq;
    vq.desc_gpa = t->q.desc + 8;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_RING_ALIGN);
    vq = t->vq;
    vq.used_gpa = t->q.used + 2;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_RING_ALIGN);
    vq = t->vq;
    vq.avail_gpa = t->q.avail + 1;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_RING_ALIGN);
    vq = t->vq;
    vq.used_gpa = FG_RAM_SIZE - 8;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_RING_ADDR);
    vq = t->vq;
    vq.desc_gpa = UINT64_MAX & ~15ull;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_RING_ADDR);
    vq = t->vq;
    vq.size = 6;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_QUEUE_SIZE);
    vq = t->vq;
    vq.size = VIRTQ_MAX_SIZE * 2;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_QUEUE_SIZE);
    vq = t->vq;
    vq.size = 0;
    assert_int_equal(virtq_start(&vq, &t->g.mem), -1);
    assert_int_equal(vq.error, VIRTIO_ERR_QUEUE_SIZE);
    vq = t->vq;
    assert_int_equal(virtq_start(&vq, &t->g.mem), 0);
    assert_int_equal(vq.error, VIRTIO_ERR_NONE);
}

static void test_not_started(void **state)
{
    struct ctx *t = *state;
    virtq_stop(&t->vq);
    assert_int_equal(pop(t), VIRTQ_ERR);
    assert_int_equal(t->vq.error, VIRTIO_ERR_QUEUE_NOT_STARTED);
}

static void push_n(struct ctx *t, int n)
{
    for (int i = 0; i < n; i++)
        virtq_push(&t->vq, 0, 0);
    virtq_flush(&t->vq);
}

static void test_notify_no_event_idx(void **state)
{
    struct ctx *t = *state;
    assert_false(virtq_should_notify(&t->vq));       /* nothing published */
    push_n(t, 1);
    assert_true(virtq_should_notify(&t->vq));
    assert_false(virtq_should_notify(&t->vq));       /* already told */
    fvq_set_avail_flags(&t->q, VRING_AVAIL_F_NO_INTERRUPT);
    push_n(t, 1);
    assert_false(virtq_should_notify(&t->vq));
}

static void test_notify_event_idx(void **state)
{
    struct ctx *t = *state;
    t->vq.event_idx = true;
    fvq_set_used_event(&t->q, 0);
    push_n(t, 3);                                    /* used 0 -> 3, event 0 in [0,3) */
    assert_true(virtq_should_notify(&t->vq));
    fvq_set_used_event(&t->q, 10);
    push_n(t, 3);                                    /* 3 -> 6: 10 not crossed */
    assert_false(virtq_should_notify(&t->vq));
    push_n(t, 5);                                    /* 6 -> 11: crosses 10 */
    assert_true(virtq_should_notify(&t->vq));
    fvq_set_used_event(&t->q, 5);                    /* behind: already passed */
    push_n(t, 2);
    assert_false(virtq_should_notify(&t->vq));
    /* NO_INTERRUPT flag is ignored with EVENT_IDX (virtio 1.2 §2.7.7). */
    fvq_set_avail_flags(&t->q, VRING_AVAIL_F_NO_INTERRUPT);
    fvq_set_used_event(&t->q, 13);
    push_n(t, 1);
    assert_true(virtq_should_notify(&t->vq));
}

static void test_notify_event_idx_wrap(void **state)
{
    struct ctx *t = *state;
    t->vq.event_idx = true;
    t->vq.used_idx = t->vq.published_used = t->vq.signalled_used = 65534;
    fvq_set_used_event(&t->q, 0);
    push_n(t, 3);                                    /* 65534 -> 1 crosses 0 */
    assert_true(virtq_should_notify(&t->vq));
}

static void test_kick_suppression(void **state)
{
    struct ctx *t = *state;
    virtq_disable_notify(&t->vq);
    assert_int_equal(fvq_used_flags(&t->q), VRING_USED_F_NO_NOTIFY);
    assert_false(virtq_enable_notify(&t->vq));
    assert_int_equal(fvq_used_flags(&t->q), 0);
    fvq_desc(&t->q, 0, 0x1000, 10, 0, 0);
    fvq_publish(&t->q, 0);
    assert_true(virtq_enable_notify(&t->vq));        /* raced: poll again */

    t->vq.event_idx = true;
    assert_int_equal(pop(t), VIRTQ_OK);
    assert_false(virtq_enable_notify(&t->vq));
    assert_int_equal(fvq_avail_event(&t->q), 1);
    virtq_disable_notify(&t->vq);
    assert_int_equal(fvq_avail_event(&t->q), 1);     /* left stale on purpose */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_good_chain),
        T(test_wraparound_and_unpop),
        T(test_avail_idx_jump),
        T(test_avail_shadow_bogus_idx),
        T(test_avail_shadow_reread),
        T(test_avail_shadow_enable_notify_bogus),
        T(test_avail_idx_full_ring_ok),
        T(test_head_out_of_range),
        T(test_next_out_of_range),
        T(test_loop),
        T(test_self_loop),
        T(test_longest_chain_ok),
        T(test_buffer_outside_ram),
        T(test_buffer_huge_addr),
        T(test_buffer_straddles_regions),
        T(test_zero_length),
        T(test_write_before_read),
        T(test_indirect_good),
        T(test_indirect_unaligned_table_ok),
        T(test_indirect_not_negotiated),
        T(test_indirect_bad_len),
        T(test_indirect_zero_len),
        T(test_indirect_too_large),
        T(test_indirect_outside_ram),
        T(test_indirect_in_indirect),
        T(test_indirect_next_out_of_table),
        T(test_indirect_loop),
        T(test_indirect_with_next),
        T(test_indirect_write_before_read),
        T(test_nospace),
        T(test_nospace_but_invalid),
        T(test_start_validation),
        T(test_not_started),
        T(test_notify_no_event_idx),
        T(test_notify_event_idx),
        T(test_notify_event_idx_wrap),
        T(test_kick_suppression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
