/* Published events waiting for the control thread (ctl.h, "Events"). Internal to src/ctl.
 * The list is guarded by the server's event_lock; any thread publishes, the control
 * thread takes. */
#ifndef VPF_CTL_CTL_EVENTS_H
#define VPF_CTL_CTL_EVENTS_H

#include <stddef.h>

#include "ctl/ctl.h"

struct ctl_event {
    struct ctl_event *next;
    size_t len;
    char line[];                /* the event's JSON line, with its newline */
};

/* Returns 0, or -1 with errno set (ctl_server_init words it). */
int ctl_events_init(struct ctl_server *s);
void ctl_events_destroy(struct ctl_server *s);
/* From now on published events are kept (start), or dropped (stop). */
void ctl_events_accept(struct ctl_server *s, bool on);
/* Control thread: everything published so far, oldest first (the caller frees each);
 * *dropped: events lost to a full list since the last take. */
struct ctl_event *ctl_events_take(struct ctl_server *s, unsigned long *dropped);
/* A new event line for name/data (data's reference taken); NULL when out of memory. */
struct ctl_event *ctl_event_new(const char *name, json_t *data);

#endif
