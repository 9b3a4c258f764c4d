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

# Interrupt moderation (VIRTIO_NET_F_NOTF_COAL, ethtool -C): receive interrupts for 50
# ping replies without and with rx-usecs 100 ms. The host then checks the device's view
# through its control socket and puts a file on its web server; we wait for that file
# and turn moderation off again.
# shellcheck source=coal-lib.sh
. /guest/coal-lib.sh
# shellcheck source=l1-lib.sh
. /guest/l1-lib.sh
irqs=$(moderation_irqs "$dev" 10.0.0.1) || { echo "VPF-NET: coalesce failed"; exit 1; }
echo "VPF-NET: coalesce rx interrupts ${irqs% *} without, ${irqs#* } with rx-usecs 100000"
l1_published coal-checked 1500 || { echo "VPF-NET: coalesce failed: host never checked"; exit 1; }
coalesce "$dev" 0 || { echo "VPF-NET: coalesce failed: ethtool -C off"; exit 1; }
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
