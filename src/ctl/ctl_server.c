/* The control thread: one epoll loop over the listening socket, every client, the event
 * eventfd and a stop eventfd (ctl.h). Each client has a line buffer and a queue of lines
 * to send (the greeting, answers, events). A client's next request is read and answered
 * only while less than CTL_CLIENT_ANSWER_AHEAD bytes wait for it, so a client that does
 * not read stops only itself; events beyond CTL_CLIENT_QUEUE_MAX are dropped for that
 * client and counted. Sockets are non-blocking and every send is MSG_NOSIGNAL: a client
 * that hangs up costs its connection, never SIGPIPE. */
#include "ctl/ctl.h"
#include "ctl/ctl_events.h"
#include "ctl/ctl_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/confine.h"
#include "base/log.h"

#define CTL_CLIENT_ANSWER_AHEAD 65536

struct ctl_client {
    int fd;
    struct ctl_session session;
    bool eof;                   /* the client sent its last request */
    size_t in_len;
    char in[CTL_LINE_MAX];
    /* Descriptors received (SCM_RIGHTS), each with the offset in `in` of the last byte
     * that came with it: it belongs to the line holding that byte (the kernel ends a
     * read with the message that carried descriptors). */
    int fds[CTL_MAX_FDS];
    size_t fd_at[CTL_MAX_FDS];
    unsigned nfds;
    bool fds_lost;              /* more came than fit: the next request is refused */
    struct ctl_event *out, **out_tail;  /* lines to send, oldest first */
    size_t out_off;             /* sent of the first line */
    size_t queued;              /* bytes in the queue */
    unsigned long lost;         /* events dropped since the queue was last empty */
};

/* Per-thread loop state (the server struct stays the caller's). */
struct ctl_loop {
    struct ctl_server *s;
    int epfd;
    struct ctl_client *clients[CTL_MAX_CLIENTS];
};

#define TAG_LISTEN ((void *)1)
#define TAG_STOP ((void *)2)
#define TAG_EVENT ((void *)3)
#define TAG_CLIENT0 16

int ctl_server_init(struct ctl_server *s, const char *path, const struct ctl_access *access,
                    char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->stop_fd = s->event_fd = -1;
    s->access = access ? *access : (struct ctl_access){ .mode = 0600 };
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->listen_fd = ctl_socket_listen(path, &s->access, err, errlen);
    if (s->listen_fd < 0)
        return -1;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0 || ctl_events_init(s) < 0) {
        snprintf(err, errlen, "control socket %s: eventfd: %s", path, strerror(errno));
        ctl_server_stop(s);
        return -1;
    }
    return 0;
}

static void queue_push(struct ctl_client *c, struct ctl_event *line)
{
    line->next = NULL;
    *c->out_tail = line;
    c->out_tail = &line->next;
    c->queued += line->len;
}

