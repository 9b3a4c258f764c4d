#!/usr/bin/env bash
# Host-level tests of the vpf binary: exit statuses for each way a guest ends, and one
# clear error line for each kind of bad input. Guests are tiny bzImages from mktinyguest,
# so these run on any KVM (also the paravirtual one that cannot boot a stock kernel).
# Usage: cli_test.sh VPF MKTINYGUEST CASE
set -uo pipefail
VPF=$1 MK=$2 CASE=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out err=$tmp/err

fail() { echo "FAIL [$CASE]: $*"; echo "--- stdout"; cat "$out" 2>/dev/null; echo "--- stderr"; cat "$err" 2>/dev/null; exit 1; }
skip() { echo "SKIP [$CASE]: $*"; exit 77; }

need_kvm() { [ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"; }

# run_vpf [ARGS...]: runs vpf with a 20 s bound; stdin from $stdin_data if set.
run_vpf() {
	printf '%s' "${stdin_data:-}" | timeout 20 "$VPF" "$@" >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 124 ] && fail "vpf hung (killed after 20 s)"
	return 0
}

expect_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"; }

# Bad input: non-zero exit, exactly one line on stderr, matching a pattern.
expect_error() {
	[ "$rc" -ne 0 ] || fail "exit status 0 for bad input"
	[ "$rc" -lt 128 ] || fail "vpf crashed (exit status $rc)"
	[ "$(wc -l <"$err")" -eq 1 ] || fail "expected exactly one line on stderr"
	grep -Eq -e "$1" "$err" || fail "stderr does not match /$1/"
}

guest() { "$MK" "$1" "$tmp/$1.bz" || fail "mktinyguest $1"; echo "$tmp/$1.bz"; }
# start_ctl_vm ARGS...: vpf runs the echo guest with ARGS and a control socket at $sock in
# the background ($pid), its console fed through fd 3; returns once the socket exists.
start_ctl_vm() {
	rm -f "$tmp/in"; mkfifo "$tmp/in"; sock=$tmp/ctl.sock
	timeout 30 "$VPF" run --kernel "$(guest echo)" "$@" --ctl "$sock" <"$tmp/in" >"$out" 2>"$err" &
	pid=$!
	exec 3>"$tmp/in"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || fail "no control socket"
}
# stop_ctl_vm: the echo guest powers off on "q"; rc = vpf's exit status.
stop_ctl_vm() { echo q >&3; exec 3>&-; wait $pid; rc=$?; }
# await_confined: the control thread answers once vpf confined itself (it starts after).
# Sets vpid, vpf's pid ($pid is timeout's).
await_confined() {
	"$VPF" ctl "$sock" help >/dev/null || fail "the control socket does not answer"
	vpid=$(cat /proc/$pid/task/$pid/children 2>/dev/null); vpid=${vpid%% *}
	[ -n "$vpid" ] || fail "no vpf process under timeout ($pid)"
}
# status_of NAME FIELD: FIELD of /proc/$vpid/status for the thread named NAME (main: vpf).
status_of() {
	local t
	for t in "/proc/$vpid/task/"*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] || continue
		awk -v f="$2:" '$1 == f { print $2; exit }' "$t/status"
		return
	done
	echo "(no thread named $1; threads: $(cat "/proc/$vpid/task/"*/comm | tr "\n" " "))"
}
sanitizer_build() { grep -q 'seccomp: not installed in a sanitizer build' "$err"; }

case $CASE in
poweroff)
	need_kvm; run_vpf run --kernel "$(guest poweroff)"
	expect_rc 0; grep -qx hi "$out" || fail "guest output missing" ;;
reboot)
	need_kvm; run_vpf run --kernel "$(guest reboot)"; expect_rc 0 ;;
kbd-reset)
	need_kvm; run_vpf run --kernel "$(guest kbd-reset)"; expect_rc 0 ;;
triple-fault)
	need_kvm; run_vpf run --kernel "$(guest triple-fault)"; expect_rc 0
	grep -q "triple fault" "$err" || fail "no triple-fault message" ;;
panic)
	need_kvm; run_vpf run --kernel "$(guest panic)"; expect_rc 2
	grep -q "panic" "$err" || fail "no panic message" ;;
