#include "vm/vm.h"
#include "vm/vm_ctl.h"
#include "vm/acpi.h"
#include "vm/boot.h"
#include "vm/bzimage.h"
#include "vm/layout.h"
#include "vm/netdev.h"
#include "vm/notify.h"
#include "vm/power.h"
#include "vm/sandbox.h"
#include "vm/vcpu.h"
#include "base/clock.h"
#include "base/exit.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* xAPIC IDs are 8 bits and 0xff is broadcast: the MADT can describe at most 255 vCPUs. */
#define VM_MAX_CPUS 255

struct mapped_file {
    uint8_t *data;
    size_t size;
};

static void file_map(const char *path, const char *what, struct mapped_file *f)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die_errno("cannot open %s '%s'", what, path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        die_errno("cannot stat %s '%s'", what, path);
    if (!S_ISREG(st.st_mode))
        die("%s '%s' is not a regular file", what, path);
    if (st.st_size == 0)
        die("%s '%s' is empty", what, path);
    f->size = (size_t)st.st_size;
    f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->data == MAP_FAILED)
        die_errno("cannot map %s '%s'", what, path);
    close(fd);
}

void vm_request_stop(struct vm *vm, int status, const char *why)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
        return;
    vm->exit_status = status;
    vm->stop_reason = why;
    /* A guest that ends badly is worth a line even with --quiet. */
    log_msg(status == VPF_EXIT_OK ? LOG_INFO : LOG_WARN, "%s (exit status %d)", why, status);
    if (vm->ctl_started)
        ctl_server_publish(&vm->ctl, "shutdown",
                           json_pack("{s:s,s:i}", "reason", why, "status", status));
    uint64_t one = 1;
    if (write(vm->stop_fd, &one, sizeof(one)) < 0)
        log_error("cannot signal VM stop: %s", strerror(errno));
}

