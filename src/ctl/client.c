#include "ctl/client.h"
#include "ctl/client_show.h"
#include "ctl/ctl.h"
#include "base/exit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (16u << 20)   /* far above any answer (128 VFs: about 60 KiB) */

static bool looks_like_int(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static json_t *value_of(const char *v)
{
    if (!strcmp(v, "true") || !strcmp(v, "false"))
        return json_boolean(!strcmp(v, "true"));
    if (looks_like_int(v))
        return json_integer(strtoll(v, NULL, 10));
    return json_string(v);
}

/* Adds KEY=VALUE, or KEY then VALUE as two words (iproute2's form: `vf-set dev net0 vf 3
 * vlan 100 qos 2`), at argv[i]; returns how many words it took, 0 if malformed. */
static int add_arg(json_t *req, int argc, char **argv, int i)
{
    const char *eq = strchr(argv[i], '=');
    size_t klen = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    const char *val = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
    char key[64];
    if (!klen || klen >= sizeof(key) || !val)
        return 0;
    memcpy(key, argv[i], klen);
    key[klen] = '\0';
    if (json_object_get(req, key))
        return 0;               /* each key once */
    json_t *v = value_of(val);  /* json_object_set_new takes it, even when it fails */
    if (!v || json_object_set_new(req, key, v) < 0)
        return 0;
    return eq ? 1 : 2;
}

static json_t *build(int argc, char **argv)
{
    if (argc < 1)
        return NULL;
    json_t *req = json_pack("{s:s}", "cmd", argv[0]);
    for (int i = 1, n; req && i < argc; i += n) {
        if (!(n = add_arg(req, argc, argv, i))) {
            json_decref(req);
            req = NULL;
        }
    }
    return req;
}

char *ctl_client_build(int argc, char **argv)
{
    json_t *req = build(argc, argv);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return text;
}

/* Opens the tap name (creating it, gone once its last descriptor closes) as vpf wants a
 * handed-over tap, and brings its link up: what a privileged manager does for a vpf that
 * cannot. Returns the descriptor, or -1 (printed). */
static int tap_open_for_vpf(const char *name)
{
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (strlen(name) >= IFNAMSIZ || fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "vpf ctl: tap %s: %s\n", name,
                strlen(name) >= IFNAMSIZ ? "name too long" : strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    } else if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
               (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        fprintf(stderr, "vpf ctl: warning: tap %s: cannot bring its link up: %s\n", name,
                strerror(errno));
    }
    if (s >= 0)
        close(s);
    return fd;
}

/* vf-tap's descriptor, from the client's own keys (not sent): tap=IFNAME (opened here)
 * or fd=N (inherited). Returns it, -1 if the request has none, -2 on error (printed). */
static int request_fd(json_t *req)
{
    if (strcmp(json_string_value(json_object_get(req, "cmd")), "vf-tap"))
        return -1;
    json_t *tap = json_object_get(req, "tap"), *fd = json_object_get(req, "fd");
    if ((tap && !json_is_string(tap)) || (fd && !json_is_integer(fd)) || (tap && fd)) {
        fprintf(stderr, "vpf ctl: vf-tap wants tap=IFNAME or fd=N (an open tap), one of them\n");
        return -2;
    }
    int r = tap ? tap_open_for_vpf(json_string_value(tap)) : fd ? (int)json_integer_value(fd) : -1;
    json_object_del(req, tap ? "tap" : "fd");
    return tap && r < 0 ? -2 : r;
}

/* Sends line (its newline included), with fd attached when fd >= 0 (SCM_RIGHTS). */
static bool send_request(int sock, const char *line, size_t len, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct iovec iov = { (void *)line, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        mh.msg_control = c.buf;
        mh.msg_controllen = sizeof(c.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        *cm = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)),
                                .cmsg_level = SOL_SOCKET,
                                .cmsg_type = SCM_RIGHTS };
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len;
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "vpf ctl: socket path too long\n");
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "vpf ctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Lines from the server, read through one buffer. */
struct reader {
    int fd;
    const char *path;
    char *buf;
    size_t have, cap, next;     /* next: start of the unread part */
    bool eof_ok;                /* vpf closing the connection is the end, not an error */
};

