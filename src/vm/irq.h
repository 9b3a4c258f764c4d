/* Interrupt routing on KVM's in-kernel irqchip: the ISA pins (IOAPIC + PIC) and MSI
 * routes (GSI routing entries, each with an irqfd), exposed as a struct msi_router. */
#ifndef VPF_VM_IRQ_H
#define VPF_VM_IRQ_H

#include <pthread.h>
#include <linux/kvm.h>

#include "base/msi.h"
#include "vm/kvm.h"

struct irq_routes {
    struct kvm *kvm;
    pthread_mutex_t lock;
    struct kvm_irq_routing *table;  /* the whole table, as KVM_SET_GSI_ROUTING wants it */
    unsigned cap;                   /* entries allocated in table */
    unsigned max_routes;
    int *gsi_fd;                    /* irqfd of each MSI GSI, -1 if none */
    struct msi_router router;
};

/* Installs the default ISA routes (KVM drops them once userspace sets a table). */
void irq_routes_init(struct irq_routes *ir, struct kvm *kvm);
void irq_routes_destroy(struct irq_routes *ir);

#endif
