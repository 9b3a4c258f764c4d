/* vhost-user backend: an external switch (DPDK, OVS-DPDK, ...) moves the packets between
 * the guest's rings and its ports; vpf is the vhost-user front-end and stays off the
 * data path (the wire protocol, with its checks: vhost_user_proto.c).
 *
 * Connection (open, or later on the device's I/O thread): client mode connects to the
 * socket path, server mode listens on it and accepts one peer at a time. Handshake:
 * GET_FEATURES (VERSION_1 required), with VHOST_USER_F_PROTOCOL_FEATURES
 * GET/SET_PROTOCOL_FEATURES (vpf takes MQ, REPLY_ACK, RESET_DEVICE and STATUS where
 * offered), GET_QUEUE_NUM with MQ (at least the pairs the device has), SET_OWNER.
 *
 * Start (DRIVER_OK, I/O thread): SET_FEATURES (the ring features the guest negotiated:
 * VERSION_1, MRG_RXBUF, EVENT_IDX, INDIRECT_DESC; plus PROTOCOL_FEATURES), SET_MEM_TABLE
 * with one fd per guest RAM region (the memfd, vm/kvm.c), per ring SET_VRING_NUM, BASE,
 * ADDR (vpf's virtual addresses, which the peer translates through the table), KICK
 * (the queue's KVM ioeventfd), CALL (the MSI-X vector's irqfd or vpf's eventfd, as for
 * vhost-net; set_call() moves it), SET_VRING_ENABLE (1 if the link is up), and
 * SET_STATUS DRIVER_OK with STATUS. No packet passes through vpf. Link down/up:
 * SET_VRING_ENABLE 0/1. Stop: SET_STATUS 0 (with STATUS), GET_VRING_BASE of each ring
 * (the peer stops it), RESET_DEVICE where offered without STATUS.
 *
 * Multi-queue (queues=N, vhost-user.rst "Multiple queue support"): one connection
 * carries all N pairs, pair k's rx/tx as rings 2k, 2k + 1. vhost_user_open_mq() makes
 * one shared connection object and N per-pair views of it (struct vu_view), one
 * struct net_backend per pair as virtio-net expects: view k starts, stops and enables
 * its own two rings; view 0 also owns the connection (event_fd, service, device_link,
 * error, peer_state). With N > 1 the handshake requires PROTOCOL_F_MQ and
 * GET_QUEUE_NUM >= N, else the peer is refused (link down, the reason in error(),
 * retried). SET_FEATURES and SET_MEM_TABLE go once per connection (the first pair to
 * start); SET_VRING_ENABLE of pair k's rings is link up && pair k in use
 * (set_queue_enabled, the guest's VQ_PAIRS_SET); the connection goes when the last
 * view closes.
 *
 * Reconnect: a peer that closes the socket, sends anything unasked, answers wrongly or
 * not within the deadline (10 s, 30 s for SET_MEM_TABLE) is dropped (one log line; the
 * reason in error()); device_link() then says down, and the device's I/O thread gives
 * the guest carrier off. Client mode retries on a timerfd with backoff (100 ms doubling
 * to 2 s), server mode accepts the next peer. On a new connection the handshake runs
 * again and, if the device was started, so does the start sequence of every started
 * pair with each ring's base taken from its used index in guest RAM, where the dead
 * peer stopped (QEMU's and cloud-hypervisor's vhost-user reconnect do the same): the
 * guest is not reset and sees carrier on again. Buffers the
 * dead peer had taken but not returned are taken again by the new one: a transmitted
 * frame may go out twice, nothing is lost or corrupted in guest memory.
 *
 * Threads: open on the control path (setup, or the vCPU thread of VF Enable); then
 * everything on the device's I/O thread (service, start/stop/link/set_call, every view:
 * an offloaded device runs all its pairs there), but set_queue_enabled also on the
 * control path before that thread runs; close after that thread stopped. `lock` guards `state` and `reason`, which the control thread reads
 * (error(), peer_state()). */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/vhost_user_proto.h"
#include "base/log.h"

