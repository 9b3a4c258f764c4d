#include "vm/netdev.h"
#include "vm/vm.h"
#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "net/mac.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Doorbells move with the guest's BAR programming: limited. */
static struct log_ratelimit ioev_rl;

/* virtio-net functions take device numbers 1, 2, ... on bus 0 (00:00.0 is the host bridge). */
#define NETDEV_FIRST_SLOT 1
#define NETDEV_LAST_SLOT 31

/* Doorbell writes complete in the kernel: KVM_IOEVENTFD on the notify address. Linux
 * writes the 16-bit queue index (virtio_pci_modern.c vp_notify). */
static int netdev_ioeventfd_add(void *opaque, uint64_t gpa, int fd)
{
    struct vm *vm = opaque;
    if (kvm_ioeventfd(&vm->kvm, gpa, 2, fd, 0) < 0) {
        log_error_rl(&ioev_rl, "KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)gpa,
                     strerror(errno));
        return -1;
    }
    return 0;
}

static void netdev_ioeventfd_del(void *opaque, uint64_t gpa, int fd)
{
    struct vm *vm = opaque;
    if (kvm_ioeventfd(&vm->kvm, gpa, 2, fd, 1) < 0)
        log_warn_rl(&ioev_rl, "KVM_IOEVENTFD deassign at 0x%llx: %s", (unsigned long long)gpa,
                    strerror(errno));
}

static const struct virtio_pci_notify_ops netdev_notify_ops = {
    .add = netdev_ioeventfd_add,
    .del = netdev_ioeventfd_del,
};

/* Each VF holds about a dozen fds (kick eventfds, epoll and call eventfds of its I/O
 * thread, tap, irqfds): 64 VFs pass the usual soft limit of 1024. */
static void netdev_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("cannot raise the open file limit: %s", strerror(errno));
    }
}

/* The guest enabled or disabled VFs: the "vfs-changed" event (docs/api.md). */
static void netdev_vfs_changed(void *opaque, struct net_vf_mgr *m)
{
    struct vm *vm = opaque;
    if (vm->ctl_started)
        ctl_server_publish(&vm->ctl, "vfs-changed", netdev_vfs_json(m));
}

/* A device's own events (virtio_net.h), as control-socket events (docs/api.md). Any
 * thread; publishing never blocks. */
static void netdev_device_event(void *opaque, const char *dev, enum virtio_net_event ev,
                                const char *detail, unsigned long suppressed)
{
    struct vm *vm = opaque;
    if (!vm->ctl_started)
        return;
    switch (ev) {
    case VIRTIO_NET_EVENT_NEEDS_RESET:
        ctl_server_publish(&vm->ctl, "device-error",
                           json_pack("{s:s,s:s,s:I}", "dev", dev, "error", detail, "suppressed",
                                     (json_int_t)suppressed));
        break;
    case VIRTIO_NET_EVENT_BACKEND_FAILED:
    case VIRTIO_NET_EVENT_BACKEND_RESTORED:
        ctl_server_publish(&vm->ctl, "backend",
                           json_pack("{s:s,s:s,s:s}", "dev", dev, "state",
                                     ev == VIRTIO_NET_EVENT_BACKEND_FAILED ? "failed" : "restored",
                                     "error", ev == VIRTIO_NET_EVENT_BACKEND_FAILED ? detail : ""));
        break;
    case VIRTIO_NET_EVENT_LINK:
        ctl_server_publish(&vm->ctl, "link",
                           json_pack("{s:s,s:b,s:s}", "dev", dev, "up", !strcmp(detail, "up"), "by",
                                     "device"));
        break;
    }
}

/* Makes d an SR-IOV PF whose VFs use the same ioeventfd hooks and MSI router. */
static void netdev_setup_vfs(struct vm *vm, struct netdev *d, const struct net_opts *o)
{
    d->vfs = calloc(1, sizeof(*d->vfs));
    if (!d->vfs)
        die("out of memory");
    const struct net_vf_env env = {
        .mem = &vm->kvm.mem,
        .router = &vm->irq.router,
        .notify_ops = &netdev_notify_ops,
        .notify_opaque = vm,
        .vfs_changed = netdev_vfs_changed,
        .changed_opaque = vm,
        .device_event = netdev_device_event,
        .event_opaque = vm,
    };
    char err[256];
    if (net_vf_mgr_init(d->vfs, d->name, &d->pci, d->net, &o->vf, o->mac, &env, err, sizeof(err)) <
        0)
        die("%s: cannot make it an SR-IOV PF: %s", d->name, err);
}

/* The PF's backends, one per queue pair (queues=N: a multi-queue tap, or views of one
 * vhost-user connection); dies with the reason. */
