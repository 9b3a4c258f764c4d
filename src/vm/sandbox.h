/* Confinement once the VM is set up (docs/architecture.md, "Confinement"): seccomp-bpf
 * allowlists per thread kind (libseccomp), no_new_privs, the capabilities each thread
 * kind needs, and --user.
 *
 * Threads: sandbox_enter() runs once on the main thread at the end of setup; from then
 * on each thread calls sandbox_confine_self() for itself (through confine_hook). The
 * filters are built before any is loaded and only read afterwards: no locks. */
#ifndef VPF_VM_SANDBOX_H
#define VPF_VM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/confine.h"
#include "base/exit.h"

enum sandbox_seccomp {
    SANDBOX_SECCOMP_ON,     /* a forbidden call: log line, exit VPF_EXIT_SECCOMP (default) */
    SANDBOX_SECCOMP_OFF,    /* no filter */
    SANDBOX_SECCOMP_LOG,    /* forbidden calls are allowed and logged by the kernel (audit) */
};

struct sandbox_policy {
    enum sandbox_seccomp seccomp;
    /* Some PF can bring up VFs: vCPU threads open taps or vhost devices at run time
     * (VF Enable), and keep CAP_NET_ADMIN to create the VF taps. */
    bool vfs;
    /* Some VFs are on vhost-vdpa, which pins guest RAM: RLIMIT_MEMLOCK is raised
     * during setup, while vpf may (CAP_SYS_RESOURCE), not when VF Enable opens them. */
    bool vdpa_vfs;
    /* Some device (PF or VFs) is on vhost-user: the I/O, vCPU (with VFs) and main
     * threads speak to its switch over an AF_UNIX stream socket (sandbox.c). */
    bool vhost_user;
    /* vpf reports to a service manager (NOTIFY_SOCKET, vm/notify.h): the main thread
     * sends its READY=1 and STOPPING=1 datagrams over AF_UNIX after confinement. */
    bool notify;
    /* --user: switch to uid/gid (supplementary groups: gid only) after setup. */
    bool switch_user;
    uid_t uid;
    gid_t gid;
};

/* "on", "off", "log" -> mode; -1 for anything else. */
int sandbox_parse_seccomp(const char *s, enum sandbox_seccomp *mode);

/* Main thread, once the VM is set up and before the guest runs, with every thread that
 * exists so far (device I/O threads) still unconfined: no_new_privs, --user, the main
 * thread's capabilities for creating the others, the process-wide base filter (the
 * union of every kind's allowlist, synchronised to all threads with TSYNC), and every
 * running I/O thread confined to its kind. From then on confine_self() in a new thread
 * narrows it to its kind. Returns 0, or -1 with the reason in err. */
int sandbox_enter(const struct sandbox_policy *p, char *err, size_t errlen);

/* The confine_hook: the calling thread drops to its kind's capabilities and adds its
 * kind's filter. A failure here is fatal (the process exits with VPF_EXIT_SECCOMP). */
void sandbox_confine_self(enum confine_kind kind);

/* Unit tests: the steps of sandbox_enter() that the filter needs, without privileges
 * or --user: builds the filters and installs the SIGSYS reporter (0 or -1), then the
 * base filter for the calling thread only (0 or -1). */
int sandbox_prepare(const struct sandbox_policy *p, char *err, size_t errlen);
int sandbox_load_base(bool all_threads, char *err, size_t errlen);

/* "vcpu", "iothread", ... for log lines. */
const char *sandbox_kind_name(enum confine_kind kind);

#endif