#define F(bit) (1ull << (bit))
#define VU_VRINGS 2                     /* per pair: rx, tx */
#define VU_MAX_PAIRS 8                  /* VIRTIO_NET_MAX_PAIRS */
#define VU_MAX_RINGS (2 * VU_MAX_PAIRS)
/* A whole reply. Generous: DPDK under nested TCG took over 3 s to map 512 MiB of guest
 * RAM for SET_MEM_TABLE; a peer that stalls holds this device's I/O thread (and a vCPU
 * thread waiting for it, e.g. at DRIVER_OK) for up to this long, no other device. */
#define VU_TIMEOUT_MS 10000
#define VU_BACKOFF_MIN_MS 100
#define VU_BACKOFF_MAX_MS 2000

/* The ring features vpf's virtio-net offers that the peer implements on the guest's
 * rings; the rest of what the guest negotiates (MAC, STATUS, the control queue) is vpf's. */
#define VU_RING_FEATURES (F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_RING_F_EVENT_IDX) | \
    F(VIRTIO_RING_F_INDIRECT_DESC))
#define VU_PEER_FEATURES (F(VIRTIO_F_VERSION_1) | VU_RING_FEATURES)

enum vu_state { VU_DOWN, VU_UP };

struct vhost_user;

/* Pair k's backend: a view of the shared connection. */
struct vu_view {
    struct net_backend be;
    struct vhost_user *v;
    unsigned k;
};

struct vhost_user {
    struct vu_view views[VU_MAX_PAIRS]; /* views[0].be names the device in logs */
    unsigned npairs;                    /* views made; rings 0 .. 2 * npairs - 1 */
    unsigned refs;                      /* views not closed yet */
    pthread_mutex_t lock;
    enum vu_state state;                /* lock */
    char reason[200];                   /* why there is no peer (lock) */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    bool server, reconnect;             /* reconnect: false for vhost_user_open_fd */
    int listen_fd, epfd, timer_fd;
    unsigned backoff_ms;
    bool quiet;                         /* a failed retry already logged */
    struct vu_conn conn;                /* conn.fd -1 while there is no peer */
    uint64_t peer_features;             /* GET_FEATURES of the current/last peer */
    bool known_peer;                    /* peer_features valid (ring_features) */
    const struct guest_mem *mem;
    /* What the device started (kept across reconnects; fds are the device's). */
    bool started[VU_MAX_PAIRS];
    bool enabled[VU_MAX_PAIRS];         /* in use by the guest (set_queue_enabled) */
    bool live[VU_MAX_PAIRS];            /* the pair's rings set up on this connection */
    bool mem_live;                      /* SET_FEATURES, SET_MEM_TABLE sent on it */
    bool status_live;                   /* SET_STATUS DRIVER_OK sent, 0 not yet */
    uint64_t features;                  /* the guest's */
    bool link_up;
    struct net_backend_vring vrings[VU_MAX_RINGS];
    int call[VU_MAX_RINGS];
};

/* Connections come and go with peers: limited. */
static struct log_ratelimit vu_rl = { .burst = 64 };

static struct vu_view *to_view(struct net_backend *be) { return (struct vu_view *)be; }
static struct vhost_user *to_vu(struct net_backend *be) { return to_view(be)->v; }

static bool any_started(const struct vhost_user *v)
{
    for (unsigned k = 0; k < v->npairs; k++)
        if (v->started[k])
            return true;
    return false;
}

/* Nothing of the device is set up on the connection any more. */
static void forget_rings(struct vhost_user *v)
{
    memset(v->live, 0, sizeof(v->live));
    v->mem_live = v->status_live = false;
}

static bool has_pf(const struct vhost_user *v, unsigned bit)
{
    return v->conn.protocol_features & F(bit);
}

static void set_state(struct vhost_user *v, enum vu_state s, const char *reason)
{
    pthread_mutex_lock(&v->lock);
    v->state = s;
    snprintf(v->reason, sizeof(v->reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&v->lock);
}

static void arm_timer(struct vhost_user *v, unsigned ms)
{
    struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
                                            .tv_nsec = (long)(ms % 1000) * 1000000 } };
    if (v->timer_fd >= 0 && timerfd_settime(v->timer_fd, 0, &its, NULL) < 0)
        log_warn_rl(&vu_rl, "vhost-user %s: reconnect timer: %s", v->views[0].be.name,
                    strerror(errno));
}

