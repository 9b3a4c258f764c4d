/* The control socket: request checking and answers (ctl_dispatch.c), the socket file and
 * its access rules (ctl_socket.c), and the concurrent server (ctl_server.c). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/client.h"
#include "ctl/ctl.h"

static int calls;
static uid_t last_uid;

static void echo_handler(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    calls++;
    last_uid = req->uid;
    const char *dev = ctl_arg_str(req, "dev");
    int64_t n = 7;
    bool up = true;
    ctl_arg_int(req, "n", &n);
    ctl_arg_bool(req, "up", &up);
    if (!strcmp(dev, "fail")) {
        ctl_reply_error(reply, "asked to fail");
        return;
    }
    ctl_reply_str(reply, "dev", dev);
    ctl_reply_int(reply, "n", n);
    ctl_reply_bool(reply, "up", up);
}

static const struct ctl_arg echo_args[] = { { "dev", CTL_ARG_STR, true },
                                            { "n", CTL_ARG_INT, false },
                                            { "up", CTL_ARG_BOOL, false },
                                            { NULL } };

/* Runs req through a server with "echo" registered; returns the answer (caller frees). */
static char *handle(const char *req)
{
    static struct ctl_server s;
    if (!s.ncommands)
        ctl_server_register(&s, "echo", "test", echo_args, echo_handler, NULL);
    char *out = ctl_server_handle(&s, req, strlen(req), &(struct ctl_session){ .uid = 1234 });
    assert_non_null(out);
    return out;
}

static void expect_answer(const char *req, const char *want)
{
    char *out = handle(req);
    assert_string_equal(out, want);
    free(out);
}

static void expect_error(const char *req, const char *substring)
{
    char *out = handle(req);
    if (!strstr(out, "\"ok\":false") || !strstr(out, substring))
        fail_msg("%s -> %s (want an error with \"%s\")", req, out, substring);
    free(out);
}

static void test_dispatch(void **state)
{
    calls = 0;
    expect_answer("{\"cmd\":\"echo\",\"dev\":\"net\\\"0\"}",
                  "{\"ok\":true,\"dev\":\"net\\\"0\",\"n\":7,\"up\":true}");
    assert_int_equal(last_uid, 1234);
    expect_answer("{\"cmd\":\"echo\",\"dev\":\"fail\"}",
                  "{\"ok\":false,\"error\":\"asked to fail\",\"class\":\"failed\"}");
    /* An id, a string or an integer, comes back right after "ok". */
    expect_answer("{\"id\":\"a1\",\"cmd\":\"echo\",\"dev\":\"x\"}",
                  "{\"ok\":true,\"id\":\"a1\",\"dev\":\"x\",\"n\":7,\"up\":true}");
    expect_answer(
        "{\"cmd\":\"nope\",\"id\":42}",
        "{\"ok\":false,\"id\":42,\"error\":\"unknown command \\\"nope\\\" (try \\\"help\\\")\","
        "\"class\":\"unknown-command\"}");
    expect_error("{\"cmd\":\"echo\",\"dev\":\"x\",\"id\":[1]}", "\"class\":\"bad-request\"");
    expect_error("{\"cmd\":\"nope\"}", "unknown command \\\"nope\\\"");
    expect_error("not json", "bad request");
    expect_error("[1,2]", "bad request");
    expect_error("{\"dev\":\"x\"}", "bad request");
    expect_error("{\"cmd\":\"echo\",\"dev\":\"a\",\"dev\":\"b\"}", "bad request");
    assert_int_equal(calls, 3);
}

