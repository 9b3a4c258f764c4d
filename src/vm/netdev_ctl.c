/* Control commands of the VM's network devices: "devices", "vfs", "vf-set", "link",
 * "stats". A device is a PF (net0) or one of its VFs while it is up (net0vf3). */
#include "vm/netdev.h"
#include "vm/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/net_opts.h"
#include "net/net_rate.h"

/* A device found by name. A VF is used with its manager's lock held until nic_put(). */
struct nic {
    const char *name;
    struct virtio_net *net;
    struct netdev *pf;              /* the PF, or the VF's PF */
    struct net_vf *vf;              /* NULL for a PF */
};

static bool nic_get(struct vm *vm, const struct ctl_request *req, struct ctl_reply *reply,
                    struct nic *out)
{
    const char *name = ctl_arg_str(req, "dev");     /* required: checked by the server */
    for (unsigned i = 0; i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        if (!strcmp(d->name, name)) {
            *out = (struct nic){ d->name, d->net, d, NULL };
            return true;
        }
        if (!d->vfs || strncmp(name, d->name, strlen(d->name)))
            continue;
        net_vf_mgr_lock(d->vfs);
        struct net_vf *vf = net_vf_mgr_find(d->vfs, name);
        if (vf) {
            *out = (struct nic){ vf->name, vf->net, d, vf };
            return true;
        }
        net_vf_mgr_unlock(d->vfs);
    }
    ctl_reply_fail(reply, CTL_ERR_NOT_FOUND, "no device \"%s\"", name);
    return false;
}

/* A vhost-user function: its socket and the connection's state ("socket", "peer"). */
static void add_peer(json_t *o, struct virtio_net *net)
{
    const char *sock, *state;
    if (o && virtio_net_backend_peer(net, &sock, &state) == 0) {
        json_object_set_new(o, "socket", json_string(sock));
        json_object_set_new(o, "peer", json_string(state));
        json_object_set_new(o, "carrier", json_boolean(virtio_net_carrier(net)));
    }
}

static void nic_put(struct nic *n)
{
    if (n->vf)
        net_vf_mgr_unlock(n->pf->vfs);
}

static void ctl_devices(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    json_t *list = json_array();
    for (unsigned i = 0; list && i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        const struct net_opts *o = &vm->cfg->nets[i];
        uint8_t mac[6];
        char macs[18], pci[16];
        virtio_net_get_mac(d->net, mac);
        net_format_mac(macs, mac);
        snprintf(pci, sizeof(pci), "0000:00:%02x.%x", d->devfn >> 3, d->devfn & 7);
        json_t *dev = json_pack("{s:s,s:s,s:s,s:o,s:b,s:i,s:s}", "dev", d->name, "pci", pci,
                                "mac", macs, "tap", ctl_json_str(o->tap), "link",
                                virtio_net_link_up(d->net), "total_vfs", o->vf.total_vfs,
                                "backend", virtio_net_backend_type(d->net));
        if (dev && o->vdpa[0])
            json_object_set_new(dev, "vdpa", json_string(o->vdpa));
        add_peer(dev, d->net);
        if (dev && o->vf.total_vfs)
            json_object_set_new(dev, "vf_backend", json_string(net_backend_type_name(o->vf.vf_backend)));
        if (json_array_append_new(list, dev) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    ctl_reply_set(reply, "devices", list);
}

/* One VF as a JSON object. */
static json_t *vf_json(const struct net_vf *vf, const struct virtio_net_port *port)
{
    struct virtio_net_stats s;
    virtio_net_get_stats(vf->net, &s);
    char mac[18], pci[16];
    net_format_mac(mac, vf->mac);
    snprintf(pci, sizeof(pci), "0000:00:%02x.%x", vf->devfn >> 3, vf->devfn & 7);
    char err[256];
    const char *error = vf->error;
    if (!error[0] && virtio_net_backend_error(vf->net, err, sizeof(err)) == 0)
        error = err;
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:o,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:b,s:I,s:s,s:s,s:o}",
                     "vf", vf->index, "dev", vf->name, "pci", pci, "mac", mac,
                     "tap", ctl_json_str(vf->tap), "link", virtio_net_link_up(vf->net),
                     "rx_packets", (json_int_t)s.rx_packets, "rx_bytes", (json_int_t)s.rx_bytes,
                     "tx_packets", (json_int_t)s.tx_packets, "tx_bytes", (json_int_t)s.tx_bytes,
                     "tx_dropped", (json_int_t)s.tx_dropped, "tx_spoofed", (json_int_t)s.tx_spoofed,
                     "vlan", port->vlan, "spoofchk", port->spoofchk,
                     "rate", (json_int_t)port->max_tx_rate, "backend", virtio_net_backend_type(vf->net),
                     "counters", virtio_net_stats_source(vf->net), "error", ctl_json_str(error));
    /* vhost-vdpa VFs: the vDPA device (e.g. as `vdpa dev show` lists it). */
    if (o && vf->vdpa_dev[0])
        json_object_set_new(o, "vdpa", json_string(vf->vdpa_dev));
    add_peer(o, vf->net);
    return o;
}