/* The guest's used index of ring i, where a restarted peer resumes. */
static uint16_t used_idx(const struct vhost_user *v, unsigned i)
{
    const uint16_t *p = guest_mem_ptr(v->mem, v->vrings[i].used_gpa + 2, 2);
    return p ? __atomic_load_n(p, __ATOMIC_ACQUIRE) : v->vrings[i].last_avail;
}

/* The peer is gone or misbehaved: close the connection, tell why, and try again. */
static void drop(struct vhost_user *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void drop(struct vhost_user *v, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (v->conn.fd >= 0) {
        epoll_ctl(v->epfd, EPOLL_CTL_DEL, v->conn.fd, NULL);
        close(v->conn.fd);
        v->conn.fd = -1;
        log_warn_rl(&vu_rl, "vhost-user %s: peer lost (%s); %s", v->views[0].be.name, why,
                    !v->reconnect ? "not reconnecting"
                    : v->server   ? "waiting for it on the socket"
                                  : "reconnecting");
    }
    v->conn.protocol_features = 0;
    forget_rings(v);
    set_state(v, VU_DOWN, why);
    if (v->reconnect && !v->server) {
        v->backoff_ms = v->backoff_ms ? v->backoff_ms * 2 : VU_BACKOFF_MIN_MS;
        if (v->backoff_ms > VU_BACKOFF_MAX_MS)
            v->backoff_ms = VU_BACKOFF_MAX_MS;
        arm_timer(v, v->backoff_ms);
    }
}

/* Once per connection, before the first pair's rings: the guest's ring features and
 * guest RAM (one fd per region). */
static int setup_conn(struct vhost_user *v)
{
    struct vu_conn *c = &v->conn;
    if (v->mem_live)
        return 0;
    if ((v->features & VU_PEER_FEATURES & ~v->peer_features) != 0) {
        snprintf(c->err, sizeof(c->err), "the peer lacks features %#llx the guest negotiated",
                 (unsigned long long)(v->features & VU_PEER_FEATURES & ~v->peer_features));
        return -1;
    }
    uint64_t f = (v->features & VU_PEER_FEATURES) | (v->peer_features & F(VU_F_PROTOCOL_FEATURES));
    struct vu_memory m = { .nregions = v->mem->nregions };
    int fds[VU_MAX_FDS];
    if (m.nregions > VU_MAX_MEM_REGIONS || !guest_mem_shareable(v->mem)) {
        snprintf(c->err, sizeof(c->err), "guest RAM is not shareable (no memfd)");
        return -1;
    }
    for (unsigned i = 0; i < m.nregions; i++) {
        const struct guest_mem_region *r = &v->mem->regions[i];
        m.regions[i] = (struct vu_mem_region){ .guest_phys_addr = r->gpa,
                                               .memory_size = r->size,
                                               .userspace_addr = (uint64_t)(uintptr_t)r->hva,
                                               .mmap_offset = r->fd_offset };
        fds[i] = r->fd;
    }
    if (vu_set_u64(c, VU_SET_FEATURES, f) < 0 ||
        vu_send(c, VU_SET_MEM_TABLE, &m, (uint32_t)(8 + m.nregions * sizeof(m.regions[0])), fds,
                m.nregions) < 0)
        return -1;
    v->mem_live = true;
    return 0;
}

/* Ring i (the connection's index) from base. */
static int setup_ring(struct vhost_user *v, unsigned i, uint16_t base)
{
    struct vu_conn *c = &v->conn;
    const struct net_backend_vring *r = &v->vrings[i];
    /* virtio 1.2 §2.7: descriptor table 16 * size, avail 6 + 2 * size, used 6 + 8 * size. */
    struct vu_vring_addr a = {
        .index = i,
        .desc = (uint64_t)(uintptr_t)guest_mem_ptr(v->mem, r->desc_gpa, 16ull * r->size),
        .avail = (uint64_t)(uintptr_t)guest_mem_ptr(v->mem, r->avail_gpa, 6 + 2ull * r->size),
        .used = (uint64_t)(uintptr_t)guest_mem_ptr(v->mem, r->used_gpa, 6 + 8ull * r->size),
    };
    if (!a.desc || !a.avail || !a.used) {
        snprintf(c->err, sizeof(c->err), "ring %u is outside guest RAM", i);
        return -1;
    }
    if (vu_set_state(c, VU_SET_VRING_NUM, i, r->size) < 0 ||
        vu_set_state(c, VU_SET_VRING_BASE, i, base) < 0 ||
        vu_send(c, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) < 0 ||
        vu_set_vring_fd(c, VU_SET_VRING_KICK, i, r->kick_fd) < 0 ||
        vu_set_vring_fd(c, VU_SET_VRING_CALL, i, v->call[i]) < 0)
        return -1;
    return 0;
}

/* SET_VRING_ENABLE of pair k's rings: on while the link is up and the guest uses the
 * pair (vhost-user.rst: a ring runs only while enabled, with PROTOCOL_FEATURES). */
static int enable_pair(struct vhost_user *v, unsigned k)
{
    if (!(v->peer_features & F(VU_F_PROTOCOL_FEATURES)))
        return 0; /* without protocol features the rings run once kicked */
    for (unsigned i = 2 * k; i < 2 * k + 2; i++)
        if (vu_set_state(&v->conn, VU_SET_VRING_ENABLE, i, v->link_up && v->enabled[k]) < 0)
            return -1;
    return 0;
}

/* The start sequence of pair k on the current connection, its rings from base[0..1]. */
static int setup_pair(struct vhost_user *v, unsigned k, const uint16_t *base)
{
    struct vu_conn *c = &v->conn;
    if (setup_conn(v) < 0 || setup_ring(v, 2 * k, base[0]) < 0 ||
        setup_ring(v, 2 * k + 1, base[1]) < 0 || enable_pair(v, k) < 0)
        return -1;
    if (has_pf(v, VU_PROTOCOL_F_STATUS) &&
        vu_set_u64(c, VU_SET_STATUS,
                   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK) < 0)
        return -1;
    v->status_live = true;
    v->live[k] = true;
    return 0;
}

/* A new connection: every started pair's rings again, from their used index. */
static int restore_pairs(struct vhost_user *v)
{
    unsigned n = 0;
    for (unsigned k = 0; k < v->npairs; k++) {
        if (!v->started[k])
            continue;
        uint16_t base[2] = { used_idx(v, 2 * k), used_idx(v, 2 * k + 1) };
        if (setup_pair(v, k, base) < 0)
            return -1;
        n++;
    }
    if (n)
        log_info_rl(&vu_rl,
                    "vhost-user %s: %u rings restored on the new peer from their used index",
                    v->views[0].be.name, 2 * n);
    return 0;
}

/* GET_QUEUE_NUM (vhost-user.rst: the most queue pairs the peer serves) against the
 * pairs the device has; queues > 1 needs the peer's PROTOCOL_F_MQ. 0 or -1 (c->err). */
static int check_queues(struct vhost_user *v)
{
    struct vu_conn *c = &v->conn;
    uint64_t queues = 1;
    if (!has_pf(v, VU_PROTOCOL_F_MQ)) {
        if (v->npairs == 1)
            return 0;
        snprintf(c->err, sizeof(c->err),
                 "queues=%u needs the peer's VHOST_USER_PROTOCOL_F_MQ, which it does not offer",
                 v->npairs);
        return -1;
    }
    if (vu_get_u64(c, VU_GET_QUEUE_NUM, &queues) < 0)
        return -1;
    if (queues < 1 || queues > 0x8000) {
        snprintf(c->err, sizeof(c->err), "GET_QUEUE_NUM: the peer has %llu queue pairs",
                 (unsigned long long)queues);
        return -1;
    }
    if (queues < v->npairs) {
        snprintf(c->err, sizeof(c->err),
                 "GET_QUEUE_NUM: the peer serves %llu queue pairs, queues=%u needs %u",
                 (unsigned long long)queues, v->npairs, v->npairs);
        return -1;
    }
    return 0;
}

/* A new connection on fd: handshake, and the rings again if the device runs. */
static int connected(struct vhost_user *v, int fd)
{
    struct vu_conn *c = &v->conn;
    c->fd = fd;
    c->protocol_features = 0;
    uint64_t pf = 0;
    if (vu_get_u64(c, VU_GET_FEATURES, &v->peer_features) < 0)
        goto fail;
    v->known_peer = true;
    if (!(v->peer_features & F(VIRTIO_F_VERSION_1))) {
        snprintf(c->err, sizeof(c->err), "the peer lacks VIRTIO_F_VERSION_1 (features %#llx)",
                 (unsigned long long)v->peer_features);
        goto fail;
    }
    if (v->peer_features & F(VU_F_PROTOCOL_FEATURES)) {
        if (vu_get_u64(c, VU_GET_PROTOCOL_FEATURES, &pf) < 0 ||
            vu_set_u64(c, VU_SET_PROTOCOL_FEATURES, pf & VU_PROTOCOL_SUPPORTED) < 0)
            goto fail;
        c->protocol_features = pf & VU_PROTOCOL_SUPPORTED;
    }
    if (check_queues(v) < 0)
        goto fail;
    if (vu_send(c, VU_SET_OWNER, NULL, 0, NULL, 0) < 0)
        goto fail;
    if (restore_pairs(v) < 0)
        goto fail;
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(c->err, sizeof(c->err), "epoll: %s", strerror(errno));
        goto fail;
    }
    v->backoff_ms = 0;
    v->quiet = false;
    set_state(v, VU_UP, NULL);
    log_info_rl(&vu_rl, "vhost-user %s: connected to the peer (features %#llx, protocol %#llx)",
                v->views[0].be.name, (unsigned long long)v->peer_features,
                (unsigned long long)c->protocol_features);
    return 0;
fail:
    c->fd = -1; /* not in epoll yet */
    close(fd);
    v->conn.protocol_features = 0;
    forget_rings(v);
    log_warn_rl(&vu_rl, "vhost-user %s: peer refused: %s", v->views[0].be.name, c->err);
    set_state(v, VU_DOWN, c->err);
    if (v->reconnect && !v->server) {
        v->backoff_ms = v->backoff_ms ? v->backoff_ms * 2 : VU_BACKOFF_MIN_MS;
        if (v->backoff_ms > VU_BACKOFF_MAX_MS)
            v->backoff_ms = VU_BACKOFF_MAX_MS;
        arm_timer(v, v->backoff_ms);
    }
    return -1;
}

