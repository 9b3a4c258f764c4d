#include "vm/aml.h"

#include <string.h>

#define PKGLEN_RESERVE 4   /* the longest PkgLength encoding (§20.2.4) */

void aml_init(struct aml *a, void *buf, size_t cap) { *a = (struct aml){ .buf = buf, .cap = cap }; }

void aml_bytes(struct aml *a, const void *p, size_t n)
{
    if (a->err || n > a->cap - a->len) {
        a->err = true;
        return;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

void aml_byte(struct aml *a, uint8_t b) { aml_bytes(a, &b, 1); }

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        aml_byte(a, (uint8_t)(v >> (8 * i)));
}

static void aml_nameseg(struct aml *a, const char *s, size_t n)
{
    char seg[4] = { '_', '_', '_', '_' };
    if (n == 0 || n > 4) {
        a->err = true;
        return;
    }
    memcpy(seg, s, n);
    aml_bytes(a, seg, 4);
}

void aml_name(struct aml *a, const char *path)
{
    if (*path == '\\') {
        aml_byte(a, '\\');
        path++;
    }
    unsigned nseg = *path ? 1 : 0;
    for (const char *p = path; *p; p++)
        nseg += *p == '.';
    if (nseg == 0)
        aml_byte(a, 0x00);                 /* NullName */
    else if (nseg == 2)
        aml_byte(a, 0x2e);                 /* DualNamePrefix */
    else if (nseg > 2) {
        aml_byte(a, 0x2f);                 /* MultiNamePrefix */
        aml_byte(a, (uint8_t)nseg);
    }
    while (*path) {
        size_t n = strcspn(path, ".");
        aml_nameseg(a, path, n);
        path += n + (path[n] == '.');
    }
}

void aml_integer(struct aml *a, uint64_t v)
{
    if (v == 0)
        aml_byte(a, 0x00);                 /* ZeroOp */
    else if (v == 1)
        aml_byte(a, 0x01);                 /* OneOp */
    else if (v == UINT64_MAX)
        aml_byte(a, 0xff);                 /* OnesOp (DSDT revision 2: 64 bits) */
    else if (v <= 0xff) {
        aml_byte(a, 0x0a);
        aml_le(a, v, 1);
    } else if (v <= 0xffff) {
        aml_byte(a, 0x0b);
        aml_le(a, v, 2);
    } else if (v <= 0xffffffff) {
        aml_byte(a, 0x0c);
        aml_le(a, v, 4);
    } else {
        aml_byte(a, 0x0e);
        aml_le(a, v, 8);
    }
}

void aml_string(struct aml *a, const char *s)
{
    aml_byte(a, 0x0d);
    aml_bytes(a, s, strlen(s) + 1);
}

static unsigned hexval(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10) & 0xf;
}

void aml_eisaid(struct aml *a, const char *id)
{
    if (strlen(id) != 7) {
        a->err = true;
        return;
    }
    unsigned c0 = (unsigned)(id[0] - 0x40) & 0x1f, c1 = (unsigned)(id[1] - 0x40) & 0x1f;
    unsigned c2 = (unsigned)(id[2] - 0x40) & 0x1f;
    uint8_t b[4] = {
        (uint8_t)(c0 << 2 | c1 >> 3),
        (uint8_t)((c1 & 7) << 5 | c2),
        (uint8_t)(hexval(id[3]) << 4 | hexval(id[4])),
        (uint8_t)(hexval(id[5]) << 4 | hexval(id[6])),
    };
    aml_byte(a, 0x0c);
    aml_bytes(a, b, 4);
}

void aml_name_decl(struct aml *a, const char *name)
{
    aml_byte(a, 0x08);                     /* NameOp */
    aml_name(a, name);
}

static size_t aml_pkg_open(struct aml *a)
{
    size_t mark = a->len;
    static const uint8_t zeros[PKGLEN_RESERVE];
    aml_bytes(a, zeros, sizeof(zeros));
    return mark;
}

