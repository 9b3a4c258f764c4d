/* vpf command line: parses options into one struct vm_config and runs the VM. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/exit.h"
#include "base/log.h"
#include "base/util.h"
#include "base/version.h"
#include "ctl/client.h"
#include "net/net_conflicts.h"
#include "vm/config.h"
#include "vm/sandbox.h"
#include "vm/vm.h"

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

static void usage_run(FILE *out)
{
    fprintf(out,
            "Usage: vpf run --kernel BZIMAGE [options]\n"
            "\n"
            "Boots a Linux bzImage in a KVM virtual machine. The guest's serial console\n"
            "(ttyS0) is vpf's standard input and output.\n"
            "\n"
            "Options:\n"
            "  -k, --kernel BZIMAGE   Linux kernel (bzImage, boot protocol 2.12 or newer)\n"
            "  -i, --initrd FILE      initial ramdisk\n"
            "  -c, --cmdline STR      kernel command line (default: \"" DEFAULT_CMDLINE "\")\n"
            "  -p, --cpus N           number of vCPUs (default 1; at most KVM's limit and 255)\n"
            "  -m, --memory SIZE      guest RAM, e.g. 512M or 2G (default 512M; suffixes K, M, G)\n"
            "  -n, --net tap=IFNAME[,mac=MAC][,total-vfs=N,vf-tap=PATTERN[,vf-mac=MAC;MAC;...]\n"
            "            [,vf-spoofchk=on|off]]\n"
            "                         a virtio-net PCIe NIC backed by the host tap IFNAME;\n"
            "                         vpf creates the tap if it does not exist (and removes it\n"
            "                         on exit) but leaves its addresses to the host admin.\n"
            "                         Without mac=, a random 52:54:00:xx:xx:xx. Repeatable.\n"
            "                         total-vfs=N (1-128) makes it an SR-IOV PF: the guest may\n"
            "                         enable up to N virtio-net VFs (sriov_numvfs). VF i gets\n"
            "                         the tap PATTERN with its one %%d replaced by i (e.g.\n"
            "                         vpfvf%%d; created and removed with the VF unless it\n"
            "                         exists), the i-th vf-mac= MAC or else the PF's MAC plus\n"
            "                         i+1 in its low 24 bits, and a spoof check (default on)\n"
            "                         dropping frames whose source is not that MAC. VFs take\n"
            "                         the PCI functions after the PF (next devices too).\n"
            "            backend=tap|vhost-net|vhost-vdpa|vhost-user  who moves the NIC's\n"
            "                         packets: vpf (tap, default), the kernel's vhost-net on\n"
            "                         the same tap, a vDPA device: backend=vhost-vdpa,vdpa=PATH\n"
            "                         (e.g. /dev/vhost-vdpa-0; no tap= then), or an external\n"
            "                         switch: backend=vhost-user,socket=PATH (vpf connects;\n"
            "                         vhost-user-server=on: vpf listens; no tap= then)\n"
            "            vf-backend=tap|vhost-net|vhost-vdpa|vhost-user  the same for every\n"
            "                         VF; with vhost-vdpa either vf-vdpa-mgmtdev=MGMTDEV (vpf\n"
            "                         creates and deletes a vDPA device per VF, e.g. on\n"
            "                         vdpasim_net) or vf-vdpa=PATTERN (the admin's devices, one\n"
            "                         %%d); with vhost-user vf-socket=PATTERN (one %%d) and\n"
            "                         optionally vf-vhost-user-server=on; no vf-tap= for either\n"
            "            fd=N         in place of tap=: the tap on file descriptor N, opened by\n"
            "                         the caller (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR); vpf needs no\n"
            "                         CAP_NET_ADMIN for it and leaves its link alone\n"
            "            queues=N     N queue pairs (1-8, default 1; VIRTIO_NET_F_MQ): a\n"
            "                         multi-queue tap, one queue (and with vhost-net one vhost\n"
            "                         device) per pair; the guest picks how many it uses\n"
            "                         (ethtool -L DEV combined K). tap and vhost-net only\n"
            "            vf-queues=N  the same for every VF (tap and vhost-net VFs)\n"
            "  -s, --ctl PATH         control socket (JSON lines; see vpf ctl PATH help); only a\n"
            "                         stale socket at PATH is replaced. Only root, vpf's user\n"
            "                         and members of --ctl-group may use it\n"
            "      --ctl-mode OCTAL   the socket file's mode (default 0600; 0660 with a group)\n"
            "      --ctl-group GROUP  the socket file's group (name or number); its members may\n"
            "                         use the socket\n"
            "      --seccomp on|off|log\n"
            "                         system call filters per thread once the VM is set up\n"
            "                         (default on: a forbidden call ends vpf with status 4 and\n"
            "                         one line naming the thread and the call; log: allowed,\n"
            "                         and logged by the kernel's audit log, for debugging)\n"
            "      --user USER        after setup, run as USER (a name or uid; its primary\n"
            "                         group, no supplementary groups). Setup (/dev/kvm, taps,\n"
            "                         the control socket) is done with the caller's rights\n"
            "      --log-file PATH    append log lines to PATH (created 0640) instead of\n"
            "                         writing them to stderr; setup errors (and a seccomp\n"
            "                         violation) are also written to stderr\n"
            "      --log-timestamps auto|on|off\n"
            "                         start each log line with the time (ISO 8601, UTC, ms);\n"
            "                         auto (default): with --log-file, not on stderr\n"
            "  -q, --quiet            log only warnings and errors\n"
            "  -v, --verbose          log debug messages too (the last of -q and -v wins)\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status:\n"
            "  0  the guest powered off or rebooted (vpf does not restart a rebooting guest)\n"
            "  1  bad options or input files, or the VM could not be set up\n"
            "  2  the guest kernel panicked (reported through the pvpanic device)\n"
            "  3  a vCPU failed (KVM internal error or failed VM entry)\n"
            "  4  a thread made a system call its seccomp filter forbids (see the log line)\n"
            "  128+N  stopped by signal N (SIGINT, SIGTERM, SIGHUP), VM torn down cleanly\n");
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: vpf COMMAND [options]\n"
                 "\n"
                 "Commands:\n"
                 "  run       boot a guest (vpf run --help for its options)\n"
                 "  ctl       talk to a running vpf:\n"
                 "            vpf ctl [--json] SOCKET COMMAND [KEY=VALUE or KEY VALUE...]\n"
                 "            (vpf ctl --help)\n"
                 "  help      this help\n"
                 "  version   vpf's version (also --version)\n");
}

/* "512M", "2G", "1048576" (bytes). Returns 0 or -1 on a malformed size or overflow. */
static int parse_size(const char *s, uint64_t *out)
{
    errno = 0;
    char *end;
    if (*s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mult = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mult = KiB;
        end++;
        break;
    case 'm':
    case 'M':
        mult = MiB;
        end++;
        break;
    case 'g':
    case 'G':
        mult = GiB;
        end++;
        break;
    case '\0':
        break;
    default:
        return -1;
    }
    if (*end == 'i' || *end == 'B')   /* accept MiB, MB */
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0' || (v && mult > UINT64_MAX / v))
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
    errno = 0;
    char *end;
    if (*s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end != '\0' || v > 1000000)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* An octal file mode such as 0660; 0 is refused (the socket would be unusable). */
static int parse_mode(const char *s, mode_t *out)
{
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 8);
    if (errno || end == s || *end != '\0' || *s == '-' || !v || v > 0777)
        return -1;
    *out = (mode_t)v;
    return 0;
}

