/* vhost-user front-end (src/backend/vhost_user*.c) against a fake peer: a thread that
 * listens on a socket path (as DPDK's net_vhost does) and speaks the back-end side of the
 * protocol, recording every request and the descriptors that came with it, and that can
 * be told to misbehave. Covered: the handshake and start sequence through a real
 * virtio-net device (memory table with the guest RAM memfd, the kick and call eventfds
 * being the device's), link down/up, reset (GET_VRING_BASE), MSI-X-style call moves,
 * the peer dying and coming back (carrier off, reconnect, rings restored from the used
 * index, no NEEDS_RESET), a socket that does not exist yet, server mode, and every kind
 * of malformed reply (wrong request, version, size, a NACK, descriptors, silence, a
 * base beyond 16 bits, unsolicited messages). Multi-queue: two pairs on one connection
 * (rings 0-3), SET_VRING_ENABLE following VQ_PAIRS_SET and the link, all four rings
 * restored on reconnect, and a peer without MQ or with too few queues refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/vhost_user_proto.h"
#include "base/log.h"
#include "fake_net.h"

#define F(b) (1ull << (b))
#define PEER_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_RING_F_EVENT_IDX) | \
                       F(VIRTIO_RING_F_INDIRECT_DESC) | F(VU_F_PROTOCOL_FEATURES) | F(VIRTIO_NET_F_CSUM))
#define MAXLOG 256
#define PEER_RINGS 16

enum misbehave {
    OK,
    WRONG_REQUEST,
    BAD_VERSION,
    NOT_REPLY,
    BAD_SIZE,
    HUGE_SIZE,
    NACK,
    WITH_FD,
    SILENT,
    BASE_TOO_BIG,
    CLOSE,
    UNSOLICITED,
    NO_VERSION_1,
    ZERO_QUEUES,
};

struct peer {
    char path[108];
    int lfd;                        /* listening socket (or -1: a socketpair end in cfd) */
    int cfd;                        /* current connection */
    pthread_t thread;
    bool run;
    pthread_mutex_t lock;
    uint32_t log[MAXLOG];           /* requests seen */
    uint64_t arg[MAXLOG];           /* their u64 or state (index << 32 | num) */
    unsigned n;
    unsigned connections;
    uint64_t protocol;              /* protocol features offered */
    uint32_t bad_req;               /* misbehave on this request ... */
    enum misbehave bad;             /* ... like this (once) */
    uint64_t queue_num;             /* GET_QUEUE_NUM answer */
    uint16_t base[PEER_RINGS];      /* GET_VRING_BASE answers */
    int kick[PEER_RINGS], call[PEER_RINGS]; /* last fds received, by ring */
    int memfd;
    struct vu_memory mem;
    bool drop_now;                  /* close the connection (the peer "dies") */
};

static void peer_note(struct peer *p, uint32_t req, uint64_t arg)
{
    pthread_mutex_lock(&p->lock);
    if (p->n < MAXLOG) {
        p->log[p->n] = req;
        p->arg[p->n++] = arg;
    }
    pthread_mutex_unlock(&p->lock);
}

static unsigned peer_count(struct peer *p, uint32_t req)
{
    pthread_mutex_lock(&p->lock);
    unsigned c = 0;
    for (unsigned i = 0; i < p->n; i++)
        c += p->log[i] == req;
    pthread_mutex_unlock(&p->lock);
    return c;
}

/* The arg of the k-th (0-based) request req, or ~0. */
static uint64_t peer_arg(struct peer *p, uint32_t req, unsigned k)
{
    pthread_mutex_lock(&p->lock);
    uint64_t a = ~0ull;
    for (unsigned i = 0; i < p->n; i++)
        if (p->log[i] == req && k-- == 0) {
            a = p->arg[i];
            break;
        }
    pthread_mutex_unlock(&p->lock);
    return a;
}

static int recv_all(int fd, void *buf, size_t len, int *fds, int *nfds)
{
    size_t got = 0;
    while (got < len) {
        union {
            char b[CMSG_SPACE(sizeof(int) * 8)];
            struct cmsghdr a;
        } ctl;
        struct iovec iov = { (char *)buf + got, len - got };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.b,
                             .msg_controllen = sizeof(ctl.b) };
        ssize_t r = recvmsg(fd, &mh, 0);
        if (r <= 0)
            return -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c && fds; c = CMSG_NXTHDR(&mh, c)) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
            *nfds += k;
        }
        got += (size_t)r;
    }
    return 0;
}

static void send_reply(int fd, const struct vu_msg *m, int passfd)
{
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr a;
    } ctl;
    struct iovec iov = { (void *)m, VU_HDR_SIZE + (m->size > VU_MAX_PAYLOAD ? 0 : m->size) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (passfd >= 0) {
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passfd, sizeof(int));
    }
    (void)!sendmsg(fd, &mh, MSG_NOSIGNAL);
}

