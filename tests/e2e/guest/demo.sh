#!/bin/bash
# L2 side of the README demo (tests/e2e/demo.sh): the guest's stock kernel creates VFs on
# vpf's virtual PF through sysfs, gives each to a "container" (a network namespace) and
# pings the host through each. L1 is 10.0.0.1 on the PF's tap, 10.1.i.1 on VF i's tap.
set -u
N=3
echo "=== guest: $(uname -sr), $(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
pf=
for d in /sys/bus/pci/devices/*; do [ -f "$d/sriov_totalvfs" ] && pf=$d; done
[ -n "$pf" ] || { lspci; echo "no SR-IOV PF"; exit 1; }
pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
echo "=== guest: PCI devices before"
lspci
echo "=== guest: the PF's SR-IOV capability (lspci -vvv)"
lspci -vvv -s "$(basename "$pf")" 2>/dev/null | grep -E "SR-IOV|Total VFs|VF offset|VF Migration" | sed 's/^[[:space:]]*/    /'
ip addr add 10.0.0.2/24 dev "$pfdev" && ip link set "$pfdev" up

echo "=== guest: echo $N > $pf/sriov_numvfs"
echo $N >"$pf/sriov_numvfs" || exit 1
vf_dev() {   # the netdev of VF $1 once virtio_net has bound it
	local v n
	v=$(readlink -f "$pf/virtfn$1" 2>/dev/null) || return 0
	for n in "$v"/virtio*/net/*; do [ -e "$n" ] && basename "$n"; done
}
for i in $(seq 0 $((N - 1))); do
	for _ in $(seq 300); do [ -n "$(vf_dev "$i")" ] && break; sleep 0.1; done
done
lspci | grep -i virtio

printf '=== summary\n%-4s %-14s %-8s %-18s %-10s %s\n' VF PCI netdev MAC container "ping host"
fails=0
for i in $(seq 0 $((N - 1))); do
	dev=$(vf_dev "$i")
	[ -n "$dev" ] || { echo "VF $i has no netdev"; fails=$((fails + 1)); continue; }
	pci=$(basename "$(readlink -f "$pf/virtfn$i")")
	mac=$(cat "/sys/class/net/$dev/address")
	ip netns add "ctr$i"
	ip link set "$dev" netns "ctr$i"
	ip -n "ctr$i" addr add "10.1.$i.2/24" dev "$dev"
	ip -n "ctr$i" link set "$dev" up
	if ip netns exec "ctr$i" ping -c 2 -W 5 "10.1.$i.1" >/dev/null 2>&1; then res=ok; else res=FAILED; fails=$((fails + 1)); fi
	printf '%-4s %-14s %-8s %-18s %-10s %s\n' "$i" "$pci" "$dev" "$mac" "ctr$i" "10.1.$i.1 $res"
done
if ping -c 2 -W 5 10.0.0.1 >/dev/null 2>&1; then echo "PF $pfdev: ping 10.0.0.1 ok"; else echo "PF ping FAILED"; fails=$((fails + 1)); fi

for i in $(seq 0 $((N - 1))); do ip netns del "ctr$i"; done
echo 0 >"$pf/sriov_numvfs"
# shellcheck disable=SC2012 # counts them: virtfnN
echo "=== guest: echo 0 > sriov_numvfs: $(ls -d "$pf"/virtfn* 2>/dev/null | wc -l) VFs left"
[ "$fails" = 0 ]
