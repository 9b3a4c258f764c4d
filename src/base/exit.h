/* vpf's exit statuses, one constant per meaning (README "Exit status", `vpf run --help`,
 * docs/architecture.md "How a guest ends"). Whatever ends the process (main.c, die(),
 * the VM's stop request, the seccomp reporter, `vpf ctl`) uses these. */
#ifndef VPF_BASE_EXIT_H
#define VPF_BASE_EXIT_H

enum vpf_exit {
    VPF_EXIT_OK = 0,            /* the guest powered off or rebooted, or quit (control socket) */
    VPF_EXIT_SETUP = 1,         /* bad options or input, or the VM could not be set up: die() */
    VPF_EXIT_PANIC = 2,         /* the guest kernel panicked (reported through pvpanic) */
    VPF_EXIT_INTERNAL = 3,      /* a vCPU failed (KVM internal error, failed entry) */
    VPF_EXIT_SECCOMP = 4,       /* a thread made a system call its seccomp filter forbids */
};
/* Stopped by signal N (SIGINT, SIGTERM, SIGHUP), the VM torn down cleanly: this + N. */
#define VPF_EXIT_SIGNAL_BASE 128
/* `vpf ctl`: the request failed (ok false), or vpf could not be reached or understood. */
#define VPF_EXIT_CTL_FAILED 1

#endif
