/* The VM's own control commands (vm_ctl.c). Setup: before ctl_server_start(). */
#ifndef VPF_VM_VM_CTL_H
#define VPF_VM_VM_CTL_H

#include "ctl/ctl.h"

struct vm;

/* Registers "info" and "quit". */
void vm_register_ctl(struct vm *vm, struct ctl_server *ctl);

#endif