int vm_press_power_button(struct vm *vm)
{
    /* An edge on GED0's pin (dsdt.c): the guest runs _EVT, which notifies PWRB. */
    if (kvm_irq_line(&vm->kvm, LAYOUT_GSI_GED, 1) < 0 ||
        kvm_irq_line(&vm->kvm, LAYOUT_GSI_GED, 0) < 0) {
        log_error("power button: KVM_IRQ_LINE: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* SIGINT/SIGTERM stop the VM cleanly (taps removed, terminal restored). The handler only
 * does async-signal-safe work: record the signal and wake the main thread. */
static volatile sig_atomic_t vm_stop_signal;
static int vm_signal_stop_fd = -1;

static void vm_on_signal(int sig)
{
    vm_stop_signal = sig;
    uint64_t one = 1;
    if (vm_signal_stop_fd >= 0)
        (void)!write(vm_signal_stop_fd, &one, sizeof(one));
}

static void vm_install_stop_signals(struct vm *vm)
{
    vm_signal_stop_fd = vm->stop_fd;
    struct sigaction sa = { .sa_handler = vm_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void vm_uart_irq(void *opaque, int level)
{
    struct vm *vm = opaque;
    kvm_irq_line(&vm->kvm, LAYOUT_IRQ_COM1, level);
}

/* Host stdin -> guest ttyS0. Blocks in read(); cancelled when the VM stops. */
static void *vm_stdin_thread(void *arg)
{
    struct vm *vm = arg;
    uint8_t buf[UART_FIFO_SIZE];
    pthread_setname_np(pthread_self(), "stdin");
    confine_self(CONFINE_STDIN);
    /* Ends when stdin does, or when stop_fd becomes readable (the main thread leaves it
     * so once the VM stops): no pthread_cancel, whose unwinder would load libgcc_s. */
    for (;;) {
        unsigned space = uart_rx_space(&vm->uart);
        if (space == 0) {
            /* The guest has not drained the FIFO yet: wait for it without spinning. */
            struct pollfd p = { .fd = vm->stop_fd, .events = POLLIN };
            if (poll(&p, 1, 10) > 0)
                return NULL;
            continue;
        }
        struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
                               { .fd = vm->stop_fd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        if (!p[0].revents)
            continue;
        ssize_t n = read(STDIN_FILENO, buf, space);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;    /* EOF or error: the guest simply gets no more input */
        uart_receive(&vm->uart, buf, (unsigned)n);
    }
}

static struct termios saved_termios;
static int termios_saved;

static void terminal_restore(void)
{
    if (termios_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

/* Characters go to the guest as typed; Ctrl-C still stops vpf (ISIG kept). */
static void terminal_setup(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
        return;
    termios_saved = 1;
    atexit(terminal_restore);
    struct termios raw = saved_termios;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
    raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

static void vm_validate(const struct vm_config *cfg)
{
    if (cfg->memory == 0)
        die("--memory must be larger than 0");
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    uint64_t host_ram = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size
                                                   : UINT64_MAX;
    if (cfg->memory > host_ram)
        die("--memory %llu MiB is more than this host's %llu MiB of RAM",
            (unsigned long long)(cfg->memory / MiB), (unsigned long long)(host_ram / MiB));
    if (cfg->memory > LAYOUT_MAX_RAM)
        die("--memory %llu MiB is more than vpf can map (%llu MiB)",
            (unsigned long long)(cfg->memory / MiB), (unsigned long long)(LAYOUT_MAX_RAM / MiB));
    if (cfg->cpus == 0)
        die("--cpus must be at least 1");
    if (cfg->cpus > VM_MAX_CPUS)
        die("--cpus %u is more than vpf supports (%d)", cfg->cpus, VM_MAX_CPUS);
}

/* The PCIe root complex: conf1 ports, ECAM, and the two BAR windows of the DSDT's _CRS. */
static void vm_setup_pci(struct vm *vm)
{
    if (pci_bus_init(&vm->pci, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE, LAYOUT_MMIO64_START,
                     LAYOUT_MMIO64_SIZE, LAYOUT_ECAM_SIZE) < 0)
        die("internal error: bad PCI windows");
    if (iobus_register(&vm->pio, LAYOUT_PORT_PCI_CF8, 8, pci_bus_cf8_read, pci_bus_cf8_write,
                       &vm->pci) ||
        iobus_register(&vm->mmio, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, pci_bus_ecam_read,
                       pci_bus_ecam_write, &vm->pci) ||
        iobus_register(&vm->mmio, LAYOUT_MMIO32_START, LAYOUT_MMIO32_SIZE, pci_bus_mmio32_read,
                       pci_bus_mmio32_write, &vm->pci) ||
        iobus_register(&vm->mmio, LAYOUT_MMIO64_START, LAYOUT_MMIO64_SIZE, pci_bus_mmio64_read,
                       pci_bus_mmio64_write, &vm->pci))
        die("internal error: PCI ranges overlap");
}

/* The kernel and initrd files, mapped and checked (setup errors die). */
static void vm_load_images(const struct vm_config *cfg, struct mapped_file *kernel_file,
                           struct bzimage *kernel, struct mapped_file *initrd_file)
{
    char err[256];
    file_map(cfg->kernel, "kernel", kernel_file);
    if (bzimage_parse(kernel_file->data, kernel_file->size, kernel, err, sizeof(err)) < 0)
        die("kernel '%s': %s", cfg->kernel, err);
    if (cfg->initrd) {
        file_map(cfg->initrd, "initrd", initrd_file);
        if (initrd_file->size >= cfg->memory)
            die("initrd '%s' (%llu MiB) does not fit in %llu MiB of guest RAM", cfg->initrd,
                (unsigned long long)(initrd_file->size / MiB),
                (unsigned long long)(cfg->memory / MiB));
    }
}

/* KVM, guest RAM, the interrupt controllers, the buses and every device; the control
 * socket bound (not served yet). */
static void vm_setup_machine(struct vm *vm)
{
    const struct vm_config *cfg = vm->cfg;
    kvm_open(&vm->kvm, cfg->kvm_dev);
    if (cfg->cpus > (unsigned)vm->kvm.max_vcpus)
        die("--cpus %u is more than KVM allows on this host (%d)", cfg->cpus, vm->kvm.max_vcpus);
    /* A vhost-user peer maps guest RAM itself: shareable (memfd) when any may need it. */
    bool shared = false;
    for (unsigned i = 0; i < cfg->nnets; i++)
        shared |= cfg->nets[i].backend == NET_BACKEND_VHOST_USER ||
                  (cfg->nets[i].vf.total_vfs &&
                   cfg->nets[i].vf.vf_backend == NET_BACKEND_VHOST_USER);
    kvm_map_ram(&vm->kvm, cfg->memory, shared);
    kvm_create_irqchip(&vm->kvm);
    irq_routes_init(&vm->irq, &vm->kvm);

    iobus_init(&vm->pio, "pio");
    iobus_init(&vm->mmio, "mmio");
    uart_init(&vm->uart, STDOUT_FILENO, vm_uart_irq, vm);
    if (iobus_register(&vm->pio, LAYOUT_PORT_COM1, 8, uart_io_read, uart_io_write, &vm->uart))
        die("internal error: COM1 overlaps");
    power_register(vm);
    vm_setup_pci(vm);
    netdev_create_all(vm);
    if (cfg->ctl_path) {
        char err[256];
        if (ctl_server_init(&vm->ctl, cfg->ctl_path, &cfg->ctl_access, err, sizeof(err)) < 0)
            die("%s", err);
        netdev_register_ctl(vm, &vm->ctl);
        vm_register_ctl(vm, &vm->ctl);
    }
}

/* ACPI tables, boot parameters and page tables in guest RAM; then the vCPUs (not
 * running yet). The image mappings are released. */
static void vm_setup_boot(struct vm *vm, struct mapped_file *kernel_file,
                          const struct bzimage *kernel, struct mapped_file *initrd_file)
{
    const struct vm_config *cfg = vm->cfg;
    void *acpi = guest_mem_ptr(&vm->kvm.mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
    if (!acpi || acpi_build(acpi, LAYOUT_ACPI, LAYOUT_ACPI_SIZE, cfg->cpus) < 0)
        die("internal error: cannot build the ACPI tables");
    struct boot_input in = {
        .kernel = kernel,
        .initrd = initrd_file->data,
        .initrd_size = initrd_file->size,
        .cmdline = cfg->cmdline,
        .ram_size = cfg->memory,
        .acpi_rsdp = LAYOUT_ACPI,
    };
    struct boot_entry entry;
    char err[256];
    if (boot_setup(&vm->kvm.mem, &in, &entry, err, sizeof(err)) < 0)
        die("%s", err);
    munmap(kernel_file->data, kernel_file->size);
    if (initrd_file->data)
        munmap(initrd_file->data, initrd_file->size);

    vcpu_init_signals();
    vm->ncpus = cfg->cpus;
    vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
    if (!vm->vcpus)
        die("out of memory");
    for (unsigned i = 0; i < cfg->cpus; i++)
        vcpu_create(&vm->vcpus[i], vm, i, &entry);
}

/* Set up: from here on each thread keeps only what it needs (sandbox.h). The threads
 * created here confine themselves when they start, the main thread last. */
static void vm_confine(struct vm *vm)
{
    const struct vm_config *cfg = vm->cfg;
    struct sandbox_policy pol = {
        .seccomp = (enum sandbox_seccomp)cfg->seccomp,
        .switch_user = cfg->user != NULL,
        .uid = cfg->uid,
        .gid = cfg->gid,
        .notify = notify_wanted(),
    };
    for (unsigned i = 0; i < cfg->nnets; i++) {
        pol.vfs |= cfg->nets[i].vf.total_vfs > 0;
        pol.vdpa_vfs |= cfg->nets[i].vf.total_vfs > 0 &&
                        cfg->nets[i].vf.vf_backend == NET_BACKEND_VHOST_VDPA;
        pol.vhost_user |= cfg->nets[i].backend == NET_BACKEND_VHOST_USER ||
                          (cfg->nets[i].vf.total_vfs > 0 &&
                           cfg->nets[i].vf.vf_backend == NET_BACKEND_VHOST_USER);
    }
    char err[256];
    if (sandbox_enter(&pol, err, sizeof(err)) < 0) {
        if (cfg->ctl_path)
            ctl_server_stop(&vm->ctl);
        die("%s", err);
    }
}

/* The control, stdin and vCPU threads; then a service manager hears that vpf is
 * ready: the control socket answers and the guest runs. */
static void vm_start(struct vm *vm)
{
    const struct vm_config *cfg = vm->cfg;
    if (cfg->ctl_path) {
        char err[256];
        if (ctl_server_start(&vm->ctl, err, sizeof(err)) < 0)
            die("%s", err);
        vm->ctl_started = 1;
    }
    if (pthread_create(&vm->stdin_thread, NULL, vm_stdin_thread, vm) == 0)
        vm->stdin_thread_started = 1;
    log_info("guest starting: %u vCPU(s), %llu MiB, setup took %ld ms", cfg->cpus,
             (unsigned long long)(cfg->memory / MiB),
             (long)((monotonic_ns() - vm->started_ns) / NSEC_PER_MSEC));
    for (unsigned i = 0; i < cfg->cpus; i++)
        vcpu_start(&vm->vcpus[i]);
    confine_self(CONFINE_MAIN);
    log_setup_done();
    char status[300];
    snprintf(status, sizeof(status), "running: %u vCPU(s), %llu MiB%s%s", cfg->cpus,
             (unsigned long long)(cfg->memory / MiB), cfg->ctl_path ? ", control socket " : "",
             cfg->ctl_path ? cfg->ctl_path : "");
    notify_ready(status);
}

/* Blocks until the first stop request (or a signal); returns with vm->exit_status set
 * and a service manager told that vpf stops. */
static void vm_wait_stop(struct vm *vm)
{
    uint64_t v;
    while (read(vm->stop_fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    /* Readable again, for good: the stdin thread watches it to end. */
    uint64_t one = 1;
    (void)!write(vm->stop_fd, &one, sizeof(one));
    if (vm_stop_signal) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&vm->stopping, &expected, 1)) {
            vm->exit_status = VPF_EXIT_SIGNAL_BASE + vm_stop_signal;
            vm->stop_reason = "signal";
            log_info("stopped by signal %d (exit status %d)", (int)vm_stop_signal, vm->exit_status);
            if (vm->ctl_started)
                ctl_server_publish(&vm->ctl, "shutdown",
                                   json_pack("{s:s,s:i}", "reason", "signal", "status",
                                             vm->exit_status));
        }
    }
    char status[200];
    snprintf(status, sizeof(status), "stopping: %s (exit status %d)",
             vm->stop_reason ? vm->stop_reason : "stop requested", vm->exit_status);
    notify_stopping(status);
}

/* Every thread joined, every device and the control socket gone; frees vm. */
static void vm_teardown(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_stop(&vm->vcpus[i]);
    if (vm->stdin_thread_started)
        pthread_join(vm->stdin_thread, NULL);
    if (vm->cfg->ctl_path)
        ctl_server_stop(&vm->ctl);
    netdev_destroy_all(vm);
    pci_bus_destroy(&vm->pci);
    irq_routes_destroy(&vm->irq);
    iobus_destroy(&vm->pio);
    iobus_destroy(&vm->mmio);
    kvm_close(&vm->kvm);
    close(vm->stop_fd);
    free(vm->vcpus);
    free(vm);
}

int vm_run(const struct vm_config *cfg)
{
    uint64_t t0 = monotonic_ns();
    vm_validate(cfg);
    struct mapped_file kernel_file, initrd_file = { 0 };
    struct bzimage kernel;
    vm_load_images(cfg, &kernel_file, &kernel, &initrd_file);

    struct vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        die("out of memory");
    vm->cfg = cfg;
    vm->started_ns = t0;
    vm->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (vm->stop_fd < 0)
        die_errno("eventfd");
    /* Before anything that must be undone (taps, the control socket) exists: a signal
     * during setup then stops the VM as soon as it is up, through the same teardown. */
    vm_install_stop_signals(vm);
    vm_setup_machine(vm);
    vm_setup_boot(vm, &kernel_file, &kernel, &initrd_file);
    terminal_setup();
    vm_confine(vm);
    vm_start(vm);
    vm_wait_stop(vm);
    int status = vm->exit_status;
    vm_teardown(vm);
    return status;
}