static struct sockaddr_un sock_addr(const struct vhost_user *v)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, v->path, sizeof(a.sun_path));
    return a;
}

/* Client mode: one attempt. */
static void try_connect(struct vhost_user *v)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = sock_addr(v);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        char why[200];
        snprintf(why, sizeof(why), "cannot connect to %s: %s; retrying", v->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (!v->quiet)
            log_warn_rl(&vu_rl, "vhost-user %s: %s", v->views[0].be.name, why);
        v->quiet = true;
        set_state(v, VU_DOWN, why);
        v->backoff_ms = v->backoff_ms ? v->backoff_ms * 2 : VU_BACKOFF_MIN_MS;
        if (v->backoff_ms > VU_BACKOFF_MAX_MS)
            v->backoff_ms = VU_BACKOFF_MAX_MS;
        arm_timer(v, v->backoff_ms);
        return;
    }
    connected(v, fd);
}

/* Server mode: a peer knocks. One at a time: a second is turned away. */
static void try_accept(struct vhost_user *v)
{
    int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            log_warn_rl(&vu_rl, "vhost-user %s: accept: %s", v->views[0].be.name, strerror(errno));
        return;
    }
    if (v->conn.fd >= 0) {
        log_warn_rl(&vu_rl, "vhost-user %s: a second peer connected; turned away",
                    v->views[0].be.name);
        close(fd);
        return;
    }
    connected(v, fd);
}

