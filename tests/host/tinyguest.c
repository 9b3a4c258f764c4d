#include "tinyguest.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* x86-64 machine code fragments. */
static const uint8_t code_hello[] = {
    0x66, 0xba, 0xf8, 0x03,             /* mov dx, 0x3f8 */
    0xb0, 'h',  0xee, 0xb0, 'i', 0xee,   /* out 'h', 'i' */
    0xb0, '\n', 0xee,                   /* out '\n' */
};
static const uint8_t code_poweroff[] = {
    0x66, 0xba, 0x00, 0x06,             /* mov dx, 0x600 (sleep control) */
    0xb0, 0x34, 0xee,                   /* out (SLP_TYP 5 << 2) | SLP_EN */
};
static const uint8_t code_reboot[] = {
    0x66, 0xba, 0x04, 0x06,             /* mov dx, 0x604 (reset register) */
    0xb0, 0x01, 0xee,                   /* out 1 */
};
static const uint8_t code_kbd_reset[] = {
    0xb0, 0xfe, 0xe6, 0x64,             /* mov al, 0xfe; out 0x64, al */
};
static const uint8_t code_panic[] = {
    0x66, 0xba, 0x05, 0x05,             /* mov dx, 0x505 */
    0xb0, 0x01, 0xee,                   /* out 1 (PVPANIC_PANICKED) */
};
/* vpf enters with an empty IDT (limit 0): any exception escalates to a triple fault. */
static const uint8_t code_triple_fault[] = {
    0x0f, 0x0b,                         /* ud2 -> #UD -> #GP -> #DF -> shutdown */
};
static const uint8_t code_echo[] = {
    0x66, 0xba, 0xf8, 0x03,             /* mov dx, 0x3f8 */
    /* loop: wait for LSR.DR */
    0x66, 0xba, 0xfd, 0x03,             /* mov dx, 0x3fd */
    0xec,                               /* in al, dx */
    0xa8, 0x01,                         /* test al, 1 */
    0x74, 0xf7,                         /* jz loop */
    0x66, 0xba, 0xf8, 0x03,             /* mov dx, 0x3f8 */
    0xec,                               /* in al, dx */
    0x3c, 'q',                          /* cmp al, 'q' */
    0x74, 0x03,                         /* je done */
    0xee,                               /* out dx, al */
    0xeb, 0xeb,                         /* jmp loop */
    /* done: */
};
/* The PF at 00:01.0 has its SR-IOV capability at 0x100 (PCIe 6.0 §9.3.3): NumVFs at
 * +0x10, then VF Enable | VF MSE in SR-IOV Control (+0x08), through ECAM (0xe0000000 +
 * device 1 << 15; the boot page tables map the low 4 GiB), once a byte arrives on COM1. */
static const uint8_t code_sriov[] = {
    0x66, 0xba, 0xfd, 0x03,             /* wait: mov dx, 0x3fd */
    0xec,                               /* in al, dx */
    0xa8, 0x01,                         /* test al, 1 */
    0x74, 0xf7,                         /* jz wait */
    0x66, 0xba, 0xf8, 0x03,             /* mov dx, 0x3f8 */
    0xec,                               /* in al, dx (the byte is consumed) */
    0xb8, 0x10, 0x81, 0x00, 0xe0,       /* mov eax, 0xe0008110 (NumVFs) */
    0x66, 0xc7, 0x00, 0x02, 0x00,       /* mov word [rax], 2 */
    0x66, 0xc7, 0x40, 0xf8, 0x09, 0x00, /* mov word [rax - 8], VFE | VF MSE */
    0xb0, 'v',  0xee, 0xb0, 'f',  0xee,   /* out "vfs\n" (dx is still 0x3f8) */
    0xb0, 's',  0xee, 0xb0, '\n', 0xee,
};
static const uint8_t code_halt[] = { 0xf4, 0xeb, 0xfd };  /* hlt; jmp hlt */

size_t tinyguest_build(uint8_t *buf, enum tinyguest_action action,
                       const struct tinyguest_opts *opts)
{
    const unsigned setup_sects = 1;
    const size_t setup = (setup_sects + 1) * 512;
    memset(buf, 0, TINYGUEST_MAX);
    buf[0x1f1] = setup_sects;
    put16(buf + 0x1fe, 0xaa55);
    buf[0x200] = 0xeb;                          /* jmp: header runs to 0x202 + 0x66 */
    buf[0x201] = 0x66;
    put32(buf + 0x202, opts && opts->bad_magic ? 0x12345678 : 0x53726448);
    put16(buf + 0x206, opts && opts->protocol ? opts->protocol : 0x020f);
    buf[0x211] = 0x01;                          /* LOADED_HIGH */
    put32(buf + 0x22c, 0x7fffffff);             /* initrd_addr_max */
    put32(buf + 0x230, 0x200000);               /* kernel_alignment */
    buf[0x234] = 1;                             /* relocatable */
    put16(buf + 0x236, opts && opts->no_kernel64 ? 0 : 1);   /* XLF_KERNEL_64 */
    put32(buf + 0x238, 2048);                   /* cmdline_size */
    put64(buf + 0x258, 0x1000000);              /* pref_address */
    put32(buf + 0x260, 0x100000);               /* init_size */

    /* Payload: the 64-bit entry is at +0x200. */
    uint8_t *p = buf + setup + 0x200;
    memcpy(p, code_hello, sizeof(code_hello));
    p += sizeof(code_hello);
    const uint8_t *tail = NULL;
    size_t tail_len = 0;
    switch (action) {
    case TINYGUEST_POWEROFF:
        tail = code_poweroff;
        tail_len = sizeof(code_poweroff);
        break;
    case TINYGUEST_REBOOT:
        tail = code_reboot;
        tail_len = sizeof(code_reboot);
        break;
    case TINYGUEST_KBD_RESET:
        tail = code_kbd_reset;
        tail_len = sizeof(code_kbd_reset);
        break;
    case TINYGUEST_PANIC:
        tail = code_panic;
        tail_len = sizeof(code_panic);
        break;
    case TINYGUEST_TRIPLE_FAULT:
        tail = code_triple_fault;
        tail_len = sizeof(code_triple_fault);
        break;
    case TINYGUEST_SRIOV:
        memcpy(p, code_sriov, sizeof(code_sriov));
        p += sizeof(code_sriov);
        __attribute__((fallthrough));   /* then echo */
    case TINYGUEST_ECHO:
        memcpy(p, code_echo, sizeof(code_echo));
        p += sizeof(code_echo);
        tail = code_poweroff;
        tail_len = sizeof(code_poweroff);
        break;
    }
    memcpy(p, tail, tail_len);
    p += tail_len;
    memcpy(p, code_halt, sizeof(code_halt));
    p += sizeof(code_halt);
    return (size_t)(p - buf);
}