static void queue_free(struct ctl_client *c)
{
    for (struct ctl_event *e = c->out, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    c->out = NULL;
    c->out_tail = &c->out;
    c->queued = c->out_off = 0;
}

/* The descriptors that came with the line ending at offset end, into fds (returns how
 * many); the others move down with the buffer (by end + 1). */
static unsigned fds_take(struct ctl_client *c, size_t end, int fds[CTL_MAX_FDS])
{
    unsigned n = 0, keep = 0;
    for (unsigned i = 0; i < c->nfds; i++) {
        if (c->fd_at[i] <= end) {
            fds[n++] = c->fds[i];
        } else {
            c->fds[keep] = c->fds[i];
            c->fd_at[keep++] = c->fd_at[i] - end - 1;
        }
    }
    c->nfds = keep;
    return n;
}

static void fds_drop(struct ctl_client *c)
{
    for (unsigned i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    c->nfds = 0;
}

static void client_close(struct ctl_loop *l, unsigned i)
{
    struct ctl_client *c = l->clients[i];
    log_debug("control socket: client (uid %u) gone", (unsigned)c->session.uid);
    fds_drop(c);
    close(c->fd);               /* also leaves the epoll set */
    queue_free(c);
    free(c);
    l->clients[i] = NULL;
}

/* Queues text (malloc'd, ours) plus a newline. Out of memory: an error line instead. */
static void client_answer(struct ctl_client *c, char *text)
{
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\",\"class\":\"internal\"}";
    const char *t = text ? text : oom;
    size_t n = strlen(t);
    struct ctl_event *line = malloc(sizeof(*line) + n + 2);
    if (line) {
        line->len = n + 1;
        memcpy(line->line, t, n);
        line->line[n] = '\n';
        line->line[n + 1] = '\0';
        queue_push(c, line);
    }
    free(text);
}

/* Sends what is queued. 1: all sent; 0: the socket is full; -1: the client is gone. */
static int client_flush(struct ctl_client *c)
{
    while (c->out) {
        struct ctl_event *e = c->out;
        ssize_t r = send(c->fd, e->line + c->out_off, e->len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->out_off += (size_t)r;
        if (c->out_off < e->len)
            continue;
        c->out = e->next;
        if (!c->out)
            c->out_tail = &c->out;
        c->queued -= e->len;
        c->out_off = 0;
        free(e);
        if (!c->out && c->lost) {   /* caught up: say how many events it missed */
            queue_push(c, ctl_event_new("events-lost",
                                        json_pack("{s:I}", "count", (json_int_t)c->lost)));
            c->lost = 0;
        }
    }
    return 1;
}

/* Answers the complete lines in the buffer while little waits to be sent. Returns false
 * when the client is to be closed. */
static bool client_run_lines(struct ctl_loop *l, struct ctl_client *c)
{
    while (c->queued < CTL_CLIENT_ANSWER_AHEAD) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (c->in_len < sizeof(c->in))
                return true;
            client_answer(c, strdup("{\"ok\":false,\"error\":\"request line too long (at most 4095 "
                                    "bytes)\",\"class\":\"bad-request\"}"));
            c->eof = true;      /* no way to find the next line: answer, then close */
            c->in_len = 0;
            fds_drop(c);
            return true;
        }
        size_t len = (size_t)(nl - c->in);
        int fds[CTL_MAX_FDS];
        unsigned nfds = fds_take(c, len, fds);
        if (c->fds_lost) {
            c->fds_lost = false;
            for (unsigned k = 0; k < nfds; k++)
                close(fds[k]);
            client_answer(c,
                          strdup("{\"ok\":false,\"error\":\"too many file descriptors (send one "
                                 "with the request that takes it)\",\"class\":\"bad-argument\"}"));
        } else {
            client_answer(c, ctl_server_handle_fds(l->s, c->in, len, &c->session, fds, nfds));
        }
        memmove(c->in, nl + 1, c->in_len - len - 1);
        c->in_len -= len + 1;
        if (client_flush(c) < 0)
            return false;
    }
    return true;
}

/* Keeps the descriptors of one read (the last of its r bytes is at in_len - 1); those
 * beyond CTL_MAX_FDS, or cut by the kernel (MSG_CTRUNC: it closed them), are lost. */
static void client_fds(struct ctl_client *c, struct msghdr *mh)
{
    if (mh->msg_flags & MSG_CTRUNC)
        c->fds_lost = true;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < n; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
            if (c->nfds == CTL_MAX_FDS) {
                close(fd);
                c->fds_lost = true;
                continue;
            }
            c->fds[c->nfds] = fd;
            c->fd_at[c->nfds++] = c->in_len - 1;
        }
    }
}

/* Reads what the client sent, with any descriptors (recvmsg, close-on-exec). Returns
 * false when the client is to be closed. */
static bool client_read(struct ctl_client *c)
{
    for (;;) {
        if (c->in_len == sizeof(c->in))
            return true;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
        } cbuf;
        struct iovec iov = { c->in + c->in_len, sizeof(c->in) - c->in_len };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = cbuf.buf,
                             .msg_controllen = sizeof(cbuf.buf) };
        ssize_t r = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (r == 0) {
            c->eof = true;
            return true;
        }
        c->in_len += (size_t)r;
        client_fds(c, &mh);
    }
}

/* After anything happened to client i: send, read and answer what can be, then wait
 * for what is next (readable, or writable while lines are queued). */
static void client_service(struct ctl_loop *l, unsigned i, uint32_t events)
{
    struct ctl_client *c = l->clients[i];
    if (client_flush(c) < 0)
        goto close;
    bool may_read = c->queued < CTL_CLIENT_ANSWER_AHEAD && !c->eof;
    if (may_read && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client_read(c))
        goto close;
    if (!client_run_lines(l, c) || client_flush(c) < 0)
        goto close;
    if (c->eof && !c->out && !memchr(c->in, '\n', c->in_len))
        goto close;
    uint32_t want = (c->out ? EPOLLOUT : 0) |
                    (c->queued < CTL_CLIENT_ANSWER_AHEAD && !c->eof ? EPOLLIN : 0);
    struct epoll_event ev = { .events = want, .data.u64 = i + TAG_CLIENT0 };
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        return;
close:
    client_close(l, i);
}

/* A connection beyond the limit or from a user not allowed: told why (in place of the
 * greeting), then closed. */
