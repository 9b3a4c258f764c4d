/* Watches for vhost-vdpa devices deleted under vpf (`vdpa dev del` by an admin, or the
 * management device going away): the kernel announces the removal of
 * /dev/vhost-vdpa-N with a kobject uevent (NETLINK_KOBJECT_UEVENT, "remove", DEVNAME
 * vhost-vdpa-N) and then waits, in drivers/vhost/vdpa.c vhost_vdpa_remove, until every
 * open fd of it is closed. vpf must therefore notice and let go.
 *
 * One thread for the process, started at the first vdpa_monitor_add, blocked in recv on
 * the uevent socket. Callbacks run on that thread with the monitor's lock held;
 * vdpa_monitor_del takes the same lock, so after it returns the callback of that minor
 * neither runs nor will. A callback must not call vdpa_monitor_add/del. */
#ifndef VPF_BACKEND_VDPA_MONITOR_H
#define VPF_BACKEND_VDPA_MONITOR_H

#include <stddef.h>

/* Calls fn(opaque) once when /dev/vhost-vdpa-<minor> is removed. Returns 0, or -1 if no
 * watch could be set up (the device then works, its deletion just goes unnoticed until
 * the VF goes down; logged). */
int vdpa_monitor_add(unsigned minor, void (*fn)(void *opaque), void *opaque);
void vdpa_monitor_del(unsigned minor);
/* Parses one uevent message: 1 and *minor if it is the removal of vhost-vdpa-N, else 0. */
int vdpa_monitor_parse(const char *msg, size_t len, unsigned *minor);

#endif
