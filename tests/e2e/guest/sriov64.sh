#!/bin/bash
# L2 side of tests/e2e/sriov64.sh: all 64 VFs of vpf's virtual PF come up under the stock
# virtio_pci/virtio_net drivers and each passes traffic to its own tap in L1 (VF i is
# 10.2.i.2/24, its peer 10.2.i.1), then echo 0 takes them all down.
set -u
N=64
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh
uptime_s() { cut -d' ' -f1 /proc/uptime; }
sriov_pf_up

t=$(uptime_s)
numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N 300
say "enable took $(awk -v a="$t" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')s"
say_vfs
say "vfs up"
ack vfs-ready

: >/tmp/ip.batch
for ((i = 0; i < N; i++)); do
	vf_dev "$i"
	echo 1 >"/proc/sys/net/ipv6/conf/$VF_DEV/disable_ipv6"
	echo "addr add 10.2.$i.2/24 dev $VF_DEV" >>/tmp/ip.batch
	echo "link set $VF_DEV up" >>/tmp/ip.batch
done
ip -batch /tmp/ip.batch || die "cannot configure the VFs"
for ((i = 0; i < N; i++)); do
	vf_dev "$i"
	ok=0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ping -c 1 -W 2 -I "$VF_DEV" "10.2.$i.1" >/dev/null 2>&1 && { ok=1; break; }
	done
	[ "$ok" = 1 ] || die "VF $i ($VF_DEV) cannot ping its peer 10.2.$i.1"
	say "vf $i ping ok"
done
say "all pinged"

t=$(uptime_s)
numvfs 0 || die "echo 0 > sriov_numvfs failed"
wait_vfs 0 300
say "disable took $(awk -v a="$t" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')s"
say "vfs removed"
ack taps-gone
say "done"
