#include "vm/vcpu.h"
#include "vm/vm.h"
#include "base/confine.h"
#include "base/exit.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guest-triggered: limited. */
static struct log_ratelimit event_rl;

#define VCPU_KICK_SIGNAL SIGUSR1

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_EXTINT (7u << 8)
#define APIC_MODE_NMI    (4u << 8)

static void vcpu_kick_handler(int sig) { (void)sig; }

void vcpu_init_signals(void)
{
    /* No SA_RESTART: KVM_RUN must return EINTR so the thread sees the stop request. */
    struct sigaction sa = { .sa_handler = vcpu_kick_handler };
    sigemptyset(&sa.sa_mask);
    if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
        die_errno("sigaction");
}

/* Per-vCPU CPUID: KVM's supported set, with this vCPU's APIC ID (SDM Vol. 2A, CPUID
 * leaves 01h and 0Bh/1Fh) and the hypervisor bit, so Linux picks up kvmclock. */
static void vcpu_set_cpuid(struct vcpu *vcpu)
{
    const struct kvm_cpuid2 *supported = vcpu->vm->kvm.cpuid;
    size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
    struct kvm_cpuid2 *cpuid = malloc(size);
    if (!cpuid)
        die("out of memory");
    memcpy(cpuid, supported, size);
    for (unsigned i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        switch (e->function) {
        case 0x1:
            e->ebx = (e->ebx & 0x00ffffff) | (vcpu->id << 24);
            e->ecx |= CPUID_1_ECX_HYPERVISOR;
            break;
        case 0xb:
        case 0x1f:
            e->edx = vcpu->id;
            break;
        default:
            break;
        }
    }
    if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
        die_errno("KVM_SET_CPUID2 (vCPU %u)", vcpu->id);
    free(cpuid);
}

static void vcpu_set_msrs(struct vcpu *vcpu)
{
    static const uint32_t zeroed[] = {
        MSR_IA32_SYSENTER_CS,
        MSR_IA32_SYSENTER_ESP,
        MSR_IA32_SYSENTER_EIP,
        MSR_STAR,
        MSR_CSTAR,
        MSR_KERNEL_GS_BASE,
        MSR_SYSCALL_MASK,
        MSR_LSTAR,
        MSR_IA32_TSC,
    };
    /* struct kvm_msrs ends in a flexible array: lay it out in a buffer of the right size. */
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) +
                      (ARRAY_SIZE(zeroed) + 2) * sizeof(struct kvm_msr_entry)];
    } buf;
    memset(&buf, 0, sizeof(buf));
    struct kvm_msr_entry *e = buf.hdr.entries;
    unsigned n = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(zeroed); i++)
        e[n++].index = zeroed[i];
    e[n++] = (struct kvm_msr_entry){ .index = MSR_IA32_MISC_ENABLE, .data = 1 /* fast strings */ };
    /* MTRRs enabled, default type write-back, so guest RAM is cacheable. */
    e[n++] = (struct kvm_msr_entry){ .index = MSR_MTRR_DEF_TYPE, .data = (1 << 11) | 6 };
    buf.hdr.nmsrs = n;
    if (ioctl(vcpu->fd, KVM_SET_MSRS, &buf.hdr) != (int)n)
        die("KVM_SET_MSRS failed for vCPU %u", vcpu->id);
}

/* LINT0 as ExtINT and LINT1 as NMI, as a PC BIOS leaves them (virtual wire mode). */
static void vcpu_set_lapic(struct vcpu *vcpu)
{
    struct kvm_lapic_state lapic;
    if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
        die_errno("KVM_GET_LAPIC");
    uint32_t lint0 = ld_le32(&lapic.regs[APIC_LVT_LINT0]);
    uint32_t lint1 = ld_le32(&lapic.regs[APIC_LVT_LINT1]);
    st_le32(&lapic.regs[APIC_LVT_LINT0], (lint0 & ~0x700u) | APIC_MODE_EXTINT);
    st_le32(&lapic.regs[APIC_LVT_LINT1], (lint1 & ~0x700u) | APIC_MODE_NMI);
    if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
        die_errno("KVM_SET_LAPIC");
}