console-input)
	need_kvm; stdin_data="echo me q"; run_vpf run --kernel "$(guest echo)"
	expect_rc 0; grep -q "echo me" "$out" || fail "stdin did not reach the guest" ;;
smp-and-high-memory)
	# Four vCPUs; 3.5 GiB of RAM spans the 32-bit MMIO hole (RAM above 4 GiB).
	need_kvm; run_vpf run --cpus 4 --memory 3584M --kernel "$(guest poweroff)"; expect_rc 0 ;;
help)
	run_vpf run --help; expect_rc 0
	grep -q "Exit status" "$out" || fail "help lacks the exit statuses"
	# Every --net key the README documents is in the help.
	readme=$(dirname "$0")/../../README.md
	while read -r key; do
		grep -q -- "$key" "$out" || fail "vpf run --help lacks the --net key $key"
	done < <(grep '^| `--net' "$readme" | grep -o '[a-z-]*=' | sort -u) ;;
kernel-missing)
	run_vpf run --kernel "$tmp/nope"; expect_error "cannot open kernel.*No such file" ;;
kernel-not-bzimage)
	head -c 8192 /dev/urandom >"$tmp/junk"; run_vpf run --kernel "$tmp/junk"; expect_error "not a bzImage" ;;
kernel-truncated)
	head -c 600 "$(guest poweroff)" >"$tmp/trunc"; run_vpf run --kernel "$tmp/trunc"
	expect_error "too small|corrupt|truncated" ;;
kernel-old-protocol)
	run_vpf run --kernel "$(guest old-protocol)"; expect_error "boot protocol too old" ;;
kernel-no-64bit)
	run_vpf run --kernel "$(guest no-kernel64)"; expect_error "64-bit entry" ;;
initrd-missing)
	run_vpf run --kernel "$(guest poweroff)" --initrd "$tmp/nope"; expect_error "cannot open initrd" ;;
initrd-too-big)
	truncate -s 600M "$tmp/big"
	run_vpf run --kernel "$(guest poweroff)" --initrd "$tmp/big" --memory 512M; expect_error "initrd.*(does not fit|too big)" ;;
initrd-too-big-for-low-ram)
	need_kvm; truncate -s 200M "$tmp/big"
	run_vpf run --kernel "$(guest poweroff)" --initrd "$tmp/big" --memory 128M; expect_error "initrd.*(does not fit|too big)" ;;
memory-zero)
	run_vpf run --kernel "$(guest poweroff)" --memory 0; expect_error "memory" ;;
memory-too-big)
	run_vpf run --kernel "$(guest poweroff)" --memory 100000G; expect_error "memory.*more than" ;;
memory-malformed)
	run_vpf run --kernel "$(guest poweroff)" --memory 12Q; expect_error "not a size" ;;
cpus-zero)
	run_vpf run --kernel "$(guest poweroff)" --cpus 0; expect_error "cpus" ;;
cpus-too-many)
	run_vpf run --kernel "$(guest poweroff)" --cpus 5000; expect_error "cpus.*more than" ;;
kvm-missing)
	VPF_KVM_DEVICE=$tmp/kvm run_vpf run --kernel "$(guest poweroff)"; expect_error "does not exist" ;;
kvm-not-permitted)
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	command -v setpriv >/dev/null || skip "no setpriv"
	g=$(guest poweroff); chmod 755 "$tmp"; chmod 644 "$g"
	printf '' | timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$VPF" run --kernel "$g" >"$out" 2>"$err"
	rc=$?; expect_error "permission denied" ;;
net-bad-option)
	run_vpf run --kernel "$(guest poweroff)" --net bogus; expect_error "net" ;;
net-bad-mac)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,mac=01:00:00:00:00:01; expect_error "mac|MAC|multicast" ;;
net-vf-bad-pattern)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=4,vf-tap=vf%s
	expect_error "vf-tap.*exactly one %d" ;;
net-vf-pattern-too-long)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=64,vf-tap=abcdefghijklmn%d
	expect_error "vf-tap.*shorter than 16" ;;
