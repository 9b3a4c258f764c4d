/* vfpoke: drives a virtio-net PCI function's registers from L2 userspace, as a hostile or
 * broken driver would (tests/e2e/hostile.sh). The function must have no driver bound.
 * Its BAR is mapped through sysfs (resourceN), config space read through the `config`
 * file, and rings live in locked pages whose guest-physical addresses come from
 * /proc/self/pagemap (we run as root in L2).
 *
 * Usage: vfpoke ADDR COMMAND [ARGS]   (ADDR like 0000:00:01.2)
 *   status V             write device_status V (hex or decimal); print it back
 *   norx                 reset, negotiate VERSION_1, enable only the transmit queue,
 *                        DRIVER_OK: the device has no receive queue (issue 12, fault 5)
 *   redo                 clear DRIVER_OK without a reset, then set it again (fault 6)
 *   ctrlflood SECS       reset, negotiate CTRL_VQ + CTRL_RX, keep the control queue
 *                        full of commands for SECS seconds (fault 7); prints the count
 *   garbage SEED COUNT   COUNT random writes into the common config and MSI-X table
 *   statusstorm COUNT    COUNT driver starts whose features lack VERSION_1 (each one
 *                        refused: vpf must not log each; fault 8)
 * Exit status 0 unless something could not be mapped or read. Prints one line of result. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* virtio 1.2 §4.1.4.3 common configuration. */
enum {
    DFSEL = 0x00,
    DF = 0x04,
    GFSEL = 0x08,
    GF = 0x0c,
    MSIX_CFG = 0x10,
    NUMQ = 0x12,
    STATUS = 0x14,
    QSEL = 0x16,
    QSIZE = 0x18,
    QMSIX = 0x1a,
    QENABLE = 0x1c,
    QNOFF = 0x1e,
    QDESC = 0x20,
    QAVAIL = 0x28,
    QUSED = 0x30,
};
#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define F_CTRL_VQ 17
#define F_CTRL_RX 18
#define F_VERSION_1 32

static const char *addr;
static volatile uint8_t *bar;
static size_t bar_len;
static uint32_t common_off, notify_off, notify_mult, msix_off, msix_n;

static void die(const char *what)
{
    fprintf(stderr, "vfpoke %s: %s: %s\n", addr, what, strerror(errno));
    exit(1);
}

static int sysfs_open(const char *file, int flags)
{
    char p[256];
    snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/%s", addr, file);
    return open(p, flags);
}

/* The virtio capabilities (vendor cap 0x09: cfg_type at +3, BAR +4, offset +8, length
 * +12; notify's multiplier at +16) and MSI-X (cap 0x11). All on BAR 4 in vpf. */
static void caps_read(unsigned *bar_index)
{
    uint8_t cfg[256];
    int fd = sysfs_open("config", O_RDONLY);
    if (fd < 0 || pread(fd, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg))
        die("config");
    close(fd);
    for (unsigned p = cfg[0x34], hops = 0; p && p < 0xfc && hops < 48; p = cfg[p + 1], hops++) {
        uint32_t off = cfg[p + 8] | cfg[p + 9] << 8 | cfg[p + 10] << 16 |
                       (uint32_t)cfg[p + 11] << 24;
        if (cfg[p] == 0x09 && cfg[p + 3] == 1) {
            common_off = off;
            *bar_index = cfg[p + 4];
        } else if (cfg[p] == 0x09 && cfg[p + 3] == 2) {
            notify_off = off;
            notify_mult = cfg[p + 16] | cfg[p + 17] << 8 | cfg[p + 18] << 16 |
                          (uint32_t)cfg[p + 19] << 24;
        } else if (cfg[p] == 0x11) {
            msix_n = ((cfg[p + 2] | cfg[p + 3] << 8) & 0x7ff) + 1;
            msix_off = (cfg[p + 4] | cfg[p + 5] << 8 | cfg[p + 6] << 16 |
                        (uint32_t)cfg[p + 7] << 24) &
                       ~7u;
        }
    }
}