static void vcpu_set_boot_regs(struct vcpu *vcpu, const struct boot_entry *entry)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
        die_errno("KVM_GET_SREGS");
    struct kvm_segment code = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = BOOT_GDT_CODE_SEL,
        .type = 11,
        .present = 1,
        .s = 1,
        .l = 1,
        .g = 1,
    };
    struct kvm_segment data = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = BOOT_GDT_DATA_SEL,
        .type = 3,
        .present = 1,
        .s = 1,
        .db = 1,
        .g = 1,
    };
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.gdt.base = entry->gdt_base;
    sregs.gdt.limit = entry->gdt_limit;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
    sregs.cr3 = entry->cr3;
    sregs.cr4 = CR4_PAE;
    sregs.efer = EFER_LME | EFER_LMA;
    if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
        die_errno("KVM_SET_SREGS");

    struct kvm_regs regs = {
        .rflags = 0x2,      /* reserved bit 1; interrupts off */
        .rip = entry->rip,
        .rsi = entry->rsi,
        .rsp = entry->rsp,
        .rbp = entry->rsp,
    };
    if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
        die_errno("KVM_SET_REGS");
}

void vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned id, const struct boot_entry *entry)
{
    memset(vcpu, 0, sizeof(*vcpu));
    vcpu->vm = vm;
    vcpu->id = id;
    vcpu->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (vcpu->fd < 0)
        die_errno("KVM_CREATE_VCPU %u", id);
    vcpu->run = mmap(NULL, (size_t)vm->kvm.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED)
        die_errno("mmap vCPU %u", id);
    vcpu_set_cpuid(vcpu);
    vcpu_set_msrs(vcpu);
    vcpu_set_lapic(vcpu);
    /* Application processors wait for INIT/SIPI in the in-kernel LAPIC; only the boot
     * processor starts at the kernel's entry point. */
    if (id == 0)
        vcpu_set_boot_regs(vcpu, entry);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    struct iobus *pio = &vcpu->vm->pio;
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
        if (run->io.direction == KVM_EXIT_IO_OUT)
            iobus_write(pio, run->io.port, data, run->io.size);
        else
            iobus_read(pio, run->io.port, data, run->io.size);
    }
}

static void vcpu_handle_system_event(struct vcpu *vcpu)
{
    switch (vcpu->run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        vm_request_stop(vcpu->vm, VPF_EXIT_OK, "guest powered off");
        break;
    case KVM_SYSTEM_EVENT_RESET:
        vm_request_stop(vcpu->vm, VPF_EXIT_OK, "guest rebooted");
        break;
    case KVM_SYSTEM_EVENT_CRASH:
        vm_request_stop(vcpu->vm, VPF_EXIT_PANIC, "guest crashed");
        break;
    default:
        log_warn_rl(&event_rl, "vCPU %u: unknown system event %u", vcpu->id,
                    vcpu->run->system_event.type);
    }
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *vcpu = arg;
    struct vm *vm = vcpu->vm;
    struct kvm_run *run = vcpu->run;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
    pthread_setname_np(pthread_self(), name);
    confine_self(CONFINE_VCPU);

    while (!atomic_load(&vm->stopping)) {
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            log_error("vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
            vm_request_stop(vm, VPF_EXIT_INTERNAL, "vCPU failed");
            break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            vcpu_handle_io(vcpu);
            break;
        case KVM_EXIT_MMIO:
            if (run->mmio.is_write)
                iobus_write(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
            else
                iobus_read(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
            break;
        case KVM_EXIT_SHUTDOWN:
            /* Triple fault: what a PC does on reset when nothing else resets it. */
            vm_request_stop(vm, VPF_EXIT_OK, "guest reset (triple fault)");
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            vcpu_handle_system_event(vcpu);
            break;
        case KVM_EXIT_HLT:
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_FAIL_ENTRY:
            log_error("vCPU %u: VM entry failed, hardware reason 0x%llx", vcpu->id,
                      (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            vm_request_stop(vm, VPF_EXIT_INTERNAL, "vCPU failed");
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            log_error("vCPU %u: KVM internal error, suberror %u", vcpu->id, run->internal.suberror);
            vm_request_stop(vm, VPF_EXIT_INTERNAL, "vCPU failed");
            break;
        default:
            log_error("vCPU %u: unhandled exit reason %u", vcpu->id, run->exit_reason);
            vm_request_stop(vm, VPF_EXIT_INTERNAL, "vCPU failed");
            break;
        }
    }
    return NULL;
}

void vcpu_start(struct vcpu *vcpu)
{
    if (pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu) != 0)
        die("cannot start vCPU thread %u", vcpu->id);
    vcpu->started = 1;
}

void vcpu_stop(struct vcpu *vcpu)
{
    if (!vcpu->started)
        return;
    /* immediate_exit makes a KVM_RUN that races with the signal return at once. */
    vcpu->run->immediate_exit = 1;
    pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
    pthread_join(vcpu->thread, NULL);
    vcpu->started = 0;
}