static int vu_event_fd(struct net_backend *be) { return to_vu(be)->epfd; }

/* I/O thread: whatever the inner epoll set has ready. */
static void vu_service(struct net_backend *be)
{
    struct vhost_user *v = to_vu(be);
    struct epoll_event ev[4];
    int n = epoll_wait(v->epfd, ev, 4, 0);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == v->timer_fd) {
            uint64_t x;
            if (read(fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
                log_warn_rl(&vu_rl, "vhost-user %s: timer: %s", v->views[0].be.name,
                            strerror(errno));
            if (v->conn.fd < 0 && v->reconnect && !v->server)
                try_connect(v);
        } else if (fd == v->listen_fd) {
            try_accept(v);
        } else if (fd == v->conn.fd) {
            /* The peer sends nothing unasked on this socket: EOF, an error or a stray
             * message all end the connection (nothing of it is read). */
            char b;
            ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0)
                drop(v, "the peer closed the connection");
            else if (r > 0)
                drop(v, "the peer sent a message nobody asked for");
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                drop(v, "%s", strerror(errno));
            else if (ev[i].events & (EPOLLHUP | EPOLLERR))
                drop(v, "the connection broke");
        }
    }
}

static bool vu_device_link(struct net_backend *be)
{
    struct vhost_user *v = to_vu(be);
    pthread_mutex_lock(&v->lock);
    bool up = v->state == VU_UP;
    pthread_mutex_unlock(&v->lock);
    return up;
}

