/* Everything the command line says about a VM, parsed once by main.c. */
#ifndef VPF_VM_CONFIG_H
#define VPF_VM_CONFIG_H

#include <stdint.h>

struct vm_config {
    const char *kernel;
    const char *initrd;     /* NULL for none */
    const char *cmdline;
    unsigned cpus;
    uint64_t memory;
    const char *kvm_dev;    /* /dev/kvm unless overridden (tests) */
};

#endif
