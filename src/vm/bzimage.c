#include "vm/bzimage.h"
#include "base/util.h"

#include <asm/bootparam.h>
#include <stdio.h>

/* Offsets into the image (boot.rst "The real-mode kernel header"). */
#define HDR_OFFSET        0x1f1
#define HDR_SETUP_SECTS   0x1f1
#define HDR_BOOT_FLAG     0x1fe
#define HDR_JUMP          0x200
#define HDR_MAGIC         0x202
#define HDR_VERSION       0x206
#define HDR_LOADFLAGS     0x211
#define HDR_INITRD_MAX    0x22c
#define HDR_ALIGNMENT     0x230
#define HDR_RELOCATABLE   0x234
#define HDR_XLOADFLAGS    0x236
#define HDR_CMDLINE_SIZE  0x238
#define HDR_PREF_ADDRESS  0x258
#define HDR_INIT_SIZE     0x260
#define HDR_MIN_SIZE      0x264     /* header bytes we read, through init_size */

int bzimage_parse(const uint8_t *image, size_t size, struct bzimage *out, char *err, size_t errlen)
{
    if (size < HDR_MIN_SIZE) {
        snprintf(err, errlen, "file too small to be a bzImage");
        return -1;
    }
    if (ld_le16(image + HDR_BOOT_FLAG) != 0xaa55 ||
        ld_le32(image + HDR_MAGIC) != 0x53726448 /* "HdrS" */) {
        snprintf(err, errlen, "not a bzImage (no boot sector signature or HdrS magic)");
        return -1;
    }
    uint16_t version = ld_le16(image + HDR_VERSION);
    if (version < BZIMAGE_MIN_PROTOCOL) {
        snprintf(err, errlen,
                 "boot protocol too old (need 2.12 or newer for the 64-bit entry point)");
        return -1;
    }
    if (!(image[HDR_LOADFLAGS] & LOADED_HIGH)) {
        snprintf(err, errlen, "not a bzImage (zImage loaded low is not supported)");
        return -1;
    }
    if (!(ld_le16(image + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
        snprintf(err, errlen, "kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
        return -1;
    }
    unsigned setup_sects = image[HDR_SETUP_SECTS];
    if (setup_sects == 0)
        setup_sects = 4;    /* boot.rst: 0 means 4 */
    size_t setup_size = (size_t)(setup_sects + 1) * 512;
    /* The header extends to 0x202 + the jump's 8-bit displacement. */
    size_t header_end = HDR_JUMP + 2 + image[HDR_JUMP + 1];
    if (setup_size >= size || header_end > setup_size || header_end < HDR_MIN_SIZE) {
        snprintf(err, errlen, "corrupt bzImage (setup size or header length out of range)");
        return -1;
    }
    if (header_end - HDR_OFFSET > sizeof(struct setup_header))
        header_end = HDR_OFFSET + sizeof(struct setup_header);

    uint32_t alignment = ld_le32(image + HDR_ALIGNMENT);
    if (!IS_POW2(alignment)) {
        snprintf(err, errlen, "corrupt bzImage (kernel_alignment is not a power of two)");
        return -1;
    }
    *out = (struct bzimage){
        .protocol = version,
        .setup_size = setup_size,
        .header_size = header_end - HDR_OFFSET,
        .payload = image + setup_size,
        .payload_size = size - setup_size,
        .initrd_addr_max = ld_le32(image + HDR_INITRD_MAX),
        .cmdline_size = ld_le32(image + HDR_CMDLINE_SIZE),
        .kernel_alignment = alignment,
        .pref_address = ld_le64(image + HDR_PREF_ADDRESS),
        .init_size = ld_le32(image + HDR_INIT_SIZE),
        .relocatable = image[HDR_RELOCATABLE] != 0,
    };
    if (out->init_size < out->payload_size) {
        snprintf(err, errlen, "corrupt bzImage (init_size smaller than the payload)");
        return -1;
    }
    return 0;
}
