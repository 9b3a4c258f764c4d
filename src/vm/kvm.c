#include "vm/kvm.h"
#include "vm/e820.h"
#include "vm/layout.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_CPUID_MAX_ENTRIES 256
/* Three pages below the BIOS area for VMX's real-mode TSS and identity map (unused on SVM). */
#define KVM_TSS_ADDR        0xfffbd000ULL
#define KVM_IDENTITY_MAP    0xfffbc000ULL

void kvm_open(struct kvm *kvm, const char *dev)
{
    memset(kvm, 0, sizeof(*kvm));
    kvm->ram_fd = -1;
    kvm->sys_fd = open(dev, O_RDWR | O_CLOEXEC);
    if (kvm->sys_fd < 0) {
        if (errno == ENOENT)
            die("%s does not exist: KVM is not available on this host (load kvm-intel or kvm-amd)",
                dev);
        if (errno == EACCES || errno == EPERM)
            die("%s: permission denied (run as root or join the kvm group)", dev);
        die_errno("cannot open %s", dev);
    }
    int version = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        die("%s: KVM API version %d, expected %d", dev, version, KVM_API_VERSION);
    static const struct {
        int cap;
        const char *name;
    } required[] = {
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
        { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
        { KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(required); i++)
        if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0)
            die("%s lacks %s", dev, required[i].name);
    kvm->max_vcpus = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (kvm->max_vcpus <= 0)
        kvm->max_vcpus = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (kvm->max_vcpus <= 0)
        kvm->max_vcpus = 4;   /* api.rst: assume 4 if the capability is absent */
    kvm->vcpu_mmap_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (kvm->vcpu_mmap_size <= 0)
        die_errno("KVM_GET_VCPU_MMAP_SIZE");

    kvm->cpuid = calloc(1, sizeof(*kvm->cpuid) +
                               KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    if (!kvm->cpuid)
        die("out of memory");
    kvm->cpuid->nent = KVM_CPUID_MAX_ENTRIES;
    if (ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, kvm->cpuid) < 0)
        die_errno("KVM_GET_SUPPORTED_CPUID");

    kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
    if (kvm->vm_fd < 0)
        die_errno("KVM_CREATE_VM");
    if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
        die_errno("KVM_SET_TSS_ADDR");
    uint64_t identity = KVM_IDENTITY_MAP;
    if (ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
        die_errno("KVM_SET_IDENTITY_MAP_ADDR");
}

/* Guest RAM is anonymous private memory unless a vhost-user peer must map it: then one
 * memfd holds all of it (MAP_SHARED, MAP_NORESERVE: pages are allocated on first touch,
 * as with anonymous memory) and each slot is a window of it at its own offset, which
 * SET_MEM_TABLE hands over with the fd (backend/vhost_user.c). */
static void kvm_add_slot(struct kvm *kvm, uint64_t gpa, uint64_t size, uint64_t fd_offset)
{
    void *hva;
    if (kvm->ram_fd >= 0)
        hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, kvm->ram_fd,
                   (off_t)fd_offset);
    else
        hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (hva == MAP_FAILED)
        die_errno("cannot map %llu MiB of guest RAM", (unsigned long long)(size / MiB));
    if (kvm->ram_fd < 0)
        madvise(hva, size, MADV_MERGEABLE);     /* KSM merges private anonymous pages only */
    struct kvm_userspace_memory_region region = {
        .slot = kvm->nslots,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };
    if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die_errno("KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx)",
                  (unsigned long long)(size / MiB), (unsigned long long)gpa);
    if (guest_mem_add_fd(&kvm->mem, gpa, size, hva, kvm->ram_fd, fd_offset) < 0)
        die("internal error: guest memory map full");
    kvm->nslots++;
}

void kvm_map_ram(struct kvm *kvm, uint64_t ram_size, bool shared)
{
    uint64_t low = e820_low_ram(ram_size), high = e820_high_ram(ram_size);
    kvm->ram_fd = -1;
    if (shared) {
        kvm->ram_fd = memfd_create("vpf-guest-ram", MFD_CLOEXEC);
        if (kvm->ram_fd < 0)
            die_errno("memfd_create for shareable guest RAM (vhost-user)");
        if (ftruncate(kvm->ram_fd, (off_t)(low + high)) < 0)
            die_errno("cannot size the guest RAM memfd to %llu MiB",
                      (unsigned long long)((low + high) / MiB));
    }
    kvm_add_slot(kvm, 0, low, 0);
    if (high)
        kvm_add_slot(kvm, LAYOUT_HIGH_RAM, high, low);
}

void kvm_create_irqchip(struct kvm *kvm)
{
    if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        die_errno("KVM_CREATE_IRQCHIP");
    /* Linux calibrates and runs its early timer on the PIT; the speaker port is unused. */
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        die_errno("KVM_CREATE_PIT2");
}

int kvm_irq_line(struct kvm *kvm, unsigned irq, int level)
{
    struct kvm_irq_level line = { .irq = irq, .level = level };
    return ioctl(kvm->vm_fd, KVM_IRQ_LINE, &line);
}

int kvm_ioeventfd(struct kvm *kvm, uint64_t addr, unsigned len, int fd, int deassign)
{
    struct kvm_ioeventfd ioe = {
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0,
    };
    return ioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioe);
}

void kvm_close(struct kvm *kvm)
{
    for (unsigned i = 0; i < kvm->mem.nregions; i++)
        munmap(kvm->mem.regions[i].hva, kvm->mem.regions[i].size);
    if (kvm->ram_fd >= 0)
        close(kvm->ram_fd);
    if (kvm->vm_fd >= 0)
        close(kvm->vm_fd);
    if (kvm->sys_fd >= 0)
        close(kvm->sys_fd);
    free(kvm->cpuid);
}
