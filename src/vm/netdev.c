#include "vm/netdev.h"
#include "vm/vm.h"
#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* virtio-net functions take device numbers 1, 2, ... on bus 0 (00:00.0 is the host bridge). */
#define NETDEV_FIRST_SLOT 1

/* Doorbell writes complete in the kernel: KVM_IOEVENTFD on the notify address. Linux
 * writes the 16-bit queue index (virtio_pci_modern.c vp_notify). */
static int netdev_ioeventfd_add(void *opaque, uint64_t gpa, int fd)
{
    struct vm *vm = opaque;
    if (kvm_ioeventfd(&vm->kvm, gpa, 2, fd, 0) < 0) {
        log_error("KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)gpa, strerror(errno));
        return -1;
    }
    return 0;
}

static void netdev_ioeventfd_del(void *opaque, uint64_t gpa, int fd)
{
    struct vm *vm = opaque;
    if (kvm_ioeventfd(&vm->kvm, gpa, 2, fd, 1) < 0)
        log_warn("KVM_IOEVENTFD deassign at 0x%llx: %s", (unsigned long long)gpa, strerror(errno));
}

static const struct virtio_pci_notify_ops netdev_notify_ops = {
    .add = netdev_ioeventfd_add,
    .del = netdev_ioeventfd_del,
};

void netdev_create_all(struct vm *vm)
{
    const struct vm_config *cfg = vm->cfg;
    vm->nnetdevs = cfg->nnets;
    if (!cfg->nnets)
        return;
    vm->netdevs = calloc(cfg->nnets, sizeof(*vm->netdevs));
    if (!vm->netdevs)
        die("out of memory");
    for (unsigned i = 0; i < cfg->nnets; i++) {
        const struct net_opts *o = &cfg->nets[i];
        struct netdev *d = &vm->netdevs[i];
        snprintf(d->name, sizeof(d->name), "net%u", i);
        struct net_backend *be = tap_open(o->tap);
        if (!be)
            die("--net tap=%s: cannot open the tap (see above)", o->tap);
        d->net = virtio_net_create(d->name, &vm->kvm.mem, be, o->mac);
        if (!d->net) {
            net_backend_close(be);
            die("%s: cannot create the virtio-net device", d->name);
        }
        if (virtio_pci_init(&d->pci, d->name, virtio_net_vdev(d->net), &vm->irq.router) < 0)
            die("%s: cannot create its PCI function", d->name);
        d->devfn = PCI_DEVFN(NETDEV_FIRST_SLOT + i, 0);
        if (pci_bus_add(&vm->pci, &d->pci.pci, d->devfn) < 0)
            die("%s: no room on the PCI bus", d->name);
        virtio_pci_set_notify_ops(&d->pci, &netdev_notify_ops, vm);
        log_info("%s: virtio-net at 00:%02x.0, tap %s%s, mac %02x:%02x:%02x:%02x:%02x:%02x",
                 d->name, NETDEV_FIRST_SLOT + i, o->tap, tap_created(be) ? " (created)" : "",
                 o->mac[0], o->mac[1], o->mac[2], o->mac[3], o->mac[4], o->mac[5]);
    }
}

void netdev_destroy_all(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        pci_bus_remove(&vm->pci, &d->pci.pci);
        virtio_pci_destroy(&d->pci);
        virtio_net_destroy(d->net);
    }
    free(vm->netdevs);
    vm->netdevs = NULL;
    vm->nnetdevs = 0;
}

static struct netdev *netdev_lookup(struct vm *vm, const struct json_object *req, struct ctl_reply *reply)
{
    const char *name = json_get_str(req, "dev");
    if (!name) {
        ctl_reply_error(reply, "missing \"dev\" (a device name such as net0)");
        return NULL;
    }
    for (unsigned i = 0; i < vm->nnetdevs; i++)
        if (!strcmp(vm->netdevs[i].name, name))
            return &vm->netdevs[i];
    ctl_reply_error(reply, "no device \"%s\"", name);
    return NULL;
}

static void format_mac(char *out, size_t cap, const uint8_t mac[6])
{
    snprintf(out, cap, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static void ctl_devices(void *opaque, const struct json_object *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    char list[4096] = "[";
    size_t len = 1;
    for (unsigned i = 0; i < vm->nnetdevs && len < sizeof(list) - 256; i++) {
        struct netdev *d = &vm->netdevs[i];
        uint8_t mac[6];
        char macs[18];
        virtio_net_get_mac(d->net, mac);
        format_mac(macs, sizeof(macs), mac);
        len += (size_t)snprintf(list + len, sizeof(list) - len,
                                "%s{\"dev\":\"%s\",\"pci\":\"0000:00:%02x.%x\",\"mac\":\"%s\","
                                "\"tap\":\"%s\",\"link\":%s}",
                                i ? "," : "", d->name, d->devfn >> 3, d->devfn & 7, macs,
                                vm->cfg->nets[i].tap, virtio_net_link_up(d->net) ? "true" : "false");
    }
    snprintf(list + len, sizeof(list) - len, "]");
    ctl_reply_raw(reply, "devices", list);
}

static void ctl_link(void *opaque, const struct json_object *req, struct ctl_reply *reply)
{
    struct netdev *d = netdev_lookup(opaque, req, reply);
    if (!d)
        return;
    bool up;
    if (!json_get_bool(req, "up", &up)) {
        ctl_reply_error(reply, "missing \"up\" (true or false)");
        return;
    }
    virtio_net_set_link(d->net, up);
    log_info("%s: link %s (control socket)", d->name, up ? "up" : "down");
    ctl_reply_str(reply, "dev", d->name);
    ctl_reply_bool(reply, "up", up);
}

static void ctl_stats(void *opaque, const struct json_object *req, struct ctl_reply *reply)
{
    struct netdev *d = netdev_lookup(opaque, req, reply);
    if (!d)
        return;
    struct virtio_net_stats s;
    virtio_net_get_stats(d->net, &s);
    ctl_reply_str(reply, "dev", d->name);
    ctl_reply_bool(reply, "link", virtio_net_link_up(d->net));
    ctl_reply_int(reply, "rx_packets", (int64_t)s.rx_packets);
    ctl_reply_int(reply, "rx_bytes", (int64_t)s.rx_bytes);
    ctl_reply_int(reply, "rx_dropped", (int64_t)s.rx_dropped);
    ctl_reply_int(reply, "rx_errors", (int64_t)s.rx_errors);
    ctl_reply_int(reply, "tx_packets", (int64_t)s.tx_packets);
    ctl_reply_int(reply, "tx_bytes", (int64_t)s.tx_bytes);
    ctl_reply_int(reply, "tx_dropped", (int64_t)s.tx_dropped);
    ctl_reply_int(reply, "tx_errors", (int64_t)s.tx_errors);
}

void netdev_register_ctl(struct vm *vm, struct ctl_server *ctl)
{
    ctl_server_register(ctl, "devices", "list network devices", ctl_devices, vm);
    ctl_server_register(ctl, "link", "set a device's link: dev=NAME up=true|false", ctl_link, vm);
    ctl_server_register(ctl, "stats", "a device's counters: dev=NAME", ctl_stats, vm);
}
