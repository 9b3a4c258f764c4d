/* Readiness and shutdown notices to a service manager (sd_notify(3) from libsystemd),
 * when vpf runs under one: systemd's Type=notify services get NOTIFY_SOCKET in their
 * environment. Without it, or in a build without libsystemd, nothing is sent.
 *
 * Threads: the main thread only (vm_run). Each notice opens an AF_UNIX datagram socket,
 * sends one message and closes it; the main thread's seccomp allowlist has those calls
 * when notify_wanted() said so during setup (sandbox.h, struct sandbox_policy.notify). */
#ifndef VPF_VM_NOTIFY_H
#define VPF_VM_NOTIFY_H

#include <stdbool.h>

/* NOTIFY_SOCKET is set and this build can send to it. In a build without libsystemd,
 * logs once that the service manager will hear nothing, and returns false. */
bool notify_wanted(void);

/* "READY=1" with "STATUS=status": the control socket listens and the guest runs.
 * Returns 0 (also when nothing is wanted), or -1 with a warning logged. */
int notify_ready(const char *status);

/* "STOPPING=1" with "STATUS=status": vpf is tearing the VM down. As notify_ready. */
int notify_stopping(const char *status);

#endif