/* Serves one connection until it ends; returns false if the peer should stop. */
static void peer_serve(struct peer *p, int fd)
{
    for (;;) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        while (poll(&pf, 1, 20) == 0) {
            if (!__atomic_load_n(&p->run, __ATOMIC_SEQ_CST) ||
                __atomic_exchange_n(&p->drop_now, false, __ATOMIC_SEQ_CST))
                return;
        }
        struct vu_msg m;
        int fds[8], nfds = 0;
        memset(&m, 0, sizeof(m));
        if (recv_all(fd, &m, VU_HDR_SIZE, fds, &nfds) < 0 ||
            (m.size &&
             (m.size > VU_MAX_PAYLOAD || recv_all(fd, &m.payload, m.size, fds, &nfds) < 0)))
            return;
        uint64_t arg = m.size >= 8 ? m.payload.u64 : 0;
        if (m.request == VU_SET_VRING_NUM || m.request == VU_SET_VRING_BASE ||
            m.request == VU_SET_VRING_ENABLE || m.request == VU_GET_VRING_BASE)
            arg = (uint64_t)m.payload.state.index << 32 | m.payload.state.num;
        peer_note(p, m.request, arg);
        if (m.request == VU_SET_MEM_TABLE && nfds >= 1) {
            if (p->memfd >= 0)
                close(p->memfd);
            p->memfd = fds[0];
            p->mem = m.payload.memory;
            for (int i = 1; i < nfds; i++)
                close(fds[i]);
        } else if ((m.request == VU_SET_VRING_KICK || m.request == VU_SET_VRING_CALL) &&
                   nfds == 1) {
            int *slot = m.request == VU_SET_VRING_KICK ? p->kick : p->call;
            unsigned i = m.payload.u64 & (PEER_RINGS - 1);
            if (slot[i] >= 0)
                close(slot[i]);
            slot[i] = fds[0];
        } else {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
        }
        struct vu_msg r = { .request = m.request, .flags = VU_VERSION | VU_FLAG_REPLY, .size = 8 };
        bool reply = true;
        switch (m.request) {
        case VU_GET_FEATURES:
            r.payload.u64 = PEER_FEATURES;
            break;
        case VU_GET_PROTOCOL_FEATURES:
            r.payload.u64 = p->protocol;
            break;
        case VU_GET_QUEUE_NUM:
            r.payload.u64 = p->queue_num;
            break;
        case VU_GET_VRING_BASE:
            r.payload.state.index = m.payload.state.index;
            r.payload.state.num = p->base[m.payload.state.index & (PEER_RINGS - 1)];
            break;
        default:
            reply = m.flags & VU_FLAG_NEED_REPLY;
            r.payload.u64 = 0;
        }
        int passfd = -1;
        if (p->bad != OK && m.request == p->bad_req) {
            enum misbehave b = p->bad;
            p->bad = OK;
            switch (b) {
            case WRONG_REQUEST:
                r.request = VU_GET_STATUS;
                break;
            case BAD_VERSION:
                r.flags = 2 | VU_FLAG_REPLY;
                break;
            case NOT_REPLY:
                r.flags = VU_VERSION;
                break;
            case BAD_SIZE:
                r.size = 4;
                break;
            case HUGE_SIZE:
                r.size = 1u << 30;
                break;
            case NACK:
                r.payload.u64 = 1;
                break;
            case WITH_FD:
                passfd = eventfd(0, 0);
                break;
            case SILENT:
                reply = false;
                break;
            case BASE_TOO_BIG:
                r.payload.state.num = 70000;
                break;
            case CLOSE:
                return;
            case UNSOLICITED:
                send_reply(fd, &r, -1);
                break;
            case NO_VERSION_1:
                r.payload.u64 = PEER_FEATURES & ~F(VIRTIO_F_VERSION_1);
                break;
            case ZERO_QUEUES:
                r.payload.u64 = 0;
                break;
            default:
                break;
            }
        }
        if (reply)
            send_reply(fd, &r, passfd);
        if (passfd >= 0)
            close(passfd);
    }
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    if (p->lfd < 0) {
        peer_serve(p, p->cfd);
        close(p->cfd);      /* the peer is gone */
        p->cfd = -1;
        return NULL;
    }
    while (__atomic_load_n(&p->run, __ATOMIC_SEQ_CST)) {
        struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
        if (poll(&pf, 1, 20) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        __atomic_fetch_add(&p->connections, 1, __ATOMIC_SEQ_CST);
        p->cfd = fd;
        peer_serve(p, fd);
        close(fd);
    }
    return NULL;
}

static void peer_init(struct peer *p)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->lfd = p->cfd = p->memfd = -1;
    for (int i = 0; i < PEER_RINGS; i++)
        p->kick[i] = p->call[i] = -1;
    p->queue_num = 1;
    p->protocol = F(VU_PROTOCOL_F_MQ) | F(VU_PROTOCOL_F_REPLY_ACK) | F(VU_PROTOCOL_F_STATUS) |
                  F(VU_PROTOCOL_F_CONFIG);
    p->run = true;
    static int seq;
    snprintf(p->path, sizeof(p->path), "/tmp/vpf-vu-test-%d-%d.sock", (int)getpid(), seq++);
}

