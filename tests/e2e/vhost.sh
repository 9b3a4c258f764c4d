#!/usr/bin/env bash
# testbed-timeout: 540
# vhost-net: the PF and its VFs on the kernel's data path (--net backend=vhost-net,
# vf-backend=vhost-net; guest/vhost.sh). The L1 kernel thread vhost-* exists while
# offloaded; PF: interrupt moderation set by the guest (ethtool -C) halves receive
# interrupts; ping both ways, 10 MB each way intact (md5), iperf3 both ways, the
# counters are the tap's; link down/up through the control socket is seen as carrier
# and no traffic passes while down; a driver reload (reset, MSI-X masked and unmasked)
# keeps traffic going. VFs (echo 2 > sriov_numvfs): ping both ways (VF 1 after an
# unbind, FLR and bind), link down/up, `vfs` shows vhost-net and spoof check off; echo 0 and 3
# enable/disable cycles leave vpf's fds and L1's vhost threads flat.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=2 PF_MAC=52:54:00:12:34:56
[ -e /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
[ -e /dev/vhost-net ] || skip "no /dev/vhost-net in this L1"
ctl_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }
# vhost_threads: vhost worker threads in L1 (vpf is the only vhost user here).
vhost_threads() { cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^vhost-[0-9]*$' || true; }

sriov_l1_setup
# vhost's own reasons for a ring error (vq_err is pr_debug) end up in dmesg.
echo 'module vhost +p; module vhost_net +p' >/sys/kernel/debug/dynamic_debug/control 2>/dev/null || true
trap '{ dmesg | grep -i vhost || true; } >"$LOGDIR/dmesg-vhost.log" 2>/dev/null; sriov_l1_cleanup' EXIT
head -c 10485760 /dev/urandom >"$SRIOV_WWW/to-guest.bin"
md5_to_guest=$(md5sum <"$SRIOV_WWW/to-guest.bin" | cut -d' ' -f1)
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
t0=$(now_ms)
run_vm_bg "$con" 500 --memory 512M --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,backend=vhost-net,total-vfs=$N,vf-tap=vpfvf%d,vf-backend=vhost-net" \
	--cmdline "$(l2_cmdline vhost)"
await 'VPF-SRIOV: pf ready' 300 "the guest's PF did not come up on vhost-net"
vpf_pid=$(vpf_pid)
[ "$(vhost_threads)" = 1 ] || fail "expected one vhost worker for the PF, L1 has $(vhost_threads)"
"$VPF" ctl --json "$ctl" devices | grep -q '"dev":"net0",.*"backend":"vhost-net","vf_backend":"vhost-net"' ||
	fail "ctl devices does not show vhost-net: $("$VPF" ctl --json "$ctl" devices)"

# The guest's interrupt moderation (ethtool -C) holds vhost-net's interrupts too.
expect_moderation "$con"
ping -c 3 -W 5 10.0.0.2 >"$LOGDIR/ping.log" || { cat "$LOGDIR/ping.log"; fail "ping L1 -> L2 failed"; }
expect_in_log "$con" "md5-from-l1 $md5_to_guest" "10 MB file L1 -> L2 corrupted"
busybox wget -q -O "$LOGDIR/from-guest.bin" http://10.0.0.2:8080/from-guest.bin || fail "wget from L2 failed"
md5_from_guest=$(md5sum <"$LOGDIR/from-guest.bin" | cut -d' ' -f1)
expect_in_log "$con" "md5-from-l2 $md5_from_guest" "10 MB file L2 -> L1 corrupted"
rm -f "$LOGDIR/from-guest.bin" "$SRIOV_WWW/to-guest.bin"
for dir in "" -R; do
	iperf3 -c 10.0.0.2 -t 3 $dir -J >"$LOGDIR/iperf3$dir.json" || fail "iperf3 $dir failed"
	bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$LOGDIR/iperf3$dir.json" | tail -n1)
	metric "vhost_iperf3_tcp${dir:-_host_to_guest}_bps" "${bps:-0}"
	[ -n "$bps" ] || fail "iperf3 $dir reported no throughput"
done
stats=$("$VPF" ctl --json "$ctl" stats dev=net0)
log "stats: $stats"
grep -q '"backend":"vhost-net","counters":"tap"' <<<"$stats" || fail "stats do not say they are the tap's"
[ "$(ctl_field "$stats" rx_bytes)" -gt 10485760 ] || fail "stats: rx_bytes below the 10 MB sent to the guest"
[ "$(ctl_field "$stats" tx_bytes)" -gt 10485760 ] || fail "stats: tx_bytes below the 10 MB the guest sent"
go pf-checked
await 'VPF-SRIOV: pf link test' 120 "the guest did not get the go-ahead"
"$VPF" ctl --json "$ctl" link dev=net0 up=false >/dev/null || fail "link down failed"
await 'VPF-SRIOV: pf carrier down' 120 "guest did not see the PF's link go down"
! ping -c 2 -W 1 10.0.0.2 >/dev/null 2>&1 || fail "ping to L2 passed while the PF's link was down"
"$VPF" ctl --json "$ctl" link dev=net0 up=true >/dev/null || fail "link up failed"
await 'VPF-SRIOV: pf ping after link up ok' 120 "no PF traffic after link up"
await 'VPF-SRIOV: pf reload ping ok' 120 "no PF traffic after a driver reload"

await 'VPF-SRIOV: vfs up' 200 "the guest did not bring up $N VFs"
for i in $(seq 0 $((N - 1))); do vf_tap_setup "vpfvf$i" "10.1.$i.1/24"; done
"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs.json" || fail "ctl vfs failed"
log "vfs: $(cat "$LOGDIR/vfs.json")"
for i in $(seq 0 $((N - 1))); do
	vf=$(grep -o "{\"vf\":$i,[^}]*}" "$LOGDIR/vfs.json")
	grep -q '"link":true,' <<<"$vf" &&
		grep -q '"vlan":0,"spoofchk":false,"rate":0,"backend":"vhost-net","counters":"tap",' <<<"$vf" ||
		fail "ctl vfs: VF $i not on vhost-net with tap counters, link up, no VLAN, spoof check off: $vf"
done
[ "$(vhost_threads)" = $((N + 1)) ] || fail "expected $((N + 1)) vhost workers, L1 has $(vhost_threads)"
go vfs-ready
await 'VPF-SRIOV: vfs pinged' 120 "VF traffic failed"
for i in $(seq 0 $((N - 1))); do
	ping -c 2 -W 5 "10.1.$i.2" >/dev/null || fail "ping L1 -> VF $i failed"
done
iperf3 -c 10.1.0.2 -t 2 -J >"$LOGDIR/iperf3-vf0.json" || fail "iperf3 to VF 0 failed"
bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$LOGDIR/iperf3-vf0.json" | tail -n1)
metric vhost_iperf3_tcp_host_to_vf0_bps "${bps:-0}"

"$VPF" ctl --json "$ctl" link dev=net0vf0 up=false >/dev/null || fail "VF link down failed"
await 'VPF-SRIOV: vf0 carrier down' 120 "guest did not see VF 0's link go down"
! ping -c 2 -W 1 10.1.0.2 >/dev/null 2>&1 || fail "ping to VF 0 passed while its link was down"
"$VPF" ctl --json "$ctl" link dev=net0vf0 up=true >/dev/null || fail "VF link up failed"
await 'VPF-SRIOV: vf0 ping after link up ok' 120 "no VF 0 traffic after link up"
go vf-checked

await 'VPF-SRIOV: vfs removed' 120 "echo 0 did not remove the VFs"
for i in $(seq 0 $((N - 1))); do
	! ip link show "vpfvf$i" >/dev/null 2>&1 || fail "tap vpfvf$i left behind after echo 0"
done
[ "$(vhost_threads)" = 1 ] || fail "vhost workers left after echo 0: $(vhost_threads)"
go vfs-gone
await 'VPF-SRIOV: cycle 1 done' 120 "first enable/disable cycle failed"
fds1=$(fd_count "$vpf_pid")
go c1
await 'VPF-SRIOV: cycles done' 200 "enable/disable cycles failed"
fds3=$(fd_count "$vpf_pid")
threads3=$(vhost_threads)
go c3
metric vpf_fds_after_cycle_1 "$fds1"
metric vpf_fds_after_cycle_3 "$fds3"
[ "$fds3" = "$fds1" ] || fail "vpf's open fds went from $fds1 to $fds3 over 2 cycles"
[ "$threads3" = 1 ] || fail "vhost workers after the cycles: $threads3"

expect_clean_exit "$con" vhost
metric total_ms "$(ms_since "$t0")" ms
log "ok"
