/* Control commands of the VM's network devices: "devices", "vfs", "vf-set", "vf-tap",
 * "link", "stats". A device is a PF (net0) or one of its VFs while it is up (net0vf3). Control
 * thread; a VF's manager lock is taken to use its VFs and settings (net/vf.h). */
#include "vm/netdev.h"
#include "vm/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/mac.h"
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
        json_t *dev = json_pack("{s:s,s:s,s:s,s:o,s:b,s:i,s:s}", "dev", d->name, "pci", pci, "mac",
                                macs, "tap", ctl_json_str(o->tap), "link",
                                virtio_net_link_up(d->net), "total_vfs", o->vf.total_vfs, "backend",
                                virtio_net_backend_type(d->net));
        if (dev && o->vdpa[0])
            json_object_set_new(dev, "vdpa", json_string(o->vdpa));
        add_peer(dev, d->net);
        if (dev && o->vf.total_vfs)
            json_object_set_new(dev, "vf_backend",
                                json_string(net_backend_type_name(o->vf.vf_backend)));
        /* Fields added after protocol 1's first clients go last. */
        if (dev)
            json_object_set_new(dev, "queue_pairs", json_integer(virtio_net_queue_pairs(d->net)));
        if (dev && o->vf.total_vfs)
            json_object_set_new(dev, "vf_queue_pairs", json_integer(o->vf.vf_queues));
        if (json_array_append_new(list, dev) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    ctl_reply_set(reply, "devices", list);
}

/* Adds more's fields to o in their order (jansson keeps insertion order); false when
 * out of memory. Takes more's reference. */
static bool json_add(json_t *o, json_t *more)
{
    return more && json_object_update_new(o, more) == 0;
}

/* The host's settings besides MAC, VLAN, spoof check and rate, with `ip -j link show`'s
 * names for its "vf N" entries (link_state, trust, qos, max_tx_rate, min_tx_rate) and
 * proto for the VLAN protocol, as vf-set takes it. */
static json_t *conf_json(const struct pf_vf_conf *c)
{
    return json_pack("{s:s,s:b,s:i,s:s,s:I,s:i}", "link_state", pf_vf_link_name(c->link), "trust",
                     c->port.trust, "qos", c->port.vlan_qos, "proto",
                     pf_vf_proto_name(c->port.vlan_proto), "max_tx_rate",
                     (json_int_t)c->port.max_tx_rate, "min_tx_rate", 0);
}

/* VF, port and backend fields every entry has, up or down (the order the first clients
 * of protocol 1 saw: new fields go before vlan). */
static bool vf_tail_json(json_t *o, const struct pf_vf_conf *c, const char *backend,
                         const char *counters, const char *error)
{
    json_t *tail = json_pack("{s:i,s:b,s:I,s:s}", "vlan", c->port.vlan, "spoofchk",
                             c->port.spoofchk, "rate", (json_int_t)c->port.max_tx_rate, "backend",
                             backend);
    if (tail && counters)
        json_object_set_new(tail, "counters", json_string(counters));
    if (tail)
        json_object_set_new(tail, "error", ctl_json_str(error));
    bool ok = json_add(o, conf_json(c));
    return json_add(o, tail) && ok;             /* both: tail is taken either way */
}

/* A VF the guest enabled, as a JSON object. */
static json_t *vf_json(const struct net_vf *vf, const struct pf_vf_conf *c)
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
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:o,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "vf", vf->index,
                          "dev", vf->name, "pci", pci, "mac", mac, "tap", ctl_json_str(vf->tap),
                          "link", virtio_net_link_up(vf->net), "up", true, "rx_packets",
                          (json_int_t)s.rx_packets, "rx_bytes", (json_int_t)s.rx_bytes,
                          "tx_packets", (json_int_t)s.tx_packets, "tx_bytes",
                          (json_int_t)s.tx_bytes, "tx_dropped", (json_int_t)s.tx_dropped,
                          "tx_spoofed", (json_int_t)s.tx_spoofed);
    if (o && !vf_tail_json(o, c, virtio_net_backend_type(vf->net), virtio_net_stats_source(vf->net),
                           error)) {
        json_decref(o);
        return NULL;
    }
    /* vhost-vdpa VFs: the vDPA device (e.g. as `vdpa dev show` lists it). */
    if (o && vf->vdpa_dev[0])
        json_object_set_new(o, "vdpa", json_string(vf->vdpa_dev));
    add_peer(o, vf->net);
    if (o)
        json_object_set_new(o, "queue_pairs", json_integer(virtio_net_queue_pairs(vf->net)));
    return o;
}