static void peer_listen(struct peer *p)
{
    unlink(p->path);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, p->path);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->lfd, 4), 0);
}

static void peer_start(struct peer *p)
{
    assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_stop(struct peer *p)
{
    __atomic_store_n(&p->run, false, __ATOMIC_SEQ_CST);
    pthread_join(p->thread, NULL);
    if (p->lfd >= 0) {
        close(p->lfd);
        unlink(p->path);
    }
    if (p->cfd >= 0 && p->lfd < 0)
        close(p->cfd);
    for (int i = 0; i < PEER_RINGS; i++) {
        if (p->kick[i] >= 0)
            close(p->kick[i]);
        if (p->call[i] >= 0)
            close(p->call[i]);
    }
    if (p->memfd >= 0)
        close(p->memfd);
}

static bool wait_until(bool (*cond)(void *), void *arg, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (cond(arg))
            return true;
        usleep(1000);
    }
    return cond(arg);
}

/* ---- a virtio-net device on vhost-user over guest RAM in a memfd ---- */

struct vu_test {
    struct fake_net t;
    struct peer p;
    int memfd;
};

static void guest_init(struct fake_guest *g, int *memfd)
{
    memset(g, 0, sizeof(*g));
    *memfd = memfd_create("vu-test-ram", MFD_CLOEXEC);
    assert_true(*memfd >= 0);
    assert_int_equal(ftruncate(*memfd, FG_RAM_SIZE), 0);
    g->ram = mmap(NULL, FG_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0);
    assert_true(g->ram != MAP_FAILED);
    assert_int_equal(guest_mem_add_fd(&g->mem, 0, FG_RAM_SIZE, g->ram, *memfd, 0), 0);
    g->bump = 0x1000;
}

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* The device over vhost_user_open(path, server) (the peer set up by the caller). */
static void dev_init(struct vu_test *v, bool server)
{
    struct fake_net *t = &v->t;
    guest_init(&t->g, &v->memfd);
    t->nq = 3;
    t->ctrlq = 2;
    for (int i = 0; i < 3; i++)
        fvq_init(&t->q[i], &t->g, FNET_QSZ);
    char err[256] = "";
    t->be = vhost_user_open(v->p.path, server, &t->g.mem, err, sizeof(err));
    if (!t->be)
        fail_msg("open: %s", err);
    t->peer = -1;
    t->n = virtio_net_create("vu-test", &t->g.mem, t->be, MAC, NULL, 0);
    assert_non_null(t->n);
    t->dev = virtio_net_vdev(t->n);
    virtio_dev_set_irq(t->dev, &fnet_irq_ops, t);
}

static void dev_destroy(struct vu_test *v)
{
    virtio_net_destroy(v->t.n);
    munmap(v->t.g.ram, FG_RAM_SIZE);
    close(v->memfd);
}

static int setup(void **state)
{
    struct vu_test *v = calloc(1, sizeof(*v));
    peer_init(&v->p);
    peer_listen(&v->p);
    peer_start(&v->p);
    dev_init(v, false);
    *state = v;
    return 0;
}

static int teardown(void **state)
{
    struct vu_test *v = *state;
    dev_destroy(v);
    peer_stop(&v->p);
    free(v);
    return 0;
}

#define BASE_F (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | \
                F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_RING_F_EVENT_IDX))

static uint16_t link_status(struct fake_net *t)
{
    uint8_t st[2];
    virtio_dev_config_read(t->dev, offsetof(struct virtio_net_config, status), st, 2);
    return (uint16_t)(st[0] | st[1] << 8);
}

static bool link_is_up(void *arg) { return link_status(arg) == VIRTIO_NET_S_LINK_UP; }
static bool link_is_down(void *arg) { return link_status(arg) == 0; }

struct req_count {
    struct peer *p;
    uint32_t req;
    unsigned n;
};
static bool seen(void *arg)
{
    struct req_count *r = arg;
    return peer_count(r->p, r->req) >= r->n;
}
static void await_req(struct peer *p, uint32_t req, unsigned n)
{
    struct req_count r = { p, req, n };
    if (!wait_until(seen, &r, 3000))
        fail_msg("peer saw %u %s, expected %u", peer_count(p, req), vu_request_name(req), n);
}

static uint64_t state_arg(uint32_t index, uint32_t num) { return (uint64_t)index << 32 | num; }

