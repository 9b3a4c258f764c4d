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
# ctl_guest=sriov: the guest enables 2 VFs of 00:01.0 on its first input byte, then echoes.
# ctl_wrap: a command (and its arguments) vpf runs under, e.g. with_tap_fd.
start_ctl_vm() {
	rm -f "$tmp/in"; mkfifo "$tmp/in"; sock=$tmp/ctl.sock
	${ctl_wrap:-} timeout 30 "$VPF" run --kernel "$(guest "${ctl_guest:-echo}")" "$@" --ctl "$sock" \
		<"$tmp/in" >"$out" 2>"$err" &
	pid=$!
	exec 3>"$tmp/in"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || fail "no control socket"
}
# enable_vfs: the sriov guest enables its VFs; returns once vfs lists 2 up.
enable_vfs() {
	echo x >&3
	for _ in $(seq 100); do
		"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/vfs" && grep -q '"num_vfs":2' "$tmp/vfs" && return
		sleep 0.1
	done
	fail "the guest's VFs did not come up: $(cat "$tmp/vfs")"
}
# stop_ctl_vm: the echo guest powers off on "q"; rc = vpf's exit status.
stop_ctl_vm() { echo q >&3; exec 3>&-; wait $pid; rc=$?; }
# await_confined: the control thread answers once vpf confined itself (it starts after).
# Sets vpid, vpf's pid ($pid is timeout's).
await_confined() {
	"$VPF" ctl --json "$sock" help >/dev/null || fail "the control socket does not answer"
	vpid=$pid
	while [ -n "$vpid" ] && [ "$(cat "/proc/$vpid/comm" 2>/dev/null)" != vpf ]; do   # under wrappers
		vpid=$(cat "/proc/$vpid/task/$vpid/children" 2>/dev/null); vpid=${vpid%% *}
	done
	[ -n "$vpid" ] || fail "no vpf process under $pid"
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
# with_tap_fd IFNAME VNET_HDR(0|1) CMD ARGS...: runs CMD with an inherited fd of the new
# tap IFNAME (IFF_TAP | IFF_NO_PI [| IFF_VNET_HDR]), as a privileged manager hands one
# to an unprivileged vpf; @FD@ in ARGS becomes its number.
with_tap_fd() {
	python3 -c '
import fcntl, os, struct, sys
name, vnet, cmd = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
fd = os.open("/dev/net/tun", os.O_RDWR)
flags = 0x0002 | 0x1000 | (0x4000 if vnet else 0)     # IFF_TAP, IFF_NO_PI, IFF_VNET_HDR
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH22x", name.encode(), flags))   # TUNSETIFF
os.set_inheritable(fd, True)
os.execvp(cmd[0], [a.replace("@FD@", str(fd)) for a in cmd])' "$@"    # stdin stays the caller's
}
# json_true FILE PYEXPR: PYEXPR, over j (FILE's JSON), is true.
json_true() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$@"
}

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
	expect_error "backend must be tap, vhost-net, vhost-vdpa or vhost-user, not 'dpdk'" ;;
net-vf-bad-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-tap=v%d,vf-backend=vhost
	expect_error "vf-backend must be tap, vhost-net, vhost-vdpa or vhost-user, not 'vhost'" ;;
net-vf-backend-needs-vfs)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,vf-backend=vhost-net
	expect_error "vf-backend, vf-vdpa, vf-vdpa-mgmtdev, vf-socket, vf-vhost-user-server, vf-spoofchk and vf-queues need total-vfs=N" ;;
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
	start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:10,total-vfs=2,vf-tap=vpfw$$x%d,vf-backend=vhost-net,queues=2,vf-queues=3
	"$VPF" ctl --json "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0",.*"total_vfs":2,"backend":"tap","vf_backend":"vhost-net","queue_pairs":2,"vf_queue_pairs":3}' "$tmp/r" ||
		fail "devices: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	[ "$(grep -o '"up":false,[^}]*"queue_pairs":3}' "$tmp/r" | wc -l)" = 2 ] || fail "vfs: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" stats dev=net0 >"$tmp/r" || fail "stats failed"
	# The guest's interrupt moderation (NOTF_COAL): none until its driver sets some.
	grep -q '"tx_spoofed":0,"rx_usecs":0,"rx_max_packets":0,"tx_usecs":0,"tx_max_packets":0,"backend":"tap","counters":"vpf"' "$tmp/r" ||
		fail "stats: $(cat "$tmp/r")"
	for args in "vlan=100" "spoofchk=true" "rate=10" "mac=02:00:00:00:00:22 vlan=5"; do
		# shellcheck disable=SC2086
		! "$VPF" ctl --json "$sock" vf-set dev=net0 vf=1 $args 2>"$tmp/e" || fail "vf-set $args accepted"
		grep -q 'VF 1 is on vhost-net' "$tmp/e" || fail "vf-set $args: $(cat "$tmp/e")"
	done
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=1 mac=02:00:00:00:00:22 >"$tmp/r" || fail "vf-set mac failed"
	grep -q '"vf":1,"mac":"02:00:00:00:00:22","vlan":0,"spoofchk":false' "$tmp/r" || fail "vf-set: $(cat "$tmp/r")"
	# Trust and link state are vpf's (control queue, config space): accepted there.
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=1 trust=on state=disable max_tx_rate=0 min_tx_rate=0 >"$tmp/r" ||
		fail "vf-set trust/state on a vhost-net VF failed"
	json_true "$tmp/r" 'j["trust"] and j["link_state"] == "disable"' || fail "vf-set: $(cat "$tmp/r")"
	! "$VPF" ctl --json "$sock" vf-set dev=net0 vf=1 vlan=5 qos=2 2>"$tmp/e" || fail "vf-set vlan qos accepted"
	grep -q 'VF 1 is on vhost-net' "$tmp/e" || fail "vf-set vlan qos: $(cat "$tmp/e")"
	"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	json_true "$tmp/r" '[(v["backend"], v["trust"], v["link_state"]) for v in j["vfs"]] ==
        [("vhost-net", False, "auto"), ("vhost-net", True, "disable")]' || fail "vfs: $(cat "$tmp/r")"
	stop_ctl_vm
	expect_rc 0 ;;
