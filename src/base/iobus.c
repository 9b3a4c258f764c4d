#include "base/iobus.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

void iobus_init(struct iobus *bus, const char *name)
{
    memset(bus, 0, sizeof(*bus));
    pthread_rwlock_init(&bus->lock, NULL);
    bus->name = name;
}

void iobus_destroy(struct iobus *bus)
{
    free(bus->ranges);
    pthread_rwlock_destroy(&bus->lock);
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, iobus_read_fn read,
                   iobus_write_fn write, void *opaque)
{
    if (len == 0 || base + len < base)
        return -1;
    pthread_rwlock_wrlock(&bus->lock);
    unsigned pos = 0;
    while (pos < bus->nranges && bus->ranges[pos].base < base)
        pos++;
    int overlap = (pos > 0 && bus->ranges[pos - 1].base + bus->ranges[pos - 1].len > base) ||
                  (pos < bus->nranges && base + len > bus->ranges[pos].base);
    if (overlap) {
        pthread_rwlock_unlock(&bus->lock);
        return -1;
    }
    if (bus->nranges == bus->cap) {
        unsigned cap = bus->cap ? bus->cap * 2 : 16;
        struct iobus_range *r = realloc(bus->ranges, cap * sizeof(*r));
        if (!r) {
            pthread_rwlock_unlock(&bus->lock);
            return -1;
        }
        bus->ranges = r;
        bus->cap = cap;
    }
    memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
            (bus->nranges - pos) * sizeof(bus->ranges[0]));
    bus->ranges[pos] = (struct iobus_range){ base, len, read, write, opaque };
    bus->nranges++;
    pthread_rwlock_unlock(&bus->lock);
    return 0;
}

int iobus_unregister(struct iobus *bus, uint64_t base, void *opaque)
{
    int ret = -1;
    pthread_rwlock_wrlock(&bus->lock);
    for (unsigned i = 0; i < bus->nranges; i++) {
        if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
            memmove(&bus->ranges[i], &bus->ranges[i + 1],
                    (bus->nranges - i - 1) * sizeof(bus->ranges[0]));
            bus->nranges--;
            ret = 0;
            break;
        }
    }
    pthread_rwlock_unlock(&bus->lock);
    return ret;
}

/* Caller holds the read lock. */
static const struct iobus_range *iobus_find(const struct iobus *bus, uint64_t addr, unsigned len)
{
    unsigned lo = 0, hi = bus->nranges;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        const struct iobus_range *r = &bus->ranges[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->len)
            lo = mid + 1;
        else
            return range_within(addr - r->base, len, r->len) ? r : NULL;
    }
    return NULL;
}

int iobus_read(struct iobus *bus, uint64_t addr, void *data, unsigned len)
{
    pthread_rwlock_rdlock(&bus->lock);
    const struct iobus_range *r = iobus_find(bus, addr, len);
    if (r && r->read)
        r->read(r->opaque, addr - r->base, data, len);
    else
        memset(data, 0xff, len);
    pthread_rwlock_unlock(&bus->lock);
    return r != NULL;
}

int iobus_write(struct iobus *bus, uint64_t addr, const void *data, unsigned len)
{
    pthread_rwlock_rdlock(&bus->lock);
    const struct iobus_range *r = iobus_find(bus, addr, len);
    if (r && r->write)
        r->write(r->opaque, addr - r->base, data, len);
    pthread_rwlock_unlock(&bus->lock);
    return r != NULL;
}
