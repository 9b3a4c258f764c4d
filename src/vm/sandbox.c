/* Confinement (sandbox.h; docs/architecture.md, "Confinement").
 *
 * Layering. seccomp filters stack per thread and are inherited by the threads a thread
 * creates; TSYNC can only give every thread the caller's filter while no thread has
 * one of its own. So:
 *   1. the main thread, once the VM is set up, loads the *base* filter with TSYNC: the
 *      union of every kind's allowlist. Every thread that exists then (the PF I/O
 *      threads) and every thread created later has it;
 *   2. each thread then adds its own kind's filter (confine_self()): the running I/O
 *      threads when asked through their hand-over, the control, stdin and vCPU threads
 *      when they start, the main thread last, once it created the others.
 * A thread's calls must pass every filter on its stack, so a thread created by another
 * confined thread can only do what its creator's kind allows. That matters once: VF I/O
 * threads are created at run time by the vCPU thread that wrote VF Enable. The vCPU
 * allowlist therefore contains the I/O thread's (when VFs can come up), and the calls
 * that confine a thread (seccomp, capset), so the new I/O thread can narrow itself.
 *
 * Filters are compiled to BPF once, before anything is loaded (libseccomp allocates and
 * is not meant to be shared across threads), and loaded with the raw seccomp() call.
 *
 * A forbidden call (--seccomp=on) traps: SIGSYS runs on_sigsys() on the offending
 * thread, which logs one line (log_error_signalsafe) and ends the process with
 * VPF_EXIT_SECCOMP. Syscall names are resolved into a table beforehand, as
 * seccomp_syscall_resolve_num_arch() allocates. */
#include "vm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/vhost.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "base/iothread.h"
#include "base/log.h"
#include "base/util.h"

#define SYSCALL_NAMES 512
/* O_TMPFILE is this bit plus O_DIRECTORY: refusing it must not refuse opendir(). */
#define OPEN_TMPFILE_BIT (__O_TMPFILE & ~O_DIRECTORY)

static struct sandbox_policy policy;
static struct sock_fprog progs[CONFINE_KINDS], base_prog;
static const char *syscall_names[SYSCALL_NAMES];
static bool filters_on;         /* programs built and to be loaded */
static pid_t own_pid;
static __thread char thread_name[16];

static const char *const kind_names[CONFINE_KINDS] = {
    [CONFINE_MAIN] = "main", [CONFINE_VCPU] = "vcpu",   [CONFINE_IOTHREAD] = "iothread",
    [CONFINE_CTL] = "ctl",   [CONFINE_STDIN] = "stdin", [CONFINE_VDPA_WATCH] = "vdpa-watch",
};

const char *sandbox_kind_name(enum confine_kind kind)
{
    return (unsigned)kind < CONFINE_KINDS ? kind_names[kind] : "?";
}

int sandbox_parse_seccomp(const char *s, enum sandbox_seccomp *mode)
{
    if (!strcmp(s, "on"))
        *mode = SANDBOX_SECCOMP_ON;
    else if (!strcmp(s, "off"))
        *mode = SANDBOX_SECCOMP_OFF;
    else if (!strcmp(s, "log"))
        *mode = SANDBOX_SECCOMP_LOG;
    else
        return -1;
    return 0;
}

/* ---- the SIGSYS reporter (async-signal-safe: write() and _exit() only) ---- */

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        buf[n++] = *s++;
    return n;
}

static size_t put_uint(char *buf, size_t n, size_t cap, unsigned long v)
{
    char digits[24];
    int k = 0;
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < (int)sizeof(digits));
    while (k > 0 && n < cap)
        buf[n++] = digits[--k];
    return n;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char line[200];
    const size_t cap = sizeof(line) - 1;
    int nr = si->si_syscall;
    if (!thread_name[0])
        prctl(PR_GET_NAME, thread_name);    /* allowed for every kind */
    size_t n = put_str(line, 0, cap, "seccomp: thread ");
    n = put_str(line, n, cap, thread_name[0] ? thread_name : "?");
    n = put_str(line, n, cap, " made forbidden system call ");
    n = put_uint(line, n, cap, (unsigned long)(unsigned)nr);
    if (nr >= 0 && nr < SYSCALL_NAMES && syscall_names[nr]) {
        n = put_str(line, n, cap, " (");
        n = put_str(line, n, cap, syscall_names[nr]);
        n = put_str(line, n, cap, ")");
    }
    line[n] = '\0';
    log_error_signalsafe(line);     /* to the log, and to stderr with --log-file */
    /* The system call itself: a sanitizer's _exit interceptor would make calls of its
     * own, under the same filter. */
    syscall(SYS_exit_group, VPF_EXIT_SECCOMP);
    _exit(VPF_EXIT_SECCOMP);
}