/* Issue 12, fault 10: unknown keys and wrong types were accepted and ignored. */
static void test_strict_arguments(void **state)
{
    calls = 0;
    expect_error(
        "{\"cmd\":\"echo\",\"dev\":\"x\",\"trust\":\"on\"}",
        "echo does not take \\\"trust\\\" (it takes: dev, n, up)\",\"class\":\"bad-argument\"");
    expect_error("{\"cmd\":\"echo\",\"dev\":\"x\",\"n\":\"abc\"}", "\\\"n\\\" must be an integer");
    expect_error("{\"cmd\":\"echo\",\"dev\":\"x\",\"n\":1.5}", "\\\"n\\\" must be an integer");
    expect_error("{\"cmd\":\"echo\",\"dev\":\"x\",\"up\":\"maybe\"}",
                 "\\\"up\\\" must be true or false");
    expect_error("{\"cmd\":\"echo\",\"dev\":7}", "\\\"dev\\\" must be a string");
    expect_error("{\"cmd\":\"echo\"}", "echo needs \\\"dev\\\"");
    assert_int_equal(calls, 0);
    /* iproute2's on/off are booleans. */
    expect_answer("{\"cmd\":\"echo\",\"dev\":\"x\",\"up\":\"off\"}",
                  "{\"ok\":true,\"dev\":\"x\",\"n\":7,\"up\":false}");
    expect_answer("{\"cmd\":\"echo\",\"dev\":\"x\",\"up\":\"on\"}",
                  "{\"ok\":true,\"dev\":\"x\",\"n\":7,\"up\":true}");
}

static void big_handler(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    json_t *list = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(list, json_pack("{s:i,s:s}", "i", i, "tap", "q\"x\\y"));
    ctl_reply_set(reply, "list", list);
    ctl_reply_str(reply, "raw", "\xff\xfe tap");     /* not UTF-8 */
}

/* Issue 12, fault 9: answers were cut at fixed buffers and names not escaped. */
static void test_answers_are_json(void **state)
{
    struct ctl_server s;
    memset(&s, 0, sizeof(s));
    ctl_server_register(&s, "big", "test", NULL, big_handler, NULL);
    char *out = ctl_server_handle(&s, "{\"cmd\":\"big\"}", strlen("{\"cmd\":\"big\"}"),
                                  &(struct ctl_session){ 0 });
    assert_non_null(out);
    json_error_t err;
    json_t *o = json_loads(out, 0, &err);
    if (!o)
        fail_msg("invalid JSON (%s) in an answer of %zu bytes", err.text, strlen(out));
    assert_int_equal(json_array_size(json_object_get(o, "list")), 2000);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(o, "list"), 1999), "tap")),
        "q\"x\\y");
    assert_string_equal(json_string_value(json_object_get(o, "raw")), "?? tap");
    json_decref(o);
    free(out);
    /* An argument-free command refuses arguments; help lists each command's. */
    const char *req = "{\"cmd\":\"big\",\"x\":1}";
    char *bad = ctl_server_handle(&s, req, strlen(req), &(struct ctl_session){ 0 });
    assert_non_null(strstr(bad, "it takes: no arguments"));
    free(bad);
}

static void test_help_lists_arguments(void **state)
{
    char *out = handle("{\"cmd\":\"help\"}");
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    json_t *echo = json_array_get(json_object_get(o, "commands"), 0);
    assert_string_equal(json_string_value(json_object_get(echo, "name")), "echo");
    json_t *dev = json_object_get(json_object_get(echo, "args"), "dev");
    assert_string_equal(json_string_value(json_object_get(dev, "type")), "a string");
    assert_true(json_is_true(json_object_get(dev, "required")));
    json_decref(o);
    free(out);
}

