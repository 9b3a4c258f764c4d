#include "net/pf_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "net/mac.h"
#include "net/net_rate.h"

void pf_policy_init(struct pf_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->spoofchk = true;
    p->vf_queues = 1;
}

int net_parse_queues(const char *key, const char *val, unsigned *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(val, &end, 10);
    if (*val < '0' || *val > '9' || *end || errno || n < 1 || n > VIRTIO_NET_MAX_PAIRS) {
        snprintf(err, errlen, "--net: %s='%s': the number of queue pairs must be from 1 to %d", key,
                 val, VIRTIO_NET_MAX_PAIRS);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int parse_total(struct pf_policy *p, const char *val, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(val, &end, 10);
    if (*val < '0' || *val > '9' || *end || errno || n < 1 || n > NET_MAX_VFS) {
        snprintf(err, errlen, "--net: total-vfs '%s' must be a number from 1 to %d", val,
                 NET_MAX_VFS);
        return -1;
    }
    p->total_vfs = (unsigned)n;
    return 1;
}

/* "MAC;MAC;..." (';' because ',' separates --net keys). */
static int parse_macs(struct pf_policy *p, const char *val, char *err, size_t errlen)
{
    unsigned n = 0;
    for (const char *s = val;; s++) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char one[18];
        if (n == NET_MAX_VFS) {
            snprintf(err, errlen, "--net: vf-mac lists more than %d MACs", NET_MAX_VFS);
            return -1;
        }
        if (len >= sizeof(one) ||
            (memcpy(one, s, len), one[len] = '\0', net_parse_mac(one, p->vf_macs[n]) < 0)) {
            snprintf(err, errlen,
                     "--net: vf-mac: invalid MAC '%.*s' (want xx:xx:xx:xx:xx:xx, unicast)",
                     (int)len, s);
            return -1;
        }
        n++;
        if (!e)
            break;
        s = e;
    }
    p->nvf_macs = n;
    return 1;
}

int pf_policy_parse_key(struct pf_policy *p, const char *key, const char *val, char *err,
                        size_t errlen)
{
    if (!strcmp(key, "total-vfs"))
        return parse_total(p, val, err, errlen);
    if (!strcmp(key, "vf-mac"))
        return parse_macs(p, val, err, errlen);
    if (!strcmp(key, "vf-queues")) {
        if (net_parse_queues(key, val, &p->vf_queues, err, errlen) < 0)
            return -1;
        p->vf_queues_set = true;
        return 1;
    }
    if (!strcmp(key, "vf-tap")) {
        if (strlen(val) >= sizeof(p->vf_tap)) {
            snprintf(err, errlen, "--net: vf-tap pattern '%s' is too long for an interface name",
                     val);
            return -1;
        }
        strcpy(p->vf_tap, val);
        return 1;
    }
    if (!strcmp(key, "vf-spoofchk")) {
        if (strcmp(val, "on") && strcmp(val, "off")) {
            snprintf(err, errlen, "--net: vf-spoofchk must be on or off, not '%s'", val);
            return -1;
        }
        p->spoofchk = !strcmp(val, "on");
        p->spoofchk_set = true;
        return 1;
    }
    if (!strcmp(key, "vf-backend")) {
        if (net_backend_parse_type(val, &p->vf_backend) < 0) {
            snprintf(err, errlen,
                     "--net: vf-backend must be tap, vhost-net, vhost-vdpa or vhost-user, "
                     "not '%s'",
                     val);
            return -1;
        }
        return 1;
    }
    if (!strcmp(key, "vf-socket")) {
        if (!val[0] || strlen(val) >= sizeof(p->vf_socket) - 4) {
            snprintf(err, errlen, "--net: vf-socket must be 1 to %zu characters",
                     sizeof(p->vf_socket) - 5);
            return -1;
        }
        strcpy(p->vf_socket, val);
        return 1;
    }
    if (!strcmp(key, "vf-vhost-user-server")) {
        if (strcmp(val, "on") && strcmp(val, "off")) {
            snprintf(err, errlen, "--net: vf-vhost-user-server must be on or off, not '%s'", val);
            return -1;
        }
        p->vf_vu_server = !strcmp(val, "on");
        p->vf_vu_server_set = true;
        return 1;
    }
    if (!strcmp(key, "vf-vdpa-mgmtdev") || !strcmp(key, "vf-vdpa")) {
        bool mgmt = !strcmp(key, "vf-vdpa-mgmtdev");
        char *dst = mgmt ? p->vf_vdpa_mgmtdev : p->vf_vdpa;
        if (!val[0] || strlen(val) >= sizeof(p->vf_vdpa)) {
            snprintf(err, errlen, "--net: %s must be 1 to %zu characters", key,
                     sizeof(p->vf_vdpa) - 1);
            return -1;
        }
        strcpy(dst, val);
        return 1;
    }
    return 0;
}

/* Exactly one %d and no other conversion; characters Linux accepts in a name
 * (net/core/dev.c dev_valid_name: no '/', ':' or white space). */
static int check_pattern(const char *pat)
{
    const char *d = strstr(pat, "%d");
    if (!d || strchr(d + 2, '%') || memchr(pat, '%', (size_t)(d - pat)))
        return -1;
    for (const char *c = pat; *c; c++)
        if (*c == '/' || *c == ':' || *c <= ' ' || *c == 0x7f)
            return -1;
    return 0;
}

bool pf_policy_vf_offloaded(const struct pf_policy *p)
{
    return p->vf_backend == NET_BACKEND_VHOST_NET || p->vf_backend == NET_BACKEND_VHOST_VDPA ||
           p->vf_backend == NET_BACKEND_VHOST_USER;
}

void pf_policy_vf_socket(const struct pf_policy *p, unsigned i, char path[108])
{
    const char *d = strstr(p->vf_socket, "%d");
    if (!d) {
        path[0] = '\0';
        return;
    }
    snprintf(path, 108, "%.*s%u%s", (int)(d - p->vf_socket), p->vf_socket, i, d + 2);
}

void pf_policy_vf_vdpa(const struct pf_policy *p, unsigned i, char path[64])
{
    const char *d = strstr(p->vf_vdpa, "%d");
    if (!d) {
        path[0] = '\0';
        return;
    }
    snprintf(path, 64, "%.*s%u%s", (int)(d - p->vf_vdpa), p->vf_vdpa, i, d + 2);
}

void pf_policy_vf_tap(const struct pf_policy *p, unsigned i, char name[IFNAMSIZ])
{
    const char *d = strstr(p->vf_tap, "%d");
    if (!d) {               /* no tap (vhost-vdpa VFs) */
        name[0] = '\0';
        return;
    }
    snprintf(name, IFNAMSIZ, "%.*s%u%s", (int)(d - p->vf_tap), p->vf_tap, i, d + 2);
}

void pf_policy_vf_mac(const struct pf_policy *p, const uint8_t pf_mac[6], unsigned i,
                      uint8_t mac[6])
{
    if (i < p->nvf_macs) {
        memcpy(mac, p->vf_macs[i], 6);
        return;
    }
    uint32_t low = (uint32_t)pf_mac[3] << 16 | (uint32_t)pf_mac[4] << 8 | pf_mac[5];
    low = (low + i + 1) & 0xffffff;
    memcpy(mac, pf_mac, 3);
    mac[3] = (uint8_t)(low >> 16);
    mac[4] = (uint8_t)(low >> 8);
    mac[5] = (uint8_t)low;
}

int pf_policy_check(struct pf_policy *p, const uint8_t pf_mac[6], char *err, size_t errlen)
{
    if (!p->total_vfs) {
        if (p->vf_tap[0] || p->nvf_macs || p->spoofchk_set || p->vf_backend != NET_BACKEND_TAP ||
            p->vf_vdpa[0] || p->vf_vdpa_mgmtdev[0] || p->vf_socket[0] || p->vf_vu_server_set ||
            p->vf_queues_set) {
            snprintf(err, errlen,
                     "--net: vf-tap, vf-mac, vf-backend, vf-vdpa, vf-vdpa-mgmtdev, "
                     "vf-socket, vf-vhost-user-server, vf-spoofchk and vf-queues need "
                     "total-vfs=N");
            return -1;
        }
        return 0;
    }
    /* vhost-vdpa devices get one queue pair (multi-queue there: later). */
    if (p->vf_queues > 1 && p->vf_backend != NET_BACKEND_TAP &&
        p->vf_backend != NET_BACKEND_VHOST_NET && p->vf_backend != NET_BACKEND_VHOST_USER) {
        snprintf(err, errlen,
                 "--net: vf-queues=%u needs vf-backend=tap, vhost-net or vhost-user "
                 "(vf-backend=%s has one queue pair)",
                 p->vf_queues, net_backend_type_name(p->vf_backend));
        return -1;
    }
    /* vhost-net and vDPA move VF frames outside vpf: it cannot look at source MACs there. */
    if (pf_policy_vf_offloaded(p)) {
        if (p->spoofchk_set && p->spoofchk) {
            snprintf(err, errlen,
                     "--net: vf-spoofchk=on needs vf-backend=tap (with %s the frames bypass "
                     "vpf, it cannot check them)",
                     net_backend_type_name(p->vf_backend));
            return -1;
        }
        p->spoofchk = false;
    }
    if (p->vf_backend == NET_BACKEND_VHOST_USER) {
        const char *d = strstr(p->vf_socket, "%d");
        if (p->vf_tap[0] || p->vf_vdpa[0] || p->vf_vdpa_mgmtdev[0] || !d || strchr(d + 2, '%') ||
            memchr(p->vf_socket, '%', (size_t)(d - p->vf_socket))) {
            snprintf(
                err, errlen,
                "--net: vf-backend=vhost-user wants vf-socket=PATTERN with exactly "
                "one %%d and no other %% (e.g. /run/switch/vf%%d.sock), and no vf-tap or vf-vdpa");
            return -1;
        }
    } else if (p->vf_socket[0] || p->vf_vu_server_set) {
        snprintf(err, errlen,
                 "--net: vf-socket and vf-vhost-user-server need vf-backend=vhost-user");
        return -1;
    } else if (p->vf_backend == NET_BACKEND_VHOST_VDPA) {
        if (p->vf_tap[0] || !p->vf_vdpa[0] == !p->vf_vdpa_mgmtdev[0]) {
            snprintf(err, errlen,
                     "--net: vf-backend=vhost-vdpa wants one of vf-vdpa-mgmtdev=MGMTDEV and "
                     "vf-vdpa=PATTERN, and no vf-tap");
            return -1;
        }
        const char *d = strstr(p->vf_vdpa, "%d");
        int digits = snprintf(NULL, 0, "%u", p->total_vfs - 1);
        if (p->vf_vdpa[0] &&
            (!d || strchr(d + 2, '%') || memchr(p->vf_vdpa, '%', (size_t)(d - p->vf_vdpa)) ||
             strlen(p->vf_vdpa) - 2 + (size_t)digits >= sizeof(p->vf_vdpa))) {
            snprintf(err, errlen,
                     "--net: vf-vdpa '%s' must contain exactly one %%d and no other %%, e.g. "
                     "/dev/vhost-vdpa-%%d",
                     p->vf_vdpa);
            return -1;
        }
    } else if (p->vf_vdpa[0] || p->vf_vdpa_mgmtdev[0]) {
        snprintf(err, errlen, "--net: vf-vdpa and vf-vdpa-mgmtdev need vf-backend=vhost-vdpa");
        return -1;
    }
    bool no_tap = p->vf_backend == NET_BACKEND_VHOST_VDPA ||
                  p->vf_backend == NET_BACKEND_VHOST_USER;
    if (!no_tap && !p->vf_tap[0]) {
        snprintf(err, errlen, "--net: total-vfs needs vf-tap=PATTERN (e.g. vf-tap=vpfvf%%d)");
        return -1;
    }
    /* The longest name is the last VF's: the pattern minus "%d" plus its digits. */
    int digits = snprintf(NULL, 0, "%u", p->total_vfs - 1);
    if (!no_tap &&
        (check_pattern(p->vf_tap) < 0 || strlen(p->vf_tap) - 2 + (size_t)digits >= IFNAMSIZ)) {
        snprintf(err, errlen,
                 "--net: vf-tap '%s' must contain exactly one %%d, no other %%, '/', ':' or "
                 "space, and give names shorter than %d characters",
                 p->vf_tap, IFNAMSIZ);
        return -1;
    }
    if (p->nvf_macs > p->total_vfs) {
        snprintf(err, errlen, "--net: vf-mac lists %u MACs for %u VFs", p->nvf_macs, p->total_vfs);
        return -1;
    }
    uint8_t macs[NET_MAX_VFS + 1][6];
    memcpy(macs[0], pf_mac, 6);
    for (unsigned i = 0; i < p->total_vfs; i++)
        pf_policy_vf_mac(p, pf_mac, i, macs[i + 1]);
    for (unsigned a = 0; a <= p->total_vfs; a++) {
        for (unsigned b = a + 1; b <= p->total_vfs; b++) {
            if (memcmp(macs[a], macs[b], 6))
                continue;
            const uint8_t *m = macs[a];
            snprintf(err, errlen,
                     "--net: MAC %02x:%02x:%02x:%02x:%02x:%02x is given to %s and VF %u", m[0],
                     m[1], m[2], m[3], m[4], m[5], a ? "another VF" : "the PF", b - 1);
            return -1;
        }
    }
    return 0;
}

/* ---- run-time VF settings (iproute2's `ip link set PF vf I ...`) ---- */

void pf_policy_vf_conf(const struct pf_policy *p, const uint8_t pf_mac[6], unsigned i,
                       struct pf_vf_conf *c)
{
    memset(c, 0, sizeof(*c));
    pf_policy_vf_mac(p, pf_mac, i, c->port.mac);
    c->port.admin_mac = i < p->nvf_macs;
    c->port.spoofchk = p->spoofchk;
    c->link = PF_VF_LINK_AUTO;
}

const char *pf_vf_link_name(enum pf_vf_link l)
{
    return l == PF_VF_LINK_ENABLE ? "enable" : l == PF_VF_LINK_DISABLE ? "disable" : "auto";
}

const char *pf_vf_proto_name(enum virtio_net_vlan_proto p)
{
    return p == VIRTIO_NET_VLAN_8021AD ? "802.1ad" : "802.1Q";
}

/* A refused change: its class, and the reason for the client in err. */
__attribute__((format(printf, 4, 5))) static enum pf_vf_change_err
refuse(enum pf_vf_change_err e, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return e;
}

/* vlan [qos] [proto] into *port, as one setting (ip link's IFLA_VF_VLAN_LIST entry).
 * VID 0 is "no VLAN" here (802.1Q-2018 Table 9-2 reserves it for priority tags) and
 * 4095 is reserved. */
static enum pf_vf_change_err vlan_change(struct virtio_net_port *port, const struct pf_vf_change *c,
                                         char *err, size_t errlen)
{
    if (!c->has_vlan) {
        if (c->has_qos || c->proto)
            return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                          "qos and proto go with vlan (as in ip link: "
                          "vlan VID [qos PCP] [proto 802.1Q|802.1ad])");
        return PF_VF_OK;
    }
    if (c->vlan < 0 || c->vlan > 4094)
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "vlan must be a number from 0 (none) to 4094 "
                      "(4095 is reserved, IEEE 802.1Q Table 9-2)");
    if (c->has_qos && (c->qos < 0 || c->qos > 7))
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "qos must be an 802.1p priority from 0 to 7");
    enum virtio_net_vlan_proto proto = VIRTIO_NET_VLAN_8021Q;
    if (c->proto && !strcasecmp(c->proto, "802.1ad"))
        proto = VIRTIO_NET_VLAN_8021AD;
    else if (c->proto && strcasecmp(c->proto, "802.1Q"))
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "proto must be 802.1Q or 802.1ad, not \"%.32s\"", c->proto);
    if (!c->vlan && ((c->has_qos && c->qos) || proto != VIRTIO_NET_VLAN_8021Q))
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "vlan 0 removes the VLAN: qos must be 0 and proto 802.1Q there");
    port->vlan = (uint16_t)c->vlan;
    port->vlan_qos = c->has_qos ? (uint8_t)c->qos : 0;
    port->vlan_proto = proto;
    return PF_VF_OK;
}

