#include "vm/irq.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Routes follow the guest's MSI-X programming: limited. */
static struct log_ratelimit route_rl;

#define IRQ_IOAPIC_PINS 24
#define IRQ_PIC_PINS    16
#define IRQ_FIRST_MSI_GSI IRQ_IOAPIC_PINS

/* Caller holds the lock. */
static int irq_routes_commit(struct irq_routes *ir)
{
    if (ioctl(ir->kvm->vm_fd, KVM_SET_GSI_ROUTING, ir->table) < 0) {
        log_error("KVM_SET_GSI_ROUTING: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static struct kvm_irq_routing_entry *irq_routes_append(struct irq_routes *ir)
{
    if (ir->table->nr == ir->cap) {
        unsigned cap = ir->cap * 2;
        struct kvm_irq_routing *t = realloc(ir->table, sizeof(*t) + cap * sizeof(t->entries[0]));
        if (!t)
            return NULL;
        ir->table = t;
        ir->cap = cap;
    }
    struct kvm_irq_routing_entry *e = &ir->table->entries[ir->table->nr++];
    memset(e, 0, sizeof(*e));
    return e;
}

static struct kvm_irq_routing_entry *irq_routes_find(struct irq_routes *ir, int gsi)
{
    for (unsigned i = 0; i < ir->table->nr; i++)
        if (ir->table->entries[i].gsi == (uint32_t)gsi &&
            ir->table->entries[i].type == KVM_IRQ_ROUTING_MSI)
            return &ir->table->entries[i];
    return NULL;
}

/* Lowest GSI at or above the ISA range that no MSI route uses. */
static int irq_routes_free_gsi(struct irq_routes *ir)
{
    for (unsigned gsi = IRQ_FIRST_MSI_GSI; gsi < ir->max_routes; gsi++)
        if (!irq_routes_find(ir, (int)gsi))
            return (int)gsi;
    return -1;
}

static int irq_route_add(void *opaque, uint64_t addr, uint32_t data, int *fd_out)
{
    struct irq_routes *ir = opaque;
    int ret = -1;
    pthread_mutex_lock(&ir->lock);
    int gsi = irq_routes_free_gsi(ir);
    struct kvm_irq_routing_entry *e = gsi >= 0 ? irq_routes_append(ir) : NULL;
    if (!e) {
        log_error_rl(&route_rl, "out of MSI routes");
        goto out;
    }
    e->gsi = (uint32_t)gsi;
    e->type = KVM_IRQ_ROUTING_MSI;
    e->u.msi.address_lo = (uint32_t)addr;
    e->u.msi.address_hi = (uint32_t)(addr >> 32);
    e->u.msi.data = data;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = (uint32_t)gsi };
    if (fd < 0 || irq_routes_commit(ir) < 0 || ioctl(ir->kvm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
        log_error_rl(&route_rl, "cannot set up MSI route for GSI %d: %s", gsi, strerror(errno));
        if (fd >= 0)
            close(fd);
        ir->table->nr--;
        irq_routes_commit(ir);
        goto out;
    }
    ir->gsi_fd[gsi] = fd;
    *fd_out = fd;
    ret = gsi;
out:
    pthread_mutex_unlock(&ir->lock);
    return ret;
}

static int irq_route_update(void *opaque, int handle, uint64_t addr, uint32_t data)
{
    struct irq_routes *ir = opaque;
    int ret = -1;
    pthread_mutex_lock(&ir->lock);
    struct kvm_irq_routing_entry *e = irq_routes_find(ir, handle);
    if (e) {
        e->u.msi.address_lo = (uint32_t)addr;
        e->u.msi.address_hi = (uint32_t)(addr >> 32);
        e->u.msi.data = data;
        ret = irq_routes_commit(ir);
    }
    pthread_mutex_unlock(&ir->lock);
    return ret;
}

static void irq_route_remove(void *opaque, int handle)
{
    struct irq_routes *ir = opaque;
    pthread_mutex_lock(&ir->lock);
    struct kvm_irq_routing_entry *e = irq_routes_find(ir, handle);
    if (e) {
        /* Detach the irqfd before dropping the route it points at, then close it. */
        struct kvm_irqfd irqfd = { .fd = (uint32_t)ir->gsi_fd[handle],
                                   .gsi = (uint32_t)handle,
                                   .flags = KVM_IRQFD_FLAG_DEASSIGN };
        if (ioctl(ir->kvm->vm_fd, KVM_IRQFD, &irqfd) < 0)
            log_warn("KVM_IRQFD deassign GSI %d: %s", handle, strerror(errno));
        close(ir->gsi_fd[handle]);
        ir->gsi_fd[handle] = -1;
        *e = ir->table->entries[--ir->table->nr];
        irq_routes_commit(ir);
    }
    pthread_mutex_unlock(&ir->lock);
}

static const struct msi_router_ops irq_msi_ops = {
    .route_add = irq_route_add,
    .route_update = irq_route_update,
    .route_remove = irq_route_remove,
};

void irq_routes_init(struct irq_routes *ir, struct kvm *kvm)
{
    memset(ir, 0, sizeof(*ir));
    ir->kvm = kvm;
    pthread_mutex_init(&ir->lock, NULL);
    int max = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
    ir->max_routes = max > IRQ_FIRST_MSI_GSI ? (unsigned)max : 1024;
    ir->gsi_fd = malloc(ir->max_routes * sizeof(int));
    if (!ir->gsi_fd)
        die("out of memory");
    for (unsigned i = 0; i < ir->max_routes; i++)
        ir->gsi_fd[i] = -1;
    ir->cap = 64;
    ir->table = calloc(1, sizeof(*ir->table) + ir->cap * sizeof(ir->table->entries[0]));
    if (!ir->table)
        die("out of memory");
    /* Same as KVM's default table: ISA IRQs 0-15 on both PICs and IOAPIC pins 0-23. */
    for (unsigned pin = 0; pin < IRQ_IOAPIC_PINS; pin++) {
        struct kvm_irq_routing_entry *e = irq_routes_append(ir);
        e->gsi = pin;
        e->type = KVM_IRQ_ROUTING_IRQCHIP;
        e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        e->u.irqchip.pin = pin;
        if (pin < IRQ_PIC_PINS) {
            e = irq_routes_append(ir);
            e->gsi = pin;
            e->type = KVM_IRQ_ROUTING_IRQCHIP;
            e->u.irqchip.irqchip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e->u.irqchip.pin = pin % 8;
        }
    }
    if (irq_routes_commit(ir) < 0)
        die("cannot install the default interrupt routes");
    ir->router = (struct msi_router){ &irq_msi_ops, ir };
}

void irq_routes_destroy(struct irq_routes *ir)
{
    free(ir->table);
    free(ir->gsi_fd);
    pthread_mutex_destroy(&ir->lock);
}
