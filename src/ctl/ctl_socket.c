#include "ctl/ctl_socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* 0 if nothing is at path or a stale socket was removed; -1 (reason in err) otherwise. */
static int clear_stale(const char *path, const struct sockaddr_un *addr, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "control socket %s: the path exists and is not a socket; not replacing it", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        return -1;
    }
    int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    close(fd);
    if (r == 0) {
        snprintf(err, errlen, "control socket %s is in use by another process", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "control socket %s: cannot tell whether it is stale: %s", path,
                 strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s", path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The file gets a's mode and group. The socket inode's mode is set before bind too, so
 * the file never has wider permissions than asked for, whatever the umask. */
static int bind_restricted(int fd, const char *path, const struct sockaddr_un *addr,
                           const struct ctl_access *a)
{
    if (fchmod(fd, a->mode) < 0 || bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
        return -1;
    if ((a->has_group && chown(path, (uid_t)-1, a->gid) < 0) || chmod(path, a->mode) < 0) {
        int err = errno;
        unlink(path);
        errno = err;
        return -1;
    }
    return 0;
}

int ctl_socket_listen(const char *path, const struct ctl_access *a, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "control socket path %s (at most %zu bytes)",
                 *path ? "too long" : "empty", sizeof(addr.sun_path) - 1);
        return -1;
    }
    strcpy(addr.sun_path, path);
    if (clear_stale(path, &addr, err, errlen) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind_restricted(fd, path, &addr, a) < 0 || listen(fd, 16) < 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool peer_in_group(int fd, gid_t primary, gid_t want)
{
    if (primary == want)
        return true;
    gid_t groups[256];
    socklen_t len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
        return false;
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (groups[i] == want)
            return true;
    return false;
}

bool ctl_socket_peer_allowed(int fd, const struct ctl_access *a, uid_t *uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    *uid = cred.uid;
    if (cred.uid == 0 || cred.uid == geteuid())
        return true;
    return a->has_group && peer_in_group(fd, cred.gid, a->gid);
}