/* A user name, or a number; its primary group. */
static int parse_user(const char *s, uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam(s);
    unsigned n;
    if (!pw && parse_uint(s, &n) == 0)
        pw = getpwuid((uid_t)n);
    if (!pw)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* A group name, or a number. */
static int parse_group(const char *s, gid_t *out)
{
    struct group *g = getgrnam(s);
    unsigned n;
    if (g)
        *out = g->gr_gid;
    else if (parse_uint(s, &n) == 0)
        *out = (gid_t)n;
    else
        return -1;
    return 0;
}

/* vpf run's options as given, before they become a vm_config. */
struct run_args {
    struct vm_config cfg;
    const char *log_file;           /* --log-file */
    enum log_timestamps stamps;     /* --log-timestamps */
};

/* The options that shape the VM: 1 if c was one of them (or a bad value died). */
static int run_vm_opt(int c, struct vm_config *cfg)
{
    switch (c) {
    case 'k':
        cfg->kernel = optarg;
        break;
    case 'i':
        cfg->initrd = optarg;
        break;
    case 'c':
        cfg->cmdline = optarg;
        break;
    case 'p':
        if (parse_uint(optarg, &cfg->cpus) < 0)
            die("--cpus: '%s' is not a number", optarg);
        break;
    case 'm':
        if (parse_size(optarg, &cfg->memory) < 0)
            die("--memory: '%s' is not a size (use e.g. 512M or 2G)", optarg);
        break;
    case 'n': {
        char err[256];
        if (cfg->nnets == VM_MAX_NETS)
            die("--net: at most %d network devices", VM_MAX_NETS);
        if (net_opts_parse(optarg, &cfg->nets[cfg->nnets], err, sizeof(err)) < 0)
            die("%s", err);
        cfg->nnets++;
        break;
    }
    default:
        return 0;
    }
    return 1;
}

/* The control socket, confinement and logging: 1 if c was one of them. */
static int run_host_opt(int c, struct run_args *a)
{
    struct vm_config *cfg = &a->cfg;
    enum sandbox_seccomp mode;
    switch (c) {
    case 's':
        cfg->ctl_path = optarg;
        break;
    case 'M':
        if (parse_mode(optarg, &cfg->ctl_access.mode) < 0)
            die("--ctl-mode: '%s' is not a mode from 0 to 0777 (octal, e.g. 0660)", optarg);
        break;
    case 'G':
        if (parse_group(optarg, &cfg->ctl_access.gid) < 0)
            die("--ctl-group: no group '%s'", optarg);
        cfg->ctl_access.has_group = true;
        break;
    case 'S':
        if (sandbox_parse_seccomp(optarg, &mode) < 0)
            die("--seccomp must be on, off or log, not '%s'", optarg);
        cfg->seccomp = (int)mode;
        break;
    case 'U':
        if (parse_user(optarg, &cfg->uid, &cfg->gid) < 0)
            die("--user: no user '%s'", optarg);
        cfg->user = optarg;
        break;
    case 'L':
        a->log_file = optarg;
        break;
    case 'T':
        if (log_parse_timestamps(optarg, &a->stamps) < 0)
            die("--log-timestamps must be auto, on or off, not '%s'", optarg);
        break;
    case 'q':
        log_threshold = LOG_WARN;
        break;
    case 'v':
        log_threshold = LOG_DEBUG;
        break;
    default:
        return 0;
    }
    return 1;
}

static const struct option run_opts[] = {
    { "kernel", required_argument, NULL, 'k' },
    { "initrd", required_argument, NULL, 'i' },
    { "cmdline", required_argument, NULL, 'c' },
    { "cpus", required_argument, NULL, 'p' },
    { "memory", required_argument, NULL, 'm' },
    { "net", required_argument, NULL, 'n' },
    { "ctl", required_argument, NULL, 's' },
    { "ctl-mode", required_argument, NULL, 'M' },
    { "ctl-group", required_argument, NULL, 'G' },
    { "seccomp", required_argument, NULL, 'S' },
    { "user", required_argument, NULL, 'U' },
    { "log-file", required_argument, NULL, 'L' },
    { "log-timestamps", required_argument, NULL, 'T' },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Parses vpf run's options into *a; 1 if --help was given (and printed). */
static int run_parse(int argc, char **argv, struct run_args *a)
{
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":k:i:c:p:m:n:s:qvh", run_opts, NULL)) != -1) {
        if (run_vm_opt(c, &a->cfg) || run_host_opt(c, a))
            continue;
        if (c == 'h') {
            usage_run(stdout);
            return 1;
        }
        if (c == ':')
            die("option %s needs an argument (see vpf run --help)", argv[optind - 1]);
        if (optopt)
            die("unknown option '-%c' (see vpf run --help)", optopt);
        die("unknown option '%s' (see vpf run --help)", argv[optind - 1]);
    }
    if (optind < argc)
        die("unexpected argument '%s' (see vpf run --help)", argv[optind]);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    struct run_args a = {
        .cfg = {
            .cmdline = DEFAULT_CMDLINE,
            .cpus = 1,
            .memory = 512 * MiB,
            .kvm_dev = getenv("VPF_KVM_DEVICE") ? getenv("VPF_KVM_DEVICE") : "/dev/kvm",
        },
        .stamps = LOG_TIMESTAMPS_AUTO,
    };
    if (run_parse(argc, argv, &a))
        return 0;
    /* From here on setup errors also reach the log file (and stderr, log.h). */
    if (a.log_file && log_open_file(a.log_file) < 0)
        die_errno("--log-file: cannot open '%s'", a.log_file);
    log_set_timestamps(a.stamps);
    if (!a.cfg.kernel)
        die("--kernel is required (see vpf run --help)");
    if (!a.cfg.ctl_access.mode)
        a.cfg.ctl_access.mode = a.cfg.ctl_access.has_group ? 0660 : 0600;
    char err[256];
    if (net_opts_check_conflicts(a.cfg.nets, a.cfg.nnets, err, sizeof(err)) < 0)
        die("%s", err);
    return vm_run(&a.cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return VPF_EXIT_SETUP;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ctl"))
        return ctl_client_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("vpf %s%s%s\n", VPF_VERSION, *VPF_GIT_REVISION ? " git " : "", VPF_GIT_REVISION);
        return VPF_EXIT_OK;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return VPF_EXIT_OK;
    }
    die("unknown command '%s' (see vpf help)", argv[1]);
}