net-tap-fd)
	# --net fd=N: a tap the caller opened (vpf needs no CAP_NET_ADMIN for it); vpf uses it
	# as it is, and refuses anything but an open tap with the vnet header.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	rm -f "$tmp/in"; mkfifo "$tmp/in"; sock=$tmp/ctl.sock
	with_tap_fd vpffd$$ 1 timeout 30 "$VPF" run --kernel "$(guest echo)" --ctl "$sock" \
		--net fd=@FD@,mac=52:54:00:00:00:61,total-vfs=2,vf-tap=vpffv$$x%d <"$tmp/in" >"$out" 2>"$err" &
	pid=$!
	exec 3>"$tmp/in"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || fail "no control socket"
	"$VPF" ctl --json "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0",.*"mac":"52:54:00:00:00:61","tap":"vpffd'$$'",.*"backend":"tap"' "$tmp/r" ||
		fail "devices: $(cat "$tmp/r")"
	grep -Eq "net0: virtio-net at 00:01.0, tap vpffd$$ \(handed over\)" "$err" || fail "no hand-over in the log"
	stop_ctl_vm; expect_rc 0
	with_tap_fd vpffd$$ 1 timeout 20 "$VPF" run --kernel "$(guest poweroff)" --net tap=vpfx$$,fd=@FD@ 2>"$err"
	rc=$?; expect_error "tap=IFNAME and fd=N both name the tap"
	with_tap_fd vpffd$$ 0 timeout 20 "$VPF" run --kernel "$(guest poweroff)" --net fd=@FD@ 2>"$err"
	rc=$?; expect_error "fd [0-9]+: vpffd$$ is not a tap with IFF_NO_PI and IFF_VNET_HDR"
	run_vpf run --kernel "$(guest poweroff)" --net fd=2
	expect_error "fd= wants the number of an open tap file descriptor \(3 or more\), not '2'"
	run_vpf run --kernel "$(guest poweroff)" --net fd=99
	expect_error "fd 99: not an open tap \(TUNGETIFF: not an open file\)"
	run_vpf run --kernel "$(guest poweroff)" --net fd=5 5</dev/null
	expect_error "fd 5: not an open tap" ;;
sriov-vfs-up)
	# VFs a (tiny) guest enables: the settings the host gave them while down apply at VF
	# Enable, at once afterwards; state and the PF's link move their links (with events);
	# a tap handed over (vf-tap) is used as it is. Seccomp is on: VF Enable runs confined.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	[ "$(id -u)" = 0 ] || skip "not root (vpf ctl opens the tap to hand over)"
	ctl_guest=sriov start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:30,total-vfs=3,vf-tap=vpfv$$x%d
	"$VPF" ctl --json "$sock" events >"$tmp/ev" &
	evpid=$!
	"$VPF" ctl --json "$sock" vf-set dev net0 vf 0 vlan 5 qos 2 proto 802.1ad trust on state disable \
		max_tx_rate 10 >/dev/null || fail "vf-set before VF Enable failed"
	"$VPF" ctl --json "$sock" vf-tap dev=net0 vf=1 tap=vpfh$$ >/dev/null || fail "vf-tap failed"
	enable_vfs
	json_true "$tmp/vfs" '(lambda a, b, c: a["up"] and not a["link"] and a["tap"] == "vpfv'$$'x0" and
        (a["vlan"], a["qos"], a["proto"], a["trust"], a["link_state"], a["max_tx_rate"]) ==
        (5, 2, "802.1ad", True, "disable", 10) and a["pci"] == "0000:00:01.1" and
        b["up"] and b["link"] and b["tap"] == "vpfh'$$'" and b["backend"] == "tap" and b["error"] == "" and
        not c["up"] and "dev" not in c)(*j["vfs"])' || fail "vfs after VF Enable: $(cat "$tmp/vfs")"
	grep -q "net0vf1: VF at 00:01.2, mac 52:54:00:00:00:32, tap vpfh$$ (handed over)" "$err" ||
		fail "VF 1 not on the handed-over tap"
	ip link show vpfv$$x0 >/dev/null 2>&1 || fail "VF 0's tap vpfv$$x0 was not created"
	vf_link() { # vf_link I: VF I's link as vfs says
		"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/v" || fail "vfs failed"
		python3 -c 'import json, sys; print(str(json.load(open(sys.argv[1]))["vfs"][int(sys.argv[2])]["link"]).lower())' "$tmp/v" "$1"
	}
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=0 state=enable >/dev/null || fail "vf-set state=enable failed"
	[ "$(vf_link 0)" = true ] || fail "VF 0 with state enable: link down"
	"$VPF" ctl --json "$sock" link dev=net0 up=false >/dev/null || fail "PF link down failed"
	[ "$(vf_link 1)" = false ] || fail "VF 1 (state auto) did not follow the PF's link down"
	[ "$(vf_link 0)" = true ] || fail "VF 0 (state enable) followed the PF's link"
	"$VPF" ctl --json "$sock" link dev=net0vf1 up=true >/dev/null || fail "link net0vf1 up failed"
	[ "$(vf_link 1)" = true ] || fail "link up on VF 1 while the PF's is down"
	"$VPF" ctl --json "$sock" vfs dev=net0 | grep -q '"vf":1,.*"link_state":"enable"' || fail "link on a VF is not its state"
	"$VPF" ctl --json "$sock" link dev=net0 up=true >/dev/null || fail "PF link up failed"
	"$VPF" ctl --json "$sock" stats dev=net0vf1 | grep -q '"link":true' || fail "stats net0vf1"
	! "$VPF" ctl --json "$sock" vf-tap dev=net0 vf=1 tap=vpfh$$b 2>"$tmp/e" || fail "vf-tap accepted for a VF that is up"
	grep -q 'net0vf1 is up: hand its tap over while the guest has it disabled' "$tmp/e" || fail "vf-tap: $(cat "$tmp/e")"
	stop_ctl_vm; expect_rc 0
	wait "$evpid"
	for want in '"dev":"net0vf0","up":true,"by":"host"' '"dev":"net0vf1","up":false,"by":"pf"' \
				'"dev":"net0vf1","up":true,"by":"host"' '"event":"vfs-changed",.*"num_vfs":2'; do
		grep -q "$want" "$tmp/ev" || fail "no event $want: $(cat "$tmp/ev")"
	done
	! grep -q '"dev":"net0vf0","up":false,"by":"pf"' "$tmp/ev" || fail "VF 0 (state enable) followed the PF" ;;
