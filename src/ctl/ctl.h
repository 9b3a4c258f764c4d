/* The control socket: a Unix stream socket where the host admin (or `vpf ctl`, or an
 * orchestrator) sends one JSON object per line, {"cmd": NAME, ["id": ID,] KEY: VALUE, ...},
 * and gets one JSON object per line back: {"ok": true, ["id": ID,] ...} or
 * {"ok": false, ["id": ID,] "error": "...", "class": CLASS}. On connect the server greets
 * first: {"greeting": {"name": "vpf", "version": ..., "protocol": CTL_PROTOCOL, ...}}.
 * docs/api.md is the protocol, docs/api.schema.json its schema. JSON is read and written
 * with jansson. Commands are registered by the layers that own the state (the VM registers
 * "devices", "link", "stats", ...) with the arguments they take; the server rejects a
 * request with an unknown key or a value of the wrong type before any handler runs.
 *
 * Threads and locks: init, register, start and stop run on the main thread during setup
 * and teardown. One control thread serves every client through one epoll loop: clients
 * are served concurrently and may stay connected (an orchestrator holds one connection),
 * each with its own line buffer and at most one answer in flight, so a slow or idle
 * client only delays itself. Handlers run on that thread, one at a time; they may wait
 * for a device's I/O thread (bounded work) but never for the guest.
 *
 * Events (ctl_events.c): a client that sent {"cmd":"subscribe"} also gets one line per
 * event, {"event": NAME, "timestamp": {...}, "data": {...}}, between its answers. Any
 * thread publishes with ctl_server_publish(), which never blocks on a client: each
 * client's queue is bounded, and a client that does not read loses events (told by an
 * "events-lost" event once it catches up), never the connection's answers.
 *
 * Access (ctl_socket.c): the socket file is created with mode 0600 (or the configured
 * mode and group); only root, vpf's own user and members of the configured group may
 * talk to it (SO_PEERCRED, checked on connect). Handlers see the client's uid and log
 * it with every change.
 *
 * File descriptors: a client may send one with a request line (SCM_RIGHTS ancillary
 * data on the sendmsg() that carries the line's bytes, unix(7)), e.g. a tap a privileged
 * manager opened. A request gets the descriptors that arrived with its bytes; only a
 * command registered with ctl_server_register_fd() takes one (exactly one), any other
 * request that brings one is refused, and a descriptor no handler kept is closed once
 * the request is answered. */
#ifndef VPF_CTL_CTL_H
#define VPF_CTL_CTL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_MAX_COMMANDS 32
#define CTL_LINE_MAX 4096       /* longest request line */
#define CTL_MAX_CLIENTS 16      /* connected at once; more are told so and closed */
#define CTL_CLIENT_QUEUE_MAX (1u << 20)   /* bytes queued to one client before events are lost */
#define CTL_EVENTS_MAX 1024     /* published, not yet handed to clients */
#define CTL_MAX_FDS 4           /* descriptors received and not yet given to a request */

#define CTL_PROTOCOL 1           /* bumped on an incompatible change */

enum ctl_arg_type { CTL_ARG_STR, CTL_ARG_INT, CTL_ARG_BOOL };

/* Why a request failed ("class" in the answer; docs/api.md). */
enum ctl_error_class {
    CTL_ERR_FAILED,             /* the command could not be carried out (the message says why) */
    CTL_ERR_BAD_REQUEST,        /* not a JSON object with a "cmd" string, or a bad "id" */
    CTL_ERR_UNKNOWN_COMMAND,
    CTL_ERR_BAD_ARGUMENT,       /* unknown key, wrong type, missing or out-of-range value */
    CTL_ERR_NOT_FOUND,          /* no such device or VF */
    CTL_ERR_NOT_SUPPORTED,      /* valid, but not on this device or backend */
    CTL_ERR_CONFLICT,           /* clashes with another function's setting */
    CTL_ERR_INTERNAL,           /* out of memory and the like */
};

/* One argument a command takes. A boolean also accepts "on"/"off" (iproute2's words). */
struct ctl_arg {
    const char *name;
    enum ctl_arg_type type;
    bool required;
};

/* A validated request: every key is one of the command's arguments, of its type. */
struct ctl_request {
    json_t *obj;
    uid_t uid;                  /* the client's, from SO_PEERCRED */
    /* The descriptor sent with the request (commands registered with
     * ctl_server_register_fd: always one, >= 0). A handler that keeps it sets *fd to -1;
     * otherwise it is closed after the handler. NULL for other commands. */
    int *fd;
};

struct ctl_reply {
    json_t *obj;                /* the answer's fields after "ok" */
    bool failed;
    enum ctl_error_class class;
    char error[256];
};

