/* Control commands of the VM itself: "info", "powerdown" and "quit" (docs/api.md).
 * Control thread. */
#include "vm/netdev.h"
#include "vm/vm.h"
#include "vm/vm_ctl.h"

#include "base/clock.h"
#include "base/exit.h"
#include "base/log.h"
#include "base/util.h"
#include "base/version.h"

static void ctl_info(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    uint64_t ms = (monotonic_ns() - vm->started_ns) / NSEC_PER_MSEC;
    json_t *devs = json_array();
    for (unsigned i = 0; devs && i < vm->nnetdevs; i++)
        json_array_append_new(devs, json_string(vm->netdevs[i].name));
    ctl_reply_str(reply, "version", VPF_VERSION);
    ctl_reply_str(reply, "revision", VPF_GIT_REVISION);
    ctl_reply_int(reply, "uptime_ms", (int64_t)ms);
    ctl_reply_int(reply, "cpus", vm->cfg->cpus);
    ctl_reply_int(reply, "memory_mib", (int64_t)(vm->cfg->memory / MiB));
    ctl_reply_set(reply, "devices", devs);
}

/* Stops the VM as if its power were cut: vpf tears it down and exits 0. */
static void ctl_quit(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    log_info("quit (control socket, uid %u)", (unsigned)req->uid);
    vm_request_stop(vm, VPF_EXIT_OK, "quit through the control socket");
    ctl_reply_bool(reply, "stopping", true);
}

/* The ACPI power button: the guest decides (a guest without a handler ignores it). */
static void ctl_powerdown(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    struct vm *vm = opaque;
    if (atomic_load(&vm->stopping)) {
        ctl_reply_fail(reply, CTL_ERR_FAILED, "the VM is already stopping");
        return;
    }
    if (vm_press_power_button(vm) < 0) {
        ctl_reply_fail(reply, CTL_ERR_FAILED, "cannot raise the power button's interrupt");
        return;
    }
    log_info("power button pressed (control socket, uid %u)", (unsigned)req->uid);
    ctl_reply_bool(reply, "pressed", true);
}

void vm_register_ctl(struct vm *vm, struct ctl_server *ctl)
{
    static const struct ctl_arg none[] = { { NULL } };
    ctl_server_register(ctl, "info", "vpf's version, uptime, vCPUs, memory and devices", none,
                        ctl_info, vm);
    ctl_server_register(
        ctl, "powerdown",
        "press the ACPI power button: the guest shuts down cleanly if it handles it", none,
        ctl_powerdown, vm);
    ctl_server_register(ctl, "quit", "stop the VM at once (no guest shutdown); vpf exits 0", none,
                        ctl_quit, vm);
}
