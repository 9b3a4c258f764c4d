#!/usr/bin/env bash
# testbed-timeout: 300
# Smoke test of the testbed itself (not of vpf): KVM works where scenarios run,
# and the stock L2 image boots under KVM with QEMU, the benchmark peer, and runs
# guest/hello.sh. Also reports the L2 boot time.
. "$(dirname "$0")/lib.sh"

log "mode=$TESTBED_MODE kernel=$(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)kB"
[ -c /dev/kvm ] || fail "no /dev/kvm"
if [ "$TESTBED_MODE" = nested ]; then
	grep -q '^kvm_amd ' /proc/modules || fail "kvm_amd is not loaded in L1"
	[ -f /sys/kernel/debug/kvm/exits ] || fail "KVM debugfs counters missing"
fi
if [ -x "$VPF" ]; then log "vpf binary present: $VPF"; else log "no vpf binary yet at $VPF (not needed here)"; fi
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not available"

con=$LOGDIR/l2-qemu.log
t0=$(now_ms)
run_qemu_bg "$con" 240 -append "$(l2_cmdline hello)"
wait_for_log "$con" 'VPF-GUEST: userspace up' 200 || { tail -n 30 "$con"; fail "L2 did not reach userspace"; }
metric l2_qemu_userspace_ms "$(ms_since "$t0")" ms
# The counters sum over live VMs: read while L2 still runs.
[ -f /sys/kernel/debug/kvm/exits ] && metric kvm_exits_during_boot "$(kvm_counter exits)"
rc=0
wait_vm || rc=$?
metric l2_qemu_poweroff_ms "$(ms_since "$t0")" ms
expect_guest_ok "$con" hello
[ "$rc" = 0 ] || fail "qemu exited with $rc"
log "ok"