/* Maps BAR i; its length from the text file `resource` (line i: start end flags). */
static void bar_map(void)
{
    unsigned i = 99;
    caps_read(&i);
    if (i > 5) {
        errno = ENOENT;
        die("no virtio common configuration capability");
    }
    char name[16];
    FILE *f;
    int fd = sysfs_open("resource", O_RDONLY);
    unsigned long long start = 0, end = 0, flags;
    if (fd < 0 || !(f = fdopen(fd, "r")))
        die("resource");
    for (unsigned l = 0; l <= i; l++)
        if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
            die("resource format");
    fclose(f);
    bar_len = end - start + 1;
    snprintf(name, sizeof(name), "resource%u", i);
    fd = sysfs_open(name, O_RDWR | O_SYNC);
    if (fd < 0)
        die(name);
    bar = mmap(NULL, bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (bar == MAP_FAILED)
        die("mmap BAR");
}

static void w8(uint32_t off, uint8_t v) { *(volatile uint8_t *)(bar + common_off + off) = v; }
static void w16(uint32_t off, uint16_t v) { *(volatile uint16_t *)(bar + common_off + off) = v; }
static void w32(uint32_t off, uint32_t v) { *(volatile uint32_t *)(bar + common_off + off) = v; }
static void w64(uint32_t off, uint64_t v)
{
    w32(off, (uint32_t)v);
    w32(off + 4, (uint32_t)(v >> 32));
}
static uint8_t r8(uint32_t off) { return *(volatile uint8_t *)(bar + common_off + off); }
static uint16_t r16(uint32_t off) { return *(volatile uint16_t *)(bar + common_off + off); }

/* A locked page and its guest-physical address. */
struct page {
    uint8_t *va;
    uint64_t pa;
};

static struct page page_get(void)
{
    struct page pg;
    pg.va = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
    if (pg.va == MAP_FAILED)
        die("mmap page");
    memset(pg.va, 0, 4096);
    uint64_t e;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)pg.va / 4096 * 8)) != 8 || !(e >> 63))
        die("pagemap");
    close(fd);
    pg.pa = (e & ((1ull << 55) - 1)) * 4096;
    return pg;
}

struct ring {
    uint16_t size;
    struct page desc, avail, used;
};

/* Queue q with a ring of size entries (each part in its own page), no interrupt vector. */
static void queue_setup(struct ring *r, uint16_t q, uint16_t size)
{
    r->size = size;
    r->desc = page_get();
    r->avail = page_get();
    r->used = page_get();
    w16(QSEL, q);
    w16(QSIZE, size);
    w16(QMSIX, 0xffff);
    w64(QDESC, r->desc.pa);
    w64(QAVAIL, r->avail.pa);
    w64(QUSED, r->used.pa);
    w16(QENABLE, 1);
}

static void kick(uint16_t q)
{
    w16(QSEL, q);
    uint16_t off = r16(QNOFF);
    *(volatile uint16_t *)(bar + notify_off + (uint32_t)off * notify_mult) = q;
}

