#include "vm/e820.h"
#include "vm/layout.h"
#include "base/util.h"

uint64_t e820_low_ram(uint64_t ram_size) { return MIN(ram_size, LAYOUT_MMIO32_START); }

uint64_t e820_high_ram(uint64_t ram_size) { return ram_size - e820_low_ram(ram_size); }

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size && map->n < E820_MAX)
        map->entries[map->n++] = (struct e820_entry){ addr, size, type };
}

void e820_build(struct e820_map *map, uint64_t ram_size)
{
    uint64_t low = e820_low_ram(ram_size);
    map->n = 0;
    e820_add(map, 0, LAYOUT_LOW_RAM_END, E820_TYPE_RAM);
    /* EBDA, VGA hole, option ROMs and the ACPI tables: never RAM to the guest. */
    e820_add(map, LAYOUT_LOW_RAM_END, LAYOUT_KERNEL - LAYOUT_LOW_RAM_END, E820_TYPE_RESERVED);
    e820_add(map, LAYOUT_KERNEL, low - LAYOUT_KERNEL, E820_TYPE_RAM);
    e820_add(map, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, E820_TYPE_RESERVED);
    e820_add(map, LAYOUT_HIGH_RAM, e820_high_ram(ram_size), E820_TYPE_RAM);
}
