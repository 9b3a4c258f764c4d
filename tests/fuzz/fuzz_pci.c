/* libFuzzer target: the guest's whole view of the PCI root complex (conf1, ECAM, BAR MMIO
 * in both windows, the MSI-X table and PBA, an SR-IOV capability whose VFs come and go)
 * driven by an arbitrary access sequence, with an I/O-thread-style msix_signal mixed in. Each input is a list of 12-byte records:
 *   op (1) | len code (1) | offset (4, little-endian) | value (6: low bytes used). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"
#include "pci/bus.h"
#include "pci/msix.h"
#include "pci/sriov.h"
#include "vm/layout.h"

#define FUZZ_VFS 9                   /* past the PF's slot into the next one */

struct fuzz_dev {
    struct pci_device pci;
    struct msix msix;
    uint8_t regs[64];
    struct pci_sriov sriov;
    struct pci_device vfs[FUZZ_VFS];
};

static int fr_fds[64];
static unsigned fr_n;

static int fr_add(void *opaque, uint64_t addr, uint32_t data, int *fd)
{
    if (fr_n == 64)
        return -1;
    fr_fds[fr_n] = eventfd(0, EFD_NONBLOCK);
    *fd = fr_fds[fr_n];
    return (int)fr_n++;
}
static int fr_update(void *opaque, int h, uint64_t addr, uint32_t data) { return 0; }
static void fr_remove(void *opaque, int h) { close(fr_fds[h]); }
static const struct msi_router_ops fr_ops = { fr_add, fr_update, fr_remove };
static struct msi_router router = { &fr_ops, NULL };

static void fd_bar_read(struct pci_device *pci, unsigned bar, uint64_t off, void *data,
                        unsigned len)
{
    struct fuzz_dev *d = container_of(pci, struct fuzz_dev, pci);
    if (off < sizeof(d->regs) && len <= sizeof(d->regs) - off)
        memcpy(data, d->regs + off, len);
    else
        memset(data, 0, len);
}

static void fd_bar_write(struct pci_device *pci, unsigned bar, uint64_t off, const void *data,
                         unsigned len)
{
    struct fuzz_dev *d = container_of(pci, struct fuzz_dev, pci);
    if (off < sizeof(d->regs) && len <= sizeof(d->regs) - off)
        memcpy(d->regs + off, data, len);
}

/* FLR (offered by every function here, PF included, to reach pci_device_flr). */
static void fd_flr(struct pci_device *pci)
{
    memset(container_of(pci, struct fuzz_dev, pci)->regs, 0, sizeof(((struct fuzz_dev *)0)->regs));
}

static const struct pci_device_ops fd_ops = { fd_bar_read, fd_bar_write, NULL, fd_flr };
/* VFs: BARs read as zeros, FLR resets nothing of their own. */
static void vf_flr(struct pci_device *pci) {}
static const struct pci_device_ops vf_dev_ops = { NULL, NULL, NULL, vf_flr };

static void vfs_enable(void *opaque, unsigned n)
{
    static const struct pci_ids ids = { .vendor = 0x1af4,
                                        .device = 0x1041,
                                        .class_code = 0x020000 };
    struct fuzz_dev *d = opaque;
    if (n > FUZZ_VFS)
        abort();                    /* the capability must never ask for more */
    for (unsigned i = 0; i < n; i++) {
        if (pci_device_init_vf(&d->vfs[i], "fuzz-vf", &ids, &vf_dev_ops, NULL, 0) < 0)
            abort();
        if (pci_device_set_bar(&d->vfs[i], 2, PCI_BAR_MEM64, true, 16 * KiB) < 0 ||
            pci_device_offer_flr(&d->vfs[i]) < 0 ||
            pci_sriov_add_vf_locked(&d->sriov, i, &d->vfs[i]) < 0)
            abort();
    }
}