/* ---- the allowlists ---- */

static int add_err;

static void add(scmp_filter_ctx c, uint32_t action, int nr, unsigned n,
                const struct scmp_arg_cmp *a)
{
    int r = seccomp_rule_add_array(c, action, nr, n, a);
    if (r < 0 && r != -EEXIST && !add_err) {
        log_error("seccomp: cannot add a rule for system call %d: %s", nr, strerror(-r));
        add_err = r;
    }
}

static void allow(scmp_filter_ctx c, int nr) { add(c, SCMP_ACT_ALLOW, nr, 0, NULL); }

static void allow1(scmp_filter_ctx c, int nr, struct scmp_arg_cmp a)
{
    add(c, SCMP_ACT_ALLOW, nr, 1, &a);
}

static void allow2(scmp_filter_ctx c, int nr, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
    struct scmp_arg_cmp both[2] = { a, b };
    add(c, SCMP_ACT_ALLOW, nr, 2, both);
}

/* ioctl(fd, req) for each request number; the kernel compares the low 32 bits. */
static void allow_ioctls(scmp_filter_ctx c, const unsigned long *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        allow1(c, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, reqs[i]));
}
#define ALLOW_IOCTLS(c, list) allow_ioctls(c, list, ARRAY_SIZE(list))

/* What every thread does: memory (never executable), locks, signals, its own exit,
 * logging, time, and restoring the terminal on exit (fd 0 only). */
static void add_core(scmp_filter_ctx c)
{
    static const int plain[] = {
        SCMP_SYS(read),
        SCMP_SYS(write),
        SCMP_SYS(close),
        SCMP_SYS(futex),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(restart_syscall),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(madvise),
        SCMP_SYS(munmap),
        SCMP_SYS(brk),
        SCMP_SYS(mremap),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(time),     /* vDSO fallbacks */
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(sched_yield),
        SCMP_SYS(sched_getaffinity),
        SCMP_SYS(getrandom),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(rseq),
        SCMP_SYS(set_robust_list),
    };
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        allow(c, plain[i]);
    allow1(c, SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    allow1(c, SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* Signals only within vpf: pthread_kill (vCPU kicks), raise/abort. */
    allow1(c, SCMP_SYS(tgkill), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)own_pid));
    allow1(c, SCMP_SYS(prctl), SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    allow1(c, SCMP_SYS(prctl), SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
    allow2(c, SCMP_SYS(ioctl), SCMP_A0(SCMP_CMP_EQ, STDIN_FILENO),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TCGETS));
    allow2(c, SCMP_SYS(ioctl), SCMP_A0(SCMP_CMP_EQ, STDIN_FILENO),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TCSETS));
}

/* Creating threads: clone() with CLONE_THREAD only (no new processes); clone3()'s flags
 * are in memory, where seccomp cannot see them, so it answers ENOSYS and glibc falls
 * back to clone(). */
