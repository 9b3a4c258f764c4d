#!/bin/bash
# L2 side of tests/e2e/sriov.sh: the stock virtio_pci driver enables VFs on vpf's virtual
# PF through sysfs. L1 is 10.0.0.1 on the PF's tap (we are 10.0.0.2); VF i's tap in L1 is
# 10.1.i.1/24 (VF i: 10.1.i.2). L1's go-aheads are files on its web server (ack NAME).
# Markers "VPF-SRIOV: ..." tell L1 how far we got.
set -u
N=4
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh
sriov_pf_up
lspci -vvv -s "$pfaddr" | sed -n '/SR-IOV/,/VF Migration/p' | sed 's/^[[:space:]]*/VPF-SRIOV: lspci: /'

# More than TotalVFs: the kernel refuses (-ERANGE) and nothing appears.
numvfs $((N + 1)) 2>/dev/null && die "sriov_numvfs $((N + 1)) accepted"
[ "$(cat "$pf/sriov_numvfs")" = 0 ] || die "VFs after a refused write"
say "numvfs above total refused"

numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N
numvfs 1 2>/dev/null && die "sriov_numvfs changed while enabled"
lspci -vvv -s "$pfaddr" | grep -E 'IOVCtl|Number of VFs' | sed 's/^[[:space:]]*/VPF-SRIOV: lspci-on: /'
say_vfs
say "vfs up"
ack vfs-ready

# Each VF in its own network namespace: VF 0 by the CNI host-device plug-in, the others
# with ip. IPv6 off there, so a VF sends nothing unless asked (keeps L1's counters exact).
for i in $(seq 0 $((N - 1))); do
	vf_dev "$i"
	d=$VF_DEV
	ip netns add "ns$i" || die "ip netns add ns$i"
	ip netns exec "ns$i" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6;
		echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
	if [ "$i" = 0 ]; then
		echo "{\"cniVersion\":\"1.0.0\",\"name\":\"vf\",\"type\":\"host-device\",\"device\":\"$d\"}" |
			CNI_COMMAND=ADD CNI_CONTAINERID=vpf-vf0 CNI_NETNS=/run/netns/ns0 CNI_IFNAME=vf0 \
				CNI_PATH=/usr/lib/cni /usr/lib/cni/host-device >/tmp/cni.json 2>&1 ||
			{ cat /tmp/cni.json; die "host-device CNI ADD failed"; }
		say "cni: $(tr -d '\n ' </tmp/cni.json)"
	else
		ip link set "$d" netns "ns$i" && ip -n "ns$i" link set "$d" name "vf$i" || die "move VF $i"
	fi
	ip -n "ns$i" addr add "10.1.$i.2/24" dev "vf$i"
	ip -n "ns$i" link set "vf$i" up
	ip -n "ns$i" link set lo up
done
for i in $(seq 0 $((N - 1))); do
	vf_ping "$i" "10.1.$i.1" 20 || die "VF $i cannot ping its peer 10.1.$i.1"
	say "vf $i ping ok"
done

# VF 0 cannot reach VF 1's peer even when told it is on its link (L1 answers ARP only
# on the interface that owns the address: arp_ignore=1).
ip -n ns0 route add 10.1.1.0/24 dev vf0
ip netns exec ns0 ping -c 2 -W 1 10.1.1.1 >/dev/null 2>&1 && die "VF 0 reached VF 1's peer"
say "isolation ok"

# Forged source MAC on VF 2: vpf drops every frame, L1's tap sees none of them. L1 reads
# its counters once the MAC is forged, so every frame VF 2 sends meanwhile is forged.
mac2=$(ip netns exec ns2 cat /sys/class/net/vf2/address)
ip -n ns2 link set vf2 address 02:de:ad:be:ef:02 || die "cannot change VF 2's MAC"
say "spoof forged"
ack spoof-go
ip netns exec ns2 ping -c 3 -W 1 10.1.2.1 >/dev/null 2>&1 && die "ping with a forged MAC got through"
say "spoof sent"
ack spoof-checked
ip -n ns2 link set vf2 address "$mac2"
ip netns exec ns2 ping -c 2 -W 2 10.1.2.1 >/dev/null 2>&1 || die "VF 2 ping after restoring its MAC"
say "spoof restored ping ok"

for i in $(seq 0 $((N - 1))); do ip netns del "ns$i"; done
numvfs 0 || die "echo 0 > sriov_numvfs failed"
wait_vfs 0
say "vfs removed"
ack taps-gone

# 20 enable/disable cycles while the PF keeps carrying traffic (a ping every 0.2 s).
ping -q -i 0.2 10.0.0.1 >/tmp/pfping.log 2>&1 &
ping_pid=$!
for c in $(seq 20); do
	numvfs $N || die "cycle $c: enable failed"
	wait_vfs $N
	numvfs 0 || die "cycle $c: disable failed"
	wait_vfs 0
	if [ "$c" = 1 ]; then say "cycle 1 done"; ack c1; fi
done
say "cycles done"
ack c20
kill -INT "$ping_pid"
wait "$ping_pid"
tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' /tmp/pfping.log)
rx=$(sed -n 's/.*transmitted, \([0-9]*\) packets received.*/\1/p' /tmp/pfping.log)
say "pf ping during cycles: transmitted=$tx received=$rx"
[ -n "$tx" ] && [ "$tx" -gt 0 ] && [ $((tx - rx)) -le 2 ] || die "PF lost traffic while VFs came and went"
say "done"
