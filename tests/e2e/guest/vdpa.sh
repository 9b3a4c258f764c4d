#!/bin/bash
# L2 side of tests/e2e/vdpa.sh: VFs of vpf's PF on vDPA simulator devices. The PF
# with 4 VFs (net0) is on a tap: L1 is 10.0.0.1 there (we are 10.0.0.2) and publishes
# its go-aheads on its web server (ack NAME). The PF with 1 VF (net1) has VFs whose
# management device does not exist.
set -u
N=4
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh

# counter I NAME: VF I's statistic NAME (in nsI).
counter() { ip netns exec "ns$1" cat "/sys/class/net/vf$1/statistics/$2"; }

# The two SR-IOV PFs by their TotalVFs: net0 ($pf, N VFs) and net1 ($bad, 1 VF).
# net3 ($pat, 2 VFs) has its VFs on the admin's devices (vf-vdpa=PATTERN).
pf='' bad='' pat=''
for d in /sys/bus/pci/devices/*; do
	[ -f "$d/sriov_totalvfs" ] || continue
	case $(cat "$d/sriov_totalvfs") in "$N") pf=$d ;; 1) bad=$d ;; 2) pat=$d ;; esac
done
[ -n "$pf" ] && [ -n "$bad" ] && [ -n "$pat" ] || { lspci; die "expected SR-IOV PFs with $N, 1 and 2 VFs"; }
pfaddr=$(basename "$pf")
pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
say "pf $pfaddr dev=$pfdev totalvfs=$N"
ip addr add 10.0.0.2/24 dev "$pfdev"
ip link set "$pfdev" up
ping -c 2 -W 5 10.0.0.1 >/dev/null || die "PF ping to L1 failed"
say "pf ping ok"

# net1's VF: its vDPA device cannot be made, so vpf holds its link down (the device
# status the driver reads at probe says so).
echo 1 >"$bad/sriov_numvfs" || die "echo 1 > net1's sriov_numvfs failed"
baddev=
for _ in $(seq 100); do
	for n in "$bad"/virtfn0/virtio*/net/*; do [ -e "$n" ] && baddev=${n##*/}; done
	[ -n "$baddev" ] && break
	sleep 0.2
done
[ -n "$baddev" ] || die "net1's VF did not come up"
ip link set "$baddev" up
[ "$(cat "/sys/class/net/$baddev/carrier" 2>/dev/null)" = 0 ] || die "net1's VF without a device has carrier"
say "bad vf carrier down"

numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N
say_vfs
say "vfs up"
ack vfs-checked

# Broadcast frames on each VF come back (the simulator loops TX to RX, keeping
# broadcast, multicast and frames to its own MAC): 3 ARP requests, no other traffic
# (IPv6 off in the namespaces, and no address answers 10.9.I.1).
for i in $(seq 0 $((N - 1))); do
	vf_netns "$i" "10.9.$i.2/24"
	carrier "vf$i" 1 30 "ns$i" || die "VF $i has no carrier"
done
for i in $(seq 0 $((N - 1))); do
	rx0[i]=$(counter "$i" rx_packets); tx0[i]=$(counter "$i" tx_packets)
done
for i in $(seq 0 $((N - 1))); do
	ip netns exec "ns$i" arping -c 3 -w 5 -I "vf$i" "10.9.$i.1" >/dev/null 2>&1 &
done
wait
for i in $(seq 0 $((N - 1))); do
	rx=$(($(counter "$i" rx_packets) - rx0[i])); tx=$(($(counter "$i" tx_packets) - tx0[i]))
	say "vf $i broadcast tx $tx rx $rx"
	[ "$tx" = 3 ] && [ "$rx" = 3 ] || die "VF $i: sent $tx, got back $rx broadcast frames (3 each way expected)"
done
say "broadcasts looped"

# A flood on VF 0 (bcflood: broadcast frames as fast as the driver takes them; the
# simulator loops them back): L1 reads vpf's system calls and CPU time around it. The
# guest prints nothing and asks L1 nothing while it runs.
say "flood ready"
ack flood-start
tx=$(counter 0 tx_packets) rx=$(counter 0 rx_packets)
sent=$(ip netns exec ns0 /guest/bcflood vf0 "${FLOOD:-2000}" 60) || die "bcflood on VF 0 failed: $sent"
sleep 1   # the last looped frames arrive
say "flood vf0 tx $(($(counter 0 tx_packets) - tx)) rx $(($(counter 0 rx_packets) - rx)) ($sent)"
say "flood done"
ack flood-measured

