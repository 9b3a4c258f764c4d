#!/bin/bash
# L2 side of tests/e2e/vfport.sh: VF 0 at 10.2.0.2 (peer 10.2.0.1, untagged), VF 1 at
# 10.2.1.2 (peer 10.2.1.1 on VLAN 100 of its tap in L1; we send and receive untagged:
# vpf tags). L1's go-aheads are files on its web server (ack NAME).
set -u
N=2
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh
sriov_pf_up
ack port-set
numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N
say_vfs
say "vfs up"
ack vfs-ready

for i in 0 1; do vf_netns "$i" "10.2.$i.2/24"; done
# ping_peer I TRIES: VF I reaches its peer 10.2.I.1 within TRIES one-second pings.
ping_peer() { vf_ping "$1" "10.2.$1.1" "$2"; }
ping_peer 0 20 || die "VF 0 cannot ping its peer"
ping_peer 1 20 || die "VF 1 cannot ping its VLAN 100 peer"
say "vlan ping ok"

# 4 MB each way over TCP through the VLAN (busybox wget/httpd).
ip netns exec ns1 wget -q -O /tmp/from-l1.bin http://10.2.1.1:8081/to-guest.bin || die "wget over VLAN 100"
say "md5-from-l1 $(md5sum </tmp/from-l1.bin | cut -d' ' -f1)"
mkdir -p /srv && head -c 4194304 /dev/urandom >/srv/from-guest.bin
say "md5-from-l2 $(md5sum </srv/from-guest.bin | cut -d' ' -f1)"
ip netns exec ns1 httpd -p 10.2.1.2:8080 -h /srv
say "vlan files done"

ack vlan-off
ip netns exec ns1 ip neigh flush all
ping_peer 1 3 && die "VF 1 reached its VLAN peer with the VLAN off"
say "vlan off cut ok"
ack vlan-on
ping_peer 1 20 || die "VF 1 cannot ping its VLAN peer after VLAN 100 came back"
say "vlan on ping ok"
# The same VLAN as 802.1ad (TPID 0x88a8): L1's peer speaks it too now.
ack qinq
ip netns exec ns1 ip neigh flush all
ping_peer 1 20 || die "VF 1 cannot ping its peer on 802.1ad VLAN 100"
say "802.1ad ping ok"
# Trust: untrusted (the default), the guest may not replace the MAC the host set
# (virtio_net's CTRL_MAC_ADDR_SET is refused, ip link fails); trusted, it may.
ip -n ns1 link set vf1 address 02:de:ad:be:ef:01 2>/dev/null && die "untrusted VF 1 replaced the host's MAC"
say "untrusted mac refused"
ack trust-on
ip -n ns1 link set vf1 address 02:de:ad:be:ef:01 || die "trusted VF 1 cannot set its MAC"
ip netns exec ns1 ip neigh flush all
ping_peer 1 20 || die "VF 1 with its own MAC (trusted, spoof check following it) cannot ping"
say "trusted mac ok"

ack spoofchk-off
ip -n ns0 link set vf0 address 02:de:ad:be:ef:00 || die "cannot change VF 0's MAC"
ip netns exec ns0 ip neigh flush all
ping_peer 0 10 || die "VF 0 with a forged MAC and the spoof check off cannot ping"
say "forged ping ok"

# The unlimited rate first (for the record: the testbed's speed), then rate=1.
ack iperf-up
r=$(ip netns exec ns0 iperf3 -c 10.2.0.1 -t 3 -f m 2>&1 | grep receiver) || true
say "rate unlimited: $r"
ack rate-set
r=$(ip netns exec ns0 iperf3 -c 10.2.0.1 -t 4 -f m 2>&1 | grep receiver) || die "iperf3 with rate=1 failed"
say "rate limited: $r"
say "rate done"

# Function Level Reset of VF 0 (PCIe §6.6.2) through sysfs with its driver unbound, as
# before handing a VF to VFIO; then virtio_net takes it again and it passes traffic.
vf0=$(basename "$(readlink -f "$pf/virtfn0")")
read -r methods <"/sys/bus/pci/devices/$vf0/reset_method" || die "no reset_method for VF 0"
say "vf 0 reset methods: $methods"
echo "$vf0" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind VF 0"
echo 1 >"/sys/bus/pci/devices/$vf0/reset" || die "FLR of VF 0 failed"
echo "$vf0" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind VF 0 after FLR"
for _ in $(seq 100); do vf_dev 0; [ -n "$VF_DEV" ] && break; sleep 0.1; done
[ -n "$VF_DEV" ] || die "VF 0 has no netdev after FLR and bind"
ip link set "$VF_DEV" netns ns0 && ip -n ns0 link set "$VF_DEV" name vf0 || die "move VF 0 after FLR"
ip -n ns0 addr add 10.2.0.2/24 dev vf0
ip -n ns0 link set vf0 up
ping_peer 0 20 || die "VF 0 cannot ping its peer after FLR"
say "flr ok"
ack 'done'
say "done"
