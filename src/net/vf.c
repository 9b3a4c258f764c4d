#include "net/vf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/mac.h"
#include "pci/bus.h"

#define VF_DEVICE_ID 0x1041                  /* modern virtio-net (virtio 1.2 §4.1.2.1) */

_Static_assert(NET_MAX_VFS <= PCI_SRIOV_MAX_VFS, "policy allows more VFs than the capability");

/* "" for vpf's own tap data path, "vhost-net on " for the kernel's. */
static const char *via(const struct net_vf_mgr *m)
{
    return m->policy->vf_backend == NET_BACKEND_VHOST_NET ? "vhost-net on " : "";
}

/* vf-backend=vhost-vdpa: VF i's vDPA device, made by vpf on the policy's management
 * device with the VF's MAC (named after the process and the VF, so that two vpfs do
 * not collide), or the admin's /dev/vhost-vdpa path from the vf-vdpa pattern. */
static struct net_backend *open_vdpa(struct net_vf_mgr *m, struct net_vf *vf)
{
    const struct pf_policy *p = m->policy;
    if (p->vf_vdpa_mgmtdev[0]) {
        char name[64];
        snprintf(name, sizeof(name), "vpf%d-%s", (int)getpid(), vf->name);
        return vhost_vdpa_create(name, p->vf_vdpa_mgmtdev, vf->mac, m->env.mem, vf->error,
                                 sizeof(vf->error));
    }
    char path[64];
    pf_policy_vf_vdpa(p, vf->index, path);
    return vhost_vdpa_open(path, m->env.mem, vf->error, sizeof(vf->error));
}

/* VF i's backend, or NULL with vf->error set. handed: its tap was handed over and fd
 * is a duplicate of the manager's descriptor (-1 if dup failed; taken). */
static struct net_backend *open_backend(struct net_vf_mgr *m, struct net_vf *vf, bool handed,
                                        int fd)
{
    /* vf-backend=vhost-user: the VF's socket from the policy's pattern. A peer that is not
     * there is no failure: the backend keeps trying, the VF's link stays down meanwhile. */
    if (m->policy->vf_backend == NET_BACKEND_VHOST_USER) {
        pf_policy_vf_socket(m->policy, vf->index, vf->socket);
        return vhost_user_open(vf->socket, m->policy->vf_vu_server, m->env.mem, vf->error,
                               sizeof(vf->error));
    }
    if (m->policy->vf_backend == NET_BACKEND_VHOST_VDPA)
        return open_vdpa(m, vf);
    if (handed && fd < 0) {
        snprintf(vf->error, sizeof(vf->error),
                 "tap %s (handed over): cannot duplicate its "
                 "descriptor: %s",
                 vf->tap, strerror(errno));
        return NULL;
    }
    if (handed)
        return net_backend_open_fd(m->policy->vf_backend, fd, vf->error, sizeof(vf->error));
    if (m->env.open_backend) {
        struct net_backend *be = m->env.open_backend(m->env.backend_opaque, vf->index, vf->tap);
        if (!be)
            snprintf(vf->error, sizeof(vf->error), "cannot open %stap %s", via(m), vf->tap);
        return be;
    }
    return net_backend_open(m->policy->vf_backend, vf->tap, vf->error, sizeof(vf->error));
}

/* VF i's backends, one per queue pair, into be; returns how many (vf-queues=N on a tap
 * or vhost-net VF that vpf opens itself: the queues of a multi-queue tap; on vhost-user
 * the pairs of one connection; one for a tap handed over, the tests' hook and
 * vhost-vdpa). A failure leaves the VF on null backends, as many (the guest sees the
 * same device either way), link down. */
static unsigned open_backends(struct net_vf_mgr *m, struct net_vf *vf, bool handed, int fd,
                              struct net_backend **be)
{
    unsigned n = m->policy->vf_queues;
    if (n > 1 && m->policy->vf_backend == NET_BACKEND_VHOST_USER) {
        /* All pairs on one connection (backend.h: vhost_user_open_mq). */
        pf_policy_vf_socket(m->policy, vf->index, vf->socket);
        if (vhost_user_open_mq(vf->socket, m->policy->vf_vu_server, m->env.mem, n, be, vf->error,
                               sizeof(vf->error)) == 0)
            return n;
    } else if (n > 1 && !handed && !m->env.open_backend) {
        if (net_backend_open_mq(m->policy->vf_backend, vf->tap, n, be, vf->error,
                                sizeof(vf->error)) == 0)
            return n;
    } else {
        if (n > 1 && handed)
            log_info_rl(&m->log_rl,
                        "%s: tap %s handed over: one queue pair (vf-queues=%u "
                        "needs a tap vpf opens)",
                        vf->name, vf->tap, n);
        n = 1;
        be[0] = open_backend(m, vf, handed, fd);
        if (be[0])
            return 1;
    }
    log_error_rl(&m->log_rl, "%s: %s; the VF stays with its link down", vf->name, vf->error);
    for (unsigned k = 0; k < n; k++) {
        be[k] = null_open(vf->name);
        if (!be[k]) {
            while (k--)
                net_backend_close(be[k]);
            return 0;
        }
    }
    return n;
}

