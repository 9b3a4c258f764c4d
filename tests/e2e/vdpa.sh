#!/usr/bin/env bash
# testbed-timeout: 420
# vhost-vdpa VFs on the kernel's vDPA simulator (vdpa_sim_net, built by
# testbed/build-vdpa-mods.sh; guest/vdpa.sh). net0 is an SR-IOV PF on tap with
# vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net; net1 a second PF whose VFs point at
# a management device that does not exist. vpf starts under `ulimit -l 64` and must
# raise RLIMIT_MEMLOCK itself. The guest enables 4 VFs on net0: `vdpa dev show` lists
# one vDPA device per VF, each VF's MAC in the guest is its device's (`vdpa dev config
# show`), `vfs` names the devices; 3 broadcast frames (arping) sent on each VF come back
# in its RX counters (the simulator loops TX to RX); a device deleted under a running VF
# (`vdpa dev del`) takes only that VF's carrier down, with the reason in `vfs`; net1's VF
# comes up with its carrier down and the reason in `vfs`; without CAP_SYS_RESOURCE
# under `ulimit -l 64` vpf refuses a vDPA device naming RLIMIT_MEMLOCK; link down/up of a VF (its
# rings disabled and enabled) and an FLR (device reset and restarted) keep broadcasts
# looping; net2, a plain NIC with backend=vhost-vdpa,vdpa=PATH on an admin-made device,
# gets the device's MAC, loops broadcasts, and its device survives vpf's exit; net3's
# VF 0 on an admin-made device (vf-vdpa=PATTERN) likewise;
# sriov_numvfs 0 leaves no device; 3 enable/disable cycles leave vpf's fds and L1's
# devices flat; vpf's exit leaves none of its devices.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=4 PF_MAC=52:54:00:12:34:56
# The simulator modules (L1 image: /etc/modules.vdpa, after vhost and vhost_iotlb).
command -v vdpa >/dev/null || skip "no vdpa tool (iproute2) in this L1"
if ! vdpa mgmtdev show vdpasim_net >/dev/null 2>&1; then
	[ -f /etc/modules.vdpa ] || skip "no vDPA simulator modules in this L1"
	while read -r m; do
		grep -q "^$m " /proc/modules || insmod "/lib/modules/$m.ko" || fail "insmod $m"
	done </etc/modules.vdpa
fi
vdpa mgmtdev show vdpasim_net >/dev/null || fail "no vdpasim_net management device: $(vdpa mgmtdev show 2>&1)"
# vpf_io_cpu PID THREAD: vpf's read-like plus write-like system calls so far (syscr +
# syscw of /proc/PID/io), the same for its thread named THREAD (a device's I/O thread),
# that thread's CPU time in ms, and the CPU time of all its threads but the vCPUs (whose
# time includes the guest's).
vpf_io_cpu() {
	local t comm ticks tio=0 tcpu=0 cpu=0
	for t in /proc/"$1"/task/*; do
		comm=$(cat "$t/comm")
		# utime + stime: fields 14 and 15 of stat, 12 and 13 after "(comm) "
		ticks=$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')
		case $comm in vcpu*) continue ;; esac
		cpu=$((cpu + ticks))
		[ "$comm" = "$2" ] || continue
		tcpu=$ticks tio=$(awk '/^sysc[rw]:/ {n += $2} END {print n}' "$t/io")
	done
	# ticks of USER_HZ, 100 on x86 (L1 has no getconf)
	echo "$(awk '/^sysc[rw]:/ {n += $2} END {print n}' "/proc/$1/io") $tio $((tcpu * 10)) $((cpu * 10))"
}
# vpf's devices: "vpfPID-net0vfI".
vpf_vdpa_devs() { vdpa dev show 2>/dev/null | grep -c "^vpf[0-9]*-net" || true; }
[ "$(vpf_vdpa_devs)" = 0 ] || fail "vDPA devices left from an earlier run: $(vdpa dev show)"

sriov_l1_setup
# net2: a NIC on a vDPA device the admin made (backend=vhost-vdpa,vdpa=PATH); vpf must
# use it and leave it alone at exit.
# net3: VFs on admin-made devices (vf-vdpa=PATTERN, here symlinks to the node).
vdpa dev add name vdpa-admin0 mgmtdev vdpasim_net mac 52:54:00:aa:bb:01 || fail "vdpa dev add vdpa-admin0"
vdpa dev add name vdpa-adminvf0 mgmtdev vdpasim_net mac 52:54:00:aa:bb:02 || fail "vdpa dev add vdpa-adminvf0"
trap '{ vdpa dev show; dmesg | grep -iE "vdpa|vringh" || true; } >"$LOGDIR/vdpa-l1.log" 2>&1;
	vdpa dev del vdpa-admin0 2>/dev/null; vdpa dev del vdpa-adminvf0 2>/dev/null; sriov_l1_cleanup' EXIT
admin_dev=$(echo /sys/bus/vdpa/devices/vdpa-admin0/vhost-vdpa-*)
admin_dev=/dev/${admin_dev##*/}
[ -c "$admin_dev" ] || fail "no vhost-vdpa node for vdpa-admin0"
vfdevs=$(mktemp -d)
n=$(echo /sys/bus/vdpa/devices/vdpa-adminvf0/vhost-vdpa-*)
ln -s "/dev/${n##*/}" "$vfdevs/dev0" && [ -c "$vfdevs/dev0" ] || fail "no vhost-vdpa node for vdpa-adminvf0"
# vhost-vdpa pins guest RAM: without CAP_SYS_RESOURCE vpf cannot raise RLIMIT_MEMLOCK
# past the hard limit, and a device that would pass it is refused, naming the limit
# (for a PF a setup error: exit 1, one line; the admin's device is left alone).
if command -v setpriv >/dev/null; then
	rc=0
	out=$(ulimit -l 64; timeout 30 setpriv --bounding-set -sys_resource "$VPF" run --kernel "$L2_KERNEL" \
		--memory 320M --net "backend=vhost-vdpa,vdpa=$admin_dev" 2>&1 >/dev/null) || rc=$?
	log "without CAP_SYS_RESOURCE: rc=$rc $out"
	[ "$rc" = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] &&
		grep -q "RLIMIT_MEMLOCK (ulimit -l) is 64 KiB, vhost-vdpa pins the guest's 320 MiB" <<<"$out" ||
		fail "vpf under ulimit -l 64 without CAP_SYS_RESOURCE: rc=$rc, $out"
	vdpa dev show vdpa-admin0 >/dev/null 2>&1 || fail "vpf deleted the admin's vDPA device after a failed open"