static const char *vu_peer_state(struct net_backend *be)
{
    struct vhost_user *v = to_vu(be);
    pthread_mutex_lock(&v->lock);
    bool up = v->state == VU_UP;
    pthread_mutex_unlock(&v->lock);
    return up              ? "connected"
           : !v->reconnect ? "disconnected"
           : v->server     ? "listening"
                           : "connecting";
}

static int vu_error(struct net_backend *be, char *buf, size_t len)
{
    struct vhost_user *v = to_vu(be);
    pthread_mutex_lock(&v->lock);
    int r = v->state == VU_UP || !v->reason[0] ? -1 : 0;
    if (r == 0)
        snprintf(buf, len, "vhost-user %s: %s", v->path[0] ? v->path : v->views[0].be.name,
                 v->reason);
    pthread_mutex_unlock(&v->lock);
    return r;
}

/* Pair k's rings 2k, 2k + 1 from cfg (its own two: rx, tx). */
static int vu_start(struct net_backend *be, const struct net_backend_offload *cfg)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    if (cfg->nvrings != VU_VRINGS) {
        log_error("vhost-user %s: %u rings, vpf gives the peer %d per pair", be->name, cfg->nvrings,
                  VU_VRINGS);
        return -1;
    }
    v->mem = cfg->mem;
    v->features = cfg->features;
    v->link_up = cfg->link_up;
    uint16_t base[VU_VRINGS];
    for (unsigned r = 0; r < VU_VRINGS; r++) {
        v->vrings[2 * k + r] = cfg->vrings[r];
        v->call[2 * k + r] = cfg->vrings[r].call_fd;
        base[r] = cfg->vrings[r].last_avail;
    }
    v->started[k] = true;
    /* Without a peer the rings wait for one (started from their used index then). */
    if (v->conn.fd >= 0 && setup_pair(v, k, base) < 0)
        drop(v, "%s", v->conn.err);
    log_debug("vhost-user %s: pair %u started%s, link %s", be->name, k,
              v->live[k] ? "" : " (no peer yet)", cfg->link_up ? "up" : "down");
    return 0;
}

/* Pair k's rings stop (GET_VRING_BASE); the device's status is reset before the first
 * ring stops, and RESET_DEVICE (without STATUS) follows the last pair. */
static void vu_stop(struct net_backend *be, uint16_t *last_avail, unsigned nvrings)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    if (!v->started[k])
        return;
    struct vu_conn *c = &v->conn;
    bool ok = true;
    for (unsigned r = 0; r < VU_VRINGS && r < nvrings; r++)
        last_avail[r] = used_idx(v, 2 * k + r);
    if (v->live[k]) {
        if (v->status_live && has_pf(v, VU_PROTOCOL_F_STATUS))
            ok = vu_set_u64(c, VU_SET_STATUS, 0) == 0;
        v->status_live = false;
        for (unsigned r = 0; ok && r < VU_VRINGS; r++) {
            uint16_t b;
            ok = vu_get_vring_base(c, 2 * k + r, &b) == 0;
            if (ok && r < nvrings)
                last_avail[r] = b;
        }
    }
    v->started[k] = v->live[k] = false;
    if (ok && v->mem_live && !any_started(v)) {
        if (has_pf(v, VU_PROTOCOL_F_RESET_DEVICE) && !has_pf(v, VU_PROTOCOL_F_STATUS))
            ok = vu_send(c, VU_RESET_DEVICE, NULL, 0, NULL, 0) == 0;
        v->mem_live = false; /* the next start sends the table again */
    }
    if (!ok)
        drop(v, "%s", c->err);
}

