/* The control thread: one epoll loop over the listening socket, every client and a stop
 * eventfd (ctl.h). Each client has a line buffer and at most one answer in flight:
 * while its answer is unsent the loop waits to write, not to read, so a client that
 * does not read only stops itself. Sockets are non-blocking and every send is
 * MSG_NOSIGNAL: a client that hangs up early costs its connection, never SIGPIPE. */
#include "ctl/ctl.h"
#include "ctl/ctl_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

struct ctl_client {
    int fd;
    uid_t uid;
    bool eof;                   /* the client sent its last request */
    size_t in_len;
    char in[CTL_LINE_MAX];
    char *out;                  /* the answer being sent, with its newline */
    size_t out_len, out_off;
};

/* Per-thread loop state (the server struct stays the caller's). */
struct ctl_loop {
    struct ctl_server *s;
    int epfd;
    struct ctl_client *clients[CTL_MAX_CLIENTS];
};

#define TAG_LISTEN ((void *)1)
#define TAG_STOP ((void *)2)

int ctl_server_init(struct ctl_server *s, const char *path, const struct ctl_access *access)
{
    memset(s, 0, sizeof(*s));
    s->stop_fd = -1;
    s->access = access ? *access : (struct ctl_access){ .mode = 0600 };
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->listen_fd = ctl_socket_listen(path, &s->access);
    if (s->listen_fd < 0)
        return -1;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0) {
        log_error("control socket %s: eventfd: %s", path, strerror(errno));
        close(s->listen_fd);
        unlink(path);
        s->listen_fd = -1;
        return -1;
    }
    return 0;
}

static void client_close(struct ctl_loop *l, unsigned i)
{
    struct ctl_client *c = l->clients[i];
    log_debug("control socket: client (uid %u) gone", (unsigned)c->uid);
    close(c->fd);               /* also leaves the epoll set */
    free(c->out);
    free(c);
    l->clients[i] = NULL;
}

static int client_watch(struct ctl_loop *l, unsigned i, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u64 = i + 16 };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->clients[i]->fd, &ev);
}

/* Sends what is left of the answer. 1: all sent; 0: the socket is full; -1: gone. */
static int client_flush(struct ctl_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->out_off += (size_t)r;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return 1;
}

/* Queues text (ours, malloc'd) plus a newline as the client's answer. */
static void client_answer(struct ctl_client *c, char *text)
{
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\",\"class\":\"internal\"}";
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        line = strdup(oom);
        n = line ? strlen(line) : 0;
        line = line ? realloc(line, n + 2) : NULL;
        if (!line)
            return;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    c->out = line;
    c->out_len = n + 1;
    c->out_off = 0;
}

/* Answers the complete lines in the buffer, one at a time: stops while an answer is
 * unsent. Returns false when the client is to be closed. */
static bool client_run_lines(struct ctl_loop *l, struct ctl_client *c)
{
    while (!c->out) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (c->in_len < sizeof(c->in))
                return !c->eof;
            client_answer(c, strdup("{\"ok\":false,\"error\":\"request line too long (at most 4095 "
                                    "bytes)\",\"class\":\"bad-request\"}"));
            c->eof = true;      /* no way to find the next line: answer, then close */
            c->in_len = 0;
            break;
        }
        size_t len = (size_t)(nl - c->in);
        client_answer(c, ctl_server_handle(l->s, c->in, len, c->uid));
        memmove(c->in, nl + 1, c->in_len - len - 1);
        c->in_len -= len + 1;
        if (client_flush(c) < 0)
            return false;
    }
    return true;
}

/* Reads what the client sent. Returns false when the client is to be closed. */
static bool client_read(struct ctl_client *c)
{
    for (;;) {
        if (c->in_len == sizeof(c->in))
            return true;
        ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (r == 0) {
            c->eof = true;
            return true;
        }
        c->in_len += (size_t)r;
    }
}

static void client_event(struct ctl_loop *l, unsigned i, uint32_t events)
{
    struct ctl_client *c = l->clients[i];
    if (c->out) {
        int r = client_flush(c);
        if (r < 0)
            goto close;
        if (r == 0)
            return;
    } else if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client_read(c)) {
        goto close;
    }
    if (!client_run_lines(l, c))
        goto close;
    if (c->out) {
        if (client_watch(l, i, EPOLLOUT) < 0)
            goto close;
        return;
    }
    if (c->eof)
        goto close;
    if (client_watch(l, i, EPOLLIN) == 0)
        return;
close:
    client_close(l, i);
}

/* A connection beyond the limit or from a user not allowed: told why (in place of the
 * greeting), then closed. */
static void refuse(int fd, const char *class, const char *why)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\",\"class\":\"%s\"}\n", why, class);
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
        log_warn("control socket: refused a client (uid %u): not root, vpf's user or its group",
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
    *c = (struct ctl_client){ .fd = fd, .uid = uid };
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i + 16 };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        refuse(fd, "internal", "out of resources");
        return;
    }
    l->clients[i] = c;
    log_debug("control socket: client (uid %u) connected", (unsigned)uid);
    client_answer(c, ctl_server_greeting(l->s));    /* the first line a client reads */
    int r = client_flush(c);
    if (r < 0 || (r == 0 && client_watch(l, i, EPOLLOUT) < 0))
        client_close(l, i);
}

static int loop_init(struct ctl_loop *l, struct ctl_server *s)
{
    *l = (struct ctl_loop){ .s = s };
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = TAG_LISTEN };
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = TAG_STOP };
    if (l->epfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) < 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev) < 0) {
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
            else if (l.clients[ev[k].data.u64 - 16])
                client_event(&l, (unsigned)(ev[k].data.u64 - 16), ev[k].events);
        }
    }
    for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
        if (l.clients[i])
            client_close(&l, i);
    close(l.epfd);
    return NULL;
}

int ctl_server_start(struct ctl_server *s)
{
    if (pthread_create(&s->thread, NULL, ctl_thread, s) != 0) {
        log_error("cannot start the control thread");
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
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->listen_fd = s->stop_fd = -1;
}
