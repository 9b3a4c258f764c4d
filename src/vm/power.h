/* The ways a guest ends: the ACPI hardware-reduced sleep and reset registers (FADT),
 * the i8042 reset line and the pvpanic port. Each turns into vm_request_stop(). */
#ifndef VPF_VM_POWER_H
#define VPF_VM_POWER_H

struct vm;

/* Registers the power, reset and pvpanic ports on the VM's port I/O bus. */
void power_register(struct vm *vm);

#endif
