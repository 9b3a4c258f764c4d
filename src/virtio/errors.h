/* Why a virtio device stopped: the guest broke a rule of the virtio protocol (virtio 1.2
 * §2.1.2: the device then sets DEVICE_NEEDS_RESET), or, rarely, the host failed under
 * it. A value, not a string, as rust-vmm's virtio-queue Error: the code that finds the
 * violation returns it, the device model passes it to virtio_dev_fail(), which records
 * it (virtio_dev_error()) and logs its name once; tests and fuzzers compare values.
 *
 * Threads: none; pure. */
#ifndef VPF_VIRTIO_ERRORS_H
#define VPF_VIRTIO_ERRORS_H

#include <stdbool.h>

enum virtio_error {
    VIRTIO_ERR_NONE = 0,

    /* The split virtqueue (virtio 1.2 §2.7), found by virtqueue.c. */
    VIRTIO_ERR_QUEUE_SIZE,              /* not a power of two, or above the maximum */
    VIRTIO_ERR_RING_ALIGN,              /* a ring address misaligned (§2.7) */
    VIRTIO_ERR_RING_ADDR,               /* a ring outside guest RAM */
    VIRTIO_ERR_QUEUE_NOT_STARTED,       /* the queue is used before it was started */
    VIRTIO_ERR_AVAIL_IDX,               /* avail idx ahead by more than the queue size */
    VIRTIO_ERR_HEAD_INDEX,              /* an avail ring entry out of the table */
    VIRTIO_ERR_NEXT_INDEX,              /* a descriptor's next out of the table */
    VIRTIO_ERR_CHAIN_LOOP,              /* a chain longer than the queue: a loop (§2.7.5.2) */
    VIRTIO_ERR_DESC_ZERO_LEN,           /* a buffer of 0 bytes */
    VIRTIO_ERR_DESC_ADDR,               /* a buffer outside guest RAM or across a region */
    VIRTIO_ERR_DESC_ORDER,              /* device-readable after device-writable (§2.7.4.2) */
    VIRTIO_ERR_CHAIN_TOO_LONG,          /* more than VIRTQ_MAX_CHAIN descriptors */
    VIRTIO_ERR_CHAIN_TOO_BIG,           /* more than 4 GiB one way */
    VIRTIO_ERR_INDIRECT_FEATURE,        /* indirect without VIRTIO_F_INDIRECT_DESC */
    VIRTIO_ERR_INDIRECT_NEXT,           /* an indirect descriptor with NEXT (§2.7.5.3.1) */
    VIRTIO_ERR_INDIRECT_LEN,            /* a table length not a non-zero multiple of 16 */
    VIRTIO_ERR_INDIRECT_TOO_BIG,        /* a table of more than VIRTQ_MAX_CHAIN entries */
    VIRTIO_ERR_INDIRECT_ADDR,           /* a table outside guest RAM */
    VIRTIO_ERR_INDIRECT_LOOP,           /* a loop inside a table */
    VIRTIO_ERR_INDIRECT_NESTED,         /* an indirect descriptor inside a table */
    VIRTIO_ERR_INDIRECT_NEXT_INDEX,     /* a table entry's next out of the table */

    /* A well-formed chain the device type cannot use, found by the device model. */
    VIRTIO_ERR_CHAIN_DIRECTION,         /* buffers of the wrong direction for the queue */
    VIRTIO_ERR_CHAIN_TOO_SHORT,         /* smaller than the device's header or status byte */

    /* Device status (virtio 1.2 §2.1.2, §3.1.1), found by device.c. */
    VIRTIO_ERR_STATUS_CLEARED,          /* a status bit cleared without a reset */
    VIRTIO_ERR_DRIVER_OK_EARLY,         /* DRIVER_OK without FEATURES_OK */
    VIRTIO_ERR_QUEUE_LATE,              /* a queue enabled after DRIVER_OK */

    /* Not the guest's rule, but the device cannot go on either. */
    VIRTIO_ERR_BACKEND_RING,            /* an offload backend found a ring broken */
    VIRTIO_ERR_HOST,                    /* the host failed the device (logged where it did) */

    VIRTIO_ERR_COUNT
};

/* A short phrase for logs, e.g. "descriptor chain loops"; "unknown error" if out of range. */
const char *virtio_error_name(enum virtio_error e);
/* True for the guest's violations (everything but NONE, BACKEND_RING and HOST). */
bool virtio_error_is_guest(enum virtio_error e);

#endif
