/* A running VM: KVM, guest RAM, vCPU threads, the I/O buses and the platform devices.
 * vm_run() is the whole life of a guest, from loading the kernel to the exit status. */
#ifndef VPF_VM_VM_H
#define VPF_VM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/iobus.h"
#include "ctl/ctl.h"
#include "pci/bus.h"
#include "vm/config.h"
#include "vm/irq.h"
#include "vm/kvm.h"
#include "vm/uart.h"

struct vcpu;

struct vm {
    const struct vm_config *cfg;
    struct kvm kvm;
    struct irq_routes irq;
    struct iobus pio, mmio;
    struct uart uart;
    struct pci_bus pci;
    struct netdev *netdevs;
    unsigned nnetdevs;
    struct ctl_server ctl;
    int ctl_started;
    struct vcpu *vcpus;
    unsigned ncpus;
    atomic_int stopping;        /* first stop request wins */
    int exit_status;
    const char *stop_reason;    /* the first stop request's (a string literal) */
    int stop_fd;                /* eventfd: the main thread waits on it */
    pthread_t stdin_thread;
    int stdin_thread_started;
    uint64_t started_ns;        /* monotonic_ns() when vm_run began ("info") */
};

/* Runs the VM described by cfg; returns its exit status. Setup errors die(). */
int vm_run(const struct vm_config *cfg);
/* Asks the main thread to stop the VM with this status; callable from any thread. */
void vm_request_stop(struct vm *vm, int status, const char *why);
/* Presses the ACPI power button (DSDT PWRB through GED0's interrupt): a guest that
 * handles it (acpid, systemd-logind) shuts down and powers off. Any thread. 0 or -1. */
int vm_press_power_button(struct vm *vm);

#endif
