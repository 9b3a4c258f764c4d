/* Test helper: a fake MSI router with one non-blocking eventfd per route, the handle being
 * the route's index, so a test reads fds[h] to see whether (and how often) a vector fired.
 * Header-only; used by the virtio-pci unit tests. */
#ifndef VPF_TESTS_FAKE_MSI_H
#define VPF_TESTS_FAKE_MSI_H

#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/msi.h"
#include "base/util.h"

struct fake_msi_router {
    int fds[16];
    unsigned n;
};

static inline int fake_msi_add(void *o, uint64_t addr, uint32_t data, int *fd)
{
    struct fake_msi_router *r = o;
    if (r->n == ARRAY_SIZE(r->fds))
        return -1;                  /* out of routes, as a real router may be */
    r->fds[r->n] = eventfd(0, EFD_NONBLOCK);
    *fd = r->fds[r->n];
    return (int)r->n++;
}
static inline int fake_msi_update(void *o, int h, uint64_t a, uint32_t d) { return 0; }
static inline void fake_msi_remove(void *o, int h) { close(((struct fake_msi_router *)o)->fds[h]); }
static const struct msi_router_ops fake_msi_ops = { fake_msi_add, fake_msi_update,
                                                    fake_msi_remove };

#endif
