/* The body (AML after the table header) of vpf's DSDT; every address comes from
 * vm/layout.h. */
#ifndef VPF_VM_DSDT_H
#define VPF_VM_DSDT_H

#include "vm/aml.h"

/* Appends the DSDT's definition block body to a; a->err is set if it did not fit. */
void dsdt_build(struct aml *a);

/* Device objects it defines (for tests and docs). */
#define DSDT_PCI0 "\\_SB_.PCI0"
#define DSDT_MRES "\\_SB_.MRES"
#define DSDT_COM1 "\\_SB_.COM1"
#define DSDT_PEVT "\\_SB_.PEVT"

#endif