/* max_tx_rate (or rate, its older name) and min_tx_rate, in Mbit/s. */
static enum pf_vf_change_err rate_change(struct virtio_net_port *port, const struct pf_vf_change *c,
                                         char *err, size_t errlen)
{
    if (c->has_rate && c->has_max_tx_rate && c->rate != c->max_tx_rate)
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "rate is max_tx_rate's older name: give one of them");
    int64_t max = c->has_max_tx_rate ? c->max_tx_rate : c->rate;
    if ((c->has_max_tx_rate || c->has_rate) && (max < 0 || max > NET_MAX_RATE_MBIT))
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                      "max_tx_rate must be a number of Mbit/s from 0 (unlimited) to %d",
                      NET_MAX_RATE_MBIT);
    if (c->has_min_tx_rate && c->min_tx_rate < 0)
        return refuse(PF_VF_BAD_ARGUMENT, err, errlen, "min_tx_rate must be a number of Mbit/s");
    if (c->has_min_tx_rate && c->min_tx_rate)
        return refuse(PF_VF_NOT_SUPPORTED, err, errlen,
                      "min_tx_rate: vpf guarantees a VF no bandwidth "
                      "(only 0 is accepted); max_tx_rate limits it");
    if (c->has_max_tx_rate || c->has_rate)
        port->max_tx_rate = (uint32_t)max;
    return PF_VF_OK;
}

