/* The control socket's file and who may use it. Main thread (listen, at setup) and the
 * control thread (peer checks); no shared state. */
#ifndef VPF_CTL_CTL_SOCKET_H
#define VPF_CTL_CTL_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctl/ctl.h"

/* Binds and listens on path with a's mode and group. Something already at path is
 * replaced only if it is a socket nobody answers on (left by a vpf that died); a file of
 * any other kind, or a live socket, is an error. Returns the listening fd, or -1 with
 * the reason in err. */
int ctl_socket_listen(const char *path, const struct ctl_access *a, char *err, size_t errlen);
/* May the client on fd use the socket? Root, vpf's own effective uid, and with a group
 * its members (primary or supplementary). *uid: the client's. */
bool ctl_socket_peer_allowed(int fd, const struct ctl_access *a, uid_t *uid);

#endif