static void add_threads(scmp_filter_ctx c)
{
    allow1(c, SCMP_SYS(clone), SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    add(c, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
}

/* A thread created here confines itself (sandbox_confine_self). */
static void add_confining(scmp_filter_ctx c)
{
    allow1(c, SCMP_SYS(seccomp), SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
    allow(c, SCMP_SYS(capget));
    allow(c, SCMP_SYS(capset));
    allow1(c, SCMP_SYS(prctl), SCMP_A0(SCMP_CMP_EQ, PR_CAPBSET_DROP));
}

/* The MSI routes, irqfds and doorbells a guest changes at run time (vCPU threads), and
 * their teardown (main thread). */
static const unsigned long kvm_route_ioctls[] = {
    KVM_SET_GSI_ROUTING,
    KVM_IRQFD,
    KVM_IOEVENTFD,
};

/* The offloads a driver negotiated go to its tap when it sets DRIVER_OK and are taken
 * back on reset, both on the vCPU thread that wrote the status (and on the main thread
 * at teardown): virtio_net.c vnet_activate/vnet_reset. */
static const unsigned long tap_feature_ioctls[] = { TUNSETOFFLOAD };

static const unsigned long vhost_ioctls[] = {
    VHOST_GET_FEATURES,         VHOST_SET_FEATURES,         VHOST_SET_OWNER,
    VHOST_RESET_OWNER,          VHOST_SET_MEM_TABLE,        VHOST_SET_VRING_NUM,
    VHOST_SET_VRING_ADDR,       VHOST_SET_VRING_BASE,       VHOST_GET_VRING_BASE,
    VHOST_SET_VRING_KICK,       VHOST_SET_VRING_CALL,       VHOST_SET_VRING_ERR,
    VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES, VHOST_NET_SET_BACKEND,
};

/* ---- vhost-vdpa (src/backend/vhost_vdpa.c, vdpa_netlink.c, vdpa_monitor.c): what its
 * backend does where the vhost-net backend does its work, i.e. on the threads that run
 * VF Enable/Disable (vCPU), start and stop the data path (I/O thread) and tear down
 * (main). ---- */
static const unsigned long vhost_vdpa_ioctls[] = {
    VHOST_VDPA_GET_DEVICE_ID,   VHOST_VDPA_GET_STATUS,      VHOST_VDPA_SET_STATUS,
    VHOST_VDPA_GET_CONFIG,      VHOST_VDPA_SET_CONFIG,      VHOST_VDPA_SET_VRING_ENABLE,
    VHOST_VDPA_GET_VRING_NUM,   VHOST_VDPA_SET_CONFIG_CALL, VHOST_VDPA_GET_IOVA_RANGE,
    VHOST_VDPA_GET_CONFIG_SIZE, VHOST_VDPA_GET_VQS_COUNT,   VHOST_VDPA_GET_GROUP_NUM,
    VHOST_VDPA_GET_AS_NUM,      VHOST_VDPA_GET_VRING_GROUP, VHOST_VDPA_SET_GROUP_ASID,
#ifdef VHOST_VDPA_SUSPEND
    VHOST_VDPA_SUSPEND,
#endif
#ifdef VHOST_VDPA_RESUME
    VHOST_VDPA_RESUME,
#endif
};

static void add_vdpa(scmp_filter_ctx c)
{
    ALLOW_IOCTLS(c, vhost_vdpa_ioctls);
    /* IOTLB updates are write()s of struct vhost_msg_v2 to the device fd (core). The
     * vdpa tool's interface: generic netlink (device add/del, attributes). */
    allow2(c, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
           SCMP_A2(SCMP_CMP_EQ, NETLINK_GENERIC));
    static const int net[] = {
        SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),     SCMP_SYS(sendto),     SCMP_SYS(recvfrom),
        SCMP_SYS(bind),    SCMP_SYS(getsockname), SCMP_SYS(setsockopt),
    };
    for (size_t i = 0; i < ARRAY_SIZE(net); i++)
        allow(c, net[i]);
    /* Pinned guest memory counts against RLIMIT_MEMLOCK: raised for vpf itself only. */
    /* Opening /dev/vhost-vdpa-N: its sysfs node (readlink), the devices of a vDPA device
     * (getdents64), the removal watch (inotify, and access() after an overflow). */
    static const int files[] = {
        SCMP_SYS(readlink),      SCMP_SYS(readlinkat),        SCMP_SYS(getdents64),
        SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(access),
        SCMP_SYS(faccessat),     SCMP_SYS(faccessat2),
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        allow(c, files[i]);
    allow1(c, SCMP_SYS(setrlimit), SCMP_A0(SCMP_CMP_EQ, RLIMIT_MEMLOCK));
    allow1(c, SCMP_SYS(getrlimit), SCMP_A0(SCMP_CMP_EQ, RLIMIT_MEMLOCK));
    allow2(c, SCMP_SYS(prlimit64), SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_EQ, RLIMIT_MEMLOCK));
}
/* ---- end of vhost-vdpa ---- */

/* ---- vhost-user (src/backend/vhost_user.c, vhost_user_proto.c), only when some device
 * uses it: the front-end's socket to the switch, on the threads that open it (setup,
 * the vCPU thread of VF Enable), reconnect it and send the ring messages (I/O thread)
 * and close it at teardown (main): an AF_UNIX stream socket connected (client) or
 * accepted from a listening one (server, made at VF Enable: bind, listen, and unlink
 * of a stale socket or of its own at VF Disable), messages with SCM_RIGHTS descriptors
 * (sendmsg/recvmsg; recv(MSG_PEEK) is recvfrom), poll() for a reply's deadline. ---- */
static void add_vhost_user(scmp_filter_ctx c)
{
    allow2(c, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
    static const int plain[] = {
        SCMP_SYS(connect),   SCMP_SYS(accept4),         SCMP_SYS(bind),       SCMP_SYS(listen),
        SCMP_SYS(sendmsg),   SCMP_SYS(recvmsg),         SCMP_SYS(recvfrom),   SCMP_SYS(poll),
        SCMP_SYS(ppoll),     SCMP_SYS(unlink),          SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
        SCMP_SYS(epoll_ctl), SCMP_SYS(timerfd_settime),
    };
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        allow(c, plain[i]);
}
/* ---- end of vhost-user ---- */

/* A device's data path: epoll loop, packets to and from the backend, its timers,
 * SCHED_BATCH, and the offloaded backend's start/stop/link (vhost ioctls, the tap's
 * offloads and liveness). */
static void add_iothread(scmp_filter_ctx c)
{
    static const int plain[] = {
        SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait),
        SCMP_SYS(epoll_ctl),
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(timerfd_settime),
        SCMP_SYS(sched_setscheduler),
        SCMP_SYS(sched_getscheduler),
        SCMP_SYS(sched_getparam),
        SCMP_SYS(sched_get_priority_min),
        SCMP_SYS(sched_get_priority_max),
    };
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        allow(c, plain[i]);
    /* TUNSETQUEUE: a multi-queue tap's queues follow VQ_PAIRS_SET (net_io.c). */
    static const unsigned long tun[] = { TUNSETOFFLOAD, TUNGETIFF, TUNSETQUEUE };
    ALLOW_IOCTLS(c, tun);
    ALLOW_IOCTLS(c, vhost_ioctls);
    add_vdpa(c);
    if (policy.vhost_user)
        add_vhost_user(c);
}

/* VF Enable/Disable on a vCPU thread (src/net/vf.c): open a tap (/dev/net/tun, TUN*
 * ioctls, link up through an AF_INET socket, if_nametoindex through AF_UNIX) or
 * /dev/vhost-net, eventfds, timerfds, an epoll set and an I/O thread per VF; and what
 * that I/O thread needs (it is born with this filter). */
static void add_vf_enable(scmp_filter_ctx c)
{
    allow1(c, SCMP_SYS(openat),
           SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | O_APPEND | OPEN_TMPFILE_BIT, 0));
    allow2(c, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
    allow2(c, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
    static const unsigned long net[] = {
        TUNGETFEATURES, TUNSETIFF,    TUNSETVNETHDRSZ, TUNSETOFFLOAD,
        TUNGETIFF,      SIOCGIFINDEX, SIOCGIFFLAGS,    SIOCSIFFLAGS,
    };
    ALLOW_IOCTLS(c, net);
    /* A tap handed over the control socket (vf-tap): VF Enable duplicates the manager's
     * fd for the VF's backend, which makes it non-blocking and close-on-exec. */
    static const int fcntl_cmds[] = { F_DUPFD_CLOEXEC, F_GETFL, F_SETFL, F_SETFD };
    for (size_t i = 0; i < ARRAY_SIZE(fcntl_cmds); i++)
        allow1(c, SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]));
    allow(c, SCMP_SYS(timerfd_create));
    allow(c, SCMP_SYS(epoll_create1));
    add_threads(c);
    add_confining(c);
    add_iothread(c);
}

/* sd_notify() (libsystemd 252, vm/notify.c) on the main thread: a new AF_UNIX datagram
 * socket, its send buffer raised (SO_SNDBUF, SO_SNDBUFFORCE), the caller's ids (it
 * sends credentials only if they differ), sendmsg to NOTIFY_SOCKET, close. */
static void add_notify(scmp_filter_ctx c)
{
    allow2(c, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
           SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
    allow2(c, SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
           SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF));
    allow2(c, SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
           SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF));
    allow2(c, SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
           SCMP_A2(SCMP_CMP_EQ, SO_SNDBUFFORCE));
    static const int plain[] = {
        SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(sendmsg),
    };
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        allow(c, plain[i]);
}

