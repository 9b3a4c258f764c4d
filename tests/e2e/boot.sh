#!/usr/bin/env bash
# testbed-timeout: 240
# A stock Linux guest boots under vpf with 2 vCPUs and 512 MiB: it sees both CPUs and the
# memory, finds the PCI root bridge through ACPI and uses MMCONFIG (ECAM) from the MCFG
# table, then powers off; vpf exits 0. Prints how long vpf took to reach guest userspace.
. "$(dirname "$0")/lib.sh"

con=$LOGDIR/l2-console.log
t0=$(now_ms)
run_vm_bg "$con" 200 --cpus 2 --memory 512M --cmdline "$(l2_cmdline boot)"
wait_for_log "$con" 'VPF-GUEST: userspace up' 180 || { tail -n 40 "$con"; fail "L2 did not reach userspace"; }
metric vpf_start_to_userspace_ms "$(ms_since "$t0")" ms
rc=0
wait_vm || rc=$?
metric vpf_start_to_exit_ms "$(ms_since "$t0")" ms
[ "$rc" = 0 ] || { tail -n 40 "$con"; fail "vpf exited with $rc, expected 0 after poweroff"; }

expect_guest_ok "$con" boot
expect_in_log "$con" 'VPF-FACT: cpus=2' "guest does not see 2 CPUs"
mem=$(sed -n 's/.*VPF-FACT: memtotal_kb=\([0-9]*\).*/\1/p' "$con" | tail -n1)
# MemTotal excludes the kernel's own reservations: expect 400..512 MiB of 512 MiB.
[ -n "$mem" ] && [ "$mem" -gt $((400 * 1024)) ] && [ "$mem" -le $((512 * 1024)) ] ||
	fail "guest MemTotal ${mem:-?} kB, expected about 512 MiB"
expect_in_log "$con" 'VPF-FACT: mcfg=present' "no /sys/firmware/acpi/tables/MCFG"
expect_in_log "$con" 'VPF-DMESG: .*PCI: MMCONFIG for domain 0000 \[bus 00.*at \[mem 0xe0000000' "MMCONFIG not set up from MCFG"
expect_in_log "$con" 'VPF-DMESG: .*MMCONFIG at \[mem 0xe0000000-.*reserved' "ECAM window not accepted as reserved"
expect_in_log "$con" 'VPF-DMESG: .*ACPI: PCI Root Bridge \[PCI0\]' "no PCI root bridge found through ACPI"
expect_in_log "$con" 'VPF-FACT: hostbridge_config_bytes=4096' "extended config space (4 KiB) not readable"
expect_in_log "$con" 'guest powered off' "vpf did not report the guest's poweroff"
log "ok"