static void refuse(int fd, const char *class, const char *why)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\",\"class\":\"%s\"}\n", why,
                     class);
    (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void accept_client(struct ctl_loop *l)
{
    int fd = accept4(l->s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    uid_t uid;
    if (!ctl_socket_peer_allowed(fd, &l->s->access, &uid)) {
        static struct log_ratelimit rl;     /* any local user can connect: limited */
        log_warn_rl(&rl,
                    "control socket: refused a client (uid %u): not root, vpf's user or its group",
                    (unsigned)uid);
        refuse(fd, "permission-denied", "permission denied");
        return;
    }
    unsigned i;
    for (i = 0; i < CTL_MAX_CLIENTS && l->clients[i]; i++)
        ;
    struct ctl_client *c = i < CTL_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        refuse(fd, "too-many-clients", "too many clients");
        return;
    }
    *c = (struct ctl_client){ .fd = fd, .session = { .uid = uid } };
    c->out_tail = &c->out;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i + TAG_CLIENT0 };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        refuse(fd, "internal", "out of resources");
        return;
    }
    l->clients[i] = c;
    log_debug("control socket: client (uid %u) connected", (unsigned)uid);
    client_answer(c, ctl_server_greeting(l->s));    /* the first line a client reads */
    client_service(l, i, 0);
}

/* Hands what was published to every subscribed client. */
static void deliver_events(struct ctl_loop *l)
{
    uint64_t n;
    (void)!read(l->s->event_fd, &n, sizeof(n));
    unsigned long dropped;
    struct ctl_event *list = ctl_events_take(l->s, &dropped), *next;
    for (struct ctl_event *e = list; e; e = next) {
        next = e->next;
        for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
            struct ctl_client *c = l->clients[i];
            if (!c || !c->session.subscribed)
                continue;
            struct ctl_event *copy = c->queued + e->len <= CTL_CLIENT_QUEUE_MAX
                                         ? malloc(sizeof(*e) + e->len + 1)
                                         : NULL;
            if (!copy) {
                c->lost++;
                continue;
            }
            memcpy(copy, e, sizeof(*e) + e->len + 1);
            queue_push(c, copy);
        }
        free(e);
    }
    for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
        if (l->clients[i] && l->clients[i]->session.subscribed) {
            l->clients[i]->lost += dropped;
            client_service(l, i, 0);
        }
    }
}

static int loop_init(struct ctl_loop *l, struct ctl_server *s)
{
    *l = (struct ctl_loop){ .s = s };
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = TAG_LISTEN };
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = TAG_STOP };
    struct epoll_event eev = { .events = EPOLLIN, .data.ptr = TAG_EVENT };
    if (l->epfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) < 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev) < 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->event_fd, &eev) < 0) {
        log_error("control socket: epoll: %s", strerror(errno));
        if (l->epfd >= 0)
            close(l->epfd);
        return -1;
    }
    return 0;
}

static void *ctl_thread(void *arg)
{
    struct ctl_loop l;
    pthread_setname_np(pthread_self(), "ctl");
    if (loop_init(&l, arg) < 0)
        return NULL;
    confine_self(CONFINE_CTL);
    for (bool stop = false; !stop;) {
        struct epoll_event ev[8];
        int n = epoll_wait(l.epfd, ev, 8, -1);
        if (n < 0 && errno != EINTR) {
            log_error("control socket: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < n; k++) {
            if (ev[k].data.ptr == TAG_STOP)
                stop = true;
            else if (ev[k].data.ptr == TAG_LISTEN)
                accept_client(&l);
            else if (ev[k].data.ptr == TAG_EVENT)
                deliver_events(&l);
            else if (l.clients[ev[k].data.u64 - TAG_CLIENT0])
                client_service(&l, (unsigned)(ev[k].data.u64 - TAG_CLIENT0), ev[k].events);
        }
    }
    deliver_events(&l);         /* the last ones (e.g. shutdown), sent as far as sockets take */
    for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
        if (l.clients[i])
            client_close(&l, i);
    close(l.epfd);
    return NULL;
}

int ctl_server_start(struct ctl_server *s, char *err, size_t errlen)
{
    ctl_events_accept(s, true);
    int r = pthread_create(&s->thread, NULL, ctl_thread, s);
    if (r != 0) {
        ctl_events_accept(s, false);
        snprintf(err, errlen, "cannot start the control thread: %s", strerror(r));
        return -1;
    }
    s->running = true;
    return 0;
}

void ctl_server_stop(struct ctl_server *s)
{
    if (s->running) {
        uint64_t one = 1;
        (void)!write(s->stop_fd, &one, sizeof(one));
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    if (s->event_fd >= 0)
        ctl_events_accept(s, false);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    ctl_events_destroy(s);
    s->listen_fd = s->stop_fd = -1;
}