static void test_client_build(void **state)
{
    char *argv[] = { "link", "dev=net0", "up=false", "rate=100", "name=a b" };
    char *out = ctl_client_build(5, argv);
    assert_string_equal(
        out, "{\"cmd\":\"link\",\"dev\":\"net0\",\"up\":false,\"rate\":100,\"name\":\"a b\"}");
    free(out);
    char *bad[] = { "link", "noequals" };
    assert_null(ctl_client_build(2, bad));
    char *empty_key[] = { "link", "=1" };
    assert_null(ctl_client_build(2, empty_key));
    char *twice[] = { "link", "up=true", "up=false" };
    assert_null(ctl_client_build(3, twice));
    /* iproute2's form: KEY VALUE as two words, mixed with KEY=VALUE. */
    char *ip[] = { "vf-set", "dev",   "net0",    "vf",    "3",  "vlan=100",    "qos",
                   "2",      "proto", "802.1ad", "trust", "on", "max_tx_rate", "100" };
    out = ctl_client_build(14, ip);
    assert_string_equal(out, "{\"cmd\":\"vf-set\",\"dev\":\"net0\",\"vf\":3,\"vlan\":100,\"qos\":2,"
                             "\"proto\":\"802.1ad\",\"trust\":\"on\",\"max_tx_rate\":100}");
    free(out);
    char *no_value[] = { "vf-set", "dev", "net0", "vf" };
    assert_null(ctl_client_build(4, no_value));
    char *twice_ip[] = { "vf-set", "vf", "1", "vf=2" };
    assert_null(ctl_client_build(4, twice_ip));
}

/* ---- the socket ---- */

static char dir[64], path[128];

static int setup_dir(void **state)
{
    strcpy(dir, "/tmp/vpf-ctl-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
    return 0;
}

static int teardown_dir(void **state)
{
    unlink(path);
    rmdir(dir);
    return 0;
}

static const struct ctl_access owner_only = { .mode = 0600 };

static int raw_connect(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void read_answer(int fd, char *buf, size_t cap);

/* Connects and takes the greeting: vpf's name and protocol. */
static int client_connect(void)
{
    int fd = raw_connect();
    char g[1024];
    read_answer(fd, g, sizeof(g));
    if (!strstr(g, "{\"greeting\":{\"name\":\"vpf\"") || !strstr(g, "\"protocol\":1"))
        fail_msg("greeting: %s", g);
    return fd;
}

/* Reads one answer line; fails the test after 10 s (a bound, not a synchronisation). */
/* Reads one line (byte by byte: the next line stays in the socket). */
static void read_answer(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    buf[0] = '\0';
    while (!memchr(buf, '\n', have) && have + 1 < cap) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 10000) != 1)
            fail_msg("no answer within 10 s");
        ssize_t r = read(fd, buf + have, 1);
        if (r <= 0)
            fail_msg("connection closed after \"%s\"", buf);
        have += (size_t)r;
        buf[have] = '\0';
    }
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void start_server(struct ctl_server *s, const struct ctl_access *a)
{
    assert_int_equal(ctl_server_init(s, path, a, NULL, 0), 0);
    ctl_server_register(s, "echo", "test", echo_args, echo_handler, NULL);
    assert_int_equal(ctl_server_start(s, NULL, 0), 0);
}

/* Issue 12, fault 2: whatever was at the path was unlinked, a regular file included. */
static void test_path_not_clobbered(void **state)
{
    struct ctl_server s;
    FILE *f = fopen(path, "w");
    fputs("precious\n", f);
    fclose(f);
    char err[256] = "";
    assert_int_equal(ctl_server_init(&s, path, &owner_only, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a socket"));
    char buf[32] = "";
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "precious\n");
    unlink(path);

    /* A stale socket (its server gone) is replaced; a live one is not. */
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, path);
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(stale, (struct sockaddr *)&a, sizeof(a)), 0);
    close(stale);
    start_server(&s, &owner_only);
    struct ctl_server other;
    assert_int_equal(ctl_server_init(&other, path, &owner_only, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "in use by another process"));
    int fd = client_connect();
    char out[256];
    send_str(fd, "{\"cmd\":\"echo\",\"dev\":\"still-mine\"}\n");
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "still-mine"));
    close(fd);
    ctl_server_stop(&s);
    assert_int_equal(access(path, F_OK), -1);
}

