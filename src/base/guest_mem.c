#include "base/guest_mem.h"
#include "base/util.h"

int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva)
{
    return guest_mem_add_fd(mem, gpa, size, hva, -1, 0);
}

int guest_mem_add_fd(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva, int fd,
                     uint64_t fd_offset)
{
    if (mem->nregions >= GUEST_MEM_MAX_REGIONS || size == 0 || gpa + size < gpa)
        return -1;
    for (unsigned i = 0; i < mem->nregions; i++) {
        const struct guest_mem_region *r = &mem->regions[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + size)
            return -1;
    }
    mem->regions[mem->nregions++] = (struct guest_mem_region){ gpa, size, hva, fd, fd_offset };
    return 0;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        const struct guest_mem_region *r = &mem->regions[i];
        if (gpa >= r->gpa && range_within(gpa - r->gpa, len, r->size))
            return r->hva + (gpa - r->gpa);
    }
    return NULL;
}

uint64_t guest_mem_total(const struct guest_mem *mem)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < mem->nregions; i++)
        total += mem->regions[i].size;
    return total;
}

int guest_mem_shareable(const struct guest_mem *mem)
{
    for (unsigned i = 0; i < mem->nregions; i++)
        if (mem->regions[i].fd < 0)
            return 0;
    return mem->nregions > 0;
}