static int vu_set_link(struct net_backend *be, bool up)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    v->link_up = up;
    if (v->live[k] && enable_pair(v, k) < 0)
        drop(v, "%s", v->conn.err);
    return 0; /* a lost peer is the reconnect's business, not the caller's */
}

/* The guest's VQ_PAIRS_SET (virtio 1.2 §5.1.6.5.5): pair k's rings enabled or not. */
static int vu_set_queue_enabled(struct net_backend *be, bool on)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    v->enabled[k] = on;
    if (v->live[k] && enable_pair(v, k) < 0)
        drop(v, "%s", v->conn.err);
    return 0;
}

static int vu_set_call(struct net_backend *be, unsigned ring, int fd)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    if (ring >= VU_VRINGS || !v->started[k])
        return -1;
    unsigned i = 2 * k + ring;
    v->call[i] = fd;
    if (v->live[k] && vu_set_vring_fd(&v->conn, VU_SET_VRING_CALL, i, fd) < 0)
        drop(v, "%s", v->conn.err);
    return 0;
}

static uint64_t vu_features(struct net_backend *be)
{
    (void)be;
    return 0; /* no offloads: the switch would have to finish them on every port */
}

static int vu_set_features(struct net_backend *be, uint64_t features)
{
    (void)be;
    (void)features;
    return 0;
}

static uint64_t vu_ring_features(struct net_backend *be)
{
    struct vhost_user *v = to_vu(be);
    return v->known_peer ? v->peer_features & VU_RING_FEATURES : VU_RING_FEATURES;
}

static void vu_free(struct vhost_user *v)
{
    if (v->conn.fd >= 0)
        close(v->conn.fd);
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        unlink(v->path);
    }
    if (v->timer_fd >= 0)
        close(v->timer_fd);
    if (v->epfd >= 0)
        close(v->epfd);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* One pair's view goes (its rings stopped); the connection with the last. */
static void vu_close(struct net_backend *be)
{
    struct vhost_user *v = to_vu(be);
    unsigned k = to_view(be)->k;
    if (v->started[k]) {
        uint16_t ignored[VU_VRINGS];
        vu_stop(be, ignored, VU_VRINGS);
    }
    if (--v->refs == 0)
        vu_free(v);
}

static const struct net_backend_ops vhost_user_ops = {
    .type = "vhost-user",
    .kind = NET_BACKEND_OFFLOAD,
    .features = vu_features,
    .set_features = vu_set_features,
    .close = vu_close,
    .start_offload = vu_start,
    .stop_offload = vu_stop,
    .set_link = vu_set_link,
    .ring_features = vu_ring_features,
    .error = vu_error,
    .device_link = vu_device_link,
    .set_call = vu_set_call,
    .event_fd = vu_event_fd,
    .service = vu_service,
    .peer_state = vu_peer_state,
    .set_queue_enabled = vu_set_queue_enabled,
};

/* The connection object and its npairs views (all pairs in use until the device says
 * otherwise, as a multi-queue tap's opened queues are attached). */
static struct vhost_user *vu_alloc(const char *name, const struct guest_mem *mem, unsigned npairs,
                                   char *err, size_t errlen)
{
    if (npairs < 1 || npairs > VU_MAX_PAIRS) {
        snprintf(err, errlen, "vhost-user %s: %u queue pairs (1 to %d)", name, npairs,
                 VU_MAX_PAIRS);
        return NULL;
    }
    struct vhost_user *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vhost-user %s: out of memory", name);
        return NULL;
    }
    pthread_mutex_init(&v->lock, NULL);
    v->npairs = v->refs = npairs;
    for (unsigned k = 0; k < npairs; k++) {
        struct vu_view *w = &v->views[k];
        *w = (struct vu_view){ .v = v, .k = k };
        w->be.ops = &vhost_user_ops;
        w->be.fd = -1;
        w->be.hdr_len = NET_BACKEND_HDR_LEN;
        snprintf(w->be.name, sizeof(w->be.name), "%s", name);
        v->enabled[k] = true;
    }
    v->listen_fd = v->timer_fd = v->conn.fd = -1;
    v->conn.timeout_ms = VU_TIMEOUT_MS;
    v->mem = mem;
    for (unsigned i = 0; i < VU_MAX_RINGS; i++)
        v->call[i] = -1;
    v->epfd = epoll_create1(EPOLL_CLOEXEC);
    v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = v->timer_fd };
    if (v->epfd < 0 || v->timer_fd < 0 || epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &ev) < 0) {
        snprintf(err, errlen, "vhost-user %s: %s", name, strerror(errno));
        vu_free(v);
        return NULL;
    }
    set_state(v, VU_DOWN, "not connected yet");
    return v;
}