sriov-unprivileged)
	# A vpf without CAP_NET_ADMIN (root less that capability, as a manager would start
	# it): the PF on a tap it inherited (--net fd=N), VF 1 on a tap handed over (vf-tap);
	# VF 0's tap it cannot create: that VF comes up with its link down and the reason.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	[ "$(id -u)" = 0 ] || skip "not root"
	command -v setpriv >/dev/null || skip "no setpriv"
	ctl_guest=sriov ctl_wrap="with_tap_fd vpfpf$$ 1 setpriv --bounding-set=-net_admin --inh-caps=-net_admin --" \
		start_ctl_vm --net fd=@FD@,mac=52:54:00:00:00:40,total-vfs=2,vf-tap=vpfw$$x%d
	await_confined
	# The vCPU thread that runs VF Enable keeps CAP_NET_ADMIN when vpf has it (cli_user):
	# here it has none.
	[ "$(status_of vcpu0 CapEff)" = 0000000000000000 ] || fail "vcpu0 has CapEff $(status_of vcpu0 CapEff)"
	"$VPF" ctl --json "$sock" vf-tap dev=net0 vf=1 tap=vpfu$$ >/dev/null || fail "vf-tap failed"
	enable_vfs
	json_true "$tmp/vfs" '(lambda a, b: a["up"] and not a["link"] and a["backend"] == "null" and
        "Operation not permitted" in a["error"] and b["link"] and b["backend"] == "tap" and
        b["tap"] == "vpfu'$$'" and b["error"] == "")(*j["vfs"])' || fail "vfs: $(cat "$tmp/vfs")"
	"$VPF" ctl --json "$sock" devices | grep -q '"tap":"vpfpf'$$'"' || fail "devices: the PF's tap"
	stop_ctl_vm; expect_rc 0 ;;
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
	"$VPF" ctl --json "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0",.*"total_vfs":2,"backend":"tap","vf_backend":"vhost-vdpa"' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	for args in "vlan=100" "spoofchk=true" "rate=10"; do
		# shellcheck disable=SC2086
		! "$VPF" ctl --json "$sock" vf-set dev=net0 vf=0 $args 2>"$tmp/e" || fail "vf-set $args accepted"
		grep -q 'VF 0 is on vhost-vdpa: the vDPA device moves its frames' "$tmp/e" || fail "vf-set $args: $(cat "$tmp/e")"
	done
	! "$VPF" ctl --json "$sock" vf-tap dev=net0 vf=0 fd=7 7</dev/null 2>"$tmp/e" || fail "vf-tap accepted for a vDPA VF"
	grep -q 'VF 0 is on vhost-vdpa: it has no tap' "$tmp/e" || fail "vf-tap: $(cat "$tmp/e")"
	stop_ctl_vm
	expect_rc 0 ;;
net-vhost-user-needs-socket)
	run_vpf run --kernel "$(guest poweroff)" --net backend=vhost-user
	expect_error "backend=vhost-user wants socket=PATH and no tap=, fd= or vdpa=" ;;
net-vhost-user-socket-needs-backend)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,socket=/tmp/x.sock
	expect_error "socket= and vhost-user-server= need backend=vhost-user" ;;
net-vf-vhost-user-bad-pattern)
	run_vpf run --kernel "$(guest poweroff)" --net tap=vpfbad0,total-vfs=2,vf-backend=vhost-user,vf-socket=/tmp/vf.sock
	expect_error "vf-backend=vhost-user wants vf-socket=PATTERN with exactly one %d" ;;
net-vhost-user-shared-socket)
	run_vpf run --kernel "$(guest poweroff)" --net backend=vhost-user,socket=/tmp/vf1.sock \
		--net tap=vpfbad0,total-vfs=2,vf-backend=vhost-user,vf-socket=/tmp/vf%d.sock
	expect_error "vhost-user socket /tmp/vf1.sock is given to both net0 and net1vf1" ;;
vhost-user-reconnect)
	# A PF on a vhost-user socket nobody serves yet (seccomp on): link down, the reason
	# and "connecting" on the control socket, retried from the device's I/O thread; a
	# peer appears (tests/host/vu_peer.py): connected; it dies: connecting again; it is
	# back: connected. VFs on vhost-user: vf-set refuses what vpf cannot enforce.
	need_kvm
	vus=$tmp/vu.sock
	start_ctl_vm --net "backend=vhost-user,socket=$vus,mac=52:54:00:00:00:20" \
		--net "backend=vhost-user,socket=$tmp/srv.sock,vhost-user-server=on" \
		--net "backend=vhost-user,socket=$tmp/pf2.sock,total-vfs=2,vf-backend=vhost-user,vf-socket=$tmp/vf%d.sock"
	await_confined
	peer_state() { "$VPF" ctl --json "$sock" devices | grep -o '"dev":"net'"$1"'"[^}]*"peer":"[a-z]*"' | sed 's/.*"peer":"//;s/"//'; }
	[ "$(peer_state 0)" = connecting ] || fail "net0 not connecting: $("$VPF" ctl --json "$sock" devices)"
	[ "$(peer_state 1)" = listening ] || fail "net1 not listening: $("$VPF" ctl --json "$sock" devices)"
	[ -S "$tmp/srv.sock" ] || fail "no server socket"
	"$VPF" ctl --json "$sock" stats dev=net0 >"$tmp/r" || fail "stats failed"
	grep -q '"error":"vhost-user '"$vus"': cannot connect to '"$vus"': No such file or directory; retrying"' "$tmp/r" || fail "stats: $(cat "$tmp/r")"
	grep -q '"socket":"'"$vus"'","peer":"connecting"' "$tmp/r" || fail "stats: $(cat "$tmp/r")"
	/usr/bin/python3 "$(dirname "$0")/vu_peer.py" "$vus" "$tmp/peer.log" & ppid=$!
	for _ in $(seq 50); do [ "$(peer_state 0)" = connected ] && break; sleep 0.1; done
	[ "$(peer_state 0)" = connected ] || fail "not connected to the peer: $("$VPF" ctl --json "$sock" devices)"
	kill "$ppid"; wait "$ppid" 2>/dev/null
	for _ in $(seq 50); do [ "$(peer_state 0)" = connecting ] && break; sleep 0.1; done
	[ "$(peer_state 0)" = connecting ] || fail "the peer's death went unseen"
	/usr/bin/python3 "$(dirname "$0")/vu_peer.py" "$vus" "$tmp/peer.log" & ppid=$!
	for _ in $(seq 50); do [ "$(peer_state 0)" = connected ] && break; sleep 0.1; done
	[ "$(peer_state 0)" = connected ] || fail "no reconnect"
	kill "$ppid"; wait "$ppid" 2>/dev/null
	[ "$(grep -c '^connected' "$tmp/peer.log")" = 2 ] || fail "peer log: $(cat "$tmp/peer.log")"
	grep -q '^request 3 ' "$tmp/peer.log" || fail "no SET_OWNER: $(cat "$tmp/peer.log")"
	! "$VPF" ctl --json "$sock" vf-set dev=net2 vf=0 vlan=5 2>"$tmp/e" || fail "vf-set vlan accepted"
	grep -q 'VF 0 is on vhost-user: the vhost-user switch moves its frames' "$tmp/e" || fail "vf-set: $(cat "$tmp/e")"
	stop_ctl_vm
	! grep -q seccomp "$err" || sanitizer_build || fail "seccomp: $(cat "$err")"
	[ ! -e "$tmp/srv.sock" ] || fail "the server socket was left behind"
	expect_rc 0 ;;
