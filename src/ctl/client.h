/* `vpf ctl SOCKET COMMAND [KEY=VALUE...]`: sends {"cmd": COMMAND, KEY: VALUE, ...} to a
 * running vpf's control socket and prints the reply. VALUE is a boolean for true/false,
 * an integer if it looks like one, a string otherwise. */
#ifndef VPF_CTL_CLIENT_H
#define VPF_CTL_CLIENT_H

#include <stddef.h>

/* Builds the request line (no newline) into out. Returns 0, or -1 if an argument is
 * not KEY=VALUE or the line does not fit. */
int ctl_client_build(int argc, char **argv, char *out, size_t cap);
/* Exit status: 0 if the reply says ok, 1 otherwise. */
int ctl_client_main(int argc, char **argv);

#endif
