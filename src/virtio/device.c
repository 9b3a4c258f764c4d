#include "virtio/device.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"

static void queues_reset(struct virtio_dev *dev)
{
    for (unsigned q = 0; q < dev->ops->num_queues; q++) {
        struct virtq *vq = &dev->vqs[q];
        virtq_stop(vq);
        vq->size = dev->ops->queue_max_size;
        vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
        vq->event_idx = vq->indirect = false;
        dev->queue_enabled[q] = false;
    }
}

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
                    const struct guest_mem *mem)
{
    memset(dev, 0, sizeof(*dev));
    if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
        ops->queue_max_size > VIRTQ_MAX_SIZE || (ops->queue_max_size & (ops->queue_max_size - 1))) {
        errno = EINVAL;
        return -1;
    }
    dev->ops = ops;
    dev->mem = mem;
    virtio_dev_set_name(dev, ops->name);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        dev->kick_fds[q] = -1;
    for (unsigned q = 0; q < ops->num_queues; q++) {
        dev->kick_fds[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (dev->kick_fds[q] < 0) {
            int err = errno;
            virtio_dev_destroy(dev);
            errno = err;
            return -1;
        }
    }
    queues_reset(dev);
    return 0;
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
    if (dev->ops)
        virtio_dev_reset(dev);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        if (dev->kick_fds[q] >= 0)
            close(dev->kick_fds[q]);
        dev->kick_fds[q] = -1;
    }
}

void virtio_dev_set_irq(struct virtio_dev *dev, const struct virtio_irq_ops *irq, void *opaque)
{
    dev->irq = irq;
    dev->irq_opaque = opaque;
}

uint32_t virtio_dev_read_device_features(struct virtio_dev *dev, uint32_t sel)
{
    if (sel > 1)
        return 0;
    return (uint32_t)(dev->ops->get_features(dev) >> (32 * sel));
}

uint32_t virtio_dev_read_driver_features(const struct virtio_dev *dev, uint32_t sel)
{
    return sel > 1 ? 0 : (uint32_t)(dev->driver_features >> (32 * sel));
}

void virtio_dev_write_driver_features(struct virtio_dev *dev, uint32_t sel, uint32_t val)
{
    if (sel > 1 || (dev->status & VIRTIO_STATUS_FEATURES_OK))
        return;
    uint64_t mask = 0xffffffffull << (32 * sel);
    dev->driver_features = (dev->driver_features & ~mask) | ((uint64_t)val << (32 * sel));
}

uint8_t virtio_dev_get_status(const struct virtio_dev *dev)
{
    return dev->status | (virtio_dev_failed(dev) ? VIRTIO_STATUS_NEEDS_RESET : 0);
}

enum virtio_error virtio_dev_error(const struct virtio_dev *dev)
{
    return __atomic_load_n(&dev->error, __ATOMIC_ACQUIRE);
}

bool virtio_dev_failed(const struct virtio_dev *dev)
{
    return virtio_dev_error(dev) != VIRTIO_ERR_NONE;
}

void virtio_dev_reset(struct virtio_dev *dev)
{
    if (dev->active && dev->ops->reset)
        dev->ops->reset(dev);
    dev->active = false;
    queues_reset(dev);
    dev->driver_features = dev->features = 0;
    __atomic_store_n(&dev->status, 0, __ATOMIC_RELAXED);
    /* fail_logged stays: a guest looping on fail + reset must not flood the log. */
    __atomic_store_n(&dev->error, VIRTIO_ERR_NONE, __ATOMIC_RELEASE);
}

/* virtio 1.2 §2.2 + §6.1: the driver may only accept offered features, and a modern
 * (virtio 1.x) transport requires VERSION_1. */
static bool features_acceptable(struct virtio_dev *dev, uint64_t f)
{
    if (f & ~dev->ops->get_features(dev))
        return false;
    if (!virtio_has_feature(f, VIRTIO_F_VERSION_1))
        return false;
    return !dev->ops->check_features || dev->ops->check_features(dev, f);
}

static void activate(struct virtio_dev *dev)
{
    for (unsigned q = 0; q < dev->ops->num_queues; q++) {
        if (dev->queue_enabled[q] && !dev->vqs[q].started) {
            virtio_dev_fail(dev, (int)q, VIRTIO_ERR_QUEUE_NOT_STARTED);
            return;
        }
    }
    if (dev->ops->activate(dev) < 0) {
        virtio_dev_fail(dev, -1, VIRTIO_ERR_HOST);      /* the model said why */
        return;
    }
    dev->active = true;
}

