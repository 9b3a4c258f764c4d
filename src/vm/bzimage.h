/* Parsing a bzImage's setup header (Documentation/arch/x86/boot.rst). Pure: works on a
 * buffer, so the unit tests feed it valid, truncated and corrupt images. */
#ifndef VPF_VM_BZIMAGE_H
#define VPF_VM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit entry point needs boot protocol 2.12 (xloadflags, XLF_KERNEL_64). */
#define BZIMAGE_MIN_PROTOCOL 0x020c

struct bzimage {
    uint16_t protocol;          /* e.g. 0x020f */
    size_t setup_size;          /* bytes before the protected-mode payload */
    size_t header_size; /* bytes of setup header to copy into the zero page (from 0x1f1) */
    const uint8_t *payload; /* protected-mode kernel */
    size_t payload_size;
    uint32_t initrd_addr_max; /* highest address the initrd may end at, inclusive */
    uint32_t cmdline_size; /* max cmdline length without the NUL */
    uint32_t kernel_alignment;
    uint64_t pref_address;
    uint32_t init_size; /* memory the kernel needs from its load address */
    int relocatable;
};

/* Parses image[0..size). Returns 0, or -1 with the reason in err. */
int bzimage_parse(const uint8_t *image, size_t size, struct bzimage *out, char *err, size_t errlen);

#endif