sriov-ctl)
	# An SR-IOV PF whose guest never enables VFs: vfs lists none, stats works, VF names
	# that do not exist are refused, and the VF slots stay free for later devices.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfpf$$,mac=52:54:00:00:00:10,total-vfs=9,vf-tap=vpfv$$x%d --net tap=vpfn$$
	# vfs lists every VF the PF allows, down ones too (as ip link show), with defaults.
	"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	grep -q '"dev":"net0","total_vfs":9,"num_vfs":0,"vfs":\[{"vf":0,"mac":"52:54:00:00:00:11","tap":"vpfv'$$'x0","link":false,"up":false,' \
		"$tmp/r" || fail "vfs: $(cat "$tmp/r")"
	json_true "$tmp/r" 'len(j["vfs"]) == 9 and all(not v["up"] and "pci" not in v and v["link_state"] == "auto" and
        not v["trust"] and v["spoofchk"] and (v["vlan"], v["qos"], v["proto"]) == (0, 0, "802.1Q") and
        v["max_tx_rate"] == v["min_tx_rate"] == v["rate"] == 0 and v["backend"] == "tap" for v in j["vfs"])' ||
		fail "vfs defaults: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" devices >"$tmp/r" || fail "devices failed"
	# PF at 00:01.0, VFs 00:01.1..00:02.1: the next NIC goes to 00:03.0.
	grep -q '"dev":"net1","pci":"0000:00:03.0"' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	grep -q '"total_vfs":9' "$tmp/r" || fail "devices lacks total_vfs: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" stats dev=net0 | grep -q '"tx_spoofed":0' || fail "stats lacks tx_spoofed"
	! "$VPF" ctl --json "$sock" stats dev=net0vf0 2>"$tmp/e" || fail "absent VF accepted"
	grep -q 'no device "net0vf0"' "$tmp/e" || fail "absent VF error: $(cat "$tmp/e")"
	! "$VPF" ctl --json "$sock" vfs dev=net1 2>"$tmp/e" || fail "vfs of a plain NIC accepted"
	grep -q 'not an SR-IOV PF' "$tmp/e" || fail "vfs error: $(cat "$tmp/e")"
	# The host sets a VF's port while it is down; errors leave it as it was.
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=2 vlan=100 spoofchk=false mac=02:00:00:00:00:22 >"$tmp/r" ||
		fail "vf-set failed: $(cat "$tmp/r")"
	grep -q '"vf":2,"mac":"02:00:00:00:00:22","vlan":100,"spoofchk":false,"rate":0,"up":false' "$tmp/r" ||
		fail "vf-set: $(cat "$tmp/r")"
	vf_set_refused() { # vf_set_refused ERROR-REGEX ARGS...
		local want=$1; shift
		! "$VPF" ctl --json "$sock" vf-set "$@" 2>"$tmp/e" || fail "vf-set $* accepted"
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
	vf_set_refused 'vf-set does not take "vlan-id"' dev=net0 vf=2 vlan-id=3
	vf_set_refused '"spoofchk" must be true or false' dev=net0 vf=2 spoofchk=yes
	# iproute2's vocabulary (ip link set PF vf I ...), every word, read back through vfs.
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=3 vlan=100 qos=5 proto=802.1ad spoofchk=off trust=on \
		state=disable max_tx_rate=300 min_tx_rate=0 mac=02:00:00:00:00:33 >"$tmp/r" || fail "vf-set failed: $(cat "$tmp/r")"
	grep -q '"vf":3,"mac":"02:00:00:00:00:33","vlan":100,"spoofchk":false,"rate":300,"up":false,"link_state":"disable","trust":true,"qos":5,"proto":"802.1ad","max_tx_rate":300,"min_tx_rate":0' \
		"$tmp/r" || fail "vf-set: $(cat "$tmp/r")"
	vf3_is() { # vf3_is PYEXPR: over v, VF 3's entry in vfs
		"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/v" || fail "vfs failed"
		json_true "$tmp/v" "(lambda v: $1)(j['vfs'][3])" || fail "vfs: VF 3 is not $1: $(cat "$tmp/v")"
	}
	vf3_is 'v["mac"] == "02:00:00:00:00:33" and (v["vlan"], v["qos"], v["proto"]) == (100, 5, "802.1ad") and
        not v["spoofchk"] and v["trust"] and v["link_state"] == "disable" and v["max_tx_rate"] == v["rate"] == 300 and
        not v["up"] and not v["link"]'
	# Refused, with the reason; the VF keeps what it had.
	vf_set_refused 'vlan must be a number from 0 \(none\) to 4094 \(4095 is reserved' dev=net0 vf=3 vlan=4095
	vf_set_refused 'qos must be an 802.1p priority from 0 to 7' dev=net0 vf=3 vlan=5 qos=8
	vf_set_refused 'qos and proto go with vlan' dev=net0 vf=3 qos=1
	vf_set_refused 'qos and proto go with vlan' dev=net0 vf=3 proto=802.1Q
	vf_set_refused 'proto must be 802.1Q or 802.1ad, not "802.1x"' dev=net0 vf=3 vlan=5 proto=802.1x
	vf_set_refused 'vlan 0 removes the VLAN: qos must be 0' dev=net0 vf=3 vlan=0 qos=2
	vf_set_refused 'state must be auto \(the PF.s link\), enable or disable, not "up"' dev=net0 vf=3 state=up
	vf_set_refused '"trust" must be true or false' dev=net0 vf=3 trust=maybe
	vf_set_refused 'min_tx_rate: vpf guarantees a VF no bandwidth' dev=net0 vf=3 min_tx_rate=10
	vf_set_refused 'min_tx_rate must be a number' dev=net0 vf=3 min_tx_rate=-1
	vf_set_refused 'max_tx_rate must be a number of Mbit/s from 0' dev=net0 vf=3 max_tx_rate=1000001
	vf_set_refused "rate is max_tx_rate's older name" dev=net0 vf=3 rate=5 max_tx_rate=6
	vf_set_refused 'invalid MAC "00:00:00:00:00:00"' dev=net0 vf=3 mac=00:00:00:00:00:00
	vf_set_refused 'state must be' dev=net0 vf=3 trust=off state=sideways
	vf3_is 'v["trust"] and (v["vlan"], v["qos"], v["proto"]) == (100, 5, "802.1ad") and v["link_state"] == "disable"'
	# vlan alone resets qos and proto (one setting, as in ip link); vlan 0 removes it.
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=3 vlan=200 >/dev/null || fail "vf-set vlan=200 failed"
	vf3_is '(v["vlan"], v["qos"], v["proto"]) == (200, 0, "802.1Q")'
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=3 vlan=0 trust=off state=auto rate=0 >/dev/null || fail "vf-set clear failed"
	vf3_is '(v["vlan"], v["qos"], v["trust"], v["link_state"], v["max_tx_rate"]) == (0, 0, False, "auto", 0)'
	# vpf ctl takes ip link's word pairs too.
	"$VPF" ctl --json "$sock" vf-set dev net0 vf 3 vlan 7 qos 1 proto 802.1AD trust on state enable >/dev/null ||
		fail "vpf ctl with KEY VALUE words failed"
	vf3_is '(v["vlan"], v["qos"], v["proto"], v["trust"], v["link_state"]) == (7, 1, "802.1ad", True, "enable")'
	! "$VPF" ctl --json "$sock" vf-set dev net0 vf 2>"$tmp/e" || fail "vpf ctl: a key without its value accepted"
	grep -q 'must be KEY=VALUE or KEY VALUE' "$tmp/e" || fail "vpf ctl: $(cat "$tmp/e")"
	# vf-tap: a tap vpf ctl opens (as a privileged manager would) goes with the request
	# (SCM_RIGHTS) and is VF 4's from its next Enable; vfs shows it.
	"$VPF" ctl --json "$sock" vf-tap dev=net0 vf=4 tap=vpfh$$x4 >"$tmp/r" || fail "vf-tap failed"
	grep -q '"dev":"net0","vf":4,"tap":"vpfh'$$'x4"' "$tmp/r" || fail "vf-tap: $(cat "$tmp/r")"
	ip link show vpfh$$x4 | grep -q '[<,]UP[,>]' || fail "vpf ctl did not bring tap vpfh$$x4 up"
	"$VPF" ctl --json "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	json_true "$tmp/r" 'j["vfs"][4]["tap"] == "vpfh'$$'x4" and j["vfs"][5]["tap"] == "vpfv'$$'x5"' ||
		fail "vfs after vf-tap: $(cat "$tmp/r")"
	vf_tap_refused() { # vf_tap_refused ERROR-REGEX ARGS...
		local want=$1; shift
		! "$VPF" ctl --json "$sock" vf-tap "$@" 2>"$tmp/e" 7</dev/null || fail "vf-tap $* accepted"
		grep -Eq "$want" "$tmp/e" || fail "vf-tap $*: $(cat "$tmp/e")"
	}
	vf_tap_refused 'vf-tap needs a file descriptor sent with the request line' dev=net0 vf=4
	vf_tap_refused 'the descriptor sent: not an open tap' dev=net0 vf=4 fd=7
	vf_tap_refused 'net0 has VFs 0 to 8' dev=net0 vf=9 tap=vpfh$$y
	vf_tap_refused "tap vpfv$$x5 is net0vf5's" dev=net0 vf=4 tap=vpfv$$x5
	vf_tap_refused 'not an SR-IOV PF' dev=net1 vf=0 tap=vpfh$$z
	vf_tap_refused 'vf-tap wants tap=IFNAME or fd=N' dev=net0 vf=4 tap=vpfh$$y fd=7
	# iproute2's words: spoofchk=on is applied.
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=2 spoofchk=on >"$tmp/r" || fail "vf-set spoofchk=on failed"
	grep -q '"spoofchk":true' "$tmp/r" || fail "vf-set spoofchk=on: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=2 spoofchk=off >/dev/null || fail "vf-set spoofchk=off failed"
	"$VPF" ctl --json "$sock" vf-set dev=net0 vf=2 rate=250 >"$tmp/r" || fail "vf-set rate failed"
	grep -q '"mac":"02:00:00:00:00:22","vlan":100,"spoofchk":false,"rate":250' "$tmp/r" || fail "vf-set lost: $(cat "$tmp/r")"
	stop_ctl_vm
	expect_rc 0 ;;
ctl-socket)
	# A guest that waits on its console while the control socket is driven from outside.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfctl$$,mac=52:54:00:00:00:42
	"$VPF" ctl --json "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -q '"dev":"net0".*"mac":"52:54:00:00:00:42".*"link":true' "$tmp/r" || fail "devices: $(cat "$tmp/r")"
	ip link show vpfctl$$ >/dev/null 2>&1 || fail "tap vpfctl$$ was not created"
	"$VPF" ctl --json "$sock" link dev=net0 up=false >/dev/null || fail "link down failed"
	"$VPF" ctl --json "$sock" stats dev=net0 >"$tmp/r" || fail "stats failed"
	grep -q '"link":false' "$tmp/r" || fail "stats after link down: $(cat "$tmp/r")"
	! "$VPF" ctl --json "$sock" link dev=net9 up=true 2>"$tmp/e" || fail "unknown device accepted"
	grep -q 'no device "net9"' "$tmp/e" || fail "unknown device error: $(cat "$tmp/e")"
	! "$VPF" ctl --json "$sock" link dev=net0 2>/dev/null || fail "link without up= accepted"
	! "$VPF" ctl --json "$sock" frobnicate 2>/dev/null || fail "unknown command accepted"
	"$VPF" ctl --json "$sock" help | grep -q '"link"' || fail "help does not list link (vpf still serving?)"
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
	"$VPF" ctl --json "$sock" devices >/dev/null || fail "vpf stopped answering after clients hung up"
	# vpf ctl events: the subscribe answer, then events as they come, until vpf exits.
	"$VPF" ctl --json "$sock" events >"$tmp/ev" 2>/dev/null &
	evpid=$!
	for _ in $(seq 100); do grep -q '"subscribed":true' "$tmp/ev" && break; sleep 0.1; done
	grep -q '"subscribed":true' "$tmp/ev" || fail "vpf ctl events did not subscribe"
	"$VPF" ctl --json "$sock" link dev=net0 up=true >/dev/null || fail "link up failed"
	stop_ctl_vm
	wait $evpid || fail "vpf ctl events exited $?"
	grep -q '^{"event":"link","timestamp":{"seconds":[0-9]*,"microseconds":[0-9]*},"data":{"dev":"net0","up":true,"by":"host"}}$' "$tmp/ev" ||
		fail "no link event: $(cat "$tmp/ev")"
	grep -q '"event":"shutdown",.*"data":{"reason":"guest powered off","status":0}' "$tmp/ev" ||
		fail "no shutdown event: $(cat "$tmp/ev")"
	expect_rc 0
	! ip link show vpfctl$$ >/dev/null 2>&1 || fail "tap vpfctl$$ left behind"
	[ ! -e "$sock" ] || fail "control socket left behind" ;;