net-vf-no-pattern)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=4; expect_error "needs vf-tap" ;;
net-vf-total-zero)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=0,vf-tap=v%d
	expect_error "total-vfs '0' must be a number from 1 to 128" ;;
net-vf-total-too-large)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=129,vf-tap=v%d
	expect_error "total-vfs '129' must be a number from 1 to 128" ;;
net-vf-bad-mac-list)
	run_vpf run --kernel "$(guest poweroff)" --net "tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-mac=02:00:00:00:00:01;02:00:00:00:0g:02"
	expect_error "vf-mac: invalid MAC '02:00:00:00:0g:02'" ;;
net-vf-mac-list-too-long)
	run_vpf run --kernel "$(guest poweroff)" --net "tap=vpfbad0,total-vfs=1,vf-tap=v%d,vf-mac=02:00:00:00:00:01;02:00:00:00:00:02"
	expect_error "vf-mac lists 2 MACs for 1 VFs" ;;
net-vf-mac-duplicate)
	run_vpf run --kernel "$(guest poweroff)" --net "tap=vpfbad0,mac=52:54:00:00:00:01,total-vfs=2,vf-tap=v%d,vf-mac=52:54:00:00:00:01"
	expect_error "MAC 52:54:00:00:00:01 is given to the PF and VF 0" ;;
net-vf-spoofchk-bad)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-spoofchk=yes
	expect_error "vf-spoofchk must be on or off" ;;
net-shared-tap)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,mac=52:54:00:00:00:10 --net tap=vpfbad0,mac=52:54:00:00:00:20
	expect_error "tap vpfbad0 is given to both net0 and net1" ;;
net-vf-tap-collision)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,mac=52:54:00:00:00:10,total-vfs=2,vf-tap=vpfv%d \
		--net tap=vpfbad1,mac=52:54:00:00:01:10,total-vfs=2,vf-tap=vpfv%d
	expect_error "tap vpfv0 is given to both net0vf0 and net1vf0" ;;
net-shared-mac)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,mac=52:54:00:00:00:10,total-vfs=4,vf-tap=vpfv%d \
		--net tap=vpfbad1,mac=52:54:00:00:00:12
	expect_error "MAC 52:54:00:00:00:12 is given to both net0vf1 and net1" ;;
net-bad-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,backend=dpdk
	expect_error "backend must be tap, vhost-net or vhost-vdpa, not 'dpdk'" ;;
net-vf-bad-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-backend=vhost
	expect_error "vf-backend must be tap, vhost-net or vhost-vdpa, not 'vhost'" ;;
net-vf-backend-needs-vfs)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,vf-backend=vhost-net
	expect_error "vf-backend, vf-vdpa, vf-vdpa-mgmtdev and vf-spoofchk need total-vfs=N" ;;
net-vf-vhost-spoofchk)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-backend=vhost-net,vf-spoofchk=on
	expect_error "vf-spoofchk=on needs vf-backend=tap" ;;
net-vhost-unavailable)
	# Setup error, exit 1, one line, when /dev/vhost-net cannot be opened.
	need_kvm
	if [ -e /dev/vhost-net ]; then
		[ "$(id -u)" = 0 ] && skip "/dev/vhost-net exists and root may open it"
		[ -r /dev/vhost-net ] && [ -w /dev/vhost-net ] && skip "/dev/vhost-net is usable"
	fi
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfvh$$,backend=vhost-net
	expect_rc 1
	expect_error "error: --net: vhost-net on tap vpfvh$$: /dev/vhost-net: "
	! ip link show "vpfvh$$" >/dev/null 2>&1 || fail "tap vpfvh$$ left behind" ;;
