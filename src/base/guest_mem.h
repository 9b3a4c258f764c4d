/* Guest physical memory as the device layers see it: a list of RAM regions mapped into
 * vpf. Every guest-supplied address goes through guest_mem_ptr(), which refuses ranges
 * that are not entirely inside one RAM region. No KVM here, so tests and fuzzers can
 * build a guest_mem over any buffer. */
#ifndef VPF_BASE_GUEST_MEM_H
#define VPF_BASE_GUEST_MEM_H

#include <stdint.h>
#include <stddef.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
    /* Shareable RAM (a memfd mapped MAP_SHARED, for vhost-user peers): the file and where
     * the region starts in it; fd -1 for anonymous memory. */
    int fd;
    uint64_t fd_offset;
};

struct guest_mem {
    struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
    unsigned nregions;
};

/* Returns 0, or -1 if the table is full or the region overlaps another. */
int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva);
/* The same for RAM mapped from fd at fd_offset (MAP_SHARED), which another process may
 * map too (vhost-user's SET_MEM_TABLE). The caller keeps fd open. */
int guest_mem_add_fd(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva, int fd,
                     uint64_t fd_offset);
/* True if every region can be shared with another process (has an fd). */
int guest_mem_shareable(const struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is not guest RAM. len 0 is allowed
 * (returns the pointer for gpa, which must still be inside RAM or at its end). */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Total RAM bytes. */
uint64_t guest_mem_total(const struct guest_mem *mem);

#endif
