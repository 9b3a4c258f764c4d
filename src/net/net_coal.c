#include "net/net_coal.h"

#include "base/clock.h"

void net_coal_set(struct net_coal *c, uint32_t max_packets, uint32_t usecs)
{
    c->max_packets = max_packets;
    c->usecs = usecs;
    if (c->held)
        c->deadline_ns = 0;
}

bool net_coal_add(struct net_coal *c, unsigned n, uint64_t now_ns)
{
    if (!net_coal_on(c))
        return true;
    if (n) {
        if (!c->held)
            c->deadline_ns = now_ns + (uint64_t)c->usecs * NSEC_PER_USEC;
        c->held += n;
    }
    return c->held &&
           (c->held >= c->max_packets || c->held >= NET_COAL_MAX_HELD || c->deadline_ns <= now_ns);
}