sriov-ctl-vhost)
	# A PF on tap whose VFs would be on vhost-net (the guest never enables them): the
	# control socket shows both backends and refuses a VLAN or a spoof check for a VF.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:10,total-vfs=2,vf-tap=vpfw$$x%d,vf-backend=vhost-net
	"$VPF" ctl "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0",.*"total_vfs":2,"backend":"tap","vf_backend":"vhost-net"' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" stats dev=net0 >"$tmp/r" || fail "stats failed"
	# The guest's interrupt moderation (NOTF_COAL): none until its driver sets some.
	grep -q '"tx_spoofed":0,"rx_usecs":0,"rx_max_packets":0,"tx_usecs":0,"tx_max_packets":0,"backend":"tap","counters":"vpf"' "$tmp/r" ||
		fail "stats: $(cat "$tmp/r")"
	for args in "vlan=100" "spoofchk=true" "rate=10" "mac=02:00:00:00:00:22 vlan=5"; do
		# shellcheck disable=SC2086
		! "$VPF" ctl "$sock" vf-set dev=net0 vf=1 $args 2>"$tmp/e" || fail "vf-set $args accepted"
		grep -q 'VF 1 is on vhost-net' "$tmp/e" || fail "vf-set $args: $(cat "$tmp/e")"
	done
	"$VPF" ctl "$sock" vf-set dev=net0 vf=1 mac=02:00:00:00:00:22 >"$tmp/r" || fail "vf-set mac failed"
	grep -q '"vf":1,"mac":"02:00:00:00:00:22","vlan":0,"spoofchk":false' "$tmp/r" || fail "vf-set: $(cat "$tmp/r")"
	stop_ctl_vm
	expect_rc 0 ;;
net-vdpa-needs-path)
	run_vpf run --kernel "$(guest poweroff)" --net backend=vhost-vdpa
	expect_error "backend=vhost-vdpa wants vdpa=/dev/vhost-vdpa-N and no tap=" ;;
net-vdpa-with-tap)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,backend=vhost-vdpa,vdpa=/dev/vhost-vdpa-0
	expect_error "backend=vhost-vdpa wants vdpa=/dev/vhost-vdpa-N and no tap=" ;;
net-vdpa-needs-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,vdpa=/dev/vhost-vdpa-0
	expect_error "vdpa=PATH needs backend=vhost-vdpa" ;;
net-vdpa-unavailable)
	# Setup error, exit 1, one line, when the PF's vdpa= path cannot be opened.
	need_kvm
	run_vpf run --kernel "$(guest poweroff)" --net backend=vhost-vdpa,vdpa=/nonexistent/vhost-vdpa-7
	expect_rc 1
	expect_error "error: --net: vhost-vdpa /nonexistent/vhost-vdpa-7: No such file or directory" ;;
net-vf-vdpa-needs-source)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-vdpa
	expect_error "vf-backend=vhost-vdpa wants one of vf-vdpa-mgmtdev=MGMTDEV and vf-vdpa=PATTERN" ;;
net-vf-vdpa-both)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net,vf-vdpa=/dev/vhost-vdpa-%d
	expect_error "vf-backend=vhost-vdpa wants one of vf-vdpa-mgmtdev=MGMTDEV and vf-vdpa=PATTERN" ;;
net-vf-vdpa-with-tap)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net,vf-tap=v%d
	expect_error "and no vf-tap" ;;
net-vf-vdpa-bad-pattern)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa=/dev/vhost-vdpa-%s
	expect_error "vf-vdpa '/dev/vhost-vdpa-%s' must contain exactly one %d" ;;
net-vf-vdpa-spoofchk)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net,vf-spoofchk=on
	expect_error "vf-spoofchk=on needs vf-backend=tap \(with vhost-vdpa" ;;
net-vf-vdpa-needs-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-vdpa-mgmtdev=vdpasim_net
	expect_error "vf-vdpa and vf-vdpa-mgmtdev need vf-backend=vhost-vdpa" ;;
sriov-ctl-vdpa)
	# A PF on tap whose VFs would be vDPA devices on a management device (the guest never
	# enables them): devices shows the VF backend, vf-set refuses host policy vpf cannot
	# enforce there, and nothing is created before the guest asks.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:10,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net
	"$VPF" ctl "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0",.*"total_vfs":2,"backend":"tap","vf_backend":"vhost-vdpa"' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	for args in "vlan=100" "spoofchk=true" "rate=10"; do
		# shellcheck disable=SC2086
		! "$VPF" ctl "$sock" vf-set dev=net0 vf=0 $args 2>"$tmp/e" || fail "vf-set $args accepted"
		grep -q 'VF 0 is on vhost-vdpa: the vDPA device moves its frames' "$tmp/e" || fail "vf-set $args: $(cat "$tmp/e")"
	done
	stop_ctl_vm
	expect_rc 0 ;;
