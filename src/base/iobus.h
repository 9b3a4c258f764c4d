/* An address space of device ranges (port I/O or MMIO) that vCPU exits are dispatched
 * through. Devices register a range with read/write callbacks; lookups are a binary
 * search over a sorted array. Registration happens at setup and when the guest
 * reprograms BARs, so it is guarded by a rwlock; dispatch takes the read side only. */
#ifndef VPF_BASE_IOBUS_H
#define VPF_BASE_IOBUS_H

#include <pthread.h>
#include <stdint.h>

/* off is relative to the range base; len is 1, 2, 4 or 8. */
typedef void (*iobus_read_fn)(void *opaque, uint64_t off, void *data, unsigned len);
typedef void (*iobus_write_fn)(void *opaque, uint64_t off, const void *data, unsigned len);

struct iobus_range {
    uint64_t base, len;
    iobus_read_fn read;
    iobus_write_fn write;
    void *opaque;
};

struct iobus {
    pthread_rwlock_t lock;
    struct iobus_range *ranges;
    unsigned nranges, cap;
    const char *name;
};

void iobus_init(struct iobus *bus, const char *name);
void iobus_destroy(struct iobus *bus);
/* Returns 0, or -1 if the range is empty or overlaps a registered one. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, iobus_read_fn read,
                   iobus_write_fn write, void *opaque);
/* Removes the range registered at exactly base with this opaque; -1 if none. */
int iobus_unregister(struct iobus *bus, uint64_t base, void *opaque);
/* Dispatches an access. Reads of unclaimed addresses return all ones (as on a real
 * bus with no responder); unclaimed writes are dropped. Returns 1 if a device claimed
 * the access, 0 otherwise. Accesses straddling the end of a range are unclaimed. */
int iobus_read(struct iobus *bus, uint64_t addr, void *data, unsigned len);
int iobus_write(struct iobus *bus, uint64_t addr, const void *data, unsigned len);

#endif
