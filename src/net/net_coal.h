/* Notification coalescing for one queue (virtio 1.3 §5.1.6.5 "Notifications Coalescing",
 * VIRTIO_NET_F_NOTF_COAL; the guest sets it with `ethtool -C DEV rx-usecs U rx-frames F`).
 * Used buffers are published to the ring at once, but the notification that tells the
 * driver about them is held until usecs have passed since the first held buffer, or
 * max_packets buffers are held, whichever comes first. As the spec says, usecs 0 or
 * max_packets 0 means no coalescing: the conditions are met after every packet. The
 * driver's own suppression (EVENT_IDX, NO_INTERRUPT) still applies when the held
 * notification is finally checked. Pure arithmetic on a caller-supplied clock; the
 * device owns the timer. */
#ifndef VPF_NET_NET_COAL_H
#define VPF_NET_NET_COAL_H

#include <stdbool.h>
#include <stdint.h>

/* Longest delay a driver may ask for; above, the command fails (VIRTIO_NET_ERR). */
#define NET_COAL_MAX_USECS 1000000u
/* Held buffers that make a notification due whatever the parameters: the used idx is 16
 * bits, and EVENT_IDX's check (vring_need_event) needs the distance from the last check
 * to stay far below 65536. */
#define NET_COAL_MAX_HELD 32768u

struct net_coal {
    uint32_t max_packets;       /* 0: no coalescing */
    uint32_t usecs;             /* 0: no coalescing */
    uint32_t held;              /* buffers published since the last notification check */
    uint64_t deadline_ns;       /* when the held ones are due (while held != 0) */
};

/* New parameters; whatever is held is due now. */
void net_coal_set(struct net_coal *c, uint32_t max_packets, uint32_t usecs);
static inline bool net_coal_on(const struct net_coal *c) { return c->usecs && c->max_packets; }
/* n buffers (0: none new) were published at now_ns. true: check for a notification now
 * (then call net_coal_done). false: hold; the caller's timer must fire at c->deadline_ns. */
bool net_coal_add(struct net_coal *c, unsigned n, uint64_t now_ns);
/* The held buffers were checked for a notification. */
static inline void net_coal_done(struct net_coal *c)
{
    c->held = 0;
    c->deadline_ns = 0;
}
/* Something is held and due by now_ns. */
static inline bool net_coal_due(const struct net_coal *c, uint64_t now_ns)
{
    return c->held && c->deadline_ns <= now_ns;
}

#endif
