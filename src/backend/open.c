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

int net_backend_open_mq(enum net_backend_type type, const char *ifname, unsigned npairs,
                        struct net_backend **be, char *err, size_t errlen)
{
    if (npairs <= 1) {
        be[0] = net_backend_open(type, ifname, err, errlen);
        return be[0] ? 0 : -1;
    }
    if (type != NET_BACKEND_TAP && type != NET_BACKEND_VHOST_NET) {
        snprintf(err, errlen, "%s has no tap queues: queues=%u needs tap or vhost-net",
                 net_backend_type_name(type), npairs);
        return -1;
    }
    for (unsigned k = 0; k < npairs; k++) {
        be[k] = type == NET_BACKEND_VHOST_NET ? vhost_net_open_queue(ifname, err, errlen)
                                              : tap_open_queue(ifname, err, errlen);
        if (!be[k]) {
            while (k--)
                net_backend_close(be[k]);
            return -1;
        }
    }
    /* The tap goes away with its last queue: whether vpf created it is the first's. */
    for (unsigned k = 1; k < npairs; k++)
        be[k]->tap_created = be[0]->tap_created;
    return 0;
}