static void negotiate(uint64_t features)
{
    w8(STATUS, 0);
    for (unsigned i = 0; r8(STATUS) && i < 1000000; i++)   /* virtio 1.2 §4.1.4.3.2 */
        ;
    w8(STATUS, S_ACK);
    w8(STATUS, S_ACK | S_DRIVER);
    w32(GFSEL, 0);
    w32(GF, (uint32_t)features);
    w32(GFSEL, 1);
    w32(GF, (uint32_t)(features >> 32));
    w8(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    w16(MSIX_CFG, 0xffff);
}

static int cmd_norx(void)
{
    struct ring tx;
    negotiate(1ull << F_VERSION_1);
    queue_setup(&tx, 1, 64);
    w8(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    printf("norx status %#x\n", r8(STATUS));
    return 0;
}

static int cmd_redo(void)
{
    w8(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    w8(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    printf("redo status %#x\n", r8(STATUS));
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Two descriptors a command: { class CTRL_RX, cmd PROMISC, on } and the ack byte. The
 * avail ring is refilled with whatever the device used, and kicked, until secs pass. */
static int cmd_ctrlflood(double secs)
{
    struct ring c;
    struct page buf = page_get();
    negotiate(1ull << F_VERSION_1 | 1ull << F_CTRL_VQ | 1ull << F_CTRL_RX);
    uint16_t nq = r16(NUMQ);
    queue_setup(&c, (uint16_t)(nq - 1), 64);
    w8(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    volatile uint64_t *desc = (volatile uint64_t *)c.desc.va;
    volatile uint16_t *avail = (volatile uint16_t *)c.avail.va;
    volatile uint16_t *used = (volatile uint16_t *)c.used.va;
    for (unsigned i = 0; i < 32; i++) {         /* command i: descriptors 2i, 2i+1 */
        uint8_t *b = buf.va + 8 * i;
        b[0] = 0;
        b[1] = 0;
        b[2] = 1;
        desc[2 * (2 * i)] = buf.pa + 8 * i;
        desc[2 * (2 * i) + 1] = 3 | (uint64_t)1 << 32 | (uint64_t)(2 * i + 1) << 48;   /* NEXT */
        desc[2 * (2 * i + 1)] = buf.pa + 8 * i + 4;
        desc[2 * (2 * i + 1) + 1] = 1 | (uint64_t)2 << 32; /* WRITE */
    }
    uint16_t aidx = 0, seen = 0;
    unsigned long done = 0;
    printf("ctrlflood running\n");
    fflush(stdout);
    double end = now_s() + secs;
    while (now_s() < end && !(r8(STATUS) & 0x40)) {
        uint16_t u = used[1];
        done += (uint16_t)(u - seen);
        seen = u;
        while ((uint16_t)(aidx - seen) < 32) {
            avail[2 + aidx % 64] = (uint16_t)(2 * (aidx % 32));
            aidx++;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        avail[1] = aidx;
        kick((uint16_t)(nq - 1));
    }
    printf("ctrlflood commands %lu status %#x\n", done, r8(STATUS));
    return 0;
}

static int cmd_garbage(unsigned seed, unsigned count)
{
    srand(seed);
    for (unsigned i = 0; i < count; i++) {
        unsigned len = 1u << (rand() % 3);
        uint32_t v = (uint32_t)rand() * 2654435761u;
        uint32_t off;
        if (rand() % 3 == 0 && msix_n)
            off = msix_off + (uint32_t)rand() % (msix_n * 16);
        else
            off = common_off + (uint32_t)rand() % 0x38;
        off &= ~(len - 1);
        if (off + len > bar_len)
            continue;
        if (len == 1)
            *(volatile uint8_t *)(bar + off) = (uint8_t)v;
        else if (len == 2)
            *(volatile uint16_t *)(bar + off) = (uint16_t)v;
        else
            *(volatile uint32_t *)(bar + off) = v;
    }
    printf("garbage %u writes, status %#x\n", count, r8(STATUS));
    return 0;
}

static int cmd_statusstorm(unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        negotiate(1ull << F_CTRL_VQ); /* no VERSION_1: FEATURES_OK refused */
    printf("statusstorm %u status %#x\n", count, r8(STATUS));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vfpoke ADDR status V|norx|redo|ctrlflood SECS|garbage SEED COUNT|"
                        "statusstorm COUNT\n");
        return 2;
    }
    addr = argv[1];
    bar_map();
    const char *cmd = argv[2];
    if (!strcmp(cmd, "status") && argc == 4) {
        w8(STATUS, (uint8_t)strtoul(argv[3], NULL, 0));
        printf("status %#x\n", r8(STATUS));
        return 0;
    }
    if (!strcmp(cmd, "norx"))
        return cmd_norx();
    if (!strcmp(cmd, "redo"))
        return cmd_redo();
    if (!strcmp(cmd, "ctrlflood") && argc == 4)
        return cmd_ctrlflood(atof(argv[3]));
    if (!strcmp(cmd, "garbage") && argc == 5)
        return cmd_garbage((unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (!strcmp(cmd, "statusstorm") && argc == 4)
        return cmd_statusstorm((unsigned)atoi(argv[3]));
    fprintf(stderr, "vfpoke: bad command\n");
    return 2;
}