sriov-ctl)
	# An SR-IOV PF whose guest never enables VFs: vfs lists none, stats works, VF names
	# that do not exist are refused, and the VF slots stay free for later devices.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:10,total-vfs=9,vf-tap=vpfv$$x%d --net tap=vpfn$$
	"$VPF" ctl "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	grep -q '"dev":"net0","total_vfs":9,"num_vfs":0,"vfs":\[\]' "$tmp/r" || fail "vfs: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" devices >"$tmp/r" || fail "devices failed"
	# PF at 00:01.0, VFs 00:01.1..00:02.1: the next NIC goes to 00:03.0.
	grep -q '"dev":"net1","pci":"0000:00:03.0"' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	grep -q '"total_vfs":9' "$tmp/r" || fail "devices lacks total_vfs: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" stats dev=net0 | grep -q '"tx_spoofed":0' || fail "stats lacks tx_spoofed"
	! "$VPF" ctl "$sock" stats dev=net0vf0 2>"$tmp/e" || fail "absent VF accepted"
	grep -q 'no device "net0vf0"' "$tmp/e" || fail "absent VF error: $(cat "$tmp/e")"
	! "$VPF" ctl "$sock" vfs dev=net1 2>"$tmp/e" || fail "vfs of a plain NIC accepted"
	grep -q 'not an SR-IOV PF' "$tmp/e" || fail "vfs error: $(cat "$tmp/e")"
	# The host sets a VF's port while it is down; errors leave it as it was.
	"$VPF" ctl "$sock" vf-set dev=net0 vf=2 vlan=100 spoofchk=false mac=02:00:00:00:00:22 >"$tmp/r" ||
		fail "vf-set failed: $(cat "$tmp/r")"
	grep -q '"vf":2,"mac":"02:00:00:00:00:22","vlan":100,"spoofchk":false,"rate":0,"up":false' "$tmp/r" ||
		fail "vf-set: $(cat "$tmp/r")"
	vf_set_refused() { # vf_set_refused ERROR-REGEX ARGS...
		local want=$1; shift
		! "$VPF" ctl "$sock" vf-set "$@" 2>"$tmp/e" || fail "vf-set $* accepted"
		grep -Eq "$want" "$tmp/e" || fail "vf-set $*: $(cat "$tmp/e")"
	}
	vf_set_refused 'net0 has VFs 0 to 8' dev=net0 vf=9 vlan=1
	vf_set_refused 'vlan must be a number from 0' dev=net0 vf=2 vlan=4095
	vf_set_refused '"vlan" must be an integer' dev=net0 vf=2 vlan=ten
	vf_set_refused 'invalid MAC' dev=net0 vf=2 mac=01:00:00:00:00:01
	vf_set_refused 'rate must be a number of Mbit/s' dev=net0 vf=2 rate=-1
	vf_set_refused '"rate" must be an integer' dev=net0 vf=2 rate=fast
	vf_set_refused 'MAC 52:54:00:00:00:10 is net0' dev=net0 vf=2 mac=52:54:00:00:00:10
	vf_set_refused 'MAC 52:54:00:00:00:11 is net0vf0' dev=net0 vf=2 mac=52:54:00:00:00:11
	vf_set_refused 'not an SR-IOV PF' dev=net1 vf=0 vlan=1
	vf_set_refused 'vf-set needs "vf"' dev=net0 vlan=1
	vf_set_refused '"vf" must be an integer' dev=net0 vf=abc vlan=1
	# Settings vpf does not support are refused, not accepted and ignored (issue 12).
	for unsupported in trust=on state=disable max_tx_rate=100 qos=3; do
		vf_set_refused "vf-set does not take \"${unsupported%%=*}\"" dev=net0 vf=2 "$unsupported"
	done
	vf_set_refused '"spoofchk" must be true or false' dev=net0 vf=2 spoofchk=yes
	# iproute2's words: spoofchk=on is applied.
	"$VPF" ctl "$sock" vf-set dev=net0 vf=2 spoofchk=on >"$tmp/r" || fail "vf-set spoofchk=on failed"
	grep -q '"spoofchk":true' "$tmp/r" || fail "vf-set spoofchk=on: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" vf-set dev=net0 vf=2 spoofchk=off >/dev/null || fail "vf-set spoofchk=off failed"
	"$VPF" ctl "$sock" vf-set dev=net0 vf=2 rate=250 >"$tmp/r" || fail "vf-set rate failed"
	grep -q '"mac":"02:00:00:00:00:22","vlan":100,"spoofchk":false,"rate":250' "$tmp/r" || fail "vf-set lost: $(cat "$tmp/r")"
	stop_ctl_vm
	expect_rc 0 ;;