static void vfs_disable(void *opaque)
{
    struct fuzz_dev *d = opaque;
    for (unsigned i = 0; i < FUZZ_VFS; i++)
        pci_sriov_remove_vf_locked(&d->sriov, i);
}

static const struct pci_sriov_ops vf_ops = { vfs_enable, vfs_disable, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static const struct pci_ids ids = { .vendor = 0x1af4,
                                        .device = 0x1041,
                                        .class_code = 0x020000 };
    struct pci_bus *bus = malloc(sizeof(*bus));
    struct fuzz_dev *d = calloc(1, sizeof(*d));
    if (!bus || !d ||
        pci_bus_init(bus, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE, LAYOUT_MMIO64_START,
                     LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE) < 0)
        abort();
    if (pci_device_init(&d->pci, "fuzz", &ids, &fd_ops, NULL, 0) < 0)
        abort();
    if (pci_device_set_bar(&d->pci, 0, PCI_BAR_MEM32, false, 16 * KiB) < 0 ||
        pci_device_set_bar(&d->pci, 2, PCI_BAR_MEM64, true, 16 * KiB) < 0 ||
        msix_init(&d->msix, &d->pci, 5, 2, 0x2000, 0x3000, &router) < 0 ||
        pci_device_offer_flr(&d->pci) < 0 ||
        pci_sriov_init(&d->sriov, &d->pci, FUZZ_VFS, 0x1041, &vf_ops, d) < 0 ||
        pci_sriov_set_vf_bar(&d->sriov, 2, PCI_BAR_MEM64, true, 16 * KiB) < 0 ||
        pci_bus_add(bus, &d->pci, PCI_DEVFN(1, 0)) < 0 || pci_sriov_assign_bars(&d->sriov, bus) < 0)
        abort();
    fr_n = 0;

    static const unsigned lens[] = { 1, 2, 4, 8, 3, 0 };
    for (size_t i = 0; i + 12 <= size; i += 12) {
        const uint8_t *r = in + i;
        unsigned len = lens[r[1] % ARRAY_SIZE(lens)];
        uint64_t off = ld_le32(r + 2), val = 0, out = 0;
        memcpy(&val, r + 6, 6);
        if (len == 0)
            len = 1;
        switch (r[0] % 8) {
        case 0:
            pci_bus_cf8_write(bus, off % 8, &val, len > 4 ? 4 : len);
            break;
        case 1:
            pci_bus_cf8_read(bus, off % 8, &out, len > 4 ? 4 : len);
            break;
        case 2:
            pci_bus_ecam_write(bus, off % LAYOUT_ECAM_SIZE, &val, len);
            break;
        case 3:
            pci_bus_ecam_read(bus, off % LAYOUT_ECAM_SIZE, &out, len);
            break;
        case 4:
            pci_bus_mmio32_write(bus, off % LAYOUT_MMIO32_SIZE, &val, len);
            break;
        case 5:
            pci_bus_mmio32_read(bus, off % LAYOUT_MMIO32_SIZE, &out, len);
            break;
        case 6:
            /* Aim at the 64-bit BAR's current page, or the VFs' BARs, most of the time. */
            if (r[1] & 0x40)
                off = (d->sriov.vf_bars[2].addr - LAYOUT_MMIO64_START + (off & 0x3ffff)) %
                      LAYOUT_MMIO64_SIZE;
            else
                off = (d->pci.bars[2].addr - LAYOUT_MMIO64_START + (off & 0x3fff)) %
                      LAYOUT_MMIO64_SIZE;
            if (r[1] & 0x80)
                pci_bus_mmio64_read(bus, off, &out, len);
            else
                pci_bus_mmio64_write(bus, off, &val, len);
            break;
        case 7:
            msix_signal(&d->msix, (unsigned)val % 8);
            break;
        }
    }

    pci_sriov_reset(&d->sriov);
    msix_destroy(&d->msix);
    pci_bus_remove(bus, &d->pci);
    pci_bus_destroy(bus);
    free(d);
    free(bus);
    return 0;
}