/* Handshake at open, then DRIVER_OK: everything a peer needs, with the device's own fds. */
static void test_start_sequence(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_true(wait_until(link_is_up, t, 2000));
    assert_int_equal(peer_count(p, VU_SET_OWNER), 1);
    /* MQ, REPLY_ACK and STATUS taken; CONFIG is not one vpf uses. */
    assert_int_equal(peer_arg(p, VU_SET_PROTOCOL_FEATURES, 0),
                     F(VU_PROTOCOL_F_MQ) | F(VU_PROTOCOL_F_REPLY_ACK) | F(VU_PROTOCOL_F_STATUS));
    assert_int_equal(peer_count(p, VU_GET_QUEUE_NUM), 1);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    assert_int_equal(peer_count(p, VU_SET_STATUS), 1);      /* the last one of the start */
    /* Only ring features, and the protocol-features bit. */
    assert_int_equal(peer_arg(p, VU_SET_FEATURES, 0),
                     F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) |
                         F(VIRTIO_RING_F_EVENT_IDX) | F(VU_F_PROTOCOL_FEATURES));
    assert_int_equal(p->mem.nregions, 1);
    assert_int_equal(p->mem.regions[0].guest_phys_addr, 0);
    assert_int_equal(p->mem.regions[0].memory_size, FG_RAM_SIZE);
    assert_int_equal(p->mem.regions[0].userspace_addr, (uint64_t)(uintptr_t)t->g.ram);
    /* The peer's mapping of the memfd is the guest's RAM. */
    uint8_t *peer_ram = mmap(NULL, FG_RAM_SIZE, PROT_READ, MAP_SHARED, p->memfd, 0);
    assert_true(peer_ram != MAP_FAILED);
    memcpy(fg_ptr(&t->g, 0x60000), "hello peer", 10);
    assert_memory_equal(peer_ram + 0x60000, "hello peer", 10);
    munmap(peer_ram, FG_RAM_SIZE);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(peer_arg(p, VU_SET_VRING_NUM, i), state_arg(i, FNET_QSZ));
        assert_int_equal(peer_arg(p, VU_SET_VRING_BASE, i), state_arg(i, 0));
        assert_int_equal(peer_arg(p, VU_SET_VRING_ENABLE, i), state_arg(i, 1));
        /* The kick fd is the queue's eventfd: what the guest's doorbell signals. */
        uint64_t one = 1, got = 0;
        assert_int_equal(write(t->dev->kick_fds[i], &one, 8), 8);
        assert_int_equal(read(p->kick[i], &got, 8), 8);
        /* The call fd interrupts the guest. */
        assert_int_equal(write(p->call[i], &one, 8), 8);
        assert_true(fnet_wait_count(&t->irqs[i], 1));
    }
    assert_int_equal(peer_count(p, VU_SET_VRING_ERR), 0);
    const char *sock, *st;
    assert_int_equal(virtio_net_backend_peer(t->n, &sock, &st), 0);
    assert_string_equal(sock, p->path);
    assert_string_equal(st, "connected");
    char err[200];
    assert_int_equal(virtio_net_backend_error(t->n, err, sizeof(err)), -1);
    /* No offloads are offered on vhost-user (the switch would have to finish them). */
    assert_int_equal(virtio_dev_read_device_features(t->dev, 0) & F(VIRTIO_NET_F_CSUM), 0);
}

/* Link down/up: the rings are disabled and enabled on the peer. Reset: SET_STATUS 0 and
 * GET_VRING_BASE on each ring; a restart starts from the bases the peer gave. */
static void test_link_and_reset(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    virtio_net_set_link(t->n, false);
    assert_int_equal(peer_arg(p, VU_SET_VRING_ENABLE, 2), state_arg(0, 0));
    assert_int_equal(peer_arg(p, VU_SET_VRING_ENABLE, 3), state_arg(1, 0));
    virtio_net_set_link(t->n, true);
    assert_int_equal(peer_arg(p, VU_SET_VRING_ENABLE, 4), state_arg(0, 1));
    p->base[0] = 9;
    p->base[1] = 4;
    virtio_dev_set_status(t->dev, 0);
    assert_int_equal(peer_count(p, VU_GET_VRING_BASE), 2);
    assert_int_equal(peer_arg(p, VU_SET_STATUS, 1), 0);
    assert_int_equal(peer_arg(p, VU_GET_VRING_BASE, 1), state_arg(1, 0));
    assert_true(link_is_up(t));             /* the peer is still there */
}

/* The device's events (virtio_net_set_event_hook): backend failed and restored. */
struct vu_events {
    unsigned failed, restored;
    char why[200];
};
static void on_event(void *opaque, const char *dev, enum virtio_net_event ev, const char *detail,
                     unsigned long suppressed)
{
    struct vu_events *e = opaque;
    if (ev == VIRTIO_NET_EVENT_BACKEND_FAILED) {
        snprintf(e->why, sizeof(e->why), "%s", detail);
        __atomic_add_fetch(&e->failed, 1, __ATOMIC_SEQ_CST);
    } else if (ev == VIRTIO_NET_EVENT_BACKEND_RESTORED) {
        __atomic_add_fetch(&e->restored, 1, __ATOMIC_SEQ_CST);
    }
}
static bool restored(void *arg)
{
    return __atomic_load_n(&((struct vu_events *)arg)->restored, __ATOMIC_SEQ_CST) > 0;
}