void virtio_dev_set_status(struct virtio_dev *dev, uint8_t val)
{
    if (val == 0) {
        virtio_dev_reset(dev);
        return;
    }
    val &= (uint8_t)~VIRTIO_STATUS_NEEDS_RESET;   /* device-owned bit */
    uint8_t old = dev->status;
    uint8_t set = val & ~old;
    /* virtio 1.2 §2.1.2: the driver MUST NOT clear a status bit; only a reset (0) does.
     * Taken at its word, DRIVER_OK cleared and set again would start a running device
     * a second time. The status stays as it was. */
    if (old & ~val) {
        virtio_dev_fail(dev, -1, VIRTIO_ERR_STATUS_CLEARED);
        return;
    }
    if (set & VIRTIO_STATUS_FEATURES_OK) {
        if (features_acceptable(dev, dev->driver_features)) {
            dev->features = dev->driver_features;
            for (unsigned q = 0; q < dev->ops->num_queues; q++) {
                dev->vqs[q].event_idx = virtio_has_feature(dev->features, VIRTIO_RING_F_EVENT_IDX);
                dev->vqs[q].indirect = virtio_has_feature(dev->features,
                                                          VIRTIO_RING_F_INDIRECT_DESC);
            }
        } else {
            log_warn_rl(&dev->log_rl, "%s: driver features %#llx refused", dev->name,
                        (unsigned long long)dev->driver_features);
            val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
            set &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        }
    }
    /* DRIVER_OK without FEATURES_OK is a driver bug (virtio 1.2 §3.1.1): do not run. */
    if ((set & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK)) {
        __atomic_store_n(&dev->status, val, __ATOMIC_RELAXED);
        virtio_dev_fail(dev, -1, VIRTIO_ERR_DRIVER_OK_EARLY);
        return;
    }
    __atomic_store_n(&dev->status, val, __ATOMIC_RELAXED);
    if ((set & VIRTIO_STATUS_DRIVER_OK) && !virtio_dev_failed(dev))
        activate(dev);
}

int virtio_dev_enable_queue(struct virtio_dev *dev, unsigned q)
{
    if (q >= dev->ops->num_queues)
        return -1;
    /* virtio 1.2 §3.1.1: queues are set up before DRIVER_OK; a running data path does
     * not pick up a queue that appears under it. */
    if (dev->status & VIRTIO_STATUS_DRIVER_OK) {
        virtio_dev_fail(dev, (int)q, VIRTIO_ERR_QUEUE_LATE);
        return -1;
    }
    struct virtq *vq = &dev->vqs[q];
    if (vq->size > dev->ops->queue_max_size || virtq_start(vq, dev->mem) < 0) {
        virtio_dev_fail(dev, (int)q, vq->error ? vq->error : VIRTIO_ERR_QUEUE_SIZE);
        return -1;
    }
    dev->queue_enabled[q] = true;
    return 0;
}

void virtio_dev_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
    memset(data, 0, len);
    if (dev->ops->config_read && off <= dev->ops->config_size && len <= dev->ops->config_size - off)
        dev->ops->config_read(dev, off, data, len);
}

void virtio_dev_config_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len)
{
    if (dev->ops->config_write && off <= dev->ops->config_size &&
        len <= dev->ops->config_size - off)
        dev->ops->config_write(dev, off, data, len);
}

uint8_t virtio_dev_config_generation(const struct virtio_dev *dev)
{
    return __atomic_load_n(&dev->config_generation, __ATOMIC_ACQUIRE);
}

static bool driver_ok(const struct virtio_dev *dev)
{
    return __atomic_load_n(&dev->status, __ATOMIC_RELAXED) & VIRTIO_STATUS_DRIVER_OK;
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
    __atomic_fetch_add(&dev->config_generation, 1, __ATOMIC_RELEASE);
    if (driver_ok(dev) && dev->irq)
        dev->irq->config(dev->irq_opaque);
}

void virtio_dev_notify_queue(struct virtio_dev *dev, unsigned q)
{
    if (dev->irq)
        dev->irq->queue(dev->irq_opaque, q);
}

int virtio_dev_queue_irqfd(struct virtio_dev *dev, unsigned q)
{
    return dev->irq && dev->irq->queue_irqfd ? dev->irq->queue_irqfd(dev->irq_opaque, q) : -1;
}

void virtio_dev_set_name(struct virtio_dev *dev, const char *name)
{
    snprintf(dev->name, sizeof(dev->name), "%s", name);
}

void virtio_dev_irq_changed(struct virtio_dev *dev)
{
    if (dev->active && dev->ops->irq_changed)
        dev->ops->irq_changed(dev);
}

void virtio_dev_fail(struct virtio_dev *dev, int q, enum virtio_error err)
{
    if (err == VIRTIO_ERR_NONE)
        err = VIRTIO_ERR_HOST;     /* a caller without a reason still stops the device */
    enum virtio_error none = VIRTIO_ERR_NONE;
    if (!__atomic_compare_exchange_n(&dev->error, &none, err, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;   /* already failed: nothing new to say or signal */
    char where[32] = "";
    if (q >= 0)
        snprintf(where, sizeof(where), "queue %d: ", q);
    const char *who = virtio_error_is_guest(err) ? "guest error, " : "";
    if (!__atomic_exchange_n(&dev->fail_logged, true, __ATOMIC_RELAXED))
        log_error("%s: %sdevice needs reset: %s%s", dev->name, who, where, virtio_error_name(err));
    else
        log_debug_rl(&dev->log_rl, "%s: %sdevice needs reset: %s%s", dev->name, who, where,
                     virtio_error_name(err));
    if (driver_ok(dev) && dev->irq)
        dev->irq->config(dev->irq_opaque);
    if (dev->ops->failed)
        dev->ops->failed(dev, err);
}
