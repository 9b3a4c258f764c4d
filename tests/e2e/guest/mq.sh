#!/bin/sh
# L2 side of tests/e2e/mq.sh (2 vCPUs): three multi-queue functions with 2 queue pairs
# each: net0 on vpf's tap data path (10.0.0.2), net1 on vhost-net (10.0.1.2) and its VF 0
# on vpf's tap data path (10.0.2.2). Each must show 2 combined channels (ethtool -l),
# switch to 1 and back to 2 (ethtool -L: VQ_PAIRS_SET), have a vector per queue, and
# after L1's traffic count packets on both receive and both transmit queues (ethtool -S).
# Markers "VPF-MQ: ..." tell L1 how far we got.
set -u
say() { echo "VPF-MQ: $*"; }
die() { say "FAIL: $*"; exit 1; }
# shellcheck source=l1-lib.sh
. /guest/l1-lib.sh

arg() { sed -n "s/.*vpf\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# by_mac MAC: the netdev with that MAC.
by_mac() {
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }
	done
	return 1
}
# channels DEV: "MAX CURRENT" combined channels.
channels() { ethtool -l "$1" | awk '/^Combined:/ { printf "%s ", $2 }'; }
# combined DEV K: ethtool -L, then check it took.
combined() {
	ethtool -L "$1" combined "$2" || die "$1: ethtool -L combined $2"
	# shellcheck disable=SC2046 # MAX and CURRENT as $3 and $4
	set -- "$1" "$2" $(channels "$1")
	[ "$4" = "$2" ] || die "$1: combined $4 after ethtool -L combined $2"
}
# up DEV CIDR PEER
up() {
	ip addr add "$2" dev "$1"
	ip link set "$1" up
	ping -c 2 -W 5 "$3" >/dev/null || die "$1: ping to $3 failed"
}
check_dev() {   # check_dev DEV NAME
	# shellcheck disable=SC2046 # MAX and CURRENT as $3 and $4
	set -- "$1" "$2" $(channels "$1")
	q=
	for f in "/sys/class/net/$1/queues"/*; do q="$q ${f##*/}"; done
	say "$2 dev=$1 combined max $3 current $4 queues$q"
	[ "$3" = 2 ] || die "$2: $3 combined channels, expected 2"
	combined "$1" 1
	combined "$1" 2
	say "$2 combined 1 and 2 ok"
}

net0=$(by_mac "$(arg mac0)") || die "no netdev with $(arg mac0)"
net1=$(by_mac "$(arg mac1)") || die "no netdev with $(arg mac1)"
check_dev "$net0" net0
check_dev "$net1" net1
up "$net0" 10.0.0.2/24 10.0.0.1
up "$net1" 10.0.1.2/24 10.0.1.1
pf=$(readlink -f "/sys/class/net/$net1/device/..")
echo 1 >"$pf/sriov_numvfs" || die "echo 1 > sriov_numvfs"
vf=
for _ in $(seq 300); do
	for n in "$pf/virtfn0"/virtio*/net/*; do [ -e "$n" ] && vf=${n##*/}; done
	[ -n "$vf" ] && break
	sleep 0.2
done
[ -n "$vf" ] || die "VF 0 has no netdev"
check_dev "$vf" vf0
say "vectors input.1: $(grep -c 'virtio[0-9]*-input\.1' /proc/interrupts)"
say "vf0 up"
l1_published vf-tap-ready 600 || die "no go-ahead vf-tap-ready"
up "$vf" 10.0.2.2/24 10.0.2.1
iperf3 -s -D >/dev/null 2>&1
say "ready"
l1_published traffic-done 1500 || die "no go-ahead traffic-done"
for d in "net0 $net0" "net1 $net1" "vf0 $vf"; do
	# shellcheck disable=SC2086 # NAME DEV as $1 $2
	set -- $d
	say "$1 $(ethtool -S "$2" | awk '/(rx|tx)_queue_[01]_packets:/ { sub(":", "="); printf "%s%s ", $1, $2 }')"
done
say "done"
