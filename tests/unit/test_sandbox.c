/* The seccomp filters themselves (src/vm/sandbox.c): a forked child builds them, loads
 * the base filter and confines itself as one thread kind, then makes system calls. An
 * allowed call returns; a forbidden one ends the child with VPF_EXIT_SECCOMP and one
 * line naming the thread and the call. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vm/notify.h"
#include "vm/sandbox.h"

struct child {
    enum confine_kind kind;
    enum sandbox_seccomp mode;
    bool vfs;
    const char *name;               /* the thread's name */
    int (*body)(void);              /* after confinement; its result is the exit status */
    bool threaded;                  /* a thread was created before (as in vpf) */
    bool notify;                    /* policy.notify: under a service manager */
};
/* policy.vhost_user for the next run(): some device is on vhost-user. */
static bool child_vhost_user;

struct outcome {
    int status;                     /* waitpid's */
    char err[512];                  /* the child's stderr */
};

static void *noop(void *arg) { return arg; }

static void run(const struct child *c, struct outcome *o)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        prctl(PR_SET_NAME, c->name);
        pthread_t t;
        /* glibc installs its own signal handlers at a process's first pthread_create:
         * in vpf that is long before the filters. */
        if (c->threaded &&
            (pthread_create(&t, NULL, noop, NULL) != 0 || pthread_join(t, NULL) != 0))
            _exit(101);
        struct sandbox_policy pol = { .seccomp = c->mode,
                                      .vfs = c->vfs,
                                      .notify = c->notify,
                                      .vhost_user = child_vhost_user };
        if (sandbox_prepare(&pol, NULL, 0) < 0 || sandbox_load_base(false, NULL, 0) < 0)
            syscall(SYS_exit_group, 100);
        sandbox_confine_self(c->kind);
        /* Not _exit(): a sanitizer's interceptor would make calls the filter forbids. */
        syscall(SYS_exit_group, c->body());
        _exit(102);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(p[0], o->err + n, sizeof(o->err) - 1 - n)) > 0)
        n += (size_t)r;
    o->err[n] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &o->status, 0), pid);
}

static void expect_exit(const struct outcome *o, int code)
{
    if (!WIFEXITED(o->status) || WEXITSTATUS(o->status) != code)
        fail_msg("child status %#x, expected exit %d; stderr: %s", o->status, code, o->err);
}

static void expect_killed(const struct outcome *o, const char *line)
{
    expect_exit(o, VPF_EXIT_SECCOMP);
    assert_string_equal(o->err, line);
}

/* vCPU: KVM_RUN is allowed (on a bad fd it just fails), and TUNSETOFFLOAD (a driver's
 * DRIVER_OK or reset sets its tap's offloads, VFs or not); a socket is not. */
static int vcpu_body(void)
{
    if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
        return 10;
    if (ioctl(-1, TUNSETOFFLOAD, 0) != -1 || errno != EBADF)
        return 11;
    socket(AF_INET, SOCK_STREAM, 0);
    return 0;
}

static void test_vcpu_socket_forbidden(void **state)
{
    struct child c = { CONFINE_VCPU, SANDBOX_SECCOMP_ON, false, "vcpu0", vcpu_body, false, false };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread vcpu0 made forbidden system call 41 (socket)\n");
}

/* The control thread may not run a vCPU: ioctl is filtered by request number. */
static int ctl_body(void)
{
    ioctl(-1, KVM_RUN, 0);
    return 0;
}

static void test_ctl_kvm_run_forbidden(void **state)
{
    struct child c = { CONFINE_CTL, SANDBOX_SECCOMP_ON, false, "ctl", ctl_body, false, false };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread ctl made forbidden system call 16 (ioctl)\n");
}

/* vf-tap: the control thread receives a descriptor (recvmsg) and checks it is a tap
 * (TUNGETIFF); a vCPU thread with VFs duplicates it at VF Enable (F_DUPFD_CLOEXEC) and
 * adopts it (F_GETFL, F_SETFL, F_SETFD), but may not dup it any other way. */
static int ctl_fd_body(void)
{
    struct msghdr mh = { 0 };
    if (recvmsg(-1, &mh, MSG_DONTWAIT) != -1 || errno != EBADF)
        return 10;
    if (ioctl(-1, TUNGETIFF, 0) != -1 || errno != EBADF)
        return 11;
    return 0;
}