ctl-human)
	# vpf ctl for people: tables for the listing commands, "key: value" lines for the
	# others, events one per line; --json prints what vpf sent. Errors: exit 1, the
	# message on stderr, nothing on stdout, in both forms.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_ctl_vm --net tap=vpfhu$$,mac=52:54:00:00:00:30,total-vfs=4,vf-tap=vpfhv$$x%d --net tap=vpfhw$$,mac=52:54:00:00:00:40
	"$VPF" ctl "$sock" devices >"$tmp/r" || fail "devices failed"
	grep -Eq '^DEV +PCI +MAC +LINK +BACKEND +PORT +VFS +VF-BACKEND$' "$tmp/r" || fail "devices header: $(cat "$tmp/r")"
	grep -Eq "^net0 +0000:00:01.0 +52:54:00:00:00:30 +up +tap +vpfhu$$ +4 +tap$" "$tmp/r" || fail "devices net0: $(cat "$tmp/r")"
	grep -Eq "^net1 +0000:00:02.0 +52:54:00:00:00:40 +up +tap +vpfhw$$ +- +-$" "$tmp/r" || fail "devices net1: $(cat "$tmp/r")"
	[ "$(wc -l <"$tmp/r")" -eq 3 ] || fail "devices: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" vfs dev=net0 >"$tmp/r" || fail "vfs failed"
	# Every VF the PF allows, down ones too, as ip link show lists them.
	[ "$(head -n 1 "$tmp/r")" = "net0: 0 of 4 VFs enabled" ] || fail "vfs: $(cat "$tmp/r")"
	grep -Eq '^VF +UP +DEV +PCI +MAC +LINK +STATE +BACKEND +PORT +VLAN +QOS +PROTO +SPOOFCHK +TRUST +MAX-TX ' "$tmp/r" ||
		fail "vfs header: $(cat "$tmp/r")"
	grep -Eq "^3 +false +- +- +52:54:00:00:00:34 +down +auto +tap +vpfhv$$x3 +- +- +802.1Q +on +off +- " "$tmp/r" ||
		fail "vfs VF 3: $(cat "$tmp/r")"
	[ "$(wc -l <"$tmp/r")" -eq 6 ] || fail "vfs: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" link dev=net1 up=off >"$tmp/r" || fail "link failed"
	[ "$(cat "$tmp/r")" = "$(printf 'dev: net1\nup:  false')" ] || fail "link: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" stats dev=net1 >"$tmp/r" || fail "stats failed"
	[ "$(head -n 1 "$tmp/r")" = "net1  link down  backend tap  counters vpf" ] || fail "stats: $(cat "$tmp/r")"
	grep -Eq '^ +PACKETS +BYTES +DROPPED +ERRORS +SPOOFED +IRQ-USECS +IRQ-FRAMES$' "$tmp/r" || fail "stats header: $(cat "$tmp/r")"
	grep -Eq '^RX +0 +0 +0 +0 +- +0 +0$' "$tmp/r" && grep -Eq '^TX +0 +0 +0 +0 +0 +0 +0$' "$tmp/r" ||
		fail "stats rows: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" help >"$tmp/r" || fail "help failed"
	grep -Eq '^vf-set +dev vf \[mac\] \[vlan\] \[qos\] \[proto\] \[spoofchk\] \[trust\] \[state\] \[max_tx_rate\] \[min_tx_rate\] \[rate\] +set a VF' "$tmp/r" ||
		fail "help: $(cat "$tmp/r")"
	"$VPF" ctl "$sock" info >"$tmp/r" || fail "info failed"
	grep -Eq '^devices: +net0,net1$' "$tmp/r" && grep -Eq '^cpus: +1$' "$tmp/r" || fail "info: $(cat "$tmp/r")"
	# --json anywhere among the arguments: the line vpf sent.
	"$VPF" ctl "$sock" --json devices >"$tmp/r" || fail "devices --json failed"
	grep -q '^{"ok":true,"devices":\[{"dev":"net0",' "$tmp/r" || fail "--json devices: $(cat "$tmp/r")"
	"$VPF" ctl -j "$sock" stats dev=net0 | grep -q '^{"ok":true,"dev":"net0","link":true,' || fail "-j stats"
	# Errors, both forms.
	for json in "" --json; do
		! "$VPF" ctl $json "$sock" stats dev=net9 >"$tmp/o" 2>"$tmp/e" || fail "unknown device accepted ($json)"
		[ "$(cat "$tmp/e")" = 'vpf ctl: no device "net9"' ] || fail "error ($json): $(cat "$tmp/e")"
		[ ! -s "$tmp/o" ] || fail "error ($json) printed on stdout: $(cat "$tmp/o")"
	done
	! "$VPF" ctl --frob "$sock" info 2>"$tmp/e" || fail "unknown option accepted"
	grep -q "vpf ctl: unknown option '--frob'" "$tmp/e" || fail "unknown option: $(cat "$tmp/e")"
	"$VPF" ctl --help >"$tmp/r" || fail "vpf ctl --help failed"
	grep -q -- "--json" "$tmp/r" || fail "vpf ctl --help lacks --json"
	# Events for people: one line each, a timestamp first.
	"$VPF" ctl "$sock" events >"$tmp/ev" 2>"$tmp/everr" &
	evpid=$!
	# Nothing says when it subscribed: set the link until an event shows.
	for _ in $(seq 100); do
		"$VPF" ctl "$sock" link dev=net1 up=on >/dev/null || fail "link up failed"
		grep -q ' link ' "$tmp/ev" && break; sleep 0.1
	done
	stop_ctl_vm
	wait $evpid || fail "vpf ctl events exited $?: $(cat "$tmp/everr")"
	[ ! -s "$tmp/everr" ] || fail "vpf ctl events: stderr $(cat "$tmp/everr")"
	stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
	grep -Eq "^$stamp link dev=net1 up=true by=host$" "$tmp/ev" || fail "events: $(cat "$tmp/ev")"
	grep -Eq "^$stamp shutdown reason=\"guest powered off\" status=0$" "$tmp/ev" || fail "events: $(cat "$tmp/ev")"
	expect_rc 0 ;;
