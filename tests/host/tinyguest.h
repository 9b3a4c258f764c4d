/* Builds tiny bzImages whose 64-bit entry point runs a few instructions: print a line on
 * COM1, then power off, reboot, panic or triple-fault, or enable SR-IOV VFs as Linux's
 * sriov_enable does. They exercise vpf's boot path and
 * exit handling on any KVM, including ones that cannot boot a stock Linux kernel. */
#ifndef VPF_TESTS_TINYGUEST_H
#define VPF_TESTS_TINYGUEST_H

#include <stddef.h>
#include <stdint.h>

enum tinyguest_action {
    TINYGUEST_POWEROFF,     /* ACPI sleep control register, S5 */
    TINYGUEST_REBOOT,       /* ACPI reset register */
    TINYGUEST_KBD_RESET,    /* i8042 pulse reset line */
    TINYGUEST_PANIC,        /* pvpanic "panicked" */
    TINYGUEST_TRIPLE_FAULT, /* fault with the empty boot IDT */
    TINYGUEST_ECHO,         /* echo COM1 input until 'q', then power off */
    TINYGUEST_SRIOV,        /* on the first byte from COM1, enable 2 VFs of the SR-IOV PF
                             * at 00:01.0 (ECAM), print "vfs", then echo as above */
};

/* Header knobs for negative tests. */
struct tinyguest_opts {
    uint16_t protocol;      /* 0 = 0x020f */
    int no_kernel64;        /* clear XLF_KERNEL_64 */
    int bad_magic;
};

/* Writes the image into buf (at least TINYGUEST_MAX bytes); returns its size. */
#define TINYGUEST_MAX 4096
size_t tinyguest_build(uint8_t *buf, enum tinyguest_action action,
                       const struct tinyguest_opts *opts);

#endif
