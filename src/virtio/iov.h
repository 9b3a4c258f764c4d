/* Copying between flat buffers and iovec arrays (guest buffers after virtq_pop). */
#ifndef VPF_VIRTIO_IOV_H
#define VPF_VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy up to len bytes from iov, starting at byte offset off, into buf. Returns the
 * number of bytes copied (less than len if iov is shorter). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
/* Copy up to len bytes from buf into iov at byte offset off. Returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
/* Total bytes described by iov. */
size_t iov_size(const struct iovec *iov, unsigned n);

#endif
