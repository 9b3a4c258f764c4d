#include "virtio/iov.h"

#include <string.h>

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t chunk = iov[i].iov_len - off;
        if (chunk > len - done)
            chunk = len - done;
        memcpy((char *)buf + done, (char *)iov[i].iov_base + off, chunk);
        done += chunk;
        off = 0;
    }
    return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t chunk = iov[i].iov_len - off;
        if (chunk > len - done)
            chunk = len - done;
        memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, chunk);
        done += chunk;
        off = 0;
    }
    return done;
}

size_t iov_size(const struct iovec *iov, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}
