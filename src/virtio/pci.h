/* virtio-pci modern transport (virtio 1.2 §4.1): a PCI Express function carrying one
 * struct virtio_dev.
 *
 * Identity: vendor 0x1af4, device 0x1040 + virtio type, revision 1 (modern only),
 * subsystem 0x1af4:0x1100, class from the device type (net: 0x020000).
 *
 * Everything lives in one 64-bit prefetchable memory BAR (BAR 4, 32 KiB), one page per
 * region so each can be mapped or trapped alone:
 *   0x0000 common config     0x1000 ISR     0x2000 device config
 *   0x3000 notify            0x4000 MSI-X table     0x5000 MSI-X PBA
 * Notify: notify_off_multiplier 4 and queue_notify_off = queue index, so every queue has
 * its own doorbell address and its own eventfd (no datamatch needed; the data the driver
 * writes is ignored). Vendor capabilities: common, notify, ISR, device, and the PCI
 * config access capability (§4.1.4.9; see the note in pci.c on its reads).
 *
 * Doorbells: the VM binds each queue's notify address to dev->kick_fds[q] with
 * KVM_IOEVENTFD through the ops below; the transport calls add/del whenever the BAR
 * becomes decoded, moves, or stops decoding. A doorbell write that still reaches
 * the transport as MMIO (no ioeventfd) signals the same eventfd.
 *
 * Interrupts: MSI-X only (no INTx: interrupt pin 0). Queue q's used-buffer interrupt goes
 * to the vector the driver put in queue_msix_vector, config changes to config_msix_vector,
 * through msix_signal() (lock-free, safe from the device's I/O thread). ISR bits are kept
 * too (§4.1.4.5), read-to-clear. An offloaded device may instead have its backend signal
 * the vector's irqfd itself while the vector is deliverable (virtio_irq_ops.queue_irqfd);
 * every MSI-X change that may alter that, and every queue_msix_vector write, is passed
 * to the device (virtio_dev_irq_changed) before the register write completes.
 *
 * Threads: register accesses arrive with the PCI bus lock held (vCPU threads). */
#ifndef VPF_VIRTIO_PCI_H
#define VPF_VIRTIO_PCI_H

#include <stdint.h>

#include "base/msi.h"
#include "pci/device.h"
#include "pci/msix.h"
#include "virtio/device.h"

#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000
#define VIRTIO_PCI_COMMON_SIZE 0x38   /* through queue_device; no NOTIFICATION_DATA/RESET */
#ifndef VIRTIO_PCI_ISR_QUEUE
#define VIRTIO_PCI_ISR_QUEUE 0x1      /* ISR bit 0 (virtio 1.2 §4.1.4.5); UAPI has only CONFIG */
#endif

/* KVM_IOEVENTFD hooks, provided by the VM. add: make a guest write to gpa (any length;
 * use KVM_IOEVENTFD_FLAG len 0 where KVM has KVM_CAP_IOEVENTFD_ANY_LENGTH, else 2, the
 * width drivers use) signal fd; return 0 or -1. del: undo it. */
struct virtio_pci_notify_ops {
    int (*add)(void *opaque, uint64_t gpa, int fd);
    void (*del)(void *opaque, uint64_t gpa, int fd);
};

struct virtio_pci {
    struct pci_device pci;
    struct msix msix;
    struct virtio_dev *vdev;
    /* common config state (bus lock) */
    uint32_t dfselect, gfselect;
    uint16_t queue_select;
    /* read by msix delivery on the I/O thread: atomics */
    uint16_t config_vector;
    uint16_t queue_vector[VIRTIO_MAX_QUEUES];
    uint8_t isr;
    /* doorbells */
    const struct virtio_pci_notify_ops *notify_ops;
    void *notify_opaque;
    uint64_t notify_base;          /* gpa of the notify region registered, or UINT64_MAX */
    unsigned cfg_cap;              /* config offset of the PCI config access capability */
};

/* Builds the function (config space, capabilities, BAR 4, MSI-X with num_queues + 1
 * vectors routed through router) around vdev and installs the interrupt callbacks in
 * vdev. name is for logs. Then: pci_bus_add(bus, &vp->pci, devfn) and
 * virtio_pci_set_notify_ops(). Returns 0 or -1. */
int virtio_pci_init(struct virtio_pci *vp, const char *name, struct virtio_dev *vdev,
                    struct msi_router *router);
/* The same as an SR-IOV VF (pci_device_init_vf: vendor/device read 0xFFFF, BAR registers
 * zero; the PF's SR-IOV capability places BAR 4 and gates decoding). The caller puts it
 * on the bus with pci_sriov_add_vf_locked(). */
int virtio_pci_init_vf(struct virtio_pci *vp, const char *name, struct virtio_dev *vdev,
                       struct msi_router *router);
/* Drops the doorbell registrations and MSI-X routes; the caller removed the function
 * from the bus and destroys vdev afterwards. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Installs the ioeventfd hooks and registers the doorbells at once if the BAR decodes.
 * Call with the bus lock held or before the guest runs. */
void virtio_pci_set_notify_ops(struct virtio_pci *vp, const struct virtio_pci_notify_ops *ops,
                               void *opaque);
/* Re-registers the doorbells after the BAR moved or its decoding changed without a
 * config write to this function (a VF, whose BAR the PF places). Bus lock held. */
void virtio_pci_sync_notify(struct virtio_pci *vp);
/* Guest address of queue q's doorbell, UINT64_MAX while the BAR does not decode. */
uint64_t virtio_pci_notify_addr(const struct virtio_pci *vp, unsigned q);

#endif