/* Issue 12, fault 3: the mode came from the umask. */
static void test_socket_mode(void **state)
{
    struct ctl_server s;
    mode_t old = umask(0);
    assert_int_equal(ctl_server_init(&s, path, &owner_only, NULL, 0), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    ctl_server_stop(&s);
    struct ctl_access grp = { .mode = 0660, .has_group = true, .gid = 4242 };
    assert_int_equal(ctl_server_init(&s, path, &grp, NULL, 0), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
    if (geteuid() == 0)
        assert_int_equal(st.st_gid, 4242);
    ctl_server_stop(&s);
}

/* In a child that became uid (and gid): the first line the server sends on connect +
 * request; 'F' if the server closed without a word. */
static char child_try(uid_t uid, gid_t gid, char *out, size_t cap)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
            _exit(2);
        int fd = raw_connect();
        char buf[1024];
        size_t have = 0;
        send(fd, "{\"cmd\":\"echo\",\"dev\":\"child\"}\n", 29, MSG_NOSIGNAL);
        for (int lines = 0;
             lines < 2 && have < sizeof(buf);) {  /* greeting + answer, or a refusal */
            ssize_t n = read(fd, buf + have, sizeof(buf) - have);
            if (n <= 0)
                break;
            for (ssize_t k = 0; k < n; k++)
                lines += buf[have + (size_t)k] == '\n';
            have += (size_t)n;
        }
        (void)!write(pfd[1], buf, have);
        _exit(0);
    }
    close(pfd[1]);
    ssize_t n = read(pfd[0], out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return n > 0 ? out[0] : 'F';
}

/* Issue 12, fault 3: anyone who could reach the socket could change a VF. */
static void test_peer_credentials(void **state)
{
    if (geteuid() != 0)
        skip();
    struct ctl_server s;
    struct ctl_access grp = { .mode = 0666, .has_group = true, .gid = 4242 };
    assert_int_equal(chmod(dir, 0755), 0);      /* the children may reach the socket */
    start_server(&s, &grp);     /* 0666: only the credential check stands in the way */
    char out[512];
    calls = 0;
    child_try(65534, 65534, out, sizeof(out));
    assert_non_null(strstr(out, "permission denied\",\"class\":\"permission-denied\""));
    assert_null(strstr(out, "greeting"));
    assert_int_equal(calls, 0);
    child_try(65534, 4242, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"child\""));
    assert_int_equal(last_uid, 65534);
    ctl_server_stop(&s);
}

static sem_t hold_entered, hold_release;

static void hold_handler(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    sem_post(&hold_entered);
    sem_wait(&hold_release);
    ctl_reply_str(reply, "filler", "x");
}

/* Issue 12, fault 1: a client that hung up before its answer killed vpf (SIGPIPE). */
static void test_client_hangs_up_early(void **state)
{
    struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
    sigaction(SIGPIPE, &dfl, &old);   /* as in vpf: a SIGPIPE would end the process */
    sem_init(&hold_entered, 0, 0);
    sem_init(&hold_release, 0, 0);
    struct ctl_server s;
    assert_int_equal(ctl_server_init(&s, path, &owner_only, NULL, 0), 0);
    ctl_server_register(&s, "echo", "test", echo_args, echo_handler, NULL);
    ctl_server_register(&s, "hold", "test", NULL, hold_handler, NULL);
    assert_int_equal(ctl_server_start(&s, NULL, 0), 0);
    int fd = client_connect();
    send_str(fd, "{\"cmd\":\"hold\"}\n");
    sem_wait(&hold_entered);
    close(fd);                  /* gone before the answer is written */
    sem_post(&hold_release);
    fd = client_connect();      /* the server lives on */
    char out[256];
    send_str(fd, "{\"cmd\":\"echo\",\"dev\":\"after\"}\n");
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"after\""));
    close(fd);
    ctl_server_stop(&s);
    sigaction(SIGPIPE, &old, NULL);
}

