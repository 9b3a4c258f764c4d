/* The KVM VM: /dev/kvm, the VM fd, guest RAM slots, in-kernel irqchip and PIT. */
#ifndef VPF_VM_KVM_H
#define VPF_VM_KVM_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "base/guest_mem.h"

struct kvm {
    int sys_fd, vm_fd;
    int vcpu_mmap_size;
    int max_vcpus;
    struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID */
    struct guest_mem mem;
    unsigned nslots;
    int ram_fd;                 /* shareable guest RAM (memfd), -1 if anonymous */
};

/* Opens /dev/kvm and creates the VM; die()s with a clear line on any failure. */
void kvm_open(struct kvm *kvm, const char *dev);
/* Maps ram_size bytes of guest RAM (split around the 32-bit MMIO hole). shared: from one
 * memfd, MAP_SHARED, so that a vhost-user peer can map it too; else anonymous private
 * memory. die()s on failure. */
void kvm_map_ram(struct kvm *kvm, uint64_t ram_size, bool shared);
/* In-kernel LAPICs, IOAPIC, PIC and PIT. */
void kvm_create_irqchip(struct kvm *kvm);
/* Sets the level of an IOAPIC/PIC input pin (ISA IRQ). */
int kvm_irq_line(struct kvm *kvm, unsigned irq, int level);
/* Binds an MMIO write of len bytes at addr to eventfd fd (KVM_IOEVENTFD): the guest's
 * write is completed in the kernel and only signals fd, with no exit to a vCPU thread.
 * Returns 0 or -1 (errno set). deassign undoes it. */
int kvm_ioeventfd(struct kvm *kvm, uint64_t addr, unsigned len, int fd, int deassign);
void kvm_close(struct kvm *kvm);

#endif