/* The peer dies under a running device: the guest sees carrier off, vpf reconnects
 * when the peer is back and restores each ring from its used index; the guest never
 * needs a reset. The device tells its backend failed, then restored. */
static void test_reconnect_restores_rings(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    static struct vu_events ev;
    virtio_net_set_event_hook(t->n, on_event, &ev);
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    int cfg_irqs = fnet_count(&t->config_irqs);
    st_le16(fg_ptr(&t->g, t->q[0].used + 2), 7);
    st_le16(fg_ptr(&t->g, t->q[1].used + 2), 3);
    /* The peer goes away and does not come back at once. */
    pthread_mutex_lock(&p->lock);
    p->n = 0;
    pthread_mutex_unlock(&p->lock);
    __atomic_store_n(&p->drop_now, true, __ATOMIC_SEQ_CST);
    assert_true(wait_until(link_is_down, t, 3000));
    assert_true(fnet_wait_count(&t->config_irqs, cfg_irqs + 1));
    char err[200];
    assert_int_equal(virtio_net_backend_error(t->n, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "closed the connection"));
    /* It is back (the listener never went): the rings again, from the used index. */
    await_req(p, VU_SET_STATUS, 1);
    assert_true(wait_until(link_is_up, t, 3000));
    assert_true(__atomic_load_n(&p->connections, __ATOMIC_SEQ_CST) >= 2);
    assert_int_equal(peer_arg(p, VU_SET_VRING_BASE, 0), state_arg(0, 7));
    assert_int_equal(peer_arg(p, VU_SET_VRING_BASE, 1), state_arg(1, 3));
    assert_int_equal(peer_count(p, VU_SET_MEM_TABLE), 1);
    assert_int_equal(peer_count(p, VU_SET_FEATURES), 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);   /* no NEEDS_RESET */
    assert_true(wait_until(restored, &ev, 3000));
    assert_int_equal(__atomic_load_n(&ev.failed, __ATOMIC_SEQ_CST), 1);
    assert_int_equal(__atomic_load_n(&ev.restored, __ATOMIC_SEQ_CST), 1);
    assert_non_null(strstr(ev.why, "closed the connection"));
    uint64_t one = 1;
    assert_int_equal(write(p->call[0], &one, 8), 8);
    assert_true(fnet_wait_count(&t->irqs[0], 1));
}

/* A misbehaving peer while running (a NACK, silence): link down with the reason, then
 * the next connection works. */
static void test_bad_reply_while_running(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    p->bad_req = VU_SET_VRING_ENABLE;
    p->bad = NACK;
    virtio_net_set_link(t->n, false);       /* the peer refuses the disable */
    await_req(p, VU_SET_STATUS, 2);         /* reconnected and restarted */
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    virtio_net_set_link(t->n, true);
    assert_true(wait_until(link_is_up, t, 3000));
}

/* ---- open over a socketpair: every malformed reply during the handshake ---- */

struct bad_case {
    uint32_t req;
    enum misbehave bad;
    const char *err;
};

static void check_bad(const struct bad_case *c)
{
    struct peer p;
    peer_init(&p);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p.cfd = sv[1];
    p.bad_req = c->req;
    p.bad = c->bad;
    peer_start(&p);
    struct fake_guest g;
    int memfd;
    guest_init(&g, &memfd);
    char err[256] = "";
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    struct net_backend *be = vhost_user_open_fd(sv[0], "bad", &g.mem, 300, err, sizeof(err));
    if (be)
        fail_msg("%s/%d: the handshake succeeded", vu_request_name(c->req), c->bad);
    if (!strstr(err, c->err))
        fail_msg("%s/%d: error '%s' lacks '%s'", vu_request_name(c->req), c->bad, err, c->err);
    peer_stop(&p);
    munmap(g.ram, FG_RAM_SIZE);
    close(memfd);
}

