/* The control socket: a Unix stream socket where the host admin (or `vpf ctl`) sends one
 * JSON object per line, {"cmd": NAME, ...}, and gets one JSON object per line back:
 * {"ok": true, ...} or {"ok": false, "error": "..."}. Commands are registered by the
 * layers that own the state (the VM registers "devices", "link", "stats"); the server
 * knows nothing about them. One thread serves clients one at a time. */
#ifndef VPF_CTL_CTL_H
#define VPF_CTL_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl/json.h"

#define CTL_REPLY_MAX 65536
#define CTL_MAX_COMMANDS 32

struct ctl_reply {
    char buf[CTL_REPLY_MAX];
    size_t len;
    const char *error;      /* set by ctl_reply_error() */
    char error_buf[256];
};

/* Handlers add fields to the reply, or call ctl_reply_error() and return. */
typedef void (*ctl_handler_fn)(void *opaque, const struct json_object *req, struct ctl_reply *reply);

struct ctl_command {
    const char *name;
    const char *help;
    ctl_handler_fn handler;
    void *opaque;
};

struct ctl_server {
    int listen_fd, stop_fd;
    char path[108];
    pthread_t thread;
    bool running;
    struct ctl_command commands[CTL_MAX_COMMANDS];
    unsigned ncommands;
};

/* Binds path (replacing a stale socket). Returns 0 or -1 (logged). Register commands,
 * then ctl_server_start(). */
int ctl_server_init(struct ctl_server *s, const char *path);
void ctl_server_register(struct ctl_server *s, const char *name, const char *help,
                         ctl_handler_fn handler, void *opaque);
int ctl_server_start(struct ctl_server *s);
/* Stops the thread, closes and unlinks the socket. */
void ctl_server_stop(struct ctl_server *s);

/* Runs one request line through the registered commands (what the thread does for each
 * line; exposed for unit tests). Writes the reply line (no newline) into out. */
void ctl_server_handle(struct ctl_server *s, const char *line, size_t len, char *out, size_t cap);

void ctl_reply_error(struct ctl_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_reply_str(struct ctl_reply *r, const char *key, const char *value);
void ctl_reply_int(struct ctl_reply *r, const char *key, int64_t value);
void ctl_reply_bool(struct ctl_reply *r, const char *key, bool value);
/* Appends a pre-formatted JSON value (array or object) under key. */
void ctl_reply_raw(struct ctl_reply *r, const char *key, const char *json);

#endif
