#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fake_guest.h"
#include "virtio/device.h"

struct dummy {
    struct virtio_dev vdev;
    int activations, resets, activate_ret, queue_irqs, config_irqs, failures;
    enum virtio_error failed_with;
    bool refuse;
    uint8_t cfg[8];
};

#define DUMMY_FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
                        (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << 5))

static uint64_t d_features(struct virtio_dev *dev) { return DUMMY_FEATURES; }
static bool d_check(struct virtio_dev *dev, uint64_t f) { return !((struct dummy *)dev)->refuse; }
static void d_cfg_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
    memcpy(data, ((struct dummy *)dev)->cfg + off, len);
}
static void d_cfg_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len)
{
    memcpy(((struct dummy *)dev)->cfg + off, data, len);
}
static int d_activate(struct virtio_dev *dev)
{
    struct dummy *d = (struct dummy *)dev;
    d->activations++;
    return d->activate_ret;
}
static void d_reset(struct virtio_dev *dev) { ((struct dummy *)dev)->resets++; }
static void d_failed(struct virtio_dev *dev, enum virtio_error err)
{
    struct dummy *d = (struct dummy *)dev;
    d->failures++;
    d->failed_with = err;
}
static void irq_queue(void *o, unsigned q) { ((struct dummy *)o)->queue_irqs++; }
static void irq_config(void *o) { ((struct dummy *)o)->config_irqs++; }

static const struct virtio_dev_ops dummy_ops = {
    .name = "dummy",
    .device_id = 99,
    .num_queues = 2,
    .queue_max_size = 16,
    .config_size = 8,
    .get_features = d_features,
    .check_features = d_check,
    .config_read = d_cfg_read,
    .config_write = d_cfg_write,
    .activate = d_activate,
    .reset = d_reset,
    .failed = d_failed,
};
static const struct virtio_irq_ops irq_ops = { irq_queue, irq_config, NULL };

struct ctx {
    struct fake_guest g;
    struct fake_vq q;
    struct dummy d;
};

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));
    fg_init(&t->g);
    fvq_init(&t->q, &t->g, 16);
    assert_int_equal(virtio_dev_init(&t->d.vdev, &dummy_ops, &t->g.mem), 0);
    virtio_dev_set_irq(&t->d.vdev, &irq_ops, &t->d);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    virtio_dev_destroy(&t->d.vdev);
    fg_free(&t->g);
    free(t);
    return 0;
}

static void negotiate(struct virtio_dev *dev, uint64_t f)
{
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_dev_write_driver_features(dev, 0, (uint32_t)f);
    virtio_dev_write_driver_features(dev, 1, (uint32_t)(f >> 32));
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(struct ctx *t, unsigned q)
{
    struct virtq *vq = &t->d.vdev.vqs[q];
    vq->desc_gpa = t->q.desc;
    vq->avail_gpa = t->q.avail;
    vq->used_gpa = t->q.used;
    assert_int_equal(virtio_dev_enable_queue(&t->d.vdev, q), 0);
}

#define ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
                VIRTIO_STATUS_DRIVER_OK)

static void test_feature_words(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    assert_int_equal(virtio_dev_read_device_features(dev, 0), (uint32_t)DUMMY_FEATURES);
    assert_int_equal(virtio_dev_read_device_features(dev, 1), 1);   /* VERSION_1 = bit 32 */
    assert_int_equal(virtio_dev_read_device_features(dev, 2), 0);
    virtio_dev_write_driver_features(dev, 1, 1);
    virtio_dev_write_driver_features(dev, 0, 0x20);
    virtio_dev_write_driver_features(dev, 7, 0xff);
    assert_int_equal(virtio_dev_read_driver_features(dev, 0), 0x20);
    assert_int_equal(virtio_dev_read_driver_features(dev, 1), 1);
}

