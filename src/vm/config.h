/* Everything the command line says about a VM, parsed once by main.c. */
#ifndef VPF_VM_CONFIG_H
#define VPF_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl/ctl.h"
#include "net/net_opts.h"

#define VM_MAX_NETS 8

struct vm_config {
    const char *kernel;
    const char *initrd;     /* NULL for none */
    const char *cmdline;
    unsigned cpus;
    uint64_t memory;
    const char *kvm_dev;    /* /dev/kvm unless overridden (tests) */
    struct net_opts nets[VM_MAX_NETS];   /* --net, in order: net0, net1, ... */
    unsigned nnets;
    const char *ctl_path;   /* --ctl: control socket, NULL for none */
    struct ctl_access ctl_access;   /* --ctl-mode, --ctl-group */
    int seccomp;            /* --seccomp: enum sandbox_seccomp (vm/sandbox.h), 0 = on */
    const char *user;       /* --user: NULL to stay who we are */
    uid_t uid;              /* --user's uid and primary group */
    gid_t gid;
};

#endif
