/* A small AML encoder (ACPI 6.4 §20.2), enough for vpf's DSDT: names, integers, strings,
 * packages, buffers, scopes, devices, a few methods, and resource descriptors (§6.4).
 * Output goes into a caller-supplied buffer; any overflow sets `err` and later calls
 * write nothing, so callers check once at the end. */
#ifndef VPF_VM_AML_H
#define VPF_VM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
    uint8_t *buf;
    size_t len, cap;
    bool err;
};

void aml_init(struct aml *a, void *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* NameString (§20.2.2): "\\_SB_.PCI0", "PCI0", "_S5_"; segments shorter than four
 * characters are padded with '_'. */
void aml_name(struct aml *a, const char *path);
/* Smallest integer encoding: Zero, One, Ones or Byte/Word/DWord/QWord prefix. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISA ID "PNP0A08" compressed into a DWord (§6.1.5). */
void aml_eisaid(struct aml *a, const char *id);
/* Buffer (§19.6.10) holding the given bytes. */
void aml_buffer(struct aml *a, const void *p, size_t n);

/* Name (path, <next object>): the caller emits the value right after. */
void aml_name_decl(struct aml *a, const char *name);

/* Objects with a PkgLength: *_open returns a mark, aml_close(mark) fixes the length
 * once the contents are written. */
size_t aml_scope_open(struct aml *a, const char *name);
size_t aml_device_open(struct aml *a, const char *name);
size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized);
size_t aml_package_open(struct aml *a, unsigned nelems);
size_t aml_if_open(struct aml *a);   /* predicate follows, then the body */
void aml_close(struct aml *a, size_t mark);

/* Resource descriptors (§6.4), written into a template buffer that aml_buffer() wraps.
 * Address space descriptors are producers with fixed min/max and positive decode, as a
 * host bridge's windows are (§6.4.3.5). */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable);
void aml_res_io(struct aml *a, uint16_t base, uint8_t align, uint8_t len);
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
void aml_res_irq(struct aml *a, uint16_t mask);   /* IRQNoFlags: edge, active high */
/* Extended Interrupt (§6.4.3.6): one GSI, ResourceConsumer, edge, active high, exclusive. */
void aml_res_ext_irq_edge(struct aml *a, uint32_t gsi);
void aml_res_end(struct aml *a);

/* AML opcodes the DSDT code uses directly (§20.2.5). */
#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_ARG(n)      (0x68 + (n))
#define AML_CREATE_DWORD_FIELD 0x8a
#define AML_OR          0x7d
#define AML_LNOT        0x92
#define AML_LEQUAL      0x93
#define AML_RETURN      0xa4
#define AML_NOTIFY      0x86

#endif