/* Issue 12, fault 4: one client at a time; an idle or trickling client blocked the rest. */
static void test_clients_served_concurrently(void **state)
{
    struct ctl_server s;
    start_server(&s, &owner_only);
    int idle = client_connect();
    int trickle = client_connect();
    send_str(trickle, "{\"cmd\":");             /* half a request, the rest never comes */
    char out[4096];
    for (int i = 0; i < 3; i++) {
        int fd = client_connect();
        send_str(fd, "{\"cmd\":\"echo\",\"dev\":\"other\"}\n");
        read_answer(fd, out, sizeof(out));
        assert_non_null(strstr(out, "\"ok\":true"));
        close(fd);
    }
    /* A long-lived client: many requests on one connection, several in one write. */
    send_str(idle, "{\"cmd\":\"echo\",\"dev\":\"a\"}\n{\"cmd\":\"echo\",\"dev\":\"b\"}\n");
    read_answer(idle, out, sizeof(out));
    if (!strstr(out, "\"dev\":\"b\""))
        read_answer(idle, out + strlen(out), sizeof(out) - strlen(out));
    assert_non_null(strstr(out, "\"dev\":\"a\""));
    assert_non_null(strstr(out, "\"dev\":\"b\""));
    send_str(trickle, "\"echo\",\"dev\":\"late\"}\n");
    read_answer(trickle, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"late\""));
    /* An over-long line is answered with an error and the connection closed. */
    char big[CTL_LINE_MAX + 16];
    memset(big, 'x', sizeof(big));
    assert_int_equal(send(trickle, big, sizeof(big), MSG_NOSIGNAL), (ssize_t)sizeof(big));
    read_answer(trickle, out, sizeof(out));
    assert_non_null(strstr(out, "too long"));
    close(idle);
    close(trickle);
    ctl_server_stop(&s);
}

/* More than CTL_MAX_CLIENTS at once: the extra one is told so; the others keep working. */
static void test_client_limit(void **state)
{
    struct ctl_server s;
    start_server(&s, &owner_only);
    int fds[CTL_MAX_CLIENTS];
    char out[256];
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        fds[i] = client_connect();
        send_str(fds[i], "{\"cmd\":\"echo\",\"dev\":\"x\"}\n");
        read_answer(fds[i], out, sizeof(out));      /* accepted and served */
    }
    int extra = raw_connect();
    read_answer(extra, out, sizeof(out));
    assert_non_null(strstr(out, "too many clients"));
    close(extra);
    close(fds[0]);
    int again = -1;
    for (int tries = 0; tries < 100; tries++) {   /* the server sees fds[0] go on its own time */
        again = raw_connect();
        read_answer(again, out, sizeof(out));
        if (strstr(out, "greeting")) {
            send_str(again, "{\"cmd\":\"echo\",\"dev\":\"y\"}\n");
            read_answer(again, out, sizeof(out));
            assert_non_null(strstr(out, "\"ok\":true"));
            break;
        }
        close(again);
        again = -1;
    }
    assert_true(again >= 0);
    close(again);
    for (int i = 1; i < CTL_MAX_CLIENTS; i++)
        close(fds[i]);
    ctl_server_stop(&s);
}

/* Events reach subscribed clients only, in order, between answers. */
static void test_events(void **state)
{
    struct ctl_server s;
    start_server(&s, &owner_only);
    int a = client_connect(), b = client_connect();
    char out[4096];
    send_str(a, "{\"cmd\":\"subscribe\",\"id\":1}\n");
    read_answer(a, out, sizeof(out));
    assert_non_null(strstr(out, "{\"ok\":true,\"id\":1,\"subscribed\":true}"));
    ctl_server_publish(&s, "thing", json_pack("{s:i}", "n", 1));
    ctl_server_publish(&s, "thing", json_pack("{s:i}", "n", 2));
    read_answer(a, out, sizeof(out));
    assert_non_null(strstr(out, "{\"event\":\"thing\",\"timestamp\":{\"seconds\":"));
    assert_non_null(strstr(out, "},\"data\":{\"n\":1}}\n"));
    read_answer(a, out, sizeof(out));
    assert_non_null(strstr(out, "\"data\":{\"n\":2}}"));
    /* b never subscribed: its next line is its own answer. */
    send_str(b, "{\"cmd\":\"echo\",\"dev\":\"b\"}\n");
    read_answer(b, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"b\""));
    send_str(a, "{\"cmd\":\"unsubscribe\"}\n");
    read_answer(a, out, sizeof(out));
    assert_non_null(strstr(out, "\"subscribed\":false"));
    ctl_server_publish(&s, "thing", NULL);
    send_str(a, "{\"cmd\":\"echo\",\"dev\":\"a\"}\n");
    read_answer(a, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"a\""));
    close(a);
    close(b);
    ctl_server_stop(&s);
    /* Stopped: publishing is harmless. */
    struct ctl_server idle;
    assert_int_equal(ctl_server_init(&idle, path, &owner_only, NULL, 0), 0);
    ctl_server_publish(&idle, "before-start", NULL);
    assert_int_equal(idle.nevents, 0);
    ctl_server_stop(&idle);
}

