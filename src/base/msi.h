/* How device models deliver message-signalled interrupts without knowing about KVM.
 *
 * A route binds one MSI message (address/data, as programmed by the guest in an MSI-X
 * table entry) to an eventfd. Writing 1 to that eventfd injects the interrupt. With KVM
 * the route is a GSI routing entry plus an irqfd, so an I/O thread (or a vhost backend,
 * given the same fd as its call fd) interrupts the guest with no vpf vCPU involvement.
 * Tests implement these ops with plain eventfds. */
#ifndef VPF_BASE_MSI_H
#define VPF_BASE_MSI_H

#include <stdint.h>

struct msi_router_ops {
    /* Creates a route for (addr, data). Returns a handle >= 0 and stores the eventfd
     * to signal in *fd, or returns -1 if no route can be made (e.g. out of GSIs). */
    int (*route_add)(void *opaque, uint64_t addr, uint32_t data, int *fd);
    /* Re-targets an existing route; returns 0 or -1. */
    int (*route_update)(void *opaque, int handle, uint64_t addr, uint32_t data);
    /* Removes the route and closes its eventfd. */
    void (*route_remove)(void *opaque, int handle);
};

struct msi_router {
    const struct msi_router_ops *ops;
    void *opaque;
};

#endif