/* One line per VF that came up: where, its MAC and backend (handed: on a tap handed
 * over the control socket). */
static void vf_log_created(struct net_vf_mgr *m, const struct net_vf *vf, bool handed)
{
    char mac[18];
    net_format_mac(mac, vf->mac);
    if (m->policy->vf_backend == NET_BACKEND_VHOST_USER)
        log_info_rl(&m->log_rl, "%s: VF at 00:%02x.%x, mac %s, vhost-user %s%s", vf->name,
                    vf->devfn >> 3, vf->devfn & 7, mac, vf->socket,
                    vf->error[0] ? " (failed: link down)" : "");
    else if (m->policy->vf_backend == NET_BACKEND_VHOST_VDPA)
        log_info_rl(&m->log_rl, "%s: VF at 00:%02x.%x, mac %s, vhost-vdpa %s%s", vf->name,
                    vf->devfn >> 3, vf->devfn & 7, mac, vf->vdpa_dev[0] ? vf->vdpa_dev : "-",
                    vf->error[0] ? " (failed: link down)" : "");
    else
        log_info_rl(&m->log_rl, "%s: VF at 00:%02x.%x, mac %s, %stap %s%s", vf->name,
                    vf->devfn >> 3, vf->devfn & 7, mac, via(m), vf->tap,
                    vf->error[0]      ? " (failed: link down)"
                    : vf->tap_created ? " (created)"
                    : handed          ? " (handed over)"
                                      : "");
}

/* Bus lock held. VF i as a virtio-pci function on the bus, or NULL (logged). */
static struct net_vf *vf_create(struct net_vf_mgr *m, unsigned i)
{
    struct net_vf *vf = calloc(1, sizeof(*vf));
    if (!vf) {
        log_error_rl(&m->log_rl, "%s: VF %u: out of memory", m->pf_name, i);
        return NULL;
    }
    vf->index = i;
    snprintf(vf->name, sizeof(vf->name), "%svf%u", m->pf_name, i);
    pthread_mutex_lock(&m->lock);
    struct virtio_net_port port = m->conf[i].port;
    bool handed = m->taps[i].fd >= 0;
    int fd = handed ? fcntl(m->taps[i].fd, F_DUPFD_CLOEXEC, 3) : -1;
    net_vf_mgr_tap_name(m, i, vf->tap);
    pthread_mutex_unlock(&m->lock);
    memcpy(vf->mac, port.mac, 6);
    struct net_backend *bes[VIRTIO_NET_MAX_PAIRS];
    unsigned npairs = open_backends(m, vf, handed, fd, bes);
    struct net_backend *be = npairs ? bes[0] : NULL;
    vf->tap_created = tap_created(be);
    if (be && be->dev[0])
        snprintf(vf->vdpa_dev, sizeof(vf->vdpa_dev), "%s", be->dev);
    /* An admin-made vDPA device has its own MAC: the VF takes it (the host's port
     * follows, so that `vfs` tells the truth), as one the host set. */
    if (be && be->has_mac && memcmp(be->mac, vf->mac, 6)) {
        memcpy(vf->mac, be->mac, 6);
        memcpy(port.mac, be->mac, 6);
        port.admin_mac = true;
        pthread_mutex_lock(&m->lock);
        memcpy(m->conf[i].port.mac, be->mac, 6);
        m->conf[i].port.admin_mac = true;
        pthread_mutex_unlock(&m->lock);
    }
    char err[256] = "no backend, not even the null one";
    vf->net = be ? virtio_net_create_mq(vf->name, m->env.mem, bes, npairs, vf->mac, err,
                                        sizeof(err))
                 : NULL;
    if (!vf->net) {
        for (unsigned k = 0; k < npairs; k++)
            net_backend_close(bes[k]);
        goto fail;
    }
    virtio_net_set_event_hook(vf->net, m->env.device_event, m->env.event_opaque);
    virtio_net_set_port(vf->net, &port);
    if (vf->error[0])       /* mgr_enable sets the link the host wants once it is listed */
        virtio_net_set_link(vf->net, false);
    if (virtio_pci_init_vf(&vf->vp, vf->name, virtio_net_vdev(vf->net), m->env.router, err,
                           sizeof(err)) < 0)
        goto fail_net;
    if (pci_sriov_add_vf_locked(&m->sriov, i, &vf->vp.pci) < 0) {
        snprintf(err, sizeof(err), "its routing ID is taken");
        virtio_pci_destroy(&vf->vp);
        goto fail_net;
    }
    vf->devfn = vf->vp.pci.devfn;
    virtio_pci_set_notify_ops(&vf->vp, m->env.notify_ops, m->env.notify_opaque);
    vf_log_created(m, vf, handed);
    return vf;
fail_net:
    virtio_net_destroy(vf->net);
fail:
    log_error_rl(&m->log_rl, "%s: VF %u could not be created: %s", m->pf_name, i, err);
    free(vf);
    return NULL;
}

