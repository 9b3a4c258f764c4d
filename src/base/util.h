#ifndef VPF_BASE_UTIL_H
#define VPF_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define IS_POW2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)
/* Bit n of a 64-bit mask (virtio feature bits go up to 63). */
#define BIT(n) (1ull << (n))
/* The struct of type that embeds *ptr as its member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/* Little-endian loads/stores on possibly unaligned bytes (x86 host, but explicit). */
static inline uint16_t ld_le16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline uint32_t ld_le32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t ld_le64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void st_le16(void *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st_le32(void *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void st_le64(void *p, uint64_t v) { memcpy(p, &v, 8); }
/* Network byte order (Ethernet headers). */
static inline uint16_t ld_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}
static inline void st_be16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

/* Load/store an access of 1, 2, 4 or 8 bytes as an integer. */
static inline uint64_t ld_sized(const void *p, unsigned len)
{
    uint64_t v = 0;
    memcpy(&v, p, len > 8 ? 8 : len);
    return v;
}
static inline void st_sized(void *p, unsigned len, uint64_t v) { memcpy(p, &v, len > 8 ? 8 : len); }

/* True if [off, off+len) lies inside [0, size) without overflow. */
static inline int range_within(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

#endif
