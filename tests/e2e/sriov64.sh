#!/usr/bin/env bash
# testbed-timeout: 480
# The virtual PF at its largest tested size: total-vfs=64. The stock guest
# (guest/sriov64.sh) enables all 64 VFs; each is bound by virtio_net with the MAC vpf
# derived from the PF's (PF + i + 1), gets its own tap in L1 and pings its peer there;
# echo 0 removes them all and vpf removes the 64 taps it made.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=64 PF_MAC=52:54:00:ab:00:00 PF_DEVFN=8   # the PF at 00:01.0

sriov_l1_setup
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
t0=$(now_ms)
# Two vCPUs: 65 functions with up to 4 MSI-X vectors each need the vector space.
run_vm_bg "$con" 450 --cpus 2 --memory 1G --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=$N,vf-tap=vpfw%d" --cmdline "$(l2_cmdline sriov64)"
await 'VPF-SRIOV: vfs up' 420 "the guest did not bring up $N VFs"
metric boot_to_vfs_up_ms "$(ms_since "$t0")" ms
metric guest_enable_s "$(sed -n 's/.*VPF-SRIOV: enable took \([0-9.]*\)s.*/\1/p' "$con")" s

"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs.json" || fail "ctl vfs failed"
grep -q "\"num_vfs\":$N" "$LOGDIR/vfs.json" || fail "ctl vfs does not list $N VFs"
for i in $(seq 0 $((N - 1))); do
	rid=$((PF_DEVFN + 1 + i))
	pci=$(printf '0000:00:%02x.%x' $((rid >> 3)) $((rid & 7)))
	mac=$(printf '52:54:00:ab:00:%02x' $((i + 1)))
	grep -qa "VPF-SRIOV: vf $i pci=$pci dev=eth[0-9]* mac=$mac device=0x1041 driver=virtio-pci/virtio_net" "$con" ||
		{ grep -a "VPF-SRIOV: vf $i " "$con"; fail "VF $i: expected $pci with MAC $mac"; }
	grep -q "\"vf\":$i,\"dev\":\"net0vf$i\",\"pci\":\"$pci\",\"mac\":\"$mac\",\"tap\":\"vpfw$i\",\"link\":true" \
		"$LOGDIR/vfs.json" || fail "ctl vfs: VF $i"
	ip link show "vpfw$i" >/dev/null 2>&1 || fail "tap vpfw$i was not created"
	echo 1 >"/proc/sys/net/ipv6/conf/vpfw$i/disable_ipv6"
	echo "addr add 10.2.$i.1/24 dev vpfw$i" >>"$LOGDIR/ip.batch"
done
ip -batch "$LOGDIR/ip.batch" || fail "cannot address the VF taps"
go vfs-ready
t1=$(now_ms)
await 'VPF-SRIOV: all pinged' 300 "not every VF passed traffic"
metric ping_all_ms "$(ms_since "$t1")" ms

await 'VPF-SRIOV: vfs removed' 300 "echo 0 did not remove the VFs"
metric guest_disable_s "$(sed -n 's/.*VPF-SRIOV: disable took \([0-9.]*\)s.*/\1/p' "$con")" s
for i in $(seq 0 $((N - 1))); do
	! ip link show "vpfw$i" >/dev/null 2>&1 || fail "tap vpfw$i left behind after echo 0"
done
go taps-gone
expect_clean_exit "$con" sriov64
metric total_ms "$(ms_since "$t0")" ms
log "ok"
