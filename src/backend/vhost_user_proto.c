/* vhost-user front-end messages (vhost_user_proto.h). */
#include "backend/vhost_user_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring address layout");
_Static_assert(sizeof(struct vu_memory) == 8 + 32 * VU_MAX_MEM_REGIONS, "memory table layout");
_Static_assert(offsetof(struct vu_msg, payload) == VU_HDR_SIZE, "header layout");

static int fail(struct vu_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vu_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return -1;
}

const char *vu_request_name(uint32_t req)
{
    static const char *const names[] = {
        [VU_GET_FEATURES] = "GET_FEATURES",
        [VU_SET_FEATURES] = "SET_FEATURES",
        [VU_SET_OWNER] = "SET_OWNER",
        [VU_RESET_OWNER] = "RESET_OWNER",
        [VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
        [VU_SET_VRING_NUM] = "SET_VRING_NUM",
        [VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
        [VU_SET_VRING_BASE] = "SET_VRING_BASE",
        [VU_GET_VRING_BASE] = "GET_VRING_BASE",
        [VU_SET_VRING_KICK] = "SET_VRING_KICK",
        [VU_SET_VRING_CALL] = "SET_VRING_CALL",
        [VU_SET_VRING_ERR] = "SET_VRING_ERR",
        [VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
        [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
        [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
        [VU_GET_CONFIG] = "GET_CONFIG",
        [VU_RESET_DEVICE] = "RESET_DEVICE",
        [VU_SET_STATUS] = "SET_STATUS",
        [VU_GET_STATUS] = "GET_STATUS",
    };
    return req < sizeof(names) / sizeof(names[0]) && names[req] ? names[req] : "?";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passed: 0, or -1 with c->err. */
static int wait_fd(struct vu_conn *c, short events, int64_t deadline, const char *what)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return fail(c, "%s: the peer did not answer within %d ms", what, c->timeout_ms);
        struct pollfd p = { .fd = c->fd, .events = events };
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return fail(c, "%s: poll: %s", what, strerror(errno));
    }
}

/* Closes every descriptor in a received control message. Returns how many. */
static unsigned close_fds(struct msghdr *mh)
{
    unsigned n = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t len = cm->cmsg_len - CMSG_LEN(0);
        for (size_t i = 0; i + sizeof(int) <= len; i += sizeof(int)) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i, sizeof(fd));
            close(fd);
            n++;
        }
    }
    return n;
}

/* Reads exactly len bytes by the deadline. Descriptors that come along are closed and
 * make it fail: no reply vpf asks for carries any. */
static int recv_exact(struct vu_conn *c, void *buf, size_t len, int64_t deadline, const char *what)
{
    size_t got = 0;
    while (got < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { (char *)buf + got, len - got };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };
        ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n > 0 && (close_fds(&mh) || (mh.msg_flags & MSG_CTRUNC)))
            return fail(c, "%s: the peer sent file descriptors with its reply", what);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return fail(c, "%s: the peer closed the connection", what);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(c, "%s: %s", what, strerror(errno));
        if (wait_fd(c, POLLIN, deadline, what) < 0)
            return -1;
    }
    return 0;
}

static int send_msg(struct vu_conn *c, const struct vu_msg *m, const int *fds, unsigned nfds)
{
    const char *what = vu_request_name(m->request);
    if (nfds > VU_MAX_FDS)
        return fail(c, "%s: %u descriptors, at most %d", what, nfds, VU_MAX_FDS);
    size_t len = VU_HDR_SIZE + m->size, sent = 0;
    int64_t deadline = now_ms() + c->timeout_ms;
    while (sent < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { (char *)m + sent, len - sent };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (sent == 0 && nfds) {       /* the descriptors go with the first byte */
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
        }
        ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT, deadline, what) < 0)
                return -1;
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return fail(c, "%s: the peer closed the connection", what);
        return fail(c, "%s: %s", what, n < 0 ? strerror(errno) : "nothing sent");
    }
    return 0;
}

/* Requests that have a reply of their own (REPLY_ACK adds none to them). */
static bool has_reply(uint32_t req)
{
    return req == VU_GET_FEATURES || req == VU_GET_PROTOCOL_FEATURES || req == VU_GET_VRING_BASE ||
           req == VU_GET_QUEUE_NUM || req == VU_GET_CONFIG || req == VU_GET_STATUS;
}

