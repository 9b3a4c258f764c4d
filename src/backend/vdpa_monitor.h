/* Watches for vhost-vdpa devices deleted under vpf (`vdpa dev del` by an admin, or the
 * management device going away). The kernel's drivers/vhost/vdpa.c vhost_vdpa_remove
 * first deletes the character device (cdev_device_del: devtmpfs unlinks
 * /dev/vhost-vdpa-N) and then waits, uninterruptibly, until every open fd of it is
 * closed; vpf must therefore notice and let go. The vhost-vdpa device has neither bus
 * nor class, so no uevent announces it (drivers/base/core.c dev_uevent_filter); the
 * unlink in /dev does: an inotify IN_DELETE (devtmpfs removes nodes with vfs_unlink,
 * which notifies).
 *
 * One thread for the process, started at the first vdpa_monitor_add, blocked in read on
 * an inotify fd watching /dev. Callbacks run on that thread with the monitor's lock
 * held; vdpa_monitor_del takes the same lock, so after it returns the callback of that
 * minor neither runs nor will. A callback must not call vdpa_monitor_add/del. */
#ifndef VPF_BACKEND_VDPA_MONITOR_H
#define VPF_BACKEND_VDPA_MONITOR_H

#include <stddef.h>

/* Calls fn(opaque) once when /dev/vhost-vdpa-<minor> is removed. Returns 0, or -1 if no
 * watch could be set up (the device then works, its deletion just goes unnoticed until
 * the VF goes down; logged). */
int vdpa_monitor_add(unsigned minor, void (*fn)(void *opaque), void *opaque);
void vdpa_monitor_del(unsigned minor);
/* A /dev entry's name: 1 and *minor if it is "vhost-vdpa-N", else 0. */
int vdpa_monitor_parse(const char *name, unsigned *minor);

#endif