/* Bus lock held; vf no longer in vfs[]. Same order as a PF's teardown: off the bus,
 * doorbells and MSI routes dropped once the data path stopped, then the I/O thread and
 * the backend. */
static void vf_destroy(struct net_vf_mgr *m, struct net_vf *vf)
{
    pci_sriov_remove_vf_locked(&m->sriov, vf->index);
    virtio_pci_destroy(&vf->vp);
    virtio_net_destroy(vf->net);
    free(vf);
}

static void mgr_enable(void *opaque, unsigned n)
{
    struct net_vf_mgr *m = opaque;
    unsigned up = 0;
    for (unsigned i = 0; i < n; i++) {
        struct net_vf *vf = vf_create(m, i);
        pthread_mutex_lock(&m->lock);
        m->vfs[i] = vf;
        m->nvfs = i + 1;
        /* The host may have changed the settings while the VF was being made. */
        if (vf)
            net_vf_mgr_set_conf(m, i, &m->conf[i]);
        pthread_mutex_unlock(&m->lock);
        up += vf != NULL;
    }
    log_info_rl(&m->log_rl, "%s: VF Enable: %u of %u VFs up", m->pf_name, up, n);
    if (m->env.vfs_changed)
        m->env.vfs_changed(m->env.changed_opaque, m);
}

static void mgr_disable(void *opaque)
{
    struct net_vf_mgr *m = opaque;
    unsigned n = m->nvfs;
    for (unsigned i = n; i-- > 0;) {
        pthread_mutex_lock(&m->lock);
        struct net_vf *vf = m->vfs[i];
        m->vfs[i] = NULL;
        m->nvfs = i;
        pthread_mutex_unlock(&m->lock);
        if (vf)
            vf_destroy(m, vf);
    }
    if (n)
        log_info_rl(&m->log_rl, "%s: VF Disable: %u VFs down", m->pf_name, n);
    if (n && m->env.vfs_changed)
        m->env.vfs_changed(m->env.changed_opaque, m);
}

static void mgr_vfs_moved(void *opaque)
{
    struct net_vf_mgr *m = opaque;
    for (unsigned i = 0; i < m->nvfs; i++)
        if (m->vfs[i])
            virtio_pci_sync_notify(&m->vfs[i]->vp);
}

static const struct pci_sriov_ops mgr_ops = {
    .enable = mgr_enable,
    .disable = mgr_disable,
    .vfs_moved = mgr_vfs_moved,
};

