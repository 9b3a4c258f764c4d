#include "net/net_opts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"
#include "net/mac.h"

/* fd=N: an open tap vpf inherited (not stdin, stdout or stderr: the guest's console). */
static int parse_fd(struct net_opts *o, const char *val, char *err, size_t errlen)
{
    char *end, why[192];
    errno = 0;
    long fd = strtol(val, &end, 10);
    if (*val < '0' || *val > '9' || *end || errno || fd < 3 || fd > INT_MAX) {
        snprintf(err, errlen,
                 "--net: fd= wants the number of an open tap file descriptor "
                 "(3 or more), not '%s'",
                 val);
        return -1;
    }
    if (tap_check_fd((int)fd, o->tap, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--net: fd %ld: %s", fd, why);
        return -1;
    }
    o->tap_fd = (int)fd;
    return 0;
}

/* Exactly one place for the packets: tap=, fd=, (backend=vhost-vdpa) vdpa= or
 * (backend=vhost-user) socket=. */
static int check_source(const struct net_opts *o, int have_tap, char *err, size_t errlen)
{
    if (have_tap && o->tap_fd >= 0) {
        snprintf(err, errlen, "--net: tap=IFNAME and fd=N both name the tap: give one");
        return -1;
    }
    if (o->backend == NET_BACKEND_VHOST_USER) {
        if (!o->socket[0] || o->tap[0] || o->vdpa[0]) {
            snprintf(err, errlen,
                     "--net: backend=vhost-user wants socket=PATH and no tap=, fd= "
                     "or vdpa=");
            return -1;
        }
    } else if (o->socket[0] || o->vu_server_set) {
        snprintf(err, errlen, "--net: socket= and vhost-user-server= need backend=vhost-user");
        return -1;
    } else if (o->backend == NET_BACKEND_VHOST_VDPA) {
        if (!o->vdpa[0] || o->tap[0]) {
            snprintf(err, errlen,
                     "--net: backend=vhost-vdpa wants vdpa=/dev/vhost-vdpa-N and "
                     "no tap= or fd=");
            return -1;
        }
    } else if (o->vdpa[0]) {
        snprintf(err, errlen, "--net: vdpa=PATH needs backend=vhost-vdpa");
        return -1;
    } else if (!o->tap[0]) {
        snprintf(err, errlen, "--net: tap=IFNAME (or fd=N) is required");
        return -1;
    }
    return 0;
}

/* queues=N > 1: the queues of a multi-queue tap, which vpf opens itself (tap or
 * vhost-net), or N pairs on one vhost-user connection; a vDPA device gets one pair. */
static int check_queues(const struct net_opts *o, char *err, size_t errlen)
{
    if (o->queues <= 1)
        return 0;
    if (o->backend != NET_BACKEND_TAP && o->backend != NET_BACKEND_VHOST_NET &&
        o->backend != NET_BACKEND_VHOST_USER) {
        snprintf(err, errlen,
                 "--net: queues=%u needs backend=tap, vhost-net or vhost-user (backend=%s has "
                 "one queue pair)",
                 o->queues, net_backend_type_name(o->backend));
        return -1;
    }
    if (o->tap_fd >= 0) {
        snprintf(err, errlen,
                 "--net: queues=%u needs tap=IFNAME: fd=N is a single queue of its tap", o->queues);
        return -1;
    }
    return 0;
}

static int net_opts_parse_buf(char *buf, struct net_opts *o, char *err, size_t errlen)
{
    int have_mac = 0, have_tap = 0;
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "--net: expected key=value, got '%s'", kv);
            return -1;
        }
        *eq = '\0';
        const char *val = eq + 1;
        if (!strcmp(kv, "tap")) {
            size_t len = strlen(val);
            if (len == 0 || len >= IFNAMSIZ || strchr(val, '/')) {
                snprintf(err, errlen, "--net: invalid tap name '%s'", val);
                return -1;
            }
            memcpy(o->tap, val, len + 1);
            have_tap = 1;
        } else if (!strcmp(kv, "fd")) {
            if (parse_fd(o, val, err, errlen) < 0)
                return -1;
        } else if (!strcmp(kv, "mac")) {
            if (net_parse_mac(val, o->mac) < 0) {
                snprintf(err, errlen, "--net: invalid MAC '%s' (want xx:xx:xx:xx:xx:xx, unicast)",
                         val);
                return -1;
            }
            have_mac = 1;
        } else if (!strcmp(kv, "backend")) {
            if (net_backend_parse_type(val, &o->backend) < 0) {
                snprintf(err, errlen,
                         "--net: backend must be tap, vhost-net, vhost-vdpa or vhost-user, "
                         "not '%s'",
                         val);
                return -1;
            }
        } else if (!strcmp(kv, "vdpa")) {
            if (!val[0] || strlen(val) >= sizeof(o->vdpa)) {
                snprintf(err, errlen,
                         "--net: vdpa= wants a /dev/vhost-vdpa-N path of at most %zu characters",
                         sizeof(o->vdpa) - 1);
                return -1;
            }
            strcpy(o->vdpa, val);
        } else if (!strcmp(kv, "socket")) {
            if (!val[0] || strlen(val) >= sizeof(o->socket)) {
                snprintf(err, errlen,
                         "--net: socket= wants a vhost-user socket path of 1 to %zu "
                         "characters",
                         sizeof(o->socket) - 1);
                return -1;
            }
            strcpy(o->socket, val);
        } else if (!strcmp(kv, "queues")) {
            if (net_parse_queues(kv, val, &o->queues, err, errlen) < 0)
                return -1;
        } else if (!strcmp(kv, "vhost-user-server")) {
            if (strcmp(val, "on") && strcmp(val, "off")) {
                snprintf(err, errlen, "--net: vhost-user-server must be on or off, not '%s'", val);
                return -1;
            }
            o->vu_server = !strcmp(val, "on");
            o->vu_server_set = true;
        } else {
            int r = pf_policy_parse_key(&o->vf, kv, val, err, errlen);
            if (r == 0)
                snprintf(err, errlen, "--net: unknown key '%s'", kv);
            if (r <= 0)
                return -1;
        }
    }
    if (check_source(o, have_tap, err, errlen) < 0 || check_queues(o, err, errlen) < 0)
        return -1;
    if (!have_mac) {
        uint8_t r[3] = { 0 };
        if (getrandom(r, sizeof(r), 0) != sizeof(r))
            log_warn("--net: getrandom failed, using a fixed MAC");
        const uint8_t m[6] = { 0x52, 0x54, 0x00, r[0], r[1], r[2] };
        memcpy(o->mac, m, 6);
    }
    return pf_policy_check(&o->vf, o->mac, err, errlen);
}

int net_opts_parse(const char *arg, struct net_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->tap_fd = -1;
    o->queues = 1;
    pf_policy_init(&o->vf);
    /* Room for a vf-mac list of NET_MAX_VFS MACs. */
    if (strlen(arg) > 256 + 18 * NET_MAX_VFS) {
        snprintf(err, errlen, "--net: option too long");
        return -1;
    }
    char *buf = strdup(arg);
    if (!buf) {
        snprintf(err, errlen, "--net: out of memory");
        return -1;
    }
    int ret = net_opts_parse_buf(buf, o, err, errlen);
    free(buf);
    return ret;
}
