#!/usr/bin/env bash
# testbed-timeout: 480
# The virtual PF with a stock Linux guest (guest/sriov.sh): lspci shows the SR-IOV
# capability; echo 4 > sriov_numvfs brings up 4 virtio_net VFs with the host's MACs and
# a tap each in L1 (vpf creates them); each VF, in its own netns (VF 0 placed by the CNI
# host-device plug-in), pings its own tap's peer and not another's; a forged source MAC
# never reaches L1 and is counted by vpf; echo 0 removes the VFs and their taps; 20
# enable/disable cycles leave vpf's fd count and RSS flat while the PF keeps carrying
# traffic; writing more than TotalVFs fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=4 PF_MAC=52:54:00:12:34:56
VF0_MAC=02:00:00:00:01:00 VF1_MAC=02:00:00:00:01:01
RSS_TOLERANCE_KB=4096   # growth allowed between cycle 1 and cycle 20 (allocator slack)
rx_of() { cat "/sys/class/net/$1/statistics/rx_packets"; }
ctl_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

sriov_l1_setup
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
t0=$(now_ms)
run_vm_bg "$con" 450 --memory 512M --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=$N,vf-tap=vpfvf%d,vf-mac=$VF0_MAC;$VF1_MAC" \
	--cmdline "$(l2_cmdline sriov)"
await 'VPF-SRIOV: vfs up' 300 "the guest did not bring up $N VFs"
metric boot_to_vfs_up_ms "$(ms_since "$t0")" ms
vpf_pid=$(vpf_pid)

# The SR-IOV capability as lspci in L2 decodes it.
expect_in_log "$con" 'lspci: Initial VFs: 4, Total VFs: 4, Number of VFs: 0, Function Dependency Link: 00' "lspci: counts"
expect_in_log "$con" 'lspci: VF offset: 1, stride: 1, Device ID: 1041' "lspci: offset/stride/device"
expect_in_log "$con" 'lspci: Supported Page Size: 0000000f, System Page Size: 00000001' "lspci: page sizes"
expect_in_log "$con" 'lspci: Region 4: Memory at [0-9a-f]+ \(64-bit, prefetchable\)' "lspci: VF BAR"
expect_in_log "$con" 'lspci-on: IOVCtl:[[:space:]]+Enable\+ .*MSE\+' "lspci: VF Enable and MSE after enabling"
expect_in_log "$con" 'lspci-on: .*Number of VFs: 4' "lspci: NumVFs 4"
expect_in_log "$con" 'numvfs above total refused' "writing more than TotalVFs did not fail"

# Each VF: virtio-net, the MAC and tap the host chose, as vpf's control socket says too.
"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs.json" || fail "ctl vfs failed"
log "vfs: $(cat "$LOGDIR/vfs.json")"
grep -q '"num_vfs":4' "$LOGDIR/vfs.json" || fail "ctl vfs does not list 4 VFs"
for i in $(seq 0 $((N - 1))); do
	case $i in 0) mac=$VF0_MAC ;; 1) mac=$VF1_MAC ;; *) mac=$(printf '52:54:00:12:34:%02x' $((0x56 + i + 1))) ;; esac
	expect_in_log "$con" "VPF-SRIOV: vf $i pci=0000:00:01\.$((i + 1)) dev=eth[0-9]+ mac=$mac device=0x1041 driver=virtio-pci/virtio_net" "VF $i: address, MAC, device ID or driver"
	grep -q "\"vf\":$i,\"dev\":\"net0vf$i\",\"pci\":\"0000:00:01.$((i + 1))\",\"mac\":\"$mac\",\"tap\":\"vpfvf$i\",\"link\":true" \
		"$LOGDIR/vfs.json" || fail "ctl vfs: VF $i"
	vf_tap_setup "vpfvf$i" "10.1.$i.1/24"
done
go vfs-ready

await 'VPF-SRIOV: isolation ok' 120 "VF traffic or isolation failed"
expect_in_log "$con" 'VPF-SRIOV: cni: \{.*"interfaces":\[\{"name":"vf0"' "host-device CNI result"
for i in $(seq 0 $((N - 1))); do expect_in_log "$con" "VPF-SRIOV: vf $i ping ok"; done

await 'VPF-SRIOV: spoof forged' 60 "VF 2's MAC was not forged"
rx_before=$(rx_of vpfvf2)
spoofed_before=$(ctl_field "$("$VPF" ctl --json "$ctl" stats dev=net0vf2)" tx_spoofed)
go spoof-go
await 'VPF-SRIOV: spoof sent' 60 "forged frames were not sent"
rx_after=$(rx_of vpfvf2)
stats=$("$VPF" ctl --json "$ctl" stats dev=net0vf2)
spoofed_after=$(ctl_field "$stats" tx_spoofed)
log "vf2 tap rx $rx_before -> $rx_after, vpf tx_spoofed $spoofed_before -> $spoofed_after"
[ "$rx_after" = "$rx_before" ] || fail "frames with a forged MAC reached L1's tap"
[ "$spoofed_after" -ge $((spoofed_before + 3)) ] || fail "vpf counted no spoofed frames: $stats"
"$VPF" ctl --json "$ctl" vfs dev=net0 | grep -q "\"dev\":\"net0vf2\".*\"tx_spoofed\":$spoofed_after" ||
	fail "ctl vfs does not show the spoofed count"
go spoof-checked
await 'VPF-SRIOV: spoof restored ping ok' 60 "VF 2 did not recover its MAC"

await 'VPF-SRIOV: vfs removed' 60 "echo 0 did not remove the VFs"
for i in $(seq 0 $((N - 1))); do
	! ip link show "vpfvf$i" >/dev/null 2>&1 || fail "tap vpfvf$i left behind after echo 0"
done
"$VPF" ctl --json "$ctl" vfs dev=net0 | grep -q '"num_vfs":0' || fail "ctl vfs still lists VFs"
go taps-gone

t1=$(now_ms)
await 'VPF-SRIOV: cycle 1 done' 120 "first enable/disable cycle failed"
fds1=$(fd_count "$vpf_pid")
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$vpf_pid/status")
go c1
await 'VPF-SRIOV: cycles done' 300 "enable/disable cycles failed"
metric cycles_2_to_20_ms "$(ms_since "$t1")" ms
fds20=$(fd_count "$vpf_pid")
rss20=$(awk '/VmRSS/ {print $2}' "/proc/$vpf_pid/status")
go c20
metric vpf_fds_after_cycle_1 "$fds1"
metric vpf_fds_after_cycle_20 "$fds20"
metric vpf_rss_after_cycle_1 "$rss1" kB
metric vpf_rss_after_cycle_20 "$rss20" kB
[ "$fds20" = "$fds1" ] || fail "vpf's open fds went from $fds1 to $fds20 over 19 cycles"
[ "$rss20" -le $((rss1 + RSS_TOLERANCE_KB)) ] || fail "vpf's RSS grew from $rss1 to $rss20 kB"

expect_clean_exit "$con" sriov
expect_in_log "$con" 'VPF-SRIOV: pf ping during cycles' "no PF traffic report"
grep -a 'pf ping during cycles' "$con" | head -n1 | sed 's/^/    /'
metric total_ms "$(ms_since "$t0")" ms
log "ok"