/* A subscriber that does not read loses events, never blocks vpf, and is told how many
 * it lost once it catches up. */
static void test_events_lost(void **state)
{
    struct ctl_server s;
    start_server(&s, &owner_only);
    int a = client_connect();
    static char line[1 << 17];
    send_str(a, "{\"cmd\":\"subscribe\"}\n");
    read_answer(a, line, sizeof(line));
    static char big[65536];
    memset(big, 'x', sizeof(big) - 1);
    const int published = 64;      /* 4 MiB: far beyond the queue and the socket buffer */
    for (int i = 0; i < published; i++)
        ctl_server_publish(&s, "big", json_pack("{s:s}", "x", big));
    for (int tries = 0;; tries++) {    /* until the thread has handed out everything */
        pthread_mutex_lock(&s.event_lock);
        unsigned left = s.nevents;
        pthread_mutex_unlock(&s.event_lock);
        if (!left)
            break;
        assert_true(tries < 10000);
        usleep(1000);
    }
    /* Every event arrives or is counted in an events-lost line (reading may let the
     * thread's last hand-out squeeze in, so there may be more than one). */
    long got = 0, lost = 0;
    while (got + lost < published) {
        read_answer(a, line, sizeof(line));
        if (strstr(line, "\"event\":\"big\""))
            got++;
        else if (strstr(line, "\"event\":\"events-lost\""))
            lost += strtol(strstr(line, "\"count\":") + 8, NULL, 10);
        else
            fail_msg("unexpected line %.80s", line);
    }
    assert_true(lost > 0);
    assert_int_equal(got + lost, published);
    close(a);
    ctl_server_stop(&s);
}

/* ---- descriptors sent with a request (SCM_RIGHTS) ---- */

static int kept_fd = -1;

static void takefd_handler(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    assert_non_null(req->fd);
    assert_true(*req->fd >= 0);
    ctl_reply_bool(reply, "cloexec", fcntl(*req->fd, F_GETFD) & FD_CLOEXEC);
    if (!strcmp(ctl_arg_str(req, "dev"), "keep")) {
        kept_fd = *req->fd;
        *req->fd = -1;
    }
}

/* Sends line with the descriptors fds[0..n) attached (one sendmsg). */
static void send_fds(int sock, const char *line, const int *fds, unsigned n)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 8)];
    } c;
    struct iovec iov = { (void *)line, strlen(line) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (n) {
        mh.msg_control = c.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)strlen(line));
}

/* A pipe whose write end we hand over: true once nobody holds that end any more. */
static bool write_end_closed(int rd)
{
    struct pollfd p = { rd, POLLIN, 0 };
    char b;
    return poll(&p, 1, 2000) == 1 && read(rd, &b, 1) == 0;
}