static void add_kind(scmp_filter_ctx c, enum confine_kind kind)
{
    add_core(c);
    switch (kind) {
    case CONFINE_MAIN: {
        /* Wait for the stop request, kick the vCPUs (tgkill), join the threads, tear
         * the devices down (routes, doorbells, offloaded backends, VFs, the taps'
         * offloads reset), remove the control socket; tell a service manager that
         * the VM runs and that it stops. */
        allow(c, SCMP_SYS(unlink));
        allow(c, SCMP_SYS(epoll_ctl));
        ALLOW_IOCTLS(c, kvm_route_ioctls);
        ALLOW_IOCTLS(c, tap_feature_ioctls);
        ALLOW_IOCTLS(c, vhost_ioctls);
        add_vdpa(c);
        if (policy.vhost_user)
            add_vhost_user(c);
        if (policy.notify)
            add_notify(c);
        break;
    }
    case CONFINE_VCPU: {
        static const unsigned long kvm[] = { KVM_RUN, KVM_IRQ_LINE };
        ALLOW_IOCTLS(c, kvm);
        ALLOW_IOCTLS(c, kvm_route_ioctls);
        ALLOW_IOCTLS(c, tap_feature_ioctls);
        allow(c, SCMP_SYS(eventfd2));       /* MSI routes' irqfds */
        if (policy.vfs)
            add_vf_enable(c);
        break;
    }
    case CONFINE_IOTHREAD:
        add_iothread(c);
        break;
    case CONFINE_CTL: {
        static const int plain[] = {
            SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),  SCMP_SYS(accept4),
            SCMP_SYS(recvfrom),   SCMP_SYS(sendto),      SCMP_SYS(getsockopt), SCMP_SYS(lseek),
            SCMP_SYS(getuid),     SCMP_SYS(geteuid),     SCMP_SYS(getgid),     SCMP_SYS(getegid),
            SCMP_SYS(recvmsg),      /* requests, with a descriptor (SCM_RIGHTS) for vf-tap */
        };
        for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
            allow(c, plain[i]);
        /* powerdown: GED0's interrupt line (vm_press_power_button); vf-tap checks the tap. */
        static const unsigned long ioctls[] = { KVM_IRQ_LINE, TUNGETIFF };
        ALLOW_IOCTLS(c, ioctls);
        /* Read-only files: the tap counters in sysfs (vhost-net), jansson's seed. */
        allow1(c, SCMP_SYS(openat),
               SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | OPEN_TMPFILE_BIT,
                       O_RDONLY));
        break;
    }
    case CONFINE_STDIN:
        allow(c, SCMP_SYS(poll));
        allow(c, SCMP_SYS(ppoll));
        break;
    case CONFINE_VDPA_WATCH:
        /* read() the inotify fd, access() after an overflow, wake an I/O thread or
         * close an idle device's fd (vd_removed). Created on a vCPU thread by the first
         * VF Enable that opens a vDPA device (or during setup, by a vhost-vdpa PF: then
         * it starts before the hook is set and keeps the base filter only). */
        allow(c, SCMP_SYS(access));
        allow(c, SCMP_SYS(faccessat));
        allow(c, SCMP_SYS(faccessat2));
        break;
    default:
        break;
    }
}

