#include "net/net_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
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

void net_format_mac(char out[18], const uint8_t mac[6])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int net_opts_parse_buf(char *buf, struct net_opts *o)
{
    int have_mac = 0;
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            log_error("--net: expected key=value, got '%s'", kv);
            return -1;
        }
        *eq = '\0';
        const char *val = eq + 1;
        if (!strcmp(kv, "tap")) {
            size_t len = strlen(val);
            if (len == 0 || len >= IFNAMSIZ || strchr(val, '/')) {
                log_error("--net: invalid tap name '%s'", val);
                return -1;
            }
            memcpy(o->tap, val, len + 1);
        } else if (!strcmp(kv, "mac")) {
            if (net_parse_mac(val, o->mac) < 0) {
                log_error("--net: invalid MAC '%s' (want xx:xx:xx:xx:xx:xx, unicast)", val);
                return -1;
            }
            have_mac = 1;
        } else if (!strcmp(kv, "backend")) {
            if (net_backend_parse_type(val, &o->backend) < 0) {
                log_error("--net: backend must be tap, vhost-net, vhost-vdpa or vhost-user, not '%s'", val);
                return -1;
            }
        } else if (!strcmp(kv, "vdpa")) {
            if (!val[0] || strlen(val) >= sizeof(o->vdpa)) {
                log_error("--net: vdpa= wants a /dev/vhost-vdpa-N path of at most %zu characters",
                          sizeof(o->vdpa) - 1);
                return -1;
            }
            strcpy(o->vdpa, val);
        } else if (!strcmp(kv, "socket")) {
            if (!val[0] || strlen(val) >= sizeof(o->socket)) {
                log_error("--net: socket= wants a vhost-user socket path of 1 to %zu characters",
                          sizeof(o->socket) - 1);
                return -1;
            }
            strcpy(o->socket, val);
        } else if (!strcmp(kv, "vhost-user-server")) {
            if (strcmp(val, "on") && strcmp(val, "off")) {
                log_error("--net: vhost-user-server must be on or off, not '%s'", val);
                return -1;
            }
            o->vu_server = !strcmp(val, "on");
            o->vu_server_set = true;
        } else {
            int r = pf_policy_parse_key(&o->vf, kv, val);
            if (r == 0)
                log_error("--net: unknown key '%s'", kv);
            if (r <= 0)
                return -1;
        }
    }
    if (o->backend == NET_BACKEND_VHOST_USER) {
        if (!o->socket[0] || o->tap[0] || o->vdpa[0]) {
            log_error("--net: backend=vhost-user wants socket=PATH and no tap= or vdpa=");
            return -1;
        }
    } else if (o->socket[0] || o->vu_server_set) {
        log_error("--net: socket= and vhost-user-server= need backend=vhost-user");
        return -1;
    } else if (o->backend == NET_BACKEND_VHOST_VDPA) {
        if (!o->vdpa[0] || o->tap[0]) {
            log_error("--net: backend=vhost-vdpa wants vdpa=/dev/vhost-vdpa-N and no tap=");
            return -1;
        }
    } else if (o->vdpa[0]) {
        log_error("--net: vdpa=PATH needs backend=vhost-vdpa");
        return -1;
    } else if (!o->tap[0]) {
        log_error("--net: tap=IFNAME is required");
        return -1;
    }
    if (!have_mac) {
        uint8_t r[3] = { 0 };
        if (getrandom(r, sizeof(r), 0) != sizeof(r))
            log_warn("--net: getrandom failed, using a fixed MAC");
        const uint8_t m[6] = { 0x52, 0x54, 0x00, r[0], r[1], r[2] };
        memcpy(o->mac, m, 6);
    }
    return pf_policy_check(&o->vf, o->mac);
}

int net_opts_parse(const char *arg, struct net_opts *o)
{
    memset(o, 0, sizeof(*o));
    pf_policy_init(&o->vf);
    /* Room for a vf-mac list of NET_MAX_VFS MACs. */
    if (strlen(arg) > 256 + 18 * NET_MAX_VFS) {
        log_error("--net: option too long");
        return -1;
    }
    char *buf = strdup(arg);
    if (!buf) {
        log_error("--net: out of memory");
        return -1;
    }
    int ret = net_opts_parse_buf(buf, o);
    free(buf);
    return ret;
}