static void test_malformed_handshake_replies(void **state)
{
    static const struct bad_case cases[] = {
        { VU_GET_FEATURES, WRONG_REQUEST, "answered request 40" },
        { VU_GET_FEATURES, BAD_VERSION, "version 2" },
        { VU_GET_FEATURES, NOT_REPLY, "instead of a reply" },
        { VU_GET_FEATURES, BAD_SIZE, "4 payload bytes, not 8" },
        { VU_GET_FEATURES, HUGE_SIZE, "1073741824 payload bytes" },
        { VU_GET_FEATURES, WITH_FD, "file descriptors" },
        { VU_GET_FEATURES, SILENT, "did not answer within 300 ms" },
        { VU_GET_FEATURES, CLOSE, "closed the connection" },
        { VU_GET_FEATURES, NO_VERSION_1, "lacks VIRTIO_F_VERSION_1" },
        { VU_GET_PROTOCOL_FEATURES, BAD_SIZE, "GET_PROTOCOL_FEATURES" },
        { VU_SET_PROTOCOL_FEATURES, CLOSE, "closed the connection" },
        { VU_GET_QUEUE_NUM, ZERO_QUEUES, "0 queue pairs" },
        { VU_SET_OWNER, NACK, "SET_OWNER: the peer refused it" },
        { VU_SET_OWNER, SILENT, "SET_OWNER: the peer did not answer" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_bad(&cases[i]);
}

/* Malformed replies to the ring messages: the device's link goes down with the reason. */
static void check_bad_start(uint32_t req, enum misbehave bad, const char *want)
{
    struct vu_test v;
    memset(&v, 0, sizeof(v));
    peer_init(&v.p);
    peer_listen(&v.p);
    peer_start(&v.p);
    dev_init(&v, false);
    assert_true(wait_until(link_is_up, &v.t, 2000));
    v.p.bad_req = req;
    v.p.bad = bad;
    assert_int_equal(fnet_start(&v.t, BASE_F), FNET_ALL_OK);
    char err[200] = "";
    bool found = false;
    for (int i = 0; i < 3000 && !found; i++) {
        found = virtio_net_backend_error(v.t.n, err, sizeof(err)) == 0 && strstr(err, want);
        if (!found)
            usleep(1000);
    }
    if (!found)
        fail_msg("%s/%d: error '%s' lacks '%s'", vu_request_name(req), bad, err, want);
    assert_int_equal(virtio_dev_get_status(v.t.dev) & VIRTIO_STATUS_NEEDS_RESET, 0);
    dev_destroy(&v);
    peer_stop(&v.p);
}

static void test_malformed_start_replies(void **state)
{
    check_bad_start(VU_SET_MEM_TABLE, NACK, "SET_MEM_TABLE: the peer refused it");
    check_bad_start(VU_SET_VRING_ADDR, WRONG_REQUEST,
                    "SET_VRING_ADDR: the peer answered request 40");
    check_bad_start(VU_SET_VRING_KICK, WITH_FD, "file descriptors");
    check_bad_start(VU_SET_STATUS, UNSOLICITED, "nobody asked for");
}

static void test_bad_vring_base(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    assert_int_equal(fnet_start(t, BASE_F), FNET_ALL_OK);
    v->p.bad_req = VU_GET_VRING_BASE;
    v->p.bad = BASE_TOO_BIG;
    st_le16(fg_ptr(&t->g, t->q[0].used + 2), 5);
    virtio_dev_set_status(t->dev, 0);
    /* The peer's nonsense ends the connection (the used index stands in for the base). */
    char err[200] = "";
    virtio_net_backend_error(t->n, err, sizeof(err));
    assert_non_null(strstr(err, "does not fit 16 bits"));
}

/* Client mode with no socket yet: link down with the reason, retried until it appears. */
static void test_missing_socket_retried(void **state)
{
    struct vu_test v;
    memset(&v, 0, sizeof(v));
    peer_init(&v.p);
    dev_init(&v, false);
    assert_true(wait_until(link_is_down, &v.t, 100));
    char err[200] = "";
    assert_int_equal(virtio_net_backend_error(v.t.n, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "No such file or directory"));
    const char *sock, *st;
    assert_int_equal(virtio_net_backend_peer(v.t.n, &sock, &st), 0);
    assert_string_equal(st, "connecting");
    /* The guest may start its driver meanwhile: the rings wait for the peer. */
    assert_int_equal(fnet_start(&v.t, BASE_F), FNET_ALL_OK);
    peer_listen(&v.p);
    peer_start(&v.p);
    assert_true(wait_until(link_is_up, &v.t, 4000));
    await_req(&v.p, VU_SET_STATUS, 1);
    assert_int_equal(peer_arg(&v.p, VU_SET_VRING_BASE, 0), state_arg(0, 0));
    dev_destroy(&v);
    peer_stop(&v.p);
}

/* Server mode: vpf listens, the peer connects (and reconnects). */
static void test_server_mode(void **state)
{
    struct vu_test v;
    memset(&v, 0, sizeof(v));
    peer_init(&v.p);
    dev_init(&v, true);
    const char *sock, *st;
    assert_int_equal(virtio_net_backend_peer(v.t.n, &sock, &st), 0);
    assert_string_equal(st, "listening");
    assert_true(link_is_down(&v.t));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, v.p.path);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    v.p.cfd = fd;
    peer_start(&v.p);
    assert_true(wait_until(link_is_up, &v.t, 3000));
    assert_int_equal(fnet_start(&v.t, BASE_F), FNET_ALL_OK);
    await_req(&v.p, VU_SET_STATUS, 1);
    dev_destroy(&v);
    assert_int_equal(access(v.p.path, F_OK), -1);     /* its socket file is gone */
    peer_stop(&v.p);
}

/* ---- multi-queue: two pairs on one connection ---- */

#define MQ_PAIRS 2
#define MQ_F (BASE_F | F(VIRTIO_NET_F_MQ))

/* The last SET_VRING_ENABLE of ring i (0 or 1), or -1 if none. */
static int ring_enabled(struct peer *p, uint32_t i)
{
    pthread_mutex_lock(&p->lock);
    int on = -1;
    for (unsigned j = 0; j < p->n; j++)
        if (p->log[j] == VU_SET_VRING_ENABLE && p->arg[j] >> 32 == i)
            on = (int)(uint32_t)p->arg[j];
    pthread_mutex_unlock(&p->lock);
    return on;
}

/* The enable state the peer last saw for rings 0..3. */
static void expect_enabled(struct peer *p, int r0, int r1, int r2, int r3)
{
    int want[4] = { r0, r1, r2, r3 };
    for (uint32_t i = 0; i < 4; i++)
        if (ring_enabled(p, i) != want[i])
            fail_msg("ring %u: enable %d, expected %d", i, ring_enabled(p, i), want[i]);
}

static int mq_pairs_set(struct fake_net *t, uint16_t k)
{
    uint8_t b[2];
    st_le16(b, k);
    return fnet_ctrl(t, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b, 2);
}

static int setup_mq(void **state)
{
    struct vu_test *v = calloc(1, sizeof(*v));
    peer_init(&v->p);
    v->p.queue_num = 4;
    peer_listen(&v->p);
    peer_start(&v->p);
    guest_init(&v->t.g, &v->memfd);
    struct net_backend *be[MQ_PAIRS];
    char err[256] = "";
    if (vhost_user_open_mq(v->p.path, false, &v->t.g.mem, MQ_PAIRS, be, err, sizeof(err)) < 0)
        fail_msg("open: %s", err);
    struct fake_net *t = &v->t;
    t->nq = 2 * MQ_PAIRS + 1;
    for (unsigned i = 0; i < t->nq; i++)
        fvq_init(&t->q[i], &t->g, FNET_QSZ);
    t->be = be[0];
    t->peer = -1;
    t->n = virtio_net_create_mq("vu-mq", &t->g.mem, be, MQ_PAIRS, MAC, err, sizeof(err));
    if (!t->n)
        fail_msg("create: %s", err);
    t->dev = virtio_net_vdev(t->n);
    virtio_dev_set_irq(t->dev, &fnet_irq_ops, t);
    *state = v;
    return 0;
}

/* One connection carries both pairs: the table once, rings 0-3 with the device's kick
 * and call fds; GET_QUEUE_NUM asked and enough. */
static void test_mq_start(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_true(wait_until(link_is_up, t, 2000));
    assert_int_equal(peer_count(p, VU_GET_QUEUE_NUM), 1);
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(__atomic_load_n(&p->connections, __ATOMIC_SEQ_CST), 1);
    assert_int_equal(peer_count(p, VU_SET_MEM_TABLE), 1);
    assert_int_equal(peer_count(p, VU_SET_FEATURES), 1);
    assert_int_equal(peer_count(p, VU_SET_VRING_NUM), 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(peer_arg(p, VU_SET_VRING_NUM, i), state_arg(i, FNET_QSZ));
        uint64_t one = 1, got = 0;
        assert_int_equal(write(t->dev->kick_fds[i], &one, 8), 8);
        assert_int_equal(read(p->kick[i], &got, 8), 8);
        assert_int_equal(write(p->call[i], &one, 8), 8);
        assert_true(fnet_wait_count(&t->irqs[i], 1));
    }
    /* The driver starts on one pair (virtio 1.2 §5.1.6.5.5): pair 1 stays disabled. */
    expect_enabled(p, 1, 1, 0, 0);
}

/* SET_VRING_ENABLE follows VQ_PAIRS_SET and the link; a reset stops all four rings. */
static void test_mq_enable_follows_pairs(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(mq_pairs_set(t, 2), VIRTIO_NET_OK);
    expect_enabled(p, 1, 1, 1, 1);
    assert_int_equal(mq_pairs_set(t, 1), VIRTIO_NET_OK);
    expect_enabled(p, 1, 1, 0, 0);
    virtio_net_set_link(t->n, false);
    expect_enabled(p, 0, 0, 0, 0);
    virtio_net_set_link(t->n, true);
    expect_enabled(p, 1, 1, 0, 0);                  /* pair 1 is still not in use */
    assert_int_equal(mq_pairs_set(t, 2), VIRTIO_NET_OK);
    expect_enabled(p, 1, 1, 1, 1);
    virtio_dev_set_status(t->dev, 0);
    assert_int_equal(peer_count(p, VU_GET_VRING_BASE), 4);
    assert_int_equal(peer_arg(p, VU_GET_VRING_BASE, 3), state_arg(3, 0));
    assert_int_equal(peer_count(p, VU_SET_STATUS), 3);  /* DRIVER_OK per pair, one 0 */
    /* The next driver starts on one pair again, on the same connection. */
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    expect_enabled(p, 1, 1, 0, 0);
    assert_int_equal(peer_count(p, VU_SET_MEM_TABLE), 2);
    assert_int_equal(__atomic_load_n(&p->connections, __ATOMIC_SEQ_CST), 1);
}

/* The peer dies with both pairs in use: all four rings come back from their used
 * index on the new connection, enabled as before, without a guest reset. */
static void test_mq_reconnect_restores_all_rings(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_int_equal(fnet_start(t, MQ_F), FNET_ALL_OK);
    assert_int_equal(mq_pairs_set(t, 2), VIRTIO_NET_OK);
    for (unsigned i = 0; i < 4; i++)
        st_le16(fg_ptr(&t->g, t->q[i].used + 2), (uint16_t)(5 + i));
    pthread_mutex_lock(&p->lock);
    p->n = 0;
    pthread_mutex_unlock(&p->lock);
    __atomic_store_n(&p->drop_now, true, __ATOMIC_SEQ_CST);
    assert_true(wait_until(link_is_down, t, 3000));
    await_req(p, VU_SET_VRING_BASE, 4);
    assert_true(wait_until(link_is_up, t, 3000));
    assert_int_equal(peer_count(p, VU_SET_MEM_TABLE), 1);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(peer_arg(p, VU_SET_VRING_BASE, i), state_arg(i, 5 + i));
    expect_enabled(p, 1, 1, 1, 1);
    assert_int_equal(virtio_dev_get_status(t->dev), FNET_ALL_OK);
    uint64_t one = 1;
    assert_int_equal(write(p->call[3], &one, 8), 8);
    assert_true(fnet_wait_count(&t->irqs[3], 1));
}

/* A peer that cannot serve two pairs is refused, with the reason. */
static void check_mq_refused(uint64_t protocol, uint64_t queue_num, const char *want)
{
    struct peer p;
    peer_init(&p);
    p.protocol = protocol;
    p.queue_num = queue_num;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p.cfd = sv[1];
    peer_start(&p);
    struct fake_guest g;
    int memfd;
    guest_init(&g, &memfd);
    char err[256] = "";
    struct net_backend *be[MQ_PAIRS];
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    assert_int_equal(vhost_user_open_fd_mq(sv[0], "mq", &g.mem, 300, MQ_PAIRS, be, err,
                                           sizeof(err)),
                     -1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    peer_stop(&p);
    munmap(g.ram, FG_RAM_SIZE);
    close(memfd);
}

static void test_mq_peer_refused(void **state)
{
    check_mq_refused(F(VU_PROTOCOL_F_MQ) | F(VU_PROTOCOL_F_REPLY_ACK), 1,
                     "GET_QUEUE_NUM: the peer serves 1 queue pairs, queues=2 needs 2");
    check_mq_refused(F(VU_PROTOCOL_F_REPLY_ACK), 4,
                     "queues=2 needs the peer's VHOST_USER_PROTOCOL_F_MQ");
}

/* Too few queues on a reconnecting device: link down with the reason, retried. */
static void test_mq_queue_num_too_small_link_down(void **state)
{
    struct vu_test *v = *state;
    struct fake_net *t = &v->t;
    struct peer *p = &v->p;
    assert_true(wait_until(link_is_up, t, 2000));
    p->queue_num = 1;
    __atomic_store_n(&p->drop_now, true, __ATOMIC_SEQ_CST);
    assert_true(wait_until(link_is_down, t, 3000));
    char err[200] = "";
    bool found = false;
    for (int i = 0; i < 3000 && !found; i++) {
        found = virtio_net_backend_error(t->n, err, sizeof(err)) == 0 &&
                strstr(err, "queues=2 needs 2");
        if (!found)
            usleep(1000);
    }
    if (!found)
        fail_msg("error '%s'", err);
    p->queue_num = 2;                               /* a peer that can: back up */
    assert_true(wait_until(link_is_up, t, 4000));
}

int main(void)
{
    log_threshold = LOG_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_restores_rings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_reply_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_vring_base, setup, teardown),
        cmocka_unit_test(test_malformed_handshake_replies),
        cmocka_unit_test(test_malformed_start_replies),
        cmocka_unit_test(test_missing_socket_retried),
        cmocka_unit_test(test_server_mode),
        cmocka_unit_test_setup_teardown(test_mq_start, setup_mq, teardown),
        cmocka_unit_test_setup_teardown(test_mq_enable_follows_pairs, setup_mq, teardown),
        cmocka_unit_test_setup_teardown(test_mq_reconnect_restores_all_rings, setup_mq, teardown),
        cmocka_unit_test(test_mq_peer_refused),
        cmocka_unit_test_setup_teardown(test_mq_queue_num_too_small_link_down, setup_mq, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