ctl-man)
	# vpf-ctl(1) has an entry for every command a running vpf serves (help and the
	# greeting), so the page cannot fall behind the commands.
	need_kvm
	start_ctl_vm
	python3 - "$sock" >"$tmp/cmds" <<'PY' || fail "listing the commands failed"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile("rwb")
names = set(json.loads(f.readline())["greeting"]["commands"])
f.write(b'{"cmd":"help"}\n'); f.flush()
names |= {c["name"] for c in json.loads(f.readline())["commands"]}
print("\n".join(sorted(names | {"subscribe", "unsubscribe", "events"})))
PY
	stop_ctl_vm; expect_rc 0
	page=$(dirname "$0")/../../docs/vpf-ctl.1.in
	awk 'prev == ".TP" { print } { prev = $0 }' "$page" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/[",]/ /g' >"$tmp/tags"
	[ "$(wc -l <"$tmp/cmds")" -ge 8 ] || fail "only these commands: $(cat "$tmp/cmds")"
	while read -r cmd; do
		grep -Eq "^\.B[IR]? (.* )?$cmd( |$)" "$tmp/tags" || fail "vpf-ctl.1 has no entry for the command $cmd"
	done <"$tmp/cmds" ;;
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
	"$VPF" ctl --json "$sock" info >"$tmp/r" || fail "info failed"
	grep -Eq '^\{"ok":true,"version":"[0-9.]+","revision":"[^"]*","uptime_ms":[0-9]+,"cpus":1,"memory_mib":512,"devices":\[\]\}$' "$tmp/r" ||
		fail "info: $(cat "$tmp/r")"
	"$VPF" ctl --json "$sock" quit >"$tmp/r" || fail "quit failed: $(cat "$tmp/r")"
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
	"$VPF" ctl --json "$sock" stats dev=net0 >/dev/null || fail "stats failed under the filter"
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
		[ "$(status_of $t Uid)" = "$u" ] || fail "thread $t runs as uid $(status_of $t Uid), expected $u"
		[ "$(status_of $t Gid)" = "$g" ] || fail "thread $t runs as gid $(status_of $t Gid), expected $g"
		awk '$1 == "Groups:" && NF > 2 { exit 1 }' "/proc/$vpid/status" || fail "supplementary groups kept"
	done
	[ "$(status_of vpf CapEff)" = 0000000000000000 ] || fail "main thread has CapEff $(status_of vpf CapEff)"
	[ "$(status_of vcpu0 CapEff)" = 0000000000001000 ] || fail "vcpu0 has CapEff $(status_of vcpu0 CapEff)"
	"$VPF" ctl --json "$sock" devices >/dev/null || fail "root cannot use the socket of a vpf run as nobody"
	stop_ctl_vm; expect_rc 0
	run_vpf run --kernel "$(guest poweroff)" --user no-such-user-$$
	expect_error "--user: no user 'no-such-user-$$'" ;;
sd-notify)
	# Under a service manager (NOTIFY_SOCKET): READY=1 once the control socket answers
	# and the guest runs, STOPPING=1 when it stops; both under the seccomp filters.
	need_kvm; [ -c /dev/net/tun ] || skip "no /dev/net/tun"
	guest echo >/dev/null
	/usr/bin/python3 - "$VPF" "$tmp" "$tmp/echo.bz" vpfnt$$ >"$tmp/r" 2>&1 <<'PY'; rc=$?
