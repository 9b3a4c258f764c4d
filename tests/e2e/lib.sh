# shellcheck shell=bash
# tests/e2e/lib.sh: helpers for end-to-end scenarios (bash). Start a scenario with
#   . "$(dirname "$0")/lib.sh"
# Environment (set by testbed/run.sh, in L1 or on the host; see docs/testbed.md):
#   VPF L2_KERNEL L2_INITRD LOGDIR REPO E2E_DIR TESTBED_MODE (nested|direct)
# Exit codes: 0 pass, 77 skip (skip), anything else fail (fail).
set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
: "${LOGDIR:=$(mktemp -d "/tmp/e2e-$E2E_NAME.XXXXXX")}" # run by hand: logs go to a temp dir
: "${L2_KERNEL:=}" "${L2_INITRD:=}" "${VPF:=vpf}" "${TESTBED_MODE:=direct}"
mkdir -p "$LOGDIR"

# Milliseconds since boot, from /proc/uptime (10 ms resolution; same clock in L1 and on the host).
now_ms() { local up; read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 10#${up#*.} * 10)); }
ms_since() { echo $(($(now_ms) - $1)); } # ms_since T0_MS
E2E_T0=$(now_ms)

log() { printf '[%s +%dms] %s\n' "$E2E_NAME" "$(ms_since "$E2E_T0")" "$*"; }
fail() { printf 'FAIL: %s: %s\n' "$E2E_NAME" "$*" >&2; exit 1; }
skip() { printf 'SKIP: %s: %s\n' "$E2E_NAME" "$*"; exit 77; }

# metric NAME VALUE [UNIT]: log a measurement and append it to $LOGDIR/metrics.txt.
metric() { log "metric $1=$2${3:+ $3}"; echo "$1 $2 ${3:-}" >>"$LOGDIR/metrics.txt"; }

# l2_cmdline TEST [EXTRA...]: kernel command line running /guest/TEST.sh in L2.
l2_cmdline() { local t=$1; shift; echo "console=ttyS0 quiet panic=-1 vpf.test=$t${*:+ $*}"; }

need_vpf() { [ -x "$VPF" ] || fail "no vpf binary at '$VPF' (build it, or set VPF=)"; }

# run_vm LOGFILE TIMEOUT ARGS...: boot the L2 image under vpf in the foreground;
# console and vpf's messages go to LOGFILE. Returns vpf's exit code (124: timeout).
run_vm() {
	local logf=$1 t=$2 rc=0; shift 2
	need_vpf
	log "vpf run $* (limit ${t}s, log $logf)"
	timeout -k 5 "$t" "$VPF" run --kernel "$L2_KERNEL" --initrd "$L2_INITRD" "$@" </dev/null >"$logf" 2>&1 || rc=$?
	[ "$rc" = 124 ] && log "vpf timed out after ${t}s"
	return "$rc"
}
# run_vm_bg LOGFILE TIMEOUT ARGS...: the same in the background; sets VM_PID. Use wait_vm.
run_vm_bg() {
	local logf=$1 t=$2; shift 2
	need_vpf
	log "vpf run $* & (limit ${t}s, log $logf)"
	timeout -k 5 "$t" "$VPF" run --kernel "$L2_KERNEL" --initrd "$L2_INITRD" "$@" </dev/null >"$logf" 2>&1 &
	VM_PID=$!
}
# wait_vm [PID]: wait for a background VMM (default $VM_PID), return its exit code.
wait_vm() { local rc=0; wait "${1:-$VM_PID}" || rc=$?; return "$rc"; }

# run_qemu / run_qemu_bg LOGFILE TIMEOUT ARGS...: the same L2 image under QEMU/KVM,
# the reference peer (pass at least -append "$(l2_cmdline TEST)"; later -m/-smp win).
QEMU_L2=(qemu-system-x86_64 -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config
	-nographic -serial stdio -no-reboot)
run_qemu() {
	local logf=$1 t=$2 rc=0; shift 2
	log "qemu $* (limit ${t}s, log $logf)"
	timeout -k 5 "$t" "${QEMU_L2[@]}" -kernel "$L2_KERNEL" -initrd "$L2_INITRD" "$@" </dev/null >"$logf" 2>&1 || rc=$?
	return "$rc"
}
run_qemu_bg() {
	local logf=$1 t=$2; shift 2
	log "qemu $* & (limit ${t}s, log $logf)"
	timeout -k 5 "$t" "${QEMU_L2[@]}" -kernel "$L2_KERNEL" -initrd "$L2_INITRD" "$@" </dev/null >"$logf" 2>&1 &
	VM_PID=$!
}

# log_lines FILE: a VM's console log (the guest's serial output and vpf's own log lines
# on one stream) with each vpf line that landed inside a guest line moved out of it and
# the guest line joined again: vpf writes a line at once, the guest one character per
# exit, so "VPF-X: a vpf: warning: ...\nb" is "vpf: warning: ..." and "VPF-X: a b".
log_lines() {
	awk '{
		i = match($0, /vpf: (error|warning|info|debug): /)
		if (i > 1) { carry = carry substr($0, 1, i - 1); print substr($0, i); next }
		if (i == 1) { print; next }
		print carry $0; carry = ""
	} END { if (carry != "") print carry }' "$1" 2>/dev/null
}
# log_has FILE ERE: log_lines FILE matches ERE.
log_has() { log_lines "$1" | grep -aE -- "$2" >/dev/null; } # not -q: awk must not see SIGPIPE (pipefail)
# wait_for_log FILE REGEX TIMEOUT_S: poll (100 ms) until FILE (log_lines) has a line
# matching the extended REGEX; 1 on timeout or when the background VM ($VM_PID, if set) exited first.
wait_for_log() {
	local f=$1 re=$2 end=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		log_has "$f" "$re" && return 0
		if [ -n "${VM_PID:-}" ] && ! kill -0 "$VM_PID" 2>/dev/null; then
			log_has "$f" "$re" && return 0
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# expect_in_log FILE REGEX [WHAT]: fail, showing the log's tail, unless FILE matches REGEX.
expect_in_log() {
	log_has "$1" "$2" && return 0
	echo "---- last lines of $1:" >&2
	tail -n 30 "$1" >&2 2>/dev/null || true
	fail "${3:-expected /$2/ in $1}"
}
# expect_guest_ok FILE TEST: the L2 script TEST ran and returned 0.
expect_guest_ok() {
	expect_in_log "$1" 'VPF-GUEST: userspace up' "L2 userspace did not come up ($1)"
	expect_in_log "$1" "VPF-GUEST: result $2 rc=0" "L2 script $2 did not succeed ($1)"
}
# expect_clean_exit FILE TEST: the background vpf ($VM_PID, console FILE) ended, its L2
# script TEST succeeded, vpf exited 0 and logged no error.
expect_clean_exit() {
	local rc=0
	wait_vm "$VM_PID" || rc=$?
	expect_guest_ok "$1" "$2"
	[ "$rc" = 0 ] || fail "vpf exited with $rc"
	! grep -qa 'vpf: error' "$1" || { grep -a 'vpf: error' "$1" | head; fail "vpf logged errors"; }
}

# expect_moderation FILE: the guest's line "coalesce rx interrupts N0 without, N1 with
# rx-usecs 100000" (guest/coal-lib.sh: replies to 50 pings 20 ms apart) shows the device
# holding receive interrupts as the guest asked (VIRTIO_NET_F_NOTF_COAL).
expect_moderation() {
	# shellcheck disable=SC2046 # the two counts, as $1 and $2
	set -- $(sed -n 's/.*coalesce rx interrupts \([0-9]*\) without, \([0-9]*\) with.*/\1 \2/p' "$1")
	[ $# = 2 ] || fail "no receive interrupt counts from L2"
	log "receive interrupts for 50 ping replies: $1 without moderation, $2 with rx-usecs 100000"
	[ "$1" -ge 25 ] || fail "only $1 receive interrupts for 50 replies 20 ms apart without moderation"
	[ $(($2 * 2)) -le "$1" ] || fail "rx-usecs 100000 did not halve the receive interrupts ($1 -> $2)"
}

# kvm_counter NAME: a KVM statistic from debugfs (exits, io_exits, mmio_exits, ...),
# summed over the VMs alive now: read it before and after a workload while L2 runs.
kvm_counter() { cat "/sys/kernel/debug/kvm/$1"; }

# fd_count PID: how many file descriptors PID has open.
# shellcheck disable=SC2012 # the names are numbers
fd_count() { ls "/proc/$1/fd" | wc -l; }
