#include "vm/power.h"
#include "vm/layout.h"
#include "vm/vm.h"
#include "base/exit.h"
#include "base/log.h"
#include "base/util.h"

#define I8042_COMMAND_PORT   0x64
#define I8042_CMD_RESET      0xfe
#define PVPANIC_PANICKED     (1u << 0)   /* QEMU docs/specs/pvpanic.rst */
#define PVPANIC_CRASH_LOADED (1u << 1)

/* ACPI 6.4 §4.8.3.7 (sleep control register) and §4.8.3.6 (reset register). */
static void power_acpi_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct vm *vm = opaque;
    uint8_t v = *(const uint8_t *)data;
    if (off == ACPI_SLEEP_CONTROL_OFF && (v & ACPI_SLP_EN) && ((v >> 2) & 7) == ACPI_S5_SLP_TYP)
        vm_request_stop(vm, VPF_EXIT_OK, "guest powered off");
    else if (off == ACPI_RESET_OFF && v == ACPI_RESET_VALUE)
        vm_request_stop(vm, VPF_EXIT_OK, "guest rebooted");
}

static void power_acpi_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    memset(data, 0, len);
}

static void power_i8042_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    if (*(const uint8_t *)data == I8042_CMD_RESET)
        vm_request_stop(opaque, VPF_EXIT_OK, "guest rebooted");
}

static void power_pvpanic_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    memset(data, 0, len);
    *(uint8_t *)data = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void power_pvpanic_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    uint8_t v = *(const uint8_t *)data;
    if (v & PVPANIC_PANICKED)
        vm_request_stop(opaque, VPF_EXIT_PANIC, "guest kernel panic");
    else if (v & PVPANIC_CRASH_LOADED)
        log_warn("guest kernel crashed; a crash kernel is taking over");
}

void power_register(struct vm *vm)
{
    if (iobus_register(&vm->pio, LAYOUT_PORT_ACPI_PM, 8, power_acpi_read, power_acpi_write, vm) ||
        iobus_register(&vm->pio, I8042_COMMAND_PORT, 1, NULL, power_i8042_write, vm) ||
        iobus_register(&vm->pio, LAYOUT_PORT_PVPANIC, 1, power_pvpanic_read, power_pvpanic_write,
                       vm))
        die("internal error: power ports overlap");
}