void aml_close(struct aml *a, size_t mark)
{
    if (a->err)
        return;
    size_t content = a->len - mark - PKGLEN_RESERVE;
    unsigned n = content + 1 <= 0x3f      ? 1
                 : content + 2 <= 0xfff   ? 2
                 : content + 3 <= 0xfffff ? 3
                                          : 4;
    size_t total = content + n;
    if (total > 0xfffffff) {
        a->err = true;
        return;
    }
    memmove(a->buf + mark + n, a->buf + mark + PKGLEN_RESERVE, content);
    if (n == 1) {
        a->buf[mark] = (uint8_t)total;
    } else {
        a->buf[mark] = (uint8_t)((n - 1) << 6 | (total & 0xf));
        for (unsigned i = 1; i < n; i++)
            a->buf[mark + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
    }
    a->len -= PKGLEN_RESERVE - n;
}

void aml_buffer(struct aml *a, const void *p, size_t n)
{
    aml_byte(a, 0x11);                     /* BufferOp */
    size_t mark = aml_pkg_open(a);
    aml_integer(a, n);
    aml_bytes(a, p, n);
    aml_close(a, mark);
}

size_t aml_scope_open(struct aml *a, const char *name)
{
    aml_byte(a, 0x10);                     /* ScopeOp */
    size_t mark = aml_pkg_open(a);
    aml_name(a, name);
    return mark;
}

size_t aml_device_open(struct aml *a, const char *name)
{
    aml_byte(a, 0x5b);                     /* ExtOpPrefix */
    aml_byte(a, 0x82);                     /* DeviceOp */
    size_t mark = aml_pkg_open(a);
    aml_name(a, name);
    return mark;
}

size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
    aml_byte(a, 0x14);                     /* MethodOp */
    size_t mark = aml_pkg_open(a);
    aml_name(a, name);
    aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
    return mark;
}

size_t aml_package_open(struct aml *a, unsigned nelems)
{
    aml_byte(a, 0x12);                     /* PackageOp */
    size_t mark = aml_pkg_open(a);
    aml_byte(a, (uint8_t)nelems);
    return mark;
}

size_t aml_if_open(struct aml *a)
{
    aml_byte(a, 0xa0);                     /* IfOp */
    return aml_pkg_open(a);
}

/* §6.4.3.5.1-3: address space descriptors; general flags: producer, MinFixed, MaxFixed,
 * PosDecode. */
#define RES_ADDR_FLAGS 0x0c

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
    uint8_t hdr[] = { 0x88, 0x0d, 0x00, 2 /* bus */, RES_ADDR_FLAGS, 0 };
    aml_bytes(a, hdr, sizeof(hdr));
    aml_le(a, 0, 2);
    aml_le(a, min, 2);
    aml_le(a, max, 2);
    aml_le(a, 0, 2);
    aml_le(a, (uint16_t)(max - min + 1), 2);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
    uint8_t hdr[] = { 0x88, 0x0d, 0x00, 1 /* I/O */, RES_ADDR_FLAGS, 3 /* EntireRange */ };
    aml_bytes(a, hdr, sizeof(hdr));
    aml_le(a, 0, 2);
    aml_le(a, min, 2);
    aml_le(a, max, 2);
    aml_le(a, 0, 2);
    aml_le(a, (uint16_t)(max - min + 1), 2);
}

/* Type-specific flags of memory ranges (§6.4.3.5.4): bit 0 read-write, bits 2:1 0
 * non-cacheable, 1 cacheable. */
static uint8_t mem_flags(bool cacheable) { return (uint8_t)(1 | (cacheable ? 2 : 0)); }

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
    uint8_t hdr[] = { 0x87, 0x17, 0x00, 0 /* memory */, RES_ADDR_FLAGS, mem_flags(cacheable) };
    aml_bytes(a, hdr, sizeof(hdr));
    aml_le(a, 0, 4);
    aml_le(a, min, 4);
    aml_le(a, max, 4);
    aml_le(a, 0, 4);
    aml_le(a, (uint64_t)max - min + 1, 4);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable)
{
    uint8_t hdr[] = { 0x8a, 0x2b, 0x00, 0 /* memory */, RES_ADDR_FLAGS, mem_flags(cacheable) };
    aml_bytes(a, hdr, sizeof(hdr));
    aml_le(a, 0, 8);
    aml_le(a, min, 8);
    aml_le(a, max, 8);
    aml_le(a, 0, 8);
    aml_le(a, max - min + 1, 8);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t align, uint8_t len)
{
    uint8_t d[] = { 0x47,          0x01 /* Decode16 */,  (uint8_t)base, (uint8_t)(base >> 8),
                    (uint8_t)base, (uint8_t)(base >> 8), align,         len };
    aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
    uint8_t hdr[] = { 0x86, 0x09, 0x00, 1 /* read-write */ };
    aml_bytes(a, hdr, sizeof(hdr));
    aml_le(a, base, 4);
    aml_le(a, len, 4);
}

void aml_res_irq(struct aml *a, uint16_t mask)
{
    uint8_t d[] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };
    aml_bytes(a, d, sizeof(d));
}

void aml_res_ext_irq_edge(struct aml *a, uint32_t gsi)
{
    /* Length 6: flags, table length 1, one DWord; flags bit 0 consumer, bit 1 edge. */
    uint8_t d[] = { 0x89, 0x06, 0x00, 0x03, 0x01 };
    aml_bytes(a, d, sizeof(d));
    aml_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
    uint8_t d[] = { 0x79, 0x00 };          /* checksum 0: "treated as valid" */
    aml_bytes(a, d, sizeof(d));
}
