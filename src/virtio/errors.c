#include "virtio/errors.h"

#include <stddef.h>

#include "base/util.h"

static const char *const names[VIRTIO_ERR_COUNT] = {
    [VIRTIO_ERR_NONE] = "no error",
    [VIRTIO_ERR_QUEUE_SIZE] = "queue size not a power of two or too large",
    [VIRTIO_ERR_RING_ALIGN] = "misaligned ring address",
    [VIRTIO_ERR_RING_ADDR] = "ring outside guest RAM",
    [VIRTIO_ERR_QUEUE_NOT_STARTED] = "queue used before it was started",
    [VIRTIO_ERR_AVAIL_IDX] = "avail idx moved ahead by more than the queue size",
    [VIRTIO_ERR_HEAD_INDEX] = "avail ring head index out of range",
    [VIRTIO_ERR_NEXT_INDEX] = "descriptor next index out of range",
    [VIRTIO_ERR_CHAIN_LOOP] = "descriptor chain loops or exceeds the queue size",
    [VIRTIO_ERR_DESC_ZERO_LEN] = "zero-length descriptor",
    [VIRTIO_ERR_DESC_ADDR] = "buffer outside guest RAM or across a RAM region boundary",
    [VIRTIO_ERR_DESC_ORDER] = "device-readable descriptor after a device-writable one",
    [VIRTIO_ERR_CHAIN_TOO_LONG] = "descriptor chain too long",
    [VIRTIO_ERR_CHAIN_TOO_BIG] = "descriptor chain longer than 4 GiB",
    [VIRTIO_ERR_INDIRECT_FEATURE] = "indirect descriptor without VIRTIO_F_INDIRECT_DESC",
    [VIRTIO_ERR_INDIRECT_NEXT] = "indirect descriptor with NEXT set",
    [VIRTIO_ERR_INDIRECT_LEN] = "indirect table length not a non-zero multiple of 16",
    [VIRTIO_ERR_INDIRECT_TOO_BIG] = "indirect table too large",
    [VIRTIO_ERR_INDIRECT_ADDR] = "indirect table outside guest RAM",
    [VIRTIO_ERR_INDIRECT_LOOP] = "loop in indirect descriptor table",
    [VIRTIO_ERR_INDIRECT_NESTED] = "indirect descriptor inside an indirect table",
    [VIRTIO_ERR_INDIRECT_NEXT_INDEX] = "indirect descriptor next index out of the table",
    [VIRTIO_ERR_CHAIN_DIRECTION] = "buffer of the wrong direction for the queue",
    [VIRTIO_ERR_CHAIN_TOO_SHORT] = "buffer too small for the device's header or status",
    [VIRTIO_ERR_STATUS_CLEARED] = "status bit cleared without a reset",
    [VIRTIO_ERR_DRIVER_OK_EARLY] = "DRIVER_OK without FEATURES_OK",
    [VIRTIO_ERR_QUEUE_LATE] = "queue enabled after DRIVER_OK",
    [VIRTIO_ERR_BACKEND_RING] = "the offload backend found the ring broken",
    [VIRTIO_ERR_HOST] = "the device failed on the host",
};

const char *virtio_error_name(enum virtio_error e)
{
    return (unsigned)e < ARRAY_SIZE(names) && names[e] ? names[e] : "unknown error";
}

bool virtio_error_is_guest(enum virtio_error e)
{
    return e != VIRTIO_ERR_NONE && e != VIRTIO_ERR_BACKEND_RING && e != VIRTIO_ERR_HOST &&
           (unsigned)e < VIRTIO_ERR_COUNT;
}