int net_vf_mgr_init(struct net_vf_mgr *m, const char *pf_name, struct virtio_pci *pf,
                    struct virtio_net *pf_net, const struct pf_policy *policy,
                    const uint8_t pf_mac[6], const struct net_vf_env *env, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->pf_name, sizeof(m->pf_name), "%s", pf_name);
    memcpy(m->pf_mac, pf_mac, 6);
    m->pf_net = pf_net;
    m->policy = policy;
    m->env = *env;
    if (pci_sriov_init(&m->sriov, &pf->pci, policy->total_vfs, VF_DEVICE_ID, &mgr_ops, m) < 0 ||
        pci_sriov_set_vf_bar(&m->sriov, VIRTIO_PCI_BAR, PCI_BAR_MEM64, true, VIRTIO_PCI_BAR_SIZE) <
            0) {
        snprintf(err, errlen, "cannot add the SR-IOV capability");
        return -1;
    }
    pthread_mutex_init(&m->lock, NULL);
    /* One full VF Enable (a line per VF, tap or not, and the summary) is never cut. */
    m->log_rl.burst = 2 * policy->total_vfs + 2;
    for (unsigned i = 0; i < policy->total_vfs; i++)
        pf_policy_vf_conf(policy, pf_mac, i, &m->conf[i]);
    for (unsigned i = 0; i < NET_MAX_VFS; i++)
        m->taps[i].fd = -1;
    /* virtio 1.2 §6: the device supports SR-IOV; Linux's virtio_pci enables VFs only when
     * it is negotiated (virtio_pci_sriov_configure). */
    virtio_net_offer_features(pf_net, BIT(VIRTIO_F_SR_IOV));
    return 0;
}

int net_vf_mgr_assign_bars(struct net_vf_mgr *m, struct pci_bus *bus)
{
    return pci_sriov_assign_bars(&m->sriov, bus);
}

void net_vf_mgr_destroy(struct net_vf_mgr *m)
{
    struct pci_bus *bus = m->sriov.pf->bus;
    if (bus)
        pthread_mutex_lock(&bus->lock);
    pci_sriov_reset(&m->sriov);
    if (bus)
        pthread_mutex_unlock(&bus->lock);
    for (unsigned i = 0; i < NET_MAX_VFS; i++)
        if (m->taps[i].fd >= 0)
            close(m->taps[i].fd);
    pthread_mutex_destroy(&m->lock);
}

void net_vf_mgr_lock(struct net_vf_mgr *m) { pthread_mutex_lock(&m->lock); }

void net_vf_mgr_unlock(struct net_vf_mgr *m) { pthread_mutex_unlock(&m->lock); }

struct net_vf *net_vf_mgr_find(struct net_vf_mgr *m, const char *name)
{
    for (unsigned i = 0; i < m->nvfs; i++)
        if (m->vfs[i] && !strcmp(m->vfs[i]->name, name))
            return m->vfs[i];
    return NULL;
}

/* The link VF i should have: a backend that works, and its link state (auto: the PF's). */
static bool link_wanted(struct net_vf_mgr *m, const struct net_vf *vf)
{
    char why[8];
    if (vf->error[0] || virtio_net_backend_error(vf->net, why, sizeof(why)) == 0)
        return false;
    switch (m->conf[vf->index].link) {
    case PF_VF_LINK_ENABLE:
        return true;
    case PF_VF_LINK_DISABLE:
        return false;
    default:
        return virtio_net_link_up(m->pf_net);
    }
}

void net_vf_mgr_set_conf(struct net_vf_mgr *m, unsigned i, const struct pf_vf_conf *c)
{
    m->conf[i] = *c;
    struct net_vf *vf = i < m->nvfs ? m->vfs[i] : NULL;
    if (!vf)
        return;
    memcpy(vf->mac, c->port.mac, 6);
    virtio_net_set_port(vf->net, &c->port);
    virtio_net_set_link(vf->net, link_wanted(m, vf));
}

void net_vf_mgr_pf_link_changed(struct net_vf_mgr *m)
{
    for (unsigned i = 0; i < m->nvfs; i++)
        if (m->vfs[i] && m->conf[i].link == PF_VF_LINK_AUTO)
            virtio_net_set_link(m->vfs[i]->net, link_wanted(m, m->vfs[i]));
}

bool net_vf_mgr_vf_up(struct net_vf_mgr *m, unsigned i) { return i < m->nvfs && m->vfs[i]; }

void net_vf_mgr_set_tap(struct net_vf_mgr *m, unsigned i, int fd, const char *name)
{
    if (m->taps[i].fd >= 0)
        close(m->taps[i].fd);
    m->taps[i].fd = fd;
    snprintf(m->taps[i].name, sizeof(m->taps[i].name), "%s", fd >= 0 ? name : "");
}

void net_vf_mgr_tap_name(const struct net_vf_mgr *m, unsigned i, char name[IFNAMSIZ])
{
    if (m->taps[i].fd >= 0)
        memcpy(name, m->taps[i].name, IFNAMSIZ);
    else
        pf_policy_vf_tap(m->policy, i, name);
}
