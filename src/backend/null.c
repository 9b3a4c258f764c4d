/* null backend: stands in for a backend that could not be opened (an SR-IOV VF whose tap
 * failed), so the function still exists for the guest, with its link held down. It
 * never has a packet to receive and drops what it is sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"

static uint64_t null_features(struct net_backend *be) { return 0; }
static int null_set_features(struct net_backend *be, uint64_t features) { return 0; }

static ssize_t null_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    return (ssize_t)len;
}

static ssize_t null_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    return -EAGAIN;
}

static void null_close(struct net_backend *be)
{
    close(be->fd);
    free(be);
}

static const struct net_backend_ops null_ops = {
    .type = "null",
    .kind = NET_BACKEND_USERSPACE,
    .features = null_features,
    .set_features = null_set_features,
    .close = null_close,
    .send = null_send,
    .recv = null_recv,
};

struct net_backend *null_open(const char *name)
{
    struct net_backend *be = calloc(1, sizeof(*be));
    /* An eventfd that is never written: never readable, so never polled in vain. */
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!be || fd < 0) {
        log_error("null backend: %s", fd < 0 ? "eventfd failed" : "out of memory");
        if (fd >= 0)
            close(fd);
        free(be);
        return NULL;
    }
    be->ops = &null_ops;
    be->fd = fd;
    be->hdr_len = NET_BACKEND_HDR_LEN;
    snprintf(be->name, sizeof(be->name), "%s", name);
    return be;
}