/* Compiles ctx to BPF in memory (libseccomp 2.5 exports only to a file descriptor). */
static int export_prog(scmp_filter_ctx c, struct sock_fprog *prog)
{
    int fd = memfd_create("vpf-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_export_bpf(c, fd);
    off_t len = r == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (r == 0 && (len <= 0 || len % sizeof(struct sock_filter) ||
                   len / sizeof(struct sock_filter) > BPF_MAXINSNS))
        r = -E2BIG;
    struct sock_filter *insns = r == 0 ? malloc((size_t)len) : NULL;
    if (r == 0 && (!insns || pread(fd, insns, (size_t)len, 0) != len))
        r = -EIO;
    close(fd);
    if (r < 0) {
        free(insns);
        return r;
    }
    prog->len = (unsigned short)(len / sizeof(struct sock_filter));
    prog->filter = insns;
    return 0;
}

static scmp_filter_ctx new_ctx(void)
{
    uint32_t def = policy.seccomp == SANDBOX_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
    scmp_filter_ctx c = seccomp_init(def);
    if (!c)
        return NULL;
    /* no_new_privs is set once for the process (sandbox_enter); other architectures
     * (i386, x32 system calls) end the process at once. */
    if (seccomp_attr_set(c, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
        seccomp_attr_set(c, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) {
        seccomp_release(c);
        return NULL;
    }
    return c;
}

int sandbox_prepare(const struct sandbox_policy *p, char *err, size_t errlen)
{
    policy = *p;
    own_pid = getpid();
    filters_on = false;
    if (p->seccomp == SANDBOX_SECCOMP_OFF)
        return 0;
    for (int nr = 0; nr < SYSCALL_NAMES; nr++)
        if (!syscall_names[nr])
            syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    add_err = 0;
    scmp_filter_ctx base = new_ctx();
    int r = base ? 0 : -ENOMEM;
    for (int k = 0; r == 0 && k < CONFINE_KINDS; k++) {
        scmp_filter_ctx c = new_ctx();
        if (!c) {
            r = -ENOMEM;
            break;
        }
        add_kind(c, (enum confine_kind)k);
        add_kind(base, (enum confine_kind)k);
        r = add_err ? add_err : export_prog(c, &progs[k]);
        seccomp_release(c);
    }
    /* The main thread creates the others after the base filter is in; glibc installs
     * its SIGCANCEL and SIGSETXID handlers at the process's first pthread_create. */
    add_threads(base);
    add_confining(base);
    allow(base, SCMP_SYS(rt_sigaction));
    /* The control thread makes its epoll set before it confines itself. */
    allow(base, SCMP_SYS(epoll_create1));
    if (r == 0)
        r = add_err ? add_err : export_prog(base, &base_prog);
    if (base)
        seccomp_release(base);
    if (r < 0) {
        snprintf(err, errlen, "seccomp: cannot build the filters: %s", strerror(-r));
        return -1;
    }
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        snprintf(err, errlen, "seccomp: SIGSYS handler: %s", strerror(errno));
        return -1;
    }
    filters_on = true;
    return 0;
}

static int load_prog(const struct sock_fprog *prog, unsigned flags, char *err, size_t errlen)
{
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
    if (r > 0) {
        snprintf(err, errlen, "seccomp: thread %ld could not be synchronised", r);
        return -1;
    }
    if (r < 0) {
        snprintf(err, errlen, "seccomp: cannot load a filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sandbox_load_base(bool all_threads, char *err, size_t errlen)
{
    if (!filters_on)
        return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    return load_prog(&base_prog, all_threads ? SECCOMP_FILTER_FLAG_TSYNC : 0, err, errlen);
}

/* ---- capabilities ---- */

static uint64_t kind_caps(enum confine_kind kind)
{
    /* Creating a VF's tap (TUNSETIFF on a new name) and bringing its link up
     * (SIOCSIFFLAGS), or its vDPA device, need CAP_NET_ADMIN; nothing else vpf does
     * after setup needs a capability. The main thread keeps it until it created the
     * vCPU threads. */
    if (policy.vfs && (kind == CONFINE_VCPU || kind == CONFINE_KINDS))
        return BIT(CAP_NET_ADMIN);
    /* vDPA devices vpf made for VFs (vdpa netlink "dev add", an admin operation) are
     * deleted at exit by the main thread if the guest left its VFs enabled. */
    if (policy.vdpa_vfs && kind == CONFINE_MAIN)
        return BIT(CAP_NET_ADMIN);
    return 0;
}

/* The calling thread keeps at most `keep` (permitted and effective), nothing
 * inheritable or ambient, and a bounding set of `keep` where it may still change it. */
static int caps_limit(uint64_t keep)
{
    for (unsigned cap = 0; cap < 64; cap++)
        if (!(keep & BIT(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
            break; /* past the last capability this kernel knows */
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    uint64_t permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
    uint64_t have = permitted & keep;
    memset(d, 0, sizeof(d));
    d[0].permitted = d[0].effective = (uint32_t)have;
    d[1].permitted = d[1].effective = (uint32_t)(have >> 32);
    h = (struct __user_cap_header_struct){ .version = _LINUX_CAPABILITY_VERSION_3 };
    return (int)syscall(SYS_capset, &h, d);
}

void sandbox_confine_self(enum confine_kind kind)
{
    /* Once per thread: an I/O thread started during setup may reach its own call after
     * the hook is set and also be asked by iothread_confine_all(). */
    static __thread bool confined;
    if (confined)
        return;
    confined = true;
    prctl(PR_GET_NAME, thread_name);
    if (caps_limit(kind_caps(kind)) < 0) {
        log_error("thread %s: cannot drop capabilities: %s", thread_name, strerror(errno));
        _exit(VPF_EXIT_SECCOMP);
    }
    char err[160];
    if (filters_on && load_prog(&progs[kind], 0, err, sizeof(err)) < 0) {
        log_error("thread %s: cannot confine it as %s: %s", thread_name, sandbox_kind_name(kind),
                  err);
        _exit(VPF_EXIT_SECCOMP);
    }
}

static int switch_user(const struct sandbox_policy *p)
{
    /* The main thread keeps its permitted capabilities across setuid (KEEPCAPS) to hand
     * CAP_NET_ADMIN to the vCPU threads; the bounding set is cut while it still may. */
    uint64_t keep = kind_caps(CONFINE_KINDS);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return -1;
    for (unsigned cap = 0; cap < 64; cap++)
        if (!(keep & BIT(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
            break;
    /* glibc applies these to every thread of the process. */
    if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
        return -1;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return -1;
    return 0;
}

/* As high as vpf may set it, while it still has CAP_SYS_RESOURCE (vhost_vdpa.c
 * reserve_memlock does the same for each device, and names the limit if too low). */
static void raise_memlock(void)
{
    struct rlimit rl, inf = { RLIM_INFINITY, RLIM_INFINITY };
    if (setrlimit(RLIMIT_MEMLOCK, &inf) == 0 || getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_MEMLOCK, &rl);
    }
}

int sandbox_enter(const struct sandbox_policy *p, char *err, size_t errlen)
{
    struct sandbox_policy pol = *p;
#ifdef VPF_SANITIZER_BUILD
    /* ASan/UBSan runtimes make system calls of their own (shadow memory, reports,
     * LeakSanitizer's tracer thread at exit) that no allowlist should contain: sanitizer
     * builds run without the filters. Capabilities, no_new_privs and --user still apply. */
    if (pol.seccomp != SANDBOX_SECCOMP_OFF)
        log_info("seccomp: not installed in a sanitizer build");
    pol.seccomp = SANDBOX_SECCOMP_OFF;
#endif
    if (sandbox_prepare(&pol, err, errlen) < 0)
        return -1;
    /* jansson seeds its hash function from /dev/urandom when the process builds its
     * first object: now, not on whichever confined thread publishes the first event. */
    json_object_seed(0);
    if (pol.vdpa_vfs)
        raise_memlock();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    if (pol.switch_user && switch_user(&pol) < 0) {
        snprintf(err, errlen, "--user: cannot switch to uid %u gid %u: %s", (unsigned)pol.uid,
                 (unsigned)pol.gid, strerror(errno));
        return -1;
    }
    if (caps_limit(kind_caps(CONFINE_KINDS)) < 0) {
        snprintf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    if (sandbox_load_base(true, err, errlen) < 0)
        return -1;
    confine_hook = sandbox_confine_self;
    iothread_confine_all();
    if (filters_on)
        log_debug("seccomp: filters %s", pol.seccomp == SANDBOX_SECCOMP_LOG ? "logging" : "on");
    return 0;
}
