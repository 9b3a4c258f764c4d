#!/bin/bash
# L2 side of tests/e2e/vhostuser.sh: vpf's PF on a tap (10.0.0.2, L1 is 10.0.0.1, for
# L1's go-aheads), VF 0 served by DPDK testpmd in L1 over vhost-user (L1's end of it is
# the tap dtap0 that testpmd forwards to, 10.2.0.1; VF 0 is 10.2.0.2 in netns ns0),
# VF 1 on a vhost-user socket nobody serves (carrier off). L1 kills and restarts
# testpmd while VF 0 carries a ping: carrier goes off and on, traffic comes back, the
# VF never needs a reset (its virtio status stays 0xf). The VFs have 2 queue pairs
# (vf-queues=2, testpmd queues=2): ethtool -l/-L and traffic on both pairs, which stay
# in use through the switch's restart.
set -u
N=2
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh

# vf_status I: VF I's virtio device status as Linux shows it (0x0000000f when running;
# 0x40 is DEVICE_NEEDS_RESET).
vf_status() { local f; for f in "$pf/virtfn$1"/virtio*/status; do cat "$f"; done; }

# vf0_mq: VF 0's two pairs: 2 combined channels, combined 1 carries a ping, combined 2
# eight parallel downloads (flows spread by hash over both pairs) and per-queue counters.
vf0_mq() {
	local q i n=8
	say "vf0 channels $(ip netns exec ns0 ethtool -l vf0 |
		awk '/^Combined:/ { printf "%s %s", n++ ? " current" : "max", $2 }')"
	ip netns exec ns0 ethtool -L vf0 combined 1 || die "ethtool -L vf0 combined 1"
	ip netns exec ns0 ping -c 2 -W 5 10.2.0.1 >/dev/null || die "VF 0 with combined 1: no ping"
	say "vf0 combined 1 ping ok"
	ip netns exec ns0 ethtool -L vf0 combined 2 || die "ethtool -L vf0 combined 2"
	for i in $(seq $n); do
		ip netns exec ns0 wget -q -O "/tmp/small$i.bin" http://10.2.0.1:8081/small.bin &
	done
	wait
	q=$(md5sum /tmp/small*.bin | cut -d' ' -f1 | sort -u)
	rm -f /tmp/small*.bin
	say "vf0 mq md5 ${n}x $q"
	q=$(ip netns exec ns0 ethtool -S vf0 | awk '/(rx|tx)_queue_[01]_packets:/ { sub(":", "="); printf "%s%s ", $1, $2 }')
	say "vf0 mq queues $q"
	# shellcheck disable=SC2086 # NAME=VALUE words
	echo $q | tr ' ' '\n' | awk -F= '{ split($1, a, "_"); p[a[3]] += $2 } END { exit !(p[0] > 0 && p[1] > 0) }' &&
		say "vf0 mq both pairs carried packets"
	say "vf0 mq done"
}

sriov_pf_up
say "pf ready"
numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N
say_vfs
vf_dev 1
ip link set "$VF_DEV" up
carrier "$VF_DEV" 0 10
say "vf1 carrier $(cat "/sys/class/net/$VF_DEV/carrier" 2>/dev/null)"
# VF 0 unbound, reset by FLR and bound again: vpf stops its rings on the switch
# (GET_VRING_BASE) and starts them again for the new driver.
uevent "$pf/virtfn0/uevent" PCI_SLOT_NAME
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind VF 0"
echo 1 >"/sys/bus/pci/devices/$UEV/reset" || die "FLR of VF 0 failed"
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind VF 0"
wait_vfs $N
say "vf0 flr done"
vf_netns 0 10.2.0.2/24
vf_ping 0 10.2.0.1 60 || die "VF 0 cannot ping L1 through testpmd"
ip netns exec ns0 ping -c 3 -s 1400 -W 5 10.2.0.1 >/dev/null 2>&1 || die "1400-byte pings through testpmd failed"
say "vf0 ping ok"
vf0_mq
ip netns exec ns0 wget -q -O /tmp/from-l1.bin http://10.2.0.1:8081/to-guest.bin || die "wget from L1 over VF 0 failed"
say "md5-from-l1 $(md5sum </tmp/from-l1.bin | cut -d' ' -f1)"
mkdir -p /srv
head -c 4194304 /dev/urandom >/srv/from-guest.bin
say "md5-from-l2 $(md5sum </srv/from-guest.bin | cut -d' ' -f1)"
ip netns exec ns0 httpd -p 8080 -h /srv
say "vf0 ready"
ack transfer-checked

# Under traffic: a ping every 0.2 s while L1 kills testpmd and starts it again.
ip netns exec ns0 ping -i 0.2 10.2.0.1 >/tmp/ping.log 2>&1 &
pingpid=$!
say "traffic running"
carrier vf0 0 120 ns0 || die "VF 0's carrier never went down when its switch died"
say "vf0 carrier down status $(vf_status 0)"
carrier vf0 1 300 ns0 || die "VF 0's carrier never came back"
say "vf0 carrier up"
vf_ping 0 10.2.0.1 60 || die "VF 0 cannot ping L1 after the switch restarted"
say "vf0 ping after restart ok status $(vf_status 0)"
kill "$pingpid" 2>/dev/null
wait "$pingpid" 2>/dev/null
say "ping under restart: $(grep -c 'bytes from' /tmp/ping.log) replies"
ip netns exec ns0 wget -q -O /tmp/from-l1.bin http://10.2.0.1:8081/to-guest.bin || die "wget after the restart failed"
say "md5-after-restart $(md5sum </tmp/from-l1.bin | cut -d' ' -f1)"
rm -f /tmp/from-l1.bin
ack restart-checked

ip netns del ns0
numvfs 0 || die "echo 0 > sriov_numvfs failed"
wait_vfs 0
say "vfs removed"
say "done"