fi
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
t0=$(now_ms)
(
	ulimit -l 64
	run_vm_bg "$con" 400 --memory 320M --ctl "$ctl" \
		--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=$N,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=vdpasim_net" \
		--net "tap=vpftap1,mac=52:54:00:12:35:00,total-vfs=1,vf-backend=vhost-vdpa,vf-vdpa-mgmtdev=nosuch_mgmt" \
		--net "backend=vhost-vdpa,vdpa=$admin_dev" \
		--net "tap=vpftap3,mac=52:54:00:12:36:00,total-vfs=2,vf-backend=vhost-vdpa,vf-vdpa=$vfdevs/dev%d" \
		--cmdline "$(l2_cmdline vdpa)"
	wait_vm
) &
VM_PID=$!
await 'VPF-SRIOV: vfs up' 300 "the guest did not bring up its VFs"
vpf_pid=$(pidof vpf)
[ -n "$vpf_pid" ] || fail "cannot find vpf's pid"
# The event stream goes to L1's own tmpfs (copied to the results at the end), not
# through the 9p results share for the whole run.
events=$(mktemp)
"$VPF" ctl --json "$ctl" events >"$events" 2>&1 &
for _ in $(seq 100); do grep -q '"subscribed":true' "$events" && break; sleep 0.1; done
grep -q '"subscribed":true' "$events" || fail "vpf ctl events did not subscribe"
pfx="vpf$vpf_pid-net0vf"
vdpa dev show >"$LOGDIR/vdpa-dev-show.txt"
[ "$(vpf_vdpa_devs)" = $N ] || fail "vdpa dev show lists $(vpf_vdpa_devs) devices of vpf, expected $N: $(cat "$LOGDIR/vdpa-dev-show.txt")"
"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs.json" || fail "ctl vfs failed"
log "vfs: $(cat "$LOGDIR/vfs.json")"
for i in $(seq 0 $((N - 1))); do
	gmac=$(sed -n "s/.*VPF-SRIOV: vf $i pci=.* mac=\([0-9a-f:]*\) .*/\1/p" "$con" | head -n1)
	dmac=$(vdpa dev config show "$pfx$i" | grep -o 'mac [0-9a-f:]*' | cut -d' ' -f2)
	[ -n "$gmac" ] && [ "$gmac" = "$dmac" ] || fail "VF $i: MAC in the guest '$gmac', its vDPA device $pfx$i has '$dmac'"
	vf=$(grep -o "{\"vf\":$i,[^}]*}" "$LOGDIR/vfs.json")
	grep -q "\"mac\":\"$dmac\"" <<<"$vf" && grep -q '"link":true,' <<<"$vf" &&
		grep -q '"backend":"vhost-vdpa","counters":"none","error":"","vdpa":"'"$pfx$i"'"' <<<"$vf" ||
		fail "ctl vfs: VF $i not on vDPA device $pfx$i with link up: $vf"
