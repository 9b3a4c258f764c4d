#include "net/mac.h"

#include <stdio.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
        if (lo < 0)
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s != (i < 5 ? ':' : '\0'))
            return -1;
        if (i < 5)
            s++;
    }
    return (mac[0] & 1) ? -1 : 0;   /* group bit: not a station address */
}

void net_format_mac(char out[MAC_STR_LEN], const uint8_t mac[6])
{
    snprintf(out, MAC_STR_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
}
