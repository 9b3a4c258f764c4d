/* A virtio device, independent of its transport (virtio 1.2 §2, §3).
 *
 * A device model (virtio-net, ...) fills a struct virtio_dev_ops and embeds a struct
 * virtio_dev. A transport (virtio-pci, a test harness) owns the registers: it forwards
 * feature words, status writes, queue configuration and device-config accesses to the
 * helpers below, and provides the interrupt callbacks. The common state machine lives here:
 * feature negotiation (§2.2, VERSION_1 required), FEATURES_OK check (§3.1.1), DRIVER_OK ->
 * activate, write 0 -> reset, DEVICE_NEEDS_RESET on guest errors (§2.1.2).
 *
 * Threads: the transport calls in from vCPU threads (config accesses may come from several;
 * the transport serialises them per device). The device's data path runs on its I/O thread
 * and only calls virtio_dev_fail() and virtio_dev_notify_*(), which are thread-safe.
 * Guest violations are values of enum virtio_error (virtio/errors.h), never strings. */
#ifndef VPF_VIRTIO_DEVICE_H
#define VPF_VIRTIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/guest_mem.h"
#include "base/log.h"
#include "virtio/errors.h"
#include "virtio/virtqueue.h"

#define VIRTIO_MAX_QUEUES 17   /* virtio-net: 8 pairs and a control queue */

/* Device status bits (virtio 1.2 §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

struct virtio_dev;

/* Interrupts, provided by the transport. May be called from any thread. */
struct virtio_irq_ops {
    void (*queue)(void *opaque, unsigned q);    /* used buffers on queue q */
    void (*config)(void *opaque);               /* config change (and NEEDS_RESET) */
    /* Optional: an eventfd that raises queue q's interrupt with no vpf code in between
     * (virtio-pci: the MSI-X vector's irqfd while it is unmasked and routed), or -1 while
     * the interrupt must go through queue(). Good until the device's irq_changed op
     * runs. An offload backend signals it directly (net_offload.c). */
    int (*queue_irqfd)(void *opaque, unsigned q);
};

struct virtio_dev_ops {
    const char *name;
    uint16_t device_id;                         /* virtio device type, VIRTIO_ID_* */
    unsigned num_queues;
    uint16_t queue_max_size;                    /* <= VIRTQ_MAX_SIZE, power of two */
    uint32_t config_size;                       /* device-specific config bytes */
    uint64_t (*get_features)(struct virtio_dev *dev);
    /* Optional device-specific dependency check at FEATURES_OK (e.g. virtio 1.2
     * §5.1.3.1); features is a subset of get_features() with VERSION_1. */
    bool (*check_features)(struct virtio_dev *dev, uint64_t features);
    /* off + len <= config_size, checked by the caller. */
    void (*config_read)(struct virtio_dev *dev, uint32_t off, void *data, unsigned len);
    void (*config_write)(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len);
    /* DRIVER_OK: dev->features negotiated, enabled queues started (vqs[i].started) with
     * kick_fds[i]. Start the data path. Return 0, or -1 (device then NEEDS_RESET). */
    int (*activate)(struct virtio_dev *dev);
    /* Stop the data path; when it returns nothing touches the queues or guest memory.
     * Called only after a successful activate. */
    void (*reset)(struct virtio_dev *dev);
    /* Optional, while active: the transport's queue_irqfd answers may have changed
     * (a vector masked, unmasked or re-assigned). Called on the thread that changed
     * them, with the transport's lock held; returns once the device uses the new ones. */
    void (*irq_changed)(struct virtio_dev *dev);
    /* Optional: the device has just become DEVICE_NEEDS_RESET (once until its reset),
     * for err. Any thread (the one that found the fault); must not block. */
    void (*failed)(struct virtio_dev *dev, enum virtio_error err);
};

struct virtio_dev {
    const struct virtio_dev_ops *ops;
    const struct guest_mem *mem;
    char name[32];              /* this instance, for logs ("net0vf1"); ops->name until set */
    struct virtq vqs[VIRTIO_MAX_QUEUES];
    bool queue_enabled[VIRTIO_MAX_QUEUES];
    /* Kick eventfds, one per queue, created by virtio_dev_init(). The VM binds them to
     * the notify addresses with KVM_IOEVENTFD; the data path polls them. */
    int kick_fds[VIRTIO_MAX_QUEUES];