done
"$VPF" ctl --json "$ctl" stats dev=net0vf2 | grep -q '"backend":"vhost-vdpa","counters":"none",.*"vdpa":"'"${pfx}2"'"' ||
	fail "ctl stats net0vf2 does not name its vDPA device: $("$VPF" ctl --json "$ctl" stats dev=net0vf2)"
# net1's VF: its management device does not exist.
"$VPF" ctl --json "$ctl" vfs dev=net1 >"$LOGDIR/vfs-net1.json" || fail "ctl vfs net1 failed"
grep -q '"link":false,.*"error":"vdpa dev add vpf[0-9]*-net1vf0: no management device nosuch_mgmt"' "$LOGDIR/vfs-net1.json" ||
	fail "net1's VF without a management device: $(cat "$LOGDIR/vfs-net1.json")"
! "$VPF" ctl --json "$ctl" vf-set dev=net0 vf=0 vlan=7 2>/dev/null || fail "vf-set vlan accepted for a vDPA VF"
go vfs-checked

await 'VPF-SRIOV: broadcasts looped' 120 "broadcast frames did not come back on every VF"
# The flood on VF 0: vpf's read/write system calls and CPU time per packet the VF moved,
# for the VF's I/O thread (which forwarded every interrupt before they went straight to
# KVM) and for the whole of vpf (which also serves the guest's go-ahead polls on the PF).
await 'VPF-SRIOV: flood ready' 60 "the guest did not get to the flood"
read -r io0 tio0 tcpu0 cpu0 <<<"$(vpf_io_cpu "$vpf_pid" net0vf0)"
go flood-start
await 'VPF-SRIOV: flood done' 180 "the flood on VF 0 did not finish"
read -r io1 tio1 tcpu1 cpu1 <<<"$(vpf_io_cpu "$vpf_pid" net0vf0)"
go flood-measured
read -r ftx frx <<<"$(sed -n 's/.*VPF-SRIOV: flood vf0 tx \([0-9]*\) rx \([0-9]*\).*/\1 \2/p' "$con" | head -n1)"
pkts=$((ftx + frx))
[ "$pkts" -ge 3800 ] || fail "the flood moved only $pkts packets on VF 0 (tx $ftx, rx $frx)"
sys=$((io1 - io0)) tsys=$((tio1 - tio0))
metric flood_packets "$pkts"
metric flood_vpf_syscalls "$sys"
metric flood_vf_thread_syscalls "$tsys"
metric flood_vf_thread_cpu_ms "$((tcpu1 - tcpu0))" ms
metric flood_vpf_cpu_ms_besides_vcpus "$((cpu1 - cpu0))" ms
log "flood on VF 0: $ftx sent, $frx looped back; VF 0's I/O thread: $tsys read/write calls," \
	"$((tcpu1 - tcpu0)) ms CPU; all of vpf: $sys calls, $((cpu1 - cpu0)) ms CPU outside the vCPUs"
[ $((tsys * 1000)) -le "$pkts" ] ||
	fail "VF 0's I/O thread made $tsys read/write calls for $pkts packets (at most 0.001 per packet)"
# All of vpf also serves the guest's go-ahead polls over the PF: ~140 calls per flood,
# whatever its length; through vpf the flood alone would cost ~1.7 per packet.
[ $((sys * 10)) -le "$pkts" ] ||
	fail "vpf made $sys read/write calls for $pkts packets of an offloaded VF (at most 0.1 per packet)"
"$VPF" ctl --json "$ctl" link dev=net0vf1 up=false >/dev/null || fail "VF 1 link down failed"
go vf1-link-down
await 'VPF-SRIOV: vf1 carrier down' 120 "guest did not see VF 1's link go down"
"$VPF" ctl --json "$ctl" link dev=net0vf1 up=true >/dev/null || fail "VF 1 link up failed"
go vf1-link-up
await 'VPF-SRIOV: vf1 link cycle ok' 120 "VF 1 did not loop broadcasts after link up"
await 'VPF-SRIOV: vf2 flr ok' 120 "VF 2 did not loop broadcasts after its FLR"
await 'VPF-SRIOV: vdpa pf ok' 120 "net2 on the admin's vDPA device failed"
"$VPF" ctl --json "$ctl" devices | grep -q '"dev":"net2",.*"mac":"52:54:00:aa:bb:01",.*"backend":"vhost-vdpa","vdpa":"'"$admin_dev"'"' ||
	fail "ctl devices: net2 not on $admin_dev with the device's MAC: $("$VPF" ctl --json "$ctl" devices)"