static void test_features_ok(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, DUMMY_FEATURES);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(dev->features, DUMMY_FEATURES);
    assert_true(dev->vqs[1].event_idx);
    assert_true(dev->vqs[1].indirect);
    /* Writes after FEATURES_OK are ignored (virtio 1.2 §3.1.1). */
    virtio_dev_write_driver_features(dev, 0, 0);
    assert_int_equal(virtio_dev_read_driver_features(dev, 0), (uint32_t)DUMMY_FEATURES);
}

static void test_features_refused_no_version1(void **state)
{
    struct ctx *t = *state;
    negotiate(&t->d.vdev, DUMMY_FEATURES & ~(1ull << VIRTIO_F_VERSION_1));
    assert_false(virtio_dev_get_status(&t->d.vdev) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_features_refused_unoffered(void **state)
{
    struct ctx *t = *state;
    negotiate(&t->d.vdev, DUMMY_FEATURES | (1ull << 6));
    assert_false(virtio_dev_get_status(&t->d.vdev) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_features_refused_by_device(void **state)
{
    struct ctx *t = *state;
    t->d.refuse = true;
    negotiate(&t->d.vdev, DUMMY_FEATURES);
    assert_false(virtio_dev_get_status(&t->d.vdev) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_subset_ok(void **state)
{
    struct ctx *t = *state;
    negotiate(&t->d.vdev, 1ull << VIRTIO_F_VERSION_1);
    assert_true(virtio_dev_get_status(&t->d.vdev) & VIRTIO_STATUS_FEATURES_OK);
    assert_false(t->d.vdev.vqs[0].event_idx);
}

static void test_driver_ok_activates_and_reset(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, DUMMY_FEATURES);
    setup_queue(t, 0);
    virtio_dev_set_status(dev, ALL_OK);
    assert_int_equal(t->d.activations, 1);
    assert_int_equal(virtio_dev_get_status(dev), ALL_OK);
    assert_true(dev->vqs[0].started);
    assert_false(dev->vqs[1].started);
    virtio_dev_set_status(dev, ALL_OK);          /* rewrite: no second activation */
    assert_int_equal(t->d.activations, 1);
    virtio_dev_notify_queue(dev, 0);
    assert_int_equal(t->d.queue_irqs, 1);
    virtio_dev_set_status(dev, 0);
    assert_int_equal(t->d.resets, 1);
    assert_int_equal(virtio_dev_get_status(dev), 0);
    assert_false(dev->vqs[0].started);
    assert_false(dev->queue_enabled[0]);
    assert_int_equal(dev->vqs[0].size, 16);
    assert_int_equal(dev->features, 0);
}

static void test_driver_ok_without_features_ok(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(t->d.activations, 0);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_DRIVER_OK_EARLY);
}

static void test_activate_failure(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    t->d.activate_ret = -1;
    negotiate(dev, DUMMY_FEATURES);
    virtio_dev_set_status(dev, ALL_OK);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_HOST);
    assert_int_equal(t->d.config_irqs, 1);
    virtio_dev_set_status(dev, 0);
    assert_int_equal(t->d.resets, 0);            /* never active: nothing to stop */
    assert_int_equal(virtio_dev_get_status(dev), 0);
}

static void test_bad_queue_enable(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, DUMMY_FEATURES);
    dev->vqs[0].desc_gpa = FG_RAM_SIZE;
    assert_int_equal(virtio_dev_enable_queue(dev, 0), -1);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_RING_ADDR);
    assert_int_equal(t->d.config_irqs, 0);       /* not DRIVER_OK yet */
    assert_int_equal(t->d.failures, 1);          /* the device heard of it */
    assert_int_equal(t->d.failed_with, VIRTIO_ERR_RING_ADDR);
    assert_int_equal(virtio_dev_enable_queue(dev, 5), -1);
    virtio_dev_set_status(dev, 0);
    dev->vqs[0].size = 32;                       /* above the maximum */
    dev->vqs[0].desc_gpa = t->q.desc;
    dev->vqs[0].avail_gpa = t->q.avail;
    dev->vqs[0].used_gpa = t->q.used;
    assert_int_equal(virtio_dev_enable_queue(dev, 0), -1);
}

static void test_fail_once(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, DUMMY_FEATURES);
    virtio_dev_set_status(dev, ALL_OK);
    virtio_dev_fail(dev, 0, VIRTIO_ERR_CHAIN_LOOP);
    virtio_dev_fail(dev, -1, VIRTIO_ERR_HOST);
    assert_int_equal(t->d.config_irqs, 1);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_CHAIN_LOOP);   /* the first reason */
    assert_int_equal(t->d.failures, 1);          /* once, with the first reason */
    assert_int_equal(t->d.failed_with, VIRTIO_ERR_CHAIN_LOOP);
    assert_int_equal(virtio_dev_get_status(dev), ALL_OK | VIRTIO_STATUS_NEEDS_RESET);
    /* The driver cannot clear the device-owned bit except by reset. */
    virtio_dev_set_status(dev, ALL_OK);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    virtio_dev_set_status(dev, 0);
    assert_int_equal(t->d.resets, 1);
    assert_false(virtio_dev_failed(dev));
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_NONE);
    virtio_dev_fail(dev, 1, VIRTIO_ERR_HEAD_INDEX);      /* after a reset: heard again */
    assert_int_equal(t->d.failures, 2);
}