    uint64_t driver_features;   /* as written by the driver */
    uint64_t features;          /* negotiated; valid once FEATURES_OK is set */
    uint8_t status;             /* driver-written bits; NEEDS_RESET kept apart */
    enum virtio_error error;    /* atomic: why NEEDS_RESET is set; NONE while it is not */
    bool fail_logged;           /* atomic; first failure logged as error, later ones debug */
    bool active;                /* activate() succeeded, reset() pending */
    uint8_t config_generation;  /* atomic */
    struct log_ratelimit log_rl;    /* this device's guest-triggered messages */

    const struct virtio_irq_ops *irq;
    void *irq_opaque;
};

/* Sets up the common state and the kick eventfds. Returns 0 or -1 (errno). */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
                    const struct guest_mem *mem);
/* Resets (stopping the data path) and closes the kick eventfds. */
void virtio_dev_destroy(struct virtio_dev *dev);
void virtio_dev_set_irq(struct virtio_dev *dev, const struct virtio_irq_ops *irq, void *opaque);
/* Names the instance in the device's log lines (setup, before the guest runs). */
void virtio_dev_set_name(struct virtio_dev *dev, const char *name);

static inline bool virtio_has_feature(uint64_t features, unsigned bit)
{
    return (features >> bit) & 1;
}

/* Feature words as the transport exposes them (select 0: bits 0-31, 1: bits 32-63). */
uint32_t virtio_dev_read_device_features(struct virtio_dev *dev, uint32_t sel);
uint32_t virtio_dev_read_driver_features(const struct virtio_dev *dev, uint32_t sel);
/* Ignored once FEATURES_OK is set (virtio 1.2 §3.1.1 step 5). */
void virtio_dev_write_driver_features(struct virtio_dev *dev, uint32_t sel, uint32_t val);

uint8_t virtio_dev_get_status(const struct virtio_dev *dev);
/* Driver status write: 0 resets; setting FEATURES_OK validates the negotiation (refused
 * -> the bit stays clear); setting DRIVER_OK activates the device. */
void virtio_dev_set_status(struct virtio_dev *dev, uint8_t status);
/* Full device reset (status write 0; transports also call it on their own reset). */
void virtio_dev_reset(struct virtio_dev *dev);

/* Validates and starts queue q's rings (transport queue_enable write). Returns 0, or -1
 * with the device marked NEEDS_RESET. */
int virtio_dev_enable_queue(struct virtio_dev *dev, unsigned q);

/* Device-specific config access; out-of-range bytes read as 0, writes are dropped. */
void virtio_dev_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len);
void virtio_dev_config_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len);
uint8_t virtio_dev_config_generation(const struct virtio_dev *dev);

/* Device config changed: bump the generation, interrupt if DRIVER_OK. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* Used-buffer interrupt for queue q. */
void virtio_dev_notify_queue(struct virtio_dev *dev, unsigned q);
/* The transport's direct eventfd for queue q's interrupt, or -1 (virtio_irq_ops). */
int virtio_dev_queue_irqfd(struct virtio_dev *dev, unsigned q);
/* Transport: the queue_irqfd answers may have changed; tells an active device. */
void virtio_dev_irq_changed(struct virtio_dev *dev);

/* The guest broke the protocol (or the host failed the device, VIRTIO_ERR_HOST): set
 * DEVICE_NEEDS_RESET, keep err as the reason unless one is kept already, log it (the
 * device's first failure as an error, later ones at debug, rate-limited) and send a
 * config interrupt (virtio 1.2 §2.1.2). q: the queue concerned, or -1. The caller stops
 * using the queues. Any thread. */
void virtio_dev_fail(struct virtio_dev *dev, int q, enum virtio_error err);
bool virtio_dev_failed(const struct virtio_dev *dev);
/* Why the device needs a reset; VIRTIO_ERR_NONE while it does not. Any thread. */
enum virtio_error virtio_dev_error(const struct virtio_dev *dev);

#endif