static int vcpu_fd_body(void)
{
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    int fl = fcntl(fd, F_GETFL);
    if (fd < 0 || fl < 0 || fcntl(fd, F_SETFL, fl) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return 10;
    fcntl(fd, F_DUPFD, 3);
    return 0;
}

static void test_handed_tap_calls(void **state)
{
    struct child c = { CONFINE_CTL, SANDBOX_SECCOMP_ON, false, "ctl", ctl_fd_body, false, false };
    struct outcome o;
    run(&c, &o);
    expect_exit(&o, 0);
    c = (struct child){
        CONFINE_VCPU, SANDBOX_SECCOMP_ON, true, "vcpu0", vcpu_fd_body, false, false
    };
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread vcpu0 made forbidden system call 72 (fcntl)\n");
}

/* Memory may be mapped read/write, never executable. */
static int iothread_body(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 10;
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    return 0;
}

static void test_iothread_exec_forbidden(void **state)
{
    struct child c = {
        CONFINE_IOTHREAD, SANDBOX_SECCOMP_ON, false, "net0vf1", iothread_body, false, false
    };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o,
                  "vpf: error: seccomp: thread net0vf1 made forbidden system call 10 (mprotect)\n");
}

/* Only allowed calls: the child ends normally. */
static int stdin_body(void)
{
    char buf[1];
    if (getpid() <= 0 || write(STDERR_FILENO, "ok\n", 3) != 3)
        return 10;
    struct timespec ts = { 0, 1000 };
    nanosleep(&ts, NULL);
    (void)!read(-1, buf, 1);
    return 0;
}

static void test_stdin_allowed(void **state)
{
    struct child c = {
        CONFINE_STDIN, SANDBOX_SECCOMP_ON, false, "stdin", stdin_body, false, false
    };
    struct outcome o;
    run(&c, &o);
    expect_exit(&o, 0);
    assert_string_equal(o.err, "ok\n");
}

/* With VFs a vCPU thread opens taps (AF_INET socket for the link) but never a packet
 * socket, and creates threads but not processes. */
static int vcpu_vfs_socket_body(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 10;
    close(s);
    socket(AF_PACKET, SOCK_RAW, 0);
    return 0;
}

/* VF Enable opens device nodes and lists sysfs directories (vhost-vdpa), never
 * creates a file. */
static int vcpu_vfs_open_body(void)
{
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 10;
    close(fd);
    open("/tmp/vpf-sandbox-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    return 0;
}

static void test_vcpu_vfs_create_forbidden(void **state)
{
    struct child c = { CONFINE_VCPU, SANDBOX_SECCOMP_ON, true, "vcpu2", vcpu_vfs_open_body, false,
                       false };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o,
                  "vpf: error: seccomp: thread vcpu2 made forbidden system call 257 (openat)\n");
}

static void test_vcpu_vfs_packet_socket_forbidden(void **state)
{
    struct child c = { CONFINE_VCPU, SANDBOX_SECCOMP_ON, true, "vcpu1", vcpu_vfs_socket_body, false,
                       false };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread vcpu1 made forbidden system call 41 (socket)\n");
}

static int vcpu_fork_body(void)
{
    syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    return 0;
}

static void test_vcpu_fork_forbidden(void **state)
{
    struct child c = {
        CONFINE_VCPU, SANDBOX_SECCOMP_ON, true, "vcpu0", vcpu_fork_body, false, false
    };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread vcpu0 made forbidden system call 56 (clone)\n");
}

/* A VF's I/O thread is created by a confined vCPU thread and confines itself further. */
static void *vf_iothread(void *arg)
{
    sandbox_confine_self(CONFINE_IOTHREAD);
    int *ok = arg;
    *ok = 1;
    return NULL;
}

static int vcpu_thread_body(void)
{
    pthread_t t;
    int ok = 0;
    if (pthread_create(&t, NULL, vf_iothread, &ok) != 0 || pthread_join(t, NULL) != 0)
        return 10;
    return ok ? 0 : 11;
}

static void test_vcpu_creates_confined_iothread(void **state)
{
#ifdef VPF_SANITIZER_BUILD
    skip();     /* the sanitizer's thread interceptors make calls of their own */
#endif
    struct child c = { CONFINE_VCPU, SANDBOX_SECCOMP_ON, true, "vcpu0", vcpu_thread_body, true,
                       false };
    struct outcome o;
    run(&c, &o);
    expect_exit(&o, 0);
}

/* --seccomp=log: a forbidden call goes through (the kernel logs it). */
static int log_body(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    return s >= 0 ? 0 : 10;
}

static void test_log_mode_allows(void **state)
{
    struct child c = { CONFINE_STDIN, SANDBOX_SECCOMP_LOG, false, "stdin", log_body, false, false };
    struct outcome o;
    run(&c, &o);
    expect_exit(&o, 0);
}

/* The main thread tells a service manager it is ready and stopping (vm/notify.c) only
 * when one listens: AF_UNIX datagrams then, nothing else. */
static char notify_path[108];