static void test_config_space(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    memcpy(t->d.cfg, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    uint32_t v = 0;
    virtio_dev_config_read(dev, 4, &v, 4);
    assert_int_equal(v, 0x08070605);
    v = 0xffffffff;
    virtio_dev_config_read(dev, 6, &v, 4);       /* straddles the end: zeros */
    assert_int_equal(v, 0);
    virtio_dev_config_read(dev, UINT32_MAX, &v, 4);
    assert_int_equal(v, 0);
    uint16_t w = 0xabcd;
    virtio_dev_config_write(dev, 0, &w, 2);
    assert_int_equal(t->d.cfg[0], 0xcd);
    virtio_dev_config_write(dev, 7, &w, 2);      /* dropped */
    assert_int_equal(t->d.cfg[7], 0x08);
    uint8_t gen = virtio_dev_config_generation(dev);
    virtio_dev_config_changed(dev);
    assert_int_equal(virtio_dev_config_generation(dev), (uint8_t)(gen + 1));
    assert_int_equal(t->d.config_irqs, 0);       /* not DRIVER_OK */
}

#define ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
                VIRTIO_STATUS_DRIVER_OK)

/* Issue 12, fault 6: DRIVER_OK cleared without a reset and set again activated the
 * device a second time. virtio 1.2 §2.1.2: the driver must not clear status bits. */
static void test_status_bits_not_cleared(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, 1ull << VIRTIO_F_VERSION_1);
    virtio_dev_set_status(dev, ALL_OK);
    assert_int_equal(t->d.activations, 1);
    virtio_dev_set_status(dev, ALL_OK & ~VIRTIO_STATUS_DRIVER_OK);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_STATUS_CLEARED);
    assert_int_equal(virtio_dev_get_status(dev) & ~VIRTIO_STATUS_NEEDS_RESET, ALL_OK);
    assert_int_equal(t->d.config_irqs, 1);      /* the driver is told */
    virtio_dev_set_status(dev, ALL_OK);
    assert_int_equal(t->d.activations, 1);
    /* A reset clears it all; the next driver starts afresh. */
    virtio_dev_set_status(dev, 0);
    assert_int_equal(t->d.resets, 1);
    negotiate(dev, 1ull << VIRTIO_F_VERSION_1);
    virtio_dev_set_status(dev, ALL_OK);
    assert_int_equal(virtio_dev_get_status(dev), ALL_OK);
    assert_int_equal(t->d.activations, 2);
    /* FEATURES_OK dropped before DRIVER_OK is the same driver error. */
    virtio_dev_set_status(dev, 0);
    negotiate(dev, 1ull << VIRTIO_F_VERSION_1);
    virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_STATUS_CLEARED);
}

