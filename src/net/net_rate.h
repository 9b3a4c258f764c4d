/* Token bucket for a function's transmit rate limit (`vf-set ... rate=MBIT`, as
 * `ip link set PF vf I max_tx_rate MBIT` on a NIC). Bytes are charged after a packet
 * went out, so the bucket may go into debt by one packet (a 64 KiB GSO frame at most);
 * transmission pauses while it is empty and resumes when it has refilled to above zero.
 * Pure arithmetic on a caller-supplied clock: unit-testable without time passing. */
#ifndef VPF_NET_NET_RATE_H
#define VPF_NET_NET_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define NET_MAX_RATE_MBIT 1000000     /* 1 Tbit/s */

struct net_rate {
    uint64_t bytes_per_sec;     /* 0: unlimited */
    uint64_t burst;             /* bucket size in bytes */
    int64_t tokens;             /* may be negative: the debt of the last packet */
    uint64_t last_ns;
};

/* mbit Mbit/s in bytes per second (the unit of bytes_per_sec). */
static inline uint64_t net_rate_bytes_per_sec(uint32_t mbit)
{
    return (uint64_t)mbit * 1000000 / 8;
}

/* (Re)configures: mbit Mbit/s (0: unlimited), a full bucket as of now_ns. */
void net_rate_set(struct net_rate *r, uint32_t mbit, uint64_t now_ns);
/* Refills for the time since the last call; true if a packet may go now. */
bool net_rate_may_send(struct net_rate *r, uint64_t now_ns);
/* A packet of len bytes went out. */
void net_rate_charge(struct net_rate *r, uint64_t len);
/* Nanoseconds until may_send() turns true (at least 1 while it is false). */
uint64_t net_rate_wait_ns(const struct net_rate *r);

#endif