static bool reader_fill(struct reader *r)
{
    if (r->have == r->cap) {
        char *nb = r->cap < REPLY_MAX ? realloc(r->buf, 2 * r->cap + 1) : NULL;
        if (!nb) {
            fprintf(stderr, "vpf ctl: reply from %s too long\n", r->path);
            return false;
        }
        r->buf = nb;
        r->cap *= 2;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->have, r->cap - r->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            r->have += (size_t)n;
            return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fprintf(stderr, "vpf ctl: no reply from %s within %d s\n", r->path,
                    CTL_CLIENT_TIMEOUT_S);
        else if (n < 0 || !r->eof_ok)
            fprintf(stderr, "vpf ctl: %s closed the connection%s%s\n", r->path, n < 0 ? ": " : "",
                    n < 0 ? strerror(errno) : "");
        return false;
    }
}

/* The next line, without its newline (valid until the next call); NULL with a message. */
static char *reader_line(struct reader *r)
{
    char *nl;
    while (!(nl = memchr(r->buf + r->next, '\n', r->have - r->next))) {
        if (r->next) {
            memmove(r->buf, r->buf + r->next, r->have - r->next);
            r->have -= r->next;
            r->next = 0;
        }
        if (!reader_fill(r))
            return NULL;
    }
    *nl = '\0';
    char *line = r->buf + r->next;
    r->next = (size_t)(nl + 1 - r->buf);
    return line;
}

/* The greeting must be vpf's, of our protocol; a refusal in its place is shown. */
static bool greeting_ok(const char *line, const char *path)
{
    json_t *g = json_loads(line, 0, NULL);
    json_t *proto = json_object_get(json_object_get(g, "greeting"), "protocol");
    bool ok = json_is_integer(proto) && json_integer_value(proto) == CTL_PROTOCOL;
    const char *err = json_string_value(json_object_get(g, "error"));
    if (!ok && err)
        fprintf(stderr, "vpf ctl: %s\n", err);
    else if (!ok)
        fprintf(stderr, "vpf ctl: %s does not speak vpf's control protocol %d: %.200s\n", path,
                CTL_PROTOCOL, line);
    json_decref(g);
    return ok;
}

/* vpf ctl's options: --json anywhere among its arguments, --help. */
struct client_opts {
    bool json;                  /* print answers and events as vpf sent them */
    int argc;                   /* SOCKET COMMAND [KEY=VALUE...], options taken out */
    char **argv;
};

static void client_usage(FILE *out)
{
    fprintf(out,
            "Usage: vpf ctl [--json] SOCKET COMMAND [KEY=VALUE | KEY VALUE...]\n"
            "\n"
            "Sends COMMAND to the vpf whose control socket is SOCKET and prints the answer:\n"
            "tables for devices, vfs, stats and help, \"key: value\" lines for the others.\n"
            "A key and its value are one word KEY=VALUE or two words, as ip link writes them\n"
            "(vf-set dev net0 vf 3 vlan 100 qos 2). VALUE true/false is a boolean, one that\n"
            "looks like an integer an integer, anything else a string. vf-tap sends a tap with\n"
            "the request: tap=IFNAME (opened here) or fd=N (inherited). COMMAND events follows\n"
            "events until vpf exits. vpf ctl SOCKET help lists the commands; vpf gets %d s to\n"
            "answer.\n"
            "\n"
            "Options:\n"
            "  -j, --json   print the answer (and events) as the JSON line vpf sent, for scripts\n"
            "  -h, --help   this help\n"
            "\n"
            "Exit status: 0 if vpf answered ok, 1 otherwise (the error on stderr).\n",
            CTL_CLIENT_TIMEOUT_S);
}

/* Takes the options out of argv. Returns 1 to go on, 0 after --help, -1 on bad usage
 * (said so). */