ctl-socket)
	# A guest that waits on its console while the control socket is driven from outside.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfctl$$,mac=52:54:00:00:00:42
	"$VPF" ctl "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0".*"mac":"52:54:00:00:00:42".*"link":true' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	ip link show vpfctl$$ >/dev/null 2>&1 || fail "tap vpfctl$$ was not created"
	"$VPF" ctl "$sock" link dev=net0 up=false >/dev/null || fail "link down failed"
	"$VPF" ctl "$sock" stats dev=net0 >"$tmp/r" || fail "stats failed"
	grep -q '"link":false' "$tmp/r" || fail "stats after link down: $(cat "$tmp/r")"
	! "$VPF" ctl "$sock" link dev=net9 up=true 2>"$tmp/e" || fail "unknown device accepted"
	grep -q 'no device "net9"' "$tmp/e" || fail "unknown device error: $(cat "$tmp/e")"
	! "$VPF" ctl "$sock" link dev=net0 2>/dev/null || fail "link without up= accepted"
	! "$VPF" ctl "$sock" frobnicate 2>/dev/null || fail "unknown command accepted"
	"$VPF" ctl "$sock" help | grep -q '"link"' || fail "help does not list link (vpf still serving?)"
	# Clients that hang up before their answer (issue 12: SIGPIPE killed vpf), several
	# at once with one idle; then vpf still answers.
	python3 - "$sock" <<'PY' || fail "hang-up clients: python failed"
import socket, sys
idle = socket.socket(socket.AF_UNIX); idle.connect(sys.argv[1])
for _ in range(50):
    c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
    c.sendall(b'{"cmd":"devices"}\n'); c.close()
idle.sendall(b'{"cmd":"stats","dev":"net0","id":7}\n')
f = idle.makefile("rb")
assert b'"greeting"' in f.readline()
assert b'"ok":true,"id":7,' in f.readline()
PY
	"$VPF" ctl "$sock" devices >/dev/null || fail "vpf stopped answering after clients hung up"
	# vpf ctl events: the subscribe answer, then events as they come, until vpf exits.
	"$VPF" ctl "$sock" events >"$tmp/ev" 2>/dev/null &
	evpid=$!
	for _ in $(seq 100); do grep -q '"subscribed":true' "$tmp/ev" && break; sleep 0.1; done
	grep -q '"subscribed":true' "$tmp/ev" || fail "vpf ctl events did not subscribe"
	"$VPF" ctl "$sock" link dev=net0 up=true >/dev/null || fail "link up failed"
	stop_ctl_vm
	wait $evpid || fail "vpf ctl events exited $?"
	grep -q '^{"event":"link","timestamp":{"seconds":[0-9]*,"microseconds":[0-9]*},"data":{"dev":"net0","up":true,"by":"host"}}$' "$tmp/ev" ||
		fail "no link event: $(cat "$tmp/ev")"
	grep -q '"event":"shutdown",.*"data":{"reason":"guest powered off","status":0}' "$tmp/ev" ||
		fail "no shutdown event: $(cat "$tmp/ev")"
	expect_rc 0
	! ip link show vpfctl$$ >/dev/null 2>&1 || fail "tap vpfctl$$ left behind"
	[ ! -e "$sock" ] || fail "control socket left behind" ;;