static void test_fd_passing(void **state)
{
    struct ctl_server s;
    assert_int_equal(ctl_server_init(&s, path, &owner_only, NULL, 0), 0);
    ctl_server_register(&s, "echo", "test", echo_args, echo_handler, NULL);
    ctl_server_register_fd(&s, "takefd", "test", echo_args, takefd_handler, NULL);
    assert_int_equal(ctl_server_start(&s, NULL, 0), 0);
    int fd = client_connect(), p[2];
    char out[512];
    /* Taken and closed after the handler (we close ours: the pipe's writer is gone). */
    assert_int_equal(pipe(p), 0);
    send_fds(fd, "{\"cmd\":\"takefd\",\"dev\":\"x\"}\n", &p[1], 1);
    read_answer(fd, out, sizeof(out));
    assert_string_equal(out, "{\"ok\":true,\"cloexec\":true}\n");
    close(p[1]);
    assert_true(write_end_closed(p[0]));
    close(p[0]);
    /* Kept by the handler. */
    assert_int_equal(pipe(p), 0);
    send_fds(fd, "{\"cmd\":\"takefd\",\"dev\":\"keep\"}\n", &p[1], 1);
    read_answer(fd, out, sizeof(out));
    close(p[1]);
    assert_true(kept_fd >= 0);
    struct pollfd pp = { p[0], POLLIN, 0 };
    assert_int_equal(poll(&pp, 1, 50), 0);      /* a writer is still there: vpf's */
    close(kept_fd);
    assert_true(write_end_closed(p[0]));
    /* Refused: none where one is needed, one where none is taken (and closed), two. */
    send_str(fd, "{\"cmd\":\"takefd\",\"dev\":\"x\"}\n");
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "takefd needs a file descriptor sent with the request line"));
    assert_non_null(strstr(out, "\"class\":\"bad-argument\""));
    send_fds(fd, "{\"cmd\":\"echo\",\"dev\":\"x\"}\n", &p[0], 1);
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "echo takes no file descriptor"));
    send_fds(fd, "{\"cmd\":\"help\"}\n", &p[0], 1);
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "help takes no file descriptor"));
    int two[2] = { p[0], p[0] };
    send_fds(fd, "{\"cmd\":\"takefd\",\"dev\":\"x\"}\n", two, 2);
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "takefd takes one file descriptor, not 2"));
    int five[5] = { p[0], p[0], p[0], p[0], p[0] };
    send_fds(fd, "{\"cmd\":\"takefd\",\"dev\":\"x\"}\n", five, 5);
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "too many file descriptors"));
    /* Pipelined: the descriptor goes with the line its message ended in, not with the
     * earlier lines the same read brought; a line's end may follow later. */
    send_str(fd, "{\"cmd\":\"echo\",\"dev\":\"a\"}\n{\"cmd\":\"echo\",");
    send_fds(fd, "\"dev\":\"b\"}\n{\"cmd\":\"takefd\",\"dev\":\"c\"}\n", &p[0], 1);
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"a\""));
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"b\""));
    read_answer(fd, out, sizeof(out));
    assert_string_equal(out, "{\"ok\":true,\"cloexec\":true}\n");
    send_fds(fd, "{\"cmd\":\"takefd\",", &p[0], 1);
    send_str(fd, "\"dev\":\"d\"}\n{\"cmd\":\"echo\",\"dev\":\"e\"}\n");
    read_answer(fd, out, sizeof(out));
    assert_string_equal(out, "{\"ok\":true,\"cloexec\":true}\n");
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "\"dev\":\"e\""));
    /* help says which command takes one. */
    send_str(fd, "{\"cmd\":\"help\"}\n");
    read_answer(fd, out, sizeof(out));
    assert_non_null(strstr(out, "{\"name\":\"takefd\",\"help\":\"test\",\"args\":{"));
    assert_non_null(strstr(out, "}},\"fd\":true}"));
    close(p[0]);
    close(fd);
    ctl_server_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_strict_arguments),
        cmocka_unit_test(test_answers_are_json),
        cmocka_unit_test(test_help_lists_arguments),
        cmocka_unit_test(test_client_build),
        cmocka_unit_test_setup_teardown(test_path_not_clobbered, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_socket_mode, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_peer_credentials, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_client_hangs_up_early, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_clients_served_concurrently, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_client_limit, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_events, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_events_lost, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_fd_passing, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