# loop I COUNT: COUNT broadcasts on VF I come back, and no more.
loop() {
	local rx
	rx=$(counter "$1" rx_packets)
	ip netns exec "ns$1" arping -c "$2" -w $(($2 + 3)) -I "vf$1" "10.9.$1.1" >/dev/null 2>&1
	[ $(($(counter "$1" rx_packets) - rx)) = "$2" ]
}
# Link down and up from L1's control socket: vpf disables VF 1's rings on the device,
# then enables them again; the device resumes where it stopped.
ack vf1-link-down
carrier vf1 0 60 ns1 || die "VF 1's carrier did not drop"
say "vf1 carrier down"
ack vf1-link-up
carrier vf1 1 60 ns1 || die "VF 1's carrier did not come back"
loop 1 2 || die "VF 1: broadcasts do not come back after link up"
say "vf1 link cycle ok"
# FLR of VF 2 (unbind, reset, bind): vpf resets the vDPA device and starts it again.
ip netns del ns2
uevent "$pf/virtfn2/uevent" PCI_SLOT_NAME
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind VF 2"
echo 1 >"/sys/bus/pci/devices/$UEV/reset" || die "FLR of VF 2 failed"
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind VF 2"
# (wait_vfs cannot see the other VFs: their netdevs are in other namespaces)
for _ in $(seq 300); do vf_dev 2; [ -n "$VF_DEV" ] && break; sleep 0.1; done
[ -n "$VF_DEV" ] || die "VF 2 did not come back after FLR"
vf_netns 2 10.9.2.2/24
carrier vf2 1 30 ns2 || die "VF 2 has no carrier after FLR"
loop 2 2 || die "VF 2: broadcasts do not come back after FLR"
say "vf2 flr ok"

# net2: a plain NIC on the admin's vDPA device (backend=vhost-vdpa,vdpa=PATH): the guest
# sees the device's MAC, and its broadcasts come back too.
pfv=
for n in /sys/class/net/*; do [ "$(cat "$n/address")" = 52:54:00:aa:bb:01 ] && pfv=${n##*/}; done
[ -n "$pfv" ] || { ip link; die "no NIC with the admin vDPA device's MAC 52:54:00:aa:bb:01"; }
ip netns add nsp || die "ip netns add nsp"
ip netns exec nsp sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6;
	echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
ip link set "$pfv" netns nsp && ip -n nsp addr add 10.9.9.2/24 dev "$pfv" && ip -n nsp link set "$pfv" up ||
	die "net2 into nsp"
for _ in $(seq 150); do [ "$(ip netns exec nsp cat "/sys/class/net/$pfv/carrier" 2>/dev/null)" = 1 ] && break; sleep 0.2; done
rx=$(ip netns exec nsp cat "/sys/class/net/$pfv/statistics/rx_packets")
ip netns exec nsp arping -c 3 -w 6 -I "$pfv" 10.9.9.1 >/dev/null 2>&1
rx=$(($(ip netns exec nsp cat "/sys/class/net/$pfv/statistics/rx_packets") - rx))
[ "$rx" = 3 ] || die "net2 on vdpa=: 3 broadcasts sent, $rx came back"
ip netns del nsp
say "vdpa pf ok"

# net3's VF 0 on the admin's device (vf-vdpa=PATTERN): the device's MAC, broadcasts back.
echo 1 >"$pat/sriov_numvfs" || die "echo 1 > net3's sriov_numvfs failed"
patdev=
for _ in $(seq 100); do
	for n in "$pat"/virtfn0/virtio*/net/*; do [ -e "$n" ] && patdev=${n##*/}; done
	[ -n "$patdev" ] && break
	sleep 0.2
done
[ -n "$patdev" ] || die "net3's VF did not come up"
[ "$(cat "/sys/class/net/$patdev/address")" = 52:54:00:aa:bb:02 ] ||
	die "net3's VF has MAC $(cat "/sys/class/net/$patdev/address"), its device 52:54:00:aa:bb:02"
ip netns add nsq && ip netns exec nsq sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6;
	echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' &&
	ip link set "$patdev" netns nsq && ip -n nsq addr add 10.9.8.2/24 dev "$patdev" &&
	ip -n nsq link set "$patdev" up || die "net3's VF into nsq"
for _ in $(seq 150); do [ "$(ip netns exec nsq cat "/sys/class/net/$patdev/carrier" 2>/dev/null)" = 1 ] && break; sleep 0.2; done
rx=$(ip netns exec nsq cat "/sys/class/net/$patdev/statistics/rx_packets")
ip netns exec nsq arping -c 3 -w 6 -I "$patdev" 10.9.8.1 >/dev/null 2>&1
rx=$(($(ip netns exec nsq cat "/sys/class/net/$patdev/statistics/rx_packets") - rx))
[ "$rx" = 3 ] || die "net3's VF on vf-vdpa=: 3 broadcasts sent, $rx came back"
say "pattern vf ok"
ack pattern-checked
ip netns del nsq
echo 0 >"$pat/sriov_numvfs" || die "echo 0 > net3's sriov_numvfs failed"

ack vf3-deleted
carrier vf3 0 60 ns3 || die "VF 3's carrier did not drop with its device"
for i in 0 1 2; do
	carrier "vf$i" 1 1 "ns$i" || die "VF $i lost its carrier with VF 3's device"
done
rx=$(counter 0 rx_packets)
ip netns exec ns0 arping -c 1 -w 2 -I vf0 10.9.0.1 >/dev/null 2>&1
[ $(($(counter 0 rx_packets) - rx)) = 1 ] || die "VF 0 stopped looping after VF 3's device was deleted"
say "vf3 carrier down"

for i in $(seq 0 $((N - 1))); do ip netns del "ns$i"; done
numvfs 0 || die "echo 0 > sriov_numvfs failed"
wait_vfs 0
say "vfs removed"
ack vfs-gone
vf_cycles
echo 0 >"$bad/sriov_numvfs"
ping -c 2 -W 5 10.0.0.1 >/dev/null 2>&1 || die "PF ping after the cycles failed"
say "done"
