/* Backend types by name (--net backend=, vf-backend=) and opening one. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/util.h"

static const char *const type_names[] = {
    [NET_BACKEND_TAP] = "tap",
    [NET_BACKEND_VHOST_NET] = "vhost-net",
    [NET_BACKEND_VHOST_VDPA] = "vhost-vdpa",
    [NET_BACKEND_VHOST_USER] = "vhost-user",
};

const char *net_backend_type_name(enum net_backend_type type)
{
    return (unsigned)type < ARRAY_SIZE(type_names) ? type_names[type] : "?";
}

int net_backend_parse_type(const char *s, enum net_backend_type *type)
{
    for (unsigned i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (!strcmp(s, type_names[i])) {
            *type = (enum net_backend_type)i;
            return 0;
        }
    }
    return -1;
}

struct net_backend *net_backend_open(enum net_backend_type type, const char *ifname, char *err,
                                     size_t errlen)
{
    if (type == NET_BACKEND_VHOST_NET)
        return vhost_net_open(ifname, err, errlen);
    if (type == NET_BACKEND_VHOST_VDPA) {
        snprintf(err, errlen, "vhost-vdpa needs a vDPA device (vdpa=PATH), not a tap");
        return NULL;
    }
    if (type == NET_BACKEND_VHOST_USER) {
        snprintf(err, errlen, "vhost-user needs a socket (socket=PATH), not a tap");
        return NULL;
    }
    return tap_open(ifname, err, errlen);
}

struct net_backend *net_backend_open_fd(enum net_backend_type type, int fd, char *err,
                                        size_t errlen)
{
    if (type == NET_BACKEND_VHOST_NET)
        return vhost_net_open_fd(fd, err, errlen);
    if (type == NET_BACKEND_VHOST_VDPA) {
        snprintf(err, errlen, "vhost-vdpa needs a vDPA device, not a tap");
        close(fd);
        return NULL;
    }
    if (type == NET_BACKEND_VHOST_USER) {
        snprintf(err, errlen, "vhost-user needs a socket (socket=PATH), not a tap");
        close(fd);
        return NULL;
    }
    return tap_open_fd(fd, err, errlen);
}