static enum pf_vf_change_err link_change(enum pf_vf_link *link, const char *state, char *err,
                                         size_t errlen)
{
    static const enum pf_vf_link all[] = { PF_VF_LINK_AUTO, PF_VF_LINK_ENABLE, PF_VF_LINK_DISABLE };
    if (!state)
        return PF_VF_OK;
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        if (!strcmp(state, pf_vf_link_name(all[i]))) {
            *link = all[i];
            return PF_VF_OK;
        }
    }
    return refuse(PF_VF_BAD_ARGUMENT, err, errlen,
                  "state must be auto (the PF's link), enable or disable, not \"%.32s\"", state);
}

enum pf_vf_change_err pf_policy_vf_change(const struct pf_policy *p, unsigned i,
                                          struct pf_vf_conf *c, const struct pf_vf_change *change,
                                          char *err, size_t errlen)
{
    struct pf_vf_conf n = *c;
    enum pf_vf_change_err e;
    if ((e = vlan_change(&n.port, change, err, errlen)) != PF_VF_OK ||
        (e = rate_change(&n.port, change, err, errlen)) != PF_VF_OK ||
        (e = link_change(&n.link, change->state, err, errlen)) != PF_VF_OK)
        return e;
    if (change->mac) {
        memcpy(n.port.mac, change->mac, 6);
        n.port.admin_mac = true;
    }
    if (change->has_spoofchk)
        n.port.spoofchk = change->spoofchk;
    if (change->has_trust)
        n.port.trust = change->trust;
    /* vhost-net, vDPA and vhost-user move VF frames outside vpf: nothing to tag, check or
     * limit. */
    if (pf_policy_vf_offloaded(p) && (n.port.vlan || n.port.spoofchk || n.port.max_tx_rate))
        return refuse(
            PF_VF_NOT_SUPPORTED, err, errlen,
            "VF %u is on %s: %s moves its frames, vpf can neither tag a VLAN, check source MACs nor limit the rate there",
            i, net_backend_type_name(p->vf_backend),
            p->vf_backend == NET_BACKEND_VHOST_VDPA   ? "the vDPA device"
            : p->vf_backend == NET_BACKEND_VHOST_USER ? "the vhost-user switch"
                                                      : "the kernel");
    *c = n;
    return PF_VF_OK;
}