/* Fault 8: every refused feature set was logged: 10,000 driver starts gave 10,000 lines.
 * Guest-triggered messages go through the device's limiter. */
static void test_refused_features_log_limited(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    FILE *f = tmpfile();
    assert_non_null(f);
    log_set_output(f);
    for (int i = 0; i < 10000; i++) {
        virtio_dev_set_status(dev, 0);
        negotiate(dev, 1ull << 5);              /* no VERSION_1: refused */
    }
    log_set_output(NULL);
    assert_false(virtio_dev_get_status(dev) & VIRTIO_STATUS_FEATURES_OK);
    rewind(f);
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        lines++;
    fclose(f);
    assert_true(lines >= 1);
    assert_true(lines <= LOG_RATELIMIT_BURST + 2);  /* a window may turn over during the loop */
}

/* A queue enabled after DRIVER_OK would appear under a running data path. */
static void test_queue_enable_after_driver_ok(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    negotiate(dev, 1ull << VIRTIO_F_VERSION_1);
    virtio_dev_set_status(dev, ALL_OK);
    dev->vqs[1].size = 16;
    dev->vqs[1].desc_gpa = t->q.desc;
    dev->vqs[1].avail_gpa = t->q.avail;
    dev->vqs[1].used_gpa = t->q.used;
    assert_int_equal(virtio_dev_enable_queue(dev, 1), -1);
    assert_false(dev->vqs[1].started);
    assert_true(virtio_dev_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(virtio_dev_error(dev), VIRTIO_ERR_QUEUE_LATE);
}

/* Every reason has its own name for the log; only the guest's are called guest errors. */
static void test_error_names(void **state)
{
    for (int a = VIRTIO_ERR_NONE; a < VIRTIO_ERR_COUNT; a++) {
        assert_string_not_equal(virtio_error_name(a), "unknown error");
        for (int b = a + 1; b < VIRTIO_ERR_COUNT; b++)
            assert_string_not_equal(virtio_error_name(a), virtio_error_name(b));
    }
    assert_string_equal(virtio_error_name(VIRTIO_ERR_COUNT), "unknown error");
    assert_true(virtio_error_is_guest(VIRTIO_ERR_CHAIN_LOOP));
    assert_true(virtio_error_is_guest(VIRTIO_ERR_STATUS_CLEARED));
    assert_false(virtio_error_is_guest(VIRTIO_ERR_NONE));
    assert_false(virtio_error_is_guest(VIRTIO_ERR_HOST));
    assert_false(virtio_error_is_guest(VIRTIO_ERR_BACKEND_RING));
}

/* Its log line names the instance, not only the type: a VM has many virtio-net devices. */
static void test_fail_names_instance(void **state)
{
    struct ctx *t = *state;
    struct virtio_dev *dev = &t->d.vdev;
    assert_string_equal(dev->name, "dummy");    /* the type's name until set */
    virtio_dev_set_name(dev, "net7vf3");
    negotiate(dev, DUMMY_FEATURES);
    virtio_dev_set_status(dev, ALL_OK);
    FILE *f = tmpfile();
    assert_non_null(f);
    log_set_output(f);
    virtio_dev_fail(dev, 0, VIRTIO_ERR_CHAIN_LOOP);
    log_set_output(NULL);
    rewind(f);
    char line[512] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_non_null(strstr(line, "net7vf3: guest error, device needs reset: queue 0: "));
}
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_feature_words),
        T(test_features_ok),
        T(test_features_refused_no_version1),
        T(test_features_refused_unoffered),
        T(test_features_refused_by_device),
        T(test_subset_ok),
        T(test_driver_ok_activates_and_reset),
        T(test_driver_ok_without_features_ok),
        T(test_activate_failure),
        T(test_bad_queue_enable),
        T(test_fail_once),
        T(test_fail_names_instance),
        T(test_config_space),
        T(test_status_bits_not_cleared),
        T(test_queue_enable_after_driver_ok),
        T(test_refused_features_log_limited),
        T(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