static void vu_views(struct vhost_user *v, struct net_backend **be)
{
    for (unsigned k = 0; k < v->npairs; k++)
        be[k] = &v->views[k].be;
}

/* A server socket at path; a stale socket there is replaced, anything else is left. */
static int vu_listen(struct vhost_user *v, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(v->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "vhost-user: %s exists and is not a socket", v->path);
            return -1;
        }
        unlink(v->path);
    }
    struct sockaddr_un a = sock_addr(v);
    v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = { .events = EPOLLIN };
    if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        snprintf(err, errlen, "vhost-user: cannot listen on %s: %s", v->path, strerror(errno));
        return -1;
    }
    ev.data.fd = v->listen_fd;
    if (listen(v->listen_fd, 1) < 0 || epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0) {
        snprintf(err, errlen, "vhost-user: cannot listen on %s: %s", v->path, strerror(errno));
        return -1;
    }
    return 0;
}

int vhost_user_open_mq(const char *path, bool server, const struct guest_mem *mem, unsigned npairs,
                       struct net_backend **be, char *err, size_t errlen)
{
    if (!path[0] || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "vhost-user: socket path '%s' is empty or longer than %zu characters",
                 path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -1;
    }
    if (!guest_mem_shareable(mem)) {
        snprintf(err, errlen, "vhost-user %s: guest RAM is not shareable", path);
        return -1;
    }
    const char *base = strrchr(path, '/');
    struct vhost_user *v = vu_alloc(base ? base + 1 : path, mem, npairs, err, errlen);
    if (!v)
        return -1;
    snprintf(v->path, sizeof(v->path), "%s", path);
    for (unsigned k = 0; k < npairs; k++)
        snprintf(v->views[k].be.socket, sizeof(v->views[k].be.socket), "%s", path);
    v->server = server;
    v->reconnect = true;
    if (server) {
        if (vu_listen(v, err, errlen) < 0) {
            if (v->listen_fd >= 0)
                close(v->listen_fd);
            v->listen_fd = -1;
            vu_free(v);
            return -1;
        }
        set_state(v, VU_DOWN, "waiting for the peer to connect");
        log_info("vhost-user %s: listening on %s", v->views[0].be.name, path);
    } else {
        try_connect(v);
    }
    vu_views(v, be);
    return 0;
}

struct net_backend *vhost_user_open(const char *path, bool server, const struct guest_mem *mem,
                                    char *err, size_t errlen)
{
    struct net_backend *be;
    return vhost_user_open_mq(path, server, mem, 1, &be, err, errlen) < 0 ? NULL : be;
}

int vhost_user_open_fd_mq(int fd, const char *name, const struct guest_mem *mem, int timeout_ms,
                          unsigned npairs, struct net_backend **be, char *err, size_t errlen)
{
    struct vhost_user *v = vu_alloc(name, mem, npairs, err, errlen);
    if (!v) {
        close(fd);
        return -1;
    }
    v->conn.timeout_ms = timeout_ms;
    if (connected(v, fd) < 0) {
        snprintf(err, errlen, "vhost-user %s: %s", name, v->conn.err);
        vu_free(v);
        return -1;
    }
    vu_views(v, be);
    return 0;
}

struct net_backend *vhost_user_open_fd(int fd, const char *name, const struct guest_mem *mem,
                                       int timeout_ms, char *err, size_t errlen)
{
    struct net_backend *be;
    return vhost_user_open_fd_mq(fd, name, mem, timeout_ms, 1, &be, err, errlen) < 0 ? NULL : be;
}