import os, socket, subprocess, sys
vpf, tmp, kernel, tap = sys.argv[1:]
note = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
note.bind(tmp + "/notify.sock")
note.settimeout(20)
ctl = tmp + "/ctl.sock"
def start(*extra):
    env = dict(os.environ, NOTIFY_SOCKET=tmp + "/notify.sock")
    return subprocess.Popen([vpf, "run", "--kernel", kernel, "--ctl", ctl, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
def recv(p):
    try:
        return note.recv(4096).decode()
    except socket.timeout:
        p.kill()
        err = p.communicate()[1].decode()
        sys.exit(77 if "built without libsystemd" in err else "no notification; vpf said: " + err)
p = start("--net", "tap=" + tap + ",total-vfs=2,vf-tap=" + tap + "v%d")
msg = recv(p)
assert msg == "READY=1\nSTATUS=running: 1 vCPU(s), 512 MiB, control socket " + ctl, msg
# Ready means ready: the control socket answers at once.
r = subprocess.run([vpf, "ctl", "--json", ctl, "info"], capture_output=True, timeout=10)
assert r.returncode == 0 and b'"ok":true' in r.stdout, r
p.stdin.write(b"q"); p.stdin.flush()
msg = recv(p)
assert msg == "STOPPING=1\nSTATUS=stopping: guest powered off (exit status 0)", msg
out, err = p.communicate(timeout=20)
assert p.returncode == 0, (p.returncode, err)
# Stopped by a signal: STOPPING=1 names it.
p = start()
assert recv(p).startswith("READY=1\n")
p.terminate()
msg = recv(p)
assert msg == "STOPPING=1\nSTATUS=stopping: signal (exit status 143)", msg
out, err = p.communicate(timeout=20)
assert p.returncode == 143, (p.returncode, err)
assert b"forbidden system call" not in err, err
PY
	[ $rc -eq 77 ] && skip "built without libsystemd"
	[ $rc -eq 0 ] || fail "$(cat "$tmp/r")" ;;
log-file)
	# --log-file: lines appended (what was there stays), timestamped; nothing on stderr.
	need_kvm
	echo "earlier line" >"$tmp/vpf.log"
	run_vpf run --kernel "$(guest poweroff)" --log-file "$tmp/vpf.log"; expect_rc 0
	[ ! -s "$err" ] || fail "stderr not empty with --log-file"
	[ "$(head -n 1 "$tmp/vpf.log")" = "earlier line" ] || fail "the log file was not appended to"
	stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
	grep -Eq "^$stamp vpf: info: guest powered off \(exit status 0\)$" "$tmp/vpf.log" ||
		fail "log file: $(cat "$tmp/vpf.log")"
	[ "$(grep -Evc "^$stamp vpf: " "$tmp/vpf.log")" = 1 ] || fail "unstamped lines: $(cat "$tmp/vpf.log")"
	# --log-timestamps=off in the file, on on stderr.
	run_vpf run --kernel "$(guest poweroff)" --log-file "$tmp/vpf.log" --log-timestamps off; expect_rc 0
	tail -n 1 "$tmp/vpf.log" | grep -q '^vpf: info: ' || fail "--log-timestamps off: $(tail -n 1 "$tmp/vpf.log")"
	run_vpf run --kernel "$(guest poweroff)" --log-timestamps on; expect_rc 0
	grep -Eq "^$stamp vpf: info: guest powered off" "$err" || fail "--log-timestamps on: $(cat "$err")"
	# A setup error is in the log file and, once, on stderr.
	run_vpf run --kernel "$tmp/nope" --log-file "$tmp/vpf.log"
	expect_error "^vpf: error: cannot open kernel"
	tail -n 1 "$tmp/vpf.log" | grep -Eq "^$stamp vpf: error: cannot open kernel" || fail "setup error not logged"
	# So is one said by log_error() before exiting (a --net clash).
	run_vpf run --kernel "$(guest poweroff)" --log-file "$tmp/vpf.log" \
		--net tap=vpflf0,mac=52:54:00:00:00:10 --net tap=vpflf0,mac=52:54:00:00:00:20
	expect_error "^vpf: error: --net: tap vpflf0 is given to both net0 and net1"
	tail -n 1 "$tmp/vpf.log" | grep -Eq "^$stamp vpf: error: --net: tap vpflf0 is given to both" || fail "clash not logged"
	run_vpf run --kernel "$(guest poweroff)" --log-timestamps sometimes
	expect_error "--log-timestamps must be auto, on or off, not 'sometimes'" ;;
log-file-error)
	# A log file that cannot be opened: a setup error, one line on stderr.
	run_vpf run --kernel "$(guest poweroff)" --log-file "$tmp/no/such/dir/vpf.log"
	expect_rc 1; expect_error "--log-file: cannot open '.*/no/such/dir/vpf.log': No such file or directory"
	run_vpf run --kernel "$(guest poweroff)" --log-file "$tmp"
	expect_rc 1; expect_error "--log-file: cannot open .*: Is a directory" ;;