static int main_notify_body(void)
{
    if (notify_ready("running") < 0 || notify_stopping("stopping") < 0)
        return 10;
    socket(AF_INET, SOCK_DGRAM, 0);
    return 0;
}

static void test_main_notify_allowed(void **state)
{
#ifndef VPF_HAVE_LIBSYSTEMD
    skip();
#endif
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(notify_path, sizeof(notify_path), "/tmp/vpf-test-notify-%d", (int)getpid());
    strcpy(a.sun_path, notify_path);
    unlink(notify_path);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    setenv("NOTIFY_SOCKET", notify_path, 1);
    struct child c = {
        CONFINE_MAIN, SANDBOX_SECCOMP_ON, false, "vpf", main_notify_body, false, true
    };
    struct outcome o;
    run(&c, &o);
    unsetenv("NOTIFY_SOCKET");
    char msg[256];
    ssize_t n = recv(s, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    msg[n] = '\0';
    assert_string_equal(msg, "READY=1\nSTATUS=running");
    n = recv(s, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    msg[n] = '\0';
    assert_string_equal(msg, "STOPPING=1\nSTATUS=stopping");
    close(s);
    unlink(notify_path);
    expect_killed(&o, "vpf: error: seccomp: thread vpf made forbidden system call 41 (socket)\n");
}

static int main_unix_socket_body(void)
{
    socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return 0;
}

static void test_main_without_notify_no_socket(void **state)
{
    struct child c = { CONFINE_MAIN, SANDBOX_SECCOMP_ON, false, "vpf", main_unix_socket_body, false,
                       false };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread vpf made forbidden system call 41 (socket)\n");
}

/* vhost-user: an I/O thread reconnects to its switch (an AF_UNIX stream socket,
 * connect, SCM_RIGHTS messages), only when some device uses vhost-user. */
static int iothread_vhost_user_body(void)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 10;
    struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/nonexistent/vpf-test.sock" };
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != -1 || errno != ENOENT)
        return 11;
    struct msghdr mh = { 0 };
    if (sendmsg(s, &mh, MSG_NOSIGNAL) != -1 || recvmsg(s, &mh, MSG_DONTWAIT) != -1)
        return 12;
    close(s);
    socket(AF_INET, SOCK_STREAM, 0);
    return 0;
}

static void test_iothread_vhost_user(void **state)
{
    struct child c = { CONFINE_IOTHREAD,
                       SANDBOX_SECCOMP_ON,
                       false,
                       "net0vf0",
                       iothread_vhost_user_body,
                       false,
                       false };
    struct outcome o;
    child_vhost_user = true;
    run(&c, &o);
    child_vhost_user = false;
    expect_killed(&o,
                  "vpf: error: seccomp: thread net0vf0 made forbidden system call 41 (socket)\n");
}

static int unix_stream_body(void)
{
    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return 0;
}

static void test_iothread_without_vhost_user(void **state)
{
    struct child c = {
        CONFINE_IOTHREAD, SANDBOX_SECCOMP_ON, false, "net0", unix_stream_body, false, false
    };
    struct outcome o;
    run(&c, &o);
    expect_killed(&o, "vpf: error: seccomp: thread net0 made forbidden system call 41 (socket)\n");
}

static void test_parse(void **state)
{
    enum sandbox_seccomp m;
    assert_int_equal(sandbox_parse_seccomp("on", &m), 0);
    assert_int_equal(m, SANDBOX_SECCOMP_ON);
    assert_int_equal(sandbox_parse_seccomp("off", &m), 0);
    assert_int_equal(m, SANDBOX_SECCOMP_OFF);
    assert_int_equal(sandbox_parse_seccomp("log", &m), 0);
    assert_int_equal(m, SANDBOX_SECCOMP_LOG);
    assert_int_equal(sandbox_parse_seccomp("yes", &m), -1);
    assert_int_equal(sandbox_parse_seccomp("", &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vcpu_socket_forbidden),
        cmocka_unit_test(test_ctl_kvm_run_forbidden),
        cmocka_unit_test(test_handed_tap_calls),
        cmocka_unit_test(test_iothread_exec_forbidden),
        cmocka_unit_test(test_stdin_allowed),
        cmocka_unit_test(test_vcpu_vfs_packet_socket_forbidden),
        cmocka_unit_test(test_vcpu_vfs_create_forbidden),
        cmocka_unit_test(test_vcpu_fork_forbidden),
        cmocka_unit_test(test_vcpu_creates_confined_iothread),
        cmocka_unit_test(test_log_mode_allows),
        cmocka_unit_test(test_main_notify_allowed),
        cmocka_unit_test(test_main_without_notify_no_socket),
        cmocka_unit_test(test_iothread_vhost_user),
        cmocka_unit_test(test_iothread_without_vhost_user),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
