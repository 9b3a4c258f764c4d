/* Ethernet MAC addresses as text, "xx:xx:xx:xx:xx:xx": --net and vf-set parse them, logs
 * and the control socket print them. Pure functions; any thread. */
#ifndef VPF_NET_MAC_H
#define VPF_NET_MAC_H

#include <stdint.h>

#define MAC_STR_LEN 18          /* "xx:xx:xx:xx:xx:xx" and its NUL */

/* Parses "xx:xx:xx:xx:xx:xx" (hex, case-insensitive); rejects multicast addresses.
 * Returns 0, or -1 (mac then undefined). */
int net_parse_mac(const char *s, uint8_t mac[6]);
/* The same text form, lower-case. */
void net_format_mac(char out[MAC_STR_LEN], const uint8_t mac[6]);

#endif