log-quiet)
	# -q: warnings and errors only; the last of -q and -v wins.
	need_kvm
	run_vpf run --kernel "$(guest poweroff)" -q; expect_rc 0
	[ ! -s "$err" ] || fail "-q logged: $(cat "$err")"
	run_vpf run --kernel "$(guest panic)" --quiet; expect_rc 2
	grep -q "^vpf: info:" "$err" && fail "--quiet logged info lines: $(cat "$err")"
	grep -q "^vpf: warning: guest kernel panic (exit status 2)$" "$err" || fail "--quiet: no panic line: $(cat "$err")"
	run_vpf run --kernel "$(guest poweroff)" -q -v; expect_rc 0
	grep -q "^vpf: info: guest starting" "$err" || fail "-q -v: no info lines: $(cat "$err")"
	run_vpf run --kernel "$(guest poweroff)" -v --quiet; expect_rc 0
	[ ! -s "$err" ] || fail "-v --quiet logged: $(cat "$err")" ;;
unknown-option)
	run_vpf run --kernel "$(guest poweroff)" --frobnicate; expect_error "unknown option" ;;
option-missing-argument)
	# Each option that takes a value, given none, is named (it once read "unknown option '-k'").
	for opt in --kernel --memory --net --cpus --cmdline --ctl --ctl-mode --ctl-group --log-file \
			   --log-timestamps -k; do
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
