/* One vCPU thread: sets up registers for the 64-bit boot entry, then runs KVM_RUN and
 * dispatches port I/O and MMIO exits to the VM's buses. */
#ifndef VPF_VM_VCPU_H
#define VPF_VM_VCPU_H

#include <pthread.h>
#include <linux/kvm.h>

#include "vm/boot.h"

struct vm;

struct vcpu {
    struct vm *vm;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    int started;
};

/* Creates vCPU id with CPUID, MSRs and LAPIC set; the boot vCPU (id 0) also gets entry. */
void vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned id, const struct boot_entry *entry);
void vcpu_start(struct vcpu *vcpu);
/* Makes a running vCPU leave KVM_RUN and its thread exit; then joins it. */
void vcpu_stop(struct vcpu *vcpu);
/* Installs the signal used to kick vCPUs out of KVM_RUN (once, before any vCPU starts). */
void vcpu_init_signals(void);

#endif
