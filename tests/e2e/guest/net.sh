#!/bin/sh
# L2 side of tests/e2e/net.sh. The peer (L1) is 10.0.0.1 on vpf's tap; we are 10.0.0.2.
# Markers "VPF-NET: ..." on the console tell the L1 side how far we got.
set -u
want_mac=$(sed -n 's/.*vpf\.mac=\([^ ]*\).*/\1/p' /proc/cmdline)
dev=
for d in /sys/class/net/*; do
	[ "$(basename "$(readlink "$d/device/driver" 2>/dev/null)")" = virtio_net ] && dev=$(basename "$d")
done
[ -n "$dev" ] || { echo "VPF-NET: no virtio_net netdev"; lspci; exit 1; }
mac=$(cat "/sys/class/net/$dev/address")
echo "VPF-NET: dev=$dev mac=$mac"
[ "$mac" = "$want_mac" ] || { echo "VPF-NET: mac $mac, expected $want_mac"; exit 1; }
ethtool -k "$dev" 2>/dev/null | grep -E "^(tx-checksumming|rx-checksumming|tcp-segmentation-offload):" | sed 's/^/VPF-NET: /'
ip addr add 10.0.0.2/24 dev "$dev"
ip link set "$dev" up
ping -c 3 -W 5 10.0.0.1 >/tmp/ping.log 2>&1 || { cat /tmp/ping.log; echo "VPF-NET: ping to L1 failed"; exit 1; }
echo "VPF-NET: ping guest->host ok"

# Interrupt moderation (VIRTIO_NET_F_NOTF_COAL, ethtool -C): the replies to 50 pings 20 ms
# apart, counted as receive-queue interrupts, without and with rx-usecs 100 ms. The host
# then checks the device's view through its control socket and puts a file on its web
# server; we wait for that file and turn moderation off again.
rxirqs() { awk '/input\.0/ {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i} END {print s + 0}' /proc/interrupts; }
ping_irqs() {
	a=$(rxirqs)
	ping -c 50 -i 0.02 -W 5 10.0.0.1 >/tmp/ping.log 2>&1 || { cat /tmp/ping.log; return 1; }
	echo $(($(rxirqs) - a))
}
coal() { ethtool -C "$dev" rx-usecs "$1" rx-frames 0 tx-usecs 0 tx-frames 1; }
n0=$(ping_irqs) || { echo "VPF-NET: coalesce failed: ping"; exit 1; }
coal 100000 || { echo "VPF-NET: coalesce failed: ethtool -C"; exit 1; }
ethtool -c "$dev" | grep -q '^rx-usecs: *100000' || { ethtool -c "$dev"; echo "VPF-NET: coalesce failed: ethtool -c"; exit 1; }
n1=$(ping_irqs) || { echo "VPF-NET: coalesce failed: ping with rx-usecs 100000"; exit 1; }
echo "VPF-NET: coalesce rx interrupts $n0 without, $n1 with rx-usecs 100000"
i=0
until wget -q -O /dev/null http://10.0.0.1:8080/coal-checked 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 1500 ] && { echo "VPF-NET: coalesce failed: host never checked"; exit 1; }
	sleep 0.2
done
coal 0 || { echo "VPF-NET: coalesce failed: ethtool -C off"; exit 1; }
echo "VPF-NET: coalesce off"

# 10 MB each way over HTTP (busybox httpd/wget), checksums printed for the host to compare.
wget -q -O /tmp/from-l1.bin http://10.0.0.1:8080/to-guest.bin || { echo "VPF-NET: wget from L1 failed"; exit 1; }
echo "VPF-NET: md5-from-l1 $(md5sum </tmp/from-l1.bin | cut -d' ' -f1)"
rm -f /tmp/from-l1.bin
mkdir -p /srv
head -c 10485760 /dev/urandom >/srv/from-guest.bin
echo "VPF-NET: md5-from-l2 $(md5sum </srv/from-guest.bin | cut -d' ' -f1)"
httpd -p 8080 -h /srv
iperf3 -s -D >/dev/null 2>&1
echo "VPF-NET: ready"

# The host takes the link down and up through vpf's control socket; we must see both.
wait_carrier() {   # wait_carrier 0|1 SECONDS
	i=0
	while [ "$(cat "/sys/class/net/$dev/carrier" 2>/dev/null)" != "$1" ]; do
		i=$((i + 1)); [ $i -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}
wait_carrier 0 400 || { echo "VPF-NET: carrier never went down"; exit 1; }
echo "VPF-NET: carrier down"
wait_carrier 1 120 || { echo "VPF-NET: carrier never came back"; exit 1; }
echo "VPF-NET: carrier up"
ping -c 3 -W 5 10.0.0.1 >/tmp/ping.log 2>&1 || { cat /tmp/ping.log; echo "VPF-NET: ping after link up failed"; exit 1; }
echo "VPF-NET: ping after link up ok"