int vu_recv_reply(struct vu_conn *c, uint32_t req, struct vu_msg *m, uint32_t want)
{
    const char *what = vu_request_name(req);
    int64_t deadline = now_ms() + c->timeout_ms;
    if (want > VU_MAX_PAYLOAD)
        return fail(c, "%s: internal error: reply of %u bytes", what, want);
    if (recv_exact(c, m, VU_HDR_SIZE, deadline, what) < 0)
        return -1;
    if ((m->flags & VU_VERSION_MASK) != VU_VERSION)
        return fail(c, "%s: the peer's reply has version %u, not %u", what,
                    m->flags & VU_VERSION_MASK, VU_VERSION);
    if (!(m->flags & VU_FLAG_REPLY))
        return fail(c, "%s: the peer sent request %u instead of a reply", what, m->request);
    if (m->request != req)
        return fail(c, "%s: the peer answered request %u (%s)", what, m->request,
                    vu_request_name(m->request));
    if (m->size != want)
        return fail(c, "%s: the peer's reply has %u payload bytes, not %u", what, m->size, want);
    return recv_exact(c, &m->payload, want, deadline, what);
}

int vu_send(struct vu_conn *c, uint32_t req, const void *payload, uint32_t size, const int *fds,
            unsigned nfds)
{
    if (c->fd < 0)
        return fail(c, "%s: not connected", vu_request_name(req));
    struct vu_msg m = { .request = req, .flags = VU_VERSION, .size = size };
    if (size > VU_MAX_PAYLOAD)
        return fail(c, "%s: internal error: %u payload bytes", vu_request_name(req), size);
    if (size)
        memcpy(&m.payload, payload, size);
    bool ack = (c->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK)) && !has_reply(req);
    if (ack)
        m.flags |= VU_FLAG_NEED_REPLY;
    if (send_msg(c, &m, fds, nfds) < 0)
        return -1;
    if (!ack)
        return 0;
    struct vu_msg r;
    /* The peer maps all of guest RAM for SET_MEM_TABLE (DPDK also walks its pages):
     * it may take a while longer. */
    int t = c->timeout_ms;
    if (req == VU_SET_MEM_TABLE)
        c->timeout_ms = t * 3;
    int ret = vu_recv_reply(c, req, &r, sizeof(uint64_t));
    c->timeout_ms = t;
    if (ret < 0)
        return -1;
    if (r.payload.u64)
        return fail(c, "%s: the peer refused it (status %llu)", vu_request_name(req),
                    (unsigned long long)r.payload.u64);
    return 0;
}

int vu_get_u64(struct vu_conn *c, uint32_t req, uint64_t *out)
{
    struct vu_msg r;
    if (vu_send(c, req, NULL, 0, NULL, 0) < 0 || vu_recv_reply(c, req, &r, sizeof(uint64_t)) < 0)
        return -1;
    *out = r.payload.u64;
    return 0;
}

int vu_set_u64(struct vu_conn *c, uint32_t req, uint64_t v)
{
    return vu_send(c, req, &v, sizeof(v), NULL, 0);
}

int vu_set_state(struct vu_conn *c, uint32_t req, uint32_t index, uint32_t num)
{
    struct vu_vring_state s = { index, num };
    return vu_send(c, req, &s, sizeof(s), NULL, 0);
}

int vu_get_vring_base(struct vu_conn *c, uint32_t index, uint16_t *base)
{
    struct vu_vring_state s = { index, 0 };
    struct vu_msg r;
    if (vu_send(c, VU_GET_VRING_BASE, &s, sizeof(s), NULL, 0) < 0 ||
        vu_recv_reply(c, VU_GET_VRING_BASE, &r, sizeof(s)) < 0)
        return -1;
    if (r.payload.state.index != index)
        return fail(c, "GET_VRING_BASE: the peer answered for ring %u, not %u",
                    r.payload.state.index, index);
    if (r.payload.state.num > 0xffff)
        return fail(c, "GET_VRING_BASE: ring %u's base %u does not fit 16 bits", index,
                    r.payload.state.num);
    *base = (uint16_t)r.payload.state.num;
    return 0;
}

int vu_set_vring_fd(struct vu_conn *c, uint32_t req, uint32_t index, int fd)
{
    uint64_t v = (index & VU_VRING_IDX_MASK) | (fd < 0 ? VU_VRING_NOFD : 0);
    return vu_send(c, req, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}