ctl-schema)
	# The control protocol as docs/api.schema.json describes it (tests/host/ctl_schema.py).
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfsc$$,mac=52:54:00:00:00:20,total-vfs=2,vf-tap=vpfsd$$x%d --net tap=vpfse$$
	/usr/bin/python3 "$(dirname "$0")/ctl_schema.py" "$sock" "$(dirname "$0")/../../docs/api.schema.json" \
		>"$tmp/r" 2>&1 || fail "schema check: $(cat "$tmp/r")"
	stop_ctl_vm
	expect_rc 0 ;;
ctl-quit)
	# quit over the control socket: vpf stops the VM and exits 0 (no guest shutdown).
	need_kvm
	start_ctl_vm
	"$VPF" ctl "$sock" info >"$tmp/r" || fail "info failed"
	grep -Eq '^\{"ok":true,"version":"[0-9.]+","revision":"[^"]*","uptime_ms":[0-9]+,"cpus":1,"memory_mib":512,"devices":\[\]\}$' "$tmp/r" ||
		fail "info: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" quit >"$tmp/r" || fail "quit failed: $(cat "$tmp/r")"
	exec 3>&-; wait $pid; rc=$?
	expect_rc 0
	grep -q "quit through the control socket" "$err" || fail "no quit line in the log" ;;
ctl-path-taken)
	# --ctl replaces only a stale socket: a regular file stays, vpf refuses to start.
	need_kvm
	echo precious >"$tmp/f"
	run_vpf run --kernel "$(guest poweroff)" --ctl "$tmp/f"
	expect_error "control socket .*/f: the path exists and is not a socket"
	[ "$(cat "$tmp/f")" = precious ] || fail "the file at the --ctl path was changed" ;;
ctl-socket-mode)
	# Created 0600 whatever the umask, or with --ctl-group's group and 0660.
	need_kvm
	umask 000; start_ctl_vm; umask 077
	[ "$(stat -c %a "$sock")" = 600 ] || fail "mode $(stat -c %a "$sock") under umask 000"
	stop_ctl_vm; expect_rc 0
	start_ctl_vm --ctl-group 4242
	[ "$(stat -c %a:%g "$sock")" = 660:4242 ] || fail "with --ctl-group: $(stat -c %a:%g "$sock")"
	stop_ctl_vm; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --ctl "$sock" --ctl-mode 999
	expect_error "--ctl-mode: '999' is not a mode" ;;
sigterm)
	# SIGTERM stops the VM cleanly: exit 128+15, the tap vpf created is gone.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfsig$$
	kill -TERM $pid
	wait $pid; rc=$?
	exec 3>&-
	expect_rc 143
	! ip link show vpfsig$$ >/dev/null 2>&1 || fail "tap vpfsig$$ left behind"
	[ ! -e "$sock" ] || fail "control socket left behind" ;;
seccomp-default)
	# The filters are on by default: every thread has the process-wide one and its own
	# kind's, no_new_privs is set, and the guest still powers off with 0.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfsc$$
	await_confined
	if sanitizer_build; then
		stop_ctl_vm; expect_rc 0; skip "sanitizer build: vpf installs no seccomp filter"
	fi
	for t in vpf vcpu0 net0 ctl stdin; do
		[ "$(status_of $t Seccomp)" = 2 ] || fail "thread $t: Seccomp $(status_of $t Seccomp), expected 2 (filter)"
		[ "$(status_of $t Seccomp_filters)" = 2 ] ||
			fail "thread $t: $(status_of $t Seccomp_filters) filters, expected 2 (base + its kind's)"
		[ "$(status_of $t NoNewPrivs)" = 1 ] || fail "thread $t: no_new_privs not set"
	done
	"$VPF" ctl "$sock" stats dev=net0 >/dev/null || fail "stats failed under the filter"
	stop_ctl_vm
	expect_rc 0
	! grep -q "seccomp: thread" "$err" || fail "a thread made a forbidden call" ;;
seccomp-modes)
	# --seccomp=off and log also run the guest; anything else is refused.
	need_kvm
	run_vpf run --kernel "$(guest poweroff)" --seccomp=off; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --seccomp=log; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --seccomp on; expect_rc 0
	start_ctl_vm --seccomp=off
	await_confined
	[ "$(status_of vcpu0 Seccomp)" = 0 ] || fail "--seccomp=off: vcpu0 has a filter"
	[ "$(status_of vpf NoNewPrivs)" = 1 ] || fail "--seccomp=off: no_new_privs not set"
	stop_ctl_vm; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --seccomp=yes
	expect_error "--seccomp must be on, off or log, not 'yes'" ;;