static void netdev_open_backends(struct vm *vm, const struct net_opts *o, struct net_backend **be)
{
    char err[256];
    if (o->backend == NET_BACKEND_VHOST_VDPA)
        be[0] = vhost_vdpa_open(o->vdpa, &vm->kvm.mem, err, sizeof(err));
    else if (o->backend == NET_BACKEND_VHOST_USER) {
        if (vhost_user_open_mq(o->socket, o->vu_server, &vm->kvm.mem, o->queues, be, err,
                               sizeof(err)) < 0)
            be[0] = NULL;
    } else if (o->tap_fd >= 0)
        be[0] = net_backend_open_fd(o->backend, o->tap_fd, err, sizeof(err));
    else if (net_backend_open_mq(o->backend, o->tap, o->queues, be, err, sizeof(err)) < 0)
        be[0] = NULL;
    if (!be[0])
        die("--net: %s", err);
}

void netdev_create_all(struct vm *vm)
{
    const struct vm_config *cfg = vm->cfg;
    vm->nnetdevs = cfg->nnets;
    if (!cfg->nnets)
        return;
    vm->netdevs = calloc(cfg->nnets, sizeof(*vm->netdevs));
    if (!vm->netdevs)
        die("out of memory");
    unsigned slot = NETDEV_FIRST_SLOT;
    for (unsigned i = 0; i < cfg->nnets; i++) {
        const struct net_opts *o = &cfg->nets[i];
        struct netdev *d = &vm->netdevs[i];
        snprintf(d->name, sizeof(d->name), "net%u", i);
        if (slot > NETDEV_LAST_SLOT)
            die("%s: no device number left on PCI bus 0 (VFs of earlier devices take some)",
                d->name);
        d->devfn = PCI_DEVFN(slot, 0);
        int last_vf = o->vf.total_vfs ? pci_sriov_vf_devfn(d->devfn, o->vf.total_vfs - 1)
                                      : d->devfn;
        if (last_vf < 0)
            die("%s: its %u VFs do not fit on PCI bus 0 after 00:%02x.0", d->name, o->vf.total_vfs,
                slot);
        slot = (unsigned)last_vf / 8 + 1;
        char err[256];
        struct net_backend *be[VIRTIO_NET_MAX_PAIRS];
        netdev_open_backends(vm, o, be);
        /* A vDPA device has its own MAC (virtio 1.2 §5.1.4): the guest gets that one. */
        uint8_t mac[6];
        memcpy(mac, be[0]->has_mac ? be[0]->mac : o->mac, 6);
        d->net = virtio_net_create_mq(d->name, &vm->kvm.mem, be, o->queues, mac, err, sizeof(err));
        if (!d->net) {
            for (unsigned k = 0; k < o->queues; k++)
                net_backend_close(be[k]);
            die("%s: cannot create the virtio-net device: %s", d->name, err);
        }
        virtio_net_set_event_hook(d->net, netdev_device_event, vm);
        if (virtio_pci_init(&d->pci, d->name, virtio_net_vdev(d->net), &vm->irq.router, err,
                            sizeof(err)) < 0)
            die("%s: cannot create its PCI function: %s", d->name, err);
        if (o->vf.total_vfs) {
            netdev_raise_fd_limit();
            netdev_setup_vfs(vm, d, o);
        }
        if (pci_bus_add(&vm->pci, &d->pci.pci, d->devfn) < 0)
            die("%s: no room on the PCI bus", d->name);
        if (d->vfs && net_vf_mgr_assign_bars(d->vfs, &vm->pci) < 0)
            die("%s: no room for its VF BARs", d->name);
        virtio_pci_set_notify_ops(&d->pci, &netdev_notify_ops, vm);
        char mac_s[MAC_STR_LEN];
        net_format_mac(mac_s, mac);
        log_info("%s: virtio-net at 00:%02x.0, %s%s%s, mac %s, %u queue pair%s%s", d->name,
                 d->devfn >> 3,
                 o->backend == NET_BACKEND_VHOST_NET    ? "vhost-net on tap "
                 : o->backend == NET_BACKEND_VHOST_VDPA ? "vhost-vdpa "
                 : o->backend == NET_BACKEND_VHOST_USER
                     ? (o->vu_server ? "vhost-user server " : "vhost-user ")
                     : "tap ",
                 o->backend == NET_BACKEND_VHOST_VDPA   ? o->vdpa
                 : o->backend == NET_BACKEND_VHOST_USER ? o->socket
                                                        : o->tap,
                 tap_created(be[0]) ? " (created)"
                 : o->tap_fd >= 0   ? " (handed over)"
                                    : "",
                 mac_s, o->queues, o->queues > 1 ? "s" : "", o->vf.total_vfs ? ", SR-IOV PF" : "");
    }
}

void netdev_destroy_all(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nnetdevs; i++) {
        struct netdev *d = &vm->netdevs[i];
        if (d->vfs)
            net_vf_mgr_destroy(d->vfs);     /* VFs down while the PF is still on the bus */
        pci_bus_remove(&vm->pci, &d->pci.pci);
        virtio_pci_destroy(&d->pci);
        virtio_net_destroy(d->net);
        free(d->vfs);
    }
    free(vm->netdevs);
    vm->netdevs = NULL;
    vm->nnetdevs = 0;
}