json_t *netdev_vfs_json(struct net_vf_mgr *m)
{
    json_t *list = json_array();
    unsigned up = 0;
    net_vf_mgr_lock(m);
    for (unsigned i = 0; list && i < m->nvfs; i++) {
        const struct net_vf *vf = m->vfs[i];
        if (!vf)
            continue;
        char mac[18], pci[16];
        net_format_mac(mac, vf->mac);
        snprintf(pci, sizeof(pci), "0000:00:%02x.%x", vf->devfn >> 3, vf->devfn & 7);
        up++;
        json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:b,s:o}", "vf", vf->index,
                              "dev", vf->name, "pci", pci, "mac", mac, "tap", ctl_json_str(vf->tap),
                              "backend", virtio_net_backend_type(vf->net), "link",
                              virtio_net_link_up(vf->net), "error", ctl_json_str(vf->error));
        if (o && vf->vdpa_dev[0])
            json_object_set_new(o, "vdpa", json_string(vf->vdpa_dev));
        add_peer(o, vf->net);
        json_array_append_new(list, o);
    }
    net_vf_mgr_unlock(m);
    return json_pack("{s:s,s:i,s:o*}", "dev", m->pf_name, "num_vfs", up, "vfs", list);
}

static void ctl_vfs(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct nic n;
    if (!nic_get(opaque, req, reply, &n))
        return;
    if (n.vf || !n.pf->vfs) {
        ctl_reply_fail(reply, CTL_ERR_NOT_SUPPORTED, "%s is not an SR-IOV PF (--net total-vfs=N)",
                       n.name);
        nic_put(&n);
        return;
    }
    struct net_vf_mgr *m = n.pf->vfs;
    json_t *list = json_array();
    unsigned up = 0;
    net_vf_mgr_lock(m);
    for (unsigned i = 0; list && i < m->nvfs; i++) {
        if (!m->vfs[i])
            continue;
        up++;
        if (json_array_append_new(list, vf_json(m->vfs[i], &m->ports[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    net_vf_mgr_unlock(m);
    ctl_reply_str(reply, "dev", n.name);
    ctl_reply_int(reply, "total_vfs", m->policy->total_vfs);
    ctl_reply_int(reply, "num_vfs", up);
    ctl_reply_set(reply, "vfs", list);
}

/* Does any function other than (pf, vf) own mac? Names the owner in who. */
static bool mac_taken(struct vm *vm, const uint8_t mac[6], const struct netdev *pf, unsigned vf,
                      char *who, size_t cap)
{
    for (unsigned i = 0; i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        if (!memcmp(vm->cfg->nets[i].mac, mac, 6)) {
            snprintf(who, cap, "%s", d->name);
            return true;
        }
        if (!d->vfs)
            continue;
        bool hit = false;
        net_vf_mgr_lock(d->vfs);
        for (unsigned j = 0; j < d->vfs->policy->total_vfs && !hit; j++) {
            if ((d != pf || j != vf) && !memcmp(d->vfs->ports[j].mac, mac, 6)) {
                snprintf(who, cap, "%svf%u", d->name, j);
                hit = true;
            }
        }
        net_vf_mgr_unlock(d->vfs);
        if (hit)
            return true;
    }
    return false;
}

/* vf-set dev=PF vf=I [mac=MAC] [vlan=0-4094] [spoofchk=true|false] [rate=MBIT]: VF I's
 * port, as `ip link set PF vf I mac/vlan/spoofchk/max_tx_rate` on a NIC; for a VF that is
 * down too (kept for when the guest brings it up). A new MAC reaches the guest at its
 * next driver probe. */
static void ctl_vf_set(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    struct nic n;
    int64_t vf = -1, vlan = -1, rate = -1;
    bool spoofchk;
    const char *mac_s = ctl_arg_str(req, "mac");
    bool have_spoofchk = ctl_arg_bool(req, "spoofchk", &spoofchk);
    uint8_t mac[6];
    ctl_arg_int(req, "vf", &vf);                    /* required: checked by the server */
    if (ctl_arg_int(req, "vlan", &vlan) && (vlan < 0 || vlan > 4094)) {
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "vlan must be a number from 0 (none) to 4094");
        return;
    }
    if (ctl_arg_int(req, "rate", &rate) && (rate < 0 || rate > NET_MAX_RATE_MBIT)) {
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT,
                       "rate must be a number of Mbit/s from 0 (unlimited) to %d", NET_MAX_RATE_MBIT);
        return;
    }
    if (mac_s && net_parse_mac(mac_s, mac) < 0) {
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT,
                       "invalid MAC \"%s\" (want xx:xx:xx:xx:xx:xx, unicast)", mac_s);
        return;
    }
    if (!nic_get(vm, req, reply, &n))
        return;
    struct netdev *pf = n.pf;
    if (n.vf || !pf->vfs) {
        ctl_reply_fail(reply, CTL_ERR_NOT_SUPPORTED, "%s is not an SR-IOV PF (--net total-vfs=N)",
                       n.name);
        nic_put(&n);
        return;
    }
    struct net_vf_mgr *m = pf->vfs;
    if (vf < 0 || vf >= m->policy->total_vfs) {
        ctl_reply_fail(reply, CTL_ERR_NOT_FOUND, "%s has VFs 0 to %u", pf->name,
                       m->policy->total_vfs - 1);
        return;
    }
    char who[48];
    if (mac_s && mac_taken(vm, mac, pf, (unsigned)vf, who, sizeof(who))) {
        ctl_reply_fail(reply, CTL_ERR_CONFLICT, "MAC %s is %s's", mac_s, who);
        return;
    }
    net_vf_mgr_lock(m);
    struct virtio_net_port p = m->ports[vf];
    if (mac_s)
        memcpy(p.mac, mac, 6);
    if (vlan >= 0)
        p.vlan = (uint16_t)vlan;
    if (have_spoofchk)
        p.spoofchk = spoofchk;
    if (rate >= 0)
        p.max_tx_rate = (uint32_t)rate;
    if (pf_policy_vf_offloaded(m->policy) && (p.vlan || p.spoofchk || p.max_tx_rate)) {
        net_vf_mgr_unlock(m);
        ctl_reply_fail(reply, CTL_ERR_NOT_SUPPORTED,
                       "VF %u is on %s: %s moves its frames, vpf can "
                       "neither tag a VLAN, check source MACs nor limit the rate there",
                       (unsigned)vf, net_backend_type_name(m->policy->vf_backend),
                       m->policy->vf_backend == NET_BACKEND_VHOST_VDPA ? "the vDPA device" :
                       m->policy->vf_backend == NET_BACKEND_VHOST_USER ? "the vhost-user switch" : "the kernel");
        return;
    }
    net_vf_mgr_set_port(m, (unsigned)vf, &p);
    bool up = (unsigned)vf < m->nvfs && m->vfs[vf];
    net_vf_mgr_unlock(m);
    char macs[18];
    net_format_mac(macs, p.mac);
    log_info("%s: VF %u: mac %s, vlan %u, spoof check %s, rate %u Mbit/s (control socket, uid %u)",
             pf->name, (unsigned)vf, macs, p.vlan, p.spoofchk ? "on" : "off", p.max_tx_rate,
             (unsigned)req->uid);
    ctl_reply_str(reply, "dev", pf->name);
    ctl_reply_int(reply, "vf", vf);
    ctl_reply_str(reply, "mac", macs);
    ctl_reply_int(reply, "vlan", p.vlan);
    ctl_reply_bool(reply, "spoofchk", p.spoofchk);
    ctl_reply_int(reply, "rate", p.max_tx_rate);
    ctl_reply_bool(reply, "up", up);
}

static void ctl_link(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    bool up = false;
    ctl_arg_bool(req, "up", &up);                   /* required: checked by the server */
    struct nic n;
    if (!nic_get(opaque, req, reply, &n))
        return;
    char err[256];
    const char *sock, *state;
    /* A vhost-user peer comes back by itself: the host's link is its own business. */
    bool has_peer = virtio_net_backend_peer(n.net, &sock, &state) == 0;
    if (up && n.vf && n.vf->error[0]) {
        ctl_reply_error(reply, "%s has no backend: %s", n.name, n.vf->error);
    } else if (up && !has_peer && virtio_net_backend_error(n.net, err, sizeof(err)) == 0) {
        ctl_reply_error(reply, "%s has no backend: %s", n.name, err);
    } else {
        virtio_net_set_link(n.net, up);
        log_info("%s: link %s (control socket, uid %u)", n.name, up ? "up" : "down",
                 (unsigned)req->uid);
        ctl_server_publish(&((struct vm *)opaque)->ctl, "link",
                           json_pack("{s:s,s:b,s:s}", "dev", n.name, "up", up, "by", "host"));
        ctl_reply_str(reply, "dev", n.name);
        ctl_reply_bool(reply, "up", up);
    }
    nic_put(&n);
}

static void ctl_stats(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct nic n;
    if (!nic_get(opaque, req, reply, &n))
        return;
    struct virtio_net_stats s;
    virtio_net_get_stats(n.net, &s);
    ctl_reply_str(reply, "dev", n.name);
    ctl_reply_bool(reply, "link", virtio_net_link_up(n.net));
    ctl_reply_int(reply, "rx_packets", (int64_t)s.rx_packets);
    ctl_reply_int(reply, "rx_bytes", (int64_t)s.rx_bytes);
    ctl_reply_int(reply, "rx_dropped", (int64_t)s.rx_dropped);
    ctl_reply_int(reply, "rx_errors", (int64_t)s.rx_errors);
    ctl_reply_int(reply, "tx_packets", (int64_t)s.tx_packets);
    ctl_reply_int(reply, "tx_bytes", (int64_t)s.tx_bytes);
    ctl_reply_int(reply, "tx_dropped", (int64_t)s.tx_dropped);
    ctl_reply_int(reply, "tx_errors", (int64_t)s.tx_errors);
    ctl_reply_int(reply, "tx_spoofed", (int64_t)s.tx_spoofed);
    /* The guest's interrupt moderation (ethtool -C in Linux). */
    struct virtio_net_coalesce c;
    virtio_net_get_coalesce(n.net, &c);
    ctl_reply_int(reply, "rx_usecs", c.rx_usecs);
    ctl_reply_int(reply, "rx_max_packets", c.rx_max_packets);
    ctl_reply_int(reply, "tx_usecs", c.tx_usecs);
    ctl_reply_int(reply, "tx_max_packets", c.tx_max_packets);
    ctl_reply_str(reply, "backend", virtio_net_backend_type(n.net));
    /* Offloaded: the kernel moves the packets, the counters are the tap's. */
    ctl_reply_str(reply, "counters", virtio_net_stats_source(n.net));
    char err[256];
    if (n.vf && n.vf->error[0])
        ctl_reply_str(reply, "error", n.vf->error);
    else if (virtio_net_backend_error(n.net, err, sizeof(err)) == 0)
        ctl_reply_str(reply, "error", err);
    if (n.vf && n.vf->vdpa_dev[0])
        ctl_reply_str(reply, "vdpa", n.vf->vdpa_dev);
    const char *sock, *state;
    if (virtio_net_backend_peer(n.net, &sock, &state) == 0) {
        ctl_reply_str(reply, "socket", sock);
        ctl_reply_str(reply, "peer", state);
        ctl_reply_bool(reply, "carrier", virtio_net_carrier(n.net));
    }
    nic_put(&n);
}

static const struct ctl_arg args_none[] = { { NULL } };
static const struct ctl_arg args_dev[] = { { "dev", CTL_ARG_STR, true }, { NULL } };
static const struct ctl_arg args_link[] = {
    { "dev", CTL_ARG_STR, true }, { "up", CTL_ARG_BOOL, true }, { NULL } };
static const struct ctl_arg args_vf_set[] = {
    { "dev", CTL_ARG_STR, true }, { "vf", CTL_ARG_INT, true }, { "mac", CTL_ARG_STR, false },
    { "vlan", CTL_ARG_INT, false }, { "spoofchk", CTL_ARG_BOOL, false },
    { "rate", CTL_ARG_INT, false }, { NULL } };

void netdev_register_ctl(struct vm *vm, struct ctl_server *ctl)
{
    ctl_server_register(ctl, "devices", "list network devices", args_none, ctl_devices, vm);
    ctl_server_register(ctl, "vfs", "list an SR-IOV PF's VFs: dev=NAME", args_dev, ctl_vfs, vm);
    ctl_server_register(ctl, "vf-set", "set a VF's port: dev=PF vf=I [mac=MAC] [vlan=0-4094] "
                        "[spoofchk=on|off] [rate=MBIT]", args_vf_set, ctl_vf_set, vm);
    ctl_server_register(ctl, "link", "set a device's link: dev=NAME up=true|false", args_link,
                        ctl_link, vm);
    ctl_server_register(ctl, "stats", "a device's counters: dev=NAME (a PF or a VF)", args_dev,
                        ctl_stats, vm);
}
