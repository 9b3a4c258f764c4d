/* Per-thread confinement hook (docs/architecture.md, "Confinement").
 *
 * Every long-lived thread calls confine_self() with its kind when it starts. Until the
 * VM is set up (and always with --seccomp=off and no privilege drop) nothing is
 * installed and the call does nothing; src/vm/sandbox.c sets confine_hook once the
 * process-wide filter is in place, and from then on each thread narrows itself to its
 * kind's system calls and capabilities. The layers below src/vm only know this hook. */
#ifndef VPF_BASE_CONFINE_H
#define VPF_BASE_CONFINE_H

enum confine_kind {
    CONFINE_MAIN,       /* waits for the stop request, then tears the VM down */
    CONFINE_VCPU,       /* KVM_RUN and the exits; VF Enable/Disable (taps, vhost, I/O threads) */
    CONFINE_IOTHREAD,   /* a virtio device's data path */
    CONFINE_CTL,        /* the control socket */
    CONFINE_STDIN,      /* host stdin -> guest UART */
    CONFINE_VDPA_WATCH, /* vhost-vdpa's removal watch (inotify on /dev) */
    CONFINE_KINDS
};

/* Set before the threads that read it are created (or, for threads already running,
 * before they are asked to confine themselves through an eventfd hand-over). */
extern void (*confine_hook)(enum confine_kind kind);

static inline void confine_self(enum confine_kind kind)
{
    if (confine_hook)
        confine_hook(kind);
}

#endif