static int client_parse(int argc, char **argv, struct client_opts *o)
{
    o->json = false;
    o->argc = 0;
    o->argv = argv;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
            o->json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            client_usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && !strchr(argv[i], '=') && o->argc == 0) {
            fprintf(stderr, "vpf ctl: unknown option '%s' (see vpf ctl --help)\n", argv[i]);
            return -1;
        } else {
            o->argv[o->argc++] = argv[i];
        }
    }
    if (o->argc < 2) {
        fprintf(stderr, "usage: vpf ctl [--json] SOCKET COMMAND [KEY=VALUE | KEY VALUE...]   "
                        "(COMMAND help lists them)\n");
        return -1;
    }
    return 1;
}

/* Exit status for the answer: prints it (ok) or its error (not ok). */
static int show_reply(const char *reply, const char *cmd, bool json)
{
    json_t *obj = json_loads(reply, 0, NULL);
    json_t *ok = json_object_get(obj, "ok");
    int rc = VPF_EXIT_CTL_FAILED;
    if (json_is_true(ok)) {
        if (json)
            printf("%s\n", reply);
        else if (strcmp(cmd, "events"))
            ctl_show_reply(stdout, cmd, obj);
        rc = VPF_EXIT_OK;
    } else if (json_is_false(ok) && json_is_string(json_object_get(obj, "error"))) {
        fprintf(stderr, "vpf ctl: %s\n", json_string_value(json_object_get(obj, "error")));
    } else {
        fprintf(stderr, "vpf ctl: malformed reply: %.200s\n", reply);
    }
    json_decref(obj);
    return rc;
}

/* `vpf ctl PATH events`: after the subscribe answer, every event as it comes, until
 * vpf closes the connection (exit 0) or the reader fails. */
static int follow_events(struct reader *r, bool json)
{
    struct timeval forever = { 0 };
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
    r->eof_ok = true;
    fflush(stdout);             /* the subscribe answer: a reader waits for it */
    for (;;) {
        char *line = reader_line(r);
        if (!line)
            return VPF_EXIT_OK; /* vpf went away: the stream ended */
        if (json)
            printf("%s\n", line);
        else
            ctl_show_event(stdout, line);
        fflush(stdout);
    }
}

int ctl_client_main(int argc, char **argv)
{
    struct client_opts o;
    int go = client_parse(argc, argv, &o);
    if (go <= 0)
        return go < 0 ? VPF_EXIT_CTL_FAILED : VPF_EXIT_OK;
    const char *path = o.argv[0], *cmd = o.argv[1];
    bool events = o.argc == 2 && !strcmp(cmd, "events");
    json_t *obj = events ? json_pack("{s:s}", "cmd", "subscribe") : build(o.argc - 1, o.argv + 1);
    if (!obj) {
        fprintf(stderr, "vpf ctl: arguments after the command must be KEY=VALUE or KEY VALUE, each "
                        "key once\n");
        return VPF_EXIT_CTL_FAILED;
    }
    int tap_fd = request_fd(obj);
    char *req = tap_fd == -2 ? NULL : json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!req)
        return VPF_EXIT_CTL_FAILED;
    int fd = connect_to(path);
    size_t len = strlen(req);
    req[len] = '\n';            /* json_dumps left room: replaces the terminator */
    bool sent = fd >= 0 && send_request(fd, req, len + 1, tap_fd);
    if (fd >= 0 && !sent)
        fprintf(stderr, "vpf ctl: cannot send to %s: %s\n", path, strerror(errno));
    free(req);
    struct reader r = { .fd = fd, .path = path, .cap = 65536, .buf = malloc(65536 + 1) };
    char *greeting = sent && r.buf ? reader_line(&r) : NULL;
    char *reply = greeting && greeting_ok(greeting, path) ? reader_line(&r) : NULL;
    int rc = reply ? show_reply(reply, cmd, o.json) : VPF_EXIT_CTL_FAILED;
    if (events && rc == 0)
        rc = follow_events(&r, o.json);
    if (fd >= 0)
        close(fd);
    free(r.buf);
    return rc;
}