/* Handlers add fields to the reply, or call ctl_reply_error() and return. */
typedef void (*ctl_handler_fn)(void *opaque, const struct ctl_request *req,
                               struct ctl_reply *reply);

struct ctl_command {
    const char *name;
    const char *help;
    const struct ctl_arg *args; /* ends with { NULL } */
    ctl_handler_fn handler;
    void *opaque;
    bool takes_fd;              /* needs a descriptor sent with the request */
};

/* Who may connect, and the socket file's mode and group (ctl_socket.c). */
struct ctl_access {
    mode_t mode;                /* default 0600 */
    bool has_group;
    gid_t gid;                  /* with has_group: the file's group; its members may connect */
};

/* A client connection's state that commands may change. */
struct ctl_session {
    uid_t uid;                  /* the client's, from SO_PEERCRED */
    bool subscribed;            /* gets events */
};

struct ctl_event;

struct ctl_server {
    int listen_fd, stop_fd;
    int event_fd;               /* eventfd: events were published */
    pthread_mutex_t event_lock; /* guards the list below (any thread) */
    struct ctl_event *events, **events_tail;
    unsigned nevents;
    unsigned long events_dropped;
    bool events_on;             /* the thread runs: keep what is published */
    char path[108];
    struct ctl_access access;
    pthread_t thread;
    bool running;
    struct ctl_command commands[CTL_MAX_COMMANDS];
    unsigned ncommands;
};

/* Creates the socket at path (ctl_socket_listen: only a stale socket is replaced).
 * Returns 0, or -1 with the reason in err. Register commands, then ctl_server_start(). */
int ctl_server_init(struct ctl_server *s, const char *path, const struct ctl_access *access,
                    char *err, size_t errlen);
void ctl_server_register(struct ctl_server *s, const char *name, const char *help,
                         const struct ctl_arg *args, ctl_handler_fn handler, void *opaque);
/* The same for a command that needs one file descriptor sent with its request. */
void ctl_server_register_fd(struct ctl_server *s, const char *name, const char *help,
                            const struct ctl_arg *args, ctl_handler_fn handler, void *opaque);
/* Starts the control thread. Returns 0, or -1 with the reason in err. */
int ctl_server_start(struct ctl_server *s, char *err, size_t errlen);
/* Stops the thread, closes every client and the socket, unlinks it. */
void ctl_server_stop(struct ctl_server *s);

/* Runs one request line from a client through the built-in commands (help, subscribe,
 * unsubscribe) and the registered ones (what the thread does for each line; exposed for
 * tests and fuzzing). Returns the answer line without its newline, malloc'd; NULL only
 * when out of memory. */
char *ctl_server_handle(struct ctl_server *s, const char *line, size_t len,
                        struct ctl_session *session);
/* The same for a request that came with descriptors fds[0..nfds) (SCM_RIGHTS): given to
 * a command that takes one, else the request is refused; all are closed unless the
 * handler kept one. */
char *ctl_server_handle_fds(struct ctl_server *s, const char *line, size_t len,
                            struct ctl_session *session, int *fds, unsigned nfds);
/* Any thread, any time after init (before start and after stop the event is dropped):
 * queues event NAME with data (an object; the reference is taken; NULL for none) for
 * every subscribed client. */
void ctl_server_publish(struct ctl_server *s, const char *name, json_t *data);
/* The greeting line a client gets on connect (no newline), malloc'd; NULL: no memory. */
char *ctl_server_greeting(const struct ctl_server *s);
/* An error class's name in answers, e.g. "bad-argument". */
const char *ctl_error_class_name(enum ctl_error_class class);

void ctl_reply_fail(struct ctl_reply *r, enum ctl_error_class class, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ctl_reply_fail with CTL_ERR_FAILED. */
void ctl_reply_error(struct ctl_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_reply_str(struct ctl_reply *r, const char *key, const char *value);
void ctl_reply_int(struct ctl_reply *r, const char *key, int64_t value);
void ctl_reply_bool(struct ctl_reply *r, const char *key, bool value);
/* Adds value (an array or object the caller built) under key; takes the reference. */
void ctl_reply_set(struct ctl_reply *r, const char *key, json_t *value);

/* Request arguments (validated): absent gives NULL / false. */
const char *ctl_arg_str(const struct ctl_request *r, const char *key);
bool ctl_arg_int(const struct ctl_request *r, const char *key, int64_t *out);
bool ctl_arg_bool(const struct ctl_request *r, const char *key, bool *out);

/* A JSON string for any C string: bytes that are not valid UTF-8 (a tap name is the
 * admin's bytes) become '?', so the answer stays valid JSON. New reference. */
json_t *ctl_json_str(const char *s);

#endif