capabilities)
	# After setup no thread keeps a capability, except the vCPU threads' CAP_NET_ADMIN
	# (bit 12) while an SR-IOV PF's guest can bring up VFs with new taps.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	[ "$(id -u)" = 0 ] || skip "not root: nothing to drop"
	start_ctl_vm --net tap=vpfcap$$
	await_confined
	for t in vpf vcpu0 net0 ctl stdin; do
		[ "$(status_of $t CapEff)" = 0000000000000000 ] || fail "no VFs: thread $t has CapEff $(status_of $t CapEff)"
		[ "$(status_of $t CapPrm)" = 0000000000000000 ] || fail "no VFs: thread $t has CapPrm $(status_of $t CapPrm)"
	done
	stop_ctl_vm; expect_rc 0
	start_ctl_vm --cpus 2 --net tap=vpfcap$$,total-vfs=2,vf-tap=vpfcv$$x%d
	await_confined
	for t in vpf net0 ctl stdin; do
		[ "$(status_of $t CapEff)" = 0000000000000000 ] || fail "VFs: thread $t has CapEff $(status_of $t CapEff)"
	done
	for t in vcpu0 vcpu1; do
		[ "$(status_of $t CapEff)" = 0000000000001000 ] || fail "VFs: $t has CapEff $(status_of $t CapEff), expected CAP_NET_ADMIN only"
		[ "$(status_of $t CapBnd)" = 0000000000001000 ] || fail "VFs: $t has CapBnd $(status_of $t CapBnd)"
	done
	stop_ctl_vm; expect_rc 0 ;;
user)
	# --user: after setup (done as root: /dev/kvm, the tap, the socket) every thread runs
	# as the user, with CAP_NET_ADMIN kept only by the vCPU threads when VFs can come up.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	[ "$(id -u)" = 0 ] || skip "not root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	u=$(id -u nobody) g=$(id -g nobody)
	start_ctl_vm --user nobody --net tap=vpfus$$,total-vfs=1,vf-tap=vpfuv$$x%d
	await_confined
	for t in vpf vcpu0 net0 ctl stdin; do
		[ "$(status_of "$t" Uid)" = "$u" ] || fail "thread $t runs as uid $(status_of "$t" Uid), expected $u"
		[ "$(status_of "$t" Gid)" = "$g" ] || fail "thread $t runs as gid $(status_of "$t" Gid), expected $g"
		awk '$1 == "Groups:" && NF > 2 { exit 1 }' "/proc/$vpid/status" || fail "supplementary groups kept"
	done
	[ "$(status_of vpf CapEff)" = 0000000000000000 ] || fail "main thread has CapEff $(status_of vpf CapEff)"
	[ "$(status_of vcpu0 CapEff)" = 0000000000001000 ] || fail "vcpu0 has CapEff $(status_of vcpu0 CapEff)"
	"$VPF" ctl "$sock" devices >/dev/null || fail "root cannot use the socket of a vpf run as nobody"
	stop_ctl_vm; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --user no-such-user-$$
	expect_error "--user: no user 'no-such-user-$$'" ;;
unknown-option)
	run_vpf run --kernel "$(guest poweroff)" --frobnicate; expect_error "unknown option" ;;
option-missing-argument)
	# Each option that takes a value, given none, is named (it once read "unknown option '-k'").
	for opt in --kernel --memory --net --cpus --cmdline --ctl --ctl-mode --ctl-group -k; do
		run_vpf run "$opt"; expect_error "option $opt needs an argument"
	done ;;
version)
	run_vpf --version; expect_rc 0
	grep -Eq '^vpf [0-9]+\.[0-9]+\.[0-9]+( git [0-9a-f]+(-dirty)?)?$' "$out" || fail "--version: $(cat "$out")"
	run_vpf version; expect_rc 0 ;;
unknown-command)
	run_vpf frobnicate; expect_error "unknown command" ;;
*)
	echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