await 'VPF-SRIOV: pattern vf ok' 120 "net3's VF on vf-vdpa= failed"
"$VPF" ctl --json "$ctl" vfs dev=net3 | grep -q '{"vf":0,.*"mac":"52:54:00:aa:bb:02",.*"link":true,.*"vdpa":"vdpa-adminvf0"' ||
	fail "ctl vfs: net3's VF 0 not on vdpa-adminvf0 with its MAC: $("$VPF" ctl --json "$ctl" vfs dev=net3)"
go pattern-checked
# A device deleted under a running VF: vpf lets go of it (the kernel's delete waits for
# that), only that VF's carrier drops, the reason is in vfs.
timeout 30 vdpa dev del "${pfx}3" || fail "vdpa dev del ${pfx}3 failed or hung (vpf kept the device open)"
"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs-del.json" || fail "ctl vfs failed"
log "vfs after deleting ${pfx}3: $(cat "$LOGDIR/vfs-del.json")"
grep -q '{"vf":3,.*"link":false,.*"error":"vDPA device '"${pfx}3"' (/dev/vhost-vdpa-[0-9]*) was deleted"' "$LOGDIR/vfs-del.json" ||
	fail "VF 3 after its device was deleted: $(cat "$LOGDIR/vfs-del.json")"
for i in 0 1 2; do
	grep -o "{\"vf\":$i,[^}]*}" "$LOGDIR/vfs-del.json" | grep -q '"link":true,' || fail "VF $i lost its link with VF 3's device"
done
# ... and an orchestrator hears of it (published just after vpf let go of the device).
ev='"event":"backend",.*"data":{"dev":"net0vf3","state":"failed","error":"vDPA device '"${pfx}3"' (/dev/vhost-vdpa-[0-9]*) was deleted"}'
for _ in $(seq 100); do grep -q "$ev" "$events" && break; sleep 0.1; done
grep -q "$ev" "$events" || fail "no backend event for VF 3's deleted device: $(cat "$events")"
cp "$events" "$LOGDIR/events.jsonl"
go vf3-deleted
await 'VPF-SRIOV: vf3 carrier down' 120 "the guest did not see VF 3's carrier drop, or another VF's"

await 'VPF-SRIOV: vfs removed' 120 "echo 0 did not remove the VFs"
[ "$(vpf_vdpa_devs)" = 0 ] || fail "vDPA devices left after echo 0: $(vdpa dev show)"
go vfs-gone
await 'VPF-SRIOV: cycle 1 done' 120 "first enable/disable cycle failed"
fds1=$(fd_count "$vpf_pid")
devs1=$(vpf_vdpa_devs)
go c1
await 'VPF-SRIOV: cycles done' 200 "enable/disable cycles failed"
fds3=$(fd_count "$vpf_pid")
devs3=$(vpf_vdpa_devs)
go c3
metric vpf_fds_after_cycle_1 "$fds1"
metric vpf_fds_after_cycle_3 "$fds3"
[ "$fds3" = "$fds1" ] || fail "vpf's open fds went from $fds1 to $fds3 over 2 cycles"
[ "$devs1" = 0 ] && [ "$devs3" = 0 ] || fail "vDPA devices after the cycles: $devs1, $devs3"

rc=0
wait "$VM_PID" || rc=$?
expect_guest_ok "$con" vdpa
[ "$rc" = 0 ] || fail "vpf exited with $rc"
[ "$(vpf_vdpa_devs)" = 0 ] || fail "vDPA devices left after vpf exited: $(vdpa dev show)"
for d in vdpa-admin0 vdpa-adminvf0; do
	vdpa dev show "$d" >/dev/null 2>&1 || fail "vpf deleted the admin's vDPA device $d"
done
grep -a 'vpf: error' "$con" | grep -v 'nosuch_mgmt\|net1vf0\|net0vf3: backend' >"$LOGDIR/errors.txt" || true
[ ! -s "$LOGDIR/errors.txt" ] || { head "$LOGDIR/errors.txt"; fail "vpf logged errors"; }
metric total_ms "$(ms_since "$t0")" ms
log "ok"
