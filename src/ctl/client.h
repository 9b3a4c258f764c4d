/* `vpf ctl [--json] SOCKET COMMAND [KEY=VALUE | KEY VALUE...]`: sends {"cmd": COMMAND,
 * KEY: VALUE, ...} to a running vpf's control socket and prints the reply, for people
 * (client_show.h) or, with --json, as the line vpf sent. A key and its value are one
 * word KEY=VALUE, or two words as iproute2 writes them (`vf-set dev net0 vf 3 vlan 100
 * qos 2 trust on` as `ip link set dev net0 vf 3 vlan 100 qos 2 trust on`). VALUE is a
 * boolean for true/false, an integer if it looks like one, a string otherwise. vf-tap
 * sends a tap's descriptor with the request (SCM_RIGHTS): tap=IFNAME opens the tap IFNAME
 * here (creating it; a privileged caller), fd=N sends the inherited descriptor N; neither
 * key goes into the request.
 *
 * Single-threaded (the vpf ctl process); no locks. */
#ifndef VPF_CTL_CLIENT_H
#define VPF_CTL_CLIENT_H

#include <stddef.h>

/* Seconds `vpf ctl` waits for the connection and the answer. */
#define CTL_CLIENT_TIMEOUT_S 30

/* Builds the request line (no newline), malloc'd. Returns NULL if an argument is not
 * KEY=VALUE or KEY VALUE (a key repeated counts as malformed) or out of memory. */
char *ctl_client_build(int argc, char **argv);
/* argv: vpf ctl's arguments (after "ctl"); options are taken out of it in place.
 * Exit status: 0 if the reply says ok (or --help), 1 otherwise, with the error on
 * stderr. */
int ctl_client_main(int argc, char **argv);

#endif
