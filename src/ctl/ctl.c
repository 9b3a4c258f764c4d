#include "ctl/ctl.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE_MAX 4096
#define CTL_CLIENT_TIMEOUT_S 10

int ctl_server_init(struct ctl_server *s, const char *path)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->stop_fd = -1;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        log_error("control socket path too long: %s", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    strcpy(s->path, path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail;
    /* A socket file left by a vpf that died is stale only if nobody answers on it. */
    if (connect(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        log_error("control socket %s is in use by another process", path);
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    unlink(path);
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s->listen_fd, 8) < 0)
        goto fail;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0)
        goto fail;
    return 0;
fail:
    log_error("control socket %s: %s", path, strerror(errno));
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    return -1;
}

void ctl_server_register(struct ctl_server *s, const char *name, const char *help,
                         ctl_handler_fn handler, void *opaque)
{
    if (s->ncommands < CTL_MAX_COMMANDS)
        s->commands[s->ncommands++] = (struct ctl_command){ name, help, handler, opaque };
}

static void reply_key(struct ctl_reply *r, const char *key)
{
    if (r->len + 2 < sizeof(r->buf)) {
        r->buf[r->len++] = ',';
        r->buf[r->len] = '\0';
    }
    json_put_str(r->buf, sizeof(r->buf), &r->len, key);
    if (r->len + 2 < sizeof(r->buf)) {
        r->buf[r->len++] = ':';
        r->buf[r->len] = '\0';
    }
}

static void reply_append(struct ctl_reply *r, const char *text)
{
    size_t n = strlen(text);
    if (r->len + n + 1 < sizeof(r->buf)) {
        memcpy(r->buf + r->len, text, n + 1);
        r->len += n;
    }
}

void ctl_reply_error(struct ctl_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error_buf, sizeof(r->error_buf), fmt, ap);
    va_end(ap);
    r->error = r->error_buf;
}

void ctl_reply_str(struct ctl_reply *r, const char *key, const char *value)
{
    reply_key(r, key);
    json_put_str(r->buf, sizeof(r->buf), &r->len, value);
}

void ctl_reply_int(struct ctl_reply *r, const char *key, int64_t value)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, value);
    reply_key(r, key);
    reply_append(r, num);
}

void ctl_reply_bool(struct ctl_reply *r, const char *key, bool value)
{
    reply_key(r, key);
    reply_append(r, value ? "true" : "false");
}

void ctl_reply_raw(struct ctl_reply *r, const char *key, const char *json)
{
    reply_key(r, key);
    reply_append(r, json);
}

static void ctl_help(struct ctl_server *s, struct ctl_reply *reply)
{
    char list[2048] = "[";
    size_t len = 1;
    for (unsigned i = 0; i < s->ncommands; i++) {
        if (i)
            list[len++] = ',';
        json_put_str(list, sizeof(list) - 2, &len, s->commands[i].name);
    }
    list[len++] = ']';
    list[len] = '\0';
    ctl_reply_raw(reply, "commands", list);
}

void ctl_server_handle(struct ctl_server *s, const char *line, size_t len, char *out, size_t cap)
{
    static __thread struct json_object req;
    static __thread struct ctl_reply reply;
    const char *err = NULL;
    memset(&reply, 0, sizeof(reply));
    strcpy(reply.buf, "{\"ok\":true");
    reply.len = strlen(reply.buf);

    if (json_parse(line, len, &req, &err) < 0) {
        ctl_reply_error(&reply, "bad request: %s", err);
    } else {
        const char *cmd = json_get_str(&req, "cmd");
        if (!cmd) {
            ctl_reply_error(&reply, "bad request: no \"cmd\" string");
        } else if (!strcmp(cmd, "help")) {
            ctl_help(s, &reply);
        } else {
            unsigned i;
            for (i = 0; i < s->ncommands; i++)
                if (!strcmp(s->commands[i].name, cmd))
                    break;
            if (i == s->ncommands)
                ctl_reply_error(&reply, "unknown command \"%s\" (try \"help\")", cmd);
            else
                s->commands[i].handler(s->commands[i].opaque, &req, &reply);
        }
    }
    size_t n = 0;
    if (reply.error) {
        snprintf(out, cap, "{\"ok\":false,\"error\":");
        n = strlen(out);
        json_put_str(out, cap - 1, &n, reply.error);
        out[n++] = '}';
        out[n] = '\0';
    } else {
        snprintf(out, cap, "%s}", reply.buf);
    }
}

static void ctl_serve_client(struct ctl_server *s, int fd)
{
    char line[CTL_LINE_MAX];
    char out[CTL_REPLY_MAX + 512];
    size_t have = 0;
    struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    for (;;) {
        char *nl = memchr(line, '\n', have);
        if (!nl) {
            if (have == sizeof(line)) {
                const char *msg = "{\"ok\":false,\"error\":\"request line too long\"}\n";
                (void)!write(fd, msg, strlen(msg));
                return;
            }
            ssize_t r = read(fd, line + have, sizeof(line) - have);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return;
            have += (size_t)r;
            continue;
        }
        size_t len = (size_t)(nl - line);
        ctl_server_handle(s, line, len, out, sizeof(out) - 1);
        size_t outlen = strlen(out);
        out[outlen++] = '\n';
        if (write(fd, out, outlen) != (ssize_t)outlen)
            return;
        memmove(line, nl + 1, have - len - 1);
        have -= len + 1;
    }
}

static void *ctl_thread(void *arg)
{
    struct ctl_server *s = arg;
    pthread_setname_np(pthread_self(), "ctl");
    for (;;) {
        struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("control socket: poll: %s", strerror(errno));
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        ctl_serve_client(s, fd);
        close(fd);
    }
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
