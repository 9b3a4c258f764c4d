#include "net/net_rate.h"

#include "base/clock.h"

/* At least one maximal GSO frame fits in the bucket, else such a frame could never
 * start at the full rate; otherwise 10 ms worth, which keeps bursts short. */
#define RATE_MIN_BURST (65536 + 14 + 4 + 12)

void net_rate_set(struct net_rate *r, uint32_t mbit, uint64_t now_ns)
{
    r->bytes_per_sec = net_rate_bytes_per_sec(mbit);
    r->burst = r->bytes_per_sec / 100;
    if (r->burst < RATE_MIN_BURST)
        r->burst = RATE_MIN_BURST;
    r->tokens = (int64_t)r->burst;
    r->last_ns = now_ns;
}

bool net_rate_may_send(struct net_rate *r, uint64_t now_ns)
{
    if (!r->bytes_per_sec)
        return true;
    if (now_ns > r->last_ns) {
        unsigned __int128 add = (unsigned __int128)(now_ns - r->last_ns) * r->bytes_per_sec /
                                NSEC_PER_SEC;
        unsigned __int128 room = (unsigned __int128)((int64_t)r->burst - r->tokens);
        if (add >= room) {
            r->tokens = (int64_t)r->burst;
            r->last_ns = now_ns;
        } else if (add) {
            r->tokens += (int64_t)add;
            /* Advance the clock only by the time paid for, keeping the remainder. */
            r->last_ns += (uint64_t)(add * NSEC_PER_SEC / r->bytes_per_sec);
        }
    }
    return r->tokens > 0;
}

void net_rate_charge(struct net_rate *r, uint64_t len)
{
    if (r->bytes_per_sec)
        r->tokens -= (int64_t)len;
}

uint64_t net_rate_wait_ns(const struct net_rate *r)
{
    if (!r->bytes_per_sec || r->tokens > 0)
        return 0;
    uint64_t need = (uint64_t)(-r->tokens) + 1;
    uint64_t ns = need * NSEC_PER_SEC / r->bytes_per_sec;
    return ns ? ns : 1;
}