/* VF i while the guest has not enabled it: what the host set, for when it comes up
 * (`ip link show` lists every VF the PF allows). */
static json_t *vf_down_json(const struct net_vf_mgr *m, unsigned i)
{
    const struct pf_vf_conf *c = &m->conf[i];
    char mac[18], tap[IFNAMSIZ];
    net_format_mac(mac, c->port.mac);
    net_vf_mgr_tap_name(m, i, tap);
    json_t *o = json_pack("{s:i,s:s,s:o,s:b,s:b}", "vf", i, "mac", mac, "tap", ctl_json_str(tap),
                          "link", false, "up", false);
    if (o && !vf_tail_json(o, c, net_backend_type_name(m->policy->vf_backend), NULL, "")) {
        json_decref(o);
        return NULL;
    }
    /* vhost-user VFs: the socket the VF will use (no peer before the guest enables it). */
    if (o && m->policy->vf_backend == NET_BACKEND_VHOST_USER) {
        char sock[108];
        pf_policy_vf_socket(m->policy, i, sock);
        json_object_set_new(o, "socket", json_string(sock));
    }
    if (o)      /* what vf-queues= asks for (a handed-over tap gives 1) */
        json_object_set_new(o, "queue_pairs", json_integer(m->policy->vf_queues));
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
        json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:b,s:o}", "vf", vf->index, "dev", vf->name,
                              "pci", pci, "mac", mac, "tap", ctl_json_str(vf->tap), "backend",
                              virtio_net_backend_type(vf->net), "link", virtio_net_link_up(vf->net),
                              "error", ctl_json_str(vf->error));
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
    for (unsigned i = 0; list && i < m->policy->total_vfs; i++) {
        bool on = net_vf_mgr_vf_up(m, i);
        up += on;
        json_t *o = on ? vf_json(m->vfs[i], &m->conf[i]) : vf_down_json(m, i);
        if (json_array_append_new(list, o) < 0) {
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
            if ((d != pf || j != vf) && !memcmp(d->vfs->conf[j].port.mac, mac, 6)) {
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

/* VF i's link as its guest sees it; false while it is down. Manager lock held. */
static bool vf_link(struct net_vf_mgr *m, unsigned i)
{
    return net_vf_mgr_vf_up(m, i) && virtio_net_link_up(m->vfs[i]->net);
}

/* A link event for VF i if its link is no longer was (by: "host", or "pf" when it
 * followed its PF's). Manager lock held. */
static void vf_link_publish(struct vm *vm, struct net_vf_mgr *m, unsigned i, bool was,
                            const char *by)
{
    bool up = vf_link(m, i);
    if (up != was)
        ctl_server_publish(&vm->ctl, "link",
                           json_pack("{s:s,s:b,s:s}", "dev", m->vfs[i]->name, "up", up, "by", by));
}

/* vf-set's arguments as a change (the MAC parsed: mac points to it); false with the
 * reply failed for a MAC that is not a station address. */
static bool vf_change_get(const struct ctl_request *req, struct pf_vf_change *c, uint8_t mac[6],
                          struct ctl_reply *reply)
{
    static const uint8_t zero[6];
    const char *mac_s = ctl_arg_str(req, "mac");
    if (mac_s && (net_parse_mac(mac_s, mac) < 0 || !memcmp(mac, zero, 6))) {
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT,
                       "invalid MAC \"%s\" (want xx:xx:xx:xx:xx:xx, unicast, not all zeros)",
                       mac_s);
        return false;
    }
    *c = (struct pf_vf_change){ .mac = mac_s ? mac : NULL,
                                .proto = ctl_arg_str(req, "proto"),
                                .state = ctl_arg_str(req, "state") };
    c->has_vlan = ctl_arg_int(req, "vlan", &c->vlan);
    c->has_qos = ctl_arg_int(req, "qos", &c->qos);
    c->has_spoofchk = ctl_arg_bool(req, "spoofchk", &c->spoofchk);
    c->has_trust = ctl_arg_bool(req, "trust", &c->trust);
    c->has_max_tx_rate = ctl_arg_int(req, "max_tx_rate", &c->max_tx_rate);
    c->has_min_tx_rate = ctl_arg_int(req, "min_tx_rate", &c->min_tx_rate);
    c->has_rate = ctl_arg_int(req, "rate", &c->rate);
    return true;
}

/* VF vf's settings with change applied, into *conf; false with the reply failed. Lock
 * not held (it is taken to read the current settings). */
static bool vf_change_check(struct net_vf_mgr *m, unsigned vf, const struct pf_vf_change *change,
                            struct pf_vf_conf *conf, struct ctl_reply *reply)
{
    char msg[256];
    net_vf_mgr_lock(m);
    *conf = m->conf[vf];
    net_vf_mgr_unlock(m);
    enum pf_vf_change_err e = pf_policy_vf_change(m->policy, vf, conf, change, msg, sizeof(msg));
    if (e != PF_VF_OK)
        ctl_reply_fail(reply,
                       e == PF_VF_NOT_SUPPORTED ? CTL_ERR_NOT_SUPPORTED : CTL_ERR_BAD_ARGUMENT,
                       "%s", msg);
    return e == PF_VF_OK;
}

static void vf_set_log(const struct netdev *pf, unsigned vf, const struct pf_vf_conf *c, uid_t uid)
{
    char mac[18];
    net_format_mac(mac, c->port.mac);
    log_info("%s: VF %u: mac %s, vlan %u qos %u proto %s, spoof check %s, trust %s, state %s, "
             "max_tx_rate %u Mbit/s (control socket, uid %u)",
             pf->name, vf, mac, c->port.vlan, c->port.vlan_qos,
             pf_vf_proto_name(c->port.vlan_proto), c->port.spoofchk ? "on" : "off",
             c->port.trust ? "on" : "off", pf_vf_link_name(c->link), c->port.max_tx_rate,
             (unsigned)uid);
}

static void vf_set_reply(struct ctl_reply *reply, const struct netdev *pf, unsigned vf,
                         const struct pf_vf_conf *c, bool up)
{
    char mac[18];
    net_format_mac(mac, c->port.mac);
    ctl_reply_str(reply, "dev", pf->name);
    ctl_reply_int(reply, "vf", vf);
    ctl_reply_str(reply, "mac", mac);
    ctl_reply_int(reply, "vlan", c->port.vlan);
    ctl_reply_bool(reply, "spoofchk", c->port.spoofchk);
    ctl_reply_int(reply, "rate", c->port.max_tx_rate);
    ctl_reply_bool(reply, "up", up);
    json_t *more = conf_json(c);
    if (!json_add(reply->obj, more))
        ctl_reply_fail(reply, CTL_ERR_INTERNAL, "out of memory");
}

/* vf-set dev=PF vf=I [mac=MAC] [vlan=VID [qos=PCP] [proto=802.1Q|802.1ad]]
 * [spoofchk=on|off] [trust=on|off] [state=auto|enable|disable] [max_tx_rate=MBIT]
 * [min_tx_rate=0] [rate=MBIT]: VF I's settings, as `ip link set PF vf I ...` on a NIC;
 * for a VF that is down too (kept for when the guest brings it up). A new MAC reaches
 * the guest at its next driver probe. All of it applies, or none. */
static void ctl_vf_set(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    struct nic n;
    struct pf_vf_change change;
    uint8_t mac[6];
    int64_t vf = -1;
    ctl_arg_int(req, "vf", &vf);                    /* required: checked by the server */
    if (!vf_change_get(req, &change, mac, reply) || !nic_get(vm, req, reply, &n))
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
    struct pf_vf_conf conf;
    char who[48];
    if (!vf_change_check(m, (unsigned)vf, &change, &conf, reply))
        return;
    if (change.mac && mac_taken(vm, mac, pf, (unsigned)vf, who, sizeof(who))) {
        ctl_reply_fail(reply, CTL_ERR_CONFLICT, "MAC %s is %s's", ctl_arg_str(req, "mac"), who);
        return;
    }
    /* Again under the lock, on what is there now (a VF Enable may have changed it). */
    char msg[256];
    net_vf_mgr_lock(m);
    conf = m->conf[vf];
    bool was = vf_link(m, (unsigned)vf);
    if (pf_policy_vf_change(m->policy, (unsigned)vf, &conf, &change, msg, sizeof(msg)) == PF_VF_OK)
        net_vf_mgr_set_conf(m, (unsigned)vf, &conf);
    vf_link_publish(vm, m, (unsigned)vf, was, "host");      /* state, on a VF that is up */
    conf = m->conf[vf];
    bool up = net_vf_mgr_vf_up(m, (unsigned)vf);
    net_vf_mgr_unlock(m);
    vf_set_log(pf, (unsigned)vf, &conf, req->uid);
    vf_set_reply(reply, pf, (unsigned)vf, &conf, up);
}

/* The PF's link changed: its VFs with state auto follow. */
static void pf_link_follow(struct vm *vm, struct net_vf_mgr *m)
{
    bool was[NET_MAX_VFS];
    net_vf_mgr_lock(m);
    for (unsigned i = 0; i < m->nvfs; i++)
        was[i] = vf_link(m, i);
    net_vf_mgr_pf_link_changed(m);
    for (unsigned i = 0; i < m->nvfs; i++)
        vf_link_publish(vm, m, i, was[i], "pf");
    net_vf_mgr_unlock(m);
}

/* link dev=NAME up=B. On a VF it is its state (`vf-set state=enable|disable`), kept
 * while the VF is down; on an SR-IOV PF its VFs with state auto follow. */
static void ctl_link(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    bool up = false;
    ctl_arg_bool(req, "up", &up);                   /* required: checked by the server */
    struct nic n;
    if (!nic_get(vm, req, reply, &n))
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
        if (n.vf) {
            struct pf_vf_conf c = n.pf->vfs->conf[n.vf->index];
            c.link = up ? PF_VF_LINK_ENABLE : PF_VF_LINK_DISABLE;
            net_vf_mgr_set_conf(n.pf->vfs, n.vf->index, &c);
        } else {
            virtio_net_set_link(n.net, up);
        }
        log_info("%s: link %s (control socket, uid %u)", n.name, up ? "up" : "down",
                 (unsigned)req->uid);
        ctl_server_publish(&vm->ctl, "link",
                           json_pack("{s:s,s:b,s:s}", "dev", n.name, "up", up, "by", "host"));
        if (!n.vf && n.pf->vfs)
            pf_link_follow(vm, n.pf->vfs);
        ctl_reply_str(reply, "dev", n.name);
        ctl_reply_bool(reply, "up", up);
    }
    nic_put(&n);
}

/* Queue pairs: how many there are and are in use, and with several on vpf's data path
 * each pair's packets and bytes (their sums are the function's counters above). */
static void stats_queues(struct ctl_reply *reply, struct virtio_net *net)
{
    unsigned np = virtio_net_queue_pairs(net);
    ctl_reply_int(reply, "queue_pairs", np);
    ctl_reply_int(reply, "active_pairs", virtio_net_active_pairs(net));
    if (np < 2 || strcmp(virtio_net_stats_source(net), "vpf"))
        return;
    json_t *qs = json_array();
    for (unsigned k = 0; qs && k < np; k++) {
        struct virtio_net_queue_stats q;
        virtio_net_get_queue_stats(net, k, &q);
        json_array_append_new(qs,
                              json_pack("{s:I,s:I,s:I,s:I}", "rx_packets", (json_int_t)q.rx_packets,
                                        "rx_bytes", (json_int_t)q.rx_bytes, "tx_packets",
                                        (json_int_t)q.tx_packets, "tx_bytes",
                                        (json_int_t)q.tx_bytes));
    }
    if (qs)
        ctl_reply_set(reply, "queues", qs);
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
    stats_queues(reply, n.net);
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

/* Does any function other than (pf, vf) use the tap name (a PF's, a VF's pattern or
 * handed-over one)? Names the owner in who. */
static bool tap_taken(struct vm *vm, const char *name, const struct netdev *pf, unsigned vf,
                      char *who, size_t cap)
{
    for (unsigned i = 0; i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        if (!strcmp(vm->cfg->nets[i].tap, name)) {
            snprintf(who, cap, "%s", d->name);
            return true;
        }
        bool hit = false;
        for (unsigned j = 0; d->vfs && j < d->vfs->policy->total_vfs && !hit; j++) {
            char tap[IFNAMSIZ];
            net_vf_mgr_lock(d->vfs);
            net_vf_mgr_tap_name(d->vfs, j, tap);
            net_vf_mgr_unlock(d->vfs);
            if ((d != pf || j != vf) && !strcmp(tap, name)) {
                snprintf(who, cap, "%svf%u", d->name, j);
                hit = true;
            }
        }
        if (hit)
            return true;
    }
    return false;
}

/* The PF and VF index of a vf-tap request whose tap can be handed over, or NULL with the
 * reply failed. */
static struct net_vf_mgr *vf_tap_target(struct vm *vm, const struct ctl_request *req,
                                        struct ctl_reply *reply, struct netdev **pf, unsigned *vf)
{
    int64_t i = -1;
    struct nic n;
    ctl_arg_int(req, "vf", &i);                     /* required: checked by the server */
    if (!nic_get(vm, req, reply, &n))
        return NULL;
    nic_put(&n);
    struct net_vf_mgr *m = n.vf ? NULL : n.pf->vfs;
    if (!m)
        ctl_reply_fail(reply, CTL_ERR_NOT_SUPPORTED, "%s is not an SR-IOV PF (--net total-vfs=N)",
                       n.name);
    else if (i < 0 || i >= m->policy->total_vfs)
        ctl_reply_fail(reply, CTL_ERR_NOT_FOUND, "%s has VFs 0 to %u", n.pf->name,
                       m->policy->total_vfs - 1);
    else if (m->policy->vf_backend == NET_BACKEND_VHOST_VDPA ||
             m->policy->vf_backend == NET_BACKEND_VHOST_USER)
        ctl_reply_fail(reply, CTL_ERR_NOT_SUPPORTED, "VF %u is on %s: it has no tap", (unsigned)i,
                       net_backend_type_name(m->policy->vf_backend));
    *pf = n.pf;
    *vf = (unsigned)i;
    return reply->failed ? NULL : m;
}

/* vf-tap dev=PF vf=I, with a tap's descriptor sent along (SCM_RIGHTS): VF I's backend is
 * on that tap from its next Enable on, as a privileged manager hands taps to a vpf
 * without CAP_NET_ADMIN (libvirt does it for QEMU). The VF must be down. */
static void ctl_vf_tap(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    struct netdev *pf;
    unsigned vf;
    char name[IFNAMSIZ], err[192], who[48];
    struct net_vf_mgr *m = vf_tap_target(vm, req, reply, &pf, &vf);
    if (!m)
        return;
    if (tap_check_fd(*req->fd, name, err, sizeof(err)) < 0) {
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "the descriptor sent: %s", err);
        return;
    }
    if (tap_taken(vm, name, pf, vf, who, sizeof(who))) {
        ctl_reply_fail(reply, CTL_ERR_CONFLICT, "tap %s is %s's", name, who);
        return;
    }
    net_vf_mgr_lock(m);
    bool up = net_vf_mgr_vf_up(m, vf);
    if (!up) {
        net_vf_mgr_set_tap(m, vf, *req->fd, name);
        *req->fd = -1;
    }
    net_vf_mgr_unlock(m);
    if (up) {
        ctl_reply_error(reply, "%svf%u is up: hand its tap over while the guest has it disabled",
                        pf->name, vf);
        return;
    }
    log_info("%s: VF %u: tap %s handed over (control socket, uid %u)", pf->name, vf, name,
             (unsigned)req->uid);
    ctl_reply_str(reply, "dev", pf->name);
    ctl_reply_int(reply, "vf", vf);
    ctl_reply_str(reply, "tap", name);
}

static const struct ctl_arg args_none[] = { { NULL } };
static const struct ctl_arg args_dev[] = { { "dev", CTL_ARG_STR, true }, { NULL } };
static const struct ctl_arg args_pf_vf[] = { { "dev", CTL_ARG_STR, true },
                                             { "vf", CTL_ARG_INT, true },
                                             { NULL } };
static const struct ctl_arg args_link[] = { { "dev", CTL_ARG_STR, true },
                                            { "up", CTL_ARG_BOOL, true },
                                            { NULL } };
/* iproute2's `ip link set DEV vf N ...` words; rate is max_tx_rate's older name. */
static const struct ctl_arg args_vf_set[] = { { "dev", CTL_ARG_STR, true },
                                              { "vf", CTL_ARG_INT, true },
                                              { "mac", CTL_ARG_STR, false },
                                              { "vlan", CTL_ARG_INT, false },
                                              { "qos", CTL_ARG_INT, false },
                                              { "proto", CTL_ARG_STR, false },
                                              { "spoofchk", CTL_ARG_BOOL, false },
                                              { "trust", CTL_ARG_BOOL, false },
                                              { "state", CTL_ARG_STR, false },
                                              { "max_tx_rate", CTL_ARG_INT, false },
                                              { "min_tx_rate", CTL_ARG_INT, false },
                                              { "rate", CTL_ARG_INT, false },
                                              { NULL } };

void netdev_register_ctl(struct vm *vm, struct ctl_server *ctl)
{
    ctl_server_register(ctl, "devices", "list network devices", args_none, ctl_devices, vm);
    ctl_server_register(ctl, "vfs", "list every VF an SR-IOV PF allows, up or down: dev=NAME",
                        args_dev, ctl_vfs, vm);
    ctl_server_register(ctl, "vf-set",
                        "set a VF, as ip link set PF vf I: dev=PF vf=I [mac=MAC] "
                        "[vlan=0-4094 [qos=0-7] [proto=802.1Q|802.1ad]] [spoofchk=on|off] "
                        "[trust=on|off] [state=auto|enable|disable] [max_tx_rate=MBIT] "
                        "[min_tx_rate=0]",
                        args_vf_set, ctl_vf_set, vm);
    ctl_server_register_fd(ctl, "vf-tap",
                           "put a VF on a tap the client opened, its descriptor "
                           "sent with the request (SCM_RIGHTS): dev=PF vf=I",
                           args_pf_vf, ctl_vf_tap, vm);
    ctl_server_register(ctl, "link", "set a device's link: dev=NAME up=true|false", args_link,
                        ctl_link, vm);
    ctl_server_register(ctl, "stats", "a device's counters: dev=NAME (a PF or a VF)", args_dev,
                        ctl_stats, vm);
}
